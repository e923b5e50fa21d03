//! Ensemble throughput: the baseline scenario (England model, 10 years at
//! dt 1/52, eight uncertain parameters, Latin hypercube) by number of runs,
//! on all available threads. Target: 1,000 runs in under 10 s on two cores.
//!
//! Run with `cargo bench --bench ensemble`.

// criterion_group! defines undocumented public functions.
#![allow(missing_docs)]

use carecascade::ensemble::report::run_scenarios;
use carecascade::scenario::Scenario;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

fn ensemble(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/baseline.toml");
    let mut group = c.benchmark_group("baseline ensemble");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for runs in [100usize, 1000] {
        let mut scenario = Scenario::load(path).unwrap();
        scenario.runs = runs;
        let prepared = scenario.prepare().unwrap();
        group.throughput(Throughput::Elements(runs as u64));
        group.bench_with_input(BenchmarkId::from_parameter(runs), &prepared, |b, p| {
            b.iter(|| run_scenarios(std::slice::from_ref(p), "run", None, &|| {}).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, ensemble);
criterion_main!(benches);
