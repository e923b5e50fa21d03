//! The compiled back end against the interpreter: bit for bit on every
//! conformance model under Euler and RK4, on a model that uses every kind of
//! operation (lookups, `DELAY FIXED`, time functions, `MIN`/`MAX`, logic,
//! non-negative limiting), in single runs and in batches; and the same
//! NaN/infinity error.
//!
//! The tests that a wrong translation is caught and that an operation the
//! compiler does not know falls back are unit tests of `jit`, which can
//! reach its internals.
#![cfg(feature = "jit")]

use carecascade_engine::build::{Aux, Constant, Flow, Lookup, Stock};
use carecascade_engine::format::load_model;
use carecascade_engine::{Backend, Method, Model, Program, Results};
use std::path::Path;

/// Every value of `a` and `b` has the same bits (so NaN equals NaN).
fn assert_identical(a: &Results, b: &Results, what: &str) {
    assert_eq!(a.times(), b.times(), "{what}: times");
    assert_eq!(a.names(), b.names(), "{what}: names");
    for name in a.names() {
        let (x, y) = (a.series(name).unwrap(), b.series(name).unwrap());
        for (k, (x, y)) in x.iter().zip(y.iter()).enumerate() {
            assert_eq!(
                x.to_bits(),
                y.to_bits(),
                "{what}: `{name}` at save point {k}: interpreter {x}, compiled {y}"
            );
        }
    }
}

/// Runs `program` with both back ends and `method`; both must agree, both
/// errors included.
fn compare(program: &Program, method: Method, what: &str) -> bool {
    let time = program.time().with_method(method);
    let mut interpreted = program.state();
    interpreted.set_backend(Backend::Interpreter);
    interpreted.set_time(time);
    let mut compiled = program.state();
    compiled.set_backend(Backend::Compiled);
    compiled.set_time(time);
    let (a, b) = (interpreted.run(), compiled.run());
    assert!(
        compiled.fallback().is_none(),
        "{what}: {:?}",
        compiled.fallback()
    );
    match (a, b) {
        (Ok(a), Ok(b)) => {
            assert_identical(&a, &b, &format!("{what} ({method:?})"));
            true
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "{what}");
            false
        }
        (a, b) => panic!("{what}: interpreter {:?}, compiled {:?}", a.err(), b.err()),
    }
}

fn model_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            model_files(&path, found);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("xmile" | "stmx" | "mdl")
        ) {
            found.push(path);
        }
    }
}

#[test]
fn conformance_models_are_bit_identical_under_euler_and_rk4() {
    let mut files = Vec::new();
    model_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance"),
        &mut files,
    );
    let mut compared = 0;
    for file in &files {
        let Ok(model) = load_model(file) else {
            continue;
        };
        let Ok(program) = Program::compile(&model) else {
            continue;
        };
        program
            .native_code()
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for method in [Method::Euler, Method::Rk4] {
            if compare(&program, method, &file.display().to_string()) {
                compared += 1;
            }
        }
    }
    // The suite has some 70 runnable files: make sure they were found.
    assert!(compared >= 80, "only {compared} runs compared");
}

