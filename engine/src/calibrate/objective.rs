//! Fitting a compiled model's constants to observed series: the objective,
//! the fit and its errors.

use super::optimise::{Bounds, Search, Start, multi_start};
use super::spec::CalibrationSpec;
use crate::error::{Error, Location, Result};
use crate::name::{canonical_name, closest, did_you_mean};
use crate::projection::{Periods, Projection, Projector};
use crate::{ParamId, Program};
use indexmap::IndexMap;

/// Observed series: for each name (a projection column), its values by
/// period label. A period without a value is simply absent.
///
/// ```
/// use carecascade_engine::calibrate::Observations;
///
/// let mut observed = Observations::new("survey.csv");
/// observed.insert("infected", [(1.0, 12.0), (2.0, 30.0), (3.0, f64::NAN)]);
/// assert_eq!(observed.get("Infected", 2.0), Some(30.0));
/// assert_eq!(observed.get("infected", 3.0), None); // NaN is missing
/// assert!(observed.series("infectd").unwrap_err().to_string().contains("did you mean `infected`?"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observations {
    source: String,
    series: IndexMap<String, Vec<(f64, f64)>>,
}

impl Observations {
    /// No series yet; `source` names the data in error messages.
    pub fn new(source: impl Into<String>) -> Observations {
        Observations {
            source: source.into(),
            series: IndexMap::new(),
        }
    }

    /// Adds a series of (period label, value) pairs, replacing any of the
    /// same name (names compare as model names do: case-insensitive, spaces
    /// and underscores alike). Values that are not finite count as missing
    /// and are left out.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        points: impl IntoIterator<Item = (f64, f64)>,
    ) -> &mut Observations {
        let name = name.into();
        let points: Vec<(f64, f64)> = points.into_iter().filter(|(_, v)| v.is_finite()).collect();
        match self.position(&name) {
            Some(i) => {
                self.series.shift_remove_index(i);
                self.series.shift_insert(i, name, points);
            }
            None => {
                self.series.insert(name, points);
            }
        }
        self
    }

    /// Where the data came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The series' names, in the order added.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.series.keys().map(String::as_str)
    }

    fn position(&self, name: &str) -> Option<usize> {
        let wanted = canonical_name(name);
        self.series.keys().position(|n| canonical_name(n) == wanted)
    }

    /// One series by name: its (label, value) pairs.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the closest series if there is none of
    /// that name.
    pub fn series(&self, name: &str) -> Result<&[(f64, f64)]> {
        match self.position(name) {
            Some(i) => Ok(&self.series[i]),
            None => Err(Error::Invalid {
                what: "observed series".into(),
                message: format!(
                    "{} has no series `{name}`{}",
                    self.source,
                    did_you_mean(closest(name, self.names()))
                ),
            }),
        }
    }

    /// The value of a series in the period with this label, if observed.
    pub fn get(&self, name: &str, label: f64) -> Option<f64> {
        value_at(self.series(name).ok()?, label)
    }
}

/// The value at a label, labels comparing as [`Projection::row`] does.
fn value_at(points: &[(f64, f64)], label: f64) -> Option<f64> {
    points
        .iter()
        .find(|(l, _)| (l - label).abs() <= 1e-9 * l.abs().max(1.0))
        .map(|(_, v)| *v)
}

/// Mean absolute percentage error (in percent) of a projected column
/// against the observed series of the same name over the periods
/// `labels`, skipping periods without a value, or with 0. `None` when no
/// period has both.
pub fn mape(
    projection: &Projection,
    column: &str,
    observed: &Observations,
    labels: &[f64],
) -> Option<f64> {
    let series = observed.series(column).ok()?;
    let mut total = 0.0;
    let mut n = 0;
    for &label in labels {
        if let (Some(m), Some(o)) = (projection.get(column, label), value_at(series, label))
            && o != 0.0
        {
            total += ((m - o) / o).abs();
            n += 1;
        }
    }
    (n > 0).then(|| 100.0 * total / n as f64)
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
    /// fitted periods, at the fitted values.
    pub mape: IndexMap<String, f64>,
    /// The periods of the projection: the first holds the starting levels,
    /// the others were fitted.
    pub periods: Periods,
    /// The projection at the fitted values.
    pub projection: Projection,
}

