//! `verify`, `checksum` and `blank-check`: what the chip holds, compared
//! with an image or with the erased value, or summed. Nothing in flash
//! changes.
//!
//! Flash is hashed on the target where it can be: by the CRC units `write`
//! uses, calibrated the same way (`write::hash_calibrated`), or, for
//! `checksum`, by the flash routine's zlib CRC-32 (its CRC32 op). A range
//! whose CRC differs from the host's prediction, or that no calibrated model
//! predicts, is read back before anything is reported: a difference is
//! always one seen in the bytes. Bytes outside whole CRC blocks, RAM, the
//! data EEPROM and everything else are read over SWD, before the routine is
//! loaded into SRAM.
//!
//! Loading the routine overwrites SRAM: a command that did reports it
//! (`used_ram`) and the command line resets the chip afterwards, as after a
//! write. Without [`CheckOptions::on_target`] everything is read over SWD
//! and SRAM and the core are left as they were.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::time::Duration;

use log::{debug, warn};

use super::image::Image;
use super::session::Session;
use super::write::{self, plan, Hashed, Range};
use crate::error::{Error, ErrorKind, Result};
use crate::flash::crc::CrcUnit;
use crate::flash::routine::{Buffer, Op, RoutineError};
use crate::flash::{FlashLayout, Phase, Progress};
use crate::mcu::Target;

/// `method` when the bytes were read over SWD and compared or summed on the host.
pub const METHOD_READ_BACK: &str = super::verify::METHOD;

/// Read size per step (progress granularity; the protocol layer splits further).
const STEP: usize = 16 * 1024;

/// How to look at flash.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// Hash flash on the target (the flash routine in SRAM, default);
    /// `false` reads everything over SWD and leaves SRAM and the core as
    /// they are (`--no-reset`).
    pub on_target: bool,
    /// Read flash back even where it could be hashed (`--verify=readback`).
    pub readback: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions { on_target: true, readback: false }
    }
}

/// What a comparison found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Bytes compared.
    pub bytes: u64,
    /// `[start, end)` of each run of differing bytes, in address order.
    /// `blank_check` stops at the first.
    pub differences: Vec<(u32, u32)>,
    /// How flash was compared: a CRC unit's method (`write::METHOD_*`,
    /// as `verify_method` of a write) or [`METHOD_READ_BACK`].
    pub method: &'static str,
    /// The flash routine was loaded into SRAM (the chip wants a reset).
    pub used_ram: bool,
}

/// The CRC-32 of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// zlib's `crc32` of the bytes.
    pub crc32: u32,
    pub bytes: u64,
    /// `write::METHOD_SOFTWARE` (the routine summed flash) or [`METHOD_READ_BACK`].
    pub method: &'static str,
    /// The flash routine was loaded into SRAM (the chip wants a reset).
    pub used_ram: bool,
}

/// Bytes to compare at `addr`: flash windows lie in one sector (`bank` set).
struct Window<'a> {
    addr: u32,
    want: Cow<'a, [u8]>,
    bank: Option<u8>,
}

impl Window<'_> {
    fn end(&self) -> u32 {
        self.addr + self.want.len() as u32
    }
}

/// The windows of `data` at `addr` in flash: one per sector it touches.
fn flash_windows<'a>(layout: &FlashLayout, addr: u32, data: &'a [u8]) -> Vec<Window<'a>> {
    let end = addr as u64 + data.len() as u64;
    layout
        .sectors_in(addr, data.len() as u64)
        .into_iter()
        .map(|s| {
            let (lo, hi) = ((s.addr).max(addr), s.end().min(end) as u32);
            let bytes = &data[(lo - addr) as usize..(hi - addr) as usize];
            Window { addr: lo, want: Cow::Borrowed(bytes), bank: Some(s.bank) }
        })
        .collect()
}

