//! Node facts from upstream source: the sysctl values the kubelet checks with
//! `protectKernelDefaults` (`node/kernel_tunables.tsv`, made by `scripts/node/kernel_tunables.py`;
//! the pause image tag is [`super::pause`]'s). The containerd key
//! table (`node/containerd_keys.tsv`) is read by tests only: no containerd 2.x runs here.

use std::sync::LazyLock;

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

/// The sysctl values (`vm.overcommit_memory` → `1`, ...) the kubelet requires when
/// `protectKernelDefaults` is on, and sets itself when it is off.
pub fn kernel_tunables() -> &'static [(String, String)] {
    &KERNEL_TUNABLES
}

#[cfg(test)]
mod tests {
    use super::KERNEL_TUNABLES;

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
