//! Recursive-descent parser for equations.

use super::lexer::{SyntaxError, Token, tokenize};
use super::{BinaryOp, Expr, ExprKind, Index, IndexKind, Span, UnaryOp};

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
    let mut parser = Parser { tokens, pos: 0 };
    let expr = parser.expression()?;
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

struct Parser {
    tokens: Vec<(Token, Span)>,
    pos: usize,
}

impl Parser {
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

    fn expression(&mut self) -> Result<Expr, SyntaxError> {
        self.or()
    }

    fn binary_level(
        &mut self,
        next: fn(&mut Self) -> Result<Expr, SyntaxError>,
        ops: &[(Token, BinaryOp)],
    ) -> Result<Expr, SyntaxError> {
        let mut left = next(self)?;
        'outer: loop {
            for (token, op) in ops {
                if self.peek() == token {
                    self.advance();
                    let right = next(self)?;
                    let span = left.span.start..right.span.end;
                    left = Expr {
                        kind: ExprKind::Binary(*op, Box::new(left), Box::new(right)),
                        span,
                    };
                    continue 'outer;
                }
            }
            return Ok(left);
        }
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        self.binary_level(Self::and, &[(Token::Or, BinaryOp::Or)])
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        self.binary_level(Self::equality, &[(Token::And, BinaryOp::And)])
    }

    fn equality(&mut self) -> Result<Expr, SyntaxError> {
        self.binary_level(
            Self::relational,
            &[(Token::Eq, BinaryOp::Eq), (Token::Ne, BinaryOp::Ne)],
        )
    }

    fn relational(&mut self) -> Result<Expr, SyntaxError> {
        self.binary_level(
            Self::additive,
            &[
                (Token::Lt, BinaryOp::Lt),
                (Token::Le, BinaryOp::Le),
                (Token::Gt, BinaryOp::Gt),
                (Token::Ge, BinaryOp::Ge),
            ],
        )
    }

    fn additive(&mut self) -> Result<Expr, SyntaxError> {
        self.binary_level(
            Self::multiplicative,
            &[(Token::Plus, BinaryOp::Add), (Token::Minus, BinaryOp::Sub)],
        )
    }

    fn multiplicative(&mut self) -> Result<Expr, SyntaxError> {
        self.binary_level(
            Self::unary,
            &[
                (Token::Star, BinaryOp::Mul),
                (Token::Slash, BinaryOp::Div),
                (Token::Mod, BinaryOp::Mod),
            ],
        )
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        let op = match self.peek() {
            Token::Minus => UnaryOp::Neg,
            Token::Plus => UnaryOp::Plus,
            Token::Not => UnaryOp::Not,
            _ => return self.power(),
        };
        let start = self.advance().1.start;
        let operand = self.unary()?;
        let span = start..operand.span.end;
        Ok(Expr {
            kind: ExprKind::Unary(op, Box::new(operand)),
            span,
        })
    }

    /// `^` binds tighter than unary minus (so `-2^2` is -4) and groups to the
    /// left; its right operand may carry its own sign (`2^-1`).
    fn power(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.primary()?;
        while *self.peek() == Token::Caret {
            self.advance();
            let right = match self.peek() {
                Token::Minus | Token::Plus => {
                    let (sign, span) = self.advance();
                    let operand = self.primary()?;
                    let full = span.start..operand.span.end;
                    let op = if sign == Token::Minus {
                        UnaryOp::Neg
                    } else {
                        UnaryOp::Plus
                    };
                    Expr {
                        kind: ExprKind::Unary(op, Box::new(operand)),
                        span: full,
                    }
                }
                _ => self.primary()?,
            };
            let span = left.span.start..right.span.end;
            left = Expr {
                kind: ExprKind::Binary(BinaryOp::Pow, Box::new(left), Box::new(right)),
                span,
            };
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        let (token, span) = self.advance();
        match token {
            Token::Number(v) => Ok(Expr {
                kind: ExprKind::Number(v),
                span,
            }),
            Token::Name(name) => {
                if *self.peek() == Token::LParen {
                    self.call(name, span)
                } else if *self.peek() == Token::LBracket {
                    let table = self.subscript(name, span.clone())?;
                    if *self.peek() == Token::LParen {
                        // `g[d](x)`: one element's table of an arrayed lookup,
                        // the same as `LOOKUP(g[d], x)`.
                        let mut call = self.call("LOOKUP".into(), span)?;
                        if let ExprKind::Call { args, .. } = &mut call.kind {
                            args.insert(0, table);
                        }
                        Ok(call)
                    } else {
                        Ok(table)
                    }
                } else {
                    Ok(Expr {
                        kind: ExprKind::Name(name),
                        span,
                    })
                }
            }
            Token::LParen => {
                let inner = self.expression()?;
                let close = self.expect(Token::RParen, "to close `(`")?;
                Ok(Expr {
                    kind: inner.kind,
                    span: span.start..close.end,
                })
            }
            Token::If => {
                let condition = self.expression()?;
                self.expect(Token::Then, "after the condition of `IF`")?;
                let then = self.expression()?;
                self.expect(Token::Else, "after `IF ... THEN ...`")?;
                let otherwise = self.expression()?;
                let full = span.start..otherwise.span.end;
                Ok(Expr {
                    kind: ExprKind::If(Box::new(condition), Box::new(then), Box::new(otherwise)),
                    span: full,
                })
            }
            Token::End => Err(SyntaxError {
                span,
                message: "unexpected end of the equation: expected a value, a name or `(`".into(),
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

    fn subscript(&mut self, name: String, name_span: Span) -> Result<Expr, SyntaxError> {
        self.advance(); // `[`
        let mut indices = Vec::new();
        loop {
            let (token, span) = self.advance();
            let kind = match token {
                Token::Star => IndexKind::Wildcard,
                Token::Number(v) => IndexKind::Number(v),
                Token::Name(n) if *self.peek() == Token::Bang => {
                    self.advance();
                    IndexKind::All(n)
                }
                Token::Name(n) => IndexKind::Name(n),
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
        Ok(Expr {
            span: name_span.start..close.end,
            kind: ExprKind::Subscript {
                name,
                name_span,
                indices,
            },
        })
    }

    fn call(&mut self, name: String, name_span: Span) -> Result<Expr, SyntaxError> {
        self.advance(); // `(`
        let mut args = Vec::new();
        if *self.peek() != Token::RParen {
            loop {
                args.push(self.expression()?);
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
        let close = self.advance().1;
        let span = name_span.start..close.end;
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
                return Ok(Expr {
                    kind: ExprKind::If(Box::new(c), Box::new(a), Box::new(b)),
                    span,
                });
            }
            unreachable!("three arguments were checked above");
        }
        Ok(Expr {
            kind: ExprKind::Call {
                name,
                name_span,
                args,
            },
            span,
        })
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
        let (_, message) = parse("a[+]").unwrap_err();
        assert!(
            message.contains("expected an element, a dimension"),
            "{message}"
        );
    }

    fn p(text: &str) -> String {
        show(&parse(text).unwrap())
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(p("1 + 2 * 3"), "(+ 1 (* 2 3))");
        assert_eq!(p("1 - 2 - 3"), "(- (- 1 2) 3)");
        assert_eq!(p("-2^2"), "(Neg (^ 2 2))");
        assert_eq!(p("2^3^2"), "(^ (^ 2 3) 2)");
        assert_eq!(p("2^-1"), "(^ 2 (Neg 1))");
        assert_eq!(
            p("a < b AND c >= d OR NOT e"),
            "(OR (AND (< a b) (>= c d)) (Not e))"
        );
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
