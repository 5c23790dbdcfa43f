//! Export files: globs, encodings, delimiters and header mapping (SPEC §3, §4).
use crate::error::usage_err;
use crate::pipeline::config::SourceCfg;
use anyhow::Result;
use encoding_rs::{Encoding, GB18030, UTF_16BE, UTF_16LE, UTF_8};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Read a whole export into `bytes` (emptied first, its room reused), never more than
/// `paths::MAX_EXPORT_BYTES` whatever the file claims (a file that grows while read).
pub fn read_export_into(path: &Path, bytes: &mut Vec<u8>) -> Result<()> {
    use std::io::Read;
    let fail = |e: std::io::Error| anyhow::anyhow!("cannot read {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(fail)?;
    let meta = file.metadata().map_err(fail)?;
    if !meta.is_file() {
        return Err(usage_err(format!(
            "{} is {}, not a regular file",
            path.display(),
            super::paths::kind_of(&meta)
        )));
    }
    super::paths::check_size(path, meta.len())?;
    bytes.clear();
    bytes.reserve(meta.len() as usize);
    file.take(super::paths::MAX_EXPORT_BYTES + 1)
        .read_to_end(bytes)
        .map_err(fail)?;
    super::paths::check_size(path, bytes.len() as u64)
}

/// Decode a file's bytes: the encoding given, or detected from the BOM and content.
#[cfg(test)]
fn decode(bytes: &[u8], encoding: Option<&str>, file: &Path) -> Result<(String, &'static str)> {
    decode_into(bytes, encoding, file, Vec::new())
}

/// `decode` into the room of `room` (a buffer of an earlier file: a file's text in
/// fresh memory was zeroed page by page, a tenth of reading the exports at 20 M events).
fn decode_into(bytes: &[u8], encoding: Option<&str>, file: &Path, room: Vec<u8>) -> Result<(String, &'static str)> {
    let given = encoding.map(|e| e.to_ascii_lowercase()).filter(|e| e != "auto");
    let nul_error = |why: String| {
        usage_err(format!(
            "{}: {why}\n  fix: remove the NUL bytes (e.g. `tr -d '\\000' < FILE > FIXED.csv`) or export the file again",
            file.display()
        ))
    };
    if given.is_none() && detect_utf16(bytes).is_none() {
        nul_free(bytes).map_err(nul_error)?;
    }
    let enc: &'static Encoding = match given.as_deref() {
        None => detect(bytes).map_err(|why| {
            usage_err(format!(
                "{}: {why}\n  fix: save the export as UTF-8 (Excel: Save As › CSV UTF-8), or set sources.<name>.encoding to utf-8, gbk, gb18030 or utf-16 if it is one of them",
                file.display()
            ))
        })?,
        Some("utf-8") | Some("utf8") => UTF_8,
        Some("gbk") | Some("gb18030") | Some("gb2312") => GB18030,
        Some("utf-16") | Some("utf16") => {
            if bytes.starts_with(&[0xFE, 0xFF]) {
                UTF_16BE
            } else {
                UTF_16LE
            }
        }
        Some("utf-16le") => UTF_16LE,
        Some("utf-16be") => UTF_16BE,
        Some(other) => {
            return Err(usage_err(format!(
                "{}: unknown encoding '{other}'\n  fix: use auto, utf-8, gbk, gb18030 or utf-16",
                file.display()
            )))
        }
    };
    if enc != UTF_16LE && enc != UTF_16BE {
        nul_free(bytes).map_err(nul_error)?;
    }
    // a decoder with BOM removal strips a BOM of the chosen encoding only
    let mut decoder = enc.new_decoder_with_bom_removal();
    let mut room = room;
    room.clear();
    // an empty vector: always UTF-8 (its room is what is reused)
    let mut text = String::from_utf8(room).unwrap_or_default();
    let mut had_errors = false;
    let mut at = 0;
    loop {
        text.reserve(
            decoder
                .max_utf8_buffer_length(bytes.len() - at)
                .unwrap_or(bytes.len() - at),
        );
        let (result, read, replaced) = decoder.decode_to_string(&bytes[at..], &mut text, true);
        at += read;
        had_errors |= replaced;
        if result == encoding_rs::CoderResult::InputEmpty {
            break;
        }
    }
    if had_errors {
        // the first undecodable byte, as a line of the file (the decoder marks it U+FFFD)
        let line = text
            .find('\u{fffd}')
            .map(|i| text[..i].matches('\n').count() + 1)
            .unwrap_or(1);
        let utf8_hint = if enc != UTF_8
            && std::str::from_utf8(bytes)
                .err()
                .is_some_and(|e| e.valid_up_to() * 10 > bytes.len() * 9)
        {
            " (it is almost all UTF-8: a byte may be damaged; fix it, or set encoding: utf-8 to see where)"
        } else {
            ""
        };
        return Err(usage_err(format!(
            "{}:{line}: the file is not valid {} text{utf8_hint}\n  fix: set sources.<name>.encoding to the file's real encoding (utf-8, gbk, gb18030 or utf-16), or repair line {line}",
            file.display(),
            enc.name()
        )));
    }
    if text.starts_with('\u{feff}') {
        text.drain(..3);
    }
    Ok((text, enc.name()))
}

