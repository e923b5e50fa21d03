//! A posterior as a table of draws, written to and read from CSV.

use super::prior::Basis;
use crate::error::{Error, Result};
use crate::name::{canonical_name, closest, did_you_mean};
use std::fmt::Write as _;
use std::path::Path;

/// The first line of a posterior file.
const MAGIC: &str = "# carecascade posterior, format 1";
/// The prefix of an observation scale's column.
const SCALE_PREFIX: &str = "scale:";

/// An observation scale: the standard deviation of the log error of a
/// series, at a horizon when runs restart (0 for a single run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    /// The observed series (projection column).
    pub series: String,
    /// Periods ahead (1, 2, ...), or 0 for one run over the window.
    pub horizon: usize,
}

impl Scale {
    fn column(&self) -> String {
        if self.horizon == 0 {
            format!("{SCALE_PREFIX}{}", self.series)
        } else {
            format!("{SCALE_PREFIX}{}:{}", self.series, self.horizon)
        }
    }

    fn parse(column: &str) -> Option<Scale> {
        let rest = column.strip_prefix(SCALE_PREFIX)?;
        match rest.rsplit_once(':') {
            Some((series, h)) if h.parse::<usize>().is_ok() => Some(Scale {
                series: series.to_string(),
                horizon: h.parse().ok()?,
            }),
            _ => Some(Scale {
                series: rest.to_string(),
                horizon: 0,
            }),
        }
    }
}

/// One draw from the posterior.
#[derive(Debug, Clone, PartialEq)]
pub struct Draw {
    /// The parameters' values, in the order of [`Posterior::parameters`].
    pub values: Vec<f64>,
    /// The observation scales, in the order of [`Posterior::scales`].
    pub scales: Vec<f64>,
    /// The log posterior there, up to a constant.
    pub log_posterior: f64,
}

/// Draws from a posterior: the parameters drawn jointly (their
/// correlations kept), the observation scales, and notes on how they were
/// obtained.
///
/// The CSV form has `#` header lines (the notes, the priors and whether the
/// chains converged) and then one row per draw: `draw`, `log_posterior`,
/// the parameters, then each scale as `scale:SERIES` or
/// `scale:SERIES:HORIZON`.
#[derive(Debug, Clone, PartialEq)]
pub struct Posterior {
    /// The parameters, as named in the model.
    pub parameters: Vec<String>,
    /// The observation scales.
    pub scales: Vec<Scale>,
    /// The draws.
    pub draws: Vec<Draw>,
    /// Whether the chains passed their convergence thresholds.
    pub converged: bool,
    /// How the draws were obtained (one line each).
    pub notes: Vec<String>,
    /// Each parameter's prior in words, its basis and note.
    pub priors: Vec<(String, Basis, Option<String>)>,
}

impl Posterior {
    /// The index of a parameter (names compare as model names do).
    pub fn parameter(&self, name: &str) -> Option<usize> {
        let c = canonical_name(name);
        self.parameters.iter().position(|p| canonical_name(p) == c)
    }

    /// The index of the scale of `series` at `horizon`.
    pub fn scale(&self, series: &str, horizon: usize) -> Option<usize> {
        self.scales
            .iter()
            .position(|s| s.series == series && s.horizon == horizon)
    }

    /// The values of parameter `i` over the draws.
    pub fn column(&self, i: usize) -> Vec<f64> {
        self.draws.iter().map(|d| d.values[i]).collect()
    }

