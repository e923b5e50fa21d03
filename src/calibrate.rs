//! Calibration: fitting chosen constants of a model to observed series by
//! weighted least squares, with Nelder-Mead from several starts.
//!
//! The objective is the weighted sum, over the chosen series, of the mean
//! squared *relative* error over the fitted years:
//!
//! `J = sum_s w_s * mean_y ((model_s(y) - observed_s(y)) / observed_s(y))^2`
//!
//! Relative errors put referrals (about 600,000 a year) and second plans
//! (about 15,000) on one scale; the weights say how much each series
//! matters. The model is projected from the first year's published stocks
//! (see [`super::project`]); years without a published value are skipped.
//!
//! Each parameter has bounds. The search works in the unit cube (0 = lower
//! bound, 1 = upper), clamping points outside it. Start 0 is the model's
//! own values; the others are a Latin hypercube drawn from a ChaCha8
//! generator seeded by the spec's `seed`, so a calibration is reproducible.
//! Starts run in parallel (rayon) and give the same answer on any number of
//! threads.
//!
//! A spec file (`--params`) looks like this:
//!
//! ```toml
//! [calibration]
//! from = 2013            # the first year: the model starts from its stocks
//! to = 2023              # the last year fitted (hold years out with an earlier one)
//! starts = 8             # Nelder-Mead starts (default 8)
//! seed = 1               # for the random starts
//! max_evaluations = 2000 # per start
//!
//! [series]               # observed column = weight
//! cla_at_31_march = 2
//! referrals = 1
//!
//! [parameters."need incidence"]
//! min = 0.03
//! max = 0.2
//! ```

use crate::data::Observed;
use crate::engine::error::{Error, Location, Result};
use crate::engine::name::{canonical_name, closest, did_you_mean};
use crate::engine::projection::{Projection, Projector};
use crate::engine::{ParamId, Program};
use indexmap::IndexMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Deserialize;
use std::path::Path;

/// A parameter's search range.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// The lowest value searched.
    pub min: f64,
    /// The highest value searched.
    pub max: f64,
}

/// What to fit, to what, and how hard to search. Build one with
/// [`CalibrationSpec::parse`] or [`CalibrationSpec::load`], which check it.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationSpec {
    /// The first reporting year; the model starts from its stocks.
    pub from: i32,
    /// The last reporting year fitted.
    pub to: i32,
    /// Number of Nelder-Mead starts.
    pub starts: usize,
    /// Seed of the random starts.
    pub seed: u64,
    /// Objective evaluations allowed per start.
    pub max_evaluations: usize,
    /// Stop a start when the objective varies less than this across the
    /// simplex (relative).
    pub tolerance: f64,
    /// Observed series and their weights.
    pub series: IndexMap<String, f64>,
    /// Parameters fitted and their bounds.
    pub parameters: IndexMap<String, Bounds>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    #[serde(default)]
    calibration: Settings,
    #[serde(default)]
    series: IndexMap<String, f64>,
    #[serde(default)]
    parameters: IndexMap<String, Bounds>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Settings {
    from: Option<i32>,
    to: Option<i32>,
    starts: Option<usize>,
    seed: Option<u64>,
    max_evaluations: Option<usize>,
    tolerance: Option<f64>,
}

