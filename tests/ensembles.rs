//! Ensembles of the England model: reproducibility across threads and
//! shards through the command line, common random numbers, and the shipped
//! scenarios. (The engine's own tests run ensembles of models that know
//! nothing of children's social care.)

/// Scenario files read with the England model and its profile.
fn load(path: impl AsRef<Path>) -> carecascade::Result<Scenario> {
    Scenario::load_with(path, &carecascade::library())
}

fn parse(text: &str, name: &str) -> carecascade::Result<Scenario> {
    Scenario::parse_with(text, name, &carecascade::library())
}

fn run(
    prepared: &[carecascade::engine::scenario::Prepared],
) -> carecascade::engine::ensemble::Outcome {
    run_scenarios(prepared, &RunOptions::default()).unwrap()
}

use carecascade::engine::ensemble::{RunOptions, Stats, draws, run_scenarios};
use carecascade::engine::scenario::Scenario;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A small ensemble: 20 runs over 3 years, sharing a base file. 20 is not a
/// multiple of the batch width, so one run in full mixes batched and single
/// runs while the shards (6, 7 and 7 runs) run singly: merging them checks
/// that batches give exactly what single runs give.
const BASE: &str = r#"
model = "england"
[scenario]
name = "base"
[time]
start = 2023
horizon = 3
[monte_carlo]
runs = 20
seed = 7
sampling = "latin_hypercube"
[uncertain."early help effect at maturity"]
distribution = "pert"
min = 0
mode = 0.32
max = 0.5
[uncertain."weekly placement cost[childrens home]"]
distribution = "triangular"
min = 4500
mode = 5600
max = 8000
[uncertain."detection fraction"]
distribution = "uniform"
min = 0
max = 0.08
[report]
indicators = ["cla_at_31_march", "spend_total_m"]
"#;

const ALT: &str = r#"
extends = "base.toml"
[scenario]
name = "alt"
[parameters]
"kinship shift" = 0.2
"#;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "carecascade-ensembles-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("base.toml"), BASE).unwrap();
    std::fs::write(d.join("alt.toml"), ALT).unwrap();
    d
}

