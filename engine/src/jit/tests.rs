//! Tests of the compiled back end that need its internals: a wrong
//! translation is caught by comparing with the interpreter, and an
//! operation the compiler refuses makes the program run interpreted with
//! the reason.

use super::{Options, compile};
use crate::build::{Constant, Flow, Lookup, Stock};
use crate::program::ops::Op;
use crate::sim::Backend;
use crate::{Model, Program, Results};
use std::sync::Arc;

fn sir() -> Program {
    let model = Model::builder("sir")
        .add(Stock::new("susceptible", "990").outflow("infection"))
        .add(
            Stock::new("infected", "10")
                .inflow("infection")
                .outflow("recovery"),
        )
        .add(Stock::new("recovered", "0").inflow("recovery"))
        .add(Flow::new(
            "infection",
            "contact_rate * effect(TIME) * susceptible * infected / 1000",
        ))
        .add(Flow::new("recovery", "infected / duration"))
        .add(Lookup::new("effect", [(0.0, 1.0), (50.0, 0.5)]))
        .add(Constant::new("contact_rate", 0.3))
        .add(Constant::new("duration", 5.0))
        .build()
        .unwrap();
    Program::compile(&model).unwrap()
}

fn bits(results: &Results) -> Vec<u64> {
    results.values().iter().map(|v| v.to_bits()).collect()
}

/// Every value of every saved row of a batch's run, as bits.
fn batch_bits(batch: &mut crate::Batch<8>) -> Vec<u64> {
    let mut rows = Vec::new();
    batch
        .run_observing(&mut |_, row| rows.extend(row.values().iter().map(|v| v.to_bits())))
        .unwrap();
    rows
}

fn interpreted(program: &Program) -> Results {
    let mut state = program.state();
    state.set_backend(Backend::Interpreter);
    state.run().unwrap()
}

/// A batch of 8 lanes, compiled unrolled and one group at a time, gives the
/// interpreter's bits; `run` sets the lanes' parameters and runs.
fn batches_agree_with_interpreter(
    program: &Program,
    run: impl Fn(&mut crate::Batch<8>) -> Vec<u64>,
) {
    let mut interpreted_batch = program.batch::<8>();
    interpreted_batch.set_backend(Backend::Interpreter);
    let reference = run(&mut interpreted_batch);
    for unroll in [true, false] {
        let options = Options {
            unroll: Some(unroll),
            ..Options::default()
        };
        let kernels = Arc::new(compile(program, 8, &options).unwrap());
        let mut batch = program.batch::<8>();
        batch.use_kernels(kernels);
        assert!(run(&mut batch) == reference, "unrolled: {unroll}");
    }
}

/// One compiled run (with its loop) and batches of 8 lanes, lane `l`
/// with the parameter `shape` at `shape_of(l)`, give the interpreter's bits.
fn lookups_agree_with_interpreter(program: &Program, shape_of: impl Fn(usize) -> f64) {
    let reference = bits(&interpreted(program));
    let one = Arc::new(compile(program, 1, &Options::default()).unwrap());
    assert!(one.has_loop(program, false));
    let mut state = program.state();
    state.use_kernels(one);
    assert!(bits(&state.run().unwrap()) == reference);

    let shape = program.parameter("shape").unwrap();
    let run = |batch: &mut crate::Batch<8>| {
        for lane in 0..8 {
            batch.set_param(lane, shape, shape_of(lane)).unwrap();
        }
        batch_bits(batch)
    };
    batches_agree_with_interpreter(program, run);
}

#[test]
fn the_compiled_code_agrees_and_a_wrong_translation_would_not() {
    let program = sir();
    let reference = bits(&interpreted(&program));

    let right = Arc::new(compile(&program, 1, &Options::default()).unwrap());
    assert!(
        right.has_loop(&program, false),
        "the Euler loop is compiled"
    );
    let eight = compile(&program, 8, &Options::default()).unwrap();
    assert!(eight.has_loop(&program, false), "and for lanes of 8");
    let mut state = program.state();
    state.use_kernels(right);
    assert!(bits(&state.run().unwrap()) == reference);

    // `a * b` compiled one unit in the last place off: far below any
    // tolerance, but not the same bits, and the comparison sees it.
    let sabotage = Options {
        sabotage: true,
        ..Options::default()
    };
    let wrong = Arc::new(compile(&program, 1, &sabotage).unwrap());
    let mut state = program.state();
    state.use_kernels(wrong);
    assert!(bits(&state.run().unwrap()) != reference);
}

/// Runge-Kutta runs in the compiled loop (compiled when first needed),
/// bit for bit as the interpreter's `rk4_step`; the same translation one
/// unit in the last place off is seen, so the loop is what ran.
#[test]
fn the_runge_kutta_loop_is_compiled_and_agrees() {
    let program = sir();
    let rk4 = program.time().with_method(crate::Method::Rk4);
    let run = |kernels: Option<Arc<super::Kernels>>| {
        let mut state = program.state();
        match kernels {
            Some(k) => state.use_kernels(k),
            None => state.set_backend(Backend::Interpreter),
        }
        state.set_time(rk4);
        bits(&state.run().unwrap())
    };
    let reference = run(None);
    let right = Arc::new(compile(&program, 1, &Options::default()).unwrap());
    assert!(
        right.has_loop(&program, true),
        "the Runge-Kutta loop is compiled"
    );
    assert!(run(Some(right)) == reference);
    let sabotage = Options {
        sabotage: true,
        ..Options::default()
    };
    let wrong = Arc::new(compile(&program, 1, &sabotage).unwrap());
    assert!(run(Some(wrong)) != reference);
}

