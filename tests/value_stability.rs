//! Value stability, after rand's own policy: for a fixed seed, the draws of
//! every distribution shape a scenario file supports, the inverse
//! distribution functions Latin hypercube sampling uses, and a seeded
//! ensemble's outputs are pinned with exact `f64` equality.
//!
//! A change of any of these changes published ensembles, so it must be
//! deliberate: a dependency upgrade (rand, rand_chacha, rand_distr, statrs)
//! or an algorithm change that moves a value is re-pinned here and written
//! down in `docs/changelog.md`. A failing test prints every actual value in
//! `{:?}` form (which round-trips), ready to paste.

use carecascade::engine::ensemble::{RunOptions, Sampler, draws, run_scenarios};
use carecascade::engine::scenario::{Distribution, DistributionSpec, Prepared, Sampling, Scenario};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use std::path::Path;

/// The seed of the pinned draws (the baseline scenario's).
const SEED: u64 = 20250331;

/// How many runs' draws are pinned per distribution.
const RUNS: u64 = 5;

/// The quantiles at which the inverse distribution functions are pinned.
const US: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// FNV-1a of a parameter's canonical name, as `src/ensemble` keys streams.
fn key(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in carecascade::engine::canonical_name(name).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The generator an ensemble gives parameter `name` in run `run`:
/// `ChaCha8Rng` seeded with seed XOR FNV-1a(name), stream = run index.
/// [`generator_is_the_ensembles`] checks it against [`draws`].
fn generator(seed: u64, name: &str, run: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ key(name));
    rng.set_stream(run);
    rng
}

/// Every shape a scenario file supports, by its parameters and (where
/// supported) by its mean and sd or its 5th and 95th percentiles, and
/// truncated ones (drawn by rejection). The label is also the parameter
/// name that keys the generator.
fn shapes() -> Vec<(&'static str, Distribution)> {
    let spec = |distribution: &str| DistributionSpec {
        distribution: distribution.into(),
        ..DistributionSpec::default()
    };
    let cases = [
        (
            "normal mean sd",
            DistributionSpec {
                mean: Some(2.0),
                sd: Some(0.5),
                ..spec("normal")
            },
        ),
        (
            "normal p5 p95",
            DistributionSpec {
                p5: Some(1.0),
                p95: Some(3.0),
                ..spec("normal")
            },
        ),
        (
            "lognormal mean sd",
            DistributionSpec {
                mean: Some(2.0),
                sd: Some(1.0),
                ..spec("lognormal")
            },
        ),
        (
            "lognormal p5 p95",
            DistributionSpec {
                p5: Some(2.0),
                p95: Some(8.0),
                ..spec("lognormal")
            },
        ),
        (
            "beta mean sd",
            DistributionSpec {
                mean: Some(0.3),
                sd: Some(0.1),
                ..spec("beta")
            },
        ),
        (
            "beta alpha beta scaled",
            DistributionSpec {
                alpha: Some(2.0),
                beta: Some(6.0),
                min: Some(10.0),
                max: Some(18.0),
                ..spec("beta")
            },
        ),
        (
            "beta small shapes",
            DistributionSpec {
                alpha: Some(0.5),
                beta: Some(0.8),
                ..spec("beta")
            },
        ),
        (
            "gamma mean sd",
            DistributionSpec {
                mean: Some(4.0),
                sd: Some(2.0),
                ..spec("gamma")
            },
        ),
        (
            "gamma shape scale",
            DistributionSpec {
                shape: Some(0.7),
                scale: Some(3.0),
                ..spec("gamma")
            },
        ),
        (
            "gamma large shape scaled",
            DistributionSpec {
                shape: Some(2.5),
                scale: Some(1.5),
                ..spec("gamma")
            },
        ),
        (
            "uniform",
            DistributionSpec {
                min: Some(0.0),
                max: Some(0.08),
                ..spec("uniform")
            },
        ),
        (
            "triangular",
            DistributionSpec {
                min: Some(3.0),
                mode: Some(4.0),
                max: Some(8.0),
                ..spec("triangular")
            },
        ),
        (
            "pert",
            DistributionSpec {
                min: Some(0.0),
                mode: Some(0.32),
                max: Some(0.5),
                ..spec("pert")
            },
        ),
        (
            "normal truncated",
            DistributionSpec {
                mean: Some(0.0),
                sd: Some(1.0),
                lower: Some(0.0),
                upper: Some(0.5),
                ..spec("normal")
            },
        ),
        (
            "gamma truncated above",
            DistributionSpec {
                mean: Some(4.0),
                sd: Some(2.0),
                upper: Some(3.0),
                ..spec("gamma")
            },
        ),
    ];
    cases
        .into_iter()
        .map(|(label, s)| (label, Distribution::try_from(&s).unwrap()))
        .collect()
}

