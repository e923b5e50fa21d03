//! Calibration of a model that knows nothing of children's social care (the
//! SIR model of the conformance suite), through the engine's public API
//! only: data made with known parameters are fitted from elsewhere.

use carecascade_engine::calibrate::{
    CalibrationSpec, Observations, Problem, calibrate, fit_to_toml, mape, update_model_file,
};
use carecascade_engine::format::{load_model, native};
use carecascade_engine::projection::{Indicator, Periods, Projector};
use carecascade_engine::{Program, Result};
use std::path::{Path, PathBuf};

const TRUE_INFECTIVITY: f64 = 0.42;
const TRUE_DURATION: f64 = 3.5;

fn sir() -> Program {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/SIR/SIR.xmile");
    Program::compile(&load_model(path).unwrap()).unwrap()
}

/// Infectious people at the end of each day, new infections and
/// recoveries over it.
fn projector(program: &Program) -> Projector {
    Projector::new(
        program,
        &[
            Indicator::level("infectious", "Infectious"),
            Indicator::sum("new_infections", "Succumbing"),
            Indicator::sum("recoveries", "Recovering"),
        ],
    )
    .unwrap()
}

/// Days 0 to 50: day 0 holds the starting levels.
fn days() -> Periods {
    Periods::new(0.0, 50).unwrap()
}

/// What the model says with the true parameters, as observations: every
/// day of `infectious` and `new_infections` except a few never published,
/// and none of the recoveries (not observed).
fn observed(program: &Program) -> Result<Observations> {
    let mut state = program.state();
    state.set("Contact Infectivity", TRUE_INFECTIVITY)?;
    state.set("Duration", TRUE_DURATION)?;
    let p = projector(program).project(&mut state, &days())?;
    let mut observed = Observations::new("made with known parameters");
    for column in ["infectious", "new_infections"] {
        let points = p
            .labels()
            .iter()
            .zip(p.column(column).unwrap())
            .filter(|(day, _)| **day as i64 % 7 != 3) // missing days
            .filter_map(|(day, v)| v.map(|v| (*day, v)));
        observed.insert(column, points);
    }
    Ok(observed)
}

const SPEC: &str = r#"
[calibration]
from = 0
to = 40
starts = 4
seed = 7
max_evaluations = 1200
tolerance = 1e-12

[series]
infectious = 1
new_infections = 2

[parameters."Contact Infectivity"]
min = 0.1
max = 1.0

[parameters.Duration]
min = 1
max = 15
"#;

