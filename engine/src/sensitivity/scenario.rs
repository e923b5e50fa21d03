//! Sensitivity of a scenario's outputs to its uncertain parameters, alone
//! or as the paired difference from a base scenario.

use super::{Bootstrap, MorrisDesign, MorrisEffects, SaltelliDesign, SobolIndices};
use crate::ensemble::{RunOutput, run_draws};
use crate::error::{Error, Result};
use crate::name::{canonical_name, closest, did_you_mean};
use crate::scenario::Prepared;
use serde::Serialize;

/// Which method, with its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// Sobol indices from `samples` base samples (`N`): `N (k + 2)` runs
    /// per scenario for `k` factors.
    Sobol {
        /// Base samples, `N`.
        samples: usize,
    },
    /// Morris elementary effects from `trajectories` trajectories over a
    /// grid of `levels` levels: `r (k + 1)` runs per scenario.
    Morris {
        /// Trajectories, `r`.
        trajectories: usize,
        /// Grid levels, `p` (even).
        levels: usize,
    },
}

impl Method {
    /// `sobol` or `morris`.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Sobol { .. } => "sobol",
            Method::Morris { .. } => "morris",
        }
    }
}

/// What to analyse and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The method and its size.
    pub method: Method,
    /// The seed of the design (the bootstrap has its own, in `bootstrap`).
    pub seed: u64,
    /// The bootstrap intervals.
    pub bootstrap: Bootstrap,
    /// The outputs (see [`Target::parse`]); empty for
    /// [`default_outputs`].
    pub outputs: Vec<String>,
}

/// A scalar output of each run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Target {
    /// One of the scenario's `[report.scalars]`, by its position.
    Scalar(usize),
    /// A stored indicator's value in one period: `(indicator, period row)`.
    Indicator(usize, usize),
}

impl Target {
    /// Resolves an output name against a prepared scenario: the name of
    /// one of its scalars (`npv_m`), or `INDICATOR@PERIOD`, a stored
    /// indicator's value in the period with that label
    /// (`cla_at_31_march@2030`).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the output and suggesting the closest
    /// scalar, indicator or period.
    pub fn parse(name: &str, prepared: &Prepared) -> Result<Target> {
        let scalars = prepared.scalar_names();
        let wanted = canonical_name(name);
        if let Some(k) = scalars.iter().position(|s| canonical_name(s) == wanted) {
            return Ok(Target::Scalar(k));
        }
        let scenario = prepared.scenario().name();
        let Some((indicator, period)) = name.rsplit_once('@') else {
            let mut candidates: Vec<String> = scalars.clone();
            let last = prepared.periods().labels().last().copied().unwrap_or(0.0);
            candidates.extend(prepared.indicators().iter().map(|i| format!("{i}@{last}")));
            return Err(Error::Invalid {
                what: format!("output `{name}`"),
                message: format!(
                    "is not a scalar of scenario `{scenario}` ({}) nor INDICATOR@PERIOD{}",
                    if scalars.is_empty() {
                        "it has none".to_string()
                    } else {
                        scalars.join(", ")
                    },
                    did_you_mean(closest(name, candidates.iter().map(String::as_str)))
                ),
            });
        };
        let indicator = indicator.trim();
        let column = prepared
            .indicators()
            .iter()
            .position(|i| canonical_name(i) == canonical_name(indicator))
            .ok_or_else(|| Error::Invalid {
                what: format!("output `{name}`"),
                message: format!(
                    "`{indicator}` is not an indicator of scenario `{scenario}`{}",
                    did_you_mean(closest(
                        indicator,
                        prepared.indicators().iter().map(String::as_str)
                    ))
                ),
            })?;
        let labels = prepared.periods().labels();
        let label = prepared.scenario().label();
        let row = period
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|p| {
                labels
                    .iter()
                    .position(|&l| (l - p).abs() <= 1e-9 * p.abs().max(1.0))
            })
            .ok_or_else(|| Error::Invalid {
                what: format!("output `{name}`"),
                message: format!(
                    "`{period}` is not a {label} of scenario `{scenario}` ({} to {})",
                    labels.first().copied().unwrap_or(f64::NAN),
                    labels.last().copied().unwrap_or(f64::NAN)
                ),
            })?;
        Ok(Target::Indicator(column, row))
    }

    fn of(&self, run: &RunOutput) -> f64 {
        match *self {
            Target::Scalar(k) => run.scalars[k],
            Target::Indicator(column, row) => run.values[column][row],
        }
    }
}

