//! Writing a fit: as a TOML record, and into a native model file's
//! constants.

use super::objective::Fit;
use super::spec::CalibrationSpec;
use crate::error::{Error, Location, Result};
use crate::name::{canonical_name, closest};
use indexmap::IndexMap;
use std::path::Path;

/// Writes a fit as TOML: the fitted values, the objective, the error per
/// series and every start, with how it was obtained. `how` is the first
/// comment line (the command that made it, say); `periods` names the
/// periods in the second (`"reporting years"`, `"days"`).
pub fn fit_to_toml(fit: &Fit, spec: &CalibrationSpec, how: &str, periods: &str) -> String {
    use std::fmt::Write;
    let window = &fit.periods;
    let mut out = String::new();
    let _ = writeln!(out, "# {how}");
    let _ = writeln!(
        out,
        "# Weighted least squares of relative errors over {periods} {}-{}; Nelder-Mead from {} starts",
        window.label(1),
        window.label(window.count()),
        spec.starts
    );
    let _ = writeln!(
        out,
        "# (start 0: the model's values; the others a Latin hypercube, ChaCha8 seed {}), at most {} evaluations each.",
        spec.seed, spec.max_evaluations
    );
    out.push_str("\n[calibration]\n");
    let _ = writeln!(out, "from = {}", window.start());
    let _ = writeln!(out, "to = {}", window.label(window.count()));
    let _ = writeln!(out, "objective = {:e}", fit.objective);
    let _ = writeln!(out, "initial_objective = {:e}", fit.initial_objective);
    let _ = writeln!(
        out,
        "evaluations = {}",
        fit.starts.iter().map(|s| s.evaluations).sum::<usize>()
    );
    out.push_str("\n[fitted]\n");
    for (name, value) in &fit.values {
        let _ = write!(out, "{} = {}", toml_key(name), significant(*value));
        match spec.parameters.get(name) {
            Some(b) => {
                let _ = writeln!(out, "  # bounds {} to {}", b.min, b.max);
            }
            None => out.push('\n'),
        }
    }
    out.push_str("\n[mape_percent]\n");
    for (name, m) in &fit.mape {
        let _ = writeln!(out, "{} = {:.2}", toml_key(name), m);
    }
    for (i, s) in fit.starts.iter().enumerate() {
        let _ = writeln!(out, "\n[[starts]]  # {}", if i == 0 { "best" } else { "" });
        let _ = writeln!(out, "objective = {:e}", s.objective);
        let _ = writeln!(out, "evaluations = {}", s.evaluations);
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| significant(*x))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "initial = [{}]", list(&s.initial));
        let _ = writeln!(out, "values = [{}]", list(&s.values));
    }
    out
}

/// Six significant figures, as TOML accepts.
fn significant(v: f64) -> String {
    if v == 0.0 {
        return "0.0".into();
    }
    let digits = (6 - 1 - v.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        let t = s.trim_end_matches('0');
        if t.ends_with('.') {
            format!("{t}0")
        } else {
            t.to_string()
        }
    } else {
        format!("{s}.0")
    }
}

fn toml_key(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// Sets constants' values in a native model file in place, keeping its
/// comments and layout, and writes it atomically. Each name must be a
/// constant of the file (`[constants."name"]` with `value`, an inline
/// table, or a bare number); values are rounded to six significant
/// figures, as [`fit_to_toml`] records them.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read or written; [`Error::File`] if
/// it is not TOML; [`Error::Invalid`] if it has no `[constants]`;
/// [`Error::Parameter`] naming a constant the file lacks, with the closest
/// name.
pub fn update_model_file(path: impl AsRef<Path>, values: &IndexMap<String, f64>) -> Result<()> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        let offset = e.span().map_or(0, |s| s.start);
        let mut location = Location::of_offset(&text, offset, None);
        location.file = Some(std::sync::Arc::from(path.display().to_string()));
        Error::File {
            location,
            message: e.message().to_string(),
        }
    })?;
    let Some(constants) = doc.get_mut("constants").and_then(|c| c.as_table_like_mut()) else {
        return Err(Error::Invalid {
            what: path.display().to_string(),
            message: "the file has no [constants]".into(),
        });
    };
    let mut errors = Vec::new();
    for (name, value) in values {
        let key = constants
            .iter()
            .map(|(k, _)| k.to_string())
            .find(|k| canonical_name(k) == canonical_name(name));
        let Some(key) = key else {
            errors.push(Error::Parameter {
                name: name.clone(),
                reason: format!("is not a constant of {}", path.display()),
                suggestion: closest(name, constants.iter().map(|(k, _)| k)),
            });
            continue;
        };
        let item = constants.get_mut(&key).expect("found above");
        // Six significant figures: what the fit file records.
        let rounded = significant(*value).parse::<f64>().unwrap_or(*value);
        let new = toml_edit::value(rounded);
        if let Some(table) = item.as_table_like_mut() {
            match table.get_mut("value") {
                Some(v) => {
                    let decor = v.as_value().map(|v| v.decor().clone());
                    *v = new;
                    if let (Some(decor), Some(v)) = (decor, v.as_value_mut()) {
                        *v.decor_mut() = decor;
                    }
                }
                None => {
                    table.insert("value", new);
                }
            }
        } else {
            *item = new;
        }
    }
    Error::from_list(errors)?;
    crate::format::write_atomic(path, doc.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_figures() {
        assert_eq!(significant(0.0812345678), "0.0812346");
        assert_eq!(significant(16.0), "16.0");
        assert_eq!(significant(1234567.0), "1234567.0");
        assert_eq!(significant(-0.5), "-0.5");
    }

    #[test]
    fn keys_are_quoted_when_they_must_be() {
        assert_eq!(toml_key("need_incidence"), "need_incidence");
        assert_eq!(toml_key("need incidence"), "\"need incidence\"");
        assert_eq!(toml_key("a\"b"), "\"a\\\"b\"");
    }
}
