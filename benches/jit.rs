//! The compiled back end against the interpreter and against hand-written
//! Rust, measured in the same run and printed as ratios:
//!
//! - SIR, 3,200 Euler steps, one run, every step's eight values kept in a
//!   buffer allocated once (no allocation per run, for the engine or the
//!   hand-written loop; the engine's `State::run_into`, and for the
//!   record `run_observing` with a closure copying each row);
//! - SIR in lanes of 8 runs against a hand-written 8-lane loop, the rows
//!   kept with `Batch::run_into` (and for the record handed to a closure);
//! - SIR under RK4, one run, compiled against the interpreter (the same
//!   bits);
//! - England, a 10-year weekly run (520 steps), compiled and interpreted,
//!   and against Rust generated from the same operation lists
//!   ([`carecascade::Program::reference_rust`], compiled by `rustc -O` in
//!   its own process, which must give the same bits);
//! - the same England run under RK4, compiled against the interpreter;
//! - code generation time per model (compile + native code, less compile);
//! - the baseline ensemble (England, 10 years weekly, Latin hypercube) at
//!   1,000 and 10,000 runs on every thread, compiled and interpreted, and
//!   100,000 compiled with `JIT_BENCH_FULL=1`; each with runs per second
//!   and the peak resident memory so far.
//!
//! The ratios are medians of alternating timings (printed as `ratio:`
//! lines); criterion's own figures follow for the record. Run with
//! `cargo bench --bench jit`; `JIT_BENCH_QUICK=1` skips the 10,000-run
//! ensembles.

// criterion_group! defines undocumented public functions.
#![allow(missing_docs)]

use carecascade::engine::ensemble::{RunOptions, run_scenarios};
use carecascade::engine::format::native;
use carecascade::engine::scenario::Scenario;
use carecascade::{Backend, Program};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SIR: &str = include_str!("../models/sir.toml");
const SIR_STEPS: usize = 3200;
const WIDTH: usize = 8;

/// The SIR model by hand, writing every step's eight values into `out`
/// (allocated by the caller once).
fn hand_written_sir(contact_infectivity: f64, out: &mut [f64]) {
    let (total, duration, dt) = (1000.0, 5.0, 1.0 / 32.0);
    let (mut s, mut i, mut r) = (total, 5.0, 0.0);
    for (step, row) in out.chunks_exact_mut(WIDTH).enumerate() {
        let succumbing = s * i / total * contact_infectivity;
        let recovering = i / duration;
        row.copy_from_slice(&[
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
}

/// Eight SIR runs side by side, lanes innermost, every step's values of
/// every lane into `out`.
fn hand_written_sir_lanes(contact: [f64; 8], out: &mut [f64]) {
    let (total, duration, dt) = (1000.0, 5.0, 1.0 / 32.0);
    let (mut s, mut i, mut r) = ([total; 8], [5.0; 8], [0.0; 8]);
    for (step, row) in out.chunks_exact_mut(WIDTH * 8).enumerate() {
        let mut succumbing = [0.0; 8];
        let mut recovering = [0.0; 8];
        for l in 0..8 {
            succumbing[l] = s[l] * i[l] / total * contact[l];
            recovering[l] = i[l] / duration;
        }
        row[0..8].copy_from_slice(&s);
        row[8..16].copy_from_slice(&i);
        row[16..24].copy_from_slice(&r);
        row[24..32].copy_from_slice(&succumbing);
        row[32..40].copy_from_slice(&recovering);
        row[40..48].fill(total);
        row[48..56].fill(duration);
        row[56..64].copy_from_slice(&contact);
        if step == SIR_STEPS {
            break;
        }
        for l in 0..8 {
            s[l] -= dt * succumbing[l];
            i[l] += dt * (succumbing[l] - recovering[l]);
            r[l] += dt * recovering[l];
        }
    }
}

/// The median time of `f` over `samples` timings of `reps` calls each.
fn median(samples: usize, reps: usize, f: &mut dyn FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                f();
            }
            start.elapsed() / reps as u32
        })
        .collect();
    times.sort();
    times[samples / 2]
}

