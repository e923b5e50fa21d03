//! Models with known solutions: exponential decay, logistic growth, the step
//! responses of DELAY1, DELAY3 and SMOOTH, DELAY FIXED, TREND; and the
//! orders of convergence of Euler (1) and RK4 (4).

use carecascade_engine::build::{Aux, Constant, Flow, Stock};
use carecascade_engine::{Method, Model, Program, Results, TimeSettings};

fn run(model: Model, method: Method, dt: f64, stop: f64) -> Results {
    let program = Program::compile(&model).unwrap();
    let mut state = program.state();
    state.set_time(
        TimeSettings::new(0.0, stop, dt)
            .unwrap()
            .with_method(method),
    );
    state.run().unwrap()
}

fn decay() -> Model {
    Model::builder("decay")
        .add(Stock::new("x", "100").outflow("loss"))
        .add(Flow::new("loss", "k * x"))
        .add(Constant::new("k", 0.5))
        .build()
        .unwrap()
}

fn logistic() -> Model {
    Model::builder("logistic")
        .add(Stock::new("P", "10").inflow("growth"))
        .add(Flow::new("growth", "r * P * (1 - P / K)"))
        .add(Constant::new("r", 0.8))
        .add(Constant::new("K", 1000.0))
        .build()
        .unwrap()
}

fn logistic_exact(t: f64) -> f64 {
    1000.0 / (1.0 + (1000.0 / 10.0 - 1.0) * (-0.8 * t).exp())
}

/// A model whose only auxiliary `y` is `equation`.
fn probe(equation: &str) -> Model {
    Model::builder("probe")
        .add(Aux::new("y", equation))
        .build()
        .unwrap()
}

#[test]
fn euler_decay_is_the_discrete_solution() {
    // Euler gives x_n = x0 (1 - k dt)^n exactly.
    let results = run(decay(), Method::Euler, 0.25, 10.0);
    let x = results.series("x").unwrap();
    for (n, value) in x.iter().enumerate() {
        let expected = 100.0 * (1.0f64 - 0.5 * 0.25).powi(n as i32);
        assert!(
            (value - expected).abs() <= 1e-12 * expected.max(1e-300),
            "{n}: {value} vs {expected}"
        );
    }
}

#[test]
fn rk4_decay_matches_the_exponential() {
    let results = run(decay(), Method::Rk4, 0.125, 10.0);
    for (t, value) in results.times().iter().zip(results.series("x").unwrap()) {
        let exact = 100.0 * (-0.5 * t).exp();
        assert!(
            (value - exact).abs() <= 1e-6 * exact,
            "t={t}: {value} vs {exact}"
        );
    }
}

#[test]
fn logistic_growth_matches_the_closed_form() {
    let results = run(logistic(), Method::Rk4, 1.0 / 64.0, 15.0);
    for (t, value) in results.times().iter().zip(results.series("P").unwrap()) {
        let exact = logistic_exact(*t);
        assert!(
            (value - exact).abs() <= 1e-8 * exact,
            "t={t}: {value} vs {exact}"
        );
    }
}

fn final_error(method: Method, dt: f64) -> f64 {
    let results = run(logistic(), method, dt, 8.0);
    (results.final_value("P").unwrap() - logistic_exact(8.0)).abs()
}

#[test]
fn euler_error_halves_when_dt_halves() {
    let errors: Vec<f64> = [0.1, 0.05, 0.025]
        .iter()
        .map(|&dt| final_error(Method::Euler, dt))
        .collect();
    for pair in errors.windows(2) {
        let ratio = pair[0] / pair[1];
        assert!(
            (1.8..2.2).contains(&ratio),
            "Euler ratio {ratio} ({errors:?})"
        );
    }
}

#[test]
fn rk4_error_falls_sixteenfold_when_dt_halves() {
    let errors: Vec<f64> = [0.4, 0.2, 0.1]
        .iter()
        .map(|&dt| final_error(Method::Rk4, dt))
        .collect();
    for pair in errors.windows(2) {
        let ratio = pair[0] / pair[1];
        assert!(
            (14.0..18.0).contains(&ratio),
            "RK4 ratio {ratio} ({errors:?})"
        );
    }
}

