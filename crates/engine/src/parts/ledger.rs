//! A shard's ledger rows beside its part: `part-I-of-N.ledger`, a stream of MessagePack
//! chunks of at most `CHUNK` rows, the shard's members in member order. `koc merge`
//! writes `ledger.parquet` from them holding one chunk of each shard at a time, so the
//! largest output never has to fit in memory at once.
use crate::fmt::{Day, Ts};
use crate::model::Dataset;
use crate::shard::Shard;
use crate::stages::points::{Cap, LedgerEntry};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Rows per chunk of a shard's ledger file.
const CHUNK: usize = 1 << 16;

/// Ledger rows as columns (the event ids in one buffer: no allocation per row).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LedgerColumns {
    /// Runs of rows of one member: (member id, rows).
    pub members: Vec<(String, u32)>,
    /// Every row's event id, one after the other; row i's ends at `id_ends[i]`.
    ids: String,
    id_ends: Vec<u32>,
    pub ts: Vec<Ts>,
    pub day: Vec<Day>,
    pub rule: Vec<u32>,
    pub raw: Vec<i64>,
    pub awarded: Vec<i64>,
    pub capped_by: Vec<Option<Cap>>,
}

impl LedgerColumns {
    /// Ledger entries (grouped by member, as `Points::ledger`) with their events' fields.
    pub fn of(ds: &Dataset, entries: &[LedgerEntry]) -> LedgerColumns {
        let ev = &ds.events;
        let mut out = LedgerColumns::with_capacity(entries.len());
        for e in entries {
            let i = e.event as usize;
            out.start_row(&ds.members[ev.member(i)].id);
            out.push_id(ev.id(i));
            out.ts.push(ev.ts[i]);
            out.day.push(ev.day[i]);
            out.rule.push(e.rule);
            out.raw.push(e.raw);
            out.awarded.push(e.awarded);
            out.capped_by.push(e.capped_by);
        }
        out
    }

    fn with_capacity(n: usize) -> Self {
        LedgerColumns {
            members: Vec::new(),
            ids: String::with_capacity(n * 16),
            id_ends: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
            day: Vec::with_capacity(n),
            rule: Vec::with_capacity(n),
            raw: Vec::with_capacity(n),
            awarded: Vec::with_capacity(n),
            capped_by: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.id_ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id_ends.is_empty()
    }

    /// Row i's event id.
    pub fn event_id(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.id_ends[i - 1] as usize };
        &self.ids[start..self.id_ends[i] as usize]
    }

    /// Every row's event id.
    pub fn event_ids(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.event_id(i))
    }

    fn push_id(&mut self, id: &str) {
        self.ids.push_str(id);
        self.id_ends.push(self.ids.len() as u32);
    }

    /// The member id of each row.
    pub fn member_ids(&self) -> impl Iterator<Item = &str> {
        self.members
            .iter()
            .flat_map(|(id, n)| std::iter::repeat_n(id.as_str(), *n as usize))
    }

    /// Count one more row of `member` (a new run when the member changes).
    fn start_row(&mut self, member: &str) {
        match self.members.last_mut() {
            Some((id, n)) if id == member => *n += 1,
            _ => self.members.push((member.to_string(), 1)),
        }
    }

    /// Whether the columns are of one length, counted by the runs, and every rule is one
    /// of the program's `rules`.
    fn consistent(&self, rules: u32) -> bool {
        let n = self.len();
        // the ids cut at characters, ending with the buffer
        let ids_cut = self.id_ends.is_sorted()
            && self.id_ends.last().is_none_or(|end| *end as usize == self.ids.len())
            && self.id_ends.iter().all(|end| self.ids.is_char_boundary(*end as usize));
        [
            self.ts.len(),
            self.day.len(),
            self.rule.len(),
            self.raw.len(),
            self.awarded.len(),
            self.capped_by.len(),
        ]
        .iter()
        .all(|l| *l == n)
            && ids_cut
            && self.members.iter().all(|(_, k)| *k > 0)
            && self.members.iter().map(|(_, k)| *k as usize).sum::<usize>() == n
            && self.rule.iter().all(|r| *r < rules)
    }
}