#[test]
fn an_operation_the_compiler_does_not_know_falls_back_with_the_reason() {
    let program = sir();
    let refuse_lookups = Options {
        refuse: Some(|op| matches!(op, Op::Lookup { .. })),
        ..Options::default()
    };
    let fallback = compile(&program, 1, &refuse_lookups).unwrap_err();
    assert!(fallback.reason().contains("Lookup"), "{fallback}");

    program.jit.insert(1, Err(fallback.clone()));
    assert_eq!(program.native_code(), Err(fallback.clone()));
    let mut state = program.state();
    state.set_backend(Backend::Compiled);
    let results = state.run().unwrap();
    assert_eq!(state.fallback(), Some(&fallback));
    assert!(bits(&results) == bits(&interpreted(&program)));
    // The interpreter asked for is no fallback.
    state.set_backend(Backend::Interpreter);
    state.run().unwrap();
    assert_eq!(state.fallback(), None);
}

/// The compiled loop over lanes both ways (every group of lanes unrolled in
/// one step, and one group after another), with limiting that scales flows
/// in some lanes and not others, a lookup and a `DELAY FIXED`: each lane
/// as an interpreted batch gives it.
#[test]
fn batches_agree_unrolled_or_one_group_at_a_time() {
    let model = Model::builder("draining")
        .add(
            Stock::new("tank", "5")
                .outflow("drain")
                .inflow("fill")
                .non_negative(true),
        )
        .add(Stock::new("sink", "0").inflow("drain"))
        .add(Flow::new("drain", "rate * 10 + effect(TIME)"))
        .add(Flow::new("fill", "DELAY FIXED(drain, 2, 1) * 0.5"))
        .add(Lookup::new("effect", [(0.0, 0.0), (10.0, 3.0)]))
        .add(Constant::new("rate", 0.1))
        .time(crate::TimeSettings::new(0.0, 20.0, 0.25).unwrap())
        .build()
        .unwrap();
    let program = Program::compile(&model).unwrap();
    let rate = program.parameter("rate").unwrap();
    let run = |batch: &mut crate::Batch<8>| {
        for lane in 0..8 {
            batch.set_param(lane, rate, 0.05 * lane as f64).unwrap();
        }
        batch_bits(batch)
    };
    for method in [crate::Method::Euler, crate::Method::Rk4] {
        let time = program.time().with_method(method);
        let mut interpreted = program.batch::<8>();
        interpreted.set_backend(Backend::Interpreter);
        interpreted.set_time(time);
        let reference = run(&mut interpreted);
        for unroll in [true, false] {
            let options = Options {
                unroll: Some(unroll),
                ..Options::default()
            };
            let kernels = Arc::new(compile(&program, 8, &options).unwrap());
            assert!(kernels.has_loop(&program, method == crate::Method::Rk4));
            let mut batch = program.batch::<8>();
            batch.use_kernels(kernels);
            batch.set_time(time);
            assert!(
                run(&mut batch) == reference,
                "{method:?}, unrolled: {unroll}"
            );
        }
    }
}

/// Lookups lowered inline (each kind of interpolation, with the input
/// below, at, between and beyond the points), a table too large to inline,
/// MIN and MAX (ties of 0 and -0 included) and powers whose call is
/// skipped in all, some or none of a pair of lanes: the same bits as the
/// interpreter, one run and a batch of lanes.
#[test]
fn inline_lookups_min_and_max_agree_bit_for_bit() {
    use crate::Interpolation;
    let points = [(1.0, 0.3), (2.5, -1.7), (4.0, 2.2), (7.0, 2.2), (9.0, 0.1)];
    let large: Vec<(f64, f64)> = (0..40)
        .map(|k| (0.25 * k as f64, (k as f64 * 0.7).sin()))
        .collect();
    let model = Model::builder("lookups")
        .add(Stock::new("level", "0").inflow("rise"))
        .add(Flow::new(
            "rise",
            "continuous(x) + extrapolated(x) + discrete(x) + large(x) + single(x) + MIN(x, 5) - MAX(x, 3) + (1 + zero) ^ x + x ^ zero + shape ^ x + (x * x / 4 + 1) ^ (shape - 1)",
        ))
        .add(crate::build::Aux::new("x", "TIME * shape - 1"))
        .add(crate::build::Aux::new("low", "MIN(zero, -zero)"))
        .add(crate::build::Aux::new("high", "MAX(-zero, zero)"))
        .add(Constant::new("shape", 1.0))
        .add(Constant::new("zero", 0.0))
        .add(Lookup::new("continuous", points))
        .add(Lookup::new("extrapolated", points).interpolation(Interpolation::Extrapolate))
        .add(Lookup::new("discrete", points).interpolation(Interpolation::Discrete))
        .add(Lookup::new("large", large))
        .add(Lookup::new("single", [(2.0, 4.5)]))
        .time(crate::TimeSettings::new(0.0, 12.0, 0.125).unwrap())
        .build()
        .unwrap();
    let program = Program::compile(&model).unwrap();
    lookups_agree_with_interpreter(&program, |lane| 0.5 + 0.25 * lane as f64);
}

