//! Local authorities: the England model fitted to one authority, to ask
//! "how different are the answers for a small authority, a deprived one?"
//!
//! [`localise`] makes a local model from the England model:
//!
//! 1. **Its own children and cases.** The population and the starting
//!    stocks (children in need, on plans, looked after, awaiting assessment)
//!    come from the authority's published figures (`data/local_authorities.csv`;
//!    children looked after are published by authority from 2021, so a local
//!    model starts in 2021 or later).
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
use crate::data::{LocalAuthorities, Observed};
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
/// an ONS code or a name, or `all` for every authority in
/// `data/local_authorities.csv` (every code that appears in any year,
/// including authorities since reorganised, whose local models cannot be
/// made from 2021 and which [`localise`] then refuses, saying why).
///
/// # Errors
///
/// [`Error::Invalid`] for no areas, an unknown authority (with the closest
/// name), a name shared by several codes (boundary changes: give the code),
/// an authority given twice, or `all` with other areas.
pub fn authorities(areas: &[String]) -> Result<Vec<(String, String)>> {
    let invalid = |message: String| Error::Invalid {
        what: "--area".into(),
        message,
    };
    if areas.is_empty() {
        return Err(invalid("no authorities given".into()));
    }
    let table = LocalAuthorities::load()?;
    let list = table.list();
    if areas.iter().any(|a| a.trim().eq_ignore_ascii_case("all")) {
        if areas.len() > 1 {
            return Err(invalid(
                "`all` is every authority: give it alone, or name the authorities".into(),
            ));
        }
        return Ok(list.into_iter().map(|(c, n, _)| (c, n)).collect());
    }
    let canonical = crate::engine::name::canonical_name;
    let mut out: Vec<(String, String)> = Vec::new();
    for area in areas {
        let wanted = canonical(area);
        let matches: Vec<&(String, String, String)> = list
            .iter()
            .filter(|(c, n, _)| canonical(c) == wanted || canonical(n) == wanted)
            .collect();
        let (code, name) = match matches.as_slice() {
            [] => {
                // The table's own error names the closest authority.
                table.get(area)?;
                return Err(invalid(format!("no local authority `{area}`")));
            }
            [(c, n, _)] => (c.clone(), n.clone()),
            several => {
                return Err(invalid(format!(
                    "`{area}` names {} codes after boundary changes ({}): give the code",
                    several.len(),
                    several
                        .iter()
                        .map(|(c, _, _)| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        if out.iter().any(|(c, _)| *c == code) {
            return Err(invalid(format!("{name} ({code}) is given twice")));
        }
        out.push((code, name));
    }
    Ok(out)
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
}

/// Makes a local model of `area` (an ONS code or a name) from `model` (the
/// England model, or one with the same names), starting from the stocks of
/// 31 March `from` and fitted to the authority's figures up to the last
/// published year. See the module docs for what changes.
///
/// # Errors
///
/// [`Error::Invalid`] naming the closest authority for an unknown one, or
/// saying which figure the authority has not published for `from`; the
/// errors of [`calibrate`] (for a model without the names above, with the
/// closest name).
pub fn localise(model: &Model, area: &str, from: i32) -> Result<Localised> {
    let authorities = LocalAuthorities::load()?;
    let local = authorities.get(area)?;
    let (code, name) = authorities
        .list()
        .into_iter()
        .find(|(c, n, _)| {
            crate::engine::name::canonical_name(c) == crate::engine::name::canonical_name(area)
                || crate::engine::name::canonical_name(n)
                    == crate::engine::name::canonical_name(area)
        })
        .map(|(c, n, _)| (c, n))
        .unwrap_or_else(|| (area.to_string(), area.to_string()));
    let england = Observed::england()?;
    let to = *local.years().last().unwrap_or(&from);
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
    let needed = |column: &str, what: &str| {
        value(&local, column, from).ok_or_else(|| Error::Invalid {
            what: format!("local model of {name}"),
            message: format!(
                "{name} has no published {what} (`{column}`) for 31 March {from}; children looked after are published by authority from 2021, so start in 2021 or later"
            ),
        })
    };
    let population = needed("population_0_17", "0-17 population")?;
    let england_population =
        value(&england, "population_0_17", from).ok_or_else(|| Error::Invalid {
            what: "England figures".into(),
            message: format!("no 0-17 population for {from}"),
        })?;
    let share = population / england_population;
    for (column, what) in [
        ("cin_at_31_march", "children in need"),
        ("cpp_at_31_march", "children on plans"),
        ("cla_at_31_march", "children looked after"),
        ("cin_awaiting_assessment", "children awaiting assessment"),
    ] {
        needed(column, what)?;
    }

    let source = format!("{name} ({code})");
    let mut m = model.clone();
    // The authority's own series, as the England model's lookups hold them:
    // at each reporting year's 31 March.
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
        let points: Vec<(f64, f64)> = local
            .series(column)?
            .observed()
            .map(|(y, v)| (f64::from(y) + 0.25, v))
            .collect();
        all.push((lookup, column, points));
    }
    let latest = all
        .iter()
        .filter_map(|(_, _, p)| p.last().map(|l| l.0))
        .fold(f64::NEG_INFINITY, f64::max);
    for (lookup, column, mut points) in all {
        let mut doc = format!("Local: {source}, data/local_authorities.csv {column}.");
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
    // Social workers: the authority's own where published.
    let workforce = Observed::local_workforce(&code).ok();
    let cin_share = value(&local, "cin_at_31_march", from).unwrap_or(0.0)
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

    // The local rates.
    let mut parameters = IndexMap::new();
    for &(p, low, high) in LOCAL_PARAMETERS {
        let national = constant_value(&m, p)?;
        parameters.insert(
            p.to_string(),
            Bounds {
                min: national * low,
                max: national * high,
            },
        );
    }
    let series = LOCAL_SERIES
        .iter()
        .filter(|(c, _)| {
            local
                .series(c)
                .is_ok_and(|s| s.observed().any(|(y, _)| y > from))
        })
        .map(|(c, w)| (c.to_string(), *w))
        .collect();
    let mut spec = CalibrationSpec::new(series, parameters)?;
    spec.from = Some(f64::from(from));
    spec.to = Some(f64::from(to));
    spec.starts = 4;
    spec.seed = u64::from(from.unsigned_abs());
    spec.max_evaluations = 600;
    spec.tolerance = 1e-9;
    let time = m
        .time()
        .with_start(f64::from(from) + 0.25)
        .and_then(|t| t.with_stop(f64::from(from) + 10.25))?;
    let m = m.with_time(time);
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
