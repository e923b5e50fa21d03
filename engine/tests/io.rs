//! Writing and reading files: markup characters through XMILE, and a run's
//! CSV read back as a table.

use carecascade_engine::build::{Aux, Constant, Flow, Stock};
use carecascade_engine::format::table::Table;
use carecascade_engine::format::xmile;
use carecascade_engine::{Model, Program};

/// A model whose names, units and documentation hold `&`, `<`, `>` and `'`.
fn markup_model() -> Model {
    Model::builder("Costs & <benefits>")
        .add(
            Stock::new("R&D <pilot>", "10")
                .inflow("children's referrals")
                .units("children & families")
                .doc("Cases where a < b && c > 'd'"),
        )
        .add(
            Flow::new("children's referrals", r#""rate > 0 & co" * "R&D <pilot>""#)
                .units("children/year"),
        )
        .add(Constant::new("rate > 0 & co", 0.1).doc("The <rate> & \"more\""))
        .add(Constant::new("cost, \"per child\"", 2.5))
        .add(Aux::new(
            "plain",
            r#"IF "R&D <pilot>" < 20 AND "R&D <pilot>" > 5 THEN 1 ELSE 0"#,
        ))
        .build()
        .unwrap()
}

#[test]
fn xmile_round_trips_names_with_ampersands_and_angle_brackets() {
    let model = markup_model();
    let text = xmile::write(&model);
    assert!(
        text.contains("<name>Costs &amp; &lt;benefits&gt;</name>"),
        "{text}"
    );
    assert!(
        text.contains("<stock name=\"R&amp;D &lt;pilot&gt;\">"),
        "{text}"
    );
    assert!(text.contains("name=\"children&#39;s referrals\""), "{text}");
    let again = xmile::parse(&text, Some("markup.xmile")).unwrap();
    assert_eq!(again.name(), model.name());
    for v in model.variables() {
        let w = again
            .variable(v.name())
            .unwrap_or_else(|| panic!("`{}` lost in {text}", v.name()));
        assert_eq!(w.name(), v.name());
        assert_eq!(w.doc(), v.doc());
        assert_eq!(w.units_text(), v.units_text());
    }
    let first = Program::compile(&model).unwrap().run().unwrap();
    let second = Program::compile(&again).unwrap().run().unwrap();
    for name in first.names() {
        assert_eq!(first.series(name), second.series(name), "{name}");
    }
    // Written again, the same document.
    assert_eq!(xmile::write(&again), text);
}

#[test]
fn a_runs_csv_reads_back_as_the_same_table() {
    let model = markup_model();
    let results = Program::compile(&model).unwrap().run().unwrap();
    let csv = results.to_csv();
    assert!(
        csv.starts_with(
            "Time,R&D <pilot>,children's referrals,plain,rate > 0 & co,\"cost, \"\"per child\"\"\"\n0,10,1,1,0.1,2.5\n"
        ),
        "{csv}"
    );
    let table = Table::parse(&csv, Some("run.csv")).unwrap();
    assert_eq!(table.headers()[0], "Time");
    assert_eq!(&table.headers()[1..], results.names());
    assert_eq!(table.rows().len(), results.times().len());
    for (row, (t, values)) in table
        .rows()
        .iter()
        .zip(results.times().iter().zip(results.values().rows()))
    {
        assert_eq!(row[0], Some(*t));
        let values: Vec<Option<f64>> = values.iter().map(|v| Some(*v)).collect();
        assert_eq!(row[1..], values[..]);
    }
    let mut written = Vec::new();
    results.write_csv(&mut written).unwrap();
    assert_eq!(String::from_utf8(written).unwrap(), csv);
}
