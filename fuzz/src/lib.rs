//! A fuzz driver on stable Rust for carecascade's readers.
//!
//! Five targets take arbitrary bytes: the equation parser ([`Target::Equation`]:
//! the bytes as the equation of a flow in a small model), the native model
//! reader, the XMILE reader, the Vensim `.mdl` reader and the scenario
//! reader. Each input is read; a model that reads is compiled, run for at
//! most [`MAX_STEPS`] steps with Euler and RK4, and (if it compiled)
//! written back as native TOML and XMILE, which must read again; a scenario
//! that reads is prepared (its model loaded and compiled, its policies
//! applied) and two of its runs are made. Bad input must come back as an error: a panic, an abort
//! (a stack overflow, an allocation failure) or a hang is a crash.
//!
//! Inputs are mutations of a corpus built from the shipped models and
//! scenarios ([`Corpus`]), made by [`mutate`]: byte flips and changes,
//! deletions, duplications, splices of other corpus files, and insertions
//! of tokens that stress readers (deep parentheses, huge numbers, long
//! names, large dimension sizes and ranges, function calls). An input is a
//! pure function of the target, the seed and its index, so the supervisor
//! of a worker process (see `src/main.rs`) can save the input a worker died
//! on from the index it last reported.
//!
//! `fuzz/tests/regressions.rs` runs every saved crash in
//! `fuzz/regressions/TARGET/` through [`execute`].

use carecascade::engine::build::{Constant, Flow, Lookup, Stock};
use carecascade::engine::format::{native, vensim, xmile};
use carecascade::engine::scenario::Scenario;
use carecascade::engine::{Model, Program, TimeSettings};
use std::path::{Path, PathBuf};

/// The most steps a fuzzed model is run for (its stop time is brought in).
pub const MAX_STEPS: usize = 2_000;

/// What is fuzzed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The equation parser, compiler and interpreter: the input is the
    /// equation of a flow in a small model with a stock, constants, a
    /// lookup and an arrayed constant.
    Equation,
    /// The native TOML model reader.
    Native,
    /// The XMILE reader.
    Xmile,
    /// The Vensim `.mdl` reader.
    Vensim,
    /// The scenario reader, with the built-in England model and profile.
    Scenario,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 5] = [
        Target::Equation,
        Target::Native,
        Target::Xmile,
        Target::Vensim,
        Target::Scenario,
    ];

    /// The target's name on the command line and in folder names.
    pub fn name(self) -> &'static str {
        match self {
            Target::Equation => "equation",
            Target::Native => "native",
            Target::Xmile => "xmile",
            Target::Vensim => "vensim",
            Target::Scenario => "scenario",
        }
    }

    /// The target of a name.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Tokens worth inserting into this target's inputs.
    fn tokens(self) -> &'static [&'static str] {
        match self {
            Target::Equation => EQUATION_TOKENS,
            Target::Native => NATIVE_TOKENS,
            Target::Xmile => XMILE_TOKENS,
            Target::Vensim => VENSIM_TOKENS,
            Target::Scenario => SCENARIO_TOKENS,
        }
    }
}

const EQUATION_TOKENS: &[&str] = &[
    "(",
    ")",
    "+",
    "-",
    "*",
    "/",
    "^",
    "=",
    "<>",
    "<=",
    ">=",
    ":AND:",
    ":OR:",
    ":NOT:",
    "AND",
    "NOT ",
    " mod ",
    ",",
    "[",
    "]",
    "[*]",
    "[d!]",
    "[d1]",
    "[2]",
    "{",
    "}",
    "\"",
    "'",
    "0",
    "1",
    "-1",
    "0.5",
    "1e308",
    "1e309",
    "-1e308",
    "1e-320",
    "5e-324",
    "NaN",
    "inf",
    "18446744073709551616",
    "99999999999999999999999",
    "0.000000000000000000000000001",
    "a",
    "b",
    "s",
    "f",
    "arr",
    "tbl",
    "TIME",
    "DT",
    "TIME STEP",
    "INITIAL TIME",
    "FINAL TIME",
    "PI",
    "IF THEN ELSE(",
    "IF ",
    " THEN ",
    " ELSE ",
    "MIN(",
    "MAX(",
    "SUM(",
    "MEAN(",
    "ABS(",
    "EXP(",
    "LN(",
    "LOG(",
    "SQRT(",
    "SIN(",
    "INTEGER(",
    "INT(",
    "MODULO(",
    "MOD(",
    "XIDZ(",
    "ZIDZ(",
    "STEP(",
    "PULSE(",
    "PULSE TRAIN(",
    "RAMP(",
    "DELAY1(",
    "DELAY1I(",
    "DELAY3(",
    "DELAY3I(",
    "DELAY N(",
    "DELAY FIXED(",
    "SMOOTH(",
    "SMOOTHI(",
    "SMOOTH3(",
    "SMOOTH N(",
    "TREND(",
    "INITIAL(",
    "INIT(",
    "tbl(",
    "LOOKUP(",
    "WITH LOOKUP(",
    "RANDOM UNIFORM(",
    "GRAPH(",
];

