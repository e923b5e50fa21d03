//! Lookups (graphical functions): tables of points interpolated at run time.

use crate::error::Result;
use std::str::FromStr;

/// How a lookup treats inputs between and beyond its points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// Linear between points; the end values hold outside the range
    /// (Vensim's and XMILE's default, `continuous`).
    #[default]
    Continuous,
    /// Linear between points and extended linearly beyond the ends
    /// (XMILE `extrapolate`).
    Extrapolate,
    /// A step function: each point's value holds until the next point
    /// (XMILE `discrete`).
    Discrete,
}

impl Interpolation {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Interpolation::Continuous => "continuous",
            Interpolation::Extrapolate => "extrapolate",
            Interpolation::Discrete => "discrete",
        }
    }
}

impl FromStr for Interpolation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "continuous" => Ok(Interpolation::Continuous),
            "extrapolate" => Ok(Interpolation::Extrapolate),
            "discrete" => Ok(Interpolation::Discrete),
            other => Err(format!(
                "`{other}` is not an interpolation; expected `continuous`, `extrapolate` or `discrete`"
            )),
        }
    }
}

/// A validated table of points with increasing x.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupTable {
    xs: Vec<f64>,
    ys: Vec<f64>,
    interpolation: Interpolation,
}

impl LookupTable {
    /// Builds a table from points.
    ///
    /// # Errors
    ///
    /// A message unless there is at least one point, all values are finite
    /// and the x values increase.
    pub fn new(
        points: impl IntoIterator<Item = (f64, f64)>,
        interpolation: Interpolation,
    ) -> Result<LookupTable, String> {
        let (xs, ys): (Vec<f64>, Vec<f64>) = points.into_iter().unzip();
        if xs.is_empty() {
            return Err("a lookup needs at least one point".into());
        }
        if let Some(i) = xs.iter().chain(&ys).position(|v| !v.is_finite()) {
            let i = i % xs.len();
            return Err(format!(
                "point {} ({}, {}) is not finite",
                i + 1,
                xs[i],
                ys[i]
            ));
        }
        if let Some(i) = xs.windows(2).position(|w| w[1] <= w[0]) {
            return Err(format!(
                "x values must increase, but point {} has x = {} after x = {}",
                i + 2,
                xs[i + 1],
                xs[i]
            ));
        }
        Ok(LookupTable {
            xs,
            ys,
            interpolation,
        })
    }

    /// The x values.
    pub fn xs(&self) -> &[f64] {
        &self.xs
    }

    /// The y values.
    pub fn ys(&self) -> &[f64] {
        &self.ys
    }

    /// The interpolation.
    pub fn interpolation(&self) -> Interpolation {
        self.interpolation
    }

    /// The table's value at `x`.
    ///
    /// ```
    /// use carecascade_engine::{Interpolation, LookupTable};
    /// let t = LookupTable::new([(0.0, 0.0), (10.0, 5.0)], Interpolation::Continuous).unwrap();
    /// assert_eq!(t.eval(4.0), 2.0);
    /// assert_eq!(t.eval(20.0), 5.0);
    /// ```
    #[inline]
    pub fn eval(&self, x: f64) -> f64 {
        let xs = &self.xs;
        let ys = &self.ys;
        let n = xs.len();
        if x.is_nan() {
            return f64::NAN;
        }
        if n == 1 {
            return ys[0];
        }
        if x <= xs[0] {
            return match self.interpolation {
                Interpolation::Extrapolate => {
                    ys[0] + (x - xs[0]) * (ys[1] - ys[0]) / (xs[1] - xs[0])
                }
                _ => ys[0],
            };
        }
        if x >= xs[n - 1] {
            return match self.interpolation {
                Interpolation::Extrapolate => {
                    ys[n - 1] + (x - xs[n - 1]) * (ys[n - 1] - ys[n - 2]) / (xs[n - 1] - xs[n - 2])
                }
                _ => ys[n - 1],
            };
        }
        // First index with xs[i] > x; 1 <= i <= n-1 here.
        let i = xs.partition_point(|&v| v <= x);
        match self.interpolation {
            Interpolation::Discrete => ys[i - 1],
            _ => {
                let (x0, x1, y0, y1) = (xs[i - 1], xs[i], ys[i - 1], ys[i]);
                y0 + (x - x0) * (y1 - y0) / (x1 - x0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_kinds() {
        let pts = [(0.0, 0.0), (1.0, 10.0), (3.0, 30.0)];
        let c = LookupTable::new(pts, Interpolation::Continuous).unwrap();
        assert_eq!(c.eval(-1.0), 0.0);
        assert_eq!(c.eval(0.5), 5.0);
        assert_eq!(c.eval(1.0), 10.0);
        assert_eq!(c.eval(2.0), 20.0);
        assert_eq!(c.eval(4.0), 30.0);
        let e = LookupTable::new(pts, Interpolation::Extrapolate).unwrap();
        assert_eq!(e.eval(-1.0), -10.0);
        assert_eq!(e.eval(4.0), 40.0);
        let d = LookupTable::new(pts, Interpolation::Discrete).unwrap();
        assert_eq!(d.eval(0.9), 0.0);
        assert_eq!(d.eval(1.0), 10.0);
        assert_eq!(d.eval(5.0), 30.0);
    }

    #[test]
    fn invalid_tables() {
        assert!(LookupTable::new([], Interpolation::Continuous).is_err());
        let err =
            LookupTable::new([(1.0, 0.0), (0.0, 1.0)], Interpolation::Continuous).unwrap_err();
        assert!(err.contains("must increase"), "{err}");
        assert!(LookupTable::new([(f64::NAN, 0.0)], Interpolation::Continuous).is_err());
    }
}
