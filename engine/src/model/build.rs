//! The builder API: describe elements with plain strings, then
//! [`ModelBuilder::build`] parses and validates everything at once and reports
//! every problem it finds.

use super::{
    Dimension, Equation, Interpolation, LookupTable, Model, TimeSettings, Units, Variable,
    VariableKind,
};
use crate::error::{Error, Location, Result};
use crate::name::{canonical_name, closest_while, did_you_mean};
use std::collections::HashMap;

/// Equation text with an optional file position of its first character.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// The equation text.
    pub text: String,
    /// Where the text starts in its file.
    pub origin: Option<Location>,
}

impl From<&str> for Source {
    fn from(text: &str) -> Self {
        Source {
            text: text.to_string(),
            origin: None,
        }
    }
}

impl From<String> for Source {
    fn from(text: String) -> Self {
        Source { text, origin: None }
    }
}

impl From<f64> for Source {
    fn from(value: f64) -> Self {
        Source {
            text: format_number(value),
            origin: None,
        }
    }
}

/// Formats a number so that it parses back to the same value.
pub(crate) fn format_number(value: f64) -> String {
    if value.is_finite() {
        format!("{value:?}")
    } else {
        format!("{value}")
    }
}

/// Fields every element has.
#[derive(Debug, Clone, PartialEq, Default)]
struct Common {
    name: String,
    doc: String,
    units: Option<String>,
    location: Option<Location>,
    dimensions: Vec<String>,
    elements: Vec<(Vec<String>, Source)>,
}

macro_rules! common_setters {
    ($t:ty) => {
        impl $t {
            /// Sets the documentation string.
            pub fn doc(mut self, doc: impl Into<String>) -> Self {
                self.common.doc = doc.into();
                self
            }

            /// Sets the units (`children`, `£/year`, `1/year`, ...).
            pub fn units(mut self, units: impl Into<String>) -> Self {
                self.common.units = Some(units.into());
                self
            }

            /// Makes the variable an array over these dimensions (declared
            /// with [`ModelBuilder::dimension`]). Its equation applies to
            /// every element, with the dimension names in it meaning the
            /// element being computed.
            pub fn dimensions<I, S>(mut self, dimensions: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.common.dimensions = dimensions.into_iter().map(Into::into).collect();
                self
            }

            /// Gives one element of an arrayed variable its own equation (or
            /// initial value, or constant value), one element name per
            /// dimension.
            pub fn element<I, S>(mut self, element: I, equation: impl Into<Source>) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.common.elements.push((
                    element.into_iter().map(Into::into).collect(),
                    equation.into(),
                ));
                self
            }

            /// Records where the element is defined, for error messages.
            pub fn at(mut self, location: Location) -> Self {
                self.common.location = Some(location);
                self
            }
        }
    };
}

/// A stock: `Stock::new(name, initial value).inflow(..).outflow(..)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stock {
    common: Common,
    initial: Source,
    inflows: Vec<String>,
    outflows: Vec<String>,
    non_negative: bool,
}

impl Stock {
    /// A stock with an initial-value equation (or number).
    pub fn new(name: impl Into<String>, initial: impl Into<Source>) -> Self {
        Stock {
            common: Common {
                name: name.into(),
                ..Common::default()
            },
            initial: initial.into(),
            inflows: Vec::new(),
            outflows: Vec::new(),
            non_negative: false,
        }
    }

    /// Adds an inflow (the name of a flow).
    pub fn inflow(mut self, flow: impl Into<String>) -> Self {
        self.inflows.push(flow.into());
        self
    }

    /// Adds an outflow (the name of a flow).
    pub fn outflow(mut self, flow: impl Into<String>) -> Self {
        self.outflows.push(flow.into());
        self
    }

    /// Keeps the stock from going below zero.
    pub fn non_negative(mut self, yes: bool) -> Self {
        self.non_negative = yes;
        self
    }
}
common_setters!(Stock);

/// A flow: `Flow::new(name, rate equation)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    common: Common,
    equation: Source,
    non_negative: bool,
}

