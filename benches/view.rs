//! The index against its floor, measured in the same run: a lookup in the view versus
//! indexing plain `Vec`s, and appends versus `Vec::push`, at 1M and 10M entries; then
//! the `/stats` counts map. The baseline stores what the view stores, 12 bytes an
//! entry in two parallel vectors (an offset `u64`, a partition-and-topic `u32`). Read
//! the ratio of each pair, not the absolute times. `cargo bench --bench view`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use analyzer::view::{Appended, Position, TopicId, new_view};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIZES: [u64; 2] = [1_000_000, 10_000_000];

fn position(offset: i64) -> Position {
    Position {
        topic: TopicId(0),
        partition: (offset % 3) as i32,
        offset,
    }
}

/// The baseline's entry: the 12 bytes the view packs a position into.
fn packed(offset: i64) -> (u64, u32) {
    (offset as u64, ((offset % 3) as u32) << 6)
}

fn event(offset: i64) -> Appended {
    Appended {
        position: position(offset),
        timestamp_ms: Some(1_700_000_000_000 + offset),
        value_bytes: 200,
    }
}

fn lookups(c: &mut Criterion) {
    let mut group = c.benchmark_group("lookup");
    for n in SIZES {
        let (view, mut writer) = new_view();
        let mut offsets = Vec::with_capacity(n as usize);
        let mut metas = Vec::with_capacity(n as usize);
        for offset in 0..n as i64 {
            writer.append("t", &event(offset)).unwrap();
            let (o, m) = packed(offset);
            offsets.push(o);
            metas.push(m);
        }
        let index = view.type_index("t").unwrap();
        let mut i = 0u64;
        let step = 7_919; // a prime stride: touches memory all over the index
        group.bench_function(BenchmarkId::new("vec_baseline", n), |b| {
            b.iter(|| {
                i = (i + step) % n;
                black_box((offsets[i as usize], metas[i as usize]))
            })
        });
        group.bench_function(BenchmarkId::new("view_by_type", n), |b| {
            b.iter(|| {
                i = (i + step) % n;
                black_box(view.get("t", i))
            })
        });
        group.bench_function(BenchmarkId::new("type_index", n), |b| {
            b.iter(|| {
                i = (i + step) % n;
                black_box(index.get(i))
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
                let (mut offsets, mut metas) = (Vec::new(), Vec::new());
                for offset in 0..n as i64 {
                    let (o, m) = packed(offset);
                    offsets.push(o);
                    metas.push(m);
                }
                black_box((offsets.len(), metas.len()))
            })
        });
        group.bench_function(BenchmarkId::new("view", n), |b| {
            b.iter(|| {
                let (view, mut writer) = new_view();
                for offset in 0..n as i64 {
                    writer.append("t", &event(offset)).unwrap();
                }
                black_box(view.total())
            })
        });
    }
    group.finish();
}

fn counts(c: &mut Criterion) {
    let mut group = c.benchmark_group("stats_counts");
    for types in [5, 50] {
        let (view, mut writer) = new_view();
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

criterion_group!(benches, lookups, appends, counts);
criterion_main!(benches);
