//! Section 12, the key index (`E2E_KEYS_EVENTS`, 1,000,000; 0 skips): a topic of
//! events whose Kafka keys are drawn from a Zipf-like distribution over 100,000 keys
//! (log-uniform ranks, as entity activity is); catch-up with the key index against
//! without it; a page of 50 of one key's events against a page of 50 of a type's,
//! both cached, under wrk; and one key's history against the anchors' way, a
//! consumer that scans the topic and filters by key. `E2E_ONLY=keys` alone.

use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::{Analyzer, Broker, MIB, TYPES, event, http_get, http_json, median, ms, row, send, wrk};

const KEYS: u64 = 100_000;
const TOPIC: &str = "e2e-keys";
/// The key whose history is read: rank 10, a few thousand events in 1M.
const KEY: &str = "p-0000010";

/// Event `i`'s key: a rank drawn log-uniformly below `KEYS` from a hash of `i`.
fn key_of(i: u64) -> String {
    let u = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
    let rank = (KEYS as f64).powf(u) as u64 - 1;
    format!("p-{rank:07}")
}

fn produce_keyed(broker: &Broker, events: u64) {
    broker.create(TOPIC, 3);
    let producer = broker.producer();
    let started = Instant::now();
    for i in 0..events {
        let (value, key) = (event(i), key_of(i));
        // The default partitioner: a key's events in one partition, as producers do.
        let record = BaseRecord::<[u8], [u8]>::to(TOPIC)
            .payload(&value[..])
            .key(key.as_bytes());
        send(&producer, record);
        if i % 10_000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    eprintln!(
        "  produced {events} keyed events in {:.1?}",
        started.elapsed()
    );
}

/// The anchors' way: a consumer reads the whole topic and keeps the events whose
/// key is `key`; how long, and how many it found.
fn scan_for_key(broker: &Broker, key: &str) -> (Duration, u64) {
    let started = Instant::now();
    let consumer: BaseConsumer = broker
        .client()
        .set("group.id", "bench-key-scan")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..3 {
        assignment
            .add_partition_offset(TOPIC, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let (mut ended, mut found) = (0, 0u64);
    while ended < 3 {
        match consumer.poll(Duration::from_secs(5)) {
            Some(Ok(message)) => found += u64::from(message.key() == Some(key.as_bytes())),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => ended += 1,
            Some(Err(e)) => panic!("scan: {e}"),
            None => panic!("scan: nothing for 5 s"),
        }
    }
    (started.elapsed(), found)
}

pub fn keys_section(broker: &Broker, events: u64, load_secs: u64, work: &Path) {
    produce_keyed(broker, events);
    // Every payload stays cached, headers too (a page lists them): the pages
    // compare the index, not Kafka reads.
    let cache = 1024 * MIB;
    let headers = ("ANALYZER_CACHE__HEADERS", "true");
    let keyed_env = [("ANALYZER_KEYS__BY", "kafka_key"), headers];
    // Medians of 3 catch-ups each, alternated.
    let (mut plain_times, mut keyed_times, mut kept) = (Vec::new(), Vec::new(), None);
    for _ in 0..3 {
        let (plain, took) = Analyzer::start_with(broker, TOPIC, cache, &[headers], false, work);
        drop(plain);
        plain_times.push(took);
        let (keyed, took) = Analyzer::start_with(broker, TOPIC, cache, &keyed_env, false, work);
        keyed_times.push(took);
        kept = Some(keyed);
    }
    let analyzer = kept.unwrap();
    let (plain_ready, keyed_ready) = (median(plain_times), median(keyed_times));
    row(
        &format!("catch-up of {events} keyed events (3 partitions), key index on, median of 3"),
        format!("{:.2} s", keyed_ready.as_secs_f64()),
        format!("{:.2} s (key index off)", plain_ready.as_secs_f64()),
        format!(
            "{:.2}x",
            keyed_ready.as_secs_f64() / plain_ready.as_secs_f64()
        ),
        "report",
    );
    let summary = http_json(analyzer.port, &format!("/keys/{KEY}"));
    let total = summary["total"].as_u64().unwrap();
    let status = http_json(analyzer.port, "/status");
    let keys = &status["keys"];
    row(
        "key index held (analyzer_key_index_bytes)",
        format!(
            "{:.1} MB: {} keys, {} events",
            keys["bytes"].as_f64().unwrap() / 1e6,
            keys["keys"],
            keys["events"]
        ),
        format!(
            "6 bytes/event + 40/key = {:.1} MB",
            (6 * keys["events"].as_u64().unwrap() + 40 * keys["keys"].as_u64().unwrap()) as f64
                / 1e6
        ),
        "-".into(),
        "report",
    );
    // Warm: every page once, so both read the cache.
    let type_total = http_json(analyzer.port, "/stats")[TYPES[0]]
        .as_u64()
        .unwrap();
    let range = wrk(
        analyzer.port,
        &format!("/events/{}/range?limit=50&from=", TYPES[0]),
        type_total - 50,
        load_secs,
        work,
    );
    let history = wrk(
        analyzer.port,
        &format!("/keys/{KEY}/events?limit=50&from="),
        total - 50,
        load_secs,
        work,
    );
    row(
        &format!("a page of 50 of one key's {total} events, cached, p99"),
        format!(
            "{:.2} ms ({:.0} req/s)",
            history.p99_ms, history.requests_per_sec
        ),
        format!(
            "{:.2} ms ({:.0} req/s), a /range page of 50 of {}",
            range.p99_ms, range.requests_per_sec, TYPES[0]
        ),
        format!("{:.2}x", history.p99_ms / range.p99_ms),
        "<= 2x",
    );
    let mut answers = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        let (status, _) = http_get(analyzer.port, &format!("/keys/{KEY}/events?limit=50"));
        answers.push(started.elapsed());
        assert_eq!(status, 200);
    }
    let answer = median(answers);
    let (scan, found) = scan_for_key(broker, KEY);
    assert_eq!(found, total, "the scan and the index disagree on {KEY}");
    row(
        &format!("{KEY}'s history (its first 50 of {total}) in {events} events"),
        format!("{:.3} ms (median of 21)", ms(answer)),
        format!(
            "{:.2} s (a consumer scanning the topic for the key)",
            scan.as_secs_f64()
        ),
        format!("{:.0}x faster", scan.as_secs_f64() / answer.as_secs_f64()),
        ">= 1000x",
    );
}
