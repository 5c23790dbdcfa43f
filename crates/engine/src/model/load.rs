//! Loading the events from the store: each month partition read column by column into
//! `Events`, then grouped by member.
use super::events::{Events, FastMap};
use crate::fmt::{day_of_ts, Day, Ts};
use crate::shard::Shard;
use crate::store::{Manifest, Store};
use anyhow::Result;
use std::collections::HashMap;

/// Events with date ≤ D straight from the Parquet columns into `Events`, in store
/// order, with member codes into the returned list of member ids (first seen first).
pub(super) fn load_events(
    store: &Store,
    manifest: &Manifest,
    as_of: Day,
    shard: Shard,
) -> Result<(Events, Vec<String>)> {
    let mut out = Events::default();
    let mut members = Members::default();
    // one month partition in memory at a time; months after D's are not read at all
    let last_month = super::split::month_of(as_of);
    let rels: Vec<&String> = manifest
        .events
        .iter()
        .filter(|(month, _)| **month <= last_month)
        .map(|(_, rel)| rel)
        .collect();
    for rel in rels {
        read_month(store, rel, as_of, shard, &mut out, &mut members)?;
    }
    if out.len() >= u32::MAX as usize {
        anyhow::bail!("the store holds more than 4 billion events: more than one run can hold (split the program)");
    }
    Ok((out, members.ids))
}

/// Member ids coded by first sight: `ids[code]`.
#[derive(Default)]
struct Members {
    codes: FastMap<String, u32>,
    ids: Vec<String>,
}

impl Members {
    fn code(&mut self, id: &str) -> u32 {
        match self.codes.get(id) {
            Some(c) => *c,
            None => {
                let c = self.ids.len() as u32;
                self.ids.push(id.to_string());
                self.codes.insert(id.to_string(), c);
                c
            }
        }
    }
}

/// Append one month partition's events with date ≤ D to `out`, in store order (member
/// codes into `members`). Column by column: each loop does one kind of work over one
/// array (row by row, with an iterator per column and a hash lookup per text, this
/// was most of a run's load: 6 s of 20 M events, now about 2).
fn read_month(
    store: &Store,
    rel: &str,
    as_of: Day,
    shard: Shard,
    out: &mut Events,
    members: &mut Members,
) -> Result<()> {
    use polars::prelude::*;
    let df = store.frames_of(rel, None)?;
    let text = |name: &str| -> Result<StringChunked> { Ok(df.column(name)?.str()?.clone()) };
    let count = |name: &str| -> Result<Int64Chunked> { Ok(df.column(name)?.i64()?.clone()) };
    let seconds: Vec<Ts> = df
        .column("occurred_at")?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .map(|t| t.unwrap_or(0) / 1000)
        .collect();
    let days: Vec<Day> = seconds.iter().map(|t| day_of_ts(*t)).collect();
    let member_ids = text("member_id")?;
    // a shard's members only (each distinct id hashed once per month)
    let in_shard: Option<Vec<bool>> = (shard.count > 1).then(|| {
        let mut seen: FastMap<&str, bool> = FastMap::default();
        member_ids
            .iter()
            .map(|id| {
                let id = id.unwrap_or("");
                *seen.entry(id).or_insert_with(|| shard.holds(id))
            })
            .collect()
    });
    // the rows with date ≤ D (a month holds later days only when D is inside it)
    let keep: Option<Vec<bool>> = match in_shard {
        Some(mine) => Some(days.iter().zip(mine).map(|(d, m)| m && *d <= as_of).collect()),
        None => days
            .iter()
            .any(|d| *d > as_of)
            .then(|| days.iter().map(|d| *d <= as_of).collect()),
    };
    let kept = |i: usize| keep.as_ref().is_none_or(|k| k[i]);
    for (i, (t, d)) in seconds.iter().zip(&days).enumerate() {
        if kept(i) {
            out.ts.push(*t);
            out.day.push(*d);
        }
    }
    drop((seconds, days));
    coded(&member_ids, &kept, &mut out.member, |id| members.code(id.unwrap_or("")));
    let dict = &mut out.dict;
    coded(&text("action")?, &kept, &mut out.action, |v| {
        dict.code(Some(v.unwrap_or("")))
    });
    coded(&text("topic")?, &kept, &mut out.topic, |v| dict.code(v));
    coded(&text("task_type")?, &kept, &mut out.task_type, |v| dict.code(v));
    coded(&text("channel")?, &kept, &mut out.channel, |v| dict.code(v));
    for (name, column) in [("event_id", &mut out.ids), ("content_id", &mut out.content_ids)] {
        let values = text(name)?;
        for (i, v) in values.iter().enumerate() {
            if kept(i) {
                // a missing value reads as empty (an event id is never missing)
                column.push(v);
            }
        }
    }
    for (name, column) in [
        ("likes", &mut out.likes),
        ("comments", &mut out.comments),
        ("shares", &mut out.shares),
        ("views", &mut out.views),
    ] {
        let values = count(name)?;
        for (i, v) in values.iter().enumerate() {
            if kept(i) {
                column.push(v.unwrap_or(0));
            }
        }
    }
    Ok(())
}

