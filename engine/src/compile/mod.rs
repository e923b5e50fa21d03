//! From a [`Model`] to an immutable, `Send + Sync` [`Program`].
//!
//! Compilation resolves names, lowers stateful builtins into hidden stocks,
//! finds one evaluation order for initial values and another for each step
//! (reporting a loop of non-stock variables by name), checks units, and
//! generates a flat list of operations over numbered slots. Constants live in
//! slots too, so changing one between runs does not recompile.

mod builtins;
mod order;
pub(crate) mod resolve;
mod units;

use crate::error::{Error, Location, Result};
use crate::model::{LookupTable, Model, TimeSettings};
use crate::name::{canonical_name, closest};
use crate::sim::ops::{self, Code, Op};
use resolve::{Def, Func1, Func2, Node, Special};
use std::collections::HashMap;
use std::fmt;

/// Whether a canonical name is a builtin function.
pub(crate) fn is_builtin(canonical: &str) -> bool {
    builtins::lookup_builtin(canonical).is_some()
}

/// A unit inconsistency or other problem that does not stop a model from
/// running.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// The variable concerned.
    pub variable: String,
    /// Where it is defined, when known.
    pub location: Option<Location>,
    /// What is inconsistent.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(l) => write!(f, "{l}: `{}`: {}", self.variable, self.message),
            None => write!(f, "`{}`: {}", self.variable, self.message),
        }
    }
}

/// A constant of a program, settable per run.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// The display name.
    pub name: String,
    /// The value in the model.
    pub default: f64,
    /// Whether it fixes the structure (the order of a `DELAY N` or
    /// `SMOOTH N`); such constants can only be changed by recompiling.
    pub structural: bool,
    pub(crate) slot: u32,
}

/// A handle to a parameter, for setting it in many runs without looking up
/// its name each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParamId(pub(crate) usize);

/// How a stock is integrated: `flow_terms[first_in..first_out]` are its
/// inflows and `flow_terms[first_out..end]` its outflows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StockUpdate {
    pub slot: u32,
    pub first_in: u32,
    pub first_out: u32,
    pub end: u32,
}

/// A `DELAY FIXED`: where its output, input, delay time and initial value are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RingSpec {
    pub input: u32,
    pub delay: u32,
    pub initial: u32,
}

