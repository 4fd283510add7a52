//! `analyzer demo`: everything in one process, no Kafka needed. librdkafka's mock
//! cluster serves a topic, a producer writes a continuing stream of blood-pressure
//! and heart-rate readings (with a few malformed messages), and the real analyzer
//! (the same ingest, view, fetch and HTTP code as production) indexes and serves it.
//! With `--avro`, delivery events in schemaless Avro typed by a header instead
//! ([`avro`]); with `--protobuf`, orders in Protobuf typed by a header ([`protobuf`]).

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log::{info, warn};
use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::config::{ClassifyBy, RouteSettings, Settings};
use crate::startup::{Application, StartupError};

/// The demo topic.
pub const TOPIC: &str = "events";
const PARTITIONS: i32 = 3;

/// What `analyzer demo` can be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoOptions {
    /// Events produced per second.
    pub rate: u32,
    /// HTTP port (0: any free port).
    pub port: u16,
    /// Which events it writes.
    pub format: DemoFormat,
}

/// The demo's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DemoFormat {
    /// JSON readings, typed by a field.
    #[default]
    Json,
    /// Schemaless Avro delivery events typed by a header.
    Avro,
    /// Unframed Protobuf orders typed by a header.
    Protobuf,
}

/// Where the demo wrote the schemas analyzer loads, by format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoSchemas {
    /// JSON needs none.
    Json,
    /// The directory of the example `*.avsc` files.
    Avro(PathBuf),
    /// The example descriptor set.
    Protobuf(PathBuf),
}

pub mod avro;
pub mod protobuf;

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            rate: 50,
            port: 8110,
            format: DemoFormat::Json,
        }
    }
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The mock cluster or the producer could not be created.
    #[error("cannot start the embedded Kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The example schemas could not be written for analyzer to load.
    #[error("cannot write the example schemas to {0}: {1}")]
    Schemas(PathBuf, std::io::Error),
    /// The analyzer itself could not start.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The server failed.
    #[error("server error: {0}")]
    Server(#[from] std::io::Error),
}

/// Analyzer settings for the demo's cluster: production defaults plus the demo's
/// aliases and port; with schemas, the header rule and those schemas.
pub fn settings(brokers: &str, port: u16, schemas: DemoSchemas) -> Settings {
    let mut settings = Settings::default();
    settings.kafka.brokers = brokers.to_owned();
    settings.kafka.topics = vec![TOPIC.to_owned()];
    settings
        .kafka
        .properties
        .insert("fetch.wait.max.ms".into(), "10".into());
    settings.http.bind.set_port(port);
    let routes = match schemas {
        DemoSchemas::Json => {
            // Each reading names its patient: the key index answers a patient's
            // history across types.
            settings.keys.by = crate::config::KeysBy::JsonField;
            settings.keys.name = "patient".to_owned();
            vec![
                ("/blood_pressure", "blood_pressure"),
                ("/heart_rate", "heart_rate"),
            ]
        }
        DemoSchemas::Avro(dir) => {
            settings.classify.by = ClassifyBy::Header;
            settings.classify.name = avro::TYPE_HEADER.to_owned();
            settings.avro.schemas_dir = Some(dir);
            vec![
                ("/delivery_created", avro::TYPES[0]),
                ("/delivery_on_hold", avro::TYPES[1]),
            ]
        }
        DemoSchemas::Protobuf(descriptor_set) => {
            settings.classify.by = ClassifyBy::Header;
            settings.classify.name = protobuf::TYPE_HEADER.to_owned();
            settings.protobuf.descriptor_sets = vec![descriptor_set];
            settings.protobuf.types = (protobuf::TYPES.iter())
                .map(|(event_type, message)| ((*event_type).to_owned(), (*message).to_owned()))
                .collect();
            // An order's history across types, by a field of the decoded message.
            settings.keys.by = crate::config::KeysBy::JsonField;
            settings.keys.name = "orderId".to_owned();
            vec![
                ("/order_placed", protobuf::TYPES[0].0),
                ("/order_shipped", protobuf::TYPES[1].0),
            ]
        }
    };
    settings.routes = routes
        .into_iter()
        .map(|(path, event_type)| RouteSettings {
            path: path.to_owned(),
            event_type: event_type.to_owned(),
            stats_key: None,
        })
        .collect();
    settings
}

