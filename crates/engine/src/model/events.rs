//! The events as columns: dictionary-coded texts, one buffer for ids, counts in 4
//! bytes while they fit (`load.rs` fills them from the store).
use crate::fmt::{Day, Ts};
use std::collections::HashMap;

use crate::table::Field;

/// Text values stored once each; rows hold a code (`Dict::NULL` for NULL). A code
/// stands for its text's identity only: codes are given by first sight column by
/// column as months load, so their order means nothing (sort by the text, never by
/// the code).
#[derive(Default)]
pub struct Dict {
    values: Vec<Box<str>>,
    pub(super) codes: FastMap<Box<str>, u32>,
}

/// A map keyed by short texts looked up once per event (tens of millions of times):
/// foldhash, not SipHash. Codes follow first sight, so the hash never shows.
pub(super) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

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
    pub(super) fn push(&mut self, v: Option<&str>) {
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
    /// bytes): the bounds of a block of values are read first, in a loop of
    /// independent loads the CPU keeps in flight together, then their bytes (one read
    /// after the other, these took 2.5–3 s of loading 20 M events).
    fn gather(self, order: &[u32]) -> TextColumn {
        const BLOCK: usize = 16;
        let mut out = TextColumn {
            bytes: String::with_capacity(self.bytes.len()),
            ends: Vec::with_capacity(order.len()),
        };
        let mut bounds = [(0usize, 0usize); BLOCK];
        for block in order.chunks(BLOCK) {
            for (b, i) in bounds.iter_mut().zip(block) {
                let i = *i as usize;
                *b = (
                    if i == 0 { 0 } else { self.ends[i - 1] as usize },
                    self.ends[i] as usize,
                );
            }
            for (start, end) in &bounds[..block.len()] {
                out.bytes.push_str(&self.bytes[*start..*end]);
                out.ends.push(out.bytes.len() as u64);
            }
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

    pub(super) fn push(&mut self, x: i64) {
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
    pub(super) ids: TextColumn,
    pub(super) content_ids: TextColumn,
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
    pub(super) fn push(
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
    pub(super) fn gather(self, order: &[u32]) -> Events {
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
