//! # Build your own model (for Rust developers)
//!
//! carecascade is a general stock-and-flow engine. This example builds a
//! small model in code: children entering care at a rate that rises with
//! referral pressure (a lookup), leaving after an average stay, with a
//! SMOOTH of entries as a manager would see them. It compiles the model
//! once and runs it for three average stays without recompiling, then
//! prints a table: the pattern for ensembles and calibration.
//!
//! Run with `cargo run --release --example 05_build_your_own_model`.

use carecascade::build::{Aux, Constant, Flow, Lookup, Stock};
use carecascade::{Model, Program, TimeSettings};

fn main() -> Result<(), carecascade::Error> {
    let model = Model::builder("care entries")
        .time(TimeSettings::new(0.0, 10.0, 1.0 / 52.0)?)
        .time_units("year")
        .add(
            Stock::new("looked after", 1000.0)
                .inflow("entries")
                .outflow("leaving")
                .units("children")
                .doc("Children in care"),
        )
        .add(
            Flow::new(
                "entries",
                "base entries * pressure effect(referral pressure)",
            )
            .units("children/year"),
        )
        .add(Flow::new("leaving", "looked after / average stay").units("children/year"))
        .add(
            Aux::new("referral pressure", "1 + 0.3 * STEP(1, 2)")
                .doc("Referrals relative to normal: +30% from year 2"),
        )
        .add(
            Lookup::new("pressure effect", vec![(0.5, 0.7), (1.0, 1.0), (1.5, 1.6)])
                .doc("More entries under pressure"),
        )
        .add(Aux::new("entries as seen", "SMOOTH(entries, 0.5)").units("children/year"))
        .add(Constant::new("base entries", 400.0).units("children/year"))
        .add(Constant::new("average stay", 2.5).units("year"))
        .build()?;
    let program = Program::compile(&model)?;
    println!(
        "{:<14}{:>10}{:>10}{:>10}",
        "average stay", "year 2", "year 5", "year 10"
    );
    let mut run = program.state();
    for stay in [1.5, 2.5, 4.0] {
        run.set("average stay", stay)?; // no recompiling
        let results = run.run()?;
        let at = |t: f64| results.value_at("looked after", t).unwrap_or(f64::NAN);
        println!(
            "{:<14}{:>10.0}{:>10.0}{:>10.0}",
            format!("{stay} years"),
            at(2.0),
            at(5.0),
            at(10.0)
        );
    }
    println!(
        "\nIn equilibrium, children in care = entries x average stay: under pressure,\n400 x pressure effect(1.3) = 544 a year, so 1,360 for a 2.5-year stay."
    );
    Ok(())
}
