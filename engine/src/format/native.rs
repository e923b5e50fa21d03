//! The native model file format: TOML that a modeller can read and edit by
//! hand. The reference is `docs/model-format.md`.
//!
//! ```toml
//! [model]
//! name = "teacup"
//! time_units = "minute"
//!
//! [time]
//! start = 0
//! stop = 30
//! dt = 0.125          # or "1/8"
//! save_interval = 1   # default: dt
//! method = "euler"    # or "rk4"
//!
//! [stocks."Teacup Temperature"]
//! initial = 180
//! outflows = ["Heat Loss to Room"]
//! units = "degF"
//!
//! [flows."Heat Loss to Room"]
//! equation = "(Teacup Temperature - Room Temperature) / Characteristic Time"
//! units = "degF/minute"
//!
//! [constants]
//! "Room Temperature" = { value = 70, units = "degF" }
//! "Characteristic Time" = { value = 10, units = "minute" }
//! ```
//!
//! Errors name the file, line and column: of the TOML problem, or of the
//! exact place in an equation.

use crate::build::{Aux, Constant, Flow, Lookup, ModelBuilder, Source, Stock};
use crate::error::{Error, Location, Result};
use crate::model::{Interpolation, Method, Model, TimeSettings, VariableKind};
use crate::name::closest;
use indexmap::IndexMap;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;
use toml::Spanned;

/// Writes a model in the native format. Equations are written as they
/// were given; [`parse`] of the result gives the same model.
pub fn write(model: &Model) -> String {
    use std::fmt::Write as _;
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    // A key is always one basic string: a value may be written as a
    // multi-line string, which TOML does not allow as a key.
    let key = |s: &str| {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{:04X}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    };
    let list = |items: &[String]| {
        format!(
            "[{}]",
            items.iter().map(|i| q(i)).collect::<Vec<_>>().join(", ")
        )
    };
    let mut out = String::new();
    let _ = writeln!(out, "[model]\nname = {}", q(model.name()));
    if !model.doc().is_empty() {
        let _ = writeln!(out, "doc = {}", q(model.doc()));
    }
    if let Some(units) = model.time_units() {
        let _ = writeln!(out, "time_units = {}", q(units));
    }
    if model.outflow_limiting() == crate::OutflowLimiting::InOrder {
        let _ = writeln!(out, "outflow_limiting = \"in_order\"");
    }
    if !model.dimensions().is_empty() {
        out.push_str("\n[dimensions]\n");
        for d in model.dimensions() {
            let _ = writeln!(out, "{} = {}", key(d.name()), list(d.elements()));
        }
    }
    let time = model.time();
    let _ = writeln!(
        out,
        "\n[time]\nstart = {:?}\nstop = {:?}\ndt = {:?}\nsave_interval = {:?}\nmethod = {}",
        time.start(),
        time.stop(),
        time.dt(),
        time.save_interval(),
        q(time.method().as_str())
    );
    let control = model.control_variables();
    if !control.is_empty() {
        let _ = writeln!(
            out,
            "# Control settings computed during the run, by the variables that compute them."
        );
        let _ = writeln!(out, "[time.computed]");
        for (field, name) in [
            ("initial_time", &control.initial_time),
            ("final_time", &control.final_time),
            ("time_step", &control.time_step),
            ("saveper", &control.saveper),
        ] {
            if let Some(name) = name {
                let _ = writeln!(out, "{field} = {}", q(name));
            }
        }
    }
    for v in model.variables() {
        let mut fields = String::new();
        let section = match v.kind() {
            VariableKind::Stock {
                initial,
                inflows,
                outflows,
                non_negative,
            } => {
                let _ = writeln!(fields, "initial = {}", q(initial.text()));
                if !inflows.is_empty() {
                    let _ = writeln!(fields, "inflows = {}", list(inflows));
                }
                if !outflows.is_empty() {
                    let _ = writeln!(fields, "outflows = {}", list(outflows));
                }
                if *non_negative {
                    fields.push_str("non_negative = true\n");
                }
                "stocks"
            }
            VariableKind::Flow {
                equation,
                non_negative,
            } => {
                let _ = writeln!(fields, "equation = {}", q(equation.text()));
                if *non_negative {
                    fields.push_str("non_negative = true\n");
                }
                "flows"
            }
            VariableKind::Auxiliary { equation } => {
                let _ = writeln!(fields, "equation = {}", q(equation.text()));
                "auxiliaries"
            }
            VariableKind::Constant { value } => {
                let _ = writeln!(fields, "value = {value:?}");
                "constants"
            }
            VariableKind::Lookup { table, input, .. } => {
                let _ = writeln!(fields, "points = {}", points(table));
                if table.interpolation() != Interpolation::Continuous {
                    let _ = writeln!(
                        fields,
                        "interpolation = {}",
                        q(table.interpolation().as_str())
                    );
                }
                if let Some(input) = input {
                    let _ = writeln!(fields, "input = {}", q(input.text()));
                }
                "lookups"
            }
        };
        if !v.dimensions().is_empty() {
            let _ = writeln!(fields, "dimensions = {}", list(v.dimensions()));
        }
        if let Some(units) = v.units_text() {
            let _ = writeln!(fields, "units = {}", q(units));
        }
        if !v.doc().is_empty() {
            let _ = writeln!(fields, "doc = {}", q(v.doc()));
        }
        let _ = write!(out, "\n[{section}.{}]\n{fields}", key(v.name()));
        if let VariableKind::Lookup { element_tables, .. } = v.kind()
            && !element_tables.is_empty()
        {
            let _ = writeln!(out, "[{section}.{}.tables]", key(v.name()));
            for (element, table) in element_tables {
                let _ = writeln!(out, "{} = {}", key(&element.join(", ")), points(table));
            }
        }
        if !v.element_equations().is_empty() {
            let _ = writeln!(out, "[{section}.{}.elements]", key(v.name()));
            for (element, equation) in v.element_equations() {
                let value = match v.kind() {
                    VariableKind::Constant { .. } => equation.text().to_string(),
                    _ => q(equation.text()),
                };
                let _ = writeln!(out, "{} = {value}", key(&element.join(", ")));
            }
        }
    }
    out
}

