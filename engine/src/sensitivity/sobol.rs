//! Sobol indices: Saltelli's design, Jansen's total-order estimator and
//! Saltelli et al.'s (2010) first-order one.

use super::sequence::{MAX_DIMENSIONS, SobolSequence};
use super::{Bootstrap, Estimate, Points, check_outputs};
use crate::error::{Error, Result};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// The most base samples a Sobol design may have.
pub const MAX_SAMPLES: usize = 10_000_000;

/// Saltelli's design for first- and total-order Sobol indices of `k`
/// factors from `N` base samples: two independent `N x k` matrices `A` and
/// `B` of points in the unit hypercube (the first and last `k` coordinates
/// of a `2k`-dimensional sequence), then for each factor `i` the matrix
/// `AB_i`, `A` with its column `i` taken from `B`. The model is run once per
/// row, `N (k + 2)` runs in all, in the order `A`, `B`, `AB_1`, ..., `AB_k`
/// (each `N` rows).
///
/// ```
/// use carecascade_engine::sensitivity::{Bootstrap, SaltelliDesign};
///
/// // y = 4 x0 + x1 (x2 unused), on uniform [0, 1] factors.
/// let design = SaltelliDesign::new(3, 1024, 7)?;
/// let y: Vec<f64> = design.rows().iter().map(|x| 4.0 * x[0] + x[1]).collect();
/// let indices = design.analyse(&y, &Bootstrap::default())?;
/// // Analytic: S1 = ST = 16/17, 1/17 and 0.
/// assert!((indices[0].first.value - 16.0 / 17.0).abs() < 0.01);
/// assert!((indices[1].total.value - 1.0 / 17.0).abs() < 0.01);
/// assert_eq!(indices[2].total.value, 0.0);
/// # Ok::<(), carecascade_engine::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SaltelliDesign {
    factors: usize,
    samples: usize,
    points: Points,
    rows: Vec<Vec<f64>>,
}

/// Which estimator of the first-order index. Both have the same
/// expectation; they differ in variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FirstOrder {
    /// Saltelli et al. (2010): `mean((f(B) - m) (f(AB_i) - f(A))) / V`,
    /// with `m` the mean of `f(A)` and `f(B)`. Their recommended form: for
    /// a factor with no effect, `f(AB_i) = f(A)` and the index is exactly
    /// 0, and it is much less noisy for small indices.
    #[default]
    Saltelli,
    /// Jansen (1999): `(V - mean((f(B) - f(AB_i))^2) / 2) / V`. Its error
    /// does not shrink with the index: every factor with no effect gets the
    /// same noise, of either sign.
    Jansen,
}

/// One factor's Sobol indices with their bootstrap intervals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SobolIndices {
    /// The first-order index `S1`: the share of the output's variance that
    /// the factor explains alone.
    pub first: Estimate,
    /// The total-order index `ST`: the share that would remain if every
    /// other factor were fixed, its interactions included.
    pub total: Estimate,
}

impl SaltelliDesign {
    /// The design of `factors` factors from `samples` base samples: the
    /// points of a digitally shifted Sobol sequence drawn from `seed` when
    /// `2 factors` is at most [`MAX_DIMENSIONS`], independent uniform
    /// draws (ChaCha8 from `seed`) beyond that.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for no factors, fewer than 2 or more than
    /// [`MAX_SAMPLES`] samples, or a design of more than `usize::MAX` rows.
    pub fn new(factors: usize, samples: usize, seed: u64) -> Result<SaltelliDesign> {
        let points = if 2 * factors <= MAX_DIMENSIONS {
            Points::Sobol
        } else {
            Points::Random
        };
        SaltelliDesign::with_points(factors, samples, seed, points)
    }

