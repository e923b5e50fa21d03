//! # carecascade-engine
//!
//! A general system-dynamics engine: stock-and-flow models read from the
//! native TOML format, XMILE or Vensim, compiled to a flat program and run
//! with Euler or RK4, one run or a batch at a time. It knows nothing of any
//! particular model; the `carecascade` crate builds the England children's
//! social care model on it, using only this public API.
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
//!    it, [`State::run_into`] writes its rows into a buffer the caller
//!    keeps (no allocation, and no copy for a small compiled model), and a
//!    [`Batch`] advances several runs with different parameters
//!    together, several times faster per run (what ensembles use; its
//!    rows likewise with [`Batch::run_into`]);
//! 4. [`Results`]: a time vector and an `ndarray` matrix with names.
//!
//! ```
//! use carecascade_engine::{Program, format::native};
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
//! # Ok::<(), carecascade_engine::Error>(())
//! ```
//!
//! ## Beyond one run
//!
//! - [`projection`]: a run summarised by period (values at each period's
//!   end, flows summed over it), streamed as the run goes;
//! - [`scenario`]: scenario files (a model, periods, policies over time,
//!   uncertain parameters, what to report) validated and prepared, with the
//!   built-in models and profiles of a [`scenario::Library`];
//! - [`ensemble`]: Monte Carlo ensembles in parallel on common random
//!   numbers, statistics, paired comparisons, shards, and a query API;
//! - [`sensitivity`]: global sensitivity analysis of any scalar output
//!   over a scenario's uncertain parameters (Sobol indices with bootstrap
//!   intervals, Morris elementary effects), alone or as a paired
//!   difference from a base;
//! - [`calibrate`]: fitting constants to observed series (bounded
//!   Nelder-Mead from several starts, in parallel, reproducible);
//! - `chart` (feature `charts`): fan charts and histograms.
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

pub mod build {
    //! Elements for [`crate::Model::builder`].
    pub use crate::model::build::{
        Aux, Constant, Element, Flow, Lookup, ModelBuilder, Source, Stock,
    };
}
pub mod calibrate;
#[cfg(feature = "charts")]
pub mod chart;
mod compile;
pub mod ensemble;
pub mod error;
pub mod expr;
pub mod format;
#[cfg(feature = "jit")]
mod jit;
pub mod limits;
pub mod model;
pub mod name;
mod program;
pub mod projection;
pub mod scenario;
pub mod sensitivity;
pub mod sim;

/// The `ndarray` crate, whose types [`Results`] uses: depend on this
/// re-export to be sure of a matching version.
pub use ndarray;

pub use error::{Error, Location, Result};
pub use limits::Limits;
pub use model::{
    ControlVariables, Equation, Interpolation, LookupTable, Method, Model, OutflowLimiting,
    StartData, TimeSettings, Units, Variable, VariableKind,
};
pub use name::{canonical_name, closest};
#[doc(hidden)]
pub use program::CompiledReference;
pub use program::{ParamId, Parameter, Program, Warning};
pub use sim::{BATCH_LANES, Backend, Batch, BatchRow, Fallback, LaneError, Results, State};
