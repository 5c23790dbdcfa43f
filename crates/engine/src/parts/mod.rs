//! A shard's part: the per-member state (`compute::MemberState`) of one shard's
//! members, written by `koc run --shard I/N --out DIR` and stitched back by `koc merge`
//! into the state of every member, exactly as one unsharded run computes it.
//!
//! A part is two files in DIR: `part-I-of-N.msgpack` (the state, keyed by member id and
//! by each member's own event and redemption order, never by a shard's positions) and
//! `part-I-of-N.json`, written last, which names the store (sha256 of its
//! manifest.json), the pipeline (sha256 of its text), D, the shard and the data file's
//! sha256. A part without its JSON was never finished; one whose data does not match
//! the JSON's checksum is refused by name.
mod bounds;
pub mod ledger;

use crate::compute::MemberState;
use crate::error::usage_err;
use crate::fmt::Day;
use crate::model::Dataset;
use crate::pipeline::program::Program;
use crate::shard::Shard;
use crate::stages::contests::ContentFirst;
use crate::stages::facts::Facts;
use crate::stages::goals::Tally;
use crate::stages::points::{Balance, Points, RedemptionOutcome, RedemptionStatus};
use crate::stages::tiers::TierState;
use anyhow::{bail, Context, Result};
use bounds::{first_day, Bounds};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What a part was computed from; every part of a merge must agree on all of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// sha256 of the store's manifest.json when the shard read it.
    pub store: String,
    /// sha256 of the pipeline file's text.
    pub pipeline: String,
    pub as_of: String,
    pub koc_version: String,
}

/// The JSON beside a part's data: its identity, shard and checksum.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartHeader {
    #[serde(flatten)]
    pub identity: Identity,
    pub shard: String,
    pub index: u64,
    pub count: u64,
    pub members: usize,
    pub data_sha256: String,
    /// The shard's ledger rows (`ledger::write`) and that file's sha256.
    pub ledger_rows: u64,
    pub ledger_sha256: String,
}

#[derive(Serialize, Deserialize)]
struct PartData {
    /// The regular snapshot days before D (the layer history's days).
    history_days: Vec<Day>,
    /// The numeric and flag columns of the metric frame at D, by name, in frame order.
    numeric_names: Vec<String>,
    flag_names: Vec<String>,
    members: Vec<MemberPart>,
    /// Every redemption of the shard's member ids (known members or not).
    redemptions: Vec<RedemptionPart>,
    /// The goals' tallies over the shard's members (they add up across shards).
    goal_tallies: Vec<Tally>,
    /// The first event among the shard's of each content an entry names.
    content_firsts: Vec<ContentFirst>,
}

#[derive(Serialize, Deserialize)]
struct MemberPart {
    id: String,
    /// The first day of a member seen only in events (not in the members source).
    unlisted_joined: Option<Day>,
    balance: Balance,
    balance_at: Vec<i64>,
    tier: Option<TierState>,
    /// The layer at each regular snapshot, then at D.
    layers: Vec<Option<usize>>,
    /// The metric frame's row at D (members joined by D).
    numeric: Option<Vec<f64>>,
    flags: Option<Vec<bool>>,
    facts: Facts,
}

#[derive(Serialize, Deserialize)]
struct RedemptionPart {
    member_id: String,
    /// Which of the member id's redemptions, in `Dataset::redemptions` order.
    nth: u32,
    status: RedemptionStatus,
    balance_after: i64,
}

/// The file names of shard `shard`'s part.
pub fn part_files(dir: &Path, shard: Shard) -> (PathBuf, PathBuf) {
    let stem = format!("part-{}-of-{}", shard.index, shard.count);
    (dir.join(format!("{stem}.msgpack")), dir.join(format!("{stem}.json")))
}