fn cli(args: &[&str], threads: usize) {
    let out = Command::new(env!("CARGO_BIN_EXE_carecascade"))
        .args(args)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts that two result directories hold byte-identical files, showing
/// the first line that differs.
fn assert_same_files(a: &Path, b: &Path, what: &str) {
    for f in ["summary.json", "quantiles.csv", "runs.csv"] {
        let (x, y) = (
            std::fs::read_to_string(a.join(f)).unwrap(),
            std::fs::read_to_string(b.join(f)).unwrap(),
        );
        if x != y {
            let (n, (l, m)) = x
                .lines()
                .zip(y.lines())
                .enumerate()
                .find(|(_, (l, m))| l != m)
                .unwrap_or((0, ("", "")));
            panic!("{what}: {f} differs at line {}:\n{l}\n{m}", n + 1);
        }
    }
}

#[test]
fn the_same_seed_gives_identical_files_on_one_or_two_threads_and_in_shards() {
    let d = dir("repro");
    let (base, alt) = (d.join("base.toml"), d.join("alt.toml"));
    let (base, alt) = (base.to_str().unwrap(), alt.to_str().unwrap());
    let one = d.join("one");
    let two = d.join("two");
    cli(
        &["compare", base, alt, "--output", one.to_str().unwrap()],
        1,
    );
    cli(
        &["compare", base, alt, "--output", two.to_str().unwrap()],
        2,
    );
    assert_same_files(&one, &two, "1 thread and 2 threads");

    // Three shards on "three machines", merged.
    let shards = d.join("shards");
    for i in 1..=3 {
        cli(
            &[
                "compare",
                base,
                alt,
                "--shard",
                &format!("{i}/3"),
                "--output",
                shards.to_str().unwrap(),
            ],
            2,
        );
    }
    let merged = d.join("merged");
    let partials: Vec<String> = (1..=3)
        .map(|i| {
            shards
                .join(format!("partial-{i}-of-3.json"))
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec!["merge"];
    args.extend(partials.iter().map(String::as_str));
    args.extend(["--output", merged.to_str().unwrap()]);
    cli(&args, 1);
    assert_same_files(&one, &merged, "merged shards and one run");

    // A missing shard is refused, naming it.
    let out = Command::new(env!("CARGO_BIN_EXE_carecascade"))
        .args([
            "merge",
            &partials[0],
            &partials[2],
            "--output",
            merged.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing: 2/3"), "{err}");

    // The outputs record how they were made.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(one.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seed"], 7);
    assert_eq!(summary["runs"], 20);
    assert_eq!(summary["sampling"], "latin_hypercube");
    assert!(summary["generator"].as_str().unwrap().contains("ChaCha8"));
    assert_eq!(summary["engine_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(summary["cost"], "spend_total_m");
    assert_eq!(summary["comparisons"][0]["alternative"], "alt");
}

/// Comparing on common random numbers: the paired difference varies far
/// less than with independent draws for the two scenarios.
#[test]
fn common_random_numbers_cut_the_variance_of_a_paired_difference() {
    let d = dir("crn");
    let base = load(d.join("base.toml")).unwrap().prepare().unwrap();
    let alt = load(d.join("alt.toml")).unwrap().prepare().unwrap();
    // The alternative shares every draw with the base, run by run.
    for run in [0, 5, 23] {
        assert_eq!(
            draws(&base, run, 24).unwrap(),
            draws(&alt, run, 24).unwrap()
        );
    }
    let other = load(d.join("alt.toml")).unwrap().with_seed(8);
    let independent = other.prepare().unwrap();

    let spend = |o: &carecascade::engine::ensemble::Outcome, k: usize| -> Vec<f64> {
        let e = &o.ensembles[k];
        let i = e
            .indicators
            .iter()
            .position(|x| x == "spend_total_m")
            .unwrap();
        e.runs.iter().map(|r| r.values[i][3]).collect()
    };
    let paired = run(&[base, alt]);
    let base_again = load(d.join("base.toml")).unwrap().prepare().unwrap();
    let unpaired = run(&[base_again]);
    let independent = run(&[independent]);
    let variance = |v: Vec<f64>| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    let (b, a) = (spend(&paired, 0), spend(&paired, 1));
    let crn = variance(a.iter().zip(&b).map(|(a, b)| a - b).collect());
    let ind = variance(
        spend(&independent, 0)
            .iter()
            .zip(spend(&unpaired, 0))
            .map(|(a, b)| a - b)
            .collect(),
    );
    assert!(
        crn < 0.05 * ind,
        "paired variance {crn} vs independent {ind}"
    );
    // The kinship shift moves children from foster care to cheaper kinship
    // placements, with support: more spend early on here, in every run.
    let s = Stats::of(a.iter().zip(&b).map(|(a, b)| a - b), &[0.05, 0.95]);
    assert!(
        s.quantiles[0] * s.quantiles[1] > 0.0,
        "the sign is certain: {s:?}"
    );
}

/// Every shipped scenario opens with its question, loads, and runs.
#[test]
fn the_shipped_scenarios_load_and_run() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.starts_with("# Question:"),
                "{} must open with its question",
                path.display()
            );
            let s = load(&path).unwrap();
            assert!(!s.question().is_empty());
            assert_eq!(s.horizon(), Some(10));
            let p = s.with_runs(2).unwrap().prepare().unwrap();
            let o = run(&[p]);
            assert_eq!(o.ensembles[0].runs.len(), 2);
            names.push(path.file_stem().unwrap().to_string_lossy().to_string());
        }
    }
    names.sort();
    assert_eq!(
        names,
        [
            "baseline",
            "caseload_cap",
            "early_help_investment",
            "edge_of_care",
            "family_help_reform",
            "kinship_first",
            "prevention_squeeze"
        ]
    );
}

#[test]
fn scenario_mistakes_are_reported_with_file_and_field() {
    let d = dir("errors");
    std::fs::write(d.join("loop.toml"), "extends = \"loop.toml\"\n").unwrap();
    let err = load(d.join("loop.toml")).unwrap_err().to_string();
    assert!(
        err.contains("loop.toml:1:1") && err.contains("cycle"),
        "{err}"
    );
    std::fs::write(
        d.join("bad.toml"),
        "extends = \"base.toml\"\n[monte_carlo]\nrun = 5\n",
    )
    .unwrap();
    let err = load(d.join("bad.toml")).unwrap_err().to_string();
    assert!(
        err.contains("bad.toml:3:1") && err.contains("did you mean `runs`?"),
        "{err}"
    );
    std::fs::write(
        d.join("alt2.toml"),
        "extends = \"base.toml\"\n[uncertain.\"early help efect at maturity\"]\ndistribution = \"uniform\"\nmin = 0\nmax = 1\n",
    )
    .unwrap();
    let err = load(d.join("alt2.toml"))
        .unwrap()
        .prepare()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("alt2.toml:2:1")
            && err.contains("[uncertain]")
            && err.contains("did you mean `early help effect at maturity`?"),
        "{err}"
    );
    // A parameter renamed in the model: the suggestion is the name that
    // differs in one word, not one that shares only the first.
    std::fs::write(
        d.join("old.toml"),
        "extends = \"base.toml\"\n[parameters]\n\"placement price real growth\" = 0.02\n",
    )
    .unwrap();
    let err = load(d.join("old.toml"))
        .unwrap()
        .prepare()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("old.toml:3:1")
            && err.contains("[parameters]")
            && err.contains("did you mean `residential price real growth`?"),
        "{err}"
    );
}

/// Latin hypercube: each parameter has exactly one draw in each of the
/// runs' equally likely strata; random sampling keeps draws independent of
/// what else a scenario draws.
#[test]
fn latin_hypercube_draws_one_value_per_stratum() {
    let text = "[monte_carlo]\nruns = 50\nsampling = \"latin_hypercube\"\n[uncertain.\"detection fraction\"]\ndistribution = \"uniform\"\nmin = 0\nmax = 1\n[uncertain.\"maturation time\"]\ndistribution = \"uniform\"\nmin = 0\nmax = 1\n";
    let p = parse(text, "lhs.toml").unwrap().prepare().unwrap();
    let sampler = carecascade::engine::ensemble::Sampler::new(&p, 50).unwrap();
    for k in 0..2 {
        let mut strata: Vec<usize> = (0..50)
            .map(|r| (sampler.draws(r).unwrap()[k] * 50.0) as usize)
            .collect();
        strata.sort();
        assert_eq!(strata, (0..50).collect::<Vec<_>>(), "parameter {k}");
    }
    let random = parse(&text.replace("latin_hypercube", "random"), "r.toml")
        .unwrap()
        .prepare()
        .unwrap();
    let one = parse(
        "[monte_carlo]\nruns = 50\n[uncertain.\"maturation time\"]\ndistribution = \"uniform\"\nmin = 0\nmax = 1\n",
        "one.toml",
    )
    .unwrap()
    .prepare()
    .unwrap();
    for run in [0, 17, 49] {
        assert_eq!(
            draws(&random, run, 50).unwrap()[1],
            draws(&one, run, 50).unwrap()[0]
        );
    }
}

/// Any model runs as an ensemble and a comparison through the command
/// line: the SIR model (XMILE) with an uncertain contact rate, no England
/// model, profile or children's social care indicator involved.
#[test]
fn the_command_line_runs_and_compares_ensembles_of_any_model() {
    let d = dir("sir");
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/tests/conformance/SIR/SIR.xmile");
    let base = format!(
        r#"model = {:?}
[scenario]
name = "open"
[time]
horizon = 30
label = "day"
[monte_carlo]
runs = 12
seed = 3
[uncertain."Contact Infectivity"]
distribution = "uniform"
min = 0.25
max = 0.45
[report]
indicators = ["Infectious", "Succumbing"]
[report.scalars.peak]
variable = "Infectious"
reduce = "max"
"#,
        model.display().to_string()
    );
    std::fs::write(d.join("open.toml"), &base).unwrap();
    std::fs::write(
        d.join("closed.toml"),
        "extends = \"open.toml\"\n[scenario]\nname = \"closed\"\n[[policies]]\nparameter = \"Contact Infectivity\"\nkind = \"step\"\neffect = \"multiply\"\nstart = 5\nvalue = -0.5\n",
    )
    .unwrap();
    let out = d.join("out");
    cli(
        &[
            "compare",
            d.join("open.toml").to_str().unwrap(),
            d.join("closed.toml").to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
        2,
    );
    let quantiles = std::fs::read_to_string(out.join("quantiles.csv")).unwrap();
    assert!(
        quantiles.starts_with("scenario,indicator,day,n,mean,"),
        "{quantiles}"
    );
    assert!(quantiles.contains("\nclosed - open,Infectious,30,12,"));
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    assert!(
        runs.starts_with("scenario,run,Contact Infectivity,peak\n"),
        "{runs}"
    );
    assert_eq!(runs.lines().count(), 1 + 2 * 12);
    // Halving contacts from day 5 lowers the peak in every paired run.
    let peaks: Vec<(String, f64)> = runs
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0].to_string(), cells[3].parse().unwrap())
        })
        .collect();
    for k in 0..12 {
        assert!(peaks[12 + k].1 < peaks[k].1, "run {k}: {peaks:?}");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["scenarios"][0]["period_label"], "day");
    assert!(summary["cost"].is_null());
    // The HTML report speaks of the model's own indicators and periods, and
    // says that no published figures are attached to it.
    let html = d.join("sir.html");
    cli(
        &[
            "report",
            d.join("open.toml").to_str().unwrap(),
            d.join("closed.toml").to_str().unwrap(),
            "--output",
            html.to_str().unwrap(),
        ],
        2,
    );
    let html = std::fs::read_to_string(html).unwrap();
    assert!(html.contains("The model `SIR`, day 0 to 30"), "intro");
    assert!(html.contains("<td>Infectious, day 30</td>"), "key figures");
    assert!(html.contains("No published figures are attached to the model `SIR`"));
    // What drives the difference: the one uncertain parameter, by default.
    assert!(
        html.contains("<h3>closed against open: peak, difference</h3>")
            && html.contains("It depends most on <b>Contact Infectivity</b>"),
        "drivers"
    );
    for care in ["Children looked after", "31 March", "£"] {
        assert!(!html.contains(care), "{care}");
    }
}

