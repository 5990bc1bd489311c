//! Checks the spec's `kubelet.config`, `hosts[].kubelet.config`, `kubeProxy.config` and
//! `scheduler.config` against the schema of the target version's `KubeletConfiguration`,
//! `KubeProxyConfiguration` and `KubeSchedulerConfiguration`: every key must be a field that version
//! has, and every value of the type the component decodes it as.
//!
//! All three are strict, although only kube-scheduler is: it refuses a file with an unknown field
//! and exits, while the kubelet and kube-proxy decode leniently and only log a warning, so there
//! a misspelled setting silently does nothing. A value of the wrong type stops all three. A
//! scheduler plugin's `args` are checked against `<name>Args` when the scheduler registers that
//! kind (it decodes them strictly too); other plugins' args are free-form.

mod schema;

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::Value;

pub use schema::ConfigKind;
use schema::{FieldType, Tree};

use super::names::is_quantity;
use super::source::{child, element};
use crate::versions::{KubeVersion, closest};

/// One thing wrong in a component config, at a spec path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The spec path of the key or value (`kubelet.config.logging.formt`).
    pub path: String,
    /// Whether the problem is the key (an unknown field) rather than the value.
    pub on_key: bool,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

/// Checks `config`, written at spec path `at`, against `kind`'s schema for `kube`. Top-level
/// fields for which `owned` is true are left to the caller (kcompile sets them itself).
pub fn check(
    kind: ConfigKind,
    kube: KubeVersion,
    config: &BTreeMap<String, Value>,
    at: &str,
    owned: impl Fn(&str) -> bool,
) -> Vec<ConfigProblem> {
    let Some(tree) = schema::tree(kind, kube.minor, kind.root()) else {
        return Vec::new();
    };
    let mut walk = Walk {
        kind,
        kube,
        problems: Vec::new(),
    };
    let root = Place {
        root: kind.root(),
        tree,
        schema: String::new(),
        relative: String::new(),
        spec: at.to_owned(),
    };
    for (key, value) in config {
        if !owned(key) {
            walk.field(&root, key, value);
        }
    }
    walk.problems
}

/// Where a value is: in which root type's schema, at which schema path, config-relative path
/// (for messages) and spec path (for positions).
struct Place<'a> {
    root: &'a str,
    tree: &'static Tree,
    schema: String,
    relative: String,
    spec: String,
}

impl Place<'_> {
    fn down(&self, schema: String, relative: String, spec: String) -> Place<'_> {
        Place {
            root: self.root,
            tree: self.tree,
            schema,
            relative,
            spec,
        }
    }
}

struct Walk {
    kind: ConfigKind,
    kube: KubeVersion,
    problems: Vec<ConfigProblem>,
}

