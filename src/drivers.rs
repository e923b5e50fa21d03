//! What drives an answer: Sobol sensitivity analyses of a report's headline
//! outputs over the scenarios' uncertain parameters, and the report's
//! "What drives this answer" section (bars with bootstrap intervals).
//!
//! For one scenario the outputs are its own; for a comparison they are each
//! alternative minus the base, run on the same design points (common
//! random numbers), so the section says what the *difference* depends on.

use crate::engine::error::Result;
use crate::engine::format::escape_markup as esc;
use crate::engine::scenario::Prepared;
use crate::engine::sensitivity::{self, Analysis, Bootstrap, Method, Settings};
use std::fmt::Write;

/// The headline outputs whose drivers a report shows, where a scenario has
/// them (the England profile's scalars): spend at present value and
/// children entering care.
pub const DRIVER_OUTPUTS: &[&str] = &["npv_m", "entered_care"];

/// The base samples a report's analyses use by default: `N (k + 2)` runs
/// per scenario, 3,584 for the England baseline's 12 parameters.
pub const DEFAULT_SAMPLES: usize = 256;

/// A factor counts as a driver in the opening sentence when its total
/// index is at least this.
const MAIN_DRIVER: f64 = 0.1;

/// A factor is shown with a bar when the upper end of its total index's
/// interval is at least this; the others are listed as having no
/// measurable effect.
const SHOWN: f64 = 0.005;

