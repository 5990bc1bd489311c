//! YAML text to [`Spec`]: syntax errors, wrong types and unknown fields become diagnostics at
//! their line and column, with "did you mean" for a misspelt field or value.

use serde_saphyr::options::Options;

use super::diagnostic::{Diagnostic, Severity};
use super::source::{Position, Source};
use super::types::Spec;
use crate::versions::closest;

/// Parses one spec or profile document.
pub fn parse(source: &Source) -> Result<Spec, Diagnostic> {
    if source.text.trim().is_empty() || source.text.lines().all(is_comment_or_blank) {
        return Err(Diagnostic::new(
            Severity::Error,
            source,
            Position {
                line: 1,
                column: 1,
                len: 1,
            },
            "the spec is empty",
            Some("`kcompile init > cluster.yaml` writes a starter spec".into()),
        ));
    }
    let mut options = Options::default();
    options.with_snippet = false;
    serde_saphyr::from_str_with_options::<Spec>(&source.text, options)
        .map_err(|error| diagnostic(source, &error))
}

fn is_comment_or_blank(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with('#') || line == "---"
}

fn diagnostic(source: &Source, error: &serde_saphyr::Error) -> Diagnostic {
    let position = error.location().map_or(
        Position {
            line: 1,
            column: 1,
            len: 1,
        },
        |location| Position {
            line: usize::try_from(location.line()).unwrap_or(1).max(1),
            column: usize::try_from(location.column()).unwrap_or(1).max(1),
            len: 1,
        },
    );
    let full = error.to_string();
    let message = strip_location(full.lines().next().unwrap_or_default());
    let mut position = position;
    if message.contains("found a tab") || message.contains("tabs disallowed") {
        // The scanner notices a tab late; point at the first indenting tab from its line on.
        if let Some(at) = first_indenting_tab(&source.text, position.line) {
            position = at;
        }
        return Diagnostic::new(
            Severity::Error,
            source,
            position,
            "a tab indents this line; YAML indents with spaces only",
            Some("replace the tab with spaces (set your editor to expand tabs)".into()),
        );
    }
    let (message, hint) = explain(message);
    if let Some(word) = quoted_word(&message) {
        position.len = word.chars().count().max(1);
    }
    Diagnostic::new(Severity::Error, source, position, message, hint)
}

/// Drops the ` at line N, column M` the deserializer appends; the diagnostic carries it.
fn strip_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(index) if message[index..].contains(", column ") => &message[..index],
        _ => message,
    }
}