/// A table's points as a TOML array of pairs.
fn points(table: &crate::model::LookupTable) -> String {
    let pairs: Vec<String> = table
        .xs()
        .iter()
        .zip(table.ys())
        .map(|(x, y)| format!("[{x:?}, {y:?}]"))
        .collect();
    format!("[{}]", pairs.join(", "))
}

/// Reads a model file.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; otherwise as [`parse`].
pub fn load(path: impl AsRef<Path>) -> Result<Model> {
    let source = crate::format::SourceFile::read(path.as_ref())?;
    parse_named(&source.text, Some(&source.name), Some(&source.stem))
}

/// Parses model text. `file` names the source in error messages.
///
/// # Errors
///
/// [`Error::File`] for TOML that is malformed or has unknown, missing or
/// mistyped fields (with the closest valid field name);
/// [`Error::Equation`] for equations that do not parse; [`Error::Model`]
/// for inconsistent variables. Several problems come together as
/// [`Error::Many`].
pub fn parse(text: &str, file: Option<&str>) -> Result<Model> {
    parse_named(text, file, None)
}

fn parse_named(text: &str, file: Option<&str>, default_name: Option<&str>) -> Result<Model> {
    let file: Option<Arc<str>> = file.map(Arc::from);
    let doc: ModelFile = toml::from_str(text).map_err(|e| toml_error(text, file.as_ref(), &e))?;
    let lines = crate::error::LineIndex::new(text);
    let origin = start_of(file.as_ref());
    let at = |offset: usize| lines.location(text, offset, Some(&origin));
    let mut errors = Vec::new();

    let header = doc.model.unwrap_or_default();
    let name = header
        .name
        .or_else(|| default_name.map(str::to_string))
        .unwrap_or_else(|| "model".to_string());
    let mut builder = ModelBuilder::new(name).doc(header.doc);
    if let Some(units) = header.time_units {
        builder = builder.time_units(units);
    }
    match header.outflow_limiting.as_deref().map(str::trim) {
        None | Some("proportional") => {}
        Some("in_order") => builder = builder.outflow_limiting(crate::OutflowLimiting::InOrder),
        Some(other) => errors.push(Error::Invalid {
            what: "[model] outflow_limiting".into(),
            message: format!(
                "`{other}` is not a way to limit outflows; expected `proportional` or `in_order`"
            ),
        }),
    }
    if let Some(time) = doc.time {
        match time_settings(&time, &at) {
            Ok(t) => builder = builder.time(t),
            Err(e) => errors.push(e),
        }
        if let Some(c) = time.computed {
            builder = builder.control_variables(crate::ControlVariables {
                initial_time: c.initial_time,
                final_time: c.final_time,
                time_step: c.time_step,
                saveper: c.saveper,
            });
        }
    }

    for (name, elements) in doc.dimensions {
        builder = builder.dimension(name.into_inner(), elements);
    }
    let name_at = |key: &Spanned<String>| at(key.span().start);
    // "young, kinship" names one element of each dimension.
    let tuple =
        |key: &str| -> Vec<String> { key.split(',').map(|e| e.trim().to_string()).collect() };
    for (key, s) in doc.stocks {
        let mut stock = Stock::new(key.get_ref(), equation(&s.initial, text, &at))
            .doc(s.doc)
            .non_negative(s.non_negative)
            .dimensions(s.dimensions)
            .at(name_at(&key));
        for (element, value) in &s.elements {
            stock = stock.element(tuple(element.get_ref()), equation(value, text, &at));
        }
        for f in s.inflows {
            stock = stock.inflow(f.into_inner());
        }
        for f in s.outflows {
            stock = stock.outflow(f.into_inner());
        }
        if let Some(u) = s.units {
            stock = stock.units(u);
        }
        builder.push(stock);
    }
    for (key, f) in doc.flows {
        let mut flow = Flow::new(key.get_ref(), equation(&f.equation, text, &at))
            .doc(f.doc)
            .non_negative(f.non_negative)
            .dimensions(f.dimensions)
            .at(name_at(&key));
        for (element, value) in &f.elements {
            flow = flow.element(tuple(element.get_ref()), equation(value, text, &at));
        }
        if let Some(u) = f.units {
            flow = flow.units(u);
        }
        builder.push(flow);
    }
    for (key, a) in doc.auxiliaries {
        let mut aux = Aux::new(key.get_ref(), equation(&a.equation, text, &at))
            .doc(a.doc)
            .dimensions(a.dimensions)
            .at(name_at(&key));
        for (element, value) in &a.elements {
            aux = aux.element(tuple(element.get_ref()), equation(value, text, &at));
        }
        if let Some(u) = a.units {
            aux = aux.units(u);
        }
        builder.push(aux);
    }
    for (key, entry) in doc.constants {
        let value_at = at(entry.span().start);
        let (value, units, doc, dimensions, elements) = match entry.into_inner() {
            toml::Value::Float(v) => (v, None, String::new(), Vec::new(), IndexMap::new()),
            toml::Value::Integer(v) => (v as f64, None, String::new(), Vec::new(), IndexMap::new()),
            toml::Value::Table(table) => {
                match toml::Value::Table(table).try_into::<ConstantTable>() {
                    Ok(t) => (t.value, t.units, t.doc, t.dimensions, t.elements),
                    Err(e) => {
                        errors.push(Error::File {
                            location: value_at,
                            message: format!(
                                "constant `{}`: {}",
                                key.get_ref(),
                                with_suggestion(e.message())
                            ),
                        });
                        continue;
                    }
                }
            }
            other => {
                errors.push(Error::File {
                    location: value_at,
                    message: format!(
                        "constant `{}` must be a number or a table like {{ value = 1, units = \"year\" }}, not a {}",
                        key.get_ref(),
                        other.type_str()
                    ),
                });
                continue;
            }
        };
        let mut constant = Constant::new(key.get_ref(), value)
            .doc(doc)
            .dimensions(dimensions)
            .at(name_at(&key));
        for (element, v) in elements {
            constant = constant.element(tuple(&element), v);
        }
        if let Some(u) = units {
            constant = constant.units(u);
        }
        builder.push(constant);
    }
    for (key, l) in doc.lookups {
        let location = name_at(&key);
        let points: Vec<(f64, f64)> = match (&l.points, &l.x, &l.y) {
            (Some(points), None, None) => points.iter().map(|[x, y]| (*x, *y)).collect(),
            (None, Some(xs), Some(ys)) if xs.len() == ys.len() => {
                xs.iter().copied().zip(ys.iter().copied()).collect()
            }
            (None, Some(xs), Some(ys)) => {
                errors.push(Error::Model {
                    variable: key.get_ref().clone(),
                    location: Some(location),
                    message: format!("lookup has {} x values but {} y values", xs.len(), ys.len()),
                });
                continue;
            }
            _ => {
                errors.push(Error::Model {
                    variable: key.get_ref().clone(),
                    location: Some(location),
                    message: "a lookup needs either `points = [[x, y], ...]` or both `x = [...]` and `y = [...]`".into(),
                });
                continue;
            }
        };
        let mut lookup = Lookup::new(key.get_ref(), points)
            .doc(l.doc)
            .dimensions(l.dimensions)
            .at(location.clone());
        for (element, value) in &l.elements {
            lookup = lookup.element(tuple(element.get_ref()), equation(value, text, &at));
        }
        for (element, points) in &l.tables {
            lookup = lookup.element_points(tuple(element), points.iter().map(|[x, y]| (*x, *y)));
        }
        if let Some(kind) = &l.interpolation {
            match kind.get_ref().parse::<Interpolation>() {
                Ok(i) => lookup = lookup.interpolation(i),
                Err(message) => errors.push(Error::File {
                    location: at(kind.span().start),
                    message,
                }),
            }
        }
        if let Some(input) = &l.input {
            lookup = lookup.input(equation(input, text, &at));
        }
        if let Some(u) = l.units {
            lookup = lookup.units(u);
        }
        builder.push(lookup);
    }

    super::build_with(builder, errors)
}

