//! The large test model of the Vensim and XMILE readers
//! (`engine/tests/large_model/services.mdl`: 40 regions by 4 ages, a
//! macro, subranges and a mapping, CSV data, ALLOCATE BY PRIORITY, vector
//! ranking and sorting) by stage: reading the file, compiling, and one run
//! of 160 steps on each back end, reported in steps per second.
//!
//! Run with `cargo bench --bench large_model`.

// criterion_group! defines undocumented public functions.
#![allow(missing_docs)]

use carecascade::engine::format::load_model;
use carecascade::engine::{Backend, Program};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("engine/tests/large_model/services.mdl")
}

fn stages(c: &mut Criterion) {
    let path = path();
    c.bench_function("large model: read services.mdl", |b| {
        b.iter(|| load_model(black_box(&path)).unwrap())
    });
    let model = load_model(&path).unwrap();
    c.bench_function("large model: compile", |b| {
        b.iter(|| Program::compile(black_box(&model)).unwrap())
    });
    let program = Program::compile(&model).unwrap();
    let steps = program.time().steps() as u64;
    let mut group = c.benchmark_group("large model: run 0-20 dt 1/8");
    group.throughput(Throughput::Elements(steps));
    group.sample_size(10);
    for (name, backend) in [
        ("interpreter", Backend::Interpreter),
        ("compiled", Backend::Compiled),
    ] {
        let mut state = program.state();
        state.set_backend(backend);
        // Compile the code once, outside the timing.
        state.run().unwrap();
        group.bench_function(name, |b| b.iter(|| state.run().unwrap()));
    }
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
