//! Criterion benches: one group per workload, `tape` vs `hand` inside each (W1 also `fixed`, the
//! const-generic reference of `benches/common/fixed.rs`), plus the GEMM switch.
//!
//! `cargo bench --bench tape_vs_hand` (all), or e.g. `cargo bench --bench tape_vs_hand -- W1`.
//! The one-run headline figures come from `cargo run --release --example bench`.

mod common {
    pub mod fixed;
    pub mod workloads;
}

use std::hint::black_box;

use chainrule::hand::Workspace;
use chainrule::kernels::{gemm_by, packed_available, GemmPath, Layout};
use chainrule::Tape;
use common::fixed::{self, W1Fixed};
use common::workloads::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// W1: one epoch of 100 per-sample steps, by the tape, the hand path and the fixed-size reference
/// (the proxy for the machine's limit).
fn w1_lab(c: &mut Criterion) {
    let (d, start) = w1();
    let mut group = c.benchmark_group("W1-lab-epoch");
    group.throughput(Throughput::Elements(d.len() as u64));
    let (mut tape, mut mlp) = (Tape::new(), start.clone());
    group.bench_function("tape", |b| {
        b.iter(|| black_box(w1_tape_epoch(&mut tape, &mut mlp, &d)))
    });
    let (mut ws, mut mlp) = (Workspace::new(), start.clone());
    group.bench_function("hand", |b| {
        b.iter(|| black_box(w1_hand_epoch(&mut ws, &mut mlp, &d)))
    });
    let (samples, mut net) = (fixed::samples(&d), W1Fixed::from_mlp(&start));
    group.bench_function("fixed", |b| {
        b.iter(|| black_box(net.epoch(&samples, W1_LR)))
    });
    group.finish();
}

/// W2: one full-batch step on 4096 points.
fn w2_batched(c: &mut Criterion) {
    let (d, start) = w2();
    let (x, y, n) = (d.x.as_slice(), d.y.as_slice(), d.len());
    let mut group = c.benchmark_group("W2-batched-step");
    group.sample_size(10);
    let (mut tape, mut mlp) = (Tape::new(), start.clone());
    group.bench_function("tape", |b| {
        b.iter(|| black_box(tape_step(&mut tape, &mut mlp, x, y, n, W2_LR)))
    });
    let (mut ws, mut mlp) = (Workspace::new(), start.clone());
    group.bench_function("hand", |b| {
        b.iter(|| black_box(hand_step(&mut ws, &mut mlp, x, y, n, W2_LR)))
    });
    group.finish();
}

/// W3: one step of the scalar graph (about 65,000 nodes) vs the same network by hand.
fn w3_scalar(c: &mut Criterion) {
    let (d, start) = w3();
    let mut group = c.benchmark_group("W3-scalar-step");
    let (mut tape, mut net) = (Tape::new(), ScalarMlp::from_mlp(&start));
    group.bench_function("tape", |b| {
        b.iter(|| black_box(net.step(&mut tape, &d, W3_LR)))
    });
    let (mut ws, mut mlp) = (Workspace::new(), start.clone());
    let (x, y, n) = (d.x.as_slice(), d.y.as_slice(), d.len());
    group.bench_function("hand", |b| {
        b.iter(|| black_box(hand_step(&mut ws, &mut mlp, x, y, n, W3_LR)))
    });
    group.finish();
}

/// The direct loop, the packed kernel and matrixmultiply on square products: where does the
/// switch from the loop pay, and how do the two GEMMs compare as sizes grow?
fn gemm_switch(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm");
    let mut paths = vec![
        ("loop", GemmPath::Loop),
        ("matrixmultiply", GemmPath::MatrixMultiply),
    ];
    if packed_available() {
        paths.push(("packed", GemmPath::Packed));
    }
    for size in [2usize, 4, 8, 16, 24, 32, 64, 256] {
        let a: Vec<f64> = (0..size * size).map(|i| (i as f64).sin()).collect();
        let b = a.clone();
        let mut out = vec![0.0; size * size];
        group.throughput(Throughput::Elements((size * size * size) as u64));
        for &(name, path) in &paths {
            if name == "loop" && size > 64 {
                continue;
            }
            group.bench_with_input(BenchmarkId::new(name, size), &size, |bench, &s| {
                bench.iter(|| {
                    gemm_by(
                        path,
                        s,
                        s,
                        s,
                        &a,
                        Layout::AsIs,
                        &b,
                        Layout::AsIs,
                        &mut out,
                        false,
                    )
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, w1_lab, w2_batched, w3_scalar, gemm_switch);
criterion_main!(benches);
