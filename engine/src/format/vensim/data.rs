//! External data: Vensim's `GET XLS ...` and `GET DIRECT ...` functions
//! read from spreadsheets (`.xlsx`, `.xlsm`, `.xls`, `.ods`, with
//! calamine) or from CSV and tab-separated text (`.csv`, `.tab`, `.txt`),
//! found relative to the model file.
//!
//! - `GET DIRECT CONSTANTS('file', 'sheet', 'B2')`: numbers from cell B2 on,
//!   along the row for a variable over one range, one row per element of
//!   the first range for two; `'B2*'` reads them transposed. A cell may be a
//!   named range of the workbook.
//! - `GET DIRECT DATA('file', 'sheet', '4', 'C5')`: a series over time, the
//!   times in row 4 (or, for a column letter such as `'A'`, down that
//!   column) from the first data cell C5 on; one row (or column) per
//!   element. `GET DIRECT LOOKUPS` reads a lookup the same way.
//! - `GET XLS ...` is read as `GET DIRECT ...`.
//!
//! A data variable is a lookup over `TIME`: `:INTERPOLATE:` (the default)
//! interpolates linearly, `:HOLD BACKWARD:` holds each value until the
//! next, `:LOOK FORWARD:` takes the next value; both ends hold; `:RAW:`
//! holds each point (with a warning). `GET DIRECT SUBSCRIPT` defines a
//! subscript range from cells' text.

use super::Reader;
use calamine::{DataType, Reader as _};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What an external function reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Constants,
    Data,
    Lookups,
}

/// A `GET ...` call, read from its text.
#[derive(Clone, Debug)]
pub(super) struct External {
    pub(super) kind: Kind,
    file: String,
    sheet: String,
    /// For data and lookups: the row number or column letters of the
    /// times (or x values), or a named range.
    axis: Option<String>,
    /// The first cell, or a named range; `*` at the end transposes
    /// constants.
    cell: String,
}

/// How a data variable reads between its points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DataMode {
    Interpolate,
    HoldBackward,
    LookForward,
    /// `:RAW:`: the points as given; between them Vensim has no value,
    /// and the previous point is held here (with a warning).
    Raw,
}

/// Reads `GET DIRECT CONSTANTS('f', 's', 'c')` and its kin; `None` when
/// `rhs` is no such call, `Err` for one that cannot be read.
pub(super) fn parse_call(rhs: &str) -> Option<Result<External, String>> {
    let text = rhs.trim();
    let open = text.find('(')?;
    let name = crate::name::canonical_name(&text[..open]);
    let kind = match name.as_str() {
        "get_direct_constants" | "get_xls_constants" => Kind::Constants,
        "get_direct_data" | "get_xls_data" | "get_data" => Kind::Data,
        "get_direct_lookups" | "get_xls_lookups" => Kind::Lookups,
        _ if name.starts_with("get_direct_") || name.starts_with("get_xls_") => {
            return Some(Err(format!(
                "`{}` is not supported: give the values in the model",
                text[..open].trim()
            )));
        }
        _ => return None,
    };
    let Some(inner) = text[open + 1..].trim_end().strip_suffix(')') else {
        return Some(Err("expected `)` at the end of the call".into()));
    };
    let args: Vec<String> = inner
        .split(',')
        .map(|a| {
            a.trim()
                .trim_matches('\'')
                .trim_matches('"')
                .trim()
                .to_string()
        })
        .collect();
    let expected = if kind == Kind::Constants { 3 } else { 4 };
    if args.len() != expected {
        return Some(Err(format!(
            "`{}` takes {expected} arguments ('file', 'sheet', {}), got {}",
            text[..open].trim(),
            if kind == Kind::Constants {
                "'first cell'"
            } else {
                "'time row or column', 'first cell'"
            },
            args.len()
        )));
    }
    let mut args = args.into_iter();
    let file = args.next().unwrap_or_default();
    let sheet = args.next().unwrap_or_default();
    let (axis, cell) = if kind == Kind::Constants {
        (None, args.next().unwrap_or_default())
    } else {
        let axis = args.next();
        (axis, args.next().unwrap_or_default())
    };
    Some(Ok(External {
        kind,
        file,
        sheet,
        axis,
        cell,
    }))
}

