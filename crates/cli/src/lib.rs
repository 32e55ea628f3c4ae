//! Command line: st-flash compatible arguments, output and exit codes.
//!
//! Flow: parse (no I/O) → load and check input files (no probe yet) → open the
//! probe and connect → run the operation → leave the target running and the
//! probe idle. Every failure becomes one `error:` line on stderr and a
//! documented exit code (`ErrorKind::exit_code`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use log::{info, warn};

use stflash::error::{Error, ErrorKind, Result};
use stflash::flash::options::OptionArea;
use stflash::flash::Progress;
use stflash::mcu::{ConnectMode, ConnectOptions};
use stflash::ops::image::{self, Format, Image};
use stflash::ops::{erase, options, read, write, Session};
use stflash::transport::Transport;
use stflash_sim::SimHandle;

pub mod args;
mod boards;
mod check;
pub mod data;
mod doctor;
mod filelock;
pub mod generate;
pub mod info;
pub mod json;
mod logfile;
pub mod number;
pub mod output;
mod probes;
mod recover;
pub mod report;
pub mod serialno;

use args::{Area, Command, Invocation, Parsed};
use output::CliProgress;
pub use output::Console;
use report::{Done, InputSummary, Outcome, Stopwatch};

/// Run the program on the process's arguments; returns the exit code.
/// The program name (argv[0]) is never looked at: a copy or link named
/// `st-flash` behaves exactly as `stflash`.
pub fn main() -> u8 {
    run_with_args(std::env::args_os().skip(1))
}

/// Run on explicit arguments (without the program name).
pub fn run_with_args(argv: impl IntoIterator<Item = OsString>) -> u8 {
    run_with(argv, &Console::stdout(), None)
}

/// An opened probe to run a command on, instead of finding one (`--sim`,
/// `STFLASH_SIM`, USB): its transport and, when it is simulated, the
/// simulator (whose modeled clock then times the run).
pub type GivenProbe = (Box<dyn Transport>, Option<SimHandle>);

/// Run on explicit arguments with stdout going to `console`; with `probe`,
/// a st-flash command runs on that probe. Returns the exit code. Failing
/// stdout writes never end the run early (see [`Console`]).
pub fn run_with(argv: impl IntoIterator<Item = OsString>, console: &Console, probe: Option<GivenProbe>) -> u8 {
    let code = dispatch(argv, console, probe);
    match console.failure() {
        Some(e) if code == 0 => {
            output::eprintln(format_args!("error: {e}"));
            ErrorKind::Other.exit_code()
        }
        _ => code,
    }
}

fn dispatch(argv: impl IntoIterator<Item = OsString>, console: &Console, probe: Option<GivenProbe>) -> u8 {
    let argv: Vec<OsString> = argv.into_iter().collect();
    let json_requested = argv.iter().any(|a| a == "--json");
    let parsed = match args::parse(argv.iter().cloned()) {
        Ok(p) => p,
        Err(e) => {
            for line in &e.lines {
                output::eprintln(line);
            }
            if json_requested {
                console.println(json::usage_error(args::command_word(&argv), &e.lines));
            } else {
                // st-flash's line, on stdout, for scripts that look for it;
                // the usage only for an empty command line.
                console.println("invalid command line");
                if argv.is_empty() {
                    console.print(args::usage_block());
                }
                output::eprintln(args::HELP_POINTER);
            }
            return ErrorKind::Usage.exit_code();
        }
    };
    match parsed {
        Parsed::Version => {
            console.println(format_args!(
                "v{} (stflash {})",
                stflash::ST_FLASH_COMPAT_VERSION,
                env!("CARGO_PKG_VERSION")
            ));
            0
        }
        Parsed::Help => {
            console.print(args::help());
            0
        }
        Parsed::Print(text) => {
            console.print(text);
            0
        }
        Parsed::Completions { shell, name } => {
            let mut script = Vec::new();
            generate::completions(shell, &name, &mut script);
            console.write_bytes(&script);
            0
        }
        Parsed::Man => {
            let mut page = Vec::new();
            match generate::man(&mut page) {
                Ok(()) => {
                    console.write_bytes(&page);
                    0
                }
                Err(e) => {
                    output::eprintln(format_args!("error: {e}"));
                    ErrorKind::Other.exit_code()
                }
            }
        }
        Parsed::Info(req) => info::run(&req, console),
        Parsed::Recover(req) => recover::run(&req, console, probe),
        Parsed::Doctor(req) => doctor::run(&req, console, probe),
        Parsed::Run(inv) => run_invocation(&inv, console, probe),
    }
}