/// Turns the deserializer's wording into a message and a hint.
fn explain(message: &str) -> (String, Option<String>) {
    for (prefix, what) in [("unknown field `", "field"), ("unknown variant `", "value")] {
        let Some(rest) = message.strip_prefix(prefix) else {
            continue;
        };
        let Some((word, expected)) = rest.split_once('`') else {
            continue;
        };
        let expected: Vec<&str> = expected
            .trim_start_matches(',')
            .trim()
            .trim_start_matches("expected one of")
            .trim_start_matches("expected")
            .split(',')
            .map(|candidate| candidate.trim().trim_matches('`'))
            .filter(|candidate| !candidate.is_empty())
            .collect();
        let listing = expected.join(", ");
        let hint = match closest(word, expected.iter().copied()) {
            Some(suggestion) => {
                format!("did you mean `{suggestion}`? (expected one of: {listing})")
            }
            None if expected.is_empty() => "remove it".to_owned(),
            None => format!("expected one of: {listing}"),
        };
        return (format!("unknown {what} `{word}`"), Some(hint));
    }
    if message.starts_with("duplicate mapping key") {
        let key = message
            .trim_start_matches("duplicate mapping key:")
            .split(',')
            .next()
            .unwrap_or_default()
            .trim();
        return (
            format!("`{key}` is set twice in the same mapping"),
            Some("keep one; the second would silently win in other YAML tools".into()),
        );
    }
    for (kind, range) in [
        ("invalid u8", "a whole number from 0 to 255"),
        ("invalid u32", "a whole number from 0 to 4294967295"),
        (
            "invalid i32",
            "a whole number from -2147483648 to 2147483647",
        ),
        (
            "invalid u64",
            "a whole number from 0 to 18446744073709551615",
        ),
    ] {
        if message.starts_with(kind) {
            return (
                format!("expected {range}"),
                Some("write a plain number in that range".into()),
            );
        }
    }
    if message.starts_with("budget breached") {
        let limit = message
            .split(|c: char| !c.is_ascii_digit())
            .find(|part| !part.is_empty())
            .unwrap_or("its");
        return (
            format!(
                "the spec is larger than kcompile reads: the parser stopped at {limit} YAML nodes"
            ),
            Some("a cluster spec is a few kilobytes; check that this is the right file".into()),
        );
    }
    if message.starts_with("invalid u16") {
        return (
            "expected a port number between 1 and 65535".into(),
            Some("e.g. `port: 6443`".into()),
        );
    }
    if message.starts_with("expected sequence start") {
        return (
            "expected a list".into(),
            Some("write `[a, b]` or one `- item` per line".into()),
        );
    }
    if message.starts_with("expected mapping start") {
        return (
            "expected a mapping of fields".into(),
            Some("write `key: value` pairs under it, e.g. `controlPlaneEndpoint: {host: 10.0.0.100, port: 6443}`".into()),
        );
    }
    if message.starts_with("invalid type: unit value") {
        return (
            "this value is empty".into(),
            Some("give a value, or remove the key; an empty value is YAML's null".into()),
        );
    }
    if message.starts_with("multiple YAML documents") {
        return (
            "the spec has more than one YAML document".into(),
            Some("a spec is one document: remove the `---` and what follows, or move it into the spec's fields (e.g. `kubelet.config`)".into()),
        );
    }
    if message.starts_with("invalid u32") {
        return ("expected a whole number that is 0 or more".into(), None);
    }
    (message.to_owned(), None)
}

/// The first tab in a line's leading whitespace, from line `from` on (or before it, if none).
fn first_indenting_tab(text: &str, from: usize) -> Option<Position> {
    let tabbed = |(index, line): (usize, &str)| {
        let indent = &line[..line.len() - line.trim_start().len()];
        indent.find('\t').map(|column| Position {
            line: index + 1,
            column: column + 1,
            len: 1,
        })
    };
    let lines: Vec<&str> = text.lines().collect();
    let start = from.saturating_sub(1).min(lines.len());
    lines[start..]
        .iter()
        .enumerate()
        .find_map(|(offset, line)| tabbed((start + offset, line)))
        .or_else(|| lines.iter().copied().enumerate().find_map(tabbed))
}

fn quoted_word(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(&message[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> Diagnostic {
        parse(&Source {
            name: "c.yaml".into(),
            text: text.into(),
        })
        .unwrap_err()
    }

    #[test]
    fn unknown_field_suggests_the_close_one() {
        let d = error(
            "apiVersion: kcompile.io/v1alpha1\nkind: Cluster\nnetworking:\n  serviceSubnett: 10.96.0.0/12\n",
        );
        assert_eq!(d.message, "unknown field `serviceSubnett`");
        assert_eq!((d.position.line, d.position.column), (4, 3));
        assert!(d.hint.unwrap().starts_with("did you mean `serviceSubnet`?"));
    }

    #[test]
    fn unknown_variant_lists_choices() {
        let d = error("hosts:\n  - name: a\n    roles: [master]\n");
        assert_eq!(d.message, "unknown value `master`");
        assert!(d.hint.unwrap().contains("control-plane, etcd, worker"));
    }

    #[test]
    fn empty_spec() {
        assert_eq!(error("# nothing\n").message, "the spec is empty");
    }
}
