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
//! - Optionally, older figures count for less: with a `discount` below 1
//!   (see [`PooledSettings::discount`]) a figure `a` periods before the
//!   last fitted one is weighted `discount^a` (a forgetting factor, as in
//!   discounted-likelihood forecasting: where the rates drift, the fit
//!   follows the recent ones, and the posterior is wider as the old
//!   figures no longer count in full). The default, 1, weights every
//!   period alike.
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
//!    from the middle of the burn-in, each group also takes one
//!    independence Metropolis-Hastings move per sweep from a Gaussian:
//!    a quadratic fitted by least squares to the log likelihoods the
//!    burn-in evaluated (refitted at the end of the burn-in, then fixed),
//!    (directions in which it curves up, which a rate the group's figures
//!    barely tell can show from noise, clipped to flat), times the chain's
//!    current population normal, widened by a quarter.
//!    Where the likelihood is close to that quadratic the proposals are
//!    nearly independent draws from the group's conditional posterior, so
//!    a group crosses its posterior in one step instead of by a random
//!    walk; the acceptance ratio carries the proposal's density, so the
//!    target is exact whatever the fit ([`PooledDiagnostics`] reports how
//!    many groups were fitted and how often the moves were accepted);
//! 2. one parameter a sweep (in turn), a collective move of its centre,
//!    spread and every group's value together: `mu' = mu + d`,
//!    `x' = mu' + s (x - mu)`, `tau' = s tau`, accepted on the groups'
//!    likelihoods, the priors and the map's Jacobian. Where a spread is
//!    small and each group's data say little (the neck of the funnel
//!    between `tau` and the groups), group-by-group updates move the
//!    centre and spread by tiny steps; this moves them at once;
//! 3. `mu[k]` from its normal full conditional;
//! 4. `tau[k]` and `ln phi[s]` by random-walk Metropolis on the logarithm,
//!    from the kept model values (no runs).
//!
//! Each sweep costs up to three batched runs of every group (its random
//! walk, its fitted move, the collective move). Check the diagnostics,
//! and run more sweeps where they say so, or let the run go on by itself
//! until they pass ([`PooledSettings::extend`]).
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
    /// The weight of a figure one period older than the next, in `(0, 1]`:
    /// a figure `a` periods before the last fitted period is weighted
    /// `discount^a` (see the [module documentation](self)). 1 (the
    /// default) weights every period alike.
    pub discount: f64,
    /// Further sweeps allowed if the chains have not converged after
    /// `sweeps`: the run goes on in blocks of half the sweeps kept after
    /// the burn-in (at least `thin`), checking after each, until every
    /// split R-hat (each group's parameters and the population's) is at
    /// most `target_rhat` and every group's parameter has an effective
    /// sample size of at least `target_ess`, or `sweeps + extend` sweeps
    /// have run. The draws
    /// of the extra sweeps are kept like the others (so there are more of
    /// them), and [`Pooled::method`] says how far the run went and why.
    /// 0 (the default) never extends.
    pub extend: usize,
    /// The split R-hat every parameter must reach for the run to stop
    /// before `sweeps + extend` (1.05 by default).
    pub target_rhat: f64,
    /// The effective sample size every group's parameter must reach for
    /// the run to stop before `sweeps + extend` (50 by default).
    pub target_ess: f64,
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
            discount: 1.0,
            extend: 0,
            target_rhat: 1.05,
            target_ess: 50.0,
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
        if !(self.discount > 0.0 && self.discount <= 1.0) {
            return invalid("`discount` must be above 0 and at most 1");
        }
        if !(self.target_rhat > 1.0 && self.target_rhat.is_finite()) {
            return invalid("`target_rhat` must be a number above 1");
        }
        if !(self.target_ess >= 0.0 && self.target_ess.is_finite()) {
            return invalid("`target_ess` must be a number, 0 or more");
        }
        if self.sweeps.checked_add(self.extend).is_none() {
            return invalid("`sweeps` plus `extend` is too large");
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
    /// Groups whose log likelihood the burn-in fitted a quadratic to, so
    /// that they also take independence moves from it.
    pub fitted_groups: usize,
    /// Fraction of those independence moves accepted after the burn-in.
    pub fitted_acceptance: f64,
    /// Fraction of the collective moves (one parameter's centre, spread
    /// and every group's value together) accepted after the burn-in.
    pub collective_acceptance: f64,
    /// Model evaluations (runs of one lane over every restart).
    pub evaluations: usize,
    /// Sweeps run, burn-in included: more than
    /// [`PooledSettings::sweeps`] if the run [extended](PooledSettings::extend).
    pub sweeps: usize,
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
        chains_of(&self.draws, &|d| d.values[g][k])
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
    /// The discount of each period compared (`discount^age`), from the
    /// first after the restart.
    discounts: Vec<f64>,
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
    /// Points evaluated in the current fitting window of the burn-in, with
    /// their log likelihoods.
    samples: Vec<(Vec<f64>, f64)>,
    /// The fitted quadratic of the log likelihood, once there is one.
    quadratic: Option<Quadratic>,
    /// Fitted-proposal moves accepted and proposed after the burn-in.
    fitted_accepted: usize,
    fitted_proposed: usize,
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

/// The symmetric `k x k` matrix `a` (row-major) with its negative
/// eigenvalues set to 0 (Jacobi rotations; `k` is a handful), or `None`
/// if it is not finite or has no positive eigenvalue.
fn clip_to_flat(a: &[f64], k: usize) -> Option<Vec<f64>> {
    if a.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut m = a.to_vec();
    let mut v = vec![0.0; k * k];
    for i in 0..k {
        v[i * k + i] = 1.0;
    }
    for _ in 0..100 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |j| *j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * k + j] * m[i * k + j])
            .sum();
        let scale: f64 = (0..k).map(|i| m[i * k + i] * m[i * k + i]).sum();
        if off <= 1e-24 * scale.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                let apq = m[p * k + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[q * k + q] - m[p * k + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..k {
                    let (mrp, mrq) = (m[r * k + p], m[r * k + q]);
                    m[r * k + p] = c * mrp - s * mrq;
                    m[r * k + q] = s * mrp + c * mrq;
                }
                for r in 0..k {
                    let (mpr, mqr) = (m[p * k + r], m[q * k + r]);
                    m[p * k + r] = c * mpr - s * mqr;
                    m[q * k + r] = s * mpr + c * mqr;
                }
                for r in 0..k {
                    let (vrp, vrq) = (v[r * k + p], v[r * k + q]);
                    v[r * k + p] = c * vrp - s * vrq;
                    v[r * k + q] = s * vrp + c * vrq;
                }
            }
        }
    }
    let eigen: Vec<f64> = (0..k).map(|i| m[i * k + i].max(0.0)).collect();
    if eigen.iter().all(|e| *e <= 0.0) {
        return None;
    }
    let mut out = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            out[i * k + j] = (0..k).map(|e| v[i * k + e] * eigen[e] * v[j * k + e]).sum();
        }
    }
    Some(out)
}

