//! Running scenarios on common random numbers, all runs or one shard's.

use super::outcome::OnDisk;
use super::spill::Spill;
use super::{Ensemble, Kind, Outcome, RunOutput, Shard, Strata, run_range, run_windows};
use crate::error::{Error, Result};
use crate::scenario::Prepared;
use std::sync::Arc;

/// The runs [`run_scenarios_on_disk`] holds in memory at once (a multiple
/// of every batch size, [`crate::Program::batch_lanes`]): enough for both
/// cores to stay busy, few enough (about 1.5 KB each for the England
/// baseline) that memory does not grow with the runs.
pub const WINDOW: usize = 1024;

/// How to run an ensemble.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Run only this part of the ensemble.
    pub shard: Option<Shard>,
    /// Called after each run (e.g. to advance a progress bar).
    pub progress: Option<&'a (dyn Fn() + Sync)>,
}

/// The most memory an ensemble's kept values may take: 4 GiB. Every run
/// keeps a value for each indicator and period, its draws and its scalars
/// (8 bytes each), for every scenario; [`run_scenarios`] refuses an
/// ensemble (or shard) whose [`ensemble_bytes`] exceed this before
/// running or allocating anything. Split a larger one with shards.
pub const MAX_ENSEMBLE_BYTES: u128 = 4 << 30;

/// An estimate of the memory `runs` runs of the scenarios keep: runs x
/// (indicators x periods + uncertain parameters + scalars) x 8 bytes, summed
/// over the scenarios.
pub fn ensemble_bytes(prepared: &[Prepared], runs: usize) -> u128 {
    prepared
        .iter()
        .map(|p| {
            let per_run = p.indicators().len() as u128 * p.periods().count() as u128
                + p.drawn().len() as u128
                + p.scalar_names().len() as u128;
            runs as u128 * per_run * 8
        })
        .sum()
}

/// Memory in GB (10^9 bytes) or MB, for messages.
fn format_bytes(bytes: u128) -> String {
    if bytes >= 1_000_000_000 {
        format!("{:.1} GB", bytes as f64 / 1e9)
    } else {
        format!("{:.0} MB", (bytes as f64 / 1e6).ceil())
    }
}

/// Runs scenarios on the same draws (all runs, or one shard's). All
/// scenarios must agree on seed, runs, sampling and periods; the first is
/// the base of the comparison.
///
/// # Errors
///
/// [`Error::Invalid`] for no scenarios, or scenarios that disagree on seed,
/// runs, sampling, periods or what a comparison reports, or an ensemble
/// (or shard) that would keep more than [`MAX_ENSEMBLE_BYTES`];
/// [`Error::Run`] for the first failing run.
pub fn run_scenarios(prepared: &[Prepared], options: &RunOptions<'_>) -> Result<Outcome> {
    check_together(prepared)?;
    let total = prepared[0].scenario().runs();
    let range = options.shard.map_or(0..total, |s| s.runs(total));
    run_runs(
        prepared,
        range,
        options.shard,
        options.progress.unwrap_or(&|| {}),
    )
}

/// Checks that scenarios can run together on common random numbers, as
/// [`run_scenarios`] does before running: the first is the base; all
/// share seed, runs, sampling, periods and comparison settings.
///
/// # Errors
///
/// As [`run_scenarios`], for no scenarios or scenarios that disagree.
pub fn check_together(prepared: &[Prepared]) -> Result<()> {
    let Some(base) = prepared.first() else {
        return Err(Error::Invalid {
            what: "ensemble".into(),
            message: "no scenarios to run".into(),
        });
    };
    let first = base.scenario();
    for p in &prepared[1..] {
        let s = p.scenario();
        let differs = |what: &str, a: String, b: String| Error::Invalid {
            what: format!("scenario `{}`", s.name()),
            message: format!(
                "has {what} {b} but `{}` has {a}: scenarios compared on common random numbers must share seed, runs, sampling, periods and comparison settings (set them in a common base file, or with --runs and --seed)",
                first.name()
            ),
        };
        if s.seed() != first.seed() {
            return Err(differs(
                "seed",
                first.seed().to_string(),
                s.seed().to_string(),
            ));
        }
        if s.runs() != first.runs() {
            return Err(differs(
                "runs",
                first.runs().to_string(),
                s.runs().to_string(),
            ));
        }
        if s.sampling() != first.sampling() {
            return Err(differs(
                "sampling",
                first.sampling().to_string(),
                s.sampling().to_string(),
            ));
        }
        if p.periods() != base.periods() {
            let describe = |p: &Prepared| {
                let periods = p.periods();
                format!(
                    "{} + {} periods of {}",
                    periods.start(),
                    periods.count(),
                    periods.length()
                )
            };
            return Err(differs("periods", describe(base), describe(p)));
        }
        if s.compare() != first.compare() {
            return Err(differs(
                "[compare] settings",
                format!("{:?}", first.compare()),
                format!("{:?}", s.compare()),
            ));
        }
    }
    Ok(())
}

