//! Partially pooled (hierarchical) Bayesian calibration: the same constants
//! of one model fitted to many groups at once (local authorities, regions,
//! sites), each group with its own data, its own program and its own
//! values, drawn from a population distribution whose centre and spread
//! are estimated with them.
//!
//! **The model.** For group `g` and parameter `k`, the value is the
//! group's reference value (its program's own constant) times a factor,
//! `value = reference * exp(x[g][k])`, and
//!
//! - `x[g][k] ~ Normal(mu[k], tau[k])`, restricted to the parameter's
//!   bounds `[ln min_factor, ln max_factor]` (the truncation's normalising
//!   constant is ignored, so the bounds are meant to be wide: see
//!   [`PooledParameter`]);
//! - `mu[k] ~ Normal(0, 1)` (a factor of 0.37-2.7 either way at one
//!   standard deviation) and `tau[k] ~ HalfNormal(1)`;
//! - each published count `y` is negative binomial with mean the model's
//!   value `m` and a dispersion `phi[s]` per series shared by all groups:
//!   variance `m + m^2 / phi`, so small groups' figures are noisier in
//!   proportion (Poisson) and large groups' within a relative error of
//!   about `1 / sqrt(phi)`; each series has a dispersion per horizon (runs
//!   go further from their restart at horizon 2 and stray further), and
//!   `ln phi` is uniform on `[ln 1, ln 10^5]`.
//!   Counts need not be whole numbers (published figures rounded to 10
//!   are used as they are).
//! - Runs restart from each group's data at every fitted period and run
//!   `horizon` periods ahead, as forecasts do; each observation then
//!   appears in up to `horizon` runs, and each run's terms are weighted by
//!   `1 / horizon` so that the data count once. A period a group has no
//!   figure for is skipped; a series a group never published does not
//!   enter its likelihood (its parameters are then told by the population
//!   alone, which is the honest answer).
//!
//! Large groups are therefore fitted mostly to their own data and small
//! ones are pulled towards the population, by as much as their data are
//! noisy: the amount of pooling is estimated, not chosen.
//!
//! **The sampler** is Metropolis within Gibbs, with [`CHAINS`] (4)
//! independent chains run as the lanes of one batch (each group's
//! proposal for every chain is one batched run of its program):
//!
//! 1. each group's block `x[g]` by a random-walk Metropolis step whose
//!    proposal covariance is adapted during the burn-in to the group's own
//!    draws (scaled towards an acceptance near 0.25) and then frozen;
//!    groups are updated in parallel (rayon) with random numbers seeded by
//!    group and sweep, so results do not depend on the number of threads;
//! 2. `mu[k]` from its normal full conditional;
//! 3. `tau[k]` and `ln phi[s]` by random-walk Metropolis on the logarithm,
//!    from the kept model values (no runs).
//!
//! Random-walk updates of each group are slow where a group's rates trade
//! off along a ridge, and where a spread is small (the funnel between
//! `tau` and tightly clustered groups): check the diagnostics, and run
//! more sweeps. (A joint non-centred move of the population and every
//! group, one parameter a sweep, was tried on the England local
//! authorities and mixed worse; it is not used.)
//!
//! Convergence is judged as for [`posterior`](super::posterior): split
//! R-hat and effective sample size for every group's every parameter and
//! for the population parameters ([`PooledDiagnostics`]).

use super::Observations;
use super::bayes::{autocorrelation_time, split_rhat};
use crate::error::{Error, Result};
use crate::model::StartData;
use crate::projection::{Periods, Projection, Projector};
use crate::{ParamId, Program};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use statrs::function::gamma::ln_gamma;

/// Chains, run as the lanes of one batch.
pub const CHAINS: usize = 4;

/// A parameter fitted in every group: its name (a constant of every
/// group's program) and how far, as factors of the group's own value, it
/// may move. The bounds should be wide (a factor of 3 or more each way):
/// the population distribution is truncated to them without
/// renormalising.
#[derive(Debug, Clone, PartialEq)]
pub struct PooledParameter {
    /// The constant's name.
    pub name: String,
    /// The smallest factor of the group's own value.
    pub min_factor: f64,
    /// The largest factor.
    pub max_factor: f64,
}

