//! What the adopt tests read back from kcompile: a run's JSON and the changes it lists, as
//! (host, path, action), so adopt's report and `diff -o json` compare as sets.

use std::collections::BTreeSet;
use std::process::Output;

use serde_json::Value;

/// A run's stdout as JSON; the test fails showing stdout and stderr when it is not.
pub fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// (host, path, action) of every change in a list of change objects; `host` names the host of a
/// one-host list (`diff`), else each change names its own (`adopt`).
pub fn triples(host: Option<&str>, changes: &Value) -> BTreeSet<(String, String, String)> {
    changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|change| change["action"] != "unchanged")
        .map(|change| {
            (
                host.map_or_else(
                    || change["host"].as_str().unwrap().to_owned(),
                    str::to_owned,
                ),
                change["path"].as_str().unwrap().to_owned(),
                change["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}
