//! Monte Carlo ensembles of a scenario, run in parallel with rayon, and
//! their statistics.
//!
//! **Reproducibility.** Every draw comes from a ChaCha8 generator
//! (`rand_chacha`, portable across platforms) keyed by the scenario's seed
//! and the parameter's name, on a stream numbered by the run: run `i` of
//! any scenario draws the same value of a parameter of the same name and
//! distribution, whatever else the scenario contains, on any number of
//! threads, in any shard. That is what makes comparisons use common random
//! numbers. Runs are collected in run order, so results are bit-identical
//! for 1 or N threads and for any split into shards.
//!
//! **Speed.** Runs go in batches (a [`crate::Batch`]) of
//! [`crate::Program::batch_lanes`] runs ([`BATCH_LANES`], or fewer for a
//! large model compiled, so that a batch's values stay in cache): each
//! operation is applied to every run of the batch before the next, which
//! is several times faster per run than one at a time and gives exactly
//! the same numbers, whatever the batch's size.
//!
//! **Memory.** Each run keeps only its values of the stored indicators by
//! period (one allocation, a [`PeriodValues`]), its draws and its
//! scalars, not its steps: 100,000 runs of 13 indicators over 11 periods
//! hold about 115 MB of values in memory ([`run_scenarios`]). Exact
//! quantiles need every value, but not all at once:
//! [`run_scenarios_on_disk`] (the command line's `run` and `compare`)
//! keeps the runs in a temporary file, [`WINDOW`] runs at a time in
//! memory, and reads one indicator and period over every run (8 bytes a
//! run) for each statistic, so memory hardly grows with the runs and
//! every file written is the same, byte for byte.
//!
//! **Any model.** What a run keeps is what its scenario asks for: the
//! indicators by period (a [`crate::projection::Projector`]) and the
//! scalars of `[report.scalars]`; nothing here knows any particular model.

mod compare;
mod files;
mod outcome;
mod plan;
mod run;
mod shards;
mod spill;
mod stats;

pub use compare::{Comparison, CostComparison, PeriodComparison, compare};
pub use outcome::{EachRun, Ensemble, Kind, Outcome};
pub use plan::{Piece, PieceStatus, Plan, PlanObserver, PlanReport, merge_plan, plan_partials};
pub use run::{
    MAX_ENSEMBLE_BYTES, RunOptions, WINDOW, check_together, ensemble_bytes, run_scenarios,
    run_scenarios_on_disk,
};
pub use shards::{Shard, merge};
pub use stats::{Sample, Stats, quantile};

use crate::error::{Error, Result};
use crate::projection::Projection;
use crate::scenario::Resolved;
use crate::scenario::{Prepared, Reduce, Sampling};
use crate::sim::BATCH_LANES;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The generator and how it is keyed, as recorded in outputs.
pub const GENERATOR: &str = "ChaCha8Rng (rand_chacha 0.10), seeded with seed XOR FNV-1a(parameter name), stream = run index";

/// FNV-1a of a parameter's canonical name: a stable key, the same on every
/// platform and version.
fn key(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in crate::name::canonical_name(name).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The key of the seeds of the model's own random functions.
const MODEL_NOISE_KEY: &str = "\u{0}model random functions";

fn generator(seed: u64, name: &str, stream: u64) -> ChaCha8Rng {
    keyed_generator(seed, key(name), stream)
}

/// [`generator`] for a name whose [`key`] is `key` (computed once, not
/// per run: it canonicalises the name).
fn keyed_generator(seed: u64, key: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ key);
    rng.set_stream(stream);
    rng
}

/// Draws the uncertain parameters of an ensemble's runs. For Latin
/// hypercube sampling it holds each parameter's permutation of strata,
/// computed once per ensemble.
#[derive(Debug, Clone)]
pub struct Sampler {
    seed: u64,
    runs: usize,
    sampling: Sampling,
    /// (name, distribution, strata by run from `strata_first`).
    parameters: Vec<(String, crate::scenario::Distribution, Vec<u32>)>,
    /// The [`key`] of each of `parameters`' names, then of
    /// [`POSTERIOR_KEY`] and [`MODEL_NOISE_KEY`].
    keys: Vec<u64>,
    /// The first run whose stratum `parameters` holds (0 but in a window
    /// of [`Strata::window`]).
    strata_first: usize,
    /// The posterior's rows, if the scenario draws from one.
    posterior: Option<std::sync::Arc<Vec<Vec<f64>>>>,
    /// Given draws, one row per run, instead of drawing (a design).
    fixed: Option<std::sync::Arc<Vec<Vec<f64>>>>,
}