/// A st-flash command: banner, run, then the summary line (or the JSON
/// document) and the exit code.
fn run_invocation(inv: &Invocation, console: &Console, probe: Option<GivenProbe>) -> u8 {
    output::init_logging(inv.debug, inv.quiet);
    console.set_mode(inv.quiet, inv.json);
    for w in &inv.warnings {
        log::warn!("{w}");
    }
    if inv.command.is_st_flash() {
        console.line(format_args!(
            "st-flash {} (stflash {})",
            stflash::ST_FLASH_COMPAT_VERSION,
            env!("CARGO_PKG_VERSION")
        ));
    }
    if boards::is_station(inv) {
        return boards::run(inv, console);
    }
    let mut outcome = Outcome::new(command_name(&inv.command));
    let result = run(inv, console, probe, &mut outcome);
    let logged = match &inv.log {
        Some(path) => logfile::record(path, &outcome, result.as_ref().err()),
        None => Ok(()),
    };
    report_outcome(&outcome, result.as_ref().err(), inv.quiet, inv.json, console);
    // A board that is done but not in the log is not traced: not a success.
    result.and(logged).map_or_else(|e| e.exit_code(), |()| 0)
}

/// How a session ended, for the user: the error on stderr, or the summary
/// line (unless quiet); with `--json`, the document on stdout.
pub(crate) fn report_outcome(outcome: &Outcome, error: Option<&Error>, quiet: bool, json: bool, console: &Console) {
    match error {
        Some(e) => output::eprintln(format_args!("error: {e}")),
        None if !quiet && !json => {
            if let Some(line) = outcome.summary() {
                info!("{line}");
            }
        }
        None => {}
    }
    if json {
        console.println(json::document(outcome, error));
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::ReadMemory { .. } | Command::ReadOtp { .. } | Command::ReadOption { .. } => "read",
        Command::ReadOptionRegister { .. } => "read",
        Command::WriteFile { .. } | Command::WriteOptionValue { .. } => "write",
        Command::Erase { .. } => "erase",
        Command::Reset => "reset",
        Command::Verify { .. } => "verify",
        Command::ChecksumRange { .. } | Command::ChecksumFile { .. } => "checksum",
        Command::BlankCheck { .. } => "blank-check",
    }
}

/// Input prepared before the probe is opened.
#[derive(Clone)]
enum Prepared {
    None,
    Image(Image),
    /// The output file of a read, known to be writable.
    Output(OutputFile),
}

/// Load and check the input (and record it in `outcome`) before any probe
/// is opened.
fn prepare_input(inv: &Invocation, outcome: &mut Outcome) -> Result<Prepared> {
    if let Some(counter) = &inv.serial_counter {
        serialno::Counter::new(counter).check()?;
    }
    if let Some(log) = &inv.log {
        logfile::check(log)?;
    }
    let prepared = prepare(inv)?;
    let file = match &inv.command {
        Command::WriteFile { file, .. } => file.clone(),
        Command::Verify { file, .. } => Some(file.clone()),
        _ => None,
    };
    if let Prepared::Image(image) = &prepared {
        let mut input = InputSummary::new(file.clone(), image, &inv.data);
        if let Some(file) = file {
            // The CRC-32 of the file as read, for traceability (--log, --json).
            input.crc32 = std::fs::read(file).ok().map(|b| stflash::ops::journal::crc32(&b));
        }
        outcome.input = Some(input);
    }
    Ok(prepared)
}

fn prepare(inv: &Invocation) -> Result<Prepared> {
    match &inv.command {
        // Without --format the content decides; a binary file needs an
        // address (as in st-flash), other formats carry their own.
        Command::WriteFile { file, addr, .. } => {
            let mut image = match file {
                Some(file) => Image::load(file, inv.format, *addr)?,
                None => Image::empty(),
            };
            for item in &inv.data {
                image.overlay(item.addr, &item.bytes);
            }
            Ok(Prepared::Image(image))
        }
        Command::Verify { file, addr } => Ok(Prepared::Image(Image::load(file, inv.format, *addr)?)),
        Command::ReadMemory { file, .. } | Command::ReadOtp { file } | Command::ReadOption { file: Some(file) } => {
            OutputFile::check(file).map(Prepared::Output)
        }
        _ => Ok(Prepared::None),
    }
}

