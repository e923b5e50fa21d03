//! Vensim macros, `:MACRO: NAME(input, ... : output, ...)` ...
//! `:END OF MACRO:`, read by writing out a copy of the macro's equations
//! for every call.
//!
//! A call `NAME(a, b)` becomes a reference to the copy's variable named
//! like the macro; the copy's inputs are variables equal to the arguments
//! as written (so an argument is computed once), and every other variable
//! of the macro, its stocks included, gets a copy of its own, named
//! `NAME n variable` (n counting the calls in the model). A macro with
//! more outputs, `:MACRO: NAME(a : out1, out2)`, called as `NAME(x : p,
//! q)`, also defines the caller's variables `p` and `q` as the copy's
//! `out1` and `out2`. Macros may call macros, and may be defined before or
//! after their use. Subscripted equations in macros are refused with their
//! place.

use super::blocks::{Lhs, find_ci, split_lhs};
use super::{Def, Reader, Rhs};
use crate::build::Source;
use crate::error::Error;
use crate::expr::{Expr, ExprKind};
use crate::name::canonical_name;
use std::collections::HashMap;

/// One macro: its name, inputs, outputs and equations.
pub(super) struct Macro {
    name: String,
    inputs: Vec<String>,
    /// The outputs after `:` in the header, besides the macro's own value.
    outputs: Vec<String>,
    defs: Vec<Def>,
}

/// How many calls may be written out, nested calls included: a macro that
/// calls itself would never stop.
const MAX_CALLS: usize = 10_000;

/// Blanks out every macro of `text` (keeping its length and lines, so that
/// places stay right) and reads each macro's equations.
pub(super) fn extract(reader: &mut Reader<'_>, text: &str) -> (String, Vec<Macro>) {
    let mut masked = text.to_string();
    let mut macros = Vec::new();
    let mut from = 0;
    while let Some(found) = find_ci(&text[from..], ":MACRO:") {
        let start = from + found;
        let Some(end_at) = find_ci(&text[start..], ":END OF MACRO:") else {
            reader.push_error(start, "`:MACRO:` without `:END OF MACRO:`".into());
            blank(&mut masked, start, text.len());
            break;
        };
        let end = start + end_at + ":END OF MACRO:".len();
        blank(&mut masked, start, end);
        from = end;
        // The header: `:MACRO: NAME(inputs : outputs)`.
        let header_start = start + ":MACRO:".len();
        let Some(open) = text[header_start..end].find('(') else {
            reader.push_error(start, "expected `:MACRO: name(input, ...)`".into());
            continue;
        };
        let Some(close) = text[header_start + open..end].find(')') else {
            reader.push_error(start, "expected `)` after the macro's inputs".into());
            continue;
        };
        let name = text[header_start..header_start + open].trim().to_string();
        let params = &text[header_start + open + 1..header_start + open + close];
        let (inputs, outputs) = match params.split_once(':') {
            Some((i, o)) => (names(i), names(o)),
            None => (names(params), Vec::new()),
        };
        let body_start = header_start + open + close + 1;
        let body_end = start + end_at;
        // The body alone, at its place in the file.
        let mut body = String::with_capacity(text.len());
        for (i, c) in text.char_indices() {
            if (body_start..body_end).contains(&i) || c == '\n' {
                body.push(c);
            } else {
                for _ in 0..c.len_utf8() {
                    body.push(' ');
                }
            }
        }
        let mut defs = Vec::new();
        for block in reader.blocks(&body) {
            let eq = block.equation.as_str();
            let trimmed = eq.trim_start();
            if trimmed.is_empty() {
                continue;
            }
            let lead = eq.len() - trimmed.len();
            let def = match split_lhs(eq) {
                Lhs::Equation { lhs, rhs } => reader.definition(&block, lhs, rhs, false),
                Lhs::Lookup { lhs, body } => reader.definition(&block, lhs, body, true),
                Lhs::Unsupported(at, what) => {
                    reader.push_error(block.start + at, what);
                    None
                }
                _ => {
                    reader.push_error(
                        block.start + lead,
                        format!("expected an equation in macro `{name}`"),
                    );
                    None
                }
            };
            if let Some(def) = def {
                if !def.subscripts.is_empty() {
                    reader.push_error(
                        block.start + lead,
                        format!(
                            "subscripted equations in macros are not supported (in macro `{name}`)"
                        ),
                    );
                    continue;
                }
                defs.push(def);
            }
        }
        if !defs
            .iter()
            .any(|d| canonical_name(&d.name) == canonical_name(&name))
        {
            reader.push_error(
                start,
                format!("macro `{name}` has no equation for `{name}`, its value"),
            );
            continue;
        }
        if let Some(missing) = outputs.iter().find(|o| {
            !defs
                .iter()
                .any(|d| canonical_name(&d.name) == canonical_name(o))
        }) {
            reader.push_error(
                start,
                format!("macro `{name}` lists the output `{missing}` but has no equation for it"),
            );
            continue;
        }
        macros.push(Macro {
            name,
            inputs,
            outputs,
            defs,
        });
    }
    (masked, macros)
}

