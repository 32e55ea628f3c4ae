//! `verify`, `checksum` and `blank-check` on the command line
//! (`stflash::ops::check`). A difference is a result, not a failure: the
//! command finishes with the chip (reset when the flash routine used SRAM,
//! as after a write), records what it found, and only then exits 8
//! ([`verdict`]).

use std::path::Path;

use super::args::{Command, Invocation};
use super::output::{CliProgress, Console};
use super::report::{Done, Outcome};
use super::After;
use stflash::error::{Error, ErrorKind, Result};
use stflash::flash::Sector;
use stflash::ops::check::{self, CheckOptions, Comparison};
use stflash::ops::image::{Format, Image};
use stflash::ops::Session;
use stflash::text::count;

/// `--no-reset` leaves SRAM and the core alone (everything is read over
/// SWD); `--verify=readback` reads flash even where a CRC could vouch for it.
fn options(inv: &Invocation) -> CheckOptions {
    CheckOptions { on_target: !inv.no_reset, readback: inv.verify_readback }
}

/// The flash routine overwrote SRAM: the firmware restarts from its reset
/// vector, as after a write. Otherwise the core carries on.
fn after(used_ram: bool) -> After {
    if used_ram {
        After::Reset
    } else {
        After::Resume
    }
}

/// The sector of flash holding `addr`, for messages and the JSON.
fn sector_at(session: &Session, addr: Option<u32>) -> Option<Sector> {
    addr.and_then(|a| session.layout.sector_at(a))
}

pub fn verify(
    session: &mut Session,
    inv: &Invocation,
    image: &Image,
    progress: &mut CliProgress,
    outcome: &mut Outcome,
) -> Result<After> {
    let report = check::verify(session, image, &options(inv), progress)?;
    let first_sector = sector_at(session, report.differences.first().map(|d| d.0));
    let after = after(report.used_ram);
    outcome.done = Some(Done::Verify { report, first_sector });
    Ok(after)
}

pub fn blank_check(
    session: &mut Session,
    inv: &Invocation,
    range: Option<(u32, u32)>,
    progress: &mut CliProgress,
    outcome: &mut Outcome,
) -> Result<After> {
    let report = check::blank_check(session, range, &options(inv), progress)?;
    let first_sector = sector_at(session, report.differences.first().map(|d| d.0));
    let (addr, size) = match range {
        Some((addr, size)) => (addr, size as u64),
        None => (session.layout.base(), report.bytes),
    };
    let after = after(report.used_ram);
    let erased = session.layout.erased;
    outcome.done = Some(Done::BlankCheck { addr, size, erased, report, first_sector });
    Ok(after)
}

/// The CRC-32 on stdout as `0x` and 8 hex digits (also with `--quiet`:
/// scripts read it), unless `--json` carries it.
pub fn checksum(
    session: &mut Session,
    inv: &Invocation,
    (addr, size): (u32, u32),
    progress: &mut CliProgress,
    console: &Console,
    outcome: &mut Outcome,
) -> Result<After> {
    let sum = check::checksum(session, addr, size, &options(inv), progress)?;
    if !inv.json {
        console.println(format_args!("0x{:08x}", sum.crc32));
    }
    let after = after(sum.used_ram);
    outcome.done = Some(Done::Checksum { addr, sum });
    Ok(after)
}

/// `checksum FILE [ADDR]`: no probe. One segment prints its CRC-32 alone
/// (what `checksum ADDR SIZE` prints for the same bytes on the chip); a
/// sparse image prints a line per segment: CRC-32, address, size.
pub fn checksum_file(inv: &Invocation, console: &Console, outcome: &mut Outcome) -> Result<()> {
    let Command::ChecksumFile { file, addr } = &inv.command else { unreachable!("called for checksum FILE") };
    // A binary file's bytes do not depend on where they go: no address needed.
    let binary = match inv.format {
        Some(f) => f == Format::Binary,
        None => std::fs::read(file).is_ok_and(|b| Format::detect(&b) == Format::Binary),
    };
    let image = Image::load(file, inv.format, addr.or(binary.then_some(0)))?;
    let segments: Vec<(u32, u64, u32)> =
        image.segments.iter().map(|s| (s.addr, s.data.len() as u64, stflash::ops::journal::crc32(&s.data))).collect();
    if !inv.json {
        match segments.as_slice() {
            [(_, _, crc)] => console.println(format_args!("0x{crc:08x}")),
            many => {
                for (addr, size, crc) in many {
                    console.println(format_args!("0x{crc:08x} 0x{addr:08X} {size}"));
                }
            }
        }
    }
    outcome.done = Some(Done::ChecksumFile { file: file.clone(), segments });
    Ok(())
}

/// The exit the result of a check calls for: verify found differences, or
/// blank-check bytes that are not erased (exit 8, one line naming the first).
pub fn verdict(outcome: &Outcome) -> Option<Error> {
    let file = outcome.input.as_ref().and_then(|i| i.file.as_deref()).unwrap_or(Path::new("the file"));
    match outcome.done.as_ref()? {
        Done::Verify { report, first_sector } => {
            let (start, _) = *report.differences.first()?;
            let bytes: u64 = report.differences.iter().map(|(lo, hi)| (hi - lo) as u64).sum();
            Some(Error::new(
                ErrorKind::Verify,
                format!(
                    "the chip differs from {}: first at 0x{start:08X}{}; {} in {}; `stflash write` programs it",
                    file.display(),
                    place(first_sector),
                    count(bytes, "byte"),
                    count(report.differences.len() as u64, "range"),
                ),
            ))
        }
        Done::BlankCheck { report, first_sector, erased, .. } => {
            let (start, _) = *report.differences.first()?;
            Some(Error::new(
                ErrorKind::Verify,
                format!(
                    "not blank: 0x{start:08X}{} does not hold the erased value 0x{erased:02X}; \
                     `stflash erase` erases flash",
                    place(first_sector)
                ),
            ))
        }
        _ => None,
    }
}

/// " in sector 3 of bank 1 (0x08000C00-0x08000FFF)" for flash, else nothing.
fn place(sector: &Option<Sector>) -> String {
    sector.map_or(String::new(), |s| {
        format!(" in sector {} of bank {} (0x{:08X}-0x{:08X})", s.index, s.bank + 1, s.addr, s.end() - 1)
    })
}

/// The summary line of a check that completed.
pub fn summary(done: &Done, timing: impl Fn(u64) -> String) -> Option<String> {
    let by = |r: &Comparison| format!("by {}", r.method);
    match done {
        Done::Verify { report, .. } if report.differences.is_empty() => {
            Some(format!("verify: {} equal {} {}", count(report.bytes, "byte"), by(report), timing(report.bytes)))
        }
        Done::BlankCheck { report, .. } if report.differences.is_empty() => {
            Some(format!("blank-check: {} erased {} {}", count(report.bytes, "byte"), by(report), timing(report.bytes)))
        }
        Done::Checksum { sum, .. } => {
            Some(format!("checksum: {} by {} {}", count(sum.bytes, "byte"), sum.method, timing(sum.bytes)))
        }
        _ => None,
    }
}
