//! The one atomic commit of an ingest: rewritten month partitions and their key
//! files, the other sources' tables, unknown-member counts, then the manifest.
use super::classify::Working;
use super::member_ids::MemberIds;
use crate::store::{month_name, FileRecord, Manifest, Store};
use crate::table::{self, ACTIVITY};
use anyhow::Result;
use std::collections::BTreeMap;

pub(super) fn commit(
    store: &Store,
    manifest: &mut Manifest,
    working: Vec<Working>,
    new_records: Vec<FileRecord>,
    progress: bool,
    timer: &mut crate::timing::Timer,
) -> Result<()> {
    if new_records.is_empty() {
        return Ok(());
    }
    let recount = working
        .iter()
        .any(|w| w.changed && (w.spec.name == ACTIVITY.name || w.spec.name == table::MEMBERS.name));
    // the members as they are now: ingested now, or else read from the store when first
    // needed (once, for the months written and for the recount)
    let mut members: Option<MemberIds> = working.iter().find(|w| w.spec.name == table::MEMBERS.name).map(|w| {
        w.rows
            .values()
            .filter_map(|r| table::packed_field(r, 0).string())
            .collect()
    });
    let members_changed = working.iter().any(|w| w.changed && w.spec.name == table::MEMBERS.name);
    // months whose unknown members were counted while they were written
    let mut counted_now: std::collections::BTreeSet<String> = Default::default();
    for mut w in working {
        if !w.changed {
            continue;
        }
        if w.spec.name == ACTIVITY.name {
            // a partition is rewritten whole. A touched month the ingest never read keeps
            // every stored row (no key of the ingest is stored there): its new rows are
            // added to the stored partition as columns. The others were read before
            // settling, and their rows are among the settled ones.
            let unread: BTreeMap<u32, String> = w
                .touched_months
                .iter()
                .filter_map(|m| w.unread_partition(*m).map(|rel| (*m, rel.to_string())))
                .collect();
            // each touched month's rows, borrowed from the settled files' arenas (freed
            // after the last month is written)
            let settled = w
                .settled
                .take()
                .ok_or_else(|| anyhow::anyhow!("the activity rows changed but were not settled"))?;
            let by_month = settled.rows_by_month(&w.touched_months);
            timer.lap("ingest: rows grouped by month");
            // events of unknown members: the rewritten months are counted as they are
            // written (when the members changed, the other months are recounted below)
            let known = known_members(store, manifest, &mut members)?;
            // a bar over the months when they take a while (a million rows and more)
            let rows: usize = by_month.values().map(Vec::len).sum();
            let bar = crate::progress::steps(progress, by_month.len() as u64, "months written", rows >= 1 << 20);
            let written = write_months(store, w.spec, by_month, &unread, known, bar.as_ref())?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            let mut key_files: Vec<(String, String)> = Vec::new();
            let mut removed: Vec<String> = Vec::new();
            for (m, done) in written {
                match done {
                    Some(done) => {
                        manifest.events.insert(month_name(m), done.partition);
                        key_files.push((month_name(m), done.keys));
                        manifest.unknown_by_month.insert(month_name(m), done.unknown);
                        counted_now.insert(month_name(m));
                    }
                    None => {
                        manifest.events.remove(&month_name(m));
                        manifest.unknown_by_month.remove(&month_name(m));
                        removed.push(month_name(m));
                    }
                }
            }
            // the key index follows the rewritten months; a store from before the
            // index gets the files of its other months too
            let missing: Vec<(String, String)> = manifest
                .events
                .iter()
                .filter(|(m, _)| {
                    !key_files.iter().any(|(k, _)| k == *m)
                        && !manifest.event_keys.as_ref().is_some_and(|ix| {
                            ix.hash == crate::ingest::event_keys::HASH
                                && ix.months.contains_key(*m)
                                && ix.partitions.get(*m) == manifest.events.get(*m)
                        })
                })
                .map(|(m, rel)| (m.clone(), rel.clone()))
                .collect();
            for (m, rel) in missing {
                let df = store.frames_of(&rel, Some(&["event_id"]))?;
                let hashes = df
                    .column("event_id")?
                    .str()?
                    .iter()
                    .flatten()
                    .map(crate::ingest::event_keys::key_hash)
                    .collect();
                key_files.push((m.clone(), crate::ingest::event_keys::write_month(store, &m, hashes)?));
            }
            crate::ingest::event_keys::record_months(manifest, key_files, &removed);
            timer.lap("ingest: months and their keys written");
        } else {
            let rows: Vec<&[u8]> = w.rows.values().map(|p| &p[..]).collect();
            let rel = store.write_packed("tables", w.spec.name, w.spec, &rows)?;
            manifest.tables.insert(w.spec.name.to_string(), rel);
        }
    }
    if recount {
        let complete = manifest
            .events
            .keys()
            .all(|m| manifest.unknown_by_month.contains_key(m));
        if members_changed || !complete {
            let known = known_members(store, manifest, &mut members)?;
            let recounted = count_unknown_member_events(store, manifest, known, &counted_now)?;
            manifest.unknown_by_month.retain(|m, _| counted_now.contains(m));
            manifest.unknown_by_month.extend(recounted);
        }
        manifest.unknown_by_month.retain(|m, _| manifest.events.contains_key(m));
        manifest.events_of_unknown_members = manifest.unknown_by_month.values().sum();
    }
    for r in new_records {
        manifest.files.retain(|f| f.path != r.path);
        manifest.files.push(r);
    }
    store.write_manifest(manifest)
}

