//! The `-o json` documents kcompile prints (`diff`, `verify`, `certs`, `images`, `preflight`):
//! `formatVersion` first, then the command's own fields, pretty-printed with a final newline.
//! Fields are only ever added within a version; a change that removes or retypes one is a new
//! [`FORMAT_VERSION`]. docs/operations.md documents each command's fields.

use serde::Serialize;
use serde_json::Value;

/// The version every `-o json` document carries as `formatVersion`.
pub const FORMAT_VERSION: u32 = 1;

/// `{"formatVersion": 1, ...fields}` as text: `fields` is anything that serializes to a JSON
/// object (a `serde_json::json!({...})` literal, a report struct), its members in their order.
pub fn document(fields: &impl Serialize) -> String {
    let mut document = serde_json::Map::new();
    document.insert("formatVersion".to_owned(), Value::from(FORMAT_VERSION));
    if let Ok(Value::Object(fields)) = serde_json::to_value(fields) {
        document.extend(fields);
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(document)).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_version_comes_first_and_the_fields_keep_their_order() {
        let text = document(&serde_json::json!({"zebra": 1, "apple": [true]}));
        assert_eq!(
            text,
            "{\n  \"formatVersion\": 1,\n  \"zebra\": 1,\n  \"apple\": [\n    true\n  ]\n}\n"
        );
    }
}
