//! A systemd service unit's command line, read the way systemd reads it (`systemd.service(5)`,
//! "Command lines"): lines ending in a backslash continue on the next, the last `ExecStart=` of
//! the file wins (an empty one resets the list), the prefixes `-@:+!` are not part of the
//! command, and quotes group a word and are removed. A tutorial-style host runs its control plane
//! this way; `adopt` carries the flags into the spec.

use crate::verify::material::flags;

/// The command a unit starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecStart {
    /// The program, as the unit names it (`/usr/local/bin/kube-apiserver`).
    pub binary: String,
    /// Its flags in order, `--name value` and `--name=value` alike; a bare flag is `true`.
    pub flags: Vec<(String, String)>,
}

/// The command of a unit's `ExecStart=`, if it has one.
pub fn exec_start(unit: &str) -> Option<ExecStart> {
    let mut command: Option<String> = None;
    let mut logical = String::new();
    for line in unit.lines() {
        let line = line.trim_end();
        if let Some(continued) = line.strip_suffix('\\') {
            logical.push_str(continued);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let whole = std::mem::take(&mut logical);
        let whole = whole.trim();
        if let Some(value) = whole.strip_prefix("ExecStart=") {
            let value = value.trim_start_matches(['-', '@', ':', '+', '!']).trim();
            command = Some(value.to_owned()).filter(|value| !value.is_empty());
        }
    }
    let words = words(&command?);
    let (binary, rest) = words.split_first()?;
    Some(ExecStart {
        binary: binary.clone(),
        flags: flags(rest.iter().map(String::as_str)),
    })
}

/// Splits a command line into words: whitespace separates, single and double quotes group and
/// are removed, a backslash escapes the next character.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
                in_word = true;
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continued_lines_quotes_and_bare_flags_read_as_systemd_does() {
        let unit = "[Service]\nExecStart=/usr/local/bin/etcd \\\n  --name controller-0 \\\n  --peer-client-cert-auth \\\n  --client-cert-auth \\\n  --runtime-config='api/all=true' \\\n  --data-dir=/var/lib/etcd\nRestart=on-failure\n";
        let command = exec_start(unit).unwrap();
        assert_eq!(command.binary, "/usr/local/bin/etcd");
        let flag = |name: &str, value: &str| (name.to_owned(), value.to_owned());
        assert_eq!(
            command.flags,
            [
                flag("name", "controller-0"),
                flag("peer-client-cert-auth", "true"),
                flag("client-cert-auth", "true"),
                flag("runtime-config", "api/all=true"),
                flag("data-dir", "/var/lib/etcd"),
            ]
        );
    }

    #[test]
    fn the_last_exec_start_wins_and_an_empty_one_resets() {
        assert_eq!(
            exec_start("ExecStart=/a --x=1\nExecStart=-/b --y=2\n")
                .unwrap()
                .binary,
            "/b"
        );
        assert_eq!(exec_start("ExecStart=/a --x=1\nExecStart=\n"), None);
        assert_eq!(exec_start("[Unit]\nDescription=x\n"), None);
    }
}
