//! Counting the activity source by sorting, not by a map (issue 12: the whole-history
//! ingest). SPEC §4 counts each row against the store as the files before it left it:
//! a row is inserted, updated or unchanged by the row with its key just before it
//! (a stored row, or an earlier row of this ingest). That predecessor is the one
//! before it when every row is sorted by (key hash, file, line), so the counts come
//! from one parallel sort and a walk over runs of equal keys, on all cores, instead of
//! twenty million inserts into one map on one thread.
//!
//! A gated file's rows are counted too (its table shows them) but change nothing:
//! within a key, a gated file's rows count against the state before the file and
//! against each other, and the state goes on as if the file had not been read.
use super::hash_groups::Entry;
use super::keyed::same_key;
use crate::store::{month_of_packed, Counts};
use crate::table::{Packed, SourceSpec};
use anyhow::Result;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};

/// One file's accepted rows: where they start (as ranks before the stored rows are
/// counted in) and whether the reject gate holds the file back.
struct FileSpan {
    start: u32,
    gated: bool,
}

/// The activity rows of an ingest, gathered file by file, then settled at once.
pub(super) struct Settler {
    spec: &'static SourceSpec,
    /// Each file's packed rows, one after the other (no allocation per row).
    arenas: Vec<Vec<u8>>,
    /// Where the next `Kept` row of the last file starts in its arena.
    next: usize,
    rows: Vec<RowAt>,
    entries: Vec<Entry>,
    files: Vec<FileSpan>,
}

/// Where a gathered row's bytes are.
#[derive(Clone, Copy)]
struct RowAt {
    arena: u32,
    len: u32,
    at: usize,
}

/// What settling found: per file (in the order they were added) the three counts
/// and the months its rows change, and the rows every key ends with.
pub(super) struct Settled {
    pub(super) counts: Vec<Counts>,
    pub(super) months: Vec<BTreeSet<u32>>,
    arenas: Vec<Vec<u8>>,
    rows: Vec<RowAt>,
    stored: Vec<Packed>,
    /// The rank and month of each key's final row, in rank order.
    finals: Vec<(u32, u32)>,
}

impl Settled {
    /// Each key's final row (stored or new) with its month.
    #[cfg(test)]
    pub(super) fn rows(&self) -> impl Iterator<Item = (u32, &[u8])> + '_ {
        self.finals.iter().map(move |&(rank, month)| (month, self.row(rank)))
    }

    fn row(&self, rank: u32) -> &[u8] {
        match (rank as usize).checked_sub(self.stored.len()) {
            Some(i) => at(&self.arenas, self.rows[i]),
            None => &self.stored[rank as usize][..],
        }
    }

    /// The final rows of each of `months`, in rank order (as `rows` gives them),
    /// gathered on all cores: pieces of a fixed size, put together in order.
    pub(super) fn rows_by_month(&self, months: &BTreeSet<u32>) -> BTreeMap<u32, Vec<&[u8]>> {
        let pieces: Vec<BTreeMap<u32, Vec<&[u8]>>> = self
            .finals
            .par_chunks(1 << 20)
            .map(|piece| {
                let mut by: BTreeMap<u32, Vec<&[u8]>> = BTreeMap::new();
                let mut last: Option<(u32, bool)> = None; // a month and whether it is wanted
                for &(rank, month) in piece {
                    let wanted = match last {
                        Some((m, w)) if m == month => w,
                        _ => months.contains(&month),
                    };
                    last = Some((month, wanted));
                    if wanted {
                        by.entry(month).or_default().push(self.row(rank));
                    }
                }
                by
            })
            .collect();
        // each month's pieces put together in order, the months on all cores
        months
            .par_iter()
            .map(|m| {
                let n = pieces.iter().filter_map(|p| p.get(m)).map(Vec::len).sum();
                let mut all = Vec::with_capacity(n);
                for piece in &pieces {
                    all.extend_from_slice(piece.get(m).map(Vec::as_slice).unwrap_or_default());
                }
                (*m, all)
            })
            .collect()
    }
}

