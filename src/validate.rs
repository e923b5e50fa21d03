//! Validation: the model against every published series it produces, as
//! a Markdown report with charts (what `carecascade validate` writes to
//! `docs/validation.md`).
//!
//! For each series: the mean absolute percentage error (MAPE) over the
//! reporting years after the start (2014-2023 when starting from 2013) and,
//! when a calibration spec is given, the error on held-out years of a
//! calibration that did not see them (fitted to 2020, scored on 2021-2023).
//! The workforce, published at 30 September, is compared with the model on
//! that date.

use crate::Program;
use crate::calibrate::{CalibrationSpec, calibrate, mape};
use crate::data::Observed;
use crate::engine::chart::{Format, model_vs_observed_as, thousands};
use crate::engine::error::Result;
use crate::engine::model::Model;
use crate::engine::projection::{Measure, Projection};
use crate::project::{INDICATORS, project_state};
use std::fmt::Write;

/// The targets: at most this MAPE (percent) over 2014-2023.
pub const TARGETS: &[(&str, f64)] = &[
    ("cin_at_31_march", 5.0),
    ("cpp_at_31_march", 5.0),
    ("cla_at_31_march", 5.0),
    ("referrals", 8.0),
    ("cpp_started", 8.0),
    ("cla_started", 8.0),
    ("cla_ceased", 8.0),
];

/// The reporting year of the RO3 outturn the England model's spend is
/// checked against (2022-23, the year to 31 March 2023).
pub const OUTTURN_YEAR: i32 = 2023;

/// Workforce series (30 September) and the model variable for each.
const WORKFORCE: &[(&str, &str, &str)] = &[
    (
        "inpost_fte",
        "social workers",
        "Social workers in post (FTE)",
    ),
    (
        "agency_fte",
        "agency workers",
        "Agency social workers (FTE)",
    ),
    ("vacancy_fte", "vacancies", "Vacancies (FTE)"),
    (
        "caseload_fte",
        "caseload",
        "Caseload per case-holding social worker",
    ),
];

/// How one published series compares with the model.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesCheck {
    /// The published column.
    pub column: String,
    /// What the model's column means.
    pub meaning: String,
    /// MAPE (percent) over the validation years.
    pub mape: Option<f64>,
    /// MAPE on the held-out years of a calibration that did not see them.
    pub holdout_mape: Option<f64>,
    /// The target MAPE, if the issue sets one.
    pub target: Option<f64>,
    /// (year, model, published) for every year with both.
    pub points: Vec<(i32, f64, f64)>,
    /// The chart's model line (time, value).
    pub line: Vec<(f64, f64)>,
    /// The chart's published points (time, value).
    pub dots: Vec<(f64, f64)>,
    /// The chart's title.
    pub title: String,
}

/// The validation of a model.
#[derive(Debug, Clone)]
pub struct Validation {
    /// The first year (the model starts from its stocks).
    pub from: i32,
    /// The last year compared.
    pub to: i32,
    /// The last year the held-out calibration saw, if one was run.
    pub holdout_to: Option<i32>,
    /// Every published series the model produces.
    pub series: Vec<SeriesCheck>,
    /// Published columns the model does not produce.
    pub missing: Vec<String>,
    /// A 10-year projection from the last observed year.
    pub baseline: Projection,
    /// The England model's spend in 2022-23 against the RO3 outturn, by
    /// line (empty for other models, or when the run does not reach
    /// 2023).
    pub outturn: Vec<crate::outturn::OutturnCheck>,
    /// The published unit costs in 2022-23 prices beside the England
    /// model's (empty for other models).
    pub costs: Vec<crate::outturn::CostCheck>,
}

