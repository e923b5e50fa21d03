//! Mutation fuzzing from real, valid models: every Vensim and XMILE model
//! of the conformance suite, and each of them written in the native TOML
//! format, is changed by seeded mutations that know the syntax (a token or
//! line deleted, duplicated or swapped, an operator flipped, a number made
//! 0, -1, 1e308, NaN or huge, a name swapped for another of the model's
//! names, the file truncated, brackets, quotes or tags unbalanced, deep
//! nesting) and each mutant is read, compiled and run for a few steps, with
//! both back ends, in this process.
//!
//! A mutant fails the test if anything panics, if it takes longer than the
//! watchdog allows or more memory than the cap (both stop the process,
//! naming the mutant), if a run returns NaN or infinity instead of an
//! error naming the variable and time, if the two back ends disagree, if a
//! model that compiles does not read back once written, or if a reader's
//! error does not say where in the file it is.
//!
//! `CARECASCADE_FUZZ_ITERATIONS` (mutants per file, default 4) scales it
//! up: `CARECASCADE_FUZZ_ITERATIONS=2000 cargo test --release -p
//! carecascade-engine --test mutations`; see `mutator/mod.rs` for the other
//! settings. Each bug it found is fixed and kept as a regression test in
//! `engine/tests/mutation_regressions.rs`.

mod mutator;

use carecascade_engine::format::{load_model, native};
use carecascade_engine::{Backend, Error, Method, Model, Program};
use mutator::{Finding, Rng, Settings, Syntax};
use std::path::{Path, PathBuf};

#[global_allocator]
static ALLOCATOR: mutator::Counting = mutator::Counting;

/// The most steps a mutant is run for.
const MAX_STEPS: usize = 60;
/// The most operations a step of a mutant run compiled may have.
const MAX_COMPILED_OPS: usize = 20_000;

/// A file to mutate: where its folder is (for the data files it reads),
/// its file name, its syntax and its text.
struct Source {
    dir: PathBuf,
    file: String,
    syntax: Syntax,
    text: String,
}

fn syntax_of(path: &Path) -> Option<Syntax> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "mdl" => Some(Syntax::Vensim),
        "xmile" | "stmx" | "itmx" => Some(Syntax::Xmile),
        _ => None,
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The conformance models (and the folders in `CARECASCADE_FUZZ_DIRS`,
/// separated by `:`), and each that reads written as native TOML.
fn sources() -> Vec<Source> {
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")];
    if let Ok(extra) = std::env::var("CARECASCADE_FUZZ_DIRS") {
        dirs.extend(
            extra
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        );
    }
    let mut paths = Vec::new();
    for dir in &dirs {
        walk(dir, &mut paths);
    }
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let Some(syntax) = syntax_of(&path) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Ok(model) = load_model(&path) {
            out.push(Source {
                dir: dir.clone(),
                file: format!("{file}.toml"),
                syntax: Syntax::Toml,
                text: native::write(&model),
            });
        }
        out.push(Source {
            dir,
            file,
            syntax,
            text,
        });
    }
    out
}

/// Whether every file error in `e` has a location in `file`.
fn located(e: &Error, file: &str) -> bool {
    match e {
        Error::Many(list) => list.iter().all(|e| located(e, file)),
        Error::File { location, .. } | Error::Equation { location, .. } => {
            location.file.as_deref().is_some_and(|f| f.ends_with(file))
        }
        _ => true,
    }
}

/// Reads, compiles and runs the model file at `path`: `Err` describes a
/// bug (a panic is caught by the caller).
pub fn check_model_file(path: &Path, file: &str, compiled: bool) -> Result<(), String> {
    let model = match load_model(path) {
        Ok(model) => model,
        Err(e) => {
            mutator::tally(mutator::Stage::Refused);
            if !located(&e, file) {
                return Err(format!("a reader's error without its place in {file}: {e}"));
            }
            return Ok(());
        }
    };
    check_model(&model, compiled)
}

