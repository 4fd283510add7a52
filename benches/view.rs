//! The index against its floor, measured in the same run: lookups in the view (a
//! settled index, a tentative one, a time seek, a position) versus indexing plain
//! `Vec`s, and appends versus `Vec::push`, at 1M and 10M entries over 3 partitions;
//! then the `/stats` counts map. The baseline stores what an event needs unpacked: an
//! offset `u64`, a partition `u32` and a clock `u64` in parallel vectors. Read the
//! ratio of each pair, not the absolute times. `cargo bench --bench view`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use analyzer::view::{Appended, Position, TopicId, Topics, View, ViewWriter, new_view};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIZES: [u64; 2] = [1_000_000, 10_000_000];

fn position(offset: i64) -> Position {
    Position {
        topic: TopicId(0),
        partition: (offset % 3) as i32,
        offset,
    }
}

/// The baseline's entry: offset, partition, clock.
fn unpacked(offset: i64) -> (u64, u32, u64) {
    (offset as u64, (offset % 3) as u32, clock(offset))
}

/// 1 to 10 ms apart, as a busy topic's timestamps are.
fn clock(offset: i64) -> u64 {
    1_700_000_000_000 + offset as u64 * 5 + (offset as u64 * 7_919) % 5
}

fn event(offset: i64) -> Appended {
    Appended {
        position: position(offset),
        clock: clock(offset),
        value_bytes: 200,
    }
}

fn view_with(n: u64, settled: bool) -> (View, ViewWriter) {
    let (view, mut writer) = new_view(&Topics::new(&["events".to_owned()]));
    for offset in 0..n as i64 {
        writer.append("t", &event(offset)).unwrap();
    }
    if settled {
        writer.advance(u64::MAX);
    }
    (view, writer)
}

fn lookups(c: &mut Criterion) {
    let mut group = c.benchmark_group("lookup");
    for n in SIZES {
        let (mut offsets, mut partitions, mut clocks) = (Vec::new(), Vec::new(), Vec::new());
        for offset in 0..n as i64 {
            let (o, p, c) = unpacked(offset);
            offsets.push(o);
            partitions.push(p);
            clocks.push(c);
        }
        let (settled, _settled_writer) = view_with(n, true);
        let (tentative, _tentative_writer) = view_with(n, false);
        let mut i = 0u64;
        let step = 7_919; // a prime stride: touches memory all over the index
        group.bench_function(BenchmarkId::new("vec_baseline", n), |b| {
            b.iter(|| {
                i = (i + step) % n;
                let i = i as usize;
                black_box((offsets[i], partitions[i], clocks[i]))
            })
        });
        group.bench_function(BenchmarkId::new("settled_index", n), |b| {
            b.iter(|| {
                i = (i + step) % n;
                black_box(settled.get("t", i))
            })
        });
        group.bench_function(BenchmarkId::new("tentative_index", n), |b| {
            b.iter(|| {
                i = (i + step) % n;
                black_box(tentative.get("t", i))
            })
        });
        group.bench_function(BenchmarkId::new("time_seek", n), |b| {
            b.iter(|| {
                i = (i + step) % n;
                black_box(settled.first_at_or_after("t", clock(i as i64)))
            })
        });
        group.bench_function(BenchmarkId::new("position", n), |b| {
            b.iter(|| {
                i = (i + step) % n;
                black_box(settled.locate(position(i as i64)))
            })
        });
    }
    group.finish();
}

fn appends(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    group.sample_size(10);
    for n in SIZES {
        group.throughput(Throughput::Elements(n));
        group.bench_function(BenchmarkId::new("vec_baseline", n), |b| {
            b.iter(|| {
                let (mut offsets, mut partitions, mut clocks) =
                    (Vec::new(), Vec::new(), Vec::new());
                for offset in 0..n as i64 {
                    let (o, p, c) = unpacked(offset);
                    offsets.push(o);
                    partitions.push(p);
                    clocks.push(c);
                }
                black_box((offsets.len(), partitions.len(), clocks.len()))
            })
        });
        group.bench_function(BenchmarkId::new("view", n), |b| {
            b.iter(|| black_box(view_with(n, true).0.total()))
        });
    }
    group.finish();
}