/// Validates `model` against the national series and the workforce.
/// With `spec`, also calibrates on the years before the last three and
/// scores the held-out years.
///
/// # Errors
///
/// The model's compile and run errors; the calibration's errors.
pub fn validate(
    model: &Model,
    observed: &Observed,
    workforce: Option<&Observed>,
    spec: Option<&CalibrationSpec>,
) -> Result<Validation> {
    // From the calibration's first year, or the model's own start when it
    // starts on a 31 March (2013 for the England model, the starting year
    // of a local authority's model).
    let start = model.time().start() - 0.25;
    let own_start = (start.fract() == 0.0).then_some(start as i32);
    let from = spec.map_or(own_start.unwrap_or(2013), |s| crate::calibrate::years(s).0);
    let to = observed.years().iter().copied().max().unwrap_or(from + 1);
    let program = Program::compile(model)?;
    let mut state = program.state();
    let projection = project_state(&mut state, from, (to - from) as usize)?;
    let years: Vec<i32> = (from + 1..=to).collect();

    // A calibration that does not see the last three years.
    let holdout_to = spec.map(|_| to - 3);
    let holdout = match spec {
        Some(spec) => {
            let mut held = spec.clone();
            held.to = Some(f64::from(to - 3));
            let fit = calibrate(model, observed, &held)?;
            let mut state = program.state();
            for (name, value) in &fit.values {
                state.set(name, *value)?;
            }
            Some(project_state(&mut state, from, (to - from) as usize)?)
        }
        None => None,
    };
    let held_years: Vec<i32> = (to - 2..=to).collect();

    let mut series = Vec::new();
    let mut missing = Vec::new();
    for column in observed.names() {
        if column == "population_0_17" {
            continue; // an input, not an output
        }
        if !projection.columns().iter().any(|c| c == column) {
            missing.push(column.clone());
            continue;
        }
        let published = observed.series(column)?;
        let model_column = projection.column(column).unwrap_or(&[]);
        let mut points = Vec::new();
        for (row, year) in crate::project::years(&projection).iter().enumerate() {
            if let (Some(m), Some(o)) = (model_column[row], published.get(*year)) {
                points.push((*year, m, o));
            }
        }
        let line: Vec<(f64, f64)> = projection
            .labels()
            .iter()
            .zip(model_column)
            .filter_map(|(y, v)| v.map(|v| (*y, v)))
            .collect();
        let dots: Vec<(f64, f64)> = published
            .observed()
            .map(|(y, v)| (f64::from(y), v))
            .collect();
        let meaning = INDICATORS
            .iter()
            .find(|i| i.column == column)
            .map_or(String::new(), |i| {
                let when = match i.measure {
                    Measure::Level => "at 31 March",
                    Measure::Sum => "in the year to 31 March",
                };
                format!("{}; {when}", i.doc.trim_end_matches('.'))
            });
        series.push(SeriesCheck {
            column: column.clone(),
            title: title(column),
            line,
            dots,
            meaning,
            mape: mape(&projection, column, observed, &years),
            holdout_mape: holdout
                .as_ref()
                .and_then(|p| mape(p, column, observed, &held_years)),
            target: TARGETS.iter().find(|(c, _)| c == column).map(|(_, t)| *t),
            points,
        });
    }
    if let Some(workforce) = workforce {
        // The workforce is counted at 30 September: compare the model then.
        let mut state = program.state();
        let time = state.time().with_start(f64::from(from) + 0.25)?;
        let time = time.with_stop(f64::from(to) + 0.25)?;
        state.set_time(time);
        let results = state.run()?;
        for (column, variable, label) in WORKFORCE {
            let Ok(published) = workforce.series(column) else {
                continue;
            };
            let at = |y: i32| results.value_at(variable, f64::from(y) + 0.75);
            let points: Vec<(i32, f64, f64)> = published
                .observed()
                .filter_map(|(y, o)| at(y).map(|m| (y, m, o)))
                .collect();
            if points.is_empty() {
                continue;
            }
            let line: Vec<(f64, f64)> = results
                .times()
                .iter()
                .zip(results.series(variable).into_iter().flatten())
                .map(|(t, v)| (*t, *v))
                .collect();
            let dots: Vec<(f64, f64)> = points
                .iter()
                .map(|(y, _, o)| (f64::from(*y) + 0.75, *o))
                .collect();
            let error = points
                .iter()
                .map(|(_, m, o)| ((m - o) / o).abs())
                .sum::<f64>()
                / points.len() as f64;
            series.push(SeriesCheck {
                column: (*column).to_string(),
                meaning: format!("{label} at 30 September (data/workforce.csv)"),
                mape: Some(100.0 * error),
                holdout_mape: None,
                target: None,
                title: format!("{label} ({})", unit(column)),
                line,
                dots,
                points,
            });
        }
    }
    let mut state = program.state();
    let baseline = project_state(&mut state, to, 10)?;
    // Money is checked for the England model only: the outturn is
    // England's, and the 2022-23 year must be inside the run.
    let england = model.name() == crate::ENGLAND_NAME && (from..=to).contains(&OUTTURN_YEAR);
    let (outturn, costs) = if england {
        (
            crate::outturn::against_outturn(&projection, OUTTURN_YEAR)?,
            crate::outturn::costs(model, &crate::outturn::Deflators::shipped())?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Validation {
        from,
        to,
        holdout_to,
        series,
        missing,
        baseline,
        outturn,
        costs,
    })
}

/// The unit a published column counts in, for chart titles.
fn unit(column: &str) -> &'static str {
    match column {
        "referrals" | "rereferrals_12m" | "referrals_nfa" => "referrals a year",
        "referrals_not_in_need" | "assessments" => "assessments a year",
        "cin_started" | "cin_ended" => "episodes a year",
        "cpp_started" | "cpp_second_or_subsequent" | "cpp_ended" => "plans a year",
        "s47_enquiries" => "enquiries a year",
        "icpcs" => "conferences a year",
        "cla_started" | "cla_started_uasc" | "cla_ceased" => "children a year",
        "inpost_fte" | "agency_fte" | "vacancy_fte" => "full-time equivalents",
        "caseload_fte" => "cases per case-holding social worker",
        _ => "children",
    }
}

