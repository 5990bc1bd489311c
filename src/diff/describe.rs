//! What a changed file's difference means: secrets as keyed fingerprints (redacted by structure,
//! [`crate::redact`]), certificates in words, manifests headed by their image, flag and volume
//! changes; and which components restart.

use std::collections::BTreeMap;

use serde_json::Value;
use similar::TextDiff;

use super::{Action, Detail, Report, Restart};
use crate::pki::inspect::{Inspected, date};
use crate::redact::{self, Fingerprint, Pair};
use crate::render::FileSet;

/// How `old` (the machine's) and `new` (the build's) versions of `path` differ, never showing a
/// secret: secret values as keyed fingerprints from `fingerprint` (`<redacted>` when it has no
/// key), private keys by fingerprint only, a secret-bearing file that does not parse not at all.
pub fn difference(path: &str, old: &[u8], new: &[u8], fingerprint: Fingerprint<'_>) -> Detail {
    let note = |reason: &str| Detail::Note {
        reason: reason.to_owned(),
    };
    let manifest = path.starts_with("etc/kubernetes/manifests/");
    let (old_text, new_text) = match redact::pair(path, old, new, fingerprint) {
        Pair::Unparseable => return note(redact::UNPARSEABLE),
        Pair::Binary => return note("changed (not text), contents not shown"),
        Pair::Key { same: true, .. } => return note("the same key, written differently"),
        Pair::Key {
            old: Some(old),
            new: Some(new),
            ..
        } => return Detail::Secret { old, new },
        Pair::Key { .. } => return note("changed (a different key), fingerprint withheld"),
        Pair::Plain { old, new } => (old, new),
        Pair::Redacted {
            old: old_shown,
            new: new_shown,
            changed,
            keyed,
        } => {
            let mut summary = Vec::new();
            if old_shown == new_shown && changed.is_empty() {
                summary.push("written differently: the same settings and secrets".to_owned());
            } else if manifest {
                // Images, flag and volume names only: no value is shown.
                summary.extend(pod_summary(
                    &String::from_utf8_lossy(old),
                    &String::from_utf8_lossy(new),
                ));
            }
            if !changed.is_empty() {
                summary.push(format!(
                    "secret{} changed: {}{}",
                    if changed.len() == 1 { "" } else { "s" },
                    changed.join(", "),
                    if keyed {
                        ""
                    } else {
                        " (fingerprints withheld)"
                    }
                ));
            }
            return Detail::Text {
                summary: (!summary.is_empty()).then(|| summary.join("; ")),
                diff: unified(path, &old_shown, &new_shown),
            };
        }
    };
    if path.ends_with(".crt") {
        return Detail::Certificate {
            lines: certificate(&old_text, &new_text),
        };
    }
    if path == crate::bundle::manifest::PATH {
        let changed = TextDiff::from_lines(&old_text, &new_text)
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
    let summary = manifest
        .then(|| pod_summary(&old_text, &new_text))
        .flatten();
    Detail::Text {
        summary,
        diff: unified(path, &old_text, &new_text),
    }
}

/// A unified diff of two texts, three lines of context.
fn unified(path: &str, old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
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

    #[expect(
        clippy::unnecessary_wraps,
        reason = "the signature of the fingerprint callback"
    )]
    fn keyed(bytes: &[u8]) -> Option<String> {
        Some(format!("hmac:{}", &crate::digest::sha256(bytes)[..12]))
    }

    #[test]
    fn secrets_in_yaml_become_keyed_fingerprints() {
        let old = "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    client-key-data: U0VDUkVUQkFTRTY0\n    token: abcdefgh12345678\n";
        let new = "{\"apiVersion\": \"v1\", \"kind\": \"Config\", \"users\": [{\"name\": \"a\", \"user\": {\"client-key-data\": \"T1RIRVJTRUNSRVQ=\"}}]}";
        let Detail::Text { summary, diff } = difference(
            "etc/kubernetes/admin.conf",
            old.as_bytes(),
            new.as_bytes(),
            &keyed,
        ) else {
            panic!()
        };
        assert!(
            !diff.contains("U0VDUkVUQkFTRTY0") && !diff.contains("abcdefgh"),
            "{diff}"
        );
        assert!(!diff.contains("T1RIRVJTRUNSRVQ"), "{diff}");
        assert!(diff.contains("client-key-data: <hmac:"), "{diff}");
        assert_eq!(
            summary.as_deref(),
            Some("secrets changed: users[a].user.client-key-data, users[a].user.token")
        );
        let Detail::Text { diff, .. } = difference(
            "etc/keepalived/keepalived.conf",
            b"    auth_pass\tabcdefgh\n",
            b"    auth_pass 12345678\n",
            &crate::redact::no_fingerprint,
        ) else {
            panic!()
        };
        assert!(diff.contains("auth_pass\t<redacted>"), "{diff}");
        assert!(
            !diff.contains("abcdefgh") && !diff.contains("12345678"),
            "{diff}"
        );
    }

    #[test]
    fn keys_are_fingerprinted_never_shown() {
        let key = |body: &str| {
            format!(
                "-----BEGIN EC PRIVATE KEY-----\n{}\n-----END EC PRIVATE KEY-----\n",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, body)
            )
        };
        let (a, b) = (key("first key"), key("second key"));
        let detail = difference(
            "etc/kubernetes/pki/x.key",
            a.as_bytes(),
            b.as_bytes(),
            &keyed,
        );
        let Detail::Secret { old, new } = &detail else {
            panic!("{detail:?}")
        };
        assert!(old.starts_with("hmac:") && new.starts_with("hmac:") && old != new);
        assert_eq!(
            difference(
                "etc/kubernetes/pki/x.key",
                a.as_bytes(),
                b.as_bytes(),
                &crate::redact::no_fingerprint
            ),
            Detail::Note {
                reason: "changed (a different key), fingerprint withheld".into()
            }
        );
        assert_eq!(
            difference("etc/kubernetes/pki/x.key", b"garbage", b.as_bytes(), &keyed),
            Detail::Note {
                reason: crate::redact::UNPARSEABLE.into()
            }
        );
    }
}
