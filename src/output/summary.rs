//! What the single-stage commands print: a few figures and a table, as text or JSON.
use crate::output::{p, Table};
use koc_engine::compute::Computed;
use koc_engine::fmt::fmt_day;
use koc_engine::model::Dataset;
use serde_json::{json, Value};

pub struct Summary {
    pub lines: Vec<String>,
    pub json: Value,
}

/// Align a table for the terminal (CJK characters count as two columns).
pub fn render(t: &Table) -> Vec<String> {
    let width = |s: &str| {
        s.chars()
            .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
            .sum::<usize>()
    };
    let mut w: Vec<usize> = t.columns.iter().map(|c| width(c)).collect();
    for r in &t.rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(width(c.as_str()));
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c}{}", " ".repeat(w[i] - width(c))))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(t.columns.iter().map(String::as_str).collect())];
    for r in &t.rows {
        out.push(line(r.iter().map(|c| c.as_str()).collect()));
    }
    out
}

fn counts_table(name: &str, head: [&str; 2], rows: Vec<(String, String)>) -> Table {
    let mut t = Table::new(name, &head);
    for (a, b) in rows {
        t.push(vec![p(a), p(b)]);
    }
    t
}

#[allow(clippy::needless_late_init)] // one summary per arm, each sets both
pub fn of(which: &str, ds: &Dataset, c: &Computed, tables: &super::tables::Tables, table_name: &str) -> Summary {
    let mut lines = vec![format!("as of {}", fmt_day(c.as_of))];
    let json;
    match which {
        "points" => {
            let b = &c.points.balances;
            let (issued, redeemed, expired, liability): (i64, i64, i64, i64) = (
                b.iter().map(|x| x.earned).sum(),
                b.iter().map(|x| x.redeemed).sum(),
                b.iter().map(|x| x.expired).sum(),
                b.iter().map(|x| x.balance).sum(),
            );
            let refused = c
                .points
                .redemptions
                .iter()
                .filter(|r| r.status != koc_engine::stages::points::RedemptionStatus::Ok)
                .count();
            lines.push(format!(
                "points issued {issued} · redeemed {redeemed} · expired {expired} · outstanding liability {liability}"
            ));
            lines.push(format!(
                "redemptions {} ({refused} refused) · ledger entries {}",
                c.points.redemptions.len(),
                c.points.ledger.len()
            ));
            json = json!({"issued": issued, "redeemed": redeemed, "expired": expired, "liability": liability, "redemptions": c.points.redemptions.len(), "refused": refused});
        }
        "tiers" => {
            let per = c.members_per_tier();
            let (promoted, demoted) = koc_engine::stages::tiers::promoted_demoted(&c.tiers, c.previous_snapshot);
            lines.extend(render(&counts_table(
                "tiers",
                ["tier", "members"],
                c.tier_ids
                    .iter()
                    .cloned()
                    .zip(per.iter().map(|n| n.to_string()))
                    .collect(),
            )));
            lines.push(format!(
                "since the previous snapshot: {promoted} promoted, {demoted} demoted"
            ));
            let mut grace = Table::new("grace", &["member_id", "tier", "below_since", "demotion_on"]);
            for (i, m) in ds.table_members() {
                if let Some(s) = c.tiers[i].as_ref().filter(|s| s.below_since.is_some()) {
                    grace.push(vec![
                        p(&m.id),
                        p(&c.tier_ids[s.tier]),
                        p(s.below_since.map(fmt_day).unwrap_or_default()),
                        p(s.demotion_on.map(fmt_day).unwrap_or_default()),
                    ]);
                }
            }
            lines.push(format!("in their grace period: {}", grace.rows.len()));
            if !grace.rows.is_empty() {
                lines.extend(render(&grace));
            }
            json = json!({"tiers": c.tier_ids.iter().zip(&per).map(|(t, n)| json!({"tier": t, "members": n})).collect::<Vec<_>>(), "promoted": promoted, "demoted": demoted, "grace": grace.rows.len()});
        }
        "layers" => {
            let per = c.members_per_layer();
            lines.extend(render(&counts_table(
                "layers",
                ["layer", "members"],
                c.level_ids
                    .iter()
                    .cloned()
                    .zip(per.iter().map(|n| n.to_string()))
                    .collect(),
            )));
            if let Some(m) = tables.get("layer_movements") {
                lines.push(String::new());
                lines.extend(render(m));
            }
            json = json!({"layers": c.level_ids.iter().zip(&per).map(|(l, n)| json!({"layer": l, "members": n})).collect::<Vec<_>>()});
        }
        "scout" => {
            let flagged: Vec<_> = c.newcomers.iter().filter(|n| n.flagged).collect();
            lines.push(format!("{} candidates, {} flagged", c.newcomers.len(), flagged.len()));
            let mut t = Table::new("flagged", &["rank", "member_id", "score", "specialty", "reasons"]);
            for n in &flagged {
                t.push(vec![
                    p(n.rank.to_string()),
                    p(&ds.members[n.member].id),
                    p(koc_engine::fmt::fmt_num(n.score)),
                    p(n.specialty.clone().unwrap_or_default()),
                    p(&n.reasons),
                ]);
            }
            lines.extend(render(&t));
            json = json!({"candidates": c.newcomers.len(), "flagged": flagged.len()});
        }
        "care" => {
            let t = tables.get("care_calendar");
            lines.push(format!("{} occasions", c.care.len()));
            if let Some(t) = t {
                lines.extend(render(t));
            }
            json = json!({"occasions": c.care.len()});
        }
        _ => {
            if let Some(t) = tables.get(table_name) {
                lines.extend(render(t));
            }
            if let Some(j) = tables.get(&format!("{table_name}_judges")) {
                lines.push(String::new());
                lines.extend(render(j));
            }
            json = json!({"contest": table_name, "entries": tables.get(table_name).map(|t| t.rows.len())});
        }
    }
    Summary { lines, json }
}
