//! `care_calendar.csv` (SPEC §11).
use crate::output::{date, p, t, Table};
use koc_engine::model::Dataset;
use koc_engine::stages::care::Occasion;
use koc_engine::stages::layers::LayerRow;

/// The table; `tier_names` and `en` give the sheets' detail (the CSV keeps
/// `silver -> gold`, `3 years`, a content id).
pub fn table(
    ds: &Dataset,
    list: &[Occasion],
    layer_at_d: &LayerRow,
    level_ids: &[String],
    tier_names: &[String],
    en: bool,
) -> Table {
    let mut tb = Table::new(
        "care_calendar",
        &["date", "member_id", "nickname", "layer", "occasion", "detail"],
    );
    for o in list {
        let m = &ds.members[o.member];
        let detail = tb.for_people(
            &o.detail,
            crate::output::report_outcomes::care_detail(o, tier_names, en),
        );
        tb.push(vec![
            date(o.day),
            t(&m.id),
            t(m.nickname.clone().unwrap_or_default()),
            t(layer_at_d[o.member].map(|l| level_ids[l].clone()).unwrap_or_default()),
            p(o.occasion.as_str()),
            detail,
        ]);
    }
    tb
}