    /// The posterior as CSV, with its header lines.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{MAGIC}");
        let _ = writeln!(
            out,
            "# converged: {}",
            if self.converged { "yes" } else { "NO" }
        );
        for note in &self.notes {
            let _ = writeln!(out, "# {}", note.replace('\n', " "));
        }
        for (name, (prior, basis, note)) in self.parameters.iter().zip(&self.priors) {
            let _ = write!(out, "# prior `{name}`: {prior} ({})", basis.as_str());
            if let Some(n) = note {
                let _ = write!(out, ": {}", n.replace('\n', " "));
            }
            out.push('\n');
        }
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        let mut header = vec!["draw".to_string(), "log_posterior".to_string()];
        header.extend(self.parameters.iter().cloned());
        header.extend(self.scales.iter().map(Scale::column));
        let _ = w.write_record(&header);
        for (k, d) in self.draws.iter().enumerate() {
            let mut row = vec![k.to_string(), format!("{}", d.log_posterior)];
            row.extend(d.values.iter().map(|v| format!("{v}")));
            row.extend(d.scales.iter().map(|v| format!("{v}")));
            let _ = w.write_record(&row);
        }
        out.push_str(&String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default());
        out
    }

    /// Reads a posterior file written by [`Posterior::to_csv`].
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be read; as [`Posterior::parse`].
    pub fn load(path: impl AsRef<Path>) -> Result<Posterior> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Posterior::parse(&text, &path.display().to_string())
    }

    /// Parses a posterior's CSV; `file` names it in messages.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the file and line for a missing header
    /// line, a row of the wrong length or a value that is not a finite
    /// number, and for a file without draws.
    pub fn parse(text: &str, file: &str) -> Result<Posterior> {
        let bad = |line: usize, message: String| Error::Invalid {
            what: format!("posterior {file}:{line}"),
            message,
        };
        if text.lines().next().map(str::trim_end) != Some(MAGIC) {
            return Err(bad(
                1,
                format!(
                    "expected the first line `{MAGIC}` (a file written by `carecascade calibrate --posterior`)"
                ),
            ));
        }
        let mut converged = false;
        let mut notes = Vec::new();
        let mut priors_text = Vec::new();
        let mut header_lines = 0;
        for line in text.lines().skip(1) {
            let Some(comment) = line.strip_prefix('#') else {
                break;
            };
            header_lines += 1;
            let comment = comment.trim();
            if let Some(c) = comment.strip_prefix("converged:") {
                converged = c.trim() == "yes";
            } else if comment.starts_with("prior `") {
                priors_text.push(comment.to_string());
            } else {
                notes.push(comment.to_string());
            }
        }
        let body: String = text
            .lines()
            .skip(1 + header_lines)
            .collect::<Vec<_>>()
            .join("\n");
        let first_body_line = 2 + header_lines;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(body.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| bad(first_body_line, e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        if header.len() < 3 || header[0] != "draw" || header[1] != "log_posterior" {
            return Err(bad(
                first_body_line,
                "expected a header `draw,log_posterior,` then the parameters".into(),
            ));
        }
        let mut parameters = Vec::new();
        let mut scales = Vec::new();
        for column in &header[2..] {
            match Scale::parse(column) {
                Some(s) => scales.push(s),
                None if scales.is_empty() => parameters.push(column.clone()),
                None => {
                    return Err(bad(
                        first_body_line,
                        format!("parameter `{column}` comes after the scales"),
                    ));
                }
            }
        }
        let mut draws = Vec::new();
        for (k, record) in reader.records().enumerate() {
            let line = first_body_line + 1 + k;
            let record = record.map_err(|e| bad(line, e.to_string()))?;
            if record.len() != header.len() {
                return Err(bad(
                    line,
                    format!("{} values for {} columns", record.len(), header.len()),
                ));
            }
            let mut numbers = Vec::with_capacity(record.len());
            for (i, field) in record.iter().enumerate().skip(1) {
                let v: f64 = field.trim().parse().map_err(|_| {
                    bad(
                        line,
                        format!("`{}` is not a number (column `{}`)", field, header[i]),
                    )
                })?;
                let is_scale = i >= 2 + parameters.len();
                if !(v.is_finite()
                    || (is_scale && v.is_nan())
                    || (i == 1 && v == f64::NEG_INFINITY))
                {
                    return Err(bad(
                        line,
                        format!("{v} is not a finite number (column `{}`)", header[i]),
                    ));
                }
                numbers.push(v);
            }
            draws.push(Draw {
                log_posterior: numbers[0],
                values: numbers[1..1 + parameters.len()].to_vec(),
                scales: numbers[1 + parameters.len()..].to_vec(),
            });
        }
        if draws.is_empty() {
            return Err(bad(first_body_line, "the file has no draws".into()));
        }
        let priors = parameters
            .iter()
            .map(|p| {
                let found = priors_text
                    .iter()
                    .find(|t| t.starts_with(&format!("prior `{p}`:")));
                match found {
                    Some(t) => {
                        let rest = t[format!("prior `{p}`:").len()..].trim().to_string();
                        let basis = if rest.contains("(source)") {
                            Basis::Source
                        } else {
                            Basis::Assumption
                        };
                        (rest, basis, None)
                    }
                    None => ("not recorded".to_string(), Basis::Assumption, None),
                }
            })
            .collect();
        Ok(Posterior {
            parameters,
            scales,
            draws,
            converged,
            notes,
            priors,
        })
    }

    /// Checks that every parameter is one of `known` (a model's constant
    /// names), naming the closest for each that is not.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] listing the unknown parameters.
    pub fn check_parameters<'k>(
        &self,
        known: impl Iterator<Item = &'k str> + Clone,
        file: &str,
    ) -> Result<()> {
        let mut errors = Vec::new();
        for p in &self.parameters {
            let c = canonical_name(p);
            if !known.clone().any(|k| canonical_name(k) == c) {
                errors.push(format!(
                    "`{p}` is not a constant of the model{}",
                    did_you_mean(closest(p, known.clone()))
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid {
                what: format!("posterior {file}"),
                message: errors.join("; "),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Posterior {
        Posterior {
            parameters: vec!["a".into(), "b, c".into()],
            scales: vec![
                Scale {
                    series: "x".into(),
                    horizon: 1,
                },
                Scale {
                    series: "y".into(),
                    horizon: 0,
                },
            ],
            draws: vec![
                Draw {
                    values: vec![1.0, 0.1 + 0.2],
                    scales: vec![0.01, f64::NAN],
                    log_posterior: -3.5,
                },
                Draw {
                    values: vec![2.0, 1e-300],
                    scales: vec![0.02, 0.5],
                    log_posterior: -4.0,
                },
            ],
            converged: true,
            notes: vec!["likelihood: test".into()],
            priors: vec![
                ("uniform 0 to 3".into(), Basis::Source, None),
                ("uniform 0 to 1".into(), Basis::Assumption, None),
            ],
        }
    }

    #[test]
    fn round_trips_exactly() {
        let p = sample();
        let back = Posterior::parse(&p.to_csv(), "p.csv").unwrap();
        assert_eq!(back.parameters, p.parameters);
        assert_eq!(back.scales, p.scales);
        assert!(back.converged);
        assert_eq!(back.draws[0].values, p.draws[0].values);
        assert_eq!(back.draws[1].values[1], 1e-300);
        assert!(back.draws[0].scales[1].is_nan());
        assert_eq!(back.priors[0].1, Basis::Source);
        assert_eq!(back.parameter("A"), Some(0));
        assert_eq!(back.scale("x", 1), Some(0));
    }

    #[test]
    fn bad_files_are_located() {
        let text = sample().to_csv();
        let e = Posterior::parse("draw,a\n1,2\n", "p.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.csv:1"), "{e}");
        let broken = text.replace("-4,2,", "-4,two,");
        let e = Posterior::parse(&broken, "p.csv").unwrap_err().to_string();
        assert!(e.contains("`two` is not a number"), "{e}");
        assert!(e.contains("p.csv:8"), "{e}");
        let e = sample()
            .check_parameters(["a", "b c"].into_iter(), "p.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`b, c` is not a constant"), "{e}");
    }
}