/// Costly functions called again with the same operands in one step
/// take the earlier call's result only when every lane's operands are the
/// same bits: `EXP`, `LN` and powers of `x` and of `y`, where `y` is `x`
/// in even lanes and one unit in the last place of `other` away in odd
/// ones (so a pair of lanes agrees in one lane only), and powers sharing
/// a base but not an exponent. The same bits as the interpreter, one run
/// and a batch; reusing a result when only some lanes (or only the base)
/// agree gives other bits.
#[test]
fn costly_calls_are_reused_only_when_every_lane_has_the_same_operands() {
    let model = Model::builder("reuse")
        .add(Stock::new("level", "0").inflow("rise"))
        .add(Flow::new(
            "rise",
            "EXP(x) + EXP(y) + EXP(x) + EXP(y) + LN(1 + x * x) + LN(1 + y * y) + (1 + x * x) ^ y + (1 + x * x) ^ (3 * x) + (1 + y * y) ^ x + (1 + x * x) ^ y",
        ))
        .add(crate::build::Aux::new("x", "TIME * shape / 8 - 1"))
        .add(crate::build::Aux::new("y", "TIME * other / 8 - 1"))
        .add(Constant::new("shape", 1.0))
        .add(Constant::new("other", 1.0))
        .time(crate::TimeSettings::new(0.0, 6.0, 0.125).unwrap())
        .build()
        .unwrap();
    let program = Program::compile(&model).unwrap();
    let reference = bits(&interpreted(&program));
    let one = Arc::new(compile(&program, 1, &Options::default()).unwrap());
    let mut state = program.state();
    state.use_kernels(one);
    assert!(bits(&state.run().unwrap()) == reference);
    let (shape, other) = (
        program.parameter("shape").unwrap(),
        program.parameter("other").unwrap(),
    );
    let run = |batch: &mut crate::Batch<8>| {
        for lane in 0..8 {
            let s = 0.5 + 0.25 * lane as f64;
            let o = if lane % 2 == 0 {
                s
            } else {
                f64::from_bits(s.to_bits() + 1)
            };
            batch.set_param(lane, shape, s).unwrap();
            batch.set_param(lane, other, o).unwrap();
        }
        batch_bits(batch)
    };
    batches_agree_with_interpreter(&program, run);
}

/// Lookups searched by the inline binary search: tables of 2, 3, 7 and 16
/// points (the most inlined, four levels deep) of each kind of
/// interpolation, with the input stepping through every point exactly,
/// between them, below the first and beyond the last. A segment chosen one
/// off (at a point, or near the middle of the search) gives other bits
/// than the interpreter; one run and a batch, unrolled or one group at a
/// time.
#[test]
fn inline_lookup_search_agrees_at_every_point() {
    use crate::Interpolation;
    let mut model = Model::builder("search")
        .add(Stock::new("level", "0").inflow("rise"))
        .add(Flow::new("rise", "x"))
        .add(crate::build::Aux::new("x", "TIME * shape - 1"))
        .add(Constant::new("shape", 1.0));
    for n in [2usize, 3, 7, 16] {
        // Points 0.75 apart from -0.5 (x meets each, in steps of 0.125),
        // values that are not on one line.
        let points: Vec<(f64, f64)> = (0..n)
            .map(|k| {
                (
                    0.75 * k as f64 - 0.5,
                    (1.3 * k as f64).sin() * 3.0 + 0.1 * k as f64,
                )
            })
            .collect();
        for (kind, interpolation) in [
            ("continuous", Interpolation::Continuous),
            ("extrapolated", Interpolation::Extrapolate),
            ("discrete", Interpolation::Discrete),
        ] {
            let table = format!("{kind}{n}");
            model = model
                .add(Lookup::new(table.clone(), points.clone()).interpolation(interpolation))
                .add(crate::build::Aux::new(
                    format!("{table} value"),
                    format!("{table}(x)"),
                ));
        }
    }
    let model = model
        .time(crate::TimeSettings::new(0.0, 14.0, 0.125).unwrap())
        .build()
        .unwrap();
    let program = Program::compile(&model).unwrap();
    lookups_agree_with_interpreter(&program, |lane| 1.0 - 0.125 * lane as f64);
}

