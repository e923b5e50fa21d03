//! Scenario files: a model, a window of periods, policies that change
//! parameters over time, uncertain parameters with distributions, what to
//! report, and Monte Carlo settings. See `docs/scenarios.md` for the format.
//!
//! A file is read into [`ScenarioFile`] (serde, unknown fields refused with
//! their line and the closest valid field), merged with the file it
//! `extends` and with its profile (a [`Library`] entry), and converted into a
//! validated [`Scenario`]. [`Scenario::prepare`] then loads the model,
//! applies the policies and resolves every name against it, giving a
//! [`Prepared`] scenario that sets up each run of an ensemble.
//!
//! Any model works: the SIR model of the conformance suite, with the
//! number infected at the end of each day and the peak over every step:
//!
//! ```
//! use carecascade_engine::scenario::Scenario;
//!
//! let text = r#"
//!     model = "conformance/SIR/SIR.xmile"
//!     [time]
//!     horizon = 20            # days from the model's start
//!     [report]
//!     indicators = ["Infectious", "Succumbing"]
//!     [report.scalars.peak_infectious]
//!     variable = "Infectious"
//!     reduce = "max"
//!     [uncertain."Contact Infectivity"]
//!     distribution = "uniform"
//!     min = 0.2
//!     max = 0.4
//! "#;
//! let mut scenario = Scenario::parse(text, "sir-scenario.toml")?;
//! scenario.set_base_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests"));
//! let prepared = scenario.prepare()?;
//! assert_eq!(prepared.indicators(), ["Infectious", "Succumbing"]);
//! assert_eq!(prepared.periods().count(), 20);
//! # Ok::<(), carecascade_engine::Error>(())
//! ```

pub mod distribution;
mod file;
mod library;
mod policy;
mod prepare;

pub use distribution::{Distribution, DistributionSpec};
pub use file::{
    CompareSpec, Header, MonteCarloSpec, OutputSpec, PolicySpec, PosteriorSpec, ReportSpec,
    ScalarSpec, ScenarioFile, TimeSpec, merge,
};
pub use library::Library;
pub use policy::{Effect, Policy, PolicyShape};
pub(crate) use prepare::Resolved;
pub use prepare::{PosteriorDraws, Prepared, ScalarSource};

use crate::error::{Error, Result};
use crate::name::{closest, did_you_mean};
use crate::projection::{Indicator, Measure};
use file::{Source, locate};
use indexmap::IndexMap;
use std::path::{Path, PathBuf};

/// How uncertain parameters are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sampling {
    /// Independent draws per run.
    Random,
    /// A Latin hypercube over the runs: each parameter's range is cut into
    /// as many equally likely strata as runs, one draw in each.
    LatinHypercube,
}

impl Sampling {
    /// `random` or `latin_hypercube`, as in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Sampling::Random => "random",
            Sampling::LatinHypercube => "latin_hypercube",
        }
    }
}

impl std::fmt::Display for Sampling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a scalar reduces its indicator or variable to one number per run.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Reduce {
    /// The sum over the periods after the start.
    Sum,
    /// The sum over the periods after the start, the `k`-th (from 0)
    /// divided by `(1 + rate)^k`: a net present value with the first period
    /// undiscounted.
    Discounted {
        /// The discount rate per period.
        rate: f64,
    },
    /// The mean over the periods after the start.
    Mean,
    /// The largest value (over periods, or over every step of a variable).
    Max,
    /// The smallest value (over periods, or over every step of a variable).
    Min,
    /// The value in the last period.
    Final,
}

/// A validated `[report.scalars]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    name: String,
    source: ScalarSource,
    reduce: Reduce,
}

impl Scalar {
    /// Its name (a column of `runs.csv`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it reduces.
    pub fn source(&self) -> &ScalarSource {
        &self.source
    }

    /// How.
    pub fn reduce(&self) -> Reduce {
        self.reduce
    }
}

/// The `[compare]` settings, validated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompareSettings {
    cost: Option<String>,
    discount_rate: f64,
    cumulative: Vec<String>,
}