impl Walk {
    /// The field `key` of the object at `object`.
    fn field(&mut self, object: &Place<'_>, key: &str, value: &Value) {
        let schema = if object.schema.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", object.schema)
        };
        let place = object.down(
            schema,
            child(&object.relative, key),
            child(&object.spec, key),
        );
        // A key with a path character in it (`logging.format: json` at the top) is one field
        // name to the component, never the nested field its text spells.
        let plain = !key.contains(['.', '[', ']', '{', '}']);
        match object.tree.get(&place.schema).filter(|_| plain) {
            Some(field_type) => self.value(&place, field_type, value),
            None => self.unknown(object, &place, key, plain),
        }
    }

    fn unknown(&mut self, object: &Place<'_>, place: &Place<'_>, key: &str, plain: bool) {
        let minors = if plain {
            schema::minors_with(self.kind, object.root, &place.schema)
        } else {
            Vec::new()
        };
        let (root, field, kube) = (object.root, &place.relative, self.kube);
        let (message, hint) = match elsewhere(&minors, kube.minor) {
            Some(Elsewhere::Arrives(first)) => (
                format!("{root} field `{field}` arrived in v1.{first}; the target is {kube}"),
                format!("remove it, or raise the target version to v1.{first}"),
            ),
            Some(Elsewhere::Removed(gone)) => (
                format!("{root} field `{field}` was removed in v1.{gone} (target {kube})"),
                "remove it".to_owned(),
            ),
            None => {
                let consequence = self.kind.on_unknown_field();
                let hint = match closest(key, object.tree.field_names(&object.schema)) {
                    Some(known) => format!(
                        "did you mean `{}`? {consequence}",
                        child(&object.relative, &known)
                    ),
                    None if object.schema.is_empty() => {
                        format!("{consequence}; see the {root} reference for {kube}")
                    }
                    None => format!(
                        "{consequence}; see `{}` in the {root} reference for {kube}",
                        object.relative
                    ),
                };
                (
                    format!("unknown {root} field `{field}` (target {kube})"),
                    hint,
                )
            }
        };
        self.problems.push(ConfigProblem {
            path: place.spec.clone(),
            on_key: true,
            message,
            hint,
        });
    }

    fn value(&mut self, place: &Place<'_>, field_type: FieldType, value: &Value) {
        if value.is_null() {
            // Every field decodes null as "not set".
            return;
        }
        let fits = match field_type {
            FieldType::Object => {
                if let Value::Object(fields) = value {
                    for (key, item) in fields {
                        self.field(place, key, item);
                    }
                    self.plugin_args(place, fields);
                    return;
                }
                false
            }
            FieldType::List => {
                if let Value::Array(items) = value {
                    let element_type = place.tree.get(&format!("{}[]", place.schema));
                    for (index, item) in items.iter().enumerate() {
                        let inner = place.down(
                            format!("{}[]", place.schema),
                            element(&place.relative, index),
                            element(&place.spec, index),
                        );
                        if let Some(element_type) = element_type {
                            self.value(&inner, element_type, item);
                        }
                    }
                    return;
                }
                false
            }
            FieldType::Map => {
                if let Value::Object(entries) = value {
                    let value_type = place.tree.get(&format!("{}{{}}", place.schema));
                    for (key, item) in entries {
                        let inner = place.down(
                            format!("{}{{}}", place.schema),
                            child(&place.relative, key),
                            child(&place.spec, key),
                        );
                        if let Some(value_type) = value_type {
                            self.value(&inner, value_type, item);
                        }
                    }
                    return;
                }
                false
            }
            FieldType::String => value.is_string(),
            FieldType::Bool => value.is_boolean(),
            FieldType::Integer { min, max, .. } => {
                whole(value).is_some_and(|n| (min..=max).contains(&n))
            }
            FieldType::Number => value.is_number(),
            FieldType::Bytes => value.as_str().is_some_and(|text| {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .is_ok()
            }),
            FieldType::Duration => value.as_str().is_some_and(is_go_duration),
            FieldType::DurationOrInt => {
                value.as_str().is_some_and(is_go_duration) || whole(value).is_some()
            }
            FieldType::Time => value.as_str().is_some_and(|text| {
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .is_ok()
            }),
            FieldType::Quantity => value.is_number() || value.as_str().is_some_and(is_quantity),
            FieldType::IntOrString => value.is_string() || whole(value).is_some(),
            FieldType::Any => true,
        };
        if !fits {
            self.wrong_type(place, field_type, value);
        }
    }

    /// A scheduler `pluginConfig[]` entry: its `args` are checked against `<name>Args` when the
    /// scheduler of this version registers that kind (kube-scheduler's `decodeNestedObjects`).
    fn plugin_args(&mut self, place: &Place<'_>, fields: &serde_json::Map<String, Value>) {
        if self.kind != ConfigKind::Scheduler || !place.schema.ends_with(".pluginConfig[]") {
            return;
        }
        let (Some(Value::String(name)), Some(Value::Object(args))) =
            (fields.get("name"), fields.get("args"))
        else {
            return;
        };
        let root = format!("{name}Args");
        let Some(tree) = schema::tree(self.kind, self.kube.minor, &root) else {
            return;
        };
        let args_place = Place {
            root: &root,
            tree,
            schema: String::new(),
            relative: String::new(),
            spec: child(&place.spec, "args"),
        };
        for (key, item) in args {
            self.field(&args_place, key, item);
        }
    }

    fn wrong_type(&mut self, place: &Place<'_>, field_type: FieldType, value: &Value) {
        let message = match (field_type, value) {
            (FieldType::Duration | FieldType::DurationOrInt, Value::String(text)) => {
                format!(": `{text}` is not a duration")
            }
            (FieldType::Quantity, Value::String(text)) => {
                format!(": `{text}` is not a resource quantity")
            }
            (FieldType::Time, Value::String(text)) => format!(": `{text}` is not an RFC 3339 time"),
            (FieldType::Bytes, Value::String(_)) => ": the string is not base64".to_owned(),
            (FieldType::Integer { .. }, Value::Number(number)) => {
                format!(": `{number}` is not {field_type}")
            }
            (_, Value::Array(_) | Value::Object(_)) => {
                format!(" is {}, not {field_type}", kind_of(value))
            }
            (_, scalar) => format!(" is {} (`{scalar}`), not {field_type}", kind_of(value)),
        };
        let how = match field_type {
            FieldType::Object | FieldType::Map => "write it as a mapping of `key: value` lines",
            FieldType::List => "write it as a list (`- item` lines, or `[a, b]`)",
            FieldType::String => "quote it: `\"...\"`",
            FieldType::Bool => "write `true` or `false`, without quotes",
            FieldType::Integer { .. } => "write a whole number in range, without quotes",
            FieldType::Number => "write a number, without quotes",
            FieldType::Bytes => "write the bytes base64-encoded",
            FieldType::Duration => "write a Go duration such as `30s`, `5m` or `1h30m`",
            FieldType::DurationOrInt => {
                "write a Go duration such as `5s`, or a whole number of nanoseconds"
            }
            FieldType::Time => "write an RFC 3339 time such as `2026-01-02T15:04:05Z`",
            FieldType::Quantity => "write a quantity such as `100Mi`, `1Gi`, `500m` or `2`",
            FieldType::IntOrString => "write a whole number or a string",
            FieldType::Any => "",
        };
        self.problems.push(ConfigProblem {
            path: place.spec.clone(),
            on_key: false,
            message: format!("{} `{}`{message}", place.root, place.relative),
            hint: format!(
                "{} `{}` is {field_type}; {how}; a value of the wrong type stops the component at start",
                place.root, place.relative
            ),
        });
    }
}

