//! Array expansion: the elements of arrayed variables, which element a
//! subscript selects (an element, the element being computed, or every
//! element inside SUM, MEAN, MIN and MAX), the flows of each element of an
//! arrayed stock, and the table of each element of an arrayed lookup.

use super::{Ctx, Resolver};
use crate::compile::resolved::Node;
use crate::error::{Error, Result};
use crate::expr::{Expr, ExprKind, Index, IndexKind, Span};
use crate::name::{canonical_name, closest_while, did_you_mean};

/// How one index of a subscript selects elements.
pub(super) enum Choice {
    One(usize),
    Each,
}

/// The position of an element tuple in row-major order.
pub(super) fn row_major(elements: &[usize], sizes: &[usize]) -> usize {
    elements
        .iter()
        .zip(sizes)
        .fold(0, |acc, (&e, &n)| acc * n + e)
}

/// Every combination of elements of dimensions with these sizes, in
/// row-major order (the last dimension varies fastest).
pub(super) fn combinations(sizes: &[usize]) -> Vec<Vec<usize>> {
    let mut all = vec![Vec::new()];
    for &size in sizes {
        all = all
            .into_iter()
            .flat_map(|prefix| {
                (0..size).map(move |e| {
                    let mut next = prefix.clone();
                    next.push(e);
                    next
                })
            })
            .collect();
    }
    all
}

