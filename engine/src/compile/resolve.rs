//! Name resolution and lowering.
//!
//! Every equation is turned into a [`Node`] tree whose names are variable
//! indices. Stateful builtins are lowered here into ordinary hidden stocks,
//! flows and auxiliaries, so that the rest of the compiler and the integrators
//! see only stocks, flows and auxiliaries:
//!
//! * `DELAY1/DELAY3/DELAY N` become chains of stocks (material delays: what
//!   goes in comes out), each stage draining at `stage / (T/n)`;
//! * `SMOOTH/SMOOTH3/SMOOTH N` become chains of stocks adjusting towards their
//!   input at `(input - stage) / (T/n)`;
//! * `TREND` is a `SMOOTHI` and a `ZIDZ`;
//! * `INITIAL(x)` is a value computed once at the start;
//! * `DELAY FIXED` is a ring buffer sized when the run starts.

use super::builtins::{Builtin, builtin_names, lookup_builtin};
use crate::error::{Error, Result};
use crate::expr::{BinaryOp, Expr, ExprKind, Index, IndexKind, Span, UnaryOp};
use crate::model::{Equation, LookupTable, Model, VariableKind};
use crate::name::{canonical_name, closest, did_you_mean};
use crate::program::ops::{Func1, Func2, TimeFunc};
use std::collections::HashMap;

/// Values the simulator keeps in fixed slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    Time,
    Dt,
    InitialTime,
    FinalTime,
    SaveInterval,
}

/// A resolved expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Const(f64),
    Var(usize),
    Special(Special),
    Unary(Func1, Box<Node>),
    Binary(Func2, Box<Node>, Box<Node>),
    If(Box<Node>, Box<Node>, Box<Node>),
    Xidz(Box<Node>, Box<Node>, Box<Node>),
    Lookup(usize, Box<Node>),
    Time(TimeFunc, Vec<Node>),
}

impl Node {
    fn binary(f: Func2, a: Node, b: Node) -> Node {
        Node::Binary(f, Box::new(a), Box::new(b))
    }

    /// Calls `visit` on every variable this node reads.
    pub(crate) fn for_each_var(&self, visit: &mut impl FnMut(usize)) {
        match self {
            Node::Const(_) | Node::Special(_) => {}
            Node::Var(v) => visit(*v),
            Node::Unary(_, a) | Node::Lookup(_, a) => a.for_each_var(visit),
            Node::Binary(_, a, b) => {
                a.for_each_var(visit);
                b.for_each_var(visit);
            }
            Node::If(a, b, c) | Node::Xidz(a, b, c) => {
                a.for_each_var(visit);
                b.for_each_var(visit);
                c.for_each_var(visit);
            }
            Node::Time(_, args) => args.iter().for_each(|a| a.for_each_var(visit)),
        }
    }

    /// Whether the value depends on the simulated time directly.
    pub(crate) fn reads_time(&self) -> bool {
        match self {
            Node::Special(Special::Time) | Node::Time(..) => true,
            Node::Const(_) | Node::Var(_) | Node::Special(_) => false,
            Node::Unary(_, a) | Node::Lookup(_, a) => a.reads_time(),
            Node::Binary(_, a, b) => a.reads_time() || b.reads_time(),
            Node::If(a, b, c) | Node::Xidz(a, b, c) => {
                a.reads_time() || b.reads_time() || c.reads_time()
            }
        }
    }
}

/// What a compiled variable is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Def {
    Stock {
        initial: Node,
        inflows: Vec<usize>,
        outflows: Vec<usize>,
        non_negative: bool,
    },
    Flow {
        equation: Node,
        non_negative: bool,
    },
    Aux {
        equation: Node,
    },
    /// A model constant: a parameter that can change between runs.
    Param {
        value: f64,
    },
    /// Computed once when the run starts (`INITIAL`, delay times of
    /// `DELAY FIXED`).
    Initial {
        equation: Node,
    },
    /// The output of a `DELAY FIXED`.
    DelayFixed {
        input: Node,
        delay: usize,
        initial: usize,
    },
    /// A lookup used only as a function; it has no value of its own.
    LookupFunction,
    /// Placeholder while resolving.
    Pending,
}

/// A variable of the program: a model variable or a hidden one made by
/// lowering.
#[derive(Debug, Clone)]
pub(crate) struct CVar {
    /// The display name; hidden variables say what they are part of.
    pub name: String,
    /// Whether the model declared it (and it is an output column).
    pub visible: bool,
    pub def: Def,
}

