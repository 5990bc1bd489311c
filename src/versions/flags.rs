//! The per-version tables of flags and feature gates that `extraArgs` and `--feature-gates` are
//! checked against.
//!
//! Three inputs, all embedded:
//! - `src/versions/upstream/*.tsv` (but `kk-removals.tsv`): the flags (and feature gates) each
//!   release registers, extracted from tagged upstream source by `scripts/upstream_flags.py`, one
//!   row per release and name with the repository, tag, commit, path and line that registers it.
//!   Generated; never edited by hand.
//! - `src/versions/upstream/kk-removals.tsv`: flags and gates registered in kubernetes/kubernetes
//!   itself and the release that removed each, read from the release notes (`CHANGELOG-1.N.md`) by
//!   `scripts/kk_changelog.py`, each row citing the file, commit and stored copy. Generated too.
//! - `src/versions/flags/*.tsv`: the hand-written overlay. For a name the upstream data lists it
//!   holds only the hint shown when the name is refused; it also lists the names the data cannot
//!   give (flags removed before the oldest release read, and flags and gates registered in
//!   kubernetes/kubernetes itself) with `since` and `removed` written out, unless
//!   `kk-removals.tsv` gives the removal.
//!
//! A name the data lists is accepted exactly by the releases whose data lists it: `since` is the
//! first such release (when it is not the oldest one read) and `removed` the release after the last.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use crate::component::Component;

use super::{EtcdVersion, KubeVersion, parse_number};

/// A minor release: `(1, 35)` for Kubernetes, `(3, 6)` for etcd.
type Minor = (u32, u32);

/// What the flag tables say about one flag for the target versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagStatus {
    /// The target version accepts it.
    Known,
    /// It was removed in `version`; `hint` says what replaced it.
    Removed {
        /// Where it was removed, `v1.24` or `etcd 3.7`.
        version: String,
        /// Its replacement.
        hint: String,
    },
    /// It arrived after the target version.
    TooNew {
        /// Where it arrived, `v1.35` or `etcd 3.6`.
        version: String,
    },
    /// No version of the component has it; the closest known flag, if any is close.
    Unknown {
        /// A known flag of a similar name.
        suggestion: Option<String>,
    },
    /// No release registers it, and nothing is close, in a table that holds every flag the
    /// component registers (extracted from its source: etcd), so the component refuses it.
    Unregistered,
}

/// Looks `flag` (without dashes) up in the table of `component` for the target versions.
pub fn flag_status(
    component: Component,
    flag: &str,
    kube: KubeVersion,
    etcd: &EtcdVersion,
) -> FlagStatus {
    let Some(table) = FLAG_TABLES.get(&component) else {
        return FlagStatus::Known;
    };
    let target = if component == Component::Etcd {
        etcd.minor()
    } else {
        (1, kube.minor)
    };
    let show = |(major, minor): Minor| {
        if component == Component::Etcd {
            format!("etcd {major}.{minor}")
        } else {
            format!("v{major}.{minor}")
        }
    };
    let Some(entry) = table.get(flag) else {
        let suggestion = table.closest_accepted(flag, target);
        if suggestion.is_none() && COMPLETE.contains(&component) {
            return FlagStatus::Unregistered;
        }
        return FlagStatus::Unknown { suggestion };
    };
    match entry.at(target) {
        Lifecycle::Accepted => FlagStatus::Known,
        Lifecycle::Removed(removal) => FlagStatus::Removed {
            version: show(removal.minor),
            hint: entry.hint.clone(),
        },
        Lifecycle::TooNew(since) => FlagStatus::TooNew {
            version: show(since),
        },
    }
}

/// What the tables say about one feature gate for the target version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateStatus {
    /// The gate exists (or the table cannot tell).
    Known,
    /// The gate was removed in `version`.
    Removed {
        /// `in v1.19`, or `before v1.33` where the exact release is not recorded.
        version: String,
        /// What to do instead.
        hint: String,
    },
    /// The gate arrived after the target version.
    TooNew {
        /// Where it arrived, `v1.36`.
        version: String,
    },
    /// No version has this gate.
    Unknown {
        /// A known gate of a similar name.
        suggestion: Option<String>,
    },
}

