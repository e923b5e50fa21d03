//! Calibration and the England model's fit to the published statistics.

use carecascade::calibrate::{CalibrationSpec, calibrate, mape, update_model_file};
use carecascade::data::Observed;
use carecascade::engine::format::native;
use carecascade::project;

/// Entries to care at a constant rate and exits in proportion to the stock.
const TOY: &str = r#"
[time]
start = 2013.25
stop = 2020.25
dt = "1/52"
[stocks."looked after"]
initial = 1000
inflows = ["entries"]
outflows = ["exits"]
[flows.entries]
equation = "entry level"
[flows.exits]
equation = "looked after * exit rate"
[auxiliaries."cla starts"]
equation = "entries"
[constants]
"entry level" = 500
"exit rate" = 0.5
"#;

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("carecascade-calibration-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn calibration_recovers_the_parameters_that_made_the_data() {
    // Data made by the model itself with known values...
    let truth = native::parse(&TOY.replace("500", "800").replace("0.5\n", "0.3\n"), None).unwrap();
    let p = project::project(&truth, 2013, 7).unwrap();
    let mut csv = String::from("year,cla_at_31_march,cla_started\n");
    for y in project::years(&p).iter() {
        let starts = p
            .get("cla_started", *y)
            .map_or(String::new(), |v| v.to_string());
        csv.push_str(&format!(
            "{y},{},{starts}\n",
            p.get("cla_at_31_march", *y).unwrap()
        ));
    }
    let observed = Observed::load(temp_file("toy.csv", &csv), "year").unwrap();
    // ... are fitted from elsewhere.
    let spec = CalibrationSpec::parse(
        r#"
[calibration]
from = 2013
to = 2020
starts = 3
max_evaluations = 800
[series]
cla_at_31_march = 1
cla_started = 1
[parameters."entry level"]
min = 100
max = 2000
[parameters."exit rate"]
min = 0.05
max = 1.0
"#,
        None,
    )
    .unwrap();
    let toy = native::parse(TOY, None).unwrap();
    let fit = calibrate(&toy, &observed, &spec).unwrap();
    assert!(fit.objective < 1e-12, "objective {}", fit.objective);
    assert!(fit.initial_objective > 0.01);
    assert!(
        (fit.values["entry level"] / 800.0 - 1.0).abs() < 1e-4,
        "{:?}",
        fit.values
    );
    assert!(
        (fit.values["exit rate"] / 0.3 - 1.0).abs() < 1e-4,
        "{:?}",
        fit.values
    );
    assert!(fit.mape["cla_at_31_march"] < 1e-4);
    // Every start is reported, best first, and the search is reproducible.
    assert_eq!(fit.starts.len(), 3);
    assert!(
        fit.starts
            .windows(2)
            .all(|w| w[0].objective <= w[1].objective)
    );
    let again = calibrate(&toy, &observed, &spec).unwrap();
    assert_eq!(again.values, fit.values);

    // Writing the values into the model file keeps its comments.
    let model_path = temp_file("toy.toml", &format!("# a comment\n{TOY}"));
    update_model_file(&model_path, &fit.values).unwrap();
    let text = std::fs::read_to_string(&model_path).unwrap();
    assert!(text.starts_with("# a comment\n"));
    let updated = native::parse(&text, None).unwrap();
    let p = project::project(&updated, 2013, 7).unwrap();
    assert!(mape(&p, "cla_at_31_march", &observed, &[2014, 2020]).unwrap() < 1e-3);
}