/// Write one shard's part (data first, then the JSON that makes it complete).
pub fn write(dir: &Path, shard: Shard, identity: Identity, ds: &Dataset, state: &MemberState) -> Result<PathBuf> {
    let data = part_data(ds, state)?;
    let bytes = rmp_serde::to_vec(&data).context("cannot encode the shard's part")?;
    let (data_path, header_path) = part_files(dir, shard);
    crate::store::write_atomic(&data_path, &bytes)?;
    let (ledger_rows, ledger_sha256) = ledger::write(&data_path.with_extension("ledger"), ds, &state.points.ledger)?;
    let header = PartHeader {
        identity,
        shard: shard.to_string(),
        index: shard.index,
        count: shard.count,
        members: ds.members.len(),
        data_sha256: crate::store::sha256_hex(&bytes),
        ledger_rows,
        ledger_sha256,
    };
    crate::store::write_atomic(&header_path, &serde_json::to_vec_pretty(&header)?)?;
    Ok(header_path)
}

fn part_data(ds: &Dataset, state: &MemberState) -> Result<PartData> {
    let snap = &state.snapshot_d;
    let mut numeric_names = Vec::new();
    let mut flag_names = Vec::new();
    let mut numeric_cols: Vec<Vec<f64>> = Vec::new();
    let mut flag_cols: Vec<Vec<bool>> = Vec::new();
    for col in snap.frame.columns() {
        let name = col.name().to_string();
        match col.dtype() {
            polars::prelude::DataType::Boolean => {
                flag_cols.push(col.bool()?.iter().map(|v| v.unwrap_or(false)).collect());
                flag_names.push(name);
            }
            _ => {
                numeric_cols.push(col.f64()?.iter().map(|v| v.unwrap_or(0.0)).collect());
                numeric_names.push(name);
            }
        }
    }
    let row_of: HashMap<usize, usize> = snap.members.iter().enumerate().map(|(k, m)| (*m, k)).collect();
    let members = ds
        .members
        .iter()
        .enumerate()
        .map(|(m, member)| {
            let row = row_of.get(&m).copied();
            MemberPart {
                id: member.id.clone(),
                unlisted_joined: (!member.listed).then_some(member.joined),
                balance: state.points.balances[m].clone(),
                balance_at: state.points.balance_at[m].clone(),
                tier: state.tiers[m].clone(),
                layers: state
                    .history
                    .iter()
                    .map(|(_, row)| row[m])
                    .chain(std::iter::once(state.layer_at_d[m]))
                    .collect(),
                numeric: row.map(|k| numeric_cols.iter().map(|c| c[k]).collect()),
                flags: row.map(|k| flag_cols.iter().map(|c| c[k]).collect()),
                facts: state.facts[m].clone(),
            }
        })
        .collect();
    let nth_of = nth_of_member(ds);
    let redemptions = state
        .points
        .redemptions
        .iter()
        .map(|o| RedemptionPart {
            member_id: ds.redemptions[o.redemption].member_id.clone(),
            nth: nth_of[o.redemption],
            status: o.status,
            balance_after: o.balance_after,
        })
        .collect();
    Ok(PartData {
        history_days: state.history.iter().map(|(d, _)| *d).collect(),
        numeric_names,
        flag_names,
        members,
        redemptions,
        goal_tallies: state.goal_tallies.clone(),
        content_firsts: state.content_firsts.clone(),
    })
}

/// Each redemption's place among its member id's redemptions (`Dataset::redemptions`
/// order): how a part names a redemption, whatever the shard's positions.
fn nth_of_member(ds: &Dataset) -> Vec<u32> {
    let mut seen: HashMap<&str, u32> = HashMap::new();
    ds.redemptions
        .iter()
        .map(|r| {
            let n = seen.entry(r.member_id.as_str()).or_insert(0);
            *n += 1;
            *n - 1
        })
        .collect()
}

