//! Emission: the operations that compute each variable, its initial value
//! or its value at a step, from its tree; and those that compute the net
//! flow of each integrated stock, with the stock's inflows and outflows.

use super::Compiler;
use super::layout::special_slot;
use super::resolved::{Def, Node};
use crate::program::StockUpdate;
use crate::program::ops::{Func1, Func2, Op};
use std::collections::HashMap;

/// How the integrated stocks advance.
pub(super) struct Integration {
    /// Each integrated stock's slot and where its flows are in
    /// `flow_terms`.
    pub stocks: Vec<StockUpdate>,
    /// The slots of the stocks' inflows and outflows.
    pub flow_terms: Vec<u32>,
    /// Computes each integrated stock's net flow into its derivative slot.
    pub derivative_ops: Vec<Op>,
    /// The non-negative stocks, as positions in `stocks`.
    pub non_negative: Vec<usize>,
    /// Sorted slots of the flows that non-negative limiting may scale.
    pub limited: Vec<u32>,
}

impl Compiler<'_> {
    /// The operations computing the variables of `order`, in that order:
    /// their initial values if `init`, else their values at a step.
    pub(super) fn emit_vars(
        &mut self,
        order: &[usize],
        init: bool,
        ring_of: &HashMap<usize, u32>,
    ) -> Vec<Op> {
        let mut out = Vec::new();
        for &v in order {
            self.emit_var(v, init, ring_of, &mut out);
        }
        out
    }

    /// The integrated stocks' flows, and the operations computing each
    /// one's net flow into slot `derivatives + i`.
    pub(super) fn integration(
        &mut self,
        integrated_vars: &[usize],
        derivatives: usize,
    ) -> Integration {
        // Integration: stocks with flows.
        let mut stocks = Vec::new();
        let mut flow_terms = Vec::new();
        let mut derivative_ops = Vec::new();
        let mut non_negative = Vec::new();
        let zero = self.literal(0.0);
        for &v in integrated_vars {
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
        Integration {
            stocks,
            flow_terms,
            derivative_ops,
            non_negative,
            limited,
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
            Def::Active { active, initial } => {
                let equation = if init { initial } else { active };
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
            Node::Random(f, args, stream) => {
                let mut slots = [0u32; 4];
                for (i, a) in args.iter().enumerate().take(4) {
                    slots[i] = self.emit(a, None, out);
                }
                let dst = dst.unwrap_or_else(|| self.temp());
                out.push(Op::Random {
                    dst,
                    f: *f,
                    stream: u16::try_from(*stream).unwrap_or(u16::MAX),
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
