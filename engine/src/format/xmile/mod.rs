//! XMILE 1.0 import (`.xmile`, `.stmx`, `.itmx`): the OASIS standard that
//! Stella, iThink and simlin write and Vensim exports.
//!
//! Supported: `sim_specs` (start, stop, dt including `reciprocal="true"`,
//! `method`, `time_units`); stocks, flows and auxiliaries with `eqn`,
//! `inflow`, `outflow`, `non_negative`, `units` and `doc`; graphical
//! functions, standalone or inside an auxiliary (`xpts` or `xscale`, `ypts`,
//! custom separators, `type`). Equations use XMILE's builtin spellings
//! (`SMTH1`, `DELAYN`, `SAFEDIV`, ...), which the compiler accepts.
//!
//! XMILE's `PULSE(magnitude, first[, interval])`, an impulse, is rewritten
//! into the Vensim functions the engine follows. Modules (`<module>`,
//! several `<model>`s, `<connect>`) are flattened: a module's variables are
//! named `module.variable`. Macros (`<macro>`) are written out at each
//! call: one made of an `<eqn>` as that equation, one with `<variables>`
//! as a copy of its variables per call (`MACRO k.variable`). `<behavior>`
//! sets which stocks and flows are non-negative by default. Anything not
//! supported (a module in an external file) is an error naming the element
//! and its line, never a silent wrong answer.
//!
//! Every element and attribute is read, ignored as display only, or
//! refused with its line; anything else is a located warning in
//! [`Model::warnings`] (the lists are in this module's `known` part). A
//! file without `<sim_specs>` runs from 0 to 100 with dt 1, with a warning.
//! A graphical function's old `discrete="true"` is read as
//! `type="discrete"`.
//!
//! [`write()`] exports any model as XMILE.

mod known;
mod macros;
mod write;

pub use write::write;

use crate::build::{Aux, Flow, Lookup, ModelBuilder, Source, Stock};
use crate::error::{Error, Location, Result};
use crate::expr::{Expr, ExprKind};
use crate::format::{split_top_level, unquoted};
use crate::limits::{Limits, too_many_dimension_elements};
use crate::model::{Interpolation, Method, Model, TimeSettings};
use crate::name::{canonical_name, closest_while, did_you_mean};
use roxmltree::{Document, Node};
use std::path::Path;
use std::sync::Arc;

/// Reads an XMILE file.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; otherwise as [`parse`].
pub fn load(path: impl AsRef<Path>) -> Result<Model> {
    let source = crate::format::SourceFile::read(path.as_ref())?;
    parse_named(&source.text, Some(&source.name), Some(&source.stem))
}

/// Parses XMILE text. `file` names the source in error messages.
///
/// # Errors
///
/// [`Error::File`] for malformed XML, missing or invalid elements and
/// unsupported features, with the line and column; otherwise the errors of
/// [`ModelBuilder::build`] for the equations.
pub fn parse(text: &str, file: Option<&str>) -> Result<Model> {
    parse_named(text, file, None)
}

struct Reader<'a> {
    file: Option<Arc<str>>,
    doc: &'a Document<'a>,
    /// Where the lines of the document start, for locations.
    lines: crate::error::LineIndex,
    errors: Vec<Error>,
    /// Elements and attributes ignored, for [`Model::warnings`].
    warnings: Vec<crate::program::Warning>,
    /// The named models modules refer to, by canonical name.
    models: std::collections::HashMap<String, Node<'a, 'a>>,
    /// The elements of each dimension, by canonical name.
    dimension_elements: std::collections::HashMap<String, Vec<String>>,
    /// The macros made of an equation, by canonical name.
    macros: std::collections::HashMap<String, macros::Macro>,
    /// The macros with variables of their own, by canonical name.
    variable_macros: std::collections::HashMap<String, VariableMacro<'a>>,
    /// The calls of each macro with variables written out so far.
    macro_calls: std::collections::HashMap<String, usize>,
    /// The macros with variables being written out, outermost first.
    macro_stack: Vec<String>,
    /// Which stocks and flows are non-negative unless they say otherwise:
    /// the file's `<behavior>`.
    behavior: NonNegative,
    /// Whether the file's `<sim_specs>` asks for RK4 (conveyors are
    /// refused then).
    rk4: bool,
    /// Stocks with flows that a `<connect>` feeds: their flows act on the
    /// stock that feeds them.
    shared_stocks: Vec<SharedStock>,
    /// The conveyors read, by flat canonical name (a module's stock cannot
    /// share them: their outflow is computed from their own inflows).
    conveyor_stocks: std::collections::HashSet<String>,
}

/// A module's stock with flows fed by a `<connect>` from a stock outside:
/// as in Stella, the outer stock takes its place, and the module's flows
/// into and out of it flow into and out of the outer stock.
struct SharedStock {
    /// The module's stock, in the flat model (an auxiliary equal to the
    /// outer stock).
    inner: String,
    /// What feeds it, in the flat model.
    outer: String,
    /// The module's stock's inflows and outflows, in the flat model.
    inflows: Vec<String>,
    outflows: Vec<String>,
    /// The `<connect>`.
    origin: Location,
}

/// XMILE's `<behavior>` defaults: whether stocks and flows are
/// non-negative when they have no `<non_negative>` of their own.
#[derive(Clone, Copy, Default)]
struct NonNegative {
    stocks: bool,
    flows: bool,
}

/// An XMILE `<macro>` with variables of its own: every call gets its own
/// copy of them.
#[derive(Clone)]
struct VariableMacro<'a> {
    /// The macro's name as written.
    name: String,
    /// The `<macro>` element.
    node: Node<'a, 'a>,
    /// Each `<parm>`: its name and its default (an equation in the
    /// macro's names), with the element.
    parameters: Vec<(String, Option<String>, Node<'a, 'a>)>,
}

