//! What a council sees (`carecascade report --area`): each authority's
//! page shows its own published figures and the ranking's statistics are
//! those of each authority's own ensemble, in order.

use carecascade::council::{self, Order, Output, Settings};
use carecascade::data::LocalAuthorities;
use carecascade::engine::chart::thousands;
use carecascade::engine::ensemble::{RunOptions, Stats, run_scenarios};
use carecascade::engine::scenario::Scenario;
use carecascade::submission::Submission;
use std::process::Command;

const BANDS: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// A base and an alternative on the England model (localised per
/// authority), short and with uncertainty so that intervals have width.
fn scenario_texts(runs: usize) -> (String, String) {
    let base = format!(
        "model = \"england\"\nprofile = \"england\"\n[scenario]\nname = \"base\"\nsources = [\"Test source\"]\n[time]\nstart = 2023\nhorizon = 3\n[monte_carlo]\nruns = {runs}\nseed = 7\n[uncertain.\"detection fraction\"]\ndistribution = \"uniform\"\nmin = 0\nmax = 0.08\n[uncertain.\"caseload effect strength\"]\ndistribution = \"uniform\"\nmin = 0\nmax = 1.5\n"
    );
    let alt = format!(
        "{}[parameters]\n\"kinship shift\" = 0.3\n\"extra prevention spend\" = 2\n",
        base.replace("name = \"base\"", "name = \"kin\"")
    );
    (base, alt)
}

fn scenarios(runs: usize) -> Vec<Scenario> {
    let (base, alt) = scenario_texts(runs);
    let library = carecascade::library();
    vec![
        Scenario::parse_with(&base, "base.toml", &library).unwrap(),
        Scenario::parse_with(&alt, "kin.toml", &library).unwrap(),
    ]
}

