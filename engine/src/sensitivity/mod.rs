//! Global sensitivity analysis: which uncertain inputs an answer depends on.
//!
//! Two methods, for any model and any scalar output:
//!
//! - **Sobol indices** ([`SaltelliDesign`]): the share of the output's
//!   variance each factor explains alone (first order, `S1`) and with its
//!   interactions (total order, `ST`), by Saltelli's design on a randomised
//!   Sobol sequence ([`SobolSequence`]), Jansen's total-order estimator and
//!   Saltelli et al.'s (2010) first-order one (Jansen's first-order form
//!   is available as [`FirstOrder::Jansen`]), with percentile bootstrap
//!   intervals. `N (k + 2)` runs for `k` factors and
//!   `N` base samples.
//! - **Morris elementary effects** ([`MorrisDesign`]): a cheaper screening,
//!   `r (k + 1)` runs, ranking factors by `mu*`, the mean absolute effect of
//!   moving one factor at a time.
//!
//! Both work in the unit hypercube: a design is a list of rows of
//! coordinates in `(0, 1)`, you run the model once per row and hand the
//! outputs back in row order. [`run`] does this for a scenario: each
//! coordinate is the quantile of one of the scenario's uncertain parameters
//! (mapped through its inverse distribution function,
//! [`Distribution::at_quantile`](crate::scenario::Distribution::at_quantile)),
//! the rows run in parallel in batches exactly as ensemble runs do, and the
//! outputs are the scenario's scalars or indicators in a period; against a
//! base scenario, the paired difference on the same row (common random
//! numbers).
//!
//! A function of three factors, `y = 4 x0 + x1` (`x2` unused):
//!
//! ```
//! use carecascade_engine::sensitivity::{Bootstrap, SaltelliDesign};
//!
//! let design = SaltelliDesign::new(3, 512, 1)?;
//! let y: Vec<f64> = design.rows().iter().map(|x| 4.0 * x[0] + x[1]).collect();
//! let indices = design.analyse(&y, &Bootstrap::default())?;
//! let first = indices[0].first;
//! assert!(first.low < 16.0 / 17.0 && 16.0 / 17.0 < first.high);
//! # Ok::<(), carecascade_engine::Error>(())
//! ```
//!
//! **Reproducibility.** Designs and bootstrap resamples come from ChaCha8
//! generators keyed by the seed (a bootstrap resample `b` on stream `b`),
//! and every sum runs in row order, so results are identical for any
//! number of threads.

mod morris;
mod scenario;
mod sequence;
mod sobol;

pub use morris::{MAX_LEVELS, MAX_TRAJECTORIES, MorrisDesign, MorrisEffects};
pub use scenario::{
    Analysis, Factor, Method, OutputResult, Settings, Target, default_outputs, run, runs_needed,
};
pub use sequence::{MAX_DIMENSIONS, SobolSequence};
pub use sobol::{FirstOrder, MAX_SAMPLES, SaltelliDesign, SobolIndices};

use crate::error::{Error, Result};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

/// How the base points of a Sobol design are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Points {
    /// A digitally shifted Sobol sequence (quasi-Monte Carlo): estimates
    /// converge faster than with random points.
    Sobol,
    /// Independent uniform draws (plain Monte Carlo), for designs with more
    /// dimensions than the sequence has.
    Random,
}

impl std::fmt::Display for Points {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Points::Sobol => "Sobol sequence (Joe-Kuo directions, random digital shift)",
            Points::Random => "plain Monte Carlo (independent uniform draws)",
        })
    }
}

/// An estimate with its bootstrap interval. An output that does not vary
/// has no Sobol indices: all three are NaN (null in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The estimate from every sample.
    pub value: f64,
    /// The lower end of the interval.
    pub low: f64,
    /// The upper end.
    pub high: f64,
}

/// Percentile bootstrap intervals: resample the base samples (Sobol) or
/// trajectories (Morris) with replacement `resamples` times, re-estimate,
/// and take the central `confidence` share of the estimates. With no
/// resamples, the interval is the estimate itself.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bootstrap {
    /// How many resamples.
    pub resamples: usize,
    /// The interval's coverage, e.g. 0.95.
    pub confidence: f64,
    /// The seed of the resamples.
    pub seed: u64,
}

