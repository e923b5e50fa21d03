//! Many ensembles in one submission: several scenario files, and the same
//! question asked of many local authorities, spread over the tasks of one
//! array job.
//!
//! A [`Submission`] turns what `carecascade run` and `compare` are given
//! into an engine [`Plan`] of pieces:
//!
//! - `run A.toml B.toml ...`: one piece per scenario, in the folder named
//!   after the scenario (`baseline`, `early-help-investment`);
//! - `compare BASE ALT... --area ...`: one piece per authority, a
//!   comparison of its local model, in the folder named by its ONS code
//!   (`E08000035`);
//! - `run A.toml B.toml --area ...`: one piece per authority and scenario
//!   (`E08000035/baseline`).
//!
//! A local model is made by [`crate::local::localise`] from the model the
//! scenarios name (the England model), starting from the stocks of 31 March
//! [`LOCAL_FROM`], by each task for the authorities it holds; each
//! scenario is then prepared on it ([`Scenario::prepare_with`]), which is
//! what a scenario file extending `baseline.toml` with `model = "local.toml"`
//! runs. A start figure an authority did not publish is filled in and
//! reported ([`crate::local::start_figures`]): in the plan's
//! `filled_start_figures` column of `index.csv` and in
//! [`Submission::warnings`]. An authority whose model cannot be made or
//! whose run fails is reported and skipped; the others are written. See
//! `docs/scaling-out.md`.

use crate::engine::Model;
use crate::engine::ensemble::{Piece, Plan, PlanReport, Shard, check_together};
use crate::engine::error::{Error, Result};
use crate::engine::scenario::{Prepared, Scenario};
use std::path::Path;

/// The year whose 31 March stocks local models start from (the first with
/// children looked after published by authority).
pub const LOCAL_FROM: i32 = 2021;

/// Many ensembles to run as one plan: see the [module documentation](self).
#[derive(Debug)]
pub struct Submission {
    scenarios: Vec<Scenario>,
    compare: bool,
    /// (code, name) of each authority, or none for the scenarios' own model.
    authorities: Vec<(String, String)>,
    /// The model local models are made from.
    model: Option<Model>,
    plan: Plan,
    /// The start figures filled in, for every authority.
    warnings: Vec<crate::local::LocalWarning>,
    /// Per scenario, what its local runs draw their calibrated parameters
    /// from.
    local_draws: Vec<LocalRates>,
    /// What the user should know about the calibrated parameters local
    /// runs draw.
    notes: Vec<String>,
    /// Whether the areas are every authority (`all`), so that a run also
    /// rolls them up and checks the sum against the national model.
    every_authority: bool,
}

/// A scenario's name as a folder: lower case letters and digits, with
/// single `-` between words.
pub fn folder_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "scenario".into()
    } else {
        out
    }
}

