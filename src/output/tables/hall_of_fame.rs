//! `hall_of_fame.csv` (SPEC §14).
use crate::output::{count, opt_num, p, t, Table};
use koc_engine::model::Dataset;
use koc_engine::pipeline::config::Pipeline;
use koc_engine::stages::hall_of_fame::HallOfFame;

/// The table; the sheets' detail names the contest or layer (the CSV keeps the ids).
pub fn table(pipeline: &Pipeline, ds: &Dataset, fame: &HallOfFame) -> Table {
    let (seasons, rows) = (&fame.seasons, &fame.rows);
    let mut tb = Table::new(
        "hall_of_fame",
        &["season", "category", "rank", "member_id", "nickname", "value", "detail"],
    );
    for r in rows {
        let detail = tb.for_people(
            r.detail.text(),
            crate::output::report_growth::fame_detail(pipeline, &r.detail),
        );
        tb.push(vec![
            p(&seasons[r.season].name),
            p(r.category),
            count(r.rank),
            t(&r.member_id),
            t(ds.nickname(&r.member_id)),
            opt_num(r.value),
            detail,
        ]);
    }
    tb
}