fn at(arenas: &[Vec<u8>], r: RowAt) -> &[u8] {
    &arenas[r.arena as usize][r.at..r.at + r.len as usize]
}

/// The three counts of one file as the walk finds them.
#[derive(Clone, Copy, Default)]
struct Tri {
    inserted: u64,
    updated: u64,
    unchanged: u64,
}

/// What one slice of the grouped entries found.
struct Part {
    counts: Vec<Tri>,
    months: Vec<Touched>,
    /// The rank and month of each key's final row.
    finals: Vec<(u32, u32)>,
}

/// The months a file's rows touch. Consecutive rows of a file are mostly of one month,
/// so the month added last is remembered and not looked up in the set again (a set
/// lookup for every row was most of the walk's time per key).
#[derive(Clone, Default)]
struct Touched {
    set: BTreeSet<u32>,
    /// the month added last (0 at first: no month is 0)
    last: u32,
}

impl Touched {
    #[inline]
    fn insert(&mut self, month: u32) {
        if month != self.last {
            self.set.insert(month);
            self.last = month;
        }
    }
}

impl Settler {
    pub(super) fn new(spec: &'static SourceSpec) -> Settler {
        Settler {
            spec,
            arenas: Vec::new(),
            next: 0,
            rows: Vec::new(),
            entries: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Start the next file (of at most `rows` rows, kept in `arena`); its rows follow
    /// with `push`, in order.
    pub(super) fn start_file(&mut self, rows: usize, arena: Vec<u8>) -> Result<usize> {
        self.arenas.push(arena);
        self.next = 0;
        u32::try_from(self.rows.len() + rows).map_err(|_| {
            anyhow::anyhow!("more than 4 billion activity rows in one ingest: ingest the exports in parts")
        })?;
        self.files.push(FileSpan {
            start: self.rows.len() as u32,
            gated: false,
        });
        self.rows.reserve(rows);
        self.entries.reserve(rows);
        Ok(self.files.len() - 1)
    }

    /// Whether the reject gate holds file `f` back (known once its rows are read).
    pub(super) fn set_gated(&mut self, f: usize, gated: bool) {
        self.files[f].gated = gated;
    }

    /// The file's next kept row: its `len` bytes follow the last one's in its arena.
    pub(super) fn push(&mut self, hash: u64, month: u32, len: u32) -> Result<()> {
        let arena = self.arenas.len() - 1;
        let row = RowAt {
            arena: arena as u32,
            len,
            at: self.next,
        };
        anyhow::ensure!(
            row.at + len as usize <= self.arenas[arena].len(),
            "a kept row past its file's arena"
        );
        self.next += len as usize;
        self.add(hash, month, row);
        Ok(())
    }

    /// A row packed on its own (added to the end of its file's arena).
    #[cfg(test)]
    pub(super) fn push_packed(&mut self, hash: u64, month: u32, row: Packed) -> Result<()> {
        let arena = self.arenas.len() - 1;
        let bytes = &mut self.arenas[arena];
        let at = RowAt {
            arena: arena as u32,
            len: u32::try_from(row.len())?,
            at: bytes.len(),
        };
        bytes.extend_from_slice(&row);
        self.add(hash, month, at);
        Ok(())
    }

    fn add(&mut self, hash: u64, month: u32, row: RowAt) {
        self.entries.push(Entry {
            hash,
            rank: self.rows.len() as u32,
            month,
        });
        self.rows.push(row);
    }

    /// The key hashes of the rows gathered (to find the stored months they may be in).
    pub(super) fn hashes(&self) -> impl ParallelIterator<Item = u64> + '_ {
        self.entries.par_iter().map(|e| e.hash)
    }

    /// Count every file and settle every key, with `stored` (the rows of the stored
    /// months a key of this ingest may be in) before all files.
    pub(super) fn settle(self, stored: Vec<Packed>) -> Result<Settled> {
        let Settler {
            spec,
            arenas,
            rows,
            mut entries,
            files,
            ..
        } = self;
        let s = u32::try_from(stored.len())
            .ok()
            .filter(|s| s.checked_add(rows.len() as u32).is_some())
            .ok_or_else(|| {
                anyhow::anyhow!("more than 4 billion activity rows in one ingest: ingest the exports in parts")
            })?;
        entries.par_iter_mut().for_each(|e| e.rank += s);
        let key_hash = super::keyed::KeyHash::of(spec);
        entries.extend(stored.iter().enumerate().map(|(i, r)| Entry {
            hash: key_hash.hash(r),
            rank: i as u32,
            month: month_of_packed(r),
        }));
        let entries = super::hash_groups::group_by_hash(entries);

        let walk = Walk {
            spec,
            stored: &stored,
            arenas: &arenas,
            rows: &rows,
            starts: files.iter().map(|f| f.start + s).collect(),
            gated: files.iter().map(|f| f.gated).collect(),
        };
        let parts: Vec<Part> = slices(&entries, rayon::current_num_threads() * 8)
            .into_par_iter()
            .map(|slice| walk.part(slice))
            .collect();
        drop(entries);

        let mut counts = vec![Counts::default(); files.len()];
        let mut months = vec![BTreeSet::new(); files.len()];
        for part in &parts {
            for (f, t) in part.counts.iter().enumerate() {
                counts[f].inserted += t.inserted;
                counts[f].updated += t.updated;
                counts[f].unchanged += t.unchanged;
            }
            for (f, m) in part.months.iter().enumerate() {
                months[f].extend(&m.set);
            }
        }
        // the month of each row that stays (0: the row does not; no month is 0), set on
        // all cores: a rank is final in one part at most, so no two stores meet (the
        // atomics only let the parts share the vector; relaxed stores are plain ones)
        let keep: Vec<AtomicU32> = (0..stored.len() + rows.len()).map(|_| AtomicU32::new(0)).collect();
        parts.par_iter().for_each(|part| {
            for &(rank, month) in &part.finals {
                keep[rank as usize].store(month, Ordering::Relaxed);
            }
        });
        drop(parts);
        // in rank order (rayon's collect keeps it)
        let finals = keep
            .into_par_iter()
            .enumerate()
            .filter_map(|(rank, month)| {
                let month = month.into_inner();
                (month != 0).then_some((rank as u32, month))
            })
            .collect();
        Ok(Settled {
            counts,
            months,
            arenas,
            rows,
            stored,
            finals,
        })
    }
}

/// Cut the grouped entries into about `n` slices, never inside a run of one hash.
fn slices(entries: &[Entry], n: usize) -> Vec<&[Entry]> {
    let size = entries.len().div_ceil(n.max(1)).max(1);
    let mut out = Vec::new();
    let mut from = 0;
    while from < entries.len() {
        let mut to = (from + size).min(entries.len());
        while to < entries.len() && entries[to].hash == entries[to - 1].hash {
            to += 1;
        }
        out.push(&entries[from..to]);
        from = to;
    }
    out
}

/// What the walk over the grouped entries reads.
struct Walk<'a> {
    spec: &'static SourceSpec,
    stored: &'a [Packed],
    arenas: &'a [Vec<u8>],
    rows: &'a [RowAt],
    /// Each file's first rank (stored rows counted in).
    starts: Vec<u32>,
    gated: Vec<bool>,
}

