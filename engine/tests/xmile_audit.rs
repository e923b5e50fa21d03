//! No silent wrong numbers from XMILE: every element and attribute of the
//! XMILE 1.0 standard (OASIS, 2015: chapters 2 to 4, and the conveyor,
//! queue and leakage options of chapter 4.2) is put into a small model,
//! and the reader must read it, ignore it as display or metadata only, or
//! report it: a located warning, or a located error when it would change
//! the numbers. Each element's expected treatment is listed; one that
//! changes treatment fails the test, so the list stays honest.

use carecascade_engine::format::xmile;

/// How the reader treats an element or attribute.
mod common;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Treatment {
    /// Read (other tests check what it does): no warning, no error.
    Read,
    /// Diagram, style or metadata: ignored without a word, as it does not
    /// change the numbers.
    Display,
    /// A located warning naming it.
    Warned,
    /// A located error naming it.
    Refused,
}
use Treatment::*;

/// The slots of the small model an element is put in.
const SLOTS: &[&str] = &[
    "HEADER",
    "ROOT",
    "SPECS_ATTR",
    "SPECS",
    "MODEL_ATTR",
    "MODEL",
    "VARIABLES",
    "STOCK_ATTR",
    "STOCK",
    "FLOW_ATTR",
    "FLOW",
    "AUX_ATTR",
    "AUX",
    "GF_ATTR",
    "GF",
];

fn document(slot: &str, snippet: &str) -> String {
    let mut text = r#"<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0" xmlns:isee="http://iseesystems.com/XMILE">
<header><name>audit</name>HEADER</header>
<sim_specs method="Euler"SPECS_ATTR><start>0</start><stop>2</stop><dt>1</dt>SPECS</sim_specs>
ROOT
<model MODEL_ATTR><variables>
  <stock name="s"STOCK_ATTR><eqn>1</eqn><inflow>f</inflow>STOCK</stock>
  <flow name="f"FLOW_ATTR><eqn>1</eqn>FLOW</flow>
  <aux name="a"AUX_ATTR><eqn>2</eqn>AUX</aux>
  <gf name="g"GF_ATTR><xscale min="0" max="1"/><ypts>0,1</ypts>GF</gf>
  VARIABLES
</variables>MODEL</model>
</xmile>"#
        .to_string();
    for &s in SLOTS {
        let fill = if s == slot { snippet } else { "" };
        // Attribute slots take a leading space.
        let fill = if s.ends_with("_ATTR") && !fill.is_empty() {
            format!(" {fill}")
        } else {
            fill.to_string()
        };
        text = text.replacen(s, &fill, 1);
    }
    text
}