/// The name whose generator picks a run's posterior draw.
const POSTERIOR_KEY: &str = "posterior draw";

impl Sampler {
    /// The sampler of an ensemble of `runs` runs of a prepared scenario.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for 0 runs or more than
    /// [`MAX_RUNS`](crate::scenario::MAX_RUNS).
    pub fn new(prepared: &Prepared, runs: usize) -> Result<Sampler> {
        Sampler::with_strata(prepared, runs, true)
    }

    /// As [`Sampler::new`], with the strata of Latin hypercube sampling
    /// (`strata`) or without them, for [`Strata`] to hold.
    fn with_strata(prepared: &Prepared, runs: usize, strata: bool) -> Result<Sampler> {
        if runs == 0 || runs > crate::scenario::MAX_RUNS {
            return Err(Error::Invalid {
                what: "ensemble".into(),
                message: format!(
                    "{runs} runs: an ensemble has 1 to {} runs",
                    crate::scenario::MAX_RUNS
                ),
            });
        }
        let s = prepared.scenario();
        let parameters: Vec<(String, crate::scenario::Distribution, Vec<u32>)> = prepared
            .uncertain()
            .iter()
            .map(|(name, _, d)| {
                let strata = match s.sampling() {
                    Sampling::LatinHypercube if strata => lhs_strata(s.seed(), name, runs),
                    _ => Vec::new(),
                };
                (name.clone(), *d, strata)
            })
            .collect();
        let keys = parameters
            .iter()
            .map(|(name, _, _)| name.as_str())
            .chain([POSTERIOR_KEY, MODEL_NOISE_KEY])
            .map(key)
            .collect();
        Ok(Sampler {
            seed: s.seed(),
            runs,
            sampling: s.sampling(),
            parameters,
            keys,
            strata_first: 0,
            posterior: prepared
                .posterior()
                .map(|p| std::sync::Arc::new(p.rows.clone())),
            fixed: None,
        })
    }

    /// A sampler that draws nothing: run `i` takes `rows[i]`, the values of
    /// [`Prepared::drawn`] in that order (for example the points of a
    /// sensitivity design).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for no rows, more than
    /// [`MAX_RUNS`](crate::scenario::MAX_RUNS), or a row whose length is not
    /// the number of drawn parameters.
    pub fn fixed(prepared: &Prepared, rows: Vec<Vec<f64>>) -> Result<Sampler> {
        let mut sampler = Sampler::new(prepared, rows.len())?;
        let width = prepared.drawn().len();
        if let Some(k) = rows.iter().position(|r| r.len() != width) {
            return Err(Error::Invalid {
                what: "ensemble".into(),
                message: format!(
                    "row {k} of the given draws has {} values but scenario `{}` draws {width}",
                    rows[k].len(),
                    prepared.scenario().name()
                ),
            });
        }
        sampler.parameters.clear();
        sampler.keys = [POSTERIOR_KEY, MODEL_NOISE_KEY].map(key).to_vec();
        sampler.posterior = None;
        sampler.fixed = Some(std::sync::Arc::new(rows));
        Ok(sampler)
    }

    /// The row of the posterior run `run` takes (drawn uniformly from its
    /// own stream, so that every scenario with the same seed gives run `run`
    /// the same row: common random numbers).
    pub fn posterior_row(&self, run: usize) -> Option<usize> {
        let rows = self.posterior.as_ref()?;
        let posterior_key = self.keys[self.keys.len() - 2];
        let mut rng = keyed_generator(self.seed, posterior_key, run as u64);
        Some(rng.random_range(0..rows.len()))
    }

    /// The value of each uncertain parameter in run `run`, then the
    /// posterior's parameters of its row (see [`Prepared::drawn`]).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] unless `run` is below the sampler's runs.
    pub fn draws(&self, run: usize) -> Result<Vec<f64>> {
        if run >= self.runs {
            return Err(Error::Invalid {
                what: "ensemble".into(),
                message: format!(
                    "run {run} of an ensemble of {} (runs are numbered from 0)",
                    self.runs
                ),
            });
        }
        if let Some(rows) = &self.fixed {
            return Ok(rows[run].clone());
        }
        let mut out = self.uncertain_draws(run);
        if let (Some(rows), Some(row)) = (&self.posterior, self.posterior_row(run)) {
            out.extend_from_slice(&rows[row]);
        }
        Ok(out)
    }

