//! Scenario files: a model, a time window, policies that change parameters
//! over calendar years, uncertain parameters with distributions, and Monte
//! Carlo settings. See `docs/scenarios.md` for the format.
//!
//! A file is read into [`ScenarioFile`] (serde, unknown fields refused with
//! their line and the closest valid field), merged with the file it
//! `extends`, and converted with `TryFrom` into a validated [`Scenario`].
//! [`Scenario::prepare`] then applies its policies to the model and checks
//! every parameter name against it, giving a [`Prepared`] scenario that
//! sets up each run of an ensemble.

pub mod distribution;

use crate::care;
use crate::care::project::Projector;
use crate::error::{Error, Location, Result};
use crate::model::Model;
use crate::name::{closest, did_you_mean};
use crate::{ParamId, Program};
pub use distribution::{Distribution, DistributionSpec};
use indexmap::IndexMap;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A scenario file as written (every field optional, so that a file that
/// `extends` another gives only what differs).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Another scenario file (relative to this one) to start from.
    pub extends: Option<String>,
    /// Name, question and sources.
    pub scenario: Option<Header>,
    /// The model: a built-in name (`england`) or a path relative to the file.
    pub model: Option<String>,
    /// Time window.
    pub time: Option<TimeSpec>,
    /// Constants set for every run.
    #[serde(default)]
    pub parameters: IndexMap<String, f64>,
    /// Changes to constants over calendar years.
    #[serde(default)]
    pub policies: Vec<PolicySpec>,
    /// Uncertain parameters, each drawn once per run.
    #[serde(default)]
    pub uncertain: IndexMap<String, DistributionSpec>,
    /// Monte Carlo settings.
    pub monte_carlo: Option<MonteCarloSpec>,
    /// What to report.
    pub report: Option<ReportSpec>,
}

/// `[scenario]`: what the scenario is for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// A short name.
    pub name: Option<String>,
    /// The question the scenario answers.
    pub question: Option<String>,
    /// Where its assumptions come from.
    pub sources: Option<Vec<String>>,
}

/// `[time]`: the window, in reporting years ending 31 March.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSpec {
    /// The reporting year to start from (its 31 March stocks).
    pub start: Option<i32>,
    /// Years to run.
    pub horizon: Option<usize>,
    /// The step: a number or a fraction such as `"1/52"`.
    pub dt: Option<toml::Value>,
}

/// `[monte_carlo]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonteCarloSpec {
    /// Runs in the ensemble.
    pub runs: Option<usize>,
    /// The seed of every draw.
    pub seed: Option<u64>,
    /// `random` or `latin_hypercube`.
    pub sampling: Option<String>,
}

/// `[report]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// Projection columns to summarise.
    pub indicators: Option<Vec<String>>,
    /// Quantiles to report, between 0 and 1.
    pub quantiles: Option<Vec<f64>>,
}

/// One `[[policies]]` entry as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// The constant it changes.
    pub parameter: String,
    /// `step`, `ramp`, `pulse` or `series`.
    pub kind: String,
    /// `add` (default) adds the policy's value; `multiply` multiplies the
    /// constant by (1 + value), so `-0.35` is a 35% cut.
    pub effect: Option<String>,
    /// When it starts (calendar year, e.g. 2025 = 1 January 2025).
    pub start: Option<f64>,
    /// When it ends (step and ramp; default: never).
    pub end: Option<f64>,
    /// Its size once in force.
    pub value: Option<f64>,
    /// Years to ramp up (ramp) or to last (pulse).
    pub years: Option<f64>,
    /// (calendar year, value) points, linear between them and held beyond
    /// them (series).
    pub points: Option<Vec<(f64, f64)>>,
}

/// How a policy combines with the constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// constant + policy.
    Add,
    /// constant x (1 + policy).
    Multiply,
}

/// The shape of a policy over time.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyShape {
    /// `value` from `start` until `end`.
    Step {
        /// Start.
        start: f64,
        /// End (exclusive).
        end: f64,
        /// Size.
        value: f64,
    },
    /// Rising linearly from 0 at `start` to `value` after `years`, until `end`.
    Ramp {
        /// Start.
        start: f64,
        /// Years to full size.
        years: f64,
        /// End (exclusive).
        end: f64,
        /// Size.
        value: f64,
    },
    /// `value` for `years` from `start`.
    Pulse {
        /// Start.
        start: f64,
        /// Duration.
        years: f64,
        /// Size.
        value: f64,
    },
    /// Linear between (year, value) points, held beyond them.
    Series {
        /// The points.
        points: Vec<(f64, f64)>,
    },
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The constant it changes.
    pub parameter: String,
    /// Its shape.
    pub shape: PolicyShape,
    /// How it combines with the constant.
    pub effect: Effect,
}