/// Write the shard's ledger (`ledger`: grouped by member, in member order) to `path`;
/// returns the rows and the file's sha256.
pub fn write(path: &Path, ds: &Dataset, ledger: &[LedgerEntry]) -> Result<(u64, String)> {
    let mut bytes = Vec::new();
    for chunk in ledger.chunks(CHUNK) {
        rmp_serde::encode::write(&mut bytes, &LedgerColumns::of(ds, chunk))
            .context("cannot encode the shard's ledger")?;
    }
    crate::store::write_atomic(path, &bytes)?;
    Ok((ledger.len() as u64, crate::store::sha256_hex(&bytes)))
}

/// One shard's ledger file, read a chunk at a time, checked as it goes: its member ids
/// of its shard and in order, its rules the program's, its bytes its checksum.
struct ShardLedger {
    path: PathBuf,
    shard: Shard,
    input: std::io::BufReader<Hashing<std::fs::File>>,
    rows_left: u64,
    sha256: String,
    rules: u32,
    chunk: LedgerColumns,
    row: usize,
    run: usize,
    run_row: u32,
    last_member: Option<String>,
}

impl ShardLedger {
    fn open(path: PathBuf, shard: Shard, rows: u64, sha256: String, rules: u32) -> Result<ShardLedger> {
        let file = std::fs::File::open(&path).with_context(|| {
            format!(
                "{}: the ledger of shard {shard} is missing; run the shard again",
                path.display()
            )
        })?;
        let mut shard = ShardLedger {
            path,
            shard,
            // hashed a buffer at a time (the decoder reads a few bytes at a time)
            input: std::io::BufReader::with_capacity(1 << 16, Hashing(file, Sha256::new())),
            rows_left: rows,
            sha256,
            rules,
            chunk: LedgerColumns::default(),
            row: 0,
            run: 0,
            run_row: 0,
            last_member: None,
        };
        if rows == 0 {
            shard.check_end()?;
        }
        Ok(shard)
    }

    /// After the last chunk: nothing more in the file, and its bytes are its checksum's.
    fn check_end(&mut self) -> Result<()> {
        let mut rest = [0u8; 1];
        let trailing = self.input.read(&mut rest).map_err(|_| self.damaged("cannot be read"))?;
        let sha: String = self
            .input
            .get_ref()
            .1
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if trailing != 0 || sha != self.sha256 {
            return Err(self.damaged("does not match its checksum"));
        }
        Ok(())
    }

    fn damaged(&self, what: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "{}: the ledger of shard {} {what} (damaged or replaced); run the shard again",
            self.path.display(),
            self.shard
        )
    }

    /// The member of the next row (None once every row was taken), reading the next
    /// chunk when this one is done.
    fn member(&mut self) -> Result<Option<&str>> {
        if self.row == self.chunk.len() {
            if self.rows_left == 0 {
                return Ok(None);
            }
            let chunk: LedgerColumns =
                rmp_serde::decode::from_read(&mut self.input).map_err(|_| self.damaged("cannot be read"))?;
            if chunk.is_empty() || !chunk.consistent(self.rules) || chunk.len() as u64 > self.rows_left {
                return Err(self.damaged("does not hold what its part says"));
            }
            for (k, (id, _)) in chunk.members.iter().enumerate() {
                // ascending member ids; a member may go on from the chunk before
                let in_order = match &self.last_member {
                    None => true,
                    Some(last) => last < id || (k == 0 && last == id),
                };
                if !in_order || !self.shard.holds(id) {
                    return Err(self.damaged("has members out of order or of another shard"));
                }
                self.last_member = Some(id.to_string());
            }
            self.rows_left -= chunk.len() as u64;
            (self.chunk, self.row, self.run, self.run_row) = (chunk, 0, 0, 0);
            if self.rows_left == 0 {
                self.check_end()?;
            }
        }
        Ok(Some(self.chunk.members[self.run].0.as_ref()))
    }

    /// Move the next row into `out`.
    fn take(&mut self, out: &mut LedgerColumns) {
        let (c, i) = (&self.chunk, self.row);
        out.start_row(&c.members[self.run].0);
        out.push_id(c.event_id(i));
        out.ts.push(c.ts[i]);
        out.day.push(c.day[i]);
        out.rule.push(c.rule[i]);
        out.raw.push(c.raw[i]);
        out.awarded.push(c.awarded[i]);
        out.capped_by.push(c.capped_by[i]);
        self.row += 1;
        self.run_row += 1;
        if self.run_row == c.members[self.run].1 {
            self.run += 1;
            self.run_row = 0;
        }
    }
}