/// Compiles and runs `model` briefly (Euler, then RK4) with the
/// interpreter and, if `compiled`, the compiled code, which must agree; a
/// model that compiles must read back once
/// written in the native format.
fn check_model(model: &Model, compiled: bool) -> Result<(), String> {
    let Ok(program) = Program::compile(model) else {
        mutator::tally(mutator::Stage::NotCompiled);
        return Ok(());
    };
    let written = native::write(model);
    if let Err(e) = native::parse(&written, Some("again.toml")) {
        return Err(format!(
            "the model written as TOML does not read back: {e}\n{written}"
        ));
    }
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
    for method in [Method::Euler, Method::Rk4] {
        let mut outcomes = Vec::new();
        // Code generation of a program with 100,000 operations a step takes
        // seconds (`vector_select`): those are interpreted only.
        let backends: &[Backend] = if compiled && program.ops_per_step() <= MAX_COMPILED_OPS {
            &[Backend::Interpreter, Backend::Compiled]
        } else {
            &[Backend::Interpreter]
        };
        for &backend in backends {
            state.set_time(time.with_method(method));
            state.set_backend(backend);
            let mut rows: Vec<f64> = Vec::new();
            let result = state.run_observing(&mut |t, row| {
                rows.push(t);
                rows.extend_from_slice(row);
            });
            if result.is_ok() && !mutator::all_finite(&rows) {
                let bad = rows.iter().position(|v| !v.is_finite()).unwrap_or(0);
                return Err(format!(
                    "a {method:?} run ({backend:?}) returned a value that is not finite (at {bad} of {}) instead of an error",
                    rows.len()
                ));
            }
            if method == Method::Euler && backend == Backend::Interpreter {
                mutator::tally(if result.is_ok() {
                    mutator::Stage::Ran
                } else {
                    mutator::Stage::RunFailed
                });
            }
            outcomes.push((result.map_err(|e| e.to_string()), rows));
        }
        let [first, second] = &outcomes[..] else {
            continue;
        };
        let same_rows = first.1.len() == second.1.len()
            && first
                .1
                .iter()
                .zip(&second.1)
                .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
        if first.0 != second.0 || !same_rows {
            return Err(format!(
                "the interpreter and the compiled code disagree ({method:?}): {:?} against {:?}",
                first.0, second.0
            ));
        }
    }
    Ok(())
}

#[test]
fn mutants_of_valid_models_give_errors_not_crashes() {
    mutator::on_cli_stack(campaign);
}

fn campaign() {
    let settings = Settings::from_env(4);
    mutator::start(&settings);
    mutator::quiet_panics();
    // Every source, also under CARECASCADE_FUZZ_ONLY, so that a mutant's
    // key (its source's index) is the same either way.
    let sources = sources();
    assert!(
        sources.len() >= 100 || settings.only.is_some(),
        "the conformance models are missing: {} sources",
        sources.len()
    );
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let mut findings: Vec<Finding> = Vec::new();
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    let started = std::time::Instant::now();
    for (s, source) in sources.iter().enumerate() {
        let path = source.dir.join(&source.file);
        if let Some(only) = &settings.only
            && !path.display().to_string().contains(only.as_str())
        {
            continue;
        }
        let donors: Vec<&str> = sources
            .iter()
            .filter(|o| o.syntax == source.syntax)
            .map(|o| o.text.as_str())
            .step_by(7)
            .collect();
        // A copy of the model's folder, for the data files it names.
        let dir = scratch.path().join(format!("{s}"));
        copy_folder(&source.dir, &dir);
        let path = dir.join(&source.file);
        for i in settings.skip..settings.iterations {
            let mut rng = Rng::new(settings.seed, s as u64, i);
            let text = mutator::mutate(&source.text, source.syntax, &donors, &mut rng);
            let key = format!(
                "{} mutant {i} (seed {}, source {s})",
                source.dir.join(&source.file).display(),
                settings.seed
            );
            // Code generation takes longer than the rest: one mutant in
            // four also runs compiled (spread over the files).
            let compiled = (s as u64 + i).is_multiple_of(4);
            mutator::trace_input(&text);
            let outcome = mutator::guarded(&key, || {
                std::fs::write(&path, &text).map_err(|e| e.to_string())?;
                check_model_file(&path, &source.file, compiled)
            });
            *counts.entry(format!("{:?}", source.syntax)).or_default() += 1;
            if let Err(problem) = outcome {
                let fails = |candidate: &str| {
                    mutator::guarded(&key, || {
                        std::fs::write(&path, candidate).map_err(|e| e.to_string())?;
                        check_model_file(&path, &source.file, compiled)
                    })
                    .is_err_and(|p| same_kind(&p, &problem))
                };
                let small = mutator::minimise(&text, &fails);
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

/// Whether two findings are of the same kind (for minimising: the first
/// line up to a colon or a digit).
fn same_kind(a: &str, b: &str) -> bool {
    let head = |s: &str| -> String {
        s.lines()
            .next()
            .unwrap_or("")
            .chars()
            .take_while(|c| !c.is_ascii_digit() && *c != '`')
            .take(60)
            .collect()
    };
    head(a) == head(b)
}

fn copy_folder(from: &Path, to: &Path) {
    let _ = std::fs::create_dir_all(to);
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() {
            let _ = std::fs::copy(&path, to.join(entry.file_name()));
        }
    }
}
