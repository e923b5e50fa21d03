//! Rolling-origin backtests: how well the model forecasts years it was not
//! fitted to, against the naive forecasts a policy analyst would otherwise
//! use.
//!
//! For each origin year (2016 to 2021 by default) the posterior is sampled
//! using only the published figures up to that year (the spec's priors,
//! observation model and sampler, with `to` set to the origin; the
//! walkers of each origin after the first start from the previous
//! origin's draws, which used only earlier data). The forecast then starts from the origin's published stocks, as the
//! shipped scenarios start from 2023's, and goes one and two years ahead
//! for a sample of posterior draws; each draw's forecast of a published
//! figure is the model's value times `exp(sigma * z)`, with `sigma` that
//! draw's observation scale for the series and horizon, so the intervals
//! carry both the parameters' uncertainty and how far the published
//! figures have strayed from the model before. Exogenous series the model
//! reads from published history (the children's population and arrivals
//! of unaccompanied asylum-seeking children) are held at their level at
//! the origin (the model's `data known until`), as a forecaster at the
//! origin would have to hold them.
//!
//! Each forecast is scored against the outturn: the absolute percentage
//! error of the median; the ratio of the model's mean absolute error to
//! that of the last published value (the naive forecast; below 1 is
//! better) and of the average change over the last three years carried
//! forward; and whether the central 50% and 90% intervals covered it.
//! [`Backtest::to_markdown`] writes the tables of `docs/backtest.md`.

use crate::calibrate::{CalibrationSpec, Posterior, posterior_from};
use crate::data::Observed;
use crate::engine::{Model, Program, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The England model's backtest as `carecascade backtest` last wrote it
/// (`docs/backtest.json`; a test checks that it is up to date).
pub const ENGLAND_BACKTEST_JSON: &str = include_str!("../docs/backtest.json");

/// The series scored: the three stocks at 31 March and the four main
/// flows, with whether each is a stock.
pub const SERIES: &[(&str, &str, bool)] = &[
    ("cin_at_31_march", "children in need at 31 March", true),
    (
        "cpp_at_31_march",
        "on child protection plans at 31 March",
        true,
    ),
    ("cla_at_31_march", "looked after at 31 March", true),
    ("referrals", "referrals in the year", false),
    ("cpp_started", "protection plans started", false),
    ("cla_started", "started to be looked after", false),
    ("cla_ceased", "ceased to be looked after", false),
];

/// The default origins: the last year of data each fit may use.
pub const ORIGINS: [i32; 6] = [2016, 2017, 2018, 2019, 2020, 2021];

/// The England model's constant that holds exogenous series at their last
/// published level after a time; a forecast sets it to its origin.
pub const KNOWN_UNTIL: &str = "data known until";

/// Years ahead forecast from each origin.
pub const HORIZONS: usize = 2;

/// How a backtest is run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The origins (last year fitted).
    pub origins: Vec<i32>,
    /// Posterior draws each forecast uses.
    pub draws: usize,
    /// Seed of the observation noise in forecasts.
    pub seed: u64,
    /// Sampler steps, burn-in and thinning of each origin's fit, if not the
    /// spec's.
    pub chains: Option<(usize, usize, usize)>,
    /// Forecast from fits whose chains have not converged (each is flagged
    /// in the results) instead of refusing.
    pub accept_unconverged: bool,
    /// Sampling rounds an origin may take: a fit whose chains have not
    /// converged is sampled again, the walkers starting from its own draws,
    /// until they converge or this many rounds have run.
    #[serde(default = "one")]
    pub rounds: usize,
}

fn one() -> usize {
    1
}

impl Default for Settings {
    /// [`ORIGINS`], 400 draws, seed 1, the spec's chains, up to two
    /// sampling rounds per origin, refusing unconverged fits.
    fn default() -> Settings {
        Settings {
            origins: ORIGINS.to_vec(),
            draws: 400,
            seed: 1,
            chains: None,
            accept_unconverged: false,
            rounds: 2,
        }
    }
}