/// Writes the example schemas of `format` where analyzer loads them from, as a
/// deployment's `schemas_dir` or descriptor set would be.
fn write_schemas(format: DemoFormat) -> Result<DemoSchemas, DemoError> {
    let dir = std::env::temp_dir().join(format!("analyzer-demo-schemas-{}", std::process::id()));
    let write = || -> std::io::Result<DemoSchemas> {
        std::fs::create_dir_all(&dir)?;
        Ok(match format {
            DemoFormat::Json => DemoSchemas::Json,
            DemoFormat::Avro => {
                for (name, text) in avro::SCHEMAS {
                    std::fs::write(dir.join(name), text)?;
                }
                DemoSchemas::Avro(dir.clone())
            }
            DemoFormat::Protobuf => {
                let path = dir.join("shop.desc");
                std::fs::write(&path, protobuf::DESCRIPTOR_SET)?;
                DemoSchemas::Protobuf(path)
            }
        })
    };
    write().map_err(|e| DemoError::Schemas(dir.clone(), e))
}

/// Runs the demo until SIGTERM or SIGINT.
pub async fn run(options: DemoOptions) -> Result<(), DemoError> {
    let cluster = MockCluster::new(1)?;
    cluster.create_topic(TOPIC, PARTITIONS, 1)?;
    let brokers = cluster.bootstrap_servers();
    let schemas = match options.format {
        DemoFormat::Json => DemoSchemas::Json,
        format => write_schemas(format)?,
    };
    let app = Application::build(&settings(&brokers, options.port, schemas))?;
    let base = format!("http://localhost:{}", app.port());
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "5")
        .create()?;
    let rate = options.rate.max(1);
    let producing = tokio::spawn(produce_forever(producer, rate, options.format));
    match options.format {
        DemoFormat::Json => print_json_help(&base, rate),
        DemoFormat::Avro => print_avro_help(&base, rate),
        DemoFormat::Protobuf => print_protobuf_help(&base, rate),
    }
    let served = app.run_until_stopped().await;
    // The producer goes before the cluster it writes to.
    producing.abort();
    let _ = producing.await;
    drop(cluster);
    Ok(served?)
}

fn print_avro_help(base: &str, rate: u32) {
    let [created, on_hold] = avro::TYPES;
    println!(
        "analyzer demo --avro, the audit page: {base}/\n\
             An embedded Kafka with topic {TOPIC:?}, {} delivery events/s in schemaless Avro typed by the \
             {:?} header ({created}, {on_hold}; about 2% truncated), decoded with the schemas of examples/schemas/.\n\
             Try:\n  curl {base}/stats\n  curl -i '{base}/events/{created}?index=0'   (decoded JSON, X-Avro-Schema)\n  \
             curl '{base}/delivery_on_hold?index=0&format=raw' | xxd | head   (the stored bytes)\n  \
             curl {base}/status   (unclassified: invalid_avro)\n\
             Ctrl-C stops it.",
        rate,
        avro::TYPE_HEADER
    );
}

