//! The classifier's cost per message, against two baselines measured in the same run:
//! parsing the whole value into a `serde_json::Value` (what a naive service does) and
//! a borrowed one-field `#[derive(Deserialize)]` struct. Values of 150 B, 1.3 KB and
//! 13 KB, with the type field first and last; a JSON pointer; a header.
//! `cargo bench --bench classify`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::borrow::Cow;
use std::hint::black_box;

use analyzer::classify::{Message, Rule};
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
    for size in [150, 1_300, 13_000] {
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

criterion_group!(benches, json_rules, header_rule);
criterion_main!(benches);
