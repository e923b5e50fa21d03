//! Vensim's and XMILE's random functions: seeded streams that repeat
//! exactly for a seed, respect their truncation bounds, and have the
//! distribution's moments. (The numbers are not Vensim's: its generator is
//! not documented.)

use carecascade_engine::format::{vensim, xmile};
use carecascade_engine::{Model, Program};

/// Draws every step from t = 0 to 20000.
fn mdl(equations: &str) -> Model {
    vensim::parse(
        &format!(
            "{{UTF-8}}\n{equations}\nINITIAL TIME = 0 ~~|\nFINAL TIME = 20000 ~~|\n\
             TIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n\\\\\\---/// Sketch\n"
        ),
        Some("m.mdl"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn draws(model: &Model, name: &str, seed: u64) -> Vec<f64> {
    let program = Program::compile(model).unwrap_or_else(|e| panic!("{e}"));
    let mut state = program.state();
    state.set_seed(seed);
    let r = state.run().unwrap_or_else(|e| panic!("{e}"));
    r.series(name).unwrap().to_vec()
}

fn mean_and_variance(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let variance = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, variance)
}

/// The mean within five standard errors, the variance within 10%.
fn check_moments(x: &[f64], mean: f64, variance: f64, what: &str) {
    let (m, v) = mean_and_variance(x);
    let se = (variance / x.len() as f64).sqrt();
    assert!(
        (m - mean).abs() < 5.0 * se,
        "{what}: mean {m}, expected {mean}"
    );
    assert!(
        (v - variance).abs() < 0.1 * variance,
        "{what}: variance {v}, expected {variance}"
    );
}

#[test]
fn uniform_normal_and_exponential_have_their_moments_and_bounds() {
    let m = mdl("u = RANDOM UNIFORM(2, 5, 1) ~~|\n\
         n = RANDOM NORMAL(-1, 3, 1, 2, 7) ~~|\n\
         e = RANDOM EXPONENTIAL(0, 1000, 2, 3, 1) ~~|\n\
         z = RANDOM 0 1() ~~|");
    let u = draws(&m, "u", 1);
    assert!(u.iter().all(|&x| (2.0..5.0).contains(&x)));
    check_moments(&u, 3.5, 9.0 / 12.0, "uniform");
    // A normal of mean 1 and sd 2 cut at one sd either side: mean 1,
    // variance 4 (1 - 2 phi(1) / (Phi(1) - Phi(-1))).
    let n = draws(&m, "n", 1);
    assert!(n.iter().all(|&x| (-1.0..=3.0).contains(&x)));
    let phi1 = (-0.5f64).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let mass = 0.682_689_492_137_085_9;
    check_moments(&n, 1.0, 4.0 * (1.0 - 2.0 * phi1 / mass), "truncated normal");
    // 2 + 3 * Exp(1).
    let e = draws(&m, "e", 1);
    assert!(e.iter().all(|&x| x >= 2.0));
    check_moments(&e, 5.0, 9.0, "exponential");
    let z = draws(&m, "z", 1);
    assert!(z.iter().all(|&x| (0.0..1.0).contains(&x)));
}

#[test]
fn poisson_gamma_beta_binomial_and_weibull_have_their_moments() {
    let m = mdl("p = RANDOM POISSON(0, 1000, 4, 0, 1, 1) ~~|\n\
         g = RANDOM GAMMA(0, 1000, 3, 1, 2, 1) ~~|\n\
         b = RANDOM BETA(0, 10, 2, 3, 0, 1, 1) ~~|\n\
         k = RANDOM BINOMIAL(0, 100, 0.3, 10, 0, 1, 1) ~~|\n\
         w = RANDOM WEIBULL(0, 1000, 1, 0, 1, 1) ~~|\n\
         cut = RANDOM POISSON(2, 5, 4, 0, 1, 1) ~~|");
    let p = draws(&m, "p", 3);
    assert!(p.iter().all(|&x| x.fract() == 0.0 && x >= 0.0));
    check_moments(&p, 4.0, 4.0, "poisson");
    // 1 + 2 * Gamma(3): mean 7, variance 4 * 3.
    check_moments(&draws(&m, "g", 3), 7.0, 12.0, "gamma");
    // Beta(2, 3): mean 0.4, variance 6 / (25 * 6) = 0.04.
    check_moments(&draws(&m, "b", 3), 0.4, 0.04, "beta");
    check_moments(&draws(&m, "k", 3), 3.0, 2.1, "binomial");
    // Weibull of shape 1 is Exp(1).
    check_moments(&draws(&m, "w", 3), 1.0, 1.0, "weibull");
    let cut = draws(&m, "cut", 3);
    assert!(cut.iter().all(|&x| (2.0..=5.0).contains(&x)));
    assert!([2.0, 3.0, 4.0, 5.0].iter().all(|v| cut.contains(v)));
}

#[test]
fn triangular_has_its_moments_peak_and_bounds() {
    let m = mdl("t = RANDOM TRIANGULAR(0, 100, 1, 2, 5, 1) ~~|\n\
         cut = RANDOM TRIANGULAR(2, 4, 1, 2, 5, 1) ~~|");
    let t = draws(&m, "t", 2);
    assert!(t.iter().all(|&x| (1.0..=5.0).contains(&x)));
    // Start 1, peak 2, end 5: mean 8/3, variance (1 + 4 + 25 - 2 - 5 -
    // 10) / 18, and a quarter of the draws below the peak.
    check_moments(&t, 8.0 / 3.0, 13.0 / 18.0, "triangular");
    let below = t.iter().filter(|&&x| x < 2.0).count() as f64 / t.len() as f64;
    assert!((below - 0.25).abs() < 0.015, "{below}");
    let cut = draws(&m, "cut", 2);
    assert!(cut.iter().all(|&x| (2.0..=4.0).contains(&x)));
    // Between 2 and 4 the density falls linearly from its peak to 1/3 of
    // it: mean 2 + (2/3) (1 + 2 (1/3)) / (1 + 1/3) = 2 + 5/6.
    check_moments(
        &cut,
        2.0 + 5.0 / 6.0,
        mean_and_variance(&cut).1,
        "truncated triangular",
    );
    // A peak beyond the end stops the run, naming the variable.
    let m = mdl("bad = RANDOM TRIANGULAR(0, 10, 1, 7, 5, 1) ~~|");
    let e = Program::compile(&m).unwrap().run().unwrap_err().to_string();
    assert!(e.contains("`bad`"), "{e}");
}

#[test]
fn pink_noise_has_its_mean_standard_deviation_and_correlation_time() {
    // Correlation time 2 with TIME STEP 1: each step keeps 1 - 1/2 of the
    // last value, so the lag-k autocorrelation is 0.5^k.
    let m = mdl("p = RANDOM PINK NOISE(10, 2, 2, 1) ~~|\n\
         q = RANDOM PINK NOISE(10, 2, 2, 1) ~~|");
    let p = draws(&m, "p", 4);
    assert_eq!(p[0], 10.0, "the noise starts at its mean");
    let (mean, variance) = mean_and_variance(&p);
    // The standard error of the mean of an AR(1) series with lag-1
    // correlation 0.5: sqrt(4 / n * 1.5 / 0.5).
    let se = (4.0 / p.len() as f64 * 3.0).sqrt();
    assert!((mean - 10.0).abs() < 5.0 * se, "mean {mean}");
    assert!((variance - 4.0).abs() < 0.25, "variance {variance}");
    let lag = |k: usize| {
        let pairs = p.len() - k;
        (0..pairs)
            .map(|i| (p[i] - mean) * (p[i + k] - mean))
            .sum::<f64>()
            / pairs as f64
            / variance
    };
    assert!((lag(1) - 0.5).abs() < 0.03, "lag 1: {}", lag(1));
    assert!((lag(2) - 0.25).abs() < 0.03, "lag 2: {}", lag(2));
    assert!(lag(6).abs() < 0.03, "lag 6: {}", lag(6));
    // Each call has its own stream.
    assert_ne!(p, draws(&m, "q", 4));
}

#[test]
fn streams_repeat_for_a_seed_and_differ_between_seeds_calls_and_elements() {
    let m = mdl(
        "a = RANDOM UNIFORM(0, 1, 1) ~~|\nb = RANDOM UNIFORM(0, 1, 1) ~~|\n\
         c = RANDOM UNIFORM(0, 1, 2) ~~|\nd: d1, d2 ~~|\nv[d] = RANDOM UNIFORM(0, 1, 1) ~~|",
    );
    let first = draws(&m, "a", 5);
    assert_eq!(first, draws(&m, "a", 5), "the same seed repeats");
    assert_ne!(first, draws(&m, "a", 6), "another seed differs");
    assert_ne!(first, draws(&m, "b", 5), "each call has its own stream");
    assert_ne!(first, draws(&m, "c", 5));
    assert_ne!(draws(&m, "v[d1]", 5), draws(&m, "v[d2]", 5));
    // A batch of runs draws what each run draws alone.
    let program = Program::compile(&m).unwrap();
    let mut batch = program.batch::<2>();
    batch.set_seed(0, 5).unwrap();
    batch.set_seed(1, 6).unwrap();
    let a = program.output_index("a").unwrap();
    let mut lanes = [Vec::new(), Vec::new()];
    batch
        .run_observing(&mut |_, row| {
            for (lane, values) in lanes.iter_mut().enumerate() {
                values.push(row.get(a, lane).unwrap());
            }
        })
        .unwrap();
    assert_eq!(lanes[0], first);
    assert_eq!(lanes[1], draws(&m, "a", 6));
}

#[test]
fn xmile_random_and_normal() {
    let m = xmile::parse(
        "<xmile><sim_specs><start>0</start><stop>20000</stop><dt>1</dt></sim_specs>\
         <model><variables>\
         <aux name=\"u\"><eqn>RANDOM(1, 3)</eqn></aux>\
         <aux name=\"n\"><eqn>NORMAL(10, 2, 4)</eqn></aux>\
         <aux name=\"p\"><eqn>POISSON(3)</eqn></aux>\
         <aux name=\"e\"><eqn>EXPRND(2)</eqn></aux>\
         </variables></model></xmile>",
        Some("m.xmile"),
    )
    .unwrap();
    let u = draws(&m, "u", 1);
    assert!(u.iter().all(|&x| (1.0..3.0).contains(&x)));
    check_moments(&u, 2.0, 4.0 / 12.0, "uniform");
    check_moments(&draws(&m, "n", 1), 10.0, 4.0, "normal");
    check_moments(&draws(&m, "p", 1), 3.0, 3.0, "poisson");
    check_moments(&draws(&m, "e", 1), 2.0, 4.0, "exponential");
}

#[test]
fn seeds_must_be_numbers_and_impossible_bounds_stop_the_run() {
    let m = mdl("s = 1 + Time ~~|\nx = RANDOM UNIFORM(0, 1, s) ~~|");
    let e = Program::compile(&m).unwrap_err().to_string();
    assert!(e.contains("m.mdl:3:") && e.contains("seed"), "{e}");
    // A normal cut far out in its tail: no draw lands in [50, 51].
    let m = mdl("x = RANDOM NORMAL(50, 51, 0, 1, 1) ~~|");
    let e = Program::compile(&m).unwrap().run().unwrap_err().to_string();
    assert!(e.contains("`x`"), "{e}");
}

#[test]
fn random_draws_survive_export_and_run_interpreted_under_the_compiled_back_end() {
    use carecascade_engine::Backend;
    use carecascade_engine::format::native;
    let m = mdl(
        "b = RANDOM NORMAL(-5, 5, 0, 1, 3) + a + c + p ~~|\na = RANDOM UNIFORM(0, 1, 1) ~~|\n\
         c = RANDOM TRIANGULAR(0, 3, 0, 1, 3, 5) ~~|\np = RANDOM PINK NOISE(0, 1, 4, 2) ~~|\n\
         s = INTEG(a, 0) ~~|",
    );
    let first = draws(&m, "b", 9);
    // The native format writes variables in another order; the streams
    // follow the variables, not the order.
    let again = native::parse(&native::write(&m), Some("m.toml")).unwrap();
    assert_eq!(draws(&again, "b", 9), first);
    let through_xmile = xmile::parse(&xmile::write(&m), Some("m.xmile")).unwrap();
    assert_eq!(draws(&through_xmile, "b", 9), first);
    let program = Program::compile(&m).unwrap();
    let mut state = program.state();
    state.set_seed(9);
    state.set_backend(Backend::Compiled);
    let r = state.run().unwrap();
    assert_eq!(r.series("b").unwrap().to_vec(), first);
    assert!(cfg!(not(feature = "jit")) || state.fallback().is_some());
}