/// Is this image on the chip? Every segment is placed as `write` would
/// place it (flash, data EEPROM, RAM; nothing is refused for being
/// protected) and compared; `differences` lists every differing run.
pub fn verify(
    session: &mut Session,
    image: &Image,
    opts: &CheckOptions,
    progress: &mut dyn Progress,
) -> Result<Comparison> {
    let ram: Vec<_> = session.target.chip.ram_regions().collect();
    let eeprom = session.data_eeprom();
    let placement = plan::place(&session.layout, &ram, &[], eeprom.as_ref(), &image.segments)?;
    let mut windows: Vec<Window> = placement
        .eeprom
        .iter()
        .chain(&placement.ram)
        .map(|s| Window { addr: s.addr, want: Cow::Borrowed(&s.data), bank: None })
        .collect();
    for seg in &placement.flash {
        windows.extend(flash_windows(&session.layout, seg.addr, &seg.data));
    }
    if !placement.flash.is_empty() {
        session.require_unprotected()?;
    }
    super::link::retry_slower(session, "verifying", |s| compare(s, &windows, opts, false, progress))
}

/// Does flash hold the erased value in `range` (address, size; default the
/// whole flash)? `differences` holds the first run that does not, if any.
pub fn blank_check(
    session: &mut Session,
    range: Option<(u32, u32)>,
    opts: &CheckOptions,
    progress: &mut dyn Progress,
) -> Result<Comparison> {
    let layout = &session.layout;
    let (addr, size) = match range {
        Some((_, 0)) => return Err(Error::input("blank-check of 0 bytes: give a size, or no range for all flash")),
        Some((addr, size)) => {
            layout.check_range(addr, size as u64).map_err(|e| Error::input(format!("blank-check: {e}")))?;
            (addr, size as u64)
        }
        None => (layout.base(), layout.banks.last().map_or(0, |b| b.end()) - layout.base() as u64),
    };
    let erased = layout.erased;
    let windows: Vec<Window> = layout
        .sectors_in(addr, size)
        .into_iter()
        .map(|s| {
            let (lo, hi) = (s.addr.max(addr), s.end().min(addr as u64 + size) as u32);
            Window { addr: lo, want: Cow::Owned(vec![erased; (hi - lo) as usize]), bank: Some(s.bank) }
        })
        .collect();
    session.require_unprotected()?;
    super::link::retry_slower(session, "blank-checking", |s| compare(s, &windows, opts, true, progress))
}

/// Compare every window: those outside flash (and every one without
/// hashing) by reading; flash by CRC on the target where it can, reading
/// what the CRCs do not settle. With `first_only`, stop at the first
/// difference in address order.
fn compare(
    session: &mut Session,
    windows: &[Window],
    opts: &CheckOptions,
    first_only: bool,
    progress: &mut dyn Progress,
) -> Result<Comparison> {
    let bytes = windows.iter().map(|w| w.want.len() as u64).sum();
    progress.begin(Phase::Verify, bytes);
    let mut out = Comparison { bytes, method: METHOD_READ_BACK, ..Default::default() };
    let (flash, other): (Vec<&Window>, Vec<&Window>) = windows.iter().partition(|w| w.bank.is_some());
    // Outside flash first: the routine overwrites SRAM.
    let mut reads: Vec<(u32, &[u8])> = other.iter().map(|w| (w.addr, &w.want[..])).collect();
    let mut settled = vec![None; flash.len()];
    if opts.on_target && !opts.readback && !flash.is_empty() {
        let hashed = hash_windows(session, &flash)?;
        out.used_ram = hashed.used_ram;
        if let Some(method) = hashed.method {
            out.method = method;
        }
        settled = hashed.equal;
    }
    let mut flash_reads = Vec::new();
    for (w, equal) in flash.iter().zip(settled) {
        match equal {
            // The CRC vouches for [lo, hi): only the bytes around it are read.
            Some((lo, hi)) => {
                progress.add((hi - lo) as u64);
                flash_reads.push((w.addr, &w.want[..(lo - w.addr) as usize]));
                flash_reads.push((hi, &w.want[(hi - w.addr) as usize..]));
            }
            None => flash_reads.push((w.addr, &w.want[..])),
        }
    }
    flash_reads.sort_by_key(|r| r.0);
    reads.extend(flash_reads);
    for (addr, want) in reads.into_iter().filter(|r| !r.1.is_empty()) {
        differing_runs(&mut session.target, addr, want, first_only, progress, &mut out.differences)?;
        if first_only && !out.differences.is_empty() {
            break;
        }
    }
    progress.end();
    out.differences = coalesce(out.differences);
    if first_only {
        out.differences.truncate(1);
    }
    Ok(out)
}