/// The encoding of an export without one given: a BOM, UTF-16 by its zeros, UTF-8 if
/// the bytes are, else GBK/GB18030 when a detector trained on real text agrees. Any
/// other (Big5, Shift_JIS, Latin-1 …) would decode as GB18030 into wrong text, so it
/// is an error naming the detector's guess.
fn detect(bytes: &[u8]) -> std::result::Result<&'static Encoding, String> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok(UTF_8);
    }
    if let Some(utf16) = detect_utf16(bytes) {
        return Ok(utf16);
    }
    if simdutf8::basic::from_utf8(bytes).is_ok() {
        return Ok(UTF_8);
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let guess = detector.guess(None, false);
    if guess == GB18030 || guess == encoding_rs::GBK {
        return Ok(GB18030);
    }
    Err(format!(
        "the file is not UTF-8, UTF-16 or GBK/GB18030 text (it looks like {}); koc reads those four encodings only",
        guess.name()
    ))
}

/// An 8-bit export holds no NUL byte (UTF-16 text, which has them, is found before).
fn nul_free(bytes: &[u8]) -> std::result::Result<(), String> {
    match memchr::memchr(0, bytes) {
        None => Ok(()),
        Some(at) => Err(format!(
            "the file holds {} NUL bytes (zero bytes), the first at byte {at}: padding left by a broken copy or transfer, not text",
            memchr::memchr_iter(0, bytes).count()
        )),
    }
}

/// UTF-16 by its BOM, or without one: ASCII text has a zero in every other byte.
fn detect_utf16(bytes: &[u8]) -> Option<&'static Encoding> {
    if bytes.starts_with(&[0xFF, 0xFE]) {
        return Some(UTF_16LE);
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return Some(UTF_16BE);
    }
    let sample = &bytes[..bytes.len().min(4096)];
    // ASCII text as UTF-16 has a zero in every other byte and few in the others;
    // NUL padding has zeros in both
    let zeros_odd = sample.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
    let zeros_even = sample.iter().step_by(2).filter(|b| **b == 0).count();
    let half = sample.len() / 2;
    if sample.len() >= 4 && zeros_odd * 4 > half && zeros_even * 8 < half {
        return Some(UTF_16LE);
    }
    if sample.len() >= 4 && zeros_even * 4 > half && zeros_odd * 8 < half {
        return Some(UTF_16BE);
    }
    None
}

/// A UTF-8 export (said, or found by `decode`'s rules) as text, checked (with SIMD)
/// and not copied; None for `decode` (other encodings, NUL bytes, and the error of a
/// damaged file). The same text as `decode`: the BOM goes, and a second U+FEFF too.
fn utf8_as_is<'b>(bytes: &'b [u8], encoding: Option<&str>) -> Option<&'b str> {
    let given = encoding.map(|e| e.to_ascii_lowercase()).filter(|e| e != "auto");
    let utf8 = match given.as_deref() {
        None => bytes.starts_with(&[0xEF, 0xBB, 0xBF]) || detect_utf16(bytes).is_none(),
        Some(e) => e == "utf-8" || e == "utf8",
    };
    if !utf8 || memchr::memchr(0, bytes).is_some() {
        return None;
    }
    let mut text = simdutf8::basic::from_utf8(bytes).ok()?;
    for _ in 0..2 {
        text = text.strip_prefix('\u{feff}').unwrap_or(text);
    }
    Some(text)
}

/// The delimiter given, or the most frequent of `, \t ; |` in the header line.
pub fn delimiter(text: &str, given: Option<&str>, file: &Path) -> Result<u8> {
    match given {
        Some(d) if d != "auto" => {
            let d = match d {
                "\\t" | "tab" => "\t",
                other => other,
            };
            if d.len() != 1 {
                return Err(usage_err(format!(
                    "{}: delimiter '{d}' must be one character or auto",
                    file.display()
                )));
            }
            Ok(d.as_bytes()[0])
        }
        _ => {
            let header = text.lines().next().unwrap_or("");
            let best = [b',', b'\t', b';', b'|']
                .into_iter()
                .map(|c| (header.bytes().filter(|b| *b == c).count(), c))
                .max_by_key(|(n, c)| (*n, std::cmp::Reverse(*c == b'|')))
                .filter(|(n, _)| *n > 0)
                .map(|(_, c)| c)
                .unwrap_or(b',');
            Ok(best)
        }
    }
}