/// The outputs analysed when none are named: the scenario's scalars, or,
/// if it has none, each stored indicator in the last period.
pub fn default_outputs(prepared: &Prepared) -> Vec<String> {
    let scalars = prepared.scalar_names();
    if !scalars.is_empty() {
        return scalars;
    }
    let last = prepared.periods().labels().last().copied().unwrap_or(0.0);
    prepared
        .indicators()
        .iter()
        .map(|i| format!("{i}@{last}"))
        .collect()
}

/// An uncertain input varied by the analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Factor {
    /// The parameter's name, or `calibrated parameters (posterior draw)` for a posterior's draws
    /// varied together as one factor.
    pub name: String,
    /// Its distribution, as the scenario gives it (with the base's if it
    /// differs), or the posterior file and its size.
    pub distribution: String,
}

/// The analysis of one output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputResult {
    /// The output's name, as given.
    pub name: String,
    /// Its mean over the design's runs.
    pub mean: f64,
    /// Its standard deviation over the design's runs.
    pub sd: f64,
    /// Whether it varies: false when it is the same in every run up to
    /// rounding (a standard deviation below 1e-9 of its typical size in
    /// the scenario, such as a paired difference the policy does not
    /// touch). Then it has no Sobol indices (NaN) and no elementary
    /// effects (0).
    pub varies: bool,
    /// Sobol indices by factor (Sobol only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sobol: Vec<SobolIndices>,
    /// Elementary effects by factor (Morris only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub morris: Vec<MorrisEffects>,
}

impl OutputResult {
    /// The factors from most to least influential: by total-order index
    /// (Sobol) or `mu*` (Morris), NaN last.
    pub fn ranked(&self) -> Vec<usize> {
        let key = |i: usize| -> f64 {
            let v = if self.sobol.is_empty() {
                self.morris[i].mu_star.value
            } else {
                self.sobol[i].total.value
            };
            if v.is_nan() { f64::NEG_INFINITY } else { v }
        };
        let mut order: Vec<usize> = (0..self.sobol.len().max(self.morris.len())).collect();
        order.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
        order
    }
}

/// What [`run`] found: the factors, and each output's indices or effects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// The engine's version.
    pub version: String,
    /// The scenario.
    pub scenario: String,
    /// The base it is paired against, if any: outputs are then the
    /// scenario's minus the base's, row by row.
    pub against: Option<String>,
    /// `sobol` or `morris`.
    pub method: String,
    /// How the design's points were drawn.
    pub design: String,
    /// Base samples (Sobol) or trajectories (Morris).
    pub samples: usize,
    /// Morris's grid levels.
    pub levels: Option<usize>,
    /// Runs per scenario.
    pub runs: usize,
    /// The design's seed.
    pub seed: u64,
    /// The bootstrap's settings.
    pub bootstrap: Bootstrap,
    /// The factors, in the order of each output's indices.
    pub factors: Vec<Factor>,
    /// The outputs.
    pub outputs: Vec<OutputResult>,
}

/// The columns of a scenario's draws ([`Prepared::drawn`]) as a function of
/// a design row: per uncertain parameter, its factor; then the posterior's
/// factor, if it has one.
struct Mapping {
    uncertain: Vec<usize>,
    posterior: Option<usize>,
}

