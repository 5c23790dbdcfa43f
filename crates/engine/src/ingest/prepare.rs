//! Reading one export: hash it (or skip it by its recorded size and time), decode,
//! convert every row, and key and pack the accepted ones. Pure work on one file, so
//! files run in parallel.
use super::relative;
use crate::fmt::Ts;
use crate::ingest::convert::{Converter, Defect, Outcome};
use crate::ingest::sources;
use crate::ingest::timestamps::TsParser;
use crate::pipeline::config::Loaded;
use crate::store::{sha256_hex, Manifest};
use crate::table::{self, SourceSpec};
use anyhow::Result;
use std::path::Path;

/// What every file of a source shares while it is prepared.
pub(super) struct PrepareCtx<'a> {
    pub(super) loaded: &'a Loaded,
    pub(super) spec: &'static SourceSpec,
    pub(super) cfg: &'a crate::pipeline::config::SourceCfg,
    pub(super) tz: chrono_tz::Tz,
    pub(super) privacy: Option<&'a crate::ingest::privacy::Privacy>,
    pub(super) layer_ids: &'a [String],
    pub(super) manifest: &'a Manifest,
    pub(super) buffers: &'a Buffers,
}

/// One export read, hashed and (unless the store has it) converted row by row.
pub(super) struct Prepared {
    pub(super) rel: String,
    pub(super) sha: String,
    pub(super) stat: Option<crate::store::FileStat>,
    pub(super) kind: PreparedKind,
    /// Member ids that look like others but are not the same text (`id_check`).
    pub(super) odd_ids: super::id_check::Oddities,
}

pub(super) enum PreparedKind {
    /// The store has these bytes already.
    Known,
    Empty {
        encoding: &'static str,
    },
    Rows {
        encoding: &'static str,
        rows: Vec<ParsedRow>,
        /// The accepted rows' packed bytes, one after the other (`Kept`).
        arena: Vec<u8>,
    },
}

/// A data line of an export: its line number and what it became. Accepted rows are
/// keyed and packed on the thread that converted them, into the file's arena. Held
/// for every line of a file, so kept small: 24 bytes (a rejection's details are boxed,
/// they are rare).
pub(super) enum ParsedRow {
    Ignored,
    /// A rejected or unreadable line (`RejectKind::Unreadable`: a malformed record).
    Rejected {
        line: u64,
        defect: Box<Defect>,
    },
    /// An accepted row: its `len` bytes follow the rows before it in the file's arena
    /// (millions of rows, so no allocation each), `month` its month (activity; else 0).
    Kept {
        hash: u64,
        month: u32,
        len: u32,
    },
}

/// Read, hash, decode and convert one file: pure work on the file alone, so files
/// run in parallel.
/// An export as the store knows it: its path relative to the pipeline, its size and
/// times, and its sha256 when the manifest holds the file with those (not read again).
pub(super) fn as_stored<'m>(
    manifest: &'m Manifest,
    dir: &Path,
    path: &Path,
) -> (String, Option<crate::store::FileStat>, Option<&'m str>) {
    let rel = relative(dir, path);
    let stat = std::fs::metadata(path)
        .ok()
        .as_ref()
        .and_then(crate::store::FileStat::of);
    let sha = manifest.unchanged_sha(&rel, stat);
    (rel, stat, sha)
}

