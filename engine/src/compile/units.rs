//! The unit check: flows match their stocks per unit of time, sums and
//! comparisons add like with like, and equations give their declared units.
//!
//! Variables without declared units are not checked; number literals adapt
//! to their context (`2 * x` has the units of `x`, `x + 1` adds a number in
//! the units of `x`).

use super::builtins::{Builtin, lookup_builtin};
use crate::expr::{BinaryOp, Expr, ExprKind, UnaryOp};
use crate::model::{Equation, Model, Units, VariableKind};
use crate::name::canonical_name;
use crate::program::Warning;

/// What is known of an expression's units.
#[derive(Debug, Clone, PartialEq)]
enum U {
    Known(Units),
    /// A number literal or a truth value: fits any context.
    Literal,
    /// Depends on something without declared units.
    Unknown,
}

struct Checker<'m> {
    model: &'m Model,
    time: Option<Units>,
    warnings: Vec<Warning>,
}

pub(crate) fn check(model: &Model) -> Vec<Warning> {
    let mut c = Checker {
        model,
        time: model.time_units().and_then(|t| Units::parse(t).ok()),
        warnings: Vec::new(),
    };
    for v in model.variables() {
        let declared = v.units();
        match v.kind() {
            VariableKind::Stock {
                initial,
                inflows,
                outflows,
                ..
            } => {
                let got = c.equation(v.name(), initial);
                c.compare(v.name(), initial, &got, declared, "initial value");
                if let (Some(stock_units), Some(time)) = (declared, &c.time) {
                    let expected = stock_units.div(time);
                    for flow in inflows.iter().chain(outflows) {
                        if let Some(f) = model.variable(flow)
                            && let Some(flow_units) = f.units()
                            && *flow_units != expected
                        {
                            c.warnings.push(Warning {
                                        variable: f.name().to_string(),
                                        location: f.location().cloned(),
                                        message: format!(
                                            "flow has units `{flow_units}` but it changes stock `{}` in `{stock_units}`, so it should be `{expected}` (per {time})",
                                            v.name()
                                        ),
                                    });
                        }
                    }
                }
            }
            VariableKind::Flow { equation, .. } | VariableKind::Auxiliary { equation } => {
                let got = c.equation(v.name(), equation);
                c.compare(v.name(), equation, &got, declared, "equation");
            }
            VariableKind::Lookup {
                input: Some(input), ..
            } => {
                c.equation(v.name(), input);
            }
            VariableKind::Lookup { input: None, .. } | VariableKind::Constant { .. } => {}
        }
    }
    c.warnings
}

