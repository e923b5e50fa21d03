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

/// `data/england_national.csv`, embedded.
pub const ENGLAND: &str = include_str!("../data/england_national.csv");
/// `data/local_authorities.csv`, embedded.
pub const LOCAL_AUTHORITIES: &str = include_str!("../data/local_authorities.csv");
/// `data/workforce.csv`, embedded.
pub const WORKFORCE: &str = include_str!("../data/workforce.csv");

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

/// A reorganisation of local government in England that changed which ONS
/// codes publish children's social care figures: the predecessor codes
/// stopped, the successor codes started (see [`BOUNDARY_CHANGES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundaryChange {
    /// The day the successors took over (`1 April 2021`).
    pub date: &'static str,
    /// The first reporting year (ending 31 March) the successors publish
    /// for: the year after `date`.
    pub first_year: i32,
    /// The codes (and names) that stopped: (ONS code, name).
    pub predecessors: &'static [(&'static str, &'static str)],
    /// The codes (and names) that took over: (ONS code, name).
    pub successors: &'static [(&'static str, &'static str)],
    /// What changed, in words.
    pub note: &'static str,
}

impl BoundaryChange {
    /// Whether the change only renamed one authority's code (one
    /// predecessor, one successor, the same area for children's services):
    /// the two codes' figures are then one authority's series.
    pub fn is_code_change(&self) -> bool {
        self.predecessors.len() == 1 && self.successors.len() == 1
    }
}

/// Every boundary or code change behind the codes of
/// `data/local_authorities.csv`, 2013-2023, checked against the file by
/// the tests (which codes publish in which years):
///
/// | from (first year) | predecessors | successors | in the file |
/// |---|---|---|---|
/// | 1 April 2013 (2013) | Gateshead E08000020 | Gateshead E08000037 | the old code's rows 2013-2019 carry no stocks; the new code has every year |
/// | 1 April 2013 (2013) | Northumberland E06000048 | Northumberland E06000057 | as Gateshead |
/// | 1 April 2019 (2020) | Bournemouth E06000028, Poole E06000029, Dorset county E10000009 | Bournemouth, Christchurch and Poole E06000058, Dorset E06000059 | predecessors 2013-2019, successors 2020-2023 |
/// | 1 April 2020 (2021) | Buckinghamshire county E10000002 | Buckinghamshire E06000060 | 2013-2020, then 2021-2023 |
/// | 1 April 2021 (2022) | Northamptonshire E10000021 | North Northamptonshire E06000061, West Northamptonshire E06000062 | predecessor to 2021; successors 2022-2023 (their 2021 rows are empty) |
/// | 1 April 2023 (2024) | Cumbria E10000006 | Cumberland E06000063, Westmorland and Furness E06000064 | Cumbria to 2023; the successors' rows are empty |
/// | 1 April 2023 (2024) | North Yorkshire county E10000023 | North Yorkshire E06000065 | children looked after 2021-2023 under the new code, everything else under the old |
/// | 1 April 2023 (2024) | Somerset county E10000027 | Somerset E06000066 | as North Yorkshire |
pub const BOUNDARY_CHANGES: &[BoundaryChange] = &[
    BoundaryChange {
        date: "1 April 2013",
        first_year: 2013,
        predecessors: &[("E08000020", "Gateshead")],
        successors: &[("E08000037", "Gateshead")],
        note: "a new code after a small boundary change with Northumberland",
    },
    BoundaryChange {
        date: "1 April 2013",
        first_year: 2013,
        predecessors: &[("E06000048", "Northumberland")],
        successors: &[("E06000057", "Northumberland")],
        note: "a new code after a small boundary change with Gateshead",
    },
    BoundaryChange {
        date: "1 April 2019",
        first_year: 2020,
        predecessors: &[
            ("E06000028", "Bournemouth"),
            ("E06000029", "Poole"),
            ("E10000009", "Dorset"),
        ],
        successors: &[
            ("E06000058", "Bournemouth, Christchurch and Poole"),
            ("E06000059", "Dorset"),
        ],
        note: "Bournemouth, Poole and Christchurch (from Dorset county) became one unitary authority; the rest of Dorset county became Dorset",
    },
    BoundaryChange {
        date: "1 April 2020",
        first_year: 2021,
        predecessors: &[("E10000002", "Buckinghamshire")],
        successors: &[("E06000060", "Buckinghamshire")],
        note: "the county became a unitary authority over the same area",
    },
    BoundaryChange {
        date: "1 April 2021",
        first_year: 2022,
        predecessors: &[("E10000021", "Northamptonshire")],
        successors: &[
            ("E06000061", "North Northamptonshire"),
            ("E06000062", "West Northamptonshire"),
        ],
        note: "the county was split into two unitary authorities",
    },
    BoundaryChange {
        date: "1 April 2023",
        first_year: 2024,
        predecessors: &[("E10000006", "Cumbria")],
        successors: &[
            ("E06000063", "Cumberland"),
            ("E06000064", "Westmorland and Furness"),
        ],
        note: "the county was split into two unitary authorities",
    },
    BoundaryChange {
        date: "1 April 2023",
        first_year: 2024,
        predecessors: &[("E10000023", "North Yorkshire")],
        successors: &[("E06000065", "North Yorkshire")],
        note: "the county became a unitary authority over the same area; DfE already publishes its children looked after 2021-2023 under the new code",
    },
    BoundaryChange {
        date: "1 April 2023",
        first_year: 2024,
        predecessors: &[("E10000027", "Somerset")],
        successors: &[("E06000066", "Somerset")],
        note: "the county became a unitary authority over the same area; DfE already publishes its children looked after 2021-2023 under the new code",
    },
];

