//! The events as columns: dictionary-coded texts, one buffer for ids, counts in 4
//! bytes while they fit, and loading them from the store grouped by member.
use crate::fmt::{day_of_ts, Day, Ts};
use crate::store::{Manifest, Store};
use anyhow::Result;
use std::collections::HashMap;

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

/// Text values stored once each; rows hold a code (`Dict::NULL` for NULL). A code
/// stands for its text's identity only: codes are given by first sight column by
/// column as months load, so their order means nothing (sort by the text, never by
/// the code).
#[derive(Default)]
pub struct Dict {
    values: Vec<Box<str>>,
    codes: FastMap<Box<str>, u32>,
}

/// A map keyed by short texts looked up once per event (tens of millions of times):
/// foldhash, not SipHash. Codes follow first sight, so the hash never shows.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

impl Dict {
    pub const NULL: u32 = u32::MAX;

    pub fn code(&mut self, v: Option<&str>) -> u32 {
        let Some(v) = v else { return Self::NULL };
        if let Some(c) = self.codes.get(v) {
            return *c;
        }
        let c = self.values.len() as u32;
        self.values.push(v.into());
        self.codes.insert(v.into(), c);
        c
    }

    pub fn get(&self, code: u32) -> Option<&str> {
        self.values.get(code as usize).map(|v| &**v)
    }
}

/// Many distinct texts (event ids, content ids) in one buffer; empty is NULL.
#[derive(Default)]
pub struct TextColumn {
    bytes: String,
    ends: Vec<u64>,
}

impl TextColumn {
    fn push(&mut self, v: Option<&str>) {
        self.bytes.push_str(v.unwrap_or(""));
        self.ends.push(self.bytes.len() as u64);
    }

    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    fn get_opt(&self, i: usize) -> Option<&str> {
        Some(self.get(i)).filter(|s| !s.is_empty())
    }

    /// The values in `order`. Each is two dependent random reads (its bounds, then its
    /// bytes), so both are asked for ahead of their turn: bounds two steps ahead, bytes
    /// one (one at a time, they took 2.5–3 s of loading 20 M events; asked ahead, under 1 s).
    fn gather(self, order: &[u32]) -> TextColumn {
        const AHEAD: usize = 16;
        let mut out = TextColumn {
            bytes: String::with_capacity(self.bytes.len()),
            ends: Vec::with_capacity(order.len()),
        };
        let start_of = |i: usize| if i == 0 { 0 } else { self.ends[i - 1] as usize };
        for (k, i) in order.iter().enumerate() {
            if let Some(far) = order.get(k + 2 * AHEAD) {
                crate::store::prefetch(self.ends.as_ptr().wrapping_add((*far as usize).saturating_sub(1)));
            }
            if let Some(near) = order.get(k + AHEAD) {
                crate::store::prefetch(self.bytes.as_ptr().wrapping_add(start_of(*near as usize)));
            }
            out.push(Some(self.get(*i as usize)));
        }
        out
    }
}

/// Counts (likes, comments, shares, views) in 4 bytes each while they fit, widened
/// to 8 for the whole column the first time one does not (counts go up to 10^15).
#[derive(Clone)]
pub enum CountColumn {
    Small(Vec<u32>),
    Wide(Vec<i64>),
}

impl Default for CountColumn {
    fn default() -> Self {
        CountColumn::Small(Vec::new())
    }
}

impl CountColumn {
    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        match self {
            CountColumn::Small(v) => v[i] as i64,
            CountColumn::Wide(v) => v[i],
        }
    }

    fn push(&mut self, x: i64) {
        match self {
            CountColumn::Small(v) => match u32::try_from(x) {
                Ok(small) => v.push(small),
                Err(_) => {
                    let mut wide: Vec<i64> = v.iter().map(|s| *s as i64).collect();
                    wide.push(x);
                    *self = CountColumn::Wide(wide);
                }
            },
            CountColumn::Wide(v) => v.push(x),
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            CountColumn::Small(v) => v.len(),
            CountColumn::Wide(v) => v.len(),
        }
    }

    fn gather(self, order: &[u32]) -> CountColumn {
        match self {
            CountColumn::Small(v) => CountColumn::Small(order.iter().map(|i| v[*i as usize]).collect()),
            CountColumn::Wide(v) => CountColumn::Wide(order.iter().map(|i| v[*i as usize]).collect()),
        }
    }
}

/// The events as columns (SPEC §3's activity source), sorted by (member,
/// occurred_at, event_id): member ids as dense indices, the short texts (action,
/// topic, task type, channel) as dictionary codes, timestamps and days as integers.
/// About 100 bytes per event, against ~300 for a struct of owned strings.
#[derive(Default)]
pub struct Events {
    /// Index into `Dataset::members`.
    pub member: Vec<u32>,
    pub ts: Vec<Ts>,
    pub day: Vec<Day>,
    pub likes: CountColumn,
    pub comments: CountColumn,
    pub shares: CountColumn,
    pub views: CountColumn,
    ids: TextColumn,
    content_ids: TextColumn,
    pub(super) action: Vec<u32>,
    pub(super) topic: Vec<u32>,
    pub(super) task_type: Vec<u32>,
    pub(super) channel: Vec<u32>,
    pub(super) dict: Dict,
}

