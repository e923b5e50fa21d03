//! Equations: one equation or lookup read into a definition, its
//! right-hand side an `INTEG`, a number, a constant list, a `WITH LOOKUP`,
//! a lookup's points or an expression, with its units and comment; and the
//! features refused there, with their place.

use super::blocks::Block;
use super::{Def, Reader, Rhs};
use crate::build::Source;
use crate::expr::{Expr, ExprKind};
use crate::format::{split_top_level, unquoted};
use crate::model::Units;
use crate::name::canonical_name;

/// Splits `name[a, b] :EXCEPT: [a, c], [b, c]` into the name, its
/// subscripts and the exceptions.
fn name_and_subscripts(lhs: &str) -> (String, Vec<String>, Vec<Vec<String>>) {
    let lhs = lhs.trim();
    let (lhs, except) = match super::blocks::find_ci(lhs, ":EXCEPT:") {
        Some(at) => {
            let rest = &lhs[at + ":EXCEPT:".len()..];
            let lists = split_top_level(rest, &[','])
                .into_iter()
                .map(|(_, p)| p.trim())
                .collect::<Vec<_>>()
                .join(",");
            // `[a, c], [b, c]`: split at the brackets.
            let mut excepts = Vec::new();
            for part in lists.split('[').skip(1) {
                let inner = part.split(']').next().unwrap_or("");
                excepts.push(inner.split(',').map(unescaped).collect());
            }
            (lhs[..at].trim(), excepts)
        }
        None => (lhs, Vec::new()),
    };
    let (name, subscripts) = match lhs.find('[') {
        Some(open) if lhs.ends_with(']') => (
            unescaped(&lhs[..open]),
            lhs[open + 1..lhs.len() - 1]
                .split(',')
                .map(unescaped)
                .collect(),
        ),
        _ => (unescaped(lhs), Vec::new()),
    };
    (name, subscripts, except)
}

/// A name without its quotes, and a quoted name's escaped quotes (`\"`)
/// as quotes, as the equation lexer reads them.
fn unescaped(name: &str) -> String {
    let trimmed = name.trim();
    let inner = unquoted(name);
    if trimmed.starts_with('"') && trimmed.ends_with('"') && trimmed.len() >= 2 {
        inner.replace("\\\"", "\"")
    } else {
        inner.to_string()
    }
}

