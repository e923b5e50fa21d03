//! # What if we hire to hold caseloads at 15?
//!
//! Compares the baseline with the `caseload_cap` scenario: from April 2025
//! councils fund posts for about 15 cases per social worker (16.6 in 2022)
//! and recruit faster. Lower caseloads mean more time with each family:
//! fewer cases escalate to plans and care, fewer come back, fewer social
//! workers leave (docs/model.md, loop 3). Prints caseloads, protection
//! plans, entries to care and spend for both, and the paired difference.
//!
//! How much lower caseloads help is an assumption of the model (the
//! `effect of caseload on practice` lookup), so treat the size of the
//! benefit as illustrative.
//!
//! Run with `cargo run --release --example 03_cap_caseloads`.

use carecascade::chart::{money_m, thousands};
use carecascade::ensemble::Stats;
use carecascade::ensemble::report::{compare, run_scenarios};
use carecascade::scenario::Scenario;

fn main() -> Result<(), carecascade::Error> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut prepared = Vec::new();
    for file in ["baseline.toml", "caseload_cap.toml"] {
        let mut s = Scenario::load(format!("{dir}/{file}"))?;
        s.runs = 100;
        prepared.push(s.prepare()?);
    }
    let outcome = run_scenarios(&prepared, "compare", None, &|| {})?;
    let median = |e: usize, indicator: &str, year: usize| -> f64 {
        let ens = &outcome.ensembles[e];
        let i = ens
            .indicators
            .iter()
            .position(|x| x == indicator)
            .expect("reported");
        Stats::of(ens.runs.iter().map(|r| r.values[i][year]), &[0.5]).quantiles[0]
    };
    println!(
        "{}\n100 paired runs; medians\n",
        prepared[1].scenario.question
    );
    println!(
        "{:<8}{:>16}{:>20}{:>20}{:>24}",
        "year", "caseload", "plans started", "entering care", "spend"
    );
    let years = &outcome.ensembles[0].years;
    for y in (1..years.len()).step_by(3) {
        let pair = |indicator: &str, f: fn(f64) -> String| {
            format!(
                "{} -> {}",
                f(median(0, indicator, y)),
                f(median(1, indicator, y))
            )
        };
        println!(
            "{:<8}{:>16}{:>20}{:>20}{:>24}",
            years[y],
            pair("caseload", thousands),
            pair("cpp_started", thousands),
            pair("cla_started", thousands),
            pair("spend_total_m", money_m)
        );
    }
    let c = compare(
        &outcome.ensembles[0],
        &outcome.ensembles[1],
        &[0.05, 0.5, 0.95],
    );
    let last = c.by_year.last().expect("at least one year");
    println!(
        "\nBy {}: extra spend {} (present value, median), {} fewer entries to care, cheaper than the baseline in {:.0}% of runs.",
        last.year,
        money_m(last.cumulative_npv_m.quantiles[1]),
        thousands(last.care_entries_avoided.quantiles[1]),
        100.0 * last.probability_alt_costs_less
    );
    Ok(())
}