/// A model with every kind of operation the compiler translates.
fn everything() -> Model {
    Model::builder("everything")
        .add(Stock::new("stock", "100").outflow("drain").inflow("fill"))
        .add(Stock::new("empty", "1").outflow("leak").non_negative(true))
        .add(Stock::new("other", "0").inflow("leak"))
        .add(Flow::new("drain", "stock * rate + MIN(stock, 3) - MAX(0, -1)"))
        .add(Flow::new(
            "fill",
            "effect(TIME) + STEP(5, 10) + PULSE(3, 2) + RAMP(0.5, 2, 8) + PULSE TRAIN(1, 1, 4, 20)",
        ))
        .add(Flow::new("leak", "2 + rate * 10"))
        .add(Lookup::new("effect", [(0.0, 1.0), (10.0, 4.0), (20.0, 2.0)]))
        .add(Constant::new("rate", 0.05))
        .add(Aux::new(
            "mixed",
            "IF stock > 50 AND NOT (rate = 0) OR stock <= 10 THEN SQRT(ABS(stock)) ELSE -EXP(rate)",
        ))
        .add(Aux::new(
            "functions",
            "LN(stock + 1) + LOG10(stock + 1) + SIN(TIME) * COS(TIME) + TAN(rate) + ATAN(rate) + INTEGER(stock / 7) + ROUND(stock / 3) + SIGN(rate - 0.05) + MODULO(TIME, 3) + stock ^ 0.5 + XIDZ(stock, TIME - 4, -1) + ZIDZ(1, TIME - 6)",
        ))
        .add(Aux::new("delayed", "DELAY FIXED(stock, 3, 7)"))
        .add(Aux::new("compared", "(stock < 60) + (stock >= 70) + (stock <> 80) - (TIME = 5)"))
        .time(carecascade_engine::TimeSettings::new(0.0, 30.0, 0.25).unwrap())
        .build()
        .unwrap()
}

/// Eight runs of `program` in one compiled batch, lane `l` with `param`
/// set to `value(l)`: every row, as each output's eight lanes.
fn compiled_batch(
    program: &Program,
    time: carecascade_engine::TimeSettings,
    param: carecascade_engine::ParamId,
    value: impl Fn(usize) -> f64,
) -> Vec<Vec<[f64; 8]>> {
    let mut batch = program.batch::<8>();
    batch.set_backend(Backend::Compiled);
    batch.set_time(time);
    for lane in 0..8 {
        batch.set_param(lane, param, value(lane)).unwrap();
    }
    let mut rows: Vec<Vec<[f64; 8]>> = Vec::new();
    let width = program.output_names().len();
    batch
        .run_observing(&mut |_, row| {
            rows.push(
                (0..width)
                    .map(|c| std::array::from_fn(|l| row.get(c, l).unwrap()))
                    .collect(),
            )
        })
        .unwrap();
    assert!(batch.fallback().is_none());
    rows
}

#[test]
fn every_operation_is_bit_identical_in_single_runs_and_batches() {
    let program = Program::compile(&everything()).unwrap();
    program.native_code().unwrap();
    for method in [Method::Euler, Method::Rk4] {
        assert!(compare(&program, method, "everything"));
    }
    // Saving every fourth step: the compiled loop runs four steps a call.
    let every_fourth = program.time().with_save_interval(1.0).unwrap();
    for method in [Method::Euler, Method::Rk4] {
        let run = |backend| {
            let mut state = program.state();
            state.set_backend(backend);
            state.set_time(every_fourth.with_method(method));
            state.run().unwrap()
        };
        assert_identical(
            &run(Backend::Interpreter),
            &run(Backend::Compiled),
            "everything, saved every fourth step",
        );
    }
    // Eight runs with different rates in one compiled batch, each against
    // an interpreted run of its own.
    let rate = program.parameter("rate").unwrap();
    for method in [Method::Euler, Method::Rk4] {
        let time = program.time().with_method(method);
        let rows = compiled_batch(&program, time, rate, |lane| 0.01 * lane as f64);
        for lane in 0..8 {
            let mut state = program.state();
            state.set_backend(Backend::Interpreter);
            state.set_time(time);
            state.set_param(rate, 0.01 * lane as f64).unwrap();
            let alone = state.run().unwrap();
            for (k, row) in rows.iter().enumerate() {
                for (c, values) in row.iter().enumerate() {
                    assert_eq!(
                        values[lane].to_bits(),
                        alone.values()[[k, c]].to_bits(),
                        "{method:?} lane {lane} row {k} column {c}"
                    );
                }
            }
        }
    }
}

