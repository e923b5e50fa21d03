//! The size of a model once its arrays are expanded, estimated from the
//! model alone before the compiler allocates anything, and checked against
//! [`Limits`]: the elements of its dimensions, its scalar values (each
//! variable counts the product of its dimensions' sizes) and its terms
//! (each element counts the terms of its equation, `SUM(x[*])` the
//! elements it adds up, and a delay or smooth its stages).

use crate::error::Result;
use crate::expr::{Expr, ExprKind, IndexKind};
use crate::limits::{Limits, too_large};
use crate::model::{Equation, Model, VariableKind};
use crate::name::canonical_name;
use std::collections::HashMap;

/// The estimated size of a model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Size {
    /// The variable with the most elements, and its count.
    pub most_elements: (usize, u128),
    /// The variable with the most terms, and its count.
    pub most_terms: (usize, u128),
    /// The elements of all the dimensions.
    pub dimension_elements: u128,
    /// Scalar values once arrays are expanded.
    pub elements: u128,
    /// Equation terms once arrays are expanded.
    pub terms: u128,
}

/// Refuses a model larger than the limits in force, with the estimate.
pub(crate) fn check(model: &Model) -> Result<()> {
    let limits = Limits::current();
    let size = estimate(model);
    let largest = |(i, n): (usize, u128)| model.variables().get(i).map(|v| (v, n));
    if size.dimension_elements > limits.elements.into() {
        return Err(too_large(
            "the model's dimensions have too many elements together",
            size.dimension_elements,
            None,
            limits.elements,
            "--max-elements",
            "elements",
        ));
    }
    if size.elements > limits.elements.into() {
        return Err(too_large(
            "the model has too many values once its arrays are expanded (each variable counts the product of its dimensions' sizes)",
            size.elements,
            largest(size.most_elements),
            limits.elements,
            "--max-elements",
            "elements",
        ));
    }
    if size.terms > limits.terms.into() {
        return Err(too_large(
            "the model's equations have too many terms once its arrays are expanded (each element counts its equation's terms, SUM(x[*]) the elements it adds up)",
            size.terms,
            largest(size.most_terms),
            limits.terms,
            "--max-terms",
            "terms",
        ));
    }
    Ok(())
}

/// Estimates a model's size (an upper bound, in saturating arithmetic).
pub(crate) fn estimate(model: &Model) -> Size {
    let sizes: HashMap<String, u128> = model
        .dimensions()
        .iter()
        .map(|d| (canonical_name(d.name()), d.elements().len() as u128))
        .collect();
    let size_of = |name: &str| sizes.get(&canonical_name(name)).copied().unwrap_or(1);
    // The dimensions of each arrayed variable, for aggregates over it.
    let arrayed: HashMap<String, Vec<String>> = model
        .variables()
        .iter()
        .filter(|v| !v.dimensions().is_empty())
        .map(|v| {
            (
                canonical_name(v.name()),
                v.dimensions().iter().map(|d| canonical_name(d)).collect(),
            )
        })
        .collect();
    let mut size = Size {
        dimension_elements: sizes.values().sum(),
        ..Size::default()
    };
    for (i, v) in model.variables().iter().enumerate() {
        let owner: Vec<String> = v.dimensions().iter().map(|d| canonical_name(d)).collect();
        let n = v
            .dimensions()
            .iter()
            .fold(1u128, |n, d| n.saturating_mul(size_of(d)));
        size.elements = size.elements.saturating_add(n);
        if n > size.most_elements.1 {
            size.most_elements = (i, n);
        }
        let terms = |e: &Equation| {
            Terms {
                sizes: &sizes,
                arrayed: &arrayed,
                owner: &owner,
            }
            .of(e.expr())
        };
        let main = match v.kind() {
            VariableKind::Stock {
                initial,
                inflows,
                outflows,
                ..
            } => terms(initial).saturating_add((inflows.len() + outflows.len()) as u128),
            VariableKind::Flow { equation, .. } | VariableKind::Auxiliary { equation } => {
                terms(equation)
            }
            VariableKind::Constant { .. } => 1,
            VariableKind::Lookup { input, .. } => input.as_ref().map_or(1, terms),
        };
        let own = v.element_equations();
        let own_terms = own
            .iter()
            .fold(0u128, |t, (_, e)| t.saturating_add(terms(e)));
        let others = n.saturating_sub(own.len() as u128);
        let all = others.saturating_mul(main).saturating_add(own_terms);
        size.terms = size.terms.saturating_add(all);
        if all > size.most_terms.1 {
            size.most_terms = (i, all);
        }
    }
    size
}

