//! Every input the fuzzer found crashing or hanging a target, kept in
//! `fuzz/regressions/TARGET/`, now reads (or is refused with an error)
//! without panicking, aborting or hanging.

use carecascade_fuzz::{Target, execute};
use std::time::{Duration, Instant};

/// The stack the fuzzer's workers run inputs on.
const STACK: usize = 64 << 20;

#[test]
fn saved_crashes_no_longer_crash() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut count = 0;
    for target in Target::ALL {
        let Ok(entries) = std::fs::read_dir(root.join(target.name())) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            if file.extension().is_some_and(|e| e == "txt") {
                continue;
            }
            let bytes = std::fs::read(&file).unwrap();
            let name = file.display().to_string();
            let started = Instant::now();
            let outcome = std::thread::Builder::new()
                .stack_size(STACK)
                .spawn(move || execute(target, &bytes))
                .unwrap()
                .join()
                .unwrap_or_else(|_| panic!("{name} panicked"));
            let took = started.elapsed();
            // A debug build is slow: 10 s in a release build is far less.
            assert!(
                took < Duration::from_secs(20),
                "{}: {outcome:?} after {took:?}",
                file.display()
            );
            count += 1;
        }
    }
    assert!(count > 0, "no saved inputs in {}", root.display());
}

/// Every target has a corpus from the shipped files, and an input is a
/// function of the seed and its index (so that a supervisor can make again
/// the input a worker died on).
#[test]
fn every_target_has_a_corpus_and_inputs_can_be_made_again() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for target in Target::ALL {
        let corpus = carecascade_fuzz::Corpus::load(target, &root);
        assert!(
            corpus.files.len() >= 5,
            "{target:?}: {}",
            corpus.files.len()
        );
        for index in [0, 1, 12_345] {
            let a = carecascade_fuzz::input(target, &corpus, 7, index);
            let b = carecascade_fuzz::input(target, &corpus, 7, index);
            assert_eq!(a, b, "{target:?} input {index}");
        }
    }
}
