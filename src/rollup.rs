//! The national roll-up of a run over every local authority, checked
//! against the national model.
//!
//! A scenario asked of every authority (`carecascade run SCENARIO --area
//! all`) runs each authority's own model. Their sum, run by run, is a
//! national answer built from the bottom up: run `r` of every authority
//! shares run `r`'s draws of everything national (the scenario's
//! uncertain parameters and, without a posterior by authority, England's
//! calibrated parameters), so the sum of run `r` is one national future,
//! and the quantiles of the sums are the roll-up's band. The same
//! scenario run on the national model, with the same runs and seed, is
//! the top-down answer. The two are made from different fits (each
//! authority's own rates against England's), so they need not agree to
//! the child; where they disagree by more than the national model's own
//! uncertainty, one of them is wrong about something, and the roll-up
//! says so instead of letting either be quoted alone.
//!
//! Only additive outputs are summed: counts of children, social workers
//! and money. A caseload (cases per worker) and a highest caseload are
//! not sums of the authorities' ([`NOT_ADDITIVE`]).

use crate::engine::ensemble::{Ensemble, Outcome, PlanObserver, Sample};
use crate::engine::error::{Error, Result};
use crate::engine::format::csv_table::{Cell, CsvTable};
use std::fmt::Write as _;

/// The file a roll-up is written to, in the run's output folder.
pub const FILE: &str = "rollup.csv";

/// Outputs of the England profile that are not sums over authorities:
/// the caseload (cases per case-holding worker, a ratio) and the highest
/// caseload at any step (a maximum).
pub const NOT_ADDITIVE: &[&str] = &["caseload", "peak_caseload"];

/// How far apart the roll-up and the national model may be before the
/// check fails: the roll-up's median must lie inside the national model's
/// 90% interval widened by this fraction of the national median on each
/// side (published local figures do not add up exactly to England's:
/// suppressed cells, rounding to 10, authorities that cannot be
/// localised).
pub const TOLERANCE: f64 = 0.05;

/// One scenario's sums over authorities, run by run.
#[derive(Debug, Clone)]
struct Sums {
    scenario: String,
    /// `values[indicator][period][run]`.
    values: Vec<Vec<Vec<f64>>>,
    /// `scalars[scalar][run]`.
    scalars: Vec<Vec<f64>>,
    /// Authorities added.
    authorities: usize,
}

/// The sums over authorities of each scenario's additive outputs, run by
/// run, as the pieces of a plan finish ([`RollUp::add`]), and their check
/// against the national model ([`RollUp::check`]).
#[derive(Debug, Clone)]
pub struct RollUp {
    indicators: Vec<String>,
    scalar_names: Vec<String>,
    periods: Vec<f64>,
    label: String,
    runs: usize,
    sums: Vec<Sums>,
}

/// One row of the check: an output of a scenario in a period, summed over
/// the authorities and from the national model.
#[derive(Debug, Clone, PartialEq)]
pub struct RollUpRow {
    /// The scenario.
    pub scenario: String,
    /// The indicator or scalar.
    pub output: String,
    /// The period (e.g. the year ending 31 March), or `None` for a scalar
    /// over the horizon.
    pub period: Option<f64>,
    /// Authorities summed.
    pub authorities: usize,
    /// The sum's 5%, 50% and 95% quantiles over runs.
    pub rolled_up: [f64; 3],
    /// The national model's.
    pub national: [f64; 3],
}

impl RollUpRow {
    /// The roll-up's median against the national median, as a fraction
    /// (0.03 is 3% higher).
    pub fn difference(&self) -> f64 {
        self.rolled_up[1] / self.national[1] - 1.0
    }

    /// Whether the roll-up's median lies within the national 90% interval
    /// widened by [`TOLERANCE`] of the national median each side (true
    /// where neither is a number, as for a flow in the starting period).
    pub fn agrees(&self) -> bool {
        let [lo, mid, hi] = self.national;
        let m = self.rolled_up[1];
        if !(m.is_finite() && mid.is_finite()) {
            return !(m.is_finite() || mid.is_finite());
        }
        let slack = TOLERANCE * mid.abs();
        m >= lo - slack && m <= hi + slack
    }
}

/// The result of checking a roll-up against the national model.
#[derive(Debug, Clone, PartialEq)]
pub struct RollUpCheck {
    /// Every output, scenario and period.
    pub rows: Vec<RollUpRow>,
}

impl RollUpCheck {
    /// The rows that do not agree ([`RollUpRow::agrees`]).
    pub fn disagreements(&self) -> Vec<&RollUpRow> {
        self.rows.iter().filter(|r| !r.agrees()).collect()
    }

