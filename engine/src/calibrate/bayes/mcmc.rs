//! The affine-invariant ensemble sampler (Goodman and Weare 2010, the
//! "stretch move" of emcee) with the parallel red-blue update, and its
//! convergence diagnostics.

use crate::error::{Error, Result};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// How to sample: the ensemble's size and length, what is kept, and the
/// convergence a result must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mcmc {
    /// Walkers in the ensemble (even, at least twice the parameters plus 2).
    pub walkers: usize,
    /// Steps each walker takes, burn-in included.
    pub steps: usize,
    /// Steps discarded at the start.
    pub burn: usize,
    /// Keep every `thin`-th step after the burn-in.
    pub thin: usize,
    /// Seed of the walkers' generators (ChaCha8, one stream per walker).
    pub seed: u64,
    /// The stretch move's scale `a` (2 is standard).
    pub stretch: f64,
    /// The share of moves that are differential-evolution moves (ter Braak
    /// 2006, as emcee's `DEMove`) rather than stretch moves: they mix
    /// better in a dozen or more dimensions. 0 gives the pure stretch move.
    pub differential: f64,
    /// The largest split R-hat accepted.
    pub max_rhat: f64,
    /// The smallest effective sample size accepted, per parameter.
    pub min_ess: f64,
}

impl Default for Mcmc {
    /// 32 walkers, 2,000 steps of which 1,000 burn-in, thin 5, seed 1,
    /// stretch 2, R-hat at most 1.05, effective sample size at least 200.
    fn default() -> Mcmc {
        Mcmc {
            walkers: 32,
            steps: 2000,
            burn: 1000,
            thin: 5,
            seed: 1,
            stretch: 2.0,
            differential: 0.0,
            max_rhat: 1.05,
            min_ess: 200.0,
        }
    }
}

impl Mcmc {
    /// What is wrong with these settings for `dim` parameters.
    pub(crate) fn problems(&self, dim: Option<usize>) -> Vec<String> {
        let mut out = Vec::new();
        if self.walkers < 4 || !self.walkers.is_multiple_of(2) {
            out.push(format!(
                "`walkers` must be an even number, at least 4, not {}",
                self.walkers
            ));
        }
        if let Some(dim) = dim
            && self.walkers < 2 * dim + 2
        {
            out.push(format!(
                "{} walkers are too few for {dim} parameters: use at least {}",
                self.walkers,
                2 * dim + 2
            ));
        }
        if self.burn >= self.steps {
            out.push(format!(
                "`burn` ({}) must be less than `steps` ({})",
                self.burn, self.steps
            ));
        }
        if self.thin == 0 {
            out.push("`thin` must be at least 1".into());
        } else if self.steps > self.burn && (self.steps - self.burn) / self.thin < 4 {
            out.push(format!(
                "{} steps after a burn-in of {} thinned by {} keep fewer than 4 per walker",
                self.steps, self.burn, self.thin
            ));
        }
        if !(0.0..=1.0).contains(&self.differential) {
            out.push(format!(
                "`differential` must be a share from 0 to 1, not {}",
                self.differential
            ));
        }
        if !(self.stretch.is_finite() && self.stretch > 1.0) {
            out.push(format!("`stretch` must be > 1, not {}", self.stretch));
        }
        if !(self.max_rhat.is_finite() && self.max_rhat >= 1.0) {
            out.push(format!("`max_rhat` must be >= 1, not {}", self.max_rhat));
        }
        if !(self.min_ess.is_finite() && self.min_ess >= 0.0) {
            out.push(format!("`min_ess` must be >= 0, not {}", self.min_ess));
        }
        if self.walkers.saturating_mul(self.steps) > 100_000_000 {
            out.push(format!(
                "{} walkers x {} steps is more than 100 million evaluations",
                self.walkers, self.steps
            ));
        }
        out
    }
}

