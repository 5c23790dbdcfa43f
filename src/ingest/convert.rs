//! One export row → canonical values, or the first defect that rejects it (SPEC §3).
use crate::config::SourceCfg;
use crate::table::{Kind, Row, SourceSpec, Val};
use crate::timestamps::{parse_day, TsParser};

/// The largest count or number an export may give: beyond it f64 sums stop being
/// exact and point products could wrap, so such a row is rejected as a typo.
pub const MAX_COUNT: i64 = 1_000_000_000_000_000;

pub enum Outcome {
    Row(Row),
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

pub struct Converter<'a> {
    pub spec: &'static SourceSpec,
    pub cfg: &'a SourceCfg,
    pub positions: Vec<Option<usize>>,
    pub header_len: usize,
    pub ts: TsParser,
    pub ignore_actions: &'a [String],
    /// The pipeline's layer ids: an override naming another layer is rejected (SPEC §4).
    pub layer_ids: &'a [String],
}

impl Converter<'_> {
    pub fn convert(&self, record: &csv::StringRecord) -> Outcome {
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
            let mut value = record.iter().collect::<Vec<_>>().join(",");
            if value.len() > 200 {
                value = format!("{}…", crate::ingest::cut_at_char(&value, 200));
            }
            return Outcome::Rejected(Defect {
                kind,
                column: String::new(),
                value,
                reason,
            });
        }
        // an ignored action wins over other defects: the row is not wanted at all
        if let Some(i) = self.spec.cols.iter().position(|c| c.kind == Kind::Action) {
            if let Some(pos) = self.positions[i] {
                let label = &record[pos];
                if self.ignore_actions.iter().any(|a| a == label) {
                    return Outcome::Ignored;
                }
            }
        }
        let mut row = Vec::with_capacity(self.spec.cols.len());
        for (i, col) in self.spec.cols.iter().enumerate() {
            let raw = self.positions[i].map(|p| &record[p]).unwrap_or("");
            match self
                .value(col.name, col.kind, col.required, raw)
                .and_then(|v| self.known_layer(col.name, v))
            {
                Ok(v) => row.push(v),
                Err((kind, reason)) => {
                    let header = self.cfg.columns.get(col.name).cloned().unwrap_or_default();
                    return Outcome::Rejected(Defect {
                        kind,
                        column: header,
                        value: raw.to_string(),
                        reason,
                    });
                }
            }
        }
        Outcome::Row(row)
    }

    /// An override's layer (after `values`) must be a layer id of the pipeline.
    fn known_layer(&self, name: &str, v: Val) -> Result<Val, (RejectKind, String)> {
        if self.spec.name != crate::table::OVERRIDES.name || name != "layer" {
            return Ok(v);
        }
        let unknown = v
            .str()
            .filter(|l| !self.layer_ids.iter().any(|id| id == l))
            .map(str::to_string);
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

    fn value(&self, name: &str, kind: Kind, required: bool, raw: &str) -> Result<Val, (RejectKind, String)> {
        let mapped = self.cfg.values.get(name).and_then(|m| m.get(raw)).map(String::as_str);
        if raw.trim().is_empty() && mapped.is_none() {
            if required {
                return Err((RejectKind::EmptyRequired, format!("empty required field '{name}'")));
            }
            return Ok(match kind {
                Kind::Count => Val::Int(0),
                _ => Val::Null,
            });
        }
        match kind {
            Kind::Text => Ok(Val::Str(mapped.unwrap_or(raw).to_string())),
            Kind::Action => match mapped {
                Some(v) => Ok(Val::Str(v.to_string())),
                None => {
                    let known_value = self
                        .cfg
                        .values
                        .get(name)
                        .map(|m| m.values().any(|v| v == raw))
                        .unwrap_or(true);
                    if known_value {
                        Ok(Val::Str(raw.to_string()))
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
            Kind::Ts => self.ts.parse(raw).map(Val::Ts).ok_or_else(|| {
                (
                    RejectKind::UnparseableTimestamp,
                    format!("unparseable timestamp '{raw}' in '{name}'"),
                )
            }),
            Kind::Date => parse_day(raw).map(Val::Date).ok_or_else(|| {
                (
                    RejectKind::UnparseableDate,
                    format!("unparseable date '{raw}' in '{name}' (use YYYY-MM-DD or YYYY/M/D)"),
                )
            }),
            Kind::Count => {
                let t = raw.trim();
                match t.parse::<i64>() {
                    Ok(n) if n > MAX_COUNT => Err((
                        RejectKind::CountTooLarge,
                        format!("count '{raw}' in '{name}' is implausibly large (at most {MAX_COUNT})"),
                    )),
                    Ok(n) if n >= 0 => Ok(Val::Int(n)),
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
            Kind::Num => match raw.trim().parse::<f64>() {
                Ok(x) if x.is_finite() && x.abs() <= MAX_COUNT as f64 => Ok(Val::Num(x)),
                _ => Err((RejectKind::NotANumber, format!("'{raw}' in '{name}' is not a number"))),
            },
        }
    }
}