fn parse_named(text: &str, file: Option<&str>, default_name: Option<&str>) -> Result<Model> {
    let file: Option<Arc<str>> = file.map(Arc::from);
    // XMILE files often start with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // The XML reader looks through every namespace in scope for each
    // element: thousands of declarations would make reading quadratic.
    let declarations = text
        .match_indices("xmlns")
        .filter(|&(i, _)| {
            i > 0
                && text.as_bytes()[i - 1].is_ascii_whitespace()
                && matches!(text.as_bytes().get(i + 5), Some(b':' | b'='))
        })
        .count();
    if declarations > MAX_NAMESPACES {
        return Err(Error::File {
            location: Location {
                file: file.clone(),
                line: 1,
                column: 1,
            },
            message: format!(
                "declares {declarations} XML namespaces; an XMILE file needs a few, and at most {MAX_NAMESPACES} are read"
            ),
        });
    }
    let text = declare_missing_prefixes(text);
    let doc = Document::parse(&text).map_err(|e| {
        let pos = e.pos();
        Error::File {
            location: Location {
                file: file.clone(),
                line: pos.row as usize,
                column: pos.col as usize,
            },
            message: format!("not well-formed XML: {e}"),
        }
    })?;
    let mut reader = Reader {
        file,
        doc: &doc,
        lines: crate::error::LineIndex::new(doc.input_text()),
        errors: Vec::new(),
        warnings: Vec::new(),
        models: std::collections::HashMap::new(),
        dimension_elements: std::collections::HashMap::new(),
        macros: std::collections::HashMap::new(),
        variable_macros: std::collections::HashMap::new(),
        macro_calls: std::collections::HashMap::new(),
        macro_stack: Vec::new(),
        behavior: NonNegative::default(),
        rk4: false,
        shared_stocks: Vec::new(),
        conveyor_stocks: std::collections::HashSet::new(),
    };
    let root = doc.root_element();
    for node in root
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "macro")
    {
        let Some(name) = node.attribute("name") else {
            reader
                .errors
                .push(reader.error(node, "<macro> has no name attribute".into()));
            continue;
        };
        let Some(eqn) = children(node, "eqn").next() else {
            reader
                .errors
                .push(reader.error(node, format!("macro `{name}` has no <eqn>")));
            continue;
        };
        if child(node, "variables").is_some() {
            let parameters = children(node, "parm")
                .map(|p| {
                    let default = p
                        .attribute("default")
                        .map(|d| d.trim().to_string())
                        .filter(|d| !d.is_empty());
                    (name_text(trimmed_text(p)), default, p)
                })
                .collect();
            reader.variable_macros.insert(
                canonical_name(name),
                VariableMacro {
                    name: name_text(name.trim()),
                    node,
                    parameters,
                },
            );
            continue;
        }
        let parameters = children(node, "parm")
            .map(|p| canonical_name(trimmed_text(p)))
            .collect();
        let defaults = children(node, "parm")
            .map(|p| {
                p.attribute("default")
                    .map(|d| d.trim().to_string())
                    .filter(|d| !d.is_empty())
            })
            .collect();
        reader.macros.insert(
            canonical_name(name),
            macros::Macro {
                parameters,
                defaults,
                equation: trimmed_text(eqn).to_string(),
            },
        );
    }
    if root.tag_name().name() != "xmile" {
        return Err(reader.error(
            root,
            format!(
                "expected an <xmile> document, found <{}>",
                root.tag_name().name()
            ),
        ));
    }
    let name = child(root, "header")
        .and_then(|h| child(h, "name"))
        .and_then(|n| n.text())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| default_name.map(str::to_string))
        .unwrap_or_else(|| "model".to_string());
    let mut builder = ModelBuilder::new(name);

    // XMILE 1.0 puts <sim_specs> in the root, or in a <model>.
    let specs = child(root, "sim_specs").or_else(|| {
        children(root, "model")
            .filter(|m| m.attribute("name").is_none_or(|n| n.trim().is_empty()))
            .find_map(|m| child(m, "sim_specs"))
    });
    if specs.is_none() {
        builder.warn(
            "",
            Some(reader.location(root.range().start)),
            "the file has no <sim_specs>: the run uses start 0, stop 100, dt 1 and Euler; give them in <sim_specs>",
        );
    }
    if let Some(specs) = specs {
        if let Some(units) = specs
            .attribute("time_units")
            .filter(|u| !u.trim().is_empty())
        {
            builder = builder.time_units(units.trim());
        }
        match reader.sim_specs(specs) {
            Ok(time) => {
                reader.rk4 = time.method() == Method::Rk4;
                builder = builder.time(time);
            }
            Err(e) => reader.errors.push(e),
        }
    }
    // XMILE serves a non-negative stock's outflows in the order listed;
    // carecascade's own export may say they are limited in proportion.
    let proportional = specs
        .and_then(|s| s.attribute((CARECASCADE_NAMESPACE, "outflow_limiting")))
        .is_some_and(|v| v.trim() == "proportional");
    builder = builder.outflow_limiting(if proportional {
        crate::OutflowLimiting::Proportional
    } else {
        crate::OutflowLimiting::InOrder
    });

    if let Some(dimensions) = child(root, "dimensions") {
        // The elements of the dimensions so far, against Limits::elements.
        let mut dimension_elements = 0u64;
        for dim in children(dimensions, "dim") {
            let Some(name) = dim.attribute("name") else {
                reader
                    .errors
                    .push(reader.error(dim, "<dim> has no name attribute".into()));
                continue;
            };
            let mut elements: Vec<String> = children(dim, "elem")
                .filter_map(|e| e.attribute("name"))
                .map(|e| e.trim().to_string())
                .collect();
            if elements.is_empty() {
                // A dimension given by its size has elements 1, 2, ...
                match dim.attribute("size").map(|s| s.trim().parse::<u64>()) {
                    Some(Ok(n)) => {
                        if dimension_elements.saturating_add(n) > Limits::current().elements {
                            reader.errors.push(reader.error(
                                dim,
                                format!(
                                    "dimension `{name}` of size {n}: {}",
                                    too_many_dimension_elements(
                                        u128::from(dimension_elements) + u128::from(n)
                                    )
                                ),
                            ));
                            continue;
                        }
                        elements = (1..=n).map(|i| i.to_string()).collect();
                    }
                    _ => {
                        reader.errors.push(reader.error(
                            dim,
                            format!(
                                "dimension `{name}` needs <elem> children or a whole-number size"
                            ),
                        ));
                        continue;
                    }
                }
            }
            dimension_elements += elements.len() as u64;
            reader
                .dimension_elements
                .insert(canonical_name(name), elements.clone());
            builder = builder.dimension(name.trim(), elements);
        }
    }
    if let Some(behavior) = child(root, "behavior") {
        reader.behavior = reader.read_behavior(behavior, NonNegative::default());
    }
    let models: Vec<Node> = children(root, "model").collect();
    // The main model has no name; the others are the models of modules.
    let unnamed: Vec<Node> = models
        .iter()
        .copied()
        .filter(|m| m.attribute("name").is_none_or(|n| n.trim().is_empty()))
        .collect();
    let main = match (models.as_slice(), unnamed.as_slice()) {
        ([], _) => {
            reader
                .errors
                .push(reader.error(root, "the document has no <model>".into()));
            None
        }
        ([only], _) => Some(*only),
        (_, [main]) => Some(*main),
        (_, []) => {
            reader.errors.push(reader.error(
                models[0],
                "every <model> has a name, so none is the main model; leave the main model's name out".into(),
            ));
            None
        }
        (_, [_, second, ..]) => {
            reader.errors.push(reader.error(
                *second,
                "more than one <model> has no name; only the main model may leave it out".into(),
            ));
            None
        }
    };
    if let Some(main) = main {
        for m in &models {
            if let Some(n) = m.attribute("name").filter(|n| !n.trim().is_empty()) {
                reader.models.insert(canonical_name(n), *m);
            }
        }
        let scope = Scope::default();
        reader.model(main, &scope, &mut vec![String::new()], &mut builder);
        reader.share_stocks(&mut builder);
    }
    reader.check_known(root);
    for w in std::mem::take(&mut reader.warnings) {
        builder.warn(w.variable, w.location, w.message);
    }
    crate::format::build_with(builder, reader.errors)
}

/// Stella writes `isee:` elements and attributes without always declaring
/// the prefix, which strict XML parsers reject. Declares every undeclared
/// prefix on the root element (at the end of its start tag, so that line
/// numbers do not move).
/// The most XML namespace declarations a file may have.
const MAX_NAMESPACES: usize = 1000;

/// The most namespace prefixes [`declare_missing_prefixes`] declares.
const MAX_UNDECLARED_PREFIXES: usize = 64;

fn declare_missing_prefixes(text: &str) -> std::borrow::Cow<'_, str> {
    let Some(root_start) = text.find("<xmile") else {
        return text.into();
    };
    let Some(root_end) = text[root_start..].find('>').map(|i| root_start + i) else {
        return text.into();
    };
    // In time proportional to the text: each colon looks only at the
    // names beside it, and the prefixes are kept in sets.
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let declared: std::collections::HashSet<&str> = text
        .match_indices("xmlns:")
        .filter_map(|(i, _)| {
            let rest = &text[i + 6..];
            let len = rest.find(|c: char| !name_char(c)).unwrap_or(rest.len());
            rest[len..].starts_with('=').then(|| &rest[..len])
        })
        .collect();
    let mut prefixes: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices(':') {
        // A prefix is the name just before the colon, after `<`, `</` or whitespace.
        let start = text[..i]
            .char_indices()
            .rev()
            .find(|&(_, c)| !name_char(c))
            .map_or(0, |(j, c)| j + c.len_utf8());
        if start == i || start == 0 {
            continue;
        }
        let before = bytes[start - 1];
        let after = &text[i + 1..];
        let after_ok = after.starts_with(|c: char| c.is_ascii_alphabetic());
        let is_tag = before == b'<' || (before == b'/' && start >= 2 && bytes[start - 2] == b'<');
        // `prefix:name=`: only name characters between the colon and `=`.
        let is_attribute = before.is_ascii_whitespace() && {
            let len = after.find(|c: char| !name_char(c)).unwrap_or(after.len());
            after[len..].starts_with('=')
        };
        let prefix = &text[start..i];
        if after_ok
            && (is_tag || is_attribute)
            && prefix != "xmlns"
            && prefix != "xml"
            && seen.insert(prefix)
        {
            prefixes.push(prefix);
        }
    }
    let missing: Vec<&str> = prefixes
        .into_iter()
        .filter(|p| !declared.contains(p))
        .collect();
    // Files use a few vendors' prefixes; declaring thousands would only
    // slow the XML reader (which then looks through them for every
    // element), and the file is refused as not well-formed instead.
    if missing.is_empty() || missing.len() > MAX_UNDECLARED_PREFIXES {
        return text.into();
    }
    let declarations: String = missing
        .iter()
        .map(|p| format!(" xmlns:{p}=\"urn:carecascade:undeclared:{p}\""))
        .collect();
    let insert_at = if text[..root_end].ends_with('/') {
        root_end - 1
    } else {
        root_end
    };
    format!(
        "{}{}{}",
        &text[..insert_at],
        declarations,
        &text[insert_at..]
    )
    .into()
}

