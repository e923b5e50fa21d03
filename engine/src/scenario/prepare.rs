//! A scenario made ready to run: its model loaded with the policies
//! applied, compiled once, and every name it uses resolved.

use super::policy::{self, Groups};
use super::{Distribution, Reduce, Scenario};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::name::{canonical_name, closest, did_you_mean};
use crate::projection::{Indicator, Measure, Periods, Projector};
use crate::sim::State;
use crate::{ParamId, Program, VariableKind};
use std::path::{Path, PathBuf};

/// What a scalar reduces.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ScalarSource {
    /// An indicator, over the periods after the start.
    Indicator(String),
    /// A model variable, over every step.
    Variable(String),
}

/// A scalar resolved against the prepared model.
#[derive(Debug, Clone)]
pub(crate) enum Resolved {
    /// Reduce the stored column over the periods after the start.
    Periods { column: usize, reduce: Reduce },
    /// The largest or smallest value of an output over every step.
    Steps { output: usize, max: bool },
}

/// The draws of a posterior a scenario's runs take their parameters from.
#[derive(Debug, Clone)]
pub struct PosteriorDraws {
    /// The file they came from.
    pub file: PathBuf,
    /// The parameters, as named in the file.
    pub names: Vec<String>,
    /// Their ids in the scenario's program.
    pub ids: Vec<ParamId>,
    /// One row of values per draw.
    pub rows: Vec<Vec<f64>>,
}

/// A scenario ready to run: the model with its policies, compiled, the
/// periods and indicators resolved, and the parameters each run sets.
#[derive(Debug)]
pub struct Prepared {
    scenario: Scenario,
    model: Model,
    program: Program,
    periods: Periods,
    projector: Projector,
    set: Vec<(ParamId, f64)>,
    uncertain: Vec<(String, ParamId, Distribution)>,
    posterior: Option<PosteriorDraws>,
    scalars: Vec<(String, Resolved)>,
    cost: Option<usize>,
    cumulative: Vec<usize>,
}

impl Scenario {
    /// Loads the model, applies the policies and checks every name.
    ///
    /// # Errors
    ///
    /// The model's load and compile errors; [`Error::Parameter`] for a
    /// parameter, policy or uncertain parameter the model lacks (with the
    /// closest name); [`Error::Invalid`] for an indicator or scalar the
    /// model cannot provide, a step that does not divide a period, periods
    /// outside what the model can run, or a policy that starts after the
    /// horizon.
    pub fn prepare(&self) -> Result<Prepared> {
        self.prepare_with(self.load_model()?)
    }

    /// The model the scenario names, loaded: a file (relative to the
    /// scenario file that names it) or a built-in model of its library.
    ///
    /// # Errors
    ///
    /// The model's load errors; a missing model is reported at the file
    /// (of the `extends` chain) that names it.
    pub fn load_model(&self) -> Result<Model> {
        let path = self.base_dir.join(&self.model);
        let named_here = |message: String| {
            self.model_source
                .as_ref()
                .and_then(|s| s.key_error("model", message.clone()))
                .unwrap_or(Error::Invalid {
                    what: format!("scenario `{}`", self.name),
                    message,
                })
        };
        if path.exists() || Path::new(&self.model).extension().is_some() {
            if !path.exists() {
                return Err(named_here(format!(
                    "model `{}`: no model file `{}`",
                    self.model,
                    path.display()
                )));
            }
            crate::format::load_model(&path)
        } else {
            self.library
                .load_model(&self.model)
                .map_err(|e| named_here(format!("model `{}`: {e}", self.model)))
        }
    }

    /// As [`Scenario::prepare`], on `model` instead of the model the
    /// scenario names: the same question asked of another model with the
    /// same names (for example, a local authority's version of a national
    /// model). Preparing a scenario on the model it names gives exactly
    /// what [`Scenario::prepare`] gives.
    ///
    /// # Errors
    ///
    /// As [`Scenario::prepare`], except loading.
    pub fn prepare_with(&self, model: Model) -> Result<Prepared> {
        let groups = policy::group(&self.policies);
        let model = policy::apply(model, &groups)?;
        let program = Program::compile(&model)?;
        let mut errors = Vec::new();
        let mut set = Vec::new();
        for (name, value) in &self.parameters {
            match program.parameter(&policy::redirect(name, &groups)) {
                Ok(id) => set.push((id, *value)),
                Err(e) => errors.push(self.name_error("parameters", name, e)),
            }
        }
        let mut uncertain = Vec::new();
        for (name, d) in &self.uncertain {
            match program.parameter(&policy::redirect(name, &groups)) {
                Ok(id) => uncertain.push((name.clone(), id, *d)),
                Err(e) => errors.push(self.name_error("uncertain", name, e)),
            }
        }
        Error::from_list(errors)?;
        let posterior = self.load_posterior(&program, &groups, &uncertain)?;
        let periods = self.periods(&model)?;
        self.check_start(&model, &periods)?;
        self.check_policies(&groups, &periods)?;
        let (projector, scalars, cost, cumulative) = self.resolve_outputs(&model, &program)?;
        let prepared = Prepared {
            scenario: self.clone(),
            model,
            program,
            periods,
            projector,
            set,
            uncertain,
            posterior,
            scalars,
            cost,
            cumulative,
        };
        // The time step must suit the model and the periods, now rather
        // than in every run.
        let mut state = prepared.program.state();
        prepared.configure(&mut state)?;
        prepared.periods.time_settings(state.time())?;
        Ok(prepared)
    }

