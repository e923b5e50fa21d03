//! What an ensemble run produces: each scenario's runs, and queries of
//! them (an indicator's values or quantile in a period, a scalar, a paired
//! difference).

use super::compare::{Comparison, compare};
use super::spill::Spill;
use super::{RunOutput, Shard};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What [`Ensemble::each_run`] calls with each run's index, draws and
/// scalars.
pub type EachRun<'a> = dyn FnMut(usize, &[f64], &[f64]) -> Result<()> + 'a;

/// Runs kept on disk ([`Spill`]), shared by an ensemble's clones; equal
/// only to itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct OnDisk(pub(crate) Option<Arc<Spill>>);

impl PartialEq for OnDisk {
    fn eq(&self, other: &OnDisk) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// The message of a panic when runs kept on disk cannot be read back.
fn unreadable(e: Error) -> ! {
    panic!("the ensemble's runs kept in a temporary file could not be read back: {e}")
}

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
    /// The runs, in run order; empty when they are kept on disk
    /// ([`Ensemble::on_disk`], from [`crate::ensemble::run_scenarios_on_disk`]):
    /// [`Ensemble::run_count`], [`Ensemble::column`] and
    /// [`Ensemble::scalar_column`] read either.
    pub runs: Vec<RunOutput>,
    /// The runs when they are kept on disk instead of in `runs`.
    #[serde(skip)]
    pub(crate) on_disk: OnDisk,
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
    /// Whether the runs are kept on disk (in a temporary file deleted with
    /// the last clone of the ensemble) rather than in [`Ensemble::runs`],
    /// which is then empty. Statistics are the same either way.
    pub fn on_disk(&self) -> bool {
        self.on_disk.0.is_some()
    }

    /// The number of runs, in memory or on disk.
    pub fn run_count(&self) -> usize {
        match &self.on_disk.0 {
            Some(spill) => spill.runs(),
            None => self.runs.len(),
        }
    }

    /// Every run's value of indicator `i` (a position in
    /// [`Ensemble::indicators`]) in period `y` (a position in
    /// [`Ensemble::periods`]), in run order, in memory or on disk.
    ///
    /// # Panics
    ///
    /// If `i` or `y` is out of range, or runs kept on disk cannot be read
    /// back from their temporary file.
    pub fn column(&self, i: usize, y: usize) -> Vec<f64> {
        assert!(
            i < self.indicators.len() && y < self.periods.len(),
            "indicator {i} in period {y} of an ensemble of {} indicators and {} periods",
            self.indicators.len(),
            self.periods.len()
        );
        match &self.on_disk.0 {
            Some(spill) => spill
                .values(i, y, self.periods.len())
                .unwrap_or_else(|e| unreadable(e)),
            None => self.runs.iter().map(|r| r.values[i][y]).collect(),
        }
    }

    /// Every run's scalar `k` (a position in [`Ensemble::scalars`]), in
    /// run order, in memory or on disk.
    ///
    /// # Panics
    ///
    /// As [`Ensemble::column`].
    pub fn scalar_column(&self, k: usize) -> Vec<f64> {
        assert!(
            k < self.scalars.len(),
            "scalar {k} of an ensemble of {}",
            self.scalars.len()
        );
        match &self.on_disk.0 {
            Some(spill) => spill.scalars(k).unwrap_or_else(|e| unreadable(e)),
            None => self.runs.iter().map(|r| r.scalars[k]).collect(),
        }
    }

    /// Calls `f` with each run's index, draws and scalars, in run order,
    /// in memory or on disk (read a block of runs at a time).
    ///
    /// # Errors
    ///
    /// `f`'s error; [`Error::Io`] if runs kept on disk cannot be read.
    pub fn each_run(&self, f: &mut EachRun<'_>) -> Result<()> {
        match &self.on_disk.0 {
            Some(spill) => spill.each_run(f),
            None => self
                .runs
                .iter()
                .try_for_each(|r| f(r.run, &r.draws, &r.scalars)),
        }
    }

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
        Ok(self.column(i, y))
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
        Ok(self.scalar_column(k))
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
