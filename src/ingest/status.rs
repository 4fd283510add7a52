//! What the ingest thread publishes for the rest of the process: its state, per
//! partition and per broker, and the unclassified counts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::read_errors::ReadErrors;
use crate::classify::Unclassified;
use crate::view::TopicId;

/// One partition, as the ingest thread last published it (about once a second).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionReport {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Next offset to index: one past the last indexed event.
    pub next_offset: i64,
    /// Where reading stands: `next_offset`, or past it up to the end last read
    /// when only control records (transaction markers) or aborted ones follow.
    pub position: i64,
    /// End of the log as the latest Fetch reported it, once known.
    pub high_watermark: Option<i64>,
    /// First offset still in the log, once known.
    pub log_start_offset: Option<i64>,
    /// Read to its end at least once since it was (re)assigned, and not failing
    /// to read now (a partition that cannot read its lag is never caught up).
    pub caught_up: bool,
}

impl PartitionReport {
    /// Offsets behind the end of the log, once the end is known.
    pub fn lag(&self) -> Option<i64> {
        self.high_watermark.map(|hw| (hw - self.position).max(0))
    }

    /// Catch-up progress as (offsets read, offsets to read), both from the log start.
    pub fn progress(&self) -> (u64, u64) {
        let start = self.log_start_offset.unwrap_or(0).max(0);
        let end = match self.high_watermark {
            Some(hw) => hw,
            None if self.caught_up => self.position,
            None => start,
        }
        .max(start);
        let read = (self.position.max(start) - start).min(end - start);
        (read as u64, (end - start) as u64)
    }
}

/// A broker's connection state, as librdkafka's statistics report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerReport {
    /// `host:port/id`.
    pub name: String,
    /// librdkafka's state: `UP`, `DOWN`, `CONNECT`, `AUTH`, `INIT`, ...
    pub state: String,
}

/// Snapshots: what was restored at start and the latest written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotReport {
    /// Events the index resumed with from a snapshot (0: none was used).
    pub restored_events: u64,
    /// When that snapshot was written, ms since the epoch.
    pub restored_from_ms: Option<u64>,
    /// Why the snapshot found at start was not used, if it was not.
    pub restore_error: Option<String>,
    /// When the latest snapshot was written, ms since the epoch.
    pub last_written_at_ms: Option<u64>,
    /// Events it holds.
    pub last_events: u64,
    /// Its size.
    pub last_bytes: u64,
    /// How long reading and writing it took (ingest went on meanwhile).
    pub last_write_ms: u64,
    /// Why the latest attempt failed, if it did.
    pub last_error: Option<String>,
}

/// What the ingest thread reports to the rest of the process.
pub struct IngestStatus {
    pub(super) running: AtomicBool,
    pub(super) ready: AtomicBool,
    pub(super) caught_up: AtomicBool,
    pub(super) fatal_error: Mutex<Option<String>>,
    pub(super) waiting_for: Mutex<Option<String>>,
    pub(super) snapshot: Mutex<SnapshotReport>,
    pub(super) events_read: AtomicU64,
    // Per topic, so a topic reset keeps the other topics' counts exact.
    pub(super) unclassified: Vec<[AtomicU64; Unclassified::ALL.len()]>,
    pub(super) duplicates_skipped: AtomicU64,
    pub(super) topic_resets: AtomicU64,
    pub(super) partitions: Mutex<Vec<PartitionReport>>,
    pub(super) brokers: Mutex<Vec<BrokerReport>>,
    pub(super) read_errors: ReadErrors,
}

impl IngestStatus {
    pub(super) fn new(topics: usize) -> Self {
        IngestStatus {
            running: AtomicBool::new(true),
            ready: AtomicBool::new(false),
            caught_up: AtomicBool::new(false),
            fatal_error: Mutex::new(None),
            waiting_for: Mutex::new(None),
            snapshot: Mutex::new(SnapshotReport::default()),
            events_read: AtomicU64::new(0),
            unclassified: (0..topics)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
            duplicates_skipped: AtomicU64::new(0),
            topic_resets: AtomicU64::new(0),
            partitions: Mutex::new(Vec::new()),
            brokers: Mutex::new(Vec::new()),
            read_errors: ReadErrors::default(),
        }
    }

