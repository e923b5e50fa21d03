//! Sensitivity analysis through real scenarios: the Ishigami function as a
//! model, with a parameter nothing depends on, an output one parameter
//! fully determines, and a paired difference from a base.

use carecascade_engine::scenario::{Prepared, Scenario};
use carecascade_engine::sensitivity::{self, Bootstrap, Method, Settings};
use std::f64::consts::PI;

const MODEL: &str = r#"
[model]
name = "ishigami"
time_units = "year"

[time]
start = 0
stop = 1
dt = 1

[constants]
x1 = 0
x2 = 0
x3 = 0
unused = 0
gain = 0

[auxiliaries.y]
equation = "SIN(x1) + 7 * SIN(x2)^2 + 0.1 * x3^4 * SIN(x1)"

[auxiliaries.z]
equation = "3 * x1 + 1"

[auxiliaries.d]
equation = "gain * x3"
"#;

fn scenario(extra: &str) -> String {
    format!(
        r#"
model = "ishigami.toml"
[time]
horizon = 1
[report]
indicators = ["y", "z", "d"]
[report.scalars.peak_y]
variable = "y"
reduce = "max"
[report.scalars.peak_z]
variable = "z"
reduce = "max"
[report.scalars.peak_d]
variable = "d"
reduce = "max"
[uncertain.x1]
distribution = "uniform"
min = {lo}
max = {hi}
[uncertain.x2]
distribution = "uniform"
min = {lo}
max = {hi}
[uncertain.x3]
distribution = "uniform"
min = {lo}
max = {hi}
[uncertain.unused]
distribution = "normal"
mean = 5
sd = 2
{extra}
"#,
        lo = -PI,
        hi = PI
    )
}

/// The model file in a fresh folder, and the scenario prepared there.
fn prepare(extra: &str) -> Prepared {
    let dir = std::env::temp_dir().join(format!(
        "carecascade-sensitivity-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ishigami.toml"), MODEL).unwrap();
    let mut s = Scenario::parse(&scenario(extra), "ishigami-scenario.toml").unwrap();
    s.set_base_dir(&dir);
    let prepared = s.prepare().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    prepared
}

