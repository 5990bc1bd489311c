//! No input panics: 10,000 random and mutated specs go through the whole front half (parse,
//! profiles, validation), and each either loads or fails with located diagnostics.

use std::path::Path;

use kcompile::spec::{Source, load};
use proptest::prelude::*;

const SEEDS: [&str; 4] = [
    include_str!("../../examples/single-node.yaml"),
    include_str!("../../examples/ha-3-masters.yaml"),
    include_str!("../../examples/external-etcd.yaml"),
    include_str!("../../examples/tutorial-cluster.yaml"),
];

/// Fragments that stress YAML and the spec's own checks.
const TOKENS: [&str; 32] = [
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "&a ",
    "*a",
    "!!str ",
    "!!binary ",
    "---\n",
    "...\n",
    "\"",
    "'",
    "\t",
    "%YAML 1.1\n",
    "#",
    "|\n  ",
    ">-\n  ",
    "? ",
    "<<: *a\n",
    "~",
    "null",
    "on",
    "0x1F",
    "1e999",
    "-1",
    "10.96.0.1/12",
    "::1",
    "cluster.local.",
    "v1.99.0",
    "\u{feff}",
];

#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Insert(usize, usize),
    ReplaceByte(usize, u8),
    Truncate(usize),
    Indent(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Insert(at, token)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::ReplaceByte(at, byte)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0..8usize).prop_map(|(line, width)| Mutation::Indent(line, width)),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let count = lines.len().max(1);
    match *mutation {
        Mutation::DeleteLine(at) if !lines.is_empty() => {
            lines.remove(at % count);
        }
        Mutation::DuplicateLine(at) if !lines.is_empty() => {
            let line = lines[at % count].clone();
            lines.insert(at % count, line);
        }
        Mutation::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % count, b % count),
        Mutation::Indent(at, width) if !lines.is_empty() => {
            let line = lines[at % count].trim_start().to_owned();
            lines[at % count] = format!("{}{line}", " ".repeat(width));
        }
        Mutation::Insert(at, token) => {
            let mut bytes = text.to_owned();
            let mut at = at % (bytes.len() + 1);
            while !bytes.is_char_boundary(at) {
                at -= 1;
            }
            bytes.insert_str(at, TOKENS[token]);
            return bytes;
        }
        Mutation::ReplaceByte(at, byte) => {
            let mut bytes = text.as_bytes().to_vec();
            if !bytes.is_empty() {
                let len = bytes.len();
                bytes[at % len] = byte;
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::Truncate(at) => {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            return text[..at].to_owned();
        }
        _ => {}
    }
    lines.join("\n")
}

fn check(text: &str) {
    let source = Source {
        name: "fuzz.yaml".into(),
        text: text.to_owned(),
    };
    if let Err(diagnostics) = load(source, Path::new(".")) {
        assert!(
            diagnostics.iter().any(kcompile::spec::Diagnostic::is_error),
            "failure without an error for:\n{text}"
        );
        for diagnostic in &diagnostics {
            assert!(diagnostic.position.line >= 1 && diagnostic.position.column >= 1);
            assert!(diagnostic.to_string().starts_with("fuzz.yaml:"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_specs_never_panic(seed in 0..SEEDS.len(), mutations in prop::collection::vec(mutation(), 1..6)) {
        let mut text = SEEDS[seed].to_owned();
        for mutation in &mutations {
            text = apply(&text, mutation);
        }
        check(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "(\\PC|\n|\t){0,400}") {
        check(&text);
    }

    #[test]
    fn random_yaml_shapes_never_panic(text in "([a-zA-Z]{1,12}: ([-a-z0-9./:]{0,20}|\\[[a-z, ]{0,20}\\])\n( {2,4}- [a-z]{1,8}: [a-z0-9.]{0,12}\n){0,3}){1,12}") {
        check(&text);
    }
}
