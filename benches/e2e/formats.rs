//! Sections 9 and 9b: values of a format with schemas, typed by a header. Avro
//! (`E2E_AVRO_EVENTS`, 1,000,000; 0 skips): schemaless datums of ~200 bytes, as a
//! Django service writes them. Protobuf (`E2E_PROTOBUF_EVENTS`, 1,000,000; 0
//! skips): unframed messages of ~200 bytes with a `Timestamp`, as a gRPC service
//! writes them, decoded with a descriptor set. For each: catch-up against a plain
//! consumer and against the header rule without the format (decoding's own cost),
//! and cached lookups decoded to JSON against cached JSON lookups and
//! `/health/live`. `E2E_ONLY=avro` or `E2E_ONLY=protobuf` runs one alone.

use std::path::Path;
use std::time::Instant;

use analyzer::varint::{put, put_bytes_field, put_long, put_varint_field, zigzag};
use prost_reflect::prost::Message as _;
use prost_reflect::prost_types::field_descriptor_proto::{Label, Type};
use prost_reflect::prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
};

use super::{
    Analyzer, Broker, EVENT_BYTES, MIB, TYPES, env_number, http_get, http_json, median,
    plain_consume, produce_headed, row, type_of, wrk,
};

/// A value format the section measures.
pub struct SchemaFormat {
    /// Its name in the rows.
    name: &'static str,
    /// The variable giving how many events (0 skips).
    events_var: &'static str,
    /// The bench topic.
    topic: &'static str,
    /// Event `i`, of type `TYPES[type_of(i)]`, about `EVENT_BYTES` long.
    event: fn(u64) -> Vec<u8>,
    /// Writes the schemas into a directory; the setting and value that load them.
    schemas: fn(&Path) -> (&'static str, String),
    /// The setting's key, in the rows.
    setting: &'static str,
}

/// Schemaless Avro datums, one local schema per type.
pub const AVRO: SchemaFormat = SchemaFormat {
    name: "Avro",
    events_var: "E2E_AVRO_EVENTS",
    topic: "e2e-avro",
    event: avro_event,
    schemas: avro_schemas,
    setting: "[avro] schemas_dir",
};

/// Unframed Protobuf messages, one message per type in one descriptor set.
pub const PROTOBUF: SchemaFormat = SchemaFormat {
    name: "Protobuf",
    events_var: "E2E_PROTOBUF_EVENTS",
    topic: "e2e-protobuf",
    event: protobuf_event,
    schemas: protobuf_schemas,
    setting: "[protobuf] descriptor_sets",
};

fn avro_string(out: &mut Vec<u8>, s: &[u8]) {
    put_long(out, s.len() as i64);
    out.extend_from_slice(s);
}

/// The bench's record, one schema per type (named as the type).
fn avro_schema(event_type: &str) -> String {
    format!(
        r#"{{"type":"record","name":"{event_type}","fields":[
  {{"name":"patient","type":"string"}},
  {{"name":"seq","type":"long"}},
  {{"name":"recorded_at","type":{{"type":"long","logicalType":"timestamp-millis"}}}},
  {{"name":"value","type":"double"}},
  {{"name":"unit","type":["null","string"]}},
  {{"name":"amount","type":{{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}}}},
  {{"name":"note","type":"string"}}]}}"#
    )
}

fn avro_schemas(dir: &Path) -> (&'static str, String) {
    for event_type in TYPES {
        std::fs::write(
            dir.join(format!("{event_type}.avsc")),
            avro_schema(event_type),
        )
        .unwrap();
    }
    ("ANALYZER_AVRO__SCHEMAS_DIR", dir.display().to_string())
}

/// A schemaless datum of [`avro_schema`], about [`EVENT_BYTES`] long like the JSON events.
fn avro_event(i: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(EVENT_BYTES);
    avro_string(&mut out, format!("p-{:06}", i % 997).as_bytes());
    put_long(&mut out, i as i64);
    put_long(&mut out, 1_795_435_200_000 + i as i64);
    out.extend_from_slice(&(60.0 + (i % 80) as f64 / 3.0).to_le_bytes());
    put_long(&mut out, 1);
    avro_string(&mut out, b"mmHg");
    avro_string(&mut out, &((i % 100_000) as u32).to_be_bytes());
    let note = EVENT_BYTES.saturating_sub(out.len() + 2);
    avro_string(&mut out, &vec![b'x'; note]);
    out
}