impl Resolver<'_> {
    /// The compiled flows of element `k` of stock `i`: the same element of
    /// each flow, which must range over the same dimensions.
    pub(super) fn element_flows(&mut self, i: usize, k: usize, flows: &[String]) -> Vec<usize> {
        let mut out = Vec::new();
        for f in flows {
            let Some(&j) = self.index.get(&canonical_name(f)) else {
                continue;
            };
            if self.var_dims[j] != self.var_dims[i] {
                if k == 0 {
                    let v = &self.model.variables()[i];
                    let over = |dims: &[String]| {
                        if dims.is_empty() {
                            "no dimensions".to_string()
                        } else {
                            format!("[{}]", dims.join(", "))
                        }
                    };
                    self.errors.push(Error::Model {
                        variable: v.name().to_string(),
                        location: v.location().cloned(),
                        message: format!(
                            "the stock ranges over {} but its flow `{f}` over {}; a flow must have its stock's dimensions",
                            over(v.dimensions()),
                            over(self.model.variables()[j].dimensions())
                        ),
                    });
                }
                continue;
            }
            out.push(self.base[j] + k);
        }
        out
    }

    /// The position of element `elements` of model variable `j`.
    pub(super) fn offset(&self, j: usize, elements: &[usize]) -> usize {
        let dims = self.model.dimensions();
        let sizes: Vec<usize> = self.var_dims[j]
            .iter()
            .map(|&d| dims[d].elements().len())
            .collect();
        row_major(elements, &sizes)
    }

    pub(super) fn dimension_name(&self, d: usize) -> &str {
        self.model.dimensions()[d].name()
    }

    /// How one index of a subscript of `name` selects an element of
    /// dimension `d`.
    pub(super) fn choice(
        &self,
        ctx: &Ctx,
        name: &str,
        d: usize,
        index: &Index,
        aggregate: bool,
    ) -> Result<Choice> {
        let dims = self.model.dimensions();
        let dimension = &dims[d];
        let each = || -> Result<Choice> {
            if aggregate {
                Ok(Choice::Each)
            } else {
                Err(self.error(
                    ctx,
                    &index.span,
                    "`*` and `dimension!` select every element: use them inside SUM, MEAN, MIN or MAX",
                ))
            }
        };
        match &index.kind {
            IndexKind::Computed(_) => Err(self.error(
                ctx,
                &index.span,
                format!("a computed subscript picks one element of `{name}` during the run; it cannot stand here (in SUM and its kin, or for a lookup's table)"),
            )),
            IndexKind::Wildcard => each(),
            IndexKind::All(n) if canonical_name(n) == canonical_name(dimension.name()) => each(),
            IndexKind::All(n) => Err(self.error(
                ctx,
                &index.span,
                format!(
                    "`{n}!` does not match dimension `{}` of `{name}`",
                    dimension.name()
                ),
            )),
            IndexKind::Number(v) => {
                let text = if v.fract() == 0.0 {
                    format!("{}", *v as i64)
                } else {
                    format!("{v}")
                };
                dimension.position(&text).map(Choice::One).ok_or_else(|| {
                    self.error(
                        ctx,
                        &index.span,
                        format!("`{text}` is not an element of `{}`", dimension.name()),
                    )
                })
            }
            IndexKind::Name(n) => {
                if let Some(e) = dimension.position(n) {
                    return Ok(Choice::One(e));
                }
                let named = dims
                    .iter()
                    .position(|x| canonical_name(x.name()) == canonical_name(n));
                match named {
                    // The element being computed: of this dimension, or of one
                    // of the same size (mapped by position).
                    Some(other) if other == d || dims[other].elements().len() == dimension.elements().len() => {
                        match ctx.at.iter().find(|(cd, _)| *cd == other) {
                            Some((_, e)) => Ok(Choice::One(*e)),
                            None if aggregate && other == d => Ok(Choice::Each),
                            None => Err(self.error(
                                ctx,
                                &index.span,
                                format!("`{name}[{n}]`: `{}` does not range over `{n}`, so `{n}` names no element here", ctx.owner),
                            )),
                        }
                    }
                    Some(other) => Err(self.error(
                        ctx,
                        &index.span,
                        format!(
                            "`{n}` has {} elements but `{name}` needs an element of `{}` ({} elements)",
                            dims[other].elements().len(),
                            dimension.name(),
                            dimension.elements().len()
                        ),
                    )),
                    None => Err(self.error(
                        ctx,
                        &index.span,
                        format!(
                            "`{n}` is not an element of `{}`{}",
                            dimension.name(),
                            did_you_mean(closest_while(self.errors.len(), n, dimension.elements().iter().map(String::as_str)))
                        ),
                    )),
                }
            }
        }
    }

    /// The elements an aggregated reference selects: `x[*]`, `x[d!]`, or an
    /// arrayed `x` over dimensions the owner does not range over. `None`
    /// when the expression is not an array.
    pub(super) fn array_elements(&mut self, ctx: &Ctx, e: &Expr) -> Result<Option<Vec<Node>>> {
        Ok(self.array_each(ctx, e)?.map(|(_, nodes)| nodes))
    }

    /// As [`Resolver::array_elements`], with the dimensions that vary (in
    /// the variable's order): the nodes are in row-major order over them.
    pub(super) fn array_each(
        &mut self,
        ctx: &Ctx,
        e: &Expr,
    ) -> Result<Option<(Vec<usize>, Vec<Node>)>> {
        let (j, choices) = match &e.kind {
            ExprKind::Subscript {
                name,
                name_span,
                indices,
            } => {
                self.not_a_lookup(ctx, name, name_span)?;
                let j = self.arrayed(ctx, name, name_span, indices.len())?;
                let dims = self.var_dims[j].clone();
                let mut choices = Vec::new();
                for (index, &d) in indices.iter().zip(&dims) {
                    choices.push(self.choice(ctx, name, d, index, true)?);
                }
                (j, choices)
            }
            ExprKind::Name(name) => match self.index.get(&canonical_name(name)) {
                Some(&j) if !self.var_dims[j].is_empty() => {
                    let choices = self.var_dims[j]
                        .iter()
                        .map(|&d| match ctx.at.iter().find(|(cd, _)| *cd == d) {
                            Some((_, e)) => Choice::One(*e),
                            None => Choice::Each,
                        })
                        .collect();
                    (j, choices)
                }
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        if !choices.iter().any(|c| matches!(c, Choice::Each)) {
            return Ok(None);
        }
        let dims = self.model.dimensions();
        let sizes: Vec<usize> = self.var_dims[j]
            .iter()
            .zip(&choices)
            .map(|(&d, c)| match c {
                Choice::Each => dims[d].elements().len(),
                Choice::One(_) => 1,
            })
            .collect();
        let each: Vec<usize> = self.var_dims[j]
            .iter()
            .zip(&choices)
            .filter(|(_, c)| matches!(c, Choice::Each))
            .map(|(&d, _)| d)
            .collect();
        let nodes = combinations(&sizes)
            .into_iter()
            .map(|combo| {
                let elements: Vec<usize> = combo
                    .iter()
                    .zip(&choices)
                    .map(|(&k, c)| match c {
                        Choice::One(e) => *e,
                        Choice::Each => k,
                    })
                    .collect();
                Node::Var(self.base[j] + self.offset(j, &elements))
            })
            .collect();
        Ok(Some((each, nodes)))
    }

    /// An error if `name` is a lookup without an input: it has no value
    /// of its own to select elements from (as a value, `l[d]` compiled to
    /// a copy from a slot that does not exist).
    pub(super) fn not_a_lookup(&self, ctx: &Ctx, name: &str, span: &Span) -> Result<()> {
        let Some(&j) = self.index.get(&canonical_name(name)) else {
            return Ok(());
        };
        if matches!(
            self.model.variables()[j].kind(),
            crate::model::VariableKind::Lookup { input: None, .. }
        ) {
            return Err(self.error(
                ctx,
                span,
                format!("`{name}` is a lookup: call it with an input, like `{name}[...](x)`"),
            ));
        }
        Ok(())
    }

    /// The model variable `name`, which must be arrayed with `count` dimensions.
    pub(super) fn arrayed(
        &self,
        ctx: &Ctx,
        name: &str,
        span: &Span,
        count: usize,
    ) -> Result<usize> {
        let Some(&j) = self.index.get(&canonical_name(name)) else {
            let suggestion = closest_while(
                self.errors.len(),
                name,
                self.model.variables().iter().map(|v| v.name()),
            );
            return Err(self.error(
                ctx,
                span,
                format!("unknown variable `{name}`{}", did_you_mean(suggestion)),
            ));
        };
        let dims = &self.var_dims[j];
        if dims.len() != count {
            let message = if dims.is_empty() {
                format!("`{name}` is not arrayed, so it takes no subscript")
            } else {
                let names: Vec<&str> = dims.iter().map(|&d| self.dimension_name(d)).collect();
                format!(
                    "`{name}` ranges over [{}], so it needs {} index(es), not {count}",
                    names.join(", "),
                    dims.len()
                )
            };
            return Err(self.error(ctx, span, message));
        }
        Ok(j)
    }

    pub(super) fn subscript(
        &mut self,
        ctx: &Ctx,
        name: &str,
        name_span: &Span,
        indices: &[Index],
    ) -> Result<Node> {
        let j = self.arrayed(ctx, name, name_span, indices.len())?;
        let dims = self.var_dims[j].clone();
        let mut elements = Vec::new();
        // Computed subscripts: (position among the indices, the element's
        // position from 1 as computed).
        let mut computed = Vec::new();
        for (p, (index, &d)) in indices.iter().zip(&dims).enumerate() {
            if let IndexKind::Computed(e) = &index.kind {
                let at = self.expr(ctx, e)?;
                computed.push((p, self.materialize(ctx, at, "computed subscript")));
                elements.push(0);
                continue;
            }
            // A variable's name that is no element or dimension: its value
            // is the position (Stella's `v[i]`).
            if let IndexKind::Name(n) = &index.kind {
                let dimensions = self.model.dimensions();
                let key = canonical_name(n);
                if dimensions[d].position(n).is_none()
                    && !dimensions.iter().any(|x| canonical_name(x.name()) == key)
                    && self.index.contains_key(&key)
                {
                    let at = self.name(ctx, n, &index.span)?;
                    computed.push((p, at));
                    elements.push(0);
                    continue;
                }
            }
            match self.choice(ctx, name, d, index, false)? {
                Choice::One(e) => elements.push(e),
                Choice::Each => unreachable!("only aggregates select every element"),
            }
        }
        Ok(self.computed_element(j, &dims, &mut elements, &computed))
    }

    /// The element of variable `j` at `elements`, where the positions
    /// listed in `computed` are chosen during the run: a choice among the
    /// dimension's elements by the computed position (from 1, rounded);
    /// a position outside the dimension is NaN, which stops the run and
    /// names the variable and the time.
    fn computed_element(
        &self,
        j: usize,
        dims: &[usize],
        elements: &mut Vec<usize>,
        computed: &[(usize, Node)],
    ) -> Node {
        let Some(((p, at), rest)) = computed.split_first() else {
            return Node::Var(self.base[j] + self.offset(j, elements));
        };
        let size = self.model.dimensions()[dims[*p]].elements().len();
        let position = Node::Unary(crate::program::ops::Func1::Round, Box::new(at.clone()));
        let mut out = Node::Const(f64::NAN);
        for k in (0..size).rev() {
            elements[*p] = k;
            let value = self.computed_element(j, dims, elements, rest);
            out = Node::If(
                Box::new(Node::binary(
                    crate::program::ops::Func2::Eq,
                    position.clone(),
                    Node::Const(k as f64 + 1.0),
                )),
                Box::new(value),
                Box::new(out),
            );
        }
        out
    }

    /// The table of lookup `j` to use here: for an arrayed lookup, the
    /// element `indices` select, or without indices the element being
    /// computed; each element has its own table or shares the variable's.
    pub(super) fn element_table(
        &mut self,
        ctx: &Ctx,
        j: usize,
        name: &str,
        span: &Span,
        indices: Option<&[Index]>,
    ) -> Result<usize> {
        let shared = self.table_of[&j];
        let var = match indices {
            Some(indices) => self.subscript(ctx, name, span, indices)?,
            None if self.var_dims[j].is_empty() => return Ok(shared),
            None => {
                let mut elements = Vec::new();
                for &d in &self.var_dims[j] {
                    match ctx.at.iter().find(|(cd, _)| *cd == d) {
                        Some((_, e)) => elements.push(*e),
                        None => {
                            let dim = self.dimension_name(d).to_string();
                            return Err(self.error(
                                ctx,
                                span,
                                format!("lookup `{name}` has a table per element of `{dim}` but `{}` does not range over `{dim}`: call it as `{name}[element](x)`", ctx.owner),
                            ));
                        }
                    }
                }
                Node::Var(self.base[j] + self.offset(j, &elements))
            }
        };
        let Node::Var(id) = var else {
            unreachable!("a subscript resolves to one variable")
        };
        let k = id - self.base[j];
        Ok(self
            .element_table_of
            .get(&(j, k))
            .copied()
            .unwrap_or(shared))
    }
}
