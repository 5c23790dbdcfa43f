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
    let mut tables: Vec<Table> = Vec::new();
    let mut open = false;
    each(prog, ds, c, &mut |t, more| {
        match tables.last_mut().filter(|_| open) {
            Some(last) => last.append(t),
            None => tables.push(t),
        }
        open = more;
        Ok(())
    })?;
    Ok(Tables(tables))
}

/// Awards per piece of `badges.csv` (a million members earn several each: built whole,
/// the table alone took about 2 GB).
const BADGE_PIECE: usize = 100_000;

/// Every output table of a run in the order they are written, each built and handed
/// to `take` before the next is built (a run of a million members writes one table
/// and drops it, rather than holding them all). The largest come in pieces: `take`'s
/// `more` says that the next call brings more rows of the same table.
pub fn each(prog: &Program, ds: &Dataset, c: &Computed, take: &mut dyn FnMut(Table, bool) -> Result<()>) -> Result<()> {
    let p = &prog.file().pipeline;
    let tier_q: Vec<Option<i64>> = c.tiers.iter().map(|t| t.as_ref().map(|s| s.q)).collect();
    take(points::balances(ds, &c.points, &c.facts, &tier_q), false)?;
    take(points::redemptions(ds, &c.points), false)?;
    if let Some(cfg) = &p.tiers {
        take(tiers::tiers(cfg, ds, &c.tiers, c.previous_snapshot), false)?;
        take(tiers::changes(cfg, ds, &c.tiers), false)?;
    }
    layers::each(ds, &c.history, &c.layer_at_d, &c.level_ids, take)?;
    take(scouting::table(p, ds, &c.newcomers), false)?;
    for contest in &c.contests {
        for t in contests::tables(ds, contest) {
            take(t, false)?;
        }
    }
    take(goals::goals_table(&c.goals), false)?;
    take(goals::trend_table(&c.goals), false)?;
    take(goals::incentives_table(&c.incentives), false)?;
    let tier_names = crate::output::report_sections::LevelNames::new(p).tiers;
    take(
        care::table(
            ds,
            &c.care,
            &c.layer_at_d,
            &c.level_ids,
            &tier_names,
            prog.locale.is_en(),
        ),
        false,
    )?;
    if let Some(fame) = &c.hall_of_fame {
        take(hall_of_fame::table(p, ds, fame), false)?;
    }
    if let Some(g) = &c.growth {
        take(growth::table(ds, g, &c.layer_at_d, &c.level_ids), false)?;
        if let Some(list) = &c.mentor_matches {
            take(growth::matches_table(ds, g, list), false)?;
        }
        if let Some(list) = &c.team_proposals {
            take(growth::proposals_table(ds, g, list, &c.layer_at_d, &c.level_ids), false)?;
        }
    }
    if !prog.badges.is_empty() {
        in_pieces(
            &c.badges,
            BADGE_PIECE,
            &mut |awards| badges::table(prog, ds, awards),
            take,
        )?;
    }
    Ok(())
}

/// One table built from `items` a piece of `size` at a time, each piece handed to
/// `take` with whether more follow (no items: one empty piece, so the table's file
/// and sheet exist with their header).
pub fn in_pieces<T>(
    items: &[T],
    size: usize,
    build: &mut dyn FnMut(&[T]) -> Table,
    take: &mut dyn FnMut(Table, bool) -> Result<()>,
) -> Result<()> {
    if items.is_empty() {
        return take(build(&[]), false);
    }
    let mut pieces = items.chunks(size.max(1)).peekable();
    while let Some(piece) = pieces.next() {
        take(build(piece), pieces.peek().is_some())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces of `size` items, all but the last saying more follow; no items is one
    /// empty piece (the table's header is still written).
    #[test]
    fn items_come_in_pieces() {
        let mut seen: Vec<(Vec<i32>, bool)> = Vec::new();
        let mut build = |items: &[i32]| {
            let mut tb = Table::new("x", &["n"]);
            for i in items {
                tb.push(vec![crate::output::int(*i)]);
            }
            tb
        };
        let mut take = |tb: Table, more: bool| {
            let ns = tb.rows.iter().map(|r| r[0].as_str().parse().unwrap()).collect();
            seen.push((ns, more));
            Ok(())
        };
        in_pieces(&[1, 2, 3, 4, 5], 2, &mut build, &mut take).unwrap();
        in_pieces(&[], 2, &mut build, &mut take).unwrap();
        in_pieces(&[6, 7], 2, &mut build, &mut take).unwrap();
        assert_eq!(
            seen,
            [
                (vec![1, 2], true),
                (vec![3, 4], true),
                (vec![5], false),
                (vec![], false),
                (vec![6, 7], false),
            ]
        );
    }
}
