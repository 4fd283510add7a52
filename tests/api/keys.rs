//! The key index: one entity's history across types, from `/keys/{key}`,
//! `/keys/{key}/events` and `/events/{type}?key=`, equal to sorting the produced
//! events of that key by the rule; keys as hostile as a producer can make them.

use std::collections::BTreeMap;

use analyzer::config::KeysBy;

use crate::helpers::{
    Event, MOCK_WAIT, TANSU_WAIT, broker, mock_cluster, new_topic, produce, settings, spawn_app,
};

/// Every byte but unreserved ones percent-encoded: how a client names a key.
fn encoded(key: &[u8]) -> String {
    key.iter()
        .map(|&b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A produced event as the key index must list it.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    event_type: String,
    partition: i64,
    offset: i64,
    tombstone: bool,
}

/// The keys' histories by the rule: (clock, partition, offset), the clock being
/// the running maximum of each partition's timestamps.
fn histories(
    events: &[Event],
    produced: &[(i32, i64)],
    key_of: impl Fn(&Event) -> Option<Vec<u8>>,
) -> BTreeMap<Vec<u8>, Vec<Expected>> {
    let mut clocks: BTreeMap<i32, i64> = BTreeMap::new();
    let mut placed: Vec<(i64, i32, i64, Vec<u8>, Expected)> = Vec::new();
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| produced[i]);
    for i in order {
        let (partition, offset) = produced[i];
        let event = &events[i];
        let clock = clocks.entry(partition).or_insert(0);
        *clock = (*clock).max(event.timestamp.unwrap_or(0));
        let Some(key) = key_of(event) else { continue };
        let event_type = event
            .value
            .as_deref()
            .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
            .and_then(|v| v["type"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "unclassified".to_owned());
        let expected = Expected {
            event_type,
            partition: i64::from(partition),
            offset,
            tombstone: event.value.is_none(),
        };
        placed.push((*clock, partition, offset, key, expected));
    }
    placed.sort_by_key(|p| (p.0, p.1, p.2));
    let mut by_key: BTreeMap<Vec<u8>, Vec<Expected>> = BTreeMap::new();
    for (_, _, _, key, expected) in placed {
        by_key.entry(key).or_default().push(expected);
    }
    by_key
}

/// Every event of `key` as `/keys/{key}/events` lists them, a page of `limit` at a time.
async fn listed(app: &crate::helpers::TestApp, key: &[u8], limit: usize) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    loop {
        let (status, page) = app
            .json(&format!(
                "/keys/{}/events?from={}&limit={limit}",
                encoded(key),
                all.len()
            ))
            .await;
        assert_eq!(status, 200, "{page}");
        let events = page["events"].as_array().unwrap().clone();
        if events.is_empty() {
            assert_eq!(page["total"], all.len() as u64, "{page}");
            return all;
        }
        all.extend(events);
    }
}

