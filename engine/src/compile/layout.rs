//! Slot layout: where every value of a program lives. Fixed slots, then
//! literals, then the variables grouped so that the integrated stocks, the
//! checked values and the outputs are each one contiguous range, then the
//! constants, the derivatives and the temporaries; and the rings of
//! `DELAY FIXED`, which name slots.

use super::Compiler;
use super::resolved::{Def, Node, Special};
use crate::name::canonical_name;
use crate::program::ops;
use crate::program::{Parameter, RingSpec};
use std::collections::HashMap;
use std::ops::Range;

/// Where the groups of slots are, and the parameters.
pub(super) struct Layout {
    /// The integrated stocks (the stocks with flows), in slot order.
    pub integrated_vars: Vec<usize>,
    /// The slots of the integrated stocks.
    pub integrated: Range<usize>,
    /// The visible variables' slots: one row of results.
    pub outputs: Range<usize>,
    /// The slots checked for NaN and infinity: every variable's but the
    /// constants'.
    pub checked: Range<usize>,
    /// The first of the derivative slots, one per integrated stock.
    pub derivatives: usize,
    /// The constants, settable per run.
    pub params: Vec<Parameter>,
    /// Each parameter's position in `params`, by canonical name.
    pub param_index: HashMap<String, usize>,
}

impl Compiler<'_> {
    /// Gives every literal, variable and derivative its slot; the
    /// temporaries come after them.
    pub(super) fn lay_out(&mut self) -> Layout {
        let n = self.vars.len();
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
            Def::Aux { .. }
            | Def::Flow { .. }
            | Def::Initial { .. }
            | Def::DelayFixed { .. }
            | Def::Active { .. } => Some(0),
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
        Layout {
            integrated_vars,
            integrated: integrated_start..integrated_end,
            outputs: outputs_start..outputs_end,
            checked: region_start..region_end,
            derivatives,
            params,
            param_index,
        }
    }

    /// The rings of `DELAY FIXED`, and each one's number by variable.
    pub(super) fn rings(&mut self) -> (HashMap<usize, u32>, Vec<RingSpec>) {
        let n = self.vars.len();
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
        (ring_of, rings)
    }

    pub(super) fn literal(&mut self, value: f64) -> u32 {
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
}

pub(super) fn special_slot(s: Special) -> u32 {
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
            Node::Time(_, args) | Node::Random(_, args, _) => {
                args.iter().for_each(|a| walk(a, out))
            }
        }
    }
    match def {
        Def::Stock { initial, .. } => walk(initial, out),
        Def::Flow { equation, .. } | Def::Aux { equation } | Def::Initial { equation } => {
            walk(equation, out)
        }
        Def::DelayFixed { input, .. } => walk(input, out),
        Def::Active { active, initial } => {
            walk(active, out);
            walk(initial, out);
        }
        Def::Param { .. } | Def::LookupFunction | Def::Pending => {}
    }
}