const NATIVE_TOKENS: &[&str] = &[
    "\n",
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "'''",
    "{",
    "}",
    ",",
    ".",
    "#",
    "[stocks.x]\n",
    "[flows.f]\n",
    "[auxiliaries.a]\n",
    "[constants.c]\n",
    "[lookups.l]\n",
    "[dimensions]\n",
    "[time]\n",
    "initial = ",
    "equation = ",
    "value = ",
    "inflows = [\"f\"]\n",
    "outflows = [\"f\"]\n",
    "dimensions = [\"d\"]\n",
    "points = [[0, 0], [1, 1]]\n",
    "d = [\"d1\", \"d2\"]\n",
    "start = ",
    "stop = ",
    "dt = ",
    "save = ",
    "method = \"rk4\"\n",
    "1e308",
    "-1e308",
    "1e-320",
    "nan",
    "inf",
    "-0.0",
    "0",
    "1/1e300",
    "99999999999",
    "18446744073709551616",
    "true",
];

const XMILE_TOKENS: &[&str] = &[
    "<",
    ">",
    "/>",
    "</",
    "\"",
    "&amp;",
    "&lt;",
    "&#0;",
    "&#x10FFFF;",
    "<![CDATA[",
    "]]>",
    "<stock name=\"x\"><eqn>1</eqn><inflow>f</inflow></stock>",
    "<flow name=\"f\"><eqn>",
    "</eqn></flow>",
    "<aux name=\"a\"><eqn>",
    "</eqn></aux>",
    "<eqn>",
    "</eqn>",
    "<dimensions><dim name=\"d\" size=\"",
    "\"/></dimensions>",
    "<dim name=\"d\"/>",
    "<dimensions><dim name=\"d\"/></dimensions>",
    "size=\"",
    "size=\"1000000000\"",
    "size=\"100000\"",
    "<elem name=\"e\"/>",
    "<gf><xscale min=\"0\" max=\"1\"/><ypts>",
    "</ypts></gf>",
    "<ypts>",
    "<xpts>",
    "<non_negative/>",
    "<sim_specs>",
    "</sim_specs>",
    "<start>",
    "<stop>",
    "<dt>",
    "</dt>",
    "1e308",
    "-1",
    "0",
    "1e-300",
    "NaN",
    "<module name=\"m\">",
    "<connect to=\"a\" from=\"b\"/>",
    "<element subscript=\"",
    "isee:",
    "<model>",
    "</model>",
    "<variables>",
    "</variables>",
    "<?xml version=\"1.0\"?>",
];

const VENSIM_TOKENS: &[&str] = &[
    "\n",
    "~",
    "|",
    "\t~\t\n\t~\t\t|\n",
    ":",
    "=",
    "==",
    "(",
    ")",
    "[",
    "]",
    ",",
    "\\\n",
    "\"",
    "{UTF-8}\n",
    "d: d1, d2, d3\n~|\n",
    "d: (d1-d100000)\n~|\n",
    "(a1-a100000)",
    "(a1-a1000000000)",
    "e: (e1-e100000)\n~|\n",
    "x[d] = 1\n~|\n",
    "x[d,e] = 1\n~|\n",
    "INTEG(",
    "INTEG (",
    "A FUNCTION OF(",
    ":INTERPOLATE:",
    ":RAISING:",
    "->",
    "<->",
    "GET XLS DATA(",
    "TABULAR(",
    "([(0,0)-(1,1)],(0,0),(1,1))",
    "(0,0),(1,1)",
    "WITH LOOKUP(",
    "INITIAL TIME = ",
    "FINAL TIME = ",
    "TIME STEP = ",
    "SAVEPER = ",
    "1e308",
    "-1",
    "0",
    "1e-300",
    "\\\\\\---/// Sketch information",
    ":MACRO:",
    ":END OF MACRO:",
    "*******",
    ":SUPPLEMENTARY",
    "DELAY N(",
    "SMOOTH N(",
    "IF THEN ELSE(",
    "SUM(",
    "d!",
    "*",
];

