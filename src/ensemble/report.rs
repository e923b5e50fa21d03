//! Ensemble outcomes: one or several scenarios run on the same draws,
//! their statistics, paired comparisons, and the files and tables
//! `carecascade run`, `compare` and `merge` write.

use super::{GENERATOR, RunOutput, SCALARS, Stats, run_range};
use crate::chart::{money_m, thousands};
use crate::error::{Error, Result};
use crate::format::write_atomic;
use crate::scenario::{Prepared, Sampling};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::Path;

/// One scenario's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    /// The scenario's name.
    pub scenario: String,
    /// Its question.
    pub question: String,
    /// Its sources.
    pub sources: Vec<String>,
    /// The reported indicators (projection columns).
    pub indicators: Vec<String>,
    /// The reporting years, the starting year first.
    pub years: Vec<i32>,
    /// The uncertain parameters, in the order of each run's draws.
    pub parameters: Vec<String>,
    /// The integration method and step every run used, e.g. `euler, dt =
    /// 0.019230769230769232 (1/52)`.
    #[serde(default)]
    pub integration: String,
    /// The runs, in run order.
    pub runs: Vec<RunOutput>,
}

/// Everything an ensemble run produces: one scenario (`run`) or a base and
/// alternatives (`compare`), on the same draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The carecascade version that ran it.
    pub version: String,
    /// `run` or `compare`.
    pub kind: String,
    /// The seed.
    pub seed: u64,
    /// Runs in the whole ensemble.
    pub total_runs: usize,
    /// `random` or `latin_hypercube`.
    pub sampling: String,
    /// The quantiles reported.
    pub quantiles: Vec<f64>,
    /// For a shard: (index, count); `None` for a whole ensemble.
    pub shard: Option<(usize, usize)>,
    /// The scenarios; in a comparison, the base first.
    pub ensembles: Vec<Ensemble>,
}

fn sampling_name(s: Sampling) -> &'static str {
    match s {
        Sampling::Random => "random",
        Sampling::LatinHypercube => "latin_hypercube",
    }
}

/// Runs scenarios on the same draws: runs `range` of `total` (all of them
/// unless sharded). All scenarios must agree on seed, runs and sampling.
///
/// # Errors
///
/// [`Error::Invalid`] if the scenarios disagree on seed, runs, sampling,
/// start or horizon; the first failing run's error.
pub fn run_scenarios(
    prepared: &[Prepared],
    kind: &str,
    shard: Option<(usize, usize)>,
    progress: &(dyn Fn() + Sync),
) -> Result<Outcome> {
    let first = &prepared[0].scenario;
    for p in &prepared[1..] {
        let s = &p.scenario;
        let differs = |what: &str, a: String, b: String| Error::Invalid {
            what: format!("scenario `{}`", s.name),
            message: format!(
                "has {what} {b} but `{}` has {a}: scenarios compared on common random numbers must share seed, runs, sampling, start and horizon (set them in a common base file, or with --runs and --seed)",
                first.name
            ),
        };
        if s.seed != first.seed {
            return Err(differs("seed", first.seed.to_string(), s.seed.to_string()));
        }
        if s.runs != first.runs {
            return Err(differs("runs", first.runs.to_string(), s.runs.to_string()));
        }
        if s.sampling != first.sampling {
            return Err(differs(
                "sampling",
                sampling_name(first.sampling).into(),
                sampling_name(s.sampling).into(),
            ));
        }
        if (s.start, s.horizon) != (first.start, first.horizon) {
            return Err(differs(
                "start and horizon",
                format!("{} + {}", first.start, first.horizon),
                format!("{} + {}", s.start, s.horizon),
            ));
        }
    }
    let total = first.runs;
    let range = match shard {
        Some((i, n)) => i * total / n..(i + 1) * total / n,
        None => 0..total,
    };
    let mut ensembles = Vec::new();
    for p in prepared {
        let s = &p.scenario;
        let runs = run_range(p, range.clone(), total, progress)?;
        let mut state = p.program.state();
        p.configure(&mut state)?;
        let time = state.time();
        ensembles.push(Ensemble {
            integration: format!(
                "{}, dt = {} (1/{})",
                time.method(),
                time.dt(),
                (1.0 / time.dt()).round()
            ),
            scenario: s.name.clone(),
            question: s.question.clone(),
            sources: s.sources.clone(),
            indicators: s.indicators.clone(),
            years: (s.start..=s.start + s.horizon as i32).collect(),
            parameters: p.uncertain().iter().map(|(n, _, _)| n.clone()).collect(),
            runs,
        });
    }
    Ok(Outcome {
        version: env!("CARGO_PKG_VERSION").into(),
        kind: kind.into(),
        seed: first.seed,
        total_runs: total,
        sampling: sampling_name(first.sampling).into(),
        quantiles: first.quantiles.clone(),
        shard,
        ensembles,
    })
}

