//! The pause image: the pod sandbox every pod's containers share namespaces with, which the
//! kubelet asks the container runtime for (containerd's `sandbox_image` / `sandbox`), at the tag
//! kubeadm pins per Kubernetes minor (`PauseVersion` in kubeadm's
//! `cmd/kubeadm/app/constants/constants.go`). kubeadm pulls it with the control-plane images
//! (`kubeadm config images list`); kcompile lists it in `kcompile images` and the node files give
//! it to the runtime, both through [`pause_image`].
//!
//! The data is `pause.tsv` (`minor<TAB>tag<TAB>source`), made by `scripts/pause.py` from the saved
//! reads in `scripts/pause/reads.txt`; each row names its sources. `tests/images.rs` re-runs the
//! script and compares.

use std::sync::LazyLock;

use super::{KubeVersion, NEWEST_MINOR};

/// The pause image's name under an image repository (`registry.k8s.io/pause`).
pub const PAUSE_IMAGE_NAME: &str = "pause";

/// `(minor, tag)` for every row of `pause.tsv` that parses; the tests check that every row does.
static ROWS: LazyLock<Vec<(u32, &'static str)>> =
    LazyLock::new(|| parse(include_str!("pause.tsv")));

fn parse(text: &'static str) -> Vec<(u32, &'static str)> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut columns = line.split('\t');
            let minor = columns.next()?.strip_prefix("1.")?.parse().ok()?;
            let tag = columns.next()?;
            let source = columns.next()?;
            let well_formed = !tag.is_empty()
                && tag.chars().all(|c| c.is_ascii_digit() || c == '.')
                && !source.trim().is_empty()
                && columns.next().is_none();
            well_formed.then_some((minor, tag))
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

/// The pause image a host of a `version` cluster runs every pod's sandbox from, under
/// `image_repository` (the spec's `imageRepository`, e.g. `registry.k8s.io`):
/// `registry.k8s.io/pause:3.10.2`.
pub fn pause_image(image_repository: &str, version: KubeVersion) -> String {
    format!(
        "{image_repository}/{PAUSE_IMAGE_NAME}:{}",
        pause_tag(version)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::OLDEST_MINOR;

    #[test]
    fn every_row_parses() {
        let text = include_str!("pause.tsv");
        let data_lines = text
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .count();
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

    #[test]
    fn the_image_is_the_tag_under_the_repository() {
        let v1_37 = KubeVersion::parse("v1.37.1").unwrap();
        assert_eq!(
            pause_image("registry.k8s.io", v1_37),
            "registry.k8s.io/pause:3.10.2"
        );
        let v1_33 = KubeVersion::parse("v1.33.0").unwrap();
        assert_eq!(
            pause_image("mirror.example.com:5000/k8s", v1_33),
            "mirror.example.com:5000/k8s/pause:3.10"
        );
    }
}
