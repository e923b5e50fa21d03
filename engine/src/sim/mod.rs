//! Running a compiled [`Program`]: per-run [`State`], the Euler and RK4
//! integrators, and [`Results`].
//!
//! ```
//! use carecascade_engine::{Model, Program};
//! use carecascade_engine::build::{Constant, Flow, Stock};
//!
//! let model = Model::builder("decay")
//!     .add(Stock::new("x", "100").outflow("loss"))
//!     .add(Flow::new("loss", "x * rate"))
//!     .add(Constant::new("rate", 0.1))
//!     .build()?;
//! let program = Program::compile(&model)?;
//! let mut state = program.state();
//! state.set("rate", 0.2)?; // no recompiling
//! let results = state.run()?;
//! assert!(results.final_value("x").unwrap() < 1.0);
//! # Ok::<(), carecascade_engine::Error>(())
//! ```

mod backend;
mod exec;
mod results;

pub use crate::program::Columns;
pub(crate) use backend::JitCache;
pub use backend::{Backend, Fallback};
pub(crate) use exec::Rings;
#[cfg(feature = "jit")]
pub(crate) use exec::{func1, func2, time_func};
pub use results::Results;

use crate::error::{Error, Result};
use crate::model::{Method, TimeSettings};
use crate::program::ops;
use crate::program::{ParamId, Program};
use exec::exec;
use ndarray::Array2;

/// The most runs per batch in ensembles: wide enough to pay an
/// interpreted operation's dispatch once for several runs and fill a
/// vector register. A large model compiled goes in narrower batches, so
/// that a batch's slots stay in cache ([`Program::batch_lanes`]).
pub const BATCH_LANES: usize = 8;

/// The buffers of one run: slots, parameter values, time settings and
/// integrator scratch space. Reuse one `State` for many runs of a program to
/// avoid reallocating; set parameters between runs without recompiling.
#[derive(Debug, Clone)]
pub struct State<'p> {
    lanes: Lanes<'p, 1>,
}

/// The buffers of `L` runs of one program advanced together, each with its
/// own parameter values: every operation is applied to all `L` runs before
/// the next, which is several times faster per run than [`State`] for
/// Monte Carlo ensembles. Every run gives exactly (bit for bit) what a
/// [`State`] with the same parameters gives.
///
/// ```
/// use carecascade_engine::{Model, Program};
/// use carecascade_engine::build::{Constant, Flow, Stock};
///
/// let model = Model::builder("decay")
///     .add(Stock::new("x", "100").outflow("loss"))
///     .add(Flow::new("loss", "x * rate"))
///     .add(Constant::new("rate", 0.1))
///     .build()?;
/// let program = Program::compile(&model)?;
/// let rate = program.parameter("rate")?;
/// let x = program.output_index("x").unwrap();
/// let mut batch = program.batch::<4>();
/// for lane in 0..4 {
///     batch.set_param(lane, rate, 0.1 * (lane + 1) as f64)?;
/// }
/// let mut last = [0.0; 4];
/// batch.run_observing(&mut |_, row| last = std::array::from_fn(|lane| row.get(x, lane).unwrap()))?;
/// assert!(last[0] > last[1] && last[1] > last[3]);
/// // The same as a run on its own.
/// let mut state = program.state();
/// state.set_param(rate, 0.2)?;
/// assert_eq!(state.run()?.final_value("x"), Some(last[1]));
/// # Ok::<(), carecascade_engine::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Batch<'p, const L: usize> {
    lanes: Lanes<'p, L>,
}

/// The failure of one run of a [`Batch`]: which lane, and its error. It
/// converts into its [`Error`] with `?`.
#[derive(Debug)]
pub struct LaneError {
    /// The lane whose run failed.
    pub lane: usize,
    /// What went wrong, as a run on its own would report it.
    pub error: Error,
}

impl std::fmt::Display for LaneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "run {} of the batch: {}", self.lane, self.error)
    }
}

impl std::error::Error for LaneError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<LaneError> for Error {
    fn from(e: LaneError) -> Error {
        e.error
    }
}

/// One save time's outputs of every run of a [`Batch`].
#[derive(Debug, Clone, Copy)]
pub struct BatchRow<'a, const L: usize> {
    outputs: &'a [f64],
}

impl<const L: usize> BatchRow<'_, L> {
    /// Output `output` (its position in [`Program::output_names`]) of the
    /// run in `lane`; `None` if either is out of range.
    #[inline]
    pub fn get(&self, output: usize, lane: usize) -> Option<f64> {
        if lane < L {
            let at = output.checked_mul(L)? + lane;
            self.outputs.get(at).copied()
        } else {
            None
        }
    }

    /// Every output of every run: output `c` of lane `l` at `c * L + l`
    /// (lanes innermost), for copying a row out at once.
    #[inline]
    pub fn values(&self) -> &[f64] {
        self.outputs
    }

    /// As [`BatchRow::get`], for indices known to be in range.
    #[inline]
    pub(crate) fn at(&self, output: usize, lane: usize) -> f64 {
        self.outputs[output * L + lane]
    }
}

impl Program {
    /// A fresh run state with the model's parameters and time settings.
    pub fn state(&self) -> State<'_> {
        State {
            lanes: Lanes::new(self),
        }
    }

    /// A fresh batch of `L` runs, each with the model's parameters and time
    /// settings.
    pub fn batch<const L: usize>(&self) -> Batch<'_, L> {
        Batch {
            lanes: Lanes::new(self),
        }
    }

    /// Runs the program once with its defaults.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] if a variable becomes NaN or infinite.
    pub fn run(&self) -> Result<Results> {
        self.state().run()
    }
}

