//! The files and tables an outcome is written as: `quantiles.csv`,
//! `runs.csv`, `summary.json` (or a shard's partial result), and the
//! summary printed on the terminal.

use super::{GENERATOR, Outcome, Stats};
use crate::error::{Error, Result};
use crate::format::csv_table::{Cell, CsvTable};
use crate::format::{SetWriter, write_atomic};
use rayon::prelude::*;
use std::fmt::Write;
use std::path::Path;

fn q_label(q: f64) -> String {
    let p = q * 100.0;
    if p.fract() == 0.0 {
        format!("p{}", p as i64)
    } else {
        format!("p{p}")
    }
}

/// A value for a CSV cell: NaN (no value) is an empty cell.
fn number(v: f64) -> Cell<'static> {
    if v.is_nan() {
        Cell::Missing
    } else {
        Cell::Number(v)
    }
}

impl Outcome {
    /// `quantiles.csv`: per scenario, indicator and period, the mean and
    /// quantiles; in a comparison also the paired differences (scenario
    /// `ALT - BASE`). Missing values are empty cells.
    pub fn quantiles_csv(&self) -> String {
        let label = self.ensembles.first().map_or("time", |e| e.label.as_str());
        let mut out = CsvTable::in_memory();
        let header: Vec<String> = ["scenario", "indicator", label, "n", "mean"]
            .iter()
            .map(|s| s.to_string())
            .chain(self.quantiles.iter().map(|q| q_label(*q)))
            .collect();
        let _ = out.row(header.iter().map(String::as_str));
        let mut row = |scenario: &str, indicator: &str, period: f64, s: &Stats| {
            let cells = [
                Cell::Text(scenario),
                Cell::Text(indicator),
                Cell::Number(period),
                Cell::Integer(s.n as i128),
                number(s.mean),
            ]
            .into_iter()
            .chain(s.quantiles.iter().map(|v| number(*v)));
            let _ = out.row(cells);
        };
        let labels: Vec<String> = self
            .ensembles
            .iter()
            .skip(1)
            .filter_map(|alt| {
                let base = self.ensembles.first()?;
                Some(format!("{} - {}", alt.scenario, base.scenario))
            })
            .collect();
        // Every row's statistics first, computed in parallel (each sorts
        // a column of every run's value), then written in order.
        type Column<'a> = (
            &'a str,
            &'a str,
            f64,
            Box<dyn Fn() -> Stats + Send + Sync + 'a>,
        );
        let mut columns: Vec<Column<'_>> = Vec::new();
        let quantiles = &self.quantiles;
        for e in &self.ensembles {
            for (i, indicator) in e.indicators.iter().enumerate() {
                for (y, period) in e.periods.iter().enumerate() {
                    let stats = move || Stats::of(e.column(i, y), quantiles);
                    columns.push((&e.scenario, indicator, *period, Box::new(stats)));
                }
            }
        }
        if let Some(base) = self.ensembles.first() {
            for (alt, label) in self.ensembles.iter().skip(1).zip(&labels) {
                for (i, indicator) in base.indicators.iter().enumerate() {
                    let Ok(j) = alt.indicator_index(indicator) else {
                        continue;
                    };
                    for (y, period) in base.periods.iter().enumerate() {
                        let stats = move || {
                            let (b, a) = (base.column(i, y), alt.column(j, y));
                            Stats::of(b.iter().zip(&a).map(|(b, a)| a - b), quantiles)
                        };
                        columns.push((label, indicator, *period, Box::new(stats)));
                    }
                }
            }
        }
        let stats: Vec<Stats> = columns.par_iter().map(|(.., stats)| stats()).collect();
        for ((scenario, indicator, period, _), s) in columns.iter().zip(&stats) {
            row(scenario, indicator, *period, s);
        }
        out.into_string().unwrap_or_default()
    }

    /// `runs.csv`: one row per scenario and run: the draws and the scalars.
    ///
    /// # Panics
    ///
    /// If runs kept on disk ([`super::Ensemble::on_disk`]) cannot be read
    /// back.
    pub fn runs_csv(&self) -> String {
        let bytes = self
            .write_runs_csv(Vec::new())
            .unwrap_or_else(|e| panic!("runs.csv: {e}"));
        // Every cell came from a `&str` or a number, so the text is UTF-8.
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// Writes `runs.csv` (see [`Outcome::runs_csv`]) to `out`, a run at a
    /// time, and returns `out`.
    fn write_runs_csv<W: std::io::Write>(&self, out: W) -> Result<W> {
        let failed = |e: std::io::Error| Error::io("runs.csv", e);
        let mut parameters: Vec<&String> = Vec::new();
        let mut scalars: Vec<&String> = Vec::new();
        for e in &self.ensembles {
            for p in &e.parameters {
                if !parameters.contains(&p) {
                    parameters.push(p);
                }
            }
            for s in &e.scalars {
                if !scalars.contains(&s) {
                    scalars.push(s);
                }
            }
        }
        let mut out = CsvTable::new(out);
        out.row(
            ["scenario", "run"]
                .into_iter()
                .map(Cell::Text)
                .chain(parameters.iter().chain(&scalars).map(|s| Cell::Text(s))),
        )
        .map_err(failed)?;
        for e in &self.ensembles {
            let draw_at: Vec<Option<usize>> = parameters
                .iter()
                .map(|p| e.parameters.iter().position(|x| x == *p))
                .collect();
            let scalar_at: Vec<Option<usize>> = scalars
                .iter()
                .map(|s| e.scalars.iter().position(|x| x == *s))
                .collect();
            e.each_run(&mut |run, draws, values| {
                let cells = [Cell::Text(&e.scenario), Cell::Integer(run as i128)]
                    .into_iter()
                    .chain(
                        draw_at
                            .iter()
                            .map(|i| i.map_or(Cell::Missing, |i| number(draws[i]))),
                    )
                    .chain(
                        scalar_at
                            .iter()
                            .map(|i| i.map_or(Cell::Missing, |i| number(values[i]))),
                    );
                out.row(cells).map_err(failed)
            })?;
        }
        out.into_inner().map_err(failed)
    }

    /// `summary.json`: settings, per-scenario scalars and final-period
    /// indicators, and comparisons.
    pub fn summary_json(&self) -> String {
        let scenarios: Vec<serde_json::Value> = self
            .ensembles
            .iter()
            .map(|e| {
                let last = e.periods.len() - 1;
                let scalars: serde_json::Map<String, serde_json::Value> = e
                    .scalars
                    .iter()
                    .enumerate()
                    .map(|(k, name)| {
                        let s = Stats::of(e.scalar_column(k), &self.quantiles);
                        (name.clone(), serde_json::to_value(s).unwrap_or_default())
                    })
                    .collect();
                let final_period: serde_json::Map<String, serde_json::Value> = e
                    .indicators
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let s = Stats::of(e.column(i, last), &self.quantiles);
                        (name.clone(), serde_json::to_value(s).unwrap_or_default())
                    })
                    .collect();
                serde_json::json!({
                    "name": e.scenario,
                    "integration": e.integration,
                    "question": e.question,
                    "sources": e.sources,
                    "uncertain_parameters": e.parameters,
                    "period_label": e.label,
                    "periods": e.periods,
                    "scalars": scalars,
                    "final_period": final_period,
                })
            })
            .collect();
        let json = serde_json::json!({
            "engine_version": self.version,
            "kind": self.kind,
            "runs": self.total_runs,
            "seed": self.seed,
            "generator": GENERATOR,
            "sampling": self.sampling,
            "method": "Each run projects the model by period (levels at each period's end, flows summed over the period); statistics are over runs; quantiles interpolate between order statistics (type 7); discounted costs divide the k-th period after the start by (1 + rate)^k, the first undiscounted; comparisons pair runs with the same index, which share the draws of parameters of the same name (common random numbers).",
            "quantiles": self.quantiles,
            "cost": self.cost,
            "discount_rate": self.discount_rate,
            "scenarios": scenarios,
            "comparisons": self.comparisons(),
        });
        serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
    }

    /// The files of a result folder, as [`Outcome::write`] writes them.
    pub const RESULT_FILES: &'static [&'static str] =
        &["summary.json", "quantiles.csv", "runs.csv"];

    /// Writes `summary.json`, `quantiles.csv` and `runs.csv` as the folder
    /// `dir`, as a set ([`crate::format::write_set`]: a complete new set or
    /// the old one, never a mix), or `partial-I-of-N.json` into `dir` for a
    /// shard.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if `dir` holds anything but an earlier result, or the
    /// folder or a file cannot be written.
    pub fn write(&self, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
        if let Some(shard) = self.shard {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            let path = dir.join(format!(
                "partial-{}-of-{}.json",
                shard.index() + 1,
                shard.count()
            ));
            let json = serde_json::to_string(self).map_err(|e| Error::Invalid {
                what: path.display().to_string(),
                message: e.to_string(),
            })?;
            write_atomic(&path, json.as_bytes())?;
            return Ok(vec![path]);
        }
        let mut set = SetWriter::new(dir, Self::RESULT_FILES)?;
        // runs.csv is written (a run at a time: it grows with the runs)
        // while the summaries are computed on the other threads.
        let ((summary, quantiles), runs) = rayon::join(
            || (self.summary_json(), self.quantiles_csv()),
            || {
                set.add_with("runs.csv", &mut |file| {
                    self.write_runs_csv(std::io::BufWriter::new(file))?
                        .into_inner()
                        .map_err(|e| Error::io("runs.csv", e.into_error()))?;
                    Ok(())
                })
            },
        );
        runs?;
        set.add("summary.json", summary.as_bytes())?;
        set.add("quantiles.csv", quantiles.as_bytes())?;
        // Named in the set's order, whichever was written first.
        let mut written = set.finish()?;
        written.sort_by_key(|p| Self::RESULT_FILES.iter().position(|n| p.ends_with(n)));
        Ok(written)
    }

    /// Statistics as "median [5th to 95th percentile]" with each number
    /// written by `format`, or "mean (mean)" when those quantiles are not
    /// reported.
    pub fn interval(&self, s: &Stats, format: &dyn Fn(f64) -> String) -> String {
        match (
            self.quantile_index(0.05),
            self.quantile_index(0.5),
            self.quantile_index(0.95),
        ) {
            (Some(a), Some(m), Some(b)) => format!(
                "{} [{} to {}]",
                format(s.quantiles[m]),
                format(s.quantiles[a]),
                format(s.quantiles[b])
            ),
            _ => format!("{} (mean)", format(s.mean)),
        }
    }

    /// A readable summary for the terminal: each scenario's scalars and
    /// final-period indicators as median [5th to 95th percentile] (or the
    /// mean when those quantiles are not reported), and each comparison's
    /// cost and cumulative differences by period.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let interval = |s: &Stats| self.interval(s, &short);
        let _ = writeln!(
            out,
            "{} runs, seed {}, {} sampling; median [5th to 95th percentile]",
            self.total_runs, self.seed, self.sampling
        );
        for e in &self.ensembles {
            let last = e.periods.len() - 1;
            let _ = writeln!(
                out,
                "\n{} ({} {} to {})",
                e.scenario, e.label, e.periods[0], e.periods[last]
            );
            if !e.question.is_empty() {
                let _ = writeln!(out, "  {}", e.question);
            }
            for (k, name) in e.scalars.iter().enumerate() {
                let s = Stats::of(e.scalar_column(k), &self.quantiles);
                let _ = writeln!(out, "  {name:<34} {}", interval(&s));
            }
            for (i, name) in e.indicators.iter().enumerate() {
                let s = Stats::of(e.column(i, last), &self.quantiles);
                let _ = writeln!(
                    out,
                    "  {:<34} {}",
                    format!("{name} {}", e.periods[last]),
                    interval(&s)
                );
            }
        }
        for c in self.comparisons() {
            let _ = writeln!(out, "\n{} minus {} (paired runs)", c.alternative, c.base);
            for p in &c.periods {
                let mut parts = Vec::new();
                if let Some(cost) = &p.cost {
                    parts.push(format!(
                        "cumulative cost {}, discounted {}, P(cheaper) {:.0}%",
                        interval(&cost.cumulative),
                        interval(&cost.cumulative_discounted),
                        100.0 * cost.probability_alt_costs_less
                    ));
                }
                for (name, s) in &p.cumulative {
                    parts.push(format!("cumulative {name} {}", interval(s)));
                }
                if !parts.is_empty() {
                    let _ = writeln!(out, "  {:<6} {}", p.period, parts.join("; "));
                }
            }
            if let Some(never) = c.never_breaks_even {
                let breaking: Vec<String> = c
                    .break_even
                    .iter()
                    .filter(|(_, p)| *p > 0.0)
                    .map(|(y, p)| format!("{y}: {:.0}%", 100.0 * p))
                    .collect();
                let _ = writeln!(
                    out,
                    "  break-even period: {}{}not within the horizon: {:.0}%",
                    breaking.join(", "),
                    if breaking.is_empty() { "" } else { "; " },
                    100.0 * never
                );
            }
        }
        out
    }
}

/// A number for the terminal: 4 significant figures, thousands grouped.
fn short(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = if v == 0.0 {
        0
    } else {
        v.abs().log10().floor() as i32
    };
    let decimals = (3 - magnitude).clamp(0, 6) as usize;
    let text = format!("{v:.decimals$}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_the_terminal() {
        assert_eq!(short(1234567.8), "1,234,568");
        assert_eq!(short(-0.012345), "-0.01235");
        assert_eq!(short(12.5), "12.50");
        assert_eq!(short(f64::NAN), "NaN");
    }
}
