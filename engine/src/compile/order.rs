//! Dependency ordering with cycle reporting.

/// Orders `nodes` so that each comes after its dependencies. `deps(n)` lists
/// what `n` reads; dependencies outside `nodes` are ignored.
///
/// On a cycle, returns the nodes of one loop in order, ending with the first.
pub(crate) fn topological(
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