/// How uncertain parameters are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Independent draws per run.
    Random,
    /// A Latin hypercube over the runs: each parameter's range is cut into
    /// as many equally likely strata as runs, one draw in each.
    LatinHypercube,
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// The question it answers.
    pub question: String,
    /// Its sources.
    pub sources: Vec<String>,
    /// The model: a built-in name or a path.
    pub model: String,
    /// The directory paths are relative to.
    pub base_dir: PathBuf,
    /// The reporting year it starts from.
    pub start: i32,
    /// Years to run.
    pub horizon: usize,
    /// The step, if not the model's.
    pub dt: Option<f64>,
    /// Constants set for every run.
    pub parameters: IndexMap<String, f64>,
    /// Policies.
    pub policies: Vec<Policy>,
    /// Uncertain parameters.
    pub uncertain: IndexMap<String, Distribution>,
    /// Runs.
    pub runs: usize,
    /// Seed.
    pub seed: u64,
    /// Sampling.
    pub sampling: Sampling,
    /// Indicators to summarise.
    pub indicators: Vec<String>,
    /// Quantiles to report.
    pub quantiles: Vec<f64>,
}

/// The indicators reported when a scenario does not say.
pub const DEFAULT_INDICATORS: &[&str] = &[
    "referrals",
    "cin_at_31_march",
    "cpp_started",
    "cpp_at_31_march",
    "cla_started",
    "cla_at_31_march",
    "caseload",
    "social_worker_fte",
    "early_help_children",
    "spend_early_help_m",
    "spend_safeguarding_m",
    "spend_looked_after_m",
    "spend_total_m",
];

/// The quantiles reported when a scenario does not say.
pub const DEFAULT_QUANTILES: &[f64] = &[0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95];

/// A file's text and name, for locating errors.
struct Source {
    name: String,
    text: String,
}

impl Source {
    /// An error at the first occurrence of `needle` (or the file's start).
    fn error(&self, needle: &str, message: String) -> Error {
        let offset = self.text.find(needle).unwrap_or(0);
        let mut location = Location::of_offset(&self.text, offset, None);
        location.file = Some(std::sync::Arc::from(self.name.as_str()));
        Error::File { location, message }
    }
}

impl Scenario {
    /// Reads a scenario file, and the files it extends.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] for a file that cannot be read; [`Error::File`] with
    /// the file, line and column for malformed TOML, unknown fields (with
    /// the closest valid one), an `extends` cycle, and values that are not
    /// valid (naming the field).
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario> {
        let path = path.as_ref();
        let (file, sources) = load_chain(path, &mut Vec::new())?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Scenario::from_file(&file, base_dir, &sources, path)
    }

    /// Parses a scenario from text (no `extends`). `name` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`Scenario::load`].
    pub fn parse(text: &str, name: &str) -> Result<Scenario> {
        let file: ScenarioFile =
            toml::from_str(text).map_err(|e| crate::format::toml_error(text, Some(name), &e))?;
        if file.extends.is_some() {
            return Err(Source {
                name: name.into(),
                text: text.into(),
            }
            .error(
                "extends",
                "`extends` needs a scenario read from a file".into(),
            ));
        }
        let sources = vec![Source {
            name: name.into(),
            text: text.into(),
        }];
        Scenario::from_file(&file, PathBuf::new(), &sources, Path::new(name))
    }