impl Default for Bootstrap {
    /// 1,000 resamples, 95% intervals, seed 1.
    fn default() -> Bootstrap {
        Bootstrap {
            resamples: 1000,
            confidence: 0.95,
            seed: 1,
        }
    }
}

/// The most bootstrap resamples.
pub const MAX_RESAMPLES: usize = 100_000;

impl Bootstrap {
    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for more than [`MAX_RESAMPLES`] resamples or a
    /// confidence outside `(0, 1)`.
    pub fn check(&self) -> Result<()> {
        if self.resamples > MAX_RESAMPLES {
            return Err(Error::Invalid {
                what: "bootstrap".into(),
                message: format!(
                    "resamples must be 0 to {MAX_RESAMPLES}, not {}",
                    self.resamples
                ),
            });
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(Error::Invalid {
                what: "bootstrap".into(),
                message: format!(
                    "confidence must be between 0 and 1, not {}",
                    self.confidence
                ),
            });
        }
        Ok(())
    }

    /// `estimate` applied to each resample of `0..n` (in parallel; each
    /// resample draws from its own stream), in resample order.
    fn replicates<T: Send>(&self, n: usize, estimate: impl Fn(&[usize]) -> T + Sync) -> Vec<T> {
        (0..self.resamples)
            .into_par_iter()
            .map_init(
                || vec![0; n],
                |sample, b| {
                    let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                    rng.set_stream(b as u64);
                    for j in sample.iter_mut() {
                        *j = rng.random_range(0..n);
                    }
                    estimate(sample)
                },
            )
            .collect()
    }

    /// The estimate with the percentile interval of its replicates (NaN
    /// replicates, from resamples that did not vary, left out).
    fn interval(&self, value: f64, replicates: impl Iterator<Item = f64>) -> Estimate {
        if value.is_nan() {
            return Estimate {
                value,
                low: f64::NAN,
                high: f64::NAN,
            };
        }
        let sample = crate::ensemble::Sample::new(replicates);
        let tail = (1.0 - self.confidence) / 2.0;
        match (sample.quantile(tail), sample.quantile(1.0 - tail)) {
            (Some(low), Some(high)) => Estimate { value, low, high },
            _ => Estimate {
                value,
                low: value,
                high: value,
            },
        }
    }
}

/// Refuses outputs that do not match a design's rows or are not finite.
fn check_outputs(outputs: &[f64], rows: usize) -> Result<()> {
    if outputs.len() != rows {
        return Err(Error::Invalid {
            what: "sensitivity outputs".into(),
            message: format!(
                "the design has {rows} rows but {} outputs were given",
                outputs.len()
            ),
        });
    }
    if let Some(row) = outputs.iter().position(|y| !y.is_finite()) {
        return Err(Error::Invalid {
            what: "sensitivity outputs".into(),
            message: format!(
                "the output of row {row} is {}: every row needs a finite output",
                outputs[row]
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded designs and bootstrap intervals are part of what a published
    /// analysis reproduces: these values change only on purpose (and then
    /// in docs/changelog.md).
    #[test]
    fn seeded_designs_and_intervals_are_pinned() {
        let sobol = SaltelliDesign::new(2, 4, 7).unwrap();
        let morris = MorrisDesign::new(2, 2, 4, 7).unwrap();
        let y: Vec<f64> = sobol.rows().iter().map(|x| x[0] + x[1] * x[1]).collect();
        let indices = sobol.analyse(&y, &Bootstrap::default()).unwrap();
        // The same on one thread as on several.
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| sobol.analyse(&y, &Bootstrap::default()).unwrap());
        assert_eq!(one, indices);
        assert_eq!(
            &sobol.rows()[..2],
            [
                [0.14000342681538314, 0.15779609710443765],
                [0.6400034268153831, 0.6577960971044376]
            ]
        );
        assert_eq!(
            morris.rows(),
            [
                [0.125, 0.125],
                [0.125, 0.625],
                [0.625, 0.625],
                [0.125, 0.375],
                [0.625, 0.375],
                [0.625, 0.875]
            ]
        );
        assert_eq!(
            indices[0],
            SobolIndices {
                first: Estimate {
                    value: 0.4969582571353369,
                    low: -0.1933830626766201,
                    high: 1.7400761200732533
                },
                total: Estimate {
                    value: 0.21411568055377517,
                    low: 0.004928798278559841,
                    high: 1.3361770248693348
                }
            }
        );
    }
}
