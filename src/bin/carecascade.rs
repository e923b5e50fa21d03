//! The carecascade command line: a thin shell over the library.

use carecascade::engine::Limits;
use carecascade::engine::chart::thousands;
use carecascade::engine::ensemble::{RunOptions, Shard};
use carecascade::engine::format::{save_model, write_atomic};
use carecascade::load_model;
use carecascade::{Error, Method, Program};
use clap::{Parser, Subcommand};
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// System-dynamics simulation of children's social care.
#[derive(Parser)]
#[command(name = "carecascade", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The most elements a model may have: its dimensions' elements
    /// together, and its values once arrays are expanded (docs/limits.md).
    #[arg(long, global = true, value_name = "N", default_value_t = Limits::DEFAULT.elements)]
    max_elements: u64,
    /// The most terms a model's equations may have once arrays are
    /// expanded (docs/limits.md).
    #[arg(long, global = true, value_name = "N", default_value_t = Limits::DEFAULT.terms)]
    max_terms: u64,
    /// The most values one run may keep: saved times x saved variables
    /// (docs/limits.md).
    #[arg(long, global = true, value_name = "N", default_value_t = Limits::DEFAULT.stored_values)]
    max_values: u64,
    /// How runs evaluate the model: `compiled` (machine code generated at
    /// start-up) or `interpreter` (the reference), for every run. Both give
    /// the same numbers bit for bit; a model the compiler cannot handle runs
    /// interpreted. Without it every run is compiled: single runs, and the
    /// batches of lanes of ensembles and calibration.
    #[arg(long, global = true, value_name = "BACKEND", value_parser = ["compiled", "interpreter"])]
    backend: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a model and write its results as CSV (a `Time` column, then one
    /// column per variable).
    Simulate {
        /// The model file: `.toml` (native), `.xmile`, `.stmx`, `.itmx`
        /// (XMILE) or `.mdl` (Vensim), or a built-in model (`england`).
        model: PathBuf,
        /// Set a constant for this run, e.g. `--set "Contact Infectivity=0.4"`.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Integration method.
        #[arg(long, value_enum)]
        method: Option<MethodArg>,
        /// Integration step (a number or a fraction such as 1/52).
        #[arg(long, allow_negative_numbers = true)]
        dt: Option<String>,
        /// Stop time.
        #[arg(long, allow_negative_numbers = true)]
        stop: Option<f64>,
        /// Write the CSV here instead of to standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Convert a model between the native format (`.toml`) and XMILE
    /// (`.xmile`), by file extension; Vensim `.mdl` files can be read.
    Convert {
        /// The model to read.
        input: PathBuf,
        /// The file to write; its extension chooses the format.
        output: PathBuf,
    },
    /// Check a model: report errors and unit inconsistencies. The exit
    /// status is non-zero if there are errors (or warnings, with
    /// `--deny-warnings`).
    Check {
        /// The model file: `.toml` (native), `.xmile`, `.stmx`, `.itmx`
        /// (XMILE) or `.mdl` (Vensim), or a built-in model (`england`).
        model: PathBuf,
        /// Treat unit warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Fit a model's parameters to observed series: by weighted least
    /// squares (Nelder-Mead from several starts) with `--output`, or, with
    /// `--posterior`, sample their posterior given priors and an
    /// observation model (the spec's [likelihood] and [mcmc]) and write the
    /// draws (see `carecascade::calibrate`).
    Calibrate {
        /// The model (`england`, or a file).
        model: PathBuf,
        /// Observed series: a CSV with a `year` column (reporting years
        /// ending 31 March) and columns named as the projection's.
        #[arg(long)]
        data: PathBuf,
        /// What to fit: a TOML file with [calibration], [series] weights and
        /// [parameters."name"] bounds.
        #[arg(long)]
        params: PathBuf,
        /// Where to write the fitted values (TOML).
        #[arg(
            long,
            short,
            required_unless_present = "posterior",
            conflicts_with = "posterior"
        )]
        output: Option<PathBuf>,
        /// Sample the posterior instead, and write its draws here (CSV); a
        /// scenario names the file in `[posterior]`.
        #[arg(long)]
        posterior: Option<PathBuf>,
        /// Write the posterior even if the chains have not converged (the
        /// file then says so, and scenarios refuse it).
        #[arg(long, requires = "posterior")]
        accept_unconverged: bool,
        /// Start the walkers from draws of an earlier posterior file of the
        /// same parameters (e.g. a shorter run) instead of around a fresh
        /// mode search; convergence is judged on the new run.
        #[arg(long, requires = "posterior")]
        start_from: Option<PathBuf>,
        /// Also write the fitted values into the model file, keeping its
        /// comments and layout.
        #[arg(long, conflicts_with = "posterior")]
        update_model: bool,
    },
    /// Rolling-origin backtest: for each origin year, sample the posterior
    /// from the data up to it and forecast one and two years ahead; score
    /// the forecasts against the outturns and the naive forecasts, and
    /// write the tables (Markdown) and the results (JSON beside them).
    Backtest {
        /// The model (`england`, or a file).
        #[arg(default_value = "england")]
        model: PathBuf,
        /// Observed series (CSV with a `year` column).
        #[arg(long, default_value = "data/england_national.csv")]
        data: PathBuf,
        /// The calibration spec: priors, [likelihood] (restarting, horizon
        /// 2) and [mcmc].
        #[arg(long, default_value = "models/england.calibrate.toml")]
        params: PathBuf,
        /// Origins (last year fitted), e.g. `2016-2021` or `2019,2021`.
        #[arg(long, default_value = "2016-2021")]
        origins: String,
        /// Posterior draws per forecast.
        #[arg(long, default_value_t = 400)]
        draws: usize,
        /// The Markdown file to write; the results go beside it as `.json`
        /// and the charts in a folder of the same name.
        #[arg(long, short, default_value = "docs/backtest.md")]
        output: PathBuf,
        /// The posterior of the whole window (for the in-sample fit).
        #[arg(long, default_value = "models/england.posterior.csv")]
        posterior: PathBuf,
        /// Sampler steps for each origin's fit, instead of the spec's
        /// (the burn-in is half, thinned to keep 150 steps per walker).
        #[arg(long)]
        steps: Option<usize>,
        /// Sampling rounds per origin: a fit whose chains have not
        /// converged is sampled again from its own draws, up to this many
        /// rounds in all.
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        /// Forecast from fits whose chains have not converged, flagging
        /// each in the results, instead of refusing.
        #[arg(long)]
        accept_unconverged: bool,
    },
    /// Make a local authority's model from the England model: its own
    /// children, cases and social workers, national money in proportion to
    /// its children, and its referral, protection, care and exit rates
    /// fitted to its published figures (see `carecascade::local`).
    Localise {
        /// The model to localise (`england`, or a file with its names).
        model: PathBuf,
        /// The authority: ONS code (`E08000035`) or name (`Leeds`) of a
        /// current authority (predecessors of reorganised authorities are
        /// refused, naming their successors).
        #[arg(long)]
        area: String,
        /// Start from the stocks of 31 March of this year (2021 or later:
        /// children looked after are published by authority from 2021).
        #[arg(long, default_value_t = 2021, allow_negative_numbers = true)]
        from: i32,
        /// Where to write the local model (`.toml` or `.xmile`).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Calibrate every local authority's rates together (partially pooled
    /// Bayesian calibration, see `carecascade::pooled`) and write their
    /// draws, which local ensembles (`run`/`compare --area`) draw from.
    CalibrateLocal {
        /// The model to localise (`england`, or a file with its names).
        #[arg(default_value = "england")]
        model: PathBuf,
        /// Authorities: ONS codes or names, or `all` (the default: every
        /// current authority). Pooling learns from many: fit them together.
        #[arg(long, default_values_t = ["all".to_string()])]
        area: Vec<String>,
        /// The last reporting year fitted (hold later years out).
        #[arg(long, default_value_t = carecascade::pooled::HISTORY_TO)]
        to: i32,
        /// Sweeps of the sampler, burn-in included.
        #[arg(long, default_value_t = 1000)]
        sweeps: usize,
        /// Burn-in sweeps (proposals adapt during them).
        #[arg(long, default_value_t = 400)]
        burn: usize,
        /// Draws kept (over all chains).
        #[arg(long, default_value_t = 200)]
        keep: usize,
        /// Seed.
        #[arg(long, default_value_t = 20_230_331)]
        seed: u64,
        /// The weight of a figure one year older than the next (a
        /// forgetting factor in (0, 1]): a figure `a` years before the
        /// last fitted year counts `discount^a`.
        #[arg(long, default_value_t = carecascade::pooled::DISCOUNT)]
        discount: f64,
        /// Hold this local rate at England's value for every authority
        /// instead of fitting it (repeat for more; `none` fits every rate);
        /// the draws file says so. `cp exit rate` by default: the figures
        /// barely tell it apart across authorities.
        #[arg(long, default_values_t = default_hold())]
        hold: Vec<String>,
        /// Further sweeps allowed if the chains have not converged after
        /// --sweeps: the run goes on in blocks of half the kept sweeps,
        /// checking after each (0 never extends; the extra draws are kept
        /// too).
        #[arg(long, default_value_t = carecascade::pooled::EXTEND)]
        extend: usize,
        /// Write the draws even if the chains have not converged (the file
        /// says so, and scenarios refuse it).
        #[arg(long)]
        accept_unconverged: bool,
        /// Where to write the draws (CSV); the population's draws go beside
        /// it, with `.population.csv` for `.csv`.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Rolling-origin backtest of every local authority: for each origin,
    /// calibrate all authorities together on the figures up to it and
    /// forecast each one's stocks one and two years ahead; score against
    /// each authority's last published figure and write the tables
    /// (Markdown) and the results (JSON beside them).
    BacktestLocal {
        /// The model (`england`, or a file with its names).
        #[arg(default_value = "england")]
        model: PathBuf,
        /// Origins (last year fitted), e.g. `2018-2021`.
        #[arg(long, default_value = "2018-2021")]
        origins: String,
        /// Sweeps of each origin's calibration, burn-in included.
        #[arg(long, default_value_t = 1000)]
        sweeps: usize,
        /// Burn-in sweeps.
        #[arg(long, default_value_t = 400)]
        burn: usize,
        /// Draws kept, each forecast using all of them.
        #[arg(long, default_value_t = 200)]
        keep: usize,
        /// The weight of a figure one year older than the next (a
        /// forgetting factor in (0, 1]): a figure `a` years before the
        /// last fitted year counts `discount^a`.
        #[arg(long, default_value_t = carecascade::pooled::DISCOUNT)]
        discount: f64,
        /// Hold this local rate at England's value in every origin's
        /// calibration (repeat for more; `none` fits every rate).
        #[arg(long, default_values_t = default_hold())]
        hold: Vec<String>,
        /// Further sweeps each origin's calibration may run if its chains
        /// have not converged after --sweeps (0 never extends).
        #[arg(long, default_value_t = carecascade::pooled::EXTEND)]
        extend: usize,
        /// The Markdown file to write; the results go beside it as `.json`.
        #[arg(long, short, default_value = "docs/local-validation.md")]
        output: PathBuf,
        /// Write the Markdown again from the results already beside it
        /// (`.json`), without running anything.
        #[arg(long)]
        render: bool,
    },
    /// Compare a model with every published series it produces and write
    /// a Markdown report with charts (SVG, in a folder named after the
    /// report), ending with the evaluations it cites run through it (as
    /// `evaluate`, with scenarios/baseline.toml's uncertain parameters).
    Validate {
        /// The model (`england`, or a file).
        #[arg(default_value = "england")]
        model: PathBuf,
        /// National series (default: the shipped data/england_national.csv).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Workforce series at 30 September (default: the shipped national
        /// rows of data/workforce.csv).
        #[arg(long)]
        workforce: Option<PathBuf>,
        /// A calibration spec: also fit it without the last three years and
        /// report the error on them (out of sample).
        #[arg(long)]
        params: Option<PathBuf>,
        /// The report to write (e.g. `docs/validation.md`); charts go in a
        /// folder beside it. Without it, only the table of errors is
        /// printed and nothing is written.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Chart format.
        #[arg(long, value_enum, default_value_t = ChartFormat::Svg)]
        charts: ChartFormat,
    },
    /// Run the evaluations the model cites (Supporting Families, Family
    /// Safeguarding, Bennett et al., Webb) through it, with the evaluated
    /// design and a group like the evaluated one, and compare the model's
    /// effects with the published effects and intervals.
    Evaluate {
        /// The model (`england`, or a file with the England model's stages).
        #[arg(default_value = "england")]
        model: PathBuf,
        /// The scenario whose uncertain parameters give the model's 90%
        /// ranges.
        #[arg(long, default_value = "scenarios/baseline.toml")]
        uncertain: PathBuf,
        /// Draws of the uncertain parameters.
        #[arg(long, default_value_t = carecascade::evaluations::Settings::default().draws)]
        draws: usize,
        /// Replace the evaluations section of this Markdown file (e.g.
        /// `docs/validation.md`, between its markers; appended if it has
        /// none) instead of printing it.
        #[arg(long)]
        update: Option<PathBuf>,
    },
    /// Describe a model for people: its stock-and-flow diagram and tables
    /// of stocks, flows and parameters with their sources, generated from
    /// the model itself.
    Describe {
        /// The model (`england`, or a file).
        model: PathBuf,
        /// `markdown` (diagram and tables), `mermaid` or `dot` (diagram only).
        #[arg(long, value_enum, default_value_t = DescribeFormat::Markdown)]
        format: DescribeFormat,
        /// Replace the generated part of this Markdown file (between its
        /// `<!-- generated by carecascade describe ... -->` markers).
        #[arg(long, conflicts_with = "output")]
        update: Option<PathBuf>,
        /// Write here instead of to standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Run a scenario file as a Monte Carlo ensemble (in parallel) and
    /// write DIR/summary.json, DIR/quantiles.csv and DIR/runs.csv. Several
    /// files (or --area) run each as its own ensemble, in a folder of DIR
    /// named after it, with DIR/index.csv listing them.
    Run {
        /// The scenario file(s) (TOML).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        #[command(flatten)]
        ensemble: EnsembleArgs,
    },
    /// Run scenarios on the same draws of their shared uncertain parameters
    /// (common random numbers) and report ALT minus BASE, run by run. With
    /// --area, the comparison is made for each local authority, in a folder
    /// of DIR named by its ONS code, with DIR/index.csv listing them.
    Compare {
        /// The base scenario.
        base: PathBuf,
        /// One or more alternatives.
        #[arg(required = true)]
        alternatives: Vec<PathBuf>,
        #[command(flatten)]
        ensemble: EnsembleArgs,
    },
    /// Run scenarios (the first is the base) and write one self-contained
    /// HTML report: questions and assumptions, key figures with intervals,
    /// fan charts, differences from the base, the break-even year, the fit
    /// to the past and the sources of the parameters. With --area, a page
    /// per local authority (its fit to its own figures, its projection and
    /// the scenarios' answer for it) in DIR/CODE.html, and DIR/index.html
    /// ranking the authorities by --rank-by with intervals.
    Report {
        /// Scenario files; the first is the base the others are compared with.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Runs (overrides the scenario files; with --area, default 500 per
        /// scenario and authority).
        #[arg(long)]
        runs: Option<usize>,
        /// Seed (overrides the scenario files).
        #[arg(long)]
        seed: Option<u64>,
        /// Base samples of the Sobol analyses behind "What drives this
        /// answer" (N (k + 2) runs per scenario for k uncertain
        /// parameters); 0 leaves the section out. Not with --area.
        #[arg(long, conflicts_with = "area")]
        drivers: Option<usize>,
        /// A page for each local authority (as `compare --area`): an ONS
        /// code or a name, repeated for several, or `all` for every current
        /// authority (the 152 publishing figures for 2023).
        #[arg(long, value_name = "NAME|CODE|all")]
        area: Vec<String>,
        /// With --area: the output the authorities are ranked by on
        /// index.html, e.g. extra_cost_per_child (the default for a
        /// comparison), entries_avoided_per_10k, cla_per_10k (the default
        /// for one scenario); docs/reading-the-outputs.md lists them all.
        #[arg(long, value_name = "OUTPUT", requires = "area")]
        rank_by: Option<String>,
        /// With --area: rank the lowest median first instead of the highest.
        #[arg(long, requires = "area")]
        lowest_first: bool,
        /// The HTML file to write (default report.html); with --area, the
        /// folder (default reports): index.html, ranking.csv and CODE.html
        /// per authority.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Global sensitivity analysis: which of a scenario's uncertain
    /// parameters its outputs depend on (Sobol indices with bootstrap
    /// intervals, or Morris screening), or, with --against, its paired
    /// difference from a base (the same design point run in both). Prints
    /// a table per output, most influential first (docs/sensitivity.md).
    Sensitivity(SensitivityArgs),
    /// Combine the partial results of sharded runs (`--shard I/N`) into
    /// exactly what one machine would have written.
    Merge {
        /// The partial results (`partial-I-of-N.json`, or the folders
        /// `partial-I-of-N/` of several scenarios or authorities), or
        /// folders holding them.
        #[arg(required = true)]
        partials: Vec<PathBuf>,
        /// Where to write the results.
        #[arg(long, short, default_value = "results")]
        output: PathBuf,
    },
    /// Project a model by reporting year ending 31 March: stocks at 31
    /// March, flows summed over the year, with DfE's column names where DfE
    /// publishes the quantity (see `carecascade::project`).
    Project {
        /// The model (`england`, or a file with the same variable names).
        model: PathBuf,
        /// The reporting year to start from, at its 31 March published
        /// stocks (default: the last observed year, 2023).
        #[arg(long, default_value_t = 2023, allow_negative_numbers = true)]
        from: i32,
        /// How many years to project.
        #[arg(long, default_value_t = 10)]
        years: usize,
        /// Set a constant for this run, e.g. `--set "extra prevention spend=200"`.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Write the CSV here instead of to standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Integration methods.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum MethodArg {
    /// Euler (Vensim's and Stella's default).
    Euler,
    /// Classical fourth-order Runge-Kutta.
    Rk4,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Method {
        match m {
            MethodArg::Euler => Method::Euler,
            MethodArg::Rk4 => Method::Rk4,
        }
    }
}

/// Chart file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ChartFormat {
    /// Scalable vector graphics.
    Svg,
    /// PNG bitmaps.
    Png,
}

/// Sensitivity methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SensitivityMethod {
    /// Sobol first- and total-order indices (Saltelli design; Saltelli
    /// et al. 2010 first-order and Jansen total-order estimators).
    Sobol,
    /// Morris elementary effects (screening).
    Morris,
}

/// What `describe` writes.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum DescribeFormat {
    /// The diagram and tables of stocks, flows and parameters.
    Markdown,
    /// The diagram as a Mermaid flowchart.
    Mermaid,
    /// The diagram in Graphviz dot.
    Dot,
}

/// Options shared by `run` and `compare`.
#[derive(clap::Args)]
struct EnsembleArgs {
    /// Runs (overrides the scenario files).
    #[arg(long)]
    runs: Option<usize>,
    /// Seed (overrides the scenario files).
    #[arg(long)]
    seed: Option<u64>,
    /// Where to write the results.
    #[arg(long, short, default_value = "results")]
    output: PathBuf,
    /// Run only shard I of N (1-based, e.g. `--shard 2/8`) and write
    /// DIR/partial-I-of-N.json for `carecascade merge`; `--shard auto` reads
    /// the shard from a job scheduler's array task (Slurm, AWS Batch, Google
    /// Cloud Batch, Kubernetes Indexed Jobs with --shards N).
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// The number of shards, for `--shard auto` where the scheduler does not
    /// say (Kubernetes Indexed Jobs); checked against it where it does.
    #[arg(long, value_name = "N")]
    shards: Option<usize>,
    /// Ask the question of a local authority's model (made from the
    /// scenarios' model as `carecascade localise` makes it, from 31 March
    /// 2021): an ONS code or a name, repeated for several, or `all` for
    /// every current authority (the 152 publishing figures for 2023). Each
    /// is its own ensemble, in DIR/CODE; start figures an authority did not
    /// publish are filled in and listed (warnings, and index.csv's
    /// filled_start_figures); authorities whose model cannot be made are
    /// reported and skipped.
    #[arg(long, value_name = "NAME|CODE|all")]
    area: Vec<String>,
}

/// The stack of the thread that reads, compiles and runs models: equations
/// may nest up to `carecascade_engine::expr::MAX_DEPTH` levels, and the
/// parser and compiler recurse once per level (tens of KiB a level in a
/// debug build), more than a main thread's usual 8 MiB allows.
const STACK_BYTES: usize = 512 << 20;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match std::thread::Builder::new()
        .name("carecascade".into())
        .stack_size(STACK_BYTES)
        .spawn(move || run(cli))
    {
        Ok(worker) => worker.join().unwrap_or(ExitCode::FAILURE),
        Err(e) => {
            eprintln!("error: cannot start the worker thread: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> ExitCode {
    Limits {
        elements: cli.max_elements,
        terms: cli.max_terms,
        stored_values: cli.max_values,
    }
    .set();
    match cli
        .backend
        .as_deref()
        .map(str::parse::<carecascade::Backend>)
    {
        None => {}
        Some(Ok(backend)) => backend.set_process_default(),
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let result = match cli.command {
        Command::Simulate {
            model,
            set,
            method,
            dt,
            stop,
            output,
        } => simulate(model, &set, method, dt, stop, output),
        Command::Convert { input, output } => convert(input, output),
        Command::Run {
            scenarios,
            ensemble,
        } => run_ensemble(scenarios, false, ensemble),
        Command::Compare {
            base,
            alternatives,
            ensemble,
        } => {
            let mut all = vec![base];
            all.extend(alternatives);
            run_ensemble(all, true, ensemble)
        }
        Command::Merge { partials, output } => merge(partials, output),
        Command::Sensitivity(args) => sensitivity(args),
        Command::Report {
            scenarios,
            runs,
            seed,
            drivers,
            area,
            rank_by,
            lowest_first,
            output,
        } => {
            if area.is_empty() {
                html_report(
                    scenarios,
                    runs,
                    seed,
                    drivers.unwrap_or(carecascade::drivers::DEFAULT_SAMPLES),
                    output.unwrap_or_else(|| "report.html".into()),
                )
            } else {
                council_report(
                    scenarios,
                    runs,
                    seed,
                    &area,
                    rank_by.as_deref(),
                    lowest_first,
                    output.unwrap_or_else(|| "reports".into()),
                )
            }
        }
        Command::Describe {
            model,
            format,
            update,
            output,
        } => describe(model, format, update, output),
        Command::Evaluate {
            model,
            uncertain,
            draws,
            update,
        } => evaluate(model, uncertain, draws, update),
        Command::Validate {
            model,
            data,
            workforce,
            params,
            output,
            charts,
        } => validate(model, data, workforce, params, output, charts),
        Command::Localise {
            model,
            area,
            from,
            output,
        } => localise(model, &area, from, output),
        Command::BacktestLocal {
            model,
            origins,
            sweeps,
            burn,
            keep,
            discount,
            hold,
            extend,
            output,
            render,
        } => {
            if render {
                render_local_backtest(output)
            } else {
                backtest_local(
                    model,
                    &origins,
                    (sweeps, burn, keep, extend),
                    (discount, hold),
                    output,
                )
            }
        }
        Command::CalibrateLocal {
            model,
            area,
            to,
            sweeps,
            burn,
            keep,
            seed,
            discount,
            hold,
            extend,
            accept_unconverged,
            output,
        } => calibrate_local(
            model,
            &area,
            carecascade::pooled::PoolSettings {
                to,
                sweeps,
                burn,
                keep,
                seed,
                discount,
                hold,
                extend,
            },
            accept_unconverged,
            output,
        ),
        Command::Calibrate {
            model,
            data,
            params,
            output: Some(output),
            update_model,
            ..
        } => calibrate(model, data, params, output, update_model),
        Command::Calibrate {
            model,
            data,
            params,
            posterior: Some(posterior),
            accept_unconverged,
            start_from,
            ..
        } => calibrate_posterior(
            model,
            data,
            params,
            posterior,
            accept_unconverged,
            start_from,
        ),
        Command::Calibrate { .. } => unreachable!("clap requires --output or --posterior"),
        Command::Backtest {
            model,
            data,
            params,
            origins,
            draws,
            output,
            posterior,
            steps,
            rounds,
            accept_unconverged,
        } => backtest(
            model,
            data,
            params,
            &origins,
            draws,
            output,
            posterior,
            steps,
            rounds,
            accept_unconverged,
        ),
        Command::Project {
            model,
            from,
            years,
            set,
            output,
        } => project(model, from, years, &set, output),
        Command::Check {
            model,
            deny_warnings,
        } => check(model, deny_warnings),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

fn report(e: &Error) {
    let mut stderr = std::io::stderr().lock();
    const SHOWN: usize = 30;
    let count = e.iter().count();
    for error in e.iter().take(SHOWN) {
        let _ = writeln!(stderr, "error: {error}");
    }
    if count > SHOWN {
        let _ = writeln!(stderr, "... and {} more errors", count - SHOWN);
    }
}

fn simulate(
    model_path: PathBuf,
    sets: &[String],
    method: Option<MethodArg>,
    dt: Option<String>,
    stop: Option<f64>,
    output: Option<PathBuf>,
) -> Result<ExitCode, Error> {
    let model = load_model(&model_path)?;
    let program = Program::compile(&model)?;
    if !program.warnings().is_empty() {
        eprintln!(
            "note: {} unit warning(s); run `carecascade check {}` to see them",
            program.warnings().len(),
            model_path.display()
        );
    }
    let mut state = program.state();
    let mut time = *program.time();
    if let Some(dt) = dt {
        time = time.with_dt(parse_number(&dt, "--dt")?)?;
    }
    if let Some(stop) = stop {
        time = time.with_stop(stop)?;
    }
    if let Some(method) = method {
        time = time.with_method(method.into());
    }
    state.set_time(time);
    apply_sets(&mut state, sets)?;
    let results = state.run()?;
    if let Some(fallback) = state.fallback() {
        eprintln!("note: {fallback}");
    }
    write_output(output, |out| results.write_csv(out))
}

fn apply_sets(state: &mut carecascade::State, sets: &[String]) -> Result<(), Error> {
    for assignment in sets {
        let Some((name, value)) = assignment.split_once('=') else {
            return Err(Error::Invalid {
                what: "--set".into(),
                message: format!("`{assignment}` should look like NAME=VALUE"),
            });
        };
        let value = parse_number(value, &format!("--set {name}"))?;
        state.set(name.trim(), value)?;
    }
    Ok(())
}

/// Writes to a file atomically, or to standard output.
fn write_output(
    output: Option<PathBuf>,
    write: impl Fn(&mut dyn Write) -> std::io::Result<()>,
) -> Result<ExitCode, Error> {
    match output {
        Some(path) => {
            let mut bytes = Vec::new();
            write(&mut bytes).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            write_atomic(&path, &bytes)?;
        }
        None => {
            let stdout = std::io::stdout().lock();
            let mut out = std::io::BufWriter::new(stdout);
            match write(&mut out).and_then(|_| out.flush()) {
                Ok(()) => {}
                // The reader stopped early (`| head`): not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => {
                    return Err(Error::Io {
                        path: "<stdout>".into(),
                        source: e,
                    });
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn project(
    model_path: PathBuf,
    from: i32,
    years: usize,
    sets: &[String],
    output: Option<PathBuf>,
) -> Result<ExitCode, Error> {
    let model = load_model(&model_path)?;
    carecascade::project::check_from(&model, from)?;
    let program = Program::compile(&model)?;
    let mut state = program.state();
    apply_sets(&mut state, sets)?;
    let projection = carecascade::project::project_state(&mut state, from, years)?;
    let csv = projection.to_csv("year");
    write_output(output, |out| out.write_all(csv.as_bytes()))
}

/// What a submission's user should know before it runs: the notes on the
/// calibrated parameters its local runs draw, and the start figures filled
/// in (`how` says where each is explained).
fn print_submission_warnings(submission: &carecascade::submission::Submission, how: &str) {
    for note in submission.notes() {
        eprintln!("warning: {note}");
    }
    if !submission.warnings().is_empty() {
        eprintln!(
            "warning: {} start figure(s) not published, filled in ({how}):",
            submission.warnings().len()
        );
        for w in submission.warnings() {
            eprintln!("  {w}");
        }
    }
}

fn render_local_backtest(output: PathBuf) -> Result<ExitCode, Error> {
    let json_path = output.with_extension("json");
    let text = std::fs::read_to_string(&json_path).map_err(|e| Error::io(&json_path, e))?;
    let result = carecascade::local_backtest::LocalBacktest::from_json(&text)?;
    check_output_target(&output)?;
    write_atomic(&output, result.to_markdown().as_bytes())?;
    println!("wrote {} from {}", output.display(), json_path.display());
    Ok(ExitCode::SUCCESS)
}

/// The rates `--hold` holds by default.
fn default_hold() -> Vec<String> {
    carecascade::pooled::PoolSettings::default().hold
}

/// The rates to hold: `--hold none` holds none; others must be local
/// rates (checked before any sampling, with the closest name).
fn held(hold: Vec<String>) -> Result<Vec<String>, Error> {
    if hold.iter().any(|h| h == "none") {
        if hold.len() > 1 {
            return Err(Error::Invalid {
                what: "--hold".into(),
                message: "`none` fits every rate: give it alone, or name the rates to hold".into(),
            });
        }
        return Ok(Vec::new());
    }
    carecascade::pooled::check_hold(&hold)?;
    Ok(hold)
}

fn backtest_local(
    model_path: PathBuf,
    origins: &str,
    (sweeps, burn, keep, extend): (usize, usize, usize, usize),
    (discount, hold): (f64, Vec<String>),
    output: PathBuf,
) -> Result<ExitCode, Error> {
    use carecascade::local_backtest::{LocalSettings, local_backtest};
    let origins = parse_origins(origins)?;
    let hold = held(hold)?;
    let model = load_model(&model_path)?;
    carecascade::local::check_localisable(&model)?;
    let json_path = output.with_extension("json");
    check_output_target(&output)?;
    check_output_target(&json_path)?;
    let table = carecascade::data::LocalAuthorities::load()?;
    let authorities = table.current().to_vec();
    let settings = LocalSettings {
        origins,
        sweeps,
        burn,
        keep,
        discount,
        hold,
        extend,
        ..LocalSettings::default()
    };
    let model_text = if model_path.is_file() {
        std::fs::read_to_string(&model_path).map_err(|e| Error::io(&model_path, e))?
    } else {
        carecascade::ENGLAND_TOML.to_string()
    };
    let fingerprint = carecascade::local_backtest::fingerprint_of(&model_text, &settings);
    let mut command = "carecascade backtest-local".to_string();
    let defaults = LocalSettings::default();
    if settings.origins != defaults.origins {
        command.push_str(&format!(
            " --origins {}",
            settings
                .origins
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    for (flag, value, default) in [
        ("--sweeps", sweeps, defaults.sweeps),
        ("--burn", burn, defaults.burn),
        ("--keep", keep, defaults.keep),
        ("--extend", extend, defaults.extend),
    ] {
        if value != default {
            command.push_str(&format!(" {flag} {value}"));
        }
    }
    if discount != defaults.discount {
        command.push_str(&format!(" --discount {discount}"));
    }
    if settings.hold != defaults.hold {
        if settings.hold.is_empty() {
            command.push_str(" --hold none");
        }
        for h in &settings.hold {
            command.push_str(&format!(" --hold \"{h}\""));
        }
    }
    let started = std::time::Instant::now();
    let origins_count = settings.origins.len();
    let bar = progress_bar(origins_count * sweeps, "sweeps");
    // Sweeps of the origins finished, and the origin running with its
    // sweeps so far (more than --sweeps if it extends).
    let (mut finished, mut running) = (0, (None, 0));
    let result = local_backtest(
        &model,
        &authorities,
        &settings,
        fingerprint,
        command,
        &mut |origin, done, total| {
            if running.0 != Some(origin) {
                if running.0.is_some() {
                    finished += running.1;
                }
                running.0 = Some(origin);
            }
            running.1 = total;
            let k = settings
                .origins
                .iter()
                .position(|o| *o == origin)
                .unwrap_or(0);
            bar.set_length((finished + total + (origins_count - 1 - k) * sweeps) as u64);
            bar.set_position((finished + done) as u64);
        },
    )?;
    bar.finish_and_clear();
    write_atomic(&json_path, result.to_json()?.as_bytes())?;
    write_atomic(&output, result.to_markdown().as_bytes())?;
    for f in &result.fits {
        println!(
            "origin {}: {} authorities; converged: {}; {}",
            f.origin,
            f.authorities,
            if f.converged { "yes" } else { "no" },
            f.diagnostics
        );
    }
    for s in result.scores() {
        println!(
            "{:<18} {} year(s): median error ratio {:.2} over {} authorities ({:.0}% better than naive), pooled {:.2}",
            s.series,
            s.horizon,
            s.median_ratio,
            s.authorities,
            100.0 * s.share_better,
            s.pooled_ratio
        );
    }
    for s in result.shrunk_changes() {
        println!(
            "{:<18} {} year(s), change shrunk by factors fitted on earlier origins ({}): median error ratio {:.2}, the model's {:.2} on the same {} forecasts",
            s.series,
            s.horizon,
            s.factors
                .iter()
                .map(|(o, k)| format!("{o}: {k:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
            s.median_ratio,
            s.model_ratio,
            s.forecasts
        );
    }
    for c in result.coverage() {
        println!(
            "{:<26} {} authorities, {} forecasts: 50% interval {:.0}%, 90% interval {:.0}%",
            c.band,
            c.authorities,
            c.forecasts,
            100.0 * c.within_50,
            100.0 * c.within_90
        );
    }
    println!(
        "wrote {} and {} in {:.0} s",
        output.display(),
        json_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn calibrate_local(
    model_path: PathBuf,
    areas: &[String],
    settings: carecascade::pooled::PoolSettings,
    accept_unconverged: bool,
    output: PathBuf,
) -> Result<ExitCode, Error> {
    use carecascade::pooled::calibrate_all;
    let settings = carecascade::pooled::PoolSettings {
        hold: held(settings.hold)?,
        ..settings
    };
    let model = load_model(&model_path)?;
    carecascade::local::check_localisable(&model)?;
    let table = carecascade::data::LocalAuthorities::load()?;
    let codes = carecascade::local::authorities(areas)?;
    let authorities: Vec<_> = codes
        .iter()
        .map(|(code, _)| table.current_authority(code))
        .collect::<Result<_, _>>()?;
    let population = output.with_extension("population.csv");
    // Refuse an output that is not a regular file before the sampling,
    // not after it (write_atomic refuses it too).
    check_output_target(&output)?;
    check_output_target(&population)?;
    eprintln!(
        "calibrating {} authorities together, {}-{} ({} sweeps, {} burn-in, up to {} more until the chains converge) ...",
        authorities.len(),
        carecascade::pooled::HISTORY_FROM + 1,
        settings.to,
        settings.sweeps,
        settings.burn,
        settings.extend
    );
    let bar = progress_bar(settings.sweeps, "sweeps");
    let local = calibrate_all(&model, &authorities, &settings, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    for w in &local.warnings {
        eprintln!("warning: {w}");
    }
    for m in &local.missing {
        eprintln!("warning: {m}");
    }
    for (a, why) in &local.skipped {
        eprintln!("warning: {} ({}) skipped: {why}", a.name, a.code);
    }
    let pooled = &local.pooled;
    println!(
        "{} authorities fitted ({} skipped); {} start figures filled in, {} figures not published left out",
        pooled.groups.len(),
        local.skipped.len(),
        local.warnings.len(),
        local.missing.len()
    );
    println!("{}", local.describe_convergence());
    println!(
        "\n{:<24} {:>14} {:>16} {:>24}",
        "rate", "national", "spread (x/÷)", "authorities (5-95%)"
    );
    let draws = pooled.draws.len() as f64;
    for (k, p) in pooled.parameters.iter().enumerate() {
        let mean = pooled.draws.iter().map(|d| d.mean[k]).sum::<f64>() / draws;
        let spread = pooled.draws.iter().map(|d| d.spread[k]).sum::<f64>() / draws;
        let mut medians: Vec<f64> = (0..pooled.groups.len())
            .map(|g| {
                let mut v: Vec<f64> = pooled
                    .draws
                    .iter()
                    .map(|d| d.values[g][k] / pooled.references[g][k])
                    .collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            })
            .collect();
        medians.sort_by(f64::total_cmp);
        let q = |p: f64| medians[((medians.len() - 1) as f64 * p).round() as usize];
        println!(
            "{:<24} {:>13.3}x {:>15.3}x {:>12.2}x-{:.2}x",
            p.name,
            mean.exp(),
            spread.exp(),
            q(0.05),
            q(0.95)
        );
    }
    if !local.converged() && !accept_unconverged {
        return Err(Error::Invalid {
            what: "local calibration".into(),
            message: format!(
                "the chains have not converged ({}): raise --sweeps or --extend, or pass --accept-unconverged to write the draws marked as unconverged",
                local.describe_convergence()
            ),
        });
    }
    write_atomic(&output, local.to_csv().as_bytes())?;
    write_atomic(&population, local.population_csv().as_bytes())?;
    println!("\nwrote {} and {}", output.display(), population.display());
    Ok(ExitCode::SUCCESS)
}

fn localise(
    model_path: PathBuf,
    area: &str,
    from: i32,
    output: PathBuf,
) -> Result<ExitCode, Error> {
    let model = load_model(&model_path)?;
    eprintln!(
        "fitting `{}` to {area} from 31 March {from} ...",
        model.name()
    );
    let started = std::time::Instant::now();
    let local = carecascade::local::localise(&model, area, from)?;
    for w in &local.warnings {
        eprintln!("warning: {w} (filled in; the local model's lookup says so)");
    }
    save_model(&local.model, &output)?;
    println!(
        "{} ({}): {:.2}% of England's children; fitted in {:.1} s",
        local.name,
        local.code,
        100.0 * local.population_share,
        started.elapsed().as_secs_f64()
    );
    println!("\n{:<28} {:>12} {:>12}", "parameter", "England", "local");
    for (name, value) in &local.fit.values {
        let national = model
            .variable(name)
            .and_then(|v| match v.kind() {
                carecascade::engine::model::VariableKind::Constant { value } => Some(*value),
                _ => None,
            })
            .unwrap_or(f64::NAN);
        println!("{name:<28} {national:>12.4} {value:>12.4}");
    }
    for name in &local.unfitted_parameters {
        println!(
            "{name:<28} {:>12} (kept: no figure other than 0 to fit it to)",
            "England's"
        );
    }
    println!("\n{:<28} {:>12}", "series", "error");
    for (series, mape) in &local.fit.mape {
        println!("{series:<28} {mape:>11.1}%");
    }
    if local.fit.mape.values().any(|e| *e > 15.0) {
        println!(
            "\nerrors above 15%: {}'s figures swing from year to year (small numbers); the fitted rates are averages, so read its projections as a smoothed path",
            local.name
        );
    }
    println!("\nwrote {}", output.display());
    println!(
        "ask a scenario's question of it: `model = {:?}` in a scenario that extends scenarios/baseline.toml (or says `profile = \"england\"`)",
        output.display().to_string()
    );
    Ok(ExitCode::SUCCESS)
}

fn calibrate(
    model_path: PathBuf,
    data: PathBuf,
    params: PathBuf,
    output: PathBuf,
    update_model: bool,
) -> Result<ExitCode, Error> {
    use carecascade::calibrate::{
        CalibrationSpec, calibrate, fit_to_toml, update_model_file, years,
    };
    use carecascade::data::Observed;
    let model = load_model(&model_path)?;
    let observed = Observed::load(&data, "year")?;
    let spec = CalibrationSpec::load(&params)?;
    if update_model && !model_path.exists() {
        return Err(Error::Invalid {
            what: "--update-model".into(),
            message: format!(
                "`{}` is a built-in model, not a file: calibrate models/england.toml to update it",
                model_path.display()
            ),
        });
    }
    eprintln!(
        "calibrating {} parameter(s) of `{}` to {} series, {}-{}, {} starts of up to {} evaluations",
        spec.parameters.len(),
        model.name(),
        spec.series.len(),
        years(&spec).0 + 1,
        years(&spec).1,
        spec.starts,
        spec.max_evaluations
    );
    let started = std::time::Instant::now();
    let fit = calibrate(&model, &observed, &spec)?;
    let how = format!(
        "Written by `carecascade calibrate {} --data {} --params {} --output {}` (carecascade {}).",
        model_path.display(),
        data.display(),
        params.display(),
        output.display(),
        env!("CARGO_PKG_VERSION")
    );
    write_atomic(&output, fit_to_toml(&fit, &spec, &how).as_bytes())?;
    eprintln!(
        "objective {:.4e} (model's own values: {:.4e}) after {} evaluations in {:.1} s",
        fit.objective,
        fit.initial_objective,
        fit.starts.iter().map(|s| s.evaluations).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    if update_model {
        update_model_file(&model_path, &fit.values)?;
        eprintln!("updated {}", model_path.display());
    }
    // Results go to standard output last, after every file is written, and
    // a reader that stops early (`| head`) is not an error.
    let mut table = format!("{:<28} {:>10}\n", "series", "MAPE %");
    for (series, m) in &fit.mape {
        let _ = writeln!(table, "{series:<28} {m:>10.2}");
    }
    let _ = writeln!(table, "\n{:<32} {:>14}", "parameter", "fitted");
    for (name, v) in &fit.values {
        let _ = writeln!(table, "{name:<32} {v:>14.6}");
    }
    print_quietly(&table);
    eprintln!("wrote {}", output.display());
    Ok(ExitCode::SUCCESS)
}

fn calibrate_posterior(
    model_path: PathBuf,
    data: PathBuf,
    params: PathBuf,
    output: PathBuf,
    accept_unconverged: bool,
    start_from: Option<PathBuf>,
) -> Result<ExitCode, Error> {
    use carecascade::calibrate::{CalibrationSpec, Posterior, posterior_from, years};
    use carecascade::data::Observed;
    let model = load_model(&model_path)?;
    let observed = Observed::load(&data, "year")?;
    let spec = CalibrationSpec::load(&params)?;
    check_output_target(&output)?;
    let m = &spec.mcmc;
    eprintln!(
        "sampling the posterior of {} parameter(s) of `{}` given {} series, {}-{}: mode from {} starts, then {} walkers x {} steps (burn-in {})",
        spec.parameters.len(),
        model.name(),
        spec.series.len(),
        years(&spec).0 + 1,
        years(&spec).1,
        spec.starts,
        m.walkers,
        m.steps,
        m.burn
    );
    let started = std::time::Instant::now();
    let warm = start_from.as_ref().map(Posterior::load).transpose()?;
    let bar = progress_bar(m.steps, "steps");
    let sampled = posterior_from(&model, &observed, &spec, warm.as_ref(), &mut |done, _| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let sampled = sampled?;
    let seconds = started.elapsed().as_secs_f64();
    let p = &sampled.posterior;
    let mut table = format!(
        "{:<32} {:>11} {:>11} {:>11} {:>11} {:>7} {:>6}  prior\n",
        "parameter", "mode", "median", "5%", "95%", "R-hat", "ESS"
    );
    for (i, name) in p.parameters.iter().enumerate() {
        let mut xs = p.column(i);
        xs.sort_by(f64::total_cmp);
        let q = |f: f64| xs[((xs.len() - 1) as f64 * f).round() as usize];
        let prior = &sampled.priors[i];
        let _ = writeln!(
            table,
            "{name:<32} {:>11.5} {:>11.5} {:>11.5} {:>11.5} {:>7.3} {:>6.0}  {} ({})",
            sampled.mode[i],
            q(0.5),
            q(0.05),
            q(0.95),
            sampled.diagnostics.rhat[i],
            sampled.diagnostics.ess[i],
            prior.describe(),
            prior.basis.as_str()
        );
    }
    let _ = writeln!(
        table,
        "\nacceptance {:.3} (lowest walker {:.3}; {} walker(s) moved off stranded positions in the burn-in); {} model evaluations in {:.1} s",
        sampled.diagnostics.acceptance,
        sampled.diagnostics.min_walker_acceptance,
        sampled.diagnostics.pruned,
        sampled.evaluations,
        seconds
    );
    if let Err(e) = sampled.check() {
        if !accept_unconverged {
            eprint!("{table}");
            return Err(Error::Invalid {
                what: format!("posterior not written to {}", output.display()),
                message: format!(
                    "{e}; or pass --accept-unconverged to write it marked as unconverged"
                ),
            });
        }
        eprintln!("warning: {e}; writing it marked as unconverged (--accept-unconverged)");
    }
    let mut posterior = sampled.posterior.clone();
    posterior.notes.insert(
        0,
        format!(
            "written by `carecascade calibrate {} --data {} --params {} --posterior {}{}` (carecascade {}) in {:.0} s",
            model_path.display(),
            data.display(),
            params.display(),
            output.display(),
            start_from
                .as_ref()
                .map_or(String::new(), |p| format!(" --start-from {}", p.display())),
            env!("CARGO_PKG_VERSION"),
            seconds
        ),
    );
    write_atomic(&output, posterior.to_csv().as_bytes())?;
    print_quietly(&table);
    eprintln!(
        "wrote {} ({} draws)",
        output.display(),
        posterior.draws.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_origins(text: &str) -> Result<Vec<i32>, Error> {
    let bad = || Error::Invalid {
        what: format!("--origins {text}"),
        message: "expected years such as `2016-2021` or `2019,2021`".into(),
    };
    let mut out = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (i32, i32) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                if b < a || b - a > 100 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn backtest(
    model_path: PathBuf,
    data: PathBuf,
    params: PathBuf,
    origins: &str,
    draws: usize,
    output: PathBuf,
    posterior: PathBuf,
    steps: Option<usize>,
    rounds: usize,
    accept_unconverged: bool,
) -> Result<ExitCode, Error> {
    use carecascade::backtest::{Settings, backtest, fingerprint, summary};
    if rounds == 0 {
        return Err(Error::Invalid {
            what: "--rounds 0".into(),
            message: "each origin needs at least one sampling round".into(),
        });
    }
    use carecascade::calibrate::CalibrationSpec;
    use carecascade::data::Observed;
    let origins = parse_origins(origins)?;
    if draws == 0 {
        return Err(Error::Invalid {
            what: "--draws 0".into(),
            message: "a forecast needs at least one posterior draw".into(),
        });
    }
    let model = load_model(&model_path)?;
    for &o in &origins {
        carecascade::project::check_from(&model, o)?;
    }
    let observed = Observed::load(&data, "year")?;
    let spec = CalibrationSpec::load(&params)?;
    let json_path = output.with_extension("json");
    check_output_target(&output)?;
    check_output_target(&json_path)?;
    let read = |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| Error::io(p, e));
    let model_text = if model_path.is_file() {
        read(&model_path)?
    } else {
        carecascade::ENGLAND_TOML.to_string()
    };
    let chains = match steps {
        Some(s) if s < 8 => {
            return Err(Error::Invalid {
                what: format!("--steps {s}"),
                message: "at least 8 steps are needed".into(),
            });
        }
        Some(s) => Some((s, s / 2, (s / 2 / 150).max(1))),
        None => None,
    };
    let settings = Settings {
        origins,
        draws,
        chains,
        accept_unconverged,
        rounds,
        ..Settings::default()
    };
    let print = format!(
        "carecascade backtest {} --data {} --params {} --posterior {} --origins {} --draws {}{} --rounds {}{} --output {}",
        model_path.display(),
        data.display(),
        params.display(),
        posterior.display(),
        settings
            .origins
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(","),
        draws,
        steps.map_or(String::new(), |s| format!(" --steps {s}")),
        rounds,
        if accept_unconverged {
            " --accept-unconverged"
        } else {
            ""
        },
        output.display()
    );
    let started = std::time::Instant::now();
    let mut result = backtest(
        &model,
        &observed,
        &spec,
        &settings,
        String::new(),
        print,
        &mut |line| eprintln!("{line} ({:.0} s)", started.elapsed().as_secs_f64()),
    )?;
    // The whole window's posterior is read last, so that it may be made
    // while the origins are fitted.
    let full = carecascade::calibrate::Posterior::load(&posterior)?;
    if !full.converged && !accept_unconverged {
        return Err(Error::Invalid {
            what: format!("--posterior {}", posterior.display()),
            message: "it is marked as not converged; sample it again with longer chains, or pass --accept-unconverged (the page then says so)".into(),
        });
    }
    result.in_sample = carecascade::backtest::in_sample(&model, &observed, &spec, &full)?;
    result.full_converged = full.converged;
    result.fingerprint = fingerprint(&[
        &model_text,
        &read(&data)?,
        &read(&params)?,
        &read(&posterior)?,
        &format!("{settings:?}"),
    ]);
    let chart_dir = output.with_extension("");
    let chart_name = chart_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "backtest".into());
    std::fs::create_dir_all(&chart_dir).map_err(|e| Error::io(&chart_dir, e))?;
    for (name, svg) in result.charts(&observed)? {
        write_atomic(chart_dir.join(name), &svg)?;
    }
    write_atomic(&json_path, result.to_json().as_bytes())?;
    write_atomic(&output, result.to_markdown(Some(&chart_name)).as_bytes())?;
    let (ratio, c50, c90) = summary(&result);
    print_quietly(&format!(
        "mean error ratio to the last value {ratio:.2}; 50% intervals cover {:.0}%, 90% cover {:.0}%\n",
        100.0 * c50,
        100.0 * c90
    ));
    eprintln!(
        "wrote {} and {} in {:.0} s",
        output.display(),
        json_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn validate(
    model_path: PathBuf,
    data: Option<PathBuf>,
    workforce: Option<PathBuf>,
    params: Option<PathBuf>,
    output: Option<PathBuf>,
    charts: ChartFormat,
) -> Result<ExitCode, Error> {
    use carecascade::calibrate::CalibrationSpec;
    use carecascade::engine::chart::Format;
    let (format, extension) = match charts {
        ChartFormat::Png => (Format::Png, "png"),
        ChartFormat::Svg => (Format::Svg, "svg"),
    };
    use carecascade::data::Observed;
    if let Some(path) = &output {
        check_output_target(path)?;
    }
    let model = load_model(&model_path)?;
    let observed = match &data {
        Some(path) => Observed::load(path, "year")?,
        None => Observed::england()?,
    };
    let workforce = match &workforce {
        Some(path) => Observed::load(path, "year_to_30_september")?,
        None => Observed::england_workforce()?,
    };
    let spec = params.as_ref().map(CalibrationSpec::load).transpose()?;
    if spec.is_some() {
        eprintln!("fitting without the last three years for the out-of-sample check ...");
    }
    let validation =
        carecascade::validate::validate(&model, &observed, Some(&workforce), spec.as_ref())?;
    let mut table = format!(
        "{:<28} {:>8} {:>9} {:>7}\n",
        "series", "MAPE %", "held out", "target"
    );
    for s in &validation.series {
        let _ = writeln!(
            table,
            "{:<28} {:>8} {:>9} {:>7}",
            s.column,
            s.mape.map_or("-".into(), |m| format!("{m:.2}")),
            s.holdout_mape.map_or("-".into(), |m| format!("{m:.2}")),
            s.target.map_or("".into(), |t| format!("{t:.0}"))
        );
    }
    print_quietly(&table);
    let Some(output) = output else {
        eprintln!(
            "wrote no files; give --output FILE.md (e.g. docs/validation.md) to write the report and its charts"
        );
        return Ok(ExitCode::SUCCESS);
    };
    let stem = output
        .file_stem()
        .map_or("validation".into(), |s| s.to_string_lossy().to_string());
    let chart_dir = output.with_file_name(&stem);
    std::fs::create_dir_all(&chart_dir).map_err(|e| Error::io(&chart_dir, e))?;
    for s in &validation.series {
        write_atomic(
            chart_dir.join(format!("{}.{extension}", s.column)),
            &s.chart(format)?,
        )?;
    }
    let mut command = format!("carecascade validate {}", model_path.display());
    if let Some(p) = &params {
        command.push_str(&format!(" --params {}", p.display()));
    }
    let _ = write!(command, " --output {}", output.display());
    if charts != ChartFormat::Svg {
        let _ = write!(command, " --charts {extension}");
    }
    let mut text = validation.to_markdown(&stem, extension, &command);
    // The evaluations the model cites, for a model with the England
    // model's stages (src/evaluations.rs says which).
    {
        use carecascade::evaluations::{Settings, evaluate, replace_section, uncertain_of};
        match uncertain_of("scenarios/baseline.toml")
            .and_then(|u| evaluate(&model, &u, &Settings::default()))
        {
            Ok(e) => text = replace_section(&text, &e.to_markdown()),
            Err(e) => eprintln!("the report has no evaluations: {e}"),
        }
    }
    write_atomic(&output, text.as_bytes())?;
    eprintln!(
        "wrote {} and {} charts in {}",
        output.display(),
        validation.series.len(),
        chart_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn evaluate(
    model_path: PathBuf,
    uncertain: PathBuf,
    draws: usize,
    update: Option<PathBuf>,
) -> Result<ExitCode, Error> {
    use carecascade::evaluations::{Settings, evaluate, replace_section, uncertain_of};
    if let Some(path) = &update {
        check_output_target(path)?;
    }
    let model = load_model(&model_path)?;
    let uncertain = uncertain_of(&uncertain)?;
    let settings = Settings {
        draws,
        ..Settings::default()
    };
    let section = evaluate(&model, &uncertain, &settings)?.to_markdown();
    match update {
        Some(path) => {
            let document = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            write_atomic(&path, replace_section(&document, &section).as_bytes())?;
            eprintln!("updated the evaluations in {}", path.display());
        }
        None => print_quietly(&section),
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(
    model_path: PathBuf,
    format: DescribeFormat,
    update: Option<PathBuf>,
    output: Option<PathBuf>,
) -> Result<ExitCode, Error> {
    use carecascade::engine::format::describe;
    let model = load_model(&model_path)?;
    Program::compile(&model)?;
    let text = match format {
        DescribeFormat::Mermaid => describe::mermaid(&model),
        DescribeFormat::Dot => describe::dot(&model),
        DescribeFormat::Markdown => describe::describe(&model),
    };
    if let Some(path) = update {
        let document = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let Some(updated) = describe::replace_generated(&document, &text) else {
            return Err(Error::Invalid {
                what: path.display().to_string(),
                message: format!(
                    "needs the markers `{}` and `{}` around the generated part",
                    describe::MARKERS.0,
                    describe::MARKERS.1
                ),
            });
        };
        write_atomic(&path, updated.as_bytes())?;
        eprintln!("updated {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    write_output(output, |out| out.write_all(text.as_bytes()))
}

/// Loads scenario files (with the built-in England model and profile),
/// with --runs and --seed applied.
fn load_all(
    files: &[PathBuf],
    runs: Option<usize>,
    seed: Option<u64>,
) -> Result<Vec<carecascade::engine::scenario::Scenario>, Error> {
    use carecascade::engine::scenario::{MAX_RUNS, Scenario};
    if let Some(runs) = runs
        && !(1..=MAX_RUNS).contains(&runs)
    {
        return Err(Error::Invalid {
            what: format!("--runs {runs}"),
            message: format!("an ensemble needs at least 1 run and at most {MAX_RUNS}"),
        });
    }
    let library = carecascade::library();
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match Scenario::load_with(file, &library).and_then(|s| {
            let s = match runs {
                Some(runs) => s.with_runs(runs)?,
                None => s,
            };
            Ok(match seed {
                Some(seed) => s.with_seed(seed),
                None => s,
            })
        }) {
            Ok(s) => loaded.push(s),
            Err(e) => errors.push(e),
        }
    }
    Error::from_list(errors)?;
    Ok(loaded)
}

/// Loads and prepares scenario files (with the built-in England model and
/// profile), with --runs and --seed applied.
fn prepare_all(
    files: &[PathBuf],
    runs: Option<usize>,
    seed: Option<u64>,
) -> Result<Vec<carecascade::engine::scenario::Prepared>, Error> {
    let mut prepared = Vec::new();
    let mut errors = Vec::new();
    for s in load_all(files, runs, seed)? {
        match s.prepare() {
            Ok(p) => prepared.push(p),
            Err(e) => errors.push(e),
        }
    }
    Error::from_list(errors)?;
    Ok(prepared)
}

/// Runs scenarios with a progress bar on stderr (hidden when stderr is not
/// a terminal).
/// With `on_disk`, the runs are kept in a temporary file rather than in
/// memory (`run_scenarios_on_disk`: the same numbers, memory flat in the
/// runs); the outcome's `runs` are then empty.
fn run_with_progress(
    prepared: &[carecascade::engine::scenario::Prepared],
    shard: Option<Shard>,
    on_disk: bool,
) -> Result<(carecascade::engine::ensemble::Outcome, usize, f64), Error> {
    let runs = prepared.first().map_or(0, |p| p.scenario().runs());
    let total = shard.map_or(runs, |s| s.runs(runs).len()) * prepared.len();
    let bar = progress_bar(total, "runs");
    let started = std::time::Instant::now();
    let progress = || bar.inc(1);
    let options = RunOptions {
        shard,
        progress: Some(&progress),
    };
    let outcome = if on_disk {
        carecascade::engine::ensemble::run_scenarios_on_disk(prepared, &options)?
    } else {
        carecascade::engine::ensemble::run_scenarios(prepared, &options)?
    };
    bar.finish_and_clear();
    Ok((outcome, total, started.elapsed().as_secs_f64()))
}

/// A progress bar of `total` `what` (runs, steps) on stderr (hidden when
/// stderr is not a terminal).
fn progress_bar(total: usize, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what}, {{per_sec}}, {{eta}} left"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn html_report(
    files: Vec<PathBuf>,
    runs: Option<usize>,
    seed: Option<u64>,
    drivers: usize,
    output: PathBuf,
) -> Result<ExitCode, Error> {
    check_output_target(&output)?;
    let prepared = prepare_all(&files, runs, seed)?;
    let (outcome, total, seconds) = run_with_progress(&prepared, None, false)?;
    let analyses = if drivers == 0 {
        Vec::new()
    } else {
        let started = std::time::Instant::now();
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        let progress = || bar.inc(1);
        let analyses = carecascade::drivers::analyse(
            &prepared,
            drivers,
            prepared[0].scenario().seed(),
            &progress,
        )?;
        bar.finish_and_clear();
        eprintln!(
            "what drives the answers: {} runs in {:.1} s",
            thousands(
                analyses
                    .iter()
                    .map(|a| a.runs * if a.against.is_some() { 2 } else { 1 })
                    .sum::<usize>() as f64
            ),
            started.elapsed().as_secs_f64()
        );
        analyses
    };
    let html = carecascade::report::report_with_drivers(&outcome, &prepared, &analyses)?;
    write_atomic(&output, html.as_bytes())?;
    eprintln!(
        "{} runs in {seconds:.1} s; wrote {} ({} KB)",
        thousands(total as f64),
        output.display(),
        html.len() / 1024
    );
    print_quietly(&carecascade::report::table(&outcome));
    Ok(ExitCode::SUCCESS)
}

/// A page per local authority and the ranking (see `carecascade::council`).
fn council_report(
    files: Vec<PathBuf>,
    runs: Option<usize>,
    seed: Option<u64>,
    areas: &[String],
    rank_by: Option<&str>,
    lowest_first: bool,
    output: PathBuf,
) -> Result<ExitCode, Error> {
    use carecascade::council::{self, Order, Output, Settings};
    use carecascade::submission::Submission;
    let comparing = files.len() > 1;
    // Mistakes first: the output ranked, then the scenarios and areas.
    let rank_by = match rank_by {
        Some(name) => Output::named(name, comparing)?,
        None => Output::default_for(comparing),
    };
    let scenarios = load_all(&files, Some(runs.unwrap_or(council::DEFAULT_RUNS)), seed)?;
    let submission = Submission::new(scenarios, comparing, areas)?;
    // Refuse an output folder it may not replace before running.
    let names = council::possible_files(submission.authorities())?;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    carecascade::engine::format::check_set(&output, &names)?;
    print_submission_warnings(&submission, "each authority's page says how");
    let total = submission.runs_in(None);
    let bar = progress_bar(total, "runs");
    let started = std::time::Instant::now();
    let progress = || bar.inc(1);
    let settings = Settings {
        rank_by,
        order: if lowest_first {
            Order::LowFirst
        } else {
            Order::HighFirst
        },
    };
    let made = council::run(&submission, &settings, &progress)?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let written = made.write(&output)?;
    eprintln!(
        "{} authorities, {} runs in {seconds:.1} s; wrote {} ({} pages, index.html and ranking.csv, ranked by {})",
        made.pages.len(),
        thousands(bar.position() as f64),
        output.display(),
        written.len().saturating_sub(2),
        rank_by.name
    );
    let mut table = String::new();
    for ranking in &made.rankings {
        let _ = writeln!(
            table,
            "{}: {} ({}), median [5th to 95th percentile]",
            ranking.subject,
            rank_by.title,
            rank_by.unit()
        );
        for (k, r) in ranking.rows.iter().enumerate() {
            let q = &r.stats.quantiles;
            let _ = writeln!(
                table,
                "{:>4}. {:<36} {:>12} [{} to {}]",
                k + 1,
                format!("{} ({})", r.name, r.code),
                rank_by.show(q[2]),
                rank_by.number(q[0]),
                rank_by.number(q[4])
            );
        }
    }
    print_quietly(&table);
    if !made.failures.is_empty() {
        eprintln!(
            "warning: skipped {} authorit(ies) that failed (index.html lists them):",
            made.failures.len()
        );
        for f in &made.failures {
            eprintln!("  {} ({}): {}", f.name, f.code, f.message);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_ensemble(files: Vec<PathBuf>, compare: bool, args: EnsembleArgs) -> Result<ExitCode, Error> {
    let shard = match args.shard.as_deref() {
        Some("auto") => Some(Shard::from_env(
            |name| std::env::var(name).ok(),
            args.shards,
        )?),
        Some(text) => {
            if args.shards.is_some() {
                return Err(Error::Invalid {
                    what: "--shards".into(),
                    message: format!(
                        "goes with --shard auto; --shard {text} already gives the number of shards"
                    ),
                });
            }
            Some(Shard::parse(text)?)
        }
        None => {
            if args.shards.is_some() {
                return Err(Error::Invalid {
                    what: "--shards".into(),
                    message: "goes with --shard auto".into(),
                });
            }
            None
        }
    };
    if !args.area.is_empty() || (!compare && files.len() > 1) {
        return run_submission(files, compare, shard, args);
    }
    let prepared = prepare_all(&files, args.runs, args.seed)?;
    if shard.is_none() {
        // Refuse an output folder it may not replace before running.
        carecascade::engine::format::check_set(
            &args.output,
            carecascade::engine::ensemble::Outcome::RESULT_FILES,
        )?;
    }
    let (outcome, total, seconds) = run_with_progress(&prepared, shard, true)?;
    let written = outcome.write(&args.output)?;
    eprintln!(
        "{} runs in {seconds:.1} s ({:.0} runs/s); wrote {}",
        thousands(total as f64),
        total as f64 / seconds.max(1e-9),
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if shard.is_none() {
        print_quietly(&carecascade::report::table(&outcome));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs several scenarios, or scenarios for several authorities, as one
/// plan (see `carecascade::submission`).
fn run_submission(
    files: Vec<PathBuf>,
    compare: bool,
    shard: Option<Shard>,
    args: EnsembleArgs,
) -> Result<ExitCode, Error> {
    use carecascade::submission::Submission;
    let scenarios = load_all(&files, args.runs, args.seed)?;
    let submission = Submission::new(scenarios, compare, &args.area)?;
    print_submission_warnings(
        &submission,
        "index.csv's filled_start_figures and each local model's lookups say how",
    );
    let total = submission.runs_in(shard);
    let bar = progress_bar(total, "runs");
    let started = std::time::Instant::now();
    let progress = || bar.inc(1);
    let (report, rollup) = if shard.is_none() && submission.is_every_authority() {
        let (report, check) = submission.run_rolled_up(&args.output, &progress)?;
        (report, Some(check))
    } else {
        (submission.run(shard, &args.output, &progress)?, None)
    };
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    // Runs of pieces that failed before running are not counted.
    let total = bar.position() as usize;
    let wrote = match shard {
        Some(s) => carecascade::engine::ensemble::Plan::partial_folder(&args.output, s)
            .display()
            .to_string(),
        None => format!(
            "{} (index.csv, quantiles.csv and a folder per piece)",
            args.output.display()
        ),
    };
    eprintln!(
        "{total} runs of {} piece(s) in {seconds:.1} s ({:.0} runs/s); wrote {wrote}",
        report.pieces.len(),
        total as f64 / seconds.max(1e-9),
    );
    print_plan(&report);
    if let Some(check) = rollup {
        print_quietly(&check.summary());
        let disagree = check.disagreements();
        if !disagree.is_empty() {
            eprintln!(
                "warning: the sum over authorities is outside the national model's 90% interval (widened by {:.0}%) for {} of {} outputs and years; see {}",
                100.0 * carecascade::rollup::TOLERANCE,
                disagree.len(),
                check.rows.len(),
                args.output.join(carecascade::rollup::FILE).display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints each piece of a plan and what happened to it, and warns of the
/// pieces skipped.
fn print_plan(report: &carecascade::engine::ensemble::PlanReport) {
    use carecascade::engine::ensemble::PieceStatus;
    let plan = &report.plan;
    let mut table = String::new();
    for (k, runs, status) in &report.pieces {
        let piece = &plan.pieces()[*k];
        // (An authority's folder is its code: not shown twice.)
        let labels: Vec<&str> = piece
            .labels()
            .iter()
            .map(String::as_str)
            .filter(|l| *l != piece.folder())
            .collect();
        let labels = labels.join("  ");
        let status = match status {
            PieceStatus::Failed(_) => "failed".to_string(),
            _ if runs.len() == piece.runs() => format!("done, {} runs", piece.runs()),
            _ => format!("runs {}..{} of {}", runs.start, runs.end, piece.runs()),
        };
        let _ = writeln!(table, "{:<28} {labels}  {status}", piece.folder());
    }
    print_quietly(&table);
    let failures = report.failures();
    if !failures.is_empty() {
        eprintln!(
            "warning: skipped {} of {} piece(s) that failed ({}):",
            failures.len(),
            report.pieces.len(),
            if report.shard.is_some() {
                "index.csv says so after merging"
            } else {
                "index.csv says so"
            }
        );
        for (folder, message) in failures {
            eprintln!("  {folder}: {message}");
        }
    }
}

fn merge(partials: Vec<PathBuf>, output: PathBuf) -> Result<ExitCode, Error> {
    use carecascade::engine::ensemble::{Outcome, merge, merge_plan, plan_partials};
    // A plan's shards are folders holding plan.json; a folder may hold them.
    let is_plan_shard = |p: &PathBuf| p.join("plan.json").is_file();
    let holds_plan_shards = |p: &PathBuf| {
        std::fs::read_dir(p).is_ok_and(|entries| {
            entries.filter_map(|e| e.ok()).any(|e| {
                e.file_name().to_string_lossy().starts_with("partial-")
                    && e.path().join("plan.json").is_file()
            })
        })
    };
    let plans: Vec<bool> = partials
        .iter()
        .map(|p| is_plan_shard(p) || (p.is_dir() && holds_plan_shards(p)))
        .collect();
    if plans.iter().any(|&p| p) {
        if let Some(k) = plans.iter().position(|&p| !p) {
            return Err(Error::Invalid {
                what: partials[k].display().to_string(),
                message: format!(
                    "holds no shard of a plan (partial-I-of-N/plan.json), but {} does: merge the partial results of one submission together",
                    partials[plans.iter().position(|&p| p).unwrap_or(0)].display()
                ),
            });
        }
        let folders = plan_partials(&partials)?;
        let report = merge_plan(&folders, &output)?;
        eprintln!(
            "merged {} shard folder(s) of {} piece(s); wrote {} (index.csv, quantiles.csv and a folder per piece)",
            folders.len(),
            report.plan.pieces().len(),
            output.display()
        );
        print_plan(&report);
        return Ok(ExitCode::SUCCESS);
    }
    // A folder stands for the partial results in it.
    let mut files = Vec::new();
    for p in &partials {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|e| Error::io(p, e))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("partial-") && n.ends_with(".json"))
                })
                .collect();
            if found.is_empty() {
                return Err(Error::Invalid {
                    what: p.display().to_string(),
                    message: "holds no partial results (partial-I-of-N.json)".into(),
                });
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    let partials = files;
    let parts = partials
        .iter()
        .map(|p| Outcome::load_partial(p))
        .collect::<Result<Vec<_>, _>>()?;
    let outcome = merge(parts)?;
    carecascade::engine::format::check_set(&output, Outcome::RESULT_FILES)?;
    let written = outcome.write(&output)?;
    eprintln!(
        "merged {} shards; wrote {}",
        partials.len(),
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    print_quietly(&carecascade::report::table(&outcome));
    Ok(ExitCode::SUCCESS)
}

/// The arguments of `sensitivity`.
#[derive(clap::Args)]
struct SensitivityArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// A base scenario: analyse SCENARIO minus BASE, row by row.
    #[arg(long, value_name = "BASE")]
    against: Option<PathBuf>,
    /// `sobol` (first- and total-order indices) or `morris` (screening).
    #[arg(long, value_enum, default_value_t = SensitivityMethod::Sobol)]
    method: SensitivityMethod,
    /// Base samples N for Sobol (N (k + 2) runs per scenario for k
    /// parameters; default 1024) or trajectories for Morris (r (k + 1)
    /// runs; default 50).
    #[arg(long)]
    samples: Option<usize>,
    /// Morris's grid levels (even).
    #[arg(long, default_value_t = 4)]
    levels: usize,
    /// The design's seed (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// An output to analyse: a scalar of the scenario (`npv_m`), or
    /// INDICATOR@PERIOD (`cla_at_31_march@2033`); repeat for several.
    /// Default: the scenario's scalars.
    #[arg(long = "output", value_name = "NAME")]
    outputs: Vec<String>,
    /// Bootstrap resamples for the intervals (0 for none).
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Write the results to FILE: `.csv` (one row per output and
    /// parameter) or `.json` (everything); repeat for both.
    #[arg(short = 'o', long = "write", value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// The formats `sensitivity -o` writes, by extension.
const SENSITIVITY_FORMATS: &[&str] = &["csv", "json"];

fn sensitivity(args: SensitivityArgs) -> Result<ExitCode, Error> {
    use carecascade::engine::sensitivity::{self, Bootstrap, Method, Settings};
    // Refuse files that could not be written before running.
    for file in &args.files {
        let extension = file
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if !SENSITIVITY_FORMATS.contains(&extension.as_str()) {
            return Err(Error::Invalid {
                what: format!("-o {}", file.display()),
                message: format!(
                    "writes `.csv` or `.json` by the file's extension, not `{extension}`{}",
                    carecascade::engine::name::did_you_mean(carecascade::engine::closest(
                        &extension,
                        SENSITIVITY_FORMATS.iter().copied()
                    ))
                ),
            });
        }
        check_output_target(file)?;
    }
    let mut files = vec![args.scenario.clone()];
    files.extend(args.against.clone());
    let prepared = prepare_all(&files, None, None)?;
    let scenario = &prepared[0];
    let against = prepared.get(1);
    let method = match args.method {
        SensitivityMethod::Sobol => Method::Sobol {
            samples: args.samples.unwrap_or(1024),
        },
        SensitivityMethod::Morris => Method::Morris {
            trajectories: args.samples.unwrap_or(50),
            levels: args.levels,
        },
    };
    let seed = args.seed.unwrap_or(scenario.scenario().seed());
    let settings = Settings {
        method,
        seed,
        bootstrap: Bootstrap {
            resamples: args.bootstrap,
            confidence: 0.95,
            // Its own generator, apart from the design's.
            seed: seed ^ 0x9e37_79b9_7f4a_7c15,
        },
        outputs: args.outputs,
    };
    let total = sensitivity::runs_needed(scenario, against, method) * prepared.len();
    let bar = progress_bar(total, "runs");
    let started = std::time::Instant::now();
    let progress = || bar.inc(1);
    let analysis = sensitivity::run(scenario, against, &settings, &progress)?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let mut written = Vec::new();
    for file in &args.files {
        let text = if file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            analysis.to_json()
        } else {
            analysis.to_csv()
        };
        write_atomic(file, text.as_bytes())?;
        written.push(file.display().to_string());
    }
    eprintln!(
        "{} runs in {seconds:.1} s ({:.0} runs/s){}",
        thousands(total as f64),
        total as f64 / seconds.max(1e-9),
        if written.is_empty() {
            String::new()
        } else {
            format!("; wrote {}", written.join(", "))
        }
    );
    print_quietly(&analysis.table());
    Ok(ExitCode::SUCCESS)
}

/// Prints to standard output, ignoring a reader that has gone away.
fn print_quietly(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

fn parse_number(text: &str, what: &str) -> Result<f64, Error> {
    let text = text.trim();
    carecascade::engine::model::parse_fraction(text).ok_or_else(|| Error::Invalid {
        what: what.to_string(),
        message: format!("`{text}` is not a number"),
    })
}

fn convert(input: PathBuf, output: PathBuf) -> Result<ExitCode, Error> {
    let model = load_model(&input)?;
    // Refuse to write a model that does not compile.
    Program::compile(&model)?;
    save_model(&model, &output)?;
    eprintln!(
        "wrote {} ({} variables)",
        output.display(),
        model.variables().len()
    );
    Ok(ExitCode::SUCCESS)
}

fn check(model_path: PathBuf, deny_warnings: bool) -> Result<ExitCode, Error> {
    let model = load_model(&model_path)?;
    let program = Program::compile(&model)?;
    let warnings = program.warnings();
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let counts = |label: &str| {
        model
            .variables()
            .iter()
            .filter(|v| v.kind().label() == label)
            .count()
    };
    print_quietly(&format!(
        "{}: model `{}` is valid: {} stocks, {} flows, {} auxiliaries, {} constants, {} lookups; {} unit warning(s)\n",
        model_path.display(),
        model.name(),
        counts("stock"),
        counts("flow"),
        counts("auxiliary"),
        counts("constant"),
        counts("lookup"),
        warnings.len()
    ));
    Ok(if deny_warnings && !warnings.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Refuses, before a long run, an output that could not be written at its
/// end: a target that exists and is not a regular file, or a folder that
/// does not exist.
fn check_output_target(path: &std::path::Path) -> Result<(), Error> {
    let refuse = |message: String| Error::Invalid {
        what: format!("output {}", path.display()),
        message,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && !meta.file_type().is_file()
    {
        return Err(refuse(
            "exists and is not a regular file; refusing to replace it".into(),
        ));
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(refuse(format!(
            "its folder `{}` does not exist",
            dir.display()
        ))),
        _ => Ok(()),
    }
}
