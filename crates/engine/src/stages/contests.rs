//! Contests judged against rubrics (SPEC §9): eligibility, score checks,
//! normalisation (none | zscore), from_data criteria, ranks and prizes.
use crate::fmt::{day_of_ts, percentiles, tie_key, Day, Ts};
use crate::model::{Dataset, Entry, Score};
use crate::pipeline::expr;
use crate::pipeline::plans::{ContestPlan, CriterionSource};
use crate::pipeline::program::{Normalize, Place, Program};
use crate::stages::layers::LayerRow;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

text_enum! {
    /// SPEC §9's entry statuses.
    pub enum EntryStatus {
        IneligibleWindow => "ineligible_window",
        IneligibleLayer => "ineligible_layer",
        OverLimit => "over_limit",
        InsufficientJudges => "insufficient_judges",
        Ranked => "ranked",
    }
}

pub struct ContestResult {
    pub id: String,
    pub name: String,
    /// The rubric's criteria, in its order (contest_<id>.csv's value columns).
    pub criteria: Vec<String>,
    /// The criteria judges score (those with a scale), in the rubric's order.
    pub judged_criteria: Vec<String>,
    /// Judge scores refused, in contest_<id>_rejects.csv's order.
    pub rejects: Vec<RejectedScore>,
    /// How each judge scored, by judge id (contest_<id>_judges.csv).
    pub judges: Vec<JudgeRow>,
    /// Ranked entries, best first.
    pub podium: Vec<Placing>,
    /// Every entry, as contest_<id>.csv lists them (ranked by rank, then by entry id).
    pub entries: Vec<EntryOutcome>,
    /// Rejected judge scores per reason (the rejects file's `reason`).
    pub rejected_by_reason: BTreeMap<&'static str, u64>,
    /// Each judge's valid scores, by judge id (the judges file's overall columns).
    pub judge_stats: Vec<JudgeStats>,
}

/// How one judge scored: valid scores given, their raw mean and spread.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeStats {
    pub judge_id: String,
    pub scores: usize,
    pub mean_raw: f64,
    pub sd_raw: f64,
}

/// A judge score refused and why (SPEC §9: the first defect).
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedScore {
    pub contest_id: String,
    pub entry_id: String,
    pub judge_id: String,
    pub criterion: String,
    pub score: f64,
    pub reason: &'static str,
}

/// One judge's leniency: overall, against the panel, and per judged criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeRow {
    pub stats: JudgeStats,
    /// The mean z of the judge's scores against the panel of each entry and criterion.
    pub mean_z: f64,
    /// Per judged criterion: scores given, their raw mean and spread (None without scores).
    pub criteria: Vec<(usize, Option<f64>, Option<f64>)>,
}

/// One ranked entry of a contest.
#[derive(Debug, Clone, PartialEq)]
pub struct Placing {
    pub rank: usize,
    pub entry_id: String,
    pub member_id: String,
    pub final_score: f64,
    /// Empty below the prizes.
    pub award: String,
}

/// What became of one entry.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryOutcome {
    pub entry_id: String,
    pub member_id: String,
    pub status: EntryStatus,
    pub rank: Option<usize>,
    /// The final score of a ranked entry.
    pub final_score: Option<f64>,
    /// Empty below the prizes and for unranked entries.
    pub award: String,
    /// The criteria's values of a ranked entry, in the rubric's order (None unranked).
    pub values: Option<Vec<f64>>,
    /// Judges with a valid score for the entry.
    pub judges: usize,
}

impl Placing {
    pub fn has_award(&self) -> bool {
        !self.award.is_empty()
    }
}

struct Row<'a> {
    entry: &'a Entry,
    status: EntryStatus,
    values: Vec<f64>,
    final_score: f64,
    rank: Option<usize>,
    award: String,
    judges: usize,
}

pub fn compute_all(
    prog: &Program,
    ds: &Dataset,
    firsts: &[ContentFirst],
    layer_at_d: &LayerRow,
) -> Result<Vec<ContestResult>> {
    let data = FromData {
        places: from_data_places(prog),
        firsts: firsts.iter().map(|f| (f.content_id.as_str(), f)).collect(),
    };
    prog.contests
        .iter()
        .enumerate()
        .map(|(k, c)| compute(k, c, ds, &data, layer_at_d))
        .collect()
}

