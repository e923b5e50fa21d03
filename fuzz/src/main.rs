//! `carecascade-fuzz`: fuzzes one target for a time or a number of inputs,
//! keeping the inputs that crash or hang it.
//!
//! ```text
//! carecascade-fuzz TARGET [--seconds S] [--inputs N] [--seed X] [--timeout S]
//!                         [--memory MB] [--crashes DIR] [--root DIR]
//! carecascade-fuzz replay TARGET FILE...
//! ```
//!
//! The supervisor (this process) starts a worker process that makes and
//! runs the inputs, reporting the index of each before running it. A panic
//! is caught in the worker (`catch_unwind`), which saves the input and goes
//! on. A worker that dies (a stack overflow, an allocation past its memory
//! cap, any abort) or stops reporting for `--timeout` seconds (a hang) is
//! replaced, and the supervisor saves the input it died or hung on (made
//! again from the seed and the index). Saved inputs go to
//! `CRASHES/TARGET/KIND-SEED-INDEX` with a `.txt` note beside each.

use carecascade_fuzz::{Corpus, Outcome, Target, execute, input};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The stack of the thread inputs run on (the command line's is 512 MiB;
/// this is smaller, so that deep recursion shows sooner).
const STACK: usize = 64 << 20;

/// The worker reports each index before running its input, and the index
/// with this bit set after a panic (the input saved).
const PANICKED: u64 = 1 << 63;

struct Options {
    target: Target,
    seconds: Option<f64>,
    inputs: Option<u64>,
    seed: u64,
    timeout: f64,
    memory_mb: u64,
    crashes: PathBuf,
    root: PathBuf,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: carecascade-fuzz TARGET [--seconds S] [--inputs N] [--seed X] [--timeout S] [--memory MB] [--crashes DIR] [--root DIR]\n       carecascade-fuzz replay TARGET FILE...\nTARGET is one of: {}",
        Target::ALL.map(|t| t.name()).join(", ")
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("replay") => replay(&args[1..]),
        Some("worker") => worker(&args[1..]),
        Some(_) => match parse_options(&args) {
            Ok(options) => supervise(&options),
            Err(message) => {
                eprintln!("carecascade-fuzz: {message}");
                usage()
            }
        },
        None => usage(),
    }
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let target =
        Target::from_name(&args[0]).ok_or_else(|| format!("unknown target `{}`", args[0]))?;
    let mut options = Options {
        target,
        seconds: None,
        inputs: None,
        seed: 1,
        timeout: 10.0,
        memory_mb: 2048,
        crashes: root.join("fuzz/crashes"),
        root,
    };
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| format!("`{flag}` needs a value"))?;
        let number = || {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("`{flag} {value}`: expected a non-negative number"))
        };
        match flag.as_str() {
            "--seconds" => options.seconds = Some(number()?),
            "--inputs" => options.inputs = Some(number()? as u64),
            "--seed" => options.seed = number()? as u64,
            "--timeout" => options.timeout = number()?.max(0.1),
            "--memory" => options.memory_mb = number()? as u64,
            "--crashes" => options.crashes = PathBuf::from(value),
            "--root" => options.root = PathBuf::from(value),
            _ => return Err(format!("unknown option `{flag}`")),
        }
    }
    if options.seconds.is_none() && options.inputs.is_none() {
        options.seconds = Some(60.0);
    }
    Ok(options)
}

/// Saves a crashing or hanging input and a note about it.
fn save(crashes: &Path, target: Target, name: &str, bytes: &[u8], note: &str) {
    let dir = crashes.join(target.name());
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("carecascade-fuzz: cannot create {}: {e}", dir.display());
        return;
    }
    let _ = std::fs::write(dir.join(name), bytes);
    let _ = std::fs::write(dir.join(format!("{name}.txt")), note);
}

