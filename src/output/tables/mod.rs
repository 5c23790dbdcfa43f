//! The output tables (SPEC §5–§16) from the stages' typed results: one module per
//! stage, every value formatted here (CSV text) and typed for the sheets.
pub mod badges;
pub mod care;
pub mod contests;
pub mod goals;
pub mod growth;
pub mod hall_of_fame;
pub mod layers;
pub mod points;
pub mod scouting;
pub mod tiers;

use crate::output::Table;
use anyhow::Result;
use koc_engine::compute::Computed;
use koc_engine::model::Dataset;
use koc_engine::pipeline::program::Program;

/// Every output table of a run, by file stem, in the order they are written.
pub fn build(prog: &Program, ds: &Dataset, c: &Computed) -> Result<Tables> {
    let mut tables = Vec::new();
    each(prog, ds, c, &mut |t| {
        tables.push(t);
        Ok(())
    })?;
    Ok(Tables(tables))
}

/// Every output table of a run in the order they are written, each built and handed
/// to `take` before the next is built (a run of a million members writes one table
/// and drops it, rather than holding them all).
pub fn each(prog: &Program, ds: &Dataset, c: &Computed, take: &mut dyn FnMut(Table) -> Result<()>) -> Result<()> {
    let p = &prog.file().pipeline;
    let tier_q: Vec<Option<i64>> = c.tiers.iter().map(|t| t.as_ref().map(|s| s.q)).collect();
    take(points::balances(ds, &c.points, &c.facts, &tier_q))?;
    take(points::redemptions(ds, &c.points))?;
    if let Some(cfg) = &p.tiers {
        take(tiers::tiers(cfg, ds, &c.tiers, c.previous_snapshot))?;
        take(tiers::changes(cfg, ds, &c.tiers))?;
    }
    for t in layers::tables(ds, &c.history, &c.layer_at_d, &c.level_ids) {
        take(t)?;
    }
    take(scouting::table(p, ds, &c.newcomers))?;
    for contest in &c.contests {
        for t in contests::tables(ds, contest) {
            take(t)?;
        }
    }
    take(goals::goals_table(&c.goals))?;
    take(goals::trend_table(&c.goals))?;
    take(goals::incentives_table(&c.incentives))?;
    let tier_names = crate::output::report_sections::LevelNames::new(p).tiers;
    take(care::table(
        ds,
        &c.care,
        &c.layer_at_d,
        &c.level_ids,
        &tier_names,
        prog.locale.is_en(),
    ))?;
    if let Some(fame) = &c.hall_of_fame {
        take(hall_of_fame::table(p, ds, fame))?;
    }
    if let Some(g) = &c.growth {
        take(growth::table(ds, g, &c.layer_at_d, &c.level_ids))?;
        if let Some(list) = &c.mentor_matches {
            take(growth::matches_table(ds, g, list))?;
        }
        if let Some(list) = &c.team_proposals {
            take(growth::proposals_table(ds, g, list, &c.layer_at_d, &c.level_ids))?;
        }
    }
    if !prog.badges.is_empty() {
        take(badges::table(prog, ds, &c.badges))?;
    }
    Ok(())
}

/// A run's output tables, by file stem.
pub struct Tables(pub Vec<Table>);

impl Tables {
    pub fn get(&self, name: &str) -> Option<&Table> {
        self.0.iter().find(|t| t.name == name)
    }
}