/// Step responses from rest: the input is 10 from time 0 and the delay or
/// smooth starts at 0.
fn response(equation: &str, method: Method) -> Results {
    let model = Model::builder("response")
        .add(Aux::new("y", equation))
        .add(Constant::new("input", 10.0))
        .add(Constant::new("T", 4.0))
        .build()
        .unwrap();
    run(model, method, 1.0 / 64.0, 20.0)
}

fn assert_follows(results: &Results, exact: impl Fn(f64) -> f64, tolerance: f64) {
    for (t, value) in results.times().iter().zip(results.series("y").unwrap()) {
        let e = exact(*t);
        assert!((value - e).abs() <= tolerance, "t={t}: {value} vs {e}");
    }
}

#[test]
fn delay1_step_response() {
    let exact = |t: f64| 10.0 * (1.0 - (-t / 4.0).exp());
    assert_follows(&response("DELAY1I(input, T, 0)", Method::Rk4), exact, 1e-8);
    // Euler converges to the same curve with first-order error.
    assert_follows(
        &response("DELAY1I(input, T, 0)", Method::Euler),
        exact,
        0.02,
    );
}

#[test]
fn delay3_step_response_is_erlang() {
    let exact = |t: f64| {
        let a = 3.0 * t / 4.0;
        10.0 * (1.0 - (-a).exp() * (1.0 + a + a * a / 2.0))
    };
    assert_follows(&response("DELAY3I(input, T, 0)", Method::Rk4), exact, 1e-8);
}

#[test]
fn delay_n_with_order_three_equals_delay3() {
    let a = response("DELAY N(input, T, 0, 3)", Method::Euler);
    let b = response("DELAY3I(input, T, 0)", Method::Euler);
    assert_eq!(a.series("y"), b.series("y"));
}

#[test]
fn smooth_step_response() {
    let exact = |t: f64| 10.0 * (1.0 - (-t / 4.0).exp());
    assert_follows(&response("SMOOTHI(input, T, 0)", Method::Rk4), exact, 1e-8);
    let exact3 = |t: f64| {
        let a = 3.0 * t / 4.0;
        10.0 * (1.0 - (-a).exp() * (1.0 + a + a * a / 2.0))
    };
    assert_follows(
        &response("SMOOTH3I(input, T, 0)", Method::Rk4),
        exact3,
        1e-8,
    );
    assert_follows(
        &response("SMOOTH N(input, T, 0, 3)", Method::Rk4),
        exact3,
        1e-8,
    );
}

#[test]
fn delays_and_smooths_start_in_equilibrium() {
    for equation in [
        "DELAY1(input, T)",
        "DELAY3(input, T)",
        "SMOOTH(input, T)",
        "SMOOTH3(input, T)",
        "DELAY FIXED(input, T, input)",
    ] {
        let results = response(equation, Method::Euler);
        for value in results.series("y").unwrap() {
            assert!((value - 10.0).abs() < 1e-12, "{equation}: {value}");
        }
    }
}

#[test]
fn delay3_conserves_what_goes_in() {
    // Input 5 for two years then 0: everything that went in (10) comes out.
    let model = Model::builder("conserve")
        .add(Stock::new("delivered", "0").inflow("arrivals"))
        .add(Flow::new("arrivals", "DELAY3I(input, 3, 0)"))
        .add(Aux::new("input", "5 - STEP(5, 2)"))
        .build()
        .unwrap();
    let results = run(model, Method::Euler, 1.0 / 128.0, 60.0);
    let delivered = results.final_value("delivered").unwrap();
    assert!((delivered - 10.0).abs() < 1e-6, "{delivered}");
}

