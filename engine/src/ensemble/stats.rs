//! Statistics over runs: quantiles that cannot be taken of unsorted data,
//! means, and the summary of one indicator in one period.

use serde::Serialize;

/// Values sorted once, NaNs left out, ready for quantiles.
///
/// ```
/// use carecascade_engine::ensemble::Sample;
///
/// let s = Sample::new([5.0, 1.0, f64::NAN, 3.0, 2.0, 4.0]);
/// assert_eq!(s.len(), 5);
/// assert_eq!(s.quantile(0.5), Some(3.0));
/// assert_eq!(s.quantile(0.1), Some(1.4));
/// assert_eq!(s.quantile(1.5), None);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    sorted: Vec<f64>,
}

impl Sample {
    /// Sorts the values, leaving out NaNs.
    pub fn new(values: impl IntoIterator<Item = f64>) -> Sample {
        let mut sorted: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        Sample { sorted }
    }

    /// Values (NaNs left out).
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The values in ascending order.
    pub fn sorted(&self) -> &[f64] {
        &self.sorted
    }

    /// The mean (`None` for no values).
    pub fn mean(&self) -> Option<f64> {
        (!self.sorted.is_empty())
            .then(|| self.sorted.iter().sum::<f64>() / self.sorted.len() as f64)
    }

    /// The `q` quantile by linear interpolation between order statistics
    /// (R's type 7, numpy's default); `None` for no values or `q` outside
    /// `[0, 1]`.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if !(0.0..=1.0).contains(&q) {
            return None;
        }
        let sorted = &self.sorted;
        match sorted.len() {
            0 => None,
            1 => Some(sorted[0]),
            n => {
                let h = q * (n - 1) as f64;
                let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
                Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
            }
        }
    }
}

/// The `q` quantile of values in any order (NaNs left out), as
/// [`Sample::quantile`]; NaN for no values or `q` outside `[0, 1]`. To take
/// several quantiles of the same values, make one [`Sample`].
pub fn quantile(values: &[f64], q: f64) -> f64 {
    Sample::new(values.iter().copied())
        .quantile(q)
        .unwrap_or(f64::NAN)
}

/// Mean and quantiles of some values (NaNs left out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Values summarised.
    pub n: usize,
    /// Mean (NaN for none).
    pub mean: f64,
    /// The quantiles, in the order asked for (NaN for none).
    pub quantiles: Vec<f64>,
}

impl Stats {
    /// Summarises values.
    pub fn of(values: impl IntoIterator<Item = f64>, quantiles: &[f64]) -> Stats {
        let sample = Sample::new(values);
        Stats {
            n: sample.len(),
            mean: sample.mean().unwrap_or(f64::NAN),
            quantiles: quantiles
                .iter()
                .map(|q| sample.quantile(*q).unwrap_or(f64::NAN))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_order_statistics_of_unsorted_values() {
        let v = [5.0, 3.0, 1.0, 4.0, 2.0];
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 0.25), 2.0);
        assert!((quantile(&v, 0.1) - 1.4).abs() < 1e-12);
        assert_eq!(quantile(&v, 1.0), 5.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert!(quantile(&[], 0.5).is_nan());
        assert!(quantile(&v, -0.1).is_nan());
        let s = Stats::of([3.0, f64::NAN, 1.0, 2.0], &[0.5]);
        assert_eq!((s.n, s.mean, s.quantiles[0]), (3, 2.0, 2.0));
    }
}
