//! Ensemble throughput: the baseline scenario (England model, 10 years at
//! dt 1/52, eight uncertain parameters, Latin hypercube) by number of runs,
//! on all available threads. Target: 1,000 runs in under 10 s on two cores.
//!
//! Run with `cargo bench --bench ensemble`.

// criterion_group! defines undocumented public functions.
#![allow(missing_docs)]

use carecascade::engine::ensemble::{RunOptions, run_scenarios};
use carecascade::engine::scenario::Scenario;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

fn ensemble(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/baseline.toml");
    let mut group = c.benchmark_group("baseline ensemble");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for runs in [100usize, 1000] {
        let scenario = Scenario::load_with(path, &carecascade::library()).unwrap();
        let prepared = scenario.with_runs(runs).unwrap().prepare().unwrap();
        group.throughput(Throughput::Elements(runs as u64));
        group.bench_with_input(BenchmarkId::from_parameter(runs), &prepared, |b, p| {
            b.iter(|| run_scenarios(std::slice::from_ref(p), &RunOptions::default()).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, ensemble);
criterion_main!(benches);