/// A cell range: its sheet, first cell and last cell ((row, column), from 0).
type Place = (String, (u32, u32), (u32, u32));

/// A sheet's numbers by (row, column), from 0.
#[derive(Default)]
pub(super) struct Grid {
    cells: HashMap<(u32, u32), f64>,
}

impl Grid {
    fn get(&self, row: u32, column: u32) -> Option<f64> {
        self.cells.get(&(row, column)).copied()
    }

    /// Keeps the number `v` read from `text` in a cell of `path`; refuses
    /// one that is not finite (`inf`, `NaN`, `1e999`), which Rust would
    /// read as a number and the run would carry as one.
    fn insert(
        &mut self,
        row: u32,
        column: u32,
        v: f64,
        text: &str,
        path: &Path,
    ) -> Result<(), String> {
        if !v.is_finite() {
            return Err(format!(
                "cell {} of `{}` holds `{text}`, not a finite number: leave it blank for a missing value",
                cell_name(row, column),
                path.display()
            ));
        }
        self.cells.insert((row, column), v);
        Ok(())
    }
}

/// The files read so far: each sheet's numbers and each workbook's named
/// ranges (name to sheet, first cell, last cell).
#[derive(Default)]
pub(super) struct Workbooks {
    sheets: HashMap<(PathBuf, String), Grid>,
    names: HashMap<PathBuf, HashMap<String, Place>>,
}

/// `C5` as (row 4, column 2).
fn cell_position(cell: &str) -> Option<(u32, u32)> {
    let cell = cell.trim().replace('$', "");
    let letters: String = cell
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let digits = &cell[letters.len()..];
    if letters.is_empty() || digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let column = column_number(&letters)?;
    let row: u32 = digits.parse().ok()?;
    Some((row.checked_sub(1)?, column))
}

/// `C` as 2, `AA` as 26.
fn column_number(letters: &str) -> Option<u32> {
    let mut n = 0u32;
    for c in letters.chars() {
        n = n
            .checked_mul(26)?
            .checked_add(u32::from(c.to_ascii_uppercase() as u8 - b'A' + 1))?;
    }
    n.checked_sub(1)
}

/// The arguments of `GET DIRECT SUBSCRIPT('file', 'sheet', 'first',
/// 'last', 'prefix')` (or `GET XLS SUBSCRIPT`); `None` for any other text.
pub(super) fn subscript_call(text: &str) -> Option<Result<[String; 5], String>> {
    let text = text.trim();
    let open = text.find('(')?;
    let name = crate::name::canonical_name(&text[..open]);
    if name != "get_direct_subscript" && name != "get_xls_subscript" {
        return None;
    }
    let Some(inner) = text[open + 1..].trim_end().strip_suffix(')') else {
        return Some(Err("expected `)` at the end of the call".into()));
    };
    let args: Vec<String> = inner
        .split(',')
        .map(|a| a.trim().trim_matches('\'').trim_matches('"').to_string())
        .collect();
    match <[String; 5]>::try_from(args) {
        Ok(args) => Some(Ok(args)),
        Err(args) => Some(Err(format!(
            "`{}` takes 5 arguments ('file', 'sheet', 'first cell', 'last cell', 'prefix'), got {}",
            text[..open].trim(),
            args.len()
        ))),
    }
}

