//! The resolved program: every variable, the model's and the hidden ones
//! that lowering adds, with its definition as a [`Node`] tree whose names
//! are variable indices. Resolution makes it; ordering, slot layout and
//! emission read it.

use crate::model::LookupTable;
use crate::program::ops::{Func1, Func2, RandomFunc, TimeFunc};

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
    /// A draw from random stream `.2` with arguments `[low, high, p1, p2]`.
    Random(RandomFunc, Vec<Node>, usize),
}

impl Node {
    pub(super) fn binary(f: Func2, a: Node, b: Node) -> Node {
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
            Node::Time(_, args) | Node::Random(_, args, _) => {
                args.iter().for_each(|a| a.for_each_var(visit))
            }
        }
    }

    /// Whether Stella's `//` is evaluated anywhere in it.
    pub(crate) fn divides_whole(&self) -> bool {
        match self {
            Node::Binary(Func2::IntDiv, ..) => true,
            Node::Const(_) | Node::Var(_) | Node::Special(_) => false,
            Node::Unary(_, a) | Node::Lookup(_, a) => a.divides_whole(),
            Node::Binary(_, a, b) => a.divides_whole() || b.divides_whole(),
            Node::If(a, b, c) | Node::Xidz(a, b, c) => {
                a.divides_whole() || b.divides_whole() || c.divides_whole()
            }
            Node::Time(_, args) | Node::Random(_, args, _) => args.iter().any(Node::divides_whole),
        }
    }

    /// Whether the value depends on the simulated time directly.
    pub(crate) fn reads_time(&self) -> bool {
        match self {
            // A random draw changes at every step, as time does.
            Node::Special(Special::Time) | Node::Time(..) | Node::Random(..) => true,
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
    /// Vensim's `ACTIVE INITIAL(active, initial)`: `initial` when the run
    /// starts (stocks' initial values read it), `active` at every step.
    Active {
        active: Node,
        initial: Node,
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

impl Def {
    /// Whether Stella's `//` is evaluated anywhere in its equations.
    pub(crate) fn divides_whole(&self) -> bool {
        match self {
            Def::Stock { initial: n, .. }
            | Def::Flow { equation: n, .. }
            | Def::Aux { equation: n }
            | Def::Initial { equation: n }
            | Def::DelayFixed { input: n, .. } => n.divides_whole(),
            Def::Active { active, initial } => active.divides_whole() || initial.divides_whole(),
            Def::Param { .. } | Def::LookupFunction | Def::Pending => false,
        }
    }
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
    /// Problems that do not stop the model, found while resolving.
    pub warnings: Vec<crate::program::Warning>,
    /// The key of each random stream (from its call's place and seed).
    pub random_streams: Vec<u64>,
}
