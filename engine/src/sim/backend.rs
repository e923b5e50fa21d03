//! Which back end runs a program: the interpreter (the reference) or
//! machine code compiled from the same operations at run time (the `jit`
//! feature, on by default).
//!
//! The compiled code applies the same operations in the same order with the
//! same IEEE arithmetic (no fused multiply-add, no reassociation), and the
//! functions it does not inline call the interpreter's own Rust functions,
//! so a compiled run gives bit for bit what an interpreted run gives. A
//! program with an operation the compiler does not know runs interpreted,
//! and [`Program::native_code`] says why.

use crate::program::Program;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

/// How runs evaluate a program's operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Walk the operation list: the reference, always available.
    Interpreter,
    /// Machine code generated from the operation list the first time a
    /// program runs this way, shared by every run of the program and its
    /// clones. Falls back to the interpreter (see [`Program::native_code`])
    /// when built without the `jit` feature, on a machine Cranelift does not
    /// support, or for a program with an operation it cannot compile.
    Compiled,
}

impl Backend {
    /// The back end new single runs ([`State`](crate::State)) use unless
    /// told otherwise: [`Backend::Compiled`], or what
    /// [`Backend::set_process_default`] set.
    pub fn process_default() -> Backend {
        Backend::default_for_lanes(1)
    }

    /// The back end new runs of `lanes` lanes use unless told otherwise:
    /// what [`Backend::set_process_default`] set, or else
    /// [`Backend::Compiled`], for single runs and batches alike
    /// ([`Batch`](crate::Batch)), and with them ensembles, calibration,
    /// sensitivity designs and backtests. Measured on the England model
    /// on two shared cores (ratios in the same run): a compiled single run
    /// 3-4x faster than the interpreter, a compiled batch of 8 about 2x
    /// faster than the interpreter's vectorised batch.
    pub fn default_for_lanes(lanes: usize) -> Backend {
        let _ = lanes;
        match DEFAULT.load(Ordering::Relaxed) {
            0 => Backend::Interpreter,
            _ => Backend::Compiled,
        }
    }

    /// Makes this the back end of every [`State`](crate::State) and
    /// [`Batch`](crate::Batch) created from now on, in every thread (the
    /// command line's `--backend`): ensembles, calibration and projections
    /// all follow it.
    pub fn set_process_default(self) {
        DEFAULT.store(
            match self {
                Backend::Interpreter => 0,
                Backend::Compiled => 1,
            },
            Ordering::Relaxed,
        );
    }

    /// The name used on the command line: `interpreter` or `compiled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Interpreter => "interpreter",
            Backend::Compiled => "compiled",
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Backend> {
        match s {
            "interpreter" => Ok(Backend::Interpreter),
            "compiled" => Ok(Backend::Compiled),
            _ => Err(crate::Error::Invalid {
                what: "backend".into(),
                message: format!("expected `interpreter` or `compiled`, not `{s}`"),
            }),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// 0 interpreter, 1 compiled, 2 not set (compiled).
static DEFAULT: AtomicU8 = AtomicU8::new(2);

/// Why a program asked to run compiled runs interpreted instead. Its
/// results are the same; only the speed differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    reason: String,
}

impl Fallback {
    pub(crate) fn new(reason: impl Into<String>) -> Fallback {
        Fallback {
            reason: reason.into(),
        }
    }

    /// Why, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "running interpreted: {}", self.reason)
    }
}

impl std::error::Error for Fallback {}

/// A program's compiled code, one set per lane count, made on first use and
/// shared by the program's clones.
#[cfg(feature = "jit")]
#[derive(Clone, Default)]
pub(crate) struct JitCache {
    #[allow(clippy::type_complexity)]
    entries: std::sync::Arc<
        std::sync::Mutex<Vec<(usize, Result<std::sync::Arc<crate::jit::Kernels>, Fallback>)>>,
    >,
}

#[cfg(feature = "jit")]
impl JitCache {
    /// The compiled code of `program` for `lanes` lanes, compiling it on
    /// first use.
    pub(crate) fn get(
        &self,
        program: &Program,
        lanes: usize,
    ) -> Result<std::sync::Arc<crate::jit::Kernels>, Fallback> {
        // A panic while compiling in another thread leaves the list as it
        // was: still usable.
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, entry)) = entries.iter().find(|(l, _)| *l == lanes) {
            return entry.clone();
        }
        let entry =
            crate::jit::compile(program, lanes, &crate::jit::Options::default()).map(Into::into);
        entries.push((lanes, entry.clone()));
        entry
    }

    /// Makes `entry` the compiled code for `lanes` lanes (for tests).
    #[cfg(test)]
    pub(crate) fn insert(
        &self,
        lanes: usize,
        entry: Result<std::sync::Arc<crate::jit::Kernels>, Fallback>,
    ) {
        let mut entries = self.entries.lock().unwrap();
        entries.retain(|(l, _)| *l != lanes);
        entries.push((lanes, entry));
    }
}

/// Without the `jit` feature there is nothing to keep.
#[cfg(not(feature = "jit"))]
#[derive(Clone, Default)]
pub(crate) struct JitCache;

impl fmt::Debug for JitCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JitCache")
    }
}

impl Program {
    /// Compiles the program to machine code for single runs (once; later
    /// calls and runs reuse it), or says why its runs with
    /// [`Backend::Compiled`] are interpreted instead.
    ///
    /// ```
    /// # use carecascade_engine::{Model, Program};
    /// # use carecascade_engine::build::{Flow, Stock};
    /// # let model = Model::builder("m").add(Stock::new("x", "1").inflow("f")).add(Flow::new("f", "1")).build()?;
    /// let program = Program::compile(&model)?;
    /// if let Err(fallback) = program.native_code() {
    ///     eprintln!("{fallback}");
    /// }
    /// # Ok::<(), carecascade_engine::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`Fallback`] with the reason: built without the `jit` feature, a
    /// machine Cranelift does not support, or an operation it cannot
    /// compile.
    pub fn native_code(&self) -> Result<(), Fallback> {
        #[cfg(feature = "jit")]
        {
            self.jit.get(self, 1).map(|_| ())
        }
        #[cfg(not(feature = "jit"))]
        {
            Err(Fallback::new(
                "the engine was built without the `jit` feature",
            ))
        }
    }

    /// How many runs a [`Batch`](crate::Batch) of this program should
    /// hold for speed (what ensembles and calibration use): under the
    /// back end new batches use ([`Backend::default_for_lanes`]),
    /// [`BATCH_LANES`](crate::BATCH_LANES) (8) for the interpreter and
    /// for a small model compiled, and 4 or 2 for a large model compiled
    /// (England: 4), whose compiled loop goes through the lanes two at a
    /// time and runs faster when a batch's values fit in the processor's
    /// fastest cache. Compiles the program for that many lanes if it was
    /// not already; a program that cannot be compiled gets 8. Every run
    /// gives the same numbers in a batch of any size.
    pub fn batch_lanes(&self) -> usize {
        let widest = crate::BATCH_LANES;
        #[cfg(feature = "jit")]
        if Backend::default_for_lanes(widest) == Backend::Compiled {
            let lanes = crate::jit::batch_lanes(self, widest);
            if lanes < widest && self.jit.get(self, lanes).is_ok() {
                return lanes;
            }
        }
        widest
    }
}
