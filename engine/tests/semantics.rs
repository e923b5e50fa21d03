//! The equation language means what Vensim and XMILE mean: precedence and
//! associativity of `^`, unary minus and the logical operators, and names
//! that contain the words `and`, `or`, `not` and `mod`. Each case is checked
//! in the native format, in a Vensim `.mdl` and in XMILE, and survives an
//! XMILE round trip.

use carecascade_engine::build::Aux;
use carecascade_engine::format::{vensim, xmile};
use carecascade_engine::{Model, Program, Results};

fn run(model: &Model) -> Results {
    let program = Program::compile(model).unwrap();
    program.state().run().unwrap()
}

/// The value of `y` at every saved time (0, 1, ..., 10).
fn series(model: &Model) -> Vec<f64> {
    let first = run(model);
    let again = xmile::parse(&xmile::write(model), Some("again.xmile")).unwrap();
    let second = run(&again);
    let y = first.series("y").unwrap().to_vec();
    assert_eq!(
        y,
        second.series("y").unwrap().to_vec(),
        "XMILE round trip changed y"
    );
    y
}

/// A native model with `y` and the given other auxiliaries.
fn native(y: &str, others: &[(&str, &str)]) -> Model {
    let mut builder = Model::builder("probe");
    builder = builder.add(Aux::new("y", y));
    for (name, equation) in others {
        builder = builder.add(Aux::new(*name, *equation));
    }
    builder
        .time(carecascade_engine::TimeSettings::new(0.0, 10.0, 1.0).unwrap())
        .build()
        .unwrap()
}

/// A Vensim model with `y` and the given other variables.
fn mdl(y: &str, others: &[(&str, &str)]) -> Model {
    let mut text = String::from("{UTF-8}\n");
    for (name, equation) in [("y", y)].iter().chain(others) {
        text.push_str(&format!("{name} =\n\t{equation}\n\t~\t\n\t~\t\t|\n\n"));
    }
    text.push_str(
        "INITIAL TIME = 0\n\t~\t\n\t~\t\t|\n\nFINAL TIME = 10\n\t~\t\n\t~\t\t|\n\n\
         TIME STEP = 1\n\t~\t\n\t~\t\t|\n\nSAVEPER = 1\n\t~\t\n\t~\t\t|\n\n",
    );
    vensim::parse(&text, Some("probe.mdl")).unwrap()
}

/// An XMILE model with `y` and the given other auxiliaries.
fn xmile_model(y: &str, others: &[(&str, &str)]) -> Model {
    let mut vars = String::new();
    for (name, equation) in [("y", y)].iter().chain(others) {
        let equation = equation
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        vars.push_str(&format!(
            "<aux name=\"{name}\"><eqn>{equation}</eqn></aux>\n"
        ));
    }
    let text = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<header><vendor>test</vendor><product version="1">test</product></header>
<sim_specs><start>0</start><stop>10</stop><dt>1</dt></sim_specs>
<model><variables>
{vars}</variables></model>
</xmile>"#
    );
    xmile::parse(&text, Some("probe.xmile")).unwrap()
}

fn constant(value: f64) -> Vec<f64> {
    vec![value; 11]
}

#[test]
fn power_is_right_associative() {
    // 4^(3^2) = 4^9, not (4^3)^2 = 4096.
    let expected = constant(262_144.0);
    assert_eq!(series(&native("4^3^2", &[])), expected);
    assert_eq!(series(&mdl("4^3^2", &[])), expected);
    assert_eq!(series(&xmile_model("4^3^2", &[])), expected);
    // The sign applies to the rest of the chain: 2^(-(1^2)); and
    // 2^(3^(0^5)) = 2^1.
    assert_eq!(series(&native("2^-1^2", &[])), constant(0.5));
    assert_eq!(series(&native("2 ^ 3 ^ 0 ^ 5", &[])), constant(2.0));
}

#[test]
fn unary_minus_is_looser_than_power() {
    for y in ["-2^2", "0 - 2^2", "-(2^2)"] {
        assert_eq!(series(&native(y, &[])), constant(-4.0), "{y}");
        assert_eq!(series(&mdl(y, &[])), constant(-4.0), "{y}");
        assert_eq!(series(&xmile_model(y, &[])), constant(-4.0), "{y}");
    }
    // `-x^2` with x = 3 is -9, and `2 * -3^2` is -18.
    assert_eq!(series(&native("-x^2", &[("x", "3")])), constant(-9.0));
    assert_eq!(series(&native("2 * -3^2", &[])), constant(-18.0));
}

