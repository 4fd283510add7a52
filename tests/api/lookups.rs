//! Lookups: per-type order, unclassified events, aliases, classification rules,
//! cache and Kafka reads; on the mock cluster and on tansu.

use crate::helpers::{
    Event, MOCK_WAIT, TANSU_WAIT, TestApp, broker, mock_cluster, new_topic, produce, settings,
    spawn_app,
};
use analyzer::config::{ClassifyBy, RouteSettings};
use rand::Rng;
use std::collections::{BTreeMap, HashMap};

#[tokio::test]
async fn seed_topic_gives_per_type_indexes_in_topic_order() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    let events: Vec<Event> = ["A", "B", "A", "A", "B"]
        .iter()
        .enumerate()
        .map(|(i, t)| Event::json(t, i))
        .collect();
    produce(&brokers, "events", &events).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_for_total(5, MOCK_WAIT).await;

    let a2 = app.event("/events/A?index=2").await;
    assert_eq!((a2.partition, a2.offset), (0, 3));
    assert_eq!(a2.bytes, events[3].value.clone().unwrap());
    assert_eq!(a2.content_type, "application/json");
    assert_eq!(a2.topic, "events");
    assert!(a2.timestamp.is_some());
    let b1 = app.event("/events/B?index=1").await;
    assert_eq!((b1.partition, b1.offset), (0, 4));
    assert_eq!(b1.bytes, events[4].value.clone().unwrap());

    let stats = app.stats().await;
    assert_eq!(stats, [("A".into(), 3), ("B".into(), 2)].into());

    let message = app.error_message("/events/A?index=3", 404).await;
    assert!(
        message.contains("No message at index 3!") && message.contains('A'),
        "{message}"
    );
}

