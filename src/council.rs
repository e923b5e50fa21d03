//! What a council sees: a one-page report per local authority, and a page
//! ranking the authorities by a chosen output with its uncertainty (what
//! `carecascade report BASE.toml ALT.toml --area ...` writes).
//!
//! For each authority of a [`Submission`] (its local model made as
//! `carecascade localise` makes it, every scenario prepared on it:
//! [`Submission::local_scenarios`]), the scenarios run as one ensemble on
//! common random numbers, and [`run`] makes
//!
//! - **its page** (`CODE.html`, self-contained): the answer for it (each
//!   alternative's paired difference from the base: cost, present value per
//!   child, entries to care avoided, break-even year, with 90% ranges), its
//!   projection (fan charts beside its published figures), its model against
//!   its own published figures by year (children in need, on plans, looked
//!   after, referrals, entries to care, from `data/local_authorities.csv`),
//!   the start figures that were filled in, and the sources once;
//! - **the ranking** (`index.html`): every authority ordered by the median
//!   of a chosen [`Output`] (e.g. extra cost per child), with its 90% range
//!   drawn as an interval bar and listed in a table, and its size (children
//!   aged 0-17).
//!
//! The statistics of the ranking are those of each authority's own
//! ensemble: the median and range of an authority in `index.html` are the
//! ones on its page. Rates per child and per 10,000 children divide by the
//! authority's latest published 0-17 population (2023), which the pages
//! state. An authority whose model cannot be made, or whose runs fail, is
//! listed as failed on the ranking page and has no page; the others are
//! written. [`Council::write`] writes the folder all or nothing.

use crate::engine::chart::{Fan, Format, forecasts_against_outturns, money_m, thousands};
use crate::engine::ensemble::{Comparison, Ensemble, Outcome, RunOptions, Stats, compare};
use crate::engine::error::{Error, Result};
use crate::engine::format::escape_markup as esc;
use crate::engine::name::{canonical_name, closest, did_you_mean};
use crate::engine::scenario::Prepared;
use crate::local::LocalWarning;
use crate::local_backtest::{AuthorityScore, LOCAL_BACKTEST_JSON, LocalBacktest, SCORED};
use crate::submission::Submission;
use crate::{DISCOUNT_RATE, SCALARS};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Runs per scenario and authority when the command line does not say:
/// all 152 authorities with two scenarios took 132 seconds of CPU (4
/// minutes on two shared cores; docs/reading-the-outputs.md).
pub const DEFAULT_RUNS: usize = 500;

/// The quantiles computed everywhere: 5%, 25%, 50%, 75%, 95%.
const BANDS: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// An authority's page, its statistics for each ranking, and what the
/// ranking says of it.
type Reported = (String, Vec<Stats>, Authority);

/// The stack of each worker thread (see [`run`]).
const WORKER_STACK: usize = 256 << 20;

/// The ranking page's file name in the output folder.
pub const INDEX: &str = "index.html";

/// The ranking as CSV, beside the pages ([`Council::ranking_csv`]).
pub const RANKING_CSV: &str = "ranking.csv";

/// Whether an [`Output`] is a level of one scenario or a paired difference
/// between an alternative and the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// A scenario's own value (ranked for each scenario).
    Level,
    /// An alternative against the base, run by run on the same draws
    /// (ranked for each alternative; needs a base and an alternative).
    Difference,
}

/// How the numbers of an output read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Units {
    /// £ million.
    MoneyM,
    /// £ per child aged 0-17.
    PoundsPerChild,
    /// A count, with its noun.
    Count(&'static str),
    /// Per 10,000 children aged 0-17.
    Per10k,
}