/// The kept states of every walker: `positions[k][w]` is walker `w` at
/// kept step `k`.
#[derive(Debug, Clone, PartialEq)]
pub struct Chains {
    /// Kept positions, by kept step then walker.
    pub positions: Vec<Vec<Vec<f64>>>,
    /// The log density at each kept position.
    pub log_density: Vec<Vec<f64>>,
    /// The fraction of proposals accepted, over every step.
    pub acceptance: f64,
    /// Each walker's fraction accepted.
    pub walker_acceptance: Vec<f64>,
    /// Walkers moved halfway through the burn-in because they were
    /// stranded far below the others.
    pub pruned: usize,
    /// Log-density evaluations made.
    pub evaluations: usize,
}

impl Chains {
    /// The kept values of parameter `i` as one chain per walker.
    pub fn chains(&self, i: usize) -> Vec<Vec<f64>> {
        let walkers = self.positions.first().map_or(0, Vec::len);
        (0..walkers)
            .map(|w| self.positions.iter().map(|step| step[w][i]).collect())
            .collect()
    }
}

/// Samples `log_density` (any unnormalised log density on R^d; minus
/// infinity where it is 0) with the affine-invariant ensemble sampler
/// from `start` (one point per walker).
///
/// The ensemble is split in two halves; each half moves in parallel using
/// the other as its partners, and each walker draws from its own ChaCha8
/// stream seeded by `settings.seed` and its index, so the result is the
/// same on any number of threads.
///
/// ```
/// use carecascade_engine::calibrate::{Mcmc, ensemble_sampler};
///
/// // A standard normal in 2 dimensions.
/// let start: Vec<Vec<f64>> = (0..8).map(|w| vec![0.1 * w as f64, -0.05 * w as f64]).collect();
/// let settings = Mcmc { walkers: 8, steps: 3000, burn: 500, thin: 1, ..Mcmc::default() };
/// let chains = ensemble_sampler(|x: &[f64]| -0.5 * (x[0] * x[0] + x[1] * x[1]), &start, &settings)?;
/// let all: Vec<f64> = chains.chains(0).concat();
/// let mean = all.iter().sum::<f64>() / all.len() as f64;
/// assert!(mean.abs() < 0.15);
/// # Ok::<(), carecascade_engine::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Invalid`] for settings that cannot work, a start with the
/// wrong number of walkers or of coordinates, or a walker starting where
/// the density is 0.
pub fn ensemble_sampler<F>(log_density: F, start: &[Vec<f64>], settings: &Mcmc) -> Result<Chains>
where
    F: Fn(&[f64]) -> f64 + Sync,
{
    ensemble_sampler_batched(
        |points: &[Vec<f64>]| points.iter().map(|p| log_density(p)).collect(),
        1,
        start,
        settings,
        &mut |_, _| {},
    )
}

