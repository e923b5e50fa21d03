//! The conformance harness: every model folder under `tests/conformance`
//! (copied from the SDXorg test-models suite) that has an XMILE or Vensim
//! `.mdl` file is run,
//! and every column of its expected output compared at every saved time:
//! |a - b| <= 1e-4 * max(|a|, |b|) + 1e-6 * peak(|series|).
//!
//! Every case that passes must also survive a round trip: export to XMILE
//! and to the native format, import again, and get identical results
//! (through the native format only for models whose control settings are
//! computed during the run, which XMILE cannot express).
//!
//! `CONFORMANCE_SHOW=folder cargo test --test conformance -- --nocapture`
//! prints the whole error of the cases whose name contains `folder`.
//!
//! Folders this version cannot run are listed in `EXCEPTIONS` with the
//! reason; an exception that starts passing fails the test so that the list
//! stays honest.

mod common;

use carecascade_engine::format::{load_model, native, table::Table, xmile};
use carecascade_engine::{Method, Model, Program, Results};
use std::path::{Path, PathBuf};

/// Cases this version cannot run: (folder or folder/file, reason). A
/// reason starts with `WRONG` when the case runs and gives other numbers;
/// every other case listed here is refused with a located error.
const EXCEPTIONS: &[(&str, &str)] = &[(
    "logicals/test_logicals.stmx",
    "the file writes `IF false_input not THEN` (a postfix NOT left by a translator), which is not XMILE; test_logicals.xmile, the same model, passes",
)];

/// Cases whose file declares a method other than the one its expected
/// output was made with: (folder/file, method to run, reason).
const METHOD_OVERRIDES: &[(&str, Method, &str)] = &[(
    "zeroled_decimals/test_zeroled_decimals.xmile",
    Method::Euler,
    "declares RK4, but output.tab is Vensim's Euler run of the .mdl",
)];

