//! Engine benchmarks: parse + compile, one SIR run against a hand-written
//! Rust loop of the same equations (the practical ceiling), and a
//! 1,000-stock chain.
//!
//! Run with `cargo bench --bench engine`. Throughput is reported in steps
//! per second; runs per second are 1 / time per iteration.

// criterion_group! defines undocumented public functions.
#![allow(missing_docs)]

use carecascade::build::{Constant, Flow, Stock};
use carecascade::engine::format::native;
use carecascade::{Model, Program, TimeSettings};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const SIR: &str = include_str!("../models/sir.toml");
const SIR_STEPS: u64 = 3200; // 0 to 100 at dt 1/32

fn parse_and_compile(c: &mut Criterion) {
    c.bench_function("parse+compile SIR", |b| {
        b.iter(|| {
            let model = native::parse(black_box(SIR), None).unwrap();
            Program::compile(&model).unwrap()
        })
    });
    let chain = chain(1000);
    c.bench_function("compile 1000-stock chain", |b| {
        b.iter(|| Program::compile(black_box(&chain)).unwrap())
    });
}

/// The same SIR model, written by hand: the same Euler steps, and the same
/// eight values recorded at every step into a row-major matrix.
fn hand_written_sir(contact_infectivity: f64) -> Vec<f64> {
    let (total, duration, dt) = (1000.0, 5.0, 1.0 / 32.0);
    let (mut s, mut i, mut r) = (total, 5.0, 0.0);
    let mut out = Vec::with_capacity((SIR_STEPS as usize + 1) * 8);
    for step in 0..=SIR_STEPS {
        let succumbing = s * i / total * contact_infectivity;
        let recovering = i / duration;
        out.extend_from_slice(&[
            s,
            i,
            r,
            succumbing,
            recovering,
            total,
            duration,
            contact_infectivity,
        ]);
        if step == SIR_STEPS {
            break;
        }
        s -= dt * succumbing;
        i += dt * (succumbing - recovering);
        r += dt * recovering;
    }
    out
}

fn sir_run(c: &mut Criterion) {
    let model = native::parse(SIR, None).unwrap();
    let program = Program::compile(&model).unwrap();
    let mut group = c.benchmark_group("SIR run 0-100 dt 1/32");
    group.throughput(Throughput::Elements(SIR_STEPS));
    group.bench_function("engine", |b| {
        let mut state = program.state();
        b.iter(|| state.run().unwrap())
    });
    group.bench_function("engine, changed parameter", |b| {
        let mut state = program.state();
        let id = program.parameter("Contact Infectivity").unwrap();
        let mut k = 0.0;
        b.iter(|| {
            k += 1e-9;
            state.set_param(id, 0.3 + k).unwrap();
            state.run().unwrap()
        })
    });
    group.bench_function("hand-written", |b| {
        b.iter(|| hand_written_sir(black_box(0.3)))
    });
    group.finish();

    // The two agree, so the comparison is like for like.
    let engine = program.run().unwrap();
    let hand = hand_written_sir(0.3);
    let last = engine.final_value("Susceptible").unwrap();
    assert!((last - hand[SIR_STEPS as usize * 8]).abs() < 1e-9);
}

/// A chain of `n` stocks, each draining into the next.
fn chain(n: usize) -> Model {
    let mut builder = Model::builder("chain")
        .time(
            TimeSettings::new(0.0, 100.0, 0.25)
                .unwrap()
                .with_save_interval(10.0)
                .unwrap(),
        )
        .add(Constant::new("residence time", 2.0));
    for i in 0..n {
        let mut stock = Stock::new(format!("stage {i}"), if i == 0 { 1000.0 } else { 0.0 })
            .outflow(format!("flow {i}"));
        if i > 0 {
            stock = stock.inflow(format!("flow {}", i - 1));
        }
        builder.push(stock);
        builder.push(Flow::new(
            format!("flow {i}"),
            format!("stage {i} / residence time"),
        ));
    }
    builder.build().unwrap()
}

fn chain_run(c: &mut Criterion) {
    let mut group = c.benchmark_group("stock chain 0-100 dt 1/4");
    for n in [10usize, 100, 1000] {
        let program = Program::compile(&chain(n)).unwrap();
        let steps = program.time().steps() as u64;
        group.throughput(Throughput::Elements(steps));
        group.bench_with_input(BenchmarkId::from_parameter(n), &program, |b, program| {
            let mut state = program.state();
            b.iter(|| state.run().unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, parse_and_compile, sir_run, chain_run);
criterion_main!(benches);
