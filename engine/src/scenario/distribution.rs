//! Distributions of uncertain parameters, given as evidence reports them
//! (mean and standard deviation, or quantiles), with optional truncation.
//!
//! Random sampling draws with `rand_distr`'s samplers; Latin hypercube
//! sampling maps stratified uniforms through the inverse distribution
//! function (`statrs`). Truncation to `[lower, upper]` is by rejection for
//! random draws and by restricting the uniform to `[F(lower), F(upper)]` for
//! Latin hypercube draws, so both sample the same truncated distribution.

use rand::{Rng, RngExt};
use rand_distr::Distribution as _;
use serde::Deserialize;
use statrs::distribution::ContinuousCDF;

/// The 95th percentile of the standard normal distribution.
const Z95: f64 = 1.644_853_626_951_472_2;

/// A distribution's shape and parameters, validated.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Shape {
    /// Normal with this mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Log-normal: the logarithm is normal with this `mu` and `sigma`.
    LogNormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
    },
    /// Beta with shapes `alpha` and `beta`, scaled to `[min, max]`.
    Beta {
        /// First shape.
        alpha: f64,
        /// Second shape.
        beta: f64,
        /// Lower end.
        min: f64,
        /// Upper end.
        max: f64,
    },
    /// Gamma with this shape and scale.
    Gamma {
        /// Shape (k).
        shape: f64,
        /// Scale (theta).
        scale: f64,
    },
    /// Uniform on `[min, max]`.
    Uniform {
        /// Lower end.
        min: f64,
        /// Upper end.
        max: f64,
    },
    /// Triangular on `[min, max]` with its peak at `mode`.
    Triangular {
        /// Lower end.
        min: f64,
        /// Most likely value.
        mode: f64,
        /// Upper end.
        max: f64,
    },
    /// PERT on `[min, max]` with its peak at `mode` (a beta with
    /// `alpha = 1 + 4 (mode - min) / (max - min)`).
    Pert {
        /// Lower end.
        min: f64,
        /// Most likely value.
        mode: f64,
        /// Upper end.
        max: f64,
    },
}

/// An uncertain parameter's distribution, possibly truncated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distribution {
    shape: Shape,
    lower: Option<f64>,
    upper: Option<f64>,
}

impl Distribution {
    /// The shape and its parameters.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Values below this are not drawn.
    pub fn lower(&self) -> Option<f64> {
        self.lower
    }

    /// Values above this are not drawn.
    pub fn upper(&self) -> Option<f64> {
        self.upper
    }
}

/// A distribution as written in a scenario file. Give `distribution` and
/// either its natural parameters or, where evidence reports them, the mean
/// and standard deviation or the 5th and 95th percentiles.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DistributionSpec {
    /// `normal`, `lognormal`, `beta`, `gamma`, `uniform`, `triangular` or `pert`.
    pub distribution: String,
    /// Mean (normal, lognormal, beta, gamma).
    pub mean: Option<f64>,
    /// Standard deviation (normal, lognormal, beta, gamma).
    pub sd: Option<f64>,
    /// 5th percentile (normal, lognormal).
    pub p5: Option<f64>,
    /// 95th percentile (normal, lognormal).
    pub p95: Option<f64>,
    /// Lower end (uniform, triangular, PERT; beta's range, default 0).
    pub min: Option<f64>,
    /// Most likely value (triangular, PERT).
    pub mode: Option<f64>,
    /// Upper end (uniform, triangular, PERT; beta's range, default 1).
    pub max: Option<f64>,
    /// Beta's first shape.
    pub alpha: Option<f64>,
    /// Beta's second shape.
    pub beta: Option<f64>,
    /// Gamma's shape.
    pub shape: Option<f64>,
    /// Gamma's scale.
    pub scale: Option<f64>,
    /// Truncate below.
    pub lower: Option<f64>,
    /// Truncate above.
    pub upper: Option<f64>,
}

