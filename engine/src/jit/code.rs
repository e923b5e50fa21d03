//! The only `unsafe` of the engine outside the interpreter's unchecked slot
//! access: turning generated machine code into callable functions, calling
//! them, and the helpers that compiled code calls with pointers (lookups,
//! `DELAY FIXED` rings, non-negative limiting).
//!
//! # Invariants
//!
//! 1. **The code lives as long as its pointers.** The function pointers are
//!    kept only inside [`Kernels`], next to the module that owns their
//!    memory (in the same struct or tuple); the memory is freed when that
//!    is dropped, when no pointer can be used any more.
//! 2. **Every access the code makes is in bounds.** A function compiled for
//!    `L` lanes over `slots` slots loads and stores only `f64`s (or pairs
//!    of them, `f64x2` without an alignment promise) at byte offsets
//!    `8 * (i * L + l)` with `i < slots` (checked by `Code::new` for every
//!    operation) and `l < L` (`l + 1 < L` for a pair); the compiled loop,
//!    running one group of `w` lanes at a time, adds `8 * g * w` to the
//!    slots' address for group `g < L / w` and then uses the offsets of
//!    lanes `0..w`, which comes to the same addresses. [`Kernels::run`] checks that the
//!    slot buffer holds at least `slots * L` values before calling, and
//!    the buffer is borrowed mutably for the call, so nothing else reads or
//!    writes it meanwhile.
//! 3. **Helpers are handed what they expect.** The lookup helper gets the
//!    program's tables and an index below their number (checked when
//!    compiling, and [`Kernels::run`] checks the count); the delay helper
//!    gets the `L` lanes' ring buffers and a lane below `L` (checked by
//!    [`Kernels::run`]), and reads a ring through checked indexing that
//!    gives NaN, never a panic, for a ring that is not there. Neither
//!    panics: a panic cannot unwind through generated code.
//! 4. **Signatures match.** Each function is generated with the signature
//!    `extern "C" fn(*mut f64, *const LookupTable, *const Rings)` in the
//!    host's C calling convention, and the Euler and Runge-Kutta loops
//!    with that of `Advance`; each helper is declared to the code with exactly its Rust
//!    signature.
//! 5. **Sharing is safe.** After `finalize_definitions` the module is never
//!    changed, and the code keeps no state of its own (everything is in its
//!    arguments), so [`Kernels`] is `Send` and `Sync`.
//! 6. **The loop's helpers get the run's own buffers.** The compiled
//!    loops (Euler, Runge-Kutta) are handed the program it was compiled from (checked by its id;
//!    clones share the id and the operations) and exactly its `slots * L`
//!    slots, which limiting reads and writes as a slice while the loop
//!    waits for it (for the lanes it names, clamped to `0..L`); the loop
//!    pushes `DELAY FIXED` inputs through the rings' mutable pointer with
//!    checked indexing.
//! 7. **Saved rows go where they fit.** A compiled loop called for `n`
//!    steps saving every `e` steps writes at most `n.div_ceil(e)` rows of
//!    `outputs * L` values (the program's outputs in every lane, lanes
//!    innermost) one after another from the start of the buffer it is
//!    handed, at byte offsets `8 * (row * outputs * L + j * L + l)` with
//!    `j < outputs` and `l < L` (a group of `w` lanes adds `8 * g * w`, as
//!    for the slots); [`Stepper::advance`] checks that the buffer holds
//!    that many rows, and `e > 0`, before calling. Handed a null buffer,
//!    the loop writes no row (it tests for null before every row).

#![allow(unsafe_code)]

use super::{Options, Part};
use crate::model::LookupTable;
use crate::program::Program;
use crate::sim::Fallback;
use crate::sim::Rings;
use cranelift_jit::JITModule;
use cranelift_module::FuncId;

/// A compiled operation list: `(slots, tables, rings)`.
type Entry = unsafe extern "C" fn(*mut f64, *const LookupTable, *const Rings);

/// A compiled step loop (Euler or Runge-Kutta): `(slots, tables, rings,
/// program, first step, steps, start, dt, saved rows, steps per save) -> 0
/// or the failed step`.
type Advance = unsafe extern "C" fn(
    *mut f64,
    *const LookupTable,
    *mut Rings,
    *const Program,
    i64,
    i64,
    f64,
    f64,
    *mut f64,
    i64,
) -> i64;

