//! Errors and warnings about a spec, each at a line and column of the source that caused it, with
//! a hint; rendered as `FILE:LINE:COL: error: what`, the offending line with a caret, and the hint.

use std::fmt;

use super::source::{Position, Source};

pub use crate::severity::Severity;

/// One finding about a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The source's name, as rendered.
    pub file: String,
    /// Where in the source.
    pub position: Position,
    /// What is wrong, in one line.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The source line at `position`, for the snippet.
    pub line_text: Option<String>,
}

impl Diagnostic {
    /// A diagnostic about `source` at `position`.
    pub fn new(
        severity: Severity,
        source: &Source,
        position: Position,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Diagnostic {
        let line_text = position
            .line
            .checked_sub(1)
            .and_then(|index| source.text.lines().nth(index))
            .map(str::to_owned);
        Diagnostic {
            severity,
            file: source.name.clone(),
            position,
            message: message.into(),
            hint,
            line_text,
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let Position { line, column, len } = self.position;
        writeln!(
            f,
            "{}:{line}:{column}: {label}: {}",
            self.file, self.message
        )?;
        if let Some(text) = &self.line_text {
            let gutter = " ".repeat(line.to_string().len());
            let (text, column) = window(&text.replace('\t', " "), column);
            let indent = " ".repeat(column.saturating_sub(1).min(text.chars().count()));
            let room = text
                .chars()
                .count()
                .saturating_sub(column.saturating_sub(1));
            let carets = "^".repeat(len.clamp(1, room.max(1)));
            writeln!(f, "{gutter} |")?;
            writeln!(f, "{line} | {text}")?;
            writeln!(f, "{gutter} | {indent}{carets}")?;
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Characters of a long source line shown around the column.
const WINDOW: usize = 100;

/// The part of `text` a snippet shows: all of it when short, else [`WINDOW`] characters around
/// `column` with `…` at the cut ends; control characters escaped. Returns it with the column in it.
fn window(text: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = text.chars().collect();
    let safe = |part: &[char]| crate::shown::value(&part.iter().collect::<String>(), usize::MAX);
    if chars.len() <= WINDOW {
        let before = safe(&chars[..column.saturating_sub(1).min(chars.len())]);
        return (safe(&chars), before.chars().count() + 1);
    }
    let start = column.saturating_sub(1 + WINDOW / 2).min(chars.len());
    let end = (start + WINDOW).min(chars.len());
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    let before = safe(&chars[start..column.saturating_sub(1).clamp(start, end)]);
    let column = shown.chars().count() + before.chars().count() + 1;
    shown.push_str(&safe(&chars[start..end]));
    if end < chars.len() {
        shown.push('…');
    }
    (shown, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_snippet_and_hint() {
        let source = Source {
            name: "cluster.yaml".into(),
            text: "networking:\n  podSubnet: 10.96.0.0/16\n".into(),
        };
        let position = Position {
            line: 2,
            column: 14,
            len: 12,
        };
        let diagnostic = Diagnostic::new(
            Severity::Error,
            &source,
            position,
            "overlap",
            Some("pick another".into()),
        );
        assert_eq!(
            diagnostic.to_string(),
            "cluster.yaml:2:14: error: overlap\n  |\n2 |   podSubnet: 10.96.0.0/16\n  |              ^^^^^^^^^^^^\n  hint: pick another\n"
        );
    }

    #[test]
    fn a_huge_line_is_shown_as_a_window_around_the_column() {
        let (shown, column) = window(&"x".repeat(1_000_000), 500_000);
        assert_eq!(shown.chars().count(), WINDOW + 2);
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        assert_eq!(column, WINDOW / 2 + 2);
        let (shown, column) = window("name: lab\u{1b}[2J", 7);
        assert_eq!(shown, "name: lab\\u{1b}[2J");
        assert_eq!(column, 7);
    }
}