/// Runs the campaign: workers, crashes, hangs and the figures.
fn supervise(options: &Options) -> ExitCode {
    let target = options.target;
    let corpus = Corpus::load(target, &options.root);
    eprintln!(
        "fuzzing {} with {} corpus files, seed {}, for {}",
        target.name(),
        corpus.files.len(),
        options.seed,
        match (options.seconds, options.inputs) {
            (Some(s), Some(n)) => format!("{s} s or {n} inputs"),
            (Some(s), None) => format!("{s} s"),
            (None, Some(n)) => format!("{n} inputs"),
            (None, None) => unreachable!(),
        }
    );
    let started = Instant::now();
    let deadline = options
        .seconds
        .map(|s| started + Duration::from_secs_f64(s));
    let end = options.inputs.unwrap_or(u64::MAX);
    let timeout = Duration::from_secs_f64(options.timeout);
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("carecascade-fuzz: cannot find its own program: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (mut crashes, mut hangs, mut panics) = (0u64, 0u64, 0u64);
    let mut next = 0u64;
    let mut done = 0u64;
    'workers: while next < end && deadline.is_none_or(|d| Instant::now() < d) {
        let mut child = match Command::new(&exe)
            .arg("worker")
            .arg(target.name())
            .args(["--seed", &options.seed.to_string()])
            .args(["--from", &next.to_string(), "--to", &end.to_string()])
            .args(["--memory", &options.memory_mb.to_string()])
            .arg("--crashes")
            .arg(&options.crashes)
            .arg("--root")
            .arg(&options.root)
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                eprintln!("carecascade-fuzz: cannot start a worker: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut stdout = child.stdout.take().expect("piped");
        // The last index reported, whether it finished, and when.
        let last = Arc::new(AtomicU64::new(u64::MAX));
        let since = Arc::new(Mutex::new(Instant::now()));
        let panicked = Arc::new(AtomicU64::new(0));
        let reader = {
            let (last, since, panicked) = (last.clone(), since.clone(), panicked.clone());
            std::thread::spawn(move || {
                let mut word = [0u8; 8];
                while stdout.read_exact(&mut word).is_ok() {
                    let value = u64::from_le_bytes(word);
                    if value & PANICKED != 0 {
                        panicked.fetch_add(1, Ordering::Relaxed);
                    } else {
                        last.store(value, Ordering::Relaxed);
                        *since.lock().expect("not poisoned") = Instant::now();
                    }
                }
            })
        };
        loop {
            std::thread::sleep(Duration::from_millis(20));
            if let Ok(Some(status)) = child.try_wait() {
                let _ = reader.join();
                panics += panicked.load(Ordering::Relaxed);
                let at = last.load(Ordering::Relaxed);
                if status.success() {
                    done = end;
                    break 'workers;
                }
                if at == u64::MAX {
                    eprintln!(
                        "carecascade-fuzz: the worker failed before its first input: {status}"
                    );
                    return ExitCode::FAILURE;
                }
                crashes += 1;
                let bytes = input(target, &corpus, options.seed, at);
                let name = format!("crash-{}-{at}", options.seed);
                let note = format!(
                    "target {}, seed {}, input {at}: the worker died: {status} (a signal 6 is an abort: a stack overflow, an allocation failure or a panic while panicking)\n",
                    target.name(),
                    options.seed
                );
                eprintln!("CRASH: {}", note.trim_end());
                save(&options.crashes, target, &name, &bytes, &note);
                next = at + 1;
                done = next;
                continue 'workers;
            }
            let at = last.load(Ordering::Relaxed);
            let quiet = since.lock().expect("not poisoned").elapsed();
            let out_of_time = deadline.is_some_and(|d| Instant::now() >= d);
            if quiet > timeout || out_of_time {
                let _ = child.kill();
                let _ = child.wait();
                let _ = reader.join();
                panics += panicked.load(Ordering::Relaxed);
                if out_of_time && quiet <= timeout {
                    done = if at == u64::MAX { next } else { at };
                    break 'workers;
                }
                if at == u64::MAX {
                    eprintln!("carecascade-fuzz: the worker reported nothing for {timeout:?}");
                    return ExitCode::FAILURE;
                }
                hangs += 1;
                let bytes = input(target, &corpus, options.seed, at);
                let name = format!("hang-{}-{at}", options.seed);
                let note = format!(
                    "target {}, seed {}, input {at}: still running after {:.1} s\n",
                    target.name(),
                    options.seed,
                    quiet.as_secs_f64()
                );
                eprintln!("HANG: {}", note.trim_end());
                save(&options.crashes, target, &name, &bytes, &note);
                next = at + 1;
                done = next;
                if out_of_time {
                    break 'workers;
                }
                continue 'workers;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}: {done} inputs in {seconds:.0} s ({:.0}/s), seed {}: {panics} panics, {crashes} crashes (aborts), {hangs} hangs",
        target.name(),
        done as f64 / seconds.max(1e-9),
        options.seed
    );
    if panics + crashes + hangs > 0 {
        println!("saved in {}", options.crashes.join(target.name()).display());
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The message and place of the last panic, taken by the panic hook.
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// The worker: runs inputs `from..to`, reporting each index before running
/// it; saves inputs that panic.
fn worker(args: &[String]) -> ExitCode {
    let Some(target) = args.first().and_then(|t| Target::from_name(t)) else {
        return usage();
    };
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_default()
    };
    let seed: u64 = value("--seed").parse().unwrap_or(1);
    let from: u64 = value("--from").parse().unwrap_or(0);
    let to: u64 = value("--to").parse().unwrap_or(u64::MAX);
    let memory_mb: u64 = value("--memory").parse().unwrap_or(2048);
    let crashes = PathBuf::from(value("--crashes"));
    let root = PathBuf::from(value("--root"));
    cap_memory(memory_mb);
    std::panic::set_hook(Box::new(|info| {
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = info.to_string();
    }));
    let run = move || {
        let corpus = Corpus::load(target, &root);
        let mut out = std::io::stdout().lock();
        let mut counts = [0u64; 3];
        let started = Instant::now();
        let mut shown = Instant::now();
        for index in from..to {
            if out
                .write_all(&index.to_le_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                break;
            }
            let bytes = input(target, &corpus, seed, index);
            match std::panic::catch_unwind(|| execute(target, &bytes)) {
                Ok(outcome) => {
                    counts[match outcome {
                        Outcome::Refused => 0,
                        Outcome::NotCompiled => 1,
                        Outcome::Ran => 2,
                    }] += 1;
                }
                Err(_) => {
                    let message = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let name = format!("panic-{seed}-{index}");
                    let note = format!(
                        "target {}, seed {seed}, input {index}: {message}\n",
                        target.name()
                    );
                    eprintln!("PANIC: {}", note.trim_end());
                    save(&crashes, target, &name, &bytes, &note);
                    let _ = out
                        .write_all(&(index | PANICKED).to_le_bytes())
                        .and_then(|_| out.flush());
                }
            }
            if shown.elapsed() > Duration::from_secs(30) {
                shown = Instant::now();
                let total: u64 = counts.iter().sum();
                eprintln!(
                    "  {} at input {index}: {:.0}/s; refused {}, not compiled {}, ran {}",
                    target.name(),
                    total as f64 / started.elapsed().as_secs_f64(),
                    counts[0],
                    counts[1],
                    counts[2]
                );
            }
        }
    };
    match std::thread::Builder::new().stack_size(STACK).spawn(run) {
        Ok(handle) => {
            if handle.join().is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("carecascade-fuzz: cannot start the worker thread: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Caps the worker's address space, so that an input that allocates
/// without bound fails an allocation (an abort, saved as a crash) instead
/// of taking the machine's memory.
#[cfg(target_os = "linux")]
fn cap_memory(mb: u64) {
    use rustix::process::{Resource, Rlimit, setrlimit};
    // The stack of the inputs' thread is reserved address space too.
    let bytes = (mb << 20).saturating_add(STACK as u64 + (256 << 20));
    let limit = Rlimit {
        current: Some(bytes),
        maximum: Some(bytes),
    };
    if let Err(e) = setrlimit(Resource::As, limit) {
        eprintln!("carecascade-fuzz: cannot cap the memory: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
fn cap_memory(_mb: u64) {}

/// Runs saved inputs in this process (on a thread with the workers'
/// stack), printing what became of each; a crash shows as it happens.
fn replay(args: &[String]) -> ExitCode {
    let Some(target) = args.first().and_then(|t| Target::from_name(t)) else {
        return usage();
    };
    let files: Vec<PathBuf> = args[1..].iter().map(PathBuf::from).collect();
    let run = move || {
        for file in files {
            let bytes = match std::fs::read(&file) {
                Ok(bytes) => bytes,
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    continue;
                }
            };
            let started = Instant::now();
            let outcome = execute(target, &bytes);
            println!(
                "{}: {outcome:?} in {:.3} s",
                file.display(),
                started.elapsed().as_secs_f64()
            );
        }
    };
    match std::thread::Builder::new().stack_size(STACK).spawn(run) {
        Ok(handle) => match handle.join() {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        },
        Err(_) => ExitCode::FAILURE,
    }
}
