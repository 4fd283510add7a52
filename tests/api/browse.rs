//! Browsing: `/events/{type}/range` against per-index lookups, on tansu, with keys,
//! headers, JSON and binary values, cached and read from Kafka.

use crate::helpers::{Event, TANSU_WAIT, TestApp, broker, new_topic, produce, settings, spawn_app};
use analyzer::config::RouteSettings;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

/// Events of types A and B and some not JSON, with keys (some not UTF-8) and headers
/// (some null, some not UTF-8), over `partitions` partitions.
fn browsable(n: usize, partitions: i32) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let event = match i % 7 {
                6 => Event::raw(vec![0xff, 0xfe, i as u8]),
                k if k % 2 == 0 => Event::json("A", i),
                _ => Event::json("B", i),
            };
            let event = match i % 3 {
                0 => event.with_key(format!("key-{i}").as_bytes()),
                1 => event.with_key(&[0xc3, 0x28, i as u8]),
                _ => event,
            };
            let event = if i % 4 == 0 {
                event
                    .header("trace", Some(format!("t-{i}").as_bytes()))
                    .header("empty", None)
                    .header("raw", Some(&[0x80, 0x81]))
            } else {
                event
            };
            event.on(i as i32 % partitions)
        })
        .collect()
}

/// Every event of `event_type` listed by pages of `page`, each equal to what the
/// per-index lookup answers.
async fn check_ranges(app: &TestApp, event_type: &str, page: u64, produced: &[Event]) {
    let (_, first) = app
        .json(&format!("/events/{event_type}/range?limit=1"))
        .await;
    let total = first["total"].as_u64().unwrap();
    assert!(total > 0, "{event_type}");
    let mut seen = 0;
    for from in (0..total).step_by(page as usize) {
        let (status, body) = app
            .json(&format!(
                "/events/{event_type}/range?from={from}&limit={page}"
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["type"], event_type);
        assert_eq!(
            (body["from"].as_u64(), body["total"].as_u64()),
            (Some(from), Some(total))
        );
        for event in body["events"].as_array().unwrap() {
            let index = event["index"].as_u64().unwrap();
            assert_eq!(index, from + seen % page, "{event}");
            let single = app
                .event(&format!("/events/{event_type}?index={index}"))
                .await;
            assert_eq!(
                (event["partition"].as_i64(), event["offset"].as_i64()),
                (Some(i64::from(single.partition)), Some(single.offset))
            );
            // Read first, so the range may say tentative where the lookup after it
            // says settled, never the other way round.
            assert!(
                !event["settled"].as_bool().unwrap() || single.settled,
                "{event}"
            );
            assert_eq!(event["timestamp"].as_i64(), single.timestamp);
            let value = match (&event["value"], &event["value_base64"]) {
                (Value::Null, Value::String(b64)) => BASE64.decode(b64).unwrap(),
                (json, Value::Null) => {
                    let parsed: Value = serde_json::from_slice(&single.bytes).unwrap();
                    assert_eq!(*json, parsed);
                    single.bytes.clone()
                }
                other => panic!("value and value_base64: {other:?}"),
            };
            assert_eq!(value, single.bytes);
            // Key and headers as produced.
            let produced = produced
                .iter()
                .find(|e| e.value.as_deref() == Some(value.as_slice()))
                .expect("a produced event");
            let key = match (&event["key"], &event["key_base64"]) {
                (Value::String(text), Value::Null) => Some(text.as_bytes().to_vec()),
                (Value::Null, Value::String(b64)) => Some(BASE64.decode(b64).unwrap()),
                (Value::Null, Value::Null) => None,
                other => panic!("key and key_base64: {other:?}"),
            };
            assert_eq!(key, produced.key);
            let headers: Vec<(String, Option<Vec<u8>>)> = event["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    let value = match (&h["value"], &h["value_base64"]) {
                        (Value::String(text), Value::Null) => Some(text.as_bytes().to_vec()),
                        (Value::Null, Value::String(b64)) => Some(BASE64.decode(b64).unwrap()),
                        _ => None,
                    };
                    (h["name"].as_str().unwrap().to_owned(), value)
                })
                .collect();
            assert_eq!(headers, produced.headers);
            seen += 1;
        }
    }
    assert_eq!(seen, total, "{event_type}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_equal_per_index_lookups_cached_and_from_kafka() {
    let brokers = broker();
    for partitions in [1, 3] {
        let topic = new_topic(&brokers, "browse", partitions).await;
        let events = browsable(700, partitions);
        produce(&brokers, &topic, &events).await;
        for cache_bytes in [128 << 20, 0] {
            let mut config = settings(&brokers, &[&topic]);
            config.cache.max_bytes = cache_bytes;
            config.routes.push(RouteSettings {
                path: "/b".into(),
                event_type: "B".into(),
                stats_key: None,
            });
            let app = spawn_app(&config).await;
            app.wait_for_total(700, TANSU_WAIT).await;
            app.wait_caught_up(TANSU_WAIT).await;
            for event_type in ["A", "B", "unclassified"] {
                check_ranges(&app, event_type, 128, &events).await;
            }
            // The alias, the default limit, the end, and what a range refuses.
            let (_, alias) = app.json("/b/range").await;
            let (_, direct) = app.json("/events/B/range").await;
            assert_eq!(alias, direct);
            assert_eq!(alias["events"].as_array().unwrap().len(), 50);
            let total = alias["total"].as_u64().unwrap();
            let (status, past) = app.json(&format!("/events/B/range?from={total}")).await;
            assert_eq!((status, past["events"].as_array().unwrap().len()), (200, 0));
            for bad in ["limit=0", "limit=1001", "from=-1", "limit=x"] {
                let (status, body) = app.json(&format!("/events/B/range?{bad}")).await;
                assert_eq!(
                    (status, body["code"].as_str()),
                    (400, Some("invalid_query")),
                    "{bad}"
                );
            }
            let (status, body) = app.json("/events/nothing/range").await;
            assert_eq!((status, body["code"].as_str()), (404, Some("unknown_type")));
        }
    }
}