#[tokio::test]
async fn a_keys_history_is_its_events_across_types_in_the_numberings_order() {
    let cluster = mock_cluster("keyed", 3);
    let brokers = cluster.bootstrap_servers();
    let t0: i64 = 1_795_435_200_000;
    // Keys as hostile as Kafka allows: a slash, a percent, quotes and markup,
    // bytes that are not UTF-8, the empty key; events without a key; a tombstone.
    let keys: [&[u8]; 6] = [
        b"p-0017",
        b"order/123",
        b"50% <b>\"x\"</b>",
        b"\xff\xfe\x00",
        b"",
        "patient-\u{1F600}".as_bytes(),
    ];
    let mut events = Vec::new();
    for i in 0..240usize {
        let event_type = ["blood_pressure", "heart_rate", "admission"][i % 3];
        let mut event = Event::json(event_type, i)
            .on((i % 3) as i32)
            .at_time(t0 + (i as i64 * 7_919 % 500) * 1_000);
        if i % 11 != 0 {
            event = event.with_key(keys[i % keys.len()]);
        }
        events.push(event);
    }
    // A tombstone, and a value that is not JSON, for the first key.
    events.push(
        Event {
            value: None,
            ..Event::default()
        }
        .with_key(keys[0])
        .on(1)
        .at_time(t0 + 600_000),
    );
    events.push(
        Event::raw(*b"not json")
            .with_key(keys[0])
            .on(2)
            .at_time(t0 + 600_000),
    );
    let produced = produce(&brokers, "keyed", &events).await;
    let mut settings = settings(&brokers, &["keyed"]);
    settings.keys.by = KeysBy::KafkaKey;
    let app = spawn_app(&settings).await;
    app.wait_for_total(events.len() as u64, MOCK_WAIT).await;
    let expected = histories(&events, &produced, |e| e.key.clone());
    assert_eq!(expected.len(), keys.len());

    for (key, history) in &expected {
        if key.is_empty() {
            // The empty key cannot be a path segment; `?key=` reaches its events.
            let first = &history[0];
            let keyed = app
                .event(&format!("/events/{}?key=&index=0", first.event_type))
                .await;
            assert_eq!(
                (keyed.partition as i64, keyed.offset),
                (first.partition, first.offset)
            );
            continue;
        }
        // The summary: counts per type, first and last.
        let (status, summary) = app.json(&format!("/keys/{}", encoded(key))).await;
        assert_eq!(status, 200, "{summary}");
        assert_eq!(summary["total"], history.len() as u64, "{summary}");
        let mut per_type: BTreeMap<String, u64> = BTreeMap::new();
        for e in history {
            *per_type.entry(e.event_type.clone()).or_default() += 1;
        }
        assert_eq!(summary["types"], serde_json::to_value(&per_type).unwrap());
        for (end, e) in [
            ("first", &history[0]),
            ("last", &history[history.len() - 1]),
        ] {
            assert_eq!(
                (
                    &summary[end]["type"],
                    &summary[end]["partition"],
                    &summary[end]["offset"]
                ),
                (
                    &serde_json::json!(e.event_type),
                    &serde_json::json!(e.partition),
                    &serde_json::json!(e.offset)
                ),
                "{end}: {summary}"
            );
        }
        match std::str::from_utf8(key) {
            Ok(text) => assert_eq!(summary["key"], text),
            Err(_) => assert!(summary["key_base64"].is_string(), "{summary}"),
        }

        // The history, paged: the rule's order, each with its type's index.
        let all = listed(&app, key, 7).await;
        let got: Vec<Expected> = all
            .iter()
            .map(|e| Expected {
                event_type: e["type"].as_str().unwrap().to_owned(),
                partition: e["partition"].as_i64().unwrap(),
                offset: e["offset"].as_i64().unwrap(),
                tombstone: e["tombstone"] == true,
            })
            .collect();
        assert_eq!(&got, history, "key {key:?}");
        for (n, item) in all.iter().enumerate() {
            // Its index is its type's: the same event at /events/{type}?index=.
            let (event_type, index) = (
                item["type"].as_str().unwrap(),
                item["index"].as_u64().unwrap(),
            );
            let by_type = app
                .event(&format!("/events/{event_type}?index={index}&format=raw"))
                .await;
            assert_eq!(
                (by_type.partition as i64, by_type.offset),
                (
                    item["partition"].as_i64().unwrap(),
                    item["offset"].as_i64().unwrap()
                )
            );
            if item["tombstone"] == true {
                assert!(
                    item.get("value").is_none() && item.get("value_base64").is_none(),
                    "{item}"
                );
            }
            // The Nth of its type with this key, by index and by time.
            let nth = all[..n].iter().filter(|e| e["type"] == event_type).count();
            let keyed = app
                .event(&format!(
                    "/events/{event_type}?key={}&index={nth}",
                    encoded(key)
                ))
                .await;
            assert_eq!(
                (keyed.offset, keyed.index),
                (item["offset"].as_i64().unwrap(), index),
                "{item}"
            );
        }
    }

    // The first key's value that is not JSON is in its history, as unclassified.
    let first = &expected[keys[0]];
    assert!(
        first
            .iter()
            .any(|e| e.tombstone && e.event_type == "unclassified")
    );
    assert_eq!(
        first
            .iter()
            .filter(|e| e.event_type == "unclassified")
            .count(),
        2
    );

    // A time seek within a key: the first of the type with the key at or after it.
    let (_, summary) = app.json("/keys/p-0017").await;
    let last_clock = summary["last"]["clock_ms"].as_u64().unwrap();
    let response = app
        .get(&format!(
            "/events/blood_pressure?key=p-0017&time={}",
            last_clock + 1
        ))
        .await;
    assert_eq!(response.status(), 404);

    // What is refused, with its code.
    for (path, status, code) in [
        ("/keys/nobody", 404, "no_such_key"),
        ("/keys/nobody/events", 404, "no_such_key"),
        ("/keys/p-0017/events?limit=0", 400, "invalid_query"),
        ("/keys/p-0017/events?limit=1001", 400, "invalid_query"),
        ("/keys/%FG", 400, "invalid_query"),
        ("/events/blood_pressure?key=p-0017", 400, "invalid_query"),
        (
            "/events/blood_pressure?key=nobody&index=0",
            404,
            "no_such_key",
        ),
        (
            "/events/blood_pressure?key=p-0017&index=9999",
            404,
            "no_such_index",
        ),
        ("/events/nosuchtype?key=p-0017&index=0", 404, "unknown_type"),
    ] {
        let (got, body) = app.json(path).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }

    // What /status and the scrape report.
    let (_, status) = app.json("/status").await;
    let keyed = events.iter().filter(|e| e.key.is_some()).count() as u64;
    assert_eq!(status["keys"]["keys"], keys.len() as u64, "{status}");
    assert_eq!(status["keys"]["events"], keyed, "{status}");
    assert_eq!(status["keys"]["left_out"], 0, "{status}");
    let scrape = app.get("/metrics").await.text().await.unwrap();
    assert!(
        scrape.contains(&format!("analyzer_keys {}", keys.len())),
        "{scrape}"
    );
    assert!(
        scrape.contains("analyzer_keys_left_out_total 0"),
        "{scrape}"
    );
}

