//! Imports go one way. docs/architecture.md declares the stage order as a `layers` block, top
//! first, one layer a line; a module may use only modules of the layers below its own, never one
//! above and never a sibling on its own line. This test reads every `src/**/*.rs`, finds each
//! reference to a top-level module (`crate::pki::...`, `use crate::{render, spec::Role}`, a
//! `super::` path that climbs to the crate root, in `#[cfg(test)]` code as anywhere else; not in
//! comments or string literals) and fails naming the file, the line and the edge of every
//! reference against the order. Every module `src/lib.rs` declares must be placed in the block.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let architecture = std::fs::read_to_string(Path::new(ROOT).join("docs/architecture.md"))
        .expect("docs/architecture.md is readable");
    let layers = layers(&architecture);
    let lib = std::fs::read_to_string(Path::new(ROOT).join("src/lib.rs")).expect("src/lib.rs");
    let modules = declared_modules(&lib);
    assert!(
        modules.len() > 20,
        "src/lib.rs declares its modules: {modules:?}"
    );

    let mut files = Vec::new();
    collect_sources(&Path::new(ROOT).join("src"), &mut files);
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|path| {
            let relative = path
                .strip_prefix(ROOT)
                .expect("under the crate")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(path).expect("a readable source file");
            (relative, text)
        })
        .collect();
    assert!(sources.len() > 100, "found the sources: {}", sources.len());

    let problems = check(&layers, &modules, &sources);
    assert!(
        problems.is_empty(),
        "imports against the stage order of docs/architecture.md (the `layers` block):\n{}",
        problems.join("\n")
    );
}

/// The longest a source file in `src/` may be: past this a file holds more than one concept
/// (issue 17). Data lives in `.tsv`/`.yaml` files beside the code, not in `.rs` files.
const MAX_LINES: usize = 700;

