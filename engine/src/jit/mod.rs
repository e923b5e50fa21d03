//! The compiled back end: a program's operation lists translated to machine
//! code with Cranelift at run time.
//!
//! Under Euler the whole step loop is one function (`Advance`) over the
//! slot array the interpreter uses, `L` lanes interleaved (slot `i` of lane
//! `l` at `i * L + l`), run for many save times per call (writing each
//! save time's outputs as a row of a buffer the run then hands on): it integrates,
//! evaluates, tests whether non-negative limiting is needed inline (a
//! cheap test of every stock at once that rules it out when their flows
//! are positive and none runs dry, one branch a step; only when that
//! cannot, the same test of each stock on its own in a cold block, and
//! for a stock that cannot be ruled out the interpreter's first pass for
//! it; the interpreter's limiting is called only when some stock would be
//! limited), stores a value written several times in a step
//! (a net flow, built up flow by flow) only when complete, and tests
//! for NaN and infinity with running sums of the
//! values no later operation carries on ([`slots_to_check`]: a stock's
//! net flow in place of its flows), each read back from its slot after
//! its store, so that Cranelift folds the loads of what it is computed
//! from into the instructions using them (see [`Lowering::set`]); a failed
//! test makes the interpreter replay the run, so errors name the variable
//! and time exactly as before. A large program runs one group of two
//! lanes at a time (its code does not grow with `L`), a small one every
//! group in one step. A small program's loop can take several save times
//! per call, writing each row itself ([`saves_rows`]); in one group of
//! lanes its stocks and net flows are then carried in registers from step
//! to step and, without limiting, every value kept in registers through
//! the call and stored at its end ([`deferred_slots`]). For RK4 (and a program whose loop cannot be
//! compiled) each operation list (initial values, the step's auxiliaries
//! and flows, the stocks' net flows) becomes one straight-line function,
//! compiled when first needed, and the interpreter's integrators drive
//! them.
//!
//! Bit-identical results: every operation is lowered to the same IEEE
//! operations in the same order as the interpreter (`+ - * /`, `sqrt`,
//! `floor`, `trunc`, `abs`, negation and comparisons are correctly rounded
//! or exact in both), Cranelift neither fuses multiply-adds nor reassociates,
//! and everything else (`exp`, `ln`, powers, `MIN`/`MAX`, rounding, lookups,
//! time functions, `DELAY FIXED`) calls the interpreter's Rust functions.
//! A value read twice in one function is loaded once and kept in a register.
//!
//! Anything the translation does not know (an operation or function added
//! to the instruction set later) makes [`compile`] return a [`Fallback`]:
//! that program runs interpreted, never wrongly.
//!
//! All `unsafe` is in [`code`]: making the function pointers and calling
//! them, and the helpers that read lookup tables and delay buffers through
//! pointers.

mod code;
#[cfg(test)]
mod tests;

pub(crate) use code::Kernels;

use crate::model::{Interpolation, LookupTable};
use crate::program::Program;
use crate::program::ops::{Code, DT, Func1, Func2, Op, SameEachStep, TIME, TimeFunc};
use crate::sim::Fallback;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{self, AbiParam, InstBuilder, MemFlags, Value, types};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{FuncId, Linkage, Module};

/// The lists of operations compiled, one function each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Init,
    Step,
    Derivative,
}

/// Choices for tests: what to refuse and what to get wrong on purpose.
#[derive(Default, Clone, Copy)]
pub(crate) struct Options {
    /// Treats these operations as unknown, to exercise the fallback.
    #[cfg_attr(not(test), allow(dead_code))]
    pub refuse: Option<fn(&Op) -> bool>,
    /// Compiles `a * b` as `a * b * (1 + 2^-52)`, about one unit in the
    /// last place off, to show that the tests comparing back ends notice.
    #[cfg_attr(not(test), allow(dead_code))]
    pub sabotage: bool,
    /// Whether the loop is unrolled over every group of lanes, instead of
    /// deciding by the size of the program ([`small`]).
    #[cfg_attr(not(test), allow(dead_code))]
    pub unroll: Option<bool>,
}

/// The functions of one value compiled as calls of the interpreter's, in
/// the order of [`FUNC1_HELPERS`]. A function missing here is not compiled.
const FUNC1: [Func1; 21] = [
    Func1::Neg,
    Func1::Not,
    Func1::Abs,
    Func1::Exp,
    Func1::Ln,
    Func1::Log10,
    Func1::Sqrt,
    Func1::Sin,
    Func1::Cos,
    Func1::Tan,
    Func1::Asin,
    Func1::Acos,
    Func1::Atan,
    Func1::Sinh,
    Func1::Cosh,
    Func1::Tanh,
    Func1::Integer,
    Func1::Floor,
    Func1::Round,
    Func1::Sign,
    Func1::ClampNonNegative,
];

/// The functions of two values compiled as calls of the interpreter's, in
/// the order of [`FUNC2_HELPERS`] (see [`FUNC1`]).
const FUNC2: [Func2; 20] = [
    Func2::Add,
    Func2::Sub,
    Func2::Mul,
    Func2::Div,
    Func2::Pow,
    Func2::Mod,
    Func2::IntDiv,
    Func2::Rem,
    Func2::Lt,
    Func2::Le,
    Func2::Gt,
    Func2::Ge,
    Func2::Eq,
    Func2::Ne,
    Func2::And,
    Func2::Or,
    Func2::Min,
    Func2::Max,
    Func2::Zidz,
    Func2::LogBase,
];

/// The functions of time by number (see [`FUNC1`]).
const TIME_FUNCS: [TimeFunc; 4] = [
    TimeFunc::Step,
    TimeFunc::Pulse,
    TimeFunc::PulseTrain,
    TimeFunc::Ramp,
];

/// The interpreter's function of one value `FUNC1[F]`, for compiled code:
/// one helper per function, the function known when it is compiled, so
/// that a call goes straight to the work (a helper handed the function's
/// number matched on it at every call: about 30 instructions of each
/// `EXP` in England's step).
extern "C" fn func1_helper<const F: usize>(a: f64) -> f64 {
    crate::sim::func1(FUNC1[F], a)
}

/// The interpreter's function of two values `FUNC2[F]`, for compiled code
/// (see [`func1_helper`]).
extern "C" fn func2_helper<const F: usize>(a: f64, b: f64) -> f64 {
    crate::sim::func2(FUNC2[F], a, b)
}

/// [`func1_helper`] of every function of [`FUNC1`], in its order.
const FUNC1_HELPERS: [extern "C" fn(f64) -> f64; FUNC1.len()] = [
    func1_helper::<0>,
    func1_helper::<1>,
    func1_helper::<2>,
    func1_helper::<3>,
    func1_helper::<4>,
    func1_helper::<5>,
    func1_helper::<6>,
    func1_helper::<7>,
    func1_helper::<8>,
    func1_helper::<9>,
    func1_helper::<10>,
    func1_helper::<11>,
    func1_helper::<12>,
    func1_helper::<13>,
    func1_helper::<14>,
    func1_helper::<15>,
    func1_helper::<16>,
    func1_helper::<17>,
    func1_helper::<18>,
    func1_helper::<19>,
    func1_helper::<20>,
];

/// [`func2_helper`] of every function of [`FUNC2`], in its order.
const FUNC2_HELPERS: [extern "C" fn(f64, f64) -> f64; FUNC2.len()] = [
    func2_helper::<0>,
    func2_helper::<1>,
    func2_helper::<2>,
    func2_helper::<3>,
    func2_helper::<4>,
    func2_helper::<5>,
    func2_helper::<6>,
    func2_helper::<7>,
    func2_helper::<8>,
    func2_helper::<9>,
    func2_helper::<10>,
    func2_helper::<11>,
    func2_helper::<12>,
    func2_helper::<13>,
    func2_helper::<14>,
    func2_helper::<15>,
    func2_helper::<16>,
    func2_helper::<17>,
    func2_helper::<18>,
    func2_helper::<19>,
];

/// The interpreter's function of time, for compiled code.
extern "C" fn time_helper(f: u32, t: f64, dt: f64, a: f64, b: f64, c: f64, d: f64) -> f64 {
    match TIME_FUNCS.get(f as usize) {
        Some(&f) => crate::sim::time_func(f, t, dt, [a, b, c, d]),
        None => f64::NAN,
    }
}

/// Compiles `program` for `lanes` lanes: the whole Euler step loop now
/// (when it can be compiled), the operation lists one function each when
/// first needed (RK4, or a program whose loop is not compiled), so that a
/// model run under Euler spends no time generating code it never calls.
///
/// # Errors
///
/// A [`Fallback`] naming the first operation that cannot be compiled, or
/// Cranelift's complaint.
pub(crate) fn compile(
    program: &Program,
    lanes: usize,
    options: &Options,
) -> Result<Kernels, Fallback> {
    let slots = program.step_ops.slots();
    // Loads and stores use 32-bit offsets from the start of the slots.
    if slots
        .checked_mul(lanes)
        .and_then(|n| n.checked_mul(8))
        .is_none_or(|bytes| bytes > i32::MAX as usize)
    {
        return Err(Fallback::new(format!(
            "{slots} slots in {lanes} lanes are too many for 32-bit offsets"
        )));
    }
    // Refuse before spending time on code generation.
    for code in [
        &program.init_ops,
        &program.step_ops,
        &program.derivative_ops,
    ] {
        for op in code.ops() {
            supported(op, program, options)?;
        }
    }
    let advance = compile_advance(program, lanes, options, false)?;
    Ok(Kernels::new(advance, program, lanes, slots, *options))
}

fn fail(what: &str, e: &dyn std::fmt::Display) -> Fallback {
    Fallback::new(format!("the code generator failed ({what}): {e}"))
}

/// A fresh module for this machine, its code optimised by Cranelift if
/// `optimise` (see the comment on `opt_level`).
fn new_module(optimise: bool) -> Result<cranelift_jit::JITModule, Fallback> {
    let mut flags = settings::builder();
    for (name, value) in [
        // The code is generated already optimised (each value loaded once
        // and reused, temporaries in registers); Cranelift's "speed"
        // rewriting moved the running NaN sums to the end of the step,
        // keeping every tested value alive and spilled to the stack, and
        // took twice as long: measured on England, "none" generates code
        // in 12 ms instead of 26-30 ms that runs a fifth faster. A small
        // program (SIR) gains from it (0.76x a hand-written loop instead
        // of 0.63x) and takes well under a millisecond either way.
        ("opt_level", if optimise { "speed" } else { "none" }),
        ("use_colocated_libcalls", "false"),
        ("is_pic", "false"),
        (
            "enable_verifier",
            if cfg!(debug_assertions) {
                "true"
            } else {
                "false"
            },
        ),
    ] {
        flags.set(name, value).map_err(|e| fail("flags", &e))?;
    }
    let isa = cranelift_native::builder()
        .map_err(|e| fail("this machine", &e))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| fail("this machine", &e))?;
    Ok(cranelift_jit::JITModule::new(
        cranelift_jit::JITBuilder::with_isa(isa, cranelift_module::default_libcall_names()),
    ))
}

/// The operation lists (`Init`, `Step`, `Derivative`) as one function
/// each, in a finalised module.
pub(crate) fn compile_lists(
    program: &Program,
    lanes: usize,
    options: &Options,
) -> Result<(cranelift_jit::JITModule, [FuncId; 3]), Fallback> {
    let parts = [
        (Part::Init, &program.init_ops),
        (Part::Step, &program.step_ops),
        (Part::Derivative, &program.derivative_ops),
    ];
    let mut module = new_module(small(program, lanes))?;
    let pointer = module.target_config().pointer_type();
    let mut signature = module.make_signature();
    for _ in 0..3 {
        signature.params.push(AbiParam::new(pointer));
    }
    let mut context = module.make_context();
    let mut builder_context = FunctionBuilderContext::new();
    let mut ids: Vec<FuncId> = Vec::new();
    for (k, (part, code)) in parts.into_iter().enumerate() {
        let name = format!("{part:?}");
        let id = module
            .declare_function(&name, Linkage::Local, &signature)
            .map_err(|e| fail("declaring", &e))?;
        context.func.signature = signature.clone();
        context.func.name = ir::UserFuncName::user(0, k as u32);
        let builder = FunctionBuilder::new(&mut context.func, &mut builder_context);
        lower(builder, code, &program.tables, lanes, pointer, options)?;
        module
            .define_function(id, &mut context)
            .map_err(|e| fail(&name, &e))?;
        module.clear_context(&mut context);
        ids.push(id);
    }
    module
        .finalize_definitions()
        .map_err(|e| fail("finishing", &e))?;
    Ok((module, [ids[0], ids[1], ids[2]]))
}

