//! An export's data records, each with the line koc names it by.
//!
//! Most exports hold no quote at all: every record is then one line cut at its
//! delimiters, and koc cuts it itself eight bytes at a time. `csv`'s reader walks
//! a state machine over every byte and copies each field into its record (a fifth of
//! reading the exports at 20 M events). A text with a quote anywhere is read by `csv`,
//! which knows quoted fields. Both give the same records, which a property test holds
//! them to.
//!
//! A record is named by the line it starts on, as an editor numbers lines (`\n`,
//! `\r\n` and a lone `\r` each end a line). `csv`'s own position is the line where the
//! reader stood when the record was asked for: in a file with `\r\n` line ends (Excel's)
//! that was the line before the record, and after blank lines the first blank one.
use crate::ingest::convert::Fields;
use crate::ingest::sources::Export;

/// What the next record is: its line and its fields, or a record `csv` could not read.
pub enum Next<'r> {
    Record(u64, Fields<'r>),
    Unreadable(u64, csv::Error),
}

pub enum Records<'t> {
    Csv {
        reader: csv::Reader<&'t [u8]>,
        record: csv::StringRecord,
        /// the line a byte of the text is on, counted on from the last record's
        lines: LineCount<'t>,
    },
    Lines(Lines<'t>),
}

impl<'t> Records<'t> {
    /// The data records of `export` (its header skipped).
    pub fn of(export: &'t Export) -> Records<'t> {
        // fields are cut at the delimiter, so it must be ASCII for each to be whole
        // UTF-8 characters (`sources::delimiter` takes one byte of a `str`: always so)
        assert!(export.delimiter.is_ascii(), "an ASCII delimiter");
        // (a delimiter given as a line end or a quote is left to `csv`'s own rules, and
        // so is a text of 4 GiB or more, past the u32 field bounds)
        let plain = !matches!(export.delimiter, b'\n' | b'\r' | b'"') && u32::try_from(export.text.len()).is_ok();
        match plain && memchr::memchr(b'"', export.text.as_bytes()).is_none() {
            true => Records::Lines(Lines::new(&export.text, export.delimiter)),
            false => Records::csv(export),
        }
    }

    fn csv(export: &'t Export) -> Records<'t> {
        let mut reader = export.reader();
        // the header is read now, so the reader's position is past it when the first
        // record is asked for (an unreadable header failed the header's mapping already)
        let _ = reader.byte_headers();
        Records::Csv {
            reader,
            record: csv::StringRecord::new(),
            lines: LineCount {
                text: export.text.as_bytes(),
                at: 0,
                line: 1,
            },
        }
    }

    /// The next record, or None at the end of the text.
    pub fn next_record(&mut self) -> Option<Next<'_>> {
        match self {
            Records::Csv { reader, record, lines } => {
                // where the reader stands: the record starts after any line ends there
                let from = reader.position().byte() as usize;
                match reader.read_record(record) {
                    Ok(false) => None,
                    Ok(true) => {
                        let line = lines.of_record_from(from);
                        Some(Next::Record(line, Fields::of_record(record)))
                    }
                    Err(e) => Some(Next::Unreadable(lines.of_record_from(from), e)),
                }
            }
            Records::Lines(lines) => lines.next_line().map(|(line, fields)| Next::Record(line, fields)),
        }
    }
}

/// Line numbers of records `csv` read: the lines before a record counted on from the
/// record before (each byte of the text counted once).
pub struct LineCount<'t> {
    text: &'t [u8],
    /// counted up to here
    at: usize,
    /// the line `at` is on
    line: u64,
}

impl LineCount<'_> {
    /// The line of the record read from byte `from` on (after any line ends there).
    fn of_record_from(&mut self, from: usize) -> u64 {
        let start = past_line_ends(self.text, from.min(self.text.len())).max(self.at);
        self.line += line_ends(&self.text[self.at..start]);
        self.at = start;
        self.line
    }
}

/// Where the first byte from `from` on that is not a line end is (or the text's end).
fn past_line_ends(text: &[u8], from: usize) -> usize {
    from + text[from..].iter().take_while(|b| matches!(b, b'\n' | b'\r')).count()
}

/// The line ends in `bytes`: `\n`, and `\r` not followed by `\n` (the caller cuts
/// `bytes` before a byte that is not a line end, so a last `\r` is a line end).
fn line_ends(bytes: &[u8]) -> u64 {
    // (a plain walk: between two quote-free records this is a byte or two)
    let ends = bytes.iter().enumerate().filter(|(i, b)| match b {
        b'\n' => true,
        b'\r' => bytes.get(i + 1) != Some(&b'\n'),
        _ => false,
    });
    ends.count() as u64
}

