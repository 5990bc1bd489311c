//! Keyword configs (keepalived.conf, haproxy.cfg): tokenized, and the value after each
//! secret-bearing keyword replaced in place.

use std::collections::{BTreeMap, BTreeSet};

use super::names::{digest, normalize, suspicious};
use super::{Fingerprint, MIN_KNOWN, View, holds_known, placeholder};

/// Which keyword syntax a file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// `!` and `#` start comments.
    Keepalived,
    /// `#` starts comments (`!` negates).
    Haproxy,
}

pub(super) fn dialect(path: &str) -> Dialect {
    if path.ends_with(".cfg") || path.contains("haproxy") {
        Dialect::Haproxy
    } else {
        Dialect::Keepalived
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenKind {
    Word,
    Quoted,
    Comment,
    Open,
    Close,
}

/// A token of a keyword config: its kind, byte range and line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token {
    kind: TokenKind,
    start: usize,
    end: usize,
    line: usize,
}

/// The tokens of a keyword config; `None` for an unterminated quote or unbalanced braces.
pub(super) fn tokenize(text: &str, dialect: Dialect) -> Option<Vec<Token>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let (mut index, mut line, mut depth) = (0, 0usize, 0usize);
    while index < bytes.len() {
        let start = index;
        let byte = bytes[index];
        let kind = match byte {
            b'\n' => {
                line += 1;
                index += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {
                index += 1;
                continue;
            }
            b'#' => TokenKind::Comment,
            b'!' if dialect == Dialect::Keepalived => TokenKind::Comment,
            b'"' | b'\'' => TokenKind::Quoted,
            b'{' => TokenKind::Open,
            b'}' => TokenKind::Close,
            _ => TokenKind::Word,
        };
        match kind {
            TokenKind::Comment => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
            }
            TokenKind::Quoted => {
                index += 1;
                loop {
                    match bytes.get(index) {
                        None | Some(b'\n') => return None,
                        Some(b'\\') => index += 2,
                        Some(&b) if b == byte => {
                            index += 1;
                            break;
                        }
                        Some(_) => index += 1,
                    }
                }
            }
            TokenKind::Open => {
                depth += 1;
                index += 1;
            }
            TokenKind::Close => {
                depth = depth.checked_sub(1)?;
                index += 1;
            }
            TokenKind::Word => {
                while index < bytes.len()
                    && !matches!(
                        bytes[index],
                        b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c | b'{' | b'}'
                    )
                {
                    index += 1;
                }
            }
        }
        tokens.push(Token {
            kind,
            start,
            end: index.min(bytes.len()),
            line,
        });
    }
    (depth == 0).then_some(tokens)
}

/// The tokens of a keyword config that keepalived or haproxy can read: quotes terminated,
/// braces balanced, every secret keyword with its value.
pub(super) fn keyword_tokens(text: &str, dialect: Dialect) -> Option<Vec<Token>> {
    let tokens = tokenize(text, dialect)?;
    keyword_secrets(text, &tokens, &BTreeSet::new())?;
    Some(tokens)
}

/// haproxy's section keywords: a line that starts with one opens a section (`listen stats`).
pub(super) const HAPROXY_SECTIONS: [&str; 12] = [
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "userlist",
    "peers",
    "resolvers",
    "mailers",
    "program",
    "http-errors",
    "cache",
];

/// The text of a token (a quoted one without its quotes).
pub(super) fn content<'t>(text: &'t str, token: &Token) -> &'t str {
    let raw = &text[token.start..token.end];
    match token.kind {
        TokenKind::Quoted if raw.len() >= 2 => &raw[1..raw.len() - 1],
        _ => raw,
    }
}