impl Mapping {
    fn draws(&self, prepared: &Prepared, row: &[f64]) -> Vec<f64> {
        let mut out: Vec<f64> = prepared
            .uncertain()
            .iter()
            .zip(&self.uncertain)
            .map(|((_, _, d), &f)| d.at_quantile(row[f]))
            .collect();
        if let (Some(p), Some(f)) = (prepared.posterior(), self.posterior)
            && !p.rows.is_empty()
        {
            let n = p.rows.len();
            let k = ((row[f] * n as f64) as usize).min(n - 1);
            out.extend_from_slice(&p.rows[k]);
        }
        out
    }
}

/// The factors of the scenarios together (the first's uncertain
/// parameters, then any only the base has, then each distinct posterior),
/// and how each scenario's draws follow from a row.
fn factors(scenarios: &[&Prepared]) -> (Vec<Factor>, Vec<Mapping>) {
    let mut factors: Vec<Factor> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let mut mappings = Vec::new();
    for p in scenarios {
        let mut uncertain = Vec::new();
        for (name, _, d) in p.uncertain() {
            let key = canonical_name(name);
            let f = match keys.iter().position(|k| *k == key) {
                Some(f) => {
                    let described = d.to_string();
                    if !factors[f].distribution.contains(&described) {
                        factors[f]
                            .distribution
                            .push_str(&format!("; {described} in `{}`", p.scenario().name()));
                    }
                    f
                }
                None => {
                    keys.push(key);
                    factors.push(Factor {
                        name: name.clone(),
                        distribution: d.to_string(),
                    });
                    factors.len() - 1
                }
            };
            uncertain.push(f);
        }
        mappings.push(Mapping {
            uncertain,
            posterior: None,
        });
    }
    for (p, mapping) in scenarios.iter().zip(&mut mappings) {
        if let Some(posterior) = p.posterior() {
            // The same file however its path is spelled (a scenario and
            // the file it extends may name it relative to different
            // places): one factor, so that a paired difference takes the
            // same draw in both.
            let file = same_file_key(&posterior.file);
            let key = format!("posterior:{}", file.display());
            let f = match keys.iter().position(|k| *k == key) {
                Some(f) => f,
                None => {
                    keys.push(key);
                    factors.push(Factor {
                        name: "calibrated parameters (posterior draw)".into(),
                        distribution: format!(
                            "one of {} draws of {} calibrated parameters together ({})",
                            posterior.rows.len(),
                            posterior.names.len(),
                            posterior.file.display()
                        ),
                    });
                    factors.len() - 1
                }
            };
            mapping.posterior = Some(f);
        }
    }
    (factors, mappings)
}

/// A path that names the same file however it was spelled: the canonical
/// path, or, for a file that cannot be reached now, the absolute path with
/// `.` and `..` resolved by their names.
fn same_file_key(path: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return canonical;
    }
    let absolute = std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf());
    let mut out = std::path::PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The runs [`run`] makes of each scenario: `N (k + 2)` (Sobol) or
/// `r (k + 1)` (Morris) for the `k` factors of the scenarios together.
pub fn runs_needed(scenario: &Prepared, against: Option<&Prepared>, method: Method) -> usize {
    let mut scenarios = vec![scenario];
    scenarios.extend(against);
    let k = factors(&scenarios).0.len();
    match method {
        Method::Sobol { samples } => samples.saturating_mul(k + 2),
        Method::Morris { trajectories, .. } => trajectories.saturating_mul(k + 1),
    }
}

