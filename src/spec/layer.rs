//! Profiles layered under the spec. Each layer is parsed on its own (so its errors point into its
//! own text), then the layers are overlaid as values, lowest first: mappings merge key by key,
//! everything else (scalars, lists) is replaced by the higher layer. The origin of every value is
//! kept so that validation points at the layer that wrote it and `--show-resolved` can say which
//! profile contributed what.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::diagnostic::{Diagnostic, Severity};
use super::parse::parse;
use super::source::{Position, Source, SourceMap, child, element};
use super::types::Spec;

/// The profiles built into kcompile: name and YAML text.
pub const PROFILES: [(&str, &str); 2] = [
    ("kubeadm", include_str!("../../profiles/kubeadm.yaml")),
    ("hardened", include_str!("../../profiles/hardened.yaml")),
];

/// The profiles a spec gets when it names none.
pub const DEFAULT_PROFILES: [&str; 1] = ["kubeadm"];

/// One parsed layer: a profile or the spec itself.
#[derive(Debug)]
pub struct Layer {
    /// `spec`, `profile kubeadm`, or `default` for values kcompile computes.
    pub label: String,
    /// The text it came from.
    pub source: Source,
    /// Where each of its values is: made the first time a diagnostic asks (see [`Layer::map`]).
    map: OnceLock<SourceMap>,
    /// What it says.
    pub spec: Spec,
}

impl Layer {
    /// Where each of its values is. The text is parsed a second time for this, so only a run
    /// that reports a diagnostic pays for it.
    pub fn map(&self) -> &SourceMap {
        self.map.get_or_init(|| SourceMap::of(&self.source.text))
    }
}

/// The spec with its profiles under it.
#[derive(Debug)]
pub struct Layered {
    /// Layers, lowest first; the spec is last.
    pub layers: Vec<Layer>,
    /// The merged document.
    pub merged: Value,
    /// For every path in `merged`, the index of the layer that wrote it.
    pub origins: BTreeMap<String, usize>,
    /// `merged` as typed fields.
    pub spec: Spec,
}

impl Layered {
    /// The layer that wrote `path`, or the spec if none did.
    pub fn layer_of(&self, path: &str) -> &Layer {
        let index = self
            .origins
            .get(path)
            .copied()
            .unwrap_or(self.layers.len() - 1);
        &self.layers[index]
    }

    /// A diagnostic at `path` (its key when `on_key`), in the layer that wrote it.
    pub fn diagnostic(
        &self,
        severity: Severity,
        path: &str,
        on_key: bool,
        message: String,
        hint: Option<String>,
    ) -> Diagnostic {
        let layer = self.layer_of(path);
        let position = on_key
            .then(|| layer.map().key(path))
            .flatten()
            .or_else(|| layer.map().value(path))
            .unwrap_or(Position {
                line: 1,
                column: 1,
                len: 1,
            });
        Diagnostic::new(severity, &layer.source, position, message, hint)
    }

    /// The spec layer.
    pub fn spec_layer(&self) -> &Layer {
        &self.layers[self.layers.len() - 1]
    }
}

/// Parses the spec, expands its profiles, and overlays them.
pub fn layer(source: Source) -> Result<Layered, Diagnostic> {
    let spec = parse(&source)?;
    let user = Layer {
        label: "spec".into(),
        source,
        map: OnceLock::new(),
        spec,
    };
    let names = user.spec.profiles.clone().unwrap_or_else(|| {
        DEFAULT_PROFILES
            .iter()
            .map(|name| (*name).to_owned())
            .collect()
    });
    let mut layers = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let path = element("profiles", index);
        expand_profile(name, &mut layers, &mut Vec::new()).map_err(|(message, hint)| {
            let position = user.map().value(&path).unwrap_or(Position {
                line: 1,
                column: 1,
                len: 1,
            });
            Diagnostic::new(Severity::Error, &user.source, position, message, Some(hint))
        })?;
    }
    layers.push(user);

    let mut merged = Value::Object(serde_json::Map::new());
    let mut origins = BTreeMap::new();
    let top = layers.len() - 1;
    for (index, layer) in layers.iter().enumerate() {
        let mut value = serde_json::to_value(&layer.spec).unwrap_or(Value::Null);
        if index != top
            && let Value::Object(fields) = &mut value
        {
            for own in ["apiVersion", "kind", "profiles"] {
                fields.remove(own);
            }
        }
        overlay(&mut merged, value, "", index, &mut origins);
    }
    let spec = serde_json::from_value(merged.clone()).unwrap_or_default();
    Ok(Layered {
        layers,
        merged,
        origins,
        spec,
    })
}

