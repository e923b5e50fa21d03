//! Subscripts: the ranges (lists of elements, `(a1-a5)` sequences, ranges
//! made of other ranges), and the shape of each variable: scalar, defined
//! over whole ranges, or element by element.

use super::Reader;
use crate::format::unquoted;
use crate::limits::{Limits, too_many_dimension_elements};
use crate::name::canonical_name;
use std::collections::HashMap;

impl Reader<'_> {
    /// Resolves the subscript ranges: elements, `(a1-a5)` sequences and
    /// ranges made of other ranges (subranges are sorted out by
    /// [`super::expand::Ranges`]).
    pub(super) fn dimensions(
        &mut self,
        raw: &[(String, Vec<String>, usize)],
    ) -> Vec<(String, Vec<String>)> {
        let names: HashMap<String, usize> = raw
            .iter()
            .enumerate()
            .map(|(i, (n, _, _))| (canonical_name(n), i))
            .collect();
        let mut resolved: Vec<Option<Vec<String>>> = vec![None; raw.len()];
        let mut out = Vec::new();
        // The elements made so far, against Limits::elements.
        let mut total = 0u64;
        for i in 0..raw.len() {
            match self.expand(i, raw, &names, &mut resolved, &mut Vec::new(), &mut total) {
                Some(elements) => out.push((raw[i].0.clone(), elements)),
                None => continue,
            }
        }
        out
    }

    fn expand(
        &mut self,
        i: usize,
        raw: &[(String, Vec<String>, usize)],
        names: &HashMap<String, usize>,
        resolved: &mut Vec<Option<Vec<String>>>,
        path: &mut Vec<usize>,
        total: &mut u64,
    ) -> Option<Vec<String>> {
        // Every element made counts against the limit, copies included.
        let count = |this: &mut Self, total: &mut u64, n: u64| {
            let within = total.saturating_add(n) <= Limits::current().elements;
            if within {
                *total += n;
            } else {
                this.push_error(
                    raw[i].2,
                    format!(
                        "subscript range `{}`: {}",
                        raw[i].0,
                        too_many_dimension_elements(u128::from(*total) + u128::from(n))
                    ),
                );
            }
            within
        };
        if let Some(done) = &resolved[i] {
            let done = done.clone();
            return count(self, total, done.len() as u64).then_some(done);
        }
        let (name, parts, at) = &raw[i];
        if path.contains(&i) {
            self.push_error(
                *at,
                format!("subscript range `{name}` is defined in terms of itself"),
            );
            return None;
        }
        path.push(i);
        let mut elements = Vec::new();
        for part in parts {
            if let Some(range) = part.strip_prefix('(').and_then(|p| p.strip_suffix(')')) {
                match numbered_range(range) {
                    Some((prefix, a, b)) => {
                        if !count(self, total, b - a + 1) {
                            path.pop();
                            return None;
                        }
                        elements.extend((a..=b).map(|n| format!("{prefix}{n}")));
                    }
                    None => {
                        self.push_error(
                            *at,
                            format!("expected a numbered range such as `(a1-a5)` in `{name}`, found `({range})`"),
                        );
                        path.pop();
                        return None;
                    }
                }
            } else if let Some(&j) = names.get(&canonical_name(part)).filter(|&&j| j != i) {
                let Some(more) = self.expand(j, raw, names, resolved, path, total) else {
                    path.pop();
                    return None;
                };
                elements.extend(more);
            } else {
                if !count(self, total, 1) {
                    path.pop();
                    return None;
                }
                elements.push(unquoted(part).to_string());
            }
        }
        path.pop();
        if elements.is_empty() {
            self.push_error(*at, format!("subscript range `{name}` has no elements"));
            return None;
        }
        resolved[i] = Some(elements.clone());
        Some(elements)
    }
}

/// A variable's dimensions (indices into the model's ranges).
pub(super) enum Shape {
    Scalar,
    /// One definition over whole ranges: `x[dim] = ...`.
    Whole(Vec<usize>),
    /// Definitions element by element: `x[a] = ...`, `x[b] = ...`.
    Elements(Vec<usize>),
}

impl Shape {
    pub(super) fn dims(&self) -> &[usize] {
        match self {
            Shape::Scalar => &[],
            Shape::Whole(d) | Shape::Elements(d) => d,
        }
    }
}

/// Every element of the ranges `dims`, the last varying fastest (the order
/// of Vensim's constant lists).
pub(super) fn element_tuples(
    dims: &[usize],
    dimensions: &[(String, Vec<String>)],
) -> Vec<Vec<String>> {
    let mut tuples = vec![Vec::new()];
    for &d in dims {
        tuples = tuples
            .into_iter()
            .flat_map(|t| {
                dimensions[d].1.iter().map(move |e| {
                    let mut t = t.clone();
                    t.push(e.clone());
                    t
                })
            })
            .collect();
    }
    tuples
}

/// `a1-a5` → `a1, a2, a3, a4, a5`.
/// A numbered range `a1-a5` as its prefix and first and last numbers.
fn numbered_range(range: &str) -> Option<(String, u64, u64)> {
    let (lo, hi) = range.split_once('-')?;
    let split = |s: &str| {
        let s = s.trim();
        let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, n) = s.split_at(s.len() - digits);
        Some((prefix.to_string(), n.parse::<u64>().ok()?))
    };
    let ((prefix, a), (other, b)) = (split(lo)?, split(hi)?);
    if canonical_name(&prefix) != canonical_name(&other) || a > b {
        return None;
    }
    Some((prefix, a, b))
}