/// What hashing flash on the target settled.
struct Hashing {
    /// Per window: the part `[lo, hi)` whose CRC matched the expected bytes.
    equal: Vec<Option<(u32, u32)>>,
    /// The method of the unit that hashed, when one could be trusted.
    method: Option<&'static str>,
    used_ram: bool,
}

/// Hash the whole CRC blocks of each flash window with the first unit a
/// model explains (`write::hash_calibrated`), and compare each with the
/// prediction for the expected bytes. The routine is stopped again.
fn hash_windows(session: &mut Session, windows: &[&Window]) -> Result<Hashing> {
    let mut out = Hashing { equal: vec![None; windows.len()], method: None, used_ram: false };
    let chip = session.target.chip;
    if session.flash.is_none() {
        return Ok(out);
    }
    // The H7 unit is switched on in FLASH_CR, which ignores writes while
    // the bank is locked (RM0433 §4.9.4, FLASH_CR LOCK1); no other unit
    // needs anything unlocked.
    let banks: BTreeSet<u8> = match chip.controller.has_flash_crc_unit() {
        true => windows.iter().filter_map(|w| w.bank).collect(),
        false => BTreeSet::new(),
    };
    let mut unlocked = session.unlock(&banks)?;
    let Session { target: t, flash, .. } = &mut *unlocked;
    let ctrl = flash.as_deref().expect("checked above");
    let Some(mut st) = write::start_routine(t, ctrl, &ctrl.program_access())? else {
        debug!("the flash routine cannot run on this {}: reading flash back", chip.name);
        return Ok(out);
    };
    out.used_ram = true;
    let mut running = true;
    for unit in CrcUnit::candidates(chip) {
        let align = unit.align();
        let spans: Vec<Option<(u32, u32)>> = windows
            .iter()
            .map(|w| {
                let (lo, hi) = (w.addr.next_multiple_of(align), w.end() / align * align);
                (lo < hi).then_some((lo, hi))
            })
            .collect();
        let ranges: Vec<Range> =
            windows.iter().zip(&spans).filter_map(|(w, s)| s.map(|(lo, hi)| (w.bank.unwrap_or(0), lo, hi))).collect();
        if ranges.is_empty() {
            break;
        }
        match write::hash_calibrated(t, ctrl, &mut st, &unit, chip.name, &ranges)? {
            Hashed::Done(crcs, solution) => {
                let mut crcs = crcs.into_iter();
                for ((w, span), equal) in windows.iter().zip(spans).zip(&mut out.equal) {
                    let Some((lo, hi)) = span else { continue };
                    let got = crcs.next().expect("one CRC per range");
                    let want = &w.want[(lo - w.addr) as usize..(hi - w.addr) as usize];
                    match solution.predict(want) {
                        Some(crc) if crc == got => *equal = Some((lo, hi)),
                        Some(_) => debug!("the {} differs over 0x{lo:08X}-0x{:08X}: reading it", unit.name(), hi - 1),
                        None => {
                            debug!("no model settles 0x{lo:08X}-0x{:08X}: reading it", hi - 1);
                            continue;
                        }
                    }
                    // The unit decided this window (a mismatch is still read to find the bytes).
                    out.method = Some(unit.method());
                }
                break;
            }
            Hashed::Untrusted => {}
            Hashed::Crashed => {
                running = false;
                break;
            }
        }
    }
    if running {
        match st.finish(t) {
            Ok(_) => {}
            // The CRCs are in: a routine that fails to stop (it is halted) changes nothing.
            Err(e @ (RoutineError::Crashed { .. } | RoutineError::Timeout { .. })) => debug!("{e} while stopping"),
            Err(e) => return Err(Error::from(e.into_flash_error(t, ctrl))),
        }
    }
    unlocked.lock()?;
    Ok(out)
}