/// Rows of month frames held at once while months are written. At 20 M events a month
/// is 1.7 M rows: one is built while the one before it is written (holding every
/// month at once took the peak from 3.3 to 6 GB). Small months go several at a time.
const ROWS_IN_FLIGHT: usize = 2_000_000;

/// The months a writer thread wrote (None: a month left empty).
type MonthsWritten = Vec<(u32, Option<MonthWritten>)>;

/// The threads that write months: joined, their months together (the first error wins).
struct Writers<'s>(Vec<std::thread::ScopedJoinHandle<'s, Result<MonthsWritten>>>);

impl Writers<'_> {
    fn join(self) -> Result<MonthsWritten> {
        let mut all = Vec::new();
        let mut failed = None;
        for h in self.0 {
            match h.join() {
                Ok(Ok(done)) => all.extend(done),
                Ok(Err(e)) => failed = failed.or(Some(e)),
                Err(_) => failed = failed.or(Some(anyhow::anyhow!("a partition writer panicked"))),
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(all),
        }
    }
}

/// Write each month's partition and key file (a month without rows is None: emptied).
fn write_months<'r>(
    store: &Store,
    spec: &'static table::SourceSpec,
    by_month: BTreeMap<u32, Vec<&'r [u8]>>,
    unread: &BTreeMap<u32, String>,
    known: &MemberIds,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<Vec<(u32, Option<MonthWritten>)>> {
    let frame = |m: u32, rows: Vec<&'r [u8]>| -> Result<Option<MonthFrame<'r>>> {
        Ok(match (unread.get(&m), rows.is_empty()) {
            (Some(stored), _) => Some(add_to_month(store, spec, stored, rows, known)?),
            (None, false) => Some(month_frame(rows, known)?),
            (None, true) => None,
        })
    };
    let write = |m: u32, month: MonthFrame| -> Result<MonthWritten> {
        let partition = month
            .content
            .write(store, spec, &format!("events/month={}", month_name(m)))?;
        let keys = crate::ingest::event_keys::write_month(store, &month_name(m), month.hashes)?;
        if let Some(b) = bar {
            b.inc(1);
        }
        Ok(MonthWritten {
            partition,
            keys,
            unknown: month.unknown,
        })
    };
    // a month added to its stored partition is as big as the partition: one at a time
    let biggest = by_month.values().map(Vec::len).max().unwrap_or(0);
    let workers = match unread.is_empty() {
        true => (ROWS_IN_FLIGHT / biggest.max(1)).clamp(1, 4),
        false => 1,
    };
    let mut written: Vec<(u32, Option<MonthWritten>)> = if workers > 1 {
        // small months: each worker builds and writes the next month; a failure stops
        // the others before their next month
        let months = std::sync::Mutex::new(by_month.into_iter());
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| -> Result<Vec<_>> {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| -> Result<Vec<(u32, Option<MonthWritten>)>> {
                        let mut done = Vec::new();
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            let next = months
                                .lock()
                                .map_err(|_| anyhow::anyhow!("a month writer panicked"))?
                                .next();
                            let Some((m, rows)) = next else { break };
                            let written = frame(m, rows).and_then(|f| f.map(|f| write(m, f)).transpose());
                            match written {
                                Ok(w) => done.push((m, w)),
                                Err(e) => {
                                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                        Ok(done)
                    })
                })
                .collect();
            Writers(handles).join()
        })?
    } else {
        // big months: a month's frame is built while the ones before it are encoded and
        // written, by two writers (polars' writer compresses a file's pages on one
        // thread, so one writer left a core idle)
        let (tx, frames) = std::sync::mpsc::sync_channel::<(u32, MonthFrame)>(1);
        let frames = std::sync::Mutex::new(frames);
        std::thread::scope(|scope| -> Result<Vec<_>> {
            let writers: Vec<_> = (0..2)
                .map(|_| {
                    let frames = &frames;
                    scope.spawn(move || -> Result<Vec<(u32, Option<MonthWritten>)>> {
                        let mut done = Vec::new();
                        loop {
                            let next = frames
                                .lock()
                                .map_err(|_| anyhow::anyhow!("a partition writer panicked"))?
                                .recv();
                            let Ok((m, f)) = next else { break };
                            done.push((m, Some(write(m, f)?)));
                        }
                        Ok(done)
                    })
                })
                .collect();
            let writer = Writers(writers);
            let mut emptied = Vec::new();
            let mut failed = None;
            for (m, rows) in by_month {
                match frame(m, rows) {
                    Ok(None) => emptied.push((m, None)),
                    // a send fails only when the writer stopped on an error (below)
                    Ok(Some(f)) => {
                        if tx.send((m, f)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            drop(tx);
            let mut done = writer.join()?;
            if let Some(e) = failed {
                return Err(e);
            }
            done.extend(emptied);
            Ok(done)
        })?
    };
    written.sort_by_key(|(m, _)| *m);
    Ok(written)
}

/// A month partition as written: its file, its key file, its events of unknown members.
struct MonthWritten {
    partition: String,
    keys: String,
    unknown: u64,
}

/// A month's partition to write: its frame (sorted as partitions are), its events' key
/// hashes (for its key file: written with the partition, so building the next month
/// never waits on the disk), its events of members the members source does not have.
struct MonthFrame<'r> {
    content: MonthContent<'r>,
    hashes: Vec<u64>,
    unknown: u64,
}

/// What a month's partition is written from.
enum MonthContent<'r> {
    /// The stored partition with the new rows added, as one frame.
    Frame(polars::prelude::DataFrame),
    /// The month's rows in partition order, turned into columns a slice at a time as
    /// they are written (a month of 17 M events is about 4 GB as one polars frame).
    Rows(Vec<&'r [u8]>),
}

/// Rows of a month made into columns at a time while it is written.
const WRITE_SLICE: usize = 1 << 20;

impl MonthContent<'_> {
    /// Write the partition into `rel_dir` of the store; returns its path.
    fn write(self, store: &Store, spec: &'static table::SourceSpec, rel_dir: &str) -> Result<String> {
        match self {
            MonthContent::Frame(mut df) => store.write_frame(rel_dir, "part", &mut df),
            MonthContent::Rows(rows) => {
                let mut bytes = Vec::new();
                {
                    let schema = crate::store::packed_frame(spec, &[])?.schema().clone();
                    let layout = &crate::store::parquet::PARTITION;
                    let mut writer = crate::store::parquet::batched(&mut bytes, layout, &schema)?;
                    for slice in rows.chunks(WRITE_SLICE) {
                        writer.write_batch(&crate::store::packed_frame(spec, slice)?)?;
                    }
                    writer.finish()?;
                }
                store.write_parquet_bytes(rel_dir, "part", &bytes)
            }
        }
    }
}

/// A month's rows, one value each: times, ids, id hashes, whether the member is unknown.
type FirstPass<'a> = (Vec<i64>, (Vec<&'a [u8]>, (Vec<u64>, Vec<bool>)));