impl Flow {
    /// A flow with its rate equation.
    pub fn new(name: impl Into<String>, equation: impl Into<Source>) -> Self {
        Flow {
            common: Common {
                name: name.into(),
                ..Common::default()
            },
            equation: equation.into(),
            non_negative: false,
        }
    }

    /// Clamps the flow at zero (an XMILE uniflow).
    pub fn non_negative(mut self, yes: bool) -> Self {
        self.non_negative = yes;
        self
    }
}
common_setters!(Flow);

/// An auxiliary: `Aux::new(name, equation)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Aux {
    common: Common,
    equation: Source,
}

impl Aux {
    /// An auxiliary with its equation.
    pub fn new(name: impl Into<String>, equation: impl Into<Source>) -> Self {
        Aux {
            common: Common {
                name: name.into(),
                ..Common::default()
            },
            equation: equation.into(),
        }
    }
}
common_setters!(Aux);

/// A constant: `Constant::new(name, value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    common: Common,
    value: f64,
}

impl Constant {
    /// A constant with its default value.
    pub fn new(name: impl Into<String>, value: f64) -> Self {
        Constant {
            common: Common {
                name: name.into(),
                ..Common::default()
            },
            value,
        }
    }
}
common_setters!(Constant);

/// A lookup: `Lookup::new(name, points)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    common: Common,
    points: Vec<(f64, f64)>,
    interpolation: Interpolation,
    input: Option<Source>,
    element_tables: Vec<ElementPoints>,
}

/// The points of one element's table: (one element per dimension, points).
type ElementPoints = (Vec<String>, Vec<(f64, f64)>);

impl Lookup {
    /// A lookup through `points` (x increasing).
    pub fn new(name: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Lookup {
            common: Common {
                name: name.into(),
                ..Common::default()
            },
            points: points.into_iter().collect(),
            interpolation: Interpolation::Continuous,
            input: None,
            element_tables: Vec::new(),
        }
    }

    /// Sets how values between and beyond the points are found.
    pub fn interpolation(mut self, interpolation: Interpolation) -> Self {
        self.interpolation = interpolation;
        self
    }

    /// Gives one element of an arrayed lookup its own table (the others
    /// use the lookup's points).
    pub fn element_points<I, S>(
        mut self,
        element: I,
        points: impl IntoIterator<Item = (f64, f64)>,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.element_tables.push((
            element.into_iter().map(Into::into).collect(),
            points.into_iter().collect(),
        ));
        self
    }

    /// Makes the lookup a variable too: its value is the table at `input`.
    pub fn input(mut self, input: impl Into<Source>) -> Self {
        self.input = Some(input.into());
        self
    }
}
common_setters!(Lookup);

/// Any element, for [`ModelBuilder::add`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Element {
    /// A stock.
    Stock(Stock),
    /// A flow.
    Flow(Flow),
    /// An auxiliary.
    Aux(Aux),
    /// A constant.
    Constant(Constant),
    /// A lookup.
    Lookup(Lookup),
}

impl Element {
    fn common(&self) -> &Common {
        match self {
            Element::Stock(x) => &x.common,
            Element::Flow(x) => &x.common,
            Element::Aux(x) => &x.common,
            Element::Constant(x) => &x.common,
            Element::Lookup(x) => &x.common,
        }
    }

    fn is_flow(&self) -> bool {
        matches!(self, Element::Flow(_))
    }

    fn label(&self) -> &'static str {
        match self {
            Element::Stock(_) => "a stock",
            Element::Flow(_) => "a flow",
            Element::Aux(_) => "an auxiliary",
            Element::Constant(_) => "a constant",
            Element::Lookup(_) => "a lookup",
        }
    }
}

macro_rules! into_element {
    ($($t:ident),*) => {$(
        impl From<$t> for Element {
            fn from(x: $t) -> Element {
                Element::$t(x)
            }
        }
    )*};
}
into_element!(Stock, Flow, Aux, Constant, Lookup);

/// Collects elements and settings, then validates them into a [`Model`].
#[derive(Debug, Clone)]
pub struct ModelBuilder {
    name: String,
    dimensions: Vec<(String, Vec<String>)>,
    doc: String,
    time: Option<TimeSettings>,
    time_units: Option<String>,
    elements: Vec<Element>,
    warnings: Vec<crate::program::Warning>,
    control: super::ControlVariables,
    outflows: super::OutflowLimiting,
}

