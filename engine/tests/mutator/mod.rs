//! Seeded, structure-aware mutation of valid model and scenario files, and a
//! harness that runs each mutant in-process: a panic, a hang or a huge
//! allocation is a bug, and so is a run that returns NaN or infinity
//! instead of an error.
//!
//! Shared by `engine/tests/mutations.rs` (the conformance models) and the
//! root crate's `tests/mutations.rs` (the shipped models and scenarios).
//! A mutant is a pure function of (seed, source file, index), so a failure
//! names the three and can be made again.
//!
//! Environment:
//! - `CARECASCADE_FUZZ_ITERATIONS`: mutants per source file (default small,
//!   for the test suite; thousands for a campaign, in release).
//! - `CARECASCADE_FUZZ_SEED`: the campaign's seed (default 1).
//! - `CARECASCADE_FUZZ_TIMEOUT`: seconds one mutant may take before it is
//!   reported as a hang and the test process stops (default 600: a watchdog
//!   against a test that would never end, far above any legitimate mutant
//!   even in a debug build).
//! - `CARECASCADE_FUZZ_MEMORY_MB`: the most memory the process may hold at
//!   once before the mutant being run is reported and the process stops
//!   (default 4096).
//! - `CARECASCADE_FUZZ_ONLY`: only sources whose path contains this text.
//! - `CARECASCADE_FUZZ_TRACE`: a file the key of each mutant is written to
//!   before it runs, naming the mutant that killed the process in a way
//!   nothing in the process can report (a stack overflow).
//! - `CARECASCADE_FUZZ_SKIP`: mutants per source to skip (resume a campaign
//!   after the mutant that stopped it).
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A small generator (SplitMix64), seeded from (seed, source, index).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, source: u64, index: u64) -> Rng {
        Rng(seed
            ^ source.wrapping_mul(0xA24B_AED4_963E_E407)
            ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub fn bits(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 for `n` = 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.bits() % n as u64) as usize
        }
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The language of a source, for the mutations that know its syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Vensim,
    Xmile,
    Toml,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Word,
    Number,
    Space,
    Quoted,
    Punct,
}

/// Splits text into tokens: words (letters, digits, `_`, `$`, `.` inside),
/// numbers, runs of white space, quoted strings and single punctuation.
fn tokens(text: &str) -> Vec<(Kind, std::ops::Range<usize>)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = text[i..].chars().next().unwrap_or(' ');
        let kind = if c.is_ascii_digit() {
            while i < bytes.len()
                && (bytes[i].is_ascii_digit()
                    || bytes[i] == b'.'
                    || ((bytes[i] == b'e' || bytes[i] == b'E') && i + 1 < bytes.len())
                    || ((bytes[i] == b'-' || bytes[i] == b'+')
                        && i > start
                        && (bytes[i - 1] == b'e' || bytes[i - 1] == b'E')))
            {
                i += 1;
            }
            Kind::Number
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            while i < bytes.len() {
                let d = text[i..].chars().next().unwrap_or(' ');
                if d.is_alphanumeric() || d == '_' || d == '$' {
                    i += d.len_utf8();
                } else {
                    break;
                }
            }
            Kind::Word
        } else if c.is_whitespace() {
            while i < bytes.len() {
                let d = text[i..].chars().next().unwrap_or('x');
                if d.is_whitespace() {
                    i += d.len_utf8();
                } else {
                    break;
                }
            }
            Kind::Space
        } else if c == '"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                i += 1;
            }
            if i < bytes.len() && bytes[i] == b'"' {
                i += 1;
            }
            Kind::Quoted
        } else {
            i += c.len_utf8();
            Kind::Punct
        };
        out.push((kind, start..i));
    }
    out
}

const NUMBERS: &[&str] = &[
    // Plausible values, so that more mutants run.
    "2",
    "0.5",
    "10",
    "3",
    "0",
    "-1",
    "1",
    "1e308",
    "-1e308",
    "1e309",
    "1e-308",
    "5e-324",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "99999999999999999999999",
    "18446744073709551616",
    "4294967296",
    "2147483648",
    "1000000000",
    "100000",
    "",
    "0.0",
    "-0",
    "1e",
    ".",
    "1..2",
    "0x10",
];

const OPERATORS: &[&str] = &[
    "+", "-", "*", "/", "^", "<", ">", "=", "<=", ">=", "<>", "(", ")", "[", "]", ",", ":", "!",
    "|", "~", "{", "}", "&", ";", "\"", "'", "==", "\\",
];

