//! The flag and feature-gate tables behind [`super::flags`], built at first use from the three
//! embedded inputs its documentation describes: the per-release upstream data, the release-note
//! removals of kubernetes/kubernetes and the hand-written overlay.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use super::flags::closest;
use super::{parse_number, tsv_rows};
use crate::component::Component;

/// A minor release: `(1, 35)` for Kubernetes, `(3, 6)` for etcd.
pub(super) type Minor = (u32, u32);

/// The first release that no longer has a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Removal {
    pub(super) minor: Minor,
    /// False for `<1.33` rows: removed at or before `minor`, the exact release not recorded.
    pub(super) exact: bool,
}

/// Where a name stands at one release.
pub(super) enum Lifecycle {
    Accepted,
    Removed(Removal),
    TooNew(Minor),
}

#[derive(Debug)]
pub(super) struct Entry {
    pub(super) since: Option<Minor>,
    pub(super) removed: Option<Removal>,
    pub(super) hint: String,
}

impl Entry {
    pub(super) fn at(&self, target: Minor) -> Lifecycle {
        match (self.since, self.removed) {
            (_, Some(removal)) if target >= removal.minor => Lifecycle::Removed(removal),
            (Some(since), _) if target < since => Lifecycle::TooNew(since),
            _ => Lifecycle::Accepted,
        }
    }
}

/// One component's table: every name either input knows.
#[derive(Debug, Default)]
pub(super) struct Table {
    pub(super) entries: BTreeMap<String, Entry>,
}

impl Table {
    pub(super) fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name)
    }

    pub(super) fn closest_accepted(&self, word: &str, target: Minor) -> Option<String> {
        let accepted = self
            .entries
            .iter()
            .filter(|(_, entry)| matches!(entry.at(target), Lifecycle::Accepted))
            .map(|(name, _)| name.as_str());
        closest(word, accepted)
    }

    /// Builds the table from the upstream data, the overlay and the release-note removals of the
    /// names the upstream data does not list (for a name it lists, a test checks they agree).
    pub(super) fn build(
        upstream: &Upstream,
        overlay: &[OverlayRow],
        removals: &[KkRemoval],
    ) -> Table {
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
pub(super) struct Upstream {
    /// Every release the data covers, oldest first.
    pub(super) releases: BTreeSet<Minor>,
    /// Name → the releases that list it.
    pub(super) present: BTreeMap<String, BTreeSet<Minor>>,
}

impl Upstream {
    pub(super) fn parse(text: &str) -> Upstream {
        let mut upstream = Upstream::default();
        for row in tsv_rows(text).filter_map(|columns| UpstreamRow::parse(&columns)) {
            upstream.releases.insert(row.minor);
            upstream
                .present
                .entry(row.name.to_owned())
                .or_default()
                .insert(row.minor);
        }
        upstream
    }

    pub(super) fn entry(&self, present: &BTreeSet<Minor>) -> Entry {
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
pub(super) struct UpstreamRow<'a> {
    pub(super) minor: Minor,
    pub(super) name: &'a str,
}

impl<'a> UpstreamRow<'a> {
    pub(super) fn parse(columns: &[&'a str]) -> Option<UpstreamRow<'a>> {
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
pub(super) struct KkRemoval<'a> {
    pub(super) component: &'a str,
    pub(super) name: &'a str,
    pub(super) removed: Minor,
}

impl<'a> KkRemoval<'a> {
    pub(super) fn parse(columns: &[&'a str]) -> Option<KkRemoval<'a>> {
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
pub(super) const GATE_ROWS: &str = "feature-gates";

pub(super) const KK_REMOVALS: &str = include_str!("upstream/kk-removals.tsv");

/// The rows of `kk-removals.tsv` whose component column is `component`.
pub(super) fn kk_removals(component: &str) -> Vec<KkRemoval<'static>> {
    tsv_rows(KK_REMOVALS)
        .filter_map(|columns| KkRemoval::parse(&columns))
        .filter(|row| row.component == component)
        .collect()
}

/// One row of an overlay, `name since removed hint` (flags) or `name removed hint` (gates).
#[derive(Debug)]
pub(super) struct OverlayRow {
    pub(super) name: String,
    pub(super) since: Option<Minor>,
    pub(super) removed: Option<Removal>,
    pub(super) hint: String,
}

pub(super) fn parse_flag_overlay(text: &str) -> Vec<OverlayRow> {
    tsv_rows(text)
        .map(|columns| OverlayRow {
            name: columns[0].to_owned(),
            since: columns.get(1).and_then(|c| parse_minor(c)),
            removed: columns.get(2).and_then(|c| parse_removal(c)),
            hint: hint_column(columns.get(3)),
        })
        .collect()
}

pub(super) fn parse_gate_overlay(text: &str) -> Vec<OverlayRow> {
    tsv_rows(text)
        .map(|columns| OverlayRow {
            name: columns[0].to_owned(),
            since: None,
            removed: columns.get(1).and_then(|c| parse_removal(c)),
            hint: hint_column(columns.get(2)),
        })
        .collect()
}

pub(super) fn hint_column(column: Option<&&str>) -> String {
    match column {
        Some(&"-") | None => String::new(),
        Some(hint) => (*hint).to_owned(),
    }
}

/// `1.24` (removed in 1.24) or `<1.33` (removed in or before 1.33).
pub(super) fn parse_removal(text: &str) -> Option<Removal> {
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
pub(super) const COMPLETE: [Component; 1] = [Component::Etcd];

/// The upstream data and the overlay of each component that has a table.
pub(super) const SOURCES: [(Component, &str, &str); 6] = [
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

pub(super) static FLAG_TABLES: LazyLock<HashMap<Component, Table>> = LazyLock::new(|| {
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

pub(super) const GATES_UPSTREAM: &str = include_str!("upstream/feature-gates.tsv");
pub(super) const GATES_OVERLAY: &str = include_str!("flags/feature-gates.tsv");

pub(super) static FEATURE_GATES: LazyLock<Table> = LazyLock::new(|| {
    Table::build(
        &Upstream::parse(GATES_UPSTREAM),
        &parse_gate_overlay(GATES_OVERLAY),
        &kk_removals(GATE_ROWS),
    )
});

pub(super) fn parse_minor(text: &str) -> Option<Minor> {
    let (major, minor) = text.split_once('.')?;
    Some((parse_number(major)?, parse_number(minor)?))
}

#[cfg(test)]
mod tests;
