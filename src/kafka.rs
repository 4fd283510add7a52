//! Shared librdkafka plumbing: how client errors are logged, and the context the
//! point-read consumers use.

use log::{debug, warn};
use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Logs a client-level error, except partition EOF, which is a normal event here
/// (it is how analyzer learns it has read a partition to its end).
pub fn log_client_error(error: &KafkaError, reason: &str) {
    if !matches!(error, KafkaError::Global(RDKafkaErrorCode::PartitionEOF)) {
        warn!("librdkafka: {error}: {reason}");
    }
}

/// Context for the point-read consumers: their client-level errors and logs go to
/// debug. A failed read already answers its request with 503 and the error, and the
/// ingest consumer reports the broker's state for the process; these consumers are
/// only polled during a read, so their events would otherwise pile up and all be
/// logged at once when they are dropped.
#[derive(Debug, Default, Clone, Copy)]
pub struct QuietContext;

impl ClientContext for QuietContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        debug!(target: "librdkafka", "point-read client ({level:?}): {fac} {log_message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        debug!("point-read client: {error}: {reason}");
    }
}

impl ConsumerContext for QuietContext {}