/// A decoded export, ready to be read row by row: a UTF-8 file's text is its bytes,
/// borrowed (checked, not copied); another encoding's is decoded into a new text.
pub struct Export<'b> {
    pub path: PathBuf,
    pub encoding: &'static str,
    pub delimiter: u8,
    pub text: Cow<'b, str>,
}

/// Open an export already read into memory (ingest hashes the same bytes).
pub fn open_bytes<'b>(path: &Path, bytes: &'b [u8], cfg: &SourceCfg) -> Result<Export<'b>> {
    open_reusing(path, bytes, Vec::new, cfg)
}

/// `open_bytes`, decoding (when the bytes are not UTF-8) into the room `room` gives, a
/// buffer of an earlier file.
pub fn open_reusing<'b>(
    path: &Path,
    bytes: &'b [u8],
    room: impl FnOnce() -> Vec<u8>,
    cfg: &SourceCfg,
) -> Result<Export<'b>> {
    let (text, encoding) = match utf8_as_is(bytes, cfg.encoding.as_deref()) {
        Some(text) => (Cow::Borrowed(text), UTF_8.name()),
        None => {
            let (text, encoding) = decode_into(bytes, cfg.encoding.as_deref(), path, room())?;
            (Cow::Owned(text), encoding)
        }
    };
    let delimiter = delimiter(&text, cfg.delimiter.as_deref(), path)?;
    Ok(Export {
        path: path.to_path_buf(),
        encoding,
        delimiter,
        text,
    })
}

/// Read and open an export (`validate`: the header only is looked at).
pub fn open(path: &Path, cfg: &SourceCfg) -> Result<Export<'static>> {
    let mut bytes = Vec::new();
    read_export_into(path, &mut bytes)?;
    let export = open_bytes(path, &bytes, cfg)?;
    Ok(Export {
        text: Cow::Owned(export.text.into_owned()),
        ..export
    })
}