/// Combines shards into the whole ensemble, exactly as one machine would
/// have produced it.
///
/// # Errors
///
/// [`Error::Invalid`] if the shards come from different ensembles, a shard
/// is missing or repeated, or the runs do not cover the ensemble.
pub fn merge(mut parts: Vec<Outcome>) -> Result<Outcome> {
    let invalid = |message: String| Error::Invalid {
        what: "merge".into(),
        message,
    };
    if parts.is_empty() {
        return Err(invalid("no partial results given".into()));
    }
    parts.sort_by_key(|p| p.shard.map_or(0, |s| s.0));
    let first = parts[0].clone();
    let Some((_, count)) = first.shard else {
        return Err(invalid(
            "the first file is a whole ensemble, not a shard".into(),
        ));
    };
    let fingerprint = |o: &Outcome| {
        (
            o.kind.clone(),
            o.seed,
            o.total_runs,
            o.sampling.clone(),
            o.quantiles.clone(),
            o.ensembles
                .iter()
                .map(|e| {
                    (
                        e.scenario.clone(),
                        e.indicators.clone(),
                        e.parameters.clone(),
                    )
                })
                .collect::<Vec<_>>(),
        )
    };
    for p in &parts {
        if fingerprint(p) != fingerprint(&first) {
            return Err(invalid(
                "the shards come from different ensembles (scenarios, seed, runs, sampling or indicators differ)".into(),
            ));
        }
    }
    let indices: Vec<usize> = parts.iter().filter_map(|p| p.shard.map(|s| s.0)).collect();
    let counts: Vec<usize> = parts.iter().filter_map(|p| p.shard.map(|s| s.1)).collect();
    if counts.iter().any(|&c| c != count) || indices != (0..count).collect::<Vec<_>>() {
        let missing: Vec<String> = (0..count)
            .filter(|i| !indices.contains(i))
            .map(|i| format!("{}/{count}", i + 1))
            .collect();
        return Err(invalid(format!(
            "need each of the {count} shards exactly once; missing: {}; given: {}",
            if missing.is_empty() {
                "none".into()
            } else {
                missing.join(", ")
            },
            indices
                .iter()
                .map(|i| format!("{}/{count}", i + 1))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut merged = first;
    merged.shard = None;
    for (k, e) in merged.ensembles.iter_mut().enumerate() {
        e.runs = parts
            .iter()
            .flat_map(|p| p.ensembles[k].runs.clone())
            .collect();
        if e.runs.iter().enumerate().any(|(i, r)| r.run != i) || e.runs.len() != merged.total_runs {
            return Err(invalid(format!(
                "scenario `{}`: the shards' runs do not cover 0..{}",
                e.scenario, merged.total_runs
            )));
        }
    }
    Ok(merged)
}

/// Paired statistics of ALT minus BASE, by year.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearComparison {
    /// The reporting year.
    pub year: i32,
    /// Spend in the year, ALT minus BASE, £m cash.
    pub spend_difference_m: Stats,
    /// Spend from the start to this year, ALT minus BASE, £m cash.
    pub cumulative_cash_m: Stats,
    /// The same discounted at 3.5% a year to the start, £m.
    pub cumulative_npv_m: Stats,
    /// Children entering care avoided from the start to this year (BASE
    /// minus ALT).
    pub care_entries_avoided: Stats,
    /// Child protection plans started in the year, ALT minus BASE.
    pub cp_plans_started_difference: Stats,
    /// Caseload at 31 March, ALT minus BASE.
    pub caseload_difference: Stats,
    /// The share of runs in which ALT has cost less than BASE so far.
    pub probability_alt_costs_less: f64,
}

/// ALT against BASE.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The base scenario.
    pub base: String,
    /// The alternative.
    pub alternative: String,
    /// By year.
    pub by_year: Vec<YearComparison>,
    /// The share of runs breaking even in each year: the first year from
    /// which ALT's cumulative spend stays below BASE's to the horizon.
    pub break_even: Vec<(i32, f64)>,
    /// The share that does not break even within the horizon.
    pub never_breaks_even: f64,
}

fn values(e: &Ensemble, indicator: &str) -> Option<usize> {
    e.indicators.iter().position(|i| i == indicator)
}

/// Compares ALT with BASE, run by run (they share run indices and draws).
pub fn compare(base: &Ensemble, alt: &Ensemble, quantiles: &[f64]) -> Comparison {
    let years = &base.years;
    let col = |e: &Ensemble, name: &str, run: usize| -> Vec<f64> {
        values(e, name).map_or_else(
            || vec![f64::NAN; years.len()],
            |i| e.runs[run].values[i].clone(),
        )
    };
    let n = base.runs.len().min(alt.runs.len());
    // Per run: cumulative differences by year.
    let mut cash = vec![vec![0.0; years.len()]; n];
    let mut npv = vec![vec![0.0; years.len()]; n];
    let mut care = vec![vec![0.0; years.len()]; n];
    let mut spend = vec![vec![f64::NAN; years.len()]; n];
    for r in 0..n {
        let (sb, sa) = (col(base, "spend_total_m", r), col(alt, "spend_total_m", r));
        let (cb, ca) = (col(base, "cla_started", r), col(alt, "cla_started", r));
        let (mut c, mut v, mut k) = (0.0, 0.0, 0.0);
        for y in 1..years.len() {
            let d = sa[y] - sb[y];
            spend[r][y] = d;
            c += d;
            v += d / (1.0 + super::DISCOUNT_RATE).powi(y as i32 - 1);
            k += cb[y] - ca[y];
            cash[r][y] = c;
            npv[r][y] = v;
            care[r][y] = k;
        }
    }
    let by_year = (1..years.len())
        .map(|y| {
            let per_run = |m: &Vec<Vec<f64>>| Stats::of((0..n).map(|r| m[r][y]), quantiles);
            let diff = |name: &str| {
                Stats::of(
                    (0..n).map(|r| col(alt, name, r)[y] - col(base, name, r)[y]),
                    quantiles,
                )
            };
            YearComparison {
                year: years[y],
                spend_difference_m: per_run(&spend),
                cumulative_cash_m: per_run(&cash),
                cumulative_npv_m: per_run(&npv),
                care_entries_avoided: per_run(&care),
                cp_plans_started_difference: diff("cpp_started"),
                caseload_difference: diff("caseload"),
                probability_alt_costs_less: (0..n).filter(|&r| cash[r][y] < 0.0).count() as f64
                    / n.max(1) as f64,
            }
        })
        .collect();
    let mut counts = vec![0usize; years.len()];
    let mut never = 0;
    for row in cash.iter().take(n) {
        // The first year from which the cumulative difference stays < 0.
        let mut first = None;
        for y in (1..years.len()).rev() {
            if row[y] < 0.0 {
                first = Some(y);
            } else {
                break;
            }
        }
        match first {
            Some(y) => counts[y] += 1,
            None => never += 1,
        }
    }
    Comparison {
        base: base.scenario.clone(),
        alternative: alt.scenario.clone(),
        by_year,
        break_even: (1..years.len())
            .map(|y| (years[y], counts[y] as f64 / n.max(1) as f64))
            .collect(),
        never_breaks_even: never as f64 / n.max(1) as f64,
    }
}

fn q_label(q: f64) -> String {
    let p = q * 100.0;
    if p.fract() == 0.0 {
        format!("p{}", p as i64)
    } else {
        format!("p{p}")
    }
}

fn num(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v}")
    }
}

