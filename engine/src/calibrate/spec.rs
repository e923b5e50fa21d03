//! Calibration specs: what to fit, to what, and how hard to search, read
//! from TOML with located errors.

use super::bayes::{Basis, Likelihood, Mcmc, Prior, Shape};
use super::optimise::{Bounds, Search};
use crate::error::{Error, Location, Result};
use crate::projection::Periods;
use indexmap::IndexMap;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// What to fit, to what, and how hard to search. Read one with
/// [`CalibrationSpec::parse`] or [`CalibrationSpec::load`], or build one
/// with [`CalibrationSpec::new`]; each checks it.
///
/// A spec file looks like this (every `[calibration]` field is optional;
/// `from` and `to` are period labels, and without them the caller's
/// periods are fitted):
///
/// ```toml
/// [calibration]
/// from = 0               # the first period: the model starts from its stocks
/// to = 60                # the last period fitted (hold periods out with an earlier one)
/// starts = 8             # Nelder-Mead starts (default 8)
/// seed = 1               # for the random starts (default 1)
/// max_evaluations = 2000 # per start (default 2000)
/// tolerance = 1e-9       # relative spread of the simplex that stops a start
///
/// [series]               # projection column = weight
/// infected = 2
/// recovered = 1
///
/// [parameters."contact infectivity"]
/// min = 0.05
/// max = 1.0
/// ```
///
/// For a posterior (`carecascade calibrate --posterior`) a parameter's
/// table may also give its prior's shape inside the bounds and its basis,
/// and two more tables set the observation model and the sampler (every
/// field optional; the defaults are shown):
///
/// ```toml
/// [parameters."contact infectivity"]
/// min = 0.05
/// max = 1.0
/// prior = "normal"       # "uniform" (default), "normal" (mean, sd) or "lognormal" (median, sd_log)
/// mean = 0.3
/// sd = 0.1
/// basis = "source"       # or "assumption" (default): said wherever the prior is reported
/// note = "Smith 2020, table 2"
///
/// [likelihood]
/// error = "lognormal"    # the observation model (the only one so far)
/// restart = "none"       # or "each period": runs start from every fitted period's data
/// horizon = 1            # with restarts, periods each run goes ahead
///
/// [mcmc]
/// walkers = 32
/// steps = 2000
/// burn = 1000
/// thin = 5
/// seed = 1
/// keep = 1000            # draws written
/// differential = 0       # share of differential-evolution moves (0-1); the rest are stretch moves
/// max_rhat = 1.05        # refuse the posterior above this split R-hat
/// min_ess = 200          # or below this effective sample size
/// ```
///
/// Series weights are not used by the posterior: each series' error scale
/// is estimated instead (see [`crate::calibrate::LogPosterior`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationSpec {
    /// The label of the first period (whose row holds the starting levels);
    /// `None` for the start of the caller's periods.
    pub from: Option<f64>,
    /// The label of the last period fitted; `None` for the end of the
    /// caller's periods.
    pub to: Option<f64>,
    /// Number of Nelder-Mead starts.
    pub starts: usize,
    /// Seed of the random starts.
    pub seed: u64,
    /// Objective evaluations allowed per start.
    pub max_evaluations: usize,
    /// Stop a start when the objective varies less than this across the
    /// simplex (relative).
    pub tolerance: f64,
    /// Observed series (projection columns) and their weights.
    pub series: IndexMap<String, f64>,
    /// Parameters fitted and their bounds.
    pub parameters: IndexMap<String, Bounds>,
    /// Each parameter's prior (uniform between its bounds unless the spec
    /// gives a shape), in the order of `parameters`.
    pub priors: IndexMap<String, Prior>,
    /// The observation model of a posterior.
    pub likelihood: Likelihood,
    /// The sampler of a posterior.
    pub mcmc: Mcmc,
    /// Draws a posterior keeps.
    pub keep: usize,
    /// Where the keys are in the spec's file, if it came from one.
    keys: Keys,
    /// Problems with priors found while reading, by parameter.
    prior_problems: Vec<(String, String)>,
}

/// Draws a posterior keeps when the spec does not say.
pub const DEFAULT_KEEP: usize = 1000;

