//! How a diff report is printed: full (the default), `--stat`, `--name-only`, or `-o json`. Every
//! format prints only what [`describe`](super::describe) made of a file: secrets are already
//! keyed fingerprints or `<redacted>`, and a file that could not be redacted carries a note, never
//! its text.

use std::fmt::Write;

use super::{Action, Detail, Report};

/// Which text view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// Every change with its detail.
    #[default]
    Full,
    /// One line per changed file with its line counts.
    Stat,
    /// Only the changed paths.
    NameOnly,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text for people.
    Text {
        /// Which view.
        style: Style,
        /// ANSI colors.
        color: bool,
    },
    /// JSON for tools.
    Json,
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl Report {
    /// The report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => crate::json::document(self),
            // File names and lines come from the machine: shown terminal-safe, but for the
            // colors this report paints itself.
            Format::Text { style, color } => crate::shown::terminal_safe_keeping(
                &self.text(style, color),
                &[RED, GREEN, YELLOW, CYAN, BOLD, RESET],
            ),
        }
    }

    fn text(&self, style: Style, color: bool) -> String {
        let paint = |code: &str, text: &str| {
            if color {
                format!("{code}{text}{RESET}")
            } else {
                text.to_owned()
            }
        };
        let mut out = String::new();
        let changed = self
            .changes
            .iter()
            .filter(|c| c.action != Action::Unchanged);
        for change in changed {
            let (sign, code) = match change.action {
                Action::Add => ("+", GREEN),
                Action::Change => ("~", YELLOW),
                Action::Remove => ("-", RED),
                Action::Unknown => ("?", CYAN),
                Action::Unchanged => continue,
            };
            if style == Style::NameOnly {
                let _ = writeln!(out, "{}", change.path);
                continue;
            }
            let mut head = format!("{sign} {}", change.path);
            if let Some((old, new)) = &change.mode {
                head.push_str(&format!("  (mode {old} → {new})"));
            }
            if style == Style::Stat {
                let counts = match &change.detail {
                    Detail::Text { diff, .. } => {
                        let plus = diff
                            .lines()
                            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
                            .count();
                        let minus = diff
                            .lines()
                            .filter(|l| l.starts_with('-') && !l.starts_with("---"))
                            .count();
                        format!(" | +{plus} -{minus}")
                    }
                    Detail::Secret { .. } => " | secret".into(),
                    Detail::Certificate { .. } => " | certificate".into(),
                    Detail::Note { reason } if reason.contains("withheld") => " | withheld".into(),
                    Detail::Note { .. } if change.action == Action::Change => " | note".into(),
                    _ => String::new(),
                };
                let _ = writeln!(out, "{}{counts}", paint(code, &head));
                continue;
            }
            match &change.detail {
                Detail::None => {
                    let _ = writeln!(out, "{}", paint(code, &head));
                }
                Detail::Secret { old, new } => {
                    let _ = writeln!(out, "{}: changed ({old} → {new})", paint(code, &head));
                }
                Detail::Note { reason } => {
                    let _ = writeln!(out, "{}: {reason}", paint(code, &head));
                }
                Detail::Certificate { lines } => {
                    let _ = writeln!(out, "{}", paint(code, &head));
                    for line in lines {
                        let _ = writeln!(out, "    {line}");
                    }
                }
                Detail::Text { summary, diff } => {
                    match summary {
                        Some(summary) => {
                            let _ = writeln!(out, "{}: {summary}", paint(code, &head));
                        }
                        None => {
                            let _ = writeln!(out, "{}", paint(code, &head));
                        }
                    }
                    for line in diff.lines() {
                        let line_code = if line.starts_with("+++") || line.starts_with("---") {
                            BOLD
                        } else if line.starts_with('+') {
                            GREEN
                        } else if line.starts_with('-') {
                            RED
                        } else if line.starts_with("@@") {
                            CYAN
                        } else {
                            ""
                        };
                        let _ = writeln!(
                            out,
                            "    {}",
                            if line_code.is_empty() {
                                line.to_owned()
                            } else {
                                paint(line_code, line)
                            }
                        );
                    }
                }
            }
        }
        if style == Style::NameOnly {
            return out;
        }
        for restart in &self.restarts {
            let _ = writeln!(
                out,
                "{} {}",
                paint(BOLD, &format!("restart: {}", restart.component)),
                restart.reason
            );
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "{} {warning}", paint(YELLOW, "warning:"));
        }
        let s = &self.summary;
        let unknown = if s.unknown > 0 {
            format!(", {} unknown", s.unknown)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{}: {} to add, {} to change, {} to remove, {} unchanged{unknown}.",
            self.host, s.add, s.change, s.remove, s.unchanged
        );
        out
    }
}
