//! Arrays (subscripts): dimensions, element-wise and per-element equations,
//! references to single elements, SUM/MEAN/MIN/MAX over a dimension, two
//! dimensions, and the errors a modeller gets for mistakes.

use carecascade_engine::Program;
use carecascade_engine::format::native;

const MODEL: &str = r#"
[model]
name = "ageing"
time_units = "year"

[time]
stop = 10
dt = 0.25

[dimensions]
age = ["young", "old"]
placement = ["kinship", "foster", "home"]

[stocks.children]
dimensions = ["age"]
initial = 100
inflows = ["entries", "ageing in"]
outflows = ["leaving", "ageing out"]
units = "children"
[stocks.children.elements]
old = 50

[flows.entries]
dimensions = ["age"]
equation = "entry rate[age] * 10"
units = "children/year"

[flows.leaving]
dimensions = ["age"]
equation = "children / duration[age]"
units = "children/year"

[flows."ageing out"]
dimensions = ["age"]
equation = "children[age] / 5"
units = "children/year"
[flows."ageing out".elements]
old = 0

[flows."ageing in"]
dimensions = ["age"]
equation = "0"
units = "children/year"
[flows."ageing in".elements]
old = "ageing out[young]"

[constants."entry rate"]
dimensions = ["age"]
value = 2
[constants."entry rate".elements]
old = 1

[constants.duration]
dimensions = ["age"]
value = 4
units = "year"

[constants."weekly cost"]
dimensions = ["placement"]
value = 700
[constants."weekly cost".elements]
home = 5000

[auxiliaries."cost factor"]
dimensions = ["age"]
equation = "1"
[auxiliaries."cost factor".elements]
old = "1.5"

[auxiliaries."unit cost"]
dimensions = ["age", "placement"]
equation = "weekly cost[placement] * cost factor * 52"

[auxiliaries.total]
equation = "SUM(children[age!])"

[auxiliaries.statistics]
equation = "MEAN(children[*]) + 1000 * MAX(unit cost[old, *]) + MIN(weekly cost)"

[stocks.entered]
initial = 0
inflows = ["all entries"]

[flows."all entries"]
equation = "SUM(entries)"
"#;

fn run(text: &str) -> carecascade_engine::Results {
    let model = native::parse(text, Some("ageing.toml")).unwrap();
    Program::compile(&model).unwrap().run().unwrap()
}

#[test]
fn columns_are_named_by_element() {
    let results = run(MODEL);
    for name in [
        "children[young]",
        "children[old]",
        "unit cost[old,home]",
        "entry rate[young]",
        "total",
    ] {
        assert!(
            results.column(name).is_some(),
            "no column {name} in {:?}",
            results.names()
        );
    }
}

#[test]
fn elements_follow_their_own_equations() {
    let results = run(MODEL);
    let at0 = |name: &str| results.series(name).unwrap()[0];
    assert_eq!(at0("children[young]"), 100.0);
    assert_eq!(at0("children[old]"), 50.0);
    assert_eq!(at0("entries[young]"), 20.0);
    assert_eq!(at0("entries[old]"), 10.0);
    assert_eq!(at0("ageing in[old]"), 20.0);
    assert_eq!(at0("ageing out[old]"), 0.0);
    assert_eq!(at0("unit cost[young,kinship]"), 700.0 * 52.0);
    assert_eq!(at0("unit cost[old,home]"), 5000.0 * 1.5 * 52.0);
    assert_eq!(at0("total"), 150.0);
    assert_eq!(
        at0("statistics"),
        75.0 + 1000.0 * 5000.0 * 1.5 * 52.0 + 700.0
    );
}

#[test]
fn ageing_between_elements_conserves_children() {
    // Children leave only through `leaving`; entries add to both.
    let results = run(MODEL);
    let dt = 0.25;
    let series = |n: &str| results.series(n).unwrap().to_vec();
    let (young, old) = (series("children[young]"), series("children[old]"));
    let (entered, left_young, left_old) = (
        series("entered"),
        series("leaving[young]"),
        series("leaving[old]"),
    );
    let mut left = 0.0;
    for step in 0..young.len() - 1 {
        left += dt * (left_young[step] + left_old[step]);
        let total = young[step + 1] + old[step + 1];
        let expected = 150.0 + entered[step + 1] - left;
        assert!(
            (total - expected).abs() < 1e-9 * expected,
            "step {step}: {total} vs {expected}"
        );
    }
}