pub(super) fn prepare(ctx: &PrepareCtx, path: &Path) -> Result<Prepared> {
    let (rel, stat, known) = as_stored(ctx.manifest, &ctx.loaded.dir, path);
    if let Some(sha) = known {
        let sha = sha.to_string();
        return Ok(Prepared {
            rel,
            sha,
            stat,
            kind: PreparedKind::Known,
            odd_ids: Default::default(),
        });
    }
    let mut bytes = ctx.buffers.take();
    sources::read_export_into(path, &mut bytes)?;
    let sha = sha256_hex(&bytes);
    if ctx.manifest.knows_sha(&sha) {
        ctx.buffers.give(bytes);
        return Ok(Prepared {
            rel,
            sha,
            stat,
            kind: PreparedKind::Known,
            odd_ids: Default::default(),
        });
    }
    let export = sources::open_reusing(path, &bytes, || ctx.buffers.take(), ctx.cfg)?;
    if export.is_empty() {
        let encoding = export.encoding;
        ctx.buffers.give_text(export.text);
        ctx.buffers.give(bytes);
        return Ok(Prepared {
            rel,
            sha,
            stat,
            kind: PreparedKind::Empty { encoding },
            odd_ids: Default::default(),
        });
    }
    let header = export.map_header(ctx.spec, ctx.cfg)?;
    let id_place = ctx
        .spec
        .cols
        .iter()
        .position(|c| c.name == "member_id")
        .and_then(|i| header.0[i]);
    let mut odd_ids = super::id_check::Oddities::default();
    let conv = Converter::new(
        ctx.spec,
        ctx.cfg,
        header,
        TsParser::new(ctx.cfg.timestamp_formats.as_ref(), ctx.tz),
        &ctx.loaded.pipeline.ingest.ignore_actions,
        ctx.layer_ids,
    );
    let activity = ctx.spec.name == table::ACTIVITY.name;
    // room for the rows of lines of 40 bytes or more up front (not grown by copying);
    // the arena grows (a packed row takes about twice its line's bytes)
    let mut rows = ctx.buffers.take_rows();
    rows.reserve(export.text.len() / 40);
    let mut arena = Vec::with_capacity(export.text.len());
    let mut months = Months::default();
    let key_hash = super::keyed::KeyHash::of(ctx.spec);
    let mut records = super::records::Records::of(&export);
    while let Some(next) = records.next_record() {
        let (line, fields) = match next {
            super::records::Next::Record(line, fields) => (line, fields),
            super::records::Next::Unreadable(line, e) => {
                // a malformed record (bad UTF-8 cannot happen: the text is decoded)
                rows.push(ParsedRow::Rejected {
                    line,
                    defect: Box::new(Defect {
                        kind: crate::ingest::convert::RejectKind::Unreadable,
                        column: String::new(),
                        value: String::new(),
                        reason: format!("unreadable row: {e}"),
                    }),
                });
                continue;
            }
        };
        if fields.len() == 1 && fields.get(0).is_empty() {
            continue; // a blank line is no row
        }
        if let Some(p) = id_place.filter(|p| *p < fields.len()) {
            odd_ids.note(line, fields.get(p));
        }
        // the row is packed straight into the arena (not copied there from a buffer),
        // and cut off it again when it is not kept
        let start = arena.len();
        match conv.convert(&fields, ctx.privacy, &mut arena) {
            Outcome::Row => {
                let row = &arena[start..];
                let hash = key_hash.hash(row);
                let len = u32::try_from(row.len()).map_err(|_| anyhow::anyhow!("{rel}:{line}: a row over 4 GB"))?;
                let month = match activity {
                    true => months.of(crate::store::ts_of_packed(row)),
                    false => 0,
                };
                rows.push(ParsedRow::Kept { hash, month, len });
            }
            Outcome::Ignored => {
                arena.truncate(start);
                rows.push(ParsedRow::Ignored)
            }
            Outcome::Rejected(defect) => {
                arena.truncate(start);
                rows.push(ParsedRow::Rejected {
                    line,
                    defect: Box::new(defect),
                })
            }
        }
    }
    drop(records);
    let encoding = export.encoding;
    ctx.buffers.give_text(export.text);
    ctx.buffers.give(bytes);
    Ok(Prepared {
        rel,
        sha,
        stat,
        kind: PreparedKind::Rows { encoding, rows, arena },
        odd_ids,
    })
}