/// A chart title for a published column, with its unit.
fn title(column: &str) -> String {
    format!("{} ({})", plain_title(column), unit(column))
}

/// A chart title for a published column.
fn plain_title(column: &str) -> String {
    let t = match column {
        "referrals" => "Referrals in the year",
        "rereferrals_12m" => "Re-referrals within 12 months",
        "referrals_nfa" => "Referrals with no further action",
        "referrals_not_in_need" => "Assessed as not in need",
        "assessments" => "Assessments completed",
        "cin_started" => "Episodes of need starting",
        "cin_ended" => "Episodes of need ending",
        "cin_at_31_march" => "Children in need at 31 March",
        "cin_awaiting_assessment" => "Awaiting assessment at 31 March",
        "s47_enquiries" => "Section 47 enquiries starting",
        "icpcs" => "Initial child protection conferences",
        "cpp_started" => "Child protection plans starting",
        "cpp_second_or_subsequent" => "Second or subsequent plans",
        "cpp_ended" => "Child protection plans ending",
        "cpp_at_31_march" => "On a child protection plan at 31 March",
        "cla_started" => "Starting to be looked after",
        "cla_started_uasc" => "UASC starting to be looked after",
        "cla_ceased" => "Ceasing to be looked after",
        "cla_at_31_march" => "Looked after at 31 March",
        other => other,
    };
    t.to_string()
}

impl SeriesCheck {
    /// The chart of model against published figures.
    ///
    /// # Errors
    ///
    /// As [`crate::engine::chart::model_vs_observed`].
    pub fn chart(&self, format: Format) -> Result<Vec<u8>> {
        model_vs_observed_as(format, &self.title, &self.line, &self.dots, false)
    }
}