/// Looks a feature gate up for the target Kubernetes version.
pub fn gate_status(gate: &str, kube: KubeVersion) -> GateStatus {
    let target = (1, kube.minor);
    let Some(entry) = FEATURE_GATES.get(gate) else {
        return GateStatus::Unknown {
            suggestion: FEATURE_GATES.closest_accepted(gate, target),
        };
    };
    match entry.at(target) {
        Lifecycle::Accepted => GateStatus::Known,
        Lifecycle::Removed(removal) => GateStatus::Removed {
            version: if removal.exact {
                format!("in v1.{}", removal.minor.1)
            } else {
                format!("before v1.{}", removal.minor.1)
            },
            hint: entry.hint.clone(),
        },
        Lifecycle::TooNew((_, minor)) => GateStatus::TooNew {
            version: format!("v1.{minor}"),
        },
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    candidates
        .map(|candidate| (strsim::damerau_levenshtein(word, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (word.len().max(candidate.len()) / 3).max(1))
        .min()
        .map(|(_, candidate)| candidate.to_owned())
}

/// The first release that no longer has a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Removal {
    minor: Minor,
    /// False for `<1.33` rows: removed at or before `minor`, the exact release not recorded.
    exact: bool,
}

/// Where a name stands at one release.
enum Lifecycle {
    Accepted,
    Removed(Removal),
    TooNew(Minor),
}

#[derive(Debug)]
struct Entry {
    since: Option<Minor>,
    removed: Option<Removal>,
    hint: String,
}

impl Entry {
    fn at(&self, target: Minor) -> Lifecycle {
        match (self.since, self.removed) {
            (_, Some(removal)) if target >= removal.minor => Lifecycle::Removed(removal),
            (Some(since), _) if target < since => Lifecycle::TooNew(since),
            _ => Lifecycle::Accepted,
        }
    }
}

/// One component's table: every name either input knows.
#[derive(Debug, Default)]
struct Table {
    entries: BTreeMap<String, Entry>,
}

impl Table {
    fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name)
    }

    fn closest_accepted(&self, word: &str, target: Minor) -> Option<String> {
        let accepted = self
            .entries
            .iter()
            .filter(|(_, entry)| matches!(entry.at(target), Lifecycle::Accepted))
            .map(|(name, _)| name.as_str());
        closest(word, accepted)
    }

    /// Builds the table from the upstream data, the overlay and the release-note removals of the
    /// names the upstream data does not list (for a name it lists, a test checks they agree).
    fn build(upstream: &Upstream, overlay: &[OverlayRow], removals: &[KkRemoval]) -> Table {
        let mut entries = BTreeMap::new();
        for (name, present) in &upstream.present {
            entries.insert(name.clone(), upstream.entry(present));
        }
        for row in overlay {
            match entries.get_mut(&row.name) {
                Some(entry) => entry.hint.clone_from(&row.hint),
                None => {
                    entries.insert(
                        row.name.clone(),
                        Entry {
                            since: row.since,
                            removed: row.removed,
                            hint: row.hint.clone(),
                        },
                    );
                }
            }
        }
        for removal in removals {
            if upstream.present.contains_key(removal.name) {
                continue;
            }
            let entry = entries
                .entry(removal.name.to_owned())
                .or_insert_with(|| Entry {
                    since: None,
                    removed: None,
                    hint: String::new(),
                });
            entry.removed = Some(Removal {
                minor: removal.removed,
                exact: true,
            });
        }
        Table { entries }
    }
}

/// The parsed upstream data of one component: which releases list which names.
#[derive(Debug, Default)]
struct Upstream {
    /// Every release the data covers, oldest first.
    releases: BTreeSet<Minor>,
    /// Name → the releases that list it.
    present: BTreeMap<String, BTreeSet<Minor>>,
}