/// The complete set of parts in `dirs` (each header with its JSON's path): one per shard of the same count, all of the
/// same store, pipeline and D as `expected` (a missing, unfinished, damaged or
/// mismatched part is an error naming it and what to run).
pub fn find(dirs: &[PathBuf], expected: &Identity) -> Result<Vec<(PartHeader, PathBuf)>> {
    let mut found: Vec<(PartHeader, PathBuf)> = Vec::new();
    for dir in dirs {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot read the parts folder {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if !(name.starts_with("part-") && name.ends_with(".json")) {
                continue;
            }
            let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let header: PartHeader = serde_json::from_slice(&text)
                .with_context(|| format!("{}: not a part written by koc run --shard", path.display()))?;
            found.push((header, path));
        }
    }
    let Some(count) = found.first().map(|(h, _)| h.count) else {
        bail!(usage_err(format!(
            "no parts in {}: run `koc run PIPELINE --as-of D --shard I/N --out DIR` for every shard first",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let mut problems = Vec::new();
    for (h, path) in &found {
        if h.count != count {
            problems.push(format!(
                "{}: shard {} of {} parts, others are of {count}",
                path.display(),
                h.shard,
                h.count
            ));
        }
        let id = &h.identity;
        let mut differs = Vec::new();
        if id.store != expected.store {
            differs.push("store (an ingest ran since)".to_string());
        }
        if id.pipeline != expected.pipeline {
            differs.push("pipeline file (edited since)".to_string());
        }
        if id.as_of != expected.as_of {
            differs.push(format!("as-of date ({})", id.as_of));
        }
        if id.koc_version != expected.koc_version {
            differs.push(format!("koc version ({})", id.koc_version));
        }
        if !differs.is_empty() {
            problems.push(format!(
                "{}: shard {} was computed with another {}; run it again",
                path.display(),
                h.shard,
                differs.join(", ")
            ));
        }
    }
    let mut by_index: Vec<Option<(PartHeader, PathBuf)>> = vec![None; count as usize];
    for (h, path) in found {
        if h.count != count || h.index >= count {
            continue;
        }
        match &by_index[h.index as usize] {
            Some((other, other_path)) if other.data_sha256 != h.data_sha256 => problems.push(format!(
                "shard {} has two different parts: {} and {}; keep one",
                h.shard,
                other_path.display(),
                path.display()
            )),
            Some(_) => {}
            None => {
                let i = h.index as usize;
                by_index[i] = Some((h, path));
            }
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| by_index[*i as usize].is_none())
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "missing {} (run `koc run PIPELINE --as-of {} --shard I/{count} --out DIR` for {})",
            if missing.len() == 1 { "a shard" } else { "shards" },
            expected.as_of,
            missing.join(", ")
        ));
    }
    if !problems.is_empty() {
        bail!(usage_err(format!(
            "the parts cannot be merged:\n  {}",
            problems.join("\n  ")
        )));
    }
    Ok(by_index.into_iter().flatten().collect())
}

fn read_data(header: &PartHeader, json: &Path) -> Result<PartData> {
    let path = &json.with_extension("msgpack");
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "{}: the data of shard {} is missing; run the shard again",
            path.display(),
            header.shard
        )
    })?;
    if crate::store::sha256_hex(&bytes) != header.data_sha256 {
        bail!(
            "{}: the data of shard {} does not match its checksum (damaged or replaced); run the shard again",
            path.display(),
            header.shard
        );
    }
    rmp_serde::from_slice(&bytes).with_context(|| format!("{}: cannot decode the part", path.display()))
}

/// The parts' data, read and checked against their checksums.
pub struct Decoded {
    parts: Vec<(PartHeader, PathBuf, PartData)>,
}

/// Read every part `find` found.
pub fn decode(parts: Vec<(PartHeader, PathBuf)>) -> Result<Decoded> {
    let parts = parts
        .into_iter()
        .map(|(header, path)| {
            let data = read_data(&header, &path)?;
            Ok((header, path, data))
        })
        .collect::<Result<_>>()?;
    Ok(Decoded { parts })
}