const NAMES: &[&str] = &[
    "normal",
    "lognormal",
    "beta",
    "gamma",
    "uniform",
    "triangular",
    "pert",
];

impl TryFrom<&DistributionSpec> for Distribution {
    type Error = String;

    fn try_from(s: &DistributionSpec) -> Result<Distribution, String> {
        let finite = |name: &str, v: Option<f64>| -> Result<f64, String> {
            match v {
                Some(v) if v.is_finite() => Ok(v),
                Some(v) => Err(format!("`{name}` must be a finite number, not {v}")),
                None => Err(format!("needs `{name}`")),
            }
        };
        let positive = |name: &str, v: Option<f64>| -> Result<f64, String> {
            let v = finite(name, v)?;
            if v > 0.0 {
                Ok(v)
            } else {
                Err(format!("`{name}` must be > 0, not {v}"))
            }
        };
        let range = |need_mode: bool| -> Result<(f64, f64, f64), String> {
            let (min, max) = (finite("min", s.min)?, finite("max", s.max)?);
            if min >= max {
                return Err(format!("needs min < max, not {min} and {max}"));
            }
            let mode = if need_mode {
                let mode = finite("mode", s.mode)?;
                if !(min..=max).contains(&mode) {
                    return Err(format!(
                        "needs min <= mode <= max, not {min}, {mode}, {max}"
                    ));
                }
                mode
            } else {
                0.0
            };
            Ok((min, mode, max))
        };
        let quantiles = || match (s.p5, s.p95) {
            (Some(a), Some(b)) if a.is_finite() && b.is_finite() && a < b => Ok(Some((a, b))),
            (Some(a), Some(b)) => Err(format!("needs p5 < p95, not {a} and {b}")),
            (None, None) => Ok(None),
            _ => Err("give both `p5` and `p95`".to_string()),
        };
        let shape = match s.distribution.trim().to_ascii_lowercase().as_str() {
            "normal" => match quantiles()? {
                Some((a, b)) => Shape::Normal {
                    mean: (a + b) / 2.0,
                    sd: (b - a) / (2.0 * Z95),
                },
                None => Shape::Normal {
                    mean: finite("mean", s.mean)?,
                    sd: positive("sd", s.sd)?,
                },
            },
            "lognormal" | "log_normal" => match quantiles()? {
                Some((a, b)) if a > 0.0 => Shape::LogNormal {
                    mu: (a.ln() + b.ln()) / 2.0,
                    sigma: (b.ln() - a.ln()) / (2.0 * Z95),
                },
                Some(_) => return Err("a lognormal's p5 must be > 0".into()),
                None => {
                    let (mean, sd) = (positive("mean", s.mean)?, positive("sd", s.sd)?);
                    let sigma2 = (1.0 + (sd / mean).powi(2)).ln();
                    Shape::LogNormal {
                        mu: mean.ln() - sigma2 / 2.0,
                        sigma: sigma2.sqrt(),
                    }
                }
            },
            "beta" => {
                let (min, max) = (s.min.unwrap_or(0.0), s.max.unwrap_or(1.0));
                if !(min.is_finite() && max.is_finite() && min < max) {
                    return Err(format!("needs min < max, not {min} and {max}"));
                }
                match (s.alpha, s.beta) {
                    (Some(_), _) | (_, Some(_)) => Shape::Beta {
                        alpha: positive("alpha", s.alpha)?,
                        beta: positive("beta", s.beta)?,
                        min,
                        max,
                    },
                    _ => {
                        let m = (finite("mean", s.mean)? - min) / (max - min);
                        let v = (positive("sd", s.sd)? / (max - min)).powi(2);
                        if !(0.0 < m && m < 1.0) || v >= m * (1.0 - m) {
                            return Err(format!(
                                "no beta distribution on [{min}, {max}] has mean {} and sd {}",
                                s.mean.unwrap_or(f64::NAN),
                                s.sd.unwrap_or(f64::NAN)
                            ));
                        }
                        let common = m * (1.0 - m) / v - 1.0;
                        Shape::Beta {
                            alpha: m * common,
                            beta: (1.0 - m) * common,
                            min,
                            max,
                        }
                    }
                }
            }
            "gamma" => match (s.shape, s.scale) {
                (Some(_), _) | (_, Some(_)) => Shape::Gamma {
                    shape: positive("shape", s.shape)?,
                    scale: positive("scale", s.scale)?,
                },
                _ => {
                    let (mean, sd) = (positive("mean", s.mean)?, positive("sd", s.sd)?);
                    Shape::Gamma {
                        shape: (mean / sd).powi(2),
                        scale: sd * sd / mean,
                    }
                }
            },
            "uniform" => {
                let (min, _, max) = range(false)?;
                Shape::Uniform { min, max }
            }
            "triangular" => {
                let (min, mode, max) = range(true)?;
                Shape::Triangular { min, mode, max }
            }
            "pert" => {
                let (min, mode, max) = range(true)?;
                Shape::Pert { min, mode, max }
            }
            other => {
                return Err(format!(
                    "unknown distribution `{other}`{} (one of {})",
                    crate::name::did_you_mean(crate::name::closest(other, NAMES.iter().copied())),
                    NAMES.join(", ")
                ));
            }
        };
        let d = Distribution {
            shape,
            lower: s.lower,
            upper: s.upper,
        };
        if let (Some(lo), Some(hi)) = (d.lower, d.upper)
            && lo >= hi
        {
            return Err(format!("needs lower < upper, not {lo} and {hi}"));
        }
        let (lo, hi) = (
            d.cdf(d.lower.unwrap_or(f64::NEG_INFINITY)),
            d.cdf(d.upper.unwrap_or(f64::INFINITY)),
        );
        if hi - lo < 1e-6 {
            return Err(format!(
                "truncation to [{}, {}] leaves almost none of the distribution",
                d.lower.unwrap_or(f64::NEG_INFINITY),
                d.upper.unwrap_or(f64::INFINITY)
            ));
        }
        Ok(d)
    }
}

