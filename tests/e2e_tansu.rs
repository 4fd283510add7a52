//! End to end against a real Kafka-API broker (tansu), started by ./scripts/test.sh,
//! which exports its address as TANSU_TEST_BROKER.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use analyzer::config::{ClassifyBy, RouteSettings};
use common::{Event, TestApp, broker, new_topic, produce, settings, spawn_app};
use rand::Rng;

const WAIT: Duration = Duration::from_secs(120);

/// A mixed stream: about 40% blood_pressure, 58% heart_rate, 2% malformed of every kind.
fn mixed_stream(n: usize, partitions: i32) -> (Vec<Event>, Vec<Option<&'static str>>) {
    let mut rng = rand::rng();
    let malformed: [&[u8]; 6] = [
        b"not json",
        br#"{"type": 7}"#,
        br#"{"kind": "blood_pressure"}"#,
        b"[]",
        b"\xff\xfe",
        br#"{"type": ""}"#,
    ];
    let mut events = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    for seq in 0..n {
        let roll: f64 = rng.random();
        let (event, event_type) = if roll < 0.02 {
            let which = rng.random_range(0..=malformed.len());
            if which == malformed.len() {
                (Event::default(), None) // tombstone
            } else {
                (Event::raw(malformed[which]), None)
            }
        } else if roll < 0.42 {
            (Event::json("blood_pressure", seq), Some("blood_pressure"))
        } else {
            (Event::json("heart_rate", seq), Some("heart_rate"))
        };
        events.push(event.on(seq as i32 % partitions));
        types.push(event_type);
    }
    (events, types)
}

fn expected_counts(types: &[Option<&str>]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for t in types.iter().flatten() {
        *counts.entry((*t).to_owned()).or_insert(0) += 1;
    }
    counts
}