#[test]
fn non_finite_values_are_named_alike() {
    let model = Model::builder("blows up")
        .add(Stock::new("x", "1").inflow("growth"))
        .add(Flow::new("growth", "LN(5 - TIME) + x"))
        .time(carecascade_engine::TimeSettings::new(0.0, 10.0, 0.5).unwrap())
        .build()
        .unwrap();
    let program = Program::compile(&model).unwrap();
    let run = |backend| {
        let mut state = program.state();
        state.set_backend(backend);
        state.run().unwrap_err().to_string()
    };
    let (interpreted, compiled) = (run(Backend::Interpreter), run(Backend::Compiled));
    assert!(interpreted.contains("growth"), "{interpreted}");
    assert_eq!(interpreted, compiled);

    // Saving every third step, the failure falls between save times: the
    // same rows are seen before the same error.
    for method in [Method::Euler, Method::Rk4] {
        let run = |backend| {
            let mut state = program.state();
            state.set_backend(backend);
            state.set_time(
                program
                    .time()
                    .with_save_interval(1.5)
                    .unwrap()
                    .with_method(method),
            );
            let mut rows = Vec::new();
            let error = state
                .run_observing(&mut |t, row| {
                    rows.push((
                        t.to_bits(),
                        row.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    ))
                })
                .unwrap_err();
            (rows, error.to_string())
        };
        let (interpreted, compiled) = (run(Backend::Interpreter), run(Backend::Compiled));
        assert!(!interpreted.0.is_empty());
        assert_eq!(interpreted, compiled, "{method:?}");
    }
}

/// The compiled loop tests only the values no later operation carries on
/// (a NaN in `inner` makes `outer` NaN) and sums them: an infinity that a
/// division hides (`1 / hidden` is 0) is still found, a NaN carried on is
/// found at the same step, and a sum that overflows although every value
/// is finite is a false alarm after which the run goes on, interpreted,
/// with the same results.
#[test]
fn the_pruned_and_summed_test_finds_what_the_interpreter_finds() {
    let build = |hidden: &str, inner: &str, spare: &str| {
        Model::builder("tests")
            .add(Stock::new("x", "1").inflow("growth"))
            .add(Flow::new("growth", "shown + outer"))
            .add(Aux::new("hidden", hidden))
            .add(Aux::new("shown", "1 / hidden"))
            .add(Aux::new("inner", inner))
            .add(Aux::new("outer", "inner * 2 + 1"))
            .add(Aux::new("spare", spare))
            .time(carecascade_engine::TimeSettings::new(0.0, 10.0, 0.5).unwrap())
            .build()
            .unwrap()
    };
    let run = |model: &Model, backend| {
        let program = Program::compile(model).unwrap();
        let mut state = program.state();
        state.set_backend(backend);
        let result = state.run().map_err(|e| e.to_string());
        assert!(state.fallback().is_none());
        result
    };
    // An infinity in `hidden` at TIME 5 that no later value shows.
    let model = build("1 / (TIME - 5)", "TIME", "0");
    let interpreted = run(&model, Backend::Interpreter).unwrap_err();
    assert!(interpreted.contains("hidden"), "{interpreted}");
    assert_eq!(run(&model, Backend::Compiled).unwrap_err(), interpreted);
    // A NaN in `inner` carried on into `outer`.
    let model = build("1 + TIME", "SQRT(5 - TIME) - SQRT(5 - TIME)", "0");
    let interpreted = run(&model, Backend::Interpreter).unwrap_err();
    assert!(interpreted.contains("inner"), "{interpreted}");
    assert_eq!(run(&model, Backend::Compiled).unwrap_err(), interpreted);
    // Values near the largest double: every one finite, their sum not.
    let model = build("1e308 + TIME", "TIME", "1.7e308 - TIME");
    let (interpreted, compiled) = (
        run(&model, Backend::Interpreter).unwrap(),
        run(&model, Backend::Compiled).unwrap(),
    );
    assert_identical(&interpreted, &compiled, "a false alarm");
}

