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
//! **Speed.** Runs go in batches of [`BATCH_LANES`] (a [`crate::Batch`]):
//! each operation is applied to every run of the batch before the next,
//! which is about four times faster per run than one at a time and gives
//! exactly the same numbers.
//!
//! **Memory.** Each run keeps only its yearly values of the reported
//! indicators and a few scalars, not its steps: 100,000 runs of 13
//! indicators over 10 years hold about 120 MB.

use crate::care::project::Projection;
use crate::error::{Error, Result};
use crate::scenario::{Prepared, Sampling};
use crate::sim::BATCH_LANES;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The generator and how it is keyed, as recorded in outputs.
pub const GENERATOR: &str =
    "ChaCha8Rng (rand_chacha 0.9), seeded with seed XOR FNV-1a(parameter name), stream = run index";

/// The discount rate for net present values (HM Treasury Green Book).
pub const DISCOUNT_RATE: f64 = 0.035;

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

fn generator(seed: u64, name: &str, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ key(name));
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
    /// (name, distribution, strata by run).
    parameters: Vec<(String, crate::scenario::Distribution, Vec<usize>)>,
}

impl Sampler {
    /// The sampler of an ensemble of `runs` runs of a prepared scenario.
    pub fn new(prepared: &Prepared, runs: usize) -> Sampler {
        let s = &prepared.scenario;
        let parameters = prepared
            .uncertain()
            .iter()
            .map(|(name, _, d)| {
                let strata = match s.sampling {
                    Sampling::Random => Vec::new(),
                    Sampling::LatinHypercube => lhs_strata(s.seed, name, runs),
                };
                (name.clone(), *d, strata)
            })
            .collect();
        Sampler {
            seed: s.seed,
            runs,
            sampling: s.sampling,
            parameters,
        }
    }

    /// The value of each uncertain parameter in run `run`.
    pub fn draws(&self, run: usize) -> Vec<f64> {
        self.parameters
            .iter()
            .map(|(name, d, strata)| {
                let mut rng = generator(self.seed, name, run as u64);
                match self.sampling {
                    Sampling::Random => d.sample(&mut rng),
                    Sampling::LatinHypercube => {
                        d.at_quantile((strata[run] as f64 + rng.random::<f64>()) / self.runs as f64)
                    }
                }
            })
            .collect()
    }
}

/// The value of each uncertain parameter in run `run` of `runs` (for one
/// run; an ensemble uses one [`Sampler`]).
pub fn draws(prepared: &Prepared, run: usize, runs: usize) -> Vec<f64> {
    Sampler::new(prepared, runs).draws(run)
}

/// Each run's stratum for a parameter: a permutation of 0..runs drawn from
/// the parameter's own stream `u64::MAX`, so every shard computes the same.
fn lhs_strata(seed: u64, name: &str, runs: usize) -> Vec<usize> {
    let mut rng = generator(seed, name, u64::MAX);
    let mut order: Vec<usize> = (0..runs).collect();
    for i in (1..runs).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order
}

/// What one run keeps. In partial results (JSON), NaN is written as null.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutput {
    /// The run's index.
    pub run: usize,
    /// The uncertain parameters' values, in the scenario's order.
    #[serde(with = "nan_as_null::vec")]
    pub draws: Vec<f64>,
    /// Yearly values: `values[indicator][year]` (NaN for a flow in the
    /// starting year).
    #[serde(with = "nan_as_null::table")]
    pub values: Vec<Vec<f64>>,
    /// Spend over the horizon, £m.
    #[serde(with = "nan_as_null::one")]
    pub cumulative_cost: f64,
    /// Spend over the horizon discounted at 3.5% a year to the start (the
    /// first year undiscounted), £m.
    #[serde(with = "nan_as_null::one")]
    pub npv: f64,
    /// Children entering care over the horizon.
    #[serde(with = "nan_as_null::one")]
    pub entered_care: f64,
    /// The highest caseload at any step.
    #[serde(with = "nan_as_null::one")]
    pub peak_caseload: f64,
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

    pub mod one {
        use super::*;
        pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
            to(*v).serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            Option::<f64>::deserialize(d).map(from)
        }
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
        pub fn serialize<S: Serializer>(v: &[Vec<f64>], s: S) -> Result<S::Ok, S::Error> {
            v.iter()
                .map(|row| row.iter().map(|x| to(*x)).collect::<Vec<_>>())
                .collect::<Vec<_>>()
                .serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
            Vec::<Vec<Option<f64>>>::deserialize(d).map(|v| {
                v.into_iter()
                    .map(|row| row.into_iter().map(from).collect())
                    .collect()
            })
        }
    }
}

