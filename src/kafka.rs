//! Shared librdkafka plumbing: how client errors are logged, and the context the
//! point-read consumers use.

use log::warn;
use rdkafka::ClientContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Logs a client-level error, except partition EOF, which is a normal event here
/// (it is how analyzer learns it has read a partition to its end).
pub fn log_client_error(error: &KafkaError, reason: &str) {
    if !matches!(error, KafkaError::Global(RDKafkaErrorCode::PartitionEOF)) {
        warn!("librdkafka: {error}: {reason}");
    }
}

/// Client context for consumers that need nothing but quiet EOFs.
#[derive(Debug, Default, Clone, Copy)]
pub struct QuietContext;

impl ClientContext for QuietContext {
    fn error(&self, error: KafkaError, reason: &str) {
        log_client_error(&error, reason);
    }
}

impl ConsumerContext for QuietContext {}