/// Where a field the target lacks exists among the supported minors.
#[derive(Debug, PartialEq, Eq)]
enum Elsewhere {
    /// Only in newer minors: it arrives in this one.
    Arrives(u32),
    /// Only in older minors: this one is the first without it.
    Removed(u32),
}

/// Whether the minors that have a field (`minors`, ascending) make it one that arrives after, or
/// was removed before, `target`; `None` when no supported minor has it.
fn elsewhere(minors: &[u32], target: u32) -> Option<Elsewhere> {
    let first = *minors.first()?;
    if first > target {
        return Some(Elsewhere::Arrives(first));
    }
    // Only older, or re-added after the target: either way the target is after a removal.
    let last = minors.iter().rev().find(|minor| **minor < target)?;
    Some(Elsewhere::Removed(last + 1))
}

/// What kind of JSON value `value` is, for messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A whole number, as Go's JSON decoder reads one into an integer field (YAML `5.0` reaches it
/// as `5`).
fn whole(value: &Value) -> Option<i128> {
    let number = value.as_number()?;
    if let Some(n) = number.as_i64() {
        return Some(n.into());
    }
    if let Some(n) = number.as_u64() {
        return Some(n.into());
    }
    let float = number.as_f64()?;
    // Within ±2^63 a float converts exactly when it has no fraction.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "checked whole and within range above"
    )]
    let whole = float as i128;
    (float.fract() == 0.0 && float.abs() < 9.2e18).then_some(whole)
}

