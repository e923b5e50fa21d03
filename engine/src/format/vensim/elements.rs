//! Model elements: each variable's definitions become a stock (with the
//! variables of a sum and difference as its inflows and outflows, or a net
//! flow of its own), a flow, a lookup, a constant or an auxiliary, whole or
//! element by element.

use super::data::DataMode;
use super::equations::number;
use super::subscripts::{Shape, element_tuples};
use super::{Def, Reader, Rhs};
use crate::build::{Aux, Constant, Flow, Lookup, Source, Stock};
use crate::error::Error;
use crate::expr::{Expr, ExprKind, IndexKind, UnaryOp};
use crate::model::Interpolation;
use crate::name::canonical_name;
use indexmap::IndexMap;
use std::collections::{HashMap, HashSet};

impl Reader<'_> {
    /// Builds the model element for one variable.
    pub(super) fn element(
        &mut self,
        defs: &[Def],
        shape: &Shape,
        dimensions: &[(String, Vec<String>)],
        flows: &Flows,
        out: &mut Vec<crate::build::Element>,
    ) -> Option<()> {
        let first = &defs[0];
        let name = first.name.clone();
        let key = canonical_name(&name);
        let dim_names: Vec<String> = shape
            .dims()
            .iter()
            .map(|&i| dimensions[i].0.clone())
            .collect();
        // The number of elements, without making them (a list of values
        // makes them, as many as it lists).
        let count = shape.dims().iter().fold(1u128, |n, &i| {
            n.saturating_mul(dimensions[i].1.len() as u128)
        });
        let mixed = |what: &str| Error::Model {
            variable: name.clone(),
            location: Some(first.location.clone()),
            message: format!("mixes {what} with other kinds of definition"),
        };
        let is = |f: fn(&Rhs) -> bool| defs.iter().all(|d| f(&d.rhs));
        let units = first.units.clone();
        let doc = first.doc.clone();
        macro_rules! finish {
            ($e:expr) => {{
                let mut e = $e.doc(doc).at(first.location.clone());
                if !dim_names.is_empty() {
                    e = e.dimensions(dim_names.clone());
                }
                if let Some(u) = units {
                    e = e.units(u);
                }
                out.push(e.into());
                Some(())
            }};
        }
        // Per-element values in the order of `tuples`, for lists.
        let list_elements = |values: &[f64],
                             reader: &mut Self|
         -> Option<Vec<(Vec<String>, Source)>> {
            if values.len() as u128 != count {
                reader.errors.push(Error::Model {
                    variable: name.clone(),
                    location: Some(first.location.clone()),
                    message: format!("lists {} values for its {} elements", values.len(), count),
                });
                return None;
            }
            Some(
                element_tuples(shape.dims(), dimensions)
                    .into_iter()
                    .zip(values.iter().map(|v| Source::from(*v)))
                    .collect(),
            )
        };
        let complete = |reader: &mut Self| {
            if matches!(shape, Shape::Elements(_)) && defs.len() as u128 != count {
                reader.errors.push(Error::Model {
                    variable: name.clone(),
                    location: Some(first.location.clone()),
                    message: format!(
                        "defines {} of its {} elements: every element needs an equation",
                        defs.len(),
                        count
                    ),
                });
                return false;
            }
            true
        };

        if is(|r| matches!(r, Rhs::Integ { .. })) {
            if !complete(self) {
                return None;
            }
            let (mut stock, net) = match &first.rhs {
                Rhs::Integ { initial, .. } if defs.len() == 1 => (
                    Stock::new(name.clone(), initial.clone()),
                    flows.net.contains_key(&key),
                ),
                _ => (Stock::new(name.clone(), "0"), true),
            };
            if defs.len() > 1 {
                for d in defs {
                    if let Rhs::Integ { initial, .. } = &d.rhs {
                        stock = stock.element(d.subscripts.clone(), initial.clone());
                    }
                }
            }
            if net {
                let flow_name = flows.net_name(&name);
                stock = stock.inflow(flow_name.clone());
                let mut flow = match &first.rhs {
                    Rhs::Integ { rate, .. } => Flow::new(flow_name, rate.clone()),
                    _ => unreachable!("all definitions are INTEG"),
                };
                if defs.len() > 1 {
                    for d in defs {
                        if let Rhs::Integ { rate, .. } = &d.rhs {
                            flow = flow.element(d.subscripts.clone(), rate.clone());
                        }
                    }
                }
                flow = flow
                    .doc(format!("The net flow of `{name}`: its INTEG rate."))
                    .at(first.location.clone());
                if !dim_names.is_empty() {
                    flow = flow.dimensions(dim_names.clone());
                }
                out.push(flow.into());
            } else {
                for (flow, inflow) in flows.of_stock.get(&key).into_iter().flatten() {
                    stock = if *inflow {
                        stock.inflow(flow.clone())
                    } else {
                        stock.outflow(flow.clone())
                    };
                }
            }
            return finish!(stock);
        }
        if defs.iter().any(|d| matches!(d.rhs, Rhs::Integ { .. })) {
            self.errors.push(mixed("INTEG"));
            return None;
        }

        if is(|r| matches!(r, Rhs::Table(_))) {
            if !complete(self) {
                return None;
            }
            let Rhs::Table(points) = &first.rhs else {
                unreachable!("all definitions are tables")
            };
            let mut lookup = Lookup::new(name.clone(), points.clone());
            if defs.len() > 1 {
                for d in defs {
                    if let Rhs::Table(points) = &d.rhs {
                        lookup = lookup.element_points(d.subscripts.clone(), points.clone());
                    }
                }
            }
            return finish!(lookup);
        }
        // Data variables (`:=`, GET ... DATA) hold or look forward between
        // their points; other lookups interpolate.
        if let Some(raw) = defs.iter().find(|d| d.data == Some(DataMode::Raw)) {
            let location = raw.location.clone();
            self.warn(
                &name,
                location,
                "`:RAW:` data: Vensim has no value between the data points; here each point is held until the next (as `:HOLD BACKWARD:`)".into(),
            );
        }
        let interpolation = match defs.iter().find_map(|d| d.data) {
            Some(DataMode::HoldBackward | DataMode::LookForward | DataMode::Raw) => {
                Interpolation::Discrete
            }
            _ => Interpolation::Continuous,
        };
        if let [
            Def {
                rhs: Rhs::WithLookup { input, points },
                ..
            },
        ] = defs
        {
            return finish!(
                Lookup::new(name.clone(), points.clone())
                    .input(input.clone())
                    .interpolation(interpolation)
            );
        }
        // One table per element over the same input (data read element by
        // element).
        // Elements given as numbers among them are one-point tables.
        let data_input = defs.iter().find_map(|d| match &d.rhs {
            Rhs::WithLookup { input, .. } => Some(input.clone()),
            _ => None,
        });
        if defs.len() > 1
            && let Some(input) = data_input
            && defs.iter().all(|d| match &d.rhs {
                Rhs::WithLookup { input: i, .. } => i.text == input.text,
                Rhs::Number(_) => true,
                _ => false,
            })
        {
            let table = |d: &Def| match &d.rhs {
                Rhs::WithLookup { points, .. } => points.clone(),
                Rhs::Number(v) => vec![(0.0, *v)],
                _ => Vec::new(),
            };
            let points = table(first);
            if !complete(self) {
                return None;
            }
            let mut lookup = Lookup::new(name.clone(), points.clone())
                .input(input.clone())
                .interpolation(interpolation);
            for d in defs {
                lookup = lookup.element_points(d.subscripts.clone(), table(d));
            }
            return finish!(lookup);
        }
        if defs
            .iter()
            .any(|d| matches!(d.rhs, Rhs::Table(_) | Rhs::WithLookup { .. }))
        {
            self.errors.push(mixed("lookups"));
            return None;
        }

        // Constants, lists and equations.
        if !complete(self) {
            return None;
        }
        let is_flow = flows.flows.contains(&key);
        let elements: Vec<(Vec<String>, Source)> = match (shape, &first.rhs) {
            (Shape::Whole(_), Rhs::List(values)) => list_elements(values, self)?,
            (Shape::Elements(_), _) => {
                let mut out = Vec::new();
                for d in defs {
                    let source = match &d.rhs {
                        Rhs::Number(v) => Source::from(*v),
                        Rhs::Expression(s) => s.clone(),
                        Rhs::List(_) => {
                            self.errors.push(Error::Model {
                                variable: name.clone(),
                                location: Some(d.location.clone()),
                                message: "lists several values for a single element".into(),
                            });
                            return None;
                        }
                        _ => {
                            self.errors.push(Error::Model {
                                variable: name.clone(),
                                location: Some(d.location.clone()),
                                message: "mixes kinds of definition (equations, lookups, data) across its elements".into(),
                            });
                            return None;
                        }
                    };
                    out.push((d.subscripts.clone(), source));
                }
                out
            }
            (Shape::Scalar, Rhs::List(_)) => {
                self.errors.push(Error::Model {
                    variable: name.clone(),
                    location: Some(first.location.clone()),
                    message: "lists several values but has no subscripts".into(),
                });
                return None;
            }
            _ => Vec::new(),
        };
        let all_numbers = elements.iter().all(|(_, s)| number(&s.text).is_some())
            && matches!(first.rhs, Rhs::Number(_) | Rhs::List(_));
        let main: Source = match &first.rhs {
            Rhs::Expression(s) if elements.is_empty() => s.clone(),
            Rhs::Number(v) if elements.is_empty() => Source::from(*v),
            _ => elements
                .first()
                .map(|(_, s)| s.clone())
                .unwrap_or_else(|| Source::from("0")),
        };
        if is_flow {
            let mut flow = Flow::new(name.clone(), main);
            for (tuple, source) in elements {
                flow = flow.element(tuple, source);
            }
            return finish!(flow);
        }
        if all_numbers && !matches!(first.rhs, Rhs::Expression(_)) {
            let value = number(&main.text).unwrap_or(0.0);
            let mut constant = Constant::new(name.clone(), value);
            for (tuple, source) in elements {
                constant = constant.element(tuple, source);
            }
            return finish!(constant);
        }
        let mut aux = Aux::new(name.clone(), main);
        for (tuple, source) in elements {
            aux = aux.element(tuple, source);
        }
        finish!(aux)
    }
}