/// Compares pinned values exactly and, on any difference, fails listing
/// every case's actual values in `{:?}` form.
struct Pins {
    report: String,
    failed: Vec<String>,
}

impl Pins {
    fn new() -> Pins {
        Pins {
            report: String::new(),
            failed: Vec::new(),
        }
    }

    fn check(&mut self, label: &str, actual: &[f64], expected: &[f64]) {
        let _ = writeln!(self.report, "(\"{label}\", &{actual:?}),");
        let same = actual.len() == expected.len()
            && actual
                .iter()
                .zip(expected)
                .all(|(a, e)| a.to_bits() == e.to_bits());
        if !same {
            self.failed
                .push(format!("{label}: expected {expected:?}, got {actual:?}"));
        }
    }

    fn finish(self) {
        assert!(
            self.failed.is_empty(),
            "pinned values changed:\n{}\n\nall actual values:\n{}",
            self.failed.join("\n"),
            self.report
        );
    }
}

/// Each shape's random draw in runs 0 to 4, exactly as an ensemble with
/// random sampling draws it.
const RANDOM: &[(&str, &[f64])] = &[
    (
        "gamma large shape scaled",
        &[
            4.935646715075416,
            5.046433685342937,
            4.6352904318814225,
            5.390818240711379,
            6.008447617206263,
        ],
    ),
    (
        "normal mean sd",
        &[
            2.0932698447348006,
            2.13472862350758,
            2.114435877198332,
            2.2022333088201176,
            1.1077785679846999,
        ],
    ),
    (
        "normal p5 p95",
        &[
            2.143151022708426,
            2.42310287737729,
            3.654962811729662,
            1.633723656649491,
            1.3626422047157998,
        ],
    ),
    (
        "lognormal mean sd",
        &[
            1.7359072466519883,
            2.421622608501959,
            1.6340410715242404,
            1.25737070788628,
            1.6569361049915678,
        ],
    ),
    (
        "lognormal p5 p95",
        &[
            5.642509136731832,
            2.609717525988496,
            3.866658666157344,
            2.0363217724538094,
            4.517275063121023,
        ],
    ),
    (
        "beta mean sd",
        &[
            0.3497720580140964,
            0.1496500432407167,
            0.29688278910857413,
            0.3574056689583493,
            0.4198770025723342,
        ],
    ),
    (
        "beta alpha beta scaled",
        &[
            13.54269830590258,
            10.209999339086826,
            14.937623917540446,
            14.026401440977978,
            12.12065727145941,
        ],
    ),
    (
        "beta small shapes",
        &[
            0.4211873013278651,
            0.8775966695268654,
            0.3848627006011531,
            0.08848757654652116,
            0.7371231930799826,
        ],
    ),
    (
        "gamma mean sd",
        &[
            3.316757895614908,
            3.827230782093465,
            2.311965824835679,
            5.580716074268133,
            3.2760318649769635,
        ],
    ),
    (
        "gamma shape scale",
        &[
            0.9302589084335424,
            1.564955134947519,
            0.012983425559916575,
            4.8295781537976135,
            0.6657612515128746,
        ],
    ),
    (
        "uniform",
        &[
            0.0023135893438951173,
            0.07943079903362557,
            0.07342724074160437,
            0.056019273921607805,
            0.04986147952430054,
        ],
    ),
    (
        "triangular",
        &[
            5.816998874690569,
            7.304232616114063,
            6.536736679415706,
            4.550662893163901,
            5.963056429941822,
        ],
    ),
    (
        "pert",
        &[
            0.2646937670242304,
            0.1872924092339527,
            0.316794203503206,
            0.3904738337042317,
            0.3291290315444539,
        ],
    ),
    (
        "normal truncated",
        &[
            0.2939874939808081,
            0.21280667311532128,
            0.39088279721921265,
            0.2934185532661826,
            0.1561834837863677,
        ],
    ),
    (
        "gamma truncated above",
        &[
            1.4838307068246737,
            1.8477068421431766,
            2.9381081228862858,
            2.7717367711258767,
            1.3460591301810663,
        ],
    ),
];