/// The file a read writes, checked before the probe is opened: it can be
/// created, or opened for writing (without changing it yet). A file created
/// by the check is removed again when the command fails, so a failed read
/// leaves no file behind.
#[derive(Clone)]
struct OutputFile {
    path: PathBuf,
    created: bool,
}

impl OutputFile {
    fn check(path: &Path) -> Result<OutputFile> {
        let existed = path.symlink_metadata().is_ok();
        let shown = path.display();
        if path.is_dir() {
            return Err(Error::input(format!("cannot write {shown}: it is a directory")));
        }
        std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(path).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such directory; check the path".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            };
            Error::input(format!("cannot write {shown}: {why}"))
        })?;
        Ok(OutputFile { path: path.to_path_buf(), created: !existed })
    }

    /// The command failed: remove the file if the check created it.
    fn discard(&self) {
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn connect_options(inv: &Invocation) -> ConnectOptions {
    ConnectOptions {
        mode: if inv.connect_under_reset { ConnectMode::UnderReset } else { ConnectMode::HotPlug },
        speed_khz: inv.freq_khz,
        flash_size: inv.flash_size,
        halt: true,
    }
}

fn run(inv: &Invocation, console: &Console, probe: Option<GivenProbe>, outcome: &mut Outcome) -> Result<()> {
    // From here on Ctrl-C and SIGTERM only set the flag (a second one ends
    // the process at once): an interruption while connecting is reported too.
    if let Command::ChecksumFile { .. } = inv.command {
        return check::checksum_file(inv, console, outcome);
    }
    let stop = output::install_stop_handler();
    let prepared = prepare_input(inv, outcome)?;
    let output = match &prepared {
        Prepared::Output(o) => Some(o.clone()),
        _ => None,
    };
    let result = run_prepared(inv, prepared, console, probe, stop, outcome);
    if let (Err(_), Some(o)) = (&result, output) {
        o.discard();
    }
    result
}

fn run_prepared(
    inv: &Invocation,
    prepared: Prepared,
    console: &Console,
    probe: Option<GivenProbe>,
    stop: Arc<AtomicBool>,
    outcome: &mut Outcome,
) -> Result<()> {
    let stopped = || stop.load(Ordering::Relaxed);
    if stopped() {
        return Err(interrupted_early());
    }
    let (transport, sim) = match probe {
        Some(given) => given,
        None => probes::open_one(&inv.sim, inv.serial.as_deref())?,
    };
    let mut clock = Stopwatch::start();
    // Option and OTP commands must work on a chip whose flash layout stflash
    // refuses (e.g. swapped banks): that is how such a chip gets repaired.
    let options_only = matches!(
        inv.command,
        Command::ReadOption { .. }
            | Command::ReadOptionRegister { .. }
            | Command::WriteOptionValue { .. }
            | Command::ReadOtp { .. }
            | Command::WriteFile { otp: true, .. }
    );
    let mut session = Session::open_with(transport, &connect_options(inv), options_only)?;
    clock.use_sim(sim.clone());
    outcome.connected(&mut session, sim.is_some(), wants_uid(inv));
    if stopped() {
        // Connecting halted the core and nothing else: let it run again.
        let _ = session.finish(false);
        outcome.time = Some(clock.read());
        return Err(interrupted_early());
    }
    if session.target.flash_size != session.target.flash_size_detected {
        console.line(format_args!("Forcing flash size: --flash=0x{:08X}", session.target.flash_size));
    }
    warn_pending_journal(&mut session, &inv.command);
    let result = match execute(&mut session, inv, prepared, Arc::clone(&stop), console, outcome) {
        Ok(After::DebugPortGone) => {
            session.abandon();
            Ok(())
        }
        Ok(after) => {
            if stopped() {
                // The stop came after the last point where it could stop the
                // command: say that it did not, and what the flash holds.
                let state = flash_state(outcome).map_or(String::new(), |s| format!("; flash state: {s}"));
                warn!("interrupted after the command had finished: it completed{state}");
            }
            if let Some(summary) = sim.as_ref().map(|h| h.stats()) {
                log::debug!("simulator: {summary:?}");
            }
            let (reset, run) = end_state(inv, after, session.target.was_halted);
            // A check that found differences exits 8 once the chip is left as it should be.
            let finished = session.finish_as(reset, run).map_err(|e| completed_before(e, outcome));
            finished.and_then(|()| check::verdict(outcome).map_or(Ok(()), Err))
        }
        Err(e) => {
            session.abandon();
            Err(e)
        }
    };
    outcome.time = Some(clock.read());
    result
}

/// A failure to reset or start the chip after a write or an erase that
/// completed says what the flash holds: the command's work is done.
fn completed_before(mut e: stflash::Error, outcome: &Outcome) -> stflash::Error {
    let Some(state) = flash_state(outcome) else { return e };
    e.message = format!("{}; flash state: {state} (only resetting or starting the chip afterwards failed)", e.message);
    e
}

/// What a completed write or erase left in flash.
fn flash_state(outcome: &Outcome) -> Option<&'static str> {
    match &outcome.done {
        Some(Done::Write(r)) if r.verified => Some("written and verified"),
        Some(Done::Write(_)) => Some("written (not verified)"),
        Some(Done::Erase(_)) => Some("erased"),
        _ => None,
    }
}

