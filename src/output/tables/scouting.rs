//! `newcomers.csv` (SPEC §8).
use crate::output::{boolean, count, num, t, Table};
use koc_engine::model::Dataset;
use koc_engine::pipeline::config::Pipeline;
use koc_engine::stages::scouting::Candidate;

pub fn table(pl: &Pipeline, ds: &Dataset, cands: &[Candidate]) -> Table {
    let features: Vec<String> = pl
        .scouting
        .as_ref()
        .map(|s| s.features.iter().map(|f| f.metric.clone()).collect())
        .unwrap_or_default();
    let mut cols: Vec<String> = [
        "member_id",
        "nickname",
        "score",
        "rank",
        "flagged",
        "reasons",
        "specialty",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    cols.extend(features);
    let mut tb = Table::with_columns("newcomers", cols);
    for c in cands {
        let m = &ds.members[c.member];
        let mut row = vec![
            t(&m.id),
            t(m.nickname.clone().unwrap_or_default()),
            num(c.score),
            count(c.rank),
            boolean(c.flagged),
            t(&c.reasons),
            t(c.specialty.clone().unwrap_or_default()),
        ];
        row.extend(c.values.iter().map(|v| num(*v)));
        tb.push(row);
    }
    tb
}
