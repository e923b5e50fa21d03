//! # If we put £500m a year into early help, when does it pay back?
//!
//! Runs the baseline and the `early_help_investment` scenario (£500m a year
//! more for early help from April 2025, ramped over three years) as Monte
//! Carlo ensembles on the same draws of the uncertain effects of early help
//! (common random numbers), and prints, year by year, the extra spend in
//! present values, the children kept out of care, and the chance that the
//! investment has cost less than doing nothing.
//!
//! The answer is a distribution because the evidence on what early help
//! achieves is uncertain (docs/model.md, "Calibration"). With the evidence
//! in the model, the money does not pay for itself in children's social
//! care within ten years; it does keep some children out of care.
//!
//! Run with `cargo run --release --example 02_does_early_help_pay_back`
//! (200 runs; pass a number for more: `... -- 2000`).

use carecascade::engine::chart::{money_m, thousands};
use carecascade::engine::ensemble::{RunOptions, run_scenarios};
use carecascade::engine::scenario::Scenario;
use carecascade::report::care_entries_avoided;

fn main() -> Result<(), carecascade::Error> {
    let runs = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let library = carecascade::library(); // the England model and its profile
    let mut prepared = Vec::new();
    for file in ["baseline.toml", "early_help_investment.toml"] {
        let s = Scenario::load_with(format!("{dir}/{file}"), &library)?.with_runs(runs)?;
        prepared.push(s.prepare()?);
    }
    let outcome = run_scenarios(&prepared, &RunOptions::default())?;
    let (base, alt) = (&outcome.ensembles[0], &outcome.ensembles[1]);
    let quantiles = [0.05, 0.5, 0.95];
    // Spend compared run by run (the profile's cost, discounted at 3.5%).
    let c = carecascade::engine::ensemble::compare(
        base,
        alt,
        &quantiles,
        Some("spend_total_m"),
        carecascade::DISCOUNT_RATE,
        &[],
    );
    let avoided = care_entries_avoided(base, alt, &quantiles).expect("cla_started is reported");
    println!("{}", prepared[1].scenario().question());
    println!("{runs} paired runs; median (5th to 95th percentile)\n");
    println!(
        "{:<8}{:>36}{:>30}{:>14}",
        "year", "extra spend so far, present value", "children kept out of care", "P(cheaper)"
    );
    for (period, care) in c.periods.iter().zip(&avoided) {
        let Some(cost) = &period.cost else { continue };
        let (npv, care) = (&cost.cumulative_discounted.quantiles, &care.quantiles);
        println!(
            "{:<8}{:>36}{:>30}{:>13.0}%",
            period.period,
            format!(
                "{} ({} to {})",
                money_m(npv[1]),
                money_m(npv[0]),
                money_m(npv[2])
            ),
            format!(
                "{} ({} to {})",
                thousands(care[1]),
                thousands(care[0]),
                thousands(care[2])
            ),
            100.0 * cost.probability_alt_costs_less
        );
    }
    println!(
        "\nNegative numbers of children kept out of care are the detection effect:\nearly help first uncovers needs, before fewer needs escalate."
    );
    println!(
        "Breaks even within the horizon in {:.0}% of runs.",
        100.0 * (1.0 - c.never_breaks_even.unwrap_or(1.0))
    );
    Ok(())
}
