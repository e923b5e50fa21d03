//! Ensemble outcomes: one or several scenarios run on the same draws,
//! their statistics, paired comparisons, queries, and the files `run`,
//! `compare` and `merge` write (`summary.json`, `quantiles.csv`, `runs.csv`,
//! or a shard's partial result).

use super::{GENERATOR, RunOutput, Stats, run_range};
use crate::error::{Error, Result};
use crate::format::csv_table::{Cell, CsvTable};
use crate::format::write_atomic;
use crate::scenario::Prepared;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::Path;

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

/// One part of an ensemble split over machines: shard `index` (from 0) of
/// `count`, holding runs `index * total / count .. (index + 1) * total / count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// Shard `index` (from 0) of `count`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] unless `count >= 1` and `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 || index >= count {
            return Err(Error::Invalid {
                what: "shard".into(),
                message: format!(
                    "shard {} of {count} does not exist: shards are numbered 1 to {count}",
                    index + 1
                ),
            });
        }
        Ok(Shard { index, count })
    }

    /// Reads `I/N` (shards numbered from 1, as schedulers' array tasks are).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for anything but `I/N` with `1 <= I <= N`.
    pub fn parse(text: &str) -> Result<Shard> {
        let invalid = || Error::Invalid {
            what: format!("shard `{text}`"),
            message: "expected I/N with 1 <= I <= N, e.g. 3/8".into(),
        };
        let (i, n) = text.split_once('/').ok_or_else(invalid)?;
        let i: usize = i.trim().parse().map_err(|_| invalid())?;
        let n: usize = n.trim().parse().map_err(|_| invalid())?;
        if i == 0 || i > n {
            return Err(invalid());
        }
        Shard::new(i - 1, n)
    }

    /// The index, from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The number of shards.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The runs of an ensemble of `total` this shard holds.
    pub fn runs(&self, total: usize) -> std::ops::Range<usize> {
        let part = |k: usize| ((k as u128 * total as u128) / self.count as u128) as usize;
        part(self.index)..part(self.index + 1)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// How to run an ensemble.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Run only this part of the ensemble.
    pub shard: Option<Shard>,
    /// Called after each run (e.g. to advance a progress bar).
    pub progress: Option<&'a (dyn Fn() + Sync)>,
}

/// Everything an ensemble run produces: one scenario (`run`) or a base and
/// alternatives (`compare`), on the same draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The version of the engine that ran it.
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