const SCENARIO_TOKENS: &[&str] = &[
    "\n",
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "{",
    "}",
    ",",
    "#",
    "model = \"england\"\n",
    "model = \"models/sir.toml\"\n",
    "profile = \"england\"\n",
    "extends = \"x.toml\"\n",
    "runs = ",
    "seed = ",
    "start = ",
    "horizon = ",
    "dt = ",
    "[parameters]\n",
    "[uncertain]\n",
    "[[policies]]\n",
    "[policy]\n",
    "kind = \"step\"\n",
    "kind = \"ramp\"\n",
    "kind = \"series\"\n",
    "distribution = \"normal\"\n",
    "distribution = \"pert\"\n",
    "distribution = \"lognormal\"\n",
    "mean = ",
    "sd = ",
    "min = ",
    "max = ",
    "mode = ",
    "from = ",
    "to = ",
    "value = ",
    "year = ",
    "quantiles = [",
    "indicators = [",
    "scalars",
    "[compare]\n",
    "discount = ",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-1",
    "0",
    "2013",
    "2040",
    "1900",
    "9999999999",
    "18446744073709551616",
];

/// The shipped files a target's corpus is built from: models, scenarios,
/// the conformance suite and, beside the repository, `shared/test-models`.
#[derive(Clone, Debug, Default)]
pub struct Corpus {
    /// Each file's name and bytes, in a fixed order.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Corpus {
    /// The corpus of `target` found under `root` (the repository) and
    /// `root/../shared/test-models`: for the model readers every file with
    /// the reader's extensions; for scenarios `scenarios/*.toml`; for
    /// equations every equation of every native, XMILE and Vensim model
    /// that reads.
    pub fn load(target: Target, root: &Path) -> Corpus {
        let mut dirs = vec![
            root.join("models"),
            root.join("scenarios"),
            root.join("engine/tests"),
            root.join("tests"),
        ];
        if let Some(parent) = root.parent() {
            dirs.push(parent.join("shared/test-models"));
        }
        let mut paths = Vec::new();
        for dir in &dirs {
            walk(dir, &mut paths);
        }
        paths.sort();
        let has = |p: &PathBuf, exts: &[&str]| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e.to_ascii_lowercase().as_str()))
        };
        let read = |p: &PathBuf| std::fs::read(p).ok().map(|b| (p.display().to_string(), b));
        let files: Vec<(String, Vec<u8>)> = match target {
            // The native models, and every XMILE and Vensim model that
            // reads, written in the native format.
            Target::Native => paths
                .iter()
                .filter(|p| has(p, &["toml"]) && !p.starts_with(root.join("scenarios")))
                .filter_map(read)
                .chain(
                    paths
                        .iter()
                        .filter(|p| has(p, &["xmile", "stmx", "mdl"]))
                        .filter_map(|p| {
                            let model = carecascade::engine::format::load_model(p).ok()?;
                            Some((p.display().to_string(), native::write(&model).into_bytes()))
                        }),
                )
                .collect(),
            Target::Xmile => paths
                .iter()
                .filter(|p| has(p, &["xmile", "stmx", "itmx", "xml"]))
                .filter_map(read)
                .collect(),
            Target::Vensim => paths
                .iter()
                .filter(|p| has(p, &["mdl"]))
                .filter_map(read)
                .collect(),
            Target::Scenario => paths
                .iter()
                .filter(|p| has(p, &["toml"]) && p.starts_with(root.join("scenarios")))
                .filter_map(read)
                .collect(),
            Target::Equation => {
                let mut equations = std::collections::BTreeSet::new();
                for p in &paths {
                    if !has(p, &["toml", "xmile", "stmx", "mdl"]) {
                        continue;
                    }
                    let Ok(model) = carecascade::engine::format::load_model(p) else {
                        continue;
                    };
                    for v in model.variables() {
                        for e in v.equations() {
                            equations.insert(e.text().to_string());
                        }
                    }
                }
                equations
                    .into_iter()
                    .enumerate()
                    .map(|(i, e)| (format!("equation {i}"), e.into_bytes()))
                    .collect()
            }
        };
        Corpus { files }
    }
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, out),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
}

/// A small, fast generator (xorshift64*), seeded from the fuzzing seed
/// and the input's index so that an input can be made again from them.
pub struct Rng(u64);