/// What the standard defines, where it goes, the name the report must
/// mention, and how carecascade treats it.
const STANDARD: &[(&str, &str, &str, Treatment)] = &[
    // 2.2 the header
    ("HEADER", "<vendor>isee</vendor>", "vendor", Display),
    (
        "HEADER",
        "<product version=\"3\">Stella</product>",
        "product",
        Display,
    ),
    ("HEADER", "<uuid>x</uuid>", "uuid", Display),
    (
        "HEADER",
        "<author>x</author><affiliation>y</affiliation><client>z</client><copyright>c</copyright><contact>m</contact><created>2020</created><modified>2021</modified><caption>c</caption><image resource=\"i.png\"/>",
        "metadata",
        Display,
    ),
    (
        "HEADER",
        "<options namespace=\"std\"><uses_conveyor/><uses_queue/><uses_arrays maximum_dimensions=\"2\"/><uses_submodels/><uses_macros/><uses_event_posters/><has_model_view/><uses_outputs/><uses_inputs/><uses_annotation/></options>",
        "options",
        Display,
    ),
    (
        "HEADER",
        "<includes><include resource=\"other.xmile\"/></includes>",
        "includes",
        Refused,
    ),
    // 2.3 to 2.5 the root's children
    (
        "ROOT",
        "<model_units><unit name=\"week\"><eqn>day * 7</eqn><alias>wk</alias></unit></model_units>",
        "model_units",
        Warned,
    ),
    (
        "ROOT",
        "<dimensions><dim name=\"d\"><elem name=\"x\"/><elem name=\"y\"/></dim><dim name=\"n\" size=\"3\"/></dimensions>",
        "dimensions",
        Read,
    ),
    (
        "ROOT",
        "<behavior><non_negative/></behavior>",
        "behavior",
        Read,
    ),
    (
        "ROOT",
        "<behavior><stock><non_negative/></stock><flow><non_negative/></flow></behavior>",
        "behavior",
        Read,
    ),
    (
        "ROOT",
        "<behavior><aux><non_negative/></aux></behavior>",
        "behavior",
        Refused,
    ),
    ("ROOT", "<style/>", "style", Display),
    (
        "ROOT",
        "<data><import resource=\"d.csv\"/></data>",
        "data",
        Refused,
    ),
    (
        "ROOT",
        "<macro name=\"twice\"><parm>x</parm><eqn>2 * x</eqn><doc>d</doc></macro>",
        "macro",
        Read,
    ),
    (
        "ROOT",
        "<macro name=\"twice\"><parm>x</parm><eqn>2 * x</eqn><sim_specs><dt>0.5</dt></sim_specs></macro>",
        "sim_specs",
        Refused,
    ),
    (
        "ROOT",
        "<macro name=\"twice\" namespace=\"std\"><parm>x</parm><eqn>2 * x</eqn></macro>",
        "namespace",
        Warned,
    ),
    // 2.3 sim_specs
    ("SPECS_ATTR", "time_units=\"months\"", "time_units", Read),
    ("SPECS_ATTR", "pause=\"1\"", "pause", Warned),
    (
        "SPECS_ATTR",
        "isee:instantaneous_flows=\"true\"",
        "instantaneous_flows",
        Warned,
    ),
    (
        "SPECS_ATTR",
        "isee:simulation_delay=\"0.1\"",
        "simulation_delay",
        Display,
    ),
    ("SPECS", "<savestep>1</savestep>", "savestep", Read),
    // 3.1 the model
    (
        "MODEL_ATTR",
        "resource=\"other.xmile\"",
        "resource",
        Refused,
    ),
    ("MODEL", "<views><view/></views>", "views", Display),
    (
        "MODEL",
        "<behavior><non_negative/></behavior>",
        "behavior",
        Read,
    ),
    ("MODEL", "<isee:foo/>", "foo", Display),
    ("VARIABLES", "<group name=\"sector\"/>", "group", Display),
    (
        "VARIABLES",
        "<module name=\"m\" resource=\"m.xmile\"/>",
        "external file",
        Refused,
    ),
    ("VARIABLES", "<isee:dependencies/>", "dependencies", Display),
    // 3.2 common to variables
    ("STOCK_ATTR", "access=\"output\"", "access", Read),
    ("STOCK_ATTR", "autoexport=\"true\"", "autoexport", Read),
    ("STOCK", "<units>people</units>", "units", Read),
    ("STOCK", "<doc>text</doc>", "doc", Read),
    ("STOCK", "<range min=\"0\" max=\"1\"/>", "range", Display),
    ("STOCK", "<scale min=\"0\" max=\"1\"/>", "scale", Display),
    ("STOCK", "<format precision=\"0.01\"/>", "format", Display),
    ("STOCK", "<mathml>math</mathml>", "mathml", Warned),
    (
        "STOCK",
        "<event_poster min=\"0\" max=\"1\"/>",
        "event_poster",
        Warned,
    ),
    ("STOCK", "<undefined_thing/>", "undefined_thing", Warned),
    // 3.3 stocks, 4.2 conveyors and queues
    ("STOCK", "<non_negative/>", "non_negative", Read),
    (
        "STOCK",
        "<conveyor><len>1</len></conveyor>",
        "conveyor",
        Read,
    ),
    (
        "STOCK",
        "<conveyor><len>1</len><capacity>5</capacity></conveyor>",
        "capacity",
        Refused,
    ),
    (
        "STOCK",
        "<conveyor><len>1</len><in_limit>5</in_limit></conveyor>",
        "in_limit",
        Refused,
    ),
    (
        "STOCK",
        "<conveyor><len>1</len><sample>1</sample></conveyor>",
        "sample",
        Refused,
    ),
    (
        "STOCK",
        "<conveyor><len>1</len><arrest>0</arrest></conveyor>",
        "arrest",
        Refused,
    ),
    (
        "STOCK",
        "<conveyor discrete=\"true\"><len>1</len></conveyor>",
        "discrete",
        Refused,
    ),
    (
        "STOCK",
        "<conveyor batch_integrity=\"true\" num_batches=\"2\"><len>1</len></conveyor>",
        "batch integrity",
        Refused,
    ),
    (
        "STOCK",
        "<conveyor one_at_a_time=\"true\"><len>1</len></conveyor>",
        "one at a time",
        Refused,
    ),
    (
        "STOCK",
        "<conveyor exponential_leak=\"true\"><len>1</len></conveyor>",
        "exponential leakage",
        Refused,
    ),
    (
        "STOCK",
        "<conveyor discrete=\"false\" exponential_leak=\"false\"><len>1</len></conveyor>",
        "conveyor",
        Read,
    ),
    ("STOCK", "<queue/>", "queue", Refused),
    // 3.4 flows
    ("FLOW", "<non_negative/>", "non_negative", Read),
    ("FLOW", "<multiplier>2</multiplier>", "multiplier", Refused),
    ("FLOW", "<leak/>", "leak", Refused),
    ("FLOW", "<leak_integers/>", "leak_integers", Refused),
    ("FLOW", "<overflow/>", "overflow", Refused),
    ("FLOW", "<units>people/month</units>", "units", Read),
    // 3.5 auxiliaries
    ("AUX_ATTR", "flow_concept=\"true\"", "flow_concept", Warned),
    ("AUX", "<units>1</units>", "units", Read),
    // 3.1.4 graphical functions
    ("GF_ATTR", "type=\"extrapolate\"", "type", Read),
    ("GF_ATTR", "type=\"discrete\"", "type", Read),
    ("GF_ATTR", "type=\"bogus\"", "bogus", Refused),
    ("GF", "<yscale min=\"0\" max=\"1\"/>", "yscale", Display),
    ("GF", "<xpts>0,1</xpts>", "xpts", Read),
];

