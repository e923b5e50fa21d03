//! Scenario files as written: the serde types (unknown fields refused), the
//! `extends` chain and how a file is merged over the one it extends.

use super::distribution::DistributionSpec;
use crate::error::{Error, Location, Result};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A scenario file as written (every field optional, so that a file that
/// `extends` another gives only what differs).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Another scenario file (relative to this one) to start from.
    pub extends: Option<String>,
    /// A named set of defaults provided by the program reading the file
    /// (a [`super::Library`] profile, e.g. `england`): indicators, periods,
    /// per-run totals and comparisons for a family of models.
    pub profile: Option<String>,
    /// Name, question and sources.
    pub scenario: Option<Header>,
    /// The model: a built-in name or a path relative to the file.
    pub model: Option<String>,
    /// Time window.
    pub time: Option<TimeSpec>,
    /// Constants set for every run.
    #[serde(default)]
    pub parameters: IndexMap<String, f64>,
    /// Changes to constants over time.
    #[serde(default)]
    pub policies: Vec<PolicySpec>,
    /// Uncertain parameters, each drawn once per run.
    #[serde(default)]
    pub uncertain: IndexMap<String, DistributionSpec>,
    /// A posterior to draw parameters from jointly, one draw per run.
    pub posterior: Option<PosteriorSpec>,
    /// Named indicators: columns of the projection by period.
    #[serde(default)]
    pub outputs: IndexMap<String, OutputSpec>,
    /// Monte Carlo settings.
    pub monte_carlo: Option<MonteCarloSpec>,
    /// What to report.
    pub report: Option<ReportSpec>,
    /// What a comparison reports.
    pub compare: Option<CompareSpec>,
}

/// `[scenario]`: what the scenario is for.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// A short name.
    pub name: Option<String>,
    /// The question the scenario answers.
    pub question: Option<String>,
    /// Where its assumptions come from.
    pub sources: Option<Vec<String>>,
}

/// `[time]`: the window, as periods of model time.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSpec {
    /// The label of the starting row (default: the model's start time); the
    /// run starts at `start + offset`.
    pub start: Option<f64>,
    /// Periods to run (default: to the model's stop time).
    pub horizon: Option<usize>,
    /// The step: a number or a fraction such as `"1/52"`.
    pub dt: Option<toml::Value>,
    /// Model time units per period (default 1).
    pub period: Option<f64>,
    /// Model time at a period's end minus its label (default 0).
    pub offset: Option<f64>,
    /// The name of the period column in outputs (default `time`).
    pub label: Option<String>,
}

/// `[posterior]`: parameters drawn jointly from a calibration's posterior
/// (a file written by `carecascade calibrate --posterior`), so that their
/// correlations are kept.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PosteriorSpec {
    /// The posterior file, relative to the scenario file that names it.
    pub file: String,
    /// A posterior by group (e.g. every local authority's rates, as
    /// `carecascade calibrate-local` writes them), relative to the
    /// scenario file: when the scenario is asked of one group's model, its
    /// runs draw that group's rows instead of `file`'s. The engine keeps
    /// the path; the program that runs groups reads it.
    pub groups: Option<String>,
}

/// `[monte_carlo]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MonteCarloSpec {
    /// Runs in the ensemble.
    pub runs: Option<usize>,
    /// The seed of every draw.
    pub seed: Option<u64>,
    /// `random` or `latin_hypercube`.
    pub sampling: Option<String>,
}

/// `[outputs.NAME]`: a named indicator.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The model variable (an arrayed one is summed over its elements).
    pub variable: String,
    /// `level` (the value at each period's end) or `sum` (integrated over
    /// the period); default: `sum` for flows, `level` for anything else.
    pub measure: Option<String>,
    /// One column per element of an arrayed variable, `NAME_element` (or
    /// `PREFIX_element`).
    pub per_element: Option<bool>,
    /// The start of per-element column names, if not the output's name
    /// (so that two arrayed variables can fill columns such as
    /// `cla_age_0_to_4` and `cla_foster`).
    pub prefix: Option<String>,
    /// What the column means.
    pub doc: Option<String>,
}