impl Validation {
    /// The report as Markdown; charts are referenced as
    /// `{chart_dir}/{column}.{extension}`.
    pub fn to_markdown(&self, chart_dir: &str, extension: &str, command: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Validation of the England model\n");
        let _ = writeln!(
            out,
            "Generated by `{command}` (carecascade {}); do not edit by hand. The model starts from the published stocks at 31 March {} and runs to 31 March {}; each series is compared over the reporting years {}-{} (stocks at 31 March, flows over the year to 31 March). MAPE is the mean absolute percentage error.\n",
            env!("CARGO_PKG_VERSION"),
            self.from,
            self.to,
            self.from + 1,
            self.to
        );
        out.push_str("## Targets\n\n| series | MAPE | target | met |\n|---|---:|---:|---|\n");
        for s in self.series.iter().filter(|s| s.target.is_some()) {
            let (m, t) = (s.mape.unwrap_or(f64::NAN), s.target.unwrap_or(f64::NAN));
            let _ = writeln!(
                out,
                "| `{}` | {:.1}% | {:.0}% | {} |",
                s.column,
                m,
                t,
                if m <= t { "yes" } else { "**no**" }
            );
        }
        out.push_str("\n## Every published series\n\n");
        if let Some(h) = self.holdout_to {
            let _ = writeln!(
                out,
                "*Held out* is the error on {}-{} of a calibration fitted only to {}-{} (the same spec, shorter), projected from {}: an out-of-sample check.\n",
                h + 1,
                self.to,
                self.from + 1,
                h,
                self.from
            );
        }
        out.push_str("| series | MAPE | held out | years | what the model counts |\n|---|---:|---:|---:|---|\n");
        for s in &self.series {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                s.column,
                s.mape.map_or("-".into(), |m| format!("{m:.1}%")),
                s.holdout_mape.map_or("-".into(), |m| format!("{m:.1}%")),
                s.points.len(),
                s.meaning
            );
        }
        if !self.missing.is_empty() {
            let _ = writeln!(
                out,
                "\nPublished but not modelled: {}. The model goes from referral to a plan without representing section 47 enquiries and conferences as steps, so it does not count them.",
                self.missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        out.push_str("\n## Baseline projection\n\n");
        let b = &self.baseline;
        let years = crate::project::years(b);
        let _ = writeln!(
            out,
            "Ten years from 31 March {} with the calibrated values and prevention spend held at its 2022-23 level:\n",
            self.to
        );
        out.push_str("| indicator | ");
        for y in &years {
            let _ = write!(out, "{y} | ");
        }
        out.push_str("\n|---|");
        for _ in &years {
            out.push_str("---:|");
        }
        out.push('\n');
        for column in [
            "referrals",
            "cin_at_31_march",
            "cpp_at_31_march",
            "cla_at_31_march",
            "cla_started",
            "caseload",
            "social_worker_fte",
            "spend_early_help_m",
            "spend_safeguarding_m",
            "spend_looked_after_m",
            "spend_total_m",
        ] {
            let Some(values) = b.column(column) else {
                continue;
            };
            let _ = write!(out, "| `{column}` | ");
            for v in values {
                let _ = write!(out, "{} | ", v.map_or("".into(), thousands));
            }
            out.push('\n');
        }
        let lowest = b
            .columns()
            .iter()
            .flat_map(|c| b.column(c).into_iter().flatten().flatten())
            .fold(f64::INFINITY, |a, &v| a.min(v));
        let caseloads: Vec<f64> = b
            .column("caseload")
            .into_iter()
            .flatten()
            .flatten()
            .copied()
            .collect();
        let (lo, hi) = caseloads
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let _ = writeln!(
            out,
            "\nSmallest value of any indicator: {}; caseload between {lo:.1} and {hi:.1}.",
            thousands(lowest),
        );
        if !self.outturn.is_empty() {
            out.push_str("\n## Spend against outturn\n\n");
            out.push_str(&crate::outturn::to_markdown(
                &self.outturn,
                &self.costs,
                OUTTURN_YEAR,
            ));
        }
        out.push_str("\n## Charts\n\nThe model (line) against the published figures (dots).\n\n");
        for s in &self.series {
            let _ = writeln!(
                out,
                "![{}]({chart_dir}/{}.{extension})\n",
                s.column, s.column
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_england_model_is_validated_against_every_series_it_produces() {
        let observed = Observed::england().unwrap();
        let workforce = Observed::england_workforce().unwrap();
        let v = validate(&crate::england(), &observed, Some(&workforce), None).unwrap();
        let columns: Vec<&str> = v.series.iter().map(|s| s.column.as_str()).collect();
        for c in [
            "referrals",
            "cla_at_31_march",
            "cpp_second_or_subsequent",
            "inpost_fte",
            "caseload_fte",
            "s47_enquiries",
            "icpcs",
        ] {
            assert!(columns.contains(&c), "{c} in {columns:?}");
        }
        assert!(
            v.missing.is_empty(),
            "published but not modelled: {:?}",
            v.missing
        );
        let report = v.to_markdown("validation", "svg", "carecascade validate");
        assert!(report.contains("| `cla_at_31_march` |"), "{report}");
        assert!(report.contains("![referrals](validation/referrals.svg)"));
        let cla = v
            .series
            .iter()
            .find(|s| s.column == "cla_at_31_march")
            .unwrap();
        assert_eq!(cla.points.len(), 11);
        let svg = String::from_utf8(cla.chart(Format::Svg).unwrap()).unwrap();
        assert!(
            svg.contains("Looked after at 31 March (children)"),
            "the unit is in the title"
        );
        assert!(cla.chart(Format::Png).unwrap().starts_with(b"\x89PNG"));
    }

    /// The England model's money reproduces what councils spent in
    /// 2022-23, line by line (issue: within 3%), and says how it maps.
    #[test]
    fn the_england_model_spends_what_councils_spent_line_by_line() {
        let observed = Observed::england().unwrap();
        let v = validate(&crate::england(), &observed, None, None).unwrap();
        assert_eq!(v.outturn.len(), crate::outturn::RO3_2022_23.len());
        for c in &v.outturn {
            assert!(
                c.difference().abs() <= crate::outturn::TOLERANCE,
                "{}: model £{:.0}m against outturn £{:.0}m",
                c.line.line,
                c.model_m,
                c.line.outturn_m
            );
        }
        // The lines of children looked after add up to its total: nothing
        // is counted twice or left out.
        let get = |column: &str| {
            v.outturn
                .iter()
                .find(|c| c.line.column == column)
                .unwrap()
                .model_m
        };
        let parts = get("spend_residential_m")
            + get("spend_fostering_m")
            + get("spend_other_looked_after_m");
        assert!((parts - get("spend_looked_after_m")).abs() < 1e-6 * parts);
        // The published costs are shown in 2022-23 prices beside the model.
        assert_eq!(v.costs.len(), crate::outturn::PUBLISHED_COSTS.len());
        let report = v.to_markdown("validation", "svg", "carecascade validate");
        assert!(report.contains("## Spend against outturn"), "{report}");
        assert!(
            report.contains("| fostering services | £1,830m |"),
            "{report}"
        );
        // Another model has no outturn to meet.
        let other = crate::england().with_name("not england", "");
        let v = validate(&other, &observed, None, None).unwrap();
        assert!(v.outturn.is_empty() && v.costs.is_empty());
        assert!(
            !v.to_markdown("v", "svg", "c")
                .contains("Spend against outturn")
        );
    }
}
