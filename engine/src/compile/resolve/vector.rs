//! Vensim's functions of whole vectors, written out at compile time as
//! ordinary operations over the elements (array sizes are fixed when a
//! model is compiled), with hidden auxiliaries for the values several
//! elements share:
//!
//! * `VECTOR SELECT(selection, expression, missing, action, error)`;
//! * `VECTOR SORT ORDER(v, direction)`, `VECTOR RANK(v, direction)`,
//!   `VECTOR REORDER(v, order)`, `VECTOR ELM MAP(v[base], offset)`;
//! * `ALLOCATE BY PRIORITY(request, priority, size, width, supply)`;
//! * `ALLOCATE AVAILABLE(request, priority profiles, available)`;
//! * `INVERT MATRIX(m, size)`;
//! * Stella's `RANK(array, rank)`.
//!
//! The vector of the functions other than `VECTOR SELECT` is the last
//! dimension of their array arguments (the last two for `INVERT MATRIX`),
//! as in Vensim: the other subscripts pick an element as in any equation,
//! and the element of the result is the left-hand side's element of that
//! dimension (or, when the left-hand side ranges over another dimension
//! of the same size, its last dimension). `VECTOR SELECT` works over the
//! dimensions its arguments mark with `!`, and over every combination of
//! them when the two arguments mark different ones, as Vensim does.

use super::arrays::{Choice, combinations, row_major};
use super::{Ctx, Resolver};
use crate::compile::builtins::Builtin;
use crate::compile::resolved::{Def, Node};
use crate::error::Result;
use crate::expr::{Expr, ExprKind, IndexKind, Span, VENSIM_NA};
use crate::name::canonical_name;
use crate::program::ops::{Func1, Func2};

/// The elements of an array argument along its last dimension(s).
struct Slice {
    /// The elements, row-major over the trailing dimensions.
    nodes: Vec<Node>,
    /// The trailing dimensions (model dimension indices).
    dims: Vec<usize>,
    /// Each trailing dimension's size.
    sizes: Vec<usize>,
    /// The element written in a trailing position, when one was (the base
    /// of `VECTOR ELM MAP`).
    written: Vec<Option<usize>>,
    /// The dimension each trailing index names, when it names one.
    named: Vec<Option<usize>>,
    /// For a vector over some elements of its dimension (a Vensim
    /// subrange), their positions in the dimension.
    positions: Option<Vec<usize>>,
}

/// How many bisection steps `ALLOCATE BY PRIORITY` takes: each halves the
/// interval of the common priority level, so 64 take it to the last bit
/// of a double for any interval below 2^10 wide and well below Vensim's
/// printed precision for any other.
const BISECTION_STEPS: usize = 64;

/// The most elements a vector may have for the functions written out with
/// about n² operations (ranks, sorting, reordering, mapping): 2,000 give
/// four million.
const MAX_VECTOR: usize = 2_000;

/// The largest matrix `INVERT MATRIX` writes out (about 2 n³ operations).
const MAX_MATRIX: usize = 100;

fn bin(f: Func2, a: Node, b: Node) -> Node {
    Node::binary(f, a, b)
}

fn select(c: Node, a: Node, b: Node) -> Node {
    Node::If(Box::new(c), Box::new(a), Box::new(b))
}

/// A balanced fold, so that long vectors nest only logarithmically.
fn fold(f: Func2, nodes: &[Node], empty: f64) -> Node {
    match nodes {
        [] => Node::Const(empty),
        [one] => one.clone(),
        _ => {
            let (a, b) = nodes.split_at(nodes.len() / 2);
            bin(f, fold(f, a, empty), fold(f, b, empty))
        }
    }
}

