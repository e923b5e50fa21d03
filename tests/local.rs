//! Local models: the England model fitted to one authority starts from the
//! authority's own published figures and reproduces its recent history.

use carecascade::engine::format::{native, save_model};
use carecascade::{local, project};
use std::process::Command;

#[test]
fn a_local_model_starts_from_the_authority_and_fits_its_figures() {
    let leeds = local::localise(&carecascade::england(), "Leeds", 2021).unwrap();
    assert_eq!(
        (leeds.code.as_str(), leeds.name.as_str()),
        ("E08000035", "Leeds")
    );
    // About 170,000 of England's 12 million children.
    assert!(
        (0.012..0.017).contains(&leeds.population_share),
        "{}",
        leeds.population_share
    );

    let published = carecascade::data::Observed::local_authority("E08000035").unwrap();
    let p = project::project(&leeds.model, 2021, 2).unwrap();
    for column in ["cin_at_31_march", "cpp_at_31_march", "cla_at_31_march"] {
        let start = p.get(column, 2021).unwrap();
        let expected = published.series(column).unwrap().get(2021).unwrap();
        assert!(
            (start - expected).abs() <= 1e-6 * expected,
            "{column}: starts at {start}, published {expected}"
        );
    }
    // Leeds is a large authority: its stocks are fitted closely.
    for column in ["cin_at_31_march", "cpp_at_31_march", "cla_at_31_march"] {
        let error = leeds.fit.mape[column];
        assert!(error < 10.0, "{column}: {error:.1}%");
    }
    // The fitted rates are the local model's constants, and say where they
    // come from.
    let scale = leeds.model.variable("local referral scale").unwrap();
    assert!(
        scale.doc().contains("Calibrated to Leeds (E08000035)"),
        "{}",
        scale.doc()
    );
    assert_ne!(leeds.fit.values["local referral scale"], 1.0);

    // Saved and read back, it projects the same.
    let text = native::write(&leeds.model);
    let again = native::parse(&text, Some("leeds.toml")).unwrap();
    assert_eq!(project::project(&again, 2021, 2).unwrap(), p);
}

#[test]
fn local_model_mistakes_are_explained() {
    let england = carecascade::england();
    let err = local::localise(&england, "Leds", 2021)
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean `Leeds`"), "{err}");
    let err = local::localise(&england, "Leeds", 2019)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("children looked after") && err.contains("2021 or later"),
        "{err}"
    );
    let err = local::localise(&england, "Leeds", 2023)
        .unwrap_err()
        .to_string();
    assert!(err.contains("start from an earlier year"), "{err}");
}