    /// As [`SaltelliDesign::new`], with the base points chosen.
    ///
    /// # Errors
    ///
    /// As [`SaltelliDesign::new`]; [`Error::Invalid`] for
    /// [`Points::Sobol`] with more than [`MAX_DIMENSIONS`]` / 2` factors.
    pub fn with_points(
        factors: usize,
        samples: usize,
        seed: u64,
        points: Points,
    ) -> Result<SaltelliDesign> {
        let invalid = |message: String| Error::Invalid {
            what: "Sobol design".into(),
            message,
        };
        if factors == 0 {
            return Err(invalid("needs at least one uncertain factor".into()));
        }
        if !(2..=MAX_SAMPLES).contains(&samples) {
            return Err(invalid(format!(
                "samples must be 2 to {MAX_SAMPLES}, not {samples}"
            )));
        }
        if samples.checked_mul(factors + 2).is_none() {
            return Err(invalid(format!(
                "{samples} samples of {factors} factors is too many runs"
            )));
        }
        let mut base: Vec<Vec<f64>> = Vec::with_capacity(samples);
        match points {
            Points::Sobol => {
                let mut sequence = SobolSequence::new(2 * factors, seed).ok_or_else(|| {
                    invalid(format!(
                        "a Sobol sequence has at most {MAX_DIMENSIONS} dimensions: {factors} factors need {}",
                        2 * factors
                    ))
                })?;
                for _ in 0..samples {
                    base.push(sequence.next_point());
                }
            }
            Points::Random => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                for _ in 0..samples {
                    base.push((0..2 * factors).map(|_| rng.random::<f64>()).collect());
                }
            }
        }
        let mut rows = Vec::with_capacity(samples * (factors + 2));
        rows.extend(base.iter().map(|p| p[..factors].to_vec()));
        rows.extend(base.iter().map(|p| p[factors..].to_vec()));
        for i in 0..factors {
            rows.extend(base.iter().map(|p| {
                let mut row = p[..factors].to_vec();
                row[i] = p[factors + i];
                row
            }));
        }
        Ok(SaltelliDesign {
            factors,
            samples,
            points,
            rows,
        })
    }

    /// The number of factors.
    pub fn factors(&self) -> usize {
        self.factors
    }

    /// The number of base samples, `N`.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// How the base points were drawn.
    pub fn points(&self) -> Points {
        self.points
    }

    /// The points to run, `N (k + 2)` rows of `k` coordinates in `(0, 1)`.
    pub fn rows(&self) -> &[Vec<f64>] {
        &self.rows
    }

    /// Each factor's first- and total-order indices from the outputs of
    /// the rows, in row order, with percentile bootstrap intervals over the
    /// base samples. With `f` the outputs and `V` the variance of `f(A)`
    /// and `f(B)` together, the total order is Jansen's estimator,
    /// `ST_i = mean((f(A) - f(AB_i))^2) / 2V`, and the first order
    /// [`FirstOrder::Saltelli`] (see [`SaltelliDesign::analyse_with`]).
    ///
    /// An output that does not vary has no indices: they are NaN.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a number of outputs other than the number of
    /// rows, a non-finite output (naming the row), or a bootstrap that
    /// [`Bootstrap::check`] refuses.
    pub fn analyse(&self, outputs: &[f64], bootstrap: &Bootstrap) -> Result<Vec<SobolIndices>> {
        self.analyse_with(outputs, bootstrap, FirstOrder::Saltelli)
    }

    /// As [`SaltelliDesign::analyse`], with the first-order estimator
    /// chosen.
    ///
    /// # Errors
    ///
    /// As [`SaltelliDesign::analyse`].
    pub fn analyse_with(
        &self,
        outputs: &[f64],
        bootstrap: &Bootstrap,
        first_order: FirstOrder,
    ) -> Result<Vec<SobolIndices>> {
        check_outputs(outputs, self.rows.len())?;
        bootstrap.check()?;
        let n = self.samples;
        let block = |b: usize| &outputs[b * n..(b + 1) * n];
        let (a, b) = (block(0), block(1));
        let all: Vec<usize> = (0..n).collect();
        let estimate = |i: usize, sample: &[usize]| -> (f64, f64) {
            let ab = block(2 + i);
            estimators(a, b, ab, sample, first_order)
        };
        let point: Vec<(f64, f64)> = (0..self.factors).map(|i| estimate(i, &all)).collect();
        let replicates = bootstrap.replicates(n, |sample| {
            (0..self.factors)
                .map(|i| estimate(i, sample))
                .collect::<Vec<_>>()
        });
        Ok(point
            .iter()
            .enumerate()
            .map(|(i, &(first, total))| SobolIndices {
                first: bootstrap.interval(first, replicates.iter().map(|r| r[i].0)),
                total: bootstrap.interval(total, replicates.iter().map(|r| r[i].1)),
            })
            .collect())
    }
}