#[tokio::test]
async fn malformed_events_are_counted_and_kept_in_the_unclassified_index() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    let events = vec![
        Event::json("A", 0),
        Event::raw(*b"not json"),
        Event {
            value: None,
            ..Event::default()
        },
        Event::raw(*br#"{"type": 42}"#),
        Event::raw(*br#"{"kind": "A"}"#),
        Event::raw(*b"[1, 2]"),
        Event::raw(*b""),
        Event::raw(*b"\xff\xfe{"),
        Event::raw(*br#"{"type": ""}"#),
        Event::json("A", 9),
    ];
    produce(&brokers, "events", &events).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_for_total(events.len() as u64, MOCK_WAIT).await;

    assert_eq!(app.stats().await, [("A".into(), 2)].into());
    let reasons = app.status.unclassified_counts();
    for (reason, count) in [
        ("invalid_json", 1),
        ("tombstone", 1),
        ("not_a_string", 1),
        ("missing_field", 1),
        ("not_an_object", 1),
        ("empty_value", 1),
        ("invalid_utf8", 1),
        ("empty_type", 1),
    ] {
        assert_eq!(reasons[reason], count, "{reason}");
    }
    assert_eq!(reasons.values().sum::<u64>(), 8);

    // Every unclassified event can be fetched by position, in topic order.
    let not_json = app.event("/events/unclassified?index=0").await;
    assert_eq!(
        (not_json.offset, not_json.bytes.as_slice()),
        (1, &b"not json"[..])
    );
    assert_eq!(not_json.content_type, "application/octet-stream");
    let tombstone = app.event("/events/unclassified?index=1").await;
    assert_eq!((tombstone.offset, tombstone.bytes.len()), (2, 0));
    let last = app.event("/events/unclassified?index=7").await;
    assert_eq!(last.offset, 8);
    app.error_message("/events/unclassified?index=8", 404).await;
}

#[tokio::test]
async fn alias_route_serves_its_type_and_declares_it() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    let events = [
        Event::json("blood_pressure", 0),
        Event::json("heart_rate", 1),
    ];
    produce(&brokers, "events", &events).await;
    let mut config = settings(&brokers, &["events"]);
    for (path, event_type) in [
        ("/blood_pressure", "blood_pressure"),
        ("/temperature", "temperature"),
    ] {
        config.routes.push(RouteSettings {
            path: path.into(),
            event_type: event_type.into(),
            stats_key: None,
        });
    }
    let app = spawn_app(&config).await;
    app.wait_for_total(2, MOCK_WAIT).await;

    let via_alias = app.event("/blood_pressure?index=0").await;
    let via_events = app.event("/events/blood_pressure?index=0").await;
    assert_eq!(via_alias.bytes, events[0].value.clone().unwrap());
    assert_eq!(via_alias.bytes, via_events.bytes);
    // A declared type with no events yet shows with 0 and answers 404 per index.
    let stats = app.stats().await;
    assert_eq!(stats["temperature"], 0);
    assert_eq!(stats["blood_pressure"], 1);
    assert_eq!(stats["heart_rate"], 1);
    app.error_message("/temperature?index=0", 404).await;
    app.error_message("/temperature?index=x", 400).await;
}

#[tokio::test]
async fn header_classification_uses_the_named_header() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    let events = vec![
        Event::raw(*b"binary \x00 payload").header("item_type_name", Some(b"Order")),
        Event::raw(*br#"{"type":"ignored"}"#).header("item_type_name", Some(b"Invoice")),
        Event::raw(*b"x").header("other", Some(b"Order")),
        Event::raw(*b"x").header("item_type_name", None),
        Event::raw(*b"x").header("item_type_name", Some(b"\xc3\x28")),
        Event::raw(*b"x")
            .header("item_type_name", Some(b"Invoice"))
            .header("item_type_name", Some(b"Order")),
    ];
    produce(&brokers, "events", &events).await;
    let mut config = settings(&brokers, &["events"]);
    config.classify.by = ClassifyBy::Header;
    config.classify.name = "item_type_name".into();
    let app = spawn_app(&config).await;
    app.wait_for_total(events.len() as u64, MOCK_WAIT).await;

    assert_eq!(
        app.stats().await,
        [("Invoice".into(), 1), ("Order".into(), 2)].into()
    );
    let order = app.event("/events/Order?index=0").await;
    assert_eq!(order.bytes, b"binary \x00 payload");
    assert_eq!(order.content_type, "application/octet-stream");
    assert_eq!(app.event("/events/Order?index=1").await.offset, 5);
    let reasons = app.status.unclassified_counts();
    assert_eq!(
        (
            reasons["missing_header"],
            reasons["null_header"],
            reasons["invalid_utf8"]
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn topic_classification_and_several_topics() {
    let cluster = mock_cluster("blood_pressure", 2);
    cluster.create_topic("heart_rate", 1, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let bp: Vec<Event> = (0..6)
        .map(|i| Event::raw(format!("bp{i}")).on(i % 2))
        .collect();
    let hr: Vec<Event> = (0..4).map(|i| Event::raw(format!("hr{i}"))).collect();
    produce(&brokers, "blood_pressure", &bp).await;
    produce(&brokers, "heart_rate", &hr).await;
    let mut config = settings(&brokers, &["blood_pressure", "heart_rate"]);
    config.classify.by = ClassifyBy::Topic;
    let app = spawn_app(&config).await;
    app.wait_for_total(10, MOCK_WAIT).await;
    // Both topics have a partition 0: caught-up must still be decided per topic.
    app.wait_caught_up(MOCK_WAIT).await;

    assert_eq!(
        app.stats().await,
        [("blood_pressure".into(), 6), ("heart_rate".into(), 4)].into()
    );
    let hr3 = app.event("/events/heart_rate?index=3").await;
    assert_eq!(
        (hr3.topic.as_str(), hr3.bytes.as_slice()),
        ("heart_rate", &b"hr3"[..])
    );
}

#[tokio::test]
async fn lookups_read_from_kafka_when_the_cache_is_off() {
    let cluster = mock_cluster("events", 3);
    let brokers = cluster.bootstrap_servers();
    let events: Vec<Event> = (0..300)
        .map(|i| Event::json(if i % 3 == 0 { "A" } else { "B" }, i).on((i % 3) as i32))
        .collect();
    let positions = produce(&brokers, "events", &events).await;
    let mut config = settings(&brokers, &["events"]);
    config.cache.max_bytes = 0;
    let app = spawn_app(&config).await;
    app.wait_for_total(300, MOCK_WAIT).await;
    let cached = spawn_app(&settings(&brokers, &["events"])).await;
    cached.wait_for_total(300, MOCK_WAIT).await;

    for (event_type, len) in [("A", 100), ("B", 200)] {
        for index in [0, len / 2, len - 1] {
            let path = format!("/events/{event_type}?index={index}");
            let fetched = app.event(&path).await;
            let produced = positions
                .iter()
                .position(|p| *p == (fetched.partition, fetched.offset))
                .expect("a produced position");
            assert_eq!(fetched.bytes, events[produced].value.clone().unwrap());
            // The timestamp comes with the message, read from Kafka or the cache.
            assert!(fetched.timestamp.is_some());
            assert_eq!(fetched.timestamp, cached.event(&path).await.timestamp);
        }
    }
}

#[tokio::test]
async fn events_produced_after_catch_up_are_indexed() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "events", &[Event::json("A", 0)]).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_caught_up(MOCK_WAIT).await;
    assert_eq!(app.stats().await["A"], 1);

    produce(
        &brokers,
        "events",
        &[Event::json("A", 1), Event::json("B", 2)],
    )
    .await;
    // How soon is a benchmark row (benches/e2e.rs, "produce-to-visible").
    app.wait_for_stats(&[("A", 2), ("B", 1)], MOCK_WAIT).await;
}

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
    app.wait_for_total(events.len() as u64, TANSU_WAIT).await;
    app.wait_caught_up(TANSU_WAIT).await;
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
        stats_key: None,
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
                let p = index.get(i).unwrap().position;
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
    app.wait_for_total(events.len() as u64, TANSU_WAIT).await;
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
async fn events_produced_after_catch_up_are_indexed_on_tansu() {
    let brokers = broker();
    let topic = new_topic(&brokers, "tail", 1).await;
    produce(&brokers, &topic, &[Event::json("A", 0)]).await;
    let app = spawn_app(&settings(&brokers, &[&topic])).await;
    app.wait_caught_up(TANSU_WAIT).await;
    assert_eq!(app.stats().await["A"], 1);

    for round in 1..=3 {
        produce(
            &brokers,
            &topic,
            &[Event::json("A", round), Event::json("B", round)],
        )
        .await;
        let expected = [("A", round as u64 + 1), ("B", round as u64)];
        app.wait_for_stats(&expected, TANSU_WAIT).await;
    }
}