impl Rng {
    /// The generator for input `index` of a campaign with `seed`.
    pub fn new(seed: u64, index: u64) -> Rng {
        // SplitMix64 of the pair, never zero.
        let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 for `n` = 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.bits() % n as u64) as usize
        }
    }
}

/// Input `index` of a campaign on `target` with `seed`: a corpus file
/// (or, for an empty corpus, nothing) changed by one to four mutations.
pub fn input(target: Target, corpus: &Corpus, seed: u64, index: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed, index);
    let mut data = if corpus.files.is_empty() {
        Vec::new()
    } else {
        corpus.files[rng.below(corpus.files.len())].1.clone()
    };
    let count = 1 + rng.below(4);
    for _ in 0..count {
        mutate(target, corpus, &mut rng, &mut data);
    }
    data
}

/// The most bytes an input may grow to.
const MAX_INPUT: usize = 1 << 20;

/// Changes `data` once, in one of several ways chosen by `rng`.
pub fn mutate(target: Target, corpus: &Corpus, rng: &mut Rng, data: &mut Vec<u8>) {
    let len = data.len();
    match rng.below(12) {
        // Flip a bit.
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        // Set a byte to an interesting or random value.
        1 if len > 0 => {
            let i = rng.below(len);
            const BYTES: &[u8] = b"\0\n\r\t \"'()[]{}<>=,;:~|!*-+/^.0123456789eE\\&#\xff\xc3";
            data[i] = if rng.below(2) == 0 {
                BYTES[rng.below(BYTES.len())]
            } else {
                rng.bits() as u8
            };
        }
        // Delete a range.
        2 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(64));
            data.drain(i..i + n);
        }
        // Duplicate a range in place.
        3 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(256));
            let chunk = data[i..i + n].to_vec();
            insert(data, rng.below(len + 1), &chunk);
        }
        // Splice in part of another corpus file.
        4 if !corpus.files.is_empty() => {
            let other = &corpus.files[rng.below(corpus.files.len())].1;
            if !other.is_empty() {
                let i = rng.below(other.len());
                let n = 1 + rng.below((other.len() - i).min(512));
                let at = rng.below(len + 1);
                if rng.below(2) == 0 {
                    data.truncate(at);
                }
                insert(data, at.min(data.len()), &other[i..i + n]);
            }
        }
        // Deep nesting: many opening parentheses, some closed.
        5 => {
            let n = [10, 100, 999, 1000, 1001, 5000][rng.below(6)];
            let (open, close) = match rng.below(4) {
                0 => ("(", ")"),
                1 => ("-", ""),
                2 => ("IF 1 THEN ", " ELSE 0"),
                _ => ("1^", ""),
            };
            let mut text = open.repeat(n);
            text.push('1');
            text.push_str(&close.repeat(if rng.below(3) == 0 { n / 2 } else { n }));
            insert(data, rng.below(len + 1), text.as_bytes());
        }
        // A huge or odd number.
        6 => {
            const NUMBERS: &[&str] = &[
                "1e308",
                "1e309",
                "-1e309",
                "1e-400",
                "5e-324",
                "0",
                "-0",
                "NaN",
                "inf",
                "4294967296",
                "18446744073709551616",
                "1000000000",
                "100000",
                "999999999999999999999999999999",
                "0x10",
                "1_000",
                ".",
                "1.",
                ".5e",
                "1e",
            ];
            let n = NUMBERS[rng.below(NUMBERS.len())];
            replace_number(data, rng, n.as_bytes());
        }
        // A long name.
        7 => {
            let n = [64, 1000, 10_000, 100_000][rng.below(4)];
            let name = "v".repeat(n);
            insert(data, rng.below(len + 1), name.as_bytes());
        }
        // A token of the target's language, maybe repeated.
        _ => {
            let tokens = target.tokens();
            let token = tokens[rng.below(tokens.len())];
            let times = if rng.below(8) == 0 {
                1 + rng.below(2000)
            } else {
                1
            };
            insert(data, rng.below(len + 1), token.repeat(times).as_bytes());
        }
    }
    data.truncate(MAX_INPUT);
}

/// Inserts `bytes` at `at`.
fn insert(data: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let at = at.min(data.len());
    data.splice(at..at, bytes.iter().copied());
}

/// Replaces a run of digits (or, with none, inserts) with `number`.
fn replace_number(data: &mut Vec<u8>, rng: &mut Rng, number: &[u8]) {
    let len = data.len();
    if len > 0 {
        let start = rng.below(len);
        if let Some(i) = (start..len).find(|&i| data[i].is_ascii_digit()) {
            let mut j = i;
            while j < len && (data[j].is_ascii_digit() || data[j] == b'.') {
                j += 1;
            }
            data.splice(i..j, number.iter().copied());
            return;
        }
    }
    insert(data, rng.below(len + 1), number);
}

