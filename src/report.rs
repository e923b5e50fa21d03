//! A self-contained HTML report of an ensemble (what `carecascade report`
//! writes): each scenario's question and assumptions, key figures with
//! intervals, fan charts, paired differences, the break-even year, the
//! model against the published past, and the sources of the parameters.
//! Charts are inline SVG; the file needs nothing else.

use crate::engine::chart::{
    Fan, Format, fan_chart, model_vs_observed, money_m, share_histogram, thousands,
};
use crate::engine::ensemble::{Comparison, Ensemble, Outcome, Stats, compare};
use crate::engine::error::Result;
use crate::engine::scenario::{Effect, PolicyShape, Prepared};
use crate::{DISCOUNT_RATE, SCALARS};
use std::fmt::Write;

const BANDS: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// A row of the key figures: label, scalar name, number format.
type Row = (&'static str, &'static str, fn(f64) -> String);

use crate::engine::format::escape_markup as esc;

/// The reporting year of a period label.
fn year(label: f64) -> i32 {
    label.round() as i32
}

/// BASE minus ALT of an indicator summed from the start, by period after
/// the start, run by run (e.g. entries to care avoided), as [`BANDS`].
fn avoided(base: &Ensemble, alt: &Ensemble, indicator: &str) -> Option<Vec<Stats>> {
    avoided_with(base, alt, indicator, &BANDS)
}

/// Children entering care avoided (BASE minus ALT of `cla_started`, summed
/// from the start), by period after the start, as statistics over paired
/// runs with the given quantiles; `None` if either ensemble lacks
/// `cla_started`.
pub fn care_entries_avoided(
    base: &Ensemble,
    alt: &Ensemble,
    quantiles: &[f64],
) -> Option<Vec<Stats>> {
    avoided_with(base, alt, "cla_started", quantiles)
}

/// [`avoided`] with any quantiles.
fn avoided_with(
    base: &Ensemble,
    alt: &Ensemble,
    indicator: &str,
    quantiles: &[f64],
) -> Option<Vec<Stats>> {
    let (i, j) = (
        base.indicator_index(indicator).ok()?,
        alt.indicator_index(indicator).ok()?,
    );
    // Period by period over the runs' columns (in memory or on disk).
    let n = base.run_count().min(alt.run_count());
    let mut running = vec![0.0; n];
    Some(
        (1..base.periods.len())
            .map(|y| {
                let (b, a) = (base.column(i, y), alt.column(j, y));
                for ((total, b), a) in running.iter_mut().zip(&b).zip(&a) {
                    *total += b - a;
                }
                Stats::of(running.iter().copied(), quantiles)
            })
            .collect(),
    )
}

fn svg(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_default()
}

/// A fan of one indicator of one scenario.
fn fan(e: &Ensemble, indicator: &str) -> Option<Fan> {
    let i = e.indicators.iter().position(|x| x == indicator)?;
    let points = e
        .periods
        .iter()
        .enumerate()
        .filter_map(|(y, period)| {
            let s = Stats::of(e.runs.iter().map(|r| r.values[i][y]), &BANDS);
            (s.n > 0).then(|| {
                let q = &s.quantiles;
                (*period, [q[0], q[1], q[2], q[3], q[4]])
            })
        })
        .collect::<Vec<_>>();
    (!points.is_empty()).then(|| Fan {
        label: e.scenario.clone(),
        points,
    })
}

/// "£120m more" or "£120m less" (money in £ million, written by `money`).
fn more_or_less(v: f64, money: fn(f64) -> String) -> String {
    if v < 0.0 {
        format!("{} less", money(-v))
    } else {
        format!("{} more", money(v))
    }
}

/// A share of runs in words: "every run", "none of the 1,000 runs",
/// "62% of runs".
fn share_of_runs(p: f64, runs: usize) -> String {
    if p >= 1.0 {
        "every run".to_string()
    } else if p <= 0.0 {
        format!("none of the {} runs", thousands(runs as f64))
    } else {
        // Never round a share that is not all or nothing to 0% or 100%.
        let pct = (100.0 * p).round().clamp(1.0, 99.0);
        format!("{pct:.0}% of runs")
    }
}

/// "It depends most on X and Y." from the main drivers, most influential
/// first (empty when `drivers` is `None`, i.e. not analysed).
fn depends_on(drivers: Option<&[String]>) -> String {
    match drivers {
        None => String::new(),
        Some([]) => " No single uncertain parameter explains a tenth of its spread.".to_string(),
        Some([one]) => format!(" The answer depends most on {one}."),
        Some([first, second]) => format!(" The answer depends most on {first} and {second}."),
        Some([first, rest @ .., last]) => format!(
            " The answer depends most on {first}, {} and {last}.",
            rest.join(", ")
        ),
    }
}

/// The opening answer for a comparison, in plain words and computed from
/// its numbers: whether the alternative pays back by 31 March `horizon`
/// (its spend, summed from the start, falls below the base's and stays
/// there) and in what share of runs, with the median year; its extra spend
/// in present value with the 90% range; the entries to care it avoids
/// (`avoided`, cumulative to the horizon); and what the answer depends on
/// most (`drivers`, from [`crate::drivers::main_drivers`]). An alternative
/// that spends less from the first year is described by the chance that it
/// costs less over the period instead. Statistics must be computed with
/// the quantiles 5%, 25%, 50%, 75%, 95%. `None` if the comparison has no
/// cost.
pub fn headline(
    c: &Comparison,
    avoided: Option<&Stats>,
    runs: usize,
    horizon: i32,
    drivers: Option<&[String]>,
) -> Option<String> {
    headline_with(c, avoided, runs, horizon, drivers, money_m)
}

