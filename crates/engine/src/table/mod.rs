//! The nine sources as generic tables (SPEC §3 "Canonical columns"): their
//! columns, kinds and upsert keys, and the values a parsed row holds.
use crate::fmt::{Day, Ts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Verbatim text; empty is NULL.
    Text,
    /// The activity's action: a label mapped through `values.action`.
    Action,
    /// A timestamp, stored as local wall time.
    Ts,
    /// A calendar date.
    Date,
    /// An integer ≥ 0; empty means 0 (when optional).
    Count,
    /// Any number.
    Num,
}

#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn req(name: &'static str, kind: Kind) -> Col {
    Col {
        name,
        kind,
        required: true,
    }
}
const fn opt(name: &'static str, kind: Kind) -> Col {
    Col {
        name,
        kind,
        required: false,
    }
}

#[derive(Debug)]
pub struct SourceSpec {
    pub name: &'static str,
    pub cols: &'static [Col],
    pub key: &'static [&'static str],
}

use Kind::*;

pub const MEMBERS: SourceSpec = SourceSpec {
    name: "members",
    cols: &[
        req("member_id", Text),
        req("joined_at", Ts),
        opt("nickname", Text),
        opt("birthday", Date),
        opt("purchase_date", Date),
        opt("city", Text),
    ],
    key: &["member_id"],
};

pub const ACTIVITY: SourceSpec = SourceSpec {
    name: "activity",
    cols: &[
        req("event_id", Text),
        req("member_id", Text),
        req("occurred_at", Ts),
        req("action", Action),
        opt("topic", Text),
        opt("task_type", Text),
        opt("content_id", Text),
        opt("channel", Text),
        opt("likes", Count),
        opt("comments", Count),
        opt("shares", Count),
        opt("views", Count),
    ],
    key: &["event_id"],
};

pub const REDEMPTIONS: SourceSpec = SourceSpec {
    name: "redemptions",
    cols: &[
        req("redemption_id", Text),
        req("member_id", Text),
        req("redeemed_at", Ts),
        req("item", Text),
        req("points", Count),
    ],
    key: &["redemption_id"],
};

pub const CONTEST_ENTRIES: SourceSpec = SourceSpec {
    name: "contest_entries",
    cols: &[
        req("entry_id", Text),
        req("contest_id", Text),
        req("member_id", Text),
        req("submitted_at", Ts),
        opt("content_id", Text),
        opt("title", Text),
    ],
    key: &["entry_id"],
};

pub const JUDGE_SCORES: SourceSpec = SourceSpec {
    name: "judge_scores",
    cols: &[
        req("contest_id", Text),
        req("entry_id", Text),
        req("judge_id", Text),
        req("criterion", Text),
        req("score", Num),
    ],
    key: &["contest_id", "entry_id", "judge_id", "criterion"],
};

pub const FEEDBACK: SourceSpec = SourceSpec {
    name: "feedback",
    cols: &[
        req("response_id", Text),
        req("member_id", Text),
        req("submitted_at", Ts),
        req("incentive", Text),
        req("rating", Num),
        opt("comment", Text),
    ],
    key: &["response_id"],
};

pub const OVERRIDES: SourceSpec = SourceSpec {
    name: "overrides",
    cols: &[
        req("member_id", Text),
        req("layer", Text),
        req("from", Date),
        opt("until", Date),
        opt("reason", Text),
    ],
    key: &["member_id", "from"],
};

pub const TEAMS: SourceSpec = SourceSpec {
    name: "teams",
    cols: &[
        req("team_id", Text),
        req("member_id", Text),
        opt("role", Text),
        opt("project", Text),
        opt("completed_at", Date),
    ],
    key: &["team_id", "member_id"],
};

pub const MENTORSHIPS: SourceSpec = SourceSpec {
    name: "mentorships",
    cols: &[
        req("mentor_id", Text),
        req("mentee_id", Text),
        req("from", Date),
        opt("until", Date),
    ],
    key: &["mentor_id", "mentee_id", "from"],
};

/// Every source, in the order ingest reads them.
pub const ALL: [&SourceSpec; 9] = [
    &MEMBERS,
    &ACTIVITY,
    &REDEMPTIONS,
    &CONTEST_ENTRIES,
    &JUDGE_SCORES,
    &FEEDBACK,
    &OVERRIDES,
    &TEAMS,
    &MENTORSHIPS,
];

impl SourceSpec {
    pub fn index(&self, col: &str) -> usize {
        self.cols.iter().position(|c| c.name == col).expect("known column")
    }
    /// `key_of` for a packed row.
    pub fn key_of_packed(&self, row: &[u8]) -> String {
        let mut k = String::new();
        for (i, name) in self.key.iter().enumerate() {
            if i > 0 {
                k.push('\u{1f}');
            }
            k.push_str(&packed_ref(row, self.index(name)).to_key());
        }
        k
    }

    pub fn key_of(&self, row: &[Val]) -> String {
        let mut k = String::new();
        for (i, name) in self.key.iter().enumerate() {
            if i > 0 {
                k.push('\u{1f}');
            }
            k.push_str(&row[self.index(name)].to_key());
        }
        k
    }
}

/// One canonical value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Str(String),
    Int(i64),
    Num(f64),
    Ts(Ts),
    Date(Day),
}

impl Val {
    pub fn to_key(&self) -> String {
        match self {
            Val::Null => String::new(),
            Val::Str(s) => s.clone(),
            Val::Int(i) => i.to_string(),
            Val::Num(x) => x.to_string(),
            Val::Ts(t) => crate::fmt::fmt_ts(*t),
            Val::Date(d) => crate::fmt::fmt_day(*d),
        }
    }
    pub fn str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn string(&self) -> Option<String> {
        self.str().map(str::to_string)
    }
    pub fn int(&self) -> i64 {
        match self {
            Val::Int(i) => *i,
            Val::Num(x) => *x as i64,
            _ => 0,
        }
    }
    pub fn num(&self) -> f64 {
        match self {
            Val::Int(i) => *i as f64,
            Val::Num(x) => *x,
            _ => 0.0,
        }
    }
    pub fn ts(&self) -> Ts {
        match self {
            Val::Ts(t) => *t,
            _ => 0,
        }
    }
    pub fn day(&self) -> Option<Day> {
        match self {
            Val::Date(d) => Some(*d),
            _ => None,
        }
    }
}

pub type Row = Vec<Val>;

mod packed;
pub use packed::*;

text_enum! {
    /// An event field a metric, goal, rule or specialty reads, resolved once from its
    /// name (no string match per event).
    pub enum Field {
        EventId => "event_id",
        MemberId => "member_id",
        OccurredAt => "occurred_at",
        Action => "action",
        Topic => "topic",
        TaskType => "task_type",
        ContentId => "content_id",
        Channel => "channel",
        Likes => "likes",
        Comments => "comments",
        Shares => "shares",
        Views => "views",
        Date => "date",
        AwardedPoints => "awarded_points",
    }
}