fn print_protobuf_help(base: &str, rate: u32) {
    let [(placed, placed_message), (shipped, shipped_message)] = protobuf::TYPES;
    println!(
        "analyzer demo --protobuf, the audit page: {base}/\n\
         An embedded Kafka with topic {TOPIC:?}, {rate} orders/s in unframed Protobuf typed by the \
         {:?} header ({placed} = {placed_message}, {shipped} = {shipped_message}; about 2% broken), \
         decoded with examples/protobuf/shop.desc.\n\
         Try:\n  curl {base}/stats\n  curl -i '{base}/events/{placed}?index=0'   (proto3 JSON, X-Schema-Type: PROTOBUF)\n  \
         curl '{base}/order_shipped?index=0&format=raw' | xxd | head   (the stored bytes)\n  \
         curl {base}/keys/o-0007/events   (one order's history, by the key index)\n  \
         curl {base}/status   (unclassified: invalid_protobuf)\n\
         Ctrl-C stops it.",
        protobuf::TYPE_HEADER
    );
}

fn print_json_help(base: &str, rate: u32) {
    println!(
        "analyzer demo, the audit page: {base}/\n\
         An embedded Kafka (librdkafka's mock cluster) with topic {TOPIC:?}, \
         {rate} readings/s of blood_pressure and heart_rate (a few malformed), indexed by the real pipeline.\n\
         Try:\n  curl {base}/stats\n  curl -i '{base}/events/blood_pressure?index=0'\n  \
         curl '{base}/heart_rate?index=3'\n  curl {base}/status\n  \
         curl {base}/keys/p-0007   (one patient's history, by the key index)\n  \
         open {base}/#/keys/p-0007\n  open {base}/docs (the API)\n\
         Ctrl-C stops it.",
    );
}

/// Writes readings at `rate` per second until aborted. Deliveries are not awaited
/// one by one (that would cap the rate at one broker round trip per event).
async fn produce_forever(producer: FutureProducer, rate: u32, format: DemoFormat) {
    let mut readings = Readings::new(0x5eed);
    // At most 1,000 wake-ups a second; each sends its share of the rate.
    let ticks_per_second = rate.min(1000);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / ticks_per_second);
    let mut owed = 0u64;
    loop {
        tick.tick().await;
        owed += u64::from(rate);
        while owed >= u64::from(ticks_per_second) {
            owed -= u64::from(ticks_per_second);
            let (value, event_type) = match format {
                DemoFormat::Json => (readings.next_value(), None),
                DemoFormat::Avro => {
                    readings.seq += 1;
                    let (event_type, value) = avro::next_event(&mut readings.dice);
                    (Some(value), Some(event_type))
                }
                DemoFormat::Protobuf => {
                    readings.seq += 1;
                    let (event_type, value) =
                        protobuf::next_event(&mut readings.dice, readings.seq);
                    (Some(value), Some(event_type))
                }
            };
            let mut record = FutureRecord::<(), [u8]>::to(TOPIC);
            if let Some(value) = &value {
                record = record.payload(value);
            }
            if let Some(event_type) = event_type {
                record = record.headers(OwnedHeaders::new().insert(Header {
                    key: avro::TYPE_HEADER,
                    value: Some(event_type),
                }));
            }
            if let Err((e, _)) = producer.send_result(record) {
                warn!("demo producer: {e}");
            }
            if readings.seq.is_multiple_of(10_000) {
                info!("demo producer: {} events written", readings.seq);
            }
        }
    }
}

/// Deterministic dice (xorshift: no dependency for a demo).
pub struct Dice(u64);

