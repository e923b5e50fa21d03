//! A model described for people: a stock-and-flow diagram (Mermaid or
//! Graphviz dot) and Markdown tables of its stocks, flows and parameters,
//! generated from the model itself so that documentation cannot drift from
//! it (`carecascade describe`).

use crate::model::{Model, Variable, VariableKind};
use std::collections::HashMap;
use std::fmt::Write;

/// Where each flow comes from and goes to: `(flow, from stock, to stock)`,
/// `None` for outside the model.
fn flow_ends(model: &Model) -> Vec<(&str, Option<&str>, Option<&str>)> {
    let mut from: HashMap<String, &str> = HashMap::new();
    let mut to: HashMap<String, &str> = HashMap::new();
    for v in model.variables() {
        if let VariableKind::Stock {
            inflows, outflows, ..
        } = v.kind()
        {
            for f in inflows {
                to.insert(crate::name::canonical_name(f), v.name());
            }
            for f in outflows {
                from.insert(crate::name::canonical_name(f), v.name());
            }
        }
    }
    model
        .variables()
        .iter()
        .filter(|v| matches!(v.kind(), VariableKind::Flow { .. }))
        .map(|v| {
            let key = crate::name::canonical_name(v.name());
            (v.name(), from.get(&key).copied(), to.get(&key).copied())
        })
        .collect()
}

fn arrayed(v: &Variable) -> String {
    if v.dimensions().is_empty() {
        v.name().to_string()
    } else {
        format!("{} [{}]", v.name(), v.dimensions().join(", "))
    }
}

/// The stocks and flows as a Mermaid flowchart: stocks are boxes, flows
/// are arrows labelled with their names; flows from or to outside the
/// model start or end at a small circle.
pub fn mermaid(model: &Model) -> String {
    let mut out = String::from("flowchart LR\n");
    let mut ids: HashMap<&str, String> = HashMap::new();
    for (i, v) in model
        .variables()
        .iter()
        .filter(|v| matches!(v.kind(), VariableKind::Stock { .. }))
        .enumerate()
    {
        let id = format!("s{i}");
        let _ = writeln!(out, "    {id}[\"{}\"]", mermaid_text(&arrayed(v)));
        ids.insert(v.name(), id);
    }
    for (i, (flow, from, to)) in flow_ends(model).into_iter().enumerate() {
        let end = |stock: Option<&str>, side: &str| match stock {
            Some(s) => ids[s].clone(),
            None => format!("c{i}{side}(( ))"),
        };
        let _ = writeln!(
            out,
            "    {} -->|\"{}\"| {}",
            end(from, "a"),
            mermaid_text(flow),
            end(to, "b")
        );
    }
    out
}

fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
}

