//! Several ensembles in one submission, split over shards as one list of
//! runs: see [`Plan`].

use super::run::{check_together, run_runs};
use super::shards::join;
use super::{Outcome, Shard};
use crate::error::{Error, Result};
use crate::format::SetWriter;
use crate::format::csv_table::{Cell, CsvTable};
use crate::scenario::{MAX_RUNS, Prepared};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One piece of a [`Plan`]: a run or a comparison, with where its results
/// go and how it is described in `index.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Piece {
    folder: String,
    runs: usize,
    labels: Vec<String>,
}

impl Piece {
    /// A piece whose results go in `folder` (relative to the output
    /// folder; `/` separates subfolders), of `runs` runs, described by
    /// `labels` (one per column of its plan).
    pub fn new(folder: impl Into<String>, runs: usize, labels: Vec<String>) -> Piece {
        Piece {
            folder: folder.into(),
            runs,
            labels,
        }
    }

    /// Its folder, relative to the output folder.
    pub fn folder(&self) -> &str {
        &self.folder
    }

    /// Its runs.
    pub fn runs(&self) -> usize {
        self.runs
    }

    /// Its labels, one per column of the plan.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }
}

/// Columns of `index.csv` and of the combined `quantiles.csv` that a plan's
/// own label columns may not take.
const RESERVED_COLUMNS: &[&str] = &[
    "piece",
    "runs",
    "status",
    "message",
    "scenario",
    "indicator",
    "n",
    "mean",
];

/// The files at the top of a plan's results.
const PLAN_FILES: &[&str] = &["index.csv", "quantiles.csv"];

/// Several ensembles in one submission: pieces (each a run of one scenario
/// or a comparison, e.g. one per local authority or per scenario file)
/// whose runs are spread over the tasks of one array job as a single list,
/// and merged into one folder per piece.
///
/// **Splitting.** The pieces' runs are laid end to end in the plan's order;
/// shard `I` of `N` takes positions `(I-1)·T/N .. I·T/N` of the `T` runs.
/// A task runs whole pieces, or parts of one or two when there are more
/// shards than pieces, and prepares (for example, localises a model for)
/// only the pieces it holds. A plan of one piece splits exactly as
/// [`Shard::runs`] does. Each piece's runs are those of its own ensemble
/// (the same draws as when it runs alone), so the merged folder of a piece
/// is byte-identical to running that piece alone, sharded or not.
///
/// **Files.** A shard writes the folder `partial-I-of-N/` as a set
/// ([`crate::format::SetWriter`]: a retried task replaces it whole):
/// `plan.json` (the plan, the shard and the engine version) and
/// `piece-K.json` for each piece `K` (from 1) it holds part of: its runs,
/// or why the piece failed. [`merge_plan`] reads the folders one piece at a
/// time and writes, like an unsharded [`Plan::run`]:
///
/// - `index.csv`: one row per piece: `piece` (its folder), the plan's label
///   columns, `runs`, `status` (`done` or `failed`) and `message` (why it
///   failed);
/// - `quantiles.csv`: every done piece's `quantiles.csv` rows with `piece`
///   and the labels in front (when the pieces' tables have the same
///   columns);
/// - `FOLDER/summary.json`, `FOLDER/quantiles.csv`, `FOLDER/runs.csv` for
///   each done piece, exactly as [`Outcome::write`] writes them.
///
/// **Failures.** A piece whose scenarios cannot be prepared (the `prepare`
/// function's error, e.g. an authority whose model cannot be made) or
/// whose run fails ([`Error::Run`]) is recorded as failed, with the error,
/// and skipped: the other pieces are run and written. A run that fails is
/// the same run however the plan is split, so the same pieces fail.
///
/// ```
/// use carecascade_engine::ensemble::{Piece, Plan, Shard};
///
/// let plan = Plan::new(
///     vec!["authority".into()],
///     vec![
///         Piece::new("leeds", 100, vec!["Leeds".into()]),
///         Piece::new("york", 100, vec!["York".into()]),
///     ],
/// )?;
/// // Three tasks: the second runs the end of Leeds and the start of York.
/// assert_eq!(plan.assignment(Some(Shard::parse("2/3")?)), vec![(0, 66..100), (1, 0..33)]);
/// # Ok::<(), carecascade_engine::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    columns: Vec<String>,
    pieces: Vec<Piece>,
}

