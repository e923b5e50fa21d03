//! Every local authority calibrated together: the England model's local
//! rates fitted to all authorities at once by partially pooled Bayesian
//! calibration ([`engine::calibrate::sample_pooled`](crate::engine::calibrate::sample_pooled)).
//!
//! **Each authority's history.** [`history`] makes the authority's model
//! as [`localise`](crate::local::localise) does (its children, cases,
//! social workers, money in proportion to its children), but starting in
//! 2013, with its published stocks at every 31 March from 2013 to the last
//! year fitted as starting data, so that runs can restart from each year
//! as forecasts do. A start figure the authority did not publish is filled
//! in by the rules of [`start_figures`](crate::local::start_figures)
//! (earlier code, predecessor split, interpolation between published
//! years, nearest year, England's rate per child), and reported as a
//! [`LocalWarning`] naming authority, series and year. Children looked
//! after are published by authority only from 2021: before that, each
//! authority's starting figure is back-cast from its first published
//! year by England's change in children looked after per child
//! ([`Filled::Backcast`]); these are estimates, stated once (not one
//! warning per authority and year). Only figures published up to the last
//! fitted year are used (a history cut at a backtest's origin sees
//! nothing later, workforce included).
//!
//! **Authorities created by a split or merger** (North and West
//! Northamptonshire from Northamptonshire in 2021; Bournemouth,
//! Christchurch and Poole and Dorset from Bournemouth, Poole and Dorset
//! county in 2019) are fitted to their predecessors' years as well as
//! their own: for each series and year before the change, the
//! predecessors' total times the authority's share of all the successors'
//! figures for the same series over their published years up to the last
//! fitted year ([`LocalAuthorities::apportioned`]; fitted to 2023, North
//! Northamptonshire's children in need are 45.0% of Northamptonshire's,
//! its children 46.2%). Each apportioned figure of a start or fitted
//! series is a [`LocalWarning`] ([`Filled::Split`]) naming the
//! authority, series, year, predecessors and share. An authority is fitted
//! only once it has published figures of its own (a history cut before
//! its first year does not fit it, so no share comes from a later year).
//! Cumbria's successors (Cumberland, Westmorland and Furness, from 1 April
//! 2023) have no figures or children in the data yet, so Cumbria is still
//! the current authority for their area.
//!
//! **What is fitted.** The six local rates of [`LOCAL_PARAMETERS`], as
//! factors of England's values, to the authority's referrals, children in
//! need, plans started and at 31 March, and (from 2021) entries to care,
//! exits and children looked after ([`LOCAL_SERIES`]): every published
//! (or apportioned) year of each series, 2014 to the last fitted year. A
//! figure not published (suppressed, or before the authority existed with
//! no predecessors' figure to apportion) is left out of the fit and
//! reported ([`MissingFigure`]); never fatal.
//!
//! **Pooling.** Each rate's log factor is drawn from a national
//! distribution whose centre and spread are estimated with the
//! authorities' values, and the published counts are negative binomial
//! with a dispersion per series shared by all authorities: large
//! authorities are fitted mostly to their own figures; small ones, whose
//! figures are noisy, are pulled towards the others. A rate none of an
//! authority's series tells (Isles of Scilly's care rates) is drawn from
//! the national distribution. A rate no authority's series tells (the care
//! rates in a fit that ends before 2021, when children looked after began
//! to be published by authority) is held at England's value for all of
//! them and named ([`LocalPosterior::held`]). `cp exit rate` is held at
//! England's value too unless asked otherwise ([`HELD_BY_DEFAULT`]): the
//! figures barely tell it apart across authorities, and fitting it kept the
//! chains from converging. The England model's other parameters keep
//! their point values: the national posterior's uncertainty is not
//! carried into local runs (the local rates absorb much of it).
//!
//! [`calibrate_all`] runs it for a list of authorities (all current ones
//! by default); `carecascade calibrate-local` writes the draws
//! ([`LocalPosterior::to_csv`]) that local ensembles draw from.

use crate::data::{Authority, LocalAuthorities, Observed};
use crate::engine::calibrate::{
    CHAINS, Group, Pooled, PooledParameter, PooledSettings, sample_pooled,
};
use crate::engine::error::{Error, Result};
use crate::engine::{Model, Program};
use crate::local::{
    Filled, IDENTIFIED_BY, LOCAL_PARAMETERS, LOCAL_SERIES, LocalWarning, START_SERIES,
    StartFigures, fill, unfitted,
};
use rayon::prelude::*;
use std::fmt::Write as _;

