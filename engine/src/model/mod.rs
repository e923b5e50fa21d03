//! What a model is: stocks, flows, auxiliaries, constants and lookups with
//! their equations, units and documentation, plus time settings.
//!
//! A [`Model`] is validated when it is built: every equation parses, every
//! inflow and outflow names a flow, names are unique, units parse and lookups
//! are well formed. Name resolution, ordering and unit checks happen when the
//! model is compiled into a [`crate::Program`].
//!
//! Build one in code with [`Model::builder`]:
//!
//! ```
//! use carecascade_engine::{Model, TimeSettings};
//! use carecascade_engine::build::{Constant, Flow, Stock};
//!
//! let model = Model::builder("teacup")
//!     .time(TimeSettings::new(0.0, 30.0, 0.125)?)
//!     .add(Stock::new("Teacup Temperature", "180").outflow("Heat Loss").units("degF"))
//!     .add(Flow::new("Heat Loss", "(Teacup Temperature - Room Temperature) / Characteristic Time")
//!         .units("degF/minute"))
//!     .add(Constant::new("Room Temperature", 70.0).units("degF"))
//!     .add(Constant::new("Characteristic Time", 10.0).units("minute"))
//!     .time_units("minute")
//!     .build()?;
//! assert_eq!(model.variables().len(), 4);
//! # Ok::<(), carecascade_engine::Error>(())
//! ```

pub mod build;
mod lookup;
mod time;
mod units;

pub use lookup::{Interpolation, LookupTable};
pub use time::{MAX_STEPS, Method, TimeSettings, parse_fraction};
pub use units::Units;

use crate::error::{Error, Location, Result};
use crate::expr::{Expr, Span};
use crate::name::canonical_name;
use std::collections::HashMap;

/// A parsed equation that remembers its text and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Equation {
    text: String,
    expr: Expr,
    origin: Option<Location>,
}

impl Equation {
    /// Parses `text` as the equation of `variable`. `origin` is the position
    /// of the first character of `text` in its file, if it came from one.
    ///
    /// # Errors
    ///
    /// [`Error::Equation`] with the position of the problem.
    pub fn parse(text: &str, variable: &str, origin: Option<Location>) -> Result<Equation> {
        match crate::expr::parse(text) {
            Ok(expr) => Ok(Equation {
                text: text.to_string(),
                expr,
                origin,
            }),
            Err((span, message)) => Err(Error::Equation {
                location: Location::of_offset(text, span.start, origin.as_ref()),
                variable: variable.to_string(),
                message,
            }),
        }
    }

    /// The equation as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Where the equation starts in its file, if it came from one.
    pub fn origin(&self) -> Option<&Location> {
        self.origin.as_ref()
    }

    /// The file position of a span of this equation.
    pub fn location(&self, span: &Span) -> Location {
        Location::of_offset(&self.text, span.start, self.origin.as_ref())
    }

    /// An error about a part of this equation.
    pub(crate) fn error(&self, variable: &str, span: &Span, message: impl Into<String>) -> Error {
        Error::Equation {
            location: self.location(span),
            variable: variable.to_string(),
            message: message.into(),
        }
    }
}

/// One element of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    name: String,
    dimensions: Vec<String>,
    elements: Vec<(Vec<String>, Equation)>,
    doc: String,
    units: Option<Units>,
    units_text: Option<String>,
    location: Option<Location>,
    kind: VariableKind,
}

/// What kind of element a variable is, with its defining data.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum VariableKind {
    /// A level that accumulates its inflows minus its outflows.
    Stock {
        /// The initial value, evaluated once when a run starts.
        initial: Equation,
        /// Flows into the stock (canonical references, as written).
        inflows: Vec<String>,
        /// Flows out of the stock.
        outflows: Vec<String>,
        /// Whether the stock may not go below zero (XMILE `non_negative`):
        /// outflows are scaled down in a step so that they remove no more
        /// than the stock holds plus its inflows.
        non_negative: bool,
    },
    /// A rate of change of stocks.
    Flow {
        /// The rate.
        equation: Equation,
        /// Whether the flow is clamped at zero (an XMILE uniflow).
        non_negative: bool,
    },
    /// A value computed from other variables at each step.
    Auxiliary {
        /// The value.
        equation: Equation,
    },
    /// A number that does not change during a run; it can be changed between
    /// runs without recompiling.
    Constant {
        /// The default value.
        value: f64,
    },
    /// A graphical function. Called like a function (`effect(x)`) from other
    /// equations; with an `input` it is also a variable whose value is the
    /// table at the input.
    Lookup {
        /// The table.
        table: LookupTable,
        /// The input, for a lookup that is also a variable.
        input: Option<Equation>,
        /// Tables for single elements of an arrayed lookup.
        element_tables: Vec<(Vec<String>, LookupTable)>,
    },
}

