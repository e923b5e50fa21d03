//! Bayesian calibration: a posterior over a model's constants given
//! observed series, sampled by MCMC, with convergence checked.
//!
//! - **Priors** ([`Prior`]) come from the spec's parameter table: bounds
//!   (the support), a shape (uniform, normal or log-normal, truncated to
//!   the bounds) and a basis (`source` or `assumption`) that every output
//!   repeats.
//! - **The observation model** ([`Likelihood`]) is log-normal: each
//!   published value is the model's value times `exp(e)`, with `e` normal
//!   with mean 0 and a scale of its own for each series (and, when runs
//!   restart, each horizon). The scales are not guessed: under the
//!   reference prior `p(sigma) ~ 1/sigma` they are integrated out
//!   analytically, which leaves `-(n/2) ln(sum of e^2)` per series in the
//!   log likelihood, so series of any size and noise are weighed by how
//!   well the model can follow them. Given the parameters each scale's
//!   posterior is `sigma^2 = SS / chi^2_n`, drawn for every kept draw so
//!   that forecasts can carry the observation noise.
//! - **Restarts.** With `restart = "each period"` the likelihood is built
//!   from runs that start from the data of every fitted period and run
//!   `horizon` periods ahead (the way the model forecasts: from the latest
//!   published stocks), each horizon with its own scale. Every observation
//!   then appears in up to `horizon` runs, so each run's term is weighted
//!   by `1 / horizon` to count the data once. The model must start from
//!   data at each of those times (see [`crate::Model::start_data`]).
//! - **The sampler** is the affine-invariant ensemble sampler
//!   ([`ensemble_sampler`], stretch and optionally differential-evolution
//!   moves) on the parameters themselves: being affine invariant it follows
//!   the straight ridges that parameters only identified together make
//!   (two routes into care whose sum the data fix), which a transform to
//!   unbounded coordinates would bend; proposals outside the bounds have
//!   prior density 0 and are rejected. It starts in a small ball around the
//!   posterior mode found by Nelder-Mead ([`multi_start`]).
//!   Convergence is judged by split R-hat and effective sample size per
//!   parameter ([`Diagnostics`]); [`Sampled::check`] refuses a posterior
//!   that fails them.
//!
//! The result ([`Posterior`]) is a table of draws that reads back from
//! CSV; a scenario can name it and draw its parameters jointly.

mod mcmc;
mod posterior;
mod prior;

pub use mcmc::{
    Chains, Diagnostics, Mcmc, autocorrelation_time, ensemble_sampler, ensemble_sampler_batched,
    split_rhat,
};
pub use posterior::{Draw, Posterior, Scale};
pub use prior::{Basis, Prior, Shape};

use super::objective::Problem;
use super::optimise::{Search, multi_start};
use crate::error::{Error, Result};
use crate::model::StartData;
use crate::projection::Periods;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{ChiSquared, Distribution};
use rayon::prelude::*;

/// Lanes of the batches the posterior's runs go in.
pub const LANES: usize = 8;

/// The observation model's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Likelihood {
    /// Whether runs restart from the data of every fitted period (`true`)
    /// or one run goes from the first period to the last (`false`).
    pub restart: bool,
    /// With restarts: how many periods each run goes ahead.
    pub horizon: usize,
}

impl Default for Likelihood {
    /// One run over the whole window.
    fn default() -> Likelihood {
        Likelihood {
            restart: false,
            horizon: 1,
        }
    }
}

impl Likelihood {
    /// The observation model in words, for file headers and reports.
    pub fn describe(&self) -> String {
        let runs = if self.restart {
            format!(
                "runs restarting from the data of every fitted period, {} period(s) ahead, each horizon its own scale, weighted 1/{}",
                self.horizon, self.horizon
            )
        } else {
            "one run over the window".to_string()
        };
        format!("log-normal errors with a scale per series integrated out (prior 1/sigma); {runs}")
    }
}

/// One run of the likelihood: the periods it projects and the row of the
/// problem's projection its first row is.
#[derive(Debug, Clone)]
struct Segment {
    periods: Periods,
    first_row: usize,
}

/// The log posterior of a [`Problem`] with priors and an observation
/// model: the pieces the sampler and forecasts need.
#[derive(Debug, Clone)]
pub struct LogPosterior<'a> {
    problem: &'a Problem<'a>,
    priors: Vec<Prior>,
    likelihood: Likelihood,
    segments: Vec<Segment>,
    scales: Vec<Scale>,
}