/// What happened to a piece.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PieceStatus {
    /// Its runs ran (and, unsharded or merged, its files were written).
    Done,
    /// It was skipped: the error.
    Failed(String),
}

/// What [`Plan::run`] or [`merge_plan`] did, piece by piece.
#[derive(Debug, Clone)]
pub struct PlanReport {
    /// The plan.
    pub plan: Plan,
    /// The shard run, or `None` for the whole plan (or a merge).
    pub shard: Option<Shard>,
    /// For each piece run (all of them, or the shard's): its index in the
    /// plan, the runs and what happened.
    pub pieces: Vec<(usize, Range<usize>, PieceStatus)>,
    /// The files written.
    pub written: Vec<PathBuf>,
}

impl PlanReport {
    /// The pieces that failed: (folder, error).
    pub fn failures(&self) -> Vec<(&str, &str)> {
        self.pieces
            .iter()
            .filter_map(|(k, _, status)| match status {
                PieceStatus::Failed(message) => {
                    Some((self.plan.pieces[*k].folder.as_str(), message.as_str()))
                }
                PieceStatus::Done => None,
            })
            .collect()
    }
}

/// A piece's part in a shard's folder (`piece-K.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PiecePart {
    /// The piece's index in the plan (from 0).
    piece: usize,
    /// The runs of the piece this part holds.
    runs: Range<usize>,
    /// Its runs, or why the piece failed.
    result: PieceResult,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PieceResult {
    Done(Box<Outcome>),
    Failed(String),
}

/// A shard's `plan.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanHeader {
    version: String,
    shard: Shard,
    plan: Plan,
}

fn invalid(what: impl Into<String>, message: String) -> Error {
    Error::Invalid {
        what: what.into(),
        message,
    }
}

impl Plan {
    /// A plan of `pieces`, each described by one label per column of
    /// `columns` (e.g. `authority_code`, `authority`).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for no pieces; a folder that is not a relative
    /// path of letters, digits, `-`, `_` and `.` (not starting with `.`),
    /// that is `index.csv` or `quantiles.csv`, or that repeats or holds
    /// another piece's folder; runs outside 1 to [`MAX_RUNS`]; a column
    /// repeated or reserved (`piece`, `runs`, `status`, `message`,
    /// `scenario`, `indicator`, `n`, `mean`); or labels that do not match
    /// the columns.
    pub fn new(columns: Vec<String>, pieces: Vec<Piece>) -> Result<Plan> {
        let plan = Plan { columns, pieces };
        plan.validate().map_err(|m| invalid("plan", m))?;
        Ok(plan)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.pieces.is_empty() {
            return Err("has no pieces".into());
        }
        for (k, c) in self.columns.iter().enumerate() {
            if RESERVED_COLUMNS.contains(&c.as_str()) || self.columns[..k].contains(c) {
                return Err(format!(
                    "column `{c}` is repeated or reserved (reserved: {})",
                    RESERVED_COLUMNS.join(", ")
                ));
            }
        }
        for (k, p) in self.pieces.iter().enumerate() {
            let part_ok = |part: &str| {
                !part.is_empty()
                    && !part.starts_with('.')
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            };
            if !p.folder.split('/').all(part_ok) || PLAN_FILES.contains(&p.folder.as_str()) {
                return Err(format!(
                    "piece {}: folder `{}` must be a relative path of letters, digits, `-`, `_` and `.`, not starting with `.`, and not index.csv or quantiles.csv",
                    k + 1,
                    p.folder
                ));
            }
            if !(1..=MAX_RUNS).contains(&p.runs) {
                return Err(format!(
                    "piece `{}` has {} runs: an ensemble has 1 to {MAX_RUNS}",
                    p.folder, p.runs
                ));
            }
            if p.labels.len() != self.columns.len() {
                return Err(format!(
                    "piece `{}` has {} labels for {} columns",
                    p.folder,
                    p.labels.len(),
                    self.columns.len()
                ));
            }
            for other in &self.pieces[..k] {
                let inside = |a: &str, b: &str| {
                    a == b || a.strip_prefix(b).is_some_and(|rest| rest.starts_with('/'))
                };
                if inside(&p.folder, &other.folder) || inside(&other.folder, &p.folder) {
                    return Err(format!(
                        "pieces `{}` and `{}` would share a folder: each piece needs its own",
                        other.folder, p.folder
                    ));
                }
            }
        }
        Ok(())
    }