fn counts(c: &mut Criterion) {
    let mut group = c.benchmark_group("stats_counts");
    for types in [5, 50] {
        let (view, mut writer) = new_view(&Topics::new(&["events".to_owned()]));
        for offset in 0..100_000 {
            writer
                .append(&format!("type_{}", offset % types), &event(offset))
                .unwrap();
        }
        group.bench_function(BenchmarkId::new("counts", types), |b| {
            b.iter(|| black_box(view.counts()))
        });
        group.bench_function(BenchmarkId::new("counts_as_json", types), |b| {
            b.iter(|| black_box(serde_json::to_vec(&view.counts()).unwrap()))
        });
    }
    group.finish();
}

/// `/events/{type}/histogram` at 10M events, 100 spans over the whole type, against
/// `/stats`' counts in the same run.
fn histograms(c: &mut Criterion) {
    let mut group = c.benchmark_group("histogram");
    let n = 10_000_000;
    let (view, _writer) = view_with(n, true);
    let (first, last) = (clock(0), clock(n as i64 - 1) + 1);
    group.bench_function(BenchmarkId::new("stats_counts_baseline", n), |b| {
        b.iter(|| black_box(view.counts()))
    });
    group.bench_function(BenchmarkId::new("histogram_100", n), |b| {
        b.iter(|| black_box(view.histogram("t", first, last, 100)))
    });
    group.finish();
}

/// A key for event `offset`: log-uniform over `keys` (about Zipf with s = 1, as
/// entity activity is), from a cheap hash of the offset.
fn key_of(offset: i64, keys: u64) -> String {
    let u =
        ((offset as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
    let rank = (keys as f64).powf(u) as u64 - 1;
    format!("p-{rank:07}")
}

/// The key index: appends with keys against the same appends without (the
/// view's own cost is the baseline), and a page of 50 of a key's events against
/// 50 lookups of a type's, at 1M events over 100k keys.
fn keys(c: &mut Criterion) {
    let n = 1_000_000u64;
    let keys = 100_000;
    let names: Vec<String> = (0..n as i64).map(|o| key_of(o, keys)).collect();
    let types = ["a", "b", "c", "d", "e"];
    let build = |with_keys: bool| {
        let (view, mut writer) = new_view(&Topics::new(&["events".to_owned()]));
        for offset in 0..n as i64 {
            let event_type = types[(offset % 5) as usize];
            writer.append(event_type, &event(offset)).unwrap();
            if with_keys {
                writer
                    .append_key(
                        names[offset as usize].as_bytes(),
                        event_type,
                        &event(offset),
                    )
                    .unwrap();
            }
        }
        writer.advance(u64::MAX);
        (view, writer)
    };
    let mut group = c.benchmark_group("keys");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n));
    group.bench_function(BenchmarkId::new("append_without_keys", n), |b| {
        b.iter(|| black_box(build(false).0.total()))
    });
    group.bench_function(BenchmarkId::new("append_with_keys", n), |b| {
        b.iter(|| black_box(build(true).0.key_counts().events))
    });
    group.finish();
    let (view, _writer) = build(true);
    let mut group = c.benchmark_group("keys");
    // A key with a few hundred events: rank 10 of 100k.
    let key = b"p-0000010";
    let total = view.key_events(key, 0, 0).map_or(0, |(t, _)| t);
    assert!(total >= 100, "{total}");
    let mut from = 0;
    group.bench_function(BenchmarkId::new("type_page_50_baseline", n), |b| {
        b.iter(|| {
            from = (from + 37) % 100_000;
            black_box(
                (from..from + 50)
                    .filter_map(|i| match view.get("a", i) {
                        analyzer::view::Lookup::Found(f) => Some(f.position.offset),
                        _ => None,
                    })
                    .sum::<i64>(),
            )
        })
    });
    group.bench_function(BenchmarkId::new("key_page_50", n), |b| {
        b.iter(|| {
            from = (from + 37) % (total - 50);
            black_box(view.key_events(key, from, 50).map(|(_, e)| e.len()))
        })
    });
    group.finish();
}

criterion_group!(benches, lookups, appends, counts, histograms, keys);
criterion_main!(benches);