#[test]
fn elements_of_constants_can_be_set_between_runs() {
    let model = native::parse(MODEL, None).unwrap();
    let program = Program::compile(&model).unwrap();
    let mut state = program.state();
    state.set("entry rate[old]", 3.0).unwrap();
    let results = state.run().unwrap();
    assert_eq!(results.series("entries[old]").unwrap()[0], 30.0);
    assert_eq!(results.series("entries[young]").unwrap()[0], 20.0);
    let err = state
        .set("entry rate[elderly]", 1.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean `entry rate[old]`"), "{err}");
}

/// The model written as XMILE and as TOML, each read back.
fn exported_and_read_back(model: &carecascade_engine::Model) -> [carecascade_engine::Model; 2] {
    [
        carecascade_engine::format::xmile::parse(
            &carecascade_engine::format::xmile::write(model),
            None,
        )
        .unwrap(),
        native::parse(&native::write(model), None).unwrap(),
    ]
}

fn error_of(extra: &str) -> String {
    let text = format!("{MODEL}\n{extra}");
    match native::parse(&text, Some("ageing.toml")).and_then(|m| Program::compile(&m).map(|_| ())) {
        Ok(()) => panic!("expected an error for {extra}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn array_mistakes_are_explained() {
    let cases = [
        (
            "[auxiliaries.x]\nequation = \"children[yuong]\"",
            "`yuong` is not an element of `age`; did you mean `young`?",
        ),
        (
            "[auxiliaries.x]\nequation = \"children\"",
            "`children` ranges over `age` but `x` does not: write `children[element]`, or `SUM(children[age!])`",
        ),
        (
            "[auxiliaries.x]\nequation = \"unit cost[young]\"",
            "`unit cost` ranges over [age, placement], so it needs 2 index(es), not 1",
        ),
        (
            "[auxiliaries.x]\nequation = \"total[young]\"",
            "`total` is not arrayed, so it takes no subscript",
        ),
        (
            "[auxiliaries.x]\nequation = \"children[*]\"",
            "`*` and `dimension!` select every element: use them inside SUM, MEAN, MIN or MAX",
        ),
        (
            "[auxiliaries.x]\nequation = \"SUM(total)\"",
            "SUM needs an array, like SUM(x[dimension!]) or SUM(x[*])",
        ),
        (
            "[auxiliaries.x]\ndimensions = [\"placement\"]\nequation = \"children[placement]\"",
            "`placement` has 3 elements but `children` needs an element of `age` (2 elements)",
        ),
        (
            "[auxiliaries.x]\ndimensions = [\"ages\"]\nequation = \"1\"",
            "dimension `ages` is not defined; did you mean `age`?",
        ),
        (
            "[auxiliaries.x]\ndimensions = [\"age\"]\nequation = \"1\"\n[auxiliaries.x.elements]\nyoungg = 2",
            "`youngg` is not an element of `age`; did you mean `young`?",
        ),
        (
            "[flows.g]\ndimensions = [\"age\"]\nequation = 1\n[stocks.s]\ninitial = 0\ninflows = [\"g\"]",
            "the stock ranges over no dimensions but its flow `g` over [age]",
        ),
    ];
    for (extra, expected) in cases {
        let message = error_of(extra);
        assert!(
            message.contains(expected),
            "for {extra}:\nexpected `{expected}` in\n  {message}"
        );
    }
}

#[test]
fn arrayed_models_survive_export_and_import() {
    let model = native::parse(MODEL, None).unwrap();
    let first = Program::compile(&model).unwrap().run().unwrap();
    let again = native::parse(&native::write(&model), Some("exported.toml")).unwrap();
    assert_eq!(Program::compile(&again).unwrap().run().unwrap(), first);
    let xmile_text = carecascade_engine::format::xmile::write(&model);
    let through_xmile =
        carecascade_engine::format::xmile::parse(&xmile_text, Some("exported.xmile")).unwrap();
    let second = Program::compile(&through_xmile).unwrap().run().unwrap();
    for name in first.names() {
        assert_eq!(first.series(name), second.series(name), "{name}");
    }
}

#[test]
fn the_worked_example_in_the_docs_runs() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/model-format.md"
    ))
    .unwrap();
    let section = &docs[docs.find("## Arrays").expect("an Arrays section")..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let results = run(example);
    assert_eq!(results.series("children in care").unwrap()[0], 150.0);
    assert_eq!(
        results.series("unit cost[old,home]").unwrap()[0],
        5000.0 * 52.0
    );
    assert_eq!(results.series("ageing in[old]").unwrap()[0], 20.0);
}

#[test]
fn delays_inside_arrayed_equations_keep_state_per_element() {
    let text = format!(
        "{MODEL}\n[auxiliaries.smoothed]\ndimensions = [\"age\"]\nequation = \"SMOOTHI(entries, 2, 0)\"\n"
    );
    let results = run(&text);
    let young = results.series("smoothed[young]").unwrap();
    let old = results.series("smoothed[old]").unwrap();
    // Inputs 20 and 10 from rest: each element follows its own input.
    let t = results.times();
    for i in 0..t.len() {
        let expected = 1.0 - (1.0f64 - 0.25 / 2.0).powi(i as i32);
        assert!((young[i] - 20.0 * expected).abs() < 1e-9, "{}", young[i]);
        assert!((old[i] - 10.0 * expected).abs() < 1e-9, "{}", old[i]);
    }
}

#[test]
fn an_arrayed_lookup_applies_one_table_to_each_element() {
    let text = format!(
        "{MODEL}\n[lookups.\"effect of size\"]\ndimensions = [\"age\"]\ninput = \"children\"\npoints = [[0, 1], [200, 3]]\n[lookups.\"effect of size\".elements]\nold = \"children[young]\"\n"
    );
    let model = native::parse(&text, None).unwrap();
    let results = Program::compile(&model).unwrap().run().unwrap();
    assert_eq!(results.series("effect of size[young]").unwrap()[0], 2.0); // 100 children
    assert_eq!(results.series("effect of size[old]").unwrap()[0], 2.0); // its own input: children[young]
    // The same through XMILE and the native format.
    for again in exported_and_read_back(&model) {
        let second = Program::compile(&again).unwrap().run().unwrap();
        assert_eq!(
            second.series("effect of size[old]"),
            results.series("effect of size[old]")
        );
    }
}

#[test]
fn an_arrayed_lookup_may_have_a_table_per_element() {
    let text = format!(
        "{MODEL}\n[lookups.\"effect of size\"]\ndimensions = [\"age\"]\ninput = \"children\"\npoints = [[0, 1], [200, 3]]\n[lookups.\"effect of size\".tables]\nold = [[0, 10], [100, 20]]\n"
    );
    let model = native::parse(&text, None).unwrap();
    let results = Program::compile(&model).unwrap().run().unwrap();
    assert_eq!(results.series("effect of size[young]").unwrap()[0], 2.0); // 100 on the shared table
    assert_eq!(results.series("effect of size[old]").unwrap()[0], 15.0); // 50 on its own table
    for again in exported_and_read_back(&model) {
        let second = Program::compile(&again).unwrap().run().unwrap();
        assert_eq!(
            second.series("effect of size[old]"),
            results.series("effect of size[old]")
        );
        assert_eq!(
            second.series("effect of size[young]"),
            results.series("effect of size[young]")
        );
    }
    let err = error_of(
        "[lookups.f]\ndimensions = [\"age\"]\ninput = \"1\"\npoints = [[0, 1]]\n[lookups.f.tables]\nolder = [[0, 1]]",
    );
    assert!(
        err.contains("`older` is not an element of `age`; did you mean `old`?"),
        "{err}"
    );
}

#[test]
fn xmile_graphical_functions_per_element() {
    let text = r#"<xmile><sim_specs><start>0</start><stop>1</stop><dt>1</dt></sim_specs>
<dimensions><dim name="d"><elem name="a"/><elem name="b"/></dim></dimensions>
<model><variables>
  <aux name="x"><dimensions><dim name="d"/></dimensions><eqn>TIME + 1</eqn>
    <element subscript="a"><gf><xpts>0,2</xpts><ypts>0,20</ypts></gf></element>
    <element subscript="b"><gf><xpts>0,2</xpts><ypts>0,200</ypts></gf></element>
  </aux>
</variables></model></xmile>"#;
    let model = carecascade_engine::format::xmile::parse(text, None).unwrap();
    let results = Program::compile(&model).unwrap().run().unwrap();
    assert_eq!(results.series("x[a]").unwrap().to_vec(), [10.0, 20.0]);
    assert_eq!(results.series("x[b]").unwrap().to_vec(), [100.0, 200.0]);
}

#[test]
fn an_arrayed_lookup_function_has_a_table_per_element() {
    let text = format!(
        r#"{MODEL}
[lookups.g]
dimensions = ["age"]
points = [[0, 1], [200, 3]]
[lookups.g.tables]
old = [[0, 10], [100, 20]]

[auxiliaries.each]
dimensions = ["age"]
equation = "g(children)"

[auxiliaries."old by call"]
equation = "g[old](50)"

[auxiliaries."young by LOOKUP"]
equation = "LOOKUP(g[young], 100)"
"#
    );
    let model = native::parse(&text, None).unwrap();
    let results = Program::compile(&model).unwrap().run().unwrap();
    // The function has no value of its own: no column.
    assert!(results.series("g[old]").is_none());
    assert_eq!(results.series("old by call").unwrap()[0], 15.0);
    assert_eq!(results.series("young by LOOKUP").unwrap()[0], 2.0);
    // Without a subscript, each element uses its own table.
    assert_eq!(results.series("each[young]").unwrap()[0], 2.0); // children[young] = 100
    assert_eq!(results.series("each[old]").unwrap()[0], 15.0); // children[old] = 50
    for again in exported_and_read_back(&model) {
        let second = Program::compile(&again).unwrap().run().unwrap();
        for name in ["old by call", "young by LOOKUP", "each[young]", "each[old]"] {
            assert_eq!(second.series(name), results.series(name), "{name}");
        }
    }
    let err = error_of(&format!(
        "{}\n[auxiliaries.bad]\nequation = \"g(1)\"\n[auxiliaries.worse]\nequation = \"g[older](1)\"",
        "[lookups.g]\ndimensions = [\"age\"]\npoints = [[0, 1]]"
    ));
    assert!(
        err.contains("lookup `g` has a table per element of `age` but `bad` does not range over `age`: call it as `g[element](x)`"),
        "{err}"
    );
    assert!(
        err.contains("`older` is not an element of `age`; did you mean `old`?"),
        "{err}"
    );
}

#[test]
fn xmile_arrayed_graphical_function_without_input() {
    let text = r#"<xmile><sim_specs><start>0</start><stop>1</stop><dt>1</dt></sim_specs>
<dimensions><dim name="d"><elem name="a"/><elem name="b"/></dim></dimensions>
<model><variables>
  <gf name="g"><dimensions><dim name="d"/></dimensions>
    <element subscript="a"><xpts>0,2</xpts><ypts>0,20</ypts></element>
    <element subscript="b"><gf><xpts>0,2</xpts><ypts>0,200</ypts></gf></element>
  </gf>
  <aux name="x"><dimensions><dim name="d"/></dimensions><eqn>g(TIME + 1)</eqn></aux>
  <aux name="y"><eqn>g[b](1) + LOOKUP(g[a], 2)</eqn></aux>
</variables></model></xmile>"#;
    let model = carecascade_engine::format::xmile::parse(text, None).unwrap();
    let results = Program::compile(&model).unwrap().run().unwrap();
    assert_eq!(results.series("x[a]").unwrap().to_vec(), [10.0, 20.0]);
    assert_eq!(results.series("x[b]").unwrap().to_vec(), [100.0, 200.0]);
    assert_eq!(results.series("y").unwrap().to_vec(), [120.0, 120.0]);
    for again in exported_and_read_back(&model) {
        let second = Program::compile(&again).unwrap().run().unwrap();
        assert_eq!(second.values(), results.values());
    }
}