/// Where a model's variables go in the flat model: a module's variables
/// are named `module.variable` (`outer.inner.variable` when nested), and
/// its inputs take the expressions connected to them.
#[derive(Default)]
struct Scope {
    /// `""` for the main model, else the module path and a dot.
    prefix: String,
    /// Canonical names of this model's variables and modules.
    locals: std::collections::HashSet<String>,
    /// Canonical names of this model's modules.
    modules: std::collections::HashSet<String>,
    /// Connected inputs: canonical variable name, the expression (a name in
    /// the flat model) and the `<connect>` that made it.
    inputs: std::collections::HashMap<String, Source>,
    /// The model's `<behavior>` (else the file's).
    non_negative: NonNegative,
    /// The equations of conveyors' outflows (see [`Reader::conveyors`]),
    /// by the flow's canonical name, in the model's own names.
    conveyor_outflows: std::collections::HashMap<String, Source>,
    /// In the copy of a macro's variables for a call from an arrayed
    /// variable: the caller's dimensions, which every variable of the copy
    /// takes (each element its own copy of the macro's stocks).
    macro_dims: Vec<String>,
}

impl Scope {
    /// The flat name of a name written in this model, if it is local: a
    /// variable of the model or `module.output` of one of its modules.
    fn qualify(&self, name: &str) -> Option<String> {
        let canonical = canonical_name(name);
        let first = canonical.split('.').next().unwrap_or("");
        let local = self.locals.contains(&canonical)
            || (canonical.contains('.') && self.modules.contains(first));
        local.then(|| format!("{}{}", self.prefix, name.trim()))
    }
}

/// For a `<connect>` of module `module`: the module's variable it reads
/// when it feeds the enclosing model (`from="module.x"` and a `to` that is
/// not the module's), else `None` (an input of the module).
fn output_of<'t>(module: &str, to: &str, from: &'t str) -> Option<&'t str> {
    fn of_module<'n>(module: &str, name: &'n str) -> Option<&'n str> {
        name.trim()
            .split_once('.')
            .filter(|(m, _)| canonical_name(&name_text(m)) == canonical_name(module))
            .map(|(_, rest)| rest)
    }
    match (of_module(module, to), of_module(module, from)) {
        (None, Some(output)) => Some(output.trim()),
        _ => None,
    }
}

/// The namespace of carecascade's own XMILE attributes.
pub(crate) const CARECASCADE_NAMESPACE: &str = "https://github.com/carecascade/xmile";

/// A name as a quoted equation name.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\\\""))
}

/// The first child element with this local name.
fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn trimmed_text<'a>(node: Node<'a, '_>) -> &'a str {
    node.text().map(str::trim).unwrap_or("")
}

impl<'a> Reader<'a> {
    fn location(&self, offset: usize) -> Location {
        let origin = self.file.clone().map(|f| Location::in_file(f, 1, 1));
        let mut location = self
            .lines
            .location(self.doc.input_text(), offset, origin.as_ref());
        location.file = self.file.clone();
        location
    }

    fn error(&self, node: Node, message: String) -> Error {
        Error::File {
            location: self.location(node.range().start),
            message,
        }
    }

    fn number(&self, node: Node) -> Result<f64> {
        let text = trimmed_text(node);
        text.parse::<f64>().map_err(|_| {
            self.error(
                node,
                format!(
                    "<{}> should be a number, not `{text}`",
                    node.tag_name().name()
                ),
            )
        })
    }

    fn sim_specs(&self, specs: Node) -> Result<TimeSettings> {
        let value = |name: &str, default: f64| match child(specs, name) {
            Some(n) => self.number(n),
            None => Ok(default),
        };
        let start = value("start", 0.0)?;
        let stop = value("stop", 100.0)?;
        let mut dt = value("dt", 1.0)?;
        if let Some(node) = child(specs, "dt")
            && node
                .attribute("reciprocal")
                .is_some_and(|r| r.eq_ignore_ascii_case("true"))
        {
            dt = 1.0 / dt;
        }
        let located = |e: Error| match e {
            Error::Time(message) => self.error(specs, format!("invalid time settings: {message}")),
            other => other,
        };
        let mut time = TimeSettings::new(start, stop, dt).map_err(located)?;
        if let Some(node) = child(specs, "savestep").or_else(|| child(specs, "save_interval")) {
            time = time
                .with_save_interval(self.number(node)?)
                .map_err(located)?;
        }
        if let Some(method) = specs.attribute("method") {
            let parsed = match method.trim().to_ascii_lowercase().as_str() {
                "euler" => Method::Euler,
                "rk4" => Method::Rk4,
                other => {
                    return Err(self.error(
                        specs,
                        format!("integration method `{other}` is not supported; carecascade integrates with Euler or RK4"),
                    ));
                }
            };
            time = time.with_method(parsed);
        }
        Ok(time)
    }

    /// Reads a model's variables into the builder. `path` holds the models
    /// being read, outermost first, so that a model containing itself is
    /// reported instead of recursing forever.
    fn model(
        &mut self,
        model: Node<'a, 'a>,
        scope: &Scope,
        path: &mut Vec<String>,
        builder: &mut ModelBuilder,
    ) {
        // XMILE 1.0 lists variables in <variables>; earlier drafts put
        // them directly in <model>.
        let holder = child(model, "variables").unwrap_or(model);
        let nodes: Vec<Node> = holder.children().filter(Node::is_element).collect();
        // Vensim's XMILE export writes some flows as <aux>; a variable
        // that a stock lists as an inflow or outflow is a flow.
        let flows: std::collections::HashSet<String> = nodes
            .iter()
            .filter(|n| n.tag_name().name() == "stock")
            .flat_map(|n| children(*n, "inflow").chain(children(*n, "outflow")))
            .map(|f| canonical_name(&name_text(unquoted(trimmed_text(f)))))
            .collect();
        let named = |tags: &[&str]| -> std::collections::HashSet<String> {
            nodes
                .iter()
                .filter(|n| tags.contains(&n.tag_name().name()))
                .filter_map(|n| n.attribute("name"))
                .map(|n| canonical_name(&name_text(n)))
                .collect()
        };
        let modules = named(&["module"]);
        let locals = named(&["stock", "flow", "aux", "gf", "module"]);
        // An input connected to a variable this model does not have.
        for (input, source) in &scope.inputs {
            if !locals.contains(input) || modules.contains(input) {
                let suggestion = closest_while(
                    self.errors.len(),
                    input,
                    nodes
                        .iter()
                        .filter(|n| n.tag_name().name() != "module")
                        .filter_map(|n| n.attribute("name")),
                );
                self.errors.push(Error::File {
                    location: source.origin.clone().unwrap_or_else(|| self.location(0)),
                    message: format!(
                        "<connect> names `{input}`, which is not a variable of module `{}`{}",
                        scope.prefix.trim_end_matches('.'),
                        did_you_mean(suggestion)
                    ),
                });
            }
        }
        // A <connect> whose `from` is the module's own variable
        // (`m.output`) and whose `to` is a variable of this model feeds
        // that variable from the module (Stella writes module outputs so).
        let mut inputs = scope.inputs.clone();
        for module in nodes.iter().filter(|n| n.tag_name().name() == "module") {
            let Some(module_name) = module.attribute("name").map(|n| name_text(n.trim())) else {
                continue;
            };
            for connect in children(*module, "connect") {
                let (Some(to), Some(from)) = (connect.attribute("to"), connect.attribute("from"))
                else {
                    continue;
                };
                if let Some(output) = output_of(&module_name, to, from) {
                    let to = to.trim().trim_start_matches('.');
                    inputs.insert(
                        canonical_name(&name_text(to)),
                        Source {
                            text: quoted(&format!("{}{module_name}.{output}", scope.prefix)),
                            origin: Some(self.location(connect.range().start)),
                        },
                    );
                }
            }
        }
        let non_negative = match child(model, "behavior") {
            Some(behavior) => self.read_behavior(behavior, self.behavior),
            None => self.behavior,
        };
        let conveyor_outflows = self.conveyors(&nodes, &inputs, &scope.prefix);
        let inner = Scope {
            prefix: scope.prefix.clone(),
            locals,
            modules,
            inputs,
            non_negative,
            conveyor_outflows,
            macro_dims: Vec::new(),
        };
        for node in nodes {
            if node.tag_name().name() == "module" {
                self.module(node, &inner, path, builder);
            } else {
                self.variable(node, &flows, &inner, builder);
            }
        }
    }

