//! Every compression codec, and partitions that cannot be read: never silent.
//! On tansu (./scripts/test.sh) and the mock cluster.

use std::time::{Duration, Instant};

use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use serde_json::Value;

use crate::helpers::{
    Event, MOCK_WAIT, TANSU_WAIT, TestApp, broker, mock_cluster, new_topic, produce, produce_with,
    settings, spawn_app,
};

const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_in_all_five_codecs_are_all_read_byte_exact() {
    let brokers = broker();
    let topic = new_topic(&brokers, "codecs", 1).await;
    let mut produced = Vec::new();
    // One producer per codec: its batches are compressed with it alone.
    for (c, codec) in CODECS.iter().enumerate() {
        let events: Vec<Event> = (0..40).map(|i| Event::json(codec, c * 100 + i)).collect();
        produce_with(&brokers, &topic, &events, &[("compression.type", codec)]).await;
        produced.extend(events.into_iter().map(|e| (codec, e.value.unwrap())));
    }
    let app = spawn_app(&settings(&brokers, &[&topic])).await;
    app.wait_ready(TANSU_WAIT).await;
    let (_, stats) = app.json("/stats").await;
    for codec in CODECS {
        assert_eq!(stats[codec], 40, "{codec}: {stats}");
    }
    let mut index = std::collections::BTreeMap::<&str, u64>::new();
    for (codec, value) in produced {
        let n = index.entry(codec).or_default();
        let response = app
            .get(&format!("/events/{codec}?index={n}&format=raw"))
            .await;
        assert_eq!(response.status(), 200, "{codec} #{n}");
        assert_eq!(response.bytes().await.unwrap(), value, "{codec} #{n}");
        *n += 1;
    }
}

/// Writes a gzip batch whose data is not gzip to `partition`, as a broker may
/// hold one (tansu stores batches as given).
fn write_corrupt_batch(brokers: &str, topic: &str, partition: i32) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/raw_batch.py");
    let output = std::process::Command::new("python3")
        .args([
            script,
            brokers,
            topic,
            &partition.to_string(),
            "1",
            "00112233",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "0",
        "{output:?}"
    );
}

fn partition(status: &Value, number: i64) -> &Value {
    status["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partition"] == number)
        .unwrap_or_else(|| panic!("no partition {number}: {status}"))
}

