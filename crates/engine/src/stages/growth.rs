//! The growth path (SPEC §15, 成长路径): explore → specialise → collaborate → lead.
//! Each known member's stage at D, from teams, mentorships and the specialty rule
//! of scouting (§8). Matching and proposals are in `growth_plan.rs`.
use crate::fmt::Day;
use crate::model::Dataset;
use crate::pipeline::program::Program;
use crate::stages::facts::Facts;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Explore,
    Specialise,
    Collaborate,
    Lead,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Explore, Stage::Specialise, Stage::Collaborate, Stage::Lead];

    pub fn id(self) -> &'static str {
        match self {
            Stage::Explore => "explore",
            Stage::Specialise => "specialise",
            Stage::Collaborate => "collaborate",
            Stage::Lead => "lead",
        }
    }

    /// The first that holds: lead, collaborate, specialise, explore.
    pub fn of(active_mentees: usize, min_mentees: usize, completed_teams: usize, specialty: bool) -> Stage {
        if active_mentees >= min_mentees {
            Stage::Lead
        } else if completed_teams >= 1 {
            Stage::Collaborate
        } else if specialty {
            Stage::Specialise
        } else {
            Stage::Explore
        }
    }
}

/// One member on the growth path at D.
#[derive(Debug, Clone)]
pub struct Standing {
    pub stage: Stage,
    pub specialty: Option<String>,
    pub completed_teams: usize,
    pub active_mentees: usize,
    pub mentor_id: Option<String>,
    /// A `teams` row whose project is not done at D.
    pub busy: bool,
}

/// Every member's standing (index as in `Dataset::members`; None: joined after D).
pub struct Growth {
    pub standings: Vec<Option<Standing>>,
}

pub fn compute(prog: &Program, ds: &Dataset, facts: &[Facts]) -> Option<Growth> {
    let cfg = prog.growth.as_ref()?;
    let d = ds.as_of;
    let window = cfg.collaborate_window_days;
    let mut completed: HashMap<&str, usize> = HashMap::new();
    let mut busy: HashMap<&str, bool> = HashMap::new();
    for row in &ds.teams {
        match row.completed {
            Some(c) if c <= d => {
                if window.is_none_or(|w| c > d - w as Day) {
                    *completed.entry(row.member_id.as_str()).or_insert(0) += 1;
                }
            }
            // not done at D (no date yet, or done after D)
            _ => {
                busy.insert(row.member_id.as_str(), true);
            }
        }
    }
    let mut mentees: HashMap<&str, usize> = HashMap::new();
    // mentee → (from, mentor_id) of the mentorship that names their mentor
    let mut mentor: HashMap<&str, (Day, &str)> = HashMap::new();
    for m in ds.mentorships.iter().filter(|m| m.active_at(d)) {
        *mentees.entry(m.mentor_id.as_str()).or_insert(0) += 1;
        let cand = (m.from, m.mentor_id.as_str());
        mentor
            .entry(m.mentee_id.as_str())
            .and_modify(|best| {
                // the latest `from`, then the smallest mentor_id
                if cand.0 > best.0 || (cand.0 == best.0 && cand.1.as_bytes() < best.1.as_bytes()) {
                    *best = cand;
                }
            })
            .or_insert(cand);
    }
    let standings = ds
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if m.joined > d {
                return None;
            }
            let id = m.id.as_str();
            let specialty = facts[i].growth_specialty.clone();
            let completed_teams = completed.get(id).copied().unwrap_or(0);
            let active_mentees = mentees.get(id).copied().unwrap_or(0);
            Some(Standing {
                stage: Stage::of(
                    active_mentees,
                    cfg.lead_min_mentees,
                    completed_teams,
                    specialty.is_some(),
                ),
                specialty,
                completed_teams,
                active_mentees,
                mentor_id: mentor.get(id).map(|(_, m)| m.to_string()),
                busy: busy.contains_key(id),
            })
        })
        .collect();
    Some(Growth { standings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_stage_that_holds_wins() {
        // mentees reach the bar: lead, whatever else holds
        assert_eq!(Stage::of(2, 2, 3, true), Stage::Lead);
        // below the bar: a completed team makes a collaborator
        assert_eq!(Stage::of(1, 2, 1, true), Stage::Collaborate);
        assert_eq!(Stage::of(0, 1, 0, true), Stage::Specialise);
        assert_eq!(Stage::of(0, 1, 0, false), Stage::Explore);
    }
}
