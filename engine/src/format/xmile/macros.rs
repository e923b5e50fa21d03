//! XMILE `<macro>`s made of an equation of their parameters,
//! `<macro name="double"><parm>x</parm><eqn>x * 2</eqn></macro>`: every
//! call is replaced by the macro's equation with each parameter replaced by
//! its argument in parentheses. Macros may call macros (to a depth of
//! [`MAX_NESTING`]). Macros with variables of their own are written out by
//! the reader, which gives each call its own copy of them.

use crate::expr::{Expr, ExprKind};
use crate::name::canonical_name;
use std::collections::HashMap;

/// How deep macros may call macros: deeper means a macro calls itself.
const MAX_NESTING: usize = 50;

/// How many calls one equation may write out, nested ones included: a
/// macro that calls another twice, which calls another twice, ... doubles
/// the text at each level.
const MAX_CALLS: usize = 10_000;

/// A macro: its parameters (canonical names), their defaults (equations
/// of the parameters before them) and its equation.
pub(super) struct Macro {
    pub(super) parameters: Vec<String>,
    pub(super) defaults: Vec<Option<String>>,
    pub(super) equation: String,
}

/// `text` with every call of a macro written out; `Err` for a call with
/// the wrong number of arguments or macros nested too deep.
pub(super) fn inline(text: &str, macros: &HashMap<String, Macro>) -> Result<String, String> {
    inline_at(text, macros, 0, &mut 0)
}

fn inline_at(
    text: &str,
    macros: &HashMap<String, Macro>,
    depth: usize,
    calls: &mut usize,
) -> Result<String, String> {
    if depth > MAX_NESTING {
        return Err(format!(
            "macros nested more than {MAX_NESTING} deep: does a macro call itself?"
        ));
    }
    let Ok(expr) = crate::expr::parse(text) else {
        return Ok(text.to_string()); // the builder reports it, with its place
    };
    let mut has_calls = false;
    expr.walk(&mut |e| {
        if let ExprKind::Call { name, .. } = &e.kind
            && macros.contains_key(&canonical_name(name))
        {
            has_calls = true;
        }
    });
    if !has_calls {
        return Ok(text.to_string());
    }
    render(&expr, text, macros, depth, calls)
}

fn render(
    e: &Expr,
    text: &str,
    macros: &HashMap<String, Macro>,
    depth: usize,
    calls: &mut usize,
) -> Result<String, String> {
    if let ExprKind::Call { name, args, .. } = &e.kind
        && let Some(m) = macros.get(&canonical_name(name))
    {
        *calls += 1;
        if *calls > MAX_CALLS {
            return Err(format!(
                "more than {MAX_CALLS} macro calls written out for one equation"
            ));
        }
        // Parameters after the last one without a default may be left out.
        let required = m
            .defaults
            .iter()
            .rposition(Option::is_none)
            .map_or(0, |i| i + 1);
        if args.len() < required || args.len() > m.parameters.len() {
            let count = if required == m.parameters.len() {
                required.to_string()
            } else {
                format!("{required} to {}", m.parameters.len())
            };
            return Err(format!(
                "macro `{name}` takes {count} argument(s), got {}",
                args.len()
            ));
        }
        let mut values = HashMap::new();
        for (k, parameter) in m.parameters.iter().enumerate() {
            let value = match args.get(k) {
                Some(arg) => render(arg, text, macros, depth, calls)?,
                // A default, in terms of the parameters before it.
                None => substitute(m.defaults[k].as_deref().unwrap_or("0"), &values),
            };
            values.insert(parameter.clone(), format!("({value})"));
        }
        let body = substitute(&m.equation, &values);
        return Ok(format!("({})", inline_at(&body, macros, depth + 1, calls)?));
    }
    crate::expr::splice_children(e, text, |child| render(child, text, macros, depth, calls))
}

/// The macro's equation with each parameter name replaced.
fn substitute(equation: &str, values: &HashMap<String, String>) -> String {
    let Ok(expr) = crate::expr::parse(equation) else {
        return equation.to_string();
    };
    let mut edits = Vec::new();
    expr.walk(&mut |e| {
        if let ExprKind::Name(n) = &e.kind
            && let Some(value) = values.get(&canonical_name(n))
        {
            edits.push((e.span.clone(), value.clone()));
        }
    });
    edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut out = equation.to_string();
    for (span, value) in edits {
        out.replace_range(span, &value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_written_out_nested_and_checked() {
        let mut macros = HashMap::new();
        macros.insert(
            "double".to_string(),
            Macro {
                parameters: vec!["x".into()],
                defaults: vec![None],
                equation: "x * 2".into(),
            },
        );
        macros.insert(
            "quad".to_string(),
            Macro {
                parameters: vec!["y".into()],
                defaults: vec![None],
                equation: "double(double(y))".into(),
            },
        );
        assert_eq!(
            inline("1 + double(a + b)", &macros).unwrap(),
            "1 + ((a + b) * 2)"
        );
        let quad = inline("quad(3)", &macros).unwrap();
        assert!(crate::expr::parse(&quad).is_ok(), "{quad}");
        assert!(
            inline("double(1, 2)", &macros)
                .unwrap_err()
                .contains("takes 1")
        );
        // A parameter left out takes its default, which may read the
        // parameters before it.
        macros.insert(
            "scale".to_string(),
            Macro {
                parameters: vec!["x".into(), "by".into()],
                defaults: vec![None, Some("x + 1".into())],
                equation: "x * by".into(),
            },
        );
        assert_eq!(inline("scale(a, 3)", &macros).unwrap(), "((a) * (3))");
        assert_eq!(inline("scale(a)", &macros).unwrap(), "((a) * ((a) + 1))");
        assert!(
            inline("scale()", &macros)
                .unwrap_err()
                .contains("takes 1 to 2 argument(s), got 0")
        );
        macros.insert(
            "forever".to_string(),
            Macro {
                parameters: vec!["x".into()],
                defaults: vec![None],
                equation: "forever(x)".into(),
            },
        );
        assert!(
            inline("forever(1)", &macros)
                .unwrap_err()
                .contains("call itself")
        );
    }
}