#[test]
fn not_is_looser_than_comparison() {
    // :NOT: ((a * Time) > 5): 1 up to time 5, then 0.
    let expected: Vec<f64> = (0..=10).map(|t| f64::from(t <= 5)).collect();
    let a = [("a", "1")];
    assert_eq!(
        series(&mdl("IF THEN ELSE(:NOT: a*Time > 5, 1, 0)", &a)),
        expected
    );
    assert_eq!(
        series(&xmile_model("IF NOT a*TIME > 5 THEN 1 ELSE 0", &a)),
        expected
    );
    assert_eq!(
        series(&native("IF NOT a*Time > 5 THEN 1 ELSE 0", &a)),
        expected
    );
    // NOT binds tighter than AND and OR.
    assert_eq!(
        series(&mdl("IF THEN ELSE(:NOT: a > 2 :AND: Time > 5, 1, 0)", &a)),
        (0..=10).map(|t| f64::from(t > 5)).collect::<Vec<_>>()
    );
}

#[test]
fn and_is_tighter_than_or() {
    // 1 OR (0 AND 0) is 1; (1 OR 0) AND 0 would be 0.
    assert_eq!(
        series(&mdl("IF THEN ELSE(1 :OR: 0 :AND: 0, 1, 0)", &[])),
        constant(1.0)
    );
    assert_eq!(
        series(&xmile_model("IF 1 OR 0 AND 0 THEN 1 ELSE 0", &[])),
        constant(1.0)
    );
    // Comparisons are tighter than AND: (1 < 2) AND (3 > 2).
    assert_eq!(
        series(&native("IF 1 < 2 AND 3 > 2 THEN 1 ELSE 0", &[])),
        constant(1.0)
    );
}

#[test]
fn vensim_names_containing_and_or_not_mod() {
    let others = [
        ("land yield factor", "2"),
        ("persistent pollution generation industry", "3"),
        (
            "fraction of industrial output allocated to agriculture",
            "5",
        ),
        ("nonrenewable resources", "7"),
        ("NOT output", "11"),
        ("food and fuel", "13"),
        ("cost or price", "17"),
        ("mod", "19"),
        ("a mod b", "23"),
    ];
    let y = "land yield factor + persistent pollution generation industry \
             + fraction of industrial output allocated to agriculture + nonrenewable resources \
             + NOT output + food and fuel + cost or price + mod + a mod b";
    assert_eq!(series(&mdl(y, &others)), constant(100.0));
}

#[test]
fn xmile_names_containing_and_or_not_mod() {
    let others = [
        ("land_yield_factor", "2"),
        ("nonrenewable_resources", "7"),
        ("NOT_output", "11"),
        ("food_and_fuel", "13"),
        ("mod", "19"),
        ("andor", "23"),
    ];
    let y = "land_yield_factor + nonrenewable_resources + NOT_output + food_and_fuel + mod + andor";
    assert_eq!(series(&xmile_model(y, &others)), constant(75.0));
}

#[test]
fn a_variable_named_like_an_operator_or_a_function() {
    // `mod` is the operator only between two operands.
    let others = [("mod", "3"), ("min", "4"), ("max", "5")];
    assert_eq!(
        series(&native(
            "mod * 2 + 7 MOD mod + MIN(min, max) * max",
            &others
        )),
        constant(27.0)
    );
    assert_eq!(
        series(&xmile_model(
            "mod * 2 + 7 MOD mod + MIN(min, max) * max",
            &others
        )),
        constant(27.0)
    );
    assert_eq!(
        series(&mdl(
            "mod * 2 + MODULO(7, mod) + MIN(min, max) * max",
            &others
        )),
        constant(27.0)
    );
}

#[test]
fn quantum_rounds_towards_zero_to_a_multiple_and_passes_x_when_q_is_not_positive() {
    let m = mdl("QUANTUM(TIME * 1.5 - 7, 2) + 100 * QUANTUM(3.7, 0)", &[]);
    let y = series(&m);
    // TIME 0: -7 -> -6 (towards zero); 1: -5.5 -> -4; 5: 0.5 -> 0;
    // 10: 8 -> 8; and QUANTUM(3.7, 0) is 3.7.
    assert_eq!(y[0], -6.0 + 370.0);
    assert_eq!(y[1], -4.0 + 370.0);
    assert_eq!(y[5], 0.0 + 370.0);
    assert_eq!(y[10], 8.0 + 370.0);
}