/// A quadratic approximation of one group's log likelihood in its log
/// factors, fitted by least squares to the points the burn-in evaluated:
/// `ln L(x) ~ c + g.(x - centre) - (x - centre)' A (x - centre) / 2`.
#[derive(Debug, Clone)]
struct Quadratic {
    centre: Vec<f64>,
    gradient: Vec<f64>,
    /// `A`, row-major.
    precision: Vec<f64>,
}

/// How much wider than the fitted conditional the independence proposal
/// is (its standard deviations' factor), so that its tails cover the
/// target's where the quadratic is a little off.
const FITTED_WIDTH: f64 = 1.25;

/// Points within this much log likelihood of the best are used in the fit
/// (far worse ones sit in tails the quadratic need not follow).
const FIT_RANGE: f64 = 25.0;

impl Quadratic {
    /// Least-squares fit of `ln L` over `points` (x, ln L), or `None` when
    /// too few points, a singular design, or no direction curving down.
    fn fit(points: &[(Vec<f64>, f64)], k: usize) -> Option<Quadratic> {
        let best = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let near: Vec<&(Vec<f64>, f64)> = points
            .iter()
            .filter(|p| p.1.is_finite() && p.1 > best - FIT_RANGE)
            .collect();
        let terms = 1 + k + k * (k + 1) / 2;
        if near.len() < 3 * terms {
            return None;
        }
        let n = near.len() as f64;
        let centre: Vec<f64> = (0..k)
            .map(|i| near.iter().map(|p| p.0[i]).sum::<f64>() / n)
            .collect();
        let features = |x: &[f64]| {
            let u: Vec<f64> = x.iter().zip(&centre).map(|(x, c)| x - c).collect();
            let mut f = Vec::with_capacity(terms);
            f.push(1.0);
            f.extend_from_slice(&u);
            for i in 0..k {
                for j in i..k {
                    f.push(u[i] * u[j]);
                }
            }
            f
        };
        let mut normal = vec![0.0; terms * terms];
        let mut rhs = vec![0.0; terms];
        for (x, y) in &near {
            let f = features(x);
            for a in 0..terms {
                rhs[a] += f[a] * y;
                for b in 0..=a {
                    normal[a * terms + b] += f[a] * f[b];
                }
            }
        }
        for a in 0..terms {
            for b in 0..a {
                normal[b * terms + a] = normal[a * terms + b];
            }
            normal[a * terms + a] *= 1.0 + 1e-10;
        }
        let l = cholesky(&normal, terms)?;
        let beta = solve_cholesky(&l, terms, &rhs);
        let gradient = beta[1..=k].to_vec();
        let mut precision = vec![0.0; k * k];
        let mut t = 1 + k;
        for i in 0..k {
            for j in i..k {
                if i == j {
                    precision[i * k + i] = -2.0 * beta[t];
                } else {
                    precision[i * k + j] = -beta[t];
                    precision[j * k + i] = -beta[t];
                }
                t += 1;
            }
        }
        // A direction the group's figures barely tell (a rate whose
        // series the group does not publish) is flat, and noise can give it
        // a small negative curvature: clip those to flat, and let the
        // population's normal, which the proposal multiplies in, shape the
        // proposal along them. Clipping only changes the proposal; the
        // acceptance ratio keeps the target exact.
        let precision = clip_to_flat(&precision, k)?;
        Some(Quadratic {
            centre,
            gradient,
            precision,
        })
    }