/// On a job scheduler: each array task runs `--shard auto` (here Slurm's
/// variables, numbered from 1), a retried task writes its shard again, and
/// `merge DIR` gives exactly what one machine gives.
#[test]
fn scheduler_array_tasks_shard_themselves_and_merge_from_a_folder() {
    let d = dir("auto");
    let base = d.join("base.toml");
    let base = base.to_str().unwrap();
    let parts = d.join("parts");
    let task = |id: usize| {
        let out = Command::new(env!("CARGO_BIN_EXE_carecascade"))
            .args([
                "run",
                base,
                "--shard",
                "auto",
                "--output",
                parts.to_str().unwrap(),
            ])
            .env("SLURM_ARRAY_TASK_ID", id.to_string())
            .env("SLURM_ARRAY_TASK_MIN", "1")
            .env("SLURM_ARRAY_TASK_COUNT", "3")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for id in [1, 2, 3, 2] {
        task(id);
    }
    let merged = d.join("merged");
    cli(
        &[
            "merge",
            parts.to_str().unwrap(),
            "--output",
            merged.to_str().unwrap(),
        ],
        1,
    );
    let whole = d.join("whole");
    cli(&["run", base, "--output", whole.to_str().unwrap()], 2);
    for f in ["quantiles.csv", "runs.csv"] {
        assert_eq!(
            std::fs::read(merged.join(f)).unwrap(),
            std::fs::read(whole.join(f)).unwrap(),
            "{f}"
        );
    }
    // Without a scheduler, auto says what it looked for.
    let out = Command::new(env!("CARGO_BIN_EXE_carecascade"))
        .args([
            "run",
            base,
            "--shard",
            "auto",
            "--output",
            parts.to_str().unwrap(),
        ])
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("SLURM_ARRAY_TASK_ID"),
        "{err}"
    );
}

