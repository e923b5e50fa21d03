//! # Where is children's social care heading if nothing changes?
//!
//! Projects the calibrated England model ten years from the published
//! figures of 31 March 2023, with prevention spend held at its 2022-23
//! level, and prints the main indicators by reporting year (years end on
//! 31 March; stocks are counted on that day, flows over the year before).
//!
//! This is one run with the model's central values. For the uncertainty
//! around it, run the baseline scenario as an ensemble:
//! `cargo run --release -- run scenarios/baseline.toml`.
//!
//! Run with `cargo run --release --example 01_baseline_projection`.

use carecascade::engine::chart::{money_m, thousands};
use carecascade::project;

/// A row of the table: label, projection column, number format.
type Row = (&'static str, &'static str, fn(f64) -> String);

fn main() -> Result<(), carecascade::Error> {
    let model = carecascade::england();
    let p = project::project(&model, 2023, 10)?;
    let rows: [Row; 9] = [
        ("Referrals in the year", "referrals", thousands),
        ("Children in need (31 March)", "cin_at_31_march", thousands),
        ("On a protection plan", "cpp_at_31_march", thousands),
        ("Looked after", "cla_at_31_march", thousands),
        ("Entering care in the year", "cla_started", thousands),
        ("Caseload per social worker", "caseload", thousands),
        ("Early help spend", "spend_early_help_m", money_m),
        ("Looked-after spend", "spend_looked_after_m", money_m),
        ("Total spend", "spend_total_m", money_m),
    ];
    print!("{:<30}", "year ending 31 March");
    for y in project::years(&p).iter().step_by(2) {
        print!("{y:>10}");
    }
    println!();
    for (label, column, f) in rows {
        print!("{label:<30}");
        let values = p.column(column).expect("the England model has this column");
        for v in values.iter().step_by(2) {
            print!("{:>10}", v.map_or("".into(), f));
        }
        println!();
    }
    println!("\nEvery column, every year: cargo run --release -- project england");
    Ok(())
}
