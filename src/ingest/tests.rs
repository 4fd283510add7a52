//! Tests of the ingest module.
use super::context::{FetchedOffsets, StatsSnapshot};
use super::partitions::PartitionState;
use super::warnings::Sampled;
use super::*;
use crate::view::{View, new_view};
use std::collections::HashMap;

/// An indexer over topics "t" (index 0) and "u" (index 1), with `n` events of
/// type A indexed in each one's partition 0.
fn indexer_with(n: i64) -> (View, Indexer) {
    let topics = Topics::new(&["t".into(), "u".into()]);
    let (view, mut writer) = new_view(&topics);
    let cache = PayloadCache::new(1 << 20);
    let mut partitions = BTreeMap::new();
    for topic in [TopicId(0), TopicId(1)] {
        for offset in 0..n {
            let event = Appended {
                value_bytes: 3,
                ..Appended::at(Position {
                    topic,
                    partition: 0,
                    offset,
                })
            };
            writer.append("A", &event).unwrap();
            cache.insert(
                &event.position,
                crate::fetch::Payload::of_value(b"abc", None),
            );
        }
        let state = PartitionState {
            next_offset: n,
            caught_up: true,
            ..PartitionState::default()
        };
        partitions.insert((topic, 0), state);
    }
    let status = Arc::new(IngestStatus::new(2));
    status.count_unclassified(TopicId(0), Unclassified::InvalidJson);
    let indexer = Indexer {
        topics,
        rule: Rule::Topic,
        key_rule: None,
        writer,
        cache,
        status,
        partitions,
        some_topic_missing: false,
        indexed: 0,
        started: Instant::now(),
        caught_up_at: None,
        max_lateness_ms: 300_000,
        late_warnings: Sampled::default(),
        too_many_types: Sampled::default(),
        cache_headers: false,
        value_bytes_seen: 0,
        decoder: Arc::default(),
        undecodable: Sampled::default(),
        waiting: false,
        stop: Arc::new(AtomicBool::new(false)),
        snapshots: None,
    };
    (view, indexer)
}

/// A statistics report in which topic "t" partition 0 ends at `end`.
fn report_t_ends_at(end: i64) -> StatsSnapshot {
    let offsets = FetchedOffsets {
        low: 0,
        high: end,
        eof: end,
    };
    StatsSnapshot {
        partitions: HashMap::from([(("t".to_owned(), 0), offsets)]),
        brokers: Vec::new(),
    }
}

#[test]
fn a_log_ending_below_the_index_twice_in_a_row_resets_only_that_topic() {
    let (view, mut indexer) = indexer_with(2000);
    // One report can predate the fetch that brought the last events: no reset.
    assert!(indexer.on_statistics(report_t_ends_at(300)).is_empty());
    // The log grew past the index again: the count starts over.
    assert!(indexer.on_statistics(report_t_ends_at(2500)).is_empty());
    assert!(indexer.on_statistics(report_t_ends_at(300)).is_empty());
    assert_eq!(view.total(), 4000);

    assert_eq!(
        indexer.on_statistics(report_t_ends_at(300)),
        BTreeSet::from([TopicId(0)])
    );
    // Topic "t" is gone from the view, the cache and the unclassified counts;
    // topic "u" is intact.
    let a = view.type_index("A").unwrap();
    assert_eq!(a.len(), 2000);
    assert!((0..2000).all(|i| a.get(i).is_some_and(|e| e.position.topic == TopicId(1))));
    let t0 = Position {
        topic: TopicId(0),
        partition: 0,
        offset: 5,
    };
    assert!(indexer.cache.get(&t0).is_none());
    assert!(
        indexer
            .cache
            .get(&Position {
                topic: TopicId(1),
                ..t0
            })
            .is_some()
    );
    assert_eq!(indexer.status.unclassified_counts()["invalid_json"], 0);
    assert_eq!(indexer.status.topic_resets(), 1);
    // Its partitions start over from the beginning, not caught up.
    let state = indexer.partitions[&(TopicId(0), 0)];
    assert_eq!((state.next_offset, state.caught_up), (0, false));
    assert!(!indexer.status.is_caught_up());
    assert!(indexer.partitions[&(TopicId(1), 0)].caught_up);
}