/// The name of a keyword block (`vrrp_instance VI_1`), each word that holds a secret left out.
pub(super) fn block_name(words: &[&str], known: &BTreeSet<String>) -> String {
    words
        .iter()
        .map(|word| {
            if holds_known(word, known) {
                "…"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which tokens of a keyword config are secrets, each with where it is
/// (`vrrp_instance VI_1/authentication/auth_pass`); `None` when a secret keyword has no value.
pub(super) fn keyword_secrets(
    text: &str,
    tokens: &[Token],
    known: &BTreeSet<String>,
) -> Option<BTreeMap<usize, String>> {
    let value = |token: &Token| matches!(token.kind, TokenKind::Word | TokenKind::Quoted);
    let mut secret: BTreeMap<usize, String> = BTreeMap::new();
    let mut blocks: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut name_for = |blocks: &[String], keyword: &str| {
        let mut name = blocks.join("/");
        if !name.is_empty() {
            name.push('/');
        }
        name.push_str(keyword);
        let count = counts.entry(name.clone()).or_default();
        *count += 1;
        if *count > 1 {
            name.push_str(&format!(" #{count}"));
        }
        name
    };
    for (index, token) in tokens.iter().enumerate() {
        match token.kind {
            TokenKind::Open => {
                let mut words: Vec<&str> = tokens[..index]
                    .iter()
                    .rev()
                    .take_while(|t| t.line == token.line && value(t))
                    .map(|t| content(text, t))
                    .collect();
                words.reverse();
                blocks.push(block_name(&words, known));
                continue;
            }
            TokenKind::Close => {
                blocks.pop();
                continue;
            }
            TokenKind::Comment => continue,
            TokenKind::Word | TokenKind::Quoted => {}
        }
        if secret.contains_key(&index) {
            continue;
        }
        let word = content(text, token);
        let lower = word.to_ascii_lowercase();
        let line_start = token.start == 0 || text.as_bytes()[token.start - 1] == b'\n';
        if line_start && token.kind == TokenKind::Word && HAPROXY_SECTIONS.contains(&lower.as_str())
        {
            let words: Vec<&str> = tokens[index..]
                .iter()
                .take_while(|t| t.line == token.line && value(t))
                .map(|t| content(text, t))
                .collect();
            blocks = vec![block_name(&words, known)];
            continue;
        }
        let same_line_values: Vec<usize> = tokens[index + 1..]
            .iter()
            .take_while(|t| t.line == token.line && value(t))
            .enumerate()
            .map(|(offset, _)| index + 1 + offset)
            .collect();
        let after_stats = index > 0
            && tokens[index - 1].line == token.line
            && content(text, &tokens[index - 1]).eq_ignore_ascii_case("stats");
        let secret_keyword = matches!(
            normalize(&lower).as_str(),
            "authpass" | "password" | "insecurepassword"
        ) || (lower == "auth" && after_stats);
        if secret_keyword {
            let next = *same_line_values.first()?;
            let keyword = if lower == "auth" {
                "stats auth"
            } else {
                &lower
            };
            secret.insert(next, name_for(&blocks, keyword));
        } else if lower.trim_end_matches(':') == "authorization" {
            for next in same_line_values {
                secret.insert(next, name_for(&blocks, "authorization"));
            }
        } else if holds_known(word, known) {
            secret.insert(index, name_for(&blocks, "value"));
        }
    }
    Some(secret)
}

/// A keyword config with every secret value replaced in place, and each comment that mentions a
/// secret withheld.
pub(super) fn keywords(
    text: &str,
    tokens: &[Token],
    known: &BTreeSet<String>,
    fingerprint: Fingerprint<'_>,
) -> View {
    let secret = keyword_secrets(text, tokens, known).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    let mut secrets = BTreeMap::new();
    let mut found = BTreeSet::new();
    let mut last = 0;
    for (index, token) in tokens.iter().enumerate() {
        let replacement = if let Some(name) = secret.get(&index) {
            let value = content(text, token);
            if value.len() >= MIN_KNOWN {
                found.insert(value.to_owned());
            }
            let mut name = name.clone();
            while secrets.contains_key(&name) {
                name.push('\'');
            }
            secrets.insert(name, digest(value.as_bytes()));
            placeholder(value.as_bytes(), fingerprint)
        } else if token.kind == TokenKind::Comment {
            let comment = &text[token.start..token.end];
            if suspicious(comment) || holds_known(comment, known) {
                format!("{} <comment withheld>", &comment[..1])
            } else {
                continue;
            }
        } else {
            continue;
        };
        out.push_str(&text[last..token.start]);
        out.push_str(&replacement);
        last = token.end;
    }
    out.push_str(&text[last..]);
    View {
        text: out,
        secrets,
        known: found,
        derived: Vec::new(),
    }
}