/// `[report]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// Indicators to summarise by period: `[outputs]` names (or their
    /// per-element columns) or model variables.
    pub indicators: Option<Vec<String>>,
    /// Quantiles to report, between 0 and 1.
    pub quantiles: Option<Vec<f64>>,
    /// One number per run, e.g. a total over the horizon or a peak.
    #[serde(default)]
    pub scalars: IndexMap<String, ScalarSpec>,
}

/// `[report.scalars.NAME]`: one number per run.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScalarSpec {
    /// An indicator reduced over the periods after the start.
    pub indicator: Option<String>,
    /// A model variable reduced over every step.
    pub variable: Option<String>,
    /// `sum`, `discounted`, `mean`, `max`, `min` or `final` for an
    /// indicator; `max` or `min` for a variable.
    pub reduce: String,
    /// The discount rate per period for `discounted` (e.g. 0.035).
    pub rate: Option<f64>,
}

/// `[compare]`: what comparing an alternative with the base reports, run by
/// run, beyond each indicator's paired difference.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CompareSpec {
    /// A cost indicator (a sum per period): cumulative paired differences
    /// in cash and discounted, the probability that the alternative costs
    /// less so far, and the break-even period.
    pub cost: Option<String>,
    /// The discount rate per period for the cost (default 0).
    pub discount_rate: Option<f64>,
    /// Indicators whose cumulative paired differences are reported.
    pub cumulative: Option<Vec<String>>,
}

/// One `[[policies]]` entry as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// The constant it changes.
    pub parameter: String,
    /// `step`, `ramp`, `pulse` or `series`.
    pub kind: String,
    /// `add` (default) adds the policy's value; `multiply` multiplies the
    /// constant by (1 + value), so `-0.35` is a 35% cut.
    pub effect: Option<String>,
    /// When it starts (model time, e.g. 2025 = 1 January 2025 in a calendar
    /// model).
    pub start: Option<f64>,
    /// When it ends (step and ramp; default: never).
    pub end: Option<f64>,
    /// Its size once in force.
    pub value: Option<f64>,
    /// Time to ramp up (ramp) or to last (pulse).
    pub years: Option<f64>,
    /// (time, value) points, linear between them and held beyond them
    /// (series).
    pub points: Option<Vec<(f64, f64)>>,
}

/// A file's text and name, for locating errors.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    /// An error at the first occurrence of `needle` (or the file's start).
    pub fn error(&self, needle: &str, message: String) -> Error {
        let offset = self.text.find(needle).unwrap_or(0);
        let mut location = Location::of_offset(&self.text, offset, None);
        location.file = Some(std::sync::Arc::from(self.name.as_str()));
        Error::File { location, message }
    }
}

impl Source {
    /// An error at the line of the table header `[table]`, if the file has
    /// one.
    pub fn table_error(&self, table: &str, message: String) -> Option<Error> {
        let header = format!("[{table}]");
        let mut offset = 0;
        for line in self.text.split_inclusive('\n') {
            let trimmed = line.trim_start();
            if trimmed.trim_end() == header || trimmed.starts_with(&format!("{header} ")) {
                let mut location =
                    Location::of_offset(&self.text, offset + line.len() - trimmed.len(), None);
                location.file = Some(std::sync::Arc::from(self.name.as_str()));
                return Some(Error::File { location, message });
            }
            offset += line.len();
        }
        None
    }

    /// An error at the line where `key = ...` is written at the top of the
    /// file (before any table), if it is.
    pub fn key_error(&self, key: &str, message: String) -> Option<Error> {
        let mut offset = 0;
        for line in self.text.split_inclusive('\n') {
            let trimmed = line.trim_start();
            if trimmed.starts_with('[') {
                return None;
            }
            if let Some(rest) = trimmed.strip_prefix(key)
                && rest.trim_start().starts_with('=')
            {
                let mut location =
                    Location::of_offset(&self.text, offset + line.len() - trimmed.len(), None);
                location.file = Some(std::sync::Arc::from(self.name.as_str()));
                return Some(Error::File { location, message });
            }
            offset += line.len();
        }
        None
    }
}

/// Errors point at the file (of the chain) that mentions the field.
pub(crate) fn locate(sources: &[Source], needle: &str, message: String) -> Error {
    match sources.iter().find(|s| s.text.contains(needle)) {
        Some(source) => source.error(needle, message),
        None => match sources.first() {
            Some(source) => source.error(needle, message),
            None => Error::Invalid {
                what: "scenario".into(),
                message,
            },
        },
    }
}