#[tokio::test]
async fn keys_past_the_cap_are_counted_and_the_index_off_says_so() {
    let cluster = mock_cluster("capped", 1);
    let brokers = cluster.bootstrap_servers();
    let events: Vec<Event> = (0..50)
        .map(|i| Event::json("A", i).with_key(format!("k{}", i % 10).as_bytes()))
        .collect();
    produce(&brokers, "capped", &events).await;
    let mut capped = settings(&brokers, &["capped"]);
    capped.keys.by = KeysBy::KafkaKey;
    capped.keys.max_keys = 4;
    let app = spawn_app(&capped).await;
    app.wait_for_total(50, MOCK_WAIT).await;
    let (_, status) = app.json("/status").await;
    // k0..k3 are in; the 6 other keys' 5 events each are left out, never their type.
    assert_eq!(status["keys"]["keys"], 4, "{status}");
    assert_eq!(status["keys"]["left_out"], 30, "{status}");
    assert_eq!(app.stats().await["A"], 50);
    let scrape = app.get("/metrics").await.text().await.unwrap();
    assert!(
        scrape.contains("analyzer_keys_left_out_total 30"),
        "{scrape}"
    );
    assert_eq!(app.json("/keys/k9").await.1["code"], "no_such_key");

    let off = spawn_app(&settings(&brokers, &["capped"])).await;
    off.wait_for_total(50, MOCK_WAIT).await;
    for path in [
        "/keys/k0",
        "/keys/k0/events",
        "/keys/k0/stream",
        "/events/A?key=k0&index=0",
    ] {
        let (status, body) = off.json(path).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("key_index_off")),
            "{path}"
        );
    }
    assert!(off.json("/status").await.1.get("keys").is_none());
}