/// Sort one month's rows (by time, then event_id: ids are unique) into a frame, hash
/// their keys, and count its events of members `known` does not have.
fn month_frame<'r>(rows: Vec<&'r [u8]>, known: &MemberIds) -> Result<MonthFrame<'r>> {
    use crate::store::ts_of_packed;
    use rayon::prelude::*;
    use table::{text_bytes, text_field};
    // one pass over the rows in the order they are held (files' order, near their
    // order in memory): the time, the id and its hash, whether the member is unknown
    let (times, (ids, (hash_of_row, unknown_member))): FirstPass = rows
        .par_iter()
        .map(|p| {
            let id = text_bytes(p, 0);
            let unknown = text_field(p, 1).is_some_and(|member| !known.contains(member));
            (
                ts_of_packed(p),
                (id, (crate::ingest::event_keys::key_hash_bytes(id), unknown)),
            )
        })
        .unzip();
    let unknown = unknown_member.iter().filter(|u| **u).count() as u64;
    drop(unknown_member);
    let order = super::month_order::partition_order(&times, &ids);
    // (jumps through memory both: on all cores, collected in order)
    let sorted: Vec<&[u8]> = order.par_iter().map(|r| rows[*r as usize]).collect();
    let hashes = order.par_iter().map(|r| hash_of_row[*r as usize]).collect();
    drop((order, times, ids, hash_of_row));
    Ok(MonthFrame {
        content: MonthContent::Rows(sorted),
        hashes,
        unknown,
    })
}