fn start_of(file: Option<&Arc<str>>) -> Location {
    Location {
        file: file.cloned(),
        line: 1,
        column: 1,
    }
}

/// An equation field: a string (an expression) or a number.
fn equation(value: &Spanned<EquationValue>, text: &str, at: &impl Fn(usize) -> Location) -> Source {
    let span = value.span();
    match value.get_ref() {
        EquationValue::Number(v) => Source {
            text: crate::model::build::format_number(*v),
            origin: Some(at(span.start)),
        },
        EquationValue::Text(s) => {
            // Point at the first character inside the quotes.
            let raw = text.get(span.clone()).unwrap_or("");
            let mut skip = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
                3
            } else if raw.starts_with('"') || raw.starts_with('\'') {
                1
            } else {
                0
            };
            if skip == 3 {
                let rest = &raw[3..];
                if rest.starts_with("\r\n") {
                    skip += 2;
                } else if rest.starts_with('\n') {
                    skip += 1;
                }
            }
            Source {
                text: s.clone(),
                origin: Some(at(span.start + skip)),
            }
        }
    }
}

fn time_settings(time: &TimeTable, at: &impl Fn(usize) -> Location) -> Result<TimeSettings> {
    let dt_value = match time.dt.as_ref() {
        None => 1.0,
        Some(dt) => match dt.get_ref() {
            EquationValue::Number(v) => *v,
            EquationValue::Text(s) => {
                crate::model::parse_fraction(s).ok_or_else(|| Error::File {
                    location: at(dt.span().start),
                    message: format!("dt `{s}` is not a number or a fraction like \"1/52\""),
                })?
            }
        },
    };
    let located = |e: Error, offset: usize| match e {
        Error::Time(message) => Error::File {
            location: at(offset),
            message: format!("invalid time settings: {message}"),
        },
        other => other,
    };
    let table_start = time.dt.as_ref().map_or(0, |d| d.span().start);
    let mut settings = TimeSettings::new(
        time.start.unwrap_or(0.0),
        time.stop.unwrap_or(100.0),
        dt_value,
    )
    .map_err(|e| located(e, table_start))?;
    if let Some(save) = &time.save_interval {
        settings = settings
            .with_save_interval(*save.get_ref())
            .map_err(|e| located(e, save.span().start))?;
    }
    if let Some(method) = &time.method {
        let m: Method = method.get_ref().parse().map_err(|_| Error::File {
            location: at(method.span().start),
            message: format!(
                "unknown method `{}`; expected `euler` or `rk4`",
                method.get_ref()
            ),
        })?;
        settings = settings.with_method(m);
    }
    Ok(settings)
}