const FUNCTIONS: &[&str] = &[
    "TIME",
    "DT",
    "INTEG",
    "DELAY1",
    "DELAY3",
    "DELAY N",
    "DELAY FIXED",
    "SMOOTH",
    "SMOOTH3",
    "SMOOTH N",
    "TREND",
    "INITIAL",
    "STEP",
    "PULSE",
    "PULSE TRAIN",
    "RAMP",
    "IF THEN ELSE",
    "MIN",
    "MAX",
    "SUM",
    "PROD",
    "VMAX",
    "ELMCOUNT",
    "VECTOR SELECT",
    "VECTOR ELM MAP",
    "VECTOR SORT ORDER",
    "VECTOR RANK",
    "ALLOCATE BY PRIORITY",
    "INVERT MATRIX",
    "XIDZ",
    "ZIDZ",
    "MODULO",
    "INTEGER",
    "LN",
    "LOG",
    "EXP",
    "SQRT",
    "ARCTAN",
    "LOOKUP EXTRAPOLATE",
    "WITH LOOKUP",
    "GET DATA AT TIME",
    "GET XLS DATA",
    "GET DIRECT DATA",
    "GET DIRECT CONSTANTS",
    "GET XLS LOOKUPS",
    "TABBED ARRAY",
    "RANDOM UNIFORM",
    "RANDOM NORMAL",
    "RANDOM POISSON",
    "FINAL TIME",
    "INITIAL TIME",
    "TIME STEP",
    "SAVEPER",
    "A FUNCTION OF",
    ":MACRO:",
    ":END OF MACRO:",
    ":EXCEPT:",
    ":AND:",
    ":OR:",
    ":NOT:",
    ":NA:",
    "GRAPH",
    "HISTORY",
    "SELF",
    "PREVIOUS",
    "SAFEDIV",
    "CONVEYOR",
    "QUEUE",
    "module",
    "inf",
];

const XML_TAGS: &[&str] = &[
    "stock",
    "flow",
    "aux",
    "eqn",
    "gf",
    "ypts",
    "xpts",
    "xscale",
    "yscale",
    "dimensions",
    "dim",
    "elem",
    "element",
    "inflow",
    "outflow",
    "non_negative",
    "sim_specs",
    "start",
    "stop",
    "dt",
    "module",
    "connect",
    "model",
    "variables",
    "macro",
    "parm",
    "init_eqn",
    "conveyor",
    "queue",
    "units",
    "range",
];

/// `text` with the spans `a` and `b` (`a` before `b`) swapped.
fn swap_spans(text: &str, a: std::ops::Range<usize>, b: std::ops::Range<usize>) -> String {
    format!(
        "{}{}{}{}{}",
        &text[..a.start],
        &text[b.clone()],
        &text[a.end..b.start],
        &text[a],
        &text[b.end..]
    )
}

/// Applies one to three mutations to `text`. `donors` are other sources
/// of the same syntax, for splicing lines and names across files.
pub fn mutate(text: &str, syntax: Syntax, donors: &[&str], rng: &mut Rng) -> String {
    let mut text = text.to_string();
    let count = 1 + rng.below(3);
    for _ in 0..count {
        text = mutate_once(&text, syntax, donors, rng);
    }
    text
}

fn replace(text: &str, range: std::ops::Range<usize>, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..range.start]);
    out.push_str(with);
    out.push_str(&text[range.end..]);
    out
}