/// `month_frame` for a month whose stored rows all stay: the stored partition and the
/// new rows as one frame, sorted as a partition is (one more day reads and writes its
/// month as columns, never as millions of packed rows).
fn add_to_month(
    store: &Store,
    spec: &'static table::SourceSpec,
    stored: &str,
    rows: Vec<&[u8]>,
    known: &MemberIds,
) -> Result<MonthFrame<'static>> {
    let df = store.add_sorted(spec, stored, &rows)?;
    drop(rows);
    let ids = df.column("event_id")?.str()?;
    let hashes = ids
        .iter()
        .map(|id| crate::ingest::event_keys::key_hash(id.unwrap_or("")))
        .collect();
    let unknown = unknown_members_in(&df, known)?;
    Ok(MonthFrame {
        content: MonthContent::Frame(df),
        hashes,
        unknown,
    })
}

/// The member ids of the members source: as ingested now, or else as stored (read
/// into `members` the first time).
fn known_members<'a>(store: &Store, m: &Manifest, members: &'a mut Option<MemberIds>) -> Result<&'a MemberIds> {
    let set = match members.take() {
        Some(set) => set,
        None => store
            .load(m, &table::MEMBERS)?
            .into_iter()
            .filter_map(|r| r[0].string())
            .collect(),
    };
    Ok(members.insert(set))
}

/// How many events of a frame's member_id column `known` does not have.
fn unknown_members_in(df: &polars::prelude::DataFrame, known: &MemberIds) -> Result<u64> {
    Ok(df
        .column("member_id")?
        .str()?
        .iter()
        .filter(|id| id.is_some_and(|id| !known.contains(id.as_bytes())))
        .count() as u64)
}

/// Per month, the events whose member_id is not in the members source (`known`), from
/// the member_id column of the partitions `m` names (except the months in `skip`,
/// counted already).
fn count_unknown_member_events(
    store: &Store,
    m: &Manifest,
    known: &MemberIds,
    skip: &std::collections::BTreeSet<String>,
) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for (month, rel) in m.events.iter().filter(|(month, _)| !skip.contains(*month)) {
        let df = store.frames_of(rel, Some(&["member_id"]))?;
        out.insert(month.clone(), unknown_members_in(&df, known)?);
    }
    Ok(out)
}
