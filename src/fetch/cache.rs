//! The payload cache: payloads copied at ingest time, bounded, oldest out first.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::Payload;
use crate::view::{Position, TopicId};

/// Identifies a partition.
type PartitionKey = (TopicId, i32);

/// Approximate bookkeeping bytes per cached payload (its slot, its place in the
/// eviction order, allocator and `Bytes` headers), counted against the budget so the
/// cache never exceeds it in practice.
pub const CACHE_ENTRY_OVERHEAD: u64 = 96;

/// Bounded payload cache, evicting oldest-inserted first. Shared by reference count.
///
/// Ingest inserts each partition's messages in offset order, so each partition's
/// payloads are a deque sorted by offset: a lookup is an index computation (or a
/// binary search where offsets have gaps), an eviction pops a front. Unlike a hash
/// map of every message, nothing is hashed or touched at random per message: that
/// was a quarter of the process's CPU during catch-up (see BENCHMARKS.md).
#[derive(Clone)]
pub struct PayloadCache {
    inner: Arc<CacheInner>,
}

struct CacheInner {
    max_bytes: u64,
    state: RwLock<CacheState>,
    // Mirrors of the state's totals, so stats and metrics never take the lock.
    bytes: AtomicU64,
    entries: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheInner {
    /// Mirrors the state's totals for lock-free reads.
    fn publish_totals(&self, state: &CacheState) {
        self.bytes.store(state.bytes, Ordering::Relaxed);
        self.entries
            .store(state.order.len() as u64, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct CacheState {
    partitions: HashMap<PartitionKey, VecDeque<(i64, Payload)>>,
    // The partition of every cached payload, oldest first: the eviction order.
    order: VecDeque<PartitionKey>,
    bytes: u64,
}

impl CacheState {
    fn evict_oldest(&mut self) -> bool {
        let Some(key) = self.order.pop_front() else {
            return false;
        };
        if let Some((_, payload)) = self.partitions.get_mut(&key).and_then(VecDeque::pop_front) {
            self.bytes -= cost(&payload);
        }
        true
    }
}

fn cost(payload: &Payload) -> u64 {
    payload.size() + CACHE_ENTRY_OVERHEAD
}

/// A snapshot of the cache's size and effectiveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Bytes charged against the budget (payloads plus overhead).
    pub bytes: u64,
    /// Payloads held.
    pub entries: u64,
    /// Lookups served from the cache.
    pub hits: u64,
    /// Lookups that had to read from Kafka.
    pub misses: u64,
}

impl PayloadCache {
    /// A cache that holds at most `max_bytes`; 0 disables it.
    pub fn new(max_bytes: u64) -> Self {
        PayloadCache {
            inner: Arc::new(CacheInner {
                max_bytes,
                state: RwLock::default(),
                bytes: AtomicU64::new(0),
                entries: AtomicU64::new(0),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
            }),
        }
    }

    /// True when the cache keeps anything at all.
    pub fn is_enabled(&self) -> bool {
        self.inner.max_bytes > 0
    }

    /// Keeps `payload` (copied out of its message before this is called, so lookups
    /// wait for the lock, not for the copy), evicting the oldest entries to stay
    /// within budget. A payload larger than the whole budget is not kept, nor one at
    /// or below an offset already cached for its partition (ingest never sends those:
    /// a message never changes, and the order is what makes lookups cheap).
    pub fn insert(&self, position: &Position, payload: Payload) {
        let inner = &*self.inner;
        let charged = cost(&payload);
        if charged > inner.max_bytes {
            return;
        }
        let key = (position.topic, position.partition);
        let mut state = write(&inner.state);
        let partition = state.partitions.entry(key).or_default();
        if partition
            .back()
            .is_some_and(|(last, _)| *last >= position.offset)
        {
            return;
        }
        partition.push_back((position.offset, payload));
        state.order.push_back(key);
        state.bytes += charged;
        while state.bytes > inner.max_bytes && state.evict_oldest() {}
        inner.publish_totals(&state);
    }

    /// Drops every payload of `topic` (its log was deleted or truncated: the same
    /// offsets now hold other messages).
    pub fn remove_topic(&self, topic: TopicId) {
        let inner = &*self.inner;
        let mut state = write(&inner.state);
        state.partitions.retain(|key, _| key.0 != topic);
        state.order.retain(|key| key.0 != topic);
        state.bytes = state
            .partitions
            .values()
            .flatten()
            .map(|(_, payload)| cost(payload))
            .sum();
        inner.publish_totals(&state);
    }

    /// Drops `partition`'s payloads below `offset`, its new log start: Kafka deleted
    /// them (retention), a replica without them answers 410, and so must this one.
    /// Rare (a segment deleted), so the eviction order is rebuilt in one pass.
    pub fn remove_below(&self, topic: TopicId, partition: i32, offset: i64) {
        let inner = &*self.inner;
        let mut state = write(&inner.state);
        let key = (topic, partition);
        let Some(payloads) = state.partitions.get_mut(&key) else {
            return;
        };
        let (mut dropped, mut freed) = (0usize, 0);
        while let Some((_, payload)) = payloads.front().filter(|(first, _)| *first < offset) {
            freed += cost(payload);
            payloads.pop_front();
            dropped += 1;
        }
        if dropped == 0 {
            return;
        }
        state.bytes -= freed;
        // A partition's entries are in the eviction order as in its deque: the
        // dropped ones are its first `dropped` there.
        state.order.retain(|k| {
            let drop = dropped > 0 && *k == key;
            dropped -= usize::from(drop);
            !drop
        });
        inner.publish_totals(&state);
    }

    /// The budget in bytes (0: disabled).
    pub fn max_bytes(&self) -> u64 {
        self.inner.max_bytes
    }

    /// The cached payload at `position`, counting the hit or miss.
    pub fn get(&self, position: &Position) -> Option<Payload> {
        let found = self.held(position);
        let counter = if found.is_some() {
            &self.inner.hits
        } else {
            &self.inner.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// The cached payload at `position`, counting no hit or miss (the snapshot's
    /// fingerprint of a partition's last record is not a lookup).
    pub fn held(&self, position: &Position) -> Option<Payload> {
        let state = self
            .inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let partition = state
            .partitions
            .get(&(position.topic, position.partition))?;
        let first = partition.front()?.0;
        // Offsets are usually consecutive: then the slot is the offset's distance
        // from the first. Gaps (transaction markers, compaction) need a search.
        let guess = usize::try_from(position.offset.checked_sub(first)?).ok()?;
        let slot = match partition.get(guess) {
            Some((offset, _)) if *offset == position.offset => guess,
            _ => partition
                .binary_search_by_key(&position.offset, |(offset, _)| *offset)
                .ok()?,
        };
        partition.get(slot).map(|(_, payload)| payload.clone())
    }

    /// Current size and hit/miss counts.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            bytes: self.inner.bytes.load(Ordering::Relaxed),
            entries: self.inner.entries.load(Ordering::Relaxed),
            hits: self.inner.hits.load(Ordering::Relaxed),
            misses: self.inner.misses.load(Ordering::Relaxed),
        }
    }
}

fn write(state: &RwLock<CacheState>) -> std::sync::RwLockWriteGuard<'_, CacheState> {
    state.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: i64) -> Position {
        Position {
            topic: TopicId(0),
            partition: 0,
            offset,
        }
    }

    fn on_partition_1(offset: i64) -> Position {
        Position {
            partition: 1,
            ..at(offset)
        }
    }

    fn value(payload: Option<Payload>) -> Option<Vec<u8>> {
        payload.map(|p| p.value.to_vec())
    }

    #[test]
    fn cache_evicts_oldest_first_and_stays_within_budget() {
        let budget = 3 * (100 + CACHE_ENTRY_OVERHEAD);
        let cache = PayloadCache::new(budget);
        for offset in 0..5 {
            cache.insert(&at(offset), Payload::of_value(&[offset as u8; 100], None));
            assert!(cache.stats().bytes <= budget);
        }
        assert!(cache.get(&at(0)).is_none());
        assert!(cache.get(&at(1)).is_none());
        for offset in 2..5 {
            assert_eq!(
                value(cache.get(&at(offset))).unwrap(),
                vec![offset as u8; 100]
            );
        }
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.hits, stats.misses), (3, 3, 2));
    }

    #[test]
    fn disabled_or_oversized_payloads_are_not_kept() {
        let off = PayloadCache::new(0);
        off.insert(&at(0), Payload::of_value(b"x", None));
        assert!(!off.is_enabled() && off.get(&at(0)).is_none());
        let small = PayloadCache::new(CACHE_ENTRY_OVERHEAD + 10);
        small.insert(&at(0), Payload::of_value(&[0; 11], None));
        small.insert(&at(1), Payload::of_value(&[0; 10], None));
        assert!(small.get(&at(0)).is_none());
        assert!(small.get(&at(1)).is_some());
    }

    #[test]
    fn removing_a_topic_drops_only_its_payloads() {
        let cache = PayloadCache::new(10_000);
        let other = Position {
            topic: TopicId(1),
            ..at(0)
        };
        cache.insert(&at(0), Payload::of_value(b"abc", None));
        cache.insert(&other, Payload::of_value(b"de", None));
        cache.remove_topic(TopicId(0));
        assert!(cache.get(&at(0)).is_none());
        assert_eq!(value(cache.get(&other)).unwrap(), b"de");
        assert_eq!(cache.stats().bytes, 2 + CACHE_ENTRY_OVERHEAD);
    }

    #[test]
    fn payloads_below_a_new_log_start_go_and_eviction_stays_oldest_first() {
        let budget = 4 * (1 + CACHE_ENTRY_OVERHEAD);
        let cache = PayloadCache::new(budget);
        cache.insert(&at(0), Payload::of_value(b"a", None));
        cache.insert(&on_partition_1(0), Payload::of_value(b"b", None));
        cache.insert(&at(1), Payload::of_value(b"c", None));
        cache.insert(&at(2), Payload::of_value(b"d", None));
        cache.remove_below(TopicId(0), 0, 2);
        assert!(cache.get(&at(0)).is_none() && cache.get(&at(1)).is_none());
        assert_eq!(cache.stats().entries, 2);
        assert_eq!(cache.stats().bytes, 2 * (1 + CACHE_ENTRY_OVERHEAD));
        // Three more: the oldest left, p1@0, goes first, then at@2; never a newer one.
        for offset in [3, 4, 5] {
            cache.insert(&at(offset), Payload::of_value(b"e", None));
        }
        assert!(cache.get(&on_partition_1(0)).is_none());
        for kept in [at(2), at(3), at(4), at(5)] {
            assert!(cache.get(&kept).is_some(), "{kept:?}");
        }
        cache.insert(&at(6), Payload::of_value(b"f", None));
        assert!(cache.get(&at(2)).is_none() && cache.get(&at(3)).is_some());
    }

    #[test]
    fn offsets_with_gaps_are_found_and_absent_ones_miss() {
        let cache = PayloadCache::new(10_000);
        for offset in [3, 4, 7, 8, 20] {
            cache.insert(&at(offset), Payload::of_value(&[offset as u8], None));
        }
        for offset in [3, 4, 7, 8, 20] {
            assert_eq!(value(cache.get(&at(offset))).unwrap(), vec![offset as u8]);
        }
        for offset in [0, 2, 5, 9, 19, 21, i64::MAX] {
            assert!(cache.get(&at(offset)).is_none(), "offset {offset}");
        }
        let other_partition = Position {
            partition: 1,
            ..at(3)
        };
        assert!(cache.get(&other_partition).is_none());
    }

    #[test]
    fn eviction_is_oldest_first_across_partitions() {
        let budget = 3 * (1 + CACHE_ENTRY_OVERHEAD);
        let cache = PayloadCache::new(budget);
        cache.insert(&at(0), Payload::of_value(b"a", None));
        cache.insert(&on_partition_1(0), Payload::of_value(b"b", None));
        cache.insert(&at(1), Payload::of_value(b"c", None));
        cache.insert(&on_partition_1(1), Payload::of_value(b"d", None));
        assert!(cache.get(&at(0)).is_none());
        for kept in [on_partition_1(0), at(1), on_partition_1(1)] {
            assert!(cache.get(&kept).is_some(), "{kept:?}");
        }
        assert_eq!(cache.stats().entries, 3);
    }

    #[test]
    fn an_offset_below_the_cached_ones_is_not_kept() {
        let cache = PayloadCache::new(10_000);
        cache.insert(&at(5), Payload::of_value(b"new", Some(1_700_000_000_000)));
        let kept = cache.get(&at(5)).unwrap();
        assert_eq!(kept.timestamp_ms, Some(1_700_000_000_000));
        cache.insert(&at(4), Payload::of_value(b"old", None));
        assert!(cache.get(&at(4)).is_none());
        assert_eq!(cache.stats().entries, 1);
    }

    #[test]
    fn reinserting_a_message_is_not_counted_twice() {
        let cache = PayloadCache::new(10_000);
        cache.insert(&at(0), Payload::of_value(b"abc", None));
        cache.insert(&at(0), Payload::of_value(b"abc", None));
        assert_eq!(cache.stats().bytes, 3 + CACHE_ENTRY_OVERHEAD);
    }
}
