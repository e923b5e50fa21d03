//! Reading numeric tables: model outputs from other tools and published
//! statistics.
//!
//! The `csv` crate does the reading, so a quoted cell may hold commas,
//! doubled quotes and line breaks. Around it this module copes with what
//! such files contain in practice: LF, CRLF or bare-CR line endings, commas
//! or tabs, blank lines, spaces around cells, blank cells (read as missing)
//! and a byte-order mark; and it reports the file, line and column of a cell
//! that is wrong. [`Table::to_csv`] and [`super::csv_table`] write what it
//! reads.

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
    /// A table from its column names and rows.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if a row does not have one cell per column.
    pub fn new(headers: Vec<String>, rows: Vec<Vec<Option<f64>>>) -> Result<Table> {
        if let Some((i, row)) = rows
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() != headers.len())
        {
            return Err(Error::Invalid {
                what: "table".into(),
                message: format!(
                    "row {} has {} cells but there are {} columns",
                    i + 1,
                    row.len(),
                    headers.len()
                ),
            });
        }
        Ok(Table { headers, rows })
    }

    /// The table as CSV text, written by [`super::csv_table`]: the header
    /// row, then the rows, numbers as `format!("{v}")` writes them and
    /// missing cells empty. [`Table::parse`] reads it back to an equal table
    /// (headers are trimmed when read).
    pub fn to_csv(&self) -> String {
        super::csv_table::csv_string(&self.headers, &self.rows)
    }

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
/// remembering its line and the line and column of each of its cells for
/// error messages.
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
    /// The line the record starts on (1-based). A quoted cell may hold line
    /// breaks, so a record can go on over several lines.
    pub line: usize,
    /// The cells, unquoted and trimmed, one per header column (blank where
    /// missing).
    pub cells: Vec<String>,
    /// The (line, column) of each cell's first character, both from 1,
    /// columns in characters. A missing cell has the position of the last
    /// cell present.
    positions: Vec<(usize, usize)>,
}

impl Record {
    /// The line and column (both from 1, columns counting characters) where
    /// a cell starts, or where the record does for a column out of range.
    pub fn position(&self, column: usize) -> (usize, usize) {
        self.positions
            .get(column)
            .or(self.positions.last())
            .copied()
            .unwrap_or((self.line, 1))
    }
}