/// A table's value, for compiled code.
extern "C" fn lookup_helper(tables: *const LookupTable, index: u64, x: f64) -> f64 {
    // SAFETY: invariant 3: `tables` points at the program's tables and
    // `index` is below their number.
    let table = unsafe { &*tables.add(index as usize) };
    table.eval(x)
}

/// The front of a lane's `DELAY FIXED` ring, for compiled code.
extern "C" fn delay_helper(rings: *const Rings, lane: u64, ring: u64) -> f64 {
    // SAFETY: invariant 3: `rings` points at `L` buffers and `lane < L`.
    let rings = unsafe { &*rings.add(lane as usize) };
    rings.front_or_nan(ring as usize)
}

/// Stores a `DELAY FIXED` input in a lane's ring, for compiled code.
extern "C" fn push_helper(rings: *mut Rings, lane: u64, ring: u64, value: f64) {
    // SAFETY: invariant 3: `rings` points at `L` buffers borrowed mutably
    // for the call and `lane < L`.
    let rings = unsafe { &mut *rings.add(lane as usize) };
    rings.push_checked(ring as usize, value);
}

/// Non-negative limiting of lanes `first..first + count` of `L`, for
/// compiled code.
extern "C" fn limit_lanes<const L: usize>(
    program: *const Program,
    slots: *mut f64,
    length: usize,
    first: u64,
    count: u64,
    dt: f64,
) {
    // SAFETY: invariant 6: `program` is the program the code was compiled
    // from, and `slots` its `length` slots, borrowed mutably for the call
    // (the compiled code does not touch them while this runs).
    let (program, slots) = unsafe { (&*program, std::slice::from_raw_parts_mut(slots, length)) };
    // Checked: a panic cannot unwind through generated code.
    let lanes = (first as usize).min(L)..((first + count) as usize).min(L);
    crate::sim::limit_outflows::<L>(program, slots, dt, lanes);
}

/// The limiting helper for `lanes` lanes, if there is one.
pub(super) fn limit_helper(lanes: usize) -> Option<usize> {
    type Helper = extern "C" fn(*const Program, *mut f64, usize, u64, u64, f64);
    let helper: Helper = match lanes {
        1 => limit_lanes::<1>,
        2 => limit_lanes::<2>,
        4 => limit_lanes::<4>,
        8 => limit_lanes::<8>,
        16 => limit_lanes::<16>,
        _ => return None,
    };
    Some(helper as usize)
}

/// The address compiled code calls to store a `DELAY FIXED` input.
pub(super) const PUSH_HELPER: extern "C" fn(*mut Rings, u64, u64, f64) = push_helper;
/// The address compiled code calls for a lookup.
pub(super) const LOOKUP_HELPER: extern "C" fn(*const LookupTable, u64, f64) -> f64 = lookup_helper;
/// The address compiled code calls for a `DELAY FIXED`.
pub(super) const DELAY_HELPER: extern "C" fn(*const Rings, u64, u64) -> f64 = delay_helper;

/// A finalised module, its memory freed when dropped.
struct Owned(Option<JITModule>);

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(module) = self.0.take() {
            // SAFETY: invariant 1: the function pointers into this module
            // are kept next to it and die with it, so no code of this
            // module runs after this.
            unsafe { module.free_memory() }
        }
    }
}

/// The operation lists compiled, one function each.
struct Lists {
    _module: Owned,
    entries: [Entry; 3],
}

/// A program's code compiled for `lanes` lanes: the Euler step loop, and
/// the Runge-Kutta loop and the operation lists when first needed.
pub(crate) struct Kernels {
    advance: Option<(Owned, Advance)>,
    /// The Runge-Kutta loop, compiled when first needed (`None` where the
    /// Euler loop is not possible either).
    rk4: std::sync::OnceLock<Option<(Owned, Advance)>>,
    lists: std::sync::OnceLock<Result<Lists, Fallback>>,
    /// What the lists are compiled with.
    options: Options,
    /// The program compiled ([`Program::id`]).
    program: u64,
    lanes: usize,
    slots: usize,
    /// The slots of one saved row (the program's outputs), per lane.
    outputs: usize,
    /// Whether the loops save rows themselves ([`super::saves_rows`]).
    saves_rows: bool,
    tables: usize,
    rings: usize,
}

// SAFETY: invariant 5: the modules are not changed after they are
// finalised (the lists' and the Runge-Kutta loop's modules are made once,
// behind a `OnceLock`) and the
// code keeps no state.
unsafe impl Send for Kernels {}
// SAFETY: as for Send.
unsafe impl Sync for Kernels {}

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernels")
            .field("lanes", &self.lanes)
            .field("slots", &self.slots)
            .finish_non_exhaustive()
    }
}

