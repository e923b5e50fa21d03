//! Invariants over random models: every stock balances its flows, and
//! non-negative stocks never go below zero. And no input, however
//! malformed, makes the parser or compiler panic.

use carecascade_engine::build::{Constant, Flow, Stock};
use carecascade_engine::format::native;
use carecascade_engine::{Model, Program, TimeSettings};
use proptest::prelude::*;

/// A random network: `stocks` initial values and non-negative flags, and
/// flows (from, to, kind, rate) where from/to of `None` is outside the model.
#[derive(Debug, Clone)]
struct Network {
    stocks: Vec<(f64, bool)>,
    flows: Vec<(Option<usize>, Option<usize>, u8, f64)>,
    dt: f64,
}

fn network() -> impl Strategy<Value = Network> {
    (1usize..6).prop_flat_map(|n| {
        let stocks = prop::collection::vec((0.0f64..100.0, any::<bool>()), n);
        let end = prop::option::weighted(0.8, 0..n);
        let flows = prop::collection::vec((end.clone(), end, 0u8..4, -2.0f64..5.0), 1..10);
        let dt = prop::sample::select(vec![0.125, 0.25, 0.5, 1.0]);
        (stocks, flows, dt).prop_map(|(stocks, flows, dt)| Network { stocks, flows, dt })
    })
}

fn build(net: &Network) -> Model {
    let mut builder = Model::builder("random").time(TimeSettings::new(0.0, 10.0, net.dt).unwrap());
    let mut stocks: Vec<Stock> = net
        .stocks
        .iter()
        .enumerate()
        .map(|(i, (initial, non_negative))| {
            Stock::new(format!("s{i}"), *initial).non_negative(*non_negative)
        })
        .collect();
    for (j, (from, to, kind, rate)) in net.flows.iter().enumerate() {
        let name = format!("f{j}");
        let source = from.map_or("10".to_string(), |i| format!("s{i}"));
        let equation = match kind {
            // Proportional, constant (possibly negative), time-varying and nonlinear rates.
            0 => format!("rate{j} * {source}"),
            1 => format!("rate{j} * 20"),
            2 => format!("rate{j} * 10 * (1 + SIN(TIME))"),
            _ => format!("rate{j} * {source} * {source} / 50 + PULSE(3, 1) * 40"),
        };
        builder.push(Flow::new(name.clone(), equation));
        builder.push(Constant::new(format!("rate{j}"), *rate));
        if let Some(i) = from {
            stocks[*i] = stocks[*i].clone().outflow(name.clone());
        }
        if let Some(i) = to {
            stocks[*i] = stocks[*i].clone().inflow(name.clone());
        }
    }
    for s in stocks {
        builder.push(s);
    }
    builder.build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn stocks_balance_and_non_negative_stocks_stay_non_negative(net in network()) {
        let model = build(&net);
        let program = Program::compile(&model).unwrap();
        let results = match program.run() {
            Ok(r) => r,
            // Quadratic rates can blow up; the run must then say so, not balance.
            Err(carecascade_engine::Error::NonFinite { .. }) => return Ok(()),
            Err(e) => panic!("{e}"),
        };
        let dt = net.dt;
        let steps = results.times().len() - 1;
        for (i, (initial, non_negative)) in net.stocks.iter().enumerate() {
            let stock = results.series(&format!("s{i}")).unwrap();
            let mut total = *initial;
            let mut scale = initial.abs();
            for step in 0..steps {
                for (j, (from, to, _, _)) in net.flows.iter().enumerate() {
                    let flow = results.series(&format!("f{j}")).unwrap()[step];
                    if *to == Some(i) { total += dt * flow; scale += (dt * flow).abs(); }
                    if *from == Some(i) { total -= dt * flow; scale += (dt * flow).abs(); }
                }
                let simulated = stock[step + 1];
                prop_assert!(
                    (simulated - total).abs() <= 1e-9 * scale.max(1.0),
                    "stock s{i} at step {}: simulated {simulated}, integrated flows give {total}", step + 1
                );
                if *non_negative {
                    prop_assert!(simulated >= 0.0, "non-negative stock s{i} is {simulated} at step {}", step + 1);
                }
            }
        }
    }

    #[test]
    fn equation_parser_never_panics(text in "\\PC{0,40}") {
        let _ = carecascade_engine::expr::parse(&text);
    }

    #[test]
    fn compiler_never_panics_on_arbitrary_equations(
        a in "[a-c0-9+*/^()<>=, -]{0,24}|(DELAY1|SMOOTH N|DELAY FIXED|TREND|PULSE TRAIN|MIN|LOOKUP|INITIAL)\\([a-c0-9, ]{0,12}\\)",
        b in "[a-c0-9+*/^() -]{0,16}",
    ) {
        let model = Model::builder("fuzz")
            .add(Stock::new("a", "1").inflow("b"))
            .add(Flow::new("b", a.as_str()))
            .add(carecascade_engine::build::Aux::new("c", b.as_str()))
            .build();
        if let Ok(model) = model
            && let Ok(program) = Program::compile(&model) {
                let _ = program.run();
            }
    }

    #[test]
    fn native_reader_never_panics(text in "(\\[[a-z.\"]{0,12}\\]\n|[a-z_]{1,10} = (\"[^\"\n]{0,12}\"|[0-9.e-]{1,6}|\\[\\]|true)\n){0,8}") {
        let _ = native::parse(&text, Some("fuzz.toml"));
    }

    /// Vensim text made of the pieces its files are made of, in any order.
    #[test]
    fn vensim_reader_never_panics(
        pieces in proptest::collection::vec(
            "([a-z ]{1,6}|[a-z]\\[[a-z, !]{0,6}\\]|INTEG ?\\(|WITH LOOKUP\\(|[0-9.e-]{1,4}|[=:~|(),;\\[\\]{}\"*\\\\+-]|\n|\\\\\n|\\(a1-a[0-9]\\)|:MACRO:|->|<->|:=|TIME STEP ?= ?1 ?~~\\|)",
            0..40,
        )
    ) {
        let text = pieces.concat();
        if let Ok(model) = carecascade_engine::format::vensim::parse(&text, Some("fuzz.mdl")) {
            let _ = carecascade_engine::Program::compile(&model);
        }
    }
}