/// Times each of `cases` alternately and prints each median and its ratio
/// to the first (the reference): `reference time / case time`, so above
/// 1 is faster than the reference.
fn ratios(title: &str, reps: usize, cases: &mut [(&str, &mut dyn FnMut())]) {
    let mut times = vec![Vec::new(); cases.len()];
    for _ in 0..15 {
        for (k, (_, f)) in cases.iter_mut().enumerate() {
            times[k].push(median(1, reps, *f));
        }
    }
    let medians: Vec<Duration> = times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect();
    println!("{title}");
    for (k, (name, _)) in cases.iter().enumerate() {
        println!(
            "  {name}: {:.2?}, ratio: {:.2} of {}",
            medians[k],
            medians[0].as_secs_f64() / medians[k].as_secs_f64(),
            cases[0].0
        );
    }
}

fn sir(c: &mut Criterion) {
    let program = Program::compile(&native::parse(SIR, None).unwrap()).unwrap();
    program.native_code().unwrap();
    assert_eq!(program.output_names().len(), WIDTH);
    assert_eq!(program.time().steps(), SIR_STEPS);
    let rows = SIR_STEPS + 1;

    let mut hand = vec![0.0; rows * WIDTH];
    let mut engine_buffer = vec![0.0; rows * WIDTH];
    let mut interpreter_buffer = vec![0.0; rows * WIDTH];
    let mut compiled = program.state();
    compiled.set_backend(Backend::Compiled);
    let mut interpreted = program.state();
    interpreted.set_backend(Backend::Interpreter);
    fn observe_into(state: &mut carecascade::State, out: &mut [f64]) {
        let mut at = 0;
        state
            .run_observing(&mut |_, row| {
                out[at..at + WIDTH].copy_from_slice(row);
                at += WIDTH;
            })
            .unwrap();
    }
    // Like for like: the same numbers, written into a buffer the caller
    // keeps (`State::run_into`, where the compiled loop writes its rows
    // in place, as the hand-written loop does); for the record, also
    // handed row by row to a closure that copies them (`run_observing`).
    hand_written_sir(0.3, &mut hand);
    assert_eq!(compiled.run_into(&mut engine_buffer).unwrap(), rows);
    assert!((hand[SIR_STEPS * WIDTH] - engine_buffer[SIR_STEPS * WIDTH]).abs() < 1e-9);
    let mut observed_buffer = engine_buffer.clone();
    let mut observed = program.state();
    observed.set_backend(Backend::Compiled);
    observe_into(&mut observed, &mut observed_buffer);
    assert!(observed_buffer == engine_buffer);
    ratios(
        "SIR, 3,200 Euler steps, one run, trajectory kept without allocation",
        20,
        &mut [
            ("hand-written", &mut || {
                hand_written_sir(black_box(0.3), &mut hand)
            }),
            ("compiled", &mut || {
                compiled.run_into(&mut engine_buffer).unwrap();
            }),
            ("compiled, rows handed to a closure", &mut || {
                observe_into(&mut observed, &mut observed_buffer)
            }),
            ("interpreter", &mut || {
                interpreted.run_into(&mut interpreter_buffer).unwrap();
            }),
        ],
    );

    let contact = program.parameter("Contact Infectivity").unwrap();
    let rates: [f64; 8] = std::array::from_fn(|l| 0.2 + 0.02 * l as f64);
    let mut hand_lanes = vec![0.0; rows * WIDTH * 8];
    let mut lanes_buffer = vec![0.0; rows * WIDTH * 8];
    let mut interpreted_lanes_buffer = vec![0.0; rows * WIDTH * 8];
    let mut batch_compiled = program.batch::<8>();
    batch_compiled.set_backend(Backend::Compiled);
    let mut batch_interpreted = program.batch::<8>();
    batch_interpreted.set_backend(Backend::Interpreter);
    for (lane, &rate) in rates.iter().enumerate() {
        batch_compiled.set_param(lane, contact, rate).unwrap();
        batch_interpreted.set_param(lane, contact, rate).unwrap();
    }
    fn run_batch_into(batch: &mut carecascade::Batch<8>, out: &mut [f64]) {
        let mut at = 0;
        batch
            .run_observing(&mut |_, row| {
                out[at..at + WIDTH * 8].copy_from_slice(row.values());
                at += WIDTH * 8;
            })
            .unwrap();
    }
    // Like for like again: `Batch::run_into`, where the compiled loop
    // writes its rows in place; and, for the record, the rows handed to a
    // closure that copies them.
    hand_written_sir_lanes(rates, &mut hand_lanes);
    assert_eq!(
        batch_compiled.run_into(&mut lanes_buffer).unwrap().unwrap(),
        rows
    );
    assert!(
        (hand_lanes[SIR_STEPS * WIDTH * 8 + 7] - lanes_buffer[SIR_STEPS * WIDTH * 8 + 7]).abs()
            < 1e-9
    );
    let mut observed_lanes = program.batch::<8>();
    observed_lanes.set_backend(Backend::Compiled);
    for (lane, &rate) in rates.iter().enumerate() {
        observed_lanes.set_param(lane, contact, rate).unwrap();
    }
    let mut observed_lanes_buffer = lanes_buffer.clone();
    run_batch_into(&mut observed_lanes, &mut observed_lanes_buffer);
    assert!(observed_lanes_buffer == lanes_buffer);
    ratios(
        "SIR, 3,200 Euler steps, 8 runs in lanes (time per 8 runs)",
        5,
        &mut [
            ("hand-written 8 lanes", &mut || {
                hand_written_sir_lanes(black_box(rates), &mut hand_lanes)
            }),
            ("compiled batch of 8", &mut || {
                batch_compiled.run_into(&mut lanes_buffer).unwrap().unwrap();
            }),
            ("compiled batch of 8, rows handed to a closure", &mut || {
                run_batch_into(&mut observed_lanes, &mut observed_lanes_buffer)
            }),
            ("interpreted batch of 8", &mut || {
                batch_interpreted
                    .run_into(&mut interpreted_lanes_buffer)
                    .unwrap()
                    .unwrap();
            }),
        ],
    );

    // Runge-Kutta: the compiled loop against the interpreter, the same
    // bits.
    let rk4 = program.time().with_method(carecascade::Method::Rk4);
    let mut compiled_rk4 = program.state();
    compiled_rk4.set_backend(Backend::Compiled);
    compiled_rk4.set_time(rk4);
    let mut interpreted_rk4 = program.state();
    interpreted_rk4.set_backend(Backend::Interpreter);
    interpreted_rk4.set_time(rk4);
    let mut rk4_buffer = vec![0.0; rows * WIDTH];
    let mut rk4_interpreter_buffer = vec![0.0; rows * WIDTH];
    observe_into(&mut compiled_rk4, &mut rk4_buffer);
    observe_into(&mut interpreted_rk4, &mut rk4_interpreter_buffer);
    assert!(
        rk4_buffer
            .iter()
            .zip(&rk4_interpreter_buffer)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "compiled RK4 is the interpreter's, bit for bit"
    );
    ratios(
        "SIR, 3,200 RK4 steps, one run",
        10,
        &mut [
            ("interpreter", &mut || {
                observe_into(&mut interpreted_rk4, &mut rk4_interpreter_buffer)
            }),
            ("compiled", &mut || {
                observe_into(&mut compiled_rk4, &mut rk4_buffer)
            }),
        ],
    );

    let mut group = c.benchmark_group("jit SIR 3,200 steps");
    group.throughput(Throughput::Elements(SIR_STEPS as u64));
    group.bench_function("hand-written", |b| {
        b.iter(|| hand_written_sir(black_box(0.3), &mut hand))
    });
    group.bench_function("compiled", |b| {
        b.iter(|| compiled.run_into(&mut engine_buffer).unwrap())
    });
    group.bench_function("interpreter", |b| {
        b.iter(|| interpreted.run_into(&mut interpreter_buffer).unwrap())
    });
    group.throughput(Throughput::Elements(8 * SIR_STEPS as u64));
    group.bench_function("hand-written 8 lanes", |b| {
        b.iter(|| hand_written_sir_lanes(black_box(rates), &mut hand_lanes))
    });
    group.bench_function("compiled batch of 8", |b| {
        b.iter(|| batch_compiled.run_into(&mut lanes_buffer).unwrap().unwrap())
    });
    group.throughput(Throughput::Elements(SIR_STEPS as u64));
    group.bench_function("compiled RK4", |b| {
        b.iter(|| observe_into(&mut compiled_rk4, &mut rk4_buffer))
    });
    group.bench_function("interpreter RK4", |b| {
        b.iter(|| observe_into(&mut interpreted_rk4, &mut rk4_interpreter_buffer))
    });
    group.finish();
}