/// One group: its name, its program (with its own data, e.g. starting
/// stocks), how its runs are projected, what was observed, and the
/// starting data its restarts need.
#[derive(Debug, Clone, Copy)]
pub struct Group<'a> {
    /// The group's name (e.g. an ONS code).
    pub name: &'a str,
    /// Its program.
    pub program: &'a Program,
    /// How its runs are compared with `observations`.
    pub projector: &'a Projector,
    /// Its observed series, by projection column and period label.
    pub observations: &'a Observations,
    /// The span of start times its data cover, if known: every restart
    /// must fall inside it.
    pub start_data: Option<&'a StartData>,
}

/// The sampler's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PooledSettings {
    /// The fitted periods: row 0 of `periods` holds the starting levels;
    /// the others are compared with the data.
    pub periods: Periods,
    /// The observed series (projection columns) fitted.
    pub series: Vec<String>,
    /// Periods each run goes ahead from its restart.
    pub horizon: usize,
    /// Sweeps in all, burn-in included.
    pub sweeps: usize,
    /// Sweeps discarded as burn-in (the proposals adapt during them).
    pub burn: usize,
    /// Keep every `thin`-th sweep after the burn-in.
    pub thin: usize,
    /// Metropolis steps per group and sweep.
    pub moves: usize,
    /// Seed of every random number.
    pub seed: u64,
}

impl PooledSettings {
    /// Settings with a 1,200-sweep run, 400 of them burn-in, every 4th
    /// kept (200 per chain, 800 draws), two moves per group and sweep.
    pub fn new(periods: Periods, series: Vec<String>, horizon: usize) -> PooledSettings {
        PooledSettings {
            periods,
            series,
            horizon,
            sweeps: 1200,
            burn: 400,
            thin: 4,
            moves: 2,
            seed: 1,
        }
    }

    fn check(&self) -> Result<()> {
        let invalid = |message: &str| {
            Err(Error::Invalid {
                what: "pooled calibration settings".into(),
                message: message.into(),
            })
        };
        if self.horizon == 0 {
            return invalid("`horizon` must be at least 1");
        }
        if self.thin == 0 || self.moves == 0 {
            return invalid("`thin` and `moves` must be at least 1");
        }
        if self.burn >= self.sweeps || (self.sweeps - self.burn) / self.thin < 4 {
            return invalid("fewer than 4 sweeps are kept after the burn-in: raise `sweeps`");
        }
        if self.series.is_empty() {
            return invalid("no series to fit");
        }
        Ok(())
    }
}

/// One kept sweep of one chain.
#[derive(Debug, Clone, PartialEq)]
pub struct PooledDraw {
    /// The chain (0 to [`CHAINS`] - 1).
    pub chain: usize,
    /// Each group's values, in the order of the groups and parameters.
    pub values: Vec<Vec<f64>>,
    /// The population's centre per parameter, as a log factor (`mu`).
    pub mean: Vec<f64>,
    /// The population's spread per parameter, as a log factor (`tau`).
    pub spread: Vec<f64>,
    /// The dispersion of each series at each horizon (`phi`), in the
    /// order of [`Pooled::dispersion_index`].
    pub dispersion: Vec<f64>,
}

/// How well the chains mixed.
#[derive(Debug, Clone, PartialEq)]
pub struct PooledDiagnostics {
    /// Split R-hat per group and parameter.
    pub rhat: Vec<Vec<f64>>,
    /// Effective sample size per group and parameter.
    pub ess: Vec<Vec<f64>>,
    /// Split R-hat of `mu`, `tau` per parameter, then `phi` per series.
    pub population_rhat: Vec<f64>,
    /// Their effective sample sizes.
    pub population_ess: Vec<f64>,
    /// Fraction of the groups' proposals accepted after the burn-in.
    pub acceptance: f64,
    /// The lowest fraction any group accepted.
    pub min_group_acceptance: f64,
    /// Model evaluations (runs of one lane over every restart).
    pub evaluations: usize,
}

impl PooledDiagnostics {
    /// The largest R-hat of any group's parameter, with the group and
    /// parameter indices.
    pub fn worst_rhat(&self) -> (f64, usize, usize) {
        let mut worst = (f64::NEG_INFINITY, 0, 0);
        for (g, row) in self.rhat.iter().enumerate() {
            for (k, r) in row.iter().enumerate() {
                let r = if r.is_nan() { f64::INFINITY } else { *r };
                if r > worst.0 {
                    worst = (r, g, k);
                }
            }
        }
        worst
    }