impl Walk<'_> {
    fn row(&self, rank: u32) -> &[u8] {
        let s = self.stored.len();
        match (rank as usize).checked_sub(s) {
            Some(i) => at(self.arenas, self.rows[i]),
            None => &self.stored[rank as usize],
        }
    }

    /// The file of a new row; None for a stored row.
    fn file(&self, rank: u32) -> Option<usize> {
        (rank as usize >= self.stored.len()).then(|| self.starts.partition_point(|s| *s <= rank) - 1)
    }

    fn part(&self, slice: &[Entry]) -> Part {
        let mut part = Part {
            counts: vec![Tri::default(); self.starts.len()],
            months: vec![Touched::default(); self.starts.len()],
            finals: Vec::with_capacity(slice.len()),
        };
        let mut from = 0;
        while from < slice.len() {
            let mut to = from + 1;
            while to < slice.len() && slice[to].hash == slice[from].hash {
                to += 1;
            }
            let run = &slice[from..to];
            if run.len() == 1 || self.one_key(run) {
                self.key(run.iter().copied(), &mut part);
            } else {
                // two keys with one hash (practically never): each key on its own
                let mut done = vec![false; run.len()];
                for i in 0..run.len() {
                    if done[i] {
                        continue;
                    }
                    let first = self.row(run[i].rank);
                    let mut same = Vec::new();
                    for j in i..run.len() {
                        if !done[j] && same_key(self.spec, first, self.row(run[j].rank)) {
                            done[j] = true;
                            same.push(run[j]);
                        }
                    }
                    self.key(same.into_iter(), &mut part);
                }
            }
            from = to;
        }
        part
    }

    fn one_key(&self, run: &[Entry]) -> bool {
        let first = self.row(run[0].rank);
        run[1..].iter().all(|e| same_key(self.spec, first, self.row(e.rank)))
    }

    /// Count the rows of one key in rank order and keep the row it ends with.
    fn key(&self, rows: impl Iterator<Item = Entry>, part: &mut Part) {
        let mut rows = rows.peekable();
        let mut current: Option<Entry> = None;
        while let Some(e) = rows.next() {
            let Some(f) = self.file(e.rank) else {
                // a stored row (a key is stored once; the first stays, as when read)
                current = current.or(Some(e));
                continue;
            };
            if self.gated[f] {
                // counted against the state before the file and its own earlier rows
                let mut state = current;
                let mut next = Some(e);
                while let Some(e) = next {
                    self.count(&mut part.counts[f], state, e);
                    state = Some(e);
                    next = rows.next_if(|n| self.file(n.rank) == Some(f));
                }
                continue;
            }
            self.count(&mut part.counts[f], current, e);
            if let Some(old) = current {
                part.months[f].insert(old.month);
            }
            part.months[f].insert(e.month);
            current = Some(e);
        }
        if let Some(last) = current {
            part.finals.push((last.rank, last.month));
        }
    }

    fn count(&self, tri: &mut Tri, before: Option<Entry>, now: Entry) {
        match before {
            None => tri.inserted += 1,
            Some(b) if self.row(b.rank) == self.row(now.rank) => tri.unchanged += 1,
            Some(_) => tri.updated += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::keyed::key_hash;
    use super::*;
    use crate::table::{pack, Val, ACTIVITY};

    /// Event `id` with `likes`, in January 2025 (month 202501) or, for a stored row,
    /// February.
    fn event(id: &str, likes: i64, feb: bool) -> Packed {
        let mut row = vec![Val::Null; ACTIVITY.cols.len()];
        row[0] = Val::Str(id.into());
        row[ACTIVITY.index("occurred_at")] = Val::Ts(if feb { 1_738_540_800 } else { 1_735_800_000 });
        row[ACTIVITY.index("likes")] = Val::Int(likes);
        pack(&row)
    }

    /// (inserted, updated, unchanged) per file, months per file, the final rows sorted.
    type Found = (Vec<(u64, u64, u64)>, Vec<BTreeSet<u32>>, Vec<Packed>);

    /// Three files against one stored row, worked out by hand; `hash` gives each new
    /// row its key's hash.
    fn three_files(hash: impl Fn(&Packed) -> u64) -> Found {
        let mut s = Settler::new(&ACTIVITY);
        let files: [(bool, Vec<Packed>); 3] = [
            // inserted a, b; s updated (the stored s is February's); a again, unchanged
            (
                false,
                vec![
                    event("a", 1, false),
                    event("b", 1, false),
                    event("s", 1, false),
                    event("a", 1, false),
                ],
            ),
            // gated: a updated, c inserted then updated, s updated — and all undone
            (
                true,
                vec![
                    event("a", 2, false),
                    event("c", 1, false),
                    event("c", 2, false),
                    event("s", 2, false),
                ],
            ),
            // a updated against file 0's a, c inserted (the gated c never stood), b unchanged
            (
                false,
                vec![event("a", 3, false), event("c", 1, false), event("b", 1, false)],
            ),
        ];
        for (gated, rows) in files {
            // the first row packed on its own, the others kept in the file's arena
            let arena: Vec<u8> = rows[1..].iter().flat_map(|r| r.iter().copied()).collect();
            let f = s.start_file(rows.len(), arena).unwrap();
            let mut rows = rows.into_iter();
            let first = rows.next().unwrap();
            s.push_packed(hash(&first), 202501, first).unwrap();
            for r in rows {
                s.push(hash(&r), 202501, r.len() as u32).unwrap();
            }
            s.set_gated(f, gated);
        }
        let stored = vec![event("s", 1, true)];
        let settled = s.settle(stored).unwrap();
        let counts = settled
            .counts
            .iter()
            .map(|c| (c.inserted, c.updated, c.unchanged))
            .collect();
        assert!(settled.rows().all(|(m, r)| m == month_of_packed(r)));
        // grouped by month on all cores: the same rows in the same order, only the
        // months asked for. Every final row is January's (the stored February row is
        // replaced), so February, asked, comes back empty, and nothing asked, nothing.
        let all: BTreeSet<u32> = settled.rows().map(|(m, _)| m).collect();
        assert_eq!(all, BTreeSet::from([202501]));
        let by_month = settled.rows_by_month(&all);
        assert_eq!(by_month[&202501].len(), settled.rows().count());
        let february = BTreeSet::from([202502]);
        assert_eq!(settled.rows_by_month(&february), BTreeMap::from([(202502, vec![])]));
        assert!(settled.rows_by_month(&BTreeSet::new()).is_empty());
        for asked in [&all, &february] {
            let mut by_hand: BTreeMap<u32, Vec<&[u8]>> = asked.iter().map(|m| (*m, Vec::new())).collect();
            for (m, r) in settled.rows() {
                if let Some(rows) = by_hand.get_mut(&m) {
                    rows.push(r);
                }
            }
            assert_eq!(settled.rows_by_month(asked), by_hand);
        }
        let mut rows: Vec<Packed> = settled.rows().map(|(_, r)| Packed::from(r)).collect();
        rows.sort();
        (counts, settled.months, rows)
    }

    #[test]
    fn files_count_against_the_rows_before_them_and_a_gated_file_changes_nothing() {
        let (counts, months, rows) = three_files(|r| key_hash(&ACTIVITY, r));
        assert_eq!(counts, vec![(2, 1, 1), (1, 3, 0), (1, 1, 1)]);
        // file 0 replaced the stored s (February) with a January row
        assert_eq!(months[0], BTreeSet::from([202501, 202502]));
        assert_eq!(months[2], BTreeSet::from([202501]));
        let mut want = vec![
            event("a", 3, false),
            event("b", 1, false),
            event("c", 1, false),
            event("s", 1, false),
        ];
        want.sort();
        assert_eq!(rows, want);
    }

    #[test]
    fn keys_that_share_a_hash_are_counted_apart() {
        let real = three_files(|r| key_hash(&ACTIVITY, r));
        // a, b and c under one hash (s keeps its own: settle hashes the stored row)
        let s = key_hash(&ACTIVITY, &event("s", 0, false));
        let collided = three_files(|r| if key_hash(&ACTIVITY, r) == s { s } else { 7 });
        assert_eq!(real.0, collided.0);
        assert_eq!(real.2, collided.2);
    }
}