impl Outcome {
    /// The comparisons of each alternative with the base (none for `run`).
    pub fn comparisons(&self) -> Vec<Comparison> {
        self.ensembles
            .iter()
            .skip(1)
            .map(|alt| compare(&self.ensembles[0], alt, &self.quantiles))
            .collect()
    }

    /// `quantiles.csv`: per scenario, indicator and year, the mean and
    /// quantiles; in a comparison also the paired differences (scenario
    /// `ALT - BASE`).
    pub fn quantiles_csv(&self) -> String {
        let mut out = String::from("scenario,indicator,year,n,mean");
        for q in &self.quantiles {
            let _ = write!(out, ",{}", q_label(*q));
        }
        out.push('\n');
        let mut row = |scenario: &str, indicator: &str, year: i32, s: &Stats| {
            let _ = write!(out, "{scenario},{indicator},{year},{},{}", s.n, num(s.mean));
            for v in &s.quantiles {
                let _ = write!(out, ",{}", num(*v));
            }
            out.push('\n');
        };
        for e in &self.ensembles {
            for (i, indicator) in e.indicators.iter().enumerate() {
                for (y, year) in e.years.iter().enumerate() {
                    let s = Stats::of(e.runs.iter().map(|r| r.values[i][y]), &self.quantiles);
                    row(&e.scenario, indicator, *year, &s);
                }
            }
        }
        if let Some(base) = self.ensembles.first() {
            for alt in self.ensembles.iter().skip(1) {
                let label = format!("{} - {}", alt.scenario, base.scenario);
                for (i, indicator) in base.indicators.iter().enumerate() {
                    let Some(j) = values(alt, indicator) else {
                        continue;
                    };
                    for (y, year) in base.years.iter().enumerate() {
                        let s = Stats::of(
                            base.runs
                                .iter()
                                .zip(&alt.runs)
                                .map(|(b, a)| a.values[j][y] - b.values[i][y]),
                            &self.quantiles,
                        );
                        row(&label, indicator, *year, &s);
                    }
                }
            }
        }
        out
    }