/// The scrape's sample for `series` (name and labels, exactly), as a number.
async fn sample(app: &TestApp, series: &str) -> Option<f64> {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

/// `analyzer_kafka_errors_total{reason}` counted at least one.
async fn assert_counted(app: &TestApp, reason: &str) {
    let series = format!("analyzer_kafka_errors_total{{reason=\"{reason}\"}}");
    let errors = sample(app, &series).await;
    assert!(errors.unwrap_or(0.0) >= 1.0, "{series}: {errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_batch_on_a_serving_pod_shows_its_partition_as_stalled() {
    let brokers = broker();
    let topic = new_topic(&brokers, "corrupt", 2).await;
    let first: Vec<Event> = (0..20)
        .map(|i| Event::json("A", i).on(i as i32 % 2))
        .collect();
    produce(&brokers, &topic, &first).await;
    let app = spawn_app(&settings(&brokers, &[&topic])).await;
    app.wait_ready(TANSU_WAIT).await;

    // Partition 0 now holds a batch nobody can read, then 10 good events; so
    // does partition 1, without the bad batch.
    write_corrupt_batch(&brokers, &topic, 0);
    let after: Vec<Event> = (0..20)
        .map(|i| Event::json("A", 100 + i).on(i as i32 % 2))
        .collect();
    produce(&brokers, &topic, &after).await;

    let status = app
        .wait_status(TANSU_WAIT, |s| {
            !partition(s, 0)["error"].is_null() && partition(s, 1)["next_offset"] == 20
        })
        .await;
    let stuck = partition(&status, 0);
    assert_eq!(stuck["error"]["code"], "BadCompression", "{status}");
    assert_eq!(stuck["error"]["reason"], "corrupt_batch", "{status}");
    assert!(
        stuck["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Decompression (codec 0x1)"),
        "{status}"
    );
    assert!(stuck["error"]["since"].as_str().unwrap().ends_with('Z'));
    assert_eq!(stuck["caught_up"], false, "{status}");
    assert_eq!(stuck["next_offset"], 10, "{status}");
    assert_eq!(status["caught_up"], false, "{status}");
    assert!(partition(&status, 1)["error"].is_null(), "{status}");
    // Partition 1 went on: 20 events of its own.
    assert_eq!(app.json("/stats").await.1["A"], 30);

    // Still ready (what it indexed is right), and it says what is stuck.
    let (code, ready) = app.json("/health/ready").await;
    assert_eq!(code, 200, "{ready}");
    let reason = ready["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("{topic}/0 cannot be read")),
        "{ready}"
    );

    let labels = format!("{{topic=\"{topic}\",partition=\"0\"}}");
    assert_eq!(
        sample(&app, &format!("analyzer_partition_stalled{labels}")).await,
        Some(1.0)
    );
    let other = format!("{{topic=\"{topic}\",partition=\"1\"}}");
    assert_eq!(
        sample(&app, &format!("analyzer_partition_stalled{other}")).await,
        Some(0.0)
    );
    assert_counted(&app, "corrupt_batch").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_that_cannot_read_a_partition_never_becomes_ready_and_says_why() {
    let brokers = broker();
    let topic = new_topic(&brokers, "corrupt-start", 1).await;
    produce(&brokers, &topic, &[Event::json("A", 0)]).await;
    write_corrupt_batch(&brokers, &topic, 0);
    produce(&brokers, &topic, &[Event::json("A", 1)]).await;
    let app = spawn_app(&settings(&brokers, &[&topic])).await;
    let start = Instant::now();
    let body = loop {
        let (code, body) = app.json("/health/ready").await;
        assert_eq!(code, 503, "{body}");
        if body["reason"].is_string() && body["partitions"][0]["error"].is_object() {
            break body;
        }
        assert!(start.elapsed() < TANSU_WAIT, "no reason given: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("{topic}/0 cannot be read: Decompression")),
        "{body}"
    );
    assert_eq!(
        body["partitions"][0]["error"]["reason"], "corrupt_batch",
        "{body}"
    );
    // It stays so: the batch is still there, retried.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.json("/health/ready").await.0, 503);
    assert_eq!(app.json("/stats").await.1["A"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_fetch_is_shown_and_reading_resumes_when_the_broker_allows_it() {
    let cluster = mock_cluster("acl", 1);
    let brokers = cluster.bootstrap_servers();
    let events: Vec<Event> = (0..10).map(|i| Event::json("A", i)).collect();
    produce(&brokers, "acl", &events).await;
    // The next Fetch requests are refused, as by an ACL that is then fixed.
    let refusals = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 3];
    cluster.request_errors(RDKafkaApiKey::Fetch, &refusals);
    let app = spawn_app(&settings(&brokers, &["acl"])).await;
    let status = app
        .wait_status(MOCK_WAIT, |s| {
            s["partitions"][0]["error"]["reason"] == "authorization"
        })
        .await;
    assert_eq!(
        status["partitions"][0]["error"]["code"], "TopicAuthorizationFailed",
        "{status}"
    );
    assert_eq!(status["partitions"][0]["caught_up"], false);
    assert_eq!(app.json("/health/ready").await.0, 503);
    // librdkafka retries; once the broker answers, it reads on and is ready.
    app.wait_ready(MOCK_WAIT).await;
    let status = app
        .wait_status(MOCK_WAIT, |s| s["partitions"][0]["error"].is_null())
        .await;
    assert_eq!(status["caught_up"], true, "{status}");
    assert_eq!(app.json("/stats").await.1["A"], 10);
    assert_counted(&app, "authorization").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_panel_shows_a_stalled_partition_and_why() {
    let brokers = broker();
    let topic = new_topic(&brokers, "corrupt-page", 2).await;
    produce(&brokers, &topic, &[Event::json("A", 0).on(1)]).await;
    write_corrupt_batch(&brokers, &topic, 0);
    let app = spawn_app(&settings(&brokers, &[&topic])).await;
    app.wait_status(TANSU_WAIT, |s| partition_error(s, 0).is_some())
        .await;

    let browser = crate::browser::browser().await;
    browser
        .client
        .goto(&format!("{}/", app.base))
        .await
        .unwrap();
    let problems = crate::browser::wait_for(&browser, "#problems").await;
    let text = problems.text().await.unwrap();
    browser.screenshot("page-stalled").await;
    assert!(
        text.contains(&format!("{topic}/0 cannot be read (corrupt_batch)")),
        "{text}"
    );
    assert!(text.contains("Decompression (codec 0x1)"), "{text}");
    let stalled = browser
        .client
        .find(fantoccini::Locator::Css("tr.stalled td"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(stalled, format!("{topic}/0"));
}

fn partition_error(status: &Value, number: i64) -> Option<&Value> {
    status["partitions"]
        .as_array()?
        .iter()
        .find(|p| p["partition"] == number)
        .map(|p| &p["error"])
        .filter(|e| e.is_object())
}
