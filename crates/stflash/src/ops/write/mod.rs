//! `write`: check the whole image, plan what each touched sector must hold,
//! learn what the chip holds now, then erase and program only what changes,
//! and verify. Nothing is erased before every check has passed.
//!
//! | step | module | probe? |
//! |---|---|---|
//! | placement (flash, data EEPROM, RAM) and sector plans; jobs from what the survey found | [`plan`] | no |
//! | what the chip holds now (CRC on the target, or reading) | `survey` | yes |
//! | erase and program: the routine, the host for what it left | `execute` (`stream`) | yes |
//! | verify by the routine's CRCs, or by reading back | here | yes |
//! | the data EEPROM (L0/L1): changed words stored, read back | [`eeprom`] | yes |

use log::{debug, info, warn};

use super::image::{Image, Segment};
use super::session::Session;
use super::verify;
use crate::error::{Error, ErrorKind, Result};
use crate::flash::crc::{CrcUnit, Run, Solution};
use crate::flash::routine::{RamPlan, Streamer};
use crate::flash::{engine, FlashController, FlashError, Phase, ProgramAccess, Progress, RaisedClock, Sector, Width};
use crate::mcu::{Target, TargetError};

pub mod eeprom;
mod execute;
pub mod plan;
mod strategy;
mod stream;
mod survey;

pub(crate) use survey::{hash_calibrated, Hashed, Range};

use execute::Ledger;
use plan::{Job, PlanOptions, SectorPlan, SectorState, Strategy, WritePlan};

pub use crate::flash::crc::{METHOD_FLASH_UNIT, METHOD_PERIPHERAL, METHOD_SOFTWARE};
/// `WriteReport::verify_method` when the written sectors were read back.
pub const METHOD_READ_BACK: &str = verify::METHOD;

/// How to write.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Mass erase first (`--mass-erase`), instead of erasing touched sectors.
    pub mass_erase: bool,
    /// Keep the bytes of partly written sectors that the image does not cover
    /// (default). `false` gives st-flash's behaviour: they end up erased.
    pub preserve: bool,
    /// Read the result back and compare.
    pub verify: bool,
    /// Use the flash routine in target RAM when possible (default); `false`
    /// programs with host-driven register accesses only.
    pub fast: bool,
    /// Verify by reading back even where a hardware CRC could do it
    /// (`--verify=readback`).
    pub readback: bool,
    /// Program in the controller's fast mode (FSTPG rows) where its
    /// preconditions hold (default); `false`: the normal way. A write whose
    /// verify finds a row cut short runs again with it off.
    pub fast_rows: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions { mass_erase: false, preserve: true, verify: true, fast: true, readback: false, fast_rows: true }
    }
}

/// What a write did.
#[derive(Debug, Clone, Default)]
pub struct WriteReport {
    /// Image bytes written to flash and to RAM.
    pub flash_bytes: u64,
    pub ram_bytes: u64,
    /// Sectors erased, and sectors left alone because they already held the
    /// wanted contents.
    pub erased: Vec<Sector>,
    pub skipped: Vec<Sector>,
    pub mass_erased: bool,
    /// Bytes outside the image kept in partly written sectors.
    pub preserved_bytes: u64,
    /// Bytes actually programmed (units that are not all erased value).
    pub programmed_bytes: u64,
    pub verified: bool,
    /// How the result was checked: by the CRC of the H7 flash interface's
    /// unit ([`METHOD_FLASH_UNIT`], `"crc-flash-unit"`), of the CRC
    /// peripheral ([`METHOD_PERIPHERAL`], `"crc-peripheral"`), of the flash
    /// routine's software CRC ([`METHOD_SOFTWARE`], `"crc-software"`), or by
    /// reading back ([`METHOD_READ_BACK`], `"read-back"`); `None` when not
    /// verified.
    pub verify_method: Option<&'static str>,
    /// What was written to the data EEPROM (L0/L1), when the image has
    /// bytes there (always verified by reading back).
    pub eeprom: Option<eeprom::EepromReport>,
}

