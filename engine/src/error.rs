//! The crate's one error type.
//!
//! Every error a user can cause carries enough context to act on it: the file,
//! line and column for problems in model files, the variable for problems in
//! a model, the variable and simulated time for a run that breaks down.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A position in a source file or in a single equation.
///
/// Lines and columns count from 1; columns count characters, not bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, when the text came from one.
    pub file: Option<Arc<str>>,
    /// Line number, from 1.
    pub line: usize,
    /// Column number (in characters), from 1.
    pub column: usize,
}

impl Location {
    /// A location in a named file.
    pub fn in_file(file: Arc<str>, line: usize, column: usize) -> Self {
        Location {
            file: Some(file),
            line,
            column,
        }
    }

    /// Computes the location of a byte `offset` in `text`, where `text` itself
    /// starts at `origin` (or at line 1, column 1 of an unnamed text).
    pub fn of_offset(text: &str, offset: usize, origin: Option<&Location>) -> Location {
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line_in_text = before.matches('\n').count();
        let column_in_line = match before.rfind('\n') {
            Some(nl) => before[nl + 1..].chars().count(),
            None => before.chars().count(),
        };
        Location::placed(line_in_text, column_in_line, origin)
    }

    /// The location `line_in_text` lines and `column_in_line` characters
    /// into a text that starts at `origin`.
    fn placed(line_in_text: usize, column_in_line: usize, origin: Option<&Location>) -> Location {
        match origin {
            Some(origin) if line_in_text == 0 => Location {
                file: origin.file.clone(),
                line: origin.line,
                column: origin.column + column_in_line,
            },
            Some(origin) => Location {
                file: origin.file.clone(),
                line: origin.line + line_in_text,
                column: column_in_line + 1,
            },
            None => Location {
                file: None,
                line: line_in_text + 1,
                column: column_in_line + 1,
            },
        }
    }
}

/// Where the lines of a text start, so that many byte offsets can be
/// turned into locations each in time proportional to its line, not to the
/// text ([`Location::of_offset`] counts from the start: a reader that
/// located every variable of a large file that way took quadratic time).
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// The line starts of `text`.
    pub(crate) fn new(text: &str) -> LineIndex {
        LineIndex {
            starts: std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        }
    }

    /// As [`Location::of_offset`] for the text this index was made from.
    pub(crate) fn location(
        &self,
        text: &str,
        offset: usize,
        origin: Option<&Location>,
    ) -> Location {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0).min(offset);
        Location::placed(line, text[start..offset].chars().count(), origin)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}:{}:{}", self.line, self.column),
            None => write!(f, "line {}, column {}", self.line, self.column),
        }
    }
}