impl<'p> State<'p> {
    /// The program this state runs.
    pub fn program(&self) -> &'p Program {
        self.lanes.program
    }

    /// Sets a parameter by name for the following runs.
    ///
    /// # Errors
    ///
    /// [`Error::Parameter`] if the model has no such constant (with the
    /// closest name); [`Error::Invalid`] if the value is not finite.
    pub fn set(&mut self, name: &str, value: f64) -> Result<()> {
        let id = self.lanes.program.parameter(name)?;
        self.set_param(id, value)
    }

    /// Sets a parameter found with [`Program::parameter`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the value is not finite.
    pub fn set_param(&mut self, id: ParamId, value: f64) -> Result<()> {
        self.lanes.set_param(0, id, value)
    }

    /// The current value of a parameter.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a parameter of another program.
    pub fn param(&self, id: ParamId) -> Result<f64> {
        self.lanes.check(0, id)?;
        Ok(self.lanes.params[id.0])
    }

    /// Restores every parameter to the model's value.
    pub fn reset_params(&mut self) {
        self.lanes.reset_params();
    }

    /// Changes the time settings for the following runs.
    pub fn set_time(&mut self, time: TimeSettings) {
        self.lanes.time = time;
    }

    /// Sets the seed of the random functions (`RANDOM NORMAL`, ...) for
    /// the following runs; 0 unless set. A run with the same seed draws
    /// the same numbers (each call of a random function in the model has
    /// its own ChaCha8 stream of this seed), on any machine and with any
    /// number of threads; they are not Vensim's or Stella's numbers.
    pub fn set_seed(&mut self, seed: u64) {
        self.lanes.seeds[0] = seed;
    }

    /// The seed of the random functions for the next run.
    pub fn seed(&self) -> u64 {
        self.lanes.seeds[0]
    }

    /// The time settings used by the next run.
    pub fn time(&self) -> &TimeSettings {
        &self.lanes.time
    }

    /// Chooses the back end of the following runs (by default
    /// [`Backend::process_default`]). Both give the same results bit for
    /// bit.
    pub fn set_backend(&mut self, backend: Backend) {
        self.lanes.set_backend(backend);
    }

    /// The back end asked for.
    pub fn backend(&self) -> Backend {
        self.lanes.backend
    }

    /// Runs with `kernels` (for tests that compile with special options).
    #[cfg(all(test, feature = "jit"))]
    pub(crate) fn use_kernels(&mut self, kernels: std::sync::Arc<crate::jit::Kernels>) {
        self.lanes.backend = Backend::Compiled;
        self.lanes.kernels = Some(kernels);
    }

    /// Why the last run, asked to run compiled, ran interpreted (`None` if
    /// it ran compiled, was asked to interpret, or nothing has run yet).
    pub fn fallback(&self) -> Option<&Fallback> {
        self.lanes.fallback.as_ref()
    }

    /// Runs the model from its initial values and returns every output at
    /// every save time.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] naming the first variable that became NaN or
    /// infinite and when; [`Error::Invalid`] if the results would keep
    /// more values than [`Limits::stored_values`](crate::Limits) or would
    /// not fit in memory.
    pub fn run(&mut self) -> Result<Results> {
        let program = self.lanes.program;
        let points = self.lanes.time.saved_points();
        let width = program.outputs.len();
        // A tiny dt with saving every step can ask for more memory than the
        // machine has: say so instead of aborting.
        let mut values = Vec::new();
        let mut times = Vec::new();
        let too_big = |_| Error::Invalid {
            what: "time settings".into(),
            message: format!(
                "saving {width} variables at {points} times needs more memory than is available; save less often (a larger save interval) or shorten the run"
            ),
        };
        points.checked_mul(width).ok_or(()).map_err(too_big)?;
        let limit = crate::Limits::current().stored_values;
        if (points as u128) * (width as u128) > u128::from(limit) {
            return Err(Error::Invalid {
                what: "time settings".into(),
                message: format!(
                    "saving {width} variables at {points} times keeps {} values, more than the limit of {} (save less often, shorten the run, or raise the limit with --max-values, or Limits::stored_values in the library)",
                    crate::limits::thousands(points as u128 * width as u128),
                    crate::limits::thousands(limit.into())
                ),
            });
        }
        values
            .try_reserve_exact(points * width)
            .map_err(|_| too_big(()))?;
        times.try_reserve_exact(points).map_err(|_| too_big(()))?;
        self.lanes
            .simulate(&mut Grown {
                values: &mut values,
                times: &mut times,
                width,
            })
            .map_err(|(_, e)| e)?;
        values.truncate(times.len() * width);
        let values = Array2::from_shape_vec((times.len(), width), values)
            .expect("one row of every output per saved time");
        Ok(Results::new(
            program.columns.clone(),
            times,
            values,
            self.lanes.time,
        ))
    }

    /// Runs the model and hands each save time's outputs to `observe`
    /// instead of storing them: `observe(time, row)` where `row` holds one
    /// value per [`Program::output_names`]. Use it to reduce a run as it
    /// goes (a yearly total, a peak) with memory that does not grow with
    /// the number of steps.
    ///
    /// ```
    /// # use carecascade_engine::{Model, Program};
    /// # use carecascade_engine::build::{Flow, Stock};
    /// # let model = Model::builder("m").add(Stock::new("x", "1").inflow("f")).add(Flow::new("f", "1")).build()?;
    /// let program = Program::compile(&model)?;
    /// let x = program.output_index("x").unwrap();
    /// let mut peak = f64::NEG_INFINITY;
    /// program.state().run_observing(&mut |_, row| peak = peak.max(row[x]))?;
    /// assert_eq!(peak, 101.0);
    /// # Ok::<(), carecascade_engine::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`State::run`].
    pub fn run_observing(&mut self, observe: &mut impl FnMut(f64, &[f64])) -> Result<()> {
        self.lanes
            .simulate(&mut |time: f64, row: &[f64]| observe(time, row))
            .map_err(|(_, e)| e)
    }

    /// Runs the model and writes every output at every save time into
    /// `rows`, one row of [`Program::output_names`] after another (the
    /// values of [`State::run`]'s [`Results::values`], row-major), without
    /// allocating: for a caller that keeps one buffer for many runs.
    /// Returns the number of rows written, the time settings'
    /// [`saved_points`](crate::TimeSettings::saved_points). A small
    /// compiled model's loop writes its rows straight into `rows`; the
    /// values are the same either way.
    ///
    /// ```
    /// # use carecascade_engine::{Model, Program};
    /// # use carecascade_engine::build::{Flow, Stock};
    /// # let model = Model::builder("m").add(Stock::new("x", "1").inflow("f")).add(Flow::new("f", "1")).build()?;
    /// let program = Program::compile(&model)?;
    /// let mut state = program.state();
    /// let width = program.output_names().len();
    /// let mut rows = vec![0.0; state.time().saved_points() * width];
    /// let saved = state.run_into(&mut rows)?;
    /// assert_eq!(rows, state.run()?.values().iter().copied().collect::<Vec<_>>());
    /// # assert_eq!(saved, state.time().saved_points());
    /// # Ok::<(), carecascade_engine::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`State::run`]; and [`Error::Invalid`] if `rows` is too short
    /// for every saved row, said before running (or, for a model whose
    /// save interval or final time is computed during the run, when the
    /// run saves more rows than fit; the rows that fit are written).
    pub fn run_into(&mut self, rows: &mut [f64]) -> Result<usize> {
        self.lanes.run_into(rows)?.map_err(|(_, e)| e)
    }
}