#[test]
fn carecascade_localise_writes_a_model_a_scenario_can_use() {
    let dir = std::env::temp_dir().join(format!("carecascade-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("rutland.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_carecascade"))
        .args(["localise", "england", "--area", "E06000017", "--output"])
        .arg(&model)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Rutland (E06000017)"), "{stdout}");
    assert!(
        stdout.contains("small numbers"),
        "a small authority is flagged: {stdout}"
    );
    let loaded = carecascade::engine::format::load_model(&model).unwrap();
    save_model(&loaded, dir.join("again.toml")).unwrap();
    // A scenario on the local model, with the England profile's indicators.
    let scenario = carecascade::engine::scenario::Scenario::parse_with(
        &format!(
            "model = {:?}\nprofile = \"england\"\n[time]\nstart = 2023\nhorizon = 2\n[monte_carlo]\nruns = 3\n",
            model.display().to_string()
        ),
        "rutland.toml",
        &carecascade::library(),
    )
    .unwrap();
    let prepared = [scenario.prepare().unwrap()];
    let outcome = carecascade::engine::ensemble::run_scenarios(
        &prepared,
        &carecascade::engine::ensemble::RunOptions::default(),
    )
    .unwrap();
    assert_eq!(outcome.ensembles[0].runs.len(), 3);
    let cla = outcome
        .quantile("rutland", "cla_at_31_march", 2025, 0.5)
        .unwrap();
    assert!(cla > 10.0 && cla < 500.0, "{cla}");
    // The report shows the fit of the local model to Rutland's figures,
    // not England's.
    let html = carecascade::report::report(&outcome, &prepared).unwrap();
    assert!(
        html.contains("The local model of E06000017 (Rutland)"),
        "local fit"
    );
    assert!(html.contains("social care in E06000017 (Rutland)"));
    assert!(!html.contains("The calibrated England model"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every current authority's start figures are found (published or
/// filled), on the data side alone: cheap, so all of them.
#[test]
fn every_current_authority_has_start_figures() {
    use carecascade::data::{BOUNDARY_CHANGES, LocalAuthorities};
    let table = LocalAuthorities::load().unwrap();
    let current = table.current();
    // 154 codes publish for 2023; North Yorkshire and Somerset publish
    // under two codes each (county and unitary).
    assert_eq!(table.latest_year(), 2023);
    assert_eq!(current.len(), 152);
    let all = table.list();
    assert_eq!(all.len(), 163);
    let mut by_kind: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut filled_authorities = Vec::new();
    for authority in current {
        let start = local::start_figures(&table, &authority.code, 2021).unwrap();
        assert_eq!(start.values.len(), local::START_SERIES.len());
        for (column, value) in &start.values {
            assert!(
                value.is_finite() && *value >= 0.0,
                "{} {column}: {value}",
                authority.name
            );
        }
        // Every value that is not the authority's own published figure is
        // warned about, naming the authority, series and year.
        let published = table.series_of(&authority.clone()).unwrap();
        for (column, value) in &start.values {
            let own = published.series(column).unwrap().get(2021);
            match start.warning(column) {
                None => assert_eq!(own, Some(*value), "{} {column}", authority.name),
                Some(w) => {
                    assert_eq!((w.year, w.value), (2021, *value));
                    let text = w.to_string();
                    assert!(
                        text.contains(&authority.name)
                            && text.contains(&authority.code)
                            && text.contains(column.as_str())
                            && text.contains("31 March 2021"),
                        "{text}"
                    );
                    *by_kind.entry(w.filled.kind()).or_default() += 1;
                }
            }
        }
        if !start.warnings.is_empty() {
            filled_authorities.push(authority.name.as_str());
        }
    }
    // Predecessors are not current; every code of the file is a current
    // authority, one of its earlier codes, or in the table of boundary
    // changes.
    for (code, name, _) in &all {
        let known = current
            .iter()
            .any(|a| a.code == *code || a.earlier_codes.contains(code))
            || BOUNDARY_CHANGES.iter().any(|b| {
                b.predecessors
                    .iter()
                    .chain(b.successors)
                    .any(|(c, _)| c == code)
            });
        assert!(known, "{name} ({code}) is in no list");
    }
    for gone in [
        "E10000021",
        "E06000028",
        "E06000029",
        "E10000009",
        "E10000002",
    ] {
        assert!(!current.iter().any(|a| a.code == gone), "{gone}");
    }
    let kinds: Vec<(&str, usize)> = by_kind.into_iter().collect();
    assert_eq!(
        kinds,
        vec![
            ("England rate", 1),
            ("earlier code", 8),
            ("interpolated", 8),
            ("nearest year", 1),
            ("split", 10),
        ],
        "{filled_authorities:?}"
    );
    assert_eq!(filled_authorities.len(), 10, "{filled_authorities:?}");
}

/// Each kind of gap gives its own warning, with the right figure.
#[test]
fn missing_start_figures_are_filled_as_stated() {
    use carecascade::data::LocalAuthorities;
    use carecascade::local::Filled;
    let table = LocalAuthorities::load().unwrap();
    let start = |area: &str| local::start_figures(&table, area, 2021).unwrap();
    let published = |code: &str, column: &str, year: i32| {
        carecascade::data::Observed::local_authority(code)
            .unwrap()
            .series(column)
            .unwrap()
            .get(year)
    };

    // Suppressed: Hackney's children in need for 2021 and 2022, between
    // its published 2020 and 2023 (not 2022's missing cell, not 2019).
    let hackney = start("Hackney");
    let w = hackney.warning("cin_at_31_march").unwrap();
    let (v2020, v2023) = (
        published("E09000012", "cin_at_31_march", 2020).unwrap(),
        published("E09000012", "cin_at_31_march", 2023).unwrap(),
    );
    assert_eq!(
        w.filled,
        Filled::Interpolated {
            before: (2020, v2020),
            after: (2023, v2023)
        }
    );
    assert!((w.value - (v2020 + (v2023 - v2020) / 3.0)).abs() < 1e-9);
    assert!(w.to_string().contains("linear between 2020"), "{w}");
    // Published cells are not touched.
    assert!(hackney.warning("cla_at_31_march").is_none());

    // Blackburn with Darwen's, Northumberland's and Swindon's children
    // awaiting assessment: between 2020 and 2022.
    for code in ["E06000008", "E06000057", "E06000030"] {
        let s = start(code);
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        let w = &s.warnings[0];
        assert_eq!(w.series, "cin_awaiting_assessment");
        let (a, b) = (
            published(code, "cin_awaiting_assessment", 2020).unwrap(),
            published(code, "cin_awaiting_assessment", 2022).unwrap(),
        );
        assert!((w.value - (a + b) / 2.0).abs() < 1e-9, "{w}");
    }

    // Never published: Isles of Scilly's children looked after, at
    // England's rate per child times its children.
    let scilly = start("Isles of Scilly");
    let w = scilly.warning("cla_at_31_march").unwrap();
    let england = carecascade::data::Observed::england().unwrap();
    let rate = england
        .series("cla_at_31_march")
        .unwrap()
        .get(2021)
        .unwrap()
        / england
            .series("population_0_17")
            .unwrap()
            .get(2021)
            .unwrap();
    let children = published("E06000053", "population_0_17", 2021).unwrap();
    assert!((w.value - rate * children).abs() < 1e-9, "{w}");
    assert!(matches!(w.filled, Filled::EnglandRate { .. }));
    // Its awaiting assessment: published before 2021 only, so the nearest.
    assert_eq!(
        scilly.warning("cin_awaiting_assessment").unwrap().filled,
        Filled::Nearest { year: 2019 }
    );

    // New authorities: North Northamptonshire began in 2021 (first figures
    // 2022): Northamptonshire's 2021 figure times its share of the two
    // successors' figures in 2022-2023 together; the two shares add up to
    // the whole.
    let north = start("North Northamptonshire");
    let west = start("E06000062");
    for column in ["population_0_17", "cla_at_31_march", "cin_at_31_march"] {
        let whole = published("E10000021", column, 2021).unwrap();
        let (n, w) = (
            north.warning(column).unwrap(),
            west.warning(column).unwrap(),
        );
        assert!((n.value + w.value - whole).abs() < 1e-6, "{n} / {w}");
        let both = |code: &str| {
            published(code, column, 2022).unwrap() + published(code, column, 2023).unwrap()
        };
        let share = both("E06000061") / (both("E06000061") + both("E06000062"));
        assert!((n.value - whole * share).abs() < 1e-6, "{n}");
        assert!(
            n.to_string().contains("Northamptonshire (E10000021)"),
            "{n}"
        );
    }

    // A code change: North Yorkshire's unitary code publishes its children
    // looked after; the rest is under the county code (the same area).
    let york = start("North Yorkshire");
    assert_eq!(york.authority.code, "E06000065");
    assert_eq!(york.authority.earlier_codes, vec!["E10000023".to_string()]);
    assert!(york.warning("cla_at_31_march").is_none());
    let w = york.warning("population_0_17").unwrap();
    assert_eq!(
        w.filled,
        Filled::EarlierCode {
            code: "E10000023".into()
        }
    );
    assert_eq!(
        Some(w.value),
        published("E10000023", "population_0_17", 2021)
    );
    // The county code names the same authority.
    assert_eq!(start("E10000023").authority.code, "E06000065");
    // A large authority that published everything: no warnings.
    assert!(start("Leeds").warnings.is_empty());
}

#[test]
fn predecessors_are_not_current_authorities() {
    let err = |areas: &[&str]| {
        local::authorities(&areas.iter().map(|a| a.to_string()).collect::<Vec<_>>())
            .unwrap_err()
            .to_string()
    };
    let e = err(&["Northamptonshire"]);
    assert!(
        e.contains("not a current authority")
            && e.contains("North Northamptonshire (E06000061)")
            && e.contains("West Northamptonshire (E06000062)"),
        "{e}"
    );
    let e = err(&["E06000028"]);
    assert!(e.contains("Bournemouth, Christchurch and Poole"), "{e}");
    let e = err(&["Cumberland"]);
    assert!(
        e.contains("no published figures") && e.contains("Cumbria (E10000006)"),
        "{e}"
    );
    // A name shared by an old and a new code is the current authority.
    let named =
        local::authorities(&["Dorset".into(), "Gateshead".into(), "Somerset".into()]).unwrap();
    let codes: Vec<&str> = named.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, vec!["E06000059", "E08000037", "E06000066"]);
    let all = local::authorities(&["all".into()]).unwrap();
    assert_eq!(all.len(), 152);
}

/// Localising an authority with gaps of several kinds (Isles of Scilly:
/// children looked after never published, awaiting assessment from the
/// nearest year, children on plans 0 or suppressed in the fitted years)
/// makes a local model that starts from the filled figures and projects.
/// (The unit tests of `local` check the unfitted models of every kind of
/// gap; localising all 152 takes minutes: see
/// `every_current_authority_localises`, ignored.)
#[test]
fn an_authority_with_gaps_localises_and_projects() {
    let scilly = local::localise(&carecascade::england(), "Isles of Scilly", 2021).unwrap();
    // Its rates of protection and care are not told by its figures (no
    // children looked after, plans 0 or suppressed): England's are kept,
    // and say so.
    assert_eq!(
        scilly.unfitted_parameters,
        vec![
            "local protection scale",
            "local care scale",
            "cp exit rate",
            "care exit scale"
        ]
    );
    let care = scilly.model.variable("local care scale").unwrap().doc();
    assert!(care.contains("England's value kept"), "{care}");
    assert!(!scilly.fit.values.contains_key("local care scale"));
    let kinds: Vec<&str> = scilly.warnings.iter().map(|w| w.filled.kind()).collect();
    assert_eq!(kinds, vec!["England rate", "nearest year"]);
    let cla = &scilly.warnings[0];
    let doc = scilly.model.variable("observed cla").unwrap().doc();
    assert!(doc.contains(&cla.to_string()), "{doc}");
    let p = project::project(&scilly.model, 2021, 2).unwrap();
    let started = p.get("cla_at_31_march", 2021).unwrap();
    assert!((started - cla.value).abs() < 1e-6, "{started} vs {cla}");
    for c in ["cin_at_31_march", "cpp_at_31_march", "cla_at_31_march"] {
        let v = p.get(c, 2023).unwrap();
        assert!(v.is_finite() && v >= 0.0, "{c} 2023: {v}");
    }
}

/// Every current authority localises and projects (0 failures). Minutes
/// in release: `cargo test --release --test local -- --ignored`.
#[test]
#[ignore]
fn every_current_authority_localises() {
    let england = carecascade::england();
    let authorities = local::authorities(&["all".into()]).unwrap();
    let mut failures = Vec::new();
    let mut warnings = 0;
    for (code, name) in &authorities {
        match local::localise(&england, code, 2021)
            .and_then(|l| project::project(&l.model, 2021, 2).map(|p| (l, p)))
        {
            Ok((l, p)) => {
                warnings += l.warnings.len();
                let v = p.get("cla_at_31_march", 2023).unwrap();
                if !(v.is_finite() && v >= 0.0) {
                    failures.push(format!("{name} ({code}): cla 2023 {v}"));
                }
            }
            Err(e) => failures.push(format!("{name} ({code}): {e}")),
        }
    }
    eprintln!(
        "{} authorities localised, {} failed, {warnings} figures filled",
        authorities.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(authorities.len(), 152);
    assert_eq!(warnings, 28);
}
