//! `kcompile certs`: when each certificate expires, as `kubeadm certs check-expiration` shows it,
//! for the state dir or for the files installed on a machine.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;

use super::PkiError;
use super::catalog::CertSpec;
use super::inspect::{CertificateError, Inspected, date};
use crate::cluster::Authority;
use crate::root::{Kind, Root, RootError};
use crate::state::State;

/// How deep `etc/kubernetes` and `var/lib/kubelet/pki` are walked for certificates.
const MAX_DEPTH: usize = 8;

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
pub fn state_rows(state: &State, leaves: &[CertSpec]) -> Result<(Vec<Row>, Vec<Row>), PkiError> {
    let mut certs = Vec::new();
    for leaf in leaves {
        let path = super::leaf_path(leaf, "crt");
        let Some(pem) = state.read_text(&path)? else {
            continue;
        };
        let inspected = Inspected::parse(&pem).map_err(|source| PkiError::Certificate {
            path: path.clone(),
            source,
        })?;
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
        let inspected = Inspected::parse(&pem).map_err(|source| PkiError::Certificate {
            path: path.clone(),
            source,
        })?;
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

/// Why `certs --root` cannot list a machine root's certificates.
#[derive(Debug, thiserror::Error)]
pub enum RootRowsError {
    /// The root itself cannot be opened (it names the root).
    #[error("{0}")]
    Open(RootError),
    /// A certificate or kubeconfig under it cannot be read.
    #[error("cannot read `{}`: {source}", root.display())]
    Unreadable {
        /// The root, as named.
        root: PathBuf,
        /// Why, with the path under the root.
        source: RootError,
    },
    /// A `.crt` or kubeconfig certificate that does not parse.
    #[error("`{path}`: {source}")]
    Certificate {
        /// The path under the root.
        path: String,
        /// Why.
        source: CertificateError,
    },
}

/// The rows for a machine's root: every certificate (`.crt`) under `etc/kubernetes` and
/// `var/lib/kubelet/pki`, and the client certificate embedded in each kubeconfig (`.conf`). The
/// root is read through [`Root`]: links resolve as if it were `/`, only regular files up to
/// [`crate::root::MAX_FILE`] are read. A `.crt` or `.conf` that cannot be read (a link out of
/// the root, a FIFO, a device, an oversized file) is an error naming it; any other path that
/// cannot be followed (a directory link out of the root) is a warning on stderr; other files are
/// not looked at.
pub fn root_rows(root: &Path) -> Result<(Vec<Row>, Vec<Row>), RootRowsError> {
    let machine = Root::open(root).map_err(RootRowsError::Open)?;
    let cannot_read = |source: RootError| RootRowsError::Unreadable {
        root: root.to_owned(),
        source,
    };
    let mut certs = Vec::new();
    let mut authorities = Vec::new();
    // The kubeadm name of each CA row (by the CN it carries).
    let mut ca_names: Vec<String> = Vec::new();
    for dir in ["etc/kubernetes", "var/lib/kubelet/pki"] {
        let entries = match machine.walk(dir, MAX_DEPTH) {
            Ok(entries) => entries,
            Err(error) if error.is_link() => {
                crate::say!("warning: {error}: no certificate under it is listed");
                continue;
            }
            Err(error) => return Err(cannot_read(error)),
        };
        for entry in entries {
            let relative = entry.path;
            let extension = Path::new(&relative).extension().and_then(|e| e.to_str());
            match entry.found {
                Err(error) if matches!(extension, Some("crt" | "conf")) => {
                    return Err(cannot_read(error));
                }
                // A link not followed, an unreadable directory: certificates may hide there.
                Err(error) => {
                    crate::say!("warning: {error}: no certificate under it is listed");
                    continue;
                }
                Ok(_) if !matches!(extension, Some("crt" | "conf")) => continue,
                Ok(_) => {}
            }
            let Some(bytes) = machine.read(&relative).map_err(cannot_read)? else {
                // Gone since it was listed.
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            let pem = if extension == Some("conf") {
                match embedded_client_certificate(&text) {
                    Some(pem) => pem,
                    None => continue,
                }
            } else {
                text.into_owned()
            };
            let inspected =
                Inspected::parse(&pem).map_err(|source| RootRowsError::Certificate {
                    path: relative.clone(),
                    source,
                })?;
            let key = Path::new(&relative).with_extension("key");
            let key_beside = key.to_str().is_some_and(|key| {
                machine
                    .stat(key)
                    .is_ok_and(|found| found.is_some_and(|f| f.kind == Kind::File))
            });
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
                ca_names.push(authority_name(&inspected.common_name));
            } else {
                certs.push(row);
            }
        }
    }
    // A leaf is externally managed when the key of the CA that signed it is not on the machine.
    for row in &mut certs {
        row.externally_managed = !authorities
            .iter()
            .zip(&ca_names)
            .any(|(ca, name)| !ca.externally_managed && *name == row.authority);
    }
    Ok((certs, authorities))
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

/// Both tables as JSON (`formatVersion` 1): `{"formatVersion": 1, "certificates": [ROW],
/// "authorities": [ROW]}`, each row `{"name", "notAfter" (RFC 3339), "residualSeconds",
/// "authority", "externallyManaged"}`.
pub fn render_json(certs: &[Row], authorities: &[Row], now: OffsetDateTime) -> String {
    let rows = |rows: &[Row]| -> Vec<serde_json::Value> {
        rows.iter()
            .map(|row| {
                serde_json::json!({
                    "name": row.name,
                    "notAfter": row
                        .not_after
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                    "residualSeconds": (row.not_after - now).whole_seconds(),
                    "authority": row.authority,
                    "externallyManaged": row.externally_managed,
                })
            })
            .collect()
    };
    crate::json::document(&serde_json::json!({
        "certificates": rows(certs),
        "authorities": rows(authorities),
    }))
}

/// Both tables, as text, as `kubeadm certs check-expiration` prints them.
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
