//! Node facts from upstream source: the pause image tag kubeadm pins per minor (`node/pause.tsv`)
//! and the sysctl values the kubelet checks with `protectKernelDefaults`
//! (`node/kernel_tunables.tsv`, made by `scripts/node/kernel_tunables.py`). The containerd key
//! table (`node/containerd_keys.tsv`) is read by tests only: no containerd 2.x runs here.

use std::sync::LazyLock;

use super::KubeVersion;

/// The tag when a minor has no row (never, for a supported minor: `tests` checks every one).
const FALLBACK_PAUSE_TAG: &str = "3.10";

/// Pause tags by minor.
static PAUSE: LazyLock<Vec<(u32, String)>> = LazyLock::new(|| {
    rows(include_str!("node/pause.tsv"))
        .filter_map(|columns| {
            let minor = columns.first()?.strip_prefix("1.")?.parse().ok()?;
            Some((minor, (*columns.get(1)?).to_owned()))
        })
        .collect()
});

/// `(sysctl, value)` pairs, in the table's order.
static KERNEL_TUNABLES: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    rows(include_str!("node/kernel_tunables.tsv"))
        .filter_map(|columns| {
            let value: u64 = columns.get(1)?.parse().ok()?;
            Some(((*columns.first()?).to_owned(), value.to_string()))
        })
        .collect()
});

/// The tab-separated columns of each row that is not a comment.
fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split('\t').collect())
}

/// The pause image tag kubeadm pins for `version`'s minor (`registry.k8s.io/pause:<tag>`).
pub fn pause_tag(version: KubeVersion) -> &'static str {
    PAUSE
        .iter()
        .find(|(minor, _)| *minor == version.minor)
        .map_or(FALLBACK_PAUSE_TAG, |(_, tag)| tag.as_str())
}

/// The sysctl values (`vm.overcommit_memory` → `1`, ...) the kubelet requires when
/// `protectKernelDefaults` is on, and sets itself when it is off.
pub fn kernel_tunables() -> &'static [(String, String)] {
    &KERNEL_TUNABLES
}

#[cfg(test)]
mod tests {
    use super::{KERNEL_TUNABLES, PAUSE, pause_tag};
    use crate::versions::{KubeVersion, NEWEST_MINOR, OLDEST_MINOR};

    #[test]
    fn every_supported_minor_has_a_pause_tag() {
        for minor in OLDEST_MINOR..=NEWEST_MINOR {
            assert!(
                PAUSE.iter().any(|(row, _)| *row == minor),
                "no pause tag for 1.{minor}"
            );
        }
        assert_eq!(
            pause_tag(KubeVersion {
                minor: 35,
                patch: 0
            }),
            "3.10.1"
        );
    }

    #[test]
    fn every_kernel_tunable_row_parses() {
        let rows = include_str!("node/kernel_tunables.tsv")
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .count();
        assert_eq!(KERNEL_TUNABLES.len(), rows);
        assert!(
            KERNEL_TUNABLES
                .iter()
                .any(|(key, value)| key == "vm.overcommit_memory" && value == "1")
        );
    }
}