/// Buffers of files already read, for the next files to be read and decoded into,
/// and their lines' vectors. An export is 100 MB at 20 M events; memory mapped afresh
/// for each was faulted in (and zeroed) page by page: a quarter of a million faults
/// over the files.
#[derive(Default)]
pub(super) struct Buffers {
    bytes: Pool<u8>,
    rows: Pool<ParsedRow>,
}

impl Buffers {
    fn take(&self) -> Vec<u8> {
        self.bytes.take()
    }

    /// A decoded text's buffer back (a UTF-8 file's text is its bytes: nothing to give).
    fn give_text(&self, text: std::borrow::Cow<'_, str>) {
        if let std::borrow::Cow::Owned(text) = text {
            self.give(text.into_bytes());
        }
    }

    fn give(&self, bytes: Vec<u8>) {
        self.bytes.give(bytes)
    }

    fn take_rows(&self) -> Vec<ParsedRow> {
        self.rows.take()
    }

    /// A file's lines' vector, counted (its rows are dropped, its room kept).
    pub(super) fn give_rows(&self, rows: Vec<ParsedRow>) {
        self.rows.give(rows)
    }

    /// Free the buffers kept (a source's files are all read).
    pub(super) fn release(&self) {
        self.bytes.release();
        self.rows.release();
    }
}

/// A few emptied vectors, kept for reuse.
struct Pool<T>(std::sync::Mutex<Vec<Vec<T>>>);

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool(std::sync::Mutex::new(Vec::new()))
    }
}

impl<T> Pool<T> {
    /// A few are kept, enough for two readers: each holds a file's raw bytes and its
    /// text while it reads (a finished file's text is given back before the file is
    /// sent on). More readers take fresh buffers beyond these.
    const KEPT: usize = 6;

    fn take(&self) -> Vec<T> {
        self.0.lock().ok().and_then(|mut kept| kept.pop()).unwrap_or_default()
    }

    fn give(&self, mut v: Vec<T>) {
        v.clear();
        if let Ok(mut kept) = self.0.lock() {
            if kept.len() < Self::KEPT {
                kept.push(v);
            }
        }
    }

    fn release(&self) {
        if let Ok(mut kept) = self.0.lock() {
            kept.clear();
        }
    }
}

/// The month of a time (`store::month_of_ts`), remembered
/// for the times of the last month asked: an export's rows come day by day, so most
/// rows cost one comparison, not a calendar walk.
#[derive(Default)]
struct Months {
    /// The month's first second and the next month's (an empty range at first).
    from: Ts,
    until: Ts,
    month: u32,
}

impl Months {
    fn of(&mut self, ts: Ts) -> u32 {
        if !(self.from..self.until).contains(&ts) {
            self.month = crate::store::month_of_ts(ts);
            let (y, m) = (self.month as i32 / 100, self.month % 100);
            let first = crate::fmt::days_from_civil(y, m, 1) as Ts;
            self.from = first * 86_400;
            self.until = (first + crate::fmt::days_in_month(y, m) as Ts) * 86_400;
        }
        self.month
    }
}

#[cfg(test)]
mod tests {
    /// Times over three centuries, forward and back across month ends: the month
    /// remembered is the month computed.
    #[test]
    fn months_remembered_are_months_computed() {
        let mut months = super::Months::default();
        let start = crate::fmt::days_from_civil(2023, 12, 30) as i64 * 86_400;
        let mut at = start;
        for step in [3_599i64, -86_399, 7 * 86_400 + 1, -1, 1, 31 * 86_400]
            .iter()
            .cycle()
            .take(20_000)
        {
            at += step;
            assert_eq!(months.of(at), crate::store::month_of_ts(at), "at {at}");
        }
        assert!(at > start + 3 * 365 * 86_400);
    }

    /// A ParsedRow is held for every line of a file in flight (20 M at 20 M events):
    /// at 96 bytes, as it was with the rejection inline, that was 1.9 GB faulted in.
    #[test]
    fn a_parsed_row_is_small() {
        assert!(std::mem::size_of::<super::ParsedRow>() <= 24);
    }
}