impl Distribution {
    /// The untruncated distribution function at `x`.
    fn cdf(&self, x: f64) -> f64 {
        use statrs::distribution as sd;
        if x == f64::NEG_INFINITY {
            return 0.0;
        }
        if x == f64::INFINITY {
            return 1.0;
        }
        match self.shape {
            Shape::Normal { mean, sd } => sd::Normal::new(mean, sd).map_or(f64::NAN, |d| d.cdf(x)),
            Shape::LogNormal { mu, sigma } => {
                sd::LogNormal::new(mu, sigma).map_or(f64::NAN, |d| d.cdf(x))
            }
            Shape::Beta {
                alpha,
                beta,
                min,
                max,
            } => {
                let y = ((x - min) / (max - min)).clamp(0.0, 1.0);
                sd::Beta::new(alpha, beta).map_or(f64::NAN, |d| d.cdf(y))
            }
            Shape::Gamma { shape, scale } => {
                sd::Gamma::new(shape, 1.0 / scale).map_or(f64::NAN, |d| d.cdf(x))
            }
            Shape::Uniform { min, max } => ((x - min) / (max - min)).clamp(0.0, 1.0),
            Shape::Triangular { min, mode, max } => {
                if x <= min {
                    0.0
                } else if x >= max {
                    1.0
                } else if x <= mode {
                    (x - min).powi(2) / ((max - min) * (mode - min))
                } else {
                    1.0 - (max - x).powi(2) / ((max - min) * (max - mode))
                }
            }
            Shape::Pert { min, mode, max } => {
                let (a, b) = pert_shapes(min, mode, max);
                let y = ((x - min) / (max - min)).clamp(0.0, 1.0);
                sd::Beta::new(a, b).map_or(f64::NAN, |d| d.cdf(y))
            }
        }
    }

