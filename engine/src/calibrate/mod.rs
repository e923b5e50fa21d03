//! Calibration: fitting chosen constants of any model to observed series by
//! weighted least squares, with Nelder-Mead from several starts.
//!
//! The pieces, each usable alone:
//!
//! - [`Observations`]: observed series, by name (a projection column) and
//!   period label;
//! - a [`Projector`](crate::projection::Projector) and
//!   [`Periods`](crate::projection::Periods) say how a run is compared with
//!   them: which variable makes each column, and where the periods fall in
//!   model time;
//! - a [`CalibrationSpec`] (usually a TOML file) names the series and their
//!   weights, the parameters and their [`Bounds`], the window (`from` and
//!   `to`, period labels) and the [`Search`];
//! - [`calibrate`] builds the [`Problem`] and solves it into a [`Fit`]: the
//!   objective is the weighted sum, over the series, of the mean squared
//!   *relative* error over the fitted periods,
//!   `J = sum_s w_s * mean_p ((model_s(p) - observed_s(p)) / observed_s(p))^2`,
//!   so that series of very different sizes share one scale and the weights
//!   say how much each matters. The model is projected from the window's
//!   first period (row 0 holds its starting levels); periods without an
//!   observed value are skipped;
//! - [`multi_start`] and [`nelder_mead`] are the optimiser, for any
//!   objective: the search works in the unit cube between the bounds; start
//!   0 is the model's own values and the others a Latin hypercube drawn
//!   from ChaCha8 seeded by the spec's `seed`, so a calibration is
//!   reproducible. Starts run in parallel (rayon) and give bit-identical
//!   results on any number of threads;
//! - [`fit_to_toml`] records a fit, [`mape`] scores a projection against
//!   the data, and [`update_model_file`] writes fitted values into a native
//!   model file, keeping its comments.
//!
//! ```
//! use carecascade_engine::calibrate::{CalibrationSpec, Observations, calibrate};
//! use carecascade_engine::projection::{Indicator, Periods, Projector};
//! use carecascade_engine::{Program, format::native};
//!
//! let model = native::parse(r#"
//!     [time]
//!     start = 0
//!     stop = 10
//!     dt = 0.125
//!     [stocks.cases]
//!     initial = 1000
//!     outflows = ["closures"]
//!     [flows.closures]
//!     equation = "cases / duration"
//!     [constants]
//!     duration = 2
//! "#, None)?;
//! let program = Program::compile(&model)?;
//! let projector = Projector::new(&program, &[Indicator::level("cases", "cases")])?;
//! let periods = Periods::new(0.0, 6)?;
//!
//! // Data made with a duration of 3.
//! let mut truth = program.state();
//! truth.set("duration", 3.0)?;
//! let made = projector.project(&mut truth, &periods)?;
//! let mut observed = Observations::new("made up");
//! observed.insert("cases", (1..=6).map(|k| (k as f64, made.get("cases", k as f64).unwrap())));
//!
//! let spec = CalibrationSpec::parse(r#"
//!     [calibration]
//!     starts = 2
//!     [series]
//!     cases = 1
//!     [parameters.duration]
//!     min = 0.5
//!     max = 10
//! "#, None)?;
//! let fit = calibrate(&program, &projector, &periods, &observed, &spec)?;
//! assert!((fit.values["duration"] - 3.0).abs() < 1e-3);
//! assert!(fit.objective < fit.initial_objective);
//! # Ok::<(), carecascade_engine::Error>(())
//! ```

mod bayes;
mod objective;
mod optimise;
mod output;
pub mod pooled;
mod spec;

pub use bayes::{
    Basis, Chains, Diagnostics, Draw, Likelihood, LogPosterior, Mcmc, Posterior, Prior, Sampled,
    Sampling, Scale, Shape, autocorrelation_time, ensemble_sampler, ensemble_sampler_batched,
    posterior, sample_posterior, split_rhat,
};
pub use objective::{Fit, Observations, Problem, calibrate, mape};
pub use optimise::{Bounds, MAX_STARTS, Search, Start, multi_start, nelder_mead};
pub use output::{fit_to_toml, update_model_file};
pub use pooled::{
    CHAINS, Group, Pooled, PooledDiagnostics, PooledDraw, PooledParameter, PooledSettings,
    negative_binomial_ln, sample_pooled,
};
pub use spec::CalibrationSpec;
