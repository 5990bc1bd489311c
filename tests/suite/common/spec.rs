//! A cluster spec as YAML data, edited by path: the way tests change an example spec. An edit
//! names a field (`networking.podSubnet`, `hosts.0.name`), never a line of text, so a comment or
//! an aligned column in the example cannot make an edit miss or land in the wrong place.

use std::path::Path;

use serde_json::Value;

/// A parsed spec; [`Spec::yaml`] writes it back.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec(Value);

impl Spec {
    /// `examples/<name>.yaml`, parsed.
    pub fn example(name: &str) -> Spec {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        Spec::parse(&text)
    }

    /// The spec in the file at `path`.
    pub fn read(path: &Path) -> Spec {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        Spec::parse(&text)
    }

    /// Writes the spec to `path` as YAML.
    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.yaml())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Edits the spec in the file at `path` in place: `edit` gets it parsed and returns it changed.
    pub fn edit_file(path: &Path, edit: impl FnOnce(Spec) -> Spec) {
        edit(Spec::read(path)).write(path);
    }

    /// A spec from YAML text.
    pub fn parse(text: &str) -> Spec {
        Spec(serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}")))
    }

    /// The spec as YAML text (comments are not kept).
    pub fn yaml(&self) -> String {
        serde_saphyr::to_string(&self.0).expect("a spec serializes as YAML")
    }

    /// The value at `path` (`a.b.0.c`: a number indexes a list), if there is one.
    pub fn get(&self, path: &str) -> Option<&Value> {
        segments(path).try_fold(&self.0, |value, key| match value {
            Value::Object(map) => map.get(key),
            Value::Array(items) => items.get(index(path, key)),
            _ => None,
        })
    }

    /// Sets the value at `path`, making the maps on the way; `value` is anything serializable
    /// (`serde_json::json!` for lists and maps). A new key goes after the existing ones.
    pub fn set(mut self, path: &str, value: impl serde::Serialize) -> Spec {
        let value = serde_json::to_value(value).expect("a test value serializes");
        *self.slot(path) = value;
        self
    }

    /// Appends `value` to the list at `path` (made if absent).
    pub fn push(mut self, path: &str, value: impl serde::Serialize) -> Spec {
        let value = serde_json::to_value(value).expect("a test value serializes");
        let slot = self.slot(path);
        if slot.is_null() {
            *slot = Value::Array(Vec::new());
        }
        match slot {
            Value::Array(items) => items.push(value),
            other => panic!("{path} is not a list: {other}"),
        }
        self
    }

    /// Sets the value at `path` from YAML text (`"{ enabled: true }"`).
    pub fn set_yaml(self, path: &str, yaml: &str) -> Spec {
        let value: Value =
            serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("not YAML: {e}\n{yaml}"));
        self.set(path, value)
    }

    /// Sets each top-level field of `yaml`, a mapping (nothing if it is empty).
    pub fn merge_yaml(mut self, yaml: &str) -> Spec {
        if yaml.trim().is_empty() {
            return self;
        }
        let fields: serde_json::Map<String, Value> =
            serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("not a mapping: {e}\n{yaml}"));
        let Value::Object(root) = &mut self.0 else {
            panic!("the spec is not a mapping");
        };
        root.extend(fields);
        self
    }

    /// Removes the value at `path`; it must be there.
    pub fn remove(mut self, path: &str) -> Spec {
        let (parent, last) = path.rsplit_once('.').map_or(("", path), |(p, l)| (p, l));
        let container = if parent.is_empty() {
            &mut self.0
        } else {
            self.slot(parent)
        };
        let removed = match container {
            Value::Object(map) => map.shift_remove(last),
            Value::Array(items) => {
                let at = index(path, last);
                (at < items.len()).then(|| items.remove(at))
            }
            _ => None,
        };
        assert!(removed.is_some(), "the spec has no {path}");
        self
    }

    /// The value at `path`, made (as null, in new maps) if absent.
    fn slot(&mut self, path: &str) -> &mut Value {
        segments(path).fold(&mut self.0, |value, key| {
            if value.is_null() {
                *value = Value::Object(serde_json::Map::new());
            }
            match value {
                Value::Object(map) => map.entry(key).or_insert(Value::Null),
                Value::Array(items) => {
                    let at = index(path, key);
                    let length = items.len();
                    items
                        .get_mut(at)
                        .unwrap_or_else(|| panic!("{path}: index {at} of a list of {length}"))
                }
                other => panic!("{path}: {key} is inside a scalar ({other})"),
            }
        })
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('.').filter(|segment| !segment.is_empty())
}

fn index(path: &str, key: &str) -> usize {
    key.parse()
        .unwrap_or_else(|_| panic!("{path}: {key} indexes a list, so it must be a number"))
}
