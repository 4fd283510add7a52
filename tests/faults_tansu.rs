//! Broker faults with the real tansu broker: each test runs its own broker process
//! (binary from TANSU_BIN, exported by ./scripts/test.sh) so it can start it late,
//! kill it, and start it again. A broker that is restarted keeps its data in S3
//! (moto's server, at TANSU_TEST_S3), in a bucket of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Event, TestApp, counts, free_port, mixed, produce, settings, spawn_app};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

const WAIT: Duration = Duration::from_secs(90);

/// A tansu broker process on a fixed loopback port; killed on drop.
struct Tansu {
    child: Child,
    port: u16,
}

/// Where a test broker keeps its data.
enum Storage {
    Memory,
    /// A bucket on the test S3 server: survives a restart of the broker.
    S3 {
        bucket: String,
    },
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run ./scripts/test.sh, which installs and starts what tests need"
        )
    })
}

/// Creates a bucket on the test S3 server, for one broker's data.
async fn new_bucket(name: &str) -> Storage {
    let response = reqwest::Client::new()
        .put(format!("{}/{name}", env("TANSU_TEST_S3")))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{response:?}");
    Storage::S3 {
        bucket: name.to_owned(),
    }
}

impl Tansu {
    fn start(port: u16, storage: &Storage) -> Tansu {
        let url = format!("tcp://127.0.0.1:{port}");
        let mut command = Command::new(env("TANSU_BIN"));
        match storage {
            Storage::Memory => command.args(["broker", "--storage-engine", "memory://tansu/"]),
            Storage::S3 { bucket } => command
                .args(["broker", "--storage-engine", &format!("s3://{bucket}/")])
                .env("AWS_ENDPOINT", env("TANSU_TEST_S3"))
                .env("AWS_ALLOW_HTTP", "true")
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env("AWS_DEFAULT_REGION", "us-east-1"),
        };
        let child = command
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "tansu not listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Tansu { child, port }
    }

    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    async fn create_topic(&self, topic: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", self.brokers())
            .create()
            .unwrap();
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        for result in admin
            .create_topics(&[new], &AdminOptions::new())
            .await
            .unwrap()
        {
            result.expect("topic created");
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
    }
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
            start.elapsed() < WAIT,
            "after {WAIT:?}: {stats:?} ({} indexed), expected {expected:?} ({})",
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
    app.wait_ready(WAIT).await;
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
    app.wait_ready(WAIT).await;
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
        app.wait_ready(WAIT).await;
        wait_exactly(app, &first).await;
    }

    tansu.kill();
    for app in [&cached, &uncached] {
        app.wait_status(WAIT, |s| s["kafka"]["connection"] == "down")
            .await;
        assert_eq!(app.stats().await, counts(&first));
        assert_eq!(app.json("/health/live").await.0, 200);
        assert_eq!(app.json("/health/ready").await.0, 200);
    }
    // Cached payloads are still served; cold lookups fail fast with 503.
    assert!(!cached.event("/events/A?index=10").await.bytes.is_empty());
    let asked = Instant::now();
    uncached.error_message("/events/A?index=10", 503).await;
    assert!(asked.elapsed() < Duration::from_secs(5));

    // Back with its data; more events arrive. Nothing is missed or indexed twice.
    let tansu = Tansu::start(port, &storage);
    let second = mixed(1500, 2);
    produce(&tansu.brokers(), "events", &second).await;
    let all: Vec<Event> = first.iter().chain(&second).cloned().collect();
    for app in [&cached, &uncached] {
        wait_exactly(app, &all).await;
        app.wait_status(WAIT, |s| s["kafka"]["connection"] == "up")
            .await;
        assert_eq!(app.status.topic_resets(), 0);
        // A events are the even i: all in partition 0, in produced order.
        let tenth = app.event("/events/A?index=10").await;
        assert_eq!(Some(&tenth.bytes), first[20].value.as_ref());
    }
}