/// Whether to reset the chip after a successful command, and whether to
/// let the core run: by default write and erase reset and every command
/// lets the core run; `--reset` resets after any command; `--no-run` leaves
/// the core halted (at its reset vector when it was reset); `--no-reset`
/// resets nothing and leaves the core as stflash found it (`was_halted`).
fn end_state(inv: &Invocation, after: After, was_halted: bool) -> (bool, bool) {
    let reset = inv.reset || (after == After::Reset && !inv.no_reset);
    let keep_halted = inv.no_reset && was_halted;
    let run = !inv.no_run && !keep_halted;
    (reset, run)
}

/// Whether the run reports the chip's unique ID (read once, at connect):
/// in the JSON, the log, a station's lines, a serial number.
fn wants_uid(inv: &Invocation) -> bool {
    inv.json || inv.log.is_some() || inv.serial_template.is_some() || boards::is_station(inv)
}

/// Ctrl-C or SIGTERM before the command changed anything.
fn interrupted_early() -> Error {
    Error::new(ErrorKind::Interrupted, "interrupted before anything was changed")
}

/// What to do with the target after a successful command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// Let the core continue where it was.
    Resume,
    /// Reset it so that the (new) firmware starts from its reset vector.
    Reset,
    /// Nothing: the debug port is disabled (RDP level 2 was just set).
    DebugPortGone,
}

fn execute(
    session: &mut Session,
    inv: &Invocation,
    prepared: Prepared,
    stop: Arc<AtomicBool>,
    console: &Console,
    outcome: &mut Outcome,
) -> Result<After> {
    let mass = inv.mass_erase || inv.command == (Command::Erase { range: None });
    let mut progress = CliProgress::new(inv.quiet, stop, console).mass_erase(mass);
    match &inv.command {
        Command::ReadMemory { file, addr, size } => {
            info!("read from address 0x{addr:08x} size {size}");
            let data = read::read(session, *addr, *size, &mut progress)?;
            let format = save_read(file, *addr, &data, inv.format)?;
            outcome.done = Some(Done::Read { file: file.clone(), addr: *addr, bytes: data.len() as u64, format });
            Ok(After::Resume)
        }
        Command::ReadOtp { file } => {
            let (base, data) = options::read_otp(session, &mut progress)?;
            let format = save_read(file, base, &data, inv.format)?;
            outcome.done = Some(Done::Read { file: file.clone(), addr: base, bytes: data.len() as u64, format });
            Ok(After::Resume)
        }
        Command::WriteFile { .. } => {
            let Prepared::Image(mut image) = prepared else { unreachable!("prepared for WriteFile") };
            let number = stamp_serial(session, inv, &mut image, outcome)?;
            let result = write_image(session, inv, image, &mut progress, console, outcome);
            if let Some((counter, number)) = number {
                settle_serial(&counter, number, result.is_ok());
            }
            result
        }
        Command::Erase { range } => {
            erase_flash(session, inv, *range, &mut progress, console, outcome)?;
            Ok(After::Reset)
        }
        Command::Reset => {
            outcome.done = Some(Done::Reset);
            Ok(After::Reset)
        }
        Command::Verify { .. } => {
            let Prepared::Image(image) = prepared else { unreachable!("prepared for Verify") };
            check::verify(session, inv, &image, &mut progress, outcome)
        }
        Command::BlankCheck { range } => check::blank_check(session, inv, *range, &mut progress, outcome),
        Command::ChecksumRange { addr, size } => {
            check::checksum(session, inv, (*addr, *size), &mut progress, console, outcome)
        }
        Command::ChecksumFile { .. } => unreachable!("checksum FILE runs without a probe"),
        Command::ReadOption { .. } | Command::ReadOptionRegister { .. } | Command::WriteOptionValue { .. } => {
            option_command(session, inv, console, outcome)
        }
    }
}