/// The names of the per-run scalars, as in `runs.csv`.
pub const SCALARS: &[&str] = &[
    "cumulative_cost_m",
    "npv_m",
    "entered_care",
    "peak_caseload",
];

impl RunOutput {
    /// The scalars in the order of [`SCALARS`].
    pub fn scalars(&self) -> [f64; 4] {
        [
            self.cumulative_cost,
            self.npv,
            self.entered_care,
            self.peak_caseload,
        ]
    }
}

fn column(p: &Projection, name: &str) -> Vec<f64> {
    p.column(name)
        .map(|c| c.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        .unwrap_or_else(|| vec![f64::NAN; p.years().len()])
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
    let draws = sampler.draws(run);
    for ((_, id, _), v) in prepared.uncertain().iter().zip(&draws) {
        state.set_param(*id, *v)?;
    }
    Ok(draws)
}

/// The yearly indicators and scalars of a run from its projection.
fn summarise(
    prepared: &Prepared,
    run: usize,
    draws: Vec<f64>,
    p: &Projection,
    peak_caseload: f64,
) -> RunOutput {
    let values = prepared
        .scenario
        .indicators
        .iter()
        .map(|i| column(p, i))
        .collect();
    let spend = column(p, "spend_total_m");
    let cumulative_cost = spend.iter().skip(1).sum();
    let npv = spend
        .iter()
        .skip(1)
        .enumerate()
        .map(|(k, v)| v / (1.0 + DISCOUNT_RATE).powi(k as i32))
        .sum();
    let entered_care = column(p, "cla_started").iter().skip(1).sum();
    RunOutput {
        run,
        draws,
        values,
        cumulative_cost,
        npv,
        entered_care,
        peak_caseload,
    }
}

/// Runs one member of the ensemble on a state.
///
/// # Errors
///
/// The run's error (for example a NaN, naming the variable and time), with
/// the run's index and draws.
pub fn run_one(
    prepared: &Prepared,
    sampler: &Sampler,
    state: &mut crate::State,
    run: usize,
) -> Result<RunOutput> {
    let s = &prepared.scenario;
    let draws = set_up(prepared, sampler, state, run)?;
    let caseload = prepared.program.output_index("caseload");
    let mut peak_caseload = caseload.map_or(f64::NAN, |_| f64::NEG_INFINITY);
    let mut observe = |_, row: &[f64]| {
        if let Some(i) = caseload {
            peak_caseload = peak_caseload.max(row[i]);
        }
    };
    let p = prepared
        .projector
        .project_observing(state, s.start, s.horizon, &mut observe)
        .map_err(|e| {
            let values: Vec<String> = prepared
                .uncertain()
                .iter()
                .zip(&draws)
                .map(|((n, _, _), v)| format!("{n} = {v}"))
                .collect();
            Error::Invalid {
                what: format!("scenario `{}`, run {run}", s.name),
                message: format!("{e} (draws: {})", values.join(", ")),
            }
        })?;
    Ok(summarise(prepared, run, draws, &p, peak_caseload))
}

/// Runs `BATCH_LANES` consecutive members from `first` together (see
/// [`crate::Batch`]); identical to running each with [`run_one`]. If any
/// run fails, the runs are repeated one by one so that the error is the
/// lowest-numbered run's, exactly as [`run_one`] reports it.
///
/// # Errors
///
/// As [`run_one`].
pub fn run_batch(
    prepared: &Prepared,
    sampler: &Sampler,
    state: &mut crate::State,
    first: usize,
) -> Result<Vec<RunOutput>> {
    const L: usize = BATCH_LANES;
    let s = &prepared.scenario;
    let mut batch = prepared.program.batch::<L>();
    let mut draws = Vec::with_capacity(L);
    for lane in 0..L {
        draws.push(set_up(prepared, sampler, state, first + lane)?);
        batch.set_params_from(lane, state);
    }
    batch.set_time(*state.time());
    let caseload = prepared.program.output_index("caseload");
    let mut peaks = [caseload.map_or(f64::NAN, |_| f64::NEG_INFINITY); L];
    let mut observe = |_, row: crate::BatchRow<'_, L>| {
        if let Some(i) = caseload {
            for (lane, peak) in peaks.iter_mut().enumerate() {
                *peak = peak.max(row.get(i, lane));
            }
        }
    };
    match prepared
        .projector
        .project_batch(&mut batch, s.start, s.horizon, &mut observe)
    {
        Ok(projections) => Ok(projections
            .iter()
            .zip(draws)
            .enumerate()
            .map(|(lane, (p, d))| summarise(prepared, first + lane, d, p, peaks[lane]))
            .collect()),
        Err(_) => (first..first + L)
            .map(|run| run_one(prepared, sampler, state, run))
            .collect(),
    }
}

