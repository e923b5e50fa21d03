//! Local authorities: the England model fitted to one authority, to ask
//! "how different are the answers for a small authority, a deprived one?"
//!
//! [`localise`] makes a local model from the England model:
//!
//! 1. **Its own children and cases.** The population and the starting
//!    stocks (children in need, on plans, looked after, awaiting assessment)
//!    come from the authority's published figures (`data/local_authorities.csv`;
//!    children looked after are published by authority from 2021, so a local
//!    model starts in 2021 or later). A figure the authority did not
//!    publish for the start year (suppressed, or the authority did not
//!    exist yet) is filled in by a stated rule ([`start_figures`]) and
//!    reported as a [`LocalWarning`] naming the authority, series and year;
//!    the fit skips unpublished years.
//!
//! **Which authorities.** The current authorities
//! ([`LocalAuthorities::current`]) are the 152 that publish figures for
//! 2023, the file's latest year; the file's other 11 codes are
//! predecessors of reorganised authorities (Bournemouth, Poole,
//! Northamptonshire, ...), successors with no figures yet (Cumberland,
//! Westmorland and Furness) or earlier codes of the same area (North
//! Yorkshire's and Somerset's county codes, whose figures join the new
//! codes'), as the table of boundary changes
//! ([`BOUNDARY_CHANGES`](crate::data::BOUNDARY_CHANGES)) says.
//! 2. **Its own social workers**, from `data/workforce.csv` where the
//!    authority is there; otherwise England's, in proportion to its children
//!    in need.
//! 3. **National money and arrivals in proportion to its children** (an
//!    assumption, stated in the model): prevention spend, the minimum
//!    prevention spend and unaccompanied children arriving are England's
//!    times the authority's share of England's 0-17 population.
//! 4. **Its own rates, fitted.** Six parameters (`local referral scale`,
//!    `local protection scale`, `local care scale`, `cin exit rate`,
//!    `cp exit rate`, `care exit scale`) are fitted by
//!    [`calibrate`] to the authority's
//!    referrals, stocks and flows from the starting year to the last
//!    published year. Everything else (early help effects, costs, workforce
//!    dynamics) keeps England's values.
//!
//! The result is an ordinary model: save it with
//! [`save_model`](crate::engine::format::save_model) and name it in a scenario's
//! `model = "..."`. `carecascade localise` does all of this.

use crate::calibrate::{Bounds, CalibrationSpec, Fit, calibrate};
use crate::data::{Authority, LocalAuthorities, Observed};
use crate::engine::error::{Error, Result};
use crate::engine::model::Model;
use indexmap::IndexMap;

/// The parameters a local fit changes, and how far from England's value
/// (as factors) it may move them.
pub const LOCAL_PARAMETERS: &[(&str, f64, f64)] = &[
    ("local referral scale", 0.2, 5.0),
    ("local protection scale", 0.2, 5.0),
    ("local care scale", 0.2, 5.0),
    ("cin exit rate", 0.33, 3.0),
    ("cp exit rate", 0.33, 3.0),
    ("care exit scale", 0.33, 3.0),
];

/// The series that tell each local parameter's value: a parameter none of
/// whose series the authority published (other than 0) in the fitted years
/// keeps England's value, and its doc says so (Isles of Scilly's care
/// scales: it never published children looked after).
pub const IDENTIFIED_BY: &[(&str, &[&str])] = &[
    ("local referral scale", &["referrals"]),
    (
        "local protection scale",
        &["cpp_started", "cpp_at_31_march"],
    ),
    ("local care scale", &["cla_started", "cla_at_31_march"]),
    ("cin exit rate", &["cin_at_31_march"]),
    ("cp exit rate", &["cpp_at_31_march"]),
    ("care exit scale", &["cla_ceased", "cla_at_31_march"]),
];

/// The published series a local fit matches, with their weights.
pub const LOCAL_SERIES: &[(&str, f64)] = &[
    ("referrals", 1.0),
    ("cin_at_31_march", 2.0),
    ("cpp_started", 1.0),
    ("cpp_at_31_march", 2.0),
    ("cla_started", 1.0),
    ("cla_ceased", 1.0),
    ("cla_at_31_march", 2.0),
];

/// The England model's national lookups and constants that scale with an
/// authority's share of children.
const SCALED_LOOKUPS: &[&str] = &["prevention spend history", "uasc entries history"];
const SCALED_CONSTANTS: &[&str] = &["minimum prevention spend"];

