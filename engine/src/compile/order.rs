//! Evaluation order: the variables computed when a run starts and those
//! recomputed at every step, each after what it reads, with a loop of
//! non-stock variables reported by name; and the topological sort beneath.

use super::Compiler;
use super::resolved::Def;
use crate::error::Error;

/// The orders in which a program computes its variables.
pub(super) struct Orders {
    /// Every variable with a value, as computed when a run starts.
    pub init: Vec<usize>,
    /// The variables computed at every step; auxiliaries that depend only
    /// on constants and initial values are left out.
    pub step: Vec<usize>,
}

impl Compiler<'_> {
    /// The orders of evaluation.
    ///
    /// # Errors
    ///
    /// [`Error::Cycle`] naming a loop of non-stock variables, in the step
    /// order first.
    pub(super) fn orders(&self) -> crate::error::Result<Orders> {
        let n = self.vars.len();
        let is_step_var = |d: &Def| {
            matches!(
                d,
                Def::Aux { .. } | Def::Flow { .. } | Def::DelayFixed { .. } | Def::Active { .. }
            )
        };

        // Step order first: a loop here is the more fundamental problem.
        let step_candidates: Vec<usize> =
            (0..n).filter(|&v| is_step_var(&self.vars[v].def)).collect();
        let step_deps = |v: usize| match &self.vars[v].def {
            Def::DelayFixed { .. } => Vec::new(),
            Def::Active { active, .. } => {
                let mut out = Vec::new();
                active.for_each_var(&mut |i| out.push(i));
                out
            }
            _ => self.deps(v),
        };
        let full_step_order =
            topological(&step_candidates, n, step_deps).map_err(|c| self.cycle_error(c, false))?;

        let init_candidates: Vec<usize> = (0..n)
            .filter(|&v| {
                !matches!(
                    self.vars[v].def,
                    Def::Param { .. } | Def::LookupFunction | Def::Pending
                )
            })
            .collect();
        let init_order = topological(&init_candidates, n, |v| self.deps(v))
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
        Ok(Orders {
            init: init_order,
            step: step_order,
        })
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
            Def::Active { initial, .. } => initial.for_each_var(&mut push),
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
}

/// Orders `nodes` so that each comes after its dependencies. `deps(n)` lists
/// what `n` reads; dependencies outside `nodes` are ignored.
///
/// On a cycle, returns the nodes of one loop in order, ending with the first.
fn topological(
    nodes: &[usize],
    universe: usize,
    deps: impl Fn(usize) -> Vec<usize>,
) -> Result<Vec<usize>, Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Outside,
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::Outside; universe];
    for &n in nodes {
        mark[n] = Mark::New;
    }
    let mut order = Vec::with_capacity(nodes.len());
    // Iterative depth-first search: (node, its dependencies, next index).
    let mut stack: Vec<(usize, Vec<usize>, usize)> = Vec::new();
    for &root in nodes {
        if mark[root] != Mark::New {
            continue;
        }
        mark[root] = Mark::Open;
        stack.push((root, deps(root), 0));
        while let Some((node, node_deps, next)) = stack.last_mut() {
            if *next < node_deps.len() {
                let d = node_deps[*next];
                *next += 1;
                match mark[d] {
                    Mark::New => {
                        mark[d] = Mark::Open;
                        let dd = deps(d);
                        stack.push((d, dd, 0));
                    }
                    Mark::Open => {
                        // The loop is the part of the stack from `d` upwards.
                        let start = stack.iter().position(|(n, _, _)| *n == d).unwrap_or(0);
                        let mut cycle: Vec<usize> =
                            stack[start..].iter().map(|(n, _, _)| *n).collect();
                        cycle.push(d);
                        return Err(cycle);
                    }
                    Mark::Done | Mark::Outside => {}
                }
            } else {
                let node = *node;
                mark[node] = Mark::Done;
                order.push(node);
                stack.pop();
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_dependencies_first() {
        // 0 <- 1 <- 2, 3 independent
        let deps = |n: usize| match n {
            1 => vec![0],
            2 => vec![1, 0],
            _ => vec![],
        };
        let order = topological(&[2, 3, 1, 0], 4, deps).unwrap();
        let pos = |x| order.iter().position(|&n| n == x).unwrap();
        assert!(pos(0) < pos(1) && pos(1) < pos(2));
        assert_eq!(order.len(), 4);
    }

    #[test]
    fn reports_the_loop() {
        let deps = |n: usize| match n {
            0 => vec![1],
            1 => vec![2],
            2 => vec![0],
            _ => vec![],
        };
        let cycle = topological(&[3, 0, 1, 2], 4, deps).unwrap_err();
        assert_eq!(cycle, vec![0, 1, 2, 0]);
    }

    #[test]
    fn ignores_dependencies_outside_the_set() {
        let deps = |n: usize| if n == 0 { vec![5] } else { vec![] };
        assert_eq!(topological(&[0], 6, deps).unwrap(), vec![0]);
    }
}
