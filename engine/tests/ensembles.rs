//! Ensembles, comparisons and shards of models that know nothing of
//! children's social care (the SIR and teacup models of the conformance
//! suite), through the engine's public API only.

use carecascade_engine::ensemble::{
    Outcome, RunOptions, Sample, Sampler, Shard, WINDOW, merge, run_scenarios,
    run_scenarios_on_disk,
};
use carecascade_engine::scenario::{Prepared, Scenario};
use carecascade_engine::{Error, Program};
use std::path::Path;

fn tests_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn scenario(text: &str, name: &str) -> Scenario {
    let mut s = Scenario::parse(text, name).unwrap();
    s.set_base_dir(tests_dir());
    s
}

/// The SIR epidemic over 40 days, with an uncertain contact rate; the
/// number infectious at the end of each day, new infections per day, and
/// the peak.
const SIR: &str = r#"
model = "conformance/SIR/SIR.xmile"
[scenario]
name = "no distancing"
question = "How large is the peak?"
[time]
horizon = 40
label = "day"
[monte_carlo]
runs = 21
seed = 11
[uncertain."Contact Infectivity"]
distribution = "uniform"
min = 0.25
max = 0.45
[outputs.new_infections]
variable = "Succumbing"
[report]
indicators = ["Infectious", "new_infections"]
[report.scalars.peak_infectious]
variable = "Infectious"
reduce = "max"
[report.scalars.infections]
indicator = "new_infections"
reduce = "sum"
[compare]
cumulative = ["new_infections"]
"#;

/// The same with a quarter fewer contacts from day 10.
fn distancing() -> String {
    SIR.replace("name = \"no distancing\"", "name = \"distancing\"")
        + "[[policies]]\nparameter = \"Contact Infectivity\"\nkind = \"step\"\neffect = \"multiply\"\nstart = 10\nvalue = -0.25\n"
}

fn run(prepared: &[Prepared]) -> Outcome {
    run_scenarios(prepared, &RunOptions::default()).unwrap()
}

/// Every run of the ensemble is exactly the model run on its own with the
/// run's draw: the ensemble adds nothing and loses nothing.
#[test]
fn each_run_of_an_sir_ensemble_is_the_model_run_with_its_draw() {
    let prepared = scenario(SIR, "sir.toml").prepare().unwrap();
    assert_eq!(
        prepared.indicators(),
        ["Infectious", "new_infections"],
        "the reported indicators, in order"
    );
    let outcome = run(std::slice::from_ref(&prepared));
    let e = &outcome.ensembles[0];
    assert_eq!(e.label, "day");
    assert_eq!(e.periods.len(), 41);
    assert_eq!(e.scalars, ["peak_infectious", "infections"]);
    let model =
        carecascade_engine::format::load_model(tests_dir().join("conformance/SIR/SIR.xmile"))
            .unwrap();
    let program = Program::compile(&model).unwrap();
    for r in [0, 7, 20] {
        let run = &e.runs[r];
        let mut state = program.state();
        state.set("contact infectivity", run.draws[0]).unwrap();
        let time = state.time().with_stop(40.0).unwrap();
        state.set_time(time);
        let results = state.run().unwrap();
        let infectious = results.series("infectious").unwrap();
        let dt = results.time_settings().dt();
        let per_day = (1.0 / dt).round() as usize;
        for day in [0usize, 1, 17, 40] {
            assert_eq!(
                run.values[0][day],
                infectious[day * per_day],
                "run {r} day {day}"
            );
        }
        // New infections on day 17: Succumbing summed over its steps x dt.
        let succumbing = results.series("succumbing").unwrap();
        let day17: f64 = (16 * per_day..17 * per_day)
            .map(|i| succumbing[i])
            .sum::<f64>()
            * dt;
        assert_eq!(run.values[1][17], day17);
        assert!(run.values[1][0].is_nan(), "no flow before the start");
        let peak = infectious.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(run.scalars[0], peak, "the peak over every step");
        // Conservation: what left the susceptible went somewhere.
        let infections: f64 = run.values[1][1..].iter().sum();
        assert_eq!(run.scalars[1], infections);
        let s = results.series("susceptible").unwrap();
        let drop = s[0] - s[40 * per_day];
        assert!(
            (infections - drop).abs() < 1e-6 * drop,
            "{infections} vs {drop}"
        );
    }
    // Higher contact rates give higher peaks, run by run.
    let mut by_draw: Vec<(f64, f64)> = e.runs.iter().map(|r| (r.draws[0], r.scalars[0])).collect();
    by_draw.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(by_draw.windows(2).all(|w| w[1].1 >= w[0].1), "{by_draw:?}");
    // The query API.
    let median = outcome
        .quantile("no distancing", "Infectious", 20, 0.5)
        .unwrap();
    assert_eq!(
        median,
        Sample::new(e.values("Infectious", 20).unwrap())
            .quantile(0.5)
            .unwrap()
    );
    let err = outcome
        .quantile("no distancing", "Infected", 20, 0.5)
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean `Infectious`?"), "{err}");
    assert!(
        outcome
            .quantile("no distancing", "Infectious", 41, 0.5)
            .is_err()
    );
    assert!(
        outcome
            .quantile("no distancing", "Infectious", 20, 1.5)
            .is_err()
    );
}