fn england(c: &mut Criterion) {
    let model = carecascade::england();
    let program = Program::compile(&model).unwrap();
    let time = program
        .time()
        .with_start(2023.25)
        .and_then(|t| t.with_stop(2033.25))
        .unwrap();
    let width = program.output_names().len();
    let mut buffer = vec![0.0; (time.saved_points() + 1) * width];
    let mut interpreter_buffer = buffer.clone();
    fn observe_into(state: &mut carecascade::State, out: &mut [f64], width: usize) {
        let mut at = 0;
        state
            .run_observing(&mut |_, row| {
                out[at..at + width].copy_from_slice(row);
                at += width;
            })
            .unwrap();
    }
    let mut compiled = program.state();
    compiled.set_time(time);
    compiled.set_backend(Backend::Compiled);
    let mut interpreted = program.state();
    interpreted.set_time(time);
    interpreted.set_backend(Backend::Interpreter);
    observe_into(&mut compiled, &mut buffer, width);
    assert!(compiled.fallback().is_none(), "{:?}", compiled.fallback());
    ratios(
        &format!(
            "England, 10-year weekly run ({} steps, {} ops per step), values kept without allocation",
            time.steps(),
            program.ops_per_step()
        ),
        5,
        &mut [
            ("interpreter", &mut || {
                observe_into(&mut interpreted, &mut interpreter_buffer, width)
            }),
            ("compiled", &mut || {
                observe_into(&mut compiled, &mut buffer, width)
            }),
        ],
    );

    // Runge-Kutta: the compiled loop against the interpreter, the same
    // bits.
    let rk4 = time.with_method(carecascade::Method::Rk4);
    let mut compiled_rk4 = program.state();
    compiled_rk4.set_time(rk4);
    compiled_rk4.set_backend(Backend::Compiled);
    let mut interpreted_rk4 = program.state();
    interpreted_rk4.set_time(rk4);
    interpreted_rk4.set_backend(Backend::Interpreter);
    let mut rk4_buffer = buffer.clone();
    let mut rk4_interpreter_buffer = buffer.clone();
    observe_into(&mut compiled_rk4, &mut rk4_buffer, width);
    observe_into(&mut interpreted_rk4, &mut rk4_interpreter_buffer, width);
    assert!(
        rk4_buffer
            .iter()
            .zip(&rk4_interpreter_buffer)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "compiled RK4 is the interpreter's, bit for bit"
    );
    ratios(
        "England, 10-year weekly run under RK4",
        3,
        &mut [
            ("interpreter", &mut || {
                observe_into(&mut interpreted_rk4, &mut rk4_interpreter_buffer, width)
            }),
            ("compiled", &mut || {
                observe_into(&mut compiled_rk4, &mut rk4_buffer, width)
            }),
        ],
    );

    // The generated-Rust reference: the same operation lists written out
    // as Rust with every slot index a constant, compiled by rustc -O and
    // run in its own process (timed there, alternating with the engine's
    // timings here); its last saved row must be the engine's, bit for bit.
    match program.reference_rust(&time) {
        Err(e) => println!("England generated-Rust reference: not generated ({e})"),
        Ok(source) => match carecascade::engine::CompiledReference::build(&source) {
            Ok(None) => println!("England generated-Rust reference: no rustc to compile it"),
            Err(e) => println!("England generated-Rust reference: rustc failed: {e}"),
            Ok(Some(reference)) => {
                const RUNS: usize = 20;
                let mut last_row = Vec::new();
                compiled
                    .run_observing(&mut |_, row| {
                        last_row.clear();
                        last_row.extend_from_slice(row);
                    })
                    .unwrap();
                let expected: Vec<String> = last_row
                    .iter()
                    .map(|v| format!("{:x}", v.to_bits()))
                    .collect();
                let mut reference_times = Vec::new();
                let mut compiled_times = Vec::new();
                for _ in 0..7 {
                    let printed = reference.run(RUNS).unwrap();
                    let row = printed
                        .lines()
                        .find_map(|l| l.strip_prefix("last row: "))
                        .unwrap_or_else(|| panic!("{printed}"));
                    assert_eq!(row, expected.join(" "), "the reference's numbers differ");
                    let ns: u64 = printed
                        .lines()
                        .find_map(|l| l.strip_prefix("ns per run: "))
                        .and_then(|n| n.parse().ok())
                        .unwrap();
                    reference_times.push(Duration::from_nanos(ns));
                    compiled_times.push(median(15, RUNS, &mut || {
                        observe_into(&mut compiled, &mut buffer, width)
                    }));
                }
                reference_times.sort();
                compiled_times.sort();
                let (r, c) = (reference_times[3], compiled_times[3]);
                println!(
                    "England, generated-Rust reference (rustc -O, same operations, same bits): reference {r:.2?}, compiled {c:.2?}, ratio: {:.2} of the reference",
                    r.as_secs_f64() / c.as_secs_f64()
                );
            }
        },
    }

    // Code generation: compile, and compile then generate machine code.
    let codegen = median(11, 1, &mut || {
        let program = Program::compile(black_box(&model)).unwrap();
        program.native_code().unwrap();
    });
    let compile = median(11, 1, &mut || {
        black_box(Program::compile(black_box(&model)).unwrap());
    });
    println!(
        "England code generation: compile {compile:.2?}, compile + machine code {codegen:.2?}, machine code alone about {:.2?}",
        codegen.saturating_sub(compile)
    );
    let sir_model = native::parse(SIR, None).unwrap();
    let sir_codegen = median(21, 1, &mut || {
        Program::compile(&sir_model).unwrap().native_code().unwrap();
    });
    let sir_compile = median(21, 1, &mut || {
        black_box(Program::compile(&sir_model).unwrap());
    });
    println!(
        "SIR code generation: about {:.2?}",
        sir_codegen.saturating_sub(sir_compile)
    );

    let mut group = c.benchmark_group("jit England 10-year weekly run");
    group.throughput(Throughput::Elements(time.steps() as u64));
    group.bench_function("compiled", |b| {
        b.iter(|| observe_into(&mut compiled, &mut buffer, width))
    });
    group.bench_function("interpreter", |b| {
        b.iter(|| observe_into(&mut interpreted, &mut interpreter_buffer, width))
    });
    group.finish();
    c.bench_function("jit England compile + machine code", |b| {
        b.iter(|| Program::compile(&model).unwrap().native_code().unwrap())
    });
}

