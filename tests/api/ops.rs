//! Operations: probes, /status and /metrics.

use crate::helpers::{MOCK_WAIT, counts, mixed, mock_cluster, produce, settings, spawn_app};
use serde_json::Value;
use std::collections::BTreeMap;

#[tokio::test]
async fn probes_and_status_report_catch_up_and_the_index() {
    let cluster = mock_cluster("events", 2);
    let brokers = cluster.bootstrap_servers();
    let events = mixed(200, 2);
    let positions = produce(&brokers, "events", &events).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;

    let (status, live) = app.json("/health/live").await;
    assert_eq!((status, live), (200, serde_json::json!({"status": "ok"})));
    let ready = app.wait_ready(MOCK_WAIT).await;
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["progress"], 1.0);
    app.wait_for_total(200, MOCK_WAIT).await;
    // Statistics (high watermarks, broker states) arrive once a second.
    app.wait_statistics(MOCK_WAIT).await;
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
    // A#0 has the lowest clock: one producer's timestamps only grow, so it is the
    // event's own timestamp.
    assert_eq!(a["first"]["clock_ms"], first_a.timestamp.unwrap());
    // Settled plus tentative is every event; the order section sums the tentative.
    let tentative: u64 = body["types"]
        .as_object()
        .unwrap()
        .values()
        .chain([&body["unclassified"]])
        .map(|t| {
            let (count, settled) = (t["count"].as_u64().unwrap(), t["settled"].as_u64().unwrap());
            assert!(settled <= count, "{t}");
            count - settled
        })
        .sum();
    assert_eq!(body["order"]["tentative"], tentative);
    assert_eq!(body["order"]["late_events"], 0);
    assert!(
        body["order"]["watermark_ms"].as_u64().unwrap() > 0,
        "{}",
        body["order"]
    );
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
    app.wait_for_total(100, MOCK_WAIT).await;
    app.wait_statistics(MOCK_WAIT).await;
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
    let text = response.text().await.unwrap();
    promtool_accepts(&text);
    let samples = parse_exposition(&text);
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
    // Allocated, not used: at least a byte an entry (what an entry costs once
    // packed, a few bytes, is measured in benches/index_memory.rs).
    assert!(samples["analyzer_index_bytes"] >= 100.0);
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

/// Prometheus's own linter (`promtool check metrics`, Debian's prometheus package,
/// installed by ./scripts/test.sh) finds nothing in the scrape: base units, HELP
/// on every family, counter names.
fn promtool_accepts(exposition: &str) {
    use std::io::Write as _;
    // promtool reads the Prometheus text format: OpenMetrics names a counter's
    // family without `_total` in HELP and TYPE, and ends with `# EOF`.
    let mut counters = std::collections::HashSet::new();
    let text: String = exposition
        .lines()
        .filter(|line| *line != "# EOF")
        .map(|line| {
            let mut parts = line.splitn(4, ' ');
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("#"), Some("TYPE"), Some(name), Some("counter")) => {
                    counters.insert(name.to_owned());
                    format!("# TYPE {name}_total counter\n")
                }
                (Some("#"), Some(kind @ ("HELP" | "UNIT")), Some(name), rest)
                    if exposition.contains(&format!("# TYPE {name} counter")) =>
                {
                    format!("# {kind} {name}_total {}\n", rest.unwrap_or_default())
                }
                _ => format!("{line}\n"),
            }
        })
        .collect();
    let exposition = text.as_str();
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (./scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
