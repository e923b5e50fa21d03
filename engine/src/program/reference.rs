//! A program's operation lists written out as plain Rust: the reference
//! the compiled back end is measured against (`benches/jit.rs` compiles it
//! with `rustc -O` and runs it beside the engine).
//!
//! The generated program does what one interpreted run does under Euler
//! with the model's own constants: initial values, then each step the
//! flows, non-negative limiting (the interpreter's first pass written out
//! with constant slots, then its algorithm, copied, when some stock would
//! be limited, as the compiled loop does), the
//! net flows, the NaN and infinity test of every checked value, the saved
//! rows and the integration, every operation as the same IEEE operations
//! in the same order. So its saved values are the interpreter's, bit for
//! bit, and its speed is what an optimising compiler makes of the same
//! work with every slot index known when compiling.

use super::Program;
use super::ops::{Code, DT, FINAL_TIME, Func1, Func2, INITIAL_TIME, Op, SAVE_INTERVAL, TIME};
use crate::error::{Error, Result};
use crate::model::{Interpolation, Method, TimeSettings};
use crate::program::ops::TimeFunc;
use std::fmt::Write;

/// An exact literal of `x` (NaN, infinities and -0 included).
fn literal(x: f64) -> String {
    format!("f64::from_bits({:#018x})", x.to_bits())
}

fn list(values: impl IntoIterator<Item = String>) -> String {
    values.into_iter().collect::<Vec<_>>().join(", ")
}

/// The function in Rust, or `None` for one std does not have (`ERFC`,
/// `GAMMA LN`).
fn func1(f: Func1) -> Option<&'static str> {
    Some(match f {
        Func1::Erfc | Func1::GammaLn => return None,
        Func1::Neg => "-a",
        Func1::Not => "if a == 0.0 { 1.0 } else { 0.0 }",
        Func1::Abs => "a.abs()",
        Func1::Exp => "a.exp()",
        Func1::Ln => "a.ln()",
        Func1::Log10 => "a.log10()",
        Func1::Sqrt => "a.sqrt()",
        Func1::Sin => "a.sin()",
        Func1::Cos => "a.cos()",
        Func1::Tan => "a.tan()",
        Func1::Asin => "a.asin()",
        Func1::Acos => "a.acos()",
        Func1::Atan => "a.atan()",
        Func1::Sinh => "a.sinh()",
        Func1::Cosh => "a.cosh()",
        Func1::Tanh => "a.tanh()",
        Func1::Integer => "a.trunc()",
        Func1::Floor => "a.floor()",
        Func1::Round => "a.round()",
        Func1::Sign => "if a > 0.0 { 1.0 } else if a < 0.0 { -1.0 } else { a }",
        Func1::ClampNonNegative => "if a < 0.0 { 0.0 } else { a }",
    })
}

fn func2(f: Func2) -> &'static str {
    match f {
        Func2::Add => "a + b",
        Func2::Sub => "a - b",
        Func2::Mul => "a * b",
        Func2::Div => "a / b",
        Func2::Pow => "a.powf(b)",
        Func2::Mod => "a - b * (a / b).floor()",
        Func2::IntDiv => {
            "{ let q = a / b; let w = q.floor(); if q < 0.0 && q != w { f64::NAN } else { w } }"
        }
        Func2::Rem => "a % b",
        Func2::Lt => "if a < b { 1.0 } else { 0.0 }",
        Func2::Le => "if a <= b { 1.0 } else { 0.0 }",
        Func2::Gt => "if a > b { 1.0 } else { 0.0 }",
        Func2::Ge => "if a >= b { 1.0 } else { 0.0 }",
        Func2::Eq => "if a == b { 1.0 } else { 0.0 }",
        Func2::Ne => "if a != b { 1.0 } else { 0.0 }",
        Func2::And => "if a != 0.0 && b != 0.0 { 1.0 } else { 0.0 }",
        Func2::Or => "if a != 0.0 || b != 0.0 { 1.0 } else { 0.0 }",
        Func2::Min => "if a.is_nan() || b.is_nan() { f64::NAN } else if b < a { b } else { a }",
        Func2::Max => "if a.is_nan() || b.is_nan() { f64::NAN } else if b > a { b } else { a }",
        Func2::Zidz => "if b == 0.0 { 0.0 } else { a / b }",
        Func2::LogBase => "a.ln() / b.ln()",
    }
}