/// A paired comparison on common random numbers: distancing lowers the
/// peak in every run, and the paired differences are exact differences of
/// the two ensembles' runs.
#[test]
fn distancing_compared_with_no_distancing_run_by_run() {
    let base = scenario(SIR, "sir.toml").prepare().unwrap();
    let alt = scenario(&distancing(), "distancing.toml")
        .prepare()
        .unwrap();
    let outcome = run(&[base, alt]);
    let (b, a) = (&outcome.ensembles[0], &outcome.ensembles[1]);
    for (rb, ra) in b.runs.iter().zip(&a.runs) {
        assert_eq!(rb.draws, ra.draws, "common random numbers");
        assert!(
            ra.scalars[0] < rb.scalars[0],
            "a lower peak in run {}",
            rb.run
        );
        // Identical until the policy starts on day 10.
        assert_eq!(rb.values[0][..=10], ra.values[0][..=10]);
    }
    let diff = outcome
        .paired_difference("no distancing", "distancing", "new_infections", 30)
        .unwrap();
    assert_eq!(diff.len(), 21);
    let c = &outcome.comparisons()[0];
    assert!(
        c.never_breaks_even.is_none() && c.break_even.is_empty(),
        "no cost"
    );
    let day30 = &c.periods[29];
    assert_eq!(day30.period, 30.0);
    let cumulative = &day30.cumulative["new_infections"];
    let expected: Vec<f64> = (0..21)
        .map(|r| {
            (1..=30)
                .map(|d| a.runs[r].values[1][d] - b.runs[r].values[1][d])
                .sum()
        })
        .collect();
    let expected = Sample::new(expected);
    assert_eq!(cumulative.n, 21);
    for (q, v) in outcome.quantiles.iter().zip(&cumulative.quantiles) {
        let e = expected.quantile(*q).unwrap();
        assert!(
            (v - e).abs() <= 1e-9 * e.abs().max(1.0),
            "q {q}: {v} vs {e}"
        );
    }
    assert!(
        cumulative.quantiles.iter().all(|v| *v < 0.0),
        "fewer infections by day 30"
    );
    // The files: quantiles.csv has the period column named by the scenario.
    let csv = outcome.quantiles_csv();
    assert!(
        csv.starts_with("scenario,indicator,day,n,mean,p5,"),
        "{csv}"
    );
    assert!(csv.contains("\ndistancing - no distancing,new_infections,30,21,"));
    let runs = outcome.runs_csv();
    assert!(runs.starts_with("scenario,run,Contact Infectivity,peak_infectious,infections\n"));
}

