//! The pause image: the pod sandbox every pod's containers share namespaces with, which the
//! kubelet asks the container runtime for (containerd's `sandbox_image` / `sandbox`), at the tag
//! kubeadm pins per Kubernetes minor (`PauseVersion` in kubeadm's
//! `cmd/kubeadm/app/constants/constants.go`). kubeadm pulls it with the control-plane images
//! (`kubeadm config images list`); kcompile lists it in `kcompile images` and the node files give
//! it to the runtime, both through [`super::images::pause_image`], which names it with
//! [`pause_tag`].
//!
//! The data is `pause.tsv` (`minor<TAB>tag<TAB>source`), made by `scripts/pause.py` from the saved
//! reads in `scripts/pause/reads.txt`; each row names its sources. `tests/suite/images.rs` re-runs the
//! script and compares.

use std::sync::LazyLock;

use super::{KubeVersion, NEWEST_MINOR, tsv_rows};

/// `(minor, tag)` for every row of `pause.tsv` that parses; the tests check that every row does.
static ROWS: LazyLock<Vec<(u32, &'static str)>> =
    LazyLock::new(|| parse(include_str!("pause.tsv")));

fn parse(text: &'static str) -> Vec<(u32, &'static str)> {
    tsv_rows(text)
        .filter_map(|columns| {
            let [minor, tag, source] = columns.as_slice() else {
                return None;
            };
            let minor = minor.strip_prefix("1.")?.parse().ok()?;
            let well_formed = !tag.is_empty()
                && tag.chars().all(|c| c.is_ascii_digit() || c == '.')
                && !source.trim().is_empty();
            well_formed.then_some((minor, *tag))
        })
        .collect()
}

/// The pause image tag kubeadm pins for `version`'s minor (`3.10.2` for v1.37). Every minor
/// [`KubeVersion::parse`] accepts has a row; a hand-made version outside the table gets the
/// newest minor's.
pub fn pause_tag(version: KubeVersion) -> &'static str {
    let tag_of = |minor: u32| {
        ROWS.iter()
            .find(|(row_minor, _)| *row_minor == minor)
            .map(|(_, tag)| *tag)
    };
    tag_of(version.minor)
        .or_else(|| tag_of(NEWEST_MINOR))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::OLDEST_MINOR;

    #[test]
    fn every_row_parses() {
        let data_lines = tsv_rows(include_str!("pause.tsv")).count();
        assert_eq!(ROWS.len(), data_lines, "a row of pause.tsv does not parse");
    }

    #[test]
    fn every_supported_minor_has_its_own_tag() {
        for minor in OLDEST_MINOR..=NEWEST_MINOR {
            assert!(
                ROWS.iter().any(|(row, _)| *row == minor),
                "pause.tsv has no row for 1.{minor}"
            );
        }
    }
}
