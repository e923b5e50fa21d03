//! The bugs mutation fuzzing (`engine/tests/mutations.rs`) found, each
//! with the smallest input that showed it: every one now gives a located
//! error (or runs correctly) instead of crashing or misleading.

use carecascade_engine::format::{native, vensim, xmile};
use carecascade_engine::{Backend, Program};

/// The message of reading, compiling and running `model` (both back
/// ends, which must agree), or `None` if all of it succeeds.
fn error_of(model: carecascade_engine::Result<carecascade_engine::Model>) -> Option<String> {
    let model = match model {
        Ok(model) => model,
        Err(e) => return Some(e.to_string()),
    };
    let program = match Program::compile(&model) {
        Ok(program) => program,
        Err(e) => return Some(e.to_string()),
    };
    let mut outcomes = Vec::new();
    for backend in [Backend::Interpreter, Backend::Compiled] {
        let mut state = program.state();
        state.set_backend(backend);
        outcomes.push(state.run().map(|r| {
            let bits: Vec<u64> = r
                .times()
                .iter()
                .chain(r.values())
                .map(|v| v.to_bits())
                .collect();
            bits
        }));
    }
    let compiled = outcomes.pop().expect("two outcomes");
    let interpreted = outcomes.pop().expect("two outcomes");
    match (interpreted, compiled) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "the interpreter and the compiled code disagree");
            None
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string());
            Some(a.to_string())
        }
        (a, b) => panic!("one back end ran and the other did not: {a:?} against {b:?}"),
    }
}

const XMILE_HEAD: &str = r#"<xmile xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0" version="1.0"><header></header><sim_specs method="Euler" time_units="Months"><start>0</start><stop>4</stop><dt>1</dt></sim_specs><model><variables>"#;
const XMILE_TAIL: &str = "</variables></model></xmile>";

fn xmile_model(variables: &str) -> String {
    format!("{XMILE_HEAD}{variables}{XMILE_TAIL}")
}

/// `1e309` is infinity to Rust's number parser: an auxiliary written as
/// that number became a constant of infinity, which runs never check, and
/// every run returned inf (found as `<eqn>1e309</eqn>` in several XMILE
/// models, and as `FINAL TIME` and `INITIAL TIME` auxiliaries).
#[test]
fn a_number_too_large_for_a_float_is_refused_where_it_is_written() {
    let text = xmile_model(r#"<aux name="denominator"><eqn>1e309</eqn></aux>"#);
    let message = error_of(xmile::parse(&text, Some("big.xmile"))).expect("an error");
    assert!(message.contains("big.xmile:1:"), "{message}");
    assert!(
        message.contains("`1e309` is too large for a number"),
        "{message}"
    );
    assert!(message.contains("denominator"), "{message}");
    // In an equation, and negated, in the native format too.
    let text =
        "[model]\nname = \"m\"\n[time]\nstop = 2\n[auxiliaries.a]\nequation = \"2 * -1e400\"\n";
    let message = error_of(native::parse(text, Some("big.toml"))).expect("an error");
    assert!(message.contains("big.toml:6:"), "{message}");
    assert!(message.contains("too large"), "{message}");
    // In a Vensim TABBED ARRAY.
    let text = "d: a, b ~~|\nx[d] = TABBED ARRAY(1 1e309) ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\n";
    assert!(error_of(vensim::parse(text, Some("big.mdl"))).is_some());
    // The largest finite number is still a number.
    let text = xmile_model(r#"<aux name="big"><eqn>1.7e308</eqn></aux>"#);
    assert_eq!(error_of(xmile::parse(&text, Some("big.xmile"))), None);
}

/// A character of more than one byte just before a `(` made the Vensim
/// reader slice a string inside the character, and panic.
#[test]
fn a_wide_character_before_a_parenthesis_is_an_error_not_a_panic() {
    for text in [
        "tableARows=\u{1F600}('",
        "x = \u{e9}(1) ~~|\n",
        "x = a\u{1F600}(1) ~~|\n",
    ] {
        let message = error_of(vensim::parse(text, Some("wide.mdl"))).expect("an error");
        assert!(message.contains("wide.mdl:"), "{message}");
    }
}

/// Parentheses 20,000 deep around a variable's units overflowed the
/// stack (the unit parser recursed once a level).
#[test]
fn units_nested_deeply_do_not_overflow_the_stack() {
    let units = format!("{}Day{}", "(".repeat(20_000), ")".repeat(20_000));
    let text = format!(
        "x = 1\n~\t{units}\n~\t|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\n"
    );
    let model = vensim::parse(&text, Some("units.mdl"));
    // Units are checked by the compiler, with a warning for units it
    // cannot read; either way, no crash.
    let _ = error_of(model);
}

/// A lookup without an input named with subscripts (`l[d]`, not called)
/// compiled to a copy from a slot that does not exist, and the program's
/// check panicked; written without subscripts it was already an error.
#[test]
fn an_arrayed_lookup_used_as_a_value_is_an_error() {
    let text = "[model]\nname = \"m\"\n[time]\nstop = 2\n[dimensions]\nd = [\"a\"]\n[lookups.l]\npoints = [[0, 0], [1, 1]]\ndimensions = [\"d\"]\n[auxiliaries.x]\nequation = \"l[d]\"\ndimensions = [\"d\"]\n";
    let message = error_of(native::parse(text, Some("lookup.toml"))).expect("an error");
    assert!(message.contains("lookup.toml:11:"), "{message}");
    assert!(
        message.contains("`l` is a lookup: call it with an input"),
        "{message}"
    );
    // Called, it is fine.
    let called = text.replace("\"l[d]\"", "\"l[d](0.5)\"");
    assert_eq!(error_of(native::parse(&called, Some("lookup.toml"))), None);
}

/// A start time of `-0` was -0 in the interpreter's first row and 0 in
/// the compiled code's: the two back ends disagreed in the sign bit.
#[test]
fn a_start_time_of_minus_zero_is_zero_in_both_back_ends() {
    let text = xmile_model(r#"<aux name="test sin"><eqn>PI()</eqn></aux>"#)
        .replace("<start>0</start>", "<start>-0</start>");
    assert_eq!(error_of(xmile::parse(&text, Some("zero.xmile"))), None);
    let model = xmile::parse(&text, Some("zero.xmile")).expect("a model");
    assert_eq!(model.time().start().to_bits(), 0.0f64.to_bits());
}

/// The same lookup summed or handed to a vector function.
#[test]
fn an_arrayed_lookup_summed_is_an_error() {
    for equation in ["SUM(l[d!])", "VECTOR SORT ORDER(l[d!], 1)"] {
        let text = format!(
            "[model]\nname = \"m\"\n[time]\nstop = 2\n[dimensions]\nd = [\"a\"]\n[lookups.l]\npoints = [[0, 0], [1, 1]]\ndimensions = [\"d\"]\n[auxiliaries.x]\nequation = \"{equation}\"\ndimensions = [\"d\"]\n"
        );
        let message = error_of(native::parse(&text, Some("lookup.toml"))).expect("an error");
        assert!(message.contains("lookup.toml:11:"), "{message}");
        assert!(message.contains("`l` is a lookup"), "{message}");
    }
}