impl<'a> LogPosterior<'a> {
    /// Sets up the posterior of `problem`'s parameters with `priors` (in
    /// the order of [`Problem::parameters`]).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a wrong number of priors, a prior whose
    /// bounds differ from the problem's, a horizon of 0, or (with restarts)
    /// a restart time the model has no starting data for.
    pub fn new(
        problem: &'a Problem<'a>,
        priors: Vec<Prior>,
        likelihood: Likelihood,
        start_data: Option<&StartData>,
    ) -> Result<LogPosterior<'a>> {
        let invalid = |message: String| Error::Invalid {
            what: "posterior".into(),
            message,
        };
        if priors.len() != problem.names.len() {
            return Err(invalid(format!(
                "{} priors for {} parameters",
                priors.len(),
                problem.names.len()
            )));
        }
        for ((name, prior), bounds) in problem.names.iter().zip(&priors).zip(&problem.bounds) {
            if let Some(p) = prior.problem() {
                return Err(invalid(format!("the prior of `{name}` {p}")));
            }
            if prior.bounds != *bounds {
                return Err(invalid(format!(
                    "the prior of `{name}` has other bounds than the problem"
                )));
            }
        }
        if likelihood.horizon == 0 {
            return Err(invalid("`horizon` must be at least 1".into()));
        }
        let periods = problem.periods;
        let count = periods.count();
        let mut segments = Vec::new();
        if likelihood.restart {
            for first in 0..count {
                let n = likelihood.horizon.min(count - first);
                let p = Periods::new(periods.label(first), n)?
                    .with_length(periods.length())?
                    .with_offset(periods.offset())?;
                if let Some(data) = start_data
                    && !data.covers(p.time(0))
                {
                    return Err(invalid(format!(
                        "restarting from period {} needs starting data at time {}, but the model's lookups on INITIAL TIME ({}) cover only {} to {}",
                        periods.label(first),
                        p.time(0),
                        data.describe_lookups(),
                        data.from,
                        data.to
                    )));
                }
                segments.push(Segment {
                    periods: p,
                    first_row: first,
                });
            }
        } else {
            segments.push(Segment {
                periods,
                first_row: 0,
            });
        }
        let horizons = if likelihood.restart {
            likelihood.horizon.min(count)
        } else {
            1
        };
        let scales = problem
            .targets
            .iter()
            .flat_map(|t| {
                (1..=horizons).map(|h| Scale {
                    series: t.column.clone(),
                    horizon: if likelihood.restart { h } else { 0 },
                })
            })
            .collect();
        Ok(LogPosterior {
            problem,
            priors,
            likelihood,
            segments,
            scales,
        })
    }

    /// The observation scales, in the order of [`Draw::scales`].
    pub fn scales(&self) -> &[Scale] {
        &self.scales
    }

    /// The priors, in the order of the parameters.
    pub fn priors(&self) -> &[Prior] {
        &self.priors
    }

    fn horizons(&self) -> usize {
        self.scales.len() / self.problem.targets.len().max(1)
    }

    /// For each scale, the number of residuals and their sum of squares at
    /// parameter `values`; `None` if a run fails or gives a value that is
    /// not positive and finite where one is observed.
    pub fn residuals(&self, values: &[f64]) -> Option<Vec<(usize, f64)>> {
        let problem = self.problem;
        let mut out = vec![(0usize, 0.0f64); self.scales.len()];
        let mut state = problem.program.state();
        for segment in &self.segments {
            for (id, v) in problem.ids.iter().zip(values) {
                state.set_param(*id, *v).ok()?;
            }
            let p = problem
                .projector
                .project(&mut state, &segment.periods)
                .ok()?;
            self.accumulate(segment, &p, &mut out)?;
        }
        Some(out)
    }

    /// Adds one run's squared log errors to `out` (count and sum per
    /// scale); `None` if a compared value is missing, not finite or not
    /// positive.
    fn accumulate(
        &self,
        segment: &Segment,
        p: &crate::projection::Projection,
        out: &mut [(usize, f64)],
    ) -> Option<()> {
        let horizons = self.horizons();
        for (t, target) in self.problem.targets.iter().enumerate() {
            let model = p.column(&target.column)?;
            for &(row, observed) in &target.points {
                if row <= segment.first_row || row > segment.first_row + segment.periods.count() {
                    continue;
                }
                let h = row - segment.first_row;
                let m = model[h]?;
                if !(m.is_finite() && m > 0.0) || observed <= 0.0 {
                    return None;
                }
                let e = observed.ln() - m.ln();
                let k = t * horizons + if self.likelihood.restart { h - 1 } else { 0 };
                out[k].0 += 1;
                out[k].1 += e * e;
            }
        }
        Some(())
    }

    /// [`LogPosterior::residuals`] for `LANES` (8) points at once, run in
    /// batches of lanes (each lane exactly its own run) of the program's
    /// [`Program::batch_lanes`](crate::Program::batch_lanes); a batch in
    /// which a run fails is run point by point, as is any other number of
    /// points.
    pub fn residuals_batch(&self, points: &[Vec<f64>]) -> Vec<Option<Vec<(usize, f64)>>> {
        if points.len() != LANES {
            return points.iter().map(|p| self.residuals(p)).collect();
        }
        let lanes = self.problem.program.batch_lanes();
        points
            .chunks(lanes)
            .flat_map(|chunk| match lanes {
                2 => self.residuals_lanes::<2>(chunk),
                4 => self.residuals_lanes::<4>(chunk),
                LANES => self.residuals_lanes::<LANES>(chunk),
                _ => chunk.iter().map(|p| self.residuals(p)).collect(),
            })
            .collect()
    }

    /// [`LogPosterior::residuals`] for `L` points, run as one batch.
    fn residuals_lanes<const L: usize>(
        &self,
        points: &[Vec<f64>],
    ) -> Vec<Option<Vec<(usize, f64)>>> {
        if points.len() != L {
            return points.iter().map(|p| self.residuals(p)).collect();
        }
        let problem = self.problem;
        let mut out = vec![vec![(0usize, 0.0f64); self.scales.len()]; L];
        let mut batch = problem.program.batch::<L>();
        for segment in &self.segments {
            for (lane, values) in points.iter().enumerate() {
                for (id, v) in problem.ids.iter().zip(values) {
                    if batch.set_param(lane, *id, *v).is_err() {
                        return points.iter().map(|p| self.residuals(p)).collect();
                    }
                }
            }
            let Ok(projections) =
                problem
                    .projector
                    .project_batch(&mut batch, &segment.periods, &mut |_, _| {})
            else {
                return points.iter().map(|p| self.residuals(p)).collect();
            };
            for (lane, p) in projections.iter().enumerate() {
                if self.accumulate(segment, p, &mut out[lane]).is_none() {
                    return points.iter().map(|p| self.residuals(p)).collect();
                }
            }
        }
        out.into_iter().map(Some).collect()
    }

    /// The log likelihood given residuals (see [`LogPosterior::residuals`]).
    fn likelihood_of(&self, residuals: Option<Vec<(usize, f64)>>) -> f64 {
        let Some(residuals) = residuals else {
            return f64::NEG_INFINITY;
        };
        let weight = if self.likelihood.restart {
            1.0 / self.likelihood.horizon as f64
        } else {
            1.0
        };
        residuals
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|&(n, ss)| -weight * 0.5 * n as f64 * ss.max(1e-300).ln())
            .sum()
    }

    /// The log likelihood at parameter `values`, the scales integrated
    /// out; minus infinity where the model cannot be run or compared.
    pub fn log_likelihood(&self, values: &[f64]) -> f64 {
        self.likelihood_of(self.residuals(values))
    }

    /// [`LogPosterior::at_values`] for several points, `LANES` (8) at a
    /// time, run in batches of lanes ([`LogPosterior::residuals_batch`]):
    /// the same values, faster.
    pub fn at_values_batch(&self, points: &[Vec<f64>]) -> Vec<f64> {
        let prior: Vec<f64> = points.iter().map(|v| self.log_prior(v)).collect();
        let mut out = vec![f64::NEG_INFINITY; points.len()];
        for (start, chunk) in points.chunks(LANES).enumerate() {
            // Points outside the bounds are not run.
            let inside: Vec<usize> = (0..chunk.len())
                .filter(|&k| prior[start * LANES + k].is_finite())
                .collect();
            let residuals = if inside.len() == chunk.len() {
                self.residuals_batch(chunk)
            } else {
                let mut r = vec![None; chunk.len()];
                for &k in &inside {
                    r[k] = self.residuals(&chunk[k]);
                }
                r
            };
            for (k, r) in residuals.into_iter().enumerate() {
                let i = start * LANES + k;
                if prior[i].is_finite() {
                    out[i] = prior[i] + self.likelihood_of(r);
                }
            }
        }
        out
    }

    /// The log prior at `values` (minus infinity outside the bounds).
    pub fn log_prior(&self, values: &[f64]) -> f64 {
        self.priors
            .iter()
            .zip(values)
            .map(|(p, x)| p.log_density(*x))
            .sum()
    }

    /// The log posterior at parameter `values`, up to a constant.
    pub fn at_values(&self, values: &[f64]) -> f64 {
        let prior = self.log_prior(values);
        if !prior.is_finite() {
            return f64::NEG_INFINITY;
        }
        prior + self.log_likelihood(values)
    }

    /// Draws each observation scale from its posterior given the
    /// parameters: `sigma^2 = SS / chi^2_n`. `None` where the model cannot
    /// be compared.
    pub fn draw_scales(&self, values: &[f64], rng: &mut ChaCha8Rng) -> Option<Vec<f64>> {
        let residuals = self.residuals(values)?;
        Some(
            residuals
                .iter()
                .map(|&(n, ss)| {
                    if n == 0 {
                        f64::NAN
                    } else {
                        let chi = ChiSquared::new(n as f64)
                            .map(|d| d.sample(rng))
                            .unwrap_or(1.0);
                        (ss / chi).sqrt()
                    }
                })
                .collect(),
        )
    }
}