/// Non-negative limiting through each tier of the compiled test: flows
/// that are all positive (the cheap test rules limiting out), a negative
/// inflow and a flow of -0 (the cheap test cannot, the interpreter's first
/// pass decides), stocks that do run dry (limiting scales the outflows),
/// and a stock with inflows only whose negative inflow is limited; net
/// flows built up over several flows (stored once, when complete). Each
/// lane of a batch, unrolled or one group at a time, and single runs: the
/// interpreter's bits.
#[test]
fn limiting_agrees_through_every_tier_of_its_test() {
    let model = Model::builder("tiers")
        .add(
            Stock::new("tank", "5")
                .inflow("fill")
                .outflow("drain")
                .outflow("signed")
                .outflow("spill")
                .non_negative(true),
        )
        .add(
            Stock::new("sink", "0")
                .inflow("drain")
                .inflow("spill")
                .inflow("signed"),
        )
        .add(Stock::new("basin", "1").inflow("leak").non_negative(true))
        .add(Flow::new("fill", "swing * SIN(TIME)"))
        .add(Flow::new("drain", "rate * 10 + effect(TIME)"))
        .add(Flow::new("spill", "rate * tank"))
        .add(Flow::new("signed", "flip * zero"))
        .add(Flow::new("leak", "swing * COS(TIME) * 2"))
        .add(Lookup::new("effect", [(0.0, 0.0), (10.0, 3.0)]))
        .add(Constant::new("rate", 0.1))
        .add(Constant::new("swing", 0.0))
        .add(Constant::new("flip", 1.0))
        .add(Constant::new("zero", 0.0))
        .time(crate::TimeSettings::new(0.0, 20.0, 0.25).unwrap())
        .build()
        .unwrap();
    let program = Program::compile(&model).unwrap();
    let [rate, swing, flip] = ["rate", "swing", "flip"].map(|p| program.parameter(p).unwrap());
    let settings = |lane: usize| {
        (
            0.02 * lane as f64,
            if lane.is_multiple_of(4) {
                0.0
            } else {
                0.5 * lane as f64
            },
            if lane % 3 == 2 { -1.0 } else { 1.0 },
        )
    };
    let tank = program.output_index("tank").unwrap();
    let fill = program.output_index("fill").unwrap();
    let basin = program.output_index("basin").unwrap();
    let run = |batch: &mut crate::Batch<8>| {
        for lane in 0..8 {
            let (r, s, f) = settings(lane);
            batch.set_param(lane, rate, r).unwrap();
            batch.set_param(lane, swing, s).unwrap();
            batch.set_param(lane, flip, f).unwrap();
        }
        batch_bits(batch)
    };
    let mut interpreted = program.batch::<8>();
    interpreted.set_backend(Backend::Interpreter);
    let reference = run(&mut interpreted);
    // What the model is for: tanks and basins run dry in some lanes, and
    // inflows turn negative.
    let value = |row: usize, output: usize, lane: usize| {
        let width = program.output_names().len();
        f64::from_bits(reference[(row * width + output) * 8 + lane])
    };
    let rows = reference.len() / (program.output_names().len() * 8);
    let somewhere = |output: usize, test: &dyn Fn(f64) -> bool| {
        (0..rows).any(|r| (0..8).any(|lane| test(value(r, output, lane))))
    };
    assert!(somewhere(tank, &|v| v == 0.0), "a tank runs dry");
    assert!(somewhere(basin, &|v| v == 0.0), "a basin runs dry");
    assert!(somewhere(fill, &|v| v < 0.0), "an inflow turns negative");
    for unroll in [true, false] {
        let options = Options {
            unroll: Some(unroll),
            ..Options::default()
        };
        let kernels = Arc::new(compile(&program, 8, &options).unwrap());
        assert!(kernels.has_loop(&program, false));
        let mut batch = program.batch::<8>();
        batch.use_kernels(kernels);
        assert!(run(&mut batch) == reference, "unrolled: {unroll}");
    }
    let one = Arc::new(compile(&program, 1, &Options::default()).unwrap());
    for lane in 0..8 {
        let (r, s, f) = settings(lane);
        let mut reference = program.state();
        reference.set_backend(Backend::Interpreter);
        let mut compiled = program.state();
        compiled.use_kernels(one.clone());
        for state in [&mut reference, &mut compiled] {
            state.set_param(rate, r).unwrap();
            state.set_param(swing, s).unwrap();
            state.set_param(flip, f).unwrap();
        }
        assert!(
            bits(&compiled.run().unwrap()) == bits(&reference.run().unwrap()),
            "lane {lane} as a single run"
        );
    }
}

/// Values the same at every step (a chain of auxiliaries of constants, a
/// lookup of a constant, a flow of constants into a stock that is not
/// non-negative, its net flow) are not computed again by the compiled
/// Euler loop, which reads them from the slots the run's first evaluation
/// filled: the interpreter's bits with the model's parameters and with
/// others set between runs of the same code, one run and a batch; and a
/// constant expression that is infinite from the start is named at the
/// start, as the interpreter names it.
#[test]
fn values_the_same_at_every_step_agree_and_follow_the_parameters() {
    let model = Model::builder("invariant")
        .add(Stock::new("pool", "10").inflow("steady").outflow("decay"))
        .add(Stock::new("tank", "3").outflow("drain").non_negative(true))
        .add(Flow::new("steady", "base * scale + shape(base)"))
        .add(Flow::new("decay", "pool * rate + TIME * 0.01"))
        .add(Flow::new("drain", "scaled * 2"))
        .add(crate::build::Aux::new("scaled", "(base + 1) / scale"))
        .add(crate::build::Aux::new("ratio", "scale / base"))
        .add(Lookup::new("shape", [(0.0, 1.0), (5.0, 2.0)]))
        .add(Constant::new("base", 2.0))
        .add(Constant::new("scale", 3.0))
        .add(Constant::new("rate", 0.1))
        .time(crate::TimeSettings::new(0.0, 10.0, 0.5).unwrap())
        .build()
        .unwrap();
    let program = Program::compile(&model).unwrap();
    let one = Arc::new(compile(&program, 1, &Options::default()).unwrap());
    assert!(one.has_loop(&program, false));
    let [base, scale] = ["base", "scale"].map(|p| program.parameter(p).unwrap());
    let mut compiled = program.state();
    compiled.use_kernels(one);
    let mut reference = program.state();
    reference.set_backend(Backend::Interpreter);
    for (b, s) in [(2.0, 3.0), (4.5, 0.25), (-1.0, 7.0)] {
        for state in [&mut compiled, &mut reference] {
            state.set_param(base, b).unwrap();
            state.set_param(scale, s).unwrap();
        }
        assert!(
            bits(&compiled.run().unwrap()) == bits(&reference.run().unwrap()),
            "base {b}, scale {s}"
        );
    }
    // `ratio` is infinite from the start: both name it at time 0.
    for state in [&mut compiled, &mut reference] {
        state.set_param(base, 0.0).unwrap();
    }
    let (a, b) = (compiled.run().unwrap_err(), reference.run().unwrap_err());
    assert_eq!(a.to_string(), b.to_string());
    assert!(a.to_string().contains("ratio"), "{a}");

    let eight = Arc::new(compile(&program, 8, &Options::default()).unwrap());
    let run = |batch: &mut crate::Batch<8>| {
        for lane in 0..8 {
            batch.set_param(lane, base, 1.0 + lane as f64).unwrap();
            batch
                .set_param(lane, scale, 0.5 * (lane + 1) as f64)
                .unwrap();
        }
        batch_bits(batch)
    };
    let mut interpreted = program.batch::<8>();
    interpreted.set_backend(Backend::Interpreter);
    let mut batch = program.batch::<8>();
    batch.use_kernels(eight);
    assert!(run(&mut batch) == run(&mut interpreted));
}

