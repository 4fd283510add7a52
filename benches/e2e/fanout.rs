//! Section 13, live tails fanned out (`E2E_FANOUT_EVENTS`, 20,000; 0 skips): 100
//! subscribers follow one type (`/events/{type}/stream`) while a producer writes
//! events of that type, as fast as it can and then at 5,000 a second; each
//! subscriber's delivered events/s against the produced events/s, and the RSS an
//! open stream costs.
//! `E2E_ONLY=fanout` alone. `http.stream_max_lag` is set past the events produced:
//! this measures throughput, not the overflow rule; `cache.headers` is on, so the
//! events sent come from the cache.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseRecord, Producer};

use super::{Analyzer, Broker, MIB, TYPES, event_of_type, http_json, median, row, send};

const SUBSCRIBERS: usize = 100;
const TOPIC: &str = "e2e-fanout";

/// Opens a tail of `TYPES[0]` and returns once its head and first comment came.
fn subscribe(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let path = format!("/events/{}/stream", TYPES[0]);
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !seen.windows(7).any(|w| w == b": from ") {
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "the stream closed before its first comment");
        seen.extend_from_slice(&buffer[..n]);
    }
    stream
}

/// Reads `stream` until it has sent `events` events (`id:` lines); when that was.
fn deliveries(mut stream: TcpStream, events: u64) -> Instant {
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut buffer = vec![0u8; 64 << 10];
    let (mut seen, mut carry) = (0u64, Vec::new());
    while seen < events {
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "a stream ended after {seen} of {events} events");
        carry.extend_from_slice(&buffer[..n]);
        seen += carry.windows(5).filter(|w| w == b"\nid: ").count() as u64;
        // Keep the tail that could begin a marker cut by the read.
        let keep = carry.len().saturating_sub(4);
        carry.drain(..keep);
    }
    Instant::now()
}

pub fn fanout_section(broker: &Broker, events: u64, work: &Path) {
    broker.create(TOPIC, 1);
    let producer = broker.producer();
    let send = |i: u64| {
        let value = event_of_type(i, TYPES[0]);
        send(
            &producer,
            BaseRecord::<(), [u8]>::to(TOPIC).payload(&value[..]),
        );
    };
    // The type exists before anyone follows it.
    send(0);
    producer.flush(Duration::from_secs(30)).unwrap();
    let lag = (events * 2).to_string();
    // With their headers cached, the events a tail sends come from the cache; with
    // `cache.headers` off (the default) each batch is read from Kafka by the point
    // readers' pool of 4, shared by all tails: 180 events/s a subscriber (measured).
    let env = [
        ("ANALYZER_HTTP__MAX_STREAMS", "1000"),
        ("ANALYZER_HTTP__STREAM_MAX_LAG", lag.as_str()),
        ("ANALYZER_CACHE__HEADERS", "true"),
    ];
    let (analyzer, _) = Analyzer::start_with(broker, TOPIC, 256 * MIB, &env, false, work);
    while http_json(analyzer.port, "/stats")[TYPES[0]].as_u64() != Some(1) {
        thread::sleep(Duration::from_millis(20));
    }
    let before = analyzer.rss_bytes();
    let mut first = 1;
    // As fast as the producer goes, then paced at a rate a busy service produces.
    for pace in [None, Some(5_000u64)] {
        let streams: Vec<TcpStream> = (0..SUBSCRIBERS).map(|_| subscribe(analyzer.port)).collect();
        thread::sleep(Duration::from_millis(500));
        if pace.is_none() {
            let per_stream = analyzer.rss_bytes().saturating_sub(before) / SUBSCRIBERS as u64;
            row(
                &format!("RSS of an open live tail ({SUBSCRIBERS} idle)"),
                format!("{:.1} KiB", per_stream as f64 / 1024.0),
                format!("{} MiB before", before / MIB),
                "-".to_owned(),
                "report",
            );
        }
        let readers: Vec<_> = streams
            .into_iter()
            .map(|stream| thread::spawn(move || deliveries(stream, events)))
            .collect();
        let started = Instant::now();
        for n in 0..events {
            if let Some(rate) = pace {
                let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
                thread::sleep(due.saturating_duration_since(Instant::now()));
                producer.poll(Duration::ZERO);
            }
            send(first + n);
            if n % 10_000 == 0 {
                producer.poll(Duration::ZERO);
            }
        }
        producer.flush(Duration::from_secs(120)).unwrap();
        first += events;
        let produced = started.elapsed();
        let delivered: Vec<Duration> = readers
            .into_iter()
            .map(|reader| reader.join().unwrap() - started)
            .collect();
        let slowest = *delivered.iter().max().unwrap();
        let typical = median(delivered);
        let produced_rate = events as f64 / produced.as_secs_f64();
        let rate = |took: Duration| events as f64 / took.as_secs_f64();
        let how = match pace {
            None => "as fast as produced".to_owned(),
            Some(rate) => format!("produced at {rate}/s"),
        };
        row(
            &format!(
                "live tail fan-out, {how}: {events} events to each of {SUBSCRIBERS} subscribers (median; slowest)"
            ),
            format!(
                "{:.0} events/s each, {:.0} in all; slowest {:.0} events/s",
                rate(typical),
                rate(typical) * SUBSCRIBERS as f64,
                rate(slowest)
            ),
            format!("{produced_rate:.0} events/s produced"),
            format!("{:.2}x", rate(typical) / produced_rate),
            "report",
        );
    }
}
