//! XMILE modules: several `<model>`s, `<module>` instances and `<connect>`ed
//! inputs, read by flattening into one model whose module variables are
//! named `module.variable` (XMILE 1.0, section 3.7 "Modules").

use carecascade_engine::Program;
use carecascade_engine::format::{native, xmile};

fn run(text: &str) -> carecascade_engine::Results {
    let model = xmile::parse(text, Some("modules.xmile")).unwrap();
    let results = Program::compile(&model).unwrap().run().unwrap();
    // Exported and read back (XMILE and native), the flat model gives the
    // same numbers bit for bit.
    for again in [
        xmile::parse(&xmile::write(&model), None).unwrap(),
        native::parse(&native::write(&model), None).unwrap(),
    ] {
        let second = Program::compile(&again).unwrap().run().unwrap();
        let mut names = second.names().to_vec();
        names.sort();
        let mut expected = results.names().to_vec();
        expected.sort();
        assert_eq!(names, expected);
        for name in results.names() {
            assert_eq!(second.series(name), results.series(name), "{name}");
        }
    }
    results
}

fn error(text: &str) -> String {
    match xmile::parse(text, Some("modules.xmile")) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// Growth whose rate is computed in a module nested inside another module:
/// population(t) = 100 * 1.1^t under Euler with dt 1.
const NESTED: &str = r#"<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<sim_specs method="Euler"><start>0</start><stop>5</stop><dt>1</dt></sim_specs>
<model>
  <variables>
    <stock name="population"><eqn>100</eqn><inflow>births</inflow></stock>
    <flow name="births"><eqn>growth.births</eqn></flow>
    <module name="growth">
      <connect to="growth.population" from="population"/>
    </module>
  </variables>
</model>
<model name="growth">
  <variables>
    <aux name="population" access="input"><eqn>0</eqn></aux>
    <aux name="base"><eqn>1</eqn></aux>
    <aux name="births" access="output"><eqn>population * rate_model.rate</eqn></aux>
    <module name="rate_model">
      <connect to="base" from="base"/>
    </module>
  </variables>
</model>
<model name="rate_model">
  <variables>
    <aux name="base" access="input"><eqn>0</eqn></aux>
    <aux name="rate" access="output"><eqn>base / 10</eqn></aux>
  </variables>
</model>
</xmile>"#;

#[test]
fn nested_modules_flatten_into_qualified_names() {
    let results = run(NESTED);
    let population = results.series("population").unwrap();
    for (i, t) in results.times().iter().enumerate() {
        let exact = 100.0 * 1.1f64.powf(*t);
        assert!(
            (population[i] - exact).abs() < 1e-9 * exact,
            "t={t}: {} vs {exact}",
            population[i]
        );
    }
    assert_eq!(results.series("growth.rate_model.rate").unwrap()[0], 0.1);
    assert_eq!(results.series("growth.population").unwrap()[0], 100.0);
    assert_eq!(results.series("growth.births").unwrap()[0], 10.0);
}

#[test]
fn one_model_used_by_two_modules_keeps_separate_state() {
    // `model="..."` names the model when it differs from the module's name.
    let text = r#"<xmile><sim_specs><start>0</start><stop>10</stop><dt>0.25</dt></sim_specs>
<model><variables>
  <aux name="signal"><eqn>STEP(10, 1)</eqn></aux>
  <module name="fast" model="smoother"><connect to="input" from="signal"/><connect to="time constant" from="short"/></module>
  <module name="slow" model="smoother"><connect to="input" from="signal"/></module>
  <aux name="short"><eqn>1</eqn></aux>
  <aux name="reference fast"><eqn>SMTH1(signal, 1)</eqn></aux>
  <aux name="reference slow"><eqn>SMTH1(signal, 4)</eqn></aux>
</variables></model>
<model name="smoother"><variables>
  <aux name="input" access="input"><eqn>0</eqn></aux>
  <aux name="time_constant" access="input"><eqn>4</eqn></aux>
  <stock name="level"><eqn>input</eqn><inflow>change</inflow></stock>
  <flow name="change"><eqn>(input - level) / time_constant</eqn></flow>
  <aux name="output" access="output"><eqn>level</eqn></aux>
</variables></model>
</xmile>"#;
    let results = run(text);
    // `slow` leaves its time constant unconnected: the model's own 4.
    assert_eq!(results.series("slow.time constant").unwrap()[0], 4.0);
    for (module, reference) in [("fast", "reference fast"), ("slow", "reference slow")] {
        let output = results.series(&format!("{module}.output")).unwrap();
        let expected = results.series(reference).unwrap();
        assert_eq!(output, expected, "{module}");
    }
    assert_ne!(
        results.series("fast.output").unwrap(),
        results.series("slow.output").unwrap()
    );
}

#[test]
fn module_mistakes_are_located_with_suggestions() {
    let text = r#"<xmile><sim_specs><start>0</start><stop>1</stop><dt>1</dt></sim_specs>
<model><variables>
  <aux name="x"><eqn>1</eqn></aux>
  <module name="a" model="smoother"><connect to="inptu" from="x"/></module>
  <module name="b" model="smoothr"/>
  <module name="c" model="loop"/>
  <module name="d" resource="other.xmile"/>
  <module name="e" model="smoother"><connect to="level" from="x"/></module>
</variables></model>
<model name="smoother"><variables>
  <aux name="input" access="input"><eqn>0</eqn></aux>
  <stock name="level"><eqn>input</eqn><inflow>fill</inflow></stock>
  <flow name="fill"><eqn>1</eqn></flow>
</variables></model>
<model name="loop"><variables>
  <module name="again" model="loop"/>
</variables></model>
</xmile>"#;
    let err = error(text);
    for expected in [
        "modules.xmile:4:37: <connect> names `inptu`, which is not a variable of module `a`; did you mean `input`?",
        "modules.xmile:5:3: module `b` needs a <model name=\"smoothr\">, and the file has none; did you mean `smoother`?",
        "modules.xmile:16:3: module `again` contains model `loop`, which contains itself",
        "modules.xmile:7:3: module `d` refers to the external file `other.xmile`",
        "modules.xmile:8:37: <connect> feeds `e.level`, a stock with flows",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }
    let err = error(
        "<xmile><model name=\"a\"><variables/></model><model name=\"b\"><variables/></model></xmile>",
    );
    assert!(err.contains("none is the main model"), "{err}");
}

/// As Stella Architect writes modules: `<connect>`s qualified with module
/// names on both ends (one module's output into another's input), a
/// placeholder stock and a placeholder graphical function as module
/// inputs, a module output fed back into the main model, and a flow that
/// drains one stock into another.
const ARCHITECT: &str = r#"<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<sim_specs method="Euler"><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
<model>
  <variables>
    <stock name="inventory"><eqn>10</eqn><inflow>production</inflow><outflow>shipments</outflow><outflow>transfer</outflow></stock>
    <stock name="backlog"><eqn>0</eqn><inflow>transfer</inflow></stock>
    <flow name="production"><eqn>production_signal</eqn></flow>
    <flow name="shipments"><eqn>3</eqn></flow>
    <flow name="transfer"><eqn>1</eqn></flow>
    <aux name="production signal"><eqn>0</eqn></aux>
    <module name="planner"/>
    <module name="factory">
      <connect to="factory.stock_level" from="inventory"/>
      <connect to="factory.goal" from="planner.target_out"/>
      <connect to="production_signal" from="factory.production_rate"/>
    </module>
  </variables>
</model>
<model name="planner">
  <variables>
    <aux name="target out" access="output"><eqn>20</eqn></aux>
  </variables>
</model>
<model name="factory">
  <variables>
    <stock name="stock level" access="input"><eqn>0</eqn></stock>
    <aux name="goal" access="input"><eqn>TIME</eqn><gf><xscale min="0" max="1"/><ypts>0,1</ypts></gf></aux>
    <aux name="adjust time"><eqn>2</eqn></aux>
    <aux name="production rate" access="output"><eqn>(goal - stock_level) / adjust_time</eqn></aux>
  </variables>
</model>
</xmile>"#;

#[test]
fn stella_architect_modules_connect_outputs_inputs_and_placeholders() {
    let r = run(ARCHITECT);
    // production = (20 - inventory) / 2; inventory gains production - 3 - 1.
    let mut inventory = 10.0;
    for t in 0..=4 {
        let t = f64::from(t);
        assert_eq!(
            r.value_at("inventory", t),
            Some(inventory),
            "inventory at {t}"
        );
        let production = (20.0 - inventory) / 2.0;
        assert_eq!(r.value_at("production signal", t), Some(production));
        assert_eq!(r.value_at("factory.stock level", t), Some(inventory));
        assert_eq!(r.value_at("factory.goal", t), Some(20.0));
        // The transfer moves one a step from inventory to backlog.
        assert_eq!(r.value_at("backlog", t), Some(t));
        inventory += production - 3.0 - 1.0;
    }
}

/// A module's stock with flows fed by a stock outside: as in Stella, the
/// outside stock takes its place and the module's flows act on it.
#[test]
fn a_stock_with_flows_as_a_module_input_shares_the_outer_stock() {
    let text = ARCHITECT.replace(
        r#"<stock name="stock level" access="input"><eqn>0</eqn></stock>"#,
        r#"<stock name="stock level" access="input"><eqn>1000</eqn><inflow>returns</inflow><outflow>scrap</outflow></stock>
    <flow name="returns"><eqn>2</eqn></flow>
    <flow name="scrap"><eqn>stock_level / 10</eqn></flow>"#,
    );
    let r = run(&text);
    // inventory gains production - 3 - 1 from outside, and returns (2)
    // less scrap (a tenth of it) from inside the module; the module's own
    // initial value (1000) is not used.
    let mut inventory = 10.0;
    for t in 0..=4 {
        let t = f64::from(t);
        let got = r.value_at("inventory", t).unwrap();
        assert!(
            (got - inventory).abs() < 1e-12,
            "inventory at {t}: {got} vs {inventory}"
        );
        assert_eq!(r.value_at("factory.stock level", t), Some(got));
        assert_eq!(r.value_at("factory.scrap", t), Some(got / 10.0));
        let production = (20.0 - inventory) / 2.0;
        inventory += production - 3.0 - 1.0 + 2.0 - inventory / 10.0;
    }
    // Caught: the module's flows acting on a copy of its own would leave
    // inventory as without them.
    let without = run(ARCHITECT);
    assert_ne!(
        without.value_at("inventory", 4.0),
        r.value_at("inventory", 4.0)
    );
    // Only a stock can take its place.
    let e = error(&text.replace(
        r#"<connect to="factory.stock_level" from="inventory"/>"#,
        r#"<connect to="factory.stock_level" from="production_signal"/>"#,
    ));
    assert!(
        e.contains("modules.xmile:")
            && e.contains("a stock with flows, from `production_signal`, which is an auxiliary"),
        "{e}"
    );
}

/// Through two modules: the inner module's stock is fed by the middle
/// module's, which is fed by the main model's; every flow acts on the
/// main model's stock.
#[test]
fn a_stock_shared_through_nested_modules() {
    let text = r#"<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<sim_specs method="Euler"><start>0</start><stop>3</stop><dt>1</dt></sim_specs>
<model><variables>
  <stock name="tank"><eqn>100</eqn><outflow>drain</outflow></stock>
  <flow name="drain"><eqn>5</eqn></flow>
  <module name="mid"><connect to="mid.level" from="tank"/></module>
</variables></model>
<model name="mid"><variables>
  <stock name="level" access="input"><eqn>0</eqn><inflow>fill</inflow></stock>
  <flow name="fill"><eqn>1</eqn></flow>
  <module name="deep"><connect to="deep.level" from="level"/></module>
</variables></model>
<model name="deep"><variables>
  <stock name="level" access="input"><eqn>0</eqn><outflow>loss</outflow></stock>
  <flow name="loss"><eqn>level / 100</eqn></flow>
</variables></model>
</xmile>"#;
    let r = run(text);
    let mut tank = 100.0;
    for t in 0..=3 {
        let t = f64::from(t);
        let got = r.value_at("tank", t).unwrap();
        assert!((got - tank).abs() < 1e-12, "tank at {t}: {got} vs {tank}");
        assert_eq!(r.value_at("mid.deep.level", t), Some(got));
        tank += 1.0 - 5.0 - tank / 100.0;
    }
}

/// An arrayed stock shared with a module: the module's arrayed flow acts
/// on each element of the outer stock.
#[test]
fn an_arrayed_stock_shared_with_a_module() {
    let text = r#"<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<sim_specs method="Euler"><start>0</start><stop>2</stop><dt>1</dt></sim_specs>
<dimensions><dim name="r"><elem name="north"/><elem name="south"/></dim></dimensions>
<model><variables>
  <stock name="people"><dimensions><dim name="r"/></dimensions><eqn>10, 20</eqn></stock>
  <module name="births"><connect to="births.pop" from="people"/></module>
</variables></model>
<model name="births"><variables>
  <stock name="pop" access="input"><dimensions><dim name="r"/></dimensions><eqn>0</eqn><inflow>born</inflow></stock>
  <flow name="born"><dimensions><dim name="r"/></dimensions><eqn>pop / 10</eqn></flow>
</variables></model>
</xmile>"#;
    let r = run(text);
    // Each element grows by a tenth a step: 10 -> 11 -> 12.1; 20 -> 22 -> 24.2.
    for (element, start) in [("north", 10.0), ("south", 20.0)] {
        let got = r.value_at(&format!("people[{element}]"), 2.0).unwrap();
        let exact = start * 1.1 * 1.1;
        assert!((got - exact).abs() < 1e-12, "{element}: {got} vs {exact}");
    }
}