/// What `from_data` criteria read: the first event of each content an entry names.
struct FromData<'a> {
    /// The (contest, criterion) of each `from_data` criterion, as `ContentFirst::values`.
    places: Vec<(usize, usize)>,
    firsts: HashMap<&'a str, &'a ContentFirst>,
}

/// The first event (by occurred_at, event_id) of a content that an entry names, with
/// the value of every `from_data` criterion on it (`from_data_places`' order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentFirst {
    pub content_id: String,
    pub ts: Ts,
    pub event_id: String,
    pub values: Vec<Option<f64>>,
}

/// Every (contest, criterion) whose criterion is read from the data, in order.
fn from_data_places(prog: &Program) -> Vec<(usize, usize)> {
    prog.contests
        .iter()
        .enumerate()
        .flat_map(|(k, c)| (0..c.criteria.len()).map(move |j| (k, j)))
        .filter(|(k, j)| !prog.contests[*k].criteria[*j].judged())
        .collect()
}

/// The first event of every content an entry names, among `ds`'s events, sorted by
/// content id (none when no criterion is read from the data). Row-wise criteria give
/// each event its own value, so the firsts of disjoint sets of members combine
/// (`earliest`) into those of all.
pub fn content_firsts(prog: &Program, ds: &Dataset, awarded: &[i64]) -> Result<Vec<ContentFirst>> {
    let places = from_data_places(prog);
    if places.is_empty() {
        return Ok(Vec::new());
    }
    let exprs: Vec<_> = places
        .iter()
        .map(|(k, j)| {
            prog.conditions
                .get(&Place::FromData(*k, *j))
                .ok_or_else(|| anyhow::anyhow!("contests[id={}].from_data was not checked", prog.contests[*k].id))
        })
        .collect::<Result<_>>()?;
    let frame = ds.event_frame(&expr::names_in(exprs.iter().copied()), Some(awarded))?;
    let values: Vec<Vec<Option<f64>>> = exprs.iter().map(|e| expr::eval_f64(e, &frame)).collect::<Result<_>>()?;
    let named: BTreeSet<&str> = ds.entries.iter().filter_map(|e| e.content_id.as_deref()).collect();
    let ev = &ds.events;
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..ev.len() {
        if let Some(c) = ev.content_id(i).filter(|c| named.contains(c)) {
            first
                .entry(c)
                .and_modify(|j| {
                    if (ev.ts[i], ev.id(i)) < (ev.ts[*j], ev.id(*j)) {
                        *j = i;
                    }
                })
                .or_insert(i);
        }
    }
    Ok(first
        .into_iter()
        .map(|(c, i)| ContentFirst {
            content_id: c.to_string(),
            ts: ev.ts[i],
            event_id: ev.id(i).to_string(),
            values: values.iter().map(|v| v.get(i).copied().flatten()).collect(),
        })
        .collect())
}

/// The firsts of several shards put together: the earliest event of each content (by
/// occurred_at, event_id), sorted by content id.
pub fn earliest(parts: impl IntoIterator<Item = Vec<ContentFirst>>) -> Vec<ContentFirst> {
    let mut all: BTreeMap<String, ContentFirst> = BTreeMap::new();
    for f in parts.into_iter().flatten() {
        match all.get(&f.content_id) {
            Some(g) if (g.ts, g.event_id.as_str()) <= (f.ts, f.event_id.as_str()) => {}
            _ => {
                all.insert(f.content_id.clone(), f);
            }
        }
    }
    all.into_values().collect()
}