/// A reader that hashes what it reads.
struct Hashing<R>(R, Sha256);

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        self.1.update(&buf[..n]);
        Ok(n)
    }
}

/// Every shard's ledger in member order (as one run's ledger), in batches of `batch`
/// rows.
pub struct Merged {
    shards: Vec<ShardLedger>,
    batch: usize,
}

impl Merged {
    /// `parts`: each shard's ledger file, its shard, rows and sha256.
    pub fn open(parts: Vec<(PathBuf, Shard, u64, String)>, rules: u32, batch: usize) -> Result<Merged> {
        let shards = parts
            .into_iter()
            .map(|(path, shard, rows, sha)| ShardLedger::open(path, shard, rows, sha, rules))
            .collect::<Result<_>>()?;
        Ok(Merged { shards, batch })
    }

    /// The next batch (None when every row was written).
    pub fn next_batch(&mut self) -> Result<Option<LedgerColumns>> {
        let mut out = LedgerColumns::with_capacity(self.batch);
        while out.len() < self.batch {
            // the shard whose next member comes first (members are in one shard only)
            let mut first: Option<(usize, String)> = None;
            for (k, s) in self.shards.iter_mut().enumerate() {
                if let Some(m) = s.member()? {
                    if first.as_ref().is_none_or(|(_, f)| m < f.as_str()) {
                        first = Some((k, m.to_string()));
                    }
                }
            }
            let Some((k, member)) = first else { break };
            let shard = &mut self.shards[k];
            while out.len() < self.batch && shard.member()? == Some(member.as_str()) {
                shard.take(&mut out);
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(rows: &[(&str, &str)]) -> LedgerColumns {
        let mut c = LedgerColumns::with_capacity(rows.len());
        for (member, id) in rows {
            c.start_row(member);
            c.push_id(id);
            c.ts.push(0);
            c.day.push(0);
            c.rule.push(0);
            c.raw.push(1);
            c.awarded.push(1);
            c.capped_by.push(None);
        }
        c
    }

    #[test]
    fn rows_of_one_member_make_one_run_and_ids_come_back_whole() {
        let c = columns(&[("m1", "e1"), ("m1", "事件2"), ("m2", "e3")]);
        assert_eq!(c.members, vec![("m1".to_string(), 2), ("m2".to_string(), 1)]);
        assert_eq!(c.event_ids().collect::<Vec<_>>(), ["e1", "事件2", "e3"]);
        assert_eq!(c.member_ids().collect::<Vec<_>>(), ["m1", "m1", "m2"]);
        assert!(c.consistent(1));
    }

    #[test]
    fn columns_that_do_not_add_up_are_not_consistent() {
        // a rule the program does not have
        assert!(!columns(&[("m1", "e1")]).consistent(0));
        // an id cut inside a character (a damaged chunk decodes to it)
        let mut c = columns(&[("m1", "事件")]);
        c.id_ends[0] = 1;
        assert!(!c.consistent(1));
        // runs that count more rows than there are
        let mut c = columns(&[("m1", "e1")]);
        c.members[0].1 = 2;
        assert!(!c.consistent(1));
        // a column one row short
        let mut c = columns(&[("m1", "e1"), ("m1", "e2")]);
        c.awarded.pop();
        assert!(!c.consistent(1));
    }
}