impl CompareSettings {
    /// The cost indicator, if any.
    pub fn cost(&self) -> Option<&str> {
        self.cost.as_deref()
    }

    /// The discount rate per period for the cost.
    pub fn discount_rate(&self) -> f64 {
        self.discount_rate
    }

    /// Indicators whose cumulative paired differences are reported.
    pub fn cumulative(&self) -> &[String] {
        &self.cumulative
    }
}

/// A validated scenario: every field checked, nothing that can bypass the
/// checks. Change the number of runs or the seed with
/// [`Scenario::with_runs`] and [`Scenario::with_seed`].
#[derive(Debug, Clone)]
pub struct Scenario {
    name: String,
    question: String,
    sources: Vec<String>,
    model: String,
    base_dir: PathBuf,
    /// The file of the chain that names the model (for errors).
    model_source: Option<Source>,
    /// The files of the chain, the child first (for errors that name a
    /// field, such as a parameter the model does not have).
    chain: Vec<Source>,
    library: Library,
    start: Option<f64>,
    horizon: Option<usize>,
    period: f64,
    offset: f64,
    label: String,
    dt: Option<f64>,
    parameters: IndexMap<String, f64>,
    policies: Vec<Policy>,
    uncertain: IndexMap<String, Distribution>,
    /// A posterior file to draw parameters from, one draw per run
    /// (relative to `base_dir` unless a parent file made it absolute).
    posterior: Option<PathBuf>,
    /// The file of the chain that names the posterior (for errors).
    posterior_source: Option<Source>,
    /// A posterior by group (`[posterior] groups`), as `posterior`.
    group_posterior: Option<PathBuf>,
    /// Draws given in place of the posterior file (one group's, see
    /// [`Scenario::with_posterior_draws`]), with what they are.
    posterior_draws: Option<(crate::calibrate::Posterior, String)>,
    /// Named indicators, and whether their measure is to come from the
    /// variable's kind (none was written).
    outputs: Vec<(Indicator, bool)>,
    runs: usize,
    seed: u64,
    sampling: Sampling,
    indicators: Option<Vec<String>>,
    quantiles: Vec<f64>,
    scalars: Vec<Scalar>,
    compare: CompareSettings,
}

/// The quantiles reported when a scenario does not say.
pub const DEFAULT_QUANTILES: &[f64] = &[0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95];

/// The most runs an ensemble may have (each run keeps its values by
/// period; ten million runs of a dozen indicators over ten periods is
/// about 10 GB, so the memory limit
/// [`crate::ensemble::MAX_ENSEMBLE_BYTES`] usually binds first).
pub const MAX_RUNS: usize = 10_000_000;

/// The most periods a scenario may run.
pub const MAX_PERIODS: usize = 10_000;

const REDUCE_NAMES: &[&str] = &["sum", "discounted", "mean", "max", "min", "final"];

impl Scenario {
    /// Reads a scenario file, and the files it extends, with no built-in
    /// models or profiles.
    ///
    /// # Errors
    ///
    /// As [`Scenario::load_with`].
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario> {
        Scenario::load_with(path, &Library::new())
    }

    /// Reads a scenario file and the files it extends; `library` gives the
    /// built-in models and profiles its names may refer to.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] for a file that cannot be read; [`Error::File`] with
    /// the file, line and column for malformed TOML, unknown fields (with
    /// the closest valid one), an `extends` cycle, and values that are not
    /// valid (naming the field).
    pub fn load_with(path: impl AsRef<Path>, library: &Library) -> Result<Scenario> {
        let path = path.as_ref();
        let (file, sources) = file::load_chain(path, &mut Vec::new())?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Scenario::from_file(file, base_dir, &sources, path, library)
    }

    /// Parses a scenario from text (no `extends`), with no built-in models
    /// or profiles. `name` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`Scenario::load_with`].
    pub fn parse(text: &str, name: &str) -> Result<Scenario> {
        Scenario::parse_with(text, name, &Library::new())
    }

