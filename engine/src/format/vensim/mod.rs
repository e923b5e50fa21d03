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
//!   other ranges), subranges, mappings (`-> other`) and equivalences
//!   (`<->`), arrayed equations `x[dim] = ...`, per-element equations
//!   `x[a] = ...`, definitions in slices and with `:EXCEPT:`, and constant
//!   lists `x[dim] = 1, 2, 3` (rows separated by `;` for two dimensions);
//!   what the engine cannot take as written is written out element by
//!   element (see `expand`);
//! - macros (`:MACRO:` ... `:END OF MACRO:`), written out for each call
//!   (see `macros`);
//! - external data (`GET DIRECT ...`, `GET XLS ...`) and data equations
//!   (`:=`), read from files next to the model (see `data`);
//! - the control variables `INITIAL TIME`, `FINAL TIME`, `TIME STEP` and
//!   `SAVEPER` as the time settings (numbers, or expressions of numbers and
//!   each other), and the units of `TIME STEP` as the time units; control
//!   variables written as equations of `Time` or other variables become
//!   auxiliaries computed during the run ([`crate::ControlVariables`]);
//! - `TABBED ARRAY` lists, `:RAW:` data (each point held, with a warning)
//!   and subscript ranges read by `GET DIRECT SUBSCRIPT`.
//!
//! What is refused, with the line and column: the placeholder `A FUNCTION
//! OF`, `GET DATA ...`, subscripted equations in macros, and unknown
//! functions. Reality checks are skipped
//! with a warning. Vensim has no non-negative stocks, so none are made.
//! Vensim's integration method is not in the equations: the model runs
//! with Euler unless told otherwise.
//!
//! The reader is in parts: `blocks` splits the file into equations, units
//! and comments; `macros` takes the macros out; `control` reads the time
//! settings; `subscripts` the ranges and each variable's shape; `expand`
//! subranges and families, and writes definitions out element by element;
//! `equations` each equation's right-hand side; `data` external files;
//! `elements` makes each variable's model element.

mod blocks;
mod control;
mod data;
mod elements;
mod equations;
mod expand;
mod macros;
mod subscripts;

use crate::build::{ModelBuilder, Source};
use crate::error::{Error, Location, Result};
use crate::format::unquoted;
use crate::model::Model;
use crate::name::canonical_name;
use crate::program::Warning;
use blocks::{Lhs, split_lhs};
use elements::stock_flows;
use indexmap::IndexMap;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use subscripts::Shape;

/// Reads a Vensim `.mdl` file.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; otherwise as [`parse`].
pub fn load(path: impl AsRef<Path>) -> Result<Model> {
    let source = crate::format::SourceFile::read(path.as_ref())?;
    let dir = path
        .as_ref()
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .map(Path::to_path_buf);
    parse_named(&source.text, Some(&source.name), &source.stem, dir)
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
    parse_named(text, file, "model", None)
}

/// The right-hand side of an equation.
#[derive(Clone)]
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
    /// `GET DIRECT ...` and `GET XLS ...`: read when the definition is
    /// written out element by element.
    External(data::External),
}

/// One definition: a whole variable or some of its elements.
#[derive(Clone)]
struct Def {
    name: String,
    subscripts: Vec<String>,
    /// `:EXCEPT:` lists: element tuples (or ranges) left out.
    except: Vec<Vec<String>>,
    rhs: Rhs,
    /// A data equation (`:=`), and how it reads between its points.
    data: Option<data::DataMode>,
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
    /// The model file's folder, where external data is found.
    dir: Option<std::path::PathBuf>,
    /// The spreadsheets and text files read so far.
    workbooks: data::Workbooks,
}