    /// The smallest effective sample size of any group's parameter.
    pub fn min_ess(&self) -> f64 {
        self.ess
            .iter()
            .flatten()
            .copied()
            .fold(f64::INFINITY, f64::min)
    }

    /// The share of group parameters with R-hat at most `max`.
    pub fn share_below(&self, max: f64) -> f64 {
        let all: Vec<f64> = self.rhat.iter().flatten().copied().collect();
        all.iter().filter(|r| **r <= max).count() as f64 / all.len().max(1) as f64
    }
}

/// The result of a pooled calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Pooled {
    /// The parameters, in order.
    pub parameters: Vec<PooledParameter>,
    /// The series fitted.
    pub series: Vec<String>,
    /// Horizons each series has its own dispersion for (runs go this many
    /// periods ahead from each restart).
    pub horizons: usize,
    /// The groups' names, in order.
    pub groups: Vec<String>,
    /// Each group's reference values (its program's own), per parameter.
    pub references: Vec<Vec<f64>>,
    /// The kept draws, chain by chain in sweep order.
    pub draws: Vec<PooledDraw>,
    /// How well the chains mixed.
    pub diagnostics: PooledDiagnostics,
    /// The observation model and sampler in words.
    pub method: String,
}

impl Pooled {
    /// Group `g`'s draws of parameter `k`, one chain per vector.
    pub fn chains(&self, g: usize, k: usize) -> Vec<Vec<f64>> {
        let mut out = vec![Vec::new(); CHAINS];
        for d in &self.draws {
            out[d.chain].push(d.values[g][k]);
        }
        out
    }

    /// The index of a group by name.
    pub fn group(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g == name)
    }

    /// The index of a series by name.
    pub fn series_index(&self, name: &str) -> Option<usize> {
        self.series.iter().position(|s| s == name)
    }

    /// The index in [`PooledDraw::dispersion`] of `series`'s dispersion
    /// `horizon` (1, 2, ...) periods after a restart.
    pub fn dispersion_index(&self, series: &str, horizon: usize) -> Option<usize> {
        let s = self.series_index(series)?;
        (horizon >= 1 && horizon <= self.horizons).then(|| s * self.horizons + horizon - 1)
    }
}

/// Log density of the negative binomial with mean `m` and dispersion
/// `phi` at `y` (a count, not necessarily whole).
pub fn negative_binomial_ln(y: f64, m: f64, phi: f64) -> f64 {
    let m = m.max(1e-9);
    ln_gamma(y + phi) - ln_gamma(phi) - ln_gamma(y + 1.0)
        + phi * (phi / (phi + m)).ln()
        + y * (m / (phi + m)).ln()
}

/// A compared value: series index, observed count, model value, weight.
type Pair = (usize, f64, f64, f64);

/// One restart: its periods and the row of the fitted periods its row 0 is.
struct Segment {
    periods: Periods,
    first_row: usize,
}

/// A fitted series of a group: its index in the settings' series, its
/// column, and its (row, observed) points.
type Target = (usize, String, Vec<(usize, f64)>);

/// A group prepared for sampling.
struct Prepared<'a> {
    group: Group<'a>,
    ids: Vec<ParamId>,
    references: Vec<f64>,
    /// Per series: its index in the settings' series, its column, and
    /// its (row, observed) points.
    targets: Vec<Target>,
    /// Horizons each series has a dispersion for.
    horizons: usize,
}

/// The sampler's state of one group.
struct GroupState {
    /// Per chain: log factors.
    x: [Vec<f64>; CHAINS],
    /// Per chain: the compared values at `x`.
    pairs: [Vec<Pair>; CHAINS],
    /// Cholesky factor of the proposal covariance (lower, row-major).
    chol: Vec<f64>,
    /// Proposal scale.
    scale: f64,
    accepted: usize,
    proposed: usize,
    /// Burn-in draws for adaptation: per chain, per sweep.
    history: Vec<Vec<f64>>,
    window_accepted: usize,
    window_proposed: usize,
    /// Whether `chol` is the factor of the draws' covariance yet.
    has_covariance: bool,
}

fn ln_normal(x: f64, mean: f64, sd: f64) -> f64 {
    let z = (x - mean) / sd;
    -0.5 * z * z - sd.ln()
}

