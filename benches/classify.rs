//! The classifier's cost per message, against two baselines measured in the same run:
//! parsing the whole value into a `serde_json::Value` (what a naive service does) and
//! a borrowed one-field `#[derive(Deserialize)]` struct; and the JSON rule without its
//! fast path (`json_field_serde_only`). Values of 150 B, 200 B, 1.3 KB and 13 KB, with
//! the type field first and last; a JSON pointer; a header.
//! `cargo bench --bench classify`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::borrow::Cow;
use std::hint::black_box;

use analyzer::classify::{Message, Rule, serde_string_at};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;

/// A reading of exactly `size` bytes: the type field, filler fields, and a `note`
/// that pads it out.
fn event(size: usize, type_first: bool) -> Vec<u8> {
    let frame =
        |fields: &[String]| format!(r#"{{"meta":{{"source":"ward-7"}},{}}}"#, fields.join(","));
    let kind = r#""type":"blood_pressure""#.to_owned();
    let mut fields = vec![kind.clone()];
    // Filler while there is room left for the note (12 bytes with a few x's).
    for i in 0.. {
        let field = format!(
            r#""reading_{i}":{{"value":{},"unit":"mmHg","ok":true}}"#,
            100 + i
        );
        if frame(&fields).len() + field.len() + 1 + 12 > size {
            break;
        }
        fields.push(field);
    }
    let pad = size - frame(&fields).len() - r#","note":"""#.len();
    fields.push(format!(r#""note":"{}""#, "x".repeat(pad)));
    if !type_first {
        fields.remove(0);
        fields.push(kind);
    }
    let value = frame(&fields).into_bytes();
    assert_eq!(value.len(), size);
    value
}

#[derive(Deserialize)]
struct OneField<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
}

type NoHeaders = [(&'static str, Option<&'static [u8]>)];

fn classify(rule: &Rule, value: &[u8], headers: &NoHeaders) -> bool {
    rule.classify(&Message {
        topic: "events",
        value: Some(value),
        headers,
    })
    .is_ok()
}

fn json_rules(c: &mut Criterion) {
    let field = Rule::JsonField("type".into());
    let pointer = Rule::json_pointer("/type");
    for size in [150, 200, 1_300, 13_000] {
        let mut group = c.benchmark_group(format!("classify_{size}B"));
        for (place, type_first) in [("first", true), ("last", false)] {
            let value = event(size, type_first);
            assert!(classify(&field, &value, &[]), "the sample must classify");
            group.throughput(Throughput::Bytes(value.len() as u64));
            group.bench_with_input(BenchmarkId::new("value_baseline", place), &value, |b, v| {
                b.iter(|| {
                    let doc: serde_json::Value = serde_json::from_slice(black_box(v)).unwrap();
                    black_box(doc.get("type").and_then(|t| t.as_str()).map(str::len))
                })
            });
            group.bench_with_input(
                BenchmarkId::new("one_field_struct_baseline", place),
                &value,
                |b, v| {
                    b.iter(|| {
                        let one: OneField = serde_json::from_slice(black_box(v)).unwrap();
                        black_box(one.kind.len())
                    })
                },
            );
            group.bench_with_input(BenchmarkId::new("json_field", place), &value, |b, v| {
                b.iter(|| classify(&field, black_box(v), &[]))
            });
            // The same rule without the fast path: serde_json's scan alone.
            let path = ["type".to_owned()];
            group.bench_with_input(
                BenchmarkId::new("json_field_serde_only", place),
                &value,
                |b, v| b.iter(|| serde_string_at(black_box(v), &path).is_ok()),
            );
            group.bench_with_input(BenchmarkId::new("json_pointer", place), &value, |b, v| {
                b.iter(|| classify(&pointer, black_box(v), &[]))
            });
        }
        group.finish();
    }
}

fn header_rule(c: &mut Criterion) {
    let rule = Rule::Header("item_type_name".into());
    let value = event(1_300, true);
    let headers: &NoHeaders = &[
        ("trace_id", Some(b"4bf92f3577b34da6a3ce929d0e0e4736")),
        ("item_type_name", Some(b"blood_pressure")),
    ];
    assert!(classify(&rule, &value, headers));
    c.bench_function("classify_header", |b| {
        b.iter(|| classify(&rule, black_box(&value), black_box(headers)))
    });
}

/// The Avro check at ingest on a 200-byte schemaless datum of a 7-field record (the
/// e2e bench's), against the JSON rule on a 200-byte JSON value, and the rendering
/// to JSON a lookup does.
fn avro_check(c: &mut Criterion) {
    use analyzer::decode::avro::{Avro, AvroSource};
    let dir = std::env::temp_dir().join(format!("analyzer-bench-avro-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("reading.avsc"),
        r#"{"type":"record","name":"blood_pressure","fields":[
  {"name":"patient","type":"string"},{"name":"seq","type":"long"},
  {"name":"recorded_at","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"value","type":"double"},{"name":"unit","type":["null","string"]},
  {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
  {"name":"note","type":"string"}]}"#,
    )
    .unwrap();
    let avro = Avro::load(&AvroSource {
        schemas_dir: Some(&dir),
        ..AvroSource::default()
    })
    .unwrap();
    // patient, seq, recorded_at, value, unit (branch 1), amount, then a note to 200 bytes.
    let mut datum = vec![16];
    datum.extend_from_slice(b"p-000042");
    datum.extend_from_slice(&[0x54, 0xc0, 0xbc, 0xdf, 0xcb, 0x9f, 0x68]);
    datum.extend_from_slice(&101.5f64.to_le_bytes());
    datum.extend_from_slice(&[2, 8]);
    datum.extend_from_slice(b"mmHg");
    datum.extend_from_slice(&[4, 0x30, 0x39]);
    // The note's length takes two varint bytes (zig-zag: twice the length).
    let note = 200 - datum.len() - 2;
    datum.extend_from_slice(&[((note * 2) & 0x7f) as u8 | 0x80, ((note * 2) >> 7) as u8]);
    datum.extend(std::iter::repeat_n(b'x', note));
    assert_eq!(datum.len(), 200);
    assert!(
        avro.check(Some("blood_pressure"), &datum)
            .unwrap()
            .is_some()
    );
    let json = event(200, true);
    let field = Rule::JsonField("type".into());
    let mut group = c.benchmark_group("avro_200B");
    group.bench_function("json_field_baseline", |b| {
        b.iter(|| classify(&field, black_box(&json), &[]))
    });
    group.bench_function("avro_check", |b| {
        b.iter(|| {
            avro.check(Some("blood_pressure"), black_box(&datum))
                .is_ok()
        })
    });
    group.bench_function("avro_to_json", |b| {
        b.iter(|| {
            avro.to_json(Some("blood_pressure"), black_box(&datum))
                .is_ok()
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Protobuf check at ingest on a 142-byte `shop.OrderPlaced`
/// (examples/protobuf/: two lines, a map entry, a `Timestamp`), its parts
/// (decoding alone, and the JSON mapping into nothing), and the rendering a
/// lookup does, against the JSON rule on a 200-byte JSON value.
fn protobuf_check(c: &mut Criterion) {
    use analyzer::decode::protobuf::{self, Protobuf};
    use prost_reflect::{DynamicMessage, SerializeOptions};
    let desc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/protobuf/shop.desc");
    let local = Protobuf::load(&[desc], &Default::default()).unwrap();
    let message = local.message_of("shop.OrderPlaced").unwrap().clone();
    // Made by tests/protobuf/shop.py: two lines, a label, a Timestamp, a oneof.
    let hex = "0a066f2d30303432120d0a034555521091011880e1eb171a1b0a07534b552d31303010021a0e0a03\
               4555521081011880e788d8031a1a0a07534b552d31303710011a0d0a0345555210101880e788d8\
               0322100a076368616e6e656c120573746f7265280238b9604a0b0880f2d6ca06108084af5f5a0a\
               746f6b5f35613166306362030de01269000000000000e03f";
    let value: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let mut json = Vec::new();
    protobuf::decode(&message, &value, Some(&mut json)).unwrap();
    let rule_json = event(200, true);
    let field = Rule::JsonField("type".into());
    let mut group = c.benchmark_group("protobuf_order");
    group.bench_function("json_field_baseline", |b| {
        b.iter(|| classify(&field, black_box(&rule_json), &[]))
    });
    group.bench_function("protobuf_check", |b| {
        b.iter(|| protobuf::decode(&message, black_box(&value), None).is_ok())
    });
    group.bench_function("dynamic_message_decode", |b| {
        b.iter(|| DynamicMessage::decode(message.clone(), black_box(&value[..])).is_ok())
    });
    let decoded = DynamicMessage::decode(message.clone(), &value[..]).unwrap();
    group.bench_function("json_mapping_into_nothing", |b| {
        b.iter(|| {
            black_box(&decoded)
                .serialize_with_options(
                    &mut serde_json::Serializer::new(std::io::sink()),
                    &SerializeOptions::new(),
                )
                .is_ok()
        })
    });
    group.bench_function("protobuf_to_json", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(512);
            protobuf::decode(&message, black_box(&value), Some(&mut out)).is_ok()
        })
    });
    group.finish();
}

criterion_group!(benches, json_rules, header_rule, avro_check, protobuf_check);
criterion_main!(benches);
