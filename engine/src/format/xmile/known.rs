//! What the XMILE reader understands, element by element: every element
//! and attribute of the file is one of
//!
//! - read (listed here as known in its context);
//! - display only, ignored without a word: diagrams and their styles
//!   (`<views>`, `<display>`, `<style>`, `<group>`, a variable's `<range>`,
//!   `<scale>`, `<format>`, a graphical function's `<yscale>`, position and
//!   style attributes such as `x`, `y`, `color`, `font-size`), and the
//!   header's metadata (`<header>`: vendor, product, options; but its
//!   `<includes>`, other files the model needs, is refused);
//! - an application's own settings in its namespace (`isee:prefs`,
//!   `isee:simulation_delay`, ...), ignored without a word, except
//!   `isee:instantaneous_flows="true"`, which changes the numbers and is
//!   warned about;
//! - not supported and changing the numbers (a `<conveyor>`'s capacity,
//!   inflow limit, sampling, arrest and leakage, `<queue>`,
//!   `<behavior>` other than non-negativity, a `<macro>`'s own
//!   `<sim_specs>`, `<data>`, a flow's
//!   `<leak>`...): a located error;
//! - anything else: a located warning that it was ignored.

use super::Reader;

use crate::program::Warning;
use roxmltree::Node;

/// What an element is in its context.
enum Kind {
    /// Read: check its children in this context.
    Read(&'static str),
    /// Read as text or a leaf: its children are not elements.
    Leaf,
    /// Display or metadata only: not checked further.
    Display,
    /// Changes the numbers and is not supported: an error with this reason.
    Unsupported(&'static str),
}

const DISPLAY_ATTRIBUTES: &[&str] = &[
    "x",
    "y",
    "width",
    "height",
    "color",
    "background",
    "z_index",
    "font_family",
    "font-family",
    "font_size",
    "font-size",
    "font_weight",
    "font-weight",
    "font_style",
    "font-style",
    "text_decoration",
    "text-decoration",
    "text_align",
    "text-align",
    "vertical_text_align",
    "text_padding",
    "border_color",
    "border_width",
    "border_style",
    "label_side",
    "label_angle",
    "uid",
    "zoom",
];

fn kind(context: &str, tag: &str) -> Option<Kind> {
    use Kind::*;
    const QUEUE: &str = "queues are not supported";
    Some(match (context, tag) {
        ("xmile", "header") => Read("header"),
        ("header", "includes") => Unsupported(
            "included files are not read: copy the included models and macros into this file",
        ),
        ("header", _) => Display,
        ("xmile", "sim_specs") | ("model", "sim_specs") => Read("sim_specs"),
        ("xmile", "dimensions") => Read("dimensions"),
        ("xmile", "model") => Read("model"),
        ("xmile", "style") => Display,
        ("xmile", "behavior") | ("model", "behavior") => Read("behavior"),
        ("behavior", "non_negative") | ("behavior_entity", "non_negative") => Leaf,
        ("behavior", "stock" | "flow") => Read("behavior_entity"),
        ("behavior" | "behavior_entity", _) => Unsupported(
            "of <behavior>, carecascade reads only <non_negative> (for every stock and flow, or inside <stock> or <flow>)",
        ),
        ("xmile", "macro") => Read("macro"),
        ("macro", "parm" | "eqn" | "doc" | "units") => Leaf,
        ("macro", "format" | "views") => Display,
        ("macro", "variables") => Read("variables"),
        ("macro", "sim_specs") => Unsupported(
            "a macro's own <sim_specs> (its own time step or method) is not supported: its variables are integrated with the model's",
        ),
        ("xmile", "data") => Unsupported(
            "<data> (imported and exported data) is not supported: give the values as graphical functions",
        ),
        ("sim_specs", "start" | "stop" | "dt" | "savestep" | "save_interval") => Leaf,
        ("dimensions", "dim") => Read("dim"),
        ("dim", "elem") => Leaf,
        ("model", "variables") => Read("variables"),
        ("model", "views" | "display" | "interface" | "style") => Display,
        ("model" | "variables", "stock") => Read("stock"),
        ("model" | "variables", "flow") => Read("flow"),
        ("model" | "variables", "aux") => Read("aux"),
        ("model" | "variables", "gf") => Read("gf"),
        ("model" | "variables", "module") => Read("module"),
        ("model" | "variables", "group") => Display,
        ("stock" | "flow" | "aux" | "gf", "display" | "range" | "scale" | "format") => Display,
        ("stock" | "flow" | "aux" | "gf", "units" | "doc") => Leaf,
        ("stock" | "flow" | "aux", "eqn") => Leaf,
        ("stock" | "flow" | "aux" | "gf", "dimensions") => Read("var_dimensions"),
        ("stock" | "flow" | "aux" | "gf", "element") => Read("element"),
        ("stock", "inflow" | "outflow" | "non_negative") => Leaf,
        ("stock", "conveyor") => Read("conveyor"),
        ("stock", "queue") => Unsupported(QUEUE),
        ("conveyor", "len") => Leaf,
        ("conveyor", "capacity" | "in_limit") => Unsupported(
            "a conveyor's capacity and inflow limit are not supported: they hold back the inflow, and how Stella limits it within a DT could not be established",
        ),
        ("conveyor", "sample" | "arrest") => {
            Unsupported("sampling a conveyor's inflow and arresting it are not supported")
        }
        ("conveyor", _) => Unsupported("of <conveyor>, carecascade reads only <len>"),
        ("flow", "non_negative") => Leaf,
        ("flow", "leak" | "leak_integers") => Unsupported(
            "conveyor leakage is not supported: how Stella takes a leak from each slat of the conveyor, DT by DT and at the ends of the leak zone, could not be established well enough to give its numbers",
        ),
        ("flow", "multiplier" | "overflow") => {
            Unsupported("flow multipliers and queue overflows are not supported")
        }
        ("flow" | "aux" | "element", "gf") => Read("gf"),
        ("element", "eqn") => Leaf,
        ("element" | "gf", "xpts" | "ypts" | "xscale") => Leaf,
        ("gf" | "element", "yscale") => Display,
        ("var_dimensions", "dim") => Leaf,
        // Some translators nest <dimensions> twice.
        ("var_dimensions", "dimensions") => Read("var_dimensions"),
        ("module", "connect") => Leaf,
        ("module", "display") => Display,
        _ => return None,
    })
}

fn known_attribute(context: &str, attribute: &str) -> bool {
    matches!(
        (context, attribute),
        ("xmile", "version" | "level")
            | ("sim_specs", "method" | "time_units")
            | ("dt", "reciprocal")
            | ("dim", "name" | "size")
            | ("elem", "name")
            | ("model", "name")
            | ("macro", "name")
            | (
                "stock" | "flow" | "aux" | "module",
                "name" | "access" | "autoexport"
            )
            | ("gf", "name" | "type" | "discrete")
            | ("element", "subscript")
            | ("var_dimensions", "name")
            | ("xpts" | "ypts", "sep")
            | ("xscale", "min" | "max")
            | ("module", "resource" | "model")
            | (
                "conveyor",
                "discrete"
                    | "batch_integrity"
                    | "one_at_a_time"
                    | "exponential_leak"
                    | "num_batches"
            )
            | ("connect", "to" | "from")
            | ("parm", "default")
            | (
                "start" | "stop" | "savestep" | "save_interval",
                "reciprocal"
            )
    )
}

/// Attributes that change the numbers and are not supported: the reason.
fn refused_attribute(context: &str, attribute: &str) -> Option<&'static str> {
    match (context, attribute) {
        ("model", "resource") => {
            Some("a model kept in another file is not read: copy its <model> into this file")
        }
        _ => None,
    }
}

impl<'a> Reader<'a> {
    /// Checks every element and attribute of the document against what the
    /// reader understands (see the module docs).
    pub(super) fn check_known(&mut self, root: Node<'a, 'a>) {
        let standard = root.tag_name().namespace();
        self.check_element(root, "xmile", standard);
    }

