//! # carecascade
//!
//! System-dynamics simulation for children's social care policy: a general
//! stock-and-flow engine, and (built on it) models of families moving through
//! early help, child in need, child protection and care.
//!
//! ## A guided tour
//!
//! The engine is a pipeline of types, each stage validated once:
//!
//! 1. a [`Model`]: stocks, flows, auxiliaries, constants and lookups with
//!    equations in Vensim/XMILE syntax, units and documentation. Build one in
//!    code with [`Model::builder`] and the elements in [`build`], or read the
//!    native TOML format with [`format::native::load`];
//! 2. a [`Program`]: the model compiled to a flat list of operations over
//!    numbered slots. It is immutable and `Send + Sync`; compile once, run
//!    many times;
//! 3. a [`State`]: the buffers of one run. Set parameters
//!    ([`State::set`]) and time settings between runs without recompiling.
//!    [`State::run_observing`] reduces a run as it goes instead of storing
//!    it, and a [`Batch`] advances several runs with different parameters
//!    together, several times faster per run (what ensembles use);
//! 4. [`Results`]: a time vector and an `ndarray` matrix with names.
//!
//! ```
//! use carecascade::{Program, format::native};
//!
//! let model = native::parse(r#"
//!     [model]
//!     name = "decay"
//!     time_units = "year"
//!
//!     [time]
//!     start = 0
//!     stop = 10
//!     dt = 0.25
//!
//!     [stocks.cases]
//!     initial = 1000
//!     outflows = ["closures"]
//!     units = "children"
//!
//!     [flows.closures]
//!     equation = "cases / average duration"
//!     units = "children/year"
//!
//!     [constants."average duration"]
//!     value = 2
//!     units = "year"
//! "#, None)?;
//! let program = Program::compile(&model)?;
//! let mut run = program.state();
//! run.set("average duration", 4.0)?;
//! let results = run.run()?;
//! let cases = results.series("cases").unwrap();
//! assert!(cases[cases.len() - 1] < 100.0);
//! # Ok::<(), carecascade::Error>(())
//! ```
//!
//! ## The England model
//!
//! [`care`] holds the children's social care layer: [`care::england`] is the
//! calibrated England model (`models/england.toml`, embedded);
//! [`care::project`] turns a run into reporting years ending 31 March with
//! DfE's column names; [`care::data`] reads the published statistics;
//! [`care::calibrate`] fits parameters to them and [`care::validate`]
//! reports the fit; [`care::local`] fits the model to one local authority. [`format::describe`] generates a model's diagram and
//! reference tables, and [`chart`] draws charts.
//!
//! ```
//! use carecascade::care::{self, project};
//!
//! let model = care::england();
//! let program = carecascade::Program::compile(&model)?;
//! let mut baseline = program.state();
//! let mut invest = program.state();
//! invest.set("extra prevention spend", 500.0)?; // £m a year from 2025
//! let a = project::project_state(&mut baseline, 2023, 10)?;
//! let b = project::project_state(&mut invest, 2023, 10)?;
//! let cla = |p: &project::Projection| p.get("cla_at_31_march", 2033).unwrap();
//! assert!(cla(&b) < cla(&a)); // fewer children in care after ten years
//! # Ok::<(), carecascade::Error>(())
//! ```
//!
//! ## Scenarios and ensembles
//!
//! A [`scenario::Scenario`] file names a model, a window, policies over
//! calendar years and uncertain parameters; [`scenario::Scenario::prepare`]
//! applies it to the model. [`ensemble::report::run_scenarios`] runs
//! scenarios as Monte Carlo ensembles in parallel on common random numbers,
//! and the [`ensemble::report::Outcome`] gives quantiles, paired comparisons
//! and the files `carecascade run` writes; [`ensemble::html::report`] makes
//! the HTML report. See `docs/scenarios.md` and `docs/reading-the-outputs.md`.
//!
//! ```
//! use carecascade::ensemble::report::run_scenarios;
//! use carecascade::scenario::Scenario;
//!
//! let base = Scenario::parse("[time]\nhorizon = 2\n[monte_carlo]\nruns = 4\n\
//!     [uncertain.\"early help effect at maturity\"]\ndistribution = \"pert\"\nmin = 0\nmode = 0.32\nmax = 0.5\n", "base.toml")?;
//! let outcome = run_scenarios(&[base.prepare()?], "run", None, &|| {})?;
//! assert_eq!(outcome.ensembles[0].runs.len(), 4);
//! println!("{}", outcome.table());
//! # Ok::<(), carecascade::Error>(())
//! ```
//!
//! ## Semantics
//!
//! Names are case-insensitive and treat spaces and underscores alike. Euler
//! (the default) evaluates every auxiliary and flow at time `t`, saves, then
//! sets `stock(t + dt) = stock(t) + dt * (inflows - outflows)`; RK4 is the
//! classical fourth-order method. Stateful builtins (`DELAY1`, `DELAY3`,
//! `DELAY N`, `SMOOTH`, `SMOOTH3`, `SMOOTH N`, `TREND`) are lowered into hidden
//! stocks, so they integrate with the chosen method; `DELAY FIXED` is a ring
//! buffer. See `docs/model-format.md` for the equation language and every
//! builtin.
#![deny(missing_docs)]

pub use carecascade_engine as engine;
pub use carecascade_engine::{
    BATCH_LANES, Batch, BatchRow, Equation, Error, Interpolation, LaneError, Location, LookupTable,
    Method, Model, ParamId, Parameter, Program, Result, Results, State, TimeSettings, Units,
    Variable, VariableKind, Warning, build, canonical_name, chart, closest, error, expr, format,
    model, name, sim,
};

pub mod care;
pub mod ensemble;
pub mod scenario;

/// The README's examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
