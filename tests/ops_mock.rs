//! Probes, /status, /metrics and broker faults, against librdkafka's mock cluster:
//! the real application, with faults injected by the cluster (broker down and up,
//! request errors).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Event, counts, mixed, mock_cluster, produce, settings, spawn_app};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn probes_and_status_report_catch_up_and_the_index() {
    let cluster = mock_cluster("events", 2);
    let brokers = cluster.bootstrap_servers();
    let events = mixed(200, 2);
    let positions = produce(&brokers, "events", &events).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;

    let (status, live) = app.json("/health/live").await;
    assert_eq!((status, live), (200, serde_json::json!({"status": "ok"})));
    let ready = app.wait_ready(WAIT).await;
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["progress"], 1.0);
    app.wait_for_total(200, WAIT).await;
    // Statistics (high watermarks, broker states) arrive once a second.
    app.wait_statistics(WAIT).await;
    let (_, ready) = app.json("/health/ready").await;
    assert_eq!(
        (ready["indexed"].clone(), ready["target"].clone()),
        (200.into(), 200.into())
    );
    assert_eq!(ready["partitions"].as_array().unwrap().len(), 2);

    let (status, body) = app.json("/status").await;
    assert_eq!(status, 200);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(
        (body["ready"].clone(), body["caught_up"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(body["kafka"]["connection"], "up", "{}", body["kafka"]);
    for partition in body["partitions"].as_array().unwrap() {
        assert_eq!(partition["next_offset"], 100, "{partition}");
        assert_eq!(partition["high_watermark"], 100, "{partition}");
        assert_eq!(partition["lag"], 0, "{partition}");
        assert_eq!(partition["log_start_offset"], 0, "{partition}");
    }
    let expected = counts(&events);
    let a = &body["types"]["A"];
    assert_eq!(a["count"], expected["A"]);
    let a_bytes: usize = events
        .iter()
        .filter_map(|e| e.value.as_ref())
        .filter(|v| v.starts_with(br#"{"type":"A""#))
        .map(Vec::len)
        .sum();
    assert_eq!(a["bytes"], a_bytes);
    let first_a = app.event("/events/A?index=0").await;
    assert_eq!(a["first"]["offset"], first_a.offset);
    assert_eq!(a["first"]["partition"], first_a.partition);
    assert_eq!(a["first"]["timestamp_ms"], first_a.timestamp.unwrap());
    assert_eq!(body["unclassified"]["by_reason"]["invalid_json"], 20);
    assert_eq!(body["unclassified"]["count"], 20);
    // An unclassified event can be found by its position in /status.
    let first_bad = &body["unclassified"]["first"];
    let produced = positions
        .iter()
        .position(|p| {
            *p == (
                first_bad["partition"].as_i64().unwrap() as i32,
                first_bad["offset"].as_i64().unwrap(),
            )
        })
        .unwrap();
    assert_eq!(events[produced].value.as_deref(), Some(&b"not json"[..]));
    assert_eq!(body["cache"]["entries"], 200);
    let hits = |status: &Value| status["cache"]["hits"].as_u64().unwrap();
    let before = hits(&app.json("/status").await.1);
    app.event("/events/B?index=0").await;
    assert_eq!(hits(&app.json("/status").await.1), before + 1);
    assert_eq!(body["topic_resets"], 0);
}

/// Parses the exposition into `name{labels} -> value`, checking every line's shape.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    assert!(text.ends_with("# EOF\n"), "no EOF marker");
    for line in text.lines() {
        if line.starts_with('#') {
            let mut words = line.split(' ');
            let (hash, kind) = (words.next(), words.next());
            assert_eq!(hash, Some("#"), "{line}");
            assert!(
                matches!(kind, Some("HELP" | "TYPE" | "UNIT" | "EOF")),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            name.starts_with("analyzer_")
                && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "metric name {name:?}"
        );
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        assert!(samples.insert(series.to_owned(), value).is_none(), "{line}");
    }
    samples
}

#[tokio::test]
async fn metrics_agree_with_stats_and_use_route_templates() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    let events = mixed(100, 1);
    produce(&brokers, "events", &events).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_for_total(100, WAIT).await;
    app.wait_statistics(WAIT).await;
    app.event("/events/A?index=3").await;
    app.error_message("/events/nosuchtype-42?index=0", 404)
        .await;
    assert_eq!(app.get("/no/such/path").await.status(), 404);

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let samples = parse_exposition(&response.text().await.unwrap());
    let stats = app.stats().await;
    for (event_type, count) in &stats {
        let series = format!("analyzer_events_indexed_total{{type=\"{event_type}\"}}");
        assert_eq!(samples.get(&series), Some(&(*count as f64)), "{series}");
    }
    assert_eq!(
        samples["analyzer_events_unclassified_total{reason=\"invalid_json\"}"],
        10.0
    );
    assert_eq!(samples["analyzer_index_entries"], 100.0);
    assert!(samples["analyzer_index_bytes"] >= 16.0 * 100.0);
    assert_eq!(samples["analyzer_caught_up"], 1.0);
    assert_eq!(samples["analyzer_topic_resets_total"], 0.0);
    assert!(samples["analyzer_payload_cache_hits_total"] >= 1.0);
    assert!(samples.contains_key("analyzer_payload_cache_misses_total"));
    assert!(samples.contains_key("analyzer_partition_lag{topic=\"events\",partition=\"0\"}"));
    assert!(samples.contains_key("analyzer_kafka_fetch_seconds_count"));
    // Route labels are templates, never raw paths.
    assert_eq!(
        samples[r#"analyzer_http_requests_total{route="/events/{type}",method="GET",status="200"}"#],
        1.0
    );
    assert_eq!(
        samples[r#"analyzer_http_requests_total{route="/events/{type}",method="GET",status="404"}"#],
        1.0
    );
    assert!(samples.contains_key(
        r#"analyzer_http_requests_total{route="unmatched",method="GET",status="404"}"#
    ));
    assert!(
        samples.contains_key(
            r#"analyzer_http_request_duration_seconds_bucket{le="+Inf",route="/events/{type}"}"#
        ) || samples.keys().any(
            |k| k.starts_with("analyzer_http_request_duration_seconds_bucket")
                && k.contains(r#"route="/events/{type}""#)
        )
    );
    assert!(!samples.keys().any(|k| k.contains("nosuchtype-42")));
}

#[tokio::test]
async fn broker_down_mid_stream_then_back_indexes_every_event_once() {
    let cluster = mock_cluster("events", 3);
    let brokers = cluster.bootstrap_servers();
    let first = mixed(600, 3);
    produce(&brokers, "events", &first).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_for_total(600, WAIT).await;

    cluster.broker_down(1).unwrap();
    // The producer buffers until the broker is back.
    let second = mixed(900, 3);
    let producing = {
        let (brokers, second) = (brokers.clone(), second.clone());
        tokio::spawn(async move { produce(&brokers, "events", &second).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The view keeps serving what it has, cached payloads included.
    assert_eq!(app.stats().await, counts(&first));
    assert!(!app.event("/events/B?index=5").await.bytes.is_empty());
    assert_eq!(app.json("/health/live").await.0, 200);
    app.wait_status(WAIT, |status| status["kafka"]["connection"] == "down")
        .await;

    cluster.broker_up(1).unwrap();
    producing.await.unwrap();
    let all: Vec<Event> = first.iter().chain(&second).cloned().collect();
    app.wait_for_total(1500, WAIT).await;
    assert_eq!(app.stats().await, counts(&all));
    assert_eq!(app.view.unclassified().len(), 150);
}

#[tokio::test]
async fn fetch_errors_during_catch_up_lose_and_repeat_nothing() {
    let cluster = mock_cluster("events", 2);
    let brokers = cluster.bootstrap_servers();
    let events = mixed(3000, 2);
    produce(&brokers, "events", &events).await;
    // Retriable errors and dropped connections on Fetch while ingest reads.
    let errors: Vec<RDKafkaRespErr> = (0..12)
        .map(|i| match i % 3 {
            0 => RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            1 => RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT,
            _ => RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        })
        .collect();
    cluster.request_errors(RDKafkaApiKey::Fetch, &errors);
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_for_total(3000, WAIT).await;
    app.wait_ready(WAIT).await;
    assert_eq!(app.stats().await, counts(&events));
    assert_eq!(app.view.total(), 3000);
}

#[tokio::test]
async fn broker_absent_at_startup_then_caught_up_once_it_appears() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    let events = mixed(300, 1);
    produce(&brokers, "events", &events).await;
    cluster.broker_down(1).unwrap();

    let app = spawn_app(&settings(&brokers, &["events"])).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.json("/health/live").await.0, 200);
    let (status, ready) = app.json("/health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(ready["ready"], false);
    assert_eq!(app.stats().await, BTreeMap::new());

    cluster.broker_up(1).unwrap();
    app.wait_ready(WAIT).await;
    app.wait_for_total(300, WAIT).await;
    assert_eq!(app.stats().await, counts(&events));
}

#[tokio::test]
async fn a_topic_created_later_is_found_and_read_from_its_beginning() {
    let cluster = mock_cluster("early", 1);
    let brokers = cluster.bootstrap_servers();
    let early = mixed(100, 1);
    produce(&brokers, "early", &early).await;
    let mut config = settings(&brokers, &["early", "late"]);
    config.kafka.metadata_refresh_secs = 1;
    let app = spawn_app(&config).await;
    app.wait_for_total(100, WAIT).await;
    // Not ready while a configured topic is missing.
    assert_eq!(app.json("/health/ready").await.0, 503);

    cluster.create_topic("late", 2, 1).unwrap();
    let late = mixed(200, 2);
    produce(&brokers, "late", &late).await;
    let more_early = mixed(50, 1);
    produce(&brokers, "early", &more_early).await;
    app.wait_ready(WAIT).await;
    app.wait_for_total(350, WAIT).await;
    let all: Vec<Event> = early
        .iter()
        .chain(&late)
        .chain(&more_early)
        .cloned()
        .collect();
    assert_eq!(app.stats().await, counts(&all));
    assert_eq!(app.status.duplicates_skipped(), 0);
}

#[tokio::test]
async fn an_authorization_failure_stops_ingest_and_fails_liveness_only() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    let events = mixed(30, 1);
    produce(&brokers, "events", &events).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_ready(WAIT).await;
    app.wait_for_total(30, WAIT).await;

    // Credentials or ACLs that are wrong do not fix themselves: ingest stops and the
    // liveness probe fails, so Kubernetes restarts the container.
    let denied = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 20];
    cluster.request_errors(RDKafkaApiKey::Fetch, &denied);
    produce(&brokers, "events", &mixed(5, 1)).await;
    let start = std::time::Instant::now();
    let live = loop {
        let (status, body) = app.json("/health/live").await;
        if status == 503 {
            break body;
        }
        assert!(start.elapsed() < WAIT, "still live: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    cluster.clear_request_errors(RDKafkaApiKey::Fetch);
    assert_eq!(live["status"], "failed");
    assert!(
        live["message"].as_str().unwrap().contains("authoriz"),
        "{live}"
    );
    let status = app.json("/status").await.1;
    assert_eq!(status["ingest_running"], false);
    assert!(status["fatal_error"].is_string());
    // What was indexed is still served.
    assert_eq!(app.stats().await, counts(&events));
    assert_eq!(app.json("/health/ready").await.0, 200);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("\nanalyzer_ingest_running 0\n"),
        "{metrics}"
    );
}