    fn uncertain_draws(&self, run: usize) -> Vec<f64> {
        self.parameters
            .iter()
            .zip(&self.keys)
            .map(|((_, d, strata), &key)| {
                let mut rng = keyed_generator(self.seed, key, run as u64);
                match self.sampling {
                    Sampling::LatinHypercube => {
                        let stratum = strata[run - self.strata_first];
                        d.at_quantile((f64::from(stratum) + rng.random::<f64>()) / self.runs as f64)
                    }
                    _ => d.sample(&mut rng),
                }
            })
            .collect()
    }
}

/// The value of each uncertain parameter in run `run` of `runs` (for one
/// run; an ensemble uses one [`Sampler`]).
///
/// # Errors
///
/// As [`Sampler::new`] and [`Sampler::draws`].
pub fn draws(prepared: &Prepared, run: usize, runs: usize) -> Result<Vec<f64>> {
    Sampler::new(prepared, runs)?.draws(run)
}

/// Each run's stratum for a parameter: a permutation of 0..runs drawn from
/// the parameter's own stream `u64::MAX`, so every shard computes the same
/// (as `u32`: runs are at most [`crate::scenario::MAX_RUNS`]).
fn lhs_strata(seed: u64, name: &str, runs: usize) -> Vec<u32> {
    let mut rng = generator(seed, name, u64::MAX);
    let mut order: Vec<u32> = (0..runs).map(|k| k as u32).collect();
    for i in (1..runs).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order
}

/// The Latin hypercube strata of an ensemble's parameters (4 bytes per
/// run and parameter) kept in an anonymous temporary file, so that a
/// sampler need hold only a window's ([`Strata::window`]): computed one
/// parameter at a time, with the same draws as [`Sampler::new`]'s.
#[derive(Debug)]
pub(crate) struct Strata {
    file: std::sync::Mutex<std::fs::File>,
    /// The sampler without strata.
    sampler: Sampler,
}

impl Strata {
    /// The sampler of `runs` runs of a prepared scenario and, with Latin
    /// hypercube sampling, its strata on disk.
    ///
    /// # Errors
    ///
    /// As [`Sampler::new`]; [`Error::Io`] if the file cannot be written.
    pub(crate) fn new(prepared: &Prepared, runs: usize) -> Result<(Sampler, Option<Strata>)> {
        use std::io::Write;
        let latin = prepared.scenario().sampling() == Sampling::LatinHypercube;
        let sampler = Sampler::with_strata(prepared, runs, !latin)?;
        if !latin || sampler.parameters.is_empty() || sampler.fixed.is_some() {
            return Ok((sampler, None));
        }
        let failed = |e| Error::io(std::env::temp_dir(), e);
        let file = tempfile::tempfile().map_err(failed)?;
        let mut out = std::io::BufWriter::with_capacity(64 << 10, &file);
        for (name, _, _) in &sampler.parameters {
            for k in lhs_strata(sampler.seed, name, runs) {
                out.write_all(&k.to_le_bytes()).map_err(failed)?;
            }
        }
        out.flush().map_err(failed)?;
        drop(out);
        let strata = Strata {
            file: std::sync::Mutex::new(file),
            sampler: sampler.clone(),
        };
        Ok((sampler, Some(strata)))
    }

    /// The sampler for runs `runs` only, with their strata read from disk.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read.
    pub(crate) fn window(&self, runs: std::ops::Range<usize>) -> Result<Sampler> {
        use std::io::{Read, Seek, SeekFrom};
        let failed = |e| Error::io(std::env::temp_dir(), e);
        let mut sampler = self.sampler.clone();
        sampler.strata_first = runs.start;
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let mut bytes = vec![0u8; runs.len() * 4];
        for (k, (_, _, strata)) in sampler.parameters.iter_mut().enumerate() {
            let at = (k * self.sampler.runs + runs.start) * 4;
            file.seek(SeekFrom::Start(at as u64)).map_err(failed)?;
            file.read_exact(&mut bytes).map_err(failed)?;
            *strata = bytes
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
        }
        Ok(sampler)
    }
}