impl ModelBuilder {
    /// A builder for a model called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        ModelBuilder {
            name: name.into(),
            dimensions: Vec::new(),
            doc: String::new(),
            time: None,
            time_units: None,
            elements: Vec::new(),
            warnings: Vec::new(),
            control: super::ControlVariables::default(),
            outflows: super::OutflowLimiting::default(),
        }
    }

    /// Records something a file reader read with a default or a
    /// reinterpretation (no `<sim_specs>`, a lookup it sorted, ...): it does
    /// not stop the model, and [`Model::warnings`] and
    /// [`Program::warnings`](crate::Program::warnings) report it. `variable`
    /// may be empty for the model as a whole.
    pub fn warn(
        &mut self,
        variable: impl Into<String>,
        location: Option<Location>,
        message: impl Into<String>,
    ) {
        self.warnings.push(crate::program::Warning {
            variable: variable.into(),
            location,
            message: message.into(),
        });
    }

    /// Sets the model's documentation.
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.doc = doc.into();
        self
    }

    /// Sets the time settings (default: 0 to 100, dt 1, Euler).
    pub fn time(mut self, time: TimeSettings) -> Self {
        self.time = Some(time);
        self
    }

    /// Declares a dimension and its elements.
    pub fn dimension<I, S>(mut self, name: impl Into<String>, elements: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.dimensions
            .push((name.into(), elements.into_iter().map(Into::into).collect()));
        self
    }

    /// Sets how non-negative stocks limit their outflows (proportionally
    /// unless set).
    pub fn outflow_limiting(mut self, limiting: super::OutflowLimiting) -> Self {
        self.outflows = limiting;
        self
    }

    /// Names the variables that compute control settings during the run
    /// (see [`ControlVariables`](super::ControlVariables)); each must be an
    /// auxiliary of the model.
    pub fn control_variables(mut self, control: super::ControlVariables) -> Self {
        self.control = control;
        self
    }

    /// Sets the unit of time (`year`, `month`, `day`, ...).
    pub fn time_units(mut self, units: impl Into<String>) -> Self {
        self.time_units = Some(units.into());
        self
    }

    /// Adds an element.
    // A builder method, not arithmetic: `Model::builder(..).add(Stock::new(..))`.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, element: impl Into<Element>) -> Self {
        self.elements.push(element.into());
        self
    }

    /// Adds an element (for builders held in a variable).
    pub fn push(&mut self, element: impl Into<Element>) {
        self.elements.push(element.into());
    }

    /// What the element called `name` (any spelling) is, if there is one:
    /// "a stock", "a flow", ...
    pub(crate) fn kind_of(&self, name: &str) -> Option<&'static str> {
        let name = canonical_name(name);
        self.elements
            .iter()
            .find(|e| canonical_name(&e.common().name) == name)
            .map(Element::label)
    }

    /// Adds inflows and outflows to the stock called `stock` (any
    /// spelling) after those it has; false if there is no such stock.
    pub(crate) fn attach_flows(
        &mut self,
        stock: &str,
        inflows: &[String],
        outflows: &[String],
    ) -> bool {
        let name = canonical_name(stock);
        for element in &mut self.elements {
            if let Element::Stock(s) = element
                && canonical_name(&s.common.name) == name
            {
                s.inflows.extend(inflows.iter().cloned());
                s.outflows.extend(outflows.iter().cloned());
                return true;
            }
        }
        false
    }

    /// Validates and builds the model.
    ///
    /// # Errors
    ///
    /// Every problem found, as one [`Error`] (an [`Error::Many`] when there
    /// are several): equations that do not parse, duplicate names, inflows or
    /// outflows that are not flows, a flow used by two stocks on the same
    /// side, malformed units or lookups.
    pub fn build(self) -> Result<Model> {
        let mut errors = Vec::new();
        let time = match self.time {
            Some(t) => t,
            None => TimeSettings::new(0.0, 100.0, 1.0)?,
        };
        if let Some(units) = &self.time_units
            && let Err(message) = Units::parse(units)
        {
            errors.push(Error::Invalid {
                what: "time units".into(),
                message,
            });
        }

        // Dimensions: named, unique, with unique elements.
        let mut dimensions: Vec<Dimension> = Vec::new();
        for (name, elements) in &self.dimensions {
            let problem = if canonical_name(name).is_empty() {
                Some("a dimension needs a name".to_string())
            } else if dimensions
                .iter()
                .any(|d| canonical_name(d.name()) == canonical_name(name))
            {
                Some("dimension defined twice".to_string())
            } else if elements.is_empty() {
                Some("a dimension needs at least one element".to_string())
            } else {
                let mut seen = std::collections::HashSet::with_capacity(elements.len());
                elements
                    .iter()
                    .find(|e| !seen.insert(canonical_name(e)))
                    .map(|e| format!("element `{e}` appears twice"))
                    .or_else(|| {
                        // Subscripts and element tuples are separated by
                        // commas in every format.
                        elements.iter().find(|e| e.contains(',')).map(|e| {
                            format!("element `{e}`: an element name cannot contain a comma")
                        })
                    })
            };
            match problem {
                Some(message) => errors.push(Error::Model {
                    variable: name.clone(),
                    location: None,
                    message,
                }),
                None => dimensions.push(Dimension::new(
                    name.trim().to_string(),
                    elements.iter().map(|e| e.trim().to_string()).collect(),
                )),
            }
        }
        let find_dimension = |name: &str| {
            dimensions
                .iter()
                .find(|d| canonical_name(d.name()) == canonical_name(name))
        };

        // Names: non-empty and unique in canonical form.
        let mut index: HashMap<String, usize> = HashMap::new();
        for (i, element) in self.elements.iter().enumerate() {
            let common = element.common();
            let canonical = canonical_name(&common.name);
            if canonical.is_empty() {
                errors.push(model_error(common, "a variable needs a name"));
                continue;
            }
            if let Some(&first) = index.get(&canonical) {
                let other = self.elements[first].common();
                let place = other
                    .location
                    .as_ref()
                    .map(|l| format!(" at {l}"))
                    .unwrap_or_default();
                errors.push(model_error(
                    common,
                    format!("defined twice: also `{}`{place}", other.name),
                ));
                continue;
            }
            index.insert(canonical, i);
        }

        // Each flow is an inflow of at most one stock and an outflow of at most one.
        let mut inflow_of: HashMap<String, String> = HashMap::new();
        let mut outflow_of: HashMap<String, String> = HashMap::new();
        let mut variables = Vec::with_capacity(self.elements.len());
        for element in &self.elements {
            let common = element.common();
            let units = match &common.units {
                Some(text) => match Units::parse(text) {
                    Ok(u) => Some(u),
                    Err(message) => {
                        errors.push(model_error(common, format!("invalid units: {message}")));
                        None
                    }
                },
                None => None,
            };
            let name = common.name.trim().to_string();
            let parse = |source: &Source, errors: &mut Vec<Error>| {
                Equation::parse(&source.text, &name, source.origin.clone())
                    .map_err(|e| errors.push(e))
                    .ok()
            };
            let kind = match element {
                Element::Stock(stock) => {
                    let mut check_flows =
                        |flows: &[String], side: &str, owner: &mut HashMap<String, String>| {
                            for flow in flows {
                                let canonical = canonical_name(flow);
                                match index.get(&canonical).map(|&i| &self.elements[i]) {
                                    None => {
                                        let suggestion = closest_while(
                                            errors.len(),
                                            flow,
                                            self.elements
                                                .iter()
                                                .filter(|e| e.is_flow())
                                                .map(|e| e.common().name.as_str()),
                                        );
                                        errors.push(model_error(
                                            common,
                                            format!(
                                                "{side} `{flow}` is not defined{}",
                                                did_you_mean(suggestion)
                                            ),
                                        ));
                                    }
                                    Some(e) if !e.is_flow() => errors.push(model_error(
                                        common,
                                        format!("{side} `{flow}` is {}, not a flow", e.label()),
                                    )),
                                    Some(_) => {
                                        if let Some(previous) =
                                            owner.insert(canonical, common.name.clone())
                                        {
                                            errors.push(model_error(
                                            common,
                                            format!(
                                                "flow `{flow}` is already an {side} of `{previous}`; a flow can be an {side} of only one stock"
                                            ),
                                        ));
                                        }
                                    }
                                }
                            }
                        };
                    check_flows(&stock.inflows, "inflow", &mut inflow_of);
                    check_flows(&stock.outflows, "outflow", &mut outflow_of);
                    parse(&stock.initial, &mut errors).map(|initial| VariableKind::Stock {
                        initial,
                        inflows: stock.inflows.clone(),
                        outflows: stock.outflows.clone(),
                        non_negative: stock.non_negative,
                    })
                }
                Element::Flow(flow) => {
                    parse(&flow.equation, &mut errors).map(|equation| VariableKind::Flow {
                        equation,
                        non_negative: flow.non_negative,
                    })
                }
                Element::Aux(aux) => parse(&aux.equation, &mut errors)
                    .map(|equation| VariableKind::Auxiliary { equation }),
                Element::Constant(constant) => {
                    if constant.value.is_finite() {
                        Some(VariableKind::Constant {
                            value: constant.value,
                        })
                    } else {
                        errors.push(model_error(
                            common,
                            format!("constant value must be finite, not {}", constant.value),
                        ));
                        None
                    }
                }
                Element::Lookup(lookup) => {
                    let input = match &lookup.input {
                        Some(source) => parse(source, &mut errors).map(Some),
                        None => Some(None),
                    };
                    match LookupTable::new(lookup.points.iter().copied(), lookup.interpolation) {
                        Ok(table) => input.map(|input| VariableKind::Lookup {
                            table,
                            input,
                            element_tables: Vec::new(),
                        }),
                        Err(message) => {
                            errors.push(model_error(common, message));
                            None
                        }
                    }
                }
            };
            // Dimensions of an arrayed variable, and its per-element equations.
            let mut var_dimensions = Vec::new();
            for d in &common.dimensions {
                match find_dimension(d) {
                    Some(dim) if var_dimensions.contains(&dim.name().to_string()) => {
                        errors.push(model_error(
                            common,
                            format!("dimension `{d}` is listed twice"),
                        ));
                    }
                    Some(dim) => var_dimensions.push(dim.name().to_string()),
                    None => errors.push(model_error(
                        common,
                        format!(
                            "dimension `{d}` is not defined{}",
                            did_you_mean(closest_while(
                                errors.len(),
                                d,
                                dimensions.iter().map(|x| x.name())
                            ))
                        ),
                    )),
                }
            }
            let mut element_equations: Vec<(Vec<String>, Equation)> = Vec::new();
            let mut defined = std::collections::HashSet::new();
            for (tuple, source) in &common.elements {
                let Some(resolved) =
                    resolve_tuple(common, tuple, &var_dimensions, &dimensions, &mut errors)
                else {
                    continue;
                };
                if !defined.insert(resolved.clone()) {
                    errors.push(model_error(
                        common,
                        format!("element [{}] is defined twice", resolved.join(", ")),
                    ));
                    continue;
                }
                if let Some(equation) = parse(source, &mut errors) {
                    if matches!(element, Element::Constant(_))
                        && equation.expr().as_number().is_none()
                    {
                        errors.push(model_error(
                            common,
                            format!(
                                "element [{}] of a constant must be a number, not `{}`",
                                resolved.join(", "),
                                source.text
                            ),
                        ));
                        continue;
                    }
                    element_equations.push((resolved, equation));
                }
            }
            let mut kind = kind;
            if let (Element::Lookup(lookup), Some(VariableKind::Lookup { element_tables, .. })) =
                (element, kind.as_mut())
            {
                let mut given = std::collections::HashSet::new();
                for (tuple, points) in &lookup.element_tables {
                    let Some(resolved) =
                        resolve_tuple(common, tuple, &var_dimensions, &dimensions, &mut errors)
                    else {
                        continue;
                    };
                    match LookupTable::new(points.iter().copied(), lookup.interpolation) {
                        Ok(table) if given.insert(resolved.clone()) => {
                            element_tables.push((resolved, table))
                        }
                        Ok(_) => errors.push(model_error(
                            common,
                            format!(
                                "the table of element [{}] is given twice",
                                resolved.join(", ")
                            ),
                        )),
                        Err(message) => errors.push(model_error(
                            common,
                            format!("element [{}]: {message}", resolved.join(", ")),
                        )),
                    }
                }
            }
            if let Some(kind) = kind {
                variables.push(Variable {
                    dimensions: var_dimensions,
                    elements: element_equations,
                    name,
                    doc: common.doc.clone(),
                    units,
                    units_text: common.units.clone(),
                    location: common.location.clone(),
                    kind,
                });
            }
        }
        Error::from_list(errors)?;
        let index = variables
            .iter()
            .enumerate()
            .map(|(i, v)| (canonical_name(&v.name), i))
            .collect();
        Ok(Model {
            dimensions,
            name: self.name,
            doc: self.doc,
            time,
            time_units: self.time_units,
            variables,
            index,
            warnings: self.warnings,
            control: self.control,
            outflows: self.outflows,
        })
    }
}