/// `erase`: the sectors of a range, or everything (`--mass-erase`, or no
/// range).
fn erase_flash(
    session: &mut Session,
    inv: &Invocation,
    range: Option<(u32, u32)>,
    progress: &mut CliProgress,
    console: &Console,
    outcome: &mut Outcome,
) -> Result<()> {
    match range {
        // The progress prints "-> Flash page at … erased" lines, or
        // "Mass erasing...", as the erase goes.
        Some((addr, size)) if !inv.mass_erase => {
            let report = erase::erase_range(session, addr, size, progress)?;
            progress.end();
            console.line("Section erase completed successfully.");
            outcome.done = Some(Done::Erase(report));
        }
        _ => {
            let report = erase::erase_all(session, progress)?;
            progress.end();
            console.line("Mass erase completed successfully.");
            outcome.done = Some(Done::Erase(report));
        }
    }
    Ok(())
}

/// Reading or writing an option area (`--area=option|optcr|…`).
fn option_command(session: &mut Session, inv: &Invocation, console: &Console, outcome: &mut Outcome) -> Result<After> {
    match &inv.command {
        Command::ReadOption { file } => {
            let (value, all) = options::read_area(session, OptionArea::Option)?;
            match file {
                // st-flash writes the word in host byte order (stlink 1.8.0
                // `src/st-flash/flash.c:300` writes the uint32_t as it lies in memory); stflash always writes little-endian, the same
                // bytes on every common host.
                Some(path) => std::fs::write(path, value.value.to_le_bytes())
                    .map_err(|e| Error::input(format!("cannot write {}: {e}", path.display())))?,
                None => raw_value(inv, console, value.value),
            }
            show_decoded(inv, console, &options::describe(&all));
            outcome.done = Some(Done::Options { area: "option", value: value.value, words: all, written: false });
            Ok(After::Resume)
        }
        Command::ReadOptionRegister { area } => {
            let (value, _) = options::read_area(session, option_area(*area))?;
            raw_value(inv, console, value.value);
            show_decoded(inv, console, &options::describe(&[value]));
            outcome.done =
                Some(Done::Options { area: area.name(), value: value.value, words: vec![value], written: false });
            Ok(After::Resume)
        }
        Command::WriteOptionValue { area, value } => {
            refuse_mass_erase(inv, "option bytes")?;
            let result = options::write(session, option_area(*area), value, &inv.guards)?;
            let first = result.written.first().map_or(0, |w| w.value);
            outcome.done =
                Some(Done::Options { area: area.name(), value: first, words: result.written.clone(), written: true });
            if result.debug_port_gone {
                return Ok(After::DebugPortGone);
            }
            show_decoded(inv, console, &options::describe(&result.written));
            Ok(After::Resume)
        }
        _ => unreachable!("not an option command"),
    }
}