/// The whole step loop (Euler, or with `rk4` classical Runge-Kutta) in a
/// finalised module, when the stocks are only written by integration and
/// (with non-negative stocks) limiting can be called for this lane count;
/// `None` otherwise.
pub(crate) fn compile_advance(
    program: &Program,
    lanes: usize,
    options: &Options,
    rk4: bool,
) -> Result<Option<(cranelift_jit::JITModule, FuncId)>, Fallback> {
    let limiting = !program.non_negative.is_empty();
    let limit_helper = code::limit_helper(lanes);
    let writes_stock = [&program.step_ops, &program.derivative_ops]
        .iter()
        .any(|code| {
            code.ops()
                .iter()
                .any(|op| program.integrated.contains(&(op.destination() as usize)))
        });
    if writes_stock || (limiting && limit_helper.is_none()) {
        return Ok(None);
    }
    let mut module = new_module(small(program, lanes))?;
    let pointer = module.target_config().pointer_type();
    let mut context = module.make_context();
    let mut builder_context = FunctionBuilderContext::new();
    let mut advance_signature = module.make_signature();
    for _ in 0..4 {
        advance_signature.params.push(AbiParam::new(pointer));
    }
    advance_signature.params.push(AbiParam::new(types::I64));
    advance_signature.params.push(AbiParam::new(types::I64));
    advance_signature.params.push(AbiParam::new(types::F64));
    advance_signature.params.push(AbiParam::new(types::F64));
    advance_signature.params.push(AbiParam::new(pointer));
    advance_signature.params.push(AbiParam::new(types::I64));
    advance_signature.returns.push(AbiParam::new(types::I64));
    let name = if rk4 { "AdvanceRk4" } else { "Advance" };
    let id = module
        .declare_function(name, Linkage::Local, &advance_signature)
        .map_err(|e| fail("declaring", &e))?;
    context.func.signature = advance_signature;
    context.func.name = ir::UserFuncName::user(0, 3);
    let builder = FunctionBuilder::new(&mut context.func, &mut builder_context);
    lower_advance(builder, program, lanes, pointer, options, limit_helper, rk4);
    module
        .define_function(id, &mut context)
        .map_err(|e| fail(name, &e))?;
    module.clear_context(&mut context);
    module
        .finalize_definitions()
        .map_err(|e| fail("finishing", &e))?;
    Ok(Some((module, id)))
}

/// Whether a step of `program` in `lanes` lanes is small: a few hundred
/// operations of `f64` pairs or fewer. Its loop is unrolled over every
/// group of lanes and optimised by Cranelift.
fn small(program: &Program, lanes: usize) -> bool {
    let ops = program.step_ops.ops().len() + program.derivative_ops.ops().len();
    ops * lanes.div_ceil(2) <= 256
}

/// The most bytes of slots a batch of a large program should have: a
/// level-1 data cache holds 32-48 KiB.
const BATCH_SLOT_BYTES: usize = 32 << 10;

/// The lanes a batch of `program`'s compiled runs goes fastest in, up to
/// `widest`: `widest` for a small program (its loop advances every group
/// of lanes at once), otherwise the most, halving down to two, whose
/// slots fit in [`BATCH_SLOT_BYTES`]. A large program's loop runs the
/// groups of two lanes one after another, and slot `i` of lane `l` is at
/// `i * lanes + l`: a group's pass uses 16 bytes of each slot's `8 *
/// lanes` and walks every slot, so once the batch's slots outgrow the
/// cache each pass brings them all in again. Measured on England (944
/// slots, 60 KiB in 8 lanes; cachegrind, 48 KiB level-1 cache): about
/// 475 level-1 misses a group-step in batches of 8, none in batches of
/// 4 or 2, with the same instructions.
pub(crate) fn batch_lanes(program: &Program, widest: usize) -> usize {
    if small(program, widest) {
        return widest;
    }
    let bytes = program
        .step_ops
        .slots()
        .max(program.derivative_ops.slots())
        .saturating_mul(8);
    let mut lanes = widest;
    while lanes > 2 && bytes.saturating_mul(lanes) > BATCH_SLOT_BYTES {
        lanes /= 2;
    }
    lanes
}

/// Whether the compiled loop of `program` in `lanes` lanes can save rows
/// itself, several save times per call: a small program. A large one is
/// called once per save time and the run reads the row from the slots:
/// copying every lane's outputs into a buffer cost more than the calls it
/// saved (measured: England 1.0x the generated-Rust reference instead of
/// 1.4x). A loop that can save rows is also called once per save time
/// where the rows go nowhere it can write them straight (see
/// `Lanes::simulate_compiled`).
pub(crate) fn saves_rows(program: &Program, lanes: usize, options: &Options) -> bool {
    options.unroll.unwrap_or_else(|| small(program, lanes))
}

/// The operands of `op` whose NaN or infinity always makes its result NaN
/// or infinite: both sides of `+ - *`, the numerator of `/` (`x / inf` is
/// 0), a copy, and negation, `ABS`, `SQRT`, `INTEGER`, `FLOOR`.
fn spreading(op: &Op) -> ([u32; 2], usize) {
    match *op {
        Op::Copy { a, .. } => ([a, a], 1),
        Op::Add { a, b, .. } | Op::Sub { a, b, .. } | Op::Mul { a, b, .. } => ([a, b], 2),
        Op::F2 {
            f: Func2::Add | Func2::Sub | Func2::Mul,
            a,
            b,
            ..
        } => ([a, b], 2),
        Op::Div { a, .. }
        | Op::F2 {
            f: Func2::Div, a, ..
        } => ([a, a], 1),
        Op::F1 {
            f: Func1::Neg | Func1::Abs | Func1::Sqrt | Func1::Integer | Func1::Floor,
            a,
            ..
        } => ([a, a], 1),
        _ => ([0, 0], 0),
    }
}

/// The slots the compiled loop tests for NaN and infinity after each
/// step: those of `program.checked` that a step can change, less those
/// whose NaN or infinity is certain to reach a tested slot in the same
/// step (through [`spreading`] operations into slots whose later writes
/// all spread them too, after the value is final). The loop then fails at
/// every step at which the interpreter's test of every checked slot
/// fails (and perhaps at others, false alarms); the interpreter,
/// replaying the run, names the variable, or finishes a run that did not
/// fail.
///
/// The stocks' net flows, which nothing checks, may be tested in place
/// of their flows: a net flow is the sum of its flows, a chain of
/// additions and subtractions that spreads a NaN or infinity in any of
/// them. Whichever tests fewer slots is chosen (England: 72 net flows for
/// 261 flows; a net flow of flows that are sums of finite values can
/// only overflow, a false alarm).
///
/// Limiting keeps this true: it multiplies flows by a finite factor in
/// [0, 1), which keeps a finite flow finite and makes an infinite one
/// infinite or NaN.
pub(crate) fn slots_to_check(program: &Program) -> Vec<u32> {
    let without = slots_to_check_by(program, false);
    let with = slots_to_check_by(program, true);
    if with.len() < without.len() {
        with
    } else {
        without
    }
}

/// [`slots_to_check`], testing the net flows in place of their flows if
/// `net_flows`.
fn slots_to_check_by(program: &Program, net_flows: bool) -> Vec<u32> {
    let ops: Vec<&Op> = program
        .step_ops
        .ops()
        .iter()
        .chain(program.derivative_ops.ops())
        .collect();
    let slots = program.step_ops.slots().max(program.derivative_ops.slots());
    // The position of each slot's last write; stocks are written by
    // integration before every operation.
    let mut last_write = vec![None::<usize>; slots];
    for (k, op) in ops.iter().enumerate() {
        last_write[op.destination() as usize] = Some(k);
    }
    let derivatives = program.derivatives..program.derivatives + program.integrated.len();
    let checked =
        |s: usize| program.checked.contains(&s) || (net_flows && derivatives.contains(&s));
    // `detected[s]`: a NaN or infinity left in `s` at the end of a step
    // makes some tested slot NaN or infinite.
    let mut detected = vec![false; slots];
    let mut tested = vec![false; slots];
    // `reaches[s]`: the position of a later operation that spreads `s`
    // into a detected slot whose later writes spread it.
    let mut reaches: Vec<Vec<usize>> = vec![Vec::new(); slots];
    // `spread_on[s]`: every write of `s` after the current position reads
    // `s` as an operand it spreads (true with none: a slot written once).
    let mut spread_on = vec![true; slots];
    // Marks `s` detected, and tested unless a later operation covers it.
    let decide = |s: usize, reaches: &[Vec<usize>], detected: &mut [bool], tested: &mut [bool]| {
        let after = last_write[s];
        if reaches[s].iter().any(|&k| after.is_none_or(|w| k > w)) {
            detected[s] = true;
        } else if checked(s) {
            detected[s] = true;
            tested[s] = true;
        }
    };
    for k in (0..ops.len()).rev() {
        let op = ops[k];
        let d = op.destination() as usize;
        if last_write[d] == Some(k) {
            decide(d, &reaches, &mut detected, &mut tested);
        }
        let (operands, n) = spreading(op);
        if spread_on[d] && detected[d] {
            for &a in &operands[..n] {
                reaches[a as usize].push(k);
            }
        }
        spread_on[d] &= operands[..n].contains(&(d as u32));
    }
    for s in program.integrated.clone() {
        decide(s, &reaches, &mut detected, &mut tested);
    }
    (0..slots)
        .filter(|&s| tested[s])
        .map(|s| s as u32)
        .collect()
}

/// The slots whose stores the compiled Euler loop of a small program
/// without limiting defers to the end of its call, keeping their values
/// in registers meanwhile (`deferred[s]`): the time, the stocks and net
/// flows carried from step to step in registers (`carried`), and every
/// slot an operation of the step writes, unless the step reads it before
/// writing it (its value from the step before) or the next step reads it
/// before writing it (a `DELAY FIXED` input, pushed at the start of the
/// next step; a net flow not carried, read by integration). Nothing else
/// reads the slots during a call: operations and helpers are handed
/// values (limiting, which reads the slots, is excluded).
fn deferred_slots(program: &Program, carried: &[u32]) -> Vec<bool> {
    let slots = program.step_ops.slots();
    let mut written = vec![false; slots];
    let mut early = vec![false; slots];
    let mut deferred = vec![false; slots];
    for op in program
        .step_ops
        .ops()
        .iter()
        .chain(program.derivative_ops.ops())
    {
        let (values, n) = op.value_operands().unwrap_or(([0; 3], 0));
        let operands: &[u32] = match op {
            Op::Time { args, .. } => args,
            _ => &values[..n],
        };
        for &a in operands {
            if !written[a as usize] {
                early[a as usize] = true;
            }
        }
        let d = op.destination() as usize;
        written[d] = true;
        deferred[d] = true;
    }
    for (deferred, early) in deferred.iter_mut().zip(&early) {
        *deferred &= !early;
    }
    deferred[program.derivatives..program.derivatives + program.integrated.len()].fill(false);
    for &s in carried {
        deferred[s as usize] = true;
    }
    deferred[TIME] = true;
    // The DELAY FIXED buffers read their input, delay and initial value
    // from memory: those slots (the time itself, in `DELAY FIXED(TIME,
    // ...)`) are stored at every step.
    for ring in &program.rings {
        for slot in [ring.input, ring.delay, ring.initial] {
            deferred[slot as usize] = false;
        }
    }
    deferred
}

/// The operations of a step (flows, then net flows) whose value is the
/// same at every step of an Euler run, by address: an operation of a pure
/// function (arithmetic, functions of values, lookups; not time functions,
/// `DELAY FIXED` or random draws) of values that are themselves the same
/// at every step (slots no operation of the step writes, other than the
/// stocks and the time, or slots written by such an operation), writing a
/// slot no other operation of the step writes, and not a flow limiting
/// may scale. Its slot keeps the value the run's first evaluation gave it
/// (checked finite then), which the compiled loop would only compute
/// again, the same bits: the loop skips it, and the NaN test with it.
fn invariant_ops(program: &Program) -> std::collections::HashSet<*const Op> {
    let ops = || {
        program
            .step_ops
            .ops()
            .iter()
            .chain(program.derivative_ops.ops())
    };
    let slots = program.step_ops.slots().max(program.derivative_ops.slots());
    let mut rule = SameEachStep::new(ops(), slots, program.integrated.clone(), &program.limited);
    let mut invariant = std::collections::HashSet::new();
    for op in ops() {
        let d = op.destination() as usize;
        if rule.writes[d] == 1 && rule.computes_same(op) {
            rule.same[d] = true;
            invariant.insert(std::ptr::from_ref(op));
        }
    }
    invariant
}