impl Reader<'_> {
    /// The elements of a subscript range read from a file by `GET DIRECT
    /// SUBSCRIPT`: the text of each cell from the first cell to the last
    /// (a row, a column or a block, row by row), after the prefix. A blank
    /// last cell reads on from the first cell, along its row if the cell to
    /// its right holds text, else down its column, to the first empty cell.
    pub(super) fn subscript_elements(&mut self, args: &[String; 5]) -> Result<Vec<String>, String> {
        let [file, sheet, first, last, prefix] = args;
        let Some(dir) = self.dir.clone() else {
            return Err(format!(
                "external data (`{file}`) is read relative to the model file: load the model from its file"
            ));
        };
        let path = dir.join(file);
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let mut cells: HashMap<(u32, u32), String> = HashMap::new();
        match extension.as_str() {
            "csv" | "tab" | "txt" => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
                let separator = if extension == "csv" { ',' } else { '\t' };
                for (row, line) in text.lines().enumerate() {
                    for (column, cell) in line.split(separator).enumerate() {
                        let cell = cell.trim().trim_matches('"').trim();
                        if !cell.is_empty() {
                            cells.insert((row as u32, column as u32), cell.to_string());
                        }
                    }
                }
            }
            _ => {
                let mut workbook = calamine::open_workbook_auto(&path)
                    .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
                let range = workbook.worksheet_range(sheet).map_err(|e| {
                    format!("cannot read sheet `{sheet}` of `{}`: {e}", path.display())
                })?;
                let (r0, c0) = range.start().unwrap_or((0, 0));
                for (row, column, value) in range.used_cells() {
                    let text = match value.as_f64() {
                        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
                        _ => value.to_string(),
                    };
                    let text = text.trim().to_string();
                    if !text.is_empty() {
                        cells.insert((r0 + row as u32, c0 + column as u32), text);
                    }
                }
            }
        }
        let start = cell_position(first)
            .ok_or_else(|| format!("`{first}` is not a cell (such as `B2`)"))?;
        let end = if last.trim().is_empty() {
            let along_row = cells.contains_key(&(start.0, start.1 + 1));
            let mut at = start;
            loop {
                let next = if along_row {
                    (at.0, at.1 + 1)
                } else {
                    (at.0 + 1, at.1)
                };
                if !cells.contains_key(&next) {
                    break at;
                }
                at = next;
            }
        } else {
            cell_position(last).ok_or_else(|| format!("`{last}` is not a cell (such as `B2`)"))?
        };
        if end.0 < start.0 || end.1 < start.1 {
            return Err(format!(
                "the last cell `{last}` comes before the first, `{first}`"
            ));
        }
        let count = u64::from(end.0 - start.0 + 1) * u64::from(end.1 - start.1 + 1);
        if count > 1_000_000 {
            return Err(format!(
                "`{first}` to `{last}` is {count} cells: too many elements"
            ));
        }
        let mut elements = Vec::new();
        for row in start.0..=end.0 {
            for column in start.1..=end.1 {
                match cells.get(&(row, column)) {
                    Some(text) => elements.push(format!("{prefix}{text}")),
                    None => {
                        return Err(format!(
                            "cell {} of sheet `{sheet}` of `{file}` is empty: a subscript element needs a name",
                            cell_name(row, column)
                        ));
                    }
                }
            }
        }
        Ok(elements)
    }

    /// The sheet `sheet` of `file` (relative to the model), read once.
    fn grid(&mut self, file: &str, sheet: &str) -> Result<(PathBuf, String), String> {
        let Some(dir) = self.dir.clone() else {
            return Err(format!(
                "external data (`{file}`) is read relative to the model file: load the model from its file"
            ));
        };
        let path = dir.join(file);
        let key = (path.clone(), sheet.to_string());
        if self.workbooks.sheets.contains_key(&key) {
            return Ok(key);
        }
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let mut grid = Grid::default();
        match extension.as_str() {
            "csv" | "tab" | "txt" => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
                let separator = if extension == "csv" { ',' } else { '\t' };
                for (row, line) in text.lines().enumerate() {
                    for (column, cell) in line.split(separator).enumerate() {
                        let cell = cell.trim().trim_matches('"');
                        if let Ok(v) = cell.parse::<f64>() {
                            grid.insert(row as u32, column as u32, v, cell, &path)?;
                        }
                    }
                }
            }
            _ => {
                let mut workbook = calamine::open_workbook_auto(&path)
                    .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
                if !self.workbooks.names.contains_key(&path) {
                    let mut names = HashMap::new();
                    for (name, reference) in workbook.defined_names() {
                        if let Some(target) = named_range(reference) {
                            names.insert(crate::name::canonical_name(name), target);
                        }
                    }
                    self.workbooks.names.insert(path.clone(), names);
                }
                let range = workbook.worksheet_range(sheet).map_err(|e| {
                    format!("cannot read sheet `{sheet}` of `{}`: {e}", path.display())
                })?;
                for (row, column, value) in range.used_cells() {
                    if let Some(v) = value.as_f64() {
                        let (r0, c0) = range.start().unwrap_or((0, 0));
                        let text = value.to_string();
                        grid.insert(r0 + row as u32, c0 + column as u32, v, &text, &path)?;
                    }
                }
            }
        }
        self.workbooks.sheets.insert(key.clone(), grid);
        Ok(key)
    }

    /// A cell or named range: (sheet, first cell, last cell).
    fn place(&self, path: &Path, sheet: &str, cell: &str) -> Result<Place, String> {
        if let Some(at) = cell_position(cell) {
            return Ok((sheet.to_string(), at, at));
        }
        self.workbooks
            .names
            .get(path)
            .and_then(|names| names.get(&crate::name::canonical_name(cell)))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "`{cell}` is neither a cell (such as `B2`) nor a named range of `{}`",
                    path.display()
                )
            })
    }

    /// The value of element `index` (its position along the ranges the
    /// definition covers: `(along the first range, along the second)`) of
    /// a `GET ... CONSTANTS`.
    pub(super) fn external_constant(
        &mut self,
        external: &External,
        index: (u32, u32),
        ranges: usize,
    ) -> Result<f64, String> {
        let (path, sheet) = self.grid(&external.file, &external.sheet)?;
        let transposed = external.cell.ends_with('*');
        let cell = external.cell.trim_end_matches('*');
        let (sheet, (row, column), _) = self.place(&path, &sheet, cell)?;
        let (sheet_key, _) = self.grid(&external.file, &sheet)?;
        // One range runs along the row; two: rows, then columns.
        let (down, across) = match ranges {
            0 => (0, 0),
            1 => (0, index.0),
            _ => (index.0, index.1),
        };
        let (down, across) = if transposed {
            (across, down)
        } else {
            (down, across)
        };
        let grid = self.workbooks.sheets.get(&(sheet_key, sheet.clone()));
        grid.and_then(|g| g.get(row + down, column + across))
            .ok_or_else(|| {
                format!(
                    "no number in cell {} of sheet `{sheet}` of `{}`",
                    cell_name(row + down, column + across),
                    external.file
                )
            })
    }

    /// The points (time or x, value) of element `index` (its position along
    /// the one range the definition covers) of a `GET ... DATA` or
    /// `GET ... LOOKUPS`.
    pub(super) fn external_series(
        &mut self,
        external: &External,
        index: u32,
    ) -> Result<Vec<(f64, f64)>, String> {
        let (path, sheet) = self.grid(&external.file, &external.sheet)?;
        let axis = external.axis.clone().unwrap_or_default();
        let (sheet, (row, column), _) = self.place(&path, &sheet, &external.cell)?;
        let (sheet_key, _) = self.grid(&external.file, &sheet)?;
        // The axis: a named range, a row number or column letters.
        let named = self
            .workbooks
            .names
            .get(&path)
            .is_some_and(|names| names.contains_key(&crate::name::canonical_name(&axis)));
        let (along_row, axis_line, start) = if named {
            let (_, first, last) = self.place(&path, &sheet, &axis)?;
            if first.1 == last.1 && first.0 != last.0 {
                (false, first.1, first.0)
            } else {
                (true, first.0, first.1)
            }
        } else if !axis.is_empty() && axis.chars().all(|c| c.is_ascii_digit()) {
            let r: u32 = axis
                .parse()
                .map_err(|_| format!("`{axis}` is not a row number"))?;
            (true, r.saturating_sub(1), column)
        } else if (1..=3).contains(&axis.len()) && axis.chars().all(|c| c.is_ascii_alphabetic()) {
            let c = column_number(&axis).ok_or_else(|| format!("`{axis}` is not a column"))?;
            (false, c, row)
        } else {
            return Err(format!(
                "`{axis}` is neither a row number, a column nor a named range of `{}`",
                external.file
            ));
        };
        let Some(grid) = self.workbooks.sheets.get(&(sheet_key, sheet.clone())) else {
            return Err(format!(
                "sheet `{sheet}` of `{}` was not read",
                external.file
            ));
        };
        let mut points = Vec::new();
        let mut step = 0u32;
        loop {
            let (x, y) = if along_row {
                (
                    grid.get(axis_line, start + step),
                    grid.get(row + index, column + step),
                )
            } else {
                (
                    grid.get(start + step, axis_line),
                    grid.get(row + step, column + index),
                )
            };
            let Some(x) = x else { break };
            if let Some(y) = y {
                points.push((x, y));
            }
            step += 1;
            if step > 1_000_000 {
                break;
            }
        }
        if points.is_empty() {
            return Err(format!(
                "no numbers found for `{}` in sheet `{sheet}` of `{}`",
                external.cell, external.file
            ));
        }
        Ok(points)
    }
}

