//! The file's blocks: the equations split at `|` into blocks and each block
//! at `~` into equation, units and comment, with `{comments}` and line
//! continuations blanked out; and what each equation's left-hand side says
//! it is (an equation, a lookup, a subscript range or something refused).

use super::Reader;
use crate::format::split_top_level;

/// One `... ~ ... ~ ... |` entry of the file.
pub(super) struct Block {
    /// Byte offset of the equation part in the file.
    pub(super) start: usize,
    /// The equation part, with comments and line continuations blanked out
    /// (so that offsets still match the file).
    pub(super) equation: String,
    pub(super) units: String,
    pub(super) doc: String,
}

/// What an equation's left-hand side says it is.
pub(super) enum Lhs<'a> {
    Equation {
        lhs: (&'a str, usize),
        rhs: (&'a str, usize),
    },
    Lookup {
        lhs: (&'a str, usize),
        body: (&'a str, usize),
    },
    /// A subscript range `name: a, b -> other`; an equivalence `name <->
    /// other` is read as `name: other -> other` (the same elements, mapped
    /// one to one).
    Dimension {
        name: &'a str,
        elements: Vec<String>,
        /// The ranges this one maps to (`-> other, ...`).
        mapping: Vec<String>,
    },
    /// A data equation `name :INTERPOLATE::= ...` (or `:=`).
    Data {
        lhs: (&'a str, usize),
        rhs: (&'a str, usize),
        mode: super::data::DataMode,
    },
    /// A reality check (`THE CONDITION:`, `TEST INPUT:`): not part of a
    /// simulation.
    RealityCheck(usize),
    Unsupported(usize, String),
    Nothing,
}

/// Splits an equation at its `=`, its lookup `(` or its subscript `:`,
/// whichever comes first outside brackets and quotes. Offsets are within
/// `eq`.
pub(super) fn split_lhs(eq: &str) -> Lhs<'_> {
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    // `:EXCEPT:` is part of the left-hand side: read past it.
    let mut skip_to = 0;
    for (i, c) in eq.char_indices() {
        match c {
            _ if i < skip_to => {}
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ if quoted => {}
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            '=' => {
                // `x == 5`: an unchangeable constant, for a simulation the
                // same as `x = 5`.
                let skip = if eq[i + 1..].starts_with('=') { 2 } else { 1 };
                return Lhs::Equation {
                    lhs: (&eq[..i], 0),
                    rhs: (&eq[i + skip..], i + skip),
                };
            }
            '(' => {
                return Lhs::Lookup {
                    lhs: (&eq[..i], 0),
                    body: (&eq[i..], i),
                };
            }
            '<' if eq[i..].starts_with("<->") => {
                let other = eq[i + 3..].trim();
                return Lhs::Dimension {
                    name: eq[..i].trim(),
                    elements: vec![other.to_string()],
                    mapping: vec![other.to_string()],
                };
            }
            ':' => {
                let rest = &eq[i..];
                let upper = rest.to_ascii_uppercase();
                if rest.starts_with(":=") {
                    return Lhs::Data {
                        lhs: (&eq[..i], 0),
                        rhs: (&eq[i + 2..], i + 2),
                        mode: super::data::DataMode::Interpolate,
                    };
                }
                if upper.starts_with(":EXCEPT:") {
                    skip_to = i + ":EXCEPT:".len();
                    continue;
                }
                use super::data::DataMode;
                for (keyword, mode) in [
                    (":INTERPOLATE:", Some(DataMode::Interpolate)),
                    (":HOLD BACKWARD:", Some(DataMode::HoldBackward)),
                    (":LOOK FORWARD:", Some(DataMode::LookForward)),
                    (":RAW:", Some(DataMode::Raw)),
                ] {
                    if upper.starts_with(keyword) {
                        let after = i + keyword.len();
                        let Some(assign) = eq[after..].trim_start().strip_prefix(":=") else {
                            return Lhs::Unsupported(i, format!("expected `:=` after `{keyword}`"));
                        };
                        let Some(mode) = mode else {
                            return Lhs::Unsupported(i, format!("`{keyword}` is not supported"));
                        };
                        let at = eq.len() - assign.len();
                        return Lhs::Data {
                            lhs: (&eq[..i], 0),
                            rhs: (&eq[at..], at),
                            mode,
                        };
                    }
                }
                let name = &eq[..i];
                let upper_name = name.trim().to_ascii_uppercase();
                if upper_name == "THE CONDITION"
                    || upper_name == "TEST INPUT"
                    || upper.starts_with(":THE CONDITION:")
                    || upper.starts_with(":TEST INPUT:")
                {
                    return Lhs::RealityCheck(eq.len() - eq.trim_start().len());
                }
                if name.contains('[') {
                    return Lhs::Unsupported(
                        i,
                        "unexpected `:` after a subscripted name (expected `=`, `:=` or `:EXCEPT:`)"
                            .into(),
                    );
                }
                let mut definition = &eq[i + 1..];
                let mut mapping = Vec::new();
                if let Some(arrow) = definition.find("->") {
                    mapping = split_top_level(&definition[arrow + 2..], &[','])
                        .into_iter()
                        .map(|(_, e)| e.trim().to_string())
                        .filter(|e| !e.is_empty())
                        .collect();
                    definition = &definition[..arrow];
                }
                return Lhs::Dimension {
                    name: name.trim(),
                    elements: split_top_level(definition, &[','])
                        .into_iter()
                        .map(|(_, e)| e.trim().to_string())
                        .filter(|e| !e.is_empty())
                        .collect(),
                    mapping,
                };
            }
            _ => {}
        }
    }
    Lhs::Nothing
}

/// The position of `needle` in `text`, ignoring ASCII case.
pub(super) fn find_ci(text: &str, needle: &str) -> Option<usize> {
    text.to_ascii_uppercase().find(&needle.to_ascii_uppercase())
}

impl Reader<'_> {
    /// Splits the equations into blocks at `|`, and each block at `~`,
    /// outside quotes and comments.
    pub(super) fn blocks(&self, text: &str) -> Vec<Block> {
        let mut blocks = Vec::new();
        let mut parts: Vec<(usize, String)> = vec![(0, String::new())];
        let mut quoted = false;
        let mut comment = 0usize;
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            // Quotes and `{comments}` belong to the equation part: the
            // units and the documentation are free text, where a lone `"`
            // or `{` is just a character.
            let in_equation = parts.len() == 1;
            let part = &mut parts.last_mut().expect("a part is open").1;
            match c {
                // An escaped quote inside a quoted name: `"a \"b\" c"`.
                '\\' if quoted && matches!(chars.peek(), Some((_, '"'))) => {
                    part.push(c);
                    part.push('"');
                    chars.next();
                }
                '{' if !quoted && in_equation => {
                    comment += 1;
                    part.push(' ');
                }
                '}' if comment > 0 => {
                    comment -= 1;
                    part.push(' ');
                }
                _ if comment > 0 => part.push(if c == '\n' { '\n' } else { ' ' }),
                '"' if in_equation => {
                    quoted = !quoted;
                    part.push(c);
                }
                '\\' if !quoted && matches!(chars.peek(), Some((_, '\n' | '\r'))) => {
                    part.push(' '); // a line continuation
                }
                '~' if !quoted => parts.push((i + 1, String::new())),
                '|' if !quoted => {
                    let mut done = std::mem::replace(&mut parts, vec![(i + 1, String::new())]);
                    let (start, equation) = done.remove(0);
                    let mut rest = done.into_iter().map(|(_, t)| t);
                    blocks.push(Block {
                        start,
                        equation,
                        units: rest.next().unwrap_or_default(),
                        doc: rest.next().unwrap_or_default(),
                    });
                }
                _ => part.push(if c.is_whitespace() && c != '\n' {
                    ' '
                } else {
                    c
                }),
            }
        }
        // Text after the last `|` (usually blank).
        if let Some((start, equation)) = parts.into_iter().next()
            && !equation.trim().is_empty()
        {
            blocks.push(Block {
                start,
                equation,
                units: String::new(),
                doc: String::new(),
            });
        }
        blocks
    }
}
