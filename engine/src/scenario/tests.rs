//! Scenario files read, validated and prepared against models that know
//! nothing of children's social care.

use super::*;

fn sir_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn sir(text: &str) -> Result<Scenario> {
    let mut s = Scenario::parse(&format!("model = \"sir.toml\"\n{text}"), "s.toml")?;
    s.set_base_dir(sir_dir());
    Ok(s)
}

#[test]
fn a_scenario_built_in_code_is_validated_too() {
    let file = ScenarioFile {
        model: Some("m.toml".into()),
        monte_carlo: Some(MonteCarloSpec {
            runs: Some(0),
            ..MonteCarloSpec::default()
        }),
        ..ScenarioFile::default()
    };
    let err = Scenario::try_from(file).unwrap_err().to_string();
    assert!(err.contains("runs must be 1 to"), "{err}");
    let file = ScenarioFile {
        model: Some("m.toml".into()),
        ..ScenarioFile::default()
    };
    assert_eq!(Scenario::try_from(file).unwrap().runs(), 1000);
    let err = Scenario::try_from(ScenarioFile::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs `model"), "{err}");
}

#[test]
fn a_minimal_scenario_takes_the_model_s_window_and_stocks() {
    let s = sir("").unwrap();
    assert_eq!((s.start(), s.horizon(), s.runs()), (None, None, 1000));
    assert_eq!(s.sampling(), Sampling::Random);
    assert_eq!(s.quantiles(), DEFAULT_QUANTILES);
    let p = s.prepare().unwrap();
    // The SIR model runs from day 0 to day 100.
    assert_eq!(p.periods().labels().first(), Some(&0.0));
    assert_eq!(p.periods().count(), 100);
    assert_eq!(p.indicators(), ["Susceptible", "Infectious", "Recovered"]);
    assert!(p.scalar_names().is_empty());
}

#[test]
fn mistakes_name_the_file_line_and_field() {
    let err = Scenario::parse("model = \"m.toml\"\n[time]\nhorizn = 5\n", "s.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("s.toml:3:1") && err.contains("did you mean `horizon`?"),
        "{err}"
    );
    let err = Scenario::parse(
        "model = \"m.toml\"\n[[policies]]\nparameter = \"contact infectivity\"\nkind = \"rmp\"\n\n[uncertain.x]\ndistribution = \"pert\"\nmin = 1\nmax = 0\nmode = 0\n\n[monte_carlo]\nsampling = \"latin\"\n[report.scalars.peak]\nvariable = \"Infectious\"\nreduce = \"sun\"\n",
        "s.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("s.toml:3:14: policies[0] (`contact infectivity`): kind `rmp` is not one of step, ramp, pulse, series; did you mean `ramp`?"), "{err}");
    assert!(err.contains("uncertain.\"x\": needs min < max"), "{err}");
    assert!(err.contains("did you mean `latin_hypercube`?"), "{err}");
    assert!(
        err.contains("reduce `sun`") && err.contains("did you mean `sum`?"),
        "{err}"
    );
    let err = Scenario::parse("model = \"m.toml\"\nprofile = \"englnd\"\n", "s.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("s.toml:2:1") && err.contains("known: none"),
        "{err}"
    );
}

#[test]
fn profiles_and_built_in_models_come_from_the_library() {
    let profile = ScenarioFile {
        time: Some(TimeSpec {
            start: Some(2023.0),
            horizon: Some(3),
            offset: Some(0.25),
            label: Some("year".into()),
            ..TimeSpec::default()
        }),
        outputs: [(
            "stock_at_end".to_string(),
            OutputSpec {
                variable: "x".into(),
                ..OutputSpec::default()
            },
        )]
        .into_iter()
        .collect(),
        ..ScenarioFile::default()
    };
    let library = Library::new()
        .with_model(
            "toy",
            || crate::format::native::parse("[time]\nstart = 2000\nstop = 2100\n[stocks.x]\ninitial = 1\ninflows = [\"f\"]\n[flows.f]\nequation = \"1\"\n", None),
            Some("toy"),
        )
        .with_profile("toy", profile)
        .with_default_model("toy");
    let s = Scenario::parse_with("[time]\nhorizon = 5\n", "s.toml", &library).unwrap();
    assert_eq!(
        (s.model(), s.start(), s.horizon()),
        ("toy", Some(2023.0), Some(5))
    );
    let p = s.prepare().unwrap();
    assert_eq!(p.indicators(), ["stock_at_end"]);
    assert_eq!(p.periods().time(0), 2023.25);
    let err = Scenario::parse_with("model = \"toys\"\n", "s.toml", &library)
        .unwrap()
        .prepare()
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean `toy`?"), "{err}");
}

#[test]
fn policies_change_a_constant_over_time() {
    let s = sir(r#"
[time]
start = 0
horizon = 6
[[policies]]
parameter = "Contact Infectivity"
kind = "ramp"
start = 2
years = 2
value = 0.2
[[policies]]
parameter = "Contact Infectivity"
kind = "pulse"
start = 4
years = 1
value = 0.05
[[policies]]
parameter = "Duration"
kind = "series"
effect = "multiply"
points = [[0, 0], [5, -0.5]]
[parameters]
"Contact Infectivity" = 0.1
[report]
indicators = ["Contact Infectivity", "Duration"]
"#)
    .unwrap();
    let p = s.prepare().unwrap();
    let mut state = p.program().state();
    p.configure(&mut state).unwrap();
    let time = state.time().with_stop(6.0).unwrap();
    state.set_time(time);
    let r = state.run().unwrap();
    let at = |name: &str, t: f64| r.value_at(name, t).unwrap();
    assert_eq!(at("Contact Infectivity", 1.5), 0.1);
    assert!((at("Contact Infectivity", 3.0) - 0.2).abs() < 1e-9);
    assert!((at("Contact Infectivity", 4.5) - 0.35).abs() < 1e-9);
    assert!((at("Contact Infectivity", 5.5) - 0.3).abs() < 1e-9);
    let duration = at("Duration", 0.0);
    assert!((at("Duration", 2.5) - 0.75 * duration).abs() < 1e-9);
    // Unknown names are refused with the closest one.
    let bad =
        sir("[parameters]\n\"contact infectivty\" = 0.1\n[report]\nindicators = [\"Infectous\"]\n")
            .unwrap()
            .prepare()
            .unwrap_err()
            .to_string();
    assert!(bad.contains("did you mean `Contact Infectivity`?"), "{bad}");
    let bad = sir("[report]\nindicators = [\"Infectous\"]\n")
        .unwrap()
        .prepare()
        .unwrap_err()
        .to_string();
    assert!(bad.contains("did you mean `Infectious`?"), "{bad}");
    // A policy after the horizon would do nothing: refused.
    let bad = sir("[time]\nhorizon = 5\n[[policies]]\nparameter = \"Duration\"\nkind = \"step\"\nstart = 50\nvalue = 1\n")
        .unwrap()
        .prepare()
        .unwrap_err()
        .to_string();
    assert!(bad.contains("no effect"), "{bad}");
}

#[test]
fn scalars_and_comparisons_are_checked_against_the_model() {
    let bad = sir("[report.scalars.total]\nindicator = \"Infectious\"\nreduce = \"sum\"\n")
        .unwrap()
        .prepare()
        .unwrap_err()
        .to_string();
    assert!(bad.contains("is a level"), "{bad}");
    let bad = sir("[report.scalars.peak]\nvariable = \"Infectous\"\nreduce = \"max\"\n")
        .unwrap()
        .prepare()
        .unwrap_err()
        .to_string();
    assert!(bad.contains("did you mean `Infectious`?"), "{bad}");
    let bad = sir("[report.scalars.peak]\nvariable = \"Infectious\"\nreduce = \"sum\"\n")
        .unwrap_err()
        .to_string();
    assert!(bad.contains("over every step with `max` or `min`"), "{bad}");
    let p = sir("[report]\nindicators = [\"Infectious\"]\n[report.scalars.infections]\nindicator = \"Succumbing\"\nreduce = \"sum\"\n[compare]\ncumulative = [\"Recovering\"]\n")
        .unwrap()
        .prepare()
        .unwrap();
    // What the scalars and comparisons need is stored too.
    assert_eq!(p.indicators(), ["Infectious", "Succumbing", "Recovering"]);
    assert_eq!(p.cumulative_columns(), [2]);
}

#[test]
fn a_model_file_named_by_a_parent_is_relative_to_the_parent() {
    let dir = std::env::temp_dir().join(format!("carecascade-parent-model-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("base/models")).unwrap();
    std::fs::create_dir_all(dir.join("mine")).unwrap();
    std::fs::copy(sir_dir().join("sir.toml"), dir.join("base/models/sir.toml")).unwrap();
    std::fs::write(
        dir.join("base/base.toml"),
        "model = \"models/sir.toml\"\n[time]\nhorizon = 3\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("mine/alt.toml"),
        "extends = \"../base/base.toml\"\n",
    )
    .unwrap();
    let p = Scenario::load(dir.join("mine/alt.toml"))
        .unwrap()
        .prepare()
        .unwrap();
    assert_eq!(p.model().name(), "SIR");
    let _ = std::fs::remove_dir_all(&dir);
}