fn time_func(f: TimeFunc) -> &'static str {
    match f {
        TimeFunc::Step => "time_step",
        TimeFunc::Pulse => "time_pulse",
        TimeFunc::PulseTrain => "time_pulse_train",
        TimeFunc::Ramp => "time_ramp",
    }
}

/// One function applying `code` to the slots `s`.
fn function(out: &mut String, name: &str, code: &Code) -> Result<()> {
    let _ = writeln!(out, "#[inline(always)]\nfn {name}(s: &mut [f64; SLOTS]) {{");
    for op in code.ops() {
        let line = match *op {
            Op::Copy { dst, a } => format!("s[{dst}] = s[{a}];"),
            Op::Add { dst, a, b } => format!("s[{dst}] = s[{a}] + s[{b}];"),
            Op::Sub { dst, a, b } => format!("s[{dst}] = s[{a}] - s[{b}];"),
            Op::Mul { dst, a, b } => format!("s[{dst}] = s[{a}] * s[{b}];"),
            Op::Div { dst, a, b } => format!("s[{dst}] = s[{a}] / s[{b}];"),
            Op::F1 { dst, f, a } => {
                let Some(rust) = func1(f) else {
                    return Err(Error::Invalid {
                        what: "reference code".into(),
                        message: format!(
                            "{op:?}: the generated reference has no {f:?} (std has none to match the interpreter's bits)"
                        ),
                    });
                };
                format!("{{ let a = s[{a}]; s[{dst}] = {rust}; }}")
            }
            Op::F2 { dst, f, a, b } => format!(
                "{{ let (a, b) = (s[{a}], s[{b}]); s[{dst}] = {}; }}",
                func2(f)
            ),
            Op::Select { dst, c, a, b } => {
                format!("s[{dst}] = if s[{c}] != 0.0 {{ s[{a}] }} else {{ s[{b}] }};")
            }
            Op::Xidz { dst, a, b, x } => format!(
                "{{ let d = s[{b}]; s[{dst}] = if d == 0.0 {{ s[{x}] }} else {{ s[{a}] / d }}; }}"
            ),
            Op::Lookup { dst, table, a } => {
                format!("s[{dst}] = lookup(&TABLE_{table}, s[{a}]);")
            }
            Op::Time { dst, f, args } => format!(
                "s[{dst}] = {}(s[{TIME}], s[{DT}], [{}]);",
                time_func(f),
                list(args.iter().map(|i| format!("s[{i}]")))
            ),
            Op::DelayFixed { .. } | Op::Random { .. } => {
                return Err(Error::Invalid {
                    what: "reference code".into(),
                    message: format!(
                        "{op:?}: the generated reference has no DELAY FIXED or random functions"
                    ),
                });
            }
        };
        let _ = writeln!(out, "    {line}");
    }
    let _ = writeln!(out, "}}\n");
    Ok(())
}

/// The functions every generated program shares: lookups, functions of
/// time and non-negative limiting, as the interpreter computes them.
const SHARED: &str = r#"
struct Table {
    xs: &'static [f64],
    ys: &'static [f64],
    /// 0 continuous, 1 extrapolate, 2 discrete.
    kind: u8,
}