/// One event, borrowed from the columns (for code that reads a few events at a time).
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub id: &'a str,
    pub member: usize,
    pub ts: Ts,
    pub day: Day,
    pub action: &'a str,
    pub topic: Option<&'a str>,
    pub task_type: Option<&'a str>,
    pub content_id: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub likes: i64,
    pub comments: i64,
    pub shares: i64,
    pub views: i64,
}

impl Events {
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    pub fn get(&self, i: usize) -> Event<'_> {
        Event {
            id: self.ids.get(i),
            member: self.member[i] as usize,
            ts: self.ts[i],
            day: self.day[i],
            action: self.action(i),
            topic: self.dict.get(self.topic[i]),
            task_type: self.dict.get(self.task_type[i]),
            content_id: self.content_ids.get_opt(i),
            channel: self.dict.get(self.channel[i]),
            likes: self.likes.get(i),
            comments: self.comments.get(i),
            shares: self.shares.get(i),
            views: self.views.get(i),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Event<'_>> {
        (0..self.len()).map(|i| self.get(i))
    }

    pub fn id(&self, i: usize) -> &str {
        self.ids.get(i)
    }

    pub fn member(&self, i: usize) -> usize {
        self.member[i] as usize
    }

    pub fn action(&self, i: usize) -> &str {
        self.dict.get(self.action[i]).unwrap_or("")
    }

    pub fn content_id(&self, i: usize) -> Option<&str> {
        self.content_ids.get_opt(i)
    }

    /// The action's dictionary code, to compare many events with one action cheaply.
    pub fn action_code(&self, action: &str) -> Option<u32> {
        self.dict.codes.get(action).copied()
    }

    pub fn action_is(&self, i: usize, code: Option<u32>) -> bool {
        code == Some(self.action[i])
    }

    /// A count field (likes, comments, shares, views) of event `i`; 0 for the others.
    pub fn count(&self, field: Field, i: usize) -> i64 {
        match field {
            Field::Likes => self.likes.get(i),
            Field::Comments => self.comments.get(i),
            Field::Shares => self.shares.get(i),
            Field::Views => self.views.get(i),
            _ => 0,
        }
    }

    /// A text field as a dictionary code (distinct counts compare codes, not strings);
    /// None for fields that are not dictionary-coded.
    pub fn code_of(&self, field: Field, i: usize) -> Option<u32> {
        match field {
            Field::Action => Some(self.action[i]),
            Field::Topic => Some(self.topic[i]),
            Field::TaskType => Some(self.task_type[i]),
            Field::Channel => Some(self.channel[i]),
            _ => None,
        }
    }

    /// One event appended (tests build events this way; loading goes column by column).
    #[cfg(test)]
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        member: u32,
        ts: Ts,
        day: Day,
        id: &str,
        action: &str,
        topic: Option<&str>,
        task_type: Option<&str>,
        content_id: Option<&str>,
        channel: Option<&str>,
        counts: [i64; 4],
    ) {
        self.member.push(member);
        self.ts.push(ts);
        self.day.push(day);
        self.ids.push(Some(id));
        self.action.push(self.dict.code(Some(action)));
        self.topic.push(self.dict.code(topic));
        self.task_type.push(self.dict.code(task_type));
        self.content_ids.push(content_id);
        self.channel.push(self.dict.code(channel));
        self.likes.push(counts[0]);
        self.comments.push(counts[1]);
        self.shares.push(counts[2]);
        self.views.push(counts[3]);
    }

    /// The rows in `order`, every column gathered (the dictionary is shared as is).
    /// Each old column is freed as soon as its new one exists: the peak is the events
    /// plus one column, not twice the events.
    /// Columns are gathered two at a time on the cores (random reads dominate).
    fn gather(self, order: &[u32]) -> Events {
        fn pick<T: Copy + Send + Sync>(v: Vec<T>, order: &[u32]) -> Vec<T> {
            order.iter().map(|i| v[*i as usize]).collect()
        }
        use rayon::join;
        let Events {
            member,
            ts,
            day,
            likes,
            comments,
            shares,
            views,
            ids,
            content_ids,
            action,
            topic,
            task_type,
            channel,
            dict,
        } = self;
        let (ids, content_ids) = join(|| ids.gather(order), || content_ids.gather(order));
        let (member, ts) = join(|| pick(member, order), || pick(ts, order));
        let (day, action) = join(|| pick(day, order), || pick(action, order));
        let (topic, task_type) = join(|| pick(topic, order), || pick(task_type, order));
        let (channel, likes) = join(|| pick(channel, order), || likes.gather(order));
        let (comments, shares) = join(|| comments.gather(order), || shares.gather(order));
        let views = views.gather(order);
        Events {
            member,
            ts,
            day,
            likes,
            comments,
            shares,
            views,
            ids,
            content_ids,
            action,
            topic,
            task_type,
            channel,
            dict,
        }
    }
}

