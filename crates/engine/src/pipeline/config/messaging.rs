//! `badges:` (SPEC §16), `notices:` and `notify:` (SPEC §17): the honour system and
//! what koc says to members and to the operations team. Closed sets are enums, so a
//! value outside them is refused by the reader at its line and column.
use serde::{Deserialize, Deserializer};

/// One badge: a rule over the events, granted once (SPEC §16).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BadgeCfg {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub grade: Grade,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// Matching events (or days) needed; 1 when neither `count` nor `sum` is given.
    #[serde(default)]
    pub count: Option<i64>,
    #[serde(default)]
    pub distinct: Option<Distinct>,
    /// A count column or `awarded_points`, added up over the matching events.
    #[serde(default)]
    pub sum: Option<String>,
    #[serde(default)]
    pub reach: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grade {
    #[default]
    Bronze,
    Silver,
    Gold,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Bronze => "bronze",
            Grade::Silver => "silver",
            Grade::Gold => "gold",
        }
    }
}

/// What a count badge counts: matching events, or the dates with a match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Distinct {
    #[default]
    Events,
    Days,
}

/// The seven things a member is told about day D (SPEC §17), in the SPEC's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Badge,
    TierUp,
    TierDown,
    GraceStarted,
    PointsExpiring,
    ContestAward,
    LayerUp,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 7] = [
        NoticeKind::Badge,
        NoticeKind::TierUp,
        NoticeKind::TierDown,
        NoticeKind::GraceStarted,
        NoticeKind::PointsExpiring,
        NoticeKind::ContestAward,
        NoticeKind::LayerUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Badge => "badge",
            NoticeKind::TierUp => "tier_up",
            NoticeKind::TierDown => "tier_down",
            NoticeKind::GraceStarted => "grace_started",
            NoticeKind::PointsExpiring => "points_expiring",
            NoticeKind::ContestAward => "contest_award",
            NoticeKind::LayerUp => "layer_up",
        }
    }
}

/// `notices:`; an empty section (`notices:` alone) takes the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticesCfg {
    #[serde(default)]
    pub kinds: Option<Vec<NoticeKind>>,
    #[serde(default)]
    pub expiring_days_ahead: Option<i64>,
}

pub const DEFAULT_EXPIRING_DAYS_AHEAD: i64 = 7;

/// Where `koc notify` sends (SPEC §17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Wecom,
    Dingtalk,
    Feishu,
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Wecom => "wecom",
            Channel::Dingtalk => "dingtalk",
            Channel::Feishu => "feishu",
            Channel::Webhook => "webhook",
        }
    }
}

/// What a channel is sent: the operations digest (the robots) or the notices (a webhook).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Send {
    Digest,
    Notices,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyCfg {
    pub channel: Channel,
    /// The environment variable holding the URL (never the URL itself).
    pub url_env: String,
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub send: Option<Send>,
}

impl NotifyCfg {
    /// The robots get the digest; a plain webhook gets what `send` names.
    pub fn sends(&self) -> Send {
        self.send.unwrap_or(match self.channel {
            Channel::Webhook => Send::Notices,
            _ => Send::Digest,
        })
    }
}

/// A section that may be given empty (`notices:` alone): present means `Some`, with
/// the defaults when its value is null.
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}
