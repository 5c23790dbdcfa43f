//! `badges.csv` (SPEC §16).
use crate::output::{date, p, t, Table};
use koc_engine::model::Dataset;
use koc_engine::pipeline::program::Program;
use koc_engine::stages::badges::Award;

/// badges.csv: every award, in the stage's order (awarded_on, badge_id, member_id).
pub fn table(prog: &Program, ds: &Dataset, awards: &[Award]) -> Table {
    let mut tb = Table::new(
        "badges",
        &[
            "member_id",
            "nickname",
            "badge_id",
            "name",
            "grade",
            "awarded_on",
            "event_id",
        ],
    );
    for a in awards {
        let m = &ds.members[a.member];
        let b = &prog.badges[a.badge];
        tb.push(vec![
            t(&m.id),
            t(m.nickname.clone().unwrap_or_default()),
            t(&b.id),
            t(&b.name),
            p(b.grade.as_str()),
            date(a.day),
            t(&a.event_id),
        ]);
    }
    tb
}
