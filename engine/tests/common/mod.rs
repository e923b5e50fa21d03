//! Helpers shared by the integration tests.
#![allow(dead_code)]

use carecascade_engine::Results;
use carecascade_engine::format::table::Table;

/// Compares every column of `expected` (other than `Time`) with the
/// simulated results at the same times:
/// |a - b| <= 1e-4 * max(|a|, |b|) + 1e-6 * peak(|series|) + 1e-12,
/// the last term for values that are zero to printing precision (the sine of
/// pi is 1.2e-16 in floating point and 0 in a file).
/// Returns a description of every mismatch.
pub fn compare(results: &Results, expected: &Table) -> Vec<String> {
    let mut problems = Vec::new();
    let time_col = expected
        .column_index("Time")
        .expect("expected output has a Time column");
    let times = results.times();
    for (c, name) in expected.headers().iter().enumerate() {
        if c == time_col {
            continue;
        }
        // Control variables appear as columns even when the model does not
        // define them as variables; they come from the time settings.
        let time = results.time_settings();
        let control = match carecascade_engine::canonical_name(name).as_str() {
            "initial_time" => Some(time.start()),
            "final_time" => Some(time.stop()),
            "time_step" => Some(time.dt()),
            "saveper" => Some(time.save_interval()),
            _ => None,
        };
        let constant;
        // Vensim writes a quoted name as in its equations, with its
        // quotes escaped: `"a \"b\" c"` is the variable `a "b" c`.
        let unescaped = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .map(|n| n.replace("\\\"", "\""));
        let found = results
            .series(name)
            .or_else(|| unescaped.as_deref().and_then(|n| results.series(n)));
        let series = match (found, control) {
            (Some(series), _) => series,
            (None, Some(value)) => {
                constant = carecascade_engine::ndarray::Array1::from_elem(times.len(), value);
                constant.view()
            }
            (None, None) => {
                problems.push(format!("no column `{name}` in the results"));
                continue;
            }
        };
        let peak = series.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut last = None;
        for row in expected.rows() {
            let Some(t) = row[time_col] else { continue };
            // Blank cells repeat the value above (constants written once).
            let Some(b) = row[c].or(last) else { continue };
            last = Some(b);
            // Expected files round times to about 6 significant digits.
            let Some(i) = times
                .iter()
                .position(|x| (x - t).abs() <= 1e-5 * t.abs().max(1.0))
            else {
                problems.push(format!("time {t} was not saved"));
                break;
            };
            let a = series[i];
            if (a - b).abs() > 1e-4 * a.abs().max(b.abs()) + 1e-6 * peak + 1e-12 {
                problems.push(format!("`{name}` at time {t}: simulated {a}, expected {b}"));
                break;
            }
        }
    }
    problems
}

/// The path of a file in the tests directory.
pub fn path(relative: &str) -> String {
    format!("{}/tests/{relative}", env!("CARGO_MANIFEST_DIR"))
}

/// How a reader treated a construct put into a small model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Compiled and run, without a warning.
    Read,
    /// Compiled and run, with a warning that names it and its file.
    Warned,
    /// An error that names it and its file.
    Refused,
}

/// Classifies a model read from `file` (e.g. `m.mdl`) and compiled: run
/// it, and say whether it ran quietly, warned or was refused, where the
/// warning or error must name `mention` (any case) and the file's place;
/// anything else (a failed run, a warning or error that names neither) is
/// an `Err` describing it.
pub fn classify(
    compiled: Result<carecascade_engine::Program, String>,
    file: &str,
    mention: &str,
) -> Result<Seen, String> {
    let mention = mention.to_ascii_lowercase();
    let place = format!("{}:", file.to_ascii_lowercase());
    let located = |message: &str| {
        let lower = message.to_ascii_lowercase();
        lower.contains(&place) && lower.contains(&mention)
    };
    match compiled {
        Ok(program) => {
            program
                .run()
                .map_err(|e| format!("compiled, but the run failed: {e}"))?;
            let warnings: Vec<String> =
                program.warnings().iter().map(ToString::to_string).collect();
            if warnings.is_empty() {
                Ok(Seen::Read)
            } else if warnings.iter().any(|w| located(w)) {
                Ok(Seen::Warned)
            } else {
                Err(format!(
                    "warnings that do not name `{mention}`: {warnings:?}"
                ))
            }
        }
        Err(e) if located(&e) => Ok(Seen::Refused),
        Err(e) => Err(format!(
            "an error that does not name `{mention}` with its place: {e}"
        )),
    }
}