#[test]
fn sample_if_true_holds_the_last_sample() {
    // Sampled at even times: TIME 0 -> 0, 1 -> held 0, 2 -> 2, 3 -> 2 ...
    let m = mdl("SAMPLE IF TRUE(MODULO(TIME, 2) = 0, TIME * 10, -1)", &[]);
    let y = series(&m);
    assert_eq!(y[..6], [0.0, 0.0, 20.0, 20.0, 40.0, 40.0]);
    // Never true: the initial value throughout.
    let m = mdl("SAMPLE IF TRUE(TIME > 100, TIME, 7) + GAME(1)", &[]);
    assert_eq!(series(&m), constant(8.0));
}

#[test]
fn forecast_is_the_input_extended_by_its_trend_and_na_is_vensims_number() {
    // A constant input has no trend: its forecast is itself.
    let m = mdl("FORECAST(5, 3, 10)", &[]);
    assert_eq!(series(&m), constant(5.0));
    // A growing input is forecast above itself, by TREND * horizon.
    let m = mdl(
        "FORECAST(x, 2, 4) - x * (1 + TREND(x, 2, 0) * 4)",
        &[("x", "10 + TIME")],
    );
    assert!(series(&m).iter().all(|v| v.abs() < 1e-9));
    let m = mdl("FORECAST(x, 2, 4) - x", &[("x", "10 + TIME")]);
    assert!(series(&m)[5] > 0.0);
    let m = mdl("IF THEN ELSE(x = :NA:, 1, 0)", &[("x", "-1.298074e33")]);
    assert_eq!(series(&m), constant(1.0));
}

/// XMILE's TREND takes its initial trend as an optional third argument,
/// 0 if not given (XMILE 1.0, 3.5.3): the two forms agree, and a trend
/// started at 0.5 differs from one started at 0.
#[test]
fn xmile_trend_without_an_initial_trend_starts_from_zero() {
    let m = xmile_model("TREND(x, 2) - TREND(x, 2, 0)", &[("x", "10 + TIME")]);
    assert!(series(&m).iter().all(|v| *v == 0.0), "{:?}", series(&m));
    let m = xmile_model("TREND(x, 2) - TREND(x, 2, 0.5)", &[("x", "10 + TIME")]);
    assert!(series(&m)[0] < 0.0, "{:?}", series(&m));
}

/// A Vensim model from its equations, with the given time step, run from 0
/// to 10 and saved every step; the results and the round trips through
/// XMILE and the native format must agree.
fn run_mdl(equations: &str, dt: f64) -> Results {
    let text = format!(
        "{{UTF-8}}\n{equations}\nINITIAL TIME = 0 ~~|\nFINAL TIME = 10 ~~|\n\
         TIME STEP = {dt} ~~|\nSAVEPER = TIME STEP ~~|\n"
    );
    let model = vensim::parse(&text, Some("probe.mdl")).unwrap();
    let first = run(&model);
    // The interpreter (the reference) and the compiled back end agree.
    let program = Program::compile(&model).unwrap();
    let mut interpreted = program.state();
    interpreted.set_backend(carecascade_engine::Backend::Interpreter);
    let interpreted = interpreted.run().unwrap();
    for name in first.names() {
        let bits = |r: &Results| -> Vec<u64> {
            r.series(name)
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        };
        assert_eq!(
            bits(&first),
            bits(&interpreted),
            "back ends differ on {name}"
        );
    }
    for again in [
        xmile::parse(&xmile::write(&model), Some("again.xmile")).unwrap(),
        carecascade_engine::format::native::parse(
            &carecascade_engine::format::native::write(&model),
            Some("again.toml"),
        )
        .unwrap(),
    ] {
        let second = run(&again);
        assert_eq!(
            first.series("y").unwrap().to_vec(),
            second.series("y").unwrap().to_vec(),
            "a round trip changed y"
        );
    }
    first
}

