//! Point reads: the single message at a position, read by a small pool of warm
//! consumers, within one deadline per lookup; and the client a sequential read
//! (an export) makes for itself.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::Semaphore;

use super::sequential::{IdleConsumers, SequentialRead};
use super::{FetchError, Payload};
use crate::kafka::QuietContext;
use crate::view::{Position, TopicId, Topics};

/// Reads single messages by position with a small pool of reusable consumers.
pub struct KafkaReader {
    topics: Topics,
    config: ClientConfig,
    /// The configuration of a sequential read's own consumer.
    export_config: ClientConfig,
    /// Sequential reads' consumers between reads.
    export_idle: IdleConsumers,
    /// Cloned into each consumer (it carries the OAUTHBEARER token source).
    context: QuietContext,
    idle: Mutex<Vec<BaseConsumer<QuietContext>>>,
    permits: Arc<Semaphore>,
    timeout: Duration,
}

impl KafkaReader {
    /// Creates `pool_size` consumers up front so requests never pay for client
    /// creation. A read answers within `timeout`, waiting for a free consumer included.
    /// A sequential read makes its own client of `export_config`.
    pub fn new(
        topics: Topics,
        config: ClientConfig,
        export_config: ClientConfig,
        context: QuietContext,
        pool_size: usize,
        timeout: Duration,
    ) -> Result<Self, KafkaError> {
        let idle = (0..pool_size)
            .map(|_| config.create_with_context(context.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KafkaReader {
            topics,
            config,
            export_config,
            export_idle: IdleConsumers::default(),
            context,
            idle: Mutex::new(idle),
            permits: Arc::new(Semaphore::new(pool_size)),
            timeout,
        })
    }

    /// The message at `position`, or an error once the reader's timeout has passed
    /// since the call, however many other reads were waiting for a consumer.
    pub async fn read(self: &Arc<Self>, position: Position) -> Result<Payload, FetchError> {
        let deadline = Instant::now() + self.timeout;
        self.with_consumer(deadline, move |consumer, topics, timeout| {
            let topic = topics.name(position.topic);
            read_at(consumer, topic, position, deadline, timeout)
        })
        .await
    }

    /// The messages of one partition at `offsets` (ascending), read in one pass by one
    /// consumer: assigned at the first, polled forward to the last, skipping the rest.
    /// An offset the log no longer has gives None. It gives up after the reader's
    /// timeout passes with no message, not after a fixed total: a long span is fine.
    pub async fn read_span(
        self: &Arc<Self>,
        topic: TopicId,
        partition: i32,
        offsets: Vec<i64>,
    ) -> Result<Vec<Option<Payload>>, FetchError> {
        let deadline = Instant::now() + self.timeout;
        self.with_consumer(deadline, move |consumer, topics, timeout| {
            span_at(consumer, topics.name(topic), partition, &offsets, timeout)
        })
        .await
    }

    /// A sequential read of its own (see [`SequentialRead`]).
    pub fn sequential(&self) -> Result<SequentialRead, FetchError> {
        SequentialRead::new(
            &self.export_config,
            self.context.clone(),
            &self.export_idle,
            self.topics.clone(),
            self.timeout,
        )
    }

    /// Runs `read` on a pooled consumer on a blocking thread, waiting for a free one
    /// until `deadline`; the consumer goes back to the pool (unassigned) afterwards.
    async fn with_consumer<T: Send + 'static>(
        self: &Arc<Self>,
        deadline: Instant,
        read: impl FnOnce(&BaseConsumer<QuietContext>, &Topics, Duration) -> Result<T, FetchError>
        + Send
        + 'static,
    ) -> Result<T, FetchError> {
        let unavailable = || FetchError::Unavailable {
            timeout_ms: self.timeout.as_millis(),
            last_error: None,
        };
        let permit =
            tokio::time::timeout_at(deadline.into(), Arc::clone(&self.permits).acquire_owned())
                .await
                .map_err(|_| unavailable())?
                .map_err(|_| unavailable())?;
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let consumer = match pooled {
            Some(consumer) => consumer,
            // Only after a blocking task died with its consumer.
            None => self.config.create_with_context(self.context.clone())?,
        };
        let reader = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            let result = read(&consumer, &reader.topics, reader.timeout);
            // Stop prefetching from this partition until the next request.
            let _ = consumer.unassign();
            reader
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(consumer);
            // Released with its consumer back in the pool, even if the request that
            // asked was dropped meanwhile.
            drop(permit);
            result
        });
        task.await.map_err(|_| unavailable())?
    }
}