/// One forecast of one published figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// The last year of data used.
    pub origin: i32,
    /// The series.
    pub series: String,
    /// Years ahead (1 or 2).
    pub horizon: usize,
    /// The published value forecast, if published.
    pub outturn: Option<f64>,
    /// Quantiles of the forecast: 5%, 25%, 50%, 75%, 95%; `None` when the
    /// data before the origin have no error at this horizon to size the
    /// observation noise (then there is no forecast, rather than a guess).
    pub quantiles: Option<[f64; 5]>,
    /// The last published value at the origin (the naive forecast).
    pub last_value: Option<f64>,
    /// The last value plus the horizon times the average yearly change
    /// over the three years to the origin.
    pub recent_change: Option<f64>,
}

/// How one origin's posterior was sampled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OriginFit {
    /// The last year fitted.
    pub origin: i32,
    /// Whether the chains passed their convergence thresholds.
    pub converged: bool,
    /// The largest split R-hat over the parameters.
    pub max_rhat: f64,
    /// The smallest effective sample size.
    pub min_ess: f64,
    /// Model evaluations, over all rounds.
    pub evaluations: usize,
    /// Sampling rounds run (see [`Settings::rounds`]).
    #[serde(default = "one")]
    pub rounds: usize,
}

/// A backtest's results: every forecast, every fit, and the in-sample fit
/// of the full window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    /// How it was run.
    pub settings: Settings,
    /// A fingerprint of the model, data and spec it was run on.
    pub fingerprint: String,
    /// The command that made it.
    pub command: String,
    /// Each origin's fit.
    pub fits: Vec<OriginFit>,
    /// Every forecast.
    pub forecasts: Vec<Forecast>,
    /// In-sample MAPE (%) per series of a run from the first year with the
    /// full posterior's median parameters, and of one-year-ahead runs from
    /// each year's stocks.
    pub in_sample: Vec<(String, f64, f64)>,
    /// Whether the whole window's posterior (for the in-sample fit) had
    /// converged.
    pub full_converged: bool,
}

/// Scores of one series at one horizon, over the origins.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// The series.
    pub series: String,
    /// Years ahead.
    pub horizon: usize,
    /// Forecasts with an outturn.
    pub count: usize,
    /// Mean absolute percentage error of the median.
    pub mape: f64,
    /// Mean absolute percentage error of the last value.
    pub naive_mape: f64,
    /// The model's mean absolute error over the last value's (the same
    /// forecasts): below 1, the model beats repeating the last figure.
    pub relative_mae: f64,
    /// The same against the average recent change carried forward.
    pub relative_mae_trend: f64,
    /// Fraction of outturns inside the central 50% interval.
    pub covered50: f64,
    /// Fraction inside the central 90% interval.
    pub covered90: f64,
}