fn parse_named(
    text: &str,
    file: Option<&str>,
    stem: &str,
    dir: Option<std::path::PathBuf>,
) -> Result<Model> {
    let mut reader = Reader {
        text,
        lines: crate::error::LineIndex::new(text),
        file: file.map(Arc::from),
        errors: Vec::new(),
        warnings: Vec::new(),
        dir,
        workbooks: data::Workbooks::default(),
    };
    // The sketch starts at `\\\---///` (some tools write fewer backslashes).
    let end = text
        .find("---///")
        .map_or(text.len(), |at| text[..at].trim_end_matches('\\').len());
    let (masked, macros) = macros::extract(&mut reader, &text[..end]);
    let blocks = reader.blocks(&masked);
    if blocks.iter().all(|b| b.equation.trim().is_empty()) {
        return Err(reader.error_at(
            0,
            "expected Vensim equations (`name = expression ~ units ~ comment |`), found none"
                .into(),
        ));
    }

    // Subscript ranges first: equations may use them before they are defined.
    let mut raw_dimensions: Vec<(String, Vec<String>, usize)> = Vec::new();
    let mut mappings: HashMap<String, Vec<String>> = HashMap::new();
    let mut range_names: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut defs = Vec::new();
    for block in &blocks {
        let eq = block.equation.as_str();
        let trimmed = eq.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('*') {
            continue; // a group heading such as `.Control`
        }
        let lead = eq.len() - trimmed.len();
        match split_lhs(eq) {
            Lhs::Dimension {
                name,
                elements,
                mapping,
            } => {
                // `GET DIRECT SUBSCRIPT(...)`: the elements from a file.
                let elements = match elements.as_slice() {
                    [one] => match data::subscript_call(one) {
                        Some(Ok(args)) => match reader.subscript_elements(&args) {
                            Ok(elements) => elements,
                            Err(message) => {
                                reader.push_error(block.start + lead, message);
                                continue;
                            }
                        },
                        Some(Err(message)) => {
                            reader.push_error(block.start + lead, message);
                            continue;
                        }
                        None => elements,
                    },
                    _ => elements,
                };
                let key = canonical_name(unquoted(name));
                if !range_names.insert(key.clone()) {
                    reader.push_error(
                        block.start + lead,
                        format!("subscript range `{}` is defined twice", unquoted(name)),
                    );
                    continue;
                }
                mappings.insert(key, mapping);
                raw_dimensions.push((unquoted(name).to_string(), elements, block.start + lead));
            }
            Lhs::RealityCheck(at) => {
                let location = reader.location(block.start + at);
                reader.warn(
                    "",
                    location,
                    "a reality check (`THE CONDITION:` or `TEST INPUT:`) was skipped: reality checks are not run".into(),
                );
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
            Lhs::Data { lhs, rhs, mode } => {
                if let Some(mut def) = reader.definition(block, lhs, rhs, false) {
                    def.data = Some(mode);
                    defs.push(def);
                }
            }
            Lhs::Nothing => reader.push_error(
                block.start + lead,
                "expected an equation `name = expression`, a lookup `name((x,y), ...)` or a subscript range `name: a, b, c`".into(),
            ),
        }
    }
    let resolved = reader.dimensions(&raw_dimensions);
    let resolved = resolved
        .into_iter()
        .map(|(name, elements)| {
            let key = canonical_name(&name);
            let at = raw_dimensions
                .iter()
                .find(|(n, ..)| canonical_name(n) == key)
                .map_or(0, |r| r.2);
            let mapping = mappings.remove(&key).unwrap_or_default();
            (name, elements, mapping, at)
        })
        .collect();
    let mut ranges = expand::Ranges::new(&mut reader, resolved);

    let mut builder = ModelBuilder::new(stem);

    macros::expand_calls(&mut reader, &mut defs, &macros);

    // Control variables become the time settings.
    let (controls, mut defs): (Vec<Def>, Vec<Def>) = defs.into_iter().partition(|d| {
        matches!(
            canonical_name(&d.name).as_str(),
            "initial_time" | "final_time" | "time_step" | "saveper"
        )
    });
    if let Some((time, units, dynamic, control)) = reader.time_settings(&controls, &defs) {
        builder = builder.time(time);
        if let Some(units) = units {
            builder = builder.time_units(units);
        }
        // Control variables computed during the run are auxiliaries.
        defs.extend(dynamic);
        builder = builder.control_variables(control);
    }

    // Definitions by variable, in the order of the file.
    let mut variables: IndexMap<String, Vec<Def>> = IndexMap::new();
    for def in defs {
        variables
            .entry(canonical_name(&def.name))
            .or_default()
            .push(def);
    }
    ranges.set_variables(variables.keys().cloned().collect());
    // Each variable's dimensions; definitions the engine cannot take as
    // they are are written out element by element.
    let mut variable_dims: HashMap<String, Vec<usize>> = HashMap::new();
    for (key, defs) in &variables {
        if defs[0].subscripts.is_empty() && defs.len() > 1 {
            reader.errors.push(Error::Model {
                variable: defs[0].name.clone(),
                location: Some(defs[1].location.clone()),
                message: "defined twice".into(),
            });
            continue;
        }
        if let Some(dims) = ranges.variable_dimensions(&mut reader, defs) {
            variable_dims.insert(key.clone(), dims);
        }
    }
    for (key, defs) in variables.iter_mut() {
        let Some(dims) = variable_dims.get(key) else {
            continue;
        };
        if ranges.is_plain(defs, dims, &variable_dims) {
            ranges.count_elements(defs);
            continue;
        }
        match ranges.expand(&mut reader, defs, dims) {
            Some(expanded) => *defs = expanded,
            None => {
                variable_dims.remove(key);
            }
        }
    }
    let (dimensions, positions) =
        ranges.dimensions(variables.keys().filter_map(|k| variable_dims.get(k)));
    for (name, elements) in &dimensions {
        builder = builder.dimension(name.clone(), elements.clone());
    }
    let mut shapes = HashMap::new();
    for (key, defs) in &variables {
        let Some(dims) = variable_dims.get(key) else {
            continue;
        };
        let dims: Vec<usize> = dims.iter().map(|r| positions[r]).collect();
        let whole = defs.len() == 1 && defs[0].subscripts.iter().all(|s| ranges.find(s).is_some());
        let shape = if dims.is_empty() {
            Shape::Scalar
        } else if whole {
            Shape::Whole(dims)
        } else {
            Shape::Elements(dims)
        };
        shapes.insert(key.clone(), shape);
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
    fn subranges_mappings_slices_and_except_are_written_out_element_by_element() {
        let m = model(
            "age: infant, child, teen, old ~~|\nolder: child, teen, old ~~|\n\
             younger: infant, child, teen -> older ~~|\n\
             pop[infant] = INTEG(10 - aging[infant], 100) ~~|\n\
             pop[older] = INTEG(aging[younger] - aging[older], 100) ~~|\n\
             aging[age] = pop[age] / 10 ~~|\n\
             grid[age, older] :EXCEPT: [infant, older], [old, old] = 1 ~~|\n\
             grid[infant, older] = older ~~|\n\
             adults = SUM(pop[older!]) ~~|\nn = ELMCOUNT(older) ~~|\n\
             biggest = VMAX(pop[age!]) + PROD(grid[teen, older!]) ~~|\n\
             pos[age] = IF THEN ELSE(age = teen, 1, 0) ~~|",
        )
        .unwrap();
        let r = Program::compile(&m).unwrap().run().unwrap();
        let at = |name: &str| {
            r.value_at(name, 1.0)
                .unwrap_or_else(|| panic!("no `{name}` in {:?}", r.names()))
        };
        // Each cohort passes a tenth on to the next one: child gets infant's.
        assert_eq!(at("pop[infant]"), 100.0 + 10.0 - 10.0);
        assert_eq!(at("pop[child]"), 100.0 + 10.0 - 10.0);
        assert_eq!(at("pop[old]"), 100.0 + 10.0 - 10.0);
        assert_eq!(r.value_at("adults", 0.0), Some(300.0));
        assert_eq!(at("n"), 3.0);
        // A range as a value is the element's position in its family:
        // child is the second of `age`.
        assert_eq!(at("grid[infant,child]"), 2.0);
        assert_eq!(at("grid[teen,old]"), 1.0);
        // Left out by :EXCEPT: and by no other equation: zero.
        assert_eq!(at("grid[old,old]"), 0.0);
        assert_eq!(at("pos[teen]") + at("pos[old]"), 1.0);
        assert_eq!(r.value_at("biggest", 0.0), Some(101.0));
        assert!(
            m.warnings()
                .iter()
                .any(|w| w.variable == "grid" && w.message.contains("[old, old]")),
            "{:?}",
            m.warnings()
        );
        // A subrange before its family: the family goes where it is written.
        let m = model("fam: a, b, c ~~|\nsub: a, b ~~|\nm[sub, fam] = sub * 10 + fam ~~|").unwrap();
        let r = Program::compile(&m).unwrap().run().unwrap();
        assert_eq!(r.value_at("m[b,c]", 0.0), Some(23.0));
        // Equivalences and transposition: the same elements, another range.
        let m = model(
            "s: x, y ~~|\nt <-> s ~~|\nio[s, t] = 1, 2; 3, 4 ~~|\nv[s] = 1, 10 ~~|\n\
             rows[t] = SUM(v[s!] * io[s!, t]) ~~|\ncols[s] = SUM(io[s, t!]) ~~|",
        )
        .unwrap();
        let r = Program::compile(&m).unwrap().run().unwrap();
        assert_eq!(r.value_at("rows[x]", 0.0), Some(1.0 + 30.0));
        assert_eq!(r.value_at("rows[y]", 0.0), Some(2.0 + 40.0));
        assert_eq!(r.value_at("cols[y]", 0.0), Some(7.0));
    }

    #[test]
    fn macros_with_stocks_nesting_and_a_definition_after_use() {
        let m = model(
            "twice = ACCUMULATE(2, 0) + ACCUMULATE(TIME, 10) ~~|\n\
             :MACRO: ACCUMULATE(rate, start)\n\
             ACCUMULATE = INTEG(in, start) ~~|\nin = HALF(rate) * 2 ~~|\n:END OF MACRO:\n\
             :MACRO: HALF(x)\nHALF = x / 2 ~~|\n:END OF MACRO:\n\
             both = SPLIT(TIME : lower, upper) + SPLIT(1 : one, two) ~~|\n\
             :MACRO: SPLIT(x : low, high)\nSPLIT = x ~~|\nlow = x - 1 ~~|\nhigh = x + 1 ~~|\n\
             :END OF MACRO:\n",
        )
        .unwrap();
        let r = Program::compile(&m).unwrap().run().unwrap();
        // Each call has its own stock: 2 a month, and 0 + 1 + 2 + 3 over
        // four months on top of 10.
        assert_eq!(r.value_at("twice", 0.0), Some(10.0));
        assert_eq!(r.value_at("twice", 4.0), Some(8.0 + 16.0));
        // Several outputs: the caller names them after `:`.
        assert_eq!(r.value_at("both", 3.0), Some(4.0));
        assert_eq!(r.value_at("lower", 3.0), Some(2.0));
        assert_eq!(r.value_at("upper", 3.0), Some(4.0));
        assert_eq!(r.value_at("two", 3.0), Some(2.0));
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
        let e = err("x = 1 ~~|\n:MACRO: m(a : b)\nm = a ~~|\n:END OF MACRO:\n");
        assert!(
            e.contains("m.mdl:3:1") && e.contains("lists the output `b` but has no equation"),
            "{e}"
        );
        let e = err("x = m(1, 2) ~~|\n:MACRO: m(a)\nm = a ~~|\n:END OF MACRO:\n");
        assert!(
            e.contains("m.mdl:2:1") && e.contains("takes 1 input(s) (a), got 2"),
            "{e}"
        );
        let e = err("x = m(1) ~~|\n:MACRO: m(a)\nm = m(a) ~~|\n:END OF MACRO:\n");
        assert!(e.contains("call itself"), "{e}");
        let e = err("x :RAW: 1 ~~|");
        assert!(e.contains("m.mdl:2:3") && e.contains("`:=`"), "{e}");
        let e = err("x = GET DIRECT CONSTANTS('a.csv', 'b', 'A1') ~~|");
        assert!(
            e.contains("m.mdl:2:1") && e.contains("relative to the model file"),
            "{e}"
        );
        let e = err("x = A FUNCTION OF(y) ~~|\ny = 1 ~~|");
        assert!(e.contains("m.mdl:2:5") && e.contains("placeholder"), "{e}");
        for (call, why) in [
            (
                "DELAY CONVEYOR(1, 2, 0, 0, 0, 0)",
                "DELAY CONVEYOR is not supported",
            ),
            ("DELAY CONVEYOR(1, 2, 0, 0, 0, 0)", "DELAY FIXED"),
            (
                "DELAY MATERIAL(1, 2, 0, 0)",
                "DELAY MATERIAL is not supported",
            ),
        ] {
            let m = model(&format!("y = 1 ~~|\nx = y + {call} ~~|")).unwrap();
            let e = Program::compile(&m).unwrap_err().to_string();
            assert!(e.contains("m.mdl:3:9") && e.contains(why), "{e}");
        }
        let e = err("f((0,0),(1,x)) ~~|");
        assert!(e.contains("m.mdl:2:9") && e.contains("`(1,x)`"), "{e}");
        let e = err("d: a, b ~~|\nx[a] = 1 ~~|\nx[bb] = 2 ~~|");
        assert!(
            e.contains("`bb` is not an element") && e.contains("`b`"),
            "{e}"
        );
        let e = err("d: a, b ~~|\nx[a] = 1 ~~|\nx[d] = 2 ~~|");
        assert!(
            e.contains("m.mdl:4:1") && e.contains("[a] is defined twice"),
            "{e}"
        );
        let unknown = model("d: a, b ~~|\ny[d] = 1 ~~|\nx[d] = y[e] ~~|").unwrap();
        let e = Program::compile(&unknown).unwrap_err().to_string();
        assert!(e.contains("m.mdl:4:10") && e.contains("`e`"), "{e}");
        let e = err("d: a, b ~~|\ns: a ~~|\nx[d] = s ~~|");
        assert!(
            e.contains("m.mdl:4:1")
                && e.contains("`s` is used in the equation but stands for no element"),
            "{e}"
        );
        let e = err("d: a, b -> nowhere ~~|\nx[d] = 1 ~~|");
        assert!(
            e.contains("m.mdl:2:1") && e.contains("maps to `nowhere`"),
            "{e}"
        );
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
