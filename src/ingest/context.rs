//! The librdkafka client context of the ingest consumer: it keeps the latest
//! statistics, records the errors that keep ingest from reading (see
//! [`super::read_errors`]) and any fatal error, and answers OAUTHBEARER token
//! refreshes (MSK IAM). librdkafka calls it on the ingest thread, from `poll`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rdkafka::ClientContext;
use rdkafka::client::OAuthToken;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;

use super::status::{BrokerReport, IngestStatus, lock};
use crate::kafka::TokenSource;

/// Offsets a partition's latest Fetch reported, via librdkafka's statistics.
#[derive(Debug, Clone, Copy)]
pub(super) struct FetchedOffsets {
    pub(super) low: i64,
    pub(super) high: i64,
    pub(super) eof: i64,
}

/// The latest statistics report, reduced to what ingest uses.
#[derive(Debug, Clone, Default)]
pub(super) struct StatsSnapshot {
    pub(super) partitions: HashMap<(String, i32), FetchedOffsets>,
    pub(super) brokers: Vec<BrokerReport>,
}

/// Keeps the latest statistics, the errors that keep ingest from reading and any
/// fatal error; called on the ingest thread by poll.
pub(super) struct IngestContext {
    pub(super) latest: Mutex<StatsSnapshot>,
    pub(super) fresh: AtomicBool,
    // The flag spares the per-message loop a lock.
    pub(super) failed: AtomicBool,
    pub(super) fatal: Mutex<Option<String>>,
    pub(super) status: Arc<IngestStatus>,
    /// Set by `partition_error` for the `error` call that follows it.
    pub(super) attributed: AtomicBool,
    /// Answers librdkafka's OAUTHBEARER token refresh (MSK IAM).
    pub(super) tokens: TokenSource,
    /// The partition and offset of the partition EOF being polled (librdkafka's
    /// event names them; rust-rdkafka's error, the partition number only).
    pub(super) eof: Mutex<Option<(String, i32, i64)>>,
}

/// Errors that retrying cannot fix. Authentication and authorization failures are
/// not among them: credentials rotate and ACLs get fixed, and librdkafka retries.
pub(super) fn is_fatal(code: RDKafkaErrorCode) -> bool {
    code == RDKafkaErrorCode::Fatal
}

impl ClientContext for IngestContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(
        &self,
        _config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        self.tokens.generate().inspect_err(|e| {
            self.status.read_errors.client_failed(
                RDKafkaErrorCode::Authentication,
                &format!("no OAUTHBEARER token: {e}"),
            )
        })
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if self.attributed.swap(false, Ordering::AcqRel) {
            return; // recorded with its partition just before
        }
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::PartitionEOF) => {}
            Some(code) if is_fatal(code) => {
                lock(&self.fatal).get_or_insert_with(|| format!("{error}: {reason}"));
                self.failed.store(true, Ordering::Release);
                crate::kafka::log_client_error(&error, reason);
            }
            Some(code) => self.status.read_errors.client_failed(code, reason),
            None => crate::kafka::log_client_error(&error, reason),
        }
    }

    fn partition_error(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        code: RDKafkaErrorCode,
        reason: &str,
    ) {
        let errors = &self.status.read_errors;
        if code == RDKafkaErrorCode::PartitionEOF {
            // Read to its end: the partition (and the client) read again.
            errors.read_to_end(topic, partition);
            *lock(&self.eof) = Some((topic.to_owned(), partition, offset));
        } else if !is_fatal(code) {
            self.attributed.store(true, Ordering::Release);
            errors.partition_failed(topic, partition, offset, code, reason);
        }
    }

    fn stats(&self, statistics: Statistics) {
        let mut snapshot = StatsSnapshot::default();
        for (name, topic) in statistics.topics {
            for (id, p) in topic.partitions {
                if id >= 0 {
                    let offsets = FetchedOffsets {
                        low: p.lo_offset,
                        high: p.hi_offset,
                        eof: p.eof_offset,
                    };
                    snapshot.partitions.insert((name.clone(), id), offsets);
                }
            }
        }
        snapshot.brokers = statistics
            .brokers
            .into_values()
            .filter(|b| b.nodeid >= 0)
            .map(|b| BrokerReport {
                name: b.name,
                state: b.state,
            })
            .collect();
        snapshot.brokers.sort_by(|a, b| a.name.cmp(&b.name));
        if !snapshot.brokers.is_empty() && snapshot.brokers.iter().all(|b| b.state == "UP") {
            self.status.read_errors.client_recovered();
        }
        *lock(&self.latest) = snapshot;
        self.fresh.store(true, Ordering::Release);
    }
}

impl ConsumerContext for IngestContext {}

impl IngestContext {
    pub(super) fn new(status: Arc<IngestStatus>, tokens: TokenSource) -> Self {
        IngestContext {
            tokens,
            eof: Mutex::new(None),
            latest: Mutex::default(),
            fresh: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            fatal: Mutex::new(None),
            status,
            attributed: AtomicBool::new(false),
        }
    }

    /// The latest statistics if they arrived since the last call.
    pub(super) fn take_fresh(&self) -> Option<StatsSnapshot> {
        self.fresh
            .swap(false, Ordering::AcqRel)
            .then(|| lock(&self.latest).clone())
    }

    pub(super) fn fatal(&self) -> Option<String> {
        if self.failed.load(Ordering::Acquire) {
            lock(&self.fatal).clone()
        } else {
            None
        }
    }
}