/// A compiled model: immutable, shareable across threads, run with
/// [`Program::state`] or [`Program::run`].
#[derive(Debug, Clone)]
pub struct Program {
    pub(crate) name: String,
    pub(crate) time: TimeSettings,
    pub(crate) base_slots: Vec<f64>,
    pub(crate) params: Vec<Parameter>,
    param_index: HashMap<String, usize>,
    pub(crate) init_ops: Code,
    pub(crate) step_ops: Code,
    pub(crate) stocks: Vec<StockUpdate>,
    pub(crate) flow_terms: Vec<u32>,
    /// Computes each integrated stock's net flow into `derivatives + i`.
    pub(crate) derivative_ops: Code,
    /// `step_ops` then `derivative_ops`, for steps with no limiting in
    /// between: one pass evaluates everything.
    pub(crate) fused_ops: Code,
    /// The slots of the integrated stocks (those with flows), in the order
    /// of `stocks`.
    pub(crate) integrated: std::ops::Range<usize>,
    /// The first of the derivative slots.
    pub(crate) derivatives: usize,
    pub(crate) flows: Vec<u32>,
    pub(crate) non_negative: Vec<usize>,
    /// Sorted slots of the flows that non-negative limiting may scale.
    pub(crate) limited: Vec<u32>,
    pub(crate) tables: Vec<LookupTable>,
    pub(crate) rings: Vec<RingSpec>,
    /// The visible variables' slots: one row of results.
    pub(crate) outputs: std::ops::Range<usize>,
    /// The outputs' names, shared with every run's results.
    pub(crate) columns: std::sync::Arc<crate::sim::Columns>,
    /// Slots checked for NaN and infinity after every evaluation.
    pub(crate) checked: std::ops::Range<usize>,
    /// The checked slots in the order to search them (stocks, then
    /// evaluation order), with names.
    pub(crate) check_order: Vec<(u32, String)>,
    warnings: Vec<Warning>,
    other_names: Vec<(String, &'static str)>,
}

impl Program {
    /// Compiles a model.
    ///
    /// # Errors
    ///
    /// Unknown names (with the closest known one), wrong numbers of
    /// arguments, loops among non-stock variables ([`Error::Cycle`]), and a
    /// `DELAY N` or `SMOOTH N` whose order is not a constant whole number.
    /// Unit inconsistencies are not errors; see [`Program::warnings`].
    pub fn compile(model: &Model) -> Result<Program> {
        let resolved = resolve::resolve(model)?;
        let warnings = units::check(model);
        Compiler::new(model, resolved).finish(warnings)
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The default time settings.
    pub fn time(&self) -> &TimeSettings {
        &self.time
    }

    /// Unit inconsistencies found when compiling.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The constants that can be set per run.
    pub fn parameters(&self) -> &[Parameter] {
        &self.params
    }

    /// The output columns (display names): stocks, then auxiliaries and
    /// flows, then constants, each group in model order.
    pub fn output_names(&self) -> &[String] {
        self.columns.names()
    }

    /// The output columns, shared by every run's results: two programs
    /// with the same outputs in the same order have equal columns, and
    /// runs of one program share the same [`std::sync::Arc`].
    pub fn columns(&self) -> &std::sync::Arc<crate::sim::Columns> {
        &self.columns
    }

    /// The position of a variable among [`Program::output_names`] (in any
    /// spelling of its name; an array element as `name[element]`).
    pub fn output_index(&self, name: &str) -> Option<usize> {
        self.columns.get(name)
    }

    /// Finds a parameter by name.
    ///
    /// # Errors
    ///
    /// [`Error::Parameter`] if `name` is not a constant of the model, with the
    /// closest constant's name, or if it is structural.
    pub fn parameter(&self, name: &str) -> Result<ParamId> {
        let canonical = canonical_name(name);
        match self.param_index.get(&canonical) {
            Some(&i) if self.params[i].structural => Err(Error::Parameter {
                name: name.to_string(),
                reason: "it sets the order of a DELAY N or SMOOTH N, which is fixed when the model is compiled; change it in the model instead".into(),
                suggestion: None,
            }),
            Some(&i) => Ok(ParamId(i)),
            None => {
                let reason = match self
                    .other_names
                    .iter()
                    .find(|(n, _)| canonical_name(n) == canonical)
                {
                    Some((_, kind)) => format!("it is {kind} computed by the model, not a constant"),
                    None => "the model has no constant of that name".to_string(),
                };
                Err(Error::Parameter {
                    name: name.to_string(),
                    reason,
                    suggestion: closest(name, self.params.iter().map(|p| p.name.as_str())),
                })
            }
        }
    }

    /// The number of stocks integrated in each step: the model's stocks
    /// with flows plus the hidden stages of its delays and smooths.
    pub fn stock_count(&self) -> usize {
        self.stocks.len()
    }

    /// The number of operations evaluated per step (a measure of cost).
    pub fn ops_per_step(&self) -> usize {
        self.step_ops.len()
    }
}

struct Compiler<'m> {
    model: &'m Model,
    vars: Vec<resolve::CVar>,
    tables: Vec<LookupTable>,
    structural: Vec<usize>,
    slot_of: Vec<u32>,
    literal_slots: HashMap<u64, u32>,
    base_slots: Vec<f64>,
    temp_base: u32,
    temp_next: u32,
    temp_max: u32,
}

impl<'m> Compiler<'m> {
    fn new(model: &'m Model, resolved: resolve::Resolved) -> Self {
        Compiler {
            model,
            slot_of: vec![u32::MAX; resolved.vars.len()],
            vars: resolved.vars,
            tables: resolved.tables,
            structural: resolved.structural,
            literal_slots: HashMap::new(),
            base_slots: vec![0.0; ops::FIXED_SLOTS],
            temp_base: 0,
            temp_next: 0,
            temp_max: 0,
        }
    }

    fn deps(&self, v: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut push = |i: usize| out.push(i);
        match &self.vars[v].def {
            Def::Stock { initial, .. } => initial.for_each_var(&mut push),
            Def::Flow { equation, .. } | Def::Aux { equation } | Def::Initial { equation } => {
                equation.for_each_var(&mut push)
            }
            Def::DelayFixed { initial, .. } => push(*initial),
            Def::Param { .. } | Def::LookupFunction | Def::Pending => {}
        }
        out
    }

