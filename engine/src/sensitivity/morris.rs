//! Morris's elementary effects: one-at-a-time trajectories through a grid.

use super::{Bootstrap, Estimate, check_outputs};
use crate::error::{Error, Result};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// The most trajectories a Morris design may have.
pub const MAX_TRAJECTORIES: usize = 1_000_000;

/// The most grid levels a Morris design may have.
pub const MAX_LEVELS: usize = 1000;

/// Morris's design for screening `k` factors: `r` trajectories of `k + 1`
/// points on a grid of `p` levels per factor (`p` even). Level `l` of a
/// factor is the unit-cube coordinate `(l + 0.5) / p`, the middle of the
/// `l`-th of `p` equally likely strata, so that every level maps to a
/// finite value of any distribution. A trajectory starts from a random
/// grid point and moves each factor once, in random order, by `p / 2`
/// levels (a step of `Δ = 1/2` in the unit cube; up from the lower half of
/// the levels, down from the upper half). `r (k + 1)` runs in all, one
/// trajectory after another.
///
/// The elementary effect of a step is the change in the output divided by
/// the signed step `±Δ`: per unit of the factor's quantile, so a factor's
/// effect is about how far it moves the output across its range whatever
/// its units.
///
/// ```
/// use carecascade_engine::sensitivity::{Bootstrap, MorrisDesign};
///
/// let design = MorrisDesign::new(3, 20, 4, 7)?;
/// let y: Vec<f64> = design.rows().iter().map(|x| 4.0 * x[0] + x[1]).collect();
/// let effects = design.analyse(&y, &Bootstrap::default())?;
/// assert!((effects[0].mu_star.value - 4.0).abs() < 1e-9);
/// assert!((effects[1].mu_star.value - 1.0).abs() < 1e-9);
/// assert_eq!(effects[2].mu_star.value, 0.0);
/// # Ok::<(), carecascade_engine::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MorrisDesign {
    factors: usize,
    levels: usize,
    rows: Vec<Vec<f64>>,
    /// Per trajectory, per step: the factor moved and the signed step.
    steps: Vec<Vec<(usize, f64)>>,
}

/// One factor's elementary effects summarised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MorrisEffects {
    /// The mean elementary effect (effects of opposite sign cancel).
    pub mu: f64,
    /// The mean absolute elementary effect, with a bootstrap interval over
    /// the trajectories: the measure of influence to rank by.
    pub mu_star: Estimate,
    /// The standard deviation of the elementary effects: large when the
    /// effect depends on the other factors (interactions) or on where in
    /// its range the factor is (non-linearity).
    pub sigma: f64,
}