/// Write an image. Every segment is checked before the chip is touched. When
/// the SWD link fails or verification finds different bytes, and the clock is
/// stflash's to choose, the write runs again one clock step slower.
pub fn write(
    session: &mut Session,
    image: &Image,
    opts: &WriteOptions,
    progress: &mut dyn Progress,
) -> Result<WriteReport> {
    restore_journal(session, opts.fast, progress)?;
    // The kept bytes are read once: a second attempt (at a slower clock)
    // finds a flash the first may have erased.
    let mut kept: Option<WritePlan> = None;
    super::link::retry_slower(session, "writing", |s| match write_once(s, image, opts, progress, &mut kept) {
        // A fast row cut short leaves erased cells and no flag: the flash,
        // not the link, so the write runs again at the same clock, the
        // normal way (only a second mismatch lowers the clock).
        Err(e) if opts.fast_rows && e.kind == ErrorKind::Verify && e.message.contains(CUT_SHORT) => {
            warn!("{}; writing again without fast programming", e.message);
            let normal = WriteOptions { fast_rows: false, ..opts.clone() };
            write_once(s, image, &normal, progress, &mut kept)
        }
        done => done,
    })
}

/// Finish what an interrupted write left in this chip's journal (the whole
/// new contents of the sectors whose kept bytes it held), before anything
/// else changes the flash; then delete the journal. Every write and erase
/// starts here. `fast`: with the flash routine in target RAM
/// ([`WriteOptions::fast`]).
pub(crate) fn restore_journal(session: &mut Session, fast: bool, progress: &mut dyn Progress) -> Result<()> {
    let Some(journal) = session.journal()? else { return Ok(()) };
    let record = match journal.load() {
        Ok(Some(record)) => record,
        Ok(None) => return Ok(()),
        Err(why) => {
            warn!("{why}");
            return Ok(());
        }
    };
    info!(
        "an interrupted write ({}) left {} sectors with kept bytes in {}: writing them first",
        record.what,
        record.entries.len(),
        journal.path().display()
    );
    let segments = record.entries.iter().map(|e| Segment { addr: e.addr, data: e.data.clone() }).collect();
    let image = Image { segments, format: super::image::Format::Binary, entry: None };
    super::link::retry_slower(session, "restoring kept bytes", |s| {
        write_once(s, &image, &WriteOptions { fast, ..WriteOptions::default() }, progress, &mut None)
    })?;
    journal
        .clear()
        .map_err(|e| Error::other(format!("cannot delete the journal {}: {e}", journal.path().display())))?;
    info!("the kept bytes of the interrupted write are restored");
    Ok(())
}

fn write_once(
    session: &mut Session,
    image: &Image,
    opts: &WriteOptions,
    progress: &mut dyn Progress,
    kept: &mut Option<WritePlan>,
) -> Result<WriteReport> {
    // Write-protected sectors and areas owned by someone else are refused
    // here, before anything is erased (the controller would erase the
    // image's other sectors first and then stop with WRPERR).
    let reserved = session.reserved_ranges()?;
    let ram: Vec<_> = session.target.chip.ram_regions().collect();
    let area = session.data_eeprom();
    let placement = plan::place(&session.layout, &ram, &reserved, area.as_ref(), &image.segments)?;
    if opts.mass_erase && !placement.flash.is_empty() {
        if let Some(text) = crate::flash::reserved::mass_erase_refusal(&reserved) {
            return Err(Error::new(ErrorKind::Protected, text));
        }
    }
    let mut report = WriteReport::default();
    if !placement.flash.is_empty() {
        let what = image_identity(image);
        let context = Context { what: &what, reserved: &reserved, journal: None };
        write_flash(session, &placement.flash, &context, opts, progress, &mut report, kept)?;
    }
    if let (false, Some(area)) = (placement.eeprom.is_empty(), &area) {
        report.eeprom = Some(eeprom::write(session, area, &placement.eeprom, opts.verify, progress)?);
    }
    for seg in &placement.ram {
        session.target.write_mem(seg.addr, &seg.data)?;
        report.ram_bytes += seg.data.len() as u64;
        if opts.verify {
            verify::compare_all(session, &[(seg.addr, &seg.data)], progress)?;
        }
    }
    report.verified = opts.verify;
    if opts.verify && report.verify_method.is_none() {
        report.verify_method = Some(verify::METHOD);
    }
    Ok(report)
}

