//! The saved values of one run.

use crate::format::csv_table::CsvTable;
use crate::model::TimeSettings;
use crate::program::Columns;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use std::io::{self, Write};
use std::sync::Arc;

/// A run's results: a time vector and a (time x variable) matrix with the
/// variables' display names.
///
/// ```
/// # use carecascade_engine::{Model, Program};
/// # use carecascade_engine::build::{Flow, Stock};
/// # let model = Model::builder("m").add(Stock::new("x", "1").inflow("f")).add(Flow::new("f", "1")).build()?;
/// let results = Program::compile(&model)?.run()?;
/// let x = results.series("x").unwrap();
/// assert_eq!(x[0], 1.0);
/// assert_eq!(results.final_value("x"), Some(101.0));
/// # Ok::<(), carecascade_engine::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    columns: Arc<Columns>,
    times: Array1<f64>,
    values: Array2<f64>,
    time: TimeSettings,
}

impl Results {
    pub(crate) fn new(
        columns: Arc<Columns>,
        times: Vec<f64>,
        values: Array2<f64>,
        time: TimeSettings,
    ) -> Self {
        Results {
            columns,
            times: Array1::from(times),
            values,
            time,
        }
    }

    /// The variable names, one per column.
    pub fn names(&self) -> &[String] {
        self.columns.names()
    }

    /// The saved times.
    pub fn times(&self) -> ArrayView1<'_, f64> {
        self.times.view()
    }

    /// All values: one row per saved time, one column per variable.
    pub fn values(&self) -> ArrayView2<'_, f64> {
        self.values.view()
    }

    /// The time settings of the run.
    pub fn time_settings(&self) -> &TimeSettings {
        &self.time
    }

    /// The column of a variable (in any spelling of its name).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.get(name)
    }

    /// A variable's values over time.
    pub fn series(&self, name: &str) -> Option<ArrayView1<'_, f64>> {
        self.column(name).map(|c| self.values.column(c))
    }

    /// A variable's value at the last saved time.
    pub fn final_value(&self, name: &str) -> Option<f64> {
        let c = self.column(name)?;
        self.values.column(c).last().copied()
    }

    /// A variable's value at the saved time closest to `time`.
    pub fn value_at(&self, name: &str, time: f64) -> Option<f64> {
        let c = self.column(name)?;
        let row = self
            .times
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| (*a - time).abs().total_cmp(&(*b - time).abs()))?
            .0;
        Some(self.values[[row, c]])
    }

    /// Writes CSV with [`CsvTable`]: a `Time` column, then one column per
    /// variable by display name. Numbers are written so that they read back
    /// exactly.
    ///
    /// # Errors
    ///
    /// Any error of the writer.
    pub fn write_csv(&self, out: impl Write) -> io::Result<()> {
        let mut csv = CsvTable::new(out);
        csv.row(std::iter::once("Time").chain(self.columns.names().iter().map(String::as_str)))?;
        for (t, row) in self.times.iter().zip(self.values.rows()) {
            csv.row(std::iter::once(t).chain(row))?;
        }
        csv.flush()
    }

    /// The CSV text of [`Results::write_csv`].
    pub fn to_csv(&self) -> String {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.write_csv(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}