impl CalibrationSpec {
    /// Reads a spec file.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be read; as [`CalibrationSpec::parse`].
    pub fn load(path: impl AsRef<Path>) -> Result<CalibrationSpec> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        CalibrationSpec::parse(&text, Some(&path.display().to_string()))
    }

    /// Parses a spec. `file` names it in error messages.
    ///
    /// # Errors
    ///
    /// [`Error::File`] with the line and column of malformed TOML, unknown
    /// fields (with the closest valid one), empty `series` or `parameters`,
    /// negative weights, bounds that are not `min < max`, and years out of
    /// order.
    pub fn parse(text: &str, file: Option<&str>) -> Result<CalibrationSpec> {
        let raw: SpecFile =
            toml::from_str(text).map_err(|e| crate::engine::format::toml_error(text, file, &e))?;
        let at = |key: &str, message: String| {
            let offset = text.find(key).unwrap_or(0);
            let mut location = Location::of_offset(text, offset, None);
            location.file = file.map(std::sync::Arc::from);
            Error::File { location, message }
        };
        let mut errors = Vec::new();
        let settings = raw.calibration;
        let from = settings.from.unwrap_or(2013);
        let to = settings.to.unwrap_or(2023);
        if to <= from {
            errors.push(at(
                "to",
                format!("`to` ({to}) must be after `from` ({from})"),
            ));
        }
        if raw.series.is_empty() {
            errors.push(at(
                "[series]",
                "[series] is empty: name at least one observed column and its weight".into(),
            ));
        }
        for (name, w) in &raw.series {
            if !(w.is_finite() && *w >= 0.0) {
                errors.push(at(
                    name,
                    format!("the weight of series `{name}` must be a number >= 0, not {w}"),
                ));
            }
        }
        if raw.parameters.is_empty() {
            errors.push(at(
                "[parameters",
                "no [parameters.\"name\"] to fit: give each a `min` and `max`".into(),
            ));
        }
        for (name, b) in &raw.parameters {
            if !(b.min.is_finite() && b.max.is_finite() && b.min < b.max) {
                errors.push(at(
                    name,
                    format!(
                        "parameter `{name}` needs finite bounds with min < max, not {} to {}",
                        b.min, b.max
                    ),
                ));
            }
        }
        let starts = settings.starts.unwrap_or(8);
        if starts == 0 {
            errors.push(at("starts", "`starts` must be at least 1".into()));
        }
        let tolerance = settings.tolerance.unwrap_or(1e-9);
        if !(tolerance.is_finite() && tolerance >= 0.0) {
            errors.push(at("tolerance", "`tolerance` must be >= 0".into()));
        }
        Error::from_list(errors)?;
        Ok(CalibrationSpec {
            from,
            to,
            starts,
            seed: settings.seed.unwrap_or(1),
            max_evaluations: settings.max_evaluations.unwrap_or(2000),
            tolerance,
            series: raw.series,
            parameters: raw.parameters,
        })
    }
}

/// The outcome of one start.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// Where it began (parameter values).
    pub initial: Vec<f64>,
    /// Where it ended.
    pub values: Vec<f64>,
    /// The objective there.
    pub objective: f64,
    /// Objective evaluations used.
    pub evaluations: usize,
}

/// A calibration's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// The fitted parameters, in the spec's order.
    pub values: IndexMap<String, f64>,
    /// The objective at the fitted values.
    pub objective: f64,
    /// The objective at the model's own values.
    pub initial_objective: f64,
    /// Every start, best first.
    pub starts: Vec<Start>,
    /// Mean absolute percentage error of each fitted series over the
    /// fitted years, at the fitted values.
    pub mape: IndexMap<String, f64>,
    /// The projection at the fitted values.
    pub projection: Projection,
}

/// Mean absolute percentage error (in percent) of a projected column
/// against an observed series over `years`, skipping years without a
/// published value. `None` when no year has both.
pub fn mape(
    projection: &Projection,
    column: &str,
    observed: &Observed,
    years: &[i32],
) -> Option<f64> {
    let series = observed.series(column).ok()?;
    let mut total = 0.0;
    let mut n = 0;
    for &y in years {
        if let (Some(m), Some(o)) = (projection.get(column, y), series.get(y)) {
            if o != 0.0 {
                total += ((m - o) / o).abs();
                n += 1;
            }
        }
    }
    (n > 0).then(|| 100.0 * total / n as f64)
}

/// A fitted series: its column, weight and published (year, value) pairs.
type Target = (String, f64, Vec<(i32, f64)>);

/// The fitting problem: a compiled model, its parameters and the data.
struct Problem<'a> {
    program: &'a Program,
    projector: Projector,
    ids: Vec<ParamId>,
    bounds: Vec<Bounds>,
    targets: Vec<Target>,
    from: i32,
    years: usize,
}