/// The bench's message, one per type (named as the type, no package): the
/// fields of the Avro record, the time a `google.protobuf.Timestamp`.
fn protobuf_schemas(dir: &Path) -> (&'static str, String) {
    let field =
        |name: &str, number: i32, kind: Type, type_name: Option<&str>| FieldDescriptorProto {
            name: Some(name.to_owned()),
            number: Some(number),
            label: Some(Label::Optional as i32),
            r#type: Some(kind as i32),
            type_name: type_name.map(str::to_owned),
            json_name: None,
            ..FieldDescriptorProto::default()
        };
    let message = |name: &str| DescriptorProto {
        name: Some(name.to_owned()),
        field: vec![
            field("patient", 1, Type::String, None),
            field("seq", 2, Type::Int64, None),
            field(
                "recorded_at",
                3,
                Type::Message,
                Some(".google.protobuf.Timestamp"),
            ),
            field("value", 4, Type::Double, None),
            field("unit", 5, Type::String, None),
            field("amount_cents", 6, Type::Sint64, None),
            field("note", 7, Type::String, None),
        ],
        ..DescriptorProto::default()
    };
    let file = FileDescriptorProto {
        name: Some("bench.proto".to_owned()),
        syntax: Some("proto3".to_owned()),
        dependency: vec!["google/protobuf/timestamp.proto".to_owned()],
        message_type: TYPES.iter().map(|t| message(t)).collect(),
        ..FileDescriptorProto::default()
    };
    let path = dir.join("bench.desc");
    let set = FileDescriptorSet { file: vec![file] };
    std::fs::write(&path, set.encode_to_vec()).unwrap();
    (
        "ANALYZER_PROTOBUF__DESCRIPTOR_SETS",
        path.display().to_string(),
    )
}

/// A message of [`protobuf_schemas`], about [`EVENT_BYTES`] long like the JSON events.
fn protobuf_event(i: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(EVENT_BYTES);
    put_bytes_field(&mut out, 1, format!("p-{:06}", i % 997).as_bytes());
    put_varint_field(&mut out, 2, i);
    let mut at = Vec::new();
    put_varint_field(&mut at, 1, 1_795_435_200 + i / 1000);
    put_varint_field(&mut at, 2, i % 1000 * 1_000_000);
    put_bytes_field(&mut out, 3, &at);
    put(&mut out, 4 << 3 | 1); // a double: wire type 1, eight bytes
    out.extend_from_slice(&(60.0 + (i % 80) as f64 / 3.0).to_le_bytes());
    put_bytes_field(&mut out, 5, b"mmHg");
    put_varint_field(&mut out, 6, zigzag((i % 100_000) as i64 - 50_000));
    let note = EVENT_BYTES.saturating_sub(out.len() + 3);
    put_bytes_field(&mut out, 7, &vec![b'x'; note]);
    out
}

fn type_name_of(i: u64) -> &'static str {
    TYPES[type_of(i)]
}

