//! The equation language: Vensim/XMILE syntax parsed into an [`Expr`] tree
//! whose nodes remember where they came from.
//!
//! ```text
//! precedence (loosest first)
//!   OR                      also :OR:
//!   AND                     also :AND:
//!   =  <>  (== and != too)
//!   <  <=  >  >=
//!   +  -
//!   *  /  MOD
//!   unary - + NOT           also :NOT:
//!   ^                       left-associative; -2^2 is -4 as in Vensim
//!   (...)  f(...)  names  numbers  IF c THEN a ELSE b
//! ```
//!
//! Names may contain spaces (`Teacup Temperature`) or be quoted
//! (`"Teacup Temperature"`). An unquoted name ends at the words `AND`, `OR`,
//! `NOT`, `IF`, `THEN`, `ELSE` and `MOD`; quote a name that contains one of
//! them. `{...}` is a comment. `name[index, ...]` subscripts an arrayed
//! variable.

mod lexer;
mod parser;

pub use parser::parse;

use std::ops::Range;

/// A byte range in the equation text.
pub type Span = Range<usize>;

/// A parsed expression with its position in the equation text.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Where it is in the equation text.
    pub span: Span,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ExprKind {
    /// A number literal.
    Number(f64),
    /// A reference to a variable (or to `TIME`, `DT`, ...), as written.
    Name(String),
    /// A unary operation.
    Unary(UnaryOp, Box<Expr>),
    /// A binary operation.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `IF cond THEN a ELSE b` or `IF THEN ELSE(cond, a, b)`.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// A subscripted reference: `population[age]`, `cost[kinship, 0-4]`,
    /// `cases[*]`, `cases[age!]`.
    Subscript {
        /// The variable name as written.
        name: String,
        /// Where the name is.
        name_span: Span,
        /// One index per dimension.
        indices: Vec<Index>,
    },
    /// A function or lookup call: `name(args)`.
    Call {
        /// The function name as written (`DELAY FIXED`, `SMOOTH3`, a lookup name).
        name: String,
        /// Where the name is.
        name_span: Span,
        /// The arguments.
        args: Vec<Expr>,
    },
}

/// One index in a subscript.
#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    /// What the index is.
    pub kind: IndexKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of index.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum IndexKind {
    /// An element name, or a dimension name (meaning the element being
    /// computed).
    Name(String),
    /// A number: an element named by it (XMILE dimensions of a given size).
    Number(f64),
    /// `*`: every element (XMILE), for `SUM`, `MEAN`, `MIN` and `MAX`.
    Wildcard,
    /// `dim!`: every element of a dimension (Vensim), for `SUM` and its kin.
    All(String),
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `+x`
    Plus,
    /// `NOT x`
    Not,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `^`
    Pow,
    /// `MOD` (floored modulo, as `MODULO`)
    Mod,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=` or `==`
    Eq,
    /// `<>` or `!=`
    Ne,
    /// `AND`
    And,
    /// `OR`
    Or,
}

impl BinaryOp {
    /// The operator as written in equations.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Pow => "^",
            BinaryOp::Mod => "MOD",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "<>",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
        }
    }
}

impl Expr {
    /// Visits this expression and every sub-expression, parents first.
    pub fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a Expr)) {
        visit(self);
        match &self.kind {
            ExprKind::Number(_) | ExprKind::Name(_) | ExprKind::Subscript { .. } => {}
            ExprKind::Unary(_, a) => a.walk(visit),
            ExprKind::Binary(_, a, b) => {
                a.walk(visit);
                b.walk(visit);
            }
            ExprKind::If(c, a, b) => {
                c.walk(visit);
                a.walk(visit);
                b.walk(visit);
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|a| a.walk(visit)),
        }
    }

    /// The value of the expression if it is a number literal, possibly negated
    /// (`3`, `-2.5`, `+1e3`).
    pub fn as_number(&self) -> Option<f64> {
        match &self.kind {
            ExprKind::Number(v) => Some(*v),
            ExprKind::Unary(UnaryOp::Neg, a) => a.as_number().map(|v| -v),
            ExprKind::Unary(UnaryOp::Plus, a) => a.as_number(),
            _ => None,
        }
    }
}
