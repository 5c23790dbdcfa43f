//! Where each key and value of a pipeline file stands, by its path (`points.rules[2].where`):
//! one pass over the YAML's events with the parser serde-saphyr reads with, so a check
//! reports a mistake at the value it is about, not at the first place its text appears.
use serde_saphyr::granit_parser::{Event, Parser};
use std::collections::HashMap;

/// A place in the file: 1-based line and column (in characters), and the byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub line: usize,
    pub col: usize,
    pub offset: usize,
}

/// The places of a file's keys and values by path. A file that does not parse keeps
/// what was read before the mistake (the reader reports the mistake itself).
#[derive(Debug, Clone, Default)]
pub struct Spans {
    values: HashMap<String, Place>,
    keys: HashMap<String, Place>,
}

enum Frame {
    /// A map at `path`; `key` is the key whose value comes next.
    Map { path: String, key: Option<String> },
    /// A list at `path`; `next` is the index of its next item.
    List { path: String, next: usize },
}

fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl Spans {
    pub fn of(text: &str) -> Spans {
        let mut spans = Spans::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let place = Place {
                line: span.start.line(),
                col: span.start.col() + 1,
                // a string source has byte offsets; characters are the fallback
                offset: span.start.byte_offset().unwrap_or(span.start.index()),
            };
            match event {
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Map { path, key: key @ None }) = stack.last_mut() {
                        // a key: its value comes next
                        spans.keys.insert(child(path, &value), place);
                        *key = Some(value.into_owned());
                        continue;
                    }
                    if let Some(path) = Self::value_path(&mut stack) {
                        spans.values.insert(path, place);
                    }
                }
                Event::Alias(..) => {
                    if let Some(path) = Self::value_path(&mut stack) {
                        spans.values.insert(path, place);
                    }
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let path = Self::value_path(&mut stack).unwrap_or_default();
                    spans.values.entry(path.clone()).or_insert(place);
                    stack.push(match event {
                        Event::MappingStart(..) => Frame::Map { path, key: None },
                        _ => Frame::List { path, next: 0 },
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        spans
    }

    /// The path of the value that comes now, and the parent moved past it.
    fn value_path(stack: &mut [Frame]) -> Option<String> {
        match stack.last_mut()? {
            Frame::Map { path, key } => key.take().map(|k| child(path, &k)),
            Frame::List { path, next } => {
                let p = format!("{path}[{next}]");
                *next += 1;
                Some(p)
            }
        }
    }

    /// The place of the value at `path`, or of its nearest enclosing value.
    pub fn value(&self, path: &str) -> Option<Place> {
        let mut p = path;
        loop {
            if let Some(place) = self.values.get(p) {
                return Some(*place);
            }
            p = parent(p)?;
        }
    }

    /// The first key (in the file's order) named `name` at any depth: where a scenario
    /// file sets a key an error names.
    pub fn find_key(&self, name: &str) -> Option<Place> {
        self.keys
            .iter()
            .filter(|(path, _)| path.rsplit(['.', ']']).next() == Some(name))
            .map(|(_, place)| *place)
            .min_by_key(|p| p.offset)
    }

    /// The place of the key that ends `path` (`tiers` for the section), or of its
    /// nearest enclosing key.
    pub fn key(&self, path: &str) -> Option<Place> {
        let mut p = path;
        loop {
            if let Some(place) = self.keys.get(p) {
                return Some(*place);
            }
            p = parent(p)?;
        }
    }
}

/// `a.b[2].c` → `a.b[2]` → `a.b` → `a` → none.
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_and_value_is_found_by_its_path() {
        let text = "program: {name: x, start: 2025-01-01}\npoints:\n  rules:\n    - {id: a, where: \"topic = 'x'\"}\n    - id: b\n      action: post\nmetrics:\n  m1: {count: events}\n";
        let s = Spans::of(text);
        let at = |p: &str| s.value(p).map(|x| (x.line, x.col));
        assert_eq!(at("program.start"), Some((1, 27)));
        assert_eq!(
            at("points.rules[0].where"),
            Some((4, 22)),
            "a quoted value starts at its quote"
        );
        assert_eq!(at("points.rules[1].action"), Some((6, 15)));
        assert_eq!(at("points.rules[1].id"), Some((5, 11)));
        assert_eq!(at("metrics.m1.count"), Some((8, 15)));
        assert_eq!(s.key("metrics.m1").map(|x| (x.line, x.col)), Some((8, 3)));
        assert_eq!(s.key("points").map(|x| (x.line, x.col)), Some((2, 1)));
        // a missing key falls back to its nearest enclosing value
        assert_eq!(at("points.rules[1].daily_cap"), Some((5, 7)));
        assert_eq!(at("nothing.here"), None);
    }

    #[test]
    fn a_file_that_does_not_parse_keeps_what_came_before() {
        let s = Spans::of("program: {name: x}\npoints:\n  rules: [\n");
        assert_eq!(s.value("program.name").map(|x| x.line), Some(1));
    }
}