fn compute(
    contest: usize,
    c: &ContestPlan,
    ds: &Dataset,
    data: &FromData,
    layer_at_d: &LayerRow,
) -> Result<ContestResult> {
    let (from, to): (Day, Day) = (c.from, c.to);
    let mut entries: Vec<&Entry> = ds.entries.iter().filter(|e| e.contest_id == c.id).collect();
    entries.sort_by(|a, b| (a.ts, &a.id).cmp(&(b.ts, &b.id)));
    let entry_ids: BTreeSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();

    // judge scores: the first defect rejects (SPEC §9), never clamped
    let mut rejects = Vec::new();
    let mut rejected_by_reason: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut valid: Vec<&Score> = Vec::new();
    let mut scores: Vec<&Score> = ds.scores.iter().filter(|s| s.contest_id == c.id).collect();
    scores.sort_by(|a, b| (&a.entry_id, &a.judge_id, &a.criterion).cmp(&(&b.entry_id, &b.judge_id, &b.criterion)));
    for s in scores {
        let crit = c.criteria.iter().find(|r| r.name == s.criterion);
        let reason = if !entry_ids.contains(s.entry_id.as_str()) {
            Some("unknown_entry")
        } else if crit.is_none() {
            Some("unknown_criterion")
        } else if crit.is_some_and(|r| !r.judged()) {
            Some("from_data_criterion")
        } else if crit.is_some_and(|r| match r.source {
            CriterionSource::Scale(lo, hi) => s.score < lo || s.score > hi,
            _ => false,
        }) {
            Some("out_of_scale")
        } else {
            None
        };
        match reason {
            Some(r) => {
                *rejected_by_reason.entry(r).or_insert(0) += 1;
                rejects.push(RejectedScore {
                    contest_id: s.contest_id.clone(),
                    entry_id: s.entry_id.clone(),
                    judge_id: s.judge_id.clone(),
                    criterion: s.criterion.clone(),
                    score: s.score,
                    reason: r,
                })
            }
            None => valid.push(s),
        }
    }
    let mut by_entry: HashMap<&str, Vec<&Score>> = HashMap::new();
    for s in &valid {
        by_entry.entry(s.entry_id.as_str()).or_default().push(s);
    }

    // eligibility in the SPEC's order: window → layer → per-member limit → judges
    let mut taken: HashMap<&str, usize> = HashMap::new();
    let mut rows: Vec<Row> = Vec::new();
    for e in &entries {
        let day = day_of_ts(e.ts);
        let judges: BTreeSet<&str> = by_entry
            .get(e.id.as_str())
            .into_iter()
            .flatten()
            .map(|s| s.judge_id.as_str())
            .collect();
        let status = if day < from || day > to {
            EntryStatus::IneligibleWindow
        } else if c.eligible_layers.as_ref().is_some_and(|allowed| {
            let layer = ds
                .index
                .get(&e.member_id)
                .and_then(|m| layer_at_d.get(*m).copied().flatten());
            !layer.is_some_and(|l| allowed.contains(&l))
        }) {
            EntryStatus::IneligibleLayer
        } else if c.max_entries_per_member.is_some_and(|max| {
            let n = taken.entry(e.member_id.as_str()).or_insert(0);
            *n += 1;
            *n > max
        }) {
            EntryStatus::OverLimit
        } else if judges.len() < c.min_judges {
            EntryStatus::InsufficientJudges
        } else {
            EntryStatus::Ranked
        };
        rows.push(Row {
            entry: e,
            status,
            values: vec![0.0; c.criteria.len()],
            final_score: 0.0,
            rank: None,
            award: String::new(),
            judges: judges.len(),
        });
    }

    let passed: BTreeSet<&str> = rows
        .iter()
        .filter(|r| matches!(r.status, EntryStatus::Ranked | EntryStatus::InsufficientJudges))
        .map(|r| r.entry.id.as_str())
        .collect();
    let ranked: Vec<usize> = (0..rows.len())
        .filter(|i| rows[*i].status == EntryStatus::Ranked)
        .collect();
    for (ci, crit) in c.criteria.iter().enumerate() {
        let raw: Vec<f64> = if !crit.judged() {
            let place = data
                .places
                .iter()
                .position(|p| *p == (contest, ci))
                .ok_or_else(|| anyhow::anyhow!("contests[id={}].from_data was not checked", c.id))?;
            let v: Vec<f64> = ranked
                .iter()
                .map(|i| {
                    rows[*i]
                        .entry
                        .content_id
                        .as_ref()
                        .and_then(|cid| data.firsts.get(cid.as_str()))
                        .and_then(|f| f.values.get(place).copied().flatten())
                        .unwrap_or(0.0)
                })
                .collect();
            percentiles(&v)
        } else if c.normalize == Normalize::ZScore {
            let z = zscores(&valid, &crit.name, &passed);
            let v: Vec<f64> = ranked
                .iter()
                .map(|i| mean(z.get(rows[*i].entry.id.as_str()).map(|v| v.as_slice()).unwrap_or(&[])))
                .collect();
            percentiles(&v)
        } else {
            // an unscaled criterion's scores are taken as they are (SPEC §9: 0…1)
            let (lo, hi) = match crit.source {
                CriterionSource::Scale(lo, hi) => (lo, hi),
                _ => (0.0, 1.0),
            };
            ranked
                .iter()
                .map(|i| {
                    let s: Vec<f64> = by_entry
                        .get(rows[*i].entry.id.as_str())
                        .into_iter()
                        .flatten()
                        .filter(|s| s.criterion == crit.name)
                        .map(|s| s.score)
                        .collect();
                    if s.is_empty() || hi == lo {
                        0.0
                    } else {
                        (mean(&s) - lo) / (hi - lo)
                    }
                })
                .collect()
        };
        for (k, i) in ranked.iter().enumerate() {
            rows[*i].values[ci] = raw[k];
        }
    }
    let total_w: f64 = c.criteria.iter().map(|r| r.weight).sum();
    for i in &ranked {
        let r = &mut rows[*i];
        r.final_score = if total_w > 0.0 {
            100.0
                * c.criteria
                    .iter()
                    .zip(&r.values)
                    .map(|(cr, v)| cr.weight * v)
                    .sum::<f64>()
                / total_w
        } else {
            0.0
        };
    }
    let tie_idx = &c.tie_break;
    let mut order = ranked.clone();
    order.sort_by(|a, b| {
        let (ra, rb) = (&rows[*a], &rows[*b]);
        let mut o = tie_key(rb.final_score).cmp(&tie_key(ra.final_score));
        for ti in tie_idx {
            o = o.then(tie_key(rb.values[*ti]).cmp(&tie_key(ra.values[*ti])));
        }
        o.then(ra.entry.ts.cmp(&rb.entry.ts))
            .then(ra.entry.id.cmp(&rb.entry.id))
    });
    let mut awards = c.awards.iter().cloned();
    for (k, i) in order.iter().enumerate() {
        rows[*i].rank = Some(k + 1);
        rows[*i].award = awards.next().unwrap_or_default();
    }
    let mut others: Vec<usize> = (0..rows.len()).filter(|i| rows[*i].rank.is_none()).collect();
    others.sort_by(|a, b| rows[*a].entry.id.cmp(&rows[*b].entry.id));
    let mut podium = Vec::new();
    let mut entries = Vec::new();
    for i in order.iter().chain(others.iter()) {
        let r = &rows[*i];
        let is_ranked = r.rank.is_some();
        entries.push(EntryOutcome {
            entry_id: r.entry.id.clone(),
            member_id: r.entry.member_id.clone(),
            status: r.status,
            rank: r.rank,
            final_score: is_ranked.then_some(r.final_score),
            award: r.award.clone(),
            values: is_ranked.then(|| r.values.clone()),
            judges: r.judges,
        });
        if let Some(rank) = r.rank {
            podium.push(Placing {
                rank,
                entry_id: r.entry.id.clone(),
                member_id: r.entry.member_id.clone(),
                final_score: r.final_score,
                award: r.award.clone(),
            });
        }
    }
    let judge_stats = judge_stats(&valid);
    Ok(ContestResult {
        id: c.id.clone(),
        name: c.name.clone(),
        criteria: c.criteria.iter().map(|r| r.name.clone()).collect(),
        judged_criteria: judged(c).map(str::to_string).collect(),
        rejects,
        judges: judge_rows(c, &valid, &passed, &judge_stats),
        podium,
        entries,
        rejected_by_reason,
        judge_stats,
    })
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn sd(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let m = mean(v);
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64).sqrt()
}