impl Checker<'_> {
    fn equation(&mut self, owner: &str, equation: &Equation) -> U {
        self.infer(owner, equation, equation.expr())
    }

    fn compare(
        &mut self,
        owner: &str,
        equation: &Equation,
        got: &U,
        declared: Option<&Units>,
        what: &str,
    ) {
        if let (U::Known(got), Some(declared)) = (got, declared)
            && got != declared
        {
            self.warnings.push(Warning {
                variable: owner.to_string(),
                location: equation.origin().cloned(),
                message: format!("{what} has units `{got}` but `{declared}` are declared"),
            });
        }
    }

    fn warn(&mut self, owner: &str, equation: &Equation, e: &Expr, message: String) {
        self.warnings.push(Warning {
            variable: owner.to_string(),
            location: Some(equation.location(&e.span)),
            message,
        });
    }

    /// Units that must agree (terms of a sum, sides of a comparison, branches).
    fn same(&mut self, owner: &str, equation: &Equation, what: &str, parts: &[(&Expr, U)]) -> U {
        let mut result = U::Literal;
        let mut first: Option<(&Expr, Units)> = None;
        for (e, u) in parts {
            match u {
                U::Known(units) => match &first {
                    Some((fe, fu)) if fu != units => {
                        let message = format!(
                            "{what} `{}` (`{fu}`) and `{}` (`{units}`)",
                            text(equation, fe),
                            text(equation, e)
                        );
                        self.warn(owner, equation, e, message);
                    }
                    Some(_) => {}
                    None => {
                        first = Some((e, units.clone()));
                        result = U::Known(units.clone());
                    }
                },
                U::Unknown => {
                    if result == U::Literal {
                        result = U::Unknown;
                    }
                }
                U::Literal => {}
            }
        }
        result
    }

    fn infer(&mut self, owner: &str, eq: &Equation, e: &Expr) -> U {
        match &e.kind {
            ExprKind::Number(_) => U::Literal,
            ExprKind::Name(name) => self.name_units(name),
            ExprKind::Unary(op, a) => {
                let a = self.infer(owner, eq, a);
                match op {
                    UnaryOp::Not => U::Literal,
                    _ => a,
                }
            }
            ExprKind::Binary(op, a, b) => {
                let ua = self.infer(owner, eq, a);
                let ub = self.infer(owner, eq, b);
                match op {
                    BinaryOp::Add | BinaryOp::Sub => {
                        self.same(owner, eq, "adds", &[(a, ua), (b, ub)])
                    }
                    BinaryOp::Lt
                    | BinaryOp::Le
                    | BinaryOp::Gt
                    | BinaryOp::Ge
                    | BinaryOp::Eq
                    | BinaryOp::Ne => {
                        self.same(owner, eq, "compares", &[(a, ua), (b, ub)]);
                        U::Literal
                    }
                    BinaryOp::And | BinaryOp::Or => U::Literal,
                    BinaryOp::Mul => product(ua, ub, false),
                    BinaryOp::Div | BinaryOp::IntDiv => product(ua, ub, true),
                    BinaryOp::Mod => ua,
                    BinaryOp::Pow => power(ua, b),
                }
            }
            ExprKind::If(c, a, b) => {
                self.infer(owner, eq, c);
                let ua = self.infer(owner, eq, a);
                let ub = self.infer(owner, eq, b);
                self.same(
                    owner,
                    eq,
                    "IF THEN ELSE chooses between",
                    &[(a, ua), (b, ub)],
                )
            }
            ExprKind::Call { name, args, .. } => self.call(owner, eq, name, args),
            ExprKind::Subscript { name, .. } => self.name_units(name),
        }
    }

    fn name_units(&self, name: &str) -> U {
        if let Some(v) = self.model.variable(name) {
            return match v.units() {
                Some(u) => U::Known(u.clone()),
                None => U::Unknown,
            };
        }
        match canonical_name(name).as_str() {
            "time" | "dt" | "time_step" | "initial_time" | "final_time" | "saveper"
            | "starttime" | "stoptime" => self.time.clone().map_or(U::Unknown, U::Known),
            "pi" => U::Literal,
            _ => U::Unknown,
        }
    }

    fn check_time(&mut self, owner: &str, eq: &Equation, e: &Expr, u: &U, what: &str) {
        if let (U::Known(u), Some(time)) = (u, &self.time)
            && u != time
        {
            let message = format!(
                "{what} `{}` has units `{u}`, expected the time unit `{time}`",
                text(eq, e)
            );
            self.warn(owner, eq, e, message);
        }
    }

    fn call(&mut self, owner: &str, eq: &Equation, name: &str, args: &[Expr]) -> U {
        let units: Vec<U> = args.iter().map(|a| self.infer(owner, eq, a)).collect();
        if let Some(v) = self.model.variable(name) {
            return v.units().map_or(U::Unknown, |u| U::Known(u.clone()));
        }
        let Some(builtin) = lookup_builtin(&canonical_name(name)) else {
            return U::Unknown;
        };
        use Builtin as B;
        let arg = |i: usize| units.get(i).cloned().unwrap_or(U::Unknown);
        match builtin {
            B::Abs
            | B::Integer
            | B::Int
            | B::Round
            | B::Modulo
            | B::Initial
            | B::Sum
            | B::Mean
            | B::Quantum
            | B::Game => arg(0),
            B::SampleIfTrue | B::VectorSelect => arg(1),
            B::VectorElmMap | B::VectorReorder | B::AllocateByPriority | B::AllocateAvailable => {
                arg(0)
            }
            B::VectorSortOrder | B::VectorRank => U::Literal,
            B::InvertMatrix => U::Unknown,
            B::RankXmile => U::Literal,
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
            | B::RandomXmile => arg(0),
            B::NormalXmile | B::PoissonXmile | B::ExpRndXmile => arg(0),
            B::Random01 => U::Literal,
            B::GetDataAtTime => arg(0),
            B::GetDataFirstTime | B::GetDataLastTime => {
                self.time.clone().map_or(U::Unknown, U::Known)
            }
            B::ActiveInitial => {
                let parts = [(&args[0], arg(0)), (&args[1], arg(1))];
                self.same(owner, eq, "ACTIVE INITIAL's values are", &parts)
            }
            B::GetTimeValue => self.time.clone().map_or(U::Unknown, U::Known),
            B::Previous => {
                let parts = [(&args[0], arg(0)), (&args[1], arg(1))];
                self.same(owner, eq, "PREVIOUS's values are", &parts)
            }
            B::Forecast | B::ForecastXmile => {
                if let Some(t) = args.get(1) {
                    self.check_time(owner, eq, t, &arg(1), "averaging time");
                }
                arg(0)
            }
            B::Exp
            | B::Ln
            | B::Log
            | B::Log10
            | B::Sin
            | B::Cos
            | B::Tan
            | B::Arcsin
            | B::Arccos
            | B::Arctan
            | B::Sinh
            | B::Cosh
            | B::Tanh
            | B::GammaLn
            | B::Sign
            | B::Pi
            | B::Pulse
            | B::PulseTrain => U::Literal,
            B::Sqrt => match arg(0) {
                U::Known(u) => u.sqrt().map_or(U::Unknown, U::Known),
                other => other,
            },
            B::Power => match args.get(1) {
                Some(b) => power(arg(0), b),
                None => U::Unknown,
            },
            B::Min | B::Max => {
                let parts: Vec<(&Expr, U)> = args.iter().zip(units.iter().cloned()).collect();
                self.same(owner, eq, "compares", &parts)
            }
            B::Zidz => product(arg(0), arg(1), true),
            B::SafeDiv if args.len() == 2 => product(arg(0), arg(1), true),
            B::Xidz | B::SafeDiv => {
                let ratio = product(arg(0), arg(1), true);
                let parts = [(&args[0], ratio), (&args[2], arg(2))];
                self.same(owner, eq, "XIDZ falls back from", &parts)
            }
            B::Step => {
                self.check_time(owner, eq, &args[1], &arg(1), "step time");
                arg(0)
            }
            B::Ramp => product(
                arg(0),
                self.time.clone().map_or(U::Unknown, U::Known),
                false,
            ),
            B::Delay1
            | B::Delay1I
            | B::Delay3
            | B::Delay3I
            | B::DelayN
            | B::DelayNXmile
            | B::DelayFixed
            | B::DelayXmile
            | B::Smooth
            | B::SmoothI
            | B::Smooth3
            | B::Smooth3I
            | B::SmoothN
            | B::SmoothNXmile => {
                if let Some(t) = args.get(1) {
                    self.check_time(owner, eq, t, &arg(1), "delay or smoothing time");
                }
                arg(0)
            }
            B::Trend => match &self.time {
                Some(t) => U::Known(Units::dimensionless().div(t)),
                None => U::Unknown,
            },
            // The inverse gives the lookup's input, whose units are not
            // declared.
            B::LookupInvert | B::LookupArea | B::Npv => U::Unknown,
            B::Lookup | B::LookupExtrapolate | B::LookupForward | B::LookupBackward => {
                match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Name(n)) => self.name_units(n),
                    _ => U::Unknown,
                }
            }
        }
    }
}

fn product(a: U, b: U, divide: bool) -> U {
    let (a, b) = match (a, b) {
        (U::Unknown, _) | (_, U::Unknown) => return U::Unknown,
        (U::Literal, U::Literal) => return U::Literal,
        (a, b) => (a, b),
    };
    let known = |u: U| match u {
        U::Known(u) => u,
        _ => Units::dimensionless(),
    };
    let (a, b) = (known(a), known(b));
    U::Known(if divide { a.div(&b) } else { a.mul(&b) })
}

fn power(base: U, exponent: &Expr) -> U {
    match base {
        U::Known(u) if u.is_dimensionless() => U::Known(u),
        U::Known(u) => match exponent.as_number() {
            Some(n) if n.fract() == 0.0 && n.abs() < 64.0 => U::Known(u.powi(n as i32)),
            _ => U::Unknown,
        },
        other => other,
    }
}

fn text<'a>(eq: &'a Equation, e: &Expr) -> &'a str {
    eq.text().get(e.span.clone()).unwrap_or("")
}