/// [`headline`] with money (given in £ million) written by `money`: e.g.
/// in £ thousands for a small authority.
pub fn headline_with(
    c: &Comparison,
    avoided: Option<&Stats>,
    runs: usize,
    horizon: i32,
    drivers: Option<&[String]>,
    money: fn(f64) -> String,
) -> Option<String> {
    let last = c.periods.last()?.cost.as_ref()?;
    // The first year in which the spend differs (a policy may start later
    // than the scenarios do).
    let first = c
        .periods
        .iter()
        .filter_map(|p| p.cost.as_ref())
        .find(|p| p.difference.quantiles[2].abs() > 1e-9)
        .unwrap_or(last);
    let never = c.never_breaks_even?;
    let npv = &last.cumulative_discounted.quantiles;
    let value = format!(
        "in present value it costs {} than {} over the period (90% range {} to {})",
        more_or_less(npv[2], money),
        c.base,
        more_or_less(npv[0], money),
        more_or_less(npv[4], money)
    );
    let invests = first.difference.quantiles[2] > 0.0;
    let mut out = if invests {
        let pays = 1.0 - never;
        let mut cumulative = 0.0;
        let half = c.break_even.iter().find_map(|(y, p)| {
            cumulative += p;
            (cumulative >= 0.5).then_some(year(*y))
        });
        let when = match half {
            Some(y) if pays < 1.0 || y < horizon => {
                format!(" (half of all runs have paid back by 31 March {y})")
            }
            _ => String::new(),
        };
        if pays <= 0.0 {
            format!(
                "{} does not pay back by 31 March {horizon} in any of the {} runs: {value}.",
                c.alternative,
                thousands(runs as f64)
            )
        } else {
            format!(
                "{} pays back by 31 March {horizon} in {}{when}; {value}.",
                c.alternative,
                share_of_runs(pays, runs)
            )
        }
    } else {
        format!(
            "{} costs less than {} over the period to 31 March {horizon} in {}: {}.",
            c.alternative,
            c.base,
            share_of_runs(last.probability_alt_costs_less, runs),
            value.replacen("in present value it costs", "in present value", 1)
        )
    };
    if let Some(a) = avoided {
        // Whole children: a fraction of a child is no difference.
        let q: Vec<f64> = a.quantiles.iter().map(|v| v.round()).collect();
        if q.iter().all(|v| *v == 0.0) {
            out.push_str(" It does not change entries to care.");
        } else if q[2] >= 0.0 {
            let _ = write!(
                out,
                " It avoids {} entries to care (90% range {} to {}).",
                thousands(q[2]),
                thousands(q[0]),
                thousands(q[4])
            );
        } else {
            let _ = write!(
                out,
                " It adds {} entries to care (90% range {} to {}).",
                thousands(-q[2]),
                thousands(-q[4]),
                thousands(-q[0])
            );
        }
    }
    out.push_str(&depends_on(drivers));
    Some(capitalised(&out))
}

/// The text with its first letter in upper case (scenario names are often
/// lower case, but they open the sentence).
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The report's opening answers, each with the scenario it is about: one
/// per comparison ([`headline`]), or for a single scenario on the England
/// profile, where children looked after and spend are heading.
fn answers(
    outcome: &Outcome,
    comparisons: &[(Comparison, Option<Vec<Stats>>)],
    drivers: &[crate::engine::sensitivity::Analysis],
    horizon: i32,
) -> Vec<(String, String)> {
    let runs = outcome.ensembles.first().map_or(0, |e| e.runs.len());
    let mut out: Vec<(String, String)> = comparisons
        .iter()
        .filter_map(|(c, avoided)| {
            let d = crate::drivers::main_drivers(drivers, &c.alternative, Some(&c.base), "npv_m");
            headline(
                c,
                avoided.as_ref().and_then(|a| a.last()),
                runs,
                horizon,
                d.as_deref(),
            )
            .map(|a| (c.alternative.clone(), a))
        })
        .collect();
    if out.is_empty()
        && let [e] = outcome.ensembles.as_slice()
        && let (Ok(cla), Ok(spend)) = (
            e.values("cla_at_31_march", e.periods[e.periods.len() - 1]),
            e.values("spend_total_m", e.periods[e.periods.len() - 1]),
        )
    {
        let (cla, spend) = (Stats::of(cla, &BANDS), Stats::of(spend, &BANDS));
        let d = crate::drivers::main_drivers(drivers, &e.scenario, None, "npv_m");
        out.push((e.scenario.clone(), format!(
            "On 31 March {horizon}, in {}, {} children are looked after (median of {} runs; 90% range {} to {}) and children's social care costs {} a year (90% range {} to {}).{}",
            e.scenario,
            thousands(cla.quantiles[2]),
            thousands(runs as f64),
            thousands(cla.quantiles[0]),
            thousands(cla.quantiles[4]),
            money_m(spend.quantiles[2]),
            money_m(spend.quantiles[0]),
            money_m(spend.quantiles[4]),
            depends_on(d.as_deref())
        )));
    }
    out
}

/// "median (P5 to P95)" of stats computed with [`BANDS`].
fn interval(s: &Stats, f: &dyn Fn(f64) -> String) -> String {
    format!(
        "{} <span class=\"range\">({} to {})</span>",
        f(s.quantiles[2]),
        f(s.quantiles[0]),
        f(s.quantiles[4])
    )
}

/// A model time as a date: `2025.25` (31 March 2025, the model's year
/// starting in January) is "April 2025"; whole years are "January YEAR".
pub fn date(t: f64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let year = t.floor();
    let month = ((t - year) * 12.0).round() as usize;
    if month >= 12 {
        format!("January {}", year as i64 + 1)
    } else {
        format!("{} {}", MONTHS[month], year as i64)
    }
}

/// A parameter's value with its units in words: a point in time (units
/// `year`, from 1900) as a date, a number of years as "3 years", money and
/// others as the model writes them.
pub(crate) fn with_units(value: f64, units: Option<&str>) -> String {
    let number = if value.fract() == 0.0 || value.abs() >= 100.0 {
        thousands(value)
    } else {
        format!("{value}")
    };
    match units.map(str::trim) {
        Some("year") | Some("years") if value >= 1900.0 => date(value),
        Some("year") | Some("years") => {
            format!("{number} {}", if value == 1.0 { "year" } else { "years" })
        }
        Some("£m/year") => format!("{} a year", money_m(value)),
        Some(u) if !u.is_empty() => format!("{number} {u}"),
        _ => number,
    }
}

