//! Projections by reporting year: what `carecascade project` writes.
//!
//! DfE statistics describe reporting years ending 31 March: stocks are
//! counted on 31 March and flows over the year before it. In the England
//! model the time is the calendar year, so reporting year `Y` ends at
//! `Y + 0.25`. A projection from year `Y0` starts the model at `Y0 + 0.25`
//! (from that 31 March's published stocks) and has one row per reporting
//! year: the first row (`Y0`) holds the starting stocks, and each later row
//! the stocks at its 31 March and the flows summed over its year.
//!
//! Columns are named as in `data/england_national.csv` where the quantity
//! is published there ([`INDICATORS`] lists each one and the model variable
//! behind it), followed by the model's own indicators. A model without one
//! of the variables simply lacks that column, so any model with the same
//! names can be projected.

use crate::Program;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::sim::{Batch, BatchRow, LaneError, Results, State};

/// Whether an indicator is counted on 31 March or summed over the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// The value at 31 March.
    Stock,
    /// The rate summed over the reporting year (a count per year).
    Flow,
}

/// One column of a projection and the model variable behind it.
#[derive(Debug, Clone, Copy)]
pub struct Indicator {
    /// The column name (DfE's, where DfE publishes the quantity).
    pub column: &'static str,
    /// The model variable; an arrayed variable is summed over its elements.
    pub variable: &'static str,
    /// Counted on 31 March or summed over the year.
    pub measure: Measure,
    /// With `true`, one column per element of an arrayed variable, named
    /// `column_element` (the element in snake case) instead of the sum.
    pub per_element: bool,
    /// What the column means, and how it differs from DfE's definition.
    pub doc: &'static str,
}