/// The stocks and flows as a Graphviz dot digraph.
pub fn dot(model: &Model) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, fontname=\"DejaVu Sans\"];\n",
        model.name().replace('"', "\\\"")
    );
    for v in model.variables() {
        if matches!(v.kind(), VariableKind::Stock { .. }) {
            let _ = writeln!(out, "  \"{}\";", v.name().replace('"', "\\\""));
        }
    }
    for (i, (flow, from, to)) in flow_ends(model).into_iter().enumerate() {
        let end = |stock: Option<&str>, side: &str, out: &mut String| match stock {
            Some(s) => format!("\"{}\"", s.replace('"', "\\\"")),
            None => {
                let id = format!("cloud{i}{side}");
                let _ = writeln!(out, "  {id} [shape=point, label=\"\"];");
                id
            }
        };
        let a = end(from, "a", &mut out);
        let b = end(to, "b", &mut out);
        let _ = writeln!(
            out,
            "  {a} -> {b} [label=\"{}\"];",
            flow.replace('"', "\\\"")
        );
    }
    out.push_str("}\n");
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A number as the model file writes it, short.
fn number(v: f64) -> String {
    if v.abs() >= 1e5 || (v != 0.0 && v.abs() < 1e-3) {
        format!("{v:e}")
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Markdown tables: stocks (with their flows), flows, auxiliaries,
/// parameters (constants, with per-element values) and lookups; every row
/// carries the variable's `doc`, which for parameters states the source.
pub fn markdown_tables(model: &Model) -> String {
    let mut out = String::new();
    let units = |v: &Variable| v.units_text().unwrap_or("").to_string();
    out.push_str("### Stocks\n\n| stock | units | initial value | inflows | outflows | meaning |\n|---|---|---|---|---|---|\n");
    for v in model.variables() {
        if let VariableKind::Stock {
            initial,
            inflows,
            outflows,
            non_negative,
        } = v.kind()
        {
            let _ = writeln!(
                out,
                "| {}{} | {} | `{}` | {} | {} | {} |",
                cell(&arrayed(v)),
                if *non_negative { " (non-negative)" } else { "" },
                cell(&units(v)),
                cell(initial.text()),
                cell(&inflows.join(", ")),
                cell(&outflows.join(", ")),
                cell(v.doc())
            );
        }
    }
    out.push_str("\n### Flows and auxiliaries\n\n| variable | kind | units | equation | meaning |\n|---|---|---|---|---|\n");
    for v in model.variables() {
        let equation = match v.kind() {
            VariableKind::Flow { equation, .. } | VariableKind::Auxiliary { equation } => equation,
            _ => continue,
        };
        let mut text = format!("`{}`", cell(equation.text()));
        for (element, e) in v.element_equations() {
            let _ = write!(text, "; [{}]: `{}`", element.join(", "), cell(e.text()));
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&arrayed(v)),
            v.kind().label(),
            cell(&units(v)),
            text,
            cell(v.doc())
        );
    }
    out.push_str("\n### Parameters\n\n| parameter | value | units | meaning and source |\n|---|---|---|---|\n");
    for v in model.variables() {
        let value = match v.kind() {
            VariableKind::Constant { value } => *value,
            _ => continue,
        };
        let mut text = number(value);
        if !v.element_equations().is_empty() {
            text = format!("{text} (others)");
            for (element, e) in v.element_equations() {
                let _ = write!(text, "; {}: {}", element.join(", "), e.text());
            }
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(&arrayed(v)),
            cell(&text),
            cell(&units(v)),
            cell(v.doc())
        );
    }
    out.push_str("\n### Lookups\n\n| lookup | input | points (x, y) | meaning and source |\n|---|---|---|---|\n");
    for v in model.variables() {
        let VariableKind::Lookup {
            table,
            input,
            element_tables,
        } = v.kind()
        else {
            continue;
        };
        let points = |t: &crate::model::LookupTable| {
            t.xs()
                .iter()
                .zip(t.ys())
                .map(|(x, y)| format!("({}, {})", number(*x), number(*y)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut text = points(table);
        for (element, t) in element_tables {
            let _ = write!(text, "; [{}]: {}", element.join(", "), points(t));
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(&arrayed(v)),
            input
                .as_ref()
                .map_or("(a function)".into(), |i| format!("`{}`", cell(i.text()))),
            text,
            cell(v.doc())
        );
    }
    out
}

/// The generated reference for a model: its diagram (Mermaid) and tables.
pub fn describe(model: &Model) -> String {
    format!(
        "## Stocks and flows\n\nGenerated from the model file by `carecascade describe`.\n\n```mermaid\n{}```\n\n{}",
        mermaid(model),
        markdown_tables(model)
    )
}

/// The markers between which `carecascade describe --update FILE` puts the
/// generated reference.
pub const MARKERS: (&str, &str) = (
    "<!-- generated by carecascade describe: do not edit below -->",
    "<!-- end of generated reference -->",
);

/// Replaces the text between [`MARKERS`] in `document` with `generated`;
/// `None` if the markers are missing.
pub fn replace_generated(document: &str, generated: &str) -> Option<String> {
    let (open, close) = MARKERS;
    let start = document.find(open)? + open.len();
    let end = start + document[start..].find(close)?;
    Some(format!(
        "{}\n\n{}\n{}",
        &document[..start],
        generated.trim_end(),
        &document[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagrams_join_stocks_by_their_flows() {
        let model =
            crate::format::native::parse(include_str!("../../../models/sir.toml"), None).unwrap();
        let m = mermaid(&model);
        assert!(m.starts_with("flowchart LR\n"));
        assert!(m.contains("s0[\"Susceptible\"]"), "{m}");
        assert!(m.contains("s0 -->|\"Succumbing\"| s1"), "{m}");
        let d = dot(&model);
        assert!(
            d.contains("\"Susceptible\" -> \"Infectious\" [label=\"Succumbing\"];"),
            "{d}"
        );
        let tables = markdown_tables(&model);
        assert!(tables.contains("| Duration | 5 | day |"), "{tables}");
    }

    #[test]
    fn generated_text_goes_between_the_markers() {
        let (open, close) = MARKERS;
        let doc = format!("# Title\n{open}\nold\n{close}\nafter\n");
        let new = replace_generated(&doc, "new\n").unwrap();
        assert_eq!(new, format!("# Title\n{open}\n\nnew\n{close}\nafter\n"));
        assert_eq!(replace_generated(&new, "new\n").unwrap(), new);
        assert!(replace_generated("no markers", "x").is_none());
    }
}