    fn from_file(
        file: &ScenarioFile,
        base_dir: PathBuf,
        sources: &[Source],
        path: &Path,
    ) -> Result<Scenario> {
        // Errors point at the file (of the chain) that mentions the field.
        let at = |needle: &str, message: String| -> Error {
            let source = sources
                .iter()
                .find(|s| s.text.contains(needle))
                .unwrap_or(&sources[0]);
            source.error(needle, message)
        };
        let mut errors = Vec::new();
        let header = file.scenario.clone().unwrap_or_default();
        let name = header.name.unwrap_or_else(|| {
            path.file_stem()
                .map_or("scenario".into(), |s| s.to_string_lossy().to_string())
        });
        let time = file.time.clone().unwrap_or_default();
        let start = time.start.unwrap_or(2023);
        let horizon = time.horizon.unwrap_or(10);
        if horizon == 0 || horizon > 100 {
            errors.push(at(
                "horizon",
                format!("[time] horizon must be 1 to 100 years, not {horizon}"),
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
        if let Some(dt) = dt {
            if !(dt > 0.0 && dt <= 1.0) {
                errors.push(at(
                    "dt",
                    format!("[time] dt must be > 0 and at most a year, not {dt}"),
                ));
            }
        }
        let mut policies = Vec::new();
        for (i, p) in file.policies.iter().enumerate() {
            match policy(p) {
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
        let mc = file.monte_carlo.clone().unwrap_or_default();
        let runs = mc.runs.unwrap_or(1000);
        if runs == 0 {
            errors.push(at("runs", "[monte_carlo] runs must be at least 1".into()));
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
            .unwrap_or_else(|| DEFAULT_QUANTILES.to_vec());
        if quantiles.iter().any(|q| !(0.0..=1.0).contains(q)) {
            errors.push(at(
                "quantiles",
                "[report] quantiles must be between 0 and 1".into(),
            ));
        }
        Error::from_list(errors)?;
        Ok(Scenario {
            name,
            question: header.question.unwrap_or_default(),
            sources: header.sources.unwrap_or_default(),
            model: file.model.clone().unwrap_or_else(|| "england".into()),
            base_dir,
            start,
            horizon,
            dt,
            parameters: file.parameters.clone(),
            policies,
            uncertain,
            runs,
            seed: mc.seed.unwrap_or(20250331),
            sampling,
            indicators: report
                .indicators
                .unwrap_or_else(|| DEFAULT_INDICATORS.iter().map(|s| s.to_string()).collect()),
            quantiles,
        })
    }

    /// Loads the model, applies the policies and checks every name.
    ///
    /// # Errors
    ///
    /// The model's load and compile errors; [`Error::Parameter`] for a
    /// parameter, policy or uncertain parameter the model lacks (with the
    /// closest name); [`Error::Invalid`] for an indicator the projection
    /// lacks.
    pub fn prepare(&self) -> Result<Prepared> {
        let path = self.base_dir.join(&self.model);
        let mut model = if path.exists() {
            crate::format::load_model(&path)?
        } else {
            care::load_model(&self.model)?
        };
        // Policies, grouped by the constant they change.
        let mut by_parameter: IndexMap<String, Vec<&Policy>> = IndexMap::new();
        for p in &self.policies {
            by_parameter
                .entry(crate::name::canonical_name(&p.parameter))
                .or_default()
                .push(p);
        }
        for (k, (_, group)) in by_parameter.iter().enumerate() {
            let name = &group[0].parameter;
            let base = format!("{name} before policies");
            let mut equation = format!("\"{base}\"");
            for (j, p) in group.iter().enumerate() {
                let signal = match &p.shape {
                    PolicyShape::Step { start, end, value } => {
                        format!("IF TIME >= {start:?} AND TIME < {end:?} THEN {value:?} ELSE 0")
                    }
                    PolicyShape::Ramp {
                        start,
                        years,
                        end,
                        value,
                    } => format!(
                        "{value:?} * MIN(1, MAX(0, (TIME - {start:?}) / {years:?})) * (TIME < {end:?})"
                    ),
                    PolicyShape::Pulse {
                        start,
                        years,
                        value,
                    } => format!(
                        "IF TIME >= {start:?} AND TIME < {:?} THEN {value:?} ELSE 0",
                        start + years
                    ),
                    PolicyShape::Series { points } => {
                        let lookup = format!("{name} policy {k} {j}");
                        model =
                            model.with_lookup(&lookup, points, "A scenario's policy series.")?;
                        format!("\"{lookup}\"(TIME)")
                    }
                };
                equation = match p.effect {
                    Effect::Add => format!("{equation} + ({signal})"),
                    Effect::Multiply => format!("{equation} * (1 + ({signal}))"),
                };
            }
            model = model.with_constant_varying(name, &base, &equation)?;
        }
        let program = Program::compile(&model)?;
        let mut errors = Vec::new();
        let mut set = Vec::new();
        for (name, value) in &self.parameters {
            match program.parameter(&redirect(name, &by_parameter)) {
                Ok(id) => set.push((id, *value)),
                Err(e) => errors.push(e),
            }
        }
        let mut uncertain = Vec::new();
        for (name, d) in &self.uncertain {
            match program.parameter(&redirect(name, &by_parameter)) {
                Ok(id) => uncertain.push((name.clone(), id, *d)),
                Err(e) => errors.push(e),
            }
        }
        Error::from_list(errors)?;
        let projector = Projector::new(&program);
        let prepared = Prepared {
            scenario: self.clone(),
            model,
            program,
            projector,
            set,
            uncertain,
        };
        // The time step must suit the model, now rather than in every run.
        prepared.configure(&mut prepared.program.state())?;
        // Indicators must be columns of the projection.
        let columns = prepared.projector.columns().to_vec();
        let missing: Vec<Error> = self
            .indicators
            .iter()
            .filter(|i| !columns.contains(i))
            .map(|i| Error::Invalid {
                what: format!("[report] indicator `{i}`"),
                message: format!(
                    "is not a column of the model's projection{}",
                    did_you_mean(closest(i, columns.iter().map(String::as_str)))
                ),
            })
            .collect();
        Error::from_list(missing)?;
        // Comparisons need these, reported or not.
        let mut prepared = prepared;
        for required in ["spend_total_m", "cla_started", "cpp_started", "caseload"] {
            if columns.iter().any(|c| c == required)
                && !prepared.scenario.indicators.iter().any(|i| i == required)
            {
                prepared.scenario.indicators.push(required.to_string());
            }
        }
        Ok(prepared)
    }
}

impl TryFrom<ScenarioFile> for Scenario {
    type Error = Error;

    /// Validates a scenario built in code (paths are relative to the
    /// current directory; `extends` is not followed).
    fn try_from(file: ScenarioFile) -> Result<Scenario> {
        let sources = [Source {
            name: "<scenario>".into(),
            text: String::new(),
        }];
        Scenario::from_file(&file, PathBuf::new(), &sources, Path::new("scenario"))
    }
}

/// A parameter changed by a policy keeps its value in `NAME before policies`.
fn redirect(name: &str, policies: &IndexMap<String, Vec<&Policy>>) -> String {
    match policies.get(&crate::name::canonical_name(name)) {
        Some(group) => format!("{} before policies", group[0].parameter),
        None => name.to_string(),
    }
}

fn policy(p: &PolicySpec) -> std::result::Result<Policy, String> {
    let need = |name: &str, v: Option<f64>| -> std::result::Result<f64, String> {
        match v {
            Some(v) if v.is_finite() => Ok(v),
            Some(v) => Err(format!("`{name}` must be finite, not {v}")),
            None => Err(format!("a `{}` policy needs `{name}`", p.kind)),
        }
    };
    let end = p.end.unwrap_or(1e9);
    let shape = match p.kind.trim() {
        "step" => PolicyShape::Step {
            start: need("start", p.start)?,
            end,
            value: need("value", p.value)?,
        },
        "ramp" => {
            let years = need("years", p.years)?;
            if years <= 0.0 {
                return Err(format!("`years` must be > 0, not {years}"));
            }
            PolicyShape::Ramp {
                start: need("start", p.start)?,
                years,
                end,
                value: need("value", p.value)?,
            }
        }
        "pulse" => PolicyShape::Pulse {
            start: need("start", p.start)?,
            years: need("years", p.years)?,
            value: need("value", p.value)?,
        },
        "series" => {
            let points = p.points.clone().ok_or("a `series` policy needs `points`")?;
            if points.is_empty() || points.windows(2).any(|w| w[1].0 <= w[0].0) {
                return Err("`points` must be (year, value) pairs with increasing years".into());
            }
            PolicyShape::Series { points }
        }
        other => {
            return Err(format!(
                "kind `{other}` is not one of step, ramp, pulse, series{}",
                did_you_mean(closest(other, ["step", "ramp", "pulse", "series"]))
            ));
        }
    };
    let effect = match p.effect.as_deref().map(str::trim) {
        None | Some("add") => Effect::Add,
        Some("multiply") => Effect::Multiply,
        Some(other) => {
            return Err(format!(
                "effect `{other}` is not `add` or `multiply`{}",
                did_you_mean(closest(other, ["add", "multiply"]))
            ));
        }
    };
    Ok(Policy {
        parameter: p.parameter.clone(),
        shape,
        effect,
    })
}

/// Reads a file and the chain it extends, child last; `seen` catches cycles.
fn load_chain(path: &Path, seen: &mut Vec<PathBuf>) -> Result<(ScenarioFile, Vec<Source>)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let name = path.display().to_string();
    let file: ScenarioFile =
        toml::from_str(&text).map_err(|e| crate::format::toml_error(&text, Some(&name), &e))?;
    let source = Source { name, text };
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if seen.contains(&canonical) {
        return Err(source.error(
            "extends",
            format!("`extends` makes a cycle: {} extends itself", path.display()),
        ));
    }
    seen.push(canonical);
    let Some(parent) = &file.extends else {
        return Ok((file, vec![source]));
    };
    let parent_path = path.parent().unwrap_or(Path::new("")).join(parent);
    if !parent_path.exists() {
        return Err(source.error(
            "extends",
            format!("`extends`: no scenario file `{}`", parent_path.display()),
        ));
    }
    let (base, mut sources) = load_chain(&parent_path, seen)?;
    sources.insert(0, source);
    Ok((merge(base, file), sources))
}

/// A child file over its parent: the child's fields win, its parameters
/// and uncertain parameters are added to (or replace) the parent's, and
/// its policies come after the parent's.
fn merge(parent: ScenarioFile, child: ScenarioFile) -> ScenarioFile {
    let mut parameters = parent.parameters;
    parameters.extend(child.parameters);
    let mut uncertain = parent.uncertain;
    uncertain.extend(child.uncertain);
    let mut policies = parent.policies;
    policies.extend(child.policies);
    let header = match (parent.scenario, child.scenario) {
        (Some(p), Some(c)) => Some(Header {
            name: c.name.or(p.name),
            question: c.question.or(p.question),
            sources: c.sources.or(p.sources),
        }),
        (p, c) => c.or(p),
    };
    let time = match (parent.time, child.time) {
        (Some(p), Some(c)) => Some(TimeSpec {
            start: c.start.or(p.start),
            horizon: c.horizon.or(p.horizon),
            dt: c.dt.or(p.dt),
        }),
        (p, c) => c.or(p),
    };
    let monte_carlo = match (parent.monte_carlo, child.monte_carlo) {
        (Some(p), Some(c)) => Some(MonteCarloSpec {
            runs: c.runs.or(p.runs),
            seed: c.seed.or(p.seed),
            sampling: c.sampling.or(p.sampling),
        }),
        (p, c) => c.or(p),
    };
    let report = match (parent.report, child.report) {
        (Some(p), Some(c)) => Some(ReportSpec {
            indicators: c.indicators.or(p.indicators),
            quantiles: c.quantiles.or(p.quantiles),
        }),
        (p, c) => c.or(p),
    };
    ScenarioFile {
        extends: None,
        scenario: header,
        model: child.model.or(parent.model),
        time,
        parameters,
        policies,
        uncertain,
        monte_carlo,
        report,
    }
}

/// A scenario ready to run: the model with its policies, compiled, and the
/// parameters each run sets.
#[derive(Debug)]
pub struct Prepared {
    /// The scenario.
    pub scenario: Scenario,
    /// The model with the policies applied.
    pub model: Model,
    /// The compiled model.
    pub program: Program,
    /// The program's projection by reporting year, resolved once.
    pub projector: Projector,
    set: Vec<(ParamId, f64)>,
    uncertain: Vec<(String, ParamId, Distribution)>,
}

impl Prepared {
    /// The uncertain parameters: name, id and distribution.
    pub fn uncertain(&self) -> &[(String, ParamId, Distribution)] {
        &self.uncertain
    }

    /// Sets the scenario's fixed parameters and time step on a run's state.
    ///
    /// # Errors
    ///
    /// [`Error::Time`] for a step the model's time settings refuse.
    pub fn configure(&self, state: &mut crate::State) -> Result<()> {
        state.reset_params();
        for (id, v) in &self.set {
            state.set_param(*id, *v)?;
        }
        if let Some(dt) = self.scenario.dt {
            let time = state.time().with_dt(dt)?;
            state.set_time(time);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_built_in_code_is_validated_too() {
        let file = ScenarioFile {
            monte_carlo: Some(MonteCarloSpec {
                runs: Some(0),
                ..MonteCarloSpec::default()
            }),
            ..ScenarioFile::default()
        };
        let err = Scenario::try_from(file).unwrap_err().to_string();
        assert!(err.contains("runs must be at least 1"), "{err}");
        assert_eq!(
            Scenario::try_from(ScenarioFile::default()).unwrap().runs,
            1000
        );
    }

    #[test]
    fn a_minimal_scenario_takes_the_defaults() {
        let s = Scenario::parse("", "s.toml").unwrap();
        assert_eq!(s.model, "england");
        assert_eq!((s.start, s.horizon, s.runs), (2023, 10, 1000));
        assert_eq!(s.sampling, Sampling::Random);
        assert_eq!(s.quantiles, DEFAULT_QUANTILES);
    }

    #[test]
    fn mistakes_name_the_file_line_and_field() {
        let err = Scenario::parse("[time]\nhorizn = 5\n", "s.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("s.toml:2:1") && err.contains("did you mean `horizon`?"),
            "{err}"
        );
        let err = Scenario::parse(
            "[[policies]]\nparameter = \"extra prevention spend\"\nkind = \"rmp\"\n\n[uncertain.x]\ndistribution = \"pert\"\nmin = 1\nmax = 0\nmode = 0\n\n[monte_carlo]\nsampling = \"latin\"\n",
            "s.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("s.toml:2:14: policies[0] (`extra prevention spend`): kind `rmp` is not one of step, ramp, pulse, series; did you mean `ramp`?"), "{err}");
        assert!(err.contains("uncertain.\"x\": needs min < max"), "{err}");
        assert!(err.contains("did you mean `latin_hypercube`?"), "{err}");
    }

    #[test]
    fn policies_change_a_constant_over_calendar_years() {
        let s = Scenario::parse(
            r#"
[time]
start = 2023
horizon = 6
[[policies]]
parameter = "extra prevention spend"
kind = "ramp"
start = 2025
years = 2
value = 200
[[policies]]
parameter = "extra prevention spend"
kind = "pulse"
start = 2027
years = 1
value = 50
[[policies]]
parameter = "prevention scale"
kind = "series"
effect = "multiply"
points = [[2023, 0], [2028, -0.5]]
[parameters]
"extra prevention spend" = 10
"#,
            "s.toml",
        )
        .unwrap();
        let p = s.prepare().unwrap();
        let mut state = p.program.state();
        p.configure(&mut state).unwrap();
        let time = state
            .time()
            .with_start(2023.25)
            .unwrap()
            .with_stop(2029.25)
            .unwrap();
        state.set_time(time);
        let r = state.run().unwrap();
        let at = |name: &str, t: f64| r.value_at(name, t).unwrap();
        assert_eq!(at("extra prevention spend", 2024.5), 10.0);
        assert!((at("extra prevention spend", 2026.0) - 110.0).abs() < 1e-9);
        assert!((at("extra prevention spend", 2027.5) - 260.0).abs() < 1e-9);
        assert!((at("extra prevention spend", 2028.5) - 210.0).abs() < 1e-9);
        assert!((at("prevention scale", 2025.5) - 0.75).abs() < 1e-9);
        assert!((at("prevention scale", 2029.0) - 0.5).abs() < 1e-9);
        // Unknown names are refused with the closest one.
        let bad = Scenario::parse(
            "[parameters]\n\"kinship shfit\" = 0.1\n[report]\nindicators = [\"cla_at_31_mrch\"]\n",
            "s.toml",
        )
        .unwrap()
        .prepare()
        .unwrap_err()
        .to_string();
        assert!(bad.contains("did you mean `kinship shift`?"), "{bad}");
        let bad = Scenario::parse("[report]\nindicators = [\"cla_at_31_mrch\"]\n", "s.toml")
            .unwrap()
            .prepare()
            .unwrap_err()
            .to_string();
        assert!(bad.contains("did you mean `cla_at_31_march`?"), "{bad}");
    }
}