const fn indicator(
    column: &'static str,
    variable: &'static str,
    measure: Measure,
    doc: &'static str,
) -> Indicator {
    Indicator {
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
) -> Indicator {
    Indicator {
        column,
        variable,
        measure,
        per_element: true,
        doc,
    }
}

use Measure::{Flow, Stock};

/// The columns of a projection, in order: first those named as in
/// `data/england_national.csv`, then the model's own.
pub const INDICATORS: &[Indicator] = &[
    indicator(
        "population_0_17",
        "population 0 to 17",
        Stock,
        "Children aged 0-17 (ONS, held after 2023).",
    ),
    indicator(
        "referrals",
        "referrals",
        Flow,
        "Referrals in the year, including those that lead to second plans.",
    ),
    indicator(
        "rereferrals_12m",
        "rereferrals in year",
        Flow,
        "Referrals within 12 months of a closed case, and second plans.",
    ),
    indicator(
        "referrals_nfa",
        "referrals nfa",
        Flow,
        "Referrals closed with no further action.",
    ),
    indicator(
        "referrals_not_in_need",
        "found not in need",
        Flow,
        "Assessments finding the child not in need.",
    ),
    indicator(
        "assessments",
        "assessments",
        Flow,
        "Referrals assessed (DfE also counts re-assessments of open cases, so publishes more).",
    ),
    indicator(
        "cin_started",
        "children found in need",
        Flow,
        "Assessments finding a child in need (DfE counts episodes of need from referral).",
    ),
    indicator(
        "cin_ended",
        "cin ended",
        Flow,
        "Cases of need closing: child in need, plans and care ending, and turning 18.",
    ),
    indicator(
        "cin_at_31_march",
        "children in need dfe",
        Stock,
        "Children in need in DfE's definition: open child in need cases, plans, looked after and awaiting assessment.",
    ),
    indicator(
        "cin_awaiting_assessment",
        "awaiting assessment",
        Stock,
        "Referred children whose assessment is under way.",
    ),
    indicator(
        "cpp_started",
        "cp starts",
        Flow,
        "Child protection plans starting.",
    ),
    indicator(
        "cpp_second_or_subsequent",
        "repeat plans",
        Flow,
        "Plans starting that are a second or later plan.",
    ),
    indicator(
        "cpp_ended",
        "cp ended",
        Flow,
        "Child protection plans ending.",
    ),
    indicator(
        "cpp_at_31_march",
        "child protection",
        Stock,
        "Children on a child protection plan.",
    ),
    indicator(
        "cla_started",
        "cla starts",
        Flow,
        "Children starting to be looked after.",
    ),
    indicator(
        "cla_started_uasc",
        "uasc entries",
        Flow,
        "Unaccompanied asylum-seeking children among them (an input series).",
    ),
    indicator(
        "cla_ceased",
        "cla ceased",
        Flow,
        "Children ceasing to be looked after, including at 18.",
    ),
    indicator(
        "cla_at_31_march",
        "looked after",
        Stock,
        "Children looked after.",
    ),
    // The model's own indicators.
    indicator(
        "child_in_need_open",
        "child in need",
        Stock,
        "Open child in need cases other than plans and care.",
    ),
    indicator(
        "unmet_need",
        "unmet need",
        Stock,
        "Children with emerging needs and no help (not observed).",
    ),
    indicator(
        "early_help_children",
        "early help",
        Stock,
        "Children in families receiving early help.",
    ),
    indicator(
        "early_help_families",
        "families in early help",
        Stock,
        "Families receiving early help.",
    ),
    indicator(
        "cin_families",
        "families in need",
        Stock,
        "Families with an open child in need case (children / children per family).",
    ),
    indicator(
        "cpp_families",
        "families on a protection plan",
        Stock,
        "Families with children on a child protection plan (children / children per family).",
    ),
    indicator(
        "early_help_capacity",
        "early help capacity",
        Stock,
        "Early help places in operation.",
    ),
    indicator(
        "early_help_starts",
        "early help starts",
        Flow,
        "Children starting early help from unmet need.",
    ),
    indicator(
        "care_leavers",
        "care leavers",
        Stock,
        "Care leavers aged 18-21 receiving support.",
    ),
    indicator(
        "social_worker_fte",
        "social workers",
        Stock,
        "Employed child and family social workers (FTE).",
    ),
    indicator(
        "agency_fte",
        "agency workers",
        Stock,
        "Agency social workers (FTE).",
    ),
    indicator(
        "vacancy_fte",
        "vacancies",
        Stock,
        "Vacant funded posts (FTE).",
    ),
    indicator(
        "caseload",
        "caseload",
        Stock,
        "Cases per case-holding social worker.",
    ),
    per_element(
        "cla",
        "cla by age",
        Stock,
        "Children looked after by age band.",
    ),
    per_element(
        "cla",
        "cla by placement",
        Stock,
        "Children looked after by placement.",
    ),
    per_element(
        "cla_started",
        "entries to care",
        Flow,
        "Entries to care by age band.",
    ),
    per_element(
        "cla_started",
        "care entries by placement",
        Flow,
        "Entries to care by first placement.",
    ),
    indicator(
        "spend_early_help_m",
        "spend early help",
        Flow,
        "Early help / prevention spend, £m (2022-23 prices).",
    ),
    indicator(
        "spend_safeguarding_m",
        "spend safeguarding",
        Flow,
        "Social workers (employed and agency) and services for children in need and on plans, £m.",
    ),
    indicator(
        "spend_looked_after_m",
        "spend looked after",
        Flow,
        "Children looked after: placements and other costs, £m.",
    ),
    per_element(
        "spend",
        "spend placements",
        Flow,
        "Placement spend by type, £m.",
    ),
    indicator(
        "spend_care_leavers_m",
        "spend care leavers",
        Flow,
        "Leaving-care support, £m.",
    ),
    indicator(
        "spend_total_m",
        "total spend",
        Flow,
        "All of the above, £m.",
    ),
    indicator(
        "spend_total_discounted_m",
        "discounted total spend",
        Flow,
        "Total spend discounted at 3.5% a year to the start of the projection, £m.",
    ),
];

/// A projection: one row per reporting year ending 31 March.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    years: Vec<i32>,
    columns: Vec<String>,
    /// `values[column][row]`; flows are `None` in the first row.
    values: Vec<Vec<Option<f64>>>,
}