/// Events with date ≤ D straight from the Parquet columns into `Events`, in store
/// order, with member codes into the returned list of member ids (first seen first).
pub(super) fn load_events(store: &Store, manifest: &Manifest, as_of: Day) -> Result<(Events, Vec<String>)> {
    let mut out = Events::default();
    let mut members = Members::default();
    // one month partition in memory at a time; months after D's are not read at all
    let last_month = crate::fmt::fmt_day(as_of)[..7].to_string();
    let rels: Vec<&String> = manifest
        .events
        .iter()
        .filter(|(month, _)| **month <= last_month)
        .map(|(_, rel)| rel)
        .collect();
    for rel in rels {
        read_month(store, rel, as_of, &mut out, &mut members)?;
    }
    if out.len() >= u32::MAX as usize {
        anyhow::bail!("the store holds more than 4 billion events: more than one run can hold (split the program)");
    }
    // the partitions' frames are freed: hand their memory back before the stages
    crate::store::release_freed_memory();
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
fn read_month(store: &Store, rel: &str, as_of: Day, out: &mut Events, members: &mut Members) -> Result<()> {
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
    // the rows with date ≤ D (a month holds later days only when D is inside it)
    let keep: Option<Vec<bool>> = days
        .iter()
        .any(|d| *d > as_of)
        .then(|| days.iter().map(|d| *d <= as_of).collect());
    let kept = |i: usize| keep.as_ref().is_none_or(|k| k[i]);
    for (i, (t, d)) in seconds.iter().zip(&days).enumerate() {
        if kept(i) {
            out.ts.push(*t);
            out.day.push(*d);
        }
    }
    drop((seconds, days));
    coded(&text("member_id")?, &kept, &mut out.member, |id| {
        members.code(id.unwrap_or(""))
    });
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

/// Each kept value of a text column coded by `code` (None for null) and appended to `out`, which is asked
/// once per distinct short value: a value of up to 12 bytes is held whole in its Arrow
/// view, so the view's 16 bytes, as one number, stand for it without hashing or
/// comparing its bytes. (A view's padding is zero in polars; were it not, a value
/// would only be asked for once per padding, and get the same code.)
fn coded(
    values: &polars::prelude::StringChunked,
    kept: &impl Fn(usize) -> bool,
    out: &mut Vec<u32>,
    mut code: impl FnMut(Option<&str>) -> u32,
) {
    use polars_arrow::array::{Array, View};
    let mut short: FastMap<u128, u32> = FastMap::default();
    out.reserve(values.len());
    let mut row = 0;
    for array in values.downcast_iter() {
        for (i, view) in array.views().iter().enumerate() {
            row += 1;
            if !kept(row - 1) {
                continue;
            }
            let c = if !array.is_valid(i) {
                code(None)
            } else if view.length <= View::MAX_INLINE_SIZE {
                *short
                    .entry(view.as_u128())
                    .or_insert_with(|| code(Some(array.value(i))))
            } else {
                code(Some(array.value(i)))
            };
            out.push(c);
        }
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
    use super::*;

    #[test]
    fn counts_widen_when_one_does_not_fit_in_four_bytes() {
        let mut c = CountColumn::default();
        c.push(7);
        c.push(u32::MAX as i64);
        assert!(matches!(c, CountColumn::Small(_)));
        c.push(1_000_000_000_000_000);
        assert!(matches!(c, CountColumn::Wide(_)));
        assert_eq!(
            (c.get(0), c.get(1), c.get(2)),
            (7, u32::MAX as i64, 1_000_000_000_000_000)
        );
        let g = c.gather(&[2, 0]);
        assert_eq!((g.get(0), g.get(1)), (1_000_000_000_000_000, 7));
    }

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

    /// A gather past the rows it asks for ahead (and of empty values): each value is
    /// the one at its place in the order.
    #[test]
    fn text_columns_gather_in_any_order() {
        let mut t = TextColumn::default();
        let values: Vec<String> = (0..500)
            .map(|i| if i % 7 == 0 { String::new() } else { format!("v{i}") })
            .collect();
        for v in &values {
            t.push(Some(v));
        }
        let order: Vec<u32> = (0..500u32).map(|k| k * 173 % 500).collect();
        let g = t.gather(&order);
        for (k, i) in order.iter().enumerate() {
            assert_eq!(g.get(k), values[*i as usize]);
        }
    }

    #[test]
    fn text_columns_and_dictionaries_give_back_what_was_pushed() {
        let mut t = TextColumn::default();
        t.push(Some("E1"));
        t.push(None);
        t.push(Some("长文本"));
        assert_eq!((t.get(0), t.get_opt(1), t.get(2)), ("E1", None, "长文本"));
        let mut d = Dict::default();
        let (a, b, n) = (d.code(Some("post")), d.code(Some("like")), d.code(None));
        assert_eq!(
            (d.code(Some("post")), d.get(a), d.get(b), d.get(n)),
            (a, Some("post"), Some("like"), None)
        );
    }
}
