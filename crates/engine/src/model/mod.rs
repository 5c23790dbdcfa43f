//! The stored sources as typed data, cut at the as-of date D (SPEC §1: every
//! computation uses only what happened on or before D).
use crate::fmt::{day_of_ts, Day, Ts};
use crate::store::{Manifest, Store};
use crate::table::{self, Row};
use anyhow::Result;
use std::collections::HashMap;

mod events;
mod load;
mod split;
pub mod split_cache;
pub use events::{CountColumn, Dict, Event, Events, TextColumn};
use load::{load_events, sorted_by_member};
pub use split::{kept_split_of, split_events, split_every_month, KeptSplit};

#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub nickname: Option<String>,
    pub joined: Day,
    pub birthday: Option<Day>,
    pub purchase: Option<Day>,
    /// In the members source (false: seen only in events).
    pub listed: bool,
}

#[derive(Debug, Clone)]
pub struct Redemption {
    pub id: String,
    pub member_id: String,
    pub ts: Ts,
    pub item: String,
    pub points: i64,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub contest_id: String,
    pub member_id: String,
    pub ts: Ts,
    pub content_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Score {
    pub contest_id: String,
    pub entry_id: String,
    pub judge_id: String,
    pub criterion: String,
    pub score: f64,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub id: String,
    pub member_id: String,
    pub ts: Ts,
    pub incentive: String,
    pub rating: f64,
    pub comment: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Override {
    pub member_id: String,
    pub layer: String,
    pub from: Day,
    pub until: Option<Day>,
    /// Why the team set it (the export's `reason`, for `koc explain`).
    pub reason: Option<String>,
}

/// One member of a collaborative project team (SPEC §15).
#[derive(Debug, Clone)]
pub struct TeamRow {
    pub team_id: String,
    pub member_id: String,
    pub completed: Option<Day>,
}

/// A lead member mentoring a newcomer from `from` to `until` (inclusive; open-ended when None).
#[derive(Debug, Clone)]
pub struct Mentorship {
    pub mentor_id: String,
    pub mentee_id: String,
    pub from: Day,
    pub until: Option<Day>,
}

impl Mentorship {
    /// Active at D: from ≤ D and (until empty or until ≥ D).
    pub fn active_at(&self, d: Day) -> bool {
        self.from <= d && self.until.is_none_or(|u| u >= d)
    }
}

/// Everything the stages compute from, with date ≤ D.
pub struct Dataset {
    pub as_of: Day,
    /// Every known member (listed, or seen in events), sorted by member_id bytes,
    /// including those who join after D (stages filter on `joined`).
    pub members: Vec<Member>,
    pub index: HashMap<String, usize>,
    /// Events with date ≤ D, sorted by (member, occurred_at, event_id).
    pub events: Events,
    /// Per member, the range of its events in `events`.
    pub member_events: Vec<std::ops::Range<usize>>,
    pub redemptions: Vec<Redemption>,
    pub entries: Vec<Entry>,
    pub scores: Vec<Score>,
    pub responses: Vec<Response>,
    pub overrides: Vec<Override>,
    pub teams: Vec<TeamRow>,
    pub mentorships: Vec<Mentorship>,
}

fn s(r: &Row, spec: &table::SourceSpec, col: &str) -> Option<String> {
    r[spec.index(col)].string()
}

impl Dataset {
    pub fn load(store: &Store, manifest: &Manifest, as_of: Day) -> Result<Dataset> {
        Dataset::load_shard(store, manifest, as_of, crate::shard::Shard::WHOLE)
    }

    /// The data of one shard's members only (docs/scale-out.md): their member rows,
    /// events, redemptions, overrides, feedback and team rows; contest entries, judges'
    /// scores and mentorships whole (they name contents, entries and pairs, and are small).
    pub fn load_shard(store: &Store, manifest: &Manifest, as_of: Day, shard: crate::shard::Shard) -> Result<Dataset> {
        let mut timer = crate::timing::Timer::new();
        let (raw_events, event_member_ids) = load_events(store, manifest, as_of, shard)?;
        timer.lap("load: partitions read");
        // members seen only in events join on the date of their first event
        let mut first_day = vec![Day::MAX; event_member_ids.len()];
        for (m, d) in raw_events.member.iter().zip(&raw_events.day) {
            let x = &mut first_day[*m as usize];
            *x = (*x).min(*d);
        }
        let seen: Vec<(String, Day)> = event_member_ids.iter().cloned().zip(first_day).collect();
        Dataset::assemble(store, manifest, as_of, shard, (raw_events, event_member_ids), seen)
    }

    /// Everything but the events (`koc merge`, which has what it needs of them from the
    /// shards' parts): `seen` names the members seen in events, with their first day.
    pub fn load_without_events(
        store: &Store,
        manifest: &Manifest,
        as_of: Day,
        seen: Vec<(String, Day)>,
    ) -> Result<Dataset> {
        let none = (Events::default(), Vec::new());
        Dataset::assemble(store, manifest, as_of, crate::shard::Shard::WHOLE, none, seen)
    }

    fn assemble(
        store: &Store,
        manifest: &Manifest,
        as_of: Day,
        shard: crate::shard::Shard,
        (raw_events, event_member_ids): (Events, Vec<String>),
        seen: Vec<(String, Day)>,
    ) -> Result<Dataset> {
        let mut timer = crate::timing::Timer::new();
        let mine = |id: &str| shard.holds(id);
        let m_spec = &table::MEMBERS;
        let mut members: Vec<Member> = store
            .load(manifest, m_spec)?
            .iter()
            .map(|r| Member {
                id: s(r, m_spec, "member_id").unwrap_or_default(),
                nickname: s(r, m_spec, "nickname"),
                joined: day_of_ts(r[m_spec.index("joined_at")].ts()),
                birthday: r[m_spec.index("birthday")].day(),
                purchase: r[m_spec.index("purchase_date")].day(),
                listed: true,
            })
            .filter(|m| mine(&m.id))
            .collect();
        let listed: std::collections::HashSet<String> = members.iter().map(|m| m.id.clone()).collect();
        for (id, d) in seen {
            if !listed.contains(&id) {
                members.push(Member {
                    id,
                    nickname: None,
                    joined: d,
                    birthday: None,
                    purchase: None,
                    listed: false,
                });
            }
        }
        members.sort_by(|a, b| a.id.as_bytes().cmp(b.id.as_bytes()));
        let index: HashMap<String, usize> = members.iter().enumerate().map(|(i, m)| (m.id.clone(), i)).collect();
        let events = sorted_by_member(raw_events, &event_member_ids, &index);
        timer.lap("load: events sorted");
        let mut member_events = vec![0..0; members.len()];
        let mut i = 0;
        while i < events.len() {
            let m = events.member[i];
            let start = i;
            while i < events.len() && events.member[i] == m {
                i += 1;
            }
            member_events[m as usize] = start..i;
        }

        let r_spec = &table::REDEMPTIONS;
        let mut redemptions: Vec<Redemption> = store
            .load(manifest, r_spec)?
            .iter()
            .map(|r| Redemption {
                id: s(r, r_spec, "redemption_id").unwrap_or_default(),
                member_id: s(r, r_spec, "member_id").unwrap_or_default(),
                ts: r[r_spec.index("redeemed_at")].ts(),
                item: s(r, r_spec, "item").unwrap_or_default(),
                points: r[r_spec.index("points")].int(),
            })
            .filter(|r| day_of_ts(r.ts) <= as_of && mine(&r.member_id))
            .collect();
        redemptions.sort_by(|a, b| (a.ts, &a.id).cmp(&(b.ts, &b.id)));

        let e_spec = &table::CONTEST_ENTRIES;
        let entries = store
            .load(manifest, e_spec)?
            .iter()
            .map(|r| Entry {
                id: s(r, e_spec, "entry_id").unwrap_or_default(),
                contest_id: s(r, e_spec, "contest_id").unwrap_or_default(),
                member_id: s(r, e_spec, "member_id").unwrap_or_default(),
                ts: r[e_spec.index("submitted_at")].ts(),
                content_id: s(r, e_spec, "content_id"),
            })
            // every entry, whoever's shard: the content an entry names may have been
            // posted first by a member of this shard (`contests::content_firsts`)
            .filter(|e| day_of_ts(e.ts) <= as_of)
            .collect();
        let j_spec = &table::JUDGE_SCORES;
        let scores = store
            .load(manifest, j_spec)?
            .iter()
            .map(|r| Score {
                contest_id: s(r, j_spec, "contest_id").unwrap_or_default(),
                entry_id: s(r, j_spec, "entry_id").unwrap_or_default(),
                judge_id: s(r, j_spec, "judge_id").unwrap_or_default(),
                criterion: s(r, j_spec, "criterion").unwrap_or_default(),
                score: r[j_spec.index("score")].num(),
            })
            .collect();
        let f_spec = &table::FEEDBACK;
        let responses = store
            .load(manifest, f_spec)?
            .iter()
            .map(|r| Response {
                id: s(r, f_spec, "response_id").unwrap_or_default(),
                member_id: s(r, f_spec, "member_id").unwrap_or_default(),
                ts: r[f_spec.index("submitted_at")].ts(),
                incentive: s(r, f_spec, "incentive").unwrap_or_default(),
                rating: r[f_spec.index("rating")].num(),
                comment: s(r, f_spec, "comment"),
            })
            .filter(|x| day_of_ts(x.ts) <= as_of && mine(&x.member_id))
            .collect();
        let o_spec = &table::OVERRIDES;
        let overrides = store
            .load(manifest, o_spec)?
            .iter()
            .map(|r| Override {
                member_id: s(r, o_spec, "member_id").unwrap_or_default(),
                layer: s(r, o_spec, "layer").unwrap_or_default(),
                from: r[o_spec.index("from")].day().unwrap_or(0),
                until: r[o_spec.index("until")].day(),
                reason: s(r, o_spec, "reason"),
            })
            .filter(|o| mine(&o.member_id))
            .collect();
        let t_spec = &table::TEAMS;
        let teams = store
            .load(manifest, t_spec)?
            .iter()
            .map(|r| TeamRow {
                team_id: s(r, t_spec, "team_id").unwrap_or_default(),
                member_id: s(r, t_spec, "member_id").unwrap_or_default(),
                completed: r[t_spec.index("completed_at")].day(),
            })
            .filter(|t| mine(&t.member_id))
            .collect();
        let ms_spec = &table::MENTORSHIPS;
        let mentorships = store
            .load(manifest, ms_spec)?
            .iter()
            .map(|r| Mentorship {
                mentor_id: s(r, ms_spec, "mentor_id").unwrap_or_default(),
                mentee_id: s(r, ms_spec, "mentee_id").unwrap_or_default(),
                from: r[ms_spec.index("from")].day().unwrap_or(0),
                until: r[ms_spec.index("until")].day(),
            })
            .collect();
        timer.lap("load: other sources");
        Ok(Dataset {
            as_of,
            members,
            index,
            events,
            member_events,
            redemptions,
            entries,
            scores,
            responses,
            overrides,
            teams,
            mentorships,
        })
    }

    /// Members in member tables: known, joined on or before D.
    pub fn table_members(&self) -> impl Iterator<Item = (usize, &Member)> {
        self.members
            .iter()
            .enumerate()
            .filter(move |(_, m)| m.joined <= self.as_of)
    }

    pub fn nickname(&self, member_id: &str) -> String {
        self.index
            .get(member_id)
            .and_then(|i| self.members[*i].nickname.clone())
            .unwrap_or_default()
    }

    /// The events as a DataFrame for SQL conditions, with the columns `names` mentions
    /// (numbers as Float64 so `/` divides truly). Built per stage and dropped with it
    /// (at 20 M events a text column is 320 MB; keeping them all for the run cost more
    /// memory than rebuilding the few a later stage needs).
    pub fn event_frame(
        &self,
        names: &std::collections::BTreeSet<String>,
        awarded: Option<&[i64]>,
    ) -> Result<polars::prelude::DataFrame> {
        use rayon::prelude::*;
        // always one cheap column, so the frame has the events' height; the columns
        // are built on all cores (20 M values each), in their order
        let wanted: Vec<&str> = crate::pipeline::check::EVENT_COLUMNS
            .iter()
            .copied()
            .filter(|c| *c == "likes" || names.contains(*c))
            .collect();
        let mut cols: Vec<polars::prelude::Column> = wanted.par_iter().map(|name| self.build_column(name)).collect();
        if let (Some(a), true) = (awarded, names.contains("awarded_points")) {
            cols.push(crate::pipeline::expr::num_col(
                "awarded_points",
                a.iter().map(|x| Some(*x as f64)).collect(),
            ));
        }
        crate::pipeline::expr::frame(cols)
    }

    fn build_column(&self, name: &str) -> polars::prelude::Column {
        use crate::pipeline::expr::{num_col, text_col};
        use polars::prelude::Column;
        let ev = &self.events;
        let n = ev.len();
        let num = |v: &CountColumn| num_col(name, (0..v.len()).map(|i| Some(v.get(i) as f64)).collect());
        let dict = |codes: &[u32]| text_col(name, codes.iter().map(|c| ev.dict.get(*c)).collect());
        match name {
            "event_id" => text_col(name, (0..n).map(|i| Some(ev.id(i))).collect()),
            "member_id" => text_col(
                name,
                (0..n).map(|i| Some(self.members[ev.member(i)].id.as_str())).collect(),
            ),
            // as ISO text, so a condition compares them with a literal: date >= '2025-07-01'
            "occurred_at" => Column::new(
                name.into(),
                ev.ts.iter().map(|t| crate::fmt::fmt_ts(*t)).collect::<Vec<_>>(),
            ),
            "date" => Column::new(
                name.into(),
                ev.day.iter().map(|d| crate::fmt::fmt_day(*d)).collect::<Vec<_>>(),
            ),
            "action" => dict(&ev.action),
            "topic" => dict(&ev.topic),
            "task_type" => dict(&ev.task_type),
            "content_id" => text_col(name, (0..n).map(|i| ev.content_id(i)).collect()),
            "channel" => dict(&ev.channel),
            "likes" => num(&ev.likes),
            "comments" => num(&ev.comments),
            "shares" => num(&ev.shares),
            _ => num(&ev.views),
        }
    }
}