    /// The untruncated inverse distribution function at `u` in (0, 1).
    fn quantile(&self, u: f64) -> f64 {
        use statrs::distribution as sd;
        match self.shape {
            Shape::Normal { mean, sd } => {
                sd::Normal::new(mean, sd).map_or(f64::NAN, |d| d.inverse_cdf(u))
            }
            Shape::LogNormal { mu, sigma } => {
                sd::Normal::new(mu, sigma).map_or(f64::NAN, |d| d.inverse_cdf(u).exp())
            }
            Shape::Beta {
                alpha,
                beta,
                min,
                max,
            } => sd::Beta::new(alpha, beta)
                .map_or(f64::NAN, |d| min + (max - min) * d.inverse_cdf(u)),
            Shape::Gamma { shape, scale } => {
                sd::Gamma::new(shape, 1.0 / scale).map_or(f64::NAN, |d| d.inverse_cdf(u))
            }
            Shape::Uniform { min, max } => min + u * (max - min),
            Shape::Triangular { min, mode, max } => {
                let c = (mode - min) / (max - min);
                if u < c {
                    min + (u * (max - min) * (mode - min)).sqrt()
                } else {
                    max - ((1.0 - u) * (max - min) * (max - mode)).sqrt()
                }
            }
            Shape::Pert { min, mode, max } => {
                let (a, b) = pert_shapes(min, mode, max);
                sd::Beta::new(a, b).map_or(f64::NAN, |d| min + (max - min) * d.inverse_cdf(u))
            }
        }
    }

    /// The value at the (truncated) distribution's quantile `u` in (0, 1):
    /// how Latin hypercube samples are drawn.
    pub fn at_quantile(&self, u: f64) -> f64 {
        let lo = self.cdf(self.lower.unwrap_or(f64::NEG_INFINITY));
        let hi = self.cdf(self.upper.unwrap_or(f64::INFINITY));
        let x = self.quantile(lo + u * (hi - lo));
        x.clamp(
            self.lower.unwrap_or(f64::NEG_INFINITY),
            self.upper.unwrap_or(f64::INFINITY),
        )
    }

    /// One random draw (with `rand_distr`), rejecting values outside the
    /// truncation.
    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        let (lo, hi) = (
            self.lower.unwrap_or(f64::NEG_INFINITY),
            self.upper.unwrap_or(f64::INFINITY),
        );
        // Truncation keeps at least 1e-6 of the mass (checked when built),
        // so rejection ends; past the cap, fall back to the quantile.
        for _ in 0..100_000 {
            let x = self.draw(rng);
            if (lo..=hi).contains(&x) {
                return x;
            }
        }
        self.at_quantile(rng.random::<f64>())
    }

    fn draw(&self, rng: &mut impl Rng) -> f64 {
        use rand_distr as rd;
        // Parameters were validated, so the constructors cannot fail.
        match self.shape {
            Shape::Normal { mean, sd } => {
                rd::Normal::new(mean, sd).map_or(f64::NAN, |d| d.sample(rng))
            }
            Shape::LogNormal { mu, sigma } => {
                rd::LogNormal::new(mu, sigma).map_or(f64::NAN, |d| d.sample(rng))
            }
            Shape::Beta {
                alpha,
                beta,
                min,
                max,
            } => rd::Beta::new(alpha, beta).map_or(f64::NAN, |d| min + (max - min) * d.sample(rng)),
            Shape::Gamma { shape, scale } => {
                rd::Gamma::new(shape, scale).map_or(f64::NAN, |d| d.sample(rng))
            }
            Shape::Uniform { min, max } => {
                rd::Uniform::new(min, max).map_or(f64::NAN, |d| d.sample(rng))
            }
            Shape::Triangular { min, mode, max } => {
                rd::Triangular::new(min, max, mode).map_or(f64::NAN, |d| d.sample(rng))
            }
            Shape::Pert { min, mode, max } => rd::Pert::new(min, max)
                .with_mode(mode)
                .map_or(f64::NAN, |d| d.sample(rng)),
        }
    }

    /// The mean of the untruncated distribution.
    pub fn mean(&self) -> f64 {
        match self.shape {
            Shape::Normal { mean, .. } => mean,
            Shape::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Shape::Beta {
                alpha,
                beta,
                min,
                max,
            } => min + (max - min) * alpha / (alpha + beta),
            Shape::Gamma { shape, scale } => shape * scale,
            Shape::Uniform { min, max } => (min + max) / 2.0,
            Shape::Triangular { min, mode, max } => (min + mode + max) / 3.0,
            Shape::Pert { min, mode, max } => (min + 4.0 * mode + max) / 6.0,
        }
    }
}