/// What one run keeps. In partial results (JSON), NaN is written as null.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutput {
    /// The run's index.
    pub run: usize,
    /// The uncertain parameters' values, in the scenario's order.
    #[serde(with = "nan_as_null::vec")]
    pub draws: Vec<f64>,
    /// Values by period: `values[indicator][period]` (NaN for a sum in the
    /// starting row), in one allocation.
    #[serde(with = "nan_as_null::table")]
    pub values: PeriodValues,
    /// The scalars, in the scenario's order.
    #[serde(with = "nan_as_null::vec")]
    pub scalars: Vec<f64>,
}

/// JSON has no NaN: write it as null and read null back as NaN. Finite
/// values round-trip exactly (serde_json writes the shortest exact form).
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    fn to(v: f64) -> Option<f64> {
        (!v.is_nan()).then_some(v)
    }

    fn from(v: Option<f64>) -> f64 {
        v.unwrap_or(f64::NAN)
    }

    pub mod vec {
        use super::*;
        pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            v.iter().map(|x| to(*x)).collect::<Vec<_>>().serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            Vec::<Option<f64>>::deserialize(d).map(|v| v.into_iter().map(from).collect())
        }
    }

    pub mod table {
        use super::*;
        use crate::ensemble::PeriodValues;
        pub fn serialize<S: Serializer>(v: &PeriodValues, s: S) -> Result<S::Ok, S::Error> {
            v.iter()
                .map(|row| row.iter().map(|x| to(*x)).collect::<Vec<_>>())
                .collect::<Vec<_>>()
                .serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PeriodValues, D::Error> {
            let rows: Vec<Vec<f64>> = Vec::<Vec<Option<f64>>>::deserialize(d).map(|v| {
                v.into_iter()
                    .map(|row| row.into_iter().map(from).collect())
                    .collect()
            })?;
            PeriodValues::from_rows(rows).map_err(serde::de::Error::custom)
        }
    }
}

/// One run's values of each indicator in each period, kept in one
/// allocation of `indicators x periods` numbers (a run of the England
/// baseline keeps 143): `values[indicator]` is the indicator's values by
/// period, as a slice. Exactly the numbers computed; compact because an
/// ensemble keeps one per run.
///
/// ```
/// use carecascade_engine::ensemble::PeriodValues;
///
/// let v = PeriodValues::from_rows(vec![vec![1.0, 2.0], vec![3.0, 4.0]]).unwrap();
/// assert_eq!((v.len(), v.periods()), (2, 2));
/// assert_eq!(v[1], [3.0, 4.0]);
/// assert_eq!(v[1][0], 3.0);
/// assert!(PeriodValues::from_rows(vec![vec![1.0], vec![]]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeriodValues {
    periods: usize,
    /// Indicator by indicator, each one's periods in order.
    values: Box<[f64]>,
}

impl PeriodValues {
    /// Values from one row per indicator.
    ///
    /// # Errors
    ///
    /// A message if the rows differ in length.
    pub fn from_rows(rows: Vec<Vec<f64>>) -> std::result::Result<PeriodValues, String> {
        let periods = rows.first().map_or(0, Vec::len);
        if let Some(k) = rows.iter().position(|r| r.len() != periods) {
            return Err(format!(
                "indicator {k} has {} periods but the first has {periods}",
                rows[k].len()
            ));
        }
        let indicators = rows.len();
        let values: Box<[f64]> = rows.into_iter().flatten().collect();
        if periods == 0 && indicators > 0 {
            return Err(format!("{indicators} indicators with no periods"));
        }
        Ok(PeriodValues { periods, values })
    }

    /// The number of indicators.
    pub fn len(&self) -> usize {
        self.values.len().checked_div(self.periods).unwrap_or(0)
    }

    /// Whether there are no indicators.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The number of periods (the starting row included).
    pub fn periods(&self) -> usize {
        self.periods
    }

    /// Each indicator's values by period, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[f64]> {
        self.values.chunks_exact(self.periods.max(1))
    }
}

impl std::ops::Index<usize> for PeriodValues {
    type Output = [f64];