/// Runs `runs` (a range of run indices of an ensemble of `total`) in
/// parallel, in batches of [`BATCH_LANES`] (the rest one by one), in run
/// order. `progress` is called after each run.
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
    let sampler = Sampler::new(prepared, total);
    let end = runs.end;
    let chunks: Vec<Result<Vec<RunOutput>>> = runs
        .step_by(BATCH_LANES)
        .collect::<Vec<usize>>()
        .into_par_iter()
        .map_init(
            || prepared.program.state(),
            |state, first| {
                let out = if first + BATCH_LANES <= end {
                    run_batch(prepared, &sampler, state, first)
                } else {
                    (first..end)
                        .map(|run| run_one(prepared, &sampler, state, run))
                        .collect()
                };
                for _ in first..(first + BATCH_LANES).min(end) {
                    progress();
                }
                out
            },
        )
        .collect();
    let mut outputs = Vec::with_capacity(end);
    for chunk in chunks {
        outputs.extend(chunk?);
    }
    Ok(outputs)
}

/// The `q` quantile of sorted values by linear interpolation between order
/// statistics (R's type 7, numpy's default); NaN for none.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = q * (n - 1) as f64;
            let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// Mean and quantiles of some values (NaNs left out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Values summarised.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// The quantiles, in the order asked for.
    pub quantiles: Vec<f64>,
}

impl Stats {
    /// Summarises values.
    pub fn of(values: impl IntoIterator<Item = f64>, quantiles: &[f64]) -> Stats {
        let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        v.sort_by(f64::total_cmp);
        let mean = if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        };
        Stats {
            n: v.len(),
            mean,
            quantiles: quantiles.iter().map(|q| quantile(&v, *q)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 0.25), 2.0);
        assert!((quantile(&v, 0.1) - 1.4).abs() < 1e-12);
        assert_eq!(quantile(&v, 1.0), 5.0);
        assert!(quantile(&[], 0.5).is_nan());
        let s = Stats::of([3.0, f64::NAN, 1.0, 2.0], &[0.5]);
        assert_eq!((s.n, s.mean, s.quantiles[0]), (3, 2.0, 2.0));
    }

    #[test]
    fn keys_are_fixed() {
        // Changing these changes every published ensemble: they are part of
        // the file format.
        assert_eq!(key(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(key("Early Help  effect"), key("early_help_effect"));
    }
}
pub mod html;
pub mod report;