/// The first year of every local history: its 31 March stocks start the
/// first runs (children in need and on plans are published by authority
/// from 2013).
pub const HISTORY_FROM: i32 = 2013;

/// The last year fitted by default (the latest published).
pub const HISTORY_TO: i32 = 2023;

/// Years each run goes ahead from its restart (as the backtests forecast).
pub const HORIZON: usize = 2;

/// The start series and the lookups that hold them.
const START_LOOKUPS: &[(&str, &str)] = &[
    ("population_0_17", "population 0 to 17"),
    ("cin_at_31_march", "observed cin"),
    ("cpp_at_31_march", "observed cp"),
    ("cla_at_31_march", "observed cla"),
    ("cin_awaiting_assessment", "observed awaiting assessment"),
];

/// A figure of a fitted series that an authority did not publish for a
/// year it published others: left out of the fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingFigure {
    /// The authority's ONS code.
    pub code: String,
    /// Its name.
    pub authority: String,
    /// The series (column of `data/local_authorities.csv`).
    pub series: String,
    /// The reporting year.
    pub year: i32,
}

impl std::fmt::Display for MissingFigure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {} for {} not published (suppressed or missing); left out of the fit",
            self.authority, self.code, self.series, self.year
        )
    }
}

/// An authority's model over its history, ready to be fitted.
#[derive(Debug, Clone)]
pub struct History {
    /// The authority.
    pub authority: Authority,
    /// The England model with the authority's figures, starting from its
    /// stocks of 31 March [`HISTORY_FROM`], with starting data for every
    /// 31 March up to `to`.
    pub model: Model,
    /// Its published figures up to `to`.
    pub observed: Observed,
    /// The last year fitted.
    pub to: i32,
    /// Its share of England's children in [`HISTORY_FROM`].
    pub share: f64,
    /// Start figures filled in (not the back-casts of children looked
    /// after before 2021, which every authority has).
    pub warnings: Vec<LocalWarning>,
    /// Figures of fitted series not published, left out.
    pub missing: Vec<MissingFigure>,
}

/// The published figures of `observed` for `column` up to `to`, with
/// every year from [`HISTORY_FROM`] to `to` the authority did not publish
/// filled in: (year, value, how) for each year.
fn start_points(
    table: &LocalAuthorities,
    authority: &Authority,
    observed: &Observed,
    column: &str,
    to: i32,
    england: &Observed,
    population: &[(i32, f64)],
) -> Result<Vec<(i32, f64, Option<Filled>)>> {
    let series = observed.series(column)?;
    let first_anywhere = table.first_published_year(column).unwrap_or(HISTORY_FROM);
    let own_first = series.observed().next();
    let population_in = |y: i32| population.iter().find(|(py, _)| *py == y).map(|p| p.1);
    let mut out = Vec::new();
    for year in HISTORY_FROM..=to {
        if let Some(v) = series.get(year) {
            out.push((year, v, None));
            continue;
        }
        // Before any authority published the series: back-cast.
        if year < first_anywhere
            && let Some((fy, fv)) = own_first
        {
            let per_child = |y: i32| {
                let n = england.series(column).ok()?.get(y)?;
                let c = england.series("population_0_17").ok()?.get(y)?;
                Some(n / c)
            };
            if let (Some(now), Some(then), Some(p), Some(pf)) = (
                per_child(year),
                per_child(fy),
                population_in(year),
                population_in(fy),
            ) {
                let ratio = now / then;
                let value = fv / pf * ratio * p;
                out.push((
                    year,
                    value,
                    Some(Filled::Backcast {
                        first: (fy, fv),
                        england_ratio: ratio,
                        population: p,
                    }),
                ));
                continue;
            }
        }
        let (v, filled) = fill(
            table,
            authority,
            &series,
            column,
            year,
            england,
            population_in(year),
            to,
        )
        .ok_or_else(|| Error::Invalid {
            what: format!("local history of {} ({})", authority.name, authority.code),
            message: format!("`{column}` for {year} is not published and cannot be estimated"),
        })?;
        out.push((year, v, Some(filled)));
    }
    Ok(out)
}

/// Whether `observed` has a figure of a fitted series after
/// [`HISTORY_FROM`].
fn has_figures(observed: &Observed) -> bool {
    LOCAL_SERIES.iter().any(|(c, _)| {
        observed
            .series(c)
            .is_ok_and(|s| s.observed().any(|(y, _)| y > HISTORY_FROM))
    })
}