#[test]
fn calibration_mistakes_name_the_closest_thing() {
    let toy = native::parse(TOY, None).unwrap();
    let observed = Observed::load(
        temp_file("obs.csv", "year,cla_at_31_march\n2014,1000\n"),
        "year",
    )
    .unwrap();
    let spec = CalibrationSpec::parse(
        "[series]\ncla_at_31_march = 1\ncla_startd = 1\n[parameters.\"exit rat\"]\nmin = 0\nmax = 1\n",
        None,
    )
    .unwrap();
    let err = calibrate(&toy, &observed, &spec).unwrap_err().to_string();
    assert!(
        err.contains("`exit rat`") && err.contains("did you mean `exit rate`?"),
        "{err}"
    );
    assert!(
        err.contains("no column `cla_startd`; did you mean `cla_started`?"),
        "{err}"
    );
    let err = update_model_file(
        temp_file("t.toml", TOY),
        &[("exit rat".to_string(), 1.0)].into_iter().collect(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("did you mean `exit rate`?"), "{err}");
}

/// The shipped England model meets the fit targets of its issue over
/// 2014-2023 (2013 is the starting point): at most 5% mean absolute
/// percentage error for the stocks and 8% for the flows.
#[test]
fn the_england_model_fits_the_published_statistics() {
    let observed = Observed::england().unwrap();
    let p = project::project(&carecascade::england(), 2013, 10).unwrap();
    let years: Vec<i32> = (2014..=2023).collect();
    for (series, target) in [
        ("cin_at_31_march", 5.0),
        ("cpp_at_31_march", 5.0),
        ("cla_at_31_march", 5.0),
        ("referrals", 8.0),
        ("cpp_started", 8.0),
        ("cla_started", 8.0),
        ("cla_ceased", 8.0),
    ] {
        let m = mape(&p, series, &observed, &years).unwrap();
        assert!(m <= target, "{series}: MAPE {m:.2}% > {target}%");
    }
    // The fit file records the values the model uses.
    let fit: toml::Table = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/england.fit.toml"
    ))
    .unwrap()
    .parse()
    .unwrap();
    let model = carecascade::england();
    let program = carecascade::Program::compile(&model).unwrap();
    let state = program.state();
    for (name, value) in fit["fitted"].as_table().unwrap() {
        let id = program.parameter(name).unwrap();
        assert_eq!(
            state.param(id).unwrap(),
            value.as_float().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn the_baseline_projection_stays_plausible_for_ten_years() {
    let p = project::project(&carecascade::england(), 2023, 10).unwrap();
    assert_eq!(project::years(&p).first(), Some(&2023));
    assert_eq!(project::years(&p).last(), Some(&2033));
    for column in p.columns() {
        for v in p.column(column).unwrap().iter().flatten() {
            assert!(v.is_finite() && *v >= 0.0, "{column}: {v}");
        }
    }
    for c in p.column("caseload").unwrap().iter().flatten() {
        assert!((10.0..=30.0).contains(c), "caseload {c}");
    }
    // First-year spend within a factor of 1.5 of the 2022-23 outturn (RO3):
    // looked after £6.94bn, safeguarding £3.16bn, early help £2.85bn
    // (family support, Sure Start, services for young people).
    for (column, outturn) in [
        ("spend_looked_after_m", 6940.0),
        ("spend_safeguarding_m", 3160.0),
        ("spend_early_help_m", 2850.0),
    ] {
        let first = p.get(column, 2024).unwrap();
        assert!(
            first / outturn <= 1.5 && outturn / first <= 1.5,
            "{column}: {first:.0} vs {outturn}"
        );
    }
}

/// docs/model.md carries the generated reference of the shipped model.
#[test]
fn the_model_documentation_is_generated_from_the_model() {
    use carecascade::engine::format::describe;
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/model.md")).unwrap();
    let generated = describe::describe(&carecascade::england());
    assert_eq!(
        describe::replace_generated(&doc, &generated).as_deref(),
        Some(doc.as_str()),
        "docs/model.md is out of date: run `cargo run -- describe england --update docs/model.md`"
    );
    // Every parameter and lookup states its source, or that it is an
    // assumption, a calibrated value, a policy lever or a definition.
    for v in carecascade::england().variables() {
        use carecascade::engine::VariableKind;
        if matches!(
            v.kind(),
            VariableKind::Constant { .. } | VariableKind::Lookup { .. }
        ) {
            let doc = v.doc();
            assert!(
                [
                    "Source",
                    "Assumption",
                    "Calibrated",
                    "Evidence",
                    "Policy lever",
                    "Definition",
                ]
                .iter()
                .any(|k| doc.contains(k)),
                "`{}` does not say where its value comes from: {doc}",
                v.name()
            );
        }
    }
}

/// The command line knows the built-in model by name.
#[test]
fn the_cli_runs_and_projects_the_built_in_model() {
    let cli = env!("CARGO_BIN_EXE_carecascade");
    let out = std::process::Command::new(cli)
        .args(["simulate", "england", "--stop", "2014.25"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(
        csv.starts_with("Time,unmet need[age 0 to 4],"),
        "{}",
        &csv[..80]
    );
    assert_eq!(csv.lines().count(), 1 + 53);

    let out = std::process::Command::new(cli)
        .args(["project", "england", "--from", "2013", "--years", "2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("year,population_0_17,referrals,rereferrals_12m,"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains(",cla_at_31_march,") && lines[0].contains(",spend_total_m,"));
    assert_eq!(lines.len(), 4);
    assert!(lines[1].starts_with("2013,11403970,,"), "{}", lines[1]);

    let out = std::process::Command::new(cli)
        .args(["simulate", "englnd"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a built-in model") && err.contains("did you mean `england`?"),
        "{err}"
    );
}
