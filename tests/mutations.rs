//! Mutation fuzzing of the shipped model files (`models/*.toml`) and
//! scenario files (`scenarios/*.toml`): each is changed by seeded
//! mutations that know TOML (a token or line deleted, duplicated or
//! swapped, a number made 0, -1, 1e308, NaN or huge, a name swapped for
//! another, the file truncated, brackets and quotes unbalanced) and each
//! mutant is read; a model that reads is compiled and run for a few steps
//! with both back ends, a scenario that reads is prepared and two of its
//! runs are made. The mutator and its settings (`CARECASCADE_FUZZ_ITERATIONS`
//! and others) are those of `engine/tests/mutations.rs`.

#[path = "../engine/tests/mutator/mod.rs"]
mod mutator;

use carecascade::engine::format::load_model;
use carecascade::engine::scenario::Scenario;
use carecascade::engine::{Backend, Error, Method, Program};
use mutator::{Finding, Rng, Settings, Syntax};
use std::path::{Path, PathBuf};

#[global_allocator]
static ALLOCATOR: mutator::Counting = mutator::Counting;

/// The most steps a mutant model is run for.
const MAX_STEPS: usize = 60;
/// The most steps of a scenario's run (a weekly step over ten years is 520).
const MAX_SCENARIO_STEPS: usize = 600;

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether every file error in `e` has a location in `file`.
fn located(e: &Error, file: &str) -> bool {
    match e {
        Error::Many(list) => list.iter().all(|e| located(e, file)),
        Error::File { location, .. } | Error::Equation { location, .. } => {
            location.file.as_deref().is_some_and(|f| f.ends_with(file))
        }
        Error::Run { source, .. } => located(source, file),
        _ => true,
    }
}

fn check_model(path: &Path, file: &str) -> Result<(), String> {
    let model = match load_model(path) {
        Ok(model) => model,
        Err(e) if located(&e, file) => {
            mutator::tally(mutator::Stage::Refused);
            return Ok(());
        }
        Err(e) => return Err(format!("an error without its place in {file}: {e}")),
    };
    let Ok(program) = Program::compile(&model) else {
        mutator::tally(mutator::Stage::NotCompiled);
        return Ok(());
    };
    let mut state = program.state();
    let time = *state.time();
    let time = if time.steps() > MAX_STEPS {
        match time.with_stop(time.start() + time.dt() * MAX_STEPS as f64) {
            Ok(t) => t,
            Err(_) => return Ok(()),
        }
    } else {
        time
    };
    let mut outcomes = Vec::new();
    for backend in [Backend::Interpreter, Backend::Compiled] {
        state.set_time(time.with_method(Method::Euler));
        state.set_backend(backend);
        let mut rows: Vec<f64> = Vec::new();
        let result = state.run_observing(&mut |t, row| {
            rows.push(t);
            rows.extend_from_slice(row);
        });
        if result.is_ok() && !mutator::all_finite(&rows) {
            return Err(format!(
                "a run ({backend:?}) returned a value that is not finite instead of an error"
            ));
        }
        if backend == Backend::Interpreter {
            mutator::tally(if result.is_ok() {
                mutator::Stage::Ran
            } else {
                mutator::Stage::RunFailed
            });
        }
        outcomes.push((result.map_err(|e| e.to_string()), rows));
    }
    let same = outcomes[0].1.len() == outcomes[1].1.len()
        && outcomes[0]
            .1
            .iter()
            .zip(&outcomes[1].1)
            .all(|(a, b)| a.to_bits() == b.to_bits());
    if outcomes[0].0 != outcomes[1].0 || !same {
        return Err(format!(
            "the interpreter and the compiled code disagree: {:?} against {:?}",
            outcomes[0].0, outcomes[1].0
        ));
    }
    Ok(())
}