/// The model of `authority`'s history from [`HISTORY_FROM`] to `to`
/// (see the [module documentation](self)), made from `model` (the England
/// model).
///
/// # Errors
///
/// [`Error::Invalid`] for an authority with no figures up to `to`, or a
/// start figure that none of the rules can estimate; the errors of making
/// a local model (a model without the England model's names).
pub fn history(
    model: &Model,
    table: &LocalAuthorities,
    authority: &Authority,
    to: i32,
) -> Result<History> {
    let name = format!("{} ({})", authority.name, authority.code);
    // Has the authority itself published anything up to `to`? (An
    // authority created later is not fitted, whatever its predecessors
    // published.)
    if !has_figures(&table.series_of(authority)?.until(to)) {
        return Err(Error::Invalid {
            what: format!("local history of {name}"),
            message: format!(
                "{name} published no figures from {} to {to}",
                HISTORY_FROM + 1
            ),
        });
    }
    let (observed, apportioned) = table.series_with_predecessors(authority, to)?;
    let england = Observed::england()?;
    let split_of = |a: &crate::data::Apportioned| Filled::Split {
        predecessors: a.predecessors.clone(),
        share_years: a.share_years.clone(),
        share: a.share,
    };
    let split = |column: &str, year: i32| {
        apportioned
            .iter()
            .find(|a| a.series == column && a.year == year)
            .map(split_of)
    };
    // The population first: the other fills need it.
    let population: Vec<(i32, f64)> = start_points(
        table,
        authority,
        &observed,
        "population_0_17",
        to,
        &england,
        &[],
    )?
    .into_iter()
    .map(|(y, v, _)| (y, v))
    .collect();
    let mut warnings = Vec::new();
    let mut points = Vec::new();
    for &(column, lookup) in START_LOOKUPS {
        let filled: Vec<_> = start_points(
            table,
            authority,
            &observed,
            column,
            to,
            &england,
            &population,
        )?
        .into_iter()
        .map(|(year, value, how)| (year, value, how.or_else(|| split(column, year))))
        .collect();
        for (year, value, how) in &filled {
            if let Some(how) = how
                && !matches!(how, Filled::Backcast { .. })
            {
                warnings.push(LocalWarning {
                    code: authority.code.clone(),
                    authority: authority.name.clone(),
                    series: column.to_string(),
                    year: *year,
                    value: *value,
                    filled: how.clone(),
                });
            }
        }
        points.push((column, lookup, filled));
    }
    // The apportioned figures of the fitted series that are not start
    // figures (those are above).
    for a in &apportioned {
        if LOCAL_SERIES.iter().any(|(c, _)| *c == a.series)
            && !START_LOOKUPS.iter().any(|(c, _)| *c == a.series)
        {
            warnings.push(LocalWarning {
                code: authority.code.clone(),
                authority: authority.name.clone(),
                series: a.series.clone(),
                year: a.year,
                value: a.value,
                filled: split_of(a),
            });
        }
    }
    let start_value = |column: &str| {
        points
            .iter()
            .find(|(c, _, _)| *c == column)
            .and_then(|(_, _, p)| p.first().map(|x| x.1))
            .unwrap_or(f64::NAN)
    };
    let start = StartFigures {
        authority: authority.clone(),
        observed: observed.clone(),
        from: HISTORY_FROM,
        values: START_SERIES
            .iter()
            .map(|(c, _)| (c.to_string(), start_value(c)))
            .collect(),
        warnings: warnings
            .iter()
            .filter(|w| w.year == HISTORY_FROM)
            .cloned()
            .collect(),
    };
    let made = unfitted(model, &start)?;
    let mut m = made.model;
    let source = format!("{name}, data/local_authorities.csv");
    for (column, lookup, filled) in &points {
        let xy: Vec<(f64, f64)> = filled
            .iter()
            .map(|(y, v, _)| (f64::from(*y) + 0.25, *v))
            .collect();
        let estimated: Vec<String> = filled
            .iter()
            .filter_map(|(y, _, how)| how.as_ref().map(|h| format!("{y} ({})", h.kind())))
            .collect();
        let mut doc = format!("Local history: {source} {column}, 31 March {HISTORY_FROM}-{to}.");
        if !estimated.is_empty() {
            let _ = write!(doc, " Estimated (not published): {}.", estimated.join(", "));
        }
        m = m.with_lookup_points(lookup, &xy, &doc)?;
    }
    // The workforce lookups hold their first and last figures over every
    // start (as the England model's do).
    let (first, last) = (f64::from(HISTORY_FROM) + 0.25, f64::from(to) + 0.25);
    for lookup in ["observed social workers", "observed agency workers"] {
        if let Some(crate::engine::model::VariableKind::Lookup { table, .. }) =
            m.variable(lookup).map(|v| v.kind())
        {
            let mut xy: Vec<(f64, f64)> = table
                .xs()
                .iter()
                .zip(table.ys())
                .map(|(x, y)| (*x, *y))
                .filter(|(x, _)| *x >= first && *x <= last)
                .collect();
            let (Some((&x0, &y0)), Some((&x1, &y1))) = (
                table.xs().first().zip(table.ys().first()),
                table.xs().last().zip(table.ys().last()),
            ) else {
                continue;
            };
            // Values at the ends of the span, as the lookup gives them.
            let at = |x: f64| {
                if x <= x0 {
                    y0
                } else if x >= x1 {
                    y1
                } else {
                    table.eval(x)
                }
            };
            if xy.first().is_none_or(|p| p.0 > first) {
                xy.insert(0, (first, at(first)));
            }
            if xy.last().is_none_or(|p| p.0 < last) {
                xy.push((last, at(last)));
            }
            let doc = m
                .variable(lookup)
                .map(|v| v.doc().to_string())
                .unwrap_or_default();
            m = m.with_lookup_points(lookup, &xy, &doc)?;
        }
    }
    let time = m
        .time()
        .with_start(f64::from(HISTORY_FROM) + 0.25)
        .and_then(|t| t.with_stop(f64::from(to) + 0.25 + HORIZON as f64))?;
    let model = m.with_time(time);
    // Figures of the fitted series not published in years the authority
    // published others.
    let mut missing = Vec::new();
    let active: Vec<i32> = (HISTORY_FROM + 1..=to)
        .filter(|y| {
            LOCAL_SERIES
                .iter()
                .any(|(c, _)| observed.series(c).is_ok_and(|s| s.get(*y).is_some()))
        })
        .collect();
    for (column, _) in LOCAL_SERIES {
        let Ok(series) = observed.series(column) else {
            continue;
        };
        let first = table.first_published_year(column).unwrap_or(HISTORY_FROM);
        for &y in &active {
            if y >= first && series.get(y).is_none() {
                missing.push(MissingFigure {
                    code: authority.code.clone(),
                    authority: authority.name.clone(),
                    series: column.to_string(),
                    year: y,
                });
            }
        }
    }
    Ok(History {
        authority: authority.clone(),
        model,
        observed,
        to,
        share: made.share,
        warnings,
        missing,
    })
}

