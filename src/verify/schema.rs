//! Static pod manifests against the Pod schema. The kubelet decodes a static pod leniently: a
//! field the Pod type does not have (`volumeMount` for `volumeMounts`, `hostpath` for
//! `hostPath`, a container field one level too high) is dropped without a word, so the setting
//! it was meant to make silently does nothing. Each manifest is decoded into
//! `k8s_openapi::api::core::v1::Pod` (the newest release kcompile knows) through
//! `serde_ignored`, which names every field the decoder skipped; each is reported with its line.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Pod;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::Check;

/// A field of a manifest the Pod schema does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// Where it is, as kubectl writes paths: `spec.containers[0].volumeMount`.
    pub path: String,
    /// The line of its key (1-based), when the parser tells it.
    pub line: Option<u64>,
}

/// What decoding a manifest into a Pod found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// It decodes; these fields were dropped on the way.
    Pod(Vec<Unknown>),
    /// It does not decode as a Pod (a value of the wrong type, a required field missing): the
    /// kubelet refuses it. The reason names a line and column, never a value.
    Refused(String),
}

/// Decodes a static pod manifest (YAML or JSON) as the kubelet does, listing the fields it drops.
pub fn decode(text: &str) -> Decoded {
    let mut dropped: Vec<String> = Vec::new();
    let decoded = serde_saphyr::with_deserializer_from_str(text, |deserializer| {
        serde_ignored::deserialize(deserializer, |path| dropped.push(shown(&path))).map(|_: Pod| ())
    });
    if let Err(error) = decoded {
        let at = error.location().map_or_else(String::new, |at| {
            format!(" at line {}, column {}", at.line(), at.column())
        });
        return Decoded::Refused(format!(
            "the manifest{at} does not fit the Pod schema (a value of the wrong type, a \
             required field missing, or an apiVersion other than v1)"
        ));
    }
    let lines = key_lines(text);
    Decoded::Pod(
        dropped
            .into_iter()
            .map(|path| Unknown {
                line: lines.get(&path).copied(),
                path,
            })
            .collect(),
    )
}

/// A `serde_ignored` path as kubectl writes one: `spec.containers[0].volumeMount`.
fn shown(path: &serde_ignored::Path) -> String {
    match path {
        serde_ignored::Path::Root => String::new(),
        serde_ignored::Path::Seq { parent, index } => format!("{}[{index}]", shown(parent)),
        serde_ignored::Path::Map { parent, key } => {
            let parent = shown(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        serde_ignored::Path::Some { parent }
        | serde_ignored::Path::NewtypeStruct { parent }
        | serde_ignored::Path::NewtypeVariant { parent } => shown(parent),
    }
}

/// The line of every mapping key of a YAML document, by its path as [`shown`] writes it. A
/// document the parser cannot walk yields what was found before the failure.
fn key_lines(text: &str) -> BTreeMap<String, u64> {
    let mut lines = BTreeMap::new();
    let _ = serde_saphyr::with_deserializer_from_str(text, |deserializer| {
        Lines {
            prefix: String::new(),
            lines: &mut lines,
        }
        .deserialize(deserializer)
    });
    lines
}

/// Walks one YAML node, recording the line of every key under `prefix`.
struct Lines<'m> {
    prefix: String,
    lines: &'m mut BTreeMap<String, u64>,
}

impl<'de> DeserializeSeed<'de> for Lines<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lines<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<serde_saphyr::Spanned<String>>()? {
            let path = if self.prefix.is_empty() {
                key.value.clone()
            } else {
                format!("{}.{}", self.prefix, key.value)
            };
            self.lines
                .entry(path.clone())
                .or_insert(key.referenced.line());
            map.next_value_seed(Lines {
                prefix: path,
                lines: self.lines,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(Lines {
                prefix: format!("{}[{index}]", self.prefix),
                lines: self.lines,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Check<'_> {
    /// Every static pod manifest against the Pod schema.
    pub(super) fn pod_schemas(&mut self) {
        for file in self.pods.clone() {
            let Some(bytes) = self.tree.get(&file.path) else {
                continue;
            };
            match decode(&String::from_utf8_lossy(bytes)) {
                Decoded::Pod(unknown) => {
                    for field in unknown {
                        let at = field
                            .line
                            .map_or_else(String::new, |line| format!(" (line {line})"));
                        self.error(
                            &file.path,
                            format!(
                                "`{}`{at} is not a field of a Pod: the kubelet drops it without a \
                                 word, so what it was meant to set is not set; fix its spelling \
                                 or its indentation",
                                crate::shown::value(&field.path, 120)
                            ),
                        );
                    }
                }
                Decoded::Refused(reason) => self.error(
                    &file.path,
                    format!("the kubelet cannot decode this pod: {reason}; it never runs it"),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: kube-scheduler
  namespace: kube-system
spec:
  containers:
  - name: kube-scheduler
    image: registry.k8s.io/kube-scheduler:v1.36.3
    volumeMount:
    - mountPath: /etc/kubernetes/scheduler.conf
      name: kubeconfig
  hostNetwork: true
  volumes:
  - hostpath:
      path: /etc/kubernetes/scheduler.conf
    name: kubeconfig
status: {}
";

    #[test]
    fn every_dropped_field_is_named_with_its_line() {
        let Decoded::Pod(unknown) = decode(POD) else {
            panic!("decodes");
        };
        assert_eq!(
            unknown,
            [
                Unknown {
                    path: "spec.containers[0].volumeMount".into(),
                    line: Some(10)
                },
                Unknown {
                    path: "spec.volumes[0].hostpath".into(),
                    line: Some(15)
                },
            ]
        );
        let clean = POD
            .replace("volumeMount:", "volumeMounts:")
            .replace("hostpath", "hostPath");
        assert_eq!(decode(&clean), Decoded::Pod(Vec::new()));
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused_without_being_shown() {
        let wrong = POD.replace("hostNetwork: true", "hostNetwork: s3cr3t-value");
        let Decoded::Refused(reason) = decode(&wrong) else {
            panic!("refused");
        };
        assert!(reason.contains("line 13"), "{reason}");
        assert!(!reason.contains("s3cr3t"), "{reason}");
    }
}
