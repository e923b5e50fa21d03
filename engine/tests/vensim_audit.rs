//! No silent wrong numbers from Vensim: every function of Vensim's
//! reference (and the equation keywords) is put into a small model, and
//! carecascade must run it, say in a located warning what it read
//! differently, or refuse it with the line and column. Each one's expected
//! treatment is listed; one that changes treatment fails the test, so the
//! list (and `docs/for-vensim-and-stella-users.md`) stays honest.

use carecascade_engine::Program;
use carecascade_engine::format::vensim;

mod common;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Treatment {
    /// Compiled and run, without a warning.
    Read,
    /// Compiled, with a located warning naming it.
    Warned,
    /// A located error naming it.
    Refused,
}
use Treatment::*;

const CONTROL: &str =
    "INITIAL TIME = 0 ~~|\nFINAL TIME = 4 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = TIME STEP ~~|\n";

/// The equations every case may use: an input `x`, a lookup `tbl`, a
/// range `d` and an array `v`.
const BASE: &str = "x = 1 + Time ~~|\ntbl([(0,0)-(10,10)],(0,0),(10,10)) ~~|\n\
d: d1, d2, d3 ~~|\nv[d] = 3, 1, 2 ~~|\n";

/// Vensim's functions and keywords: the equations, the name a report must
/// mention, and the treatment.
const VENSIM: &[(&str, &str, Treatment)] = &[
    ("y = ABS(-x) ~~|", "ABS", Read),
    ("y = ACTIVE INITIAL(x, 1) ~~|", "ACTIVE INITIAL", Read),
    ("y = ARCCOS(0.5) + ARCSIN(0.5) + ARCTAN(1) ~~|", "ARC", Read),
    (
        "y = COS(x) + SIN(x) + TAN(x) + COSH(1) + SINH(1) + TANH(1) ~~|",
        "COS",
        Read,
    ),
    (
        "y = DELAY1(x, 6) + DELAY1I(x, 6, 0) + DELAY3(x, 6) + DELAY3I(x, 6, 0) ~~|",
        "DELAY",
        Read,
    ),
    // A delay time shorter than its stages x TIME STEP is warned about.
    ("y = DELAY3(x, 2) ~~|", "DELAY3", Warned),
    ("y = DELAY FIXED(x, 2, 0) ~~|", "DELAY FIXED", Read),
    ("y = DELAY N(x, 6, 0, 3) ~~|", "DELAY N", Read),
    (
        "y = DELAY CONVEYOR(x, 2, 0, 0, 0, 0) ~~|",
        "DELAY CONVEYOR",
        Refused,
    ),
    (
        "y = DELAY MATERIAL(x, 2, 0, 0) ~~|",
        "DELAY MATERIAL",
        Refused,
    ),
    ("y = ELMCOUNT(d) ~~|", "ELMCOUNT", Read),
    (
        "y = EXP(1) + LN(x) + LOG(8, 2) + SQRT(x) + POWER(x, 2) ~~|",
        "EXP",
        Read,
    ),
    ("y = FORECAST(x, 2, 1) ~~|", "FORECAST", Read),
    ("y = GAME(x) ~~|", "GAME", Read),
    ("y = GET TIME VALUE(0, 1, 0) ~~|", "GET TIME VALUE", Read),
    ("y = GET TIME VALUE(2, 0, 0) ~~|", "GET TIME VALUE", Refused),
    ("y = IF THEN ELSE(x > 2, 1, 0) ~~|", "IF THEN ELSE", Read),
    ("y = INITIAL(x) ~~|", "INITIAL", Read),
    ("y = INTEG(x, 0) ~~|", "INTEG", Read),
    (
        "y = INTEGER(x / 3) + MODULO(x, 3) + QUANTUM(x, 2) ~~|",
        "INTEGER",
        Read,
    ),
    ("y = MAX(x, 2) + MIN(x, 2) ~~|", "MAX", Read),
    (
        "y = PULSE(1, 2) + PULSE TRAIN(1, 1, 2, 10) + RAMP(1, 1, 3) + STEP(1, 2) ~~|",
        "PULSE",
        Read,
    ),
    (
        "y = RANDOM UNIFORM(0, 1, 1) + RANDOM NORMAL(0, 1, 0, 1, 1) + RANDOM 0 1() ~~|",
        "RANDOM",
        Read,
    ),
    (
        "y = RANDOM EXPONENTIAL(0, 9, 0, 1, 1) + RANDOM POISSON(0, 9, 1, 0, 1, 1) ~~|",
        "RANDOM",
        Read,
    ),
    (
        "y = RANDOM GAMMA(0, 9, 2, 0, 1, 1) + RANDOM BETA(0, 1, 2, 2, 0, 1, 1) ~~|",
        "RANDOM",
        Read,
    ),
    (
        "y = RANDOM BINOMIAL(0, 9, 0.5, 4, 0, 1, 1) + RANDOM WEIBULL(0, 9, 2, 0, 1, 1) ~~|",
        "RANDOM",
        Read,
    ),
    (
        "y = RANDOM TRIANGULAR(0, 9, 1, 2, 3, 1) + RANDOM PINK NOISE(0, 1, 2, 1) ~~|",
        "RANDOM",
        Read,
    ),
    (
        "y = RANDOM LOOKUP(tbl, 0, 10, 1) ~~|",
        "RANDOM LOOKUP",
        Refused,
    ),
    (
        "y = RANDOM NEGATIVE BINOMIAL(0, 9, 1, 0.5, 0, 1, 1) ~~|",
        "RANDOM NEGATIVE BINOMIAL",
        Refused,
    ),
    (
        "y = SAMPLE IF TRUE(x > 2, x, 0) ~~|",
        "SAMPLE IF TRUE",
        Read,
    ),
    (
        "y = SMOOTH(x, 2) + SMOOTHI(x, 2, 0) + SMOOTH3(x, 2) + SMOOTH3I(x, 2, 0) ~~|",
        "SMOOTH",
        Read,
    ),
    ("y = SMOOTH N(x, 2, 0, 3) ~~|", "SMOOTH N", Read),
    ("y = TREND(x, 2, 0) ~~|", "TREND", Read),
    ("y = XIDZ(x, 0, 1) + ZIDZ(x, 0) ~~|", "XIDZ", Read),
    ("y = tbl(x) + LOOKUP(tbl, x) ~~|", "LOOKUP", Read),
    (
        "y = WITH LOOKUP(x, ([(0,0)-(10,10)],(0,0),(10,10))) ~~|",
        "WITH LOOKUP",
        Read,
    ),
    (
        "y = SUM(v[d!]) + PROD(v[d!]) + VMIN(v[d!]) + VMAX(v[d!]) ~~|",
        "SUM",
        Read,
    ),
    (
        "y[d] = VECTOR RANK(v[d], 1) + VECTOR SORT ORDER(v[d], 1) ~~|",
        "VECTOR",
        Read,
    ),
    ("y = :NA: ~~|", ":NA:", Read),
    ("y = A FUNCTION OF(x) ~~|", "A FUNCTION OF", Refused),
    ("y = GET DATA MAX(x, 0, 4) ~~|", "GET DATA MAX", Refused),
    ("y = GET DATA MIN(x, 0, 4) ~~|", "GET DATA MIN", Refused),
    ("y = GET DATA MEAN(x, 0, 4) ~~|", "GET DATA MEAN", Refused),
    (
        "y = GET DATA TOTAL POINTS(x) ~~|",
        "GET DATA TOTAL POINTS",
        Refused,
    ),
    (
        "y = GET DATA BETWEEN TIMES(x, 1, 0) ~~|",
        "GET DATA BETWEEN TIMES",
        Refused,
    ),
    (
        "y = GET 123 DATA('f.wk1', 'a', 'b') ~~|",
        "GET 123 DATA",
        Refused,
    ),
    (
        "y = GET VDF DATA('f.vdf', 'x') ~~|",
        "GET VDF DATA",
        Refused,
    ),
    ("y = LOOKUP AREA(tbl, 0, 1) ~~|", "LOOKUP AREA", Read),
    ("y = LOOKUP BACKWARD(tbl, x) ~~|", "LOOKUP BACKWARD", Read),
    ("y = LOOKUP FORWARD(tbl, x) ~~|", "LOOKUP FORWARD", Read),
    (
        "y = LOOKUP EXTRAPOLATE(tbl, x) ~~|",
        "LOOKUP EXTRAPOLATE",
        Read,
    ),
    ("y = LOOKUP INVERT(tbl, x) ~~|", "LOOKUP INVERT", Read),
    ("y = NPV(x, 0.1, 0, 1) ~~|", "NPV", Read),
    ("y = NPVE(x, 0.1, 0, 1) ~~|", "NPVE", Refused),
    (
        "y = SHIFT IF TRUE(x, x > 2, 1, 1, 0) ~~|",
        "SHIFT IF TRUE",
        Refused,
    ),
    (
        "y = DEPRECIATE STRAIGHTLINE(x, 2, 1, 0) ~~|",
        "DEPRECIATE STRAIGHTLINE",
        Refused,
    ),
    (
        "y = FIND ZERO(x, x, 0, 1, 0.1, 10, 0) ~~|",
        "FIND ZERO",
        Refused,
    ),
    ("y = SIMULTANEOUS(x, 0) ~~|", "SIMULTANEOUS", Refused),
    (
        "y = VECTOR LOOKUP(v[d1], x, 0, 3, 0) ~~|",
        "VECTOR LOOKUP",
        Refused,
    ),
    ("y = TIME BASE(0, 1) ~~|", "TIME BASE", Refused),
    ("y = QUEUE FIFO(x, 1, 1, 0) ~~|", "QUEUE FIFO", Refused),
    ("y = GAMMA LN(x) ~~|", "GAMMA LN", Read),
    ("y = MESSAGE(1, 'a', 0) ~~|", "MESSAGE", Refused),
    (
        "y = x * GET XLS DATA('f.xlsx', 'a', 'b', 'c') ~~|",
        "GET XLS DATA",
        Refused,
    ),
    // Quotes in a comment or a quoted name are not text arguments.
    ("y = x {don't} + \"it's\" ~~|\n\"it's\" = 1 ~~|", "y", Read),
    (
        "y = x {a GET DATA MAX of 'x'} + \"my get data max\" ~~|\n\"my get data max\" = 1 ~~|",
        "y",
        Read,
    ),
    // A name that holds a refused function's words is a name.
    (
        "budget data = 2 ~~|\ny = budget data + x ~~|",
        "budget",
        Read,
    ),
    // Keywords.
    (
        "y = x ~~|\ncheck :THE CONDITION: x > 0 :IMPLIES: y > 0 ~~|",
        "THE CONDITION",
        Warned,
    ),
    (
        "y = x ~~|\nprobe :TEST INPUT: x = 2 ~~|",
        "TEST INPUT",
        Warned,
    ),
    ("y[d] :EXCEPT: [d1] = 1 ~~|\ny[d1] = 2 ~~|", "EXCEPT", Read),
    ("y == 2 ~~|", "==", Read),
    (
        ":MACRO: TWICE(a)\nTWICE = 2 * a ~~|\n:END OF MACRO:\ny = TWICE(x) ~~|",
        "MACRO",
        Read,
    ),
];

