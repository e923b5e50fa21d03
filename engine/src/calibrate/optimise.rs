//! Minimisation: bounded Nelder-Mead from several starts.
//!
//! [`multi_start`] searches the unit cube between each parameter's
//! [`Bounds`] (0 = the lower bound, 1 = the upper), clamping points outside
//! it. Start 0 is given; the others are a Latin hypercube drawn from a
//! ChaCha8 generator seeded by [`Search::seed`]. Starts run in parallel
//! (rayon) and their results are gathered in start order, so a search gives
//! bit-identical results on any number of threads.

use crate::error::{Error, Result};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Deserialize;

/// A parameter's search range.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// The lowest value searched.
    pub min: f64,
    /// The highest value searched.
    pub max: f64,
}

impl Bounds {
    /// The range from `min` to `max`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] unless both are finite and `min < max`.
    pub fn new(min: f64, max: f64) -> Result<Bounds> {
        let bounds = Bounds { min, max };
        if bounds.is_valid() {
            Ok(bounds)
        } else {
            Err(Error::Invalid {
                what: "bounds".into(),
                message: format!("need finite bounds with min < max, not {min} to {max}"),
            })
        }
    }

    /// Whether both bounds are finite and `min < max`.
    pub fn is_valid(&self) -> bool {
        self.min.is_finite() && self.max.is_finite() && self.min < self.max
    }

    /// The value at `u` in the unit interval (0 = `min`, 1 = `max`),
    /// clamping `u` into it.
    pub fn value(&self, u: f64) -> f64 {
        self.min + u.clamp(0.0, 1.0) * (self.max - self.min)
    }

    /// Where `value` lies in the unit interval, clamped into it.
    pub fn unit(&self, value: f64) -> f64 {
        ((value - self.min) / (self.max - self.min)).clamp(0.0, 1.0)
    }
}

/// The most starts a search may have.
pub const MAX_STARTS: usize = 100_000;

/// How hard to search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Search {
    /// Number of Nelder-Mead starts: the given values and `starts - 1`
    /// points of a Latin hypercube.
    pub starts: usize,
    /// Seed of the random starts.
    pub seed: u64,
    /// Objective evaluations allowed per start.
    pub max_evaluations: usize,
    /// Stop a start when the objective varies less than this across the
    /// simplex (relative).
    pub tolerance: f64,
}

impl Default for Search {
    /// 8 starts, seed 1, 2000 evaluations each, tolerance 1e-9.
    fn default() -> Search {
        Search {
            starts: 8,
            seed: 1,
            max_evaluations: 2000,
            tolerance: 1e-9,
        }
    }
}

/// The outcome of one start.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// Where it began (parameter values).
    pub initial: Vec<f64>,
    /// Where it ended.
    pub values: Vec<f64>,
    /// The objective there.
    pub objective: f64,
    /// Objective evaluations used.
    pub evaluations: usize,
}