fn names(list: &str) -> Vec<String> {
    list.split(',')
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

/// Replaces `text[start..end]` with spaces, keeping line breaks.
fn blank(text: &mut String, start: usize, end: usize) {
    let replaced: String = text[start..end]
        .chars()
        .map(|c| {
            if c == '\n' {
                "\n".to_string()
            } else {
                " ".repeat(c.len_utf8())
            }
        })
        .collect();
    text.replace_range(start..end, &replaced);
}

/// A name as equation text.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\\\""))
}

/// Writes out every macro call in `defs`, adding the copies' definitions.
pub(super) fn expand_calls(reader: &mut Reader<'_>, defs: &mut Vec<Def>, macros: &[Macro]) {
    if macros.is_empty() {
        return;
    }
    let by_name: HashMap<String, &Macro> = macros
        .iter()
        .map(|m| (canonical_name(&m.name), m))
        .collect();
    let mut taken: std::collections::HashSet<String> =
        defs.iter().map(|d| canonical_name(&d.name)).collect();
    let mut calls = 0usize;
    let mut i = 0;
    while i < defs.len() {
        let mut extra = Vec::new();
        let location = defs[i].location.clone();
        let owner = defs[i].name.clone();
        let mut failed = None;
        let mut rewrite = |s: &Source, extra: &mut Vec<Def>| -> Source {
            // `NAME(a : p, q)`: the caller's names for the outputs, by the
            // place of the call, taken out so that the call parses.
            let (stripped, receivers) = strip_outputs(&s.text, &by_name);
            let s = &Source {
                text: stripped,
                origin: s.origin.clone(),
            };
            let Ok(expr) = crate::expr::parse(&s.text) else {
                return s.clone();
            };
            // The outermost calls of macros, in order.
            let mut found: Vec<&Expr> = Vec::new();
            outer_calls(&expr, &by_name, &mut found);
            if found.is_empty() {
                return s.clone();
            }
            let mut text = s.text.clone();
            for call in found.iter().rev() {
                let ExprKind::Call { name, args, .. } = &call.kind else {
                    continue;
                };
                calls += 1;
                if calls > MAX_CALLS {
                    failed = Some(format!(
                        "more than {MAX_CALLS} macro calls written out: does macro `{name}` call itself?"
                    ));
                    return s.clone();
                }
                let m = by_name[&canonical_name(name)];
                if args.len() != m.inputs.len() {
                    failed = Some(format!(
                        "macro `{}` takes {} input(s) ({}), got {}",
                        m.name,
                        m.inputs.len(),
                        m.inputs.join(", "),
                        args.len()
                    ));
                    return s.clone();
                }
                let mut prefix = format!("{} {calls}", m.name);
                while taken.contains(&canonical_name(&prefix)) {
                    prefix.push('_');
                }
                // Names inside the copy.
                let mut renames: HashMap<String, String> = HashMap::new();
                for d in &m.defs {
                    let key = canonical_name(&d.name);
                    let new = if key == canonical_name(&m.name) {
                        prefix.clone()
                    } else {
                        format!("{prefix} {}", d.name)
                    };
                    renames.insert(key, new);
                }
                for input in &m.inputs {
                    renames.insert(canonical_name(input), format!("{prefix} {input}"));
                }
                for (input, arg) in m.inputs.iter().zip(args) {
                    let name = format!("{prefix} {input}");
                    taken.insert(canonical_name(&name));
                    extra.push(Def {
                        name,
                        subscripts: Vec::new(),
                        except: Vec::new(),
                        rhs: Rhs::Expression(Source {
                            text: s.text[arg.span.clone()].to_string(),
                            origin: s.origin.clone(),
                        }),
                        data: None,
                        units: None,
                        doc: format!("Input `{input}` of a call of macro `{}`.", m.name),
                        location: location.clone(),
                    });
                }
                for d in &m.defs {
                    let name = renames[&canonical_name(&d.name)].clone();
                    taken.insert(canonical_name(&name));
                    let rename = |s: &Source| Source {
                        text: renamed(&s.text, &renames),
                        origin: s.origin.clone(),
                    };
                    let rhs = match &d.rhs {
                        Rhs::Expression(s) => Rhs::Expression(rename(s)),
                        Rhs::Integ { rate, initial } => Rhs::Integ {
                            rate: rename(rate),
                            initial: rename(initial),
                        },
                        Rhs::WithLookup { input, points } => Rhs::WithLookup {
                            input: rename(input),
                            points: points.clone(),
                        },
                        other => other.clone(),
                    };
                    extra.push(Def {
                        name,
                        subscripts: Vec::new(),
                        except: Vec::new(),
                        rhs,
                        data: d.data,
                        units: d.units.clone(),
                        doc: format!("`{}` of a call of macro `{}`.", d.name, m.name),
                        location: d.location.clone(),
                    });
                }
                let receiving = receivers
                    .iter()
                    .find(|(at, _)| *at == call.span.start)
                    .map(|(_, names)| names.clone())
                    .unwrap_or_default();
                if receiving.len() > m.outputs.len() {
                    failed = Some(format!(
                        "macro `{}` has {} output(s) after `:`, the call names {}",
                        m.name,
                        m.outputs.len(),
                        receiving.len()
                    ));
                    return s.clone();
                }
                for (output, receiver) in m.outputs.iter().zip(receiving) {
                    taken.insert(canonical_name(&receiver));
                    extra.push(Def {
                        name: receiver,
                        subscripts: Vec::new(),
                        except: Vec::new(),
                        rhs: Rhs::Expression(Source {
                            text: quoted(&renames[&canonical_name(output)]),
                            origin: s.origin.clone(),
                        }),
                        data: None,
                        units: None,
                        doc: format!("Output `{output}` of a call of macro `{}`.", m.name),
                        location: location.clone(),
                    });
                }
                text.replace_range(call.span.clone(), &quoted(&prefix));
            }
            Source {
                text,
                origin: s.origin.clone(),
            }
        };
        let rhs = match &defs[i].rhs {
            Rhs::Expression(s) => Rhs::Expression(rewrite(s, &mut extra)),
            Rhs::Integ { rate, initial } => {
                let rate = rewrite(rate, &mut extra);
                Rhs::Integ {
                    rate,
                    initial: rewrite(initial, &mut extra),
                }
            }
            Rhs::WithLookup { input, points } => Rhs::WithLookup {
                input: rewrite(input, &mut extra),
                points: points.clone(),
            },
            other => other.clone(),
        };
        if let Some(message) = failed {
            reader.errors.push(Error::Model {
                variable: owner,
                location: Some(location),
                message,
            });
            return;
        }
        defs[i].rhs = rhs;
        defs.extend(extra);
        i += 1;
    }
}