/// The resolved program before ordering and code generation.
pub(crate) struct Resolved {
    pub vars: Vec<CVar>,
    pub tables: Vec<LookupTable>,
    /// Parameters (variable indices) that fix a structural choice such as the
    /// order of a `DELAY N`; changing them requires recompiling.
    pub structural: Vec<usize>,
}

struct Resolver<'m> {
    model: &'m Model,
    index: HashMap<String, usize>,
    /// The dimensions of each model variable (indices into the model's).
    var_dims: Vec<Vec<usize>>,
    /// The first compiled variable of each model variable; an arrayed one
    /// has one per element, in row-major order.
    base: Vec<usize>,
    vars: Vec<CVar>,
    tables: Vec<LookupTable>,
    /// Lookup table index for each model variable that is a lookup.
    table_of: HashMap<usize, usize>,
    /// Table index for single elements of arrayed lookups with their own
    /// table: (model variable, element).
    element_table_of: HashMap<(usize, usize), usize>,
    structural: Vec<usize>,
    errors: Vec<Error>,
}

/// The context of the equation being resolved, for error messages, names
/// of hidden variables and the elements of an arrayed variable.
struct Ctx<'e> {
    owner: &'e str,
    equation: &'e Equation,
    /// (dimension, element) of the element being computed.
    at: &'e [(usize, usize)],
}

/// How one index of a subscript selects elements.
enum Choice {
    One(usize),
    Each,
}

/// The position of an element tuple in row-major order.
fn row_major(elements: &[usize], sizes: &[usize]) -> usize {
    elements
        .iter()
        .zip(sizes)
        .fold(0, |acc, (&e, &n)| acc * n + e)
}