impl Export<'_> {
    /// A 0-byte or BOM-only file: a day without rows, not an error.
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
    }

    pub fn reader(&self) -> csv::Reader<&[u8]> {
        csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .flexible(true)
            .has_headers(true)
            .from_reader(self.text.as_bytes())
    }

    /// Where each canonical column is in the file (None: not mapped or absent).
    /// A required column missing from the header is an error naming it.
    pub fn map_header(
        &self,
        source: &crate::table::SourceSpec,
        cfg: &SourceCfg,
    ) -> Result<(Vec<Option<usize>>, usize)> {
        let mut rdr = self.reader();
        let header = rdr
            .headers()
            .map_err(|e| usage_err(format!("{}:1: cannot read the header: {e}", self.path.display())))?
            .clone();
        let names: Vec<&str> = header.iter().map(|h| h.trim().trim_start_matches('\u{feff}')).collect();
        let mut positions = Vec::with_capacity(source.cols.len());
        for col in source.cols {
            let wanted = cfg.columns.get(col.name);
            let pos = wanted.and_then(|w| names.iter().position(|n| n == &w.trim()));
            if let (Some(w), Some(first)) = (wanted, pos) {
                if let Some(second) = names.iter().skip(first + 1).position(|n| n == &w.trim()) {
                    return Err(usage_err(format!(
                        "{}:1: the header has the column '{w}' twice (columns {} and {}), mapped to {}.{}: koc cannot tell which one holds the values\n  fix: rename or remove one of the two columns in the export",
                        self.path.display(),
                        first + 1,
                        first + second + 2,
                        source.name,
                        col.name
                    )));
                }
            }
            if col.required && pos.is_none() {
                let msg = match wanted {
                    None => format!(
                        "sources.{}.columns does not map the required column '{}'",
                        source.name, col.name
                    ),
                    Some(w) => format!(
                        "{}:1: the header has no column '{w}' (mapped to {}.{})",
                        self.path.display(),
                        source.name,
                        col.name
                    ),
                };
                return Err(usage_err(format!("{msg}\n  fix: the header has: {}", names.join(", "))));
            }
            positions.push(pos);
        }
        Ok((positions, names.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(encoding: Option<&str>) -> SourceCfg {
        let enc = encoding.map(|e| format!("\nencoding: {e}")).unwrap_or_default();
        serde_saphyr::from_str(&format!("path: a.csv\ncolumns: {{member_id: id}}{enc}")).expect("config")
    }

    /// `text` as UTF-16 with its BOM, little- or big-endian.
    fn utf16(text: &str, little: bool) -> Vec<u8> {
        let bom: [u8; 2] = if little { [0xFF, 0xFE] } else { [0xFE, 0xFF] };
        let units = text
            .encode_utf16()
            .flat_map(move |u| if little { u.to_le_bytes() } else { u.to_be_bytes() });
        bom.into_iter().chain(units).collect()
    }

    /// Taking the bytes (UTF-8 as is) reads every export as decoding a copy does.
    #[test]
    fn owned_and_borrowed_bytes_read_alike() {
        let utf16le = utf16("用户ID,x\n1,2\n", true);
        let (gbk, _, _) = GB18030.encode("用户ID,昵称\n1,小王\n");
        let inputs: Vec<Vec<u8>> = vec![
            b"id,x\n1,2\n".to_vec(),
            "\u{feff}id,x\n1,2\n".as_bytes().to_vec(),
            "\u{feff}\u{feff}\u{feff}id\n".as_bytes().to_vec(),
            utf16le,
            gbk.to_vec(),
            vec![],
            b"id\n\xff\xfe\xfd\n".to_vec(),
        ];
        let path = Path::new("a.csv");
        for bytes in inputs {
            for enc in [None, Some("utf-8"), Some("gbk")] {
                let c = cfg(enc);
                let borrowed = open_bytes(path, &bytes, &c).map(|e| (e.text.into_owned(), e.encoding));
                // the whole decoding, as a file that is not UTF-8 gets it
                let decoded = decode(&bytes, enc, path);
                // decoded into the room of an earlier file's text
                let mut room = b"an earlier file's text".to_vec();
                room.reserve(3);
                let reused = open_reusing(path, &bytes, || room, &c).map(|e| (e.text.into_owned(), e.encoding));
                for other in [decoded, reused] {
                    match (&borrowed, other) {
                        (Ok(a), Ok(b)) => assert_eq!(a, &b, "{bytes:?} as {enc:?}"),
                        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                        (a, b) => panic!("{bytes:?} as {enc:?}: {:?} vs {:?}", a.is_ok(), b.is_ok()),
                    }
                }
            }
        }
    }

    /// The streaming decoder gives the text (or the error) encoding_rs's one-shot
    /// decoding gives, one U+FEFF stripped after it as before, for every input.
    #[test]
    fn decoding_is_encoding_rs_one_shot_decoding() {
        let utf16le = utf16("用户ID,x\n1,2\n", true);
        let utf16be = utf16("用户ID\n", false);
        let (gbk, _, _) = GB18030.encode("用户ID,昵称\n1,小王\n");
        let inputs: Vec<(Vec<u8>, &Encoding, &str)> = vec![
            (gbk.to_vec(), GB18030, "gbk"),
            (utf16le, UTF_16LE, "utf-16"),
            (utf16be, UTF_16BE, "utf-16"),
            ("\u{feff}\u{feff}\u{feff}id\n".as_bytes().to_vec(), UTF_8, "utf-8"),
            (b"id\n\xff\xfe\xfd\n".to_vec(), UTF_8, "utf-8"),
            (b"id\n\x81\n".to_vec(), GB18030, "gbk"),
            (vec![], GB18030, "gbk"),
        ];
        for (bytes, enc, name) in inputs {
            let (one_shot, had_errors) = enc.decode_with_bom_removal(&bytes);
            let expected = one_shot.strip_prefix('\u{feff}').unwrap_or(&one_shot);
            match decode(&bytes, Some(name), Path::new("a.csv")) {
                Ok((text, _)) => assert!(!had_errors && text == expected, "{bytes:?}: {text:?}"),
                Err(e) => assert!(had_errors, "{bytes:?}: {e}"),
            }
        }
    }

    #[test]
    fn trim_keeps_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a ",
            "\ta",
            "a\u{3000}",
            "\u{3000}",
            "x y",
            "é ",
            "签到",
            "\u{a0}",
            "\u{85}",
            "\u{1680}",
            "\u{2003}",
            "\u{205f}",
            "\u{2028}",
            "\u{3000}签",
            "€",
            "\u{feff}",
        ] {
            assert_eq!(crate::ingest::blank::trim(s), s.trim(), "{s:?}");
            assert_eq!(crate::ingest::blank::is_blank(s), s.trim().is_empty(), "{s:?}");
        }
        // every character as a whole value and before a letter: the lead bytes that
        // decide without a walk never start white space
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            for s in [c.to_string(), format!("{c}x")] {
                assert_eq!(crate::ingest::blank::is_blank(&s), s.trim().is_empty(), "{c:?}");
            }
        }
    }
}
