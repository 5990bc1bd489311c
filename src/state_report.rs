//! `kcompile state list` and `kcompile state check`: the inventory as a table or JSON, and a deep
//! check that every recorded item is usable for what it is (keys parse, certificates parse,
//! secrets have their consumer's shape). Each item is parsed by the stage that owns its kind
//! (`pki`, `etcd_membership`, `bundle`), so this report sits above them, not inside `state`.

use std::fmt::Write as _;

use crate::pki::inspect::Inspected;
use crate::pki::keys::Key;
use crate::pki::secrets::Shape;
use crate::state::State;
use crate::state::inventory::ItemKind;

/// The inventory, one item per line (`kind path fingerprint since`), or as JSON. Secrets show
/// only a keyed fingerprint; public items their sha256.
pub fn list(state: &State, json: bool) -> String {
    let rows: Vec<(String, String, String, String)> = state
        .inventory()
        .items
        .iter()
        .map(|(path, item)| {
            let kind = ItemKind::of(path).map_or("unknown", ItemKind::name);
            let fingerprint = if ItemKind::of(path).is_none_or(ItemKind::is_secret) {
                state
                    .read(path)
                    .ok()
                    .flatten()
                    .and_then(|bytes| state.keyed_fingerprint(&bytes))
                    .unwrap_or_else(|| "withheld".into())
            } else {
                format!("sha256:{}", &item.sha256[..item.sha256.len().min(12)])
            };
            (
                kind.to_owned(),
                path.clone(),
                fingerprint,
                item.since.clone(),
            )
        })
        .collect();
    if json {
        let items: Vec<serde_json::Value> = rows
            .into_iter()
            .map(|(kind, path, fingerprint, since)| {
                serde_json::json!({
                    "path": path,
                    "kind": kind,
                    "fingerprint": fingerprint,
                    "since": since,
                })
            })
            .collect();
        let value = serde_json::json!({
            "state": state.root().display().to_string(),
            "items": items,
        });
        return serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
    }
    let width = rows.iter().map(|row| row.0.len()).max().unwrap_or(0);
    let path_width = rows.iter().map(|row| row.1.len()).max().unwrap_or(0);
    let mut text = String::new();
    for (kind, path, fingerprint, since) in rows {
        let _ = writeln!(
            text,
            "{kind:<width$}  {path:<path_width$}  {fingerprint:<19}  {since}"
        );
    }
    text
}

/// Every recorded item that is not usable for what it is, one line each.
pub fn check(state: &State) -> Vec<String> {
    let mut problems = Vec::new();
    for path in state.inventory().items.keys() {
        let Some(kind) = ItemKind::of(path) else {
            continue;
        };
        let bytes = match state.read(path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                problems.push(format!("  `{path}` ({kind}) is missing"));
                continue;
            }
            Err(e) => {
                problems.push(format!("  `{path}` ({kind}): {e}"));
                continue;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let value = text.trim_end();
        let problem = match kind {
            ItemKind::CaCertificate(_)
            | ItemKind::IncomingCaCertificate(_)
            | ItemKind::LeafCertificate => Inspected::parse(&text).err().map(|e| e.to_string()),
            ItemKind::CaKey(_)
            | ItemKind::IncomingCaKey(_)
            | ItemKind::ServiceAccountKey
            | ItemKind::IncomingServiceAccountKey
            | ItemKind::LeafKey => Key::from_pem(&text).err().map(|e| e.to_string()),
            ItemKind::ServiceAccountPublicKey => pem::parse(value)
                .err()
                .map(|e| format!("not a PEM public key: {e}")),
            ItemKind::EncryptionKey
            | ItemKind::IncomingEncryptionKey
            | ItemKind::FingerprintKey => Shape::Base64Bytes32.problem(value).map(str::to_owned),
            ItemKind::EtcdToken => Shape::Token.problem(value).map(str::to_owned),
            ItemKind::BootstrapToken => Shape::BootstrapToken.problem(value).map(str::to_owned),
            ItemKind::VrrpPassword => Shape::VrrpPassword.problem(value).map(str::to_owned),
            ItemKind::IssueRecord | ItemKind::RotationRecord | ItemKind::BuildRecord => {
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .err()
                    .map(|e| format!("not JSON: {e}"))
            }
            ItemKind::AdoptedEncryption => {
                serde_json::from_slice::<crate::pki::adopted_encryption::AdoptedEncryption>(&bytes)
                    .err()
                    .map(|e| format!("not an adopted EncryptionConfiguration: {e}"))
            }
            ItemKind::EtcdMembers => crate::etcd_membership::Record::parse(&bytes)
                .err()
                .map(|e| e.to_string()),
            ItemKind::BuiltManifest => crate::bundle::manifest::parse(&text)
                .err()
                .map(|e| format!("not a MANIFEST: {e}")),
            ItemKind::Retired => None,
        };
        if let Some(problem) = problem {
            problems.push(format!("  `{path}` ({kind}): {problem}"));
        }
    }
    problems
}