/// What an image is, for the journal: "CRC-32 0x1234ABCD of 12288 bytes".
fn image_identity(image: &Image) -> String {
    let mut crc = 0u32;
    let mut len = 0usize;
    for s in &image.segments {
        crc = super::journal::crc32_continue(crc, &s.data);
        len += s.data.len();
    }
    format!("an image of {len} bytes with CRC-32 0x{crc:08X}")
}

/// What a flash write knows besides the image: what it is (for the
/// journal), the areas nobody may erase, and the chip's journal.
struct Context<'a> {
    what: &'a str,
    reserved: &'a [crate::flash::Reserved],
    journal: Option<&'a super::journal::Journal>,
}

fn write_flash(
    session: &mut Session,
    segments: &[&Segment],
    context: &Context,
    opts: &WriteOptions,
    progress: &mut dyn Progress,
    report: &mut WriteReport,
    kept: &mut Option<WritePlan>,
) -> Result<()> {
    session.require_unprotected()?;
    session.controller()?;
    let options = PlanOptions { preserve: opts.preserve, mass_erase: opts.mass_erase };
    let mut plan = WritePlan::new(&session.layout, segments, options);
    if let Some(earlier) = kept.as_ref() {
        plan.adopt_kept(earlier);
    }
    report.flash_bytes = segments.iter().map(|s| s.data.len() as u64).sum();
    let journal = session.journal()?;
    let banks = plan.banks(&session.layout);
    let mut unlocked = session.unlock(&banks)?;
    let context = Context { journal: journal.as_ref(), ..*context };
    let done = write_unlocked(&mut unlocked, &mut plan, &context, opts, progress, report);
    if plan.sectors.iter().all(|p| p.kept_known) {
        *kept = Some(plan.clone());
    }
    let done = done.map_err(|e| with_journal(e, journal.as_ref()))?;
    unlocked.lock().map_err(|e| with_journal(with_state(e, &done.state(&plan)), journal.as_ref()))?;
    if opts.verify {
        verify_written(session, &plan, &done, opts, progress, report)
            .map_err(|e| cut_short(e, done.fast))
            .map_err(|e| with_journal(e, journal.as_ref()))?;
    }
    if done.journaled {
        if let Some(j) = &journal {
            j.clear().map_err(|e| Error::other(format!("cannot delete the journal {}: {e}", j.path().display())))?;
        }
    }
    Ok(())
}

/// A verification failure after fast rows names the likely cause: a row cut
/// short by a read of its bank leaves erased cells and sets no flag (RM0440
/// §3.3.7 note; RM0351 and RM0444 alike).
fn cut_short(mut e: Error, fast: bool) -> Error {
    if fast && e.kind == ErrorKind::Verify {
        e.message = format!("{}; {CUT_SHORT}", e.message);
    }
    e
}

/// What [`cut_short`] adds to a verification failure after fast rows.
const CUT_SHORT: &str =
    "it was programmed in fast rows, and a row cut short leaves erased bytes without any error flag";

/// A failure after the journal was written says where the kept bytes are.
fn with_journal(mut e: Error, journal: Option<&super::journal::Journal>) -> Error {
    if let Some(j) = journal.filter(|j| j.path().exists()) {
        e.message = format!(
            "{}; the bytes this write was keeping are saved in {}: the next write or erase on this chip \
             (the same command again, for one) restores them",
            e.message,
            j.path().display()
        );
    }
    e
}

