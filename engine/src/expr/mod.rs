//! The equation language: Vensim/XMILE syntax parsed into an [`Expr`] tree
//! whose nodes remember where they came from.
//!
//! ```text
//! precedence (loosest first)
//!   OR                      also :OR:
//!   AND                     also :AND:
//!   NOT                     also :NOT:; NOT a*b > 5 is NOT ((a*b) > 5)
//!   =  <>  (== and != too)
//!   <  <=  >  >=
//!   +  -
//!   *  /  MOD
//!   unary - +               -2^2 is -4 (Vensim, XMILE)
//!   ^                       right-associative: 4^3^2 is 4^9 (Vensim, XMILE)
//!   (...)  f(...)  names  numbers  IF c THEN a ELSE b
//! ```
//!
//! All binary operators but `^` group to the left. `NOT` may start an
//! expression or follow `AND`, `OR` or another `NOT`; elsewhere (`a * NOT
//! b`) it must be put in parentheses. See the parser's module documentation
//! for what XMILE 1.0 and Vensim say.
//!
//! Names may contain spaces (`Teacup Temperature`) or be quoted
//! (`"Teacup Temperature"`). An unquoted name ends at the words `AND`, `OR`,
//! `NOT`, `IF`, `THEN`, `ELSE` and `MOD`; quote a name that contains one of
//! them (a Vensim file needs no quotes: see [`quote_vensim_names`]). Where
//! a value is expected, `MOD` is a name (`mod * 2`). `{...}` is a comment.
//! `name[index, ...]` subscripts an arrayed variable.
//!
//! An equation may nest at most [`MAX_DEPTH`] levels deep; deeper ones are
//! refused with an error at the place the limit is passed, so that no
//! equation can overflow the stack of the parser or of the compiler's
//! passes over the tree.

mod lexer;
mod parser;

pub(crate) use lexer::VENSIM_NA;
pub use parser::parse;

use std::borrow::Cow;
use std::ops::Range;

/// How deep an equation may nest: the number of parentheses, argument
/// lists and `IF`s around a value, plus the operators, calls and `IF`s
/// between it and the top of its part of the tree, counted along the
/// deepest path. So a sum of 1,000 terms, a chain of 999 `^`, 999
/// parentheses around a number or 999 minus signs in front of one are
/// accepted, and one more is refused. Every recursive pass over an
/// [`Expr`] (the compiler's, the XMILE writer's, dropping it) is bounded by
/// this depth.
pub const MAX_DEPTH: usize = 1000;

/// Quotes, in a Vensim equation, the names that contain the words `AND`,
/// `OR`, `NOT` or `MOD`, so that [`parse`] reads them as names.
///
/// Vensim's logical operators are `:AND:`, `:OR:` and `:NOT:` and its
/// modulo is the function `MODULO`, so in a `.mdl` file these words are
/// ordinary parts of names: `food and fuel`, `NOT output`, `mod`. Text that
/// does not tokenise is returned as it is (the parser then reports it).
pub fn quote_vensim_names(text: &str) -> Cow<'_, str> {
    let Ok(tokens) = lexer::tokenize_vensim(text) else {
        return Cow::Borrowed(text);
    };
    let mut quoted: Option<String> = None;
    for (token, span) in tokens.iter().rev() {
        let lexer::Token::Name(name) = token else {
            continue;
        };
        let written = &text[span.clone()];
        if written.starts_with('"') || !lexer::has_operator_word(name) {
            continue;
        }
        let out = quoted.get_or_insert_with(|| text.to_string());
        out.replace_range(span.clone(), &format!("\"{written}\""));
    }
    quoted.map_or(Cow::Borrowed(text), Cow::Owned)
}

/// Where a Vensim equation uses an operator Vensim does not have (Stella's
/// `//`), and what to write instead: the byte offset and the message.
pub(crate) fn vensim_operator_refusal(text: &str) -> Option<(usize, String)> {
    match lexer::tokenize_vensim(text) {
        Err(e) if text.get(e.span.clone()) == Some("//") => Some((e.span.start, e.message)),
        _ => None,
    }
}

/// `e`'s text (from `text`, which it was parsed from) with each direct
/// child replaced by `render(child)`: the operators, parentheses and
/// spacing between children stay as written. Children not nested as
/// written (which parsing does not make) leave the text as it is.
pub(crate) fn splice_children<E>(
    e: &Expr,
    text: &str,
    mut render: impl FnMut(&Expr) -> Result<String, E>,
) -> Result<String, E> {
    let mut children: Vec<&Expr> = match &e.kind {
        ExprKind::Unary(_, a) => vec![a],
        ExprKind::Binary(_, a, b) => vec![a, b],
        ExprKind::If(c, a, b) => vec![c, a, b],
        ExprKind::Call { args, .. } => args.iter().collect(),
        _ => Vec::new(),
    };
    children.sort_by_key(|c| c.span.start);
    let mut out = String::new();
    let mut at = e.span.start;
    for child in children {
        if child.span.start < at || child.span.end > e.span.end {
            return Ok(text[e.span.clone()].to_string());
        }
        out.push_str(&text[at..child.span.start]);
        out.push_str(&render(child)?);
        at = child.span.end;
    }
    out.push_str(&text[at..e.span.end]);
    Ok(out)
}

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
    /// An expression computed during the run (Stella's `x[i + 1]`): the
    /// position of the element, from 1.
    Computed(Box<Expr>),
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
    /// `//`, Stella's integer division: the quotient rounded down. Whether
    /// Stella rounds a negative quotient down or towards zero could not be
    /// established, so a run in which one is not whole stops there,
    /// naming the variable and the time; whole and non-negative quotients
    /// are the same either way.
    IntDiv,
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
            BinaryOp::IntDiv => "//",
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
            ExprKind::Number(_) | ExprKind::Name(_) => {}
            ExprKind::Subscript { indices, .. } => {
                for index in indices {
                    if let IndexKind::Computed(e) = &index.kind {
                        e.walk(visit);
                    }
                }
            }
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