impl Kernels {
    /// Takes the finalised module of the Euler loop (if compiled), for
    /// `program` in `lanes` lanes over `slots` slots; the lists are
    /// compiled with `options` when first run.
    pub(super) fn new(
        advance: Option<(JITModule, FuncId)>,
        program: &Program,
        lanes: usize,
        slots: usize,
        options: Options,
    ) -> Kernels {
        Kernels {
            advance: advance.map(Self::owned_loop),
            rk4: std::sync::OnceLock::new(),
            lists: std::sync::OnceLock::new(),
            options,
            program: program.id,
            lanes,
            slots,
            outputs: program.outputs.len(),
            saves_rows: super::saves_rows(program, lanes, &options),
            tables: program.tables.len(),
            rings: program.rings.len(),
        }
    }

    /// A finalised module of a step loop and the loop's function.
    fn owned_loop((module, id): (JITModule, FuncId)) -> (Owned, Advance) {
        let pointer = module.get_finalized_function(id);
        // SAFETY: invariant 4: the function was generated with this
        // signature, and the module is finalised.
        let advance = unsafe { std::mem::transmute::<*const u8, Advance>(pointer) };
        (Owned(Some(module)), advance)
    }

    /// The compiled step loop (with `rk4`, the Runge-Kutta one, compiled
    /// on first use for `program`, the program these kernels were compiled
    /// from).
    fn step_loop(&self, program: &Program, rk4: bool) -> Option<Advance> {
        if !rk4 {
            return self.advance.as_ref().map(|a| a.1);
        }
        if program.id != self.program {
            return None;
        }
        self.rk4
            .get_or_init(|| {
                super::compile_advance(program, self.lanes, &self.options, true)
                    .ok()
                    .flatten()
                    .map(Self::owned_loop)
            })
            .as_ref()
            .map(|a| a.1)
    }

    /// The compiled operation lists, compiling them on first use.
    fn lists(&self, program: &Program) -> Result<&Lists, &Fallback> {
        self.lists
            .get_or_init(|| {
                let (module, ids) = super::compile_lists(program, self.lanes, &self.options)?;
                let entries = ids.map(|id| {
                    let pointer = module.get_finalized_function(id);
                    // SAFETY: invariant 4: the function was generated with
                    // this signature, and the module is finalised.
                    unsafe { std::mem::transmute::<*const u8, Entry>(pointer) }
                });
                Ok(Lists {
                    _module: Owned(Some(module)),
                    entries,
                })
            })
            .as_ref()
    }

    /// Whether the whole step loop is compiled: Euler's, or with `rk4`
    /// the Runge-Kutta one (compiled now if need be, for `program`).
    pub(crate) fn has_loop(&self, program: &Program, rk4: bool) -> bool {
        self.step_loop(program, rk4).is_some()
    }

    /// The compiled step loop (Euler, or with `rk4` Runge-Kutta) with its
    /// buffers checked once, for a run that calls it at every save time.
    ///
    /// # Panics
    ///
    /// If the buffers do not fit the program the code was compiled from,
    /// its delay buffers are not set up, or there is no compiled loop
    /// ([`Kernels::has_loop`]).
    pub(crate) fn stepper<'b>(
        &'b self,
        program: &'b Program,
        slots: &'b mut [f64],
        rings: &'b mut [Rings],
        rk4: bool,
    ) -> Stepper<'b> {
        let advance = self.step_loop(program, rk4).expect("a compiled loop");
        assert!(
            program.id == self.program
                && slots.len() == self.slots * self.lanes
                && program.tables.len() == self.tables
                && rings.len() == self.lanes
                && rings.iter().all(|r| r.rings.len() == self.rings),
            "buffers that do not fit the compiled program"
        );
        Stepper {
            advance,
            program,
            slots,
            rings,
            row: self.outputs * self.lanes,
            saves_rows: self.saves_rows,
            lanes: self.lanes,
        }
    }

    /// The number of lanes the code advances together.
    pub(crate) fn lanes(&self) -> usize {
        self.lanes
    }

    /// Applies one operation list to every lane of `slots`, compiling the
    /// lists first if need be.
    ///
    /// # Errors
    ///
    /// Why the lists could not be compiled (nothing is run).
    ///
    /// # Panics
    ///
    /// If the buffers do not fit the program the code was compiled from.
    pub(crate) fn run(
        &self,
        part: Part,
        program: &Program,
        slots: &mut [f64],
        rings: &[Rings],
    ) -> Result<(), Fallback> {
        let tables = &program.tables;
        assert!(
            program.id == self.program
                && slots.len() >= self.slots * self.lanes
                && tables.len() == self.tables
                && rings.len() == self.lanes,
            "buffers that do not fit the compiled program"
        );
        debug_assert!(
            part == Part::Init || rings.iter().all(|r| r.rings.len() == self.rings),
            "delay buffers not set up"
        );
        let entry = self.lists(program).map_err(Clone::clone)?.entries[part as usize];
        // SAFETY: invariants 2 and 3, checked just above.
        unsafe { entry(slots.as_mut_ptr(), tables.as_ptr(), rings.as_ptr()) };
        Ok(())
    }
}