    /// The check as CSV: scenario, output, period, authorities, the
    /// roll-up's and the national model's 5/50/95% quantiles, the
    /// difference of medians and whether they agree.
    pub fn to_csv(&self) -> Result<String> {
        let io = |e: std::io::Error| Error::Invalid {
            what: "roll-up".into(),
            message: e.to_string(),
        };
        let mut table = CsvTable::in_memory();
        table
            .row([
                "scenario",
                "output",
                "period",
                "authorities",
                "rolled_up_p5",
                "rolled_up_p50",
                "rolled_up_p95",
                "national_p5",
                "national_p50",
                "national_p95",
                "difference_of_medians",
                "agrees",
            ])
            .map_err(io)?;
        let num = |v: f64| Cell::from(v.is_finite().then_some(v));
        for r in &self.rows {
            table
                .row([
                    Cell::Text(&r.scenario),
                    Cell::Text(&r.output),
                    Cell::from(r.period),
                    Cell::from(r.authorities),
                    num(r.rolled_up[0]),
                    num(r.rolled_up[1]),
                    num(r.rolled_up[2]),
                    num(r.national[0]),
                    num(r.national[1]),
                    num(r.national[2]),
                    num(r.difference()),
                    Cell::Text(if r.agrees() { "yes" } else { "no" }),
                ])
                .map_err(io)?;
        }
        table.into_string().map_err(io)
    }

    /// A summary for the terminal: per scenario, each indicator in the
    /// first and last period, then the disagreements.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let mut scenarios: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !scenarios.contains(&r.scenario.as_str()) {
                scenarios.push(&r.scenario);
            }
        }
        for s in scenarios {
            let rows: Vec<&RollUpRow> = self.rows.iter().filter(|r| r.scenario == s).collect();
            let authorities = rows.first().map_or(0, |r| r.authorities);
            let _ = writeln!(
                out,
                "{s}: sum of {authorities} authorities against the national model (medians, last period)"
            );
            let last = rows
                .iter()
                .filter_map(|r| r.period)
                .fold(f64::NAN, f64::max);
            for r in rows
                .iter()
                .filter(|r| r.period.is_none_or(|p| p == last) && r.national[1].is_finite())
            {
                let _ = writeln!(
                    out,
                    "  {:<24} {:>12.0} vs {:>12.0} ({:+.1}%){}",
                    r.output,
                    r.rolled_up[1],
                    r.national[1],
                    100.0 * r.difference(),
                    if r.agrees() {
                        ""
                    } else {
                        "  outside the national 90% interval"
                    }
                );
            }
        }
        out
    }
}

impl RollUp {
    /// An empty roll-up of outputs shaped like the national runs'
    /// (the same scenarios on the national model, the same runs and seed;
    /// one outcome for a comparison, one per scenario otherwise).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for no scenarios, or scenarios whose outputs,
    /// periods or runs differ.
    pub fn like(national: &[Outcome]) -> Result<RollUp> {
        let ensembles: Vec<&Ensemble> = national.iter().flat_map(|o| &o.ensembles).collect();
        let first = *ensembles.first().ok_or_else(|| Error::Invalid {
            what: "roll-up".into(),
            message: "the national run has no scenarios".into(),
        })?;
        let indicators: Vec<String> = first
            .indicators
            .iter()
            .filter(|i| !NOT_ADDITIVE.contains(&i.as_str()))
            .cloned()
            .collect();
        let scalar_names: Vec<String> = first
            .scalars
            .iter()
            .filter(|i| !NOT_ADDITIVE.contains(&i.as_str()))
            .cloned()
            .collect();
        let runs = first.run_count();
        let periods = first.periods.clone();
        if ensembles.iter().any(|e| {
            e.periods != periods
                || e.run_count() != runs
                || e.indicators != first.indicators
                || e.scalars != first.scalars
        }) {
            return Err(Error::Invalid {
                what: "roll-up".into(),
                message:
                    "the scenarios' outputs, periods or runs differ: roll them up one at a time"
                        .into(),
            });
        }
        let sums = ensembles
            .iter()
            .map(|e| Sums {
                scenario: e.scenario.clone(),
                values: vec![vec![vec![0.0; runs]; periods.len()]; indicators.len()],
                scalars: vec![vec![0.0; runs]; scalar_names.len()],
                authorities: 0,
            })
            .collect();
        Ok(RollUp {
            indicators,
            scalar_names,
            periods,
            label: first.label.clone(),
            runs,
            sums,
        })
    }