/// The England model's constants that are amounts of money for England
/// (policy levers in £m a year): a scenario asked of a local authority
/// (`--area`) has its values for them multiplied by the authority's share
/// of England's children, so that a national policy is asked of each
/// authority at its share (£500m for England is about £7m for Leeds).
pub const NATIONAL_AMOUNTS: &[&str] = &["extra prevention spend", "edge of care spend"];

/// How a local model's name starts: `local authority E08000035 (Leeds)`.
pub const LOCAL_PREFIX: &str = "local authority ";

/// The ONS code of the authority a model was localised to (by
/// [`localise`], which names the model `local authority CODE (NAME)`), or
/// `None` for any other model.
pub fn authority_code(model: &Model) -> Option<&str> {
    let rest = model.name().strip_prefix(LOCAL_PREFIX)?;
    let code = rest.split_whitespace().next()?;
    (code.len() == 9 && code.chars().all(|c| c.is_ascii_alphanumeric())).then_some(code)
}

/// The lookups a local model replaces with the authority's own series.
const LOCAL_LOOKUPS: &[&str] = &[
    "population 0 to 17",
    "observed cin",
    "observed cp",
    "observed cla",
    "observed awaiting assessment",
    "observed social workers",
    "observed agency workers",
];

/// Checks that [`localise`] can make local models of `model`: that it has
/// the England model's constants and lookups that a local model changes,
/// and is not already a local authority's model.
///
/// # Errors
///
/// [`Error::Invalid`] naming what the model lacks (or the authority it was
/// localised to).
pub fn check_localisable(model: &Model) -> Result<()> {
    if let Some(code) = authority_code(model) {
        return Err(Error::Invalid {
            what: format!("model `{}`", model.name()),
            message: format!(
                "is already the model of local authority {code}: local models are made from the England model"
            ),
        });
    }
    let is = |name: &str, lookup: bool| {
        matches!(
            (model.variable(name).map(|v| v.kind()), lookup),
            (
                Some(crate::engine::model::VariableKind::Lookup { .. }),
                true
            ) | (
                Some(crate::engine::model::VariableKind::Constant { .. }),
                false
            )
        )
    };
    let mut lacking: Vec<&str> = LOCAL_PARAMETERS
        .iter()
        .map(|(p, _, _)| *p)
        .chain(SCALED_CONSTANTS.iter().copied())
        .filter(|c| !is(c, false))
        .collect();
    lacking.extend(
        SCALED_LOOKUPS
            .iter()
            .chain(LOCAL_LOOKUPS)
            .copied()
            .filter(|l| !is(l, true)),
    );
    if !lacking.is_empty() {
        return Err(Error::Invalid {
            what: format!("model `{}`", model.name()),
            message: format!(
                "cannot be localised: it lacks the England model's {}",
                lacking
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Ok(())
}

/// The authorities named by `areas`, as (ONS code, name), in order: each
/// an ONS code or a name of a current authority (or an earlier code of the
/// same area, which names it), or `all` for every current authority
/// ([`LocalAuthorities::current`]: the 152 that publish figures for 2023;
/// predecessors of reorganised authorities are left out, see
/// [`BOUNDARY_CHANGES`](crate::data::BOUNDARY_CHANGES)).
///
/// # Errors
///
/// [`Error::Invalid`] for no areas, an unknown authority (with the closest
/// name), a predecessor that was split or merged (naming its successors),
/// an authority with no published figures yet, an authority given twice,
/// or `all` with other areas.
pub fn authorities(areas: &[String]) -> Result<Vec<(String, String)>> {
    let invalid = |message: String| Error::Invalid {
        what: "--area".into(),
        message,
    };
    if areas.is_empty() {
        return Err(invalid("no authorities given".into()));
    }
    let table = LocalAuthorities::load()?;
    if areas.iter().any(|a| a.trim().eq_ignore_ascii_case("all")) {
        if areas.len() > 1 {
            return Err(invalid(
                "`all` is every authority: give it alone, or name the authorities".into(),
            ));
        }
        return Ok(table
            .current()
            .iter()
            .map(|a| (a.code.clone(), a.name.clone()))
            .collect());
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for area in areas {
        let Authority { code, name, .. } = table.current_authority(area).map_err(|e| match e {
            Error::Invalid { message, .. } => invalid(message),
            other => other,
        })?;
        if out.iter().any(|(c, _)| *c == code) {
            return Err(invalid(format!("{name} ({code}) is given twice")));
        }
        out.push((code, name));
    }
    Ok(out)
}

/// The figures a local model starts from, one per column: the 0-17
/// population and the stocks at 31 March.
pub const START_SERIES: &[(&str, &str)] = &[
    ("population_0_17", "0-17 population"),
    ("cin_at_31_march", "children in need"),
    ("cpp_at_31_march", "children on plans"),
    ("cla_at_31_march", "children looked after"),
    ("cin_awaiting_assessment", "children awaiting assessment"),
];

/// How a start figure the authority did not publish (under its own code)
/// was filled in. Each rule is tried in this order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Filled {
    /// Published under the authority's earlier ONS code for the same area
    /// (a code change, not an estimate).
    EarlierCode {
        /// The earlier code.
        code: String,
    },
    /// The authority did not exist yet: the total of its predecessors'
    /// figures for the year, times the authority's share of all the
    /// successors' figures for the same series in their published
    /// years (for the population, its share of the children); see
    /// [`LocalAuthorities::apportioned`].
    Split {
        /// The predecessors' codes, names and figures for the year.
        predecessors: Vec<(String, String, f64)>,
        /// The successors' published years whose figures give the share.
        share_years: Vec<i32>,
        /// The authority's share.
        share: f64,
    },
    /// Linear between the authority's nearest published years before and
    /// after: (year, figure) each.
    Interpolated {
        /// The nearest earlier published year and its figure.
        before: (i32, f64),
        /// The nearest later published year and its figure.
        after: (i32, f64),
    },
    /// The authority's nearest published year's figure (it published the
    /// series only on one side of the year).
    Nearest {
        /// The year used.
        year: i32,
    },
    /// Never published by the authority: England's figure per child in
    /// the year times the authority's 0-17 population.
    EnglandRate {
        /// England's figure per child in the year.
        rate: f64,
        /// The authority's 0-17 population in the year.
        population: f64,
    },
    /// A year before any authority published the series (children looked
    /// after are published by authority from 2021): the authority's figure
    /// per child in its first published year, times England's change in
    /// the figure per child since the year, times its children in the year.
    Backcast {
        /// The authority's first published year of the series and its
        /// figure.
        first: (i32, f64),
        /// England's figure per child in the year over that in `first`'s.
        england_ratio: f64,
        /// The authority's 0-17 population in the year.
        population: f64,
    },
}

impl Filled {
    /// A short name for the rule (`earlier code`, `split`, `interpolated`,
    /// `nearest year`, `England rate`), e.g. to count warnings by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Filled::EarlierCode { .. } => "earlier code",
            Filled::Split { .. } => "split",
            Filled::Interpolated { .. } => "interpolated",
            Filled::Nearest { .. } => "nearest year",
            Filled::EnglandRate { .. } => "England rate",
            Filled::Backcast { .. } => "back-cast",
        }
    }
}

/// A start figure that was filled in: which authority, series and year,
/// the value used and how it was found. Shown as one line, e.g.
/// `Hackney (E09000012): cin_at_31_march for 31 March 2021 not published;
/// used 2912.7, linear between 2020 (3094) and 2023 (2550)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalWarning {
    /// The authority's ONS code.
    pub code: String,
    /// The authority's name.
    pub authority: String,
    /// The series (column of `data/local_authorities.csv`).
    pub series: String,
    /// The reporting year (the figure at its 31 March).
    pub year: i32,
    /// The value used.
    pub value: f64,
    /// How it was found.
    pub filled: Filled,
}

/// Years as written in a warning: `2022`, `2020-2023` (consecutive), or
/// listed.
fn years_span(years: &[i32]) -> String {
    match years {
        [] => String::new(),
        [one] => one.to_string(),
        [first, .., last] if (last - first) as usize + 1 == years.len() => {
            format!("{first}-{last}")
        }
        _ => years
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A figure as written in a warning: whole numbers without decimals.
fn figure(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

impl LocalWarning {
    /// The warning in a few words, without the authority (for a column of
    /// a table): `cin_at_31_march 2912.7 (linear 2020-2023)`.
    pub fn short(&self) -> String {
        let how = match &self.filled {
            Filled::EarlierCode { code } => format!("code {code}"),
            Filled::Split {
                predecessors,
                share_years,
                share,
            } => format!(
                "{:.1}% of {}'s by {} share",
                100.0 * share,
                predecessors
                    .iter()
                    .map(|p| p.0.as_str())
                    .collect::<Vec<_>>()
                    .join(" + "),
                years_span(share_years)
            ),
            Filled::Interpolated {
                before: (y0, _),
                after: (y1, _),
            } => format!("linear {y0}-{y1}"),
            Filled::Nearest { year } => format!("from {year}"),
            Filled::EnglandRate { .. } => "England's rate per child".into(),
            Filled::Backcast { first: (y, _), .. } => {
                format!("from {y} by England's trend per child")
            }
        };
        format!("{} {} ({how})", self.series, figure(self.value))
    }
}

impl std::fmt::Display for LocalWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let LocalWarning {
            code,
            authority,
            series,
            year,
            value,
            filled,
        } = self;
        let value = figure(*value);
        write!(f, "{authority} ({code}): {series} for 31 March {year} ")?;
        match filled {
            Filled::EarlierCode { code: earlier } => write!(
                f,
                "is published under its earlier code {earlier} (the same area); used {value}"
            ),
            Filled::Split {
                predecessors,
                share_years,
                share,
            } => {
                let each: Vec<String> = predecessors
                    .iter()
                    .map(|(pc, pn, v)| format!("{pn} ({pc})'s {}", figure(*v)))
                    .collect();
                let from = match each.as_slice() {
                    [one] => one.clone(),
                    [rest @ .., last] => format!("the total of {} and {last}", rest.join(", ")),
                    [] => "its predecessors'".into(),
                };
                write!(
                    f,
                    "not published (the authority began later); used {value}, {from} times this authority's share of its successors' {series} in {} ({:.1}%)",
                    years_span(share_years),
                    100.0 * share
                )
            }
            Filled::Interpolated {
                before: (y0, v0),
                after: (y1, v1),
            } => write!(
                f,
                "not published; used {value}, linear between {y0} ({}) and {y1} ({})",
                figure(*v0),
                figure(*v1)
            ),
            Filled::Nearest { year: near } => write!(
                f,
                "not published; used {value}, the authority's figure for {near} (its nearest published year)"
            ),
            Filled::EnglandRate { rate, population } => write!(
                f,
                "never published by the authority; used {value}, England's {:.6} per child in {year} times its {} children",
                rate,
                figure(*population)
            ),
            Filled::Backcast {
                first: (y, v),
                england_ratio,
                population,
            } => write!(
                f,
                "is before any authority published it; used {value}, back-cast from its {y} figure ({}) by England's change in the figure per child ({england_ratio:.3} times) and its {} children",
                figure(*v),
                figure(*population)
            ),
        }
    }
}

/// A current authority's published figures and the figures its local
/// model starts from: the data side of [`localise`], without fitting
/// (cheap: for checking every authority).
#[derive(Debug, Clone)]
pub struct StartFigures {
    /// The authority.
    pub authority: Authority,
    /// Its figures, with those of its earlier codes where its own code has
    /// none ([`LocalAuthorities::series_of`]).
    pub observed: Observed,
    /// The start year (figures at its 31 March).
    pub from: i32,
    /// The value of each of [`START_SERIES`] at 31 March `from`, in that
    /// order, published or filled.
    pub values: Vec<(String, f64)>,
    /// The values that were filled in, and how.
    pub warnings: Vec<LocalWarning>,
}

impl StartFigures {
    /// The start value of a series of [`START_SERIES`].
    pub fn value(&self, column: &str) -> Option<f64> {
        self.values
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| *v)
    }

    /// The warning for a series, if its start value was filled in.
    pub fn warning(&self, column: &str) -> Option<&LocalWarning> {
        self.warnings.iter().find(|w| w.series == column)
    }
}

/// The figures the local model of `area` (a current authority's code,
/// earlier code or name; see [`LocalAuthorities::current_authority`])
/// starts from at 31 March `from`. A figure the authority did not publish
/// for `from` is filled in, by the first of these that the data allows,
/// and reported as a [`LocalWarning`] ([`Filled`] says how):
///
/// 1. its earlier code's figure (same area);
/// 2. for an authority that began after `from` by a split or merger
///    (North and West Northamptonshire, 2022; Bournemouth, Christchurch
///    and Poole and Dorset, 2020), its predecessors' total figure
///    apportioned by its share of the successors' figures in their first
///    year ([`LocalAuthorities::apportioned`]);
/// 3. linear between its nearest published years before and after;
/// 4. its nearest published year's;
/// 5. for a series it never published (Isles of Scilly's children looked
///    after), England's figure per child times its children.
///
/// # Errors
///
/// [`Error::Invalid`] for an area that is not a current authority (see
/// [`LocalAuthorities::current_authority`]), a start year before any
/// authority published one of the series (children looked after are
/// published by authority from 2021), or a population that can be found
/// by none of the rules.
pub fn start_figures(table: &LocalAuthorities, area: &str, from: i32) -> Result<StartFigures> {
    let authority = table.current_authority(area)?;
    let observed = table.series_of(&authority)?;
    let own = table.series_of(&Authority {
        earlier_codes: Vec::new(),
        ..authority.clone()
    })?;
    let england = Observed::england()?;
    let name = format!("{} ({})", authority.name, authority.code);
    let mut values = Vec::new();
    let mut warnings = Vec::new();
    let mut population = None;
    for &(column, what) in START_SERIES {
        let first_anywhere = table.first_published_year(column);
        if first_anywhere.is_none_or(|first| from < first) {
            return Err(Error::Invalid {
                what: format!("local model of {name}"),
                message: format!(
                    "{what} (`{column}`) are published by authority from {}: start in {} or later",
                    first_anywhere.map_or("no year".into(), |y| y.to_string()),
                    first_anywhere.unwrap_or(from + 1)
                ),
            });
        }
        let series = observed.series(column)?;
        let (value, filled) = match (own.series(column)?.get(from), series.get(from)) {
            (Some(v), _) => (v, None),
            (None, Some(v)) => (
                v,
                authority
                    .earlier_codes
                    .iter()
                    .find(|c| {
                        table
                            .series_of(&Authority {
                                code: (*c).clone(),
                                earlier_codes: Vec::new(),
                                ..authority.clone()
                            })
                            .ok()
                            .and_then(|o| o.series(column).ok().and_then(|s| s.get(from)))
                            .is_some()
                    })
                    .map(|c| Filled::EarlierCode { code: c.clone() }),
            ),
            (None, None) => {
                let (v, f) = fill(
                    table,
                    &authority,
                    &series,
                    column,
                    from,
                    &england,
                    population,
                    table.latest_year(),
                )
                    .ok_or_else(|| Error::Invalid {
                        what: format!("local model of {name}"),
                        message: format!(
                            "{name} has published no {what} (`{column}`) in any year, and none can be estimated"
                        ),
                    })?;
                (v, Some(f))
            }
        };
        if column == "population_0_17" {
            population = Some(value);
        }
        if let Some(filled) = filled {
            warnings.push(LocalWarning {
                code: authority.code.clone(),
                authority: authority.name.clone(),
                series: column.to_string(),
                year: from,
                value,
                filled,
            });
        }
        values.push((column.to_string(), value));
    }
    Ok(StartFigures {
        authority,
        observed,
        from,
        values,
        warnings,
    })
}

/// Fills `column` for `year` by rules 2-5 of [`start_figures`], rule 2
/// using no figure after `to`.
#[allow(clippy::too_many_arguments)] // one cell: where, what, and the year limit
pub(crate) fn fill(
    table: &LocalAuthorities,
    authority: &Authority,
    series: &crate::data::Series<'_>,
    column: &str,
    year: i32,
    england: &Observed,
    population: Option<f64>,
    to: i32,
) -> Option<(f64, Filled)> {
    // 2. A successor before its first year: its predecessors' figures,
    //    apportioned.
    if let Some(a) = table.apportioned(authority, column, year, to) {
        return Some((
            a.value,
            Filled::Split {
                predecessors: a.predecessors,
                share_years: a.share_years,
                share: a.share,
            },
        ));
    }
    // 3, 4. The authority's own nearest years.
    let before = series.observed().filter(|(y, _)| *y < year).last();
    let after = series.observed().find(|(y, _)| *y > year);
    match (before, after) {
        (Some((y0, v0)), Some((y1, v1))) => {
            let t = f64::from(year - y0) / f64::from(y1 - y0);
            return Some((
                v0 + t * (v1 - v0),
                Filled::Interpolated {
                    before: (y0, v0),
                    after: (y1, v1),
                },
            ));
        }
        (Some((y, v)), None) | (None, Some((y, v))) => {
            return Some((v, Filled::Nearest { year: y }));
        }
        (None, None) => {}
    }
    // 5. England's rate.
    let population = population?;
    let national = england.series(column).ok()?.get(year)?;
    let children = england.series("population_0_17").ok()?.get(year)?;
    let rate = national / children;
    Some((rate * population, Filled::EnglandRate { rate, population }))
}

/// A local model and how well it fits.
#[derive(Debug, Clone)]
pub struct Localised {
    /// The local model.
    pub model: Model,
    /// The authority's ONS code.
    pub code: String,
    /// The authority's name.
    pub name: String,
    /// Its share of England's 0-17 population in the starting year.
    pub population_share: f64,
    /// The fit of the local rates (values, and the error per series).
    pub fit: Fit,
    /// The start figures that were filled in (also in the docs of the
    /// model's lookups): see [`start_figures`].
    pub warnings: Vec<LocalWarning>,
    /// The local parameters not fitted, keeping England's value, because
    /// the authority published none of the series that tell them
    /// ([`IDENTIFIED_BY`]); their docs say so.
    pub unfitted_parameters: Vec<String>,
}

/// Makes a local model of `area` (a current authority's ONS code, earlier
/// code or name) from `model` (the England model, or one with the same
/// names), starting from the stocks of 31 March `from` and fitted to the
/// authority's figures up to the last published year. See the module docs
/// for what changes. A start figure the authority did not publish is
/// filled in as [`start_figures`] says and listed in
/// [`Localised::warnings`] and in the doc of the model's lookup; the fit
/// skips the years a series was not published.
///
/// # Errors
///
/// The errors of [`start_figures`] (an unknown authority with the closest
/// name, a predecessor of reorganised authorities naming its successors, a
/// start before children looked after were published by authority); a
/// start in the last published year (nothing to fit); the errors of
/// [`calibrate`] (for a model without the names above, with the closest
/// name).
pub fn localise(model: &Model, area: &str, from: i32) -> Result<Localised> {
    let table = LocalAuthorities::load()?;
    let start = start_figures(&table, area, from)?;
    let Unfitted {
        model: m,
        share,
        to,
    } = unfitted(model, &start)?;
    let StartFigures {
        authority,
        observed: local,
        warnings,
        ..
    } = start;
    let (code, name) = (authority.code, authority.name);
    let source = format!("{name} ({code})");
    // The local rates.
    // Only series with a published figure other than 0 in the fitted
    // years (errors are relative): City of London's and Isles of Scilly's
    // children on plans are suppressed or 0 in 2022-2023.
    let series: IndexMap<String, f64> = LOCAL_SERIES
        .iter()
        .filter(|(c, _)| {
            local
                .series(c)
                .is_ok_and(|s| s.observed().any(|(y, v)| y > from && y <= to && v != 0.0))
        })
        .map(|(c, w)| (c.to_string(), *w))
        .collect();
    // Only parameters some fitted series tells.
    let mut parameters = IndexMap::new();
    let mut unfitted_parameters = Vec::new();
    for &(p, low, high) in LOCAL_PARAMETERS {
        let told = IDENTIFIED_BY
            .iter()
            .find(|(q, _)| *q == p)
            .is_none_or(|(_, by)| by.iter().any(|c| series.contains_key(*c)));
        if !told {
            unfitted_parameters.push(p.to_string());
            continue;
        }
        let national = constant_value(&m, p)?;
        parameters.insert(
            p.to_string(),
            Bounds {
                min: national * low,
                max: national * high,
            },
        );
    }
    let mut spec = CalibrationSpec::new(series, parameters)?;
    spec.from = Some(f64::from(from));
    spec.to = Some(f64::from(to));
    spec.starts = 4;
    spec.seed = u64::from(from.unsigned_abs());
    spec.max_evaluations = 600;
    spec.tolerance = 1e-9;
    let fit = calibrate(&m, &local, &spec)?;
    let errors: Vec<String> = fit
        .mape
        .iter()
        .map(|(s, e)| format!("{s} {e:.1}%"))
        .collect();
    let mut local_model = m;
    for (p, v) in &fit.values {
        local_model = local_model.with_constant_value(
            p,
            *v,
            &format!(
                "Local: Calibrated to {source}, {}-{to} (mean absolute errors: {}).",
                from + 1,
                errors.join(", ")
            ),
        )?;
    }
    for p in &unfitted_parameters {
        let by = IDENTIFIED_BY
            .iter()
            .find(|(q, _)| q == p)
            .map_or(String::new(), |(_, by)| by.join(", "));
        let value = constant_value(&local_model, p)?;
        local_model = local_model.with_constant_value(
            p,
            value,
            &format!(
                "Local: England's value kept: {source} published no {by} (other than 0) in {}-{to} to fit it to.",
                from + 1
            ),
        )?;
    }
    let doc = format!(
        "{source}: the England model with this authority's children, cases and social workers, and its referral, protection, care and exit rates fitted to its figures for {}-{to} (carecascade localise). {}",
        from + 1,
        local_model.doc()
    );
    let local_model = local_model.with_name(format!("{LOCAL_PREFIX}{code} ({name})"), doc);
    Ok(Localised {
        model: local_model,
        code,
        name,
        population_share: share,
        fit,
        warnings,
        unfitted_parameters,
    })
}

/// A local model before its rates are fitted.
pub(crate) struct Unfitted {
    /// The England model with the authority's figures.
    pub(crate) model: Model,
    /// Its share of England's 0-17 population in the start year.
    pub(crate) share: f64,
    /// The last year with a figure to fit.
    pub(crate) to: i32,
}

/// The local model of `start`'s authority before its rates are fitted:
/// steps 1-3 of the module docs.
pub(crate) fn unfitted(model: &Model, start: &StartFigures) -> Result<Unfitted> {
    let StartFigures {
        authority,
        observed: local,
        values: start_values,
        warnings,
        from,
    } = start;
    let from = *from;
    let (code, name) = (&authority.code, &authority.name);

    let england = Observed::england()?;
    let to = LOCAL_SERIES
        .iter()
        .filter_map(|(c, _)| local.series(c).ok()?.observed().last().map(|(y, _)| y))
        .max()
        .unwrap_or(from);
    if to <= from {
        return Err(Error::Invalid {
            what: format!("local model of {name}"),
            message: format!(
                "the figures end in {to}: start from an earlier year than {from} so that there is something to fit"
            ),
        });
    }
    let value = |observed: &Observed, column: &str, year: i32| {
        observed.series(column).ok().and_then(|s| s.get(year))
    };
    let start_value = |column: &str| {
        start_values
            .iter()
            .find(|(c, _)| c == column)
            .map_or(f64::NAN, |(_, v)| *v)
    };
    let population = start_value("population_0_17");
    let england_population =
        value(&england, "population_0_17", from).ok_or_else(|| Error::Invalid {
            what: "England figures".into(),
            message: format!("no 0-17 population for {from}"),
        })?;
    let share = population / england_population;

    let source = format!("{name} ({code})");
    let codes = if authority.earlier_codes.is_empty() {
        String::new()
    } else {
        format!(
            " (with its earlier code {}'s figures where {code} has none: the same area)",
            authority.earlier_codes.join(", ")
        )
    };
    let mut m = model.clone();
    // The authority's own series, as the England model's lookups hold them:
    // at each reporting year's 31 March, with the start figure if it was
    // filled in.
    // A stock the authority stopped publishing holds its last figure for
    // later starts, and says so (the model's starting data, see
    // `Model::start_data`, then covers every year of the other stocks).
    let series = [
        ("population 0 to 17", "population_0_17"),
        ("observed cin", "cin_at_31_march"),
        ("observed cp", "cpp_at_31_march"),
        ("observed cla", "cla_at_31_march"),
        ("observed awaiting assessment", "cin_awaiting_assessment"),
    ];
    let mut all = Vec::new();
    for (lookup, column) in series {
        let mut points: Vec<(f64, f64)> = local
            .series(column)?
            .observed()
            .map(|(y, v)| (f64::from(y) + 0.25, v))
            .collect();
        let warning = warnings.iter().find(|w| w.series == column);
        if warning.is_some() && local.series(column)?.get(from).is_none() {
            let x = f64::from(from) + 0.25;
            let at = points.partition_point(|(px, _)| *px < x);
            points.insert(at, (x, start_value(column)));
        }
        all.push((lookup, column, points, warning));
    }
    let latest = all
        .iter()
        .filter_map(|(_, _, p, _)| p.last().map(|l| l.0))
        .fold(f64::NEG_INFINITY, f64::max);
    for (lookup, column, mut points, warning) in all {
        let mut doc = format!("Local: {source}, data/local_authorities.csv {column}{codes}.");
        if let Some(w) = warning {
            doc.push_str(&format!(" Filled in (an estimate): {w}."));
        }
        if let Some(&(x, v)) = points.last()
            && x < latest
        {
            points.push((latest, v));
            doc.push_str(&format!(
                " Not published after 31 March {}: that figure is held for later starts (an assumption).",
                x - 0.25
            ));
        }
        m = m.with_lookup_points(lookup, &points, &doc)?;
    }
    // The start times the authority's stocks cover: the workforce lookups
    // hold their first and last figures over them (as England's do), so
    // that they do not limit the starts (see `Model::start_data`).
    let starts = m.start_data();
    // Social workers: the authority's own where published (under its code
    // or an earlier one).
    // Only the figures published by the authority's last observed year's
    // 31 March (a history cut at a backtest's origin does not see later
    // ones).
    let workforce = std::iter::once(code)
        .chain(&authority.earlier_codes)
        .filter_map(|c| Observed::local_workforce(c).ok())
        .reduce(|own, earlier| own.filled_from(&earlier))
        .map(|w| w.until(to - 1));
    let cin_share = start_value("cin_at_31_march")
        / value(&england, "cin_at_31_march", from).unwrap_or(f64::NAN);
    for (lookup, column) in [
        ("observed social workers", "inpost_fte"),
        ("observed agency workers", "agency_fte"),
    ] {
        let mut own: Vec<(f64, f64)> = workforce
            .as_ref()
            .and_then(|w| w.series(column).ok())
            .map(|s| {
                s.observed()
                    .map(|(y, v)| (f64::from(y) + 0.75, v))
                    .collect()
            })
            .unwrap_or_default();
        if let (Some(&first), Some(&last), Some(starts)) = (own.first(), own.last(), &starts) {
            if starts.from < first.0 {
                own.insert(0, (starts.from, first.1));
            }
            if starts.to > last.0 {
                own.push((starts.to, last.1));
            }
        }
        m = if own.is_empty() {
            scale_lookup(
                &m,
                lookup,
                cin_share,
                &format!(
                    "Local: {source} has no published workforce; England's times its share of children in need ({cin_share:.5})."
                ),
            )?
        } else {
            m.with_lookup_points(
                lookup,
                &own,
                &format!("Local: {source}, data/workforce.csv {column} at 30 September."),
            )?
        };
    }
    let note = format!(
        "Local: Assumption, England's times {source}'s share of England's 0-17 population in {from} ({share:.5})."
    );
    for lookup in SCALED_LOOKUPS {
        m = scale_lookup(&m, lookup, share, &note)?;
    }
    for constant in SCALED_CONSTANTS {
        let national = constant_value(&m, constant)?;
        m = m.with_constant_value(constant, national * share, &note)?;
    }

    let time = m
        .time()
        .with_start(f64::from(from) + 0.25)
        .and_then(|t| t.with_stop(f64::from(from) + 10.25))?;
    Ok(Unfitted {
        model: m.with_time(time),
        share,
        to,
    })
}

fn constant_value(model: &Model, name: &str) -> Result<f64> {
    match model.variable(name).map(|v| v.kind()) {
        Some(crate::engine::model::VariableKind::Constant { value }) => Ok(*value),
        _ => Err(Error::Parameter {
            name: name.to_string(),
            reason: "a local model needs this constant of the England model".into(),
            suggestion: None,
        }),
    }
}

fn scale_lookup(model: &Model, name: &str, factor: f64, note: &str) -> Result<Model> {
    let points: Vec<(f64, f64)> = match model.variable(name).map(|v| v.kind()) {
        Some(crate::engine::model::VariableKind::Lookup { table, .. }) => table
            .xs()
            .iter()
            .zip(table.ys())
            .map(|(x, y)| (*x, y * factor))
            .collect(),
        _ => {
            return Err(Error::Parameter {
                name: name.to_string(),
                reason: "a local model needs this lookup of the England model".into(),
                suggestion: None,
            });
        }
    };
    model.with_lookup_points(name, &points, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local model of every kind of gap starts from the filled figure
    /// (the lookup holds it at the start, not a neighbouring year's), and
    /// its lookup's doc carries the warning. Without the fit: cheap.
    #[test]
    fn unfitted_local_models_start_from_the_filled_figures() {
        let table = LocalAuthorities::load().unwrap();
        let england = crate::england();
        let mut kinds = Vec::new();
        for area in [
            "E09000012", // Hackney: suppressed, interpolated
            "E09000001", // City of London: suppressed plans
            "E06000053", // Isles of Scilly: never published, nearest year
            "E06000061", // North Northamptonshire: new in 2021, split
            "E06000066", // Somerset: code change
        ] {
            let start = start_figures(&table, area, 2021).unwrap();
            assert!(!start.warnings.is_empty(), "{area}");
            let Unfitted { model, .. } = unfitted(&england, &start).unwrap();
            let p = crate::project::project(&model, 2021, 1).unwrap();
            for w in &start.warnings {
                kinds.push(w.filled.kind());
                let lookup = match w.series.as_str() {
                    "population_0_17" => "population 0 to 17",
                    "cin_at_31_march" => "observed cin",
                    "cpp_at_31_march" => "observed cp",
                    "cla_at_31_march" => "observed cla",
                    _ => "observed awaiting assessment",
                };
                let variable = model.variable(lookup).unwrap();
                assert!(
                    variable.doc().contains(&w.to_string()),
                    "{area}: {}",
                    variable.doc()
                );
                let crate::engine::model::VariableKind::Lookup { table, .. } = variable.kind()
                else {
                    panic!("{lookup}");
                };
                let at = table.xs().iter().position(|x| *x == 2021.25).unwrap();
                assert_eq!(table.ys()[at], w.value, "{area} {lookup}");
                if w.series != "population_0_17" && w.series != "cin_awaiting_assessment" {
                    let started = p.get(&w.series, 2021).unwrap();
                    assert!(
                        (started - w.value).abs() <= 1e-6 * w.value.max(1.0),
                        "{area} {}: starts at {started}, filled {}",
                        w.series,
                        w.value
                    );
                }
            }
        }
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(
            kinds,
            vec![
                "England rate",
                "earlier code",
                "interpolated",
                "nearest year",
                "split"
            ]
        );
    }
}
