//! docs/spec.md documents every field of the spec, and nothing else: the field paths of the spec
//! types (found by deserializing them with a tracer that records every struct field it is asked
//! for) equal the paths in the first column of the document's tables.

use std::collections::BTreeSet;

use kcompile::spec::Spec;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};

#[test]
fn docs_spec_md_lists_exactly_the_spec_fields() {
    let mut fields = BTreeSet::new();
    let _ = <Spec as serde::Deserialize>::deserialize(Tracer {
        path: String::new(),
        fields: &mut fields,
    })
    .expect("the tracer walks every field");
    assert!(fields.contains("hosts[].overrides.apiServer.extraArgs"));

    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/spec.md")).unwrap();
    let documented: BTreeSet<String> = docs
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(path, _)| path.to_owned())
        .collect();
    let missing: Vec<_> = fields.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&fields).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/spec.md is out of sync with src/spec/types.rs\nundocumented fields: {missing:#?}\ndocumented but not fields: {extra:#?}"
    );
}

/// A deserializer that answers every request with a minimal value and records the path of every
/// struct field it is asked to fill.
struct Tracer<'a> {
    path: String,
    fields: &'a mut BTreeSet<String>,
}

type Error = de::value::Error;

impl<'de> Deserializer<'de> for Tracer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str("x")
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_bool(false)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u8(1)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u16(1)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u32(1)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(OneElement {
            tracer: Some(Tracer {
                path: format!("{}[]", self.path),
                fields: self.fields,
            }),
        })
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // A map-valued field is one documented row: its values are not traced further.
        let mut scratch = BTreeSet::new();
        visitor.visit_map(Fields {
            names: &["key"],
            path: String::new(),
            fields: &mut scratch,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        names: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_map(Fields {
            names,
            path: self.path,
            fields: self.fields,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(variants[0].into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u64 u128 f32 f64 char str string bytes byte_buf unit unit_struct
        newtype_struct tuple tuple_struct identifier ignored_any
    }
}

struct OneElement<'a> {
    tracer: Option<Tracer<'a>>,
}

impl<'de> de::SeqAccess<'de> for OneElement<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.tracer
            .take()
            .map(|tracer| seed.deserialize(tracer))
            .transpose()
    }
}

#[expect(
    clippy::struct_field_names,
    reason = "the spec section's own field names"
)]
struct Fields<'a> {
    names: &'static [&'static str],
    path: String,
    fields: &'a mut BTreeSet<String>,
}

impl<'de> de::MapAccess<'de> for Fields<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.names.first() {
            Some(name) => seed.deserialize((*name).into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let name = self.names[0];
        self.names = &self.names[1..];
        let path = if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        };
        self.fields.insert(path.clone());
        seed.deserialize(Tracer {
            path,
            fields: self.fields,
        })
    }
}
