//! The parser for equations: operator precedence by an explicit operator
//! stack (no recursion per operator or per term), recursion only into
//! parentheses, function arguments and `IF`, and a limit on how deep an
//! equation may nest ([`MAX_DEPTH`]).
//!
//! What the references say, and what is followed here:
//!
//! - XMILE 1.0 (section 3.3.1, the operator precedence table, highest
//!   first): `()`, `^`, unary `+ - NOT`, `* / MOD`, `+ -`, `< <= > >=`,
//!   `= <>`, `AND`, `OR`; operators of one group are evaluated left to right
//!   except `^`, which is right-associative. So `-2^2` is -4 and `4^3^2` is
//!   4^9 = 262144.
//! - Vensim (reference manual, operators): `^` is evaluated before unary
//!   minus and is right-associative (`-2^2` is -4, as the SDXorg
//!   `exponentiation` test output made with Vensim 6.3 shows); then `* /`,
//!   `+ -`, the comparisons, `:NOT:`, `:AND:`, `:OR:`. `:NOT:` applies to a
//!   whole comparison: `:NOT: a*Time > 5` is `:NOT: ((a*Time) > 5)`.
//!
//! The one place the two differ is `NOT`: XMILE puts it among the unary
//! operators, Vensim below the comparisons. One grammar serves both here,
//! and it takes Vensim's reading for both: `NOT x > 5` means `NOT (x > 5)`
//! (reading it as `(NOT x) > 5`, always false for 0/1 values, is never what
//! a modeller means). To keep the difference from giving a silent wrong
//! number, `NOT` is refused where the two readings would differ in any
//! other way: after an arithmetic or comparison operator (`a * NOT b`,
//! `a = NOT b`) or a sign; write `a * (NOT b)`.

use super::lexer::{SyntaxError, Token, tokenize};
use super::{BinaryOp, Expr, ExprKind, Index, IndexKind, MAX_DEPTH, Span, UnaryOp};

/// Parses one equation.
///
/// The error is a byte span in `text` and a message saying what was expected;
/// [`crate::model`] turns it into a file position.
pub fn parse(text: &str) -> Result<Expr, (Span, String)> {
    parse_inner(text).map_err(|e| (e.span, e.message))
}

fn parse_inner(text: &str) -> Result<Expr, SyntaxError> {
    let tokens = tokenize(text)?;
    if tokens.len() == 1 {
        return Err(SyntaxError {
            span: 0..text.len(),
            message: "empty equation: expected an expression".into(),
        });
    }
    let mut parser = Parser {
        text,
        tokens,
        pos: 0,
        nesting: 0,
    };
    let (expr, _) = parser.expression()?;
    match parser.peek() {
        Token::End => Ok(expr),
        Token::RParen => Err(parser.error_here("unmatched `)`".into())),
        other => {
            let message = format!(
                "expected an operator or the end of the equation, found {}",
                other.describe()
            );
            Err(parser.error_here(message))
        }
    }
}

/// An expression and its height: 1 for a number or a name, one more than
/// its deepest operand for an operation, a call or an `IF`.
type Parsed = (Expr, usize);

/// Precedence of `NOT`, between `AND` and the comparisons.
const NOT_PRECEDENCE: u8 = 3;

/// A binary operator's precedence (higher binds tighter); all are
/// left-associative. `^` is handled apart, with the operands.
fn binary_operator(token: &Token) -> Option<(BinaryOp, u8)> {
    Some(match token {
        Token::Or => (BinaryOp::Or, 1),
        Token::And => (BinaryOp::And, 2),
        Token::Eq => (BinaryOp::Eq, 4),
        Token::Ne => (BinaryOp::Ne, 4),
        Token::Lt => (BinaryOp::Lt, 5),
        Token::Le => (BinaryOp::Le, 5),
        Token::Gt => (BinaryOp::Gt, 5),
        Token::Ge => (BinaryOp::Ge, 5),
        Token::Plus => (BinaryOp::Add, 6),
        Token::Minus => (BinaryOp::Sub, 6),
        Token::Star => (BinaryOp::Mul, 7),
        Token::Slash => (BinaryOp::Div, 7),
        Token::SlashSlash => (BinaryOp::IntDiv, 7),
        Token::Mod => (BinaryOp::Mod, 7),
        _ => return None,
    })
}