/// A number as Vensim writes it (`-3`, `.5`, `1e-3`), or `None`.
pub(super) fn number(text: &str) -> Option<f64> {
    let t = text.trim();
    // Vensim writes lookup points as `(0,- 1)` too: a sign, then spaces.
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, t.strip_prefix('+').map_or(t, str::trim_start)),
    };
    if t.starts_with(['+', '-']) {
        return None;
    }
    let t = &format!("{}{t}", if negative { "-" } else { "" });
    if t.is_empty() || t.chars().any(|c| c.is_alphabetic() && c != 'e' && c != 'E') {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

impl Reader<'_> {
    /// Reads one equation or lookup into a definition.
    pub(super) fn definition(
        &mut self,
        block: &Block,
        (lhs, _): (&str, usize),
        (rhs, rhs_offset): (&str, usize),
        lookup: bool,
    ) -> Option<Def> {
        let (name, subscripts, except) = name_and_subscripts(lhs);
        let lead = lhs.len() - lhs.trim_start().len();
        let location = self.location(block.start + lead);
        if name.is_empty() {
            self.push_error(
                block.start + lead,
                "expected a variable name before `=`".into(),
            );
            return None;
        }
        let rhs_start = block.start + rhs_offset;
        // Equation text trimmed, with the place of its first character.
        let source = |reader: &Self, text: &str, offset: usize| {
            let lead = text.len() - text.trim_start().len();
            Source {
                text: text.trim().to_string(),
                origin: Some(reader.location(rhs_start + offset + lead)),
            }
        };
        // `name(GET XLS LOOKUPS(...))`: a lookup read from a file.
        let external_lookup = lookup
            .then(|| {
                let body = rhs.trim();
                body.strip_prefix('(')
                    .and_then(|b| b.strip_suffix(')'))
                    .and_then(super::data::parse_call)
            })
            .flatten();
        let rhs = if let Some(external) = external_lookup {
            match external {
                Ok(external) => Rhs::External(external),
                Err(message) => {
                    self.push_error(rhs_start, message);
                    return None;
                }
            }
        } else if lookup {
            Rhs::Table(self.points(&name, rhs, rhs_start)?)
        } else if let Some(v) = number(rhs) {
            Rhs::Number(v)
        } else if let Some(values) = self.list(rhs, !subscripts.is_empty()) {
            Rhs::List(values)
        } else if let Some(values) = tabbed_array(rhs) {
            match values {
                Ok(values) => Rhs::List(values),
                Err(at) => {
                    self.push_error(
                        rhs_start + at,
                        "`TABBED ARRAY` holds numbers separated by spaces, tabs and line breaks"
                            .into(),
                    );
                    return None;
                }
            }
        } else if let Some(external) = super::data::parse_call(rhs) {
            match external {
                Ok(external) => Rhs::External(external),
                Err(message) => {
                    let lead = rhs.len() - rhs.trim_start().len();
                    self.push_error(rhs_start + lead, message);
                    return None;
                }
            }
        } else if let Some((input, table)) = with_lookup(rhs) {
            Rhs::WithLookup {
                input: source(self, &crate::expr::quote_vensim_names(input.0), input.1),
                points: self.points(&name, table.0, rhs_start + table.1)?,
            }
        } else {
            // The supported GET DATA functions are hidden from the search
            // for unsupported ones (same length, so offsets hold).
            let mut upper = rhs.to_ascii_uppercase();
            for supported in [
                "GET DATA AT TIME",
                "GET DATA FIRST TIME",
                "GET DATA LAST TIME",
            ] {
                upper = upper.replace(supported, &"_".repeat(supported.len()));
            }
            if let Some((at, why)) = named_refusal(&upper) {
                self.push_error(rhs_start + at, why);
                return None;
            }
            if let Some((at, why)) = crate::expr::vensim_operator_refusal(rhs) {
                self.push_error(rhs_start + at, why);
                return None;
            }
            // Vensim's `and`, `or`, `not` and `mod` are parts of names.
            let rhs = &*crate::expr::quote_vensim_names(rhs);
            match crate::expr::parse(rhs) {
                Ok(Expr {
                    kind: ExprKind::Call { name, args, .. },
                    ..
                }) if canonical_name(&name) == "integ" => {
                    if args.len() != 2 {
                        self.push_error(
                            rhs_start + rhs.len() - rhs.trim_start().len(),
                            format!(
                                "INTEG takes a rate and an initial value, got {} argument(s)",
                                args.len()
                            ),
                        );
                        return None;
                    }
                    let part = |e: &Expr| source(self, &rhs[e.span.clone()], e.span.start);
                    Rhs::Integ {
                        rate: part(&args[0]),
                        initial: part(&args[1]),
                    }
                }
                // Anything else, including text that does not parse: the
                // builder reports the equation's errors with their place.
                _ => Rhs::Expression(source(self, rhs, 0)),
            }
        };
        let units = strip_range(&block.units);
        let doc = block
            .doc
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let (units, doc) = match units {
            Some(u) if Units::parse(&u).is_err() => {
                let note = format!("(Vensim units: {u})");
                (
                    None,
                    if doc.is_empty() {
                        note
                    } else {
                        format!("{doc} {note}")
                    },
                )
            }
            u => (u, doc),
        };
        Some(Def {
            name,
            subscripts,
            except,
            rhs,
            data: None,
            units,
            doc,
            location,
        })
    }

    /// A constant list `1, 2, 3` (rows separated by `;`), if `rhs` is one.
    fn list(&self, rhs: &str, arrayed: bool) -> Option<Vec<f64>> {
        if !arrayed {
            return None;
        }
        let parts = split_top_level(rhs, &[',', ';']);
        let values: Vec<f64> = parts
            .iter()
            .map(|(_, p)| p.trim())
            .filter(|p| !p.is_empty())
            .map(number)
            .collect::<Option<_>>()?;
        (values.len() > 1).then_some(values)
    }

    /// The points of a lookup body `( [(x,y)-(x,y)], (x,y), ... )`.
    fn points(&mut self, name: &str, body: &str, offset: usize) -> Option<Vec<(f64, f64)>> {
        let trimmed = body.trim();
        let lead = body.len() - body.trim_start().len();
        let inner = trimmed
            .strip_prefix('(')
            .and_then(|t| t.strip_suffix(')'))
            .unwrap_or(trimmed);
        let inner_offset = offset + lead + usize::from(trimmed.starts_with('('));
        let mut points = Vec::new();
        for (at, part) in split_top_level(inner, &[',']) {
            let p = part.trim();
            if p.is_empty() || p.starts_with('[') {
                continue; // the axis ranges
            }
            let pair = p
                .strip_prefix('(')
                .and_then(|p| p.strip_suffix(')'))
                .and_then(|p| p.split_once(','))
                .and_then(|(x, y)| Some((number(x)?, number(y)?)));
            match pair {
                Some(point) => points.push(point),
                None => {
                    let lead = part.len() - part.trim_start().len();
                    self.push_error(
                        inner_offset + at + lead,
                        format!("expected a lookup point `(x,y)`, found `{p}`"),
                    );
                    return None;
                }
            }
        }
        if points.is_empty() {
            self.push_error(
                offset + lead,
                "expected lookup points `(x,y), ...`, found none".into(),
            );
            return None;
        }
        // Vensim sorts a lookup's points by x (as its output for
        // `(2,-3),(1,-7),(0,-1)` shows): so does this reader, and says so.
        if points.windows(2).any(|w| w[1].0 < w[0].0) {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let location = self.location(offset + lead);
            self.warn(
                name,
                location,
                "the lookup's x values do not increase: its points were sorted by x, as Vensim does".into(),
            );
        }
        Some(points)
    }
}

