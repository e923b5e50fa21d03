//! Projections by period: a run summarised as one row per period (a year, a
//! quarter, a week of model time), as published statistics are.
//!
//! A [`Periods`] definition says where the periods fall in model time; an
//! [`Indicator`] says which model variable fills a column and how: its
//! value at the end of each period ([`Measure::Level`], for stocks such as
//! "children looked after at 31 March") or its integral over the period
//! ([`Measure::Sum`], for flows such as "entries to care in the year"). A
//! [`Projector`] resolves a list of indicators against a compiled program
//! once, then projects any number of runs without storing their steps: each
//! step's outputs are added into the periods as the run goes.
//!
//! The first row of a projection holds the starting levels (sums have no
//! value there); each later row the level at its period's end and the sums
//! over its period.
//!
//! ```
//! use carecascade_engine::projection::{Indicator, Periods, Projector};
//! use carecascade_engine::{Program, format::native};
//!
//! let model = native::parse(r#"
//!     [time]
//!     start = 0
//!     stop = 10
//!     dt = 0.25
//!     [stocks.cases]
//!     initial = 100
//!     inflows = ["arrivals"]
//!     [flows.arrivals]
//!     equation = "20"
//! "#, None)?;
//! let program = Program::compile(&model)?;
//! let projector = Projector::new(&program, &[
//!     Indicator::level("cases", "cases"),
//!     Indicator::sum("arrivals_in_period", "arrivals"),
//! ])?;
//! let periods = Periods::new(0.0, 3)?; // periods ending at 1, 2 and 3
//! let p = projector.project(&mut program.state(), &periods)?;
//! assert_eq!(p.get("cases", 3), Some(160.0));
//! assert_eq!(p.get("arrivals_in_period", 2), Some(20.0));
//! assert_eq!(p.get("arrivals_in_period", 0), None);
//! # Ok::<(), carecascade_engine::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::model::TimeSettings;
use crate::name::{closest, did_you_mean};
use crate::sim::{Batch, BatchRow, Columns, LaneError, Results, State};
use crate::{Program, VariableKind};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How an indicator summarises a variable over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// The value at the end of the period (a stock counted on a date).
    Level,
    /// The integral over the period: the sum over its steps of value x dt
    /// (a flow counted over the period).
    Sum,
}

impl Measure {
    /// The measure a variable of this kind is usually reported with: flows
    /// are summed over the period, everything else is taken at its end.
    pub fn natural(kind: &VariableKind) -> Measure {
        match kind {
            VariableKind::Flow { .. } => Measure::Sum,
            _ => Measure::Level,
        }
    }

    /// `level` or `sum`.
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Level => "level",
            Measure::Sum => "sum",
        }
    }
}

impl std::fmt::Display for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One column of a projection and the model variable behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Indicator {
    /// The column name.
    pub column: String,
    /// The model variable; an arrayed variable is summed over its elements
    /// (or split into one column per element with `per_element`).
    pub variable: String,
    /// Taken at the period's end or summed over it.
    pub measure: Measure,
    /// With `true`, one column per element of an arrayed variable, named
    /// `column_element` (the element in snake case), instead of the sum.
    pub per_element: bool,
    /// What the column means.
    pub doc: String,
}

impl Indicator {
    /// A column holding `variable`'s value at the end of each period.
    pub fn level(column: impl Into<String>, variable: impl Into<String>) -> Indicator {
        Indicator::new(column, variable, Measure::Level)
    }

    /// A column holding `variable` integrated over each period.
    pub fn sum(column: impl Into<String>, variable: impl Into<String>) -> Indicator {
        Indicator::new(column, variable, Measure::Sum)
    }

    /// A column with the given measure.
    pub fn new(
        column: impl Into<String>,
        variable: impl Into<String>,
        measure: Measure,
    ) -> Indicator {
        Indicator {
            column: column.into(),
            variable: variable.into(),
            measure,
            per_element: false,
            doc: String::new(),
        }
    }

    /// One column per element of an arrayed variable.
    pub fn per_element(mut self) -> Indicator {
        self.per_element = true;
        self
    }

    /// Documents the column.
    pub fn doc(mut self, doc: impl Into<String>) -> Indicator {
        self.doc = doc.into();
        self
    }
}

