//! Layers (SPEC §7): snapshots at month ends and at D, first matching level from
//! the top, sticky floors, overrides; movements against the previous snapshot.
use crate::fmt::{date_of, day_of, Day};
use crate::model::Dataset;
use crate::pipeline::expr::{self, SqlExpr};
use crate::pipeline::program::{Place, Program};
use crate::stages::metrics::{self, Metric};
use crate::stages::tiers::TierState;
use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use rayon::prelude::*;
use std::collections::HashMap;

/// A built-in metric: its name and its value per member at the snapshot.
type Builtin<'b> = (&'static str, Box<dyn Fn(usize) -> f64 + 'b>);

/// Layer index per member at one snapshot (None: not evaluated — joined later).
pub type LayerRow = Vec<Option<usize>>;

/// What a snapshot evaluation needs from the other stages.
pub struct Inputs<'a> {
    pub awarded: &'a [i64],
    pub tiers: &'a [Option<TierState>],
    /// Balance per member at a day (the days the points stage was asked for).
    pub balance_days: &'a [Day],
    pub balance_at: &'a [Vec<i64>],
}

pub struct Engine<'a> {
    pub ds: &'a Dataset,
    pub inputs: Inputs<'a>,
    pub metrics: Vec<Metric>,
    pub level_ids: Vec<String>,
    whens: Vec<Option<SqlExpr>>,
    default: usize,
    sticky: Vec<bool>,
    overrides: HashMap<usize, Vec<(Day, Option<Day>, usize)>>,
    /// Regular snapshots (month ends before D) and their layers.
    pub history: Vec<(Day, LayerRow)>,
}