/// A failure after every sector was written says so.
fn with_state(mut e: Error, state: &str) -> Error {
    e.message = format!("{}; flash state: {state}", e.message);
    e
}

impl Written {
    /// The flash once every job ran: the sectors changed, written but not
    /// yet verified (from the first to the last of each bank).
    fn state(&self, plan: &WritePlan) -> String {
        match execute::bank_ranges(self.changed.iter().map(|&i| plan.sectors[i].sector)) {
            Some(ranges) => format!("written, not yet verified: {ranges}"),
            None => "nothing was changed".to_string(),
        }
    }
}

/// What the write left to verify: the sectors it changed, and the CRCs the
/// routine computed over them (when it could).
struct Written {
    changed: Vec<usize>,
    hashed: execute::Hashed,
    /// The unit that hashed, and what it was found to compute.
    unit: Option<(CrcUnit, Solution)>,
    /// The kept bytes were recorded in the journal (delete it once verified).
    journaled: bool,
    /// Some of it was programmed in fast rows.
    fast: bool,
}

/// Survey, plan the jobs and run them (the banks are unlocked).
fn write_unlocked(
    session: &mut Session,
    plan: &mut WritePlan,
    context: &Context,
    opts: &WriteOptions,
    progress: &mut dyn Progress,
    report: &mut WriteReport,
) -> Result<Written> {
    let Session { target: t, flash, layout, .. } = session;
    let ctrl: &dyn FlashController = flash.as_deref().expect("checked by controller()");
    let access = ctrl.program_access();
    let routine = if opts.fast { start_routine(t, ctrl, &access)? } else { None };
    check_probe_can_program(t, &access, routine.is_some())?;
    // A faster core for the routine's CRCs and fast programming's clock;
    // put back whatever happens.
    let raised = if routine.is_some() { ctrl.raise_clock(t)? } else { Some(RaisedClock::default()) };
    let speedup = raised.as_ref().map_or(1, |r| r.speedup);
    let speed = Speed { fast_clock: raised.is_some(), speedup };
    let result = write_at_speed(t, ctrl, layout, routine, speed, plan, context, opts, progress, report);
    let restored = raised.iter().flat_map(|r| &r.restore).try_for_each(|&(addr, value)| t.write32(addr, value));
    match (result, restored) {
        // The write's own error says what the flash holds; a link that
        // failed it fails the clock's restore too, which must not replace it.
        (Err(e), Err(why)) => {
            warn!("the core clock could not be put back ({why})");
            Err(e)
        }
        (result, Ok(())) => result,
        (Ok(written), Err(why)) => Err(with_state(why.into(), &written.state(plan))),
    }
}

/// What raising the core clock gave: fast programming's clock (HCLK of
/// 8 MHz at least), and how many times faster the routine runs.
#[derive(Clone, Copy)]
struct Speed {
    fast_clock: bool,
    speedup: u32,
}

