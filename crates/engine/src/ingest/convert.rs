//! One export row → canonical values, or the first defect that rejects it (SPEC §3).
use super::short_text::ShortText;
use crate::ingest::blank::{is_blank, trim};
use crate::ingest::timestamps::{parse_day, TsParser};
use crate::pipeline::config::SourceCfg;
use crate::table::{push_packed, Kind, SourceSpec, ValRef};

/// The largest count or number an export may give: beyond it f64 sums stop being
/// exact and point products could wrap, so such a row is rejected as a typo.
pub const MAX_COUNT: i64 = 1_000_000_000_000_000;

pub enum Outcome {
    /// The row's canonical values, packed (`table::Packed`) into the caller's buffer.
    Row,
    /// The action is in `ingest.ignore_actions`: dropped on purpose, counted.
    Ignored,
    Rejected(Defect),
}

/// Why a row was rejected: carried with the defect (the reasons table of the report
/// and run.json count by kind, never by reading the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    TooFewFields,
    TooManyFields,
    UnterminatedQuote,
    EmptyRequired,
    UnknownAction,
    UnparseableTimestamp,
    UnparseableDate,
    BadCount,
    CountTooLarge,
    NotANumber,
    UnknownLayer,
    Unreadable,
}

impl RejectKind {
    /// The kind as run.json's `reject_reasons` and the report name it.
    pub fn label(self) -> &'static str {
        match self {
            RejectKind::TooFewFields => "too few fields",
            RejectKind::TooManyFields => "too many fields",
            RejectKind::UnterminatedQuote => "unterminated quote",
            RejectKind::EmptyRequired => "empty required field",
            RejectKind::UnknownAction => "unknown action",
            RejectKind::UnparseableTimestamp => "unparseable timestamp",
            RejectKind::UnparseableDate => "unparseable date",
            RejectKind::BadCount => "count not an integer ≥ 0",
            RejectKind::CountTooLarge => "count implausibly large",
            RejectKind::NotANumber => "not a number",
            RejectKind::UnknownLayer => "unknown layer",
            RejectKind::Unreadable => "unreadable row",
        }
    }
}

pub struct Defect {
    pub kind: RejectKind,
    /// The header name of the offending column (empty for whole-row defects).
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// The fields of one CSV record as text, without validating each field again.
///
/// An export is decoded to UTF-8 as a whole before it is read, and its records are cut
/// only at the delimiter, quotes and line ends. When those are ASCII they never fall
/// inside a multi-byte character, so every field is UTF-8 already (validating each
/// field again was about 13 % of a whole-history ingest).
pub struct Fields<'r> {
    cut: Cut<'r>,
}

enum Cut<'r> {
    /// a record `csv` read
    Record(&'r csv::StringRecord),
    /// a line of the text cut by `records::Lines`: field i is `starts[i]..ends[i]`
    Bounds {
        text: &'r str,
        starts: &'r [u32],
        ends: &'r [u32],
    },
}