#[test]
fn an_sir_epidemic_is_calibrated_with_the_engine_alone() -> Result<()> {
    let program = sir();
    let projector = projector(&program);
    let observed = observed(&program)?;
    let spec = CalibrationSpec::parse(SPEC, Some("sir.calibrate.toml"))?;

    // The problem is zero at the truth and not at the model's own values.
    let problem = Problem::new(&program, &projector, &days(), &observed, &spec)?;
    assert_eq!(problem.parameters(), ["Contact Infectivity", "Duration"]);
    assert_eq!(problem.model_values(), [0.3, 5.0]);
    assert_eq!(problem.periods().count(), 40);
    assert_eq!(problem.objective(&[TRUE_INFECTIVITY, TRUE_DURATION]), 0.0);
    assert!(problem.objective(&problem.model_values()) > 0.01);

    let fit = calibrate(&program, &projector, &days(), &observed, &spec)?;
    let infectivity = fit.values["Contact Infectivity"];
    let duration = fit.values["Duration"];
    assert!(
        (infectivity / TRUE_INFECTIVITY - 1.0).abs() < 1e-5,
        "{infectivity}"
    );
    assert!((duration / TRUE_DURATION - 1.0).abs() < 1e-5, "{duration}");
    assert!(fit.objective < 1e-12, "{}", fit.objective);
    assert!(fit.initial_objective > 0.01);
    assert_eq!(fit.periods.count(), 40);
    assert_eq!(fit.projection.labels().len(), 41);
    assert_eq!(
        fit.mape.keys().collect::<Vec<_>>(),
        ["infectious", "new_infections"]
    );
    assert!(fit.mape.values().all(|m| *m < 1e-3), "{:?}", fit.mape);
    // Every start is reported, best first; start 0 began at the model's values.
    assert_eq!(fit.starts.len(), 4);
    assert!(
        fit.starts
            .windows(2)
            .all(|w| w[0].objective <= w[1].objective)
    );
    assert!(fit.starts.iter().any(|s| s.initial == [0.3, 5.0]));
    // The held-out days 41-50 are predicted too.
    let held_out: Vec<f64> = (41..=50).map(f64::from).collect();
    let mut state = program.state();
    state.set("Contact Infectivity", infectivity)?;
    state.set("Duration", duration)?;
    let p = projector.project(&mut state, &days())?;
    assert!(mape(&p, "infectious", &observed, &held_out).unwrap() < 1e-3);
    assert_eq!(mape(&p, "recoveries", &observed, &held_out), None);

    // The same fit on one thread and on three.
    let on = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| calibrate(&program, &projector, &days(), &observed, &spec))
    };
    assert_eq!(on(1)?, fit);
    assert_eq!(on(3)?, fit);

    // The record names the periods and the window.
    let toml = fit_to_toml(&fit, &spec, "Written by a test.", "days");
    assert!(toml.starts_with("# Written by a test.\n# Weighted least squares of relative errors over days 1-40; Nelder-Mead from 4 starts\n"), "{toml}");
    assert!(
        toml.contains("\n[calibration]\nfrom = 0\nto = 40\n"),
        "{toml}"
    );
    assert!(
        toml.contains("\"Contact Infectivity\" = 0.42  # bounds 0.1 to 1\n"),
        "{toml}"
    );
    let record: toml::Table = toml.parse().unwrap();
    assert_eq!(record["starts"].as_array().unwrap().len(), 4);
    Ok(())
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "carecascade-engine-calibration-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn misspelt_series_and_parameters_are_located_in_the_spec_with_the_closest_name() {
    let program = sir();
    let projector = projector(&program);
    let observed = observed(&program).unwrap();
    let text = "[calibration]\nstarts = 2\n\n[series]\ninfectous = 1\nrecoveries = 1\nnew_infections = 1\n\n[parameters.\"Contact Infectivty\"]\nmin = 0.1\nmax = 1\n";
    let path = temp_file("sir.calibrate.toml", text);
    let spec = CalibrationSpec::load(&path).unwrap();
    let err = calibrate(&program, &projector, &days(), &observed, &spec)
        .unwrap_err()
        .to_string();
    let file = path.display();
    assert!(
        err.contains(&format!(
            "{file}:9:13: cannot fit `Contact Infectivty`: the model has no constant of that name; did you mean `contact_infectivity`?"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:5:1: the model's projection has no column `infectous`; did you mean `infectious`?"
        )),
        "{err}"
    );
    // A projection column with no data.
    assert!(
        err.contains(&format!(
            "{file}:6:1: made with known parameters has no series `recoveries`"
        )),
        "{err}"
    );
    assert!(err.starts_with("3 errors:"), "{err}");

    // Mistakes in the spec itself are found when it is read.
    let err = CalibrationSpec::parse(
        "[calibration]\nstart = 2\n[series]\ninfectious = 1\n[parameters.Duration]\nmin = 5\nmax = 1\n",
        Some("s.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("s.toml:2:1") && err.contains("did you mean `starts`?"),
        "{err}"
    );
    let err = CalibrationSpec::parse(
        "[series]\ninfectious = 1\n[parameters.Duration]\nmin = 5\nmax = 1\n",
        Some("s.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("s.toml:3:13: parameter `Duration` needs finite bounds with min < max"),
        "{err}"
    );

    // A window that the data do not cover.
    let mut late = CalibrationSpec::parse(SPEC, Some("sir.calibrate.toml")).unwrap();
    late.from = Some(60.0);
    late.to = Some(70.0);
    let err = calibrate(&program, &projector, &days(), &observed, &late)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sir.calibrate.toml:11:1: made with known parameters has no value of `infectious` (other than 0) in 61-70"),
        "{err}"
    );
}

/// The SIR model in the native format, with comments.
const NATIVE_SIR: &str = r#"# An SIR model.
[time]
start = 0
stop = 100
dt = "1/32"

[stocks.Susceptible]
initial = "Total Population"
outflows = ["Succumbing"]

[stocks.Infectious]
initial = 5
inflows = ["Succumbing"]
outflows = ["Recovering"]

[stocks.Recovered]
initial = 0
inflows = ["Recovering"]

[flows.Succumbing]
equation = "Susceptible * Infectious / Total Population * Contact Infectivity"

[flows.Recovering]
equation = "Infectious / Duration"

[constants]
"Total Population" = 1000
"Contact Infectivity" = { value = 0.3, units = "1/day" } # per day

[constants.Duration]
value = 5 # days
units = "day"
"#;

/// Fitted values go into a native model file, keeping its comments; a
/// constant the file lacks is named with the closest.
#[test]
fn fitted_values_are_written_into_a_native_model_file() {
    let path = temp_file("sir.toml", NATIVE_SIR);
    let values = [
        ("contact infectivity".to_string(), TRUE_INFECTIVITY),
        ("Duration".to_string(), 3.50000012),
    ]
    .into_iter()
    .collect();
    update_model_file(&path, &values).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.starts_with("# An SIR model.\n"), "{written}");
    assert!(written.contains("value = 3.5 # days\n"), "{written}");
    assert!(
        written.contains("units = \"1/day\" } # per day\n"),
        "{written}"
    );
    let program = Program::compile(&native::load(&path).unwrap()).unwrap();
    let state = program.state();
    let value = |name| state.param(program.parameter(name).unwrap()).unwrap();
    assert_eq!(value("Contact Infectivity"), TRUE_INFECTIVITY);
    // Six significant figures, as the fit record has them.
    assert_eq!(value("Duration"), 3.5);

    let err = update_model_file(
        &path,
        &[("Duration of illness".to_string(), 1.0)]
            .into_iter()
            .collect(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("did you mean `Duration`?"), "{err}");
}
