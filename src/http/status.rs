//! `GET /status`: what an operator or an audit UI may want to know.

use std::collections::BTreeMap;

use actix_web::web::{Data, Json, Query};
use apistos::{ApiComponent, JsonSchema, api_operation};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::BearerAuth;
use super::error::{Answers, ErrorCode, Failure};
use time::format_description::well_known::Rfc3339;

use crate::ingest::{PartitionReport, ReadError, ReadErrors};
use crate::view::{Entry, Topics, TypeIndex};

/// Where an event is in Kafka.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct EventPosition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// Its clock, ms since the epoch: the running maximum of its partition's
    /// timestamps up to it (what the numbering orders by).
    pub clock_ms: u64,
}

/// One type's part of the index.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct TypeStatus {
    /// Events of this type.
    pub count: u64,
    /// Of those, the events whose index is settled (never changes again).
    pub settled: u64,
    /// Total size of their values.
    pub bytes: u64,
    /// The first event (index 0).
    pub first: Option<EventPosition>,
    /// The last event (index count - 1).
    pub last: Option<EventPosition>,
}

/// The events whose type could not be determined.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct UnclassifiedStatus {
    /// Counts by reason (every reason listed).
    pub by_reason: BTreeMap<String, u64>,
    /// Their positions: fetch them with `/events/unclassified?index=N`.
    #[serde(flatten)]
    pub index: TypeStatus,
}

/// One partition's ingest state.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct PartitionStatus {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Next offset to index (one past the last indexed).
    pub next_offset: i64,
    /// End of the log as the latest Fetch reported it.
    pub high_watermark: Option<i64>,
    /// high_watermark - next_offset.
    pub lag: Option<i64>,
    /// First offset still in Kafka; lookups of older events answer 410.
    pub log_start_offset: Option<i64>,
    /// Read to its end, and not failing to read on.
    pub caught_up: bool,
    /// Why this partition cannot be read, while it cannot (librdkafka retries).
    pub error: Option<ReadErrorStatus>,
}

/// An error that keeps ingest from reading, while it lasts.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct ReadErrorStatus {
    /// librdkafka's error code, like `TopicAuthorizationFailed` or `SSL`.
    pub code: String,
    /// What librdkafka said.
    pub message: String,
    /// Since when, RFC 3339 UTC.
    pub since: String,
    /// Its class, as `analyzer_kafka_errors_total` labels it: `unsupported_codec`,
    /// `corrupt_batch`, `authorization`, `authentication`, `tls`, `connection`,
    /// `topic` or `other`.
    pub reason: String,
}

impl From<ReadError> for ReadErrorStatus {
    fn from(error: ReadError) -> Self {
        let since = i128::from(error.since_ms) * 1_000_000;
        ReadErrorStatus {
            since: time::OffsetDateTime::from_unix_timestamp_nanos(since)
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_default(),
            code: error.code,
            message: error.message,
            reason: error.reason.as_str().to_owned(),
        }
    }
}

/// This build's Kafka client library.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct KafkaClientStatus {
    /// librdkafka's version.
    pub version: String,
    /// librdkafka's `builtin.features`: what this binary can do (`ssl`,
    /// `sasl_scram`, `sasl_oauthbearer`, `zstd`, `oidc`...).
    pub features: Vec<String>,
}

/// A broker as the ingest client sees it.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct BrokerStatus {
    /// `host:port/id`.
    pub name: String,
    /// librdkafka's connection state: `UP`, `DOWN`, `CONNECT`, `AUTH`, `INIT`, ...
    pub state: String,
}

/// The Kafka connection.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct KafkaStatus {
    /// `up` when some broker is connected, `down` when none is, `unknown` before the first report.
    pub connection: String,
    /// Every broker known.
    pub brokers: Vec<BrokerStatus>,
    /// The client's own error (TLS, SASL, no broker, a topic it cannot describe),
    /// while it lasts.
    pub error: Option<ReadErrorStatus>,
    /// This build's librdkafka.
    pub client: KafkaClientStatus,
    /// With `[kafka] auth = "aws_msk_iam"`: the IAM tokens analyzer signs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_msk_iam: Option<MskIamStatus>,
}

/// Amazon MSK IAM authentication: where credentials come from and the last token.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct MskIamStatus {
    /// The cluster's region.
    pub region: String,
    /// The credential source: environment variables, web identity for a role,
    /// container credentials, or instance metadata.
    pub credentials: String,
    /// When the last token was signed, ms since the epoch (none yet: null).
    pub token_made_at_ms: Option<i64>,
    /// When it expires, ms since the epoch (librdkafka asks for a new one at 80%
    /// of its lifetime).
    pub token_expires_at_ms: Option<i64>,
    /// Why the latest attempt failed, if it did.
    pub error: Option<String>,
}