/// Month ends ≥ program.start and < D (SPEC §7), in order.
pub fn regular_snapshots(start: Day, as_of: Day) -> Vec<Day> {
    let mut out = Vec::new();
    let s = date_of(start);
    let (mut y, mut m) = (s.year(), s.month());
    loop {
        let next_first = if m == 12 {
            NaiveDate::from_ymd_opt(y + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(y, m + 1, 1)
        };
        let Some(next_first) = next_first else { break };
        let end = day_of(next_first) - 1;
        if end >= as_of {
            break;
        }
        if end >= start {
            out.push(end);
        }
        (y, m) = (next_first.year(), next_first.month());
    }
    out
}

impl<'a> Engine<'a> {
    pub fn new(prog: &Program, ds: &'a Dataset, inputs: Inputs<'a>) -> Result<Engine<'a>> {
        let metrics = metrics::compile(prog, ds, inputs.awarded)?;
        let cfg = prog
            .layers
            .as_ref()
            .ok_or_else(|| crate::error::usage_err("the pipeline has no layers section"))?;
        let whens = (0..cfg.ids.len())
            .map(|i| prog.conditions.get(&Place::Level(i)).cloned())
            .collect();
        let level_ids: Vec<String> = cfg.ids.clone();
        let default = cfg.default;
        let mut overrides: HashMap<usize, Vec<(Day, Option<Day>, usize)>> = HashMap::new();
        for o in &ds.overrides {
            if let (Some(m), Some(l)) = (ds.index.get(&o.member_id), level_ids.iter().position(|x| *x == o.layer)) {
                overrides.entry(*m).or_default().push((o.from, o.until, l));
            }
        }
        for v in overrides.values_mut() {
            v.sort_by_key(|(from, _, _)| std::cmp::Reverse(*from)); // the later `from` wins
        }
        let sticky = cfg.sticky.clone();
        Ok(Engine {
            ds,
            inputs,
            metrics,
            level_ids,
            whens,
            default,
            sticky,
            overrides,
            history: Vec::new(),
        })
    }

    /// Evaluate every regular snapshot before D, in order, keeping the history.
    pub fn run_regular(&mut self, start: Day) -> Result<()> {
        for s in regular_snapshots(start, self.ds.as_of) {
            let (row, _) = self.evaluate(s)?;
            self.history.push((s, row));
        }
        Ok(())
    }

    /// The layers at `s` with the history of the regular snapshots before it, and the
    /// frame of metrics the conditions ran on (rows: members evaluated, in member order).
    pub fn evaluate(&self, s: Day) -> Result<(LayerRow, Snapshot)> {
        let members: Vec<usize> = (0..self.ds.members.len())
            .filter(|m| self.ds.members[*m].joined <= s)
            .collect();
        let e = self.evaluate_members(s, members)?;
        Ok((e.row, e.snapshot))
    }

    /// `evaluate` for some members only, with each level's match and what decided the
    /// layer (`koc explain` asks for one member).
    pub fn evaluate_members(&self, s: Day, members: Vec<usize>) -> Result<Evaluation> {
        let ds = self.ds;
        let prior: Vec<&LayerRow> = self.history.iter().filter(|(d, _)| *d < s).map(|(_, r)| r).collect();
        let mut numeric: Vec<(String, Vec<f64>)> = Vec::new();
        for m in &self.metrics {
            // each member's value depends on its own events only: parallel and deterministic
            let v: Vec<f64> = members
                .par_iter()
                .map(|i| metrics::value(ds, self.inputs.awarded, m, *i, s))
                .collect();
            numeric.push((m.name.clone(), v));
        }
        let balance_slot = self.inputs.balance_days.iter().position(|d| *d == s);
        let builtins: [Builtin; 4] = [
            ("tenure_days", Box::new(|i| (s - ds.members[i].joined) as f64)),
            (
                "days_since_active",
                Box::new(|i| match metrics::last_active(ds, i, s) {
                    Some(d) => (s - d) as f64,
                    None => (s - ds.members[i].joined) as f64,
                }),
            ),
            (
                "balance",
                Box::new(|i| balance_slot.map(|k| self.inputs.balance_at[i][k] as f64).unwrap_or(0.0)),
            ),
            (
                "tier_rank",
                Box::new(|i| {
                    self.inputs
                        .tiers
                        .get(i)
                        .and_then(|t| t.as_ref())
                        .and_then(|t| t.tier_at(s))
                        .unwrap_or(0) as f64
                }),
            ),
        ];
        for (name, f) in &builtins {
            numeric.push((name.to_string(), members.iter().map(|i| f(*i)).collect()));
        }
        let mut ever = vec![vec![false; members.len()]; self.level_ids.len()];
        for (k, i) in members.iter().enumerate() {
            for row in &prior {
                if let Some(l) = row[*i] {
                    ever[l][k] = true;
                }
            }
        }
        let flags = self
            .level_ids
            .iter()
            .map(|id| format!("ever_{id}"))
            .zip(ever.iter().cloned())
            .collect();
        let snapshot = Snapshot::assemble(members, numeric, flags)?;
        let masks = expr::eval_masks(
            &self.whens.iter().map(Option::as_ref).collect::<Vec<_>>(),
            &snapshot.frame,
        )?;
        let members = &snapshot.members;
        let mut row: LayerRow = vec![None; ds.members.len()];
        let mut by = Vec::with_capacity(members.len());
        for (k, &i) in members.iter().enumerate() {
            let rule = masks.iter().position(|m| m.as_ref().is_some_and(|m| m[k]));
            let matched = rule.unwrap_or(self.default);
            let mut decided = if rule.is_some() { By::Rule } else { By::Default };
            // the highest sticky layer held at an earlier snapshot is a floor
            let floor = (0..self.level_ids.len()).find(|l| self.sticky[*l] && ever[*l][k]);
            let mut layer = match floor {
                Some(f) if f < matched => {
                    decided = By::Sticky;
                    f
                }
                _ => matched,
            };
            if let Some(list) = self.overrides.get(&i) {
                if let Some((_, _, l)) = list
                    .iter()
                    .find(|(from, until, _)| *from <= s && until.is_none_or(|u| s <= u))
                {
                    layer = *l;
                    decided = By::Override;
                }
            }
            row[i] = Some(layer);
            by.push(decided);
        }
        Ok(Evaluation {
            row,
            snapshot,
            masks,
            by,
        })
    }

    /// The layer of every member at any date (goals, §10): a regular snapshot's
    /// stored row, or one more evaluation with the history before it.
    pub fn layer_at(&self, s: Day) -> Result<LayerRow> {
        if let Some((_, row)) = self.history.iter().find(|(d, _)| *d == s) {
            return Ok(row.clone());
        }
        Ok(self.evaluate(s)?.0)
    }
}

/// What put a member in their layer at a snapshot (SPEC §13 `by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Rule,
    Default,
    Sticky,
    Override,
}

