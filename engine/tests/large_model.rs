//! A large model of our own (`tests/large_model/services.mdl`: 40 regions
//! by 4 ages) combining a macro with its own stock, subranges and a mapping
//! for an ageing chain, data from CSV files, ALLOCATE BY PRIORITY, vector
//! ranking and sorting, SMOOTH and DELAY FIXED; and the same services as
//! XMILE modules (one module per region, an XMILE macro, arrays). Checked
//! by what must hold whatever the numbers: conservation, allocation
//! bounds, rank consistency, hand-computed first steps, and identical
//! results after export.

use carecascade_engine::format::{load_model, native, xmile};
use carecascade_engine::{Backend, Model, Program, Results};
use std::path::Path;

fn load() -> Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/large_model/services.mdl");
    load_model(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Interpreted: the compiled back end's code generation for 46,000
/// operations takes long in a debug build, and it gives the same numbers
/// bit for bit (checked below on the compiled back end once).
fn run(model: &Model) -> Results {
    let program = Program::compile(model).unwrap_or_else(|e| panic!("{e}"));
    let mut state = program.state();
    state.set_backend(Backend::Interpreter);
    state.run().unwrap_or_else(|e| panic!("{e}"))
}

fn at(r: &Results, name: &str, t: f64) -> f64 {
    r.value_at(name, t)
        .unwrap_or_else(|| panic!("no `{name}` at {t}"))
}

#[test]
fn the_vensim_services_model_runs_and_balances() {
    let model = load();
    let program = Program::compile(&model).unwrap_or_else(|e| panic!("{e}"));
    assert!(program.stock_count() > 160, "{}", program.stock_count());
    let r = run(&model);
    let regions: Vec<String> = (1..=40).map(|i| format!("r{i}")).collect();
    for &t in r.times().iter() {
        // The population is the sum of its flows.
        let total = at(&r, "total population", t);
        let tracked = at(&r, "tracked population", t);
        assert!(
            (total - tracked).abs() < 1e-6 * total,
            "{t}: {total} vs {tracked}"
        );
        // Allocation serves no more than capacity, no region more than
        // its need, and all the need when capacity covers it.
        let need = at(&r, "total need", t);
        let served = at(&r, "total served", t);
        let capacity = at(&r, "capacity", t);
        assert!((served - need.min(capacity)).abs() < 1e-6 * need, "{t}");
        let mut ranks = Vec::new();
        for region in &regions {
            let s = at(&r, &format!("served[{region}]"), t);
            let n = at(&r, &format!("need[{region}]"), t);
            assert!(s >= -1e-9 && s <= n + 1e-9, "{region} at {t}: {s} of {n}");
            ranks.push(at(&r, &format!("unmet rank[{region}]"), t) as usize);
        }
        ranks.sort_unstable();
        assert_eq!(ranks, (1..=40).collect::<Vec<_>>(), "ranks at {t}");
        // The largest unmet need is the one ranked first.
        let most = at(&r, "most unmet", t);
        let max = regions
            .iter()
            .map(|g| at(&r, &format!("unmet[{g}]"), t))
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(most, max, "{t}");
    }
    // Hand-computed start: r1 has 277 children and 629.5 adults; the
    // first step (dt 1/8) adds 629.5 * 0.025 births and takes 277/13
    // into teens and 277 * 0.001 deaths.
    let child = 277.0 + 0.125 * (629.5 * 0.025 - 277.0 / 13.0 - 277.0 * 0.001);
    let program_step = {
        let mut state = program.state();
        state.set_backend(Backend::Interpreter);
        state.set_time(
            program
                .time()
                .with_save_interval(0.125)
                .unwrap_or_else(|e| panic!("{e}")),
        );
        state.run().unwrap()
    };
    assert!((at(&program_step, "population[r1,child]", 0.125) - child).abs() < 1e-9);
    // Demand data interpolated between its points (1.2524 at 0, 1.3122 at 2).
    assert!((at(&r, "demand index[r1]", 1.0) - (1.2524 + 1.3122) / 2.0).abs() < 1e-12);
    // The macro's pipeline starts full: recruitment 40 for 3 years.
    assert_eq!(at(&r, "qualified staff", 0.0), 40.0);
}

#[test]
fn the_vensim_services_model_survives_export() {
    let model = load();
    let first = run(&model);
    for again in [
        xmile::parse(&xmile::write(&model), Some("services.xmile")).unwrap(),
        native::parse(&native::write(&model), Some("services.toml")).unwrap(),
    ] {
        let second = run(&again);
        for name in first.names() {
            assert_eq!(first.series(name), second.series(name), "{name}");
        }
    }
}

/// The same services as XMILE modules: one module per region (all
/// instances of one model with its own stocks), fed by arrayed data in the
/// main model, with an XMILE macro, and each region's served cases read
/// back into the main model through module outputs.
fn xmile_services(regions: usize) -> String {
    let mut main = String::new();
    let mut served = Vec::new();
    for r in 1..=regions {
        main.push_str(&format!(
            "<module name=\"area{r}\" model=\"area\">\
             <connect to=\"area{r}.need\" from=\"need[r{r}]\"/>\
             <connect to=\"area{r}.share\" from=\"share[r{r}]\"/>\
             <connect to=\"served_{r}\" from=\"area{r}.served\"/></module>\n\
             <aux name=\"served {r}\"><eqn>0</eqn></aux>\n"
        ));
        served.push(format!("served_{r}"));
    }
    let elements: String = (1..=regions)
        .map(|r| format!("<elem name=\"r{r}\"/>"))
        .collect();
    let needs: Vec<String> = (1..=regions).map(|r| format!("{}", 10 + r % 7)).collect();
    let needs = needs.join(", ");
    format!(
        r#"<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<sim_specs method="Euler"><start>0</start><stop>10</stop><dt>0.25</dt></sim_specs>
<dimensions><dim name="region">{elements}</dim></dimensions>
<macro name="ratio"><parm>a</parm><parm>b</parm><eqn>IF b = 0 THEN 0 ELSE a / b</eqn></macro>
<model><variables>
<aux name="need"><dimensions><dim name="region"/></dimensions><eqn>{needs}</eqn></aux>
<aux name="capacity"><eqn>100 + 10 * TIME</eqn></aux>
<aux name="share"><dimensions><dim name="region"/></dimensions><eqn>ratio(need, SUM(need[*])) * capacity</eqn></aux>
<aux name="total served"><eqn>{total}</eqn></aux>
{main}</variables></model>
<model name="area"><variables>
<aux name="need" access="input"><eqn>0</eqn></aux>
<aux name="share" access="input"><eqn>0</eqn></aux>
<stock name="waiting"><eqn>need</eqn><inflow>arriving</inflow><outflow>starting</outflow><non_negative/></stock>
<flow name="arriving"><eqn>need / 2</eqn></flow>
<flow name="starting"><eqn>MIN(waiting, share)</eqn></flow>
<aux name="served" access="output"><eqn>starting</eqn></aux>
</variables></model>
</xmile>"#,
        total = served.join(" + ")
    )
}

#[test]
fn the_xmile_services_model_with_a_module_per_region() {
    let model =
        xmile::parse(&xmile_services(40), Some("services.xmile")).unwrap_or_else(|e| panic!("{e}"));
    let r = run(&model);
    for &t in r.times().iter() {
        let mut total = 0.0;
        for region in 1..=40 {
            let served = at(&r, &format!("served {region}"), t);
            let waiting = at(&r, &format!("area{region}.waiting"), t);
            let share = at(&r, &format!("share[r{region}]"), t);
            // Each area starts what it can: its share, or all that waits.
            assert_eq!(served, waiting.min(share), "area {region} at {t}");
            assert!(waiting >= 0.0);
            total += served;
        }
        assert!((at(&r, "total served", t) - total).abs() < 1e-9 * total.max(1.0));
    }
    // Hand-computed: area 1 needs 11 of a total of sum(10 + r % 7) over 40
    // regions; at time 0 its share of 100 is 100 * 11 / total.
    let total_need: f64 = (1..=40).map(|r| f64::from(10 + r % 7)).sum();
    assert!((at(&r, "share[r1]", 0.0) - 100.0 * 11.0 / total_need).abs() < 1e-12);
    // The compiled back end gives the same numbers bit for bit.
    let program = Program::compile(&model).unwrap();
    let mut state = program.state();
    state.set_backend(Backend::Compiled);
    let compiled = state.run().unwrap();
    for name in r.names() {
        assert_eq!(r.series(name), compiled.series(name), "{name}");
    }
}
