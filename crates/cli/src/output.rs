//! What the user sees: log lines, progress, errors.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};

use stflash::flash::{Phase, Progress};

/// Log lines on stderr in st-flash's shape: `<time> LEVEL message`.
/// Default level INFO; `--debug` adds debug messages and USB traffic;
/// `--quiet` keeps errors only; `RUST_LOG` overrides both.
pub fn init_logging(debug: bool, quiet: bool) {
    let level = if quiet {
        "error"
    } else if debug {
        "stflash=trace,info"
    } else {
        "info"
    };
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(level);
    if let Ok(env) = std::env::var("RUST_LOG") {
        builder.parse_filters(&env);
    }
    builder
        .format(|buf, record| {
            let ts = buf.timestamp_seconds();
            writeln!(buf, "{ts} {} {}", record.level(), record.args())
        })
        .target(env_logger::Target::Stderr);
    let _ = builder.try_init();
}

/// Progress on stderr: a bar with rate and ETA on a terminal, one plain line
/// per phase otherwise, nothing with `--quiet`. Also carries the Ctrl-C flag.
pub struct CliProgress {
    bar: Option<ProgressBar>,
    terminal: bool,
    quiet: bool,
    stop: Arc<AtomicBool>,
}

impl CliProgress {
    pub fn new(quiet: bool, stop: Arc<AtomicBool>) -> CliProgress {
        CliProgress { bar: None, terminal: std::io::stderr().is_terminal(), quiet, stop }
    }
}

impl Progress for CliProgress {
    fn begin(&mut self, phase: Phase, total: u64) {
        self.end();
        if self.quiet || total == 0 {
            return;
        }
        if !self.terminal {
            log::info!("{} {} bytes", phase.verb(), total);
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
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

impl Drop for CliProgress {
    fn drop(&mut self) {
        self.end();
    }
}

/// Ctrl-C and SIGTERM set the flag (operations stop at the next flash-word
/// boundary); a second signal ends the process at once.
pub fn install_stop_handler() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&flag));
        let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
    }
    flag
}

/// st-flash's own stdout lines (banner, erased pages, "Mass erasing..."):
/// printed normally, suppressed by `--quiet` and by `--json` (whose document
/// must be the only thing on stdout).
#[derive(Debug, Clone, Copy)]
pub struct Stdout {
    pub quiet: bool,
    pub json: bool,
}

impl Stdout {
    pub fn line(&self, text: impl std::fmt::Display) {
        if !self.quiet && !self.json {
            println!("{text}");
        }
    }
}