fn expected_output(dir: &Path) -> Option<PathBuf> {
    ["output.csv", "output.tab"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
}

fn simulate(model: &Model, method: Option<Method>) -> Result<Results, String> {
    let program = Program::compile(model).map_err(|e| e.to_string())?;
    run_program(&program, method)
}

fn run_program(program: &Program, method: Option<Method>) -> Result<Results, String> {
    let mut state = program.state();
    if let Some(method) = method {
        state.set_time(program.time().with_method(method));
    }
    state.run().map_err(|e| e.to_string())
}

/// Import, export and import again gives identical results, through XMILE
/// and through the native format.
fn round_trip(model: &Model, first: &Results, method: Option<Method>) -> Result<(), String> {
    let through_xmile = xmile::parse(&xmile::write(model), Some("exported.xmile"))
        .map_err(|e| format!("re-import of XMILE: {e}"))?;
    let through_native = native::parse(&native::write(model), Some("exported.toml"))
        .map_err(|e| format!("re-import of TOML: {e}"))?;
    // XMILE cannot say that control settings are computed during the run
    // (the writer says so in a comment): those models go through the
    // native format only.
    let formats = if model.control_variables().is_empty() {
        vec![("XMILE", through_xmile), ("native", through_native)]
    } else {
        vec![("native", through_native)]
    };
    for (format, again) in formats {
        let second = simulate(&again, method)?;
        // The native format groups variables by kind, so columns may come
        // back in another order; every variable must be bit-identical.
        let mut names: Vec<&String> = second.names().iter().collect();
        names.sort();
        let mut expected_names: Vec<&String> = first.names().iter().collect();
        expected_names.sort();
        if names != expected_names || second.times() != first.times() {
            let lost: Vec<&&String> = expected_names
                .iter()
                .filter(|n| !names.contains(n))
                .collect();
            let gained: Vec<&&String> = names
                .iter()
                .filter(|n| !expected_names.contains(n))
                .collect();
            return Err(format!(
                "{format} round trip changed the variables or times (lost {lost:?}, gained {gained:?})"
            ));
        }
        for name in first.names() {
            if first.series(name) != second.series(name) {
                return Err(format!("{format} round trip changed `{name}`"));
            }
        }
    }
    Ok(())
}

/// How one case ended.
enum Outcome {
    /// The numbers match and survive the round trips.
    Pass,
    /// The engine would not read or compile the file (an honest refusal,
    /// with a located error).
    Refused(String),
    /// The model ran but its numbers, or its round trip, differ.
    Wrong(String),
}

fn run_case(model: &Path, expected: &Path, method: Option<Method>) -> Outcome {
    let model = match load_model(model) {
        Ok(model) => model,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    let program = match Program::compile(&model) {
        Ok(program) => program,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    let results = match run_program(&program, method) {
        Ok(results) => results,
        Err(e) => return Outcome::Wrong(format!("run failed: {e}")),
    };
    let expected = match Table::load(expected) {
        Ok(table) => table,
        Err(e) => return Outcome::Wrong(format!("expected output unreadable: {e}")),
    };
    let problems = common::compare(&results, &expected);
    if !problems.is_empty() {
        return Outcome::Wrong(problems.join("; "));
    }
    match round_trip(&model, &results, method) {
        Ok(()) => Outcome::Pass,
        Err(e) => Outcome::Wrong(e),
    }
}

/// The format a model file is in, by its extension (any case).
fn format_of(path: &Path) -> Option<&'static str> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "mdl" => Some("Vensim"),
        "xmile" | "stmx" | "itmx" => Some("XMILE"),
        _ => None,
    }
}

/// Counts per format: (passed, run, refused). `run` counts every file
/// tried; a file that is neither passed nor refused ran and gave other
/// numbers.
#[derive(Default)]
struct Tally {
    passed: usize,
    run: usize,
    refused: usize,
}

#[test]
fn conformance_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut table = Vec::new();
    let mut unexpected = Vec::new();
    let mut tallies: Vec<(&str, Tally)> =
        vec![("Vensim", Tally::default()), ("XMILE", Tally::default())];
    let mut cases = 0;
    for dir in &dirs {
        let folder = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut models: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| format_of(p).is_some())
            .collect();
        models.sort();
        let Some(expected) = expected_output(dir) else {
            table.push(format!("{folder:<45} skipped: no expected output"));
            continue;
        };
        if models.is_empty() {
            table.push(format!("{folder:<45} skipped: no model file"));
            continue;
        }
        for model in models {
            cases += 1;
            let name = format!("{folder}/{}", model.file_name().unwrap().to_string_lossy());
            let exception = EXCEPTIONS
                .iter()
                .find(|(case, _)| *case == folder || *case == name)
                .map(|(_, why)| *why);
            let method = METHOD_OVERRIDES.iter().find(|(case, _, _)| *case == name);
            let outcome = run_case(&model, &expected, method.map(|(_, m, _)| *m));
            // `CONFORMANCE_SHOW=folder` prints a case's whole error.
            if let Ok(show) = std::env::var("CONFORMANCE_SHOW")
                && name.contains(&show)
                && let Outcome::Refused(e) | Outcome::Wrong(e) = &outcome
            {
                println!("{name}:\n{e}");
            }
            let format = format_of(&model).unwrap_or("XMILE");
            if let Some((_, tally)) = tallies.iter_mut().find(|(f, _)| *f == format) {
                tally.run += 1;
                match outcome {
                    Outcome::Pass => tally.passed += 1,
                    Outcome::Refused(_) => tally.refused += 1,
                    Outcome::Wrong(_) => {}
                }
            }
            let status = match (&outcome, exception) {
                (Outcome::Pass, None) => match method {
                    Some((_, m, why)) => format!("pass with {m} ({why})"),
                    None => "pass".to_string(),
                },
                (Outcome::Pass, Some(_)) => {
                    unexpected.push(format!("{name} passes: remove it from EXCEPTIONS"));
                    "pass (listed as an exception!)".to_string()
                }
                // The reason says how the case ends; a refusal that becomes
                // a wrong number (or back) must be looked at.
                (Outcome::Refused(e), Some(why)) => {
                    if why.starts_with("WRONG") {
                        unexpected.push(format!("{name} is now refused: {e}"));
                    }
                    format!("exception ({why}): {}", first_line(e))
                }
                (Outcome::Wrong(e), Some(why)) => {
                    if !why.starts_with("WRONG") {
                        unexpected.push(format!("{name} now runs with other numbers: {e}"));
                    }
                    format!("exception ({why}): {}", first_line(e))
                }
                (Outcome::Refused(e), None) => {
                    unexpected.push(format!("{name} refused: {e}"));
                    format!("FAIL, refused: {}", first_line(e))
                }
                (Outcome::Wrong(e), None) => {
                    unexpected.push(format!("{name} wrong: {e}"));
                    format!("FAIL, wrong numbers: {}", first_line(e))
                }
            };
            table.push(format!("{name:<45} {status}"));
        }
    }
    let summary: Vec<String> = tallies
        .iter()
        .map(|(format, t)| {
            format!(
                "{format}: {} passed / {} run / {} refused",
                t.passed, t.run, t.refused
            )
        })
        .collect();
    println!(
        "{} cases\n{}\n{}",
        cases,
        table.join("\n"),
        summary.join("\n")
    );
    // Exceptions that name no case are stale.
    for (case, _) in EXCEPTIONS {
        let folder = case.split('/').next().unwrap_or(case);
        if !root.join(folder).is_dir() || (case.contains('/') && !root.join(case).is_file()) {
            unexpected.push(format!("exception `{case}` names no case"));
        }
    }
    assert!(
        cases >= 130,
        "the suite should hold at least 130 XMILE and Vensim cases, found {cases}"
    );
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