/// The outcome of sampling: the posterior's draws, how they were obtained
/// and how well the chains mixed.
#[derive(Debug, Clone)]
pub struct Sampled {
    /// The kept draws (at most `keep`, evenly spaced over the chains).
    pub posterior: Posterior,
    /// The priors, in the order of the parameters.
    pub priors: Vec<Prior>,
    /// Convergence diagnostics over every kept step.
    pub diagnostics: Diagnostics,
    /// Why the chains fail the spec's thresholds; empty when converged.
    pub failures: Vec<String>,
    /// The posterior mode found before sampling.
    pub mode: Vec<f64>,
    /// Model evaluations, mode search included.
    pub evaluations: usize,
}

impl Sampled {
    /// Refuses an unconverged posterior.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] listing every parameter that fails, with what to
    /// change.
    pub fn check(&self) -> Result<()> {
        if self.failures.is_empty() {
            return Ok(());
        }
        Err(Error::Invalid {
            what: "posterior".into(),
            message: format!(
                "the chains have not converged, so the draws do not represent the posterior: {}. Run longer (more `steps` and `burn` in [mcmc]), or narrow priors that the data cannot inform",
                self.failures.join("; ")
            ),
        })
    }
}

/// What a posterior run may be given besides its problem and spec: all
/// optional ([`Default`] gives none).
#[derive(Default)]
pub struct Sampling<'a> {
    /// The data at each restart time (from [`crate::Model::start_data`]),
    /// to check that restarts have data.
    pub start_data: Option<&'a StartData>,
    /// An earlier posterior of the same parameters: the walkers start from
    /// its draws instead of around a fresh mode search (convergence is
    /// judged on the new run as always).
    pub warm_start: Option<&'a Posterior>,
    /// Called with `(done, steps)` after every sampler step, for a
    /// progress bar.
    pub progress: Option<&'a mut dyn FnMut(usize, usize)>,
}

