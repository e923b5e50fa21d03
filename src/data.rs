//! Observed statistics: the published series the England model is
//! calibrated to and validated against.
//!
//! The files in the repository's `data/` directory (DfE *Children in need*,
//! *Children looked after* and *Children's social work workforce*; ONS
//! population estimates; see `data/README.md`) are embedded in the crate, so
//! `Observed::england()` works anywhere. Counts are as published (rounded to
//! the nearest 10 by DfE); a year that was not published is `None`, never
//! zero or an interpolation.
//!
//! ```
//! use carecascade::data::Observed;
//!
//! let england = Observed::england()?;
//! let looked_after = england.series("cla_at_31_march")?;
//! assert_eq!(looked_after.get(2023), Some(83_750.0));
//! // CLA starts for 2015 and 2016 were not published.
//! assert_eq!(england.series("cla_started")?.get(2015), None);
//! # Ok::<(), carecascade::Error>(())
//! ```

use crate::engine::error::{Error, Result};
use crate::engine::format::table::{Record, Records};
use crate::engine::name::{canonical_name, closest, did_you_mean};
use std::path::Path;

const ENGLAND: &str = include_str!("../data/england_national.csv");
const LOCAL_AUTHORITIES: &str = include_str!("../data/local_authorities.csv");
const WORKFORCE: &str = include_str!("../data/workforce.csv");

/// Keeps the rows of a file that belong to one place.
type RowFilter<'a> = &'a dyn Fn(&Records, &Record) -> bool;

/// Annual observed series that share one list of years.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    source: String,
    years: Vec<i32>,
    names: Vec<String>,
    /// One vector per name, one value per year.
    values: Vec<Vec<Option<f64>>>,
}

/// The local authority statistics (`data/local_authorities.csv`), read
/// once.
#[derive(Debug, Clone)]
pub struct LocalAuthorities {
    records: Records,
    code: usize,
    name: usize,
    region: usize,
}

impl LocalAuthorities {
    /// Reads the embedded file.
    ///
    /// # Errors
    ///
    /// None in practice: the file is embedded and tested.
    pub fn load() -> Result<LocalAuthorities> {
        let records = Records::parse(LOCAL_AUTHORITIES, Some("data/local_authorities.csv"))?;
        Ok(LocalAuthorities {
            code: records.column_index("la_code")?,
            name: records.column_index("la_name")?,
            region: records.column_index("region")?,
            records,
        })
    }

    /// Every authority that appears in any year: (code, name, region).
    /// Boundary changes (Bournemouth, Christchurch and Poole in 2019; the
    /// Northamptonshire, Cumbria, North Yorkshire and Somerset
    /// reorganisations) mean codes come and go, so there are more codes than
    /// authorities in any one year.
    pub fn list(&self) -> Vec<(String, String, String)> {
        let mut out: Vec<(String, String, String)> = Vec::new();
        for r in &self.records.rows {
            if !out.iter().any(|(c, _, _)| *c == r.cells[self.code]) {
                out.push((
                    r.cells[self.code].clone(),
                    r.cells[self.name].clone(),
                    r.cells[self.region].clone(),
                ));
            }
        }
        out
    }

    /// One authority's series, by ONS code or name.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the closest authority if there is no such
    /// authority.
    pub fn get(&self, code_or_name: &str) -> Result<Observed> {
        let wanted = canonical_name(code_or_name);
        let matches = |r: &Record| {
            canonical_name(&r.cells[self.code]) == wanted
                || canonical_name(&r.cells[self.name]) == wanted
        };
        if !self.records.rows.iter().any(matches) {
            let names: Vec<&str> = self
                .records
                .rows
                .iter()
                .map(|r| r.cells[self.name].as_str())
                .collect();
            return Err(Error::Invalid {
                what: "local authority".into(),
                message: format!(
                    "no local authority `{code_or_name}` in data/local_authorities.csv{}",
                    did_you_mean(closest(code_or_name, names))
                ),
            });
        }
        let keep = |_: &Records, r: &Record| matches(r);
        Observed::from_records(
            &self.records,
            "data/local_authorities.csv",
            "year",
            Some(&keep),
        )
    }
}

/// One observed series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Series<'a> {
    name: &'a str,
    years: &'a [i32],
    values: &'a [Option<f64>],
}

impl<'a> Series<'a> {
    /// The series' name (its column in the data file).
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The value for a year, if one was published.
    pub fn get(&self, year: i32) -> Option<f64> {
        self.years
            .iter()
            .position(|&y| y == year)
            .and_then(|i| self.values[i])
    }