/// `WITH LOOKUP(input, (table))` → the input and the table, with their
/// offsets in `rhs`.
#[allow(clippy::type_complexity)]
fn with_lookup(rhs: &str) -> Option<((&str, usize), (&str, usize))> {
    let open = rhs.find('(')?;
    if canonical_name(&rhs[..open]) != "with_lookup" {
        return None;
    }
    let close = rhs.rfind(')')?;
    let inner = &rhs[open + 1..close];
    let parts = split_top_level(inner, &[',']);
    let (table_at, _) = *parts.get(1)?;
    let input = parts[0].1;
    Some(((input, open + 1), (&inner[table_at..], open + 1 + table_at)))
}

/// Units without Vensim's `[min, max]` range; `None` when empty.
fn strip_range(units: &str) -> Option<String> {
    let units = units.split('[').next().unwrap_or("").trim();
    (!units.is_empty()).then(|| units.to_string())
}

/// `TABBED ARRAY(1 2 3 \n 4 5 6)`: the numbers in row-major order (rows on
/// lines, values separated by spaces or tabs); `None` for any other text,
/// `Err(offset)` at a value that is not a number.
fn tabbed_array(rhs: &str) -> Option<Result<Vec<f64>, usize>> {
    let trimmed = rhs.trim_start();
    let lead = rhs.len() - trimmed.len();
    let open = trimmed.find('(')?;
    if crate::name::canonical_name(&trimmed[..open]) != "tabbed_array" {
        return None;
    }
    let inner = trimmed[open + 1..].trim_end();
    let Some(inner) = inner.strip_suffix(')') else {
        return Some(Err(lead + open));
    };
    let base = lead + open + 1;
    let mut values = Vec::new();
    let mut at = 0;
    for word in inner.split(|c: char| c.is_whitespace() || c == '\\') {
        let offset = base + at;
        at += word.len() + 1;
        if word.is_empty() {
            continue;
        }
        match word.parse::<f64>() {
            Ok(v) if v.is_finite() => values.push(v),
            _ => return Some(Err(offset)),
        }
    }
    Some(Ok(values))
}