/// A fingerprint of texts (FNV-1a, 64 bits, hex): equal inputs, equal
/// fingerprints, so a stored backtest can tell that it is stale.
pub fn fingerprint(texts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for t in texts {
        for b in t.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Quantile `p` of sorted values, linear between order statistics.
pub(crate) fn quantile(sorted: &[f64], p: f64) -> f64 {
    let x = (sorted.len() - 1) as f64 * p;
    let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (x - lo as f64)
}

/// Forecasts from `origin`'s published stocks, `HORIZONS` years ahead, for
/// up to `draws` draws of `posterior` (evenly spaced), with observation
/// noise: returns each [`SERIES`] entry's forecasts.
///
/// # Errors
///
/// The model's errors; [`crate::Error::Invalid`] if the posterior lacks a
/// scale for a series and horizon.
pub fn forecast(
    model: &Model,
    observed: &Observed,
    posterior: &Posterior,
    origin: i32,
    draws: usize,
    seed: u64,
) -> Result<Vec<Forecast>> {
    crate::project::check_from(model, origin)?;
    let program = Program::compile(model)?;
    let projector = crate::project::projector(&program);
    let periods = crate::project::reporting_years(origin, HORIZONS)?;
    let ids: Vec<_> = posterior
        .parameters
        .iter()
        .map(|p| program.parameter(p))
        .collect::<Result<_>>()?;
    // Exogenous series (children's population, UASC arrivals) as known at
    // the origin: held at their last published level after it.
    let known_until = program.parameter(KNOWN_UNTIL).ok();
    let n = draws.min(posterior.draws.len()).max(1);
    let picked: Vec<usize> = (0..n).map(|k| k * posterior.draws.len() / n).collect();
    let mut samples: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); HORIZONS]; SERIES.len()];
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (origin as u64).wrapping_mul(0x9E37));
    for &i in &picked {
        let draw = &posterior.draws[i];
        let mut state = program.state();
        for (id, v) in ids.iter().zip(&draw.values) {
            state.set_param(*id, *v)?;
        }
        if let Some(id) = known_until {
            state.set_param(id, f64::from(origin) + 0.25)?;
        }
        let p = projector.project(&mut state, &periods)?;
        for (s, (name, _, _)) in SERIES.iter().enumerate() {
            for h in 1..=HORIZONS {
                let scale = posterior.scale(name, h).ok_or_else(|| crate::Error::Invalid {
                    what: "backtest".into(),
                    message: format!(
                        "the posterior has no observation scale for `{name}` {h} year(s) ahead: fit it with `restart = \"each period\"` and `horizon = {HORIZONS}`, with `{name}` among the series"
                    ),
                })?;
                let m = p
                    .get(name, f64::from(origin + h as i32))
                    .unwrap_or(f64::NAN);
                let z: f64 = StandardNormal.sample(&mut rng);
                samples[s][h - 1].push(m * (draw.scales[scale] * z).exp());
            }
        }
    }
    let mut out = Vec::new();
    for (s, (name, _, _)) in SERIES.iter().enumerate() {
        let series = observed.series(name)?;
        let last = series.get(origin);
        let back = series.get(origin - 3);
        for h in 1..=HORIZONS {
            let mut xs = samples[s][h - 1].clone();
            xs.sort_by(f64::total_cmp);
            let known = xs.iter().all(|x| x.is_finite());
            out.push(Forecast {
                origin,
                series: name.to_string(),
                horizon: h,
                outturn: series.get(origin + h as i32),
                quantiles: known.then(|| [0.05, 0.25, 0.5, 0.75, 0.95].map(|p| quantile(&xs, p))),
                last_value: last,
                recent_change: last.zip(back).map(|(l, b)| l + h as f64 * (l - b) / 3.0),
            });
        }
    }
    Ok(out)
}

/// Runs the backtest: for each origin, the posterior from data up to it
/// and the forecasts from it. The in-sample fit is added with
/// [`in_sample`] and the posterior of the whole window. `progress` is told
/// about each origin.
///
/// # Errors
///
/// The errors of sampling and forecasting; an origin whose chains have not
/// converged unless `settings.accept_unconverged`.
pub fn backtest(
    model: &Model,
    observed: &Observed,
    spec: &CalibrationSpec,
    settings: &Settings,
    fingerprint: String,
    command: String,
    progress: &mut dyn FnMut(&str),
) -> Result<Backtest> {
    let mut fits = Vec::new();
    let mut forecasts = Vec::new();
    // Each origin's walkers start from the previous origin's draws, which
    // used only data published before it (as a forecaster updating a fit
    // each year would); the first origin's start around a mode search.
    let mut previous: Option<Posterior> = None;
    for &origin in &settings.origins {
        let mut s = spec.clone();
        s.to = Some(f64::from(origin));
        if let Some((steps, burn, thin)) = settings.chains {
            s.mcmc.steps = steps;
            s.mcmc.burn = burn;
            s.mcmc.thin = thin;
        }
        let mut sampled = posterior_from(model, observed, &s, previous.as_ref(), &mut |_, _| {})?;
        let mut evaluations = sampled.evaluations;
        let mut rounds = 1;
        while !sampled.failures.is_empty() && rounds < settings.rounds {
            progress(&format!(
                "origin {origin}: not converged after round {rounds}; sampling again from its draws"
            ));
            let again = posterior_from(
                model,
                observed,
                &s,
                Some(&sampled.posterior),
                &mut |_, _| {},
            )?;
            evaluations += again.evaluations;
            rounds += 1;
            sampled = again;
        }
        if !settings.accept_unconverged {
            sampled.check().map_err(|e| crate::Error::Invalid {
                what: format!("backtest origin {origin}"),
                message: format!(
                    "{e}; or accept unconverged fits (each is flagged in the results)"
                ),
            })?;
        }
        let d = &sampled.diagnostics;
        let fit = OriginFit {
            origin,
            converged: sampled.failures.is_empty(),
            max_rhat: d.rhat.iter().copied().fold(f64::NAN, f64::max),
            min_ess: d.ess.iter().copied().fold(f64::NAN, f64::min),
            evaluations,
            rounds,
        };
        progress(&format!(
            "origin {origin}: {} (largest R-hat {:.3}, smallest ESS {:.0}), {} evaluations",
            if fit.converged {
                "converged"
            } else {
                "NOT converged"
            },
            fit.max_rhat,
            fit.min_ess,
            fit.evaluations
        ));
        fits.push(fit);
        forecasts.extend(forecast(
            model,
            observed,
            &sampled.posterior,
            origin,
            settings.draws,
            settings.seed,
        )?);
        previous = Some(sampled.posterior);
    }
    Ok(Backtest {
        settings: settings.clone(),
        fingerprint,
        command,
        fits,
        forecasts,
        in_sample: Vec::new(),
        full_converged: false,
    })
}