pub(crate) fn describe_policy(p: &crate::engine::scenario::Policy) -> String {
    let what = match p.shape() {
        PolicyShape::Step { start, end, value } => {
            let until = if *end < 1e8 {
                format!(" until {}", date(*end))
            } else {
                String::new()
            };
            format!("{value} from {}{until}", date(*start))
        }
        PolicyShape::Ramp {
            start,
            years,
            value,
            ..
        } => format!("rising to {value} over {years} years from {}", date(*start)),
        PolicyShape::Pulse {
            start,
            years,
            value,
        } => format!("{value} for {years} years from {}", date(*start)),
        PolicyShape::Series { points } => format!(
            "the series {}",
            points
                .iter()
                .map(|(x, y)| format!("{x}: {y}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "a change".to_string(),
    };
    match p.effect() {
        Effect::Multiply => format!("<b>{}</b>: times (1 + {what})", esc(p.parameter())),
        _ => format!("<b>{}</b>: plus {what}", esc(p.parameter())),
    }
}

fn describe_distribution(d: &crate::engine::scenario::Distribution) -> String {
    use crate::engine::scenario::distribution::Shape;
    let shape = match d.shape() {
        Shape::Normal { mean, sd } => format!("normal, mean {mean:.4}, sd {sd:.4}"),
        Shape::LogNormal { mu, sigma } => format!("lognormal, log mean {mu:.4}, log sd {sigma:.4}"),
        Shape::Beta {
            alpha,
            beta,
            min,
            max,
        } => format!("beta({alpha:.3}, {beta:.3}) on [{min}, {max}]"),
        Shape::Gamma { shape, scale } => format!("gamma, shape {shape:.3}, scale {scale:.3}"),
        Shape::Uniform { min, max } => format!("uniform {min} to {max}"),
        Shape::Triangular { min, mode, max } => format!("triangular {min}, {mode}, {max}"),
        Shape::Pert { min, mode, max } => format!("PERT {min}, {mode}, {max}"),
        other => format!("{other:?}"),
    };
    match (d.lower(), d.upper()) {
        (None, None) => shape,
        (lo, hi) => format!(
            "{shape}, truncated to [{}, {}]",
            lo.map_or("-inf".into(), |v| v.to_string()),
            hi.map_or("inf".into(), |v| v.to_string())
        ),
    }
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em}h2{margin-top:2em;border-bottom:1px solid #ccc;padding-bottom:.2em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}td,th{border:1px solid #ddd;padding:.35em .6em;text-align:right;vertical-align:top}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.range{color:#666;font-size:.9em}
.question{font-size:1.1em;font-style:italic}.answer{font-size:1.15em;border-left:4px solid #1f5ea8;padding-left:.7em}.note{color:#555;font-size:.9em}figure{margin:1.5em 0}svg{max-width:100%;height:auto}
ul.assumptions li{margin:.2em 0}";

/// Builds the report. `prepared` are the scenarios in the outcome's order
/// (for their assumptions and the sources of their parameters).
///
/// # Errors
///
/// A chart that cannot be drawn; the validation run's errors.
pub fn report(outcome: &Outcome, prepared: &[Prepared]) -> Result<String> {
    report_with_drivers(outcome, prepared, &[])
}

/// As [`report`], with a "What drives this answer" section after the key
/// figures showing `drivers` (see [`crate::drivers`]).
///
/// # Errors
///
/// As [`report`].
pub fn report_with_drivers(
    outcome: &Outcome,
    prepared: &[Prepared],
    drivers: &[crate::engine::sensitivity::Analysis],
) -> Result<String> {
    let mut h = String::new();
    let names: Vec<&str> = outcome
        .ensembles
        .iter()
        .map(|e| e.scenario.as_str())
        .collect();
    let first = &outcome.ensembles[0];
    let (y0, y1) = (
        year(first.periods[0]),
        year(first.periods[first.periods.len() - 1]),
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}\n{}</style></head><body>\n",
        esc(&names.join(" vs ")),
        crate::drivers::STYLE
    );
    let title = match names.as_slice() {
        [one] => format!("Scenario: {one}"),
        [base, rest @ ..] => format!(
            "{} compared with {base}",
            rest.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        [] => "Scenarios".to_string(),
    };
    let _ = writeln!(h, "<h1>{}</h1>", esc(&title));
    // The window and money as the England model states them; for any
    // other model, its own period labels.
    let care_model = prepared.first().is_some_and(|p| {
        crate::local::authority_code(p.model()).is_some() || p.model().name() == crate::ENGLAND_NAME
    });
    let (window, money) = if care_model {
        (
            format!("31 March {y0} to 31 March {y1}"),
            "; money is £ at 2022-23 prices",
        )
    } else {
        (
            format!(
                "{} {} to {}",
                first.label,
                first.periods[0],
                first.periods[first.periods.len() - 1]
            ),
            "",
        )
    };
    let _ = writeln!(
        h,
        "<p class=\"note\">{}, {}. {} Monte Carlo runs per scenario ({} sampling, seed {}); every scenario is run on the same draws of the uncertain parameters it shares with the others, so differences are paired run by run. Figures are medians with the 5th to 95th percentile range in brackets{money}. Made by carecascade {}.</p>",
        esc(&place(prepared)),
        esc(&window),
        thousands(outcome.total_runs as f64),
        outcome.sampling.replace('_', " "),
        outcome.seed,
        esc(&outcome.version)
    );

    // The England rows where the scenarios have the England profile's
    // scalars; otherwise each scenario's own scalars and indicators.
    let care_scalars = outcome
        .ensembles
        .iter()
        .all(|e| SCALARS.iter().all(|s| e.scalars.iter().any(|x| x == s)));
    // The England comparison (spend, entries to care, break-even) for
    // scenarios with the England profile's scalars.
    let alternatives = if care_scalars {
        &outcome.ensembles[1..]
    } else {
        &[]
    };
    let comparisons: Vec<(Comparison, Option<Vec<Stats>>)> = alternatives
        .iter()
        .map(|alt| {
            (
                compare(
                    first,
                    alt,
                    &BANDS,
                    Some("spend_total_m"),
                    DISCOUNT_RATE,
                    &[],
                ),
                avoided(first, alt, "cla_started"),
            )
        })
        .collect();

    // The evaluations the England model cites (for the answers' caveat and
    // the fit section).
    let evaluated = (prepared[0].model().name() == crate::ENGLAND_NAME)
        .then(|| run_evaluations(prepared[0].model()));

    // The answers first, computed from the numbers below.
    let mut answers = answers(outcome, &comparisons, drivers, y1);
    if let Some(Ok(e)) = &evaluated {
        for (scenario, answer) in answers.iter_mut() {
            let alt = prepared
                .iter()
                .find(|p| p.scenario().name() == scenario.as_str());
            if alt.is_some_and(turns_prevention_levers) {
                answer.push_str(&prevention_caveat(e));
            }
        }
    }
    if !answers.is_empty() {
        h.push_str("<h2>The answer</h2>\n");
        for (_, a) in &answers {
            let _ = writeln!(h, "<p class=\"answer\">{}</p>", esc(a));
        }
    }

    // Questions and assumptions.
    h.push_str("<h2>The scenarios</h2>\n");
    for (e, p) in outcome.ensembles.iter().zip(prepared) {
        let s = p.scenario();
        let _ = writeln!(h, "<h3>{}</h3>", esc(&e.scenario));
        if !e.question.is_empty() {
            let _ = writeln!(h, "<p class=\"question\">{}</p>", esc(&e.question));
        }
        h.push_str("<ul class=\"assumptions\">");
        for (name, value) in s.parameters() {
            let base = name.split('[').next().unwrap_or(name).trim();
            let units = p
                .model()
                .variable(base)
                .or_else(|| p.model().variable(&format!("{base} before policies")))
                .and_then(|v| v.units_text());
            let _ = write!(
                h,
                "<li><b>{}</b> = {}</li>",
                esc(name),
                esc(&with_units(*value, units))
            );
        }
        for policy in s.policies() {
            let _ = write!(h, "<li>{}</li>", describe_policy(policy));
        }
        if s.parameters().is_empty() && s.policies().is_empty() {
            h.push_str("<li>The calibrated model as it stands: no policy changes.</li>");
        }
        h.push_str("</ul>\n");
    }

    // Key figures.
    h.push_str("<h2>Key figures</h2>\n<table><tr><th>over the horizon</th>");
    for n in &names {
        let _ = write!(h, "<th>{}</th>", esc(n));
    }
    h.push_str("</tr>\n");
    let cell = |h: &mut String, values: Result<Vec<f64>>, f: fn(f64) -> String| match values {
        Ok(values) => {
            let _ = write!(h, "<td>{}</td>", interval(&Stats::of(values, &BANDS), &f));
        }
        Err(_) => h.push_str("<td>-</td>"),
    };
    if care_scalars {
        let scalar_rows: [Row; 4] = [
            ("Spend over the period, cash (£)", SCALARS[0], money_m),
            (
                "Spend over the period, present value at 3.5% (£)",
                SCALARS[1],
                money_m,
            ),
            (
                "Children entering care over the period",
                SCALARS[2],
                thousands,
            ),
            (
                "Highest caseload (cases per case-holding social worker)",
                SCALARS[3],
                thousands,
            ),
        ];
        for (label, name, f) in scalar_rows {
            let _ = write!(h, "<tr><td>{label}</td>");
            for e in &outcome.ensembles {
                cell(&mut h, e.scalar(name), f);
            }
            h.push_str("</tr>\n");
        }
        for (indicator, label) in [
            ("cla_at_31_march", "Children looked after on 31 March"),
            (
                "cpp_at_31_march",
                "Children on a protection plan on 31 March",
            ),
            ("cin_at_31_march", "Children in need on 31 March"),
            ("spend_total_m", "Spend in the year to 31 March"),
        ] {
            let _ = write!(h, "<tr><td>{label} {y1}</td>");
            let f: fn(f64) -> String = if indicator.ends_with("_m") {
                money_m
            } else {
                thousands
            };
            for e in &outcome.ensembles {
                let last = e.periods[e.periods.len() - 1];
                cell(&mut h, e.values(indicator, last), f);
            }
            h.push_str("</tr>\n");
        }
    } else {
        for name in &first.scalars {
            let _ = write!(h, "<tr><td>{}</td>", esc(name));
            for e in &outcome.ensembles {
                cell(&mut h, e.scalar(name), thousands);
            }
            h.push_str("</tr>\n");
        }
        for indicator in &first.indicators {
            let last = first.periods[first.periods.len() - 1];
            let _ = write!(
                h,
                "<tr><td>{}, {} {last}</td>",
                esc(indicator),
                esc(&first.label)
            );
            for e in &outcome.ensembles {
                cell(&mut h, e.values(indicator, last), thousands);
            }
            h.push_str("</tr>\n");
        }
    }
    h.push_str("</table>\n");

    if !comparisons.is_empty() {
        let _ = writeln!(
            h,
            "<h3>Against {}, run by run</h3>\n<table><tr><th>by 31 March {y1}</th><th>extra spend, cash</th><th>extra spend, present value</th><th>entries to care avoided</th><th>chance of costing less</th><th>breaks even within {} years</th></tr>",
            esc(&first.scenario),
            y1 - y0
        );
        for (c, avoided) in &comparisons {
            let (Some(cost), Some(never)) = (
                c.periods.last().and_then(|p| p.cost.as_ref()),
                c.never_breaks_even,
            ) else {
                continue;
            };
            let avoided = avoided
                .as_ref()
                .and_then(|a| a.last())
                .map_or("-".to_string(), |a| interval(a, &thousands));
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td><td>{:.0}%</td></tr>",
                esc(&c.alternative),
                interval(&cost.cumulative, &money_m),
                interval(&cost.cumulative_discounted, &money_m),
                avoided,
                100.0 * cost.probability_alt_costs_less,
                100.0 * (1.0 - never)
            );
        }
        h.push_str("</table>\n<p class=\"note\">Negative extra spend is a saving. Breaking even means the alternative's cumulative spend falls below the base's and stays below to the horizon.</p>\n");
    }

    h.push_str(&crate::drivers::section(drivers));

    // Fan charts: the England indicators where the scenarios have them,
    // otherwise each indicator the scenarios report.
    h.push_str("<h2>Over time</h2>\n");
    let care_fans: Vec<(String, String, String, bool)> = [
        ("spend_total_m", "Spend a year", "£ a year", true),
        (
            "cla_at_31_march",
            "Children looked after at 31 March",
            "children",
            false,
        ),
        (
            "cla_started",
            "Children entering care a year",
            "children a year",
            false,
        ),
        (
            "cpp_at_31_march",
            "Children on a protection plan at 31 March",
            "children",
            false,
        ),
        ("referrals", "Referrals a year", "referrals a year", false),
        (
            "caseload",
            "Caseload per case-holding social worker",
            "cases per case-holding social worker",
            false,
        ),
        (
            "early_help_children",
            "Children in early help",
            "children",
            false,
        ),
    ]
    .into_iter()
    .map(|(i, t, u, m)| (i.to_string(), t.to_string(), u.to_string(), m))
    .collect();
    let has = |indicator: &str| {
        outcome
            .ensembles
            .iter()
            .any(|e| e.indicators.iter().any(|i| i == indicator))
    };
    let fans_to_draw: Vec<(String, String, String, bool)> =
        if care_fans.iter().any(|(i, ..)| has(i)) {
            care_fans
        } else {
            first
                .indicators
                .iter()
                .map(|i| (i.clone(), i.clone(), String::new(), false))
                .collect()
        };
    for (indicator, title, unit, money) in &fans_to_draw {
        let fans: Vec<Fan> = outcome
            .ensembles
            .iter()
            .filter_map(|e| fan(e, indicator))
            .collect();
        if fans.is_empty() {
            continue;
        }
        let chart = svg(fan_chart(Format::Svg, title, unit, &fans, *money, false)?);
        let _ = writeln!(h, "<figure>{chart}</figure>");
    }
    h.push_str("<p class=\"note\">Each chart's legend says what its bands are: the shaded band holds the middle half of the runs and the line is the median; the 90% range is a lighter band for one scenario and two thin lines in the scenario's colour where scenarios share a chart.</p>\n");

    // Differences of any other model's indicators, run by run.
    if !care_scalars {
        for alt in outcome.ensembles.iter().skip(1) {
            let _ = writeln!(
                h,
                "<h2>{} minus {}</h2>",
                esc(&alt.scenario),
                esc(&first.scenario)
            );
            for indicator in &first.indicators {
                let points: Option<Vec<(f64, [f64; 5])>> = first
                    .periods
                    .iter()
                    .map(|&p| {
                        let d = outcome
                            .paired_difference(&first.scenario, &alt.scenario, indicator, p)
                            .ok()?;
                        let q = Stats::of(d, &BANDS).quantiles;
                        Some((p, [q[0], q[1], q[2], q[3], q[4]]))
                    })
                    .collect();
                let Some(points) = points else { continue };
                let fan = Fan {
                    label: format!("{indicator}, {} minus {}", alt.scenario, first.scenario),
                    points: points.into_iter().filter(|(_, q)| !q[2].is_nan()).collect(),
                };
                let chart = svg(fan_chart(Format::Svg, indicator, "", &[fan], false, true)?);
                let _ = writeln!(h, "<figure>{chart}</figure>");
            }
        }
    }

    // Differences.
    for (c, avoided) in &comparisons {
        let _ = writeln!(h, "<h2>{} minus {}</h2>", esc(&c.alternative), esc(&c.base));
        let diff_fan = |stats: Vec<&Stats>, label: &str| Fan {
            label: label.to_string(),
            points: std::iter::once((first.periods[0], [0.0; 5]))
                .chain(c.periods.iter().zip(stats).map(|(p, s)| {
                    let q = &s.quantiles;
                    (p.period, [q[0], q[1], q[2], q[3], q[4]])
                }))
                .collect(),
        };
        let npv: Vec<&Stats> = c
            .periods
            .iter()
            .filter_map(|p| p.cost.as_ref().map(|c| &c.cumulative_discounted))
            .collect();
        if npv.len() == c.periods.len() {
            let cash = diff_fan(npv, "cumulative extra spend, present value");
            let chart = svg(fan_chart(
                Format::Svg,
                "Cumulative extra spend (present value)",
                "£",
                &[cash],
                true,
                true,
            )?);
            let _ = writeln!(h, "<figure>{chart}</figure>");
        }
        if let Some(avoided) = avoided {
            let care = diff_fan(avoided.iter().collect(), "entries to care avoided");
            let chart = svg(fan_chart(
                Format::Svg,
                "Children entering care avoided, cumulative",
                "children",
                &[care],
                false,
                true,
            )?);
            let _ = writeln!(h, "<figure>{chart}</figure>");
        }
        let chart = svg(share_histogram(
            Format::Svg,
            "Break-even year",
            &break_even_bars(c),
        )?);
        let _ = writeln!(
            h,
            "<figure>{chart}<figcaption class=\"note\">The first year from which the alternative has cost less in total than the base, and stays so; \"later\" means not by 31 March {y1}.</figcaption></figure>"
        );
    }

    // The past: the fit of the model the base scenario uses.
    h.push_str("<h2>How well the model fits the past</h2>\n");
    match past(&prepared[0])? {
        Some((what, validation)) => {
            let from = validation.from;
            let _ = write!(
                h,
                "<p>{}, run from the published stocks of 31 March {from}, against what was published (mean absolute percentage error over {}-{}):</p><table><tr><th>series</th><th>error</th></tr>",
                esc(&what),
                from + 1,
                validation.to
            );
            // The series with targets and every series the England model
            // is fitted to, or all of them for a model without targets.
            let headline = validation.series.iter().any(|s| s.target.is_some());
            let fitted = if prepared[0].model().name() == crate::ENGLAND_NAME {
                crate::england::fitted_series()?
            } else {
                Vec::new()
            };
            let shown = |s: &&crate::validate::SeriesCheck| {
                s.mape.is_some() && (!headline || s.target.is_some() || fitted.contains(&s.column))
            };
            for s in validation.series.iter().filter(shown) {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{:.1}%</td></tr>",
                    esc(&s.title),
                    s.mape.unwrap_or(f64::NAN)
                );
            }
            h.push_str("</table>\n");
            if prepared[0].model().name() == crate::ENGLAND_NAME {
                h.push_str(&out_of_sample());
                // A base scenario whose policies turn the levers the
                // evaluations use into time paths cannot be evaluated.
                match &evaluated {
                    Some(Ok(e)) => h.push_str(&evaluation_table(e)),
                    None => {}
                    Some(Err(e)) => {
                        let _ = writeln!(
                            h,
                            "<p class=\"note\">The evaluations the model cites could not be run on the base scenario's model ({}); docs/validation.md has them for the shipped model.</p>",
                            esc(&e.to_string())
                        );
                    }
                }
            }
            // Every series in the table above.
            for s in validation.series.iter().filter(shown) {
                let chart = model_vs_observed(&s.title, &s.line, &s.dots, false)?;
                let _ = writeln!(h, "<figure>{chart}</figure>");
            }
        }
        None => {
            let _ = writeln!(
                h,
                "<p>No published figures are attached to the model `{}` that the base scenario uses, so its fit to the past is not shown: check it before trusting its projections (for example with <code>carecascade validate</code> and your own data).</p>",
                esc(prepared[0].model().name())
            );
        }
    }

    // Sources.
    h.push_str("<h2>Uncertain parameters and their sources</h2>\n<table><tr><th>parameter</th><th>distribution</th><th style=\"text-align:left\">source</th></tr>\n");
    let mut seen = Vec::new();
    for p in prepared {
        for (name, _, d) in p.uncertain() {
            if seen.contains(name) {
                continue;
            }
            seen.push(name.clone());
            let base = name.split('[').next().unwrap_or(name).trim();
            let doc = p.model().variable(base).map_or("", |v| v.doc());
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
                esc(name),
                esc(&describe_distribution(d)),
                esc(doc)
            );
        }
    }
    for p in prepared {
        let Some(posterior) = p.posterior() else {
            continue;
        };
        for (i, name) in posterior.names.iter().enumerate() {
            if seen.contains(name) {
                continue;
            }
            seen.push(name.clone());
            let mut xs: Vec<f64> = posterior.rows.iter().map(|r| r[i]).collect();
            xs.sort_by(f64::total_cmp);
            let q = |f: f64| xs[((xs.len() - 1) as f64 * f).round() as usize];
            let doc = p.model().variable(name).map_or("", |v| v.doc());
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>posterior (`{}`): median {:.4}, 90% {:.4} to {:.4}</td><td style=\"text-align:left\">{}</td></tr>",
                esc(name),
                esc(&posterior
                    .file
                    .file_name()
                    .map_or(String::new(), |f| f.to_string_lossy().to_string())),
                q(0.5),
                q(0.05),
                q(0.95),
                esc(doc)
            );
        }
    }
    h.push_str("</table>\n");
    // Once each, however many scenarios name it (one that extends another
    // inherits its sources).
    let mut sources: Vec<&String> = Vec::new();
    for source in prepared.iter().flat_map(|p| p.scenario().sources().iter()) {
        if !sources.contains(&source) {
            sources.push(source);
        }
    }
    if !sources.is_empty() {
        h.push_str("<h3>Sources named by the scenarios</h3><ul>");
        for s in sources {
            let _ = write!(h, "<li>{}</li>", esc(s));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<p class=\"note\">Every parameter of the model, with its source, is listed in docs/model.md; the fit to the published statistics in docs/validation.md.</p>\n</body></html>\n");
    Ok(h)
}

/// A readable summary for the terminal: for scenarios with the `england`
/// profile's scalars, spend, its present value, children entering care and
/// the peak caseload, then each indicator in the last year, and each
/// comparison's cumulative spend, entries to care avoided and break-even
/// year, as median [5th to 95th percentile]; for any other scenario, the
/// engine's table ([`Outcome::table`]).
pub fn table(outcome: &Outcome) -> String {
    let care = outcome
        .ensembles
        .iter()
        .all(|e| SCALARS.iter().all(|s| e.scalars.iter().any(|x| x == s)));
    if !care {
        return outcome.table();
    }
    let mut out = String::new();
    let interval = |s: &Stats, f: &dyn Fn(f64) -> String| outcome.interval(s, f);
    let _ = writeln!(
        out,
        "{} runs, seed {}, {} sampling; median [5th to 95th percentile]",
        thousands(outcome.total_runs as f64),
        outcome.seed,
        outcome.sampling
    );
    for e in &outcome.ensembles {
        let last = e.periods.len() - 1;
        let _ = writeln!(
            out,
            "\n{} ({}-{})",
            e.scenario,
            year(e.periods[0]),
            year(e.periods[last])
        );
        if !e.question.is_empty() {
            let _ = writeln!(out, "  {}", e.question);
        }
        let labels = [
            ("spend over the horizon", money_m as fn(f64) -> String),
            ("net present value (3.5%)", money_m),
            ("children entering care", thousands),
            ("peak caseload (cases per worker)", thousands),
        ];
        for ((label, f), name) in labels.iter().zip(SCALARS) {
            let s = Stats::of(e.scalar(name).unwrap_or_default(), &outcome.quantiles);
            let _ = writeln!(out, "  {label:<34} {}", interval(&s, f));
        }
        for (i, name) in e.indicators.iter().enumerate() {
            let s = Stats::of(e.column(i, last), &outcome.quantiles);
            let f: &dyn Fn(f64) -> String = if name.ends_with("_m") {
                &money_m
            } else {
                &thousands
            };
            let _ = writeln!(
                out,
                "  {:<34} {}",
                format!("{name} {}", year(e.periods[last])),
                interval(&s, f)
            );
        }
    }
    let Some(base) = outcome.ensembles.first() else {
        return out;
    };
    for alt in outcome.ensembles.iter().skip(1) {
        let c = compare(
            base,
            alt,
            &outcome.quantiles,
            Some("spend_total_m"),
            DISCOUNT_RATE,
            &[],
        );
        let avoided = avoided_with(base, alt, "cla_started", &outcome.quantiles);
        let _ = writeln!(out, "\n{} minus {} (paired runs)", c.alternative, c.base);
        // The plain-words answer needs the report's quantiles.
        let plain = compare(base, alt, &BANDS, Some("spend_total_m"), DISCOUNT_RATE, &[]);
        let plain_avoided = avoided_with(base, alt, "cla_started", &BANDS);
        if let Some(sentence) = headline(
            &plain,
            plain_avoided.as_ref().and_then(|a| a.last()),
            base.run_count(),
            year(base.periods[base.periods.len() - 1]),
            None,
        ) {
            let _ = writeln!(out, "  {sentence}");
        }
        let _ = writeln!(
            out,
            "  {:<6} {:>30} {:>30} {:>22} {:>10}",
            "year",
            "cumulative spend, cash",
            "cumulative spend, NPV",
            "entries to care avoided",
            "P(cheaper)"
        );
        for (k, p) in c.periods.iter().enumerate() {
            let Some(cost) = &p.cost else { continue };
            let avoided = avoided
                .as_ref()
                .map_or("-".to_string(), |a| interval(&a[k], &thousands));
            let _ = writeln!(
                out,
                "  {:<6} {:>30} {:>30} {:>22} {:>9.0}%",
                year(p.period),
                interval(&cost.cumulative, &money_m),
                interval(&cost.cumulative_discounted, &money_m),
                avoided,
                100.0 * cost.probability_alt_costs_less
            );
        }
        let breaking: Vec<String> = c
            .break_even
            .iter()
            .filter(|(_, p)| *p > 0.0)
            .map(|(y, p)| format!("{}: {:.0}%", year(*y), 100.0 * p))
            .collect();
        let _ = writeln!(
            out,
            "  break-even year: {}{}not within the horizon: {:.0}%",
            breaking.join(", "),
            if breaking.is_empty() { "" } else { "; " },
            100.0 * c.never_breaks_even.unwrap_or(f64::NAN)
        );
    }
    out
}

fn break_even_bars(c: &Comparison) -> Vec<(String, f64)> {
    let mut bars: Vec<(String, f64)> = c
        .break_even
        .iter()
        .map(|(y, p)| (y.to_string(), *p))
        .collect();
    bars.push(("later".into(), c.never_breaks_even.unwrap_or(f64::NAN)));
    bars
}

/// Where the base scenario's model is: England, or a local authority.
fn place(prepared: &[Prepared]) -> String {
    match prepared
        .first()
        .and_then(|p| crate::local::authority_code(p.model()))
    {
        Some(_) => format!(
            "Children's social care in {}",
            prepared[0]
                .model()
                .name()
                .trim_start_matches(crate::local::LOCAL_PREFIX)
        ),
        None => match prepared.first() {
            Some(p) if p.model().name() != crate::ENGLAND_NAME => {
                format!("The model `{}`", p.model().name())
            }
            _ => "England's children's social care".to_string(),
        },
    }
}

/// The published figures for the model a scenario uses, and its fit to
/// them: a local authority's for a model made by `localise`, England's for
/// the England model, none for any other model.
/// The England model's out-of-sample record (docs/backtest.md): how its
/// forecasts one and two years ahead fared against the outturns and the
/// last published value, and how often their intervals covered them.
fn out_of_sample() -> String {
    let Ok(backtest) = crate::backtest::Backtest::from_json(crate::backtest::ENGLAND_BACKTEST_JSON)
    else {
        return String::new();
    };
    let (ratio, c50, c90) = crate::backtest::summary(&backtest);
    let origins = &backtest.settings.origins;
    let mut h = format!(
        "<p>Out of sample (docs/backtest.md): fitted only to the figures up to each year from {} to {} and forecasting one and two years ahead, the model's errors were {:.2} times those of simply repeating the last published figure (on average over the series below; below 1 is better); {:.0}% of outturns fell inside the 50% intervals and {:.0}% inside the 90% intervals (for a well-calibrated forecast, about 50% and 90%).</p><table><tr><th>series</th><th>years ahead</th><th>error vs last value</th><th>in 50%</th><th>in 90%</th></tr>",
        origins.first().copied().unwrap_or(0),
        origins.last().copied().unwrap_or(0),
        ratio,
        100.0 * c50,
        100.0 * c90
    );
    for s in backtest.scores() {
        let title = crate::backtest::SERIES
            .iter()
            .find(|x| x.0 == s.series)
            .map_or(s.series.as_str(), |x| x.1);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.0}%</td><td>{:.0}%</td></tr>",
            esc(title),
            s.horizon,
            s.relative_mae,
            100.0 * s.covered50,
            100.0 * s.covered90
        );
    }
    h.push_str("</table>\n");
    h
}