/// How an output's per-run values are computed.
#[derive(Debug, Clone, Copy)]
enum Compute {
    /// A per-run scalar of the scenario.
    Scalar(&'static str),
    /// An indicator in the last year.
    Final(&'static str),
    /// ALT minus BASE of a scalar.
    ScalarDifference(&'static str),
    /// BASE minus ALT of an indicator, summed over the years after the
    /// first (e.g. entries to care avoided).
    Avoided(&'static str),
    /// ALT minus BASE of an indicator in the last year.
    FinalDifference(&'static str),
}

/// An output authorities can be ranked by (`--rank-by NAME`): see
/// [`OUTPUTS`].
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Its name on the command line (`extra_cost_per_child`).
    pub name: &'static str,
    /// What it is, in words.
    pub title: &'static str,
    /// A level or a paired difference.
    pub kind: OutputKind,
    /// Multiplied by 10,000 (rates) or 1,000,000 (£m to £) and divided by
    /// the authority's children, or taken as it is.
    per_child: f64,
    units: Units,
    compute: Compute,
}

const fn output(
    name: &'static str,
    title: &'static str,
    kind: OutputKind,
    compute: Compute,
    units: Units,
) -> Output {
    let per_child = match units {
        Units::PoundsPerChild => 1e6,
        Units::Per10k => 1e4,
        _ => 0.0,
    };
    Output {
        name,
        title,
        kind,
        per_child,
        units,
        compute,
    }
}

/// Every output authorities can be ranked by. Levels are over the
/// scenario's window (to 31 March of its last year) or in its last year;
/// differences are the alternative minus the base run by run (entries
/// avoided are the base minus the alternative). Per child and per 10,000
/// children: of the authority's latest published 0-17 population.
pub const OUTPUTS: &[Output] = &[
    output(
        "extra_cost_per_child",
        "extra spend per child, present value over the period",
        OutputKind::Difference,
        Compute::ScalarDifference("npv_m"),
        Units::PoundsPerChild,
    ),
    output(
        "extra_npv_m",
        "extra spend, present value over the period",
        OutputKind::Difference,
        Compute::ScalarDifference("npv_m"),
        Units::MoneyM,
    ),
    output(
        "extra_spend_m",
        "extra spend, cash over the period",
        OutputKind::Difference,
        Compute::ScalarDifference("cumulative_cost_m"),
        Units::MoneyM,
    ),
    output(
        "entries_avoided",
        "children entering care avoided over the period",
        OutputKind::Difference,
        Compute::Avoided("cla_started"),
        Units::Count("children"),
    ),
    output(
        "entries_avoided_per_10k",
        "children entering care avoided over the period, per 10,000 children",
        OutputKind::Difference,
        Compute::Avoided("cla_started"),
        Units::Per10k,
    ),
    output(
        "cla_difference_per_10k",
        "change in the looked-after rate at 31 March of the last year",
        OutputKind::Difference,
        Compute::FinalDifference("cla_at_31_march"),
        Units::Per10k,
    ),
    output(
        "cla_per_10k",
        "looked-after rate at 31 March of the last year",
        OutputKind::Level,
        Compute::Final("cla_at_31_march"),
        Units::Per10k,
    ),
    output(
        "cpp_per_10k",
        "child protection plan rate at 31 March of the last year",
        OutputKind::Level,
        Compute::Final("cpp_at_31_march"),
        Units::Per10k,
    ),
    output(
        "cin_per_10k",
        "children in need rate at 31 March of the last year",
        OutputKind::Level,
        Compute::Final("cin_at_31_march"),
        Units::Per10k,
    ),
    output(
        "cla",
        "children looked after at 31 March of the last year",
        OutputKind::Level,
        Compute::Final("cla_at_31_march"),
        Units::Count("children"),
    ),
    output(
        "entered_care_per_10k",
        "children entering care over the period, per 10,000 children",
        OutputKind::Level,
        Compute::Scalar("entered_care"),
        Units::Per10k,
    ),
    output(
        "spend_per_child",
        "spend per child, present value over the period",
        OutputKind::Level,
        Compute::Scalar("npv_m"),
        Units::PoundsPerChild,
    ),
    output(
        "npv_m",
        "spend, present value over the period",
        OutputKind::Level,
        Compute::Scalar("npv_m"),
        Units::MoneyM,
    ),
    output(
        "peak_caseload",
        "highest caseload over the period",
        OutputKind::Level,
        Compute::Scalar("peak_caseload"),
        Units::Count("cases per case-holding social worker"),
    ),
];

impl Output {
    /// The output named `name` (compared as model names are: case, spaces
    /// and underscores do not matter), for a submission that compares
    /// scenarios (`comparing`) or runs one.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for `--rank-by` naming no output (with the
    /// closest name and the list), or a difference without a base and an
    /// alternative.
    pub fn named(name: &str, comparing: bool) -> Result<&'static Output> {
        let wanted = canonical_name(name);
        let invalid = |message: String| Error::Invalid {
            what: format!("--rank-by `{name}`"),
            message,
        };
        let Some(found) = OUTPUTS.iter().find(|o| canonical_name(o.name) == wanted) else {
            let names: Vec<&str> = OUTPUTS.iter().map(|o| o.name).collect();
            return Err(invalid(format!(
                "is not an output{}; the outputs are {}",
                did_you_mean(closest(name, names.iter().copied())),
                names.join(", ")
            )));
        };
        if found.kind == OutputKind::Difference && !comparing {
            let levels: Vec<&str> = OUTPUTS
                .iter()
                .filter(|o| o.kind == OutputKind::Level)
                .map(|o| o.name)
                .collect();
            return Err(invalid(format!(
                "is a difference from a base: give a base and an alternative scenario, or rank one scenario by {}",
                levels.join(", ")
            )));
        }
        Ok(found)
    }

    /// The output ranked when `--rank-by` is not given: the extra spend per
    /// child of a comparison, the looked-after rate of one scenario.
    pub fn default_for(comparing: bool) -> &'static Output {
        let name = if comparing {
            "extra_cost_per_child"
        } else {
            "cla_per_10k"
        };
        OUTPUTS
            .iter()
            .find(|o| o.name == name)
            .unwrap_or(&OUTPUTS[0])
    }

    /// Its unit in words (`£ per child aged 0-17`).
    pub fn unit(&self) -> &'static str {
        match self.units {
            Units::MoneyM => "£",
            Units::PoundsPerChild => "£ per child aged 0-17",
            Units::Count(noun) => noun,
            Units::Per10k => "per 10,000 children aged 0-17",
        }
    }

    /// A value with its unit: `£1.2m`, `£340 per child`, `12 children`,
    /// `67.3 per 10,000 children`.
    pub fn show(&self, v: f64) -> String {
        match self.units {
            Units::MoneyM => money(v),
            Units::PoundsPerChild => format!("{} per child", pounds(v)),
            Units::Count(noun) => format!("{} {noun}", thousands(v)),
            Units::Per10k => format!("{} per 10,000 children", rate(v)),
        }
    }

    /// The value alone, for a column whose heading gives the unit.
    pub fn number(&self, v: f64) -> String {
        match self.units {
            Units::MoneyM => money(v),
            Units::PoundsPerChild => pounds(v),
            Units::Count(_) => thousands(v),
            Units::Per10k => rate(v),
        }
    }

    /// Its value in each run: of `scenario` for a level, of `alternative`
    /// against `base` for a difference (runs paired by index), for an
    /// authority with `children` aged 0-17.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a difference without an alternative, or
    /// ensembles of different sizes; an ensemble lacking the scalar or
    /// indicator.
    pub fn values(
        &self,
        base: &Ensemble,
        alternative: Option<&Ensemble>,
        children: f64,
    ) -> Result<Vec<f64>> {
        let alt = || {
            let alt = alternative.ok_or_else(|| Error::Invalid {
                what: format!("output `{}`", self.name),
                message: "is a difference: it needs an alternative".into(),
            })?;
            if alt.runs.len() != base.runs.len() {
                return Err(Error::Invalid {
                    what: format!("output `{}`", self.name),
                    message: format!(
                        "pairs runs of `{}` ({}) and `{}` ({}): their numbers differ",
                        base.scenario,
                        base.runs.len(),
                        alt.scenario,
                        alt.runs.len()
                    ),
                });
            }
            Ok(alt)
        };
        let last = |e: &Ensemble| e.periods[e.periods.len() - 1];
        let raw = match self.compute {
            Compute::Scalar(s) => base.scalar(s)?,
            Compute::Final(i) => base.values(i, last(base))?,
            Compute::ScalarDifference(s) => {
                let a = alt()?;
                let (b, a) = (base.scalar(s)?, a.scalar(s)?);
                a.iter().zip(&b).map(|(a, b)| a - b).collect()
            }
            Compute::FinalDifference(i) => {
                let a = alt()?;
                let (b, a) = (base.values(i, last(base))?, a.values(i, last(a))?);
                a.iter().zip(&b).map(|(a, b)| a - b).collect()
            }
            Compute::Avoided(i) => avoided(base, alt()?, i)?,
        };
        Ok(if self.per_child > 0.0 {
            raw.iter().map(|v| v * self.per_child / children).collect()
        } else {
            raw
        })
    }
}

/// BASE minus ALT of `indicator` summed over the periods after the first,
/// run by run (as the national report's entries to care avoided).
fn avoided(base: &Ensemble, alt: &Ensemble, indicator: &str) -> Result<Vec<f64>> {
    let (i, j) = (
        base.indicator_index(indicator)?,
        alt.indicator_index(indicator)?,
    );
    Ok(base
        .runs
        .iter()
        .zip(&alt.runs)
        .map(|(b, a)| {
            (1..base.periods.len())
                .map(|y| b.values[i][y] - a.values[j][y])
                .sum()
        })
        .collect())
}

/// Money given in £ million, for an authority's amounts: below £1m in
/// thousands (`£120k`, `-£4k`), then as [`money_m`] (`£2.5m`, `£1.20bn`).
pub fn money(v: f64) -> String {
    if v.is_finite() && v.abs() < 1.0 {
        let k = (v * 1000.0).round();
        if k < 0.0 {
            format!("-£{}k", thousands(-k))
        } else {
            format!("£{}k", thousands(k))
        }
    } else {
        money_m(v)
    }
}

/// Whole pounds with separators: `£1,234`, `-£56`; never `-£0`.
fn pounds(v: f64) -> String {
    let v = v.round();
    if v < 0.0 {
        format!("-£{}", thousands(-v))
    } else {
        format!("£{}", thousands(v.abs()))
    }
}

/// A rate with one decimal: `67.3`; never `-0.0`.
fn rate(v: f64) -> String {
    if v.is_finite() && v.abs() < 1000.0 {
        let v = (v * 10.0).round() / 10.0;
        format!("{:.1}", if v == 0.0 { 0.0 } else { v })
    } else {
        thousands(v)
    }
}

/// Which way the ranking runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// The highest median first.
    #[default]
    HighFirst,
    /// The lowest median first.
    LowFirst,
}

/// What [`run`] ranks by and how.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The output ranked.
    pub rank_by: &'static Output,
    /// Highest or lowest median first.
    pub order: Order,
}

/// One authority in a [`Ranking`]: its statistics of the output.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Its ONS code (its page is `CODE.html`).
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its region.
    pub region: String,
    /// Its children aged 0-17 (latest published).
    pub children: f64,
    /// The output over its runs, with the quantiles 5%, 25%, 50%, 75%,
    /// 95%.
    pub stats: Stats,
}

/// The authorities ranked by an output for one scenario (a level) or one
/// alternative against the base (a difference), by median.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// The output.
    pub output: &'static Output,
    /// What is ranked: the scenario, or `ALT minus BASE`.
    pub subject: String,
    /// The authorities in order.
    pub rows: Vec<Ranked>,
}

/// An authority that could not be reported, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Its ONS code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The error.
    pub message: String,
}

/// The pages of every authority and the ranking: what [`run`] makes.
#[derive(Debug, Clone)]
pub struct Council {
    /// (ONS code, the HTML of its page), in the order asked.
    pub pages: Vec<(String, String)>,
    /// The rankings: one per scenario (a level) or alternative (a
    /// difference).
    pub rankings: Vec<Ranking>,
    /// The authorities skipped.
    pub failures: Vec<Failure>,
    /// The ranking page.
    pub index: String,
    /// Runs per scenario and authority.
    pub runs: usize,
}

impl Council {
    /// The files [`Council::write`] writes: `index.html`, `ranking.csv` and
    /// `CODE.html` for each authority reported.
    pub fn file_names(&self) -> Vec<String> {
        [INDEX, RANKING_CSV]
            .into_iter()
            .map(str::to_string)
            .chain(self.pages.iter().map(|(code, _)| format!("{code}.html")))
            .collect()
    }