/// A compiled step loop and the buffers it was checked against
/// ([`Kernels::stepper`]): the checks of invariants 2, 3 and 6 are made
/// once, not at every call.
pub(crate) struct Stepper<'b> {
    advance: Advance,
    program: &'b Program,
    slots: &'b mut [f64],
    rings: &'b mut [Rings],
    /// The values of one saved row: the outputs of every lane.
    row: usize,
    saves_rows: bool,
    /// The lanes the code advances.
    lanes: usize,
}

impl Stepper<'_> {
    /// The values of one saved row (every output of every lane, lanes
    /// innermost), as [`Stepper::advance`] writes it.
    pub(crate) fn row(&self) -> usize {
        self.row
    }

    /// Whether [`Stepper::advance`] can save rows (several save times per
    /// call); if not, it must be called once per save time (`steps` at
    /// most `every`), and the row read from [`Stepper::slots`].
    pub(crate) fn saves_rows(&self) -> bool {
        self.saves_rows
    }

    /// Whether the code advances one group of lanes (all its lanes in one
    /// register): its loop keeps the values of a step in registers and
    /// saves rows from them.
    pub(crate) fn one_group(&self) -> bool {
        self.lanes <= if self.lanes.is_multiple_of(2) { 2 } else { 1 }
    }

    /// The slots as the last step left them.
    #[inline]
    pub(crate) fn slots(&self) -> &[f64] {
        self.slots
    }

    /// Takes `steps` steps after step `first` (whose values are in the
    /// slots), saving a row of outputs into `saved` after every `every`
    /// steps and after the last: `steps.div_ceil(every)` rows, one after
    /// another. Returns 0 if all went well, or `k` if step `first + k` has
    /// a NaN or infinity (the slots then hold that step's values, partly,
    /// and the rows saved before it are in `saved`).
    ///
    /// With `saved` `None`, or a loop that does not save rows
    /// ([`Stepper::saves_rows`]), nothing is written: the call takes one
    /// save time's steps and the caller reads the row of the last step
    /// from the slots. (Not an empty slice: a model with no outputs saves
    /// rows of no values.)
    ///
    /// # Panics
    ///
    /// If `every` is 0, or `saved` holds fewer than
    /// `steps.div_ceil(every)` rows (if the loop saves rows into it), or
    /// `steps` is more than `every` (if it does not, or `saved` is
    /// `None`).
    #[inline]
    pub(crate) fn advance(
        &mut self,
        first: usize,
        steps: usize,
        start: f64,
        dt: f64,
        saved: Option<&mut [f64]>,
        every: usize,
    ) -> usize {
        let saved = saved.filter(|_| self.saves_rows);
        assert!(
            every > 0
                && match &saved {
                    Some(saved) => steps.div_ceil(every) * self.row <= saved.len(),
                    None => steps <= every,
                },
            "a buffer too small for the saved rows"
        );
        // Null: the loop writes no row (invariant 7). An empty slice's
        // pointer is not null (rows of no outputs store nothing).
        let saved = match saved {
            Some(saved) => saved.as_mut_ptr(),
            None => std::ptr::null_mut(),
        };
        // SAFETY: invariants 2, 3 and 6, checked by `Kernels::stepper`,
        // and 7, checked just above; the buffers are borrowed for the
        // stepper's life (`saved` for the call), and so are the kernels
        // that own the code (invariant 1).
        let failed = unsafe {
            (self.advance)(
                self.slots.as_mut_ptr(),
                self.program.tables.as_ptr(),
                self.rings.as_mut_ptr(),
                self.program,
                first as i64,
                steps as i64,
                start,
                dt,
                saved,
                every as i64,
            )
        };
        failed as usize
    }
}