impl Decoded {
    /// The members seen only in events, with their first day (the merge's dataset has
    /// no events to see them in); a day outside the store's is refused by name.
    pub fn unlisted(&self, as_of: Day) -> Result<Vec<(String, Day)>> {
        let days = first_day()..=as_of;
        let mut out = Vec::new();
        for (header, path, data) in &self.parts {
            for m in &data.members {
                if let Some(d) = m.unlisted_joined {
                    if !days.contains(&d) {
                        bail!(
                            "{}: member {} has a first day outside the store's; run shard {} again",
                            path.display(),
                            m.id,
                            header.shard
                        );
                    }
                    out.push((m.id.clone(), d));
                }
            }
        }
        Ok(out)
    }

    /// Every shard's ledger in member order, in batches of `batch` rows.
    pub fn ledger(&self, prog: &Program, batch: usize) -> Result<ledger::Merged> {
        let files = self
            .parts
            .iter()
            .map(|(h, path, _)| {
                let shard = Shard {
                    index: h.index,
                    count: h.count,
                };
                (
                    path.with_extension("ledger"),
                    shard,
                    h.ledger_rows,
                    h.ledger_sha256.clone(),
                )
            })
            .collect();
        let rules = prog.rules.as_ref().map_or(0, |r| r.rules.len()) as u32;
        ledger::Merged::open(files, rules, batch)
    }
}

