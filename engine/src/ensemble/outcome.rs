//! What an ensemble run produces: each scenario's runs, and queries of
//! them (an indicator's values or quantile in a period, a scalar, a paired
//! difference).

use super::compare::{Comparison, compare};
use super::{RunOutput, Shard};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// One scenario's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    /// The scenario's name.
    pub scenario: String,
    /// Its question.
    pub question: String,
    /// Its sources.
    pub sources: Vec<String>,
    /// The stored indicators (projection columns).
    pub indicators: Vec<String>,
    /// The name of the period column (e.g. `year`).
    pub label: String,
    /// The period labels, the starting row first.
    pub periods: Vec<f64>,
    /// The uncertain parameters, in the order of each run's draws.
    pub parameters: Vec<String>,
    /// The per-run scalars, in the order of each run's scalars.
    pub scalars: Vec<String>,
    /// The integration method and step every run used, e.g. `euler, dt =
    /// 0.019230769230769232 (1/52)`.
    pub integration: String,
    /// The runs, in run order.
    pub runs: Vec<RunOutput>,
}

/// A one-scenario ensemble or a comparison of a base with alternatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Kind {
    /// One scenario.
    Run,
    /// A base and one or more alternatives on the same draws.
    Compare,
}

/// Everything an ensemble run produces: one scenario (`run`) or a base and
/// alternatives (`compare`), on the same draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The version of the engine that ran it (empty when a file did not
    /// record it; [`crate::ensemble::merge`] refuses any other version).
    #[serde(default)]
    pub version: String,
    /// One scenario or a comparison.
    pub kind: Kind,
    /// The seed.
    pub seed: u64,
    /// Runs in the whole ensemble.
    pub total_runs: usize,
    /// `random` or `latin_hypercube`.
    pub sampling: String,
    /// The quantiles reported.
    pub quantiles: Vec<f64>,
    /// For a shard, which; `None` for a whole ensemble.
    pub shard: Option<Shard>,
    /// The cost indicator compared (see `[compare]`), if any.
    pub cost: Option<String>,
    /// The discount rate per period for the cost.
    pub discount_rate: f64,
    /// Indicators whose cumulative paired differences are compared.
    pub cumulative: Vec<String>,
    /// The scenarios; in a comparison, the base first.
    pub ensembles: Vec<Ensemble>,
}

impl Ensemble {
    /// The position of an indicator.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an indicator the ensemble did not store (with
    /// the closest).
    pub fn indicator_index(&self, indicator: &str) -> Result<usize> {
        self.indicators
            .iter()
            .position(|i| i == indicator)
            .ok_or_else(|| Error::Invalid {
                what: format!("indicator `{indicator}`"),
                message: format!(
                    "is not one of scenario `{}`'s indicators{}",
                    self.scenario,
                    crate::name::did_you_mean(crate::name::closest(
                        indicator,
                        self.indicators.iter().map(String::as_str)
                    ))
                ),
            })
    }

    /// The row of a period label.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a label the ensemble does not have.
    pub fn period_index(&self, period: impl Into<f64>) -> Result<usize> {
        let period = period.into();
        self.periods
            .iter()
            .position(|&p| (p - period).abs() <= 1e-9 * p.abs().max(1.0))
            .ok_or_else(|| Error::Invalid {
                what: format!("{} {period}", self.label),
                message: format!(
                    "is not one of scenario `{}`'s periods ({} to {})",
                    self.scenario,
                    self.periods.first().copied().unwrap_or(f64::NAN),
                    self.periods.last().copied().unwrap_or(f64::NAN)
                ),
            })
    }

    /// Each run's value of an indicator in a period, in run order.
    ///
    /// # Errors
    ///
    /// As [`Ensemble::indicator_index`] and [`Ensemble::period_index`].
    pub fn values(&self, indicator: &str, period: impl Into<f64>) -> Result<Vec<f64>> {
        let (i, y) = (self.indicator_index(indicator)?, self.period_index(period)?);
        Ok(self.runs.iter().map(|r| r.values[i][y]).collect())
    }

    /// The `q` quantile over runs of an indicator in a period (NaN when no
    /// run has a value, e.g. a sum in the starting row).
    ///
    /// # Errors
    ///
    /// As [`Ensemble::values`]; [`Error::Invalid`] for `q` outside `[0, 1]`.
    pub fn quantile(&self, indicator: &str, period: impl Into<f64>, q: f64) -> Result<f64> {
        if !(0.0..=1.0).contains(&q) {
            return Err(Error::Invalid {
                what: format!("quantile {q}"),
                message: "must be between 0 and 1".into(),
            });
        }
        let values = self.values(indicator, period)?;
        Ok(super::Sample::new(values).quantile(q).unwrap_or(f64::NAN))
    }

    /// Each run's value of a scalar, in run order.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a scalar the ensemble does not have.
    pub fn scalar(&self, name: &str) -> Result<Vec<f64>> {
        let k = self
            .scalars
            .iter()
            .position(|s| s == name)
            .ok_or_else(|| Error::Invalid {
                what: format!("scalar `{name}`"),
                message: format!(
                    "is not one of scenario `{}`'s scalars{}",
                    self.scenario,
                    crate::name::did_you_mean(crate::name::closest(
                        name,
                        self.scalars.iter().map(String::as_str)
                    ))
                ),
            })?;
        Ok(self.runs.iter().map(|r| r.scalars[k]).collect())
    }
}

impl Outcome {
    /// A scenario's ensemble by name.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a scenario the outcome does not have.
    pub fn ensemble(&self, scenario: &str) -> Result<&Ensemble> {
        self.ensembles
            .iter()
            .find(|e| e.scenario == scenario)
            .ok_or_else(|| Error::Invalid {
                what: format!("scenario `{scenario}`"),
                message: format!(
                    "is not in this outcome{}",
                    crate::name::did_you_mean(crate::name::closest(
                        scenario,
                        self.ensembles.iter().map(|e| e.scenario.as_str())
                    ))
                ),
            })
    }

    /// The `q` quantile over runs of an indicator in a period of a scenario.
    ///
    /// # Errors
    ///
    /// As [`Outcome::ensemble`] and [`Ensemble::quantile`].
    pub fn quantile(
        &self,
        scenario: &str,
        indicator: &str,
        period: impl Into<f64>,
        q: f64,
    ) -> Result<f64> {
        self.ensemble(scenario)?.quantile(indicator, period, q)
    }

    /// ALT minus BASE for an indicator in a period, run by run (paired on
    /// common random numbers).
    ///
    /// # Errors
    ///
    /// As [`Ensemble::values`] for either scenario.
    pub fn paired_difference(
        &self,
        base: &str,
        alt: &str,
        indicator: &str,
        period: impl Into<f64> + Copy,
    ) -> Result<Vec<f64>> {
        let b = self.ensemble(base)?.values(indicator, period)?;
        let a = self.ensemble(alt)?.values(indicator, period)?;
        Ok(a.iter().zip(&b).map(|(a, b)| a - b).collect())
    }

    /// The comparisons of each alternative with the base (none for one
    /// scenario).
    pub fn comparisons(&self) -> Vec<Comparison> {
        self.ensembles
            .iter()
            .skip(1)
            .map(|alt| {
                compare(
                    &self.ensembles[0],
                    alt,
                    &self.quantiles,
                    self.cost.as_deref(),
                    self.discount_rate,
                    &self.cumulative,
                )
            })
            .collect()
    }

    /// The position of a quantile among those reported.
    pub fn quantile_index(&self, q: f64) -> Option<usize> {
        self.quantiles.iter().position(|x| (x - q).abs() < 1e-12)
    }
}