impl MorrisDesign {
    /// `trajectories` random trajectories over a grid of `levels` levels
    /// for `factors` factors, drawn from `seed` (ChaCha8).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for no factors, fewer than 2 or more than
    /// [`MAX_TRAJECTORIES`] trajectories, or levels that are odd, fewer
    /// than 2 or more than [`MAX_LEVELS`].
    pub fn new(
        factors: usize,
        trajectories: usize,
        levels: usize,
        seed: u64,
    ) -> Result<MorrisDesign> {
        let invalid = |message: String| Error::Invalid {
            what: "Morris design".into(),
            message,
        };
        if factors == 0 {
            return Err(invalid("needs at least one uncertain factor".into()));
        }
        if !(2..=MAX_TRAJECTORIES).contains(&trajectories) {
            return Err(invalid(format!(
                "trajectories must be 2 to {MAX_TRAJECTORIES}, not {trajectories}"
            )));
        }
        if !(2..=MAX_LEVELS).contains(&levels) || levels % 2 == 1 {
            return Err(invalid(format!(
                "levels must be an even number from 2 to {MAX_LEVELS}, not {levels}"
            )));
        }
        if trajectories.checked_mul(factors + 1).is_none() {
            return Err(invalid(format!(
                "{trajectories} trajectories of {factors} factors is too many runs"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let half = levels / 2;
        let value = |l: usize| (l as f64 + 0.5) / levels as f64;
        let mut rows = Vec::with_capacity(trajectories * (factors + 1));
        let mut steps = Vec::with_capacity(trajectories);
        for _ in 0..trajectories {
            let mut point: Vec<usize> = (0..factors).map(|_| rng.random_range(0..levels)).collect();
            let mut order: Vec<usize> = (0..factors).collect();
            for i in (1..factors).rev() {
                order.swap(i, rng.random_range(0..=i));
            }
            rows.push(point.iter().map(|&l| value(l)).collect());
            let mut moves = Vec::with_capacity(factors);
            for i in order {
                let delta = if point[i] < half {
                    point[i] += half;
                    0.5
                } else {
                    point[i] -= half;
                    -0.5
                };
                moves.push((i, delta));
                rows.push(point.iter().map(|&l| value(l)).collect());
            }
            steps.push(moves);
        }
        Ok(MorrisDesign {
            factors,
            levels,
            rows,
            steps,
        })
    }

    /// The number of factors.
    pub fn factors(&self) -> usize {
        self.factors
    }

    /// The number of trajectories, `r`.
    pub fn trajectories(&self) -> usize {
        self.steps.len()
    }

    /// The number of grid levels, `p`.
    pub fn levels(&self) -> usize {
        self.levels
    }

    /// The points to run, `r (k + 1)` rows of `k` coordinates in `(0, 1)`.
    pub fn rows(&self) -> &[Vec<f64>] {
        &self.rows
    }

    /// Each factor's `mu`, `mu*` (with a percentile bootstrap interval over
    /// trajectories) and `sigma` from the outputs of the rows, in row order.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a number of outputs other than the number of
    /// rows, a non-finite output (naming the row), or a bootstrap that
    /// [`Bootstrap::check`] refuses.
    pub fn analyse(&self, outputs: &[f64], bootstrap: &Bootstrap) -> Result<Vec<MorrisEffects>> {
        check_outputs(outputs, self.rows.len())?;
        bootstrap.check()?;
        let k = self.factors;
        // effects[t][i]: factor i's elementary effect in trajectory t.
        let mut effects = vec![vec![0.0; k]; self.steps.len()];
        for (t, moves) in self.steps.iter().enumerate() {
            let y = &outputs[t * (k + 1)..(t + 1) * (k + 1)];
            for (s, &(i, delta)) in moves.iter().enumerate() {
                effects[t][i] = (y[s + 1] - y[s]) / delta;
            }
        }
        let r = self.steps.len();
        let mu_star = |i: usize, sample: &[usize]| {
            sample.iter().map(|&t| effects[t][i].abs()).sum::<f64>() / sample.len() as f64
        };
        let all: Vec<usize> = (0..r).collect();
        let replicates = bootstrap.replicates(r, |sample| {
            (0..k).map(|i| mu_star(i, sample)).collect::<Vec<_>>()
        });
        Ok((0..k)
            .map(|i| {
                let mu = effects.iter().map(|e| e[i]).sum::<f64>() / r as f64;
                let sigma = (effects.iter().map(|e| (e[i] - mu).powi(2)).sum::<f64>()
                    / (r - 1) as f64)
                    .sqrt();
                MorrisEffects {
                    mu,
                    mu_star: bootstrap.interval(mu_star(i, &all), replicates.iter().map(|x| x[i])),
                    sigma,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sobol's g-function, `prod (|4x - 2| + a) / (1 + a)`: the smaller
    /// `a_i`, the more influential `x_i`.
    fn g_function(x: &[f64], a: &[f64]) -> f64 {
        x.iter()
            .zip(a)
            .map(|(x, a)| ((4.0 * x - 2.0).abs() + a) / (1.0 + a))
            .product()
    }

    #[test]
    fn morris_ranks_the_g_function_factors() {
        let a = [0.0, 1.0, 4.5, 9.0, 99.0, 99.0, 99.0, 99.0];
        let design = MorrisDesign::new(a.len(), 40, 4, 11).unwrap();
        assert_eq!(design.rows().len(), 40 * 9);
        let y: Vec<f64> = design.rows().iter().map(|x| g_function(x, &a)).collect();
        let effects = design.analyse(&y, &Bootstrap::default()).unwrap();
        let mu_star: Vec<f64> = effects.iter().map(|e| e.mu_star.value).collect();
        eprintln!("g-function mu*: {mu_star:.3?}");
        // The first four in order, then the unimportant four far below.
        for i in 0..3 {
            assert!(mu_star[i] > mu_star[i + 1], "{mu_star:?}");
        }
        for &m in &mu_star[4..] {
            assert!(m < 0.2 * mu_star[3], "{mu_star:?}");
        }
        // Influential factors interact in a product: sigma is large.
        assert!(effects[0].sigma > 0.5 * effects[0].mu_star.value);
        for e in &effects {
            assert!(e.mu_star.low <= e.mu_star.value && e.mu_star.value <= e.mu_star.high);
        }
    }

    /// Morris (1991)'s own test function of 20 inputs: the first ten are
    /// influential (the first seven strongly, with interactions among the
    /// first six), the last ten are not.
    #[test]
    fn morris_separates_the_influential_inputs_of_morris_1991() {
        let f = |x: &[f64]| {
            let w: Vec<f64> = x
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    if [2, 4, 6].contains(&i) {
                        2.0 * (1.1 * x / (x + 0.1) - 0.5)
                    } else {
                        2.0 * (x - 0.5)
                    }
                })
                .collect();
            let mut y = 0.0;
            for (i, w) in w.iter().enumerate() {
                let b = if i < 10 {
                    20.0
                } else {
                    (-1.0f64).powi(i as i32 + 1)
                };
                y += b * w;
            }
            for i in 0..20 {
                for j in i + 1..20 {
                    let b = if i < 6 && j < 6 {
                        -15.0
                    } else {
                        (-1.0f64).powi((i + j) as i32 + 2)
                    };
                    y += b * w[i] * w[j];
                }
            }
            for i in 0..5 {
                for j in i + 1..5 {
                    for l in j + 1..5 {
                        y -= 10.0 * w[i] * w[j] * w[l];
                    }
                }
            }
            y + 5.0 * w[0] * w[1] * w[2] * w[3]
        };
        let design = MorrisDesign::new(20, 50, 4, 3).unwrap();
        let y: Vec<f64> = design.rows().iter().map(|x| f(x)).collect();
        let effects = design.analyse(&y, &Bootstrap::default()).unwrap();
        let mu_star: Vec<f64> = effects.iter().map(|e| e.mu_star.value).collect();
        eprintln!("Morris 1991 mu*: {mu_star:.1?}");
        let weakest_influential = mu_star[..10].iter().copied().fold(f64::INFINITY, f64::min);
        let strongest_other = mu_star[10..].iter().copied().fold(0.0, f64::max);
        assert!(weakest_influential > 2.0 * strongest_other, "{mu_star:?}");
    }

    #[test]
    fn trajectories_move_one_factor_at_a_time_by_half_the_levels() {
        let design = MorrisDesign::new(5, 10, 6, 2).unwrap();
        for t in 0..10 {
            let rows = &design.rows()[t * 6..(t + 1) * 6];
            let mut moved = Vec::new();
            for s in 0..5 {
                let changed: Vec<usize> =
                    (0..5).filter(|&i| rows[s][i] != rows[s + 1][i]).collect();
                assert_eq!(changed.len(), 1);
                let i = changed[0];
                assert!(((rows[s + 1][i] - rows[s][i]).abs() - 0.5).abs() < 1e-12);
                moved.push(i);
            }
            moved.sort();
            assert_eq!(moved, [0, 1, 2, 3, 4]);
            for x in rows.iter().flatten() {
                // On the grid of 6 levels.
                assert!(((x * 6.0 - 0.5).round() - (x * 6.0 - 0.5)).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn bad_designs_are_refused() {
        assert!(MorrisDesign::new(0, 10, 4, 1).is_err());
        assert!(MorrisDesign::new(3, 1, 4, 1).is_err());
        let message = MorrisDesign::new(3, 10, 5, 1).unwrap_err().to_string();
        assert!(message.contains("even"), "{message}");
    }
}