/// Samples the posterior of `problem`'s parameters: priors from `priors`
/// (the problem's bounds as uniform priors where `None`), the observation
/// model `likelihood`, the mode searched with `search`, then `mcmc`; and
/// keeps at most `keep` draws, each with its observation scales.
///
/// # Errors
///
/// As [`LogPosterior::new`] and [`ensemble_sampler`]; [`Error::Invalid`]
/// if the model cannot be run at its mode.
#[allow(clippy::too_many_arguments)] // the low-level form of `posterior`, which takes a spec
pub fn sample_posterior(
    problem: &Problem<'_>,
    priors: Option<Vec<Prior>>,
    likelihood: Likelihood,
    search: &Search,
    mcmc: &Mcmc,
    keep: usize,
    sampling: Sampling<'_>,
) -> Result<Sampled> {
    let Sampling {
        start_data,
        warm_start,
        progress,
    } = sampling;
    let priors =
        priors.unwrap_or_else(|| problem.bounds.iter().map(|b| Prior::uniform(*b)).collect());
    let posterior = LogPosterior::new(problem, priors, likelihood, start_data)?;
    let dim = problem.names.len();
    let problems = mcmc.problems(Some(dim));
    if !problems.is_empty() {
        return Err(Error::Invalid {
            what: "sampler".into(),
            message: problems.join("; "),
        });
    }
    if keep == 0 {
        return Err(Error::Invalid {
            what: "posterior".into(),
            message: "`keep` must be at least 1 draw".into(),
        });
    }
    let (mode, start, mut evaluations) = match warm_start {
        Some(previous) => warm(&posterior, problem, previous, mcmc)?,
        None => cold(&posterior, problem, search, mcmc)?,
    };
    let chains = ensemble_sampler_batched(
        |points: &[Vec<f64>]| posterior.at_values_batch(points),
        LANES,
        &start,
        mcmc,
        progress.unwrap_or(&mut |_, _| {}),
    )?;
    evaluations += chains.evaluations;
    let diagnostics = Diagnostics::of(&chains);
    let failures = diagnostics.failures(&problem.names, mcmc);
    // Keep evenly spaced draws, each with its scales.
    let all: Vec<(&Vec<f64>, f64)> = chains
        .positions
        .iter()
        .zip(&chains.log_density)
        .flat_map(|(p, l)| p.iter().zip(l.iter().copied()))
        .collect();
    let keep = keep.min(all.len());
    let picked: Vec<usize> = (0..keep).map(|k| k * all.len() / keep).collect();
    let draws: Vec<Draw> = picked
        .par_iter()
        .map(|&i| {
            let (values, _) = all[i];
            let values = values.clone();
            let mut rng = ChaCha8Rng::seed_from_u64(mcmc.seed.wrapping_add(i as u64));
            let scales = posterior
                .draw_scales(&values, &mut rng)
                .unwrap_or_else(|| vec![f64::NAN; posterior.scales.len()]);
            let log_posterior = posterior.at_values(&values);
            Draw {
                values,
                scales,
                log_posterior,
            }
        })
        .collect();
    evaluations += 2 * draws.len();
    let notes = vec![
        format!("likelihood: {}", likelihood.describe()),
        format!(
            "sampler: affine-invariant ensemble, {} walkers, {} steps, burn-in {}, thin {}, seed {}; acceptance {:.3}; {} evaluations",
            mcmc.walkers,
            mcmc.steps,
            mcmc.burn,
            mcmc.thin,
            mcmc.seed,
            diagnostics.acceptance,
            evaluations
        ),
        format!(
            "diagnostics: largest split R-hat {:.3}, smallest effective sample size {:.0} (thresholds {} and {}); lowest walker acceptance {:.3}; {} walker(s) moved off stranded positions in the burn-in",
            diagnostics.rhat.iter().copied().fold(f64::NAN, f64::max),
            diagnostics.ess.iter().copied().fold(f64::NAN, f64::min),
            mcmc.max_rhat,
            mcmc.min_ess,
            diagnostics.min_walker_acceptance,
            diagnostics.pruned
        ),
    ];
    Ok(Sampled {
        posterior: Posterior {
            parameters: problem.names.clone(),
            scales: posterior.scales.clone(),
            draws,
            converged: failures.is_empty(),
            notes,
            priors: posterior
                .priors
                .iter()
                .map(|p| (p.describe(), p.basis, p.note.clone()))
                .collect(),
        },
        priors: posterior.priors.clone(),
        diagnostics,
        failures,
        mode,
        evaluations,
    })
}