fn line_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == '\n' {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push(start..text.len());
    }
    out
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn mutate_once(text: &str, syntax: Syntax, donors: &[&str], rng: &mut Rng) -> String {
    let toks = tokens(text);
    let solid: Vec<usize> = (0..toks.len())
        .filter(|&i| toks[i].0 != Kind::Space)
        .collect();
    let of =
        |kind: Kind| -> Vec<usize> { (0..toks.len()).filter(|&i| toks[i].0 == kind).collect() };
    let lines = line_ranges(text);
    match rng.below(20) {
        // Delete a token.
        0 if !solid.is_empty() => {
            let t = &toks[*rng.pick(&solid)];
            replace(text, t.1.clone(), "")
        }
        // Duplicate a token.
        1 if !solid.is_empty() => {
            let t = &toks[*rng.pick(&solid)];
            let s = &text[t.1.clone()];
            replace(text, t.1.start..t.1.start, s)
        }
        // Swap a token with the next solid one.
        2 if solid.len() > 1 => {
            let k = rng.below(solid.len() - 1);
            let (a, b) = (toks[solid[k]].1.clone(), toks[solid[k + 1]].1.clone());
            swap_spans(text, a, b)
        }
        // Delete, duplicate or swap lines.
        3 if !lines.is_empty() => {
            let l = rng.pick(&lines).clone();
            replace(text, l, "")
        }
        4 if !lines.is_empty() => {
            let l = rng.pick(&lines).clone();
            let s = text[l.clone()].to_string();
            replace(text, l.start..l.start, &s)
        }
        5 if lines.len() > 1 => {
            let k = rng.below(lines.len() - 1);
            let j = (k + 1 + rng.below(4)).min(lines.len() - 1);
            let (a, b) = (lines[k].clone(), lines[j].clone());
            let mut la = text[a.clone()].to_string();
            let mut lb = text[b.clone()].to_string();
            if !la.ends_with('\n') {
                la.push('\n');
            }
            if !lb.ends_with('\n') {
                lb.push('\n');
            }
            format!(
                "{}{}{}{}{}",
                &text[..a.start],
                lb,
                &text[a.end..b.start],
                la,
                &text[b.end..]
            )
        }
        // Flip an operator.
        6 => {
            let puncts = of(Kind::Punct);
            if puncts.is_empty() {
                return text.to_string();
            }
            let t = &toks[*rng.pick(&puncts)];
            let operator = OPERATORS[rng.below(OPERATORS.len())];
            replace(text, t.1.clone(), operator)
        }
        // Replace a number.
        7 | 8 => {
            let numbers = of(Kind::Number);
            let with = *rng.pick(NUMBERS);
            if numbers.is_empty() {
                return text.to_string();
            }
            let t = &toks[*rng.pick(&numbers)];
            replace(text, t.1.clone(), with)
        }
        // Replace a name with another name of this file or a donor (a
        // subscript, a variable, a dimension), or misspell it.
        9 | 10 => {
            let words = of(Kind::Word);
            if words.is_empty() {
                return text.to_string();
            }
            let t = toks[*rng.pick(&words)].1.clone();
            let with = match rng.below(4) {
                0 => {
                    let mut w = text[t.clone()].to_string();
                    if w.len() > 1 {
                        let at = floor_boundary(&w, rng.below(w.len()));
                        w.insert(at, 'x');
                    }
                    w
                }
                1 if !donors.is_empty() => {
                    let donor = *rng.pick(donors);
                    let dw: Vec<_> = tokens(donor)
                        .into_iter()
                        .filter(|t| t.0 == Kind::Word)
                        .collect();
                    if dw.is_empty() {
                        "x".to_string()
                    } else {
                        donor[rng.pick(&dw).1.clone()].to_string()
                    }
                }
                _ => text[toks[*rng.pick(&words)].1.clone()].to_string(),
            };
            replace(text, t, &with)
        }
        // Insert a builtin's name or a keyword.
        11 => {
            let at = if solid.is_empty() {
                0
            } else {
                toks[*rng.pick(&solid)].1.start
            };
            let f = *rng.pick(FUNCTIONS);
            let with = if rng.below(2) == 0 {
                format!("{f}(")
            } else {
                f.to_string()
            };
            replace(text, at..at, &with)
        }
        // Truncate.
        12 => {
            let at = floor_boundary(text, rng.below(text.len() + 1));
            text[..at].to_string()
        }
        // Unbalance brackets, quotes or tags.
        13 => {
            let opener = match syntax {
                Syntax::Xmile => *rng.pick(&[
                    "<",
                    ">",
                    "</",
                    "/>",
                    "\"",
                    "<eqn>",
                    "</eqn>",
                    "&",
                    "<![CDATA[",
                ]),
                Syntax::Vensim => {
                    *rng.pick(&["(", ")", "[", "]", "\"", "|", "~", "{", "}", "\\\n"])
                }
                Syntax::Toml => *rng.pick(&["[", "]", "\"", "'", "{", "}", "\"\"\"", "[[", "="]),
            };
            let at = floor_boundary(text, rng.below(text.len() + 1));
            replace(text, at..at, opener)
        }
        // Remove a bracket, quote or tag delimiter.
        14 => {
            let delims: Vec<usize> = (0..toks.len())
                .filter(|&i| {
                    let s = &text[toks[i].1.clone()];
                    matches!(
                        s,
                        "(" | ")" | "[" | "]" | "<" | ">" | "{" | "}" | "\"" | "'"
                    ) || toks[i].0 == Kind::Quoted
                })
                .collect();
            if delims.is_empty() {
                return text.to_string();
            }
            let t = toks[*rng.pick(&delims)].1.clone();
            let s = &text[t.clone()];
            if s.len() > 1 {
                // A quoted string loses its closing or opening quote.
                if rng.below(2) == 0 {
                    replace(text, t.start..t.start + 1, "")
                } else {
                    replace(text, t.end - 1..t.end, "")
                }
            } else {
                replace(text, t, "")
            }
        }
        // Deep nesting around a token, or a long chain.
        15 => {
            let n = *rng.pick(&[20, 200, 1000, 3000, 20000]);
            let at = if solid.is_empty() {
                0..0
            } else {
                toks[*rng.pick(&solid)].1.clone()
            };
            let inner = text[at.clone()].to_string();
            let with = match (syntax, rng.below(4)) {
                (Syntax::Xmile, 0) => format!("{}{inner}{}", "<a>".repeat(n), "</a>".repeat(n)),
                (Syntax::Toml, 0) => format!("{}{inner}{}", "[".repeat(n), "]".repeat(n)),
                (_, 1) => format!("{}{inner}", "-".repeat(n)),
                (_, 2) => format!("{inner}{}", "+1".repeat(n)),
                _ => format!("{}{inner}{}", "(".repeat(n), ")".repeat(n)),
            };
            replace(text, at, &with)
        }
        // XML: rename, drop or duplicate a tag name.
        16 if syntax == Syntax::Xmile => {
            let tags: Vec<usize> = (1..toks.len())
                .filter(|&i| {
                    toks[i].0 == Kind::Word && {
                        let p = &text[toks[i - 1].1.clone()];
                        p == "<" || p == "/"
                    }
                })
                .collect();
            if tags.is_empty() {
                return text.to_string();
            }
            let t = toks[*rng.pick(&tags)].1.clone();
            let with = match rng.below(3) {
                0 => rng.pick(XML_TAGS).to_string(),
                1 => format!("{}x", &text[t.clone()]),
                _ => "isee:".to_string() + &text[t.clone()],
            };
            replace(text, t, &with)
        }
        // A line of another file of the same language.
        17 if !donors.is_empty() => {
            let donor = *rng.pick(donors);
            let dl = line_ranges(donor);
            if dl.is_empty() {
                return text.to_string();
            }
            let start = rng.below(dl.len());
            let n = 1 + rng.below(6);
            let end = (start + n).min(dl.len());
            let chunk = &donor[dl[start].start..dl[end - 1].end];
            let at = if lines.is_empty() {
                0
            } else {
                rng.pick(&lines).start
            };
            let mut chunk = chunk.to_string();
            if !chunk.ends_with('\n') {
                chunk.push('\n');
            }
            replace(text, at..at, &chunk)
        }
        // A name with spaces, quotes or odd characters.
        18 => {
            let words = of(Kind::Word);
            if words.is_empty() {
                return text.to_string();
            }
            let t = toks[*rng.pick(&words)].1.clone();
            let w = &text[t.clone()];
            let with = match rng.below(6) {
                0 => format!("\"{w}\""),
                1 => format!("{w} {w}"),
                2 => format!("{w}!"),
                3 => format!("{w}[{w}]"),
                4 => w.repeat(50),
                _ => format!("{w}\u{e9}\u{1F600}"),
            };
            replace(text, t, &with)
        }
        // Swap two numbers (a start after a stop, a min above a max).
        _ => {
            let numbers = of(Kind::Number);
            if numbers.len() < 2 {
                return text.to_string();
            }
            let k = rng.below(numbers.len() - 1);
            let j = k + 1 + rng.below((numbers.len() - k - 1).min(8));
            let (a, b) = (toks[numbers[k]].1.clone(), toks[numbers[j]].1.clone());
            swap_spans(text, a, b)
        }
    }
}