impl Upstream {
    fn parse(text: &str) -> Upstream {
        let mut upstream = Upstream::default();
        for row in table_rows(text).filter_map(|columns| UpstreamRow::parse(&columns)) {
            upstream.releases.insert(row.minor);
            upstream
                .present
                .entry(row.name.to_owned())
                .or_default()
                .insert(row.minor);
        }
        upstream
    }

    fn entry(&self, present: &BTreeSet<Minor>) -> Entry {
        let oldest = self.releases.first().copied();
        let first = present.first().copied();
        let since = first.filter(|first| Some(*first) != oldest);
        let removed = present.last().and_then(|last| {
            self.releases
                .range((std::ops::Bound::Excluded(*last), std::ops::Bound::Unbounded))
                .next()
                .map(|minor| Removal {
                    minor: *minor,
                    exact: true,
                })
        });
        Entry {
            since,
            removed,
            hint: String::new(),
        }
    }
}

/// One row of `src/versions/upstream/*.tsv`, `release name repo tag commit path line`: the
/// release's minor and the name. A row that does not cite its source (a repository, a full commit,
/// a Go file and a line) is not a row.
#[derive(Debug)]
struct UpstreamRow<'a> {
    minor: Minor,
    name: &'a str,
}

impl<'a> UpstreamRow<'a> {
    fn parse(columns: &[&'a str]) -> Option<UpstreamRow<'a>> {
        let &[release, name, repo, tag, commit, path, line] = columns else {
            return None;
        };
        let cited = repo.contains('/')
            && !tag.is_empty()
            && commit.len() == 40
            && commit.bytes().all(|b| b.is_ascii_hexdigit())
            && path.ends_with(".go")
            && parse_number(line).is_some_and(|line| line > 0);
        let mut numbers = release.split('.').map(parse_number);
        let minor = (numbers.next()??, numbers.next()??);
        cited.then_some(UpstreamRow { minor, name })
    }
}

/// One row of `src/versions/upstream/kk-removals.tsv`, `component name removed repo commit path
/// store-id read`: a flag (or, for component `feature-gates`, a gate) that kubernetes/kubernetes
/// registers itself, and the release whose release notes say it was removed. A row that does not
/// cite its source (a repository, a full commit, a release-notes file, the stored copy's id and the
/// offsets read) is not a row.
#[derive(Debug, Clone, Copy)]
struct KkRemoval<'a> {
    component: &'a str,
    name: &'a str,
    removed: Minor,
}

impl<'a> KkRemoval<'a> {
    fn parse(columns: &[&'a str]) -> Option<KkRemoval<'a>> {
        let &[component, name, removed, repo, commit, path, store_id, read] = columns else {
            return None;
        };
        let cited = repo.contains('/')
            && commit.len() == 40
            && commit.bytes().all(|b| b.is_ascii_hexdigit())
            && path.ends_with(".md")
            && !store_id.is_empty()
            && store_id.bytes().all(|b| b.is_ascii_digit())
            && !read.is_empty();
        let removed = parse_minor(removed)?;
        cited.then_some(KkRemoval {
            component,
            name,
            removed,
        })
    }
}

/// The component column of the gate rows of `kk-removals.tsv`.
const GATE_ROWS: &str = "feature-gates";

const KK_REMOVALS: &str = include_str!("upstream/kk-removals.tsv");

/// The rows of `kk-removals.tsv` whose component column is `component`.
fn kk_removals(component: &str) -> Vec<KkRemoval<'static>> {
    table_rows(KK_REMOVALS)
        .filter_map(|columns| KkRemoval::parse(&columns))
        .filter(|row| row.component == component)
        .collect()
}

/// One row of an overlay, `name since removed hint` (flags) or `name removed hint` (gates).
#[derive(Debug)]
struct OverlayRow {
    name: String,
    since: Option<Minor>,
    removed: Option<Removal>,
    hint: String,
}

fn parse_flag_overlay(text: &str) -> Vec<OverlayRow> {
    table_rows(text)
        .map(|columns| OverlayRow {
            name: columns[0].to_owned(),
            since: columns.get(1).and_then(|c| parse_minor(c)),
            removed: columns.get(2).and_then(|c| parse_removal(c)),
            hint: hint_column(columns.get(3)),
        })
        .collect()
}

fn parse_gate_overlay(text: &str) -> Vec<OverlayRow> {
    table_rows(text)
        .map(|columns| OverlayRow {
            name: columns[0].to_owned(),
            since: None,
            removed: columns.get(1).and_then(|c| parse_removal(c)),
            hint: hint_column(columns.get(2)),
        })
        .collect()
}

fn hint_column(column: Option<&&str>) -> String {
    match column {
        Some(&"-") | None => String::new(),
        Some(hint) => (*hint).to_owned(),
    }
}

/// `1.24` (removed in 1.24) or `<1.33` (removed in or before 1.33).
fn parse_removal(text: &str) -> Option<Removal> {
    match text.strip_prefix('<') {
        Some(minor) => parse_minor(minor).map(|minor| Removal {
            minor,
            exact: false,
        }),
        None => parse_minor(text).map(|minor| Removal { minor, exact: true }),
    }
}

/// The components whose upstream data holds every flag they register: a name in no row is refused.
/// (The Kubernetes components also register flags in kubernetes/kubernetes, which the data does not
/// cover yet, so an unknown name there is only warned about.)
const COMPLETE: [Component; 1] = [Component::Etcd];

/// The upstream data and the overlay of each component that has a table.
const SOURCES: [(Component, &str, &str); 6] = [
    (
        Component::Etcd,
        include_str!("upstream/etcd.tsv"),
        include_str!("flags/etcd.tsv"),
    ),
    (
        Component::ApiServer,
        include_str!("upstream/kube-apiserver.tsv"),
        include_str!("flags/kube-apiserver.tsv"),
    ),
    (
        Component::ControllerManager,
        include_str!("upstream/kube-controller-manager.tsv"),
        include_str!("flags/kube-controller-manager.tsv"),
    ),
    (
        Component::Scheduler,
        include_str!("upstream/kube-scheduler.tsv"),
        include_str!("flags/kube-scheduler.tsv"),
    ),
    // kube-proxy and kubelet register their flags in kubernetes/kubernetes only: no per-release data;
    // the removals the release notes give are in `kk-removals.tsv`.
    (
        Component::KubeProxy,
        "",
        include_str!("flags/kube-proxy.tsv"),
    ),
    (Component::Kubelet, "", include_str!("flags/kubelet.tsv")),
];

static FLAG_TABLES: LazyLock<HashMap<Component, Table>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(component, upstream, overlay)| {
            let table = Table::build(
                &Upstream::parse(upstream),
                &parse_flag_overlay(overlay),
                &kk_removals(component.binary()),
            );
            (*component, table)
        })
        .filter(|(_, table)| !table.entries.is_empty())
        .collect()
});

const GATES_UPSTREAM: &str = include_str!("upstream/feature-gates.tsv");
const GATES_OVERLAY: &str = include_str!("flags/feature-gates.tsv");

static FEATURE_GATES: LazyLock<Table> = LazyLock::new(|| {
    Table::build(
        &Upstream::parse(GATES_UPSTREAM),
        &parse_gate_overlay(GATES_OVERLAY),
        &kk_removals(GATE_ROWS),
    )
});

/// The non-comment rows of a TSV table, split into trimmed columns.
fn table_rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split('\t').map(str::trim).collect())
}

fn parse_minor(text: &str) -> Option<Minor> {
    let (major, minor) = text.split_once('.')?;
    Some((parse_number(major)?, parse_number(minor)?))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            for columns in table_rows(upstream) {
                by_release.entry(columns[0]).or_default().insert(columns[1]);
            }
            for (release, names) in &by_release {
                for (other, other_names) in &by_release {
                    if release < other
                        && release.rsplit_once('.').map(|p| p.0)
                            == other.rsplit_once('.').map(|p| p.0)
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
            for columns in table_rows(upstream) {
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
        for columns in table_rows(KK_REMOVALS) {
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
        assert_eq!(checked, table_rows(KK_REMOVALS).count());
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
}