impl<'p, const L: usize> Batch<'p, L> {
    /// The program this batch runs.
    pub fn program(&self) -> &'p Program {
        self.lanes.program
    }

    /// Sets a parameter of the run in `lane`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the value is not finite, `lane` is not below
    /// `L`, or the parameter is another program's.
    pub fn set_param(&mut self, lane: usize, id: ParamId, value: f64) -> Result<()> {
        self.lanes.set_param(lane, id, value)
    }

    /// Sets the seed of the random functions of the run in `lane` (see
    /// [`State::set_seed`]).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if `lane` is not below `L`.
    pub fn set_seed(&mut self, lane: usize, seed: u64) -> Result<()> {
        self.lanes.check_lane(lane)?;
        self.lanes.seeds[lane] = seed;
        Ok(())
    }

    /// Gives the run in `lane` every parameter value of `state`, e.g. one
    /// prepared with a scenario's settings.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if `lane` is not below `L`, or `state` runs
    /// another program.
    pub fn set_params_from(&mut self, lane: usize, state: &State) -> Result<()> {
        self.lanes.check_lane(lane)?;
        self.lanes.seeds[lane] = state.seed();
        if state.program().id != self.lanes.program.id {
            return Err(Error::Invalid {
                what: "batch".into(),
                message: format!(
                    "the parameters of a run of `{}` cannot be given to a batch of `{}`",
                    state.program().name,
                    self.lanes.program.name
                ),
            });
        }
        let n = self.lanes.program.params.len();
        self.lanes.params[lane * n..(lane + 1) * n].copy_from_slice(&state.lanes.params);
        Ok(())
    }

    /// The value of a parameter in the run in `lane`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if `lane` is not below `L` or the parameter is
    /// another program's.
    pub fn param(&self, lane: usize, id: ParamId) -> Result<f64> {
        self.lanes.check(lane, id)?;
        Ok(self.lanes.params[lane * self.lanes.program.params.len() + id.0])
    }

    /// Restores every parameter of every run to the model's value.
    pub fn reset_params(&mut self) {
        self.lanes.reset_params();
    }

    /// Changes the time settings of the following runs (the same for all).
    pub fn set_time(&mut self, time: TimeSettings) {
        self.lanes.time = time;
    }

    /// The time settings used by the next run.
    pub fn time(&self) -> &TimeSettings {
        &self.lanes.time
    }

    /// Chooses the back end of the following runs, as
    /// [`State::set_backend`].
    pub fn set_backend(&mut self, backend: Backend) {
        self.lanes.set_backend(backend);
    }

    /// The back end asked for.
    pub fn backend(&self) -> Backend {
        self.lanes.backend
    }

    /// Runs with `kernels` (for tests that compile with special options).
    #[cfg(all(test, feature = "jit"))]
    pub(crate) fn use_kernels(&mut self, kernels: std::sync::Arc<crate::jit::Kernels>) {
        self.lanes.backend = Backend::Compiled;
        self.lanes.kernels = Some(kernels);
    }

    /// Why the last run, asked to run compiled, ran interpreted, as
    /// [`State::fallback`].
    pub fn fallback(&self) -> Option<&Fallback> {
        self.lanes.fallback.as_ref()
    }

    /// Runs all `L` runs and hands each save time's outputs to `observe`,
    /// as [`State::run_observing`] does for one run.
    ///
    /// # Errors
    ///
    /// A [`LaneError`] for the lowest lane whose run failed at the first
    /// step at which any failed: [`Error::NonFinite`] naming the variable
    /// and time, or the error of a `DELAY FIXED` time. A failed lane stops
    /// the whole batch.
    pub fn run_observing(
        &mut self,
        observe: &mut impl FnMut(f64, BatchRow<'_, L>),
    ) -> std::result::Result<(), LaneError> {
        self.lanes
            .simulate(&mut |time: f64, row: &[f64]| observe(time, BatchRow { outputs: row }))
            .map_err(|(lane, error)| LaneError { lane, error })
    }

    /// Runs all `L` runs and writes every output of every run at every
    /// save time into `rows`, one row after another, each row as
    /// [`BatchRow::values`] (output `c` of lane `l` at `c * L + l`),
    /// without allocating: [`State::run_into`] for a batch. Returns the
    /// number of rows written, the time settings'
    /// [`saved_points`](crate::TimeSettings::saved_points). A small
    /// compiled model's loop writes its rows straight into `rows`; the
    /// values are the same either way.
    ///
    /// ```
    /// # use carecascade_engine::{Model, Program};
    /// # use carecascade_engine::build::{Constant, Flow, Stock};
    /// # let model = Model::builder("m").add(Stock::new("x", "1").inflow("f")).add(Flow::new("f", "rate")).add(Constant::new("rate", 1.0)).build()?;
    /// let program = Program::compile(&model)?;
    /// let rate = program.parameter("rate")?;
    /// let mut batch = program.batch::<4>();
    /// for lane in 0..4 {
    ///     batch.set_param(lane, rate, lane as f64)?;
    /// }
    /// let width = program.output_names().len() * 4;
    /// let mut rows = vec![0.0; batch.time().saved_points() * width];
    /// // Refused (the outer error) or a run failed (the inner one).
    /// let saved = batch.run_into(&mut rows)??;
    /// let mut observed = Vec::new();
    /// batch.run_observing(&mut |_, row| observed.extend_from_slice(row.values()))?;
    /// assert_eq!(rows, observed);
    /// # assert_eq!(saved, batch.time().saved_points());
    /// # Ok::<(), carecascade_engine::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The outer error: [`Error::Invalid`] if `rows` is too short for
    /// every saved row, said before running (nothing is run). The inner
    /// one: as [`Batch::run_observing`], the lowest lane whose run failed;
    /// and for a model whose save interval or final time is computed
    /// during the run, [`Error::Invalid`] for lane 0 when the run saves
    /// more rows than fit (the rows that fit are written).
    pub fn run_into(&mut self, rows: &mut [f64]) -> Result<std::result::Result<usize, LaneError>> {
        Ok(self
            .lanes
            .run_into(rows)?
            .map_err(|(lane, error)| LaneError { lane, error }))
    }
}