/// Every combination of elements of dimensions with these sizes, in
/// row-major order (the last dimension varies fastest).
fn combinations(sizes: &[usize]) -> Vec<Vec<usize>> {
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

pub(crate) fn resolve(model: &Model) -> Result<Resolved> {
    let dimensions = model.dimensions();
    let dim_index = |name: &str| {
        dimensions
            .iter()
            .position(|d| canonical_name(d.name()) == canonical_name(name))
    };
    let mut r = Resolver {
        model,
        index: HashMap::new(),
        var_dims: Vec::with_capacity(model.variables().len()),
        base: Vec::with_capacity(model.variables().len()),
        vars: Vec::with_capacity(model.variables().len()),
        tables: Vec::new(),
        table_of: HashMap::new(),
        element_table_of: HashMap::new(),
        structural: Vec::new(),
        errors: Vec::new(),
    };
    // First pass: one compiled variable per element; constants get their values.
    let mut chosen: Vec<Vec<Option<&Equation>>> = Vec::new();
    for (i, v) in model.variables().iter().enumerate() {
        r.index.insert(canonical_name(v.name()), i);
        let dims: Vec<usize> = v.dimensions().iter().filter_map(|d| dim_index(d)).collect();
        let sizes: Vec<usize> = dims
            .iter()
            .map(|&d| dimensions[d].elements().len())
            .collect();
        let tuples = combinations(&sizes);
        // The position among the variable's elements of one named element.
        let element_index = |names: &[String]| -> Option<usize> {
            let positions: Option<Vec<usize>> = names
                .iter()
                .zip(&dims)
                .map(|(n, &d)| dimensions[d].position(n))
                .collect();
            positions.map(|p| row_major(&p, &sizes))
        };
        // The equation of each element: its own, or the variable's.
        let mut own: Vec<Option<&Equation>> = vec![None; tuples.len()];
        for (names, equation) in v.element_equations() {
            if let Some(k) = element_index(names) {
                own[k] = Some(equation);
            }
        }
        r.base.push(r.vars.len());
        for (k, tuple) in tuples.iter().enumerate() {
            let name = if dims.is_empty() {
                v.name().to_string()
            } else {
                let elements: Vec<&str> = tuple
                    .iter()
                    .zip(&dims)
                    .map(|(&e, &d)| dimensions[d].elements()[e].as_str())
                    .collect();
                format!("{}[{}]", v.name(), elements.join(","))
            };
            let def = match v.kind() {
                VariableKind::Constant { value } => Def::Param {
                    value: own[k].and_then(|e| e.expr().as_number()).unwrap_or(*value),
                },
                // An auxiliary whose equation is a number is a constant, as in Vensim.
                VariableKind::Auxiliary { equation } => {
                    match own[k].unwrap_or(equation).expr().as_number() {
                        Some(value) => Def::Param { value },
                        None => Def::Pending,
                    }
                }
                VariableKind::Lookup { input: None, .. } => Def::LookupFunction,
                _ => Def::Pending,
            };
            let visible = !matches!(def, Def::LookupFunction);
            r.vars.push(CVar { name, visible, def });
        }
        if let VariableKind::Lookup {
            table,
            element_tables,
            ..
        } = v.kind()
        {
            r.table_of.insert(i, r.tables.len());
            r.tables.push(table.clone());
            for (names, table) in element_tables {
                if let Some(k) = element_index(names) {
                    r.element_table_of.insert((i, k), r.tables.len());
                    r.tables.push(table.clone());
                }
            }
        }
        r.var_dims.push(dims);
        chosen.push(own);
    }
    // Second pass: resolve every element's equation in its context.
    for (i, v) in model.variables().iter().enumerate() {
        let dims = r.var_dims[i].clone();
        let sizes: Vec<usize> = dims
            .iter()
            .map(|&d| dimensions[d].elements().len())
            .collect();
        for (k, tuple) in combinations(&sizes).into_iter().enumerate() {
            let id = r.base[i] + k;
            if !matches!(r.vars[id].def, Def::Pending) {
                continue;
            }
            let at: Vec<(usize, usize)> = dims.iter().copied().zip(tuple).collect();
            let owner = r.vars[id].name.clone();
            let own = chosen[i][k];
            let def = match v.kind() {
                VariableKind::Stock {
                    initial,
                    inflows,
                    outflows,
                    non_negative,
                } => {
                    let initial = r.equation(&owner, own.unwrap_or(initial), &at);
                    let inflows = r.element_flows(i, k, inflows);
                    let outflows = r.element_flows(i, k, outflows);
                    Def::Stock {
                        initial,
                        inflows,
                        outflows,
                        non_negative: *non_negative,
                    }
                }
                VariableKind::Flow {
                    equation,
                    non_negative,
                } => Def::Flow {
                    equation: r.equation(&owner, own.unwrap_or(equation), &at),
                    non_negative: *non_negative,
                },
                VariableKind::Auxiliary { equation } => Def::Aux {
                    equation: r.equation(&owner, own.unwrap_or(equation), &at),
                },
                VariableKind::Lookup {
                    input: Some(input), ..
                } => {
                    // An arrayed lookup shares its table; each element has its input.
                    let x = r.equation(&owner, own.unwrap_or(input), &at);
                    let table = r
                        .element_table_of
                        .get(&(i, k))
                        .copied()
                        .unwrap_or(r.table_of[&i]);
                    Def::Aux {
                        equation: Node::Lookup(table, Box::new(x)),
                    }
                }
                VariableKind::Constant { .. } | VariableKind::Lookup { input: None, .. } => {
                    continue;
                }
            };
            r.vars[id].def = def;
        }
    }
    Error::from_list(std::mem::take(&mut r.errors))?;
    Ok(Resolved {
        vars: r.vars,
        tables: r.tables,
        structural: r.structural,
    })
}

impl Resolver<'_> {
    /// The compiled flows of element `k` of stock `i`: the same element of
    /// each flow, which must range over the same dimensions.
    fn element_flows(&mut self, i: usize, k: usize, flows: &[String]) -> Vec<usize> {
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
    fn offset(&self, j: usize, elements: &[usize]) -> usize {
        let dims = self.model.dimensions();
        let sizes: Vec<usize> = self.var_dims[j]
            .iter()
            .map(|&d| dims[d].elements().len())
            .collect();
        row_major(elements, &sizes)
    }

    fn dimension_name(&self, d: usize) -> &str {
        self.model.dimensions()[d].name()
    }

    /// How one index of a subscript of `name` selects an element of
    /// dimension `d`.
    fn choice(
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
                            did_you_mean(closest(n, dimension.elements().iter().map(String::as_str)))
                        ),
                    )),
                }
            }
        }
    }

    /// The elements an aggregated reference selects: `x[*]`, `x[d!]`, or an
    /// arrayed `x` over dimensions the owner does not range over. `None`
    /// when the expression is not an array.
    fn array_elements(&mut self, ctx: &Ctx, e: &Expr) -> Result<Option<Vec<Node>>> {
        let (j, choices) = match &e.kind {
            ExprKind::Subscript {
                name,
                name_span,
                indices,
            } => {
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
        Ok(Some(nodes))
    }

    /// The model variable `name`, which must be arrayed with `count` dimensions.
    fn arrayed(&self, ctx: &Ctx, name: &str, span: &Span, count: usize) -> Result<usize> {
        let Some(&j) = self.index.get(&canonical_name(name)) else {
            let suggestion = closest(name, self.model.variables().iter().map(|v| v.name()));
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

    fn subscript(
        &mut self,
        ctx: &Ctx,
        name: &str,
        name_span: &Span,
        indices: &[Index],
    ) -> Result<Node> {
        let j = self.arrayed(ctx, name, name_span, indices.len())?;
        let dims = self.var_dims[j].clone();
        let mut elements = Vec::new();
        for (index, &d) in indices.iter().zip(&dims) {
            match self.choice(ctx, name, d, index, false)? {
                Choice::One(e) => elements.push(e),
                Choice::Each => unreachable!("only aggregates select every element"),
            }
        }
        Ok(Node::Var(self.base[j] + self.offset(j, &elements)))
    }

    /// The table of lookup `j` to use here: for an arrayed lookup, the
    /// element `indices` select, or without indices the element being
    /// computed; each element has its own table or shares the variable's.
    fn element_table(
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

    fn equation(&mut self, owner: &str, equation: &Equation, at: &[(usize, usize)]) -> Node {
        let ctx = Ctx {
            owner,
            equation,
            at,
        };

        match self.expr(&ctx, equation.expr()) {
            Ok(node) => node,
            Err(e) => {
                self.errors.push(e);
                Node::Const(0.0)
            }
        }
    }

    fn error(&self, ctx: &Ctx, span: &Span, message: impl Into<String>) -> Error {
        ctx.equation.error(ctx.owner, span, message)
    }

    fn add_hidden(&mut self, ctx: &Ctx, label: String, def: Def) -> usize {
        self.vars.push(CVar {
            name: format!("{} ({label})", ctx.owner),
            visible: false,
            def,
        });
        self.vars.len() - 1
    }

    /// A node that is cheap to read several times: a constant or a variable.
    /// Anything else becomes a hidden auxiliary.
    fn materialize(&mut self, ctx: &Ctx, node: Node, label: &str) -> Node {
        match node {
            Node::Const(_) | Node::Var(_) | Node::Special(_) => node,
            other => {
                Node::Var(self.add_hidden(ctx, label.to_string(), Def::Aux { equation: other }))
            }
        }
    }

    fn expr(&mut self, ctx: &Ctx, e: &Expr) -> Result<Node> {
        Ok(match &e.kind {
            ExprKind::Number(v) => Node::Const(*v),
            ExprKind::Name(name) => self.name(ctx, name, &e.span)?,
            ExprKind::Unary(op, a) => {
                let a = self.expr(ctx, a)?;
                match op {
                    UnaryOp::Plus => a,
                    UnaryOp::Neg => Node::Unary(Func1::Neg, Box::new(a)),
                    UnaryOp::Not => Node::Unary(Func1::Not, Box::new(a)),
                }
            }
            ExprKind::Binary(op, a, b) => {
                let a = self.expr(ctx, a)?;
                let b = self.expr(ctx, b)?;
                let f = match op {
                    BinaryOp::Add => Func2::Add,
                    BinaryOp::Sub => Func2::Sub,
                    BinaryOp::Mul => Func2::Mul,
                    BinaryOp::Div => Func2::Div,
                    BinaryOp::Pow => Func2::Pow,
                    BinaryOp::Mod => Func2::Mod,
                    BinaryOp::Lt => Func2::Lt,
                    BinaryOp::Le => Func2::Le,
                    BinaryOp::Gt => Func2::Gt,
                    BinaryOp::Ge => Func2::Ge,
                    BinaryOp::Eq => Func2::Eq,
                    BinaryOp::Ne => Func2::Ne,
                    BinaryOp::And => Func2::And,
                    BinaryOp::Or => Func2::Or,
                };
                Node::binary(f, a, b)
            }
            ExprKind::If(c, a, b) => Node::If(
                Box::new(self.expr(ctx, c)?),
                Box::new(self.expr(ctx, a)?),
                Box::new(self.expr(ctx, b)?),
            ),
            ExprKind::Call {
                name,
                name_span,
                args,
            } => self.call(ctx, name, name_span, args, &e.span)?,
            ExprKind::Subscript {
                name,
                name_span,
                indices,
            } => self.subscript(ctx, name, name_span, indices)?,
        })
    }

    fn name(&mut self, ctx: &Ctx, name: &str, span: &Span) -> Result<Node> {
        let canonical = canonical_name(name);
        if let Some(&i) = self.index.get(&canonical) {
            if matches!(
                self.model.variables()[i].kind(),
                VariableKind::Lookup { input: None, .. }
            ) {
                return Err(self.error(
                    ctx,
                    span,
                    format!("`{name}` is a lookup: call it with an input, like `{name}(x)`"),
                ));
            }
            if self.var_dims[i].is_empty() {
                return Ok(Node::Var(self.base[i]));
            }
            // An arrayed variable without a subscript: the element being computed.
            let mut elements = Vec::new();
            for &d in &self.var_dims[i] {
                match ctx.at.iter().find(|(cd, _)| *cd == d) {
                    Some((_, e)) => elements.push(*e),
                    None => {
                        let dim = self.dimension_name(d).to_string();
                        return Err(self.error(
                            ctx,
                            span,
                            format!("`{name}` ranges over `{dim}` but `{}` does not: write `{name}[element]`, or `SUM({name}[{dim}!])`", ctx.owner),
                        ));
                    }
                }
            }
            return Ok(Node::Var(self.base[i] + self.offset(i, &elements)));
        }
        Ok(match canonical.as_str() {
            "time" => Node::Special(Special::Time),
            "dt" | "time_step" => Node::Special(Special::Dt),
            "initial_time" | "starttime" => Node::Special(Special::InitialTime),
            "final_time" | "stoptime" => Node::Special(Special::FinalTime),
            "saveper" => Node::Special(Special::SaveInterval),
            "pi" => Node::Const(std::f64::consts::PI),
            _ => {
                let specials = [
                    "TIME",
                    "DT",
                    "TIME STEP",
                    "INITIAL TIME",
                    "FINAL TIME",
                    "SAVEPER",
                    "PI",
                ];
                let suggestion = closest(
                    name,
                    self.model
                        .variables()
                        .iter()
                        .map(|v| v.name())
                        .chain(specials),
                );
                let hint = if builtin_names()
                    .iter()
                    .any(|b| canonical_name(b) == canonical)
                {
                    format!("; `{name}` is a function: call it with arguments")
                } else {
                    did_you_mean(suggestion)
                };
                return Err(self.error(ctx, span, format!("unknown variable `{name}`{hint}")));
            }
        })
    }

    fn call(
        &mut self,
        ctx: &Ctx,
        name: &str,
        name_span: &Span,
        args: &[Expr],
        span: &Span,
    ) -> Result<Node> {
        let canonical = canonical_name(name);
        if let Some(&i) = self.index.get(&canonical) {
            return match self.table_of.contains_key(&i) {
                true => {
                    // An arrayed lookup called without a subscript uses the
                    // table of the element being computed.
                    let table = self.element_table(ctx, i, name, name_span, None)?;
                    if args.len() != 1 {
                        return Err(self.error(
                            ctx,
                            span,
                            format!("lookup `{name}` takes one input, found {}", args.len()),
                        ));
                    }
                    let x = self.expr(ctx, &args[0])?;
                    Ok(Node::Lookup(table, Box::new(x)))
                }
                false => Err(self.error(
                    ctx,
                    name_span,
                    format!(
                        "`{name}` is {} {}, not a function or lookup",
                        article(self.model.variables()[i].kind().label()),
                        self.model.variables()[i].kind().label()
                    ),
                )),
            };
        }
        // SUM, MEAN, MIN and MAX of one array.
        if args.len() == 1 && matches!(canonical.as_str(), "sum" | "mean" | "min" | "max") {
            if let Some(nodes) = self.array_elements(ctx, &args[0])? {
                let n = nodes.len() as f64;
                let f = match canonical.as_str() {
                    "min" => Func2::Min,
                    "max" => Func2::Max,
                    _ => Func2::Add,
                };
                let mut it = nodes.into_iter();
                let first = it.next().unwrap_or(Node::Const(0.0));
                let folded = it.fold(first, |acc, x| Node::binary(f, acc, x));
                return Ok(if canonical == "mean" {
                    Node::binary(Func2::Div, folded, Node::Const(n))
                } else {
                    folded
                });
            }
        }
        let Some(builtin) = lookup_builtin(&canonical) else {
            let lookups = self
                .model
                .variables()
                .iter()
                .filter(|v| matches!(v.kind(), VariableKind::Lookup { .. }))
                .map(|v| v.name());
            let suggestion = closest(name, builtin_names().iter().copied().chain(lookups));
            return Err(self.error(
                ctx,
                name_span,
                format!("unknown function `{name}`{}", did_you_mean(suggestion)),
            ));
        };
        let (min, max) = builtin.arity();
        if args.len() < min || args.len() > max {
            let count = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(self.error(
                ctx,
                span,
                format!(
                    "{} takes {count} argument{} ({}), found {}",
                    builtin.spelling(),
                    if max == 1 { "" } else { "s" },
                    builtin.signature(),
                    args.len()
                ),
            ));
        }
        // LOOKUP(table, x) names a lookup in its first argument.
        if builtin == Builtin::Lookup {
            let target = match &args[0].kind {
                ExprKind::Name(n) => Some((n, &args[0].span, None)),
                ExprKind::Subscript {
                    name,
                    name_span,
                    indices,
                } => Some((name, name_span, Some(indices.as_slice()))),
                _ => None,
            };
            let mut table = None;
            if let Some((n, n_span, indices)) = target {
                if let Some(&i) = self.index.get(&canonical_name(n)) {
                    if self.table_of.contains_key(&i) {
                        table = Some(self.element_table(ctx, i, n, n_span, indices)?);
                    }
                }
            }
            let Some(table) = table else {
                return Err(self.error(
                    ctx,
                    &args[0].span,
                    "the first argument of LOOKUP must be the name of a lookup",
                ));
            };
            let x = self.expr(ctx, &args[1])?;
            return Ok(Node::Lookup(table, Box::new(x)));
        }
        let mut nodes = Vec::with_capacity(args.len());
        for a in args {
            nodes.push(self.expr(ctx, a)?);
        }
        self.lower(ctx, builtin, nodes, args, span)
    }

    fn lower(
        &mut self,
        ctx: &Ctx,
        builtin: Builtin,
        mut a: Vec<Node>,
        exprs: &[Expr],
        span: &Span,
    ) -> Result<Node> {
        use Builtin as B;
        let unary = |f: Func1, a: &mut Vec<Node>| Node::Unary(f, Box::new(a.remove(0)));
        Ok(match builtin {
            B::Abs => unary(Func1::Abs, &mut a),
            B::Exp => unary(Func1::Exp, &mut a),
            B::Ln => unary(Func1::Ln, &mut a),
            B::Log10 => unary(Func1::Log10, &mut a),
            B::Log => {
                if a.len() == 2 {
                    let base = a.remove(1);
                    Node::binary(Func2::LogBase, a.remove(0), base)
                } else {
                    unary(Func1::Log10, &mut a)
                }
            }
            B::Sqrt => unary(Func1::Sqrt, &mut a),
            B::Sin => unary(Func1::Sin, &mut a),
            B::Cos => unary(Func1::Cos, &mut a),
            B::Tan => unary(Func1::Tan, &mut a),
            B::Arcsin => unary(Func1::Asin, &mut a),
            B::Arccos => unary(Func1::Acos, &mut a),
            B::Arctan => unary(Func1::Atan, &mut a),
            B::Sinh => unary(Func1::Sinh, &mut a),
            B::Cosh => unary(Func1::Cosh, &mut a),
            B::Tanh => unary(Func1::Tanh, &mut a),
            B::Integer => unary(Func1::Integer, &mut a),
            B::Round => unary(Func1::Round, &mut a),
            B::Sign => unary(Func1::Sign, &mut a),
            B::Pi => Node::Const(std::f64::consts::PI),
            B::Modulo => {
                let b = a.remove(1);
                Node::binary(Func2::Mod, a.remove(0), b)
            }
            B::Power => {
                let b = a.remove(1);
                Node::binary(Func2::Pow, a.remove(0), b)
            }
            B::Sum | B::Mean => {
                return Err(self.error(
                    ctx,
                    span,
                    format!(
                        "{} needs an array, like {0}(x[dimension!]) or {0}(x[*])",
                        builtin.spelling()
                    ),
                ));
            }
            B::Min | B::Max => {
                if a.len() == 1 {
                    return Err(self.error(
                        ctx,
                        span,
                        format!(
                            "{} of one value needs an array; give two or more values",
                            builtin.spelling()
                        ),
                    ));
                }
                let f = if builtin == B::Min {
                    Func2::Min
                } else {
                    Func2::Max
                };
                let mut it = a.into_iter();
                let first = it.next().unwrap_or(Node::Const(0.0));
                it.fold(first, |acc, x| Node::binary(f, acc, x))
            }
            B::Zidz => {
                let b = a.remove(1);
                Node::binary(Func2::Zidz, a.remove(0), b)
            }
            B::SafeDiv if a.len() == 2 => {
                let b = a.remove(1);
                Node::binary(Func2::Zidz, a.remove(0), b)
            }
            B::Xidz | B::SafeDiv => {
                let x = a.remove(2);
                let b = a.remove(1);
                Node::Xidz(Box::new(a.remove(0)), Box::new(b), Box::new(x))
            }
            B::Step => Node::Time(TimeFunc::Step, a),
            B::Pulse => Node::Time(TimeFunc::Pulse, a),
            B::PulseTrain => Node::Time(TimeFunc::PulseTrain, a),
            B::Ramp => {
                if a.len() == 2 {
                    a.push(Node::Const(f64::INFINITY));
                }
                Node::Time(TimeFunc::Ramp, a)
            }
            B::Initial => {
                let x = a.remove(0);
                Node::Var(self.add_hidden(ctx, "INITIAL".into(), Def::Initial { equation: x }))
            }
            B::Delay1 | B::Delay1I | B::Delay3 | B::Delay3I => {
                let order = if matches!(builtin, B::Delay1 | B::Delay1I) {
                    1
                } else {
                    3
                };
                let initial = (a.len() == 3).then(|| a.remove(2));
                let time = a.remove(1);
                self.material_delay(ctx, builtin.spelling(), a.remove(0), time, initial, order)
            }
            B::DelayN | B::DelayNXmile => {
                // Vensim: DELAY N(input, time, initial, order);
                // XMILE: DELAYN(input, time, order[, initial]).
                let (order_index, initial_index) =
                    if builtin == B::DelayN { (3, 2) } else { (2, 3) };
                let order = self.order(ctx, &a[order_index], &exprs[order_index], builtin)?;
                let initial = a.get(initial_index).cloned();
                let time = a[1].clone();
                self.material_delay(ctx, builtin.spelling(), a.remove(0), time, initial, order)
            }
            B::Smooth | B::SmoothI | B::Smooth3 | B::Smooth3I => {
                let order = if matches!(builtin, B::Smooth | B::SmoothI) {
                    1
                } else {
                    3
                };
                let initial = (a.len() == 3).then(|| a.remove(2));
                let time = a.remove(1);
                self.smooth(ctx, builtin.spelling(), a.remove(0), time, initial, order)
            }
            B::SmoothN | B::SmoothNXmile => {
                // Vensim: SMOOTH N(input, time, initial, order);
                // XMILE: SMTHN(input, time, order[, initial]).
                let (order_index, initial_index) = if builtin == B::SmoothN {
                    (3, 2)
                } else {
                    (2, 3)
                };
                let order = self.order(ctx, &a[order_index], &exprs[order_index], builtin)?;
                let initial = a.get(initial_index).cloned();
                let time = a[1].clone();
                self.smooth(ctx, builtin.spelling(), a.remove(0), time, initial, order)
            }
            B::Trend => {
                let input = self.materialize(ctx, a.remove(0), "TREND input");
                let time = self.materialize(ctx, a.remove(0), "TREND time");
                let initial_trend = a.remove(0);
                // The average starts where the initial trend says it was.
                let initial_average = Node::binary(
                    Func2::Div,
                    input.clone(),
                    Node::binary(
                        Func2::Add,
                        Node::Const(1.0),
                        Node::binary(Func2::Mul, initial_trend, time.clone()),
                    ),
                );
                let average = self.smooth(
                    ctx,
                    "TREND",
                    input.clone(),
                    time.clone(),
                    Some(initial_average),
                    1,
                );
                let trend = Node::binary(
                    Func2::Zidz,
                    Node::binary(Func2::Sub, input, average.clone()),
                    Node::binary(Func2::Mul, time, Node::Unary(Func1::Abs, Box::new(average))),
                );
                Node::Var(self.add_hidden(ctx, "TREND".into(), Def::Aux { equation: trend }))
            }
            B::DelayFixed | B::DelayXmile => {
                let input = a.remove(0);
                let delay = a.remove(0);
                let initial = if a.is_empty() {
                    input.clone()
                } else {
                    a.remove(0)
                };
                let input = self.materialize(ctx, input, "DELAY FIXED input");
                let delay = self.add_hidden(
                    ctx,
                    "DELAY FIXED time".into(),
                    Def::Initial { equation: delay },
                );
                let initial = self.add_hidden(
                    ctx,
                    "DELAY FIXED initial".into(),
                    Def::Initial { equation: initial },
                );
                Node::Var(self.add_hidden(
                    ctx,
                    "DELAY FIXED".into(),
                    Def::DelayFixed {
                        input,
                        delay,
                        initial,
                    },
                ))
            }
            B::Lookup => unreachable!("LOOKUP is handled before lowering"),
        })
    }

    /// The order of a `DELAY N` or `SMOOTH N`: a whole number fixed when the
    /// program is compiled.
    fn order(&mut self, ctx: &Ctx, node: &Node, expr: &Expr, builtin: Builtin) -> Result<usize> {
        let mut params = Vec::new();
        let value = self.constant_value(node, &mut params);
        match value {
            Some(v) if (1.0..=1000.0).contains(&v) && (v - v.round()).abs() < 1e-9 => {
                self.structural.extend(params);
                Ok(v.round() as usize)
            }
            Some(v) => Err(self.error(
                ctx,
                &expr.span,
                format!("the order of {} must be a whole number from 1 to 1000, not {v}", builtin.spelling()),
            )),
            None => Err(self.error(
                ctx,
                &expr.span,
                format!(
                    "the order of {} must be a number or constants only: it fixes the number of stages when the model is compiled",
                    builtin.spelling()
                ),
            )),
        }
    }

    /// Evaluates a node made only of numbers and constants.
    fn constant_value(&self, node: &Node, params: &mut Vec<usize>) -> Option<f64> {
        match node {
            Node::Const(v) => Some(*v),
            Node::Var(i) => match self.vars.get(*i).map(|v| &v.def) {
                Some(Def::Param { value }) => {
                    params.push(*i);
                    Some(*value)
                }
                _ => None,
            },
            Node::Unary(Func1::Neg, a) => Some(-self.constant_value(a, params)?),
            Node::Binary(f, a, b) => {
                let (a, b) = (
                    self.constant_value(a, params)?,
                    self.constant_value(b, params)?,
                );
                match f {
                    Func2::Add => Some(a + b),
                    Func2::Sub => Some(a - b),
                    Func2::Mul => Some(a * b),
                    Func2::Div => Some(a / b),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// A chain of `order` stocks, each draining at `stock / (time / order)`.
    fn material_delay(
        &mut self,
        ctx: &Ctx,
        label: &str,
        input: Node,
        time: Node,
        initial: Option<Node>,
        order: usize,
    ) -> Node {
        let input = self.materialize(ctx, input, &format!("{label} input"));
        let time = self.materialize(ctx, time, &format!("{label} time"));
        let stage_time = if order == 1 {
            time
        } else {
            let t = Node::binary(Func2::Div, time, Node::Const(order as f64));
            self.materialize(ctx, t, &format!("{label} stage time"))
        };
        let initial_flow = initial.map_or(input.clone(), |i| {
            self.materialize(ctx, i, &format!("{label} initial"))
        });
        let mut inflow = self.add_hidden(
            ctx,
            format!("{label} inflow"),
            Def::Flow {
                equation: input,
                non_negative: false,
            },
        );
        let mut output = inflow;
        for stage in 1..=order {
            let stock = self.add_hidden(ctx, format!("{label} stage {stage}"), Def::Pending);
            output = self.add_hidden(
                ctx,
                format!("{label} stage {stage} outflow"),
                Def::Flow {
                    equation: Node::binary(Func2::Div, Node::Var(stock), stage_time.clone()),
                    non_negative: false,
                },
            );
            self.vars[stock].def = Def::Stock {
                initial: Node::binary(Func2::Mul, initial_flow.clone(), stage_time.clone()),
                inflows: vec![inflow],
                outflows: vec![output],
                non_negative: false,
            };
            inflow = output;
        }
        Node::Var(output)
    }

    /// A chain of `order` stocks, each adjusting towards the one before at
    /// `(previous - stock) / (time / order)`.
    fn smooth(
        &mut self,
        ctx: &Ctx,
        label: &str,
        input: Node,
        time: Node,
        initial: Option<Node>,
        order: usize,
    ) -> Node {
        let input = self.materialize(ctx, input, &format!("{label} input"));
        let time = self.materialize(ctx, time, &format!("{label} time"));
        let stage_time = if order == 1 {
            time
        } else {
            let t = Node::binary(Func2::Div, time, Node::Const(order as f64));
            self.materialize(ctx, t, &format!("{label} stage time"))
        };
        let initial = initial.map_or(input.clone(), |i| {
            self.materialize(ctx, i, &format!("{label} initial"))
        });
        let mut previous = input;
        for stage in 1..=order {
            let stock = self.add_hidden(ctx, format!("{label} stage {stage}"), Def::Pending);
            let change = self.add_hidden(
                ctx,
                format!("{label} stage {stage} change"),
                Def::Flow {
                    equation: Node::binary(
                        Func2::Div,
                        Node::binary(Func2::Sub, previous, Node::Var(stock)),
                        stage_time.clone(),
                    ),
                    non_negative: false,
                },
            );
            self.vars[stock].def = Def::Stock {
                initial: initial.clone(),
                inflows: vec![change],
                outflows: vec![],
                non_negative: false,
            };
            previous = Node::Var(stock);
        }
        previous
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}
