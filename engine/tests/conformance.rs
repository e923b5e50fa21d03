//! The conformance harness: every model folder under `tests/conformance`
//! (copied from the SDXorg test-models suite) that has an XMILE or Vensim
//! `.mdl` file is run,
//! and every column of its expected output compared at every saved time:
//! |a - b| <= 1e-4 * max(|a|, |b|) + 1e-6 * peak(|series|).
//!
//! Every case that passes must also survive a round trip: export to XMILE
//! and to the native format, import again, and get identical results.
//!
//! Folders this version cannot run are listed in `EXCEPTIONS` with the
//! reason; an exception that starts passing fails the test so that the list
//! stays honest.

mod common;

use carecascade_engine::format::{load_model, native, table::Table, xmile};
use carecascade_engine::{Method, Model, Program, Results};
use std::path::{Path, PathBuf};

/// Cases this version cannot run: (folder or folder/file, reason).
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
    for (format, again) in [("XMILE", through_xmile), ("native", through_native)] {
        let second = simulate(&again, method)?;
        // The native format groups variables by kind, so columns may come
        // back in another order; every variable must be bit-identical.
        let mut names: Vec<&String> = second.names().iter().collect();
        names.sort();
        let mut expected_names: Vec<&String> = first.names().iter().collect();
        expected_names.sort();
        if names != expected_names || second.times() != first.times() {
            return Err(format!(
                "{format} round trip changed the variables or times"
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

fn run_case(model: &Path, expected: &Path, method: Option<Method>) -> Result<(), String> {
    let model = load_model(model).map_err(|e| e.to_string())?;
    let results = simulate(&model, method)?;
    let expected = Table::load(expected).map_err(|e| e.to_string())?;
    let problems = common::compare(&results, &expected);
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    round_trip(&model, &results, method)
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
    let mut cases = 0;
    for dir in &dirs {
        let folder = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut models: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("xmile" | "stmx" | "itmx" | "mdl")
                )
            })
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
            let status = match (&outcome, exception) {
                (Ok(()), None) => match method {
                    Some((_, m, why)) => format!("pass with {m} ({why})"),
                    None => "pass".to_string(),
                },
                (Ok(()), Some(_)) => {
                    unexpected.push(format!("{name} passes: remove it from EXCEPTIONS"));
                    "pass (listed as an exception!)".to_string()
                }
                (Err(e), Some(why)) => format!("exception ({why}): {}", first_line(e)),
                (Err(e), None) => {
                    unexpected.push(format!("{name}: {e}"));
                    format!("FAIL: {}", first_line(e))
                }
            };
            table.push(format!("{name:<45} {status}"));
        }
    }
    println!("{} cases\n{}", cases, table.join("\n"));
    assert!(
        cases >= 80,
        "the suite should hold at least 80 XMILE and Vensim cases, found {cases}"
    );
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