/// The engine: `L` runs of one program, slot `i` of lane `l` at
/// `slots[i * L + l]`. [`State`] is one lane; [`Batch`] several.
#[derive(Debug, Clone)]
struct Lanes<'p, const L: usize> {
    program: &'p Program,
    slots: Vec<f64>,
    /// `params[lane * n + k]`: parameter `k` of lane `lane`.
    params: Vec<f64>,
    time: TimeSettings,
    /// Each lane's `DELAY FIXED` buffers and random streams.
    rings: Vec<Rings>,
    /// Each lane's seed for its random functions.
    seeds: [u64; L],
    stock_start: Vec<f64>,
    flow_sum: Vec<f64>,
    /// The back end asked for.
    backend: Backend,
    /// Why the compiled back end was asked for and not used.
    fallback: Option<Fallback>,
    /// The compiled code in use, if any.
    #[cfg(feature = "jit")]
    kernels: Option<std::sync::Arc<crate::jit::Kernels>>,
    /// The rows the compiled loop saves between calls of `record`, kept
    /// from run to run.
    #[cfg(feature = "jit")]
    saved: Vec<f64>,
}

/// The operation lists of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Init,
    Step,
    Derivative,
    /// `Step` then `Derivative`.
    Fused,
}

type LaneResult<T> = std::result::Result<T, (usize, Error)>;

/// Where a run's saved rows go: handed to [`Sink::record`] one at a time,
/// or, where the compiled loop saves rows itself (a small model), written
/// by it straight into [`Sink::room`] when the sink keeps its rows one
/// after another.
pub(crate) trait Sink {
    /// The row of one save time.
    fn record(&mut self, time: f64, row: &[f64]);

    /// Room for the next `rows` rows, one after another, which the
    /// compiled loop fills and then reports row by row with
    /// [`Sink::stored`]; `None` to be handed the rows instead.
    fn room(&mut self, _rows: usize) -> Option<&mut [f64]> {
        None
    }

    /// The next row of the last [`Sink::room`] was written, for `time`.
    fn stored(&mut self, _time: f64) {}
}

impl<F: FnMut(f64, &[f64])> Sink for F {
    fn record(&mut self, time: f64, row: &[f64]) {
        self(time, row);
    }
}

/// The rows of [`State::run`]: every output at every save time, in a
/// vector that grows by whole rows.
struct Grown<'a> {
    values: &'a mut Vec<f64>,
    times: &'a mut Vec<f64>,
    width: usize,
}

impl Sink for Grown<'_> {
    fn record(&mut self, time: f64, row: &[f64]) {
        // Rows given room but never stored (a compiled call stopped by a
        // NaN) are dropped before the replay's rows follow.
        self.values.truncate(self.times.len() * self.width);
        self.values.extend_from_slice(row);
        self.times.push(time);
    }

    fn room(&mut self, rows: usize) -> Option<&mut [f64]> {
        let at = self.times.len() * self.width;
        let end = rows.checked_mul(self.width)?.checked_add(at)?;
        if end > self.values.capacity() {
            // Only what was reserved: growing is the slow path's to do.
            return None;
        }
        self.values.resize(end, 0.0);
        Some(&mut self.values[at..])
    }

    fn stored(&mut self, time: f64) {
        self.times.push(time);
    }
}

/// The rows of [`State::run_into`]: a caller's slice, filled from the
/// start; `overflow` is set if the run saves more rows than it holds.
struct Filled<'a> {
    out: &'a mut [f64],
    width: usize,
    rows: usize,
    overflow: bool,
}

impl Sink for Filled<'_> {
    fn record(&mut self, _time: f64, row: &[f64]) {
        let at = self.rows * self.width;
        match self.out.get_mut(at..at + self.width) {
            Some(room) => {
                room.copy_from_slice(row);
                self.rows += 1;
            }
            None => self.overflow = true,
        }
    }

    fn room(&mut self, rows: usize) -> Option<&mut [f64]> {
        let at = self.rows * self.width;
        let end = rows.checked_mul(self.width)?.checked_add(at)?;
        self.out.get_mut(at..end)
    }

    fn stored(&mut self, _time: f64) {
        self.rows += 1;
    }
}

/// How many values the compiled loop saves per call at most (rows of
/// every output of every lane), unless one row is more.
#[cfg(feature = "jit")]
pub(crate) const SAVED_VALUES: usize = 4096;

impl<'p, const L: usize> Lanes<'p, L> {
    /// Runs into `rows` ([`State::run_into`], [`Batch::run_into`]): the
    /// outer error refuses a buffer too short for the rows the time
    /// settings save, before running; the inner one is a lane's failure,
    /// or (lane 0) a run that saved more rows than fit, where the save
    /// interval or final time is computed during the run.
    fn run_into(&mut self, rows: &mut [f64]) -> Result<LaneResult<usize>> {
        let width = self.program.outputs.len() * L;
        let points = self.time.saved_points();
        let given = rows.len();
        let short = move |needed: String| Error::Invalid {
            what: "the rows to run into".into(),
            message: format!(
                "{} values hold {} rows of {width} outputs, but the run saves {needed}; give at least saved_points() x output_names().len(){} values",
                given,
                given.checked_div(width).unwrap_or(0),
                if L > 1 { " x lanes" } else { "" },
            ),
        };
        if self.program.control.is_none() && points.checked_mul(width).is_none_or(|n| n > given) {
            return Err(short(format!("{points} rows")));
        }
        let mut sink = Filled {
            out: rows,
            width,
            rows: 0,
            overflow: false,
        };
        Ok(match self.simulate(&mut sink) {
            Err(e) => Err(e),
            Ok(()) if sink.overflow => Err((0, short(format!("more than {} rows", sink.rows)))),
            Ok(()) => Ok(sink.rows),
        })
    }

    fn new(program: &'p Program) -> Self {
        let defaults: Vec<f64> = program.params.iter().map(|p| p.default).collect();
        Lanes {
            program,
            slots: vec![0.0; program.base_slots.len() * L],
            params: defaults.repeat(L),
            time: program.time,
            rings: vec![Rings::default(); L],
            seeds: [0; L],
            stock_start: vec![0.0; program.integrated.len() * L],
            flow_sum: vec![0.0; program.flows.len() * L],
            backend: Backend::default_for_lanes(L),
            fallback: None,
            #[cfg(feature = "jit")]
            kernels: None,
            #[cfg(feature = "jit")]
            saved: Vec::new(),
        }
    }

    /// Refuses a lane out of range.
    fn check_lane(&self, lane: usize) -> Result<()> {
        if lane < L {
            Ok(())
        } else {
            Err(Error::Invalid {
                what: "batch".into(),
                message: format!("lane {lane} of a batch of {L} runs (lanes 0 to {})", L - 1),
            })
        }
    }