    fn check_element(&mut self, node: Node<'a, 'a>, context: &'static str, standard: Option<&str>) {
        let tag = node.tag_name().name();
        // A leaf's own attributes are checked in the leaf's name.
        for attribute in node.attributes() {
            let vendor = attribute.namespace().is_some();
            let name = attribute.name();
            if vendor {
                if name == "instantaneous_flows" && attribute.value().trim() == "true" {
                    self.warn_at(node, "`isee:instantaneous_flows=\"true\"` is not supported: flows are computed once per step, as XMILE says".to_string());
                }
                continue;
            }
            if DISPLAY_ATTRIBUTES.contains(&name) || known_attribute(context, name) {
                continue;
            }
            if let Some(why) = refused_attribute(context, name) {
                let e = self.error(node, format!("attribute `{name}` of <{tag}>: {why}"));
                self.errors.push(e);
                continue;
            }
            self.warn_at(
                node,
                format!(
                    "ignored: attribute `{name}` of <{tag}> is not something carecascade reads"
                ),
            );
        }
        for child in node.children().filter(Node::is_element) {
            let tag = child.tag_name().name();
            if child.tag_name().namespace() != standard {
                continue; // an application's own settings
            }
            match kind(context, tag) {
                Some(Kind::Read(inner)) => self.check_element(child, inner, standard),
                Some(Kind::Leaf) => {
                    let leaf: &'static str = match tag {
                        "dt" => "dt",
                        "elem" => "elem",
                        "xpts" => "xpts",
                        "ypts" => "ypts",
                        "xscale" => "xscale",
                        "connect" => "connect",
                        "dim" => "var_dimensions",
                        "parm" => "parm",
                        "start" => "start",
                        "stop" => "stop",
                        "savestep" => "savestep",
                        "save_interval" => "save_interval",
                        _ => "leaf",
                    };
                    for attribute in child.attributes() {
                        let name = attribute.name();
                        if attribute.namespace().is_none()
                            && !DISPLAY_ATTRIBUTES.contains(&name)
                            && !known_attribute(leaf, name)
                        {
                            self.warn_at(
                                child,
                                format!("ignored: attribute `{name}` of <{tag}> is not something carecascade reads"),
                            );
                        }
                    }
                }
                Some(Kind::Display) => {}
                Some(Kind::Unsupported(why)) => {
                    let e = self.error(child, format!("<{tag}>: {why}"));
                    self.errors.push(e);
                }
                None => self.warn_at(
                    child,
                    format!(
                        "ignored: <{tag}> in <{}> is not something carecascade reads",
                        node.tag_name().name()
                    ),
                ),
            }
        }
    }

    fn warn_at(&mut self, node: Node, message: String) {
        let location = self.location(node.range().start);
        self.warnings.push(Warning {
            variable: String::new(),
            location: Some(location),
            message,
        });
    }
}
