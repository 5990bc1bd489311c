//! The Kubernetes patch releases kcompile knows and the facts that change from a patch release on
//! inside a minor: the etcd tag kubeadm pins, and whether kubeadm gives the apiserver's kubelet
//! client `O=kubeadm:cluster-admins` or binds it to `system:kubelet-api-admin`.
//!
//! The data is `releases.tsv` (`minor<TAB>patch<TAB>fact<TAB>value<TAB>source`), made by
//! `scripts/releases.py` from the saved reads in `scripts/releases/reads.txt`; each row names its
//! source. `tests/suite/releases.rs` re-runs the script and compares.

use std::sync::LazyLock;

use super::tsv_rows;

/// How the apiserver's kubelet client certificate gets its rights on the kubelets' API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeletClientAccess {
    /// The certificate carries `O=kubeadm:cluster-admins`, which `kubeadm:cluster-admins` binds to
    /// `cluster-admin` (kubeadm before #138957).
    ClusterAdminsGroup,
    /// The certificate has no group; the `ClusterRoleBinding` `kubeadm:apiserver-kubelet-client`
    /// binds its CN to the `ClusterRole` `system:kubelet-api-admin` (kubeadm #138957: v1.37.0, and
    /// backported to v1.36.1, v1.35.5, v1.34.8, v1.33.12).
    KubeletApiAdminRole,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fact {
    /// The newest patch release kcompile knows of the minor.
    Newest,
    /// The etcd image tag kubeadm pins from this patch on.
    Etcd(String),
    /// From this patch on, [`KubeletClientAccess::KubeletApiAdminRole`].
    KubeletApiAdmin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    minor: u32,
    patch: u32,
    fact: Fact,
}

/// The rows of `releases.tsv` that parse; `tests` checks that every row does.
static ROWS: LazyLock<Vec<Row>> = LazyLock::new(|| parse(include_str!("releases.tsv")));

fn parse(text: &str) -> Vec<Row> {
    tsv_rows(text)
        .filter_map(|columns| parse_row(&columns))
        .collect()
}

fn parse_row(columns: &[&str]) -> Option<Row> {
    let [minor, patch, fact, value, source] = columns else {
        return None;
    };
    let minor = minor.strip_prefix("1.")?.parse().ok()?;
    let patch = patch.parse().ok()?;
    let fact = match (*fact, *value) {
        ("newest", "-") => Fact::Newest,
        ("etcd", tag) if tag != "-" => Fact::Etcd(tag.to_owned()),
        ("kubelet-api-admin", "-") => Fact::KubeletApiAdmin,
        _ => return None,
    };
    (!source.trim().is_empty()).then_some(Row { minor, patch, fact })
}

/// The newest patch release kcompile knows of `1.minor`, if it knows the minor.
pub fn newest_patch(minor: u32) -> Option<u32> {
    ROWS.iter()
        .filter(|row| row.minor == minor && row.fact == Fact::Newest)
        .map(|row| row.patch)
        .max()
}

/// The etcd tag kubeadm pins for `v1.minor.patch`: the row of the minor with the highest patch not
/// above `patch`.
pub fn etcd_pin(minor: u32, patch: u32) -> Option<&'static str> {
    ROWS.iter()
        .filter(|row| row.minor == minor && row.patch <= patch)
        .filter_map(|row| match &row.fact {
            Fact::Etcd(tag) => Some((row.patch, tag.as_str())),
            _ => None,
        })
        .max_by_key(|(patch, _)| *patch)
        .map(|(_, tag)| tag)
}

/// How kubeadm gives the apiserver's kubelet client its rights in `v1.minor.patch`.
pub fn kubelet_client_access(minor: u32, patch: u32) -> KubeletClientAccess {
    let switched = ROWS
        .iter()
        .any(|row| row.minor == minor && row.fact == Fact::KubeletApiAdmin && row.patch <= patch);
    if switched {
        KubeletClientAccess::KubeletApiAdminRole
    } else {
        KubeletClientAccess::ClusterAdminsGroup
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::{NEWEST_MINOR, OLDEST_MINOR};

    #[test]
    fn every_row_parses() {
        let data_lines = tsv_rows(include_str!("releases.tsv")).count();
        assert_eq!(
            ROWS.len(),
            data_lines,
            "a row of releases.tsv does not parse"
        );
    }

    #[test]
    fn every_supported_minor_has_a_newest_patch_and_an_etcd_pin_from_its_first_release() {
        for minor in OLDEST_MINOR..=NEWEST_MINOR {
            let newest = newest_patch(minor).unwrap_or_else(|| panic!("1.{minor}: no newest"));
            for patch in 0..=newest {
                assert!(
                    etcd_pin(minor, patch).is_some(),
                    "v1.{minor}.{patch}: no etcd"
                );
            }
            let newests = ROWS
                .iter()
                .filter(|row| row.minor == minor && row.fact == Fact::Newest)
                .count();
            assert_eq!(newests, 1, "1.{minor}: one newest row");
        }
    }

    #[test]
    fn kubeadm_138957_switches_at_the_patch_releases_that_carry_it() {
        use KubeletClientAccess::{ClusterAdminsGroup, KubeletApiAdminRole};
        for (minor, first) in [(33, 12), (34, 8), (35, 5), (36, 1), (37, 0)] {
            if first > 0 {
                assert_eq!(kubelet_client_access(minor, first - 1), ClusterAdminsGroup);
            }
            assert_eq!(kubelet_client_access(minor, first), KubeletApiAdminRole);
            assert_eq!(kubelet_client_access(minor, first + 1), KubeletApiAdminRole);
        }
    }

    #[test]
    fn a_malformed_row_is_dropped() {
        assert!(parse("1.36\t0\tetcd\t-\tsource").is_empty());
        assert!(parse("1.36\t0\tnewest\t-\t ").is_empty());
        assert!(parse("1.36\tx\tnewest\t-\tsource").is_empty());
        assert!(parse("1.36\t0\tsomething\t-\tsource").is_empty());
        assert_eq!(parse("# c\n1.36\t4\tnewest\t-\tsource\n").len(), 1);
    }
}