    /// The rankings as CSV, one row per ranking and authority in rank
    /// order: `subject, rank, code, authority, region, children_0_17,
    /// output, unit, p5, p25, p50, p75, p95` (for a spreadsheet).
    pub fn ranking_csv(&self) -> String {
        use crate::engine::format::csv_table::{Cell, csv_string};
        let rows = self.rankings.iter().flat_map(|ranking| {
            ranking.rows.iter().enumerate().map(move |(k, r)| {
                let mut row: Vec<Cell<'_>> = vec![
                    Cell::from(ranking.subject.as_str()),
                    Cell::from(k + 1),
                    Cell::from(r.code.as_str()),
                    Cell::from(r.name.as_str()),
                    Cell::from(r.region.as_str()),
                    Cell::from(r.children),
                    Cell::from(ranking.output.name),
                    Cell::from(ranking.output.unit()),
                ];
                row.extend(r.stats.quantiles.iter().map(|q| Cell::from(*q)));
                row
            })
        });
        csv_string(
            [
                "subject",
                "rank",
                "code",
                "authority",
                "region",
                "children_0_17",
                "output",
                "unit",
                "p5",
                "p25",
                "p50",
                "p75",
                "p95",
            ],
            rows,
        )
    }

    /// Writes the folder `dir`: `index.html`, `ranking.csv` and a page per
    /// authority, all or nothing (see
    /// [`crate::engine::format::write_set`]). An existing `dir` is replaced
    /// whole, and only if it holds nothing but the files of such a report
    /// ([`possible_files`]: an earlier report, for any authorities).
    ///
    /// # Errors
    ///
    /// As [`crate::engine::format::write_set`].
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let codes: Vec<(String, String)> = self
            .pages
            .iter()
            .map(|(code, _)| (code.clone(), String::new()))
            .collect();
        let allowed = possible_files(&codes)?;
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        let mut set = crate::engine::format::SetWriter::new(dir, &allowed)?;
        set.add(INDEX, self.index.as_bytes())?;
        set.add(RANKING_CSV, self.ranking_csv().as_bytes())?;
        for (code, html) in &self.pages {
            set.add(&format!("{code}.html"), html.as_bytes())?;
        }
        set.finish()
    }
}

/// Every file a report folder may hold: `index.html`, `ranking.csv`, and
/// the page of each current authority and of each of `codes` (ONS code,
/// name). An existing folder holding nothing else may be replaced: check
/// it with [`crate::engine::format::check_set`] before running.
///
/// # Errors
///
/// None in practice: the authorities' table is embedded.
pub fn possible_files(codes: &[(String, String)]) -> Result<Vec<String>> {
    let table = crate::data::LocalAuthorities::load()?;
    let mut names: Vec<String> = [INDEX, RANKING_CSV]
        .into_iter()
        .map(str::to_string)
        .collect();
    for code in table
        .current()
        .iter()
        .map(|a| &a.code)
        .chain(codes.iter().map(|(code, _)| code))
    {
        let page = format!("{code}.html");
        if !names.contains(&page) {
            names.push(page);
        }
    }
    Ok(names)
}

/// What a page says about its authority beyond the runs.
struct Authority {
    code: String,
    name: String,
    region: String,
    /// (year, children aged 0-17), latest published.
    children: (i32, f64),
    /// Its published figures (with its earlier codes').
    observed: crate::data::Observed,
    warnings: Vec<LocalWarning>,
}

/// Runs every authority of `submission` (made with areas; a comparison if
/// it has two or more scenarios) and makes its page and the ranking by
/// `settings`. `progress` is called after each run.
///
/// # Errors
///
/// [`Error::Invalid`] for a submission without authorities, or one in
/// which every authority failed (naming the first failure). An authority
/// that fails is otherwise listed in [`Council::failures`].
pub fn run(
    submission: &Submission,
    settings: &Settings,
    progress: &(dyn Fn() + Sync),
) -> Result<Council> {
    let authorities = submission.authorities();
    if authorities.is_empty() {
        return Err(Error::Invalid {
            what: "council report".into(),
            message: "needs authorities (--area)".into(),
        });
    }
    let comparing = submission.scenarios().len() > 1;
    if settings.rank_by.kind == OutputKind::Difference && !comparing {
        Output::named(settings.rank_by.name, false)?;
    }
    let table = crate::data::LocalAuthorities::load()?;
    let names: Vec<&str> = submission.scenarios().iter().map(|s| s.name()).collect();
    let mut rankings: Vec<Ranking> = match settings.rank_by.kind {
        OutputKind::Level => names.iter().map(|n| n.to_string()).collect(),
        OutputKind::Difference => names[1..]
            .iter()
            .map(|n| format!("{n} minus {}", names[0]))
            .collect::<Vec<_>>(),
    }
    .into_iter()
    .map(|subject| Ranking {
        output: settings.rank_by,
        subject,
        rows: Vec::new(),
    })
    .collect();
    let record = backtest_record(submission)?;
    let mut pages = Vec::new();
    let mut failures = Vec::new();
    // One authority's page and statistics.
    let one = |a: usize| -> Result<Reported> {
        let authority = about(&table, &authorities[a].0, submission.warnings())?;
        let prepared = submission.local_scenarios(a)?;
        let outcome = crate::engine::ensemble::run_scenarios(
            &prepared,
            &RunOptions {
                shard: None,
                progress: Some(progress),
            },
        )?;
        let stats = ranked_stats(&outcome, settings.rank_by, authority.children.1)?;
        let html = page(
            &authority,
            &prepared,
            &outcome,
            settings.rank_by,
            &stats,
            record.as_ref(),
        )?;
        Ok((html, stats, authority))
    };
    // Authorities side by side, one per core: making a local model, its
    // fit and its page are mostly serial, its runs parallel. Each result
    // goes to its authority's slot, so the order (and every number) is the
    // same on any number of cores.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(authorities.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Result<Reported>>>> =
        authorities.iter().map(|_| Default::default()).collect();
    let work = || {
        loop {
            let a = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(slot) = slots.get(a) else { break };
            let result = one(a);
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(result);
            }
        }
    };
    std::thread::scope(|scope| -> Result<()> {
        for k in 1..workers {
            std::thread::Builder::new()
                .name(format!("council-{k}"))
                // Models are read and compiled here too: as deep a stack as
                // the command line's worker.
                .stack_size(WORKER_STACK)
                .spawn_scoped(scope, work)
                .map_err(|e| Error::Invalid {
                    what: "council report".into(),
                    message: format!("cannot start a worker thread: {e}"),
                })?;
        }
        work();
        Ok(())
    })?;
    for ((code, name), slot) in authorities.iter().zip(slots) {
        let result = slot.into_inner().ok().flatten().unwrap_or_else(|| {
            Err(Error::Invalid {
                what: "council report".into(),
                message: "a worker thread stopped before reporting this authority".into(),
            })
        });
        match result {
            Ok((html, stats, authority)) => {
                for (ranking, stats) in rankings.iter_mut().zip(stats) {
                    ranking.rows.push(Ranked {
                        code: authority.code.clone(),
                        name: authority.name.clone(),
                        region: authority.region.clone(),
                        children: authority.children.1,
                        stats,
                    });
                }
                pages.push((code.clone(), html));
            }
            Err(e) => failures.push(Failure {
                code: code.clone(),
                name: name.clone(),
                message: e.to_string(),
            }),
        }
    }
    if pages.is_empty() {
        let first = &failures[0];
        return Err(Error::Invalid {
            what: "council report".into(),
            message: format!(
                "no authority could be reported; {} ({}): {}",
                first.name, first.code, first.message
            ),
        });
    }
    for ranking in &mut rankings {
        sort(&mut ranking.rows, settings.order);
    }
    let runs = submission.scenarios()[0].runs();
    let seed = submission.scenarios()[0].seed();
    let sources = sources_of(submission);
    let index = ranking_page(
        &rankings,
        &failures,
        submission.warnings(),
        settings.order,
        runs,
        seed,
        &sources,
    )?;
    Ok(Council {
        pages,
        rankings,
        failures,
        index,
        runs,
    })
}

