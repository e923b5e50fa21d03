//! Ensemble throughput: the baseline scenario (England model, 10 years at
//! dt 1/52, eight uncertain parameters, Latin hypercube) by number of runs,
//! on all available threads. Target: 1,000 runs in under 10 s on two cores.
//!
//! Also: 1,000 runs kept on disk (`run_scenarios_on_disk`, what `carecascade
//! run` does) with the three result files written, against the same in
//! memory and written.
//!
//! Run with `cargo bench --bench ensemble`.

// criterion_group! defines undocumented public functions.
#![allow(missing_docs)]

use carecascade::engine::ensemble::{RunOptions, run_scenarios, run_scenarios_on_disk};
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
    let scenario = Scenario::load_with(path, &carecascade::library()).unwrap();
    let prepared = scenario.with_runs(1000).unwrap().prepare().unwrap();
    let dir = std::env::temp_dir().join(format!("carecascade-bench-{}", std::process::id()));
    let out = dir.join("out");
    let mut group = c.benchmark_group("baseline ensemble written");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(1000));
    group.bench_function("1000 runs in memory", |b| {
        b.iter(|| {
            run_scenarios(std::slice::from_ref(&prepared), &RunOptions::default())
                .unwrap()
                .write(&out)
                .unwrap()
        })
    });
    group.bench_function("1000 runs on disk", |b| {
        b.iter(|| {
            run_scenarios_on_disk(std::slice::from_ref(&prepared), &RunOptions::default())
                .unwrap()
                .write(&out)
                .unwrap()
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, ensemble);
criterion_main!(benches);