/// The evaluations the model cites, run through it at its central values
/// (docs/validation.md has the ranges): does it reproduce the effects its
/// policies rest on?
fn run_evaluations(model: &crate::engine::Model) -> Result<crate::evaluations::Evaluations> {
    use crate::evaluations::{Settings, evaluate};
    evaluate(
        model,
        &[],
        &Settings {
            draws: 0,
            ..Settings::default()
        },
    )
}

/// The levers whose effect runs through early help.
const PREVENTION_LEVERS: &[&str] = &["extra prevention spend", "prevention scale", "budget mode"];

/// Whether a scenario sets or moves a lever whose effect runs through
/// early help.
fn turns_prevention_levers(p: &Prepared) -> bool {
    let s = p.scenario();
    let named = |name: &str| {
        let base = crate::engine::canonical_name(name.split('[').next().unwrap_or(name));
        PREVENTION_LEVERS
            .iter()
            .any(|l| crate::engine::canonical_name(l) == base)
    };
    s.parameters().keys().any(|n| named(n)) || s.policies().iter().any(|p| named(p.parameter()))
}

/// The caveat on an answer about prevention: how many of the early-help
/// evaluations' figures the model does not reproduce (empty if none).
fn prevention_caveat(e: &crate::evaluations::Evaluations) -> String {
    use crate::evaluations::Verdict;
    let early_help: Vec<_> = e
        .checks
        .iter()
        .filter(|c| c.model.is_some())
        .filter(|c| {
            [
                "Supporting Families",
                "Sure Start",
                "prevention spend",
                "Webb",
            ]
            .iter()
            .any(|k| c.evaluation.contains(k))
        })
        .collect();
    let missed = early_help
        .iter()
        .filter(|c| c.verdict == Verdict::NotReproduced)
        .count();
    if missed == 0 {
        return String::new();
    }
    format!(
        " It rests on the model's early-help effects, which do not reproduce {missed} of the {} figures of the evaluations they cite (see \"Does it reproduce the evaluations its policies rest on?\").",
        early_help.len()
    )
}

