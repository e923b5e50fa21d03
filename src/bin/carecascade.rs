//! The carecascade command line: a thin shell over the library.

use carecascade::care::load_model;
use carecascade::format::{save_model, write_atomic};
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
}

#[derive(Subcommand)]
enum Command {
    /// Run a model and write its results as CSV (a `Time` column, then one
    /// column per variable).
    Simulate {
        /// The model file: `.toml` (native) or `.xmile`, `.stmx`, `.itmx`
        /// (XMILE), or a built-in model (`england`).
        model: PathBuf,
        /// Set a constant for this run, e.g. `--set "Contact Infectivity=0.4"`.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Integration method.
        #[arg(long, value_parser = ["euler", "rk4"])]
        method: Option<String>,
        /// Integration step (a number or a fraction such as 1/52).
        #[arg(long)]
        dt: Option<String>,
        /// Stop time.
        #[arg(long)]
        stop: Option<f64>,
        /// Write the CSV here instead of to standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Convert a model between the native format (`.toml`) and XMILE
    /// (`.xmile`), by file extension.
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
        /// The model file: `.toml` (native) or `.xmile`, `.stmx`, `.itmx`
        /// (XMILE), or a built-in model (`england`).
        model: PathBuf,
        /// Treat unit warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Fit a model's parameters to observed series by weighted least
    /// squares (Nelder-Mead from several starts; see
    /// `carecascade::care::calibrate`), and write the fitted values.
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
        /// The report to write; charts go in a folder beside it.
        #[arg(long, short, default_value = "docs/validation.md")]
        output: PathBuf,
        /// Chart format.
        #[arg(long, value_parser = ["svg", "png"], default_value = "svg")]
        charts: String,
    },
    /// Project a model by reporting year ending 31 March: stocks at 31
    /// March, flows summed over the year, with DfE's column names where DfE
    /// publishes the quantity (see `carecascade::care::project`).
    Project {
        /// The model (`england`, or a file with the same variable names).
        model: PathBuf,
        /// The reporting year to start from, at its 31 March published
        /// stocks (default: the last observed year, 2023).
        #[arg(long, default_value_t = 2023)]
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

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Command::Validate {
            model,
            data,
            workforce,
            params,
            output,
            charts,
        } => validate(model, data, workforce, params, output, &charts),
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
    method: Option<String>,
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
        time = time.with_method(method.parse::<Method>()?);
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
    let program = Program::compile(&model)?;
    let mut state = program.state();
    apply_sets(&mut state, sets)?;
    let projection = carecascade::care::project::project_state(&mut state, from, years)?;
    let csv = projection.to_csv();
    write_output(output, |out| out.write_all(csv.as_bytes()))
}

fn calibrate(
    model_path: PathBuf,
    data: PathBuf,
    params: PathBuf,
    output: PathBuf,
    update_model: bool,
) -> Result<ExitCode, Error> {
    use carecascade::care::calibrate::{
        CalibrationSpec, calibrate, fit_to_toml, update_model_file,
    };
    use carecascade::care::data::Observed;
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
        spec.from + 1,
        spec.to,
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
    output: PathBuf,
    charts: &str,
) -> Result<ExitCode, Error> {
    use carecascade::care::calibrate::CalibrationSpec;
    use carecascade::chart::Format;
    let format = if charts == "png" {
        Format::Png
    } else {
        Format::Svg
    };
    use carecascade::care::data::Observed;
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
        carecascade::care::validate::validate(&model, &observed, Some(&workforce), spec.as_ref())?;
    let stem = output
        .file_stem()
        .map_or("validation".into(), |s| s.to_string_lossy().to_string());
    let chart_dir = output.with_file_name(&stem);
    std::fs::create_dir_all(&chart_dir).map_err(|e| Error::io(&chart_dir, e))?;
    for s in &validation.series {
        write_atomic(
            chart_dir.join(format!("{}.{charts}", s.column)),
            &s.chart(format)?,
        )?;
    }
    let mut command = format!("carecascade validate {}", model_path.display());
    if let Some(p) = &params {
        command.push_str(&format!(" --params {}", p.display()));
    }
    let _ = write!(command, " --output {}", output.display());
    if charts != "svg" {
        let _ = write!(command, " --charts {charts}");
    }
    write_atomic(
        &output,
        validation.to_markdown(&stem, charts, &command).as_bytes(),
    )?;
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
    eprintln!(
        "wrote {} and {} charts in {}",
        output.display(),
        validation.series.len(),
        chart_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints to standard output, ignoring a reader that has gone away.
fn print_quietly(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

fn parse_number(text: &str, what: &str) -> Result<f64, Error> {
    let text = text.trim();
    let parsed = match text.split_once('/') {
        Some((a, b)) => a
            .trim()
            .parse::<f64>()
            .ok()
            .zip(b.trim().parse::<f64>().ok())
            .map(|(a, b)| a / b),
        None => text.parse::<f64>().ok(),
    };
    parsed
        .filter(|v| v.is_finite())
        .ok_or_else(|| Error::Invalid {
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