/// The statistics of `output` in each ranking of an authority's outcome:
/// each scenario's (a level) or each alternative's against the first (a
/// difference).
fn ranked_stats(outcome: &Outcome, output: &Output, children: f64) -> Result<Vec<Stats>> {
    let e = &outcome.ensembles;
    match output.kind {
        OutputKind::Level => e
            .iter()
            .map(|s| Ok(Stats::of(output.values(s, None, children)?, &BANDS)))
            .collect(),
        OutputKind::Difference => e[1..]
            .iter()
            .map(|alt| {
                Ok(Stats::of(
                    output.values(&e[0], Some(alt), children)?,
                    &BANDS,
                ))
            })
            .collect(),
    }
}

/// Orders authorities by median (undefined medians last), then by name.
pub fn sort(rows: &mut [Ranked], order: Order) {
    rows.sort_by(|a, b| {
        let (x, y) = (a.stats.quantiles[2], b.stats.quantiles[2]);
        let by_median = match (x.is_nan(), y.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ => match order {
                Order::HighFirst => y.total_cmp(&x),
                Order::LowFirst => x.total_cmp(&y),
            },
        };
        by_median.then_with(|| a.name.cmp(&b.name))
    });
}

/// The authority's region, size, published figures and filled-in start
/// figures.
fn about(
    table: &crate::data::LocalAuthorities,
    code: &str,
    warnings: &[LocalWarning],
) -> Result<Authority> {
    let authority = table.current_authority(code)?;
    let observed = table.series_of(&authority)?;
    let children = observed
        .series("population_0_17")?
        .observed()
        .last()
        .ok_or_else(|| Error::Invalid {
            what: format!("{} ({})", authority.name, authority.code),
            message: "has no published 0-17 population".into(),
        })?;
    Ok(Authority {
        warnings: warnings
            .iter()
            .filter(|w| w.code == authority.code)
            .cloned()
            .collect(),
        code: authority.code,
        name: authority.name,
        region: authority.region,
        children,
        observed,
    })
}

/// The published data behind every local model.
const DATA_SOURCES: &[&str] = &[
    "DfE Characteristics of children in need, and Children looked after in England, by local authority (data/local_authorities.csv): each authority's figures, its start and its fit",
    "DfE Children's social work workforce, by local authority (data/workforce.csv): its social workers",
];