fn ensemble(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/baseline.toml");
    let quick = std::env::var_os("JIT_BENCH_QUICK").is_some();
    let full = std::env::var_os("JIT_BENCH_FULL").is_some();
    let counts: &[usize] = if quick {
        &[1000]
    } else if full {
        &[1000, 10_000, 100_000]
    } else {
        &[1000, 10_000]
    };
    for &runs in counts {
        let scenario = Scenario::load_with(path, &carecascade::library()).unwrap();
        let prepared = scenario.with_runs(runs).unwrap().prepare().unwrap();
        let time = |backend: Backend| {
            backend.set_process_default();
            let start = Instant::now();
            black_box(
                run_scenarios(std::slice::from_ref(&prepared), &RunOptions::default()).unwrap(),
            );
            start.elapsed()
        };
        let mut compiled = Vec::new();
        let mut interpreted = Vec::new();
        for _ in 0..if runs > 1000 { 1 } else { 3 } {
            // 100,000 runs only compiled: the interpreter would take minutes.
            if runs <= 10_000 {
                interpreted.push(time(Backend::Interpreter));
            }
            compiled.push(time(Backend::Compiled));
        }
        if interpreted.is_empty() {
            let c_time = compiled[0];
            println!(
                "baseline ensemble, {runs} runs on {} threads: compiled {c_time:.2?} ({:.0} runs/s), peak resident so far {}",
                rayon_threads(),
                runs as f64 / c_time.as_secs_f64(),
                peak_resident()
            );
            continue;
        }
        compiled.sort();
        interpreted.sort();
        let (c_time, i_time) = (
            compiled[compiled.len() / 2],
            interpreted[interpreted.len() / 2],
        );
        println!(
            "baseline ensemble, {runs} runs on {} threads: interpreter {i_time:.2?}, compiled {c_time:.2?} ({:.0} runs/s), ratio: {:.2}, peak resident so far {}",
            rayon_threads(),
            runs as f64 / c_time.as_secs_f64(),
            i_time.as_secs_f64() / c_time.as_secs_f64(),
            peak_resident()
        );
    }
    Backend::Compiled.set_process_default();
    let scenario = Scenario::load_with(path, &carecascade::library()).unwrap();
    let prepared = scenario.with_runs(1000).unwrap().prepare().unwrap();
    let mut group = c.benchmark_group("jit baseline ensemble");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(1000));
    group.bench_function("1000 runs compiled", |b| {
        b.iter(|| run_scenarios(std::slice::from_ref(&prepared), &RunOptions::default()).unwrap())
    });
    group.finish();
}

/// The process's peak resident memory (`VmHWM`, Linux), which only grows:
/// printed after 1,000, then 10,000, then 100,000 runs it shows whether
/// memory grows with the number of runs.
fn peak_resident() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

criterion_group!(benches, sir, england, ensemble);
criterion_main!(benches);
