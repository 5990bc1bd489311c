//! The field schemas of the component configuration files kcompile writes, per Kubernetes minor:
//! `src/versions/configs/{kubelet,kube-proxy,kube-scheduler}.tsv`, derived from the upstream Go
//! types by `scripts/component_configs.py` (see the README there). One row per field:
//! `minor<TAB>root type<TAB>path<TAB>type<TAB>source`, where a path joins JSON field names with `.`
//! and marks a list's element with `[]` and a map's value with `{}`.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::versions::{NEWEST_MINOR, OLDEST_MINOR};

/// A component configuration file kcompile writes and merges the spec's `config` into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigKind {
    /// `KubeletConfiguration`, `kubelet.config.k8s.io/v1beta1`.
    Kubelet,
    /// `KubeProxyConfiguration`, `kubeproxy.config.k8s.io/v1alpha1`.
    KubeProxy,
    /// `KubeSchedulerConfiguration`, `kubescheduler.config.k8s.io/v1`.
    Scheduler,
}

impl ConfigKind {
    /// The Go type of the file's root object.
    pub fn root(self) -> &'static str {
        match self {
            ConfigKind::Kubelet => "KubeletConfiguration",
            ConfigKind::KubeProxy => "KubeProxyConfiguration",
            ConfigKind::Scheduler => "KubeSchedulerConfiguration",
        }
    }

    /// What the component does with a field it does not know, for the hint.
    pub fn on_unknown_field(self) -> &'static str {
        match self {
            ConfigKind::Kubelet => {
                "the kubelet would only log a warning and ignore it, so the setting would do nothing"
            }
            ConfigKind::KubeProxy => {
                "kube-proxy would only log a warning and ignore it, so the setting would do nothing"
            }
            ConfigKind::Scheduler => {
                "kube-scheduler refuses a configuration with an unknown field and exits"
            }
        }
    }

    fn table(self) -> &'static str {
        match self {
            ConfigKind::Kubelet => include_str!("../../versions/configs/kubelet.tsv"),
            ConfigKind::KubeProxy => include_str!("../../versions/configs/kube-proxy.tsv"),
            ConfigKind::Scheduler => include_str!("../../versions/configs/kube-scheduler.tsv"),
        }
    }
}

/// The JSON type a field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A mapping of known fields.
    Object,
    /// A list; its element is the path with `[]`.
    List,
    /// A mapping of any string keys; its value is the path with `{}`.
    Map,
    /// A string.
    String,
    /// `true` or `false`.
    Bool,
    /// A whole number within the Go type's range.
    Integer {
        /// The Go type (`int32`), for messages.
        name: &'static str,
        /// The smallest value.
        min: i128,
        /// The largest value.
        max: i128,
    },
    /// Any number.
    Number,
    /// A base64 string (Go `[]byte`).
    Bytes,
    /// A Go duration string (`metav1.Duration`): `30s`, `1h30m`.
    Duration,
    /// A Go duration string or a whole number of nanoseconds (logging's `flushFrequency`).
    DurationOrInt,
    /// An RFC 3339 time string (`metav1.Time`).
    Time,
    /// A resource quantity, string or number (`100Mi`, `2`).
    Quantity,
    /// A whole number or a string.
    IntOrString,
    /// Anything (a scheduler plugin's `args`, checked by kind when the scheduler knows it).
    Any,
}

impl FieldType {
    fn parse(text: &str) -> Option<FieldType> {
        let integer = |name, min, max| Some(FieldType::Integer { name, min, max });
        match text {
            "object" => Some(FieldType::Object),
            "list" => Some(FieldType::List),
            "map" => Some(FieldType::Map),
            "string" => Some(FieldType::String),
            "bool" => Some(FieldType::Bool),
            "int8" => integer("int8", i8::MIN.into(), i8::MAX.into()),
            "int16" => integer("int16", i16::MIN.into(), i16::MAX.into()),
            "int32" => integer("int32", i32::MIN.into(), i32::MAX.into()),
            "int64" => integer("int64", i64::MIN.into(), i64::MAX.into()),
            "uint8" => integer("uint8", 0, u8::MAX.into()),
            "uint16" => integer("uint16", 0, u16::MAX.into()),
            "uint32" => integer("uint32", 0, u32::MAX.into()),
            "uint64" => integer("uint64", 0, u64::MAX.into()),
            "number" => Some(FieldType::Number),
            "bytes" => Some(FieldType::Bytes),
            "duration" => Some(FieldType::Duration),
            "duration-or-int" => Some(FieldType::DurationOrInt),
            "time" => Some(FieldType::Time),
            "quantity" => Some(FieldType::Quantity),
            "int-or-string" => Some(FieldType::IntOrString),
            "any" => Some(FieldType::Any),
            _ => None,
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldType::Object => write!(f, "a mapping of fields"),
            FieldType::List => write!(f, "a list"),
            FieldType::Map => write!(f, "a mapping"),
            FieldType::String => write!(f, "a string"),
            FieldType::Bool => write!(f, "a bool"),
            FieldType::Integer { name, min, max } => {
                write!(f, "a whole number ({name}, {min} to {max})")
            }
            FieldType::Number => write!(f, "a number"),
            FieldType::Bytes => write!(f, "a base64 string"),
            FieldType::Duration => write!(f, "a duration string"),
            FieldType::DurationOrInt => write!(f, "a duration string or nanoseconds"),
            FieldType::Time => write!(f, "an RFC 3339 time"),
            FieldType::Quantity => write!(f, "a resource quantity"),
            FieldType::IntOrString => write!(f, "a whole number or a string"),
            FieldType::Any => write!(f, "any value"),
        }
    }
}