impl Problem<'_> {
    fn to_values(&self, u: &[f64]) -> Vec<f64> {
        u.iter()
            .zip(&self.bounds)
            .map(|(u, b)| b.min + u.clamp(0.0, 1.0) * (b.max - b.min))
            .collect()
    }

    fn to_unit(&self, values: &[f64]) -> Vec<f64> {
        values
            .iter()
            .zip(&self.bounds)
            .map(|(v, b)| ((v - b.min) / (b.max - b.min)).clamp(0.0, 1.0))
            .collect()
    }

    fn projection(&self, values: &[f64]) -> Result<Projection> {
        let mut state = self.program.state();
        for (id, v) in self.ids.iter().zip(values) {
            state.set_param(*id, *v)?;
        }
        self.projector.project(
            &mut state,
            &crate::project::reporting_years(self.from, self.years)?,
        )
    }

    /// The objective at parameter values; a failed run is infinitely bad.
    fn objective(&self, values: &[f64]) -> f64 {
        let Ok(p) = self.projection(values) else {
            return f64::INFINITY;
        };
        let mut total = 0.0;
        for (column, weight, observed) in &self.targets {
            let Some(model) = p.column(column) else {
                return f64::INFINITY;
            };
            let mut sum = 0.0;
            for (year, o) in observed {
                let row = (year - self.from) as usize;
                match model[row] {
                    Some(m) if m.is_finite() => sum += ((m - o) / o).powi(2),
                    _ => return f64::INFINITY,
                }
            }
            total += weight * sum / observed.len() as f64;
        }
        total
    }
}