impl Submission {
    /// A submission of `scenarios` (loaded, with any change of runs or seed
    /// applied): a comparison of them (the first is the base) if `compare`,
    /// otherwise a run of each; for each of `areas` (see
    /// [`crate::local::authorities`]; none for the scenarios' own model).
    /// Every scenario is prepared once on its own model here, so that
    /// mistakes are reported before anything runs.
    ///
    /// # Errors
    ///
    /// The scenarios' own errors ([`Scenario::prepare`]); for a comparison,
    /// scenarios that cannot run together ([`check_together`]); two
    /// scenarios run separately with the same folder name; with `areas`,
    /// the errors of [`crate::local::authorities`], scenarios that name
    /// different models, or a model that cannot be localised
    /// ([`crate::local::check_localisable`]).
    pub fn new(scenarios: Vec<Scenario>, compare: bool, areas: &[String]) -> Result<Submission> {
        if scenarios.is_empty() || (compare && scenarios.len() < 2) {
            return Err(Error::Invalid {
                what: "submission".into(),
                message: "a run needs a scenario and a comparison a base and an alternative".into(),
            });
        }
        // A scenario whose model is already a local authority's (made by
        // `localise`) draws that authority's rates too.
        let mut notes = Vec::new();
        let scenarios = if areas.is_empty() {
            let mut out = Vec::new();
            for s in scenarios {
                let (s, n) = on_local_model(s)?;
                out.push(s);
                notes.extend(n);
            }
            out
        } else {
            scenarios
        };
        let prepared = scenarios
            .iter()
            .map(Scenario::prepare)
            .collect::<Result<Vec<_>>>()?;
        if compare {
            check_together(&prepared)?;
        }
        let every_authority = areas.len() == 1 && areas[0].trim().eq_ignore_ascii_case("all");
        let authorities = if areas.is_empty() {
            Vec::new()
        } else {
            crate::local::authorities(areas)?
        };
        let model = if authorities.is_empty() {
            None
        } else {
            let model = scenarios_model(&scenarios)?;
            crate::local::check_localisable(&model)?;
            Some(model)
        };
        let (local_draws, rate_notes) = if authorities.is_empty() {
            (vec![LocalRates::None; scenarios.len()], Vec::new())
        } else {
            local_posteriors(&scenarios, &authorities)?
        };
        notes.extend(rate_notes);
        if !authorities.is_empty() {
            for s in &scenarios {
                let mut set = Vec::new();
                for name in crate::local::NATIONAL_AMOUNTS {
                    let c = crate::engine::name::canonical_name(name);
                    let same = |p: &str| crate::engine::name::canonical_name(p) == c;
                    if s.parameters().keys().any(|p| same(p))
                        || s.policies().iter().any(|p| same(p.parameter()))
                    {
                        set.push(format!("`{name}`"));
                    }
                }
                if !set.is_empty() {
                    notes.push(format!(
                        "scenario `{}` sets {} in £m for England: each authority is asked the question at its share of England's children (the amount times the share; each local model's lookups say its share)",
                        s.name(),
                        set.join(" and ")
                    ));
                }
            }
        }
        // The start figures each authority's model will fill in (the data
        // side of localising: cheap), for index.csv and the warnings. An
        // authority whose figures cannot be found fails when its pieces
        // run, and says why there.
        let table = crate::data::LocalAuthorities::load()?;
        let mut warnings = Vec::new();
        let mut filled = Vec::new();
        for (code, _) in &authorities {
            let found = crate::local::start_figures(&table, code, LOCAL_FROM)
                .map(|s| s.warnings)
                .unwrap_or_default();
            filled.push(
                found
                    .iter()
                    .map(crate::local::LocalWarning::short)
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            warnings.extend(found);
        }
        drop(prepared);
        let names: Vec<String> = scenarios.iter().map(|s| s.name().to_string()).collect();
        // The scenarios of each piece: all of them (a comparison) or one.
        let groups: Vec<(String, Vec<usize>)> = if compare {
            vec![(String::new(), (0..scenarios.len()).collect())]
        } else {
            let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
            for (k, s) in scenarios.iter().enumerate() {
                let folder = folder_name(s.name());
                if let Some((_, other)) = groups.iter().find(|(f, _)| *f == folder) {
                    return Err(Error::Invalid {
                        what: "scenarios".into(),
                        message: format!(
                            "`{}` and `{}` would both be written to the folder `{folder}`: give them different [scenario] names",
                            scenarios[other[0]].name(),
                            s.name()
                        ),
                    });
                }
                groups.push((folder, vec![k]));
            }
            groups
        };
        let label = |group: &[usize]| {
            group
                .iter()
                .map(|&k| names[k].as_str())
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut pieces = Vec::new();
        let columns = if authorities.is_empty() {
            for (folder, group) in &groups {
                let runs = scenarios[group[0]].runs();
                pieces.push(Piece::new(folder.clone(), runs, vec![label(group)]));
            }
            vec!["scenarios".to_string()]
        } else {
            for ((code, name), filled) in authorities.iter().zip(&filled) {
                for (folder, group) in &groups {
                    let folder = if groups.len() == 1 {
                        code.clone()
                    } else {
                        format!("{code}/{folder}")
                    };
                    let runs = scenarios[group[0]].runs();
                    pieces.push(Piece::new(
                        folder,
                        runs,
                        vec![code.clone(), name.clone(), label(group), filled.clone()],
                    ));
                }
            }
            vec![
                "authority_code".to_string(),
                "authority".to_string(),
                "scenarios".to_string(),
                "filled_start_figures".to_string(),
            ]
        };
        let plan = Plan::new(columns, pieces)?;
        Ok(Submission {
            scenarios,
            compare,
            authorities,
            model,
            plan,
            warnings,
            local_draws,
            notes,
            every_authority,
        })
    }

    /// The start figures the authorities' local models fill in (see
    /// [`crate::local::start_figures`]); none without authorities.
    pub fn warnings(&self) -> &[crate::local::LocalWarning] {
        &self.warnings
    }

    /// Notes on the calibrated parameters local runs draw: a scenario that
    /// draws England's posterior with no posterior by authority keeps each
    /// authority's own fitted rates (see `[posterior] groups`).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The plan: its pieces, their folders and runs.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The scenarios, in the order given (for a comparison, the base first).
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// The authorities asked about, as (ONS code, name), in order; none
    /// without areas.
    pub fn authorities(&self) -> &[(String, String)] {
        &self.authorities
    }

    /// Every scenario prepared on the model of authority `a` (an index into
    /// [`Submission::authorities`]), in order: what the authority's pieces
    /// run. Without authorities, each scenario on its own model.
    ///
    /// # Errors
    ///
    /// An index out of range; the errors of making the authority's model
    /// ([`crate::local::localise`]) or of preparing a scenario on it.
    pub fn local_scenarios(&self, a: usize) -> Result<Vec<Prepared>> {
        if self.authorities.is_empty() {
            return self.scenarios.iter().map(Scenario::prepare).collect();
        }
        let model = self.local_model(a)?;
        (0..self.scenarios.len())
            .map(|i| self.prepare_local(i, a, &model))
            .collect()
    }

    /// The scenarios as asked of a local authority with `share` of
    /// England's children: the national amounts of money they set
    /// ([`crate::local::NATIONAL_AMOUNTS`]) scaled to it.
    fn at_share(scenario: &Scenario, share: f64) -> Result<Scenario> {
        let mut s = scenario.clone();
        for name in crate::local::NATIONAL_AMOUNTS {
            s = s.with_parameter_scaled(name, share)?.0;
        }
        Ok(s)
    }

    /// Scenario `i` prepared on `model`, authority `a`'s, drawing the
    /// calibrated parameters its local runs draw ([`LocalRates`]).
    fn prepare_local(&self, i: usize, a: usize, model: &(Model, f64)) -> Result<Prepared> {
        let (model, share) = model;
        let s = Self::at_share(&self.scenarios[i], *share)?;
        let code = &self.authorities[a].0;
        match self.local_draws[i].for_authority(code)? {
            Some((posterior, what)) => s
                .with_posterior_draws(posterior, what)
                .prepare_with(model.clone()),
            None => s.prepare_with(model.clone()),
        }
    }

    /// The model of authority `a`, made from the scenarios' model, and its
    /// share of England's children: the one place local models are made
    /// for a submission.
    fn local_model(&self, a: usize) -> Result<(Model, f64)> {
        let (Some(england), Some((code, _))) = (&self.model, self.authorities.get(a)) else {
            return Err(Error::Invalid {
                what: "submission".into(),
                message: format!(
                    "has {} authorities: there is no authority {a}",
                    self.authorities.len()
                ),
            });
        };
        crate::local::localise(england, code, LOCAL_FROM).map(|l| (l.model, l.population_share))
    }

    /// The scenarios of piece `k` (indices into the submission's
    /// scenarios), in the order they run.
    fn scenarios_of(&self, k: usize) -> Vec<usize> {
        if self.compare {
            (0..self.scenarios.len()).collect()
        } else {
            vec![k % self.scenarios.len()]
        }
    }

    /// Runs the whole submission, or one shard of it, writing into `output`
    /// (see [`Plan::run`]): each task makes only the local models of the
    /// authorities it holds. `progress` is called after each run.
    ///
    /// # Errors
    ///
    /// As [`Plan::run`]; pieces whose local model cannot be made, or whose
    /// run fails, are reported as failed, not errors.
    pub fn run(
        &self,
        shard: Option<Shard>,
        output: &Path,
        progress: &(dyn Fn() + Sync),
    ) -> Result<PlanReport> {
        self.run_observed(shard, output, progress, &mut NoObserver)
    }

    /// Whether this submission asks every authority (`--area all`), so
    /// that [`Submission::run_rolled_up`] can add them up and check the
    /// sum against the national model.
    pub fn is_every_authority(&self) -> bool {
        self.every_authority
    }

    /// Runs the whole submission as [`Submission::run`] (unsharded), adds
    /// up every authority's runs of each scenario, run by run, runs the
    /// same scenarios on the national model with the same runs and seed,
    /// and writes the comparison as `rollup.csv` in `output` (see
    /// [`crate::rollup`]).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] unless the submission asks every authority; the
    /// errors of [`Submission::run`], of the national runs and of writing
    /// the file.
    pub fn run_rolled_up(
        &self,
        output: &Path,
        progress: &(dyn Fn() + Sync),
    ) -> Result<(PlanReport, crate::rollup::RollUpCheck)> {
        if !self.every_authority {
            return Err(Error::Invalid {
                what: "roll-up".into(),
                message: "a national roll-up needs every authority (--area all)".into(),
            });
        }
        let options = crate::engine::ensemble::RunOptions::default();
        let national = if self.compare {
            let prepared = self
                .scenarios
                .iter()
                .map(Scenario::prepare)
                .collect::<Result<Vec<_>>>()?;
            vec![crate::engine::ensemble::run_scenarios(&prepared, &options)?]
        } else {
            self.scenarios
                .iter()
                .map(|s| crate::engine::ensemble::run_scenarios(&[s.prepare()?], &options))
                .collect::<Result<Vec<_>>>()?
        };
        let mut rolling = crate::rollup::RollingUp::new(&national)?;
        let report = self.run_observed(None, output, progress, &mut rolling)?;
        let check = rolling.into_check().ok_or_else(|| Error::Invalid {
            what: "roll-up".into(),
            message: "the plan finished without checking the roll-up".into(),
        })?;
        Ok((report, check))
    }

    fn run_observed(
        &self,
        shard: Option<Shard>,
        output: &Path,
        progress: &(dyn Fn() + Sync),
        observer: &mut dyn crate::engine::ensemble::PlanObserver,
    ) -> Result<PlanReport> {
        // The last authority localised: pieces of one authority are
        // consecutive.
        let mut local: Option<(usize, Result<(Model, f64)>)> = None;
        let per_authority = if self.compare {
            1
        } else {
            self.scenarios.len()
        };
        let mut prepare = |k: usize| -> Result<Vec<Prepared>> {
            let scenarios = self.scenarios_of(k);
            if self.model.is_none() {
                return scenarios
                    .iter()
                    .map(|&i| self.scenarios[i].prepare())
                    .collect();
            }
            let a = k / per_authority;
            let made = match local.take() {
                Some((b, made)) if b == a => made,
                _ => self.local_model(a),
            };
            let result = match &made {
                Ok(model) => scenarios
                    .iter()
                    .map(|&i| self.prepare_local(i, a, model))
                    .collect(),
                Err(e) => Err(same_error(e)),
            };
            local = Some((a, made));
            result
        };
        self.plan
            .run_observed(shard, output, &mut prepare, progress, observer)
    }

    /// The runs a task holding `shard` runs (all of them for `None`),
    /// counting each scenario's runs: for a progress bar.
    pub fn runs_in(&self, shard: Option<Shard>) -> usize {
        self.plan
            .assignment(shard)
            .iter()
            .map(|(k, runs)| runs.len() * self.scenarios_of(*k).len())
            .sum()
    }
}

/// Sees nothing.
struct NoObserver;

impl crate::engine::ensemble::PlanObserver for NoObserver {
    fn piece(&mut self, _: usize, _: &crate::engine::ensemble::Outcome) -> Result<()> {
        Ok(())
    }
}

/// What a scenario's runs on a local authority's model draw their
/// calibrated parameters from.
#[derive(Debug, Clone)]
enum LocalRates {
    /// Nothing: the scenario draws no posterior.
    None,
    /// The authorities' pooled posterior (`[posterior] groups`): each
    /// authority's own draws of its local rates, with the file's path.
    Pooled(String, std::sync::Arc<crate::pooled::LocalDraws>),
    /// England's posterior without the local rates (the scenario names no
    /// posterior by authority): the other calibrated parameters are drawn,
    /// and the authority's rates keep its own fit.
    National(crate::engine::calibrate::Posterior, String),
}

impl LocalRates {
    /// The draws for `code`'s runs, with what they are.
    fn for_authority(
        &self,
        code: &str,
    ) -> Result<Option<(crate::engine::calibrate::Posterior, String)>> {
        Ok(match self {
            LocalRates::None => None,
            LocalRates::Pooled(file, draws) => Some((
                authority_posterior(draws, file, code)?,
                format!("{file} ({code})"),
            )),
            LocalRates::National(posterior, what) => Some((posterior.clone(), what.clone())),
        })
    }
}

/// What each scenario's local runs draw their calibrated parameters from
/// ([`LocalRates`]): its `[posterior] groups` file, read once per file and
/// checked (converged, every authority in it); or, for a scenario that
/// draws England's calibrated parameters (`[posterior] file`) without a
/// posterior by authority, England's draws without the local rates, so
/// that they never replace the authority's own (each such scenario is
/// named in the returned warnings).
fn local_posteriors(
    scenarios: &[Scenario],
    authorities: &[(String, String)],
) -> Result<(Vec<LocalRates>, Vec<String>)> {
    let mut read: Vec<(
        std::path::PathBuf,
        std::sync::Arc<crate::pooled::LocalDraws>,
    )> = Vec::new();
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for s in scenarios {
        let Some(path) = s.group_posterior() else {
            let Some(national) = s.posterior() else {
                out.push(LocalRates::None);
                continue;
            };
            let mut posterior = crate::engine::calibrate::Posterior::load(&national)?;
            let local: Vec<usize> = crate::local::LOCAL_PARAMETERS
                .iter()
                .filter_map(|(p, _, _)| posterior.parameter(p))
                .collect();
            let keep: Vec<usize> = (0..posterior.parameters.len())
                .filter(|i| !local.contains(i))
                .collect();
            let dropped: Vec<String> = local
                .iter()
                .map(|&i| format!("`{}`", posterior.parameters[i]))
                .collect();
            posterior.parameters = keep
                .iter()
                .map(|&i| posterior.parameters[i].clone())
                .collect();
            posterior.priors = keep
                .iter()
                .filter_map(|&i| posterior.priors.get(i).cloned())
                .collect();
            for d in &mut posterior.draws {
                d.values = keep.iter().map(|&i| d.values[i]).collect();
            }
            if !dropped.is_empty() {
                warnings.push(format!(
                    "scenario `{}` draws England's calibrated parameters from `{}` and names no posterior by authority ([posterior] groups, written by `carecascade calibrate-local`): each authority's {} keep its own fit, and the other calibrated parameters are drawn from England's posterior",
                    s.name(),
                    national.display(),
                    dropped.join(", ")
                ));
            }
            let what = format!("{} (without the local rates)", national.display());
            out.push(LocalRates::National(posterior, what));
            continue;
        };
        let draws = match read.iter().find(|(p, _)| *p == path) {
            Some((_, d)) => d.clone(),
            None => {
                if !path.is_file() {
                    return Err(Error::Invalid {
                        what: format!("scenario `{}`", s.name()),
                        message: format!(
                            "[posterior] groups: no file `{}` (write it with `carecascade calibrate-local --output {}`)",
                            path.display(),
                            path.display()
                        ),
                    });
                }
                let d = std::sync::Arc::new(crate::pooled::LocalDraws::load(&path)?);
                if !d.converged {
                    return Err(Error::Invalid {
                        what: format!("scenario `{}`", s.name()),
                        message: format!(
                            "[posterior] groups `{}` is marked as not converged: its draws do not represent the posterior. Run `carecascade calibrate-local` again with more --sweeps",
                            path.display()
                        ),
                    });
                }
                let missing: Vec<String> = authorities
                    .iter()
                    .filter(|(code, _)| !d.draws.contains_key(code))
                    .map(|(code, name)| format!("{name} ({code})"))
                    .collect();
                if !missing.is_empty() {
                    return Err(Error::Invalid {
                        what: format!("scenario `{}`", s.name()),
                        message: format!(
                            "[posterior] groups `{}` has no draws for {}: run `carecascade calibrate-local` with them",
                            path.display(),
                            missing.join(", ")
                        ),
                    });
                }
                read.push((path.clone(), d.clone()));
                d
            }
        };
        out.push(LocalRates::Pooled(path.display().to_string(), draws));
    }
    Ok((out, warnings))
}

/// `scenario` as it runs on its own model: if that is a local authority's
/// model (made by `localise`) and the scenario draws calibrated
/// parameters, the authority's own draws of its rates
/// ([`local_posteriors`]).
fn on_local_model(scenario: Scenario) -> Result<(Scenario, Vec<String>)> {
    if scenario.posterior().is_none() && scenario.group_posterior().is_none() {
        return Ok((scenario, Vec::new()));
    }
    let model = scenario.load_model()?;
    let Some(code) = crate::local::authority_code(&model).map(str::to_string) else {
        return Ok((scenario, Vec::new()));
    };
    let (found, notes) = local_posteriors(
        std::slice::from_ref(&scenario),
        &[(code.clone(), code.clone())],
    )?;
    match found
        .first()
        .map(|r| r.for_authority(&code))
        .transpose()?
        .flatten()
    {
        Some((posterior, what)) => Ok((scenario.with_posterior_draws(posterior, what), notes)),
        None => Ok((scenario, notes)),
    }
}

/// One authority's draws of its local rates, as a posterior a scenario's
/// runs draw from (one row per run, in turn).
fn authority_posterior(
    draws: &crate::pooled::LocalDraws,
    file: &str,
    code: &str,
) -> Result<crate::engine::calibrate::Posterior> {
    use crate::engine::calibrate::{Basis, Draw, Posterior};
    let rows = draws.draws.get(code).ok_or_else(|| Error::Invalid {
        what: format!("local posterior {file}"),
        message: format!("no draws for {code}"),
    })?;
    Ok(Posterior {
        parameters: draws.parameters.clone(),
        scales: Vec::new(),
        draws: rows
            .iter()
            .map(|values| Draw {
                values: values.clone(),
                scales: Vec::new(),
                log_posterior: 0.0,
            })
            .collect(),
        converged: draws.converged,
        notes: vec![format!("{code}'s draws of {file}")],
        priors: draws
            .parameters
            .iter()
            .map(|_| {
                (
                    "partially pooled across authorities".to_string(),
                    Basis::Assumption,
                    Some("carecascade calibrate-local".to_string()),
                )
            })
            .collect(),
    })
}

/// An error that reads as `e` does (errors are not `Clone`): each piece of
/// an authority whose model cannot be made says why.
fn same_error(e: &Error) -> Error {
    match e {
        Error::Invalid { what, message } => Error::Invalid {
            what: what.clone(),
            message: message.clone(),
        },
        other => Error::Invalid {
            what: "local model".into(),
            message: other.to_string(),
        },
    }
}

/// The model every scenario names (they must name the same one), to
/// localise.
fn scenarios_model(scenarios: &[Scenario]) -> Result<Model> {
    let identity = |s: &Scenario| {
        let path = s.base_dir().join(s.model());
        match path.canonicalize() {
            Ok(p) if path.is_file() => p.display().to_string(),
            _ => crate::engine::name::canonical_name(s.model()),
        }
    };
    let first = identity(&scenarios[0]);
    if let Some(other) = scenarios.iter().find(|s| identity(s) != first) {
        return Err(Error::Invalid {
            what: "--area".into(),
            message: format!(
                "makes each authority's model from the model the scenarios name, but `{}` names `{}` and `{}` names `{}`",
                scenarios[0].name(),
                scenarios[0].model(),
                other.name(),
                other.model()
            ),
        });
    }
    // The model as named, before any scenario's policies.
    scenarios[0].load_model()
}
