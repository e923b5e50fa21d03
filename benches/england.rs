//! The England model: one 10-year run at dt 1/52 (520 steps; target under
//! 5 ms), the same run saving only yearly values, a 10-year projection by
//! reporting year, and parsing plus compiling the model. The second group
//! projects ten years by reporting year one run at a time and in batches
//! of 4, 8 and 16 runs (`Program::batch`), in runs per second on one
//! thread: what an ensemble's batch width buys.
//!
//! Run with `cargo bench --bench england`.

// criterion_group! defines undocumented public functions.
#![allow(missing_docs)]

use carecascade::Program;
use carecascade::project;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn england(c: &mut Criterion) {
    let model = carecascade::england();
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

    let projector = project::projector(&program);
    let periods = project::reporting_years(2023, 10).unwrap();
    let mut group = c.benchmark_group("england projection runs");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one at a time", |b| {
        let mut state = program.state();
        b.iter(|| black_box(projector.project(&mut state, &periods).unwrap()))
    });
    fn batch<const L: usize>(
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        program: &Program,
        projector: &project::Projector,
        periods: &carecascade::engine::projection::Periods,
    ) {
        group.throughput(Throughput::Elements(L as u64));
        group.bench_function(format!("batch of {L}"), |b| {
            let mut batch = program.batch::<L>();
            b.iter(|| {
                black_box(
                    projector
                        .project_batch(&mut batch, periods, &mut |_, _| {})
                        .unwrap(),
                )
            })
        });
    }
    batch::<4>(&mut group, &program, &projector, &periods);
    batch::<8>(&mut group, &program, &projector, &periods);
    batch::<16>(&mut group, &program, &projector, &periods);
    group.finish();

    c.bench_function("england parse+compile", |b| {
        b.iter(|| Program::compile(&carecascade::england()).unwrap())
    });
}

criterion_group!(benches, england);
criterion_main!(benches);
