//! Splits equation text into tokens with byte spans.

use super::Span;

/// Vensim's `:NA:`, the value it gives a missing number.
pub(crate) const VENSIM_NA: f64 = -1.298074e33;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Number(f64),
    /// A name: words joined by single spaces, or a quoted name (unquoted here).
    Name(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Bang,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    SlashSlash,
    Caret,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    Not,
    Mod,
    If,
    Then,
    Else,
    End,
}

impl Token {
    pub(crate) fn describe(&self) -> String {
        match self {
            Token::Number(v) => format!("number {v}"),
            Token::Name(n) => format!("name `{n}`"),
            Token::LParen => "`(`".into(),
            Token::RParen => "`)`".into(),
            Token::LBracket => "`[`".into(),
            Token::RBracket => "`]`".into(),
            Token::Bang => "`!`".into(),
            Token::Comma => "`,`".into(),
            Token::Plus => "`+`".into(),
            Token::Minus => "`-`".into(),
            Token::Star => "`*`".into(),
            Token::Slash => "`/`".into(),
            Token::SlashSlash => "`//`".into(),
            Token::Caret => "`^`".into(),
            Token::Lt => "`<`".into(),
            Token::Le => "`<=`".into(),
            Token::Gt => "`>`".into(),
            Token::Ge => "`>=`".into(),
            Token::Eq => "`=`".into(),
            Token::Ne => "`<>`".into(),
            Token::And => "`AND`".into(),
            Token::Or => "`OR`".into(),
            Token::Not => "`NOT`".into(),
            Token::Mod => "`MOD`".into(),
            Token::If => "`IF`".into(),
            Token::Then => "`THEN`".into(),
            Token::Else => "`ELSE`".into(),
            Token::End => "the end of the equation".into(),
        }
    }
}

/// A lexing or parsing error at a byte span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub span: Span,
    pub message: String,
}

/// The keyword a word is, if any. In Vensim, `AND`, `OR`, `NOT` and `MOD`
/// are ordinary words (its operators are `:AND:`, `:OR:`, `:NOT:` and the
/// function `MODULO`).
fn keyword(word: &str, vensim: bool) -> Option<Token> {
    let upper = word.to_ascii_uppercase();
    if vensim && matches!(upper.as_str(), "AND" | "OR" | "NOT" | "MOD") {
        return None;
    }
    Some(match upper.as_str() {
        "AND" => Token::And,
        "OR" => Token::Or,
        "NOT" => Token::Not,
        "MOD" => Token::Mod,
        "IF" => Token::If,
        "THEN" => Token::Then,
        "ELSE" => Token::Else,
        _ => return None,
    })
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || c == '\''
}

/// Whether a name has one of the words `AND`, `OR`, `NOT` or `MOD`, which
/// end an unquoted name outside Vensim.
pub(crate) fn has_operator_word(name: &str) -> bool {
    name.split(' ')
        .any(|word| keyword(word, false).is_some() && keyword(word, true).is_none())
}

/// Splits an equation into tokens.
pub(crate) fn tokenize(text: &str) -> Result<Vec<(Token, Span)>, SyntaxError> {
    tokenize_dialect(text, false)
}

/// Splits a Vensim equation into tokens: `AND`, `OR`, `NOT` and `MOD` are
/// parts of names.
pub(crate) fn tokenize_vensim(text: &str) -> Result<Vec<(Token, Span)>, SyntaxError> {
    tokenize_dialect(text, true)
}

