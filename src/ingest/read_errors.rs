//! What keeps ingest from reading, so that it is never silent: the client's own
//! error (a TLS handshake, SASL authentication, no broker reachable, a topic it may
//! not describe) and the errors librdkafka attributes to one partition (a batch in
//! a codec it cannot decompress, a corrupt batch, `TOPIC_AUTHORIZATION_FAILED`).
//!
//! librdkafka retries all of these itself, with backoff (reconnects, fetch
//! retries): credentials rotate and ACLs get fixed. An error is kept until reading
//! works again (for a partition: its end reached, or, at a statistics report,
//! records indexed past the offset it failed at; for the client: an end reached,
//! or every broker up): never checked per message. Meanwhile it is shown by
//! `/status`, `/health/ready`, `/metrics` and the page, counted by reason, and
//! logged at most once a minute per reason.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log::warn;
use rdkafka::error::RDKafkaErrorCode;

use super::status::lock;
use super::warnings::Sampled;

/// How often a warning of one reason is logged at most.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// Why Kafka could not be read, as `analyzer_kafka_errors_total{reason}` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorReason {
    /// A batch in a compression codec this build cannot decompress.
    UnsupportedCodec,
    /// A batch that does not decode: bad compression data, bad CRC, truncated.
    CorruptBatch,
    /// The broker refused by ACL (topic, group or cluster authorization).
    Authorization,
    /// SASL authentication failed.
    Authentication,
    /// The TLS handshake failed: untrusted or expired certificate, wrong name.
    Tls,
    /// No broker could be reached or the connection dropped.
    Connection,
    /// A topic could not be described (missing, or its metadata failed).
    Topic,
    /// Anything else librdkafka reports.
    Other,
}

impl ErrorReason {
    /// Every reason, in label order.
    pub const ALL: [ErrorReason; 8] = [
        ErrorReason::UnsupportedCodec,
        ErrorReason::CorruptBatch,
        ErrorReason::Authorization,
        ErrorReason::Authentication,
        ErrorReason::Tls,
        ErrorReason::Connection,
        ErrorReason::Topic,
        ErrorReason::Other,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorReason::UnsupportedCodec => "unsupported_codec",
            ErrorReason::CorruptBatch => "corrupt_batch",
            ErrorReason::Authorization => "authorization",
            ErrorReason::Authentication => "authentication",
            ErrorReason::Tls => "tls",
            ErrorReason::Connection => "connection",
            ErrorReason::Topic => "topic",
            ErrorReason::Other => "other",
        }
    }

    /// The reason for librdkafka's `code` and text.
    pub fn of(code: RDKafkaErrorCode, message: &str) -> Self {
        use RDKafkaErrorCode as C;
        match code {
            C::NotImplemented if message.contains("ompression") => ErrorReason::UnsupportedCodec,
            C::BadCompression | C::BadMessage | C::InvalidMessage | C::InvalidRecord => {
                ErrorReason::CorruptBatch
            }
            C::TopicAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::TransactionalIdAuthorizationFailed => ErrorReason::Authorization,
            C::Authentication | C::SaslAuthenticationFailed => ErrorReason::Authentication,
            C::SSL => ErrorReason::Tls,
            // A handshake that the peer broke off is reported as a transport error.
            C::BrokerTransportFailure | C::AllBrokersDown | C::Resolve
                if message.contains("SSL") || message.contains("TLS") =>
            {
                ErrorReason::Tls
            }
            C::BrokerTransportFailure | C::AllBrokersDown | C::Resolve | C::OperationTimedOut => {
                ErrorReason::Connection
            }
            C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition => {
                ErrorReason::Topic
            }
            _ => ErrorReason::Other,
        }
    }
}

/// One error that keeps ingest from reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// librdkafka's name for the error code, like `TopicAuthorizationFailed`.
    pub code: String,
    /// What librdkafka said.
    pub message: String,
    /// Since when it has been failing so, ms since the epoch.
    pub since_ms: u64,
    /// Its class.
    pub reason: ErrorReason,
    /// For a partition's error, the offset it failed at, when librdkafka names one.
    pub offset: Option<i64>,
}

/// The errors that keep ingest from reading, shared with HTTP and metrics.
pub struct ReadErrors {
    client: Mutex<Option<ReadError>>,
    partitions: Mutex<BTreeMap<(String, i32), ReadError>>,
    /// Spares the per-message path a lock: set while any error is kept.
    any: AtomicBool,
    counts: [AtomicU64; ErrorReason::ALL.len()],
    /// A warning limiter per reason.
    warnings: Mutex<[Sampled; ErrorReason::ALL.len()]>,
}