fn treatment(slot: &str, snippet: &str, mention: &str) -> Result<Treatment, String> {
    let text = document(slot, snippet);
    let mention = mention.to_ascii_lowercase();
    match xmile::parse(&text, Some("audit.xmile")) {
        Ok(model) => {
            let warnings: Vec<String> = model
                .warnings()
                .iter()
                .map(|w| w.to_string().to_ascii_lowercase())
                .collect();
            if warnings.is_empty() {
                // Read or display: the table says which.
                return Ok(Read);
            }
            if warnings
                .iter()
                .any(|w| w.contains(&mention) && w.contains("audit.xmile:"))
            {
                Ok(Warned)
            } else {
                Err(format!(
                    "warnings that do not name `{mention}`: {warnings:?}"
                ))
            }
        }
        Err(e) => {
            let e = e.to_string();
            let lower = e.to_ascii_lowercase();
            if lower.contains(&mention) && lower.contains("audit.xmile:") {
                Ok(Refused)
            } else {
                Err(format!("an error that does not name `{mention}`: {e}"))
            }
        }
    }
}

#[test]
fn the_base_model_is_read_without_a_word() {
    let model = xmile::parse(&document("", ""), Some("audit.xmile")).unwrap();
    assert!(model.warnings().is_empty(), "{:?}", model.warnings());
}

