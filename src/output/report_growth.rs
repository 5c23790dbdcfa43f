//! The report's hall of fame (SPEC §14) and growth path (SPEC §15) sections: the
//! template context from the computed stages.
use crate::output::report::{as_text, label_of};
use koc_engine::compute::Computed;
use koc_engine::fmt::fmt_num;
use koc_engine::model::Dataset;
use koc_engine::pipeline::config::Pipeline;
use koc_engine::stages::growth::Stage;
use koc_engine::stages::hall_of_fame::FameDetail;
use serde::Serialize;
use serde_json::Value;

/// The current season and the one before it.
#[derive(Debug, Clone, Serialize)]
pub struct HallOfFame {
    pub seasons: Vec<FameSeason>,
}

/// A season's rows by category.
#[derive(Debug, Clone, Serialize)]
pub struct FameSeason {
    pub season: String,
    pub categories: Vec<FameCategory>,
}

/// One category of a season (top contributors, contest winners, inductees).
#[derive(Debug, Clone, Serialize)]
pub struct FameCategory {
    pub id: &'static str,
    pub label: String,
    pub rows: Vec<FameRow>,
}

/// A row of hall_of_fame.csv for people.
#[derive(Debug, Clone, Serialize)]
pub struct FameRow {
    #[serde(serialize_with = "as_text")]
    pub rank: usize,
    pub member_id: String,
    pub nickname: String,
    pub value: String,
    pub detail: String,
}

/// Members per stage and per stage × layer, the mentor matches and team proposals.
#[derive(Debug, Clone, Serialize)]
pub struct Growth {
    /// From the top of the path down: lead first.
    pub stages: Vec<StageRow>,
    /// The layers' names, the columns of `by_layer`.
    pub layers: Vec<String>,
    pub chart: String,
    /// None without a mentoring section.
    pub matches: Option<Vec<MatchRow>>,
    /// None without a projects section.
    pub proposals: Option<Vec<ProposalRow>>,
}

/// A growth stage with its members, in all and per layer.
#[derive(Debug, Clone, Serialize)]
pub struct StageRow {
    pub id: &'static str,
    pub label: String,
    pub members: u64,
    pub by_layer: Vec<u64>,
}

/// A flagged newcomer and the mentor proposed (none: no mentor was free).
#[derive(Debug, Clone, Serialize)]
pub struct MatchRow {
    pub newcomer_id: String,
    pub newcomer_nickname: Option<String>,
    pub newcomer_specialty: Option<String>,
    pub mentor_id: Option<String>,
    pub mentor_nickname: Option<String>,
    pub mentor_specialty: Option<String>,
    pub same_specialty: bool,
}

/// A project role and the member proposed for it (none: a gap).
#[derive(Debug, Clone, Serialize)]
pub struct ProposalRow {
    pub project: String,
    pub role: String,
    pub member_id: Option<String>,
    pub nickname: Option<String>,
    pub specialty: Option<String>,
    pub layer: Option<String>,
    pub value: Option<String>,
}

/// The current season and the one before it, each with its rows by category.
pub fn hall_of_fame(p: &Pipeline, ds: &Dataset, c: &Computed, t: &Value) -> Option<HallOfFame> {
    let fame = c.hall_of_fame.as_ref()?;
    let seasons = fame
        .seasons
        .iter()
        .enumerate()
        .rev()
        .take(2)
        .map(|(k, s)| FameSeason {
            season: s.name.clone(),
            categories: ["top_contributor", "contest_winner", "alumni_inducted"]
                .into_iter()
                .map(|cat| FameCategory {
                    id: cat,
                    label: label_of(t, "fame_category", cat).to_string(),
                    rows: fame
                        .rows
                        .iter()
                        .filter(|r| r.season == k && r.category == cat)
                        .map(|r| FameRow {
                            rank: r.rank,
                            member_id: r.member_id.clone(),
                            nickname: ds.nickname(&r.member_id),
                            value: r.value.map(fmt_num).unwrap_or_default(),
                            detail: fame_detail(p, &r.detail),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    Some(HallOfFame { seasons })
}

/// A row's detail for people: the contest's name and the award, the layer's name.
pub(crate) fn fame_detail(p: &Pipeline, detail: &FameDetail) -> String {
    match detail {
        FameDetail::None => String::new(),
        FameDetail::Award { contest, award } => format!("{}: {award}", p.display_name(contest)),
        FameDetail::Layer(id) => p.display_name(id),
    }
}

/// Members per stage and per stage × layer, the mentor matches and the team proposals.
pub fn growth(p: &Pipeline, ds: &Dataset, c: &Computed, t: &Value, layer_names: &[String]) -> Option<Growth> {
    let g = c.growth.as_ref()?;
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
    let stages: Vec<StageRow> = Stage::ALL
        .iter()
        .rev()
        .map(|s| StageRow {
            id: s.id(),
            label: label_of(t, "stage", s.id()).to_string(),
            members: per_stage[*s as usize],
            by_layer: per_layer.iter().map(|row| row[*s as usize]).collect(),
        })
        .collect();
    let nick = |i: usize| ds.members[i].nickname.clone();
    let specialty = |i: usize| g.standings[i].as_ref().and_then(|s| s.specialty.clone());
    let matches = c.mentor_matches.as_ref().map(|list| {
        list.iter()
            .map(|m| {
                let (mine, mentors) = (specialty(m.newcomer), m.mentor.and_then(specialty));
                // compared as ids, shown as names
                let same_specialty = mine.is_some() && mine == mentors;
                let (mine, mentors) = (mine.map(|s| p.display_name(&s)), mentors.map(|s| p.display_name(&s)));
                MatchRow {
                    newcomer_id: ds.members[m.newcomer].id.clone(),
                    newcomer_nickname: nick(m.newcomer),
                    same_specialty,
                    newcomer_specialty: mine,
                    mentor_id: m.mentor.map(|k| ds.members[k].id.clone()),
                    mentor_nickname: m.mentor.and_then(nick),
                    mentor_specialty: mentors,
                }
            })
            .collect()
    });
    let project_name = |id: &str| {
        p.growth
            .as_ref()
            .and_then(|g| g.projects.as_ref())
            .and_then(|ps| ps.iter().find(|x| x.id == id))
            .and_then(|x| x.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let proposals = c.team_proposals.as_ref().map(|list| {
        list.iter()
            .map(|pr| ProposalRow {
                project: project_name(&pr.project),
                role: p.display_name(&pr.role),
                member_id: pr.member.map(|k| ds.members[k].id.clone()),
                nickname: pr.member.and_then(nick),
                specialty: pr.member.and_then(specialty).map(|s| p.display_name(&s)),
                layer: pr.member.and_then(|k| c.layer_at_d[k]).map(|l| layer_names[l].clone()),
                value: pr.value.map(fmt_num),
            })
            .collect()
    });
    let chart = crate::output::charts::bars(
        &stages
            .iter()
            .map(|s| (s.label.clone(), s.members as f64))
            .collect::<Vec<_>>(),
    );
    Some(Growth {
        stages,
        layers: layer_names.to_vec(),
        chart,
        matches,
        proposals,
    })
}