/// Minimises `objective` over the box `bounds` by Nelder-Mead from
/// `search.starts` starts: the first at `initial` (clamped into the
/// bounds), the others a Latin hypercube drawn from ChaCha8 seeded by
/// `search.seed`. Each start works in the unit cube between the bounds with
/// an initial simplex of 0.1 along each axis. A failed evaluation should
/// return `f64::INFINITY`.
///
/// Returns every start, best first (ties in start order). Starts run in
/// parallel and the result is the same on any number of threads.
///
/// ```
/// use carecascade_engine::calibrate::{Bounds, Search, multi_start};
///
/// let bounds = [Bounds::new(-5.0, 5.0)?, Bounds::new(0.0, 10.0)?];
/// let f = |x: &[f64]| (x[0] - 1.0).powi(2) + (x[1] - 2.0).powi(2);
/// let starts = multi_start(f, &bounds, &[0.0, 0.0], &Search { starts: 3, ..Search::default() })?;
/// assert_eq!(starts.len(), 3);
/// assert!((starts[0].values[0] - 1.0).abs() < 1e-4 && (starts[0].values[1] - 2.0).abs() < 1e-4);
/// # Ok::<(), carecascade_engine::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Invalid`] if a bound is not finite with `min < max`, `initial`
/// has not one value per bound, or `search.starts` is 0 or more than
/// [`MAX_STARTS`].
pub fn multi_start<F>(
    objective: F,
    bounds: &[Bounds],
    initial: &[f64],
    search: &Search,
) -> Result<Vec<Start>>
where
    F: Fn(&[f64]) -> f64 + Sync,
{
    let invalid = |message: String| Error::Invalid {
        what: "search".into(),
        message,
    };
    if let Some(b) = bounds.iter().find(|b| !b.is_valid()) {
        return Err(invalid(format!(
            "need finite bounds with min < max, not {} to {}",
            b.min, b.max
        )));
    }
    if initial.len() != bounds.len() {
        return Err(invalid(format!(
            "{} initial values for {} bounds",
            initial.len(),
            bounds.len()
        )));
    }
    if search.starts == 0 {
        return Err(invalid("at least one start is needed".into()));
    }
    if search.starts > MAX_STARTS {
        return Err(invalid(format!(
            "{} starts: at most {MAX_STARTS} (each start is a whole Nelder-Mead search)",
            search.starts
        )));
    }
    let to_values = |u: &[f64]| -> Vec<f64> {
        u.iter()
            .zip(bounds)
            .map(|(u, b)| b.value(*u))
            .collect::<Vec<f64>>()
    };
    let n = bounds.len();
    let mut initial_points: Vec<Vec<f64>> = vec![
        initial
            .iter()
            .zip(bounds)
            .map(|(v, b)| b.unit(*v))
            .collect(),
    ];
    initial_points.extend(latin_hypercube(n, search.starts - 1, search.seed));
    let mut starts: Vec<Start> = initial_points
        .into_par_iter()
        .map(|u0| {
            let (u, f, evaluations) = nelder_mead(
                |u| objective(&to_values(u)),
                &u0,
                0.1,
                search.max_evaluations,
                search.tolerance,
            );
            Start {
                initial: to_values(&u0),
                values: to_values(&u),
                objective: f,
                evaluations,
            }
        })
        .collect();
    // A stable sort: equal objectives stay in start order.
    starts.sort_by(|a, b| a.objective.total_cmp(&b.objective));
    Ok(starts)
}

/// `points` points of a Latin hypercube in `n` dimensions: each
/// dimension's unit interval cut into `points` strata, one point per
/// stratum, strata shuffled independently per dimension.
fn latin_hypercube(n: usize, points: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut columns: Vec<Vec<f64>> = Vec::with_capacity(n);
    for _ in 0..n {
        let mut strata: Vec<f64> = (0..points)
            .map(|k| (k as f64 + rng.random::<f64>()) / points as f64)
            .collect();
        for i in (1..strata.len()).rev() {
            let j = rng.random_range(0..=i);
            strata.swap(i, j);
        }
        columns.push(strata);
    }
    (0..points)
        .map(|k| columns.iter().map(|c| c[k]).collect())
        .collect()
}

