//! Projections by reporting year: what `carecascade project` writes.
//!
//! DfE statistics describe reporting years ending 31 March: stocks are
//! counted on 31 March and flows over the year before it. In the England
//! model the time is the calendar year, so reporting year `Y` ends at
//! `Y + 0.25`: [`reporting_years`] is the engine's [`Periods`] of one year
//! with an offset of a quarter. A projection from year `Y0` starts the model
//! at `Y0 + 0.25` (from that 31 March's published stocks) and has one row
//! per reporting year: the first row (`Y0`) holds the starting stocks, and
//! each later row the stocks at its 31 March and the flows summed over its
//! year.
//!
//! Columns are named as in `data/england_national.csv` where the quantity
//! is published there ([`INDICATORS`] lists each one and the model variable
//! behind it), followed by the model's own indicators. A model without one
//! of the variables simply lacks that column, so any model with the same
//! names can be projected.

use crate::engine::projection::{Indicator, Measure, Periods};
pub use crate::engine::projection::{Projection, Projector};
use crate::engine::{Model, Program, Result, Results, State};

/// One column of a projection and the model variable behind it.
#[derive(Debug, Clone, Copy)]
pub struct DfeIndicator {
    /// The column name (DfE's, where DfE publishes the quantity).
    pub column: &'static str,
    /// The model variable; an arrayed variable is summed over its elements.
    pub variable: &'static str,
    /// Counted on 31 March ([`Measure::Level`]) or summed over the year
    /// ([`Measure::Sum`]).
    pub measure: Measure,
    /// With `true`, one column per element of an arrayed variable, named
    /// `column_element` (the element in snake case) instead of the sum.
    pub per_element: bool,
    /// What the column means, and how it differs from DfE's definition.
    pub doc: &'static str,
}

impl DfeIndicator {
    /// The engine's indicator.
    pub fn to_indicator(&self) -> Indicator {
        let indicator = Indicator::new(self.column, self.variable, self.measure).doc(self.doc);
        if self.per_element {
            indicator.per_element()
        } else {
            indicator
        }
    }
}

const fn indicator(
    column: &'static str,
    variable: &'static str,
    measure: Measure,
    doc: &'static str,
) -> DfeIndicator {
    DfeIndicator {
        column,
        variable,
        measure,
        per_element: false,
        doc,
    }
}

const fn per_element(
    column: &'static str,
    variable: &'static str,
    measure: Measure,
    doc: &'static str,
) -> DfeIndicator {
    DfeIndicator {
        column,
        variable,
        measure,
        per_element: true,
        doc,
    }
}