/// Whether the translation knows `op` (and everything it names exists).
fn supported(op: &Op, program: &Program, options: &Options) -> Result<(), Fallback> {
    let refuse = |what: String| {
        Err(Fallback::new(format!(
            "the compiled back end has no translation for {what}"
        )))
    };
    if options.refuse.is_some_and(|refuse| refuse(op)) {
        return refuse(format!("{op:?} (refused for a test)"));
    }
    #[allow(unreachable_patterns)]
    match *op {
        Op::Copy { .. }
        | Op::Add { .. }
        | Op::Sub { .. }
        | Op::Mul { .. }
        | Op::Div { .. }
        | Op::Select { .. }
        | Op::Xidz { .. } => Ok(()),
        Op::F1 { f, .. } if FUNC1.contains(&f) => Ok(()),
        Op::F2 { f, .. } if FUNC2.contains(&f) => Ok(()),
        Op::Time { f, .. } if TIME_FUNCS.contains(&f) => Ok(()),
        Op::Lookup { table, .. } if (table as usize) < program.tables.len() => Ok(()),
        Op::DelayFixed { ring, .. } if (ring as usize) < program.rings.len() => Ok(()),
        _ => refuse(format!("the operation {op:?}")),
    }
}

/// The position of `f` in `list`, as the compiled code passes it.
fn index_of<T: PartialEq>(list: &[T], f: &T) -> usize {
    list.iter()
        .position(|g| g == f)
        .expect("checked by supported")
}

/// Builds one function `fn(slots, tables, rings)` that applies `code` to
/// every lane.
fn lower(
    b: FunctionBuilder,
    code: &Code,
    tables: &[LookupTable],
    lanes: usize,
    pointer: ir::Type,
    options: &Options,
) -> Result<(), Fallback> {
    let mut l = Lowering::new(b, code.slots(), lanes, pointer, options, tables);
    for op in code.ops() {
        for group in 0..l.groups() {
            l.op(op, group);
        }
    }
    l.b.ins().return_(&[]);
    l.b.seal_all_blocks();
    l.b.finalize();
    Ok(())
}

/// Builds `fn(slots, tables, rings, program, first, n, start, dt, saved,
/// every) -> i64`: `n` Euler steps after step `first` (whose values are in
/// `slots`), each as the interpreter takes it: push the `DELAY FIXED`
/// inputs, integrate (`stock += dt * net flow`, non-negative stocks
/// floored), set the time, evaluate the flows (limited by `limit_helper`
/// for non-negative stocks) and net flows, and check for NaN and infinity;
/// after every `every` steps and after the last, the outputs are written
/// as the next row of `saved` (every output of every lane, lanes
/// innermost). A few stocks and their net flows stay in registers from
/// step to step and across save times (and are stored for the caller).
/// Returns 0, or `k` if step `first + k` of some group of lanes failed the
/// test (the rows before it saved).
///
/// With `rk4`, each step is the interpreter's `rk4_step` instead of the
/// Euler integration: the stocks and flows at the start kept, three more
/// evaluations of the flows and net flows at the stages' stocks and times
/// (`start + advance * net flows`), the flows summed with weights 1, 2, 2,
/// 1 and divided by 6, the stocks put back, limiting, the net flows, and
/// Euler's integration with those; then the time is set and the flows and
/// net flows evaluated (without limiting) and checked. The same IEEE
/// operations in the same order as the interpreter.
fn lower_advance(
    b: FunctionBuilder,
    program: &Program,
    lanes: usize,
    pointer: ir::Type,
    options: &Options,
    limit_helper: Option<usize>,
    rk4: bool,
) {
    let slots = program.step_ops.slots();
    let mut l = Lowering::new(b, slots, lanes, pointer, options, &program.tables);
    let params = l.params.clone();
    let (program_pointer, first, count, start, dt) =
        (params[3], params[4], params[5], params[6], params[7]);
    let (saved, every) = (params[8], params[9]);
    let outputs = program.outputs.clone();
    // The bytes of one saved row.
    let row_bytes = (outputs.len() * lanes * 8) as i64;
    let integrated = program.integrated.clone();
    let stock_slots: Vec<u32> = integrated.clone().map(|s| s as u32).collect();
    let non_negative: Vec<u32> = program
        .non_negative
        .iter()
        .map(|&i| program.stocks[i].slot)
        .collect();
    let limiting = !non_negative.is_empty();
    let dt_scalar = dt;
    let dt = l.splat(dt_scalar);
    let all_slots = l.slots;

    // One group of `width` lanes after another, each all `count` steps
    // (the lanes are independent runs): the code of one step is that of
    // one group, however many lanes, so it stays small.
    let all_groups = l.groups();
    // A small step is kept unrolled over every group: the groups' chains
    // of dependent operations then overlap, which is what a small model
    // (SIR) is limited by; a large one (England) has overlap enough in
    // one group and would only grow.
    let unroll = options.unroll.unwrap_or_else(|| small(program, lanes));
    let save_rows = saves_rows(program, lanes, options);
    let loop_groups = if unroll { 1 } else { all_groups };
    if !unroll {
        l.unrolled = 1;
    }
    // Temporaries are written and read within one step's evaluation (the
    // interpreter replaying a failed run recomputes them); a `DELAY FIXED`
    // input is read at the start of the next step, so it is stored.
    let temporaries = program.derivatives + program.integrated.len();
    l.in_registers = (0..slots).map(|s| s >= temporaries).collect();
    for ring in &program.rings {
        l.in_registers[ring.input as usize] = false;
    }
    // The outputs are saved from registers or their slots, so they are
    // stored (they are not temporaries: this only makes sure).
    for s in outputs.clone() {
        l.in_registers[s] = false;
    }
    if !rk4 {
        l.invariant = invariant_ops(program);
    }
    let groups = l.groups();
    l.tested = vec![false; slots];
    for slot in slots_to_check(program) {
        l.tested[slot as usize] = true;
    }
    // A few stocks and their net flows stay in registers from step to
    // step (integration then waits on no store and load); many would only
    // be spilled, and are loaded from their slots instead. A loop called
    // for one save time at a time (SIR in lanes of 8: one step a call)
    // carries nothing: the carried values were loaded at every call,
    // spilled to the stack and loaded again (callgrind: 219 instructions
    // a step instead of 184; 0.59-0.61x the hand-written loop instead of
    // 0.66-0.72x, alternating, on the loaded machine).
    let carried: Vec<u32> = if save_rows && !rk4 && stock_slots.len() * groups <= 12 && groups == 1
    {
        stock_slots.clone()
    } else {
        Vec::new()
    };
    let carried_derivatives: Vec<u32> = if 2 * carried.len() * groups <= 12 {
        (0..carried.len())
            .map(|j| (program.derivatives + j) as u32)
            .collect()
    } else {
        Vec::new()
    };
    // A small step of one group of lanes without limiting keeps its
    // values in registers through the call and stores them at its end
    // (the rows are saved from the registers); a large one, or several
    // groups (SIR in 8 lanes: measured slower, 0.37x the hand-written
    // loop instead of 0.50x), would only spill them.
    if unroll && !rk4 && !limiting && groups == 1 {
        let kept: Vec<u32> = carried
            .iter()
            .chain(&carried_derivatives)
            .copied()
            .collect();
        l.deferred = deferred_slots(program, &kept);
    }
    let group_header = l.b.create_block();
    let group_start = l.b.create_block();
    let all_done = l.b.create_block();
    l.b.append_block_param(group_header, types::I64);
    let zero_g = l.b.ins().iconst(types::I64, 0);
    l.b.ins().jump(group_header, &[ir::BlockArg::Value(zero_g)]);
    l.b.switch_to_block(group_header);
    let g = l.b.block_params(group_header)[0];
    let groups_done = l.b.ins().icmp_imm(
        ir::condcodes::IntCC::SignedGreaterThanOrEqual,
        g,
        loop_groups as i64,
    );
    l.b.ins().brif(groups_done, all_done, &[], group_start, &[]);
    l.b.switch_to_block(group_start);
    // This group's slots start `width` values further on per group, and
    // its first lane is `g * width`.
    let bytes = l.b.ins().imul_imm(g, (l.width * 8) as i64);
    let bytes = if pointer == types::I64 {
        bytes
    } else {
        l.b.ins().ireduce(pointer, bytes)
    };
    // This group's lanes of the saved rows, likewise. With one group the
    // addresses are the parameters themselves: the group number would
    // only take a register and a byte of every load and store.
    let group_saved = if loop_groups == 1 {
        l.slots = all_slots;
        l.lane_base = Some(l.b.ins().iconst(types::I64, 0));
        saved
    } else {
        l.slots = l.b.ins().iadd(all_slots, bytes);
        l.lane_base = Some(l.b.ins().imul_imm(g, l.width as i64));
        l.b.ins().iadd(saved, bytes)
    };
    l.cache.iter_mut().for_each(|v| *v = None);
    l.recent.clear();
    l.computed.clear();
    if limiting {
        l.store_dt(dt);
    }

    // The stocks and net flows as the caller left them.
    let mut initial = Vec::new();
    for &slot in carried.iter().chain(&carried_derivatives) {
        for group in 0..groups {
            initial.push(ir::BlockArg::Value(l.get(slot, group)));
        }
    }
    let zero_k = l.b.ins().iconst(types::I64, 0);
    let header = l.b.create_block();
    let body = l.b.create_block();
    let done = l.b.create_block();
    let failed = l.b.create_block();
    // The header's parameters: the step within the call, the steps until
    // the next save, where the next row goes, the carried values.
    l.b.append_block_param(header, types::I64);
    l.b.append_block_param(header, types::I64);
    l.b.append_block_param(header, pointer);
    for _ in 0..initial.len() {
        l.b.append_block_param(header, l.ty);
    }
    l.b.append_block_param(failed, types::I64);
    let mut args = vec![
        ir::BlockArg::Value(zero_k),
        ir::BlockArg::Value(every),
        ir::BlockArg::Value(group_saved),
    ];
    args.extend(initial);
    l.b.ins().jump(header, &args);

    l.b.switch_to_block(header);
    let header_params = l.b.block_params(header).to_vec();
    let (k, until_save, row) = (header_params[0], header_params[1], header_params[2]);
    let carried_params = header_params[3..].to_vec();
    let finished =
        l.b.ins()
            .icmp(ir::condcodes::IntCC::SignedGreaterThanOrEqual, k, count);
    l.b.ins().brif(finished, done, &[], body, &[]);

    l.b.switch_to_block(body);
    l.cache.iter_mut().for_each(|v| *v = None);
    l.recent.clear();
    l.computed.clear();
    l.check_sums.clear();
    l.check_count = 0;
    for (j, &slot) in carried.iter().chain(&carried_derivatives).enumerate() {
        for group in 0..groups {
            let at = slot as usize * groups + group;
            l.cache[at] = Some(carried_params[j * groups + group]);
            l.cached_at[at] = l.clock;
            // With stores deferred their slots are stale: the values must
            // not be forgotten (after a helper's call) and reloaded.
            l.pinned[at] = !l.deferred.is_empty();
        }
    }
    // DELAY FIXED: this step's inputs go in.
    for (i, ring) in program.rings.iter().enumerate() {
        for lane in 0..groups * l.width {
            let group_value = l.get(ring.input, lane / l.width);
            let value = if l.width == 1 {
                group_value
            } else {
                l.b.ins().extractlane(group_value, (lane % l.width) as u8)
            };
            let lane_number = l.lane_number(lane);
            let ring_number = l.b.ins().iconst(types::I64, i as i64);
            let callee = l.b.ins().iconst(pointer, code::PUSH_HELPER as usize as i64);
            let rings = l.rings;
            l.b.ins().call_indirect(
                l.sigs.push,
                callee,
                &[rings, lane_number, ring_number, value],
            );
            l.forget();
        }
    }
    if rk4 {
        let limit = limit_helper.filter(|_| limiting).map(|helper| LimitCall {
            helper,
            program: program_pointer,
            slots: all_slots,
            length: slots * lanes,
        });
        l.rk4_stages(program, [k, first, start, dt_scalar], dt, limit);
    }
    // Integrate: stock + dt * net flow, then floor the non-negative ones
    // at min(before, 0) as the interpreter does.
    let mut next = Vec::new();
    for (j, &slot) in stock_slots.iter().enumerate() {
        let derivative = (program.derivatives + j) as u32;
        for group in 0..groups {
            let before = l.get(slot, group);
            let d = l.get(derivative, group);
            let change = l.b.ins().fmul(dt, d);
            let mut value = l.b.ins().fadd(before, change);
            if non_negative.contains(&slot) {
                value = l.floor_stock(before, value);
            }
            l.set(slot, group, value);
            next.push(value);
        }
    }
    // The time of this step: start + step * dt.
    let one = l.b.ins().iadd_imm(k, 1);
    let step = l.b.ins().iadd(first, one);
    // A step number is below 2^63: converted as signed, the same value
    // as unsigned (`usize as f64` in `Time::time_at`) without the
    // unsigned conversion's test and branch.
    let step = l.b.ins().fcvt_from_sint(types::F64, step);
    let offset = l.b.ins().fmul(step, dt_scalar);
    let time = l.b.ins().fadd(start, offset);
    let time = l.splat(time);
    for group in 0..groups {
        l.set(TIME as u32, group, time);
    }
    if limiting && !rk4 {
        l.lower_list(program.step_ops.ops());
        // The fast path: the interpreter's first pass of limiting, every
        // non-negative stock in every lane at once, without scaling. When
        // no stock would be limited in any lane that pass changes nothing
        // and the interpreter stops there; otherwise the interpreter's
        // limiting runs on the slots (all lanes, exactly as it would).
        let (slow, join, kept) = l.limit_branch(program, dt);
        l.b.switch_to_block(slow);
        let callee = l.b.ins().iconst(pointer, limit_helper.unwrap_or(0) as i64);
        let length = l.b.ins().iconst(pointer, (slots * lanes) as i64);
        let first_lane = l.lane_number(0);
        let width = l.b.ins().iconst(types::I64, (groups * l.width) as i64);
        l.b.ins().call_indirect(
            l.sigs.limit,
            callee,
            &[
                program_pointer,
                all_slots,
                length,
                first_lane,
                width,
                dt_scalar,
            ],
        );
        l.b.ins().jump(join, &[]);
        l.b.switch_to_block(join);
        // Limiting may have changed flows in memory: forget all but the
        // stocks, the time and the values kept only in registers.
        l.cache = kept;
        l.forget();
        for (j, &slot) in stock_slots.iter().enumerate() {
            for group in 0..groups {
                l.cache[slot as usize * groups + group] = Some(next[j * groups + group]);
                l.cached_at[slot as usize * groups + group] = l.clock;
            }
        }
        for group in 0..groups {
            l.cache[TIME * groups + group] = Some(time);
        }
    } else {
        l.lower_list(program.step_ops.ops());
    }
    l.lower_list(program.derivative_ops.ops());
    // NaN and infinity: the sum of the tested values (added as they were
    // set) is NaN or infinite if any is (or, for values near the largest
    // double, if the sum overflows: a false alarm, which the
    // interpreter's replay of the run finds and goes on from).
    // (Summed from the first: a zero to start from was kept in a
    // register, spilled, through the whole loop.)
    let mut sums = std::mem::take(&mut l.check_sums).into_iter();
    let mut total = match sums.next() {
        Some(first) => first,
        None => l.constant(0.0),
    };
    for sum in sums {
        total = l.b.ins().fadd(total, sum);
    }
    // NaN or infinite: its magnitude is not below infinity. The sum is
    // used once: Cranelift takes a value used twice (`total - total`) to
    // make every value it is computed from used twice too, down to the
    // loads, and then folds none of them into the instruction using it.
    let magnitude = l.b.ins().fabs(total);
    let infinity = l.constant(f64::INFINITY);
    let bad = l.compare(FloatCC::UnorderedOrGreaterThanOrEqual, magnitude, infinity);
    let bad = l.any_lane(bad);
    let mut carried_args = Vec::new();
    for &slot in &carried {
        let j = stock_slots
            .iter()
            .position(|&s| s == slot)
            .expect("a stock");
        for group in 0..groups {
            carried_args.push(ir::BlockArg::Value(next[j * groups + group]));
        }
    }
    for &slot in &carried_derivatives {
        for group in 0..groups {
            let v = l.get(slot, group);
            carried_args.push(ir::BlockArg::Value(v));
        }
    }
    l.b.set_cold_block(failed);
    if !save_rows {
        // One save time per call: the caller reads the row from the slots.
        let mut args = vec![
            ir::BlockArg::Value(one),
            ir::BlockArg::Value(until_save),
            ir::BlockArg::Value(row),
        ];
        args.extend(carried_args);
        l.b.ins()
            .brif(bad, failed, &[ir::BlockArg::Value(one)], header, &args);
        return l.finish_advance([group_header, done, all_done, failed], g);
    }
    let passed = l.b.create_block();
    let save = l.b.create_block();
    l.b.ins()
        .brif(bad, failed, &[ir::BlockArg::Value(one)], passed, &[]);

    // A save time after every `every` steps and after the last step.
    l.b.switch_to_block(passed);
    let until_next = l.b.ins().iadd_imm(until_save, -1);
    let due =
        l.b.ins()
            .icmp_imm(ir::condcodes::IntCC::Equal, until_next, 0);
    let last =
        l.b.ins()
            .icmp(ir::condcodes::IntCC::SignedGreaterThanOrEqual, one, count);
    let due = l.b.ins().bor(due, last);
    let mut args = vec![
        ir::BlockArg::Value(one),
        ir::BlockArg::Value(until_next),
        ir::BlockArg::Value(row),
    ];
    args.extend(carried_args.iter().cloned());
    l.b.ins().brif(due, save, &[], header, &args);

    // The row: every output of this step, from registers where they are
    // (one group of lanes) or loaded from their slots (several: kept in
    // registers from where they were set to here, they were spilled).
    // Called without a buffer (`saved` null, one save time a call), the
    // caller reads the row from the slots.
    l.b.switch_to_block(save);
    let store_row = l.b.create_block();
    let row_done = l.b.create_block();
    l.b.append_block_param(row_done, pointer);
    let no_buffer = l.b.ins().icmp_imm(ir::condcodes::IntCC::Equal, saved, 0);
    l.b.ins().brif(
        no_buffer,
        row_done,
        &[ir::BlockArg::Value(row)],
        store_row,
        &[],
    );
    l.b.switch_to_block(store_row);
    let flags = l.flags();
    for slot in outputs.clone() {
        for group in 0..groups {
            let v = if groups > 1 {
                let (_, from) = l.offset(slot as u32, group);
                l.b.ins().load(l.ty, flags, l.slots, from)
            } else {
                l.get(slot as u32, group)
            };
            let offset = (((slot - outputs.start) * lanes + group * l.width) * 8) as i32;
            l.b.ins().store(flags, v, row, offset);
        }
    }
    let next_row = l.b.ins().iadd_imm(row, row_bytes);
    l.b.ins().jump(row_done, &[ir::BlockArg::Value(next_row)]);
    l.b.switch_to_block(row_done);
    let next_row = l.b.block_params(row_done)[0];
    let mut args = vec![
        ir::BlockArg::Value(one),
        ir::BlockArg::Value(every),
        ir::BlockArg::Value(next_row),
    ];
    args.extend(carried_args);
    if l.deferred.is_empty() {
        l.b.ins().jump(header, &args);
    } else {
        // After the call's last step the slots hold its values.
        let flush = l.b.create_block();
        l.b.ins().brif(last, flush, &[], header, &args);
        l.b.switch_to_block(flush);
        l.flush();
        l.b.ins().jump(header, &args);
    }

    l.finish_advance([group_header, done, all_done, failed], g);
}