/// The table of the evaluations the model cites, with verdicts.
fn evaluation_table(e: &crate::evaluations::Evaluations) -> String {
    use crate::evaluations::Verdict;
    let count = |v: Verdict| e.checks.iter().filter(|c| c.verdict == v).count();
    let mut h = format!(
        "<h3>Does it reproduce the evaluations its policies rest on?</h3><p>Each evaluation the model cites, run through the model with the evaluated design for a group like the evaluated one (docs/validation.md, \"Evaluations reproduced\", has the designs, ranges and reasons): of {} published figures it reproduces {}, does not reproduce {}, and cannot express {}. Read the answers on prevention with this beside them.</p><table><tr><th>evaluation</th><th style=\"text-align:left\">measure</th><th>published</th><th>model</th><th>verdict</th></tr>",
        e.checks.len(),
        count(Verdict::Reproduced),
        count(Verdict::NotReproduced),
        count(Verdict::CannotExpress)
    );
    for c in &e.checks {
        let _ = write!(
            h,
            "<tr><td>{}</td><td style=\"text-align:left\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.evaluation),
            esc(&c.measure),
            esc(&c.published.text),
            c.model
                .as_ref()
                .map_or("-".to_string(), |m| crate::evaluations::number(m.central)),
            esc(c.verdict.label().trim_matches('*'))
        );
    }
    h.push_str("</table>\n");
    h
}