/// A current local authority (see [`LocalAuthorities::current`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// Its ONS code (the newest, after a code change).
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its region.
    pub region: String,
    /// Its earlier codes for the same area ([`BoundaryChange::is_code_change`]),
    /// whose figures are its own.
    pub earlier_codes: Vec<String>,
}

/// A figure of an authority for a year before it existed, apportioned from
/// the authorities it replaced ([`LocalAuthorities::apportioned`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Apportioned {
    /// The series (column of `data/local_authorities.csv`).
    pub series: String,
    /// The reporting year.
    pub year: i32,
    /// The figure apportioned to the authority: the predecessors' total
    /// times `share`.
    pub value: f64,
    /// Every predecessor with its figure for the year: (code, name,
    /// figure).
    pub predecessors: Vec<(String, String, f64)>,
    /// The years, from the change up to the last year used, in which
    /// every successor published the series: the share is taken over
    /// them together.
    pub share_years: Vec<i32>,
    /// The authority's share of the successors' total of the series in
    /// `share_years`.
    pub share: f64,
}

/// The local authority statistics (`data/local_authorities.csv`), read
/// once.
#[derive(Debug, Clone)]
pub struct LocalAuthorities {
    records: Records,
    code: usize,
    name: usize,
    region: usize,
    year: usize,
    /// The columns that are not figures (year, code, name, region).
    text_columns: Vec<usize>,
    /// See [`LocalAuthorities::latest_year`].
    latest_year: i32,
    /// See [`LocalAuthorities::current`].
    current: Vec<Authority>,
}

