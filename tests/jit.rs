//! The compiled back end on the England model: a full run, under Euler and
//! RK4, and an ensemble (in batches of another size) give bit for bit what
//! the interpreter gives.

use carecascade::engine::ensemble::{RunOptions, run_scenarios};
use carecascade::engine::scenario::Scenario;
use carecascade::{Backend, Method, Program, Results};

fn assert_identical(a: &Results, b: &Results, what: &str) {
    assert_eq!(a.times(), b.times(), "{what}");
    assert_eq!(a.names(), b.names(), "{what}");
    for (c, name) in a.names().iter().enumerate() {
        for (k, (x, y)) in a
            .values()
            .column(c)
            .iter()
            .zip(b.values().column(c))
            .enumerate()
        {
            assert!(
                x.to_bits() == y.to_bits(),
                "{what}: `{name}` at save point {k}: interpreter {x}, compiled {y}"
            );
        }
    }
}

#[test]
fn england_runs_are_bit_identical_compiled_and_interpreted() {
    let program = Program::compile(&carecascade::england()).unwrap();
    program.native_code().unwrap();
    let time = program
        .time()
        .with_start(2023.25)
        .and_then(|t| t.with_stop(2033.25))
        .unwrap();
    for method in [Method::Euler, Method::Rk4] {
        let run = |backend| {
            let mut state = program.state();
            state.set_backend(backend);
            state.set_time(time.with_method(method));
            let results = state.run().unwrap();
            assert!(state.fallback().is_none(), "{:?}", state.fallback());
            results
        };
        assert_identical(
            &run(Backend::Interpreter),
            &run(Backend::Compiled),
            &format!("england, {method:?}"),
        );
    }
}

/// The only test here that changes the process-wide default, so that no
/// other test changes it under it.
#[test]
fn an_england_ensemble_is_bit_identical_compiled_and_interpreted() {
    let text = r#"
model = "england"
[scenario]
name = "base"
[time]
start = 2023
horizon = 3
[monte_carlo]
runs = 19
seed = 11
sampling = "latin_hypercube"
[uncertain."early help effect at maturity"]
distribution = "pert"
min = 0
mode = 0.32
max = 0.5
[uncertain."detection fraction"]
distribution = "uniform"
min = 0
max = 0.08
[report]
indicators = ["cla_at_31_march", "spend_total_m"]
"#;
    let scenario = Scenario::parse_with(text, "base.toml", &carecascade::library()).unwrap();
    let prepared = scenario.prepare().unwrap();
    // The interpreter's batches have 8 lanes, the compiled loop's 4
    // (England's 944 slots in 32 KiB): the same runs in batches of either.
    let run = |backend: Backend| {
        backend.set_process_default();
        let lanes = prepared.program().batch_lanes();
        assert_eq!(
            lanes,
            if backend == Backend::Compiled { 4 } else { 8 },
            "{backend:?}"
        );
        let outcome = run_scenarios(std::slice::from_ref(&prepared), &RunOptions::default());
        serde_json::to_string(&outcome.unwrap()).unwrap()
    };
    let interpreted = run(Backend::Interpreter);
    let compiled = run(Backend::Compiled);
    assert!(interpreted == compiled, "the ensembles differ");
}