    /// The label columns.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The pieces, in order.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The runs of every piece together.
    pub fn total_runs(&self) -> usize {
        self.pieces.iter().map(|p| p.runs).sum()
    }

    /// The runs a shard holds, piece by piece: (piece index, runs of that
    /// piece), in order. `None` is every piece whole.
    pub fn assignment(&self, shard: Option<Shard>) -> Vec<(usize, Range<usize>)> {
        let total = self.total_runs() as u128;
        let (from, to) = match shard {
            Some(s) => {
                let at = |k: usize| (k as u128 * total / s.count() as u128) as usize;
                (at(s.index()), at(s.index() + 1))
            }
            None => (0, total as usize),
        };
        let mut out = Vec::new();
        let mut offset = 0;
        for (k, p) in self.pieces.iter().enumerate() {
            let (start, end) = (offset.max(from), (offset + p.runs).min(to));
            if start < end {
                out.push((k, start - offset..end - offset));
            }
            offset += p.runs;
        }
        out
    }

    /// Every file the plan's results may hold, relative to the output
    /// folder (for [`crate::format::check_set`]).
    pub fn result_files(&self) -> Vec<String> {
        PLAN_FILES
            .iter()
            .map(|f| f.to_string())
            .chain(self.pieces.iter().flat_map(|p| {
                Outcome::RESULT_FILES
                    .iter()
                    .map(move |f| format!("{}/{f}", p.folder))
            }))
            .collect()
    }

    /// The folder a shard writes into `output`: `partial-I-of-N`.
    pub fn partial_folder(output: &Path, shard: Shard) -> PathBuf {
        output.join(format!(
            "partial-{}-of-{}",
            shard.index() + 1,
            shard.count()
        ))
    }

    /// Runs the plan, or one shard of it, and writes the results into
    /// `output`: the whole plan's files (see [`Plan`]) as a set, or for a
    /// shard the folder
    /// `output/partial-I-of-N/` for [`merge_plan`]. `prepare(k)` makes
    /// piece `k`'s scenarios ready to run (one for a run, the base first for
    /// a comparison); it is called only for the pieces the shard holds, in
    /// order. `progress` is called after each run.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if a piece's scenarios cannot run together (see
    /// [`super::run_scenarios`]) or do not have the plan's runs; the
    /// errors of writing the files. A piece whose `prepare` fails, or whose
    /// run fails, is not an error: it is reported as failed and skipped.
    pub fn run(
        &self,
        shard: Option<Shard>,
        output: &Path,
        prepare: &mut dyn FnMut(usize) -> Result<Vec<Prepared>>,
        progress: &(dyn Fn() + Sync),
    ) -> Result<PlanReport> {
        self.run_observed(shard, output, prepare, progress, &mut NoObserver)
    }