impl By {
    pub fn as_str(self) -> &'static str {
        match self {
            By::Rule => "rule",
            By::Default => "default",
            By::Sticky => "sticky",
            By::Override => "override",
        }
    }
}

/// One snapshot evaluated: the layers, the metric frame, each level's match per
/// evaluated member (None: the level has no `when`) and what decided each layer.
pub struct Evaluation {
    pub row: LayerRow,
    pub snapshot: Snapshot,
    pub masks: Vec<Option<Vec<bool>>>,
    pub by: Vec<By>,
}

/// The metric frame of one snapshot.
#[derive(Clone)]
pub struct Snapshot {
    pub members: Vec<usize>,
    pub frame: DataFrame,
    pub values: HashMap<String, Vec<f64>>,
}

impl Snapshot {
    /// The frame the conditions run on, one row per member of `members`: the numeric
    /// columns (metrics, then the built-ins) and the flags (`ever_<layer>`), in order.
    pub fn assemble(
        members: Vec<usize>,
        numeric: Vec<(String, Vec<f64>)>,
        flags: Vec<(String, Vec<bool>)>,
    ) -> Result<Snapshot> {
        let mut cols: Vec<Column> = Vec::with_capacity(numeric.len() + flags.len());
        for (name, v) in &numeric {
            cols.push(expr::num_col(name, v.iter().map(|x| Some(*x)).collect()));
        }
        for (name, v) in flags {
            cols.push(expr::bool_col(&name, v));
        }
        Ok(Snapshot {
            members,
            frame: expr::frame(cols)?,
            values: numeric.into_iter().collect(),
        })
    }
}

/// layers.csv rows and movements, from the history and the row at D.
pub struct LayerResult {
    pub at_d: LayerRow,
    pub since: Vec<Option<Day>>,
    pub previous: LayerRow,
    pub has_previous: bool,
}

pub fn summarize(history: &[(Day, LayerRow)], at_d: &LayerRow, as_of: Day) -> LayerResult {
    let n = at_d.len();
    let mut since = vec![None; n];
    for m in 0..n {
        let Some(l) = at_d[m] else { continue };
        let mut first = as_of;
        for (d, row) in history.iter().rev() {
            if row[m] == Some(l) {
                first = *d;
            } else {
                break;
            }
        }
        since[m] = Some(first);
    }
    let (previous, has_previous) = match history.last() {
        Some((_, row)) => (row.clone(), true),
        None => (vec![None; n], false),
    };
    LayerResult {
        at_d: at_d.clone(),
        since,
        previous,
        has_previous,
    }
}

pub fn moved(prev: Option<usize>, now: usize) -> &'static str {
    match prev {
        None => "new",
        Some(p) if now < p => "up",
        Some(p) if now > p => "down",
        _ => "same",
    }
}

/// One cell of layer_movements.csv: the members in layer `to` at D that were in
/// `from` at the previous regular snapshot (None: not in a layer then, `(new)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Movement {
    pub from: Option<usize>,
    pub to: usize,
    pub members: u64,
}

/// The members per (layer at the previous snapshot, layer at D): `(new)` first, then
/// the levels from the top.
pub fn movements(ds: &Dataset, history: &[(Day, LayerRow)], at_d: &LayerRow) -> Vec<Movement> {
    let previous = history.last().map(|(_, row)| row);
    let mut pairs: std::collections::BTreeMap<(Option<usize>, usize), u64> = Default::default();
    for (i, _) in ds.table_members() {
        if let Some(to) = at_d[i] {
            *pairs.entry((previous.and_then(|row| row[i]), to)).or_insert(0) += 1;
        }
    }
    pairs
        .into_iter()
        .map(|((from, to), members)| Movement { from, to, members })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_month_ends_before_d() {
        let d = |y, m, dd| day_of(NaiveDate::from_ymd_opt(y, m, dd).unwrap());
        let s = regular_snapshots(d(2025, 1, 1), d(2025, 3, 31));
        assert_eq!(s, vec![d(2025, 1, 31), d(2025, 2, 28)]);
        // D on a month end: that month end is D, not a regular snapshot
        let s = regular_snapshots(d(2025, 1, 15), d(2025, 2, 1));
        assert_eq!(s, vec![d(2025, 1, 31)]);
    }
}