/// Checks counts, then `samples` random lookups byte for byte, for any partitioning.
async fn check_app(
    app: &TestApp,
    events: &[Event],
    types: &[Option<&str>],
    positions: &[(i32, i64)],
    samples: usize,
) {
    app.wait_for_total(events.len() as u64, WAIT).await;
    app.wait_caught_up(WAIT).await;
    let expected = expected_counts(types);
    assert_eq!(app.stats().await, expected);
    let unclassified = types.iter().filter(|t| t.is_none()).count() as u64;
    assert_eq!(app.view.unclassified().len(), unclassified);
    assert_eq!(
        app.status.unclassified_counts().values().sum::<u64>(),
        unclassified
    );

    let by_position: HashMap<(i32, i64), usize> =
        positions.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let mut rng = rand::rng();
    for _ in 0..samples {
        let (event_type, len) = if rng.random_bool(0.5) {
            ("blood_pressure", expected["blood_pressure"])
        } else {
            ("heart_rate", expected["heart_rate"])
        };
        let index = rng.random_range(0..len);
        let fetched = app
            .event(&format!("/events/{event_type}?index={index}"))
            .await;
        let produced = by_position[&(fetched.partition, fetched.offset)];
        assert_eq!(types[produced], Some(event_type));
        assert_eq!(fetched.bytes, events[produced].value.clone().unwrap());
        assert_eq!(fetched.content_type, "application/json");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn single_partition_index_is_exact_topic_order_cached_and_from_kafka() {
    let brokers = broker();
    let topic = new_topic(&brokers, "mixed1", 1).await;
    let (events, types) = mixed_stream(12_000, 1);
    let positions = produce(&brokers, &topic, &events).await;

    let mut cached = settings(&brokers, &[&topic]);
    cached.routes.push(RouteSettings {
        path: "/blood_pressure".into(),
        event_type: "blood_pressure".into(),
    });
    let mut uncached = cached.clone();
    uncached.cache.max_bytes = 0;
    let (cached, uncached) = (spawn_app(&cached).await, spawn_app(&uncached).await);
    for app in [&cached, &uncached] {
        check_app(app, &events, &types, &positions, 200).await;
    }

    // One partition: the Nth event of a type is exactly the Nth produced of it.
    let nth_of = |event_type: &str, n: usize| {
        types
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == Some(event_type))
            .nth(n)
            .map(|(i, _)| i)
            .unwrap()
    };
    let mut rng = rand::rng();
    for app in [&cached, &uncached] {
        for _ in 0..50 {
            let n = rng.random_range(0..app.stats().await["heart_rate"] as usize);
            let fetched = app.event(&format!("/events/heart_rate?index={n}")).await;
            let produced = nth_of("heart_rate", n);
            assert_eq!(fetched.offset, positions[produced].1);
            assert_eq!(fetched.bytes, events[produced].value.clone().unwrap());
        }
        let first_bp = app.event("/blood_pressure?index=0").await;
        assert_eq!(first_bp.offset, positions[nth_of("blood_pressure", 0)].1);
        let len = app.stats().await["blood_pressure"];
        let message = app
            .error_message(&format!("/events/blood_pressure?index={len}"), 404)
            .await;
        assert!(
            message.contains(&format!("No message at index {len}!")),
            "{message}"
        );
        app.error_message("/events/blood_pressure?index=-1", 400)
            .await;
        app.error_message("/events/blood_pressure", 400).await;
        app.error_message("/events/never_seen?index=0", 404).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_partitions_index_every_event_once_in_partition_order() {
    let brokers = broker();
    let topic = new_topic(&brokers, "mixed3", 3).await;
    let (events, types) = mixed_stream(12_000, 3);
    let positions = produce(&brokers, &topic, &events).await;
    let app = spawn_app(&settings(&brokers, &[&topic])).await;
    check_app(&app, &events, &types, &positions, 200).await;

    // Exactly the produced positions of each type, each once, offsets rising
    // within each partition.
    for event_type in ["blood_pressure", "heart_rate"] {
        let index = app.view.type_index(event_type).unwrap();
        let mut last_offset: HashMap<i32, i64> = HashMap::new();
        let mut indexed: Vec<(i32, i64)> = (0..index.len())
            .map(|i| {
                let p = index.get(i).unwrap();
                let previous = last_offset.insert(p.partition, p.offset);
                assert!(
                    previous.is_none_or(|o| o < p.offset),
                    "order in partition {}",
                    p.partition
                );
                (p.partition, p.offset)
            })
            .collect();
        let mut produced: Vec<(i32, i64)> = positions
            .iter()
            .zip(&types)
            .filter(|(_, t)| **t == Some(event_type))
            .map(|(p, _)| *p)
            .collect();
        indexed.sort_unstable();
        produced.sort_unstable();
        assert_eq!(indexed, produced, "{event_type}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn header_classification_against_a_real_broker() {
    let brokers = broker();
    let topic = new_topic(&brokers, "headers", 1).await;
    let events: Vec<Event> = (0..500)
        .map(|i| {
            let event_type: &[u8] = if i % 5 == 0 { b"Invoice" } else { b"Order" };
            Event::raw(format!("payload {i}")).header("item_type_name", Some(event_type))
        })
        .chain([Event::raw(*b"no header")])
        .collect();
    produce(&brokers, &topic, &events).await;
    let mut config = settings(&brokers, &[&topic]);
    config.classify.by = ClassifyBy::Header;
    config.classify.name = "item_type_name".into();
    let app = spawn_app(&config).await;
    app.wait_for_total(events.len() as u64, WAIT).await;
    assert_eq!(
        app.stats().await,
        [("Invoice".into(), 100), ("Order".into(), 400)].into()
    );
    assert_eq!(app.status.unclassified_counts()["missing_header"], 1);
    let invoice = app.event("/events/Invoice?index=99").await;
    assert_eq!(invoice.bytes, b"payload 495");
    assert_eq!(invoice.content_type, "application/octet-stream");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_produced_after_catch_up_show_within_two_seconds() {
    let brokers = broker();
    let topic = new_topic(&brokers, "tail", 1).await;
    produce(&brokers, &topic, &[Event::json("A", 0)]).await;
    let app = spawn_app(&settings(&brokers, &[&topic])).await;
    app.wait_caught_up(WAIT).await;
    assert_eq!(app.stats().await["A"], 1);

    for round in 1..=3 {
        produce(
            &brokers,
            &topic,
            &[Event::json("A", round), Event::json("B", round)],
        )
        .await;
        let expected = [("A", round as u64 + 1), ("B", round as u64)];
        app.wait_for_stats(&expected, Duration::from_secs(2)).await;
    }
}