    /// The Gaussian proposal for one chain: the quadratic times the
    /// population's normal, widened by [`FITTED_WIDTH`]. Returns its mean
    /// and the Cholesky factor of its precision.
    fn proposal(&self, mean: &[f64], spread: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
        let k = self.centre.len();
        let mut p = self.precision.clone();
        let mut linear = self.gradient.clone();
        for i in 0..k {
            let d = 1.0 / (spread[i] * spread[i]);
            p[i * k + i] += d;
            linear[i] += d * (mean[i] - self.centre[i]);
        }
        let l = cholesky(&p, k)?;
        let u = solve_cholesky(&l, k, &linear);
        let centre = u.iter().zip(&self.centre).map(|(u, c)| u + c).collect();
        let widen = 1.0 / FITTED_WIDTH;
        let chol = l.iter().map(|v| v * widen).collect();
        Some((centre, chol))
    }
}

/// Solves `L L' v = b` for lower-triangular `l` (row-major `n x n`).
fn solve_cholesky(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|j| l[i * n + j] * y[j]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut v = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|j| l[j * n + i] * v[j]).sum();
        v[i] = (y[i] - s) / l[i * n + i];
    }
    v
}

/// A draw from the Gaussian with `centre` and precision `L L'`:
/// `centre + L'^-1 z`.
fn draw_gaussian(centre: &[f64], l: &[f64], rng: &mut ChaCha8Rng) -> Vec<f64> {
    let n = centre.len();
    let z: Vec<f64> = (0..n).map(|_| normal(rng)).collect();
    let mut v = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|j| l[j * n + i] * v[j]).sum();
        v[i] = (z[i] - s) / l[i * n + i];
    }
    v.iter().zip(centre).map(|(v, c)| v + c).collect()
}

