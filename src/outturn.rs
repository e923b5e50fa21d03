//! Spend against outturn: the England model's spend by line against the
//! councils' 2022-23 outturn (MHCLG RO3), and the published unit costs
//! beside the model's in one price base (2022-23 prices, with HM
//! Treasury's GDP deflator in `data/deflators.csv`).
//!
//! `carecascade validate` writes both tables into `docs/validation.md`;
//! the test suite checks that every line is within [`TOLERANCE`] of its
//! outturn, so a change of placement mix or of a unit cost that moves the
//! model's money away from what councils spent does not pass unnoticed.

use crate::Program;
use crate::engine::error::{Error, Result};
use crate::engine::model::Model;
use crate::engine::projection::Projection;
use std::fmt::Write;

/// HM Treasury's GDP deflator by financial year (2022-23 = 100), as
/// shipped in `data/deflators.csv` (see `data/README.md` for its source
/// and how it was transcribed).
pub const DEFLATORS_CSV: &str = include_str!("../data/deflators.csv");

/// The year whose prices the model's money is in.
pub const PRICE_BASE: &str = "2022-23";

/// How far (as a fraction) a spend line may be from its outturn.
pub const TOLERANCE: f64 = 0.03;

/// A price index by financial year (`"2016-17"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Deflators {
    years: Vec<(String, f64)>,
}

impl Deflators {
    /// The deflators shipped with the crate ([`DEFLATORS_CSV`]).
    ///
    /// # Panics
    ///
    /// Never for the shipped file (the test suite parses it).
    pub fn shipped() -> Deflators {
        Deflators::parse(DEFLATORS_CSV, "data/deflators.csv")
            .expect("the shipped deflators parse (checked by the test suite)")
    }

    /// Reads a `year,index` CSV with a header; `file` names it in errors.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the file and line for a row that is not a
    /// financial year (`2016-17`) and a positive finite index, a repeated
    /// year, or a file without [`PRICE_BASE`].
    pub fn parse(text: &str, file: &str) -> Result<Deflators> {
        let mut years: Vec<(String, f64)> = Vec::new();
        for (number, line) in text.lines().enumerate().skip(1) {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let bad = |what: &str| Error::Invalid {
                what: format!("deflator in {file}, line {}", number + 1),
                message: format!("{what} (expected `YYYY-YY,index`, e.g. `2016-17,84.3`)"),
            };
            let (year, index) = line.split_once(',').ok_or_else(|| bad("no comma"))?;
            let year = year.trim();
            let financial = year.len() == 7
                && year.as_bytes()[4] == b'-'
                && year[..4].parse::<u32>().is_ok()
                && year[5..]
                    .parse::<u32>()
                    .is_ok_and(|end| year[..4].parse::<u32>().is_ok_and(|y| (y + 1) % 100 == end));
            if !financial {
                return Err(bad(&format!("`{year}` is not a financial year")));
            }
            let index: f64 = index
                .trim()
                .parse()
                .map_err(|_| bad(&format!("`{}` is not a number", index.trim())))?;
            if !(index.is_finite() && index > 0.0) {
                return Err(bad("the index must be positive"));
            }
            if years.iter().any(|(y, _)| y == year) {
                return Err(bad(&format!("{year} appears twice")));
            }
            years.push((year.to_string(), index));
        }
        let deflators = Deflators { years };
        if deflators.index(PRICE_BASE).is_none() {
            return Err(Error::Invalid {
                what: format!("deflators in {file}"),
                message: format!("no row for {PRICE_BASE}, the model's price base"),
            });
        }
        Ok(deflators)
    }

    /// The index of a financial year, if the file has it.
    pub fn index(&self, year: &str) -> Option<f64> {
        self.years.iter().find(|(y, _)| y == year).map(|(_, i)| *i)
    }

