//! The national roll-up: sums over authorities run by run, only of
//! additive outputs, checked against the national runs.

use carecascade::engine::ensemble::{Ensemble, Kind, Outcome};
use carecascade::rollup::{NOT_ADDITIVE, RollUp};

/// An outcome of one scenario whose run `r` has `looked after` =
/// `base + r` in both periods (NaN for the flow in the first), and a
/// caseload of `caseload`.
fn outcome(base: f64, caseload: f64, runs: usize) -> Outcome {
    Outcome {
        version: String::new(),
        kind: Kind::Run,
        seed: 1,
        total_runs: runs,
        sampling: "random".into(),
        quantiles: vec![0.05, 0.5, 0.95],
        shard: None,
        cost: None,
        discount_rate: 0.035,
        cumulative: Vec::new(),
        ensembles: vec![ensemble(base, caseload, runs)],
    }
}

/// The ensemble of [`outcome`], read from JSON as a saved outcome would be.
fn ensemble(base: f64, caseload: f64, runs: usize) -> Ensemble {
    let runs: Vec<serde_json::Value> = (0..runs)
        .map(|r| {
            let level = base + r as f64;
            serde_json::json!({
                "run": r,
                "draws": [],
                "values": [[level, level], [null, 0.1 * base], [caseload, caseload]],
                "scalars": [0.1 * base, caseload],
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "scenario": "baseline",
        "question": "",
        "sources": [],
        "indicators": ["cla_at_31_march", "cla_started", "caseload"],
        "label": "year",
        "periods": [2023.0, 2024.0],
        "parameters": [],
        "scalars": ["entered_care", "peak_caseload"],
        "integration": "euler",
        "runs": runs,
    }))
    .unwrap()
}

#[test]
fn sums_additive_outputs_run_by_run_and_leaves_ratios_out() {
    let runs = 21;
    let national = [outcome(1000.0, 17.0, runs)];
    let mut rollup = RollUp::like(&national).unwrap();
    rollup.add(&outcome(300.0, 15.0, runs)).unwrap();
    // An authority whose runs arrive in another order.
    let mut second = outcome(700.0, 19.0, runs);
    second.ensembles[0].runs.reverse();
    rollup.add(&second).unwrap();
    let check = rollup.check(&national).unwrap();
    let row = |output: &str, period: Option<f64>| {
        check
            .rows
            .iter()
            .find(|r| r.output == output && r.period == period)
            .unwrap_or_else(|| panic!("no row {output} {period:?}"))
            .clone()
    };
    // Run r sums to 300 + r + 700 + r = 1000 + 2r: the median run is 10.
    let cla = row("cla_at_31_march", Some(2024.0));
    assert_eq!(cla.authorities, 2);
    assert!((cla.rolled_up[1] - 1020.0).abs() < 1e-9, "{cla:?}");
    assert!((cla.national[1] - 1010.0).abs() < 1e-9, "{cla:?}");
    assert!(cla.agrees(), "{cla:?}");
    // A flow's starting period is no number on either side, and agrees.
    let started = row("cla_started", Some(2023.0));
    assert!(started.rolled_up[1].is_nan() && started.agrees());
    assert!((row("cla_started", Some(2024.0)).rolled_up[1] - 100.0).abs() < 1e-9);
    assert!((row("entered_care", None).rolled_up[1] - 100.0).abs() < 1e-9);
    // Ratios and maxima are not summed.
    for name in NOT_ADDITIVE {
        assert!(check.rows.iter().all(|r| r.output != *name), "{name}");
    }
    assert!(check.disagreements().is_empty());
    let csv = check.to_csv().unwrap();
    assert!(csv.starts_with("scenario,output,period,authorities,rolled_up_p5"));
    assert!(csv.contains("baseline,cla_at_31_march,2024,2,"));
}

#[test]
fn a_sum_far_from_the_national_model_is_flagged() {
    let runs = 21;
    let national = [outcome(1000.0, 17.0, runs)];
    let mut rollup = RollUp::like(&national).unwrap();
    // 20% short of the national runs, whose 90% interval spans 1001-1019.
    rollup.add(&outcome(800.0, 15.0, runs)).unwrap();
    let check = rollup.check(&national).unwrap();
    let bad = check.disagreements();
    assert!(bad.iter().any(|r| r.output == "cla_at_31_march"), "{bad:?}");
    assert!(bad.iter().all(|r| r.difference() < -0.15));
    assert!(
        check
            .summary()
            .contains("outside the national 90% interval")
    );
}

#[test]
fn authorities_with_other_runs_or_scenarios_are_refused() {
    let national = [outcome(1000.0, 17.0, 10)];
    let mut rollup = RollUp::like(&national).unwrap();
    let err = rollup.add(&outcome(1.0, 1.0, 9)).unwrap_err().to_string();
    assert!(err.contains("runs differ"), "{err}");
    let mut other = outcome(1.0, 1.0, 10);
    other.ensembles[0].scenario = "squeeze".into();
    let err = rollup.add(&other).unwrap_err().to_string();
    assert!(
        err.contains("`squeeze` is not in the national run"),
        "{err}"
    );
}

/// The baseline on every authority, added up, against the national
/// model: the starting stocks must add up to England's within 0.1% and
/// every output and year agree ([`carecascade::rollup::RollUpRow::agrees`]).
/// About 1-5 minutes (152 local models): run in release with
/// `cargo test --release --test rollup -- --ignored`.
#[test]
#[ignore]
fn every_authority_adds_up_to_the_national_model() {
    use carecascade::engine::scenario::Scenario;
    use carecascade::submission::Submission;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load_with(
        root.join("scenarios/baseline.toml"),
        &carecascade::library(),
    )
    .unwrap()
    .with_runs(20)
    .unwrap();
    let submission = Submission::new(vec![scenario], false, &["all".into()]).unwrap();
    assert!(submission.is_every_authority());
    let out = std::env::temp_dir().join(format!("carecascade-rollup-{}", std::process::id()));
    let (_, check) = submission.run_rolled_up(&out, &|| {}).unwrap();
    let text = std::fs::read_to_string(out.join(carecascade::rollup::FILE)).unwrap();
    assert_eq!(text, check.to_csv().unwrap());
    let _ = std::fs::remove_dir_all(&out);
    for stock in ["cin_at_31_march", "cpp_at_31_march", "cla_at_31_march"] {
        let row = check
            .rows
            .iter()
            .find(|r| r.output == stock && r.period == Some(2023.0))
            .unwrap();
        assert!(row.difference().abs() < 1e-3, "{row:?}");
    }
    let bad = check.disagreements();
    assert!(bad.is_empty(), "{bad:?}");
}

#[test]
fn only_every_authority_is_rolled_up() {
    use carecascade::engine::scenario::Scenario;
    use carecascade::submission::Submission;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load_with(
        root.join("scenarios/baseline.toml"),
        &carecascade::library(),
    )
    .unwrap()
    .with_runs(4)
    .unwrap();
    let submission = Submission::new(vec![scenario], false, &["Rutland".into()]).unwrap();
    assert!(!submission.is_every_authority());
    let out = std::env::temp_dir().join(format!("carecascade-no-rollup-{}", std::process::id()));
    let err = submission
        .run_rolled_up(&out, &|| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("--area all"), "{err}");
    assert!(!out.exists(), "nothing is written");
}
