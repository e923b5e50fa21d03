//! Temporaries the same at every step of a run, given slots of their own.
//!
//! An expression's intermediate values go into temporary slots that later
//! expressions reuse, so a part of an equation that depends only on
//! constants (`1 - share` in `stock * (1 - share)`) is recomputed at
//! every step: its slot is overwritten before the next step. This pass
//! gives each such operation a slot no other operation writes, and drops
//! one that repeats an earlier one exactly (the same function of the same
//! slots: the same bits). The compiled loop then skips them, reading the
//! values the run's first evaluation left there (`jit::invariant_ops`);
//! the interpreter computes them as before. Every operation that remains
//! is the same IEEE operation on the same values, so results keep their
//! bits.

use crate::program::ops::{Op, SameEachStep};
use std::collections::HashMap;
use std::ops::Range;

/// Rewrites one step's operations (`lists`, in the order a step runs
/// them) so that every operation computing a temporary (a slot in
/// `temporaries` written more than once a step) from values the same at
/// every step of a run has a slot of its own, appended to `base_slots`,
/// and readers read it there; a repeat of such an operation is dropped.
///
/// The same at every step: as [`SameEachStep`] has it, the rule the
/// compiled loop uses to skip operations.
pub(super) fn separate(
    lists: [&mut Vec<Op>; 2],
    base_slots: &mut Vec<f64>,
    temporaries: Range<usize>,
    integrated: Range<usize>,
    limited: &[u32],
) {
    let mut rule = SameEachStep::new(
        lists.iter().flat_map(|l| l.iter()),
        base_slots.len(),
        integrated,
        limited,
    );
    // Where a temporary's current value is, while its invariant write is
    // the latest.
    let mut renamed: Vec<Option<u32>> = vec![None; base_slots.len()];
    // Each invariant operation (its destination cleared) and its slot.
    let mut computed: HashMap<Op, u32> = HashMap::new();
    for list in lists {
        let mut kept = Vec::with_capacity(list.len());
        for mut op in list.drain(..) {
            op.for_each_read(|a| {
                if let Some(to) = renamed[*a as usize] {
                    *a = to;
                }
            });
            let d = op.destination() as usize;
            renamed[d] = None;
            if !rule.computes_same(&op) {
                kept.push(op);
                continue;
            }
            if rule.writes[d] == 1 {
                rule.same[d] = true;
                kept.push(op);
                continue;
            }
            if !temporaries.contains(&d) {
                kept.push(op);
                continue;
            }
            let mut key = op;
            key.set_destination(0);
            if let Some(&slot) = computed.get(&key) {
                renamed[d] = Some(slot);
                continue;
            }
            let slot = base_slots.len() as u32;
            base_slots.push(0.0);
            rule.same.push(true);
            renamed.push(None);
            op.set_destination(slot);
            computed.insert(key, slot);
            renamed[d] = Some(slot);
            kept.push(op);
        }
        *list = kept;
    }
}