    /// Indicator `i`'s values by period.
    ///
    /// # Panics
    ///
    /// If `i` is not below [`PeriodValues::len`].
    fn index(&self, i: usize) -> &[f64] {
        &self.values[i * self.periods..(i + 1) * self.periods]
    }
}

/// Column `i` of a projection into `out`, NaN where it has no value.
fn column_into(p: &Projection, i: usize, out: &mut Vec<f64>) {
    let periods = p.labels().len();
    let column = p.column_at(i).unwrap_or_default();
    out.extend((0..periods).map(|k| column.get(k).copied().flatten().unwrap_or(f64::NAN)));
}

/// Sets a run's parameters on `state`: the scenario's settings, then the
/// run's draws, which it returns.
fn set_up(
    prepared: &Prepared,
    sampler: &Sampler,
    state: &mut crate::State,
    run: usize,
) -> Result<Vec<f64>> {
    prepared.configure(state)?;
    // The model's own random functions (RANDOM NORMAL, ...): one seed per
    // run from the scenario's seed, the same in every scenario of that
    // seed, so that comparisons share their noise.
    let noise_key = sampler.keys[sampler.keys.len() - 1];
    state.set_seed(keyed_generator(sampler.seed, noise_key, run as u64).random::<u64>());
    let draws = sampler.draws(run)?;
    let ids = prepared
        .uncertain()
        .iter()
        .map(|(_, id, _)| id)
        .chain(prepared.posterior().into_iter().flat_map(|p| p.ids.iter()));
    for (id, v) in ids.zip(&draws) {
        state.set_param(*id, *v)?;
    }
    Ok(draws)
}

/// Step-level scalars (peaks and troughs) observed as a run goes.
#[derive(Debug, Clone)]
struct Extremes {
    /// (output index, max?) per step scalar.
    outputs: Vec<(usize, bool)>,
}

impl Extremes {
    fn new(prepared: &Prepared) -> Extremes {
        Extremes {
            outputs: prepared
                .resolved_scalars()
                .iter()
                .filter_map(|(_, r)| match r {
                    Resolved::Steps { output, max } => Some((*output, *max)),
                    Resolved::Periods { .. } => None,
                })
                .collect(),
        }
    }

