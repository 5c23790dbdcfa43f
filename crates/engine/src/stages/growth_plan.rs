//! The growth path made operable (SPEC §15): mentors proposed for flagged newcomers
//! and members proposed for the roles of new project teams.
use crate::model::Dataset;
use crate::pipeline::plans::{MentoringPlan, ProjectPlan};
use crate::stages::growth::{Growth, Stage};
use crate::stages::layers::{LayerRow, Snapshot};
use crate::stages::scouting::Candidate;

/// One flagged newcomer and the mentor proposed (None: no mentor left).
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub newcomer: usize,
    pub mentor: Option<usize>,
}

/// Mentors for the flagged newcomers with no active mentor, in rank order.
pub fn match_mentors(
    ds: &Dataset,
    g: &Growth,
    cfg: &MentoringPlan,
    newcomers: &[Candidate],
    layer_at_d: &LayerRow,
) -> Vec<Match> {
    // mentors: stage lead, or a layer at D in mentor_layers; load = active mentees
    let mut mentors: Vec<(usize, usize)> = ds
        .table_members()
        .filter_map(|(i, _)| {
            let s = g.standings[i].as_ref()?;
            let in_layer = layer_at_d[i].is_some_and(|l| cfg.mentor_layers.contains(&l));
            (s.stage == Stage::Lead || in_layer).then_some((i, s.active_mentees))
        })
        .collect();
    let specialty = |i: usize| g.standings[i].as_ref().and_then(|s| s.specialty.as_deref());
    let mut out = Vec::new();
    for c in newcomers.iter().filter(|c| c.flagged) {
        let n = c.member;
        if g.standings[n].as_ref().is_some_and(|s| s.mentor_id.is_some()) {
            continue;
        }
        let wanted = specialty(n);
        // members are in member_id order, so the first best is the smallest id
        let best = mentors
            .iter_mut()
            .filter(|(m, load)| *m != n && *load < cfg.capacity)
            .min_by_key(|(m, load)| {
                let same = wanted.is_some() && specialty(*m) == wanted;
                (!same, *load, ds.members[*m].id.as_bytes())
            });
        let mentor = best.map(|(m, load)| {
            *load += 1;
            *m
        });
        out.push(Match { newcomer: n, mentor });
    }
    out
}

/// One role of a project and the member proposed for it (None: nobody fits).
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub project: String,
    pub role: String,
    pub member: Option<usize>,
    /// The rank_by value at D of the member proposed.
    pub value: Option<f64>,
}

/// Members for the roles of the projects, in listed order; nobody is proposed twice.
pub fn propose_teams(
    ds: &Dataset,
    g: &Growth,
    projects: &[ProjectPlan],
    snap: &Snapshot,
    layer_at_d: &LayerRow,
) -> Vec<Proposal> {
    let row_of: std::collections::HashMap<usize, usize> =
        snap.members.iter().enumerate().map(|(k, m)| (*m, k)).collect();
    let mut proposed = vec![false; ds.members.len()];
    let mut out = Vec::new();
    for pr in projects {
        let values = pr.rank_by.as_ref().and_then(|r| snap.values.get(r));
        let value_of = |i: usize| values.and_then(|v| row_of.get(&i).map(|k| v[*k]));
        for (role, wanted) in &pr.roles {
            let mut best: Option<(usize, Option<f64>)> = None;
            for (i, _) in ds.table_members() {
                let Some(s) = &g.standings[i] else { continue };
                let Some(layer) = layer_at_d[i] else { continue };
                let in_layers = pr.from_layers.as_ref().is_none_or(|ls| ls.contains(&layer));
                if !in_layers || s.busy || proposed[i] || s.specialty.as_deref() != Some(wanted.as_str()) {
                    continue;
                }
                let v = value_of(i);
                // the highest value (NULL last), then member_id (members are in id order)
                if best.is_none_or(|(_, bv)| ranks_before(v, bv)) {
                    best = Some((i, v));
                }
            }
            if let Some((i, _)) = best {
                proposed[i] = true;
            }
            out.push(Proposal {
                project: pr.id.clone(),
                role: role.clone(),
                member: best.map(|(i, _)| i),
                value: best.and_then(|(_, v)| v),
            });
        }
    }
    out
}

/// Whether a later member (by member_id) with `v` goes before the best so far with
/// `best`: a higher value (to 9 decimals), and any value before NULL.
fn ranks_before(v: Option<f64>, best: Option<f64>) -> bool {
    match (v, best) {
        (Some(a), Some(b)) => crate::fmt::tie_key(a) > crate::fmt::tie_key(b),
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::ranks_before;

    #[test]
    fn higher_values_first_null_last_ties_keep_the_smaller_member_id() {
        assert!(ranks_before(Some(5.0), Some(3.0)));
        assert!(!ranks_before(Some(3.0), Some(5.0)));
        // equal to 9 decimals: the member already chosen (smaller member_id) stays
        assert!(!ranks_before(Some(1.0 + 1e-12), Some(1.0)));
        // NULL last
        assert!(ranks_before(Some(0.0), None));
        assert!(!ranks_before(None, Some(0.0)));
        assert!(!ranks_before(None, None));
    }
}