/// Where a spec's keys are in its file.
#[derive(Debug, Clone, Default, PartialEq)]
struct Keys {
    from: Option<Location>,
    to: Option<Location>,
    starts: Option<Location>,
    tolerance: Option<Location>,
    series_table: Option<Location>,
    parameters_table: Option<Location>,
    likelihood: Option<Location>,
    mcmc: Option<Location>,
    series: IndexMap<String, Location>,
    parameters: IndexMap<String, Location>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    #[serde(default)]
    calibration: Settings,
    #[serde(default)]
    series: IndexMap<String, f64>,
    #[serde(default)]
    parameters: IndexMap<String, RawParameter>,
    #[serde(default)]
    likelihood: RawLikelihood,
    #[serde(default)]
    mcmc: RawMcmc,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParameter {
    min: f64,
    max: f64,
    prior: Option<PriorShape>,
    mean: Option<f64>,
    sd: Option<f64>,
    median: Option<f64>,
    sd_log: Option<f64>,
    basis: Option<Basis>,
    note: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum PriorShape {
    Uniform,
    Normal,
    Lognormal,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLikelihood {
    error: Option<ErrorModel>,
    restart: Option<Restart>,
    horizon: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum ErrorModel {
    Lognormal,
}

#[derive(Deserialize, PartialEq)]
enum Restart {
    #[serde(rename = "none")]
    None,
    #[serde(rename = "each period")]
    EachPeriod,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMcmc {
    walkers: Option<usize>,
    steps: Option<usize>,
    burn: Option<usize>,
    thin: Option<usize>,
    seed: Option<u64>,
    stretch: Option<f64>,
    differential: Option<f64>,
    max_rhat: Option<f64>,
    min_ess: Option<f64>,
    keep: Option<usize>,
}

impl RawParameter {
    /// The bounds and the prior, or what is wrong with the prior.
    fn split(self) -> (Bounds, std::result::Result<Prior, String>) {
        let bounds = Bounds {
            min: self.min,
            max: self.max,
        };
        let need = |v: Option<f64>, key: &str, shape: &str| {
            v.ok_or_else(|| format!("a {shape} prior needs `{key}`"))
        };
        let stray = |keys: &[(&str, Option<f64>)], shape: &str| {
            keys.iter()
                .find(|(_, v)| v.is_some())
                .map(|(k, _)| format!("`{k}` does not apply to a {shape} prior"))
        };
        let shape = match self.prior.unwrap_or(PriorShape::Uniform) {
            PriorShape::Uniform => match stray(
                &[
                    ("mean", self.mean),
                    ("sd", self.sd),
                    ("median", self.median),
                    ("sd_log", self.sd_log),
                ],
                "uniform",
            ) {
                Some(e) => Err(e),
                None => Ok(Shape::Uniform),
            },
            PriorShape::Normal => {
                match stray(
                    &[("median", self.median), ("sd_log", self.sd_log)],
                    "normal",
                ) {
                    Some(e) => Err(e),
                    None => need(self.mean, "mean", "normal").and_then(|mean| {
                        need(self.sd, "sd", "normal").map(|sd| Shape::Normal { mean, sd })
                    }),
                }
            }
            PriorShape::Lognormal => {
                match stray(&[("mean", self.mean), ("sd", self.sd)], "log-normal") {
                    Some(e) => Err(e),
                    None => need(self.median, "median", "log-normal").and_then(|median| {
                        need(self.sd_log, "sd_log", "log-normal")
                            .map(|sd_log| Shape::LogNormal { median, sd_log })
                    }),
                }
            }
        };
        let prior = shape.and_then(|shape| {
            let prior = Prior {
                bounds,
                shape,
                basis: self.basis.unwrap_or_default(),
                note: self.note,
            };
            match prior.problem() {
                Some(p) if bounds.is_valid() => Err(p),
                _ => Ok(prior),
            }
        });
        (bounds, prior)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Settings {
    from: Option<f64>,
    to: Option<f64>,
    starts: Option<usize>,
    seed: Option<u64>,
    max_evaluations: Option<usize>,
    tolerance: Option<f64>,
}

/// Which key of a spec a problem is about.
enum Key<'a> {
    From,
    To,
    Starts,
    Tolerance,
    SeriesTable,
    ParametersTable,
    Series(&'a str),
    Parameter(&'a str),
    Likelihood,
    Mcmc,
}

impl CalibrationSpec {
    /// A spec fitting `parameters` to `series` over the caller's periods,
    /// with the default [`Search`]. Set the public fields to change the
    /// window or the search.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for empty `series` or `parameters`, negative
    /// weights, and bounds that are not `min < max`.
    pub fn new(
        series: IndexMap<String, f64>,
        parameters: IndexMap<String, Bounds>,
    ) -> Result<CalibrationSpec> {
        let search = Search::default();
        let spec = CalibrationSpec {
            from: None,
            to: None,
            starts: search.starts,
            seed: search.seed,
            max_evaluations: search.max_evaluations,
            tolerance: search.tolerance,
            priors: parameters
                .iter()
                .map(|(n, b)| (n.clone(), Prior::uniform(*b)))
                .collect(),
            series,
            parameters,
            likelihood: Likelihood::default(),
            mcmc: Mcmc::default(),
            keep: DEFAULT_KEEP,
            keys: Keys::default(),
            prior_problems: Vec::new(),
        };
        let errors = spec
            .problems()
            .into_iter()
            .map(|(_, message)| Error::Invalid {
                what: "calibration spec".into(),
                message,
            })
            .collect();
        Error::from_list(errors)?;
        Ok(spec)
    }

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
    /// negative weights, bounds that are not `min < max`, `from` and `to`
    /// out of order, and `starts` = 0.
    pub fn parse(text: &str, file: Option<&str>) -> Result<CalibrationSpec> {
        let raw: SpecFile =
            toml::from_str(text).map_err(|e| crate::format::toml_error(text, file, &e))?;
        let keys = Keys::find(text, file.map(Arc::from));
        let settings = raw.calibration;
        let search = Search::default();
        let mut parameters = IndexMap::new();
        let mut priors = IndexMap::new();
        let mut prior_problems = Vec::new();
        for (name, p) in raw.parameters {
            let (bounds, prior) = p.split();
            parameters.insert(name.clone(), bounds);
            match prior {
                Ok(prior) => {
                    priors.insert(name, prior);
                }
                Err(message) => {
                    priors.insert(name.clone(), Prior::uniform(bounds));
                    prior_problems
                        .push((name.clone(), format!("the prior of `{name}`: {message}")));
                }
            }
        }
        let defaults = Mcmc::default();
        let m = raw.mcmc;
        let mcmc = Mcmc {
            walkers: m.walkers.unwrap_or(defaults.walkers),
            steps: m.steps.unwrap_or(defaults.steps),
            burn: m.burn.unwrap_or(defaults.burn),
            thin: m.thin.unwrap_or(defaults.thin),
            seed: m.seed.unwrap_or(defaults.seed),
            stretch: m.stretch.unwrap_or(defaults.stretch),
            differential: m.differential.unwrap_or(defaults.differential),
            max_rhat: m.max_rhat.unwrap_or(defaults.max_rhat),
            min_ess: m.min_ess.unwrap_or(defaults.min_ess),
        };
        let _ = raw.likelihood.error;
        let likelihood = Likelihood {
            restart: raw.likelihood.restart == Some(Restart::EachPeriod),
            horizon: raw.likelihood.horizon.unwrap_or(1),
        };
        let spec = CalibrationSpec {
            from: settings.from,
            to: settings.to,
            starts: settings.starts.unwrap_or(search.starts),
            seed: settings.seed.unwrap_or(search.seed),
            max_evaluations: settings.max_evaluations.unwrap_or(search.max_evaluations),
            tolerance: settings.tolerance.unwrap_or(search.tolerance),
            series: raw.series,
            parameters,
            priors,
            likelihood,
            mcmc,
            keep: m.keep.unwrap_or(DEFAULT_KEEP),
            keys,
            prior_problems,
        };
        let start = || {
            let mut location = Location::of_offset(text, 0, None);
            location.file = file.map(Arc::from);
            location
        };
        let errors = spec
            .problems()
            .into_iter()
            .map(|(key, message)| Error::File {
                location: spec.location(key).cloned().unwrap_or_else(start),
                message,
            })
            .collect();
        Error::from_list(errors)?;
        Ok(spec)
    }

    /// What is wrong with the spec, and where.
    fn problems(&self) -> Vec<(Key<'_>, String)> {
        let mut problems = Vec::new();
        for (key, name, value) in [(Key::From, "from", self.from), (Key::To, "to", self.to)] {
            if value.is_some_and(|v| !v.is_finite()) {
                problems.push((key, format!("`{name}` must be a finite number")));
            }
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to <= from
        {
            problems.push((
                Key::To,
                format!("`to` ({to}) must be after `from` ({from})"),
            ));
        }
        if self.series.is_empty() {
            problems.push((
                Key::SeriesTable,
                "[series] is empty: name at least one observed column and its weight".into(),
            ));
        }
        for (name, w) in &self.series {
            if !(w.is_finite() && *w >= 0.0) {
                problems.push((
                    Key::Series(name),
                    format!("the weight of series `{name}` must be a number >= 0, not {w}"),
                ));
            }
        }
        if self.parameters.is_empty() {
            problems.push((
                Key::ParametersTable,
                "no [parameters.\"name\"] to fit: give each a `min` and `max`".into(),
            ));
        }
        for (name, b) in &self.parameters {
            if !b.is_valid() {
                problems.push((
                    Key::Parameter(name),
                    format!(
                        "parameter `{name}` needs finite bounds with min < max, not {} to {}",
                        b.min, b.max
                    ),
                ));
            }
        }
        if self.starts == 0 {
            problems.push((Key::Starts, "`starts` must be at least 1".into()));
        }
        for (name, message) in &self.prior_problems {
            problems.push((Key::Parameter(name), message.clone()));
        }
        for message in self.mcmc.problems(None) {
            problems.push((Key::Mcmc, format!("[mcmc] {message}")));
        }
        if self.keep == 0 {
            problems.push((Key::Mcmc, "[mcmc] `keep` must be at least 1".into()));
        }
        if self.likelihood.horizon == 0 {
            problems.push((
                Key::Likelihood,
                "[likelihood] `horizon` must be at least 1".into(),
            ));
        }
        if !self.likelihood.restart && self.likelihood.horizon != 1 {
            problems.push((
                Key::Likelihood,
                "[likelihood] `horizon` applies only with `restart = \"each period\"`".into(),
            ));
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            problems.push((Key::Tolerance, "`tolerance` must be >= 0".into()));
        }
        problems
    }

    fn location(&self, key: Key<'_>) -> Option<&Location> {
        let keys = &self.keys;
        match key {
            Key::From => keys.from.as_ref(),
            Key::To => keys.to.as_ref(),
            Key::Starts => keys.starts.as_ref(),
            Key::Tolerance => keys.tolerance.as_ref(),
            Key::SeriesTable => keys.series_table.as_ref(),
            Key::ParametersTable => keys.parameters_table.as_ref(),
            Key::Series(name) => keys.series.get(name),
            Key::Parameter(name) => keys.parameters.get(name),
            Key::Likelihood => keys.likelihood.as_ref(),
            Key::Mcmc => keys.mcmc.as_ref(),
        }
    }

    /// Where a series is named in the spec's file (`None` for a spec built
    /// in code).
    pub fn series_location(&self, name: &str) -> Option<&Location> {
        self.location(Key::Series(name))
    }

    /// Where a parameter is named in the spec's file (`None` for a spec
    /// built in code).
    pub fn parameter_location(&self, name: &str) -> Option<&Location> {
        self.location(Key::Parameter(name))
    }

    /// The search settings.
    pub fn search(&self) -> Search {
        Search {
            starts: self.starts,
            seed: self.seed,
            max_evaluations: self.max_evaluations,
            tolerance: self.tolerance,
        }
    }

    /// The periods fitted: `default`'s length and offset, from the spec's
    /// `from` to its `to` (each `default`'s own when not given). Row 0
    /// holds the starting levels; rows 1 and after are fitted.
    ///
    /// ```
    /// use carecascade_engine::calibrate::{Bounds, CalibrationSpec};
    /// use carecascade_engine::projection::Periods;
    ///
    /// let mut spec = CalibrationSpec::new(
    ///     [("cases".to_string(), 1.0)].into_iter().collect(),
    ///     [("rate".to_string(), Bounds::new(0.0, 1.0)?)].into_iter().collect(),
    /// )?;
    /// spec.to = Some(2020.0);
    /// let years = Periods::new(2013.0, 10)?.with_offset(0.25)?;
    /// let periods = spec.periods(&years)?;
    /// assert_eq!((periods.start(), periods.count(), periods.offset()), (2013.0, 7, 0.25));
    /// # Ok::<(), carecascade_engine::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::File`] (located at `to` when the spec came from a file) or
    /// [`Error::Invalid`] if `from` to `to` is not a whole number of
    /// periods, at least one.
    pub fn periods(&self, default: &Periods) -> Result<Periods> {
        let start = self.from.unwrap_or(default.start());
        let end = self.to.unwrap_or(default.label(default.count()));
        let length = default.length();
        let ratio = (end - start) / length;
        let count = ratio.round();
        if !(count >= 1.0 && (ratio - count).abs() <= 1e-9 * count) {
            let message = format!(
                "from {start} to {end} is not a whole number of periods of {length}, at least one"
            );
            return Err(match self.keys.to.clone().or(self.keys.from.clone()) {
                Some(location) => Error::File { location, message },
                None => Error::Invalid {
                    what: "calibration periods".into(),
                    message,
                },
            });
        }
        Periods::new(start, count as usize)?
            .with_length(length)?
            .with_offset(default.offset())
    }
}

impl Keys {
    /// The keys' locations in a text that is valid TOML.
    fn find(text: &str, file: Option<Arc<str>>) -> Keys {
        let mut keys = Keys::default();
        let Ok(doc) = toml_edit::Document::parse(text) else {
            return keys;
        };
        let at = |span: Option<std::ops::Range<usize>>| {
            span.map(|s| {
                let mut location = Location::of_offset(text, s.start, None);
                location.file = file.clone();
                location
            })
        };
        let root = doc.as_table();
        let table = |name: &str| root.get(name).and_then(|t| t.as_table_like());
        let key = |table: Option<&dyn toml_edit::TableLike>, name: &str| {
            table
                .and_then(|t| t.get_key_value(name))
                .and_then(|(k, _)| at(k.span()))
        };
        let settings = table("calibration");
        keys.from = key(settings, "from");
        keys.to = key(settings, "to");
        keys.starts = key(settings, "starts");
        keys.tolerance = key(settings, "tolerance");
        let header = |name: &str| {
            root.get_key_value(name)
                .and_then(|(k, item)| at(item.span()).or_else(|| at(k.span())))
        };
        keys.series_table = header("series");
        keys.parameters_table = header("parameters");
        keys.likelihood = header("likelihood");
        keys.mcmc = header("mcmc");
        for (field, found) in [
            ("series", &mut keys.series),
            ("parameters", &mut keys.parameters),
        ] {
            if let Some(t) = table(field) {
                for (name, _) in t.iter() {
                    if let Some(location) = key(Some(t), name) {
                        found.insert(name.to_string(), location);
                    }
                }
            }
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "[calibration]\nfrom = 2013\nto = 2010\n[series]\ncases = -1\n[parameters.k]\nmin = 2\nmax = 1\n",
            Some("p.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("p.toml:3:1: `to` (2010) must be after `from` (2013)"),
            "{err}"
        );
        assert!(
            err.contains("p.toml:5:1: the weight of series `cases`"),
            "{err}"
        );
        assert!(
            err.contains("p.toml:6:13: parameter `k` needs finite bounds"),
            "{err}"
        );
        let err = CalibrationSpec::parse("# nothing\n[calibration]\nstarts = 0\n", Some("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.toml:1:1: [series] is empty"), "{err}");
        assert!(
            err.contains("p.toml:3:1: `starts` must be at least 1"),
            "{err}"
        );
    }

    #[test]
    fn keys_are_located_even_when_quoted_or_after_comments() {
        let text = "# [series] in a comment, x\n[series]\n\"a b\" = 1\nx = 2\n\n[parameters.\"k 1\"]\nmin = 0\nmax = 1\n";
        let spec = CalibrationSpec::parse(text, Some("s.toml")).unwrap();
        assert_eq!(
            spec.series_location("a b").unwrap().to_string(),
            "s.toml:3:1"
        );
        assert_eq!(spec.series_location("x").unwrap().to_string(), "s.toml:4:1");
        assert_eq!(
            spec.parameter_location("k 1").unwrap().to_string(),
            "s.toml:6:13"
        );
        assert_eq!(spec.search(), Search::default());
        assert_eq!((spec.from, spec.to), (None, None));
    }

    #[test]
    fn windows_are_whole_numbers_of_periods() {
        let mut spec = CalibrationSpec::new(
            [("x".to_string(), 1.0)].into_iter().collect(),
            [("k".to_string(), Bounds::new(0.0, 1.0).unwrap())]
                .into_iter()
                .collect(),
        )
        .unwrap();
        let default = Periods::new(0.0, 10).unwrap().with_length(0.5).unwrap();
        let p = spec.periods(&default).unwrap();
        assert_eq!((p.start(), p.count(), p.length()), (0.0, 10, 0.5));
        spec.from = Some(1.0);
        spec.to = Some(3.0);
        assert_eq!(spec.periods(&default).unwrap().count(), 4);
        spec.to = Some(3.25);
        let err = spec.periods(&default).unwrap_err().to_string();
        assert!(err.contains("not a whole number of periods"), "{err}");
        assert!(CalibrationSpec::new(IndexMap::new(), IndexMap::new()).is_err());
    }
}