/// Read `want.len()` bytes at `addr` and append the runs that differ from
/// `want` (with `first_only`, stop after the first chunk that has one).
fn differing_runs(
    t: &mut Target,
    addr: u32,
    want: &[u8],
    first_only: bool,
    progress: &mut dyn Progress,
    out: &mut Vec<(u32, u32)>,
) -> Result<()> {
    let mut got = vec![0u8; STEP.min(want.len())];
    for (i, chunk) in want.chunks(STEP).enumerate() {
        stop_if_asked(progress)?;
        let base = addr + (i * STEP) as u32;
        let got = &mut got[..chunk.len()];
        t.read_mem(base, got)?;
        let before = out.len();
        let mut k = 0;
        while k < chunk.len() {
            if chunk[k] == got[k] {
                k += 1;
                continue;
            }
            let start = k;
            while k < chunk.len() && chunk[k] != got[k] {
                k += 1;
            }
            out.push((base + start as u32, base + k as u32));
        }
        progress.add(chunk.len() as u64);
        if first_only && out.len() > before {
            break;
        }
    }
    Ok(())
}

/// Ctrl-C between reads: nothing was changed, so stop at once.
fn stop_if_asked(progress: &dyn Progress) -> Result<()> {
    match progress.should_stop() {
        true => Err(Error::new(ErrorKind::Interrupted, "interrupted; nothing was changed")),
        false => Ok(()),
    }
}

