//! What the user sees: log lines, progress, errors.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use stflash::flash::{Phase, Progress, Sector};
use stflash::text::count;

/// Log lines on stderr in st-flash's shape: `<time> LEVEL message`.
/// The flags on the command line win: `--quiet` keeps errors only, `--debug`
/// adds debug messages and USB traffic, whatever `RUST_LOG` says. Without
/// either, a non-empty `RUST_LOG` is the filter (env_logger's syntax), else INFO.
pub fn init_logging(debug: bool, quiet: bool) {
    init_logging_with(debug, quiet, std::env::var("RUST_LOG").ok());
}

fn log_filter(debug: bool, quiet: bool, rust_log: Option<String>) -> String {
    match (quiet, debug, rust_log.filter(|f| !f.trim().is_empty())) {
        (true, _, _) => "error".into(),
        (false, true, _) => "stflash=trace,info".into(),
        (false, false, Some(filter)) => filter,
        (false, false, None) => "info".into(),
    }
}

thread_local! {
    /// The board this thread works on, named in its log lines (several
    /// boards at once: `--all-probes`, `--serial A,B`).
    static BOARD: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Name the board of this thread's log lines (`[<probe serial>] message`).
pub fn set_board(name: Option<String>) {
    BOARD.with(|b| *b.borrow_mut() = name);
}

fn init_logging_with(debug: bool, quiet: bool, rust_log: Option<String>) {
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(&log_filter(debug, quiet, rust_log));
    builder
        .format(|buf, record| {
            let ts = buf.timestamp_seconds();
            let board = BOARD.with(|b| b.borrow().as_ref().map(|n| format!("[{n}] ")).unwrap_or_default());
            writeln!(buf, "{ts} {} {board}{}", record.level(), record.args())
        })
        .target(env_logger::Target::Stderr);
    let _ = builder.try_init();
}

/// Progress on stderr: a bar with rate and ETA on a terminal, one plain line
/// per phase otherwise, nothing with `--quiet`. Also carries the Ctrl-C flag,
/// and prints st-flash's erase lines on stdout as the erases happen:
/// `Mass erasing...` when a mass erase starts, else one `-> Flash page at
/// 0x8000000 erased (size: 0x400)` per erased sector and an empty line after
/// them (not with `--quiet` or `--json`).
pub struct CliProgress<'a> {
    /// Names this operation's entry in the flash states a forced exit prints.
    id: usize,
    /// How long the operation said it needs to reach its next safe point.
    safe_within: Duration,
    /// The second signal has been answered.
    waiting_said: Cell<bool>,
    bar: Option<ProgressBar>,
    terminal: bool,
    quiet: bool,
    stop: Arc<AtomicBool>,
    console: &'a Console,
    /// The command erases the whole flash: announce it, do not list sectors.
    mass: bool,
    mass_announced: bool,
    /// Sector lines printed since the last empty line.
    pages: usize,
}

impl<'a> CliProgress<'a> {
    pub fn new(quiet: bool, stop: Arc<AtomicBool>, console: &'a Console) -> CliProgress<'a> {
        CliProgress {
            id: PROGRESS_IDS.fetch_add(1, Ordering::Relaxed),
            safe_within: Duration::ZERO,
            waiting_said: Cell::new(false),
            bar: None,
            terminal: std::io::stderr().is_terminal(),
            quiet,
            stop,
            console,
            mass: false,
            mass_announced: false,
            pages: 0,
        }
    }

    /// The command is a mass erase (`erase`, `--mass-erase`).
    pub fn mass_erase(mut self, mass: bool) -> Self {
        self.mass = mass;
        self
    }

    /// A stdout line, with the bar out of the way on a terminal.
    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.suspend(|| self.console.line(&text)),
            None => self.console.line(&text),
        }
    }
}

impl Progress for CliProgress<'_> {
    fn begin(&mut self, phase: Phase, total: u64) {
        self.end();
        if phase == Phase::Erase && self.mass && !self.mass_announced {
            self.mass_announced = true;
            self.console.line("Mass erasing...");
        }
        if self.quiet || total == 0 {
            return;
        }
        if !self.terminal {
            log::info!("{} {}", phase.verb(), count(total, "byte"));
            return;
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg:>11} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(phase.verb());
        self.bar = Some(bar);
    }

    fn add(&mut self, amount: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(amount);
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.pages > 0 {
            // st-flash ends its list of erased pages with an empty line.
            self.pages = 0;
            self.console.line("");
        }
    }

    fn erased(&mut self, sector: &Sector) {
        if !self.mass {
            self.line(format!("-> Flash page at {:#x} erased (size: {:#x})", sector.addr, sector.size));
            self.pages += 1;
        }
    }

    fn flash_state(&mut self, state: &str, safe_within: Duration) {
        self.safe_within = safe_within;
        let mut states = FLASH_STATES.lock().unwrap_or_else(|e| e.into_inner());
        states.insert(self.id, state.to_string());
    }

    fn should_stop(&self) -> bool {
        // The second signal is answered here, in the flow of the operation,
        // once; the third is the watcher thread's (`install_stop_handler`).
        if SIGNALS.load(Ordering::Relaxed) >= 2 && !self.waiting_said.replace(true) {
            let within = self.safe_within.as_secs_f64().max(0.1);
            log::warn!(
                "stopping safely, please wait (up to {within:.1} s): the flash is left at a sector or \
                 flash-word boundary; press Ctrl-C again to force an exit now"
            );
        }
        self.stop.load(Ordering::Relaxed)
    }
}

