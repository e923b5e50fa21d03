//! The public API with arbitrary arguments: every call returns a value or
//! an error, and none panics. Times and steps of any sign, NaN and
//! infinity; runs and starts of 0 or far too many; lanes, indices and
//! shards out of range; parameters of another program; empty lists;
//! arbitrary text to every parser.

use carecascade_engine::build::{Constant, Flow, Lookup, Stock};
use carecascade_engine::calibrate::{Bounds, Search, multi_start, nelder_mead};
use carecascade_engine::ensemble::{self, RunOptions, Sample, Shard, Stats};
use carecascade_engine::format::table::{Records, Table};
use carecascade_engine::format::{native, vensim, xmile};
use carecascade_engine::projection::{Indicator, Periods, Projector};
use carecascade_engine::scenario::Scenario;
use carecascade_engine::{Model, Program, TimeSettings};
use proptest::prelude::*;

/// Any f64, with the awkward ones often.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MIN_POSITIVE),
        Just(1e-300),
        Just(1e300),
        Just(f64::MAX),
        Just(-1.0),
        -1e6..1e6f64,
        any::<f64>(),
    ]
}

/// Any count, with 0, 1 and the huge often.
fn count() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        Just(1),
        Just(usize::MAX),
        Just(u32::MAX as usize),
        0..20usize,
        any::<usize>(),
    ]
}

fn model() -> Model {
    Model::builder("decay")
        .time(TimeSettings::new(0.0, 4.0, 0.5).unwrap())
        .add(Stock::new("x", 100.0).outflow("out"))
        .add(Flow::new("out", "x * rate + effect(TIME)"))
        .add(Constant::new("rate", 0.1))
        .add(Lookup::new("effect", [(0.0, 0.0), (4.0, 1.0)]))
        .build()
        .unwrap()
}

