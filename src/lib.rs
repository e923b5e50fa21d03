//! # carecascade
//!
//! System-dynamics simulation for children's social care policy: the
//! England model of families moving through early help, child in need,
//! child protection and care, its published data, calibration, local
//! authorities and policy reports, built on a general stock-and-flow engine
//! ([`engine`], the crate `carecascade-engine`).
//!
//! ## Two layers
//!
//! The engine knows no particular model: equations, models, the native,
//! XMILE and Vensim formats, the compiler, simulation one run or a batch at
//! a time, projections by period, scenario files, Monte Carlo ensembles on
//! common random numbers and charts. This crate is the children's social
//! care layer and uses only the engine's public API:
//!
//! - [`england()`] is the calibrated England model (`models/england.toml`,
//!   embedded) and [`library()`] the built-in models and the `england`
//!   profile that scenario files use (reporting years ending 31 March,
//!   DfE's indicators, costs and their net present value);
//! - [`project`] turns a run into reporting years with DfE's column names;
//! - [`data`] reads the published statistics; [`calibrate`] fits
//!   parameters to them and [`validate`] reports the fit;
//! - [`evaluations`] runs the evaluations the model cites through it, for
//!   groups like the evaluated ones, and sets the model's effects beside
//!   the published ones;
//! - [`local`] fits the model to one local authority;
//! - [`submission`] spreads many scenarios and authorities over one array
//!   job's tasks;
//! - [`report`] makes the HTML report of scenarios, and [`council`] a
//!   page per local authority and a ranking of them.
//!
//! The most used engine types are re-exported here ([`Model`], [`Program`],
//! [`State`], [`Error`], ...); everything else is under [`engine`]. See
//! `ARCHITECTURE.md` for the map of both crates.
//!
//! ```
//! use carecascade::project;
//!
//! let model = carecascade::england();
//! let program = carecascade::Program::compile(&model)?;
//! let mut baseline = program.state();
//! let mut invest = program.state();
//! invest.set("extra prevention spend", 500.0)?; // £m a year from 2025
//! let a = project::project_state(&mut baseline, 2023, 10)?;
//! let b = project::project_state(&mut invest, 2023, 10)?;
//! let cla = |p: &carecascade::engine::projection::Projection| {
//!     p.get("cla_at_31_march", 2033).unwrap()
//! };
//! assert!(cla(&b) < cla(&a)); // fewer children in care after ten years
//! # Ok::<(), carecascade::Error>(())
//! ```
//!
//! ## Scenarios and ensembles
//!
//! A [`Scenario`](engine::scenario::Scenario) file names a model, a window,
//! policies over calendar years and uncertain parameters; read it with
//! [`library()`] so that `model = "england"` and the `england` profile are
//! known. [`run_scenarios`](engine::ensemble::run_scenarios) runs scenarios
//! as Monte Carlo ensembles in parallel on common random numbers, and the
//! [`Outcome`](engine::ensemble::Outcome) gives quantiles, paired
//! comparisons and the files `carecascade run` writes; [`report::report`]
//! makes the HTML report. See `docs/scenarios.md` and
//! `docs/reading-the-outputs.md`.
//!
//! ```
//! use carecascade::engine::ensemble::{RunOptions, run_scenarios};
//! use carecascade::engine::scenario::Scenario;
//!
//! let base = Scenario::parse_with("[time]\nhorizon = 2\n[monte_carlo]\nruns = 4\n\
//!     [uncertain.\"early help effect at maturity\"]\ndistribution = \"pert\"\nmin = 0\nmode = 0.32\nmax = 0.5\n",
//!     "base.toml", &carecascade::library())?;
//! let outcome = run_scenarios(&[base.prepare()?], &RunOptions::default())?;
//! assert_eq!(outcome.ensembles[0].runs.len(), 4);
//! let median = outcome.quantile("base", "cla_at_31_march", 2025, 0.5)?;
//! assert!(median > 50_000.0);
//! # Ok::<(), carecascade::Error>(())
//! ```
#![deny(missing_docs)]

pub use carecascade_engine as engine;
pub use carecascade_engine::{
    Backend, Batch, Error, Method, Model, Program, Result, Results, State, TimeSettings, build,
};

pub mod backtest;
pub mod calibrate;
pub mod council;
pub mod data;
pub mod drivers;
mod england;
pub mod evaluations;
pub mod local;
pub mod local_backtest;
pub mod outturn;
pub mod pooled;
pub mod project;
pub mod report;
pub mod rollup;
pub mod submission;
pub mod validate;

pub use england::{
    BUILTIN_MODELS, DEFAULT_INDICATORS, DISCOUNT_RATE, ENGLAND_CALIBRATION_TOML, ENGLAND_NAME,
    ENGLAND_TOML, SCALARS, builtin, england, fitted_series, library, load_model, profile,
};

/// The README's examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