impl VariableKind {
    /// A short name for the kind: `stock`, `flow`, `auxiliary`, `constant`
    /// or `lookup`.
    pub fn label(&self) -> &'static str {
        match self {
            VariableKind::Stock { .. } => "stock",
            VariableKind::Flow { .. } => "flow",
            VariableKind::Auxiliary { .. } => "auxiliary",
            VariableKind::Constant { .. } => "constant",
            VariableKind::Lookup { .. } => "lookup",
        }
    }
}

impl Variable {
    /// The display name, as defined.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The dimensions of an arrayed variable (empty for a scalar).
    pub fn dimensions(&self) -> &[String] {
        &self.dimensions
    }

    /// Equations for single elements of an arrayed variable, which take the
    /// place of its main equation (or initial value, or constant value) for
    /// those elements: (one element per dimension, equation).
    pub fn element_equations(&self) -> &[(Vec<String>, Equation)] {
        &self.elements
    }

    /// The documentation string (empty when none was given).
    pub fn doc(&self) -> &str {
        &self.doc
    }

    /// The units, if declared.
    pub fn units(&self) -> Option<&Units> {
        self.units.as_ref()
    }

    /// The units as written, if declared.
    pub fn units_text(&self) -> Option<&str> {
        self.units_text.as_deref()
    }

    /// Where the variable is defined, when it came from a file.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }

    /// The kind and definition.
    pub fn kind(&self) -> &VariableKind {
        &self.kind
    }

    /// The equations of this variable (initial value, rate, value or lookup
    /// input), for tools that walk a model.
    pub fn equations(&self) -> Vec<&Equation> {
        match &self.kind {
            VariableKind::Stock { initial, .. } => vec![initial],
            VariableKind::Flow { equation, .. } | VariableKind::Auxiliary { equation } => {
                vec![equation]
            }
            VariableKind::Constant { .. } => vec![],
            VariableKind::Lookup { input, .. } => input.iter().collect(),
        }
        .into_iter()
        .chain(self.elements.iter().map(|(_, e)| e))
        .collect()
    }
}

/// A validated, immutable model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    name: String,
    doc: String,
    time: TimeSettings,
    time_units: Option<String>,
    dimensions: Vec<Dimension>,
    variables: Vec<Variable>,
    index: HashMap<String, usize>,
    /// What the reader of the model's file read with a default or a
    /// reinterpretation.
    warnings: Vec<crate::program::Warning>,
    control: ControlVariables,
    outflows: OutflowLimiting,
}

/// How a non-negative stock limits its outflows when together they would
/// take more than it holds (plus what flows in during the step).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutflowLimiting {
    /// Every outflow is scaled down in the same proportion (carecascade's
    /// native models).
    #[default]
    Proportional,
    /// The outflows are served in the order the stock lists them, each
    /// taking what it asks for while the stock lasts (XMILE and Stella).
    InOrder,
}

/// Control settings computed during the run, as Vensim allows: `TIME
/// STEP`, `SAVEPER` and `FINAL TIME` (and `INITIAL TIME`, which is then
/// only reported) written as equations of `Time` or of other variables,
/// such as a `FINAL TIME` that ends the run when a condition holds. Each
/// names the auxiliary that computes it; the model's
/// [`TimeSettings`] hold the values at the start where they are known.
///
/// Each step the run reads them after evaluating the model: the step
/// integrates with that `TIME STEP`, a value is saved when `Time` has
/// reached the last save time plus `SAVEPER`, and the run stops after the
/// step at which `Time` has reached `FINAL TIME`. Such runs are Euler
/// runs, interpreted, and lanes of a batch must agree on the settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ControlVariables {
    /// The variable computing `INITIAL TIME` (reported; the run starts at
    /// its value at time 0).
    pub initial_time: Option<String>,
    /// The variable computing `FINAL TIME`.
    pub final_time: Option<String>,
    /// The variable computing `TIME STEP`.
    pub time_step: Option<String>,
    /// The variable computing `SAVEPER`.
    pub saveper: Option<String>,
}

impl ControlVariables {
    /// Whether no control setting is computed during the run.
    pub fn is_empty(&self) -> bool {
        self.initial_time.is_none()
            && self.final_time.is_none()
            && self.time_step.is_none()
            && self.saveper.is_none()
    }
}

