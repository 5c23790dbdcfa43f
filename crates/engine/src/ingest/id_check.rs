//! Member ids that look like another member's but are not the same text: invisible or
//! bidirectional characters, spaces around the id, and numbers Excel turned into
//! scientific notation (`1.39123E+10`: the digits after the sixth are gone, so members
//! merge). koc keeps the value as it is (guessing would merge or split members
//! silently) and says how many rows have one, with the first.
use std::collections::BTreeMap;

/// What is odd about an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Oddity {
    /// zero-width, bidi-control or BOM characters, or spaces before or after it
    Invisible,
    /// a number in scientific notation, as Excel shows long numbers
    Scientific,
}

impl Oddity {
    pub fn code(self) -> crate::diagnostics::Code {
        match self {
            Oddity::Invisible => crate::diagnostics::Code::MemberIdInvisibleCharacters,
            Oddity::Scientific => crate::diagnostics::Code::MemberIdScientificNotation,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Oddity::Invisible => {
                "invisible characters (zero-width, bidi or BOM) or spaces around them: they look like another member's id but are not the same text"
            }
            Oddity::Scientific => {
                "a number in scientific notation (as Excel shows long numbers, e.g. 1.39123E+10): its last digits are lost, so different members may share it"
            }
        }
    }

    fn fix(self) -> &'static str {
        match self {
            Oddity::Invisible => "clean the ids in the export (or in the system that writes it) and ingest the file again",
            Oddity::Scientific => {
                "export the id column as text (in Excel: format the column as Text before saving), then ingest the file again"
            }
        }
    }
}

/// What is odd about `id`, if anything. Nearly every id is ASCII letters and digits:
/// those cost one pass over a few bytes.
pub fn oddity(id: &str) -> Option<Oddity> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if id.bytes().all(plain) {
        return None;
    }
    let invisible = |c: char| {
        matches!(c,
            '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    };
    if id.chars().any(invisible) || (!id.is_empty() && id.trim() != id) {
        return Some(Oddity::Invisible);
    }
    scientific(id).then_some(Oddity::Scientific)
}

/// `d[.ddd]E[+-]dd`, the form Excel gives a long number.
fn scientific(id: &str) -> bool {
    let Some((mantissa, exponent)) = id.split_once(['E', 'e']) else {
        return false;
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, "0"));
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && whole.len() <= 3 && digits(fraction) && digits(exponent)
}

/// The odd ids of one file: per kind, how many rows and the first (line, id).
#[derive(Debug, Default)]
pub struct Oddities {
    seen: BTreeMap<Oddity, (u64, u64, String)>,
}

impl Oddities {
    pub fn note(&mut self, line: u64, id: &str) {
        if let Some(kind) = oddity(id) {
            let entry = self.seen.entry(kind).or_insert_with(|| (0, line, id.to_string()));
            entry.0 += 1;
        }
    }

    /// One warning per kind: (code, message). `show_ids` false (privacy hashes or drops
    /// member ids) names the line only.
    pub fn warnings(&self, file: &str, show_ids: bool) -> Vec<(crate::diagnostics::Code, String)> {
        self.seen
            .iter()
            .map(|(kind, (count, line, id))| {
                let example = match show_ids {
                    true => format!("line {line}: {}", id.escape_debug()),
                    false => format!("line {line}"),
                };
                (
                    kind.code(),
                    format!(
                        "{file}: {count} rows have a member id with {} (first: {example}); fix: {}",
                        kind.what(),
                        kind.fix()
                    ),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalike_and_mangled_ids_are_told_apart_from_plain_ones() {
        for plain in ["M10023", "m1", "user_7", "a-b", "张三", "13912345678", "1E5", ""] {
            assert_eq!(oddity(plain), None, "{plain:?}");
        }
        for odd in [
            "M10023\u{200b}",
            "\u{feff}M1",
            "M1 ",
            " M1",
            "\u{202e}1M",
            "M\u{2066}1",
            "M1\u{3000}",
        ] {
            assert_eq!(oddity(odd), Some(Oddity::Invisible), "{odd:?}");
        }
        for odd in ["1.39123E+10", "1.3912E+10", "9E+15", "1.5e-3"] {
            assert_eq!(oddity(odd), Some(Oddity::Scientific), "{odd:?}");
        }
        assert_eq!(oddity("1.2.3E+10"), None);
    }

    #[test]
    fn a_files_warnings_count_rows_and_name_the_first() {
        let mut o = Oddities::default();
        o.note(2, "M1");
        o.note(3, "M2\u{200b}");
        o.note(5, "1.39123E+10");
        o.note(9, "M3 ");
        let w = o.warnings("exports/a.csv", true);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].0, crate::diagnostics::Code::MemberIdInvisibleCharacters);
        assert!(
            w[0].1
                .starts_with("exports/a.csv: 2 rows have a member id with invisible"),
            "{}",
            w[0].1
        );
        assert!(w[0].1.contains("(first: line 3: M2\\u{200b})"), "{}", w[0].1);
        assert!(
            w[1].1.contains("1 rows") && w[1].1.contains("line 5: 1.39123E+10"),
            "{}",
            w[1].1
        );
        let private = o.warnings("exports/a.csv", false);
        assert!(!private[0].1.contains("M2") && private[0].1.contains("(first: line 3)"));
    }
}
