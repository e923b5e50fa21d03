//! docs/model.md's "What the scenarios draw" section is what the baseline
//! scenario draws: every uncertain parameter with its distribution and the
//! source or assumption the scenario file states for it. A parameter
//! drawn without a stated source or assumption fails the test.
//!
//! `CARECASCADE_REPIN=1 cargo test --test model_doc` rewrites the section
//! (then `git diff docs/model.md` shows what changed).

use carecascade::engine::scenario::Scenario;
use std::path::Path;

const BEGIN: &str = "<!-- drawn: generated from scenarios/baseline.toml by tests/model_doc.rs; do not edit below -->";
const END: &str = "<!-- end of drawn -->";

fn root(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// For each `[uncertain."name"]` of `text`: the comments inside its table
/// and the comment block last written above it (which may introduce
/// several tables), joined.
fn comments(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut block: Vec<String> = Vec::new();
    let mut block_done = false;
    let mut current: Option<(String, Vec<String>)> = None;
    let mut finish = |current: &mut Option<(String, Vec<String>)>, block: &[String]| {
        if let Some((name, inline)) = current.take() {
            let mut all = block.join(" ");
            for c in inline {
                if !all.is_empty() {
                    all.push(' ');
                }
                all.push_str(&c);
            }
            out.push((name, all));
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(comment) = trimmed.strip_prefix('#') {
            if block_done {
                // A new block: the table before it is complete.
                finish(&mut current, &block);
                block.clear();
                block_done = false;
            }
            block.push(comment.trim().to_string());
            continue;
        }
        if trimmed.starts_with('[') {
            finish(&mut current, &block);
            block_done = true;
            if let Some(name) = trimmed
                .strip_prefix("[uncertain.\"")
                .and_then(|s| s.strip_suffix("\"]"))
            {
                current = Some((name.to_string(), Vec::new()));
            }
            continue;
        }
        if let (Some((_, inline)), Some((_, comment))) = (current.as_mut(), trimmed.split_once('#'))
        {
            inline.push(comment.trim().to_string());
        }
    }
    finish(&mut current, &block);
    out
}

fn section() -> String {
    let path = root("scenarios/baseline.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let scenario = Scenario::load_with(&path, &carecascade::library()).unwrap();
    let notes = comments(&text);
    let mut s = format!(
        "{BEGIN}\n\n## What the scenarios draw\n\nThe baseline scenario (`scenarios/baseline.toml`, which every other shipped scenario extends) draws these parameters, one value per run, besides the calibrated rates (drawn jointly from `models/england.posterior.csv`). Each with its distribution and the source or assumption the scenario states for its range; money at 2022-23 prices.\n\n| parameter | distribution | source or assumption |\n|---|---|---|\n"
    );
    for (name, distribution) in scenario.uncertain() {
        let note = notes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.as_str())
            .unwrap_or("");
        assert!(
            !note.is_empty(),
            "`{name}` is drawn by scenarios/baseline.toml with no comment stating its source or that it is an assumption"
        );
        s.push_str(&format!("| `{name}` | {distribution} | {note} |\n"));
    }
    s.push('\n');
    s.push_str(END);
    s
}

#[test]
fn docs_model_lists_what_the_scenarios_draw() {
    let doc_path = root("docs/model.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let wanted = section();
    let current = match (doc.find(BEGIN), doc.find(END)) {
        (Some(a), Some(b)) if b > a => Some((a, b + END.len())),
        _ => None,
    };
    if std::env::var_os("CARECASCADE_REPIN").is_some() {
        let new = match current {
            Some((a, b)) => format!("{}{wanted}{}", &doc[..a], &doc[b..]),
            None => format!("{}\n{wanted}\n", doc.trim_end()),
        };
        std::fs::write(&doc_path, new).unwrap();
        return;
    }
    let (a, b) = current.expect("docs/model.md has the drawn section's markers");
    assert_eq!(
        &doc[a..b],
        wanted,
        "docs/model.md's 'What the scenarios draw' is out of date: run `CARECASCADE_REPIN=1 cargo test --test model_doc`"
    );
}

#[test]
fn a_comment_is_found_for_each_table_and_inline() {
    let text = "# block for a and b\n[uncertain.\"a\"]\nx = 1 # inline a\n[uncertain.\"b\"]\nx = 2\n# own c\n[uncertain.\"c\"]\n[uncertain.\"d\"]\n# after\n[other]\n";
    let c = comments(text);
    assert_eq!(
        c,
        [
            ("a".to_string(), "block for a and b inline a".to_string()),
            ("b".to_string(), "block for a and b".to_string()),
            ("c".to_string(), "own c".to_string()),
            ("d".to_string(), "own c".to_string()),
        ]
    );
}
