//! What badges and notices look like to people: badges.csv, notices.csv with the
//! sentence for each member (SPEC §16, §17), and the report's badge section.
use crate::output::{p, t, Table};
use anyhow::{Context, Result};
use koc_engine::fmt::{fmt_day, Day};
use koc_engine::model::Dataset;
use koc_engine::pipeline::config::messaging::NoticeKind;
use koc_engine::pipeline::program::Program;
use koc_engine::stages::badges::Award;
use koc_engine::stages::notices::Notice;
use serde::Serialize;

/// The built-in sentence templates, one per locale (`notices.<locale>` in the
/// report.templates folder overrides them).
pub const NOTICE_TEMPLATES: [(&str, &str); 2] = [
    ("notices.zh-CN", include_str!("../../templates/notices.zh-CN")),
    ("notices.en", include_str!("../../templates/notices.en")),
];

/// One notice as its template sees it: ids, display names and numbers for people.
#[derive(Debug, Clone, Serialize)]
struct NoticeView<'a> {
    kind: &'static str,
    member_id: &'a str,
    /// Empty when nicknames are masked.
    nickname: String,
    #[serde(rename = "ref")]
    reference: &'a str,
    /// The badge's, tier's, layer's or contest's display name; the date for expiring points.
    name: String,
    /// The badge's grade (badge notices).
    grade: Option<&'static str>,
    value: Option<i64>,
    date: String,
}

/// The template's context: every notice of the run, in notices.csv's order.
fn notice_context(prog: &Program, ds: &Dataset, notices: &[Notice], mask: bool) -> serde_json::Value {
    let p = &prog.file().pipeline;
    let views: Vec<NoticeView> = notices
        .iter()
        .map(|n| {
            let m = &ds.members[n.member];
            let badge = prog.badges.iter().find(|b| b.id == n.reference);
            // each kind's ref is looked up in its own section (ids of tiers, layers and
            // contests may repeat across sections)
            let own = |name: Option<&Option<String>>| name.cloned().flatten();
            let name = match n.kind {
                NoticeKind::Badge => badge.map(|b| b.name.clone()),
                NoticeKind::PointsExpiring | NoticeKind::GraceStarted => Some(n.reference.clone()),
                NoticeKind::TierUp | NoticeKind::TierDown => own(p
                    .tiers
                    .iter()
                    .flat_map(|t| &t.levels)
                    .find(|l| l.id == n.reference)
                    .map(|l| &l.name)),
                NoticeKind::LayerUp => own(p
                    .layers
                    .iter()
                    .flat_map(|l| &l.levels)
                    .find(|l| l.id == n.reference)
                    .map(|l| &l.name)),
                NoticeKind::ContestAward => own(p.contests.iter().find(|c| c.id == n.reference).map(|c| &c.name)),
            }
            .unwrap_or_else(|| p.display_name(&n.reference));
            NoticeView {
                kind: n.kind.as_str(),
                member_id: &m.id,
                nickname: if mask {
                    String::new()
                } else {
                    one_line(m.nickname.as_deref().unwrap_or_default())
                },
                reference: &n.reference,
                name: one_line(&name),
                grade: (n.kind == NoticeKind::Badge)
                    .then(|| badge.map(|b| b.grade.as_str()))
                    .flatten(),
                value: n.value,
                date: fmt_day(ds.as_of),
            }
        })
        .collect();
    serde_json::json!({
        "program": p.program.name,
        "as_of": fmt_day(ds.as_of),
        "lang": prog.locale.as_str(),
        "notices": views,
    })
}

/// Text that cannot break the one-line-per-notice output of the template.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// notices.csv: the notices with the sentence for each, rendered by the locale's
/// template (in a child process when the pipeline has its own templates).
pub fn notices_table(prog: &Program, ds: &Dataset, notices: &[Notice]) -> Result<Table> {
    let mask = prog.file().pipeline.privacy.as_ref().is_some_and(|x| x.mask_nicknames);
    let name = format!("notices.{}", prog.locale.as_str());
    let ctx = notice_context(prog, ds, notices, mask);
    let texts = if notices.is_empty() {
        Vec::new()
    } else {
        let out = crate::output::report::render_text(prog.file(), &name, &ctx)
            .with_context(|| format!("rendering the notices with {name}"))?;
        let out = String::from_utf8(out).with_context(|| format!("{name} wrote text that is not UTF-8"))?;
        let lines: Vec<String> = out
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if lines.len() != notices.len() {
            anyhow::bail!(
                "the template {name} wrote {} lines for {} notices\n  fix: write one line per notice (`{{% for n in notices %}}…{{{{ \"\\n\" }}}}{{% endfor %}}`)",
                lines.len(),
                notices.len()
            );
        }
        lines
    };
    let mut tb = Table::new("notices", &["member_id", "nickname", "kind", "ref", "value", "text"]);
    for (n, text) in notices.iter().zip(texts) {
        let m = &ds.members[n.member];
        let nickname = if mask {
            String::new()
        } else {
            m.nickname.clone().unwrap_or_default()
        };
        tb.push(vec![
            t(&m.id),
            t(nickname),
            p(n.kind.as_str()),
            t(&n.reference),
            p(n.value.map(|v| v.to_string()).unwrap_or_default()),
            t(text),
        ]);
    }
    Ok(tb)
}

/// The report's badge section (SPEC §16): awards of the 7 days ending D by badge, and
/// each badge's holders.
#[derive(Debug, Clone, Serialize)]
pub struct BadgeSection {
    pub recent: Vec<RecentBadge>,
    pub holders: Vec<BadgeHolders>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecentBadge {
    pub name: String,
    pub grade: &'static str,
    /// Display names (nickname, else the member id) of the members who earned it.
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BadgeHolders {
    pub name: String,
    pub grade: &'static str,
    pub holders: u64,
}

/// Days the report's "awarded recently" looks back, D included.
pub const RECENT_DAYS: Day = 7;

pub fn badge_section(prog: &Program, ds: &Dataset, awards: &[Award], mask: bool) -> Option<BadgeSection> {
    if prog.badges.is_empty() {
        return None;
    }
    let from = ds.as_of - (RECENT_DAYS - 1);
    let mut by_badge: Vec<Vec<String>> = vec![Vec::new(); prog.badges.len()];
    for a in awards.iter().filter(|a| a.day >= from) {
        let m = &ds.members[a.member];
        let shown = match (&m.nickname, mask) {
            (Some(n), true) => koc_engine::ingest::privacy::mask(n),
            (Some(n), false) => n.clone(),
            (None, _) => m.id.clone(),
        };
        by_badge[a.badge].push(shown);
    }
    let holders = koc_engine::stages::badges::holders(prog, awards);
    Some(BadgeSection {
        recent: prog
            .badges
            .iter()
            .zip(by_badge)
            .filter(|(_, members)| !members.is_empty())
            .map(|(b, members)| RecentBadge {
                name: b.name.clone(),
                grade: b.grade.as_str(),
                members,
            })
            .collect(),
        holders: prog
            .badges
            .iter()
            .zip(holders)
            .map(|(b, holders)| BadgeHolders {
                name: b.name.clone(),
                grade: b.grade.as_str(),
                holders,
            })
            .collect(),
    })
}