impl Drop for CliProgress<'_> {
    fn drop(&mut self) {
        self.end();
        FLASH_STATES.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

/// Ctrl-C and SIGTERM signals received so far (counted in the handler).
static SIGNALS: AtomicUsize = AtomicUsize::new(0);
/// The flash state each running operation last reported, by progress id:
/// what a forced exit prints.
static FLASH_STATES: Mutex<BTreeMap<usize, String>> = Mutex::new(BTreeMap::new());
static PROGRESS_IDS: AtomicUsize = AtomicUsize::new(0);

/// What Ctrl-C and SIGTERM do. The first sets the flag: the operation stops
/// at its next safe point (the end of the sector being written; a mass
/// erase cannot be stopped). A second says how long that takes and that a
/// third forces an exit. The third ends the process at once, after printing
/// the flash state the operation last reported (and so the journal that
/// holds any kept bytes): the flash may then be left mid-sector.
pub fn install_stop_handler() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let signals = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];
    for sig in signals {
        let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
        // SAFETY: the action only adds to an atomic counter, which is
        // async-signal-safe.
        let _ = unsafe {
            signal_hook::low_level::register(sig, || {
                SIGNALS.fetch_add(1, Ordering::Relaxed);
            })
        };
    }
    if let Ok(mut watched) = signal_hook::iterator::Signals::new(signals) {
        std::thread::spawn(move || {
            for _ in watched.forever() {
                if SIGNALS.load(Ordering::Relaxed) >= 3 {
                    force_exit();
                }
            }
        });
    }
    flag
}

/// The third signal: say what the flash holds, then exit with 130.
fn force_exit() -> ! {
    let states = FLASH_STATES.lock().map(|s| s.values().cloned().collect::<Vec<_>>()).unwrap_or_default();
    let state = if states.is_empty() { "nothing was changed".to_string() } else { states.join("; ") };
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "error: forced to stop; flash state: {state}; run the same command again to complete it \
         (kept bytes, if any, are in the journal it names)"
    );
    let _ = err.flush();
    std::process::exit(130)
}

/// stdout for a whole run. Every write is checked, none panics: when the
/// reader has gone (EPIPE, e.g. `stflash … | head -1`) stdout stays silent for
/// the rest of the run and the command carries on to its own end and exit
/// code (a closed pipe is not an error, as for ripgrep and other Unix tools);
/// any other write failure (a full disk) is remembered, stdout falls silent,
/// and [`Console::failure`] turns the run's success into an error.
pub struct Console {
    out: RefCell<Box<dyn Write>>,
    closed: Cell<bool>,
    failed: RefCell<Option<io::Error>>,
    quiet: Cell<bool>,
    json: Cell<bool>,
}

impl Console {
    /// The process's stdout.
    pub fn stdout() -> Console {
        Console::new(Box::new(io::stdout()))
    }

    /// Any writer (tests, embedding).
    pub fn new(out: Box<dyn Write>) -> Console {
        Console {
            out: RefCell::new(out),
            closed: Cell::new(false),
            failed: RefCell::new(None),
            quiet: Cell::new(false),
            json: Cell::new(false),
        }
    }

    /// `--quiet` and `--json` silence st-flash's informational lines ([`Console::line`]).
    pub fn set_mode(&self, quiet: bool, json: bool) {
        self.quiet.set(quiet);
        self.json.set(json);
    }

    /// Write bytes (and flush, so that stdout and stderr lines keep their order).
    pub fn write_bytes(&self, bytes: &[u8]) {
        if self.closed.get() {
            return;
        }
        let mut out = self.out.borrow_mut();
        if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
            self.closed.set(true);
            if e.kind() != io::ErrorKind::BrokenPipe {
                self.failed.borrow_mut().get_or_insert(e);
            }
        }
    }

    /// Output that is the command's result (a value, a document, help text):
    /// printed also with `--quiet`.
    pub fn print(&self, text: impl Display) {
        self.write_bytes(text.to_string().as_bytes());
    }

    /// [`Console::print`] and a newline.
    pub fn println(&self, text: impl Display) {
        self.print(format_args!("{text}\n"));
    }

    /// One of st-flash's informational stdout lines (banner, erased pages,
    /// "Mass erasing..."): not with `--quiet`, not with `--json` (whose
    /// document must be the only thing on stdout).
    pub fn line(&self, text: impl Display) {
        if !self.quiet.get() && !self.json.get() {
            self.println(text);
        }
    }

    /// Whether st-flash's informational lines are printed.
    pub fn shows_lines(&self) -> bool {
        !self.quiet.get() && !self.json.get()
    }

    /// The first stdout write failure that was not a closed pipe.
    pub fn failure(&self) -> Option<String> {
        self.failed.borrow().as_ref().map(|e| format!("cannot write to stdout: {e}"))
    }
}

/// A line on stderr; a failure to write it is ignored (there is nowhere left
/// to report it), never a panic as with `eprintln!`.
pub fn eprintln(text: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// Text on stderr as it is (see [`eprintln`]).
pub fn eprint(text: impl Display) {
    let _ = write!(io::stderr().lock(), "{text}");
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn flags_win_over_rust_log() {
        let env = || Some("stflash=debug".to_string());
        assert_eq!(log_filter(false, true, env()), "error");
        assert_eq!(log_filter(true, false, env()), "stflash=trace,info");
        assert_eq!(log_filter(true, true, env()), "error", "--quiet wins over --debug");
        assert_eq!(log_filter(false, false, env()), "stflash=debug");
        assert_eq!(log_filter(false, false, Some(" ".into())), "info");
        assert_eq!(log_filter(false, false, None), "info");
    }
}
