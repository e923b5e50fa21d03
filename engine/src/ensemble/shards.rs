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
                    u128::from(index as u64) + 1
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

/// A job scheduler's array-task variables, as [`Shard::from_env`] reads
/// them.
struct Scheduler {
    /// The task's index.
    index: &'static str,
    /// The number of tasks.
    count: &'static str,
    /// The first index (0 when the scheduler has none).
    min: Option<&'static str>,
    /// The last index, to recognise arrays whose indices are not evenly
    /// spaced.
    max: Option<&'static str>,
    /// The step between indices (1 when the scheduler has none).
    step: Option<&'static str>,
}

/// The job schedulers whose array-task variables [`Shard::from_env`] reads.
const SCHEDULERS: &[Scheduler] = &[
    // Slurm job arrays: `--array=MIN-MAX:STEP`, often from 1.
    Scheduler {
        index: "SLURM_ARRAY_TASK_ID",
        count: "SLURM_ARRAY_TASK_COUNT",
        min: Some("SLURM_ARRAY_TASK_MIN"),
        max: Some("SLURM_ARRAY_TASK_MAX"),
        step: Some("SLURM_ARRAY_TASK_STEP"),
    },
    // AWS Batch array jobs: from 0.
    Scheduler {
        index: "AWS_BATCH_JOB_ARRAY_INDEX",
        count: "AWS_BATCH_JOB_ARRAY_SIZE",
        min: None,
        max: None,
        step: None,
    },
    // Google Cloud Batch: from 0.
    Scheduler {
        index: "BATCH_TASK_INDEX",
        count: "BATCH_TASK_COUNT",
        min: None,
        max: None,
        step: None,
    },
    // Kubernetes Indexed Jobs: from 0; the count is not in the environment.
    Scheduler {
        index: "JOB_COMPLETION_INDEX",
        count: "CARECASCADE_SHARDS",
        min: None,
        max: None,
        step: None,
    },
];