/// Every job scheduler's array-task variables, removed from the test's own
/// environment (the tests may themselves run in an array job).
const SCHEDULER_VARIABLES: &[&str] = &[
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_ARRAY_TASK_COUNT",
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "AWS_BATCH_JOB_ARRAY_SIZE",
    "BATCH_TASK_INDEX",
    "BATCH_TASK_COUNT",
    "JOB_COMPLETION_INDEX",
    "CARECASCADE_SHARDS",
];

/// Runs the command line as an array task with `vars` set.
fn task(args: &[&str], vars: &[(String, String)]) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_carecascade"));
    command.args(args).env("RAYON_NUM_THREADS", "2");
    for v in SCHEDULER_VARIABLES {
        command.env_remove(v);
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} with {vars:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The variables of array task `k` (from 0) of 4, and extra arguments, in
/// each scheduler's convention.
type Convention = (
    &'static str,
    fn(usize) -> Vec<(String, String)>,
    &'static [&'static str],
);

fn vars(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect()
}

const CONVENTIONS: &[Convention] = &[
    (
        "Slurm --array=1-4",
        |k| {
            vars(&[
                ("SLURM_ARRAY_TASK_ID", (k + 1).to_string()),
                ("SLURM_ARRAY_TASK_MIN", "1".into()),
                ("SLURM_ARRAY_TASK_MAX", "4".into()),
                ("SLURM_ARRAY_TASK_STEP", "1".into()),
                ("SLURM_ARRAY_TASK_COUNT", "4".into()),
            ])
        },
        &[],
    ),
    (
        "Slurm --array=0-3 (no step or maximum set)",
        |k| {
            vars(&[
                ("SLURM_ARRAY_TASK_ID", k.to_string()),
                ("SLURM_ARRAY_TASK_MIN", "0".into()),
                ("SLURM_ARRAY_TASK_COUNT", "4".into()),
            ])
        },
        &[],
    ),
    (
        "Slurm --array=10-16:2",
        |k| {
            vars(&[
                ("SLURM_ARRAY_TASK_ID", (10 + 2 * k).to_string()),
                ("SLURM_ARRAY_TASK_MIN", "10".into()),
                ("SLURM_ARRAY_TASK_MAX", "16".into()),
                ("SLURM_ARRAY_TASK_STEP", "2".into()),
                ("SLURM_ARRAY_TASK_COUNT", "4".into()),
            ])
        },
        &[],
    ),
    (
        "AWS Batch",
        |k| {
            vars(&[
                ("AWS_BATCH_JOB_ARRAY_INDEX", k.to_string()),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "4".into()),
            ])
        },
        &["--shards", "4"],
    ),
    (
        "Google Cloud Batch",
        |k| {
            vars(&[
                ("BATCH_TASK_INDEX", k.to_string()),
                ("BATCH_TASK_COUNT", "4".into()),
            ])
        },
        &[],
    ),
    (
        "Kubernetes with --shards",
        |k| vars(&[("JOB_COMPLETION_INDEX", k.to_string())]),
        &["--shards", "4"],
    ),
    (
        "Kubernetes with CARECASCADE_SHARDS",
        |k| {
            vars(&[
                ("JOB_COMPLETION_INDEX", k.to_string()),
                ("CARECASCADE_SHARDS", "4".into()),
            ])
        },
        &[],
    ),
];

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