/// Sort runs and join those that touch.
fn coalesce(mut runs: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    runs.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(runs.len());
    for (lo, hi) in runs {
        match out.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// zlib's CRC-32 of `size` bytes at `addr`. Whole words of flash are summed
/// on the target by the routine (the few bytes around them are read and
/// summed on the host, chained through the routine's initial value); a
/// range outside flash, or without the routine, is read over SWD.
pub fn checksum(
    session: &mut Session,
    addr: u32,
    size: u32,
    opts: &CheckOptions,
    progress: &mut dyn Progress,
) -> Result<Checksum> {
    if size == 0 {
        return Err(Error::input("checksum of 0 bytes: give the size of the range"));
    }
    if addr as u64 + size as u64 > 1 << 32 {
        return Err(Error::input(format!(
            "0x{addr:08X} + 0x{size:X} runs past the end of the 4 GiB address space; check the address and size"
        )));
    }
    let in_flash = session.layout.check_range(addr, size as u64).is_ok();
    if in_flash {
        session.require_unprotected()?;
    }
    let on_target = in_flash && opts.on_target && !opts.readback;
    super::link::retry_slower(session, "checksumming", |s| checksum_once(s, addr, size, on_target, progress))
}

fn checksum_once(
    session: &mut Session,
    addr: u32,
    size: u32,
    on_target: bool,
    progress: &mut dyn Progress,
) -> Result<Checksum> {
    let mut used_ram = false;
    if on_target {
        let sum = checksum_on_target(session, addr, size, progress)?;
        used_ram = sum.used_ram;
        if let Some(crc32) = sum.crc32 {
            return Ok(Checksum { crc32, bytes: size as u64, method: write::METHOD_SOFTWARE, used_ram });
        }
    }
    let crc32 = checksum_by_reading(&mut session.target, addr, size, progress)?;
    Ok(Checksum { crc32, bytes: size as u64, method: METHOD_READ_BACK, used_ram })
}

/// What summing on the target gave: `None` when the routine could not run
/// or crashed (the caller reads instead).
struct OnTarget {
    crc32: Option<u32>,
    used_ram: bool,
}

/// Words of the first CRC32 op of a checksum, which measures the core.
const MEASURE_WORDS: u32 = 256;

/// The slowest core clock a first CRC32 op is given time for (a firmware
/// may have left the core on a low-power clock; an assumption, not a fact
/// of any part): 100 kHz, for its instructions and the table it builds.
const SLOWEST_CYCLE: Duration = Duration::from_micros(10);

/// Instructions the CRC32 op spends building its table (stream.S: about
/// 40 per entry, 256 entries).
const TABLE_CYCLES: u32 = 40 * 256;

fn checksum_on_target(session: &mut Session, addr: u32, size: u32, progress: &mut dyn Progress) -> Result<OnTarget> {
    let head = ((4 - addr % 4) % 4).min(size);
    let words = (size - head) / 4;
    let mut out = OnTarget { crc32: None, used_ram: false };
    if words == 0 || session.flash.is_none() {
        return Ok(out);
    }
    let Session { target: t, flash, .. } = session;
    let ctrl = flash.as_deref().expect("checked above");
    let Some(mut st) = write::start_routine(t, ctrl, &ctrl.program_access())? else { return Ok(out) };
    out.used_ram = true;
    progress.begin(Phase::Read, size as u64);
    let mut crc = read_crc(t, 0, addr, head)?;
    let body = addr + head;
    // The core's speed is measured, not assumed: a first run of words with
    // time for the slowest clock, then the rest with a timeout from the
    // rate measured (which counts the table and the round trip: generous).
    let first = words.min(MEASURE_WORDS);
    let unit = CrcUnit::software(t.chip);
    let slowest = SLOWEST_CYCLE * (TABLE_CYCLES + first * crate::flash::crc::SOFTWARE_CYCLES_PER_WORD as u32);
    let started = t.elapsed();
    let mut runs = vec![(body, first, slowest)];
    let mut done = 0;
    while let Some((src, n, timeout)) = runs.pop() {
        let typical = unit.time(n * 4).0;
        let buffer = Buffer {
            ops: vec![Op::Crc32 { src, words: n, init: !crc }],
            typical,
            timeout: timeout.max(typical) + Duration::from_millis(100),
            ..Default::default()
        };
        match st.submit(t, buffer).and_then(|()| st.sync(t)) {
            Ok(()) => crc = !st.results.pop().expect("one result per CRC32 op"),
            Err(e @ (RoutineError::Crashed { .. } | RoutineError::Timeout { .. })) => {
                warn!("{e}; summing 0x{body:08X}-0x{:08X} by reading it instead", body + words * 4 - 1);
                progress.end();
                return Ok(out);
            }
            Err(e) => return Err(Error::from(e.into_flash_error(t, ctrl))),
        }
        progress.add(n as u64 * 4);
        done += n;
        if done < words && runs.is_empty() {
            let per_word = (t.elapsed() - started) / done;
            runs.push((body + done * 4, words - done, per_word * (words - done) * 2));
        }
    }
    if let Err(e) = st.finish(t) {
        debug!("{e} while stopping; the sum stands");
    }
    let tail = body + words * 4;
    out.crc32 = Some(read_crc(t, crc, tail, addr + size - tail)?);
    progress.end();
    Ok(out)
}

/// Continue zlib's CRC-32 `crc` over `len` bytes read at `addr`.
fn read_crc(t: &mut Target, crc: u32, addr: u32, len: u32) -> Result<u32> {
    let mut bytes = vec![0u8; len as usize];
    if len > 0 {
        t.read_mem(addr, &mut bytes)?;
    }
    Ok(super::journal::crc32_continue(crc, &bytes))
}

fn checksum_by_reading(t: &mut Target, addr: u32, size: u32, progress: &mut dyn Progress) -> Result<u32> {
    progress.begin(Phase::Read, size as u64);
    let mut crc = 0;
    let mut at = addr as u64;
    let end = addr as u64 + size as u64;
    while at < end {
        stop_if_asked(progress)?;
        let len = (end - at).min(STEP as u64) as u32;
        crc = read_crc(t, crc, at as u32, len)?;
        progress.add(len as u64);
        at += len as u64;
    }
    progress.end();
    Ok(crc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_that_touch_are_joined_in_address_order() {
        assert_eq!(coalesce(vec![(8, 9), (0, 4), (4, 6), (10, 12), (11, 13)]), vec![(0, 6), (8, 9), (10, 13)]);
        assert_eq!(coalesce(Vec::new()), Vec::new());
    }
}
