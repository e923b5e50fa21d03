//! The interpreter of a compiled program's operations, and the ring buffers
//! of `DELAY FIXED` that it reads.
//!
//! Every operation reads and writes `f64` slots by index: no allocation, no
//! hashing, no strings and no dynamic dispatch in the step loop.

use crate::model::LookupTable;
use crate::program::ops::{Code, DT, Func1, Func2, Op, RandomFunc, TIME, TimeFunc};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// A lane's state beside its slots: the ring buffers of `DELAY FIXED`,
/// sized when a run starts, and the streams of its random functions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rings {
    pub data: Vec<f64>,
    /// (start in `data`, length, head) per ring.
    pub rings: Vec<(usize, usize, usize)>,
    /// One generator per random function call, seeded when the run starts.
    pub random: Vec<ChaCha8Rng>,
}

impl Rings {
    #[inline]
    fn front(&self, ring: usize) -> f64 {
        let (start, _, head) = self.rings[ring];
        self.data[start + head]
    }

    /// The front of a ring, or NaN for a ring that is not there (for
    /// compiled code, which must not panic).
    #[cfg(feature = "jit")]
    #[inline]
    pub fn front_or_nan(&self, ring: usize) -> f64 {
        self.rings
            .get(ring)
            .and_then(|&(start, _, head)| self.data.get(start + head))
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// As [`Rings::push`], doing nothing for a ring that is not there (for
    /// compiled code, which must not panic).
    #[cfg(feature = "jit")]
    #[inline]
    pub fn push_checked(&mut self, ring: usize, value: f64) {
        if let Some((start, len, head)) = self.rings.get_mut(ring)
            && let Some(slot) = self.data.get_mut(*start + *head)
        {
            *slot = value;
            *head += 1;
            if *head == *len {
                *head = 0;
            }
        }
    }

    /// Stores this step's input and moves on one step.
    #[inline]
    pub fn push(&mut self, ring: usize, value: f64) {
        let (start, len, head) = &mut self.rings[ring];
        self.data[*start + *head] = value;
        *head += 1;
        if *head == *len {
            *head = 0;
        }
    }
}

/// Runs `code` over the slots `s` of `L` runs at once (lanes).
///
/// Slot `i` of lane `l` is `s[i * L + l]`: one operation is applied to
/// every lane before the next, so the cost of choosing the operation is paid
/// once per `L` runs and the arithmetic loops vectorise. Each lane computes
/// exactly what a run on its own computes (the same operations in the same
/// order), so results do not depend on `L`. `rings` holds each lane's
/// `DELAY FIXED` buffers.
///
/// Arithmetic, copies and choices run inline without bounds checks; the
/// rarer operations go through [`exec_other`] so that this loop stays
/// small.
#[inline]
pub(crate) fn exec<const L: usize>(
    code: &Code,
    s: &mut [f64],
    tables: &[LookupTable],
    rings: &mut [Rings],
) {
    // Every index in `code` is below `code.slots` (checked by `Code::new`),
    // so after this one check every `i * L + l` is in bounds of `s`.
    assert!(
        s.len() >= code.slots() * L && rings.len() == L,
        "slot buffer smaller than the program"
    );
    macro_rules! lanes {
        (|$l:ident| $dst:expr => $value:expr) => {{
            let base = $dst as usize * L;
            for $l in 0..L {
                let v = $value;
                // SAFETY: `$dst < code.slots` and `l < L`, see above.
                #[allow(unsafe_code)]
                unsafe {
                    *s.get_unchecked_mut(base + $l) = v
                }
            }
        }};
    }
    macro_rules! get {
        ($i:expr, $l:expr) => {{
            // SAFETY: `$i < code.slots` and `$l < L`, see above.
            #[allow(unsafe_code)]
            let v = unsafe { *s.get_unchecked($i as usize * L + $l) };
            v
        }};
    }
    for op in code.ops() {
        match *op {
            Op::Copy { dst, a } => lanes!(|l| dst => get!(a, l)),
            Op::Add { dst, a, b } => lanes!(|l| dst => get!(a, l) + get!(b, l)),
            Op::Sub { dst, a, b } => lanes!(|l| dst => get!(a, l) - get!(b, l)),
            Op::Mul { dst, a, b } => lanes!(|l| dst => get!(a, l) * get!(b, l)),
            Op::Div { dst, a, b } => lanes!(|l| dst => get!(a, l) / get!(b, l)),
            Op::Select { dst, c, a, b } => {
                lanes!(|l| dst => if get!(c, l) != 0.0 { get!(a, l) } else { get!(b, l) })
            }
            ref other => exec_other::<L>(other, s, tables, rings),
        }
    }
}

/// One of the rarer operations, in every lane.
#[inline(never)]
fn exec_other<const L: usize>(op: &Op, s: &mut [f64], tables: &[LookupTable], rings: &mut [Rings]) {
    let at = |i: u32, lane: usize| i as usize * L + lane;
    match *op {
        Op::F1 { dst, f, a } => {
            for l in 0..L {
                s[at(dst, l)] = func1(f, s[at(a, l)]);
            }
        }
        Op::F2 { dst, f, a, b } => {
            for l in 0..L {
                s[at(dst, l)] = func2(f, s[at(a, l)], s[at(b, l)]);
            }
        }
        Op::Xidz { dst, a, b, x } => {
            for l in 0..L {
                let d = s[at(b, l)];
                s[at(dst, l)] = if d == 0.0 {
                    s[at(x, l)]
                } else {
                    s[at(a, l)] / d
                };
            }
        }
        Op::Lookup { dst, table, a } => {
            let table = &tables[table as usize];
            for l in 0..L {
                s[at(dst, l)] = table.eval(s[at(a, l)]);
            }
        }
        Op::Time { dst, f, args } => {
            for l in 0..L {
                let t = s[at(TIME as u32, l)];
                let dt = s[at(DT as u32, l)];
                s[at(dst, l)] = time_func(f, t, dt, args.map(|i| s[at(i, l)]));
            }
        }
        Op::DelayFixed { dst, ring } => {
            for (l, rings) in rings.iter().enumerate() {
                s[at(dst, l)] = rings.front(ring as usize);
            }
        }
        Op::Random {
            dst,
            f,
            stream,
            args,
        } => {
            for (l, lane) in rings.iter_mut().enumerate() {
                let [low, high, p1, p2] = args.map(|i| s[at(i, l)]);
                s[at(dst, l)] = match lane.random.get_mut(stream as usize) {
                    Some(rng) => random(f, rng, low, high, p1, p2),
                    None => f64::NAN,
                };
            }
        }
        Op::Copy { .. }
        | Op::Add { .. }
        | Op::Sub { .. }
        | Op::Mul { .. }
        | Op::Div { .. }
        | Op::Select { .. } => {
            unreachable!("handled inline by exec")
        }
    }
}

/// How many draws a truncated distribution may take to land within its
/// bounds before the value is NaN (which stops the run, naming the
/// variable): bounds that keep less than about a thousandth of the
/// distribution are almost always a mistake.
const MAX_DRAWS: usize = 10_000;

/// One draw of `f` with parameters `p1`, `p2`, within `[low, high]`: NaN
/// for parameters that make no distribution or bounds that exclude it.
pub(crate) fn random(
    f: RandomFunc,
    rng: &mut ChaCha8Rng,
    low: f64,
    high: f64,
    p1: f64,
    p2: f64,
) -> f64 {
    use rand_distr::{
        Beta, Binomial, Distribution, Exp1, Gamma, Normal, Poisson, Triangular, Weibull,
    };
    if low.is_nan() || high.is_nan() || low > high {
        return f64::NAN;
    }
    if f == RandomFunc::Uniform {
        if low == high {
            return low;
        }
        let u: f64 = rng.random();
        return low + (high - low) * u;
    }
    // The distribution, made once per call (no allocation: a value of
    // each kind), then drawn from until a value lands within the bounds.
    enum Made {
        Normal(Normal<f64>),
        Exponential,
        Poisson(Poisson<f64>),
        Zero,
        Gamma(Gamma<f64>),
        Beta(Beta<f64>),
        Binomial(Binomial),
        Weibull(Weibull<f64>),
        Triangular(Triangular<f64>),
    }
    let made = match f {
        RandomFunc::Uniform => unreachable!("handled above"),
        RandomFunc::Normal => Normal::new(p1, p2).map(Made::Normal).ok(),
        RandomFunc::Exponential => Some(Made::Exponential),
        RandomFunc::Poisson => match Poisson::new(p1) {
            Ok(d) => Some(Made::Poisson(d)),
            // A mean of 0 gives 0.
            Err(_) if p1 == 0.0 => Some(Made::Zero),
            Err(_) => None,
        },
        RandomFunc::Gamma => Gamma::new(p1, 1.0).map(Made::Gamma).ok(),
        RandomFunc::Beta => Beta::new(p1, p2).map(Made::Beta).ok(),
        RandomFunc::Binomial => {
            let trials = p2.round();
            if !(0.0..=1e15).contains(&trials) {
                return f64::NAN;
            }
            Binomial::new(trials as u64, p1).map(Made::Binomial).ok()
        }
        RandomFunc::Weibull => Weibull::new(1.0, p1).map(Made::Weibull).ok(),
        RandomFunc::Triangular => Triangular::new(0.0, 1.0, p1).map(Made::Triangular).ok(),
    };
    let Some(made) = made else {
        return f64::NAN;
    };
    for _ in 0..MAX_DRAWS {
        let x = match &made {
            Made::Normal(d) => d.sample(rng),
            Made::Exponential => Exp1.sample(rng),
            Made::Poisson(d) => d.sample(rng),
            Made::Zero => 0.0,
            Made::Gamma(d) => d.sample(rng),
            Made::Beta(d) => d.sample(rng),
            Made::Binomial(d) => d.sample(rng) as f64,
            Made::Weibull(d) => d.sample(rng),
            Made::Triangular(d) => d.sample(rng),
        };
        if x >= low && x <= high {
            return x;
        }
    }
    f64::NAN
}

#[inline]
pub(crate) fn func1(f: Func1, a: f64) -> f64 {
    match f {
        Func1::Neg => -a,
        Func1::Not => f64::from(a == 0.0),
        Func1::Abs => a.abs(),
        Func1::Exp => a.exp(),
        Func1::Ln => a.ln(),
        Func1::Log10 => a.log10(),
        Func1::Sqrt => a.sqrt(),
        Func1::Sin => a.sin(),
        Func1::Cos => a.cos(),
        Func1::Tan => a.tan(),
        Func1::Asin => a.asin(),
        Func1::Acos => a.acos(),
        Func1::Atan => a.atan(),
        Func1::Sinh => a.sinh(),
        Func1::Cosh => a.cosh(),
        Func1::Tanh => a.tanh(),
        Func1::Integer => a.trunc(),
        Func1::Floor => a.floor(),
        Func1::Round => a.round(),
        Func1::Sign => {
            if a > 0.0 {
                1.0
            } else if a < 0.0 {
                -1.0
            } else {
                a
            }
        }
        // NaN passes through so that the run reports it.
        Func1::ClampNonNegative => {
            if a < 0.0 {
                0.0
            } else {
                a
            }
        }
        Func1::Erfc => statrs::function::erf::erfc(a),
        Func1::GammaLn => {
            if a > 0.0 {
                statrs::function::gamma::ln_gamma(a)
            } else {
                f64::NAN
            }
        }
    }
}

#[inline]
pub(crate) fn func2(f: Func2, a: f64, b: f64) -> f64 {
    match f {
        Func2::Add => a + b,
        Func2::Sub => a - b,
        Func2::Mul => a * b,
        Func2::Div => a / b,
        Func2::Pow => a.powf(b),
        Func2::Mod => a - b * (a / b).floor(),
        Func2::IntDiv => {
            let q = a / b;
            let whole = q.floor();
            if q < 0.0 && q != whole {
                f64::NAN
            } else {
                whole
            }
        }
        Func2::Rem => a % b,
        Func2::Lt => f64::from(a < b),
        Func2::Le => f64::from(a <= b),
        Func2::Gt => f64::from(a > b),
        Func2::Ge => f64::from(a >= b),
        Func2::Eq => f64::from(a == b),
        Func2::Ne => f64::from(a != b),
        Func2::And => f64::from(a != 0.0 && b != 0.0),
        Func2::Or => f64::from(a != 0.0 || b != 0.0),
        // Spelled out (not `f64::min`, whose choice between 0.0 and -0.0
        // is unspecified) so that the compiled back end, which lowers MIN
        // and MAX to the same comparison and choice, gives the same bits.
        Func2::Min => {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else if b < a {
                b
            } else {
                a
            }
        }
        Func2::Max => {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else if b > a {
                b
            } else {
                a
            }
        }
        Func2::Zidz => {
            if b == 0.0 {
                0.0
            } else {
                a / b
            }
        }
        Func2::LogBase => a.ln() / b.ln(),
    }
}

/// The functions of time, with half-step tolerance so that events land on
/// the step a modeller expects even when times are not exact in binary.
#[inline]
pub(crate) fn time_func(f: TimeFunc, t: f64, dt: f64, args: [f64; 4]) -> f64 {
    let half = dt / 2.0;
    match f {
        TimeFunc::Step => {
            let [height, start, ..] = args;
            if t + half > start { height } else { 0.0 }
        }
        TimeFunc::Pulse => {
            let [start, width, ..] = args;
            let width = if width > 0.0 { width } else { dt };
            f64::from(t + half > start && t + half < start + width)
        }
        TimeFunc::PulseTrain => {
            let [start, width, interval, end] = args;
            if t + half <= start || t - half > end {
                return 0.0;
            }
            let width = if width > 0.0 { width } else { dt };
            let since = t - start;
            let phase = if interval > 0.0 {
                since - interval * ((since + half) / interval).floor()
            } else {
                since
            };
            f64::from(phase + half < width)
        }
        TimeFunc::Ramp => {
            let [slope, start, end, _] = args;
            if t <= start {
                0.0
            } else {
                slope * (t.min(end) - start)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_functions() {
        let step = |t| time_func(TimeFunc::Step, t, 1.0, [5.0, 3.0, 0.0, 0.0]);
        assert_eq!((step(2.0), step(3.0)), (0.0, 5.0));
        let pulse = |t| time_func(TimeFunc::Pulse, t, 1.0, [2.0, 2.0, 0.0, 0.0]);
        assert_eq!(
            [pulse(1.0), pulse(2.0), pulse(3.0), pulse(4.0)],
            [0.0, 1.0, 1.0, 0.0]
        );
        let one_dt = |t| time_func(TimeFunc::Pulse, t, 0.25, [1.0, 0.0, 0.0, 0.0]);
        assert_eq!([one_dt(0.75), one_dt(1.0), one_dt(1.25)], [0.0, 1.0, 0.0]);
        let train = |t| time_func(TimeFunc::PulseTrain, t, 1.0, [1.0, 1.0, 3.0, 7.0]);
        let values: Vec<f64> = (0..10).map(|t| train(t as f64)).collect();
        assert_eq!(values, [0., 1., 0., 0., 1., 0., 0., 1., 0., 0.]);
        let ramp = |t| time_func(TimeFunc::Ramp, t, 1.0, [2.0, 1.0, 3.0, 0.0]);
        assert_eq!([ramp(0.0), ramp(2.0), ramp(5.0)], [0.0, 2.0, 4.0]);
    }

    #[test]
    fn arithmetic_edge_cases() {
        assert_eq!(func2(Func2::Mod, -1.0, 3.0), 2.0);
        assert_eq!(func2(Func2::Mod, 1.0, -3.0), -2.0);
        assert_eq!(func2(Func2::Rem, -1.0, 3.0), -1.0);
        assert_eq!(func2(Func2::Rem, 1.0, -3.0), 1.0);
        assert_eq!(func2(Func2::Zidz, 1.0, 0.0), 0.0);
        assert!(func2(Func2::Min, f64::NAN, 1.0).is_nan());
        assert!(func1(Func1::ClampNonNegative, f64::NAN).is_nan());
        assert_eq!(func1(Func1::ClampNonNegative, -2.0), 0.0);
        assert_eq!(func1(Func1::Integer, -2.7), -2.0);
        assert_eq!(func1(Func1::Floor, -2.7), -3.0);
        assert_eq!(func1(Func1::Floor, 2.7), 2.0);
    }
}