impl Lowering<'_> {
    /// The end of the compiled loop (`blocks`: the group header, the
    /// group done, all done, failed): the next group of lanes `g + 1`, the
    /// return of 0, the return of the failed step.
    fn finish_advance(mut self, blocks: [ir::Block; 4], g: Value) {
        let [group_header, done, all_done, failed] = blocks;
        self.b.switch_to_block(done);
        let next_group = self.b.ins().iadd_imm(g, 1);
        self.b
            .ins()
            .jump(group_header, &[ir::BlockArg::Value(next_group)]);
        self.b.switch_to_block(all_done);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.ins().return_(&[zero]);
        self.b.switch_to_block(failed);
        let at = self.b.block_params(failed)[0];
        self.b.ins().return_(&[at]);
        self.b.seal_all_blocks();
        self.b.finalize();
    }
}

/// How the compiled loop calls the interpreter's limiting: the helper's
/// address, the program, and the slots (all lanes) and their number.
struct LimitCall {
    helper: usize,
    program: Value,
    slots: Value,
    length: usize,
}

impl<'a> Lowering<'a> {
    /// The interpreter's `rk4_step` up to its integration, for step
    /// `first + k` (`at = [k, first, start, dt]`, `dt` also splatted): the
    /// stocks and flows at the start kept; for each stage, the stocks set
    /// to `start + advance * net flows`, the time to the stage's, the flows
    /// and net flows evaluated (not tested for NaN: the interpreter tests
    /// only the evaluation at the step's time) and each flow added to its
    /// sum with the stage's weight; the flows set to their sums divided by
    /// 6, the stocks put back, limiting (its fast path first, as under
    /// Euler) and the net flows evaluated. The same IEEE operations in the
    /// same order as the interpreter.
    fn rk4_stages(
        &mut self,
        program: &Program,
        at: [Value; 4],
        dt: Value,
        limit: Option<LimitCall>,
    ) {
        let [k, first, start, dt_scalar] = at;
        let groups = self.groups();
        let tested = std::mem::take(&mut self.tested);
        let stocks: Vec<u32> = program.integrated.clone().map(|s| s as u32).collect();
        // The step's time, as `Time::time_at`: start + step * dt.
        let step = self.b.ins().iadd(first, k);
        let step = self.b.ins().fcvt_from_sint(types::F64, step);
        let offset = self.b.ins().fmul(step, dt_scalar);
        let t = self.b.ins().fadd(start, offset);
        let two = self.b.ins().f64const(2.0);
        let half = self.b.ins().fdiv(dt_scalar, two);
        let middle = self.b.ins().fadd(t, half);
        let end = self.b.ins().fadd(t, dt_scalar);
        let mut at_start = Vec::with_capacity(stocks.len() * groups);
        for &slot in &stocks {
            for group in 0..groups {
                at_start.push(self.get(slot, group));
            }
        }
        let mut sums = Vec::with_capacity(program.flows.len() * groups);
        for &f in &program.flows {
            for group in 0..groups {
                sums.push(self.get(f, group));
            }
        }
        for (time, weight, advance) in [
            (middle, 2.0, half),
            (middle, 2.0, half),
            (end, 1.0, dt_scalar),
        ] {
            let advance = self.splat(advance);
            let mut staged = Vec::with_capacity(at_start.len());
            for j in 0..stocks.len() {
                let derivative = (program.derivatives + j) as u32;
                for group in 0..groups {
                    let d = self.get(derivative, group);
                    let change = self.b.ins().fmul(advance, d);
                    staged.push(self.b.ins().fadd(at_start[j * groups + group], change));
                }
            }
            for (j, &slot) in stocks.iter().enumerate() {
                for group in 0..groups {
                    self.set(slot, group, staged[j * groups + group]);
                }
            }
            let time = self.splat(time);
            for group in 0..groups {
                self.set(TIME as u32, group, time);
            }
            for op in program
                .step_ops
                .ops()
                .iter()
                .chain(program.derivative_ops.ops())
            {
                for group in 0..groups {
                    self.op(op, group);
                }
            }
            let weight = self.constant(weight);
            for (m, &f) in program.flows.iter().enumerate() {
                for group in 0..groups {
                    let v = self.get(f, group);
                    let weighted = self.b.ins().fmul(weight, v);
                    let sum = &mut sums[m * groups + group];
                    *sum = self.b.ins().fadd(*sum, weighted);
                }
            }
        }
        let six = self.constant(6.0);
        for (m, &f) in program.flows.iter().enumerate() {
            for group in 0..groups {
                let average = self.b.ins().fdiv(sums[m * groups + group], six);
                self.set(f, group, average);
            }
        }
        for (j, &slot) in stocks.iter().enumerate() {
            for group in 0..groups {
                self.set(slot, group, at_start[j * groups + group]);
            }
        }
        if let Some(limit) = limit {
            // As under Euler: the interpreter's limiting only when its first
            // pass would scale a flow in some lane.
            let (slow, join, kept) = self.limit_branch(program, dt);
            self.b.switch_to_block(slow);
            let callee = self.b.ins().iconst(self.pointer, limit.helper as i64);
            let length = self.b.ins().iconst(self.pointer, limit.length as i64);
            let first_lane = self.lane_number(0);
            let width = self
                .b
                .ins()
                .iconst(types::I64, (groups * self.width) as i64);
            self.b.ins().call_indirect(
                self.sigs.limit,
                callee,
                &[
                    limit.program,
                    limit.slots,
                    length,
                    first_lane,
                    width,
                    dt_scalar,
                ],
            );
            self.b.ins().jump(join, &[]);
            self.b.switch_to_block(join);
            // Limiting may have changed flows in memory.
            self.cache = kept;
            self.forget();
        }
        for op in program.derivative_ops.ops() {
            for group in 0..groups {
                self.op(op, group);
            }
        }
        self.tested = tested;
    }