    /// As [`Plan::run`], and `observer` sees each piece that ran before
    /// its results are written and dropped (to accumulate something across
    /// pieces, e.g. a sum over local authorities run by run, without
    /// holding every piece's runs at once); an unsharded run also writes
    /// the observer's own files into the set (see [`PlanObserver`]).
    ///
    /// # Errors
    ///
    /// As [`Plan::run`], and the observer's errors (which stop the run
    /// before anything is written).
    pub fn run_observed(
        &self,
        shard: Option<Shard>,
        output: &Path,
        prepare: &mut dyn FnMut(usize) -> Result<Vec<Prepared>>,
        progress: &(dyn Fn() + Sync),
        observer: &mut dyn PlanObserver,
    ) -> Result<PlanReport> {
        let assigned = self.assignment(shard);
        let mut pieces = Vec::new();
        let written = match shard {
            Some(shard) => {
                let names: Vec<String> = std::iter::once("plan.json".to_string())
                    .chain(
                        assigned
                            .iter()
                            .map(|(k, _)| format!("piece-{}.json", k + 1)),
                    )
                    .collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                let mut set = SetWriter::new(Plan::partial_folder(output, shard), &names)?;
                let header = PlanHeader {
                    version: env!("CARGO_PKG_VERSION").into(),
                    shard,
                    plan: self.clone(),
                };
                set.add("plan.json", &to_json(&header)?)?;
                for (k, runs) in assigned {
                    let result = self.run_piece(k, runs.clone(), Some(shard), prepare, progress)?;
                    if let PieceResult::Done(outcome) = &result {
                        observer.piece(k, outcome)?;
                    }
                    let status = result.status();
                    let part = PiecePart {
                        piece: k,
                        runs: runs.clone(),
                        result,
                    };
                    set.add(&format!("piece-{}.json", k + 1), &to_json(&part)?)?;
                    pieces.push((k, runs, status));
                }
                set.finish()?
            }
            None => {
                let extra = observer.files();
                let mut writer = PlanWriter::new(self, output, &extra)?;
                for (k, runs) in assigned {
                    let result = self.run_piece(k, runs.clone(), None, prepare, progress)?;
                    if let PieceResult::Done(outcome) = &result {
                        observer.piece(k, outcome)?;
                    }
                    pieces.push((k, runs, writer.piece(k, result)?));
                }
                for (name, bytes) in observer.finish()? {
                    if !extra.contains(&name) {
                        return Err(invalid(
                            "plan observer",
                            format!("wrote `{name}`, which it did not name in `files`"),
                        ));
                    }
                    writer.set.add(&name, &bytes)?;
                }
                writer.finish()?
            }
        };
        Ok(PlanReport {
            plan: self.clone(),
            shard,
            pieces,
            written,
        })
    }

    fn run_piece(
        &self,
        k: usize,
        runs: Range<usize>,
        shard: Option<Shard>,
        prepare: &mut dyn FnMut(usize) -> Result<Vec<Prepared>>,
        progress: &(dyn Fn() + Sync),
    ) -> Result<PieceResult> {
        let piece = &self.pieces[k];
        let prepared = match prepare(k) {
            Ok(p) => p,
            Err(e) => return Ok(PieceResult::Failed(e.to_string())),
        };
        check_together(&prepared)?;
        let runs_of = prepared[0].scenario().runs();
        if runs_of != piece.runs {
            return Err(invalid(
                format!("piece `{}`", piece.folder),
                format!(
                    "has {} runs in the plan but its scenarios have {runs_of}",
                    piece.runs
                ),
            ));
        }
        match run_runs(&prepared, runs, shard, progress) {
            Ok(outcome) => Ok(PieceResult::Done(Box::new(outcome))),
            Err(e @ Error::Run { .. }) => Ok(PieceResult::Failed(e.to_string())),
            Err(e) => Err(e),
        }
    }
}

impl PieceResult {
    fn status(&self) -> PieceStatus {
        match self {
            PieceResult::Done(_) => PieceStatus::Done,
            PieceResult::Failed(m) => PieceStatus::Failed(m.clone()),
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| invalid("partial result", e.to_string()))
}

/// Sees the pieces of a plan as they finish ([`Plan::run_observed`]).
pub trait PlanObserver {
    /// Piece `k` ran: its outcome, before it is written and dropped.
    ///
    /// # Errors
    ///
    /// Any: the run stops, and nothing is written.
    fn piece(&mut self, k: usize, outcome: &Outcome) -> Result<()>;

    /// The names of files of its own an unsharded run writes into the
    /// output folder with the plan's (none by default).
    fn files(&self) -> Vec<String> {
        Vec::new()
    }

    /// After the last piece of an unsharded run: the contents of the
    /// files named by [`PlanObserver::files`] (a file left out is not
    /// written).
    ///
    /// # Errors
    ///
    /// Any: nothing is written.
    fn finish(&mut self) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(Vec::new())
    }
}

/// An observer that does nothing.
struct NoObserver;

impl PlanObserver for NoObserver {
    fn piece(&mut self, _: usize, _: &Outcome) -> Result<()> {
        Ok(())
    }
}