    /// Parses a scenario from text (no `extends`) with a library.
    ///
    /// # Errors
    ///
    /// As [`Scenario::load_with`].
    pub fn parse_with(text: &str, name: &str, library: &Library) -> Result<Scenario> {
        let source = Source {
            name: name.into(),
            text: text.into(),
        };
        let file = file::parse_text(text, name)?;
        if file.extends.is_some() {
            return Err(source.error(
                "extends",
                "`extends` needs a scenario read from a file".into(),
            ));
        }
        Scenario::from_file(file, PathBuf::new(), &[source], Path::new(name), library)
    }

    /// Validates a scenario built in code (paths are relative to the
    /// current directory; `extends` is not followed).
    ///
    /// # Errors
    ///
    /// As [`Scenario::load_with`], without file locations.
    pub fn from_spec(file: ScenarioFile, library: &Library) -> Result<Scenario> {
        Scenario::from_file(file, PathBuf::new(), &[], Path::new("scenario"), library)
    }

    fn from_file(
        file: ScenarioFile,
        base_dir: PathBuf,
        sources: &[Source],
        path: &Path,
        library: &Library,
    ) -> Result<Scenario> {
        let at = |needle: &str, message: String| locate(sources, needle, message);
        // The profile: named, or the built-in model's.
        let model = file
            .model
            .clone()
            .or_else(|| library.default_model().map(str::to_string));
        let profile = file.profile.clone().or_else(|| {
            model
                .as_deref()
                .and_then(|m| library.profile_of_model(m))
                .map(str::to_string)
        });
        let file = match &profile {
            Some(name) => {
                let defaults = library
                    .profile(name)
                    .map_err(|e| at("profile", e.to_string()))?;
                file::merge(defaults.clone(), file)
            }
            None => file,
        };
        let mut errors = Vec::new();
        let Some(model) = model else {
            return Err(at(
                "",
                "a scenario needs `model = \"...\"`: a model file (relative to the scenario) or a built-in model".into(),
            ));
        };
        let header = file.scenario.clone().unwrap_or_default();
        let name = header.name.unwrap_or_else(|| {
            path.file_stem()
                .map_or("scenario".into(), |s| s.to_string_lossy().to_string())
        });
        let time = file.time.clone().unwrap_or_default();
        if let Some(start) = time.start
            && !start.is_finite()
        {
            errors.push(at(
                "start",
                format!("[time] start must be a finite number, not {start}"),
            ));
        }
        if let Some(horizon) = time.horizon
            && (horizon == 0 || horizon > MAX_PERIODS)
        {
            errors.push(at(
                "horizon",
                format!("[time] horizon must be 1 to {MAX_PERIODS} periods, not {horizon}"),
            ));
        }
        let period = time.period.unwrap_or(1.0);
        if !(period.is_finite() && period > 0.0) {
            errors.push(at(
                "period",
                format!("[time] period must be a positive number of time units, not {period}"),
            ));
        }
        let offset = time.offset.unwrap_or(0.0);
        if !offset.is_finite() {
            errors.push(at(
                "offset",
                format!("[time] offset must be finite, not {offset}"),
            ));
        }
        let dt = match &time.dt {
            None => None,
            Some(toml::Value::Float(v)) => Some(*v),
            Some(toml::Value::Integer(v)) => Some(*v as f64),
            Some(toml::Value::String(s)) => crate::model::parse_fraction(s).or_else(|| {
                errors.push(at(
                    "dt",
                    format!("[time] dt: `{s}` is not a number or a fraction like \"1/52\""),
                ));
                None
            }),
            Some(other) => {
                errors.push(at(
                    "dt",
                    format!("[time] dt must be a number or a fraction like \"1/52\", not {other}"),
                ));
                None
            }
        };
        if let Some(dt) = dt
            && !(dt > 0.0 && dt <= period)
        {
            errors.push(at(
                "dt",
                format!("[time] dt must be > 0 and at most one period ({period}), not {dt}"),
            ));
        }
        let mut policies = Vec::new();
        for (i, p) in file.policies.iter().enumerate() {
            match Policy::try_from(p) {
                Ok(p) => policies.push(p),
                Err(message) => errors.push(at(
                    &p.parameter,
                    format!("policies[{i}] (`{}`): {message}", p.parameter),
                )),
            }
        }
        let mut uncertain = IndexMap::new();
        for (name, spec) in &file.uncertain {
            match Distribution::try_from(spec) {
                Ok(d) => {
                    uncertain.insert(name.clone(), d);
                }
                Err(message) => errors.push(at(name, format!("uncertain.\"{name}\": {message}"))),
            }
        }
        for (name, value) in &file.parameters {
            if !value.is_finite() {
                errors.push(at(
                    name,
                    format!("parameters.\"{name}\" must be finite, not {value}"),
                ));
            }
        }
        let mut outputs = Vec::new();
        for (name, spec) in &file.outputs {
            let measure = match spec.measure.as_deref().map(str::trim) {
                None => None,
                Some("level") => Some(Measure::Level),
                Some("sum") => Some(Measure::Sum),
                Some(other) => {
                    errors.push(at(
                        name,
                        format!(
                            "outputs.\"{name}\": measure `{other}` is not `level` or `sum`{}",
                            did_you_mean(closest(other, ["level", "sum"]))
                        ),
                    ));
                    None
                }
            };
            // Without a measure, the variable's kind decides when prepared.
            let per_element = spec.per_element.unwrap_or(false);
            if spec.prefix.is_some() && !per_element {
                errors.push(at(
                    name,
                    format!("outputs.\"{name}\": `prefix` names per-element columns; add `per_element = true` or remove it"),
                ));
            }
            let column = match &spec.prefix {
                Some(prefix) if per_element => prefix.clone(),
                _ => name.clone(),
            };
            let mut indicator =
                Indicator::new(column, &spec.variable, measure.unwrap_or(Measure::Level));
            indicator.per_element = per_element;
            indicator.doc = spec.doc.clone().unwrap_or_default();
            outputs.push((indicator, measure.is_none()));
        }
        let mc = file.monte_carlo.clone().unwrap_or_default();
        let runs = mc.runs.unwrap_or(1000);
        if runs == 0 || runs > MAX_RUNS {
            errors.push(at(
                "runs",
                format!("[monte_carlo] runs must be 1 to {MAX_RUNS}, not {runs}"),
            ));
        }
        let sampling = match mc.sampling.as_deref().map(str::trim) {
            None | Some("random") => Sampling::Random,
            Some("latin_hypercube" | "lhs") => Sampling::LatinHypercube,
            Some(other) => {
                errors.push(at(
                    "sampling",
                    format!(
                        "[monte_carlo] sampling `{other}` is not `random` or `latin_hypercube`{}",
                        did_you_mean(closest(other, ["random", "latin_hypercube"]))
                    ),
                ));
                Sampling::Random
            }
        };
        let report = file.report.clone().unwrap_or_default();
        let quantiles = report
            .quantiles
            .clone()
            .unwrap_or_else(|| DEFAULT_QUANTILES.to_vec());
        if quantiles.is_empty() || quantiles.iter().any(|q| !(0.0..=1.0).contains(q)) {
            errors.push(at(
                "quantiles",
                "[report] quantiles must be one or more numbers between 0 and 1".into(),
            ));
        }
        let mut scalars = Vec::new();
        for (name, spec) in &report.scalars {
            match scalar(name, spec) {
                Ok(s) => scalars.push(s),
                Err(message) => {
                    errors.push(at(name, format!("report.scalars.\"{name}\": {message}")))
                }
            }
        }
        let compare = file.compare.clone().unwrap_or_default();
        let discount_rate = compare.discount_rate.unwrap_or(0.0);
        if !(discount_rate.is_finite() && discount_rate > -1.0) {
            errors.push(at(
                "discount_rate",
                format!("[compare] discount_rate must be a number above -1, not {discount_rate}"),
            ));
        }
        let label = time.label.clone().unwrap_or_else(|| "time".into());
        if label.trim().is_empty() {
            errors.push(at("label", "[time] label must not be empty".into()));
        }
        Error::from_list(errors)?;
        let posterior = file.posterior.as_ref().map(|p| PathBuf::from(&p.file));
        let group_posterior = file
            .posterior
            .as_ref()
            .and_then(|p| p.groups.as_ref().map(PathBuf::from));
        Ok(Scenario {
            name,
            question: header.question.unwrap_or_default(),
            sources: header.sources.unwrap_or_default(),
            model,
            base_dir,
            model_source: sources
                .iter()
                .find(|s| s.key_error("model", String::new()).is_some())
                .cloned(),
            chain: sources.to_vec(),
            library: library.clone(),
            start: time.start,
            horizon: time.horizon,
            period,
            offset,
            label,
            dt,
            parameters: file.parameters.clone(),
            policies,
            uncertain,
            posterior,
            group_posterior,
            posterior_draws: None,
            posterior_source: sources
                .iter()
                .find(|s| s.table_error("posterior", String::new()).is_some())
                .cloned(),
            outputs,
            runs,
            seed: mc.seed.unwrap_or(20250331),
            sampling,
            indicators: report.indicators.clone(),
            quantiles,
            scalars,
            compare: CompareSettings {
                cost: compare.cost,
                discount_rate,
                cumulative: compare.cumulative.unwrap_or_default(),
            },
        })
    }