/// Runs a sensitivity analysis of `scenario`'s outputs (or of its paired
/// difference from `against`) over its uncertain parameters.
///
/// The factors are the uncertain parameters of the scenario and of the
/// base (by name; a parameter in both is one factor, each scenario
/// mapping its coordinate through its own distribution) and, if a
/// scenario draws from a posterior, the posterior as one factor (its
/// calibrated parameters vary together, as they were fitted; a coordinate
/// `u` takes the draw `floor(u n)` of `n`). Every design row is run in
/// each scenario, in parallel in batches as ensemble runs are
/// ([`run_draws`]); `progress` is called after each run.
///
/// # Errors
///
/// [`Error::Invalid`] for a scenario with nothing uncertain, outputs that
/// are not scalars or `INDICATOR@PERIOD` of both scenarios (suggesting
/// the closest), scenarios with different periods, or an invalid design;
/// [`Error::Run`] for a failing run.
pub fn run(
    scenario: &Prepared,
    against: Option<&Prepared>,
    settings: &Settings,
    progress: &(dyn Fn() + Sync),
) -> Result<Analysis> {
    let mut scenarios = vec![scenario];
    scenarios.extend(against);
    if let Some(base) = against
        && base.periods() != scenario.periods()
    {
        return Err(Error::Invalid {
            what: format!("scenario `{}`", scenario.scenario().name()),
            message: format!(
                "has other periods than `{}`: a paired difference needs the same periods (set [time] in a common base file)",
                base.scenario().name()
            ),
        });
    }
    let names = if settings.outputs.is_empty() {
        default_outputs(scenario)
    } else {
        settings.outputs.clone()
    };
    let mut targets = Vec::new();
    let mut errors = Vec::new();
    for name in &names {
        let resolved: Result<Vec<Target>> =
            scenarios.iter().map(|p| Target::parse(name, p)).collect();
        match resolved {
            Ok(t) => targets.push(t),
            Err(e) => errors.push(e),
        }
    }
    Error::from_list(errors)?;
    let (factors, mappings) = factors(&scenarios);
    if factors.is_empty() {
        return Err(Error::Invalid {
            what: format!("scenario `{}`", scenario.scenario().name()),
            message: "has no [uncertain] parameters (and no [posterior]) to vary".into(),
        });
    }
    let k = factors.len();
    enum Design {
        Sobol(SaltelliDesign),
        Morris(MorrisDesign),
    }
    let design = match settings.method {
        Method::Sobol { samples } => Design::Sobol(SaltelliDesign::new(k, samples, settings.seed)?),
        Method::Morris {
            trajectories,
            levels,
        } => Design::Morris(MorrisDesign::new(k, trajectories, levels, settings.seed)?),
    };
    settings.bootstrap.check()?;
    let rows = match &design {
        Design::Sobol(d) => d.rows(),
        Design::Morris(d) => d.rows(),
    };
    let bytes: u128 = scenarios
        .iter()
        .map(|p| crate::ensemble::ensemble_bytes(std::slice::from_ref(*p), rows.len()))
        .sum();
    if bytes > crate::ensemble::MAX_ENSEMBLE_BYTES {
        return Err(Error::Invalid {
            what: "sensitivity design".into(),
            message: format!(
                "{} runs would keep about {:.1} GB in memory, more than the limit of {:.1} GB: use fewer samples or fewer stored indicators",
                rows.len(),
                bytes as f64 / 1e9,
                crate::ensemble::MAX_ENSEMBLE_BYTES as f64 / 1e9
            ),
        });
    }
    // Each scenario's outputs, row by row.
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    // The typical size of each output in the scenario, to tell a paired
    // difference from rounding.
    let mut scales = vec![0.0; targets.len()];
    for (s, (p, mapping)) in scenarios.iter().zip(&mappings).enumerate() {
        let draws: Vec<Vec<f64>> = rows.iter().map(|r| mapping.draws(p, r)).collect();
        let runs = run_draws(p, draws, progress)?;
        for (t, target) in targets.iter().enumerate() {
            let these = runs.iter().map(|r| target[s].of(r));
            if s == 0 {
                values[t] = these.collect();
                scales[t] =
                    values[t].iter().map(|v| v.abs()).sum::<f64>() / values[t].len().max(1) as f64;
            } else {
                // The scenario minus the base, row by row.
                for (v, b) in values[t].iter_mut().zip(these) {
                    *v -= b;
                }
            }
        }
    }
    let mut outputs = Vec::new();
    for ((name, y), scale) in names.iter().zip(&values).zip(&scales) {
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let sd = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
        // Differences of a few units in the last place (sums of weekly
        // flows taken in another order) are not variation to apportion.
        let varies = sd > 1e-9 * scale;
        let constant;
        let y = if varies {
            y
        } else {
            constant = vec![mean; y.len()];
            &constant
        };
        let in_context = |e: Error| Error::Invalid {
            what: format!("output `{name}`"),
            message: e.to_string(),
        };
        let (sobol, morris) = match &design {
            Design::Sobol(d) => (
                d.analyse(y, &settings.bootstrap).map_err(in_context)?,
                Vec::new(),
            ),
            Design::Morris(d) => (
                Vec::new(),
                d.analyse(y, &settings.bootstrap).map_err(in_context)?,
            ),
        };
        outputs.push(OutputResult {
            name: name.clone(),
            mean,
            sd,
            varies,
            sobol,
            morris,
        });
    }
    let (design_text, samples, levels) = match &design {
        Design::Sobol(d) => (d.points().to_string(), d.samples(), None),
        Design::Morris(d) => (
            format!(
                "Morris trajectories on a grid of {} levels (ChaCha8)",
                d.levels()
            ),
            d.trajectories(),
            Some(d.levels()),
        ),
    };
    Ok(Analysis {
        version: env!("CARGO_PKG_VERSION").into(),
        scenario: scenario.scenario().name().to_string(),
        against: against.map(|b| b.scenario().name().to_string()),
        method: settings.method.name().into(),
        design: design_text,
        samples,
        levels,
        runs: rows.len(),
        seed: settings.seed,
        bootstrap: settings.bootstrap,
        factors,
        outputs,
    })
}