/// How stocks get their flows.
#[derive(Default)]
pub(super) struct Flows {
    /// Variables that become flows (canonical names).
    flows: HashSet<String>,
    /// Per stock: (flow name, inflow?).
    of_stock: HashMap<String, Vec<(String, bool)>>,
    /// Stocks whose rate becomes a flow of its own, and that flow's name.
    net: HashMap<String, String>,
}

impl Flows {
    fn net_name(&self, stock: &str) -> String {
        self.net
            .get(&canonical_name(stock))
            .cloned()
            .unwrap_or_else(|| format!("{stock} net flow"))
    }
}

/// The terms of a sum and difference of names: (name, subscripts, added?).
fn collect_terms(e: &Expr, added: bool, out: &mut Vec<(String, Vec<String>, bool)>) -> bool {
    use crate::expr::BinaryOp;
    match &e.kind {
        ExprKind::Binary(BinaryOp::Add, a, b) => {
            collect_terms(a, added, out) && collect_terms(b, added, out)
        }
        ExprKind::Binary(BinaryOp::Sub, a, b) => {
            collect_terms(a, added, out) && collect_terms(b, !added, out)
        }
        ExprKind::Unary(UnaryOp::Neg, a) => collect_terms(a, !added, out),
        ExprKind::Unary(UnaryOp::Plus, a) => collect_terms(a, added, out),
        ExprKind::Name(n) => {
            out.push((n.clone(), Vec::new(), added));
            true
        }
        ExprKind::Subscript { name, indices, .. } => {
            let mut subs = Vec::new();
            for index in indices {
                match &index.kind {
                    IndexKind::Name(n) => subs.push(canonical_name(n)),
                    _ => return false,
                }
            }
            out.push((name.clone(), subs, added));
            true
        }
        _ => false,
    }
}

