//! A compiled program, the one thing the compiler and the simulator share:
//! the compiler makes it from a model, the simulator runs it.
//!
//! A [`Program`] is a flat list of operations ([`ops`]) over numbered `f64`
//! slots, with the parameters that can be set per run, the stocks to
//! integrate and their flows, the `DELAY FIXED` ring buffers to size, and the
//! output [`Columns`]. It is immutable and `Send + Sync`.

mod columns;
pub(crate) mod ops;
mod reference;
#[doc(hidden)]
pub use reference::CompiledReference;

pub use columns::Columns;

use crate::error::{Error, Location, Result};
use crate::model::{LookupTable, TimeSettings};
use crate::name::{canonical_name, closest};
use ops::Code;
use std::collections::HashMap;
use std::fmt;

/// A unit inconsistency or other problem that does not stop a model from
/// running: also what a file reader read with a default or a
/// reinterpretation, and a delay too short for its time step.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// The variable concerned (empty for the model as a whole).
    pub variable: String,
    /// Where it is defined, when known.
    pub location: Option<Location>,
    /// What is inconsistent.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.location, self.variable.is_empty()) {
            (Some(l), false) => write!(f, "{l}: `{}`: {}", self.variable, self.message),
            (Some(l), true) => write!(f, "{l}: {}", self.message),
            (None, false) => write!(f, "`{}`: {}", self.variable, self.message),
            (None, true) => write!(f, "{}", self.message),
        }
    }
}

/// A constant of a program, settable per run.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// The display name.
    pub name: String,
    /// The value in the model.
    pub default: f64,
    /// Whether it fixes the structure (the order of a `DELAY N` or
    /// `SMOOTH N`); such constants can only be changed by recompiling.
    pub structural: bool,
    pub(crate) slot: u32,
}

/// A handle to a parameter, for setting it in many runs without looking up
/// its name each time. It belongs to the program that made it (and its
/// clones): runs of another program refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParamId(pub(crate) usize, pub(crate) u64);

/// A number for each compiled program, so that a [`ParamId`] of one is
/// not taken for a parameter of another.
pub(crate) fn next_program_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// How a stock is integrated: `flow_terms[first_in..first_out]` are its
/// inflows and `flow_terms[first_out..end]` its outflows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StockUpdate {
    pub slot: u32,
    pub first_in: u32,
    pub first_out: u32,
    pub end: u32,
}

/// A `DELAY FIXED`: where its output, input, delay time and initial value are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RingSpec {
    pub input: u32,
    pub delay: u32,
    pub initial: u32,
}

/// The slots of the control variables a model computes during the run
/// (see [`crate::ControlVariables`]).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ControlSlots {
    pub final_time: Option<u32>,
    pub time_step: Option<u32>,
    pub saveper: Option<u32>,
}

