//! Freshness (SPEC §11): per source, the date of its last stored row and when its
//! last file was ingested; a D too far past the last event is `stale_data`.
use crate::diagnostics::{Code, Warning};
use crate::fmt::{fmt_day, Day};
use crate::store::{Manifest, Store};
use crate::table::{Kind, ACTIVITY, ALL};
use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct SourceFreshness {
    /// The date of the last stored row (activity: the last event's date).
    pub last_date: Option<String>,
    /// When the last file of the source was ingested (program-local time).
    pub last_ingested_at: Option<String>,
}

pub struct Freshness {
    pub sources: BTreeMap<String, SourceFreshness>,
    pub last_event: Option<Day>,
}

pub fn of(store: &Store, m: &Manifest) -> Result<Freshness> {
    let mut sources = BTreeMap::new();
    let mut last_event = None;
    for spec in ALL {
        let rel = if spec.name == ACTIVITY.name {
            m.events.values().next_back()
        } else {
            m.tables.get(spec.name)
        };
        let col = spec.cols.iter().find(|c| matches!(c.kind, Kind::Ts | Kind::Date));
        let last = match (rel, col) {
            (Some(rel), Some(col)) => last_day(store, rel, col.name, col.kind)?,
            _ => None,
        };
        if spec.name == ACTIVITY.name {
            last_event = last;
        }
        let ingested = m
            .files
            .iter()
            .filter(|f| f.source == spec.name)
            .filter_map(|f| f.ingested_at.clone())
            .max();
        if rel.is_some() || ingested.is_some() {
            sources.insert(
                spec.name.to_string(),
                SourceFreshness {
                    last_date: last.map(fmt_day),
                    last_ingested_at: ingested,
                },
            );
        }
    }
    Ok(Freshness { sources, last_event })
}

fn last_day(store: &Store, rel: &str, col: &str, kind: Kind) -> Result<Option<Day>> {
    let df = store.frames_of(rel, Some(&[col]))?;
    let c = df.column(col)?;
    Ok(match kind {
        Kind::Ts => c
            .cast(&DataType::Int64)?
            .i64()?
            .max()
            .map(|ms| crate::fmt::day_of_ts(ms.div_euclid(1000))),
        _ => c.cast(&DataType::Int32)?.i32()?.max(),
    })
}

/// `stale_data` when D is more than `stale_after` days after the last stored event.
pub fn stale_warning(f: &Freshness, d: Day, stale_after: i64) -> Option<Warning> {
    let (message, zh) = match f.last_event {
        Some(last) if (d - last) as i64 > stale_after => (
            format!(
                "the last stored event is of {} but the run is as of {} ({} days later; ingest.stale_after_days is {stale_after}): \
                 tonight's export may be missing, and activity-based figures will look low",
                fmt_day(last),
                fmt_day(d),
                d - last
            ),
            format!(
                "最新入库的行为数据停在 {}，本次计算截至 {}（晚了 {} 天，超过 ingest.stale_after_days = {stale_after}）：今晚的导出可能缺失，基于行为的数字会偏低",
                fmt_day(last),
                fmt_day(d),
                d - last
            ),
        ),
        None => (
            "no events are stored: every activity-based figure is empty".to_string(),
            "库中没有任何行为数据：所有基于行为的数字都为空".to_string(),
        ),
        _ => return None,
    };
    Some(Warning::bilingual(Code::StaleData, message, zh))
}
