//! A YAML source (a spec file, stdin, or an embedded profile) and the map from each value's path
//! (`hosts[1].address`) to its line and column, so that validation can point at what it rejects.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser};

/// One YAML document the user (or a profile) wrote.
#[derive(Debug, Clone)]
pub struct Source {
    /// How diagnostics name it: the path as given, `<stdin>`, or `profiles/<name>.yaml`.
    pub name: String,
    /// The full text.
    pub text: String,
}

/// A position in a source: 1-based line and column, and the length of the marked token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Characters to underline (at least 1).
    pub len: usize,
}

/// Where each path's key and value are in a source.
#[derive(Debug, Default)]
pub struct SourceMap {
    values: HashMap<String, Position>,
    keys: HashMap<String, Position>,
}

impl SourceMap {
    /// Maps every key and value of `text`. Text that does not parse maps only what came before
    /// the error; the deserializer reports the error itself.
    pub fn of(text: &str) -> SourceMap {
        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        for event in Parser::new_from_str(text) {
            let Ok((event, span)) = event else { break };
            let position = Position {
                line: span.start.line(),
                column: span.start.col() + 1,
                len: if span.end.line() == span.start.line() {
                    span.end.col().saturating_sub(span.start.col()).max(1)
                } else {
                    1
                },
            };
            match event {
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Map {
                        path,
                        key: key @ None,
                    }) = stack.last_mut()
                    {
                        map.keys.insert(child(path, &value), position);
                        *key = Some(value.into_owned());
                    } else {
                        let path = next_value_path(&mut stack);
                        map.values.insert(path, position);
                    }
                }
                Event::Alias(_) => {
                    let path = next_value_path(&mut stack);
                    map.values.insert(path, position);
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let path = next_value_path(&mut stack);
                    map.values.insert(path.clone(), position);
                    stack.push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Map { path, key: None }
                    } else {
                        Frame::Seq { path, index: 0 }
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        map
    }

    /// The position of the value at `path`; for a path nobody wrote, the key of its nearest
    /// written ancestor (`external:` when `external.endpoints` is missing).
    pub fn value(&self, path: &str) -> Option<Position> {
        if let Some(position) = self.values.get(path) {
            return Some(*position);
        }
        let mut path = path;
        loop {
            path = parent(path)?;
            if let Some(position) = self.keys.get(path).or_else(|| self.values.get(path)) {
                return Some(*position);
            }
        }
    }

    /// The position of the key that holds `path`, if `path` is a mapping entry.
    pub fn key(&self, path: &str) -> Option<Position> {
        self.keys.get(path).copied()
    }

    /// Whether this source itself wrote a value at `path`.
    pub fn contains(&self, path: &str) -> bool {
        self.values.contains_key(path)
    }
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, index: usize },
}

/// The path of the value that the next node event starts, advancing the enclosing frame.
fn next_value_path(stack: &mut [Frame]) -> String {
    match stack.last_mut() {
        None => String::new(),
        Some(Frame::Map { path, key }) => {
            if let Some(key) = key.take() {
                child(path, &key)
            } else {
                // A collection used as a key: record it somewhere harmless.
                *key = Some("?".to_owned());
                child(path, "?")
            }
        }
        Some(Frame::Seq { path, index }) => {
            *index += 1;
            element(path, *index - 1)
        }
    }
}

/// The path of `key` under `path`: `a.b`, or `a["x.y/z"]` when the key holds a dot or bracket.
pub fn child(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && !key.contains(['.', '[', ']', '"']);
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

/// The path of element `index` of the sequence at `path`.
pub fn element(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// The path one level up, or `None` at the root.
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = if path.ends_with(']') {
        // `a[3]` or `a["x.y"]`: cut at the bracket that opens the last segment.
        let quoted = path.ends_with("\"]");
        let body = &path[..path.len() - if quoted { 2 } else { 1 }];
        if quoted {
            body.rfind("[\"").unwrap_or(0)
        } else {
            body.rfind('[').unwrap_or(0)
        }
    } else {
        path.rfind('.').unwrap_or(0)
    };
    Some(&path[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keys_values_and_elements() {
        let map = SourceMap::of(
            "name: x\nhosts:\n  - name: a\n    address: 10.0.0.1\n    labels:\n      a.b/c: d\n",
        );
        assert_eq!(map.value("name").unwrap().line, 1);
        let address = map.value("hosts[0].address").unwrap();
        assert_eq!((address.line, address.column, address.len), (4, 14, 8));
        assert_eq!(map.key("hosts[0].address").unwrap().column, 5);
        assert_eq!(map.value("hosts[0][\"a.b/c\"]"), map.value("hosts[0]"));
        // A missing field points at its parent's key.
        assert_eq!(map.value("hosts[0].labels.x").unwrap().column, 5);
        assert_eq!(map.value("hosts[0].labels[\"a.b/c\"]").unwrap().line, 6);
        // A path nobody wrote falls back to its nearest written ancestor.
        assert_eq!(map.value("hosts[0].roles[2]").unwrap().line, 3);
        assert_eq!(map.value("nothing.here").unwrap().line, 1);
    }

    #[test]
    fn parents() {
        assert_eq!(parent("a.b"), Some("a"));
        assert_eq!(parent("a[2]"), Some("a"));
        assert_eq!(parent("a[\"x.y\"]"), Some("a"));
        assert_eq!(parent("a[1].b"), Some("a[1]"));
        assert_eq!(parent("a"), Some(""));
        assert_eq!(parent(""), None);
    }
}
