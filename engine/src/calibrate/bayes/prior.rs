//! Priors: what is believed about a parameter before the data, with where
//! the belief comes from.

use crate::calibrate::Bounds;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Where a prior comes from: a cited source, or an assumption of the
/// modeller's (a wide range, labelled as such in every output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// The range is what a cited source supports.
    Source,
    /// The range is an assumption: no source pins it down.
    #[default]
    Assumption,
}

impl Basis {
    /// `source` or `assumption`.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Source => "source",
            Basis::Assumption => "assumption",
        }
    }
}

/// The shape of a prior inside its bounds (the density is truncated to
/// them and is 0 outside).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// Flat between the bounds.
    Uniform,
    /// Normal with this mean and standard deviation.
    Normal {
        /// The mean.
        mean: f64,
        /// The standard deviation (> 0).
        sd: f64,
    },
    /// Log-normal: the logarithm is normal around `ln(median)` with
    /// standard deviation `sd_log`.
    LogNormal {
        /// The median (> 0).
        median: f64,
        /// The standard deviation of the logarithm (> 0).
        sd_log: f64,
    },
}

/// A parameter's prior: bounds (the support), a shape inside them, and its
/// basis.
///
/// ```
/// use carecascade_engine::calibrate::{Bounds, Prior, Shape};
///
/// let flat = Prior::uniform(Bounds::new(0.0, 2.0)?);
/// assert_eq!(flat.log_density(1.0), flat.log_density(0.5));
/// assert_eq!(flat.log_density(3.0), f64::NEG_INFINITY);
/// let normal = Prior::new(Bounds::new(0.0, 2.0)?, Shape::Normal { mean: 1.0, sd: 0.1 })?;
/// assert!(normal.log_density(1.0) > normal.log_density(1.2));
/// # Ok::<(), carecascade_engine::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Prior {
    /// The support: the density is 0 outside it.
    pub bounds: Bounds,
    /// The shape inside the bounds.
    pub shape: Shape,
    /// Whether a source supports it or it is an assumption.
    pub basis: Basis,
    /// The source or the reason for the assumption, as given.
    pub note: Option<String>,
}

impl Prior {
    /// A flat prior between `bounds`, labelled as an assumption.
    pub fn uniform(bounds: Bounds) -> Prior {
        Prior {
            bounds,
            shape: Shape::Uniform,
            basis: Basis::Assumption,
            note: None,
        }
    }

    /// A prior of `shape` truncated to `bounds`, labelled as an assumption.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for invalid bounds or shape parameters.
    pub fn new(bounds: Bounds, shape: Shape) -> Result<Prior> {
        let prior = Prior {
            bounds,
            shape,
            basis: Basis::Assumption,
            note: None,
        };
        match prior.problem() {
            Some(message) => Err(Error::Invalid {
                what: "prior".into(),
                message,
            }),
            None => Ok(prior),
        }
    }

    /// What is wrong with the prior, if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        if !self.bounds.is_valid() {
            return Some(format!(
                "needs finite bounds with min < max, not {} to {}",
                self.bounds.min, self.bounds.max
            ));
        }
        match self.shape {
            Shape::Uniform => None,
            Shape::Normal { mean, sd } => (!(mean.is_finite() && sd.is_finite() && sd > 0.0))
                .then(|| format!("a normal prior needs a finite `mean` and `sd` > 0, not {mean} and {sd}")),
            Shape::LogNormal { median, sd_log } => (!(median.is_finite()
                && median > 0.0
                && sd_log.is_finite()
                && sd_log > 0.0))
                .then(|| {
                    format!(
                        "a log-normal prior needs `median` > 0 and `sd_log` > 0, not {median} and {sd_log}"
                    )
                })
                .or_else(|| {
                    (self.bounds.min < 0.0).then(|| {
                        format!(
                            "a log-normal prior needs `min` >= 0, not {}",
                            self.bounds.min
                        )
                    })
                }),
        }
    }

    /// The log density at `x`, up to a constant; minus infinity outside
    /// the bounds.
    pub fn log_density(&self, x: f64) -> f64 {
        if !(x >= self.bounds.min && x <= self.bounds.max) {
            return f64::NEG_INFINITY;
        }
        match self.shape {
            Shape::Uniform => 0.0,
            Shape::Normal { mean, sd } => -0.5 * ((x - mean) / sd).powi(2),
            Shape::LogNormal { median, sd_log } => {
                if x <= 0.0 {
                    return f64::NEG_INFINITY;
                }
                let z = (x.ln() - median.ln()) / sd_log;
                -0.5 * z * z - x.ln()
            }
        }
    }

    /// The shape in words, for reports: "uniform 0.1 to 0.4", "normal
    /// (mean 1, sd 0.1) in 0 to 2".
    pub fn describe(&self) -> String {
        let b = self.bounds;
        match self.shape {
            Shape::Uniform => format!("uniform {} to {}", b.min, b.max),
            Shape::Normal { mean, sd } => {
                format!("normal (mean {mean}, sd {sd}) in {} to {}", b.min, b.max)
            }
            Shape::LogNormal { median, sd_log } => format!(
                "log-normal (median {median}, sd of log {sd_log}) in {} to {}",
                b.min, b.max
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_shapes_are_refused() {
        let b = Bounds::new(-1.0, 1.0).unwrap();
        assert!(Prior::new(b, Shape::Normal { mean: 0.0, sd: 0.0 }).is_err());
        let e = Prior::new(
            b,
            Shape::LogNormal {
                median: 1.0,
                sd_log: 1.0,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`min` >= 0"), "{e}");
    }
}
