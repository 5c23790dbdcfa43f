//! Reading one export: hash it (or skip it by its recorded size and time), decode,
//! convert every row, and key and pack the accepted ones. Pure work on one file, so
//! files run in parallel.
use super::relative;
use crate::config::Loaded;
use crate::convert::{Converter, Defect, Fields, Outcome};
use crate::sources;
use crate::store::{sha256_hex, Manifest};
use crate::table::{self, SourceSpec};
use crate::timestamps::TsParser;
use anyhow::Result;
use std::path::Path;

/// What every file of a source shares while it is prepared.
pub(super) struct PrepareCtx<'a> {
    pub(super) loaded: &'a Loaded,
    pub(super) spec: &'static SourceSpec,
    pub(super) cfg: &'a crate::config::SourceCfg,
    pub(super) tz: chrono_tz::Tz,
    pub(super) privacy: Option<&'a crate::privacy::Privacy>,
    pub(super) layer_ids: &'a [String],
    pub(super) manifest: &'a Manifest,
}

/// One export read, hashed and (unless the store has it) converted row by row.
pub(super) struct Prepared {
    pub(super) rel: String,
    pub(super) sha: String,
    pub(super) stat: Option<crate::store::FileStat>,
    pub(super) kind: PreparedKind,
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
        /// The accepted activity rows' packed bytes, one after the other (`Kept`).
        arena: Vec<u8>,
    },
}

/// A data line of an export: its line number and what it became. Accepted rows are
/// keyed and packed on the thread that converted them (allocated and freed there).
pub(super) enum ParsedRow {
    Unreadable {
        line: u64,
        reason: String,
    },
    Ignored,
    Rejected {
        line: u64,
        defect: Defect,
    },
    /// An accepted row of a source other than activity.
    Row {
        hash: u64,
        month: u32,
        packed: table::Packed,
    },
    /// An accepted activity row: its `len` bytes follow the rows before it in the
    /// file's arena (millions of rows, so no allocation each), `month` its month.
    Kept {
        hash: u64,
        month: u32,
        len: u32,
    },
}

/// Read, hash, decode and convert one file: pure work on the file alone, so files
/// run in parallel.
pub(super) fn prepare(ctx: &PrepareCtx, path: &Path) -> Result<Prepared> {
    let rel = relative(&ctx.loaded.dir, path);
    let stat = std::fs::metadata(path)
        .ok()
        .as_ref()
        .and_then(crate::store::FileStat::of);
    if let Some(sha) = ctx.manifest.unchanged_sha(&rel, stat) {
        let sha = sha.to_string();
        return Ok(Prepared {
            rel,
            sha,
            stat,
            kind: PreparedKind::Known,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let sha = sha256_hex(&bytes);
    if ctx.manifest.knows_sha(&sha) {
        return Ok(Prepared {
            rel,
            sha,
            stat,
            kind: PreparedKind::Known,
        });
    }
    let export = sources::open_owned(path, bytes, ctx.cfg)?;
    if export.is_empty() {
        let encoding = export.encoding;
        return Ok(Prepared {
            rel,
            sha,
            stat,
            kind: PreparedKind::Empty { encoding },
        });
    }
    let conv = Converter::new(
        ctx.spec,
        ctx.cfg,
        export.map_header(ctx.spec, ctx.cfg)?,
        TsParser::new(ctx.cfg.timestamp_formats.as_ref(), ctx.tz),
        &ctx.loaded.pipeline.ingest.ignore_actions,
        ctx.layer_ids,
    );
    let activity = ctx.spec.name == table::ACTIVITY.name;
    let mut rows = Vec::new();
    let mut arena = Vec::new();
    let mut rdr = export.reader();
    let mut record = csv::ByteRecord::new();
    let mut buf = Vec::with_capacity(256);
    loop {
        let line = rdr.position().line();
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // a malformed record (bad UTF-8 cannot happen: the text is decoded)
                rows.push(ParsedRow::Unreadable {
                    line,
                    reason: format!("unreadable row: {e}"),
                });
                continue;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        if record.len() == 1 && record[0].is_empty() {
            continue; // a blank line is no row
        }
        // SAFETY: `rdr` is `export.reader()`, which read `record`
        let fields = unsafe { Fields::of(&export, &record) };
        match conv.convert(&fields, ctx.privacy, &mut buf) {
            Outcome::Row => {
                let hash = super::keyed::key_hash(ctx.spec, &buf);
                if activity {
                    let len = u32::try_from(buf.len()).map_err(|_| anyhow::anyhow!("{rel}:{line}: a row over 4 GB"))?;
                    rows.push(ParsedRow::Kept {
                        hash,
                        month: crate::store::month_of_packed(&buf),
                        len,
                    });
                    arena.extend_from_slice(&buf);
                } else {
                    rows.push(ParsedRow::Row {
                        hash,
                        month: 0,
                        packed: table::Packed::from(&buf[..]),
                    });
                }
            }
            Outcome::Ignored => rows.push(ParsedRow::Ignored),
            Outcome::Rejected(defect) => rows.push(ParsedRow::Rejected { line, defect }),
        }
    }
    let encoding = export.encoding;
    Ok(Prepared {
        rel,
        sha,
        stat,
        kind: PreparedKind::Rows { encoding, rows, arena },
    })
}
