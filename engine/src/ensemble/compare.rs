//! Comparing an alternative with the base run by run (the runs share their
//! draws): a cost's cumulative paired difference in cash and discounted,
//! the chance the alternative costs less, the break-even period, and
//! cumulative differences of other indicators.

use super::{Ensemble, Stats};
use indexmap::IndexMap;
use serde::Serialize;

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