#[tokio::test]
async fn a_json_field_or_header_names_the_entity_on_tansu() {
    let brokers = broker();
    let topic = new_topic(&brokers, "keys-field", 2).await;
    let t0: i64 = 1_795_435_200_000;
    let events: Vec<Event> = (0..120usize)
        .map(|i| {
            let patient = format!("p-{:04}", i % 7);
            let value = match i % 10 {
                // No key there: not in the key index, still in its type.
                9 => r#"{"type":"visit","patient":{}}"#.to_owned(),
                _ => format!(
                    r#"{{"type":"{}","patient":{{"id":"{patient}"}},"seq":{i}}}"#,
                    ["visit", "lab"][i % 2]
                ),
            };
            Event::raw(value.into_bytes())
                .on((i % 2) as i32)
                .at_time(t0 + (i as i64 % 13) * 1_000)
                .header("patient", Some(patient.as_bytes()))
        })
        .collect();
    let produced = produce(&brokers, &topic, &events).await;
    let key_in_value = |e: &Event| -> Option<Vec<u8>> {
        let value: serde_json::Value = serde_json::from_slice(e.value.as_deref()?).ok()?;
        value["patient"]["id"]
            .as_str()
            .map(|s| s.as_bytes().to_vec())
    };
    let key_in_header = |e: &Event| e.headers[0].1.clone();
    for (by, name, key_of) in [
        (
            KeysBy::JsonField,
            "/patient/id",
            &key_in_value as &dyn Fn(&Event) -> Option<Vec<u8>>,
        ),
        (KeysBy::Header, "patient", &key_in_header),
    ] {
        let mut settings = settings(&brokers, &[&topic]);
        settings.keys.by = by;
        settings.keys.name = name.to_owned();
        let app = spawn_app(&settings).await;
        app.wait_for_total(events.len() as u64, TANSU_WAIT).await;
        let expected = histories(&events, &produced, key_of);
        assert_eq!(expected.len(), 7, "{by:?}");
        for (key, history) in &expected {
            let got: Vec<(i64, i64)> = listed(&app, key, 1000)
                .await
                .iter()
                .map(|e| {
                    (
                        e["partition"].as_i64().unwrap(),
                        e["offset"].as_i64().unwrap(),
                    )
                })
                .collect();
            let want: Vec<(i64, i64)> = history.iter().map(|e| (e.partition, e.offset)).collect();
            assert_eq!(got, want, "{by:?} {key:?}");
        }
        if by == KeysBy::Header {
            // Live on tansu: a key's tail sends what is produced for it next.
            let url = format!("{}/keys/p-0003/stream", app.base);
            let mut tail = app.client.get(url).send().await.unwrap();
            assert_eq!(tail.status(), 200);
            let more: Vec<Event> = (0..3)
                .map(|i| {
                    let value = format!(r#"{{"type":"lab","seq":{}}}"#, 1_000 + i);
                    Event::raw(value.into_bytes())
                        .on(i % 2)
                        .header("patient", Some(b"p-0003"))
                })
                .collect();
            produce(&brokers, &topic, &more).await;
            let mut text = String::new();
            let deadline = std::time::Instant::now() + TANSU_WAIT;
            while text.matches("\nid: ").count() < 3 {
                let left = deadline
                    .checked_duration_since(std::time::Instant::now())
                    .unwrap_or_else(|| panic!("not 3 events live: {text}"));
                let chunk = tokio::time::timeout(left, tail.chunk()).await;
                let chunk = chunk.ok().and_then(|c| c.ok()).flatten();
                let chunk = chunk.unwrap_or_else(|| panic!("the tail ended: {text}"));
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
            assert_eq!(text.matches(r#""seq":100"#).count(), 3, "{text}");
        }
    }
}

/// Every key's history as `/keys/{key}/events` lists it: (type, index, partition, offset).
async fn all_histories(
    app: &crate::helpers::TestApp,
    keys: &[Vec<u8>],
) -> BTreeMap<Vec<u8>, Vec<(String, u64, i64, i64)>> {
    let mut all = BTreeMap::new();
    for key in keys {
        let events = listed(app, key, 1000).await;
        let history = events
            .iter()
            .map(|e| {
                (
                    e["type"].as_str().unwrap().to_owned(),
                    e["index"].as_u64().unwrap(),
                    e["partition"].as_i64().unwrap(),
                    e["offset"].as_i64().unwrap(),
                )
            })
            .collect();
        all.insert(key.clone(), history);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_restored_from_a_snapshot_answers_the_same_histories() {
    use crate::snapshots::{copy_dir, scratch};
    let brokers = broker();
    let topic = new_topic(&brokers, "keys-snap", 3).await;
    let keyed = |from: usize, n: usize| -> Vec<Event> {
        (from..from + n)
            .map(|i| {
                let key = format!("order-{}", i % 40);
                Event::json(["created", "paid", "shipped"][i % 3], i)
                    .with_key(key.as_bytes())
                    .on((i % 3) as i32)
            })
            .collect()
    };
    produce(&brokers, &topic, &keyed(0, 1_200)).await;
    let dir = scratch("keys-first");
    let with = |dir: &std::path::Path, by: KeysBy, name: &str| {
        let mut settings = settings(&brokers, &[&topic]);
        settings.snapshot.dir = Some(dir.to_owned());
        settings.snapshot.interval_secs = 1;
        settings.keys.by = by;
        settings.keys.name = name.to_owned();
        settings
    };
    let first = spawn_app(&with(&dir, KeysBy::KafkaKey, "")).await;
    first.wait_for_total(1_200, TANSU_WAIT).await;
    first
        .wait_status(TANSU_WAIT, |s| s["snapshot"]["last_events"] == 1_200)
        .await;
    let copy = scratch("keys-copy");
    copy_dir(&dir, &copy);
    // More after the snapshot: the replica reads only these, and adds them to the
    // histories it restored.
    produce(&brokers, &topic, &keyed(1_200, 300)).await;
    first.wait_for_total(1_500, TANSU_WAIT).await;
    let keys: Vec<Vec<u8>> = (0..40).map(|k| format!("order-{k}").into_bytes()).collect();

    let replica = spawn_app(&with(&copy, KeysBy::KafkaKey, "")).await;
    replica.wait_for_total(1_500, TANSU_WAIT).await;
    let status = replica
        .wait_status(TANSU_WAIT, |s| s["events_read"] == 300)
        .await;
    assert_eq!(status["snapshot"]["restored_events"], 1_200, "{status}");
    assert_eq!(status["keys"]["events"], 1_500, "{status}");
    assert_eq!(
        all_histories(&replica, &keys).await,
        all_histories(&first, &keys).await
    );

    // Keys found another way are another index: the snapshot is not used for them.
    let copy = scratch("keys-other-rule");
    copy_dir(&dir, &copy);
    let other = spawn_app(&with(&copy, KeysBy::Header, "entity")).await;
    other.wait_for_total(1_500, TANSU_WAIT).await;
    let status = other.json("/status").await.1;
    let why = status["snapshot"]["restore_error"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("key index was made by kafka_key"), "{status}");
    assert_eq!(
        status["keys"]["events"], 0,
        "no event has the header: {status}"
    );
}