/// A named dimension (a Vensim subscript range) and its elements, such as
/// `age` = `under 5`, `5 to 9`, `10 to 15`, `16 to 17`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    name: String,
    elements: Vec<String>,
    /// The position of each element by its canonical name.
    positions: HashMap<String, usize>,
}

impl Dimension {
    /// The dimension's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its elements, in order.
    pub fn elements(&self) -> &[String] {
        &self.elements
    }

    /// The position of an element (in any spelling of its name).
    pub fn position(&self, element: &str) -> Option<usize> {
        self.positions.get(&canonical_name(element)).copied()
    }

    /// A dimension of elements whose canonical names are distinct (the
    /// builder checks).
    pub(crate) fn new(name: String, elements: Vec<String>) -> Dimension {
        let positions = elements
            .iter()
            .enumerate()
            .map(|(i, e)| (canonical_name(e), i))
            .collect();
        Dimension {
            name,
            elements,
            positions,
        }
    }
}

/// The value of a constant, or of an auxiliary whose equation is a number.
fn literal_value(kind: &VariableKind) -> Option<f64> {
    use crate::expr::{ExprKind, UnaryOp};
    match kind {
        VariableKind::Constant { value } => Some(*value),
        VariableKind::Auxiliary { equation } => match &equation.expr().kind {
            ExprKind::Number(v) => Some(*v),
            ExprKind::Unary(UnaryOp::Neg, inner) => match inner.kind {
                ExprKind::Number(v) => Some(-v),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// The start times for which a model has starting data: where every
/// lookup whose input is `INITIAL TIME` has points (see
/// [`Model::start_data`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StartData {
    /// The earliest start time all of them cover.
    pub from: f64,
    /// The latest start time all of them cover.
    pub to: f64,
    /// The lookups on `INITIAL TIME`, as named in the model.
    pub lookups: Vec<String>,
}

impl StartData {
    /// Whether a run starting at `start` has data from every lookup on
    /// `INITIAL TIME` (with a tolerance of 1e-9 for rounding).
    pub fn covers(&self, start: f64) -> bool {
        start >= self.from - 1e-9 && start <= self.to + 1e-9
    }

    /// The lookups, for messages: "`a`, `b` and 3 more".
    pub fn describe_lookups(&self) -> String {
        let shown: Vec<String> = self
            .lookups
            .iter()
            .take(3)
            .map(|l| format!("`{l}`"))
            .collect();
        let more = self.lookups.len().saturating_sub(3);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    }
}

impl Model {
    /// Starts building a model.
    pub fn builder(name: impl Into<String>) -> build::ModelBuilder {
        build::ModelBuilder::new(name)
    }

    /// The start times the model has starting data for: the times covered
    /// by the points of every lookup whose input is `INITIAL TIME` (such a
    /// lookup gives a value that depends on when a run starts, typically an
    /// observed stock to start from). Outside them a continuous or discrete
    /// lookup would silently hold its first or last value, so a run would
    /// start from another time's data; a lookup meant to hold a value beyond
    /// its data should say so with points at the ends. Lookups that
    /// `extrapolate` set no limit. `None` when no lookup constrains the
    /// start (or when they do not overlap, see [`Model::check_start`]).
    pub fn start_data(&self) -> Option<StartData> {
        let mut from = f64::NEG_INFINITY;
        let mut to = f64::INFINITY;
        let mut lookups = Vec::new();
        for v in &self.variables {
            let VariableKind::Lookup {
                table,
                input: Some(input),
                element_tables,
            } = &v.kind
            else {
                continue;
            };
            if canonical_name(input.text()) != canonical_name("INITIAL TIME") {
                continue;
            }
            let mut constrains = false;
            for t in std::iter::once(table).chain(element_tables.iter().map(|(_, t)| t)) {
                if t.interpolation() == Interpolation::Extrapolate {
                    continue;
                }
                let xs = t.xs();
                from = from.max(xs[0]);
                to = to.min(xs[xs.len() - 1]);
                constrains = true;
            }
            if constrains {
                lookups.push(v.name.clone());
            }
        }
        (!lookups.is_empty()).then_some(StartData { from, to, lookups })
    }

    /// Checks that a run starting at `start` has starting data (see
    /// [`Model::start_data`]).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the times the model can start from and the
    /// lookups that limit them.
    pub fn check_start(&self, start: f64) -> Result<()> {
        let Some(data) = self.start_data() else {
            return Ok(());
        };
        if data.covers(start) {
            return Ok(());
        }
        let range = if data.from > data.to {
            "no start time: their points do not overlap".to_string()
        } else {
            format!("starts from {} to {}", data.from, data.to)
        };
        Err(Error::Invalid {
            what: format!("start time {start}"),
            message: format!(
                "model `{}` has starting data only for {range} (the points of its lookups on INITIAL TIME: {}); outside them a run would start from another time's data",
                self.name,
                data.describe_lookups()
            ),
        })
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The model's documentation.
    pub fn doc(&self) -> &str {
        &self.doc
    }

    /// The same model under another name and documentation.
    pub fn with_name(mut self, name: impl Into<String>, doc: impl Into<String>) -> Model {
        self.name = name.into();
        self.doc = doc.into();
        self
    }

    /// The default time settings.
    pub fn time(&self) -> &TimeSettings {
        &self.time
    }

    /// How non-negative stocks limit their outflows.
    pub fn outflow_limiting(&self) -> OutflowLimiting {
        self.outflows
    }

    /// The control settings computed during the run (empty for most
    /// models: see [`ControlVariables`]).
    pub fn control_variables(&self) -> &ControlVariables {
        &self.control
    }

    /// What the reader of the model's file could read only with a default
    /// or a reinterpretation, which the user should know about (an XMILE
    /// file without `<sim_specs>`, a Vensim lookup whose points it sorted,
    /// an element it ignored). [`Program::compile`](crate::Program::compile)
    /// passes them on to [`Program::warnings`](crate::Program::warnings).
    pub fn warnings(&self) -> &[crate::program::Warning] {
        &self.warnings
    }

    /// The dimensions arrayed variables range over.
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dimensions
    }

    /// The dimension with this name (in any spelling of it).
    pub fn dimension(&self, name: &str) -> Option<&Dimension> {
        let wanted = canonical_name(name);
        self.dimensions
            .iter()
            .find(|d| canonical_name(&d.name) == wanted)
    }

    /// The unit of time (`year`, `month`, ...), if declared.
    pub fn time_units(&self) -> Option<&str> {
        self.time_units.as_deref()
    }

    /// All variables, in definition order.
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    /// The variable with this name (in any spelling of it).
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.index
            .get(&canonical_name(name))
            .map(|&i| &self.variables[i])
    }

    /// The same model with other time settings.
    pub fn with_time(mut self, time: TimeSettings) -> Model {
        self.time = time;
        self
    }

    /// Makes a scalar constant vary during a run: the constant becomes an
    /// auxiliary computing `equation`, and its value moves to a new constant
    /// named `base_name`, which the equation can use (and runs can still
    /// set). This is how scenario policies (a step, a ramp, a series) are
    /// applied.
    ///
    /// # Errors
    ///
    /// [`Error::Parameter`] if `name` is not a scalar constant (with the
    /// closest constant's name) or `base_name` is taken; the parse error
    /// of `equation`.
    pub fn with_constant_varying(
        &self,
        name: &str,
        base_name: &str,
        equation: &str,
    ) -> Result<Model> {
        // A constant, or an auxiliary that is a number (as XMILE and Vensim
        // files write constants).
        let i = self.scalar_of_kind(name, "constant", |k| literal_value(k).is_some())?;
        let Some(value) = literal_value(&self.variables[i].kind) else {
            unreachable!("scalar_of_kind checked the kind")
        };
        if self.index.contains_key(&canonical_name(base_name)) {
            return Err(Error::Parameter {
                name: base_name.to_string(),
                reason: "already exists in the model".into(),
                suggestion: None,
            });
        }
        let original = &self.variables[i];
        let equation = Equation::parse(equation, &original.name, None)?;
        let mut model = self.clone();
        let base = Variable {
            name: base_name.to_string(),
            dimensions: Vec::new(),
            elements: Vec::new(),
            doc: format!(
                "The value of `{}` before the scenario's policies.",
                original.name
            ),
            units: original.units.clone(),
            units_text: original.units_text.clone(),
            location: original.location.clone(),
            kind: VariableKind::Constant { value },
        };
        model.variables[i].kind = VariableKind::Auxiliary { equation };
        model
            .index
            .insert(canonical_name(base_name), model.variables.len());
        model.variables.push(base);
        Ok(model)
    }

    /// The same model with a scalar constant set to `value`, and `note`
    /// added to its documentation (say where the value comes from).
    ///
    /// # Errors
    ///
    /// [`Error::Parameter`] if `name` is not a scalar constant (with the
    /// closest constant's name); [`Error::Invalid`] for a value that is not
    /// finite.
    pub fn with_constant_value(&self, name: &str, value: f64, note: &str) -> Result<Model> {
        let i = self.scalar_of_kind(name, "constant", |k| {
            matches!(k, VariableKind::Constant { .. })
        })?;
        if !value.is_finite() {
            return Err(Error::Invalid {
                what: format!("value for `{name}`"),
                message: format!("expected a finite number, not {value}"),
            });
        }
        let mut model = self.clone();
        let v = &mut model.variables[i];
        v.kind = VariableKind::Constant { value };
        v.doc = join_doc(&v.doc, note);
        Ok(model)
    }

    /// The same model with a scalar lookup's points replaced (its input
    /// and units kept), and `note` added to its documentation.
    ///
    /// # Errors
    ///
    /// [`Error::Parameter`] if `name` is not a scalar lookup (with the
    /// closest lookup's name); [`Error::Invalid`] for points the table
    /// refuses (none, unsorted x, not finite).
    pub fn with_lookup_points(
        &self,
        name: &str,
        points: &[(f64, f64)],
        note: &str,
    ) -> Result<Model> {
        let i =
            self.scalar_of_kind(name, "lookup", |k| matches!(k, VariableKind::Lookup { .. }))?;
        let mut model = self.clone();
        let v = &mut model.variables[i];
        if let VariableKind::Lookup { table, .. } = &mut v.kind {
            *table = LookupTable::new(points.iter().copied(), table.interpolation()).map_err(
                |message| Error::Invalid {
                    what: format!("points of `{name}`"),
                    message,
                },
            )?;
        }
        v.doc = join_doc(&v.doc, note);
        Ok(model)
    }

    /// The index of the scalar variable `name` of a kind, or an error with
    /// the closest name of that kind.
    fn scalar_of_kind(
        &self,
        name: &str,
        kind: &str,
        is: impl Fn(&VariableKind) -> bool,
    ) -> Result<usize> {
        let error = |reason: String| Error::Parameter {
            name: name.to_string(),
            reason,
            suggestion: crate::name::closest(
                name,
                self.variables
                    .iter()
                    .filter(|v| is(&v.kind))
                    .map(|v| v.name.as_str()),
            ),
        };
        match self.index.get(&canonical_name(name)) {
            None => Err(error("is not a variable of the model".into())),
            Some(&i) if !is(&self.variables[i].kind) => Err(error(format!(
                "is {} {}, not a {kind}",
                if self.variables[i].kind.label() == "auxiliary" {
                    "an"
                } else {
                    "a"
                },
                self.variables[i].kind.label()
            ))),
            Some(&i) if !self.variables[i].dimensions.is_empty() => {
                Err(error(format!("is arrayed; expected a scalar {kind}")))
            }
            Some(&i) => Ok(i),
        }
    }

    /// The model with one more lookup (`points` as (x, y), continuous),
    /// named `name`: a time series for a policy.
    ///
    /// # Errors
    ///
    /// [`Error::Parameter`] if the name is taken; [`Error::Invalid`] for
    /// points the table refuses (unsorted x, not finite).
    pub fn with_lookup(&self, name: &str, points: &[(f64, f64)], doc: &str) -> Result<Model> {
        if self.index.contains_key(&canonical_name(name)) {
            return Err(Error::Parameter {
                name: name.to_string(),
                reason: "already exists in the model".into(),
                suggestion: None,
            });
        }
        let table = LookupTable::new(points.iter().copied(), Interpolation::Continuous).map_err(
            |message| Error::Invalid {
                what: format!("series `{name}`"),
                message,
            },
        )?;
        let mut model = self.clone();
        model
            .index
            .insert(canonical_name(name), model.variables.len());
        model.variables.push(Variable {
            name: name.to_string(),
            dimensions: Vec::new(),
            elements: Vec::new(),
            doc: doc.to_string(),
            units: None,
            units_text: None,
            location: None,
            kind: VariableKind::Lookup {
                table,
                input: None,
                element_tables: Vec::new(),
            },
        });
        Ok(model)
    }
}

/// Documentation with a note appended as its own sentence.
fn join_doc(doc: &str, note: &str) -> String {
    match (doc.trim(), note.trim()) {
        (d, "") => d.to_string(),
        ("", n) => n.to_string(),
        (d, n) => format!("{d} {n}"),
    }
}