/// Minimises `f` from `x0` by Nelder-Mead with the standard coefficients
/// (reflection 1, expansion 2, contraction 1/2, shrink 1/2), an initial
/// simplex of `step` along each axis, and one restart from the best point
/// when the simplex collapses (which guards against false convergence).
/// Returns the best point, its value and the evaluations used.
///
/// It is meant for the unit cube: a vertex of the initial simplex that
/// would step beyond 1 steps inwards instead, and `f` should clamp (as
/// [`multi_start`] does through [`Bounds::value`]); it works anywhere else
/// too.
///
/// ```
/// use carecascade_engine::calibrate::nelder_mead;
///
/// let (x, f, _) = nelder_mead(|x| (x[0] - 0.3).powi(2), &[0.9], 0.1, 500, 1e-12);
/// assert!((x[0] - 0.3).abs() < 1e-5 && f < 1e-10);
/// ```
pub fn nelder_mead(
    mut f: impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    step: f64,
    max_evaluations: usize,
    tolerance: f64,
) -> (Vec<f64>, f64, usize) {
    let n = x0.len();
    let mut evaluations = 0;
    let mut best = (x0.to_vec(), f64::INFINITY);
    let mut restarts = 0;
    let mut origin = x0.to_vec();
    while evaluations < max_evaluations && restarts < 2 {
        let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n + 1);
        let fx = f(&origin);
        evaluations += 1;
        simplex.push((origin.clone(), fx));
        for i in 0..n {
            let mut x = origin.clone();
            // Step inwards at the upper edge of the unit cube.
            x[i] += if x[i] + step > 1.0 { -step } else { step };
            let fx = f(&x);
            evaluations += 1;
            simplex.push((x, fx));
        }
        while evaluations < max_evaluations {
            simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
            let (lo, hi) = (simplex[0].1, simplex[n].1);
            let size = simplex
                .iter()
                .skip(1)
                .map(|(x, _)| {
                    x.iter()
                        .zip(&simplex[0].0)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max)
                })
                .fold(0.0, f64::max);
            if (hi - lo).abs() <= tolerance * (lo.abs() + 1e-12) && size < 1e-6 || size < 1e-9 {
                break;
            }
            let centroid: Vec<f64> = (0..n)
                .map(|j| simplex[..n].iter().map(|(x, _)| x[j]).sum::<f64>() / n as f64)
                .collect();
            let along = |t: f64| -> Vec<f64> {
                centroid
                    .iter()
                    .zip(&simplex[n].0)
                    .map(|(c, w)| c + t * (c - w))
                    .collect()
            };
            let xr = along(1.0);
            let fr = f(&xr);
            evaluations += 1;
            if fr < simplex[0].1 {
                let xe = along(2.0);
                let fe = f(&xe);
                evaluations += 1;
                simplex[n] = if fe < fr { (xe, fe) } else { (xr, fr) };
            } else if fr < simplex[n - 1].1 {
                simplex[n] = (xr, fr);
            } else {
                let (xc, fc) = if fr < simplex[n].1 {
                    let xc = along(0.5);
                    let fc = f(&xc);
                    (xc, fc)
                } else {
                    let xc = along(-0.5);
                    let fc = f(&xc);
                    (xc, fc)
                };
                evaluations += 1;
                if fc < simplex[n].1.min(fr) {
                    simplex[n] = (xc, fc);
                } else {
                    let x0 = simplex[0].0.clone();
                    for point in simplex.iter_mut().skip(1) {
                        let x: Vec<f64> = point
                            .0
                            .iter()
                            .zip(&x0)
                            .map(|(xi, bi)| bi + 0.5 * (xi - bi))
                            .collect();
                        let fx = f(&x);
                        *point = (x, fx);
                    }
                    evaluations += n;
                }
            }
        }
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        if simplex[0].1 < best.1 {
            best = simplex[0].clone();
        }
        origin = best.0.clone();
        restarts += 1;
    }
    (best.0, best.1, evaluations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nelder_mead_finds_the_minimum_of_a_rosenbrock_valley() {
        let rosen = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let (x, f, evals) = nelder_mead(rosen, &[-1.2, 1.0], 0.1, 5000, 1e-14);
        assert!(f < 1e-10, "{f} at {x:?}");
        assert!(
            (x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4,
            "{x:?}"
        );
        assert!(evals <= 5000);
    }

    #[test]
    fn latin_hypercube_points_fill_every_stratum_once() {
        let points = latin_hypercube(3, 5, 7);
        assert_eq!(points.len(), 5);
        for d in 0..3 {
            let mut strata: Vec<usize> = points.iter().map(|p| (p[d] * 5.0) as usize).collect();
            strata.sort_unstable();
            assert_eq!(strata, [0, 1, 2, 3, 4]);
        }
        assert_eq!(points, latin_hypercube(3, 5, 7));
        assert_ne!(points, latin_hypercube(3, 5, 8));
    }

    #[test]
    fn starts_are_the_same_on_any_number_of_threads() {
        let bounds = [
            Bounds::new(-2.0, 2.0).unwrap(),
            Bounds::new(-1.0, 3.0).unwrap(),
        ];
        let f = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let search = Search {
            starts: 5,
            seed: 3,
            max_evaluations: 400,
            tolerance: 1e-12,
        };
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| multi_start(f, &bounds, &[0.0, 0.0], &search).unwrap());
        let many = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap()
            .install(|| multi_start(f, &bounds, &[0.0, 0.0], &search).unwrap());
        assert_eq!(one, many);
        assert_eq!(one.len(), 5);
        assert!(one.windows(2).all(|w| w[0].objective <= w[1].objective));
        // A step may overrun the budget by a shrink or a restart's simplex.
        assert!(one.iter().all(|s| s.evaluations <= 400 + 4));
        assert!(one.iter().any(|s| s.initial == [0.0, 0.0]));
    }

    #[test]
    fn bad_searches_are_refused() {
        let f = |_: &[f64]| 0.0;
        let b = [Bounds { min: 1.0, max: 1.0 }];
        assert!(multi_start(f, &b, &[1.0], &Search::default()).is_err());
        let b = [Bounds::new(0.0, 1.0).unwrap()];
        assert!(multi_start(f, &b, &[], &Search::default()).is_err());
        let none = Search {
            starts: 0,
            ..Search::default()
        };
        assert!(multi_start(f, &b, &[0.5], &none).is_err());
        assert!(Bounds::new(0.0, f64::NAN).is_err());
        assert_eq!(b[0].value(2.0), 1.0);
        assert_eq!(b[0].unit(-1.0), 0.0);
    }
}