fn lookup(t: &Table, x: f64) -> f64 {
    let (xs, ys) = (t.xs, t.ys);
    let n = xs.len();
    if x.is_nan() {
        return f64::NAN;
    }
    if n == 1 {
        return ys[0];
    }
    if x <= xs[0] {
        return if t.kind == 1 {
            ys[0] + (x - xs[0]) * (ys[1] - ys[0]) / (xs[1] - xs[0])
        } else {
            ys[0]
        };
    }
    if x >= xs[n - 1] {
        return if t.kind == 1 {
            ys[n - 1] + (x - xs[n - 1]) * (ys[n - 1] - ys[n - 2]) / (xs[n - 1] - xs[n - 2])
        } else {
            ys[n - 1]
        };
    }
    let i = xs.partition_point(|&v| v <= x);
    if t.kind == 2 {
        ys[i - 1]
    } else {
        let (x0, x1, y0, y1) = (xs[i - 1], xs[i], ys[i - 1], ys[i]);
        y0 + (x - x0) * (y1 - y0) / (x1 - x0)
    }
}

fn time_step(t: f64, dt: f64, args: [f64; 4]) -> f64 {
    let [height, start, ..] = args;
    if t + dt / 2.0 > start { height } else { 0.0 }
}

fn time_pulse(t: f64, dt: f64, args: [f64; 4]) -> f64 {
    let half = dt / 2.0;
    let [start, width, ..] = args;
    let width = if width > 0.0 { width } else { dt };
    if t + half > start && t + half < start + width { 1.0 } else { 0.0 }
}

fn time_pulse_train(t: f64, dt: f64, args: [f64; 4]) -> f64 {
    let half = dt / 2.0;
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
    if phase + half < width { 1.0 } else { 0.0 }
}

fn time_ramp(t: f64, _dt: f64, args: [f64; 4]) -> f64 {
    let [slope, start, end, _] = args;
    if t <= start { 0.0 } else { slope * (t.min(end) - start) }
}

