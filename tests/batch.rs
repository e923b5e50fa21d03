//! Batches of runs (`Program::batch`) give exactly what runs on their own
//! give, lane by lane, whatever each lane's parameters.

use carecascade::engine::format::native;
use carecascade::{Method, Program};

/// Every output of every lane at every save time, bit for bit, against
/// `State` runs with the same parameters.
fn assert_batch_matches_single_runs<const L: usize>(
    program: &Program,
    params: &[(&str, [f64; L])],
    method: Method,
) {
    let time = program.time().with_method(method);
    let mut batch = program.batch::<L>();
    batch.set_time(time);
    for (name, values) in params {
        let id = program.parameter(name).unwrap();
        for (lane, v) in values.iter().enumerate() {
            batch.set_param(lane, id, *v).unwrap();
        }
    }
    let width = program.output_names().len();
    let mut rows: Vec<Vec<f64>> = vec![Vec::new(); L];
    batch
        .run_observing(&mut |_, row| {
            for (lane, out) in rows.iter_mut().enumerate() {
                out.extend((0..width).map(|i| row.get(i, lane).unwrap()));
            }
        })
        .unwrap();
    for (lane, batched) in rows.iter().enumerate() {
        let mut state = program.state();
        state.set_time(time);
        for (name, values) in params {
            state.set(name, values[lane]).unwrap();
        }
        let single = state.run().unwrap();
        let single: Vec<f64> = single.values().iter().copied().collect();
        assert_eq!(single.len(), batched.len());
        for (k, (a, b)) in single.iter().zip(batched).enumerate() {
            assert!(
                a.to_bits() == b.to_bits(),
                "{method:?}, lane {lane}, `{}` at save {}: {a} alone, {b} in the batch",
                program.output_names()[k % width],
                k / width
            );
        }
    }
}

/// Every kind of operation: lookups, functions of time, IF THEN ELSE, MIN,
/// XIDZ, a DELAY FIXED whose length differs by lane, DELAY3 and SMOOTH
/// (hidden stocks), and non-negative stocks whose outflows are limited in
/// some lanes and not others.
const KITCHEN_SINK: &str = r#"
[time]
start = 0
stop = 12
dt = 0.25
[stocks.waiting]
initial = 50
inflows = ["arrivals"]
outflows = ["served", "lost"]
non_negative = true
[stocks.done]
initial = 0
inflows = ["served"]
[flows.arrivals]
equation = "base arrivals * shape(TIME) + STEP(10, 3) + PULSE(6, 1) * 20"
[flows.served]
equation = "MIN(waiting / service time, capacity) * drain"
[flows.lost]
equation = "IF THEN ELSE(waiting > 40, XIDZ(waiting, patience, 0), 0) * drain"
[auxiliaries.delayed]
equation = "DELAY FIXED(served, lag, 3)"
[auxiliaries.smoothed]
equation = "SMOOTH(arrivals, 2) + DELAY3(served, 1.5) + RAMP(1, 2, 8) + SIN(TIME) + ABS(COS(TIME))"
[constants]
"base arrivals" = 10
"service time" = 2
capacity = 30
patience = 4
lag = 1
drain = 1
[lookups.shape]
points = [[0, 1], [4, 2], [8, 0.5], [12, 1]]
"#;

#[test]
fn a_batch_of_the_kitchen_sink_matches_single_runs() {
    let program = Program::compile(&native::parse(KITCHEN_SINK, None).unwrap()).unwrap();
    // Lane 3 drains five times too fast, so non-negative limiting bites there.
    let params = [
        ("base arrivals", [10.0, 2.0, 30.0, 10.0, 0.0]),
        ("lag", [1.0, 0.1, 2.5, 4.0, 0.75]),
        ("patience", [4.0, 1.0, 8.0, 0.0, 2.0]),
        ("drain", [1.0, 1.0, 1.0, 50.0, 1.0]),
    ];
    for method in [Method::Euler, Method::Rk4] {
        assert_batch_matches_single_runs::<5>(&program, &params, method);
    }
}

#[test]
fn a_batch_of_the_england_model_matches_single_runs() {
    let program = Program::compile(&carecascade::england()).unwrap();
    let params = [
        ("extra prevention spend", [0.0, 500.0, 250.0, 1000.0]),
        ("early help effect at maturity", [0.32, 0.1, 0.5, 0.0]),
        ("kinship shift", [0.0, 0.2, 0.0, 0.5]),
    ];
    assert_batch_matches_single_runs::<4>(&program, &params, Method::Euler);
}

/// A run that fails in one lane names that lane and the variable, as the
/// run on its own does.
#[test]
fn a_failing_lane_is_named() {
    let program = Program::compile(&native::parse(KITCHEN_SINK, None).unwrap()).unwrap();
    let service = program.parameter("service time").unwrap();
    let mut batch = program.batch::<3>();
    batch.set_param(2, service, 0.0).unwrap();
    let err = batch.run_observing(&mut |_, _| {}).unwrap_err();
    assert_eq!(err.lane, 2);
    let mut state = program.state();
    state.set_param(service, 0.0).unwrap();
    let alone = state.run().unwrap_err().to_string();
    assert_eq!(err.error.to_string(), alone);
    assert!(alone.contains("served"), "{alone}");
    assert!(err.to_string().starts_with("run 2 of the batch: "), "{err}");
    // A non-finite value is refused when set.
    assert!(batch.set_param(0, service, f64::NAN).is_err());
}