    /// False once the ingest thread has stopped (shut down or failed fatally).
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// True once every assigned partition has been read to its end; stays true
    /// (a partition added or reset later does not make a serving pod unready).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// True while every assigned partition is read to its end and nothing keeps
    /// ingest from reading on (live; see `is_ready`).
    pub fn is_caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire) && !self.read_errors.any()
    }

    /// What keeps ingest from reading, per partition and for the client.
    pub fn read_errors(&self) -> &ReadErrors {
        &self.read_errors
    }

    /// Why ingest stopped, if it failed.
    pub fn fatal_error(&self) -> Option<String> {
        lock(&self.fatal_error).clone()
    }

    /// What ingest waits for before it indexes the next event, if anything.
    pub fn waiting_for(&self) -> Option<String> {
        lock(&self.waiting_for).clone()
    }

    /// Snapshots restored and written.
    pub fn snapshot(&self) -> SnapshotReport {
        lock(&self.snapshot).clone()
    }

    /// Events read from Kafka and indexed since this process started (a restart
    /// from a snapshot reads only what came after it).
    pub fn events_read(&self) -> u64 {
        self.events_read.load(Ordering::Relaxed)
    }

    /// Unclassified counts per topic, by reason name (zeros left out).
    pub(super) fn unclassified_by_topic(&self) -> Vec<Vec<(String, u64)>> {
        self.unclassified
            .iter()
            .map(|counts| {
                Unclassified::ALL
                    .iter()
                    .zip(counts)
                    .map(|(reason, count)| {
                        (reason.as_str().to_owned(), count.load(Ordering::Relaxed))
                    })
                    .filter(|(_, count)| *count > 0)
                    .collect()
            })
            .collect()
    }

    /// Sets a topic's count for a reason, by name (restoring a snapshot; a name
    /// this build does not know is left out).
    pub(super) fn restore_unclassified(&self, topic: TopicId, reason: &str, count: u64) {
        let reason = Unclassified::ALL.iter().position(|r| r.as_str() == reason);
        if let (Some(counts), Some(i)) = (self.unclassified.get(usize::from(topic.0)), reason) {
            counts[i].store(count, Ordering::Relaxed);
        }
    }

    /// Unclassified events in the view, by reason (every reason listed, zeros included).
    pub fn unclassified_counts(&self) -> BTreeMap<&'static str, u64> {
        Unclassified::ALL
            .iter()
            .enumerate()
            .map(|(i, reason)| {
                let count = self
                    .unclassified
                    .iter()
                    .map(|topic| topic[i].load(Ordering::Relaxed))
                    .sum();
                (reason.as_str(), count)
            })
            .collect()
    }

    /// Messages delivered again at an offset already indexed, and skipped.
    pub fn duplicates_skipped(&self) -> u64 {
        self.duplicates_skipped.load(Ordering::Relaxed)
    }

    /// Times a topic's log was found to end below what was indexed, and re-read.
    pub fn topic_resets(&self) -> u64 {
        self.topic_resets.load(Ordering::Relaxed)
    }

    /// Every assigned partition, as last published.
    pub fn partitions(&self) -> Vec<PartitionReport> {
        lock(&self.partitions).clone()
    }

    /// Every broker the client knows, as last reported.
    pub fn brokers(&self) -> Vec<BrokerReport> {
        lock(&self.brokers).clone()
    }

    pub(super) fn count_unclassified(&self, topic: TopicId, reason: Unclassified) {
        let reason = Unclassified::ALL.iter().position(|r| *r == reason);
        if let (Some(counts), Some(i)) = (self.unclassified.get(usize::from(topic.0)), reason) {
            counts[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn forget_unclassified(&self, topic: TopicId) {
        if let Some(counts) = self.unclassified.get(usize::from(topic.0)) {
            for count in counts {
                count.store(0, Ordering::Relaxed);
            }
        }
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