/// Takes `: p, q` out of the calls of macros in `text`: the text without
/// them, and for each such call the place of its name and the names.
fn strip_outputs(
    text: &str,
    macros: &HashMap<String, &Macro>,
) -> (String, Vec<(usize, Vec<String>)>) {
    let mut out = text.to_string();
    let mut found = Vec::new();
    // From the last `(` back, so that earlier places stay right.
    let opens: Vec<usize> = text.match_indices('(').map(|(i, _)| i).collect();
    for &open in opens.iter().rev() {
        let before = &out[..open];
        // After the last character that cannot be part of a name (it may
        // take more than one byte).
        let name_start = before
            .trim_end()
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == ' ' || c == '"'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let written = out[name_start..open].trim();
        if written.is_empty() || !macros.contains_key(&canonical_name(written.trim_matches('"'))) {
            continue;
        }
        // The matching `)` and a `:` at the call's own level.
        let mut depth = 0usize;
        let mut colon = None;
        let mut close = None;
        for (i, c) in out[open..].char_indices() {
            match c {
                '(' | '[' => depth += 1,
                ')' | ']' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(open + i);
                        break;
                    }
                }
                ':' if depth == 1 => colon = Some(open + i),
                _ => {}
            }
        }
        let (Some(colon), Some(close)) = (colon, close) else {
            continue;
        };
        let receivers = names(&out[colon + 1..close]);
        out.replace_range(colon..close, "");
        for (at, _) in &mut found {
            if *at > colon {
                *at -= close - colon;
            }
        }
        let lead = out[name_start..].len() - out[name_start..].trim_start().len();
        found.push((name_start + lead, receivers));
    }
    (out, found)
}

/// The calls of macros in `e` that are not inside another macro call's
/// arguments (those are written out with the argument's own variable).
fn outer_calls<'e>(e: &'e Expr, macros: &HashMap<String, &Macro>, out: &mut Vec<&'e Expr>) {
    if let ExprKind::Call { name, .. } = &e.kind
        && macros.contains_key(&canonical_name(name))
    {
        out.push(e);
        return;
    }
    match &e.kind {
        ExprKind::Unary(_, a) => outer_calls(a, macros, out),
        ExprKind::Binary(_, a, b) => {
            outer_calls(a, macros, out);
            outer_calls(b, macros, out);
        }
        ExprKind::If(c, a, b) => {
            outer_calls(c, macros, out);
            outer_calls(a, macros, out);
            outer_calls(b, macros, out);
        }
        ExprKind::Call { args, .. } => args.iter().for_each(|a| outer_calls(a, macros, out)),
        _ => {}
    }
}

/// `text` with the names in `renames` (canonical name to new name)
/// replaced.
fn renamed(text: &str, renames: &HashMap<String, String>) -> String {
    let Ok(expr) = crate::expr::parse(text) else {
        return text.to_string();
    };
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    expr.walk(&mut |node| match &node.kind {
        ExprKind::Name(n) => {
            if let Some(new) = renames.get(&canonical_name(n)) {
                edits.push((node.span.clone(), quoted(new)));
            }
        }
        ExprKind::Subscript {
            name, name_span, ..
        } => {
            if let Some(new) = renames.get(&canonical_name(name)) {
                edits.push((name_span.clone(), quoted(new)));
            }
        }
        _ => {}
    });
    edits.sort_by_key(|(span, _)| span.start);
    let mut out = text.to_string();
    for (span, new) in edits.into_iter().rev() {
        out.replace_range(span, &new);
    }
    out
}