#[test]
fn a_log_ending_at_or_past_the_index_is_no_reset() {
    let (view, mut indexer) = indexer_with(10);
    // The log still ends at or past what was indexed: no reset, whatever the
    // consumer replays.
    for _ in 0..5 {
        assert!(indexer.on_statistics(report_t_ends_at(10)).is_empty());
    }
    assert_eq!(view.total(), 20);
    assert_eq!(indexer.status.topic_resets(), 0);
}

fn report(next: i64, start: Option<i64>, hw: Option<i64>, caught_up: bool) -> PartitionReport {
    PartitionReport {
        topic: "t".into(),
        partition: 0,
        next_offset: next,
        position: next,
        high_watermark: hw,
        log_start_offset: start,
        caught_up,
    }
}

#[test]
fn progress_counts_offsets_from_the_log_start() {
    assert_eq!(report(0, None, None, false).progress(), (0, 0));
    assert_eq!(report(50, Some(0), Some(200), false).progress(), (50, 200));
    // Nothing read yet of a log whose first 100 offsets were deleted.
    assert_eq!(report(0, Some(100), Some(300), false).progress(), (0, 200));
    assert_eq!(
        report(300, Some(100), Some(300), true).progress(),
        (200, 200)
    );
    // Caught up before any statistics arrived.
    assert_eq!(report(7, None, None, true).progress(), (7, 7));
    assert_eq!(report(150, Some(0), Some(200), false).lag(), Some(50));
    assert_eq!(report(0, None, None, false).lag(), None);
}

#[test]
fn a_catch_up_copies_into_the_cache_only_what_it_will_still_hold_at_the_end() {
    let (_view, mut indexer) = indexer_with(10);
    // 1,000 events of 104-byte values seen: a cache entry is 200 bytes, so the 1 MiB
    // cache holds 5,242 of them; a quarter more are copied, shared by the partitions
    // still reading.
    indexer.indexed = 1_000;
    indexer.value_bytes_seen = 104_000;
    for state in indexer.partitions.values_mut() {
        state.caught_up = false;
    }
    let mut report = report_t_ends_at(1_000_000);
    report.partitions.get_mut(&("t".to_owned(), 0)).unwrap().eof = -1;
    indexer.on_statistics(report);
    let keep = 5_242 * 5 / 4 / 2;
    assert_eq!(
        indexer.partitions[&(TopicId(0), 0)].cache_from,
        1_000_000 - keep
    );
    // "u" has no statistics yet: everything of it is copied.
    assert_eq!(indexer.partitions[&(TopicId(1), 0)].cache_from, 0);
    // A small log, or one read to its end, is copied whole.
    indexer.on_statistics(report_t_ends_at(2_000));
    assert_eq!(indexer.partitions[&(TopicId(0), 0)].cache_from, 0);
}

#[test]
fn an_end_past_the_last_record_is_no_lag_and_names_its_topic() {
    // Topics t and u both have a partition 0, 10 records each. t's log then ends
    // at 11: a transaction's commit marker took offset 10.
    let (_, mut indexer) = indexer_with(10);
    for state in indexer.partitions.values_mut() {
        state.caught_up = false;
    }
    indexer.on_partition_end(0, Some(("t".into(), 0, 11)));
    let t = indexer.partitions[&(TopicId(0), 0)];
    let u = indexer.partitions[&(TopicId(1), 0)];
    assert!(t.caught_up && !u.caught_up, "the end named its topic");
    assert_eq!((t.next_offset, t.position()), (10, 11));
    let reports = indexer.reports();
    let report = reports.iter().find(|r| r.topic == "t").unwrap();
    let mut fetched = report.clone();
    fetched.high_watermark = Some(11);
    assert_eq!(fetched.lag(), Some(0));
    // Without a named end, partition 0 is ambiguous between t and u: no change.
    indexer.on_partition_end(0, None);
    assert!(!indexer.partitions[&(TopicId(1), 0)].caught_up);
}

#[test]
fn a_sampled_warning_is_due_once_per_interval_with_the_count_since() {
    let mut warning = Sampled::every(Duration::from_millis(50));
    assert_eq!(warning.due(), Some(1));
    assert_eq!(warning.due(), None);
    assert_eq!(warning.due(), None);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(warning.due(), Some(3), "the two held back, and this one");
}