    /// Every year with its value (`None` where not published).
    pub fn iter(&self) -> impl Iterator<Item = (i32, Option<f64>)> + 'a {
        self.years.iter().copied().zip(self.values.iter().copied())
    }

    /// The years with published values.
    pub fn observed(&self) -> impl Iterator<Item = (i32, f64)> + 'a {
        self.iter().filter_map(|(y, v)| v.map(|v| (y, v)))
    }
}

impl Observed {
    /// England, reporting years ending 31 March 2013-2023
    /// (`data/england_national.csv`).
    ///
    /// # Errors
    ///
    /// None in practice: the file is embedded and tested.
    pub fn england() -> Result<Observed> {
        Observed::parse(ENGLAND, "data/england_national.csv", "year", None)
    }

    /// The child and family social work workforce in England, years to 30
    /// September 2017-2022 (the national rows of `data/workforce.csv`).
    ///
    /// # Errors
    ///
    /// None in practice: the file is embedded and tested.
    pub fn england_workforce() -> Result<Observed> {
        Observed::parse(
            WORKFORCE,
            "data/workforce.csv",
            "year_to_30_september",
            Some(&|records: &Records, r: &Record| {
                records
                    .column_index("geographic_level")
                    .map(|c| r.cells[c] == "National")
                    .unwrap_or(false)
            }),
        )
    }

    /// One local authority's child and family social work workforce, by
    /// its ONS code (`E08000035`), years to 30 September 2017-2022 (the
    /// authority's rows of `data/workforce.csv`).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the file has no rows for that code.
    pub fn local_workforce(code: &str) -> Result<Observed> {
        let wanted = canonical_name(code);
        let observed = Observed::parse(
            WORKFORCE,
            "data/workforce.csv",
            "year_to_30_september",
            Some(&|records: &Records, r: &Record| {
                records
                    .column_index("la_code")
                    .map(|c| canonical_name(&r.cells[c]) == wanted)
                    .unwrap_or(false)
            }),
        )?;
        if observed.years().is_empty() {
            return Err(Error::Invalid {
                what: "workforce".into(),
                message: format!("data/workforce.csv has no rows for `{code}`"),
            });
        }
        Ok(observed)
    }

    /// One local authority, by its ONS code (`E09000002`) or its name
    /// (`Barking and Dagenham`). To look up many, load
    /// [`LocalAuthorities`] once.
    ///
    /// # Errors
    ///
    /// As [`LocalAuthorities::get`].
    pub fn local_authority(code_or_name: &str) -> Result<Observed> {
        LocalAuthorities::load()?.get(code_or_name)
    }

