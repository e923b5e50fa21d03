//! Subscripts: the ranges (lists of elements, `(a1-a5)` sequences, ranges
//! made of other ranges; a mapping `-> other` is positional), and the shape
//! of each variable: scalar, defined over whole ranges, or element by
//! element.

use super::{Def, Reader};
use crate::error::Error;
use crate::format::unquoted;
use crate::limits::{Limits, too_many_dimension_elements};
use crate::name::{canonical_name, closest, did_you_mean};
use std::collections::{HashMap, HashSet};

impl Reader<'_> {
    /// Resolves the subscript ranges: elements, `(a1-a5)` sequences and
    /// ranges made of other ranges. Subranges are refused.
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
        // A range whose elements all belong to another is a subrange.
        let mut refused = HashSet::new();
        let sets: Vec<HashSet<String>> = out
            .iter()
            .map(|(_, elements)| elements.iter().map(|e| canonical_name(e)).collect())
            .collect();
        for (i, (name, elements)) in out.iter().enumerate() {
            for (j, (other, others)) in out.iter().enumerate() {
                if i != j
                    && elements.len() < others.len()
                    && sets[i].iter().all(|e| sets[j].contains(e))
                {
                    let at = raw.iter().find(|(n, _, _)| n == name).map_or(0, |r| r.2);
                    self.push_error(
                        at,
                        format!(
                            "`{name}` is a subrange of `{other}`: subranges are not supported yet"
                        ),
                    );
                    refused.insert(i);
                    break;
                }
            }
        }
        out.into_iter()
            .enumerate()
            .filter(|(i, _)| !refused.contains(i))
            .map(|(_, d)| d)
            .collect()
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

    /// Works out a variable's dimensions and which elements each
    /// definition covers.
    pub(super) fn shape(
        &mut self,
        defs: &[Def],
        dimensions: &[(String, Vec<String>)],
        element_sets: &[HashSet<String>],
    ) -> Option<Shape> {
        let first = &defs[0];
        let dimension_of = |name: &str| {
            dimensions
                .iter()
                .position(|(d, _)| canonical_name(d) == canonical_name(name))
        };
        if first.subscripts.is_empty() {
            if defs.len() > 1 {
                self.errors.push(Error::Model {
                    variable: first.name.clone(),
                    location: Some(defs[1].location.clone()),
                    message: "defined twice".into(),
                });
                return None;
            }
            return Some(Shape::Scalar);
        }
        let rank = first.subscripts.len();
        // Whole-range definitions: `x[dim] = ...`.
        if defs.len() == 1 && first.subscripts.iter().all(|s| dimension_of(s).is_some()) {
            let dims = first
                .subscripts
                .iter()
                .filter_map(|s| dimension_of(s))
                .collect();
            return Some(Shape::Whole(dims));
        }
        // Element by element: each position's range is the first that holds
        // every element used there.
        let mut dims = Vec::with_capacity(rank);
        for k in 0..rank {
            let mut used = Vec::new();
            for d in defs {
                if d.subscripts.len() != rank {
                    self.errors.push(Error::Model {
                        variable: d.name.clone(),
                        location: Some(d.location.clone()),
                        message: format!(
                            "has {} subscripts here and {rank} elsewhere",
                            d.subscripts.len()
                        ),
                    });
                    return None;
                }
                used.push(&d.subscripts[k]);
            }
            if let Some(s) = used.iter().find(|s| dimension_of(s).is_some()) {
                let d = defs
                    .iter()
                    .find(|d| &d.subscripts[k] == *s)
                    .unwrap_or(first);
                self.errors.push(Error::Model {
                    variable: d.name.clone(),
                    location: Some(d.location.clone()),
                    message: format!(
                        "mixes the whole range `{s}` with single elements: define every element of `{}` one by one, or the whole range once",
                        d.name
                    ),
                });
                return None;
            }
            let used_names: Vec<String> = used.iter().map(|u| canonical_name(u)).collect();
            let holds = |names: &HashSet<String>| used_names.iter().all(|u| names.contains(u));
            match element_sets.iter().position(holds) {
                Some(i) => dims.push(i),
                None => {
                    let unknown = used_names
                        .iter()
                        .position(|u| !element_sets.iter().any(|set| set.contains(u)))
                        .map_or(used[0], |k| used[k]);
                    // A suggestion from every element, unless there are so
                    // many, or so many errors already, that looking would
                    // take long.
                    let all = dimensions.iter().map(|(_, es)| es.len()).sum::<usize>();
                    let suggestion = if all <= 100_000 && self.errors.len() < 20 {
                        closest(
                            unknown,
                            dimensions
                                .iter()
                                .flat_map(|(_, es)| es.iter().map(String::as_str)),
                        )
                    } else {
                        None
                    };
                    let d = defs
                        .iter()
                        .find(|d| &d.subscripts[k] == unknown)
                        .unwrap_or(first);
                    self.errors.push(Error::Model {
                        variable: d.name.clone(),
                        location: Some(d.location.clone()),
                        message: format!(
                            "`{unknown}` is not an element of any subscript range{}",
                            did_you_mean(suggestion)
                        ),
                    });
                    return None;
                }
            }
        }
        Some(Shape::Elements(dims))
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
