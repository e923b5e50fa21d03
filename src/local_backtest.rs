//! Rolling-origin backtests of every local authority: how well the pooled
//! local models forecast years they were not fitted to, against the
//! authority's own last published figure.
//!
//! For each origin year (2018 to 2021 by default) every authority's rates
//! are calibrated together ([`calibrate_all`]) using only the figures
//! published up to the origin (the histories are cut there, workforce
//! included). Each authority's forecast then starts from its published
//! stocks at the origin (children looked after, published by authority
//! from 2021, are back-cast for earlier origins: see [`crate::pooled`])
//! and goes one and two years ahead for a sample of its posterior draws,
//! with exogenous series held at their level at the origin (the model's
//! `data known until`). Each draw's forecast of a published count is
//! negative binomial around the model's value with that draw's dispersion
//! for the series, so the intervals carry the rates' uncertainty and the
//! published figures' noise.
//!
//! Scores, for children in need, on plans and looked after at 31 March:
//!
//! - per authority, series and horizon, the **error ratio**: the mean
//!   absolute error of the forecast's median over the origins, over that
//!   of the authority's last published figure (the naive forecast) at the
//!   same origins; below 1 is better than the naive forecast (a relative
//!   mean absolute error, the scaled error the issue calls MASE with the
//!   naive forecast at the same points as the scale). Reported as the
//!   median over authorities, and pooled (the sum of absolute errors over
//!   that of the naive forecast, dominated by large authorities);
//! - whether the central 50% and 90% intervals covered the outturn, by
//!   size band of the authority's children.

use crate::data::{Authority, LocalAuthorities};
use crate::engine::error::{Error, Result};
use crate::engine::{Model, Program};
use crate::pooled::{LocalPosterior, PoolSettings, calibrate_all, history};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Poisson};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The local backtest as `carecascade backtest-local` last wrote it
/// (`docs/local-validation.json`; a test checks that it is up to date).
pub const LOCAL_BACKTEST_JSON: &str = include_str!("../docs/local-validation.json");

/// The series scored: the stocks at 31 March.
pub const SCORED: &[(&str, &str)] = &[
    ("cin_at_31_march", "children in need"),
    ("cpp_at_31_march", "on child protection plans"),
    ("cla_at_31_march", "looked after"),
];

/// Years ahead.
pub const HORIZONS: usize = 2;

/// Size bands by children aged 0-17 in the origin year: (label, from, to).
pub const SIZE_BANDS: &[(&str, f64, f64)] = &[
    ("under 50,000 children", 0.0, 50_000.0),
    ("50,000-100,000 children", 50_000.0, 100_000.0),
    ("100,000 children or more", 100_000.0, f64::INFINITY),
];

/// How the local backtest is run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalSettings {
    /// The origins (last year fitted).
    pub origins: Vec<i32>,
    /// Sweeps of each origin's calibration.
    pub sweeps: usize,
    /// Burn-in sweeps.
    pub burn: usize,
    /// Draws kept, and used by each forecast.
    pub keep: usize,
    /// Seed of the sampler and of the forecasts' noise.
    pub seed: u64,
    /// The weight of a figure one year older than the next in each
    /// origin's calibration (see [`PoolSettings::discount`]).
    #[serde(default = "no_discount")]
    pub discount: f64,
    /// Rates held at England's value in each origin's calibration (see
    /// [`PoolSettings::hold`]); results written before rates could be
    /// held fitted them all.
    #[serde(default)]
    pub hold: Vec<String>,
    /// Further sweeps each origin's calibration may run if its chains
    /// have not converged (see [`PoolSettings::extend`]); results written
    /// before calibrations could extend had none.
    #[serde(default)]
    pub extend: usize,
}

/// Results written before the discount existed weighted every year alike.
fn no_discount() -> f64 {
    1.0
}

impl Default for LocalSettings {
    fn default() -> LocalSettings {
        let pool = PoolSettings::default();
        LocalSettings {
            origins: vec![2018, 2019, 2020, 2021],
            sweeps: pool.sweeps,
            burn: pool.burn,
            keep: pool.keep,
            seed: pool.seed,
            discount: pool.discount,
            hold: pool.hold,
            extend: pool.extend,
        }
    }
}

/// One forecast of one authority's series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalForecast {
    /// The authority's ONS code.
    pub code: String,
    /// Its children aged 0-17 at the origin.
    pub children: f64,
    /// The origin (last year fitted).
    pub origin: i32,
    /// The series.
    pub series: String,
    /// Years ahead.
    pub horizon: usize,
    /// The published figure, if any.
    pub outturn: Option<f64>,
    /// The authority's published figure at the origin (the naive forecast).
    pub last_value: Option<f64>,
    /// The 5%, 25%, 50%, 75% and 95% quantiles of the forecast.
    pub quantiles: [f64; 5],
}

/// One origin's calibration in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OriginFit {
    /// The origin.
    pub origin: i32,
    /// Authorities fitted.
    pub authorities: usize,
    /// Whether the chains converged.
    pub converged: bool,
    /// The diagnostics in words.
    pub diagnostics: String,
}