/// A number with about four significant figures, thousands separated.
fn figure(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let a = x.abs();
    let text = if a >= 1000.0 {
        let whole = format!("{:.0}", a);
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        grouped
    } else if a >= 100.0 {
        format!("{a:.1}")
    } else if a >= 1.0 {
        format!("{a:.2}")
    } else if a == 0.0 {
        "0".into()
    } else {
        format!("{a:.3}")
    };
    if x < 0.0 { format!("-{text}") } else { text }
}

/// A count with thousands separated.
fn count(n: usize) -> String {
    if n < 1000 {
        n.to_string()
    } else {
        figure(n as f64)
    }
}

/// An index and its interval, as `0.62 [0.55, 0.69]`.
fn index(e: &super::Estimate) -> String {
    if e.value.is_nan() {
        return "n/a".into();
    }
    // Rounded to three places, with no "-0.000".
    let show = |x: f64| {
        let text = format!("{x:.3}");
        if text == "-0.000" {
            "0.000".into()
        } else {
            text
        }
    };
    format!("{} [{}, {}]", show(e.value), show(e.low), show(e.high))
}

/// A CSV field, quoted where it must be.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A number for CSV: empty for NaN.
fn number(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        x.to_string()
    }
}

impl Analysis {
    /// What was analysed, in one line: the method, the scenario (minus
    /// the base), the size of the design and the intervals.
    pub fn describe(&self) -> String {
        let what = match &self.against {
            Some(base) => format!(
                "`{}` minus `{base}` (paired: the same design point in both)",
                self.scenario
            ),
            None => format!("`{}`", self.scenario),
        };
        let size = match self.levels {
            None => format!("N = {} base samples", count(self.samples)),
            Some(levels) => format!("{} trajectories, {levels} levels", count(self.samples)),
        };
        format!(
            "{} of {what}: {} factors, {size}, {} runs per scenario; {}; seed {}; {:.0}% bootstrap intervals ({} resamples)",
            if self.levels.is_some() {
                "Morris elementary effects"
            } else {
                "Sobol indices"
            },
            self.factors.len(),
            count(self.runs),
            self.design,
            self.seed,
            self.bootstrap.confidence * 100.0,
            count(self.bootstrap.resamples)
        )
    }