/// How [`calibrate_all`] samples.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSettings {
    /// The last year fitted.
    pub to: i32,
    /// Sweeps in all (see [`PooledSettings`]).
    pub sweeps: usize,
    /// Burn-in sweeps.
    pub burn: usize,
    /// Draws kept in all (spread evenly over the chains and the sweeps
    /// after the burn-in).
    pub keep: usize,
    /// Seed.
    pub seed: u64,
    /// The weight of a figure one year older than the next (see
    /// [`PooledSettings::discount`]): a figure `a` years before the last
    /// fitted year counts `discount^a`. [`DISCOUNT`] by default.
    pub discount: f64,
    /// Rates (of [`LOCAL_PARAMETERS`]) held at England's value for every
    /// authority, not fitted. [`HELD_BY_DEFAULT`] by default; empty fits
    /// every rate.
    pub hold: Vec<String>,
    /// Further sweeps allowed if the chains have not converged
    /// ([`LocalPosterior::converged`]) after `sweeps` (see
    /// [`PooledSettings::extend`]); the draws of the extra sweeps are kept
    /// too, so there are more than `keep`. [`EXTEND`] by default.
    pub extend: usize,
}

/// The further sweeps a local calibration may run, by default, if its
/// chains have not converged after the sweeps asked for: 1,000.
pub const EXTEND: usize = 1000;

/// The local rates held at England's value unless asked otherwise:
/// `cp exit rate`. Authorities' figures barely tell it apart (its
/// spread across authorities is 1-2%), so the spread sits in the neck
/// of a funnel its chains do not cross: split R-hat 1.12-1.62 at 800
/// sweeps at every origin of the local backtest, 1.14 at 1,600 sweeps
/// for the 2023 fit. Held (with every authority taking the fitted move),
/// the worst population parameter was 1.050 or less at every origin,
/// sampling took 398-736 s an origin against 715-935 s, and the
/// forecasts' median error ratios moved by 0.02 at most
/// (`docs/local-validation.md`).
pub const HELD_BY_DEFAULT: &[&str] = &["cp exit rate"];

