//! Every kind of bad event, through a real broker (tansu): each one is accounted
//! for, either indexed under its type or counted as unclassified with the right
//! reason, and the unclassified ones can be fetched back byte for byte.

use crate::helpers::{Event, TANSU_WAIT, TestApp, broker, new_topic, produce, settings, spawn_app};
use analyzer::config::ClassifyBy;
use std::collections::BTreeMap;

/// Arrays nested `depth` levels deep.
fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// Checks the app indexed `expected` types and `reasons`, nothing else, and that
/// each unclassified event reads back as produced.
async fn check(app: &TestApp, events: &[(Event, Result<&str, &str>)], positions: &[(i32, i64)]) {
    app.wait_for_total(events.len() as u64, TANSU_WAIT).await;
    let mut types = BTreeMap::<String, u64>::new();
    let mut reasons = BTreeMap::<String, u64>::new();
    for (_, outcome) in events {
        match outcome {
            Ok(event_type) => *types.entry((*event_type).to_owned()).or_default() += 1,
            Err(reason) => *reasons.entry((*reason).to_owned()).or_default() += 1,
        }
    }
    assert_eq!(app.stats().await, types);
    let counted: BTreeMap<String, u64> = app
        .status
        .unclassified_counts()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(reason, n)| (reason.to_owned(), n))
        .collect();
    assert_eq!(counted, reasons);
    // /stats plus the unclassified counts is every message produced.
    let stats_total: u64 = app.stats().await.values().sum();
    assert_eq!(
        stats_total + counted.values().sum::<u64>(),
        events.len() as u64
    );
    // The unclassified ones, in topic order, read back byte for byte.
    let unclassified: Vec<usize> = (0..events.len())
        .filter(|i| events[*i].1.is_err())
        .collect();
    for (index, produced) in unclassified.iter().enumerate() {
        let fetched = app
            .event(&format!("/events/unclassified?index={index}"))
            .await;
        assert_eq!(
            (fetched.partition, fetched.offset),
            positions[*produced],
            "unclassified #{index}"
        );
        let value = events[*produced].0.value.clone().unwrap_or_default();
        assert_eq!(fetched.bytes, value, "unclassified #{index}");
    }
    assert_eq!(app.json("/health/live").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_malformed_value_is_accounted_for() {
    let brokers = broker();
    let topic = new_topic(&brokers, "corpus", 1).await;
    let long_type = "x".repeat(10 * 1024);
    let mut big = br#"{"type":"A","padding":""#.to_vec();
    big.extend(vec![b'p'; 1_000_000]);
    big.extend(br#""}"#);
    let big_len = big.len();
    let cases: Vec<(Event, Result<&str, &str>)> = vec![
        (Event::json("A", 0), Ok("A")),
        (Event::raw(*b"not json at all"), Err("invalid_json")),
        (Event::raw(*b"[1, 2, 3]"), Err("not_an_object")),
        (Event::raw(*b"42"), Err("not_an_object")),
        (Event::raw(*br#""a string""#), Err("not_an_object")),
        (Event::raw(*b"true"), Err("not_an_object")),
        (Event::raw(*b"null"), Err("not_an_object")),
        (Event::raw(*br#"{"kind":"A"}"#), Err("missing_field")),
        (Event::raw(*br#"{"type":null}"#), Err("not_a_string")),
        (Event::raw(*br#"{"type":5}"#), Err("not_a_string")),
        (
            Event::raw(*br#"{"type":{"name":"A"}}"#),
            Err("not_a_string"),
        ),
        (Event::raw(*br#"{"type":""}"#), Err("empty_type")),
        (
            Event::raw(format!(r#"{{"type":"{long_type}"}}"#)),
            Err("type_too_long"),
        ),
        (
            Event::raw(*br#"{"type":"unclassified"}"#),
            Err("reserved_type"),
        ),
        // Duplicate keys: the last one wins, as in serde_json::Value.
        (Event::raw(*br#"{"type":"A","type":"B"}"#), Ok("B")),
        (Event::raw(*b"\xff\xfe\xfd"), Err("invalid_utf8")),
        (Event::raw(*b"{\"type\":\"\xff\"}"), Err("invalid_utf8")),
        (Event::default(), Err("tombstone")),
        (Event::raw(*b""), Err("empty_value")),
        (Event::raw(big), Ok("A")),
        // Rejected at its first byte: never recursed into.
        (Event::raw(nested(10_000)), Err("not_an_object")),
        // Valid JSON: the deep value is skipped (iteratively) and the type kept.
        (
            Event::raw(format!(r#"{{"type":"A","deep":{}}}"#, nested(10_000))),
            Ok("A"),
        ),
        // Valid JSON whose type is 10,000 nested arrays: skipped the same way.
        (
            Event::raw(format!(r#"{{"type":{}}}"#, nested(10_000))),
            Err("not_a_string"),
        ),
        (Event::json("B", 1), Ok("B")),
    ];
    let events: Vec<Event> = cases.iter().map(|(e, _)| e.clone()).collect();
    let positions = produce(&brokers, &topic, &events).await;
    let mut config = settings(&brokers, &[&topic]);
    config.cache.max_bytes = 0; // every read-back comes from the broker
    let app = spawn_app(&config).await;
    check(&app, &cases, &positions).await;
    // The 1 MB value comes back whole (read from the broker: the cache is off).
    let big = app.event("/events/A?index=1").await;
    assert!(big.bytes.starts_with(br#"{"type":"A","padding":"ppp"#));
    assert_eq!(big.bytes.len(), big_len);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_malformed_header_is_accounted_for() {
    let brokers = broker();
    let topic = new_topic(&brokers, "corpus-headers", 1).await;
    let cases: Vec<(Event, Result<&str, &str>)> = vec![
        (
            Event::raw(*b"1").header("item_type_name", Some(b"Order")),
            Ok("Order"),
        ),
        (Event::raw(*b"2"), Err("missing_header")),
        (
            Event::raw(*b"3").header("other", Some(b"Order")),
            Err("missing_header"),
        ),
        (
            Event::raw(*b"4").header("item_type_name", None),
            Err("null_header"),
        ),
        (
            Event::raw(*b"5").header("item_type_name", Some(b"\xc3\x28")),
            Err("invalid_utf8"),
        ),
        (
            Event::raw(*b"6").header("item_type_name", Some(b"")),
            Err("empty_type"),
        ),
        (
            Event::default().header("item_type_name", Some(b"Order")),
            Err("tombstone"),
        ),
        (
            Event::raw(*b"8")
                .header("item_type_name", Some(b"Invoice"))
                .header("item_type_name", Some(b"Order")),
            Ok("Order"),
        ),
    ];
    let events: Vec<Event> = cases.iter().map(|(e, _)| e.clone()).collect();
    let positions = produce(&brokers, &topic, &events).await;
    let mut config = settings(&brokers, &[&topic]);
    config.classify.by = ClassifyBy::Header;
    config.classify.name = "item_type_name".into();
    let app = spawn_app(&config).await;
    check(&app, &cases, &positions).await;
}