impl std::fmt::Display for Distribution {
    /// The shape and its parameters as a scenario file could give them,
    /// e.g. `triangular(min 0.4, mode 0.8, max 1.2)`, with any truncation.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.shape {
            Shape::Normal { mean, sd } => write!(f, "normal(mean {mean}, sd {sd})"),
            Shape::LogNormal { mu, sigma } => {
                write!(f, "lognormal(mu {mu:.4}, sigma {sigma:.4})")
            }
            Shape::Beta {
                alpha,
                beta,
                min,
                max,
            } => write!(
                f,
                "beta(alpha {alpha:.4}, beta {beta:.4}) on [{min}, {max}]"
            ),
            Shape::Gamma { shape, scale } => write!(f, "gamma(shape {shape:.4}, scale {scale:.4})"),
            Shape::Uniform { min, max } => write!(f, "uniform(min {min}, max {max})"),
            Shape::Triangular { min, mode, max } => {
                write!(f, "triangular(min {min}, mode {mode}, max {max})")
            }
            Shape::Pert { min, mode, max } => write!(f, "pert(min {min}, mode {mode}, max {max})"),
        }?;
        match (self.lower, self.upper) {
            (None, None) => Ok(()),
            (lo, hi) => write!(
                f,
                " truncated to [{}, {}]",
                lo.unwrap_or(f64::NEG_INFINITY),
                hi.unwrap_or(f64::INFINITY)
            ),
        }
    }
}

