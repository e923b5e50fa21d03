//! Local models: the England model fitted to one authority starts from the
//! authority's own published figures and reproduces its recent history.

use carecascade::engine::format::{native, save_model};
use carecascade::{local, project};
use std::process::Command;

#[test]
fn a_local_model_starts_from_the_authority_and_fits_its_figures() {
    let leeds = local::localise(&carecascade::england(), "Leeds", 2021).unwrap();
    assert_eq!(
        (leeds.code.as_str(), leeds.name.as_str()),
        ("E08000035", "Leeds")
    );
    // About 170,000 of England's 12 million children.
    assert!(
        (0.012..0.017).contains(&leeds.population_share),
        "{}",
        leeds.population_share
    );

    let published = carecascade::data::Observed::local_authority("E08000035").unwrap();
    let p = project::project(&leeds.model, 2021, 2).unwrap();
    for column in ["cin_at_31_march", "cpp_at_31_march", "cla_at_31_march"] {
        let start = p.get(column, 2021).unwrap();
        let expected = published.series(column).unwrap().get(2021).unwrap();
        assert!(
            (start - expected).abs() <= 1e-6 * expected,
            "{column}: starts at {start}, published {expected}"
        );
    }
    // Leeds is a large authority: its stocks are fitted closely.
    for column in ["cin_at_31_march", "cpp_at_31_march", "cla_at_31_march"] {
        let error = leeds.fit.mape[column];
        assert!(error < 10.0, "{column}: {error:.1}%");
    }
    // The fitted rates are the local model's constants, and say where they
    // come from.
    let scale = leeds.model.variable("local referral scale").unwrap();
    assert!(
        scale.doc().contains("Calibrated to Leeds (E08000035)"),
        "{}",
        scale.doc()
    );
    assert_ne!(leeds.fit.values["local referral scale"], 1.0);

    // Saved and read back, it projects the same.
    let text = native::write(&leeds.model);
    let again = native::parse(&text, Some("leeds.toml")).unwrap();
    assert_eq!(project::project(&again, 2021, 2).unwrap(), p);
}

#[test]
fn local_model_mistakes_are_explained() {
    let england = carecascade::england();
    let err = local::localise(&england, "Leds", 2021)
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean `Leeds`"), "{err}");
    let err = local::localise(&england, "Leeds", 2019)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("children looked after") && err.contains("2021 or later"),
        "{err}"
    );
    let err = local::localise(&england, "Leeds", 2023)
        .unwrap_err()
        .to_string();
    assert!(err.contains("start from an earlier year"), "{err}");
}

#[test]
fn carecascade_localise_writes_a_model_a_scenario_can_use() {
    let dir = std::env::temp_dir().join(format!("carecascade-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("rutland.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_carecascade"))
        .args(["localise", "england", "--area", "E06000017", "--output"])
        .arg(&model)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Rutland (E06000017)"), "{stdout}");
    assert!(
        stdout.contains("small numbers"),
        "a small authority is flagged: {stdout}"
    );
    let loaded = carecascade::engine::format::load_model(&model).unwrap();
    save_model(&loaded, dir.join("again.toml")).unwrap();
    // A scenario on the local model, with the England profile's indicators.
    let scenario = carecascade::engine::scenario::Scenario::parse_with(
        &format!(
            "model = {:?}\nprofile = \"england\"\n[time]\nstart = 2023\nhorizon = 2\n[monte_carlo]\nruns = 3\n",
            model.display().to_string()
        ),
        "rutland.toml",
        &carecascade::library(),
    )
    .unwrap();
    let prepared = [scenario.prepare().unwrap()];
    let outcome = carecascade::engine::ensemble::run_scenarios(
        &prepared,
        &carecascade::engine::ensemble::RunOptions::default(),
    )
    .unwrap();
    assert_eq!(outcome.ensembles[0].runs.len(), 3);
    let cla = outcome
        .quantile("rutland", "cla_at_31_march", 2025, 0.5)
        .unwrap();
    assert!(cla > 10.0 && cla < 500.0, "{cla}");
    // The report shows the fit of the local model to Rutland's figures,
    // not England's.
    let html = carecascade::report::report(&outcome, &prepared).unwrap();
    assert!(
        html.contains("The local model of E06000017 (Rutland)"),
        "local fit"
    );
    assert!(html.contains("social care in E06000017 (Rutland)"));
    assert!(!html.contains("The calibrated England model"));
    std::fs::remove_dir_all(&dir).unwrap();
}