/// Per entry, the z-scores its judges gave on one criterion (population sd; z = 0 when sd = 0).
fn zscores<'a>(valid: &[&'a Score], criterion: &str, passed: &BTreeSet<&str>) -> HashMap<&'a str, Vec<f64>> {
    let mut by_judge: BTreeMap<&str, Vec<&Score>> = BTreeMap::new();
    for s in valid
        .iter()
        .filter(|s| s.criterion == criterion && passed.contains(s.entry_id.as_str()))
    {
        by_judge.entry(s.judge_id.as_str()).or_default().push(s);
    }
    let mut out: HashMap<&str, Vec<f64>> = HashMap::new();
    for list in by_judge.values() {
        let xs: Vec<f64> = list.iter().map(|s| s.score).collect();
        let (m, d) = (mean(&xs), sd(&xs));
        for s in list {
            let z = if d.abs() < 1e-12 { 0.0 } else { (s.score - m) / d };
            out.entry(s.entry_id.as_str()).or_default().push(z);
        }
    }
    out
}

/// Each judge's valid scores: count, raw mean and spread, by judge id.
fn judge_stats(valid: &[&Score]) -> Vec<JudgeStats> {
    let mut by_judge: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for s in valid {
        by_judge.entry(s.judge_id.as_str()).or_default().push(s.score);
    }
    by_judge
        .into_iter()
        .map(|(j, xs)| JudgeStats {
            judge_id: j.to_string(),
            scores: xs.len(),
            mean_raw: mean(&xs),
            sd_raw: sd(&xs),
        })
        .collect()
}