    /// Refuses a lane out of range or a parameter of another program.
    fn check(&self, lane: usize, id: ParamId) -> Result<()> {
        self.check_lane(lane)?;
        if id.1 != self.program.id || id.0 >= self.program.params.len() {
            return Err(Error::Invalid {
                what: "parameter".into(),
                message: format!(
                    "a parameter of another program, not of `{}` (look it up with this program's Program::parameter)",
                    self.program.name
                ),
            });
        }
        Ok(())
    }

    fn set_param(&mut self, lane: usize, id: ParamId, value: f64) -> Result<()> {
        self.check(lane, id)?;
        if !value.is_finite() {
            return Err(Error::Invalid {
                what: format!("value for `{}`", self.program.params[id.0].name),
                message: format!("expected a finite number, not {value}"),
            });
        }
        self.params[lane * self.program.params.len() + id.0] = value;
        Ok(())
    }

    fn reset_params(&mut self) {
        let n = self.program.params.len();
        for (k, value) in self.params.iter_mut().enumerate() {
            *value = self.program.params[k % n].default;
        }
    }

    /// Sets slot `slot` of every lane.
    #[inline]
    fn set_all(&mut self, slot: usize, value: f64) {
        self.slots[slot * L..(slot + 1) * L].fill(value);
    }

    /// Runs one of the program's operation lists over every lane's slots,
    /// compiled or interpreted.
    #[inline]
    fn exec(&mut self, part: Part) {
        #[cfg(feature = "jit")]
        if let Some(kernels) = &self.kernels {
            let program = self.program;
            let (slots, rings) = (&mut self.slots, &self.rings);
            use crate::jit::Part as Jit;
            let done = match part {
                Part::Init => kernels.run(Jit::Init, program, slots, rings),
                Part::Step => kernels.run(Jit::Step, program, slots, rings),
                Part::Derivative => kernels.run(Jit::Derivative, program, slots, rings),
                Part::Fused => kernels
                    .run(Jit::Step, program, slots, rings)
                    .and_then(|()| kernels.run(Jit::Derivative, program, slots, rings)),
            };
            match done {
                Ok(()) => return,
                // The lists could not be compiled (nothing ran): this and
                // the following runs are interpreted.
                Err(fallback) => {
                    self.fallback = Some(fallback);
                    self.kernels = None;
                }
            }
        }
        self.interpret(part);
    }

    /// Runs one of the program's operation lists in the interpreter.
    #[inline]
    fn interpret(&mut self, part: Part) {
        let program = self.program;
        let code = match part {
            Part::Init => &program.init_ops,
            Part::Step => &program.step_ops,
            Part::Derivative => &program.derivative_ops,
            Part::Fused => &program.fused_ops,
        };
        exec::<L>(code, &mut self.slots, &program.tables, &mut self.rings);
    }

    /// Picks the back end for the next run: the compiled code for `L`
    /// lanes when asked for and available, else the interpreter with the
    /// reason kept.
    fn prepare_backend(&mut self) {
        #[cfg(feature = "jit")]
        {
            let wanted = self.backend == Backend::Compiled;
            let have = self.kernels.as_ref().is_some_and(|k| k.lanes() == L);
            if wanted && !have && self.fallback.is_none() {
                match self.program.jit.get(self.program, L) {
                    Ok(kernels) => self.kernels = Some(kernels),
                    Err(fallback) => self.fallback = Some(fallback),
                }
            } else if !wanted {
                self.kernels = None;
            }
        }
        #[cfg(not(feature = "jit"))]
        if self.backend == Backend::Compiled && self.fallback.is_none() {
            self.fallback = self.program.native_code().err();
        }
    }

    fn set_backend(&mut self, backend: Backend) {
        if backend != self.backend {
            self.backend = backend;
            self.fallback = None;
            #[cfg(feature = "jit")]
            {
                self.kernels = None;
            }
        }
    }

    fn initialise(&mut self) -> LaneResult<()> {
        self.initialise_with(Self::exec)
    }

    /// As [`Lanes::initialise`], the initial values evaluated by `exec`.
    fn initialise_with(&mut self, exec: fn(&mut Self, Part)) -> LaneResult<()> {
        let program = self.program;
        for (i, &value) in program.base_slots.iter().enumerate() {
            self.set_all(i, value);
        }
        let n = program.params.len();
        for (k, p) in program.params.iter().enumerate() {
            for lane in 0..L {
                self.slots[p.slot as usize * L + lane] = self.params[lane * n + k];
            }
        }
        let time = self.time;
        self.set_all(ops::TIME, time.start());
        self.set_all(ops::DT, time.dt());
        self.set_all(ops::INITIAL_TIME, time.start());
        self.set_all(ops::FINAL_TIME, time.stop());
        self.set_all(ops::SAVE_INTERVAL, time.save_interval());
        // Every run starts each random stream afresh from its seed, so that
        // a run is the same whenever it is made.
        for (rings, &seed) in self.rings.iter_mut().zip(&self.seeds) {
            rings.random.clear();
            rings
                .random
                .extend(program.random_streams.iter().map(|&key| {
                    let mut rng =
                        <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed);
                    rng.set_stream(key);
                    rng
                }));
        }
        exec(self, Part::Init);
        self.check_finite(time.start())?;

