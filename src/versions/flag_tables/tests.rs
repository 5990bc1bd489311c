use super::*;
use crate::versions::flags::{FlagStatus, GateStatus, flag_status, gate_status};
use crate::versions::{EtcdVersion, KubeVersion};

fn kube(minor: u32) -> KubeVersion {
    KubeVersion { minor, patch: 0 }
}

fn etcd((major, minor): Minor) -> EtcdVersion {
    EtcdVersion {
        number: (major, minor, 0),
        tag: format!("{major}.{minor}.0-0"),
    }
}

/// The status of `name` at `release` (`(1, 35)` or `(3, 6)`).
fn status(component: Component, name: &str, release: Minor) -> FlagStatus {
    if component == Component::Etcd {
        flag_status(component, name, kube(37), &etcd(release))
    } else {
        flag_status(component, name, kube(release.1), &etcd((3, 6)))
    }
}

/// Every name the upstream data lists for a release is accepted there, and refused at every
/// release whose data does not list it: the tables are what the data says.
#[test]
fn tables_equal_the_upstream_data() {
    let mut checked = 0;
    for (component, upstream, _) in SOURCES {
        let data = Upstream::parse(upstream);
        for (name, present) in &data.present {
            for release in &data.releases {
                let accepted = status(component, name, *release) == FlagStatus::Known;
                assert_eq!(
                    accepted,
                    present.contains(release),
                    "{component} --{name} at {release:?}"
                );
                checked += 1;
            }
        }
    }
    let gates = Upstream::parse(GATES_UPSTREAM);
    for (name, present) in &gates.present {
        for release in &gates.releases {
            let accepted = gate_status(name, kube(release.1)) == GateStatus::Known;
            assert_eq!(
                accepted,
                present.contains(release),
                "gate {name} at {release:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 2_000, "only {checked} checks");
}

/// A name comes and goes once: no release in the middle of its life lacks it, and the etcd tags
/// of one minor (3.6.0 and 3.6.14, 3.7.0 and 3.7.1) register the same flags.
#[test]
fn upstream_lifecycles_are_contiguous() {
    let all = SOURCES
        .iter()
        .map(|(component, upstream, _)| (component.binary(), *upstream))
        .chain([("feature gates", GATES_UPSTREAM)]);
    for (what, upstream) in all {
        let data = Upstream::parse(upstream);
        for (name, present) in &data.present {
            let (Some(first), Some(last)) = (present.first(), present.last()) else {
                continue;
            };
            let span = data.releases.range(first..=last).count();
            assert_eq!(span, present.len(), "{what} {name}: a gap in {present:?}");
        }
        let mut by_release: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for columns in tsv_rows(upstream) {
            by_release.entry(columns[0]).or_default().insert(columns[1]);
        }
        for (release, names) in &by_release {
            for (other, other_names) in &by_release {
                if release < other
                    && release.rsplit_once('.').map(|p| p.0) == other.rsplit_once('.').map(|p| p.0)
                    && release.matches('.').count() == 2
                {
                    assert_eq!(names, other_names, "{what}: {release} and {other} differ");
                }
            }
        }
    }
}

/// Every upstream row cites a repository, a tag, a full commit, a Go file and a line.
#[test]
fn upstream_rows_cite_their_source() {
    let all = SOURCES
        .iter()
        .map(|(_, upstream, _)| *upstream)
        .chain([GATES_UPSTREAM]);
    for upstream in all {
        for columns in tsv_rows(upstream) {
            assert!(
                UpstreamRow::parse(&columns).is_some(),
                "an upstream row without its source: {columns:?}"
            );
        }
    }
}

/// The overlay gives only hints for names the data lists; every other row is a name the data
/// cannot give (removed before the oldest release read, or registered in kubernetes/kubernetes),
/// and no name is listed twice. etcd has no such second source: its hand rows are all
/// historical, except `help`, which Go's flag package answers without registering it.
#[test]
fn overlays_only_add_what_the_data_cannot_give() {
    let flag_overlays = SOURCES.iter().map(|(component, upstream, overlay)| {
        (
            *component,
            Upstream::parse(upstream),
            parse_flag_overlay(overlay),
        )
    });
    let gates = (
        None,
        Upstream::parse(GATES_UPSTREAM),
        parse_gate_overlay(GATES_OVERLAY),
    );
    for (component, data, overlay) in flag_overlays
        .map(|(component, data, overlay)| (Some(component), data, overlay))
        .chain([gates])
    {
        let mut seen = BTreeSet::new();
        for row in &overlay {
            assert!(seen.insert(&row.name), "{component:?}: {} twice", row.name);
            if data.present.contains_key(&row.name) {
                assert!(
                    row.since.is_none() && row.removed.is_none(),
                    "{component:?} {}: the upstream data gives its lifecycle",
                    row.name
                );
                assert!(
                    !row.hint.is_empty(),
                    "{component:?} {}: an empty row",
                    row.name
                );
            } else if component == Some(Component::Etcd) && row.name != "help" {
                let oldest = data.releases.first().copied();
                assert!(
                    row.removed.is_some_and(|r| Some(r.minor) <= oldest),
                    "etcd --{}: in no release read, yet not marked removed",
                    row.name
                );
            }
        }
    }
}

/// Every row of `kk-removals.tsv` cites its source and names a component that has a table; no
/// name is removed twice.
#[test]
fn kk_removal_rows_cite_their_source() {
    let mut seen = BTreeSet::new();
    for columns in tsv_rows(KK_REMOVALS) {
        let row = KkRemoval::parse(&columns);
        assert!(
            row.is_some(),
            "a kk-removals row without its source: {columns:?}"
        );
        let Some(row) = row else { continue };
        assert!(
            row.component == GATE_ROWS
                || SOURCES.iter().any(|(c, _, _)| c.binary() == row.component),
            "kk-removals: unknown component {}",
            row.component
        );
        assert!(seen.insert((row.component, row.name)), "{columns:?} twice");
    }
    assert!(!seen.is_empty());
}

/// Where the per-release staging data also lists a name the release notes say was removed, both
/// give the same release; and the overlay sets no `removed` for a name the release notes give.
#[test]
fn kk_removals_agree_with_the_data_and_leave_the_overlay_without_lifecycle() {
    let flags = SOURCES.iter().map(|(component, upstream, overlay)| {
        (
            component.binary(),
            Upstream::parse(upstream),
            parse_flag_overlay(overlay),
        )
    });
    let gates = (
        GATE_ROWS,
        Upstream::parse(GATES_UPSTREAM),
        parse_gate_overlay(GATES_OVERLAY),
    );
    let mut checked = 0;
    for (component, data, overlay) in flags.chain([gates]) {
        for removal in kk_removals(component) {
            checked += 1;
            let expected = Some(Removal {
                minor: removal.removed,
                exact: true,
            });
            if let Some(present) = data.present.get(removal.name) {
                assert_eq!(
                    data.entry(present).removed,
                    expected,
                    "{component} {}: the staging data and the release notes disagree",
                    removal.name
                );
            }
            for row in overlay.iter().filter(|row| row.name == removal.name) {
                assert!(
                    row.removed.is_none(),
                    "{component} {}: the release notes give its removal",
                    removal.name
                );
            }
        }
    }
    assert_eq!(checked, tsv_rows(KK_REMOVALS).count());
}

#[test]
fn the_cases_of_issue_11() {
    use Component::{ApiServer, ControllerManager, Etcd, Scheduler};
    for flag in [
        "wait-cluster-ready-timeout",
        "experimental-wait-cluster-ready-timeout",
        "experimental-max-learners",
    ] {
        for release in [(3, 5), (3, 6), (3, 7)] {
            assert_eq!(
                status(Etcd, flag, release),
                FlagStatus::Unregistered,
                "{flag} {release:?}"
            );
        }
    }
    let too_new = |version: &str| FlagStatus::TooNew {
        version: version.to_owned(),
    };
    assert_eq!(status(Etcd, "max-learners", (3, 5)), too_new("etcd 3.6"));
    assert_eq!(status(Etcd, "max-learners", (3, 6)), FlagStatus::Known);
    assert_eq!(status(Etcd, "max-learners", (3, 7)), FlagStatus::Known);
    let unary = "experimental-warning-unary-request-duration";
    assert_eq!(status(Etcd, unary, (3, 5)), too_new("etcd 3.6"));
    assert_eq!(status(Etcd, unary, (3, 6)), FlagStatus::Known);
    for flag in ["discovery", "discovery-proxy"] {
        assert_eq!(status(Etcd, flag, (3, 6)), FlagStatus::Known);
        assert!(matches!(
            status(Etcd, flag, (3, 7)),
            FlagStatus::Removed { version, .. } if version == "etcd 3.7"
        ));
    }
    for flag in ["log-format", "discovery-token", "discovery-endpoints"] {
        assert_eq!(status(Etcd, flag, (3, 5)), too_new("etcd 3.6"));
        assert_eq!(status(Etcd, flag, (3, 7)), FlagStatus::Known);
    }
    for flag in ["snapshot-count", "max-snapshots"] {
        assert_eq!(status(Etcd, flag, (3, 7)), FlagStatus::Known);
    }
    let service_syncs = "concurrent-service-syncs";
    assert_eq!(
        status(ControllerManager, service_syncs, (1, 36)),
        FlagStatus::Known
    );
    assert!(matches!(
        status(ControllerManager, service_syncs, (1, 37)),
        FlagStatus::Removed { version, .. } if version == "v1.37"
    ));
    for component in [ApiServer, ControllerManager, Scheduler] {
        let flag = "min-compatibility-version";
        assert_eq!(status(component, flag, (1, 34)), too_new("v1.35"));
        assert_eq!(status(component, flag, (1, 35)), FlagStatus::Known);
    }
    for (component, flag) in [
        (ApiServer, "audit-webhook-batch-initial-backoff"),
        (ControllerManager, "allow-untagged-cloud"),
        (ControllerManager, "node-sync-period"),
    ] {
        for minor in 33..=37 {
            assert_eq!(
                status(component, flag, (1, minor)),
                FlagStatus::Known,
                "{flag}"
            );
        }
    }
    // Not the stale "removed in v1.24", nor "still registered": kubernetes/kubernetes#119130
    // removed them in v1.28.
    for flag in ["lock-object-name", "lock-object-namespace"] {
        assert!(matches!(
            status(Scheduler, flag, (1, 33)),
            FlagStatus::Removed { version, .. } if version == "v1.28"
        ));
    }
    for gate in [
        "SidecarContainers",
        "APIServerTracing",
        "RetryGenerateName",
        "BtreeWatchCache",
        "OrderedNamespaceDeletion",
        "StreamingCollectionEncodingToJSON",
        "StreamingCollectionEncodingToProtobuf",
        "ResilientWatchCacheInitialization",
        "ConsistentListFromCache",
        "RelaxedDNSSearchValidation",
        "AnyVolumeDataSource",
    ] {
        assert_eq!(gate_status(gate, kube(36)), GateStatus::Known, "{gate}");
        assert!(
            matches!(gate_status(gate, kube(37)), GateStatus::Removed { version, .. } if version == "in v1.37"),
            "{gate}"
        );
    }
}

#[test]
fn closest_finds_typos_only() {
    let words = ["secure-port", "profiling", "audit-log-path"];
    assert_eq!(
        closest("secure-prot", words.into_iter()).as_deref(),
        Some("secure-port")
    );
    assert_eq!(closest("zzz", words.into_iter()), None);
}