/// Shards merge into exactly the whole ensemble, whatever the number of
/// shards; a missing shard is named.
#[test]
fn shards_of_a_teacup_ensemble_merge_into_the_whole() {
    let text = r#"
model = "conformance/teacup/teacup.xmile"
[time]
horizon = 30
[monte_carlo]
runs = 13
sampling = "latin_hypercube"
[uncertain."Characteristic Time"]
distribution = "triangular"
min = 5
mode = 10
max = 20
[uncertain."Room Temperature"]
distribution = "normal"
mean = 70
sd = 3
[report]
indicators = ["Teacup Temperature", "Heat Loss to Room"]
[report.scalars.final_temperature]
indicator = "Teacup Temperature"
reduce = "final"
"#;
    let prepared = scenario(text, "teacup.toml").prepare().unwrap();
    let whole = run(std::slice::from_ref(&prepared));
    for count in [2, 5, 13] {
        let parts: Vec<Outcome> = (0..count)
            .map(|i| {
                run_scenarios(
                    std::slice::from_ref(&prepared),
                    &RunOptions {
                        shard: Some(Shard::new(i, count).unwrap()),
                        progress: None,
                    },
                )
                .unwrap()
            })
            .collect();
        // Through JSON, as shards on other machines would send them.
        let parts: Vec<Outcome> = parts
            .iter()
            .map(|p| serde_json::from_str(&serde_json::to_string(p).unwrap()).unwrap())
            .collect();
        let merged = merge(parts.clone()).unwrap();
        // (Compared as JSON: the starting row's sums are NaN, and NaN is
        // not equal to itself.)
        assert_eq!(
            serde_json::to_string(&merged).unwrap(),
            serde_json::to_string(&whole).unwrap(),
            "{count} shards"
        );
        assert_eq!(merged.quantiles_csv(), whole.quantiles_csv());
        // A partial result edited by hand is refused, not a panic.
        let mut edited = parts.clone();
        edited[0].ensembles[0].runs[0].values =
            carecascade_engine::ensemble::PeriodValues::from_rows(vec![vec![1.0]]).unwrap();
        let err = merge(edited).unwrap_err().to_string();
        assert!(err.contains("not a consistent partial result"), "{err}");
        if count > 2 {
            let mut missing = parts;
            missing.remove(1);
            let err = merge(missing).unwrap_err().to_string();
            assert!(err.contains(&format!("missing: 2/{count}")), "{err}");
        }
    }
    // The teacup cools toward the room: every run ends between the room
    // temperature and its starting 180 degrees.
    let e = &whole.ensembles[0];
    for r in &e.runs {
        let (room, end) = (r.draws[1], r.scalars[0]);
        assert!(end > room && end < 180.0, "{room} {end}");
    }
    // Latin hypercube: one draw in each of the 13 strata of each parameter.
    let sampler = Sampler::new(&prepared, 13).unwrap();
    let d = prepared.uncertain()[0].2;
    let mut strata: Vec<usize> = (0..13)
        .map(|r| {
            let x = sampler.draws(r).unwrap()[0];
            // The triangular CDF on [5, 20] with mode 10.
            let cdf = if x <= 10.0 {
                (x - 5.0).powi(2) / (15.0 * 5.0)
            } else {
                1.0 - (20.0 - x).powi(2) / (15.0 * 10.0)
            };
            (cdf * 13.0) as usize
        })
        .collect();
    strata.sort();
    assert_eq!(strata, (0..13).collect::<Vec<_>>(), "{d:?}");
}