fn pert_shapes(min: f64, mode: f64, max: f64) -> (f64, f64) {
    let r = max - min;
    (1.0 + 4.0 * (mode - min) / r, 1.0 + 4.0 * (max - mode) / r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn spec(text: &str) -> Result<Distribution, String> {
        let s: DistributionSpec = toml::from_str(text).unwrap();
        Distribution::try_from(&s)
    }

    /// Random draws and Latin hypercube quantiles agree with the stated
    /// mean, and quantile inputs give back their quantiles.
    #[test]
    fn every_shape_samples_its_distribution() {
        let cases = [
            ("distribution = \"normal\"\nmean = 2\nsd = 0.5", 2.0),
            ("distribution = \"normal\"\np5 = 1\np95 = 3", 2.0),
            ("distribution = \"lognormal\"\nmean = 2\nsd = 1", 2.0),
            ("distribution = \"beta\"\nmean = 0.3\nsd = 0.1", 0.3),
            (
                "distribution = \"beta\"\nalpha = 2\nbeta = 6\nmin = 10\nmax = 18",
                12.0,
            ),
            ("distribution = \"gamma\"\nmean = 4\nsd = 2", 4.0),
            ("distribution = \"uniform\"\nmin = 0\nmax = 0.08", 0.04),
            (
                "distribution = \"triangular\"\nmin = 3\nmode = 4\nmax = 8",
                5.0,
            ),
            (
                "distribution = \"pert\"\nmin = 0\nmode = 0.32\nmax = 0.5",
                (0.0 + 4.0 * 0.32 + 0.5) / 6.0,
            ),
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for (text, mean) in cases {
            let d = spec(text).unwrap();
            assert!((d.mean() - mean).abs() < 1e-9, "{text}: {}", d.mean());
            let n = 40_000;
            let random: f64 = (0..n).map(|_| d.sample(&mut rng)).sum::<f64>() / n as f64;
            let strata: f64 = (0..n)
                .map(|k| d.at_quantile((k as f64 + 0.5) / n as f64))
                .sum::<f64>()
                / n as f64;
            let scale = mean.abs().max(0.1);
            assert!(
                (random - mean).abs() < 0.02 * scale,
                "{text}: random mean {random}"
            );
            assert!(
                (strata - mean).abs() < 0.002 * scale,
                "{text}: stratified mean {strata}"
            );
        }
        let d = spec("distribution = \"lognormal\"\np5 = 2\np95 = 8").unwrap();
        assert!(
            (d.at_quantile(0.05) - 2.0).abs() < 1e-9 && (d.at_quantile(0.95) - 8.0).abs() < 1e-9
        );
    }

    /// The inverse distribution function inverts the distribution
    /// function for every shape, truncated or not: how sensitivity designs
    /// map unit-cube points to values.
    #[test]
    fn at_quantile_inverts_the_distribution_function() {
        let cases = [
            "distribution = \"normal\"\nmean = 2\nsd = 0.5",
            "distribution = \"lognormal\"\np5 = 2\np95 = 8",
            "distribution = \"beta\"\nalpha = 2\nbeta = 6\nmin = 10\nmax = 18",
            "distribution = \"gamma\"\nmean = 4\nsd = 2",
            "distribution = \"uniform\"\nmin = 0\nmax = 0.08",
            "distribution = \"triangular\"\nmin = 3\nmode = 4\nmax = 8",
            "distribution = \"pert\"\nmin = 0\nmode = 0.32\nmax = 0.5",
            "distribution = \"normal\"\nmean = 0\nsd = 1\nlower = -0.5\nupper = 2",
        ];
        for text in cases {
            let d = spec(text).unwrap();
            let (lo, hi) = (
                d.cdf(d.lower.unwrap_or(f64::NEG_INFINITY)),
                d.cdf(d.upper.unwrap_or(f64::INFINITY)),
            );
            let mut previous = f64::NEG_INFINITY;
            for k in 1..100 {
                let u = k as f64 / 100.0;
                let x = d.at_quantile(u);
                assert!(x.is_finite() && x > previous, "{text}: u = {u}: {x}");
                previous = x;
                let back = (d.cdf(x) - lo) / (hi - lo);
                assert!(
                    (back - u).abs() < 1e-6,
                    "{text}: u = {u}, x = {x}, back {back}"
                );
            }
        }
        assert_eq!(
            spec(cases[5]).unwrap().to_string(),
            "triangular(min 3, mode 4, max 8)"
        );
        assert!(
            spec(cases[7])
                .unwrap()
                .to_string()
                .ends_with("truncated to [-0.5, 2]")
        );
    }

    #[test]
    fn truncation_keeps_draws_inside() {
        let d =
            spec("distribution = \"normal\"\nmean = 0\nsd = 1\nlower = 0\nupper = 0.5").unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..1000 {
            let x = d.sample(&mut rng);
            assert!((0.0..=0.5).contains(&x), "{x}");
        }
        assert_eq!(d.at_quantile(0.0), 0.0);
        assert!((d.at_quantile(1.0) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = |t: &str| spec(t).unwrap_err();
        assert!(
            err("distribution = \"normall\"\nmean = 1\nsd = 1").contains("did you mean `normal`?")
        );
        assert!(err("distribution = \"normal\"\nmean = 1").contains("needs `sd`"));
        assert!(
            err("distribution = \"pert\"\nmin = 0\nmode = 2\nmax = 1")
                .contains("min <= mode <= max")
        );
        assert!(
            err("distribution = \"beta\"\nmean = 0.5\nsd = 0.6").contains("no beta distribution")
        );
        assert!(err("distribution = \"normal\"\np5 = 3\np95 = 1").contains("p5 < p95"));
        assert!(
            err("distribution = \"normal\"\nmean = 0\nsd = 1\nlower = 50")
                .contains("leaves almost none")
        );
    }
}