/// Runs scenarios on the same draws (all runs, or one shard's). All
/// scenarios must agree on seed, runs, sampling and periods; the first is
/// the base of the comparison.
///
/// # Errors
///
/// [`Error::Invalid`] for no scenarios, or scenarios that disagree on seed,
/// runs, sampling, periods or what a comparison reports; [`Error::Run`] for
/// the first failing run.
pub fn run_scenarios(prepared: &[Prepared], options: &RunOptions<'_>) -> Result<Outcome> {
    let Some(base) = prepared.first() else {
        return Err(Error::Invalid {
            what: "ensemble".into(),
            message: "no scenarios to run".into(),
        });
    };
    let first = base.scenario();
    for p in &prepared[1..] {
        let s = p.scenario();
        let differs = |what: &str, a: String, b: String| Error::Invalid {
            what: format!("scenario `{}`", s.name()),
            message: format!(
                "has {what} {b} but `{}` has {a}: scenarios compared on common random numbers must share seed, runs, sampling, periods and comparison settings (set them in a common base file, or with --runs and --seed)",
                first.name()
            ),
        };
        if s.seed() != first.seed() {
            return Err(differs(
                "seed",
                first.seed().to_string(),
                s.seed().to_string(),
            ));
        }
        if s.runs() != first.runs() {
            return Err(differs(
                "runs",
                first.runs().to_string(),
                s.runs().to_string(),
            ));
        }
        if s.sampling() != first.sampling() {
            return Err(differs(
                "sampling",
                first.sampling().to_string(),
                s.sampling().to_string(),
            ));
        }
        if p.periods() != base.periods() {
            let describe = |p: &Prepared| {
                let periods = p.periods();
                format!(
                    "{} + {} periods of {}",
                    periods.start(),
                    periods.count(),
                    periods.length()
                )
            };
            return Err(differs("periods", describe(base), describe(p)));
        }
        if s.compare() != first.compare() {
            return Err(differs(
                "[compare] settings",
                format!("{:?}", first.compare()),
                format!("{:?}", s.compare()),
            ));
        }
    }
    let total = first.runs();
    let range = options.shard.map_or(0..total, |s| s.runs(total));
    let progress = options.progress.unwrap_or(&|| {});
    let mut ensembles = Vec::new();
    for p in prepared {
        let s = p.scenario();
        let runs = run_range(p, range.clone(), total, progress)?;
        let mut state = p.program().state();
        p.configure(&mut state)?;
        let time = state.time();
        ensembles.push(Ensemble {
            integration: format!(
                "{}, dt = {} (1/{})",
                time.method(),
                time.dt(),
                (1.0 / time.dt()).round()
            ),
            scenario: s.name().to_string(),
            question: s.question().to_string(),
            sources: s.sources().to_vec(),
            indicators: p.indicators().to_vec(),
            label: s.label().to_string(),
            periods: p.periods().labels(),
            parameters: p.uncertain().iter().map(|(n, _, _)| n.clone()).collect(),
            scalars: p.scalar_names(),
            runs,
        });
    }
    Ok(Outcome {
        version: env!("CARGO_PKG_VERSION").into(),
        kind: if prepared.len() == 1 {
            Kind::Run
        } else {
            Kind::Compare
        },
        seed: first.seed(),
        total_runs: total,
        sampling: first.sampling().to_string(),
        quantiles: first.quantiles().to_vec(),
        shard: options.shard,
        cost: first.compare().cost().map(str::to_string),
        discount_rate: first.compare().discount_rate(),
        cumulative: first.compare().cumulative().to_vec(),
        ensembles,
    })
}