/// [`ensemble_sampler`] with the density evaluated `chunk` points at a
/// time (for a model run as a batch of lanes): `log_density(points)`
/// returns one value per point. Chunks run in parallel; the result is the
/// same as [`ensemble_sampler`]'s with the same density, on any number of
/// threads and for any `chunk`. After every step `progress(done, steps)`
/// is called (on the calling thread), for a progress bar.
///
/// # Errors
///
/// As [`ensemble_sampler`]; [`Error::Invalid`] if `chunk` is 0.
pub fn ensemble_sampler_batched<F>(
    log_density: F,
    chunk: usize,
    start: &[Vec<f64>],
    settings: &Mcmc,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Chains>
where
    F: Fn(&[Vec<f64>]) -> Vec<f64> + Sync,
{
    let invalid = |message: String| Error::Invalid {
        what: "sampler".into(),
        message,
    };
    let dim = start.first().map_or(0, Vec::len);
    let mut problems = settings.problems(None);
    if start.len() != settings.walkers {
        problems.push(format!(
            "{} starting points for {} walkers",
            start.len(),
            settings.walkers
        ));
    }
    if dim == 0 || start.iter().any(|p| p.len() != dim) {
        problems.push("every starting point needs the same, non-zero number of coordinates".into());
    }
    if chunk == 0 {
        problems.push("the chunk of points evaluated together must be at least 1".into());
    }
    if !problems.is_empty() {
        return Err(invalid(problems.join("; ")));
    }
    let evaluate = |points: &[Vec<f64>]| -> Vec<f64> {
        points
            .par_chunks(chunk)
            .flat_map_iter(|c| {
                let mut values = log_density(c);
                values.resize(c.len(), f64::NEG_INFINITY);
                values
            })
            .collect()
    };
    let initial = evaluate(start);
    let mut walkers: Vec<Walker> = start
        .iter()
        .zip(initial)
        .enumerate()
        .map(|(w, (p, lp))| Walker {
            position: p.clone(),
            log_density: lp,
            rng: ChaCha8Rng::seed_from_u64(
                settings
                    .seed
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .wrapping_add(w as u64),
            ),
            accepted: 0,
        })
        .collect();
    if let Some(w) = walkers.iter().position(|w| !w.log_density.is_finite()) {
        return Err(invalid(format!(
            "walker {w} starts where the density is 0 or undefined"
        )));
    }
    let half = settings.walkers / 2;
    let a = settings.stretch;
    let mut positions = Vec::new();
    let mut densities = Vec::new();
    let mut pruned = 0;
    for step in 0..settings.steps {
        // Halfway through the burn-in, walkers stranded far below the rest
        // (in a region the ensemble has left) restart from the position of
        // a walker in the upper half; the burn-in's draws are discarded, so
        // this changes where the kept chains start, not what they sample.
        if settings.burn >= 2 && step == settings.burn / 2 {
            pruned = prune(&mut walkers);
        }
        for moving in 0..2 {
            let (first, second) = walkers.split_at_mut(half);
            let (movers, partners) = if moving == 0 {
                (first, &*second)
            } else {
                (second, &*first)
            };
            let mut stretches = Vec::with_capacity(movers.len());
            let gamma = 2.38 / (2.0 * dim as f64).sqrt();
            let proposals: Vec<Vec<f64>> = movers
                .iter_mut()
                .map(|w| {
                    let de: f64 = w.rng.random();
                    if de < settings.differential && partners.len() >= 2 {
                        // Differential evolution: along the difference of
                        // two partners, with a small jitter; symmetric.
                        let j = w.rng.random_range(0..partners.len());
                        let mut k = w.rng.random_range(0..partners.len() - 1);
                        if k >= j {
                            k += 1;
                        }
                        let g = gamma * (1.0 + 0.1 * (w.rng.random::<f64>() - 0.5));
                        stretches.push(1.0);
                        w.position
                            .iter()
                            .zip(&partners[j].position)
                            .zip(&partners[k].position)
                            .map(|((x, a), b)| x + g * (a - b))
                            .collect()
                    } else {
                        let j = w.rng.random_range(0..partners.len());
                        let u: f64 = w.rng.random();
                        let z = ((a - 1.0) * u + 1.0).powi(2) / a;
                        stretches.push(z);
                        let partner = &partners[j].position;
                        w.position
                            .iter()
                            .zip(partner)
                            .map(|(x, p)| p + z * (x - p))
                            .collect()
                    }
                })
                .collect();
            let values = evaluate(&proposals);
            for (((w, proposal), lp), z) in
                movers.iter_mut().zip(proposals).zip(values).zip(stretches)
            {
                let log_ratio = (dim as f64 - 1.0) * z.ln() + lp - w.log_density;
                let r: f64 = w.rng.random();
                if lp.is_finite() && r.ln() < log_ratio {
                    w.position = proposal;
                    w.log_density = lp;
                    w.accepted += 1;
                }
            }
        }
        if step >= settings.burn && (step - settings.burn).is_multiple_of(settings.thin) {
            positions.push(walkers.iter().map(|w| w.position.clone()).collect());
            densities.push(walkers.iter().map(|w| w.log_density).collect());
        }
        progress(step + 1, settings.steps);
    }
    let accepted: usize = walkers.iter().map(|w| w.accepted).sum();
    Ok(Chains {
        positions,
        log_density: densities,
        acceptance: accepted as f64 / (settings.walkers * settings.steps).max(1) as f64,
        walker_acceptance: walkers
            .iter()
            .map(|w| w.accepted as f64 / settings.steps.max(1) as f64)
            .collect(),
        pruned,
        evaluations: settings.walkers * (settings.steps + 1),
    })
}

/// Moves walkers whose log density is more than `3 IQR` below the first
/// quartile onto walkers of the upper half (in order), returning how many.
fn prune(walkers: &mut [Walker]) -> usize {
    let mut sorted: Vec<f64> = walkers.iter().map(|w| w.log_density).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let (q1, q3) = (sorted[n / 4], sorted[3 * n / 4]);
    let cut = q1 - 3.0 * (q3 - q1).max(1.0);
    let good: Vec<usize> = (0..n)
        .filter(|&i| walkers[i].log_density >= sorted[n / 2])
        .collect();
    let stranded: Vec<usize> = (0..n).filter(|&i| walkers[i].log_density < cut).collect();
    for (k, &i) in stranded.iter().enumerate() {
        let j = good[k % good.len()];
        walkers[i].position = walkers[j].position.clone();
        walkers[i].log_density = walkers[j].log_density;
    }
    stranded.len()
}

struct Walker {
    position: Vec<f64>,
    log_density: f64,
    rng: ChaCha8Rng,
    accepted: usize,
}

/// Split R-hat (Gelman et al., *Bayesian Data Analysis*, 3rd ed., 11.4):
/// each chain cut in two halves, the potential scale reduction of the
/// halves. Near 1 when the chains agree; `NaN` with fewer than 4 draws
/// per chain.
pub fn split_rhat(chains: &[Vec<f64>]) -> f64 {
    let n = chains.iter().map(Vec::len).min().unwrap_or(0) / 2;
    if n < 2 || chains.is_empty() {
        return f64::NAN;
    }
    let halves: Vec<&[f64]> = chains
        .iter()
        .flat_map(|c| [&c[..n], &c[n..2 * n]])
        .collect();
    let m = halves.len() as f64;
    let means: Vec<f64> = halves
        .iter()
        .map(|h| h.iter().sum::<f64>() / n as f64)
        .collect();
    let grand = means.iter().sum::<f64>() / m;
    let b = n as f64 / (m - 1.0) * means.iter().map(|x| (x - grand).powi(2)).sum::<f64>();
    let w = halves
        .iter()
        .zip(&means)
        .map(|(h, mean)| h.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0))
        .sum::<f64>()
        / m;
    if w == 0.0 {
        return if b == 0.0 { 1.0 } else { f64::INFINITY };
    }
    let var = (n as f64 - 1.0) / n as f64 * w + b / n as f64;
    (var / w).sqrt()
}