fn treatment(equations: &str, mention: &str) -> Result<Treatment, String> {
    let text = format!("{{UTF-8}}\n{BASE}{equations}\n{CONTROL}\\\\\\---/// Sketch\n");
    let compiled = vensim::parse(&text, Some("m.mdl"))
        .map_err(|e| e.to_string())
        .and_then(|m| Program::compile(&m).map_err(|e| e.to_string()));
    Ok(match common::classify(compiled, "m.mdl", mention)? {
        common::Seen::Read => Read,
        common::Seen::Warned => Warned,
        common::Seen::Refused => Refused,
    })
}

#[test]
fn every_vensim_function_is_run_or_reported() {
    let mut wrong = Vec::new();
    for &(equations, mention, expected) in VENSIM {
        match treatment(equations, mention) {
            Ok(seen) if seen == expected => {}
            Ok(seen) => wrong.push(format!("{equations}: expected {expected:?}, got {seen:?}")),
            Err(e) => wrong.push(format!("{equations}: {e}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_audit_tells_a_refusal_from_a_run() {
    // Deliberately wrong expectations are caught.
    assert_ne!(treatment("y = NPVE(x, 0.1, 0, 1) ~~|", "NPVE"), Ok(Read));
    assert_ne!(treatment("y = ABS(x) ~~|", "ABS"), Ok(Refused));
    // An error that does not name the function is not counted as its
    // refusal.
    assert!(treatment("y = NPVE(x, 0.1, 0, 1) ~~|", "SHIFT IF TRUE").is_err());
}