impl Records {
    /// Reads delimited text with the `csv` crate: commas, or tabs if the
    /// header line has one. Cells may be quoted, and a quoted cell may hold
    /// delimiters, doubled quotes (`""` for `"`) and line breaks. Lines may
    /// end with LF, CRLF or a bare CR; blank lines are skipped, a byte-order
    /// mark is ignored and cells are trimmed. A row may have fewer cells than
    /// the header (the rest are blank) but not more.
    ///
    /// # Errors
    ///
    /// [`Error::File`] for an empty table or a row with more cells than the
    /// header, with its line and column.
    pub fn parse(text: &str, file: Option<&str>) -> Result<Records> {
        let file: Option<Arc<str>> = file.map(Arc::from);
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let error = |(line, column): (usize, usize), message: String| Error::File {
            location: Location {
                file: file.clone(),
                line,
                column,
            },
            message,
        };
        let Some(header) = text.split(['\n', '\r']).position(|l| !l.trim().is_empty()) else {
            return Err(error((1, 1), "empty table: expected a header row".into()));
        };
        let delimiter = if header_has_tab(text, header) {
            b'\t'
        } else {
            b','
        };
        let line_starts = line_starts(text);
        let mut reader = csv::ReaderBuilder::new()
            // The header is read as a record too, to know where its cells are.
            .has_headers(false)
            // Rows may be short; rows that are too long are reported below.
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(text.as_bytes());
        let mut record = csv::StringRecord::new();
        let mut headers: Option<Vec<String>> = None;
        let mut rows = Vec::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let at = match e.position() {
                        Some(p) => offset_position(text, &line_starts, to_offset(p.byte())),
                        None => (1, 1),
                    };
                    return Err(error(at, format!("cannot read the table: {e}")));
                }
            }
            // A record's position is where the reader was when it started
            // reading it, before the empty lines it skipped.
            let skipped = record.position().map_or(0, |p| to_offset(p.byte()));
            let start = skipped
                + text.as_bytes()[skipped.min(text.len())..]
                    .iter()
                    .take_while(|b| matches!(b, b'\r' | b'\n'))
                    .count();
            let end = to_offset(reader.position().byte()).min(text.len());
            if text.get(start..end).is_none_or(|raw| raw.trim().is_empty()) {
                continue;
            }
            let line = offset_position(text, &line_starts, start).0;
            let mut positions = cell_positions(&text.as_bytes()[start..], line, delimiter);
            // One position per cell, as the reader found them (the same
            // count, unless the reader and `cell_positions` disagree).
            let last = positions.last().copied().unwrap_or((line, 1));
            positions.resize(record.len().max(1), last);
            let cells = record.iter().map(|c| c.trim().to_string());
            let Some(headers) = &headers else {
                headers = Some(cells.collect());
                continue;
            };
            if record.len() > headers.len() {
                return Err(error(
                    positions[headers.len()],
                    format!(
                        "row has {} cells but the header has {}",
                        record.len(),
                        headers.len()
                    ),
                ));
            }
            let mut cells: Vec<String> = cells.collect();
            cells.resize(headers.len(), String::new());
            let last = positions.last().copied().unwrap_or((line, 1));
            positions.resize(headers.len(), last);
            rows.push(Record {
                line,
                cells,
                positions,
            });
        }
        Ok(Records {
            file,
            // Every text with a non-blank line has a header record, so the
            // default is never used.
            headers: headers.unwrap_or_default(),
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

    /// Where a cell of a record is: the file, and the line and column the
    /// cell starts at.
    pub fn location(&self, record: &Record, column: usize) -> Location {
        let (line, column) = record.position(column);
        Location {
            file: self.file.clone(),
            line,
            column,
        }
    }

    /// A cell as a number: `None` when blank, an error naming the line,
    /// column and header when it is not a number.
    pub fn number(&self, record: &Record, column: usize, cell: &str) -> Result<Option<f64>> {
        if cell.is_empty() {
            return Ok(None);
        }
        let header = self.headers.get(column).map_or("?", String::as_str);
        match cell.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            Ok(_) => Err(Error::File {
                location: self.location(record, column),
                message: format!(
                    "`{cell}` in column `{header}` is not a finite number: leave the cell blank for a missing value"
                ),
            }),
            Err(_) => Err(Error::File {
                location: self.location(record, column),
                message: format!("`{cell}` in column `{header}` is not a number"),
            }),
        }
    }
}

/// Whether the header row, which starts on the physical line with index
/// `line` (lines split at CR or LF), has a tab outside quotes: then the file
/// is tab-separated.
fn header_has_tab(text: &str, line: usize) -> bool {
    let mut rest = text;
    for _ in 0..line {
        match rest.find(['\n', '\r']) {
            Some(i) => rest = &rest[i + 1..],
            None => return false,
        }
    }
    let mut quoted = false;
    for b in rest.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\t' if !quoted => return true,
            b'\r' | b'\n' if !quoted => return false,
            _ => {}
        }
    }
    false
}

/// A byte offset from the `csv` crate as an index.
fn to_offset(byte: u64) -> usize {
    usize::try_from(byte).unwrap_or(usize::MAX)
}

/// The byte offsets at which lines start; a line ends at LF, CRLF or a bare
/// CR, as editors count them (inside quoted cells too).
fn line_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = vec![0];
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            starts.push(i + 1);
        }
    }
    starts
}

/// The (line, column) of a byte offset, both from 1, columns counting
/// characters.
fn offset_position(text: &str, line_starts: &[usize], offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let line = line_starts.partition_point(|&s| s <= offset).max(1);
    let before = text.as_bytes()[line_starts[line - 1]..offset]
        .iter()
        .filter(|&&b| !is_continuation(b))
        .count();
    (line, before + 1)
}

/// Whether a byte continues a UTF-8 character rather than starting one.
fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