/// Every saved row of a run, with its time, as bits: `(rows, error)`.
type Saved = (Vec<u64>, Option<String>);

/// Runs a single run, keeping the rows it hands over and its error.
fn saved_rows(state: &mut crate::State) -> Saved {
    let mut rows = Vec::new();
    let result = state.run_observing(&mut |time, row| {
        rows.push(time.to_bits());
        rows.extend(row.iter().map(|v| v.to_bits()));
    });
    (rows, result.err().map(|e| e.to_string()))
}

/// `state` run with [`crate::State::run`] and with
/// [`crate::State::run_into`] (into a buffer a row longer than needed):
/// each gives the times, values and error of `expected` (the
/// interpreter's [`saved_rows`]); `run_into` writes the rows saved before
/// an error, and no more.
fn runs_agree(state: &mut crate::State, expected: &Saved, what: &str) {
    let width = state.program().output_names().len();
    let rows: Vec<&[u64]> = expected.0.chunks(width + 1).collect();
    let times: Vec<u64> = rows.iter().map(|r| r[0]).collect();
    let values: Vec<u64> = rows.iter().flat_map(|r| r[1..].iter().copied()).collect();
    match state.run() {
        Ok(results) => {
            assert!(expected.1.is_none(), "{what}: run gave no error");
            let got: Vec<u64> = results.times().iter().map(|t| t.to_bits()).collect();
            assert!(got == times, "{what}: run's times");
            assert!(bits(&results) == values, "{what}: run's values");
        }
        Err(e) => assert_eq!(Some(e.to_string()), expected.1, "{what}: run"),
    }
    let mut buffer = vec![f64::NAN; (state.time().saved_points() + 1) * width];
    match state.run_into(&mut buffer) {
        Ok(written) => {
            assert!(expected.1.is_none(), "{what}: run_into gave no error");
            assert_eq!(written, times.len(), "{what}: run_into's rows");
        }
        Err(e) => assert_eq!(Some(e.to_string()), expected.1, "{what}: run_into"),
    }
    let got: Vec<u64> = buffer[..values.len()].iter().map(|v| v.to_bits()).collect();
    assert!(got == values, "{what}: run_into's values");
    assert!(
        buffer[values.len()..].iter().all(|v| v.is_nan()),
        "{what}: run_into wrote past the rows saved"
    );
}

/// Runs a batch of 8, keeping the rows it hands over and its error (with
/// the lane).
fn saved_batch_rows(batch: &mut crate::Batch<8>) -> Saved {
    let mut rows = Vec::new();
    let result = batch.run_observing(&mut |time, row| {
        rows.push(time.to_bits());
        rows.extend(row.values().iter().map(|v| v.to_bits()));
    });
    (rows, result.err().map(|e| format!("lane {}: {e}", e.lane)))
}

/// [`runs_agree`] for a batch: [`crate::Batch::run_into`] (into a buffer
/// a row longer than needed) gives the values and error of `expected`
/// (the rows [`saved_batch_rows`] kept, with the lane that failed), and
/// writes the rows saved before an error, and no more.
fn batch_runs_agree(batch: &mut crate::Batch<8>, expected: &Saved, what: &str) {
    let width = batch.program().output_names().len() * 8;
    let values: Vec<u64> = expected
        .0
        .chunks(width + 1)
        .flat_map(|r| r[1..].iter().copied())
        .collect();
    let mut buffer = vec![f64::NAN; (batch.time().saved_points() + 1) * width];
    match batch.run_into(&mut buffer).expect("room enough") {
        Ok(written) => {
            assert!(expected.1.is_none(), "{what}: run_into gave no error");
            assert_eq!(written * width, values.len(), "{what}: run_into's rows");
        }
        Err(e) => assert_eq!(
            Some(format!("lane {}: {e}", e.lane)),
            expected.1,
            "{what}: run_into"
        ),
    }
    let got: Vec<u64> = buffer[..values.len()].iter().map(|v| v.to_bits()).collect();
    assert!(got == values, "{what}: run_into's values");
    assert!(
        buffer[values.len()..].iter().all(|v| v.is_nan()),
        "{what}: run_into wrote past the rows saved"
    );
}

/// Sets parameter `id` of each lane of `batch` to its value in `values`.
fn set_each_lane(batch: &mut crate::Batch<8>, id: crate::ParamId, values: [f64; 8]) {
    for (lane, value) in values.into_iter().enumerate() {
        batch.set_param(lane, id, value).unwrap();
    }
}

/// The compiled loop runs several save times per call, writing their rows
/// into a buffer of limited size (so a long run takes several calls):
/// with `DELAY FIXED`, a lookup, a time function, with non-negative
/// limiting that binds and without limiting (where a small program's
/// values stay in registers through a call and are stored at its end),
/// under Euler and RK4, saving every step, every few steps (the last row
/// at the stop time, between save times) and less often than a call's
/// buffer holds, in single runs and batches (unrolled or one group at a
/// time), the same rows and times as the interpreter, bit for bit.
#[test]
fn several_save_times_per_call_agree_with_the_interpreter() {
    for non_negative in [true, false] {
        several_save_times_per_call(non_negative);
    }
}

