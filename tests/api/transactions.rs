//! Transactions, read `read_committed`: aborted records are never indexed, control
//! records (commit and abort markers) are neither numbered nor counted as
//! unclassified and leave no lag, and every index follows the numbering rule.
//!
//! tansu 0.6 writes markers but serves aborted records to read_committed
//! consumers; librdkafka's mock cluster accepted EndTxn and wrote nothing. The
//! vendored mock now writes the markers and lists aborted transactions in Fetch
//! answers, as a broker does (vendor/rdkafka-sys/ANALYZER-PATCH.md), so aborts are
//! tested there and commits on tansu too.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;

use crate::helpers::{
    Event, MOCK_WAIT, TANSU_WAIT, TestApp, broker, mock_cluster, new_topic, produce, settings,
    spawn_app,
};

const T0: i64 = 1_767_225_600_000;

/// Writes `(partition, type, timestamp)` events in one transaction, committed or
/// aborted.
fn transaction(producer: &BaseProducer, topic: &str, events: &[(i32, &str, i64)], commit: bool) {
    producer.begin_transaction().unwrap();
    for (i, (partition, event_type, at)) in events.iter().enumerate() {
        let value = format!(r#"{{"type":"{event_type}","n":{i},"committed":{commit}}}"#);
        let record = BaseRecord::<(), _>::to(topic)
            .partition(*partition)
            .payload(&value)
            .timestamp(*at);
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    if commit {
        producer
            .commit_transaction(Duration::from_secs(10))
            .unwrap();
    } else {
        producer.abort_transaction(Duration::from_secs(10)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_tansu_commit_markers_are_neither_numbered_nor_unclassified_and_leave_no_lag() {
    let brokers = broker();
    let topic = new_topic(&brokers, "tx", 2).await;
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("transactional.id", &topic)
        .create()
        .unwrap();
    producer.init_transactions(Duration::from_secs(30)).unwrap();
    let at = |i: i64| T0 + i * 1000;
    transaction(
        &producer,
        &topic,
        &[(0, "A", at(1)), (1, "A", at(2)), (0, "B", at(3))],
        true,
    );
    transaction(
        &producer,
        &topic,
        &[(1, "A", at(7)), (0, "B", at(8)), (1, "A", at(9))],
        true,
    );
    // A non-transactional write between, and a transaction last: both partitions
    // end on a commit marker.
    produce(
        &brokers,
        &topic,
        &[Event::json("C", 0).on(0).at_time(at(11))],
    )
    .await;
    transaction(
        &producer,
        &topic,
        &[(1, "B", at(12)), (0, "B", at(13))],
        true,
    );

    let app = spawn_app(&settings(&brokers, &[&topic])).await;
    app.wait_ready(TANSU_WAIT).await;
    app.wait_for_total(9, TANSU_WAIT).await;
    let (_, stats) = app.json("/stats").await;
    assert_eq!(stats["A"], 4, "{stats}");
    assert_eq!(stats["B"], 4, "{stats}");
    assert_eq!(stats["C"], 1, "{stats}");
    let status = app
        .wait_status(TANSU_WAIT, |s| {
            s["partitions"].as_array().is_some_and(|p| {
                p.len() == 2 && p.iter().all(|p| p["lag"] == 0 && p["caught_up"] == true)
            })
        })
        .await;
    // Control records are no events: nothing unclassified, and the index holds
    // the 9 events, not the offsets the markers took.
    assert_eq!(status["unclassified"]["count"], 0, "{status}");
    assert_eq!(status["caught_up"], true, "{status}");
    for p in status["partitions"].as_array().unwrap() {
        assert!(
            p["high_watermark"].as_i64() > p["next_offset"].as_i64(),
            "the log ends on a marker: {status}"
        );
    }

    assert_numbered(&app, &[("A", 4), ("B", 4), ("C", 1)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_records_are_never_indexed_and_markers_never_counted() {
    let cluster = mock_cluster("tx", 2);
    let brokers = cluster.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("transactional.id", "analyzer-test")
        .create()
        .unwrap();
    producer.init_transactions(Duration::from_secs(10)).unwrap();
    let at = |i: i64| T0 + i * 1000;
    let tx = |events: &[(i32, &str, i64)], commit| transaction(&producer, "tx", events, commit);
    tx(&[(0, "A", at(1)), (1, "A", at(2)), (0, "B", at(3))], true);
    tx(
        &[
            (0, "ABORTED", at(4)),
            (1, "ABORTED", at(5)),
            (1, "ABORTED", at(6)),
        ],
        false,
    );
    tx(&[(1, "A", at(7)), (0, "B", at(8)), (1, "A", at(9))], true);
    tx(&[(0, "ABORTED", at(10))], false);
    produce(&brokers, "tx", &[Event::json("C", 0).on(0).at_time(at(11))]).await;
    tx(&[(1, "B", at(12)), (0, "B", at(13))], true);

    let app = spawn_app(&settings(&brokers, &["tx"])).await;
    app.wait_ready(MOCK_WAIT).await;
    app.wait_for_total(9, MOCK_WAIT).await;
    let (_, stats) = app.json("/stats").await;
    assert_eq!(stats["A"], 4, "{stats}");
    assert_eq!(stats["B"], 4, "{stats}");
    assert_eq!(stats["C"], 1, "{stats}");
    assert!(stats.get("ABORTED").is_none(), "{stats}");
    let status = app
        .wait_status(MOCK_WAIT, |s| {
            s["partitions"].as_array().is_some_and(|p| {
                p.len() == 2 && p.iter().all(|p| p["lag"] == 0 && p["caught_up"] == true)
            })
        })
        .await;
    assert_eq!(status["unclassified"]["count"], 0, "{status}");
    assert_numbered(&app, &[("A", 4), ("B", 4), ("C", 1)]).await;
    // Every value served was committed (or written outside a transaction).
    for event_type in ["A", "B"] {
        let (_, page) = app
            .json(&format!("/events/{event_type}/range?from=0&limit=100"))
            .await;
        for event in page["events"].as_array().unwrap() {
            assert_eq!(event["value"]["committed"], true, "{page}");
        }
    }
}

/// Each type's index in the numbering's order, (clock, topic, partition, offset),
/// with `count` events numbered from 0.
async fn assert_numbered(app: &TestApp, types: &[(&str, usize)]) {
    for (event_type, count) in types {
        let (_, page) = app
            .json(&format!("/events/{event_type}/range?from=0&limit=100"))
            .await;
        let events = page["events"].as_array().unwrap();
        assert_eq!(events.len(), *count, "{page}");
        let key = |e: &Value| {
            (
                e["timestamp"].as_i64().unwrap_or_else(|| panic!("{e}")),
                e["partition"].as_i64().unwrap(),
                e["offset"].as_i64().unwrap(),
            )
        };
        for (i, pair) in events.windows(2).enumerate() {
            assert!(key(&pair[0]) < key(&pair[1]), "{event_type} #{i}: {page}");
        }
        for (i, event) in events.iter().enumerate() {
            assert_eq!(event["index"], i, "{page}");
        }
    }
}