/// A part of an equation that depends only on parameters (`1 - share`,
/// written out in several equations) is computed once per run by the
/// compiled loop and repeats of it are dropped from the step
/// (`compile::invariant`). Against the same model with that part as a
/// named auxiliary (`keep`), which the pass does not touch: the same
/// bits in both back ends, single runs and a batch, with the parameter
/// changed between runs of one state and across lanes; parts that read
/// the time (`TIME - share`) are computed at every step.
#[test]
fn constant_parts_of_equations_are_computed_once_a_run_with_the_same_bits() {
    let build = |keep: &str, sqrt_keep: &str, other: &str| {
        Model::builder("constant parts")
            .add(Stock::new("s", "100").outflow("drain").inflow("fill"))
            .add(Flow::new(
                "drain",
                format!("s * {keep} * rate + SQRT({sqrt_keep}) / 10"),
            ))
            .add(Flow::new(
                "fill",
                format!("{keep} * 10 + TIME * {other} + (TIME - share) * (TIME - share) / 100"),
            ))
            .add(Aux::new(
                "timed",
                format!("(TIME + 1) * {keep} + (TIME - share) * s / 1000"),
            ))
            .add(Aux::new("keep", "1 - share"))
            .add(Constant::new("share", 0.25))
            .add(Constant::new("rate", 0.05))
            .time(carecascade_engine::TimeSettings::new(0.0, 20.0, 0.25).unwrap())
            .build()
            .unwrap()
    };
    let inline = Program::compile(&build("(1 - share)", "1 - share", "(1 - share)")).unwrap();
    let named = Program::compile(&build("keep", "keep", "keep")).unwrap();
    // Two repeats of `1 - share` dropped (of the four); a model whose four
    // constant parts all differ keeps all four.
    let distinct = Program::compile(&build("(1 - share)", "2 - share", "(3 - share)")).unwrap();
    assert_eq!(inline.ops_per_step() + 2, distinct.ops_per_step());
    for program in [&inline, &named] {
        program.native_code().unwrap();
    }
    let share = |p: &Program| p.parameter("share").unwrap();
    let same = |a: &Results, b: &Results, what: &str| {
        assert_eq!(a.times(), b.times());
        for name in a.names() {
            let (x, y) = (a.series(name).unwrap(), b.series(name).unwrap());
            for (k, (x, y)) in x.iter().zip(y.iter()).enumerate() {
                assert_eq!(x.to_bits(), y.to_bits(), "{what}: `{name}` at {k}: {x} {y}");
            }
        }
    };
    for method in [Method::Euler, Method::Rk4] {
        let time = inline.time().with_method(method);
        let mut reference = named.state();
        reference.set_backend(Backend::Interpreter);
        reference.set_time(time);
        for backend in [Backend::Interpreter, Backend::Compiled] {
            let mut state = inline.state();
            state.set_backend(backend);
            state.set_time(time);
            // One state, the parameter changed between its runs.
            for value in [0.25, 0.6, 0.1] {
                state.set_param(share(&inline), value).unwrap();
                reference.set_param(share(&named), value).unwrap();
                let what = format!("{method:?} {backend:?} share {value}");
                same(&state.run().unwrap(), &reference.run().unwrap(), &what);
                assert!(state.fallback().is_none());
            }
            // `SQRT(1 - share)` is NaN: named in `drain` as before.
            state.set_param(share(&inline), 2.0).unwrap();
            reference.set_param(share(&named), 2.0).unwrap();
            let (a, b) = (state.run().unwrap_err(), reference.run().unwrap_err());
            assert!(a.to_string().contains("drain"), "{a}");
            assert_eq!(a.to_string(), b.to_string());
        }
        // Eight runs with different shares in one compiled batch.
        let rows = compiled_batch(&inline, time, share(&inline), |lane| 0.1 * lane as f64);
        for lane in 0..8 {
            reference
                .set_param(share(&named), 0.1 * lane as f64)
                .unwrap();
            let alone = reference.run().unwrap();
            for (c, name) in inline.output_names().iter().enumerate() {
                let series = alone.series(name).unwrap();
                for (k, row) in rows.iter().enumerate() {
                    assert_eq!(
                        row[c][lane].to_bits(),
                        series[k].to_bits(),
                        "{method:?} lane {lane}: `{name}` at {k}"
                    );
                }
            }
        }
    }
}