/// Reads a scenario's text.
pub(crate) fn parse_text(text: &str, name: &str) -> Result<ScenarioFile> {
    toml::from_str(text).map_err(|e| crate::format::toml_error(text, Some(name), &e))
}

/// Reads a file and the chain it extends, child last in `sources` order
/// (the child first); `seen` catches cycles.
pub(crate) fn load_chain(
    path: &Path,
    seen: &mut Vec<PathBuf>,
) -> Result<(ScenarioFile, Vec<Source>)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let name = path.display().to_string();
    let file = parse_text(&text, &name)?;
    let source = Source { name, text };
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if let Some(k) = seen.iter().position(|p| p == &canonical) {
        let cycle: Vec<String> = seen[k..]
            .iter()
            .chain([&canonical])
            .map(|p| p.display().to_string())
            .collect();
        return Err(source.error(
            "extends",
            format!("`extends` makes a cycle: {}", cycle.join(" extends ")),
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
    let (mut base, mut sources) = load_chain(&parent_path, seen)?;
    // A model file named by the parent is relative to the parent.
    if let Some(model) = &base.model {
        let model = Path::new(model);
        if model.extension().is_some() && model.is_relative() {
            let dir = parent_path.parent().unwrap_or(Path::new(""));
            let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
            base.model = Some(dir.join(model).display().to_string());
        }
    }
    // So is a posterior file.
    if let Some(posterior) = &mut base.posterior {
        let dir = parent_path.parent().unwrap_or(Path::new(""));
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        for file in std::iter::once(&mut posterior.file).chain(posterior.groups.as_mut()) {
            if Path::new(file.as_str()).is_relative() {
                *file = dir.join(file.as_str()).display().to_string();
            }
        }
    }
    sources.insert(0, source);
    Ok((merge(base, file), sources))
}

/// A child file over its parent: the child's fields win, its parameters,
/// uncertain parameters, outputs and scalars are added to (or replace) the
/// parent's, and its policies come after the parent's.
pub fn merge(parent: ScenarioFile, child: ScenarioFile) -> ScenarioFile {
    fn either<T>(p: Option<T>, c: Option<T>, both: impl FnOnce(T, T) -> T) -> Option<T> {
        match (p, c) {
            (Some(p), Some(c)) => Some(both(p, c)),
            (p, c) => c.or(p),
        }
    }
    let mut parameters = parent.parameters;
    parameters.extend(child.parameters);
    let mut uncertain = parent.uncertain;
    uncertain.extend(child.uncertain);
    let mut outputs = parent.outputs;
    outputs.extend(child.outputs);
    let mut policies = parent.policies;
    policies.extend(child.policies);
    ScenarioFile {
        extends: None,
        profile: child.profile.or(parent.profile),
        scenario: either(parent.scenario, child.scenario, |p, c| Header {
            name: c.name.or(p.name),
            question: c.question.or(p.question),
            sources: c.sources.or(p.sources),
        }),
        model: child.model.or(parent.model),
        time: either(parent.time, child.time, |p, c| TimeSpec {
            start: c.start.or(p.start),
            horizon: c.horizon.or(p.horizon),
            dt: c.dt.or(p.dt),
            period: c.period.or(p.period),
            offset: c.offset.or(p.offset),
            label: c.label.or(p.label),
        }),
        parameters,
        policies,
        uncertain,
        posterior: child.posterior.or(parent.posterior),
        outputs,
        monte_carlo: either(parent.monte_carlo, child.monte_carlo, |p, c| {
            MonteCarloSpec {
                runs: c.runs.or(p.runs),
                seed: c.seed.or(p.seed),
                sampling: c.sampling.or(p.sampling),
            }
        }),
        report: either(parent.report, child.report, |p, c| {
            let mut scalars = p.scalars;
            scalars.extend(c.scalars);
            ReportSpec {
                indicators: c.indicators.or(p.indicators),
                quantiles: c.quantiles.or(p.quantiles),
                scalars,
            }
        }),
        compare: either(parent.compare, child.compare, |p, c| CompareSpec {
            cost: c.cost.or(p.cost),
            discount_rate: c.discount_rate.or(p.discount_rate),
            cumulative: c.cumulative.or(p.cumulative),
        }),
    }
}
