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
    // Period by period, keeping only each run's running totals: the
    // memory is a few numbers per run, whatever the number of periods, and
    // the runs may be in memory or on disk.
    let n = base.run_count().min(alt.run_count());
    let periods = base.periods.len();
    let positions = |name: &str| -> Option<(usize, usize)> {
        Some((
            base.indicator_index(name).ok()?,
            alt.indicator_index(name).ok()?,
        ))
    };
    // The paired difference of an indicator in period `y`, run by run.
    let paired = |(i, j): (usize, usize), y: usize| -> Vec<f64> {
        let (b, a) = (base.column(i, y), alt.column(j, y));
        a.iter().zip(&b).take(n).map(|(a, b)| a - b).collect()
    };
    let stats = |v: &[f64]| Stats::of(v.iter().copied(), quantiles);
    let cost_at = cost.and_then(positions);
    // Per run: the cumulative cost in cash and discounted, and the first
    // period from which the cumulative cost has stayed below 0.
    let mut cash = vec![0.0; n];
    let mut discounted = vec![0.0; n];
    let mut first: Vec<Option<usize>> = vec![None; n];
    let mut totals: Vec<(String, (usize, usize), Vec<f64>)> = cumulative
        .iter()
        .filter_map(|c| positions(c).map(|at| (c.clone(), at, vec![0.0; n])))
        .collect();
    let share = |count: usize| count as f64 / n.max(1) as f64;
    let mut by_period = Vec::with_capacity(periods.saturating_sub(1));
    for y in 1..periods {
        let cost = cost_at.map(|at| {
            let d = paired(at, y);
            let weight = 1.0 / (1.0 + discount_rate).powi(y as i32 - 1);
            for r in 0..n {
                cash[r] += d[r];
                discounted[r] += d[r] * weight;
                if cash[r] < 0.0 {
                    first[r].get_or_insert(y);
                } else {
                    first[r] = None;
                }
            }
            CostComparison {
                difference: stats(&d),
                cumulative: stats(&cash),
                cumulative_discounted: stats(&discounted),
                probability_alt_costs_less: share(cash.iter().filter(|c| **c < 0.0).count()),
            }
        });
        let cumulative = totals
            .iter_mut()
            .map(|(name, at, total)| {
                for (t, d) in total.iter_mut().zip(paired(*at, y)) {
                    *t += d;
                }
                (name.clone(), stats(total))
            })
            .collect();
        by_period.push(PeriodComparison {
            period: base.periods[y],
            cost,
            cumulative,
        });
    }
    let (break_even, never_breaks_even) = match cost_at {
        Some(_) => {
            let mut counts = vec![0usize; periods];
            let mut never = 0;
            for f in &first {
                match f {
                    Some(y) => counts[*y] += 1,
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