    /// Adds one authority's outcome (every run of its scenarios).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if its scenarios, outputs, periods or runs are
    /// not the national run's.
    pub fn add(&mut self, outcome: &Outcome) -> Result<()> {
        let invalid = |message: String| Error::Invalid {
            what: "roll-up".into(),
            message,
        };
        for e in &outcome.ensembles {
            let sums = self
                .sums
                .iter_mut()
                .find(|s| s.scenario == e.scenario)
                .ok_or_else(|| {
                    invalid(format!(
                        "scenario `{}` is not in the national run",
                        e.scenario
                    ))
                })?;
            if e.periods != self.periods || e.run_count() != self.runs {
                return Err(invalid(format!(
                    "scenario `{}`: an authority's periods or runs differ from the national run's",
                    e.scenario
                )));
            }
            let scalars = self
                .scalar_names
                .iter()
                .map(|name| {
                    e.scalars
                        .iter()
                        .position(|s| s == name)
                        .ok_or_else(|| invalid(format!("an authority has no scalar `{name}`")))
                })
                .collect::<Result<Vec<_>>>()?;
            let indicators = self
                .indicators
                .iter()
                .map(|name| e.indicator_index(name))
                .collect::<Result<Vec<_>>>()?;
            if e.on_disk() {
                // Runs on disk are in the order of their indices.
                for (i, &k) in indicators.iter().enumerate() {
                    for (y, sum) in sums.values[i].iter_mut().enumerate() {
                        for (slot, v) in sum.iter_mut().zip(e.column(k, y)) {
                            *slot += v;
                        }
                    }
                }
                for (i, &k) in scalars.iter().enumerate() {
                    for (slot, v) in sums.scalars[i].iter_mut().zip(e.scalar_column(k)) {
                        *slot += v;
                    }
                }
            } else {
                for run in &e.runs {
                    let slot = run.run;
                    if slot >= self.runs {
                        return Err(invalid(format!("run {slot} is out of range")));
                    }
                    for (i, &k) in indicators.iter().enumerate() {
                        for (y, sum) in sums.values[i].iter_mut().enumerate() {
                            sum[slot] += run.values[k][y];
                        }
                    }
                    for (i, &k) in scalars.iter().enumerate() {
                        sums.scalars[i][slot] += run.scalars[k];
                    }
                }
            }
            sums.authorities += 1;
        }
        Ok(())
    }

    /// The periods' label (e.g. "year ending 31 March").
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Compares the sums with `national` (the same scenarios on the
    /// national model, the same runs and seed).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if `national` lacks a scenario or output.
    pub fn check(&self, national: &[Outcome]) -> Result<RollUpCheck> {
        let bands = |values: Vec<f64>| {
            let sample = Sample::new(values);
            [0.05, 0.5, 0.95].map(|q| sample.quantile(q).unwrap_or(f64::NAN))
        };
        let mut rows = Vec::new();
        for sums in &self.sums {
            let e = national
                .iter()
                .find_map(|o| o.ensemble(&sums.scenario).ok())
                .ok_or_else(|| Error::Invalid {
                    what: "roll-up".into(),
                    message: format!("the national runs have no scenario `{}`", sums.scenario),
                })?;
            for (i, name) in self.indicators.iter().enumerate() {
                for (y, period) in self.periods.iter().enumerate() {
                    rows.push(RollUpRow {
                        scenario: sums.scenario.clone(),
                        output: name.clone(),
                        period: Some(*period),
                        authorities: sums.authorities,
                        rolled_up: bands(sums.values[i][y].clone()),
                        national: bands(e.values(name, *period)?),
                    });
                }
            }
            for (i, name) in self.scalar_names.iter().enumerate() {
                rows.push(RollUpRow {
                    scenario: sums.scenario.clone(),
                    output: name.clone(),
                    period: None,
                    authorities: sums.authorities,
                    rolled_up: bands(sums.scalars[i].clone()),
                    national: bands(e.scalar(name)?),
                });
            }
        }
        Ok(RollUpCheck { rows })
    }
}

/// A roll-up as it happens: adds each authority's outcome as its piece
/// finishes, and at the end checks the sums against the national runs and
/// writes [`FILE`] with the plan's results (see
/// [`crate::submission::Submission::run_rolled_up`]).
#[derive(Debug)]
pub struct RollingUp<'a> {
    rollup: RollUp,
    national: &'a [Outcome],
    check: Option<RollUpCheck>,
}

impl<'a> RollingUp<'a> {
    /// A roll-up to check against `national`.
    ///
    /// # Errors
    ///
    /// As [`RollUp::like`].
    pub fn new(national: &'a [Outcome]) -> Result<RollingUp<'a>> {
        Ok(RollingUp {
            rollup: RollUp::like(national)?,
            national,
            check: None,
        })
    }

    /// The check, once the plan has finished.
    pub fn into_check(self) -> Option<RollUpCheck> {
        self.check
    }
}

impl PlanObserver for RollingUp<'_> {
    fn piece(&mut self, _: usize, outcome: &Outcome) -> Result<()> {
        self.rollup.add(outcome)
    }

    fn files(&self) -> Vec<String> {
        vec![FILE.to_string()]
    }

    fn finish(&mut self) -> Result<Vec<(String, Vec<u8>)>> {
        let check = self.rollup.check(self.national)?;
        let csv = check.to_csv()?;
        self.check = Some(check);
        Ok(vec![(FILE.to_string(), csv.into_bytes())])
    }
}