/// Whether Go's `time.ParseDuration` accepts `text`: an optional sign, then one or more decimal
/// numbers each with a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`), or `0`; within ±292
/// years.
fn is_go_duration(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    if body == "0" {
        return true;
    }
    if body.is_empty() {
        return false;
    }
    let mut rest = body;
    let mut nanos = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return false;
        }
        let Ok(amount) = number.parse::<f64>() else {
            return false;
        };
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return false,
        };
        nanos += amount * scale;
        rest = &rest[unit_len..];
    }
    nanos <= 9.223_372_036_854_775e18
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(kind: ConfigKind, version: &str, config: Value) -> Vec<ConfigProblem> {
        let Value::Object(fields) = config else {
            panic!("not an object")
        };
        let config: BTreeMap<String, Value> = fields.into_iter().collect();
        check(
            kind,
            KubeVersion::parse(version).unwrap(),
            &config,
            "x.config",
            |field| field == "apiVersion",
        )
    }

    #[test]
    fn versions_elsewhere() {
        assert_eq!(elsewhere(&[36, 37], 35), Some(Elsewhere::Arrives(36)));
        assert_eq!(elsewhere(&[33, 34], 36), Some(Elsewhere::Removed(35)));
        assert_eq!(elsewhere(&[33, 37], 35), Some(Elsewhere::Removed(34)));
        assert_eq!(elsewhere(&[], 35), None);
    }

    #[test]
    fn go_durations() {
        for good in [
            "0", "30s", "1h30m", "1.5h", "300ms", "-1m", "2us", "5µs", "10ns",
        ] {
            assert!(is_go_duration(good), "{good}");
        }
        for bad in [
            "",
            "5",
            "5 minutes",
            "1d",
            "h",
            "1..5s",
            "3000000h",
            "1h 30m",
        ] {
            assert!(!is_go_duration(bad), "{bad}");
        }
    }

    #[test]
    fn valid_nested_fields_pass() {
        let kubelet = json!({
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "10%"},
            "logging": {"format": "json", "flushFrequency": "5s", "verbosity": 2},
            "shutdownGracePeriod": "30s",
            "maxPods": 110,
            "featureGates": {"SomeGate": true},
            "registerWithTaints": [{"key": "a", "effect": "NoSchedule"}],
            "reservedMemory": [{"numaNode": 0, "limits": {"memory": "1Gi"}}],
            "memoryThrottlingFactor": 0.9,
            "cpuCFSQuotaPeriod": null,
            "apiVersion": 7,
        });
        assert_eq!(problems(ConfigKind::Kubelet, "v1.36.0", kubelet), []);
        let scheduler = json!({
            "profiles": [{
                "schedulerName": "default-scheduler",
                "plugins": {"score": {"enabled": [{"name": "NodeResourcesFit", "weight": 2}]}},
                "pluginConfig": [
                    {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated", "resources": [{"name": "cpu", "weight": 1}]}}},
                    {"name": "OutOfTree", "args": {"anything": [1, 2]}},
                ],
            }],
            "enableProfiling": false,
            "leaderElection": {"leaseDuration": "15s"},
        });
        assert_eq!(problems(ConfigKind::Scheduler, "v1.33.0", scheduler), []);
        let proxy = json!({"conntrack": {"maxPerCore": 0}, "iptables": {"masqueradeAll": true}});
        assert_eq!(problems(ConfigKind::KubeProxy, "v1.37.0", proxy), []);
    }

    #[test]
    fn unknown_fields_get_a_suggestion_or_a_version() {
        let found = problems(
            ConfigKind::Kubelet,
            "v1.35.0",
            json!({"evictionHrad": {}, "memoryReservationPolicy": "None", "logging": {"formt": "json"}}),
        );
        let paths: Vec<_> = found.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "x.config.evictionHrad",
                "x.config.logging.formt",
                "x.config.memoryReservationPolicy"
            ]
        );
        assert!(found.iter().all(|p| p.on_key));
        assert!(found[0].hint.starts_with("did you mean `evictionHard`?"));
        assert!(found[1].hint.starts_with("did you mean `logging.format`?"));
        assert_eq!(
            found[2].message,
            "KubeletConfiguration field `memoryReservationPolicy` arrived in v1.36; the target is v1.35.0"
        );
        assert_eq!(
            found[2].hint,
            "remove it, or raise the target version to v1.36"
        );
        assert_eq!(
            found[0].message,
            "unknown KubeletConfiguration field `evictionHrad` (target v1.35.0)"
        );
    }

    #[test]
    fn a_dotted_key_is_not_a_nested_field() {
        let found = problems(
            ConfigKind::Kubelet,
            "v1.36.0",
            json!({"logging.format": "json"}),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].message,
            "unknown KubeletConfiguration field `[\"logging.format\"]` (target v1.36.0)"
        );
    }

    #[test]
    fn plugin_args_are_checked_by_kind() {
        let found = problems(
            ConfigKind::Scheduler,
            "v1.36.0",
            json!({"profiles": [{"pluginConfig": [{"name": "NodeResourcesFit", "args": {"scoringStrategy": {"typ": "MostAllocated"}}}]}]}),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].path,
            "x.config.profiles[0].pluginConfig[0].args.scoringStrategy.typ"
        );
        assert_eq!(
            found[0].message,
            "unknown NodeResourcesFitArgs field `scoringStrategy.typ` (target v1.36.0)"
        );
        assert!(
            found[0]
                .hint
                .starts_with("did you mean `scoringStrategy.type`?")
        );
        // DynamicResourcesArgs is registered from 1.34; at 1.33 its args are the plugin's own.
        let args = json!({"profiles": [{"pluginConfig": [{"name": "DynamicResources", "args": {"filterTimeout": "bad"}}]}]});
        assert_eq!(problems(ConfigKind::Scheduler, "v1.33.0", args.clone()), []);
        assert_eq!(problems(ConfigKind::Scheduler, "v1.34.0", args).len(), 1);
    }

    #[test]
    fn wrong_types_name_the_expected_type() {
        let found = problems(
            ConfigKind::KubeProxy,
            "v1.36.0",
            json!({
                "bindAddressHardFail": "yes",
                "nodePortAddresses": {"a": 1},
                "configSyncPeriod": "15 minutes",
                "oomScoreAdj": 3_000_000_000u64,
                "clusterCIDR": 10,
            }),
        );
        let messages: Vec<_> = found.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "KubeProxyConfiguration `bindAddressHardFail` is a string (`\"yes\"`), not a bool",
                "KubeProxyConfiguration `clusterCIDR` is a number (`10`), not a string",
                "KubeProxyConfiguration `configSyncPeriod`: `15 minutes` is not a duration",
                "KubeProxyConfiguration `nodePortAddresses` is a mapping, not a list",
                "KubeProxyConfiguration `oomScoreAdj`: `3000000000` is not a whole number (int32, -2147483648 to 2147483647)",
            ]
        );
        assert!(found.iter().all(|p| !p.on_key));
    }
}