    fn cycle_error(&self, cycle: Vec<usize>, initial: bool) -> Error {
        Error::Cycle {
            names: cycle
                .into_iter()
                .map(|v| self.vars[v].name.clone())
                .collect(),
            initial,
        }
    }

    fn finish(mut self, warnings: Vec<Warning>) -> Result<Program> {
        let n = self.vars.len();
        let is_step_var = |d: &Def| {
            matches!(
                d,
                Def::Aux { .. } | Def::Flow { .. } | Def::DelayFixed { .. }
            )
        };

        // Step order first: a loop here is the more fundamental problem.
        let step_candidates: Vec<usize> =
            (0..n).filter(|&v| is_step_var(&self.vars[v].def)).collect();
        let step_deps = |v: usize| match &self.vars[v].def {
            Def::DelayFixed { .. } => Vec::new(),
            _ => self.deps(v),
        };
        let full_step_order = order::topological(&step_candidates, n, step_deps)
            .map_err(|c| self.cycle_error(c, false))?;

        let init_candidates: Vec<usize> = (0..n)
            .filter(|&v| {
                !matches!(
                    self.vars[v].def,
                    Def::Param { .. } | Def::LookupFunction | Def::Pending
                )
            })
            .collect();
        let init_order = order::topological(&init_candidates, n, |v| self.deps(v))
            .map_err(|c| self.cycle_error(c, true))?;

        // Auxiliaries that depend only on constants and initial values are
        // computed once per run, not every step.
        let mut fixed = vec![false; n];
        for &v in &init_order {
            fixed[v] = match &self.vars[v].def {
                Def::Initial { .. } => true,
                Def::Aux { equation } => {
                    let mut all_fixed = !equation.reads_time();
                    equation.for_each_var(&mut |d| {
                        all_fixed &= matches!(self.vars[d].def, Def::Param { .. }) || fixed[d];
                    });
                    all_fixed
                }
                _ => false,
            };
        }
        let step_order: Vec<usize> = full_step_order.into_iter().filter(|&v| !fixed[v]).collect();

        // Slot layout:
        //   fixed | literals | hidden values | hidden stocks without flows
        //   | hidden stocks with flows | visible stocks with flows
        //   | visible stocks without flows | visible auxiliaries and flows
        //   | constants | derivatives | temporaries
        // so that the integrated stocks, the checked values (all but
        // constants) and the outputs (everything visible) are each one
        // contiguous range. Recording a row is then one copy.
        let mut literals = Vec::new();
        for var in &self.vars {
            collect_literals(&var.def, &mut literals);
        }
        for value in literals {
            self.literal(value);
        }
        self.literal(0.0);
        // 0: values, 1: stocks without flows, 2: stocks with flows.
        let category = |d: &Def| match d {
            Def::Aux { .. } | Def::Flow { .. } | Def::Initial { .. } | Def::DelayFixed { .. } => {
                Some(0)
            }
            Def::Stock {
                inflows, outflows, ..
            } if inflows.is_empty() && outflows.is_empty() => Some(1),
            Def::Stock { .. } => Some(2),
            Def::Param { .. } | Def::LookupFunction | Def::Pending => None,
        };
        let order = [
            (false, 0),
            (false, 1),
            (false, 2),
            (true, 2),
            (true, 1),
            (true, 0),
        ];
        let region_start = self.base_slots.len();
        let mut integrated_vars = Vec::new();
        let mut boundaries = Vec::new();
        for (visible, group) in order {
            boundaries.push(self.base_slots.len());
            for v in 0..n {
                if self.vars[v].visible == visible && category(&self.vars[v].def) == Some(group) {
                    self.slot_of[v] = self.base_slots.len() as u32;
                    self.base_slots.push(0.0);
                    if group == 2 {
                        integrated_vars.push(v);
                    }
                }
            }
        }
        let integrated_start = boundaries[2];
        let outputs_start = boundaries[3];
        let integrated_end = boundaries[4];
        let region_end = self.base_slots.len();
        let mut params = Vec::new();
        let mut param_index = HashMap::new();
        for v in 0..n {
            if let Def::Param { value } = self.vars[v].def {
                let slot = self.base_slots.len() as u32;
                self.base_slots.push(value);
                self.slot_of[v] = slot;
                param_index.insert(canonical_name(&self.vars[v].name), params.len());
                params.push(Parameter {
                    name: self.vars[v].name.clone(),
                    default: value,
                    structural: self.structural.contains(&v),
                    slot,
                });
            }
        }
        let outputs_end = self.base_slots.len();
        // The net flow of each integrated stock, in the same order.
        let derivatives = outputs_end;
        self.base_slots
            .resize(derivatives + (integrated_end - integrated_start), 0.0);
        self.temp_base = self.base_slots.len() as u32;

        // Rings for DELAY FIXED, numbered in variable order.
        let mut ring_of = HashMap::new();
        let mut rings = Vec::new();
        for v in 0..n {
            if let Def::DelayFixed {
                input,
                delay,
                initial,
            } = self.vars[v].def.clone()
            {
                ring_of.insert(v, rings.len() as u32);
                let input = self.operand_slot(&input);
                rings.push(RingSpec {
                    input,
                    delay: self.slot_of[delay],
                    initial: self.slot_of[initial],
                });
            }
        }

        let mut init_ops = Vec::new();
        for &v in &init_order {
            self.emit_var(v, true, &ring_of, &mut init_ops);
        }
        let mut step_ops = Vec::new();
        for &v in &step_order {
            self.emit_var(v, false, &ring_of, &mut step_ops);
        }

        // Integration: stocks with flows.
        let mut stocks = Vec::new();
        let mut flow_terms = Vec::new();
        let mut derivative_ops = Vec::new();
        let mut non_negative = Vec::new();
        let zero = self.literal(0.0);
        for &v in &integrated_vars {
            if let Def::Stock {
                inflows,
                outflows,
                non_negative: nn,
                ..
            } = &self.vars[v].def
            {
                // A flow out of and back into the same stock changes nothing;
                // leaving it out keeps non-negative limiting from scaling the
                // supply along with the demand.
                let first_in = flow_terms.len() as u32;
                flow_terms.extend(
                    inflows
                        .iter()
                        .filter(|f| !outflows.contains(f))
                        .map(|&f| self.slot_of[f]),
                );
                let first_out = flow_terms.len() as u32;
                flow_terms.extend(
                    outflows
                        .iter()
                        .filter(|f| !inflows.contains(f))
                        .map(|&f| self.slot_of[f]),
                );
                let d = (derivatives + stocks.len()) as u32;
                let ins = &flow_terms[first_in as usize..first_out as usize];
                let outs = &flow_terms[first_out as usize..];
                match (ins.first(), outs.first()) {
                    (Some(&first), _) => {
                        derivative_ops.push(Op::Copy { dst: d, a: first });
                        derivative_ops.extend(ins[1..].iter().map(|&b| Op::Add {
                            dst: d,
                            a: d,
                            b,
                        }));
                        derivative_ops.extend(outs.iter().map(|&b| Op::Sub { dst: d, a: d, b }));
                    }
                    (None, Some(&first)) => {
                        derivative_ops.push(Op::Sub {
                            dst: d,
                            a: zero,
                            b: first,
                        });
                        derivative_ops.extend(outs[1..].iter().map(|&b| Op::Sub {
                            dst: d,
                            a: d,
                            b,
                        }));
                    }
                    (None, None) => derivative_ops.push(Op::Copy { dst: d, a: zero }),
                }
                if *nn {
                    non_negative.push(stocks.len());
                }
                stocks.push(StockUpdate {
                    slot: self.slot_of[v],
                    first_in,
                    first_out,
                    end: flow_terms.len() as u32,
                });
            }
        }
        let mut limited: Vec<u32> = non_negative
            .iter()
            .flat_map(|&i: &usize| {
                let s: StockUpdate = stocks[i];
                flow_terms[s.first_in as usize..s.end as usize]
                    .iter()
                    .copied()
            })
            .collect();
        limited.sort_unstable();
        limited.dedup();
        let flows: Vec<u32> = (0..n)
            .filter(|&v| matches!(self.vars[v].def, Def::Flow { .. }))
            .map(|v| self.slot_of[v])
            .collect();

        let mut check_order: Vec<(u32, String)> = Vec::new();
        for v in 0..n {
            if matches!(self.vars[v].def, Def::Stock { .. }) {
                check_order.push((self.slot_of[v], self.vars[v].name.clone()));
            }
        }
        for &v in init_order.iter() {
            if !matches!(self.vars[v].def, Def::Stock { .. }) {
                check_order.push((self.slot_of[v], self.vars[v].name.clone()));
            }
        }

        let mut output_vars: Vec<usize> = (0..n)
            .filter(|&v| {
                let slot = self.slot_of[v] as usize;
                (outputs_start..outputs_end).contains(&slot)
            })
            .collect();
        output_vars.sort_by_key(|&v| self.slot_of[v]);
        let output_names: Vec<String> = output_vars
            .iter()
            .map(|&v| self.vars[v].name.clone())
            .collect();
        let other_names: Vec<(String, &'static str)> = self
            .vars
            .iter()
            .filter(|var| var.visible && !matches!(var.def, Def::Param { .. }))
            .map(|var| {
                let kind = match var.def {
                    Def::Stock { .. } => "a stock",
                    Def::Flow { .. } => "a flow",
                    Def::LookupFunction => "a lookup",
                    _ => "an auxiliary",
                };
                (var.name.clone(), kind)
            })
            .collect();

        let mut base_slots = self.base_slots;
        base_slots.resize((self.temp_base + self.temp_max) as usize, 0.0);
        let slot_count = base_slots.len();
        let fused_ops = Code::new(
            step_ops.iter().chain(&derivative_ops).copied().collect(),
            slot_count,
        );
        Ok(Program {
            fused_ops,
            name: self.model.name().to_string(),
            time: *self.model.time(),
            base_slots,
            params,
            param_index,
            init_ops: Code::new(init_ops, slot_count),
            step_ops: Code::new(step_ops, slot_count),
            stocks,
            flow_terms,
            derivative_ops: Code::new(derivative_ops, slot_count),
            integrated: integrated_start..integrated_end,
            derivatives,
            flows,
            non_negative,
            limited,
            tables: self.tables,
            rings,
            outputs: outputs_start..outputs_end,
            columns: std::sync::Arc::new(crate::sim::Columns::new(output_names)),
            checked: region_start..region_end,
            check_order,
            warnings,
            other_names,
        })
    }

    fn literal(&mut self, value: f64) -> u32 {
        let key = value.to_bits();
        if let Some(&slot) = self.literal_slots.get(&key) {
            return slot;
        }
        let slot = self.base_slots.len() as u32;
        self.base_slots.push(value);
        self.literal_slots.insert(key, slot);
        slot
    }

    /// The slot of a constant or variable node (materialized by lowering).
    fn operand_slot(&mut self, node: &Node) -> u32 {
        match node {
            Node::Const(v) => self.literal(*v),
            Node::Var(v) => self.slot_of[*v],
            Node::Special(s) => special_slot(*s),
            _ => unreachable!("lowering materializes delay inputs"),
        }
    }

    fn emit_var(&mut self, v: usize, init: bool, ring_of: &HashMap<usize, u32>, out: &mut Vec<Op>) {
        let dst = self.slot_of[v];
        self.temp_next = 0;
        match self.vars[v].def.clone() {
            Def::Stock { initial, .. } => {
                self.emit(&initial, Some(dst), out);
            }
            Def::Aux { equation } | Def::Initial { equation } => {
                self.emit(&equation, Some(dst), out);
            }
            Def::Flow {
                equation,
                non_negative,
            } => {
                self.emit(&equation, Some(dst), out);
                if non_negative {
                    out.push(Op::F1 {
                        dst,
                        f: Func1::ClampNonNegative,
                        a: dst,
                    });
                }
            }
            Def::DelayFixed { initial, .. } => {
                if init {
                    out.push(Op::Copy {
                        dst,
                        a: self.slot_of[initial],
                    });
                } else {
                    out.push(Op::DelayFixed {
                        dst,
                        ring: ring_of[&v],
                    });
                }
            }
            Def::Param { .. } | Def::LookupFunction | Def::Pending => {}
        }
    }

    fn temp(&mut self) -> u32 {
        let slot = self.temp_base + self.temp_next;
        self.temp_next += 1;
        self.temp_max = self.temp_max.max(self.temp_next);
        slot
    }

    /// Emits operations computing `node` into `dst` (or a new temporary) and
    /// returns the slot holding the value.
    fn emit(&mut self, node: &Node, dst: Option<u32>, out: &mut Vec<Op>) -> u32 {
        let leaf = match node {
            Node::Const(v) => Some(self.literal(*v)),
            Node::Var(v) => Some(self.slot_of[*v]),
            Node::Special(s) => Some(special_slot(*s)),
            _ => None,
        };
        if let Some(slot) = leaf {
            return match dst {
                Some(d) => {
                    out.push(Op::Copy { dst: d, a: slot });
                    d
                }
                None => slot,
            };
        }
        match node {
            Node::Unary(f, a) => {
                let a = self.emit(a, None, out);
                let dst = dst.unwrap_or_else(|| self.temp());
                out.push(Op::F1 { dst, f: *f, a });
                dst
            }
            Node::Binary(f, a, b) => {
                let a = self.emit(a, None, out);
                let b = self.emit(b, None, out);
                let dst = dst.unwrap_or_else(|| self.temp());
                out.push(match f {
                    Func2::Add => Op::Add { dst, a, b },
                    Func2::Sub => Op::Sub { dst, a, b },
                    Func2::Mul => Op::Mul { dst, a, b },
                    Func2::Div => Op::Div { dst, a, b },
                    f => Op::F2 { dst, f: *f, a, b },
                });
                dst
            }
            Node::If(c, a, b) => {
                let c = self.emit(c, None, out);
                let a = self.emit(a, None, out);
                let b = self.emit(b, None, out);
                let dst = dst.unwrap_or_else(|| self.temp());
                out.push(Op::Select { dst, c, a, b });
                dst
            }
            Node::Xidz(a, b, x) => {
                let a = self.emit(a, None, out);
                let b = self.emit(b, None, out);
                let x = self.emit(x, None, out);
                let dst = dst.unwrap_or_else(|| self.temp());
                out.push(Op::Xidz { dst, a, b, x });
                dst
            }
            Node::Lookup(table, a) => {
                let a = self.emit(a, None, out);
                let dst = dst.unwrap_or_else(|| self.temp());
                out.push(Op::Lookup {
                    dst,
                    table: *table as u32,
                    a,
                });
                dst
            }
            Node::Time(f, args) => {
                let mut slots = [0u32; 4];
                for (i, a) in args.iter().enumerate().take(4) {
                    slots[i] = self.emit(a, None, out);
                }
                let dst = dst.unwrap_or_else(|| self.temp());
                out.push(Op::Time {
                    dst,
                    f: *f,
                    args: slots,
                });
                dst
            }
            Node::Const(_) | Node::Var(_) | Node::Special(_) => {
                unreachable!("leaves handled above")
            }
        }
    }
}

fn special_slot(s: Special) -> u32 {
    (match s {
        Special::Time => ops::TIME,
        Special::Dt => ops::DT,
        Special::InitialTime => ops::INITIAL_TIME,
        Special::FinalTime => ops::FINAL_TIME,
        Special::SaveInterval => ops::SAVE_INTERVAL,
    }) as u32
}

fn collect_literals(def: &Def, out: &mut Vec<f64>) {
    fn walk(node: &Node, out: &mut Vec<f64>) {
        match node {
            Node::Const(v) => out.push(*v),
            Node::Var(_) | Node::Special(_) => {}
            Node::Unary(_, a) | Node::Lookup(_, a) => walk(a, out),
            Node::Binary(_, a, b) => {
                walk(a, out);
                walk(b, out);
            }
            Node::If(a, b, c) | Node::Xidz(a, b, c) => {
                walk(a, out);
                walk(b, out);
                walk(c, out);
            }
            Node::Time(_, args) => args.iter().for_each(|a| walk(a, out)),
        }
    }
    match def {
        Def::Stock { initial, .. } => walk(initial, out),
        Def::Flow { equation, .. } | Def::Aux { equation } | Def::Initial { equation } => {
            walk(equation, out)
        }
        Def::DelayFixed { input, .. } => walk(input, out),
        Def::Param { .. } | Def::LookupFunction | Def::Pending => {}
    }
}