impl Resolver<'_> {
    /// A vector function called in the equation of `ctx`.
    pub(super) fn vector_call(
        &mut self,
        ctx: &Ctx,
        builtin: Builtin,
        args: &[Expr],
        span: &Span,
    ) -> Result<Node> {
        use Builtin as B;
        let too_long = |this: &Self, n: usize, limit: usize, what: &str| {
            Err(this.error(
                ctx,
                span,
                format!(
                    "{} over {n} elements would be written out as about {what} operations; carecascade takes at most {limit} elements here",
                    builtin.spelling()
                ),
            ))
        };
        if matches!(
            builtin,
            B::VectorSortOrder | B::VectorRank | B::VectorReorder | B::VectorElmMap | B::RankXmile
        ) {
            let v = self.slice(ctx, &args[0], 1, builtin)?;
            if v.nodes.len() > MAX_VECTOR {
                return too_long(self, v.nodes.len(), MAX_VECTOR, "n²");
            }
        }
        if builtin == B::InvertMatrix {
            let m = self.slice(ctx, &args[0], 2, builtin)?;
            if m.sizes[0] > MAX_MATRIX {
                return too_long(self, m.sizes[0], MAX_MATRIX, "2 n³");
            }
        }
        match builtin {
            B::VectorSelect => self.vector_select(ctx, args, span),
            B::VectorSortOrder | B::VectorRank => {
                let v = self.slice(ctx, &args[0], 1, builtin)?;
                let direction = self.expr(ctx, &args[1])?;
                let k = self.out_position(ctx, &v, &args[0], builtin)?;
                let key = format!("{builtin:?}{:?}{direction:?}", v.nodes);
                let ranks = match self.vector_cache.get(&key) {
                    Some(r) => r.clone(),
                    None => {
                        let ranks = self.ranks(ctx, &v.nodes, direction)?;
                        let out = if builtin == B::VectorRank {
                            ranks
                        } else {
                            // The offset of the element ranked k + 1.
                            (0..ranks.len())
                                .map(|k| {
                                    let terms: Vec<Node> = ranks
                                        .iter()
                                        .enumerate()
                                        .map(|(i, r)| {
                                            bin(
                                                Func2::Mul,
                                                Node::Const(i as f64),
                                                bin(
                                                    Func2::Eq,
                                                    r.clone(),
                                                    Node::Const(k as f64 + 1.0),
                                                ),
                                            )
                                        })
                                        .collect();
                                    fold(Func2::Add, &terms, 0.0)
                                })
                                .collect()
                        };
                        self.vector_cache.insert(key, out.clone());
                        out
                    }
                };
                Ok(ranks[k].clone())
            }
            B::VectorReorder => {
                let v = self.slice(ctx, &args[0], 1, builtin)?;
                let order = self.slice(ctx, &args[1], 1, builtin)?;
                let k = self.out_position(ctx, &order, &args[1], builtin)?;
                if order.nodes.len() != v.nodes.len() {
                    return Err(self.error(
                        ctx,
                        span,
                        format!(
                            "VECTOR REORDER: the vector has {} elements but the order {}",
                            v.nodes.len(),
                            order.nodes.len()
                        ),
                    ));
                }
                Ok(self.element_at(&v.nodes, order.nodes[k].clone(), 0))
            }
            B::VectorElmMap => {
                let v = self.slice(ctx, &args[0], 1, builtin)?;
                let offset = self.expr(ctx, &args[1])?;
                // The base: the element written, or the one being computed
                // when the subscript is a dimension the equation ranges over.
                let base = v.written[0]
                    .or_else(|| {
                        let d = v.named[0]?;
                        ctx.at.iter().find(|(cd, _)| *cd == d).map(|(_, k)| *k)
                    })
                    .unwrap_or(0);
                Ok(self.element_at(&v.nodes, offset, base))
            }
            B::RankXmile => {
                if args.len() > 2 {
                    return Err(self.error(
                        ctx,
                        &args[2].span,
                        "RANK's tiebreaker array is not supported: ties keep the order of the elements",
                    ));
                }
                let v = self.slice(ctx, &args[0], 1, builtin)?;
                let rank = self.expr(ctx, &args[1])?;
                let key = format!("RANK{:?}", v.nodes);
                let ranks = match self.vector_cache.get(&key) {
                    Some(r) => r.clone(),
                    None => {
                        let r = self.ranks(ctx, &v.nodes, Node::Const(1.0))?;
                        self.vector_cache.insert(key, r.clone());
                        r
                    }
                };
                // The index (from 1) of the element ranked `rank`.
                let wanted = Node::Unary(Func1::Round, Box::new(rank));
                let wanted = self.materialize(ctx, wanted, "RANK rank");
                let terms: Vec<Node> = ranks
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        bin(
                            Func2::Mul,
                            Node::Const(i as f64 + 1.0),
                            bin(Func2::Eq, r.clone(), wanted.clone()),
                        )
                    })
                    .collect();
                Ok(fold(Func2::Add, &terms, 0.0))
            }
            B::AllocateByPriority => self.allocate_by_priority(ctx, args, span),
            B::AllocateAvailable => self.allocate_available(ctx, args),
            B::InvertMatrix => self.invert_matrix(ctx, args, span),
            _ => unreachable!("not a vector function: {builtin:?}"),
        }
    }

    /// The element of `nodes` at `base + ROUND(offset)` (:NA: outside).
    fn element_at(&self, nodes: &[Node], offset: Node, base: usize) -> Node {
        let index = bin(
            Func2::Add,
            Node::Unary(Func1::Round, Box::new(offset)),
            Node::Const(base as f64),
        );
        nodes
            .iter()
            .enumerate()
            .rev()
            .fold(Node::Const(VENSIM_NA), |rest, (i, n)| {
                select(
                    bin(Func2::Eq, index.clone(), Node::Const(i as f64)),
                    n.clone(),
                    rest,
                )
            })
    }

    /// The rank of each element (1 for the smallest when `direction` is
    /// positive, for the largest otherwise; ties in the order of the
    /// elements), each a hidden auxiliary.
    fn ranks(&mut self, ctx: &Ctx, nodes: &[Node], direction: Node) -> Result<Vec<Node>> {
        let values: Vec<Node> = nodes
            .iter()
            .map(|n| self.materialize(ctx, n.clone(), "VECTOR element"))
            .collect();
        let ascending = self.materialize(
            ctx,
            bin(Func2::Gt, direction, Node::Const(0.0)),
            "VECTOR direction",
        );
        let mut ranks = Vec::with_capacity(values.len());
        for (i, vi) in values.iter().enumerate() {
            let before = |cmp: Func2| -> Vec<Node> {
                values
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(j, vj)| {
                        let strictly = bin(cmp, vj.clone(), vi.clone());
                        if j < i {
                            bin(Func2::Or, strictly, bin(Func2::Eq, vj.clone(), vi.clone()))
                        } else {
                            strictly
                        }
                    })
                    .collect()
            };
            let up = fold(Func2::Add, &before(Func2::Lt), 0.0);
            let down = fold(Func2::Add, &before(Func2::Gt), 0.0);
            let rank = bin(
                Func2::Add,
                Node::Const(1.0),
                select(ascending.clone(), up, down),
            );
            ranks.push(Node::Var(self.add_hidden(
                ctx,
                "VECTOR RANK".into(),
                Def::Aux { equation: rank },
            )));
        }
        Ok(ranks)
    }

    /// The elements of an array argument along its last `trailing`
    /// dimensions, the others chosen as in any subscript.
    fn slice(&mut self, ctx: &Ctx, e: &Expr, trailing: usize, f: Builtin) -> Result<Slice> {
        // `VECTOR_ELEMENTS(x[..., d!], 0, 2, ...)`: the vector over some
        // elements of `d`, as the Vensim reader writes a subrange.
        if let ExprKind::Call { name, args, .. } = &e.kind
            && canonical_name(name) == "vector_elements"
            && trailing == 1
            && args.len() >= 2
        {
            let mut whole = self.slice(ctx, &args[0], 1, f)?;
            let mut positions = Vec::new();
            for a in &args[1..] {
                match a.as_number() {
                    Some(p) if p >= 0.0 && p.fract() == 0.0 && (p as usize) < whole.nodes.len() => {
                        positions.push(p as usize)
                    }
                    _ => {
                        return Err(self.error(
                            ctx,
                            &a.span,
                            format!(
                                "VECTOR_ELEMENTS takes positions 0 to {} of the dimension",
                                whole.nodes.len().saturating_sub(1)
                            ),
                        ));
                    }
                }
            }
            whole.nodes = positions.iter().map(|&p| whole.nodes[p].clone()).collect();
            whole.sizes = vec![positions.len()];
            whole.positions = Some(positions);
            return Ok(whole);
        }
        let dims_model = self.model.dimensions();
        let (j, leading, trailing_indices) = match &e.kind {
            ExprKind::Subscript {
                name,
                name_span,
                indices,
            } => {
                self.not_a_lookup(ctx, name, name_span)?;
                let j = self.arrayed(ctx, name, name_span, indices.len())?;
                let dims = self.var_dims[j].clone();
                if dims.len() < trailing {
                    return Err(self.error(
                        ctx,
                        &e.span,
                        format!(
                            "{} needs an array of at least {trailing} dimension(s) here",
                            f.spelling()
                        ),
                    ));
                }
                let split = dims.len() - trailing;
                let mut leading = Vec::new();
                for (index, &d) in indices[..split].iter().zip(&dims) {
                    match self.choice(ctx, name, d, index, false)? {
                        Choice::One(k) => leading.push(k),
                        Choice::Each => unreachable!("only aggregates select every element"),
                    }
                }
                let mut written = Vec::new();
                let mut named = Vec::new();
                for (index, &d) in indices[split..].iter().zip(&dims[split..]) {
                    let dimension = match &index.kind {
                        IndexKind::Name(n) | IndexKind::All(n) => dims_model
                            .iter()
                            .position(|x| canonical_name(x.name()) == canonical_name(n)),
                        _ => None,
                    };
                    named.push(dimension);
                    match &index.kind {
                        IndexKind::Wildcard | IndexKind::All(_) => written.push(None),
                        IndexKind::Name(_) if dimension.is_some() => written.push(None),
                        _ => match self.choice(ctx, name, d, index, true)? {
                            Choice::One(k) => written.push(Some(k)),
                            Choice::Each => written.push(None),
                        },
                    }
                }
                (j, leading, (written, named))
            }
            ExprKind::Name(name) => {
                let Some(&j) = self.index.get(&canonical_name(name)) else {
                    return Err(self.error(
                        ctx,
                        &e.span,
                        format!("{} needs an array here, like `x[dimension]`", f.spelling()),
                    ));
                };
                let dims = self.var_dims[j].clone();
                if dims.len() < trailing {
                    return Err(self.error(
                        ctx,
                        &e.span,
                        format!(
                            "{} needs an array of at least {trailing} dimension(s): `{name}` has {}",
                            f.spelling(),
                            dims.len()
                        ),
                    ));
                }
                let split = dims.len() - trailing;
                let mut leading = Vec::new();
                for &d in &dims[..split] {
                    match ctx.at.iter().find(|(cd, _)| *cd == d) {
                        Some((_, k)) => leading.push(*k),
                        None => {
                            return Err(self.error(
                                ctx,
                                &e.span,
                                format!(
                                    "`{name}` ranges over `{}` but `{}` does not: write `{name}[element, ...]`",
                                    self.dimension_name(d),
                                    ctx.owner
                                ),
                            ));
                        }
                    }
                }
                let named = dims[split..].iter().map(|&d| Some(d)).collect();
                (j, leading, (vec![None; trailing], named))
            }
            _ => {
                return Err(self.error(
                    ctx,
                    &e.span,
                    format!(
                        "{} needs an array variable here, like `x[dimension]`",
                        f.spelling()
                    ),
                ));
            }
        };
        let dims = self.var_dims[j].clone();
        let split = dims.len() - trailing;
        let tdims: Vec<usize> = dims[split..].to_vec();
        let sizes: Vec<usize> = tdims
            .iter()
            .map(|&d| dims_model[d].elements().len())
            .collect();
        let nodes = combinations(&sizes)
            .into_iter()
            .map(|t| {
                let mut elements = leading.clone();
                elements.extend(t);
                Node::Var(self.base[j] + self.offset(j, &elements))
            })
            .collect();
        Ok(Slice {
            nodes,
            dims: tdims,
            sizes,
            written: trailing_indices.0,
            named: trailing_indices.1,
            positions: None,
        })
    }

    /// The position (row-major over the trailing dimensions) of the
    /// element of the result that the equation being resolved computes.
    fn out_position(&self, ctx: &Ctx, v: &Slice, e: &Expr, f: Builtin) -> Result<usize> {
        let n = v.dims.len();
        let mut position = Vec::with_capacity(n);
        for t in 0..n {
            let from_ctx = |d: usize| ctx.at.iter().find(|(cd, _)| *cd == d).map(|(_, k)| *k);
            // The left-hand side's dimension at the same place from the
            // end first: a variable may range over one dimension twice.
            let same_place = ctx
                .at
                .len()
                .checked_sub(n - t)
                .map(|at| ctx.at[at])
                .filter(|(d, _)| *d == v.dims[t])
                .map(|(_, k)| k);
            let k = same_place
                .or_else(|| from_ctx(v.dims[t]))
                .or_else(|| v.named[t].and_then(from_ctx))
                .or_else(|| {
                    // The left-hand side's own trailing dimension, mapped by
                    // position.
                    let at = ctx.at.len().checked_sub(n - t)?;
                    let (d, k) = ctx.at[at];
                    (self.model.dimensions()[d].elements().len() == v.sizes[t]).then_some(k)
                });
            // Within a subrange: the element's place among its elements,
            // or the left-hand side's element of the subrange itself when
            // it ranges over it at the same place.
            let k = match &v.positions {
                None => k,
                Some(positions) => {
                    let place = ctx.at.len().checked_sub(n - t).map(|at| ctx.at[at]);
                    match place {
                        Some((d, k)) if d == v.dims[t] => positions.iter().position(|&p| p == k),
                        Some((d, k))
                            if self.model.dimensions()[d].elements().len() == positions.len() =>
                        {
                            Some(k)
                        }
                        _ => k.and_then(|k| positions.iter().position(|&p| p == k)),
                    }
                }
            };
            match k.filter(|&k| k < v.sizes[t]) {
                Some(k) => position.push(k),
                None => {
                    return Err(self.error(
                        ctx,
                        &e.span,
                        format!(
                            "{} gives one value per element of `{}`, but `{}` does not range over a dimension of that size: put one on its left-hand side",
                            f.spelling(),
                            self.dimension_name(v.dims[t]),
                            ctx.owner
                        ),
                    ));
                }
            }
        }
        Ok(row_major(&position, &v.sizes))
    }

    /// `VECTOR SELECT(selection, expression, missing, action, error)`.
    ///
    /// Over the selected elements (selection not 0): actions 0 to 4 are the
    /// sum, product, minimum, maximum and mean of selection x expression;
    /// 5 the product of expression ^ selection; 6 to 10 the sum, product,
    /// minimum, maximum and mean of the expression. With nothing selected
    /// the result is `missing`. An error action of 1 (or 3) makes "nothing
    /// selected", and 2 (or 3) "more than one selected", stop the run (the
    /// value is NaN, reported with the variable and the time).
    fn vector_select(&mut self, ctx: &Ctx, args: &[Expr], span: &Span) -> Result<Node> {
        let mut parts = Vec::new();
        for a in &args[..2] {
            match self.array_each(ctx, a)? {
                Some(p) => parts.push(p),
                None => parts.push((Vec::new(), vec![self.expr(ctx, a)?])),
            }
        }
        if parts.iter().all(|(dims, _)| dims.is_empty()) {
            return Err(self.error(
                ctx,
                span,
                "VECTOR SELECT needs arrays with the dimensions to select over marked `!`, like `VECTOR SELECT(s[d!], x[d!], :NA:, 0, 0)`",
            ));
        }
        let missing = self.expr(ctx, &args[2])?;
        let action = self.expr(ctx, &args[3])?;
        let error_action = self.expr(ctx, &args[4])?;
        // Every combination of the dimensions either argument varies.
        let mut union: Vec<usize> = Vec::new();
        for (dims, _) in &parts {
            for &d in dims {
                if !union.contains(&d) {
                    union.push(d);
                }
            }
        }
        let sizes: Vec<usize> = union
            .iter()
            .map(|&d| self.model.dimensions()[d].elements().len())
            .collect();
        let pick = |part: &(Vec<usize>, Vec<Node>), combo: &[usize]| -> Node {
            let (dims, nodes) = part;
            let own_sizes: Vec<usize> = dims
                .iter()
                .map(|&d| self.model.dimensions()[d].elements().len())
                .collect();
            let position: Vec<usize> = dims
                .iter()
                .map(|d| combo[union.iter().position(|u| u == d).unwrap_or(0)])
                .collect();
            nodes[row_major(&position, &own_sizes)].clone()
        };
        let pairs: Vec<(Node, Node)> = combinations(&sizes)
            .iter()
            .map(|combo| (pick(&parts[0], combo), pick(&parts[1], combo)))
            .collect();
        let mut selected = Vec::new();
        let mut weighted = Vec::new();
        let mut powered = Vec::new();
        let mut plain = Vec::new();
        for (s, x) in pairs {
            let s = self.materialize(ctx, s, "VECTOR SELECT selection");
            let x = self.materialize(ctx, x, "VECTOR SELECT expression");
            selected.push(bin(Func2::Ne, s.clone(), Node::Const(0.0)));
            weighted.push(bin(Func2::Mul, s.clone(), x.clone()));
            powered.push(bin(Func2::Pow, x.clone(), s));
            plain.push(x);
        }
        let count = fold(Func2::Add, &selected, 0.0);
        let count = Node::Var(self.add_hidden(
            ctx,
            "VECTOR SELECT count".into(),
            Def::Aux { equation: count },
        ));
        let only = |values: &[Node], otherwise: f64| -> Vec<Node> {
            values
                .iter()
                .zip(&selected)
                .map(|(v, s)| select(s.clone(), v.clone(), Node::Const(otherwise)))
                .collect()
        };
        let reductions = |values: &[Node]| -> [Node; 5] {
            let sum = fold(Func2::Add, &only(values, 0.0), 0.0);
            [
                sum.clone(),
                fold(Func2::Mul, &only(values, 1.0), 1.0),
                fold(Func2::Min, &only(values, f64::INFINITY), f64::INFINITY),
                fold(
                    Func2::Max,
                    &only(values, f64::NEG_INFINITY),
                    f64::NEG_INFINITY,
                ),
                bin(Func2::Div, sum, count.clone()),
            ]
        };
        let mut by_action: Vec<Node> = reductions(&weighted).into();
        by_action.push(fold(Func2::Mul, &only(&powered, 1.0), 1.0));
        by_action.extend(reductions(&plain));
        let value = match action {
            Node::Const(a) if a.fract() == 0.0 && (0.0..=10.0).contains(&a) => {
                by_action[a as usize].clone()
            }
            Node::Const(a) => {
                return Err(self.error(
                    ctx,
                    &args[3].span,
                    format!("VECTOR SELECT's numerical action is 0 to 10, not {a}"),
                ));
            }
            action => {
                let action = self.materialize(ctx, action, "VECTOR SELECT action");
                by_action.into_iter().enumerate().rev().fold(
                    Node::Const(f64::NAN),
                    |rest, (k, v)| {
                        select(
                            bin(Func2::Eq, action.clone(), Node::Const(k as f64)),
                            v,
                            rest,
                        )
                    },
                )
            }
        };
        let error_action = self.materialize(ctx, error_action, "VECTOR SELECT error action");
        let none_is_error = bin(
            Func2::Or,
            bin(Func2::Eq, error_action.clone(), Node::Const(1.0)),
            bin(Func2::Eq, error_action.clone(), Node::Const(3.0)),
        );
        let many_is_error = bin(
            Func2::Or,
            bin(Func2::Eq, error_action.clone(), Node::Const(2.0)),
            bin(Func2::Eq, error_action, Node::Const(3.0)),
        );
        let failed = bin(
            Func2::Or,
            bin(
                Func2::And,
                none_is_error,
                bin(Func2::Eq, count.clone(), Node::Const(0.0)),
            ),
            bin(
                Func2::And,
                many_is_error,
                bin(Func2::Gt, count.clone(), Node::Const(1.0)),
            ),
        );
        Ok(select(
            failed,
            Node::Const(f64::NAN),
            select(bin(Func2::Eq, count, Node::Const(0.0)), missing, value),
        ))
    }

    /// `ALLOCATE BY PRIORITY(request, priority, size, width, supply)`, as
    /// Vensim documents it: each requester's priority is spread evenly over
    /// `width` around its `priority` (a rectangular profile), and supply
    /// goes first to the highest: requester i gets `request_i *
    /// clamp((priority_i + width/2 - p) / width, 0, 1)`, with the common
    /// level `p` found (by bisection) where the allocations add up to the
    /// supply. A supply at least the total request gives every requester
    /// its request; no supply gives nothing.
    fn allocate_by_priority(&mut self, ctx: &Ctx, args: &[Expr], span: &Span) -> Result<Node> {
        let f = Builtin::AllocateByPriority;
        let request = self.slice(ctx, &args[0], 1, f)?;
        let priority = self.slice(ctx, &args[1], 1, f)?;
        if request.nodes.len() != priority.nodes.len() {
            return Err(self.error(
                ctx,
                span,
                format!(
                    "ALLOCATE BY PRIORITY: {} requests but {} priorities",
                    request.nodes.len(),
                    priority.nodes.len()
                ),
            ));
        }
        let size = self.expr(ctx, &args[2])?;
        if let Node::Const(n) = size
            && n != request.nodes.len() as f64
        {
            return Err(self.error(
                ctx,
                &args[2].span,
                format!(
                    "ALLOCATE BY PRIORITY's size is {n}, but the requests have {} elements",
                    request.nodes.len()
                ),
            ));
        }
        let k = self.out_position(ctx, &request, &args[0], f)?;
        let width = self.expr(ctx, &args[3])?;
        let supply = self.expr(ctx, &args[4])?;
        let key = format!(
            "ABP{:?}{:?}{width:?}{supply:?}",
            request.nodes, priority.nodes
        );
        if let Some(out) = self.vector_cache.get(&key) {
            return Ok(out[k].clone());
        }
        let width = self.materialize(ctx, width, "ALLOCATE BY PRIORITY width");
        let supply = self.materialize(ctx, supply, "ALLOCATE BY PRIORITY supply");
        let request: Vec<Node> = request
            .nodes
            .into_iter()
            .map(|n| self.materialize(ctx, n, "ALLOCATE BY PRIORITY request"))
            .collect();
        let priority: Vec<Node> = priority
            .nodes
            .into_iter()
            .map(|n| self.materialize(ctx, n, "ALLOCATE BY PRIORITY priority"))
            .collect();
        let half = bin(Func2::Div, width.clone(), Node::Const(2.0));
        let share = |p: &Node, i: usize| -> Node {
            let level = bin(
                Func2::Div,
                bin(
                    Func2::Sub,
                    bin(Func2::Add, priority[i].clone(), half.clone()),
                    p.clone(),
                ),
                width.clone(),
            );
            let clamped = bin(
                Func2::Min,
                bin(Func2::Max, level, Node::Const(0.0)),
                Node::Const(1.0),
            );
            bin(Func2::Mul, request[i].clone(), clamped)
        };
        let total = fold(Func2::Add, &request, 0.0);
        let low = bin(Func2::Sub, fold(Func2::Min, &priority, 0.0), width.clone());
        let high = bin(Func2::Add, fold(Func2::Max, &priority, 0.0), width.clone());
        let label = "ALLOCATE BY PRIORITY";
        let level = self.bisect_level(ctx, label, low, high, &supply, |_, p| {
            (0..request.len()).map(|i| share(p, i)).collect()
        });
        let shares: Vec<Node> = (0..request.len()).map(|i| share(&level, i)).collect();
        let out = self.allocated(ctx, label, &request, total, &supply, shares, None);
        self.vector_cache.insert(key, out.clone());
        Ok(out[k].clone())
    }

    /// The common priority level at which the allocations `shares(level)`
    /// (which fall as the level rises) add up to `supply`, by bisection
    /// between `low` and `high`: each step halves the interval, so that
    /// [`BISECTION_STEPS`] take it to the last bit of a double.
    fn bisect_level(
        &mut self,
        ctx: &Ctx,
        label: &str,
        low: Node,
        high: Node,
        supply: &Node,
        shares: impl Fn(&mut Self, &Node) -> Vec<Node>,
    ) -> Node {
        let level_label = format!("{label} level");
        let mut low = self.materialize(ctx, low, &level_label);
        let mut high = self.materialize(ctx, high, &level_label);
        for _ in 0..BISECTION_STEPS {
            let middle = self.materialize(
                ctx,
                bin(
                    Func2::Mul,
                    bin(Func2::Add, low.clone(), high.clone()),
                    Node::Const(0.5),
                ),
                &level_label,
            );
            let allocated = fold(Func2::Add, &shares(self, &middle), 0.0);
            let too_much = self.materialize(
                ctx,
                bin(Func2::Gt, allocated, supply.clone()),
                &format!("{label} bisection"),
            );
            low = self.materialize(
                ctx,
                select(too_much.clone(), middle.clone(), low),
                &level_label,
            );
            high = self.materialize(ctx, select(too_much, high, middle), &level_label);
        }
        self.materialize(
            ctx,
            bin(Func2::Mul, bin(Func2::Add, low, high), Node::Const(0.5)),
            &level_label,
        )
    }

    /// What each requester gets: its request when the supply covers the
    /// total, nothing when there is no supply, else its share at the
    /// common level (or NaN, which stops the run, when `invalid` holds).
    #[allow(clippy::too_many_arguments)]
    fn allocated(
        &mut self,
        ctx: &Ctx,
        label: &str,
        request: &[Node],
        total: Node,
        supply: &Node,
        shares: Vec<Node>,
        invalid: Option<Node>,
    ) -> Vec<Node> {
        let total = self.materialize(ctx, total, &format!("{label} total"));
        shares
            .into_iter()
            .zip(request)
            .map(|(share, request)| {
                let share = match &invalid {
                    Some(invalid) => select(invalid.clone(), Node::Const(f64::NAN), share),
                    None => share,
                };
                select(
                    bin(Func2::Ge, supply.clone(), total.clone()),
                    request.clone(),
                    select(
                        bin(Func2::Le, supply.clone(), Node::Const(0.0)),
                        Node::Const(0.0),
                        share,
                    ),
                )
            })
            .collect()
    }

    /// `ALLOCATE AVAILABLE(request, pp, available)`, as Vensim documents
    /// it: each requester's priority profile (the row `pp[i, *]`: type,
    /// priority, width and an extra parameter, by position) is a
    /// distribution of its request over a priority axis, and supply goes
    /// to the highest priorities first: requester i gets `request_i *
    /// S_i(p)`, the part of its profile above the common level `p` at
    /// which the allocations add up to the supply (found by bisection).
    /// With `z = (p - priority_i) / width_i`, `S` is, by type:
    ///
    /// * 1, rectangular: `clamp(1/2 - z, 0, 1)` (the profile of `ALLOCATE
    ///   BY PRIORITY`);
    /// * 2, triangular (a triangle of base `width` peaking at the
    ///   priority): `1 - 2 (z + 1/2)²` below the peak, `2 (1/2 - z)²`
    ///   above it, 1 and 0 outside;
    /// * 3, normal (standard deviation `width`): `erfc(z / √2) / 2`, one
    ///   minus the cumulative normal;
    /// * 4, exponential (Laplace, `exp(-|x - priority| / width) / 2`):
    ///   `1 - exp(z) / 2` below the priority, `exp(-z) / 2` above.
    ///
    /// Types 0 (fixed quantity) and 5 (constant elasticity) are refused; a
    /// type that is not a number or constant is read at every step, and
    /// one other than 1 to 4 stops the run.
    /// A supply at least the total request gives every requester its
    /// request; no supply gives nothing; a width not above 0 stops the run
    /// when the profiles are needed, and a negative request (which
    /// Vensim's profiles do not define) always.
    fn allocate_available(&mut self, ctx: &Ctx, args: &[Expr]) -> Result<Node> {
        let f = Builtin::AllocateAvailable;
        let request = self.slice(ctx, &args[0], 1, f)?;
        let profiles = self.slice(ctx, &args[1], 2, f)?;
        let n = request.nodes.len();
        if profiles.sizes[0] != n {
            return Err(self.error(
                ctx,
                &args[1].span,
                format!(
                    "ALLOCATE AVAILABLE: {n} requests but priority profiles for {}",
                    profiles.sizes[0]
                ),
            ));
        }
        let columns = profiles.sizes[1];
        if columns < 3 {
            return Err(self.error(
                ctx,
                &args[1].span,
                format!(
                    "ALLOCATE AVAILABLE's priority profiles need at least 3 elements in their last dimension (ptype, ppriority, pwidth, pextra), not {columns}"
                ),
            ));
        }
        let k = self.out_position(ctx, &request, &args[0], f)?;
        let available = self.expr(ctx, &args[2])?;
        let key = format!("AA{:?}{:?}{available:?}", request.nodes, profiles.nodes);
        if let Some(out) = self.vector_cache.get(&key) {
            return Ok(out[k].clone());
        }
        // The type of each profile fixes its shape: a number or constant
        // is read when the model is compiled; any other type is read at
        // every step (each shape is computed and the type picks one, a type
        // other than 1 to 4 stopping the run).
        let mut kinds: Vec<Option<u8>> = Vec::with_capacity(n);
        for i in 0..n {
            let mut params = Vec::new();
            let kind = match self.constant_value(&profiles.nodes[i * columns], &mut params) {
                Some(t) if t == 1.0 || t == 2.0 || t == 3.0 || t == 4.0 => Some(t as u8),
                Some(t) => {
                    let why = if t == 0.0 {
                        "type 0 (fixed quantity) is not supported"
                    } else if t == 5.0 {
                        "type 5 (constant elasticity) is not supported"
                    } else {
                        "Vensim's types are 0 to 5"
                    };
                    return Err(self.error(
                        ctx,
                        &args[1].span,
                        format!(
                            "ALLOCATE AVAILABLE: the priority type (ptype) of requester {} is {t}; {why}: carecascade takes 1 (rectangular), 2 (triangular), 3 (normal) and 4 (exponential)",
                            i + 1
                        ),
                    ));
                }
                None => None,
            };
            self.structural.extend(params);
            kinds.push(kind);
        }
        let label = "ALLOCATE AVAILABLE";
        let types: Vec<Node> = (0..n)
            .map(|i| match kinds[i] {
                Some(kind) => Node::Const(f64::from(kind)),
                None => {
                    let t = profiles.nodes[i * columns].clone();
                    self.materialize(ctx, t, &format!("{label} type"))
                }
            })
            .collect();
        let available = self.materialize(ctx, available, &format!("{label} available"));
        let request: Vec<Node> = request
            .nodes
            .into_iter()
            .map(|r| self.materialize(ctx, r, &format!("{label} request")))
            .collect();
        let priority: Vec<Node> = (0..n)
            .map(|i| {
                let p = profiles.nodes[i * columns + 1].clone();
                self.materialize(ctx, p, &format!("{label} priority"))
            })
            .collect();
        let width: Vec<Node> = (0..n)
            .map(|i| {
                let w = profiles.nodes[i * columns + 2].clone();
                self.materialize(ctx, w, &format!("{label} width"))
            })
            .collect();
        // Where each profile is (to the last bit) all below or all above a
        // level: half the width either side for the bounded shapes; the
        // normal's tail beyond 9 standard deviations (1e-19) and the
        // exponential's beyond 40 widths (2e-18) are below a double's
        // precision.
        let reach = |kind: Option<u8>| match kind {
            Some(1 | 2) => 0.5,
            Some(3) => 9.0,
            _ => 40.0,
        };
        let lows: Vec<Node> = (0..n)
            .map(|i| {
                bin(
                    Func2::Sub,
                    priority[i].clone(),
                    bin(Func2::Mul, Node::Const(reach(kinds[i])), width[i].clone()),
                )
            })
            .collect();
        let highs: Vec<Node> = (0..n)
            .map(|i| {
                bin(
                    Func2::Add,
                    priority[i].clone(),
                    bin(Func2::Mul, Node::Const(reach(kinds[i])), width[i].clone()),
                )
            })
            .collect();
        let low = fold(Func2::Min, &lows, 0.0);
        let high = fold(Func2::Max, &highs, 0.0);
        // The part of a profile of type `kind` above the level, at `z`.
        let shape = |this: &mut Self, z: &Node, kind: u8| -> Node {
            let z = z.clone();
            let half = || Node::Const(0.5);
            match kind {
                1 => bin(
                    Func2::Min,
                    bin(Func2::Max, bin(Func2::Sub, half(), z), Node::Const(0.0)),
                    Node::Const(1.0),
                ),
                2 => {
                    let u = this.materialize(
                        ctx,
                        bin(Func2::Min, bin(Func2::Max, z, Node::Const(-0.5)), half()),
                        &format!("{label} profile"),
                    );
                    let square = |x: Node| bin(Func2::Mul, x.clone(), x);
                    select(
                        bin(Func2::Lt, u.clone(), Node::Const(0.0)),
                        bin(
                            Func2::Sub,
                            Node::Const(1.0),
                            bin(
                                Func2::Mul,
                                Node::Const(2.0),
                                square(bin(Func2::Add, u.clone(), half())),
                            ),
                        ),
                        bin(
                            Func2::Mul,
                            Node::Const(2.0),
                            square(bin(Func2::Sub, half(), u)),
                        ),
                    )
                }
                3 => bin(
                    Func2::Mul,
                    half(),
                    Node::Unary(
                        Func1::Erfc,
                        Box::new(bin(
                            Func2::Mul,
                            z,
                            Node::Const(std::f64::consts::FRAC_1_SQRT_2),
                        )),
                    ),
                ),
                _ => {
                    let tail = this.materialize(
                        ctx,
                        bin(
                            Func2::Mul,
                            half(),
                            Node::Unary(
                                Func1::Exp,
                                Box::new(Node::Unary(
                                    Func1::Neg,
                                    Box::new(Node::Unary(Func1::Abs, Box::new(z.clone()))),
                                )),
                            ),
                        ),
                        &format!("{label} profile"),
                    );
                    select(
                        bin(Func2::Lt, z, Node::Const(0.0)),
                        bin(Func2::Sub, Node::Const(1.0), tail.clone()),
                        tail,
                    )
                }
            }
        };
        let share = |this: &mut Self, level: &Node, i: usize| -> Node {
            let z = this.materialize(
                ctx,
                bin(
                    Func2::Div,
                    bin(Func2::Sub, level.clone(), priority[i].clone()),
                    width[i].clone(),
                ),
                &format!("{label} profile"),
            );
            let above = match kinds[i] {
                Some(kind) => shape(this, &z, kind),
                None => (1..=4).rev().fold(Node::Const(f64::NAN), |other, kind| {
                    let this_kind = shape(this, &z, kind);
                    select(
                        bin(Func2::Eq, types[i].clone(), Node::Const(f64::from(kind))),
                        this_kind,
                        other,
                    )
                }),
            };
            bin(Func2::Mul, request[i].clone(), above)
        };
        let level = self.bisect_level(ctx, label, low, high, &available, |this, p| {
            (0..n).map(|i| share(this, p, i)).collect()
        });
        let shares: Vec<Node> = (0..n).map(|i| share(self, &level, i)).collect();
        let total = fold(Func2::Add, &request, 0.0);
        let narrowest = fold(Func2::Min, &width, f64::INFINITY);
        let invalid = bin(Func2::Le, narrowest, Node::Const(0.0));
        let out = self.allocated(
            ctx,
            label,
            &request,
            total,
            &available,
            shares,
            Some(invalid),
        );
        let smallest = fold(Func2::Min, &request, f64::INFINITY);
        let negative = self.materialize(
            ctx,
            bin(Func2::Lt, smallest, Node::Const(0.0)),
            &format!("{label} negative request"),
        );
        let out: Vec<Node> = out
            .into_iter()
            .map(|o| select(negative.clone(), Node::Const(f64::NAN), o))
            .collect();
        self.vector_cache.insert(key, out.clone());
        Ok(out[k].clone())
    }

    /// `INVERT MATRIX(m, size)`: Gauss-Jordan elimination with partial
    /// pivoting over the last two dimensions, one hidden auxiliary per
    /// entry and step. A singular matrix gives infinities or NaN, which
    /// stop the run with the variable and the time.
    fn invert_matrix(&mut self, ctx: &Ctx, args: &[Expr], span: &Span) -> Result<Node> {
        let f = Builtin::InvertMatrix;
        let m = self.slice(ctx, &args[0], 2, f)?;
        let n = m.sizes[0];
        if m.sizes[1] != n {
            return Err(self.error(
                ctx,
                span,
                format!(
                    "INVERT MATRIX needs a square matrix: its last two dimensions have {} and {} elements",
                    m.sizes[0], m.sizes[1]
                ),
            ));
        }
        match self.expr(ctx, &args[1])? {
            Node::Const(size) if size == n as f64 => {}
            _ => {
                return Err(self.error(
                    ctx,
                    &args[1].span,
                    format!("INVERT MATRIX's size must be the number {n}, the matrix's size"),
                ));
            }
        }
        let k = self.out_position(ctx, &m, &args[0], f)?;
        let key = format!("INVERT{:?}", m.nodes);
        if let Some(out) = self.vector_cache.get(&key) {
            return Ok(out[k].clone());
        }
        let label = "INVERT MATRIX";
        // [m | I], row by row.
        let mut rows: Vec<Vec<Node>> = (0..n)
            .map(|i| {
                let mut row: Vec<Node> = m.nodes[i * n..(i + 1) * n].to_vec();
                row.extend((0..n).map(|j| Node::Const(f64::from(u8::from(i == j)))));
                row
            })
            .collect();
        for step in 0..n {
            // The row (from `step` down) with the largest pivot.
            let mut best_value = self.materialize(
                ctx,
                Node::Unary(Func1::Abs, Box::new(rows[step][step].clone())),
                label,
            );
            let mut best_row = Node::Const(step as f64);
            for (i, row) in rows.iter().enumerate().skip(step + 1) {
                let value = Node::Unary(Func1::Abs, Box::new(row[step].clone()));
                let value = self.materialize(ctx, value, label);
                let better = self.materialize(
                    ctx,
                    bin(Func2::Gt, value.clone(), best_value.clone()),
                    label,
                );
                best_row = self.materialize(
                    ctx,
                    select(better.clone(), Node::Const(i as f64), best_row),
                    label,
                );
                best_value = self.materialize(ctx, select(better, value, best_value), label);
            }
            // Swap the pivot row into place.
            let is = |i: usize| bin(Func2::Eq, best_row.clone(), Node::Const(i as f64));
            let mut swapped = rows.clone();
            for j in 0..2 * n {
                let mut pivot = rows[step][j].clone();
                for (i, row) in rows.iter().enumerate().skip(step + 1) {
                    pivot = select(is(i), row[j].clone(), pivot);
                    swapped[i][j] = select(is(i), rows[step][j].clone(), row[j].clone());
                }
                swapped[step][j] = pivot;
            }
            for row in swapped.iter_mut() {
                for entry in row.iter_mut() {
                    *entry = self.materialize(ctx, entry.clone(), label);
                }
            }
            let pivot = swapped[step][step].clone();
            let normalised: Vec<Node> = swapped[step]
                .iter()
                .map(|x| bin(Func2::Div, x.clone(), pivot.clone()))
                .map(|x| self.materialize(ctx, x, label))
                .collect();
            let mut next = Vec::with_capacity(n);
            for (i, row) in swapped.iter().enumerate() {
                if i == step {
                    next.push(normalised.clone());
                    continue;
                }
                let factor = row[step].clone();
                let reduced: Vec<Node> = row
                    .iter()
                    .zip(&normalised)
                    .map(|(x, p)| {
                        bin(
                            Func2::Sub,
                            x.clone(),
                            bin(Func2::Mul, factor.clone(), p.clone()),
                        )
                    })
                    .map(|x| self.materialize(ctx, x, label))
                    .collect();
                next.push(reduced);
            }
            rows = next;
        }
        let out: Vec<Node> = rows
            .into_iter()
            .flat_map(|row| row.into_iter().skip(n))
            .collect();
        self.vector_cache.insert(key, out.clone());
        Ok(out[k].clone())
    }
}
