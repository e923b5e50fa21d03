//! From a [`Model`] to an immutable, `Send + Sync` [`Program`].
//!
//! Compilation resolves names, lowers stateful builtins into hidden stocks,
//! finds one evaluation order for initial values and another for each step
//! (reporting a loop of non-stock variables by name), checks units, and
//! generates a flat list of operations over numbered slots. Constants live in
//! slots too, so changing one between runs does not recompile.

mod builtins;
mod order;
mod resolve;
mod resolved;
mod units;

use crate::error::{Error, Result};
use crate::model::{LookupTable, Model};
use crate::name::canonical_name;
use crate::program::ops::{self, Code, Func1, Func2, Op};
use crate::program::{Columns, Parameter, Program, RingSpec, StockUpdate, Warning};
use resolved::{CVar, Def, Node, Resolved, Special};
use std::collections::HashMap;

/// Whether a canonical name is a builtin function.
pub(crate) fn is_builtin(canonical: &str) -> bool {
    builtins::lookup_builtin(canonical).is_some()
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
}

struct Compiler<'m> {
    model: &'m Model,
    vars: Vec<CVar>,
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
    fn new(model: &'m Model, resolved: Resolved) -> Self {
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
            columns: std::sync::Arc::new(Columns::new(output_names)),
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