#[test]
fn delay_time_may_vary_during_the_run() {
    // Shortening the delay time releases material faster but loses none.
    let model = Model::builder("varying")
        .add(Stock::new("delivered", "0").inflow("arrivals"))
        .add(Flow::new("arrivals", "DELAY1I(input, delay time, 0)"))
        .add(Aux::new("input", "10 - STEP(10, 1)"))
        .add(Aux::new("delay time", "4 - STEP(3, 2)"))
        .build()
        .unwrap();
    let results = run(model, Method::Euler, 1.0 / 64.0, 40.0);
    let delivered = results.series("delivered").unwrap();
    assert!((delivered[delivered.len() - 1] - 10.0).abs() < 1e-6);
    // Output jumps when the time shortens at t = 2.
    let arrivals = results.series("arrivals").unwrap();
    let before = arrivals[(1.98 * 64.0) as usize];
    let after = arrivals[(2.02 * 64.0) as usize];
    assert!(after > 3.0 * before, "{before} -> {after}");
}

#[test]
fn delay_fixed_shifts_its_input() {
    let results = run(probe("DELAY FIXED(TIME, 2, -1)"), Method::Euler, 0.25, 6.0);
    for (t, value) in results.times().iter().zip(results.series("y").unwrap()) {
        let expected = if *t < 2.0 { -1.0 } else { t - 2.0 };
        assert!((value - expected).abs() < 1e-12, "t={t}: {value}");
    }
}

#[test]
fn trend_of_exponential_growth_is_its_rate() {
    let results = run(
        probe("TREND(100 * EXP(0.05 * TIME), 2, 0.05)"),
        Method::Rk4,
        1.0 / 32.0,
        10.0,
    );
    for value in results.series("y").unwrap() {
        assert!((value - 0.05).abs() < 1e-6, "{value}");
    }
}

#[test]
fn time_functions_follow_vensim() {
    let results = run(
        probe(
            "STEP(2, 3) + 10 * PULSE(1, 2) + 100 * RAMP(1, 4, 6) + 1000 * PULSE TRAIN(0, 1, 5, 12)",
        ),
        Method::Euler,
        1.0,
        12.0,
    );
    let y: Vec<f64> = results.series("y").unwrap().to_vec();
    assert_eq!(
        y,
        [
            1000., 10., 10., 2., 2., 1102., 202., 202., 202., 202., 1202., 202., 202.
        ]
    );
}

#[test]
fn initial_holds_the_first_value() {
    let results = run(probe("INITIAL(TIME + 7)"), Method::Euler, 1.0, 3.0);
    assert_eq!(results.series("y").unwrap().to_vec(), [7.0; 4]);
}

#[test]
fn maths_functions() {
    let cases = [
        ("ABS(-3) + SQRT(16) + EXP(0) + LN(1)", 8.0),
        ("LOG(1000) + LOG(8, 2)", 6.0),
        ("INTEGER(-2.5) + MODULO(7, 3) + 7 MOD 4", 2.0),
        ("XIDZ(1, 0, 5) + ZIDZ(3, 0) + XIDZ(6, 3, 0)", 7.0),
        ("MIN(3, 1, 2) + MAX(3, 1, 2)", 4.0),
        ("IF 1 > 2 THEN 10 ELSE 20", 20.0),
        ("IF THEN ELSE(1 < 2 AND NOT 0, 10, 20)", 10.0),
        ("(1 = 1) + (1 <> 1) + (2 >= 2) + (3 <= 2) + (0 OR 5)", 3.0),
        ("-2^2 + 2^3^2", 508.0),
        ("SIN(PI / 2) + COS(0) + ARCTAN(0) + PI() - PI", 2.0),
        ("INITIAL TIME + FINAL TIME + TIME STEP + DT + SAVEPER", 11.5),
    ];
    for (equation, expected) in cases {
        let results = run(probe(equation), Method::Euler, 0.5, 10.0);
        let value = results.series("y").unwrap()[0];
        assert!(
            (value - expected).abs() < 1e-12,
            "{equation} = {value}, expected {expected}"
        );
    }
}