/// A quote-free text's records: lines cut at the delimiter, with `csv`'s rules for
/// line ends (`\n`, `\r` and `\r\n` each end a record, blank lines are skipped, a
/// leading UTF-8 BOM is dropped).
pub struct Lines<'t> {
    text: &'t str,
    delimiter: u8,
    /// where the next record's search starts (at the last record's line end)
    at: usize,
    /// the line `at` is on
    line: u64,
    /// the field bounds of the last record: field i is `starts[i]..ends[i]`
    starts: Vec<u32>,
    ends: Vec<u32>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str, delimiter: u8) -> Lines<'t> {
        debug_assert!(delimiter.is_ascii() && !matches!(delimiter, b'\n' | b'\r' | b'"'));
        let at = if text.as_bytes().starts_with(b"\xef\xbb\xbf") {
            3
        } else {
            0
        };
        let mut lines = Lines {
            text,
            delimiter,
            at,
            line: 1,
            starts: Vec::with_capacity(32),
            ends: Vec::with_capacity(32),
        };
        lines.next_line(); // the header
        lines
    }

    fn next_line(&mut self) -> Option<(u64, Fields<'_>)> {
        let bytes = self.text.as_bytes();
        // skip the last record's line end and blank lines, counting lines
        let start = past_line_ends(bytes, self.at);
        self.line += line_ends(&bytes[self.at..start]);
        if start >= bytes.len() {
            self.at = start;
            return None;
        }
        let end = self.cut_line(start);
        self.at = end;
        Some((self.line, Fields::of_bounds(self.text, &self.starts, &self.ends)))
    }

    /// Cut the line from `start` on at the delimiter into `starts` and `ends`, up to its
    /// line end (or the text's end), and return where it ends.
    fn cut_line(&mut self, start: usize) -> usize {
        self.starts.clear();
        self.ends.clear();
        self.starts.push(offset(start));
        let end = self.scan(start);
        self.ends.push(offset(end));
        end
    }

    /// Note the field bounds around a delimiter at `at`.
    #[inline(always)]
    fn delimiter_at(&mut self, at: usize) {
        self.ends.push(offset(at));
        self.starts.push(offset(at + 1));
    }

    /// Find the line end from `from` on, noting every delimiter before it: eight bytes
    /// at a time, each compared with the delimiter and both line ends in one word
    /// (`lanes_equal`), then a byte at a time for the last few.
    fn scan(&mut self, from: usize) -> usize {
        let bytes = self.text.as_bytes();
        let mut i = from;
        while let Some(block) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(block.try_into().unwrap_or_default());
            let ends = lanes_equal(word, b'\n') | lanes_equal(word, b'\r');
            let mut delimiters = lanes_equal(word, self.delimiter);
            if ends != 0 {
                // only the delimiters before the first line end
                delimiters &= (1u64 << ends.trailing_zeros()) - 1;
            }
            while delimiters != 0 {
                self.delimiter_at(i + delimiters.trailing_zeros() as usize / 8);
                delimiters &= delimiters - 1;
            }
            if ends != 0 {
                return i + ends.trailing_zeros() as usize / 8;
            }
            i += 8;
        }
        self.scan_bytes(i)
    }

    /// `scan`, a byte at a time (the last bytes of the text; and what `scan` is held to).
    fn scan_bytes(&mut self, from: usize) -> usize {
        let bytes = self.text.as_bytes();
        for (i, b) in bytes.iter().enumerate().skip(from) {
            match *b {
                b'\n' | b'\r' => return i,
                b if b == self.delimiter => self.delimiter_at(i),
                _ => {}
            }
        }
        bytes.len()
    }
}

/// The bytes of `word` equal to `byte`, as the top bit of each such byte (exact: no
/// carry crosses from one byte into the next).
#[inline(always)]
fn lanes_equal(word: u64, byte: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let t = word ^ (0x0101_0101_0101_0101 * byte as u64);
    // a byte's top bit is set here when the byte of t is not zero
    let nonzero = ((t & LOW7) + LOW7) | t;
    !nonzero & !LOW7
}