    /// `runs.csv`: one row per scenario and run: the draws and the scalars.
    pub fn runs_csv(&self) -> String {
        let mut parameters: Vec<String> = Vec::new();
        for e in &self.ensembles {
            for p in &e.parameters {
                if !parameters.contains(p) {
                    parameters.push(p.clone());
                }
            }
        }
        let mut out = String::from("scenario,run");
        for p in &parameters {
            let _ = write!(out, ",{}", csv_field(p));
        }
        for s in SCALARS {
            let _ = write!(out, ",{s}");
        }
        out.push('\n');
        for e in &self.ensembles {
            for r in &e.runs {
                let _ = write!(out, "{},{}", csv_field(&e.scenario), r.run);
                for p in &parameters {
                    let v = e.parameters.iter().position(|x| x == p).map(|i| r.draws[i]);
                    let _ = write!(out, ",{}", v.map_or(String::new(), num));
                }
                for v in r.scalars() {
                    let _ = write!(out, ",{}", num(v));
                }
                out.push('\n');
            }
        }
        out
    }

    /// `summary.json`: settings, per-scenario scalars and final-year
    /// indicators, and comparisons.
    pub fn summary_json(&self) -> String {
        let scenarios: Vec<serde_json::Value> = self
            .ensembles
            .iter()
            .map(|e| {
                let last = e.years.len() - 1;
                let scalars: serde_json::Map<String, serde_json::Value> = SCALARS
                    .iter()
                    .enumerate()
                    .map(|(k, name)| {
                        let s = Stats::of(e.runs.iter().map(|r| r.scalars()[k]), &self.quantiles);
                        (
                            (*name).to_string(),
                            serde_json::to_value(s).unwrap_or_default(),
                        )
                    })
                    .collect();
                let final_year: serde_json::Map<String, serde_json::Value> = e
                    .indicators
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let s =
                            Stats::of(e.runs.iter().map(|r| r.values[i][last]), &self.quantiles);
                        (name.clone(), serde_json::to_value(s).unwrap_or_default())
                    })
                    .collect();
                serde_json::json!({
                    "name": e.scenario,
                    "integration": e.integration,
                    "question": e.question,
                    "sources": e.sources,
                    "uncertain_parameters": e.parameters,
                    "years": e.years,
                    "scalars": scalars,
                    "final_year": final_year,
                })
            })
            .collect();
        let json = serde_json::json!({
            "carecascade_version": self.version,
            "kind": self.kind,
            "runs": self.total_runs,
            "seed": self.seed,
            "generator": GENERATOR,
            "sampling": self.sampling,
            "method": "Each run projects the model by reporting year ending 31 March; statistics are over runs; quantiles interpolate between order statistics (type 7); NPV discounts each year's spend at 3.5% a year, the first year undiscounted; comparisons pair runs with the same index, which share the draws of parameters of the same name (common random numbers).",
            "quantiles": self.quantiles,
            "scenarios": scenarios,
            "comparisons": self.comparisons(),
        });
        serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
    }

    /// Writes `summary.json`, `quantiles.csv` and `runs.csv` into `dir`
    /// (each atomically), or `partial-I-of-N.json` for a shard.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the directory or a file cannot be written.
    pub fn write(&self, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        if let Some((i, n)) = self.shard {
            let path = dir.join(format!("partial-{}-of-{n}.json", i + 1));
            let json = serde_json::to_string(self).map_err(|e| Error::Invalid {
                what: path.display().to_string(),
                message: e.to_string(),
            })?;
            write_atomic(&path, json.as_bytes())?;
            return Ok(vec![path]);
        }
        let files = [
            ("summary.json", self.summary_json()),
            ("quantiles.csv", self.quantiles_csv()),
            ("runs.csv", self.runs_csv()),
        ];
        let mut written = Vec::new();
        for (name, text) in files {
            let path = dir.join(name);
            write_atomic(&path, text.as_bytes())?;
            written.push(path);
        }
        Ok(written)
    }

    /// Reads a partial result written by a shard.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be read; [`Error::Invalid`] if it is not
    /// a partial result.
    pub fn load_partial(path: &Path) -> Result<Outcome> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Invalid {
            what: path.display().to_string(),
            message: format!("not a partial result of `carecascade run/compare --shard`: {e}"),
        })
    }

    /// A readable summary for the terminal.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let (lo, mid, hi) = (
            self.quantile_index(0.05),
            self.quantile_index(0.5),
            self.quantile_index(0.95),
        );
        let interval = |s: &Stats, f: &dyn Fn(f64) -> String| match (lo, mid, hi) {
            (Some(a), Some(m), Some(b)) => {
                format!(
                    "{} [{} to {}]",
                    f(s.quantiles[m]),
                    f(s.quantiles[a]),
                    f(s.quantiles[b])
                )
            }
            _ => format!("{} (mean)", f(s.mean)),
        };
        let _ = writeln!(
            out,
            "{} runs, seed {}, {} sampling; median [5th to 95th percentile]",
            self.total_runs, self.seed, self.sampling
        );
        for e in &self.ensembles {
            let last = e.years.len() - 1;
            let _ = writeln!(out, "\n{} ({}-{})", e.scenario, e.years[0], e.years[last]);
            if !e.question.is_empty() {
                let _ = writeln!(out, "  {}", e.question);
            }
            let labels = [
                ("spend over the horizon", money_m as fn(f64) -> String),
                ("net present value (3.5%)", money_m),
                ("children entering care", thousands),
                ("peak caseload", thousands),
            ];
            for (k, (label, f)) in labels.iter().enumerate() {
                let s = Stats::of(e.runs.iter().map(|r| r.scalars()[k]), &self.quantiles);
                let _ = writeln!(out, "  {label:<34} {}", interval(&s, f));
            }
            for (i, name) in e.indicators.iter().enumerate() {
                let s = Stats::of(e.runs.iter().map(|r| r.values[i][last]), &self.quantiles);
                let f: &dyn Fn(f64) -> String = if name.ends_with("_m") {
                    &money_m
                } else {
                    &thousands
                };
                let _ = writeln!(
                    out,
                    "  {:<34} {}",
                    format!("{name} {}", e.years[last]),
                    interval(&s, f)
                );
            }
        }
        for c in self.comparisons() {
            let _ = writeln!(out, "\n{} minus {} (paired runs)", c.alternative, c.base);
            let _ = writeln!(
                out,
                "  {:<6} {:>30} {:>30} {:>22} {:>10}",
                "year",
                "cumulative spend, cash",
                "cumulative spend, NPV",
                "entries to care avoided",
                "P(cheaper)"
            );
            for y in &c.by_year {
                let _ = writeln!(
                    out,
                    "  {:<6} {:>30} {:>30} {:>22} {:>9.0}%",
                    y.year,
                    interval(&y.cumulative_cash_m, &money_m),
                    interval(&y.cumulative_npv_m, &money_m),
                    interval(&y.care_entries_avoided, &thousands),
                    100.0 * y.probability_alt_costs_less
                );
            }
            let breaking: Vec<String> = c
                .break_even
                .iter()
                .filter(|(_, p)| *p > 0.0)
                .map(|(y, p)| format!("{y}: {:.0}%", 100.0 * p))
                .collect();
            let _ = writeln!(
                out,
                "  break-even year: {}{}not within the horizon: {:.0}%",
                breaking.join(", "),
                if breaking.is_empty() { "" } else { "; " },
                100.0 * c.never_breaks_even
            );
        }
        out
    }

    fn quantile_index(&self, q: f64) -> Option<usize> {
        self.quantiles.iter().position(|x| (x - q).abs() < 1e-12)
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