/// Combines shards into the whole ensemble, exactly as one machine would
/// have produced it.
///
/// # Errors
///
/// [`Error::Invalid`] if the shards come from different ensembles, a shard
/// is missing or repeated (naming the missing ones), or the runs do not
/// cover the ensemble.
pub fn merge(mut parts: Vec<Outcome>) -> Result<Outcome> {
    let invalid = |message: String| Error::Invalid {
        what: "merge".into(),
        message,
    };
    if parts.is_empty() {
        return Err(invalid("no partial results given".into()));
    }
    for p in &parts {
        p.check()
            .map_err(|m| invalid(format!("not a consistent partial result: {m}")))?;
    }
    parts.sort_by_key(|p| p.shard.map_or(0, |s| s.index));
    let first = parts[0].clone();
    let Some(Shard { count, .. }) = first.shard else {
        return Err(invalid(
            "the first file is a whole ensemble, not a shard".into(),
        ));
    };
    let fingerprint = |o: &Outcome| {
        (
            o.kind,
            o.seed,
            o.total_runs,
            o.sampling.clone(),
            o.quantiles.clone(),
            o.cost.clone(),
            o.discount_rate.to_bits(),
            o.cumulative.clone(),
            o.ensembles
                .iter()
                .map(|e| {
                    (
                        e.scenario.clone(),
                        e.indicators.clone(),
                        e.parameters.clone(),
                        e.scalars.clone(),
                        e.periods.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>(),
        )
    };
    for p in &parts {
        if fingerprint(p) != fingerprint(&first) {
            return Err(invalid(
                "the shards come from different ensembles (scenarios, seed, runs, sampling, periods or indicators differ)".into(),
            ));
        }
    }
    let indices: Vec<usize> = parts
        .iter()
        .filter_map(|p| p.shard.map(|s| s.index))
        .collect();
    let counts: Vec<usize> = parts
        .iter()
        .filter_map(|p| p.shard.map(|s| s.count))
        .collect();
    if counts.iter().any(|&c| c != count) || indices != (0..count).collect::<Vec<_>>() {
        let missing: Vec<String> = (0..count)
            .filter(|i| !indices.contains(i))
            .map(|i| format!("{}/{count}", i + 1))
            .collect();
        return Err(invalid(format!(
            "need each of the {count} shards exactly once; missing: {}; given: {}",
            if missing.is_empty() {
                "none".into()
            } else {
                missing.join(", ")
            },
            indices
                .iter()
                .map(|i| format!("{}/{count}", i + 1))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut merged = first;
    merged.shard = None;
    for (k, e) in merged.ensembles.iter_mut().enumerate() {
        e.runs = parts
            .iter()
            .flat_map(|p| p.ensembles[k].runs.clone())
            .collect();
        if e.runs.iter().enumerate().any(|(i, r)| r.run != i) || e.runs.len() != merged.total_runs {
            return Err(invalid(format!(
                "scenario `{}`: the shards' runs do not cover 0..{}",
                e.scenario, merged.total_runs
            )));
        }
    }
    Ok(merged)
}

/// The cost of ALT against BASE in one period, run by run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostComparison {
    /// The cost in the period, ALT minus BASE.
    pub difference: Stats,
    /// The cost from the start to this period, ALT minus BASE.
    pub cumulative: Stats,
    /// The same, each period's difference discounted to the start (the
    /// first period undiscounted).
    pub cumulative_discounted: Stats,
    /// The share of runs in which ALT has cost less than BASE so far.
    pub probability_alt_costs_less: f64,
}

/// Paired statistics of ALT against BASE in one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodComparison {
    /// The period's label.
    pub period: f64,
    /// The cost, if the scenarios name one.
    pub cost: Option<CostComparison>,
    /// Each cumulative indicator's sum from the start to this period, ALT
    /// minus BASE.
    pub cumulative: IndexMap<String, Stats>,
}

/// ALT against BASE.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The base scenario.
    pub base: String,
    /// The alternative.
    pub alternative: String,
    /// By period, after the starting row.
    pub periods: Vec<PeriodComparison>,
    /// With a cost: the share of runs breaking even in each period, the
    /// first period from which ALT's cumulative cost stays below BASE's to
    /// the horizon.
    pub break_even: Vec<(f64, f64)>,
    /// With a cost: the share that does not break even within the horizon.
    pub never_breaks_even: Option<f64>,
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

/// Compares ALT with BASE, run by run (they share run indices and draws).
///
/// `cost`, `discount_rate` and `cumulative` are as in `[compare]`; an
/// indicator either ensemble lacks is left out.
pub fn compare(
    base: &Ensemble,
    alt: &Ensemble,
    quantiles: &[f64],
    cost: Option<&str>,
    discount_rate: f64,
    cumulative: &[String],
) -> Comparison {
    let n = base.runs.len().min(alt.runs.len());
    let periods = base.periods.len();
    // Per run and period: the paired difference of an indicator.
    let paired = |name: &str| -> Option<Vec<Vec<f64>>> {
        let (i, j) = (
            base.indicator_index(name).ok()?,
            alt.indicator_index(name).ok()?,
        );
        Some(
            (0..n)
                .map(|r| {
                    (0..periods)
                        .map(|y| alt.runs[r].values[j][y] - base.runs[r].values[i][y])
                        .collect()
                })
                .collect(),
        )
    };
    let running = |d: &Vec<Vec<f64>>, weight: &dyn Fn(usize) -> f64| -> Vec<Vec<f64>> {
        d.iter()
            .map(|row| {
                let mut total = 0.0;
                let mut out = vec![0.0; periods];
                for y in 1..periods {
                    total += row[y] * weight(y);
                    out[y] = total;
                }
                out
            })
            .collect()
    };
    let stats = |m: &Vec<Vec<f64>>, y: usize| Stats::of((0..n).map(|r| m[r][y]), quantiles);
    let cost_diff = cost.and_then(paired);
    let cash = cost_diff.as_ref().map(|d| running(d, &|_| 1.0));
    let discounted = cost_diff
        .as_ref()
        .map(|d| running(d, &|y| 1.0 / (1.0 + discount_rate).powi(y as i32 - 1)));
    let cumulative: Vec<(String, Vec<Vec<f64>>)> = cumulative
        .iter()
        .filter_map(|c| paired(c).map(|d| (c.clone(), running(&d, &|_| 1.0))))
        .collect();
    let share = |count: usize| count as f64 / n.max(1) as f64;
    let by_period = (1..periods)
        .map(|y| PeriodComparison {
            period: base.periods[y],
            cost: match (&cost_diff, &cash, &discounted) {
                (Some(d), Some(c), Some(v)) => Some(CostComparison {
                    difference: stats(d, y),
                    cumulative: stats(c, y),
                    cumulative_discounted: stats(v, y),
                    probability_alt_costs_less: share((0..n).filter(|&r| c[r][y] < 0.0).count()),
                }),
                _ => None,
            },
            cumulative: cumulative
                .iter()
                .map(|(name, m)| (name.clone(), stats(m, y)))
                .collect(),
        })
        .collect();
    let (break_even, never_breaks_even) = match &cash {
        Some(cash) => {
            let mut counts = vec![0usize; periods];
            let mut never = 0;
            for row in cash.iter().take(n) {
                // The first period from which the cumulative difference
                // stays < 0.
                let mut first = None;
                for y in (1..periods).rev() {
                    if row[y] < 0.0 {
                        first = Some(y);
                    } else {
                        break;
                    }
                }
                match first {
                    Some(y) => counts[y] += 1,
                    None => never += 1,
                }
            }
            (
                (1..periods)
                    .map(|y| (base.periods[y], share(counts[y])))
                    .collect(),
                Some(share(never)),
            )
        }
        None => (Vec::new(), None),
    };
    Comparison {
        base: base.scenario.clone(),
        alternative: alt.scenario.clone(),
        periods: by_period,
        break_even,
        never_breaks_even,
    }
}

fn q_label(q: f64) -> String {
    let p = q * 100.0;
    if p.fract() == 0.0 {
        format!("p{}", p as i64)
    } else {
        format!("p{p}")
    }
}

/// A value for a CSV cell: NaN (no value) is an empty cell.
fn number(v: f64) -> Cell<'static> {
    if v.is_nan() {
        Cell::Missing
    } else {
        Cell::Number(v)
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

    /// `quantiles.csv`: per scenario, indicator and period, the mean and
    /// quantiles; in a comparison also the paired differences (scenario
    /// `ALT - BASE`). Missing values are empty cells.
    pub fn quantiles_csv(&self) -> String {
        let label = self.ensembles.first().map_or("time", |e| e.label.as_str());
        let mut out = CsvTable::in_memory();
        let header: Vec<String> = ["scenario", "indicator", label, "n", "mean"]
            .iter()
            .map(|s| s.to_string())
            .chain(self.quantiles.iter().map(|q| q_label(*q)))
            .collect();
        let _ = out.row(header.iter().map(String::as_str));
        let mut row = |scenario: &str, indicator: &str, period: f64, s: &Stats| {
            let cells = [
                Cell::Text(scenario),
                Cell::Text(indicator),
                Cell::Number(period),
                Cell::Integer(s.n as i128),
                number(s.mean),
            ]
            .into_iter()
            .chain(s.quantiles.iter().map(|v| number(*v)));
            let _ = out.row(cells);
        };
        for e in &self.ensembles {
            for (i, indicator) in e.indicators.iter().enumerate() {
                for (y, period) in e.periods.iter().enumerate() {
                    let s = Stats::of(e.runs.iter().map(|r| r.values[i][y]), &self.quantiles);
                    row(&e.scenario, indicator, *period, &s);
                }
            }
        }
        if let Some(base) = self.ensembles.first() {
            for alt in self.ensembles.iter().skip(1) {
                let label = format!("{} - {}", alt.scenario, base.scenario);
                for (i, indicator) in base.indicators.iter().enumerate() {
                    let Ok(j) = alt.indicator_index(indicator) else {
                        continue;
                    };
                    for (y, period) in base.periods.iter().enumerate() {
                        let s = Stats::of(
                            base.runs
                                .iter()
                                .zip(&alt.runs)
                                .map(|(b, a)| a.values[j][y] - b.values[i][y]),
                            &self.quantiles,
                        );
                        row(&label, indicator, *period, &s);
                    }
                }
            }
        }
        out.into_string().unwrap_or_default()
    }

    /// `runs.csv`: one row per scenario and run: the draws and the scalars.
    pub fn runs_csv(&self) -> String {
        let mut parameters: Vec<&String> = Vec::new();
        let mut scalars: Vec<&String> = Vec::new();
        for e in &self.ensembles {
            for p in &e.parameters {
                if !parameters.contains(&p) {
                    parameters.push(p);
                }
            }
            for s in &e.scalars {
                if !scalars.contains(&s) {
                    scalars.push(s);
                }
            }
        }
        let mut out = CsvTable::in_memory();
        let _ = out.row(
            ["scenario", "run"]
                .into_iter()
                .map(Cell::Text)
                .chain(parameters.iter().chain(&scalars).map(|s| Cell::Text(s))),
        );
        for e in &self.ensembles {
            let draw_at: Vec<Option<usize>> = parameters
                .iter()
                .map(|p| e.parameters.iter().position(|x| x == *p))
                .collect();
            let scalar_at: Vec<Option<usize>> = scalars
                .iter()
                .map(|s| e.scalars.iter().position(|x| x == *s))
                .collect();
            for r in &e.runs {
                let cells = [Cell::Text(&e.scenario), Cell::Integer(r.run as i128)]
                    .into_iter()
                    .chain(
                        draw_at
                            .iter()
                            .map(|i| i.map_or(Cell::Missing, |i| number(r.draws[i]))),
                    )
                    .chain(
                        scalar_at
                            .iter()
                            .map(|i| i.map_or(Cell::Missing, |i| number(r.scalars[i]))),
                    );
                let _ = out.row(cells);
            }
        }
        out.into_string().unwrap_or_default()
    }

    /// `summary.json`: settings, per-scenario scalars and final-period
    /// indicators, and comparisons.
    pub fn summary_json(&self) -> String {
        let scenarios: Vec<serde_json::Value> = self
            .ensembles
            .iter()
            .map(|e| {
                let last = e.periods.len() - 1;
                let scalars: serde_json::Map<String, serde_json::Value> = e
                    .scalars
                    .iter()
                    .enumerate()
                    .map(|(k, name)| {
                        let s = Stats::of(e.runs.iter().map(|r| r.scalars[k]), &self.quantiles);
                        (name.clone(), serde_json::to_value(s).unwrap_or_default())
                    })
                    .collect();
                let final_period: serde_json::Map<String, serde_json::Value> = e
                    .indicators
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let s =
                            Stats::of(e.runs.iter().map(|r| r.values[i][last]), &self.quantiles);
                        (name.clone(), serde_json::to_value(s).unwrap_or_default())
                    })
                    .collect();
                serde_json::json!({
                    "name": e.scenario,
                    "integration": e.integration,
                    "question": e.question,
                    "sources": e.sources,
                    "uncertain_parameters": e.parameters,
                    "period_label": e.label,
                    "periods": e.periods,
                    "scalars": scalars,
                    "final_period": final_period,
                })
            })
            .collect();
        let json = serde_json::json!({
            "engine_version": self.version,
            "kind": self.kind,
            "runs": self.total_runs,
            "seed": self.seed,
            "generator": GENERATOR,
            "sampling": self.sampling,
            "method": "Each run projects the model by period (levels at each period's end, flows summed over the period); statistics are over runs; quantiles interpolate between order statistics (type 7); discounted costs divide the k-th period after the start by (1 + rate)^k, the first undiscounted; comparisons pair runs with the same index, which share the draws of parameters of the same name (common random numbers).",
            "quantiles": self.quantiles,
            "cost": self.cost,
            "discount_rate": self.discount_rate,
            "scenarios": scenarios,
            "comparisons": self.comparisons(),
        });
        serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
    }

    /// Writes `summary.json`, `quantiles.csv` and `runs.csv` into `dir`
    /// (each atomically), or `partial-I-of-N.json` for a shard.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the directory or a file cannot be written.
    pub fn write(&self, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        if let Some(shard) = self.shard {
            let path = dir.join(format!(
                "partial-{}-of-{}.json",
                shard.index + 1,
                shard.count
            ));
            let json = serde_json::to_string(self).map_err(|e| Error::Invalid {
                what: path.display().to_string(),
                message: e.to_string(),
            })?;
            write_atomic(&path, json.as_bytes())?;
            return Ok(vec![path]);
        }
        let files = [
            ("summary.json", self.summary_json()),
            ("quantiles.csv", self.quantiles_csv()),
            ("runs.csv", self.runs_csv()),
        ];
        let mut written = Vec::new();
        for (name, text) in files {
            let path = dir.join(name);
            write_atomic(&path, text.as_bytes())?;
            written.push(path);
        }
        Ok(written)
    }

    /// Reads a partial result written by a shard.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be read; [`Error::Invalid`] if it is not
    /// a partial result.
    pub fn load_partial(path: &Path) -> Result<Outcome> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let outcome: Outcome = serde_json::from_str(&text).map_err(|e| Error::Invalid {
            what: path.display().to_string(),
            message: format!("not a partial result of `run/compare --shard`: {e}"),
        })?;
        outcome.check().map_err(|message| Error::Invalid {
            what: path.display().to_string(),
            message: format!("not a consistent partial result: {message}"),
        })?;
        Ok(outcome)
    }

    /// Checks that every run has a value for each indicator and period, a
    /// draw for each parameter and each scalar, as the statistics assume
    /// (an outcome read from a file may have been edited or truncated).
    fn check(&self) -> std::result::Result<(), String> {
        if self.ensembles.is_empty() {
            return Err("no scenarios".into());
        }
        if self.quantiles.iter().any(|q| !(0.0..=1.0).contains(q)) {
            return Err("quantiles must be between 0 and 1".into());
        }
        if let Some(shard) = self.shard {
            Shard::new(shard.index, shard.count).map_err(|e| e.to_string())?;
        }
        for e in &self.ensembles {
            if e.periods.is_empty() {
                return Err(format!("scenario `{}` has no periods", e.scenario));
            }
            for r in &e.runs {
                let shape_ok = r.draws.len() == e.parameters.len()
                    && r.scalars.len() == e.scalars.len()
                    && r.values.len() == e.indicators.len()
                    && r.values.iter().all(|v| v.len() == e.periods.len());
                if !shape_ok || r.run >= self.total_runs {
                    return Err(format!(
                        "scenario `{}`, run {}: its draws, scalars or values do not match the ensemble's parameters, scalars, indicators and periods",
                        e.scenario, r.run
                    ));
                }
            }
        }
        Ok(())
    }

    /// A readable summary for the terminal: each scenario's scalars and
    /// final-period indicators as median [5th to 95th percentile] (or the
    /// mean when those quantiles are not reported), and each comparison's
    /// cost and cumulative differences by period.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let (lo, mid, hi) = (
            self.quantile_index(0.05),
            self.quantile_index(0.5),
            self.quantile_index(0.95),
        );
        let interval = |s: &Stats| match (lo, mid, hi) {
            (Some(a), Some(m), Some(b)) => format!(
                "{} [{} to {}]",
                short(s.quantiles[m]),
                short(s.quantiles[a]),
                short(s.quantiles[b])
            ),
            _ => format!("{} (mean)", short(s.mean)),
        };
        let _ = writeln!(
            out,
            "{} runs, seed {}, {} sampling; median [5th to 95th percentile]",
            self.total_runs, self.seed, self.sampling
        );
        for e in &self.ensembles {
            let last = e.periods.len() - 1;
            let _ = writeln!(
                out,
                "\n{} ({} {} to {})",
                e.scenario, e.label, e.periods[0], e.periods[last]
            );
            if !e.question.is_empty() {
                let _ = writeln!(out, "  {}", e.question);
            }
            for (k, name) in e.scalars.iter().enumerate() {
                let s = Stats::of(e.runs.iter().map(|r| r.scalars[k]), &self.quantiles);
                let _ = writeln!(out, "  {name:<34} {}", interval(&s));
            }
            for (i, name) in e.indicators.iter().enumerate() {
                let s = Stats::of(e.runs.iter().map(|r| r.values[i][last]), &self.quantiles);
                let _ = writeln!(
                    out,
                    "  {:<34} {}",
                    format!("{name} {}", e.periods[last]),
                    interval(&s)
                );
            }
        }
        for c in self.comparisons() {
            let _ = writeln!(out, "\n{} minus {} (paired runs)", c.alternative, c.base);
            for p in &c.periods {
                let mut parts = Vec::new();
                if let Some(cost) = &p.cost {
                    parts.push(format!(
                        "cumulative cost {}, discounted {}, P(cheaper) {:.0}%",
                        interval(&cost.cumulative),
                        interval(&cost.cumulative_discounted),
                        100.0 * cost.probability_alt_costs_less
                    ));
                }
                for (name, s) in &p.cumulative {
                    parts.push(format!("cumulative {name} {}", interval(s)));
                }
                if !parts.is_empty() {
                    let _ = writeln!(out, "  {:<6} {}", p.period, parts.join("; "));
                }
            }
            if let Some(never) = c.never_breaks_even {
                let breaking: Vec<String> = c
                    .break_even
                    .iter()
                    .filter(|(_, p)| *p > 0.0)
                    .map(|(y, p)| format!("{y}: {:.0}%", 100.0 * p))
                    .collect();
                let _ = writeln!(
                    out,
                    "  break-even period: {}{}not within the horizon: {:.0}%",
                    breaking.join(", "),
                    if breaking.is_empty() { "" } else { "; " },
                    100.0 * never
                );
            }
        }
        out
    }

    /// The position of a quantile among those reported.
    pub fn quantile_index(&self, q: f64) -> Option<usize> {
        self.quantiles.iter().position(|x| (x - q).abs() < 1e-12)
    }
}

/// A number for the terminal: 4 significant figures, thousands grouped.
fn short(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = if v == 0.0 {
        0
    } else {
        v.abs().log10().floor() as i32
    };
    let decimals = (3 - magnitude).clamp(0, 6) as usize;
    let text = format!("{v:.decimals$}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_numbered_from_one_and_cover_the_runs() {
        assert_eq!(Shard::parse("3/8").unwrap(), Shard::new(2, 8).unwrap());
        for bad in ["0/8", "9/8", "1/0", "x/2", "3", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert!(Shard::new(8, 8).is_err());
        let covered: Vec<usize> = (0..7)
            .flat_map(|i| Shard::new(i, 7).unwrap().runs(100))
            .collect();
        assert_eq!(covered, (0..100).collect::<Vec<_>>());
        assert_eq!(Shard::new(0, 3).unwrap().to_string(), "1/3");
    }

    #[test]
    fn numbers_for_the_terminal() {
        assert_eq!(short(1234567.8), "1,234,568");
        assert_eq!(short(-0.012345), "-0.01235");
        assert_eq!(short(12.5), "12.50");
        assert_eq!(short(f64::NAN), "NaN");
    }
}