impl Dice {
    /// A number below `below`.
    pub fn roll(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// A deterministic stream of demo readings.
pub struct Readings {
    dice: Dice,
    /// Events generated so far.
    pub seq: u64,
}

impl Readings {
    /// A stream starting from `seed` (non-zero).
    pub fn new(seed: u64) -> Self {
        Readings {
            dice: Dice(seed.max(1)),
            seq: 0,
        }
    }

    fn roll(&mut self, below: u64) -> u64 {
        self.dice.roll(below)
    }

    /// The next message value: mostly JSON readings, about 2% malformed (not JSON,
    /// a numeric type, or a tombstone, which is `None`).
    pub fn next_value(&mut self) -> Option<Vec<u8>> {
        self.seq += 1;
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let seq = self.seq;
        let device = self.roll(12);
        let patient = self.roll(40);
        let value = match self.roll(100) {
            0 => return None,
            1 => b"<reading>garbled</reading>".to_vec(),
            2..=39 => format!(
                r#"{{"type":"blood_pressure","seq":{},"device":"bp-cuff-{device:02}","patient":"p-{patient:04}","systolic":{},"diastolic":{},"unit":"mmHg","measured_at_ms":{ts}}}"#,
                seq,
                105 + self.roll(40),
                65 + self.roll(25),
            )
            .into_bytes(),
            40 => format!(r#"{{"type":7,"seq":{seq}}}"#).into_bytes(),
            _ => format!(
                r#"{{"type":"heart_rate","seq":{},"device":"hr-band-{device:02}","patient":"p-{patient:04}","bpm":{},"measured_at_ms":{ts}}}"#,
                seq,
                55 + self.roll(60),
            )
            .into_bytes(),
        };
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_mostly_the_two_types_with_some_malformed() {
        let mut readings = Readings::new(42);
        let (mut bp, mut hr, mut bad) = (0, 0, 0);
        for _ in 0..10_000 {
            let value = readings.next_value();
            let json: Option<serde_json::Value> =
                value.and_then(|v| serde_json::from_slice(&v).ok());
            match json.as_ref().and_then(|j| j["type"].as_str()) {
                Some("blood_pressure") => bp += 1,
                Some("heart_rate") => hr += 1,
                _ => bad += 1,
            }
        }
        assert!((3_000..4_500).contains(&bp), "{bp}");
        assert!((5_000..6_500).contains(&hr), "{hr}");
        assert!((100..600).contains(&bad), "{bad}");
    }

    #[test]
    fn protobuf_events_decode_with_the_shipped_descriptor_set_but_the_broken_few() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/protobuf/shop.desc");
        let types = protobuf::TYPES
            .iter()
            .map(|(t, m)| ((*t).to_owned(), (*m).to_owned()))
            .collect();
        let local = crate::decode::protobuf::Protobuf::load(&[path], &types).unwrap();
        let mut dice = Dice(7);
        let (mut decoded, mut invalid) = (0, 0);
        for seq in 0..5_000 {
            let (event_type, value) = protobuf::next_event(&mut dice, seq);
            let message = local.message_of(event_type).unwrap();
            let mut json = Vec::new();
            match crate::decode::protobuf::decode(message, &value, Some(&mut json)) {
                Ok(()) => {
                    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
                    assert!(
                        json["orderId"].as_str().is_some_and(|id| id.len() == 6),
                        "{json}"
                    );
                    decoded += 1;
                }
                Err(_) => invalid += 1,
            }
        }
        assert!((25..200).contains(&invalid), "{invalid} of {decoded}");
    }

    #[test]
    fn avro_events_decode_with_the_shipped_schemas_but_the_truncated_few() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/schemas");
        let avro = crate::decode::avro::Avro::load(&crate::decode::avro::AvroSource {
            schemas_dir: Some(&dir),
            ..Default::default()
        })
        .unwrap();
        let mut dice = Dice(7);
        let (mut decoded, mut invalid) = (0, 0);
        for _ in 0..5_000 {
            let (event_type, value) = avro::next_event(&mut dice);
            match avro.to_json(Some(event_type), &value) {
                Ok(Some(json)) => {
                    assert_eq!(&*json.schema, event_type);
                    let json: serde_json::Value = serde_json::from_slice(&json.json).unwrap();
                    assert!(
                        json["delivery_id"]
                            .as_str()
                            .is_some_and(|id| id.len() == 36),
                        "{json}"
                    );
                    decoded += 1;
                }
                Err(crate::decode::DecodeError::Invalid(..)) => invalid += 1,
                other => panic!("{other:?}"),
            }
        }
        assert!((25..200).contains(&invalid), "{invalid} of {decoded}");
    }
}
