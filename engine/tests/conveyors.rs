//! Stella's conveyors as carecascade reads them from XMILE: a stock with
//! `<conveyor>` carries what flows in for its transit time and lets it out
//! through its outflow; the initial contents are spread evenly over the
//! transit time. What it does not read (leakage, capacity, inflow limits,
//! sampling, arrest, discrete batches, a transit time that may change,
//! RK4) is refused with the line, never read as an ordinary stock.

use carecascade_engine::Program;
use carecascade_engine::format::{native, xmile};

/// A conveyor `belt` of transit time `len` holding 6 at the start, loaded
/// with 5 a unit of time until time 2, unloaded by `unload` (whose own
/// equation, 0, is not used).
fn belt(dt: &str, len: &str, conveyor_extra: &str, extra: &str) -> String {
    format!(
        r#"<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<sim_specs method="Euler"><start>0</start><stop>8</stop><dt>{dt}</dt></sim_specs>
<model><variables>
  <stock name="belt"><eqn>6</eqn><inflow>load</inflow><outflow>unload</outflow>
    <conveyor{conveyor_extra}><len>{len}</len></conveyor></stock>
  <flow name="load"><eqn>IF TIME &lt; 2 THEN 5 ELSE 0</eqn></flow>
  <flow name="unload"><eqn>0</eqn></flow>
  <stock name="shipped"><eqn>0</eqn><inflow>unload</inflow></stock>
  <aux name="transit"><eqn>3</eqn></aux>
  {extra}
</variables></model>
</xmile>"#
    )
}

fn run(text: &str) -> carecascade_engine::Results {
    let model = xmile::parse(text, Some("belt.xmile")).unwrap_or_else(|e| panic!("{e}"));
    let results = Program::compile(&model).unwrap().run().unwrap();
    // Exported and read back, the same numbers.
    for again in [
        xmile::parse(&xmile::write(&model), None).unwrap(),
        native::parse(&native::write(&model), None).unwrap(),
    ] {
        let second = Program::compile(&again).unwrap().run().unwrap();
        for name in results.names() {
            assert_eq!(second.series(name), results.series(name), "{name}");
        }
    }
    results
}