/// Survey, choose how to erase and program, and run the jobs, at the core
/// clock `speed` describes.
#[allow(clippy::too_many_arguments)]
fn write_at_speed(
    t: &mut Target,
    ctrl: &dyn FlashController,
    layout: &crate::flash::FlashLayout,
    mut routine: Option<Streamer>,
    speed: Speed,
    plan: &mut WritePlan,
    context: &Context,
    opts: &WriteOptions,
    progress: &mut dyn Progress,
    report: &mut WriteReport,
) -> Result<Written> {
    let (unit, states) = find_unit(t, ctrl, &mut routine, speed.speedup, plan, opts)?;
    // The core's own reads of flash (the software CRC) flag ECC errors in
    // the status register, which would fail the next operation: clear them.
    if matches!(unit, Some((CrcUnit::Software { .. }, _))) {
        for bank in plan.banks(layout) {
            engine::clear_stale_errors(t, ctrl, bank)?;
        }
    }
    let states = match states {
        Some(s) => s,
        None if opts.mass_erase => vec![SectorState::default(); plan.sectors.len()],
        None => survey::by_reading(t, plan)?,
    };
    plan.mark_kept_read();
    report.preserved_bytes = plan.kept_bytes();
    if opts.mass_erase {
        engine::mass_erase(t, ctrl, layout, progress)?;
        report.mass_erased = true;
    }
    let mut strategy =
        strategy::choose(t, ctrl, layout, plan, &states, &mut routine, unit.as_ref(), context.reserved, opts)?;
    let mut journaled = record_kept(plan, &states, &strategy, context.journal, context.what);
    if !journaled && !strategy.bank_erase.is_empty() {
        // Without the journal no bank with kept bytes is erased whole.
        strategy = strategy::without_kept(plan, strategy);
        journaled = record_kept(plan, &states, &strategy, context.journal, context.what);
    }
    // Fast programming needs its clock; without it, the normal way.
    if strategy.fast.is_some() && !opts.fast_rows {
        strategy.fast = None;
    }
    if strategy.fast.is_some() && !speed.fast_clock {
        info!("the core clock cannot be raised for fast programming: programming the normal way");
        strategy.fast = None;
    }
    let ecc = t.chip.controller.has_ecc();
    let mut jobs = plan.jobs_with(&states, ctrl.program_access().unit, ecc, journaled, &strategy);
    if ctrl.independent_banks() {
        jobs = plan::interleave_banks(jobs);
    }
    let hash_with = unit.filter(|_| opts.verify && !opts.readback);
    let ran = run_jobs(t, ctrl, layout, routine, plan, &jobs, &strategy, hash_with.as_ref(), progress, report)?;
    let fast = jobs.iter().any(|j| j.fast);
    Ok(Written { changed: ran.0, hashed: ran.1, unit: hash_with, journaled, fast })
}

/// A CRC unit and what it was found to compute.
type Trusted = (CrcUnit, Solution);

/// With a CRC unit the routine can hash: skip what is already there, read
/// only kept bytes that are not blank, verify without reading back. The
/// first unit whose results a model explains is used (its times scaled to
/// the raised clock), with what it found the sectors hold. A routine that
/// crashes meanwhile is started again, and no unit is used.
fn find_unit(
    t: &mut Target,
    ctrl: &dyn FlashController,
    routine: &mut Option<Streamer>,
    speedup: u32,
    plan: &mut WritePlan,
    opts: &WriteOptions,
) -> Result<(Option<Trusted>, Option<Vec<SectorState>>)> {
    let chip = t.chip;
    if opts.mass_erase {
        return Ok((None, None));
    }
    for candidate in CrcUnit::candidates(chip).into_iter().map(|u| u.faster(speedup)) {
        let Some(st) = routine.as_mut() else { break };
        match survey::by_crc(t, ctrl, st, &candidate, chip.name, plan)? {
            survey::ByCrc::Done(s, solution) => return Ok((Some((candidate, solution)), Some(s))),
            survey::ByCrc::Untrusted => {}
            survey::ByCrc::Crashed => {
                *routine = start_routine(t, ctrl, &ctrl.program_access())?;
                return Ok((None, None));
            }
        }
    }
    if routine.is_some() {
        warn!("no CRC can be trusted on this {}: verifying by reading back", chip.name);
    }
    Ok((None, None))
}