    /// A readable table per output, factors from most to least
    /// influential: `S1` and `ST` with intervals (Sobol) or `mu*` with its
    /// interval, `mu` and `sigma` (Morris).
    pub fn table(&self) -> String {
        let mut out = format!("{}\n", self.describe());
        let width = self
            .factors
            .iter()
            .map(|f| f.name.chars().count())
            .max()
            .unwrap_or(9)
            .max(9);
        for o in &self.outputs {
            out.push_str(&format!(
                "\n{}: mean {}, sd {}\n",
                o.name,
                figure(o.mean),
                figure(o.sd)
            ));
            if !o.varies || (!o.sobol.is_empty() && o.sobol.iter().all(|s| s.total.value.is_nan()))
            {
                out.push_str(
                    "  does not vary over the design (beyond rounding): nothing to apportion\n",
                );
                continue;
            }
            if !o.sobol.is_empty() {
                out.push_str(&format!(
                    "  {:width$}  {:26}  {:26}\n",
                    "parameter", "S1 (alone) [interval]", "ST (total) [interval]"
                ));
                for i in o.ranked() {
                    out.push_str(&format!(
                        "  {:width$}  {:26}  {:26}\n",
                        self.factors[i].name,
                        index(&o.sobol[i].first),
                        index(&o.sobol[i].total)
                    ));
                }
                let sum: f64 = o.sobol.iter().map(|s| s.first.value).sum();
                out.push_str(&format!(
                    "  sum of S1: {sum:.3} (1 for an additive output; the rest is interactions)\n"
                ));
            } else {
                out.push_str(&format!(
                    "  {:width$}  {:>30}  {:>12}  {:>12}\n",
                    "parameter", "mu* [interval]", "mu", "sigma"
                ));
                for i in o.ranked() {
                    let m = &o.morris[i];
                    out.push_str(&format!(
                        "  {:width$}  {:>30}  {:>12}  {:>12}\n",
                        self.factors[i].name,
                        format!(
                            "{} [{}, {}]",
                            figure(m.mu_star.value),
                            figure(m.mu_star.low),
                            figure(m.mu_star.high)
                        ),
                        figure(m.mu),
                        figure(m.sigma)
                    ));
                }
            }
        }
        out
    }

    /// One CSV row per output and factor, most influential first: `output,
    /// parameter, distribution, rank` then `S1, S1_low, S1_high, ST,
    /// ST_low, ST_high` (Sobol) or `mu_star, mu_star_low, mu_star_high, mu,
    /// sigma` (Morris); NaN as an empty field.
    pub fn to_csv(&self) -> String {
        let sobol = self.levels.is_none();
        let mut out = String::from("output,parameter,distribution,rank,");
        out.push_str(if sobol {
            "S1,S1_low,S1_high,ST,ST_low,ST_high\n"
        } else {
            "mu_star,mu_star_low,mu_star_high,mu,sigma\n"
        });
        for o in &self.outputs {
            for (rank, i) in o.ranked().into_iter().enumerate() {
                let f = &self.factors[i];
                let values: Vec<f64> = if sobol {
                    let s = &o.sobol[i];
                    vec![
                        s.first.value,
                        s.first.low,
                        s.first.high,
                        s.total.value,
                        s.total.low,
                        s.total.high,
                    ]
                } else {
                    let m = &o.morris[i];
                    vec![
                        m.mu_star.value,
                        m.mu_star.low,
                        m.mu_star.high,
                        m.mu,
                        m.sigma,
                    ]
                };
                out.push_str(&format!(
                    "{},{},{},{},{}\n",
                    field(&o.name),
                    field(&f.name),
                    field(&f.distribution),
                    rank + 1,
                    values
                        .iter()
                        .map(|v| number(*v))
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
        }
        out
    }

    /// The whole analysis as JSON (NaN as null).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The analysis of an output by name.
    pub fn output(&self, name: &str) -> Option<&OutputResult> {
        self.outputs.iter().find(|o| o.name == name)
    }

    /// A factor's position by name.
    pub fn factor(&self, name: &str) -> Option<usize> {
        let wanted = canonical_name(name);
        self.factors
            .iter()
            .position(|f| canonical_name(&f.name) == wanted)
    }
}
