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
use koc_engine::compute::Computed;
use koc_engine::model::Dataset;
use koc_engine::pipeline::program::Program;

/// Every output table of a run, by file stem, in the order they are written.
pub fn build(prog: &Program, ds: &Dataset, c: &Computed) -> Tables {
    let p = &prog.file().pipeline;
    let mut tables = Vec::new();
    let tier_q: Vec<Option<i64>> = c.tiers.iter().map(|t| t.as_ref().map(|s| s.q)).collect();
    tables.push(points::balances(ds, &c.points, &c.facts, &tier_q));
    tables.push(points::redemptions(ds, &c.points));
    if let Some(cfg) = &p.tiers {
        tables.push(tiers::tiers(cfg, ds, &c.tiers, c.previous_snapshot));
        tables.push(tiers::changes(cfg, ds, &c.tiers));
    }
    tables.extend(layers::tables(ds, &c.history, &c.layer_at_d, &c.level_ids));
    tables.push(scouting::table(p, ds, &c.newcomers));
    for contest in &c.contests {
        tables.extend(contests::tables(ds, contest));
    }
    tables.push(goals::goals_table(&c.goals));
    tables.push(goals::trend_table(&c.goals));
    tables.push(goals::incentives_table(&c.incentives));
    let tier_names = crate::output::report_sections::LevelNames::new(p).tiers;
    tables.push(care::table(
        ds,
        &c.care,
        &c.layer_at_d,
        &c.level_ids,
        &tier_names,
        prog.locale.is_en(),
    ));
    if let Some(fame) = &c.hall_of_fame {
        tables.push(hall_of_fame::table(p, ds, fame));
    }
    if let Some(g) = &c.growth {
        tables.push(growth::table(ds, g, &c.layer_at_d, &c.level_ids));
        if let Some(list) = &c.mentor_matches {
            tables.push(growth::matches_table(ds, g, list));
        }
        if let Some(list) = &c.team_proposals {
            tables.push(growth::proposals_table(ds, g, list, &c.layer_at_d, &c.level_ids));
        }
    }
    if !prog.badges.is_empty() {
        tables.push(badges::table(prog, ds, &c.badges));
    }
    Tables(tables)
}

/// A run's output tables, by file stem.
pub struct Tables(pub Vec<Table>);

impl Tables {
    pub fn get(&self, name: &str) -> Option<&Table> {
        self.0.iter().find(|t| t.name == name)
    }
}