/// In-sample MAPE per [`SERIES`] entry with `posterior`'s median
/// parameters (for [`Backtest::in_sample`]): of one run from the spec's
/// first year, and of one-year-ahead runs from each year's stocks.
///
/// # Errors
///
/// The model's errors; a posterior parameter the model lacks.
pub fn in_sample(
    model: &Model,
    observed: &Observed,
    spec: &CalibrationSpec,
    posterior: &Posterior,
) -> Result<Vec<(String, f64, f64)>> {
    let (from, to) = crate::calibrate::years(spec);
    let program = Program::compile(model)?;
    let mut state = program.state();
    for (i, name) in posterior.parameters.iter().enumerate() {
        let mut xs = posterior.column(i);
        xs.sort_by(f64::total_cmp);
        state.set(name, quantile(&xs, 0.5))?;
    }
    let years: Vec<i32> = (from + 1..=to).collect();
    let whole = crate::project::project_state(&mut state, from, (to - from) as usize)?;
    let mut ahead = Vec::new();
    for y in from..to {
        ahead.push(crate::project::project_state(&mut state, y, 1)?);
    }
    let mut out = Vec::new();
    for (name, _, _) in SERIES {
        let whole_mape = crate::calibrate::mape(&whole, name, observed, &years).unwrap_or(f64::NAN);
        let series = observed.series(name)?;
        let errors: Vec<f64> = ahead
            .iter()
            .zip(from + 1..=to)
            .filter_map(|(p, y)| {
                let o = series.get(y)?;
                let m = p.get(name, f64::from(y))?;
                Some(100.0 * (m - o).abs() / o)
            })
            .collect();
        let ahead_mape = errors.iter().sum::<f64>() / errors.len().max(1) as f64;
        out.push((name.to_string(), whole_mape, ahead_mape));
    }
    Ok(out)
}

impl Backtest {
    /// The scores of each series at each horizon, in [`SERIES`] order.
    pub fn scores(&self) -> Vec<Score> {
        let mut out = Vec::new();
        for (name, _, _) in SERIES {
            for h in 1..=HORIZONS {
                let points: Vec<&Forecast> = self
                    .forecasts
                    .iter()
                    .filter(|f| {
                        f.series == *name
                            && f.horizon == h
                            && f.outturn.is_some()
                            && f.quantiles.is_some()
                    })
                    .collect();
                out.push(score(name, h, &points));
            }
        }
        out
    }

    /// Reads a backtest written by [`Backtest::to_json`].
    ///
    /// # Errors
    ///
    /// [`crate::Error::Invalid`] for text that is not one.
    pub fn from_json(text: &str) -> Result<Backtest> {
        serde_json::from_str(text).map_err(|e| crate::Error::Invalid {
            what: "backtest results".into(),
            message: e.to_string(),
        })
    }

