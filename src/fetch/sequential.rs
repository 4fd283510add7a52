//! Reading many events in order (an export): one consumer for the whole read, one
//! queue per partition it meets, each positioned once at the first offset wanted
//! there and then read forward while librdkafka prefetches. A page of point reads
//! paid one held broker fetch per page instead: 19 s against the plain consumer's
//! 0.9 s for an export of 400,000 events (BENCHMARKS.md, "Export").

use hashbrown::HashMap;
use hashbrown::hash_map::Entry;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::reader::time_left;
use super::{FetchError, Payload};
use crate::kafka::QuietContext;
use crate::view::{Position, TopicId, Topics};

/// Consumers kept between sequential reads.
const IDLE_CONSUMERS: usize = 2;

/// The consumers of ended sequential reads, for the next ones.
pub(super) type IdleConsumers = Arc<Mutex<Vec<Arc<BaseConsumer<QuietContext>>>>>;

/// Reads the messages at positions asked for in (mostly) ascending order per
/// partition. Blocking: run it on a thread of its own.
pub struct SequentialRead {
    consumer: Arc<BaseConsumer<QuietContext>>,
    partitions: HashMap<(TopicId, i32), PartitionRead>,
    topics: Topics,
    timeout: Duration,
    /// Where the consumer goes when the read ends, for the next one.
    idle: IdleConsumers,
    /// Time spent waiting for messages (see [`SequentialRead::take_waited`]).
    waited: Duration,
}

/// One partition's queue and where it stands.
struct PartitionRead {
    queue: PartitionQueue<QuietContext>,
    /// The offset the queue delivers next.
    next: i64,
    /// Offsets below this are gone (retention), as the broker last said.
    log_start: i64,
    /// A message read past an offset that was gone (compaction): the next one
    /// asked for may be this one.
    ahead: Option<(i64, Payload)>,
}

impl SequentialRead {
    /// A read with an idle consumer of an earlier one, else a new client of
    /// `config` (it connects at its first message).
    pub(super) fn new(
        config: &ClientConfig,
        context: QuietContext,
        idle: &IdleConsumers,
        topics: Topics,
        timeout: Duration,
    ) -> Result<SequentialRead, FetchError> {
        let reused = idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let consumer = match reused {
            Some(consumer) => consumer,
            None => Arc::new(config.create_with_context(context)?),
        };
        Ok(SequentialRead {
            consumer,
            partitions: HashMap::default(),
            topics,
            timeout,
            idle: Arc::clone(idle),
            waited: Duration::ZERO,
        })
    }

    /// The message at `position`; None when Kafka no longer has it. Gives up after
    /// the timeout passes with no message from its partition.
    pub fn read(&mut self, position: Position) -> Result<Option<Payload>, FetchError> {
        let Position {
            topic,
            partition,
            offset,
        } = position;
        let name = self.topics.name(topic);
        let read = match self.partitions.entry((topic, partition)) {
            Entry::Occupied(read) => read.into_mut(),
            Entry::Vacant(slot) => slot.insert(start(&self.consumer, name, partition, offset)?),
        };
        if offset < read.log_start {
            return Ok(None);
        }
        match read.ahead.take() {
            Some((at, payload)) if at == offset => return Ok(Some(payload)),
            Some(ahead) if ahead.0 > offset => {
                read.ahead = Some(ahead);
                return Ok(None);
            }
            _ => {}
        }
        // Asked behind where the queue is (an index that settled elsewhere): back.
        if offset < read.next {
            seek(&self.consumer, name, partition, offset, self.timeout)?;
            read.next = offset;
        }
        let mut last_error = None;
        // Set when the queue first has nothing ready: a prefetched message is taken
        // without asking the clock (reading it per message was 7% of an export).
        let mut deadline: Option<Instant> = None;
        loop {
            let polled = match read.queue.poll(Duration::ZERO) {
                Some(polled) => Some(polled),
                None => {
                    let until = *deadline.get_or_insert_with(|| Instant::now() + self.timeout);
                    let waiting = Instant::now();
                    let polled = read
                        .queue
                        .poll(time_left(until, self.timeout, &mut last_error)?);
                    self.waited += waiting.elapsed();
                    polled
                }
            };
            match polled {
                Some(Ok(message)) => {
                    deadline = None;
                    read.next = message.offset() + 1;
                    if message.offset() < offset {
                        continue;
                    }
                    let payload = Payload::of_message(&message, true);
                    if message.offset() == offset {
                        return Ok(Some(payload));
                    }
                    // Passed over: compacted away.
                    read.ahead = Some((message.offset(), payload));
                    return Ok(None);
                }
                // The end of the log: the offset is gone only if the log now ends
                // before it (an end event can be older than what was indexed since).
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    let (low, high) =
                        self.consumer
                            .fetch_watermarks(name, partition, self.timeout)?;
                    read.log_start = low;
                    if offset < low || offset >= high {
                        return Ok(None);
                    }
                }
                // Below the log start: asked once, every offset under it is gone.
                Some(Err(KafkaError::MessageConsumption(
                    RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange,
                ))) => {
                    deadline = None;
                    let (low, _) = self
                        .consumer
                        .fetch_watermarks(name, partition, self.timeout)?;
                    read.log_start = low;
                    let from = offset.max(low);
                    seek(&self.consumer, name, partition, from, self.timeout)?;
                    read.next = from;
                    if offset < low {
                        return Ok(None);
                    }
                }
                Some(Err(error)) => last_error = Some(error),
                None => {}
            }
        }
    }

    /// Time spent waiting for Kafka since the last call.
    pub fn take_waited(&mut self) -> Duration {
        std::mem::take(&mut self.waited)
    }

    /// Serves the client's callbacks (its main queue), as librdkafka asks of an
    /// application that splits partitions into queues of their own.
    pub fn serve(&self) {
        let _ = self.consumer.poll(Duration::ZERO);
    }
}

impl Drop for SequentialRead {
    /// Keeps the consumer for the next read (up to [`IDLE_CONSUMERS`]), unassigned:
    /// a client made and closed per export started librdkafka's threads anew each
    /// time, and RSS grew by 8 MiB an export (glibc gives each new thread an arena
    /// until it has 8 a core), where a reused one stayed flat.
    fn drop(&mut self) {
        self.partitions.clear(); // the queues hold the consumer too
        if Arc::strong_count(&self.consumer) > 1 || self.consumer.unassign().is_err() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_CONSUMERS {
            idle.push(Arc::clone(&self.consumer));
        }
    }
}

/// Starts reading `partition` at `offset`: its own queue first, then assigned
/// (added to what the consumer already reads), so none of its messages reach the
/// main queue.
fn start(
    consumer: &Arc<BaseConsumer<QuietContext>>,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<PartitionRead, FetchError> {
    let queue = consumer
        .split_partition_queue(topic, partition)
        .ok_or_else(|| {
            FetchError::Client(KafkaError::Subscription(format!(
                "no queue for {topic}/{partition}"
            )))
        })?;
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, partition, Offset::Offset(offset))?;
    consumer.incremental_assign(&assignment)?;
    Ok(PartitionRead {
        queue,
        next: offset,
        log_start: 0,
        ahead: None,
    })
}

fn seek(
    consumer: &BaseConsumer<QuietContext>,
    topic: &str,
    partition: i32,
    offset: i64,
    timeout: Duration,
) -> Result<(), FetchError> {
    consumer.seek(topic, partition, Offset::Offset(offset), timeout)?;
    Ok(())
}