/// Runs `range` of the runs of scenarios that [`check_together`] accepted,
/// recording `shard` as the outcome's.
pub(crate) fn run_runs(
    prepared: &[Prepared],
    range: std::ops::Range<usize>,
    shard: Option<Shard>,
    progress: &(dyn Fn() + Sync),
) -> Result<Outcome> {
    let first = prepared[0].scenario();
    let total = first.runs();
    check_bytes(prepared, range.len(), "in memory")?;
    let mut ensembles = Vec::new();
    for p in prepared {
        let runs = run_range(p, range.clone(), total, progress)?;
        ensembles.push(ensemble(p, runs, OnDisk::default())?);
    }
    Ok(outcome(prepared, shard, ensembles))
}

/// As [`run_scenarios`], but each scenario's runs are kept in a temporary
/// file on disk (deleted with the outcome) instead of in memory, [`WINDOW`]
/// runs at a time (and so are the strata of Latin hypercube sampling,
/// 4 bytes per run and parameter, read a window at a time): memory does
/// not grow with the number of runs (the files are limited to
/// [`MAX_ENSEMBLE_BYTES`], as memory is by [`run_scenarios`]), and every
/// statistic, file and table of the outcome is exactly the same as
/// [`run_scenarios`]'s. The
/// outcome's [`Ensemble::runs`] are empty: read runs with
/// [`Ensemble::column`], [`Ensemble::scalar_column`] and
/// [`Ensemble::each_run`]. A shard is run in memory, as by
/// [`run_scenarios`] (its partial result holds every run).
///
/// # Errors
///
/// As [`run_scenarios`] (the limit applying to the temporary files);
/// [`Error::Io`] if the temporary file cannot be written.
pub fn run_scenarios_on_disk(prepared: &[Prepared], options: &RunOptions<'_>) -> Result<Outcome> {
    if options.shard.is_some() {
        return run_scenarios(prepared, options);
    }
    check_together(prepared)?;
    let progress = options.progress.unwrap_or(&|| {});
    let total = prepared[0].scenario().runs();
    check_bytes(prepared, total, "in temporary files")?;
    let mut ensembles = Vec::new();
    for p in prepared {
        let (sampler, strata) = Strata::new(p, total)?;
        let mut spill = Spill::new(
            p.indicators().len() * p.periods().labels().len(),
            p.scalar_names().len(),
            p.drawn().len(),
        )?;
        run_windows(
            p,
            &sampler,
            strata.as_ref(),
            0..total,
            total,
            WINDOW,
            progress,
            &mut |runs| spill.push(&runs),
        )?;
        ensembles.push(ensemble(p, Vec::new(), OnDisk(Some(Arc::new(spill))))?);
    }
    Ok(outcome(prepared, None, ensembles))
}

/// Refuses `runs` runs of the scenarios whose values would take more than
/// [`MAX_ENSEMBLE_BYTES`] `kept` (in memory, or in temporary files).
fn check_bytes(prepared: &[Prepared], runs: usize, kept: &str) -> Result<()> {
    let bytes = ensemble_bytes(prepared, runs);
    if bytes > MAX_ENSEMBLE_BYTES {
        return Err(Error::Invalid {
            what: "ensemble".into(),
            message: format!(
                "{runs} runs of {} scenario(s) would keep about {} {kept} (runs x indicators x periods x 8 bytes, plus draws and scalars), more than the limit of {}: use fewer runs, fewer indicators, or split it with --shard",
                prepared.len(),
                format_bytes(bytes),
                format_bytes(MAX_ENSEMBLE_BYTES)
            ),
        });
    }
    Ok(())
}

/// A scenario's ensemble of `runs` (or runs kept `on_disk`).
fn ensemble(p: &Prepared, runs: Vec<RunOutput>, on_disk: OnDisk) -> Result<Ensemble> {
    let s = p.scenario();
    let mut state = p.program().state();
    p.configure(&mut state)?;
    let time = state.time();
    Ok(Ensemble {
        integration: format!(
            "{}, dt = {} (1/{})",
            time.method(),
            time.dt(),
            (1.0 / time.dt()).round()
        ),
        scenario: s.name().to_string(),
        question: s.question().to_string(),
        sources: s.sources().to_vec(),
        indicators: p.indicators().to_vec(),
        label: s.label().to_string(),
        periods: p.periods().labels(),
        parameters: p.drawn(),
        scalars: p.scalar_names(),
        runs,
        on_disk,
    })
}

/// The outcome of scenarios that [`check_together`] accepted.
fn outcome(prepared: &[Prepared], shard: Option<Shard>, ensembles: Vec<Ensemble>) -> Outcome {
    let first = prepared[0].scenario();
    Outcome {
        version: env!("CARGO_PKG_VERSION").into(),
        kind: if prepared.len() == 1 {
            Kind::Run
        } else {
            Kind::Compare
        },
        seed: first.seed(),
        total_runs: first.runs(),
        sampling: first.sampling().to_string(),
        quantiles: first.quantiles().to_vec(),
        shard,
        cost: first.compare().cost().map(str::to_string),
        discount_rate: first.compare().discount_rate(),
        cumulative: first.compare().cumulative().to_vec(),
        ensembles,
    }
}
