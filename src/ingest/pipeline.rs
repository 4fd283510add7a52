//! The hand-off from the thread that polls Kafka to the thread that indexes.
//!
//! Why two threads: at catch-up the one ingest thread was the bottleneck (busy 80%
//! of the time, 0.9 s of CPU for 1M events: librdkafka's poll a third of it,
//! validating JSON and copying into the cache most of the rest) while a core stood
//! partly idle. Now the `ingest` thread polls and hands messages over in batches;
//! the `index` thread classifies, indexes and caches them in the order polled, and
//! runs the index's timers (settle, publish, snapshot). A polled message borrows
//! the consumer, so the two threads live in a scope that the consumer outlives.
//!
//! Whatever must see every message polled before it (statistics, partition EOF,
//! discovery, assignment) first waits for the index thread to drain ([`Handoff::sync`]):
//! the index is then exactly what a single thread would have built.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Mutex, MutexGuard};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Instant;

use rdkafka::message::BorrowedMessage;

use super::status::lock;
use super::{Indexer, PROGRESS_LOG_EVERY, SETTLE_EVERY, TICK};

/// Messages handed over at once: a channel send and a lock per this many.
const BATCH: usize = 256;
/// Batches handed over and not yet indexed: how far polling may run ahead.
const IN_FLIGHT: usize = 4;

/// What the index thread is sent, in the order polled.
enum Work<'c> {
    /// Messages to index.
    Messages(Vec<BorrowedMessage<'c>>),
    /// Answered once everything sent before it is indexed.
    Drained(SyncSender<()>),
}

/// The polling side of the hand-off: batches messages, and drains on demand.
pub(super) struct Handoff<'s, 'c> {
    batch: Vec<BorrowedMessage<'c>>,
    work: SyncSender<Work<'c>>,
    indexer: &'s Mutex<&'c mut Indexer>,
    worker: ScopedJoinHandle<'s, ()>,
}

impl<'s, 'c> Handoff<'s, 'c> {
    /// Starts the index thread in `scope`, indexing into `indexer`.
    pub(super) fn start(
        scope: &'s Scope<'s, '_>,
        indexer: &'s Mutex<&'c mut Indexer>,
    ) -> std::io::Result<Self> {
        let (work, received) = mpsc::sync_channel(IN_FLIGHT);
        let worker = std::thread::Builder::new()
            .name("index".into())
            .spawn_scoped(scope, move || index_work(&received, indexer))?;
        Ok(Handoff {
            batch: Vec::with_capacity(BATCH),
            work,
            indexer,
            worker,
        })
    }

    /// Queues `message` for indexing; hands the batch over once full.
    pub(super) fn push(&mut self, message: BorrowedMessage<'c>) {
        self.batch.push(message);
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    /// Hands over what is queued (polling found nothing more for now).
    pub(super) fn flush(&mut self) {
        if !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            // A send fails only when the index thread is gone; `alive` reports that.
            let _ = self.work.send(Work::Messages(batch));
        }
    }

    /// The indexer, once every message polled so far is indexed.
    pub(super) fn sync(&mut self) -> MutexGuard<'_, &'c mut Indexer> {
        self.flush();
        let (done, drained) = mpsc::sync_channel(1);
        if self.work.send(Work::Drained(done)).is_ok() {
            let _ = drained.recv();
        }
        lock(self.indexer)
    }

    /// False once the index thread has ended (it panicked: a bug).
    pub(super) fn alive(&self) -> bool {
        !self.worker.is_finished()
    }

    /// Indexes what is queued and waits for the index thread to end.
    pub(super) fn finish(mut self) {
        self.flush();
        drop(self.work);
        let _ = self.worker.join();
    }
}

/// The index thread: indexes what it is sent, and runs the index's timers.
fn index_work(received: &Receiver<Work<'_>>, indexer: &Mutex<&mut Indexer>) {
    let started = Instant::now();
    let mut next_settle = started + SETTLE_EVERY;
    let mut next_tick = started + TICK;
    let mut next_progress_log = started + PROGRESS_LOG_EVERY;
    let mut last_progress = (started, 0u64);
    loop {
        let wait = next_settle.saturating_duration_since(Instant::now());
        match received.recv_timeout(wait) {
            Ok(Work::Messages(batch)) => {
                let mut indexer = lock(indexer);
                for message in &batch {
                    indexer.index(message);
                }
            }
            Ok(Work::Drained(done)) => {
                let _ = done.send(());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        if now >= next_settle {
            next_settle = now + SETTLE_EVERY;
            lock(indexer).settle();
        }
        if now >= next_tick {
            next_tick = now + TICK;
            let mut indexer = lock(indexer);
            indexer.publish();
            indexer.maybe_snapshot(now);
            if indexer.caught_up_at.is_none() && now >= next_progress_log {
                next_progress_log = now + PROGRESS_LOG_EVERY;
                indexer.log_progress(&mut last_progress);
            }
        }
    }
}