    /// Reads a `<module>`: the variables of the model it names, under the
    /// module's name, with its `<connect>`ed inputs.
    fn module(
        &mut self,
        node: Node<'a, 'a>,
        scope: &Scope,
        path: &mut Vec<String>,
        builder: &mut ModelBuilder,
    ) {
        let Some(name) = node.attribute("name").filter(|n| !n.trim().is_empty()) else {
            self.errors
                .push(self.error(node, "<module> has no name attribute".into()));
            return;
        };
        let name = name_text(name.trim());
        if let Some(resource) = node.attribute("resource") {
            self.errors.push(self.error(
                node,
                format!("module `{name}` refers to the external file `{resource}`, which carecascade does not read: copy its <model name=\"{name}\"> into this file"),
            ));
            return;
        }
        // XMILE 1.0 finds the model by the module's name; `model="..."`
        // (as simlin writes) names it when they differ.
        let model_name = node.attribute("model").unwrap_or(&name).trim().to_string();
        let Some(&model) = self.models.get(&canonical_name(&model_name)) else {
            let suggestion = closest_while(
                self.errors.len(),
                &model_name,
                self.models.values().filter_map(|m| m.attribute("name")),
            );
            self.errors.push(self.error(
                node,
                format!(
                    "module `{name}` needs a <model name=\"{model_name}\">, and the file has none{}",
                    did_you_mean(suggestion)
                ),
            ));
            return;
        };
        if path.contains(&canonical_name(&model_name)) {
            self.errors.push(self.error(
                node,
                format!("module `{name}` contains model `{model_name}`, which contains itself"),
            ));
            return;
        }
        let prefix = format!("{}{}.", scope.prefix, name);
        let mut inputs = std::collections::HashMap::new();
        for connect in children(node, "connect") {
            let (Some(to), Some(from)) = (connect.attribute("to"), connect.attribute("from"))
            else {
                self.errors.push(self.error(
                    connect,
                    "<connect> needs `to` (the module's input) and `from` (what feeds it)".into(),
                ));
                continue;
            };
            // An output (from the module to this model) was taken by the
            // enclosing model.
            if output_of(&name, to, from).is_some() {
                continue;
            }
            // `to` is the module's variable, with or without the module's name.
            let to = to.trim();
            let to = match to.split_once('.') {
                Some((m, rest)) if canonical_name(m) == canonical_name(&name) => rest,
                _ => to,
            };
            // `from` is a name in the enclosing model; a leading dot makes
            // it absolute (from the main model).
            // An element of an array (`from="need[r1]"`) keeps its
            // subscript after the qualified name.
            let from = from.trim();
            let (from, subscript) = match from.find('[') {
                Some(i) => (from[..i].trim(), &from[i..]),
                None => (from, ""),
            };
            let flat = match from.strip_prefix('.') {
                Some(absolute) => absolute.to_string(),
                None => scope
                    .qualify(from)
                    .unwrap_or_else(|| format!("{}{from}", scope.prefix)),
            };
            inputs.insert(
                canonical_name(to),
                Source {
                    text: format!("{}{subscript}", quoted(&flat)),
                    origin: Some(self.location(connect.range().start)),
                },
            );
        }
        path.push(canonical_name(&model_name));
        let scope = Scope {
            prefix,
            inputs,
            ..Scope::default()
        };
        self.model(model, &scope, path, builder);
        path.pop();
    }

    /// Renames the names of an equation written inside a module to their
    /// names in the flat model.
    fn qualify(&self, scope: &Scope, source: &mut Source) {
        if scope.prefix.is_empty() {
            return;
        }
        let Ok(expr) = crate::expr::parse(&source.text) else {
            return; // the builder reports the syntax error, located
        };
        let mut renames: Vec<(std::ops::Range<usize>, String)> = Vec::new();
        expr.walk(&mut |e: &Expr| {
            let (name, span) = match &e.kind {
                ExprKind::Name(n) => (n, e.span.clone()),
                ExprKind::Subscript {
                    name, name_span, ..
                }
                | ExprKind::Call {
                    name, name_span, ..
                } => (name, name_span.clone()),
                _ => return,
            };
            if let Some(flat) = scope.qualify(name) {
                renames.push((span, quoted(&flat)));
            }
        });
        renames.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
        for (span, text) in renames {
            source.text.replace_range(span, &text);
        }
    }

    /// An equation's text and where its first character is, with calls
    /// of macros written out.
    fn equation(&mut self, eqn: Node) -> Source {
        let text = eqn.text().unwrap_or("");
        let leading = text.len() - text.trim_start().len();
        let offset = eqn
            .first_child()
            .map_or(eqn.range().start, |t| t.range().start)
            + leading;
        let text = if self.macros.is_empty() {
            text.trim().to_string()
        } else {
            match macros::inline(text.trim(), &self.macros) {
                Ok(text) => text,
                Err(message) => {
                    let e = self.error(eqn, message);
                    self.errors.push(e);
                    text.trim().to_string()
                }
            }
        };
        Source {
            text,
            origin: Some(self.location(offset)),
        }
    }

    /// Writes out the calls, in `source` (an equation of `owner` already
    /// in the flat model's names), of the macros with variables of their
    /// own: each call gets its own copy of the macro's variables, named
    /// `MACRO k.variable` (k counting the macro's calls from 1, under the
    /// caller's module), an auxiliary `MACRO k.parameter` for each
    /// parameter, equal to the argument (or the parameter's default), and
    /// the call becomes the macro's `<eqn>` in those names. Called from an
    /// arrayed equation (over `dims`), the copy's variables and parameters
    /// are arrayed over those dimensions: each element has its own copy of
    /// the macro's stocks, its parameters are the arguments as the caller's
    /// element reads them, and the macro's names read the element being
    /// computed.
    fn expand_macros(
        &mut self,
        owner: &str,
        dims: &[String],
        node: Node,
        prefix: &str,
        source: &mut Source,
        builder: &mut ModelBuilder,
    ) {
        let Ok(expr) = crate::expr::parse(&source.text) else {
            return; // the builder reports it, with its place
        };
        let mut calls = false;
        expr.walk(&mut |e| {
            if let ExprKind::Call { name, .. } = &e.kind
                && self.variable_macros.contains_key(&canonical_name(name))
            {
                calls = true;
            }
        });
        if !calls {
            return;
        }
        let location = source.origin.clone();
        match self.render_macro_calls(&expr, &source.text, prefix, dims, &location, builder) {
            Ok(text) => source.text = text,
            Err(message) => self.errors.push(Error::File {
                location: location.unwrap_or_else(|| self.location(node.range().start)),
                message: format!("`{owner}`: {message}"),
            }),
        }
    }

