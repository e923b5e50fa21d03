//! Tests of the compiled back end that need its internals: a wrong
//! translation is caught by comparing with the interpreter, and an
//! operation the compiler refuses makes the program run interpreted with
//! the reason.

use super::{Options, compile};
use crate::build::{Constant, Flow, Lookup, Stock};
use crate::program::ops::Op;
use crate::sim::Backend;
use crate::{Model, Program, Results};
use std::sync::Arc;

fn sir() -> Program {
    let model = Model::builder("sir")
        .add(Stock::new("susceptible", "990").outflow("infection"))
        .add(
            Stock::new("infected", "10")
                .inflow("infection")
                .outflow("recovery"),
        )
        .add(Stock::new("recovered", "0").inflow("recovery"))
        .add(Flow::new(
            "infection",
            "contact_rate * effect(TIME) * susceptible * infected / 1000",
        ))
        .add(Flow::new("recovery", "infected / duration"))
        .add(Lookup::new("effect", [(0.0, 1.0), (50.0, 0.5)]))
        .add(Constant::new("contact_rate", 0.3))
        .add(Constant::new("duration", 5.0))
        .build()
        .unwrap();
    Program::compile(&model).unwrap()
}

fn bits(results: &Results) -> Vec<u64> {
    results.values().iter().map(|v| v.to_bits()).collect()
}

fn interpreted(program: &Program) -> Results {
    let mut state = program.state();
    state.set_backend(Backend::Interpreter);
    state.run().unwrap()
}

#[test]
fn the_compiled_code_agrees_and_a_wrong_translation_would_not() {
    let program = sir();
    let reference = bits(&interpreted(&program));

    let right = Arc::new(compile(&program, 1, &Options::default()).unwrap());
    assert!(right.has_advance(), "the Euler loop is compiled");
    let eight = compile(&program, 8, &Options::default()).unwrap();
    assert!(eight.has_advance(), "and for lanes of 8");
    let mut state = program.state();
    state.use_kernels(right);
    assert!(bits(&state.run().unwrap()) == reference);

    // `a * b` compiled one unit in the last place off: far below any
    // tolerance, but not the same bits, and the comparison sees it.
    let sabotage = Options {
        sabotage: true,
        ..Options::default()
    };
    let wrong = Arc::new(compile(&program, 1, &sabotage).unwrap());
    let mut state = program.state();
    state.use_kernels(wrong);
    assert!(bits(&state.run().unwrap()) != reference);
}

#[test]
fn an_operation_the_compiler_does_not_know_falls_back_with_the_reason() {
    let program = sir();
    let refuse_lookups = Options {
        refuse: Some(|op| matches!(op, Op::Lookup { .. })),
        ..Options::default()
    };
    let fallback = compile(&program, 1, &refuse_lookups).unwrap_err();
    assert!(fallback.reason().contains("Lookup"), "{fallback}");

    program.jit.insert(1, Err(fallback.clone()));
    assert_eq!(program.native_code(), Err(fallback.clone()));
    let mut state = program.state();
    state.set_backend(Backend::Compiled);
    let results = state.run().unwrap();
    assert_eq!(state.fallback(), Some(&fallback));
    assert!(bits(&results) == bits(&interpreted(&program)));
    // The interpreter asked for is no fallback.
    state.set_backend(Backend::Interpreter);
    state.run().unwrap();
    assert_eq!(state.fallback(), None);
}
