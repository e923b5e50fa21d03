//! docs/validation.md's "Evaluations reproduced" section is what
//! `carecascade evaluate` makes from the model and the baseline scenario as
//! they are now: a changed model, scenario or evaluation means rerunning
//! `cargo run --release -- evaluate --update docs/validation.md`.

use carecascade::evaluations::{Settings, Verdict, evaluate, section_of, uncertain_of};

fn path(p: &str) -> String {
    format!("{}/{p}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn docs_validation_has_the_evaluations_as_the_model_makes_them() {
    let uncertain = uncertain_of(path("scenarios/baseline.toml")).unwrap();
    let evaluations = evaluate(&carecascade::england(), &uncertain, &Settings::default()).unwrap();
    let made = evaluations.to_markdown();
    let committed = std::fs::read_to_string(path("docs/validation.md")).unwrap();
    let section = section_of(&committed).expect("docs/validation.md has the evaluations' markers");
    assert_eq!(
        section,
        made.trim_end(),
        "docs/validation.md's evaluations are out of date: run `cargo run --release -- evaluate --update docs/validation.md`"
    );
    // Every evaluation in MODEL.md's evidence table has a row and a verdict
    // that says why when it is not reproduced.
    for name in [
        "Supporting Families",
        "Family Safeguarding",
        "Sure Start",
        "Bennett et al. 2022 (prevention spend)",
        "Webb 2021",
        "(unemployment)",
        "(child poverty)",
    ] {
        assert!(
            evaluations
                .checks
                .iter()
                .any(|c| c.evaluation.contains(name)),
            "{name}"
        );
    }
    for c in &evaluations.checks {
        assert!(
            c.verdict == Verdict::Reproduced || !c.why.is_empty(),
            "{} {}: no reason",
            c.evaluation,
            c.measure
        );
        assert_eq!(c.model.is_none(), c.verdict == Verdict::CannotExpress);
    }
}