/// Each kept value of a text column coded by `code` (None for null) and appended to
/// `out`; `code` is asked once per distinct value of the month (a map of the values
/// seen answers the rest).
fn coded(
    values: &polars::prelude::StringChunked,
    kept: &impl Fn(usize) -> bool,
    out: &mut Vec<u32>,
    mut code: impl FnMut(Option<&str>) -> u32,
) {
    let mut seen: FastMap<&str, u32> = FastMap::default();
    let mut null = None;
    out.reserve(values.len());
    for (row, value) in values.iter().enumerate() {
        if !kept(row) {
            continue;
        }
        let c = match value {
            None => *null.get_or_insert_with(|| code(None)),
            Some(v) => match seen.get(v) {
                Some(c) => *c,
                None => {
                    let c = code(Some(v));
                    seen.insert(v, c);
                    c
                }
            },
        };
        out.push(c);
    }
}

/// The events with member codes turned into member indices, sorted by (member,
/// occurred_at, event_id).
pub(super) fn sorted_by_member(mut ev: Events, member_ids: &[String], index: &HashMap<String, usize>) -> Events {
    let to_index: Vec<u32> = member_ids.iter().map(|id| index[id] as u32).collect();
    for m in ev.member.iter_mut() {
        *m = to_index[*m as usize];
    }
    let in_time_order = sorted_by_time(&ev);
    if std::env::var_os("KOC_TIMINGS").is_some() {
        eprintln!("timing load: events in time order: {in_time_order}");
    }
    let order = if in_time_order {
        // the partitions, read in month order, are each sorted by (occurred_at,
        // event_id): a stable counting sort by member gives (member, occurred_at,
        // event_id) in linear time
        counting_order(&ev.member, to_index.len().max(1).max(index.len()))
    } else {
        // (member, ts, row) keys sort as plain integers; the event id only breaks ties
        let mut keys: Vec<(u32, Ts, u32)> = (0..ev.len()).map(|i| (ev.member[i], ev.ts[i], i as u32)).collect();
        keys.sort_unstable_by(|a, b| {
            (a.0, a.1)
                .cmp(&(b.0, b.1))
                .then_with(|| ev.ids.get(a.2 as usize).cmp(ev.ids.get(b.2 as usize)))
        });
        keys.into_iter().map(|k| k.2).collect()
    };
    ev.gather(&order)
}

/// Whether the events are in (occurred_at, event_id) order, as the store writes them.
fn sorted_by_time(ev: &Events) -> bool {
    // the ids are read only where two times are equal (built as a tuple, both were read
    // for every row)
    (1..ev.len()).all(|i| match ev.ts[i - 1].cmp(&ev.ts[i]) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Equal => ev.ids.get(i - 1) <= ev.ids.get(i),
        std::cmp::Ordering::Greater => false,
    })
}