    /// The results as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

fn score(series: &str, horizon: usize, points: &[&Forecast]) -> Score {
    let mut s = Score {
        series: series.to_string(),
        horizon,
        count: points.len(),
        mape: f64::NAN,
        naive_mape: f64::NAN,
        relative_mae: f64::NAN,
        relative_mae_trend: f64::NAN,
        covered50: f64::NAN,
        covered90: f64::NAN,
    };
    if points.is_empty() {
        return s;
    }
    let n = points.len() as f64;
    let o = |f: &Forecast| f.outturn.unwrap_or(f64::NAN);
    let q = |f: &Forecast, k: usize| f.quantiles.map_or(f64::NAN, |q| q[k]);
    s.mape = points
        .iter()
        .map(|f| 100.0 * (q(f, 2) - o(f)).abs() / o(f))
        .sum::<f64>()
        / n;
    let ratio = |naive: fn(&Forecast) -> Option<f64>| {
        let both: Vec<(f64, f64)> = points
            .iter()
            .filter_map(|f| naive(f).map(|v| ((q(f, 2) - o(f)).abs(), (v - o(f)).abs())))
            .collect();
        let model: f64 = both.iter().map(|b| b.0).sum();
        let naive: f64 = both.iter().map(|b| b.1).sum();
        if both.is_empty() {
            f64::NAN
        } else {
            model / naive
        }
    };
    s.relative_mae = ratio(|f| f.last_value);
    s.relative_mae_trend = ratio(|f| f.recent_change);
    let naive: Vec<f64> = points
        .iter()
        .filter_map(|f| f.last_value.map(|v| 100.0 * (v - o(f)).abs() / o(f)))
        .collect();
    s.naive_mape = naive.iter().sum::<f64>() / naive.len().max(1) as f64;
    s.covered50 = points
        .iter()
        .filter(|f| o(f) >= q(f, 1) && o(f) <= q(f, 3))
        .count() as f64
        / n;
    s.covered90 = points
        .iter()
        .filter(|f| o(f) >= q(f, 0) && o(f) <= q(f, 4))
        .count() as f64
        / n;
    s
}

/// Averages of scores: (mean relative MAE, coverage of 50%, of 90%) over
/// every forecast with an outturn.
pub fn summary(backtest: &Backtest) -> (f64, f64, f64) {
    let scores = backtest.scores();
    let finite: Vec<&Score> = scores
        .iter()
        .filter(|s| s.relative_mae.is_finite())
        .collect();
    let mean_ratio =
        finite.iter().map(|s| s.relative_mae).sum::<f64>() / finite.len().max(1) as f64;
    let with: Vec<(f64, [f64; 5])> = backtest
        .forecasts
        .iter()
        .filter_map(|f| f.outturn.zip(f.quantiles))
        .collect();
    let n = with.len().max(1) as f64;
    let inside = |lo: usize, hi: usize| {
        with.iter()
            .filter(|(o, q)| *o >= q[lo] && *o <= q[hi])
            .count() as f64
            / n
    };
    (mean_ratio, inside(1, 3), inside(0, 4))
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.0}%", 100.0 * x)
    } else {
        "-".into()
    }
}

fn num(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "-".into()
    }
}

impl Backtest {
    /// One chart per [`SERIES`] entry (file name `SERIES.svg`, SVG bytes):
    /// each origin's forecast as a fan from its last published value, and
    /// the published figures as dots.
    ///
    /// # Errors
    ///
    /// A chart that cannot be drawn.
    pub fn charts(&self, observed: &Observed) -> Result<Vec<(String, Vec<u8>)>> {
        use crate::engine::chart::{Fan, Format, forecasts_against_outturns};
        let mut out = Vec::new();
        for (name, title, _) in SERIES {
            let mut fans = Vec::new();
            for &origin in &self.settings.origins {
                let mut points = Vec::new();
                for f in self
                    .forecasts
                    .iter()
                    .filter(|f| f.origin == origin && f.series == *name)
                {
                    if let (true, Some(last)) = (points.is_empty(), f.last_value) {
                        points.push((f64::from(origin), [last; 5]));
                    }
                    if let Some(q) = f.quantiles {
                        points.push((f64::from(origin + f.horizon as i32), q));
                    }
                }
                if points.len() > 1 {
                    fans.push(Fan {
                        label: format!("from {origin}"),
                        points,
                    });
                }
            }
            let dots: Vec<(f64, f64)> = observed
                .series(name)?
                .observed()
                .map(|(y, v)| (f64::from(y), v))
                .collect();
            let svg = forecasts_against_outturns(
                Format::Svg,
                &format!("{title}: forecasts and outturns"),
                "children",
                &fans,
                &dots,
            )?;
            out.push((format!("{name}.svg"), svg));
        }
        Ok(out)
    }