fn several_save_times_per_call(non_negative: bool) {
    let model = Model::builder("saving")
        .add(
            Stock::new("tank", "5")
                .inflow("fill")
                .outflow("drain")
                .non_negative(non_negative),
        )
        .add(Stock::new("sink", "0").inflow("drain"))
        .add(Flow::new("drain", "rate * 10 + effect(TIME)"))
        .add(Flow::new(
            "fill",
            // A buffer of the time itself: its input slot must be stored
            // at every step even when the loop keeps the time in a register.
            "DELAY FIXED(drain, 2, 1) * 0.5 + swing * SIN(TIME) + STEP(0.5, 300) + DELAY FIXED(sink, 1, 0) * 0.01 + DELAY FIXED(TIME, 3, -1) * 0.001",
        ))
        .add(Lookup::new("effect", [(0.0, 0.0), (10.0, 3.0)]))
        .add(Constant::new("rate", 0.1))
        .add(Constant::new("swing", 0.3))
        .time(crate::TimeSettings::new(0.0, 400.0, 0.0625).unwrap())
        .build()
        .unwrap();
    let program = Program::compile(&model).unwrap();
    let [rate, swing] = ["rate", "swing"].map(|p| program.parameter(p).unwrap());
    let one = Arc::new(compile(&program, 1, &Options::default()).unwrap());
    let batches: Vec<Arc<super::Kernels>> = [true, false]
        .map(|unroll| {
            let options = Options {
                unroll: Some(unroll),
                ..Options::default()
            };
            Arc::new(compile(&program, 8, &options).unwrap())
        })
        .into();
    let tank = program.output_index("tank").unwrap();
    for method in [crate::Method::Euler, crate::Method::Rk4] {
        // Every step, every 3 (6,400 steps: the last row between save
        // times), every 7, every 1,000 (more steps than a call's rows).
        for every in [1.0, 3.0, 7.0, 1000.0] {
            let time = program
                .time()
                .with_method(method)
                .with_save_interval(every * 0.0625)
                .unwrap();
            let what =
                format!("{method:?}, saving every {every} steps, non-negative: {non_negative}");
            let mut reference = program.state();
            reference.set_backend(Backend::Interpreter);
            reference.set_time(time);
            let expected = saved_rows(&mut reference);
            assert!(expected.1.is_none(), "{what}: {:?}", expected.1);
            assert_eq!(
                expected.0.len(),
                time.saved_points() * (program.output_names().len() + 1)
            );
            let mut compiled = program.state();
            compiled.use_kernels(one.clone());
            compiled.set_time(time);
            assert!(saved_rows(&mut compiled) == expected, "{what}");
            runs_agree(&mut compiled, &expected, &what);
            runs_agree(&mut reference, &expected, &format!("{what}, interpreted"));

            let run = |batch: &mut crate::Batch<8>| {
                batch.set_time(time);
                for lane in 0..8 {
                    batch.set_param(lane, rate, 0.03 * lane as f64).unwrap();
                    batch.set_param(lane, swing, 0.1 * lane as f64).unwrap();
                }
                saved_batch_rows(batch)
            };
            let mut interpreted = program.batch::<8>();
            interpreted.set_backend(Backend::Interpreter);
            let expected = run(&mut interpreted);
            assert!(expected.1.is_none(), "{what}: {:?}", expected.1);
            if method == crate::Method::Euler && every == 1.0 && non_negative {
                // What the model is for: the tank runs dry in some lanes.
                let width = program.output_names().len() * 8 + 1;
                assert!(
                    expected
                        .0
                        .chunks(width)
                        .any(|row| (0..8).any(|l| f64::from_bits(row[1 + tank * 8 + l]) == 0.0)),
                    "a tank runs dry"
                );
            }
            batch_runs_agree(&mut interpreted, &expected, &format!("{what}, interpreted"));
            for (kernels, unroll) in batches.iter().zip([true, false]) {
                let mut batch = program.batch::<8>();
                batch.use_kernels(kernels.clone());
                let what = format!("{what}, unrolled: {unroll}");
                assert!(run(&mut batch) == expected, "{what}");
                batch_runs_agree(&mut batch, &expected, &what);
            }
        }
    }
}

/// A NaN in the middle of a call of the compiled loop (a step between
/// save times, after some save times of the same call, in a later call):
/// the rows before it and the error naming the variable and time are the
/// interpreter's, in a single run and in a batch (the lowest lane of
/// those failing first), under Euler and RK4; a lane failing only later
/// is not named; with and without limiting (without, a small program's
/// values stay in registers through a call).
#[test]
fn a_nan_mid_call_is_named_as_the_interpreter_names_it() {
    for non_negative in [true, false] {
        a_nan_mid_call(non_negative);
    }
}

