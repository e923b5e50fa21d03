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

use carecascade::engine::chart::{money_m, thousands};
use carecascade::engine::ensemble::{RunOptions, compare, run_scenarios};
use carecascade::engine::scenario::Scenario;
use carecascade::report::care_entries_avoided;

fn main() -> Result<(), carecascade::Error> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let library = carecascade::library();
    let mut prepared = Vec::new();
    for file in ["baseline.toml", "caseload_cap.toml"] {
        let s = Scenario::load_with(format!("{dir}/{file}"), &library)?.with_runs(100)?;
        prepared.push(s.prepare()?);
    }
    let outcome = run_scenarios(&prepared, &RunOptions::default())?;
    let median = |scenario: &str, indicator: &str, year: f64| {
        outcome
            .quantile(scenario, indicator, year, 0.5)
            .expect("a reported indicator and year")
    };
    let (base, alt) = (&outcome.ensembles[0], &outcome.ensembles[1]);
    println!(
        "{}\n100 paired runs; medians\n",
        prepared[1].scenario().question()
    );
    println!(
        "{:<8}{:>16}{:>20}{:>20}{:>24}",
        "year", "caseload", "plans started", "entering care", "spend"
    );
    for &year in base.periods.iter().skip(1).step_by(3) {
        let pair = |indicator: &str, f: fn(f64) -> String| {
            format!(
                "{} -> {}",
                f(median(&base.scenario, indicator, year)),
                f(median(&alt.scenario, indicator, year))
            )
        };
        println!(
            "{:<8}{:>16}{:>20}{:>20}{:>24}",
            year,
            pair("caseload", thousands),
            pair("cpp_started", thousands),
            pair("cla_started", thousands),
            pair("spend_total_m", money_m)
        );
    }
    let quantiles = [0.05, 0.5, 0.95];
    let c = compare(
        base,
        alt,
        &quantiles,
        Some("spend_total_m"),
        carecascade::DISCOUNT_RATE,
        &[],
    );
    let last = c.periods.last().expect("at least one year");
    let cost = last.cost.as_ref().expect("a cost is compared");
    let avoided = care_entries_avoided(base, alt, &quantiles).expect("cla_started is reported");
    println!(
        "\nBy {}: extra spend {} (present value, median), {} fewer entries to care, cheaper than the baseline in {:.0}% of runs.",
        last.period,
        money_m(cost.cumulative_discounted.quantiles[1]),
        thousands(avoided[avoided.len() - 1].quantiles[1]),
        100.0 * cost.probability_alt_costs_less
    );
    Ok(())
}