/// The criteria judges score: those with a scale, in the rubric's order.
fn judged(c: &ContestPlan) -> impl Iterator<Item = &str> {
    c.criteria
        .iter()
        .filter(|r| matches!(r.source, CriterionSource::Scale(..)))
        .map(|r| r.name.as_str())
}

/// How lenient or harsh each judge was: raw mean and spread per criterion and overall,
/// and the mean z of their scores against the panel.
fn judge_rows(c: &ContestPlan, valid: &[&Score], passed: &BTreeSet<&str>, stats: &[JudgeStats]) -> Vec<JudgeRow> {
    // panel mean and sd per (entry, criterion): a judge's z is how far they sat from the panel
    let mut panel: HashMap<(&str, &str), Vec<f64>> = HashMap::new();
    for s in valid.iter().filter(|s| passed.contains(s.entry_id.as_str())) {
        panel
            .entry((s.entry_id.as_str(), s.criterion.as_str()))
            .or_default()
            .push(s.score);
    }
    let mut out = Vec::new();
    for j in stats {
        let mine: Vec<&&Score> = valid.iter().filter(|s| s.judge_id == j.judge_id).collect();
        let zs: Vec<f64> = mine
            .iter()
            .filter_map(|s| panel.get(&(s.entry_id.as_str(), s.criterion.as_str())))
            .zip(
                mine.iter()
                    .filter(|s| panel.contains_key(&(s.entry_id.as_str(), s.criterion.as_str()))),
            )
            .map(|(v, s)| {
                let d = sd(v);
                if d < 1e-12 {
                    0.0
                } else {
                    (s.score - mean(v)) / d
                }
            })
            .collect();
        let criteria = judged(c)
            .map(|cr| {
                let v: Vec<f64> = mine.iter().filter(|s| s.criterion == cr).map(|s| s.score).collect();
                let some = !v.is_empty();
                (v.len(), some.then(|| mean(&v)), some.then(|| sd(&v)))
            })
            .collect();
        out.push(JudgeRow {
            stats: j.clone(),
            mean_z: mean(&zs),
            criteria,
        });
    }
    out
}

/// SPEC §4: stored entries and judge scores of contest ids the pipeline does not have,
/// as one warning per source and id (from the store, so every run says the same).
pub fn unknown_contest_warnings(prog: &Program, ds: &Dataset) -> Vec<crate::diagnostics::Warning> {
    let known = |id: &str| prog.contests.iter().any(|c| c.id == id);
    let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for e in ds.entries.iter().filter(|e| !known(&e.contest_id)) {
        *counts.entry(("contest_entries", e.contest_id.as_str())).or_default() += 1;
    }
    for s in ds.scores.iter().filter(|s| !known(&s.contest_id)) {
        *counts.entry(("judge_scores", s.contest_id.as_str())).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((source, id), n)| crate::diagnostics::Warning::unknown_contest(source, n, id))
        .collect()
}
