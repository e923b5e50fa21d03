//! A self-contained HTML report of an ensemble (what `carecascade report`
//! writes): each scenario's question and assumptions, key figures with
//! intervals, fan charts, paired differences, the break-even year, the
//! model against the published past, and the sources of the parameters.
//! Charts are inline SVG; the file needs nothing else.

use super::Stats;
use super::report::{Comparison, Ensemble, Outcome};
use crate::chart::{
    Fan, Format, fan_chart, model_vs_observed, money_m, share_histogram, thousands,
};
use crate::error::Result;
use crate::scenario::{Effect, PolicyShape, Prepared};
use std::fmt::Write;

const BANDS: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// A row of the key figures: label, scalar index, number format.
type Row = (&'static str, usize, fn(f64) -> String);

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn svg(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_default()
}

/// A fan of one indicator of one scenario.
fn fan(e: &Ensemble, indicator: &str) -> Option<Fan> {
    let i = e.indicators.iter().position(|x| x == indicator)?;
    let points = e
        .years
        .iter()
        .enumerate()
        .filter_map(|(y, year)| {
            let s = Stats::of(e.runs.iter().map(|r| r.values[i][y]), &BANDS);
            (s.n > 0).then(|| {
                let q = &s.quantiles;
                (f64::from(*year), [q[0], q[1], q[2], q[3], q[4]])
            })
        })
        .collect::<Vec<_>>();
    (!points.is_empty()).then(|| Fan {
        label: e.scenario.clone(),
        points,
    })
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

fn describe_policy(p: &crate::scenario::Policy) -> String {
    let what = match &p.shape {
        PolicyShape::Step { start, end, value } => {
            let until = if *end < 1e8 {
                format!(" until {end}")
            } else {
                String::new()
            };
            format!("{value} from {start}{until}")
        }
        PolicyShape::Ramp {
            start,
            years,
            value,
            ..
        } => format!("rising to {value} over {years} years from {start}"),
        PolicyShape::Pulse {
            start,
            years,
            value,
        } => format!("{value} for {years} years from {start}"),
        PolicyShape::Series { points } => format!(
            "the series {}",
            points
                .iter()
                .map(|(x, y)| format!("{x}: {y}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    match p.effect {
        Effect::Add => format!("<b>{}</b>: plus {what}", esc(&p.parameter)),
        Effect::Multiply => format!("<b>{}</b>: times (1 + {what})", esc(&p.parameter)),
    }
}

fn describe_distribution(d: &crate::scenario::Distribution) -> String {
    use crate::scenario::distribution::Shape;
    let shape = match d.shape {
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
    };
    match (d.lower, d.upper) {
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
.question{font-size:1.1em;font-style:italic}.note{color:#555;font-size:.9em}figure{margin:1.5em 0}svg{max-width:100%;height:auto}
ul.assumptions li{margin:.2em 0}";

/// Builds the report. `prepared` are the scenarios in the outcome's order
/// (for their assumptions and the sources of their parameters).
///
/// # Errors
///
/// A chart that cannot be drawn; the validation run's errors.
pub fn report(outcome: &Outcome, prepared: &[Prepared]) -> Result<String> {
    let mut h = String::new();
    let names: Vec<&str> = outcome
        .ensembles
        .iter()
        .map(|e| e.scenario.as_str())
        .collect();
    let first = &outcome.ensembles[0];
    let (y0, y1) = (first.years[0], first.years[first.years.len() - 1]);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&names.join(" vs "))
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
    let _ = writeln!(
        h,
        "<p class=\"note\">England's children's social care, 31 March {y0} to 31 March {y1}. {} Monte Carlo runs per scenario ({} sampling, seed {}); every scenario is run on the same draws of the uncertain parameters it shares with the others, so differences are paired run by run. Figures are medians with the 5th to 95th percentile range in brackets; money is £ at 2022-23 prices. Made by carecascade {}.</p>",
        outcome.total_runs,
        outcome.sampling.replace('_', " "),
        outcome.seed,
        esc(&outcome.version)
    );

    // Questions and assumptions.
    h.push_str("<h2>The scenarios</h2>\n");
    for (e, p) in outcome.ensembles.iter().zip(prepared) {
        let s = &p.scenario;
        let _ = writeln!(h, "<h3>{}</h3>", esc(&e.scenario));
        if !e.question.is_empty() {
            let _ = writeln!(h, "<p class=\"question\">{}</p>", esc(&e.question));
        }
        h.push_str("<ul class=\"assumptions\">");
        for (name, value) in &s.parameters {
            let base = name.split('[').next().unwrap_or(name).trim();
            let units = p
                .model
                .variable(base)
                .or_else(|| p.model.variable(&format!("{base} before policies")))
                .and_then(|v| v.units_text())
                .map_or(String::new(), |u| format!(" {u}"));
            let _ = write!(h, "<li><b>{}</b> = {value}{}</li>", esc(name), esc(&units));
        }
        for policy in &s.policies {
            let _ = write!(h, "<li>{}</li>", describe_policy(policy));
        }
        if s.parameters.is_empty() && s.policies.is_empty() {
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
    let scalar_rows: [Row; 4] = [
        ("Spend, cash", 0, money_m),
        ("Spend, present value (3.5%)", 1, money_m),
        ("Children entering care", 2, thousands),
        ("Highest caseload", 3, thousands),
    ];
    for (label, k, f) in scalar_rows {
        let _ = write!(h, "<tr><td>{label}</td>");
        for e in &outcome.ensembles {
            let s = Stats::of(e.runs.iter().map(|r| r.scalars()[k]), &BANDS);
            let _ = write!(h, "<td>{}</td>", interval(&s, &f));
        }
        h.push_str("</tr>\n");
    }
    for (indicator, label) in [
        ("cla_at_31_march", "Children looked after"),
        ("cpp_at_31_march", "Children on a protection plan"),
        ("cin_at_31_march", "Children in need"),
        ("spend_total_m", "Spend in the year"),
    ] {
        let _ = write!(h, "<tr><td>{label}, {y1}</td>");
        for e in &outcome.ensembles {
            match e.indicators.iter().position(|x| x == indicator) {
                Some(i) => {
                    let last = e.years.len() - 1;
                    let s = Stats::of(e.runs.iter().map(|r| r.values[i][last]), &BANDS);
                    let f: fn(f64) -> String = if indicator.ends_with("_m") {
                        money_m
                    } else {
                        thousands
                    };
                    let _ = write!(h, "<td>{}</td>", interval(&s, &f));
                }
                None => h.push_str("<td>-</td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");

    let comparisons: Vec<Comparison> = outcome
        .ensembles
        .iter()
        .skip(1)
        .map(|alt| super::report::compare(first, alt, &BANDS))
        .collect();
    if !comparisons.is_empty() {
        let _ = writeln!(
            h,
            "<h3>Against {}, run by run</h3>\n<table><tr><th>by 31 March {y1}</th><th>extra spend, cash</th><th>extra spend, present value</th><th>entries to care avoided</th><th>chance of costing less</th><th>breaks even within {} years</th></tr>",
            esc(&first.scenario),
            y1 - y0
        );
        for c in &comparisons {
            let Some(last) = c.by_year.last() else {
                continue;
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td><td>{:.0}%</td></tr>",
                esc(&c.alternative),
                interval(&last.cumulative_cash_m, &money_m),
                interval(&last.cumulative_npv_m, &money_m),
                interval(&last.care_entries_avoided, &thousands),
                100.0 * last.probability_alt_costs_less,
                100.0 * (1.0 - c.never_breaks_even)
            );
        }
        h.push_str("</table>\n<p class=\"note\">Negative extra spend is a saving. Breaking even means the alternative's cumulative spend falls below the base's and stays below to the horizon.</p>\n");
    }

    // Fan charts.
    h.push_str("<h2>Over time</h2>\n");
    for (indicator, title, unit, money) in [
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
            "cases",
            false,
        ),
        (
            "early_help_children",
            "Children in early help",
            "children",
            false,
        ),
    ] {
        let fans: Vec<Fan> = outcome
            .ensembles
            .iter()
            .filter_map(|e| fan(e, indicator))
            .collect();
        if fans.is_empty() {
            continue;
        }
        let chart = svg(fan_chart(Format::Svg, title, unit, &fans, money, false)?);
        let _ = writeln!(h, "<figure>{chart}</figure>");
    }
    h.push_str("<p class=\"note\">Dark bands hold the middle half of the runs, light bands 90%; the line is the median.</p>\n");

    // Differences.
    for c in &comparisons {
        let _ = writeln!(h, "<h2>{} minus {}</h2>", esc(&c.alternative), esc(&c.base));
        let diff_fan = |f: &dyn Fn(&super::report::YearComparison) -> &Stats, label: &str| Fan {
            label: label.to_string(),
            points: std::iter::once((f64::from(y0), [0.0; 5]))
                .chain(c.by_year.iter().map(|y| {
                    let q = &f(y).quantiles;
                    (f64::from(y.year), [q[0], q[1], q[2], q[3], q[4]])
                }))
                .collect(),
        };
        let cash = diff_fan(
            &|y| &y.cumulative_npv_m,
            "cumulative extra spend, present value",
        );
        let chart = svg(fan_chart(
            Format::Svg,
            "Cumulative extra spend (present value)",
            "£",
            &[cash],
            true,
            true,
        )?);
        let _ = writeln!(h, "<figure>{chart}</figure>");
        let care = diff_fan(&|y| &y.care_entries_avoided, "entries to care avoided");
        let chart = svg(fan_chart(
            Format::Svg,
            "Children entering care avoided, cumulative",
            "children",
            &[care],
            false,
            true,
        )?);
        let _ = writeln!(h, "<figure>{chart}</figure>");
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

    // The past.
    h.push_str("<h2>How well the model fits the past</h2>\n");
    let observed = crate::care::data::Observed::england()?;
    let validation =
        crate::care::validate::validate(&crate::care::england(), &observed, None, None)?;
    h.push_str("<p>The calibrated model run from the published stocks of 31 March 2013, against what DfE published (mean absolute percentage error over 2014-2023):</p><table><tr><th>series</th><th>error</th></tr>");
    for s in validation.series.iter().filter(|s| s.target.is_some()) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:.1}%</td></tr>",
            esc(&s.title),
            s.mape.unwrap_or(f64::NAN)
        );
    }
    h.push_str("</table>\n");
    for column in ["cla_at_31_march", "referrals"] {
        if let Some(s) = validation.series.iter().find(|s| s.column == column) {
            let chart = model_vs_observed(&s.title, &s.line, &s.dots, false)?;
            let _ = writeln!(h, "<figure>{chart}</figure>");
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
            let doc = p.model.variable(base).map_or("", |v| v.doc());
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
                esc(name),
                esc(&describe_distribution(d)),
                esc(doc)
            );
        }
    }
    h.push_str("</table>\n");
    let mut sources: Vec<&String> = prepared
        .iter()
        .flat_map(|p| p.scenario.sources.iter())
        .collect();
    sources.dedup();
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

fn break_even_bars(c: &Comparison) -> Vec<(String, f64)> {
    let mut bars: Vec<(String, f64)> = c
        .break_even
        .iter()
        .map(|(y, p)| (y.to_string(), *p))
        .collect();
    bars.push(("later".into(), c.never_breaks_even));
    bars
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    #[test]
    fn the_report_is_one_self_contained_page() {
        let base = "[scenario]\nname = \"base\"\nquestion = \"What if nothing changes?\"\nsources = [\"DfE\"]\n[time]\nhorizon = 3\n[monte_carlo]\nruns = 6\n[uncertain.\"detection fraction\"]\ndistribution = \"uniform\"\nmin = 0\nmax = 0.08\n";
        let alt = format!("{base}[parameters]\n\"kinship shift\" = 0.2\n")
            .replace("name = \"base\"", "name = \"kin\"");
        let prepared = vec![
            Scenario::parse(base, "base.toml")
                .unwrap()
                .prepare()
                .unwrap(),
            Scenario::parse(&alt, "kin.toml")
                .unwrap()
                .prepare()
                .unwrap(),
        ];
        let outcome =
            super::super::report::run_scenarios(&prepared, "compare", None, &|| {}).unwrap();
        let html = report(&outcome, &prepared).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
        assert!(html.contains("What if nothing changes?"));
        assert!(html.contains("<b>kinship shift</b> = 0.2"));
        assert!(html.contains("Break-even year") && html.contains("<svg"));
        assert!(html.contains("uniform 0 to 0.08"));
        // Nothing outside the file: no scripts, stylesheets or images to fetch.
        for external in ["src=", "href=", "url(", "@import", "https://", "<script"] {
            assert!(!html.contains(external), "{external}");
        }
    }
}
