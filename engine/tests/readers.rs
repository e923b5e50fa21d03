//! The XMILE and Vensim readers follow the standard and Vensim's documented
//! semantics, and say so when they read something with a default or a
//! reinterpretation: no silent wrong numbers.

use carecascade_engine::format::{vensim, xmile};
use carecascade_engine::{Model, Program, Results};

const CONTROL: &str = "INITIAL TIME = 0 ~ Month ~|\nFINAL TIME = 4 ~ Month ~|\nTIME STEP = 1 ~ Month ~|\nSAVEPER = TIME STEP ~ Month ~|\n";

fn mdl(equations: &str) -> Model {
    vensim::parse(
        &format!("{{UTF-8}}\n{equations}\n{CONTROL}\\\\\\---/// Sketch\n"),
        Some("m.mdl"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn xmile_model(variables: &str) -> Model {
    xmile::parse(
        &format!(
            "<xmile><sim_specs><start>0</start><stop>4</stop><dt>1</dt></sim_specs>\n\
             <dimensions><dim name=\"d\"><elem name=\"a\"/><elem name=\"b\"/></dim>\
             <dim name=\"e\"><elem name=\"x\"/><elem name=\"y\"/></dim></dimensions>\n\
             <model><variables>\n{variables}\n</variables></model></xmile>"
        ),
        Some("m.xmile"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn run(model: &Model) -> Results {
    Program::compile(model).unwrap().run().unwrap()
}

fn warnings(model: &Model) -> Vec<String> {
    Program::compile(model)
        .unwrap()
        .warnings()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn vensim_modulo_and_xmile_mod_of_negative_numbers() {
    // Vensim: MODULO(a, b) = a - b * INTEGER(a / b), INTEGER truncating:
    // the sign of the dividend.
    let m = mdl("a = -7 ~~|\nr = MODULO(a, 3) ~~|\ns = MODULO(7, -3) ~~|");
    let r = run(&m);
    assert_eq!(r.value_at("r", 0.0), Some(-1.0));
    assert_eq!(r.value_at("s", 0.0), Some(1.0));
    // XMILE: MOD is a - b * INT(a / b), INT the floor: the sign of the divisor.
    let m = xmile_model(
        "<aux name=\"a\"><eqn>-7</eqn></aux><aux name=\"r\"><eqn>a MOD 3</eqn></aux>\
         <aux name=\"s\"><eqn>7 MOD (-3)</eqn></aux>",
    );
    let r = run(&m);
    assert_eq!(r.value_at("r", 0.0), Some(2.0));
    assert_eq!(r.value_at("s", 0.0), Some(-2.0));
}

#[test]
fn xmile_element_equations_each_give_their_own_element() {
    // As Vensim's XMILE export writes an arrayed variable defined element
    // by element: no <eqn> of its own, one <element> per element.
    let m = xmile_model(
        "<aux name=\"k\"><dimensions><dim name=\"d\"/></dimensions>\
           <element subscript=\"a\"><eqn>1</eqn></element>\
           <element subscript=\"b\"><eqn>2</eqn></element></aux>\
         <aux name=\"g\"><dimensions><dim name=\"d\"/><dim name=\"e\"/></dimensions>\
           <element subscript=\"a, x\"><eqn>k[a] * 10</eqn></element>\
           <element subscript=\"a, y\"><eqn>k[b] * 10</eqn></element>\
           <element subscript=\"b, x\"><eqn>TIME</eqn></element>\
           <element subscript=\"b, y\"><eqn>7</eqn></element></aux>\
         <stock name=\"s\"><dimensions><dim name=\"d\"/></dimensions>\
           <element subscript=\"a\"><eqn>100</eqn></element>\
           <element subscript=\"b\"><eqn>200</eqn></element>\
           <inflow>f</inflow></stock>\
         <flow name=\"f\"><dimensions><dim name=\"d\"/></dimensions>\
           <element subscript=\"a\"><eqn>1</eqn></element>\
           <element subscript=\"b\"><eqn>-1</eqn></element></flow>",
    );
    let r = run(&m);
    assert_eq!(r.value_at("k[b]", 0.0), Some(2.0));
    assert_eq!(r.value_at("g[a,x]", 0.0), Some(10.0));
    assert_eq!(r.value_at("g[a,y]", 0.0), Some(20.0));
    assert_eq!(r.value_at("g[b,x]", 3.0), Some(3.0));
    assert_eq!(r.value_at("g[b,y]", 0.0), Some(7.0));
    assert_eq!(r.value_at("s[a]", 2.0), Some(102.0));
    assert_eq!(r.value_at("s[b]", 2.0), Some(198.0));
    // Re-exported and read again, the same numbers.
    let again = xmile::parse(&xmile::write(&m), None).unwrap();
    let r2 = run(&again);
    for name in ["g[a,y]", "s[b]", "k[b]"] {
        assert_eq!(r.series(name), r2.series(name), "{name}");
    }
}

#[test]
fn delay_n_shorter_than_its_order_times_dt_is_a_located_warning() {
    // Each of the 4 stages would hold 0.25 months with a step of 1 month:
    // Euler drains each stage 4 times over in a step.
    let m = mdl("x = 10 ~~|\ny = DELAY N(x, 1, 10, 4) ~~|\nz = DELAY3(x, 6, 10) ~~|");
    let w = warnings(&m);
    assert!(
        w.iter()
            .any(|w| w.contains("m.mdl:3:5") && w.contains("DELAY N") && w.contains("TIME STEP")),
        "{w:?}"
    );
    assert!(!w.iter().any(|w| w.contains("`z`")), "{w:?}");
}

#[test]
fn a_non_negative_stock_keeps_a_negative_initial_value() {
    // XMILE 1.0: a non-negative stock limits its outflows; it does not
    // reset its value. Starting at -5, nothing flows out, and inflows add.
    let m = xmile_model(
        "<stock name=\"s\"><eqn>-5</eqn><outflow>out</outflow><non_negative/></stock>\
         <flow name=\"out\"><eqn>1</eqn></flow>\
         <stock name=\"t\"><eqn>-5</eqn><inflow>in</inflow><outflow>o2</outflow><non_negative/></stock>\
         <flow name=\"in\"><eqn>2</eqn></flow><flow name=\"o2\"><eqn>1</eqn></flow>",
    );
    let r = run(&m);
    assert_eq!(r.series("s").unwrap().to_vec(), [-5.0; 5]);
    // What flows out is the limited flow: nothing.
    assert_eq!(r.value_at("out", 0.0), Some(0.0));
    // t: -5, then the inflow of 2 arrives and nothing leaves while t < 0.
    assert_eq!(r.value_at("t", 0.0), Some(-5.0));
    assert_eq!(r.value_at("t", 1.0), Some(-3.0));
    assert_eq!(r.value_at("t", 2.0), Some(-1.0));
    // From -1: the inflow of 2 would bring it to 1, so 1 may leave.
    assert_eq!(r.value_at("t", 3.0), Some(0.0));
}

#[test]
fn vensim_lookup_points_with_a_space_after_the_minus() {
    let m = mdl("f((0,- 1),(1, - 2)) ~~|\ny = f(0.5) ~~|");
    assert_eq!(run(&m).value_at("y", 0.0), Some(-1.5));
}

#[test]
fn odd_numbers_of_quotes_in_comments_and_documentation() {
    let m = mdl(
        "a = 1 {a \"comment} ~ widgets ~ the \"main\" input\" is 1 |\n\
         b = a + 1 ~ widgets ~ a\"b |",
    );
    assert_eq!(run(&m).value_at("b", 0.0), Some(2.0));
}

#[test]
fn escaped_quotes_inside_quoted_names() {
    let m = mdl("\"a \\\"quoted\\\" name\" = 3 ~~|\ny = \"a \\\"quoted\\\" name\" * 2 ~~|");
    assert_eq!(run(&m).value_at("y", 0.0), Some(6.0));
    assert!(m.variable("a \"quoted\" name").is_some());
}

#[test]
fn xmile_two_dimensional_value_list_ending_in_a_semicolon() {
    let m = xmile_model(
        "<aux name=\"g\"><dimensions><dim name=\"d\"/><dim name=\"e\"/></dimensions>\
         <eqn>1, 2; 3, 4;</eqn></aux>",
    );
    let r = run(&m);
    assert_eq!(r.value_at("g[a,y]", 0.0), Some(2.0));
    assert_eq!(r.value_at("g[b,x]", 0.0), Some(3.0));
    assert_eq!(r.value_at("g[b,y]", 0.0), Some(4.0));
}

#[test]
fn vensim_sorts_lookup_points_and_says_so() {
    // Vensim sorts a lookup's points by x (the SDXorg case
    // subscripted_lookups shows it: (2,-3),(1,-7),(0,-1) reads as
    // (0,-1),(1,-7),(2,-3)).
    let m = mdl("f((2,-3),(1,-7),(0,-1)) ~~|\ny = f(0.5) ~~|");
    assert_eq!(run(&m).value_at("y", 0.0), Some(-4.0));
    let w = warnings(&m);
    assert!(
        w.iter()
            .any(|w| w.contains("m.mdl:2:") && w.contains("sorted")),
        "{w:?}"
    );
    let m = mdl("y = WITH LOOKUP(TIME, ((1,1),(0,0))) ~~|");
    assert_eq!(run(&m).value_at("y", 0.0), Some(0.0));
}

#[test]
fn saveper_not_a_multiple_of_time_step_is_rounded_with_a_warning() {
    let text = "x = TIME ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 4 ~~|\nTIME STEP = 0.5 ~~|\nSAVEPER = 0.7 ~~|\n";
    let m = vensim::parse(text, Some("s.mdl")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.time().save_interval(), 0.5);
    let w = warnings(&m);
    assert!(
        w.iter()
            .any(|w| w.contains("s.mdl:5:1") && w.contains("SAVEPER") && w.contains("0.5")),
        "{w:?}"
    );
}

#[test]
fn xmile_without_sim_specs_says_which_defaults_it_used() {
    let m = xmile::parse(
        "<xmile><model><variables><aux name=\"a\"><eqn>1</eqn></aux></variables></model></xmile>",
        Some("n.xmile"),
    )
    .unwrap();
    let w = warnings(&m);
    assert!(
        w.iter().any(|w| w.contains("n.xmile:1:1")
            && w.contains("<sim_specs>")
            && w.contains("start 0")
            && w.contains("stop 100")
            && w.contains("dt 1")),
        "{w:?}"
    );
}

#[test]
fn xmile_elements_and_attributes_not_understood_are_never_silent() {
    let text = "<xmile>\n<sim_specs method=\"Euler\" pause=\"7\"><start>0</start><stop>4</stop><dt>1</dt><frobnicate/></sim_specs>\n\
        <model><variables>\n\
        <aux name=\"a\" colour=\"red\"><eqn>1</eqn><mystery>2</mystery></aux>\n\
        <stock name=\"s\"><eqn>0</eqn><conveyor><len>2</len><capacity>1</capacity></conveyor></stock>\n\
        </variables><views><view><stock name=\"s\" x=\"1\" y=\"2\"/></view></views></model></xmile>";
    // A conveyor's capacity changes the numbers: an error, located.
    let e = xmile::parse(text, Some("u.xmile")).unwrap_err().to_string();
    assert!(e.contains("u.xmile:5:") && e.contains("<capacity>"), "{e}");
    let text = text.replace(
        "<conveyor><len>2</len><capacity>1</capacity></conveyor>",
        "",
    );
    let m = xmile::parse(&text, Some("u.xmile")).unwrap_or_else(|e| panic!("{e}"));
    let w = warnings(&m);
    for (place, what) in [
        ("u.xmile:2:", "`pause`"),
        ("u.xmile:2:", "<frobnicate>"),
        ("u.xmile:4:", "`colour`"),
        ("u.xmile:4:", "<mystery>"),
    ] {
        assert!(
            w.iter().any(|w| w.contains(place) && w.contains(what)),
            "{what}: {w:?}"
        );
    }
    // The diagram is display only, not warned about.
    assert!(!w.iter().any(|w| w.contains("view")), "{w:?}");
    // The old `discrete` attribute of <gf> is read, not ignored.
    let m = xmile_model(
        "<gf name=\"g\" discrete=\"true\"><xscale min=\"0\" max=\"2\"/><ypts>1,2,3</ypts></gf>\
         <aux name=\"y\"><eqn>g(1.5)</eqn></aux>",
    );
    assert_eq!(run(&m).value_at("y", 0.0), Some(2.0));
}

#[test]
fn vensim_constructs_not_understood_are_located_errors() {
    let text = |eq: &str| format!("{eq}\n{CONTROL}");
    for (eq, place, what) in [
        (
            "x = 1 ~~|\n:MACRO: m(a : b)\nm = a ~~|\n:END OF MACRO:",
            "m.mdl:2:1",
            "lists the output `b` but has no equation",
        ),
        (
            "x = GET DIRECT SUBSCRIPT('a.xlsx', 'b', 'A1', 'A3', '') ~~|",
            "m.mdl:1:5",
            "GET DIRECT SUBSCRIPT",
        ),
        (
            "x = GET XLS DATA('a.xls', 'b', 'c', 'd') ~~|",
            "m.mdl:1:1",
            "relative to the model file",
        ),
        (
            "x = A FUNCTION OF(y) ~~|\ny = 1 ~~|",
            "m.mdl:1:5",
            "placeholder",
        ),
        (
            "d: a, b ~~|\nd: a, b, c ~~|\nx[d] = 1 ~~|",
            "m.mdl:2:1",
            "subscript range `d` is defined twice",
        ),
        (
            "d: a, b ~~|\nx[d]: a, b ~~|",
            "m.mdl:2:5",
            "unexpected `:` after a subscripted name",
        ),
        (
            "d: a, b -> e ~~|\nx[d] = 1 ~~|",
            "m.mdl:1:1",
            "maps to `e`, which is not a subscript range",
        ),
        (
            "x = 1 ~~|\ny = VECTOR SELECT(x, x, x, 0, 0) ~~|",
            "m.mdl:2:5",
            "VECTOR SELECT",
        ),
        (
            "x = 1 ~~|\ny = x :IMPLIES: x ~~|",
            "m.mdl:2:7",
            "unexpected `:`",
        ),
    ] {
        let e = match vensim::parse(&text(eq), Some("m.mdl")) {
            Err(e) => e.to_string(),
            Ok(m) => match Program::compile(&m) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("`{eq}` was accepted"),
            },
        };
        assert!(e.contains(place) && e.contains(what), "`{eq}`: {e}");
    }
}

#[test]
fn an_empty_eqn_beside_element_equations_is_no_equation() {
    let m = xmile::parse(
        "<xmile><sim_specs><start>0</start><stop>4</stop><dt>1</dt></sim_specs>\
         <dimensions><dim name=\"n\" size=\"2\"/></dimensions><model><variables>\
         <aux name=\"k\"><dimensions><dim name=\"n\"/></dimensions><eqn/>\
           <element subscript=\"1\"><eqn>1</eqn></element>\
           <element subscript=\"2\"><eqn>2</eqn></element></aux>\
         <aux name=\"h\"><dimensions><dim name=\"n\"/></dimensions>\
           <element subscript=\"1\"><eqn>k[1]</eqn></element>\
           <element subscript=\"2\"><eqn>k[2] + 0</eqn></element></aux>\
         </variables></model></xmile>",
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = run(&m);
    assert_eq!(r.value_at("k[2]", 0.0), Some(2.0));
    assert_eq!(r.value_at("h[2]", 0.0), Some(2.0));
}

/// XMILE's and Stella's `INT` is floored (INT(-2.5) = -3) where Vensim's
/// `INTEGER` truncates (-2); Vensim's `MODULO` takes the dividend's sign
/// where XMILE's `MOD` is floored. Each keeps its meaning when a model is
/// written as XMILE and read back.
#[test]
fn int_floors_integer_truncates_and_both_survive_xmile() {
    let model = carecascade_engine::format::native::parse(
        r#"
[time]
start = 0
stop = 1
dt = 1
[auxiliaries.truncated]
equation = "INTEGER(-2.5)"
[auxiliaries.floored]
equation = "INT(-2.5)"
[auxiliaries.remainder]
equation = "MODULO(-7, 3)"
[auxiliaries.floored_mod]
equation = "-7 MOD 3"
"#,
        None,
    )
    .unwrap();
    let values = |m: &carecascade_engine::Model| {
        let r = carecascade_engine::Program::compile(m)
            .unwrap()
            .run()
            .unwrap();
        ["truncated", "floored", "remainder", "floored_mod"].map(|n| r.series(n).unwrap()[0])
    };
    assert_eq!(values(&model), [-2.0, -3.0, -1.0, 2.0]);
    let xmile = carecascade_engine::format::xmile::write(&model);
    let back = carecascade_engine::format::xmile::parse(&xmile, Some("back.xmile")).unwrap();
    assert_eq!(values(&back), [-2.0, -3.0, -1.0, 2.0], "{xmile}");
}

#[test]
fn smooth_n_and_delay_n_read_an_order_that_changes_at_the_initial_time() {
    // The order is 2 at the start and 3 from time 2: the run keeps 2
    // stages, as Vensim does, and says so where the order is.
    let m = mdl("order = 2 + STEP(1, 2) ~~|\nx = 10 + STEP(10, 1) ~~|\n\
         s = SMOOTH N(x, 2, 10, order) ~~|\nt = SMOOTH N(x, 2, 10, 2) ~~|");
    let r = run(&m);
    for time in [0.0, 1.0, 2.0, 3.0, 4.0] {
        assert_eq!(r.value_at("s", time), r.value_at("t", time), "at {time}");
    }
    let w = warnings(&m);
    assert!(
        w.iter()
            .any(|w| w.contains("m.mdl:4:24") && w.contains("at the initial time (2)")),
        "{w:?}"
    );
    // An order that is not a whole number of stages at the start is refused.
    let m = mdl("order = 0.2 + TIME ~~|\nx = 1 ~~|\ns = SMOOTH N(x, 2, 10, order) ~~|");
    let e = Program::compile(&m).unwrap_err().to_string();
    assert!(
        e.contains("m.mdl:4:24") && e.contains("at the initial time"),
        "{e}"
    );
}

#[test]
fn vensim_subscripts_mapped_to_a_subrange_shift_a_cohort_chain() {
    // Each cohort ages into the next: `aging[younger]` feeds `pop[older]`
    // element by element through the mapping.
    let m = mdl(
        "age: a0, a1, a2 ~~|\nolder: a1, a2 ~~|\nyounger: a0, a1 -> older ~~|\n\
         pop[a0] = INTEG(5 - aging[a0], 10) ~~|\n\
         pop[older] = INTEG(aging[younger] - aging[older], 0) ~~|\n\
         aging[age] = pop[age] / 2 ~~|\ntotal = SUM(pop[age!]) ~~|",
    );
    let r = run(&m);
    // Month 1: a0 = 10 + 5 - 5, a1 = 5, a2 = 0.
    assert_eq!(r.value_at("pop[a0]", 1.0), Some(10.0));
    assert_eq!(r.value_at("pop[a1]", 1.0), Some(5.0));
    assert_eq!(r.value_at("pop[a2]", 1.0), Some(0.0));
    // Month 2: a2 gets half of a1 and loses half of nothing.
    assert_eq!(r.value_at("pop[a2]", 2.0), Some(2.5));
    // Mass: 10 at the start plus 5 a month in, minus what a2 ages out.
    let out: f64 = (0..4)
        .map(|t| r.value_at("pop[a2]", f64::from(t)).unwrap() / 2.0)
        .sum();
    assert!((r.value_at("total", 4.0).unwrap() - (10.0 + 20.0 - out)).abs() < 1e-9);
}

#[test]
fn vensim_external_data_is_read_relative_to_the_model() {
    let dir = tempfile::tempdir().unwrap();
    // Constants from B2 along the row; a series with times in row 1.
    std::fs::write(
        dir.path().join("inputs.csv"),
        "time,0,2,4\nconst,1.5,2.5,3.5\nseries a,10,20,30\nseries b,1,2,3\n",
    )
    .unwrap();
    let model = format!(
        "{{UTF-8}}\nd: a, b, c ~~|\ne: a, b ~~|\n\
         k[d] = GET DIRECT CONSTANTS('inputs.csv', 'x', 'B2') ~~|\n\
         s[e] := GET DIRECT DATA('inputs.csv', 'x', '1', 'B3') ~~|\n\
         h[e] :HOLD BACKWARD::= GET DIRECT DATA('inputs.csv', 'x', '1', 'B3') ~~|\n\
         f[e] = GET DIRECT LOOKUPS('inputs.csv', 'x', '1', 'B3') ~~|\n\
         y = f[b](3) ~~|\n{CONTROL}\\\\\\---/// Sketch\n"
    );
    let path = dir.path().join("m.mdl");
    std::fs::write(&path, model).unwrap();
    let m = vensim::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let r = run(&m);
    assert_eq!(r.value_at("k[c]", 0.0), Some(3.5));
    // Interpolated at 1 and 3; held after the last time.
    assert_eq!(r.value_at("s[a]", 1.0), Some(15.0));
    assert_eq!(r.value_at("s[b]", 3.0), Some(2.5));
    assert_eq!(r.value_at("s[b]", 4.0), Some(3.0));
    // Held from each point to the next.
    assert_eq!(r.value_at("h[a]", 3.0), Some(20.0));
    assert_eq!(r.value_at("y", 0.0), Some(2.5));
    // A cell with nothing in it is a located error naming the cell.
    std::fs::write(
        &path,
        format!("{{UTF-8}}\nk = GET DIRECT CONSTANTS('inputs.csv', 'x', 'Z9') ~~|\n{CONTROL}"),
    )
    .unwrap();
    let e = vensim::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("m.mdl:2:1") && e.contains("no number in cell Z9"),
        "{e}"
    );
    std::fs::write(
        &path,
        format!("{{UTF-8}}\nk = GET DIRECT CONSTANTS('missing.xlsx', 'x', 'A1') ~~|\n{CONTROL}"),
    )
    .unwrap();
    let e = vensim::load(&path).unwrap_err().to_string();
    assert!(e.contains("m.mdl:2:1") && e.contains("missing.xlsx"), "{e}");
    // Rust reads `inf`, `NaN` and `1e999` as numbers: a data file holding
    // one is refused with the cell, not carried into the run.
    for bad in ["inf", "NaN", "1e999"] {
        std::fs::write(
            dir.path().join("bad.csv"),
            format!("time,0,2\nseries,1,{bad}\n"),
        )
        .unwrap();
        std::fs::write(
            &path,
            format!("{{UTF-8}}\ns := GET DIRECT DATA('bad.csv', 'x', '1', 'B2') ~~|\n{CONTROL}"),
        )
        .unwrap();
        let e = vensim::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("m.mdl:2:1")
                && e.contains("cell C2 of `")
                && e.contains(&format!("holds `{bad}`, not a finite number")),
            "{e}"
        );
    }
}

#[test]
fn vensim_raw_data_holds_each_point_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("inputs.csv"),
        "time,0,2,4\nseries,10,20,30\n",
    )
    .unwrap();
    let model = format!(
        "{{UTF-8}}\nr :RAW::= GET DIRECT DATA('inputs.csv', 'x', '1', 'B2') ~~|\n{CONTROL}\\\\\\---/// Sketch\n"
    );
    let path = dir.path().join("m.mdl");
    std::fs::write(&path, model).unwrap();
    let m = vensim::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let r = run(&m);
    // The points themselves, and between them the last point held.
    assert_eq!(r.value_at("r", 0.0), Some(10.0));
    assert_eq!(r.value_at("r", 1.0), Some(10.0));
    assert_eq!(r.value_at("r", 2.0), Some(20.0));
    assert_eq!(r.value_at("r", 3.0), Some(20.0));
    let w: Vec<String> = m.warnings().iter().map(ToString::to_string).collect();
    assert!(
        w.iter()
            .any(|w| w.contains("m.mdl:2:1") && w.contains("`:RAW:`")),
        "{w:?}"
    );
}

#[test]
fn vensim_reality_checks_are_skipped_with_a_warning() {
    let m = mdl(
        "d: a, b ~~|\nx[d] = 1 ~~|\ncheck[d]:THE CONDITION:\n x[d] = 0 :IMPLIES: x[d] = 1 ~~|\n\
         input:TEST INPUT: x[a] = 0 ~~|",
    );
    assert_eq!(run(&m).value_at("x[b]", 0.0), Some(1.0));
    let w: Vec<String> = m.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        w.iter().filter(|w| w.contains("reality check")).count(),
        2,
        "{w:?}"
    );
    assert!(w.iter().any(|w| w.contains("m.mdl:4:1")), "{w:?}");
}

#[test]
fn xmile_macros_of_an_equation_are_written_out() {
    let text = |macros: &str, equation: &str| {
        format!(
            "<xmile><sim_specs><start>0</start><stop>4</stop><dt>1</dt></sim_specs>\n{macros}\n\
             <model><variables><aux name=\"y\"><eqn>{equation}</eqn></aux>\
             <aux name=\"a\"><eqn>TIME + 1</eqn></aux></variables></model></xmile>"
        )
    };
    let macros = "<macro name=\"double\"><parm>x</parm><eqn>x * 2</eqn></macro>\n\
                  <macro name=\"quad\"><parm>x</parm><eqn>double(double(x))</eqn></macro>";
    let m = xmile::parse(&text(macros, "quad(a) + double(1)"), Some("m.xmile")).unwrap();
    // At 3: 4 * 4 + 2.
    assert_eq!(run(&m).value_at("y", 3.0), Some(18.0));
    let e = xmile::parse(&text(macros, "double(a, 2)"), Some("m.xmile"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("m.xmile:") && e.contains("takes 1 argument(s), got 2"),
        "{e}"
    );
}

/// The XMILE 1.0 standard's own example of a macro with variables: a
/// first-order smooth, its initial value defaulting to the input.
const SMOOTHER: &str = "<macro name=\"SMOOTHER\">\
    <parm>input</parm><parm>averaging time</parm><parm default=\"input\">initial</parm>\
    <eqn>Smooth_of_Input</eqn>\
    <variables>\
      <stock name=\"Smooth of Input\"><inflow>change_in_smooth</inflow><eqn>initial</eqn></stock>\
      <flow name=\"Change in Smooth\"><eqn>(input - Smooth_of_Input) / averaging_time</eqn></flow>\
    </variables></macro>";

fn with_macros(macros: &str, variables: &str) -> Result<Model, String> {
    xmile::parse(
        &format!(
            "<xmile><sim_specs><start>0</start><stop>10</stop><dt>0.25</dt></sim_specs>\n\
             <dimensions><dim name=\"d\"><elem name=\"a\"/><elem name=\"b\"/></dim></dimensions>\n\
             {macros}\n<model><variables>\n{variables}\n</variables></model></xmile>"
        ),
        Some("m.xmile"),
    )
    .map_err(|e| e.to_string())
}

#[test]
fn xmile_macros_with_variables_get_a_copy_per_call() {
    // A macro whose variables call a macro with variables, and a macro of
    // an equation that calls one.
    let macros = format!(
        "{SMOOTHER}\n\
         <macro name=\"lag2\"><parm>input</parm><parm>t</parm><eqn>SMOOTHER(first, t / 2)</eqn>\
           <variables><aux name=\"first\"><eqn>SMOOTHER(input, t / 2)</eqn></aux></variables></macro>\n\
         <macro name=\"twice\"><parm>x</parm><parm>t</parm><eqn>SMOOTHER(SMOOTHER(x, t / 2), t / 2)</eqn></macro>"
    );
    let m = with_macros(
        &macros,
        "<aux name=\"x\"><eqn>STEP(10, 1)</eqn></aux>\
         <aux name=\"y\"><eqn>SMOOTHER(x, 2)</eqn></aux>\
         <aux name=\"y ref\"><eqn>SMTH1(x, 2)</eqn></aux>\
         <aux name=\"z\"><eqn>1 + SMOOTHER(x * 2, 2, 5)</eqn></aux>\
         <aux name=\"z ref\"><eqn>1 + SMTH1(x * 2, 2, 5)</eqn></aux>\
         <aux name=\"w\"><eqn>lag2(x, 4)</eqn></aux>\
         <aux name=\"v\"><eqn>twice(x, 4)</eqn></aux>\
         <aux name=\"w ref\"><eqn>SMTH1(SMTH1(x, 2), 2)</eqn></aux>",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = run(&m);
    let series = |name: &str| r.series(name).unwrap().to_vec();
    assert_eq!(series("y"), series("y ref"));
    assert_eq!(series("z"), series("z ref"));
    assert_eq!(r.value_at("z", 0.0), Some(6.0), "the initial value given");
    assert_eq!(series("w"), series("w ref"));
    assert_eq!(series("v"), series("w ref"));
    assert!(r.value_at("y", 10.0).unwrap() > 9.0);
    // Each call has its own stock: the two of `y` and `z` differ.
    let first = series("SMOOTHER 1.Smooth of Input");
    let second = series("SMOOTHER 2.Smooth of Input");
    assert_ne!(first, second);
    // Called inside a module, the copy is the module's and the arguments
    // are the module's names.
    let m = xmile::parse(
        &format!(
            "<xmile><sim_specs><start>0</start><stop>10</stop><dt>0.25</dt></sim_specs>\n\
             {SMOOTHER}\n<model><variables><module name=\"m\"/>\
             <aux name=\"x\"><eqn>5</eqn></aux></variables></model>\n\
             <model name=\"m\"><variables><aux name=\"x\"><eqn>STEP(10, 1)</eqn></aux>\
             <aux name=\"y\"><eqn>SMOOTHER(x, 2)</eqn></aux>\
             <aux name=\"y ref\"><eqn>SMTH1(x, 2)</eqn></aux></variables></model></xmile>"
        ),
        Some("m.xmile"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = run(&m);
    assert_eq!(r.series("m.y").unwrap(), r.series("m.y ref").unwrap());
    assert!(r.series("m.SMOOTHER 1.Smooth of Input").is_some());
}

#[test]
fn xmile_macros_called_from_arrayed_variables_give_each_element_its_own_copy() {
    let per_element = |name: &str, a: &str, b: &str| {
        format!(
            "<aux name=\"{name}\"><dimensions><dim name=\"d\"/></dimensions>\
             <element subscript=\"a\"><eqn>{a}</eqn></element>\
             <element subscript=\"b\"><eqn>{b}</eqn></element></aux>"
        )
    };
    let arrayed = |name: &str, eqn: &str| {
        format!(
            "<aux name=\"{name}\"><dimensions><dim name=\"d\"/></dimensions><eqn>{eqn}</eqn></aux>"
        )
    };
    let macros = format!(
        "{SMOOTHER}\n\
         <macro name=\"lag2\"><parm>input</parm><parm>t</parm><eqn>SMOOTHER(first, t / 2)</eqn>\
           <variables><aux name=\"first\"><eqn>SMOOTHER(input, t / 2)</eqn></aux></variables></macro>"
    );
    let variables = [
        per_element("x", "STEP(10, 1)", "STEP(4, 2)"),
        // One equation for the whole array, reading x's element.
        arrayed("y", "SMOOTHER(x, 2)"),
        arrayed("y ref", "SMTH1(x, 2)"),
        // An equation per element, each with its own arguments.
        per_element("z", "SMOOTHER(x[a], 1, 3)", "SMOOTHER(x[b] * 2, 3)"),
        per_element("z ref", "SMTH1(x[a], 1, 3)", "SMTH1(x[b] * 2, 3)"),
        // A macro whose variable calls a macro, with a dimension's name
        // as the subscript.
        arrayed("w", "lag2(x[d], 4)"),
        arrayed("w ref", "SMTH1(SMTH1(x[d], 2), 2)"),
    ]
    .concat();
    let m = with_macros(&macros, &variables).unwrap_or_else(|e| panic!("{e}"));
    let r = run(&m);
    let series = |name: &str| {
        r.series(name)
            .unwrap_or_else(|| panic!("no `{name}` in {:?}", r.names()))
            .to_vec()
    };
    for element in ["a", "b"] {
        for name in ["y", "z", "w"] {
            assert_eq!(
                series(&format!("{name}[{element}]")),
                series(&format!("{name} ref[{element}]")),
                "{name}[{element}]"
            );
        }
    }
    // Each element has its own stock: a step of 10 at 1 and one of 4 at 2.
    // By hand, Euler with dt 0.25 and T 2: from t = 1 each step keeps
    // 1 - 0.25 / 2 of the gap, so y[a] at 3 is 10 (1 - 0.875^8).
    let y_a = r.value_at("y[a]", 3.0).unwrap();
    assert!(
        (y_a - 10.0 * (1.0 - 0.875f64.powi(8))).abs() < 1e-9,
        "{y_a}"
    );
    let y_b = r.value_at("y[b]", 3.0).unwrap();
    assert!((y_b - 4.0 * (1.0 - 0.875f64.powi(4))).abs() < 1e-9, "{y_b}");
    assert_eq!(
        r.value_at("z[a]", 0.0),
        Some(3.0),
        "the initial value given"
    );
    assert!(r.series("SMOOTHER 1.Smooth of Input[b]").is_some());
    // The flat model survives an XMILE round trip.
    let again =
        xmile::parse(&xmile::write(&m), Some("again.xmile")).unwrap_or_else(|e| panic!("{e}"));
    let second = run(&again);
    for name in ["y[a]", "y[b]", "z[a]", "z[b]", "w[a]", "w[b]"] {
        assert_eq!(
            second.series(name).unwrap().to_vec(),
            series(name),
            "{name}"
        );
    }
}

#[test]
fn xmile_macros_with_variables_refuse_what_they_cannot_take_with_the_place() {
    let err = |macros: &str, variables: &str| with_macros(macros, variables).unwrap_err();
    let e = err(SMOOTHER, "<aux name=\"y\"><eqn>SMOOTHER(1)</eqn></aux>");
    assert!(
        e.contains("m.xmile:5:20") && e.contains("takes 2 to 3 argument(s)"),
        "{e}"
    );
    // Called from an arrayed variable, a macro's own arrayed variable
    // would need two sets of dimensions.
    let arrayed_inside = "<macro name=\"spread\"><parm>x</parm><eqn>SUM(s[*])</eqn><variables>\
                          <aux name=\"s\"><dimensions><dim name=\"d\"/></dimensions><eqn>x</eqn></aux>\
                          </variables></macro>";
    let e = err(
        arrayed_inside,
        "<aux name=\"y\"><dimensions><dim name=\"d\"/></dimensions><eqn>spread(1)</eqn></aux>",
    );
    assert!(
        e.contains("m.xmile:3:")
            && e.contains("arrayed inside a macro called from an arrayed variable"),
        "{e}"
    );
    let forever = "<macro name=\"forever\"><parm>x</parm><eqn>s</eqn><variables>\
                   <aux name=\"s\"><eqn>forever(x)</eqn></aux></variables></macro>";
    let e = err(forever, "<aux name=\"y\"><eqn>forever(1)</eqn></aux>");
    assert!(e.contains("calls itself"), "{e}");
    let own_time = "<macro name=\"m\"><parm>x</parm><eqn>x</eqn><sim_specs><dt>0.5</dt></sim_specs>\
                    <variables><aux name=\"s\"><eqn>x</eqn></aux></variables></macro>";
    let e = err(own_time, "<aux name=\"y\"><eqn>m(1)</eqn></aux>");
    assert!(
        e.contains("m.xmile:3:") && e.contains("own <sim_specs>"),
        "{e}"
    );
}

#[test]
fn vensim_sums_too_long_to_write_out_are_refused_at_once() {
    let started = std::time::Instant::now();
    let text = format!(
        "{{UTF-8}}\nd: (a1-a4000) ~~|\ne: (b1-b4000) ~~|\nx[d] = 1 ~~|\nz[e] = 2 ~~|\n\
         y = SUM(x[d!] * z[e!]) ~~|\n{CONTROL}"
    );
    let e = vensim::parse(&text, Some("m.mdl")).unwrap_err().to_string();
    assert!(
        e.contains("m.mdl:6:1") && e.contains("more than 10000000 terms"),
        "{e}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// A model with its own control section (the shared `CONTROL` is not
/// appended).
fn mdl_with_control(text: &str) -> Model {
    vensim::parse(
        &format!("{{UTF-8}}\n{text}\n\\\\\\---/// Sketch\n"),
        Some("m.mdl"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn vensim_final_time_computed_during_the_run_ends_it_when_the_condition_holds() {
    // stock = Time; the run ends at the first step where stock > 5.
    let m = mdl_with_control(
        "stock = INTEG(1, 0) ~~|\nINITIAL TIME = 0 ~~|\n\
         FINAL TIME = IF THEN ELSE(stock > 5, Time, 100) ~~|\n\
         TIME STEP = 1 ~~|\nSAVEPER = TIME STEP ~~|",
    );
    assert_eq!(
        m.control_variables().final_time.as_deref(),
        Some("FINAL TIME")
    );
    let r = run(&m);
    assert_eq!(r.times().last().copied(), Some(6.0));
    assert_eq!(r.times().len(), 7);
    assert_eq!(r.value_at("FINAL TIME", 0.0), Some(100.0));
    assert_eq!(r.value_at("FINAL TIME", 6.0), Some(6.0));
}

#[test]
fn vensim_time_step_and_saveper_computed_during_the_run() {
    // Steps of 1 until time 2, then of 0.5; saves every step until 2.5,
    // then every 1 (the save after 2.5 is 3.5).
    let m = mdl_with_control(
        "stock = INTEG(1, 0) ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 4 ~~|\n\
         TIME STEP = IF THEN ELSE(Time < 2, 1, 0.5) ~~|\n\
         SAVEPER = IF THEN ELSE(Time < 2.5, TIME STEP, 1) ~~|",
    );
    let r = run(&m);
    assert_eq!(r.times().to_vec(), [0.0, 1.0, 2.0, 2.5, 3.5, 4.0]);
    // The stock gains 1 per unit of time whatever the step.
    for &t in r.times().iter() {
        assert_eq!(r.value_at("stock", t), Some(t));
    }
    assert_eq!(r.value_at("TIME STEP", 1.0), Some(1.0));
    assert_eq!(r.value_at("TIME STEP", 3.5), Some(0.5));
}

#[test]
fn vensim_control_variables_computed_during_the_run_are_checked() {
    let m = mdl_with_control(
        "INITIAL TIME = 0 ~~|\nFINAL TIME = 4 ~~|\nTIME STEP = 1 - Time ~~|\nSAVEPER = 1 ~~|",
    );
    let e = Program::compile(&m).unwrap().run().unwrap_err().to_string();
    assert!(e.contains("TIME STEP is 0 at time 1"), "{e}");
}

#[test]
fn control_variables_computed_during_the_run_under_rk4() {
    // s' = s from 1, with steps of 0.5 until time 1 and of 0.25 after: one
    // classical RK4 step of h multiplies s by 1 + h + h²/2 + h³/6 + h⁴/24.
    let m = mdl_with_control(
        "s = INTEG(s, 1) ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 2 ~~|\n\
         TIME STEP = IF THEN ELSE(Time < 1, 0.5, 0.25) ~~|\nSAVEPER = 1 ~~|",
    );
    let program = Program::compile(&m).unwrap();
    let mut state = program.state();
    state.set_time(program.time().with_method(carecascade_engine::Method::Rk4));
    let r = state.run().unwrap();
    assert_eq!(r.times().to_vec(), [0.0, 1.0, 2.0]);
    let f = |h: f64| 1.0 + h + h * h / 2.0 + h.powi(3) / 6.0 + h.powi(4) / 24.0;
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
    let at1 = r.value_at("s", 1.0).unwrap();
    let at2 = r.value_at("s", 2.0).unwrap();
    assert!(close(at1, f(0.5).powi(2)), "{at1}");
    assert!(close(at2, f(0.5).powi(2) * f(0.25).powi(4)), "{at2}");
    // Caught: Euler's numbers, and RK4 with the first step throughout.
    assert!(!close(at2, 1.5f64.powi(2) * 1.25f64.powi(4)));
    assert!(!close(at2, f(0.5).powi(4)));
    // The same steps under Euler.
    let r = Program::compile(&m).unwrap().run().unwrap();
    let at2 = r.value_at("s", 2.0).unwrap();
    assert!(close(at2, 1.5f64.powi(2) * 1.25f64.powi(4)), "{at2}");
}

#[test]
fn vensim_active_initial_starts_stocks_from_its_initial_value() {
    // capacity's initial value needs output, which needs capacity: ACTIVE
    // INITIAL breaks the loop at the start (output = 10 then).
    let m = mdl("capacity = INTEG(growth, output * 2) ~~|\ngrowth = 1 ~~|\n\
         output = ACTIVE INITIAL(capacity * 0.5, 10) ~~|\n\
         later = GET TIME VALUE(0, 2, 0) ~~|");
    let r = run(&m);
    assert_eq!(r.value_at("capacity", 0.0), Some(20.0));
    // At every step, the active equation: half the capacity.
    assert_eq!(r.value_at("output", 0.0), Some(10.0));
    assert_eq!(r.value_at("output", 2.0), Some(11.0));
    assert_eq!(r.value_at("later", 3.0), Some(5.0));
    let e = Program::compile(&mdl("x = GET TIME VALUE(2, 0, 0) ~~|"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("m.mdl:2:") && e.contains("computer's clock"),
        "{e}"
    );
    let e = Program::compile(&mdl("x = GET TIME VALUE(0, 0, 1) ~~|"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("calendar"), "{e}");
}

#[test]
fn xmile_non_negative_stock_serves_its_outflows_in_order() {
    // s holds 1; a and b each ask 1 a step: a, listed first, takes it all.
    let text = "<stock name=\"s\"><eqn>1</eqn><inflow>in</inflow><outflow>a</outflow><outflow>b</outflow><non_negative/></stock>\n\
         <flow name=\"in\"><eqn>0.5</eqn></flow><flow name=\"a\"><eqn>1</eqn></flow><flow name=\"b\"><eqn>1</eqn></flow>";
    let m = xmile_model(text);
    assert_eq!(
        m.outflow_limiting(),
        carecascade_engine::OutflowLimiting::InOrder
    );
    let r = run(&m);
    assert_eq!(r.value_at("a", 0.0), Some(1.0));
    assert_eq!(r.value_at("b", 0.0), Some(0.5));
    assert_eq!(r.value_at("s", 1.0), Some(0.0));
    // Then only the inflow is there to share: a takes it, b gets nothing.
    assert_eq!(r.value_at("a", 1.0), Some(0.5));
    assert_eq!(r.value_at("b", 1.0), Some(0.0));
    // Written as XMILE or TOML and read again, it still limits in order.
    for again in [
        xmile::parse(&xmile::write(&m), Some("again.xmile")).unwrap(),
        carecascade_engine::format::native::parse(
            &carecascade_engine::format::native::write(&m),
            Some("again.toml"),
        )
        .unwrap(),
    ] {
        assert_eq!(run(&again).series("b"), r.series("b"));
    }
    // A model limiting in proportion keeps that through XMILE.
    let proportional = carecascade_engine::format::native::parse(
        &carecascade_engine::format::native::write(&m)
            .replace("outflow_limiting = \"in_order\"\n", ""),
        Some("p.toml"),
    )
    .unwrap();
    let through = xmile::parse(&xmile::write(&proportional), Some("p.xmile")).unwrap();
    assert_eq!(
        through.outflow_limiting(),
        carecascade_engine::OutflowLimiting::Proportional
    );
    assert_eq!(run(&through).value_at("a", 0.0), Some(0.75));
}

#[test]
fn xmile_rank_gives_the_index_of_the_element_with_a_rank() {
    let m = xmile_model(
        "<aux name=\"v\"><dimensions><dim name=\"d\"/></dimensions><eqn>3, 1</eqn></aux>\n\
         <aux name=\"smallest\"><eqn>RANK(v[*], 1)</eqn></aux>\n\
         <aux name=\"largest\"><eqn>RANK(v, 2)</eqn></aux>\n\
         <aux name=\"w\"><dimensions><dim name=\"d\"/></dimensions><element subscript=\"a\"><eqn>TIME</eqn></element><element subscript=\"b\"><eqn>2.5</eqn></element></aux>\n\
         <aux name=\"first\"><eqn>RANK(w[*], 1)</eqn></aux>",
    );
    let r = run(&m);
    assert_eq!(r.value_at("smallest", 0.0), Some(2.0));
    assert_eq!(r.value_at("largest", 0.0), Some(1.0));
    // w[a] = TIME passes w[b] = 2.5 at time 3.
    assert_eq!(r.value_at("first", 2.0), Some(1.0));
    assert_eq!(r.value_at("first", 3.0), Some(2.0));
}

#[test]
fn xmile_computed_subscripts_pick_an_element_during_the_run() {
    let m = xmile_model(
        "<aux name=\"v\"><dimensions><dim name=\"d\"/></dimensions><eqn>10, 20</eqn></aux>\n\
         <aux name=\"i\"><eqn>1 + (TIME &gt;= 2)</eqn></aux>\n\
         <aux name=\"picked\"><eqn>v[i]</eqn></aux>\n\
         <aux name=\"next\"><dimensions><dim name=\"d\"/></dimensions><element subscript=\"a\"><eqn>v[MIN(i + 1, 2)]</eqn></element><element subscript=\"b\"><eqn>0</eqn></element></aux>\n\
         <aux name=\"m\"><dimensions><dim name=\"d\"/><dim name=\"e\"/></dimensions><eqn>1, 2; 3, 4</eqn></aux>\n\
         <aux name=\"corner\"><eqn>m[3 - i, i]</eqn></aux>",
    );
    let r = run(&m);
    assert_eq!(r.value_at("picked", 1.0), Some(10.0));
    assert_eq!(r.value_at("picked", 2.0), Some(20.0));
    assert_eq!(r.value_at("next[a]", 1.0), Some(20.0));
    // m[2, 1] = 3 before time 2, m[1, 2] = 2 after.
    assert_eq!(r.value_at("corner", 0.0), Some(3.0));
    assert_eq!(r.value_at("corner", 3.0), Some(2.0));
    // v[3] does not exist: the run stops at time 2, naming `next`.
    let m = xmile_model(
        "<aux name=\"v\"><dimensions><dim name=\"d\"/></dimensions><eqn>10, 20</eqn></aux>\n\
         <aux name=\"i\"><eqn>1 + (TIME &gt;= 2)</eqn></aux>\n\
         <aux name=\"next\"><eqn>v[i + 1]</eqn></aux>",
    );
    let e = Program::compile(&m).unwrap().run();
    let e = e.unwrap_err().to_string();
    assert!(e.contains("`next`") && e.contains("time 2"), "{e}");
    // Computed subscripts cannot stand where every element is meant.
    let m = xmile_model(
        "<aux name=\"v\"><dimensions><dim name=\"d\"/></dimensions><eqn>1, 2</eqn></aux>\n\
         <aux name=\"s\"><eqn>SUM(v[1 + 0])</eqn></aux>",
    );
    let e = Program::compile(&m).map(|_| ()).unwrap_err().to_string();
    assert!(
        e.contains("m.xmile:") && e.contains("computed subscript"),
        "{e}"
    );
}

#[test]
fn vensim_subscript_ranges_read_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("names.csv"),
        "name,0,5,10\nnorth,1,2,3\nsouth,4,5,6\neast,7,8,9\n",
    )
    .unwrap();
    let model = format!(
        "{{UTF-8}}\nregion: GET DIRECT SUBSCRIPT('names.csv', 'x', 'A2', 'A4', '') ~~|\n\
         band: GET DIRECT SUBSCRIPT('names.csv', 'x', 'B1', '', 'age ') ~~|\n\
         pop[region] = 1, 2, 3 ~~|\nwidth[band] = 5 ~~|\n\
         total = SUM(pop[region!]) + SUM(width[band!]) ~~|\n{CONTROL}\\\\\\---/// Sketch\n"
    );
    let path = dir.path().join("m.mdl");
    std::fs::write(&path, model).unwrap();
    let m = vensim::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        m.dimension("region").unwrap().elements(),
        ["north", "south", "east"]
    );
    assert_eq!(
        m.dimension("band").unwrap().elements(),
        ["age 0", "age 5", "age 10"]
    );
    let r = run(&m);
    assert_eq!(r.value_at("pop[east]", 0.0), Some(3.0));
    assert_eq!(r.value_at("total", 0.0), Some(21.0));
    // An empty cell in the range is a located error naming the cell.
    std::fs::write(
        &path,
        format!("{{UTF-8}}\nregion: GET DIRECT SUBSCRIPT('names.csv', 'x', 'A2', 'A9', '') ~~|\n{CONTROL}"),
    )
    .unwrap();
    let e = vensim::load(&path).unwrap_err().to_string();
    assert!(e.contains("m.mdl:2:1") && e.contains("cell A5"), "{e}");
}

#[test]
fn vensim_tabbed_array_lists_values_by_row() {
    let m = mdl("row: r1, r2 ~~|\ncol: c1, c2, c3 ~~|\n\
         m[row, col] = TABBED ARRAY(\n\t1\t2\t3\n\t4\t5\t6) ~~|");
    let r = run(&m);
    assert_eq!(r.value_at("m[r1,c3]", 0.0), Some(3.0));
    assert_eq!(r.value_at("m[r2,c1]", 0.0), Some(4.0));
    let e = vensim::parse(
        &format!("{{UTF-8}}\nd: a, b ~~|\nx[d] = TABBED ARRAY(1 two) ~~|\n{CONTROL}"),
        Some("m.mdl"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("m.mdl:3:23") && e.contains("TABBED ARRAY"),
        "{e}"
    );
}

#[test]
fn vensim_get_data_at_first_and_last_time() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.csv"), "time,1,3\nseries,10,30\n").unwrap();
    let model = format!(
        "{{UTF-8}}\ns := GET DIRECT DATA('d.csv', 'x', '1', 'B2') ~~|\n\
         ahead = GET DATA AT TIME(s, Time + 1) ~~|\n\
         first = GET DATA FIRST TIME(s) ~~|\nlast = GET DATA LAST TIME(s) ~~|\n\
         {CONTROL}\\\\\\---/// Sketch\n"
    );
    let path = dir.path().join("m.mdl");
    std::fs::write(&path, model).unwrap();
    let m = vensim::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let r = run(&m);
    // s interpolates 10 at 1 to 30 at 3: at time 1 + 1 it is 20.
    assert_eq!(r.value_at("ahead", 1.0), Some(20.0));
    assert_eq!(r.value_at("first", 0.0), Some(1.0));
    assert_eq!(r.value_at("last", 0.0), Some(3.0));
    let e = vensim::parse(
        &format!("{{UTF-8}}\nx = 1 ~~|\ny = GET DATA MAX(x, 0, 1) ~~|\n{CONTROL}"),
        Some("m.mdl"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("m.mdl:3:5") && e.contains("GET DATA AT TIME"),
        "{e}"
    );
    let e = Program::compile(&mdl("x = 1 ~~|\ny = GET DATA AT TIME(x, 2) ~~|"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("m.mdl:3:22") && e.contains("data variable"),
        "{e}"
    );
}

#[test]
fn vensim_delay_fixed_with_a_final_time_computed_during_the_run() {
    // The input is Time; delayed by 2 (0 until then); the run ends at 5.
    let m = mdl_with_control(
        "late = DELAY FIXED(Time, 2, 0) ~~|\nINITIAL TIME = 0 ~~|\n\
         FINAL TIME = IF THEN ELSE(Time >= 5, Time, 100) ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|",
    );
    let r = run(&m);
    assert_eq!(r.times().to_vec(), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(r.value_at("late", 1.0), Some(0.0));
    assert_eq!(r.value_at("late", 4.0), Some(2.0));
    assert_eq!(r.value_at("late", 5.0), Some(3.0));
}

#[test]
fn vensim_computed_control_settings_in_a_batch_must_agree() {
    let m = mdl_with_control(
        "limit = 3 ~~|\nINITIAL TIME = 0 ~~|\n\
         FINAL TIME = IF THEN ELSE(Time >= limit, Time, 10) ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|",
    );
    let program = Program::compile(&m).unwrap();
    let limit = program.parameter("limit").unwrap();
    let mut batch = program.batch::<2>();
    // The same settings in both lanes: the batch runs as each run alone.
    let mut times = Vec::new();
    batch.run_observing(&mut |t, _| times.push(t)).unwrap();
    assert_eq!(times, [0.0, 1.0, 2.0, 3.0]);
    // Lanes that would end at different times are refused, not mixed.
    batch.set_param(1, limit, 5.0).unwrap();
    let e = batch.run_observing(&mut |_, _| {}).unwrap_err().to_string();
    assert!(
        e.contains("FINAL TIME") && e.contains("one at a time"),
        "{e}"
    );
}

/// A stock of 3 drained by `out = 5` and fed by `in = -2`, with `behavior`
/// in the file and `stock` and `flow` added to the stock's and the
/// inflow's elements.
fn with_behavior(behavior: &str, stock: &str, flow: &str) -> Result<Model, String> {
    xmile::parse(
        &format!(
            "<xmile><sim_specs><start>0</start><stop>2</stop><dt>1</dt></sim_specs>\n{behavior}\n\
             <model><variables>\n\
             <stock name=\"s\"><eqn>3</eqn><inflow>in</inflow><outflow>out</outflow>{stock}</stock>\n\
             <flow name=\"in\"><eqn>-2</eqn>{flow}</flow>\n\
             <flow name=\"out\"><eqn>5</eqn></flow>\n\
             </variables></model></xmile>"
        ),
        Some("m.xmile"),
    )
    .map_err(|e| e.to_string())
}

#[test]
fn xmile_behavior_sets_non_negative_defaults_that_entities_override() {
    let at_1 = |m: &Model| {
        let r = run(m);
        [
            r.value_at("s", 1.0).unwrap(),
            r.value_at("in", 0.0).unwrap(),
            r.value_at("out", 0.0).unwrap(),
        ]
    };
    // Nothing non-negative: 3 - 2 - 5.
    let plain = with_behavior("", "", "").unwrap();
    assert_eq!(at_1(&plain), [-4.0, -2.0, 5.0]);
    // Every stock and flow: `in` is 0, and `out` takes only the 3.
    let all = with_behavior("<behavior><non_negative/></behavior>", "", "").unwrap();
    assert_eq!(at_1(&all), [0.0, 0.0, 3.0]);
    // Stocks only: the stock limits what leaves it, the negative inflow
    // first (it is listed first), then `out`.
    let stocks = with_behavior(
        "<behavior><stock><non_negative/></stock></behavior>",
        "",
        "",
    )
    .unwrap();
    assert_eq!(at_1(&stocks), [0.0, 0.0, 3.0]);
    // Flows only.
    let flows = with_behavior("<behavior><flow><non_negative/></flow></behavior>", "", "").unwrap();
    assert_eq!(at_1(&flows), [-2.0, 0.0, 5.0]);
    // An entity's own `false` turns the default off, and `true` on.
    let stock_off = with_behavior(
        "<behavior><non_negative/></behavior>",
        "<non_negative>false</non_negative>",
        "",
    )
    .unwrap();
    assert_eq!(at_1(&stock_off), [-2.0, 0.0, 5.0]);
    let stock_on = with_behavior("", "<non_negative>true</non_negative>", "").unwrap();
    assert_eq!(at_1(&stock_on), [0.0, 0.0, 3.0]);
    let flow_on = with_behavior("", "", "<non_negative>true</non_negative>").unwrap();
    assert_eq!(at_1(&flow_on), [-2.0, 0.0, 5.0]);
    let flow_off = with_behavior(
        "<behavior><flow><non_negative/></flow></behavior>",
        "",
        "<non_negative>false</non_negative>",
    )
    .unwrap();
    assert_eq!(at_1(&flow_off), [-4.0, -2.0, 5.0]);
    // `<non_negative>false</non_negative>` without a default was read as
    // true before: it is false.
    let off = with_behavior("", "<non_negative>false</non_negative>", "").unwrap();
    assert_eq!(at_1(&off), [-4.0, -2.0, 5.0]);
    // What it cannot read is refused with the place.
    let e = with_behavior("", "<non_negative>maybe</non_negative>", "").unwrap_err();
    assert!(e.contains("m.xmile:4:") && e.contains("`maybe`"), "{e}");
    let e = with_behavior("<behavior><stock><queue/></stock></behavior>", "", "").unwrap_err();
    assert!(e.contains("m.xmile:2:") && e.contains("<behavior>"), "{e}");
}

#[test]
fn xmile_previous_is_the_value_one_dt_before() {
    let text = |dt: &str| {
        format!(
            "<xmile><sim_specs><start>0</start><stop>2</stop><dt>{dt}</dt></sim_specs>\n\
             <model><variables>\n\
             <aux name=\"x\"><eqn>TIME * 2</eqn></aux>\n\
             <aux name=\"p\"><eqn>PREVIOUS(x, 7)</eqn></aux>\n\
             <aux name=\"count\"><eqn>PREVIOUS(count, 0) + 1</eqn></aux>\n\
             </variables></model></xmile>"
        )
    };
    let r = run(&xmile::parse(&text("1"), Some("p.xmile")).unwrap());
    assert_eq!(r.value_at("p", 0.0), Some(7.0));
    assert_eq!(r.value_at("p", 1.0), Some(0.0));
    assert_eq!(r.value_at("p", 2.0), Some(2.0));
    // PREVIOUS of itself breaks the loop: a counter of steps.
    assert_eq!(r.value_at("count", 2.0), Some(3.0));
    // One DT, not one unit of time: with dt 0.5, x at the half step.
    let r = run(&xmile::parse(&text("0.5"), Some("p.xmile")).unwrap());
    assert_eq!(r.value_at("p", 1.0), Some(1.0));
    assert_ne!(r.value_at("p", 1.0), Some(0.0));
    assert_eq!(r.value_at("count", 2.0), Some(5.0));
}

#[test]
fn xmile_forcst_prod_and_size() {
    let m = xmile_model(
        "<aux name=\"x\"><eqn>1 + TIME</eqn></aux>\
         <aux name=\"f\"><eqn>FORCST(x, 2, 3, 0.1)</eqn></aux>\
         <aux name=\"f3\"><eqn>FORCST(x, 2, 3)</eqn></aux>\
         <aux name=\"by hand\"><eqn>x * (1 + TREND(x, 2, 0) * 3)</eqn></aux>\
         <aux name=\"v\"><dimensions><dim name=\"d\"/></dimensions><eqn>3, 2</eqn></aux>\
         <aux name=\"product\"><eqn>PROD(v[*])</eqn></aux>\
         <aux name=\"count\"><eqn>SIZE(v)</eqn></aux>\
         <aux name=\"capped\"><eqn>MIN(x, INF)</eqn></aux>",
    );
    let r = run(&m);
    // x * (1 + TREND * horizon), TREND starting at its initial trend.
    let f = r.value_at("f", 0.0).unwrap();
    assert!((f - 1.0 * (1.0 + 0.1 * 3.0)).abs() < 1e-12, "{f}");
    assert_eq!(r.value_at("f3", 0.0), Some(1.0));
    assert_eq!(r.series("f3"), r.series("by hand"));
    assert_ne!(r.series("f"), r.series("f3"));
    assert_eq!(r.value_at("product", 0.0), Some(6.0));
    assert_eq!(r.value_at("capped", 0.0), Some(1.0));
    assert_eq!(r.value_at("count", 0.0), Some(2.0));
}

#[test]
fn vensim_lookup_extrapolate_forward_and_backward() {
    let cases = [
        // (function, x, value): the table is (0,0), (1,10), (3,30).
        ("LOOKUP EXTRAPOLATE", -1.0, -10.0),
        ("LOOKUP EXTRAPOLATE", 2.0, 20.0),
        ("LOOKUP EXTRAPOLATE", 4.0, 40.0),
        ("LOOKUP BACKWARD", -1.0, 0.0),
        ("LOOKUP BACKWARD", 0.5, 0.0),
        ("LOOKUP BACKWARD", 1.0, 10.0),
        ("LOOKUP BACKWARD", 2.0, 10.0),
        ("LOOKUP BACKWARD", 5.0, 30.0),
        ("LOOKUP FORWARD", -1.0, 0.0),
        ("LOOKUP FORWARD", 0.0, 0.0),
        ("LOOKUP FORWARD", 0.5, 10.0),
        ("LOOKUP FORWARD", 1.0, 10.0),
        ("LOOKUP FORWARD", 2.0, 30.0),
        ("LOOKUP FORWARD", 5.0, 30.0),
        ("LOOKUP INVERT", 20.0, 2.0),
        ("LOOKUP INVERT", 5.0, 0.5),
        ("LOOKUP INVERT", 99.0, 3.0),
        // Caught: the ordinary lookup interpolates and holds the ends.
        ("LOOKUP", 2.0, 20.0),
        ("LOOKUP", 4.0, 30.0),
    ];
    let mut equations = String::from("tbl([(0,0)-(3,30)],(0,0),(1,10),(3,30)) ~~|\n");
    for (i, (f, x, _)) in cases.iter().enumerate() {
        equations.push_str(&format!("y{i} = {f}(tbl, {x}) ~~|\n"));
    }
    let m = mdl(&equations);
    let r = run(&m);
    // Through XMILE and back, the same numbers.
    let again = run(&xmile::parse(&xmile::write(&m), None).unwrap());
    for name in r.names() {
        assert_eq!(again.series(name), r.series(name), "{name}");
    }
    for (i, (f, x, expected)) in cases.iter().enumerate() {
        assert_eq!(
            r.value_at(&format!("y{i}"), 0.0),
            Some(*expected),
            "{f}(tbl, {x})"
        );
    }
    // A decreasing lookup inverts too; one that is not monotonic is refused.
    let r = run(&mdl(
        "down([(0,0)-(2,4)],(0,4),(2,0)) ~~|\ny = LOOKUP INVERT(down, 1) ~~|",
    ));
    assert_eq!(r.value_at("y", 0.0), Some(1.5));
    let e = Program::compile(&mdl(
        "bump([(0,0)-(2,4)],(0,0),(1,4),(2,0)) ~~|\ny = LOOKUP INVERT(bump, 1) ~~|",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("m.mdl:3:") && e.contains("strictly increase"),
        "{e}"
    );
    // The first argument must name a lookup.
    let e = Program::compile(&mdl("y = LOOKUP FORWARD(3, 2) ~~|"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("m.mdl:2:") && e.contains("name of a lookup"),
        "{e}"
    );
}