/// Checks that `tuple` names one element of each of `var_dimensions` and
/// returns the elements as the dimensions spell them.
fn resolve_tuple(
    common: &Common,
    tuple: &[String],
    var_dimensions: &[String],
    dimensions: &[Dimension],
    errors: &mut Vec<Error>,
) -> Option<Vec<String>> {
    if tuple.len() != var_dimensions.len() {
        errors.push(model_error(
            common,
            format!(
                "element [{}] names {} element(s) but the variable has {} dimension(s)",
                tuple.join(", "),
                tuple.len(),
                var_dimensions.len()
            ),
        ));
        return None;
    }
    let mut resolved = Vec::with_capacity(tuple.len());
    for (element_name, dim_name) in tuple.iter().zip(var_dimensions) {
        let dim = dimensions
            .iter()
            .find(|d| canonical_name(d.name()) == canonical_name(dim_name))?;
        match dim.position(element_name) {
            Some(p) => resolved.push(dim.elements()[p].clone()),
            None => errors.push(model_error(
                common,
                format!(
                    "`{element_name}` is not an element of `{dim_name}`{}",
                    did_you_mean(closest_while(
                        errors.len(),
                        element_name,
                        dim.elements().iter().map(String::as_str)
                    ))
                ),
            )),
        }
    }
    (resolved.len() == tuple.len()).then_some(resolved)
}