/// `Sheet1!$B$3:$E$3` as (sheet, first cell, last cell).
fn named_range(reference: &str) -> Option<Place> {
    let (sheet, cells) = reference.rsplit_once('!')?;
    let sheet = sheet.trim_matches('\'').to_string();
    let (first, last) = cells.split_once(':').unwrap_or((cells, cells));
    Some((sheet, cell_position(first)?, cell_position(last)?))
}

/// (4, 2) as `C5`.
fn cell_name(row: u32, column: u32) -> String {
    let mut letters = String::new();
    let mut n = column + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.insert(0, (b'A' + rem as u8) as char);
        n = (n - 1) / 26;
    }
    format!("{letters}{}", row + 1)
}

/// The points of a data variable read with `mode`, for a lookup over
/// `TIME` with the given interpolation.
pub(super) fn data_points(points: Vec<(f64, f64)>, mode: DataMode) -> Vec<(f64, f64)> {
    match mode {
        DataMode::Interpolate | DataMode::HoldBackward | DataMode::Raw => points,
        // The next value from just after each point: a step function
        // whose steps start a hair after the points.
        DataMode::LookForward => {
            let mut out = Vec::with_capacity(points.len());
            if let Some(&first) = points.first() {
                out.push(first);
            }
            for w in points.windows(2) {
                let (x, _) = w[0];
                let (_, next) = w[1];
                let hair = 1e-9 * x.abs().max(1.0);
                out.push((x + hair, next));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_columns() {
        assert_eq!(cell_position("C5"), Some((4, 2)));
        assert_eq!(cell_position("$AA$1"), Some((0, 26)));
        assert_eq!(cell_position("5"), None);
        assert_eq!(cell_name(4, 2), "C5");
        assert_eq!(cell_name(0, 26), "AA1");
        assert_eq!(
            named_range("Sheet2!$B$3:$E$3"),
            Some(("Sheet2".into(), (2, 1), (2, 4)))
        );
    }

    #[test]
    fn calls() {
        let e = parse_call("GET DIRECT DATA('a.xlsx', 'S', '4', 'C5')")
            .unwrap()
            .unwrap();
        assert_eq!(e.kind, Kind::Data);
        assert_eq!((e.axis.as_deref(), e.cell.as_str()), (Some("4"), "C5"));
        assert!(
            parse_call("GET DIRECT SUBSCRIPT('a', 'b', 'c', 'd', 'e')")
                .unwrap()
                .is_err()
        );
        assert!(parse_call("GET XLS CONSTANTS('a', 'b')").unwrap().is_err());
        assert!(parse_call("x + 1").is_none());
        let forward = data_points(vec![(0.0, 1.0), (2.0, 5.0)], DataMode::LookForward);
        assert_eq!(forward[0], (0.0, 1.0));
        assert_eq!(forward[1].1, 5.0);
    }
}