/// The interpreter's non-negative limiting, for one run.
fn limit(s: &mut [f64; SLOTS], dt: f64) {
    const PASSES: usize = 16;
    for pass in 0..=PASSES {
        let certain_only = pass == PASSES;
        let mut changed = false;
        for &(slot, first_in, first_out, end) in NON_NEGATIVE {
            let inflows = &TERMS[first_in..first_out];
            let outflows = &TERMS[first_out..end];
            let counts = |f: usize| !certain_only || LIMITED.binary_search(&f).is_err();
            let (mut supply, mut demand) = (0.0, 0.0);
            for &f in inflows {
                let v = s[f];
                if v < 0.0 {
                    demand -= v;
                } else if counts(f) {
                    supply += v;
                }
            }
            for &f in outflows {
                let v = s[f];
                if v > 0.0 {
                    demand += v;
                } else if counts(f) {
                    supply -= v;
                }
            }
            let available = s[slot] + dt * supply;
            if demand > 0.0 && dt * demand > available && IN_ORDER {
                let mut left = available.max(0.0);
                for &f in outflows {
                    let v = s[f];
                    if v > 0.0 {
                        let take = (dt * v).min(left);
                        left -= take;
                        s[f] = take / dt;
                    }
                }
                for &f in inflows {
                    let v = s[f];
                    if v < 0.0 {
                        let take = (-dt * v).min(left);
                        left -= take;
                        s[f] = -take / dt;
                    }
                }
                changed = true;
            } else if demand > 0.0 && dt * demand > available {
                let scale = (available / (dt * demand)).max(0.0);
                for &f in inflows {
                    if s[f] < 0.0 {
                        s[f] *= scale;
                    }
                }
                for &f in outflows {
                    if s[f] > 0.0 {
                        s[f] *= scale;
                    }
                }
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// One run: the saved rows into `out`, and how many; `None` if a value
/// was NaN or infinite.
fn run(s: &mut [f64; SLOTS], start: &mut [f64; STOCKS], out: &mut [f64]) -> Option<usize> {
    s.copy_from_slice(&BASE);
    init(s);
    if !s[CHECKED].iter().all(|v| v.is_finite()) {
        return None;
    }
    let mut until_save = 0;
    let mut row = 0;
    for step in 0..=STEPS {
        let t = START + step as f64 * DT_VALUE;
        s[TIME_SLOT] = t;
        if LIMITING {
            flows(s);
            // The interpreter's first pass, written out: when no stock
            // would be limited, limiting changes nothing.
            if limit_needed(s, DT_VALUE) {
                limit(s, DT_VALUE);
            }
            net_flows(s);
        } else {
            flows(s);
            net_flows(s);
        }
        if !s[CHECKED].iter().all(|v| v.is_finite()) {
            return None;
        }
        if until_save == 0 || step == STEPS {
            out[row * WIDTH..(row + 1) * WIDTH].copy_from_slice(&s[OUTPUTS]);
            row += 1;
            until_save = SAVE_EVERY;
        }
        until_save -= 1;
        if step == STEPS {
            break;
        }
        for (k, &i) in NON_NEGATIVE_STOCKS.iter().enumerate() {
            start[k] = s[i];
        }
        for k in 0..STOCKS {
            s[FIRST_STOCK + k] += DT_VALUE * s[DERIVATIVES + k];
        }
        for (k, &i) in NON_NEGATIVE_STOCKS.iter().enumerate() {
            let before = start[k];
            let floor = if before < 0.0 { before } else { 0.0 };
            if s[i] < floor {
                s[i] = floor;
            }
        }
    }
    Some(row)
}

/// `main RUNS`: times RUNS runs (the median of 15 rounds) and prints the
/// time per run and the last saved row's bits.
fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let mut s = Box::new([0.0; SLOTS]);
    let mut start = [0.0; STOCKS];
    let rows = STEPS / SAVE_EVERY + 2;
    let mut out = vec![0.0; rows * WIDTH];
    let mut times = Vec::new();
    let mut saved = 0;
    for _ in 0..15 {
        let clock = std::time::Instant::now();
        for _ in 0..runs {
            saved = run(std::hint::black_box(&mut s), &mut start, &mut out).expect("NaN or infinity");
        }
        times.push(clock.elapsed().as_nanos() / runs as u128);
    }
    times.sort();
    println!("ns per run: {}", times[times.len() / 2]);
    let last = &out[(saved - 1) * WIDTH..saved * WIDTH];
    let bits: Vec<String> = last.iter().map(|v| format!("{:x}", v.to_bits())).collect();
    println!("last row: {}", bits.join(" "));
}
"#;

impl Program {
    /// This program as a stand-alone Rust program (std only) that runs it
    /// under Euler with the model's constants over `time`, with every
    /// slot index a constant: the reference `benches/jit.rs` compiles with
    /// `rustc -O` to measure the compiled back end against. Run with a
    /// number of runs, it prints the median time per run and the bits of
    /// the last saved row, which are the interpreter's.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for what the reference does not cover: RK4,
    /// `DELAY FIXED`, random functions and control settings computed
    /// during the run.
    pub fn reference_rust(&self, time: &TimeSettings) -> Result<String> {
        let refuse = |what: &str| {
            Err(Error::Invalid {
                what: "reference code".into(),
                message: format!("the generated reference has no {what}"),
            })
        };
        if time.method() != Method::Euler {
            return refuse("RK4");
        }
        if !self.rings.is_empty() {
            return refuse("DELAY FIXED");
        }
        if self.control.is_some() {
            return refuse("control settings computed during the run");
        }
        let mut base = self.base_slots.clone();
        for p in &self.params {
            base[p.slot as usize] = p.default;
        }
        for (slot, value) in [
            (TIME, time.start()),
            (DT, time.dt()),
            (INITIAL_TIME, time.start()),
            (FINAL_TIME, time.stop()),
            (SAVE_INTERVAL, time.save_interval()),
        ] {
            base[slot] = value;
        }
        let slots = base.len();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "//! Model `{}` written out by carecascade_engine::Program::reference_rust.\n#![allow(unused, clippy::all)]\n",
            self.name.replace('\n', " ")
        );
        let stocks = self.integrated.len();
        let non_negative: Vec<String> = self
            .non_negative
            .iter()
            .map(|&i| self.stocks[i].slot.to_string())
            .collect();
        let stock_ranges: Vec<String> = self
            .non_negative
            .iter()
            .map(|&i| {
                let s = self.stocks[i];
                format!("({}, {}, {}, {})", s.slot, s.first_in, s.first_out, s.end)
            })
            .collect();
        let _ = writeln!(
            out,
            "const SLOTS: usize = {slots};
const STOCKS: usize = {stocks};
const FIRST_STOCK: usize = {};
const DERIVATIVES: usize = {};
const STEPS: usize = {};
const SAVE_EVERY: usize = {};
const START: f64 = {};
const DT_VALUE: f64 = {};
const TIME_SLOT: usize = {TIME};
const WIDTH: usize = {};
const OUTPUTS: std::ops::Range<usize> = {}..{};
const CHECKED: std::ops::Range<usize> = {}..{};
const LIMITING: bool = {};
const IN_ORDER: bool = {};
static NON_NEGATIVE_STOCKS: &[usize] = &[{}];
static NON_NEGATIVE: &[(usize, usize, usize, usize)] = &[{}];
static TERMS: &[usize] = &[{}];
static LIMITED: &[usize] = &[{}];
static BASE: [f64; SLOTS] = [{}];",
            self.integrated.start,
            self.derivatives,
            time.steps(),
            time.save_every(),
            literal(time.start()),
            literal(time.dt()),
            self.outputs.len(),
            self.outputs.start,
            self.outputs.end,
            self.checked.start,
            self.checked.end,
            !self.non_negative.is_empty(),
            self.outflows_in_order,
            list(non_negative),
            list(stock_ranges),
            list(self.flow_terms.iter().map(u32::to_string)),
            list(self.limited.iter().map(u32::to_string)),
            list(base.iter().map(|&v| literal(v))),
        );
        for (k, t) in self.tables.iter().enumerate() {
            let kind = match t.interpolation() {
                Interpolation::Continuous => 0,
                Interpolation::Extrapolate => 1,
                Interpolation::Discrete => 2,
            };
            let _ = writeln!(
                out,
                "static TABLE_{k}: Table = Table {{ xs: &[{}], ys: &[{}], kind: {kind} }};",
                list(t.xs().iter().map(|&v| literal(v))),
                list(t.ys().iter().map(|&v| literal(v))),
            );
        }
        out.push('\n');
        // The first pass of limiting with every slot a constant (as the
        // compiled loop tests it): true if some stock would be limited.
        let _ = writeln!(
            out,
            "#[inline(always)]\nfn limit_needed(s: &[f64; SLOTS], dt: f64) -> bool {{"
        );
        for &i in &self.non_negative {
            let stock = self.stocks[i];
            let terms = &self.flow_terms;
            let _ = writeln!(
                out,
                "    {{\n        let (mut supply, mut demand) = (0.0, 0.0);"
            );
            for &f in &terms[stock.first_in as usize..stock.first_out as usize] {
                let _ = writeln!(
                    out,
                    "        let v = s[{f}]; if v < 0.0 {{ demand -= v; }} else {{ supply += v; }}"
                );
            }
            for &f in &terms[stock.first_out as usize..stock.end as usize] {
                let _ = writeln!(
                    out,
                    "        let v = s[{f}]; if v > 0.0 {{ demand += v; }} else {{ supply -= v; }}"
                );
            }
            let _ = writeln!(
                out,
                "        if demand > 0.0 && dt * demand > s[{}] + dt * supply {{ return true; }}\n    }}",
                stock.slot
            );
        }
        let _ = writeln!(out, "    false\n}}\n");
        function(&mut out, "init", &self.init_ops)?;
        function(&mut out, "flows", &self.step_ops)?;
        function(&mut out, "net_flows", &self.derivative_ops)?;
        out.push_str(SHARED);
        Ok(out)
    }
}

/// A generated reference compiled with `rustc -O` (or `$RUSTC`) in a
/// fresh folder under the system's temporary folder, removed when dropped.
/// For the bench and the tests.
#[doc(hidden)]
#[derive(Debug)]
pub struct CompiledReference {
    dir: std::path::PathBuf,
    exe: std::path::PathBuf,
}

impl CompiledReference {
    /// Compiles `source`: `Ok(None)` where there is no compiler to run,
    /// `Err` with the compiler's messages if it fails.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with rustc's messages.
    pub fn build(source: &str) -> Result<Option<CompiledReference>> {
        let dir = std::env::temp_dir().join(format!(
            "carecascade-reference-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let main = dir.join("main.rs");
        let exe = dir.join("reference");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let reference = CompiledReference { dir, exe };
        std::fs::write(&main, source).map_err(|e| Error::io(&main, e))?;
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let Ok(built) = std::process::Command::new(rustc)
            .args([
                "--edition",
                "2021",
                "-C",
                "opt-level=3",
                "-C",
                "codegen-units=1",
                "-o",
            ])
            .arg(&reference.exe)
            .arg(&main)
            .output()
        else {
            return Ok(None);
        };
        if !built.status.success() {
            return Err(Error::Invalid {
                what: "reference code".into(),
                message: String::from_utf8_lossy(&built.stderr).into_owned(),
            });
        }
        Ok(Some(reference))
    }

    /// Runs it: `runs` runs per timing, returning what it printed.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be run.
    pub fn run(&self, runs: usize) -> Result<String> {
        let output = std::process::Command::new(&self.exe)
            .arg(runs.to_string())
            .output()
            .map_err(|e| Error::io(&self.exe, e))?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr))
    }
}

impl Drop for CompiledReference {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use crate::build::{Constant, Flow, Lookup, Stock};
    use crate::{Model, Program};

    /// The generated program gives the interpreter's last row, bit for
    /// bit, with limiting, a lookup, MIN and a power.
    #[test]
    fn the_reference_gives_the_interpreters_numbers() {
        let model = Model::builder("draining")
            .add(
                Stock::new("tank", "5")
                    .outflow("drain")
                    .inflow("fill")
                    .non_negative(true),
            )
            .add(Stock::new("sink", "0").inflow("drain"))
            .add(Flow::new(
                "drain",
                "rate * 10 + effect(TIME) + MIN(TIME, 2)",
            ))
            .add(Flow::new("fill", "0.5 * (1 + rate) ^ TIME"))
            .add(Lookup::new("effect", [(0.0, 0.0), (10.0, 3.0)]))
            .add(Constant::new("rate", 0.1))
            .time(crate::TimeSettings::new(0.0, 20.0, 0.25).unwrap())
            .build()
            .unwrap();
        let program = Program::compile(&model).unwrap();
        let mut state = program.state();
        state.set_backend(crate::Backend::Interpreter);
        let results = state.run().unwrap();
        let values = results.values();
        let last = values.row(values.nrows() - 1);
        let expected: Vec<String> = last.iter().map(|v| format!("{:x}", v.to_bits())).collect();
        let source = program.reference_rust(program.time()).unwrap();
        let Some(reference) = super::CompiledReference::build(&source).unwrap() else {
            eprintln!("no rustc: the reference was not compiled");
            return;
        };
        let printed = reference.run(2).unwrap();
        let row = printed
            .lines()
            .find_map(|l| l.strip_prefix("last row: "))
            .unwrap_or_else(|| panic!("{printed}"));
        assert_eq!(row, expected.join(" "));
        assert!(printed.contains("ns per run: "));
    }
}