const SCENARIO: &str = r#"
model = "m.toml"
[time]
horizon = 3
[monte_carlo]
runs = 4
[uncertain.rate]
distribution = "uniform"
min = 0.05
max = 0.2
[report]
indicators = ["x"]
"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn time_settings_take_any_numbers(
        start in number(), stop in number(), dt in number(), save in number(), step in count()
    ) {
        if let Ok(t) = TimeSettings::new(start, stop, dt) {
            let _ = t.with_save_interval(save);
            let _ = t.with_dt(save);
            let _ = t.with_stop(save);
            let _ = t.with_start(save);
            let _ = (t.steps(), t.saved_points(), t.save_every(), t.time_at(step));
        }
    }

    #[test]
    fn runs_take_any_settings_names_and_values(
        name in "\\PC{0,12}", value in number(), dt in number(), stop in number(),
        lane in count(), output in count(), at in number()
    ) {
        let program = Program::compile(&model()).unwrap();
        let _ = program.output_index(&name);
        let _ = program.parameter(&name);
        let mut state = program.state();
        let _ = state.set(&name, value);
        let _ = state.set("rate", value);
        if let Ok(t) = state.time().with_dt(dt).and_then(|t| t.with_stop(stop)) {
            // Only runs of a sensible length.
            if t.steps() <= 10_000 {
                state.set_time(t);
            }
        }
        // Into a buffer of any length: the rows and errors of `run`, or
        // a refusal if it is too short.
        let mut rows = vec![0.0; output.min(10_000)];
        let needed = state.time().saved_points() * program.output_names().len();
        let into = state.run_into(&mut rows).map_err(|e| e.to_string());
        let run = state.run().map_err(|e| e.to_string());
        if rows.len() < needed {
            prop_assert!(into.is_err());
        } else {
            prop_assert_eq!(into.map(|_| ()), run.map(|_| ()));
        }
        if let Ok(results) = state.run() {
            let _ = results.series(&name);
            let _ = results.value_at(&name, at);
            let _ = results.value_at("x", at);
            let _ = results.final_value(&name);
        }
        let mut batch = program.batch::<4>();
        let rate = program.parameter("rate").unwrap();
        let _ = batch.set_param(lane, rate, value);
        let _ = batch.param(lane, rate);
        let _ = batch.set_params_from(lane, &state);
        let _ = batch.run_observing(&mut |_, row| {
            let _ = row.get(output, lane);
        });
        // A parameter of another program (the same model compiled again).
        let other = Program::compile(&model()).unwrap();
        let foreign = other.parameter("rate").unwrap();
        prop_assert!(state.set_param(foreign, 0.2).is_err());
        prop_assert!(state.param(foreign).is_err());
        prop_assert!(batch.set_param(0, foreign, 0.2).is_err());
        let other_state = other.state();
        prop_assert!(batch.set_params_from(0, &other_state).is_err());
    }

    #[test]
    fn model_edits_take_any_names_and_points(
        name in "\\PC{0,12}", value in number(),
        points in proptest::collection::vec((number(), number()), 0..5)
    ) {
        let m = model();
        let _ = m.with_constant_value(&name, value, "note");
        let _ = m.with_constant_value("rate", value, "note");
        let _ = m.with_lookup(&name, &points, "doc");
        let _ = m.with_lookup("effect", &points, "doc");
        let _ = m.check_start(value);
        if let Ok(m) = m.with_lookup("effect", &points, "doc") {
            let _ = Program::compile(&m).map(|p| p.run());
        }
    }

    #[test]
    fn periods_and_projections_take_any_numbers(
        start in number(), n in count(), length in number(), offset in number(), k in count(),
        name in "\\PC{0,12}"
    ) {
        if let Ok(p) = Periods::new(start, n) {
            let _ = (p.label(k), p.time(k));
            if let Ok(p) = p.with_length(length).and_then(|p| p.with_offset(offset)) {
                let _ = (p.label(k), p.time(k));
                let program = Program::compile(&model()).unwrap();
                let _ = p.time_settings(program.time());
                let indicators = [Indicator::level(name.clone(), name.clone()), Indicator::sum("out", "out")];
                let _ = Projector::new(&program, &indicators);
                if p.count() <= 100
                    && let Ok(projector) = Projector::new(&program, &indicators[1..])
                    && let Ok(projection) = projector.project(&mut program.state(), &p)
                {
                    let _ = projection.column_at(k);
                    let _ = projection.row(offset);
                    let _ = projection.get(&name, offset);
                }
            }
        }
    }

    #[test]
    fn statistics_take_any_values(
        values in proptest::collection::vec(number(), 0..8), q in number(),
        quantiles in proptest::collection::vec(number(), 0..4)
    ) {
        let sample = Sample::new(values.iter().copied());
        let _ = (sample.mean(), sample.quantile(q));
        let _ = ensemble::quantile(&values, q);
        let _ = Stats::of(values.iter().copied(), &quantiles);
    }

    #[test]
    fn shards_take_any_numbers(index in count(), n in count(), total in count(), text in "\\PC{0,10}") {
        if let Ok(shard) = Shard::new(index, n) {
            let runs = shard.runs(total);
            prop_assert!(runs.end <= total);
        }
        let _ = Shard::parse(&text);
        let _ = Shard::from_env(|_| Some(text.clone()), Some(n));
    }

    #[test]
    fn searches_take_any_settings(
        starts in count(), evaluations in 0usize..200, tolerance in number(), seed in any::<u64>(),
        min in number(), max in number(), initial in proptest::collection::vec(number(), 0..3),
        step in number()
    ) {
        let bounds: Vec<Bounds> = Bounds::new(min, max).into_iter().collect();
        let search = Search { starts, seed, max_evaluations: evaluations, tolerance };
        let _ = multi_start(|x: &[f64]| x.iter().map(|v| v * v).sum(), &bounds, &initial, &search);
        let _ = nelder_mead(|x| x.iter().map(|v| v * v).sum(), &initial, step, evaluations, tolerance);
    }

    #[test]
    fn parsers_take_any_text(text in "\\PC{0,80}") {
        let _ = carecascade_engine::expr::parse(&text);
        let _ = native::parse(&text, Some("a.toml"));
        let _ = xmile::parse(&text, Some("a.xmile"));
        let _ = vensim::parse(&text, Some("a.mdl"));
        let _ = Scenario::parse(&text, "a.toml");
        let _ = Table::parse(&text, Some("a.csv"));
        let _ = Records::parse(&text, Some("a.csv"));
        let _ = carecascade_engine::calibrate::CalibrationSpec::parse(&text, Some("a.toml"));
        let _ = carecascade_engine::Units::parse(&text);
        let _ = carecascade_engine::model::parse_fraction(&text);
    }

    #[test]
    fn scenarios_take_any_runs_seeds_and_shards(
        runs in count(), seed in any::<u64>(), index in count(), n in count(), run in count(),
        latin in any::<bool>(), first in count(), end in count()
    ) {
        let dir = std::env::temp_dir().join(format!("carecascade-api-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("m.toml"), native::write(&model())).unwrap();
        let text = if latin {
            SCENARIO.replace("runs = 4", "runs = 4\nsampling = \"latin_hypercube\"")
        } else {
            SCENARIO.to_string()
        };
        let mut scenario = Scenario::parse(&text, "s.toml").unwrap();
        scenario.set_base_dir(&dir);
        let scenario = scenario.with_seed(seed);
        // Few runs only: many are refused by the memory limit or take long.
        let Ok(scenario) = scenario.with_runs(runs.min(16).max(runs % 3)) else {
            return Ok(());
        };
        let prepared = scenario.prepare().unwrap();
        let _ = ensemble::draws(&prepared, run, runs);
        let _ = ensemble::draws(&prepared, run % 64, 16);
        if let Ok(sampler) = ensemble::Sampler::new(&prepared, runs) {
            let _ = sampler.draws(run);
        }
        let _ = ensemble::run_range(&prepared, first % 40..end % 40, run % 40, &|| {});
        let shard = Shard::new(index, n).ok();
        let options = RunOptions { shard, ..RunOptions::default() };
        let _ = ensemble::run_scenarios(std::slice::from_ref(&prepared), &options);
        prop_assert!(ensemble::run_scenarios(&[], &options).is_err());
    }
}

/// A run into a buffer too short for its rows is refused before it runs,
/// saying how many values it needs; one just long enough gets every row,
/// the values of `run`.
#[test]
fn a_run_into_a_short_buffer_says_how_long_it_must_be() {
    let program = Program::compile(&model()).unwrap();
    let mut state = program.state();
    let (points, width) = (state.time().saved_points(), program.output_names().len());
    let mut short = vec![7.0; points * width - 1];
    let error = state.run_into(&mut short).unwrap_err().to_string();
    assert!(
        error.contains(&format!("{} values", points * width - 1))
            && error.contains(&format!("saves {points} rows"))
            && error.contains("saved_points() x output_names().len()"),
        "{error}"
    );
    assert!(short.iter().all(|&v| v == 7.0), "nothing written");
    let mut exact = vec![0.0; points * width];
    assert_eq!(state.run_into(&mut exact).unwrap(), points);
    let results = state.run().unwrap();
    assert_eq!(exact, results.values().iter().copied().collect::<Vec<_>>());
}

/// `Batch::run_into` refuses a buffer too short for every lane's rows
/// before running, saying how long it must be, and fills one exactly long
/// enough with the rows `run_observing` hands over.
#[test]
fn a_batch_run_into_a_short_buffer_says_how_long_it_must_be() {
    let program = Program::compile(&model()).unwrap();
    let mut batch = program.batch::<4>();
    let (points, width) = (
        batch.time().saved_points(),
        program.output_names().len() * 4,
    );
    let mut short = vec![7.0; points * width - 1];
    let error = batch.run_into(&mut short).unwrap_err().to_string();
    assert!(
        error.contains(&format!("{} values", points * width - 1))
            && error.contains(&format!("rows of {width} outputs"))
            && error.contains(&format!("saves {points} rows"))
            && error.contains("saved_points() x output_names().len() x lanes"),
        "{error}"
    );
    assert!(short.iter().all(|&v| v == 7.0), "nothing written");
    let mut exact = vec![0.0; points * width];
    assert_eq!(batch.run_into(&mut exact).unwrap().unwrap(), points);
    let mut observed = Vec::new();
    batch
        .run_observing(&mut |_, row| observed.extend_from_slice(row.values()))
        .unwrap();
    assert_eq!(exact, observed);
}
