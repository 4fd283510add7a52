//! Shared test helpers: run the real application on port 0 against the mock cluster
//! or tansu, produce events, wait.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use analyzer::config::Settings;
use analyzer::ingest::IngestStatus;
use analyzer::startup::Application;
use analyzer::view::View;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

/// How long a test on the in-process mock cluster waits for something that should
/// happen in well under a second: a liveness bound, not a speed goal.
pub const MOCK_WAIT: Duration = Duration::from_secs(30);
/// The same, on tansu, where a test may produce and read tens of thousands of events.
pub const TANSU_WAIT: Duration = Duration::from_secs(120);
/// The allocator setting the image and the Kubernetes manifest ship (Dockerfile):
/// glibc's dynamic mmap threshold otherwise lets cold reads' large transient
/// buffers fragment the heap, and RSS creeps (measured: 27 to 86 MiB in 60 s).
/// Memory tests of the binary run with it, as production does.
pub const IMAGE_MMAP_THRESHOLD: &str = "131072";

/// One event to produce.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// Partition to write to (the producer's partitioner picks when None).
    pub partition: Option<i32>,
    /// Value bytes; None for a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers, in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// The producer-set timestamp (ms); the producer's clock when None.
    pub timestamp: Option<i64>,
    /// The key, if any.
    pub key: Option<Vec<u8>>,
}

impl Event {
    /// A JSON event `{"type": t, "seq": n, ...}` padded to about 200 bytes.
    pub fn json(event_type: &str, seq: usize) -> Event {
        let value = format!(
            r#"{{"type":"{event_type}","seq":{seq},"device":"dev-{}","reading":{},"note":"{}"}}"#,
            seq % 17,
            seq * 7 % 1000,
            "x".repeat(120)
        );
        Event::raw(value.into_bytes())
    }

    /// An event with these exact value bytes.
    pub fn raw(value: impl Into<Vec<u8>>) -> Event {
        Event {
            value: Some(value.into()),
            ..Event::default()
        }
    }

    /// The same event, written to `partition`.
    pub fn on(mut self, partition: i32) -> Event {
        self.partition = Some(partition);
        self
    }

    /// The same event, with this producer-set timestamp (ms since the epoch).
    pub fn at_time(mut self, timestamp_ms: i64) -> Event {
        self.timestamp = Some(timestamp_ms);
        self
    }

    /// The same event, with this key.
    pub fn with_key(mut self, key: &[u8]) -> Event {
        self.key = Some(key.to_vec());
        self
    }

    /// The same event with one more header.
    pub fn header(mut self, key: &str, value: Option<&[u8]>) -> Event {
        self.headers
            .push((key.to_owned(), value.map(<[u8]>::to_vec)));
        self
    }
}

/// Produces `events` in order and returns where each landed: (partition, offset).
pub async fn produce(brokers: &str, topic: &str, events: &[Event]) -> Vec<(i32, i64)> {
    produce_with(brokers, topic, events, &[]).await
}

/// As [`produce`], with more producer properties (TLS, compression...).
pub async fn produce_with(
    brokers: &str,
    topic: &str,
    events: &[Event],
    properties: &[(&str, &str)],
) -> Vec<(i32, i64)> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        // Room for the 1 MB values of the hostile corpus.
        .set("message.max.bytes", "4000000")
        // Keep per-partition order exact even on retries.
        .set("max.in.flight.requests.per.connection", "1");
    for (key, value) in properties {
        config.set(*key, *value);
    }
    let producer: FutureProducer = config.create().expect("producer");
    let mut deliveries = Vec::with_capacity(events.len());
    for event in events {
        let mut record = FutureRecord::<[u8], [u8]>::to(topic);
        if let Some(key) = &event.key {
            record = record.key(key);
        }
        if let Some(partition) = event.partition {
            record = record.partition(partition);
        }
        if let Some(value) = &event.value {
            record = record.payload(value);
        }
        if let Some(timestamp) = event.timestamp {
            record = record.timestamp(timestamp);
        }
        if !event.headers.is_empty() {
            let mut headers = OwnedHeaders::new();
            for (key, value) in &event.headers {
                headers = headers.insert(Header {
                    key,
                    value: value.as_deref(),
                });
            }
            record = record.headers(headers);
        }
        match producer.send_result(record) {
            Ok(delivery) => deliveries.push(delivery),
            Err((e, _)) => panic!("cannot enqueue event: {e}"),
        }
    }
    let mut positions = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        let delivered = delivery.await.expect("delivery not cancelled");
        let delivered = delivered.unwrap_or_else(|(e, _)| panic!("delivery failed: {e}"));
        positions.push((delivered.partition, delivered.offset));
    }
    positions
}