/// What is left until `deadline`, or the error once it has passed (with the last
/// client error seen, if any).
pub(super) fn time_left(
    deadline: Instant,
    timeout: Duration,
    last_error: &mut Option<KafkaError>,
) -> Result<Duration, FetchError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(FetchError::Unavailable {
            timeout_ms: timeout.as_millis(),
            last_error: last_error.take(),
        });
    }
    Ok(left)
}

fn span_at(
    consumer: &BaseConsumer<QuietContext>,
    topic: &str,
    partition: i32,
    offsets: &[i64],
    timeout: Duration,
) -> Result<Vec<Option<Payload>>, FetchError> {
    let mut found: Vec<Option<Payload>> = Vec::with_capacity(offsets.len());
    let mut last_error = None;
    let assign_at = |offset: i64| -> Result<(), FetchError> {
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(topic, partition, Offset::Offset(offset))?;
        consumer.assign(&assignment)?;
        Ok(())
    };
    if let Some(first) = offsets.first() {
        assign_at(*first)?;
    }
    let mut deadline = Instant::now() + timeout;
    while found.len() < offsets.len() {
        match consumer.poll(time_left(deadline, timeout, &mut last_error)?) {
            Some(Ok(message)) if message.topic() == topic && message.partition() == partition => {
                deadline = Instant::now() + timeout;
                // Offsets passed over are gone (compaction or retention).
                while offsets
                    .get(found.len())
                    .is_some_and(|&o| o < message.offset())
                {
                    found.push(None);
                }
                if offsets.get(found.len()) == Some(&message.offset()) {
                    found.push(Some(Payload::of_message(&message, true)));
                }
            }
            // The end of the log before the offsets wanted: the rest are gone.
            Some(Err(KafkaError::PartitionEOF(p))) if p == partition => {
                found.resize(offsets.len(), None);
            }
            // Below the log start: every offset under it is gone. Asking the log start
            // once, not reassigning offset by offset: each refusal is a broker round
            // trip, and a page over 70 deleted events took longer than the timeout
            // on a slow broker (tansu over object storage in CI).
            Some(Err(KafkaError::MessageConsumption(
                RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange,
            ))) => {
                deadline = Instant::now() + timeout;
                let left = time_left(deadline, timeout, &mut last_error)?;
                let log_start = match consumer.fetch_watermarks(topic, partition, left) {
                    Ok((low, _)) => low,
                    // Unknown: at least the offset refused is gone.
                    Err(_) => offsets.get(found.len()).map_or(i64::MAX, |o| o + 1),
                };
                while offsets.get(found.len()).is_some_and(|&o| o < log_start) {
                    found.push(None);
                }
                if let Some(next) = offsets.get(found.len()) {
                    assign_at(*next)?;
                }
            }
            Some(Err(error)) => last_error = Some(error),
            Some(Ok(_)) | None => {}
        }
    }
    Ok(found)
}

fn read_at(
    consumer: &BaseConsumer<QuietContext>,
    topic: &str,
    position: Position,
    deadline: Instant,
    timeout: Duration,
) -> Result<Payload, FetchError> {
    let Position {
        partition, offset, ..
    } = position;
    let gone = || FetchError::Gone {
        topic: topic.to_owned(),
        partition,
        offset,
    };
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, partition, Offset::Offset(offset))?;
    consumer.assign(&assignment)?;
    let mut last_error = None;
    loop {
        match consumer.poll(time_left(deadline, timeout, &mut last_error)?) {
            Some(Ok(message)) if message.topic() == topic && message.partition() == partition => {
                if message.offset() == offset {
                    return Ok(Payload::of_message(&message, true));
                }
                if message.offset() > offset {
                    return Err(gone());
                }
            }
            // Reached the end without meeting the offset, or the offset is below the
            // log start (auto.offset.reset=error): the message is not there any more.
            Some(Err(KafkaError::PartitionEOF(p))) if p == partition => return Err(gone()),
            Some(Err(KafkaError::MessageConsumption(
                RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange,
            ))) => return Err(gone()),
            Some(Err(error)) => last_error = Some(error),
            Some(Ok(_)) | None => {}
        }
    }
}