/// The payload cache.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct CacheStatus {
    /// Budget (0: disabled).
    pub max_bytes: u64,
    /// Bytes charged (payloads plus bookkeeping).
    pub bytes: u64,
    /// Payloads held.
    pub entries: u64,
    /// Lookups served from the cache.
    pub hits: u64,
    /// Lookups that read from Kafka.
    pub misses: u64,
}

/// The one numbering: how far it is settled.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct OrderStatus {
    /// Events with a clock below this (ms since the epoch) have settled indexes.
    pub watermark_ms: u64,
    /// Events whose index may still move, unclassified included.
    pub tentative: u64,
    /// Events that arrived with a clock below the watermark (each moved settled
    /// indexes after it; logged as a warning).
    pub late_events: u64,
}

/// Snapshots (with `[snapshot] dir`): what the index resumed from, and the latest written.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct SnapshotStatus {
    /// Events the index resumed with from a snapshot at start (0: none was used).
    pub restored_events: u64,
    /// When that snapshot was written, ms since the epoch.
    pub restored_from_ms: Option<u64>,
    /// Why the snapshot found at start was not used (then every topic was read from
    /// its beginning).
    pub restore_error: Option<String>,
    /// When the latest snapshot was written, ms since the epoch.
    pub last_written_at_ms: Option<u64>,
    /// Events it holds.
    pub last_events: u64,
    /// Its size in bytes.
    pub last_bytes: u64,
    /// How long reading and writing it took, ms (ingest went on meanwhile).
    pub last_write_ms: u64,
    /// Why the latest attempt failed, if it did.
    pub last_error: Option<String>,
}

/// The key index (with `[keys] by` set).
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct KeysStatus {
    /// Distinct keys indexed.
    pub keys: u64,
    /// Events in the key index.
    pub events: u64,
    /// Events left out because their key was new past `keys.max_keys`.
    pub left_out: u64,
    /// Memory it holds, estimated from what it keeps.
    pub bytes: u64,
}

/// `/status`: everything an operator or an audit UI may want to know.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct Status {
    /// analyzer's version.
    pub version: String,
    /// Seconds since the process started.
    pub uptime_seconds: f64,
    /// Every partition was read to its end once (as `/health/ready`).
    pub ready: bool,
    /// Every partition is read to its end now.
    pub caught_up: bool,
    /// The ingest thread runs.
    pub ingest_running: bool,
    /// Why ingest stopped, if it failed.
    pub fatal_error: Option<String>,
    /// What ingest is waiting for, if it is paused (the Schema Registry cannot be
    /// read: no event is indexed until it can, none is misclassified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// Broker connection state.
    pub kafka: KafkaStatus,
    /// Per partition.
    pub partitions: Vec<PartitionStatus>,
    /// The numbering's watermark and how much of it is tentative.
    pub order: OrderStatus,
    /// Per type: the 1,000 with the most events unless `?types=all`.
    pub types: BTreeMap<String, TypeStatus>,
    /// Types not listed in `types` (`?types=all` lists every one).
    pub types_left_out: u64,
    /// Events without a type.
    pub unclassified: UnclassifiedStatus,
    /// Payload cache.
    pub cache: CacheStatus,
    /// Messages delivered again at an offset already indexed, and skipped.
    pub duplicates_skipped: u64,
    /// Topics found deleted and recreated (or truncated), and re-read.
    pub topic_resets: u64,
    /// Events read from Kafka since this process started (after a restart from a
    /// snapshot, only those after it).
    pub events_read: u64,
    /// Snapshots, when `[snapshot] dir` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotStatus>,
    /// The key index, when `[keys] by` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<KeysStatus>,
}

/// How many types `/status` lists unless asked for all: a misconfigured type rule
/// can make a million types, and a status page must stay small.
pub const STATUS_TYPES: usize = 1_000;

/// `/status` query: `?types=all` lists every type.
#[derive(Debug, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct StatusQuery {
    /// `all`: every type, not only the 1,000 with the most events.
    pub types: Option<TypesListed>,
}

/// Which types `/status` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(crate = "apistos")]
#[serde(rename_all = "snake_case")]
pub enum TypesListed {
    /// Every type.
    All,
}

fn type_status(index: &TypeIndex, topics: &Topics, watermark: u64) -> TypeStatus {
    let position = |entry: Entry| EventPosition {
        topic: topics.name(entry.position.topic).to_owned(),
        partition: entry.position.partition,
        offset: entry.position.offset,
        clock_ms: entry.clock,
    };
    let count = index.len();
    TypeStatus {
        count,
        settled: index.settled_count(watermark).min(count),
        bytes: index.value_bytes(),
        first: index.get(0).map(position),
        last: count
            .checked_sub(1)
            .and_then(|last| index.get(last))
            .map(position),
    }
}