/// The mode by Nelder-Mead from the model's own values and a Latin
/// hypercube, and walkers in a small ball around it (in the unit cube).
fn cold(
    posterior: &LogPosterior<'_>,
    problem: &Problem<'_>,
    search: &Search,
    mcmc: &Mcmc,
) -> Result<(Vec<f64>, Vec<Vec<f64>>, usize)> {
    // The mode, from the model's own values and a Latin hypercube.
    let own = problem.model_values();
    let starts = multi_start(
        |x| {
            let lp = posterior.at_values(x);
            if lp.is_finite() { -lp } else { f64::INFINITY }
        },
        &problem.bounds,
        &own,
        search,
    )?;
    let mode = starts[0].values.clone();
    if !posterior.at_values(&mode).is_finite() {
        return Err(Error::Invalid {
            what: "posterior".into(),
            message: "the model cannot be compared with the data anywhere the search looked (every run failed or gave a value that is not positive where one is observed)".into(),
        });
    }
    let mut evaluations: usize = starts.iter().map(|s| s.evaluations).sum();
    // Walkers in a small ball around the mode, in the unit cube.
    let mut rng = ChaCha8Rng::seed_from_u64(mcmc.seed ^ 0x5EED_BA11);
    let normal = rand_distr::StandardNormal;
    let mut start = Vec::with_capacity(mcmc.walkers);
    while start.len() < mcmc.walkers {
        let y: Vec<f64> = mode
            .iter()
            .zip(&problem.bounds)
            .map(|(x, b)| {
                let z: f64 = normal.sample(&mut rng);
                b.value((b.unit(*x) + 0.01 * z).clamp(0.0, 1.0))
            })
            .collect();
        evaluations += 1;
        if posterior.at_values(&y).is_finite() {
            start.push(y);
        } else if evaluations > 100 * mcmc.walkers + starts.len() * search.max_evaluations {
            return Err(Error::Invalid {
                what: "posterior".into(),
                message: "could not place the walkers near the mode: the model fails to run or compare around it".into(),
            });
        }
    }
    Ok((mode, start, evaluations))
}

