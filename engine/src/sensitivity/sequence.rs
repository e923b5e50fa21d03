//! A Sobol low-discrepancy sequence (Joe and Kuo's direction numbers
//! `new-joe-kuo-6.21201`, degree 8 and below, so up to [`MAX_DIMENSIONS`]
//! dimensions), randomised by a digital shift drawn from a seed.
//!
//! A digital shift XORs every point's coordinate in a dimension with the same
//! random 32-bit number: the shifted points keep the net structure of the
//! sequence (each elementary interval of the first `2^m` points holds the
//! same number of points) and the estimate built from them is unbiased,
//! while different seeds give different designs.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bits per coordinate.
const BITS: usize = 32;

/// The most dimensions the sequence has (53): the first, plus one per
/// primitive polynomial of degree 1 to 8 in Joe and Kuo's table.
pub const MAX_DIMENSIONS: usize = 1 + DIRECTIONS.len();

/// For each dimension after the first: the degree `s` of its primitive
/// polynomial over GF(2), the polynomial's inner coefficients `a` (bit
/// `s - 2` is the coefficient of `x^(s-1)`, bit 0 that of `x`), and the
/// initial direction numbers `m_1..m_s` (odd, `m_k < 2^k`). From Joe and
/// Kuo (2008), "Constructing Sobol sequences with better two-dimensional
/// projections", file `new-joe-kuo-6.21201`.
const DIRECTIONS: &[(u32, u32, &[u32])] = &[
    (1, 0, &[1]),
    (2, 1, &[1, 3]),
    (3, 1, &[1, 3, 1]),
    (3, 2, &[1, 1, 1]),
    (4, 1, &[1, 1, 3, 3]),
    (4, 4, &[1, 3, 5, 13]),
    (5, 2, &[1, 1, 5, 5, 17]),
    (5, 4, &[1, 1, 5, 5, 5]),
    (5, 7, &[1, 1, 7, 11, 19]),
    (5, 11, &[1, 1, 5, 1, 1]),
    (5, 13, &[1, 1, 1, 3, 11]),
    (5, 14, &[1, 3, 5, 5, 31]),
    (6, 1, &[1, 3, 3, 9, 7, 49]),
    (6, 13, &[1, 1, 1, 15, 21, 21]),
    (6, 16, &[1, 3, 1, 13, 27, 49]),
    (6, 19, &[1, 1, 1, 15, 7, 5]),
    (6, 22, &[1, 3, 1, 15, 13, 25]),
    (6, 25, &[1, 1, 5, 5, 19, 61]),
    (7, 1, &[1, 3, 7, 11, 23, 15, 103]),
    (7, 4, &[1, 3, 7, 13, 13, 15, 69]),
    (7, 7, &[1, 1, 3, 13, 7, 35, 63]),
    (7, 8, &[1, 3, 5, 9, 1, 25, 53]),
    (7, 14, &[1, 3, 1, 13, 9, 35, 107]),
    (7, 19, &[1, 3, 1, 5, 27, 61, 31]),
    (7, 21, &[1, 1, 5, 11, 19, 41, 61]),
    (7, 28, &[1, 3, 5, 3, 3, 13, 69]),
    (7, 31, &[1, 1, 7, 13, 1, 19, 1]),
    (7, 32, &[1, 3, 7, 5, 13, 19, 59]),
    (7, 37, &[1, 1, 3, 9, 25, 29, 41]),
    (7, 41, &[1, 3, 5, 13, 23, 1, 55]),
    (7, 42, &[1, 3, 7, 3, 13, 59, 17]),
    (7, 50, &[1, 3, 1, 3, 5, 53, 69]),
    (7, 55, &[1, 1, 5, 5, 23, 33, 13]),
    (7, 56, &[1, 1, 7, 7, 1, 61, 123]),
    (7, 59, &[1, 1, 7, 9, 13, 61, 49]),
    (7, 62, &[1, 3, 3, 5, 3, 55, 33]),
    (8, 14, &[1, 3, 1, 15, 31, 13, 49, 245]),
    (8, 21, &[1, 3, 5, 15, 31, 59, 63, 97]),
    (8, 22, &[1, 3, 1, 11, 11, 11, 77, 249]),
    (8, 38, &[1, 3, 1, 11, 27, 43, 71, 9]),
    (8, 47, &[1, 1, 7, 15, 21, 11, 81, 45]),
    (8, 49, &[1, 3, 7, 3, 25, 31, 65, 79]),
    (8, 50, &[1, 3, 1, 1, 19, 11, 3, 205]),
    (8, 52, &[1, 1, 5, 9, 19, 21, 29, 157]),
    (8, 56, &[1, 3, 7, 11, 1, 33, 89, 185]),
    (8, 67, &[1, 3, 3, 3, 15, 9, 79, 71]),
    (8, 70, &[1, 3, 7, 11, 15, 39, 119, 27]),
    (8, 84, &[1, 1, 3, 1, 11, 31, 97, 225]),
    (8, 97, &[1, 1, 1, 3, 23, 43, 57, 177]),
    (8, 103, &[1, 3, 7, 7, 17, 17, 37, 71]),
    (8, 115, &[1, 3, 1, 5, 27, 63, 123, 213]),
    (8, 122, &[1, 1, 3, 5, 11, 43, 53, 133]),
];