/// The columns of a projection, in order: first those named as in
/// `data/england_national.csv`, then the model's own.
pub const INDICATORS: &[DfeIndicator] = &[
    indicator(
        "population_0_17",
        "population 0 to 17",
        Measure::Level,
        "Children aged 0-17 (ONS, held after 2023).",
    ),
    indicator(
        "referrals",
        "referrals",
        Measure::Sum,
        "Referrals in the year, including those that lead to second plans.",
    ),
    indicator(
        "rereferrals_12m",
        "rereferrals in year",
        Measure::Sum,
        "Referrals within 12 months of a closed case, and second plans.",
    ),
    indicator(
        "referrals_nfa",
        "referrals nfa",
        Measure::Sum,
        "Referrals closed with no further action.",
    ),
    indicator(
        "referrals_not_in_need",
        "found not in need",
        Measure::Sum,
        "Assessments finding the child not in need.",
    ),
    indicator(
        "assessments",
        "assessments",
        Measure::Sum,
        "Referrals assessed (DfE also counts re-assessments of open cases, so publishes more).",
    ),
    indicator(
        "cin_started",
        "children found in need",
        Measure::Sum,
        "Assessments finding a child in need (DfE counts episodes of need from referral).",
    ),
    indicator(
        "cin_ended",
        "cin ended",
        Measure::Sum,
        "Cases of need closing: child in need, plans and care ending, and turning 18.",
    ),
    indicator(
        "cin_at_31_march",
        "children in need dfe",
        Measure::Level,
        "Children in need in DfE's definition: open child in need cases, under a section 47 enquiry, on plans, looked after and awaiting assessment.",
    ),
    indicator(
        "cin_awaiting_assessment",
        "awaiting assessment",
        Measure::Level,
        "Referred children whose assessment is under way.",
    ),
    indicator(
        "s47_enquiries",
        "s47 enquiries started",
        Measure::Sum,
        "Section 47 enquiries starting: from referrals, child in need cases and children closed after a plan.",
    ),
    indicator(
        "icpcs",
        "initial conferences",
        Measure::Sum,
        "Initial child protection conferences (every plan starts from one).",
    ),
    indicator(
        "cpp_started",
        "cp starts",
        Measure::Sum,
        "Child protection plans starting.",
    ),
    indicator(
        "cpp_second_or_subsequent",
        "repeat plans",
        Measure::Sum,
        "Plans starting that are a second or later plan.",
    ),
    indicator(
        "cpp_ended",
        "cp ended",
        Measure::Sum,
        "Child protection plans ending.",
    ),
    indicator(
        "cpp_at_31_march",
        "child protection",
        Measure::Level,
        "Children on a child protection plan.",
    ),
    indicator(
        "cla_started",
        "cla starts",
        Measure::Sum,
        "Children starting to be looked after.",
    ),
    indicator(
        "cla_started_uasc",
        "uasc entries",
        Measure::Sum,
        "Unaccompanied asylum-seeking children among them (an input series).",
    ),
    indicator(
        "cla_ceased",
        "cla ceased",
        Measure::Sum,
        "Children ceasing to be looked after, including at 18.",
    ),
    indicator(
        "cla_at_31_march",
        "looked after",
        Measure::Level,
        "Children looked after.",
    ),
    // The model's own indicators.
    indicator(
        "child_in_need_open",
        "child in need",
        Measure::Level,
        "Open child in need cases other than plans and care.",
    ),
    indicator(
        "unmet_need",
        "unmet need",
        Measure::Level,
        "Children with emerging needs and no help (not observed).",
    ),
    indicator(
        "early_help_children",
        "early help",
        Measure::Level,
        "Children in families receiving early help.",
    ),
    indicator(
        "early_help_families",
        "families in early help",
        Measure::Level,
        "Families receiving early help.",
    ),
    indicator(
        "cin_families",
        "families in need",
        Measure::Level,
        "Families with an open child in need case (children / children per family).",
    ),
    indicator(
        "cpp_families",
        "families on a protection plan",
        Measure::Level,
        "Families with children on a child protection plan (children / children per family).",
    ),
    indicator(
        "early_help_capacity",
        "early help capacity",
        Measure::Level,
        "Early help places in operation.",
    ),
    indicator(
        "early_help_starts",
        "early help starts",
        Measure::Sum,
        "Children starting early help from unmet need.",
    ),
    indicator(
        "care_leavers",
        "care leavers",
        Measure::Level,
        "Care leavers aged 18-21 receiving support.",
    ),
    indicator(
        "social_worker_fte",
        "social workers",
        Measure::Level,
        "Employed child and family social workers (FTE).",
    ),
    indicator(
        "agency_fte",
        "agency workers",
        Measure::Level,
        "Agency social workers (FTE).",
    ),
    indicator(
        "vacancy_fte",
        "vacancies",
        Measure::Level,
        "Vacant funded posts (FTE).",
    ),
    indicator(
        "caseload",
        "caseload",
        Measure::Level,
        "Cases per case-holding social worker.",
    ),
    per_element(
        "cla",
        "cla by age",
        Measure::Level,
        "Children looked after by age band.",
    ),
    per_element(
        "cla",
        "cla by placement",
        Measure::Level,
        "Children looked after by placement.",
    ),
    per_element(
        "cla_started",
        "entries to care",
        Measure::Sum,
        "Entries to care by age band.",
    ),
    per_element(
        "cla_started",
        "care entries by placement",
        Measure::Sum,
        "Entries to care by first placement.",
    ),
    indicator(
        "spend_early_help_m",
        "spend early help",
        Measure::Sum,
        "Early help / prevention spend, £m (2022-23 prices).",
    ),
    indicator(
        "spend_safeguarding_m",
        "spend safeguarding",
        Measure::Sum,
        "Social workers (employed and agency) and services for children in need and on plans, £m.",
    ),
    indicator(
        "spend_looked_after_m",
        "spend looked after",
        Measure::Sum,
        "Children looked after as RO3 counts them: placements, other services and leaving-care support, £m.",
    ),
    indicator(
        "spend_residential_m",
        "spend residential",
        Measure::Sum,
        "Residential care (children's homes and secure; RO3 'residential care'), £m.",
    ),
    indicator(
        "spend_fostering_m",
        "spend fostering",
        Measure::Sum,
        "Fostering services (kinship, in-house, agency; RO3 'fostering services'), £m.",
    ),
    indicator(
        "spend_other_looked_after_m",
        "spend other looked after",
        Measure::Sum,
        "Other spend on children looked after: supported accommodation, other placements, other services and leaving-care support (RO3 'other' and UASC lines), £m.",
    ),
    per_element(
        "spend",
        "spend placements",
        Measure::Sum,
        "Placement spend by type, £m.",
    ),
    indicator(
        "spend_care_leavers_m",
        "spend care leavers",
        Measure::Sum,
        "Leaving-care support (part of the looked-after spend), £m.",
    ),
    indicator(
        "spend_total_m",
        "total spend",
        Measure::Sum,
        "Early help, safeguarding and children looked after (leaving care included), £m.",
    ),
    indicator(
        "spend_total_discounted_m",
        "discounted total spend",
        Measure::Sum,
        "Total spend discounted at 3.5% a year to the start of the projection, £m.",
    ),
];