/// Fits the spec's parameters of `model` to `observed`.
///
/// # Errors
///
/// [`Error::Parameter`] for a parameter the model does not have (with the
/// closest name); [`Error::Invalid`] for a series that is not in the data or
/// not a projection column (with the closest name), or that has no published
/// value in the fitted years; the model's compile errors; and the error of
/// the model's own values if they do not run.
pub fn calibrate(model: &crate::Model, observed: &Observed, spec: &CalibrationSpec) -> Result<Fit> {
    let program = Program::compile(model)?;
    let mut errors = Vec::new();
    let mut ids = Vec::new();
    for name in spec.parameters.keys() {
        match program.parameter(name) {
            Ok(id) => ids.push(id),
            Err(e) => errors.push(e),
        }
    }
    let years = (spec.to - spec.from) as usize;
    let fitted_years: Vec<i32> = (spec.from + 1..=spec.to).collect();
    // Which columns a projection of this model has.
    let projector = crate::project::projector(&program);
    let columns = projector.columns();
    let mut targets = Vec::new();
    for (column, &weight) in &spec.series {
        if !columns.iter().any(|c| c == column) {
            errors.push(Error::Invalid {
                what: format!("series `{column}`"),
                message: format!(
                    "the model's projection has no column `{column}`{}",
                    did_you_mean(closest(column, columns.iter().map(String::as_str)))
                ),
            });
            continue;
        }
        let series = match observed.series(column) {
            Ok(s) => s,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let points: Vec<(i32, f64)> = fitted_years
            .iter()
            .filter_map(|&y| series.get(y).filter(|v| *v != 0.0).map(|v| (y, v)))
            .collect();
        if points.is_empty() {
            errors.push(Error::Invalid {
                what: format!("series `{column}`"),
                message: format!(
                    "{} has no published value in {}-{}",
                    observed.source(),
                    spec.from + 1,
                    spec.to
                ),
            });
            continue;
        }
        targets.push((column.clone(), weight, points));
    }
    Error::from_list(errors)?;
    let problem = Problem {
        program: &program,
        projector,
        ids,
        bounds: spec.parameters.values().copied().collect(),
        targets,
        from: spec.from,
        years,
    };
    // The model's own values, clamped into the bounds, are start 0.
    let own: Vec<f64> = {
        let state = program.state();
        problem.ids.iter().map(|id| state.param(*id)).collect()
    };
    problem.projection(&own)?;
    let initial_objective = problem.objective(&own);
    let n = problem.ids.len();
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut initial_points = vec![problem.to_unit(&own)];
    // A Latin hypercube: each parameter's range cut into strata, one point
    // per stratum, strata shuffled independently per parameter.
    let others = spec.starts - 1;
    let mut columns_lhs: Vec<Vec<f64>> = Vec::with_capacity(n);
    for _ in 0..n {
        let mut strata: Vec<f64> = (0..others)
            .map(|k| (k as f64 + rng.random::<f64>()) / others as f64)
            .collect();
        for i in (1..strata.len()).rev() {
            let j = rng.random_range(0..=i);
            strata.swap(i, j);
        }
        columns_lhs.push(strata);
    }
    for k in 0..others {
        initial_points.push(columns_lhs.iter().map(|c| c[k]).collect());
    }
    let mut starts: Vec<Start> = initial_points
        .into_par_iter()
        .map(|u0| {
            let (u, f, evaluations) = nelder_mead(
                |u| problem.objective(&problem.to_values(u)),
                &u0,
                0.1,
                spec.max_evaluations,
                spec.tolerance,
            );
            Start {
                initial: problem.to_values(&u0),
                values: problem.to_values(&u),
                objective: f,
                evaluations,
            }
        })
        .collect();
    starts.sort_by(|a, b| a.objective.total_cmp(&b.objective));
    let best = &starts[0];
    let projection = problem.projection(&best.values)?;
    let mape = problem
        .targets
        .iter()
        .filter_map(|(c, _, _)| {
            crate::calibrate::mape(&projection, c, observed, &fitted_years).map(|m| (c.clone(), m))
        })
        .collect();
    Ok(Fit {
        values: spec
            .parameters
            .keys()
            .cloned()
            .zip(best.values.iter().copied())
            .collect(),
        objective: best.objective,
        initial_objective,
        mape,
        projection,
        starts,
    })
}

/// Minimises `f` from `x0` by Nelder-Mead with the standard coefficients
/// (reflection 1, expansion 2, contraction 1/2, shrink 1/2), an initial
/// simplex of `step` along each axis, and one restart from the best point
/// when the simplex collapses (which guards against false convergence).
/// Returns the best point, its value and the evaluations used.
pub fn nelder_mead(
    mut f: impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    step: f64,
    max_evaluations: usize,
    tolerance: f64,
) -> (Vec<f64>, f64, usize) {
    let n = x0.len();
    let mut evaluations = 0;
    let mut best = (x0.to_vec(), f64::INFINITY);
    let mut restarts = 0;
    let mut origin = x0.to_vec();
    while evaluations < max_evaluations && restarts < 2 {
        let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n + 1);
        let fx = f(&origin);
        evaluations += 1;
        simplex.push((origin.clone(), fx));
        for i in 0..n {
            let mut x = origin.clone();
            // Step inwards at the upper edge of the unit cube.
            x[i] += if x[i] + step > 1.0 { -step } else { step };
            let fx = f(&x);
            evaluations += 1;
            simplex.push((x, fx));
        }
        while evaluations < max_evaluations {
            simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
            let (lo, hi) = (simplex[0].1, simplex[n].1);
            let size = simplex
                .iter()
                .skip(1)
                .map(|(x, _)| {
                    x.iter()
                        .zip(&simplex[0].0)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max)
                })
                .fold(0.0, f64::max);
            if (hi - lo).abs() <= tolerance * (lo.abs() + 1e-12) && size < 1e-6 || size < 1e-9 {
                break;
            }
            let centroid: Vec<f64> = (0..n)
                .map(|j| simplex[..n].iter().map(|(x, _)| x[j]).sum::<f64>() / n as f64)
                .collect();
            let along = |t: f64| -> Vec<f64> {
                centroid
                    .iter()
                    .zip(&simplex[n].0)
                    .map(|(c, w)| c + t * (c - w))
                    .collect()
            };
            let xr = along(1.0);
            let fr = f(&xr);
            evaluations += 1;
            if fr < simplex[0].1 {
                let xe = along(2.0);
                let fe = f(&xe);
                evaluations += 1;
                simplex[n] = if fe < fr { (xe, fe) } else { (xr, fr) };
            } else if fr < simplex[n - 1].1 {
                simplex[n] = (xr, fr);
            } else {
                let (xc, fc) = if fr < simplex[n].1 {
                    let xc = along(0.5);
                    let fc = f(&xc);
                    (xc, fc)
                } else {
                    let xc = along(-0.5);
                    let fc = f(&xc);
                    (xc, fc)
                };
                evaluations += 1;
                if fc < simplex[n].1.min(fr) {
                    simplex[n] = (xc, fc);
                } else {
                    let x0 = simplex[0].0.clone();
                    for point in simplex.iter_mut().skip(1) {
                        let x: Vec<f64> = point
                            .0
                            .iter()
                            .zip(&x0)
                            .map(|(xi, bi)| bi + 0.5 * (xi - bi))
                            .collect();
                        let fx = f(&x);
                        *point = (x, fx);
                    }
                    evaluations += n;
                }
            }
        }
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        if simplex[0].1 < best.1 {
            best = simplex[0].clone();
        }
        origin = best.0.clone();
        restarts += 1;
    }
    (best.0, best.1, evaluations)
}

