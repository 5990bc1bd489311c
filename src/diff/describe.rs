//! What a changed file's difference means: secrets as fingerprints, certificates in words,
//! manifests headed by their image, flag and volume changes; and which components restart.

use std::collections::BTreeMap;

use serde_json::Value;
use similar::TextDiff;

use super::{Action, Detail, Report, Restart};
use crate::bundle::FileSet;
use crate::bundle::manifest::sha256;
use crate::pki::inspect::{Inspected, date};

/// Keys whose values are secrets (or credentials too long to read) in YAML files.
const REDACTED_KEYS: [&str; 7] = [
    "token-secret",
    "client-key-data",
    "client-certificate-data",
    "certificate-authority-data",
    "token",
    "secret",
    "password",
];

/// A short fingerprint: `sha256:0123456789ab`.
pub fn fingerprint(bytes: &[u8]) -> String {
    format!("sha256:{}", &sha256(bytes)[..12])
}

/// How `old` and `new` at `path` differ.
pub fn difference(path: &str, old: &[u8], new: &[u8]) -> Detail {
    let secret =
        path.ends_with(".key") || contains(old, b"PRIVATE KEY") || contains(new, b"PRIVATE KEY");
    let (Ok(old_text), Ok(new_text)) = (std::str::from_utf8(old), std::str::from_utf8(new)) else {
        return Detail::Secret {
            old: fingerprint(old),
            new: fingerprint(new),
        };
    };
    if secret {
        return Detail::Secret {
            old: fingerprint(old),
            new: fingerprint(new),
        };
    }
    if path.ends_with(".crt") {
        return Detail::Certificate {
            lines: certificate(old_text, new_text),
        };
    }
    if path == crate::bundle::manifest::PATH {
        let changed = TextDiff::from_lines(old_text, new_text)
            .iter_all_changes()
            .filter(|c| c.tag() != similar::ChangeTag::Equal)
            .count();
        return Detail::Text {
            summary: Some(format!(
                "{changed} line{} differ{} (file list and checksums)",
                if changed == 1 { "" } else { "s" },
                if changed == 1 { "s" } else { "" }
            )),
            diff: String::new(),
        };
    }
    let (old_text, new_text) = (redact(old_text), redact(new_text));
    let diff = TextDiff::from_lines(&old_text, &new_text)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    let summary = path
        .starts_with("etc/kubernetes/manifests/")
        .then(|| pod_summary(&old_text, &new_text))
        .flatten();
    Detail::Text { summary, diff }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Every secret value of a YAML text replaced by its fingerprint.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start().trim_start_matches("- ");
        // keepalived writes `auth_pass SECRET`.
        if let Some(secret) = trimmed.strip_prefix("auth_pass ") {
            let indent = &line[..line.len() - line.trim_start().len()];
            let newline = if line.ends_with('\n') { "\n" } else { "" };
            out.push_str(&format!(
                "{indent}auth_pass <{}>{newline}",
                fingerprint(secret.trim().as_bytes())
            ));
            continue;
        }
        let key = trimmed.split(':').next().unwrap_or_default();
        match trimmed.split_once(": ") {
            Some((_, value)) if REDACTED_KEYS.contains(&key) && !value.trim().is_empty() => {
                let indent = &line[..line.len() - line.trim_start().len()];
                let dash = if line.trim_start().starts_with("- ") {
                    "- "
                } else {
                    ""
                };
                let newline = if line.ends_with('\n') { "\n" } else { "" };
                out.push_str(&format!(
                    "{indent}{dash}{key}: <{}>{newline}",
                    fingerprint(value.trim().as_bytes())
                ));
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// A certificate's changes in words.
fn certificate(old: &str, new: &str) -> Vec<String> {
    let (old, new) = match (Inspected::parse(old), Inspected::parse(new)) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(_), Ok(new)) => {
            return vec![format!(
                "replaces a file that is not a certificate; new subject {}",
                new.subject
            )];
        }
        _ => return vec!["not a readable certificate".into()],
    };
    let mut lines = Vec::new();
    if old.subject != new.subject {
        lines.push(format!("subject: {} → {}", old.subject, new.subject));
    }
    if old.issuer != new.issuer {
        lines.push(format!("issuer: {} → {}", old.issuer, new.issuer));
    }
    let added: Vec<&String> = new.sans.iter().filter(|s| !old.sans.contains(s)).collect();
    let removed: Vec<&String> = old.sans.iter().filter(|s| !new.sans.contains(s)).collect();
    if !added.is_empty() || !removed.is_empty() {
        let mut parts: Vec<String> = added.iter().map(|s| format!("+{s}")).collect();
        parts.extend(removed.iter().map(|s| format!("-{s}")));
        lines.push(format!("SANs: {}", parts.join(" ")));
    }
    if old.not_after != new.not_after {
        lines.push(format!(
            "valid until: {} → {}",
            date(old.not_after),
            date(new.not_after)
        ));
    }
    lines.push(if old.public_key == new.public_key {
        "key: unchanged".into()
    } else {
        "key: changed".into()
    });
    if lines.len() == 1 && old.der != new.der {
        lines.insert(0, "reissued (new serial and signature)".into());
    }
    lines
}

/// The first container of a pod manifest: image, flags by name, volumes by name.
struct PodView {
    image: String,
    flags: BTreeMap<String, String>,
    volumes: Vec<String>,
}

fn pod_view(text: &str) -> Option<PodView> {
    let pod: Value = serde_saphyr::from_str(text).ok()?;
    let container = pod.get("spec")?.get("containers")?.get(0)?;
    let flags = container
        .get("command")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|arg| arg.strip_prefix("--"))
        .map(|arg| match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (arg.to_owned(), String::new()),
        })
        .collect();
    let volumes = pod["spec"]["volumes"]
        .as_array()
        .map(|volumes| {
            volumes
                .iter()
                .filter_map(|v| v["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Some(PodView {
        image: container.get("image")?.as_str()?.to_owned(),
        flags,
        volumes,
    })
}

/// `image a → b; flags +x -y ~z; volumes +v` for two versions of a pod manifest.
fn pod_summary(old: &str, new: &str) -> Option<String> {
    let (old, new) = (pod_view(old)?, pod_view(new)?);
    let mut parts = Vec::new();
    if old.image != new.image {
        parts.push(format!("image {} → {}", old.image, new.image));
    }
    let mut flags = Vec::new();
    for (name, value) in &new.flags {
        match old.flags.get(name) {
            None => flags.push(format!("+{name}")),
            Some(previous) if previous != value => flags.push(format!("~{name}")),
            Some(_) => {}
        }
    }
    flags.extend(
        old.flags
            .keys()
            .filter(|name| !new.flags.contains_key(*name))
            .map(|name| format!("-{name}")),
    );
    if !flags.is_empty() {
        parts.push(format!("flags {}", flags.join(" ")));
    }
    let mut volumes: Vec<String> = new
        .volumes
        .iter()
        .filter(|v| !old.volumes.contains(v))
        .map(|v| format!("+{v}"))
        .collect();
    volumes.extend(
        old.volumes
            .iter()
            .filter(|v| !new.volumes.contains(v))
            .map(|v| format!("-{v}")),
    );
    if !volumes.is_empty() {
        parts.push(format!("volumes {}", volumes.join(" ")));
    }
    if parts.is_empty() {
        parts.push("annotations only (a file the pod mounts changed)".into());
    }
    Some(parts.join("; "))
}

/// Fills in which components restart, and warns about etcd membership changes.
pub fn impact(report: &mut Report, old: &impl Fn(&str) -> Option<Vec<u8>>, bundle: &FileSet) {
    let mut kubelet = None;
    for change in &report.changes {
        let path = change.path.as_str();
        // A mode fix restarts nothing: components read the same bytes.
        if change.action == Action::Change && change.detail == Detail::None {
            continue;
        }
        if let Some(name) = path
            .strip_prefix("etc/kubernetes/manifests/")
            .and_then(|n| n.strip_suffix(".yaml"))
        {
            let reason = match change.action {
                Action::Add => "starts (new manifest)",
                Action::Change => "restarts (manifest changed)",
                Action::Remove => "stops (manifest removed)",
                _ => continue,
            };
            report.restarts.push(Restart {
                component: name.to_owned(),
                reason: reason.to_owned(),
            });
        }
        let kubelet_file = matches!(
            path,
            "var/lib/kubelet/config.yaml"
                | "etc/systemd/system/kubelet.service"
                | "etc/kubernetes/kubelet.conf"
        ) || path.starts_with("var/lib/kubelet/pki/");
        if kubelet_file
            && matches!(change.action, Action::Add | Action::Change | Action::Remove)
            && kubelet.is_none()
        {
            let verb = match change.action {
                Action::Add => "added",
                Action::Remove => "removed",
                _ => "changed",
            };
            kubelet = Some(format!("{path} {verb}"));
        }
    }
    if let Some(path) = kubelet {
        report.restarts.push(Restart {
            component: "kubelet".into(),
            reason: format!(
                "restarts ({path}): systemctl daemon-reload && systemctl restart kubelet"
            ),
        });
    }
    let etcd = "etc/kubernetes/manifests/etcd.yaml";
    let new_etcd = bundle
        .files
        .get(etcd)
        .and_then(|f| std::str::from_utf8(&f.bytes).ok())
        .and_then(pod_view);
    let old_etcd = old(etcd)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| pod_view(&text));
    if let (Some(old), Some(new)) = (old_etcd, new_etcd) {
        let membership = [
            "initial-cluster",
            "name",
            "initial-advertise-peer-urls",
            "listen-peer-urls",
        ];
        let changed: Vec<&str> = membership
            .into_iter()
            .filter(|flag| old.flags.get(*flag) != new.flags.get(*flag))
            .collect();
        if !changed.is_empty() {
            report.warnings.push(format!(
                "etcd membership changes (--{}): an existing member ignores --initial-cluster; add or remove members with `etcdctl member add/remove` before rolling this out, one member at a time",
                changed.join(", --")
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_yaml_become_fingerprints() {
        let text =
            "users:\n- name: a\n  user:\n    client-key-data: SECRETBASE64\n    token: abc\n";
        let redacted = redact(text);
        assert!(
            !redacted.contains("SECRETBASE64") && !redacted.contains("abc\n"),
            "{redacted}"
        );
        assert!(redacted.contains("client-key-data: <sha256:"));
        assert!(redact("- secret: zzz\n").starts_with("- secret: <sha256:"));
        assert!(redact("    auth_pass abcdefgh\n").starts_with("    auth_pass <sha256:"));
    }

    #[test]
    fn keys_are_fingerprinted_never_shown() {
        let detail = difference(
            "etc/kubernetes/pki/x.key",
            b"-----BEGIN EC PRIVATE KEY-----\nA\n",
            b"-----BEGIN EC PRIVATE KEY-----\nB\n",
        );
        assert!(matches!(detail, Detail::Secret { .. }));
    }
}