/// Run the jobs (the routine hashing them with `hash_with`), and fill in
/// the report: what was skipped, programmed and erased. The sectors
/// changed and their hashes.
#[allow(clippy::too_many_arguments)]
fn run_jobs(
    t: &mut Target,
    ctrl: &dyn FlashController,
    layout: &crate::flash::FlashLayout,
    routine: Option<Streamer>,
    plan: &WritePlan,
    jobs: &[Job],
    strategy: &plan::Strategy,
    hash_with: Option<&(CrcUnit, Solution)>,
    progress: &mut dyn Progress,
    report: &mut WriteReport,
) -> Result<(Vec<usize>, execute::Hashed)> {
    let bank_erase = if strategy.bank_erase.is_empty() {
        Vec::new()
    } else {
        ctrl.bank_erase_ops(layout, &strategy.bank_erase).expect("chosen among the banks the controller erases")
    };
    let touched = |p: &SectorPlan| jobs.iter().any(|j| j.sector == p.sector);
    let changed: Vec<usize> = plan.sectors.iter().enumerate().filter(|(_, p)| touched(p)).map(|(i, _)| i).collect();
    report.skipped = plan.sectors.iter().filter(|p| !touched(p)).map(|p| p.sector).collect();
    report.programmed_bytes = jobs.iter().map(Job::program_bytes).sum();
    debug!(
        "{} sectors to write, {} already hold the image, banks erased whole: {:?}, fast programming: {}",
        jobs.len(),
        report.skipped.len(),
        strategy.bank_erase.iter().map(|b| b + 1).collect::<Vec<_>>(),
        strategy.fast.is_some()
    );
    // A unit whose input order is still open hashes one more burst of the
    // new contents, read back afterwards, to settle it.
    let settle = hash_with.filter(|(_, s)| s.resolved().is_none()).and_then(|(u, _)| settle_range(plan, &changed, u));
    let hashing = hash_with.map(|(u, _)| execute::Hashing { unit: u, settle });
    let mut ledger = Ledger::default();
    let work = execute::Work { jobs, bank_erase };
    let ran = execute::run(t, ctrl, routine, &work, hashing, progress, &mut ledger);
    let ran = ran.map_err(|e| failed(e, jobs, &ledger))?;
    report.erased = erased_sectors(layout, jobs, &strategy.bank_erase, ran.redone_from, progress);
    Ok((changed, ran.hashed))
}

/// Every sector of the banks erased whole, and those the jobs erased (from
/// `redone_from` on, all of them: a new start erased them again).
fn erased_sectors(
    layout: &crate::flash::FlashLayout,
    jobs: &[Job],
    whole: &[u8],
    redone_from: Option<usize>,
    progress: &mut dyn Progress,
) -> Vec<crate::flash::Sector> {
    let mut erased: Vec<crate::flash::Sector> = Vec::new();
    for &b in whole {
        for sector in layout.banks[b as usize].sectors(b) {
            progress.erased(&sector);
            erased.push(sector);
        }
    }
    erased.extend(
        jobs.iter()
            .enumerate()
            .filter(|(i, j)| j.erase || redone_from.is_some_and(|from| *i >= from))
            .map(|(_, j)| j.sector)
            .filter(|s| !whole.contains(&s.bank)),
    );
    erased.sort_by_key(|s| (s.bank, s.index));
    erased.dedup();
    erased
}

/// A burst of the new contents that reads differently in different input
/// orders (not one repeated byte), in a sector being written: hashed after
/// programming and read back, it settles the order of a unit calibrated on
/// erased flash.
fn settle_range(plan: &WritePlan, changed: &[usize], unit: &CrcUnit) -> Option<(u8, u32, u32)> {
    let align = unit.align() as usize;
    changed.iter().map(|&i| &plan.sectors[i]).find_map(|p| {
        let at = p.desired.chunks(align).position(|c| c.len() == align && c.iter().any(|&b| b != c[0]))?;
        let start = p.sector.addr + (at * align) as u32;
        Some((p.sector.bank, start, start + align as u32))
    })
}