    fn render_macro_calls(
        &mut self,
        e: &Expr,
        text: &str,
        prefix: &str,
        dims: &[String],
        location: &Option<Location>,
        builder: &mut ModelBuilder,
    ) -> std::result::Result<String, String> {
        if let ExprKind::Call { name, args, .. } = &e.kind
            && let Some(m) = self.variable_macros.get(&canonical_name(name)).cloned()
        {
            let key = canonical_name(name);
            if self.macro_stack.contains(&key) {
                return Err(format!(
                    "macro `{}` calls itself (through {}), which would need copies without end",
                    m.name,
                    self.macro_stack.join(", ")
                ));
            }
            let required = m
                .parameters
                .iter()
                .rposition(|(_, default, _)| default.is_none())
                .map_or(0, |i| i + 1);
            if args.len() < required || args.len() > m.parameters.len() {
                let names: Vec<&str> = m.parameters.iter().map(|(n, _, _)| n.as_str()).collect();
                return Err(format!(
                    "macro `{}` takes {} argument(s) ({}), got {}",
                    m.name,
                    if required == m.parameters.len() {
                        required.to_string()
                    } else {
                        format!("{required} to {}", m.parameters.len())
                    },
                    names.join(", "),
                    args.len()
                ));
            }
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                values.push(self.render_macro_calls(a, text, prefix, dims, location, builder)?);
            }
            let count = self.macro_calls.entry(key.clone()).or_insert(0);
            *count += 1;
            let instance = format!("{prefix}{} {count}.", m.name);
            self.macro_stack.push(key);
            let output = self.instantiate(&m, &instance, dims, values, location, builder);
            self.macro_stack.pop();
            return Ok(format!("({output})"));
        }
        crate::expr::splice_children(e, text, |child| {
            self.render_macro_calls(child, text, prefix, dims, location, builder)
        })
    }

    /// One copy of a macro's variables under `prefix`, its parameters
    /// equal to `values` (or their defaults), arrayed over `dims` (the
    /// caller's, if it is arrayed); returns the macro's `<eqn>` in the
    /// copy's names.
    fn instantiate(
        &mut self,
        m: &VariableMacro<'a>,
        prefix: &str,
        dims: &[String],
        values: Vec<String>,
        location: &Option<Location>,
        builder: &mut ModelBuilder,
    ) -> String {
        let holder = child(m.node, "variables").unwrap_or(m.node);
        let nodes: Vec<Node<'a, 'a>> = holder.children().filter(Node::is_element).collect();
        let flows: std::collections::HashSet<String> = nodes
            .iter()
            .filter(|n| n.tag_name().name() == "stock")
            .flat_map(|n| children(*n, "inflow").chain(children(*n, "outflow")))
            .map(|f| canonical_name(&name_text(unquoted(trimmed_text(f)))))
            .collect();
        let mut locals: std::collections::HashSet<String> = nodes
            .iter()
            .filter_map(|n| n.attribute("name"))
            .map(|n| canonical_name(&name_text(n)))
            .collect();
        for (parameter, _, parm) in &m.parameters {
            if !locals.insert(canonical_name(parameter)) {
                self.errors.push(self.error(
                    *parm,
                    format!(
                        "macro `{}` has a parameter and a variable both named `{parameter}`",
                        m.name
                    ),
                ));
            }
        }
        let scope = Scope {
            prefix: prefix.to_string(),
            locals,
            non_negative: self.behavior,
            macro_dims: dims.to_vec(),
            ..Scope::default()
        };
        let mut values = values.into_iter();
        for (parameter, default, parm) in &m.parameters {
            let source = match values.next() {
                Some(text) => Source {
                    text,
                    origin: location.clone(),
                },
                None => {
                    let mut source = Source {
                        text: default.clone().unwrap_or_default(),
                        origin: Some(self.location(parm.range().start)),
                    };
                    self.qualify(&scope, &mut source);
                    source
                }
            };
            let aux = Aux::new(format!("{prefix}{parameter}"), source)
                .doc(format!(
                    "parameter `{parameter}` of a call of macro `{}`",
                    m.name
                ))
                .dimensions(dims.to_vec());
            builder.push(aux);
        }
        for node in nodes {
            match node.tag_name().name() {
                "module" => self.errors.push(self.error(
                    node,
                    format!(
                        "macro `{}` holds a module, which is not supported: a macro's variables are stocks, flows, auxiliaries and graphical functions",
                        m.name
                    ),
                )),
                _ => self.variable(node, &flows, &scope, builder),
            }
        }
        let Some(eqn) = child(m.node, "eqn") else {
            self.errors
                .push(self.error(m.node, format!("macro `{}` has no <eqn>", m.name)));
            return "0".into();
        };
        let mut output = self.equation(eqn);
        self.qualify(&scope, &mut output);
        let owner = format!("{}{}", prefix, m.name);
        self.expand_macros(&owner, dims, eqn, prefix, &mut output, builder);
        output.text
    }

    /// A `<non_negative>`: empty or `true` is true, `false` false; anything
    /// else is an error (and `None`).
    fn flag(&mut self, node: Node) -> Option<bool> {
        match trimmed_text(node).to_ascii_lowercase().as_str() {
            "" | "true" => Some(true),
            "false" => Some(false),
            other => {
                let e = self.error(
                    node,
                    format!(
                        "<non_negative> holds `{other}`; write <non_negative/> (or true) or false"
                    ),
                );
                self.errors.push(e);
                None
            }
        }
    }

    /// XMILE's `<behavior>`: `<non_negative/>` for every stock and flow,
    /// `<stock><non_negative/></stock>` or `<flow>...` for one kind, over
    /// the defaults `base`. (Anything else in it is refused by the check
    /// of known elements.)
    fn read_behavior(&mut self, behavior: Node, base: NonNegative) -> NonNegative {
        let mut out = base;
        for item in behavior.children().filter(Node::is_element) {
            match item.tag_name().name() {
                "non_negative" => {
                    if let Some(yes) = self.flag(item) {
                        out = NonNegative {
                            stocks: yes,
                            flows: yes,
                        };
                    }
                }
                kind @ ("stock" | "flow") => {
                    if let Some(yes) = child(item, "non_negative").and_then(|f| self.flag(f)) {
                        if kind == "stock" {
                            out.stocks = yes;
                        } else {
                            out.flows = yes;
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Gives the flows of the modules' stocks fed by `<connect>`s (see
    /// [`SharedStock`]) to the stocks that feed them, following a stock
    /// fed by another module's stock to the stock that feeds that one.
    fn share_stocks(&mut self, builder: &mut ModelBuilder) {
        let shared = std::mem::take(&mut self.shared_stocks);
        let aliases: std::collections::HashMap<String, String> = shared
            .iter()
            .map(|s| (canonical_name(&s.inner), s.outer.clone()))
            .collect();
        for stock in shared {
            let mut outer = stock.outer.clone();
            for _ in 0..aliases.len() {
                match aliases.get(&canonical_name(&outer)) {
                    Some(next) => outer = next.clone(),
                    None => break,
                }
            }
            if self.conveyor_stocks.contains(&canonical_name(&outer)) {
                self.errors.push(Error::File {
                    location: stock.origin,
                    message: format!(
                        "<connect> feeds `{}`, a stock with flows, from `{outer}`, a conveyor; a module's flows into and out of a conveyor are not supported",
                        stock.inner
                    ),
                });
                continue;
            }
            if !builder.attach_flows(&outer, &stock.inflows, &stock.outflows) {
                let what = builder
                    .kind_of(&outer)
                    .unwrap_or("not a variable of the model");
                self.errors.push(Error::File {
                    location: stock.origin,
                    message: format!(
                        "<connect> feeds `{}`, a stock with flows, from `{outer}`, which is {what}; only a stock can take the place of a stock with flows (its flows then act on that stock)",
                        stock.inner
                    ),
                });
            }
        }
    }

    /// Stella's conveyors, as far as carecascade reads them: a stock with
    /// `<conveyor>` carries what flows in for its transit time `<len>`,
    /// then lets it out through its one outflow, which is `DELAY(inflows,
    /// len, initial)` with the stock's initial contents spread evenly over
    /// the transit time (they leave at `stock / len` a unit of time until
    /// the first inflow arrives), as Stella spreads them over the
    /// conveyor's slats. The transit time is a whole number of DTs, read
    /// when the run starts (as `DELAY` reads it), and so must not change:
    /// it may be a number, or use auxiliaries whose equations are numbers.
    /// Everything else a conveyor can do (leakage, capacity, an inflow
    /// limit, sampling, arrest, discrete batches, RK4) is refused with its
    /// line: the check of known elements refuses the elements, this the
    /// attributes and the rest.
    ///
    /// Returns the outflows' equations by the flow's canonical name.
    fn conveyors(
        &mut self,
        nodes: &[Node<'a, 'a>],
        inputs: &std::collections::HashMap<String, Source>,
        prefix: &str,
    ) -> std::collections::HashMap<String, Source> {
        let mut out = std::collections::HashMap::new();
        let find = |name: &str| {
            nodes.iter().copied().find(|n| {
                n.attribute("name")
                    .is_some_and(|m| canonical_name(&name_text(m)) == canonical_name(name))
            })
        };
        for stock in nodes.iter().filter(|n| n.tag_name().name() == "stock") {
            let Some(conveyor) = child(*stock, "conveyor") else {
                continue;
            };
            let name = name_text(stock.attribute("name").unwrap_or("").trim());
            let refuse = |this: &mut Self, node: Node, why: String| {
                let e = this.error(node, format!("conveyor `{name}`: {why}"));
                this.errors.push(e);
            };
            if self.rk4 {
                refuse(
                    self,
                    conveyor,
                    "conveyors are read for Euler integration only (material moves one DT at a time); the file's <sim_specs> asks for RK4".into(),
                );
                continue;
            }
            if inputs.contains_key(&canonical_name(&name)) {
                refuse(
                    self,
                    conveyor,
                    "a conveyor fed by a module's <connect> is not supported".into(),
                );
                continue;
            }
            let mut supported = true;
            for attribute in conveyor.attributes() {
                let what = match attribute.name() {
                    "discrete" => "discrete conveyors (batches that move as units)",
                    "batch_integrity" => "batch integrity",
                    "one_at_a_time" => "releasing batches one at a time",
                    "exponential_leak" => "exponential leakage",
                    _ => continue,
                };
                if attribute.value().trim().eq_ignore_ascii_case("true") {
                    refuse(
                        self,
                        conveyor,
                        format!("{what} (`{}=\"true\"`) is not supported", attribute.name()),
                    );
                    supported = false;
                }
            }
            // Leakage, capacity, inflow limits, sampling and arrest are
            // refused by the check of known elements.
            let Some(len) = child(conveyor, "len") else {
                refuse(
                    self,
                    conveyor,
                    "<conveyor> needs <len>, the transit time".into(),
                );
                continue;
            };
            let len_text = trimmed_text(len).to_string();
            match crate::expr::parse(&len_text) {
                Err(_) => {
                    refuse(
                        self,
                        len,
                        format!("the transit time `{len_text}` is not an equation"),
                    );
                    continue;
                }
                Ok(expr) => {
                    let mut changing = Vec::new();
                    expr.walk(&mut |e: &Expr| {
                        if let ExprKind::Name(n) | ExprKind::Subscript { name: n, .. } = &e.kind {
                            // A module input's own equation is not what
                            // it holds.
                            let constant = !inputs.contains_key(&canonical_name(n))
                                && find(n).is_some_and(|v| {
                                    v.tag_name().name() == "aux"
                                        && child(v, "gf").is_none()
                                        && child(v, "dimensions").is_none()
                                        && child(v, "eqn")
                                            .is_some_and(|q| trimmed_text(q).parse::<f64>().is_ok())
                                });
                            if !constant {
                                changing.push(n.clone());
                            }
                        }
                    });
                    if let Some(first) = changing.first() {
                        refuse(
                            self,
                            len,
                            format!(
                                "the transit time `{len_text}` uses `{first}`, which is not an auxiliary whose equation is a number; Stella gives each batch the transit time in force when it enters, and carecascade reads a conveyor's transit time once, when the run starts, so it must not change"
                            ),
                        );
                        continue;
                    }
                }
            }
            let outflows: Vec<String> = children(*stock, "outflow")
                .map(|f| name_text(unquoted(trimmed_text(f))))
                .filter(|f| find(f).is_none_or(|n| child(n, "leak").is_none()))
                .collect();
            if outflows.len() > 1 {
                refuse(
                    self,
                    *stock,
                    format!(
                        "a conveyor has one outflow at its end (besides leakage flows); `{}` and `{}` are both outflows",
                        outflows[0], outflows[1]
                    ),
                );
                continue;
            }
            if !supported {
                continue;
            }
            self.conveyor_stocks
                .insert(canonical_name(&format!("{prefix}{name}")));
            let Some(outflow) = outflows.first() else {
                continue; // what flows in stays: an ordinary stock
            };
            let inflows: Vec<String> = children(*stock, "inflow")
                .map(|f| quoted(&name_text(unquoted(trimmed_text(f)))))
                .collect();
            let input = if inflows.is_empty() {
                "0".to_string()
            } else {
                inflows.join(" + ")
            };
            let text = format!(
                "DELAY({input}, ({len_text}), {stock} / (DT * MAX(1, ROUND(({len_text}) / DT))))",
                stock = quoted(&name),
            );
            out.insert(
                canonical_name(outflow),
                Source {
                    text,
                    origin: Some(self.location(len.range().start)),
                },
            );
        }
        out
    }

    fn variable(
        &mut self,
        node: Node,
        flows: &std::collections::HashSet<String>,
        scope: &Scope,
        builder: &mut ModelBuilder,
    ) {
        let mut kind = node.tag_name().name();
        match kind {
            "stock" | "flow" | "aux" | "gf" => {}
            // Display groupings, diagrams and vendor metadata (<group>,
            // <views>, <dependencies>, isee:...) do not change the numbers.
            _ => return,
        }
        let Some(name) = node.attribute("name") else {
            self.errors
                .push(self.error(node, format!("<{kind}> has no name attribute")));
            return;
        };
        let local = name_text(name.trim());
        if kind == "aux" && child(node, "gf").is_none() && flows.contains(&canonical_name(&local)) {
            kind = "flow";
        }
        let name = format!("{}{local}", scope.prefix);
        // An arrayed variable: its dimensions and per-element equations.
        let mut dims: Vec<String> = Vec::new();
        if let Some(list) = child(node, "dimensions") {
            // Some translators nest <dimensions> twice and repeat the
            // dimension; a dimension is listed once.
            for dim in list
                .descendants()
                .filter(|d| d.is_element() && d.tag_name().name() == "dim")
            {
                if let Some(d) = dim.attribute("name").map(|d| d.trim().to_string())
                    && !dims.iter().any(|x| canonical_name(x) == canonical_name(&d))
                {
                    dims.push(d);
                }
            }
        }
        // In a copy of a macro called from an arrayed variable, each
        // variable is arrayed as the caller is (a graphical function that
        // is only a table is the same for every element).
        if !scope.macro_dims.is_empty() && kind != "gf" {
            if !dims.is_empty() {
                self.errors.push(self.error(
                    node,
                    format!("`{name}` is arrayed inside a macro called from an arrayed variable, which is not supported: call the macro from a variable that is not arrayed, or make the macro's variables scalars"),
                ));
                return;
            }
            dims = scope.macro_dims.clone();
        }
        let mut elements: Vec<(Vec<String>, Source)> = Vec::new();
        let mut element_gfs: Vec<(Vec<String>, Node)> = Vec::new();
        for element in children(node, "element") {
            let subscript = element.attribute("subscript").unwrap_or("");
            let tuple: Vec<String> = subscript.split(',').map(|e| e.trim().to_string()).collect();
            // An element of a standalone <gf> may hold its points directly.
            let gf = child(element, "gf")
                .or_else(|| (kind == "gf" && child(element, "ypts").is_some()).then_some(element));
            let eqn = child(element, "eqn");
            if let Some(e) = eqn {
                elements.push((tuple.clone(), self.equation(e)));
            }
            if let Some(g) = gf {
                element_gfs.push((tuple, g));
            }
            if eqn.is_none() && gf.is_none() {
                self.errors.push(self.error(
                    element,
                    format!("element [{subscript}] of `{name}` has no <eqn> or <gf>"),
                ));
            }
        }
        let location = self.location(node.range().start);
        let doc = child(node, "doc")
            .map(|d| trimmed_text(d).to_string())
            .unwrap_or_default();
        let units = child(node, "units")
            .map(trimmed_text)
            .filter(|u| !u.is_empty())
            .map(str::to_string);
        // `<non_negative/>` (or `true`) marks it; `false` turns off a
        // <behavior> default; without one, the default.
        let default = match kind {
            "stock" => scope.non_negative.stocks,
            "flow" => scope.non_negative.flows,
            _ => false,
        };
        let non_negative = match child(node, "non_negative") {
            Some(flag) => self.flag(flag).unwrap_or(default),
            None => default,
        };
        // An empty <eqn/> beside per-element equations says nothing.
        let mut eqn = child(node, "eqn")
            .map(|e| self.equation(e))
            .filter(|s| !s.text.is_empty() || elements.is_empty());
        // Stella writes an array's values as a list: `1, 2, 3`, with rows
        // separated by `;` for two dimensions, which may end with `;`.
        if let Some(source) = &eqn {
            let mut parts = split_top_level(&source.text, &[',', ';']);
            if parts.len() > 1 && parts.last().is_some_and(|(_, p)| p.trim().is_empty()) {
                parts.pop();
            }
            if !dims.is_empty() && elements.is_empty() && parts.len() > 1 {
                let count = self.element_count(&dims);
                if parts.len() as u128 != count {
                    self.errors.push(self.error(
                        node,
                        format!(
                            "`{name}` lists {} values for its {count} elements",
                            parts.len(),
                        ),
                    ));
                    return;
                }
                // As many as the values listed.
                let tuples = self.element_tuples(&dims);
                for (tuple, (offset, part)) in tuples.into_iter().zip(parts) {
                    let origin = source
                        .origin
                        .as_ref()
                        .map(|o| Location::of_offset(&source.text, offset, Some(o)));
                    elements.push((
                        tuple,
                        Source {
                            text: part.trim().to_string(),
                            origin,
                        },
                    ));
                }
                eqn = Some(elements[0].1.clone());
            }
        }
        if eqn.is_none() && !elements.is_empty() {
            // Every element has its own equation: the first stands for the
            // variable, and must not be used for any other element.
            let count = self.element_count(&dims);
            if elements.len() as u128 == count {
                eqn = Some(elements[0].1.clone());
            } else {
                self.errors.push(self.error(
                    node,
                    format!("`{name}` gives equations for {} of its {count} elements and no <eqn> for the rest", elements.len()),
                ));
                return;
            }
        }
        // A conveyor's outflow is what reaches the end of the conveyor,
        // whatever the flow's own equation says.
        if kind == "flow"
            && let Some(source) = scope.conveyor_outflows.get(&canonical_name(&local))
        {
            eqn = Some(source.clone());
            elements.clear();
        }
        // A module's names become their names in the flat model, and a
        // connected input takes what feeds it.
        if let Some(source) = eqn.as_mut() {
            self.qualify(scope, source);
        }
        for (_, source) in elements.iter_mut() {
            self.qualify(scope, source);
        }
        // Stella's placeholders: a stock without flows or a graphical
        // function that a <connect> feeds stands for what feeds it, as an
        // auxiliary (its own initial value or table is not used).
        let mut placeholder = false;
        if let Some(input) = scope.inputs.get(&canonical_name(&local)) {
            let has_flows = children(node, "inflow").next().is_some()
                || children(node, "outflow").next().is_some();
            if kind == "stock" && has_flows {
                // The outer stock takes its place: its flows act on it.
                let origin = input.origin.clone().unwrap_or_else(|| self.location(0));
                let text = input.text.trim();
                let outer = text
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .map(|t| t.replace("\\\"", "\""));
                let Some(outer) = outer else {
                    self.errors.push(Error::File {
                        location: origin,
                        message: format!("<connect> feeds `{name}`, a stock with flows, from `{text}`; only a whole stock can take the place of a stock with flows (its flows then act on that stock), not an element of an array"),
                    });
                    return;
                };
                let flat =
                    |f: Node| format!("{}{}", scope.prefix, name_text(unquoted(trimmed_text(f))));
                self.shared_stocks.push(SharedStock {
                    inner: name.clone(),
                    outer,
                    inflows: children(node, "inflow").map(flat).collect(),
                    outflows: children(node, "outflow").map(flat).collect(),
                    origin,
                });
            }
            if kind != "flow" {
                placeholder = kind != "aux" || child(node, "gf").is_some();
                kind = "aux";
            }
            eqn = Some(input.clone());
            elements.clear();
            element_gfs.clear();
        }
        // Calls of macros with variables of their own get their copies:
        // arrayed as the equation is (an element's own equation is the
        // element's alone, so its copy is not arrayed).
        if !self.variable_macros.is_empty() {
            // When every element has its own equation, the first stands
            // for the variable: it is the first element's copy, not another.
            let first_stands = !elements.is_empty() && eqn.as_ref() == Some(&elements[0].1);
            for (_, source) in elements.iter_mut() {
                self.expand_macros(&name, &[], node, &scope.prefix, source, builder);
            }
            if first_stands {
                eqn = Some(elements[0].1.clone());
            } else if let Some(source) = eqn.as_mut() {
                self.expand_macros(&name, &dims, node, &scope.prefix, source, builder);
            }
        }
        // XMILE's PULSE is an impulse, not Vensim's PULSE: rewrite it.
        if let Some(source) = eqn.as_mut() {
            self.rewrite_pulses(&name, source, node);
        }
        for (_, source) in elements.iter_mut() {
            self.rewrite_pulses(&name, source, node);
        }
        let needs_eqn = |this: &mut Self| {
            this.errors
                .push(this.error(node, format!("`{name}` has no <eqn>")));
        };
        match kind {
            "stock" => {
                let Some(initial) = eqn else {
                    return needs_eqn(self);
                };
                let mut stock = Stock::new(name.clone(), initial)
                    .doc(doc)
                    .non_negative(non_negative)
                    .dimensions(dims)
                    .at(location);
                for (tuple, source) in elements {
                    stock = stock.element(tuple, source);
                }
                for inflow in children(node, "inflow") {
                    // `\n` in a name is a space, as in the name itself.
                    let flow = name_text(unquoted(trimmed_text(inflow)));
                    stock = stock.inflow(format!("{}{flow}", scope.prefix));
                }
                for outflow in children(node, "outflow") {
                    let flow = name_text(unquoted(trimmed_text(outflow)));
                    stock = stock.outflow(format!("{}{flow}", scope.prefix));
                }
                if let Some(u) = units {
                    stock = stock.units(u);
                }
                builder.push(stock);
            }
            "flow" => {
                let Some(equation) = eqn else {
                    return needs_eqn(self);
                };
                let mut flow = Flow::new(name.clone(), equation)
                    .doc(doc)
                    .non_negative(non_negative)
                    .dimensions(dims)
                    .at(location);
                for (tuple, source) in elements {
                    flow = flow.element(tuple, source);
                }
                if let Some(u) = units {
                    flow = flow.units(u);
                }
                builder.push(flow);
            }
            "aux" | "gf" => {
                // The variable's table: its own <gf>, or, when every element
                // has one, the first element's (each element keeps its own).
                let own = if placeholder {
                    None
                } else if kind == "gf" {
                    child(node, "ypts").map(|_| node)
                } else {
                    child(node, "gf")
                };
                let gf = own
                    .or_else(|| element_gfs.first().map(|(_, g)| *g))
                    .or((kind == "gf").then_some(node));
                if own.is_none() && !element_gfs.is_empty() {
                    let count = self.element_count(&dims);
                    if element_gfs.len() as u128 != count {
                        self.errors.push(self.error(
                            node,
                            format!("`{name}` gives graphical functions for {} of its {count} elements and none for the rest", element_gfs.len()),
                        ));
                        return;
                    }
                }
                match gf {
                    Some(gf) => {
                        let Some((points, interpolation)) = self.graphical_function(&name, gf)
                        else {
                            return;
                        };
                        let mut lookup = Lookup::new(name.clone(), points)
                            .interpolation(interpolation)
                            .doc(doc)
                            .dimensions(dims)
                            .at(location);
                        for (tuple, g) in element_gfs {
                            let Some((points, _)) = self.graphical_function(&name, g) else {
                                return;
                            };
                            lookup = lookup.element_points(tuple, points);
                        }
                        for (tuple, source) in elements {
                            lookup = lookup.element(tuple, source);
                        }
                        if kind == "aux" {
                            let Some(input) = eqn else {
                                return needs_eqn(self);
                            };
                            lookup = lookup.input(input);
                        }
                        if let Some(u) = units {
                            lookup = lookup.units(u);
                        }
                        builder.push(lookup);
                    }
                    None => {
                        let Some(equation) = eqn else {
                            return needs_eqn(self);
                        };
                        let mut aux = Aux::new(name.clone(), equation)
                            .doc(doc)
                            .dimensions(dims)
                            .at(location);
                        for (tuple, source) in elements {
                            aux = aux.element(tuple, source);
                        }
                        if let Some(u) = units {
                            aux = aux.units(u);
                        }
                        builder.push(aux);
                    }
                }
            }
            _ => unreachable!("filtered above"),
        }
    }

    /// The number of elements of an array over these dimensions, without
    /// making them.
    fn element_count(&self, dims: &[String]) -> u128 {
        dims.iter().fold(1u128, |n, d| {
            let size = self
                .dimension_elements
                .get(&canonical_name(d))
                .map_or(0, Vec::len);
            n.saturating_mul(size as u128)
        })
    }

    /// Every element of these dimensions, as names, in row-major order
    /// (only for arrays whose elements the file lists one by one, so
    /// bounded by its size).
    fn element_tuples(&self, dims: &[String]) -> Vec<Vec<String>> {
        let mut all = vec![Vec::new()];
        for d in dims {
            let elements = self
                .dimension_elements
                .get(&canonical_name(d))
                .cloned()
                .unwrap_or_default();
            all = all
                .into_iter()
                .flat_map(|prefix: Vec<String>| {
                    elements.iter().map(move |e| {
                        let mut next = prefix.clone();
                        next.push(e.clone());
                        next
                    })
                })
                .collect();
        }
        all
    }

    /// XMILE's `PULSE(magnitude, first[, interval])` is an impulse of
    /// `magnitude` (height magnitude / DT for one step) at `first` and every
    /// `interval` after; Vensim's `PULSE(start, width)`, which carecascade
    /// follows, is 1 for `width`. Rewrites the XMILE form as
    /// `magnitude / DT * PULSE TRAIN(first, DT, interval, FINAL TIME)`
    /// (or `PULSE(first, DT)` for a single pulse).
    fn rewrite_pulses(&mut self, name: &str, source: &mut Source, node: Node) {
        let Ok(expr) = crate::expr::parse(&source.text) else {
            return;
        };
        let mut calls: Vec<(std::ops::Range<usize>, Vec<std::ops::Range<usize>>)> = Vec::new();
        expr.walk(&mut |e: &Expr| {
            if let ExprKind::Call { name: f, args, .. } = &e.kind {
                let inside_another = calls
                    .iter()
                    .any(|(span, _)| span.start <= e.span.start && e.span.end <= span.end);
                if canonical_name(f) == "pulse" && !inside_another {
                    calls.push((
                        e.span.clone(),
                        args.iter().map(|a| a.span.clone()).collect(),
                    ));
                }
            }
        });
        let mut text = source.text.clone();
        for (span, args) in calls.iter().rev() {
            let arg = |i: usize| source.text[args[i].clone()].to_string();
            let replacement = match args.len() {
                2 => format!("(({}) / DT * PULSE(({}), DT))", arg(0), arg(1)),
                3 => format!(
                    "(({}) / DT * PULSE TRAIN(({}), DT, ({}), FINAL TIME))",
                    arg(0),
                    arg(1),
                    arg(2)
                ),
                n => {
                    self.errors.push(self.error(
                        node,
                        format!("`{name}`: XMILE's PULSE takes 2 or 3 arguments (magnitude, first time[, interval]), found {n}"),
                    ));
                    return;
                }
            };
            text.replace_range(span.clone(), &replacement);
        }
        source.text = text;
    }

    /// The points and interpolation of a `<gf>`.
    fn graphical_function(
        &mut self,
        name: &str,
        gf: Node,
    ) -> Option<(Vec<(f64, f64)>, Interpolation)> {
        // Early XMILE drafts (and files that follow them) write
        // `discrete="true"` instead of `type="discrete"`.
        let kind = gf
            .attribute("type")
            .map(str::to_ascii_lowercase)
            .or_else(|| {
                gf.attribute("discrete")
                    .filter(|d| d.trim().eq_ignore_ascii_case("true"))
                    .map(|_| "discrete".to_string())
            });
        let interpolation = match kind.as_deref() {
            None | Some("continuous") => Interpolation::Continuous,
            Some("extrapolate") => Interpolation::Extrapolate,
            Some("discrete") => Interpolation::Discrete,
            Some(other) => {
                self.errors.push(self.error(gf, format!("graphical function type `{other}` is not one of continuous, extrapolate, discrete")));
                return None;
            }
        };
        let points = |node: Node, this: &mut Self| -> Option<Vec<f64>> {
            let sep = node.attribute("sep").unwrap_or(",");
            let mut values = Vec::new();
            for part in trimmed_text(node)
                .split(sep)
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                match part.parse::<f64>() {
                    Ok(v) => values.push(v),
                    Err(_) => {
                        this.errors.push(this.error(
                            node,
                            format!("`{part}` in the points of `{name}` is not a number"),
                        ));
                        return None;
                    }
                }
            }
            Some(values)
        };
        let Some(ypts) = child(gf, "ypts") else {
            self.errors
                .push(self.error(gf, format!("graphical function `{name}` has no <ypts>")));
            return None;
        };
        let ys = points(ypts, self)?;
        let xs = match (child(gf, "xpts"), child(gf, "xscale")) {
            (Some(xpts), _) => points(xpts, self)?,
            (None, Some(xscale)) => {
                let bound = |attr: &str, this: &mut Self| match xscale
                    .attribute(attr)
                    .map(|v| v.trim().parse::<f64>())
                {
                    Some(Ok(v)) => Some(v),
                    _ => {
                        this.errors.push(this.error(
                            xscale,
                            format!("<xscale> of `{name}` needs a numeric `{attr}`"),
                        ));
                        None
                    }
                };
                let (min, max) = (bound("min", self)?, bound("max", self)?);
                let n = ys.len();
                (0..n)
                    .map(|i| {
                        if n == 1 {
                            min
                        } else {
                            min + (max - min) * i as f64 / (n - 1) as f64
                        }
                    })
                    .collect()
            }
            (None, None) => {
                self.errors.push(self.error(
                    gf,
                    format!("graphical function `{name}` needs <xpts> or <xscale>"),
                ));
                return None;
            }
        };
        if xs.len() != ys.len() {
            self.errors.push(self.error(
                gf,
                format!(
                    "graphical function `{name}` has {} x values but {} y values",
                    xs.len(),
                    ys.len()
                ),
            ));
            return None;
        }
        Some((xs.into_iter().zip(ys).collect(), interpolation))
    }
}

/// A name as XMILE writes it: `\n` is a line break (read as a space, as
/// names read spaces) and `\\` a backslash.
fn name_text(written: &str) -> String {
    let mut out = String::with_capacity(written.len());
    let mut chars = written.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('n')) => {
                chars.next();
                out.push(' ');
            }
            ('\\', Some('\\')) => {
                chars.next();
                out.push('\\');
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_minimal_model() {
        let text = r#"<?xml version="1.0"?>
<xmile xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0" version="1.0">
  <header><name>tiny</name></header>
  <sim_specs method="RK4" time_units="year"><start>1</start><stop>3</stop><dt reciprocal="true">4</dt></sim_specs>
  <model><variables>
    <stock name="s"><eqn>10</eqn><outflow>f</outflow><non_negative/><units>people</units></stock>
    <flow name="f"><eqn>s * k</eqn></flow>
    <aux name="k"><eqn>0.5</eqn></aux>
    <gf name="g" type="discrete"><xscale min="0" max="2"/><ypts sep=";">1;2;3</ypts></gf>
  </variables></model>
</xmile>"#;
        let model = parse(text, Some("tiny.xmile")).unwrap();
        assert_eq!(model.name(), "tiny");
        assert_eq!(model.time().dt(), 0.25);
        assert_eq!(model.time().method(), Method::Rk4);
        assert_eq!(model.time_units(), Some("year"));
        let g = model.variable("g").unwrap();
        match g.kind() {
            crate::VariableKind::Lookup {
                table, input: None, ..
            } => {
                assert_eq!(table.xs(), [0.0, 1.0, 2.0]);
                assert_eq!(table.interpolation(), Interpolation::Discrete);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn xmile_pulse_is_an_impulse() {
        let text = r#"<xmile><sim_specs><start>0</start><stop>9</stop><dt>0.5</dt></sim_specs><model><variables>
            <aux name="once"><eqn>PULSE(10, 2)</eqn></aux>
            <aux name="repeated"><eqn>1 + PULSE(3, 2, 3)</eqn></aux>
            <stock name="total"><eqn>0</eqn><inflow>f</inflow></stock>
            <flow name="f"><eqn>PULSE(10, 2, 3)</eqn></flow>
        </variables></model></xmile>"#;
        let model = parse(text, None).unwrap();
        let results = crate::Program::compile(&model).unwrap().run().unwrap();
        let once = results.series("once").unwrap();
        let repeated = results.series("repeated").unwrap();
        for (i, t) in results.times().iter().enumerate() {
            assert_eq!(once[i], if *t == 2.0 { 20.0 } else { 0.0 }, "t={t}");
            assert_eq!(
                repeated[i],
                if [2.0, 5.0, 8.0].contains(t) {
                    7.0
                } else {
                    1.0
                },
                "t={t}"
            );
        }
        // Each impulse moves exactly its magnitude into the stock.
        assert_eq!(results.final_value("total"), Some(30.0));
    }

    #[test]
    fn unsupported_and_bad_input_is_located() {
        let text = "<xmile>\n<model><variables>\n<aux name=\"a\">\n<dimensions><dim name=\"d\"/></dimensions><eqn>1</eqn></aux>\n<aux name=\"b\"><eqn>1 +</eqn></aux>\n<module name=\"m\"/>\n</variables></model></xmile>";
        let err = parse(text, Some("x.xmile")).unwrap_err().to_string();
        assert!(err.contains("`a`: dimension `d` is not defined"), "{err}");
        assert!(
            err.contains("x.xmile:5:23: unexpected end of the equation"),
            "{err}"
        );
        assert!(
            err.contains(
                "x.xmile:6:1: module `m` needs a <model name=\"m\">, and the file has none"
            ),
            "{err}"
        );
        // Stella's integer division reads (its run refuses a negative
        // quotient that is not whole: tests/semantics.rs).
        let text = "<xmile>\n<model><variables>\n<aux name=\"q\"><eqn>7 // 2</eqn></aux>\n</variables></model></xmile>";
        assert!(parse(text, Some("x.xmile")).is_ok());
        let err = parse("<xmile>\n<model></xmile>", Some("y.xmile"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("y.xmile:2:") && err.contains("not well-formed XML"),
            "{err}"
        );
    }
}