/// What became of an input that did not crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The reader refused it with an error.
    Refused,
    /// It read, but compiling or preparing it gave an error.
    NotCompiled,
    /// It read, compiled and ran (or its run stopped with an error).
    Ran,
}

/// Runs one input through a target: read, compile, a bounded run, and for
/// models writing back and reading again. Panics on a bug (a reader that
/// panics, or a model written out that does not read back).
pub fn execute(target: Target, input: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(input);
    match target {
        Target::Equation => equation(&text),
        Target::Native => model(native::parse(&text, Some("fuzz.toml"))),
        Target::Xmile => model(xmile::parse(&text, Some("fuzz.xmile"))),
        Target::Vensim => model(vensim::parse(&text, Some("fuzz.mdl"))),
        Target::Scenario => scenario(&text),
    }
}

fn equation(text: &str) -> Outcome {
    let time = TimeSettings::new(0.0, 10.0, 0.25).expect("valid time settings");
    let built = Model::builder("fuzz")
        .time(time)
        .dimension("d", ["d1", "d2", "d3"])
        .add(Stock::new("s", 1.0).inflow("f"))
        .add(Flow::new("f", text))
        .add(Constant::new("a", 1.0))
        .add(Constant::new("b", 2.0))
        .add(Constant::new("arr", 1.0).dimensions(["d"]))
        .add(Lookup::new("tbl", [(0.0, 0.0), (1.0, 1.0), (2.0, 4.0)]))
        .build();
    model(built)
}

fn model(read: carecascade::engine::Result<Model>) -> Outcome {
    let Ok(model) = read else {
        return Outcome::Refused;
    };
    let outcome = simulate(&model);
    // What is written must read back, for a model that compiles (a reader
    // may refuse at once what another leaves to the compiler, such as a
    // function with the wrong number of arguments).
    if outcome == Outcome::NotCompiled {
        return outcome;
    }
    let written = native::write(&model);
    if let Err(e) = native::parse(&written, Some("again.toml")) {
        panic!("the native model written does not read back: {e}\n{written}");
    }
    let written = xmile::write(&model);
    if let Err(e) = xmile::parse(&written, Some("again.xmile")) {
        panic!("the XMILE written does not read back: {e}\n{written}");
    }
    outcome
}

/// Compiles a model and runs it for at most [`MAX_STEPS`] steps with
/// Euler and with RK4.
fn simulate(model: &Model) -> Outcome {
    let Ok(program) = Program::compile(model) else {
        return Outcome::NotCompiled;
    };
    let mut state = program.state();
    let time = *state.time();
    let time = if time.steps() > MAX_STEPS {
        match time.with_stop(time.start() + time.dt() * MAX_STEPS as f64) {
            Ok(t) => t,
            Err(_) => return Outcome::NotCompiled,
        }
    } else {
        time
    };
    for method in [
        carecascade::engine::Method::Euler,
        carecascade::engine::Method::Rk4,
    ] {
        state.set_time(time.with_method(method));
        let _ = state.run_observing(&mut |_, _| {});
    }
    Outcome::Ran
}

fn scenario(text: &str) -> Outcome {
    let library = carecascade::library();
    let Ok(scenario) = Scenario::parse_with(text, "fuzz.toml", &library) else {
        return Outcome::Refused;
    };
    // A scenario names its model relative to itself: read from the
    // repository's scenarios folder, as the shipped ones are.
    let mut scenario = scenario;
    scenario.set_base_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"));
    let Ok(scenario) = scenario.with_runs(2) else {
        return Outcome::NotCompiled;
    };
    let Ok(prepared) = scenario.prepare() else {
        return Outcome::NotCompiled;
    };
    // Run it only if that is quick: within MAX_STEPS steps, with the
    // scenario's step and periods (as a run sets them).
    let mut state = prepared.program().state();
    if prepared.configure(&mut state).is_err() {
        return Outcome::NotCompiled;
    }
    match prepared.periods().time_settings(state.time()) {
        Ok((time, _)) if time.steps() <= MAX_STEPS => {}
        _ => return Outcome::NotCompiled,
    }
    let _ = carecascade::engine::ensemble::run_scenarios(
        &[prepared],
        &carecascade::engine::ensemble::RunOptions::default(),
    );
    Outcome::Ran
}