/// An operator waiting for its operands on the operator stack.
enum Pending {
    Binary(BinaryOp, u8, Span),
    Not(Span),
}

impl Pending {
    fn precedence(&self) -> u8 {
        match self {
            Pending::Binary(_, p, _) => *p,
            Pending::Not(_) => NOT_PRECEDENCE,
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<(Token, Span)>,
    pos: usize,
    /// How many parentheses, argument lists and `IF`s enclose the current
    /// position.
    nesting: usize,
}

fn too_deep(span: Span) -> SyntaxError {
    SyntaxError {
        span,
        message: format!(
            "the equation nests more than {MAX_DEPTH} levels deep here (each operator, function call, IF and pair of parentheses around a value is a level): split it into several variables"
        ),
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos].0
    }

    fn span(&self) -> Span {
        self.tokens[self.pos].1.clone()
    }

    fn advance(&mut self) -> (Token, Span) {
        let item = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        item
    }

    fn error_here(&self, message: String) -> SyntaxError {
        SyntaxError {
            span: self.span(),
            message,
        }
    }

    fn expect(&mut self, token: Token, context: &str) -> Result<Span, SyntaxError> {
        if *self.peek() == token {
            Ok(self.advance().1)
        } else {
            let message = format!(
                "expected {} {context}, found {}",
                token.describe(),
                self.peek().describe()
            );
            Err(self.error_here(message))
        }
    }

    /// Enters parentheses, an argument list or an `IF` opened at `at`.
    fn open(&mut self, at: &Span) -> Result<(), SyntaxError> {
        // What is inside is at least one level more.
        if self.nesting + 1 >= MAX_DEPTH {
            return Err(too_deep(at.clone()));
        }
        self.nesting += 1;
        Ok(())
    }

    fn close(&mut self) {
        self.nesting -= 1;
    }

    /// A node of the given height, refused (at `at`) if it would be deeper
    /// than [`MAX_DEPTH`] where it stands.
    fn node(
        &self,
        kind: ExprKind,
        span: Span,
        height: usize,
        at: &Span,
    ) -> Result<Parsed, SyntaxError> {
        if self.nesting + height > MAX_DEPTH {
            return Err(too_deep(at.clone()));
        }
        Ok((Expr { kind, span }, height))
    }

    /// A whole expression: operands and binary operators, reduced with an
    /// operator stack.
    fn expression(&mut self) -> Result<Parsed, SyntaxError> {
        let mut operands: Vec<Parsed> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        loop {
            let mut nots = 0;
            while *self.peek() == Token::Not {
                if let Some(Pending::Binary(op, p, _)) = pending.last()
                    && *p > NOT_PRECEDENCE
                {
                    let message = format!(
                        "`NOT` cannot follow `{}`: it applies to a whole comparison; put it in parentheses, as in `a {} (NOT b)`",
                        op.symbol(),
                        op.symbol()
                    );
                    return Err(self.error_here(message));
                }
                let span = self.advance().1;
                nots += 1;
                if self.nesting + nots + 1 > MAX_DEPTH {
                    return Err(too_deep(span));
                }
                pending.push(Pending::Not(span));
            }
            operands.push(self.operand()?);
            let Some((op, precedence)) = binary_operator(self.peek()) else {
                break;
            };
            let span = self.advance().1;
            self.reduce(&mut operands, &mut pending, precedence)?;
            pending.push(Pending::Binary(op, precedence, span));
        }
        self.reduce(&mut operands, &mut pending, 0)?;
        match operands.pop() {
            Some(parsed) if operands.is_empty() => Ok(parsed),
            _ => unreachable!("every operator was reduced with its operands"),
        }
    }

    /// Applies the pending operators that bind at least as tightly as
    /// `precedence`.
    fn reduce(
        &self,
        operands: &mut Vec<Parsed>,
        pending: &mut Vec<Pending>,
        precedence: u8,
    ) -> Result<(), SyntaxError> {
        while pending
            .last()
            .is_some_and(|top| top.precedence() >= precedence)
        {
            let (Some(top), Some((right, right_height))) = (pending.pop(), operands.pop()) else {
                unreachable!("an operator always has its operand");
            };
            let parsed = match top {
                Pending::Binary(op, _, at) => {
                    let Some((left, left_height)) = operands.pop() else {
                        unreachable!("a binary operator always has two operands");
                    };
                    let span = left.span.start..right.span.end;
                    let height = 1 + left_height.max(right_height);
                    let kind = ExprKind::Binary(op, Box::new(left), Box::new(right));
                    self.node(kind, span, height, &at)?
                }
                Pending::Not(at) => {
                    let span = at.start..right.span.end;
                    let kind = ExprKind::Unary(UnaryOp::Not, Box::new(right));
                    self.node(kind, span, right_height + 1, &at)?
                }
            };
            operands.push(parsed);
        }
        Ok(())
    }

    /// Signs (`-`, `+`) in front of an operand.
    fn signs(&mut self, levels_below: usize) -> Result<Vec<(UnaryOp, Span)>, SyntaxError> {
        let mut signs = Vec::new();
        while let Token::Minus | Token::Plus = self.peek() {
            let (token, span) = self.advance();
            let op = if token == Token::Minus {
                UnaryOp::Neg
            } else {
                UnaryOp::Plus
            };
            // Each sign is a level above the value it applies to.
            if self.nesting + levels_below + signs.len() + 2 > MAX_DEPTH {
                return Err(too_deep(span));
            }
            signs.push((op, span));
        }
        Ok(signs)
    }

    /// Wraps `parsed` in `signs`, the innermost last.
    fn apply_signs(
        &self,
        signs: Vec<(UnaryOp, Span)>,
        mut parsed: Parsed,
    ) -> Result<Parsed, SyntaxError> {
        for (op, at) in signs.into_iter().rev() {
            let (operand, height) = parsed;
            let span = at.start..operand.span.end;
            parsed = self.node(
                ExprKind::Unary(op, Box::new(operand)),
                span,
                height + 1,
                &at,
            )?;
        }
        Ok(parsed)
    }

    /// An operand: signs, then a power chain. `^` binds tighter than the
    /// signs (so `-2^2` is -4) and groups to the right (`4^3^2` is 4^9); an
    /// exponent may carry its own signs (`2^-1`, `2^-3^2` = 2^(-(3^2))).
    fn operand(&mut self) -> Result<Parsed, SyntaxError> {
        let signs = self.signs(0)?;
        if *self.peek() == Token::Not {
            return Err(self.error_here(
                "`NOT` cannot follow a sign: put it in parentheses, as in `-(NOT b)`".into(),
            ));
        }
        let first = self.primary()?;
        if *self.peek() != Token::Caret {
            return self.apply_signs(signs, first);
        }
        // The chain `b0 ^ s1 b1 ^ s2 b2 ...`, collected, then folded from
        // the right.
        let mut bases = vec![(Vec::new(), first)];
        let mut carets = Vec::new();
        let mut levels = signs.len();
        while *self.peek() == Token::Caret {
            let at = self.advance().1;
            levels += 1;
            if self.nesting + levels + 1 > MAX_DEPTH {
                return Err(too_deep(at));
            }
            carets.push(at);
            let exponent_signs = self.signs(levels)?;
            levels += exponent_signs.len();
            let base = self.primary()?;
            bases.push((exponent_signs, base));
        }
        let Some((last_signs, last)) = bases.pop() else {
            unreachable!("the chain has a first operand");
        };
        let mut acc = self.apply_signs(last_signs, last)?;
        while let (Some((base_signs, (base, base_height))), Some(at)) = (bases.pop(), carets.pop())
        {
            let (exponent, exponent_height) = acc;
            let span = base.span.start..exponent.span.end;
            let height = 1 + base_height.max(exponent_height);
            let kind = ExprKind::Binary(BinaryOp::Pow, Box::new(base), Box::new(exponent));
            acc = self.node(kind, span, height, &at)?;
            acc = self.apply_signs(base_signs, acc)?;
        }
        self.apply_signs(signs, acc)
    }

    fn primary(&mut self) -> Result<Parsed, SyntaxError> {
        let (mut token, span) = self.advance();
        if token == Token::Mod {
            // Where an operand is expected, `mod` is a variable's name.
            token = Token::Name(self.text[span.clone()].to_string());
        }
        match token {
            Token::Number(v) => self.node(ExprKind::Number(v), span.clone(), 1, &span),
            Token::Name(name) => {
                if *self.peek() == Token::LParen {
                    self.call(name, span)
                } else if *self.peek() == Token::LBracket {
                    let (table, _) = self.subscript(name, span.clone())?;
                    if *self.peek() == Token::LParen {
                        // `g[d](x)`: one element's table of an arrayed lookup,
                        // the same as `LOOKUP(g[d], x)`.
                        let (mut call, height) = self.call("LOOKUP".into(), span)?;
                        if let ExprKind::Call { args, .. } = &mut call.kind {
                            args.insert(0, table);
                        }
                        Ok((call, height))
                    } else {
                        self.node(table.kind, table.span, 1, &span)
                    }
                } else {
                    self.node(ExprKind::Name(name), span.clone(), 1, &span)
                }
            }
            Token::LParen => {
                self.open(&span)?;
                let (inner, height) = self.expression()?;
                let close = self.expect(Token::RParen, "to close `(`")?;
                self.close();
                Ok((
                    Expr {
                        kind: inner.kind,
                        span: span.start..close.end,
                    },
                    height,
                ))
            }
            Token::If => {
                self.open(&span)?;
                let (condition, c) = self.expression()?;
                self.expect(Token::Then, "after the condition of `IF`")?;
                let (then, a) = self.expression()?;
                self.expect(Token::Else, "after `IF ... THEN ...`")?;
                let (otherwise, b) = self.expression()?;
                self.close();
                let full = span.start..otherwise.span.end;
                let kind = ExprKind::If(Box::new(condition), Box::new(then), Box::new(otherwise));
                self.node(kind, full, 1 + c.max(a).max(b), &span)
            }
            Token::End => Err(SyntaxError {
                span,
                message: "unexpected end of the equation: expected a value, a name or `(`".into(),
            }),
            Token::Not => Err(SyntaxError {
                span,
                message: "`NOT` cannot stand here: it applies to a whole comparison; put it in parentheses, as in `a * (NOT b)`".into(),
            }),
            other => Err(SyntaxError {
                span,
                message: format!(
                    "expected a value, a name or `(`, found {}",
                    other.describe()
                ),
            }),
        }
    }

    fn subscript(&mut self, name: String, name_span: Span) -> Result<Parsed, SyntaxError> {
        let open = self.advance().1; // `[`
        let mut indices = Vec::new();
        let mut height = 1;
        loop {
            // Anything but a lone element, dimension, `*` or `dim!` is an
            // expression giving the element's position.
            let start = self.pos;
            let simple = matches!(
                self.peek(),
                Token::Star | Token::Number(_) | Token::Name(_) | Token::Mod
            ) && {
                let next = self.tokens.get(self.pos + 1).map(|t| &t.0);
                matches!(next, Some(Token::Comma | Token::RBracket | Token::Bang))
            };
            if !simple && !matches!(self.peek(), Token::Comma | Token::RBracket | Token::End) {
                self.open(&open)?;
                let (expr, h) = self.expression()?;
                self.close();
                height = height.max(h + 1);
                let span = self.tokens[start].1.start..expr.span.end;
                indices.push(Index {
                    kind: IndexKind::Computed(Box::new(expr)),
                    span,
                });
                match self.peek() {
                    Token::Comma => {
                        self.advance();
                        continue;
                    }
                    Token::RBracket => break,
                    other => {
                        let message = format!(
                            "expected `,` or `]` in the subscript of `{name}`, found {}",
                            other.describe()
                        );
                        return Err(self.error_here(message));
                    }
                }
            }
            let (token, span) = self.advance();
            let kind = match token {
                Token::Star => IndexKind::Wildcard,
                Token::Number(v) => IndexKind::Number(v),
                Token::Name(n) if *self.peek() == Token::Bang => {
                    self.advance();
                    IndexKind::All(n)
                }
                Token::Name(n) => IndexKind::Name(n),
                Token::Mod => IndexKind::Name(self.text[span.clone()].to_string()),
                other => {
                    return Err(SyntaxError {
                        span,
                        message: format!(
                            "expected an element, a dimension, `*` or `dimension!` in the subscript of `{name}`, found {}",
                            other.describe()
                        ),
                    });
                }
            };
            indices.push(Index { kind, span });
            match self.peek() {
                Token::Comma => {
                    self.advance();
                }
                Token::RBracket => break,
                other => {
                    let message = format!(
                        "expected `,` or `]` in the subscript of `{name}`, found {}",
                        other.describe()
                    );
                    return Err(self.error_here(message));
                }
            }
        }
        let close = self.advance().1;
        Ok((
            Expr {
                span: name_span.start..close.end,
                kind: ExprKind::Subscript {
                    name,
                    name_span,
                    indices,
                },
            },
            height,
        ))
    }

    fn call(&mut self, name: String, name_span: Span) -> Result<Parsed, SyntaxError> {
        self.open(&name_span)?;
        self.advance(); // `(`
        let mut args = Vec::new();
        let mut height = 0;
        if *self.peek() != Token::RParen {
            loop {
                let (arg, h) = self.expression()?;
                height = height.max(h);
                args.push(arg);
                match self.peek() {
                    Token::Comma => {
                        self.advance();
                    }
                    Token::RParen => break,
                    other => {
                        let message = format!(
                            "expected `,` or `)` in the arguments of `{name}`, found {}",
                            other.describe()
                        );
                        return Err(self.error_here(message));
                    }
                }
            }
        }
        self.close();
        let close = self.advance().1;
        let span = name_span.start..close.end;
        let height = height + 1;
        let upper = crate::name::canonical_name(&name);
        if upper == "if_then_else" {
            if args.len() != 3 {
                return Err(SyntaxError {
                    span,
                    message: format!(
                        "IF THEN ELSE takes 3 arguments (condition, value if true, value if false), found {}",
                        args.len()
                    ),
                });
            }
            let otherwise = args.pop();
            let then = args.pop();
            let condition = args.pop();
            if let (Some(c), Some(a), Some(b)) = (condition, then, otherwise) {
                let kind = ExprKind::If(Box::new(c), Box::new(a), Box::new(b));
                return self.node(kind, span, height, &name_span);
            }
            unreachable!("three arguments were checked above");
        }
        self.node(
            ExprKind::Call {
                name,
                name_span: name_span.clone(),
                args,
            },
            span,
            height,
            &name_span,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders a tree in prefix form for compact assertions.
    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Number(v) => format!("{v}"),
            ExprKind::Name(n) => n.clone(),
            ExprKind::Unary(op, a) => format!("({op:?} {})", show(a)),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", op.symbol(), show(a), show(b)),
            ExprKind::If(c, a, b) => format!("(if {} {} {})", show(c), show(a), show(b)),
            ExprKind::Call { name, args, .. } => {
                let args: Vec<String> = args.iter().map(show).collect();
                format!("{name}[{}]", args.join(" "))
            }
            ExprKind::Subscript { name, indices, .. } => {
                let indices: Vec<String> =
                    indices.iter().map(|i| format!("{:?}", i.kind)).collect();
                format!("{name}<{}>", indices.join(" "))
            }
        }
    }

    #[test]
    fn subscripts() {
        assert_eq!(
            p("a[x] + SUM(b[age!])"),
            "(+ a<Name(\"x\")> SUM[b<All(\"age\")>])"
        );
        assert_eq!(
            p("MAX(v[*]) * c[age 0 to 4, 2]"),
            "(* MAX[v<Wildcard>] c<Name(\"age 0 to 4\") Number(2.0)>)"
        );
        let (_, message) = parse("a[b c").unwrap_err();
        assert!(message.contains("expected `,` or `]`"), "{message}");
        // Anything else is an expression computing the position.
        let (_, message) = parse("a[+]").unwrap_err();
        assert!(message.contains("expected a value"), "{message}");
        let e = parse("a[i + 1, 2]").unwrap();
        let ExprKind::Subscript { indices, .. } = &e.kind else {
            panic!("{e:?}")
        };
        assert!(matches!(indices[0].kind, IndexKind::Computed(_)));
        assert_eq!(indices[1].kind, IndexKind::Number(2.0));
        assert_eq!(indices[0].span, 2..7);
    }

    fn p(text: &str) -> String {
        show(&parse(text).unwrap())
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(p("1 + 2 * 3"), "(+ 1 (* 2 3))");
        assert_eq!(p("1 - 2 - 3"), "(- (- 1 2) 3)");
        assert_eq!(p("-2^2"), "(Neg (^ 2 2))");
        assert_eq!(p("2^3^2"), "(^ 2 (^ 3 2))");
        assert_eq!(p("2^-3^2"), "(^ 2 (Neg (^ 3 2)))");
        assert_eq!(p("-a^b*c"), "(* (Neg (^ a b)) c)");
        assert_eq!(p("2^-1"), "(^ 2 (Neg 1))");
        assert_eq!(
            p("a < b AND c >= d OR NOT e"),
            "(OR (AND (< a b) (>= c d)) (Not e))"
        );
        assert_eq!(p("NOT a * b > 5"), "(Not (> (* a b) 5))");
        assert_eq!(p("NOT a = b AND c"), "(AND (Not (= a b)) c)");
        assert_eq!(p("NOT NOT a OR b"), "(OR (Not (Not a)) b)");
        assert_eq!(p("a OR b AND c OR d"), "(OR (OR a (AND b c)) d)");
        assert_eq!(p("mod * 2 MOD mod"), "(MOD (* mod 2) mod)");
        for refused in ["a * NOT b", "a = NOT b", "-NOT b", "2 ^ NOT b"] {
            let (_, message) = parse(refused).unwrap_err();
            assert!(message.contains("NOT"), "{refused}: {message}");
        }
        assert_eq!(p("a = b <> c"), "(<> (= a b) c)");
        assert_eq!(p("7 MOD 3 * 2"), "(* (MOD 7 3) 2)");
    }

    #[test]
    fn both_if_forms() {
        assert_eq!(p("IF a > 1 THEN 2 ELSE 3"), "(if (> a 1) 2 3)");
        assert_eq!(p("IF THEN ELSE(a > 1, 2, 3)"), "(if (> a 1) 2 3)");
        assert_eq!(p("if then else (x, y, z)"), "(if x y z)");
    }

    #[test]
    fn calls_and_names_with_spaces() {
        assert_eq!(
            p("DELAY FIXED(Room Temperature, 3, 0)"),
            "DELAY FIXED[Room Temperature 3 0]"
        );
        assert_eq!(p("\"a b\" * PI()"), "(* a b PI[])");
        // One element's table of an arrayed lookup.
        assert_eq!(p("g[d](x + 1)"), "LOOKUP[g<Name(\"d\")> (+ x 1)]");
    }

    #[test]
    fn errors_point_at_the_problem() {
        let (span, message) = parse("a + * b").unwrap_err();
        assert_eq!(span, 4..5);
        assert!(message.contains("expected a value"), "{message}");
        let (span, message) = parse("(a + b").unwrap_err();
        assert_eq!(span, 6..6);
        assert!(message.contains("expected `)`"), "{message}");
        let (_, message) = parse("").unwrap_err();
        assert!(message.contains("empty equation"));
        let (span, message) = parse("a b)").unwrap_err();
        assert_eq!((span, message.as_str()), (3..4, "unmatched `)`"));
        let (_, message) = parse("IF a THEN b").unwrap_err();
        assert!(message.contains("expected `ELSE`"), "{message}");
        let (_, message) = parse("f(a b, c").unwrap_err();
        assert!(message.contains("expected `,` or `)`"), "{message}");
    }
}