fn a_nan_mid_call(non_negative: bool) {
    let model = Model::builder("failing")
        .add(Stock::new("level", "1").inflow("rise").outflow("loss"))
        .add(
            Stock::new("store", "2")
                .inflow("loss")
                .outflow("use")
                .non_negative(non_negative),
        )
        .add(Flow::new("rise", "0.5 + root * 0"))
        .add(Flow::new("loss", "level * 0.01"))
        .add(Flow::new("use", "store * 0.02 + DELAY FIXED(loss, 1, 0)"))
        .add(crate::build::Aux::new("root", "SQRT(blowup - TIME)"))
        .add(Constant::new("blowup", 700.3))
        .time(
            crate::TimeSettings::new(0.0, 2000.0, 0.125)
                .unwrap()
                .with_save_interval(0.25)
                .unwrap(),
        )
        .build()
        .unwrap();
    let program = Program::compile(&model).unwrap();
    let blowup = program.parameter("blowup").unwrap();
    let one = Arc::new(compile(&program, 1, &Options::default()).unwrap());
    let eight = Arc::new(compile(&program, 8, &Options::default()).unwrap());
    for method in [crate::Method::Euler, crate::Method::Rk4] {
        let time = program.time().with_method(method);
        let mut reference = program.state();
        reference.set_backend(Backend::Interpreter);
        reference.set_time(time);
        let expected = saved_rows(&mut reference);
        let error = expected.1.clone().expect("an error");
        assert!(error.contains("700.375"), "{error}");
        if method == crate::Method::Euler {
            assert!(error.contains("`root`"), "{error}");
        }
        // More rows than one call saves.
        assert!(expected.0.len() > 2 * super::super::sim::SAVED_VALUES);
        let mut compiled = program.state();
        compiled.use_kernels(one.clone());
        compiled.set_time(time);
        assert!(
            saved_rows(&mut compiled) == expected,
            "{method:?}, non-negative: {non_negative}"
        );
        let what = format!("{method:?}, non-negative: {non_negative}");
        runs_agree(&mut compiled, &expected, &what);
        runs_agree(&mut reference, &expected, &format!("{what}, interpreted"));

        let run = |batch: &mut crate::Batch<8>| {
            batch.set_time(time);
            set_each_lane(
                batch,
                blowup,
                [
                    1900.0, 1500.0, 1200.0, 1500.3, 1200.3, 1800.0, 1200.0, 1900.0,
                ],
            );
            saved_batch_rows(batch)
        };
        let mut interpreted = program.batch::<8>();
        interpreted.set_backend(Backend::Interpreter);
        interpreted.set_time(time);
        let expected = run(&mut interpreted);
        let error = expected.1.clone().expect("an error");
        assert!(error.starts_with("lane 2:"), "{error}");
        let mut batch = program.batch::<8>();
        batch.use_kernels(eight.clone());
        assert!(
            run(&mut batch) == expected,
            "{method:?}, non-negative: {non_negative}, batch"
        );
        batch_runs_agree(&mut batch, &expected, &format!("{what}, batch"));
        batch_runs_agree(
            &mut interpreted,
            &expected,
            &format!("{what}, batch, interpreted"),
        );
    }
}

/// Each function's own helper (`FUNC1_HELPERS`, `FUNC2_HELPERS`, which
/// compiled code calls) is the interpreter's function it stands for, bit
/// for bit, over values that tell the functions apart (signs, zeros,
/// fractions, large and non-finite values): a helper put in another's
/// place would differ somewhere.
#[test]
fn each_function_helper_is_the_interpreters_function() {
    use super::{FUNC1, FUNC1_HELPERS, FUNC2, FUNC2_HELPERS};
    let values = [
        -2.5,
        -1.0,
        -0.5,
        -0.0,
        0.0,
        0.25,
        0.5,
        1.0,
        1.5,
        2.0,
        3.0,
        7.25,
        100.0,
        1e300,
        f64::INFINITY,
        f64::NAN,
    ];
    for (k, (&f, helper)) in FUNC1.iter().zip(FUNC1_HELPERS).enumerate() {
        for &a in &values {
            let (got, want) = (helper(a), crate::sim::func1(f, a));
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "helper {k} ({f:?}) of {a}: {got} instead of {want}"
            );
        }
    }
    for (k, (&f, helper)) in FUNC2.iter().zip(FUNC2_HELPERS).enumerate() {
        for &a in &values {
            for &b in &values {
                let (got, want) = (helper(a, b), crate::sim::func2(f, a, b));
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "helper {k} ({f:?}) of {a} and {b}: {got} instead of {want}"
                );
            }
        }
    }
    // And no two functions agree on all of them, so that the test above
    // tells every helper from every other.
    for i in 0..FUNC1.len() {
        for j in i + 1..FUNC1.len() {
            assert!(
                values.iter().any(|&a| {
                    let (x, y) = (FUNC1_HELPERS[i](a), FUNC1_HELPERS[j](a));
                    x.to_bits() != y.to_bits() && !(x.is_nan() && y.is_nan())
                }),
                "{:?} and {:?} agree on every value tried",
                FUNC1[i],
                FUNC1[j]
            );
        }
    }
    for i in 0..FUNC2.len() {
        for j in i + 1..FUNC2.len() {
            assert!(
                values.iter().any(|&a| values.iter().any(|&b| {
                    let (x, y) = (FUNC2_HELPERS[i](a, b), FUNC2_HELPERS[j](a, b));
                    x.to_bits() != y.to_bits() && !(x.is_nan() && y.is_nan())
                })),
                "{:?} and {:?} agree on every pair tried",
                FUNC2[i],
                FUNC2[j]
            );
        }
    }
}