/// `n` events alternating A, B, with every 10th one malformed.
pub fn mixed(n: usize, partitions: i32) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let event = match i % 10 {
                9 => Event::raw(*b"not json"),
                k if k % 2 == 0 => Event::json("A", i),
                _ => Event::json("B", i),
            };
            event.on(i as i32 % partitions)
        })
        .collect()
}

pub fn counts(events: &[Event]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for event in events {
        let value = event.value.as_deref().unwrap_or_default();
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(value) {
            *counts
                .entry(json["type"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
    }
    counts
}

/// A loopback port that was free a moment ago (for processes that bind by number).
/// The stand-in registry ./scripts/test.sh started: (URL, user, password).
pub fn registry() -> (String, String, String) {
    let url = std::env::var("SCHEMA_REGISTRY_URL").unwrap_or_else(|_| {
        panic!("SCHEMA_REGISTRY_URL is not set: run ./scripts/test.sh, which starts the registry stand-in")
    });
    let credentials = std::env::var("SCHEMA_REGISTRY_CREDENTIALS").unwrap_or_default();
    let (user, password) = credentials.split_once(':').unwrap_or(("", ""));
    (url, user.to_owned(), password.to_owned())
}

/// The repository's root.
pub fn repo() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the Python producer `script` (a path from the repository's root) in `mode`
/// against `topic` on the test broker and the registry stand-in, for `count`
/// events (then `extra` arguments): what it says it produced, a JSON line each.
pub async fn python_producer<T: serde::de::DeserializeOwned>(
    script: &str,
    mode: &str,
    topic: &str,
    count: usize,
    extra: &[String],
) -> Vec<T> {
    let (url, user, password) = registry();
    let mut args = vec![
        repo().join(script).display().to_string(),
        mode.into(),
        broker(),
        topic.into(),
        url,
        format!("{user}:{password}"),
        count.to_string(),
    ];
    args.extend_from_slice(extra);
    python_lines(args).await
}

/// Produced events per type, in the order produced.
pub fn by_type<T>(produced: &[T], event_type: fn(&T) -> &str) -> BTreeMap<&str, Vec<&T>> {
    let mut types: BTreeMap<&str, Vec<&T>> = BTreeMap::new();
    for event in produced {
        types.entry(event_type(event)).or_default().push(event);
    }
    types
}

/// Runs a Python script (`args`: the script and its arguments) and reads the
/// JSON line it prints for each event it produced.
async fn python_lines<T: serde::de::DeserializeOwned>(args: Vec<String>) -> Vec<T> {
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3").args(&args).output()
    })
    .await
    .unwrap()
    .expect("python3 runs");
    assert!(
        output.status.success(),
        "the producer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A child process killed (and reaped) when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Hex text as bytes.
pub fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// GET `url` and parse its JSON body, whatever the status.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client
        .get(url)
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("JSON body")
}

/// Writes `toml` as a config file for a child analyzer, in a fresh directory named
/// after `name`; returns (directory, file). The caller removes the directory.
pub fn config_file(name: &str, toml: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("analyzer-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("analyzer.toml");
    std::fs::write(&file, toml).unwrap();
    (dir, file)
}

/// librdkafka's in-process mock cluster (one broker, id 1) with one topic.
pub fn mock_cluster(
    topic: &str,
    partitions: i32,
) -> rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    cluster.create_topic(topic, partitions, 1).expect("topic");
    cluster
}

/// The shared tansu broker ./scripts/test.sh started.
pub fn broker() -> String {
    std::env::var("TANSU_TEST_BROKER").unwrap_or_else(|_| {
        panic!(
            "TANSU_TEST_BROKER is not set: run ./scripts/test.sh, which starts tansu and sets it"
        )
    })
}

/// Now, in ms since the epoch (a Kafka timestamp).
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| d.as_millis() as i64)
}

/// Creates a topic with a name no other test run uses.
pub async fn new_topic(brokers: &str, name: &str, partitions: i32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let topic = format!("{name}-{}-{nanos}", std::process::id());
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .create()
            .unwrap();
    let created = admin
        .create_topics(
            &[rdkafka::admin::NewTopic::new(
                &topic,
                partitions,
                rdkafka::admin::TopicReplication::Fixed(1),
            )],
            &rdkafka::admin::AdminOptions::new(),
        )
        .await
        .expect("create_topics");
    for result in created {
        result.expect("topic created");
    }
    topic
}

/// A running analyzer on a random port.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// The app's index, to wait on ingest.
    pub view: View,
    /// The ingest thread's status.
    pub status: Arc<IngestStatus>,
}

