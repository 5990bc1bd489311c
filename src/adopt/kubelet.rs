//! The kubelet's `KubeletConfiguration` (`var/lib/kubelet/config.yaml`): every field a spec may
//! set is carried into `kubelet.config` (a host whose file says otherwise gets its own
//! `overrides.kubelet.config`); the fields kcompile sets itself are compared with what it renders,
//! and each it sets differently is named, never dropped silently.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::spec::owned_kubelet_config_field;

/// The fields of a kubelet's configuration a spec can carry: all but those kcompile sets.
pub fn carried(config: &Value) -> BTreeMap<String, Value> {
    config
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| owned_kubelet_config_field(key).is_none())
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// The top-level fields kcompile's configuration sets differently from the cluster's, as
/// `+field` (kcompile adds it), `~field` (another value) and `-field` (kcompile leaves it out).
pub fn set_differently(theirs: &Value, ours: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let theirs = theirs.as_object().unwrap_or(&empty);
    let ours = ours.as_object().unwrap_or(&empty);
    let mut fields: Vec<String> = ours
        .iter()
        .filter_map(|(key, value)| match theirs.get(key) {
            None => Some(format!("+{key}")),
            Some(their) if their != value => Some(format!("~{key}")),
            Some(_) => None,
        })
        .collect();
    fields.extend(
        theirs
            .keys()
            .filter(|key| !ours.contains_key(*key))
            .map(|key| format!("-{key}")),
    );
    fields.sort_by(|a, b| a[1..].cmp(&b[1..]));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_fields_stay_with_kcompile_and_differences_are_named() {
        let theirs = serde_json::json!({
            "kind": "KubeletConfiguration",
            "staticPodPath": "/etc/kubernetes/manifests",
            "cgroupDriver": "systemd",
            "maxPods": 150,
            "authentication": {"webhook": {"cacheTTL": "0s"}},
        });
        let carried = carried(&theirs);
        assert_eq!(
            carried.keys().collect::<Vec<_>>(),
            ["cgroupDriver", "maxPods"]
        );
        let ours = serde_json::json!({
            "kind": "KubeletConfiguration",
            "staticPodPath": "/etc/kubernetes/manifests",
            "cgroupDriver": "systemd",
            "authentication": {"webhook": {"enabled": true}},
            "readOnlyPort": 0,
        });
        assert_eq!(
            set_differently(&theirs, &ours),
            ["~authentication", "-maxPods", "+readOnlyPort"]
        );
    }
}