    fn new(
        mut b: FunctionBuilder<'a>,
        slots: usize,
        lanes: usize,
        pointer: ir::Type,
        options: &Options,
        tables: &[LookupTable],
    ) -> Lowering<'a> {
        // Pairs of lanes in vector registers where the lanes pair up.
        let width = if lanes.is_multiple_of(2) { 2 } else { 1 };
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        b.seal_block(block);
        let params = b.block_params(block).to_vec();
        let call_conv = b.func.signature.call_conv;
        let signature = |params: &[ir::Type]| {
            let mut s = ir::Signature::new(call_conv);
            s.params.extend(params.iter().map(|&t| AbiParam::new(t)));
            s.returns.push(AbiParam::new(types::F64));
            s
        };
        let f64_ = types::F64;
        let sigs = Signatures {
            func1: b.import_signature(signature(&[f64_])),
            func2: b.import_signature(signature(&[f64_, f64_])),
            time: b.import_signature(signature(&[types::I32, f64_, f64_, f64_, f64_, f64_, f64_])),
            lookup: b.import_signature(signature(&[pointer, types::I64, f64_])),
            delay: b.import_signature(signature(&[pointer, types::I64, types::I64])),
            push: b.import_signature({
                let mut s = ir::Signature::new(call_conv);
                for t in [pointer, types::I64, types::I64, f64_] {
                    s.params.push(AbiParam::new(t));
                }
                s
            }),
            limit: b.import_signature({
                let mut s = ir::Signature::new(call_conv);
                for t in [pointer, pointer, pointer, types::I64, types::I64, f64_] {
                    s.params.push(AbiParam::new(t));
                }
                s
            }),
        };
        Lowering {
            b,
            slots: params[0],
            tables: params[1],
            rings: params[2],
            params,
            lanes,
            width,
            ty: if width == 2 { types::F64X2 } else { types::F64 },
            pointer,
            cache: vec![None; slots * (lanes / width)],
            unrolled: lanes / width,
            lane_base: None,
            in_registers: Vec::new(),
            clock: 0,
            cached_at: vec![0; slots * (lanes / width)],
            invariant: std::collections::HashSet::new(),
            unstored: false,
            pinned: vec![false; slots * (lanes / width)],
            deferred: Vec::new(),
            dirty: vec![false; slots * (lanes / width)],
            tested: Vec::new(),
            check_sums: Vec::new(),
            check_count: 0,
            recent: Vec::new(),
            computed: std::collections::HashMap::new(),
            sigs,
            sabotage: options.sabotage,
            lookup_tables: tables.to_vec(),
        }
    }
}

struct Signatures {
    func1: ir::SigRef,
    func2: ir::SigRef,
    time: ir::SigRef,
    lookup: ir::SigRef,
    delay: ir::SigRef,
    push: ir::SigRef,
    limit: ir::SigRef,
}

struct Lowering<'a> {
    b: FunctionBuilder<'a>,
    slots: Value,
    tables: Value,
    rings: Value,
    /// The function's parameters.
    params: Vec<Value>,
    lanes: usize,
    /// Lanes per value: 1 (scalar `f64`) or 2 (vector `f64x2`).
    width: usize,
    /// `F64` or `F64X2`.
    ty: ir::Type,
    pointer: ir::Type,
    /// The value of each slot of each group of `width` lanes once loaded
    /// or computed.
    cache: Vec<Option<Value>>,
    /// The groups of `width` lanes in the code: all of them, or one (the
    /// compiled loop, which runs the groups in turn).
    unrolled: usize,
    /// The first lane of the group being run, when the code runs one
    /// group at a time (an `I64`).
    lane_base: Option<Value>,
    /// The slots (by number) whose values are never stored, only kept in
    /// registers: in the compiled loop, the temporaries of expressions,
    /// which nothing outside one step's evaluation reads. Empty elsewhere.
    in_registers: Vec<bool>,
    /// The operations lowered so far, and when each cached value was
    /// loaded or computed.
    clock: usize,
    cached_at: Vec<usize>,
    /// The operations of the Euler loop that compute the same value at
    /// every step ([`invariant_ops`]), by address: not lowered.
    invariant: std::collections::HashSet<*const Op>,
    /// Whether the value being set is not stored, because a later
    /// operation of the same list writes its slot again
    /// ([`Lowering::lower_list`]).
    unstored: bool,
    /// Which cached values (by cache index) are only in a register, not
    /// stored: never forgotten or reloaded until the slot is set again.
    pinned: Vec<bool>,
    /// The slots (by number) whose stores the compiled loop defers to
    /// the end of its call ([`deferred_slots`]): their values are kept in
    /// registers (pinned) and stored by [`Lowering::flush`]. Empty
    /// elsewhere.
    deferred: Vec<bool>,
    /// Which cached values (by cache index) are deferred and not stored.
    dirty: Vec<bool>,
    /// The slots (by number) tested for NaN and infinity as they are set,
    /// the running sums ([`Lowering::add_to_check`]) and how many values
    /// they have had.
    tested: Vec<bool>,
    check_sums: Vec<Value>,
    check_count: usize,
    /// The function, operands and result of the last few costly calls
    /// lowered in this step, newest first ([`Lowering::reused`]); emptied
    /// where a step starts.
    recent: Vec<(u8, Value, Value, Value)>,
    /// The functions of two values computed (function, operands) and
    /// when ([`Lowering::func2`]); emptied where a step starts.
    computed: std::collections::HashMap<(u8, Value, Value), (Value, usize)>,
    sigs: Signatures,
    sabotage: bool,
    /// The program's lookup tables, fixed for the life of its code: small
    /// ones are lowered inline ([`Lowering::lookup`]).
    lookup_tables: Vec<LookupTable>,
}