/// Array tasks numbered as Slurm (from 1, from 0, with a step), AWS Batch,
/// Google Cloud Batch and Kubernetes number them: four tasks with `--shard
/// auto` merge to exactly the bytes of one unsharded run; and so do the
/// shards of several scenarios at once, piece by piece.
#[test]
fn shards_numbered_by_every_scheduler_merge_to_the_bytes_of_one_run() {
    let d = dir("conventions");
    let (base, alt) = (d.join("base.toml"), d.join("alt.toml"));
    let (base, alt) = (base.to_str().unwrap(), alt.to_str().unwrap());
    let whole = d.join("whole");
    cli(
        &["compare", base, alt, "--output", whole.to_str().unwrap()],
        2,
    );
    for (k, (name, variables, extra)) in CONVENTIONS.iter().enumerate() {
        let parts = d.join(format!("parts-{k}"));
        for task_index in 0..4 {
            let mut args = vec![
                "compare",
                base,
                alt,
                "--shard",
                "auto",
                "--output",
                parts.to_str().unwrap(),
            ];
            args.extend(extra.iter());
            task(&args, &variables(task_index));
        }
        let names: Vec<String> = files_under(&parts).into_iter().map(|f| f.0).collect();
        assert_eq!(
            names,
            (1..=4)
                .map(|i| format!("partial-{i}-of-4.json"))
                .collect::<Vec<_>>(),
            "{name}"
        );
        let merged = d.join(format!("merged-{k}"));
        cli(
            &[
                "merge",
                parts.to_str().unwrap(),
                "--output",
                merged.to_str().unwrap(),
            ],
            1,
        );
        assert_same_files(&whole, &merged, name);
    }

    // Two scenarios, each its own ensemble, in one array of 3 tasks (the
    // second holds the end of one and the start of the other).
    let plan_whole = d.join("plan-whole");
    cli(
        &["run", base, alt, "--output", plan_whole.to_str().unwrap()],
        2,
    );
    let plan_parts = d.join("plan-parts");
    for task_index in 0..3 {
        task(
            &[
                "run",
                base,
                alt,
                "--shard",
                "auto",
                "--output",
                plan_parts.to_str().unwrap(),
            ],
            &vars(&[
                ("AWS_BATCH_JOB_ARRAY_INDEX", task_index.to_string()),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "3".into()),
            ]),
        );
    }
    let plan_merged = d.join("plan-merged");
    cli(
        &[
            "merge",
            plan_parts.to_str().unwrap(),
            "--output",
            plan_merged.to_str().unwrap(),
        ],
        1,
    );
    assert_eq!(files_under(&plan_merged), files_under(&plan_whole));
    for (scenario, folder) in [(base, "base"), (alt, "alt")] {
        let alone = d.join(format!("alone-{folder}"));
        cli(&["run", scenario, "--output", alone.to_str().unwrap()], 2);
        assert_same_files(&alone, &plan_whole.join(folder), folder);
    }
    let index = std::fs::read_to_string(plan_whole.join("index.csv")).unwrap();
    assert_eq!(
        index,
        "piece,scenarios,runs,status,message\nbase,base,20,done,\nalt,alt,20,done,\n"
    );
    // A retried task's identical copy counts once; a lost one is named; the
    // shards of one ensemble and of a plan are not merged together.
    let copy = d.join("copy");
    std::fs::create_dir_all(copy.join("partial-2-of-3")).unwrap();
    for (name, bytes) in files_under(&plan_parts.join("partial-2-of-3")) {
        std::fs::write(copy.join("partial-2-of-3").join(name), bytes).unwrap();
    }
    let again = d.join("plan-again");
    cli(
        &[
            "merge",
            plan_parts.to_str().unwrap(),
            copy.to_str().unwrap(),
            "--output",
            again.to_str().unwrap(),
        ],
        1,
    );
    assert_eq!(files_under(&again), files_under(&plan_whole));
    std::fs::remove_dir_all(plan_parts.join("partial-2-of-3")).unwrap();
    let refused = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_carecascade"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refused(&[
        "merge",
        plan_parts.to_str().unwrap(),
        "--output",
        again.to_str().unwrap(),
    ]);
    assert!(err.contains("missing: 2/3 (rerun just those)"), "{err}");
    let err = refused(&[
        "merge",
        copy.to_str().unwrap(),
        d.join("parts-0").to_str().unwrap(),
        "--output",
        again.to_str().unwrap(),
    ]);
    assert!(
        err.contains("holds no shard of a plan")
            && err.contains("merge the partial results of one submission together"),
        "{err}"
    );
}

