//! Command line: st-flash compatible arguments, output and exit codes.
//!
//! Flow: parse (no I/O) → load and check input files (no probe yet) → open the
//! probe and connect → run the operation → leave the target running and the
//! probe idle. Every failure becomes one `error:` line on stderr and a
//! documented exit code (`ErrorKind::exit_code`).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use log::info;

use crate::error::{Error, ErrorKind, Result};
use crate::flash::options::OptionArea;
use crate::ops::image::{self, Format, Image};
use crate::ops::{erase, options, read, write, ProbeSelector, Session, SessionOptions};
use crate::sim::SimSpec;
use crate::target::{ConnectMode, ConnectOptions};

pub mod args;
pub mod number;
pub mod output;

use args::{Area, Command, Invocation, Parsed};
use output::CliProgress;

/// Run the program on the process's arguments; returns the exit code.
pub fn main() -> u8 {
    run_with_args(std::env::args_os().skip(1))
}

/// Run on explicit arguments (without the program name).
pub fn run_with_args(argv: impl IntoIterator<Item = std::ffi::OsString>) -> u8 {
    let invocation = match args::parse(argv) {
        Ok(Parsed::Version) => {
            println!("v{} (stflash {})", crate::ST_FLASH_COMPAT_VERSION, env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Ok(Parsed::Help) => {
            print!("{}", args::USAGE);
            return 0;
        }
        Ok(Parsed::Run(inv)) => inv,
        Err(e) => {
            for line in e.lines {
                eprintln!("{line}");
            }
            println!("invalid command line");
            print!("{}", args::USAGE);
            return ErrorKind::Usage.exit_code();
        }
    };
    output::init_logging(invocation.debug, invocation.quiet);
    if !invocation.quiet {
        println!("st-flash {} (stflash {})", crate::ST_FLASH_COMPAT_VERSION, env!("CARGO_PKG_VERSION"));
    }
    match run(&invocation) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// Input prepared before the probe is opened.
enum Prepared {
    None,
    Image(Image),
}

fn prepare(inv: &Invocation) -> Result<Prepared> {
    match &inv.command {
        // Without --format the content decides; a binary file needs an
        // address (as in st-flash), other formats carry their own.
        Command::WriteFile { file, addr, .. } => Image::load(file, inv.format, *addr).map(Prepared::Image),
        _ => Ok(Prepared::None),
    }
}

fn session_options(inv: &Invocation) -> Result<SessionOptions> {
    // --sim stands for STFLASH_SIM; the other STFLASH_SIM_* variables still apply.
    let sim = SimSpec::list_from_vars(|var| match (var, &inv.sim) {
        ("STFLASH_SIM", Some(spec)) => Some(spec.clone()),
        _ => std::env::var(var).ok(),
    })
    .map_err(Error::usage)?;
    let probe = ProbeSelector { serial: inv.serial.clone(), sim };
    let connect = ConnectOptions {
        mode: if inv.connect_under_reset { ConnectMode::UnderReset } else { ConnectMode::HotPlug },
        speed_khz: inv.freq_khz,
        flash_size: inv.flash_size,
    };
    Ok(SessionOptions { probe, connect })
}

fn run(inv: &Invocation) -> Result<()> {
    let prepared = prepare(inv)?;
    let options = session_options(inv)?;
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
    let mut session = Session::open_with(&options, options_only)?;
    let stop = output::install_stop_handler();
    match execute(&mut session, inv, prepared, stop) {
        Ok(After::DebugPortGone) => {
            session.abandon();
            Ok(())
        }
        Ok(after) => {
            if after == After::Reset && !inv.reset {
                session.target.reset_and_run()?;
            }
            if let Some(summary) = session.sim.as_ref().map(|h| h.stats()) {
                log::debug!("simulator: {summary:?}");
            }
            session.finish(inv.reset)
        }
        Err(e) => {
            session.abandon();
            Err(e)
        }
    }
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

fn execute(session: &mut Session, inv: &Invocation, prepared: Prepared, stop: Arc<AtomicBool>) -> Result<After> {
    let mut progress = CliProgress::new(inv.quiet, stop);
    match &inv.command {
        Command::ReadMemory { file, addr, size } => {
            info!("read from address 0x{addr:08x} size {size}");
            let data = read::read(session, *addr, *size, &mut progress)?;
            save_read(file, *addr, &data, inv.format)?;
            Ok(After::Resume)
        }
        Command::ReadOtp { file } => {
            let (base, data) = options::read_otp(session, &mut progress)?;
            save_read(file, base, &data, inv.format)?;
            Ok(After::Resume)
        }
        Command::WriteFile { otp: true, .. } => {
            refuse_mass_erase(inv, "OTP")?;
            let Prepared::Image(image) = prepared else { unreachable!("prepared for WriteFile") };
            options::write_otp(session, &image, &inv.guards)?;
            Ok(After::Resume)
        }
        Command::WriteFile { .. } => {
            let Prepared::Image(image) = prepared else { unreachable!("prepared for WriteFile") };
            let opts = write::WriteOptions { mass_erase: inv.mass_erase, preserve: !inv.erase_rest, verify: true };
            let report = write::write(session, &image, &opts, &mut progress)?;
            if report.flash_bytes > 0 {
                info!("Flash written and verified! jolly good!");
                info!(
                    "{} bytes written: {} sectors erased, {} bytes programmed, {} bytes kept",
                    report.flash_bytes + report.ram_bytes,
                    report.erased.len(),
                    report.programmed_bytes,
                    report.preserved_bytes
                );
                return Ok(After::Reset);
            }
            start_ram_image(session, &image)?;
            Ok(After::Resume)
        }
        Command::Erase { range } => {
            match range {
                Some((addr, size)) if !inv.mass_erase => {
                    let report = erase::erase_range(session, *addr, *size, &mut progress)?;
                    for s in &report.sectors {
                        println!("-> Flash page at {:#x} erased (size: {:#x})", s.addr, s.size);
                    }
                    println!();
                    println!("Section erase completed successfully.");
                }
                _ => {
                    println!("Mass erasing...");
                    erase::erase_all(session, &mut progress)?;
                    println!("Mass erase completed successfully.");
                }
            }
            Ok(After::Reset)
        }
        Command::Reset => Ok(After::Reset),
        Command::ReadOption { file } => {
            let (value, all) = options::read_area(session, OptionArea::Option)?;
            match file {
                // st-flash writes the word in host byte order (stflash-cli.md
                // §13 item 17); stflash always writes little-endian, the same
                // bytes on every common host.
                Some(path) => std::fs::write(path, value.value.to_le_bytes())
                    .map_err(|e| Error::input(format!("cannot write {}: {e}", path.display())))?,
                None => println!("{:08x}", value.value),
            }
            show_decoded(inv, &options::describe(&all));
            Ok(After::Resume)
        }
        Command::ReadOptionRegister { area } => {
            let (value, _) = options::read_area(session, option_area(*area))?;
            println!("{:08x}", value.value);
            show_decoded(inv, &options::describe(&[value]));
            Ok(After::Resume)
        }
        Command::WriteOptionValue { area, value } => {
            refuse_mass_erase(inv, "option bytes")?;
            let outcome = options::write(session, option_area(*area), value, &inv.guards)?;
            if outcome.debug_port_gone {
                return Ok(After::DebugPortGone);
            }
            show_decoded(inv, &options::describe(&outcome.written));
            Ok(After::Resume)
        }
    }
}

fn option_area(area: Area) -> OptionArea {
    match area {
        Area::Optcr => OptionArea::Optcr,
        Area::Optcr1 => OptionArea::Optcr1,
        Area::OptionBootAdd => OptionArea::BootAdd,
        _ => OptionArea::Option,
    }
}

/// st-flash mass-erases main flash before an option or OTP write when given
/// `--mass-erase` (stflash-cli.md §13 item 20); stflash refuses the mix.
fn refuse_mass_erase(inv: &Invocation, what: &str) -> Result<()> {
    if inv.mass_erase {
        return Err(Error::usage(format!(
            "--mass-erase erases main flash and does not apply to {what}; run `erase` separately if you mean it"
        )));
    }
    Ok(())
}

/// The decoded option view: stderr (stdout stays st-flash's raw value for
/// scripts), or stdout with `--decode`; nothing on stderr with `--quiet`.
fn show_decoded(inv: &Invocation, text: &str) {
    if inv.decode {
        print!("{text}");
    } else if !inv.quiet {
        eprint!("{text}");
    }
}

/// Write what `read` returned: raw bytes, or Intel HEX with `--format ihex`.
fn save_read(file: &Path, addr: u32, data: &[u8], format: Option<Format>) -> Result<()> {
    let mut bytes = Vec::new();
    if format == Some(Format::IntelHex) {
        image::write_ihex(addr, data, &mut bytes)?;
    } else {
        bytes.extend_from_slice(data);
    }
    std::fs::write(file, bytes).map_err(|e| Error::input(format!("cannot write {}: {e}", file.display())))
}

/// After loading code into RAM, st-flash starts it from its vector table.
/// stflash does so only when the image begins with a plausible one (a stack
/// pointer in RAM and a Thumb entry point); otherwise the core resumes.
fn start_ram_image(session: &mut Session, image: &Image) -> Result<()> {
    let Some(seg) = image.segments.first() else { return Ok(()) };
    if seg.data.len() < 8 {
        return Ok(());
    }
    let sp = u32::from_le_bytes(seg.data[0..4].try_into().expect("4 bytes"));
    let pc = u32::from_le_bytes(seg.data[4..8].try_into().expect("4 bytes"));
    let ram = |a: u32| session.target.chip.ram_regions().any(|r| r.contains(a) || r.end() == a as u64);
    if pc & 1 == 1 && ram(sp) && (ram(pc) || session.layout.contains(pc)) {
        info!("starting the RAM image at 0x{:08X} (stack 0x{sp:08X})", pc & !1);
        session.target.run_at(pc & !1, sp)?;
    }
    Ok(())
}
