//! Text from untrusted places (spec values, file names, files on a machine) shown on a terminal:
//! control and escape bytes are written as escapes (`\u{1b}`), never raw, and very long lines are
//! cut with an ellipsis, so a message can neither drive the terminal nor flood it.

use std::fmt::Write as _;

/// Longest line a message shows, in characters; the rest is cut with `…`.
pub const MAX_LINE: usize = 400;

/// `text` with every control character but the line break escaped, each line cut at
/// [`MAX_LINE`] characters.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(1 << 16));
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        out.push_str(&value(line, MAX_LINE));
    }
    out
}

/// [`terminal_safe`], except that the escape sequences in `allowed` (the colors a report paints
/// itself) are kept. Any other escape byte is written as `\u{1b}`.
pub fn terminal_safe_keeping(text: &str, allowed: &[&str]) -> String {
    const MARK: char = '\u{1b}';
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let mut pieces = line.split(MARK);
        out.push_str(&value(pieces.next().unwrap_or_default(), MAX_LINE));
        for piece in pieces {
            if let Some(code) = allowed
                .iter()
                .find(|code| piece.starts_with(code.trim_start_matches(MARK)))
            {
                let rest = &piece[code.len() - MARK.len_utf8()..];
                out.push_str(code);
                out.push_str(&value(rest, MAX_LINE));
            } else {
                out.push_str("\\u{1b}");
                out.push_str(&value(piece, MAX_LINE));
            }
        }
    }
    out
}

/// One value for a message: control characters (line breaks included) escaped, cut at `max`
/// characters with `…`.
pub fn value(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        if c.is_control() && c != '\t' {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes a message line to stderr, made [terminal-safe](terminal_safe); a closed or full stderr
/// is ignored. Used by [`say!`](crate::say).
pub fn say(text: std::fmt::Arguments<'_>, newline: bool) {
    use std::io::Write as _;
    let mut text = terminal_safe(&text.to_string());
    if newline {
        text.push('\n');
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_bytes_and_cuts_long_lines() {
        assert_eq!(terminal_safe("lab\x1b[2J\nok"), "lab\\u{1b}[2J\nok");
        assert_eq!(value("a\nb", 10), "a\\nb");
        assert_eq!(value("abcdef", 3), "abc…");
        let long = "x".repeat(100_000);
        assert_eq!(terminal_safe(&long).chars().count(), MAX_LINE + 1);
        assert_eq!(terminal_safe("tab\there"), "tab\there");
        let red = "\x1b[31m";
        assert_eq!(
            terminal_safe_keeping("\x1b[31mx\x1b[2Jy", &[red]),
            "\x1b[31mx\\u{1b}[2Jy"
        );
    }
}