    /// `error` about the parameter `name` of the table `[table]`, located
    /// where the file of the chain that writes it does (`[uncertain."x"]`,
    /// or `"x" = ...` under `[parameters]`); as it is when no file does.
    fn name_error(&self, table: &str, name: &str, error: Error) -> Error {
        let needles = [
            format!("[{table}.\"{name}\"]"),
            format!("[{table}.{name}]"),
            format!("\"{name}\""),
        ];
        for needle in &needles {
            if let Some(source) = self.chain.iter().find(|s| s.text.contains(needle.as_str())) {
                return source.error(needle, format!("[{table}] {error}"));
            }
        }
        error
    }

    /// Reads the scenario's posterior, if it names one: every parameter must
    /// be a constant of the model, set by no other part of the scenario,
    /// and the chains must have converged.
    fn load_posterior(
        &self,
        program: &Program,
        groups: &Groups<'_>,
        uncertain: &[(String, ParamId, Distribution)],
    ) -> Result<Option<PosteriorDraws>> {
        let given = self.posterior_draws.clone();
        let Some(path) = given
            .as_ref()
            .map(|(_, what)| PathBuf::from(what))
            .or_else(|| self.posterior())
        else {
            return Ok(None);
        };
        let path = &path;
        let at = |message: String| {
            self.posterior_source
                .as_ref()
                .and_then(|s| s.table_error("posterior", message.clone()))
                .unwrap_or(Error::Invalid {
                    what: format!("scenario `{}`", self.name),
                    message,
                })
        };
        if given.is_none() && !path.is_file() {
            return Err(at(format!(
                "[posterior] file: no posterior file `{}` (write one with `carecascade calibrate MODEL --data DATA --params SPEC --posterior FILE`)",
                path.display()
            )));
        }
        let posterior = match given {
            Some((posterior, _)) => posterior,
            None => crate::calibrate::Posterior::load(path)?,
        };
        let shown = path.display().to_string();
        if !posterior.converged {
            return Err(at(format!(
                "[posterior] `{shown}` is marked as not converged: its draws do not represent the posterior. Sample it again with more steps"
            )));
        }
        let mut errors = Vec::new();
        let mut ids = Vec::new();
        for name in &posterior.parameters {
            let c = crate::name::canonical_name(name);
            if self
                .parameters
                .keys()
                .any(|p| crate::name::canonical_name(p) == c)
            {
                errors.push(at(format!(
                    "`{name}` is drawn from the posterior `{shown}` and also set in [parameters]: remove one"
                )));
            }
            if uncertain
                .iter()
                .any(|(p, _, _)| crate::name::canonical_name(p) == c)
            {
                errors.push(at(format!(
                    "`{name}` is drawn from the posterior `{shown}` and also in [uncertain]: remove one"
                )));
            }
            match program.parameter(&policy::redirect(name, groups)) {
                Ok(id) => ids.push(id),
                Err(e) => errors.push(at(format!("posterior `{shown}`: {e}"))),
            }
        }
        Error::from_list(errors)?;
        Ok(Some(PosteriorDraws {
            file: path.clone(),
            names: posterior.parameters.clone(),
            ids,
            rows: posterior.draws.into_iter().map(|d| d.values).collect(),
        }))
    }

    /// The periods: from the scenario's start (or the model's) for its
    /// horizon (or to the model's stop).
    fn periods(&self, model: &Model) -> Result<Periods> {
        let time = model.time();
        let start = self.start.unwrap_or(time.start() - self.offset);
        let horizon = match self.horizon {
            Some(h) => h,
            None => {
                let n = ((time.stop() - (start + self.offset)) / self.period + 1e-9).floor();
                if n < 1.0 {
                    return Err(Error::Invalid {
                        what: format!("scenario `{}`", self.name),
                        message: format!(
                            "the model stops at {} before one period ({}) from the start {}: give [time] horizon",
                            time.stop(),
                            self.period,
                            start + self.offset
                        ),
                    });
                }
                n as usize
            }
        };
        Periods::new(start, horizon)?
            .with_length(self.period)?
            .with_offset(self.offset)
    }