/// Write the prepared image (flash, RAM or OTP).
fn write_image(
    session: &mut Session,
    inv: &Invocation,
    image: Image,
    progress: &mut CliProgress,
    console: &Console,
    outcome: &mut Outcome,
) -> Result<After> {
    if matches!(inv.command, Command::WriteFile { otp: true, .. }) {
        refuse_mass_erase(inv, "OTP")?;
        let report = options::write_otp(session, &image, &inv.guards)?;
        outcome.done = Some(Done::Otp { programmed: report.programmed, unchanged: report.unchanged });
        return Ok(After::Resume);
    }
    let opts = write::WriteOptions {
        mass_erase: inv.mass_erase,
        preserve: !inv.erase_rest,
        verify: true,
        readback: inv.verify_readback,
        // --no-reset: the firmware goes on as it was, so its SRAM and
        // the core's registers must stay as they are.
        fast: !inv.no_reset,
        ..write::WriteOptions::default()
    };
    let report = write::write(session, &image, &opts, progress)?;
    let flash = report.flash_bytes > 0;
    if flash {
        // st-flash's lines after programming flash: a count of the
        // pages written, then its verification lines.
        let pages = sectors_written(session, &image, &report);
        for i in 1..=pages {
            console.line(format_args!("{i:>3}/{pages:<3} pages written"));
        }
        if pages > 0 {
            console.line("");
        }
        info!("Starting verification of write complete");
        info!("Flash written and verified! jolly good!");
    }
    // New EEPROM contents too are for the firmware to find from its start.
    let restart = flash || report.eeprom.is_some();
    outcome.done = Some(Done::Write(report));
    if restart {
        return Ok(After::Reset);
    }
    // A RAM image from a file may be code to start; --data values are data.
    let from_file = matches!(inv.command, Command::WriteFile { file: Some(_), .. });
    if from_file && !inv.no_reset {
        start_ram_image(session, &image, !inv.no_run)?;
    }
    Ok(After::Resume)
}

/// With `--serial-template`: take this chip's number from the counter,
/// render the serial number and place it over the image. Returns the
/// counter and number to settle once the write is done.
fn stamp_serial(
    session: &mut Session,
    inv: &Invocation,
    image: &mut Image,
    outcome: &mut Outcome,
) -> Result<Option<(serialno::Counter, u64)>> {
    let Some(template) = &inv.serial_template else { return Ok(None) };
    let uid = session.unique_id()?;
    if template.uses_uid() && uid.is_none() {
        return Err(Error::unsupported(format!(
            "the serial template uses {{uid}}, but the unique ID of this {} cannot be read",
            session.target.chip.name
        )));
    }
    let counter = inv.serial_counter.as_deref().map(serialno::Counter::new);
    let reserved = match &counter {
        Some(c) => Some(c.reserve(uid.as_ref())?),
        None => None,
    };
    let bytes = match template.render(reserved.as_ref().map(|r| r.number), uid.as_ref()) {
        Ok(b) => b,
        Err(why) => {
            // Nothing was written: the number may go to another chip.
            if let (Some(c), Some(r)) = (&counter, &reserved) {
                let _ = c.release(r.number);
            }
            return Err(Error::input(format!("--serial-template {}: {why}", template.text)));
        }
    };
    if u64::from(template.addr) + bytes.len() as u64 > 1 << 32 {
        if let (Some(c), Some(r)) = (&counter, &reserved) {
            let _ = c.release(r.number);
        }
        return Err(Error::input("the serial number runs past the end of the address space"));
    }
    if let Some(r) = reserved.as_ref().filter(|r| r.again) {
        info!("serial number {}: this chip's from an earlier attempt that was not verified", r.number);
    }
    let text = serialno::printable(&bytes);
    info!("serial number at 0x{:08X}: {}", template.addr, text.as_deref().unwrap_or("(binary)"));
    image.overlay(template.addr, &bytes);
    outcome.serial = Some(report::SerialOutcome {
        address: template.addr,
        bytes,
        text,
        counter: reserved.as_ref().map(|r| r.number),
    });
    Ok(counter.zip(reserved.map(|r| r.number)))
}

/// After the write: a verified write commits the number; a failed one
/// leaves it pending for this chip (it may hold it), never for another.
fn settle_serial(counter: &serialno::Counter, number: u64, verified: bool) {
    if !verified {
        log::warn!(
            "serial number {number} stays reserved for this chip in {} (its write did not complete): \
             the next attempt on this chip uses it again, no other chip gets it",
            counter.path.display()
        );
        return;
    }
    if let Err(e) = counter.commit(number) {
        log::warn!("{e}; the number stays reserved for this chip, no other chip gets it");
    }
}

