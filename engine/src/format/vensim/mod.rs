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
//!
//! The reader is in parts: `blocks` splits the file into equations, units
//! and comments; `control` reads the time settings; `subscripts` the ranges
//! and each variable's shape; `equations` each equation's right-hand side;
//! `elements` makes each variable's model element.

mod blocks;
mod control;
mod elements;
mod equations;
mod subscripts;

use crate::build::{ModelBuilder, Source};
use crate::error::{Error, Location, Result};
use crate::format::unquoted;
use crate::model::Model;
use crate::name::canonical_name;
use crate::program::Warning;
use blocks::{Lhs, find_ci, split_lhs};
use elements::stock_flows;
use indexmap::IndexMap;
use std::collections::HashMap;
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
    /// Where the lines of `text` start, for locations.
    lines: crate::error::LineIndex,
    file: Option<Arc<str>>,
    errors: Vec<Error>,
    /// What was read with a reinterpretation (sorted lookup points, a
    /// rounded SAVEPER), for [`Model::warnings`].
    warnings: Vec<Warning>,
}

fn parse_named(text: &str, file: Option<&str>, stem: &str) -> Result<Model> {
    let mut reader = Reader {
        text,
        lines: crate::error::LineIndex::new(text),
        file: file.map(Arc::from),
        errors: Vec::new(),
        warnings: Vec::new(),
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
    // Each range's elements by canonical name, made once.
    let element_sets: Vec<std::collections::HashSet<String>> = dimensions
        .iter()
        .map(|(_, elements)| elements.iter().map(|e| canonical_name(e)).collect())
        .collect();
    for (key, defs) in &variables {
        if let Some(shape) = reader.shape(defs, &dimensions, &element_sets) {
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
    for w in reader.warnings {
        builder.warn(w.variable, w.location, w.message);
    }
    crate::format::build_with(builder, reader.errors)
}

impl Reader<'_> {
    fn location(&self, offset: usize) -> Location {
        let origin = self.file.clone().map(|f| Location::in_file(f, 1, 1));
        self.lines.location(self.text, offset, origin.as_ref())
    }

    fn error_at(&self, offset: usize, message: String) -> Error {
        Error::File {
            location: self.location(offset),
            message,
        }
    }

    fn warn(&mut self, variable: &str, location: Location, message: String) {
        self.warnings.push(Warning {
            variable: variable.to_string(),
            location: Some(location),
            message,
        });
    }

    fn push_error(&mut self, offset: usize, message: String) {
        let e = self.error_at(offset, message);
        self.errors.push(e);
    }
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
