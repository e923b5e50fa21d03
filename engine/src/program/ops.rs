//! The flat operations a compiled program is made of: the instruction set,
//! the functions of one value, of two and of time that it applies, the fixed
//! slots every program has, and [`Code`], a list of operations whose slots
//! have been checked.
//!
//! Every operation reads and writes `f64` slots by index: no allocation, no
//! hashing, no strings and no dynamic dispatch in the step loop. The
//! simulator interprets them.

/// Slot of the simulated time.
pub(crate) const TIME: usize = 0;
/// Slot of the time step.
pub(crate) const DT: usize = 1;
/// Slot of the start time.
pub(crate) const INITIAL_TIME: usize = 2;
/// Slot of the stop time.
pub(crate) const FINAL_TIME: usize = 3;
/// Slot of the save interval.
pub(crate) const SAVE_INTERVAL: usize = 4;
/// Number of fixed slots before parameters.
pub(crate) const FIXED_SLOTS: usize = 5;

/// Functions of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Func1 {
    Neg,
    Not,
    Abs,
    Exp,
    Ln,
    Log10,
    Sqrt,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Integer,
    /// The largest integer not above the value (XMILE's `INT`).
    Floor,
    Round,
    Sign,
    /// `max(x, 0)`: non-negative flows.
    ClampNonNegative,
    /// The complementary error function, `1 - erf(x)` (the normal priority
    /// profile of `ALLOCATE AVAILABLE`).
    Erfc,
    /// The natural logarithm of the gamma function, for x > 0 (NaN, which
    /// stops the run, otherwise): Vensim's `GAMMA LN`.
    GammaLn,
}

/// Functions of two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Func2 {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    /// XMILE's `MOD`: `a - b * floor(a / b)`, the sign of the divisor.
    Mod,
    /// Stella's `//`: `floor(a / b)`, or NaN (the run stops) for a
    /// negative quotient that is not whole, whose rounding is not
    /// established.
    IntDiv,
    /// Vensim's `MODULO`: `a - b * INTEGER(a / b)` with `INTEGER`
    /// truncating towards zero, the sign of the dividend (C's `fmod`).
    Rem,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    Min,
    Max,
    Zidz,
    LogBase,
}

/// Functions of simulated time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TimeFunc {
    /// `STEP(height, start)`
    Step,
    /// `PULSE(start, width)`
    Pulse,
    /// `PULSE TRAIN(start, width, interval, end)`
    PulseTrain,
    /// `RAMP(slope, start, end)`; end may be infinite.
    Ramp,
}

/// Random draws, each from its own stream (see `Op::Random`): a value of
/// the distribution with parameters `p1`, `p2`, kept within `[low, high]`
/// by drawing again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum RandomFunc {
    /// Uniform on `[low, high)`.
    Uniform,
    /// Normal with mean `p1` and standard deviation `p2`.
    Normal,
    /// Exponential with mean 1.
    Exponential,
    /// Poisson with mean `p1`.
    Poisson,
    /// Gamma with shape `p1` and scale 1.
    Gamma,
    /// Beta with shapes `p1` and `p2`.
    Beta,
    /// Binomial: successes in `p2` trials of probability `p1`.
    Binomial,
    /// Weibull with shape `p1` and scale 1.
    Weibull,
    /// Triangular on `[0, 1]` with its peak at `p1`.
    Triangular,
}

/// One operation over slots. Arithmetic has its own variants because it is
/// most of what models do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    Copy {
        dst: u32,
        a: u32,
    },
    Add {
        dst: u32,
        a: u32,
        b: u32,
    },
    Sub {
        dst: u32,
        a: u32,
        b: u32,
    },
    Mul {
        dst: u32,
        a: u32,
        b: u32,
    },
    Div {
        dst: u32,
        a: u32,
        b: u32,
    },
    F1 {
        dst: u32,
        f: Func1,
        a: u32,
    },
    F2 {
        dst: u32,
        f: Func2,
        a: u32,
        b: u32,
    },
    Select {
        dst: u32,
        c: u32,
        a: u32,
        b: u32,
    },
    Xidz {
        dst: u32,
        a: u32,
        b: u32,
        x: u32,
    },
    Lookup {
        dst: u32,
        table: u32,
        a: u32,
    },
    Time {
        dst: u32,
        f: TimeFunc,
        args: [u32; 4],
    },
    DelayFixed {
        dst: u32,
        ring: u32,
    },
    /// A draw from random stream `stream` of the run; `args` are `[low,
    /// high, p1, p2]` (see [`RandomFunc`]).
    Random {
        dst: u32,
        f: RandomFunc,
        stream: u16,
        args: [u32; 4],
    },
}

impl Op {
    /// The slot the operation writes.
    pub fn destination(&self) -> u32 {
        let mut op = *self;
        *op.destination_mut()
    }

    /// Sets the slot the operation writes.
    pub fn set_destination(&mut self, slot: u32) {
        *self.destination_mut() = slot;
    }

    /// The slot the operation writes, to read or change.
    fn destination_mut(&mut self) -> &mut u32 {
        match self {
            Op::Copy { dst, .. }
            | Op::Add { dst, .. }
            | Op::Sub { dst, .. }
            | Op::Mul { dst, .. }
            | Op::Div { dst, .. }
            | Op::F1 { dst, .. }
            | Op::F2 { dst, .. }
            | Op::Select { dst, .. }
            | Op::Xidz { dst, .. }
            | Op::Lookup { dst, .. }
            | Op::Time { dst, .. }
            | Op::DelayFixed { dst, .. }
            | Op::Random { dst, .. } => dst,
        }
    }