fn areas(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// The latest published 0-17 population of an authority.
fn children(code: &str) -> f64 {
    LocalAuthorities::load()
        .unwrap()
        .get(code)
        .unwrap()
        .series("population_0_17")
        .unwrap()
        .observed()
        .last()
        .unwrap()
        .1
}

/// The ranking holds, for each authority, the statistics of its own
/// ensemble (recomputed here another way: paired differences by year from
/// the outcome's query API), in order of the median; each page shows the
/// same median, the authority's own published figures by year, its filled
/// start figures, and links only to pages of the set.
#[test]
fn rankings_are_each_authoritys_own_statistics_in_order() {
    let submission = Submission::new(scenarios(12), true, &areas(&["Rutland", "Hackney"])).unwrap();
    let rank_by = Output::named("entries_avoided_per_10k", true).unwrap();
    let made = council::run(
        &submission,
        &Settings {
            rank_by,
            order: Order::HighFirst,
        },
        &|| {},
    )
    .unwrap();
    assert!(made.failures.is_empty(), "{:?}", made.failures);
    assert_eq!(made.rankings.len(), 1);
    let ranking = &made.rankings[0];
    assert_eq!(ranking.subject, "kin minus base");
    assert_eq!(ranking.rows.len(), 2);
    let medians: Vec<f64> = ranking.rows.iter().map(|r| r.stats.quantiles[2]).collect();
    assert!(medians[0] >= medians[1], "highest first: {medians:?}");

    let table = LocalAuthorities::load().unwrap();
    for (a, (code, name)) in submission.authorities().iter().enumerate() {
        // The authority's own ensemble, run again.
        let prepared = submission.local_scenarios(a).unwrap();
        assert!(
            prepared[0].model().name().contains(code.as_str()),
            "{}",
            prepared[0].model().name()
        );
        let outcome = run_scenarios(&prepared, &RunOptions::default()).unwrap();
        let base = &outcome.ensembles[0];
        let mut avoided = vec![0.0; base.runs.len()];
        for &period in &base.periods[1..] {
            let d = outcome
                .paired_difference("base", "kin", "cla_started", period)
                .unwrap();
            for (total, d) in avoided.iter_mut().zip(d) {
                *total -= d;
            }
        }
        let per_10k = avoided.iter().map(|v| v * 1e4 / children(code));
        let expected = Stats::of(per_10k, &BANDS);
        let row = ranking.rows.iter().find(|r| &r.code == code).unwrap();
        assert_eq!(&row.name, name);
        assert_eq!(row.children, children(code));
        for (got, want) in row.stats.quantiles.iter().zip(&expected.quantiles) {
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{name}: ranked {:?}, its ensemble {:?}",
                row.stats.quantiles,
                expected.quantiles
            );
        }
        assert!(
            row.stats.quantiles[0] < row.stats.quantiles[4],
            "{name}: an interval with width: {:?}",
            row.stats.quantiles
        );

        // Its page: the same median, with its unit.
        let (_, html) = made.pages.iter().find(|(c, _)| c == code).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
        assert!(
            html.contains(&rank_by.show(row.stats.quantiles[2])),
            "{name}'s page shows its ranked median"
        );
        // Its own published figures, year by year, in the fit table.
        let observed = table
            .series_of(&table.current_authority(code).unwrap())
            .unwrap();
        let mut checked = 0;
        for &year in observed.years() {
            let start = html
                .find(&format!("<tr><td>{year}</td>"))
                .unwrap_or_else(|| panic!("{name}: no row for {year}"));
            let row = &html[start..start + html[start..].find("</tr>").unwrap()];
            for (column, _, _) in council::PUBLISHED {
                if let Some(v) = observed.series(column).unwrap().get(year) {
                    assert!(
                        row.contains(&format!("<td>{}</td>", thousands(v))),
                        "{name} {column} {year}: {v} not in {row}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= 30, "{name}: {checked} figures");
        // Its filled start figures, each stated.
        let warnings: Vec<_> = submission
            .warnings()
            .iter()
            .filter(|w| &w.code == code)
            .collect();
        if warnings.is_empty() {
            assert!(html.contains("is published for"), "{name}");
        } else {
            for w in warnings {
                let text = carecascade::engine::format::escape_markup(&w.to_string());
                assert!(html.contains(&text), "{name}: {text}");
            }
        }
        // The scenario's money for England is asked at the authority's
        // share: said.
        assert!(
            html.contains("at its share of England's children"),
            "{name}"
        );
        // Sources once.
        assert_eq!(html.matches("<li>Test source</li>").count(), 1, "{name}");
        // Self-contained: links only to the set's pages.
        for external in ["src=", "url(", "@import", "https://", "<script"] {
            assert!(!html.contains(external), "{name}: {external}");
        }
    }
    // Hackney's start figures were filled in; Rutland's were published.
    assert!(
        submission.warnings().iter().any(|w| w.code == "E09000012"),
        "Hackney has filled start figures"
    );
    // The ranking page links every page and lists each median.
    for row in &ranking.rows {
        assert!(made.index.contains(&format!("href=\"{}.html\"", row.code)));
        assert!(made.index.contains(&rank_by.number(row.stats.quantiles[2])));
    }
    // The CSV has the same figures in the same order.
    let csv = made.ranking_csv();
    for (k, (line, row)) in csv.lines().skip(1).zip(&ranking.rows).enumerate() {
        // (The unit holds a comma, quoted: count the percentiles from the end.)
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[1], (k + 1).to_string());
        assert_eq!(cells[2], row.code);
        let p50: f64 = cells[cells.len() - 3].parse().unwrap();
        assert_eq!(p50, row.stats.quantiles[2]);
    }
    let files = made.file_names();
    for link in made.index.split("href=\"").skip(1) {
        let target = &link[..link.find('"').unwrap()];
        assert!(files.iter().any(|f| f == target), "{target}");
    }
}

/// One scenario: a level is ranked (for that scenario), and a difference
/// is refused with the levels named.
#[test]
fn one_scenario_ranks_a_level() {
    let mut one = scenarios(6);
    one.truncate(1);
    let submission = Submission::new(one, false, &areas(&["E06000017"])).unwrap();
    let rank_by = Output::named("cla_per_10k", false).unwrap();
    let made = council::run(
        &submission,
        &Settings {
            rank_by,
            order: Order::LowFirst,
        },
        &|| {},
    )
    .unwrap();
    assert_eq!(made.rankings.len(), 1);
    assert_eq!(made.rankings[0].subject, "base");
    let row = &made.rankings[0].rows[0];
    // Rutland's looked-after rate: tens per 10,000 children.
    let median = row.stats.quantiles[2];
    assert!(median > 5.0 && median < 200.0, "{median}");
    let html = &made.pages[0].1;
    assert!(html.contains("Rutland (E06000017): base"));
    assert!(html.contains("children are looked after in Rutland"));
    let err = Output::named("extra_cost_per_child", false).unwrap_err();
    assert!(err.to_string().contains("cla_per_10k"), "{err}");
}

fn cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_carecascade"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The command line: mistakes are refused before anything runs, naming
/// the closest valid name; the folder is written whole, replaced only if
/// it holds nothing but pages, and never over a file.
#[test]
fn carecascade_report_with_areas_writes_a_folder_of_pages() {
    let dir = std::env::temp_dir().join(format!("carecascade-council-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (base, alt) = scenario_texts(4);
    let base_file = dir.join("base.toml");
    let alt_file = dir.join("kin.toml");
    std::fs::write(&base_file, base).unwrap();
    std::fs::write(&alt_file, alt).unwrap();
    let (b, a) = (base_file.to_str().unwrap(), alt_file.to_str().unwrap());
    let out = dir.join("pages");
    let o = out.to_str().unwrap();

    let (ok, err) = cli(&[
        "report",
        b,
        a,
        "--area",
        "Rutland",
        "--rank-by",
        "extra_cost_per_chld",
        "-o",
        o,
    ]);
    assert!(!ok);
    assert!(
        err.contains("--rank-by `extra_cost_per_chld`")
            && err.contains("did you mean `extra_cost_per_child`?"),
        "{err}"
    );
    let (ok, err) = cli(&[
        "report",
        b,
        "--area",
        "Rutland",
        "--rank-by",
        "entries_avoided",
        "-o",
        o,
    ]);
    assert!(
        !ok && err.contains("give a base and an alternative"),
        "{err}"
    );
    let (ok, err) = cli(&["report", b, a, "--area", "Rutlnd", "-o", o]);
    assert!(!ok && err.contains("Rutland"), "{err}");
    // --rank-by needs --area.
    let (ok, _) = cli(&["report", b, a, "--rank-by", "cla_per_10k"]);
    assert!(!ok);
    // A file where the folder goes: refused, untouched.
    std::fs::write(&out, "keep").unwrap();
    let (ok, err) = cli(&["report", b, a, "--area", "Rutland", "-o", o]);
    assert!(!ok && err.contains("refusing to replace it"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep");
    std::fs::remove_file(&out).unwrap();

    let (ok, err) = cli(&["report", b, a, "--area", "Rutland", "-o", o]);
    assert!(ok, "{err}");
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["E06000017.html", "index.html", "ranking.csv"]);
    let csv = std::fs::read_to_string(out.join("ranking.csv")).unwrap();
    assert!(
        csv.starts_with("subject,rank,code,authority,region,children_0_17,output,unit,p5,p25,p50,p75,p95\nkin minus base,1,E06000017,Rutland,East Midlands,"),
        "{csv}"
    );
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        index.contains("extra spend per child"),
        "the default output"
    );
    // Again: an earlier report is replaced.
    let (ok, err) = cli(&["report", b, a, "--area", "Rutland", "-o", o]);
    assert!(ok, "{err}");
    // An earlier report of other authorities is replaced whole.
    let (ok, err) = cli(&["report", b, a, "--area", "Hackney", "-o", o]);
    assert!(ok, "{err}");
    assert!(out.join("E09000012.html").is_file() && !out.join("E06000017.html").exists());
    // A folder holding anything else is refused before running.
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let (ok, err) = cli(&["report", b, a, "--area", "Rutland", "-o", o]);
    assert!(!ok && err.contains("notes.txt"), "{err}");
    assert!(out.join("notes.txt").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Each page shows how well the model forecast that authority in the
/// local backtest (out of sample, beside the last published figure, with
/// its band's coverage), recomputed here from the recorded forecasts; a
/// model other than the one the backtest tested gets no record, only a
/// statement that it is untested.
#[test]
fn a_page_shows_the_authoritys_out_of_sample_record_only_for_the_model_tested() {
    use carecascade::local_backtest::{LOCAL_BACKTEST_JSON, LocalBacktest};
    let mut one = scenarios(4);
    one.truncate(1);
    let settings = Settings {
        rank_by: Output::named("cla_per_10k", false).unwrap(),
        order: Order::LowFirst,
    };
    let page = |scenarios: Vec<Scenario>| {
        let submission = Submission::new(scenarios, false, &areas(&["E06000017"])).unwrap();
        council::run(&submission, &settings, &|| {}).unwrap().pages[0]
            .1
            .clone()
    };
    let html = page(one);
    assert!(html.contains("How well its model has forecast it (out of sample)"));
    let record = LocalBacktest::from_json(LOCAL_BACKTEST_JSON).unwrap();
    let mut rows = 0;
    for (series, title) in [
        ("cin_at_31_march", "children in need"),
        ("cpp_at_31_march", "on child protection plans"),
        ("cla_at_31_march", "looked after"),
    ] {
        for horizon in 1..=2 {
            let these: Vec<_> = record
                .forecasts
                .iter()
                .filter(|f| {
                    f.code == "E06000017"
                        && f.series == series
                        && f.horizon == horizon
                        && f.outturn.is_some()
                        && f.last_value.is_some()
                })
                .collect();
            if these.is_empty() {
                continue;
            }
            let n = these.len() as f64;
            let ape = |v: &dyn Fn(&carecascade::local_backtest::LocalForecast) -> f64| {
                100.0
                    * these
                        .iter()
                        .map(|f| (v(f) - f.outturn.unwrap()).abs() / f.outturn.unwrap())
                        .sum::<f64>()
                    / n
            };
            let inside = these
                .iter()
                .filter(|f| {
                    let o = f.outturn.unwrap();
                    o >= f.quantiles[0] && o <= f.quantiles[4]
                })
                .count();
            let row = format!(
                "<tr><td>{title}</td><td>{horizon}</td><td>{}</td><td>{:.1}%</td><td>{:.1}%</td><td>{inside} of {}</td></tr>",
                these.len(),
                ape(&|f| f.quantiles[2]),
                ape(&|f| f.last_value.unwrap()),
                these.len()
            );
            assert!(html.contains(&row), "no row {row}");
            rows += 1;
        }
    }
    assert!(rows >= 4, "Rutland has {rows} scored rows");
    assert!(html.contains("Across all authorities, the median ratio"));

    // The same model with one comment added is not the model tested.
    let dir = std::env::temp_dir().join(format!("carecascade-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let edited = dir.join("england.toml");
    std::fs::write(
        &edited,
        format!("{}\n# edited\n", carecascade::ENGLAND_TOML),
    )
    .unwrap();
    let (base, _) = scenario_texts(4);
    let text = base.replace(
        "model = \"england\"",
        &format!("model = {:?}", edited.display().to_string()),
    );
    let library = carecascade::library();
    let html = page(vec![
        Scenario::parse_with(&text, "base.toml", &library).unwrap(),
    ]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        html.contains("No record: the local backtest"),
        "the edited model got a record"
    );
    assert!(!html.contains("outturns inside the 90% band"));
}