/// The integrated autocorrelation time of an ensemble's chains: the
/// autocorrelation function averaged over chains, summed up to Sokal's
/// automatic window (the first lag `M >= 5 tau(M)`), as emcee estimates it.
pub fn autocorrelation_time(chains: &[Vec<f64>]) -> f64 {
    let n = chains.iter().map(Vec::len).min().unwrap_or(0);
    if n < 2 || chains.is_empty() {
        return f64::NAN;
    }
    let mut rho = vec![0.0; n];
    let mut counted = 0;
    for c in chains {
        let c = &c[..n];
        let mean = c.iter().sum::<f64>() / n as f64;
        let var = c.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        if var == 0.0 {
            continue;
        }
        counted += 1;
        for (lag, r) in rho.iter_mut().enumerate() {
            let mut s = 0.0;
            for t in 0..n - lag {
                s += (c[t] - mean) * (c[t + lag] - mean);
            }
            *r += s / n as f64 / var;
        }
    }
    if counted == 0 {
        return f64::NAN;
    }
    for r in &mut rho {
        *r /= counted as f64;
    }
    let mut tau = 1.0;
    for (m, r) in rho.iter().enumerate().skip(1) {
        tau += 2.0 * r;
        if m as f64 >= 5.0 * tau {
            return tau.max(1.0);
        }
    }
    tau.max(1.0)
}

/// How well the chains of each parameter have mixed.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostics {
    /// Split R-hat per parameter, the walkers as chains.
    pub rhat: Vec<f64>,
    /// Effective sample size per parameter: kept draws over the
    /// integrated autocorrelation time.
    pub ess: Vec<f64>,
    /// Integrated autocorrelation time per parameter, in kept steps.
    pub tau: Vec<f64>,
    /// Fraction of proposals accepted.
    pub acceptance: f64,
    /// The lowest fraction any walker accepted.
    pub min_walker_acceptance: f64,
    /// Walkers moved off stranded positions during the burn-in.
    pub pruned: usize,
    /// Kept steps per walker.
    pub kept: usize,
}

