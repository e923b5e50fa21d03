//! Calibration to DfE's published statistics: the engine's
//! [`engine::calibrate`](crate::engine::calibrate) with reporting years and
//! DfE's indicators.
//!
//! The engine fits chosen constants by weighted least squares of relative
//! errors, with Nelder-Mead from several reproducible starts (see its
//! documentation for the objective and the search). This module supplies
//! what is specific to the published data: [`Observed`] series by
//! reporting year, the reporting years ending 31 March
//! ([`crate::project::reporting_years`]) as the periods, and the DfE
//! indicators ([`crate::project::projector`]) as the projection. A spec
//! without `from` and `to` fits 2014-2023 from the stocks of 31 March
//! 2013.
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
use crate::engine::calibrate::{self as general, Observations};
use crate::engine::projection::{Periods, Projection};
use crate::engine::{Model, Program, Result};
use indexmap::IndexMap;
use std::path::Path;

pub use crate::engine::calibrate::{
    Bounds, CalibrationSpec, Fit, Posterior, Sampled, Search, Start, nelder_mead,
};

/// The first reporting year when a spec has no `from`.
pub const DEFAULT_FROM: i32 = 2013;
/// The last reporting year fitted when a spec has no `to`.
pub const DEFAULT_TO: i32 = 2023;

/// The first and last reporting year of a spec: its `from` (whose 31 March
/// stocks the model starts from) and `to`, or [`DEFAULT_FROM`] and
/// [`DEFAULT_TO`].
pub fn years(spec: &CalibrationSpec) -> (i32, i32) {
    let year = |label: Option<f64>, default: i32| label.map_or(default, |y| y.round() as i32);
    (year(spec.from, DEFAULT_FROM), year(spec.to, DEFAULT_TO))
}

/// The observed series as the engine's observations, labelled by
/// reporting year; years without a published value are left out.
pub fn observations(observed: &Observed) -> Observations {
    let mut out = Observations::new(observed.source());
    for name in observed.names() {
        if let Ok(series) = observed.series(name) {
            out.insert(
                name.clone(),
                series.observed().map(|(y, v)| (f64::from(y), v)),
            );
        }
    }
    out
}

/// The default window: reporting years 2014-2023 from 31 March 2013.
fn default_years() -> Result<Periods> {
    crate::project::reporting_years(DEFAULT_FROM, (DEFAULT_TO - DEFAULT_FROM) as usize)
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
    let mut one = Observations::new(observed.source());
    one.insert(column, series.observed().map(|(y, v)| (f64::from(y), v)));
    let labels: Vec<f64> = years.iter().map(|&y| f64::from(y)).collect();
    general::mape(projection, column, &one, &labels)
}

/// Fits the spec's parameters of `model` to `observed`, projecting the
/// model by reporting year with DfE's indicators.
///
/// # Errors
///
/// The model's compile errors; as
/// [`engine::calibrate::calibrate`](general::calibrate): a parameter the
/// model does not have, a series that is not in the data or not a
/// projection column (each with the closest name), or that has no
/// published value in the fitted years; and the error of the model's own
/// values if they do not run.
pub fn calibrate(model: &Model, observed: &Observed, spec: &CalibrationSpec) -> Result<Fit> {
    let program = Program::compile(model)?;
    let projector = crate::project::projector(&program);
    general::calibrate(
        &program,
        &projector,
        &default_years()?,
        &observations(observed),
        spec,
    )
}

/// Samples the posterior of the spec's parameters of `model` given
/// `observed` (see [`engine::calibrate::posterior`](general::posterior)):
/// the spec's priors, observation model and sampler, by reporting year
/// with DfE's indicators; restarts are checked against the model's
/// starting data.
///
/// # Errors
///
/// As [`calibrate`] and the engine's `posterior`. The result is returned
/// even if the chains have not converged: see `Sampled::check`.
pub fn posterior(model: &Model, observed: &Observed, spec: &CalibrationSpec) -> Result<Sampled> {
    posterior_from(model, observed, spec, None, &mut |_, _| {})
}

/// [`posterior`] with the walkers started from draws of an earlier
/// posterior (`warm_start`) rather than around a fresh mode search, and
/// `progress(done, steps)` called after every sampler step.
///
/// # Errors
///
/// As [`posterior`]; an earlier posterior without every parameter, or with
/// draws outside the spec's bounds.
pub fn posterior_from(
    model: &Model,
    observed: &Observed,
    spec: &CalibrationSpec,
    warm_start: Option<&Posterior>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Sampled> {
    let program = Program::compile(model)?;
    let projector = crate::project::projector(&program);
    general::posterior(
        &program,
        &projector,
        &default_years()?,
        &observations(observed),
        spec,
        general::Sampling {
            start_data: model.start_data().as_ref(),
            warm_start,
            progress: Some(progress),
        },
    )
}

/// Writes a fit as TOML: the fitted values, the objective, the error per
/// series and every start, with how it was obtained.
pub fn fit_to_toml(fit: &Fit, spec: &CalibrationSpec, how: &str) -> String {
    general::fit_to_toml(fit, spec, how, "reporting years")
}

/// Sets constants' values in a native model file in place, keeping its
/// comments and layout; see
/// [`engine::calibrate::update_model_file`](general::update_model_file).
///
/// # Errors
///
/// As the engine's.
pub fn update_model_file(path: impl AsRef<Path>, values: &IndexMap<String, f64>) -> Result<()> {
    general::update_model_file(path, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_are_the_published_years() {
        let england = Observed::england().unwrap();
        let obs = observations(&england);
        assert_eq!(obs.get("cla_at_31_march", 2023.0), Some(83_750.0));
        // CLA starts for 2015 were not published.
        assert_eq!(obs.get("cla_started", 2015.0), None);
        assert_eq!(obs.names().count(), england.names().len());
        let spec = CalibrationSpec::parse(
            "[calibration]\nto = 2020\n[series]\nreferrals = 1\n[parameters.k]\nmin = 0\nmax = 1\n",
            None,
        )
        .unwrap();
        assert_eq!(years(&spec), (2013, 2020));
    }
}
