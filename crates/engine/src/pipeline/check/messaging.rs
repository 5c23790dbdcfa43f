//! Checks of `badges:` (SPEC §16), `notices:` and `notify:` (SPEC §17).
use super::{Names, NUMERIC_FIELDS};
use crate::pipeline::config::messaging::{Channel, Send};
use crate::pipeline::config::Loaded;
use crate::pipeline::expr;
use crate::pipeline::program::{Conditions, Place};

/// The most matching events (or days) a badge may ask for.
pub const MAX_BADGE_COUNT: i64 = 1_000_000;
/// The largest running total a badge may ask for.
pub const MAX_BADGE_REACH: i64 = 1_000_000_000_000;

/// Every problem of the three sections, each at its place with a fix; each badge's
/// `where` is parsed once and filed under `Place::Badge`.
pub(super) fn check(
    loaded: &Loaded,
    n: &Names,
    known_actions: Option<&[String]>,
    conditions: &std::cell::RefCell<Conditions>,
) -> Vec<String> {
    let p = &loaded.pipeline;
    let mut problems = Vec::new();
    let badges = p.badges.as_deref().unwrap_or_default();
    for (i, b) in badges.iter().enumerate() {
        let what = format!("badges[id={}]", b.id);
        // the place of one of this badge's keys
        let at = |key: &str| loaded.at(&format!("badges[{i}].{key}"));
        if badges[..i].iter().any(|x| x.id == b.id) {
            say(
                &mut problems,
                at("id"),
                format!("{what}: the id is used by an earlier badge"),
                "give every badge its own id",
            );
        }
        if b.name.trim().is_empty() {
            say(
                &mut problems,
                at("id"),
                format!("{what}: name is empty"),
                "give the name members see, e.g. name: 初出茅庐",
            );
        }
        match (&b.sum, b.reach) {
            (Some(_), _) if b.count.is_some() => say(
                &mut problems,
                at("count"),
                format!("{what}: give count or sum with reach, not both"),
                "count matching events with `count`, or add up a field with `sum` and `reach`",
            ),
            (Some(_), _) if b.distinct.is_some() => say(
                &mut problems,
                at("distinct"),
                format!("{what}: distinct counts dates, it does not go with sum"),
                "remove distinct, or count with `count` instead of `sum`",
            ),
            (Some(f), Some(reach)) => {
                if !NUMERIC_FIELDS.contains(&f.as_str()) {
                    say(
                        &mut problems,
                        at("sum"),
                        format!("{what}: sum '{f}' is not a number field"),
                        &format!("sum takes one of {}", NUMERIC_FIELDS.join(", ")),
                    );
                }
                if !(1..=MAX_BADGE_REACH).contains(&reach) {
                    say(
                        &mut problems,
                        at("reach"),
                        format!("{what}: reach {reach} is out of range"),
                        "use a whole number from 1 to 1000000000000",
                    );
                }
            }
            (Some(_), None) => say(
                &mut problems,
                at("sum"),
                format!("{what}: sum needs reach, the total that earns the badge"),
                "add e.g. reach: 1000",
            ),
            (None, Some(_)) => say(
                &mut problems,
                at("reach"),
                format!("{what}: reach goes with sum"),
                "add sum: FIELD (e.g. sum: likes), or count events with `count` instead",
            ),
            (None, None) => {
                if let Some(c) = b.count.filter(|c| !(1..=MAX_BADGE_COUNT).contains(c)) {
                    say(
                        &mut problems,
                        at("count"),
                        format!("{what}: count {c} is out of range"),
                        "use a whole number from 1 to 1000000",
                    );
                }
            }
        }
        if let (Some(action), Some(known)) = (&b.action, known_actions) {
            if !known.contains(action) {
                let hint = crate::pipeline::config::suggest(action, known.iter().map(String::as_str))
                    .map(|h| format!("did you mean '{h}'? "))
                    .unwrap_or_default();
                say(
                    &mut problems,
                    at("action"),
                    format!("{what}: unknown action '{action}'"),
                    &format!("{hint}use one of the mapped actions: {}", known.join(", ")),
                );
            }
        }
        if let Some(w) = &b.where_ {
            match expr::parse(
                w,
                &n.metric_where,
                &format!("{what}.where"),
                &loaded.at(&format!("badges[{i}].where")),
            ) {
                Ok(e) => conditions.borrow_mut().insert(Place::Badge(i), e),
                Err(e) => problems.push(format!("{e:#}")),
            }
        }
    }
    if let Some(notices) = &p.notices {
        if notices.kinds.as_ref().is_some_and(Vec::is_empty) {
            say(
                &mut problems,
                loaded.at("notices.kinds"),
                "notices.kinds is empty".into(),
                "list the kinds to write, or leave kinds out for all seven",
            );
        }
        if let Some(days) = notices.expiring_days_ahead.filter(|d| !(1..=3660).contains(d)) {
            say(
                &mut problems,
                loaded.at("notices.expiring_days_ahead"),
                format!("notices.expiring_days_ahead {days} is out of range"),
                "give the number of days before expiry to tell members, from 1 to 3660 (e.g. 7)",
            );
        }
    }
    for (i, c) in p.notify.iter().enumerate() {
        let what = format!("notify[{i}] ({})", c.channel.as_str());
        let at = loaded.at(&format!("notify[{i}].url_env"));
        if !is_env_name(&c.url_env) {
            say(
                &mut problems,
                at.clone(),
                // the value is not repeated: it may be the address itself, a secret
                format!("{what}: url_env is not the name of an environment variable"),
                "give the variable's name (e.g. KOC_WECOM_URL), never the URL: set the URL in the environment of the cron job",
            );
        }
        if let Some(s) = c.secret_env.as_deref() {
            if !is_env_name(s) {
                say(
                    &mut problems,
                    loaded.at(&format!("notify[{i}].secret_env")),
                    format!("{what}: secret_env is not the name of an environment variable"),
                    "give the variable's name (e.g. KOC_DINGTALK_SECRET), never the secret itself",
                );
            }
            if matches!(c.channel, Channel::Wecom | Channel::Webhook) {
                say(
                    &mut problems,
                    loaded.at(&format!("notify[{i}].secret_env")),
                    format!("{what}: a {} request is not signed", c.channel.as_str()),
                    "remove secret_env (only dingtalk and feishu robots sign their messages)",
                );
            }
        }
        match (c.channel, c.sends()) {
            (Channel::Webhook, Send::Digest) => say(
                &mut problems,
                at.clone(),
                format!("{what}: a webhook is sent the notices, not the digest"),
                "use send: notices, or a wecom, dingtalk or feishu robot for the digest",
            ),
            (Channel::Wecom | Channel::Dingtalk | Channel::Feishu, Send::Notices) => say(
                &mut problems,
                at.clone(),
                format!("{what}: a group robot is sent the digest, not the notices"),
                "remove send (robots get the digest), or use channel: webhook for the notices",
            ),
            _ => {}
        }
        if c.sends() == Send::Notices && p.notices.is_none() {
            say(
                &mut problems,
                at,
                format!("{what}: send: notices, but the pipeline has no notices section"),
                "add `notices:` (an empty section takes the defaults)",
            );
        }
    }
    problems
}

fn say(problems: &mut Vec<String>, at: String, what: String, fix: &str) {
    problems.push(format!("{at}: {what}\n  fix: {fix}"));
}

/// A name an environment variable can have (letters, digits, `_`, not starting with a digit).
fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