fn settings(method: Method, outputs: &[&str]) -> Settings {
    Settings {
        method,
        seed: 42,
        bootstrap: Bootstrap {
            resamples: 300,
            ..Bootstrap::default()
        },
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn sobol_indices_through_a_scenario() {
    let prepared = prepare("");
    let analysis = sensitivity::run(
        &prepared,
        None,
        &settings(
            Method::Sobol { samples: 2048 },
            &["peak_y", "z@1", "peak_d"],
        ),
        &|| {},
    )
    .unwrap();
    assert_eq!(analysis.runs, 2048 * 6);
    let names: Vec<&str> = analysis.factors.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["x1", "x2", "x3", "unused"]);
    // The Ishigami function: close to the analytic values, which every
    // interval covers; the parameter it does not use has no effect at all.
    let y = analysis.output("peak_y").unwrap();
    let first = [0.3139, 0.4424, 0.0, 0.0];
    let total = [0.5576, 0.4424, 0.2437, 0.0];
    for i in 0..4 {
        let (s1, st) = (y.sobol[i].first, y.sobol[i].total);
        assert!((s1.value - first[i]).abs() < 0.03, "{}: {s1:?}", names[i]);
        assert!((st.value - total[i]).abs() < 0.03, "{}: {st:?}", names[i]);
        assert!(s1.low <= first[i] + 1e-12 && first[i] <= s1.high + 1e-12);
        assert!(st.low <= total[i] + 1e-12 && total[i] <= st.high + 1e-12);
    }
    assert_eq!((y.sobol[3].first.value, y.sobol[3].total.value), (0.0, 0.0));
    assert_eq!(y.ranked()[..3], [0, 1, 2]);
    // z = 3 x1 + 1 in the stored indicator: x1 determines it (both
    // indices 1 up to sampling error, inside their intervals), and the
    // others have no effect, exactly (f(AB_i) = f(A) in every row).
    let z = analysis.output("z@1").unwrap();
    for e in [z.sobol[0].first, z.sobol[0].total] {
        assert!(
            (e.value - 1.0).abs() < 0.01 && e.low <= 1.0 && 1.0 <= e.high,
            "{e:?}"
        );
    }
    for i in 1..4 {
        assert_eq!((z.sobol[i].first.value, z.sobol[i].total.value), (0.0, 0.0));
    }
    assert!(z.mean.abs() - 1.0 < 0.05 && (z.sd - 3.0 * PI / 3f64.sqrt()).abs() < 0.05);
    // With gain 0, d is always 0: no variance, no indices.
    let d = analysis.output("peak_d").unwrap();
    assert!(!d.varies && d.sobol.iter().all(|s| s.total.value.is_nan()));
    assert!(y.varies && z.varies);
    let table = analysis.table();
    assert!(table.contains("does not vary"), "{table}");
    let csv = analysis.to_csv();
    assert!(csv.starts_with("output,parameter,distribution,rank,S1,S1_low"));
    assert!(csv.contains("peak_y,x2,\"uniform(min"), "{csv}");
    assert!(analysis.to_json().contains("\"method\": \"sobol\""));
}

/// Against a base, the output is the paired difference on the same design
/// point: an output the policy does not touch differs by exactly 0 in
/// every row, and one the policy makes depend on x3 is all x3's.
#[test]
fn paired_differences_use_the_same_design_point() {
    let base = prepare("");
    let policy = prepare("[parameters]\ngain = 2");
    let analysis = sensitivity::run(
        &policy,
        Some(&base),
        &settings(Method::Sobol { samples: 256 }, &[]),
        &|| {},
    )
    .unwrap();
    assert_eq!(analysis.against.as_deref(), Some(base.scenario().name()));
    let names: Vec<&str> = analysis.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["peak_y", "peak_z", "peak_d"]);
    let y = analysis.output("peak_y").unwrap();
    assert_eq!((y.mean, y.sd, y.varies), (0.0, 0.0, false));
    let d = analysis.output("peak_d").unwrap();
    for e in [d.sobol[2].first, d.sobol[2].total] {
        assert!(
            (e.value - 1.0).abs() < 0.05 && e.low <= 1.0 && 1.0 <= e.high,
            "{e:?}"
        );
    }
    for i in [0, 1, 3] {
        assert_eq!((d.sobol[i].first.value, d.sobol[i].total.value), (0.0, 0.0));
    }
    assert_eq!(d.ranked()[0], 2);
}

#[test]
fn morris_through_a_scenario_screens_out_the_unused_parameter() {
    let prepared = prepare("");
    let analysis = sensitivity::run(
        &prepared,
        None,
        &settings(
            Method::Morris {
                trajectories: 30,
                levels: 4,
            },
            &["peak_y", "peak_z"],
        ),
        &|| {},
    )
    .unwrap();
    assert_eq!(analysis.runs, 30 * 5);
    let y = analysis.output("peak_y").unwrap();
    assert_eq!(y.morris[3].mu_star.value, 0.0);
    assert_eq!(*y.ranked().last().unwrap(), 3);
    // z = 3 x1 + 1, x1 uniform on [-pi, pi]: a step of half the levels
    // moves x1 by pi, so every elementary effect is 3 pi / (1/2).
    let z = analysis.output("peak_z").unwrap();
    assert!((z.morris[0].mu_star.value - 6.0 * PI).abs() < 1e-9);
    assert!(z.morris[0].sigma < 1e-9);
    assert!(analysis.table().contains("mu* [interval]"));
}

#[test]
fn bad_outputs_name_the_closest() {
    let prepared = prepare("");
    let error = |outputs: &[&str]| {
        sensitivity::run(
            &prepared,
            None,
            &settings(Method::Sobol { samples: 16 }, outputs),
            &|| {},
        )
        .unwrap_err()
        .to_string()
    };
    let e = error(&["peak_yy"]);
    assert!(e.contains("did you mean `peak_y`?"), "{e}");
    let e = error(&["zz@1"]);
    assert!(
        e.contains("`zz` is not an indicator") && e.contains("did you mean `z`?"),
        "{e}"
    );
    let e = error(&["z@7"]);
    assert!(
        e.contains("`7` is not a time") && e.contains("0 to 1"),
        "{e}"
    );
    let e = sensitivity::run(
        &prepared,
        None,
        &settings(
            Method::Morris {
                trajectories: 10,
                levels: 3,
            },
            &[],
        ),
        &|| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("levels must be an even number"), "{e}");
}