    /// Reads observed series from a CSV file with one row per year, the year
    /// in `year_column` (for example the `--data` file of a calibration).
    /// Columns that are not numbers (names, codes) are left out.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read; [`Error::File`] naming the
    /// line and column of a bad year or a repeated year.
    pub fn load(path: impl AsRef<Path>, year_column: &str) -> Result<Observed> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Observed::parse(&text, &path.display().to_string(), year_column, None)
    }

    fn parse(
        text: &str,
        source: &str,
        year_column: &str,
        keep: Option<RowFilter<'_>>,
    ) -> Result<Observed> {
        let records = Records::parse(text, Some(source))?;
        Observed::from_records(&records, source, year_column, keep)
    }

    fn from_records(
        records: &Records,
        source: &str,
        year_column: &str,
        keep: Option<RowFilter<'_>>,
    ) -> Result<Observed> {
        let year_index = records.column_index(year_column)?;
        let rows: Vec<&Record> = records
            .rows
            .iter()
            .filter(|r| keep.is_none_or(|k| k(records, r)))
            .collect();
        let mut years = Vec::with_capacity(rows.len());
        for r in &rows {
            let year = records.number(r, year_index, &r.cells[year_index])?;
            match year {
                Some(y)
                    if y.fract() == 0.0
                        && (1900.0..2200.0).contains(&y)
                        && !years.contains(&(y as i32)) =>
                {
                    years.push(y as i32)
                }
                _ => {
                    return Err(Error::File {
                        location: crate::engine::error::Location {
                            file: Some(source.into()),
                            line: r.line,
                            column: 1,
                        },
                        message: format!(
                            "`{}` in column `{year_column}` is not a year, or repeats one",
                            r.cells[year_index]
                        ),
                    });
                }
            }
        }
        // Numeric columns only: a column with any text cell (a name, a code,
        // `first_published`) is not a series.
        let mut names = Vec::new();
        let mut values = Vec::new();
        for (c, header) in records.headers.iter().enumerate() {
            if c == year_index {
                continue;
            }
            let column: Option<Vec<Option<f64>>> = rows
                .iter()
                .map(|r| records.number(r, c, &r.cells[c]).ok())
                .collect();
            if let Some(column) = column {
                names.push(header.clone());
                values.push(column);
            }
        }
        Ok(Observed {
            source: source.to_string(),
            years,
            names,
            values,
        })
    }

    /// Where the data came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The years, in file order.
    pub fn years(&self) -> &[i32] {
        &self.years
    }

    /// The series' names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// One series by name.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the closest series if there is none of
    /// that name.
    pub fn series(&self, name: &str) -> Result<Series<'_>> {
        let wanted = canonical_name(name);
        match self.names.iter().position(|n| canonical_name(n) == wanted) {
            Some(i) => Ok(Series {
                name: &self.names[i],
                years: &self.years,
                values: &self.values[i],
            }),
            None => Err(Error::Invalid {
                what: "observed series".into(),
                message: format!(
                    "{} has no series `{name}`{}",
                    self.source,
                    did_you_mean(closest(name, self.names.iter().map(String::as_str)))
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn england_has_the_published_figures() {
        let e = Observed::england().unwrap();
        assert_eq!(e.years(), (2013..=2023).collect::<Vec<_>>());
        assert_eq!(
            e.series("cin_at_31_march").unwrap().get(2023),
            Some(403_090.0)
        );
        assert_eq!(
            e.series("cpp_at_31_march").unwrap().get(2013),
            Some(43_140.0)
        );
        assert_eq!(e.series("referrals").unwrap().get(2014), Some(657_780.0));
        // Not published: missing, not zero.
        assert_eq!(e.series("cla_started").unwrap().get(2016), None);
        assert_eq!(e.series("cla_started_uasc").unwrap().observed().count(), 3);
        // The text column `cla_series` is not a series.
        let err = e.series("cla_series").unwrap_err().to_string();
        assert!(err.contains("has no series `cla_series`"), "{err}");
        let err = e.series("cla_at_31_mrach").unwrap_err().to_string();
        assert!(err.contains("did you mean `cla_at_31_march`"), "{err}");
    }

    #[test]
    fn workforce_is_national_only() {
        let w = Observed::england_workforce().unwrap();
        assert_eq!(w.years(), (2017..=2022).collect::<Vec<_>>());
        // MODEL.md: 16.6 cases per case-holding FTE and 31,634 FTE at 30 September 2022.
        assert_eq!(w.series("caseload_fte").unwrap().get(2022), Some(16.6));
        assert!((w.series("inpost_fte").unwrap().get(2022).unwrap() - 31_634.0).abs() < 1.0);
    }

    #[test]
    fn local_authorities_add_up_to_england() {
        let local = LocalAuthorities::load().unwrap();
        let authorities = local.list();
        assert!(
            (150..170).contains(&authorities.len()),
            "{}",
            authorities.len()
        );
        let mut codes: Vec<&String> = authorities.iter().map(|(c, _, _)| c).collect();
        codes.dedup();
        assert_eq!(codes.len(), authorities.len());
        let england = Observed::england().unwrap();
        let each: Vec<Observed> = authorities
            .iter()
            .map(|(code, _, _)| local.get(code).unwrap())
            .collect();
        for (year, series) in [
            (2018, "cin_at_31_march"),
            (2023, "cin_at_31_march"),
            (2023, "cla_at_31_march"),
            (2023, "referrals"),
        ] {
            let sum: f64 = each
                .iter()
                .filter_map(|o| o.series(series).unwrap().get(year))
                .sum();
            let national = england.series(series).unwrap().get(year).unwrap();
            assert!(
                (sum / national - 1.0).abs() < 1e-4,
                "{series} {year}: {sum} vs {national}"
            );
        }
    }

    #[test]
    fn local_authorities_by_code_or_name() {
        let by_code = Observed::local_authority("E09000002").unwrap();
        let by_name = Observed::local_authority("barking and dagenham").unwrap();
        assert_eq!(by_code, by_name);
        assert_eq!(by_code.series("referrals").unwrap().get(2013), Some(2586.0));
        let err = Observed::local_authority("Barking and Dagnham")
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `Barking and Dagenham`"), "{err}");
    }
}
