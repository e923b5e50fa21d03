//! Vensim `.mdl` import: the equations of a text model file (the sketch
//! after `\\\---///` is ignored).
//!
//! What is read:
//! - equations `name = expression ~ units ~ documentation |`, with line
//!   continuations (`\`), `{comments}` and quoted names;
//! - stocks, `name = INTEG(rate, initial)`. Where the rate is a sum and
//!   difference of flow variables (`births - deaths`), those variables become
//!   the stock's inflows and outflows; any other rate becomes a flow named
//!   `name net flow`;
//! - lookups, `name([(xmin,ymin)-(xmax,ymax)], (x,y), ...)`, called as
//!   `name(x)`, and `WITH LOOKUP(input, (table))`;
//! - subscript ranges `dim: a, b, c` (also `(a1-a5)` and ranges built from
//!   other ranges), arrayed equations `x[dim] = ...`, per-element equations
//!   `x[a] = ...`, and constant lists `x[dim] = 1, 2, 3` (rows separated by
//!   `;` for two dimensions);
//! - the control variables `INITIAL TIME`, `FINAL TIME`, `TIME STEP` and
//!   `SAVEPER` as the time settings (numbers, or expressions of numbers and
//!   each other), and the units of `TIME STEP` as the time units.
//!
//! What is refused, with the line and column: macros, data equations
//! (`:=`), `:EXCEPT:`, subscript equivalences and subranges (a range whose
//! elements belong to another range), external data (`GET XLS ...`) and
//! the placeholder `A FUNCTION OF`. Vensim has no non-negative stocks, so
//! none are made. Vensim's integration method is not in the equations: the
//! model runs with Euler unless told otherwise.

use crate::build::{Aux, Constant, Flow, Lookup, ModelBuilder, Source, Stock};
use crate::error::{Error, Location, Result};
use crate::expr::{Expr, ExprKind, IndexKind, UnaryOp};
use crate::format::{split_top_level, unquoted};
use crate::model::{Model, TimeSettings, Units};
use crate::name::{canonical_name, closest, did_you_mean};
use indexmap::IndexMap;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// Reads a Vensim `.mdl` file.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; otherwise as [`parse`].
pub fn load(path: impl AsRef<Path>) -> Result<Model> {
    let source = crate::format::SourceFile::read(path.as_ref())?;
    parse_named(&source.text, Some(&source.name), &source.stem)
}

/// Parses the text of a Vensim `.mdl` file. `file` names the source in
/// error messages.
///
/// # Errors
///
/// [`Error::File`] for text that is not a Vensim model or uses a feature
/// listed as refused in the module docs, with the line and column;
/// otherwise the errors of [`ModelBuilder::build`] for the equations.
pub fn parse(text: &str, file: Option<&str>) -> Result<Model> {
    parse_named(text, file, "model")
}

/// One `... ~ ... ~ ... |` entry of the file.
struct Block {
    /// Byte offset of the equation part in the file.
    start: usize,
    /// The equation part, with comments and line continuations blanked out
    /// (so that offsets still match the file).
    equation: String,
    units: String,
    doc: String,
}

/// The right-hand side of an equation.
enum Rhs {
    Integ {
        rate: Source,
        initial: Source,
    },
    Number(f64),
    /// A constant list: values in row-major order.
    List(Vec<f64>),
    Expression(Source),
    WithLookup {
        input: Source,
        points: Vec<(f64, f64)>,
    },
    Table(Vec<(f64, f64)>),
}

/// One definition: a whole variable or some of its elements.
struct Def {
    name: String,
    subscripts: Vec<String>,
    rhs: Rhs,
    units: Option<String>,
    doc: String,
    location: Location,
}

struct Reader<'t> {
    text: &'t str,
    file: Option<Arc<str>>,
    errors: Vec<Error>,
}