/// Record in the journal the new contents of every sector to be written
/// (or erased with its bank) whose kept bytes are not all blank (they exist only on the host once it
/// is erased). `true` when there was nothing to record or it is on disk;
/// `false` (with a warning) when it could not be written: the write then
/// never erases such a sector ahead of its data.
fn record_kept(
    plan: &WritePlan,
    states: &[SectorState],
    strategy: &Strategy,
    journal: Option<&super::journal::Journal>,
    what: &str,
) -> bool {
    let entries: Vec<super::journal::Entry> = plan
        .sectors
        .iter()
        .zip(states)
        .filter(|(p, s)| s.unchanged != Some(true) || strategy.bank_erase.contains(&p.sector.bank))
        .filter(|(p, _)| !p.determined_by_image(plan.erased))
        .map(|(p, _)| super::journal::Entry { addr: p.sector.addr, data: p.desired.clone() })
        .collect();
    if entries.is_empty() {
        return true;
    }
    let Some(journal) = journal else { return false };
    let record = super::journal::Record { what: what.to_string(), entries };
    match journal.record(&record) {
        Ok(()) => {
            debug!("kept bytes of {} sectors recorded in {}", record.entries.len(), journal.path().display());
            true
        }
        Err(e) => {
            warn!(
                "cannot write the journal {} ({e}): the kept bytes of {} sectors exist only in memory while \
                 they are rewritten (set STFLASH_STATE_DIR to a writable directory)",
                journal.path().display(),
                record.entries.len()
            );
            false
        }
    }
}

/// Start the flash routine when it fits in RAM and can make the
/// controller's accesses; `None` means host-driven programming. The chip
/// table's RAM size is checked first: the last word the routine would use
/// is read, and on a bus fault (a part with less RAM than its table row)
/// the routine gets half the region, down to the smallest it runs in.
pub(crate) fn start_routine(
    t: &mut Target,
    ctrl: &dyn FlashController,
    access: &ProgramAccess,
) -> Result<Option<Streamer>> {
    let Some(mut region) = RamPlan::region_for(t.chip) else { return Ok(None) };
    let ram = loop {
        let Some(plan) = RamPlan::in_region(region) else {
            debug!("not enough RAM for the flash routine; host-driven programming");
            return Ok(None);
        };
        match t.read32(plan.last_word()) {
            Ok(_) => break plan,
            Err(TargetError::Fault { addr, .. }) => {
                warn!(
                    "no RAM answers at 0x{addr:08X}, inside the {} KiB the chip table gives at 0x{:08X}; \
                     the flash routine uses less",
                    region.size / 1024,
                    region.base
                );
                region.size /= 2;
            }
            Err(e) => return Err(e.into()),
        }
    };
    if !stream::supports(access, &ram) {
        debug!("the flash routine cannot make {access:?} accesses; host-driven programming");
        return Ok(None);
    }
    if ctrl.error_register(0).is_some() {
        debug!("the flash routine polls one status register and this controller keeps its errors in another; host-driven programming");
        return Ok(None);
    }
    Ok(stream::start(t, ctrl, ram)?)
}

