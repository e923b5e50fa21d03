//! The England model: one 10-year run at dt 1/52 (520 steps; target under
//! 5 ms), the same run saving only yearly values, a 10-year projection by
//! reporting year, and parsing plus compiling the model.
//!
//! Run with `cargo bench --bench england`.

// criterion_group! defines undocumented public functions.
#![allow(missing_docs)]

use carecascade::Program;
use carecascade::care::{self, project};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn england(c: &mut Criterion) {
    let model = care::england();
    let program = Program::compile(&model).unwrap();
    let time = program
        .time()
        .with_start(2023.25)
        .and_then(|t| t.with_stop(2033.25))
        .unwrap();
    assert_eq!(time.steps(), 520);
    let mut group = c.benchmark_group("england");
    group.throughput(Throughput::Elements(520));
    group.bench_function("10-year run, dt 1/52, every step saved", |b| {
        let mut state = program.state();
        state.set_time(time);
        b.iter(|| black_box(state.run().unwrap()))
    });
    let yearly = time.with_save_interval(1.0).unwrap();
    group.bench_function("10-year run, dt 1/52, yearly values saved", |b| {
        let mut state = program.state();
        state.set_time(yearly);
        b.iter(|| black_box(state.run().unwrap()))
    });
    group.bench_function("10-year projection by reporting year", |b| {
        let mut state = program.state();
        b.iter(|| black_box(project::project_state(&mut state, 2023, 10).unwrap()))
    });
    group.finish();
    c.bench_function("england parse+compile", |b| {
        b.iter(|| Program::compile(&care::england()).unwrap())
    });
}

criterion_group!(benches, england);
criterion_main!(benches);
