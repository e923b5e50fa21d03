//! Bayesian calibration through the engine's public API, checked where the
//! answer is known: a conjugate problem with an analytic posterior, and
//! simulation-based calibration on a small stock-and-flow model (the true
//! parameters, drawn from the prior, rank uniformly among the posterior
//! draws). A sampler or likelihood that is wrong in the usual ways (a
//! missing Jacobian, a wrong acceptance ratio, the scales mis-integrated)
//! fails these.

use carecascade_engine::Program;
use carecascade_engine::calibrate::{
    CalibrationSpec, Observations, Posterior, Sampling, posterior,
};
use carecascade_engine::format::native;
use carecascade_engine::projection::{Indicator, Periods, Projector};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn compile(text: &str) -> Program {
    Program::compile(&native::parse(text, None).unwrap()).unwrap()
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

/// Observations `y_i = exp(mu + e_i)` of a model whose output is
/// `exp(log level)`, with a flat prior on `log level` and the scale
/// integrated out: the posterior of `mu` is Student's t with n - 1 degrees
/// of freedom around the mean of the logs, scale `s / sqrt(n)`; and
/// `sigma^2` is scaled inverse chi-squared with n - 1 degrees of freedom.
#[test]
fn conjugate_posterior_matches_the_analytic_one() {
    let program = compile(
        r#"
        [time]
        start = 0
        stop = 12
        dt = 0.25
        [constants]
        "log level" = 0
        [auxiliaries.y]
        equation = "EXP(log level)"
    "#,
    );
    let projector = Projector::new(&program, &[Indicator::level("y", "y")]).unwrap();
    let periods = Periods::new(0.0, 12).unwrap();
    let logs = [
        1.31, 0.92, 1.18, 1.05, 0.77, 1.4, 1.12, 0.98, 1.25, 0.86, 1.09, 1.2,
    ];
    let mut observed = Observations::new("made up");
    observed.insert(
        "y",
        logs.iter()
            .enumerate()
            .map(|(i, l)| ((i + 1) as f64, f64::exp(*l))),
    );
    let spec = CalibrationSpec::parse(
        r#"
        [calibration]
        starts = 2
        [series]
        y = 1
        [parameters."log level"]
        min = -10
        max = 10
        [mcmc]
        walkers = 16
        steps = 4000
        burn = 500
        thin = 2
        keep = 20000
        seed = 7
    "#,
        None,
    )
    .unwrap();
    let sampled = posterior(
        &program,
        &projector,
        &periods,
        &observed,
        &spec,
        Sampling::default(),
    )
    .unwrap();
    sampled.check().unwrap();
    let n = logs.len() as f64;
    let (ybar, s) = mean_sd(&logs);
    let mu = sampled.posterior.column(0);
    let (m, sd) = mean_sd(&mu);
    let analytic_sd = s / n.sqrt() * ((n - 1.0) / (n - 3.0)).sqrt();
    let ess = sampled.diagnostics.ess[0];
    let mc_error = analytic_sd / ess.sqrt();
    assert!(
        (m - ybar).abs() < 4.0 * mc_error,
        "posterior mean {m}, analytic {ybar} (Monte Carlo error {mc_error})"
    );
    assert!(
        (sd / analytic_sd - 1.0).abs() < 0.1,
        "posterior sd {sd}, analytic {analytic_sd}"
    );
    // sigma^2 | y ~ scaled inverse chi-squared (n - 1, s^2): mean (n-1) s^2 / (n-3).
    let var: Vec<f64> = sampled
        .posterior
        .draws
        .iter()
        .map(|d| d.scales[0].powi(2))
        .collect();
    let (mv, _) = mean_sd(&var);
    let analytic = (n - 1.0) * s * s / (n - 3.0);
    assert!(
        (mv / analytic - 1.0).abs() < 0.1,
        "mean sigma^2 {mv}, analytic {analytic}"
    );
}

/// A stock filled by a constant inflow and drained over a duration, both
/// unknown; the data are the stock and the outflow with log-normal noise.
const DRAIN: &str = r#"
    [time]
    start = 0
    stop = 10
    dt = 0.125
    [stocks.cases]
    initial = 100
    inflows = ["arrivals"]
    outflows = ["closures"]
    [flows.arrivals]
    equation = "inflow"
    [flows.closures]
    equation = "cases / duration"
    [constants]
    inflow = 50
    duration = 2
"#;

const DRAIN_SPEC: &str = r#"
    [calibration]
    starts = 2
    max_evaluations = 400
    [series]
    cases = 1
    closures = 1
    [parameters.inflow]
    min = 20
    max = 100
    [parameters.duration]
    min = 0.5
    max = 5
    [mcmc]
    walkers = 8
    steps = 600
    burn = 150
    thin = 5
    keep = 99
    min_ess = 50
"#;

/// Simulation-based calibration (Talts et al. 2018): parameters drawn from
/// the prior, data simulated with them, the posterior sampled; the rank of
/// the true value among the draws is uniform when the posterior is right.
/// Ranks in quarters over 30 fits, for both parameters, must pass a
/// chi-squared test at the 0.1% level, and the central 50% and 90%
/// intervals must cover about half and nine in ten of the truths.
#[test]
fn simulation_based_calibration_ranks_are_uniform() {
    let (program, projector) = drain_projector(&["cases", "closures"]);
    let periods = Periods::new(0.0, 10).unwrap();
    let base = CalibrationSpec::parse(DRAIN_SPEC, None).unwrap();
    let fits = 30;
    let mut bins = [[0usize; 4]; 2];
    let mut covered50 = 0;
    let mut covered90 = 0;
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    for fit in 0..fits {
        let truth = [rng.random_range(20.0..100.0), rng.random_range(0.5..5.0)];
        let mut state = program.state();
        state.set("inflow", truth[0]).unwrap();
        state.set("duration", truth[1]).unwrap();
        let made = projector.project(&mut state, &periods).unwrap();
        let mut observed = Observations::new("simulated");
        for column in ["cases", "closures"] {
            let points: Vec<(f64, f64)> = (1..=10)
                .map(|k| {
                    let e: f64 = StandardNormal.sample(&mut rng);
                    (
                        k as f64,
                        made.get(column, k as f64).unwrap() * (0.1 * e).exp(),
                    )
                })
                .collect();
            observed.insert(column, points);
        }
        let mut spec = base.clone();
        spec.mcmc.seed = 100 + fit as u64;
        spec.seed = 100 + fit as u64;
        let sampled = posterior(
            &program,
            &projector,
            &periods,
            &observed,
            &spec,
            Sampling::default(),
        )
        .unwrap();
        for (i, t) in truth.iter().enumerate() {
            let draws = sampled.posterior.column(i);
            let rank = draws.iter().filter(|d| *d < t).count();
            bins[i][(rank * 4 / (draws.len() + 1)).min(3)] += 1;
            let mut sorted = draws.clone();
            sorted.sort_by(f64::total_cmp);
            let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
            covered50 += usize::from(*t >= q(0.25) && *t <= q(0.75));
            covered90 += usize::from(*t >= q(0.05) && *t <= q(0.95));
        }
    }
    for (i, b) in bins.iter().enumerate() {
        let expected = fits as f64 / 4.0;
        let chi2: f64 = b
            .iter()
            .map(|&o| (o as f64 - expected).powi(2) / expected)
            .sum();
        assert!(
            chi2 < 16.27,
            "parameter {i}: rank quarters {b:?}, chi-squared {chi2}"
        );
    }
    let total = 2 * fits;
    assert!(
        (18..=42).contains(&covered50),
        "50% intervals covered {covered50} of {total}"
    );
    assert!(
        covered90 >= 47,
        "90% intervals covered {covered90} of {total}"
    );
}

/// The drain model projected by `columns` (`cases`, a level, and
/// `closures`, a sum) over ten periods, and data made from its own values
/// times `noise(period)`.
fn drain_data(
    columns: &[&str],
    noise: impl Fn(usize) -> f64,
) -> (Program, Projector, Periods, Observations) {
    let (program, projector) = drain_projector(columns);
    let periods = Periods::new(0.0, 10).unwrap();
    let mut state = program.state();
    let made = projector.project(&mut state, &periods).unwrap();
    let mut observed = Observations::new("made");
    for column in columns {
        observed.insert(
            *column,
            (1..=10).map(|k| (k as f64, made.get(column, k as f64).unwrap() * noise(k))),
        );
    }
    (program, projector, periods, observed)
}

/// The drain model and a projector of `columns`: `cases` (a level) and
/// `closures` (a sum over each period).
fn drain_projector(columns: &[&str]) -> (Program, Projector) {
    let program = compile(DRAIN);
    let indicators: Vec<Indicator> = columns
        .iter()
        .map(|c| match *c {
            "closures" => Indicator::sum("closures", "closures"),
            other => Indicator::level(other, other),
        })
        .collect();
    let projector = Projector::new(&program, &indicators).unwrap();
    (program, projector)
}

/// Alternately 3% above and below.
fn zigzag(k: usize) -> f64 {
    if k.is_multiple_of(2) { 1.03 } else { 0.97 }
}

/// The posterior file round-trips, and its header says how it was made.
#[test]
fn posterior_file_says_how_it_was_made() {
    let (program, projector, periods, observed) =
        drain_data(&["cases"], |k| 1.0 + 0.01 * ((k * 7) % 5) as f64 - 0.02);
    let spec = CalibrationSpec::parse(
        &DRAIN_SPEC.replace("closures = 1\n", "").replace(
            "[parameters.duration]",
            "[parameters.duration]\nbasis = \"source\"\nnote = \"a study\"",
        ),
        None,
    )
    .unwrap();
    let sampled = posterior(
        &program,
        &projector,
        &periods,
        &observed,
        &spec,
        Sampling::default(),
    )
    .unwrap();
    let csv = sampled.posterior.to_csv();
    assert!(
        csv.contains("# prior `duration`: uniform 0.5 to 5 (source): a study"),
        "{csv}"
    );
    assert!(csv.contains("log-normal errors"), "{csv}");
    let back = Posterior::parse(&csv, "p.csv").unwrap();
    assert_eq!(back.draws.len(), 99);
    assert_eq!(back.draws[5].values, sampled.posterior.draws[5].values);
    assert_eq!(back.converged, sampled.failures.is_empty());
}

/// Chains that cannot have converged are refused with what to change.
#[test]
fn an_unconverged_posterior_is_refused() {
    let (program, projector, periods, observed) = drain_data(&["cases"], zigzag);
    let spec = CalibrationSpec::parse(
        &DRAIN_SPEC
            .replace("closures = 1\n", "")
            .replace("steps = 600", "steps = 30")
            .replace("burn = 150", "burn = 5")
            .replace("thin = 5", "thin = 1")
            .replace("min_ess = 50", "min_ess = 400"),
        None,
    )
    .unwrap();
    let sampled = posterior(
        &program,
        &projector,
        &periods,
        &observed,
        &spec,
        Sampling::default(),
    )
    .unwrap();
    let e = sampled.check().unwrap_err().to_string();
    assert!(e.contains("have not converged"), "{e}");
    assert!(e.contains("effective sample size"), "{e}");
    assert!(e.contains("Run longer"), "{e}");
    assert!(!sampled.posterior.converged);
}

/// Restarted runs need starting data at each restart; the spec's settings
/// are checked where they are written.
#[test]
fn settings_are_checked() {
    let e = CalibrationSpec::parse(
        "[series]\nx = 1\n[parameters.k]\nmin = 0\nmax = 1\nprior = \"normal\"\nmean = 0.5\n[mcmc]\nwalkers = 5\n[likelihood]\nhorizon = 2\n",
        Some("s.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("s.toml:3:13: the prior of `k`: a normal prior needs `sd`"),
        "{e}"
    );
    assert!(e.contains("`walkers` must be an even number"), "{e}");
    assert!(e.contains("`horizon` applies only with `restart"), "{e}");
    let e = CalibrationSpec::parse(
        "[series]\nx = 1\n[parameters.k]\nmin = 0\nmax = 1\n[likelihood]\nrestart = \"each year\"\n",
        Some("s.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("s.toml:7"), "{e}");
    assert!(e.contains("each period"), "{e}");
}

/// Parameters the data say nothing about keep their priors: a uniform
/// one on [0, 1] (mean 1/2, sd 0.2887) and a normal N(2, 1) truncated to
/// [0, 5] (mean 2.0508, sd 0.9344): the bounds and the prior's shape are
/// honoured by the sampler.
#[test]
fn uninformed_parameters_keep_their_priors() {
    let program = compile(
        r#"
        [time]
        start = 0
        stop = 6
        dt = 0.5
        [constants]
        a = 1
        b = 0.5
        c = 2
        [auxiliaries.y]
        equation = "a + 0 * b * c"
    "#,
    );
    let projector = Projector::new(&program, &[Indicator::level("y", "y")]).unwrap();
    let periods = Periods::new(0.0, 6).unwrap();
    let mut observed = Observations::new("made up");
    observed.insert(
        "y",
        [1.1, 0.9, 1.05, 0.97, 1.02, 0.95]
            .iter()
            .enumerate()
            .map(|(i, v)| ((i + 1) as f64, *v)),
    );
    let spec = CalibrationSpec::parse(
        r#"
        [calibration]
        starts = 1
        [series]
        y = 1
        [parameters.a]
        min = 0.1
        max = 10
        [parameters.b]
        min = 0
        max = 1
        [parameters.c]
        min = 0
        max = 5
        prior = "normal"
        mean = 2
        sd = 1
        [mcmc]
        walkers = 16
        steps = 3000
        burn = 500
        thin = 2
        keep = 20000
        seed = 11
    "#,
        None,
    )
    .unwrap();
    let sampled = posterior(
        &program,
        &projector,
        &periods,
        &observed,
        &spec,
        Sampling::default(),
    )
    .unwrap();
    sampled.check().unwrap();
    let (mb, sb) = mean_sd(&sampled.posterior.column(1));
    let (mc, sc) = mean_sd(&sampled.posterior.column(2));
    assert!(
        (mb - 0.5).abs() < 0.03 && (sb - 0.2887).abs() < 0.02,
        "b: {mb} {sb}"
    );
    assert!(
        (mc - 2.0508).abs() < 0.1 && (sc - 0.9344).abs() < 0.06,
        "c: {mc} {sc}"
    );
}

/// A scenario draws parameters jointly from a posterior file: each run
/// takes one row (the same row for the same run in every scenario with
/// the same seed), kept in its draws beside the uncertain parameters; a
/// posterior that is unconverged, names a constant the model lacks, or
/// collides with [uncertain] is refused, naming the file.
#[test]
fn scenarios_draw_jointly_from_a_posterior_file() {
    use carecascade_engine::ensemble::{RunOptions, run_scenarios};
    use carecascade_engine::scenario::Scenario;
    let dir = tempfile_dir();
    std::fs::write(dir.join("drain.toml"), DRAIN).unwrap();
    let posterior = |converged: bool, names: [&str; 2]| {
        let p = Posterior {
            parameters: names.iter().map(|s| s.to_string()).collect(),
            scales: vec![],
            draws: (0..5)
                .map(|k| carecascade_engine::calibrate::Draw {
                    values: vec![30.0 + 10.0 * k as f64, 1.0 + 0.5 * k as f64],
                    scales: vec![],
                    log_posterior: -1.0,
                })
                .collect(),
            converged,
            notes: vec![],
            priors: vec![
                (
                    "uniform".into(),
                    carecascade_engine::calibrate::Basis::Assumption,
                    None
                );
                2
            ],
        };
        p.to_csv()
    };
    std::fs::write(
        dir.join("post.csv"),
        posterior(true, ["inflow", "duration"]),
    )
    .unwrap();
    let text = |extra: &str| {
        format!(
            "model = \"drain.toml\"\n[time]\nhorizon = 4\n[monte_carlo]\nruns = 12\nseed = 3\n[posterior]\nfile = \"post.csv\"\n{extra}"
        )
    };
    std::fs::write(dir.join("a.toml"), text("")).unwrap();
    std::fs::write(
        dir.join("b.toml"),
        "extends = \"a.toml\"\n[scenario]\nname = \"b\"\n",
    )
    .unwrap();
    let a = Scenario::load(dir.join("a.toml"))
        .unwrap()
        .prepare()
        .unwrap();
    assert_eq!(a.drawn(), ["inflow", "duration"]);
    let outcome = run_scenarios(std::slice::from_ref(&a), &RunOptions::default()).unwrap();
    let runs = &outcome.ensembles[0].runs;
    let rows: Vec<[f64; 2]> = (0..5)
        .map(|k| [30.0 + 10.0 * k as f64, 1.0 + 0.5 * k as f64])
        .collect();
    let program = Program::compile(&native::parse(DRAIN, None).unwrap()).unwrap();
    let mut seen = std::collections::HashSet::new();
    for r in runs {
        let pair = [r.draws[0], r.draws[1]];
        assert!(rows.contains(&pair), "a row of the file, jointly: {pair:?}");
        seen.insert(r.draws[0] as i64);
        // The run is the model run with that row's values.
        let mut state = program.state();
        state.set("inflow", pair[0]).unwrap();
        state.set("duration", pair[1]).unwrap();
        let results = state.run().unwrap();
        let cases = results.series("cases").unwrap();
        let per = (1.0 / results.time_settings().dt()).round() as usize;
        assert_eq!(r.values[0][4], cases[4 * per]);
    }
    assert!(seen.len() >= 3, "12 runs visit several rows: {seen:?}");
    // A scenario extending it (posterior path relative to the parent) takes
    // the same rows run by run.
    let b = Scenario::load(dir.join("b.toml"))
        .unwrap()
        .prepare()
        .unwrap();
    let other = run_scenarios(std::slice::from_ref(&b), &RunOptions::default()).unwrap();
    for (x, y) in runs.iter().zip(&other.ensembles[0].runs) {
        assert_eq!(x.draws, y.draws);
    }
    // Refusals.
    std::fs::write(
        dir.join("bad.csv"),
        posterior(false, ["inflow", "duration"]),
    )
    .unwrap();
    let e = Scenario::parse(&text("").replace("post.csv", "bad.csv"), "s.toml")
        .map(|mut s| {
            s.set_base_dir(&dir);
            s
        })
        .unwrap()
        .prepare()
        .unwrap_err()
        .to_string();
    assert!(e.contains("not converged"), "{e}");
    std::fs::write(dir.join("typo.csv"), posterior(true, ["inflw", "duration"])).unwrap();
    let mut s = Scenario::parse(&text("").replace("post.csv", "typo.csv"), "s.toml").unwrap();
    s.set_base_dir(&dir);
    let e = s.prepare().unwrap_err().to_string();
    assert!(e.contains("inflw") && e.contains("inflow"), "{e}");
    let mut s = Scenario::parse(
        &text("[uncertain.duration]\ndistribution = \"uniform\"\nmin = 1\nmax = 2\n"),
        "s.toml",
    )
    .unwrap();
    s.set_base_dir(&dir);
    let e = s.prepare().unwrap_err().to_string();
    assert!(e.contains("also in [uncertain]"), "{e}");
    let mut s = Scenario::parse(&text("").replace("post.csv", "none.csv"), "s.toml").unwrap();
    s.set_base_dir(&dir);
    let e = s.prepare().unwrap_err().to_string();
    assert!(e.contains("s.toml:") && e.contains("none.csv"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "carecascade-posterior-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs in batches of lanes give exactly the log posterior of runs one at
/// a time, with restarts too: batches of 8 lanes for the small model, and
/// of fewer for the same model padded with 250 stocks, which is large
/// enough that its compiled batches are narrower ([`Program::batch_lanes`]).
#[test]
fn batched_evaluations_equal_single_ones() {
    let (program, projector) = drain_projector(&["cases", "closures"]);
    assert_eq!(program.batch_lanes(), 8);
    batched_evaluations_equal_single_ones_of(&program, &projector);
    let padding: String = (0..250)
        .map(|i| {
            format!(
                "[stocks.pad{i}]\ninitial = {i}\ninflows = [\"grow{i}\"]\n\
                 [flows.grow{i}]\nequation = \"pad{i} * 0.01 + cases * 0.001\"\n"
            )
        })
        .collect();
    let padded = compile(&DRAIN.replace("    [constants]", &format!("{padding}[constants]")));
    assert!(padded.batch_lanes() < 8, "{}", padded.batch_lanes());
    let indicators = [
        Indicator::level("cases", "cases"),
        Indicator::sum("closures", "closures"),
    ];
    let projector = Projector::new(&padded, &indicators).unwrap();
    batched_evaluations_equal_single_ones_of(&padded, &projector);
}

fn batched_evaluations_equal_single_ones_of(program: &Program, projector: &Projector) {
    use carecascade_engine::calibrate::{Likelihood, LogPosterior, Problem};
    let periods = Periods::new(0.0, 10).unwrap();
    let mut observed = Observations::new("made");
    observed.insert("cases", (1..=10).map(|k| (k as f64, 90.0 + k as f64)));
    observed.insert(
        "closures",
        (1..=10).map(|k| (k as f64, 48.0 + 0.5 * k as f64)),
    );
    let spec = CalibrationSpec::parse(DRAIN_SPEC, None).unwrap();
    let problem = Problem::new(program, projector, &periods, &observed, &spec).unwrap();
    for likelihood in [
        Likelihood::default(),
        Likelihood {
            restart: true,
            horizon: 3,
        },
    ] {
        let post = LogPosterior::new(
            &problem,
            spec.priors.values().cloned().collect(),
            likelihood,
            None,
        )
        .unwrap();
        let points: Vec<Vec<f64>> = (0..8)
            .map(|k| vec![30.0 + 7.0 * k as f64, 0.7 + 0.5 * k as f64])
            .collect();
        let batched = post.at_values_batch(&points);
        for (x, b) in points.iter().zip(&batched) {
            assert_eq!(post.at_values(x), *b);
            assert!(b.is_finite());
        }
        // A point outside the bounds has density 0, in a batch or alone.
        let mut outside = points.clone();
        outside[3][1] = 7.0;
        let batched = post.at_values_batch(&outside);
        assert_eq!(batched[3], f64::NEG_INFINITY);
        assert_eq!(batched[4], post.at_values(&outside[4]));
        if likelihood.restart {
            assert_eq!(post.scales().len(), 6, "two series x three horizons");
        }
    }
}

/// A warm start continues from an earlier posterior's draws: it needs no
/// mode search, converges with a short burn-in, and refuses a posterior
/// without every parameter.
#[test]
fn a_warm_start_continues_an_earlier_posterior() {
    let (program, projector, periods, observed) = drain_data(&["cases", "closures"], zigzag);
    let text = DRAIN_SPEC
        .replace("steps = 600", "steps = 1500")
        .replace("burn = 150", "burn = 300")
        .replace("thin = 5", "thin = 10");
    let spec = CalibrationSpec::parse(&text, None).unwrap();
    let first = posterior(
        &program,
        &projector,
        &periods,
        &observed,
        &spec,
        Sampling::default(),
    )
    .unwrap();
    first.check().unwrap();
    let short = CalibrationSpec::parse(
        &text
            .replace("burn = 300", "burn = 20")
            .replace("steps = 1500", "steps = 1000")
            .replace("thin = 10", "thin = 8"),
        None,
    )
    .unwrap();
    let warm = posterior(
        &program,
        &projector,
        &periods,
        &observed,
        &short,
        Sampling {
            warm_start: Some(&first.posterior),
            ..Sampling::default()
        },
    )
    .unwrap();
    assert_eq!(
        warm.evaluations,
        8 * 1001 + 8 + 2 * 99,
        "the walkers, the sampler and the kept draws' scales: no mode search"
    );
    warm.check().unwrap();
    let (a, _) = mean_sd(&first.posterior.column(1));
    let (b, sd) = mean_sd(&warm.posterior.column(1));
    assert!((a - b).abs() < 0.5 * sd, "{a} vs {b} (sd {sd})");
    let mut other = first.posterior.clone();
    other.parameters[1] = "delay".into();
    let e = posterior(
        &program,
        &projector,
        &periods,
        &observed,
        &short,
        Sampling {
            warm_start: Some(&other),
            ..Sampling::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no parameter `duration`"), "{e}");
}
