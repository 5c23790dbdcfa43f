//! `growth.csv`, `mentor_matches.csv` and `team_proposals.csv` (SPEC §15).
use crate::output::{boolean, count, empty, opt_num, p, t, Table};
use koc_engine::model::Dataset;
use koc_engine::stages::growth::Growth;
use koc_engine::stages::growth_plan::{Match, Proposal};
use koc_engine::stages::layers::LayerRow;

/// `growth.csv`: every known member.
pub fn table(ds: &Dataset, g: &Growth, layer_at_d: &LayerRow, level_ids: &[String]) -> Table {
    let mut tb = Table::new(
        "growth",
        &[
            "member_id",
            "nickname",
            "layer",
            "stage",
            "specialty",
            "completed_teams",
            "active_mentees",
            "mentor_id",
        ],
    );
    for (i, m) in ds.table_members() {
        let Some(s) = &g.standings[i] else { continue };
        tb.push(vec![
            t(&m.id),
            t(m.nickname.clone().unwrap_or_default()),
            t(layer_at_d[i].map(|l| level_ids[l].clone()).unwrap_or_default()),
            p(s.stage.id()),
            t(s.specialty.clone().unwrap_or_default()),
            count(s.completed_teams),
            count(s.active_mentees),
            t(s.mentor_id.clone().unwrap_or_default()),
        ]);
    }
    tb
}

pub fn matches_table(ds: &Dataset, g: &Growth, list: &[Match]) -> Table {
    let mut tb = Table::new(
        "mentor_matches",
        &[
            "newcomer_id",
            "newcomer_nickname",
            "newcomer_specialty",
            "mentor_id",
            "mentor_nickname",
            "mentor_specialty",
            "same_specialty",
        ],
    );
    let specialty = |i: usize| {
        g.standings[i]
            .as_ref()
            .and_then(|s| s.specialty.clone())
            .unwrap_or_default()
    };
    for m in list {
        let n = &ds.members[m.newcomer];
        let mut row = vec![
            t(&n.id),
            t(n.nickname.clone().unwrap_or_default()),
            t(specialty(m.newcomer)),
        ];
        match m.mentor {
            Some(k) => {
                let same = !specialty(m.newcomer).is_empty() && specialty(k) == specialty(m.newcomer);
                row.extend([
                    t(&ds.members[k].id),
                    t(ds.members[k].nickname.clone().unwrap_or_default()),
                    t(specialty(k)),
                    boolean(same),
                ]);
            }
            None => row.extend([t(""), t(""), t(""), boolean(false)]),
        }
        tb.push(row);
    }
    tb
}

pub fn proposals_table(
    ds: &Dataset,
    g: &Growth,
    list: &[Proposal],
    layer_at_d: &LayerRow,
    level_ids: &[String],
) -> Table {
    let mut tb = Table::new(
        "team_proposals",
        &[
            "project_id",
            "role",
            "member_id",
            "nickname",
            "specialty",
            "layer",
            "value",
        ],
    );
    for pr in list {
        let mut row = vec![t(&pr.project), t(&pr.role)];
        match pr.member {
            Some(i) => {
                let m = &ds.members[i];
                row.extend([
                    t(&m.id),
                    t(m.nickname.clone().unwrap_or_default()),
                    t(g.standings[i]
                        .as_ref()
                        .and_then(|s| s.specialty.clone())
                        .unwrap_or_default()),
                    t(layer_at_d[i].map(|l| level_ids[l].clone()).unwrap_or_default()),
                    opt_num(pr.value),
                ]);
            }
            None => row.extend([t(""), t(""), t(""), t(""), empty()]),
        }
        tb.push(row);
    }
    tb
}