fn past(p: &Prepared) -> Result<Option<(String, crate::validate::Validation)>> {
    let model = p.model();
    let (what, observed) = match crate::local::authority_code(model) {
        Some(code) => (
            format!(
                "The local model of {}",
                model.name().trim_start_matches(crate::local::LOCAL_PREFIX)
            ),
            crate::data::Observed::local_authority(code)?,
        ),
        None if model.name() == crate::ENGLAND_NAME => (
            "The calibrated England model".to_string(),
            crate::data::Observed::england()?,
        ),
        None => return Ok(None),
    };
    let validation = crate::validate::validate(model, &observed, None, None)?;
    Ok(Some((what, validation)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::scenario::Scenario;

    fn stats(q: [f64; 5]) -> Stats {
        Stats {
            n: 1000,
            mean: q[2],
            quantiles: q.to_vec(),
        }
    }

    /// A comparison whose second-year extra spend has median `first`, whose
    /// present value at the horizon (2033) has the quantiles `npv`, with
    /// the given share of runs breaking even in each year.
    fn comparison(
        first: f64,
        npv: [f64; 5],
        break_even: &[(f64, f64)],
        costs_less: f64,
    ) -> Comparison {
        let period = |p: f64, d: f64| crate::engine::ensemble::PeriodComparison {
            period: p,
            cost: Some(crate::engine::ensemble::CostComparison {
                difference: stats([d; 5]),
                cumulative: stats(npv),
                cumulative_discounted: stats(npv),
                probability_alt_costs_less: costs_less,
            }),
            cumulative: Default::default(),
        };
        // The policy starts in the second year: the first differs by nothing.
        let mut periods = vec![period(2024.0, 0.0), period(2025.0, first)];
        periods.extend((2026..=2033).map(|y| period(f64::from(y), 0.0)));
        Comparison {
            base: "baseline".into(),
            alternative: "early help investment".into(),
            periods,
            break_even: (2024..=2033)
                .map(|y| {
                    let y = f64::from(y);
                    (y, break_even.iter().find(|b| b.0 == y).map_or(0.0, |b| b.1))
                })
                .collect(),
            never_breaks_even: Some(1.0 - break_even.iter().map(|b| b.1).sum::<f64>()),
        }
    }

    /// The opening sentence says what the numbers say: the share paying
    /// back, the year half the runs have, the present value and its range,
    /// entries avoided, and the drivers; an investment that never pays back
    /// says so in words.
    #[test]
    fn the_answer_says_what_the_numbers_say() {
        let c = comparison(
            500.0,
            [-300.0, 100.0, 1200.0, 1500.0, 2100.0],
            &[(2030.0, 0.1), (2031.0, 0.45), (2032.0, 0.07)],
            0.2,
        );
        let avoided = stats([-50.0, 400.0, 1234.0, 2000.0, 3000.0]);
        let drivers = vec![
            "early help effect at maturity".to_string(),
            "maturation time".to_string(),
        ];
        let s = headline(&c, Some(&avoided), 1000, 2033, Some(&drivers)).unwrap();
        assert_eq!(
            s,
            "Early help investment pays back by 31 March 2033 in 62% of runs (half of all runs have paid back by 31 March 2031); in present value it costs £1.20bn more than baseline over the period (90% range £300m less to £2.10bn more). It avoids 1,234 entries to care (90% range -50 to 3,000). The answer depends most on early help effect at maturity and maturation time."
        );
        // Fewer runs paying back than half: no "half of all runs".
        let c = comparison(
            500.0,
            [900.0, 1000.0, 1100.0, 1200.0, 1300.0],
            &[(2033.0, 0.3)],
            0.3,
        );
        let s = headline(&c, None, 1000, 2033, None).unwrap();
        assert!(
            s.starts_with("Early help investment pays back by 31 March 2033 in 30% of runs;"),
            "{s}"
        );
        // No child's difference: said in words, never "-0".
        let none = stats([-0.2, -0.1, 0.0, 0.1, 0.3]);
        let s = headline(&c, Some(&none), 1000, 2033, None).unwrap();
        assert!(s.ends_with(" It does not change entries to care."), "{s}");
        // Never: in words, with the run count formatted.
        let c = comparison(500.0, [900.0, 1000.0, 1100.0, 1200.0, 1300.0], &[], 0.0);
        let s = headline(&c, None, 1000, 2033, Some(&[])).unwrap();
        assert!(s.starts_with("Early help investment does not pay back by 31 March 2033 in any of the 1,000 runs: in present value it costs £1.10bn more"), "{s}");
        assert!(
            s.ends_with("No single uncertain parameter explains a tenth of its spread."),
            "{s}"
        );
        // A scenario that spends less from the start: the chance it costs less.
        let c = comparison(
            -200.0,
            [-900.0, -700.0, -500.0, -100.0, 50.0],
            &[(2024.0, 0.9)],
            0.93,
        );
        let s = headline(&c, None, 1000, 2033, None).unwrap();
        assert!(s.contains("Early help investment costs less than baseline over the period to 31 March 2033 in 93% of runs: in present value £500m less than baseline"), "{s}");
        // Shares never round to all or nothing unless they are.
        assert_eq!(share_of_runs(0.999, 1000), "99% of runs");
        assert_eq!(share_of_runs(0.001, 1000), "1% of runs");
        assert_eq!(share_of_runs(1.0, 1000), "every run");
    }

    #[test]
    fn dates_and_units_read_as_words() {
        assert_eq!(date(2025.25), "April 2025");
        assert_eq!(date(2024.0), "January 2024");
        assert_eq!(with_units(2025.25, Some("year")), "April 2025");
        assert_eq!(with_units(3.0, Some("year")), "3 years");
        assert_eq!(with_units(500.0, Some("£m/year")), "£500m a year");
        assert_eq!(with_units(0.2, None), "0.2");
    }

    #[test]
    fn the_report_is_one_self_contained_page() {
        let base = "[scenario]\nname = \"base\"\nquestion = \"What if nothing changes?\"\nsources = [\"DfE\", \"RO3\"]\n[time]\nhorizon = 3\n[monte_carlo]\nruns = 6\n[uncertain.\"detection fraction\"]\ndistribution = \"uniform\"\nmin = 0\nmax = 0.08\n";
        let alt = format!("{base}[parameters]\n\"kinship shift\" = 0.2\n")
            .replace("name = \"base\"", "name = \"kin\"");
        let prepared = vec![
            Scenario::parse_with(base, "base.toml", &crate::library())
                .unwrap()
                .prepare()
                .unwrap(),
            Scenario::parse_with(&alt, "kin.toml", &crate::library())
                .unwrap()
                .prepare()
                .unwrap(),
        ];
        let outcome = crate::engine::ensemble::run_scenarios(
            &prepared,
            &crate::engine::ensemble::RunOptions::default(),
        )
        .unwrap();
        let html = report(&outcome, &prepared).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
        assert!(html.contains("What if nothing changes?"));
        assert!(html.contains("<b>kinship shift</b> = 0.2"));
        assert!(html.contains("Break-even year") && html.contains("<svg"));
        assert!(html.contains("uniform 0 to 0.08"));
        // The answer comes first and says what the comparison's numbers say.
        let answer = html.find("<h2>The answer</h2>").expect("an answer section");
        assert!(answer < html.find("<h2>The scenarios</h2>").unwrap());
        let c = compare(
            &outcome.ensembles[0],
            &outcome.ensembles[1],
            &BANDS,
            Some("spend_total_m"),
            DISCOUNT_RATE,
            &[],
        );
        let share = match c.periods[0].cost.as_ref().unwrap().difference.quantiles[2] > 0.0 {
            true => 1.0 - c.never_breaks_even.unwrap(),
            false => {
                c.periods
                    .last()
                    .unwrap()
                    .cost
                    .as_ref()
                    .unwrap()
                    .probability_alt_costs_less
            }
        };
        let words = share_of_runs(share, 6);
        let opening = &html[answer..html.find("<h2>The scenarios</h2>").unwrap()];
        assert!(opening.contains(&words), "{words} in {opening}");
        // Kinship is not a prevention lever: no caveat on early help.
        assert!(!turns_prevention_levers(&prepared[1]));
        assert!(!opening.contains("early-help effects"), "{opening}");
        let invest = Scenario::parse_with(
            &format!("{base}[parameters]\n\"extra prevention spend\" = 500\n"),
            "invest.toml",
            &crate::library(),
        )
        .unwrap()
        .prepare()
        .unwrap();
        assert!(turns_prevention_levers(&invest));
        // The base's sources once, although the alternative repeats them.
        assert_eq!(html.matches("<li>DfE</li>").count(), 1);
        // The evaluations the model cites, with their verdicts.
        assert!(html.contains("Does it reproduce the evaluations its policies rest on?"));
        assert!(html.contains("Supporting Families 2015-20"));
        // Every fitted series is charted, not only those with targets.
        for title in [
            "Child protection plans starting",
            "Ceasing to be looked after",
            "Second or subsequent plans",
            "Section 47 enquiries starting",
            "Initial child protection conferences",
        ] {
            assert!(html.contains(title), "{title}");
        }
        assert_eq!(
            crate::england::fitted_series().unwrap().len(),
            12,
            "models/england.calibrate.toml's [series]"
        );
        // Nothing outside the file: no scripts, stylesheets or images to fetch.
        for external in ["src=", "href=", "url(", "@import", "https://", "<script"] {
            assert!(!html.contains(external), "{external}");
        }
    }
}