/// A run that goes wrong is reported with the scenario, the run, its draws
/// and the original error, which is kept.
#[test]
fn a_failed_run_keeps_its_scenario_run_draws_and_cause() {
    let text = r#"
model = "conformance/teacup/teacup.xmile"
[time]
horizon = 5
[monte_carlo]
runs = 3
[parameters]
"Characteristic Time" = 0
[uncertain."Room Temperature"]
distribution = "uniform"
min = 60
max = 80
"#;
    let prepared = scenario(text, "broken.toml").prepare().unwrap();
    let err = run_scenarios(std::slice::from_ref(&prepared), &RunOptions::default()).unwrap_err();
    match &err {
        Error::Run {
            scenario,
            run,
            draws,
            source,
        } => {
            assert_eq!((scenario.as_str(), *run), ("broken", 0));
            assert_eq!(draws[0].0, "Room Temperature");
            assert!(draws[0].1 > 60.0 && draws[0].1 < 80.0);
            assert!(matches!(**source, Error::NonFinite { .. }), "{source}");
        }
        other => panic!("expected a run error, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("scenario `broken`, run 0") && text.contains("(draws: Room Temperature = "),
        "{text}"
    );
    // Nothing to run is an error, not a panic.
    assert!(run_scenarios(&[], &RunOptions::default()).is_err());
}

/// Runs kept on disk ([`run_scenarios_on_disk`], a window of runs at a
/// time, with Latin hypercube strata read a window at a time) give exactly
/// the files, table, comparisons and queries of runs kept in memory: one
/// scenario and a comparison with a discounted cost and break-even, over
/// windows of which the last ends inside a batch.
#[test]
fn runs_kept_on_disk_give_the_same_files_as_runs_in_memory() {
    let runs = 2 * WINDOW + 12;
    let with = |text: &str, sampling: &str| {
        text.replace(
            "runs = 21",
            &format!("runs = {runs}\nsampling = \"{sampling}\""),
        )
        .replace(
            "cumulative = [\"new_infections\"]",
            "cost = \"new_infections\"\ndiscount_rate = 0.2\ncumulative = [\"new_infections\"]",
        )
    };
    let mut cases: Vec<Vec<Prepared>> = Vec::new();
    for sampling in ["random", "latin_hypercube"] {
        let base = || {
            scenario(&with(SIR, sampling), "sir.toml")
                .prepare()
                .unwrap()
        };
        let alt = scenario(&with(&distancing(), sampling), "distancing.toml")
            .prepare()
            .unwrap();
        cases.push(vec![base()]);
        cases.push(vec![base(), alt]);
    }
    for prepared in cases {
        let memory = run(&prepared);
        let disk = run_scenarios_on_disk(&prepared, &RunOptions::default()).unwrap();
        for (m, d) in memory.ensembles.iter().zip(&disk.ensembles) {
            assert!(d.on_disk() && !m.on_disk() && d.runs.is_empty());
            assert_eq!((d.run_count(), m.run_count()), (runs, runs));
            assert_eq!(d.column(1, 30), m.column(1, 30));
            assert_eq!(
                d.scalar("infections").unwrap(),
                m.scalar("infections").unwrap()
            );
        }
        assert_eq!(disk.quantiles_csv(), memory.quantiles_csv());
        assert_eq!(disk.runs_csv(), memory.runs_csv());
        assert_eq!(disk.summary_json(), memory.summary_json());
        assert_eq!(disk.table(), memory.table());
        assert_eq!(disk.comparisons(), memory.comparisons());
        let (dm, dd) = (scratch("in-memory"), scratch("on-disk"));
        let written = memory.write(&dm.join("out")).unwrap();
        // Named in the set's order (runs.csv is written first, while the
        // summaries are computed).
        let names: Vec<_> = written.iter().filter_map(|p| p.file_name()).collect();
        assert_eq!(names, ["summary.json", "quantiles.csv", "runs.csv"]);
        disk.write(&dd.join("out")).unwrap();
        assert_eq!(files_under(&dd), files_under(&dm));
        let _ = (std::fs::remove_dir_all(dm), std::fs::remove_dir_all(dd));
        if prepared.len() == 2 {
            // With a cost: the shares breaking even in each period and
            // never add up to 1.
            let c = &disk.comparisons()[0];
            let shares: f64 =
                c.break_even.iter().map(|(_, p)| p).sum::<f64>() + c.never_breaks_even.unwrap();
            assert!((shares - 1.0).abs() < 1e-9, "{shares}");
        }
    }
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("carecascade-engine-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Several ensembles in one plan, split over shards as one list of runs:
/// the merged folders are byte-identical to the unsharded plan's, each
/// piece's to running it alone, and pieces that fail (their model cannot be
/// made, or their runs fail) are skipped and named the same way however the
/// plan is split.
#[test]
fn a_plan_of_several_ensembles_splits_over_shards_and_merges_into_the_whole() {
    use carecascade_engine::ensemble::{Piece, PieceStatus, Plan, merge_plan, plan_partials};
    let teacup = r#"
model = "conformance/teacup/teacup.xmile"
[scenario]
name = "NAME"
[time]
horizon = 20
[monte_carlo]
runs = RUNS
seed = 5
[uncertain."Room Temperature"]
distribution = "normal"
mean = 70
sd = 3
[report]
indicators = ["Teacup Temperature"]
"#;
    let text = |name: &str, runs: usize, extra: &str| {
        teacup
            .replace("NAME", name)
            .replace("RUNS", &runs.to_string())
            + extra
    };
    // cool (11 runs), broken (every run fails: no characteristic time),
    // unmade (its model cannot be made), hot (a comparison of two).
    let cool = text("cool", 11, "");
    let broken = text("broken", 6, "[parameters]\n\"Characteristic Time\" = 0\n");
    let hot = text("hot", 7, "");
    let hotter = text("hotter", 7, "[parameters]\n\"Room Temperature\" = 90\n");
    let prepare = |k: usize| -> carecascade_engine::Result<Vec<Prepared>> {
        match k {
            0 => Ok(vec![scenario(&cool, "cool.toml").prepare()?]),
            1 => Ok(vec![scenario(&broken, "broken.toml").prepare()?]),
            2 => Err(Error::Invalid {
                what: "model of unmade".into(),
                message: "cannot be made".into(),
            }),
            _ => Ok(vec![
                scenario(&hot, "hot.toml").prepare()?,
                scenario(&hotter, "hotter.toml").prepare()?,
            ]),
        }
    };
    let plan = Plan::new(
        vec!["what".into()],
        vec![
            Piece::new("cool", 11, vec!["a run".into()]),
            Piece::new("broken", 6, vec!["failing runs".into()]),
            Piece::new("unmade", 5, vec!["no model".into()]),
            Piece::new("hot/compare", 7, vec!["a comparison".into()]),
        ],
    )
    .unwrap();
    let dir = scratch("plan");
    let whole = dir.join("whole");
    let report = plan.run(None, &whole, &mut |k| prepare(k), &|| {}).unwrap();
    let statuses: Vec<bool> = report
        .pieces
        .iter()
        .map(|(_, _, s)| *s == PieceStatus::Done)
        .collect();
    assert_eq!(statuses, [true, false, false, true]);
    let failures = report.failures();
    assert_eq!(failures[0].0, "broken");
    assert!(
        failures[0].1.contains("scenario `broken`, run 0"),
        "{}",
        failures[0].1
    );
    assert_eq!(
        failures[1],
        ("unmade", "invalid model of unmade: cannot be made")
    );
    let files: Vec<String> = files_under(&whole).into_iter().map(|f| f.0).collect();
    assert_eq!(
        files,
        [
            "cool/quantiles.csv",
            "cool/runs.csv",
            "cool/summary.json",
            "hot/compare/quantiles.csv",
            "hot/compare/runs.csv",
            "hot/compare/summary.json",
            "index.csv",
            "quantiles.csv"
        ]
    );
    let index = std::fs::read_to_string(whole.join("index.csv")).unwrap();
    let rows: Vec<&str> = index.lines().collect();
    assert_eq!(rows[0], "piece,what,runs,status,message");
    assert_eq!(rows[1], "cool,a run,11,done,");
    assert!(
        rows[2].starts_with("broken,failing runs,6,failed,\"scenario `broken`, run 0: `Heat Loss to Room` became inf"),
        "{index}"
    );
    assert_eq!(
        rows[3],
        "unmade,no model,5,failed,invalid model of unmade: cannot be made"
    );
    assert_eq!(rows[4], "hot/compare,a comparison,7,done,");
    // Each piece as if run alone.
    for (folder, prepared) in [
        ("cool", prepare(0).unwrap()),
        ("hot/compare", prepare(3).unwrap()),
    ] {
        let alone = dir.join(format!("alone-{}", folder.replace('/', "-")));
        run(&prepared).write(&alone).unwrap();
        assert_eq!(
            files_under(&alone),
            files_under(&whole.join(folder)),
            "{folder}"
        );
    }
    // The combined table: every done piece's rows, the piece in front.
    let combined = std::fs::read_to_string(whole.join("quantiles.csv")).unwrap();
    let own = std::fs::read_to_string(whole.join("hot/compare/quantiles.csv")).unwrap();
    assert!(
        combined.starts_with("piece,what,scenario,indicator,time,n,mean,p5,"),
        "{combined:.80}"
    );
    for line in own.lines().skip(1) {
        assert!(
            combined.contains(&format!("hot/compare,a comparison,{line}\n")),
            "{line}"
        );
    }

    // In 1, 3 and 7 shards (a piece over several shards, a shard over
    // several pieces), merged: the same files.
    for count in [1, 3, 7] {
        let parts = dir.join(format!("parts-{count}"));
        for i in 0..count {
            let shard = Shard::new(i, count).unwrap();
            plan.run(Some(shard), &parts, &mut |k| prepare(k), &|| {})
                .unwrap();
        }
        let merged = dir.join(format!("merged-{count}"));
        let folders = plan_partials(std::slice::from_ref(&parts)).unwrap();
        assert_eq!(folders.len(), count);
        let report = merge_plan(&folders, &merged).unwrap();
        assert_eq!(report.failures().len(), 2);
        assert_eq!(files_under(&merged), files_under(&whole), "{count} shards");
    }

    // A retried shard's identical copy counts once; a copy that differs is
    // refused; a missing shard is named; shards of another plan are refused.
    let parts = dir.join("parts-3");
    let copy = dir.join("copy");
    std::fs::create_dir_all(copy.join("partial-2-of-3")).unwrap();
    for (name, bytes) in files_under(&parts.join("partial-2-of-3")) {
        std::fs::write(copy.join("partial-2-of-3").join(name), bytes).unwrap();
    }
    let mut folders = plan_partials(std::slice::from_ref(&parts)).unwrap();
    folders.push(copy.join("partial-2-of-3"));
    let merged = dir.join("merged-again");
    merge_plan(&folders, &merged).unwrap();
    assert_eq!(files_under(&merged), files_under(&whole));
    // (Shard 2 of 3 holds the end of `cool`, piece 1.)
    let piece = copy.join("partial-2-of-3/piece-1.json");
    let text = std::fs::read_to_string(&piece).unwrap();
    assert!(text.contains("\"seed\":5"));
    std::fs::write(&piece, text.replacen("\"seed\":5", "\"seed\":6", 1)).unwrap();
    let err = merge_plan(&folders, &merged).unwrap_err().to_string();
    assert!(
        err.contains("shard 2/3 was given twice with different results"),
        "{err}"
    );
    folders.pop();
    folders.remove(1);
    let err = merge_plan(&folders, &merged).unwrap_err().to_string();
    assert!(err.contains("missing: 2/3 (rerun just those)"), "{err}");
    // A folder of a plan's shards and of one ensemble's partial results.
    std::fs::write(parts.join("partial-1-of-2.json"), "{}").unwrap();
    let err = plan_partials(std::slice::from_ref(&parts))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("holds a partial result of one ensemble")
            && err.contains("partial-1-of-2.json"),
        "{err}"
    );
    let other = Plan::new(
        vec!["what".into()],
        vec![Piece::new("cool", 12, vec!["a run".into()])],
    )
    .unwrap();
    let others = dir.join("others");
    // (A plan whose runs are not its scenarios' is refused before running.)
    let err = other
        .run(
            Some(Shard::new(1, 3).unwrap()),
            &others,
            &mut |k| prepare(k),
            &|| {},
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("piece `cool`: has 12 runs in the plan but its scenarios have 11"),
        "{err}"
    );
    let text = std::fs::read_to_string(parts.join("partial-2-of-3/plan.json")).unwrap();
    std::fs::create_dir_all(others.join("partial-2-of-3")).unwrap();
    std::fs::write(
        others.join("partial-2-of-3/plan.json"),
        text.replacen("\"runs\":11", "\"runs\":12", 1),
    )
    .unwrap();
    folders.insert(1, others.join("partial-2-of-3"));
    let err = merge_plan(&folders, &merged).unwrap_err().to_string();
    assert!(
        err.contains("come from different submissions: piece 1 is `cool` (11 runs) in one and `cool` (12 runs)"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_plan_checks_its_pieces() {
    use carecascade_engine::ensemble::{Piece, Plan};
    let piece = |folder: &str| Piece::new(folder, 10, vec![]);
    let err = |pieces: Vec<Piece>| Plan::new(vec![], pieces).unwrap_err().to_string();
    assert!(err(vec![]).contains("has no pieces"));
    for bad in ["", "../up", "a//b", ".hidden", "a b", "index.csv", "/abs"] {
        assert!(
            err(vec![piece(bad)]).contains("must be a relative path"),
            "{bad}"
        );
    }
    assert!(err(vec![piece("a"), piece("a")]).contains("would share a folder"));
    assert!(err(vec![piece("a"), piece("a/b")]).contains("would share a folder"));
    assert!(err(vec![Piece::new("a", 0, vec![])]).contains("has 0 runs"));
    assert!(
        Plan::new(
            vec!["scenario".into()],
            vec![Piece::new("a", 1, vec!["x".into()])]
        )
        .unwrap_err()
        .to_string()
        .contains("column `scenario` is repeated or reserved")
    );
    assert!(
        Plan::new(vec!["x".into()], vec![piece("a")])
            .unwrap_err()
            .to_string()
            .contains("has 0 labels for 1 columns")
    );
    // Shards cover every run of every piece once, in order; one piece
    // splits exactly as Shard::runs does.
    let plan = Plan::new(
        vec![],
        vec![piece("a"), Piece::new("b", 3, vec![]), piece("c")],
    )
    .unwrap();
    for count in 1..=25 {
        let mut seen: Vec<(usize, usize)> = Vec::new();
        for i in 0..count {
            for (k, runs) in plan.assignment(Some(Shard::new(i, count).unwrap())) {
                seen.extend(runs.map(|r| (k, r)));
            }
        }
        let all: Vec<(usize, usize)> = plan
            .assignment(None)
            .into_iter()
            .flat_map(|(k, runs)| runs.map(move |r| (k, r)))
            .collect();
        assert_eq!(seen, all, "{count} shards");
        assert_eq!(all.len(), 23);
    }
    let one = Plan::new(vec![], vec![Piece::new("a", 1000, vec![])]).unwrap();
    for count in [1, 3, 7, 1000] {
        for i in 0..count {
            let shard = Shard::new(i, count).unwrap();
            let runs = shard.runs(1000);
            let expected = if runs.is_empty() {
                vec![]
            } else {
                vec![(0, runs)]
            };
            assert_eq!(one.assignment(Some(shard)), expected);
        }
    }
}