    /// A start for which the model has no starting data would run from
    /// another time's data under this start's label: refuse it, naming the
    /// starts it has data for.
    fn check_start(&self, model: &Model, periods: &Periods) -> Result<()> {
        let start = periods.time(0);
        let Some(data) = model.start_data() else {
            return Ok(());
        };
        if data.covers(start) {
            return Ok(());
        }
        let offset = periods.offset();
        let range = if data.from > data.to {
            "no start: the points of those lookups do not overlap".to_string()
        } else {
            format!(
                "[time] start {} to {} (times {} to {})",
                data.from - offset,
                data.to - offset,
                data.from,
                data.to
            )
        };
        Err(Error::Invalid {
            what: format!("scenario `{}`", self.name),
            message: format!(
                "starts at {} (time {start}) but model `{}` has starting data (its lookups on INITIAL TIME: {}) only for {range}; outside them it would start from another time's data",
                start - offset,
                self.model,
                data.describe_lookups()
            ),
        })
    }

    /// A policy that would start after the last period would silently do
    /// nothing: refuse it.
    fn check_policies(&self, groups: &Groups<'_>, periods: &Periods) -> Result<()> {
        let end = periods.time(periods.count());
        let late: Vec<Error> = groups
            .values()
            .flatten()
            .filter(|p| p.shape().start() >= end)
            .map(|p| Error::Invalid {
                what: format!("scenario `{}`, policy on `{}`", self.name, p.parameter()),
                message: format!(
                    "starts at {} but the run ends at {end}: it would have no effect (lengthen [time] horizon or remove the policy)",
                    p.shape().start()
                ),
            })
            .collect();
        Error::from_list(late)
    }

    /// The projector of exactly the stored indicators (the reported ones,
    /// then any a scalar or comparison needs), and the scalars and
    /// comparison indicators resolved against it.
    #[allow(clippy::type_complexity)]
    fn resolve_outputs(
        &self,
        model: &Model,
        program: &Program,
    ) -> Result<(
        Projector,
        Vec<(String, Resolved)>,
        Option<usize>,
        Vec<usize>,
    )> {
        // Named outputs, with measures from the variables' kinds where none
        // was written.
        let mut named: Vec<Indicator> = self
            .outputs
            .iter()
            .map(|(indicator, natural)| {
                let mut indicator = indicator.clone();
                if *natural && let Some(v) = model.variable(&indicator.variable) {
                    indicator.measure = Measure::natural(v.kind());
                }
                indicator
            })
            .collect();
        let (available, missing) = Projector::new_lenient(program, &named);
        // The indicators to store, in order.
        let mut wanted: Vec<String> = match &self.indicators {
            Some(list) => list.clone(),
            None if !named.is_empty() => available.columns().to_vec(),
            None => model
                .variables()
                .iter()
                .filter(|v| matches!(v.kind(), VariableKind::Stock { .. }))
                .map(|v| v.name().to_string())
                .collect(),
        };
        let needed = self
            .scalars
            .iter()
            .filter_map(|s| match s.source() {
                super::ScalarSource::Indicator(i) => Some(i.clone()),
                super::ScalarSource::Variable(_) => None,
            })
            .chain(self.compare.cost.iter().cloned())
            .chain(self.compare.cumulative.iter().cloned());
        for name in needed {
            if !wanted.contains(&name) {
                wanted.push(name);
            }
        }
        // A wanted name is a column of the named outputs, or a variable.
        let mut errors = Vec::new();
        for name in &wanted {
            if available.columns().contains(name) {
                continue;
            }
            if let Some(ind) = missing.iter().find(|i| &i.column == name) {
                errors.push(Error::Invalid {
                    what: format!("indicator `{name}`"),
                    message: format!(
                        "its variable `{}` is not in the model{}",
                        ind.variable,
                        did_you_mean(closest(
                            &ind.variable,
                            program.output_names().iter().map(String::as_str)
                        ))
                    ),
                });
            } else if let Some(v) = model.variable(name) {
                named.push(Indicator::new(name, v.name(), Measure::natural(v.kind())));
            } else {
                let candidates = available
                    .columns()
                    .iter()
                    .map(String::as_str)
                    .chain(model.variables().iter().map(|v| v.name()));
                errors.push(Error::Invalid {
                    what: format!("[report] indicator `{name}`"),
                    message: format!(
                        "is not a column of the model's projection or a variable of the model{}",
                        did_you_mean(closest(name, candidates))
                    ),
                });
            }
        }
        Error::from_list(errors)?;
        let (all, _) = Projector::new_lenient(program, &named);
        let projector = all.select(&wanted)?;
        let column = |name: &str| projector.columns().iter().position(|c| c == name);
        let mut scalars = Vec::new();
        let mut errors = Vec::new();
        for s in &self.scalars {
            let resolved = match s.source() {
                super::ScalarSource::Indicator(i) => {
                    let column = column(i).expect("scalar indicators are stored");
                    if matches!(s.reduce(), Reduce::Sum | Reduce::Discounted { .. })
                        && projector.measure(i) == Some(Measure::Level)
                    {
                        // Summing levels over periods is almost always a
                        // mistake (children counted again every year).
                        errors.push(Error::Invalid {
                            what: format!("report.scalars.\"{}\"", s.name()),
                            message: format!(
                                "`{i}` is a level (a value at each period's end); summing it over periods counts the same things again each period. Sum a flow, or use mean, max, min or final"
                            ),
                        });
                        continue;
                    }
                    Resolved::Periods {
                        column,
                        reduce: s.reduce(),
                    }
                }
                super::ScalarSource::Variable(v) => match program.output_index(v) {
                    Some(output) => Resolved::Steps {
                        output,
                        max: s.reduce() == Reduce::Max,
                    },
                    None => {
                        errors.push(Error::Invalid {
                            what: format!("report.scalars.\"{}\"", s.name()),
                            message: format!(
                                "the model has no variable `{v}`{} (name one element of an arrayed variable, as `name[element]`)",
                                did_you_mean(closest(
                                    v,
                                    program.output_names().iter().map(String::as_str)
                                ))
                            ),
                        });
                        continue;
                    }
                },
            };
            scalars.push((s.name().to_string(), resolved));
        }
        let cost = self.compare.cost.as_deref().and_then(column);
        if let Some(c) = &self.compare.cost
            && projector.measure(c) == Some(Measure::Level)
        {
            errors.push(Error::Invalid {
                    what: "[compare] cost".into(),
                    message: format!(
                        "`{c}` is a level (a value at each period's end); a cost is summed over each period"
                    ),
                });
        }
        let cumulative = self
            .compare
            .cumulative
            .iter()
            .filter_map(|c| column(c))
            .collect();
        for (k, s) in self.scalars.iter().enumerate() {
            if self.scalars[..k]
                .iter()
                .any(|t| canonical_name(t.name()) == canonical_name(s.name()))
            {
                errors.push(Error::Invalid {
                    what: format!("report.scalars.\"{}\"", s.name()),
                    message: "two scalars have this name".into(),
                });
            }
        }
        Error::from_list(errors)?;
        Ok((projector, scalars, cost, cumulative))
    }
}