        // DELAY FIXED: one slot per step of delay, filled with the initial
        // value. The delay may differ between lanes. All the buffers of a
        // run together keep at most Limits::stored_values values.
        let limit = crate::Limits::current().stored_values;
        for (lane, rings) in self.rings.iter_mut().enumerate() {
            rings.data.clear();
            rings.rings.clear();
            for ring in &program.rings {
                let delay = self.slots[ring.delay as usize * L + lane];
                let steps = (delay / time.dt()).round();
                if !(0.0..1e8).contains(&steps) {
                    return Err((
                        lane,
                        Error::Invalid {
                            what: "DELAY FIXED delay time".into(),
                            message: format!(
                                "expected a non-negative number of at most 1e8 steps, got {delay}"
                            ),
                        },
                    ));
                }
                // A delay shorter than one step is one step: the output never
                // depends on the input of the same step.
                let len = (steps as usize).max(1);
                let start = rings.data.len();
                if (start + len) as u64 > limit {
                    return Err((
                        lane,
                        Error::Invalid {
                            what: "DELAY FIXED delay time".into(),
                            message: format!(
                                "a delay of {delay} is {} steps of dt {}, and the run's DELAY FIXED buffers would keep {} values, more than the limit of {} (a larger dt, a shorter delay, or raise the limit with --max-values, or Limits::stored_values in the library)",
                                crate::limits::thousands(len as u128),
                                time.dt(),
                                crate::limits::thousands((start + len) as u128),
                                crate::limits::thousands(limit.into())
                            ),
                        },
                    ));
                }
                let initial = self.slots[ring.initial as usize * L + lane];
                rings.data.resize(start + len, initial);
                rings.rings.push((start, len, 0));
            }
        }
        Ok(())
    }

    /// The outputs of every lane (lanes innermost): one saved row.
    #[inline]
    fn row(&self) -> &[f64] {
        let outputs = &self.program.outputs;
        &self.slots[outputs.start * L..outputs.end * L]
    }

    /// Runs the lanes, handing `record` each save time and its row of
    /// outputs ([`Lanes::row`]).
    fn simulate(&mut self, record: &mut impl Sink) -> LaneResult<()> {
        self.prepare_backend();
        if let Some(control) = self.program.control {
            return self.simulate_controlled(control, record);
        }
        #[cfg(feature = "jit")]
        if let Some(kernels) = self.kernels.clone()
            && kernels.has_loop(self.program, self.time.method() == Method::Rk4)
        {
            return self.simulate_compiled(&kernels, record);
        }
        self.simulate_steps(record)
    }

    /// Runs with the compiled step loop (Euler or Runge-Kutta): several
    /// save times in one call, which writes their rows into the sink's
    /// room for them if it has some ([`Sink::room`]), else into a buffer
    /// that `record` is then handed row by row (under Euler a small model's
    /// stocks and net flows stay in registers throughout the call). A NaN
    /// or infinity stops the loop, and the run is replayed in the
    /// interpreter to name the variable and time as it would, recording
    /// the rows not yet recorded (those of the failed call before the
    /// failure among them).
    #[cfg(feature = "jit")]
    fn simulate_compiled(
        &mut self,
        kernels: &crate::jit::Kernels,
        record: &mut impl Sink,
    ) -> LaneResult<()> {
        // The initial values and the first evaluation, once per run, are
        // interpreted (bit for bit the same), so that only the loop is
        // compiled.
        self.initialise_with(Self::interpret)?;
        let program = self.program;
        let time = self.time;
        let (steps, every, dt) = (time.steps(), time.save_every(), time.dt());
        let rk4 = time.method() == Method::Rk4;
        self.set_all(ops::TIME, time.start());
        // Limiting sits between the flows and the net flows only under
        // Euler, as in `simulate_steps`.
        if program.non_negative.is_empty() || rk4 {
            self.interpret(Part::Fused);
        } else {
            self.interpret(Part::Step);
            self.limit_outflows(dt);
            self.interpret(Part::Derivative);
        }
        self.check_finite(time.start())?;
        record.record(time.start(), self.row());
        let mut recorded = 1;
        let mut step = 0;
        let mut saved = std::mem::take(&mut self.saved);
        let mut stepper = kernels.stepper(program, &mut self.slots, &mut self.rings, rk4);
        let row = stepper.row();
        // Several save times per call, their rows written into `saved`
        // (about 32 KiB, so that they are read back from the cache).
        let rows = (SAVED_VALUES / row.max(1)).max(1);
        let one_group = stepper.one_group();
        if stepper.saves_rows() && one_group {
            saved.resize(rows * row, 0.0);
        }
        let outputs = program.outputs.start * L..program.outputs.end * L;
        let mut failed = false;
        while step < steps {
            let n = (rows * every).min(steps - step);
            let count = n.div_ceil(every);
            // The rows written by the loop straight into the sink's, where
            // it keeps them one after another; a loop of one group of
            // lanes writes them into `saved` otherwise, to be handed on.
            // Else the loop is called once per save time, and the row read
            // from the slots: in several groups, its copy into `saved`
            // cost more than the calls it saved (SIR in lanes of 8, whole
            // process: 1.3-1.45x the time, alternating).
            let room = if stepper.saves_rows() {
                record.room(count)
            } else {
                None
            };
            if let Some(room) = room {
                if stepper.advance(step, n, time.start(), dt, Some(room), every) != 0 {
                    failed = true;
                    break;
                }
                for r in 0..count {
                    record.stored(time.time_at((step + (r + 1) * every).min(steps)));
                }
            } else if stepper.saves_rows() && one_group {
                if stepper.advance(step, n, time.start(), dt, Some(&mut saved), every) != 0 {
                    failed = true;
                    break;
                }
                for r in 0..count {
                    let t = time.time_at((step + (r + 1) * every).min(steps));
                    record.record(t, &saved[r * row..(r + 1) * row]);
                }
            } else {
                let end = step + n;
                while step < end {
                    let n = every.min(end - step);
                    if stepper.advance(step, n, time.start(), dt, None, every) != 0 {
                        failed = true;
                        break;
                    }
                    step += n;
                    record.record(time.time_at(step), &stepper.slots()[outputs.clone()]);
                    recorded += 1;
                }
                if failed {
                    break;
                }
                continue;
            }
            recorded += count;
            step += n;
        }
        self.saved = saved;
        if failed {
            // The rows of the failed call before the failure are
            // recorded by the replay.
            return self.replay(record, recorded);
        }
        Ok(())
    }

    /// A run that the compiled loop stopped, after it recorded `recorded`
    /// rows: the interpreter runs it again from the start and names the
    /// variable and time of the first NaN or infinity as it always does,
    /// or, if the compiled test gave a false alarm (a sum of tested values
    /// that overflowed), finishes the run, recording the rows not yet
    /// recorded.
    #[cfg(feature = "jit")]
    fn replay(&mut self, record: &mut impl Sink, recorded: usize) -> LaneResult<()> {
        let kernels = self.kernels.take();
        let mut seen = 0;
        let result = self.simulate_steps(&mut |time: f64, slots: &[f64]| {
            if seen >= recorded {
                record.record(time, slots);
            }
            seen += 1;
        });
        self.kernels = kernels;
        result
    }

    /// Runs step by step, each list of operations compiled or interpreted.
    fn simulate_steps(&mut self, record: &mut impl Sink) -> LaneResult<()> {
        self.initialise()?;
        let program = self.program;
        let time = self.time;
        let steps = time.steps();
        let every = time.save_every();
        let dt = time.dt();
        let mut until_save = 0;
        // Limiting sits between the flows and the net flows of stocks under
        // Euler; otherwise one pass evaluates both.
        let limit = time.method() == Method::Euler && !program.non_negative.is_empty();
        for step in 0..=steps {
            let t = time.time_at(step);
            self.set_all(ops::TIME, t);
            if limit {
                self.exec(Part::Step);
                self.limit_outflows(dt);
                self.exec(Part::Derivative);
            } else {
                self.exec(Part::Fused);
            }
            self.check_finite(t)?;
            if until_save == 0 || step == steps {
                record.record(t, self.row());
                until_save = every;
            }
            until_save -= 1;
            if step == steps {
                break;
            }
            for (lane, rings) in self.rings.iter_mut().enumerate() {
                for (i, ring) in program.rings.iter().enumerate() {
                    rings.push(i, self.slots[ring.input as usize * L + lane]);
                }
            }
            match time.method() {
                Method::Euler => self.integrate(dt),
                Method::Rk4 => self.rk4_step(t, dt),
            }
        }
        Ok(())
    }

    /// Runs a model whose control settings are computed during the run:
    /// after each evaluation the step reads `TIME STEP`, `SAVEPER` and
    /// `FINAL TIME` from their variables (every lane must agree on them)
    /// and integrates with Euler or RK4 over that step.
    fn simulate_controlled(
        &mut self,
        control: crate::program::ControlSlots,
        record: &mut impl Sink,
    ) -> LaneResult<()> {
        let invalid = |message: String| {
            (
                0,
                Error::Invalid {
                    what: "control variables".into(),
                    message,
                },
            )
        };
        if control.time_step.is_some() && !self.program.rings.is_empty() {
            return Err(invalid(
                "DELAY FIXED needs a TIME STEP that stays the same during the run".into(),
            ));
        }
        self.initialise()?;
        let program = self.program;
        let time = self.time;
        let rk4 = time.method() == Method::Rk4;
        let mut t = time.start();
        let mut next_save = t;
        let mut steps: u64 = 0;
        loop {
            self.set_all(ops::TIME, t);
            self.exec(Part::Step);
            self.check_finite(t)?;
            let read = |lanes: &Self, slot: Option<u32>, fixed: f64, what: &str| {
                let Some(slot) = slot else { return Ok(fixed) };
                let values = &lanes.slots[slot as usize * L..(slot as usize + 1) * L];
                if values.iter().any(|v| v.to_bits() != values[0].to_bits()) {
                    return Err(invalid(format!(
                        "the runs of a batch have different values of {what} at time {t} ({values:?}); run them one at a time"
                    )));
                }
                Ok(values[0])
            };
            let dt = read(self, control.time_step, time.dt(), "TIME STEP")?;
            let save = read(self, control.saveper, time.save_interval(), "SAVEPER")?;
            let stop = read(self, control.final_time, time.stop(), "FINAL TIME")?;
            if !(dt > 0.0 && dt.is_finite()) {
                return Err(invalid(format!(
                    "TIME STEP is {dt} at time {t}; it must be a positive number"
                )));
            }
            if !(save > 0.0 && save.is_finite()) {
                return Err(invalid(format!(
                    "SAVEPER is {save} at time {t}; it must be a positive number"
                )));
            }
            self.set_all(ops::DT, dt);
            self.set_all(ops::SAVE_INTERVAL, save);
            self.set_all(ops::FINAL_TIME, stop);
            // Under RK4 the step's own evaluation is its first stage, not
            // limited (as in `simulate_steps`).
            if rk4 {
                self.exec(Part::Derivative);
            } else {
                if !program.non_negative.is_empty() {
                    self.limit_outflows(dt);
                }
                self.exec(Part::Derivative);
            }
            // Times that are sums of steps are not exact in binary: a
            // millionth of a step is "reached".
            let tolerance = dt * 1e-6;
            let last = t + tolerance >= stop;
            if t + tolerance >= next_save || last {
                record.record(t, self.row());
                next_save = t + save;
            }
            if last {
                return Ok(());
            }
            steps += 1;
            if steps > crate::model::MAX_STEPS {
                return Err(invalid(format!(
                    "the run took {} steps without reaching FINAL TIME ({stop} at time {t})",
                    crate::model::MAX_STEPS
                )));
            }
            for (lane, rings) in self.rings.iter_mut().enumerate() {
                for (i, ring) in program.rings.iter().enumerate() {
                    rings.push(i, self.slots[ring.input as usize * L + lane]);
                }
            }
            if rk4 {
                // The stages read the step's TIME STEP (set above) and
                // compute the control variables again; the next step
                // reads them afresh at its own time.
                self.rk4_step(t, dt);
            } else {
                self.integrate(dt);
            }
            t += dt;
        }
    }

    /// `stock += dt * net flow`, with the net flows in their slots.
    #[inline]
    fn integrate(&mut self, dt: f64) {
        let program = self.program;
        for &i in &program.non_negative {
            let slot = program.stocks[i].slot as usize;
            let at = (slot - program.integrated.start) * L;
            self.stock_start[at..at + L].copy_from_slice(&self.slots[slot * L..(slot + 1) * L]);
        }
        let (head, tail) = self.slots.split_at_mut(program.derivatives * L);
        let stocks = &mut head[program.integrated.start * L..program.integrated.end * L];
        let n = stocks.len();
        for (stock, derivative) in stocks.iter_mut().zip(&tail[..n]) {
            *stock += dt * derivative;
        }
        for &i in &program.non_negative {
            // Only rounding can take a limited stock below zero, or below
            // where it was if it was already below zero: XMILE 1.0 limits a
            // non-negative stock's outflows and nothing else, so a negative
            // initial value stays (and inflows raise it), and no mass is
            // created by resetting it to zero.
            let slot = program.stocks[i].slot as usize;
            let at = (slot - program.integrated.start) * L;
            for (value, before) in self.slots[slot * L..(slot + 1) * L]
                .iter_mut()
                .zip(&self.stock_start[at..at + L])
            {
                // Not `before.min(0.0)`, which may give either zero for
                // -0.0: the compiled code must know which.
                let floor = if *before < 0.0 { *before } else { 0.0 };
                if *value < floor {
                    *value = floor;
                }
            }
        }
    }

    /// Scales down the outflows of non-negative stocks so that none removes
    /// more than the stock holds plus what flows in during the step, lane by
    /// lane.
    ///
    /// A flow reduced for one stock is reduced for every stock it connects,
    /// so the proportional passes repeat until nothing changes. Loops of
    /// flows among nearly empty stocks can converge only geometrically; if
    /// the passes have not settled, a last pass counts only supply that no
    /// limit can reduce, which is safe for every stock at once.
    fn limit_outflows(&mut self, dt: f64) {
        limit_outflows::<L>(self.program, &mut self.slots, dt, 0..L);
    }

    /// One classical Runge-Kutta step. The flows of the four stages are
    /// averaged with weights 1, 2, 2, 1 and the stocks advanced with the
    /// average, so that every stock still balances its flows exactly and
    /// non-negative stocks are limited as under Euler.
    fn rk4_step(&mut self, t: f64, dt: f64) {
        let program = self.program;
        let stocks = program.integrated.start * L..program.integrated.end * L;
        self.stock_start
            .copy_from_slice(&self.slots[stocks.clone()]);
        for (k, &f) in program.flows.iter().enumerate() {
            let f = f as usize * L;
            self.flow_sum[k * L..(k + 1) * L].copy_from_slice(&self.slots[f..f + L]);
        }
        for (stage_time, weight, advance) in [
            (t + dt / 2.0, 2.0, dt / 2.0),
            (t + dt / 2.0, 2.0, dt / 2.0),
            (t + dt, 1.0, dt),
        ] {
            // Stocks at this stage: start + advance * (net flows of the last stage).
            self.advance_from_start(advance);
            self.set_all(ops::TIME, stage_time);
            self.exec(Part::Fused);
            for (k, &f) in program.flows.iter().enumerate() {
                let f = f as usize * L;
                for (sum, v) in self.flow_sum[k * L..(k + 1) * L]
                    .iter_mut()
                    .zip(&self.slots[f..f + L])
                {
                    *sum += weight * v;
                }
            }
        }
        for (k, &f) in program.flows.iter().enumerate() {
            let f = f as usize * L;
            for (v, sum) in self.slots[f..f + L]
                .iter_mut()
                .zip(&self.flow_sum[k * L..(k + 1) * L])
            {
                *v = sum / 6.0;
            }
        }
        self.slots[stocks].copy_from_slice(&self.stock_start);
        if !program.non_negative.is_empty() {
            self.limit_outflows(dt);
        }
        self.exec(Part::Derivative);
        self.integrate(dt);
    }

    /// Sets the stocks to their values at the start of the step plus
    /// `advance` times the net flows now in the derivative slots.
    fn advance_from_start(&mut self, advance: f64) {
        let program = self.program;
        let (head, tail) = self.slots.split_at_mut(program.derivatives * L);
        let stocks = &mut head[program.integrated.start * L..program.integrated.end * L];
        for ((stock, start), derivative) in stocks
            .iter_mut()
            .zip(&self.stock_start)
            .zip(&tail[..self.stock_start.len()])
        {
            *stock = start + advance * derivative;
        }
    }

    /// Stops the runs at the first NaN or infinity, naming the lane and the
    /// variable.
    #[inline(always)]
    fn check_finite(&self, time: f64) -> LaneResult<()> {
        let checked = &self.program.checked;
        let region = &self.slots[checked.start * L..checked.end * L];
        // A value is NaN or infinite when its exponent bits are all ones. An
        // OR of independent integer tests vectorises; a float sum would be
        // a chain of dependent additions.
        const EXPONENT: u64 = 0x7ff0_0000_0000_0000;
        let bad = region.iter().fold(0u64, |acc, x| {
            acc | u64::from(x.to_bits() & EXPONENT == EXPONENT)
        });
        if bad == 0 {
            return Ok(());
        }
        for lane in 0..L {
            for (slot, name) in &self.program.check_order {
                let value = self.slots[*slot as usize * L + lane];
                if !value.is_finite() {
                    let hint = if value.is_nan()
                        && self.program.whole_division.binary_search(slot).is_ok()
                    {
                        "its `//` may have a negative quotient that is not whole: whether Stella rounds it down or towards zero could not be established, so it is not guessed (write INT(a / b) to round down); else check for 0/0, the square root or logarithm of a negative number, or inf - inf"
                    } else if value.is_nan() {
                        "check for 0/0, the square root or logarithm of a negative number, or inf - inf"
                    } else {
                        "check for division by zero, or a stock growing without bound (try a smaller dt)"
                    };
                    return Err((
                        lane,
                        Error::NonFinite {
                            variable: name.clone(),
                            time,
                            value,
                            hint: hint.into(),
                        },
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Scales down the outflows of non-negative stocks in `L` lanes' slots so
/// that none removes more than the stock holds plus what flows in during
/// the step (see `Lanes::limit_outflows`), in `lanes`; also called by
/// compiled code.
pub(crate) fn limit_outflows<const L: usize>(
    program: &Program,
    slots: &mut [f64],
    dt: f64,
    lanes: std::ops::Range<usize>,
) {
    const PASSES: usize = 16;
    if program.non_negative.is_empty() {
        return;
    }
    let terms = &program.flow_terms;
    for lane in lanes {
        let at = |slot: u32| slot as usize * L + lane;
        for pass in 0..=PASSES {
            let certain_only = pass == PASSES;
            let mut changed = false;
            for &i in &program.non_negative {
                let stock = program.stocks[i];
                let inflows = &terms[stock.first_in as usize..stock.first_out as usize];
                let outflows = &terms[stock.first_out as usize..stock.end as usize];
                let counts = |f: u32| !certain_only || program.limited.binary_search(&f).is_err();
                // Supply: positive inflows and negative outflows; demand: the rest.
                let (mut supply, mut demand) = (0.0, 0.0);
                for &f in inflows {
                    let v = slots[at(f)];
                    if v < 0.0 {
                        demand -= v;
                    } else if counts(f) {
                        supply += v;
                    }
                }
                for &f in outflows {
                    let v = slots[at(f)];
                    if v > 0.0 {
                        demand += v;
                    } else if counts(f) {
                        supply -= v;
                    }
                }
                let available = slots[at(stock.slot)] + dt * supply;
                if demand > 0.0 && dt * demand > available && program.outflows_in_order {
                    // XMILE: the outflows in the order listed (then any
                    // negative inflows), each taking what it asks while
                    // the stock lasts.
                    let mut left = available.max(0.0);
                    for &f in outflows {
                        let v = slots[at(f)];
                        if v > 0.0 {
                            let take = (dt * v).min(left);
                            left -= take;
                            slots[at(f)] = take / dt;
                        }
                    }
                    for &f in inflows {
                        let v = slots[at(f)];
                        if v < 0.0 {
                            let take = (-dt * v).min(left);
                            left -= take;
                            slots[at(f)] = -take / dt;
                        }
                    }
                    changed = true;
                } else if demand > 0.0 && dt * demand > available {
                    let scale = (available / (dt * demand)).max(0.0);
                    for &f in inflows {
                        if slots[at(f)] < 0.0 {
                            slots[at(f)] *= scale;
                        }
                    }
                    for &f in outflows {
                        if slots[at(f)] > 0.0 {
                            slots[at(f)] *= scale;
                        }
                    }
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }
}
