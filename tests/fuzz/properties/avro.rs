//! Any bytes as an Avro value under every kind of schema (recursive, every type
//! and logical type, collections of zero-byte items), as a container file, and as
//! a schema: decoding answers a value or an error, never panics, never overflows
//! the stack, and the check at ingest agrees with the rendering at lookup.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use analyzer::decode::avro::schema::Schemas;
use analyzer::decode::avro::{Avro, AvroSource};

const SCHEMAS: &str = r#"[
  {"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]},
    {"name": "kids", "type": {"type": "array", "items": "Node"}}]},
  {"type": "record", "name": "Every", "fields": [
    {"name": "b", "type": "boolean"}, {"name": "i", "type": "int"}, {"name": "l", "type": "long"},
    {"name": "f", "type": "float"}, {"name": "d", "type": "double"}, {"name": "s", "type": "string"},
    {"name": "by", "type": "bytes"},
    {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
    {"name": "fx", "type": {"type": "fixed", "name": "U", "size": 16, "logicalType": "uuid"}},
    {"name": "dec", "type": {"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 9}},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "date", "type": {"type": "int", "logicalType": "date"}},
    {"name": "dur", "type": {"type": "fixed", "name": "D", "size": 12, "logicalType": "duration"}},
    {"name": "m", "type": {"type": "map", "values": ["null", "string", "E"]}}]},
  {"type": "record", "name": "Nulls", "fields": [
    {"name": "a", "type": {"type": "array", "items": {"type": "array", "items": "null"}}}]}
]"#;

fn avro() -> &'static Avro {
    static AVRO: OnceLock<Avro> = OnceLock::new();
    AVRO.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("analyzer-fuzz-avro-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("fuzz.avsc"), SCHEMAS).expect("schema file");
        let types = BTreeMap::new();
        Avro::load(&AvroSource {
            schemas_dir: Some(&dir),
            types: Some(&types),
        })
        .expect("the fuzz schemas load")
    })
}

/// The property, for one input: panics when it does not hold.
pub fn check(data: &[u8]) {
    let avro = avro();
    for event_type in [Some("Node"), Some("Every"), Some("Nulls"), None] {
        let checked = avro.check(event_type, data);
        let rendered = avro.to_json(event_type, data);
        assert_eq!(
            checked.is_ok(),
            rendered.is_ok(),
            "{checked:?} / {rendered:?}"
        );
        if let Ok(Some(decoded)) = rendered {
            let json: Result<serde_json::Value, _> = serde_json::from_slice(&decoded.json);
            assert!(
                json.is_ok(),
                "not JSON: {:?}",
                String::from_utf8_lossy(&decoded.json)
            );
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Schemas::parse_one(text);
    }
}