/// The rows' order grouped by member, stable within a member.
fn counting_order(member: &[u32], members: usize) -> Vec<u32> {
    let mut start = vec![0u32; members + 1];
    for m in member {
        start[*m as usize + 1] += 1;
    }
    for k in 1..start.len() {
        start[k] += start[k - 1];
    }
    let mut order = vec![0u32; member.len()];
    for (i, m) in member.iter().enumerate() {
        let slot = &mut start[*m as usize];
        order[*slot as usize] = i as u32;
        *slot += 1;
    }
    order
}

#[cfg(test)]
mod tests {
    use super::super::events::Dict;
    use super::*;

    fn events(rows: &[(u32, Ts, &str)]) -> Events {
        let mut ev = Events::default();
        for (m, ts, id) in rows {
            ev.push(*m, *ts, day_of_ts(*ts), id, "post", None, None, None, None, [0; 4]);
        }
        ev
    }

    #[test]
    fn events_are_grouped_by_member_then_time_then_id_either_way() {
        let ids = vec!["b".to_string(), "a".to_string()];
        let index: HashMap<String, usize> = [("a".to_string(), 0), ("b".to_string(), 1)].into();
        let want = |ev: &Events| {
            (0..ev.len())
                .map(|i| (ev.member[i], ev.ts[i], ev.id(i).to_string()))
                .collect::<Vec<_>>()
        };
        let expected = vec![
            (0, 5, "e2".to_string()),
            (0, 9, "e4".to_string()),
            (1, 5, "e1".to_string()),
            (1, 5, "e3".to_string()),
        ];
        // in the store's time order: the counting sort
        let ordered = events(&[(0, 5, "e1"), (1, 5, "e2"), (0, 5, "e3"), (1, 9, "e4")]);
        assert!(sorted_by_time(&ordered));
        assert_eq!(want(&sorted_by_member(ordered, &ids, &index)), expected);
        // any other order: the comparison sort, same result
        let shuffled = events(&[(1, 9, "e4"), (0, 5, "e3"), (1, 5, "e2"), (0, 5, "e1")]);
        assert!(!sorted_by_time(&shuffled));
        assert_eq!(want(&sorted_by_member(shuffled, &ids, &index)), expected);
    }

    /// Short and long values, nulls, two chunks and rows not kept: each kept value's
    /// code is the one a plain lookup by its text gives, asked once per short value.
    #[test]
    fn texts_are_coded_by_their_views() {
        use polars::prelude::*;
        let values = [
            Some("签到"),
            None,
            Some("a much longer value"),
            Some("签到"),
            Some("评论"),
            Some(""),
        ];
        let mut ca = StringChunked::new("v".into(), &values[..3]);
        ca.append(&StringChunked::new("v".into(), &values[3..])).unwrap();
        assert_eq!(ca.chunks().len(), 2);
        let mut dict = Dict::default();
        let mut asked = 0;
        let mut codes = Vec::new();
        let kept = |i: usize| i != 4;
        coded(&ca, &kept, &mut codes, |v| {
            asked += 1;
            dict.code(v)
        });
        let expected: Vec<u32> = [0usize, 1, 2, 3, 5]
            .iter()
            .map(|i| {
                dict.codes
                    .get(values[*i].unwrap_or("\0"))
                    .copied()
                    .unwrap_or(Dict::NULL)
            })
            .collect();
        assert_eq!(codes, expected);
        assert_eq!(codes[0], codes[3], "one value, one code");
        // 签到 once (its view), the null, the long value, and the empty value
        assert_eq!(asked, 4);
        assert_eq!(dict.get(codes[2]), Some("a much longer value"));
        assert_eq!(dict.get(codes[4]), Some(""));
        assert_eq!(codes[1], Dict::NULL);
    }

    /// Times equal and ids falling is out of order, as is time falling with ids rising.
    #[test]
    fn time_order_reads_ids_only_to_break_ties() {
        assert!(sorted_by_time(&events(&[(0, 5, "a"), (0, 5, "b"), (0, 6, "a")])));
        assert!(!sorted_by_time(&events(&[(0, 5, "b"), (0, 5, "a")])));
        assert!(!sorted_by_time(&events(&[(0, 6, "a"), (0, 5, "b")])));
    }
}
