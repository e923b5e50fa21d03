//! # Open a Stella (XMILE) model
//!
//! Reads an XMILE model as Stella, iThink, simlin or Vensim's XMILE export
//! write it (here the SDXorg conformance suite's teacup, shipped in
//! `engine/tests/conformance`), runs it, prints its results, and shows the same
//! model in carecascade's native TOML format. `carecascade convert`
//! does the conversion both ways from the command line.
//!
//! Run with `cargo run --release --example 06_open_a_stella_model`, or pass
//! your own file: `... -- path/to/model.stmx`.

use carecascade::Program;
use carecascade::engine::format::{load_model, native};

fn main() -> Result<(), carecascade::Error> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/engine/tests/conformance/teacup/teacup.stmx"
        )
        .to_string()
    });
    let model = load_model(&path)?;
    let results = Program::compile(&model)?.run()?;
    println!(
        "{}: {} variables; results every {} time units\n",
        model.name(),
        model.variables().len(),
        model.time().save_interval()
    );
    let names: Vec<&String> = results.names().iter().take(4).collect();
    print!("{:>8}", "time");
    for n in &names {
        print!("{n:>24}");
    }
    println!();
    let every = (results.times().len() / 8).max(1);
    for (row, t) in results.times().iter().enumerate().step_by(every) {
        print!("{t:>8}");
        for n in &names {
            print!("{:>24.3}", results.series(n).map_or(f64::NAN, |s| s[row]));
        }
        println!();
    }
    println!("\nIn the native format:\n");
    println!(
        "{}",
        native::write(&model)
            .lines()
            .take(24)
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}