/// The direction numbers `v_1..v_32` of dimension `d` (from 0), scaled to
/// 32 bits.
fn direction_numbers(d: usize) -> [u32; BITS] {
    let mut v = [0u32; BITS];
    if d == 0 {
        for (k, v) in v.iter_mut().enumerate() {
            *v = 1 << (BITS - 1 - k);
        }
        return v;
    }
    let (s, a, m) = DIRECTIONS[d - 1];
    let s = s as usize;
    for k in 0..BITS {
        v[k] = if k < s {
            m[k] << (BITS - 1 - k)
        } else {
            let mut x = v[k - s] ^ (v[k - s] >> s);
            for l in 1..s {
                if (a >> (s - 1 - l)) & 1 == 1 {
                    x ^= v[k - l];
                }
            }
            x
        };
    }
    v
}

/// A digitally shifted Sobol sequence in `[0, 1)^d`, generated point by
/// point in Gray-code order (Antonov and Saleev).
#[derive(Debug, Clone)]
pub struct SobolSequence {
    directions: Vec<[u32; BITS]>,
    shift: Vec<u32>,
    /// The unshifted integer coordinates of the next point.
    state: Vec<u32>,
    /// The index of the next point.
    index: u64,
}

impl SobolSequence {
    /// The first `dimensions` dimensions of the sequence, shifted by
    /// random numbers drawn from `seed` (a shift of zero, from
    /// [`SobolSequence::unshifted`], gives the classical sequence).
    ///
    /// Returns `None` for 0 or more than [`MAX_DIMENSIONS`] dimensions.
    pub fn new(dimensions: usize, seed: u64) -> Option<SobolSequence> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let shift = (0..dimensions).map(|_| rng.random::<u32>()).collect();
        SobolSequence::with_shift(dimensions, shift)
    }

    /// The classical (unshifted) sequence, from its first point, the
    /// origin (given as the centre of its cell, 2^-33 in each dimension).
    ///
    /// Returns `None` for 0 or more than [`MAX_DIMENSIONS`] dimensions.
    pub fn unshifted(dimensions: usize) -> Option<SobolSequence> {
        SobolSequence::with_shift(dimensions, vec![0; dimensions])
    }

    fn with_shift(dimensions: usize, shift: Vec<u32>) -> Option<SobolSequence> {
        if dimensions == 0 || dimensions > MAX_DIMENSIONS {
            return None;
        }
        Some(SobolSequence {
            directions: (0..dimensions).map(direction_numbers).collect(),
            shift,
            state: vec![0; dimensions],
            index: 0,
        })
    }

    /// The number of dimensions.
    pub fn dimensions(&self) -> usize {
        self.state.len()
    }

    /// Moves to the next point.
    fn advance(&mut self) {
        // Gray code: point n differs from point n - 1 by the direction
        // number of the lowest zero bit of n - 1.
        let bit = (self.index.trailing_ones() as usize).min(BITS - 1);
        for (x, v) in self.state.iter_mut().zip(&self.directions) {
            *x ^= v[bit];
        }
        self.index += 1;
    }

    /// Writes the next point into `point` (whose length must be the number
    /// of dimensions). Each coordinate is the centre of its 2^-32 cell, so
    /// it is never exactly 0 or 1.
    pub fn next_into(&mut self, point: &mut [f64]) {
        for ((p, x), s) in point.iter_mut().zip(&self.state).zip(&self.shift) {
            *p = (f64::from(x ^ s) + 0.5) / 4_294_967_296.0;
        }
        self.advance();
    }

    /// The next point.
    pub fn next_point(&mut self) -> Vec<f64> {
        let mut point = vec![0.0; self.dimensions()];
        self.next_into(&mut point);
        point
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The multiplicative order of x modulo the polynomial, or 0 if x^e
    /// never comes back to 1 within 2^s steps.
    fn order_of_x(s: u32, a: u32) -> u64 {
        // The polynomial x^s + a_1 x^(s-1) + ... + a_(s-1) x + 1 as bits.
        let poly = (1u64 << s) | (u64::from(a) << 1) | 1;
        let mut r = 1u64;
        for e in 1..=(1u64 << s) {
            r <<= 1;
            if r & (1 << s) != 0 {
                r ^= poly;
            }
            if r == 1 {
                return e;
            }
        }
        0
    }

    #[test]
    fn every_polynomial_is_primitive_and_direction_numbers_are_valid() {
        let mut seen = std::collections::HashSet::new();
        for &(s, a, m) in DIRECTIONS {
            assert_eq!(order_of_x(s, a), (1 << s) - 1, "degree {s}, a = {a}");
            assert!(seen.insert((s, a)), "degree {s}, a = {a} twice");
            assert_eq!(m.len(), s as usize);
            for (k, m) in m.iter().enumerate() {
                assert!(
                    m % 2 == 1 && *m < (1 << (k + 1)),
                    "degree {s}, a = {a}: m = {m}"
                );
            }
        }
    }

    #[test]
    fn the_classical_sequence_begins_as_published() {
        let mut s = SobolSequence::unshifted(3).unwrap();
        let expected = [
            [0.0, 0.0, 0.0],
            [0.5, 0.5, 0.5],
            [0.75, 0.25, 0.25],
            [0.25, 0.75, 0.75],
            [0.375, 0.375, 0.625],
            [0.875, 0.875, 0.125],
        ];
        for row in expected {
            let p = s.next_point();
            for (x, e) in p.iter().zip(row) {
                assert!((x - e).abs() < 1e-9, "{p:?} against {row:?}");
            }
        }
    }

    /// The first 2^m points are a (t, m, 2)-net in every pair of dimensions
    /// for small grids: with 4096 points, each cell of an 8 x 8 grid holds
    /// exactly 64, in every pair of dimensions and shifted or not. Random
    /// points would miss by about 8.
    #[test]
    fn pairs_of_dimensions_are_evenly_filled() {
        for seed in [None, Some(3)] {
            let d = MAX_DIMENSIONS;
            let mut s = match seed {
                None => SobolSequence::unshifted(d),
                Some(seed) => SobolSequence::new(d, seed),
            }
            .unwrap();
            let points: Vec<Vec<f64>> = (0..4096).map(|_| s.next_point()).collect();
            for i in 0..d {
                for j in i + 1..d {
                    let mut counts = [0usize; 64];
                    for p in &points {
                        let cell = (p[i] * 8.0) as usize * 8 + (p[j] * 8.0) as usize;
                        counts[cell] += 1;
                    }
                    assert!(
                        counts.iter().all(|&c| c == 64),
                        "dimensions {i} and {j}: {counts:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn too_many_dimensions_are_refused() {
        assert!(SobolSequence::new(0, 1).is_none());
        assert!(SobolSequence::new(MAX_DIMENSIONS + 1, 1).is_none());
        assert_eq!(
            SobolSequence::new(MAX_DIMENSIONS, 1).unwrap().dimensions(),
            MAX_DIMENSIONS
        );
    }
}