/// The fields of one root type at one minor: schema path → type.
#[derive(Debug, Default)]
pub struct Tree {
    fields: HashMap<&'static str, FieldType>,
}

impl Tree {
    /// The type of the field at `path`, if this version has it.
    pub fn get(&self, path: &str) -> Option<FieldType> {
        self.fields.get(path).copied()
    }

    /// The names of the fields of the object at `path` (`""`: the root).
    pub fn field_names<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'static str> + 'a {
        self.fields.keys().filter_map(move |candidate| {
            let rest = if path.is_empty() {
                *candidate
            } else {
                candidate.strip_prefix(path)?.strip_prefix('.')?
            };
            (!rest.contains(['.', '[', '{'])).then_some(rest)
        })
    }
}

/// One table at one minor: root type → its fields.
type Roots = HashMap<&'static str, Tree>;

/// How many minors kcompile supports.
const MINORS: usize = (NEWEST_MINOR - OLDEST_MINOR + 1) as usize;

/// Each kind's tables, one per supported minor, read from its TSV the first time a run asks for
/// that minor (a run asks for one).
static SCHEMAS: [[OnceLock<Roots>; MINORS]; 3] = [const { [const { OnceLock::new() }; MINORS] }; 3];

/// The rows of `kind`'s table at `minor`.
fn read_roots(kind: ConfigKind, minor: u32) -> Roots {
    let prefix = format!("1.{minor}\t");
    let mut roots = Roots::new();
    for line in kind
        .table()
        .lines()
        .filter(|line| line.starts_with(&prefix))
    {
        let columns: Vec<&str> = line.split('\t').collect();
        let &[_minor, root, path, type_, _source] = columns.as_slice() else {
            continue;
        };
        let Some(type_) = FieldType::parse(type_) else {
            continue;
        };
        roots.entry(root).or_default().fields.insert(path, type_);
    }
    roots
}

/// The fields of `root` in `kind`'s file at Kubernetes minor `minor`, if that version has the type.
pub fn tree(kind: ConfigKind, minor: u32, root: &str) -> Option<&'static Tree> {
    let index = usize::try_from(minor.checked_sub(OLDEST_MINOR)?).ok()?;
    let kind_index = match kind {
        ConfigKind::Kubelet => 0,
        ConfigKind::KubeProxy => 1,
        ConfigKind::Scheduler => 2,
    };
    SCHEMAS[kind_index]
        .get(index)?
        .get_or_init(|| read_roots(kind, minor))
        .get(root)
}

/// The supported minors whose `root` has a field at `path`.
pub fn minors_with(kind: ConfigKind, root: &str, path: &str) -> Vec<u32> {
    (OLDEST_MINOR..=NEWEST_MINOR)
        .filter(|minor| tree(kind, *minor, root).is_some_and(|tree| tree.get(path).is_some()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_root_at_every_supported_minor() {
        for kind in [
            ConfigKind::Kubelet,
            ConfigKind::KubeProxy,
            ConfigKind::Scheduler,
        ] {
            for minor in OLDEST_MINOR..=NEWEST_MINOR {
                let tree = tree(kind, minor, kind.root())
                    .unwrap_or_else(|| panic!("{kind:?} has no schema for 1.{minor}"));
                assert_eq!(tree.get("apiVersion"), Some(FieldType::String));
                assert!(tree.fields.len() > 30, "{kind:?} 1.{minor}");
            }
        }
        // Every row of every table parsed: no row with an unknown type was dropped.
        for kind in [
            ConfigKind::Kubelet,
            ConfigKind::KubeProxy,
            ConfigKind::Scheduler,
        ] {
            let rows = kind
                .table()
                .lines()
                .filter(|line| line.starts_with("1."))
                .count();
            let parsed: usize = (OLDEST_MINOR..=NEWEST_MINOR)
                .flat_map(|minor| read_roots(kind, minor).into_values())
                .map(|tree| tree.fields.len())
                .sum();
            assert_eq!(rows, parsed, "{kind:?}");
        }
    }

    #[test]
    fn nested_types_and_field_names() {
        let kubelet = tree(ConfigKind::Kubelet, 36, "KubeletConfiguration").unwrap();
        assert_eq!(kubelet.get("evictionHard"), Some(FieldType::Map));
        assert_eq!(kubelet.get("evictionHard{}"), Some(FieldType::String));
        assert_eq!(
            kubelet.get("shutdownGracePeriod"),
            Some(FieldType::Duration)
        );
        assert!(matches!(
            kubelet.get("maxPods"),
            Some(FieldType::Integer { name: "int32", .. })
        ));
        let mut logging: Vec<_> = kubelet.field_names("logging").collect();
        logging.sort_unstable();
        assert_eq!(
            logging,
            [
                "flushFrequency",
                "format",
                "options",
                "verbosity",
                "vmodule"
            ]
        );
        assert!(tree(ConfigKind::Scheduler, 36, "NodeResourcesFitArgs").is_some());
        assert_eq!(
            minors_with(
                ConfigKind::Kubelet,
                "KubeletConfiguration",
                "memoryReservationPolicy"
            ),
            [36, 37]
        );
    }
}