/// Adds profile `name` and, before it, the profiles it builds on, each once.
fn expand_profile(
    name: &str,
    layers: &mut Vec<Layer>,
    visiting: &mut Vec<String>,
) -> Result<(), (String, String)> {
    let label = format!("profile {name}");
    if layers.iter().any(|layer| layer.label == label) {
        return Ok(());
    }
    if visiting.iter().any(|seen| seen == name) {
        return Err((
            format!("profile `{name}` builds on itself"),
            "profiles may not form a cycle".into(),
        ));
    }
    let Some((_, text)) = PROFILES.iter().find(|(known, _)| *known == name) else {
        let names: Vec<&str> = PROFILES.iter().map(|(known, _)| *known).collect();
        let suggestion = crate::versions::closest(name, names.iter().copied());
        let hint = match suggestion {
            Some(close) => format!(
                "did you mean `{close}`? (known profiles: {})",
                names.join(", ")
            ),
            None => format!("known profiles: {}", names.join(", ")),
        };
        return Err((format!("unknown profile `{name}`"), hint));
    };
    let source = Source {
        name: format!("profiles/{name}.yaml"),
        text: (*text).to_owned(),
    };
    let spec =
        parse(&source).map_err(|d| (d.to_string(), "a built-in profile is broken".into()))?;
    visiting.push(name.to_owned());
    for base in spec.profiles.iter().flatten() {
        expand_profile(base, layers, visiting)?;
    }
    visiting.pop();
    layers.push(Layer {
        label,
        map: OnceLock::new(),
        source,
        spec,
    });
    Ok(())
}

/// Overlays `top` onto `base` at `path`, recording `layer` as the origin of what it writes.
pub fn overlay(
    base: &mut Value,
    top: Value,
    path: &str,
    layer: usize,
    origins: &mut BTreeMap<String, usize>,
) {
    match (base, top) {
        (Value::Object(base), Value::Object(top)) => {
            origins.entry(path.to_owned()).or_insert(layer);
            for (key, value) in top {
                let path = child(path, &key);
                if let Some(existing) = base.get_mut(&key) {
                    overlay(existing, value, &path, layer, origins);
                } else {
                    record(&value, &path, layer, origins);
                    base.insert(key, value);
                }
            }
        }
        (base, top) => {
            origins.retain(|known, _| !is_under(known, path));
            record(&top, path, layer, origins);
            *base = top;
        }
    }
}

fn record(value: &Value, path: &str, layer: usize, origins: &mut BTreeMap<String, usize>) {
    origins.insert(path.to_owned(), layer);
    match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                record(value, &child(path, key), layer, origins);
            }
        }
        Value::Array(items) => {
            for (index, value) in items.iter().enumerate() {
                record(value, &element(path, index), layer, origins);
            }
        }
        _ => {}
    }
}

fn is_under(candidate: &str, path: &str) -> bool {
    candidate.len() > path.len()
        && candidate.starts_with(path)
        && (path.is_empty() || matches!(candidate.as_bytes()[path.len()], b'.' | b'['))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn overlay_merges_maps_and_replaces_the_rest() {
        let mut origins = BTreeMap::new();
        let mut base = json!({});
        overlay(
            &mut base,
            json!({"a": {"x": 1, "y": [1, 2]}, "b": 1}),
            "",
            0,
            &mut origins,
        );
        overlay(
            &mut base,
            json!({"a": {"y": [3]}, "c": 2}),
            "",
            1,
            &mut origins,
        );
        assert_eq!(base, json!({"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}));
        assert_eq!(origins["a.x"], 0);
        assert_eq!(origins["a.y"], 1);
        assert_eq!(origins["a.y[0]"], 1);
        assert!(!origins.contains_key("a.y[1]"));
        assert_eq!(origins["c"], 1);
    }

    #[test]
    fn every_profile_parses_and_hardened_builds_on_kubeadm() {
        let mut layers = Vec::new();
        expand_profile("hardened", &mut layers, &mut Vec::new()).unwrap();
        let labels: Vec<&str> = layers.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["profile kubeadm", "profile hardened"]);
        for (name, _) in PROFILES {
            expand_profile(name, &mut Vec::new(), &mut Vec::new()).unwrap();
        }
    }
}