impl<'r> Fields<'r> {
    /// The fields of a record `csv` read.
    pub fn of_record(record: &'r csv::StringRecord) -> Fields<'r> {
        Fields {
            cut: Cut::Record(record),
        }
    }

    /// The fields `text[starts[i]..ends[i]]` (both slices equally long). The cutter
    /// cuts at ASCII bytes only, so every bound is a character boundary; a bound that
    /// were not would read as an empty field (and fail the debug assertion), never as
    /// a broken character.
    pub fn of_bounds(text: &'r str, starts: &'r [u32], ends: &'r [u32]) -> Fields<'r> {
        debug_assert_eq!(starts.len(), ends.len());
        debug_assert!(starts
            .iter()
            .zip(ends)
            .all(|(s, e)| text.get(*s as usize..*e as usize).is_some()));
        Fields {
            cut: Cut::Bounds { text, starts, ends },
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        match self.cut {
            Cut::Record(r) => r.len(),
            Cut::Bounds { ends, .. } => ends.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn get(&self, i: usize) -> &'r str {
        match self.cut {
            Cut::Record(r) => r.get(i).unwrap_or(""),
            Cut::Bounds { text, starts, ends } => text.get(starts[i] as usize..ends[i] as usize).unwrap_or(""),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &'r str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// A column's `values:` mapping (export label → canonical value), looked up by every
/// value of the column (20 M at 20 M events).
struct Mapping<'a> {
    from: &'a indexmap::IndexMap<String, String>,
    to: Labels<'a, &'a str>,
}

impl<'a> Mapping<'a> {
    fn new(from: &'a indexmap::IndexMap<String, String>) -> Mapping<'a> {
        Mapping {
            from,
            to: Labels::new(from.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        }
    }
}

/// Labels (action labels, mapped values) and what each stands for. A short label is
/// compared as a `ShortText` in a short list: a hash map of `&str` hashed every value and
/// called `memcmp` on every hit (Chinese labels of two characters are all six bytes).
struct Labels<'a, V> {
    short: Vec<(ShortText, V)>,
    long: std::collections::HashMap<&'a str, V, foldhash::fast::RandomState>,
}

impl<'a, V: Copy> Labels<'a, V> {
    fn new(labels: impl IntoIterator<Item = (&'a str, V)>) -> Labels<'a, V> {
        let mut short: Vec<(ShortText, V)> = Vec::new();
        let mut long = std::collections::HashMap::default();
        for (label, v) in labels {
            match ShortText::of(label.as_bytes()) {
                // a later equal label replaces the earlier one, as in a map
                Some(w) => match short.iter_mut().find(|(x, _)| *x == w) {
                    Some(entry) => entry.1 = v,
                    None => short.push((w, v)),
                },
                None => {
                    long.insert(label, v);
                }
            }
        }
        Labels { short, long }
    }

    #[inline]
    fn get(&self, label: &str) -> Option<V> {
        match ShortText::of(label.as_bytes()) {
            Some(w) => self.short.iter().find(|(x, _)| *x == w).map(|(_, v)| *v),
            None => self.long.get(label).copied(),
        }
    }
}

pub struct Converter<'a> {
    cfg: &'a SourceCfg,
    /// The source's columns, in order, with all that reading each value needs.
    columns: Vec<Column<'a>>,
    header_len: usize,
    ts: TsParser,
    ignore_actions: Labels<'a, ()>,
    /// The pipeline's layer ids: an override naming another layer is rejected (SPEC §4).
    layer_ids: &'a [String],
    /// The column an override names its layer in (checked against the pipeline's).
    layer: Option<usize>,
    /// The action column's place in the export, if the source has one and the export it.
    action: Option<usize>,
}

/// One column of the source as the converter reads it (one list walked per row: the
/// places, kinds and mappings were three lists indexed per value).
struct Column<'a> {
    name: &'static str,
    kind: Kind,
    required: bool,
    /// Its field in the export's records (a column the export lacks reads as blank).
    place: Option<usize>,
    /// Its `values:` mapping, looked up once (not by name for every value).
    map: Option<Mapping<'a>>,
}

impl<'a> Converter<'a> {
    pub fn new(
        spec: &'static SourceSpec,
        cfg: &'a SourceCfg,
        (positions, header_len): (Vec<Option<usize>>, usize),
        ts: TsParser,
        ignore_actions: &'a [String],
        layer_ids: &'a [String],
    ) -> Converter<'a> {
        let action = spec.cols.iter().position(|c| c.kind == Kind::Action);
        Converter {
            cfg,
            columns: spec
                .cols
                .iter()
                .zip(&positions)
                .map(|(c, place)| Column {
                    name: c.name,
                    kind: c.kind,
                    required: c.required,
                    place: *place,
                    map: cfg.values.get(c.name).map(Mapping::new),
                })
                .collect(),
            header_len,
            ts,
            ignore_actions: Labels::new(ignore_actions.iter().map(|a| (a.as_str(), ()))),
            layer_ids,
            layer: (spec.name == crate::table::OVERRIDES.name).then(|| spec.index("layer")),
            action: action.and_then(|i| positions[i]),
        }
    }

    /// Convert one record straight into packed bytes appended to `buf` (values borrowed
    /// from the record or the mapping: nothing allocated per value); `privacy` drops and
    /// hashes its columns on the way. A row not kept may leave some of its values in
    /// `buf`: the caller cuts them off.
    pub fn convert(
        &self,
        record: &Fields,
        privacy: Option<&crate::ingest::privacy::Privacy>,
        buf: &mut Vec<u8>,
    ) -> Outcome {
        if record.len() != self.header_len {
            let what = if record.len() < self.header_len {
                "too few"
            } else {
                "too many"
            };
            // a quote opened and never closed swallows the rest of the file into one field
            let unterminated = record.len() < self.header_len && record.iter().any(|f| f.contains('\n'));
            let kind = if unterminated {
                RejectKind::UnterminatedQuote
            } else if record.len() < self.header_len {
                RejectKind::TooFewFields
            } else {
                RejectKind::TooManyFields
            };
            let reason = if unterminated {
                format!(
                    "unterminated quote: a field opened with \" runs over the following lines (expected {} fields, found {}); close the quote or remove it",
                    self.header_len,
                    record.len()
                )
            } else {
                format!(
                    "{what} fields: expected {}, found {} (check for an unquoted delimiter or a cut line)",
                    self.header_len,
                    record.len()
                )
            };
            // the raw line is echoed only without privacy: its fields cannot be told
            // apart, so dropped and hashed values would be written out as they are
            let value = match privacy {
                Some(_) => String::new(),
                None => {
                    let value = record.iter().collect::<Vec<_>>().join(",");
                    match value.len() > 200 {
                        true => format!("{}…", crate::ingest::cut_at_char(&value, 200)),
                        false => value,
                    }
                }
            };
            return Outcome::Rejected(Defect {
                kind,
                column: String::new(),
                value,
                reason,
            });
        }
        // an ignored action wins over other defects: the row is not wanted at all
        if let Some(place) = self.action {
            if self.ignore_actions.get(record.get(place)).is_some() {
                return Outcome::Ignored;
            }
        }
        if privacy.is_none() && self.layer.is_none() {
            // nearly every row of a big export: nothing to check or treat but the value
            for col in &self.columns {
                let raw = col.place.map(|p| record.get(p)).unwrap_or("");
                match self.value(col, raw) {
                    Ok(v) => push_packed(buf, v),
                    Err((kind, reason)) => return self.rejected(col, raw, kind, reason),
                }
            }
            return Outcome::Row;
        }
        for (i, col) in self.columns.iter().enumerate() {
            if privacy.is_some_and(|p| p.drops(col.name)) {
                // a dropped column is not read at all: its values never reject a row
                push_packed(buf, ValRef::Null);
                continue;
            }
            let raw = col.place.map(|p| record.get(p)).unwrap_or("");
            let value = self.value(col, raw).and_then(|v| match self.layer == Some(i) {
                true => self.known_layer(v),
                false => Ok(v),
            });
            match value {
                Ok(v) => match privacy.map(|p| p.treat(col.name, v)) {
                    None | Some(crate::ingest::privacy::Treated::Kept) => push_packed(buf, v),
                    Some(crate::ingest::privacy::Treated::Dropped) => push_packed(buf, ValRef::Null),
                    Some(crate::ingest::privacy::Treated::Hashed(h)) => push_packed(buf, ValRef::Str(&h)),
                },
                Err((kind, reason)) => return self.rejected_private(col, raw, kind, reason, privacy),
            }
        }
        Outcome::Row
    }

    /// `rejected`, with a hashed column's value (in the reason too) as its pseudonym.
    #[cold]
    fn rejected_private(
        &self,
        col: &Column,
        raw: &str,
        kind: RejectKind,
        reason: String,
        privacy: Option<&crate::ingest::privacy::Privacy>,
    ) -> Outcome {
        match privacy.filter(|p| p.hashes(col.name) && !is_blank(raw)) {
            Some(p) => {
                let hashed = p.pseudonym(raw);
                let reason = match raw.is_empty() {
                    true => reason,
                    false => reason.replace(raw, &hashed),
                };
                self.rejected(col, &hashed, kind, reason)
            }
            None => self.rejected(col, raw, kind, reason),
        }
    }

    /// The row rejected for its value `raw` of `col`, named by the export's header.
    #[cold]
    fn rejected(&self, col: &Column, raw: &str, kind: RejectKind, reason: String) -> Outcome {
        Outcome::Rejected(Defect {
            kind,
            column: self.cfg.columns.get(col.name).cloned().unwrap_or_default(),
            value: raw.to_string(),
            reason,
        })
    }

    /// An override's layer (after `values`) must be a layer id of the pipeline.
    fn known_layer<'v>(&self, v: ValRef<'v>) -> Result<ValRef<'v>, (RejectKind, String)> {
        let unknown = match v {
            ValRef::Str(l) if !self.layer_ids.iter().any(|id| id == l) => Some(l.to_string()),
            _ => None,
        };
        match unknown {
            Some(l) => Err((
                RejectKind::UnknownLayer,
                format!(
                    "unknown layer '{l}' (layers: {}; map it under sources.overrides.values.layer)",
                    // from the lowest level up, as SPEC §4 words it
                    self.layer_ids.iter().rev().cloned().collect::<Vec<_>>().join(", ")
                ),
            )),
            None => Ok(v),
        }
    }

    // inlined: returned through memory, its result was stored in parts and read back
    // whole, a store-forwarding stall on every value (half of `convert`'s time)
    #[inline(always)]
    fn value<'s>(&'s self, col: &'s Column, raw: &'s str) -> Result<ValRef<'s>, (RejectKind, String)> {
        let (name, kind, map) = (col.name, col.kind, col.map.as_ref());
        if kind == Kind::Count && map.is_none() {
            // an export's counts are nearly all a few digits
            if let Some(n) = short_count(raw) {
                return Ok(ValRef::Int(n));
            }
        }
        let mapped = map.and_then(|m| m.to.get(raw));
        if is_blank(raw) && mapped.is_none() {
            if col.required {
                return Err((RejectKind::EmptyRequired, format!("empty required field '{name}'")));
            }
            return Ok(match kind {
                Kind::Count => ValRef::Int(0),
                _ => ValRef::Null,
            });
        }
        match kind {
            Kind::Text => Ok(ValRef::Str(mapped.unwrap_or(raw))),
            Kind::Action => match mapped {
                Some(v) => Ok(ValRef::Str(v)),
                None => {
                    let known_value = map.map(|m| m.from.values().any(|v| v == raw)).unwrap_or(true);
                    if known_value {
                        Ok(ValRef::Str(raw))
                    } else {
                        Err((
                            RejectKind::UnknownAction,
                            format!(
                                "unknown action '{raw}' (map it under sources.activity.values.action or ingest.ignore_actions)"
                            ),
                        ))
                    }
                }
            },
            Kind::Ts => self.ts.parse(raw).map(ValRef::Ts).ok_or_else(|| {
                (
                    RejectKind::UnparseableTimestamp,
                    format!("unparseable timestamp '{raw}' in '{name}'"),
                )
            }),
            Kind::Date => parse_day(raw).map(ValRef::Date).ok_or_else(|| {
                (
                    RejectKind::UnparseableDate,
                    format!("unparseable date '{raw}' in '{name}' (use YYYY-MM-DD or YYYY/M/D)"),
                )
            }),
            Kind::Count => {
                let t = trim(raw);
                match t.parse::<i64>() {
                    Ok(n) if n > MAX_COUNT => Err((
                        RejectKind::CountTooLarge,
                        format!("count '{raw}' in '{name}' is implausibly large (at most {MAX_COUNT})"),
                    )),
                    Ok(n) if n >= 0 => Ok(ValRef::Int(n)),
                    Ok(_) => Err((
                        RejectKind::BadCount,
                        format!("negative count '{raw}' in '{name}' (must be an integer ≥ 0)"),
                    )),
                    Err(_) => Err((
                        RejectKind::BadCount,
                        format!("'{raw}' in '{name}' is not an integer ≥ 0"),
                    )),
                }
            }
            Kind::Num => match trim(raw).parse::<f64>() {
                Ok(x) if x.is_finite() && x.abs() <= MAX_COUNT as f64 => Ok(ValRef::Num(x)),
                _ => Err((RejectKind::NotANumber, format!("'{raw}' in '{name}' is not a number"))),
            },
        }
    }
}

/// A count of one to fifteen ASCII digits (at most `MAX_COUNT` - 1), read without
/// `str::parse`'s sign and overflow handling; `None` for anything else, which the full
/// rules then read (blank, white space, a sign, too long, not a number).
#[inline]
fn short_count(raw: &str) -> Option<i64> {
    let b = raw.as_bytes();
    if b.is_empty() || b.len() > 15 {
        return None;
    }
    let mut n: i64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + d as i64;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::Labels;

    /// Short digit runs read as `str::parse` reads them; anything else is left to it.
    #[test]
    fn short_counts_are_parsed_counts() {
        for raw in ["0", "7", "42", "007", "999999999999999", "123456789012345"] {
            assert_eq!(super::short_count(raw), raw.parse::<i64>().ok(), "{raw}");
        }
        for raw in [
            "",
            " 1",
            "1 ",
            "+1",
            "-1",
            "1.0",
            "1e3",
            "1000000000000000",
            "١",
            "12a",
            "/",
            ":",
        ] {
            assert_eq!(super::short_count(raw), None, "{raw}");
        }
    }

    /// Labels of every length up to 20 bytes (past the words' 16), multi-byte, and
    /// labels that differ in one byte or only in length, found exactly.
    #[test]
    fn labels_are_found_exactly() {
        let labels = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "签到",
            "发帖",
            "精华",
            "评论",
            "浏览",
            "完成任务",
            "abcdefgh",
            "abcdefghi",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
            "分享给好友一起",
        ];
        let table = Labels::new(labels.iter().enumerate().map(|(i, l)| (*l, i)));
        for (i, l) in labels.iter().enumerate() {
            assert_eq!(table.get(l), Some(i), "{l:?}");
        }
        for other in [
            "b",
            "aa",
            "abd",
            "abce",
            "签",
            "签到 ",
            "abcdefgi",
            "abcdefghj",
            "bbcdefghijklmnop",
            "abcdefghijklmnoq",
            "分享给好友一",
        ] {
            assert_eq!(table.get(other), None, "{other:?}");
        }
    }
}