fn parse_named(text: &str, file: Option<&str>, stem: &str) -> Result<Model> {
    let mut reader = Reader {
        text,
        file: file.map(Arc::from),
        errors: Vec::new(),
    };
    // The sketch starts at `\\\---///` (some tools write fewer backslashes).
    let end = text
        .find("---///")
        .map_or(text.len(), |at| text[..at].trim_end_matches('\\').len());
    let blocks = reader.blocks(&text[..end]);
    if blocks.iter().all(|b| b.equation.trim().is_empty()) {
        return Err(reader.error_at(
            0,
            "expected Vensim equations (`name = expression ~ units ~ comment |`), found none"
                .into(),
        ));
    }

    // Subscript ranges first: equations may use them before they are defined.
    let mut raw_dimensions: Vec<(String, Vec<String>, usize)> = Vec::new();
    let mut defs = Vec::new();
    for block in &blocks {
        let eq = block.equation.as_str();
        let trimmed = eq.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('*') {
            continue; // a group heading such as `.Control`
        }
        let lead = eq.len() - trimmed.len();
        if let Some(at) = find_ci(eq, ":MACRO:") {
            reader.push_error(
                block.start + at,
                "Vensim macros are not supported: expand the macro in the model".into(),
            );
            continue;
        }
        match split_lhs(eq) {
            Lhs::Dimension { name, elements } => {
                raw_dimensions.push((unquoted(name).to_string(), elements, block.start + lead));
            }
            Lhs::Unsupported(at, what) => reader.push_error(block.start + at, what),
            Lhs::Lookup { lhs, body } => {
                if let Some(def) = reader.definition(block, lhs, body, true) {
                    defs.push(def);
                }
            }
            Lhs::Equation { lhs, rhs } => {
                if let Some(def) = reader.definition(block, lhs, rhs, false) {
                    defs.push(def);
                }
            }
            Lhs::Nothing => reader.push_error(
                block.start + lead,
                "expected an equation `name = expression`, a lookup `name((x,y), ...)` or a subscript range `name: a, b, c`".into(),
            ),
        }
    }
    let dimensions = reader.dimensions(&raw_dimensions);

    let mut builder = ModelBuilder::new(stem);
    for (name, elements) in &dimensions {
        builder = builder.dimension(name.clone(), elements.clone());
    }

    // Control variables become the time settings.
    let (controls, defs): (Vec<Def>, Vec<Def>) = defs.into_iter().partition(|d| {
        matches!(
            canonical_name(&d.name).as_str(),
            "initial_time" | "final_time" | "time_step" | "saveper"
        )
    });
    if let Some(time) = reader.time_settings(&controls, &defs) {
        builder = builder.time(time.0);
        if let Some(units) = time.1 {
            builder = builder.time_units(units);
        }
    }

    // Definitions by variable, in the order of the file.
    let mut variables: IndexMap<String, Vec<Def>> = IndexMap::new();
    for def in defs {
        variables
            .entry(canonical_name(&def.name))
            .or_default()
            .push(def);
    }
    let mut shapes = HashMap::new();
    for (key, defs) in &variables {
        if let Some(shape) = reader.shape(defs, &dimensions) {
            shapes.insert(key.clone(), shape);
        }
    }
    let flows = stock_flows(&variables, &shapes);
    for (key, defs) in &variables {
        let Some(shape) = shapes.get(key) else {
            continue;
        };
        let mut elements = Vec::new();
        if reader
            .element(defs, shape, &dimensions, &flows, &mut elements)
            .is_some()
        {
            for element in elements {
                builder.push(element);
            }
        }
    }
    crate::format::build_with(builder, reader.errors)
}

