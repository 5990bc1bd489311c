//! `kcompile certs`: when each certificate expires, as `kubeadm certs check-expiration` shows it,
//! for the state dir or for the files installed on a machine.

use std::fmt::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;

use super::catalog::{Authority, CertSpec};
use super::inspect::{Inspected, date};
use crate::state::{State, StateError};

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// What the certificate is (`master01/apiserver`, `pki/apiserver.crt`).
    pub name: String,
    /// Expiry.
    pub not_after: OffsetDateTime,
    /// The CA that signed it (`ca`, `etcd-ca`, `front-proxy-ca`), or `-` for a CA.
    pub authority: String,
    /// Whether kcompile cannot renew it (its CA key is absent).
    pub externally_managed: bool,
}

/// The rows for the state dir: every leaf of `leaves` that has been issued, then the CAs.
pub fn state_rows(state: &State, leaves: &[CertSpec]) -> Result<(Vec<Row>, Vec<Row>), StateError> {
    let mut certs = Vec::new();
    for leaf in leaves {
        let path = super::leaf_path(leaf, "crt");
        let Some(pem) = state.read_text(&path)? else {
            continue;
        };
        let inspected = Inspected::parse(&pem).map_err(|e| StateError(format!("`{path}`: {e}")))?;
        let ca_key = state.read(&format!("pki/{}.key", leaf.issuer.file()))?;
        certs.push(Row {
            name: leaf.id.clone(),
            not_after: inspected.not_after,
            authority: leaf.issuer.to_string(),
            externally_managed: ca_key.is_none(),
        });
    }
    let mut authorities = Vec::new();
    for authority in Authority::ALL {
        let path = format!("pki/{}.crt", authority.file());
        let Some(pem) = state.read_text(&path)? else {
            continue;
        };
        let inspected = Inspected::parse(&pem).map_err(|e| StateError(format!("`{path}`: {e}")))?;
        authorities.push(Row {
            name: authority.to_string(),
            not_after: inspected.not_after,
            authority: "-".into(),
            externally_managed: state
                .read(&format!("pki/{}.key", authority.file()))?
                .is_none(),
        });
    }
    Ok((certs, authorities))
}

/// The rows for a machine's root: every certificate under `etc/kubernetes` and
/// `var/lib/kubelet/pki`, and the client certificate embedded in each kubeconfig.
pub fn root_rows(root: &Path) -> Result<(Vec<Row>, Vec<Row>), String> {
    if !root.is_dir() {
        return Err(format!("`{}` is not a directory", root.display()));
    }
    let mut certs = Vec::new();
    let mut authorities = Vec::new();
    for dir in ["etc/kubernetes", "var/lib/kubelet/pki"] {
        let base = root.join(dir);
        if !base.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(&base)
            .sort_by_file_name()
            .follow_links(false)
        {
            let entry = entry.map_err(|e| format!("cannot read `{}`: {e}", base.display()))?;
            let path = entry.path();
            let relative = path
                .strip_prefix(root)
                .unwrap_or(path)
                .display()
                .to_string();
            let extension = path.extension().and_then(|e| e.to_str());
            let pem = match extension {
                Some("crt") => std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read `{relative}`: {e}"))?,
                Some("conf") => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| format!("cannot read `{relative}`: {e}"))?;
                    match embedded_client_certificate(&text) {
                        Some(pem) => pem,
                        None => continue,
                    }
                }
                _ => continue,
            };
            let inspected = Inspected::parse(&pem).map_err(|e| format!("`{relative}`: {e}"))?;
            let key_beside = path.with_extension("key").is_file();
            let row = Row {
                name: relative,
                not_after: inspected.not_after,
                authority: if inspected.is_ca {
                    "-".into()
                } else {
                    authority_name(&inspected.issuer_common_name)
                },
                externally_managed: inspected.is_ca && !key_beside,
            };
            if inspected.is_ca {
                authorities.push(row);
            } else {
                certs.push(row);
            }
        }
    }
    // A leaf is externally managed when the key of the CA that signed it is not on the machine.
    for row in &mut certs {
        row.externally_managed = !authorities.iter().any(|ca| {
            !ca.externally_managed
                && ca_name_of(root, &ca.name).as_deref() == Some(row.authority.as_str())
        });
    }
    Ok((certs, authorities))
}

fn ca_name_of(root: &Path, relative: &str) -> Option<String> {
    let pem = std::fs::read_to_string(root.join(relative)).ok()?;
    Inspected::parse(&pem)
        .ok()
        .map(|i| authority_name(&i.common_name))
}

/// kubeadm's name for the CA with this CN (`kubernetes` → `ca`); other CNs as they are.
fn authority_name(common_name: &str) -> String {
    Authority::ALL
        .iter()
        .find(|authority| authority.common_name() == common_name)
        .map_or_else(|| common_name.to_owned(), ToString::to_string)
}

/// The PEM in a kubeconfig's `client-certificate-data`, if any.
fn embedded_client_certificate(kubeconfig: &str) -> Option<String> {
    let line = kubeconfig
        .lines()
        .find(|line| line.trim_start().starts_with("client-certificate-data:"))?;
    let data = line.split_once(':')?.1.trim().trim_matches('"');
    String::from_utf8(STANDARD.decode(data).ok()?).ok()
}

/// Both tables, as text.
pub fn render(certs: &[Row], authorities: &[Row], now: OffsetDateTime) -> String {
    let mut out = String::new();
    let width = certs
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max("CERTIFICATE".len())
        + 3;
    let _ = writeln!(
        out,
        "{:<width$}{:<26}{:<16}{:<25}EXTERNALLY MANAGED",
        "CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY"
    );
    for row in certs {
        let _ = writeln!(
            out,
            "{:<width$}{:<26}{:<16}{:<25}{}",
            row.name,
            date(row.not_after),
            residual(row.not_after, now),
            row.authority,
            yes_no(row.externally_managed)
        );
    }
    let width = authorities
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max("CERTIFICATE AUTHORITY".len())
        + 3;
    let _ = writeln!(
        out,
        "\n{:<width$}{:<26}{:<16}EXTERNALLY MANAGED",
        "CERTIFICATE AUTHORITY", "EXPIRES", "RESIDUAL TIME"
    );
    for row in authorities {
        let _ = writeln!(
            out,
            "{:<width$}{:<26}{:<16}{}",
            row.name,
            date(row.not_after),
            residual(row.not_after, now),
            yes_no(row.externally_managed)
        );
    }
    out
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// `9y`, `364d`, `23h`, or `<expired>`, as kubeadm rounds it.
pub fn residual(not_after: OffsetDateTime, now: OffsetDateTime) -> String {
    let left = not_after - now;
    if left.is_negative() || left.is_zero() {
        return "<expired>".into();
    }
    let days = left.whole_days();
    if days >= 365 {
        format!("{}y", days / 365)
    } else if days >= 1 {
        format!("{days}d")
    } else {
        format!("{}h", left.whole_hours())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn residual_time_reads_like_kubeadm() {
        let now = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(residual(now + Duration::days(3650), now), "10y");
        assert_eq!(residual(now + Duration::days(364), now), "364d");
        assert_eq!(residual(now + Duration::hours(5), now), "5h");
        assert_eq!(residual(now - Duration::hours(5), now), "<expired>");
    }
}
