//! Writing CSV tables: one writer, built on the `csv` crate, for every CSV
//! file the engine and the crates on it write (run results, ensembles,
//! projections).
//!
//! Cells are quoted only when they must be (when they hold a comma, a
//! quote, a line break or a tab), quotes inside doubled; records end with
//! `\n`. Numbers are written as `format!("{v}")` writes them, the shortest
//! text that reads back to the same `f64`; missing values are empty cells.
//! [`Table::parse`](super::table::Table::parse) and
//! [`Records::parse`](super::table::Records::parse) read what this writes.
//!
//! ```
//! use carecascade_engine::format::csv_table::{Cell, CsvTable, csv_string};
//!
//! // A whole table of numbers, missing values as `None`:
//! let text = csv_string(["year", "children, looked after"], [
//!     [Some(2023.0), Some(83_750.0)],
//!     [Some(2024.0), None],
//! ]);
//! assert_eq!(text, "year,\"children, looked after\"\n2023,83750\n2024,\n");
//!
//! // Rows of text and numbers, one at a time, into any writer:
//! let mut csv = CsvTable::new(Vec::new());
//! csv.row(["scenario", "run", "cost"])?;
//! csv.row([Cell::from("base"), Cell::from(7_usize), Cell::from(0.1 + 0.2)])?;
//! assert_eq!(csv.into_string()?, "scenario,run,cost\nbase,7,0.30000000000000004\n");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt::Write as _;
use std::io;

/// One cell of a row written by [`CsvTable`].
///
/// Anything that converts into a cell can be given to [`CsvTable::row`]:
/// `&str` and `&String` (text), `f64` (a number), `Option<f64>` (a number or
/// an empty cell) and the integer types.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// Text, quoted if it must be.
    Text(&'a str),
    /// A number, written as `format!("{v}")` writes it (so `NaN`, `inf` and
    /// `-inf` are written as such; give [`Cell::Missing`] for a number that
    /// should be left empty).
    Number(f64),
    /// A whole number, written exactly.
    Integer(i128),
    /// An empty cell.
    Missing,
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(text: &'a str) -> Self {
        Cell::Text(text)
    }
}

impl<'a> From<&'a String> for Cell<'a> {
    fn from(text: &'a String) -> Self {
        Cell::Text(text)
    }
}

impl<'a, 'b> From<&'b &'a str> for Cell<'a> {
    fn from(text: &'b &'a str) -> Self {
        Cell::Text(text)
    }
}

impl From<f64> for Cell<'_> {
    fn from(value: f64) -> Self {
        Cell::Number(value)
    }
}

impl From<&f64> for Cell<'_> {
    fn from(value: &f64) -> Self {
        Cell::Number(*value)
    }
}

impl From<Option<f64>> for Cell<'_> {
    fn from(value: Option<f64>) -> Self {
        value.map_or(Cell::Missing, Cell::Number)
    }
}

impl From<&Option<f64>> for Cell<'_> {
    fn from(value: &Option<f64>) -> Self {
        (*value).into()
    }
}

macro_rules! integer_cells {
    ($($t:ty),*) => {$(
        impl From<$t> for Cell<'_> {
            fn from(value: $t) -> Self {
                Cell::Integer(i128::from(value))
            }
        }
    )*};
}
integer_cells!(i8, i16, i32, i64, u8, u16, u32, u64);

impl From<usize> for Cell<'_> {
    fn from(value: usize) -> Self {
        // usize has at most 64 bits on every platform Rust supports.
        Cell::Integer(value as i128)
    }
}

/// A CSV writer for tables: rows of [`Cell`]s into any [`io::Write`], or
/// into memory with [`CsvTable::in_memory`] and [`CsvTable::into_string`].
///
/// Rows are written as given: nothing checks that they have as many cells
/// as the header. A row of one empty cell is written as `""`, so that it is
/// not read as a blank line. Output is buffered: call [`CsvTable::flush`] or
/// [`CsvTable::into_inner`] at the end (dropping the writer flushes too, but
/// ignores errors).
#[derive(Debug)]
pub struct CsvTable<W: io::Write> {
    writer: csv::Writer<W>,
    /// A buffer for formatting numbers, reused from cell to cell.
    number: String,
}

impl<W: io::Write> CsvTable<W> {
    /// A writer writing to `out`.
    pub fn new(out: W) -> Self {
        CsvTable {
            writer: csv::WriterBuilder::new()
                .flexible(true)
                .terminator(csv::Terminator::Any(b'\n'))
                .quote_style(csv::QuoteStyle::Necessary)
                // A writer's comment byte only makes it quote the cells that
                // hold it. Quoting cells with tabs keeps a reader that takes
                // a header line with a tab for tab-separated from misreading
                // the file.
                .comment(Some(b'\t'))
                .from_writer(out),
            number: String::new(),
        }
    }

