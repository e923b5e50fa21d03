//! XMILE export: any model, written so that Stella, simlin and PySD can open
//! it and carecascade reads it back to the same numbers.
//!
//! Equations are re-rendered from their syntax trees in XMILE's spellings:
//! names with underscores (or quoted), `IF ... THEN ... ELSE`, `SMTH1`,
//! `DELAYN(input, time, order, initial)`, `SAFEDIV`, `INIT`. Vensim's
//! `PULSE` and `PULSE TRAIN`, which XMILE spells differently, become the
//! equivalent `IF` expressions.

use crate::expr::{BinaryOp, Expr, ExprKind, IndexKind, UnaryOp};
use crate::model::{Equation, Interpolation, LookupTable, Method, Model, VariableKind};
use crate::name::canonical_name;
use std::fmt::Write;

/// Writes a model as an XMILE 1.0 document.
pub fn write(model: &Model) -> String {
    let mut out = String::new();
    let time = model.time();
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let _ = writeln!(
        out,
        "<xmile version=\"1.0\" xmlns=\"http://docs.oasis-open.org/xmile/ns/XMILE/v1.0\" xmlns:carecascade=\"{}\">",
        super::CARECASCADE_NAMESPACE
    );
    out.push_str("  <header>\n");
    let _ = writeln!(out, "    <name>{}</name>", escape_markup(model.name()));
    out.push_str("    <vendor>carecascade</vendor>\n");
    let _ = writeln!(
        out,
        "    <product version=\"{}\">carecascade</product>",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("  </header>\n");
    let method = match time.method() {
        Method::Euler => "Euler",
        Method::Rk4 => "RK4",
    };
    let _ = write!(out, "  <sim_specs method=\"{method}\"");
    if let Some(units) = model.time_units() {
        let _ = write!(out, " time_units=\"{}\"", escape_markup(units));
    }
    // XMILE limits non-negative stocks' outflows in order; a model that
    // limits them in proportion says so in carecascade's namespace.
    let has_non_negative = model.variables().iter().any(|v| {
        matches!(
            v.kind(),
            VariableKind::Stock {
                non_negative: true,
                ..
            }
        )
    });
    if has_non_negative && model.outflow_limiting() == crate::OutflowLimiting::Proportional {
        out.push_str(" carecascade:outflow_limiting=\"proportional\"");
    }
    out.push_str(">\n");
    let _ = writeln!(out, "    <start>{:?}</start>", time.start());
    let _ = writeln!(out, "    <stop>{:?}</stop>", time.stop());
    let _ = writeln!(out, "    <dt>{:?}</dt>", time.dt());
    if time.save_every() != 1 {
        let _ = writeln!(out, "    <savestep>{:?}</savestep>", time.save_interval());
    }
    out.push_str("  </sim_specs>\n");
    let control = model.control_variables();
    if !control.is_empty() {
        let names: Vec<&str> = [
            &control.initial_time,
            &control.final_time,
            &control.time_step,
            &control.saveper,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
        let _ = writeln!(
            out,
            "  <!-- {} computed during the run in the original model: XMILE has no way to say so, and this file runs with the settings at the start -->",
            escape_markup(&names.join(", ")).replace("--", "- -")
        );
    }
    if !model.dimensions().is_empty() {
        out.push_str("  <dimensions>\n");
        for d in model.dimensions() {
            let _ = writeln!(out, "    <dim name=\"{}\">", escape_markup(d.name()));
            for e in d.elements() {
                let _ = writeln!(out, "      <elem name=\"{}\"/>", escape_markup(e));
            }
            out.push_str("    </dim>\n");
        }
        out.push_str("  </dimensions>\n");
    }
    if !model.doc().is_empty() {
        let _ = writeln!(out, "  <!-- {} -->", comment_text(model.doc()));
    }
    out.push_str("  <model>\n    <variables>\n");
    for v in model.variables() {
        // A backslash in a name is written `\\`: `\n` means a line break.
        let name = escape_markup(&v.name().replace('\\', "\\\\"));
        let mut body = String::new();
        if !v.dimensions().is_empty() {
            body.push_str("        <dimensions>\n");
            for d in v.dimensions() {
                let _ = writeln!(body, "          <dim name=\"{}\"/>", escape_markup(d));
            }
            body.push_str("        </dimensions>\n");
        }
        for (element, equation) in v.element_equations() {
            let _ = writeln!(
                body,
                "        <element subscript=\"{}\">\n  <eqn>{}</eqn>\n        </element>",
                escape_markup(&element.join(", ")),
                escape_markup(&render(equation.expr(), model))
            );
        }
        let tag = match v.kind() {
            VariableKind::Stock {
                initial,
                inflows,
                outflows,
                non_negative,
            } => {
                eqn(&mut body, initial, model);
                for f in inflows {
                    let _ = writeln!(
                        body,
                        "        <inflow>{}</inflow>",
                        escape_markup(&identifier(f))
                    );
                }
                for f in outflows {
                    let _ = writeln!(
                        body,
                        "        <outflow>{}</outflow>",
                        escape_markup(&identifier(f))
                    );
                }
                if *non_negative {
                    body.push_str("        <non_negative/>\n");
                }
                "stock"
            }
            VariableKind::Flow {
                equation,
                non_negative,
            } => {
                eqn(&mut body, equation, model);
                if *non_negative {
                    body.push_str("        <non_negative/>\n");
                }
                "flow"
            }
            VariableKind::Auxiliary { equation } => {
                eqn(&mut body, equation, model);
                "aux"
            }
            VariableKind::Constant { value } => {
                let _ = writeln!(body, "        <eqn>{value:?}</eqn>");
                "aux"
            }
            VariableKind::Lookup {
                table,
                input: Some(input),
                element_tables,
            } => {
                eqn(&mut body, input, model);
                gf(&mut body, table, "        ");
                for (element, table) in element_tables {
                    let _ = writeln!(
                        body,
                        "        <element subscript=\"{}\">",
                        escape_markup(&element.join(", "))
                    );
                    gf(&mut body, table, "          ");
                    body.push_str("        </element>\n");
                }
                "aux"
            }
            VariableKind::Lookup {
                table,
                input: None,
                element_tables,
            } => {
                let (points, kind) = gf_parts(table);
                let _ = write!(out, "      <gf name=\"{name}\"{kind}>\n{body}{points}");
                for (element, table) in element_tables {
                    let _ = writeln!(
                        out,
                        "        <element subscript=\"{}\">",
                        escape_markup(&element.join(", "))
                    );
                    gf(&mut out, table, "          ");
                    out.push_str("        </element>\n");
                }
                variable_tail(&mut out, v.units_text(), v.doc());
                out.push_str("      </gf>\n");
                continue;
            }
        };
        let _ = write!(out, "      <{tag} name=\"{name}\">\n{body}");
        variable_tail(&mut out, v.units_text(), v.doc());
        let _ = writeln!(out, "      </{tag}>");
    }
    out.push_str("    </variables>\n  </model>\n</xmile>\n");
    out
}

fn variable_tail(out: &mut String, units: Option<&str>, doc: &str) {
    if let Some(units) = units {
        let _ = writeln!(out, "        <units>{}</units>", escape_markup(units));
    }
    if !doc.is_empty() {
        let _ = writeln!(out, "        <doc>{}</doc>", escape_markup(doc));
    }
}

fn eqn(out: &mut String, equation: &Equation, model: &Model) {
    let _ = writeln!(
        out,
        "        <eqn>{}</eqn>",
        escape_markup(&render(equation.expr(), model))
    );
}

fn gf_parts(table: &LookupTable) -> (String, &'static str) {
    let join = |values: &[f64]| {
        values
            .iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let points = format!(
        "        <xpts>{}</xpts>\n        <ypts>{}</ypts>\n",
        join(table.xs()),
        join(table.ys())
    );
    let kind = match table.interpolation() {
        Interpolation::Continuous => "",
        Interpolation::Extrapolate => " type=\"extrapolate\"",
        Interpolation::Discrete => " type=\"discrete\"",
    };
    (points, kind)
}

fn gf(out: &mut String, table: &LookupTable, indent: &str) {
    let (points, kind) = gf_parts(table);
    let _ = write!(
        out,
        "{indent}<gf{kind}>\n{}{indent}</gf>\n",
        points.replace("        <", &format!("{indent}  <"))
    );
}

/// A name as an XMILE identifier: underscores for spaces, quoted when it
/// holds anything else an identifier cannot.
fn identifier(name: &str) -> String {
    let underscored = name.split_whitespace().collect::<Vec<_>>().join("_");
    let plain = underscored
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && underscored.chars().all(|c| c.is_alphanumeric() || c == '_');
    let keyword = matches!(
        underscored.to_ascii_uppercase().as_str(),
        "AND" | "OR" | "NOT" | "IF" | "THEN" | "ELSE" | "MOD"
    );
    if plain && !keyword {
        underscored
    } else {
        format!("\"{}\"", name.replace('"', "\\\""))
    }
}

/// Renders an expression in XMILE syntax. Every compound sub-expression is
/// parenthesised, so precedence never changes the meaning.
pub(crate) fn render(e: &Expr, model: &Model) -> String {
    let r = |e: &Expr| render(e, model);
    match &e.kind {
        ExprKind::Number(v) => format!("{v:?}"),
        ExprKind::Name(n) if model.variable(n).is_none() => match canonical_name(n).as_str() {
            // XMILE's names for Vensim's control variables.
            "time_step" => "DT".to_string(),
            "initial_time" => "STARTTIME".to_string(),
            "final_time" => "STOPTIME".to_string(),
            _ => identifier(n),
        },
        ExprKind::Name(n) => identifier(n),
        ExprKind::Unary(op, a) => {
            let op = match op {
                UnaryOp::Neg => "-",
                UnaryOp::Plus => "+",
                UnaryOp::Not => "NOT ",
            };
            format!("{op}{}", operand(a, model))
        }
        ExprKind::Binary(op, a, b) => {
            let symbol = match op {
                BinaryOp::Mod => "MOD",
                other => other.symbol(),
            };
            format!("{} {symbol} {}", operand(a, model), operand(b, model))
        }
        ExprKind::If(c, a, b) => format!("IF {} THEN {} ELSE {}", r(c), r(a), r(b)),
        ExprKind::Call { name, args, .. } => call(name, &args.iter().map(r).collect::<Vec<_>>()),
        ExprKind::Subscript { name, indices, .. } => {
            let indices: Vec<String> = indices
                .iter()
                .map(|i| match &i.kind {
                    IndexKind::Name(n) => identifier(n),
                    IndexKind::Number(v) => format!("{v}"),
                    IndexKind::Wildcard => "*".to_string(),
                    // XMILE has no `dimension!`; `*` means the same in SUM and its kin.
                    IndexKind::All(_) => "*".to_string(),
                    IndexKind::Computed(e) => render(e, model),
                })
                .collect();
            format!("{}[{}]", identifier(name), indices.join(", "))
        }
    }
}

fn operand(e: &Expr, model: &Model) -> String {
    match &e.kind {
        ExprKind::Number(_)
        | ExprKind::Name(_)
        | ExprKind::Call { .. }
        | ExprKind::Subscript { .. } => render(e, model),
        _ => format!("({})", render(e, model)),
    }
}

fn call(name: &str, a: &[String]) -> String {
    let list = |items: &[&String]| {
        items
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let f = |xmile: &str, items: &[&String]| format!("{xmile}({})", list(items));
    let all: Vec<&String> = a.iter().collect();
    match (canonical_name(name).as_str(), all.as_slice()) {
        ("smooth" | "smoothi", items) => f("SMTH1", items),
        ("smooth3" | "smooth3i", items) => f("SMTH3", items),
        ("smooth_n", [x, t, init, n]) => f("SMTHN", &[x, t, n, init]),
        ("delay1i", items) => f("DELAY1", items),
        ("delay3i", items) => f("DELAY3", items),
        ("delay_n", [x, t, init, n]) => f("DELAYN", &[x, t, n, init]),
        ("delay_fixed", items) => f("DELAY", items),
        ("xidz" | "zidz", items) => f("SAFEDIV", items),
        // XMILE's INT is floored; Vensim's INTEGER truncates towards zero.
        ("integer", [x]) => format!("(IF ({x}) < 0 THEN -INT(-({x})) ELSE INT({x}))"),
        ("int", items) => f("INT", items),
        ("initial", items) => f("INIT", items),
        // Vensim's MODULO takes the sign of x (it truncates x / y); XMILE's
        // MOD is floored, so write MODULO out in full.
        ("modulo", [x, y]) => format!(
            "(({x}) - ({y}) * (IF ({x}) / ({y}) < 0 THEN -INT(-(({x}) / ({y}))) ELSE INT(({x}) / ({y}))))"
        ),
        ("power", [x, y]) => format!("({x}) ^ ({y})"),
        ("log", [x]) => format!("LOG10({x})"),
        ("log", [x, base]) => format!("(LN({x}) / LN({base}))"),
        ("pi", []) => "PI".to_string(),
        // Not XMILE: kept for this engine, one word so that `IF` stays
        // part of the name.
        ("sample_if_true", items) => f("SAMPLE_IF_TRUE", items),
        // Vensim's PULSE: 1 from start for width (one DT when width is 0).
        ("pulse", [start, width]) => format!(
            "(IF TIME + DT / 2 > ({start}) AND TIME + DT / 2 < ({start}) + (IF ({width}) > 0 THEN ({width}) ELSE DT) THEN 1 ELSE 0)"
        ),
        // Vensim's PULSE TRAIN (for a positive interval).
        ("pulse_train", [start, width, interval, end]) => format!(
            "(IF TIME + DT / 2 > ({start}) AND TIME - DT / 2 <= ({end}) AND (TIME - ({start}) + DT / 2) MOD ({interval}) < (IF ({width}) > 0 THEN ({width}) ELSE DT) THEN 1 ELSE 0)"
        ),
        (_, items) => format!("{}({})", identifier_or_function(name), list(items)),
    }
}

/// Function and lookup names: builtins keep their spelling without spaces,
/// lookups become identifiers.
fn identifier_or_function(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    if crate::compile::is_builtin(&canonical_name(name)) {
        upper.split_whitespace().collect::<Vec<_>>().join("_")
    } else {
        identifier(name)
    }
}

/// Escapes text for XML. Tabs, newlines and carriage returns are written
/// as character references, which an XML reader keeps in attribute values
/// too (it turns literal ones into spaces there, so that a name with a
/// newline, which Vensim allows, would no longer match its uses). The
/// characters XML 1.0 cannot hold at all, even as references (the other
/// control characters, U+FFFE and U+FFFF), which a name or an equation
/// read from another format may contain, become U+FFFD. A name is written
/// the same way wherever it appears, so the model reads back whole.
fn escape_markup(text: &str) -> String {
    let special = |c: char| matches!(c, '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}');
    let escaped = crate::format::escape_markup(text);
    if !escaped.chars().any(special) {
        return escaped;
    }
    let mut out = String::with_capacity(escaped.len() + 8);
    for c in escaped.chars() {
        match c {
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if special(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text for an XML comment, which may not hold `--`, end with `-` or hold
/// the characters XML cannot.
fn comment_text(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => '\u{FFFD}',
            c => c,
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "- -");
    }
    if out.ends_with('-') {
        out.push(' ');
    }
    out
}