#[test]
fn no_source_file_is_longer_than_the_limit() {
    let mut files = Vec::new();
    collect_sources(&Path::new(ROOT).join("src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(path)
                .expect("readable")
                .lines()
                .count();
            (lines > MAX_LINES).then(|| format!("{}: {lines} lines", path.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these by concept (at most {MAX_LINES} lines each):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checker_finds_upward_references_in_every_form() {
    let layers = vec![
        vec!["top".to_owned()],
        vec!["left".to_owned(), "right".to_owned()],
        vec!["bottom".to_owned()],
    ];
    let modules: BTreeSet<String> = ["top", "left", "right", "bottom"].map(str::to_owned).into();
    let sources = vec![
        // Allowed: downward, in every form.
        (
            "src/top.rs".to_owned(),
            "use crate::{left, right::Thing};\nfn f() { crate::bottom::g(); }\n".to_owned(),
        ),
        // Not references: comments, strings, chars, a raw string, a lifetime, a macro.
        (
            "src/bottom.rs".to_owned(),
            concat!(
                "// crate::top::x\n/* crate::top /* nested */ crate::left */\n",
                "/// [`crate::top`]\nconst A: &str = \"crate::top::x \\\" crate::left\";\n",
                "const B: &str = r#\"crate::top \" crate::left\"#;\nconst C: char = '\"';\n",
                "fn f<'a>(x: &'a str) -> &'a str { crate::say!(\"{x}\"); x }\n",
            )
            .to_owned(),
        ),
        // Against the order: a sibling in a group, an upward path in test code, and a `super`
        // path that climbs out of the module to the crate root.
        (
            "src/left/mod.rs".to_owned(),
            concat!(
                "use crate::{bottom, right::{Other, Thing}};\n",
                "#[cfg(test)]\nmod tests {\n    use super::*;\n    fn t() { crate::top::f(); }\n}\n",
            )
            .to_owned(),
        ),
        (
            "src/left/deep.rs".to_owned(),
            "use super::super::top::f;\nuse super::Sibling;\n".to_owned(),
        ),
    ];
    let problems = check(&layers, &modules, &sources);
    assert_eq!(
        problems,
        [
            "src/left/mod.rs:1: `left` uses `right`, a module of its own layer (`left right`)",
            "src/left/mod.rs:5: `left` uses `top`, a layer above it (`top`)",
            "src/left/deep.rs:1: `left` uses `top`, a layer above it (`top`)",
        ]
    );
}

#[test]
fn every_module_of_lib_rs_is_placed_once() {
    let layers = vec![vec!["top".to_owned()], vec!["top".to_owned()]];
    let modules: BTreeSet<String> = ["top", "new"].map(str::to_owned).into();
    let problems = check(&layers, &modules, &[]);
    assert_eq!(
        problems,
        [
            "`top` is placed in more than one layer",
            "`new` (src/lib.rs) is in no layer of docs/architecture.md",
        ]
    );
}

/// The `layers` block of docs/architecture.md: one layer a line, top first, module names
/// separated by spaces; anything after `#` on a line is a comment.
fn layers(architecture: &str) -> Vec<Vec<String>> {
    let block: Vec<&str> = architecture
        .lines()
        .skip_while(|line| line.trim() != "```layers")
        .skip(1)
        .take_while(|line| line.trim() != "```")
        .collect();
    assert!(
        !block.is_empty(),
        "docs/architecture.md has a ```layers block"
    );
    block
        .iter()
        .map(|line| line.split('#').next().unwrap_or_default())
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// The top-level modules `src/lib.rs` declares (`mod x;`, `pub mod x;`).
fn declared_modules(lib: &str) -> BTreeSet<String> {
    lib.lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("pub ").or(Some(line)))
        .filter_map(|line| line.strip_prefix("mod "))
        .filter_map(|line| line.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

fn collect_sources(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("a readable directory")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_sources(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// Every reference against the order, as `file:line: ...`, and every module placed wrongly.
fn check(
    layers: &[Vec<String>],
    modules: &BTreeSet<String>,
    sources: &[(String, String)],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut layer_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, layer) in layers.iter().enumerate() {
        for module in layer {
            if layer_of.insert(module, index).is_some() {
                problems.push(format!("`{module}` is placed in more than one layer"));
            }
            if !modules.contains(module) {
                problems.push(format!(
                    "`{module}` is in docs/architecture.md's layers but not a module of src/lib.rs"
                ));
            }
        }
    }
    for module in modules {
        if !layer_of.contains_key(module.as_str()) {
            problems.push(format!(
                "`{module}` (src/lib.rs) is in no layer of docs/architecture.md"
            ));
        }
    }
    for (path, text) in sources {
        let Some(module_path) = module_path(path) else {
            continue;
        };
        let from = module_path[0].as_str();
        let Some(&from_layer) = layer_of.get(from) else {
            continue;
        };
        for (line, to) in references(text, &module_path) {
            if to == from || !modules.contains(&to) {
                continue;
            }
            let Some(&to_layer) = layer_of.get(to.as_str()) else {
                continue;
            };
            let problem = match to_layer.cmp(&from_layer) {
                std::cmp::Ordering::Equal => "a module of its own layer",
                std::cmp::Ordering::Less => "a layer above it",
                std::cmp::Ordering::Greater => continue,
            };
            problems.push(format!(
                "{path}:{line}: `{from}` uses `{to}`, {problem} (`{}`)",
                layers[to_layer].join(" ")
            ));
        }
    }
    problems
}

/// The module path of a source file: `src/pki/keys.rs` → `pki::keys`, `src/pki/mod.rs` → `pki`,
/// `src/cluster.rs` → `cluster`; `None` for the crate root (`lib.rs`, `main.rs`).
fn module_path(path: &str) -> Option<Vec<String>> {
    let relative = path.strip_prefix("src/")?.strip_suffix(".rs")?;
    let mut parts: Vec<String> = relative.split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    if parts.is_empty() || (parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main")) {
        return None;
    }
    Some(parts)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSeparator,
    Open,
    Close,
    Comma,
    Other,
}

/// The top-level modules `text` (the file of module `module_path`) refers to, each with its line:
/// the first name after `crate::`, each name of a `crate::{...}` group, and the name after a
/// `super::` chain that climbs to the crate root. Inline modules (`mod tests { ... }`) deepen
/// the path `super` starts from.
fn references(text: &str, module_path: &[String]) -> Vec<(usize, String)> {
    let tokens = tokens(text);
    let mut found = Vec::new();
    let mut depth = 0usize;
    // Inline modules open at a brace depth: (depth inside the module, its name).
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let token = &tokens[index].0;
        let after_separator = index > 0 && matches!(tokens[index - 1].0, Token::PathSeparator);
        match token {
            Token::Open => depth += 1,
            Token::Close => {
                if inline.last().is_some_and(|(open, _)| *open == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some((Token::Ident(name), _)), Some((Token::Open, _))) =
                    (tokens.get(index + 1), tokens.get(index + 2))
                {
                    inline.push((depth + 1, name.clone()));
                }
            }
            Token::Ident(word) if word == "crate" && !after_separator => {
                if matches!(tokens.get(index + 1), Some((Token::PathSeparator, _))) {
                    found.extend(names_at(&tokens, index + 2));
                }
            }
            Token::Ident(word) if word == "super" && !after_separator => {
                let mut climbs = 0;
                let mut next = index;
                while matches!(&tokens.get(next), Some((Token::Ident(w), _)) if w == "super")
                    && matches!(tokens.get(next + 1), Some((Token::PathSeparator, _)))
                {
                    climbs += 1;
                    next += 2;
                }
                if module_path.len() + inline.len() == climbs {
                    found.extend(names_at(&tokens, next));
                }
                index = next.max(index + 1);
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    found
}

/// The module names a path names at `start`: one name, or each first name of a `{...}` group.
fn names_at(tokens: &[(Token, usize)], start: usize) -> Vec<(usize, String)> {
    match tokens.get(start) {
        Some((Token::Ident(name), line)) => vec![(*line, name.clone())],
        Some((Token::Open, _)) => {
            let mut names = Vec::new();
            let mut depth = 0;
            let mut expecting = true;
            for (token, line) in &tokens[start..] {
                match token {
                    Token::Open => depth += 1,
                    Token::Close => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Token::Comma if depth == 1 => expecting = true,
                    Token::Ident(name) if depth == 1 && expecting => {
                        names.push((*line, name.clone()));
                        expecting = false;
                    }
                    _ if depth == 1 => expecting = false,
                    _ => {}
                }
            }
            names
        }
        _ => Vec::new(),
    }
}

/// Rust source as identifiers, `::`, braces and commas with their lines; comments, string,
/// byte-string, raw-string and char literals dropped.
fn tokens(text: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut at = 0;
    let newlines = |from: usize, to: usize| chars[from..to].iter().filter(|c| **c == '\n').count();
    while at < chars.len() {
        let c = chars[at];
        let next = chars.get(at + 1).copied();
        if c == '\n' {
            line += 1;
            at += 1;
        } else if c.is_whitespace() {
            at += 1;
        } else if c == '/' && next == Some('/') {
            while at < chars.len() && chars[at] != '\n' {
                at += 1;
            }
        } else if c == '/' && next == Some('*') {
            let start = at;
            let mut nesting = 0;
            while at < chars.len() {
                if chars[at] == '/' && chars.get(at + 1) == Some(&'*') {
                    nesting += 1;
                    at += 2;
                } else if chars[at] == '*' && chars.get(at + 1) == Some(&'/') {
                    nesting -= 1;
                    at += 2;
                    if nesting == 0 {
                        break;
                    }
                } else {
                    at += 1;
                }
            }
            line += newlines(start, at);
        } else if c == '"' {
            let start = at;
            at = end_of_string(&chars, at + 1);
            line += newlines(start, at);
        } else if c == '\'' {
            // A char literal ('x', '\n', '\''), or a lifetime ('a), which is skipped as a quote.
            if next == Some('\\') {
                at += 2;
                while at < chars.len() && chars[at] != '\'' {
                    at += 1;
                }
                at += 1;
            } else if chars.get(at + 2) == Some(&'\'') {
                at += 3;
            } else {
                at += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = at;
            while at < chars.len() && (chars[at].is_alphanumeric() || chars[at] == '_') {
                at += 1;
            }
            let word: String = chars[start..at].iter().collect();
            if (word == "r" || word == "br") && matches!(chars.get(at), Some('"' | '#')) {
                let mut hashes = 0;
                while chars.get(at + hashes) == Some(&'#') {
                    hashes += 1;
                }
                if chars.get(at + hashes) == Some(&'"') {
                    let start = at;
                    at += hashes + 1;
                    loop {
                        if at >= chars.len() {
                            break;
                        }
                        if chars[at] == '"'
                            && (1..=hashes).all(|offset| chars.get(at + offset) == Some(&'#'))
                        {
                            at += hashes + 1;
                            break;
                        }
                        at += 1;
                    }
                    line += newlines(start, at);
                    continue;
                }
            }
            if word == "b" && matches!(chars.get(at), Some('"' | '\'')) {
                continue;
            }
            tokens.push((Token::Ident(word), line));
        } else if c == ':' && next == Some(':') {
            tokens.push((Token::PathSeparator, line));
            at += 2;
        } else {
            tokens.push((
                match c {
                    '{' => Token::Open,
                    '}' => Token::Close,
                    ',' => Token::Comma,
                    _ => Token::Other,
                },
                line,
            ));
            at += 1;
        }
    }
    tokens
}

/// The index just past the string literal whose contents start at `at`.
fn end_of_string(chars: &[char], mut at: usize) -> usize {
    while at < chars.len() {
        match chars[at] {
            '\\' => at += 2,
            '"' => return at + 1,
            _ => at += 1,
        }
    }
    at
}