/// The state of every member of `ds` (the whole store at D, without its events: the
/// ledger is written from the shards' files, `Decoded::ledger`), from the parts.
pub fn stitch(prog: &Program, ds: &Dataset, decoded: Decoded) -> Result<MemberState> {
    let bounds = Bounds::of(prog, ds.as_of);
    let n = ds.members.len();
    let mut balances: Vec<Option<Balance>> = vec![None; n];
    let mut balance_at: Vec<Vec<i64>> = vec![Vec::new(); n];
    let mut tiers: Vec<Option<TierState>> = vec![None; n];
    let mut layers: Vec<Vec<Option<usize>>> = vec![Vec::new(); n];
    let mut rows: Vec<Option<(Vec<f64>, Vec<bool>)>> = vec![None; n];
    let mut facts: Vec<Facts> = vec![Facts::default(); n];
    let mut outcomes: Vec<Option<RedemptionOutcome>> = vec![None; ds.redemptions.len()];
    let redemption_index: HashMap<(&str, u32), usize> = ds
        .redemptions
        .iter()
        .zip(nth_of_member(ds))
        .enumerate()
        .map(|(i, (r, k))| ((r.member_id.as_str(), k), i))
        .collect();
    let mut layout: Option<(Vec<Day>, Vec<String>, Vec<String>)> = None;
    let mut goal_tallies: Option<Vec<Tally>> = None;
    let mut content_firsts: Vec<Vec<ContentFirst>> = Vec::new();
    for (header, path, data) in decoded.parts {
        let this = (data.history_days, data.numeric_names, data.flag_names);
        match &layout {
            None => layout = Some(this),
            Some(l) if *l != this => bail!(
                "{}: shard {} has other snapshot days or metrics than the others; run every shard again",
                path.display(),
                header.shard
            ),
            Some(_) => {}
        }
        let bad = |what: String| anyhow::anyhow!("{}: {what}; run shard {} again", path.display(), header.shard);
        let layout = layout.as_ref().expect("set above");
        if layout.0 != bounds.history_days {
            bail!(bad("snapshot days that are not the program's at D".into()));
        }
        let shard = Shard {
            index: header.index,
            count: header.count,
        };
        for mp in data.members {
            if !shard.holds(&mp.id) {
                bail!(bad(format!("member {} is not of shard {}", mp.id, header.shard)));
            }
            if let Some(problem) = bounds.problem(&mp, layout.1.len(), layout.2.len()) {
                bail!(bad(format!("member {} has {problem}", mp.id)));
            }
            let m = *ds
                .index
                .get(&mp.id)
                .ok_or_else(|| bad(format!("member {} is not in the store at D", mp.id)))?;
            if balances[m].is_some() {
                bail!(bad(format!("member {} is in two parts", mp.id)));
            }
            balances[m] = Some(mp.balance);
            balance_at[m] = mp.balance_at;
            tiers[m] = mp.tier;
            layers[m] = mp.layers;
            rows[m] = mp.numeric.zip(mp.flags);
            facts[m] = mp.facts;
        }
        match &mut goal_tallies {
            None => goal_tallies = Some(data.goal_tallies),
            Some(sum) => {
                let spans = |t: &[Tally]| t.iter().map(|t| (t.from, t.to)).collect::<Vec<_>>();
                if spans(sum) != spans(&data.goal_tallies) {
                    bail!(bad("goals measured over other spans than the other shards'".into()));
                }
                for (total, t) in sum.iter_mut().zip(&data.goal_tallies) {
                    if !total.add(t) {
                        bail!(bad("goals' tallies past any count".into()));
                    }
                }
            }
        }
        if data.content_firsts.iter().any(|f| f.values.len() != bounds.from_data) {
            bail!(bad("contest criteria that are not the program's".into()));
        }
        content_firsts.push(data.content_firsts);
        for r in data.redemptions {
            let i = *redemption_index
                .get(&(r.member_id.as_str(), r.nth))
                .ok_or_else(|| bad(format!("a redemption of {} the store does not have", r.member_id)))?;
            if outcomes[i].is_some() {
                bail!(bad(format!("a redemption of {} is in two parts", r.member_id)));
            }
            outcomes[i] = Some(RedemptionOutcome {
                redemption: i,
                status: r.status,
                balance_after: r.balance_after,
            });
        }
    }
    let (history_days, numeric_names, flag_names) = layout.unwrap_or_default();
    if let Some(m) = balances.iter().position(Option::is_none) {
        bail!(usage_err(format!(
            "member {} is in no part: the parts are not of this store",
            ds.members[m].id
        )));
    }
    if outcomes.iter().any(Option::is_none) {
        bail!(usage_err("a redemption is in no part: the parts are not of this store"));
    }
    let at = |k: usize| -> Vec<Option<usize>> { layers.iter().map(|l| l.get(k).copied().flatten()).collect() };
    let history = history_days.iter().enumerate().map(|(k, d)| (*d, at(k))).collect();
    let layer_at_d = at(history_days.len());
    let evaluated: Vec<usize> = (0..n).filter(|m| ds.members[*m].joined <= ds.as_of).collect();
    let mut numeric: Vec<(String, Vec<f64>)> = numeric_names.into_iter().map(|c| (c, Vec::new())).collect();
    let mut flags: Vec<(String, Vec<bool>)> = flag_names.into_iter().map(|c| (c, Vec::new())).collect();
    for &m in &evaluated {
        let (v, f) = rows[m]
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("member {} has no metrics at D in its part", ds.members[m].id))?;
        for (col, x) in numeric.iter_mut().zip(v) {
            col.1.push(*x);
        }
        for (col, x) in flags.iter_mut().zip(f) {
            col.1.push(*x);
        }
    }
    Ok(MemberState {
        points: std::sync::Arc::new(Points {
            ledger: Vec::new(),
            awarded_per_event: Vec::new(),
            redemptions: outcomes.into_iter().flatten().collect(),
            balances: balances.into_iter().flatten().collect(),
            balance_at,
        }),
        tiers,
        history,
        layer_at_d,
        snapshot_d: crate::stages::layers::Snapshot::assemble(evaluated, numeric, flags)?,
        facts,
        goal_tallies: goal_tallies.unwrap_or_default(),
        content_firsts: crate::stages::contests::earliest(content_firsts),
    })
}