/// The (line, column) at which each cell of the record at the start of
/// `bytes` starts, the record starting on `line` at column 1.
///
/// The `csv` crate reports where a record starts but not where its cells do,
/// so this follows the record's bytes as its reader does (with its
/// defaults: `"` quotes a cell when it starts one, `""` inside quotes is a
/// quote, the record ends at a line break outside quotes), noting where each
/// cell starts.
fn cell_positions(bytes: &[u8], line: usize, delimiter: u8) -> Vec<(usize, usize)> {
    #[derive(Clone, Copy)]
    enum State {
        CellStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let (mut line, mut column) = (line, 1);
    let mut positions = vec![(line, column)];
    let mut state = State::CellStart;
    for (i, &b) in bytes.iter().enumerate() {
        let mut next_cell = false;
        state = match (state, b) {
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::CellStart | State::QuoteInQuoted, b'"') => State::Quoted,
            (_, b'\r' | b'\n') => break,
            (_, d) if d == delimiter => {
                next_cell = true;
                State::CellStart
            }
            _ => State::Unquoted,
        };
        match b {
            b'\r' => (line, column) = (line + 1, 1),
            b'\n' if i == 0 || bytes[i - 1] != b'\r' => (line, column) = (line + 1, 1),
            b'\n' => {}
            b if !is_continuation(b) => column += 1,
            _ => {}
        }
        if next_cell {
            positions.push((line, column));
        }
    }
    positions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::csv_table::CsvTable;

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
        // Rust reads these as numbers; a data file must not.
        for bad in ["inf", "-inf", "NaN", "infinity", "1e999"] {
            let err = Table::parse(&format!("Time,a\n0,1\n1,{bad}\n"), Some("f.csv"))
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                format!(
                    "f.csv:3:3: `{bad}` in column `a` is not a finite number: leave the cell blank for a missing value"
                )
            );
        }
    }

    fn error(text: &str) -> String {
        match Table::parse(text, Some("f.csv")) {
            Ok(t) => panic!("read {t:?} from {text:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// What the `csv_table` writer writes, `Records::parse` reads back: the
    /// old reader split lines before looking at quotes, so a quoted line
    /// break cut the record in two.
    #[test]
    fn quoted_commas_quotes_and_line_breaks_round_trip() {
        let rows = [
            ["name", "note", "count"],
            ["a, b", "say \"hi\"", "1"],
            ["two\nlines", "crlf\r\ninside", "2"],
            ["tab\there", "\"\"", "3"],
            ["bare\rcr", ",,,", "4"],
        ];
        let mut csv = CsvTable::in_memory();
        for row in &rows {
            csv.row(row).unwrap();
        }
        let text = csv.into_string().unwrap();
        let records = Records::parse(&text, None).unwrap();
        assert_eq!(records.headers, rows[0]);
        let cells: Vec<Vec<String>> = records.rows.iter().map(|r| r.cells.clone()).collect();
        assert_eq!(cells, rows[1..]);
        // Lines as an editor counts them: the record after a cell with a
        // line break starts two lines on; CRLF is one line break.
        let lines: Vec<usize> = records.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3, 6, 7]);
        assert_eq!(records.rows[1].position(2), (5, 9));
        assert_eq!(records.rows[3].position(1), (8, 5));
    }

    #[test]
    fn tables_round_trip_with_awkward_headers() {
        let headers: Vec<String> = ["Time", "a, b", "say \"hi\"", "two\nlines", "tab\there"]
            .map(String::from)
            .into();
        let rows = vec![
            vec![Some(0.0), Some(0.1 + 0.2), None, Some(-1e-300), Some(1e21)],
            vec![Some(0.5), None, Some(f64::MAX), Some(-0.0), Some(123.456)],
        ];
        let table = Table::new(headers, rows).unwrap();
        let text = table.to_csv();
        assert!(
            text.starts_with("Time,\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\",\"tab\there\"\n")
        );
        assert_eq!(Table::parse(&text, None).unwrap(), table);
        assert!(Table::new(vec!["a".into()], vec![vec![None, None]]).is_err());
    }

    #[test]
    fn errors_name_file_line_column_and_header() {
        // A cell that is not a number, after a cell over two lines.
        let records = Records::parse("name,v,w\n\"two\nlines\",1,zz\n", Some("f.csv")).unwrap();
        let row = &records.rows[0];
        assert_eq!(
            records
                .number(row, 2, &row.cells[2])
                .unwrap_err()
                .to_string(),
            "f.csv:3:10: `zz` in column `w` is not a number"
        );
        assert_eq!(
            error("v,w\n1,\"2\nx\"\n"),
            "f.csv:2:3: `2\nx` in column `w` is not a number"
        );
        // More cells than the header: the first extra cell, past a quoted
        // delimiter and a literal quote inside an unquoted cell.
        assert_eq!(
            error("a,b\n\"1,5\",2,3\n"),
            "f.csv:2:9: row has 3 cells but the header has 2"
        );
        assert_eq!(
            error("a,b\nx\"y,1,2\n"),
            "f.csv:2:7: row has 3 cells but the header has 2"
        );
        // Columns count characters, not bytes.
        assert_eq!(
            error("é,ü\n\u{a0}\u{a0},x"),
            "f.csv:2:4: `x` in column `ü` is not a number"
        );
        assert_eq!(
            error("a,b\n1,ü x\n"),
            "f.csv:2:3: `ü x` in column `b` is not a number"
        );
        // Blank lines count; spaces before a cell are part of its column.
        assert_eq!(
            error("\n\nTime,a\n\n0,1\n1,  bad\n"),
            "f.csv:6:3: `bad` in column `a` is not a number"
        );
        assert_eq!(error(""), "f.csv:1:1: empty table: expected a header row");
        assert_eq!(
            error("\n \t\r\n"),
            "f.csv:1:1: empty table: expected a header row"
        );
    }

    #[test]
    fn crlf_and_bare_cr() {
        let crlf = "Time,\"a\r\nb\"\r\n\r\n0,1\r\n1,\r\n2,x\r\n";
        assert_eq!(
            error(crlf),
            "f.csv:6:3: `x` in column `a\r\nb` is not a number"
        );
        let t = Table::parse(&crlf.replace("2,x\r\n", ""), None).unwrap();
        assert_eq!(t.headers(), ["Time", "a\r\nb"]);
        assert_eq!(
            t.rows(),
            [vec![Some(0.0), Some(1.0)], vec![Some(1.0), None]]
        );
        assert_eq!(
            error("Time,a\r\r0,1\r1,bad"),
            "f.csv:4:3: `bad` in column `a` is not a number"
        );
    }

    #[test]
    fn tab_delimited() {
        let t = Table::parse("Time\t\"a, b\"\tc\n0\t1\t\n\t\t\n1\t 2 \t3", None).unwrap();
        assert_eq!(t.headers(), ["Time", "a, b", "c"]);
        assert_eq!(
            t.rows(),
            [
                vec![Some(0.0), Some(1.0), None],
                vec![Some(1.0), Some(2.0), Some(3.0)]
            ]
        );
        assert_eq!(
            error("Time\ta\n0\t1,5"),
            "f.csv:2:3: `1,5` in column `a` is not a number"
        );
        // A tab inside a quoted header is not a delimiter.
        let t = Table::parse("\"a\tb\",c\n1,2", None).unwrap();
        assert_eq!(t.headers(), ["a\tb", "c"]);
    }

    #[test]
    fn byte_order_mark() {
        let t = Table::parse("\u{feff}Time,a\n0,1", None).unwrap();
        assert_eq!(t.headers(), ["Time", "a"]);
        assert_eq!(t.column("time").unwrap(), [Some(0.0)]);
        assert_eq!(
            error("\u{feff}Time,a\n0,x"),
            "f.csv:2:3: `x` in column `a` is not a number"
        );
        assert_eq!(
            error("\u{feff}x,y\n1,2,3"),
            "f.csv:2:5: row has 3 cells but the header has 2"
        );
    }

    #[test]
    fn short_rows_and_blank_lines() {
        let records = Records::parse("a,b,c\n  \n1\n\n , \n", Some("r.csv")).unwrap();
        assert_eq!(records.rows.len(), 2);
        assert_eq!(records.rows[0].cells, ["1", "", ""]);
        assert_eq!(records.rows[0].line, 3);
        assert_eq!(records.rows[1].cells, ["", "", ""]);
        assert_eq!(records.rows[1].line, 5);
        assert_eq!(
            records.location(&records.rows[1], 1).to_string(),
            "r.csv:5:3"
        );
    }
}