fn seeded(seed: u64, a: u64, b: u64) -> ChaCha8Rng {
    // SplitMix64 of the three, so streams differ for every (a, b).
    let mut z =
        seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ChaCha8Rng::seed_from_u64(z ^ (z >> 31))
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

/// Lower Cholesky factor of a symmetric positive definite `n x n` matrix,
/// or `None`.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

impl<'a> Prepared<'a> {
    fn new(
        group: Group<'a>,
        parameters: &[PooledParameter],
        settings: &PooledSettings,
    ) -> Result<Self> {
        let mut ids = Vec::new();
        let mut references = Vec::new();
        let state = group.program.state();
        for p in parameters {
            let id = group
                .program
                .parameter(&p.name)
                .map_err(|e| Error::Invalid {
                    what: format!("group `{}`", group.name),
                    message: format!("cannot fit `{}`: {e}", p.name),
                })?;
            let reference = state.param(id).unwrap_or(f64::NAN);
            if !(reference.is_finite() && reference > 0.0) {
                return Err(Error::Invalid {
                    what: format!("group `{}`", group.name),
                    message: format!(
                        "`{}` is {reference}: a pooled parameter must be positive (it is fitted as a factor of its value)",
                        p.name
                    ),
                });
            }
            ids.push(id);
            references.push(reference);
        }
        let columns = group.projector.columns();
        let mut targets = Vec::new();
        for (s, column) in settings.series.iter().enumerate() {
            if !columns.iter().any(|c| c == column) {
                return Err(Error::Invalid {
                    what: format!("series `{column}`"),
                    message: format!(
                        "group `{}`'s projection has no such column{}",
                        group.name,
                        crate::name::did_you_mean(crate::name::closest(
                            column,
                            columns.iter().map(String::as_str)
                        ))
                    ),
                });
            }
            let Ok(series) = group.observations.series(column) else {
                continue;
            };
            let points: Vec<(usize, f64)> = (1..=settings.periods.count())
                .filter_map(|row| {
                    let label = settings.periods.label(row);
                    series
                        .iter()
                        .find(|(l, _)| (l - label).abs() <= 1e-9 * l.abs().max(1.0))
                        .map(|(_, v)| (row, *v))
                })
                .filter(|(_, v)| v.is_finite() && *v >= 0.0)
                .collect();
            if !points.is_empty() {
                targets.push((s, column.clone(), points));
            }
        }
        Ok(Prepared {
            group,
            ids,
            references,
            targets,
            horizons: settings.horizon.min(settings.periods.count()).max(1),
        })
    }

    /// Runs every restart for the `CHAINS` points `xs` (log factors) as
    /// one batch; per chain the compared values, or `None` where a run
    /// failed or gave a value that is not finite and non-negative.
    fn evaluate(
        &self,
        xs: &[Vec<f64>; CHAINS],
        segments: &[Segment],
        weight: f64,
    ) -> [Option<Vec<Pair>>; CHAINS] {
        let mut out: [Option<Vec<Pair>>; CHAINS] = std::array::from_fn(|_| Some(Vec::new()));
        let mut batch = self.group.program.batch::<CHAINS>();
        for (lane, x) in xs.iter().enumerate() {
            for ((id, r), xk) in self.ids.iter().zip(&self.references).zip(x) {
                if batch.set_param(lane, *id, r * xk.exp()).is_err() {
                    out[lane] = None;
                }
            }
        }
        for segment in segments {
            match self
                .group
                .projector
                .project_batch(&mut batch, &segment.periods, &mut |_, _| {})
            {
                Ok(projections) => {
                    for (lane, p) in projections.iter().enumerate() {
                        if let Some(pairs) = out[lane].as_mut()
                            && self.compare(p, segment, weight, pairs).is_none()
                        {
                            out[lane] = None;
                        }
                    }
                }
                Err(_) => {
                    // Lane by lane, so that one failed run fails only its chain.
                    for (lane, x) in xs.iter().enumerate() {
                        let Some(pairs) = out[lane].as_mut() else {
                            continue;
                        };
                        let mut state = self.group.program.state();
                        let ok = self
                            .ids
                            .iter()
                            .zip(&self.references)
                            .zip(x)
                            .all(|((id, r), xk)| state.set_param(*id, r * xk.exp()).is_ok());
                        let p = ok
                            .then(|| {
                                self.group
                                    .projector
                                    .project(&mut state, &segment.periods)
                                    .ok()
                            })
                            .flatten();
                        if p.is_none_or(|p| self.compare(&p, segment, weight, pairs).is_none()) {
                            out[lane] = None;
                        }
                    }
                }
            }
        }
        out
    }

    fn compare(
        &self,
        p: &Projection,
        segment: &Segment,
        weight: f64,
        pairs: &mut Vec<Pair>,
    ) -> Option<()> {
        let n = segment.periods.count();
        let horizons = self.horizons;
        for (s, name, points) in &self.targets {
            let column = p.column(name)?;
            for &(row, y) in points {
                if row <= segment.first_row || row > segment.first_row + n {
                    continue;
                }
                let m = column[row - segment.first_row]?;
                if !(m.is_finite() && m >= 0.0) {
                    return None;
                }
                let h = row - segment.first_row;
                pairs.push((*s * horizons + h - 1, y, m, weight));
            }
        }
        Some(())
    }
}

/// The log likelihood of compared values given the dispersions, without
/// the terms that do not depend on the model or the dispersions
/// (`ln Gamma(y + 1)`).
fn ln_likelihood(pairs: &[Pair], dispersion: &[f64]) -> f64 {
    pairs
        .iter()
        .map(|&(s, y, m, w)| {
            let phi = dispersion[s];
            let m = m.max(1e-9);
            w * (ln_gamma(y + phi) - ln_gamma(phi)
                + phi * (phi / (phi + m)).ln()
                + y * (m / (phi + m)).ln())
        })
        .sum()
}

/// One chain's population parameters.
#[derive(Debug, Clone)]
struct Hyper {
    mean: Vec<f64>,
    spread: Vec<f64>,
    dispersion: Vec<f64>,
}

impl Hyper {
    fn ln_population(&self, x: &[f64]) -> f64 {
        x.iter()
            .zip(self.mean.iter().zip(&self.spread))
            .map(|(x, (m, t))| ln_normal(*x, *m, *t))
            .sum()
    }
}

/// Bounds of the log factors.
fn log_bounds(parameters: &[PooledParameter]) -> Vec<(f64, f64)> {
    parameters
        .iter()
        .map(|p| (p.min_factor.ln(), p.max_factor.ln()))
        .collect()
}

/// The largest log dispersion (phi = 10^5).
const MAX_LN_PHI: f64 = 11.512_925_464_970_229;

/// Samples the pooled posterior of `parameters` across `groups` (see the
/// [module documentation](self)). `progress(done, sweeps)` is called after
/// every sweep. The result is returned even if the chains have not
/// converged: read [`Pooled::diagnostics`].
///
/// # Errors
///
/// [`Error::Invalid`] for invalid settings, no groups or parameters, a
/// parameter whose bounds do not contain its own value (factor 1), a
/// group without one of the parameters (as a positive constant) or the
/// series as projection columns, a restart its starting data do not
/// cover, or a group whose model cannot be run and compared at its own
/// values.
pub fn sample_pooled(
    groups: &[Group<'_>],
    parameters: &[PooledParameter],
    settings: &PooledSettings,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Pooled> {
    settings.check()?;
    let invalid = |message: String| Error::Invalid {
        what: "pooled calibration".into(),
        message,
    };
    if groups.is_empty() || parameters.is_empty() {
        return Err(invalid("no groups or no parameters".into()));
    }
    for p in parameters {
        if !(p.min_factor > 0.0
            && p.min_factor < 1.0
            && p.max_factor > 1.0
            && p.max_factor.is_finite())
        {
            return Err(invalid(format!(
                "`{}`: the factors must satisfy 0 < min_factor < 1 < max_factor (got {} and {})",
                p.name, p.min_factor, p.max_factor
            )));
        }
    }
    let prepared = groups
        .iter()
        .map(|g| Prepared::new(*g, parameters, settings))
        .collect::<Result<Vec<_>>>()?;
    // The restarts.
    let periods = settings.periods;
    let count = periods.count();
    let mut segments = Vec::new();
    for first in 0..count {
        let n = settings.horizon.min(count - first);
        let p = Periods::new(periods.label(first), n)?
            .with_length(periods.length())?
            .with_offset(periods.offset())?;
        for g in groups {
            if let Some(data) = g.start_data
                && !data.covers(p.time(0))
            {
                return Err(invalid(format!(
                    "group `{}`: restarting from period {} needs starting data at time {}, but its lookups on INITIAL TIME cover only {} to {}",
                    g.name,
                    periods.label(first),
                    p.time(0),
                    data.from,
                    data.to
                )));
            }
        }
        segments.push(Segment {
            periods: p,
            first_row: first,
        });
    }
    let weight = 1.0 / settings.horizon.min(count) as f64;
    let k = parameters.len();
    let bounds = log_bounds(parameters);
    let inside = |x: &[f64]| x.iter().zip(&bounds).all(|(x, (lo, hi))| x > lo && x < hi);
    let horizons = settings.horizon.min(settings.periods.count()).max(1);
    let s_count = settings.series.len() * horizons;

    // Starting points: scattered around the reference values.
    let mut states = prepared
        .par_iter()
        .enumerate()
        .map(|(g, prep)| {
            let mut rng = seeded(settings.seed, g as u64, u64::MAX);
            let mut x: [Vec<f64>; CHAINS] = std::array::from_fn(|_| {
                bounds
                    .iter()
                    .map(|(lo, hi)| (0.3 * normal(&mut rng)).clamp(lo * 0.9, hi * 0.9))
                    .collect()
            });
            let mut pairs = prep.evaluate(&x, &segments, weight);
            let zero: [Vec<f64>; CHAINS] = std::array::from_fn(|_| vec![0.0; k]);
            let at_zero = prep.evaluate(&zero, &segments, weight);
            for c in 0..CHAINS {
                if pairs[c].is_none() {
                    x[c] = vec![0.0; k];
                    pairs[c] = at_zero[c].clone();
                }
            }
            let pairs: [Vec<Pair>; CHAINS] = std::array::from_fn(|c| pairs[c].take().unwrap_or_default());
            if at_zero.iter().any(Option::is_none) && pairs.iter().any(Vec::is_empty) && !prep.targets.is_empty() {
                return Err(invalid(format!(
                    "group `{}`: its model cannot be run and compared with its data at its own values",
                    prep.group.name
                )));
            }
            let mut chol = vec![0.0; k * k];
            for i in 0..k {
                chol[i * k + i] = 0.05;
            }
            Ok(GroupState {
                x,
                pairs,
                chol,
                scale: 1.0,
                accepted: 0,
                proposed: 0,
                history: Vec::new(),
                window_accepted: 0,
                window_proposed: 0,
                has_covariance: false,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut hypers: Vec<Hyper> = (0..CHAINS)
        .map(|_| Hyper {
            mean: vec![0.0; k],
            spread: vec![0.5; k],
            dispersion: vec![50.0; s_count],
        })
        .collect();
    let mut draws = Vec::new();
    let mut evaluations = CHAINS * prepared.len() * 2;
    let kept_from = settings.burn;
    for sweep in 0..settings.sweeps {
        let burning = sweep < settings.burn;
        // 1. Each group's block.
        states
            .par_iter_mut()
            .zip(prepared.par_iter())
            .enumerate()
            .for_each(|(g, (state, prep))| {
                let mut rng = seeded(settings.seed, g as u64, sweep as u64);
                for _ in 0..settings.moves {
                    let proposals: [Vec<f64>; CHAINS] = std::array::from_fn(|c| {
                        let z: Vec<f64> = (0..k).map(|_| normal(&mut rng)).collect();
                        (0..k)
                            .map(|i| {
                                state.x[c][i]
                                    + state.scale
                                        * (0..=i).map(|j| state.chol[i * k + j] * z[j]).sum::<f64>()
                            })
                            .collect()
                    });
                    let valid: [bool; CHAINS] = std::array::from_fn(|c| inside(&proposals[c]));
                    // Lanes outside the bounds run the current point.
                    let run: [Vec<f64>; CHAINS] = std::array::from_fn(|c| {
                        if valid[c] {
                            proposals[c].clone()
                        } else {
                            state.x[c].clone()
                        }
                    });
                    let mut results = prep.evaluate(&run, &segments, weight);
                    for c in 0..CHAINS {
                        let u: f64 = rng.random();
                        state.proposed += usize::from(!burning);
                        state.window_proposed += 1;
                        if !valid[c] {
                            continue;
                        }
                        let Some(new_pairs) = results[c].take() else {
                            continue;
                        };
                        let h = &hypers[c];
                        let new = ln_likelihood(&new_pairs, &h.dispersion)
                            + h.ln_population(&proposals[c]);
                        let old = ln_likelihood(&state.pairs[c], &h.dispersion)
                            + h.ln_population(&state.x[c]);
                        if new.is_finite() && u.ln() < new - old {
                            state.x[c] = proposals[c].clone();
                            state.pairs[c] = new_pairs;
                            state.accepted += usize::from(!burning);
                            state.window_accepted += 1;
                        }
                    }
                }
                if burning {
                    state.adapt(sweep, settings.burn, k);
                }
            });
        evaluations += CHAINS * prepared.len() * settings.moves;
        // 2-3. The population parameters, chain by chain.
        hypers.par_iter_mut().enumerate().for_each(|(c, h)| {
            let mut rng = seeded(settings.seed, u64::MAX - 1 - c as u64, sweep as u64);
            let groups = states.len() as f64;
            for i in 0..k {
                let xs: Vec<f64> = states.iter().map(|s| s.x[c][i]).collect();
                let tau2 = h.spread[i] * h.spread[i];
                let precision = 1.0 + groups / tau2;
                let centre = xs.iter().sum::<f64>() / tau2 / precision;
                h.mean[i] = centre + normal(&mut rng) / precision.sqrt();
                let target = |tau: f64, mean: f64| {
                    xs.iter().map(|x| ln_normal(*x, mean, tau)).sum::<f64>() - 0.5 * tau * tau
                        + tau.ln()
                };
                for _ in 0..10 {
                    let proposal = h.spread[i] * (0.2 * normal(&mut rng)).exp();
                    let u: f64 = rng.random();
                    if u.ln() < target(proposal, h.mean[i]) - target(h.spread[i], h.mean[i]) {
                        h.spread[i] = proposal;
                    }
                }
            }
            for s in 0..s_count {
                let pairs: Vec<Pair> = states
                    .iter()
                    .flat_map(|st| st.pairs[c].iter().filter(|p| p.0 == s).copied())
                    .collect();
                if pairs.is_empty() {
                    continue;
                }
                let mut current = ln_likelihood(&pairs, &h.dispersion);
                for _ in 0..4 {
                    let old = h.dispersion[s];
                    let ln_new = old.ln() + 0.15 * normal(&mut rng);
                    if !(0.0..=MAX_LN_PHI).contains(&ln_new) {
                        continue;
                    }
                    h.dispersion[s] = ln_new.exp();
                    let proposed = ln_likelihood(&pairs, &h.dispersion);
                    let u: f64 = rng.random();
                    if proposed.is_finite() && u.ln() < proposed - current {
                        current = proposed;
                    } else {
                        h.dispersion[s] = old;
                    }
                }
            }
        });
        if sweep >= kept_from && (sweep - kept_from).is_multiple_of(settings.thin) {
            for (c, h) in hypers.iter().enumerate() {
                draws.push(PooledDraw {
                    chain: c,
                    values: states
                        .iter()
                        .zip(&prepared)
                        .map(|(s, p)| {
                            s.x[c]
                                .iter()
                                .zip(&p.references)
                                .map(|(x, r)| r * x.exp())
                                .collect()
                        })
                        .collect(),
                    mean: h.mean.clone(),
                    spread: h.spread.clone(),
                    dispersion: h.dispersion.clone(),
                });
            }
        }
        progress(sweep + 1, settings.sweeps);
    }
    let mut pooled = Pooled {
        parameters: parameters.to_vec(),
        series: settings.series.clone(),
        horizons,
        groups: groups.iter().map(|g| g.name.to_string()).collect(),
        references: prepared.iter().map(|p| p.references.clone()).collect(),
        draws,
        diagnostics: PooledDiagnostics {
            rhat: Vec::new(),
            ess: Vec::new(),
            population_rhat: Vec::new(),
            population_ess: Vec::new(),
            acceptance: 0.0,
            min_group_acceptance: 0.0,
            evaluations,
        },
        method: format!(
            "partially pooled: log factors of each group's own values Normal(mu, tau) within the bounds, mu ~ Normal(0, 1), tau ~ HalfNormal(1); negative binomial counts with a dispersion per series and horizon (ln phi uniform on [0, ln 1e5]); runs restarting from the data of every fitted period, {} period(s) ahead, weighted 1/{}; Metropolis within Gibbs, {CHAINS} chains, {} sweeps ({} burn-in, adaptive proposals), every {}th kept, {} move(s) per group and sweep, seed {}",
            settings.horizon,
            settings.horizon,
            settings.sweeps,
            settings.burn,
            settings.thin,
            settings.moves,
            settings.seed
        ),
    };
    pooled.diagnostics = diagnose(&pooled, &states);
    Ok(pooled)
}

impl GroupState {
    /// Adapts the proposal during the burn-in: records the sweep's points
    /// and, every 50 sweeps, sets the covariance to that of the latter
    /// half of the burn-in so far and rescales it towards an acceptance of
    /// about 0.25.
    fn adapt(&mut self, sweep: usize, burn: usize, k: usize) {
        for c in 0..CHAINS {
            self.history.push(self.x[c].clone());
        }
        if !(sweep + 1).is_multiple_of(50) || sweep + 1 >= burn {
            if sweep + 1 >= burn {
                self.history = Vec::new();
            }
            return;
        }
        let rate = self.window_accepted as f64 / self.window_proposed.max(1) as f64;
        self.scale *= match rate {
            r if r < 0.05 => 0.4,
            r if r < 0.15 => 0.7,
            r if r < 0.2 => 0.9,
            r if r > 0.6 => 2.0,
            r if r > 0.4 => 1.4,
            r if r > 0.3 => 1.1,
            _ => 1.0,
        };
        self.window_accepted = 0;
        self.window_proposed = 0;
        let recent = &self.history[self.history.len() / 2..];
        if recent.len() < 4 * k {
            return;
        }
        let n = recent.len() as f64;
        let mean: Vec<f64> = (0..k)
            .map(|i| recent.iter().map(|x| x[i]).sum::<f64>() / n)
            .collect();
        let mut cov = vec![0.0; k * k];
        for x in recent {
            for i in 0..k {
                for j in 0..=i {
                    cov[i * k + j] += (x[i] - mean[i]) * (x[j] - mean[j]) / (n - 1.0);
                }
            }
        }
        for i in 0..k {
            for j in 0..i {
                cov[j * k + i] = cov[i * k + j];
            }
            cov[i * k + i] += 1e-6;
        }
        if let Some(l) = cholesky(&cov, k) {
            // The optimal scale for a Gaussian target (Roberts and
            // Rosenthal) the first time, then corrected by acceptance.
            let optimal = 2.38 / (k as f64).sqrt();
            if !self.has_covariance {
                self.scale = optimal;
                self.has_covariance = true;
            }
            self.chol = l;
            self.scale = self.scale.clamp(0.05 * optimal, 3.0 * optimal);
        }
    }
}

fn diagnose(pooled: &Pooled, states: &[GroupState]) -> PooledDiagnostics {
    let ess_of = |chains: &[Vec<f64>]| {
        let total: usize = chains.iter().map(Vec::len).sum();
        total as f64 / autocorrelation_time(chains)
    };
    let k = pooled.parameters.len();
    let mut rhat = Vec::new();
    let mut ess = Vec::new();
    for g in 0..pooled.groups.len() {
        let mut r = Vec::with_capacity(k);
        let mut e = Vec::with_capacity(k);
        for i in 0..k {
            let chains = pooled.chains(g, i);
            r.push(split_rhat(&chains));
            e.push(ess_of(&chains));
        }
        rhat.push(r);
        ess.push(e);
    }
    let mut population_rhat = Vec::new();
    let mut population_ess = Vec::new();
    let mut push = |f: &dyn Fn(&PooledDraw) -> f64| {
        let mut chains = vec![Vec::new(); CHAINS];
        for d in &pooled.draws {
            chains[d.chain].push(f(d));
        }
        population_rhat.push(split_rhat(&chains));
        population_ess.push(ess_of(&chains));
    };
    for i in 0..k {
        push(&|d| d.mean[i]);
    }
    for i in 0..k {
        push(&|d| d.spread[i]);
    }
    for s in 0..pooled.series.len() * pooled.horizons {
        push(&|d| d.dispersion[s]);
    }
    let (accepted, proposed) = states
        .iter()
        .fold((0, 0), |(a, p), s| (a + s.accepted, p + s.proposed));
    PooledDiagnostics {
        rhat,
        ess,
        population_rhat,
        population_ess,
        acceptance: accepted as f64 / proposed.max(1) as f64,
        min_group_acceptance: states
            .iter()
            .map(|s| s.accepted as f64 / s.proposed.max(1) as f64)
            .fold(f64::INFINITY, f64::min),
        evaluations: pooled.diagnostics.evaluations,
    }
}