/// Where a word (or words) starts in `upper` as a whole: not inside a
/// longer name (`BUDGET DATA` does not hold `GET DATA`).
fn find_word(upper: &str, what: &str) -> Option<usize> {
    let bytes = upper.as_bytes();
    let part_of_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'"';
    upper.match_indices(what).map(|(at, _)| at).find(|&at| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + what.len()).copied();
        !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
    })
}

/// The name written before the `(` at `open` (the words of a function's
/// name), trimmed.
fn name_before(text: &str, open: usize) -> &str {
    let head = &text[..open];
    // After the last character that cannot be part of a name (which may
    // take more than one byte: `😀(`).
    let start = head
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == ' ' || c == '_' || c == '\t'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    head[start..].trim()
}

/// Vensim functions that the expression reader cannot read as calls (their
/// names hold `IF`, their arguments text in quotes) or that carecascade
/// refuses by family: the place and the reason, naming the function.
/// `upper` is the equation in capitals.
fn named_refusal(upper: &str) -> Option<(usize, String)> {
    // Quoted names and {comments} hold no calls: the searches for words
    // skip them (masked, same length, so that offsets hold).
    let masked: String = {
        let (mut in_name, mut in_comment) = (false, false);
        upper
            .chars()
            .map(|c| {
                let inside = in_name || in_comment;
                match c {
                    '"' if !in_comment => in_name = !in_name,
                    '{' if !in_name => in_comment = true,
                    '}' if in_comment => in_comment = false,
                    _ => {}
                }
                if inside || c == '"' || c == '{' {
                    // The same number of bytes.
                    "_".repeat(c.len_utf8())
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    let upper = masked.as_str();
    if let Some(at) = find_word(upper, "A FUNCTION OF") {
        return Some((
            at,
            "`A FUNCTION OF` is Vensim's placeholder for an equation not written yet: write the equation".into(),
        ));
    }
    if let Some(at) = find_word(upper, "GET DATA") {
        let name = upper[at..].split('(').next().unwrap_or("GET DATA").trim();
        return Some((
            at,
            format!(
                "`{name}` is not supported: of the `GET DATA ...` functions only `GET DATA AT TIME`, `GET DATA FIRST TIME` and `GET DATA LAST TIME` are"
            ),
        ));
    }
    if let Some(at) = find_word(upper, "SHIFT IF TRUE") {
        return Some((
            at,
            "`SHIFT IF TRUE` is not supported: how Vensim shifts the array, adds what leaves its end to the total and counts the elements shifted could not be established well enough to give Vensim's numbers, and carecascade will not guess".into(),
        ));
    }
    // Text in quotes (outside quoted names) is an argument of one of
    // Vensim's file or message functions: name the function.
    let mut in_name = false;
    let mut in_comment = false;
    let mut depth: Vec<usize> = Vec::new();
    for (i, c) in upper.char_indices() {
        if in_comment {
            in_comment = c != '}';
            continue;
        }
        match c {
            '"' => in_name = !in_name,
            '{' if !in_name => in_comment = true,
            '(' if !in_name => depth.push(i),
            ')' if !in_name => {
                depth.pop();
            }
            '\'' if !in_name => {
                let Some(&open) = depth.last() else {
                    return Some((i, "text in quotes is not a value".into()));
                };
                let name = name_before(upper, open);
                let at = upper[..open].rfind(name).unwrap_or(open);
                return Some((
                    at,
                    format!(
                        "`{name}` is not supported here (its arguments hold text in quotes; of Vensim's functions that read files, `GET DIRECT` and `GET XLS` are read when they are the whole equation)"
                    ),
                ));
            }
            _ => {}
        }
    }
    None
}