#[test]
fn npv_discounts_once_per_step_and_counts_the_current_step() {
    // Vensim's reference: NPV = (ncum + stream * TIME STEP * df) * factor,
    // ncum = INTEG(stream * df, init), df = INTEG(-df * r / (1 + r * TIME
    // STEP), 1). With dt = 1, a stream of 100 and r = 0.1 this is the sum
    // of 100 / 1.1^j for j = 0 .. k.
    let results = run_mdl("y = NPV(100, 0.1, 0, 1) ~~|", 1.0);
    let y = results.series("y").unwrap();
    assert!((y[0] - 100.0).abs() < 1e-9, "{}", y[0]);
    assert!((y[1] - (100.0 + 100.0 / 1.1)).abs() < 1e-9, "{}", y[1]);
    // 100 (1 - 1.1^-11) / (1 - 1/1.1) = 749.506...
    let closed = 100.0 * (1.0 - 1.1f64.powi(-11)) / (1.0 - 1.0 / 1.1);
    assert!((y[10] - closed).abs() < 1e-9, "{} against {closed}", y[10]);
    // A stream that varies (TIME), a half step, an initial value and a
    // factor (which multiplies the initial value too): by hand, the
    // discount factor after j steps is 1.05^-j, and the stream at step j
    // is j / 2.
    let results = run_mdl(
        "y = NPV(stream, rate, 10, 0.5) ~~|\nstream = TIME ~~|\nrate = 0.1 ~~|",
        0.5,
    );
    let y = results.series("y").unwrap();
    assert_eq!(y.len(), 21);
    let mut accumulated = 10.0;
    for (k, &value) in y.iter().enumerate() {
        let discount = 1.05f64.powi(-(k as i32));
        let stream = k as f64 * 0.5;
        let expected = (accumulated + stream * 0.5 * discount) * 0.5;
        assert!(
            (value - expected).abs() < 1e-9,
            "step {k}: {value} against {expected}"
        );
        accumulated += 0.5 * stream * discount;
    }
    // Arrayed: each element discounts its own stream.
    let results = run_mdl(
        "d: d1, d2 ~~|\nrate[d] = 0.1, 0.2 ~~|\ny = 0 ~~|\nv[d] = NPV(100, rate[d], 0, 1) ~~|",
        1.0,
    );
    let first = results.series("v[d1]").unwrap()[1];
    let second = results.series("v[d2]").unwrap()[1];
    assert!((first - (100.0 + 100.0 / 1.1)).abs() < 1e-9, "{first}");
    assert!((second - (100.0 + 100.0 / 1.2)).abs() < 1e-9, "{second}");
    // y[2] written out: (10 + 0.5 * 0.5 / 1.05 + 1 * 0.5 / 1.05^2) * 0.5.
    let by_hand = (10.0 + 0.25 / 1.05 + 0.5 / 1.1025) * 0.5;
    assert!((y[2] - by_hand).abs() < 1e-12, "{} against {by_hand}", y[2]);
}

#[test]
fn lookup_area_integrates_the_lookup_as_it_is_read() {
    // f(x) = 1 + x on [0, 2], held at 1 below 0 and at 3 above 2: the
    // area from 0 to x is x + x^2 / 2 up to 2, then 4 + 3 (x - 2).
    let results = run_mdl(
        "tbl([(0,0)-(2,3)],(0,1),(2,3)) ~~|\ny = LOOKUP AREA(tbl, 0, TIME / 2) ~~|\n\
         before = LOOKUP AREA(tbl, -1, 0.5) ~~|\nwithin = LOOKUP AREA(tbl, 0.5, 1.5) ~~|",
        1.0,
    );
    let y = results.series("y").unwrap();
    for (k, &value) in y.iter().enumerate() {
        let x = k as f64 / 2.0;
        let expected = if x <= 2.0 {
            x + x * x / 2.0
        } else {
            4.0 + 3.0 * (x - 2.0)
        };
        assert!(
            (value - expected).abs() < 1e-12,
            "x = {x}: {value} against {expected}"
        );
    }
    // 1 (below the first point) + 0.5 + 0.125.
    assert!((results.series("before").unwrap()[0] - 1.625).abs() < 1e-12);
    assert!((results.series("within").unwrap()[0] - 2.0).abs() < 1e-12);
    // Several segments, of both slopes, and a single point.
    let results = run_mdl(
        "tbl([(0,0)-(4,2)],(0,0),(1,2),(3,2),(4,0)) ~~|\n\
         y = LOOKUP AREA(tbl, 0.5, 3.5) ~~|\nall = LOOKUP AREA(tbl, -3, 9) ~~|\n\
         point([(0,0)-(1,1)],(1,4)) ~~|\none = LOOKUP AREA(point, -1, 2) ~~|",
        1.0,
    );
    // 1 - 0.25 (the ramp up, from 0.5), 4 (the plateau), 1 - 0.25 (the
    // ramp down, to 3.5).
    let y = results.series("y").unwrap()[0];
    assert!((y - 5.5).abs() < 1e-12, "{y}");
    assert!((results.series("all").unwrap()[0] - 6.0).abs() < 1e-12);
    assert!((results.series("one").unwrap()[0] - 12.0).abs() < 1e-12);
}

