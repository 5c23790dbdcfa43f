//! `contest_<id>.csv`, `contest_<id>_rejects.csv` and `contest_<id>_judges.csv` (SPEC §9).
use crate::output::{count, empty, num, opt_num, p, t, Table};
use koc_engine::model::Dataset;
use koc_engine::stages::contests::ContestResult;

/// The contest's three tables, in the order they are written.
pub fn tables(ds: &Dataset, c: &ContestResult) -> [Table; 3] {
    [entries(ds, c), rejects(c), judges(c)]
}

fn entries(ds: &Dataset, c: &ContestResult) -> Table {
    let mut cols: Vec<String> = ["entry_id", "member_id", "nickname", "status", "final", "rank", "award"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    cols.extend(c.criteria.iter().cloned());
    cols.push("judges".into());
    let mut tb = Table::with_columns(&format!("contest_{}", c.id), cols);
    for e in &c.entries {
        let mut row = vec![
            t(&e.entry_id),
            t(&e.member_id),
            t(ds.nickname(&e.member_id)),
            p(e.status.as_str()),
            opt_num(e.final_score),
            e.rank.map(count).unwrap_or_else(empty),
            t(&e.award),
        ];
        match &e.values {
            Some(values) => row.extend(values.iter().map(|v| num(*v))),
            None => row.extend(c.criteria.iter().map(|_| empty())),
        }
        row.push(count(e.judges));
        tb.push(row);
    }
    tb
}

fn rejects(c: &ContestResult) -> Table {
    let mut tb = Table::new(
        &format!("contest_{}_rejects", c.id),
        &["contest_id", "entry_id", "judge_id", "criterion", "score", "reason"],
    );
    for r in &c.rejects {
        tb.push(vec![
            t(&r.contest_id),
            t(&r.entry_id),
            t(&r.judge_id),
            t(&r.criterion),
            num(r.score),
            p(r.reason),
        ]);
    }
    tb
}

fn judges(c: &ContestResult) -> Table {
    let mut cols: Vec<String> = ["judge_id", "scores", "mean_raw", "sd_raw", "mean_z"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for cr in &c.judged_criteria {
        cols.extend([format!("{cr}_scores"), format!("{cr}_mean_raw"), format!("{cr}_sd_raw")]);
    }
    let mut tb = Table::with_columns(&format!("contest_{}_judges", c.id), cols);
    for j in &c.judges {
        let mut row = vec![
            t(&j.stats.judge_id),
            count(j.stats.scores),
            num(j.stats.mean_raw),
            num(j.stats.sd_raw),
            num(j.mean_z),
        ];
        for (scores, mean, sd) in &j.criteria {
            row.extend([count(*scores), opt_num(*mean), opt_num(*sd)]);
        }
        tb.push(row);
    }
    tb
}