/// The engine's indicators of [`INDICATORS`].
pub fn indicators() -> Vec<Indicator> {
    INDICATORS.iter().map(DfeIndicator::to_indicator).collect()
}

/// The periods of a projection over `years` reporting years ending 31 March
/// from `from`: labelled by year, each ending at `year + 0.25`.
///
/// # Errors
///
/// [`crate::Error::Invalid`] if `years` is 0.
pub fn reporting_years(from: i32, years: usize) -> Result<Periods> {
    Periods::new(f64::from(from), years)?.with_offset(0.25)
}

/// A program's [`INDICATORS`] resolved to its outputs once, so that many
/// runs are projected with no string work and without storing every step.
/// A program without one of the variables simply lacks that column.
///
/// ```
/// use carecascade::project::{projector, reporting_years};
///
/// let program = carecascade::Program::compile(&carecascade::england())?;
/// let projector = projector(&program);
/// let mut state = program.state();
/// for spend in [0.0, 250.0, 500.0] {
///     state.set("extra prevention spend", spend)?;
///     let p = projector.project(&mut state, &reporting_years(2023, 3)?)?;
///     assert!(p.get("cla_at_31_march", 2026).unwrap() > 80_000.0);
/// }
/// # Ok::<(), carecascade::Error>(())
/// ```
pub fn projector(program: &Program) -> Projector {
    Projector::new_lenient(program, &indicators()).0
}

/// Checks that `model` has starting data for 31 March `from` (see
/// [`Model::start_data`]: the England model's `observed ...` lookups hold
/// the published stocks of 31 March 2013 to 2023).
///
/// # Errors
///
/// [`crate::Error::Invalid`] naming the reporting years it can start from.
pub fn check_from(model: &Model, from: i32) -> Result<()> {
    let start = f64::from(from) + 0.25;
    let Some(data) = model.start_data() else {
        return Ok(());
    };
    if data.covers(start) {
        return Ok(());
    }
    let years = if data.from > data.to {
        "no year: the points of those lookups do not overlap".to_string()
    } else {
        let first = (data.from - 0.25).ceil();
        let last = (data.to - 0.25).floor();
        format!("31 March {first} to {last} (start from {first} to {last})")
    };
    Err(crate::Error::Invalid {
        what: format!("start year {from}"),
        message: format!(
            "model `{}` has starting stocks (its lookups on INITIAL TIME: {}) only for {years}; from 31 March {from} it would start from another year's figures",
            model.name(),
            data.describe_lookups()
        ),
    })
}

/// Projects a model by reporting year; see the module docs.
///
/// # Errors
///
/// [`crate::Error::Invalid`] if `years` is 0, the model has no starting
/// data for `from` ([`check_from`]) or the model's step does not divide a
/// year; otherwise the model's compile and run errors.
pub fn project(model: &Model, from: i32, years: usize) -> Result<Projection> {
    check_from(model, from)?;
    let program = Program::compile(model)?;
    let mut state = program.state();
    project_state(&mut state, from, years)
}

/// Projects with a prepared [`State`] (constants already set), so that
/// calibration and ensembles compile once and run many times. To project
/// many runs of one program, build a [`projector`] once instead.
///
/// # Errors
///
/// As [`project`].
pub fn project_state(state: &mut State, from: i32, years: usize) -> Result<Projection> {
    projector(state.program()).project(state, &reporting_years(from, years)?)
}

