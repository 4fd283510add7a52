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

criterion_group!(benches, lookups, appends, counts, histograms);
criterion_main!(benches);