/// Writes a fit as TOML: the fitted values, the objective, the error per
/// series and every start, with how it was obtained.
pub fn fit_to_toml(fit: &Fit, spec: &CalibrationSpec, how: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "# {how}");
    let _ = writeln!(
        out,
        "# Weighted least squares of relative errors over reporting years {}-{}; Nelder-Mead from {} starts",
        spec.from + 1,
        spec.to,
        spec.starts
    );
    let _ = writeln!(
        out,
        "# (start 0: the model's values; the others a Latin hypercube, ChaCha8 seed {}), at most {} evaluations each.",
        spec.seed, spec.max_evaluations
    );
    out.push_str("\n[calibration]\n");
    let _ = writeln!(out, "from = {}", spec.from);
    let _ = writeln!(out, "to = {}", spec.to);
    let _ = writeln!(out, "objective = {:e}", fit.objective);
    let _ = writeln!(out, "initial_objective = {:e}", fit.initial_objective);
    let _ = writeln!(
        out,
        "evaluations = {}",
        fit.starts.iter().map(|s| s.evaluations).sum::<usize>()
    );
    out.push_str("\n[fitted]\n");
    for (name, value) in &fit.values {
        let b = spec.parameters[name];
        let _ = writeln!(
            out,
            "{} = {}  # bounds {} to {}",
            toml_key(name),
            significant(*value),
            b.min,
            b.max
        );
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
/// table, or a bare number).
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read or written; [`Error::File`] if
/// it is not TOML; [`Error::Parameter`] naming a constant the file lacks,
/// with the closest name.
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
    crate::engine::format::write_atomic(path, doc.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nelder_mead_finds_the_minimum_of_a_rosenbrock_valley() {
        let rosen = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let (x, f, evals) = nelder_mead(rosen, &[-1.2, 1.0], 0.1, 5000, 1e-14);
        assert!(f < 1e-10, "{f} at {x:?}");
        assert!(
            (x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4,
            "{x:?}"
        );
        assert!(evals <= 5000);
    }

    #[test]
    fn specs_are_checked() {
        let err = CalibrationSpec::parse(
            "[calibration]\nfrom = 2013\nto = 2010\nstrats = 3\n",
            Some("p.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("p.toml:4:1"), "{err}");
        assert!(err.contains("unknown field `strats`"), "{err}");
        assert!(err.contains("did you mean `starts`?"), "{err}");
        let err = CalibrationSpec::parse(
            "[calibration]\nfrom = 2013\nto = 2010\n[series]\nreferrals = -1\n[parameters.k]\nmin = 2\nmax = 1\n",
            Some("p.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`to` (2010) must be after `from` (2013)"),
            "{err}"
        );
        assert!(
            err.contains("p.toml:5:1: the weight of series `referrals`"),
            "{err}"
        );
        assert!(
            err.contains("p.toml:6:13: parameter `k` needs finite bounds"),
            "{err}"
        );
    }

    #[test]
    fn significant_figures() {
        assert_eq!(significant(0.0812345678), "0.0812346");
        assert_eq!(significant(16.0), "16.0");
        assert_eq!(significant(1234567.0), "1234567.0");
    }
}