/// A position in an export as the u32 field bounds hold it.
fn offset(i: usize) -> u32 {
    u32::try_from(i).expect("an export under 4 GiB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn export(text: &str, delimiter: u8) -> Export<'static> {
        Export {
            path: "t.csv".into(),
            encoding: "UTF-8",
            delimiter,
            text: text.to_string().into(),
        }
    }

    /// Every record as (line, fields), read by `csv` (as koc read exports before).
    fn by_csv(e: &Export) -> Vec<(u64, Vec<String>)> {
        all(&mut Records::csv(e))
    }

    fn all(records: &mut Records) -> Vec<(u64, Vec<String>)> {
        let mut out = Vec::new();
        while let Some(next) = records.next_record() {
            match next {
                Next::Record(line, f) => out.push((line, f.iter().map(str::to_string).collect())),
                Next::Unreadable(line, e) => panic!("line {line}: {e}"),
            }
        }
        out
    }

    fn by_lines(e: &Export) -> Vec<(u64, Vec<String>)> {
        let mut records = Records::Lines(Lines::new(&e.text, e.delimiter));
        all(&mut records)
    }

    /// Worked out by hand (lines as an editor numbers them): fields, blank lines, both
    /// line ends and a lone `\r`, a BOM, a last line without its end, empty fields
    /// and a line longer than eight bytes.
    #[test]
    fn records_and_their_lines() {
        let e = export(
            "\u{feff}id,名字,n\r\n1,张三,5\r\n\r\n2,,\n\n\n3,李四李四李四,77777777\r4,x,y",
            b',',
        );
        let want: Vec<(u64, Vec<String>)> = vec![
            (2, vec!["1".into(), "张三".into(), "5".into()]),
            (4, vec!["2".into(), "".into(), "".into()]),
            (7, vec!["3".into(), "李四李四李四".into(), "77777777".into()]),
            (8, vec!["4".into(), "x".into(), "y".into()]),
        ];
        assert_eq!(by_lines(&e), want);
        assert_eq!(by_csv(&e), want);
    }

    /// A quoted field over two lines: the next record is named by its own line.
    #[test]
    fn quoted_records_are_named_by_their_first_line() {
        let e = export("id,text\r\n1,\"a\r\nb\"\r\n\r\n2,c\r\n", b',');
        let lines: Vec<u64> = by_csv(&e).into_iter().map(|(l, _)| l).collect();
        assert_eq!(lines, vec![2, 5]);
    }

    #[test]
    fn a_quote_anywhere_reads_with_csv() {
        let e = export("a,b\n1,\"x,y\"\n", b',');
        assert!(matches!(Records::of(&e), Records::Csv { .. }));
        let e = export("a,b\n1,2\n", b',');
        assert!(matches!(Records::of(&e), Records::Lines(_)));
    }

    /// Every byte value in every lane, against every byte looked for: exactly the
    /// equal lanes are marked.
    #[test]
    fn lanes_equal_marks_exactly_the_equal_bytes() {
        for wanted in 0..=255u8 {
            for value in 0..=255u8 {
                for lane in 0..8 {
                    // the other lanes hold the wanted byte's neighbours, to catch carries
                    let mut bytes = [wanted.wrapping_add(1); 8];
                    bytes[lane] = value;
                    let mask = lanes_equal(u64::from_le_bytes(bytes), wanted);
                    let expected: u64 = (0..8).filter(|k| bytes[*k] == wanted).map(|k| 0x80u64 << (8 * k)).sum();
                    assert_eq!(mask, expected, "{bytes:?} {wanted}");
                }
            }
        }
    }

    proptest! {
        /// Eight bytes at a time and one at a time: the same line end and the same
        /// fields, from any start (ends in the last bytes, multi-byte characters
        /// around them, bytes with the top bit set next to the ones looked for).
        #[test]
        fn words_and_bytes_cut_alike(
            pieces in prop::collection::vec(prop::sample::select(vec![
                "a", "bc", ",", "\n", "\r", "张", "12345678", "0123456789abcdef",
                "0123456789abcdef0123456789abcdef", "\u{8d}", "\u{2c2c}", "\u{7f}",
            ]), 0..60),
            from in 0usize..96,
        ) {
            let text = pieces.concat();
            let from = (0..=from.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            let lines = || Lines { text: &text, delimiter: b',', at: 0, line: 1, starts: vec![], ends: vec![] };
            let mut by_bytes = lines();
            let end = by_bytes.scan_bytes(from);
            let mut fast = lines();
            prop_assert_eq!(fast.scan(from), end);
            prop_assert_eq!(&fast.ends, &by_bytes.ends);
            prop_assert_eq!(&fast.starts, &by_bytes.starts);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Any quote-free text reads to the same records and lines as `csv` reads it.
        #[test]
        fn lines_read_as_csv_does(
            pieces in prop::collection::vec(prop::sample::select(vec![
                "a", "bc", ",", ";", "\t", "\n", "\r", "\r\n", " ", "é", "张", "12345678", "\u{feff}",
            ]), 0..60),
            delimiter in prop::sample::select(vec![b',', b';', b'\t']),
        ) {
            let e = export(&pieces.concat(), delimiter);
            prop_assert_eq!(by_lines(&e), by_csv(&e));
            // and each record's line is one plus the line ends before its first byte,
            // counted afresh over the text before it
            let mut lines = Lines::new(&e.text, delimiter);
            while let Some((line, _)) = lines.next_line() {
                let start = lines.starts[0] as usize;
                let before = e.text.as_bytes()[..start].to_vec();
                let ends = before
                    .iter()
                    .enumerate()
                    .filter(|(i, b)| **b == b'\n' || (**b == b'\r' && before.get(i + 1) != Some(&b'\n')))
                    .count() as u64;
                prop_assert_eq!(line, 1 + ends, "{:?}", e.text);
            }
        }
    }
}
