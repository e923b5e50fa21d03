//! Resource limits: how large a model may grow once its arrays are
//! expanded, and how many values a run may keep, checked before anything
//! that size is allocated. A small file can describe a huge model (two
//! dimensions of 100,000 elements make an array of ten billion), so the
//! readers and the compiler estimate first and refuse past the limits, with
//! the estimate in the message, instead of allocating until the machine
//! runs out of memory. `docs/limits.md` lists every limit.
//!
//! The limits are process-wide: [`Limits::current`] is what the readers,
//! the compiler and runs check; [`Limits::set`] changes it (the command
//! line's `--max-elements`, `--max-terms` and `--max-values`).
//!
//! ```
//! use carecascade_engine::Limits;
//!
//! let limits = Limits::current();
//! assert_eq!(limits.elements, Limits::DEFAULT.elements);
//! // A program that needs bigger models raises them once, at start-up:
//! // Limits { elements: 5_000_000, ..Limits::current() }.set();
//! ```

use crate::error::Error;
use std::sync::atomic::{AtomicU64, Ordering};

/// The limits on a model's size and a run's kept values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most elements a model may have: the elements of all its
    /// dimensions together, and (separately) its scalar values once arrays
    /// are expanded (each variable counts the product of its dimensions'
    /// sizes). About 0.5 KB of memory each while compiling.
    pub elements: u64,
    /// The most terms (numbers, names, operators, function calls) a
    /// model's equations may have once arrays are expanded: an arrayed
    /// equation counts once per element, and `SUM(x[*])` counts the
    /// elements it adds up.
    pub terms: u64,
    /// The most values a run may keep: saved times x saved variables
    /// (8 bytes each).
    pub stored_values: u64,
}

impl Limits {
    /// The limits unless changed: half a million elements, five million
    /// terms, a hundred million kept values (800 MB). Within them, reading
    /// and compiling a model takes well under 1 GB of memory (about 0.5 KB
    /// an element and 80 bytes a term) and a few seconds.
    pub const DEFAULT: Limits = Limits {
        elements: 500_000,
        terms: 5_000_000,
        stored_values: 100_000_000,
    };

    /// The limits in force in this process.
    pub fn current() -> Limits {
        Limits {
            elements: ELEMENTS.load(Ordering::Relaxed),
            terms: TERMS.load(Ordering::Relaxed),
            stored_values: STORED_VALUES.load(Ordering::Relaxed),
        }
    }

    /// Makes these the limits in force in this process (for every thread,
    /// from the next model read, compiled or run).
    pub fn set(self) {
        ELEMENTS.store(self.elements, Ordering::Relaxed);
        TERMS.store(self.terms, Ordering::Relaxed);
        STORED_VALUES.store(self.stored_values, Ordering::Relaxed);
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

static ELEMENTS: AtomicU64 = AtomicU64::new(Limits::DEFAULT.elements);
static TERMS: AtomicU64 = AtomicU64::new(Limits::DEFAULT.terms);
static STORED_VALUES: AtomicU64 = AtomicU64::new(Limits::DEFAULT.stored_values);

/// A count with thousands separators, for messages.
pub(crate) fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The message for a model whose dimensions have too many elements.
pub(crate) fn too_many_dimension_elements(count: u128) -> String {
    format!(
        "the model's dimensions have {} elements together, more than the limit of {} (raise it with --max-elements, or Limits::elements in the library)",
        thousands(count),
        thousands(Limits::current().elements.into())
    )
}

/// An error for a model that would be too large to compile: at the
/// variable that contributes most (named, and located when it came from a
/// file), or about the whole model.
pub(crate) fn too_large(
    what: &str,
    estimate: u128,
    largest: Option<(&crate::model::Variable, u128)>,
    limit: u64,
    flag: &str,
    field: &str,
) -> Error {
    let message = format!(
        "{what}: about {}, more than the limit of {} (raise it with {flag}, or Limits::{field} in the library)",
        thousands(estimate),
        thousands(limit.into())
    );
    match largest {
        Some((variable, count)) => Error::Model {
            variable: variable.name().to_string(),
            location: variable.location().cloned(),
            message: format!("{message}; this variable has {}", thousands(count)),
        },
        None => Error::Invalid {
            what: "model size".into(),
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(10_000_000_000), "10,000,000,000");
    }
}