/// Turns a TOML error into a located [`Error::File`].
pub(crate) fn toml_error(text: &str, file: Option<&Arc<str>>, e: &toml::de::Error) -> Error {
    let offset = e.span().map_or(0, |s| s.start);
    let location = Location::of_offset(text, offset, Some(&start_of(file)));
    Error::File {
        location,
        message: with_suggestion(e.message()),
    }
}

/// Adds the closest valid field to serde's "unknown field" messages.
fn with_suggestion(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((unknown, expected)) = rest.split_once('`')
    {
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        if let Some(best) = closest(unknown, candidates.iter().copied()) {
            return format!(
                "unknown field `{unknown}`; did you mean `{best}`? (expected one of: {})",
                candidates.join(", ")
            );
        }
    }
    message.to_string()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    model: Option<Header>,
    time: Option<TimeTable>,
    #[serde(default)]
    dimensions: IndexMap<Spanned<String>, Vec<String>>,
    #[serde(default)]
    stocks: IndexMap<Spanned<String>, StockTable>,
    #[serde(default)]
    flows: IndexMap<Spanned<String>, FlowTable>,
    #[serde(default)]
    auxiliaries: IndexMap<Spanned<String>, AuxTable>,
    #[serde(default)]
    constants: IndexMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    lookups: IndexMap<Spanned<String>, LookupTableToml>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Header {
    name: Option<String>,
    #[serde(default)]
    doc: String,
    time_units: Option<String>,
    /// `proportional` (the default) or `in_order`.
    outflow_limiting: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeTable {
    start: Option<f64>,
    stop: Option<f64>,
    dt: Option<Spanned<EquationValue>>,
    save_interval: Option<Spanned<f64>>,
    method: Option<Spanned<String>>,
    /// Variables computing control settings during the run.
    computed: Option<ComputedTable>,
}

/// `[time.computed]`: the variables that compute control settings during
/// the run (see [`crate::ControlVariables`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComputedTable {
    initial_time: Option<String>,
    final_time: Option<String>,
    time_step: Option<String>,
    saveper: Option<String>,
}

/// An equation field: a string holding an expression, or a number.
enum EquationValue {
    Number(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for EquationValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = EquationValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an equation (a string such as \"a * b\") or a number")
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<EquationValue, E> {
                Ok(EquationValue::Number(v))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<EquationValue, E> {
                Ok(EquationValue::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<EquationValue, E> {
                Ok(EquationValue::Number(v as f64))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<EquationValue, E> {
                Ok(EquationValue::Text(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StockTable {
    initial: Spanned<EquationValue>,
    #[serde(default)]
    inflows: Vec<Spanned<String>>,
    #[serde(default)]
    outflows: Vec<Spanned<String>>,
    #[serde(default)]
    non_negative: bool,
    units: Option<String>,
    #[serde(default)]
    doc: String,
    #[serde(default)]
    dimensions: Vec<String>,
    #[serde(default)]
    elements: IndexMap<Spanned<String>, Spanned<EquationValue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowTable {
    equation: Spanned<EquationValue>,
    #[serde(default)]
    non_negative: bool,
    units: Option<String>,
    #[serde(default)]
    doc: String,
    #[serde(default)]
    dimensions: Vec<String>,
    #[serde(default)]
    elements: IndexMap<Spanned<String>, Spanned<EquationValue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuxTable {
    equation: Spanned<EquationValue>,
    units: Option<String>,
    #[serde(default)]
    doc: String,
    #[serde(default)]
    dimensions: Vec<String>,
    #[serde(default)]
    elements: IndexMap<Spanned<String>, Spanned<EquationValue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstantTable {
    value: f64,
    units: Option<String>,
    #[serde(default)]
    doc: String,
    #[serde(default)]
    dimensions: Vec<String>,
    #[serde(default)]
    elements: IndexMap<String, f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupTableToml {
    points: Option<Vec<[f64; 2]>>,
    x: Option<Vec<f64>>,
    y: Option<Vec<f64>>,
    interpolation: Option<Spanned<String>>,
    input: Option<Spanned<EquationValue>>,
    units: Option<String>,
    #[serde(default)]
    doc: String,
    #[serde(default)]
    dimensions: Vec<String>,
    #[serde(default)]
    elements: IndexMap<Spanned<String>, Spanned<EquationValue>>,
    #[serde(default)]
    tables: IndexMap<String, Vec<[f64; 2]>>,
}
