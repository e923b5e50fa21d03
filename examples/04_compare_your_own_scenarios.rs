//! # Compare your own scenarios
//!
//! Reads scenario files (the first is the base) and compares them on common
//! random numbers, printing the same summary as `carecascade compare`. Copy
//! a file from `scenarios/`, change what you want to test (a policy, a
//! parameter, an uncertain range: see docs/scenarios.md), and run:
//!
//! ```text
//! cargo run --release --example 04_compare_your_own_scenarios -- scenarios/baseline.toml my_idea.toml
//! ```
//!
//! With no arguments it compares the baseline with `kinship_first` and
//! `edge_of_care`, 100 runs each.

use carecascade::engine::ensemble::{RunOptions, run_scenarios};
use carecascade::engine::scenario::Scenario;

fn main() -> Result<(), carecascade::Error> {
    let mut files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
        files = ["baseline.toml", "kinship_first.toml", "edge_of_care.toml"]
            .iter()
            .map(|f| format!("{dir}/{f}"))
            .collect();
    }
    let library = carecascade::library(); // `model = "england"` and its profile
    let mut prepared = Vec::new();
    for file in &files {
        let s = Scenario::load_with(file, &library)?;
        let runs = s.runs().min(100); // seconds, not minutes; use the CLI for full ensembles
        prepared.push(s.with_runs(runs)?.prepare()?);
    }
    let outcome = run_scenarios(&prepared, &RunOptions::default())?;
    println!("{}", carecascade::report::table(&outcome));
    Ok(())
}