    /// The tables of `docs/backtest.md`: generated, never edited by hand.
    /// With `charts`, the folder (relative to the Markdown file) holding
    /// [`Backtest::charts`], which the page shows.
    pub fn to_markdown(&self, charts: Option<&str>) -> String {
        let mut md = String::new();
        let scores = self.scores();
        let (mean_ratio, c50, c90) = summary(self);
        let origins = &self.settings.origins;
        let _ = writeln!(
            md,
            "<!-- Generated by `{}`; fingerprint {} (model, data and spec). Do not edit: rerun the command. -->\n",
            self.command, self.fingerprint
        );
        let _ = writeln!(
            md,
            "# Backtest: forecasts of years the model was not fitted to\n"
        );
        let unconverged: Vec<String> = self
            .fits
            .iter()
            .filter(|f| !f.converged)
            .map(|f| f.origin.to_string())
            .collect();
        if !unconverged.is_empty() {
            let _ = writeln!(
                md,
                "> **The chains of the fits from {} did not converge** (split R-hat above the threshold: see \"The fits\" below): their draws do not fully represent those posteriors, so the intervals below may be too narrow or too wide; the forecasts are shown because the observation noise, which converges fast, dominates their width. Rerun with longer chains to remove this warning.\n",
                unconverged.join(", ")
            );
        }
        let _ = writeln!(
            md,
            "For each origin year from {} to {}, the England model's posterior was sampled using only the published figures up to that year (`models/england.calibrate.toml`: flat priors within the stated bounds, log-normal errors with each series' scale estimated, runs restarting from every year's published stocks and going two years ahead); the walkers of each origin after the first started from the previous origin's draws, which used only data published before it. The forecast starts from the origin's published stocks at 31 March, as the shipped scenarios start from 2023's, and goes one and two years ahead with {} posterior draws, each with its observation noise. Outturns are the published figures in `data/england_national.csv` (to 2023).\n",
            origins.first().copied().unwrap_or(0),
            origins.last().copied().unwrap_or(0),
            self.settings.draws
        );
        let _ = writeln!(md, "## Summary\n");
        let _ = writeln!(
            md,
            "| measure | result | target |\n|---|---|---|\n| mean ratio of the model's absolute error to the last value's (7 series x 2 horizons) | {} | < 0.9 |\n| series and horizons where the model does at least as well as the last value | {} of {} | all |\n| outturns inside the 50% interval | {} | 35-65% |\n| outturns inside the 90% interval | {} | 80-97% |\n",
            num(mean_ratio, 2),
            scores.iter().filter(|s| s.relative_mae <= 1.0).count(),
            scores.len(),
            pct(c50),
            pct(c90)
        );
        let _ = writeln!(md, "## By series and horizon\n");
        let _ = writeln!(
            md,
            "*Error ratio*: the model's mean absolute error over that of the last published value (the naive forecast) on the same forecasts; below 1 the model is better. *vs trend*: the same against the average change of the last three years carried forward. MAPE: mean absolute percentage error of the median forecast.\n"
        );
        let _ = writeln!(
            md,
            "| series | years ahead | forecasts | MAPE | last value's MAPE | error ratio | vs trend | in 50% | in 90% |\n|---|---|---|---|---|---|---|---|---|"
        );
        for s in &scores {
            let label = SERIES
                .iter()
                .find(|x| x.0 == s.series)
                .map_or(s.series.as_str(), |x| x.1);
            let _ = writeln!(
                md,
                "| {label} | {} | {} | {}% | {}% | {} | {} | {} | {} |",
                s.horizon,
                s.count,
                num(s.mape, 1),
                num(s.naive_mape, 1),
                num(s.relative_mae, 2),
                num(s.relative_mae_trend, 2),
                pct(s.covered50),
                pct(s.covered90)
            );
        }
        if let Some(dir) = charts {
            let _ = writeln!(
                md,
                "\n## Forecasts against outturns\n\nEach fan starts from the published figure at its origin and shows the median, the 50% and the 90% intervals one and two years ahead; dots are the published figures.\n"
            );
            for (name, title, _) in SERIES {
                let _ = writeln!(md, "![{title}]({dir}/{name}.svg)\n");
            }
        }
        let _ = writeln!(md, "\n## In-sample fit (2014-2023)\n");
        if !self.full_converged {
            let _ = writeln!(
                md,
                "> **The posterior of the whole window had not converged**: the medians below are approximate.\n"
            );
        }
        let _ = writeln!(
            md,
            "The full posterior's median parameters: MAPE of one run from 31 March 2013, and of one-year-ahead runs from each year's published stocks (how the model is used).\n\n| series | one run from 2013 | one year ahead | target |\n|---|---|---|---|"
        );
        for (name, whole, ahead) in &self.in_sample {
            let stock = SERIES.iter().any(|x| x.0 == name && x.2);
            let _ = writeln!(
                md,
                "| {name} | {}% | {}% | <= {}% |",
                num(*whole, 1),
                num(*ahead, 1),
                if stock { 5 } else { 8 }
            );
        }
        let _ = writeln!(
            md,
            "\n## What this shows and what it does not\n\n\
- Six origins and two horizons give six forecasts per series and horizon (five or fewer where a figure was not published): a ratio of 0.9 and one of 1.1 are not clearly different, and a coverage of 83% is 5 of 6.\n\
- The intervals are for the *published figure*: the model's value times the observation noise estimated from how far the published figures strayed from the model's one- and two-year forecasts before the origin, plus the parameters' uncertainty. They are not intervals for a policy effect.\n\
- Exogenous series are held at their level at the origin (the children's population and arrivals of unaccompanied asylum-seeking children), as a forecaster then would have held them; shocks after the origin (the 2020-21 pandemic, the 2022-23 rise in UASC arrivals) count against the model.\n\
- The model's own structure is fixed across origins: structural choices made with hindsight (such as the trend in exits from care, `care exit trend`, added after seeing 2013-2023) flatter these scores.\n\
- Children looked after at 31 March 2013-2020 are the figures first published each year (later revised by DfE; see data/README.md)."
        );
        let _ = writeln!(md, "\n## Every forecast\n");
        let _ = writeln!(
            md,
            "| origin | series | year | outturn | median | 50% interval | 90% interval | last value | trend |\n|---|---|---|---|---|---|---|---|---|"
        );
        for f in &self.forecasts {
            let o = f.outturn.map_or("-".into(), |v| num(v, 0));
            let (median, i50, i90) = match f.quantiles {
                Some(q) => (
                    num(q[2], 0),
                    format!("{}-{}", num(q[1], 0), num(q[3], 0)),
                    format!("{}-{}", num(q[0], 0), num(q[4], 0)),
                ),
                None => (
                    "no forecast: no error at this horizon before the origin".into(),
                    "-".into(),
                    "-".into(),
                ),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {o} | {median} | {i50} | {i90} | {} | {} |",
                f.origin,
                f.series,
                f.origin + f.horizon as i32,
                f.last_value.map_or("-".into(), |v| num(v, 0)),
                f.recent_change.map_or("-".into(), |v| num(v, 0)),
            );
        }
        let _ = writeln!(md, "\n## The fits\n");
        let _ = writeln!(
            md,
            "| origin | converged | largest split R-hat | smallest effective sample size | sampling rounds | model evaluations |\n|---|---|---|---|---|---|"
        );
        for f in &self.fits {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                f.origin,
                if f.converged { "yes" } else { "**no**" },
                num(f.max_rhat, 3),
                num(f.min_ess, 0),
                f.rounds,
                f.evaluations
            );
        }
        let _ = writeln!(
            md,
            "\nA fit whose chains had not converged was sampled again, its walkers starting from its own draws, up to {} round(s) in all; the split R-hat and effective sample size are the last round's.",
            self.settings.rounds
        );
        md
    }
}