/// Writes a plan's results piece by piece, as one set.
struct PlanWriter<'a> {
    plan: &'a Plan,
    set: SetWriter,
    index: CsvTable<Vec<u8>>,
    quantiles: CsvTable<Vec<u8>>,
    /// The first done piece's `quantiles.csv` header, and whether every
    /// done piece's matched it.
    header: Option<Vec<String>>,
    same_columns: bool,
}

impl<'a> PlanWriter<'a> {
    fn new(plan: &'a Plan, output: &Path, extra: &[String]) -> Result<PlanWriter<'a>> {
        let mut names = plan.result_files();
        names.extend(extra.iter().cloned());
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let set = SetWriter::new(output, &names)?;
        let mut index = CsvTable::in_memory();
        let header = std::iter::once("piece")
            .chain(plan.columns.iter().map(String::as_str))
            .chain(["runs", "status", "message"]);
        index.row(header).map_err(|e| Error::io(output, e))?;
        Ok(PlanWriter {
            plan,
            set,
            index,
            quantiles: CsvTable::in_memory(),
            header: None,
            same_columns: true,
        })
    }

    /// Writes a piece's files (when done) and its row of the index.
    fn piece(&mut self, k: usize, result: PieceResult) -> Result<PieceStatus> {
        let piece = &self.plan.pieces[k];
        let status = result.status();
        let (word, message) = match &status {
            PieceStatus::Done => ("done", ""),
            PieceStatus::Failed(m) => ("failed", m.as_str()),
        };
        let runs = piece.runs.to_string();
        let row = std::iter::once(piece.folder.as_str())
            .chain(piece.labels.iter().map(String::as_str))
            .chain([runs.as_str(), word, message])
            .map(Cell::Text);
        self.index
            .row(row)
            .map_err(|e| Error::io(&piece.folder, e))?;
        let PieceResult::Done(outcome) = result else {
            return Ok(status);
        };
        let quantiles = outcome.quantiles_csv();
        for (file, text) in [
            ("summary.json", outcome.summary_json()),
            ("quantiles.csv", quantiles.clone()),
            ("runs.csv", outcome.runs_csv()),
        ] {
            self.set
                .add(&format!("{}/{file}", piece.folder), text.as_bytes())?;
        }
        // The combined table: this piece's rows with the piece in front.
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(quantiles.as_bytes());
        let mut records = reader.records();
        let header: Vec<String> = match records.next() {
            Some(Ok(r)) => r.iter().map(str::to_string).collect(),
            _ => Vec::new(),
        };
        let prefix: Vec<&str> = std::iter::once(piece.folder.as_str())
            .chain(piece.labels.iter().map(String::as_str))
            .collect();
        match &self.header {
            None => {
                let columns = std::iter::once("piece")
                    .chain(self.plan.columns.iter().map(String::as_str))
                    .chain(header.iter().map(String::as_str));
                self.quantiles
                    .row(columns)
                    .map_err(|e| Error::io(&piece.folder, e))?;
                self.header = Some(header);
            }
            Some(first) if *first != header => self.same_columns = false,
            Some(_) => {}
        }
        if self.same_columns {
            for record in records {
                let record = record.map_err(|e| invalid(&piece.folder, e.to_string()))?;
                let cells = prefix.iter().copied().chain(record.iter()).map(Cell::Text);
                self.quantiles
                    .row(cells)
                    .map_err(|e| Error::io(&piece.folder, e))?;
            }
        }
        Ok(status)
    }

    fn finish(mut self) -> Result<Vec<PathBuf>> {
        let text = |t: CsvTable<Vec<u8>>| t.into_string().map_err(|e| Error::io("index.csv", e));
        let index = text(self.index)?;
        self.set.add("index.csv", index.as_bytes())?;
        // Pieces whose tables have different columns (e.g. other period
        // labels or quantiles) have only their own.
        if self.header.is_some() && self.same_columns {
            let quantiles = text(self.quantiles)?;
            self.set.add("quantiles.csv", quantiles.as_bytes())?;
        }
        self.set.finish()
    }
}

/// The shard folders among `paths`: each path is a shard's folder
/// (`partial-I-of-N`, holding `plan.json`) or a folder holding such
/// folders.
///
/// # Errors
///
/// [`Error::Io`] if a folder cannot be read; [`Error::Invalid`] for a path
/// that is neither, or a folder that also holds a partial result of one
/// ensemble (`partial-I-of-N.json`), naming it.
pub fn plan_partials(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.join("plan.json").is_file() {
            out.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
        let partials: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| {
                f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("partial-"))
            })
            .collect();
        if let Some(single) = partials.iter().find(|f| f.is_file()) {
            return Err(invalid(
                path.display().to_string(),
                format!(
                    "holds a partial result of one ensemble ({}) besides shards of a plan: merge each submission's partial results separately",
                    single.display()
                ),
            ));
        }
        let mut found: Vec<PathBuf> = partials
            .into_iter()
            .filter(|f| f.join("plan.json").is_file())
            .collect();
        if found.is_empty() {
            return Err(invalid(
                path.display().to_string(),
                "holds no partial results of a plan (partial-I-of-N/plan.json)".into(),
            ));
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// Merges the folders the shards of a plan wrote (`partial-I-of-N/`, see
/// [`Plan::run`]) into the whole plan's results in `output`, exactly as an
/// unsharded [`Plan::run`] writes them. It holds one piece at a time in
/// memory. Identical copies of a shard (a retried task) count once.
///
/// # Errors
///
/// [`Error::Invalid`] if the folders come from another engine version,
/// from different plans or splits, a shard is missing (naming every
/// missing one, to rerun just those) or given twice with different files,
/// or a shard's folder lacks a piece or holds one that is not the part the
/// plan gives it; [`Error::Io`] for a file that cannot be read or written.
/// Failed pieces are not errors: they are named in the report and in
/// `index.csv`.
pub fn merge_plan(folders: &[PathBuf], output: &Path) -> Result<PlanReport> {
    let what = "merge";
    if folders.is_empty() {
        return Err(invalid(what, "no partial results given".into()));
    }
    let read = |path: &Path| std::fs::read(path).map_err(|e| Error::io(path, e));
    let mut headers: Vec<(PathBuf, PlanHeader)> = Vec::new();
    for folder in folders {
        let path = folder.join("plan.json");
        let header: PlanHeader = serde_json::from_slice(&read(&path)?).map_err(|e| {
            invalid(
                path.display().to_string(),
                format!("not a plan shard's plan.json: {e}"),
            )
        })?;
        header
            .plan
            .validate()
            .map_err(|m| invalid(path.display().to_string(), format!("invalid plan: {m}")))?;
        Shard::new(header.shard.index(), header.shard.count())
            .map_err(|e| invalid(path.display().to_string(), e.to_string()))?;
        let engine = env!("CARGO_PKG_VERSION");
        if header.version != engine {
            return Err(invalid(
                what,
                format!(
                    "shard {} ({}) was written by engine version {}, this is {engine}: run every shard with the same version",
                    header.shard,
                    folder.display(),
                    header.version
                ),
            ));
        }
        headers.push((folder.clone(), header));
    }
    let (first_folder, first) = &headers[0];
    let plan = first.plan.clone();
    let count = first.shard.count();
    for (folder, h) in &headers[1..] {
        if h.shard.count() != count {
            return Err(invalid(
                what,
                format!(
                    "the shards split the plan differently ({} is shard {}, {} is shard {}): every shard must come from the same N",
                    first_folder.display(),
                    first.shard,
                    folder.display(),
                    h.shard
                ),
            ));
        }
        if h.plan != plan {
            let differs = if h.plan.columns != plan.columns {
                "their label columns differ".to_string()
            } else {
                match h
                    .plan
                    .pieces
                    .iter()
                    .zip(&plan.pieces)
                    .position(|(a, b)| a != b)
                {
                    Some(k) => format!(
                        "piece {} is `{}` ({} runs) in one and `{}` ({} runs) in the other",
                        k + 1,
                        plan.pieces[k].folder,
                        plan.pieces[k].runs,
                        h.plan.pieces[k].folder,
                        h.plan.pieces[k].runs
                    ),
                    None => format!(
                        "one has {} pieces and the other {}",
                        plan.pieces.len(),
                        h.plan.pieces.len()
                    ),
                }
            };
            return Err(invalid(
                what,
                format!(
                    "{} and {} come from different submissions: {differs}",
                    first_folder.display(),
                    folder.display()
                ),
            ));
        }
    }
    // One folder per shard; a repeated shard must be an identical copy.
    let mut by_shard: Vec<Option<&Path>> = vec![None; count];
    for (folder, h) in &headers {
        let slot = &mut by_shard[h.shard.index()];
        match slot {
            None => *slot = Some(folder),
            Some(other) => {
                let files = std::iter::once("plan.json".to_string()).chain(
                    plan.assignment(Some(h.shard))
                        .into_iter()
                        .map(|(k, _)| format!("piece-{}.json", k + 1)),
                );
                for file in files {
                    let (a, b) = (other.join(&file), folder.join(&file));
                    if read(&a)? != read(&b)? {
                        return Err(invalid(
                            what,
                            format!(
                                "shard {} was given twice with different results ({} and {}): keep one (rerun it if unsure)",
                                h.shard,
                                other.display(),
                                folder.display()
                            ),
                        ));
                    }
                }
            }
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|&i| by_shard[i].is_none())
        .map(|i| format!("{}/{count}", i + 1))
        .collect();
    if !missing.is_empty() {
        return Err(invalid(
            what,
            format!(
                "need each of the {count} shards; missing: {} (rerun just those)",
                missing.join(", ")
            ),
        ));
    }
    // Which shard holds which runs of each piece.
    let mut holders: Vec<Vec<(usize, Range<usize>)>> = vec![Vec::new(); plan.pieces.len()];
    for s in 0..count {
        let shard = Shard::new(s, count)?;
        for (k, runs) in plan.assignment(Some(shard)) {
            holders[k].push((s, runs));
        }
    }
    let mut writer = PlanWriter::new(&plan, output, &[])?;
    let mut pieces = Vec::new();
    for (k, parts) in holders.into_iter().enumerate() {
        let mut outcomes = Vec::new();
        let mut failed = None;
        for (s, runs) in parts {
            let folder = by_shard[s].unwrap_or(Path::new(""));
            let path = folder.join(format!("piece-{}.json", k + 1));
            let bytes = std::fs::read(&path).map_err(|e| {
                invalid(
                    path.display().to_string(),
                    format!(
                        "shard {}/{count} holds runs {}..{} of piece `{}` but not this file ({e}): rerun that shard",
                        s + 1,
                        runs.start,
                        runs.end,
                        plan.pieces[k].folder
                    ),
                )
            })?;
            let part: PiecePart = serde_json::from_slice(&bytes).map_err(|e| {
                invalid(
                    path.display().to_string(),
                    format!("not a piece of a plan shard: {e}"),
                )
            })?;
            if part.piece != k || part.runs != runs {
                return Err(invalid(
                    path.display().to_string(),
                    format!(
                        "holds piece {} runs {}..{}, not piece {} runs {}..{} as the plan gives shard {}/{count}",
                        part.piece + 1,
                        part.runs.start,
                        part.runs.end,
                        k + 1,
                        runs.start,
                        runs.end,
                        s + 1
                    ),
                ));
            }
            match part.result {
                PieceResult::Done(outcome) => {
                    outcome.check().map_err(|m| {
                        invalid(
                            path.display().to_string(),
                            format!("not a consistent partial result: {m}"),
                        )
                    })?;
                    let held: Vec<usize> = outcome
                        .ensembles
                        .iter()
                        .flat_map(|e| e.runs.iter().map(|r| r.run))
                        .collect();
                    let expected = runs.clone().cycle().take(held.len());
                    if held.len() != runs.len() * outcome.ensembles.len()
                        || !held.iter().copied().eq(expected)
                    {
                        return Err(invalid(
                            path.display().to_string(),
                            format!("does not hold exactly runs {}..{}", runs.start, runs.end),
                        ));
                    }
                    outcomes.push(*outcome);
                }
                PieceResult::Failed(message) => {
                    failed.get_or_insert(message);
                }
            }
        }
        let result = match failed {
            Some(message) => PieceResult::Failed(message),
            None => PieceResult::Done(Box::new(join(outcomes)?)),
        };
        let total = plan.pieces[k].runs;
        pieces.push((k, 0..total, writer.piece(k, result)?));
    }
    let written = writer.finish()?;
    Ok(PlanReport {
        plan,
        shard: None,
        pieces,
        written,
    })
}
