//! # What does the caseload cap's answer depend on?
//!
//! The caseload-cap scenario says whether hiring to hold caseloads at 15
//! saves money. Its answer varies across the Monte Carlo runs because twelve
//! parameters are uncertain; this example asks which of them the answer
//! hangs on. It runs a Morris screening of the paired difference (the cap
//! minus the baseline, each design point run in both scenarios) for the
//! extra spend at present value, then a small Sobol analysis of the same.
//!
//! Read `mu*` as how far the answer moves (£m) when a parameter moves from
//! the lower to the upper half of its range, per unit of that step, and
//! `ST` as the share of the answer's spread that would go if the parameter
//! were known exactly. See `docs/sensitivity.md` for the method and for
//! the figures at full size (`N = 1,024`).
//!
//! Run with `cargo run --release --example 07_what_does_the_answer_depend_on`.

use carecascade::engine::scenario::Scenario;
use carecascade::engine::sensitivity::{self, Bootstrap, Method, Settings};

fn main() -> Result<(), carecascade::Error> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let library = carecascade::library();
    let base = Scenario::load_with(format!("{dir}/baseline.toml"), &library)?.prepare()?;
    let cap = Scenario::load_with(format!("{dir}/caseload_cap.toml"), &library)?.prepare()?;
    let mut settings = Settings {
        method: Method::Morris {
            trajectories: 8,
            levels: 4,
        },
        seed: 1,
        bootstrap: Bootstrap::default(),
        outputs: vec!["npv_m".into()],
    };
    // Screening: k parameters in 8 x (k + 1) runs of each scenario.
    let screening = sensitivity::run(&cap, Some(&base), &settings, &|| {})?;
    println!("{}", screening.table());
    // Variance shares of the same answer.
    settings.method = Method::Sobol { samples: 16 };
    let sobol = sensitivity::run(&cap, Some(&base), &settings, &|| {})?;
    if let Some(npv) = sobol.output("npv_m") {
        let top = npv.ranked()[0];
        println!(
            "The extra spend depends most on `{}`: ST {:.2} (95% interval {:.2} to {:.2}; N = 16, so wide: use the command with --samples 1024)",
            sobol.factors[top].name,
            npv.sobol[top].total.value,
            npv.sobol[top].total.low,
            npv.sobol[top].total.high
        );
    }
    Ok(())
}