    fn start(&self) -> Vec<f64> {
        self.outputs
            .iter()
            .map(|(_, max)| {
                if *max {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            })
            .collect()
    }

    #[inline]
    fn observe(&self, values: &mut [f64], output: impl Fn(usize) -> f64) {
        for ((i, max), v) in self.outputs.iter().zip(values.iter_mut()) {
            *v = if *max {
                v.max(output(*i))
            } else {
                v.min(output(*i))
            };
        }
    }
}

/// A run's values by period and scalars from its projection and the
/// extremes seen over its steps.
fn summarise(
    prepared: &Prepared,
    run: usize,
    draws: Vec<f64>,
    p: &Projection,
    extremes: &[f64],
) -> RunOutput {
    let (indicators, periods) = (p.columns().len(), p.labels().len());
    let mut flat = Vec::with_capacity(indicators * periods);
    for i in 0..indicators {
        column_into(p, i, &mut flat);
    }
    let values = PeriodValues {
        periods,
        values: flat.into_boxed_slice(),
    };
    let mut steps = extremes.iter();
    let scalars = prepared
        .resolved_scalars()
        .iter()
        .map(|(_, r)| match r {
            Resolved::Periods { column, reduce } => reduce_periods(&values[*column], *reduce),
            Resolved::Steps { .. } => steps.next().copied().unwrap_or(f64::NAN),
        })
        .collect();
    RunOutput {
        run,
        draws,
        values,
        scalars,
    }
}

/// Reduces a column over the periods after the starting row.
fn reduce_periods(column: &[f64], reduce: Reduce) -> f64 {
    let after = column.iter().skip(1);
    match reduce {
        Reduce::Sum => after.sum(),
        Reduce::Discounted { rate } => after
            .enumerate()
            .map(|(k, v)| v / (1.0 + rate).powi(k as i32))
            .sum(),
        Reduce::Mean => {
            let n = column.len().saturating_sub(1);
            if n == 0 {
                f64::NAN
            } else {
                after.sum::<f64>() / n as f64
            }
        }
        Reduce::Max => after.copied().fold(f64::NEG_INFINITY, f64::max),
        Reduce::Min => after.copied().fold(f64::INFINITY, f64::min),
        Reduce::Final => column.last().copied().unwrap_or(f64::NAN),
    }
}

/// The error of a failed run, keeping the scenario, the run, its draws and
/// the original error.
fn run_error(prepared: &Prepared, run: usize, draws: &[f64], error: Error) -> Error {
    Error::Run {
        scenario: prepared.scenario().name().to_string(),
        run,
        draws: prepared
            .drawn()
            .into_iter()
            .zip(draws.iter().copied())
            .collect(),
        source: Box::new(error),
    }
}

/// Runs one member of the ensemble on a state.
///
/// # Errors
///
/// [`Error::Run`]: the run's error (for example a NaN, naming the variable
/// and time), with the scenario, the run's index and its draws.
pub fn run_one(
    prepared: &Prepared,
    sampler: &Sampler,
    state: &mut crate::State,
    run: usize,
) -> Result<RunOutput> {
    let draws = set_up(prepared, sampler, state, run)?;
    let extremes = Extremes::new(prepared);
    let mut seen = extremes.start();
    let mut observe = |_, row: &[f64]| extremes.observe(&mut seen, |i| row[i]);
    let p = prepared
        .projector()
        .project_observing(state, prepared.periods(), &mut observe)
        .map_err(|e| run_error(prepared, run, &draws, e))?;
    Ok(summarise(prepared, run, draws, &p, &seen))
}

/// Runs `lanes` consecutive members from `first` together, in a batch of
/// that many lanes (2, 4 or 8; [`crate::Program::batch_lanes`]), or one by
/// one for any other count; identical to running each with [`run_one`].
///
/// # Errors
///
/// As [`run_one`].
pub fn run_batch(
    prepared: &Prepared,
    sampler: &Sampler,
    state: &mut crate::State,
    first: usize,
    lanes: usize,
) -> Result<Vec<RunOutput>> {
    match lanes {
        2 => run_lanes::<2>(prepared, sampler, state, first),
        4 => run_lanes::<4>(prepared, sampler, state, first),
        BATCH_LANES => run_lanes::<BATCH_LANES>(prepared, sampler, state, first),
        _ => (first..first + lanes)
            .map(|run| run_one(prepared, sampler, state, run))
            .collect(),
    }
}

/// Runs `L` consecutive members from `first` together (see
/// [`crate::Batch`]). If any run fails, the runs are repeated one by one
/// so that the error is the lowest-numbered run's, exactly as [`run_one`]
/// reports it.
fn run_lanes<const L: usize>(
    prepared: &Prepared,
    sampler: &Sampler,
    state: &mut crate::State,
    first: usize,
) -> Result<Vec<RunOutput>> {
    let mut batch = prepared.program().batch::<L>();
    let mut draws = Vec::with_capacity(L);
    for lane in 0..L {
        draws.push(set_up(prepared, sampler, state, first + lane)?);
        batch.set_params_from(lane, state)?;
    }
    batch.set_time(*state.time());
    let extremes = Extremes::new(prepared);
    let mut seen: [Vec<f64>; L] = std::array::from_fn(|_| extremes.start());
    let mut observe = |_, row: crate::BatchRow<'_, L>| {
        for (lane, seen) in seen.iter_mut().enumerate() {
            extremes.observe(seen, |i| row.at(i, lane));
        }
    };
    match prepared
        .projector()
        .project_batch(&mut batch, prepared.periods(), &mut observe)
    {
        Ok(projections) => Ok(projections
            .iter()
            .zip(draws)
            .enumerate()
            .map(|(lane, (p, d))| summarise(prepared, first + lane, d, p, &seen[lane]))
            .collect()),
        Err(_) => (first..first + L)
            .map(|run| run_one(prepared, sampler, state, run))
            .collect(),
    }
}