fn error(text: &str) -> String {
    match xmile::parse(text, Some("belt.xmile")) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_conveyor_carries_its_inflow_for_the_transit_time() {
    for len in ["3", "transit"] {
        let r = run(&belt("1", len, "", ""));
        // The initial 6 leaves at 6 / 3 = 2 a unit of time until the first
        // load arrives at time 3; what was loaded at t leaves at t + 3.
        let unload = [2.0, 2.0, 2.0, 5.0, 5.0, 0.0, 0.0, 0.0, 0.0];
        let belt = [6.0, 9.0, 12.0, 10.0, 5.0, 0.0, 0.0, 0.0, 0.0];
        for t in 0..=8 {
            let at = f64::from(t);
            assert_eq!(
                r.value_at("unload", at),
                Some(unload[t as usize]),
                "unload at {t}"
            );
            assert_eq!(
                r.value_at("belt", at),
                Some(belt[t as usize]),
                "belt at {t}"
            );
        }
        // Everything that was on or went onto the belt came off: 6 + 10.
        assert_eq!(r.value_at("shipped", 8.0), Some(16.0));
    }
}

#[test]
fn a_conveyor_with_a_smaller_dt() {
    let r = run(&belt("0.5", "3", "", ""));
    // Six slats of 0.5: the initial 6 leaves at 2 a unit of time for 3
    // units of time, then the loads of times 0 to 1.5 from 3 to 4.5.
    for (t, unload) in [(0.0, 2.0), (2.5, 2.0), (3.0, 5.0), (4.5, 5.0), (5.0, 0.0)] {
        assert_eq!(r.value_at("unload", t), Some(unload), "unload at {t}");
    }
    assert_eq!(r.value_at("belt", 5.0), Some(0.0));
    assert_eq!(r.value_at("shipped", 8.0), Some(16.0));
}

#[test]
fn a_conveyor_is_not_an_ordinary_stock() {
    // Read as an ordinary stock, `unload` would be its equation, 0, and
    // the belt would keep everything; caught.
    let r = run(&belt("1", "3", "", ""));
    assert_ne!(r.value_at("belt", 8.0), Some(16.0));
    assert_ne!(r.value_at("unload", 0.0), Some(0.0));
    // Initial contents let out at once (6 at time 0), or as a first-order
    // drain, would not be 2 at time 0 and 2 at time 2.
    assert_eq!(r.value_at("unload", 2.0), Some(2.0));
}

#[test]
fn what_a_conveyor_does_beyond_transit_is_refused_with_the_line() {
    let cases = [
        (
            belt("1", "3", "", "").replace("<len>3</len>", "<len>3</len><capacity>10</capacity>"),
            "belt.xmile:5:",
            "capacity",
        ),
        (
            belt("1", "3", "", "").replace("<len>3</len>", "<len>3</len><in_limit>1</in_limit>"),
            "belt.xmile:5:",
            "inflow limit",
        ),
        (
            belt("1", "3", "", "").replace("<len>3</len>", "<len>3</len><arrest>0</arrest>"),
            "belt.xmile:5:",
            "arresting",
        ),
        (
            belt("1", "3", " discrete=\"true\"", ""),
            "belt.xmile:5:",
            "discrete",
        ),
        (
            belt("1", "3", " batch_integrity=\"true\"", ""),
            "belt.xmile:5:",
            "batch integrity",
        ),
        (
            belt("1", "TIME", "", ""),
            "belt.xmile:5:",
            "must not change",
        ),
        (belt("1", "load", "", ""), "belt.xmile:5:", "`load`"),
        (
            belt("1", "3", "", "").replace("<conveyor><len>3</len></conveyor>", "<conveyor/>"),
            "belt.xmile:5:",
            "needs <len>",
        ),
        (
            belt(
                "1",
                "3",
                "",
                "<flow name=\"spill\"><eqn>0.1</eqn><leak/></flow>",
            )
            .replace(
                "<outflow>unload</outflow>",
                "<outflow>unload</outflow><outflow>spill</outflow>",
            ),
            "belt.xmile:10:",
            "leakage",
        ),
        (
            belt("1", "3", "", "<flow name=\"other\"><eqn>1</eqn></flow>").replace(
                "<outflow>unload</outflow>",
                "<outflow>unload</outflow><outflow>other</outflow>",
            ),
            "belt.xmile:4:",
            "one outflow",
        ),
        (
            belt("1", "3", "", "").replace("method=\"Euler\"", "method=\"RK4\""),
            "belt.xmile:5:",
            "RK4",
        ),
        (
            belt("1", "3", "", "").replace("<conveyor>", "<queue/><conveyor>"),
            "belt.xmile:5:",
            "queues are not supported",
        ),
    ];
    for (text, at, why) in cases {
        let e = error(&text);
        assert!(
            e.contains(at) && e.contains(why),
            "expected {at} ... {why} in:\n{e}"
        );
    }
}

#[test]
fn an_arrayed_conveyor_in_a_module() {
    // Two belts of transit time 2 inside module `plant`, loaded with 1 and
    // 10 a unit of time from time 0, starting empty and with 4.
    let text = r#"<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<sim_specs method="Euler"><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
<dimensions><dim name="line"><elem name="a"/><elem name="b"/></dim></dimensions>
<model><variables>
  <module name="plant"/>
  <aux name="made"><eqn>plant.unload[b]</eqn></aux>
</variables></model>
<model name="plant"><variables>
  <stock name="belt"><dimensions><dim name="line"/></dimensions>
    <element subscript="a"><eqn>0</eqn></element><element subscript="b"><eqn>4</eqn></element>
    <inflow>load</inflow><outflow>unload</outflow><conveyor><len>2</len></conveyor></stock>
  <flow name="load"><dimensions><dim name="line"/></dimensions><eqn>1, 10</eqn></flow>
  <flow name="unload" access="output"><dimensions><dim name="line"/></dimensions><eqn>0</eqn></flow>
</variables></model>
</xmile>"#;
    let r = run(text);
    // Element a: empty until its first load arrives at time 2.
    assert_eq!(r.value_at("plant.unload[a]", 0.0), Some(0.0));
    assert_eq!(r.value_at("plant.unload[a]", 2.0), Some(1.0));
    // Element b: its 4 leave at 2 a unit of time, then 10.
    assert_eq!(r.value_at("made", 0.0), Some(2.0));
    assert_eq!(r.value_at("made", 1.0), Some(2.0));
    assert_eq!(r.value_at("made", 2.0), Some(10.0));
    assert_eq!(r.value_at("plant.belt[b]", 4.0), Some(20.0));
}

#[test]
fn a_transit_time_fed_into_a_module_is_refused() {
    // `transit` is a module input: its own equation (3) is not what it
    // holds, so the transit time may change.
    let text = r#"<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<sim_specs method="Euler"><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
<model><variables>
  <aux name="outside"><eqn>2 + TIME</eqn></aux>
  <module name="plant"><connect to="plant.transit" from="outside"/></module>
</variables></model>
<model name="plant"><variables>
  <aux name="transit" access="input"><eqn>3</eqn></aux>
  <stock name="belt"><eqn>0</eqn><inflow>load</inflow><outflow>unload</outflow>
    <conveyor><len>transit</len></conveyor></stock>
  <flow name="load"><eqn>1</eqn></flow>
  <flow name="unload"><eqn>0</eqn></flow>
</variables></model>
</xmile>"#;
    let e = error(text);
    assert!(
        e.contains("belt.xmile:10:") && e.contains("must not change"),
        "{e}"
    );
}

#[test]
fn a_module_cannot_add_flows_to_a_conveyor() {
    let text = r#"<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<sim_specs method="Euler"><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
<model><variables>
  <stock name="belt"><eqn>0</eqn><inflow>load</inflow><outflow>unload</outflow>
    <conveyor><len>2</len></conveyor></stock>
  <flow name="load"><eqn>1</eqn></flow>
  <flow name="unload"><eqn>0</eqn></flow>
  <module name="feeder"><connect to="feeder.level" from="belt"/></module>
</variables></model>
<model name="feeder"><variables>
  <stock name="level" access="input"><eqn>0</eqn><inflow>extra</inflow></stock>
  <flow name="extra"><eqn>5</eqn></flow>
</variables></model>
</xmile>"#;
    let e = error(text);
    assert!(
        e.contains("belt.xmile:8:") && e.contains("a conveyor"),
        "{e}"
    );
}