/// Refuses a rate to hold that is not one of [`LOCAL_PARAMETERS`],
/// naming the closest.
///
/// # Errors
///
/// [`Error::Invalid`] naming the unknown rate and the closest local rate.
pub fn check_hold(hold: &[String]) -> Result<()> {
    for name in hold {
        if !LOCAL_PARAMETERS.iter().any(|(p, _, _)| p == name) {
            let names = LOCAL_PARAMETERS.iter().map(|(p, _, _)| *p);
            return Err(Error::Invalid {
                what: "local calibration".into(),
                message: format!(
                    "cannot hold `{name}`: the local rates are {}{}",
                    LOCAL_PARAMETERS
                        .iter()
                        .map(|(p, _, _)| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    crate::engine::name::did_you_mean(crate::engine::closest(name, names))
                ),
            });
        }
    }
    Ok(())
}

/// The default weight of a figure one year older than the next: 1, every
/// year alike. Discounting older years (a forgetting factor, for rates
/// that drift) was tried in the local backtest and forecast children in
/// need worse (0.5: median error ratios 1.22 and 1.25 one and two years
/// ahead, against 1.18 and 1.14 undiscounted, origins 2019 and 2021 at
/// 300 sweeps), so it is not the default; `--discount` sets it.
pub const DISCOUNT: f64 = 1.0;

impl Default for PoolSettings {
    /// 1,000 sweeps (400 burn-in, up to [`EXTEND`] more until the chains
    /// converge), 200 draws kept, fitted to 2023, older years discounted
    /// by [`DISCOUNT`], [`HELD_BY_DEFAULT`] held.
    fn default() -> PoolSettings {
        PoolSettings {
            to: HISTORY_TO,
            sweeps: 1000,
            burn: 400,
            keep: 200,
            seed: 20_230_331,
            discount: DISCOUNT,
            hold: HELD_BY_DEFAULT.iter().map(|h| h.to_string()).collect(),
            extend: EXTEND,
        }
    }
}

/// The authorities' posterior: the engine's pooled draws with the
/// authorities and what was filled in or left out.
#[derive(Debug, Clone)]
pub struct LocalPosterior {
    /// The draws, by authority (groups are ONS codes).
    pub pooled: Pooled,
    /// The authorities, in the order of the groups.
    pub authorities: Vec<Authority>,
    /// Their shares of England's children.
    pub shares: Vec<f64>,
    /// The last year fitted.
    pub to: i32,
    /// Rates held at England's value because no authority published a
    /// figure that tells them up to `to` (see [`IDENTIFIED_BY`]).
    pub held: Vec<String>,
    /// Rates held at England's value as asked ([`PoolSettings::hold`]).
    pub held_by_setting: Vec<String>,
    /// Authorities left out (no figures up to `to`), with why.
    pub skipped: Vec<(Authority, String)>,
    /// Start figures filled in.
    pub warnings: Vec<LocalWarning>,
    /// Figures left out of the fit.
    pub missing: Vec<MissingFigure>,
    /// Seconds the sampling took.
    pub seconds: f64,
}

/// The pooled parameters: [`LOCAL_PARAMETERS`] with their factor bounds.
pub fn parameters() -> Vec<PooledParameter> {
    LOCAL_PARAMETERS
        .iter()
        .map(|(name, min, max)| PooledParameter {
            name: (*name).to_string(),
            min_factor: *min,
            max_factor: *max,
        })
        .collect()
}

/// The pooled parameters some fitted authority's figures tell, and those
/// none does (held at England's value): a rate is told when one of its
/// [`IDENTIFIED_BY`] series has a figure other than 0 after
/// [`HISTORY_FROM`] for at least one authority. Children looked after are
/// published by authority from 2021, so a fit to 2018 holds the two care
/// rates: drawn from a national distribution that no figure constrains,
/// they would only wander (their chains did not mix: split R-hat up to
/// 4.5 at 800 sweeps) and add noise to the forecasts.
fn told_parameters(observed: &[&Observed]) -> (Vec<PooledParameter>, Vec<String>) {
    let published = |column: &str| {
        observed.iter().any(|o| {
            o.series(column)
                .is_ok_and(|s| s.observed().any(|(y, v)| y > HISTORY_FROM && v != 0.0))
        })
    };
    let (told, held): (Vec<_>, Vec<_>) = parameters().into_iter().partition(|p| {
        IDENTIFIED_BY
            .iter()
            .find(|(q, _)| *q == p.name)
            .is_none_or(|(_, by)| by.iter().any(|c| published(c)))
    });
    (told, held.into_iter().map(|p| p.name).collect())
}

/// Calibrates `authorities` together (see the [module
/// documentation](self)), from their histories to `settings.to` made
/// from `model`. Authorities with no figures up to `settings.to` (those
/// created later) are skipped and listed. `progress(done, sweeps)` is
/// called after every sweep.
///
/// # Errors
///
/// [`Error::Invalid`] if no authority can be fitted; the errors of
/// [`history`] other than an authority without figures, and of the
/// sampler.
pub fn calibrate_all(
    model: &Model,
    authorities: &[Authority],
    settings: &PoolSettings,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<LocalPosterior> {
    check_hold(&settings.hold)?;
    let kept_sweeps = settings.sweeps.saturating_sub(settings.burn);
    if settings.keep < 4 * CHAINS || settings.keep > kept_sweeps * CHAINS {
        return Err(Error::Invalid {
            what: "local calibration".into(),
            message: format!(
                "keep {} draws: give between {} (4 per chain) and {} (every sweep after the burn-in of each of the {CHAINS} chains: sweeps {} minus burn-in {})",
                settings.keep,
                4 * CHAINS,
                kept_sweeps * CHAINS,
                settings.sweeps,
                settings.burn
            ),
        });
    }
    let table = LocalAuthorities::load()?;
    // Authorities created after `to` have nothing to fit.
    let mut skipped = Vec::new();
    let mut fitted = Vec::new();
    for a in authorities {
        if has_figures(&table.series_of(a)?.until(settings.to)) {
            fitted.push(a.clone());
        } else {
            skipped.push((
                a.clone(),
                format!(
                    "published no figures from {} to {}",
                    HISTORY_FROM + 1,
                    settings.to
                ),
            ));
        }
    }
    let histories = fitted
        .par_iter()
        .map(|a| history(model, &table, a, settings.to))
        .collect::<Result<Vec<_>>>()?;
    if histories.is_empty() {
        return Err(Error::Invalid {
            what: "local calibration".into(),
            message: format!("no authority published figures up to {}", settings.to),
        });
    }
    let programs = histories
        .par_iter()
        .map(|h| Program::compile(&h.model))
        .collect::<Result<Vec<_>>>()?;
    let projectors: Vec<_> = programs.iter().map(crate::project::projector).collect();
    let observations: Vec<_> = histories
        .iter()
        .map(|h| crate::calibrate::observations(&h.observed))
        .collect();
    let starts: Vec<_> = histories.iter().map(|h| h.model.start_data()).collect();
    let groups: Vec<Group> = histories
        .iter()
        .enumerate()
        .map(|(i, h)| Group {
            name: &h.authority.code,
            program: &programs[i],
            projector: &projectors[i],
            observations: &observations[i],
            start_data: starts[i].as_ref(),
        })
        .collect();
    let periods =
        crate::project::reporting_years(HISTORY_FROM, (settings.to - HISTORY_FROM) as usize)?;
    let mut pooled_settings = PooledSettings::new(
        periods,
        LOCAL_SERIES.iter().map(|(c, _)| c.to_string()).collect(),
        HORIZON,
    );
    pooled_settings.sweeps = settings.sweeps;
    pooled_settings.burn = settings.burn;
    pooled_settings.thin =
        ((settings.sweeps - settings.burn) * CHAINS / settings.keep.max(1)).max(1);
    pooled_settings.seed = settings.seed;
    pooled_settings.moves = 1;
    pooled_settings.discount = settings.discount;
    pooled_settings.extend = settings.extend;
    pooled_settings.target_rhat = MAX_RHAT;
    pooled_settings.target_ess = MIN_ESS;
    let started = std::time::Instant::now();
    let (told, held) = told_parameters(&histories.iter().map(|h| &h.observed).collect::<Vec<_>>());
    let told: Vec<PooledParameter> = told
        .into_iter()
        .filter(|p| !settings.hold.contains(&p.name))
        .collect();
    if told.is_empty() {
        return Err(Error::Invalid {
            what: "local calibration".into(),
            message: "every rate is held: nothing left to fit".into(),
        });
    }
    let pooled = sample_pooled(&groups, &told, &pooled_settings, progress)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(LocalPosterior {
        pooled,
        shares: histories.iter().map(|h| h.share).collect(),
        to: settings.to,
        held,
        held_by_setting: settings.hold.clone(),
        skipped,
        warnings: histories.iter().flat_map(|h| h.warnings.clone()).collect(),
        missing: histories.iter().flat_map(|h| h.missing.clone()).collect(),
        authorities: histories.into_iter().map(|h| h.authority).collect(),
        seconds,
    })
}

/// The first line of a local posterior file.
const MAGIC: &str = "# carecascade local posterior, format 1";

/// Convergence thresholds: split R-hat at most this for every
/// authority's every rate and the population parameters.
pub const MAX_RHAT: f64 = 1.05;
/// And an effective sample size at least this.
pub const MIN_ESS: f64 = 50.0;

impl LocalPosterior {
    /// Whether the chains passed [`MAX_RHAT`] and [`MIN_ESS`] everywhere.
    pub fn converged(&self) -> bool {
        let d = &self.pooled.diagnostics;
        d.worst_rhat().0 <= MAX_RHAT
            && d.min_ess() >= MIN_ESS
            && d.population_rhat.iter().all(|r| *r <= MAX_RHAT)
    }

    /// The diagnostics in one line.
    pub fn describe_convergence(&self) -> String {
        let d = &self.pooled.diagnostics;
        let (r, g, k) = d.worst_rhat();
        // The population's parameters in the order of the diagnostics:
        // each rate's centre, each rate's spread, each series' dispersion
        // per horizon.
        let names: Vec<String> = self
            .pooled
            .parameters
            .iter()
            .map(|p| format!("centre of `{}`", p.name))
            .chain(
                self.pooled
                    .parameters
                    .iter()
                    .map(|p| format!("spread of `{}`", p.name)),
            )
            .chain(self.pooled.series.iter().flat_map(|s| {
                (1..=self.pooled.horizons).map(move |h| format!("dispersion of `{s}` {h} ahead"))
            }))
            .collect();
        let (pop, worst) = d.population_rhat.iter().enumerate().fold(
            (f64::NEG_INFINITY, None),
            |(best, at), (i, r)| {
                if *r > best { (*r, Some(i)) } else { (best, at) }
            },
        );
        let worst = worst
            .and_then(|i| names.get(i))
            .map_or(String::new(), |n| format!(": {n}"));
        format!(
            "split R-hat <= {MAX_RHAT} for {:.1}% of authority rates (worst {r:.3}: {} `{}`), population parameters' worst {pop:.3}{worst}; smallest effective sample size {:.0}; acceptance {:.2} (lowest authority {:.2}); {} of {} authorities also moved from a fitted Gaussian, accepting {:.2}; collective moves accepting {:.2}; {} sweeps; {} model evaluations in {:.0} s",
            100.0 * d.share_below(MAX_RHAT),
            self.pooled.groups.get(g).map_or("", String::as_str),
            self.pooled
                .parameters
                .get(k)
                .map_or("", |p| p.name.as_str()),
            d.min_ess(),
            d.acceptance,
            d.min_group_acceptance,
            d.fitted_groups,
            self.pooled.groups.len(),
            d.fitted_acceptance,
            d.collective_acceptance,
            d.sweeps,
            d.evaluations,
            self.seconds
        ) + &self.describe_held()
    }

    /// The rates held at England's value, as a clause of the diagnostics
    /// (empty when every rate was fitted).
    fn describe_held(&self) -> String {
        let names = |held: &[String]| -> String {
            held.iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = String::new();
        if !self.held.is_empty() {
            out += &format!(
                "; held at England's value (no authority published a figure telling them up to {}): {}",
                self.to,
                names(&self.held)
            );
        }
        if !self.held_by_setting.is_empty() {
            out += &format!(
                "; held at England's value by the settings (`--hold`): {}",
                names(&self.held_by_setting)
            );
        }
        out
    }

    /// The draws as CSV: `#` header lines (how they were obtained, whether
    /// the chains converged, what was skipped), then one row per draw and
    /// authority: `draw`, `chain`, `code`, then each rate's value.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{MAGIC}");
        let _ = writeln!(
            out,
            "# converged: {}",
            if self.converged() { "yes" } else { "NO" }
        );
        let _ = writeln!(
            out,
            "# fitted: published figures of each authority, {}-{}, restarting from its stocks at every 31 March (data/local_authorities.csv)",
            HISTORY_FROM + 1,
            self.to
        );
        let _ = writeln!(out, "# method: {}", self.pooled.method);
        let _ = writeln!(out, "# diagnostics: {}", self.describe_convergence());
        for (a, why) in &self.skipped {
            let _ = writeln!(out, "# skipped: {} ({}): {why}", a.name, a.code);
        }
        let mut w = String::from("draw,chain,code");
        for p in &self.pooled.parameters {
            w.push(',');
            w.push_str(&p.name);
        }
        out.push_str(&w);
        out.push('\n');
        for (k, d) in self.pooled.draws.iter().enumerate() {
            for (g, code) in self.pooled.groups.iter().enumerate() {
                let _ = write!(out, "{k},{},{code}", d.chain);
                for v in &d.values[g] {
                    let _ = write!(out, ",{v:.6e}");
                }
                out.push('\n');
            }
        }
        out
    }

    /// The population's draws as CSV: per draw, each rate's national
    /// median factor (`exp(mu)`) and spread (`tau`, of the log factor),
    /// and each series' dispersion.
    pub fn population_csv(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# carecascade local posterior population, format 1");
        let _ = writeln!(out, "# method: {}", self.pooled.method);
        let mut header = vec!["draw".to_string(), "chain".to_string()];
        for p in &self.pooled.parameters {
            header.push(format!("median factor:{}", p.name));
        }
        for p in &self.pooled.parameters {
            header.push(format!("spread:{}", p.name));
        }
        for s in &self.pooled.series {
            for h in 1..=self.pooled.horizons {
                header.push(format!("dispersion:{s}:{h}"));
            }
        }
        let _ = writeln!(out, "{}", header.join(","));
        for (k, d) in self.pooled.draws.iter().enumerate() {
            let _ = write!(out, "{k},{}", d.chain);
            for m in &d.mean {
                let _ = write!(out, ",{:.6e}", m.exp());
            }
            for v in d.spread.iter().chain(&d.dispersion) {
                let _ = write!(out, ",{v:.6e}");
            }
            out.push('\n');
        }
        out
    }
}

/// A local posterior file read back: each authority's draws of the local
/// rates.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalDraws {
    /// Whether the chains converged (the file's `# converged:` line).
    pub converged: bool,
    /// The header lines, without `# `.
    pub notes: Vec<String>,
    /// The rates, as named in the model.
    pub parameters: Vec<String>,
    /// Per authority (ONS code), one row of values per draw.
    pub draws: indexmap::IndexMap<String, Vec<Vec<f64>>>,
}

impl LocalDraws {
    /// Reads a file written by [`LocalPosterior::to_csv`].
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be read; as
    /// [`LocalDraws::parse`].
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<LocalDraws> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        LocalDraws::parse(&text, &path.display().to_string())
    }

    /// Parses a local posterior; `file` names it in messages.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the file and line for a first line that is
    /// not the format's, a header without `draw,chain,code`, a row of the
    /// wrong length or a value that is not a positive finite number, and
    /// for a file without draws.
    pub fn parse(text: &str, file: &str) -> Result<LocalDraws> {
        let bad = |line: usize, message: String| Error::Invalid {
            what: format!("local posterior {file}:{line}"),
            message,
        };
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, l)) if l.trim_end() == MAGIC => {}
            _ => {
                return Err(bad(
                    1,
                    format!("expected `{MAGIC}` (a file written by `carecascade calibrate-local`)"),
                ));
            }
        }
        let mut notes = Vec::new();
        let mut converged = false;
        let mut header: Option<Vec<String>> = None;
        let mut draws: indexmap::IndexMap<String, Vec<Vec<f64>>> = indexmap::IndexMap::new();
        for (i, line) in lines {
            let n = i + 1;
            if let Some(note) = line.strip_prefix('#') {
                let note = note.trim();
                if let Some(c) = note.strip_prefix("converged:") {
                    converged = c.trim() == "yes";
                }
                notes.push(note.to_string());
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let cells: Vec<&str> = line.split(',').collect();
            let Some(columns) = &header else {
                if cells.len() < 4 || cells[..3] != ["draw", "chain", "code"] {
                    return Err(bad(
                        n,
                        "expected the header `draw,chain,code,` followed by the rates".into(),
                    ));
                }
                header = Some(cells[3..].iter().map(|c| c.to_string()).collect());
                continue;
            };
            if cells.len() != columns.len() + 3 {
                return Err(bad(
                    n,
                    format!(
                        "{} values where the header has {}",
                        cells.len(),
                        columns.len() + 3
                    ),
                ));
            }
            let mut row = Vec::with_capacity(columns.len());
            for (c, cell) in columns.iter().zip(&cells[3..]) {
                match cell.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() && v > 0.0 => row.push(v),
                    _ => {
                        return Err(bad(
                            n,
                            format!("`{c}` is `{cell}`: expected a positive finite number"),
                        ));
                    }
                }
            }
            draws
                .entry(cells[2].trim().to_string())
                .or_default()
                .push(row);
        }
        let Some(parameters) = header else {
            return Err(bad(1, "no header line `draw,chain,code,...`".into()));
        };
        if draws.is_empty() {
            return Err(bad(1, "no draws".into()));
        }
        Ok(LocalDraws {
            converged,
            notes,
            parameters,
            draws,
        })
    }
}
