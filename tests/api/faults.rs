//! Broker faults: outages, absent brokers, Fetch errors, authorization failures,
//! retention, topics created or recreated; on the mock cluster and on tansu processes
//! of their own (data kept in moto's S3 server).

use crate::helpers::{
    Event, MOCK_WAIT, Storage, TANSU_WAIT, Tansu, TestApp, counts, free_port, mixed, mock_cluster,
    new_bucket, produce, settings, spawn_app,
};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Starts an app with the payload cache off over `n` events of type A, caught up.
async fn uncached_app_over(
    cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    n: usize,
) -> crate::helpers::TestApp {
    let brokers = cluster.bootstrap_servers();
    let events: Vec<Event> = (0..n).map(|i| Event::json("A", i)).collect();
    produce(&brokers, "events", &events).await;
    let mut config = settings(&brokers, &["events"]);
    config.cache.max_bytes = 0;
    let app = spawn_app(&config).await;
    app.wait_for_total(n as u64, MOCK_WAIT).await;
    app.wait_caught_up(MOCK_WAIT).await;
    app
}

#[tokio::test]
async fn cold_lookups_answer_503_while_the_broker_is_down_then_recover() {
    let cluster = mock_cluster("events", 1);
    let app = uncached_app_over(&cluster, 3).await;
    app.event("/events/A?index=1").await;

    cluster.broker_down(1).unwrap();
    // The point-read timeout answered (how soon is a row of benches/e2e.rs).
    let message = app.error_message("/events/A?index=1", 503).await;
    assert!(message.contains("within 2000 ms"), "{message}");
    // The index itself keeps serving.
    assert_eq!(app.stats().await["A"], 3);

    cluster.broker_up(1).unwrap();
    let recovering = Instant::now();
    while app.get("/events/A?index=1").await.status() != 200 {
        assert!(
            recovering.elapsed() < MOCK_WAIT,
            "no recovery after broker_up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.stats().await["A"], 3);
}

#[tokio::test]
async fn more_concurrent_cold_lookups_than_pooled_readers_all_answer_503_at_one_deadline() {
    let cluster = mock_cluster("events", 1);
    let app = uncached_app_over(&cluster, 20).await;
    cluster.broker_down(1).unwrap();
    // 10 lookups, 4 pooled readers: the 2 s deadline covers the wait for a reader,
    // so all answer at one deadline, not in waves of 2 s (which took 6 s). Checked
    // on the answers' spread, not on a speed: the first answers at a deadline,
    // and no other waits a second one.
    let lookups: Vec<_> = (0..10)
        .map(|i| {
            let (client, url) = (
                app.client.clone(),
                format!("{}/events/A?index={i}", app.base),
            );
            tokio::spawn(async move {
                let asked = Instant::now();
                let response = client.get(url).send().await.unwrap();
                let status = response.status().as_u16();
                let body = response.json::<serde_json::Value>().await.unwrap();
                (status, body, asked.elapsed())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for lookup in lookups {
        answers.push(lookup.await.unwrap());
    }
    for (status, body, _) in &answers {
        assert_eq!(*status, 503, "{body}");
        assert_eq!(body["code"], "kafka_unavailable", "{body}");
    }
    let took: Vec<_> = answers.iter().map(|(_, _, took)| *took).collect();
    let (first, last) = (took.iter().min().unwrap(), took.iter().max().unwrap());
    assert!(
        *last < *first + analyzer::startup::POINT_READ_TIMEOUT,
        "answered in waves: {took:?}"
    );
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
async fn broker_down_mid_stream_then_back_indexes_every_event_once() {
    let cluster = mock_cluster("events", 3);
    let brokers = cluster.bootstrap_servers();
    let first = mixed(600, 3);
    produce(&brokers, "events", &first).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_for_total(600, MOCK_WAIT).await;

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
    app.wait_status(MOCK_WAIT, |status| status["kafka"]["connection"] == "down")
        .await;

    cluster.broker_up(1).unwrap();
    producing.await.unwrap();
    let all: Vec<Event> = first.iter().chain(&second).cloned().collect();
    app.wait_for_total(1500, MOCK_WAIT).await;
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
    app.wait_for_total(3000, MOCK_WAIT).await;
    app.wait_ready(MOCK_WAIT).await;
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
    app.wait_ready(MOCK_WAIT).await;
    app.wait_for_total(300, MOCK_WAIT).await;
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
    app.wait_for_total(100, MOCK_WAIT).await;
    // Not ready while a configured topic is missing.
    assert_eq!(app.json("/health/ready").await.0, 503);

    cluster.create_topic("late", 2, 1).unwrap();
    let late = mixed(200, 2);
    produce(&brokers, "late", &late).await;
    let more_early = mixed(50, 1);
    produce(&brokers, "early", &more_early).await;
    app.wait_ready(MOCK_WAIT).await;
    app.wait_for_total(350, MOCK_WAIT).await;
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
async fn an_authorization_failure_on_a_serving_pod_is_shown_and_outlived() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    let events = mixed(30, 1);
    produce(&brokers, "events", &events).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_ready(MOCK_WAIT).await;
    app.wait_for_total(30, MOCK_WAIT).await;

    // ACLs that are wrong get fixed, credentials rotate: librdkafka retries, the
    // pod stays live and ready (what it indexed is right) and says what is stuck.
    let denied = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 1000];
    cluster.request_errors(RDKafkaApiKey::Fetch, &denied);
    let more = mixed(5, 1);
    produce(&brokers, "events", &more).await;
    let status = app
        .wait_status(MOCK_WAIT, |s| {
            s["partitions"][0]["error"]["reason"] == "authorization"
        })
        .await;
    assert_eq!(status["ingest_running"], true, "{status}");
    assert_eq!(status["caught_up"], false, "{status}");
    assert_eq!(app.json("/health/live").await.0, 200);
    let (ready, body) = app.json("/health/ready").await;
    assert_eq!(ready, 200, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("events/0 cannot be read"),
        "{body}"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("\nanalyzer_partition_stalled{topic=\"events\",partition=\"0\"} 1\n"),
        "{metrics}"
    );
    assert_eq!(app.stats().await, counts(&events));

    // Fixed: it reads on, with no restart.
    cluster.clear_request_errors(RDKafkaApiKey::Fetch);
    app.wait_for_total(35, MOCK_WAIT).await;
    let status = app
        .wait_status(MOCK_WAIT, |s| s["partitions"][0]["error"].is_null())
        .await;
    assert_eq!(status["caught_up"], true, "{status}");
    let all: Vec<_> = events.iter().chain(&more).cloned().collect();
    assert_eq!(app.stats().await, counts(&all));
}

/// Waits until the app's counts are exactly those of `events`, with nothing else
/// indexed (unclassified included).
async fn wait_exactly(app: &TestApp, events: &[Event]) {
    let expected = counts(events);
    let start = Instant::now();
    loop {
        let stats = app.stats().await;
        if stats == expected && app.view.total() == events.len() as u64 {
            return;
        }
        assert!(
            start.elapsed() < TANSU_WAIT,
            "after {TANSU_WAIT:?}: {stats:?} ({} indexed), expected {expected:?} ({})",
            app.view.total(),
            events.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_absent_at_startup_then_started() {
    let port = free_port();
    let mut config = settings(&format!("127.0.0.1:{port}"), &["events"]);
    config.kafka.metadata_refresh_secs = 1;
    let app = spawn_app(&config).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.json("/health/live").await.0, 200);
    assert_eq!(app.json("/health/ready").await.0, 503);

    let tansu = Tansu::start(port, &Storage::Memory);
    tansu.create_topic("events", 1).await;
    let events = mixed(1000, 1);
    produce(&tansu.brokers(), "events", &events).await;
    app.wait_ready(TANSU_WAIT).await;
    wait_exactly(&app, &events).await;
    assert_eq!(app.status.topic_resets(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_topic_deleted_and_recreated_is_read_again_from_its_beginning() {
    let port = free_port();
    let tansu = Tansu::start(port, &Storage::Memory);
    tansu.create_topic("events", 1).await;
    let first = mixed(2000, 1);
    produce(&tansu.brokers(), "events", &first).await;
    let mut config = settings(&tansu.brokers(), &["events"]);
    config.kafka.metadata_refresh_secs = 1;
    let app = spawn_app(&config).await;
    app.wait_ready(TANSU_WAIT).await;
    wait_exactly(&app, &first).await;

    // Deleted, then recreated with more partitions and fewer events: offsets
    // already indexed now name other events, or none.
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", tansu.brokers())
        .create()
        .unwrap();
    for deleted in admin
        .delete_topics(&["events"], &AdminOptions::new())
        .await
        .unwrap()
    {
        deleted.expect("topic deleted");
    }
    tansu.create_topic("events", 2).await;
    let second = mixed(600, 2);
    let positions = produce(&tansu.brokers(), "events", &second).await;

    wait_exactly(&app, &second).await;
    assert_eq!(app.status.topic_resets(), 1);
    let status = app.json("/status").await.1;
    assert_eq!(status["unclassified"]["by_reason"]["invalid_json"], 60);
    // Lookups serve the new topic's events, not stale payloads of the old one.
    for index in [0, 100, 200] {
        let fetched = app.event(&format!("/events/A?index={index}")).await;
        let produced = positions
            .iter()
            .position(|p| *p == (fetched.partition, fetched.offset))
            .unwrap();
        assert_eq!(Some(&fetched.bytes), second[produced].value.as_ref());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_killed_then_restarted_indexes_every_event_once() {
    let port = free_port();
    let storage = new_bucket(&format!("restart-{port}")).await;
    let mut tansu = Tansu::start(port, &storage);
    tansu.create_topic("events", 2).await;
    let first = mixed(1500, 2);
    produce(&tansu.brokers(), "events", &first).await;

    let mut config = settings(&tansu.brokers(), &["events"]);
    let cached = spawn_app(&config).await;
    config.cache.max_bytes = 0;
    let uncached = spawn_app(&config).await;
    for app in [&cached, &uncached] {
        app.wait_ready(TANSU_WAIT).await;
        wait_exactly(app, &first).await;
    }

    tansu.kill();
    for app in [&cached, &uncached] {
        app.wait_status(TANSU_WAIT, |s| s["kafka"]["connection"] == "down")
            .await;
        assert_eq!(app.stats().await, counts(&first));
        assert_eq!(app.json("/health/live").await.0, 200);
        assert_eq!(app.json("/health/ready").await.0, 200);
    }
    // Cached payloads are still served; cold lookups fail fast with 503.
    assert!(!cached.event("/events/A?index=10").await.bytes.is_empty());
    let message = uncached.error_message("/events/A?index=10", 503).await;
    assert!(message.contains("within 2000 ms"), "{message}");

    // Back with its data; more events arrive. Nothing is missed or indexed twice.
    let tansu = Tansu::start(port, &storage);
    let second = mixed(1500, 2);
    produce(&tansu.brokers(), "events", &second).await;
    let all: Vec<Event> = first.iter().chain(&second).cloned().collect();
    for app in [&cached, &uncached] {
        wait_exactly(app, &all).await;
        app.wait_status(TANSU_WAIT, |s| s["kafka"]["connection"] == "up")
            .await;
        assert_eq!(app.status.topic_resets(), 0);
        // A events are the even i: all in partition 0, in produced order.
        let tenth = app.event("/events/A?index=10").await;
        assert_eq!(Some(&tenth.bytes), first[20].value.as_ref());
    }
}