// ---------------------------------------------------------------------------
// The harness: memory cap, watchdog, catching panics.

/// An allocator that counts the bytes held, so that a mutant that asks
/// for a huge amount is reported (by its key) before the machine runs out.
pub struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static CAP: AtomicUsize = AtomicUsize::new(usize::MAX);
/// The key of the mutant being run, for the reports of the watchdog and
/// the allocator (written before each mutant).
static CURRENT: Mutex<String> = Mutex::new(String::new());
static STARTED_MS: AtomicU64 = AtomicU64::new(0);
static RUNNING: AtomicBool = AtomicBool::new(false);
static REPORTING: AtomicBool = AtomicBool::new(false);

// The one unsafe block of the tests: a global allocator must be an
// `unsafe impl`; it only counts and hands every call to the system's.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let held = HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        if held > CAP.load(Ordering::Relaxed) {
            over_cap(layout.size());
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let held = HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        if held > CAP.load(Ordering::Relaxed) {
            over_cap(layout.size());
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let grow = new_size - layout.size();
            let held = HELD.fetch_add(grow, Ordering::Relaxed) + grow;
            if held > CAP.load(Ordering::Relaxed) {
                over_cap(new_size);
            }
        } else {
            HELD.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Reports the mutant that took memory past the cap, and stops the
/// process (an allocator must not unwind).
fn over_cap(size: usize) -> ! {
    // Lift the cap so that reporting can allocate.
    CAP.store(usize::MAX, Ordering::Relaxed);
    if !REPORTING.swap(true, Ordering::SeqCst) {
        let key = CURRENT.try_lock().map(|k| k.clone()).unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "MUTATION FUZZ: memory over the cap ({} MB held, asking for {size} bytes) running {key}",
            HELD.load(Ordering::Relaxed) >> 20
        );
    }
    std::process::abort()
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The settings of a campaign, from the environment.
pub struct Settings {
    pub iterations: u64,
    pub seed: u64,
    pub timeout: Duration,
    pub only: Option<String>,
    pub skip: u64,
}

impl Settings {
    pub fn from_env(default_iterations: u64) -> Settings {
        Settings {
            iterations: env_u64("CARECASCADE_FUZZ_ITERATIONS", default_iterations),
            seed: env_u64("CARECASCADE_FUZZ_SEED", 1),
            timeout: Duration::from_secs(env_u64("CARECASCADE_FUZZ_TIMEOUT", 600)),
            only: std::env::var("CARECASCADE_FUZZ_ONLY").ok(),
            skip: env_u64("CARECASCADE_FUZZ_SKIP", 0),
        }
    }
}

fn now_ms(origin: Instant) -> u64 {
    origin.elapsed().as_millis() as u64
}

/// The stack of the command line's main thread, which reads and runs
/// models: deep nesting must be refused before it overflows it.
pub const STACK: usize = 8 << 20;

/// Runs `campaign` on a thread with the command line's stack
/// ([`STACK`]), passing on its panic (a failed test).
pub fn on_cli_stack(campaign: fn()) {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(campaign)
        .expect("a thread")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

/// Starts the watchdog (once per process) and sets the memory cap.
pub fn start(settings: &Settings) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let timeout = settings.timeout;
    ONCE.call_once(|| {
        let cap = env_u64("CARECASCADE_FUZZ_MEMORY_MB", 4096) as usize;
        CAP.store(cap.saturating_mul(1 << 20), Ordering::Relaxed);
        let origin = Instant::now();
        ORIGIN.get_or_init(|| origin);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(250));
                if RUNNING.load(Ordering::SeqCst) {
                    let started = STARTED_MS.load(Ordering::SeqCst);
                    if now_ms(origin).saturating_sub(started) > timeout.as_millis() as u64 {
                        let key = CURRENT.lock().map(|k| k.clone()).unwrap_or_default();
                        eprintln!(
                            "MUTATION FUZZ: hang: still running after {} s: {key}",
                            timeout.as_secs()
                        );
                        std::process::exit(3);
                    }
                }
            }
        });
    });
}