/// A fitted series: its column, its weight, and the observed values by row
/// of the projection.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) column: String,
    pub(crate) weight: f64,
    /// (projection row, observed value), the fitted rows only.
    pub(crate) points: Vec<(usize, f64)>,
}

/// A fitting problem: a compiled model, the constants fitted and their
/// bounds, the periods, and the observed series with their weights.
///
/// The objective is the weighted sum, over the series, of the mean squared
/// *relative* error over the fitted periods (rows 1 and after of the
/// projection; row 0 holds the starting levels):
///
/// `J = sum_s w_s * mean_p ((model_s(p) - observed_s(p)) / observed_s(p))^2`
///
/// Periods without an observed value, or with 0, are skipped.
#[derive(Debug, Clone)]
pub struct Problem<'a> {
    pub(crate) program: &'a Program,
    pub(crate) projector: &'a Projector,
    pub(crate) periods: Periods,
    pub(crate) names: Vec<String>,
    pub(crate) ids: Vec<ParamId>,
    pub(crate) bounds: Vec<Bounds>,
    pub(crate) targets: Vec<Target>,
}

impl<'a> Problem<'a> {
    /// Sets up the fit of `spec`'s parameters of `program` to its series of
    /// `observed`, projected with `projector` over `spec`'s window of
    /// `periods` (see [`CalibrationSpec::periods`]).
    ///
    /// # Errors
    ///
    /// Every problem at once: a parameter the model does not have as a
    /// constant and a series that is not a column of the projection or not
    /// in `observed` (each with the closest name, located in the spec's
    /// file when it came from one), or that has no value in the fitted
    /// periods; and the errors of [`CalibrationSpec::periods`].
    pub fn new(
        program: &'a Program,
        projector: &'a Projector,
        periods: &Periods,
        observed: &Observations,
        spec: &CalibrationSpec,
    ) -> Result<Problem<'a>> {
        let periods = spec.periods(periods)?;
        let located = |location: Option<&Location>, error: Error, message: String| match location {
            Some(location) => Error::File {
                location: location.clone(),
                message,
            },
            None => error,
        };
        let mut errors = Vec::new();
        let mut ids = Vec::new();
        for name in spec.parameters.keys() {
            match program.parameter(name) {
                Ok(id) => ids.push(id),
                Err(e) => {
                    let message = match &e {
                        Error::Parameter {
                            reason, suggestion, ..
                        } => format!(
                            "cannot fit `{name}`: {reason}{}",
                            did_you_mean(suggestion.clone())
                        ),
                        other => other.to_string(),
                    };
                    errors.push(located(spec.parameter_location(name), e, message));
                }
            }
        }
        let columns = projector.columns();
        let mut targets = Vec::new();
        for (column, &weight) in &spec.series {
            let at = spec.series_location(column);
            if !columns.iter().any(|c| c == column) {
                let message = format!(
                    "the model's projection has no column `{column}`{}",
                    did_you_mean(closest(column, columns.iter().map(String::as_str)))
                );
                let error = Error::Invalid {
                    what: format!("series `{column}`"),
                    message: message.clone(),
                };
                errors.push(located(at, error, message));
                continue;
            }
            let series = match observed.series(column) {
                Ok(s) => s,
                Err(e) => {
                    let message = match &e {
                        Error::Invalid { message, .. } => message.clone(),
                        other => other.to_string(),
                    };
                    errors.push(located(at, e, message));
                    continue;
                }
            };
            let points: Vec<(usize, f64)> = (1..=periods.count())
                .filter_map(|row| {
                    value_at(series, periods.label(row))
                        .filter(|v| *v != 0.0)
                        .map(|v| (row, v))
                })
                .collect();
            if points.is_empty() {
                let message = format!(
                    "{} has no value of `{column}` (other than 0) in {}-{}",
                    observed.source(),
                    periods.label(1),
                    periods.label(periods.count())
                );
                let error = Error::Invalid {
                    what: format!("series `{column}`"),
                    message: message.clone(),
                };
                errors.push(located(at, error, message));
                continue;
            }
            targets.push(Target {
                column: column.clone(),
                weight,
                points,
            });
        }
        Error::from_list(errors)?;
        Ok(Problem {
            program,
            projector,
            periods,
            names: spec.parameters.keys().cloned().collect(),
            ids,
            bounds: spec.parameters.values().copied().collect(),
            targets,
        })
    }

    /// The parameters fitted, in order.
    pub fn parameters(&self) -> &[String] {
        &self.names
    }

    /// Their bounds, in the same order.
    pub fn bounds(&self) -> &[Bounds] {
        &self.bounds
    }

    /// The periods projected: row 0 holds the starting levels, the others
    /// are fitted.
    pub fn periods(&self) -> &Periods {
        &self.periods
    }

    /// The labels of the fitted periods.
    pub fn fitted_labels(&self) -> Vec<f64> {
        (1..=self.periods.count())
            .map(|k| self.periods.label(k))
            .collect()
    }

    /// The model's own values of the parameters.
    pub fn model_values(&self) -> Vec<f64> {
        let state = self.program.state();
        // The ids are this program's, so every one is found.
        self.ids
            .iter()
            .map(|id| state.param(*id).unwrap_or(f64::NAN))
            .collect()
    }

    /// The projection with the parameters at `values` (in the order of
    /// [`Problem::parameters`]).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`](crate::Error::Invalid) for a number of values
    /// other than the number of parameters; the value's and the run's
    /// errors.
    pub fn projection(&self, values: &[f64]) -> Result<Projection> {
        if values.len() != self.ids.len() {
            return Err(crate::Error::Invalid {
                what: "parameter values".into(),
                message: format!("{} values for {} parameters", values.len(), self.ids.len()),
            });
        }
        let mut state = self.program.state();
        for (id, v) in self.ids.iter().zip(values) {
            state.set_param(*id, *v)?;
        }
        self.projector.project(&mut state, &self.periods)
    }

    /// The objective at parameter values; a failed run, or a series with a
    /// missing or non-finite value where one is observed, is infinitely
    /// bad.
    pub fn objective(&self, values: &[f64]) -> f64 {
        let Ok(p) = self.projection(values) else {
            return f64::INFINITY;
        };
        let mut total = 0.0;
        for target in &self.targets {
            let Some(model) = p.column(&target.column) else {
                return f64::INFINITY;
            };
            let mut sum = 0.0;
            for &(row, o) in &target.points {
                match model[row] {
                    Some(m) if m.is_finite() => sum += ((m - o) / o).powi(2),
                    _ => return f64::INFINITY,
                }
            }
            total += target.weight * sum / target.points.len() as f64;
        }
        total
    }

    /// Searches from the model's own values (clamped into the bounds) and
    /// `search.starts - 1` others (see [`multi_start`]), and returns the
    /// best fit with the errors of each series there.
    ///
    /// # Errors
    ///
    /// The error of the model's own values if they do not run, and of
    /// [`multi_start`].
    pub fn solve(&self, search: &Search, observed: &Observations) -> Result<Fit> {
        let own = self.model_values();
        self.projection(&own)?;
        let initial_objective = self.objective(&own);
        let starts = multi_start(|v| self.objective(v), &self.bounds, &own, search)?;
        let best = &starts[0];
        let projection = self.projection(&best.values)?;
        let labels = self.fitted_labels();
        let mape = self
            .targets
            .iter()
            .filter_map(|t| {
                mape(&projection, &t.column, observed, &labels).map(|m| (t.column.clone(), m))
            })
            .collect();
        Ok(Fit {
            values: self
                .names
                .iter()
                .cloned()
                .zip(best.values.iter().copied())
                .collect(),
            objective: best.objective,
            initial_objective,
            mape,
            periods: self.periods,
            projection,
            starts,
        })
    }
}

/// Fits `spec`'s parameters of `program` to `observed`: the model is
/// projected with `projector` over `spec`'s window of `periods` (`periods`
/// itself when the spec has no `from` and `to`), and the weighted relative
/// least squares of [`Problem`] minimised by [`multi_start`].
///
/// # Errors
///
/// As [`Problem::new`] and [`Problem::solve`].
pub fn calibrate(
    program: &Program,
    projector: &Projector,
    periods: &Periods,
    observed: &Observations,
    spec: &CalibrationSpec,
) -> Result<Fit> {
    Problem::new(program, projector, periods, observed, spec)?.solve(&spec.search(), observed)
}