    /// The same scenario with another number of runs.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] unless `runs` is 1 to [`MAX_RUNS`].
    pub fn with_runs(mut self, runs: usize) -> Result<Scenario> {
        if runs == 0 || runs > MAX_RUNS {
            return Err(Error::Invalid {
                what: format!("scenario `{}`", self.name),
                message: format!("runs must be 1 to {MAX_RUNS}, not {runs}"),
            });
        }
        self.runs = runs;
        Ok(self)
    }

    /// The same scenario with another seed.
    pub fn with_seed(mut self, seed: u64) -> Scenario {
        self.seed = seed;
        self
    }

    /// The same scenario with paths relative to another directory.
    pub fn set_base_dir(&mut self, dir: impl Into<PathBuf>) {
        self.base_dir = dir.into();
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The question it answers.
    pub fn question(&self) -> &str {
        &self.question
    }

    /// Its sources.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// The model: a built-in name or a path relative to [`Scenario::base_dir`].
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The directory paths are relative to.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// The label of the starting row, if the scenario gives it.
    pub fn start(&self) -> Option<f64> {
        self.start
    }

    /// Periods to run, if the scenario gives them.
    pub fn horizon(&self) -> Option<usize> {
        self.horizon
    }

    /// The name of the period column in outputs.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The step, if not the model's.
    pub fn dt(&self) -> Option<f64> {
        self.dt
    }

    /// Constants set for every run.
    pub fn parameters(&self) -> &IndexMap<String, f64> {
        &self.parameters
    }

    /// Policies.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// The posterior file its runs draw parameters from, if any.
    pub fn posterior(&self) -> Option<PathBuf> {
        self.posterior.as_ref().map(|p| self.base_dir.join(p))
    }

    /// The posterior by group (`[posterior] groups`), if any.
    pub fn group_posterior(&self) -> Option<PathBuf> {
        self.group_posterior.as_ref().map(|p| self.base_dir.join(p))
    }

    /// Whether the runs draw from draws given by
    /// [`Scenario::with_posterior_draws`] rather than the file.
    pub fn has_posterior_draws(&self) -> bool {
        self.posterior_draws.is_some()
    }

    /// The scenario with its runs drawing from `posterior` instead of its
    /// posterior file (e.g. one group's draws of a posterior by group),
    /// `what` naming them in messages and outputs. The draws are checked
    /// as a file's are when the scenario is prepared.
    pub fn with_posterior_draws(
        mut self,
        posterior: crate::calibrate::Posterior,
        what: impl Into<String>,
    ) -> Scenario {
        self.posterior_draws = Some((posterior, what.into()));
        self
    }

    /// The scenario with what it sets constant `name` to multiplied by
    /// `factor`: its value in `[parameters]` and the size of every policy
    /// that adds to it (policies that multiply it are relative and stay).
    /// For asking a question written in national amounts of money of one
    /// place: `factor` is the place's share. Returns the scenario and
    /// whether it sets `name` at all.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if `factor` is not finite and positive, or `name`
    /// is uncertain (a distribution is not scaled: give the place's own).
    pub fn with_parameter_scaled(mut self, name: &str, factor: f64) -> Result<(Scenario, bool)> {
        if !(factor.is_finite() && factor > 0.0) {
            return Err(Error::Invalid {
                what: format!("scenario `{}`", self.name),
                message: format!("cannot scale `{name}` by {factor}"),
            });
        }
        let c = crate::name::canonical_name(name);
        let same = |p: &str| crate::name::canonical_name(p) == c;
        if self.uncertain.keys().any(|k| same(k)) {
            return Err(Error::Invalid {
                what: format!("scenario `{}`", self.name),
                message: format!(
                    "`{name}` is an amount for England and uncertain: it cannot be scaled to a local authority; give the authority's own distribution in a scenario on its model"
                ),
            });
        }
        let mut found = false;
        for (k, v) in self.parameters.iter_mut() {
            if same(k) {
                *v *= factor;
                found = true;
            }
        }
        for p in &mut self.policies {
            if same(p.parameter()) {
                *p = p.scaled(factor);
                found = true;
            }
        }
        Ok((self, found))
    }

    /// The uncertain parameters and their distributions.
    pub fn uncertain(&self) -> &IndexMap<String, Distribution> {
        &self.uncertain
    }

    /// Runs in the ensemble.
    pub fn runs(&self) -> usize {
        self.runs
    }

    /// The seed of every draw.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// How uncertain parameters are drawn.
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }

    /// The indicators named in `[report]`, if any.
    pub fn indicators(&self) -> Option<&[String]> {
        self.indicators.as_deref()
    }

    /// Quantiles to report.
    pub fn quantiles(&self) -> &[f64] {
        &self.quantiles
    }

    /// Per-run scalars.
    pub fn scalars(&self) -> &[Scalar] {
        &self.scalars
    }

    /// What comparisons report.
    pub fn compare(&self) -> &CompareSettings {
        &self.compare
    }
}

impl TryFrom<ScenarioFile> for Scenario {
    type Error = Error;

    /// Validates a scenario built in code with no library (see
    /// [`Scenario::from_spec`]).
    fn try_from(file: ScenarioFile) -> Result<Scenario> {
        Scenario::from_spec(file, &Library::new())
    }
}

fn scalar(name: &str, spec: &ScalarSpec) -> std::result::Result<Scalar, String> {
    let source =
        match (&spec.indicator, &spec.variable) {
            (Some(i), None) => ScalarSource::Indicator(i.clone()),
            (None, Some(v)) => ScalarSource::Variable(v.clone()),
            _ => return Err(
                "give one of `indicator` (reduced over periods) or `variable` (over every step)"
                    .into(),
            ),
        };
    let reduce = match spec.reduce.trim() {
        "sum" => Reduce::Sum,
        "discounted" => {
            let rate = spec
                .rate
                .ok_or("`discounted` needs `rate`, the discount rate per period (e.g. 0.035)")?;
            if !(rate.is_finite() && rate > -1.0) {
                return Err(format!("`rate` must be a number above -1, not {rate}"));
            }
            Reduce::Discounted { rate }
        }
        "mean" => Reduce::Mean,
        "max" => Reduce::Max,
        "min" => Reduce::Min,
        "final" => Reduce::Final,
        other => {
            return Err(format!(
                "reduce `{other}` is not one of {}{}",
                REDUCE_NAMES.join(", "),
                did_you_mean(closest(other, REDUCE_NAMES.iter().copied()))
            ));
        }
    };
    if matches!(source, ScalarSource::Variable(_)) && !matches!(reduce, Reduce::Max | Reduce::Min) {
        return Err("a `variable` is reduced over every step with `max` or `min`; reduce an `indicator` for sums, means and final values".into());
    }
    if spec.rate.is_some() && !matches!(reduce, Reduce::Discounted { .. }) {
        return Err("`rate` is only for `reduce = \"discounted\"`".into());
    }
    Ok(Scalar {
        name: name.to_string(),
        source,
        reduce,
    })
}

#[cfg(test)]
mod tests;