/// Walkers started from evenly spaced draws of an earlier posterior of the
/// same parameters (a warm start: the chains' convergence is judged on the
/// new run as always); the mode is the best of them.
fn warm(
    posterior: &LogPosterior<'_>,
    problem: &Problem<'_>,
    previous: &Posterior,
    mcmc: &Mcmc,
) -> Result<(Vec<f64>, Vec<Vec<f64>>, usize)> {
    let invalid = |message: String| Error::Invalid {
        what: "warm start".into(),
        message,
    };
    let columns: Vec<usize> = problem
        .names
        .iter()
        .map(|n| {
            previous
                .parameter(n)
                .ok_or_else(|| invalid(format!("the earlier posterior has no parameter `{n}`")))
        })
        .collect::<Result<_>>()?;
    let n = previous.draws.len();
    let start: Vec<Vec<f64>> = (0..mcmc.walkers)
        .map(|w| {
            let d = &previous.draws[w * n / mcmc.walkers];
            columns.iter().map(|&c| d.values[c]).collect()
        })
        .collect();
    let densities = posterior.at_values_batch(&start);
    let Some(best) = (0..start.len())
        .filter(|&i| densities[i].is_finite())
        .max_by(|&a, &b| densities[a].total_cmp(&densities[b]))
    else {
        return Err(invalid(
            "no draw of the earlier posterior has a finite density under this one".into(),
        ));
    };
    if let Some(bad) = densities.iter().position(|d| !d.is_finite()) {
        return Err(invalid(format!(
            "draw {} of the earlier posterior is outside this one's support (bounds changed?)",
            bad * n / mcmc.walkers
        )));
    }
    Ok((start[best].clone(), start, mcmc.walkers))
}

/// Samples the posterior of `spec`'s parameters of `program` given
/// `observed`: the problem as in [`crate::calibrate::calibrate`], the
/// priors, observation model and sampler of the spec (its `[mcmc]`), the
/// mode searched with its Nelder-Mead settings; `sampling` gives the
/// start data, a warm start and a progress callback if wanted.
///
/// The result is returned even when the chains have not converged; call
/// [`Sampled::check`] to refuse it then.
///
/// # Errors
///
/// As [`Problem::new`] and [`sample_posterior`].
pub fn posterior(
    program: &crate::Program,
    projector: &crate::projection::Projector,
    periods: &Periods,
    observed: &super::Observations,
    spec: &super::CalibrationSpec,
    sampling: Sampling<'_>,
) -> Result<Sampled> {
    let problem = Problem::new(program, projector, periods, observed, spec)?;
    let priors = problem
        .names
        .iter()
        .map(|n| spec.priors.get(n).cloned())
        .collect::<Option<Vec<Prior>>>();
    sample_posterior(
        &problem,
        priors,
        spec.likelihood,
        &spec.search(),
        &spec.mcmc,
        spec.keep,
        sampling,
    )
}
