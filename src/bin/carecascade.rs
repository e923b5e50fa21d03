//! The carecascade command line: a thin shell over the library.

use carecascade::engine::Limits;
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
    /// Fit a model's parameters to observed series by weighted least
    /// squares (Nelder-Mead from several starts; see
    /// `carecascade::calibrate`), and write the fitted values.
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
        #[arg(long, short)]
        output: PathBuf,
        /// Also write the fitted values into the model file, keeping its
        /// comments and layout.
        #[arg(long)]
        update_model: bool,
    },
    /// Make a local authority's model from the England model: its own
    /// children, cases and social workers, national money in proportion to
    /// its children, and its referral, protection, care and exit rates
    /// fitted to its published figures (see `carecascade::local`).
    Localise {
        /// The model to localise (`england`, or a file with its names).
        model: PathBuf,
        /// The authority: ONS code (`E08000035`) or name (`Leeds`).
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
    /// Compare a model with every published series it produces and write
    /// a Markdown report with charts (SVG, in a folder named after the
    /// report).
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
    /// write DIR/summary.json, DIR/quantiles.csv and DIR/runs.csv.
    Run {
        /// The scenario file (TOML).
        scenario: PathBuf,
        #[command(flatten)]
        ensemble: EnsembleArgs,
    },
    /// Run scenarios on the same draws of their shared uncertain parameters
    /// (common random numbers) and report ALT minus BASE, run by run.
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
    /// to the past and the sources of the parameters.
    Report {
        /// Scenario files; the first is the base the others are compared with.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Runs (overrides the scenario files).
        #[arg(long)]
        runs: Option<usize>,
        /// Seed (overrides the scenario files).
        #[arg(long)]
        seed: Option<u64>,
        /// The HTML file to write.
        #[arg(long, short, default_value = "report.html")]
        output: PathBuf,
    },
    /// Combine the partial results of sharded runs (`--shard I/N`) into
    /// exactly what one machine would have written.
    Merge {
        /// The partial results (`partial-I-of-N.json`), or folders holding
        /// them.
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
        Command::Run { scenario, ensemble } => run_ensemble(vec![scenario], ensemble),
        Command::Compare {
            base,
            alternatives,
            ensemble,
        } => {
            let mut all = vec![base];
            all.extend(alternatives);
            run_ensemble(all, ensemble)
        }
        Command::Merge { partials, output } => merge(partials, output),
        Command::Report {
            scenarios,
            runs,
            seed,
            output,
        } => html_report(scenarios, runs, seed, output),
        Command::Describe {
            model,
            format,
            update,
            output,
        } => describe(model, format, update, output),
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
        Command::Calibrate {
            model,
            data,
            params,
            output,
            update_model,
        } => calibrate(model, data, params, output, update_model),
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
    write_atomic(
        &output,
        validation
            .to_markdown(&stem, extension, &command)
            .as_bytes(),
    )?;
    eprintln!(
        "wrote {} and {} charts in {}",
        output.display(),
        validation.series.len(),
        chart_dir.display()
    );
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

/// Loads and prepares scenario files (with the built-in England model and
/// profile), with --runs and --seed applied.
fn prepare_all(
    files: &[PathBuf],
    runs: Option<usize>,
    seed: Option<u64>,
) -> Result<Vec<carecascade::engine::scenario::Prepared>, Error> {
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
    let mut prepared = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match Scenario::load_with(file, &library).and_then(|s| {
            let s = match runs {
                Some(runs) => s.with_runs(runs)?,
                None => s,
            };
            let s = match seed {
                Some(seed) => s.with_seed(seed),
                None => s,
            };
            s.prepare()
        }) {
            Ok(p) => prepared.push(p),
            Err(e) => errors.push(e),
        }
    }
    Error::from_list(errors)?;
    Ok(prepared)
}

/// Runs scenarios with a progress bar on stderr (hidden when stderr is not
/// a terminal).
fn run_with_progress(
    prepared: &[carecascade::engine::scenario::Prepared],
    shard: Option<Shard>,
) -> Result<(carecascade::engine::ensemble::Outcome, usize, f64), Error> {
    let runs = prepared.first().map_or(0, |p| p.scenario().runs());
    let total = shard.map_or(runs, |s| s.runs(runs).len()) * prepared.len();
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {per_sec}, {eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let progress = || bar.inc(1);
    let outcome = carecascade::engine::ensemble::run_scenarios(
        prepared,
        &RunOptions {
            shard,
            progress: Some(&progress),
        },
    )?;
    bar.finish_and_clear();
    Ok((outcome, total, started.elapsed().as_secs_f64()))
}

fn html_report(
    files: Vec<PathBuf>,
    runs: Option<usize>,
    seed: Option<u64>,
    output: PathBuf,
) -> Result<ExitCode, Error> {
    let prepared = prepare_all(&files, runs, seed)?;
    let (outcome, total, seconds) = run_with_progress(&prepared, None)?;
    let html = carecascade::report::report(&outcome, &prepared)?;
    write_atomic(&output, html.as_bytes())?;
    eprintln!(
        "{total} runs in {seconds:.1} s; wrote {} ({} KB)",
        output.display(),
        html.len() / 1024
    );
    print_quietly(&carecascade::report::table(&outcome));
    Ok(ExitCode::SUCCESS)
}

fn run_ensemble(files: Vec<PathBuf>, args: EnsembleArgs) -> Result<ExitCode, Error> {
    let shard = match args.shard.as_deref() {
        Some("auto") => Some(Shard::from_env(
            |name| std::env::var(name).ok(),
            args.shards,
        )?),
        Some(text) => Some(Shard::parse(text)?),
        None => None,
    };
    let prepared = prepare_all(&files, args.runs, args.seed)?;
    if shard.is_none() {
        // Refuse an output folder it may not replace before running.
        carecascade::engine::format::check_set(
            &args.output,
            carecascade::engine::ensemble::Outcome::RESULT_FILES,
        )?;
    }
    let (outcome, total, seconds) = run_with_progress(&prepared, shard)?;
    let written = outcome.write(&args.output)?;
    eprintln!(
        "{total} runs in {seconds:.1} s ({:.0} runs/s); wrote {}",
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

fn merge(partials: Vec<PathBuf>, output: PathBuf) -> Result<ExitCode, Error> {
    use carecascade::engine::ensemble::{Outcome, merge};
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