fn check_scenario(path: &Path, file: &str) -> Result<(), String> {
    let library = carecascade::library();
    let scenario = match Scenario::load_with(path, &library) {
        Ok(s) => s,
        Err(e) if located(&e, file) => {
            mutator::tally(mutator::Stage::Refused);
            return Ok(());
        }
        Err(e) => return Err(format!("an error without its place in {file}: {e}")),
    };
    let Ok(scenario) = scenario.with_runs(2) else {
        return Ok(());
    };
    let Ok(prepared) = scenario.prepare() else {
        mutator::tally(mutator::Stage::NotCompiled);
        return Ok(());
    };
    let mut state = prepared.program().state();
    if prepared.configure(&mut state).is_err() {
        return Ok(());
    }
    match prepared.periods().time_settings(state.time()) {
        Ok((time, _)) if time.steps() <= MAX_SCENARIO_STEPS => {}
        _ => return Ok(()),
    }
    // A run that breaks down is an error naming the variable and time
    // (the periods' tables hold NaN by design where a period has no value,
    // so the outcome itself is not searched for NaN).
    let result = carecascade::engine::ensemble::run_scenarios(
        &[prepared],
        &carecascade::engine::ensemble::RunOptions::default(),
    );
    mutator::tally(if result.is_ok() {
        mutator::Stage::Ran
    } else {
        mutator::Stage::RunFailed
    });
    Ok(())
}

#[test]
fn mutants_of_shipped_models_and_scenarios_give_errors_not_crashes() {
    mutator::on_cli_stack(campaign);
}

fn campaign() {
    let settings = Settings::from_env(20);
    mutator::start(&settings);
    mutator::quiet_panics();
    let root = repository();
    let scratch = Scratch::new();
    // The scenarios name `baseline.toml` beside them and
    // `../models/england.posterior.csv`: keep that layout.
    for folder in ["models", "scenarios"] {
        let to = scratch.path().join(folder);
        std::fs::create_dir_all(&to).expect("a scratch folder");
        for entry in std::fs::read_dir(root.join(folder)).expect("the shipped folder") {
            let entry = entry.expect("a folder entry");
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("a copy");
        }
    }
    let mut sources: Vec<(String, bool, String)> = Vec::new();
    for (folder, is_model) in [("models", true), ("scenarios", false)] {
        let mut names: Vec<String> = std::fs::read_dir(root.join(folder))
            .expect("the shipped folder")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml") && !n.contains(".calibrate") && !n.contains(".fit"))
            .collect();
        names.sort();
        for name in names {
            let file = format!("{folder}/{name}");
            let text = std::fs::read_to_string(root.join(&file)).expect("a shipped file");
            sources.push((file, is_model, text));
        }
    }
    assert!(sources.len() >= 5, "the shipped files are missing");
    let mut findings = Vec::new();
    let mut counts = std::collections::BTreeMap::<&str, u64>::new();
    let started = std::time::Instant::now();
    for (s, (file, is_model, text)) in sources.iter().enumerate() {
        if settings.only.as_deref().is_some_and(|o| !file.contains(o)) {
            continue;
        }
        let donors: Vec<&str> = sources.iter().map(|d| d.2.as_str()).collect();
        // The mutant is written beside the original under another name
        // (a scenario that extends `baseline.toml` must still find it).
        let name = format!("mutant-{}", file.replace('/', "-"));
        let path = scratch
            .path()
            .join(if *is_model { "models" } else { "scenarios" })
            .join(&name);
        let check = |candidate: &str| {
            std::fs::write(&path, candidate).map_err(|e| e.to_string())?;
            if *is_model {
                check_model(&path, &name)
            } else {
                check_scenario(&path, &name)
            }
        };
        for i in settings.skip..settings.iterations {
            let mut rng = Rng::new(settings.seed, s as u64, i);
            let mutant = mutator::mutate(text, Syntax::Toml, &donors, &mut rng);
            let key = format!("{file} mutant {i} (seed {}, source {s})", settings.seed);
            *counts
                .entry(if *is_model { "model" } else { "scenario" })
                .or_default() += 1;
            mutator::trace_input(&mutant);
            if let Err(problem) = mutator::guarded(&key, || check(&mutant)) {
                let fails = |candidate: &str| {
                    mutator::guarded(&key, || check(candidate)).is_err_and(|p| {
                        p.lines().next().unwrap_or("").get(..30)
                            == problem.lines().next().unwrap_or("").get(..30)
                    })
                };
                let small = mutator::minimise(&mutant, &fails);
                findings.push(Finding {
                    key,
                    problem,
                    text: small,
                });
            }
        }
    }
    mutator::finish(&format!("{counts:?}"), started, &findings);
}

/// A scratch folder removed when dropped (the root crate does not depend
/// on `tempfile`).
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("carecascade-mutations-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