#[test]
fn lookup_area_from_right_to_left_stops_the_run() {
    let text = "{UTF-8}\ntbl([(0,0)-(2,3)],(0,1),(2,3)) ~~|\ny = LOOKUP AREA(tbl, TIME - 1, 1) ~~|\n\
                INITIAL TIME = 0 ~~|\nFINAL TIME = 3 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n";
    let model = vensim::parse(text, Some("probe.mdl")).unwrap();
    let program = Program::compile(&model).unwrap();
    for backend in [
        carecascade_engine::Backend::Compiled,
        carecascade_engine::Backend::Interpreter,
    ] {
        let mut state = program.state();
        state.set_backend(backend);
        let error = state.run().unwrap_err().to_string();
        assert!(error.contains("`y`"), "{error}");
        assert!(error.contains('3'), "the time should be named: {error}");
    }
}

#[test]
fn gamma_ln_is_the_log_of_the_gamma_function_for_positive_x() {
    // ln Γ(TIME + 1) = ln(TIME!), exactly known at whole times.
    let m = mdl("GAMMA LN(TIME + 1)", &[]);
    let y = series(&m);
    let mut factorial = 1.0f64;
    for (k, &value) in y.iter().enumerate() {
        if k > 0 {
            factorial *= k as f64;
        }
        assert!(
            (value - factorial.ln()).abs() < 1e-12,
            "ln {k}! = {}, got {value}",
            factorial.ln()
        );
    }
    // Γ(1/2) = √π.
    let m = mdl("GAMMA LN(0.5)", &[]);
    let expected = std::f64::consts::PI.sqrt().ln();
    assert!(series(&m).iter().all(|v| (v - expected).abs() < 1e-12));
    // Not defined at 0 and below: the run stops, naming the variable.
    for x in ["5 - TIME", "-1.5"] {
        let m = mdl(&format!("GAMMA LN({x})"), &[]);
        let error = Program::compile(&m)
            .unwrap()
            .state()
            .run()
            .unwrap_err()
            .to_string();
        assert!(error.contains("`y`"), "{error}");
    }
}

/// Stella's `//` is the quotient rounded down where the rounding is not in
/// doubt: a whole quotient, or a positive one, which rounding down and
/// rounding towards zero agree on. A negative quotient that is not whole
/// stops the run, naming the variable, the time and why, in both back ends
/// (whether Stella rounds it down or towards zero could not be
/// established). It binds as `*` and `/` do, left to right, and survives
/// an XMILE round trip. Vensim has no `//`.
#[test]
fn stella_integer_division_is_exact_where_certain_and_refused_where_not() {
    let expected: Vec<f64> = [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
        .iter()
        .map(|v| f64::from(*v))
        .collect();
    assert_eq!(series(&xmile_model("(Time + 1) // 3", &[])), expected);
    // (12 // 5) * 2, not 12 // 10; and -6 // -3 is whole.
    assert_eq!(
        series(&native("1 + 12 // 5 * 2 - (-6 // -3)", &[])),
        constant(3.0)
    );
    assert_eq!(series(&native("-6 // 3", &[])), constant(-2.0));
    // (Time - 4) / 2 is -2 at time 0, whole; -1.5 at time 1, refused.
    let model = xmile_model("(Time - 4) // 2", &[]);
    let program = Program::compile(&model).unwrap();
    for backend in [
        carecascade_engine::Backend::Interpreter,
        carecascade_engine::Backend::Compiled,
    ] {
        let mut state = program.state();
        state.set_backend(backend);
        let e = state.run().unwrap_err().to_string();
        assert!(
            e.contains("`y` became NaN at time 1")
                && e.contains("`//` may have a negative quotient that is not whole"),
            "{backend:?}: {e}"
        );
    }
    // An equation without `//` keeps the usual hint.
    let e = Program::compile(&xmile_model("0 / 0", &[]))
        .unwrap()
        .state()
        .run()
        .unwrap_err()
        .to_string();
    assert!(e.contains("check for 0/0") && !e.contains("`//`"), "{e}");
    let text =
        "{UTF-8}\ny = 7 // 2 ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\n";
    let e = vensim::parse(text, Some("probe.mdl"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("probe.mdl:2:7") && e.contains("not a Vensim operator"),
        "{e}"
    );
}