/// Verify the changed sectors: by the routine's CRCs, reading a range back
/// before reporting any mismatch; else (or with `--verify=readback`, every
/// sector the image touches) by reading back.
fn verify_written(
    session: &mut Session,
    plan: &WritePlan,
    written: &Written,
    opts: &WriteOptions,
    progress: &mut dyn Progress,
    report: &mut WriteReport,
) -> Result<()> {
    let (Some(hashed), Some((unit, solution))) = (&written.hashed, &written.unit) else {
        let all = opts.readback;
        let ranges = plan.verify_ranges(|p| all || written.changed.iter().any(|&i| plan.sectors[i].sector == p.sector));
        debug!("verifying {} ranges by reading back", ranges.len());
        let ranges: Vec<(u32, &[u8])> = ranges.iter().map(|(a, d)| (*a, &d[..])).collect();
        verify::compare_all(session, &ranges, progress)?;
        report.verify_method = Some(verify::METHOD);
        return Ok(());
    };
    let mut solution = solution.clone();
    if let Some(((_, start, end), got)) = hashed.settle {
        // Known bytes: read back, whatever programming left there.
        let mut bytes = vec![0u8; (end - start) as usize];
        session.target.read_mem(start, &mut bytes)?;
        solution.refine(Run { bytes: &bytes, result: got });
        match solution.resolved() {
            Some(m) => debug!("the {} takes {}", unit.name(), m.order.name()),
            None => warn!(
                "the {} computed 0x{got:08X} over 0x{start:08X}-0x{:08X}, which no model found at calibration \
                 explains",
                unit.name(),
                end - 1
            ),
        }
    }
    let mut suspects: Vec<&SectorPlan> = Vec::new();
    for &((_, start, end), got) in &hashed.ranges {
        let group: Vec<&SectorPlan> = written
            .changed
            .iter()
            .map(|&i| &plan.sectors[i])
            .filter(|p| p.sector.addr >= start && p.sector.end() <= end as u64)
            .collect();
        let want: Vec<u8> = group.iter().flat_map(|p| p.desired.iter().copied()).collect();
        if solution.predict(&want) != Some(got) {
            suspects.extend(group);
        }
    }
    let all_read = suspects.len() == written.changed.len();
    progress.begin(Phase::Verify, suspects.iter().map(|p| p.sector.size as u64).sum());
    for p in &suspects {
        compare_sector(&mut session.target, p)?;
        progress.add(p.sector.size as u64);
    }
    progress.end();
    if !suspects.is_empty() {
        warn!(
            "the {} disagreed about {} of {} sectors but reading them back shows the right bytes",
            unit.name(),
            suspects.len(),
            written.changed.len()
        );
    }
    report.verify_method = Some(if all_read && !suspects.is_empty() { verify::METHOD } else { unit.method() });
    Ok(())
}

/// Read a whole sector back and compare it with what it should hold.
fn compare_sector(t: &mut Target, plan: &SectorPlan) -> Result<()> {
    let mut got = vec![0u8; plan.desired.len()];
    t.read_mem(plan.sector.addr, &mut got)?;
    if let Some(off) = plan.desired.iter().zip(&got).position(|(a, b)| a != b) {
        let bad = plan.desired.iter().zip(&got).filter(|(a, b)| a != b).count();
        return Err(Error::new(
            ErrorKind::Verify,
            format!(
                "verification failed at 0x{:08X}: wrote 0x{:02X}, read back 0x{:02X} ({bad} bytes of {} differ)",
                plan.sector.addr + off as u32,
                plan.desired[off],
                got[off],
                plan.sector
            ),
        ));
    }
    Ok(())
}

/// Refuse before anything is erased when the probe cannot make the data
/// writes the controller needs: 16-bit writes (F0/F1/F3 half-words, F2/F4/F7
/// at x16) need ST-LINK/V2 firmware J26 or a V3 (OpenOCD
/// src/jtag/drivers/stlink_usb.c:512 `STLINK_F_HAS_MEM_16BIT` "v2>=j26 || v3").
fn check_probe_can_program(t: &Target, access: &ProgramAccess, routine: bool) -> Result<()> {
    let version = t.probe_firmware();
    if access.width == Width::Half && !version.has_16bit() && !routine {
        return Err(Error::unsupported(format!(
            "this chip's flash is programmed with 16-bit writes, and probe firmware {version} has none \
             (needs V2J26 or newer); update it with ST's STSW-LINK007. Nothing was erased."
        )));
    }
    Ok(())
}

/// The error of a write that failed after the chip was touched, with the
/// state of every sector the write was changing.
fn failed(e: FlashError, jobs: &[Job], ledger: &Ledger) -> Error {
    let state = ledger.describe(jobs);
    let started = ledger.started.min(jobs.len());
    match e {
        FlashError::Interrupted { at } => Error::new(
            ErrorKind::Interrupted,
            format!(
                "interrupted at 0x{at:08X}, flash locked; {state}; run the same command again to complete the write"
            ),
        ),
        other if started == 0 => other.into(),
        other => with_state(other.into(), &state),
    }
}