/// What an equation's left-hand side says it is.
enum Lhs<'a> {
    Equation {
        lhs: (&'a str, usize),
        rhs: (&'a str, usize),
    },
    Lookup {
        lhs: (&'a str, usize),
        body: (&'a str, usize),
    },
    Dimension {
        name: &'a str,
        elements: Vec<String>,
    },
    Unsupported(usize, String),
    Nothing,
}

/// Splits an equation at its `=`, its lookup `(` or its subscript `:`,
/// whichever comes first outside brackets and quotes. Offsets are within
/// `eq`.
fn split_lhs(eq: &str) -> Lhs<'_> {
    let mut depth = 0usize;
    let mut quoted = false;
    for (i, c) in eq.char_indices() {
        match c {
            '"' => quoted = !quoted,
            _ if quoted => {}
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            '=' => {
                return Lhs::Equation {
                    lhs: (&eq[..i], 0),
                    rhs: (&eq[i + 1..], i + 1),
                };
            }
            '(' => {
                return Lhs::Lookup {
                    lhs: (&eq[..i], 0),
                    body: (&eq[i..], i),
                };
            }
            '<' if eq[i..].starts_with("<->") => {
                return Lhs::Unsupported(
                    i,
                    "subscript equivalences (`<->`) are not supported: use one range name".into(),
                );
            }
            ':' => {
                let rest = &eq[i..];
                if rest.starts_with(":=") {
                    return Lhs::Unsupported(
                        i,
                        "data equations (`:=`) are not supported: give the values as a lookup over time".into(),
                    );
                }
                if rest.to_ascii_uppercase().starts_with(":EXCEPT:") {
                    return Lhs::Unsupported(
                        i,
                        "`:EXCEPT:` is not supported: define the elements one by one".into(),
                    );
                }
                let name = &eq[..i];
                let mut definition = &eq[i + 1..];
                // A mapping to another range is positional here anyway.
                if let Some(arrow) = definition.find("->") {
                    definition = &definition[..arrow];
                }
                return Lhs::Dimension {
                    name: name.trim(),
                    elements: split_top_level(definition, &[','])
                        .into_iter()
                        .map(|(_, e)| e.trim().to_string())
                        .filter(|e| !e.is_empty())
                        .collect(),
                };
            }
            _ => {}
        }
    }
    Lhs::Nothing
}

/// The position of `needle` in `text`, ignoring ASCII case.
fn find_ci(text: &str, needle: &str) -> Option<usize> {
    text.to_ascii_uppercase().find(&needle.to_ascii_uppercase())
}

/// Splits `name[a, b]` into the name and its subscripts.
fn name_and_subscripts(lhs: &str) -> (String, Vec<String>) {
    let lhs = lhs.trim();
    match lhs.find('[') {
        Some(open) if lhs.ends_with(']') => (
            unquoted(&lhs[..open]).to_string(),
            lhs[open + 1..lhs.len() - 1]
                .split(',')
                .map(|s| unquoted(s).to_string())
                .collect(),
        ),
        _ => (unquoted(lhs).to_string(), Vec::new()),
    }
}

/// A number as Vensim writes it (`-3`, `.5`, `1e-3`), or `None`.
fn number(text: &str) -> Option<f64> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || t.chars().any(|c| c.is_alphabetic() && c != 'e' && c != 'E') {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

impl Reader<'_> {
    fn location(&self, offset: usize) -> Location {
        let origin = self.file.clone().map(|f| Location::in_file(f, 1, 1));
        Location::of_offset(self.text, offset, origin.as_ref())
    }

    fn error_at(&self, offset: usize, message: String) -> Error {
        Error::File {
            location: self.location(offset),
            message,
        }
    }

    fn push_error(&mut self, offset: usize, message: String) {
        let e = self.error_at(offset, message);
        self.errors.push(e);
    }

    /// Splits the equations into blocks at `|`, and each block at `~`,
    /// outside quotes and comments.
    fn blocks(&self, text: &str) -> Vec<Block> {
        let mut blocks = Vec::new();
        let mut parts: Vec<(usize, String)> = vec![(0, String::new())];
        let mut quoted = false;
        let mut comment = 0usize;
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let part = &mut parts.last_mut().expect("a part is open").1;
            match c {
                '{' if !quoted => {
                    comment += 1;
                    part.push(' ');
                }
                '}' if comment > 0 => {
                    comment -= 1;
                    part.push(' ');
                }
                _ if comment > 0 => part.push(if c == '\n' { '\n' } else { ' ' }),
                '"' => {
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
        if let Some((start, equation)) = parts.into_iter().next() {
            if !equation.trim().is_empty() {
                blocks.push(Block {
                    start,
                    equation,
                    units: String::new(),
                    doc: String::new(),
                });
            }
        }
        blocks
    }

    /// Reads one equation or lookup into a definition.
    fn definition(
        &mut self,
        block: &Block,
        (lhs, _): (&str, usize),
        (rhs, rhs_offset): (&str, usize),
        lookup: bool,
    ) -> Option<Def> {
        let (name, subscripts) = name_and_subscripts(lhs);
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
        let rhs = if lookup {
            Rhs::Table(self.points(rhs, rhs_start)?)
        } else if let Some(v) = number(rhs) {
            Rhs::Number(v)
        } else if let Some(values) = self.list(rhs, !subscripts.is_empty()) {
            Rhs::List(values)
        } else if let Some((input, table)) = with_lookup(rhs) {
            Rhs::WithLookup {
                input: source(self, input.0, input.1),
                points: self.points(table.0, rhs_start + table.1)?,
            }
        } else {
            let upper = rhs.to_ascii_uppercase();
            for (what, why) in [
                (
                    "A FUNCTION OF",
                    "`A FUNCTION OF` is Vensim's placeholder for an equation not written yet: write the equation",
                ),
                (
                    "GET XLS",
                    "external data (`GET XLS ...`) is not supported: give the values as a lookup",
                ),
                (
                    "GET DIRECT",
                    "external data (`GET DIRECT ...`) is not supported: give the values as a lookup",
                ),
                (
                    "GET DATA",
                    "external data (`GET DATA ...`) is not supported: give the values as a lookup",
                ),
                (
                    "TABBED ARRAY",
                    "`TABBED ARRAY` is not supported: list the values separated by commas",
                ),
            ] {
                if let Some(at) = upper.find(what) {
                    self.push_error(rhs_start + at, why.to_string());
                    return None;
                }
            }
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
            rhs,
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
    fn points(&mut self, body: &str, offset: usize) -> Option<Vec<(f64, f64)>> {
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
        Some(points)
    }

    /// Resolves the subscript ranges: elements, `(a1-a5)` sequences and
    /// ranges made of other ranges. Subranges are refused.
    fn dimensions(&mut self, raw: &[(String, Vec<String>, usize)]) -> Vec<(String, Vec<String>)> {
        let names: HashMap<String, usize> = raw
            .iter()
            .enumerate()
            .map(|(i, (n, _, _))| (canonical_name(n), i))
            .collect();
        let mut resolved: Vec<Option<Vec<String>>> = vec![None; raw.len()];
        let mut out = Vec::new();
        for i in 0..raw.len() {
            match self.expand(i, raw, &names, &mut resolved, &mut Vec::new()) {
                Some(elements) => out.push((raw[i].0.clone(), elements)),
                None => continue,
            }
        }
        // A range whose elements all belong to another is a subrange.
        let mut refused = HashSet::new();
        for (i, (name, elements)) in out.iter().enumerate() {
            for (j, (other, others)) in out.iter().enumerate() {
                if i != j
                    && elements.len() < others.len()
                    && elements.iter().all(|e| {
                        others
                            .iter()
                            .any(|o| canonical_name(o) == canonical_name(e))
                    })
                {
                    let at = raw.iter().find(|(n, _, _)| n == name).map_or(0, |r| r.2);
                    self.push_error(
                        at,
                        format!(
                            "`{name}` is a subrange of `{other}`: subranges are not supported yet"
                        ),
                    );
                    refused.insert(i);
                    break;
                }
            }
        }
        out.into_iter()
            .enumerate()
            .filter(|(i, _)| !refused.contains(i))
            .map(|(_, d)| d)
            .collect()
    }

    fn expand(
        &mut self,
        i: usize,
        raw: &[(String, Vec<String>, usize)],
        names: &HashMap<String, usize>,
        resolved: &mut Vec<Option<Vec<String>>>,
        path: &mut Vec<usize>,
    ) -> Option<Vec<String>> {
        if let Some(done) = &resolved[i] {
            return Some(done.clone());
        }
        let (name, parts, at) = &raw[i];
        if path.contains(&i) {
            self.push_error(
                *at,
                format!("subscript range `{name}` is defined in terms of itself"),
            );
            return None;
        }
        path.push(i);
        let mut elements = Vec::new();
        for part in parts {
            if let Some(range) = part.strip_prefix('(').and_then(|p| p.strip_suffix(')')) {
                match numbered_range(range) {
                    Some(list) => elements.extend(list),
                    None => {
                        self.push_error(
                            *at,
                            format!("expected a numbered range such as `(a1-a5)` in `{name}`, found `({range})`"),
                        );
                        path.pop();
                        return None;
                    }
                }
            } else if let Some(&j) = names.get(&canonical_name(part)).filter(|&&j| j != i) {
                elements.extend(self.expand(j, raw, names, resolved, path)?);
            } else {
                elements.push(unquoted(part).to_string());
            }
        }
        path.pop();
        if elements.is_empty() {
            self.push_error(*at, format!("subscript range `{name}` has no elements"));
            return None;
        }
        resolved[i] = Some(elements.clone());
        Some(elements)
    }

    /// The time settings from the control variables, and the time units.
    fn time_settings(
        &mut self,
        controls: &[Def],
        defs: &[Def],
    ) -> Option<(TimeSettings, Option<String>)> {
        let mut values: HashMap<String, f64> = defs
            .iter()
            .filter(|d| d.subscripts.is_empty())
            .filter_map(|d| match d.rhs {
                Rhs::Number(v) => Some((canonical_name(&d.name), v)),
                _ => None,
            })
            .collect();
        // Controls may refer to each other (`SAVEPER = TIME STEP`): settle
        // them in as many passes as there are.
        let mut pending: Vec<&Def> = controls.iter().collect();
        for _ in 0..=controls.len() {
            pending.retain(|d| {
                let value = match &d.rhs {
                    Rhs::Number(v) => Some(*v),
                    Rhs::Expression(s) => crate::expr::parse(&s.text)
                        .ok()
                        .and_then(|e| evaluate(&e, &values)),
                    _ => None,
                };
                match value {
                    Some(v) => {
                        values.insert(canonical_name(&d.name), v);
                        false
                    }
                    None => true,
                }
            });
        }
        for d in pending {
            self.errors.push(Error::File {
                location: d.location.clone(),
                message: format!(
                    "`{}` must be a number or an expression of numbers and other control variables",
                    d.name
                ),
            });
        }
        let get = |key: &str| values.get(key).copied();
        let at = |key: &str| {
            controls
                .iter()
                .find(|d| canonical_name(&d.name) == key)
                .map(|d| d.location.clone())
        };
        let mut missing = Vec::new();
        for (key, name) in [
            ("initial_time", "INITIAL TIME"),
            ("final_time", "FINAL TIME"),
            ("time_step", "TIME STEP"),
        ] {
            if at(key).is_some() && get(key).is_none() {
                return None; // already reported
            }
            if get(key).is_none() {
                missing.push(name);
            }
        }
        if !missing.is_empty() {
            self.push_error(
                0,
                format!(
                    "the model has no {}: a Vensim model sets INITIAL TIME, FINAL TIME and TIME STEP",
                    missing.join(", ")
                ),
            );
            return None;
        }
        let (start, stop, dt) = (get("initial_time")?, get("final_time")?, get("time_step")?);
        let located = |key: &str, e: Error| match at(key) {
            Some(location) => Error::File {
                location,
                message: e.to_string(),
            },
            None => e,
        };
        let time = match TimeSettings::new(start, stop, dt) {
            Ok(t) => t,
            Err(e) => {
                self.errors.push(located("time_step", e));
                return None;
            }
        };
        let time = match get("saveper") {
            Some(save) => match time.with_save_interval(save) {
                Ok(t) => t,
                Err(e) => {
                    self.errors.push(located("saveper", e));
                    return None;
                }
            },
            None => time,
        };
        let units = controls
            .iter()
            .find(|d| canonical_name(&d.name) == "time_step")
            .and_then(|d| d.units.clone());
        Some((time, units))
    }

    /// Works out a variable's dimensions and which elements each
    /// definition covers.
    fn shape(&mut self, defs: &[Def], dimensions: &[(String, Vec<String>)]) -> Option<Shape> {
        let first = &defs[0];
        let dimension_of = |name: &str| {
            dimensions
                .iter()
                .position(|(d, _)| canonical_name(d) == canonical_name(name))
        };
        if first.subscripts.is_empty() {
            if defs.len() > 1 {
                self.errors.push(Error::Model {
                    variable: first.name.clone(),
                    location: Some(defs[1].location.clone()),
                    message: "defined twice".into(),
                });
                return None;
            }
            return Some(Shape::Scalar);
        }
        let rank = first.subscripts.len();
        // Whole-range definitions: `x[dim] = ...`.
        if defs.len() == 1 && first.subscripts.iter().all(|s| dimension_of(s).is_some()) {
            let dims = first
                .subscripts
                .iter()
                .filter_map(|s| dimension_of(s))
                .collect();
            return Some(Shape::Whole(dims));
        }
        // Element by element: each position's range is the first that holds
        // every element used there.
        let mut dims = Vec::with_capacity(rank);
        for k in 0..rank {
            let mut used = Vec::new();
            for d in defs {
                if d.subscripts.len() != rank {
                    self.errors.push(Error::Model {
                        variable: d.name.clone(),
                        location: Some(d.location.clone()),
                        message: format!(
                            "has {} subscripts here and {rank} elsewhere",
                            d.subscripts.len()
                        ),
                    });
                    return None;
                }
                used.push(&d.subscripts[k]);
            }
            if let Some(s) = used.iter().find(|s| dimension_of(s).is_some()) {
                let d = defs
                    .iter()
                    .find(|d| &d.subscripts[k] == *s)
                    .unwrap_or(first);
                self.errors.push(Error::Model {
                    variable: d.name.clone(),
                    location: Some(d.location.clone()),
                    message: format!(
                        "mixes the whole range `{s}` with single elements: define every element of `{}` one by one, or the whole range once",
                        d.name
                    ),
                });
                return None;
            }
            let holds = |(_, elements): &(String, Vec<String>)| {
                used.iter().all(|u| {
                    elements
                        .iter()
                        .any(|e| canonical_name(e) == canonical_name(u))
                })
            };
            match dimensions.iter().position(holds) {
                Some(i) => dims.push(i),
                None => {
                    let all: Vec<&str> = dimensions
                        .iter()
                        .flat_map(|(_, es)| es.iter().map(String::as_str))
                        .collect();
                    let unknown = used
                        .iter()
                        .find(|u| !all.iter().any(|e| canonical_name(e) == canonical_name(u)))
                        .unwrap_or(&used[0]);
                    let d = defs
                        .iter()
                        .find(|d| &d.subscripts[k] == *unknown)
                        .unwrap_or(first);
                    self.errors.push(Error::Model {
                        variable: d.name.clone(),
                        location: Some(d.location.clone()),
                        message: format!(
                            "`{unknown}` is not an element of any subscript range{}",
                            did_you_mean(closest(unknown, all.iter().copied()))
                        ),
                    });
                    return None;
                }
            }
        }
        Some(Shape::Elements(dims))
    }

    /// Builds the model element for one variable.
    fn element(
        &mut self,
        defs: &[Def],
        shape: &Shape,
        dimensions: &[(String, Vec<String>)],
        flows: &Flows,
        out: &mut Vec<crate::build::Element>,
    ) -> Option<()> {
        let first = &defs[0];
        let name = first.name.clone();
        let key = canonical_name(&name);
        let dim_names: Vec<String> = shape
            .dims()
            .iter()
            .map(|&i| dimensions[i].0.clone())
            .collect();
        let tuples = element_tuples(shape.dims(), dimensions);
        let mixed = |what: &str| Error::Model {
            variable: name.clone(),
            location: Some(first.location.clone()),
            message: format!("mixes {what} with other kinds of definition"),
        };
        let is = |f: fn(&Rhs) -> bool| defs.iter().all(|d| f(&d.rhs));
        let units = first.units.clone();
        let doc = first.doc.clone();
        macro_rules! finish {
            ($e:expr) => {{
                let mut e = $e.doc(doc).at(first.location.clone());
                if !dim_names.is_empty() {
                    e = e.dimensions(dim_names.clone());
                }
                if let Some(u) = units {
                    e = e.units(u);
                }
                out.push(e.into());
                Some(())
            }};
        }
        // Per-element values in the order of `tuples`, for lists.
        let list_elements =
            |values: &[f64], reader: &mut Self| -> Option<Vec<(Vec<String>, Source)>> {
                if values.len() != tuples.len() {
                    reader.errors.push(Error::Model {
                        variable: name.clone(),
                        location: Some(first.location.clone()),
                        message: format!(
                            "lists {} values for its {} elements",
                            values.len(),
                            tuples.len()
                        ),
                    });
                    return None;
                }
                Some(
                    tuples
                        .iter()
                        .cloned()
                        .zip(values.iter().map(|v| Source::from(*v)))
                        .collect(),
                )
            };
        let complete = |reader: &mut Self| {
            if matches!(shape, Shape::Elements(_)) && defs.len() != tuples.len() {
                reader.errors.push(Error::Model {
                    variable: name.clone(),
                    location: Some(first.location.clone()),
                    message: format!(
                        "defines {} of its {} elements: every element needs an equation",
                        defs.len(),
                        tuples.len()
                    ),
                });
                return false;
            }
            true
        };

        if is(|r| matches!(r, Rhs::Integ { .. })) {
            if !complete(self) {
                return None;
            }
            let (mut stock, net) = match &first.rhs {
                Rhs::Integ { initial, .. } if defs.len() == 1 => (
                    Stock::new(name.clone(), initial.clone()),
                    flows.net.contains_key(&key),
                ),
                _ => (Stock::new(name.clone(), "0"), true),
            };
            if defs.len() > 1 {
                for d in defs {
                    if let Rhs::Integ { initial, .. } = &d.rhs {
                        stock = stock.element(d.subscripts.clone(), initial.clone());
                    }
                }
            }
            if net {
                let flow_name = flows.net_name(&name);
                stock = stock.inflow(flow_name.clone());
                let mut flow = match &first.rhs {
                    Rhs::Integ { rate, .. } => Flow::new(flow_name, rate.clone()),
                    _ => unreachable!("all definitions are INTEG"),
                };
                if defs.len() > 1 {
                    for d in defs {
                        if let Rhs::Integ { rate, .. } = &d.rhs {
                            flow = flow.element(d.subscripts.clone(), rate.clone());
                        }
                    }
                }
                flow = flow
                    .doc(format!("The net flow of `{name}`: its INTEG rate."))
                    .at(first.location.clone());
                if !dim_names.is_empty() {
                    flow = flow.dimensions(dim_names.clone());
                }
                out.push(flow.into());
            } else {
                for (flow, inflow) in flows.of_stock.get(&key).into_iter().flatten() {
                    stock = if *inflow {
                        stock.inflow(flow.clone())
                    } else {
                        stock.outflow(flow.clone())
                    };
                }
            }
            return finish!(stock);
        }
        if defs.iter().any(|d| matches!(d.rhs, Rhs::Integ { .. })) {
            self.errors.push(mixed("INTEG"));
            return None;
        }

        if is(|r| matches!(r, Rhs::Table(_))) {
            if !complete(self) {
                return None;
            }
            let Rhs::Table(points) = &first.rhs else {
                unreachable!("all definitions are tables")
            };
            let mut lookup = Lookup::new(name.clone(), points.clone());
            if defs.len() > 1 {
                for d in defs {
                    if let Rhs::Table(points) = &d.rhs {
                        lookup = lookup.element_points(d.subscripts.clone(), points.clone());
                    }
                }
            }
            return finish!(lookup);
        }
        if let [
            Def {
                rhs: Rhs::WithLookup { input, points },
                ..
            },
        ] = defs
        {
            return finish!(Lookup::new(name.clone(), points.clone()).input(input.clone()));
        }
        if defs
            .iter()
            .any(|d| matches!(d.rhs, Rhs::Table(_) | Rhs::WithLookup { .. }))
        {
            self.errors.push(mixed("lookups"));
            return None;
        }

        // Constants, lists and equations.
        if !complete(self) {
            return None;
        }
        let is_flow = flows.flows.contains(&key);
        let elements: Vec<(Vec<String>, Source)> = match (shape, &first.rhs) {
            (Shape::Whole(_), Rhs::List(values)) => list_elements(values, self)?,
            (Shape::Elements(_), _) => {
                let mut out = Vec::new();
                for d in defs {
                    let source = match &d.rhs {
                        Rhs::Number(v) => Source::from(*v),
                        Rhs::Expression(s) => s.clone(),
                        Rhs::List(_) => {
                            self.errors.push(Error::Model {
                                variable: name.clone(),
                                location: Some(d.location.clone()),
                                message: "lists several values for a single element".into(),
                            });
                            return None;
                        }
                        _ => unreachable!("other kinds are handled above"),
                    };
                    out.push((d.subscripts.clone(), source));
                }
                out
            }
            (Shape::Scalar, Rhs::List(_)) => {
                self.errors.push(Error::Model {
                    variable: name.clone(),
                    location: Some(first.location.clone()),
                    message: "lists several values but has no subscripts".into(),
                });
                return None;
            }
            _ => Vec::new(),
        };
        let all_numbers = elements.iter().all(|(_, s)| number(&s.text).is_some())
            && matches!(first.rhs, Rhs::Number(_) | Rhs::List(_));
        let main: Source = match &first.rhs {
            Rhs::Expression(s) if elements.is_empty() => s.clone(),
            Rhs::Number(v) if elements.is_empty() => Source::from(*v),
            _ => elements
                .first()
                .map(|(_, s)| s.clone())
                .unwrap_or_else(|| Source::from("0")),
        };
        if is_flow {
            let mut flow = Flow::new(name.clone(), main);
            for (tuple, source) in elements {
                flow = flow.element(tuple, source);
            }
            return finish!(flow);
        }
        if all_numbers && !matches!(first.rhs, Rhs::Expression(_)) {
            let value = number(&main.text).unwrap_or(0.0);
            let mut constant = Constant::new(name.clone(), value);
            for (tuple, source) in elements {
                constant = constant.element(tuple, source);
            }
            return finish!(constant);
        }
        let mut aux = Aux::new(name.clone(), main);
        for (tuple, source) in elements {
            aux = aux.element(tuple, source);
        }
        finish!(aux)
    }
}

/// A variable's dimensions (indices into the model's ranges).
enum Shape {
    Scalar,
    /// One definition over whole ranges: `x[dim] = ...`.
    Whole(Vec<usize>),
    /// Definitions element by element: `x[a] = ...`, `x[b] = ...`.
    Elements(Vec<usize>),
}

impl Shape {
    fn dims(&self) -> &[usize] {
        match self {
            Shape::Scalar => &[],
            Shape::Whole(d) | Shape::Elements(d) => d,
        }
    }
}

/// Every element of the ranges `dims`, the last varying fastest (the order
/// of Vensim's constant lists).
fn element_tuples(dims: &[usize], dimensions: &[(String, Vec<String>)]) -> Vec<Vec<String>> {
    let mut tuples = vec![Vec::new()];
    for &d in dims {
        tuples = tuples
            .into_iter()
            .flat_map(|t| {
                dimensions[d].1.iter().map(move |e| {
                    let mut t = t.clone();
                    t.push(e.clone());
                    t
                })
            })
            .collect();
    }
    tuples
}

/// `a1-a5` → `a1, a2, a3, a4, a5`.
fn numbered_range(range: &str) -> Option<Vec<String>> {
    let (lo, hi) = range.split_once('-')?;
    let split = |s: &str| {
        let s = s.trim();
        let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, n) = s.split_at(s.len() - digits);
        Some((prefix.to_string(), n.parse::<u64>().ok()?))
    };
    let ((prefix, a), (other, b)) = (split(lo)?, split(hi)?);
    if canonical_name(&prefix) != canonical_name(&other) || a > b || b - a > 100_000 {
        return None;
    }
    Some((a..=b).map(|n| format!("{prefix}{n}")).collect())
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

/// The value of an expression of numbers and known names.
fn evaluate(e: &Expr, values: &HashMap<String, f64>) -> Option<f64> {
    use crate::expr::BinaryOp;
    match &e.kind {
        ExprKind::Number(v) => Some(*v),
        ExprKind::Name(n) => values.get(&canonical_name(n)).copied(),
        ExprKind::Unary(UnaryOp::Neg, a) => Some(-evaluate(a, values)?),
        ExprKind::Unary(UnaryOp::Plus, a) => evaluate(a, values),
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (evaluate(a, values)?, evaluate(b, values)?);
            match op {
                BinaryOp::Add => Some(a + b),
                BinaryOp::Sub => Some(a - b),
                BinaryOp::Mul => Some(a * b),
                BinaryOp::Div => Some(a / b),
                BinaryOp::Pow => Some(a.powf(b)),
                _ => None,
            }
        }
        _ => None,
    }
    .filter(|v| v.is_finite())
}

/// How stocks get their flows.
#[derive(Default)]
struct Flows {
    /// Variables that become flows (canonical names).
    flows: HashSet<String>,
    /// Per stock: (flow name, inflow?).
    of_stock: HashMap<String, Vec<(String, bool)>>,
    /// Stocks whose rate becomes a flow of its own, and that flow's name.
    net: HashMap<String, String>,
}

impl Flows {
    fn net_name(&self, stock: &str) -> String {
        self.net
            .get(&canonical_name(stock))
            .cloned()
            .unwrap_or_else(|| format!("{stock} net flow"))
    }
}

/// The terms of a sum and difference of names: (name, subscripts, added?).
fn collect_terms(e: &Expr, added: bool, out: &mut Vec<(String, Vec<String>, bool)>) -> bool {
    use crate::expr::BinaryOp;
    match &e.kind {
        ExprKind::Binary(BinaryOp::Add, a, b) => {
            collect_terms(a, added, out) && collect_terms(b, added, out)
        }
        ExprKind::Binary(BinaryOp::Sub, a, b) => {
            collect_terms(a, added, out) && collect_terms(b, !added, out)
        }
        ExprKind::Unary(UnaryOp::Neg, a) => collect_terms(a, !added, out),
        ExprKind::Unary(UnaryOp::Plus, a) => collect_terms(a, added, out),
        ExprKind::Name(n) => {
            out.push((n.clone(), Vec::new(), added));
            true
        }
        ExprKind::Subscript { name, indices, .. } => {
            let mut subs = Vec::new();
            for index in indices {
                match &index.kind {
                    IndexKind::Name(n) => subs.push(canonical_name(n)),
                    _ => return false,
                }
            }
            out.push((name.clone(), subs, added));
            true
        }
        _ => false,
    }
}

/// Decides, stock by stock, whether its INTEG rate is a sum and difference
/// of variables that can be its inflows and outflows (each variable an
/// equation over the stock's own subscripts, feeding at most one stock on
/// each side), or needs a net flow of its own.
fn stock_flows(variables: &IndexMap<String, Vec<Def>>, shapes: &HashMap<String, Shape>) -> Flows {
    let mut flows = Flows::default();
    let mut inflow_of: HashSet<String> = HashSet::new();
    let mut outflow_of: HashSet<String> = HashSet::new();
    for (key, defs) in variables {
        if !defs.iter().all(|d| matches!(d.rhs, Rhs::Integ { .. })) {
            continue;
        }
        let mut terms = Vec::new();
        let decomposed = match (&defs[..], shapes.get(key)) {
            ([def], Some(shape)) => {
                let Rhs::Integ { rate, .. } = &def.rhs else {
                    unreachable!("checked above")
                };
                let subs: Vec<String> = def.subscripts.iter().map(|s| canonical_name(s)).collect();
                crate::expr::parse(&rate.text).is_ok_and(|e| collect_terms(&e, true, &mut terms))
                    && terms
                        .iter()
                        .enumerate()
                        .all(|(i, (name, term_subs, added))| {
                            let k = canonical_name(name);
                            let side = if *added { &inflow_of } else { &outflow_of };
                            k != *key
                                && *term_subs == subs
                                && !side.contains(&k)
                                && !terms[..i].iter().any(|(n, _, _)| canonical_name(n) == k)
                                && variables.get(&k).is_some_and(|d| {
                                    d.iter().all(|d| {
                                        matches!(d.rhs, Rhs::Expression(_) | Rhs::Number(_))
                                    })
                                })
                                && shapes.get(&k).is_some_and(|s| s.dims() == shape.dims())
                        })
            }
            _ => false,
        };
        if decomposed && !terms.is_empty() {
            let mut list = Vec::new();
            for (name, _, added) in terms {
                let k = canonical_name(&name);
                if added {
                    inflow_of.insert(k.clone());
                } else {
                    outflow_of.insert(k.clone());
                }
                flows.flows.insert(k.clone());
                let display = variables[&k][0].name.clone();
                list.push((display, added));
            }
            flows.of_stock.insert(key.clone(), list);
        } else {
            let stock = &defs[0].name;
            let mut name = format!("{stock} net flow");
            while variables.contains_key(&canonical_name(&name)) {
                name.push('_');
            }
            flows.net.insert(key.clone(), name);
        }
    }
    flows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Program;
    use crate::model::VariableKind;

    const CONTROL: &str = "INITIAL TIME = 0 ~ Month ~|\nFINAL TIME = 4 ~ Month ~|\nTIME STEP = 1 ~ Month [0,?] ~|\nSAVEPER = TIME STEP ~ Month ~|\n";

    fn model(equations: &str) -> Result<Model> {
        parse(
            &format!("{{UTF-8}}\n{equations}\n{CONTROL}\\\\\\---/// Sketch\n10,1,x\n"),
            Some("m.mdl"),
        )
    }

    fn err(equations: &str) -> String {
        model(equations).unwrap_err().to_string()
    }

    #[test]
    fn sums_of_variables_become_inflows_and_outflows_and_other_rates_a_net_flow() {
        let m = model(
            "a = INTEG(in - out, 10) ~ widgets ~|\nb = INTEG(out * 2, 0) ~ widgets ~|\n\
             in = 3 ~ widgets/Month ~|\nout = a / 5 ~ widgets/Month ~|",
        )
        .unwrap();
        let kind = |n: &str| m.variable(n).unwrap().kind().clone();
        let VariableKind::Stock {
            inflows, outflows, ..
        } = kind("a")
        else {
            panic!("a is a stock")
        };
        assert_eq!(
            (inflows, outflows),
            (vec!["in".to_string()], vec!["out".to_string()])
        );
        assert!(matches!(kind("in"), VariableKind::Flow { .. }));
        assert!(matches!(kind("b net flow"), VariableKind::Flow { .. }));
        let r = Program::compile(&m).unwrap().run().unwrap();
        // a: 10 -> 10 + 3 - 2 = 11; b gains 2 * out = 4.
        assert_eq!(r.value_at("a", 1.0), Some(11.0));
        assert_eq!(r.value_at("b", 1.0), Some(4.0));
        assert_eq!(m.time().save_interval(), 1.0);
        assert_eq!(m.time_units(), Some("Month"));
    }

    #[test]
    fn ranges_lists_and_elements() {
        let m = model(
            "row: (r1-r2) ~~|\ncol: c1, c2, c3 ~~|\n\
             grid[row, col] = 1, 2, 3; 4, 5, 6; ~~|\n\
             s[r1] = INTEG(grid[r1, c2], 1) ~~|\ns[r2] = INTEG(grid[r2, c3] * 2, 2) ~~|\n\
             total = SUM(grid[row!, col!]) ~~|\nt[col] = 7 ~~|",
        )
        .unwrap();
        let program = Program::compile(&m).unwrap();
        let r = program.run().unwrap();
        assert_eq!(r.value_at("total", 0.0), Some(21.0));
        assert_eq!(r.value_at("grid[r2,c1]", 0.0), Some(4.0));
        // s[r1] gains 2 a month, s[r2] gains 2 * 6.
        assert_eq!(r.value_at("s[r1]", 2.0), Some(5.0));
        assert_eq!(r.value_at("s[r2]", 2.0), Some(26.0));
        assert_eq!(m.dimension("row").unwrap().elements(), ["r1", "r2"]);
        assert_eq!(r.value_at("t[c3]", 0.0), Some(7.0));
        let _ = program;
    }

    #[test]
    fn lookups_with_and_without_ranges() {
        let m = model(
            "f(\n\t[(0,0)-(10,10)],(0,0),(10,5)\\\n\t\t,(20,5)) ~~|\ng((0,1),(4,3)) ~~|\n\
             y = f(TIME * 5) + g(TIME) ~~|\nz = WITH LOOKUP(TIME, ([(0,0)-(4,4)],(0,4),(4,0))) ~~|",
        )
        .unwrap();
        let r = Program::compile(&m).unwrap().run().unwrap();
        // At 2: f(10) = 5, g(2) = 2; z = 2.
        assert_eq!(r.value_at("y", 2.0), Some(7.0));
        assert_eq!(r.value_at("z", 2.0), Some(2.0));
    }

    #[test]
    fn refused_features_and_mistakes_are_located() {
        let e = err("x = 1 ~~|\n:MACRO: m(a)\nm = a ~~|\n:END OF MACRO:\n");
        assert!(
            e.contains("m.mdl:3:1") && e.contains("macros are not supported"),
            "{e}"
        );
        let e = err("x := 1 ~~|");
        assert!(
            e.contains("m.mdl:2:3") && e.contains("data equations"),
            "{e}"
        );
        let e = err("big: a, b, c ~~|\nsmall: a, b ~~|\nx[small] = 1 ~~|");
        assert!(
            e.contains("m.mdl:3:1") && e.contains("subrange of `big`"),
            "{e}"
        );
        let e = err("x = A FUNCTION OF(y) ~~|\ny = 1 ~~|");
        assert!(e.contains("m.mdl:2:5") && e.contains("placeholder"), "{e}");
        let e = err("f((0,0),(1,x)) ~~|");
        assert!(e.contains("m.mdl:2:9") && e.contains("`(1,x)`"), "{e}");
        // A range made of ranges holds them as subranges.
        let e = err("part: (p1-p3) ~~|\nall: part, extra ~~|\nx[all] = 1 ~~|");
        assert!(
            e.contains("m.mdl:2:1") && e.contains("`part` is a subrange of `all`"),
            "{e}"
        );
        let e = err("d: a, b ~~|\nx[a] = 1 ~~|\nx[bb] = 2 ~~|");
        assert!(
            e.contains("`bb` is not an element") && e.contains("`b`"),
            "{e}"
        );
        let e = err("d: a, b ~~|\nx[a] = 1 ~~|");
        assert!(e.contains("defines 1 of its 2 elements"), "{e}");
        let e = err("d: a, b ~~|\nx[d] = 1, 2, 3 ~~|");
        assert!(e.contains("lists 3 values for its 2 elements"), "{e}");
        let typo = model("stock = INTEG(\n\tflow, 1) ~~|\nflow = stok * 2 ~~|").unwrap();
        let e = Program::compile(&typo).unwrap_err().to_string();
        assert!(
            e.contains("m.mdl:4:8") && e.contains("did you mean `stock`"),
            "{e}"
        );
        let e = parse("TIME STEP = 1 ~~|\nx = 1 ~~|", Some("n.mdl"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no INITIAL TIME, FINAL TIME"), "{e}");
        let e = parse("nothing here", Some("n.mdl"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("n.mdl:1:1") && e.contains("expected an equation"),
            "{e}"
        );
        let e = parse("", Some("n.mdl")).unwrap_err().to_string();
        assert!(e.contains("found none"), "{e}");
    }
}
