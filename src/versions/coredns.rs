//! The CoreDNS image tag kubeadm installs for each Kubernetes minor (kubeadm's
//! `constants.CoreDNSVersion`), read from `coredns.tsv`, where each pin cites its source and
//! `scripts/coredns-pins.sh` re-checks it.

use super::{KubeVersion, OLDEST_MINOR};

const TABLE: &str = include_str!("coredns.tsv");

/// The CoreDNS image tag (`v1.14.6`) kubeadm installs with `version`: the pin of its minor, or,
/// for a minor the table lacks (none that kcompile supports: a test holds that), of the nearest
/// older one.
pub fn coredns_tag(version: KubeVersion) -> &'static str {
    let mut best: Option<(u32, &'static str)> = None;
    for (minor, tag) in pins() {
        if minor <= version.minor.max(OLDEST_MINOR) && best.is_none_or(|(m, _)| minor > m) {
            best = Some((minor, tag));
        }
    }
    best.map_or("", |(_, tag)| tag)
}

/// Every pin of the table: (minor, tag).
fn pins() -> impl Iterator<Item = (u32, &'static str)> {
    TABLE
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let mut columns = line.split('\t');
            let minor = columns.next()?.parse().ok()?;
            Some((minor, columns.next()?))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::NEWEST_MINOR;

    #[test]
    fn every_supported_minor_has_a_pin_of_the_image_tag_shape() {
        let pinned: Vec<u32> = pins().map(|(minor, _)| minor).collect();
        for minor in OLDEST_MINOR..=NEWEST_MINOR {
            assert!(
                pinned.contains(&minor),
                "coredns.tsv has no pin for 1.{minor}"
            );
        }
        for (minor, tag) in pins() {
            let numbers: Vec<&str> = tag.strip_prefix('v').unwrap_or("").split('.').collect();
            assert!(
                numbers.len() == 3 && numbers.iter().all(|n| n.parse::<u32>().is_ok()),
                "1.{minor}: `{tag}` is not vX.Y.Z"
            );
        }
    }

    #[test]
    fn pins_match_the_saved_reads_behind_them() {
        let sources = include_str!("../../scripts/coredns-pins.sources");
        let saved: Vec<(u32, &str)> = sources
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let columns: Vec<&str> = line.split('\t').collect();
                assert_eq!(columns.len(), 4, "{line}");
                assert!(
                    columns[3].contains(columns[1].trim_start_matches('v')),
                    "the saved line does not name {}: {line}",
                    columns[1]
                );
                (columns[0].parse().unwrap(), columns[1])
            })
            .collect();
        assert_eq!(saved, pins().collect::<Vec<_>>());
    }

    #[test]
    fn a_minor_takes_its_own_pin() {
        let version = |minor| KubeVersion { minor, patch: 0 };
        assert_eq!(coredns_tag(version(33)), "v1.12.0");
        assert_eq!(coredns_tag(version(35)), "v1.13.1");
        assert_eq!(coredns_tag(version(37)), "v1.14.6");
    }
}