/// The Gaussian's log density at `x` up to a constant: `-|L'(x - c)|^2 / 2`.
fn ln_gaussian(x: &[f64], centre: &[f64], l: &[f64]) -> f64 {
    let n = centre.len();
    let mut total = 0.0;
    for j in 0..n {
        let s: f64 = (j..n).map(|i| l[i * n + j] * (x[i] - centre[i])).sum();
        total += s * s;
    }
    -0.5 * total
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
                let discount = segment.discounts.get(h - 1).copied().unwrap_or(1.0);
                pairs.push((*s * horizons + h - 1, y, m, weight * discount));
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
        // Rows 1 to `count` are compared (row 0 holds the starting
        // levels); the last is `age` 0.
        let discounts = (1..=n)
            .map(|h| {
                let age = count.saturating_sub(first + h);
                settings.discount.powi(age.min(i32::MAX as usize) as i32)
            })
            .collect();
        segments.push(Segment {
            periods: p,
            first_row: first,
            discounts,
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
                samples: Vec::new(),
                quadratic: None,
                fitted_accepted: 0,
                fitted_proposed: 0,
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
    let mut collective = Collective::new(k);
    let kept_from = settings.burn;
    // The sweeps to run; raised while the chains have not converged and
    // `extend` allows.
    let mut total = settings.sweeps;
    let block = ((settings.sweeps - settings.burn) / 2).max(settings.thin);
    let mut extended: Option<(f64, f64, usize)> = None;
    let mut sweep = 0;
    while sweep < total {
        let burning = sweep < settings.burn;
        // 1. Each group's block.
        states
            .par_iter_mut()
            .zip(prepared.par_iter())
            .enumerate()
            .for_each(|(g, (state, prep))| {
                let mut rng = seeded(settings.seed, g as u64, sweep as u64);
                let recording = burning && sweep >= settings.burn / 4;
                if state.quadratic.is_some() {
                    state.fitted_move(prep, &hypers, &segments, weight, &inside, burning, &mut rng);
                }
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
                        let new_likelihood = ln_likelihood(&new_pairs, &h.dispersion);
                        if recording {
                            state.samples.push((proposals[c].clone(), new_likelihood));
                        }
                        let new = new_likelihood + h.ln_population(&proposals[c]);
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
                    // Fit the likelihood's quadratic half way through the
                    // burn-in and again at its end, each from the points
                    // evaluated since the last fit.
                    if sweep + 1 == settings.burn / 2 || sweep + 1 == settings.burn {
                        if let Some(q) = Quadratic::fit(&state.samples, k) {
                            state.quadratic = Some(q);
                        }
                        state.samples = Vec::new();
                    }
                }
            });
        evaluations += CHAINS * prepared.len() * settings.moves
            + CHAINS * states.iter().filter(|s| s.quadratic.is_some()).count();
        // 2. One parameter's population and every group together: a
        // shift and a rescaling of all groups' log factors about the
        // centre, which the group-by-group updates cannot make where the
        // spread is small.
        let i = sweep % k;
        collective.step(
            i,
            sweep,
            settings,
            &prepared,
            &mut states,
            &mut hypers,
            &segments,
            weight,
            &bounds,
            burning,
        );
        evaluations += CHAINS * prepared.len();
        // 3-4. The population parameters, chain by chain.
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
        sweep += 1;
        if sweep == total && total < settings.sweeps + settings.extend {
            let (worst, ess) = worst_of(&draws, states.len(), k, s_count);
            if !(worst <= settings.target_rhat && ess >= settings.target_ess) {
                extended.get_or_insert((worst, ess, total));
                total = (total + block).min(settings.sweeps + settings.extend);
            }
        }
        progress(sweep, total);
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
            fitted_groups: 0,
            fitted_acceptance: 0.0,
            collective_acceptance: collective.accepted as f64 / collective.proposed.max(1) as f64,
            evaluations,
            sweeps: total,
        },
        method: format!(
            "partially pooled: log factors of each group's own values Normal(mu, tau) within the bounds, mu ~ Normal(0, 1), tau ~ HalfNormal(1); negative binomial counts with a dispersion per series and horizon (ln phi uniform on [0, ln 1e5]); runs restarting from the data of every fitted period, {} period(s) ahead, weighted 1/{}; Metropolis within Gibbs, {CHAINS} chains, {} sweeps ({} burn-in, adaptive proposals{}), every {}th kept, {} move(s) per group and sweep, seed {}{}",
            settings.horizon,
            settings.horizon,
            total,
            settings.burn,
            match extended {
                Some((worst, ess, at)) => format!(
                    "; extended from {at}, where the worst split R-hat was {worst:.3} (to reach {}) and the smallest effective sample size {ess:.0} (to reach {})",
                    settings.target_rhat, settings.target_ess
                ),
                None => String::new(),
            },
            settings.thin,
            settings.moves,
            settings.seed,
            if settings.discount < 1.0 {
                format!(
                    "; a figure a periods before the last weighted {}^a",
                    settings.discount
                )
            } else {
                String::new()
            }
        ),
    };
    pooled.diagnostics = diagnose(&pooled, &states);
    Ok(pooled)
}