    /// `value`, in `year`'s prices, in [`PRICE_BASE`] prices.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the year and the years there are when the
    /// file has no index for it.
    pub fn to_base(&self, value: f64, year: &str) -> Result<f64> {
        let base = self.index(PRICE_BASE).unwrap_or(100.0);
        let index = self.index(year).ok_or_else(|| Error::Invalid {
            what: format!("price year {year}"),
            message: format!(
                "no deflator for it: data/deflators.csv has {}",
                self.years
                    .iter()
                    .map(|(y, _)| y.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        Ok(value * base / index)
    }
}

/// One line of the RO3 outturn and the model's indicator for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutturnLine {
    /// The RO3 line(s).
    pub line: &'static str,
    /// The model's indicator (a `spend_*_m` column of a projection).
    pub column: &'static str,
    /// Gross outturn, 2022-23, £m cash (MODEL.md).
    pub outturn_m: f64,
    /// What the model counts in it.
    pub model_counts: &'static str,
}

/// The RO3 2022-23 lines the model's spend maps to, without double
/// counting: the first three make up children looked after.
pub const RO3_2022_23: &[OutturnLine] = &[
    OutturnLine {
        line: "residential care",
        column: "spend_residential_m",
        outturn_m: 2680.0,
        model_counts: "children's homes and other residential settings, secure children's homes",
    },
    OutturnLine {
        line: "fostering services",
        column: "spend_fostering_m",
        outturn_m: 1830.0,
        model_counts: "kinship, in-house and agency foster care",
    },
    OutturnLine {
        line: "other children looked after and unaccompanied asylum-seeking children",
        column: "spend_other_looked_after_m",
        outturn_m: 2420.0,
        model_counts: "supported accommodation, other placements, leaving-care support and other services per child looked after (the residual: matched by construction)",
    },
    OutturnLine {
        line: "children looked after (total)",
        column: "spend_looked_after_m",
        outturn_m: 6940.0,
        model_counts: "the three lines above",
    },
    OutturnLine {
        line: "safeguarding children and young people's services",
        column: "spend_safeguarding_m",
        outturn_m: 3160.0,
        model_counts: "social workers (employed and agency), services for children in need and on plans, assessments",
    },
    OutturnLine {
        line: "family support, Sure Start children's centres, services for young people",
        column: "spend_early_help_m",
        outturn_m: 2850.0,
        model_counts: "prevention spend (its 2022-23 level is this outturn)",
    },
];

/// A unit cost as published, and the model parameter it informs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedCost {
    /// What is costed.
    pub item: &'static str,
    /// Where the figure is published.
    pub source: &'static str,
    /// The financial year of its prices.
    pub price_year: &'static str,
    /// The published figure, in `price_year`'s prices.
    pub published: f64,
    /// The model constant it informs (same unit).
    pub parameter: &'static str,
}

/// The published unit costs the model's money rests on (MODEL.md).
pub const PUBLISHED_COSTS: &[PublishedCost] = &[
    PublishedCost {
        item: "in-house foster care, per child-week",
        source: "PSSRU unit costs 2017",
        price_year: "2016-17",
        published: 646.0,
        parameter: "weekly placement cost[in house foster]",
    },
    PublishedCost {
        item: "agency foster care, per child-week",
        source: "CMA children's social care market study (2022)",
        price_year: "2019-20",
        published: 820.0,
        parameter: "weekly placement cost[agency foster]",
    },
    PublishedCost {
        item: "children's home, per child-week",
        source: "CMA children's social care market study (2022)",
        price_year: "2019-20",
        published: 3830.0,
        parameter: "weekly placement cost[childrens home]",
    },
    PublishedCost {
        item: "secure children's home, per child-week (about £210,000 a year)",
        source: "MODEL.md (2018)",
        price_year: "2018-19",
        published: 210_000.0 / 52.0,
        parameter: "weekly placement cost[secure]",
    },
    PublishedCost {
        item: "intensive family support, per closed case (low end)",
        source: "Scotland, 2008 (MODEL.md)",
        price_year: "2008-09",
        published: 15_500.0,
        parameter: "edge of care cost per child",
    },
    PublishedCost {
        item: "intensive family support, per closed case (high end)",
        source: "Scotland, 2008 (MODEL.md)",
        price_year: "2008-09",
        published: 23_000.0,
        parameter: "edge of care cost per child",
    },
];

/// The model's spend on one RO3 line in a year.
#[derive(Debug, Clone, PartialEq)]
pub struct OutturnCheck {
    /// The RO3 line.
    pub line: OutturnLine,
    /// The model's spend in the year, £m at 2022-23 prices.
    pub model_m: f64,
}

impl OutturnCheck {
    /// The model's spend relative to the outturn, minus one.
    pub fn difference(&self) -> f64 {
        self.model_m / self.line.outturn_m - 1.0
    }
}

/// Each RO3 line against the model's spend in the year to 31 March
/// `year` of `projection` (2023 for 2022-23).
///
/// # Errors
///
/// [`Error::Invalid`] naming the column when the projection lacks a spend
/// column or the year.
pub fn against_outturn(projection: &Projection, year: i32) -> Result<Vec<OutturnCheck>> {
    RO3_2022_23
        .iter()
        .map(|line| {
            let model_m = projection
                .get(line.column, year)
                .ok_or_else(|| Error::Invalid {
                    what: format!("spend line `{}`", line.column),
                    message: format!("the projection has no value for the year to 31 March {year}"),
                })?;
            Ok(OutturnCheck {
                line: *line,
                model_m,
            })
        })
        .collect()
}

/// A published unit cost in 2022-23 prices beside the model's value.
#[derive(Debug, Clone, PartialEq)]
pub struct CostCheck {
    /// The published cost.
    pub cost: PublishedCost,
    /// It in 2022-23 prices.
    pub in_base_prices: f64,
    /// The model's value of [`PublishedCost::parameter`].
    pub model: f64,
}

/// Every [`PUBLISHED_COSTS`] entry in 2022-23 prices beside `model`'s
/// value.
///
/// # Errors
///
/// The model's compile errors; [`Error::Parameter`] if it lacks a
/// parameter; a missing deflator.
pub fn costs(model: &Model, deflators: &Deflators) -> Result<Vec<CostCheck>> {
    let program = Program::compile(model)?;
    let state = program.state();
    PUBLISHED_COSTS
        .iter()
        .map(|cost| {
            Ok(CostCheck {
                cost: *cost,
                in_base_prices: deflators.to_base(cost.published, cost.price_year)?,
                model: state.param(program.parameter(cost.parameter)?)?,
            })
        })
        .collect()
}

fn pounds(v: f64) -> String {
    format!("£{}", crate::engine::chart::thousands(v))
}

/// The two tables as Markdown: spend by RO3 line in `year`, and the
/// published costs in 2022-23 prices.
pub fn to_markdown(checks: &[OutturnCheck], costs: &[CostCheck], year: i32) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "The model's spend in the year to 31 March {year}, run from 2013 with the calibrated values, against the councils' 2022-23 outturn (MHCLG RO3, gross, cash: 2022-23 prices), line by line. The target is within {:.0}% on every line.\n",
        100.0 * TOLERANCE
    );
    out.push_str("| RO3 line | outturn | model | difference | the model counts |\n|---|---:|---:|---:|---|\n");
    for c in checks {
        let _ = writeln!(
            out,
            "| {} | {}m | {}m | {:+.1}% | {} |",
            c.line.line,
            pounds(c.line.outturn_m),
            pounds(c.model_m),
            100.0 * c.difference(),
            c.line.model_counts
        );
    }
    let _ = writeln!(
        out,
        "\nPublished unit costs in {PRICE_BASE} prices (HM Treasury GDP deflator, data/deflators.csv) beside the model's. Where the two differ, the outturn above set the model's value: the published fostering costs are full costs, with overheads that RO3 counts on other lines, and at them fostering would be well above what councils spent; children's home prices have risen fast since the CMA's 2019-20 average, and at it residential care would be well below its outturn.\n"
    );
    out.push_str("| cost | source | published | in 2022-23 prices | model (`parameter`) |\n|---|---|---:|---:|---:|\n");
    for c in costs {
        let _ = writeln!(
            out,
            "| {} | {} | {} ({}) | {} | {} (`{}`) |",
            c.cost.item,
            c.cost.source,
            pounds(c.cost.published),
            c.cost.price_year,
            pounds(c.in_base_prices),
            pounds(c.model),
            c.cost.parameter
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_deflators_parse_and_convert() {
        let d = Deflators::shipped();
        assert_eq!(d.index(PRICE_BASE), Some(100.0));
        let v = d.to_base(646.0, "2016-17").unwrap();
        assert!((v - 646.0 * 100.0 / 84.3).abs() < 1e-9, "{v}");
        assert_eq!(d.to_base(5.0, PRICE_BASE).unwrap(), 5.0);
        let e = d.to_base(1.0, "1999-00").unwrap_err().to_string();
        assert!(e.contains("1999-00") && e.contains("2016-17"), "{e}");
    }

    #[test]
    fn bad_deflator_files_are_refused_with_the_line() {
        for (text, expected) in [
            ("year,i\n2016-17,84\n2016-18,80\n", "line 3"),
            ("year,i\n2022-23,100\n2016,84\n", "not a financial year"),
            ("year,i\n2022-23,abc\n", "not a number"),
            ("year,i\n2022-23,-1\n", "positive"),
            ("year,i\n2022-23,100\n2022-23,100\n", "twice"),
            ("year,i\n2016-17,84\n", "no row for 2022-23"),
        ] {
            let e = Deflators::parse(text, "d.csv").unwrap_err().to_string();
            assert!(e.contains(expected) && e.contains("d.csv"), "{text:?}: {e}");
        }
    }

    #[test]
    fn the_lines_of_children_looked_after_add_up_to_its_total() {
        let part = |c: &str| {
            RO3_2022_23
                .iter()
                .find(|l| l.column == c)
                .unwrap()
                .outturn_m
        };
        let sum = part("spend_residential_m")
            + part("spend_fostering_m")
            + part("spend_other_looked_after_m");
        assert!((sum - part("spend_looked_after_m")).abs() < 20.0, "{sum}");
    }
}