/// Counts the terms of one equation of a variable over `owner`.
struct Terms<'a> {
    sizes: &'a HashMap<String, u128>,
    arrayed: &'a HashMap<String, Vec<String>>,
    owner: &'a [String],
}

impl Terms<'_> {
    fn of(&self, e: &Expr) -> u128 {
        match &e.kind {
            ExprKind::Number(_) => 1,
            // A bare arrayed name counts the elements of its dimensions
            // that the owner does not range over (it is summed over them).
            ExprKind::Name(name) => match self.arrayed.get(&canonical_name(name)) {
                Some(dims) => dims
                    .iter()
                    .filter(|d| !self.owner.contains(d))
                    .fold(1u128, |n, d| {
                        n.saturating_mul(self.sizes.get(d).copied().unwrap_or(1))
                    }),
                None => 1,
            },
            ExprKind::Unary(_, a) => 1u128.saturating_add(self.of(a)),
            ExprKind::Binary(_, a, b) => {
                1u128.saturating_add(self.of(a)).saturating_add(self.of(b))
            }
            ExprKind::If(a, b, c) => 1u128
                .saturating_add(self.of(a))
                .saturating_add(self.of(b))
                .saturating_add(self.of(c)),
            // `x[*]`, `x[d!]` and `x[d]` outside d select every element.
            ExprKind::Subscript { name, indices, .. } => {
                let dims = self.arrayed.get(&canonical_name(name));
                indices.iter().enumerate().fold(1u128, |n, (i, index)| {
                    let dim = dims.and_then(|d| d.get(i));
                    let every = match &index.kind {
                        IndexKind::Wildcard | IndexKind::All(_) => true,
                        IndexKind::Name(d) => {
                            let d = canonical_name(d);
                            self.sizes.contains_key(&d) && !self.owner.contains(&d)
                        }
                        _ => false,
                    };
                    match (every, dim) {
                        (true, Some(d)) => {
                            n.saturating_mul(self.sizes.get(d).copied().unwrap_or(1))
                        }
                        _ => n,
                    }
                })
            }
            ExprKind::Call { name, args, .. } => {
                let inner = args.iter().fold(1u128, |n, a| n.saturating_add(self.of(a)));
                // A delay or smooth is lowered to stages of a few terms each.
                let stages: u128 = match canonical_name(name).as_str() {
                    "delay n" | "delayn" | "smooth n" | "smthn" => 1000,
                    "delay3" | "delay3i" | "smooth3" | "smooth3i" | "smth3" | "delay" => 3,
                    "delay1" | "delay1i" | "smooth" | "smoothi" | "smth1" | "trend" => 1,
                    _ => 0,
                };
                inner.saturating_add(stages.saturating_mul(4 + inner))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{Aux, Constant};

    #[test]
    fn arrays_multiply_and_aggregates_count_what_they_add() {
        let model = Model::builder("m")
            .dimension("a", (1..=100).map(|i| format!("a{i}")))
            .dimension("b", (1..=10).map(|i| format!("b{i}")))
            .add(Constant::new("x", 1.0).dimensions(["a", "b"]))
            .add(Aux::new("y", "SUM(x[a, *]) + 1").dimensions(["a"]))
            .add(Aux::new("z", "SUM(x[*, *])"))
            .build()
            .unwrap();
        let size = estimate(&model);
        assert_eq!(size.dimension_elements, 110);
        assert_eq!(size.elements, 1000 + 100 + 1);
        // x: one term per element; y: (SUM + 10 + `+` + 1) per element;
        // z: SUM + 1,000.
        assert_eq!(size.terms, 1000 + 100 * 13 + 1001);
        assert_eq!(size.most_elements, (0, 1000));
        assert_eq!(size.most_terms, (1, 1300));
    }
}