fn model_error(common: &Common, message: impl Into<String>) -> Error {
    Error::Model {
        variable: common.name.clone(),
        location: common.location.clone(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_reports_every_problem() {
        let err = ModelBuilder::new("m")
            .add(Stock::new("s", "0").inflow("flw").outflow("a"))
            .add(Flow::new("flow", "1 +"))
            .add(Aux::new("a", "1"))
            .add(Aux::new("A", "2"))
            .add(Constant::new("c", f64::NAN))
            .add(Lookup::new("l", [(1.0, 0.0), (0.0, 1.0)]))
            .add(Aux::new("u", "1").units("year^x"))
            .build()
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("inflow `flw` is not defined; did you mean `flow`?"),
            "{text}"
        );
        assert!(
            text.contains("outflow `a` is an auxiliary, not a flow"),
            "{text}"
        );
        assert!(text.contains("unexpected end of the equation"), "{text}");
        assert!(text.contains("defined twice"), "{text}");
        assert!(text.contains("must be finite"), "{text}");
        assert!(text.contains("x values must increase"), "{text}");
        assert!(text.contains("invalid units"), "{text}");
        assert_eq!(err.iter().count(), 7);
    }

    #[test]
    fn a_flow_drains_only_one_stock() {
        let err = ModelBuilder::new("m")
            .add(Stock::new("a", "0").outflow("f"))
            .add(Stock::new("b", "0").outflow("f"))
            .add(Flow::new("f", "1"))
            .build()
            .unwrap_err();
        assert!(
            err.to_string().contains("already an outflow of `a`"),
            "{err}"
        );
    }
}