/// The flash sectors a write programmed: those its image touches, less those
/// that already held it (st-flash's "pages written").
fn sectors_written(session: &Session, image: &Image, report: &write::WriteReport) -> usize {
    let mut touched: Vec<stflash::flash::Sector> = Vec::new();
    for seg in image.segments.iter().filter(|s| session.layout.contains(s.addr)) {
        for s in session.layout.sectors_in(seg.addr, seg.data.len() as u64) {
            if !touched.contains(&s) {
                touched.push(s);
            }
        }
    }
    touched.iter().filter(|s| !report.skipped.contains(s)).count()
}

fn option_area(area: Area) -> OptionArea {
    match area {
        Area::Optcr => OptionArea::Optcr,
        Area::Optcr1 => OptionArea::Optcr1,
        Area::OptionBootAdd => OptionArea::BootAdd,
        _ => OptionArea::Option,
    }
}

/// st-flash's raw option value on stdout (`%08x`), also with `--quiet`
/// (scripts read it); with `--json` it is in the document instead.
fn raw_value(inv: &Invocation, console: &Console, value: u32) {
    if !inv.json {
        console.println(format_args!("{value:08x}"));
    }
}

/// st-flash mass-erases main flash before an option or OTP write when given
/// `--mass-erase` (stlink 1.8.0 `src/st-flash/flash.c:143-149` runs the mass
/// erase before it looks at the address); stflash refuses the mix.
fn refuse_mass_erase(inv: &Invocation, what: &str) -> Result<()> {
    if inv.mass_erase {
        return Err(Error::usage(format!(
            "--mass-erase erases main flash and does not apply to {what}; run `erase` separately if you mean it"
        )));
    }
    Ok(())
}

/// The decoded option view: stderr (stdout stays st-flash's raw value for
/// scripts), or stdout with `--decode`; nothing on stderr with `--quiet`,
/// nothing on stdout with `--json` (the document carries the fields).
fn show_decoded(inv: &Invocation, console: &Console, text: &str) {
    if inv.decode && !inv.json {
        console.print(text);
    } else if !inv.quiet {
        output::eprint(text);
    }
}

/// Write what `read` returned: raw bytes, or Intel HEX with `--format ihex`;
/// returns the format written.
fn save_read(file: &Path, addr: u32, data: &[u8], format: Option<Format>) -> Result<Format> {
    let mut bytes = Vec::new();
    let format = if format == Some(Format::IntelHex) {
        image::write_ihex(addr, data, &mut bytes)?;
        Format::IntelHex
    } else {
        bytes.extend_from_slice(data);
        Format::Binary
    };
    std::fs::write(file, bytes).map_err(|e| Error::input(format!("cannot write {}: {e}", file.display())))?;
    Ok(format)
}

/// After loading code into RAM, st-flash starts it from its vector table.
/// stflash does so only when the image begins with a plausible one (a stack
/// pointer in RAM and a Thumb entry point); otherwise the core resumes.
/// Without `run` (`--no-run`) the core is only made ready to start there.
fn start_ram_image(session: &mut Session, image: &Image, run: bool) -> Result<()> {
    let Some(seg) = image.segments.first() else { return Ok(()) };
    if seg.data.len() < 8 {
        return Ok(());
    }
    let sp = u32::from_le_bytes(seg.data[0..4].try_into().expect("4 bytes"));
    let pc = u32::from_le_bytes(seg.data[4..8].try_into().expect("4 bytes"));
    let ram = |a: u32| session.target.chip.ram_regions().any(|r| r.contains(a) || r.end() == a as u64);
    if pc & 1 == 1 && ram(sp) && (ram(pc) || session.layout.contains(pc)) {
        if run {
            info!("starting the RAM image at 0x{:08X} (stack 0x{sp:08X})", pc & !1);
            session.target.run_at(pc & !1, sp)?;
        } else {
            info!("the core waits halted at the RAM image's entry 0x{:08X} (stack 0x{sp:08X})", pc & !1);
            session.target.set_entry(pc & !1, sp)?;
        }
    }
    Ok(())
}

/// Writes and erases finish what an interrupted write left in the chip's
/// journal before anything else; every other command says it is pending.
fn warn_pending_journal(session: &mut Session, command: &Command) {
    let restores = matches!(command, Command::WriteFile { otp: false, .. } | Command::Erase { .. });
    if restores {
        return;
    }
    if let Some(path) = session.pending_journal() {
        log::warn!(
            "an interrupted write left kept bytes of this chip in {}: the next write or erase on it restores them",
            path.display()
        );
    }
}
