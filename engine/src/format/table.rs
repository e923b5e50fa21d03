//! Reading numeric tables: model outputs from other tools and published
//! statistics.
//!
//! Copes with what such files contain in practice: LF, CRLF or bare-CR line
//! endings, commas or tabs, quoted headers, blank cells (read as missing) and
//! a byte-order mark.

use crate::error::{Error, Location, Result};
use crate::name::{canonical_name, closest};
use std::path::Path;
use std::sync::Arc;

/// A table of numbers with named columns; missing cells are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<Option<f64>>>,
}

impl Table {
    /// Reads a table from a file.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read, otherwise as [`Table::parse`].
    pub fn load(path: impl AsRef<Path>) -> Result<Table> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Table::parse(&text, Some(&path.display().to_string()))
    }

    /// Parses table text: a header row, then rows of numbers.
    ///
    /// # Errors
    ///
    /// [`Error::File`] with the line and column of a cell that is not a
    /// number, or of a row with more cells than the header.
    pub fn parse(text: &str, file: Option<&str>) -> Result<Table> {
        let records = Records::parse(text, file)?;
        let mut rows = Vec::with_capacity(records.rows.len());
        for record in &records.rows {
            let mut row = Vec::with_capacity(records.headers.len());
            for (c, cell) in record.cells.iter().enumerate() {
                row.push(records.number(record, c, cell)?);
            }
            rows.push(row);
        }
        Ok(Table {
            headers: records.headers,
            rows,
        })
    }

    /// The column names.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The rows.
    pub fn rows(&self) -> &[Vec<Option<f64>>] {
        &self.rows
    }

    /// The index of a column (names compared as variable names are).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        let wanted = canonical_name(name);
        self.headers
            .iter()
            .position(|h| canonical_name(h) == wanted)
    }

    /// A column's cells.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the closest column if there is no such column.
    pub fn column(&self, name: &str) -> Result<Vec<Option<f64>>> {
        match self.column_index(name) {
            Some(c) => Ok(self.rows.iter().map(|r| r[c]).collect()),
            None => Err(Error::Invalid {
                what: "column".into(),
                message: format!(
                    "no column `{name}`{}",
                    crate::name::did_you_mean(closest(
                        name,
                        self.headers.iter().map(String::as_str)
                    ))
                ),
            }),
        }
    }
}

/// A delimited text file read as strings: a header row and records, each
/// remembering its line and the columns of its cells for error messages.
#[derive(Debug, Clone)]
pub struct Records {
    /// The file the records came from, for error messages.
    pub file: Option<Arc<str>>,
    /// The header row's cells, trimmed.
    pub headers: Vec<String>,
    /// The records after the header, blank lines left out.
    pub rows: Vec<Record>,
}

/// One row of [`Records`]: its cells (as many as the header has) and where
/// they are.
#[derive(Debug, Clone)]
pub struct Record {
    /// The line the record is on (1-based).
    pub line: usize,
    /// The cells, trimmed, one per header column (blank where missing).
    pub cells: Vec<String>,
    columns: Vec<usize>,
}

impl Records {
    /// Reads delimited text (commas, or tabs if the header has one).
    ///
    /// # Errors
    ///
    /// [`Error::File`] for an empty table or a row with more cells than the
    /// header, with its line and column.
    pub fn parse(text: &str, file: Option<&str>) -> Result<Records> {
        let file: Option<Arc<str>> = file.map(Arc::from);
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = split_lines(text)
            .into_iter()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            return Err(Error::File {
                location: Location {
                    file,
                    line: 1,
                    column: 1,
                },
                message: "empty table: expected a header row".into(),
            });
        };
        let delimiter = if header.contains('\t') { '\t' } else { ',' };
        let headers: Vec<String> = split_row(header, delimiter)
            .into_iter()
            .map(|(_, h)| h.trim().to_string())
            .collect();
        let mut rows = Vec::new();
        for (line_index, content) in lines {
            let line = line_index + 1;
            let cells = split_row(content, delimiter);
            if cells.len() > headers.len() {
                return Err(Error::File {
                    location: Location {
                        file,
                        line,
                        column: cells[headers.len()].0 + 1,
                    },
                    message: format!(
                        "row has {} cells but the header has {}",
                        cells.len(),
                        headers.len()
                    ),
                });
            }
            let (mut columns, mut cells): (Vec<usize>, Vec<String>) = cells
                .into_iter()
                .map(|(c, v)| (c, v.trim().to_string()))
                .unzip();
            let last = columns.last().copied().unwrap_or(0);
            columns.resize(headers.len(), last);
            cells.resize(headers.len(), String::new());
            rows.push(Record {
                line,
                cells,
                columns,
            });
        }
        Ok(Records {
            file,
            headers,
            rows,
        })
    }

    /// The index of a column (names compared as variable names are).
    pub fn column_index(&self, name: &str) -> Result<usize> {
        let wanted = canonical_name(name);
        self.headers
            .iter()
            .position(|h| canonical_name(h) == wanted)
            .ok_or_else(|| Error::File {
                location: Location {
                    file: self.file.clone(),
                    line: 1,
                    column: 1,
                },
                message: format!(
                    "no column `{name}`{}",
                    crate::name::did_you_mean(closest(
                        name,
                        self.headers.iter().map(String::as_str)
                    ))
                ),
            })
    }

    /// A cell as a number: `None` when blank, an error naming the line and
    /// column when it is not a number.
    pub fn number(&self, record: &Record, column: usize, cell: &str) -> Result<Option<f64>> {
        if cell.is_empty() {
            return Ok(None);
        }
        cell.parse::<f64>().map(Some).map_err(|_| Error::File {
            location: Location {
                file: self.file.clone(),
                line: record.line,
                column: record.columns[column] + 1,
            },
            message: format!(
                "`{cell}` in column `{}` is not a number",
                self.headers[column]
            ),
        })
    }
}

/// Splits text into lines at LF, CRLF or a bare CR.
fn split_lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                i += 1;
                start = i;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                i += if bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// Splits a row into (character column, cell) pairs, honouring quotes.
fn split_row(line: &str, delimiter: char) -> Vec<(usize, String)> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut chars = line.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek().map(|(_, c)| *c) == Some('"') => {
                cell.push('"');
                chars.next();
            }
            '"' => in_quotes = !in_quotes,
            c if c == delimiter && !in_quotes => {
                cells.push((start, std::mem::take(&mut cell)));
                start = i + 1;
            }
            c => cell.push(c),
        }
    }
    cells.push((start, cell));
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_delimiters_and_blanks() {
        for text in [
            "Time,a\n0,1\n1,\n",
            "Time,a\r\n0,1\r\n1,\r\n",
            "Time,a\r0,1\r1,\r",
            "Time\ta\n0\t1\n1\t\n",
        ] {
            let t = Table::parse(text, None).unwrap();
            assert_eq!(t.headers(), ["Time", "a"]);
            assert_eq!(
                t.rows(),
                [vec![Some(0.0), Some(1.0)], vec![Some(1.0), None]]
            );
        }
    }

    #[test]
    fn quoted_headers_and_errors() {
        let t = Table::parse("Time,\"a, b\"\n0,2", None).unwrap();
        assert_eq!(t.column("A, B").unwrap(), [Some(2.0)]);
        let err = Table::parse("Time,a\r\n0,1\r\n1,x\r\n", Some("f.csv")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.csv:3:3: `x` in column `a` is not a number"
        );
        let err = t.column("a,c").unwrap_err();
        assert!(err.to_string().contains("did you mean `a, b`"), "{err}");
    }
}