impl Lowering<'_> {
    /// How many operations a value stays in a register for reuse before it
    /// is loaded again.
    const WINDOW: usize = 24;

    /// The groups of `width` lanes in the code.
    fn groups(&self) -> usize {
        self.unrolled
    }

    /// Lane `lane` of the code (`group * width + k` for lane `k` of group
    /// `group`), as an `I64`.
    fn lane_number(&mut self, lane: usize) -> Value {
        match self.lane_base {
            None => self.b.ins().iconst(types::I64, lane as i64),
            Some(base) => self.b.ins().iadd_imm(base, lane as i64),
        }
    }

    /// Where slot `slot` of group `group` is cached, and its byte offset.
    fn offset(&self, slot: u32, group: usize) -> (usize, i32) {
        let at = slot as usize * self.groups() + group;
        let lane = slot as usize * self.lanes + group * self.width;
        // In range: checked against i32::MAX in `compile`.
        (at, (lane * 8) as i32)
    }

    /// Aligned for one `f64`; a pair of lanes may not be aligned for two.
    fn flags(&self) -> MemFlags {
        if self.width == 1 {
            MemFlags::trusted()
        } else {
            MemFlags::new().with_notrap()
        }
    }

    /// Lowers `ops` for every group, storing a value only if no later
    /// operation of `ops` writes its slot again: a net flow, built up by
    /// one operation per flow, is stored once, when complete. A value not
    /// stored stays in a register ([`Lowering::pinned`]) until its slot is
    /// written again; nothing reads the slots from memory meanwhile (the
    /// helpers an operation calls are handed values, not slots).
    fn lower_list(&mut self, ops: &[Op]) {
        let mut written = vec![false; self.cache.len() / self.groups()];
        let mut rewritten = vec![false; ops.len()];
        for (k, op) in ops.iter().enumerate().rev() {
            let d = op.destination() as usize;
            rewritten[k] = written[d];
            written[d] = true;
        }
        for (op, &rewritten) in ops.iter().zip(&rewritten) {
            if self.invariant.contains(&std::ptr::from_ref(op)) {
                // Its slot holds the value from the run's first
                // evaluation, which it would compute again.
                continue;
            }
            self.unstored = rewritten;
            for group in 0..self.groups() {
                self.op(op, group);
            }
        }
        self.unstored = false;
    }

    fn get(&mut self, slot: u32, group: usize) -> Value {
        let (at, offset) = self.offset(slot, group);
        if self.pinned[at]
            && let Some(v) = self.cache[at]
        {
            return v;
        }
        if let Some(v) = self.cache[at] {
            // A value in memory read again long after it was loaded or
            // computed is loaded again: keeping it in a register all that
            // time would only make the register allocator spill it (a
            // store and a load on the stack instead of one load).
            let in_registers = self
                .in_registers
                .get(slot as usize)
                .copied()
                .unwrap_or(false);
            if in_registers || self.clock - self.cached_at[at] <= Self::WINDOW {
                return v;
            }
        }
        let flags = self.flags();
        let v = self.b.ins().load(self.ty, flags, self.slots, offset);
        self.cache[at] = Some(v);
        self.cached_at[at] = self.clock;
        v
    }

    fn set(&mut self, slot: u32, group: usize, v: Value) {
        let (at, offset) = self.offset(slot, group);
        let deferred = self.deferred.get(slot as usize).copied().unwrap_or(false);
        let stored = !self.unstored
            && !deferred
            && !self
                .in_registers
                .get(slot as usize)
                .copied()
                .unwrap_or(false);
        if stored {
            let flags = self.flags();
            self.b.ins().store(flags, v, self.slots, offset);
        }
        self.dirty[at] = deferred && !self.unstored;
        self.pinned[at] = self.unstored || deferred;
        self.cache[at] = Some(v);
        self.cached_at[at] = self.clock;
        // A value that a later operation of the list overwrites (a net
        // flow being summed) is tested when final.
        if !self.unstored && self.tested.get(slot as usize).copied().unwrap_or(false) {
            if stored {
                // Read back from its slot for the test (the load folded
                // into the addition), so that the value itself is used
                // once, by its store: Cranelift takes a value used twice
                // to make every value it is computed from used twice too,
                // down to the loads, and then folds none of them into the
                // instruction using it (England: 5,806 instructions a
                // group-step with the value added, 5,374 read back).
                let flags = self.flags();
                let again = self.b.ins().load(self.ty, flags, self.slots, offset);
                self.add_to_check(again);
            } else {
                self.add_to_check(v);
            }
        }
    }

    /// Stores every deferred value not yet stored ([`Lowering::deferred`]),
    /// so that the slots hold what they would hold had each been stored
    /// when set.
    fn flush(&mut self) {
        let flags = self.flags();
        let groups = self.groups();
        for at in 0..self.dirty.len() {
            if self.dirty[at]
                && let Some(v) = self.cache[at]
            {
                let (slot, group) = (at / groups, at % groups);
                let (_, offset) = self.offset(slot as u32, group);
                self.b.ins().store(flags, v, self.slots, offset);
            }
        }
    }

    /// Adds a tested value to one of the running sums of the NaN and
    /// infinity test, when it is computed (so it need not stay in a
    /// register to the end of the step). Two sums: each holds a register
    /// through the step, so more of them spill other values (England's
    /// compiled step, about 360 tested values, callgrind: 6,504
    /// instructions with one sum, 6,492 with two, 6,617 with four, 6,709
    /// with eight; no difference in time measurable on the loaded
    /// machine), and one is a chain of dependent additions as long as the
    /// step.
    fn add_to_check(&mut self, v: Value) {
        let k = self.check_count % 2;
        self.check_count += 1;
        if k < self.check_sums.len() {
            self.check_sums[k] = self.b.ins().fadd(self.check_sums[k], v);
        } else {
            self.check_sums.push(v);
        }
    }

    /// `x` in every lane. A pair of lanes is loaded from the constant
    /// pool (one instruction, often folded into the one using it) instead
    /// of built in a general register, moved and shuffled (three).
    fn constant(&mut self, x: f64) -> Value {
        if x.to_bits() == 0 {
            let c = self.b.ins().f64const(x);
            return self.splat(c);
        }
        if self.width == 1 {
            // From the constant pool too: `f64const` of a NaN (`MIN`,
            // `MAX`) was a 64-bit immediate moved to a vector register,
            // two instructions at every use (England: 25 a step).
            return self.scalar_constant(x);
        }
        self.pair_constant(x)
    }

    /// `x` in both lanes of an `F64X2`, from the constant pool.
    fn pair_constant(&mut self, x: f64) -> Value {
        let bytes: Vec<u8> = [x, x].iter().flat_map(|v| v.to_le_bytes()).collect();
        let handle = self.b.func.dfg.constants.insert(bytes.into());
        self.b.ins().vconst(types::F64X2, handle)
    }

    /// `x` as an `F64`: lane 0 of a pair from the constant pool (no
    /// instruction of its own where it is folded into the one using it)
    /// rather than `f64const` (a 64-bit immediate in a general register,
    /// then moved: two), except `+0` (one clearing instruction).
    fn scalar_constant(&mut self, x: f64) -> Value {
        if x.to_bits() == 0 {
            return self.b.ins().f64const(x);
        }
        let pair = self.pair_constant(x);
        self.b.ins().extractlane(pair, 0)
    }

    /// A scalar in every lane of a value.
    fn splat(&mut self, x: Value) -> Value {
        if self.width == 1 {
            x
        } else {
            self.b.ins().splat(self.ty, x)
        }
    }

    /// `a` where `mask` (of [`Lowering::compare`]) holds, else `b`.
    fn choose(&mut self, mask: Value, a: Value, b: Value) -> Value {
        if self.width == 1 {
            self.b.ins().select(mask, a, b)
        } else {
            let mask = self.b.ins().bitcast(self.ty, MemFlags::new(), mask);
            self.b.ins().bitselect(mask, a, b)
        }
    }

    /// 1.0 where `cond` holds, else 0.0.
    fn boolean(&mut self, cond: Value) -> Value {
        let (one, zero) = (self.constant(1.0), self.constant(0.0));
        self.choose(cond, one, zero)
    }

    /// Calls a helper once per lane of group `group`: `args(lowering,
    /// lane, lane values of vector_args)` gives each call's arguments.
    #[allow(clippy::type_complexity)]
    fn call_lanes(
        &mut self,
        sig: ir::SigRef,
        address: usize,
        group: usize,
        vector_args: &[Value],
        args: &dyn Fn(&mut Self, usize, &[Value]) -> Vec<Value>,
    ) -> Value {
        let mut results = Vec::with_capacity(self.width);
        for k in 0..self.width {
            let scalars: Vec<Value> = if self.width == 1 {
                vector_args.to_vec()
            } else {
                vector_args
                    .iter()
                    .map(|&v| self.b.ins().extractlane(v, k as u8))
                    .collect()
            };
            let call_args = args(self, group * self.width + k, &scalars);
            results.push(self.call(sig, address, &call_args));
        }
        if self.width == 1 {
            results[0]
        } else {
            let v = self.b.ins().scalar_to_vector(self.ty, results[0]);
            self.b.ins().insertlane(v, results[1], 1)
        }
    }

    /// A pure function's helper at `address` (the interpreter's function
    /// of one or two values) of `operands`, lane by lane; where a pair of
    /// lanes has the same operands, bit for bit, the first lane's result
    /// is the second's, without a second call. In an ensemble many calls
    /// are of parameters no run varies (England's discount factor
    /// `1 / (1 + discount rate) ^ (TIME - INITIAL TIME)`, the trend in
    /// enquiries): one call per pair of lanes instead of two.
    fn call_pure(&mut self, sig: ir::SigRef, address: usize, operands: &[Value]) -> Value {
        if self.width == 1 {
            return self.call(sig, address, operands);
        }
        self.lanes_unless_same(operands, |l, scalars| l.call(sig, address, scalars))
    }

    /// `f` of the first lane's `operands` (as `f64`s), and of the second
    /// lane's unless they are the same bits as the first's (then the first
    /// lane's value is the second's), as a pair of lanes. For pure
    /// functions only: a call of the interpreter's function, a lookup.
    fn lanes_unless_same(
        &mut self,
        operands: &[Value],
        mut f: impl FnMut(&mut Self, &[Value]) -> Value,
    ) -> Value {
        let lane = |l: &mut Self, k: u8| -> Vec<Value> {
            operands
                .iter()
                .map(|&v| l.b.ins().extractlane(v, k))
                .collect()
        };
        let (firsts, seconds) = (lane(self, 0), lane(self, 1));
        let first = f(self, &firsts);
        let mut same = None;
        for (&x, &y) in firsts.iter().zip(&seconds) {
            let equal = self.same_bits(x, y);
            same = Some(match same {
                None => equal,
                Some(s) => self.b.ins().band(s, equal),
            });
        }
        let same = same.expect("a function of at least one value");
        let own = self.b.create_block();
        let join = self.b.create_block();
        self.b.append_block_param(join, types::F64);
        self.b
            .ins()
            .brif(same, join, &[ir::BlockArg::Value(first)], own, &[]);
        self.b.switch_to_block(own);
        let second = f(self, &seconds);
        self.b.ins().jump(join, &[ir::BlockArg::Value(second)]);
        self.b.switch_to_block(join);
        let second = self.b.block_params(join)[0];
        let v = self.b.ins().scalar_to_vector(self.ty, first);
        self.b.ins().insertlane(v, second, 1)
    }

    fn compare(&mut self, cc: FloatCC, a: Value, b: Value) -> Value {
        self.b.ins().fcmp(cc, a, b)
    }

    fn call(&mut self, sig: ir::SigRef, address: usize, args: &[Value]) -> Value {
        let callee = self.b.ins().iconst(self.pointer, address as i64);
        let call = self.b.ins().call_indirect(sig, callee, args);
        self.forget();
        self.b.inst_results(call)[0]
    }

    /// Forgets the values kept in registers, after a call: a call clobbers
    /// every vector register, so a value kept across it would be spilled
    /// to the stack and reloaded; every value is in the slots already, so
    /// reloading it from there costs less.
    ///
    /// Values kept only in registers ([`Lowering::in_registers`]) are not
    /// forgotten: the register allocator keeps them across the call.
    fn forget(&mut self) {
        self.computed.clear();
        let groups = self.groups();
        for (at, v) in self.cache.iter_mut().enumerate() {
            if !self.pinned[at] && !self.in_registers.get(at / groups).copied().unwrap_or(false) {
                *v = None;
            }
        }
    }

    /// A non-negative stock after integration: `value`, or the floor
    /// (`before` if below zero, else zero) if `value` is below it, as the
    /// interpreter's `integrate`.
    fn floor_stock(&mut self, before: Value, value: Value) -> Value {
        let zero = self.constant(0.0);
        let negative = self.compare(FloatCC::LessThan, before, zero);
        let floor = self.choose(negative, before, zero);
        let below = self.compare(FloatCC::LessThan, value, floor);
        self.choose(below, floor, value)
    }

    /// Branches to a block that calls limiting (returned first, cold,
    /// not yet filled) when the interpreter's limiting would scale any
    /// flow in any lane, else to the returned join block; the current
    /// block is left terminated. The test has three tiers: the cheap test
    /// ([`Lowering::limit_maybe`]) of every non-negative stock at once, in
    /// line, one branch for the step; only when it cannot rule limiting
    /// out (a flow negative somewhere, say), in a cold block, the cheap
    /// test of each stock on its own, and only for a stock that one
    /// cannot rule out, the interpreter's first pass for that stock
    /// ([`Lowering::limit_needed`]) in a colder block. Also returns the
    /// cache as it was before the branch, whose values dominate the join
    /// (those the cold blocks load do not).
    fn limit_branch(
        &mut self,
        program: &Program,
        dt: Value,
    ) -> (ir::Block, ir::Block, Vec<Option<Value>>) {
        let all = self.limit_maybe(program, &program.non_negative, false);
        let kept = self.cache.clone();
        let slow = self.b.create_block();
        let join = self.b.create_block();
        let tiers = self.b.create_block();
        self.b.set_cold_block(tiers);
        self.b.set_cold_block(slow);
        self.b.ins().brif(all, tiers, &[], join, &[]);
        self.b.switch_to_block(tiers);
        // Values kept from before the branch would be held in registers
        // through the hot path to reach this block: loaded again instead.
        self.forget();
        let mut any = self.b.ins().iconst(types::I8, 0);
        for &i in &program.non_negative {
            let maybe = self.limit_maybe(program, &[i], true);
            let kept = self.cache.clone();
            let exact = self.b.create_block();
            let next = self.b.create_block();
            self.b.set_cold_block(exact);
            self.b.set_cold_block(next);
            self.b.append_block_param(next, types::I8);
            self.b
                .ins()
                .brif(maybe, exact, &[], next, &[ir::BlockArg::Value(any)]);
            self.b.switch_to_block(exact);
            let limited = self.limit_needed(program, dt, &[i]);
            let either = self.b.ins().bor(any, limited);
            self.b.ins().jump(next, &[ir::BlockArg::Value(either)]);
            self.b.switch_to_block(next);
            any = self.b.block_params(next)[0];
            self.cache = kept;
        }
        self.b.ins().brif(any, slow, &[], join, &[]);
        self.cache = kept.clone();
        (slow, join, kept)
    }

    /// A cheap test that is true whenever the interpreter's limiting
    /// would scale some flow of the non-negative `stocks` in some lane
    /// (and sometimes when it would not). When every flow of a non-negative stock is `+0`, positive or
    /// `+inf` (no sign bit, no NaN), the interpreter's first pass counts
    /// every inflow as supply and every outflow as demand, so its sums
    /// are the plain sums of the inflows and of the outflows in order
    /// (adding `+0` changes no sum of such values), and it limits a stock
    /// only if `dt * demand > stock + dt * supply`, when
    /// `available - wanted` is negative or NaN (an IEEE difference of
    /// `x < y` is never zero). So the bitwise OR of every such flow and
    /// every such difference has its sign bit set, or is NaN, whenever
    /// some stock would be limited: the test is that the OR is below
    /// zero or unordered. A stock with no outflows has no demand and is
    /// skipped. Costs an OR per flow and an addition per term, instead of
    /// a comparison and two choices per term; many stocks tested together
    /// share one comparison (a flow of two stocks is ORed once).
    ///
    /// Without `supply` the inflows are left out of the margins: the test
    /// is then that `stock - dt * demand` is below zero or NaN (or a flow
    /// is), which it is whenever the margin with them is, since with no
    /// flow negative the supply is `+0` or more and `stock + dt * supply`
    /// (rounded) is at least `stock`. Cheaper (no sums of inflows), and
    /// as good where no stock could lose all it holds in one step; the
    /// test of each stock on its own keeps them.
    fn limit_maybe(&mut self, program: &Program, stocks: &[usize], supply: bool) -> Value {
        let terms = &program.flow_terms;
        let groups = self.groups();
        let mut signs: Vec<Value> = Vec::new();
        let mut count = 0;
        let mut or = |l: &mut Self, v: Value| {
            let k = count % 4;
            count += 1;
            if k < signs.len() {
                signs[k] = l.b.ins().bor(signs[k], v);
            } else {
                signs.push(v);
            }
        };
        let mut seen = std::collections::HashSet::new();
        for &i in stocks {
            let stock = program.stocks[i];
            let flows = &terms[stock.first_in as usize..stock.end as usize];
            let inflows = &terms[stock.first_in as usize..stock.first_out as usize];
            let outflows = &terms[stock.first_out as usize..stock.end as usize];
            for group in 0..groups {
                if let ([inflow], []) = (inflows, outflows) {
                    // One inflow and no outflows (an adjustment either
                    // way): the first pass limits the stock only when the
                    // inflow is negative and `dt * -inflow > stock`, that
                    // is when `stock + dt * inflow` is below zero (the
                    // same product negated: rounding is symmetric; an
                    // IEEE difference has the sign of the exact one), or
                    // NaN. The margin's sign decides, not the inflow's.
                    let v = self.get(*inflow, group);
                    let dt = self.dt_operand(group);
                    let change = self.b.ins().fmul(dt, v);
                    let stock_value = self.get(stock.slot, group);
                    let margin = self.b.ins().fadd(stock_value, change);
                    or(self, margin);
                    continue;
                }
                for &f in flows {
                    if seen.insert((f, group)) {
                        let v = self.get(f, group);
                        or(self, v);
                    }
                }
                let Some((&first, rest)) = outflows.split_first() else {
                    continue;
                };
                let mut demand = self.get(first, group);
                for &f in rest {
                    let v = self.get(f, group);
                    demand = self.b.ins().fadd(demand, v);
                }
                let mut available = self.get(stock.slot, group);
                if let Some((&first, rest)) = inflows.split_first().filter(|_| supply) {
                    let mut supply = self.get(first, group);
                    for &f in rest {
                        let v = self.get(f, group);
                        supply = self.b.ins().fadd(supply, v);
                    }
                    let dt = self.dt_operand(group);
                    let inflow = self.b.ins().fmul(dt, supply);
                    available = self.b.ins().fadd(available, inflow);
                }
                let dt = self.dt_operand(group);
                let wanted = self.b.ins().fmul(dt, demand);
                let margin = self.b.ins().fsub(available, wanted);
                or(self, margin);
            }
            // The values this test loaded are reused by the next few
            // stocks' tests (neighbours share flows) but not held for
            // the rest of the step, which spilled them: the clock moves
            // on as if each term were an operation.
            self.clock += (stock.end - stock.first_in) as usize + 1;
        }
        let Some(mut all) = signs.pop() else {
            // No flows: nothing to limit.
            return self.b.ins().iconst(types::I8, 0);
        };
        for v in signs {
            all = self.b.ins().bor(all, v);
        }
        let zero = self.constant(0.0);
        let maybe = self.compare(FloatCC::UnorderedOrLessThan, all, zero);
        self.any_lane(maybe)
    }

    /// The time step of group `group`, loaded from its slot ([`DT`]) for
    /// one multiplication, whose operand the load becomes (no
    /// instruction of its own): kept in a register through a large step
    /// the time step was spilled and loaded back from the stack for each
    /// stock the test of limiting tests (England: 55 loads a step). The
    /// compiled loop stores the time step it is handed in the slot first
    /// ([`Lowering::store_dt`]).
    fn dt_operand(&mut self, group: usize) -> Value {
        let (_, offset) = self.offset(DT as u32, group);
        let flags = self.flags();
        self.b.ins().load(self.ty, flags, self.slots, offset)
    }

    /// Stores `dt` (in every lane) in the time step's slot of every
    /// group, where [`Lowering::dt_operand`] reads it. The run keeps the
    /// same value there; the loop need not rely on it.
    fn store_dt(&mut self, dt: Value) {
        let flags = self.flags();
        for group in 0..self.groups() {
            let (_, offset) = self.offset(DT as u32, group);
            self.b.ins().store(flags, dt, self.slots, offset);
        }
    }

    /// Whether the interpreter's limiting would scale any flow in any
    /// lane: its first pass (every flow counted) computed for the
    /// non-negative `stocks`, with the flows and stocks as they are now
    /// (so that, none limited, nothing has changed them). The
    /// sums add the same values in the same order
    /// as the interpreter (a term that does not count adds zero, which
    /// changes no sum), so the test decides exactly as it does.
    fn limit_needed(&mut self, program: &Program, dt: Value, stocks: &[usize]) -> Value {
        let terms = &program.flow_terms;
        let groups = self.groups();
        let zero = self.constant(0.0);
        let mut any: Option<Value> = None;
        for &i in stocks {
            let stock = program.stocks[i];
            let inflows = &terms[stock.first_in as usize..stock.first_out as usize];
            let outflows = &terms[stock.first_out as usize..stock.end as usize];
            for group in 0..groups {
                let (mut supply, mut demand) = (zero, zero);
                for &f in inflows {
                    let v = self.get(f, group);
                    let negative = self.compare(FloatCC::LessThan, v, zero);
                    let taken = self.choose(negative, v, zero);
                    demand = self.b.ins().fsub(demand, taken);
                    let given = self.choose(negative, zero, v);
                    supply = self.b.ins().fadd(supply, given);
                }
                for &f in outflows {
                    let v = self.get(f, group);
                    let positive = self.compare(FloatCC::GreaterThan, v, zero);
                    let taken = self.choose(positive, v, zero);
                    demand = self.b.ins().fadd(demand, taken);
                    let given = self.choose(positive, zero, v);
                    supply = self.b.ins().fsub(supply, given);
                }
                let inflow = self.b.ins().fmul(dt, supply);
                let stock_value = self.get(stock.slot, group);
                let available = self.b.ins().fadd(stock_value, inflow);
                let wanted = self.b.ins().fmul(dt, demand);
                let some = self.compare(FloatCC::GreaterThan, demand, zero);
                let too_much = self.compare(FloatCC::GreaterThan, wanted, available);
                let limited = self.b.ins().band(some, too_much);
                any = Some(match any {
                    None => limited,
                    Some(a) => self.b.ins().bor(a, limited),
                });
            }
        }
        let any = any.expect("a stock to test");
        self.any_lane(any)
    }

    fn op(&mut self, op: &Op, lane: usize) {
        self.clock += 1;
        let v = match *op {
            Op::Copy { dst, a } => {
                let v = self.get(a, lane);
                return self.set(dst, lane, v);
            }
            Op::Add { dst, a, b } => (dst, self.func2(Func2::Add, a, b, lane)),
            Op::Sub { dst, a, b } => (dst, self.func2(Func2::Sub, a, b, lane)),
            Op::Mul { dst, a, b } => (dst, self.func2(Func2::Mul, a, b, lane)),
            Op::Div { dst, a, b } => (dst, self.func2(Func2::Div, a, b, lane)),
            Op::F1 { dst, f, a } => {
                let a = self.get(a, lane);
                (dst, self.func1(f, a))
            }
            Op::F2 { dst, f, a, b } => (dst, self.func2(f, a, b, lane)),
            Op::Select { dst, c, a, b } => {
                let (c, a, b) = (self.get(c, lane), self.get(a, lane), self.get(b, lane));
                let zero = self.constant(0.0);
                let cond = self.compare(FloatCC::NotEqual, c, zero);
                (dst, self.choose(cond, a, b))
            }
            Op::Xidz { dst, a, b, x } => {
                let (a, b, x) = (self.get(a, lane), self.get(b, lane), self.get(x, lane));
                let zero = self.constant(0.0);
                let quotient = self.b.ins().fdiv(a, b);
                let cond = self.compare(FloatCC::Equal, b, zero);
                (dst, self.choose(cond, x, quotient))
            }
            Op::Lookup { dst, table, a } => {
                let a = self.get(a, lane);
                if let Some(t) = self.lookup_tables.get(table as usize)
                    && t.xs().len() <= Self::INLINE_LOOKUP_POINTS
                {
                    let t = t.clone();
                    return {
                        let v = self.lookup(&t, a);
                        self.set(dst, lane, v)
                    };
                }
                let lookup = move |l: &mut Self, _: usize, x: &[Value]| {
                    let index = l.b.ins().iconst(types::I64, i64::from(table));
                    vec![l.tables, index, x[0]]
                };
                let sig = self.sigs.lookup;
                (
                    dst,
                    self.call_lanes(sig, code::LOOKUP_HELPER as usize, lane, &[a], &lookup),
                )
            }
            Op::Time { dst, f, args } => {
                let number = index_of(&TIME_FUNCS, &f) as i64;
                let mut values = vec![self.get(TIME as u32, lane), self.get(DT as u32, lane)];
                for arg in args {
                    values.push(self.get(arg, lane));
                }
                let time = move |l: &mut Self, _: usize, x: &[Value]| {
                    let mut all = vec![l.b.ins().iconst(types::I32, number)];
                    all.extend_from_slice(x);
                    all
                };
                let helper: extern "C" fn(u32, f64, f64, f64, f64, f64, f64) -> f64 = time_helper;
                let sig = self.sigs.time;
                (
                    dst,
                    self.call_lanes(sig, helper as usize, lane, &values, &time),
                )
            }
            Op::DelayFixed { dst, ring } => {
                let delay = move |l: &mut Self, lane: usize, _: &[Value]| {
                    let lane_number = l.lane_number(lane);
                    let ring = l.b.ins().iconst(types::I64, i64::from(ring));
                    vec![l.rings, lane_number, ring]
                };
                let sig = self.sigs.delay;
                (
                    dst,
                    self.call_lanes(sig, code::DELAY_HELPER as usize, lane, &[], &delay),
                )
            }
            // Random draws mutate the run's generators: programs with them
            // run interpreted (refused by `supported`).
            Op::Random { .. } => unreachable!("refused by supported"),
        };
        self.set(v.0, lane, v.1);
    }

    fn func1(&mut self, f: Func1, a: Value) -> Value {
        let zero = self.constant(0.0);
        match f {
            Func1::Neg => self.b.ins().fneg(a),
            Func1::Abs => self.b.ins().fabs(a),
            Func1::Sqrt => self.b.ins().sqrt(a),
            Func1::Integer => self.b.ins().trunc(a),
            Func1::Floor => self.b.ins().floor(a),
            Func1::Not => {
                let c = self.compare(FloatCC::Equal, a, zero);
                self.boolean(c)
            }
            Func1::ClampNonNegative => {
                let c = self.compare(FloatCC::LessThan, a, zero);
                self.choose(c, zero, a)
            }
            Func1::Sign => {
                let (one, minus_one) = (self.constant(1.0), self.constant(-1.0));
                let negative = self.compare(FloatCC::LessThan, a, zero);
                let below = self.choose(negative, minus_one, a);
                let positive = self.compare(FloatCC::GreaterThan, a, zero);
                self.choose(positive, one, below)
            }
            _ => {
                let number = index_of(&FUNC1, &f);
                let helper = FUNC1_HELPERS[number];
                let sig = self.sigs.func1;
                self.reused(number as u8, a, a, |l| {
                    l.call_pure(sig, helper as usize, &[a])
                })
            }
        }
    }

    /// `a ^ b` by the interpreter's `powf` (C's `pow`), skipping the call
    /// when every lane has `a` equal to 1 or `b` equal to 0 (or -0): there
    /// `pow` gives exactly 1 whatever the other operand, NaN included
    /// (C99 Annex F, IEEE 754 `pow`), as the interpreter's call does. Such
    /// powers are common: a price index `(1 + market * growth) ^ years`
    /// of a placement not bought at market prices, or a growth factor
    /// before the year it starts.
    ///
    /// Also skips the call when the operands are the same bits as those
    /// of one of the last few powers of this step ([`Lowering::reused`]).
    /// In England the placement price index raises the same two growth
    /// factors to the same power for three placements each.
    fn pow(&mut self, a: Value, b: Value) -> Value {
        self.reused(Self::POW, a, b, |l| l.pow_called(a, b))
    }

    /// `compute`'s result (a costly function, `key`, of `a` and `b`; `b`
    /// is `a` for a function of one value), unless in every lane `a` and
    /// `b` are the same bits as the operands of one of the last few calls
    /// of the same function in this step ([`Lowering::recent`]): then
    /// that call's result, by a branch around `compute`. The function is
    /// one of its operands' bits alone, so the result is the same bits.
    /// England's exits from care compute `EXP(care exit trend * (Time -
    /// 2013.25))` for each of four exits, the same argument each time:
    /// one call a step instead of four.
    fn reused(
        &mut self,
        key: u8,
        a: Value,
        b: Value,
        compute: impl FnOnce(&mut Self) -> Value,
    ) -> Value {
        let join = self.b.create_block();
        self.b.append_block_param(join, self.ty);
        let earlier: Vec<_> = self.recent.iter().filter(|r| r.0 == key).copied().collect();
        for (_, pa, pb, pr) in earlier.into_iter().take(Self::RECENT) {
            let same_a = self.same_bits(a, pa);
            let same = if pb == pa && a == b {
                same_a
            } else {
                let same_b = self.same_bits(b, pb);
                self.b.ins().band(same_a, same_b)
            };
            let all_same = self.every_lane(same);
            let next = self.b.create_block();
            self.b
                .ins()
                .brif(all_same, join, &[ir::BlockArg::Value(pr)], next, &[]);
            self.b.switch_to_block(next);
        }
        let value = compute(self);
        self.b.ins().jump(join, &[ir::BlockArg::Value(value)]);
        self.b.switch_to_block(join);
        let result = self.b.block_params(join)[0];
        self.recent.insert(0, (key, a, b, result));
        self.recent.truncate(Self::RECENT * 4);
        result
    }

    /// The key of `pow` among [`Lowering::recent`]'s (the others are
    /// functions of one value, by their place in [`FUNC1`]).
    const POW: u8 = u8::MAX;

    /// How many earlier calls of a function [`Lowering::reused`] compares
    /// with.
    const RECENT: usize = 2;

    /// Whether `mask` is true in any lane (a scalar mask is itself).
    fn any_lane(&mut self, mask: Value) -> Value {
        if self.width > 1 {
            self.b.ins().vany_true(mask)
        } else {
            mask
        }
    }

    /// Whether `mask` is true in every lane (a scalar mask is itself).
    fn every_lane(&mut self, mask: Value) -> Value {
        if self.width > 1 {
            self.b.ins().vall_true(mask)
        } else {
            mask
        }
    }

    /// Whether `a` and `b` are the same bits (a mask, lane by lane).
    fn same_bits(&mut self, a: Value, b: Value) -> Value {
        let int = if self.b.func.dfg.value_type(a) == types::F64 {
            types::I64
        } else {
            types::I64X2
        };
        let a = self.b.ins().bitcast(int, MemFlags::new(), a);
        let b = self.b.ins().bitcast(int, MemFlags::new(), b);
        self.b.ins().icmp(ir::condcodes::IntCC::Equal, a, b)
    }

    /// `a ^ b` computed: 1 when every lane is trivial, else `pow` called
    /// lane by lane ([`Lowering::pow`]).
    fn pow_called(&mut self, a: Value, b: Value) -> Value {
        let (one, zero) = (self.constant(1.0), self.constant(0.0));
        let base_one = self.compare(FloatCC::Equal, a, one);
        let exponent_zero = self.compare(FloatCC::Equal, b, zero);
        let trivial = self.b.ins().bor(base_one, exponent_zero);
        let all_trivial = self.every_lane(trivial);
        let slow = self.b.create_block();
        let join = self.b.create_block();
        self.b.append_block_param(join, self.ty);
        self.b
            .ins()
            .brif(all_trivial, join, &[ir::BlockArg::Value(one)], slow, &[]);
        self.b.switch_to_block(slow);
        let helper = FUNC2_HELPERS[index_of(&FUNC2, &Func2::Pow)];
        let sig = self.sigs.func2;
        let power = self.call_pure(sig, helper as usize, &[a, b]);
        self.b.ins().jump(join, &[ir::BlockArg::Value(power)]);
        self.b.switch_to_block(join);
        self.b.block_params(join)[0]
    }

    /// Tables of at most this many points are lowered inline, as a search
    /// tree of comparisons; larger ones call the interpreter's
    /// [`LookupTable::eval`].
    const INLINE_LOOKUP_POINTS: usize = 16;

    /// A lookup in a table known when compiling, lowered to the
    /// interpreter's arithmetic in the same order ([`LookupTable::eval`]):
    /// NaN for NaN; the end values beyond the ends (or the end segments
    /// extended, for `Extrapolate`); else
    /// `y0 + (x - x0) * (y1 - y0) / (x1 - x0)` on the segment where
    /// `x0 <= x < x1` (`y0` for `Discrete`).
    /// The differences `y1 - y0` and `x1 - x0` of constants are computed
    /// here by the same IEEE subtraction, so every value is the same bits.
    ///
    /// Each lane is looked up on its own ([`Lowering::lookup_lane`]), by a
    /// binary search in branches: a few comparisons where testing every
    /// point (a chain of choices, as this was) took about 200 instructions
    /// for an 11-point table of the year (England has nine).
    fn lookup(&mut self, table: &LookupTable, x: Value) -> Value {
        if self.width == 1 {
            return self.lookup_lane(table, x);
        }
        // Both lanes looked up on their own, unless they look up the same
        // bits (a table of the year, say): then the first's value is the
        // second's.
        self.lanes_unless_same(&[x], |l, xs| l.lookup_lane(table, xs[0]))
    }

    /// [`Lowering::lookup`] of one `f64`: NaN for NaN, the ends beyond the
    /// ends, else a binary search for the last segment whose start is at or
    /// below `x` (the first segment if none is), whose constants go to one
    /// block that interpolates. The search tests `x >= start`, false for
    /// NaN, but NaN is sent to its own block before it.
    fn lookup_lane(&mut self, table: &LookupTable, x: Value) -> Value {
        let (xs, ys) = (table.xs(), table.ys());
        let n = xs.len();
        let join = self.b.create_block();
        self.b.append_block_param(join, types::F64);
        let unordered = self.b.ins().fcmp(FloatCC::Unordered, x, x);
        let nan = self.scalar_constant(f64::NAN);
        let searched = self.b.create_block();
        self.b
            .ins()
            .brif(unordered, join, &[ir::BlockArg::Value(nan)], searched, &[]);
        self.b.switch_to_block(searched);
        let constant_leaf = |l: &mut Self, y: f64| {
            let y = l.scalar_constant(y);
            l.b.ins().jump(join, &[ir::BlockArg::Value(y)]);
        };
        if n == 1 {
            constant_leaf(self, ys[0]);
        } else if table.interpolation() == Interpolation::Discrete {
            // ys[k] for the last k with xs[k] <= x (ys[0] at or below the
            // first point), ys[n - 1] at or beyond the last.
            self.search(x, xs, 0, n, &|l: &mut Self, k: usize| {
                constant_leaf(l, ys[k])
            });
        } else {
            // Segments (x0, y0, y1 - y0, x1 - x0); for `Extrapolate` the
            // last segment extended from the last point, as `eval`
            // computes beyond it.
            let mut segments: Vec<[f64; 4]> = (0..n - 1)
                .map(|k| [xs[k], ys[k], ys[k + 1] - ys[k], xs[k + 1] - xs[k]])
                .collect();
            let extrapolate = table.interpolation() == Interpolation::Extrapolate;
            if extrapolate {
                segments.push([
                    xs[n - 1],
                    ys[n - 1],
                    ys[n - 1] - ys[n - 2],
                    xs[n - 1] - xs[n - 2],
                ]);
            } else {
                // At or below the first point its value, at or beyond the
                // last the last value (the first test wins, as in `eval`).
                for (at, cc, y) in [
                    (xs[0], FloatCC::LessThanOrEqual, ys[0]),
                    (xs[n - 1], FloatCC::GreaterThanOrEqual, ys[n - 1]),
                ] {
                    let end = self.scalar_constant(at);
                    let beyond = self.b.ins().fcmp(cc, x, end);
                    let y = self.scalar_constant(y);
                    let inside = self.b.create_block();
                    self.b
                        .ins()
                        .brif(beyond, join, &[ir::BlockArg::Value(y)], inside, &[]);
                    self.b.switch_to_block(inside);
                }
            }
            let interpolate = self.b.create_block();
            for _ in 0..4 {
                self.b.append_block_param(interpolate, types::F64);
            }
            let starts: Vec<f64> = segments.iter().map(|s| s[0]).collect();
            self.search(x, &starts, 0, segments.len(), &|l: &mut Self, k: usize| {
                let args = segments[k].map(|c| ir::BlockArg::Value(l.scalar_constant(c)));
                l.b.ins().jump(interpolate, &args);
            });
            self.b.switch_to_block(interpolate);
            let [x0, y0, dy, dx] = [0, 1, 2, 3].map(|k| self.b.block_params(interpolate)[k]);
            let offset = self.b.ins().fsub(x, x0);
            let rise = self.b.ins().fmul(offset, dy);
            let step = self.b.ins().fdiv(rise, dx);
            let y = self.b.ins().fadd(y0, step);
            self.b.ins().jump(join, &[ir::BlockArg::Value(y)]);
        }
        self.b.switch_to_block(join);
        self.b.block_params(join)[0]
    }

    /// Branches from the current block to `leaf(k)` for the last `k` in
    /// `lo..hi` with `starts[k] <= x` (`lo` if none is, NaN included),
    /// where `x >= starts[lo]` or `lo` is the first: a binary search, each
    /// leaf ending its own block.
    fn search(
        &mut self,
        x: Value,
        starts: &[f64],
        lo: usize,
        hi: usize,
        leaf: &dyn Fn(&mut Self, usize),
    ) {
        if hi - lo == 1 {
            return leaf(self, lo);
        }
        let middle = lo + (hi - lo) / 2;
        let at = self.scalar_constant(starts[middle]);
        let past = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, at);
        let (above, below) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(past, above, &[], below, &[]);
        self.b.switch_to_block(above);
        self.search(x, starts, middle, hi, leaf);
        self.b.switch_to_block(below);
        self.search(x, starts, lo, middle, leaf);
    }

    /// `f` of slots `a` and `b`; the value computed before if the same
    /// function of the same two values was computed in the last
    /// [`Lowering::WINDOW`] operations (an arrayed equation repeats, for
    /// every element, the parts that do not depend on it), since the
    /// last call ([`Lowering::forget`]).
    fn func2(&mut self, f: Func2, a: u32, b: u32, lane: usize) -> Value {
        let (a, b) = (self.get(a, lane), self.get(b, lane));
        let key = (f as u8, a, b);
        if let Some(&(v, at)) = self.computed.get(&key)
            && self.clock - at <= Self::WINDOW
        {
            return v;
        }
        let v = self.func2_values(f, a, b);
        self.computed.insert(key, (v, self.clock));
        v
    }

    /// `f` of `a` and `b`.
    fn func2_values(&mut self, f: Func2, a: Value, b: Value) -> Value {
        let compare = |l: &mut Self, cc| {
            let c = l.compare(cc, a, b);
            l.boolean(c)
        };
        match f {
            Func2::Add => self.b.ins().fadd(a, b),
            Func2::Sub => self.b.ins().fsub(a, b),
            Func2::Mul => {
                let product = self.b.ins().fmul(a, b);
                if self.sabotage {
                    // One unit in the last place, more or less.
                    let nudge = self.constant(1.0 + f64::EPSILON);
                    self.b.ins().fmul(product, nudge)
                } else {
                    product
                }
            }
            Func2::Div => self.b.ins().fdiv(a, b),
            Func2::Lt => compare(self, FloatCC::LessThan),
            Func2::Le => compare(self, FloatCC::LessThanOrEqual),
            Func2::Gt => compare(self, FloatCC::GreaterThan),
            Func2::Ge => compare(self, FloatCC::GreaterThanOrEqual),
            Func2::Eq => compare(self, FloatCC::Equal),
            Func2::Ne => compare(self, FloatCC::NotEqual),
            Func2::And | Func2::Or => {
                let zero = self.constant(0.0);
                let x = self.compare(FloatCC::NotEqual, a, zero);
                let y = self.compare(FloatCC::NotEqual, b, zero);
                let c = if f == Func2::And {
                    self.b.ins().band(x, y)
                } else {
                    self.b.ins().bor(x, y)
                };
                self.boolean(c)
            }
            Func2::Zidz => {
                let zero = self.constant(0.0);
                let quotient = self.b.ins().fdiv(a, b);
                let c = self.compare(FloatCC::Equal, b, zero);
                self.choose(c, zero, quotient)
            }
            Func2::Pow => self.pow(a, b),
            Func2::Min | Func2::Max => {
                // As the interpreter's `func2`: NaN if either is NaN, else
                // `b` if it is strictly smaller (larger), else `a`.
                let unordered = self.compare(FloatCC::Unordered, a, b);
                let cc = if f == Func2::Min {
                    FloatCC::LessThan
                } else {
                    FloatCC::GreaterThan
                };
                let b_wins = self.compare(cc, b, a);
                let chosen = self.choose(b_wins, b, a);
                let nan = self.constant(f64::NAN);
                self.choose(unordered, nan, chosen)
            }
            Func2::Mod => {
                // a - b * floor(a / b), as the interpreter computes it.
                let quotient = self.b.ins().fdiv(a, b);
                let floor = self.b.ins().floor(quotient);
                let product = self.b.ins().fmul(b, floor);
                self.b.ins().fsub(a, product)
            }
            _ => {
                let helper = FUNC2_HELPERS[index_of(&FUNC2, &f)];
                let sig = self.sigs.func2;
                self.call_pure(sig, helper as usize, &[a, b])
            }
        }
    }
}