/// Runs the analyses a report shows: for one scenario, its own headline
/// outputs; for several, each alternative against the first. Scenarios
/// with nothing uncertain are left out. `progress` is called after each
/// run.
///
/// # Errors
///
/// As [`sensitivity::run`], except for scenarios with nothing uncertain.
pub fn analyse(
    prepared: &[Prepared],
    samples: usize,
    seed: u64,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<Analysis>> {
    let Some(base) = prepared.first() else {
        return Ok(Vec::new());
    };
    let pairs: Vec<(&Prepared, Option<&Prepared>)> = if prepared.len() == 1 {
        vec![(base, None)]
    } else {
        prepared[1..].iter().map(|p| (p, Some(base))).collect()
    };
    let mut analyses = Vec::new();
    for (scenario, against) in pairs {
        let mut scenarios = vec![scenario];
        scenarios.extend(against);
        let outputs = outputs_of(&scenarios);
        if outputs.is_empty() {
            continue;
        }
        let settings = Settings {
            method: Method::Sobol { samples },
            seed,
            bootstrap: Bootstrap {
                resamples: 500,
                confidence: 0.9,
                seed: seed ^ 0x9e37_79b9_7f4a_7c15,
            },
            outputs,
        };
        if sensitivity::runs_needed(scenario, against, settings.method) == 0 {
            continue;
        }
        analyses.push(sensitivity::run(scenario, against, &settings, progress)?);
    }
    Ok(analyses)
}

/// The headline outputs all the scenarios have, or the first scalar of the
/// first scenario if they share none of them.
fn outputs_of(scenarios: &[&Prepared]) -> Vec<String> {
    let has = |p: &Prepared, name: &str| p.scalar_names().iter().any(|s| s == name);
    let headline: Vec<String> = DRIVER_OUTPUTS
        .iter()
        .filter(|o| scenarios.iter().all(|p| has(p, o)))
        .map(|o| o.to_string())
        .collect();
    if !headline.is_empty() {
        return headline;
    }
    let first = scenarios[0].scalar_names();
    first
        .into_iter()
        .filter(|o| scenarios.iter().all(|p| has(p, o)))
        .take(1)
        .collect()
}

/// The parameters an answer depends on most, most influential first: those
/// whose total Sobol index for `output` is at least a tenth, in the analysis
/// of `scenario` (against `against`, for a comparison). `None` when no
/// analysis of it is given; empty when no single parameter explains a
/// tenth of the spread.
pub fn main_drivers(
    analyses: &[Analysis],
    scenario: &str,
    against: Option<&str>,
    output: &str,
) -> Option<Vec<String>> {
    let a = analyses
        .iter()
        .find(|a| a.scenario == scenario && a.against.as_deref() == against)?;
    let o = a.outputs.iter().find(|o| o.name == output)?;
    if !o.varies {
        return Some(Vec::new());
    }
    Some(
        o.ranked()
            .into_iter()
            .filter(|&i| o.sobol[i].total.value >= MAIN_DRIVER)
            .map(|i| a.factors[i].name.clone())
            .collect(),
    )
}

/// A reader's name for an output.
fn label(output: &str, paired: bool) -> String {
    match (output, paired) {
        ("npv_m", true) => "extra spend over the horizon, present value".into(),
        ("npv_m", false) => "spend over the horizon, present value".into(),
        ("entered_care", true) => "extra children entering care over the horizon".into(),
        ("entered_care", false) => "children entering care over the horizon".into(),
        (other, true) => format!("{other}, difference"),
        (other, false) => other.to_string(),
    }
}

/// The CSS the section needs, to add to the report's.
pub const STYLE: &str = ".drivers td{vertical-align:middle}.drivers td:nth-child(2),.drivers th:nth-child(2){text-align:left}.bar{position:relative;width:340px;height:16px;background:#f1f1f1}
.bar .st{position:absolute;left:0;top:0;height:100%;background:#a6c8e0}.bar .s1{position:absolute;left:0;top:4px;height:8px;background:#2b6a99}
.bar .ci{position:absolute;top:7px;height:2px;background:#111}.bar .ci:before,.bar .ci:after{content:'';position:absolute;top:-4px;width:1px;height:10px;background:#111}
.bar .ci:before{left:0}.bar .ci:after{right:0}.key span{display:inline-block;width:1.4em;height:.8em;margin:0 .3em 0 .8em;vertical-align:middle}";

/// A count with thousands separated by commas.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Per cent of the bar's width, clipped to it.
fn percent(x: f64) -> f64 {
    (100.0 * x).clamp(0.0, 100.0)
}

/// The section: per analysis and output, a sentence naming the main
/// drivers, then a bar per parameter (total-order index with its interval;
/// the first-order index inside it), most influential first.
pub fn section(analyses: &[Analysis]) -> String {
    let mut h = String::new();
    if analyses.is_empty() {
        return h;
    }
    h.push_str("<h2>What drives this answer</h2>\n");
    let a0 = &analyses[0];
    let _ = writeln!(
        h,
        "<p class=\"note\">Sobol sensitivity indices over the uncertain parameters: the <b>total index</b> (ST) is the share of the answer's spread across runs that would go if that parameter alone were known exactly (its interactions included); the <b>first-order index</b> (S1) is the share it explains by itself. A comparison is analysed as the paired difference, the same draws run in both scenarios. N = {} base samples ({} runs per scenario), {}; {:.0}% bootstrap intervals. <span class=\"key\"><span style=\"background:#a6c8e0\"></span>ST<span style=\"background:#2b6a99\"></span>S1<span style=\"height:2px;background:#111\"></span>interval of ST</span></p>",
        grouped(a0.samples),
        grouped(a0.runs),
        esc(&a0.design),
        100.0 * a0.bootstrap.confidence
    );
    for a in analyses {
        let paired = a.against.is_some();
        let title = match &a.against {
            Some(base) => format!("{} against {base}", a.scenario),
            None => a.scenario.clone(),
        };
        for o in &a.outputs {
            let _ = writeln!(
                h,
                "<h3>{}: {}</h3>",
                esc(&title),
                esc(&label(&o.name, paired))
            );
            if !o.varies || o.sobol.iter().all(|s| s.total.value.is_nan()) {
                h.push_str("<p>The same in every run: it depends on none of the uncertain parameters.</p>\n");
                continue;
            }
            let ranked = o.ranked();
            let main: Vec<String> = ranked
                .iter()
                .filter(|&&i| o.sobol[i].total.value >= MAIN_DRIVER)
                .map(|&i| {
                    let t = o.sobol[i].total;
                    format!(
                        "<b>{}</b> (ST {:.2}, {:.0}% interval {:.2} to {:.2})",
                        esc(&a.factors[i].name),
                        t.value,
                        100.0 * a.bootstrap.confidence,
                        t.low,
                        t.high
                    )
                })
                .collect();
            let sentence = match main.as_slice() {
                [] => "No single parameter explains a tenth of its spread; it comes from many together.".to_string(),
                [one] => format!("It depends most on {one}."),
                [first, rest @ ..] => format!("It depends most on {first}, then {}.", rest.join(", ")),
            };
            let _ = writeln!(h, "<p>{sentence}</p>");
            h.push_str("<table class=\"drivers\"><tr><th>parameter</th><th>share of the spread</th><th>ST (total)</th><th>S1 (alone)</th></tr>\n");
            let mut unmeasured = Vec::new();
            for &i in &ranked {
                let (first, total) = (o.sobol[i].first, o.sobol[i].total);
                if total.high.is_nan() || total.high < SHOWN {
                    unmeasured.push(esc(&a.factors[i].name));
                    continue;
                }
                let _ = writeln!(
                    h,
                    "<tr><td title=\"{}\">{}</td><td><div class=\"bar\"><div class=\"st\" style=\"width:{:.1}%\"></div><div class=\"s1\" style=\"width:{:.1}%\"></div><div class=\"ci\" style=\"left:{:.1}%;width:{:.1}%\"></div></div></td><td>{:.3} <span class=\"range\">[{:.3}, {:.3}]</span></td><td>{:.3}</td></tr>",
                    esc(&a.factors[i].distribution),
                    esc(&a.factors[i].name),
                    percent(total.value),
                    percent(first.value),
                    percent(total.low),
                    (percent(total.high) - percent(total.low)).max(0.3),
                    total.value,
                    total.low,
                    total.high,
                    first.value.max(0.0)
                );
            }
            h.push_str("</table>\n");
            if !unmeasured.is_empty() {
                let _ = writeln!(
                    h,
                    "<p class=\"note\">No measurable effect on this answer (ST below {SHOWN}): {}.</p>",
                    unmeasured.join(", ")
                );
            }
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::scenario::Scenario;

    /// A comparison's section names the parameter its difference depends
    /// on, draws its bar, and lists the parameters with no effect.
    #[test]
    fn the_section_names_what_the_difference_depends_on() {
        let library = crate::library();
        let text = |extra: &str| {
            format!(
                "[time]\nhorizon = 2\n[monte_carlo]\nruns = 4\n\
                 [uncertain.\"edge of care effect\"]\ndistribution = \"uniform\"\nmin = 0.1\nmax = 0.5\n\
                 [uncertain.\"uasc scale\"]\ndistribution = \"uniform\"\nmin = 0.4\nmax = 1.2\n{extra}"
            )
        };
        let base = Scenario::parse_with(&text(""), "base.toml", &library)
            .unwrap()
            .prepare()
            .unwrap();
        let alt = Scenario::parse_with(
            &text("[[policies]]\nparameter = \"edge of care spend\"\nkind = \"step\"\nstart = 2023.5\nvalue = 100\n"),
            "edge.toml",
            &library,
        )
        .unwrap()
        .prepare()
        .unwrap();
        let analyses = analyse(&[base, alt], 8, 1, &|| {}).unwrap();
        assert_eq!(analyses.len(), 1);
        assert_eq!(analyses[0].against.as_deref(), Some("base"));
        let html = section(&analyses);
        assert!(html.contains("<h2>What drives this answer</h2>"), "{html}");
        assert!(
            html.contains("edge against base: extra children entering care over the horizon"),
            "{html}"
        );
        assert!(
            html.contains("It depends most on <b>edge of care effect</b>"),
            "{html}"
        );
        assert!(html.contains("class=\"bar\""));
        assert!(section(&[]).is_empty());
        assert_eq!(
            main_drivers(&analyses, "edge", Some("base"), "entered_care"),
            Some(vec!["edge of care effect".to_string()])
        );
        assert_eq!(main_drivers(&analyses, "base", None, "entered_care"), None);
        assert_eq!(grouped(12_288), "12,288");
        assert_eq!(grouped(256), "256");
    }
}
