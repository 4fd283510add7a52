//! Heap bytes per indexed event, measured by counting allocations (dhat), not by
//! arithmetic: 10M events over 3 partitions with realistic timestamps (1 to 10 ms
//! apart, partitions and types picked at random), of 5 types and of one type, settled
//! as ingest settles them. Per-event clocks included. Goal: at most 4 bytes per event.
//! Then the cost of a rare type: 200,000 types of one event each (what a type rule
//! picking a unique id makes, up to `classify.max_types`). Goal: at most 1,600 bytes
//! a type, what a type cost before the bit-packed index.
//! Then the key index: 10M events of 5 types over 1M keys drawn from a Zipf
//! distribution (s = 1, as entity activity is), measured as the difference from the
//! same events indexed without keys. Goal: at most 6 bytes an event plus 40 a key.
//! `cargo bench --bench index_memory`.
#![allow(missing_docs, clippy::unwrap_used)]

use analyzer::view::{Appended, Position, TopicId, Topics, new_view, watermark};
use rand::{Rng, SeedableRng};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const EVENTS: u64 = 10_000_000;
const PARTITIONS: usize = 3;

/// What indexing left on the heap: bytes held after, the peak meanwhile, the
/// distinct keys in the key index, and what the index reports of itself.
struct Held {
    used: u64,
    peak: u64,
    keys: u64,
    reported: usize,
}

/// 10M events over 3 partitions with realistic timestamps (1 to 10 ms apart,
/// partitions and types picked at random) of `types` types, settled as ingest
/// settles them. With `keys` (a Zipf CDF over keys "p-0000017" and whether to index
/// them), each event also draws a key, added to the key index when asked: the same
/// events either way.
fn indexed(types: u64, seed: u64, keys: Option<(&[f64], bool)>) -> Held {
    let names: Vec<String> = (0..types).map(|t| format!("type_{t}")).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut next_offset = [0i64; PARTITIONS];
    let mut clocks = [0u64; PARTITIONS];
    let mut now = 1_700_000_000_000u64;
    let topics = Topics::new(&["events".to_owned()]);
    let mut key = String::with_capacity(16);
    let stats = dhat::HeapStats::get();
    let (before, peak_before) = (stats.curr_bytes, stats.max_bytes);
    let (view, mut writer) = new_view(&topics);
    for n in 0..EVENTS {
        now += rng.random_range(1..=10);
        let partition = rng.random_range(0..PARTITIONS);
        clocks[partition] = clocks[partition].max(now);
        let event = Appended {
            position: Position {
                topic: TopicId(0),
                partition: partition as i32,
                offset: next_offset[partition],
            },
            clock: clocks[partition],
            value_bytes: 200,
        };
        next_offset[partition] += 1;
        let event_type = &names[rng.random_range(0..names.len())];
        writer.append(event_type, &event).unwrap();
        if let Some((cdf, index_keys)) = keys {
            let u: f64 = rng.random();
            let rank = cdf.partition_point(|c| *c < u).min(cdf.len() - 1);
            if index_keys {
                use std::fmt::Write as _;
                key.clear();
                let _ = write!(key, "p-{rank:07}");
                writer
                    .append_key(key.as_bytes(), event_type, &event)
                    .unwrap();
            }
        }
        // As ingest does every 10 ms: the watermark of partitions being read.
        if n % 10_000 == 0
            && let Some(w) = watermark(clocks.iter().map(|c| (*c, false)), 300_000)
        {
            writer.advance(w);
        }
    }
    assert_eq!(view.total(), EVENTS);
    let stats = dhat::HeapStats::get();
    let held = Held {
        used: (stats.curr_bytes - before) as u64,
        peak: (stats.max_bytes.max(peak_before) - before) as u64,
        keys: view.key_counts().keys,
        reported: view.allocated_bytes(),
    };
    drop((view, writer));
    held
}

fn bytes_per_event(types: u64) -> f64 {
    let held = indexed(types, 7, None);
    println!(
        "  {types} types: dhat counts {} bytes, the index reports {} (analyzer_index_bytes)",
        held.used, held.reported
    );
    held.used as f64 / EVENTS as f64
}

fn bytes_per_type(types: u64) -> f64 {
    let topics = Topics::new(&["events".to_owned()]);
    let before = dhat::HeapStats::get().curr_bytes;
    let (view, mut writer) = new_view(&topics);
    for n in 0..types {
        let event = Appended {
            position: Position {
                topic: TopicId(0),
                partition: (n % 3) as i32,
                offset: (n / 3) as i64,
            },
            clock: 1_700_000_000_000 + n,
            value_bytes: 200,
        };
        writer.append(&format!("id-{n:08}"), &event).unwrap();
        if n % 10_000 == 0 {
            writer.advance(1_700_000_000_000 + n);
        }
    }
    assert_eq!(view.type_count() as u64, types);
    let used = dhat::HeapStats::get().curr_bytes - before;
    drop((view, writer));
    used as f64 / types as f64
}

/// A Zipf CDF (s = 1) over `keys` keys, built before counting (the bench's own
/// table, not the index's).
fn zipf(keys: usize) -> Vec<f64> {
    let total: f64 = (1..=keys).map(|r| 1.0 / r as f64).sum();
    let mut running = 0.0;
    (1..=keys)
        .map(|r| {
            running += 1.0 / r as f64 / total;
            running
        })
        .collect()
}

fn main() {
    // Criterion passes its own flags (`--bench`); this binary takes none.
    let _profiler = dhat::Profiler::builder().testing().build();
    for types in [1, 5] {
        let per_event = bytes_per_event(types);
        let verdict = if per_event <= 4.0 { "met" } else { "missed" };
        println!(
            "index_memory/{types}_types: {per_event:.2} bytes/event at {EVENTS} events \
             (goal <= 4: {verdict})"
        );
    }
    let keys = 1_000_000;
    let cdf = zipf(keys);
    let started = std::time::Instant::now();
    let without = indexed(5, 11, Some((&cdf, false))).used;
    let plain = started.elapsed();
    let Held {
        used: with,
        peak,
        keys: distinct,
        ..
    } = indexed(5, 11, Some((&cdf, true)));
    let keyed = started.elapsed() - plain;
    let key_index = with - without;
    let budget = 6 * EVENTS + 40 * distinct;
    let verdict = if key_index <= budget { "met" } else { "missed" };
    println!(
        "index_memory/key_index: {key_index} bytes for {EVENTS} events over {distinct} keys \
         (Zipf over {keys}): {:.2} bytes/event, or {:.1} bytes/key beyond 6 bytes/event; \
         budget 6/event + 40/key = {budget} ({verdict}); peak while indexing {:.2} \
         bytes/event with the rest of the index; indexing took {:.2}x as long with keys \
         (under dhat)",
        key_index as f64 / EVENTS as f64,
        (key_index as f64 - 6.0 * EVENTS as f64) / distinct as f64,
        peak as f64 / EVENTS as f64,
        keyed.as_secs_f64() / plain.as_secs_f64(),
    );
    let types = 200_000;
    let per_type = bytes_per_type(types);
    let verdict = if per_type <= 1_600.0 { "met" } else { "missed" };
    println!(
        "index_memory/rare_types: {per_type:.0} bytes/type at {types} types of one event \
         (goal <= 1600: {verdict})"
    );
}