#[test]
fn every_xmile_element_and_attribute_is_read_or_reported() {
    let mut wrong = Vec::new();
    for &(slot, snippet, mention, expected) in STANDARD {
        // Read and display look the same from outside (no word): both are
        // "nothing said", which the table must justify.
        let expected_seen = if expected == Display { Read } else { expected };
        match treatment(slot, snippet, mention) {
            Ok(seen) if seen == expected_seen => {}
            Ok(seen) => wrong.push(format!("{snippet}: expected {expected:?}, got {seen:?}")),
            Err(e) => wrong.push(format!("{snippet}: {e}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_audit_catches_a_silently_ignored_element() {
    // A deliberately wrong expectation: an unknown element is warned
    // about, not silently read, and the audit tells the two apart.
    assert_eq!(
        treatment("STOCK", "<undefined_thing/>", "undefined_thing"),
        Ok(Warned)
    );
    assert_ne!(
        treatment("STOCK", "<undefined_thing/>", "undefined_thing"),
        Ok(Read)
    );
    assert_eq!(treatment("STOCK", "<queue/>", "queue"), Ok(Refused));
}

/// XMILE 1.0's builtin functions (chapter 3.5), each in an auxiliary `y`
/// of a model with an input `x`, a graphical function `g` and an array
/// `v`: the equation, the name a report must mention, and the treatment.
const BUILTINS: &[(&str, &str, Treatment)] = &[
    // 3.5.1 mathematical
    (
        "ABS(-x) + ARCCOS(0.5) + ARCSIN(0.5) + ARCTAN(1) + COS(x) + SIN(x) + TAN(x)",
        "ABS",
        Read,
    ),
    (
        "EXP(1) + INT(x / 3) + LN(x) + LOG10(x) + MAX(x, 2) + MIN(x, 2) + PI + SQRT(x)",
        "EXP",
        Read,
    ),
    ("x MOD 3 + x ^ 2 ^ 0.5", "MOD", Read),
    ("MIN(x, INF) + MAX(x, -INF)", "INF", Read),
    // 3.5.2 statistical
    (
        "RANDOM(0, 1, 1) + NORMAL(0, 1, 1) + POISSON(2, 1) + EXPRND(2, 1)",
        "RANDOM",
        Read,
    ),
    ("LOGNORMAL(1, 0.5, 1)", "LOGNORMAL", Refused),
    // 3.5.3 delays
    (
        "DELAY(x, 2, 0) + DELAY1(x, 6) + DELAY3(x, 6) + DELAYN(x, 6, 3, 0)",
        "DELAY",
        Read,
    ),
    (
        "SMTH1(x, 2) + SMTH3(x, 6) + SMTHN(x, 6, 3, 0) + TREND(x, 2, 0)",
        "SMTH1",
        Read,
    ),
    ("FORCST(x, 2, 1, 0)", "FORCST", Read),
    ("FORCST(x, 2, 1)", "FORCST", Read),
    ("TREND(x, 2)", "TREND", Read),
    // 3.5.4 test inputs
    ("PULSE(1, 2) + RAMP(1, 1) + STEP(1, 2)", "PULSE", Read),
    // 3.5.5 time
    ("DT + STARTTIME + STOPTIME + TIME", "TIME", Read),
    // 3.5.6 miscellaneous
    ("IF x > 2 THEN 1 ELSE 0", "IF", Read),
    ("INIT(x) + SAFEDIV(x, 0, 1)", "INIT", Read),
    ("PREVIOUS(x, 0)", "PREVIOUS", Read),
    ("g(x) + LOOKUP(g, x)", "LOOKUP", Read),
    // 3.5.7 arrays
    (
        "SUM(v[*]) + MEAN(v[*]) + MAX(v[*]) + MIN(v[*])",
        "SUM",
        Read,
    ),
    ("PROD(v[*]) + SIZE(v)", "PROD", Read),
    ("RANK(v, 1)", "RANK", Read),
    ("STDDEV(v)", "STDDEV", Refused),
];

fn builtin_treatment(equation: &str, mention: &str) -> Result<Treatment, String> {
    let text = format!(
        r#"<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<sim_specs method="Euler"><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
<dimensions><dim name="d"><elem name="a"/><elem name="b"/><elem name="c"/></dim></dimensions>
<model><variables>
  <aux name="x"><eqn>1 + TIME</eqn></aux>
  <gf name="g"><xscale min="0" max="10"/><ypts>0,10</ypts></gf>
  <aux name="v"><dimensions><dim name="d"/></dimensions><eqn>3, 1, 2</eqn></aux>
  <aux name="y"><eqn>{}</eqn></aux>
</variables></model>
</xmile>"#,
        equation.replace('<', "&lt;").replace('>', "&gt;")
    );
    let compiled = xmile::parse(&text, Some("f.xmile"))
        .map_err(|e| e.to_string())
        .and_then(|m| carecascade_engine::Program::compile(&m).map_err(|e| e.to_string()));
    Ok(match common::classify(compiled, "f.xmile", mention)? {
        common::Seen::Read => Read,
        common::Seen::Warned => Warned,
        common::Seen::Refused => Refused,
    })
}

#[test]
fn every_xmile_builtin_runs_or_is_refused_with_its_place() {
    let mut wrong = Vec::new();
    for &(equation, mention, expected) in BUILTINS {
        match builtin_treatment(equation, mention) {
            Ok(seen) if seen == expected => {}
            Ok(seen) => wrong.push(format!("{equation}: expected {expected:?}, got {seen:?}")),
            Err(e) => wrong.push(format!("{equation}: {e}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