/// One submission asks the question of several local authorities: each
/// authority's folder is byte-identical to comparing scenario files that
/// name its local model (made by `carecascade localise`), however the
/// submission is split; an authority that did not publish a figure its
/// model starts from (Hackney's children in need for 2021) is run from a
/// filled-in figure, and the warning and `index.csv` say so.
#[test]
fn one_submission_compares_scenarios_for_several_authorities() {
    let d = dir("areas");
    let (base, alt) = (d.join("base.toml"), d.join("alt.toml"));
    let (base, alt) = (base.to_str().unwrap(), alt.to_str().unwrap());
    // Warrington's model, and the same scenarios on it, alone.
    let model = d.join("warrington.toml");
    cli(
        &[
            "localise",
            "england",
            "--area",
            "Warrington",
            "--output",
            model.to_str().unwrap(),
        ],
        2,
    );
    for (file, parent) in [
        ("base_local.toml", "base.toml"),
        ("alt_local.toml", "alt.toml"),
    ] {
        std::fs::write(
            d.join(file),
            format!("extends = \"{parent}\"\nmodel = \"warrington.toml\"\nprofile = \"england\"\n"),
        )
        .unwrap();
    }
    let alone = d.join("alone");
    cli(
        &[
            "compare",
            d.join("base_local.toml").to_str().unwrap(),
            d.join("alt_local.toml").to_str().unwrap(),
            "--output",
            alone.to_str().unwrap(),
        ],
        2,
    );
    // Hackney then Warrington, in two shards: each task makes only its own
    // authority's model.
    let parts = d.join("parts");
    for i in 1..=2 {
        let out = Command::new(env!("CARGO_BIN_EXE_carecascade"))
            .args([
                "compare",
                base,
                alt,
                "--area",
                "Hackney",
                "--area",
                "E06000007",
                "--shard",
            ])
            .arg(format!("{i}/2"))
            .args(["--output", parts.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(!err.contains("skipped"), "{err}");
        assert!(
            err.contains("warning: 3 start figure(s) not published")
                && err.contains(
                    "Hackney (E09000012): cin_at_31_march for 31 March 2021 not published; used "
                ),
            "{err}"
        );
    }
    let merged = d.join("merged");
    let out = Command::new(env!("CARGO_BIN_EXE_carecascade"))
        .args(["merge", parts.to_str().unwrap(), "--output"])
        .arg(&merged)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("skipped"), "{stderr}");
    assert!(
        stdout.contains("E06000007") && stdout.contains("done, 20 runs"),
        "{stdout}"
    );
    assert_same_files(&alone, &merged.join("E06000007"), "Warrington");
    assert!(merged.join("E09000012/summary.json").exists());
    let index = std::fs::read_to_string(merged.join("index.csv")).unwrap();
    let rows: Vec<&str> = index.lines().collect();
    assert_eq!(
        rows[0],
        "piece,authority_code,authority,scenarios,filled_start_figures,runs,status,message"
    );
    assert!(
        rows[1].starts_with(
            "E09000012,E09000012,Hackney,base; alt,cin_at_31_march 2912.7 (linear 2020-2023); cpp_at_31_march "
        ) && rows[1].ends_with(",20,done,"),
        "{index}"
    );
    assert_eq!(
        rows[2],
        "E06000007,E06000007,Warrington,base; alt,,20,done,"
    );
    // The table of every authority: Warrington's rows, the authority first.
    let all = std::fs::read_to_string(merged.join("quantiles.csv")).unwrap();
    let own = std::fs::read_to_string(merged.join("E06000007/quantiles.csv")).unwrap();
    let warrington: Vec<&str> = all
        .lines()
        .filter(|l| l.starts_with("E06000007,"))
        .collect();
    assert_eq!(warrington.len() + 1, own.lines().count());
    assert!(
        warrington
            .iter()
            .zip(own.lines().skip(1))
            .all(|(a, b)| *a == format!("E06000007,E06000007,Warrington,base; alt,,{b}")),
        "{all:.300}"
    );
}