/// The first- and total-order estimators over the base samples in
/// `sample` (indices, repeated for a bootstrap resample), summed in order.
fn estimators(
    a: &[f64],
    b: &[f64],
    ab: &[f64],
    sample: &[usize],
    first_order: FirstOrder,
) -> (f64, f64) {
    let m = sample.len() as f64;
    let mean = sample.iter().map(|&j| a[j] + b[j]).sum::<f64>() / (2.0 * m);
    let variance = sample
        .iter()
        .map(|&j| (a[j] - mean).powi(2) + (b[j] - mean).powi(2))
        .sum::<f64>()
        / (2.0 * m - 1.0);
    if variance.is_nan() || variance <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let total = sample.iter().map(|&j| (a[j] - ab[j]).powi(2)).sum::<f64>() / (2.0 * m);
    let first = if first_order == FirstOrder::Jansen {
        variance - sample.iter().map(|&j| (b[j] - ab[j]).powi(2)).sum::<f64>() / (2.0 * m)
    } else {
        sample
            .iter()
            .map(|&j| (b[j] - mean) * (ab[j] - a[j]))
            .sum::<f64>()
            / m
    };
    (first / variance, total / variance)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// The Ishigami function (a = 7, b = 0.1) on the unit cube mapped to
    /// `[-pi, pi]^3`.
    fn ishigami(u: &[f64]) -> f64 {
        let x: Vec<f64> = u.iter().map(|u| -PI + 2.0 * PI * u).collect();
        x[0].sin() + 7.0 * x[1].sin().powi(2) + 0.1 * x[2].powi(4) * x[0].sin()
    }

    /// Analytic indices of the Ishigami function with a = 7, b = 0.1.
    fn ishigami_analytic() -> ([f64; 3], [f64; 3]) {
        let (a, b) = (7.0f64, 0.1f64);
        let pi4 = PI.powi(4);
        let v1 = 0.5 * (1.0 + b * pi4 / 5.0).powi(2);
        let v2 = a * a / 8.0;
        let v13 = b * b * PI.powi(8) * 8.0 / 225.0;
        let v = v1 + v2 + v13;
        ([v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v])
    }

    #[test]
    fn ishigami_indices_match_the_analytic_values() {
        let (s1, st) = ishigami_analytic();
        assert!((s1[0] - 0.3139).abs() < 1e-4 && (st[2] - 0.2437).abs() < 1e-4);
        let design = SaltelliDesign::new(3, 10_000, 20250331).unwrap();
        assert_eq!(design.points(), Points::Sobol);
        assert_eq!(design.rows().len(), 50_000);
        let y: Vec<f64> = design.rows().iter().map(|u| ishigami(u)).collect();
        let indices = design
            .analyse(
                &y,
                &Bootstrap {
                    resamples: 200,
                    ..Bootstrap::default()
                },
            )
            .unwrap();
        for i in 0..3 {
            let (first, total) = (indices[i].first, indices[i].total);
            eprintln!(
                "x{}: S1 {:.4} [{:.4}, {:.4}] (analytic {:.4}); ST {:.4} [{:.4}, {:.4}] (analytic {:.4})",
                i + 1,
                first.value,
                first.low,
                first.high,
                s1[i],
                total.value,
                total.low,
                total.high,
                st[i]
            );
            assert!(
                (first.value - s1[i]).abs() < 0.02,
                "S1 of x{}: {first:?}",
                i + 1
            );
            assert!(
                (total.value - st[i]).abs() < 0.02,
                "ST of x{}: {total:?}",
                i + 1
            );
            assert!(
                first.low <= s1[i] && s1[i] <= first.high,
                "S1 of x{}: {first:?}",
                i + 1
            );
            assert!(
                total.low <= st[i] && st[i] <= total.high,
                "ST of x{}: {total:?}",
                i + 1
            );
            assert!(first.high - first.low < 0.1 && total.high - total.low < 0.1);
        }
    }

    /// The same function with plain Monte Carlo points is further off at
    /// the same N, which is why the quasi-random sequence is the default.
    #[test]
    fn random_points_also_estimate_but_less_closely() {
        let (s1, st) = ishigami_analytic();
        let error = |points| {
            let design = SaltelliDesign::with_points(3, 4096, 5, points).unwrap();
            let y: Vec<f64> = design.rows().iter().map(|u| ishigami(u)).collect();
            let indices = design
                .analyse(
                    &y,
                    &Bootstrap {
                        resamples: 0,
                        ..Bootstrap::default()
                    },
                )
                .unwrap();
            (0..3)
                .map(|i| {
                    (indices[i].first.value - s1[i]).abs() + (indices[i].total.value - st[i]).abs()
                })
                .sum::<f64>()
        };
        let (sobol, random) = (error(Points::Sobol), error(Points::Random));
        assert!(random < 0.3, "random points: total error {random}");
        assert!(sobol < 0.05, "Sobol points: total error {sobol}");
    }

    /// Jansen's first-order form is unbiased too, but noisier: on the
    /// Ishigami function at N = 1024 its error for the factor with S1 = 0
    /// is larger, and a factor with no effect at all gets the same noise.
    #[test]
    fn the_first_order_estimators_agree_and_differ_in_noise() {
        let (s1, _) = ishigami_analytic();
        let design = SaltelliDesign::new(4, 1024, 3).unwrap();
        let y: Vec<f64> = design.rows().iter().map(|u| ishigami(&u[..3])).collect();
        let none = Bootstrap {
            resamples: 0,
            ..Bootstrap::default()
        };
        let saltelli = design.analyse(&y, &none).unwrap();
        let jansen = design.analyse_with(&y, &none, FirstOrder::Jansen).unwrap();
        let error = |x: &[SobolIndices]| -> Vec<f64> {
            (0..3).map(|i| (x[i].first.value - s1[i]).abs()).collect()
        };
        let (es, ej) = (error(&saltelli), error(&jansen));
        eprintln!(
            "first-order errors at N = 1024: Saltelli {es:.4?}, Jansen {ej:.4?}; unused factor: {} against {}",
            saltelli[3].first.value, jansen[3].first.value
        );
        assert!(es.iter().all(|e| *e < 0.03), "{es:?}");
        assert!(ej.iter().all(|e| *e < 0.1), "{ej:?}");
        assert_eq!(saltelli[3].first.value, 0.0);
        assert!(jansen[3].first.value != 0.0);
        assert_eq!(saltelli[0].total, jansen[0].total);
    }

    #[test]
    fn an_output_that_does_not_vary_has_no_indices() {
        let design = SaltelliDesign::new(2, 64, 1).unwrap();
        let y = vec![3.0; design.rows().len()];
        let indices = design.analyse(&y, &Bootstrap::default()).unwrap();
        assert!(indices[0].first.value.is_nan() && indices[1].total.value.is_nan());
    }

    #[test]
    fn bad_designs_and_outputs_are_refused() {
        assert!(SaltelliDesign::new(0, 64, 1).is_err());
        assert!(SaltelliDesign::new(2, 1, 1).is_err());
        let design = SaltelliDesign::new(2, 8, 1).unwrap();
        let message = design
            .analyse(&[1.0; 5], &Bootstrap::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("32 rows"), "{message}");
        let mut y = vec![1.0; 32];
        y[9] = f64::NAN;
        let message = design
            .analyse(&y, &Bootstrap::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("row 9"), "{message}");
        // Beyond the sequence's dimensions, plain Monte Carlo.
        let wide = SaltelliDesign::new(MAX_DIMENSIONS, 4, 1).unwrap();
        assert_eq!(wide.points(), Points::Random);
        assert!(SaltelliDesign::with_points(MAX_DIMENSIONS, 4, 1, Points::Sobol).is_err());
    }

    #[test]
    fn designs_are_reproducible_and_seeds_differ() {
        let a = SaltelliDesign::new(3, 16, 9).unwrap();
        let b = SaltelliDesign::new(3, 16, 9).unwrap();
        let c = SaltelliDesign::new(3, 16, 10).unwrap();
        assert_eq!(a.rows(), b.rows());
        assert_ne!(a.rows(), c.rows());
        // AB_i is A with column i from B.
        let n = 16;
        for j in 0..n {
            let (ra, rb, rab) = (&a.rows()[j], &a.rows()[n + j], &a.rows()[2 * n + n + j]);
            assert_eq!((rab[0], rab[1], rab[2]), (ra[0], rb[1], ra[2]));
        }
    }
}