fn partition_status(p: PartitionReport, errors: &ReadErrors) -> PartitionStatus {
    PartitionStatus {
        error: errors
            .partition(&p.topic, p.partition)
            .map(ReadErrorStatus::from),
        lag: p.lag(),
        topic: p.topic,
        partition: p.partition,
        next_offset: p.next_offset,
        high_watermark: p.high_watermark,
        log_start_offset: p.log_start_offset,
        caught_up: p.caught_up,
    }
}

/// What `/status` can answer besides the status.
pub struct StatusFailures;

impl Answers for StatusFailures {
    const CODES: &'static [ErrorCode] = &[ErrorCode::InvalidQuery, ErrorCode::Unauthorized];
}

/// Operational status.
#[api_operation(
    tag = "operations",
    operation_id = "get_status",
    summary = "Operational status",
    description = "Version, uptime, broker connection, per-partition offsets and lag, the numbering's watermark, per-type counts with first and last positions (the 1,000 largest types unless `types=all`), unclassified counts by reason, payload cache figures."
)]
pub async fn get_status(
    _auth: BearerAuth,
    state: Data<AppState>,
    query: Query<StatusQuery>,
) -> Result<Json<Status>, Failure<StatusFailures>> {
    let ingest = &state.ingest;
    let brokers: Vec<BrokerStatus> = ingest
        .brokers()
        .into_iter()
        .map(|b| BrokerStatus {
            name: b.name,
            state: b.state,
        })
        .collect();
    let connection = if brokers.is_empty() {
        "unknown"
    } else if brokers.iter().any(|b| b.state == "UP") {
        "up"
    } else {
        "down"
    };
    let cache = state.fetcher.cache().stats();
    let watermark = state.view.watermark();
    let mut types = state.view.types_by_count();
    let listed = match query.types {
        Some(TypesListed::All) => types.len(),
        None => types.len().min(STATUS_TYPES),
    };
    let types_left_out = (types.len() - listed) as u64;
    types.truncate(listed);
    Ok(Json(Status {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_seconds: state.started.elapsed().as_secs_f64(),
        ready: ingest.is_ready(),
        caught_up: ingest.is_caught_up(),
        ingest_running: ingest.is_running(),
        fatal_error: ingest.fatal_error(),
        waiting_for: ingest.waiting_for(),
        kafka: KafkaStatus {
            connection: connection.to_owned(),
            brokers,
            error: ingest.read_errors().client().map(ReadErrorStatus::from),
            client: KafkaClientStatus {
                version: crate::kafka::client_info().version.clone(),
                features: crate::kafka::client_info().features.clone(),
            },
            aws_msk_iam: state.tokens.msk().map(|msk| {
                let (region, credentials) = msk.describe();
                let last = msk.last();
                let made = last.as_ref().filter(|l| l.made_at_ms > 0);
                MskIamStatus {
                    region,
                    credentials,
                    token_made_at_ms: made.map(|l| l.made_at_ms),
                    token_expires_at_ms: made.map(|l| l.expires_at_ms),
                    error: last.and_then(|l| l.error),
                }
            }),
        },
        partitions: ingest
            .partitions()
            .into_iter()
            .map(|p| partition_status(p, ingest.read_errors()))
            .collect(),
        order: OrderStatus {
            watermark_ms: watermark,
            tentative: state.view.tentative(),
            late_events: state.view.late_events(),
        },
        types: types
            .into_iter()
            .map(|(name, index)| (name, type_status(&index, &state.topics, watermark)))
            .collect(),
        types_left_out,
        unclassified: UnclassifiedStatus {
            by_reason: ingest
                .unclassified_counts()
                .into_iter()
                .map(|(reason, count)| (reason.to_owned(), count))
                .collect(),
            index: type_status(&state.view.unclassified(), &state.topics, watermark),
        },
        cache: CacheStatus {
            max_bytes: state.fetcher.cache().max_bytes(),
            bytes: cache.bytes,
            entries: cache.entries,
            hits: cache.hits,
            misses: cache.misses,
        },
        duplicates_skipped: ingest.duplicates_skipped(),
        topic_resets: ingest.topic_resets(),
        events_read: ingest.events_read(),
        snapshot: state.snapshots_enabled.then(|| {
            let report = ingest.snapshot();
            SnapshotStatus {
                restored_events: report.restored_events,
                restored_from_ms: report.restored_from_ms,
                restore_error: report.restore_error,
                last_written_at_ms: report.last_written_at_ms,
                last_events: report.last_events,
                last_bytes: report.last_bytes,
                last_write_ms: report.last_write_ms,
                last_error: report.last_error,
            }
        }),
        keys: state.keys_enabled.then(|| {
            let counts = state.view.key_counts();
            KeysStatus {
                keys: counts.keys,
                events: counts.events,
                left_out: counts.left_out,
                bytes: counts.bytes,
            }
        }),
    }))
}
