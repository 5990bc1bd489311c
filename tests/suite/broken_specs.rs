//! The corpus of broken specs under `tests/broken/`: each file is one mistake, and its first lines
//! say what kcompile must answer, as `# expect: LINE:COL: error: MESSAGE` (the message may be a
//! prefix) and, optionally, `# expect-hint: HINT` (a prefix of one of the hints). Every file must exit 2, print nothing on stdout, and report each expected diagnostic
//! at its line and column, within a timeout (a hostile spec may name a FIFO or a device).

use std::path::Path;

use crate::common;

#[test]
fn every_broken_spec_is_rejected_at_the_right_place() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 40,
        "the corpus has {} specs, fewer than 40",
        files.len()
    );
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("# expect: "))
            .collect();
        let hints: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("# expect-hint: "))
            .collect();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if expected.is_empty() {
            failures.push(format!("{name}: no `# expect:` line"));
            continue;
        }
        let output = common::kcompile(&dir)
            .args(["validate", "-f", &name])
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() != Some(2) {
            failures.push(format!(
                "{name}: exit {:?}, not 2\n{stderr}",
                output.status.code()
            ));
        }
        if !output.stdout.is_empty() {
            failures.push(format!("{name}: wrote to stdout"));
        }
        for expect in expected {
            let wanted = format!("{name}:{expect}");
            if !stderr.lines().any(|line| line.starts_with(&wanted)) {
                failures.push(format!("{name}: missing `{wanted}` in\n{stderr}"));
            }
        }
        for hint in hints {
            let wanted = format!("  hint: {hint}");
            if !stderr.lines().any(|line| line.starts_with(&wanted)) {
                failures.push(format!("{name}: missing `{wanted}` in\n{stderr}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