    /// Writes one row.
    ///
    /// # Errors
    ///
    /// Any error of the underlying writer.
    pub fn row<'a, I>(&mut self, cells: I) -> io::Result<()>
    where
        I: IntoIterator,
        I::Item: Into<Cell<'a>>,
    {
        for cell in cells {
            self.cell(cell.into())?;
        }
        // No field: ends the record.
        self.writer.write_record(None::<&[u8]>)?;
        Ok(())
    }

    fn cell(&mut self, cell: Cell<'_>) -> io::Result<()> {
        match cell {
            Cell::Text(text) => self.writer.write_field(text)?,
            Cell::Missing => self.writer.write_field("")?,
            Cell::Number(v) => {
                self.number.clear();
                let _ = write!(self.number, "{v}");
                self.writer.write_field(&self.number)?;
            }
            Cell::Integer(v) => {
                self.number.clear();
                let _ = write!(self.number, "{v}");
                self.writer.write_field(&self.number)?;
            }
        }
        Ok(())
    }

    /// Flushes what has been written to the underlying writer.
    ///
    /// # Errors
    ///
    /// Any error of the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// Flushes and returns the underlying writer.
    ///
    /// # Errors
    ///
    /// Any error of the underlying writer while flushing.
    pub fn into_inner(self) -> io::Result<W> {
        self.writer.into_inner().map_err(|e| e.into_error())
    }
}

impl CsvTable<Vec<u8>> {
    /// A writer writing into memory; [`CsvTable::into_string`] returns the
    /// text.
    pub fn in_memory() -> Self {
        CsvTable::new(Vec::new())
    }

    /// The text written.
    ///
    /// # Errors
    ///
    /// None in practice: writing into memory does not fail.
    pub fn into_string(self) -> io::Result<String> {
        let bytes = self.into_inner()?;
        // Every cell came from a `&str` or a number, so the text is UTF-8.
        String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

/// A table as CSV text: a header row, then the rows.
///
/// Rows may mix cell types through [`Cell`]; rows of `Option<f64>` write
/// missing values as empty cells.
pub fn csv_string<'a, H, R>(headers: H, rows: R) -> String
where
    H: IntoIterator,
    H::Item: AsRef<str>,
    R: IntoIterator,
    R::Item: IntoIterator,
    <R::Item as IntoIterator>::Item: Into<Cell<'a>>,
{
    let mut csv = CsvTable::in_memory();
    let headers: Vec<H::Item> = headers.into_iter().collect();
    // Writing into memory cannot fail.
    let _ = csv.row(headers.iter().map(AsRef::as_ref));
    for row in rows {
        let _ = csv.row(row);
    }
    csv.into_string().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        let mut csv = CsvTable::in_memory();
        csv.row([
            "plain",
            "with space",
            "a, b",
            "say \"hi\"",
            "two\nlines",
            "cr\r",
            "tab\there",
            "",
        ])
        .unwrap();
        assert_eq!(
            csv.into_string().unwrap(),
            "plain,with space,\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",\"tab\there\",\n"
        );
    }

    #[test]
    fn numbers_as_display_and_missing_as_empty() {
        let values = [
            0.0,
            -0.0,
            1.0,
            0.1 + 0.2,
            1e-300,
            123_456_789_012_345_680.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
        ];
        let text = csv_string(["v"], values.iter().map(|v| [Some(*v)]));
        let expected: String = std::iter::once("v\n".to_string())
            .chain(values.iter().map(|v| format!("{v}\n")))
            .collect();
        assert_eq!(text, expected);
        let text = csv_string(["a", "b", "c"], [[None, Some(2.5), None]]);
        assert_eq!(text, "a,b,c\n,2.5,\n");
    }

    #[test]
    fn mixed_cells_and_lone_empty_cell() {
        let mut csv = CsvTable::in_memory();
        let name = String::from("x,y");
        csv.row([
            Cell::from(&name),
            Cell::from(u64::MAX),
            Cell::from(-3_i32),
            Cell::from(None),
            Cell::Missing,
        ])
        .unwrap();
        csv.row([Cell::Missing]).unwrap();
        csv.row(Vec::<Cell>::new()).unwrap();
        assert_eq!(
            csv.into_string().unwrap(),
            "\"x,y\",18446744073709551615,-3,,\n\"\"\n\"\"\n"
        );
    }
}