/// Decides, stock by stock, whether its INTEG rate is a sum and difference
/// of variables that can be its inflows and outflows (each variable an
/// equation over the stock's own subscripts, feeding at most one stock on
/// each side), or needs a net flow of its own.
pub(super) fn stock_flows(
    variables: &IndexMap<String, Vec<Def>>,
    shapes: &HashMap<String, Shape>,
) -> Flows {
    let mut flows = Flows::default();
    let mut inflow_of: HashSet<String> = HashSet::new();
    let mut outflow_of: HashSet<String> = HashSet::new();
    for (key, defs) in variables {
        if !defs.iter().all(|d| matches!(d.rhs, Rhs::Integ { .. })) {
            continue;
        }
        let mut terms = Vec::new();
        let decomposed = match (&defs[..], shapes.get(key)) {
            ([def], Some(shape)) => {
                let Rhs::Integ { rate, .. } = &def.rhs else {
                    unreachable!("checked above")
                };
                let subs: Vec<String> = def.subscripts.iter().map(|s| canonical_name(s)).collect();
                crate::expr::parse(&rate.text).is_ok_and(|e| collect_terms(&e, true, &mut terms))
                    && terms
                        .iter()
                        .enumerate()
                        .all(|(i, (name, term_subs, added))| {
                            let k = canonical_name(name);
                            let side = if *added { &inflow_of } else { &outflow_of };
                            k != *key
                                && *term_subs == subs
                                && !side.contains(&k)
                                && !terms[..i].iter().any(|(n, _, _)| canonical_name(n) == k)
                                && variables.get(&k).is_some_and(|d| {
                                    d.iter().all(|d| {
                                        matches!(d.rhs, Rhs::Expression(_) | Rhs::Number(_))
                                    })
                                })
                                && shapes.get(&k).is_some_and(|s| s.dims() == shape.dims())
                        })
            }
            _ => false,
        };
        if decomposed && !terms.is_empty() {
            let mut list = Vec::new();
            for (name, _, added) in terms {
                let k = canonical_name(&name);
                if added {
                    inflow_of.insert(k.clone());
                } else {
                    outflow_of.insert(k.clone());
                }
                flows.flows.insert(k.clone());
                let display = variables[&k][0].name.clone();
                list.push((display, added));
            }
            flows.of_stock.insert(key.clone(), list);
        } else {
            let stock = &defs[0].name;
            let mut name = format!("{stock} net flow");
            while variables.contains_key(&canonical_name(&name)) {
                name.push('_');
            }
            flows.net.insert(key.clone(), name);
        }
    }
    flows
}