/// Where the periods of a projection fall in model time.
///
/// Period `k` (0 to `count`) is labelled `start + k * length` and ends at
/// model time `start + offset + k * length`; row 0 holds the starting
/// levels. With `offset` a calendar model can label periods by the year
/// they end in: reporting years ending 31 March in a model whose time is the
/// calendar year have `offset = 0.25`, so period 2024 ends at model time
/// 2024.25.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Periods {
    start: f64,
    count: usize,
    length: f64,
    offset: f64,
}

impl Periods {
    /// `count` periods of one time unit after `start` (no offset).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if `count` is 0 or `start` is not finite.
    pub fn new(start: f64, count: usize) -> Result<Periods> {
        Periods {
            start,
            count,
            length: 1.0,
            offset: 0.0,
        }
        .checked()
    }

    /// The same periods, each `length` time units long.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] unless `length` is finite and positive.
    pub fn with_length(self, length: f64) -> Result<Periods> {
        Periods { length, ..self }.checked()
    }

    /// The same periods, labelled `offset` time units before their end.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] unless `offset` is finite.
    pub fn with_offset(self, offset: f64) -> Result<Periods> {
        Periods { offset, ..self }.checked()
    }

    fn checked(self) -> Result<Periods> {
        let invalid = |message: String| {
            Err(Error::Invalid {
                what: "periods".into(),
                message,
            })
        };
        if self.count == 0 {
            return invalid("a projection needs at least one period".into());
        }
        if self.count > 100_000 {
            return invalid(format!("{} periods is more than 100,000", self.count));
        }
        if !self.start.is_finite() || !self.offset.is_finite() {
            return invalid("the start and offset must be finite numbers".into());
        }
        if !(self.length.is_finite() && self.length > 0.0) {
            return invalid(format!(
                "the period length must be a positive number, not {}",
                self.length
            ));
        }
        Ok(self)
    }

    /// The first label (the starting row's).
    pub fn start(&self) -> f64 {
        self.start
    }

    /// Periods after the starting row.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Model time units per period.
    pub fn length(&self) -> f64 {
        self.length
    }

    /// Model time at a period's end minus its label.
    pub fn offset(&self) -> f64 {
        self.offset
    }

    /// The label of row `k` (0 is the starting row).
    pub fn label(&self, k: usize) -> f64 {
        self.start + k as f64 * self.length
    }

    /// The labels of every row, the starting row first.
    pub fn labels(&self) -> Vec<f64> {
        (0..=self.count).map(|k| self.label(k)).collect()
    }

    /// The model time at which row `k`'s period ends.
    pub fn time(&self, k: usize) -> f64 {
        self.start + self.offset + k as f64 * self.length
    }

    /// The time settings that run these periods with the step and method of
    /// `current`, saving every step; and the steps per period.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the step does not divide a period.
    pub fn time_settings(&self, current: &TimeSettings) -> Result<(TimeSettings, usize)> {
        let dt = current.dt();
        let ratio = self.length / dt;
        let per_period = ratio.round();
        if per_period < 1.0 || (ratio - per_period).abs() > 1e-6 * per_period {
            return Err(Error::Invalid {
                what: "time step".into(),
                message: format!(
                    "a projection by periods of {} needs a step that divides a period ({}, {}, ...), not {dt}",
                    self.length,
                    self.length / 4.0,
                    self.length / 12.0,
                ),
            });
        }
        let start = self.time(0);
        let time = TimeSettings::new(start, self.time(self.count), dt)
            .and_then(|t| t.with_save_interval(dt))?
            .with_method(current.method());
        Ok((time, per_period as usize))
    }
}

/// A projection: one row per period, the starting row first.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    labels: Vec<f64>,
    columns: Arc<[String]>,
    /// `values[column][row]`; sums are `None` in the first row.
    values: Vec<Vec<Option<f64>>>,
}