/// A compiled model: immutable, shareable across threads, run with
/// [`Program::state`] or [`Program::run`].
#[derive(Debug, Clone)]
pub struct Program {
    /// This program's number (see [`ParamId`]).
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) time: TimeSettings,
    pub(crate) base_slots: Vec<f64>,
    pub(crate) params: Vec<Parameter>,
    pub(crate) param_index: HashMap<String, usize>,
    pub(crate) init_ops: Code,
    pub(crate) step_ops: Code,
    pub(crate) stocks: Vec<StockUpdate>,
    pub(crate) flow_terms: Vec<u32>,
    /// Computes each integrated stock's net flow into `derivatives + i`.
    pub(crate) derivative_ops: Code,
    /// `step_ops` then `derivative_ops`, for steps with no limiting in
    /// between: one pass evaluates everything.
    pub(crate) fused_ops: Code,
    /// The slots of the integrated stocks (those with flows), in the order
    /// of `stocks`.
    pub(crate) integrated: std::ops::Range<usize>,
    /// The first of the derivative slots.
    pub(crate) derivatives: usize,
    pub(crate) flows: Vec<u32>,
    pub(crate) non_negative: Vec<usize>,
    /// Sorted slots of the flows that non-negative limiting may scale.
    pub(crate) limited: Vec<u32>,
    pub(crate) tables: Vec<LookupTable>,
    pub(crate) rings: Vec<RingSpec>,
    /// The visible variables' slots: one row of results.
    pub(crate) outputs: std::ops::Range<usize>,
    /// The outputs' names, shared with every run's results.
    pub(crate) columns: std::sync::Arc<Columns>,
    /// Slots checked for NaN and infinity after every evaluation.
    pub(crate) checked: std::ops::Range<usize>,
    /// The checked slots in the order to search them (stocks, then
    /// evaluation order), with names.
    pub(crate) check_order: Vec<(u32, String)>,
    /// The slots of variables whose equations use Stella's `//`, sorted:
    /// a NaN there may be its refusal of a negative quotient.
    pub(crate) whole_division: Vec<u32>,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) other_names: Vec<(String, &'static str)>,
    /// The key of each random stream: stream `i` of a run seeded `s` is
    /// ChaCha8 seeded with `s`, on stream `random_streams[i]`.
    pub(crate) random_streams: Vec<u64>,
    /// Whether non-negative stocks serve their outflows in order (else
    /// in proportion).
    pub(crate) outflows_in_order: bool,
    /// Control settings computed during the run, if the model has any.
    pub(crate) control: Option<ControlSlots>,
    /// The compiled code, made on first use.
    #[cfg_attr(not(feature = "jit"), allow(dead_code))]
    pub(crate) jit: crate::sim::JitCache,
}

impl Program {
    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The default time settings.
    pub fn time(&self) -> &TimeSettings {
        &self.time
    }

    /// Unit inconsistencies found when compiling.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The constants that can be set per run.
    pub fn parameters(&self) -> &[Parameter] {
        &self.params
    }

    /// The output columns (display names): stocks, then auxiliaries and
    /// flows, then constants, each group in model order.
    pub fn output_names(&self) -> &[String] {
        self.columns.names()
    }

    /// The output columns, shared by every run's results: two programs
    /// with the same outputs in the same order have equal columns, and
    /// runs of one program share the same [`std::sync::Arc`].
    pub fn columns(&self) -> &std::sync::Arc<Columns> {
        &self.columns
    }

    /// The position of a variable among [`Program::output_names`] (in any
    /// spelling of its name; an array element as `name[element]`).
    pub fn output_index(&self, name: &str) -> Option<usize> {
        self.columns.get(name)
    }

    /// Finds a parameter by name.
    ///
    /// # Errors
    ///
    /// [`Error::Parameter`] if `name` is not a constant of the model, with the
    /// closest constant's name, or if it is structural.
    pub fn parameter(&self, name: &str) -> Result<ParamId> {
        let canonical = canonical_name(name);
        match self.param_index.get(&canonical) {
            Some(&i) if self.params[i].structural => Err(Error::Parameter {
                name: name.to_string(),
                reason: "it sets the order of a DELAY N or SMOOTH N, which is fixed when the model is compiled; change it in the model instead".into(),
                suggestion: None,
            }),
            Some(&i) => Ok(ParamId(i, self.id)),
            None => {
                let reason = match self
                    .other_names
                    .iter()
                    .find(|(n, _)| canonical_name(n) == canonical)
                {
                    Some((_, kind)) => format!("it is {kind} computed by the model, not a constant"),
                    None => "the model has no constant of that name".to_string(),
                };
                Err(Error::Parameter {
                    name: name.to_string(),
                    reason,
                    suggestion: closest(name, self.params.iter().map(|p| p.name.as_str())),
                })
            }
        }
    }

    /// The number of stocks integrated in each step: the model's stocks
    /// with flows plus the hidden stages of its delays and smooths.
    pub fn stock_count(&self) -> usize {
        self.stocks.len()
    }

    /// The number of operations evaluated per step (a measure of cost).
    pub fn ops_per_step(&self) -> usize {
        self.step_ops.len()
    }
}
