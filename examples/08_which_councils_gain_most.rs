//! # Which councils gain most from placing children with kin?
//!
//! The same question asked of several local authorities, each on its own
//! local model (its children, cases, social workers and fitted rates), and
//! the authorities ranked by the answer with its uncertainty: what
//! `carecascade report BASE ALT --area ...` writes as a page per authority
//! and a ranking page.
//!
//! ```text
//! cargo run --release --example 08_which_councils_gain_most -- Leeds Rutland Hackney Kent
//! ```
//!
//! With no arguments it asks it of Rutland and Hackney, 40 runs each, and
//! writes the pages into a folder in the system's temporary directory.
//!
//! How to read it: each line is an authority's extra spend per child aged
//! 0-17 (present value, £ at 2022-23 prices) from the kinship-first
//! scenario against the baseline, its median and the 5th to 95th
//! percentile of its runs. Overlapping ranges mean the order between those
//! authorities is not known. `index.html` draws the same ranges;
//! `CODE.html` is each authority's page (docs/reading-the-outputs.md).

use carecascade::council::{self, Order, Output, Settings};
use carecascade::engine::scenario::Scenario;
use carecascade::submission::Submission;

fn main() -> Result<(), carecascade::Error> {
    let mut areas: Vec<String> = std::env::args().skip(1).collect();
    let runs = if areas.is_empty() {
        areas = vec!["Rutland".into(), "Hackney".into()];
        40
    } else {
        council::DEFAULT_RUNS
    };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let library = carecascade::library();
    let scenarios = ["baseline.toml", "kinship_first.toml"]
        .iter()
        .map(|f| Scenario::load_with(format!("{dir}/{f}"), &library)?.with_runs(runs))
        .collect::<Result<Vec<_>, _>>()?;
    // One local model per authority, both scenarios on it, paired run by run.
    let submission = Submission::new(scenarios, true, &areas)?;
    let rank_by = Output::named("extra_cost_per_child", true)?;
    let made = council::run(
        &submission,
        &Settings {
            rank_by,
            order: Order::HighFirst,
        },
        &|| {},
    )?;
    for ranking in &made.rankings {
        println!(
            "{}: {} ({})",
            ranking.subject,
            rank_by.title,
            rank_by.unit()
        );
        for (k, r) in ranking.rows.iter().enumerate() {
            let q = &r.stats.quantiles;
            println!(
                "{:>3}. {:<28} {:>18}  (90% range {} to {}; {} children)",
                k + 1,
                r.name,
                rank_by.show(q[2]),
                rank_by.number(q[0]),
                rank_by.number(q[4]),
                carecascade::engine::chart::thousands(r.children)
            );
        }
    }
    for f in &made.failures {
        println!("not reported: {} ({}): {}", f.name, f.code, f.message);
    }
    let out = std::env::temp_dir().join(format!("carecascade-councils-{}", std::process::id()));
    made.write(&out)?;
    println!("pages written to {}", out.display());
    Ok(())
}