/// A posterior's parameters vary together as one factor, `calibrated parameters (posterior draw)`:
/// an output they determine gets all of its variance, one they do not
/// touch none.
#[test]
fn a_posterior_is_one_factor() {
    use carecascade_engine::calibrate::{Basis, Draw, Posterior};
    let dir = std::env::temp_dir().join(format!(
        "carecascade-sensitivity-posterior-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ishigami.toml"), MODEL).unwrap();
    let posterior = Posterior {
        parameters: vec!["gain".into(), "x3".into()],
        scales: vec![],
        draws: (0..5)
            .map(|k| Draw {
                values: vec![k as f64, 2.0],
                scales: vec![],
                log_posterior: -1.0,
            })
            .collect(),
        converged: true,
        notes: vec![],
        priors: vec![("uniform".into(), Basis::Assumption, None); 2],
    };
    std::fs::write(dir.join("post.csv"), posterior.to_csv()).unwrap();
    let text = format!(
        r#"
model = "ishigami.toml"
[time]
horizon = 1
[report]
indicators = ["z", "d"]
[report.scalars.peak_z]
variable = "z"
reduce = "max"
[report.scalars.peak_d]
variable = "d"
reduce = "max"
[uncertain.x1]
distribution = "uniform"
min = {lo}
max = {hi}
[posterior]
file = "post.csv"
"#,
        lo = -PI,
        hi = PI
    );
    std::fs::write(dir.join("s.toml"), text).unwrap();
    std::fs::write(
        dir.join("alt.toml"),
        "extends = \"s.toml\"\n[scenario]\nname = \"alt\"\n",
    )
    .unwrap();
    // The base is named by a path relative to the working directory, the
    // alternative by an absolute one, as `carecascade sensitivity
    // scenarios/alt.toml --against scenarios/base.toml` does: the same
    // posterior file reached by two spellings of its path is still one
    // factor, and a paired difference takes the same draw in both.
    let cwd = std::env::current_dir().unwrap();
    let up: std::path::PathBuf = cwd.components().skip(1).map(|_| "..").collect();
    let relative = up.join(dir.strip_prefix("/").unwrap());
    let prepared = Scenario::load(relative.join("s.toml"))
        .unwrap()
        .prepare()
        .unwrap();
    let alt = Scenario::load(dir.join("alt.toml"))
        .unwrap()
        .prepare()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let paired = sensitivity::run(
        &alt,
        Some(&prepared),
        &settings(
            Method::Morris {
                trajectories: 20,
                levels: 4,
            },
            &[],
        ),
        &|| {},
    )
    .unwrap();
    let names: Vec<&str> = paired.factors.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["x1", "calibrated parameters (posterior draw)"]);
    let d = paired.output("peak_d").unwrap();
    assert_eq!((d.mean, d.sd), (0.0, 0.0), "the same draw in both");
    let analysis = sensitivity::run(
        &prepared,
        None,
        &settings(Method::Sobol { samples: 256 }, &[]),
        &|| {},
    )
    .unwrap();
    let names: Vec<&str> = analysis.factors.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["x1", "calibrated parameters (posterior draw)"]);
    assert!(
        analysis.factors[1]
            .distribution
            .contains("one of 5 draws of 2")
    );
    // d = gain x 2: the posterior's draw decides it.
    let d = analysis.output("peak_d").unwrap();
    assert_eq!(d.sobol[0].total.value, 0.0);
    let st = d.sobol[1].total;
    assert!(
        (st.value - 1.0).abs() < 0.05 && st.low <= 1.0 && 1.0 <= st.high,
        "{st:?}"
    );
    // Every draw is used about equally often.
    assert!((d.mean - 4.0).abs() < 0.05, "{}", d.mean);
    let z = analysis.output("peak_z").unwrap();
    assert_eq!(z.sobol[1].total.value, 0.0);
}