/// The scenarios' sources, each once, and the data the local models use.
fn sources_of(submission: &Submission) -> Vec<String> {
    let mut out: Vec<String> = DATA_SOURCES.iter().map(|s| s.to_string()).collect();
    for s in submission.scenarios() {
        for source in s.sources() {
            if !out.contains(source) {
                out.push(source.clone());
            }
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ccc;padding-bottom:.2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}td,th{border:1px solid #ddd;padding:.3em .55em;text-align:right;vertical-align:top}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}td.text,th.text{text-align:left}.range{color:#666;font-size:.9em}
.answer{font-size:1.1em;border-left:4px solid #1f5ea8;padding-left:.7em}.note{color:#555;font-size:.9em}.warn{border-left:4px solid #d6601c;padding-left:.7em}
figure{margin:1em 0}svg{max-width:100%;height:auto}.fans{display:grid;grid-template-columns:1fr 1fr;gap:.5em}.fans figure{margin:0}";

/// "median (P5 to P95)" of [`BANDS`] statistics.
fn interval(s: &Stats, f: &dyn Fn(f64) -> String) -> String {
    format!(
        "{} <span class=\"range\">({} to {})</span>",
        f(s.quantiles[2]),
        f(s.quantiles[0]),
        f(s.quantiles[4])
    )
}

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(title)
    )
}

/// The reporting year of a period label.
fn year(label: f64) -> i32 {
    label.round() as i32
}

/// The published series a page shows by year: column, heading, unit.
pub const PUBLISHED: &[(&str, &str, &str)] = &[
    (
        "cin_at_31_march",
        "children in need at 31 March",
        "children",
    ),
    (
        "cpp_at_31_march",
        "children on a protection plan at 31 March",
        "children",
    ),
    (
        "cla_at_31_march",
        "children looked after at 31 March",
        "children",
    ),
    ("referrals", "referrals in the year", "referrals a year"),
    (
        "cla_started",
        "children starting to be looked after in the year",
        "children a year",
    ),
];

/// The year quantile `q` of the break-even year: the first year by which
/// a share `q` of runs have broken even, or `None` if fewer have by the
/// horizon.
fn break_even_year(c: &Comparison, q: f64) -> Option<i32> {
    let mut cumulative = 0.0;
    c.break_even.iter().find_map(|(y, p)| {
        cumulative += p;
        (cumulative >= q - 1e-12).then_some(year(*y))
    })
}

/// A row of the projection table: label, indicator, factor, format.
type ProjectionRow<'a> = (&'a str, &'a str, f64, &'a dyn Fn(f64) -> String);

/// An authority's page.
fn page(
    authority: &Authority,
    prepared: &[Prepared],
    outcome: &Outcome,
    rank_by: &Output,
    ranked: &[Stats],
    record: Option<&LocalBacktest>,
) -> Result<String> {
    let e = &outcome.ensembles;
    let base = &e[0];
    let children = authority.children.1;
    let (y0, y1) = (
        year(base.periods[0]),
        year(base.periods[base.periods.len() - 1]),
    );
    let runs = base.runs.len();
    let place = format!("{} ({})", authority.name, authority.code);
    let title = match e.len() {
        1 => format!("{place}: {}", base.scenario),
        _ => format!(
            "{place}: {} compared with {}",
            e[1..]
                .iter()
                .map(|x| x.scenario.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            base.scenario
        ),
    };
    let mut h = head(&title);
    let _ = writeln!(h, "<h1>{}</h1>", esc(&title));
    let _ = writeln!(
        h,
        "<p class=\"note\">{}, {}: {} children aged 0-17 ({}). The local model of the authority (its own children, cases, social workers and fitted rates: <code>carecascade localise</code>), 31 March {y0} to 31 March {y1}, {} Monte Carlo runs per scenario (seed {}) on the same draws, so differences are paired run by run. Figures are medians with the 5th to 95th percentile (90%) range in brackets; money is £ at 2022-23 prices; rates are per 10,000 children aged 0-17 in {}. <a href=\"{INDEX}\">All authorities ranked</a>.</p>",
        esc(&authority.name),
        esc(&authority.region),
        thousands(children),
        authority.children.0,
        thousands(runs as f64),
        outcome.seed,
        authority.children.0,
    );

    // The answer for it.
    let comparisons: Vec<(Comparison, Vec<f64>)> = e[1..]
        .iter()
        .map(|alt| {
            let c = compare(base, alt, &BANDS, Some("spend_total_m"), DISCOUNT_RATE, &[]);
            let avoided = avoided(base, alt, "cla_started").unwrap_or_default();
            (c, avoided)
        })
        .collect();
    h.push_str("<h2>The answer for this authority</h2>\n");
    let care = e
        .iter()
        .all(|x| SCALARS.iter().all(|s| x.scalars.iter().any(|n| n == s)));
    for (c, avoided) in &comparisons {
        let stats = (!avoided.is_empty()).then(|| Stats::of(avoided.iter().copied(), &BANDS));
        if let Some(sentence) =
            crate::report::headline_with(c, stats.as_ref(), runs, y1, None, money)
        {
            let _ = writeln!(h, "<p class=\"answer\">{}</p>", esc(&sentence));
        }
    }
    if comparisons.is_empty() {
        let last = base.periods[base.periods.len() - 1];
        if let (Ok(cla), Ok(spend)) = (
            base.values("cla_at_31_march", last),
            base.values("spend_total_m", last),
        ) {
            let (cla, spend) = (Stats::of(cla, &BANDS), Stats::of(spend, &BANDS));
            let q = |s: &Stats, k: usize| s.quantiles[k];
            let _ = writeln!(
                h,
                "<p class=\"answer\">On 31 March {y1}, in {}, {} children are looked after in {} (90% range {} to {}; {} per 10,000 children) and its children's social care costs {} a year (90% range {} to {}).</p>",
                esc(&base.scenario),
                thousands(q(&cla, 2)),
                esc(&authority.name),
                thousands(q(&cla, 0)),
                thousands(q(&cla, 4)),
                rate(q(&cla, 2) * 1e4 / children),
                money(q(&spend, 2)),
                money(q(&spend, 0)),
                money(q(&spend, 4))
            );
        }
    }
    if !comparisons.is_empty() && care {
        let _ = writeln!(
            h,
            "<table><tr><th>by 31 March {y1}, against {}</th><th>extra spend, cash (£)</th><th>extra spend, present value (£)</th><th>per child aged 0-17, present value (£ per child)</th><th>entries to care avoided (children)</th><th>per 10,000 children</th><th>chance of costing less (% of runs)</th><th>break-even year (31 March)</th></tr>",
            esc(&base.scenario)
        );
        for ((c, avoided), alt) in comparisons.iter().zip(&e[1..]) {
            let (Some(cost), Some(never)) = (
                c.periods.last().and_then(|p| p.cost.as_ref()),
                c.never_breaks_even,
            ) else {
                continue;
            };
            let per_child = Output::named("extra_cost_per_child", true)?;
            let per_child = Stats::of(per_child.values(base, Some(alt), children)?, &BANDS);
            let avoided_stats = Stats::of(avoided.iter().copied(), &BANDS);
            let per_10k = Stats::of(avoided.iter().map(|v| v * 1e4 / children), &BANDS);
            let when =
                |q: f64| break_even_year(c, q).map_or(format!("not by {y1}"), |y| y.to_string());
            let break_even = if never >= 1.0 {
                format!("not by {y1} in any run")
            } else {
                format!(
                    "{} <span class=\"range\">({} to {})</span>; by {y1} in {:.0}% of runs",
                    when(0.5),
                    when(0.05),
                    when(0.95),
                    100.0 * (1.0 - never)
                )
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td><td>{}</td></tr>",
                esc(&c.alternative),
                interval(&cost.cumulative, &money),
                interval(&cost.cumulative_discounted, &money),
                interval(&per_child, &pounds),
                interval(&avoided_stats, &|v| thousands(v.round())),
                interval(&per_10k, &rate),
                100.0 * cost.probability_alt_costs_less,
                break_even
            );
        }
        h.push_str("</table>\n<p class=\"note\">Negative extra spend is a saving; present values discount at 3.5% a year (HM Treasury Green Book). The break-even year is the first 31 March from which the alternative has cost less in total than the base and stays so: the year by which half the runs have broken even (and 5% and 95% of them), and the share of runs that break even by the horizon.</p>\n");
    }
    let subjects: Vec<String> = match rank_by.kind {
        OutputKind::Level => e.iter().map(|x| x.scenario.clone()).collect(),
        OutputKind::Difference => e[1..]
            .iter()
            .map(|x| format!("{} minus {}", x.scenario, base.scenario))
            .collect(),
    };
    h.push_str("<p class=\"note\">Ranked by ");
    let _ = write!(h, "{} ({}): ", esc(rank_by.title), esc(rank_by.unit()));
    let shown: Vec<String> = subjects
        .iter()
        .zip(ranked)
        .map(|(s, stats)| {
            format!(
                "{}, {} <span class=\"range\">({} to {})</span>",
                esc(s),
                esc(&rank_by.show(stats.quantiles[2])),
                esc(&rank_by.number(stats.quantiles[0])),
                esc(&rank_by.number(stats.quantiles[4]))
            )
        })
        .collect();
    let _ = writeln!(
        h,
        "{}; see <a href=\"{INDEX}\">the ranking</a>.</p>",
        shown.join("; ")
    );

    h.push_str(&assumptions(authority, prepared)?);

    // Filled start figures.
    h.push_str("<h2>Start figures filled in</h2>\n");
    if authority.warnings.is_empty() {
        let _ = writeln!(
            h,
            "<p>Every figure the local model starts from (children aged 0-17, in need, on plans, looked after and awaiting assessment at 31 March {}) is published for {}.</p>",
            crate::submission::LOCAL_FROM,
            esc(&authority.name)
        );
    } else {
        let _ = writeln!(
            h,
            "<p class=\"warn\">{} of the figures its model starts from {} not published, and {} filled in (an estimate; the local model's lookups say so too):</p><ul>",
            authority.warnings.len(),
            if authority.warnings.len() == 1 {
                "was"
            } else {
                "were"
            },
            if authority.warnings.len() == 1 {
                "was"
            } else {
                "were"
            },
        );
        for w in &authority.warnings {
            let _ = write!(h, "<li>{}</li>", esc(&w.to_string()));
        }
        h.push_str("</ul>\n");
    }

    // The projection.
    let _ = writeln!(
        h,
        "<h2>Its projection</h2>\n<table><tr><th>on 31 March {y1}</th>{}</tr>",
        e.iter()
            .map(|x| format!("<th>{}</th>", esc(&x.scenario)))
            .collect::<String>()
    );
    let last = base.periods[base.periods.len() - 1];
    let rows: [ProjectionRow<'_>; 6] = [
        (
            "children looked after (children)",
            "cla_at_31_march",
            1.0,
            &thousands,
        ),
        (
            "looked-after rate (per 10,000 children)",
            "cla_at_31_march",
            1e4 / children,
            &rate,
        ),
        (
            "children on a protection plan (children)",
            "cpp_at_31_march",
            1.0,
            &thousands,
        ),
        (
            "children in need (children)",
            "cin_at_31_march",
            1.0,
            &thousands,
        ),
        (
            "spend in the year to 31 March (£ a year)",
            "spend_total_m",
            1.0,
            &money,
        ),
        (
            "caseload (cases per case-holding social worker)",
            "caseload",
            1.0,
            &thousands,
        ),
    ];
    for (label, indicator, factor, f) in rows {
        let _ = write!(h, "<tr><td>{label}</td>");
        for x in e {
            match x.values(indicator, last) {
                Ok(v) => {
                    let s = Stats::of(v.iter().map(|v| v * factor), &BANDS);
                    let _ = write!(h, "<td>{}</td>", interval(&s, f));
                }
                Err(_) => h.push_str("<td>-</td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n<div class=\"fans\">");
    let fans: [(&str, &str, &str, bool); 6] = [
        (
            "cla_at_31_march",
            "Looked after at 31 March",
            "children",
            false,
        ),
        (
            "cla_started",
            "Starting to be looked after",
            "children a year",
            false,
        ),
        (
            "cpp_at_31_march",
            "On a protection plan at 31 March",
            "children",
            false,
        ),
        ("cin_at_31_march", "In need at 31 March", "children", false),
        ("referrals", "Referrals", "referrals a year", false),
        ("spend_total_m", "Spend", "£ a year", true),
    ];
    for (indicator, title, unit, money) in fans {
        let drawn: Vec<Fan> = e.iter().filter_map(|x| fan(x, indicator)).collect();
        if drawn.is_empty() {
            continue;
        }
        let published: Vec<(f64, f64)> = authority
            .observed
            .series(indicator)
            .map(|s| s.observed().map(|(y, v)| (f64::from(y), v)).collect())
            .unwrap_or_default();
        let svg = if money || published.is_empty() {
            crate::engine::chart::fan_chart(Format::Svg, title, unit, &drawn, money, false)?
        } else {
            forecasts_against_outturns(Format::Svg, title, unit, &drawn, &published)?
        };
        let _ = write!(
            h,
            "<figure>{}</figure>",
            String::from_utf8(svg).unwrap_or_default()
        );
    }
    h.push_str("</div>\n<p class=\"note\">Each band holds 90% of the runs (lighter) and the middle half (darker); the line is the median; black dots are the authority's published figures (\"observed\").</p>\n");

    // The fit, and how well the model forecast it out of sample.
    h.push_str(&fit_section(authority, prepared)?);
    h.push_str(&record_section(authority, record));

    // Sources, once.
    h.push_str("<h2>Sources</h2><ul>");
    let mut seen: Vec<&String> = Vec::new();
    let data: Vec<String> = DATA_SOURCES.iter().map(|s| s.to_string()).collect();
    for s in data
        .iter()
        .chain(prepared.iter().flat_map(|p| p.scenario().sources()))
    {
        if !seen.contains(&s) {
            seen.push(s);
            let _ = write!(h, "<li>{}</li>", esc(s));
        }
    }
    h.push_str("</ul>\n<p class=\"note\">Made by carecascade ");
    h.push_str(&esc(&outcome.version));
    h.push_str(". Every parameter of the model, with its source, is in docs/model.md; how to read this page in docs/reading-the-outputs.md.</p>\n</body></html>\n");
    Ok(h)
}

/// The scenarios' questions and assumptions, with a note on amounts of
/// money a scenario sets for England: they are asked of this authority at
/// its share of England's children (the submission scales them).
fn assumptions(authority: &Authority, prepared: &[Prepared]) -> Result<String> {
    let mut h = String::from("<h2>The scenarios</h2>\n<ul>");
    let mut amounts = Vec::new();
    for p in prepared {
        let s = p.scenario();
        let units = |name: &str| {
            let base = name.split('[').next().unwrap_or(name).trim();
            p.model()
                .variable(base)
                .or_else(|| p.model().variable(&format!("{base} before policies")))
                .and_then(|v| v.units_text())
                .map(str::to_string)
        };
        let mut said: Vec<String> = Vec::new();
        for (name, value) in s.parameters() {
            let u = units(name);
            if u.as_deref().is_some_and(|u| u.contains("£m")) && *value != 0.0 {
                amounts.push((name.clone(), *value));
            }
            said.push(format!(
                "<b>{}</b> = {}",
                esc(name),
                esc(&crate::report::with_units(*value, u.as_deref()))
            ));
        }
        for policy in s.policies() {
            if units(policy.parameter()).is_some_and(|u| u.contains("£m")) {
                amounts.push((policy.parameter().to_string(), f64::NAN));
            }
            let described = crate::report::describe_policy(policy);
            said.push(match units(policy.parameter()) {
                Some(u) if !u.trim().is_empty() && u.trim() != "1" && u.trim() != "dmnl" => {
                    format!("{described} (in {})", esc(u.trim()))
                }
                _ => described,
            });
        }
        let what = if said.is_empty() {
            "the local model as it stands: no policy changes".to_string()
        } else {
            said.join("; ")
        };
        let _ = write!(
            h,
            "<li><b>{}</b>{}: {what}</li>",
            esc(s.name()),
            if s.question().is_empty() {
                String::new()
            } else {
                format!(" (<i>{}</i>)", esc(s.question()))
            }
        );
    }
    h.push_str("</ul>\n");
    if !amounts.is_empty() {
        let england = crate::data::Observed::england()?;
        let national = england
            .series("population_0_17")?
            .get(authority.children.0)
            .or_else(|| {
                england
                    .series("population_0_17")
                    .ok()?
                    .observed()
                    .last()
                    .map(|(_, v)| v)
            })
            .unwrap_or(f64::NAN);
        let share = authority.children.1 / national;
        let _ = writeln!(
            h,
            "<p class=\"note\">Amounts of money the scenarios set for England ({}) are asked of {} at its share of England's children aged 0-17 ({:.2}% in {}): the values above are its share. Write a scenario on its own model (docs/scenarios.md) to ask about another amount.</p>",
            amounts
                .iter()
                .map(|(n, _)| esc(n))
                .collect::<Vec<_>>()
                .join(", "),
            esc(&authority.name),
            100.0 * share,
            authority.children.0
        );
    }
    Ok(h)
}

/// A fan of one indicator of one scenario.
fn fan(e: &Ensemble, indicator: &str) -> Option<Fan> {
    let i = e.indicator_index(indicator).ok()?;
    let points: Vec<(f64, [f64; 5])> = e
        .periods
        .iter()
        .enumerate()
        .filter_map(|(y, period)| {
            let s = Stats::of(e.runs.iter().map(|r| r.values[i][y]), &BANDS);
            let q = &s.quantiles;
            (s.n > 0).then_some((*period, [q[0], q[1], q[2], q[3], q[4]]))
        })
        .collect();
    (!points.is_empty()).then(|| Fan {
        label: e.scenario.clone(),
        points,
    })
}

/// The model against the authority's own published figures, by year.
fn fit_section(authority: &Authority, prepared: &[Prepared]) -> Result<String> {
    let model = prepared[0].model();
    let validation = crate::validate::validate(model, &authority.observed, None, None)?;
    let mut h = format!(
        "<h2>How its model fits its own published figures</h2>\n<p>Its local model run from its published stocks at 31 March {} beside what {} published, by year to 31 March (data/local_authorities.csv; blank: not published or suppressed). The model's figures are counts of children (referrals a year, entries to care a year); the error is the mean absolute percentage error over {}-{}, years its local rates were fitted to (an in-sample fit, not a test of forecasts).</p>\n<table><tr><th rowspan=\"2\">year</th>",
        validation.from,
        esc(&authority.name),
        validation.from + 1,
        validation.to
    );
    let shown: Vec<&(&str, &str, &str)> = PUBLISHED
        .iter()
        .filter(|(c, _, _)| authority.observed.series(c).is_ok())
        .collect();
    for (_, title, unit) in &shown {
        let _ = write!(h, "<th colspan=\"2\">{} ({})</th>", esc(title), esc(unit));
    }
    h.push_str("</tr><tr>");
    for _ in &shown {
        h.push_str("<th>published</th><th>model</th>");
    }
    h.push_str("</tr>\n");
    let check = |column: &str| validation.series.iter().find(|s| s.column == column);
    for &y in authority.observed.years() {
        let _ = write!(h, "<tr><td>{y}</td>");
        for (column, _, _) in &shown {
            let published = authority
                .observed
                .series(column)
                .ok()
                .and_then(|s| s.get(y));
            let model = check(column).and_then(|s| {
                s.line
                    .iter()
                    .find(|(x, _)| year(*x) == y && (*x - f64::from(y)).abs() < 1e-9)
                    .map(|(_, m)| *m)
            });
            let cell = |v: Option<f64>| v.map_or(String::new(), thousands);
            let _ = write!(h, "<td>{}</td><td>{}</td>", cell(published), cell(model));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("<tr><td>error</td>");
    for (column, _, _) in &shown {
        let error = check(column)
            .and_then(|s| s.mape)
            .map_or("-".to_string(), |m| format!("{m:.1}%"));
        let _ = write!(h, "<td colspan=\"2\">{error}</td>");
    }
    h.push_str("</tr></table>\n");
    Ok(h)
}

/// The local backtest's results, if they are of the model the
/// submission's scenarios run (the shipped England model, unchanged) with
/// the data shipped now; `None` otherwise.
///
/// # Errors
///
/// A model file that cannot be read; recorded results that cannot be
/// read (a test keeps them readable).
fn backtest_record(submission: &Submission) -> Result<Option<LocalBacktest>> {
    let scenario = &submission.scenarios()[0];
    let path = scenario.base_dir().join(scenario.model());
    let text = if path.is_file() {
        std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?
    } else if canonical_name(scenario.model()) == crate::england::ENGLAND_NAME {
        crate::ENGLAND_TOML.to_string()
    } else {
        return Ok(None);
    };
    if text != crate::ENGLAND_TOML {
        return Ok(None);
    }
    let record = LocalBacktest::from_json(LOCAL_BACKTEST_JSON)?;
    Ok(record.is_current_for(&text).then_some(record))
}

/// How well the model forecast the authority in the local backtest, out
/// of sample, beside the last published figure and beside every
/// authority's record.
fn record_section(authority: &Authority, record: Option<&LocalBacktest>) -> String {
    let mut h = "<h2>How well its model has forecast it (out of sample)</h2>\n".to_string();
    let Some(record) = record else {
        h.push_str("<p>No record: the local backtest (docs/local-validation.md) tested the shipped England model, and this run's model is another (or the record is out of date), so how well it forecasts this authority is not known. Treat the projection above as untested.</p>\n");
        return h;
    };
    let origins = record
        .settings
        .origins
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let scores = record.authority_scores(&authority.code);
    if scores.is_empty() {
        let _ = writeln!(
            h,
            "<p>No record: the local backtest (fitted to 31 March {origins}) has no forecast of this authority with a published outturn, so how well the model forecasts it is not known. Treat the projection above as untested.</p>"
        );
        return h;
    }
    let _ = writeln!(
        h,
        "<p>The same model, calibrated with every authority together on the figures up to 31 March of {origins} only, forecast this authority one and two years ahead (<code>carecascade backtest-local</code>; docs/local-validation.md). The errors are mean absolute percentage errors of the forecast's median against what was published, beside those of simply repeating the last published figure; the band is the forecast's 90% range. A handful of forecasts per row: read them as a record, not a guarantee.</p>"
    );
    h.push_str("<table><tr><th>series</th><th>years ahead</th><th>forecasts</th><th>model's error</th><th>last figure's error</th><th>outturns inside the 90% band</th></tr>\n");
    fn title(series: &str) -> &str {
        SCORED
            .iter()
            .find(|(c, _)| *c == series)
            .map_or(series, |(_, t)| *t)
    }
    for sc in &scores {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td>{:.1}%</td><td>{} of {}</td></tr>",
            esc(title(&sc.series)),
            sc.horizon,
            sc.forecasts,
            sc.model_ape,
            sc.naive_ape,
            sc.within_90,
            sc.forecasts
        );
    }
    h.push_str("</table>\n");
    let worse: Vec<&str> = SCORED
        .iter()
        .filter(|(c, _)| {
            let of: Vec<&AuthorityScore> = scores.iter().filter(|s| s.series == *c).collect();
            !of.is_empty() && of.iter().all(|s| s.model_ape > s.naive_ape)
        })
        .map(|(_, t)| *t)
        .collect();
    if !worse.is_empty() {
        let _ = writeln!(
            h,
            "<p><strong>Here the model's middle forecast of {} did worse than the last published figure at every horizon scored:</strong> for the next year or two, take the latest figure as the better central guess and the bands as the spread.</p>",
            worse.join(" and of ")
        );
    }
    let all: Vec<String> = record
        .scores()
        .iter()
        .map(|s| {
            format!(
                "{} {} year{} ahead {:.2}",
                title(&s.series),
                s.horizon,
                if s.horizon == 1 { "" } else { "s" },
                s.median_ratio
            )
        })
        .collect();
    let _ = writeln!(
        h,
        "<p class=\"note\">Across all authorities, the median ratio of the model's error to the last figure's (below 1: the model did better) was: {}.</p>",
        all.join("; ")
    );
    h
}

/// A forest plot of a ranking: each authority's 90% range as a thin bar,
/// its middle half as a thick one and its median as a dot, in order, with
/// its children aged 0-17 on the right. Plain SVG (self-contained).
fn ranking_chart(ranking: &Ranking) -> String {
    const ROW: f64 = 15.0;
    const LEFT: f64 = 270.0;
    const RIGHT: f64 = 110.0;
    const WIDTH: f64 = 960.0;
    const TOP: f64 = 58.0;
    let rows = &ranking.rows;
    let output = ranking.output;
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for r in rows {
        for v in [r.stats.quantiles[0], r.stats.quantiles[4]] {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if output.kind == OutputKind::Difference || lo >= 0.0 {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let ticks = nice_ticks(lo, hi, 6);
    let (lo, hi) = (
        ticks.first().copied().unwrap_or(lo).min(lo),
        ticks.last().copied().unwrap_or(hi).max(hi),
    );
    let plot = WIDTH - LEFT - RIGHT;
    let x = |v: f64| LEFT + (v - lo) / (hi - lo) * plot;
    let height = TOP + ROW * rows.len() as f64 + 40.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"{}\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"18\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n<text x=\"{}\" y=\"34\" text-anchor=\"middle\" fill=\"#555\">{}: median (dot), middle half (thick), 90% of runs (thin)</text>\n",
        esc(&format!("{} ({})", output.title, output.unit())),
        WIDTH / 2.0,
        esc(&format!("{}: {}", ranking.subject, output.title)),
        WIDTH / 2.0,
        esc(output.unit())
    );
    let bottom = TOP + ROW * rows.len() as f64;
    for t in &ticks {
        let tx = x(*t);
        let _ = writeln!(
            s,
            "<line x1=\"{tx:.1}\" y1=\"{:.1}\" x2=\"{tx:.1}\" y2=\"{bottom:.1}\" stroke=\"{}\" stroke-width=\"1\"/><text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP - 6.0,
            if *t == 0.0 { "#888" } else { "#e6e6e6" },
            TOP - 9.0,
            esc(&output.number(*t)),
            bottom + 14.0,
            esc(&output.number(*t))
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">children 0-17</text>",
        WIDTH - 4.0,
        TOP - 9.0
    );
    for (k, r) in rows.iter().enumerate() {
        let y = TOP + ROW * (k as f64 + 0.5);
        let q = &r.stats.quantiles;
        if k % 2 == 1 {
            let _ = write!(
                s,
                "<rect x=\"0\" y=\"{:.1}\" width=\"{WIDTH}\" height=\"{ROW}\" fill=\"#000\" fill-opacity=\"0.03\"/>",
                y - ROW / 2.0
            );
        }
        let _ = write!(
            s,
            "<a href=\"{}.html\"><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#1f5ea8\">{}. {}</text></a><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>",
            esc(&r.code),
            LEFT - 8.0,
            y + 4.0,
            k + 1,
            esc(&short_name(&r.name)),
            WIDTH - 4.0,
            y + 4.0,
            thousands(r.children)
        );
        if q.iter().all(|v| v.is_finite()) {
            let _ = writeln!(
                s,
                "<g><title>{}</title><line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#1f5ea8\" stroke-opacity=\"0.55\" stroke-width=\"1.5\"/><line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#1f5ea8\" stroke-opacity=\"0.7\" stroke-width=\"5\"/><circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"3.2\" fill=\"#d6601c\"/></g>",
                esc(&format!(
                    "{}: {} (90% range {} to {})",
                    r.name,
                    output.show(q[2]),
                    output.show(q[0]),
                    output.show(q[4])
                )),
                x(q[0]),
                x(q[4]),
                x(q[1]),
                x(q[3]),
                x(q[2])
            );
        } else {
            s.push('\n');
        }
    }
    s.push_str("</svg>");
    s
}

/// A name short enough for the chart's labels (the table has it whole).
fn short_name(name: &str) -> String {
    const MOST: usize = 36;
    if name.chars().count() <= MOST {
        name.to_string()
    } else {
        let cut: String = name.chars().take(MOST - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// About `n` round tick values covering `lo..hi`.
fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / n.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).floor() * step;
    let mut ticks = Vec::new();
    let mut t = first;
    while t <= hi + step * 1e-9 {
        // Exact zero, not -0 or 1e-17.
        ticks.push(if (t / step).abs() < 1e-9 { 0.0 } else { t });
        t += step;
        if ticks.len() > 4 * n + 4 {
            break;
        }
    }
    if ticks.last().is_some_and(|l| *l < hi) {
        ticks.push(t);
    }
    ticks
}

/// The ranking page.
fn ranking_page(
    rankings: &[Ranking],
    failures: &[Failure],
    warnings: &[LocalWarning],
    order: Order,
    runs: usize,
    seed: u64,
    sources: &[String],
) -> Result<String> {
    let Some(first) = rankings.first() else {
        return Err(Error::Invalid {
            what: "ranking".into(),
            message: "has nothing to rank".into(),
        });
    };
    let output = first.output;
    let title = format!("Local authorities ranked by {}", output.title);
    let mut h = head(&title);
    let _ = writeln!(h, "<h1>{}</h1>", esc(&title));
    let reported = first.rows.len();
    let _ = writeln!(
        h,
        "<p class=\"note\">{} authorit{} ({} in {}), each on its own local model (<code>carecascade localise</code>), {} Monte Carlo runs per scenario (seed {}). Ordered by the median, {} first. Each authority's interval is the 5th to 95th percentile (90%) of its own runs; intervals that overlap mean the order between those authorities is uncertain. Rates per child and per 10,000 children are of the authority's latest published children aged 0-17 (2023), shown as its size. Money is £ at 2022-23 prices; present values discount at 3.5% a year. Each name opens the authority's page.</p>",
        reported,
        if reported == 1 { "y" } else { "ies" },
        esc(output.name),
        esc(output.unit()),
        thousands(runs as f64),
        seed,
        match order {
            Order::HighFirst => "highest",
            Order::LowFirst => "lowest",
        }
    );
    for ranking in rankings {
        let _ = writeln!(
            h,
            "<h2>{}: {}</h2>\n<figure>{}</figure>",
            esc(&ranking.subject),
            esc(output.title),
            ranking_chart(ranking)
        );
        let _ = writeln!(
            h,
            "<table><tr><th rowspan=\"2\">rank</th><th rowspan=\"2\" class=\"text\">authority</th><th rowspan=\"2\" class=\"text\">region</th><th rowspan=\"2\">children aged 0-17 (2023)</th><th colspan=\"5\">{} ({}), percentiles of its runs</th><th rowspan=\"2\">start figures filled in</th></tr><tr><th>median</th><th>5th</th><th>25th</th><th>75th</th><th>95th</th></tr>",
            esc(output.title),
            esc(output.unit())
        );
        for (k, r) in ranking.rows.iter().enumerate() {
            let q = &r.stats.quantiles;
            let filled = warnings.iter().filter(|w| w.code == r.code).count();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"text\"><a href=\"{}.html\">{}</a> <span class=\"range\">{}</span></td><td class=\"text\">{}</td><td>{}</td><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                k + 1,
                esc(&r.code),
                esc(&r.name),
                esc(&r.code),
                esc(&r.region),
                thousands(r.children),
                esc(&output.number(q[2])),
                esc(&output.number(q[0])),
                esc(&output.number(q[1])),
                esc(&output.number(q[3])),
                esc(&output.number(q[4])),
                if filled == 0 {
                    "none".to_string()
                } else {
                    format!("{filled} (see its page)")
                }
            );
        }
        h.push_str("</table>\n");
    }
    if !failures.is_empty() {
        let _ = writeln!(
            h,
            "<h2>Not reported</h2>\n<p class=\"warn\">{} authorit{} could not be reported and {} left out of the ranking:</p><ul>",
            failures.len(),
            if failures.len() == 1 { "y" } else { "ies" },
            if failures.len() == 1 { "is" } else { "are" }
        );
        for f in failures {
            let _ = write!(
                h,
                "<li>{} ({}): {}</li>",
                esc(&f.name),
                esc(&f.code),
                esc(&f.message)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<h2>Sources</h2><ul>");
    for s in sources {
        let _ = write!(h, "<li>{}</li>", esc(s));
    }
    h.push_str("</ul>\n<p class=\"note\">How to read this page: docs/reading-the-outputs.md.</p>\n</body></html>\n");
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(median: f64) -> Stats {
        Stats {
            n: 10,
            mean: median,
            quantiles: vec![
                median - 2.0,
                median - 1.0,
                median,
                median + 1.0,
                median + 2.0,
            ],
        }
    }

    fn ranked(name: &str, median: f64) -> Ranked {
        Ranked {
            code: format!("E0{name}"),
            name: name.into(),
            region: "North".into(),
            children: 1000.0,
            stats: stats(median),
        }
    }

    #[test]
    fn rankings_sort_by_median_either_way_with_undefined_last() {
        let mut rows = vec![
            ranked("b", 2.0),
            ranked("nan", f64::NAN),
            ranked("a", 2.0),
            ranked("c", -5.0),
            ranked("d", 10.0),
        ];
        sort(&mut rows, Order::HighFirst);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["d", "a", "b", "c", "nan"]);
        sort(&mut rows, Order::LowFirst);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["c", "a", "b", "d", "nan"]);
    }

    #[test]
    fn a_misspelt_output_names_the_closest() {
        let e = Output::named("extra_cost_per_chld", true).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("--rank-by `extra_cost_per_chld`"), "{text}");
        assert!(
            text.contains("did you mean `extra_cost_per_child`?"),
            "{text}"
        );
        // Spaces and case as a user may write them.
        assert_eq!(
            Output::named("Entries avoided per 10k", true).unwrap().name,
            "entries_avoided_per_10k"
        );
        // A difference needs a comparison.
        let e = Output::named("entries_avoided", false).unwrap_err();
        assert!(e.to_string().contains("cla_per_10k"), "{e}");
        assert!(Output::named("cla_per_10k", false).is_ok());
        // Every name is unique and its default is one of them.
        for (k, o) in OUTPUTS.iter().enumerate() {
            assert!(OUTPUTS[k + 1..].iter().all(|p| p.name != o.name));
        }
        assert_eq!(Output::default_for(true).kind, OutputKind::Difference);
        assert_eq!(Output::default_for(false).kind, OutputKind::Level);
    }

    /// The chart draws each row where its statistics say, in the
    /// ranking's order, and the table lists the same order and figures.
    #[test]
    fn the_chart_and_table_show_the_rankings_statistics_in_order() {
        let rank_by = Output::named("entries_avoided", true).unwrap();
        let mut rows = vec![ranked("a", 3.0), ranked("b", 30.0), ranked("c", -10.0)];
        sort(&mut rows, Order::HighFirst);
        let ranking = Ranking {
            output: rank_by,
            subject: "alt minus base".into(),
            rows,
        };
        let svg = ranking_chart(&ranking);
        let numbers = |tag: &str, attribute: &str| -> Vec<f64> {
            svg.split(tag)
                .skip(1)
                .map(|t| {
                    let at = t.find(&format!("{attribute}=\"")).unwrap() + attribute.len() + 2;
                    t[at..at + t[at..].find('"').unwrap()].parse().unwrap()
                })
                .collect()
        };
        let dots = numbers("<circle", "cx");
        assert_eq!(dots.len(), 3);
        assert!(dots[0] > dots[1] && dots[1] > dots[2], "{dots:?}");
        // Each row's thin bar spans P5-P95 around its dot, the thick one P25-P75.
        for (k, r) in ranking.rows.iter().enumerate() {
            let row = svg
                .split("<g><title>")
                .nth(k + 1)
                .unwrap_or_else(|| panic!("row {k}"));
            assert!(row.starts_with(&title_start(&r.name)), "{row}");
            let x = |attr: &str, n: usize| -> f64 {
                let t = row.split("<line").nth(n).unwrap();
                let at = t.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
                t[at..at + t[at..].find('"').unwrap()].parse().unwrap()
            };
            let (p5, p95, p25, p75) = (x("x1", 1), x("x2", 1), x("x1", 2), x("x2", 2));
            assert!(
                p5 < p25 && p25 < dots[k] && dots[k] < p75 && p75 < p95,
                "{row}"
            );
        }
        let html = ranking_page(
            std::slice::from_ref(&ranking),
            &[],
            &[],
            Order::HighFirst,
            10,
            1,
            &[],
        )
        .unwrap();
        let positions: Vec<usize> = ["b", "a", "c"]
            .iter()
            .map(|n| {
                html.find(&format!(
                    "<td>{}</td><td class=\"text\"><a href=\"E0{n}.html\">",
                    ["b", "a", "c"].iter().position(|m| m == n).unwrap() + 1
                ))
                .unwrap()
            })
            .collect();
        assert!(positions[0] < positions[1] && positions[1] < positions[2]);
        assert!(
            html.contains("<td><b>30</b></td><td>28</td><td>29</td><td>31</td><td>32</td>"),
            "the table's percentiles"
        );
    }

    fn title_start(name: &str) -> String {
        format!("{name}: ")
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let t = nice_ticks(-37.0, 212.0, 6);
        assert!(t[0] <= -37.0 && *t.last().unwrap() >= 212.0, "{t:?}");
        assert!(t.contains(&0.0), "{t:?}");
        assert_eq!(t[1] - t[0], 50.0);
        let t = nice_ticks(0.2, 0.9, 5);
        assert!(
            t.iter()
                .all(|v| (v * 10.0).round() == v * 10.0 || v * 10.0 % 1.0 < 1e-9)
        );
    }

    #[test]
    fn values_carry_their_units() {
        let per_child = Output::named("extra_cost_per_child", true).unwrap();
        assert_eq!(per_child.show(1234.4), "£1,234 per child");
        assert_eq!(per_child.show(-56.0), "-£56 per child");
        assert_eq!(per_child.show(-0.3), "£0 per child");
        assert_eq!(rate(-0.0001), "0.0");
        assert_eq!(rate(-0.06), "-0.1");
        let rate = Output::named("cla_per_10k", false).unwrap();
        assert_eq!(rate.show(67.34), "67.3 per 10,000 children");
        let n = Output::named("entries_avoided", true).unwrap();
        assert_eq!(n.show(1234.0), "1,234 children");
        let m = Output::named("extra_npv_m", true).unwrap();
        assert_eq!(m.show(12.0), "£12m");
        // An authority's small sums in thousands, never "£0.0m".
        assert_eq!(m.show(0.123), "£123k");
        assert_eq!(m.show(-0.0041), "-£4k");
        assert_eq!(m.show(2.5), "£2.5m");
    }
}
