//! Lowering of builtins: functions of values become operations, and
//! stateful builtins become ordinary hidden stocks, flows and auxiliaries, so
//! that the rest of the compiler and the integrators see only stocks, flows
//! and auxiliaries:
//!
//! * `DELAY1/DELAY3/DELAY N` become chains of stocks (material delays: what
//!   goes in comes out), each stage draining at `stage / (T/n)`;
//! * `SMOOTH/SMOOTH3/SMOOTH N` become chains of stocks adjusting towards their
//!   input at `(input - stage) / (T/n)`;
//! * `TREND` is a `SMOOTHI` and a `ZIDZ`;
//! * `INITIAL(x)` is a value computed once at the start;
//! * `DELAY FIXED` is a ring buffer sized when the run starts.

use super::{Ctx, Resolver};
use crate::compile::builtins::Builtin;
use crate::compile::resolved::{CVar, Def, Node};
use crate::error::Result;
use crate::expr::{Expr, Span};
use crate::program::ops::{Func1, Func2, TimeFunc};

impl Resolver<'_> {
    /// A random draw: Vensim's `RANDOM ...` functions and XMILE's. Each
    /// call (each element of an arrayed variable) has its own stream, keyed
    /// by its place among the model's random calls and its seed argument.
    fn random(
        &mut self,
        ctx: &Ctx,
        builtin: Builtin,
        mut a: Vec<Node>,
        exprs: &[Expr],
    ) -> Result<Node> {
        use crate::program::ops::RandomFunc as R;
        use Builtin as B;
        // The seed: the last argument of Vensim's functions, optional in
        // XMILE's; a number, fixed when the model is compiled.
        let has_seed = match builtin {
            B::Random01 => false,
            B::RandomXmile | B::NormalXmile => a.len() == 3,
            B::PoissonXmile | B::ExpRndXmile => a.len() == 2,
            _ => true,
        };
        let seed = if has_seed {
            let at = a.len() - 1;
            match a.remove(at) {
                Node::Const(seed) => seed,
                _ => {
                    return Err(self.error(
                        ctx,
                        &exprs[at].span,
                        format!("the seed of {} must be a number", builtin.spelling()),
                    ));
                }
            }
        } else {
            0.0
        };
        let stream = self.random_streams.len();
        if stream > usize::from(u16::MAX) {
            return Err(self.error(
                ctx,
                &exprs.first().map_or(0..0, |e| e.span.clone()),
                format!(
                    "a model may call random functions at most {} times (counting each element)",
                    u16::MAX
                ),
            ));
        }
        // Stream keys differ for every call and seed, and name the call by
        // its variable (element) and its place in the equation, not by the
        // order of the file: a model written out in another order or
        // format draws the same numbers. (SplitMix64 mixes; FNV-1a hashes
        // the name.)
        let mix = |mut z: u64| {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let owner = crate::name::canonical_name(ctx.owner);
        let place = self.random_calls.entry(owner.clone()).or_insert(0);
        let name_hash = owner.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        self.random_streams.push(
            mix(name_hash)
                ^ mix(*place as u64).rotate_left(29)
                ^ mix(seed.to_bits()).rotate_left(17),
        );
        *place += 1;
        let inf = || Node::Const(f64::INFINITY);
        let draw = |f: R, args: Vec<Node>| Node::Random(f, args, stream);
        let shifted = |this: &mut Self,
                       f: R,
                       min: Node,
                       max: Node,
                       p1: Node,
                       p2: Node,
                       shift: Node,
                       stretch: Node| {
            // shift + stretch * X within [min, max]: X within the bounds
            // taken back through the shift and stretch.
            let shift = this.materialize(ctx, shift, "RANDOM shift");
            let stretch = this.materialize(ctx, stretch, "RANDOM stretch");
            let back = |bound: Node| {
                Node::binary(
                    Func2::Div,
                    Node::binary(Func2::Sub, bound, shift.clone()),
                    stretch.clone(),
                )
            };
            let (low, high) = (back(min), back(max));
            let (low, high) = (
                this.materialize(ctx, low, "RANDOM bound"),
                this.materialize(ctx, high, "RANDOM bound"),
            );
            let x = draw(
                f,
                vec![
                    Node::binary(Func2::Min, low.clone(), high.clone()),
                    Node::binary(Func2::Max, low, high),
                    p1,
                    p2,
                ],
            );
            Node::binary(Func2::Add, shift, Node::binary(Func2::Mul, stretch, x))
        };
        let mut next = a.into_iter();
        let mut arg = || next.next().unwrap_or(Node::Const(0.0));
        Ok(match builtin {
            B::RandomUniform => {
                let (min, max) = (arg(), arg());
                draw(
                    R::Uniform,
                    vec![min, max, Node::Const(0.0), Node::Const(0.0)],
                )
            }
            B::Random01 => draw(
                R::Uniform,
                vec![
                    Node::Const(0.0),
                    Node::Const(1.0),
                    Node::Const(0.0),
                    Node::Const(0.0),
                ],
            ),
            B::RandomXmile => {
                let (min, max) = (arg(), arg());
                draw(
                    R::Uniform,
                    vec![min, max, Node::Const(0.0), Node::Const(0.0)],
                )
            }
            B::RandomNormal => {
                let (min, max, mean, sd) = (arg(), arg(), arg(), arg());
                draw(R::Normal, vec![min, max, mean, sd])
            }
            B::NormalXmile => {
                let (mean, sd) = (arg(), arg());
                let neg = Node::Const(f64::NEG_INFINITY);
                draw(R::Normal, vec![neg, inf(), mean, sd])
            }
            B::RandomExponential => {
                let (min, max, shift, stretch) = (arg(), arg(), arg(), arg());
                shifted(
                    self,
                    R::Exponential,
                    min,
                    max,
                    Node::Const(0.0),
                    Node::Const(0.0),
                    shift,
                    stretch,
                )
            }
            B::ExpRndXmile => {
                let mean = arg();
                Node::binary(
                    Func2::Mul,
                    mean,
                    draw(
                        R::Exponential,
                        vec![Node::Const(0.0), inf(), Node::Const(0.0), Node::Const(0.0)],
                    ),
                )
            }
            B::RandomPoisson => {
                let (min, max, mean, shift, stretch) = (arg(), arg(), arg(), arg(), arg());
                shifted(
                    self,
                    R::Poisson,
                    min,
                    max,
                    mean,
                    Node::Const(0.0),
                    shift,
                    stretch,
                )
            }
            B::PoissonXmile => {
                let mean = arg();
                draw(
                    R::Poisson,
                    vec![Node::Const(0.0), inf(), mean, Node::Const(0.0)],
                )
            }
            B::RandomGamma => {
                let (min, max, order, shift, stretch) = (arg(), arg(), arg(), arg(), arg());
                shifted(
                    self,
                    R::Gamma,
                    min,
                    max,
                    order,
                    Node::Const(0.0),
                    shift,
                    stretch,
                )
            }
            B::RandomWeibull => {
                let (min, max, shape, shift, stretch) = (arg(), arg(), arg(), arg(), arg());
                shifted(
                    self,
                    R::Weibull,
                    min,
                    max,
                    shape,
                    Node::Const(0.0),
                    shift,
                    stretch,
                )
            }
            B::RandomBeta => {
                let (min, max, alpha, beta, shift, stretch) =
                    (arg(), arg(), arg(), arg(), arg(), arg());
                shifted(self, R::Beta, min, max, alpha, beta, shift, stretch)
            }
            B::RandomBinomial => {
                let (min, max, p, n, shift, stretch) = (arg(), arg(), arg(), arg(), arg(), arg());
                shifted(self, R::Binomial, min, max, p, n, shift, stretch)
            }
            B::RandomTriangular => {
                // start + (end - start) * X, X triangular on [0, 1] with
                // its peak at (peak - start) / (end - start).
                let (min, max, start, peak, end) = (arg(), arg(), arg(), arg(), arg());
                let start = self.materialize(ctx, start, "RANDOM TRIANGULAR start");
                let stretch = self.materialize(
                    ctx,
                    Node::binary(Func2::Sub, end, start.clone()),
                    "RANDOM TRIANGULAR width",
                );
                let mode = Node::binary(
                    Func2::Div,
                    Node::binary(Func2::Sub, peak, start.clone()),
                    stretch.clone(),
                );
                shifted(
                    self,
                    R::Triangular,
                    min,
                    max,
                    mode,
                    Node::Const(0.0),
                    start,
                    stretch,
                )
            }
            B::RandomPinkNoise => {
                // White noise smoothed over the correlation time, its
                // standard deviation chosen so that the smoothed noise has
                // `sdev` under Euler: the first-order smooth of a step a =
                // dt / tcorr keeps a / (2 - a) of the white noise's
                // variance.
                let (mean, sdev, tcorr) = (arg(), arg(), arg());
                let mean = self.materialize(ctx, mean, "RANDOM PINK NOISE mean");
                let tcorr = self.materialize(ctx, tcorr, "RANDOM PINK NOISE correlation time");
                let a = Node::binary(
                    Func2::Div,
                    Node::Special(crate::compile::resolved::Special::Dt),
                    tcorr.clone(),
                );
                let a = self.materialize(ctx, a, "RANDOM PINK NOISE step");
                let scale = Node::binary(
                    Func2::Mul,
                    sdev,
                    Node::Unary(
                        Func1::Sqrt,
                        Box::new(Node::binary(
                            Func2::Div,
                            Node::binary(Func2::Sub, Node::Const(2.0), a.clone()),
                            a,
                        )),
                    ),
                );
                let unit = draw(
                    R::Normal,
                    vec![
                        Node::Const(f64::NEG_INFINITY),
                        inf(),
                        Node::Const(0.0),
                        Node::Const(1.0),
                    ],
                );
                let white = Node::binary(
                    Func2::Add,
                    mean.clone(),
                    Node::binary(Func2::Mul, scale, unit),
                );
                self.smooth(ctx, "RANDOM PINK NOISE", white, tcorr, Some(mean), 1)
            }
            _ => unreachable!("not a random function: {builtin:?}"),
        })
    }

    pub(super) fn add_hidden(&mut self, ctx: &Ctx, label: String, def: Def) -> usize {
        self.vars.push(CVar {
            name: format!("{} ({label})", ctx.owner),
            visible: false,
            def,
        });
        self.vars.len() - 1
    }

    /// A node that is cheap to read several times: a constant or a variable.
    /// Anything else becomes a hidden auxiliary.
    pub(super) fn materialize(&mut self, ctx: &Ctx, node: Node, label: &str) -> Node {
        match node {
            Node::Const(_) | Node::Var(_) | Node::Special(_) => node,
            other => {
                Node::Var(self.add_hidden(ctx, label.to_string(), Def::Aux { equation: other }))
            }
        }
    }

    pub(super) fn lower(
        &mut self,
        ctx: &Ctx,
        builtin: Builtin,
        mut a: Vec<Node>,
        exprs: &[Expr],
        span: &Span,
    ) -> Result<Node> {
        use Builtin as B;
        let unary = |f: Func1, a: &mut Vec<Node>| Node::Unary(f, Box::new(a.remove(0)));
        Ok(match builtin {
            B::Abs => unary(Func1::Abs, &mut a),
            B::Exp => unary(Func1::Exp, &mut a),
            B::Ln => unary(Func1::Ln, &mut a),
            B::Log10 => unary(Func1::Log10, &mut a),
            B::Log => {
                if a.len() == 2 {
                    let base = a.remove(1);
                    Node::binary(Func2::LogBase, a.remove(0), base)
                } else {
                    unary(Func1::Log10, &mut a)
                }
            }
            B::Sqrt => unary(Func1::Sqrt, &mut a),
            B::Sin => unary(Func1::Sin, &mut a),
            B::Cos => unary(Func1::Cos, &mut a),
            B::Tan => unary(Func1::Tan, &mut a),
            B::Arcsin => unary(Func1::Asin, &mut a),
            B::Arccos => unary(Func1::Acos, &mut a),
            B::Arctan => unary(Func1::Atan, &mut a),
            B::Sinh => unary(Func1::Sinh, &mut a),
            B::Cosh => unary(Func1::Cosh, &mut a),
            B::Tanh => unary(Func1::Tanh, &mut a),
            B::GammaLn => unary(Func1::GammaLn, &mut a),
            B::Integer => unary(Func1::Integer, &mut a),
            // XMILE and Stella: INT(-2.5) = -3, where Vensim's INTEGER
            // truncates to -2.
            B::Int => unary(Func1::Floor, &mut a),
            B::Round => unary(Func1::Round, &mut a),
            B::Sign => unary(Func1::Sign, &mut a),
            B::Pi => Node::Const(std::f64::consts::PI),
            B::Modulo => {
                // Vensim's reference defines MODULO(A, B) as the remainder
                // of A / B, A - B * INTEGER(A / B), and its INTEGER
                // truncates towards zero: the result has the sign of A
                // (MODULO(-7, 3) = -1), as C's fmod. XMILE's MOD operator
                // (`a MOD b`) is floored instead (-7 MOD 3 = 2): Func2::Mod.
                let b = a.remove(1);
                Node::binary(Func2::Rem, a.remove(0), b)
            }
            B::Power => {
                let b = a.remove(1);
                Node::binary(Func2::Pow, a.remove(0), b)
            }
            B::Sum | B::Mean => {
                return Err(self.error(
                    ctx,
                    span,
                    format!(
                        "{} needs an array, like {0}(x[dimension!]) or {0}(x[*])",
                        builtin.spelling()
                    ),
                ));
            }
            B::Min | B::Max => {
                if a.len() == 1 {
                    return Err(self.error(
                        ctx,
                        span,
                        format!(
                            "{} of one value needs an array; give two or more values",
                            builtin.spelling()
                        ),
                    ));
                }
                let f = if builtin == B::Min {
                    Func2::Min
                } else {
                    Func2::Max
                };
                let mut it = a.into_iter();
                let first = it.next().unwrap_or(Node::Const(0.0));
                it.fold(first, |acc, x| Node::binary(f, acc, x))
            }
            B::Zidz => {
                let b = a.remove(1);
                Node::binary(Func2::Zidz, a.remove(0), b)
            }
            B::SafeDiv if a.len() == 2 => {
                let b = a.remove(1);
                Node::binary(Func2::Zidz, a.remove(0), b)
            }
            B::Xidz | B::SafeDiv => {
                let x = a.remove(2);
                let b = a.remove(1);
                Node::Xidz(Box::new(a.remove(0)), Box::new(b), Box::new(x))
            }
            B::Step => Node::Time(TimeFunc::Step, a),
            B::Pulse => Node::Time(TimeFunc::Pulse, a),
            B::PulseTrain => Node::Time(TimeFunc::PulseTrain, a),
            B::Ramp => {
                if a.len() == 2 {
                    a.push(Node::Const(f64::INFINITY));
                }
                Node::Time(TimeFunc::Ramp, a)
            }
            B::Initial => {
                let x = a.remove(0);
                Node::Var(self.add_hidden(ctx, "INITIAL".into(), Def::Initial { equation: x }))
            }
            B::Delay1 | B::Delay1I | B::Delay3 | B::Delay3I => {
                let order = if matches!(builtin, B::Delay1 | B::Delay1I) {
                    1
                } else {
                    3
                };
                let initial = (a.len() == 3).then(|| a.remove(2));
                let time = a.remove(1);
                self.check_stage_time(ctx, builtin, &time, order, span);
                self.material_delay(ctx, builtin.spelling(), a.remove(0), time, initial, order)
            }
            B::DelayN | B::DelayNXmile => {
                // Vensim: DELAY N(input, time, initial, order);
                // XMILE: DELAYN(input, time, order[, initial]).
                let (order_index, initial_index) =
                    if builtin == B::DelayN { (3, 2) } else { (2, 3) };
                let order = self.order(ctx, &a[order_index], &exprs[order_index], builtin)?;
                let initial = a.get(initial_index).cloned();
                let time = a[1].clone();
                self.check_stage_time(ctx, builtin, &time, order, span);
                self.material_delay(ctx, builtin.spelling(), a.remove(0), time, initial, order)
            }
            B::Smooth | B::SmoothI | B::Smooth3 | B::Smooth3I => {
                let order = if matches!(builtin, B::Smooth | B::SmoothI) {
                    1
                } else {
                    3
                };
                let initial = (a.len() == 3).then(|| a.remove(2));
                let time = a.remove(1);
                self.smooth(ctx, builtin.spelling(), a.remove(0), time, initial, order)
            }
            B::SmoothN | B::SmoothNXmile => {
                // Vensim: SMOOTH N(input, time, initial, order);
                // XMILE: SMTHN(input, time, order[, initial]).
                let (order_index, initial_index) = if builtin == B::SmoothN {
                    (3, 2)
                } else {
                    (2, 3)
                };
                let order = self.order(ctx, &a[order_index], &exprs[order_index], builtin)?;
                let initial = a.get(initial_index).cloned();
                let time = a[1].clone();
                self.smooth(ctx, builtin.spelling(), a.remove(0), time, initial, order)
            }
            B::Game => a.remove(0),
            B::VectorSelect
            | B::VectorSortOrder
            | B::VectorRank
            | B::VectorReorder
            | B::VectorElmMap
            | B::AllocateByPriority
            | B::AllocateAvailable
            | B::InvertMatrix
            | B::RankXmile => unreachable!("vector functions are resolved by vector_call"),
            B::GetDataAtTime | B::GetDataFirstTime | B::GetDataLastTime => {
                unreachable!("resolved with the data variable's table in call")
            }
            B::ActiveInitial => {
                let initial = a.remove(1);
                let active = a.remove(0);
                Node::Var(self.add_hidden(
                    ctx,
                    "ACTIVE INITIAL".into(),
                    Def::Active { active, initial },
                ))
            }
            B::GetTimeValue => {
                // Vensim: relative to 0 is the simulated time, and measure
                // 0 gives it in the model's units of time: TIME + offset.
                // The calendar measures (year, month, day ...) need dates
                // the model does not have, and the computer's clock (2)
                // would make runs unrepeatable.
                if !matches!(a[0], Node::Const(r) if r == 0.0) {
                    return Err(self.error(
                        ctx,
                        &exprs[0].span,
                        "GET TIME VALUE is supported relative to the simulated time (first argument 0), not to the start or the computer's clock",
                    ));
                }
                if !matches!(a[2], Node::Const(m) if m == 0.0) {
                    return Err(self.error(
                        ctx,
                        &exprs[2].span,
                        "GET TIME VALUE is supported with measure 0 (the model's units of time), not calendar measures",
                    ));
                }
                Node::binary(
                    Func2::Add,
                    Node::Special(crate::compile::resolved::Special::Time),
                    a.remove(1),
                )
            }
            B::RandomUniform
            | B::RandomNormal
            | B::RandomExponential
            | B::RandomPoisson
            | B::RandomGamma
            | B::RandomBeta
            | B::RandomBinomial
            | B::RandomWeibull
            | B::RandomTriangular
            | B::RandomPinkNoise
            | B::Random01
            | B::RandomXmile
            | B::NormalXmile
            | B::PoissonXmile
            | B::ExpRndXmile => self.random(ctx, builtin, a, exprs)?,
            B::Quantum => {
                // Vensim: q * INTEGER(x / q), and x itself when q <= 0.
                let x = self.materialize(ctx, a.remove(0), "QUANTUM input");
                let q = self.materialize(ctx, a.remove(0), "QUANTUM quantum");
                let rounded = Node::binary(
                    Func2::Mul,
                    q.clone(),
                    Node::Unary(
                        Func1::Integer,
                        Box::new(Node::binary(Func2::Div, x.clone(), q.clone())),
                    ),
                );
                Node::If(
                    Box::new(Node::binary(Func2::Le, q, Node::Const(0.0))),
                    Box::new(x),
                    Box::new(rounded),
                )
            }
            B::SampleIfTrue => {
                // A stock holds the last value sampled: it moves to the
                // output in one step, so that under Euler it equals the
                // input of the last step the condition was true.
                let condition = self.materialize(ctx, a.remove(0), "SAMPLE IF TRUE condition");
                let input = self.materialize(ctx, a.remove(0), "SAMPLE IF TRUE input");
                let initial = a.remove(0);
                let held = self.add_hidden(ctx, "SAMPLE IF TRUE held".into(), Def::Pending);
                let output = Node::If(
                    Box::new(condition),
                    Box::new(input),
                    Box::new(Node::Var(held)),
                );
                let output =
                    self.add_hidden(ctx, "SAMPLE IF TRUE".into(), Def::Aux { equation: output });
                let change = self.add_hidden(
                    ctx,
                    "SAMPLE IF TRUE change".into(),
                    Def::Flow {
                        equation: Node::binary(
                            Func2::Div,
                            Node::binary(Func2::Sub, Node::Var(output), Node::Var(held)),
                            Node::Special(crate::compile::resolved::Special::Dt),
                        ),
                        non_negative: false,
                    },
                );
                self.vars[held].def = Def::Stock {
                    initial,
                    inflows: vec![change],
                    outflows: vec![],
                    non_negative: false,
                };
                Node::Var(output)
            }
            B::Forecast | B::ForecastXmile => {
                // Vensim: input * (1 + TREND(input, average time, 0) * horizon);
                // XMILE's FORCST the same, with TREND's initial trend
                // (0 unless given).
                let input = self.materialize(ctx, a.remove(0), "FORECAST input");
                let time = a.remove(0);
                let horizon = a.remove(0);
                let initial_trend = if a.is_empty() {
                    Node::Const(0.0)
                } else {
                    a.remove(0)
                };
                let trend = self.lower(
                    ctx,
                    B::Trend,
                    vec![input.clone(), time, initial_trend],
                    exprs,
                    span,
                )?;
                let forecast = Node::binary(
                    Func2::Mul,
                    input,
                    Node::binary(
                        Func2::Add,
                        Node::Const(1.0),
                        Node::binary(Func2::Mul, trend, horizon),
                    ),
                );
                Node::Var(self.add_hidden(ctx, "FORECAST".into(), Def::Aux { equation: forecast }))
            }
            B::Trend => {
                let input = self.materialize(ctx, a.remove(0), "TREND input");
                let time = self.materialize(ctx, a.remove(0), "TREND time");
                // XMILE: the initial trend is 0 unless given.
                let initial_trend = if a.is_empty() {
                    Node::Const(0.0)
                } else {
                    a.remove(0)
                };
                // The average starts where the initial trend says it was.
                let initial_average = Node::binary(
                    Func2::Div,
                    input.clone(),
                    Node::binary(
                        Func2::Add,
                        Node::Const(1.0),
                        Node::binary(Func2::Mul, initial_trend, time.clone()),
                    ),
                );
                let average = self.smooth(
                    ctx,
                    "TREND",
                    input.clone(),
                    time.clone(),
                    Some(initial_average),
                    1,
                );
                let trend = Node::binary(
                    Func2::Zidz,
                    Node::binary(Func2::Sub, input, average.clone()),
                    Node::binary(Func2::Mul, time, Node::Unary(Func1::Abs, Box::new(average))),
                );
                Node::Var(self.add_hidden(ctx, "TREND".into(), Def::Aux { equation: trend }))
            }
            B::Npv => self.npv(ctx, a),
            B::Previous => {
                // A pipeline of one step: the value at the step before
                // (each step pushes the value once), the initial value at
                // the first.
                let input = self.materialize(ctx, a.remove(0), "PREVIOUS input");
                let initial = a.remove(0);
                let delay = self.add_hidden(
                    ctx,
                    "PREVIOUS time".into(),
                    Def::Initial {
                        equation: Node::Special(crate::compile::resolved::Special::Dt),
                    },
                );
                let initial = self.add_hidden(
                    ctx,
                    "PREVIOUS initial".into(),
                    Def::Initial { equation: initial },
                );
                Node::Var(self.add_hidden(
                    ctx,
                    "PREVIOUS".into(),
                    Def::DelayFixed {
                        input,
                        delay,
                        initial,
                    },
                ))
            }
            B::DelayFixed | B::DelayXmile => {
                let input = a.remove(0);
                let delay = a.remove(0);
                let initial = if a.is_empty() {
                    input.clone()
                } else {
                    a.remove(0)
                };
                let input = self.materialize(ctx, input, "DELAY FIXED input");
                let delay = self.add_hidden(
                    ctx,
                    "DELAY FIXED time".into(),
                    Def::Initial { equation: delay },
                );
                let initial = self.add_hidden(
                    ctx,
                    "DELAY FIXED initial".into(),
                    Def::Initial { equation: initial },
                );
                Node::Var(self.add_hidden(
                    ctx,
                    "DELAY FIXED".into(),
                    Def::DelayFixed {
                        input,
                        delay,
                        initial,
                    },
                ))
            }
            B::Lookup
            | B::LookupExtrapolate
            | B::LookupForward
            | B::LookupBackward
            | B::LookupInvert
            | B::LookupArea => {
                unreachable!("LOOKUP is handled before lowering")
            }
        })
    }

    /// Vensim's `NPV(stream, discount rate, initial value, factor)`, as
    /// Vensim's reference defines it:
    ///
    /// ```text
    /// NPV  = (ncum + stream * TIME STEP * df) * factor
    /// ncum = INTEG(stream * df, initial value)
    /// df   = INTEG(-df * discount rate / (1 + discount rate * TIME STEP), 1)
    /// ```
    ///
    /// Under Euler the discount factor after k steps is `(1 + r dt)^-k`,
    /// discrete compounding once per step, and the stream of the current
    /// step is counted at once (the `stream * TIME STEP * df` term).
    fn npv(&mut self, ctx: &Ctx, mut a: Vec<Node>) -> Node {
        use crate::compile::resolved::Special;
        let factor = a.remove(3);
        let initial = a.remove(2);
        let rate = self.materialize(ctx, a.remove(1), "NPV discount rate");
        let stream = self.materialize(ctx, a.remove(0), "NPV stream");
        let discount = self.add_hidden(ctx, "NPV discount factor".into(), Def::Pending);
        let discounting = self.add_hidden(
            ctx,
            "NPV discounting".into(),
            Def::Flow {
                equation: Node::binary(
                    Func2::Div,
                    Node::binary(Func2::Mul, Node::Var(discount), rate.clone()),
                    Node::binary(
                        Func2::Add,
                        Node::Const(1.0),
                        Node::binary(Func2::Mul, rate, Node::Special(Special::Dt)),
                    ),
                ),
                non_negative: false,
            },
        );
        self.vars[discount].def = Def::Stock {
            initial: Node::Const(1.0),
            inflows: vec![],
            outflows: vec![discounting],
            non_negative: false,
        };
        let accumulated = self.add_hidden(ctx, "NPV accumulated".into(), Def::Pending);
        let accumulating = self.add_hidden(
            ctx,
            "NPV accumulating".into(),
            Def::Flow {
                equation: Node::binary(Func2::Mul, stream.clone(), Node::Var(discount)),
                non_negative: false,
            },
        );
        self.vars[accumulated].def = Def::Stock {
            initial,
            inflows: vec![accumulating],
            outflows: vec![],
            non_negative: false,
        };
        let current = Node::binary(
            Func2::Mul,
            Node::binary(Func2::Mul, stream, Node::Special(Special::Dt)),
            Node::Var(discount),
        );
        let npv = Node::binary(
            Func2::Mul,
            Node::binary(Func2::Add, Node::Var(accumulated), current),
            factor,
        );
        Node::Var(self.add_hidden(ctx, "NPV".into(), Def::Aux { equation: npv }))
    }

    /// Vensim's `LOOKUP AREA(lookup, x1, x2)`: the area under the lookup
    /// from x1 to x2, exactly, for the lookup as it is read: linear between
    /// its points and holding its end values beyond them. Written with
    /// lookups the engine already has: with `C` the cumulative area at the
    /// points, interpolated linearly (and extended beyond the ends with the
    /// end values' slopes), the exact integral from the first point is
    /// `F(x) = C(x) - s/2 (x - x_i)(x_{i+1} - x)` on the segment
    /// `[x_i, x_{i+1}]` of slope `s` (the piecewise linear `C` misses the
    /// quadratic term). The area is `F(x2) - F(x1)`; an x2 below x1 (for
    /// which Vensim's sign convention could not be established) stops the
    /// run, naming the variable and the time.
    pub(super) fn lookup_area(
        &mut self,
        ctx: &Ctx,
        table: usize,
        from: Node,
        to: Node,
        span: &Span,
    ) -> Result<Node> {
        use crate::model::{Interpolation, LookupTable};
        let original = &self.tables[table];
        if original.interpolation() != Interpolation::Continuous {
            return Err(self.error(
                ctx,
                span,
                format!(
                    "LOOKUP AREA needs a lookup read as Vensim reads one (linear between its points, the end values beyond them), not a {} one",
                    original.interpolation().as_str()
                ),
            ));
        }
        let (xs, ys) = (original.xs().to_vec(), original.ys().to_vec());
        let n = xs.len();
        let mut cumulative = Vec::with_capacity(n + 2);
        cumulative.push((xs[0] - 1.0, -ys[0]));
        let mut area = 0.0;
        cumulative.push((xs[0], 0.0));
        for i in 1..n {
            area += (xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1]) / 2.0;
            cumulative.push((xs[i], area));
        }
        cumulative.push((xs[n - 1] + 1.0, area + ys[n - 1]));
        // On each segment (and from the last point on): its start, its end
        // and its slope, held until the next point.
        let segment = |value: &dyn Fn(usize) -> f64| -> Vec<(f64, f64)> {
            (0..n).map(|i| (xs[i], value(i))).collect()
        };
        let starts = segment(&|i| xs[i]);
        let ends = segment(&|i| xs[(i + 1).min(n - 1)]);
        let slopes = segment(&|i| {
            if i + 1 < n {
                (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
            } else {
                0.0
            }
        });
        let mut add = |points: Vec<(f64, f64)>, interpolation| -> Result<usize> {
            let copy = LookupTable::new(points, interpolation)
                .map_err(|message| self.error(ctx, span, message))?;
            self.tables.push(copy);
            Ok(self.tables.len() - 1)
        };
        let cumulative = add(cumulative, Interpolation::Extrapolate)?;
        let starts = add(starts, Interpolation::Discrete)?;
        let ends = add(ends, Interpolation::Discrete)?;
        let slopes = add(slopes, Interpolation::Discrete)?;
        let from = self.materialize(ctx, from, "LOOKUP AREA x1");
        let to = self.materialize(ctx, to, "LOOKUP AREA x2");
        let integral = |x: &Node| {
            let lookup = |t: usize| Node::Lookup(t, Box::new(x.clone()));
            // (x - x_i)(x_{i+1} - x), 0 outside the segment (before the
            // first point).
            let inside = Node::binary(
                Func2::Max,
                Node::Const(0.0),
                Node::binary(
                    Func2::Mul,
                    Node::binary(Func2::Sub, x.clone(), lookup(starts)),
                    Node::binary(Func2::Sub, lookup(ends), x.clone()),
                ),
            );
            Node::binary(
                Func2::Sub,
                lookup(cumulative),
                Node::binary(
                    Func2::Mul,
                    Node::binary(Func2::Mul, Node::Const(0.5), lookup(slopes)),
                    inside,
                ),
            )
        };
        let area = Node::binary(Func2::Sub, integral(&to), integral(&from));
        Ok(Node::If(
            Box::new(Node::binary(Func2::Lt, to, from)),
            Box::new(Node::Const(f64::NAN)),
            Box::new(area),
        ))
    }

    /// The order of a `DELAY N` or `SMOOTH N`: a whole number fixed when the
    /// program is compiled.
    fn order(&mut self, ctx: &Ctx, node: &Node, expr: &Expr, builtin: Builtin) -> Result<usize> {
        let mut params = Vec::new();
        let value = self.constant_value(node, &mut params);
        match value {
            Some(v) if (1.0..=1000.0).contains(&v) && (v - v.round()).abs() < 1e-9 => {
                self.structural.extend(params);
                Ok(v.round() as usize)
            }
            Some(v) => Err(self.error(
                ctx,
                &expr.span,
                format!(
                    "the order of {} must be a whole number from 1 to 1000, not {v}",
                    builtin.spelling()
                ),
            )),
            None => {
                // Vensim fixes the order when the run starts: an order that
                // changes later is read at the initial time, and said so.
                let mut params = Vec::new();
                match self.value_at_start(expr, 0, &mut params, &mut 0) {
                    Some(v) if (1.0..=1000.0).contains(&v.round()) => {
                        self.structural.extend(params);
                        let order = v.round() as usize;
                        self.warnings.push(crate::program::Warning {
                            variable: ctx.owner.to_string(),
                            location: Some(ctx.equation.location(&expr.span)),
                            message: format!(
                                "the order of {} is not a constant: it is read once, at the initial time ({order}), and kept for the whole run, as Vensim does",
                                builtin.spelling()
                            ),
                        });
                        Ok(order)
                    }
                    _ => Err(self.error(
                        ctx,
                        &expr.span,
                        format!(
                            "the order of {} must be a whole number from 1 to 1000 at the initial time, computed from numbers, constants, TIME and STEP: it fixes the number of stages",
                            builtin.spelling()
                        ),
                    )),
                }
            }
        }
    }

    /// The value of an equation at the initial time, when it depends only
    /// on numbers, scalar constants, scalar auxiliaries of the same kind,
    /// `TIME`, `STEP`, `MIN`, `MAX`, `INTEGER` and `IF THEN ELSE`. The
    /// constants read are added to `params`.
    /// `steps` counts the nodes visited: a chain of auxiliaries that each
    /// read the next twice would otherwise take exponential time.
    fn value_at_start(
        &self,
        expr: &Expr,
        depth: usize,
        params: &mut Vec<usize>,
        steps: &mut usize,
    ) -> Option<f64> {
        use crate::expr::{BinaryOp, ExprKind, UnaryOp};
        use crate::model::VariableKind;
        *steps += 1;
        if depth > 50 || *steps > 10_000 {
            return None;
        }
        let time = self.model.time();
        Some(match &expr.kind {
            ExprKind::Number(v) => *v,
            ExprKind::Name(n) => {
                let key = crate::name::canonical_name(n);
                match key.as_str() {
                    "time" | "initial_time" | "starttime" => time.start(),
                    "time_step" | "dt" => time.dt(),
                    "final_time" | "stoptime" => time.stop(),
                    _ => {
                        let &i = self.index.get(&key)?;
                        let v = &self.model.variables()[i];
                        if !v.dimensions().is_empty() {
                            return None;
                        }
                        match v.kind() {
                            VariableKind::Constant { value } => {
                                params.push(self.base[i]);
                                *value
                            }
                            VariableKind::Auxiliary { equation } => {
                                self.value_at_start(equation.expr(), depth + 1, params, steps)?
                            }
                            _ => return None,
                        }
                    }
                }
            }
            ExprKind::Unary(UnaryOp::Neg, a) => {
                -self.value_at_start(a, depth + 1, params, steps)?
            }
            ExprKind::Unary(UnaryOp::Plus, a) => {
                self.value_at_start(a, depth + 1, params, steps)?
            }
            ExprKind::Binary(op, a, b) => {
                let a = self.value_at_start(a, depth + 1, params, steps)?;
                let b = self.value_at_start(b, depth + 1, params, steps)?;
                let truth = |c: bool| if c { 1.0 } else { 0.0 };
                match op {
                    BinaryOp::Add => a + b,
                    BinaryOp::Sub => a - b,
                    BinaryOp::Mul => a * b,
                    BinaryOp::Div => a / b,
                    BinaryOp::Pow => a.powf(b),
                    BinaryOp::Lt => truth(a < b),
                    BinaryOp::Le => truth(a <= b),
                    BinaryOp::Gt => truth(a > b),
                    BinaryOp::Ge => truth(a >= b),
                    BinaryOp::Eq => truth(a == b),
                    BinaryOp::Ne => truth(a != b),
                    _ => return None,
                }
            }
            ExprKind::If(c, a, b) => {
                if self.value_at_start(c, depth + 1, params, steps)? != 0.0 {
                    self.value_at_start(a, depth + 1, params, steps)?
                } else {
                    self.value_at_start(b, depth + 1, params, steps)?
                }
            }
            ExprKind::Call { name, args, .. } => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.value_at_start(a, depth + 1, params, steps)?);
                }
                match (
                    crate::name::canonical_name(name).as_str(),
                    values.as_slice(),
                ) {
                    // As the engine's STEP: h once TIME + DT/2 > t0.
                    ("step", [h, t0]) => {
                        if time.start() + time.dt() / 2.0 > *t0 {
                            *h
                        } else {
                            0.0
                        }
                    }
                    ("min", [a, b]) => a.min(*b),
                    ("max", [a, b]) => a.max(*b),
                    ("integer", [a]) => a.trunc(),
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    /// A material delay whose stages each hold less than one step (delay
    /// time < order x dt) is computed exactly as written, each stage
    /// draining stage / (T / n) per step, so that Euler removes more than
    /// a stage holds and the output overshoots and oscillates: the numbers
    /// then depend on dt. Vensim computes the same equations without a
    /// limit; this says so, where the delay is, when its time is constant.
    fn check_stage_time(
        &mut self,
        ctx: &Ctx,
        builtin: Builtin,
        time: &Node,
        order: usize,
        span: &Span,
    ) {
        let dt = self.model.time().dt();
        let Some(t) = self.constant_value(time, &mut Vec::new()) else {
            return;
        };
        if t > 0.0 && t < order as f64 * dt * (1.0 - 1e-12) {
            self.warnings.push(crate::program::Warning {
                variable: ctx.owner.to_string(),
                location: Some(ctx.equation.location(span)),
                message: format!(
                    "{}: the delay time {t} is shorter than its order {order} x TIME STEP {dt}: each stage holds {} of time, less than one step, so Euler drains more than a stage holds and the output overshoots; make TIME STEP at most {}",
                    builtin.spelling(),
                    t / order as f64,
                    t / order as f64
                ),
            });
        }
    }

    /// Evaluates a node made only of numbers and constants.
    pub(super) fn constant_value(&self, node: &Node, params: &mut Vec<usize>) -> Option<f64> {
        match node {
            Node::Const(v) => Some(*v),
            Node::Var(i) => match self.vars.get(*i).map(|v| &v.def) {
                Some(Def::Param { value }) => {
                    params.push(*i);
                    Some(*value)
                }
                _ => None,
            },
            Node::Unary(Func1::Neg, a) => Some(-self.constant_value(a, params)?),
            Node::Binary(f, a, b) => {
                let (a, b) = (
                    self.constant_value(a, params)?,
                    self.constant_value(b, params)?,
                );
                match f {
                    Func2::Add => Some(a + b),
                    Func2::Sub => Some(a - b),
                    Func2::Mul => Some(a * b),
                    Func2::Div => Some(a / b),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// What a chain of `order` stages needs, each as a variable: its input,
    /// each stage's time (`time / order`) and the initial value (the input
    /// unless given).
    fn stages(
        &mut self,
        ctx: &Ctx,
        label: &str,
        input: Node,
        time: Node,
        initial: Option<Node>,
        order: usize,
    ) -> (Node, Node, Node) {
        let input = self.materialize(ctx, input, &format!("{label} input"));
        let time = self.materialize(ctx, time, &format!("{label} time"));
        let stage_time = if order == 1 {
            time
        } else {
            let t = Node::binary(Func2::Div, time, Node::Const(order as f64));
            self.materialize(ctx, t, &format!("{label} stage time"))
        };
        let initial = initial.map_or(input.clone(), |i| {
            self.materialize(ctx, i, &format!("{label} initial"))
        });
        (input, stage_time, initial)
    }

    /// A chain of `order` stocks, each draining at `stock / (time / order)`.
    fn material_delay(
        &mut self,
        ctx: &Ctx,
        label: &str,
        input: Node,
        time: Node,
        initial: Option<Node>,
        order: usize,
    ) -> Node {
        let (input, stage_time, initial_flow) =
            self.stages(ctx, label, input, time, initial, order);
        let mut inflow = self.add_hidden(
            ctx,
            format!("{label} inflow"),
            Def::Flow {
                equation: input,
                non_negative: false,
            },
        );
        let mut output = inflow;
        for stage in 1..=order {
            let stock = self.add_hidden(ctx, format!("{label} stage {stage}"), Def::Pending);
            output = self.add_hidden(
                ctx,
                format!("{label} stage {stage} outflow"),
                Def::Flow {
                    equation: Node::binary(Func2::Div, Node::Var(stock), stage_time.clone()),
                    non_negative: false,
                },
            );
            self.vars[stock].def = Def::Stock {
                initial: Node::binary(Func2::Mul, initial_flow.clone(), stage_time.clone()),
                inflows: vec![inflow],
                outflows: vec![output],
                non_negative: false,
            };
            inflow = output;
        }
        Node::Var(output)
    }

    /// A chain of `order` stocks, each adjusting towards the one before at
    /// `(previous - stock) / (time / order)`.
    fn smooth(
        &mut self,
        ctx: &Ctx,
        label: &str,
        input: Node,
        time: Node,
        initial: Option<Node>,
        order: usize,
    ) -> Node {
        let (input, stage_time, initial) = self.stages(ctx, label, input, time, initial, order);
        let mut previous = input;
        for stage in 1..=order {
            let stock = self.add_hidden(ctx, format!("{label} stage {stage}"), Def::Pending);
            let change = self.add_hidden(
                ctx,
                format!("{label} stage {stage} change"),
                Def::Flow {
                    equation: Node::binary(
                        Func2::Div,
                        Node::binary(Func2::Sub, previous, Node::Var(stock)),
                        stage_time.clone(),
                    ),
                    non_negative: false,
                },
            );
            self.vars[stock].def = Def::Stock {
                initial: initial.clone(),
                inflows: vec![change],
                outflows: vec![],
                non_negative: false,
            };
            previous = Node::Var(stock);
        }
        previous
    }
}