static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// A bug found by a mutant: its key, what happened and the mutant's text.
pub struct Finding {
    pub key: String,
    pub problem: String,
    pub text: String,
}

/// Runs `check` on a mutant, catching panics: `Err` is a finding (the
/// check's own complaint or the panic's message).
pub fn guarded(key: &str, check: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    if let Some(trace) = std::env::var_os("CARECASCADE_FUZZ_TRACE") {
        let _ = std::fs::write(trace, key);
    }
    if let Ok(mut k) = CURRENT.lock() {
        k.clear();
        k.push_str(key);
    }
    if let Some(origin) = ORIGIN.get() {
        STARTED_MS.store(now_ms(*origin), Ordering::SeqCst);
    }
    RUNNING.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(check));
    RUNNING.store(false, Ordering::SeqCst);
    // Slow mutants are worth a look (a campaign shows them with
    // --nocapture); a hang is the watchdog's.
    if started.elapsed() > Duration::from_secs(1) {
        eprintln!(
            "slow mutant ({:.1} s): {key}",
            started.elapsed().as_secs_f64()
        );
    }
    match outcome {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".into());
            Err(format!("panic: {message}"))
        }
    }
}

/// With `CARECASCADE_FUZZ_TRACE` set, writes the mutant's text beside the
/// trace file (`TRACE.input`) before it runs.
pub fn trace_input(text: &str) {
    if let Some(trace) = std::env::var_os("CARECASCADE_FUZZ_TRACE") {
        let mut path = trace;
        path.push(".input");
        let _ = std::fs::write(path, text);
    }
}