fn tokenize_dialect(text: &str, vensim: bool) -> Result<Vec<(Token, Span)>, SyntaxError> {
    let mut lexer = Lexer {
        text,
        pos: 0,
        vensim,
    };
    let mut tokens = Vec::new();
    loop {
        lexer.skip_space_and_comments()?;
        let start = lexer.pos;
        let Some(c) = lexer.peek() else {
            tokens.push((Token::End, start..start));
            return Ok(tokens);
        };
        let token = match c {
            '0'..='9' | '.' => lexer.number()?,
            '"' => lexer.quoted_name()?,
            ':' => lexer.colon_operator()?,
            c if is_name_start(c) => lexer.name(),
            _ => {
                lexer.bump();
                let next = lexer.peek();
                let (token, two) = match (c, next) {
                    ('(', _) => (Token::LParen, false),
                    (')', _) => (Token::RParen, false),
                    (',', _) => (Token::Comma, false),
                    ('+', _) => (Token::Plus, false),
                    ('-', _) => (Token::Minus, false),
                    ('*', _) => (Token::Star, false),
                    ('/', Some('/')) if lexer.vensim => {
                        lexer.bump();
                        return Err(SyntaxError {
                            span: start..lexer.pos,
                            message: "`//` (Stella's integer division) is not a Vensim operator: write INTEGER(a / b) to round towards zero".into(),
                        });
                    }
                    // Stella's integer division (see `BinaryOp::IntDiv`).
                    ('/', Some('/')) => (Token::SlashSlash, true),
                    ('/', _) => (Token::Slash, false),
                    ('^', _) => (Token::Caret, false),
                    ('<', Some('=')) => (Token::Le, true),
                    ('<', Some('>')) => (Token::Ne, true),
                    ('<', _) => (Token::Lt, false),
                    ('>', Some('=')) => (Token::Ge, true),
                    ('>', _) => (Token::Gt, false),
                    ('=', Some('=')) => (Token::Eq, true),
                    ('=', _) => (Token::Eq, false),
                    ('!', Some('=')) => (Token::Ne, true),
                    ('!', _) => (Token::Bang, false),
                    ('[', _) => (Token::LBracket, false),
                    (']', _) => (Token::RBracket, false),
                    _ => {
                        return Err(SyntaxError {
                            span: start..lexer.pos,
                            message: format!("unexpected character `{c}`"),
                        });
                    }
                };
                if two {
                    lexer.bump();
                }
                token
            }
        };
        tokens.push((token, start..lexer.pos));
    }
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    /// Vensim's words: `AND`, `OR`, `NOT` and `MOD` are not keywords.
    vensim: bool,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.text[self.pos..].chars().nth(offset)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_space_and_comments(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                // Vensim line continuation.
                Some('\\') if matches!(self.peek_at(1), Some('\n' | '\r')) => {
                    self.bump();
                }
                Some('{') => {
                    let start = self.pos;
                    match self.text[self.pos..].find('}') {
                        Some(end) => self.pos += end + 1,
                        None => {
                            return Err(SyntaxError {
                                span: start..start + 1,
                                message: "comment `{` is never closed with `}`".into(),
                            });
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn number(&mut self) -> Result<Token, SyntaxError> {
        let start = self.pos;
        while matches!(self.peek(), Some('0'..='9')) {
            self.bump();
        }
        if self.peek() == Some('.') {
            self.bump();
            while matches!(self.peek(), Some('0'..='9')) {
                self.bump();
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let digits_follow = match self.peek_at(1) {
                Some('0'..='9') => true,
                Some('+' | '-') => matches!(self.peek_at(2), Some('0'..='9')),
                _ => false,
            };
            if digits_follow {
                self.bump();
                if matches!(self.peek(), Some('+' | '-')) {
                    self.bump();
                }
                while matches!(self.peek(), Some('0'..='9')) {
                    self.bump();
                }
            }
        }
        let literal = &self.text[start..self.pos];
        match literal.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(Token::Number(value)),
            // `1e309` parses as infinity: a model would run with it
            // silently (a constant is never checked during a run).
            Ok(_) => Err(SyntaxError {
                span: start..self.pos,
                message: format!(
                    "`{literal}` is too large for a number; expected at most about 1.8e308"
                ),
            }),
            Err(_) => Err(SyntaxError {
                span: start..self.pos,
                message: format!("`{literal}` is not a number"),
            }),
        }
    }

    fn quoted_name(&mut self) -> Result<Token, SyntaxError> {
        let start = self.pos;
        self.bump();
        let mut name = String::new();
        loop {
            match self.bump() {
                Some('"') => break,
                Some('\\') if self.peek() == Some('"') => {
                    self.bump();
                    name.push('"');
                }
                Some(c) => name.push(c),
                None => {
                    return Err(SyntaxError {
                        span: start..start + 1,
                        message: "quoted name is never closed with `\"`".into(),
                    });
                }
            }
        }
        if name.trim().is_empty() {
            return Err(SyntaxError {
                span: start..self.pos,
                message: "empty quoted name".into(),
            });
        }
        Ok(Token::Name(name))
    }

    /// Vensim's `:AND:`, `:OR:`, `:NOT:`, and `:NA:`, its missing value
    /// (-1.298074e33, the number Vensim uses).
    fn colon_operator(&mut self) -> Result<Token, SyntaxError> {
        let start = self.pos;
        let rest = &self.text[self.pos..];
        for (spelling, token) in [
            (":AND:", Token::And),
            (":OR:", Token::Or),
            (":NOT:", Token::Not),
            (":NA:", Token::Number(VENSIM_NA)),
        ] {
            if rest.len() >= spelling.len()
                && rest.is_char_boundary(spelling.len())
                && rest[..spelling.len()].eq_ignore_ascii_case(spelling)
            {
                self.pos += spelling.len();
                return Ok(token);
            }
        }
        Err(SyntaxError {
            span: start..start + 1,
            message: "unexpected `:` (expected `:AND:`, `:OR:`, `:NOT:` or `:NA:`)".into(),
        })
    }

    fn word(&mut self) -> &str {
        let start = self.pos;
        loop {
            if self.peek().is_some_and(is_name_char) {
                self.bump();
            } else if self.peek() == Some('.')
                && self.pos > start
                && self.peek_at(1).is_some_and(is_name_start)
            {
                // XMILE's qualified names: `module.output`.
                self.bump();
            } else {
                break;
            }
        }
        &self.text[start..self.pos]
    }

    /// A name of one or more words, or a keyword. `IF THEN ELSE` followed by
    /// `(` is the function name.
    fn name(&mut self) -> Token {
        let first = self.word().to_string();
        if let Some(kw) = keyword(&first, self.vensim) {
            if kw == Token::If {
                let save = self.pos;
                let words = self.following_words(2);
                if words.len() == 2
                    && words[0].eq_ignore_ascii_case("then")
                    && words[1].eq_ignore_ascii_case("else")
                {
                    self.skip_inline_space();
                    if self.peek() == Some('(') {
                        return Token::Name("IF THEN ELSE".into());
                    }
                }
                self.pos = save;
            }
            return kw;
        }
        let mut name = first;
        loop {
            let save = self.pos;
            self.skip_inline_space();
            // Later words may start with a digit: `stage 1`, `age 0 to 4`.
            if self.pos == save
                || !self
                    .peek()
                    .is_some_and(|c| is_name_start(c) || c.is_ascii_digit())
            {
                self.pos = save;
                break;
            }
            let word = self.word().to_string();
            if keyword(&word, self.vensim).is_some() {
                // Vensim's `SAMPLE IF TRUE(` is a function name.
                if name.eq_ignore_ascii_case("sample") && word.eq_ignore_ascii_case("if") {
                    let after_if = self.pos;
                    let words = self.following_words(1);
                    if words.len() == 1 && words[0].eq_ignore_ascii_case("true") {
                        self.skip_inline_space();
                        if self.peek() == Some('(') {
                            return Token::Name("SAMPLE IF TRUE".into());
                        }
                    }
                    self.pos = after_if;
                }
                self.pos = save;
                break;
            }
            name.push(' ');
            name.push_str(&word);
        }
        Token::Name(name)
    }

    fn skip_inline_space(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    fn following_words(&mut self, n: usize) -> Vec<String> {
        let mut words = Vec::new();
        for _ in 0..n {
            self.skip_inline_space();
            if !self.peek().is_some_and(is_name_start) {
                break;
            }
            words.push(self.word().to_string());
        }
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Token> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    }

    #[test]
    fn names_with_spaces_stop_at_keywords() {
        assert_eq!(
            kinds("Room Temperature AND x"),
            vec![
                Token::Name("Room Temperature".into()),
                Token::And,
                Token::Name("x".into()),
                Token::End
            ]
        );
    }

    #[test]
    fn later_words_may_start_with_digits() {
        assert_eq!(
            kinds("stage 10 / age 0 to 4"),
            vec![
                Token::Name("stage 10".into()),
                Token::Slash,
                Token::Name("age 0 to 4".into()),
                Token::End
            ]
        );
        assert_eq!(kinds("2 * a")[0], Token::Number(2.0));
    }

    #[test]
    fn sample_if_true_is_a_function_name() {
        assert_eq!(
            kinds("SAMPLE IF TRUE(a, b, c)")[0],
            Token::Name("SAMPLE IF TRUE".into())
        );
        // Without `(`, `IF` still ends the name.
        assert_eq!(kinds("sample IF x")[0], Token::Name("sample".into()));
    }

    #[test]
    fn if_then_else_function_and_keyword_forms() {
        assert_eq!(
            kinds("IF THEN ELSE(a, b, c)")[0],
            Token::Name("IF THEN ELSE".into())
        );
        assert_eq!(kinds("IF a THEN b ELSE c")[0], Token::If);
    }

    #[test]
    fn numbers_and_operators() {
        assert_eq!(
            kinds(".5e-3<>1E2 :AND: 2"),
            vec![
                Token::Number(0.0005),
                Token::Ne,
                Token::Number(100.0),
                Token::And,
                Token::Number(2.0),
                Token::End
            ]
        );
    }

    #[test]
    fn comments_are_skipped_and_spans_are_bytes() {
        let tokens = tokenize("{note} ab").unwrap();
        assert_eq!(tokens[0], (Token::Name("ab".into()), 7..9));
    }
}