/// Runs `runs` (a range of run indices of an ensemble of `total`) in
/// parallel, in batches of [`crate::Program::batch_lanes`] (the rest one
/// by one), in run order. `progress` is called after each run.
///
/// # Errors
///
/// The error of the lowest-numbered run that failed.
pub fn run_range(
    prepared: &Prepared,
    runs: std::ops::Range<usize>,
    total: usize,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<RunOutput>> {
    let sampler = Sampler::new(prepared, total)?;
    run_sampled(prepared, &sampler, runs, total, progress)
}

/// Runs one member per row of `draws` (the values of [`Prepared::drawn`],
/// in that order) instead of drawing them: in parallel, in batches of
/// [`crate::Program::batch_lanes`], in row order, exactly as ensemble
/// runs go. This is how a sensitivity design is run. `progress` is called
/// after each run.
///
/// # Errors
///
/// As [`Sampler::fixed`]; the error of the lowest-numbered run that failed.
pub fn run_draws(
    prepared: &Prepared,
    draws: Vec<Vec<f64>>,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<RunOutput>> {
    let total = draws.len();
    let sampler = Sampler::fixed(prepared, draws)?;
    run_sampled(prepared, &sampler, 0..total, total, progress)
}

fn run_sampled(
    prepared: &Prepared,
    sampler: &Sampler,
    runs: std::ops::Range<usize>,
    total: usize,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<RunOutput>> {
    let mut outputs = Vec::with_capacity(runs.len());
    run_windows(
        prepared,
        sampler,
        None,
        runs,
        total,
        usize::MAX,
        progress,
        &mut |window| {
            outputs.extend(window);
            Ok(())
        },
    )?;
    Ok(outputs)
}

/// Runs `runs` of an ensemble of `total` `window` runs at a time (rounded
/// up to whole batches), drawing with `sampler` or, given `strata`, with
/// each window's sampler from them, each window's runs in parallel in
/// batches of [`crate::Program::batch_lanes`] (the rest one by one),
/// handing each window's outputs, in run order, to `sink` before starting
/// the next: what is held at once is one window's runs. The batches are
/// the same whatever the window, so are the numbers. `progress` is called
/// after each run.
///
/// # Errors
///
/// The error of the lowest-numbered run that failed (no later window is
/// run), or `sink`'s.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_windows(
    prepared: &Prepared,
    sampler: &Sampler,
    strata: Option<&Strata>,
    runs: std::ops::Range<usize>,
    total: usize,
    window: usize,
    progress: &(dyn Fn() + Sync),
    sink: &mut dyn FnMut(Vec<RunOutput>) -> Result<()>,
) -> Result<()> {
    if runs.end > total {
        return Err(Error::Invalid {
            what: "ensemble".into(),
            message: format!(
                "runs {} to {} of an ensemble of {total}",
                runs.start,
                runs.end - 1
            ),
        });
    }
    let end = runs.end;
    let lanes = prepared.program().batch_lanes();
    let window = window.max(1).div_ceil(lanes).saturating_mul(lanes);
    let mut start = runs.start;
    while start < end {
        let stop = start.saturating_add(window).min(end);
        let local;
        let sampler = match strata {
            Some(strata) => {
                local = strata.window(start..stop)?;
                &local
            }
            None => sampler,
        };
        let chunks: Vec<Result<Vec<RunOutput>>> = (start..stop)
            .step_by(lanes)
            .collect::<Vec<usize>>()
            .into_par_iter()
            .map_init(
                || prepared.program().state(),
                |state, first| {
                    let out = if first + lanes <= end {
                        run_batch(prepared, sampler, state, first, lanes)
                    } else {
                        (first..end)
                            .map(|run| run_one(prepared, sampler, state, run))
                            .collect()
                    };
                    for _ in first..(first + lanes).min(end) {
                        progress();
                    }
                    out
                },
            )
            .collect();
        let mut outputs = Vec::with_capacity(stop - start);
        for chunk in chunks {
            outputs.extend(chunk?);
        }
        sink(outputs)?;
        start = stop;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fixed() {
        // Changing these changes every published ensemble: they are part of
        // the file format.
        assert_eq!(key(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(key("Early Help  effect"), key("early_help_effect"));
    }

    #[test]
    fn reductions_over_periods() {
        let c = [f64::NAN, 1.0, 2.0, 4.0];
        assert_eq!(reduce_periods(&c, Reduce::Sum), 7.0);
        assert_eq!(
            reduce_periods(&c, Reduce::Discounted { rate: 1.0 }),
            1.0 + 1.0 + 1.0
        );
        assert_eq!(reduce_periods(&c, Reduce::Mean), 7.0 / 3.0);
        assert_eq!(reduce_periods(&c, Reduce::Max), 4.0);
        assert_eq!(reduce_periods(&c, Reduce::Min), 1.0);
        assert_eq!(reduce_periods(&c, Reduce::Final), 4.0);
    }
}
