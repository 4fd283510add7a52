//! The real application against librdkafka's in-process mock cluster: fast, and
//! exercises the same ingest, view, fetch and HTTP code as production.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use analyzer::config::{ClassifyBy, RouteSettings};
use common::{Event, mock_cluster, produce, settings, spawn_app};
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

const WAIT: Duration = Duration::from_secs(20);

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
    app.wait_for_total(5, WAIT).await;

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
    app.wait_for_total(events.len() as u64, WAIT).await;

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
async fn bad_requests_get_json_errors() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "events", &[Event::json("A", 0)]).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_for_total(1, WAIT).await;

    for query in [
        "",
        "?index=",
        "?index=abc",
        "?index=-1",
        "?index=1.5",
        "?index=1e3",
        "?index=18446744073709551616",
        "?index=0&index=1",
        "?idx=0",
    ] {
        let message = app.error_message(&format!("/events/A{query}"), 400).await;
        assert!(message.contains("index"), "{query}: {message}");
    }
    let message = app.error_message("/events/nope?index=0", 404).await;
    assert!(message.contains("nope"), "{message}");
    let message = app
        .error_message("/events/A?index=18446744073709551615", 404)
        .await;
    assert!(
        message.contains("No message at index 18446744073709551615!"),
        "{message}"
    );
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
        });
    }
    let app = spawn_app(&config).await;
    app.wait_for_total(2, WAIT).await;

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
    app.wait_for_total(events.len() as u64, WAIT).await;

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
    app.wait_for_total(10, WAIT).await;
    // Both topics have a partition 0: caught-up must still be decided per topic.
    app.wait_caught_up(WAIT).await;

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
    app.wait_for_total(300, WAIT).await;
    let cached = spawn_app(&settings(&brokers, &["events"])).await;
    cached.wait_for_total(300, WAIT).await;

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
async fn events_produced_after_catch_up_appear_quickly() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "events", &[Event::json("A", 0)]).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_caught_up(WAIT).await;
    assert_eq!(app.stats().await["A"], 1);

    produce(
        &brokers,
        "events",
        &[Event::json("A", 1), Event::json("B", 2)],
    )
    .await;
    // produce() returns once delivered: this bounds the produce-to-visible delay.
    app.wait_for_stats(&[("A", 2), ("B", 1)], Duration::from_secs(2))
        .await;
}

/// Starts an app with the payload cache off over `n` events of type A, caught up.
async fn uncached_app_over(
    cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    n: usize,
) -> common::TestApp {
    let brokers = cluster.bootstrap_servers();
    let events: Vec<Event> = (0..n).map(|i| Event::json("A", i)).collect();
    produce(&brokers, "events", &events).await;
    let mut config = settings(&brokers, &["events"]);
    config.cache.max_bytes = 0;
    let app = spawn_app(&config).await;
    app.wait_for_total(n as u64, WAIT).await;
    app.wait_caught_up(WAIT).await;
    app
}