impl Diagnostics {
    /// The diagnostics of `chains`.
    pub fn of(chains: &Chains) -> Diagnostics {
        let dim = chains
            .positions
            .first()
            .and_then(|s| s.first())
            .map_or(0, Vec::len);
        let walkers = chains.positions.first().map_or(0, Vec::len);
        let kept = chains.positions.len();
        let mut rhat = Vec::with_capacity(dim);
        let mut ess = Vec::with_capacity(dim);
        let mut tau = Vec::with_capacity(dim);
        for i in 0..dim {
            let c = chains.chains(i);
            rhat.push(split_rhat(&c));
            let t = autocorrelation_time(&c);
            tau.push(t);
            ess.push((walkers * kept) as f64 / t);
        }
        Diagnostics {
            rhat,
            ess,
            tau,
            acceptance: chains.acceptance,
            min_walker_acceptance: chains
                .walker_acceptance
                .iter()
                .copied()
                .fold(f64::NAN, f64::min),
            pruned: chains.pruned,
            kept,
        }
    }

    /// Why the chains fail `settings`' thresholds, by parameter name: empty
    /// when they pass.
    pub fn failures(&self, names: &[String], settings: &Mcmc) -> Vec<String> {
        let mut out = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let (r, e) = (self.rhat[i], self.ess[i]);
            if r.is_nan() || r > settings.max_rhat {
                out.push(format!(
                    "`{name}`: split R-hat {r:.3} > {}",
                    settings.max_rhat
                ));
            }
            if e.is_nan() || e < settings.min_ess {
                out.push(format!(
                    "`{name}`: effective sample size {e:.0} < {}",
                    settings.min_ess
                ));
            }
        }
        if self.acceptance.is_nan() || self.acceptance < 0.05 {
            out.push(format!(
                "only {:.1}% of proposals were accepted",
                100.0 * self.acceptance
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rhat_separates_chains_that_disagree() {
        let agree: Vec<Vec<f64>> = (0..4)
            .map(|c| (0..200).map(|t| ((t * 7 + c * 13) % 17) as f64).collect())
            .collect();
        assert!((split_rhat(&agree) - 1.0).abs() < 0.05);
        let mut apart = agree.clone();
        for x in &mut apart[0] {
            *x += 20.0;
        }
        assert!(split_rhat(&apart) > 1.5);
    }

    #[test]
    fn autocorrelation_time_of_an_ar1_process() {
        // AR(1) with phi = 0.8 has tau = (1 + phi) / (1 - phi) = 9.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let chains: Vec<Vec<f64>> = (0..16)
            .map(|_| {
                let mut x = 0.0;
                (0..5000)
                    .map(|_| {
                        let e: f64 =
                            rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut rng);
                        x = 0.8 * x + e;
                        x
                    })
                    .collect()
            })
            .collect();
        let tau = autocorrelation_time(&chains);
        assert!((tau - 9.0).abs() < 1.5, "{tau}");
    }

    #[test]
    fn same_result_on_one_thread_and_many() {
        let f = |x: &[f64]| -0.5 * (x[0] * x[0] + 4.0 * (x[1] - x[0]).powi(2));
        let start: Vec<Vec<f64>> = (0..10).map(|w| vec![0.01 * w as f64, 0.0]).collect();
        let s = Mcmc {
            walkers: 10,
            steps: 200,
            burn: 50,
            thin: 2,
            ..Mcmc::default()
        };
        let many = ensemble_sampler(f, &start, &s).unwrap();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| ensemble_sampler(f, &start, &s).unwrap());
        assert_eq!(many, one);
        let mut steps_seen = 0;
        let batched = ensemble_sampler_batched(
            |points: &[Vec<f64>]| points.iter().map(|p| f(p)).collect(),
            3,
            &start,
            &s,
            &mut |done, total| {
                assert_eq!(total, s.steps);
                steps_seen = done;
            },
        )
        .unwrap();
        assert_eq!(steps_seen, s.steps);
        assert_eq!(many, batched);
        assert!(ensemble_sampler(f, &start[..9], &s).is_err());
    }
}