/// Everything that can go wrong in carecascade.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An equation could not be parsed or refers to something that does not
    /// exist. The location points into the file (or into the equation, for
    /// models built in code).
    #[error("{}", equation_message(.location, .variable, .message))]
    Equation {
        /// Where in the file or equation.
        location: Location,
        /// The variable whose equation is at fault.
        variable: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A model or scenario file is malformed (bad TOML, unknown or missing field,
    /// wrong type).
    #[error("{location}: {message}")]
    File {
        /// Where in the file.
        location: Location,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A variable is inconsistent with the rest of the model (an inflow that does
    /// not exist, a duplicate name, a lookup with unsorted points, ...).
    #[error("{}", model_message(.location, .variable, .message))]
    Model {
        /// The variable.
        variable: String,
        /// Where it is defined, when known.
        location: Option<Location>,
        /// What was wrong.
        message: String,
    },
    /// Non-stock variables depend on each other in a loop, so no order of
    /// evaluation exists. Break the loop with a stock or a delay.
    #[error("circular dependency{}: {}", if *.initial { " when computing initial values" } else { "" }, .names.join(" -> "))]
    Cycle {
        /// The variables in the loop, ending with the first again.
        names: Vec<String>,
        /// Whether the loop exists only among initial-value equations.
        initial: bool,
    },
    /// Time settings that cannot be simulated.
    #[error("invalid time settings: {0}")]
    Time(String),
    /// A name given to a run (a `--set` or a parameter override) is not a
    /// constant of the model.
    #[error("{}", unknown_parameter_message(.name, .reason, .suggestion))]
    Parameter {
        /// The name as given.
        name: String,
        /// Why it cannot be set.
        reason: String,
        /// The closest constant name, if any is close.
        suggestion: Option<String>,
    },
    /// A value given to the library is out of range (a negative count, NaN for a
    /// parameter, ...).
    #[error("invalid {what}: {message}")]
    Invalid {
        /// What the value is.
        what: String,
        /// What was expected.
        message: String,
    },
    /// A run of an ensemble failed: the scenario, the run, its draws of the
    /// uncertain parameters, and the run's own error.
    #[error("scenario `{scenario}`, run {run}: {source}{}", draws_text(.draws))]
    Run {
        /// The scenario's name.
        scenario: String,
        /// The run's index.
        run: usize,
        /// Each uncertain parameter's value in the run.
        draws: Vec<(String, f64)>,
        /// What went wrong.
        source: Box<Error>,
    },
    /// A variable became NaN or infinite during a run.
    #[error("`{variable}` became {value} at time {time}{}", if .hint.is_empty() { String::new() } else { format!(" ({})", .hint) })]
    NonFinite {
        /// The first variable (in evaluation order) that is not finite.
        variable: String,
        /// The simulated time.
        time: f64,
        /// The value (NaN, inf or -inf).
        value: f64,
        /// A hint on the likely cause, or empty.
        hint: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Several independent errors, reported together so that a user can fix
    /// them in one pass.
    #[error("{}", many_message(.0))]
    Many(Vec<Error>),
}

/// Shorthand for results with the crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds one error from a list: `Ok` when empty, the error itself when
    /// there is one, [`Error::Many`] otherwise.
    pub fn from_list(errors: Vec<Error>) -> Result<()> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::many(errors))
        }
    }

    /// One error for a non-empty list.
    pub(crate) fn many(mut errors: Vec<Error>) -> Error {
        if errors.len() == 1 {
            errors.remove(0)
        } else {
            Error::Many(errors)
        }
    }

    /// The individual errors, owned.
    pub(crate) fn into_list(self) -> Vec<Error> {
        match self {
            Error::Many(list) => list,
            other => vec![other],
        }
    }

    /// The individual errors: the list for [`Error::Many`], else just this one.
    pub fn iter(&self) -> impl Iterator<Item = &Error> {
        let slice: &[Error] = match self {
            Error::Many(list) => list,
            other => std::slice::from_ref(other),
        };
        slice.iter()
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

fn equation_message(location: &Location, variable: &str, message: &str) -> String {
    match location.file {
        Some(_) => format!("{location}: {message} (in the equation of `{variable}`)"),
        None => format!("in the equation of `{variable}`, {location}: {message}"),
    }
}

fn model_message(location: &Option<Location>, variable: &str, message: &str) -> String {
    match location {
        Some(location) => format!("{location}: `{variable}`: {message}"),
        None => format!("`{variable}`: {message}"),
    }
}

fn unknown_parameter_message(name: &str, reason: &str, suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("cannot set `{name}`: {reason}; did you mean `{s}`?"),
        None => format!("cannot set `{name}`: {reason}"),
    }
}

/// How many of several errors are listed in full.
fn draws_text(draws: &[(String, f64)]) -> String {
    if draws.is_empty() {
        return String::new();
    }
    let values: Vec<String> = draws.iter().map(|(n, v)| format!("{n} = {v}")).collect();
    format!(" (draws: {})", values.join(", "))
}

pub(crate) const ERRORS_SHOWN: usize = 30;

fn many_message(errors: &[Error]) -> String {
    let mut lines: Vec<String> = errors
        .iter()
        .take(ERRORS_SHOWN)
        .map(|e| e.to_string())
        .collect();
    if errors.len() > ERRORS_SHOWN {
        lines.push(format!("... and {} more", errors.len() - ERRORS_SHOWN));
    }
    format!("{} errors:\n{}", errors.len(), lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let text = "a +\n  b";
        assert_eq!(Location::of_offset(text, 0, None).column, 1);
        let loc = Location::of_offset(text, 6, None);
        assert_eq!((loc.line, loc.column), (2, 3));
        let origin = Location::in_file("m.toml".into(), 10, 14);
        let loc = Location::of_offset(text, 2, Some(&origin));
        assert_eq!((loc.line, loc.column), (10, 16));
        let loc = Location::of_offset(text, 6, Some(&origin));
        assert_eq!((loc.line, loc.column), (11, 3));
        assert_eq!(loc.to_string(), "m.toml:11:3");
    }
}