/// Quietens the default panic message (the harness reports each panic
/// with its mutant) unless `CARECASCADE_FUZZ_VERBOSE` is set.
pub fn quiet_panics() {
    if std::env::var_os("CARECASCADE_FUZZ_VERBOSE").is_none() {
        std::panic::set_hook(Box::new(|_| {}));
    }
}

/// Restores the default panic message (for the test's own assertion).
pub fn loud_panics() {
    let _ = std::panic::take_hook();
}

/// Shrinks `text` while `fails` still holds: whole lines, then tokens,
/// then characters (greedy, bounded).
pub fn minimise(text: &str, fails: &dyn Fn(&str) -> bool) -> String {
    let mut best = text.to_string();
    let mut budget = 4000usize;
    // Lines, in chunks halving down to one.
    let mut chunk = line_ranges(&best).len().max(1) / 2;
    while chunk >= 1 && budget > 0 {
        let mut i = 0;
        loop {
            let lines = line_ranges(&best);
            if i >= lines.len() || budget == 0 {
                break;
            }
            let end = (i + chunk).min(lines.len());
            let candidate = replace(&best, lines[i].start..lines[end - 1].end, "");
            budget -= 1;
            if fails(&candidate) {
                best = candidate;
            } else {
                i += chunk;
            }
        }
        chunk /= 2;
    }
    // Single tokens.
    let mut i = 0;
    while budget > 0 {
        let toks = tokens(&best);
        if i >= toks.len() {
            break;
        }
        let candidate = replace(&best, toks[i].1.clone(), "");
        budget -= 1;
        if fails(&candidate) {
            best = candidate;
        } else {
            i += 1;
        }
    }
    best
}

/// How far mutants got: refused by the reader, by the compiler, runs
/// that stopped with an error, and runs that finished.
pub static TALLY: [AtomicU64; 4] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

/// Counts a mutant's outcome in [`TALLY`].
pub fn tally(stage: Stage) {
    TALLY[stage as usize].fetch_add(1, Ordering::Relaxed);
}

/// The stages of [`TALLY`].
#[derive(Clone, Copy)]
pub enum Stage {
    Refused,
    NotCompiled,
    RunFailed,
    Ran,
}

/// [`TALLY`] as text.
pub fn tally_text() -> String {
    let [a, b, c, d] = &TALLY;
    format!(
        "refused by the reader {}, by the compiler {}, runs stopped with an error {}, runs finished {}",
        a.load(Ordering::Relaxed),
        b.load(Ordering::Relaxed),
        c.load(Ordering::Relaxed),
        d.load(Ordering::Relaxed)
    )
}

/// Whether every value is finite.
pub fn all_finite(values: &[f64]) -> bool {
    values.iter().all(|v| v.is_finite())
}

/// Ends a campaign: panics are loud again, the counts are printed, and
/// the test fails with every finding if there is any.
pub fn finish(counts: &str, started: Instant, findings: &[Finding]) {
    loud_panics();
    eprintln!(
        "mutation fuzzing: {counts} mutants in {:.1} s, {} findings; {}",
        started.elapsed().as_secs_f64(),
        findings.len(),
        tally_text()
    );
    assert!(
        findings.is_empty(),
        "mutants that crash or mislead:\n{}",
        report(findings)
    );
}

/// Writes findings to `CARECASCADE_FUZZ_OUT` (a folder) when set, and
/// returns a report of them.
pub fn report(findings: &[Finding]) -> String {
    let mut out = String::new();
    for (i, f) in findings.iter().enumerate() {
        out.push_str(&format!("{}: {}\n", f.key, f.problem));
        if let Some(dir) = std::env::var_os("CARECASCADE_FUZZ_OUT") {
            let dir = std::path::PathBuf::from(dir);
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(
                dir.join(format!("finding-{i}.txt")),
                format!("{}\n{}\n----\n{}", f.key, f.problem, f.text),
            );
        }
    }
    out
}
