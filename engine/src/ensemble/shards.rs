//! Splitting an ensemble over machines: shards, their partial results, and
//! merging them into exactly what one machine would have produced.

use super::Outcome;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One part of an ensemble split over machines: shard `index` (from 0) of
/// `count`, holding runs `index * total / count .. (index + 1) * total / count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// Shard `index` (from 0) of `count`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] unless `count >= 1` and `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 || index >= count {
            return Err(Error::Invalid {
                what: "shard".into(),
                message: format!(
                    "shard {} of {count} does not exist: shards are numbered 1 to {count}",
                    index + 1
                ),
            });
        }
        Ok(Shard { index, count })
    }

    /// Reads `I/N` (shards numbered from 1, as schedulers' array tasks are).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for anything but `I/N` with `1 <= I <= N`.
    pub fn parse(text: &str) -> Result<Shard> {
        let invalid = || Error::Invalid {
            what: format!("shard `{text}`"),
            message: "expected I/N with 1 <= I <= N, e.g. 3/8".into(),
        };
        let (i, n) = text.split_once('/').ok_or_else(invalid)?;
        let i: usize = i.trim().parse().map_err(|_| invalid())?;
        let n: usize = n.trim().parse().map_err(|_| invalid())?;
        if i == 0 || i > n {
            return Err(invalid());
        }
        Shard::new(i - 1, n)
    }

    /// The index, from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The number of shards.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The runs of an ensemble of `total` this shard holds.
    pub fn runs(&self, total: usize) -> std::ops::Range<usize> {
        let part = |k: usize| ((k as u128 * total as u128) / self.count as u128) as usize;
        part(self.index)..part(self.index + 1)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// Combines shards into the whole ensemble, exactly as one machine would
/// have produced it.
///
/// # Errors
///
/// [`Error::Invalid`] if the shards come from another engine version or
/// from different ensembles (naming the settings that differ), split the
/// ensemble into different numbers of shards, a shard is missing or
/// repeated (naming them), or the runs do not cover the ensemble.
pub fn merge(mut parts: Vec<Outcome>) -> Result<Outcome> {
    let invalid = |message: String| Error::Invalid {
        what: "merge".into(),
        message,
    };
    if parts.is_empty() {
        return Err(invalid("no partial results given".into()));
    }
    for p in &parts {
        p.check()
            .map_err(|m| invalid(format!("not a consistent partial result: {m}")))?;
    }
    let engine = env!("CARGO_PKG_VERSION");
    if let Some(p) = parts.iter().find(|p| p.version != engine) {
        return Err(invalid(format!(
            "shard {} was written by engine version {}, this is {engine}: run every shard with the same version",
            p.shard.map_or("(whole)".into(), |s| s.to_string()),
            if p.version.is_empty() {
                "(unknown)"
            } else {
                &p.version
            }
        )));
    }
    if let Some(k) = parts.iter().position(|p| p.shard.is_none()) {
        return Err(invalid(format!(
            "file {} is a whole ensemble, not a shard",
            k + 1
        )));
    }
    let given = |parts: &[Outcome]| {
        parts
            .iter()
            .filter_map(|p| p.shard.map(|s| s.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let counts: Vec<usize> = parts
        .iter()
        .filter_map(|p| p.shard.map(|s| s.count))
        .collect();
    if counts.iter().any(|&c| c != counts[0]) {
        return Err(invalid(format!(
            "the shards split the ensemble differently (given: {}): every shard must come from the same --shard I/N count N",
            given(&parts)
        )));
    }
    parts.sort_by_key(|p| p.shard.map_or(0, |s| s.index));
    let first = parts[0].clone();
    let count = counts[0];
    // Which setting differs, by name.
    let settings = |o: &Outcome| -> Vec<(&'static str, String)> {
        let per = |f: &dyn Fn(&super::Ensemble) -> String| {
            o.ensembles.iter().map(f).collect::<Vec<_>>().join("; ")
        };
        vec![
            ("kind (run or compare)", format!("{:?}", o.kind)),
            ("scenarios", per(&|e| e.scenario.clone())),
            ("seed", o.seed.to_string()),
            ("runs", o.total_runs.to_string()),
            ("sampling", o.sampling.clone()),
            ("quantiles", format!("{:?}", o.quantiles)),
            ("cost", format!("{:?}", o.cost)),
            ("discount rate", format!("{:?}", o.discount_rate.to_bits())),
            ("cumulative", format!("{:?}", o.cumulative)),
            ("indicators", per(&|e| format!("{:?}", e.indicators))),
            (
                "uncertain parameters",
                per(&|e| format!("{:?}", e.parameters)),
            ),
            ("scalars", per(&|e| format!("{:?}", e.scalars))),
            (
                "periods",
                per(&|e| {
                    format!(
                        "{:?}",
                        e.periods.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
                    )
                }),
            ),
        ]
    };
    let reference = settings(&first);
    for p in &parts[1..] {
        let differ: Vec<&str> = settings(p)
            .iter()
            .zip(&reference)
            .filter(|(a, b)| a.1 != b.1)
            .map(|(a, _)| a.0)
            .collect();
        if !differ.is_empty() {
            return Err(invalid(format!(
                "shards {} and {} come from different ensembles: these settings differ: {}",
                first.shard.map_or_else(String::new, |s| s.to_string()),
                p.shard.map_or_else(String::new, |s| s.to_string()),
                differ.join(", ")
            )));
        }
    }
    let indices: Vec<usize> = parts
        .iter()
        .filter_map(|p| p.shard.map(|s| s.index))
        .collect();
    let duplicated: Vec<String> = indices
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| format!("{}/{count}", w[0] + 1))
        .collect();
    let missing: Vec<String> = (0..count)
        .filter(|i| !indices.contains(i))
        .map(|i| format!("{}/{count}", i + 1))
        .collect();
    if !duplicated.is_empty() || !missing.is_empty() {
        let mut problems = Vec::new();
        if !duplicated.is_empty() {
            problems.push(format!("given more than once: {}", duplicated.join(", ")));
        }
        if !missing.is_empty() {
            problems.push(format!("missing: {}", missing.join(", ")));
        }
        return Err(invalid(format!(
            "need each of the {count} shards exactly once; {}; given: {}",
            problems.join("; "),
            given(&parts)
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

impl Outcome {
    /// Reads a partial result written by a shard.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be read; [`Error::Invalid`] if it is not
    /// a partial result.
    pub fn load_partial(path: &Path) -> Result<Outcome> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let outcome: Outcome = serde_json::from_str(&text).map_err(|e| Error::Invalid {
            what: path.display().to_string(),
            message: format!("not a partial result of `run/compare --shard`: {e}"),
        })?;
        outcome.check().map_err(|message| Error::Invalid {
            what: path.display().to_string(),
            message: format!("not a consistent partial result: {message}"),
        })?;
        Ok(outcome)
    }

    /// Checks that every run has a value for each indicator and period, a
    /// draw for each parameter and each scalar, as the statistics assume
    /// (an outcome read from a file may have been edited or truncated).
    fn check(&self) -> std::result::Result<(), String> {
        if self.ensembles.is_empty() {
            return Err("no scenarios".into());
        }
        if self.quantiles.iter().any(|q| !(0.0..=1.0).contains(q)) {
            return Err("quantiles must be between 0 and 1".into());
        }
        if let Some(shard) = self.shard {
            Shard::new(shard.index, shard.count).map_err(|e| e.to_string())?;
        }
        for e in &self.ensembles {
            if e.periods.is_empty() {
                return Err(format!("scenario `{}` has no periods", e.scenario));
            }
            for r in &e.runs {
                let shape_ok = r.draws.len() == e.parameters.len()
                    && r.scalars.len() == e.scalars.len()
                    && r.values.len() == e.indicators.len()
                    && r.values.iter().all(|v| v.len() == e.periods.len());
                if !shape_ok || r.run >= self.total_runs {
                    return Err(format!(
                        "scenario `{}`, run {}: its draws, scalars or values do not match the ensemble's parameters, scalars, indicators and periods",
                        e.scenario, r.run
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_numbered_from_one_and_cover_the_runs() {
        assert_eq!(Shard::parse("3/8").unwrap(), Shard::new(2, 8).unwrap());
        for bad in ["0/8", "9/8", "1/0", "x/2", "3", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert!(Shard::new(8, 8).is_err());
        let covered: Vec<usize> = (0..7)
            .flat_map(|i| Shard::new(i, 7).unwrap().runs(100))
            .collect();
        assert_eq!(covered, (0..100).collect::<Vec<_>>());
        assert_eq!(Shard::new(0, 3).unwrap().to_string(), "1/3");
    }
}
