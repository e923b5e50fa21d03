//! The teacup and SIR models of the SDXorg conformance suite, written in the
//! native format, reproduce the suite's expected output, through the library
//! and through `carecascade simulate`.

#[path = "../engine/tests/common/mod.rs"]
mod common;

use carecascade::Program;
use carecascade::engine::format::{native, table::Table};
use std::process::Command;

fn check_library(model: &str, expected: &str) {
    let model = native::load(common::path(model)).unwrap();
    let program = Program::compile(&model).unwrap();
    assert!(program.warnings().is_empty(), "{:?}", program.warnings());
    let results = program.run().unwrap();
    let expected = Table::load(common::path(expected)).unwrap();
    let problems = common::compare(&results, &expected);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(results.times().len(), expected.rows().len());
}

fn check_cli(model: &str, expected: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_carecascade"))
        .args(["simulate", &common::path(model)])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = String::from_utf8(output.stdout).unwrap();
    assert!(csv.starts_with("Time,"));
    let simulated = Table::parse(&csv, Some("stdout")).unwrap();
    let expected = Table::load(common::path(expected)).unwrap();
    assert_eq!(simulated.rows().len(), expected.rows().len());
    for name in expected.headers().iter().filter(|h| *h != "Time") {
        let a = simulated.column(name).unwrap();
        let b = expected.column(name).unwrap();
        for (a, b) in a.iter().zip(&b) {
            let (a, b) = (a.unwrap(), b.unwrap());
            assert!(
                (a - b).abs() <= 1e-4 * a.abs().max(b.abs()),
                "{name}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn teacup_matches_the_suite() {
    check_library("../models/teacup.toml", "expected/teacup.csv");
}

#[test]
fn sir_matches_the_suite() {
    check_library("../models/sir.toml", "expected/sir.csv");
}

#[test]
fn simulate_command_reproduces_teacup_and_sir() {
    check_cli("../models/teacup.toml", "expected/teacup.csv");
    check_cli("../models/sir.toml", "expected/sir.csv");
}

#[test]
fn sir_under_rk4_conserves_population_and_differs_from_euler() {
    let model = native::load(common::path("../models/sir.toml")).unwrap();
    let program = Program::compile(&model).unwrap();
    let mut state = program.state();
    state.set_time(program.time().with_method(carecascade::Method::Rk4));
    let rk4 = state.run().unwrap();
    let euler = program.run().unwrap();
    for row in rk4.values().rows() {
        let total = row[rk4.column("Susceptible").unwrap()]
            + row[rk4.column("Infectious").unwrap()]
            + row[rk4.column("Recovered").unwrap()];
        assert!((total - 1005.0).abs() < 1e-9, "{total}");
    }
    let s_rk4 = rk4.final_value("Susceptible").unwrap();
    let s_euler = euler.final_value("Susceptible").unwrap();
    assert!((s_rk4 - s_euler).abs() > 1e-3 && (s_rk4 - s_euler).abs() < 1.0);
}

#[test]
fn a_longer_save_interval_keeps_the_same_values_at_saved_times() {
    let model = native::load(common::path("../models/sir.toml")).unwrap();
    let program = Program::compile(&model).unwrap();
    let every_step = program.run().unwrap();
    let mut state = program.state();
    state.set_time(program.time().with_save_interval(1.0).unwrap());
    let yearly = state.run().unwrap();
    assert_eq!(yearly.times().len(), 101);
    assert_eq!(yearly.names(), every_step.names());
    for (row, t) in yearly.times().iter().enumerate() {
        assert_eq!(*t, row as f64);
        assert_eq!(yearly.values().row(row), every_step.values().row(row * 32));
    }
}

#[test]
fn convert_command_round_trips_through_xmile() {
    let dir = std::env::temp_dir().join(format!("carecascade-convert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let xmile = dir.join("sir.xmile");
    let back = dir.join("sir.toml");
    let cli = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_carecascade"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let original = common::path("../models/sir.toml");
    cli(&["convert", &original, xmile.to_str().unwrap()]);
    cli(&["convert", xmile.to_str().unwrap(), back.to_str().unwrap()]);
    let direct = cli(&["simulate", &original]);
    assert_eq!(cli(&["simulate", xmile.to_str().unwrap()]), direct);
    assert_eq!(cli(&["simulate", back.to_str().unwrap()]), direct);
    let output = Command::new(env!("CARGO_BIN_EXE_carecascade"))
        .args(["convert", &original, dir.join("sir.csv").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("`.csv` is not a model format carecascade writes")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