/// The collective moves of one parameter's centre, spread and every
/// group's value: `mu' = mu + d`, `x' = mu' + s (x - mu)`, `tau' = s tau`,
/// with `d` normal and `ln s` normal, each scale adapted per parameter
/// during the burn-in. The population's density of the groups is
/// unchanged up to `s^-G`, which the map's Jacobian `s^(G+1)` cancels
/// but for one `s`; so the acceptance ratio is the groups' likelihoods,
/// the priors of `mu` and `tau`, and `s`. Where the spread is small and
/// each group's data say little (the neck of the funnel), this moves the
/// centre and spread in one step where group-by-group updates creep.
struct Collective {
    /// Per parameter: the proposal scales of `d` and `ln s`.
    scales: Vec<(f64, f64)>,
    /// Per parameter: accepted and proposed in the current window (burn-in)
    /// and after the burn-in.
    window: Vec<(usize, usize)>,
    accepted: usize,
    proposed: usize,
}

impl Collective {
    fn new(k: usize) -> Collective {
        Collective {
            scales: vec![(0.02, 0.05); k],
            window: vec![(0, 0); k],
            accepted: 0,
            proposed: 0,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        i: usize,
        sweep: usize,
        settings: &PooledSettings,
        prepared: &[Prepared<'_>],
        states: &mut [GroupState],
        hypers: &mut [Hyper],
        segments: &[Segment],
        weight: f64,
        bounds: &[(f64, f64)],
        burning: bool,
    ) {
        let mut rng = seeded(settings.seed, u64::MAX - 64 - i as u64, sweep as u64);
        let (sd_shift, sd_scale) = self.scales[i];
        let moves: [(f64, f64); CHAINS] = std::array::from_fn(|_| {
            (
                sd_shift * normal(&mut rng),
                (sd_scale * normal(&mut rng)).exp(),
            )
        });
        let (lo, hi) = bounds[i];
        let centres: [f64; CHAINS] = std::array::from_fn(|c| hypers[c].mean[i]);
        let moved = |c: usize, x: f64| {
            let (d, s) = moves[c];
            centres[c] + d + s * (x - centres[c])
        };
        // Every group's runs at the moved values, chain by chain as lanes:
        // (per chain: the new compared values, or None if out of bounds or
        // failed), and the change of log likelihood.
        type Moved = [Option<(Vec<Pair>, f64)>; CHAINS];
        let results: Vec<Moved> = states
            .par_iter()
            .zip(prepared.par_iter())
            .map(|(state, prep)| {
                let run: [Vec<f64>; CHAINS] = std::array::from_fn(|c| {
                    let mut x = state.x[c].clone();
                    x[i] = moved(c, x[i]);
                    x
                });
                let inside: [bool; CHAINS] =
                    std::array::from_fn(|c| run[c][i] > lo && run[c][i] < hi);
                let safe: [Vec<f64>; CHAINS] = std::array::from_fn(|c| {
                    if inside[c] {
                        run[c].clone()
                    } else {
                        state.x[c].clone()
                    }
                });
                let mut out = prep.evaluate(&safe, segments, weight);
                std::array::from_fn(|c| {
                    let pairs = out[c].take().filter(|_| inside[c])?;
                    let h = &hypers[c];
                    let change = ln_likelihood(&pairs, &h.dispersion)
                        - ln_likelihood(&state.pairs[c], &h.dispersion);
                    change.is_finite().then_some((pairs, change))
                })
            })
            .collect();
        for c in 0..CHAINS {
            let u: f64 = rng.random();
            let (d, s) = moves[c];
            let h = &hypers[c];
            let (mu, tau) = (h.mean[i], h.spread[i]);
            let (mu2, tau2) = (mu + d, s * tau);
            let total: Option<f64> = results.iter().map(|r| r[c].as_ref().map(|p| p.1)).sum();
            let accept = total.is_some_and(|change| {
                let ratio =
                    change - 0.5 * (mu2 * mu2 - mu * mu) - 0.5 * (tau2 * tau2 - tau * tau) + s.ln();
                u.ln() < ratio
            });
            self.window[i].1 += 1;
            self.proposed += usize::from(!burning);
            if accept {
                self.window[i].0 += 1;
                self.accepted += usize::from(!burning);
                for (state, r) in states.iter_mut().zip(&results) {
                    state.x[c][i] = moved(c, state.x[c][i]);
                    if let Some((pairs, _)) = &r[c] {
                        state.pairs[c] = pairs.clone();
                    }
                }
                hypers[c].mean[i] = mu2;
                hypers[c].spread[i] = tau2;
            }
        }
        // Adapt each parameter's scales towards an acceptance near 0.3
        // (every 10 of its own steps, during the burn-in only).
        let (a, p) = self.window[i];
        if burning && p >= 10 * CHAINS {
            let rate = a as f64 / p as f64;
            let f = if rate < 0.15 {
                0.6
            } else if rate > 0.45 {
                1.6
            } else {
                1.0
            };
            self.scales[i] = (self.scales[i].0 * f, self.scales[i].1 * f);
            self.window[i] = (0, 0);
        }
    }
}

impl GroupState {
    /// One independence Metropolis-Hastings move per chain from the
    /// Gaussian that the fitted quadratic and the chain's population
    /// distribution make: where the quadratic is close, the proposals are
    /// nearly draws from the group's conditional posterior and the chain
    /// moves across it in one step instead of by a random walk.
    #[allow(clippy::too_many_arguments)]
    fn fitted_move(
        &mut self,
        prep: &Prepared<'_>,
        hypers: &[Hyper],
        segments: &[Segment],
        weight: f64,
        inside: &dyn Fn(&[f64]) -> bool,
        burning: bool,
        rng: &mut ChaCha8Rng,
    ) {
        let Some(q) = &self.quadratic else {
            return;
        };
        let gaussians: [Option<(Vec<f64>, Vec<f64>)>; CHAINS] =
            std::array::from_fn(|c| q.proposal(&hypers[c].mean, &hypers[c].spread));
        let proposals: [Vec<f64>; CHAINS] = std::array::from_fn(|c| match &gaussians[c] {
            Some((centre, l)) => draw_gaussian(centre, l, rng),
            None => self.x[c].clone(),
        });
        let valid: [bool; CHAINS] =
            std::array::from_fn(|c| gaussians[c].is_some() && inside(&proposals[c]));
        let run: [Vec<f64>; CHAINS] = std::array::from_fn(|c| {
            if valid[c] {
                proposals[c].clone()
            } else {
                self.x[c].clone()
            }
        });
        let mut results = prep.evaluate(&run, segments, weight);
        for c in 0..CHAINS {
            let u: f64 = rng.random();
            self.fitted_proposed += usize::from(!burning);
            let (Some((centre, l)), true) = (&gaussians[c], valid[c]) else {
                continue;
            };
            let Some(new_pairs) = results[c].take() else {
                continue;
            };
            let h = &hypers[c];
            let new_likelihood = ln_likelihood(&new_pairs, &h.dispersion);
            if burning {
                self.samples.push((proposals[c].clone(), new_likelihood));
            }
            let new = new_likelihood + h.ln_population(&proposals[c])
                - ln_gaussian(&proposals[c], centre, l);
            let old = ln_likelihood(&self.pairs[c], &h.dispersion) + h.ln_population(&self.x[c])
                - ln_gaussian(&self.x[c], centre, l);
            if new.is_finite() && u.ln() < new - old {
                self.x[c] = proposals[c].clone();
                self.pairs[c] = new_pairs;
                self.fitted_accepted += usize::from(!burning);
            }
        }
    }

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

/// `f` of every draw, one vector per chain, in sweep order.
fn chains_of(draws: &[PooledDraw], f: &dyn Fn(&PooledDraw) -> f64) -> Vec<Vec<f64>> {
    let mut chains = vec![Vec::new(); CHAINS];
    for d in draws {
        chains[d.chain].push(f(d));
    }
    chains
}

/// Split R-hat and effective sample size of every group's every
/// parameter (`[group][parameter]`), then of the population's: `mu` and
/// `tau` per parameter and `phi` per series and horizon (`dispersions`).
type Mixing = (Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<f64>, Vec<f64>);

fn mixing(draws: &[PooledDraw], groups: usize, k: usize, dispersions: usize) -> Mixing {
    let ess_of = |chains: &[Vec<f64>]| {
        let total: usize = chains.iter().map(Vec::len).sum();
        total as f64 / autocorrelation_time(chains)
    };
    let mut rhat = Vec::with_capacity(groups);
    let mut ess = Vec::with_capacity(groups);
    for g in 0..groups {
        let mut r = Vec::with_capacity(k);
        let mut e = Vec::with_capacity(k);
        for i in 0..k {
            let chains = chains_of(draws, &|d| d.values[g][i]);
            r.push(split_rhat(&chains));
            e.push(ess_of(&chains));
        }
        rhat.push(r);
        ess.push(e);
    }
    let mut population_rhat = Vec::new();
    let mut population_ess = Vec::new();
    for j in 0..2 * k + dispersions {
        let chains = chains_of(draws, &|d| match j {
            j if j < k => d.mean[j],
            j if j < 2 * k => d.spread[j - k],
            j => d.dispersion[j - 2 * k],
        });
        population_rhat.push(split_rhat(&chains));
        population_ess.push(ess_of(&chains));
    }
    (rhat, ess, population_rhat, population_ess)
}

/// The largest split R-hat of any parameter, group's or population's
/// (infinite if any is not a number), and the smallest effective sample
/// size of any group's parameter: whether to run on.
fn worst_of(draws: &[PooledDraw], groups: usize, k: usize, dispersions: usize) -> (f64, f64) {
    let (rhat, ess, population, _) = mixing(draws, groups, k, dispersions);
    let worst = rhat
        .iter()
        .flatten()
        .chain(&population)
        .map(|r| if r.is_nan() { f64::INFINITY } else { *r })
        .fold(f64::NEG_INFINITY, f64::max);
    let least = ess
        .iter()
        .flatten()
        .map(|e| if e.is_nan() { 0.0 } else { *e })
        .fold(f64::INFINITY, f64::min);
    (worst, least)
}

fn diagnose(pooled: &Pooled, states: &[GroupState]) -> PooledDiagnostics {
    let (rhat, ess, population_rhat, population_ess) = mixing(
        &pooled.draws,
        pooled.groups.len(),
        pooled.parameters.len(),
        pooled.series.len() * pooled.horizons,
    );
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
        fitted_groups: states.iter().filter(|s| s.quadratic.is_some()).count(),
        fitted_acceptance: {
            let (a, p) = states.iter().fold((0, 0), |(a, p), s| {
                (a + s.fitted_accepted, p + s.fitted_proposed)
            });
            a as f64 / p.max(1) as f64
        },
        collective_acceptance: pooled.diagnostics.collective_acceptance,
        evaluations: pooled.diagnostics.evaluations,
        sweeps: pooled.diagnostics.sweeps,
    }
}

#[cfg(test)]
mod tests {
    use super::clip_to_flat;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn clipping_keeps_curvature_down_and_flattens_curvature_up() {
        // Positive definite: unchanged.
        let pd = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        assert!(close(&clip_to_flat(&pd, 3).unwrap(), &pd));
        // Eigenvalues 3 along (1, 1) and -1 along (1, -1): the second is
        // made flat, leaving 3 (1, 1)(1, 1)' / 2.
        let mixed = [1.0, 2.0, 2.0, 1.0];
        assert!(close(&clip_to_flat(&mixed, 2).unwrap(), &[1.5; 4]));
        // A diagonal with one direction curving up.
        let diagonal = [2.0, 0.0, 0.0, -0.3];
        assert!(close(
            &clip_to_flat(&diagonal, 2).unwrap(),
            &[2.0, 0.0, 0.0, 0.0]
        ));
        // Nothing curving down, or not finite: no fit.
        assert!(clip_to_flat(&[-1.0, 0.0, 0.0, -2.0], 2).is_none());
        assert!(clip_to_flat(&[f64::NAN, 0.0, 0.0, 1.0], 2).is_none());
    }
}