/// The section for `format`: catch-up with it, with the cache and without, and
/// without the format (the header rule alone); then cached decoded lookups.
pub fn format_section(format: &SchemaFormat, work: &Path) {
    let events = env_number(format.events_var, 1_000_000);
    if events == 0 {
        return;
    }
    let load_secs = env_number("E2E_LOAD_SECS", 10);
    let repeats = env_number("E2E_REPEATS", 5).max(1);
    let broker = Broker::start(work);
    broker.create(format.topic, 1);
    let started = Instant::now();
    let counts = produce_headed(
        &broker,
        format.topic,
        1,
        events,
        format.event,
        Some(type_name_of),
    );
    eprintln!(
        "  produced {events} {} events in {:.1?}",
        format.name,
        started.elapsed()
    );
    broker.topic("e2e-json", 1, events);
    let schemas = work.join(format!("schemas-{}", format.topic));
    std::fs::create_dir_all(&schemas).unwrap();
    let (key, value) = (format.schemas)(&schemas);
    let header_rule = [
        ("ANALYZER_CLASSIFY__BY", "header"),
        ("ANALYZER_CLASSIFY__NAME", "item_type_name"),
    ];
    let with_format = [header_rule[0], header_rule[1], (key, value.as_str())];
    let (cached, uncached, plain_rule) = (
        format!("{}, header rule, 128 MiB cache", format.setting),
        format!("{}, header rule, cache off", format.setting),
        format!(
            "header rule without {} (no decoding), cache off",
            format.setting
        ),
    );
    type Contender<'a> = (&'a str, u64, &'a [(&'a str, &'a str)]);
    let contenders: [Contender; 3] = [
        (&cached, 128 * MIB, &with_format),
        (&uncached, 0, &with_format),
        (&plain_rule, 0, &header_rule),
    ];
    let mut plain = Vec::new();
    let mut times = vec![Vec::new(); contenders.len()];
    for _ in 0..repeats {
        let started = Instant::now();
        assert_eq!(plain_consume(&broker, format.topic), events);
        plain.push(started.elapsed());
        for ((_, cache, env), times) in contenders.iter().zip(&mut times) {
            let (analyzer, took) =
                Analyzer::start_with(&broker, format.topic, *cache, env, false, work);
            assert_eq!(analyzer.metric("analyzer_index_entries") as u64, events);
            let unclassified = &http_json(analyzer.port, "/status")["unclassified"]["count"];
            assert_eq!(unclassified, 0, "every {} event decodes", format.name);
            times.push(took);
        }
    }
    let plain = median(plain);
    for ((label, _, _), times) in contenders.iter().zip(times) {
        let took = median(times);
        let ratio = took.as_secs_f64() / plain.as_secs_f64();
        row(
            &format!(
                "catch-up, {events} {} events, 1 partition, {label}",
                format.name
            ),
            format!("{:.2} s", took.as_secs_f64()),
            format!("{:.2} s (plain consumer)", plain.as_secs_f64()),
            format!("{ratio:.2}x"),
            "report",
        );
    }

    // Cached lookups: decoded at each lookup, against JSON served as stored.
    let path = format!("/events/{}?index=", TYPES[0]);
    let mut env = with_format.to_vec();
    env.push(("ANALYZER_CACHE__HEADERS", "false"));
    let (decoded, _) = Analyzer::start_with(&broker, format.topic, 1 << 30, &env, false, work);
    let (json, _) = Analyzer::start(&broker, "e2e-json", 1 << 30, work);
    let live = wrk(decoded.port, "/health/live", 0, load_secs, work);
    let misses = (decoded.cache_misses(), json.cache_misses());
    let decoded_load = wrk(decoded.port, &path, counts[0], load_secs, work);
    let json_load = wrk(json.port, &path, counts[0], load_secs, work);
    assert_eq!(
        (decoded.cache_misses(), json.cache_misses()),
        misses,
        "read from Kafka"
    );
    let (status, body) = http_get(decoded.port, &format!("{path}7"));
    assert_eq!(status, 200);
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(value["unit"], "mmHg", "{value}");
    let decoded_what = format!("cached random {} lookups (decoded to JSON)", format.name);
    for (what, load) in [
        ("/health/live (actix floor)", &live),
        ("cached random JSON lookups", &json_load),
        (decoded_what.as_str(), &decoded_load),
    ] {
        row(
            &format!("{what}, 2 connections"),
            format!(
                "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                load.requests_per_sec, load.p50_ms, load.p99_ms
            ),
            format!(
                "{:.0} req/s (/health/live), {:.0} req/s (JSON)",
                live.requests_per_sec, json_load.requests_per_sec
            ),
            format!(
                "{:.2}x live, {:.2}x JSON",
                load.requests_per_sec / live.requests_per_sec,
                load.requests_per_sec / json_load.requests_per_sec
            ),
            "report",
        );
    }
}