impl Shard {
    /// The shard of this task from a job scheduler's environment: Slurm job
    /// arrays (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`,
    /// `SLURM_ARRAY_TASK_MIN`, and for arrays with a step such as
    /// `--array=0-14:2`, `SLURM_ARRAY_TASK_STEP` and `SLURM_ARRAY_TASK_MAX`),
    /// AWS Batch array jobs (`AWS_BATCH_JOB_ARRAY_INDEX`,
    /// `AWS_BATCH_JOB_ARRAY_SIZE`), Google Cloud Batch (`BATCH_TASK_INDEX`,
    /// `BATCH_TASK_COUNT`) or Kubernetes Indexed Jobs
    /// (`JOB_COMPLETION_INDEX`, with the count from `count` or
    /// `CARECASCADE_SHARDS`). The task's shard is its position in the
    /// array: task `MIN + k * STEP` is shard `k + 1`. `var` reads a variable
    /// (`std::env::var(..).ok()` in a program; a map in a test). `count`,
    /// if given, must agree with the scheduler's.
    ///
    /// ```
    /// use carecascade_engine::ensemble::Shard;
    ///
    /// let env = |name: &str| match name {
    ///     "SLURM_ARRAY_TASK_ID" => Some("3".to_string()),
    ///     "SLURM_ARRAY_TASK_MIN" => Some("1".to_string()),
    ///     "SLURM_ARRAY_TASK_COUNT" => Some("8".to_string()),
    ///     _ => None,
    /// };
    /// assert_eq!(Shard::from_env(env, None)?, Shard::parse("3/8")?);
    /// # Ok::<(), carecascade_engine::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the variables when none of these schedulers'
    /// variables is set, two schedulers' are, a value is not a whole number,
    /// the index is outside the count or not on the array's step, the
    /// array's indices are not evenly spaced (a Slurm list such as
    /// `--array=1,2,5`), or the count disagrees with `count`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>, count: Option<usize>) -> Result<Shard> {
        let invalid = |message: String| Error::Invalid {
            what: "--shard auto".into(),
            message,
        };
        let number = |name: Option<&str>| -> Result<Option<usize>> {
            let Some(name) = name else {
                return Ok(None);
            };
            match var(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<usize>()
                    .map(Some)
                    .map_err(|_| invalid(format!("{name} is `{v}`, not a whole number"))),
            }
        };
        let set: Vec<&Scheduler> = SCHEDULERS
            .iter()
            .filter(|s| var(s.index).is_some())
            .collect();
        let scheduler = match set.as_slice() {
            [one] => *one,
            [] => {
                return Err(invalid(format!(
                    "no job scheduler's array index is set (looked for {}): give --shard I/N",
                    SCHEDULERS
                        .iter()
                        .map(|s| s.index)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            many => {
                return Err(invalid(format!(
                    "several schedulers' array indices are set ({}): give --shard I/N",
                    many.iter().map(|s| s.index).collect::<Vec<_>>().join(", ")
                )));
            }
        };
        let index_var = scheduler.index;
        let count_var = scheduler.count;
        let index = number(Some(index_var))?.unwrap_or(0);
        let base = number(scheduler.min)?.unwrap_or(0);
        let step = number(scheduler.step)?.unwrap_or(1);
        if step == 0 {
            return Err(invalid(format!(
                "{} is 0: an array's step is at least 1",
                scheduler.step.unwrap_or("the step")
            )));
        }
        let scheduler_count = number(Some(count_var))?;
        let count = match (scheduler_count, count) {
            (Some(a), Some(b)) if a != b => {
                return Err(invalid(format!(
                    "{count_var} is {a} but --shards is {b}: an array of {a} tasks is {a} shards (to rerun some shards of a larger array, give each task --shard I/N)"
                )));
            }
            (Some(n), _) | (None, Some(n)) => n,
            (None, None) => {
                return Err(invalid(format!(
                    "{index_var} is set but not the number of tasks: give --shards N (or set {count_var})"
                )));
            }
        };
        if count == 0 {
            return Err(invalid(format!("{count_var} is 0: there are no tasks")));
        }
        let spacing = if step == 1 {
            String::new()
        } else {
            format!(" in steps of {step}")
        };
        // Each task's shard is its position in the array, which only an
        // evenly spaced array gives from its first index and step.
        if let Some(max) = number(scheduler.max)? {
            let expected = (count - 1)
                .checked_mul(step)
                .and_then(|span| span.checked_add(base));
            if expected != Some(max) {
                return Err(invalid(format!(
                    "the array's {count} task indices run from {base} to {max}{spacing}, so they are not evenly spaced (a list such as --array=1,2,5): submit a range such as --array=1-{count}, or give each task --shard I/N"
                )));
            }
        }
        if index < base || (index - base) % step != 0 || (index - base) / step >= count {
            return Err(invalid(format!(
                "{index_var} is {index}, not one of the {count} tasks numbered from {base}{spacing}"
            )));
        }
        Shard::new((index - base) / step, count)
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
    // A retried or duplicated task wrote the same shard again: identical
    // copies are one shard; copies that differ are refused.
    let mut unique: Vec<Outcome> = Vec::with_capacity(parts.len());
    for p in parts {
        match unique.last() {
            Some(last) if last.shard == p.shard => {
                let same = serde_json::to_string(last).ok() == serde_json::to_string(&p).ok();
                if !same {
                    return Err(invalid(format!(
                        "shard {} was given twice with different results: keep one (rerun it if unsure)",
                        p.shard.map_or_else(String::new, |s| s.to_string())
                    )));
                }
            }
            _ => unique.push(p),
        }
    }
    let parts = unique;
    let count = counts[0];
    let indices: Vec<usize> = parts
        .iter()
        .filter_map(|p| p.shard.map(|s| s.index))
        .collect();
    let missing: Vec<String> = (0..count)
        .filter(|i| !indices.contains(i))
        .map(|i| format!("{}/{count}", i + 1))
        .collect();
    if !missing.is_empty() {
        // Settings first: a shard of another ensemble is not "missing".
        same_ensemble(&parts)?;
        return Err(invalid(format!(
            "need each of the {count} shards; missing: {} (rerun just those); given: {}",
            missing.join(", "),
            given(&parts)
        )));
    }
    join(parts)
}

/// Joins the parts of one ensemble, in run order, into the whole: checks
/// that they come from the same ensemble (naming the settings that differ)
/// and that their runs cover it exactly.
pub(crate) fn join(parts: Vec<Outcome>) -> Result<Outcome> {
    same_ensemble(&parts)?;
    let mut merged = parts[0].clone();
    merged.shard = None;
    for (k, e) in merged.ensembles.iter_mut().enumerate() {
        e.runs = parts
            .iter()
            .flat_map(|p| p.ensembles[k].runs.clone())
            .collect();
        if e.runs.iter().enumerate().any(|(i, r)| r.run != i) || e.runs.len() != merged.total_runs {
            return Err(Error::Invalid {
                what: "merge".into(),
                message: format!(
                    "scenario `{}`: the shards' runs do not cover 0..{}",
                    e.scenario, merged.total_runs
                ),
            });
        }
    }
    Ok(merged)
}

/// Checks that parts come from the same ensemble, naming the settings that
/// differ.
fn same_ensemble(parts: &[Outcome]) -> Result<()> {
    let invalid = |message: String| Error::Invalid {
        what: "merge".into(),
        message,
    };
    let Some(first) = parts.first() else {
        return Err(invalid("no partial results given".into()));
    };
    let name = |o: &Outcome| o.shard.map_or_else(|| "(whole)".into(), |s| s.to_string());
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
    let reference = settings(first);
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
                name(first),
                name(p),
                differ.join(", ")
            )));
        }
    }
    Ok(())
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
    pub(super) fn check(&self) -> std::result::Result<(), String> {
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

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn shards_come_from_each_scheduler_s_array_task() {
        let shard = |vars: &[(&str, &str)], count| Shard::from_env(env(vars), count);
        // Slurm arrays may start at 1 (or anywhere).
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(shard(&slurm, None).unwrap(), Shard::new(3, 4).unwrap());
        assert_eq!(shard(&slurm, Some(4)).unwrap(), Shard::new(3, 4).unwrap());
        let aws = [
            ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "10"),
        ];
        assert_eq!(shard(&aws, None).unwrap(), Shard::new(0, 10).unwrap());
        let gcp = [("BATCH_TASK_INDEX", "2"), ("BATCH_TASK_COUNT", "3")];
        assert_eq!(shard(&gcp, None).unwrap(), Shard::new(2, 3).unwrap());
        // Kubernetes gives only the index: the count comes from --shards.
        let k8s = [("JOB_COMPLETION_INDEX", "5")];
        assert_eq!(shard(&k8s, Some(8)).unwrap(), Shard::new(5, 8).unwrap());
        let err = |vars: &[(&str, &str)], count| shard(vars, count).unwrap_err().to_string();
        assert!(err(&k8s, None).contains("give --shards N"));
        assert!(err(&[], None).contains("no job scheduler's array index is set"));
        assert!(err(&[slurm[0], aws[0]], None).contains("several schedulers"));
        assert!(err(&slurm, Some(5)).contains("SLURM_ARRAY_TASK_COUNT is 4 but --shards is 5"));
        assert!(
            err(
                &[("BATCH_TASK_INDEX", "3"), ("BATCH_TASK_COUNT", "3")],
                None
            )
            .contains("not one of the 3 tasks numbered from 0")
        );
        assert!(
            err(&[("SLURM_ARRAY_TASK_ID", "0"), slurm[1], slurm[2]], None)
                .contains("numbered from 1")
        );
        assert!(err(&[("BATCH_TASK_INDEX", "two"), gcp[1]], None).contains("not a whole number"));
    }

    #[test]
    fn slurm_arrays_with_a_step_or_uneven_indices() {
        let shard = |vars: &[(&str, &str)]| Shard::from_env(env(vars), None);
        // --array=0-14:2: tasks 0, 2, ..., 14 are shards 1 to 8.
        let stepped = |id: &'static str| {
            [
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_MAX", "14"),
                ("SLURM_ARRAY_TASK_STEP", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "8"),
            ]
        };
        assert_eq!(shard(&stepped("0")).unwrap(), Shard::new(0, 8).unwrap());
        assert_eq!(shard(&stepped("6")).unwrap(), Shard::new(3, 8).unwrap());
        assert_eq!(shard(&stepped("14")).unwrap(), Shard::new(7, 8).unwrap());
        let err = |vars: &[(&str, &str)]| shard(vars).unwrap_err().to_string();
        assert!(err(&stepped("5")).contains("numbered from 0 in steps of 2"));
        assert!(err(&stepped("16")).contains("not one of the 8 tasks"));
        // --array=1,2,5: three tasks whose positions the variables cannot give.
        let uneven = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "5"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ];
        assert!(err(&uneven).contains("not evenly spaced"));
        assert!(
            err(&[
                ("SLURM_ARRAY_TASK_ID", "1"),
                ("SLURM_ARRAY_TASK_STEP", "0"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
            ])
            .contains("step is at least 1")
        );
        // Rerunning shards 3 and 7 of 8 as --array=3,7 is two tasks, not
        // shards of 8: refused rather than misnumbered. (Slurm 22.05 sets
        // these for --array=3,7.)
        let rerun = [
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "3"),
            ("SLURM_ARRAY_TASK_MAX", "7"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ];
        assert!(err(&rerun).contains("not evenly spaced"));
        assert!(
            Shard::from_env(env(&rerun), Some(8))
                .unwrap_err()
                .to_string()
                .contains("SLURM_ARRAY_TASK_COUNT is 2 but --shards is 8")
        );
    }
}