/// [`project_state`], also returning the run's results at every step (for
/// measures the yearly rows do not show, such as a peak within a year).
///
/// # Errors
///
/// As [`project`].
pub fn project_with_results(
    state: &mut State,
    from: i32,
    years: usize,
) -> Result<(Projection, Results)> {
    let periods = reporting_years(from, years)?;
    let (time, _) = periods.time_settings(state.time())?;
    state.set_time(time);
    let results = state.run()?;
    let projection = projector(state.program()).project_results(&results, &periods)?;
    Ok((projection, results))
}

/// The reporting years of a projection, as years.
pub fn years(projection: &Projection) -> Vec<i32> {
    projection
        .labels()
        .iter()
        .map(|y| y.round() as i32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::format::native;

    #[test]
    fn flows_are_summed_over_the_reporting_year_and_stocks_taken_on_31_march() {
        // A stock filled at 1200 a year, and a flow that changes within the year.
        let model = native::parse(
            r#"
[time]
start = 2013.25
stop = 2014.25
dt = "1/12"
[stocks."looked after"]
initial = 100
inflows = ["inflow"]
[flows.inflow]
equation = "1200"
[auxiliaries."cla starts"]
equation = "IF TIME < 2015.25 THEN 12 ELSE 24"
"#,
            None,
        )
        .unwrap();
        let p = project(&model, 2013, 3).unwrap();
        assert_eq!(years(&p), [2013, 2014, 2015, 2016]);
        let cla = p.column("cla_at_31_march").unwrap();
        for (k, v) in cla.iter().enumerate() {
            let expected = 100.0 + 1200.0 * k as f64;
            assert!((v.unwrap() - expected).abs() < 1e-6, "{k}: {v:?}");
        }
        let starts = p.column("cla_started").unwrap();
        assert_eq!(starts[0], None);
        // Year 2015 is April 2014 - March 2015: all at 12 a year; 2016 at 24.
        assert!((starts[2].unwrap() - 12.0).abs() < 1e-9);
        assert!((starts[3].unwrap() - 24.0).abs() < 1e-9);
        assert!(
            p.to_csv("year")
                .starts_with("year,cla_started,cla_at_31_march\n2013,,100\n")
        );
        let err = project(&model, 2013, 0).unwrap_err().to_string();
        assert!(err.contains("at least one period"), "{err}");
    }

    /// Summing as the run goes gives exactly what summing the stored
    /// results gives, and a projector refuses another model's runs.
    #[test]
    fn streaming_projection_equals_projection_of_stored_results() {
        let program = Program::compile(&crate::england()).unwrap();
        let projector = projector(&program);
        let mut state = program.state();
        state.set("extra prevention spend", 300.0).unwrap();
        let caseload = program.output_index("caseload").unwrap();
        let mut peak = f64::NEG_INFINITY;
        let streamed = projector
            .project_observing(
                &mut state,
                &reporting_years(2023, 4).unwrap(),
                &mut |_, row| peak = peak.max(row[caseload]),
            )
            .unwrap();
        let (stored, results) = project_with_results(&mut state, 2023, 4).unwrap();
        assert_eq!(streamed, stored);
        assert_eq!(stored.columns(), projector.columns());
        let series = results.series("caseload").unwrap();
        assert_eq!(
            peak,
            series.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        );
        // Flows are summed over each year's 52 weekly steps.
        let starts: f64 = results.series("cla starts").unwrap().iter().take(52).sum();
        let dt = results.time_settings().dt();
        assert_eq!(stored.get("cla_started", 2024), Some(starts * dt));

        let other = Program::compile(&crate::builtin("england").unwrap()).unwrap();
        // The same model compiled twice is the same model.
        let periods = reporting_years(2023, 1).unwrap();
        assert!(projector.project(&mut other.state(), &periods).is_ok());
        let toy = native::parse(
            "[time]\nstart = 2013.25\nstop = 2014.25\ndt = 0.25\n[stocks.\"looked after\"]\ninitial = 1\n",
            None,
        )
        .unwrap();
        let toy = Program::compile(&toy).unwrap();
        let err = projector
            .project(&mut toy.state(), &reporting_years(2013, 1).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("another model"), "{err}");
    }
}