impl Projection {
    /// The period labels, the starting row first.
    pub fn labels(&self) -> &[f64] {
        &self.labels
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// One column by name: a value per row (`None` for a sum in the
    /// starting row).
    pub fn column(&self, name: &str) -> Option<&[Option<f64>]> {
        let i = self.columns.iter().position(|c| c == name)?;
        Some(&self.values[i])
    }

    /// The column at a position of [`Projection::columns`].
    pub fn column_at(&self, index: usize) -> Option<&[Option<f64>]> {
        self.values.get(index).map(Vec::as_slice)
    }

    /// The row of a label, if the projection has it.
    pub fn row(&self, label: impl Into<f64>) -> Option<usize> {
        let label = label.into();
        self.labels
            .iter()
            .position(|&l| (l - label).abs() <= 1e-9 * l.abs().max(1.0))
    }

    /// The value of a column in the period with this label.
    pub fn get(&self, name: &str, label: impl Into<f64>) -> Option<f64> {
        let row = self.row(label)?;
        self.column(name)?[row]
    }

    /// The projection as CSV: a label column named `label`, then one per
    /// indicator; an empty cell where there is no value. Values of 100 or
    /// more are written to the nearest 0.01, smaller ones to 6 decimal
    /// places, without trailing zeros.
    pub fn to_csv(&self, label: &str) -> String {
        let mut out = crate::format::csv_table::CsvTable::in_memory();
        let _ = out.row(std::iter::once(label).chain(self.columns.iter().map(String::as_str)));
        for (row, l) in self.labels.iter().enumerate() {
            let cells: Vec<String> = self
                .values
                .iter()
                .map(|column| column[row].map_or(String::new(), format_value))
                .collect();
            let _ = out.row(
                std::iter::once(crate::format::csv_table::Cell::Number(*l)).chain(
                    cells
                        .iter()
                        .map(|c| crate::format::csv_table::Cell::Text(c)),
                ),
            );
        }
        out.into_string().unwrap_or_default()
    }
}

/// Counts to the nearest 0.01, other values to 6 decimal places.
fn format_value(v: f64) -> String {
    let s = if v.abs() >= 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.6}")
    };
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Snake case for an element name in a column name: `age 0 to 4` →
/// `age_0_to_4`.
pub fn snake_case(name: &str) -> String {
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

/// A program's indicators resolved to its outputs once, so that many runs
/// are projected with no string work and without storing every step.
#[derive(Debug, Clone)]
pub struct Projector {
    /// The outputs the columns were resolved against.
    outputs: Arc<Columns>,
    columns: Arc<[String]>,
    /// Per column: the outputs summed into it, and how.
    parts: Vec<(Vec<usize>, Measure)>,
}

impl Projector {
    /// Resolves indicators against a program's outputs.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming every indicator whose variable the program
    /// lacks (with the closest output name), and any column name used twice.
    pub fn new(program: &Program, indicators: &[Indicator]) -> Result<Projector> {
        let (projector, missing) = Projector::resolve(program, indicators);
        let mut errors: Vec<Error> = missing
            .iter()
            .map(|ind| Error::Invalid {
                what: format!("indicator `{}`", ind.column),
                message: format!(
                    "the model `{}` has no variable `{}`{}",
                    program.name(),
                    ind.variable,
                    did_you_mean(closest(
                        &ind.variable,
                        program.output_names().iter().map(String::as_str)
                    ))
                ),
            })
            .collect();
        for (i, c) in projector.columns.iter().enumerate() {
            if projector.columns[..i].contains(c) {
                errors.push(Error::Invalid {
                    what: format!("indicator `{c}`"),
                    message: "two indicators make a column of this name".into(),
                });
            }
        }
        Error::from_list(errors)?;
        Ok(projector)
    }

    /// Resolves the indicators the program has, leaving out (and returning)
    /// those whose variable it lacks: for a family of models of which each
    /// has some of a standard list of indicators.
    pub fn new_lenient(program: &Program, indicators: &[Indicator]) -> (Projector, Vec<Indicator>) {
        let (projector, missing) = Projector::resolve(program, indicators);
        (projector, missing.into_iter().cloned().collect())
    }

    fn resolve<'a>(
        program: &Program,
        indicators: &'a [Indicator],
    ) -> (Projector, Vec<&'a Indicator>) {
        let outputs = program.columns();
        let names = outputs.names();
        // Each arrayed output's variable (canonical) and element, once.
        let elements: Vec<Option<(String, &str)>> = names
            .iter()
            .map(|n| {
                let open = n.find('[')?;
                let element = n[open + 1..].strip_suffix(']')?;
                Some((crate::name::canonical_name(&n[..open]), element))
            })
            .collect();
        let mut columns = Vec::new();
        let mut parts = Vec::new();
        let mut missing = Vec::new();
        for ind in indicators {
            if let Some(i) = outputs.get(&ind.variable) {
                columns.push(ind.column.clone());
                parts.push((vec![i], ind.measure));
                continue;
            }
            let variable = crate::name::canonical_name(&ind.variable);
            let of_variable: Vec<(usize, &str)> = elements
                .iter()
                .enumerate()
                .filter_map(|(i, e)| match e {
                    Some((base, element)) if *base == variable => Some((i, *element)),
                    _ => None,
                })
                .collect();
            if of_variable.is_empty() {
                missing.push(ind);
            } else if ind.per_element {
                for (i, element) in of_variable {
                    columns.push(format!("{}_{}", ind.column, snake_case(element)));
                    parts.push((vec![i], ind.measure));
                }
            } else {
                columns.push(ind.column.clone());
                parts.push((
                    of_variable.into_iter().map(|(i, _)| i).collect(),
                    ind.measure,
                ));
            }
        }
        (
            Projector {
                outputs: outputs.clone(),
                columns: columns.into(),
                parts,
            },
            missing,
        )
    }

    /// A projector of some of this one's columns, in the order given.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a column this projector does not have (with
    /// the closest).
    pub fn select(&self, columns: &[String]) -> Result<Projector> {
        let mut parts = Vec::with_capacity(columns.len());
        let mut errors = Vec::new();
        for c in columns {
            match self.columns.iter().position(|x| x == c) {
                Some(i) => parts.push(self.parts[i].clone()),
                None => errors.push(Error::Invalid {
                    what: format!("indicator `{c}`"),
                    message: format!(
                        "is not a column of the projection{}",
                        did_you_mean(closest(c, self.columns.iter().map(String::as_str)))
                    ),
                }),
            }
        }
        Error::from_list(errors)?;
        Ok(Projector {
            outputs: self.outputs.clone(),
            columns: columns.to_vec().into(),
            parts,
        })
    }

    /// The columns every projection has, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The measure of a column.
    pub fn measure(&self, column: &str) -> Option<Measure> {
        let i = self.columns.iter().position(|c| c == column)?;
        Some(self.parts[i].1)
    }

    /// Runs `state` over `periods` (setting its time, keeping its step and
    /// method) and returns the projection.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the step does not divide a period or the state
    /// runs a program with other outputs than this projector's; otherwise
    /// the run's errors.
    pub fn project(&self, state: &mut State, periods: &Periods) -> Result<Projection> {
        self.project_observing(state, periods, &mut |_, _| {})
    }

    /// [`Projector::project`], also handing every step's outputs to
    /// `observe(time, row)` as [`State::run_observing`] does (for measures
    /// the rows do not show, such as a peak within a period).
    ///
    /// # Errors
    ///
    /// As [`Projector::project`].
    pub fn project_observing(
        &self,
        state: &mut State,
        periods: &Periods,
        observe: &mut impl FnMut(f64, &[f64]),
    ) -> Result<Projection> {
        self.check_program(state.program())?;
        let (time, per_period) = periods.time_settings(state.time())?;
        state.set_time(time);
        let mut so_far = Rows::new(self, periods.count, per_period, time.dt());
        state.run_observing(&mut |t, row| {
            so_far.push(|i| row[i]);
            observe(t, row);
        })?;
        Ok(so_far.finish(periods))
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
        periods: &Periods,
        observe: &mut impl FnMut(f64, BatchRow<'_, L>),
    ) -> std::result::Result<[Projection; L], LaneError> {
        let in_lane_0 = |error| LaneError { lane: 0, error };
        self.check_program(batch.program()).map_err(in_lane_0)?;
        let (time, per_period) = periods.time_settings(batch.time()).map_err(in_lane_0)?;
        batch.set_time(time);
        let mut lanes: [Rows; L] =
            std::array::from_fn(|_| Rows::new(self, periods.count, per_period, time.dt()));
        batch.run_observing(&mut |t, row| {
            Rows::push_lanes(&mut lanes, row.values());
            observe(t, row);
        })?;
        Ok(lanes.map(|so_far| so_far.finish(periods)))
    }

    /// Projects results already computed and saved at every step from the
    /// start of `periods` (as [`Periods::time_settings`] sets them).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the results come from another model or were not
    /// saved at every step over exactly these periods.
    pub fn project_results(&self, results: &Results, periods: &Periods) -> Result<Projection> {
        let invalid = |message: String| Error::Invalid {
            what: "projection".into(),
            message,
        };
        if results.names() != self.outputs.names() {
            return Err(invalid(
                "the results come from another model than the projector's".into(),
            ));
        }
        let time = results.time_settings();
        let (expected, per_period) = periods.time_settings(time)?;
        if results.times().len() != periods.count * per_period + 1
            || (time.start() - expected.start()).abs() > 1e-9 * expected.start().abs().max(1.0)
        {
            return Err(invalid(
                "the results were not saved at every step of these periods".into(),
            ));
        }
        let mut so_far = Rows::new(self, periods.count, per_period, time.dt());
        for row in results.values().rows() {
            so_far.push(|i| row[i]);
        }
        Ok(so_far.finish(periods))
    }

    /// Refuses a program with other outputs than the one this projector
    /// was built for.
    fn check_program(&self, program: &Program) -> Result<()> {
        let outputs = program.columns();
        if Arc::ptr_eq(outputs, &self.outputs) || outputs == &self.outputs {
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

/// Periods filled step by step: levels taken at each period's end, sums
/// added over the steps of each period.
struct Rows<'a> {
    projector: &'a Projector,
    count: usize,
    per_period: usize,
    dt: f64,
    /// The step the next row belongs to.
    step: usize,
    /// `values[column][row]`.
    values: Vec<Vec<Option<f64>>>,
    /// The sums so far in the current period, per column.
    running: Vec<f64>,
}

impl<'a> Rows<'a> {
    fn new(projector: &'a Projector, count: usize, per_period: usize, dt: f64) -> Rows<'a> {
        let n = projector.columns.len();
        Rows {
            projector,
            count,
            per_period,
            dt,
            step: 0,
            values: vec![vec![None; count + 1]; n],
            running: vec![0.0; n],
        }
    }

    /// Adds the outputs of the next step, `output(i)` being output `i`.
    #[inline]
    fn push(&mut self, output: impl Fn(usize) -> f64) {
        let step = self.step;
        self.step += 1;
        let (period, within) = (step / self.per_period, step % self.per_period);
        let last = within + 1 == self.per_period;
        for (c, (indices, measure)) in self.projector.parts.iter().enumerate() {
            let sum = || indices.iter().map(|&i| output(i)).sum::<f64>();
            match measure {
                Measure::Level if within == 0 && period <= self.count => {
                    self.values[c][period] = Some(sum());
                }
                Measure::Sum if period < self.count => {
                    self.running[c] += sum();
                    if last {
                        self.values[c][period + 1] = Some(self.running[c] * self.dt);
                        self.running[c] = 0.0;
                    }
                }
                _ => {}
            }
        }
    }

    /// [`Rows::push`] for every lane of a batch at once (output `i` of
    /// lane `l` at `row[i * L + l]`), the lanes having taken the same
    /// steps: each lane's sums are the same additions in the same order
    /// as `push`'s, from the value an empty `sum` starts at, done for the
    /// lanes side by side (contiguous values, no lane's indices walked
    /// again), so the same bits.
    fn push_lanes<const L: usize>(lanes: &mut [Rows<'_>; L], row: &[f64]) {
        let Some(first) = lanes.first() else {
            return;
        };
        let (projector, count, per_period, step) =
            (first.projector, first.count, first.per_period, first.step);
        let (period, within) = (step / per_period, step % per_period);
        let last = within + 1 == per_period;
        for so_far in lanes.iter_mut() {
            so_far.step += 1;
        }
        let empty: f64 = std::iter::empty::<f64>().sum();
        for (c, (indices, measure)) in projector.parts.iter().enumerate() {
            let wanted = match measure {
                Measure::Level => within == 0 && period <= count,
                Measure::Sum => period < count,
            };
            if !wanted {
                continue;
            }
            let mut sums = [empty; L];
            for &i in indices {
                for (sum, v) in sums.iter_mut().zip(&row[i * L..(i + 1) * L]) {
                    *sum += v;
                }
            }
            for (so_far, sum) in lanes.iter_mut().zip(sums) {
                match measure {
                    Measure::Level => so_far.values[c][period] = Some(sum),
                    Measure::Sum => {
                        so_far.running[c] += sum;
                        if last {
                            so_far.values[c][period + 1] = Some(so_far.running[c] * so_far.dt);
                            so_far.running[c] = 0.0;
                        }
                    }
                }
            }
        }
    }

    fn finish(self, periods: &Periods) -> Projection {
        Projection {
            labels: periods.labels(),
            columns: self.projector.columns.clone(),
            values: self.values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::native;

    #[test]
    fn element_names_become_snake_case() {
        assert_eq!(snake_case("age 0 to 4"), "age_0_to_4");
        assert_eq!(snake_case("in house foster"), "in_house_foster");
        assert_eq!(snake_case("a,b"), "a_b");
    }

    fn model() -> crate::Model {
        native::parse(
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
[dimensions]
age = ["young", "old"]
[auxiliaries.split]
dimensions = ["age"]
equation = "TIME"
"#,
            None,
        )
        .unwrap()
    }

    #[test]
    fn sums_cover_each_period_and_levels_are_taken_at_its_end() {
        let program = Program::compile(&model()).unwrap();
        let projector = Projector::new(
            &program,
            &[
                Indicator::sum("starts", "cla starts"),
                Indicator::level("cla", "Looked_After"),
                Indicator::level("split", "split").per_element(),
                Indicator::level("split_total", "split"),
            ],
        )
        .unwrap();
        let periods = Periods::new(2013.0, 3).unwrap().with_offset(0.25).unwrap();
        let p = projector.project(&mut program.state(), &periods).unwrap();
        assert_eq!(p.labels(), [2013.0, 2014.0, 2015.0, 2016.0]);
        assert_eq!(
            p.columns(),
            ["starts", "cla", "split_young", "split_old", "split_total"]
        );
        for k in 0..4 {
            let expected = 100.0 + 1200.0 * k as f64;
            let v = p.get("cla", 2013 + k).unwrap();
            assert!((v - expected).abs() < 1e-6, "{k}: {v}");
        }
        let starts = p.column("starts").unwrap();
        assert_eq!(starts[0], None);
        // Period 2015 runs from 2014.25 to 2015.25: all at 12 a year.
        assert!((starts[2].unwrap() - 12.0).abs() < 1e-9);
        assert!((starts[3].unwrap() - 24.0).abs() < 1e-9);
        assert_eq!(p.get("split_young", 2014), Some(2014.25));
        assert_eq!(p.get("split_total", 2014), Some(2.0 * 2014.25));
        assert!(
            p.to_csv("year")
                .starts_with("year,starts,cla,split_young,split_old,split_total\n2013,,100,")
        );
        // The same from stored results.
        let mut state = program.state();
        let (time, _) = periods.time_settings(state.time()).unwrap();
        state.set_time(time);
        let results = state.run().unwrap();
        assert_eq!(projector.project_results(&results, &periods).unwrap(), p);
    }

    #[test]
    fn mistakes_are_refused_with_the_closest_name() {
        let program = Program::compile(&model()).unwrap();
        let err = Projector::new(&program, &[Indicator::level("x", "looked aftr")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `looked after`?"), "{err}");
        let err = Projector::new(
            &program,
            &[
                Indicator::level("x", "looked after"),
                Indicator::sum("x", "inflow"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("two indicators"), "{err}");
        assert!(Periods::new(0.0, 0).is_err());
        assert!(Periods::new(0.0, 1).unwrap().with_length(0.0).is_err());
        let periods = Periods::new(2013.0, 1)
            .unwrap()
            .with_length(0.1)
            .unwrap()
            .with_offset(0.25)
            .unwrap();
        let projector = Projector::new(&program, &[]).unwrap();
        let err = projector
            .project(&mut program.state(), &periods)
            .unwrap_err()
            .to_string();
        assert!(err.contains("divides a period"), "{err}");
        let other = native::parse("[stocks.x]\ninitial = 1\n", None).unwrap();
        let other = Program::compile(&other).unwrap();
        let err = projector
            .project(&mut other.state(), &Periods::new(0.0, 1).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("another model"), "{err}");
    }
}