/// Settings for an app reading `topics` from `brokers`, with point reads tuned for tests.
pub fn settings(brokers: &str, topics: &[&str]) -> Settings {
    let mut settings = Settings::default();
    settings.kafka.brokers = brokers.to_owned();
    settings.kafka.topics = topics.iter().map(|t| (*t).to_owned()).collect();
    settings
        .kafka
        .properties
        .insert("fetch.wait.max.ms".into(), "10".into());
    settings.http.bind = "127.0.0.1:0".parse().unwrap();
    settings
}

/// Builds and starts the real application (HTTP + ingest) in this runtime.
pub async fn spawn_app(settings: &Settings) -> TestApp {
    // RUST_LOG=analyzer=info cargo test -- --nocapture shows the app's log.
    let _ = env_logger::builder().is_test(true).try_init();
    let app = Application::build(settings).expect("application builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let view = app.view();
    let status = app.ingest_status();
    tokio::spawn(app.run_until_stopped());
    // Idle connections are dropped before actix's 5 s keep-alive closes them: a
    // request sent on one the server is closing fails (IncompleteMessage), which
    // a pause of a few seconds between requests (promtool, a loaded machine) hit.
    let client = reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("HTTP client");
    TestApp {
        base,
        client,
        view,
        status,
    }
}

impl TestApp {
    /// GET a path (with query) on the app.
    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path_and_query}", self.base))
            .send()
            .await
            .expect("request sent")
    }

    /// GET a path; its status and JSON body.
    pub async fn json(&self, path_and_query: &str) -> (u16, serde_json::Value) {
        let response = self.get(path_and_query).await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// Waits until /health/ready answers 200 (503 meanwhile), and returns its body.
    pub async fn wait_ready(&self, timeout: Duration) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let (status, body) = self.json("/health/ready").await;
            if status == 200 {
                return body;
            }
            assert_eq!(status, 503, "{body}");
            assert!(
                start.elapsed() < timeout,
                "not ready after {timeout:?}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until /status satisfies `done`, and returns it.
    pub async fn wait_status(
        &self,
        timeout: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let (status, body) = self.json("/status").await;
            assert_eq!(status, 200, "{body}");
            if done(&body) {
                return body;
            }
            assert!(
                start.elapsed() < timeout,
                "after {timeout:?}, /status is {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until librdkafka's statistics (every second) have reported every
    /// partition's end and a connected broker, and returns /status.
    pub async fn wait_statistics(&self, timeout: Duration) -> serde_json::Value {
        self.wait_status(timeout, |body| {
            body["kafka"]["connection"] == "up"
                && body["partitions"]
                    .as_array()
                    .is_some_and(|ps| !ps.is_empty() && ps.iter().all(|p| p["lag"] == 0))
        })
        .await
    }

    /// GET /stats as a map.
    pub async fn stats(&self) -> BTreeMap<String, u64> {
        let response = self.get("/stats").await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("stats JSON")
    }

    /// Waits until `total` events (unclassified included) are indexed, or panics.
    pub async fn wait_for_total(&self, total: u64, timeout: Duration) {
        let start = Instant::now();
        while self.view.total() < total {
            assert!(
                start.elapsed() < timeout,
                "only {} of {total} events indexed after {timeout:?}",
                self.view.total()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            self.view.total(),
            total,
            "more events indexed than produced"
        );
    }

    /// Waits until /stats shows `expected` for each listed type, or panics after `within`.
    pub async fn wait_for_stats(&self, expected: &[(&str, u64)], within: Duration) {
        let start = Instant::now();
        loop {
            let stats = self.stats().await;
            if expected.iter().all(|(t, n)| stats.get(*t) == Some(n)) {
                return;
            }
            assert!(
                start.elapsed() < within,
                "after {within:?}, /stats is {stats:?}, expected {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the ingest thread reports every partition read to its end.
    pub async fn wait_caught_up(&self, timeout: Duration) {
        let start = Instant::now();
        while !self.status.is_caught_up() {
            assert!(start.elapsed() < timeout, "not caught up after {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The JSON `message` of an error response, asserting its status.
    pub async fn error_message(&self, path_and_query: &str, status: u16) -> String {
        let response = self.get(path_and_query).await;
        assert_eq!(response.status(), status, "{path_and_query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{path_and_query}"
        );
        let body: serde_json::Value = response.json().await.expect("JSON error body");
        body["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no message in {body}"))
            .to_owned()
    }
}

/// A fetched event: its bytes and Kafka coordinates from the response headers.
#[derive(Debug)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub content_type: String,
    pub partition: i32,
    pub offset: i64,
    pub topic: String,
    pub timestamp: Option<i64>,
    /// `X-Index`.
    pub index: u64,
    /// `X-Index-Settled`.
    pub settled: bool,
}

impl TestApp {
    /// GET an event that must exist.
    pub async fn event(&self, path_and_query: &str) -> Fetched {
        let response = self.get(path_and_query).await;
        assert_eq!(response.status(), 200, "{path_and_query}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let fetched = Fetched {
            content_type: header("content-type").unwrap(),
            partition: header("x-kafka-partition").unwrap().parse().unwrap(),
            offset: header("x-kafka-offset").unwrap().parse().unwrap(),
            topic: header("x-kafka-topic").unwrap(),
            timestamp: header("x-kafka-timestamp").map(|t| t.parse().unwrap()),
            index: header("x-index").unwrap().parse().unwrap(),
            settled: header("x-index-settled").unwrap().parse().unwrap(),
            bytes: Vec::new(),
        };
        Fetched {
            bytes: response.bytes().await.unwrap().to_vec(),
            ..fetched
        }
    }
}

/// Runs schemathesis (`st run`, installed by ./scripts/test.sh) against `schema` with
/// every check, deterministic examples and `extra` arguments; fails the test on any
/// problem, printing its report.
pub async fn schemathesis(schema: String, extra: Vec<String>) {
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("st")
            .args(["run", &schema, "--checks", "all", "--max-examples", "200"])
            .args(["--generation-deterministic", "--workers", "1"])
            .args(&extra)
            .env("NO_COLOR", "1")
            // It keeps a cache directory where it runs: not in the repository.
            .current_dir(std::env::temp_dir())
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("st (schemathesis): {e}; run ./scripts/test.sh, which installs it"));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("Tested: "), "{report}");
    println!("{report}");
}

/// The analyzer binary as a child process on a free port, killed when dropped.
pub struct Binary {
    /// The process.
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Binary {
    /// Starts the binary with `args`, the test's own `ANALYZER_*` variables removed,
    /// `env` set, and `ANALYZER_HTTP__BIND` on a free port; returns once it answers.
    pub async fn start(args: &[&std::ffi::OsStr], env: &[(&str, String)]) -> Binary {
        let port = free_port();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_analyzer"));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("ANALYZER_")) {
            command.env_remove(key);
        }
        let child = command
            .args(args)
            .current_dir(std::env::temp_dir())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("ANALYZER_HTTP__BIND", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let binary = Binary {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let start = Instant::now();
        while client
            .get(format!("{}/health/live", binary.base))
            .send()
            .await
            .is_err()
        {
            assert!(start.elapsed() < Duration::from_secs(30), "never started");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        binary
    }

    /// Its resident memory (VmRSS).
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib * 1024
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tansu broker process on a fixed loopback port; killed on drop.
pub struct Tansu {
    child: Child,
    port: u16,
}

/// Where a test broker keeps its data.
pub enum Storage {
    /// In the broker's memory: lost when it stops.
    Memory,
    /// A bucket on the test S3 server: survives a restart of the broker.
    S3 { bucket: String },
}

/// The environment variable `name`, which scripts/test.sh sets.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run ./scripts/test.sh, which installs and starts what tests need"
        )
    })
}

/// Creates a bucket on the test S3 server, for one broker's data.
pub async fn new_bucket(name: &str) -> Storage {
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
    /// Starts tansu on `port` over `storage`, waiting until it listens.
    pub fn start(port: u16, storage: &Storage) -> Tansu {
        Tansu::start_advertising(port, storage, &format!("tcp://127.0.0.1:{port}"), &[])
    }

    /// As [`Tansu::start`], advertising `advertised` to clients (a TLS terminator
    /// in front of it), with more broker arguments (`--authentication`).
    pub fn start_advertising(
        port: u16,
        storage: &Storage,
        advertised: &str,
        extra: &[&str],
    ) -> Tansu {
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
            .args([
                "--listener-url",
                &url,
                "--advertised-listener-url",
                advertised,
            ])
            .args(extra)
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

    /// Its bootstrap address.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates `topic` with `partitions` partitions.
    pub async fn create_topic(&self, topic: &str, partitions: i32) {
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

    /// Stops it (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One request a stand-in server received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `GET`, `POST`...
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

impl Received {
    /// The value of header `name` (lower-case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A stand-in HTTP/1.1 server on loopback for services that cannot run here (an
/// OAuth token endpoint, STS, container credentials, instance metadata):
/// `answer` gives (status, content type, body) per request. Returns its base URL
/// and every request received, in order.
pub async fn stand_in(
    answer: impl Fn(&Received) -> (u16, &'static str, String) + Send + Sync + 'static,
) -> (String, Arc<std::sync::Mutex<Vec<Received>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&received);
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (log, answer) = (Arc::clone(&log), Arc::clone(&answer));
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then as many body bytes as Content-Length says.
                let request = loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    buffer.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buffer).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let mut lines = head.lines();
                        let mut first = lines.next().unwrap_or_default().split(' ');
                        let method = first.next().unwrap_or_default().to_owned();
                        let target = first.next().unwrap_or_default().to_owned();
                        let headers: Vec<(String, String)> = lines
                            .filter_map(|l| l.split_once(':'))
                            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                            .collect();
                        let length: usize = headers
                            .iter()
                            .find(|(k, _)| k == "content-length")
                            .and_then(|(_, v)| v.parse().ok())
                            .unwrap_or(0);
                        if body.len() >= length || n == 0 {
                            break Received {
                                method,
                                target,
                                headers,
                                body: body.to_owned(),
                            };
                        }
                    }
                    if n == 0 {
                        return;
                    }
                };
                let (status, content_type, body) = answer(&request);
                log.lock().unwrap().push(request);
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (base, received)
}