impl Projection {
    /// The reporting years (each ending 31 March), first the starting year.
    pub fn years(&self) -> &[i32] {
        &self.years
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// One column by name: a value per year (`None` for a flow in the
    /// starting year).
    pub fn column(&self, name: &str) -> Option<&[Option<f64>]> {
        let i = self.columns.iter().position(|c| c == name)?;
        Some(&self.values[i])
    }

    /// The value of a column in a year.
    pub fn get(&self, name: &str, year: i32) -> Option<f64> {
        let row = self.years.iter().position(|&y| y == year)?;
        self.column(name)?[row]
    }

    /// The projection as CSV: a `year` column, then one per indicator; an
    /// empty cell where there is no value.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("year");
        for c in &self.columns {
            out.push(',');
            out.push_str(c);
        }
        out.push('\n');
        for (row, year) in self.years.iter().enumerate() {
            out.push_str(&year.to_string());
            for column in &self.values {
                out.push(',');
                if let Some(v) = column[row] {
                    out.push_str(&format_value(v));
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Counts to the nearest 0.01, other values to 6 significant figures.
fn format_value(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{:.2}", v)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        let s = format!("{:.6}", v);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Snake case for an element name in a column name: `age 0 to 4` →
/// `age_0_to_4`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// Projects a model by reporting year; see the module docs.
///
/// # Errors
///
/// [`Error::Invalid`] if `years` is 0 or the model's step does not divide a
/// year; otherwise the model's compile and run errors.
pub fn project(model: &Model, from: i32, years: usize) -> Result<Projection> {
    let program = Program::compile(model)?;
    let mut state = program.state();
    project_state(&mut state, from, years)
}

/// Projects with a prepared [`State`] (constants already set), so that
/// calibration and ensembles compile once and run many times. To project
/// many runs of one program, build a [`Projector`] once instead.
///
/// # Errors
///
/// As [`project`].
pub fn project_state(state: &mut State, from: i32, years: usize) -> Result<Projection> {
    Projector::new(state.program()).project(state, from, years)
}

/// [`project_state`], also returning the run's results at every step (for
/// measures the yearly rows do not show, such as a peak within a year).
/// [`Projector::project_observing`] does the same without storing every
/// step.
///
/// # Errors
///
/// As [`project`].
pub fn project_with_results(
    state: &mut State,
    from: i32,
    years: usize,
) -> Result<(Projection, Results)> {
    let (time, per_year) = projection_time(state.time(), from, years)?;
    state.set_time(time);
    let results = state.run()?;
    let projector = Projector::new(state.program());
    let dt = state.time().dt();
    let mut years_so_far = Years::new(&projector, years, per_year, dt);
    for row in results.values().rows() {
        years_so_far.push(|i| row[i]);
    }
    Ok((years_so_far.finish(from), results))
}

/// The time settings that run `years` reporting years from 31 March of
/// `from` with the step and method of `current`, saving every step; and
/// the steps per year.
fn projection_time(
    current: &crate::model::TimeSettings,
    from: i32,
    years: usize,
) -> Result<(crate::model::TimeSettings, usize)> {
    if years == 0 {
        return Err(Error::Invalid {
            what: "--years".into(),
            message: "a projection needs at least one year".into(),
        });
    }
    let dt = current.dt();
    let per_year = (1.0 / dt).round();
    if per_year < 1.0 || ((1.0 / dt) - per_year).abs() > 1e-6 * per_year {
        return Err(Error::Invalid {
            what: "time step".into(),
            message: format!(
                "a projection by reporting year needs a step that divides a year (1/52, 1/12, 1/4, ...), not {dt}"
            ),
        });
    }
    let start = f64::from(from) + 0.25;
    let time = crate::model::TimeSettings::new(start, start + years as f64, dt)
        .and_then(|t| t.with_save_interval(dt))?
        .with_method(current.method());
    Ok((time, per_year as usize))
}

/// A program's [`INDICATORS`] resolved to its outputs once, so that many
/// runs are projected with no string work and without storing every step:
/// each step's outputs are added into the reporting years as the run goes.
///
/// ```
/// use carecascade::care::{self, project::Projector};
///
/// let program = carecascade::Program::compile(&care::england())?;
/// let projector = Projector::new(&program);
/// let mut state = program.state();
/// for spend in [0.0, 250.0, 500.0] {
///     state.set("extra prevention spend", spend)?;
///     let p = projector.project(&mut state, 2023, 3)?;
///     assert!(p.get("cla_at_31_march", 2026).unwrap() > 80_000.0);
/// }
/// # Ok::<(), carecascade::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Projector {
    /// The outputs the columns were resolved against.
    outputs: std::sync::Arc<crate::sim::Columns>,
    columns: Vec<String>,
    /// Per column: the outputs summed into it, and how.
    parts: Vec<(Vec<usize>, Measure)>,
}

impl Projector {
    /// Resolves the indicators against a program's outputs. A program
    /// without one of the variables simply lacks that column.
    pub fn new(program: &Program) -> Projector {
        let names = program.output_names();
        let mut columns = Vec::new();
        let mut parts = Vec::new();
        let mut add = |name: String, indices: Vec<usize>, measure: Measure| {
            if !indices.is_empty() {
                columns.push(name);
                parts.push((indices, measure));
            }
        };
        for ind in INDICATORS {
            if let Some(i) = names.iter().position(|n| n == ind.variable) {
                add(ind.column.to_string(), vec![i], ind.measure);
                continue;
            }
            let prefix = format!("{}[", ind.variable);
            let elements: Vec<(usize, &str)> = names
                .iter()
                .enumerate()
                .filter_map(|(i, n)| {
                    n.strip_prefix(&prefix)
                        .and_then(|rest| rest.strip_suffix(']'))
                        .map(|e| (i, e))
                })
                .collect();
            if ind.per_element {
                for (i, element) in elements {
                    add(
                        format!("{}_{}", ind.column, snake(element)),
                        vec![i],
                        ind.measure,
                    );
                }
            } else {
                add(
                    ind.column.to_string(),
                    elements.into_iter().map(|(i, _)| i).collect(),
                    ind.measure,
                );
            }
        }
        Projector {
            outputs: program.columns().clone(),
            columns,
            parts,
        }
    }

    /// The columns every projection has, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Runs `state` for `years` reporting years from 31 March of `from`
    /// (setting its time, keeping its step and method) and returns the
    /// projection.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if `years` is 0, the step does not divide a year,
    /// or the state runs a program with other outputs than this projector's;
    /// otherwise the run's errors.
    pub fn project(&self, state: &mut State, from: i32, years: usize) -> Result<Projection> {
        self.project_observing(state, from, years, &mut |_, _| {})
    }

    /// [`Projector::project`], also handing every step's outputs to
    /// `observe(time, row)` as [`State::run_observing`] does (for measures
    /// the yearly rows do not show, such as a peak within a year).
    ///
    /// # Errors
    ///
    /// As [`Projector::project`].
    pub fn project_observing(
        &self,
        state: &mut State,
        from: i32,
        years: usize,
        observe: &mut impl FnMut(f64, &[f64]),
    ) -> Result<Projection> {
        self.check_program(state.program())?;
        let (time, per_year) = projection_time(state.time(), from, years)?;
        state.set_time(time);
        let mut years_so_far = Years::new(self, years, per_year, time.dt());
        state.run_observing(&mut |t, row| {
            years_so_far.push(|i| row[i]);
            observe(t, row);
        })?;
        Ok(years_so_far.finish(from))
    }

    /// [`Projector::project_observing`] for the `L` runs of a [`Batch`]:
    /// one projection per lane, each exactly what the run on its own gives.
    ///
    /// # Errors
    ///
    /// As [`Projector::project`]; a run's failure as a [`LaneError`] naming
    /// its lane.
    pub fn project_batch<const L: usize>(
        &self,
        batch: &mut Batch<L>,
        from: i32,
        years: usize,
        observe: &mut impl FnMut(f64, BatchRow<'_, L>),
    ) -> std::result::Result<[Projection; L], LaneError> {
        let in_lane_0 = |error| LaneError { lane: 0, error };
        self.check_program(batch.program()).map_err(in_lane_0)?;
        let (time, per_year) = projection_time(batch.time(), from, years).map_err(in_lane_0)?;
        batch.set_time(time);
        let mut lanes: [Years; L] =
            std::array::from_fn(|_| Years::new(self, years, per_year, time.dt()));
        batch.run_observing(&mut |t, row| {
            for (lane, years_so_far) in lanes.iter_mut().enumerate() {
                years_so_far.push(|i| row.get(i, lane));
            }
            observe(t, row);
        })?;
        Ok(lanes.map(|years_so_far| years_so_far.finish(from)))
    }

    /// Refuses a program with other outputs than the one this projector
    /// was built for.
    fn check_program(&self, program: &Program) -> Result<()> {
        let outputs = program.columns();
        if std::sync::Arc::ptr_eq(outputs, &self.outputs) || outputs == &self.outputs {
            Ok(())
        } else {
            Err(Error::Invalid {
                what: "projection".into(),
                message: format!(
                    "this projector was built for another model than `{}`",
                    program.name()
                ),
            })
        }
    }
}

/// Reporting years filled step by step: stocks taken at each 31 March,
/// flows summed over the steps of each year.
struct Years<'a> {
    projector: &'a Projector,
    years: usize,
    per_year: usize,
    dt: f64,
    /// The step the next row belongs to.
    step: usize,
    /// `values[column][year]`.
    values: Vec<Vec<Option<f64>>>,
    /// The flows summed so far in the current year, per column.
    running: Vec<f64>,
}

impl<'a> Years<'a> {
    fn new(projector: &'a Projector, years: usize, per_year: usize, dt: f64) -> Years<'a> {
        let n = projector.columns.len();
        Years {
            projector,
            years,
            per_year,
            dt,
            step: 0,
            values: vec![vec![None; years + 1]; n],
            running: vec![0.0; n],
        }
    }

    /// Adds the outputs of the next step, `output(i)` being output `i`.
    #[inline]
    fn push(&mut self, output: impl Fn(usize) -> f64) {
        let step = self.step;
        self.step += 1;
        let (year, within) = (step / self.per_year, step % self.per_year);
        let last = within + 1 == self.per_year;
        for (c, (indices, measure)) in self.projector.parts.iter().enumerate() {
            let sum = || indices.iter().map(|&i| output(i)).sum::<f64>();
            match measure {
                Measure::Stock if within == 0 && year <= self.years => {
                    self.values[c][year] = Some(sum());
                }
                Measure::Flow if year < self.years => {
                    self.running[c] += sum();
                    if last {
                        self.values[c][year + 1] = Some(self.running[c] * self.dt);
                        self.running[c] = 0.0;
                    }
                }
                _ => {}
            }
        }
    }

    fn finish(self, from: i32) -> Projection {
        Projection {
            years: (0..=self.years as i32).map(|y| from + y).collect(),
            columns: self.projector.columns.clone(),
            values: self.values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_names_become_snake_case() {
        assert_eq!(snake("age 0 to 4"), "age_0_to_4");
        assert_eq!(snake("in house foster"), "in_house_foster");
        assert_eq!(snake("a,b"), "a_b");
    }

    #[test]
    fn flows_are_summed_over_the_reporting_year_and_stocks_taken_on_31_march() {
        // A stock filled at 1200 a year, and a flow that changes within the year.
        let model = crate::format::native::parse(
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
        assert_eq!(p.years(), [2013, 2014, 2015, 2016]);
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
            p.to_csv()
                .starts_with("year,cla_started,cla_at_31_march\n2013,,100\n")
        );
        let err = project(&model, 2013, 0).unwrap_err().to_string();
        assert!(err.contains("at least one year"), "{err}");
    }

    /// Summing as the run goes gives exactly what summing the stored
    /// results gives, and a projector refuses another model's runs.
    #[test]
    fn streaming_projection_equals_projection_of_stored_results() {
        let program = Program::compile(&crate::care::england()).unwrap();
        let projector = Projector::new(&program);
        let mut state = program.state();
        state.set("extra prevention spend", 300.0).unwrap();
        let caseload = program.output_index("caseload").unwrap();
        let mut peak = f64::NEG_INFINITY;
        let streamed = projector
            .project_observing(&mut state, 2023, 4, &mut |_, row| {
                peak = peak.max(row[caseload])
            })
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

        let other = Program::compile(&crate::care::builtin("england").unwrap()).unwrap();
        // The same model compiled twice is the same model.
        assert!(projector.project(&mut other.state(), 2023, 1).is_ok());
        let toy = crate::format::native::parse(
            "[time]\nstart = 2013.25\nstop = 2014.25\ndt = 0.25\n[stocks.\"looked after\"]\ninitial = 1\n",
            None,
        )
        .unwrap();
        let toy = Program::compile(&toy).unwrap();
        let err = projector
            .project(&mut toy.state(), 2013, 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("another model"), "{err}");
    }
}
