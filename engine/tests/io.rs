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

/// A result folder with subfolders is written as one set: replaced whole
/// by the next set, refused if it holds anything else, and left as it was
/// by a writer that does not finish.
#[test]
fn sets_of_files_in_subfolders_are_written_whole() {
    use carecascade_engine::format::{SetWriter, write_set};
    let root = std::env::temp_dir().join(format!("carecascade-sets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("results");
    let names = ["index.csv", "E08000035/runs.csv", "E08000035/deep/x.json"];
    let write = |text: &str| {
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (*n, text.as_bytes())).collect();
        write_set(&dir, &files)
    };
    let written = write("one").unwrap();
    assert_eq!(written[1], dir.join("E08000035/runs.csv"));
    write("two").unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("E08000035/deep/x.json")).unwrap(),
        "two"
    );
    // A file the set does not name, in a subfolder: refused, nothing changed.
    std::fs::write(dir.join("E08000035/notes.txt"), "mine").unwrap();
    let err = write("three").unwrap_err().to_string();
    assert!(
        err.contains("`E08000035/notes.txt`") && err.contains("refusing to replace"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("index.csv")).unwrap(),
        "two"
    );
    std::fs::remove_file(dir.join("E08000035/notes.txt")).unwrap();
    // One file at a time; unfinished, nothing changes; names are checked.
    let mut set = SetWriter::new(&dir, &names).unwrap();
    set.add("index.csv", b"four").unwrap();
    assert!(set.add("index.csv", b"again").is_err());
    assert!(set.add("other.csv", b"x").is_err());
    drop(set);
    assert_eq!(
        std::fs::read_to_string(dir.join("index.csv")).unwrap(),
        "two"
    );
    // A set that does not name every file there: refused before writing.
    let err = SetWriter::new(&dir, &names[..2]).unwrap_err().to_string();
    assert!(err.contains("`E08000035/deep`"), "{err}");
    let mut set = SetWriter::new(&dir, &names).unwrap();
    set.add("index.csv", b"five").unwrap();
    let written = set.finish().unwrap();
    assert_eq!(written, [dir.join("index.csv")]);
    assert!(
        !dir.join("E08000035").exists(),
        "the new set replaced the old one whole"
    );
    for bad in ["../escape.csv", "/abs.csv", "a//b.csv", "./a.csv", ""] {
        let err = write_set(root.join("bad"), &[(bad, b"x".as_slice())])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("must be a relative path inside the set's folder"),
            "{bad}: {err}"
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}
