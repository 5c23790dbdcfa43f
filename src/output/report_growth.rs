//! The report's hall of fame (SPEC §14) and growth path (SPEC §15) sections: the
//! template context from the computed stages.
use crate::compute::Computed;
use crate::config::Pipeline;
use crate::fmt::fmt_num;
use crate::growth::Stage;
use crate::hall_of_fame::FameDetail;
use crate::model::Dataset;
use serde_json::{json, Value};

/// The current season and the one before it, each with its rows by category.
pub fn hall_of_fame(p: &Pipeline, ds: &Dataset, c: &Computed, labels: &Value) -> Value {
    let Some(fame) = &c.hall_of_fame else {
        return Value::Null;
    };
    let seasons: Vec<Value> = fame
        .seasons
        .iter()
        .enumerate()
        .rev()
        .take(2)
        .map(|(k, s)| {
            let categories: Vec<Value> = ["top_contributor", "contest_winner", "alumni_inducted"]
                .iter()
                .map(|cat| {
                    let rows: Vec<Value> = fame
                        .rows
                        .iter()
                        .filter(|r| r.season == k && r.category == *cat)
                        .map(|r| {
                            json!({"rank": r.rank.to_string(), "member_id": r.member_id,
                                "nickname": ds.nickname(&r.member_id), "value": r.value.map(fmt_num).unwrap_or_default(),
                                "detail": fame_detail(p, &r.detail)})
                        })
                        .collect();
                    json!({"id": cat, "label": labels["fame_category"][cat].as_str().unwrap_or(cat), "rows": rows})
                })
                .collect();
            json!({"season": s.name, "categories": categories})
        })
        .collect();
    json!({ "seasons": seasons })
}

/// A row's detail for people: the contest's name and the award, the layer's name.
fn fame_detail(p: &Pipeline, detail: &FameDetail) -> String {
    match detail {
        FameDetail::None => String::new(),
        FameDetail::Award { contest, award } => format!("{}: {award}", p.display_name(contest)),
        FameDetail::Layer(id) => p.display_name(id),
    }
}

/// Members per stage and per stage × layer, the mentor matches and the team proposals.
pub fn growth(p: &Pipeline, ds: &Dataset, c: &Computed, labels: &Value, layer_names: &[String]) -> Value {
    let Some(g) = &c.growth else { return Value::Null };
    let mut per_stage = [0u64; 4];
    let mut per_layer = vec![[0u64; 4]; c.level_ids.len()];
    for (i, _) in ds.table_members() {
        let Some(s) = &g.standings[i] else { continue };
        let k = s.stage as usize;
        per_stage[k] += 1;
        if let Some(l) = c.layer_at_d[i] {
            per_layer[l][k] += 1;
        }
    }
    // from the top of the path down: lead first
    let stages: Vec<Value> = Stage::ALL
        .iter()
        .rev()
        .map(|s| {
            json!({"id": s.id(), "label": labels["stage"][s.id()].as_str().unwrap_or(s.id()),
                "members": per_stage[*s as usize],
                "by_layer": per_layer.iter().map(|row| row[*s as usize]).collect::<Vec<_>>()})
        })
        .collect();
    let nick = |i: usize| ds.members[i].nickname.clone();
    let specialty = |i: usize| g.standings[i].as_ref().and_then(|s| s.specialty.clone());
    let matches: Option<Vec<Value>> = c.mentor_matches.as_ref().map(|list| {
        list.iter()
            .map(|m| {
                json!({"newcomer_id": ds.members[m.newcomer].id, "newcomer_nickname": nick(m.newcomer),
                    "newcomer_specialty": specialty(m.newcomer),
                    "mentor_id": m.mentor.map(|k| ds.members[k].id.clone()),
                    "mentor_nickname": m.mentor.and_then(nick), "mentor_specialty": m.mentor.and_then(specialty),
                    "same_specialty": m.mentor.is_some() && specialty(m.newcomer).is_some() && m.mentor.and_then(specialty) == specialty(m.newcomer)})
            })
            .collect()
    });
    let proposals: Option<Vec<Value>> = c.team_proposals.as_ref().map(|list| {
        list.iter()
            .map(|pr| {
                json!({"project": p.growth.as_ref().and_then(|g| g.projects.as_ref()).and_then(|ps| ps.iter().find(|x| x.id == pr.project)).and_then(|x| x.name.clone()).unwrap_or_else(|| pr.project.clone()), "role": pr.role,
                    "member_id": pr.member.map(|k| ds.members[k].id.clone()),
                    "nickname": pr.member.and_then(nick), "specialty": pr.member.and_then(specialty),
                    "layer": pr.member.and_then(|k| c.layer_at_d[k]).map(|l| layer_names[l].clone()),
                    "value": pr.value.map(crate::fmt::fmt_num)})
            })
            .collect()
    });
    json!({
        "stages": stages,
        "layers": layer_names,
        "chart": crate::charts::bars(&Stage::ALL.iter().rev().map(|s| (labels["stage"][s.id()].as_str().unwrap_or(s.id()).to_string(), per_stage[*s as usize] as f64)).collect::<Vec<_>>()),
        "matches": matches,
        "proposals": proposals,
    })
}