impl LocalAuthorities {
    /// Reads the embedded file.
    ///
    /// # Errors
    ///
    /// None in practice: the file is embedded and tested.
    pub fn load() -> Result<LocalAuthorities> {
        let records = Records::parse(LOCAL_AUTHORITIES, Some("data/local_authorities.csv"))?;
        let code = records.column_index("la_code")?;
        let name = records.column_index("la_name")?;
        let region = records.column_index("region")?;
        let year = records.column_index("year")?;
        let mut table = LocalAuthorities {
            code,
            name,
            region,
            year,
            text_columns: vec![year, code, name, region],
            records,
            latest_year: 0,
            current: Vec::new(),
        };
        table.latest_year = table.find_latest_year();
        table.current = table.find_current();
        Ok(table)
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

    /// The last reporting year in which any authority published a figure
    /// (2023).
    pub fn latest_year(&self) -> i32 {
        self.latest_year
    }

    fn find_latest_year(&self) -> i32 {
        self.records
            .rows
            .iter()
            .filter(|r| self.publishes_in(r))
            .filter_map(|r| r.cells[self.year].parse::<i32>().ok())
            .max()
            .unwrap_or(0)
    }

    /// Whether a row holds any published figure (the file has empty rows
    /// for codes in years they did not publish).
    fn publishes_in(&self, r: &Record) -> bool {
        r.cells
            .iter()
            .enumerate()
            .any(|(c, v)| !self.text_columns.contains(&c) && !v.trim().is_empty())
    }

    /// The first year in which any authority published `column`
    /// (`cla_at_31_march`: 2021), or `None` for no such column or year.
    pub fn first_published_year(&self, column: &str) -> Option<i32> {
        let c = self.records.column_index(column).ok()?;
        self.records
            .rows
            .iter()
            .filter(|r| !r.cells[c].trim().is_empty())
            .filter_map(|r| r.cells[self.year].parse::<i32>().ok())
            .min()
    }

    /// The years in which `code` published any figure.
    pub fn published_years(&self, code: &str) -> Vec<i32> {
        self.records
            .rows
            .iter()
            .filter(|r| r.cells[self.code] == code && self.publishes_in(r))
            .filter_map(|r| r.cells[self.year].parse::<i32>().ok())
            .collect()
    }

    /// The current authorities, in file order: every code that publishes a
    /// figure in the [latest year](Self::latest_year), except the
    /// predecessor of a code change ([`BOUNDARY_CHANGES`]) whose successor
    /// also publishes then (North Yorkshire's and Somerset's county codes,
    /// whose children looked after are already published under the new
    /// codes): its figures are the successor's. Each authority's earlier
    /// codes for the same area are listed with it. In the 2023 data these
    /// are 152 authorities; Cumberland and Westmorland and Furness, which
    /// replaced Cumbria on 1 April 2023, have no figures yet, so Cumbria is
    /// current.
    pub fn current(&self) -> &[Authority] {
        &self.current
    }

    fn find_current(&self) -> Vec<Authority> {
        let latest = self.latest_year();
        let publishing: Vec<(String, String, String)> = self
            .list()
            .into_iter()
            .filter(|(c, _, _)| self.published_years(c).contains(&latest))
            .collect();
        let publishes = |code: &str| publishing.iter().any(|(c, _, _)| c == code);
        publishing
            .iter()
            .filter(|(c, _, _)| {
                !BOUNDARY_CHANGES.iter().any(|b| {
                    b.is_code_change()
                        && b.predecessors[0].0 == c.as_str()
                        && publishes(b.successors[0].0)
                })
            })
            .map(|(c, n, r)| Authority {
                code: c.clone(),
                name: n.clone(),
                region: r.clone(),
                earlier_codes: earlier_codes(c),
            })
            .collect()
    }

    /// The current authority named by `code_or_name` (see
    /// [`current`](Self::current)): by its code, an earlier code of the
    /// same area, or its name.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a code that is not a current authority's:
    /// a predecessor that was split or merged (naming its successors), an
    /// authority with no figures yet (naming the authority whose figures
    /// hold its area), or an unknown one (naming the closest authority).
    pub fn current_authority(&self, code_or_name: &str) -> Result<Authority> {
        let wanted = canonical_name(code_or_name);
        if let Some(a) = self.current.iter().find(|a| {
            canonical_name(&a.code) == wanted
                || canonical_name(&a.name) == wanted
                || a.earlier_codes.iter().any(|c| canonical_name(c) == wanted)
        }) {
            return Ok(a.clone());
        }
        let invalid = |message: String| Error::Invalid {
            what: "local authority".into(),
            message,
        };
        let named = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(c, n)| format!("{n} ({c})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for b in BOUNDARY_CHANGES {
            let is = |list: &[(&str, &str)]| {
                list.iter()
                    .find(|(c, n)| canonical_name(c) == wanted || canonical_name(n) == wanted)
                    .map(|(c, n)| format!("{n} ({c})"))
            };
            if let Some(old) = is(b.predecessors) {
                return Err(invalid(format!(
                    "{old} is not a current authority: on {} {} and its figures end in {}; its area's authorities are {}",
                    b.date,
                    b.note,
                    b.first_year - 1,
                    named(b.successors)
                )));
            }
            if let Some(new) = is(b.successors) {
                return Err(invalid(format!(
                    "{new} has no published figures in data/local_authorities.csv (to 31 March {}): it took over on {} ({}); until then its area's figures are {}'s",
                    self.latest_year(),
                    b.date,
                    b.note,
                    named(b.predecessors)
                )));
            }
        }
        // Unknown: the error names the closest authority.
        self.get(code_or_name)?;
        Err(invalid(format!(
            "`{code_or_name}` is not a current local authority"
        )))
    }

    /// One authority's figures by its exact ONS code, with the figures of
    /// `earlier_codes` (the same area under an earlier code) where the code
    /// has none: the current authority's series. Which cells came from an
    /// earlier code is not recorded here; [`crate::local::start_figures`]
    /// reports those it uses.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the file has no rows for `code`.
    pub fn series_of(&self, authority: &Authority) -> Result<Observed> {
        let one = |code: &str| -> Result<Observed> {
            let keep = |_: &Records, r: &Record| r.cells[self.code] == code;
            let observed = Observed::from_records(
                &self.records,
                "data/local_authorities.csv",
                "year",
                Some(&keep),
            )?;
            if observed.years().is_empty() {
                return Err(Error::Invalid {
                    what: "local authority".into(),
                    message: format!("data/local_authorities.csv has no rows for `{code}`"),
                });
            }
            Ok(observed)
        };
        let mut observed = one(&authority.code)?;
        for earlier in &authority.earlier_codes {
            observed = observed.filled_from(&one(earlier)?);
        }
        Ok(observed)
    }

    /// The figure of `column` for `year` of `authority`, created by a
    /// split or merger ([`BOUNDARY_CHANGES`] that are not code changes:
    /// North and West Northamptonshire; Bournemouth, Christchurch and Poole
    /// and Dorset), for a year before the change: the total of its
    /// predecessors' figures for the year, times the authority's share of
    /// all the successors' figures for the same series, summed over the
    /// years (from the change up to `to`) in which every successor
    /// published it. For the population that share is its share of the
    /// children; for other series it keeps the authority's own level
    /// against its neighbours' (North Northamptonshire's children in need
    /// are 44.8% of the two successors' in 2022, against 46.2% of their
    /// children). Summing the years steadies the share of small series
    /// (Bournemouth, Christchurch and Poole's children awaiting assessment
    /// were 34% of the two successors' in 2020, 55% over 2020-2023).
    ///
    /// `None` if the authority did not replace others in `year`, a
    /// predecessor did not publish the figure for `year`, or no share year
    /// up to `to` exists (using no figure after `to`: a backtest cut at an
    /// origin sees nothing later).
    pub fn apportioned(
        &self,
        authority: &Authority,
        column: &str,
        year: i32,
        to: i32,
    ) -> Option<Apportioned> {
        let c = self.records.column_index(column).ok()?;
        let figure = |code: &str, y: i32| -> Option<f64> {
            let y = y.to_string();
            self.records
                .rows
                .iter()
                .find(|r| r.cells[self.code] == code && r.cells[self.year] == y)
                .and_then(|r| r.cells[c].trim().parse::<f64>().ok())
                .filter(|v| v.is_finite())
        };
        let b = BOUNDARY_CHANGES.iter().find(|b| {
            !b.is_code_change()
                && year < b.first_year
                && b.successors.iter().any(|(s, _)| *s == authority.code)
        })?;
        let predecessors = b
            .predecessors
            .iter()
            .map(|(pc, pn)| figure(pc, year).map(|v| (pc.to_string(), pn.to_string(), v)))
            .collect::<Option<Vec<_>>>()?;
        let share_years: Vec<i32> = (b.first_year..=to.min(self.latest_year))
            .filter(|&y| b.successors.iter().all(|(s, _)| figure(s, y).is_some()))
            .collect();
        let total: f64 = share_years
            .iter()
            .flat_map(|&y| b.successors.iter().filter_map(move |(s, _)| figure(s, y)))
            .sum();
        let own: f64 = share_years
            .iter()
            .filter_map(|&y| figure(&authority.code, y))
            .sum();
        if share_years.is_empty() || total <= 0.0 {
            return None;
        }
        let share = own / total;
        let value = predecessors.iter().map(|p| p.2).sum::<f64>() * share;
        Some(Apportioned {
            series: column.to_string(),
            year,
            value,
            predecessors,
            share_years,
            share,
        })
    }

    /// The authority's series ([`series_of`](Self::series_of)) up to `to`,
    /// with the years before a split or merger that created it filled in
    /// from its predecessors ([`apportioned`](Self::apportioned)), each
    /// apportioned figure listed: the history its pooled calibration uses.
    /// An authority that did not replace others (or whose successors
    /// published nothing up to `to`) gets its own series.
    ///
    /// # Errors
    ///
    /// The errors of [`series_of`](Self::series_of).
    pub fn series_with_predecessors(
        &self,
        authority: &Authority,
        to: i32,
    ) -> Result<(Observed, Vec<Apportioned>)> {
        let own = self.series_of(authority)?.until(to);
        let Some(b) = BOUNDARY_CHANGES.iter().find(|b| {
            !b.is_code_change() && b.successors.iter().any(|(s, _)| *s == authority.code)
        }) else {
            return Ok((own, Vec::new()));
        };
        let mut years: Vec<i32> = self
            .records
            .rows
            .iter()
            .filter(|r| b.predecessors.iter().any(|(p, _)| r.cells[self.code] == *p))
            .filter_map(|r| r.cells[self.year].parse::<i32>().ok())
            .filter(|&y| y < b.first_year && y <= to)
            .collect();
        years.sort_unstable();
        years.dedup();
        let mut list = Vec::new();
        let values = own
            .names
            .iter()
            .map(|name| {
                let mine = own.series(name).ok();
                years
                    .iter()
                    .map(|&y| {
                        if let Some(v) = mine.as_ref().and_then(|s| s.get(y)) {
                            return Some(v);
                        }
                        let a = self.apportioned(authority, name, y, to)?;
                        let v = a.value;
                        list.push(a);
                        Some(v)
                    })
                    .collect()
            })
            .collect();
        let before = Observed {
            source: own.source.clone(),
            years,
            names: own.names.clone(),
            values,
        };
        Ok((own.filled_from(&before), list))
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

/// The earlier codes of the same area as `code` (code changes in
/// [`BOUNDARY_CHANGES`]), most recent first.
fn earlier_codes(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = code.to_string();
    while let Some(b) = BOUNDARY_CHANGES
        .iter()
        .find(|b| b.is_code_change() && b.successors[0].0 == at)
    {
        at = b.predecessors[0].0.to_string();
        out.push(at.clone());
    }
    out
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

    /// These series with `other`'s values in the cells (series and years)
    /// where these have none: one place's figures published under two
    /// codes. Years only in `other` are added, in order; series only in
    /// `other` are left out.
    pub fn filled_from(&self, other: &Observed) -> Observed {
        let mut years = self.years.clone();
        for y in &other.years {
            if !years.contains(y) {
                years.push(*y);
            }
        }
        years.sort_unstable();
        let values = self
            .names
            .iter()
            .zip(&self.values)
            .map(|(name, own)| {
                let theirs = other.series(name).ok();
                years
                    .iter()
                    .map(|&y| {
                        self.years
                            .iter()
                            .position(|&o| o == y)
                            .and_then(|i| own[i])
                            .or_else(|| theirs.and_then(|s| s.get(y)))
                    })
                    .collect()
            })
            .collect();
        Observed {
            source: self.source.clone(),
            years,
            names: self.names.clone(),
            values,
        }
    }

    /// These series without the years after `year` (as known at the end
    /// of reporting year `year`, e.g. a backtest's origin).
    pub fn until(&self, year: i32) -> Observed {
        let keep: Vec<usize> = (0..self.years.len())
            .filter(|&i| self.years[i] <= year)
            .collect();
        Observed {
            source: self.source.clone(),
            years: keep.iter().map(|&i| self.years[i]).collect(),
            names: self.names.clone(),
            values: self
                .values
                .iter()
                .map(|v| keep.iter().map(|&i| v[i]).collect())
                .collect(),
        }
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

    /// The table of boundary changes says what the file shows: which codes
    /// publish in which years, under which names.
    #[test]
    fn boundary_changes_match_the_file() {
        let table = LocalAuthorities::load().unwrap();
        let latest = table.latest_year();
        assert_eq!(latest, 2023);
        let list = table.list();
        let name_of = |code: &str| {
            list.iter()
                .find(|(c, _, _)| c == code)
                .map(|(_, n, _)| n.as_str())
        };
        let stocks = [
            "population_0_17",
            "cin_at_31_march",
            "cpp_at_31_march",
            "cla_at_31_march",
            "cin_awaiting_assessment",
        ];
        for b in BOUNDARY_CHANGES {
            for (code, name) in b.predecessors.iter().chain(b.successors) {
                assert_eq!(name_of(code), Some(*name), "{code}");
            }
            if b.is_code_change() {
                // One area under two codes: no stock or population is
                // published under both for the same year.
                let (old, new) = (b.predecessors[0].0, b.successors[0].0);
                let (old, new) = (table.get(old).unwrap(), table.get(new).unwrap());
                for column in stocks {
                    let both: Vec<i32> = old
                        .series(column)
                        .unwrap()
                        .observed()
                        .filter(|(y, _)| new.series(column).unwrap().get(*y).is_some())
                        .map(|(y, _)| y)
                        .collect();
                    assert!(both.is_empty(), "{b:?} {column}: {both:?}");
                }
                continue;
            }
            // A split or merger: the predecessors publish until the year
            // before the successors' first, the successors from then.
            for (code, _) in b.predecessors {
                assert_eq!(
                    table.published_years(code).last(),
                    Some(&(b.first_year - 1).min(latest)),
                    "{code}"
                );
            }
            for (code, _) in b.successors {
                let years = table.published_years(code);
                if b.first_year > latest {
                    assert!(years.is_empty(), "{code}: {years:?}");
                } else {
                    assert_eq!(years.first(), Some(&b.first_year), "{code}");
                }
            }
        }
        // Every code is a current authority, an earlier code of one, or in
        // the table: 152 current and 11 others.
        let current = table.current();
        assert_eq!((list.len(), current.len()), (163, 152));
        let others: Vec<&str> = list
            .iter()
            .map(|(c, _, _)| c.as_str())
            .filter(|c| !current.iter().any(|a| a.code == *c))
            .collect();
        assert_eq!(others.len(), 11);
        for code in others {
            assert!(
                BOUNDARY_CHANGES.iter().any(|b| b
                    .predecessors
                    .iter()
                    .chain(b.successors)
                    .any(|(c, _)| *c == code)),
                "{code}"
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