/// Each shape's inverse distribution function (`statrs`, truncation
/// applied) at [`US`]: how Latin hypercube sampling maps its uniforms.
const AT_QUANTILE: &[(&str, &[f64])] = &[
    (
        "gamma large shape scaled",
        &[
            0.8591071695463282,
            2.0059521070741266,
            3.2635951433216532,
            4.9692598228719325,
            8.30287327013726,
        ],
    ),
    (
        "normal mean sd",
        &[
            1.1775731865242638,
            1.6627551249019592,
            2.0,
            2.337244875098041,
            2.822426813475736,
        ],
    ),
    (
        "normal p5 p95",
        &[
            0.9999999999999998,
            1.5899393483138295,
            2.0,
            2.4100606516861705,
            3.0,
        ],
    ),
    (
        "lognormal mean sd",
        &[
            0.8224877029027768,
            1.3007739666834839,
            1.7888543819998317,
            2.460073834471699,
            3.8906356760184413,
        ],
    ),
    (
        "lognormal p5 p95",
        &[
            1.9999999999999998,
            3.010366934694442,
            4.0,
            5.314966695787213,
            8.000000000000002,
        ],
    ),
    (
        "beta mean sd",
        &[
            0.14746956555923718,
            0.22735859468332564,
            0.2932201799436492,
            0.36550140870563874,
            0.47579711042140815,
        ],
    ),
    (
        "beta alpha beta scaled",
        &[
            10.427004003761907,
            11.10379227084016,
            11.827919708052809,
            12.725681714410879,
            14.165623788730432,
        ],
    ),
    (
        "beta small shapes",
        &[
            0.003302746484342405,
            0.08168548510884224,
            0.31518172028283753,
            0.6604532468478936,
            0.9500624176575538,
        ],
    ),
    (
        "gamma mean sd",
        &[
            1.3663183967498298,
            2.5353202113737785,
            3.672060748850891,
            5.1094274851233825,
            7.753656527932729,
        ],
    ),
    (
        "gamma shape scale",
        &[
            0.036489598297225215,
            0.3892947715080181,
            1.2222712446905422,
            2.884521260682906,
            7.147860055945115,
        ],
    ),
    ("uniform", &[0.004, 0.02, 0.04, 0.06, 0.076]),
    (
        "triangular",
        &[
            3.5,
            4.127016653792583,
            4.83772233983162,
            5.76393202250021,
            7.0,
        ],
    ),
    (
        "pert",
        &[
            0.13494275558970964,
            0.2306093847918993,
            0.3021642337314689,
            0.36800559365366864,
            0.439467150069824,
        ],
    ),
    (
        "normal truncated",
        &[
            0.023998564335555066,
            0.12027062962642815,
            0.24231313244667654,
            0.36808975725928733,
            0.472988584365906,
        ],
    ),
    (
        "gamma truncated above",
        &[
            0.9774808052345776,
            1.666151085526744,
            2.1782309851564916,
            2.602654799078001,
            2.921244321005079,
        ],
    ),
];

fn pinned<'a>(table: &'a [(&str, &[f64])], label: &str) -> &'a [f64] {
    table
        .iter()
        .find(|(l, _)| *l == label)
        .map_or(&[], |(_, v)| *v)
}

