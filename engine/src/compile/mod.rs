//! From a [`Model`] to an immutable, `Send + Sync` [`Program`].
//!
//! Compilation resolves names, lowers stateful builtins into hidden stocks
//! (`resolve`, into the trees of `resolved`), finds one evaluation order for
//! initial values and another for each step, reporting a loop of non-stock
//! variables by name (`order`), checks units (`units`), gives every value a
//! numbered slot (`layout`) and generates a flat list of operations over the
//! slots (`emit`). Constants live in slots too, so changing one between runs
//! does not recompile. This file runs the stages and assembles the
//! [`Program`].

mod builtins;
mod emit;
mod invariant;
mod layout;
mod order;
mod resolve;
mod resolved;
mod size;
mod units;

use crate::error::Result;
use crate::model::{LookupTable, Model};
use crate::program::ops::{self, Code};
use crate::program::{Columns, Program, Warning};
use emit::Integration;
use layout::Layout;
use order::Orders;
use resolved::{CVar, Def, Resolved};
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
    /// arguments, loops among non-stock variables ([`Error::Cycle`](crate::Error::Cycle)), and a
    /// `DELAY N` or `SMOOTH N` whose order is not a constant whole number.
    /// Unit inconsistencies are not errors; see [`Program::warnings`].
    /// [`Error::Invalid`](crate::Error::Invalid) with the estimate for a
    /// model larger than the [`Limits`](crate::Limits) in force once its
    /// arrays are expanded, before anything that size is allocated.
    pub fn compile(model: &Model) -> Result<Program> {
        size::check(model)?;
        let resolved = resolve::resolve(model)?;
        let mut warnings = model.warnings().to_vec();
        warnings.extend(resolved.warnings.iter().cloned());
        warnings.extend(units::check(model));
        Compiler::new(model, resolved).finish(warnings)
    }
}

struct Compiler<'m> {
    model: &'m Model,
    vars: Vec<CVar>,
    tables: Vec<LookupTable>,
    structural: Vec<usize>,
    random_streams: Vec<u64>,
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
            random_streams: resolved.random_streams,
            literal_slots: HashMap::new(),
            base_slots: vec![0.0; ops::FIXED_SLOTS],
            temp_base: 0,
            temp_next: 0,
            temp_max: 0,
        }
    }

    /// Orders, lays out and emits the program, then assembles it.
    fn finish(mut self, warnings: Vec<Warning>) -> Result<Program> {
        let n = self.vars.len();
        let Orders {
            init: init_order,
            step: step_order,
        } = self.orders()?;
        let Layout {
            integrated_vars,
            integrated,
            outputs,
            checked,
            derivatives,
            params,
            param_index,
        } = self.lay_out();
        let (ring_of, rings) = self.rings();
        let init_ops = self.emit_vars(&init_order, true, &ring_of);
        let mut step_ops = self.emit_vars(&step_order, false, &ring_of);
        let Integration {
            stocks,
            flow_terms,
            mut derivative_ops,
            non_negative,
            limited,
        } = self.integration(&integrated_vars, derivatives);
        let mut base_slots = std::mem::take(&mut self.base_slots);
        let temporaries = self.temp_base as usize..(self.temp_base + self.temp_max) as usize;
        base_slots.resize(temporaries.end, 0.0);
        invariant::separate(
            [&mut step_ops, &mut derivative_ops],
            &mut base_slots,
            temporaries,
            integrated.clone(),
            &limited,
        );
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

        let mut whole_division: Vec<u32> = (0..n)
            .filter(|&v| self.vars[v].def.divides_whole())
            .map(|v| self.slot_of[v])
            .collect();
        whole_division.sort_unstable();

        let mut output_vars: Vec<usize> = (0..n)
            .filter(|&v| {
                let slot = self.slot_of[v] as usize;
                outputs.contains(&slot)
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

        let control = self.control_slots()?;
        let slot_count = base_slots.len();
        let fused_ops = Code::new(
            step_ops.iter().chain(&derivative_ops).copied().collect(),
            slot_count,
        );
        Ok(Program {
            id: crate::program::next_program_id(),
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
            integrated,
            derivatives,
            flows,
            non_negative,
            limited,
            tables: self.tables,
            rings,
            outputs,
            columns: std::sync::Arc::new(Columns::new(output_names)),
            checked,
            check_order,
            whole_division,
            warnings,
            other_names,
            random_streams: self.random_streams,
            outflows_in_order: self.model.outflow_limiting() == crate::OutflowLimiting::InOrder,
            control,
            jit: Default::default(),
        })
    }

    /// The slots of the variables that compute control settings during
    /// the run.
    fn control_slots(&self) -> Result<Option<crate::program::ControlSlots>> {
        let control = self.model.control_variables();
        if control.is_empty() {
            return Ok(None);
        }
        let slot = |name: &Option<String>| -> Result<Option<u32>> {
            let Some(name) = name else { return Ok(None) };
            let key = crate::name::canonical_name(name);
            self.vars
                .iter()
                .position(|v| v.visible && crate::name::canonical_name(&v.name) == key)
                .map(|v| Some(self.slot_of[v]))
                .ok_or_else(|| crate::Error::Model {
                    variable: name.clone(),
                    location: None,
                    message: "is named as a control variable but is not a variable of the model"
                        .into(),
                })
        };
        Ok(Some(crate::program::ControlSlots {
            final_time: slot(&control.final_time)?,
            time_step: slot(&control.time_step)?,
            saveper: slot(&control.saveper)?,
        }))
    }
}