impl Prepared {
    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The model with the policies applied.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The compiled model.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The periods each run is projected over.
    pub fn periods(&self) -> &Periods {
        &self.periods
    }

    /// The projector of the stored indicators.
    pub fn projector(&self) -> &Projector {
        &self.projector
    }

    /// The stored indicators, in order: those reported, then any that a
    /// scalar or a comparison needs.
    pub fn indicators(&self) -> &[String] {
        self.projector.columns()
    }

    /// The uncertain parameters: name, id and distribution.
    pub fn uncertain(&self) -> &[(String, ParamId, Distribution)] {
        &self.uncertain
    }

    /// The posterior the runs draw from, if any.
    pub fn posterior(&self) -> Option<&PosteriorDraws> {
        self.posterior.as_ref()
    }

    /// The names of everything drawn per run: the uncertain parameters,
    /// then the posterior's (the columns of a run's draws).
    pub fn drawn(&self) -> Vec<String> {
        self.uncertain
            .iter()
            .map(|(n, _, _)| n.clone())
            .chain(self.posterior.iter().flat_map(|p| p.names.iter().cloned()))
            .collect()
    }

    /// The names of the per-run scalars.
    pub fn scalar_names(&self) -> Vec<String> {
        self.scalars.iter().map(|(n, _)| n.clone()).collect()
    }

    pub(crate) fn resolved_scalars(&self) -> &[(String, Resolved)] {
        &self.scalars
    }

    /// The cost indicator's position among [`Prepared::indicators`].
    pub fn cost_column(&self) -> Option<usize> {
        self.cost
    }

    /// The positions of the cumulative comparison indicators.
    pub fn cumulative_columns(&self) -> &[usize] {
        &self.cumulative
    }

    /// Sets the scenario's fixed parameters and time step on a run's state.
    ///
    /// # Errors
    ///
    /// [`Error::Time`] for a step the model's time settings refuse.
    pub fn configure(&self, state: &mut State) -> Result<()> {
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