    /// The slots a pure function of values reads (arithmetic, functions,
    /// selections, lookups): `None` for time functions, `DELAY FIXED` and
    /// random draws, whose results depend on more than their operands.
    pub fn value_operands(&self) -> Option<([u32; 3], usize)> {
        Some(match *self {
            Op::Copy { a, .. } | Op::F1 { a, .. } | Op::Lookup { a, .. } => ([a, a, a], 1),
            Op::Add { a, b, .. }
            | Op::Sub { a, b, .. }
            | Op::Mul { a, b, .. }
            | Op::Div { a, b, .. }
            | Op::F2 { a, b, .. } => ([a, b, b], 2),
            Op::Select { c, a, b, .. } => ([c, a, b], 3),
            Op::Xidz { a, b, x, .. } => ([a, b, x], 3),
            Op::Time { .. } | Op::DelayFixed { .. } | Op::Random { .. } => return None,
        })
    }

    /// Calls `f` on every slot the operation reads (not the one it
    /// writes), so that they can be renamed.
    pub fn for_each_read(&mut self, mut f: impl FnMut(&mut u32)) {
        match self {
            Op::Copy { a, .. } | Op::F1 { a, .. } | Op::Lookup { a, .. } => f(a),
            Op::Add { a, b, .. }
            | Op::Sub { a, b, .. }
            | Op::Mul { a, b, .. }
            | Op::Div { a, b, .. }
            | Op::F2 { a, b, .. } => {
                f(a);
                f(b);
            }
            Op::Select { c, a, b, .. } => {
                f(c);
                f(a);
                f(b);
            }
            Op::Xidz { a, b, x, .. } => {
                f(a);
                f(b);
                f(x);
            }
            Op::Time { args, .. } | Op::Random { args, .. } => args.iter_mut().for_each(f),
            Op::DelayFixed { .. } => {}
        }
    }
}

/// Which values of a step are the same at every step of a run, as the
/// step's operations (`ops`, in order, over `slots` slots) are walked:
/// the rule the compile pass `compile::invariant` and the compiled loop's
/// `jit::invariant_ops` share.
pub(crate) struct SameEachStep<'a> {
    /// How many operations of the step write each slot.
    pub writes: Vec<u32>,
    /// Whether each slot holds a value the same at every step: at first,
    /// the slots no operation writes, other than the time and the
    /// integrated stocks (constants, parameters, initial values).
    pub same: Vec<bool>,
    integrated: std::ops::Range<usize>,
    limited: &'a [u32],
}

impl<'a> SameEachStep<'a> {
    /// The rule for a step of `ops`; `limited` (sorted) are the flows
    /// that non-negative limiting may scale.
    pub fn new<'o>(
        ops: impl IntoIterator<Item = &'o Op>,
        slots: usize,
        integrated: std::ops::Range<usize>,
        limited: &'a [u32],
    ) -> Self {
        let mut writes = vec![0u32; slots];
        for op in ops {
            writes[op.destination() as usize] += 1;
        }
        let same = (0..slots)
            .map(|s| writes[s] == 0 && s != TIME && !integrated.contains(&s))
            .collect();
        SameEachStep {
            writes,
            same,
            integrated,
            limited,
        }
    }

    /// Whether `op` computes the same value at every step: a function of
    /// values alone (not a time function, `DELAY FIXED` or a random draw)
    /// of slots the same at every step, writing neither the time, a
    /// stock nor a flow that limiting may scale.
    pub fn computes_same(&self, op: &Op) -> bool {
        let d = op.destination() as usize;
        op.value_operands()
            .is_some_and(|(values, n)| values[..n].iter().all(|&a| self.same[a as usize]))
            && self.limited.binary_search(&(d as u32)).is_err()
            && !self.integrated.contains(&d)
            && d != TIME
    }
}

/// A list of operations whose slot indices have all been checked against a
/// slot count, so that the simulator's `exec` can index without bounds
/// checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Code {
    ops: Vec<Op>,
    slots: usize,
}

impl Code {
    /// Wraps `ops` after checking that every slot they name is below
    /// `slots`.
    ///
    /// # Panics
    ///
    /// If an index is out of range: a compiler bug, never user input.
    pub fn new(ops: Vec<Op>, slots: usize) -> Code {
        for op in &ops {
            let max = match *op {
                Op::Copy { dst, a } | Op::F1 { dst, a, .. } | Op::Lookup { dst, a, .. } => {
                    dst.max(a)
                }
                Op::Add { dst, a, b }
                | Op::Sub { dst, a, b }
                | Op::Mul { dst, a, b }
                | Op::Div { dst, a, b }
                | Op::F2 { dst, a, b, .. } => dst.max(a).max(b),
                Op::Select { dst, c, a, b } => dst.max(c).max(a).max(b),
                Op::Xidz { dst, a, b, x } => dst.max(a).max(b).max(x),
                Op::Time { dst, args, .. } | Op::Random { dst, args, .. } => {
                    args.into_iter().fold(dst, u32::max)
                }
                Op::DelayFixed { dst, .. } => dst,
            };
            assert!(
                (max as usize) < slots,
                "operation {op:?} names a slot beyond {slots}"
            );
        }
        Code { ops, slots }
    }

    /// The number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// The operations, in order.
    #[inline]
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The slot count every index has been checked against.
    #[inline]
    pub fn slots(&self) -> usize {
        self.slots
    }
}