/// The stocks' net flows are tested for NaN and infinity in place of
/// their flows when that tests fewer values: here two net flows for four
/// flows (and a stock nothing reads). A flow that turns infinite, then
/// NaN (`LN` of zero, then of a negative number), is found at the step at
/// which the interpreter finds it, through the net flows it is summed
/// into, whether it flows in or out, with limiting binding or not, under
/// Euler and RK4: the rows saved before it and the error naming it are
/// the interpreter's, one run or a batch.
#[test]
fn flows_are_tested_through_the_net_flows_they_sum_into() {
    for (into, non_negative, method) in [
        (true, true, crate::Method::Euler),
        (false, true, crate::Method::Euler),
        (true, false, crate::Method::Euler),
        (false, false, crate::Method::Euler),
        (true, true, crate::Method::Rk4),
        (false, false, crate::Method::Rk4),
    ] {
        let case = format!("into {into}, non-negative {non_negative}, {method:?}");
        let broken = "LN(gone - TIME)";
        let (rise, fall) = if into { (broken, "1") } else { ("1", broken) };
        let model = Model::builder("net flows")
            .add(
                Stock::new("level", "10")
                    .inflow("rise")
                    .inflow("arrivals")
                    .outflow("fall")
                    .outflow("leaving")
                    .non_negative(non_negative),
            )
            .add(
                Stock::new("other", "1")
                    .inflow("leaving")
                    .non_negative(non_negative),
            )
            .add(Flow::new("rise", rise))
            .add(Flow::new("arrivals", "0.5"))
            .add(Flow::new("fall", fall))
            .add(Flow::new("leaving", "level * 0.1"))
            .add(Constant::new("gone", 5.0))
            .time(
                crate::TimeSettings::new(0.0, 10.0, 0.25)
                    .unwrap()
                    .with_method(method),
            )
            .build()
            .unwrap();
        let program = Program::compile(&model).unwrap();
        let tested = super::slots_to_check(&program);
        let derivatives = program.derivatives..program.derivatives + program.integrated.len();
        // Both net flows, no flow (and the stock `other`, which nothing
        // reads).
        assert!(
            derivatives.clone().all(|s| tested.contains(&(s as u32)))
                && !tested.iter().any(|s| program.flows.contains(s))
                && tested.len() == 3,
            "{tested:?}"
        );

        // One run.
        let mut reference = program.state();
        reference.set_backend(Backend::Interpreter);
        let expected = saved_rows(&mut reference);
        let error = expected.1.clone().expect("an error");
        let name = if into { "`rise`" } else { "`fall`" };
        if method == crate::Method::Euler {
            assert!(error.contains(name) && error.contains('5'), "{error}");
        }
        let mut compiled = program.state();
        compiled.use_kernels(Arc::new(compile(&program, 1, &Options::default()).unwrap()));
        assert!(saved_rows(&mut compiled) == expected, "{case}");

        // A batch, lane 5 failing first.
        let gone = program.parameter("gone").unwrap();
        let at = [9.0, 8.0, 7.5, 9.5, 6.0, 3.1, 6.0, 8.9];
        let mut interpreted = program.batch::<8>();
        interpreted.set_backend(Backend::Interpreter);
        set_each_lane(&mut interpreted, gone, at);
        let expected = saved_batch_rows(&mut interpreted);
        let error = expected.1.clone().expect("an error");
        assert!(error.starts_with("lane 5:"), "{error}");
        let mut batch = program.batch::<8>();
        batch.use_kernels(Arc::new(compile(&program, 8, &Options::default()).unwrap()));
        set_each_lane(&mut batch, gone, at);
        assert!(saved_batch_rows(&mut batch) == expected, "{case}, batch");
    }
}

/// A chain of `n` stocks, each draining into the next at a rate of its
/// own: about four slots a stock.
fn chain(n: usize) -> Program {
    let mut builder = Model::builder("chain");
    for i in 0..n {
        let mut stock = Stock::new(format!("s{i}"), "1").outflow(format!("f{i}"));
        if i > 0 {
            stock = stock.inflow(format!("f{}", i - 1));
        }
        builder = builder
            .add(stock)
            .add(Flow::new(format!("f{i}"), format!("s{i} * r{i}")))
            .add(Constant::new(format!("r{i}"), 0.1));
    }
    Program::compile(&builder.build().unwrap()).unwrap()
}

/// Batches of a small program have 8 lanes; a large one's have as many as
/// fit their slots in 32 KiB (8 bytes a value), down to 2: England's 944
/// slots go in batches of 4.
#[test]
fn large_programs_go_in_batches_whose_slots_fit_in_a_cache() {
    let lanes = |program: &Program| super::batch_lanes(program, 8);
    assert_eq!(lanes(&sir()), 8, "small: every group in one pass");
    for (n, expected) in [(30, 8), (100, 8), (200, 4), (300, 2), (2000, 2)] {
        let program = chain(n);
        let slots = program.step_ops.slots();
        assert!(!super::small(&program, 8), "{n} stocks");
        assert_eq!(lanes(&program), expected, "{n} stocks, {slots} slots");
        assert!(
            expected == 2 || slots * expected * 8 <= 32 << 10,
            "{n} stocks, {slots} slots in {expected} lanes"
        );
        assert!(
            expected == 8 || slots * expected * 2 * 8 > 32 << 10,
            "{n} stocks, {slots} slots: {} lanes would fit",
            expected * 2
        );
    }
}

/// A model with no outputs (nothing but its time settings: a mutant the
/// fuzzer made) runs compiled, alone and in a batch, saving rows of no
/// values: a compiled loop that saves rows is handed an empty buffer,
/// which is not "no buffer" (it once panicked: "a buffer too small for
/// the saved rows").
#[test]
fn a_model_with_no_outputs_runs_compiled() {
    let model = Model::builder("nothing")
        .time(crate::TimeSettings::new(0.0, 30.0, 0.125).unwrap())
        .build()
        .unwrap();
    let program = Program::compile(&model).unwrap();
    assert!(program.output_names().is_empty());
    let mut state = program.state();
    state.set_backend(Backend::Compiled);
    let points = state.time().saved_points();
    assert_eq!(state.run().unwrap().times().len(), points);
    assert_eq!(state.run_into(&mut []).unwrap(), points);
    let mut batch = program.batch::<8>();
    batch.set_backend(Backend::Compiled);
    assert_eq!(batch.run_into(&mut []).unwrap().unwrap(), points);
    let mut rows = 0;
    batch.run_observing(&mut |_, _| rows += 1).unwrap();
    assert_eq!(rows, points);
}