#[tokio::test]
async fn cold_lookups_answer_503_while_the_broker_is_down_then_recover() {
    let cluster = mock_cluster("events", 1);
    let app = uncached_app_over(&cluster, 3).await;
    app.event("/events/A?index=1").await;

    cluster.broker_down(1).unwrap();
    let asked = Instant::now();
    let message = app.error_message("/events/A?index=1", 503).await;
    assert!(message.contains("Kafka"), "{message}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    // The index itself keeps serving.
    assert_eq!(app.stats().await["A"], 3);

    cluster.broker_up(1).unwrap();
    let recovering = Instant::now();
    while app.get("/events/A?index=1").await.status() != 200 {
        assert!(recovering.elapsed() < WAIT, "no recovery after broker_up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.stats().await["A"], 3);
}

#[tokio::test]
async fn events_kafka_no_longer_has_answer_410() {
    let cluster = mock_cluster("events", 1);
    let app = uncached_app_over(&cluster, 3).await;

    // What a broker answers for an offset below the log start (retention deleted it).
    // The ingest consumer may take some of these errors too: it must not re-index.
    let out_of_range = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE; 1000];
    cluster.request_errors(RDKafkaApiKey::Fetch, &out_of_range);
    let message = app.error_message("/events/A?index=0", 410).await;
    cluster.clear_request_errors(RDKafkaApiKey::Fetch);
    assert!(message.contains("no longer in Kafka"), "{message}");

    assert_eq!(app.event("/events/A?index=0").await.offset, 0);
    assert_eq!(app.stats().await, [("A".into(), 3)].into());
    assert_eq!(app.view.total(), 3);
}

#[tokio::test]
async fn hostile_requests_get_json_answers_and_never_a_server_error() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "events", &[Event::json("A", 0)]).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_for_total(1, WAIT).await;

    // Odd type names: percent-encoded slash, NUL, quotes, unicode, 8 KB.
    let long = "t".repeat(8192);
    for (path, named) in [
        ("/events/a%2Fb?index=0", "a/b"),
        ("/events/%00?index=0", "\u{0}"),
        ("/events/%22%27%3C%3E?index=0", "\"'<>"),
        ("/events/%E2%9C%93?index=0", "\u{2713}"),
        (&format!("/events/{long}?index=0") as &str, &long as &str),
    ] {
        let message = app.error_message(path, 404).await;
        assert!(message.contains(named), "{path}: {message}");
    }
    // Unknown paths, and methods the API does not serve.
    let message = app.error_message("/no/such/path", 404).await;
    assert!(message.contains("/no/such/path"), "{message}");
    for method in ["POST", "PUT", "DELETE", "PATCH", "HEAD"] {
        for path in ["/stats", "/events/A?index=0", "/health/live"] {
            let response = app
                .client
                .request(method.parse().unwrap(), format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 405, "{method} {path}");
            assert_eq!(response.headers()["allow"], "GET", "{method} {path}");
            assert_eq!(
                response.headers()["content-type"],
                "application/json",
                "{method} {path}"
            );
            if method != "HEAD" {
                let body: serde_json::Value = response.json().await.unwrap();
                assert!(body["message"].as_str().unwrap().contains(method));
            }
        }
    }
    // A body on a GET is ignored.
    let with_body = app
        .client
        .get(format!("{}/events/A?index=0", app.base))
        .body(r#"{"index": 5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(with_body.status(), 200);
}

#[tokio::test]
async fn a_bearer_token_guards_the_data_endpoints_and_nothing_else() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "events", &[Event::json("A", 0)]).await;
    let mut config = settings(&brokers, &["events"]);
    config.http.auth_token = Some("s3cret-token".into());
    config.routes.push(RouteSettings {
        path: "/a".into(),
        event_type: "A".into(),
    });
    let app = spawn_app(&config).await;
    app.wait_for_total(1, WAIT).await;
    let with = |path: &str, authorization: Option<&str>| {
        let mut request = app.client.get(format!("{}{path}", app.base));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };

    for path in ["/stats", "/status", "/events/A?index=0", "/a?index=0"] {
        for authorization in [
            None,
            Some("Bearer wrong"),
            Some("s3cret-token"),
            Some("Basic s3cret-token"),
        ] {
            let response = with(path, authorization).await.unwrap();
            assert_eq!(response.status(), 401, "{path} {authorization:?}");
            assert_eq!(
                response.headers()["www-authenticate"],
                r#"Bearer realm="analyzer""#
            );
            let body: serde_json::Value = response.json().await.unwrap();
            let message = body["message"].as_str().unwrap().to_lowercase();
            assert!(message.contains("bearer"), "{body}");
        }
        let response = with(path, Some("Bearer s3cret-token")).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    // Probes, scrapes and the API description stay open.
    for path in [
        "/health/live",
        "/health/ready",
        "/metrics",
        "/openapi.json",
        "/docs",
    ] {
        let response = with(path, None).await.unwrap();
        assert_ne!(response.status(), 401, "{path}");
    }

    let mut protected = config.clone();
    protected.http.protect_metrics = true;
    let app = spawn_app(&protected).await;
    let metrics = |authorization: Option<&'static str>| {
        let mut request = app.client.get(format!("{}/metrics", app.base));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };
    assert_eq!(metrics(None).await.unwrap().status(), 401);
    assert_eq!(
        metrics(Some("Bearer s3cret-token")).await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn cors_allows_the_configured_origins_only() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "events", &[Event::json("A", 0)]).await;
    let mut config = settings(&brokers, &["events"]);
    config.http.cors_origins = vec!["https://audit.example.com".into()];
    let app = spawn_app(&config).await;
    app.wait_for_total(1, WAIT).await;

    let response = app
        .client
        .get(format!("{}/events/A?index=0", app.base))
        .header("origin", "https://audit.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://audit.example.com"
    );
    let exposed = headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("x-kafka-offset"), "{exposed}");

    let preflight = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/events/A?index=0", app.base),
        )
        .header("origin", "https://audit.example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://audit.example.com"
    );

    let other = app
        .client
        .get(format!("{}/stats", app.base))
        .header("origin", "https://elsewhere.example.com")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // Without CORS configured, no CORS headers at all.
    let plain = spawn_app(&settings(&brokers, &["events"])).await;
    let response = plain
        .client
        .get(format!("{}/stats", plain.base))
        .header("origin", "https://audit.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