/// A local backtest's forecasts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalBacktest {
    /// How it was run.
    pub settings: LocalSettings,
    /// A fingerprint of the model, data and settings.
    pub fingerprint: String,
    /// The command that made it.
    pub command: String,
    /// Each origin's calibration.
    pub fits: Vec<OriginFit>,
    /// Every forecast.
    pub forecasts: Vec<LocalForecast>,
}

use crate::backtest::quantile;

/// A negative binomial draw with mean `m` and dispersion `phi` (a gamma
/// mixture of Poissons).
fn negative_binomial(m: f64, phi: f64, rng: &mut ChaCha8Rng) -> f64 {
    // A model value that is not a number stays one, for the caller's
    // check; 0 or below gives 0.
    if m.is_nan() || m <= 0.0 {
        return if m.is_nan() { f64::NAN } else { 0.0 };
    }
    let lambda = Gamma::new(phi, m / phi).map_or(m, |g| g.sample(rng));
    Poisson::new(lambda.max(1e-12)).map_or(lambda, |p| p.sample(rng))
}

/// The forecasts from `origin` for every authority of `posterior` (fitted
/// to `origin`), with its draws.
///
/// # Errors
///
/// The errors of making and running the authorities' models.
pub fn forecasts(
    model: &Model,
    posterior: &LocalPosterior,
    seed: u64,
) -> Result<Vec<LocalForecast>> {
    let table = LocalAuthorities::load()?;
    let origin = posterior.to;
    let pooled = &posterior.pooled;
    // The dispersion of each scored series at each horizon.
    let scored: Vec<Vec<usize>> = SCORED
        .iter()
        .map(|(s, _)| {
            (1..=HORIZONS)
                .map(|h| {
                    pooled.dispersion_index(s, h).ok_or_else(|| Error::Invalid {
                        what: "local backtest".into(),
                        message: format!(
                            "the calibration has no dispersion of `{s}` {h} year(s) ahead (fit it with runs {HORIZONS} years ahead)"
                        ),
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let out: Vec<Vec<LocalForecast>> = posterior
        .authorities
        .par_iter()
        .enumerate()
        .map(|(g, authority)| -> Result<Vec<LocalForecast>> {
            let h = history(model, &table, authority, origin)?;
            let program = Program::compile(&h.model)?;
            let projector = crate::project::projector(&program);
            let periods = crate::project::reporting_years(origin, HORIZONS)?;
            let ids: Vec<_> = pooled
                .parameters
                .iter()
                .map(|p| program.parameter(&p.name))
                .collect::<Result<_>>()?;
            let known = program.parameter(crate::backtest::KNOWN_UNTIL)?;
            let mut rng = ChaCha8Rng::seed_from_u64(
                seed ^ (origin as u64).wrapping_mul(0x9E37_79B9)
                    ^ (g as u64).wrapping_mul(0x85EB_CA6B),
            );
            let mut samples = vec![vec![Vec::new(); HORIZONS]; SCORED.len()];
            for d in &pooled.draws {
                let mut state = program.state();
                for (id, v) in ids.iter().zip(&d.values[g]) {
                    state.set_param(*id, *v)?;
                }
                state.set_param(known, f64::from(origin) + 0.25)?;
                let p = projector.project(&mut state, &periods)?;
                for (k, (name, _)) in SCORED.iter().enumerate() {
                    for step in 1..=HORIZONS {
                        let m = p
                            .get(name, f64::from(origin + step as i32))
                            .unwrap_or(f64::NAN);
                        samples[k][step - 1].push(negative_binomial(
                            m,
                            d.dispersion[scored[k][step - 1]],
                            &mut rng,
                        ));
                    }
                }
            }
            let full = table.series_of(authority)?;
            let children = h
                .observed
                .series("population_0_17")
                .ok()
                .and_then(|s| s.observed().last().map(|(_, v)| v))
                .unwrap_or(f64::NAN);
            let mut out = Vec::new();
            for (k, (name, _)) in SCORED.iter().enumerate() {
                let series = full.series(name)?;
                for step in 1..=HORIZONS {
                    let mut xs = samples[k][step - 1].clone();
                    if xs.iter().any(|x| !x.is_finite()) {
                        return Err(Error::Invalid {
                            what: format!(
                                "local backtest of {} ({})",
                                authority.name, authority.code
                            ),
                            message: format!(
                                "the forecast of `{name}` from {origin} is not finite"
                            ),
                        });
                    }
                    xs.sort_by(f64::total_cmp);
                    out.push(LocalForecast {
                        code: authority.code.clone(),
                        children,
                        origin,
                        series: name.to_string(),
                        horizon: step,
                        outturn: series.get(origin + step as i32),
                        last_value: series.get(origin),
                        quantiles: [0.05, 0.25, 0.5, 0.75, 0.95].map(|q| quantile(&xs, q)),
                    });
                }
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;
    Ok(out.into_iter().flatten().collect())
}

/// Runs the local backtest of `authorities` (see the [module
/// documentation](self)); `progress(origin, done, sweeps)` is told about
/// each origin's sweeps.
///
/// # Errors
///
/// The errors of [`calibrate_all`] and [`forecasts`].
pub fn local_backtest(
    model: &Model,
    authorities: &[Authority],
    settings: &LocalSettings,
    fingerprint: String,
    command: String,
    progress: &mut dyn FnMut(i32, usize, usize),
) -> Result<LocalBacktest> {
    let mut fits = Vec::new();
    let mut all = Vec::new();
    for &origin in &settings.origins {
        let pool = PoolSettings {
            to: origin,
            sweeps: settings.sweeps,
            burn: settings.burn,
            keep: settings.keep,
            seed: settings.seed,
            discount: settings.discount,
            hold: settings.hold.clone(),
            extend: settings.extend,
        };
        let posterior = calibrate_all(model, authorities, &pool, &mut |d, n| {
            progress(origin, d, n)
        })?;
        fits.push(OriginFit {
            origin,
            authorities: posterior.authorities.len(),
            converged: posterior.converged(),
            diagnostics: posterior.describe_convergence(),
        });
        all.extend(forecasts(model, &posterior, settings.seed)?);
    }
    Ok(LocalBacktest {
        settings: settings.clone(),
        fingerprint,
        command,
        fits,
        forecasts: all,
    })
}

/// The scores of one series and horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalScore {
    /// The series.
    pub series: String,
    /// Years ahead.
    pub horizon: usize,
    /// Authorities scored (with an outturn and a naive forecast whose
    /// errors are not all 0).
    pub authorities: usize,
    /// The median over authorities of the error ratio.
    pub median_ratio: f64,
    /// The share of authorities whose ratio is below 1.
    pub share_better: f64,
    /// Sum of absolute errors over that of the naive forecast.
    pub pooled_ratio: f64,
    /// The median over authorities of the mean absolute percentage error
    /// of the forecast's median.
    pub median_ape: f64,
    /// And of the naive forecast.
    pub naive_ape: f64,
    /// Forecasts scored.
    pub forecasts: usize,
}

/// One authority's forecasts of one series and horizon, scored
/// ([`LocalBacktest::authority_scores`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorityScore {
    /// The series.
    pub series: String,
    /// Years ahead.
    pub horizon: usize,
    /// Forecasts with an outturn and a last published figure.
    pub forecasts: usize,
    /// Mean absolute error of the forecast's median, as a percentage of
    /// the outturn (over the forecasts whose outturn is above 0).
    pub model_ape: f64,
    /// And of the last published figure.
    pub naive_ape: f64,
    /// Outturns inside the forecast's central 90% interval.
    pub within_90: usize,
}

/// Coverage in one size band.
#[derive(Debug, Clone, PartialEq)]
pub struct BandCoverage {
    /// The band's label.
    pub band: String,
    /// Authorities in it (at any origin).
    pub authorities: usize,
    /// Forecasts scored.
    pub forecasts: usize,
    /// Share inside the central 50% interval.
    pub within_50: f64,
    /// Share inside the central 90% interval.
    pub within_90: f64,
    /// The median over authorities of the error ratio (every series and
    /// horizon).
    pub median_ratio: f64,
}

/// Years of an authority's published figures, up to the origin, that the
/// benchmark forecasters average.
pub const BENCHMARK_YEARS: usize = 5;

/// Forecasters without structure, scored beside the model: (description,
/// weight of the last published figure; the rest on the mean of the last
/// [`BENCHMARK_YEARS`] published up to the origin). The weights are round
/// numbers chosen before scoring, not fitted to the years scored.
pub const BENCHMARKS: &[(&str, f64)] = &[
    ("mean of the last five published years", 0.0),
    ("half-way between the last figure and that mean", 0.5),
];

/// What the model's forecast changes tell about the outturns' changes
/// (each relative to the authority's last published figure), and the
/// median error ratios of the [`BENCHMARKS`] on the same forecasts.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeSkill {
    /// The series.
    pub series: String,
    /// Years ahead.
    pub horizon: usize,
    /// Forecasts compared.
    pub forecasts: usize,
    /// Correlation of the forecast change with the outturn's change.
    pub correlation: f64,
    /// Least-squares slope of the outturn's change on the forecast's: 1
    /// if the forecast's changes are the right size, 0 if they carry no
    /// information, between if they should be shrunk towards the last
    /// figure.
    pub slope: f64,
    /// Median error ratio of each of [`BENCHMARKS`].
    pub benchmarks: Vec<f64>,
}

/// The fewest earlier forecasts a shrinkage factor is fitted on
/// ([`LocalBacktest::shrunk_changes`]).
pub const MIN_SHRINK_FORECASTS: usize = 20;

/// The model's forecasts with their change from the last published figure
/// shrunk by a factor fitted out of sample: at each origin, the slope of
/// the outturns' changes on the forecasts' changes over the forecasts of
/// earlier origins whose outturns were published by then (for two years
/// ahead, origins at least two years earlier), kept within 0 and 1. No
/// figure of a year scored, or later, enters the factor it is scored
/// with. Origins without [`MIN_SHRINK_FORECASTS`] such forecasts (the
/// first ones, and children looked after before 2021) are not scored.
#[derive(Debug, Clone, PartialEq)]
pub struct ShrunkChange {
    /// The series.
    pub series: String,
    /// Years ahead.
    pub horizon: usize,
    /// The factor at each origin that has one: (origin, factor).
    pub factors: Vec<(i32, f64)>,
    /// Forecasts scored (at those origins).
    pub forecasts: usize,
    /// Median error ratio of the shrunk forecasts.
    pub median_ratio: f64,
    /// Median error ratio of the model's forecasts, on the same forecasts.
    pub model_ratio: f64,
}

/// The fewest other authorities of the same region whose errors
/// [`LocalBacktest::region_check`] takes a median of.
pub const MIN_REGION_PEERS: usize = 3;

/// Whether a regional covariate could help: the model's forecasts
/// corrected by the median relative error of the other authorities of
/// the same region, at the same origin, series and horizon. That error is
/// only known once those authorities' outturns are published, so the
/// corrected forecast is not one anyone could make: a generous test of
/// what a regional term in the rates (a region's own centre for each
/// rate, a regional trend) could add. If even it leaves the median error ratio at
/// or above 1, a regional covariate cannot meet the target.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionCheck {
    /// The series.
    pub series: String,
    /// Years ahead.
    pub horizon: usize,
    /// Forecasts corrected (an authority with fewer than
    /// [`MIN_REGION_PEERS`] others in its region keeps its forecast).
    pub corrected: usize,
    /// Median error ratio of the model's forecasts.
    pub model_ratio: f64,
    /// Median error ratio of the corrected forecasts.
    pub corrected_ratio: f64,
}

/// A scored series' name for people (the column itself if it is not one
/// of [`SCORED`]).
fn series_label(series: &str) -> &str {
    SCORED
        .iter()
        .find(|(c, _)| *c == series)
        .map_or(series, |(_, l)| l)
}

/// Writes a Markdown table: the header's cells, then a row per item.
fn write_table<S: AsRef<str>>(
    out: &mut String,
    header: &[S],
    rows: impl IntoIterator<Item = Vec<String>>,
) {
    let cells: Vec<&str> = header.iter().map(AsRef::as_ref).collect();
    let _ = writeln!(out, "| {} |", cells.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(cells.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
}

/// Pearson's correlation of `xs` and `ys`, and the slope of `ys` on `xs`.
fn correlation_and_slope(xs: &[f64], ys: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
        sxy += (x - mx) * (y - my);
    }
    (sxy / (sxx * syy).sqrt(), sxy / sxx)
}

fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    quantile(&xs, 0.5)
}

impl LocalBacktest {
    /// The forecasts that can be scored: with an outturn and a naive
    /// forecast.
    fn scored(&self) -> impl Iterator<Item = &LocalForecast> {
        self.forecasts
            .iter()
            .filter(|f| f.outturn.is_some() && f.last_value.is_some())
    }

    /// The scored forecasts of one series and horizon.
    fn scored_at(&self, series: &str, horizon: usize) -> Vec<&LocalForecast> {
        self.scored()
            .filter(|f| f.series == series && f.horizon == horizon)
            .collect()
    }

    /// Error ratios per authority over `forecasts` (mean absolute error of
    /// the median over that of the last value); authorities whose naive
    /// errors are all 0 are left out.
    fn ratios<'a>(forecasts: impl Iterator<Item = &'a LocalForecast>) -> Vec<f64> {
        Self::ratios_of(forecasts, |f| Some(f.quantiles[2]))
    }

    /// As [`LocalBacktest::ratios`], for the forecast `value` gives
    /// (forecasts it gives none for are left out).
    fn ratios_of<'a>(
        forecasts: impl Iterator<Item = &'a LocalForecast>,
        value: impl Fn(&LocalForecast) -> Option<f64>,
    ) -> Vec<f64> {
        let mut by: indexmap::IndexMap<&str, (f64, f64)> = indexmap::IndexMap::new();
        for f in forecasts {
            let Some(v) = value(f) else { continue };
            let (o, l) = (
                f.outturn.unwrap_or(f64::NAN),
                f.last_value.unwrap_or(f64::NAN),
            );
            let e = by.entry(f.code.as_str()).or_default();
            e.0 += (v - o).abs();
            e.1 += (l - o).abs();
        }
        by.values()
            .filter(|(_, naive)| *naive > 0.0)
            .map(|(model, naive)| model / naive)
            .collect()
    }

    /// Whether these results are the backtest of `model_text` with the
    /// data shipped now: its fingerprint is theirs.
    pub fn is_current_for(&self, model_text: &str) -> bool {
        fingerprint_of(model_text, &self.settings) == self.fingerprint
    }

    /// One authority's forecasts scored per series and horizon, in the
    /// order of [`SCORED`] (empty for an authority the backtest has no
    /// scored forecasts of).
    pub fn authority_scores(&self, code: &str) -> Vec<AuthorityScore> {
        let mut out = Vec::new();
        for (series, _) in SCORED {
            for h in 1..=HORIZONS {
                let these: Vec<&LocalForecast> = self
                    .scored_at(series, h)
                    .into_iter()
                    .filter(|f| f.code == code)
                    .collect();
                if these.is_empty() {
                    continue;
                }
                let (mut model, mut naive, mut n) = (0.0, 0.0, 0);
                let mut within_90 = 0;
                for f in &these {
                    let o = f.outturn.unwrap_or(f64::NAN);
                    if o > 0.0 {
                        model += (f.quantiles[2] - o).abs() / o;
                        naive += (f.last_value.unwrap_or(f64::NAN) - o).abs() / o;
                        n += 1;
                    }
                    within_90 += usize::from(o >= f.quantiles[0] && o <= f.quantiles[4]);
                }
                out.push(AuthorityScore {
                    series: series.to_string(),
                    horizon: h,
                    forecasts: these.len(),
                    model_ape: 100.0 * model / n as f64,
                    naive_ape: 100.0 * naive / n as f64,
                    within_90,
                });
            }
        }
        out
    }

    /// The scores per series and horizon.
    pub fn scores(&self) -> Vec<LocalScore> {
        let mut out = Vec::new();
        for (series, _) in SCORED {
            for h in 1..=HORIZONS {
                let these = self.scored_at(series, h);
                if these.is_empty() {
                    continue;
                }
                let ratios = Self::ratios(these.iter().copied());
                let (mut model, mut naive) = (0.0, 0.0);
                let mut ape: indexmap::IndexMap<&str, (f64, f64, usize)> =
                    indexmap::IndexMap::new();
                for f in &these {
                    let o = f.outturn.unwrap_or(f64::NAN);
                    let l = f.last_value.unwrap_or(f64::NAN);
                    model += (f.quantiles[2] - o).abs();
                    naive += (l - o).abs();
                    if o > 0.0 {
                        let e = ape.entry(f.code.as_str()).or_default();
                        e.0 += (f.quantiles[2] - o).abs() / o;
                        e.1 += (l - o).abs() / o;
                        e.2 += 1;
                    }
                }
                out.push(LocalScore {
                    series: series.to_string(),
                    horizon: h,
                    authorities: ratios.len(),
                    share_better: ratios.iter().filter(|r| **r < 1.0).count() as f64
                        / ratios.len().max(1) as f64,
                    median_ratio: median(ratios),
                    pooled_ratio: model / naive,
                    median_ape: 100.0 * median(ape.values().map(|e| e.0 / e.2 as f64).collect()),
                    naive_ape: 100.0 * median(ape.values().map(|e| e.1 / e.2 as f64).collect()),
                    forecasts: these.len(),
                });
            }
        }
        out
    }

    /// What the model's forecast changes tell, and two forecasters
    /// without structure scored on the same forecasts, per series and
    /// horizon (see [`ChangeSkill`]).
    pub fn change_skill(&self) -> Vec<ChangeSkill> {
        // Each authority's published figures, read once.
        let table = LocalAuthorities::load().ok();
        let mut codes: Vec<&str> = self.forecasts.iter().map(|f| f.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        let observed: std::collections::HashMap<&str, crate::data::Observed> = codes
            .into_iter()
            .filter_map(|c| Some((c, table.as_ref()?.get(c).ok()?)))
            .collect();
        // The authority's last figures of the series, up to the origin.
        let history = |f: &LocalForecast| -> Option<Vec<f64>> {
            let series = observed.get(f.code.as_str())?.series(&f.series).ok()?;
            Some(
                (f.origin - BENCHMARK_YEARS as i32 + 1..=f.origin)
                    .filter_map(|y| series.get(y))
                    .collect(),
            )
        };
        let mut out = Vec::new();
        for (series, _) in SCORED {
            for h in 1..=HORIZONS {
                let these = self.scored_at(series, h);
                let (mut xs, mut ys) = (Vec::new(), Vec::new());
                for f in &these {
                    let l = f.last_value.unwrap_or(f64::NAN);
                    if l > 0.0 {
                        xs.push(f.quantiles[2] / l - 1.0);
                        ys.push(f.outturn.unwrap_or(f64::NAN) / l - 1.0);
                    }
                }
                if xs.len() < 3 {
                    continue;
                }
                let (correlation, slope) = correlation_and_slope(&xs, &ys);
                let benchmarks = BENCHMARKS
                    .iter()
                    .map(|(_, w)| {
                        median(Self::ratios_of(these.iter().copied(), |f| {
                            let past = history(f)?;
                            let last = f.last_value?;
                            (!past.is_empty()).then(|| {
                                w * last + (1.0 - w) * past.iter().sum::<f64>() / past.len() as f64
                            })
                        }))
                    })
                    .collect();
                out.push(ChangeSkill {
                    series: series.to_string(),
                    horizon: h,
                    forecasts: xs.len(),
                    correlation,
                    slope,
                    benchmarks,
                });
            }
        }
        out
    }

    /// The model's forecasts shrunk towards the last figure by factors
    /// fitted on earlier origins only (see [`ShrunkChange`]), per series
    /// and horizon that has at least one origin with a factor.
    pub fn shrunk_changes(&self) -> Vec<ShrunkChange> {
        // (forecast change, outturn change), relative to the last figure.
        let changes = |f: &LocalForecast| -> Option<(f64, f64)> {
            let l = f.last_value.filter(|l| *l > 0.0)?;
            let o = f.outturn?;
            Some((f.quantiles[2] / l - 1.0, o / l - 1.0))
        };
        let mut out = Vec::new();
        for (series, _) in SCORED {
            for h in 1..=HORIZONS {
                let these = self.scored_at(series, h);
                let mut factors = Vec::new();
                for &origin in &self.settings.origins {
                    let (xs, ys): (Vec<f64>, Vec<f64>) = these
                        .iter()
                        .filter(|f| f.origin < origin && f.origin + h as i32 <= origin)
                        .filter_map(|f| changes(f))
                        .unzip();
                    if xs.len() >= MIN_SHRINK_FORECASTS {
                        let (_, slope) = correlation_and_slope(&xs, &ys);
                        if slope.is_finite() {
                            factors.push((origin, slope.clamp(0.0, 1.0)));
                        }
                    }
                }
                if factors.is_empty() {
                    continue;
                }
                let factor_at = |o: i32| factors.iter().find(|(fo, _)| *fo == o).map(|(_, k)| *k);
                let scored: Vec<&LocalForecast> = these
                    .iter()
                    .copied()
                    .filter(|f| factor_at(f.origin).is_some())
                    .collect();
                let median_ratio = median(Self::ratios_of(scored.iter().copied(), |f| {
                    let (k, l) = (factor_at(f.origin)?, f.last_value?);
                    Some(l + k * (f.quantiles[2] - l))
                }));
                out.push(ShrunkChange {
                    series: series.to_string(),
                    horizon: h,
                    forecasts: scored.len(),
                    median_ratio,
                    model_ratio: median(Self::ratios(scored.iter().copied())),
                    factors,
                });
            }
        }
        out
    }

    /// The regional bound on each series and horizon (see
    /// [`RegionCheck`]); empty without the local data.
    pub fn region_check(&self) -> Vec<RegionCheck> {
        let Ok(table) = LocalAuthorities::load() else {
            return Vec::new();
        };
        let region: std::collections::HashMap<String, String> = table
            .list()
            .into_iter()
            .map(|(code, _, region)| (code, region))
            .collect();
        // The model's error relative to the last figure.
        let error = |f: &LocalForecast| -> Option<f64> {
            let l = f.last_value.filter(|l| *l > 0.0)?;
            Some((f.outturn? - f.quantiles[2]) / l)
        };
        let mut out = Vec::new();
        for (series, _) in SCORED {
            for h in 1..=HORIZONS {
                let these = self.scored_at(series, h);
                if these.is_empty() {
                    continue;
                }
                // Each forecast's correction, by authority and origin.
                let mut shifts: std::collections::HashMap<(&str, i32), f64> =
                    std::collections::HashMap::new();
                for f in &these {
                    let Some(own) = region.get(&f.code) else {
                        continue;
                    };
                    let peers: Vec<f64> = these
                        .iter()
                        .filter(|p| {
                            p.code != f.code
                                && p.origin == f.origin
                                && region.get(&p.code) == Some(own)
                        })
                        .filter_map(|p| error(p))
                        .collect();
                    if peers.len() >= MIN_REGION_PEERS {
                        let shift = median(peers) * f.last_value.unwrap_or(0.0);
                        shifts.insert((f.code.as_str(), f.origin), shift);
                    }
                }
                out.push(RegionCheck {
                    series: series.to_string(),
                    horizon: h,
                    corrected: shifts.len(),
                    model_ratio: median(Self::ratios(these.iter().copied())),
                    corrected_ratio: median(Self::ratios_of(these.iter().copied(), |f| {
                        let shift = shifts.get(&(f.code.as_str(), f.origin));
                        Some(f.quantiles[2] + shift.copied().unwrap_or(0.0))
                    })),
                });
            }
        }
        out
    }

    /// Interval coverage and error ratios by size band.
    pub fn coverage(&self) -> Vec<BandCoverage> {
        SIZE_BANDS
            .iter()
            .map(|(label, lo, hi)| {
                let these: Vec<&LocalForecast> = self
                    .scored()
                    .filter(|f| f.children >= *lo && f.children < *hi)
                    .collect();
                let n = these.len().max(1) as f64;
                let inside = |a: usize, b: usize| {
                    these
                        .iter()
                        .filter(|f| {
                            let o = f.outturn.unwrap_or(f64::NAN);
                            o >= f.quantiles[a] && o <= f.quantiles[b]
                        })
                        .count() as f64
                        / n
                };
                let mut codes: Vec<&str> = these.iter().map(|f| f.code.as_str()).collect();
                codes.sort_unstable();
                codes.dedup();
                // Ratios per authority, series and horizon.
                let mut ratios = Vec::new();
                for (series, _) in SCORED {
                    for h in 1..=HORIZONS {
                        ratios.extend(Self::ratios(
                            these
                                .iter()
                                .copied()
                                .filter(|f| f.series == *series && f.horizon == h),
                        ));
                    }
                }
                BandCoverage {
                    band: label.to_string(),
                    authorities: codes.len(),
                    forecasts: these.len(),
                    within_50: inside(1, 3),
                    within_90: inside(0, 4),
                    median_ratio: median(ratios),
                }
            })
            .collect()
    }

    /// The results as JSON.
    ///
    /// # Errors
    ///
    /// None in practice (every value serialises).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Invalid {
            what: "local backtest".into(),
            message: e.to_string(),
        })
    }

    /// Reads results written by [`LocalBacktest::to_json`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the JSON is not a local backtest.
    pub fn from_json(text: &str) -> Result<LocalBacktest> {
        serde_json::from_str(text).map_err(|e| Error::Invalid {
            what: "local backtest JSON".into(),
            message: e.to_string(),
        })
    }

    /// `docs/local-validation.md`: what was run, the scores against the
    /// targets, coverage by size band, and each origin's calibration.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<!-- Generated by `{}`; fingerprint {} (model, data and settings). Do not edit: rerun the command. -->\n",
            self.command, self.fingerprint
        );
        let _ = writeln!(
            out,
            "# Local validation: every authority's forecasts, out of sample\n"
        );
        let scores = self.scores();
        let coverage = self.coverage();
        let all_ratios: Vec<f64> = scores.iter().map(|s| s.median_ratio).collect();
        let met_ratio = all_ratios.iter().all(|r| *r < 1.0);
        let met_cover = coverage
            .iter()
            .filter(|c| c.forecasts > 0)
            .all(|c| (0.80..=0.97).contains(&c.within_90));
        let _ = writeln!(
            out,
            "Each origin year, every authority's rates were calibrated together on the figures published up to it (`carecascade calibrate-local --to ORIGIN`), and each authority's model forecast its children in need, on protection plans and looked after one and two years ahead from its published stocks. The forecasts are scored against what the authority then published, and against its last published figure (the naive forecast). **Median error ratio below 1 for every series and horizon: {}. 90% intervals covering 80-97% of outturns in every size band: {}.**\n",
            if met_ratio { "met" } else { "missed" },
            if met_cover { "met" } else { "missed" }
        );
        let _ = writeln!(
            out,
            "Origins {}; children looked after are published by authority from 2021, so they are scored from the 2021 origin only. Error ratio: an authority's mean absolute error of the forecast's median over the origins, divided by that of its last published figure at the same origins (below 1 beats the naive forecast; authorities whose figure never changed are left out). Pooled: the sum of every authority's absolute errors over the naive forecast's (weighted to large authorities).\n",
            self.settings
                .origins
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !self.settings.hold.is_empty() {
            let _ = writeln!(
                out,
                "Held at England's value for every authority in every origin's calibration, not fitted (`--hold`): {}.\n",
                self.settings
                    .hold
                    .iter()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(out, "## Errors against the last published figure\n");
        write_table(
            &mut out,
            &[
                "series",
                "years ahead",
                "authorities",
                "median error ratio",
                "authorities better than naive",
                "pooled ratio",
                "median error, model",
                "median error, naive",
            ],
            scores.iter().map(|s| {
                vec![
                    series_label(&s.series).to_string(),
                    s.horizon.to_string(),
                    s.authorities.to_string(),
                    format!("{:.2}", s.median_ratio),
                    format!("{:.0}%", 100.0 * s.share_better),
                    format!("{:.2}", s.pooled_ratio),
                    format!("{:.1}%", s.median_ape),
                    format!("{:.1}%", s.naive_ape),
                ]
            }),
        );
        let skill = self.change_skill();
        if !skill.is_empty() {
            let _ = writeln!(out, "\n## What the model's forecast changes tell\n");
            let _ = writeln!(
                out,
                "The change each forecast makes from the authority's last published figure, against the change that happened (both relative to that figure). A correlation near 0 and a slope near 0 mean the model's changes carry no information and only add error to the last figure; a slope between 0 and 1 means they point the right way but are too large. Beside them, two forecasters without any structure, scored on the same forecasts: {}. Their weights are round numbers chosen before scoring; they show how much a forecaster that only smooths the authority's own figures gains over the last one. Children looked after are published by authority from 2021 only, so at the 2021 origin both are the last figure (ratio 1).\n",
                BENCHMARKS
                    .iter()
                    .map(|(d, w)| format!("{d} (weight {w} on the last figure)"))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            let header: Vec<String> = [
                "series",
                "years ahead",
                "forecasts",
                "correlation of changes",
                "slope of outturn on forecast change",
            ]
            .iter()
            .map(|h| (*h).to_string())
            .chain(
                BENCHMARKS
                    .iter()
                    .map(|(d, _)| format!("median error ratio: {d}")),
            )
            .collect();
            write_table(
                &mut out,
                &header,
                skill.iter().map(|k| {
                    [
                        series_label(&k.series).to_string(),
                        k.horizon.to_string(),
                        k.forecasts.to_string(),
                        format!("{:.2}", k.correlation),
                        format!("{:.2}", k.slope),
                    ]
                    .into_iter()
                    .chain(k.benchmarks.iter().map(|b| format!("{b:.2}")))
                    .collect()
                }),
            );
            // What the table says, where the model's changes tell little.
            let blind: Vec<String> = skill
                .iter()
                .filter(|k| k.correlation < 0.1)
                .map(|k| {
                    format!(
                        "{} {} year(s) ahead (correlation {:.2})",
                        series_label(&k.series),
                        k.horizon,
                        k.correlation
                    )
                })
                .collect();
            if !blind.is_empty() {
                let _ = writeln!(
                    out,
                    "\nThe model's changes carry almost no information for {}: there its error beyond the last figure's is the noise its changes add. Where a benchmark's ratio is below 1, smoothing the authority's own figures does better than the model.",
                    blind.join(" and ")
                );
            }
        }
        let shrunk = self.shrunk_changes();
        if !shrunk.is_empty() {
            let _ = writeln!(out, "\n## The model's changes, shrunk out of sample\n");
            let _ = writeln!(
                out,
                "The model's forecast with its change from the last published figure multiplied by a factor between 0 and 1 fitted at each origin on earlier origins' forecasts only (the slope of what happened on what the model forecast, over forecasts whose outturns were published by the origin; at least {MIN_SHRINK_FORECASTS} of them). No figure of a year scored enters the factor it is scored with. Origins without a factor (the first ones, and children looked after, published by authority from 2021) are not scored, so the model's ratio here is on fewer forecasts than above. Local projections do not use these factors.\n"
            );
            write_table(
                &mut out,
                &[
                    "series",
                    "years ahead",
                    "forecasts",
                    "factors (origin: factor)",
                    "median error ratio, shrunk",
                    "median error ratio, model",
                ],
                shrunk.iter().map(|k| {
                    let factors = k
                        .factors
                        .iter()
                        .map(|(o, f)| format!("{o}: {f:.2}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    vec![
                        series_label(&k.series).to_string(),
                        k.horizon.to_string(),
                        k.forecasts.to_string(),
                        factors,
                        format!("{:.2}", k.median_ratio),
                        format!("{:.2}", k.model_ratio),
                    ]
                }),
            );
        }
        let regions = self.region_check();
        if !regions.is_empty() {
            let _ = writeln!(out, "\n## Could a regional covariate help?\n");
            let _ = writeln!(
                out,
                "Authorities of a region share more than their rates' levels (children looked after per child differ most between regions). A regional term in the rates could only help the forecasts if an authority's error moves with its region's. Here each forecast is corrected by the median relative error of the other authorities of its region (at least {MIN_REGION_PEERS}) at the same origin: an error known only after the outturns are published, so no one could make this forecast; it is a generous test of what a regional covariate could add. Where even it stays at or above 1, a regional covariate cannot meet the target, and the local fit has none.\n"
            );
            write_table(
                &mut out,
                &[
                    "series",
                    "years ahead",
                    "forecasts corrected",
                    "median error ratio, model",
                    "with the region's own error (not a forecast)",
                ],
                regions.iter().map(|r| {
                    vec![
                        series_label(&r.series).to_string(),
                        r.horizon.to_string(),
                        r.corrected.to_string(),
                        format!("{:.2}", r.model_ratio),
                        format!("{:.2}", r.corrected_ratio),
                    ]
                }),
            );
        }
        let _ = writeln!(out, "\n## Interval coverage by size band\n");
        write_table(
            &mut out,
            &[
                "authorities by children aged 0-17",
                "authorities",
                "forecasts",
                "within 50% interval",
                "within 90% interval",
                "median error ratio",
            ],
            coverage.iter().map(|c| {
                vec![
                    c.band.to_string(),
                    c.authorities.to_string(),
                    c.forecasts.to_string(),
                    format!("{:.0}%", 100.0 * c.within_50),
                    format!("{:.0}%", 100.0 * c.within_90),
                    format!("{:.2}", c.median_ratio),
                ]
            }),
        );
        let _ = writeln!(out, "\n## The calibrations\n");
        if self.fits.iter().any(|f| !f.converged) {
            let _ = writeln!(
                out,
                "**Not every calibration converged** (split R-hat at most {} for every authority's rates and the population's, and an effective sample size of at least {}): the forecasts use draws whose chains still disagree, so their bands may be too narrow or misplaced for the authorities named below. Each authority's rates mix slowly where they trade off along a ridge, and a rate's spread across authorities mixes slowly where it is small (why `cp exit rate` is held by default), even with the sampler's fitted and collective moves; the worst rate of each calibration is named below, and more sweeps than this run had (a larger `--sweeps` or `--extend`) are needed to pass (docs/scaling-out.md).\n",
                crate::pooled::MAX_RHAT,
                crate::pooled::MIN_ESS
            );
        }
        write_table(
            &mut out,
            &["origin", "authorities", "converged", "diagnostics"],
            self.fits.iter().map(|f| {
                vec![
                    f.origin.to_string(),
                    f.authorities.to_string(),
                    (if f.converged { "yes" } else { "no" }).to_string(),
                    f.diagnostics.clone(),
                ]
            }),
        );
        out
    }
}

/// The fingerprint of a local backtest's inputs: the model's text, the
/// local data (and workforce) and the settings.
pub fn fingerprint_of(model_text: &str, settings: &LocalSettings) -> String {
    let mut written = format!("{settings:?}");
    // Results written before calibrations could extend ran none: an
    // `extend` of 0 is the same work, so it keeps their fingerprints.
    if settings.extend == 0 {
        written = written.replace(", extend: 0 }", " }");
    }
    crate::backtest::fingerprint(&[
        model_text,
        crate::data::LOCAL_AUTHORITIES,
        crate::data::WORKFORCE,
        crate::data::ENGLAND,
        &written,
    ])
}