#[test]
fn random_draws_are_pinned() {
    let mut pins = Pins::new();
    for (label, d) in shapes() {
        let actual: Vec<f64> = (0..RUNS)
            .map(|run| d.sample(&mut generator(SEED, label, run)))
            .collect();
        pins.check(label, &actual, pinned(RANDOM, label));
    }
    pins.finish();
}

#[test]
fn inverse_distribution_functions_are_pinned() {
    let mut pins = Pins::new();
    for (label, d) in shapes() {
        let actual: Vec<f64> = US.iter().map(|u| d.at_quantile(*u)).collect();
        pins.check(label, &actual, pinned(AT_QUANTILE, label));
    }
    pins.finish();
}

/// The baseline scenario with other runs, horizon and sampling: a file
/// that extends it, as a user would write.
fn baseline(runs: usize, horizon: usize, sampling: Sampling) -> Prepared {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/baseline.toml");
    let dir = std::env::temp_dir().join(format!(
        "carecascade-value-stability-{}-{runs}-{horizon}-{sampling}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("short.toml");
    std::fs::write(
        &file,
        format!(
            "extends = {:?}\n[time]\nhorizon = {horizon}\n[monte_carlo]\nruns = {runs}\nsampling = \"{sampling}\"\n",
            base.display().to_string()
        ),
    )
    .unwrap();
    let s = Scenario::load_with(&file, &carecascade::library()).unwrap();
    let p = s.prepare().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    p
}

/// The generator above is the ensembles' own: with random sampling, the
/// public [`draws`] of the baseline scenario's parameters are exactly
/// `Distribution::sample` on it.
#[test]
fn generator_is_the_ensembles() {
    let p = baseline(16, 2, Sampling::Random);
    let sampler = Sampler::new(&p, 16).unwrap();
    for run in 0..RUNS as usize {
        let mut expected: Vec<f64> = p
            .uncertain()
            .iter()
            .map(|(name, _, d)| d.sample(&mut generator(p.scenario().seed(), name, run as u64)))
            .collect();
        // Then the posterior's row, if any, picked on the stream of
        // "posterior draw".
        if let Some(posterior) = p.posterior() {
            let row = generator(p.scenario().seed(), "posterior draw", run as u64)
                .random_range(0..posterior.rows.len());
            expected.extend_from_slice(&posterior.rows[row]);
        }
        assert_eq!(sampler.draws(run).unwrap(), expected, "run {run}");
        assert_eq!(draws(&p, run, 16).unwrap(), expected, "run {run}");
    }
}

/// The baseline scenario (Latin hypercube, seed 20250331) with 16 runs
/// over 2 years: its `quantiles.csv` and `runs.csv`, whose numbers are
/// written in Rust's shortest round-tripping form, so equal text is equal
/// values. `CARECASCADE_REPIN=1 cargo test --test value_stability` rewrites
/// the two files (then `git diff` shows what changed).
#[test]
fn baseline_ensemble_is_pinned() {
    let p = baseline(16, 2, Sampling::LatinHypercube);
    let outcome = run_scenarios(&[p], &RunOptions::default()).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected");
    for (file, actual) in [
        (
            "baseline-16-runs-2-years-quantiles.csv",
            outcome.quantiles_csv(),
        ),
        ("baseline-16-runs-2-years-runs.csv", outcome.runs_csv()),
    ] {
        if std::env::var_os("CARECASCADE_REPIN").is_some() {
            std::fs::write(dir.join(file), &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if actual != expected {
            let first = actual
                .lines()
                .zip(expected.lines())
                .position(|(a, e)| a != e)
                .unwrap_or(actual.lines().count().min(expected.lines().count()));
            panic!(
                "tests/expected/{file} changed, first at line {}:\n  expected {:?}\n  got      {:?}\n\nactual file:\n{actual}",
                first + 1,
                expected.lines().nth(first),
                actual.lines().nth(first)
            );
        }
    }
}