impl Default for ReadErrors {
    fn default() -> Self {
        ReadErrors {
            client: Mutex::default(),
            partitions: Mutex::default(),
            any: AtomicBool::new(false),
            counts: Default::default(),
            warnings: Mutex::new(std::array::from_fn(|_| Sampled::every(LOG_EVERY))),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `error`, keeping the `since` of `previous` while the code is the same.
fn continued(
    previous: Option<&ReadError>,
    code: RDKafkaErrorCode,
    message: &str,
    offset: Option<i64>,
) -> ReadError {
    let code_name = format!("{code:?}");
    let since_ms = previous
        .filter(|p| p.code == code_name)
        .map_or_else(now_ms, |p| p.since_ms);
    ReadError {
        code: code_name,
        message: message.to_owned(),
        since_ms,
        reason: ErrorReason::of(code, message),
        offset,
    }
}

impl ReadErrors {
    /// Records an error of the client as a whole (no partition named).
    pub(super) fn client_failed(&self, code: RDKafkaErrorCode, message: &str) {
        let mut client = lock(&self.client);
        let error = continued(client.as_ref(), code, message, None);
        self.count_and_log(&error, "Kafka client");
        // "1/1 brokers are down" follows each failed connection: it must not hide
        // why they failed (a TLS handshake, SASL).
        if code != RDKafkaErrorCode::AllBrokersDown || client.is_none() {
            *client = Some(error);
        }
        self.any.store(true, Ordering::Release);
    }

    /// Records that `topic` could not be described.
    pub(super) fn topic_failed(&self, topic: &str, code: RDKafkaErrorCode) {
        self.client_failed(code, &format!("topic {topic:?} cannot be read: {code}"));
    }

    /// Records an error of one partition, at `offset` (negative: none named).
    pub(super) fn partition_failed(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        code: RDKafkaErrorCode,
        message: &str,
    ) {
        let mut partitions = lock(&self.partitions);
        let key = (topic.to_owned(), partition);
        let offset = (offset >= 0).then_some(offset);
        let error = continued(partitions.get(&key), code, message, offset);
        self.count_and_log(&error, &format!("{topic}/{partition}"));
        partitions.insert(key, error);
        self.any.store(true, Ordering::Release);
    }

    /// Whether any error is kept: one atomic load, so that readers without errors
    /// take no lock.
    pub(super) fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Whether some partition cannot be read.
    pub(super) fn any_partition(&self) -> bool {
        self.any() && !lock(&self.partitions).is_empty()
    }

    /// `topic`/`partition` was read to its end: it reads again, and so does the
    /// client.
    pub(super) fn read_to_end(&self, topic: &str, partition: i32) {
        if self.any() {
            self.clear_partition_if(topic, partition, |_| true);
            self.client_recovered_if(|_| true);
        }
    }

    /// Records up to `next_offset` of `topic`/`partition` were indexed: past the
    /// offset it failed at, it reads again (checked at each statistics report).
    pub(super) fn indexed_to(&self, topic: &str, partition: i32, next_offset: i64) {
        if self.any() {
            self.clear_partition_if(topic, partition, |e| {
                e.offset.is_some_and(|failed| next_offset > failed)
            });
        }
    }

    fn clear_partition_if(&self, topic: &str, partition: i32, over: impl Fn(&ReadError) -> bool) {
        let mut partitions = lock(&self.partitions);
        let key = (topic.to_owned(), partition);
        if partitions.get(&key).is_some_and(over)
            && let Some(error) = partitions.remove(&key)
        {
            log::info!(
                "{topic}/{partition} is read again (it failed with {} for {} ms)",
                error.code,
                now_ms().saturating_sub(error.since_ms)
            );
        }
    }

    /// Every broker is up: the client's error, if any, is over.
    pub(super) fn client_recovered(&self) {
        if self.any() {
            self.client_recovered_if(|_| true);
        }
    }

    /// Every topic could be described again.
    pub(super) fn topics_recovered(&self) {
        self.client_recovered_if(|e| e.reason == ErrorReason::Topic);
    }

    fn client_recovered_if(&self, over: impl Fn(&ReadError) -> bool) {
        let mut client = lock(&self.client);
        if let Some(error) = client.take_if(|e| over(e)) {
            log::info!(
                "the Kafka client reads again (it failed with {} for {} ms)",
                error.code,
                now_ms().saturating_sub(error.since_ms)
            );
        }
        let partitions = lock(&self.partitions);
        self.any.store(
            client.is_some() || !partitions.is_empty(),
            Ordering::Release,
        );
    }

    fn count_and_log(&self, error: &ReadError, what: &str) {
        let i = ErrorReason::ALL
            .iter()
            .position(|r| *r == error.reason)
            .unwrap_or(ErrorReason::ALL.len() - 1);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        if let Some(count) = lock(&self.warnings)[i].due() {
            let more = match count {
                1 => String::new(),
                n => format!(" ({} more of this kind since the last warning)", n - 1),
            };
            warn!(
                "{what} cannot be read ({}): {}: {}; retrying{more}",
                error.reason.as_str(),
                error.code,
                error.message
            );
        }
    }

    /// The client's own error, while it lasts.
    pub fn client(&self) -> Option<ReadError> {
        lock(&self.client).clone()
    }

    /// The error of `topic`/`partition`, while it lasts.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<ReadError> {
        if !self.any() {
            return None;
        }
        lock(&self.partitions)
            .get(&(topic.to_owned(), partition))
            .cloned()
    }

    /// Every partition that cannot be read, with its error.
    pub fn partitions(&self) -> Vec<((String, i32), ReadError)> {
        lock(&self.partitions)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Errors seen since start, by reason (every reason listed).
    pub fn counts(&self) -> Vec<(ErrorReason, u64)> {
        ErrorReason::ALL
            .iter()
            .zip(&self.counts)
            .map(|(reason, count)| (*reason, count.load(Ordering::Relaxed)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_follow_librdkafkas_codes_and_text() {
        use RDKafkaErrorCode as C;
        let cases = [
            (
                C::NotImplemented,
                "Decompression (codec 0x7) of message at 3 of 90 bytes failed: Local: Not implemented",
                ErrorReason::UnsupportedCodec,
            ),
            (C::BadCompression, "x", ErrorReason::CorruptBatch),
            (C::TopicAuthorizationFailed, "x", ErrorReason::Authorization),
            (
                C::Authentication,
                "SASL SCRAM-SHA-512 failed",
                ErrorReason::Authentication,
            ),
            (
                C::SSL,
                "SSL handshake failed: certificate verify failed",
                ErrorReason::Tls,
            ),
            (
                C::BrokerTransportFailure,
                "SSL handshake failed: Disconnected",
                ErrorReason::Tls,
            ),
            (
                C::AllBrokersDown,
                "1/1 brokers are down",
                ErrorReason::Connection,
            ),
            (C::NotImplemented, "something else", ErrorReason::Other),
        ];
        for (code, message, reason) in cases {
            assert_eq!(
                ErrorReason::of(code, message),
                reason,
                "{code:?}: {message}"
            );
        }
    }

    #[test]
    fn a_partition_error_lasts_until_the_partition_is_read_and_keeps_its_start() {
        let errors = ReadErrors::default();
        assert!(errors.partition("t", 0).is_none());
        errors.partition_failed("t", 0, 7, RDKafkaErrorCode::BadCompression, "first");
        let since = errors.partition("t", 0).map(|e| e.since_ms);
        std::thread::sleep(Duration::from_millis(5));
        errors.partition_failed("t", 0, 7, RDKafkaErrorCode::BadCompression, "again");
        let again = errors.partition("t", 0);
        assert_eq!(again.as_ref().map(|e| e.since_ms), since);
        assert_eq!(again.map(|e| e.message).as_deref(), Some("again"));
        // Another partition's end clears nothing, nor records up to the failed
        // offset; records past it do, and so does the partition's end.
        errors.read_to_end("t", 1);
        errors.indexed_to("t", 0, 7);
        assert!(errors.partition("t", 0).is_some());
        errors.indexed_to("t", 0, 8);
        assert!(errors.partition("t", 0).is_none());
        errors.partition_failed("t", 0, -1, RDKafkaErrorCode::BadCompression, "no offset");
        errors.indexed_to("t", 0, 1_000);
        assert!(errors.partition("t", 0).is_some(), "no offset to pass");
        errors.read_to_end("t", 0);
        assert!(errors.partition("t", 0).is_none());
        assert!(errors.partitions().is_empty());
        assert!(!errors.any());
        let counted: u64 = errors.counts().iter().map(|(_, n)| n).sum();
        assert_eq!(counted, 3);
    }

    #[test]
    fn the_client_error_lasts_until_it_recovers() {
        let errors = ReadErrors::default();
        errors.client_failed(RDKafkaErrorCode::SSL, "SSL handshake failed");
        assert_eq!(errors.client().map(|e| e.reason), Some(ErrorReason::Tls));
        errors.topics_recovered();
        assert!(errors.client().is_some(), "not a topic's error");
        errors.client_recovered();
        assert!(errors.client().is_none());
        assert!(!errors.any());
        errors.topic_failed("t", RDKafkaErrorCode::UnknownTopicOrPartition);
        assert_eq!(errors.client().map(|e| e.reason), Some(ErrorReason::Topic));
        errors.topics_recovered();
        assert!(errors.client().is_none());
    }
}
