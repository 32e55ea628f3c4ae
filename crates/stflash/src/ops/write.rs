//! `write`: validate the whole image, plan which sectors change, keep the
//! bytes of those sectors that the image does not cover, erase, program,
//! verify. Nothing is erased before every check has passed.

use std::collections::BTreeSet;

use log::{debug, info, warn};

use super::fast::{self, Outcome, SectorJob, StreamEnd};
use super::image::{Image, Segment};
use super::session::Session;
use super::verify;
use crate::chip::MemRegion;
use crate::error::{Error, ErrorKind, Result};
use crate::flash::crc::{self, CrcUnit};
use crate::flash::routine::{RamPlan, RoutineError, CODE};
use crate::flash::{engine, FlashError, Phase, Progress, Sector, Width};

/// `WriteReport::verify_method` when the written sectors were checked by
/// hardware CRC (the H7 flash CRC unit or the CRC peripheral).
pub const METHOD_CRC: &str = "crc";

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
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions { mass_erase: false, preserve: true, verify: true, fast: true, readback: false }
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
    /// How the result was checked ("read-back"); `None` when not verified.
    pub verify_method: Option<&'static str>,
}

/// Where each part of the image goes.
struct Placement<'a> {
    flash: Vec<&'a Segment>,
    ram: Vec<(&'a Segment, MemRegion)>,
}

/// Check every segment before anything is touched: each must lie entirely
/// inside flash (not in a gap between banks, not in a reserved area) or RAM.
fn place<'a>(session: &mut Session, image: &'a Image) -> Result<Placement<'a>> {
    let mut placement = Placement { flash: Vec::new(), ram: Vec::new() };
    for seg in &image.segments {
        let len = seg.data.len() as u64;
        let end = seg.addr as u64 + len;
        let flash_span = session.layout.base() as u64..session.layout.banks.last().map_or(0, |b| b.end());
        if flash_span.contains(&(seg.addr as u64)) {
            session.layout.check_range(seg.addr, len).map_err(|e| {
                Error::input(format!("image segment 0x{:08X}-0x{:08X} does not fit: {e}", seg.addr, end - 1))
            })?;
            if let Some((start, stop, why)) = session.reserved_overlap(seg.addr, len)? {
                return Err(Error::new(
                    ErrorKind::Protected,
                    format!(
                        "image segment 0x{:08X}-0x{:08X} overlaps 0x{start:08X}-0x{:08X}, {why}; it is never written",
                        seg.addr,
                        end - 1,
                        stop - 1
                    ),
                ));
            }
            placement.flash.push(seg);
        } else if let Some(region) = session.ram_region(seg.addr, len) {
            placement.ram.push((seg, region));
        } else {
            return Err(Error::input(format!(
                "image segment 0x{:08X}-0x{:08X} is neither in flash ({}) nor in RAM ({}); check the address",
                seg.addr,
                end - 1,
                session.layout.ranges_text(),
                ram_text(session)
            )));
        }
    }
    Ok(placement)
}

fn ram_text(session: &Session) -> String {
    session
        .target
        .chip
        .ram_regions()
        .map(|r| format!("0x{:08X}-0x{:08X}", r.base, r.end() - 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The wanted contents of one sector that changes.
pub(crate) struct SectorPlan {
    pub sector: Sector,
    /// Final contents of the whole sector.
    pub desired: Vec<u8>,
    /// Which bytes come from the image (the rest are kept or erased).
    covered: Vec<bool>,
}

impl SectorPlan {
    fn new(sector: Sector, erased: u8) -> SectorPlan {
        let n = sector.size as usize;
        SectorPlan { sector, desired: vec![erased; n], covered: vec![false; n] }
    }

    /// Every byte it will hold comes from the image or is the erased value
    /// (nothing read from the chip is kept in it).
    fn determined_by_image(&self, erased: u8) -> bool {
        self.covered.iter().zip(&self.desired).all(|(&c, &d)| c || d == erased)
    }

    /// Ranges (offset, len) not covered by the image.
    fn uncovered(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.covered.len() {
            if self.covered[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i < self.covered.len() && !self.covered[i] {
                i += 1;
            }
            out.push((start, i - start));
        }
        out
    }
}

/// Lay the flash segments onto the sectors they touch.
fn plan_sectors(session: &Session, segments: &[&Segment]) -> Vec<SectorPlan> {
    let layout = &session.layout;
    let mut touched: BTreeSet<(u8, u32)> = BTreeSet::new();
    let mut plans: Vec<SectorPlan> = Vec::new();
    for seg in segments {
        for s in layout.sectors_in(seg.addr, seg.data.len() as u64) {
            if touched.insert((s.bank, s.index)) {
                plans.push(SectorPlan::new(s, layout.erased));
            }
        }
    }
    plans.sort_by_key(|p| (p.sector.bank, p.sector.index));
    for plan in &mut plans {
        let (s_start, s_end) = (plan.sector.addr as u64, plan.sector.end());
        for seg in segments {
            let (g_start, g_end) = (seg.addr as u64, seg.addr as u64 + seg.data.len() as u64);
            let (start, end) = (s_start.max(g_start), s_end.min(g_end));
            if start >= end {
                continue;
            }
            let dst = (start - s_start) as usize..(end - s_start) as usize;
            let src = (start - g_start) as usize..(end - g_start) as usize;
            plan.desired[dst.clone()].copy_from_slice(&seg.data[src]);
            plan.covered[dst].fill(true);
        }
    }
    plans
}

/// Read the current contents of the bytes the image leaves alone, so that
/// they are programmed back after the erase.
fn read_preserved(session: &mut Session, plans: &mut [SectorPlan], report: &mut WriteReport) -> Result<()> {
    for plan in plans.iter_mut() {
        for (off, len) in plan.uncovered() {
            let addr = plan.sector.addr + off as u32;
            session.target.read_mem(addr, &mut plan.desired[off..off + len])?;
            let kept = plan.desired[off..off + len].iter().filter(|&&b| b != session.layout.erased).count();
            report.preserved_bytes += kept as u64;
        }
    }
    if report.preserved_bytes > 0 {
        info!("keeping {} bytes of partly written sectors", report.preserved_bytes);
    }
    Ok(())
}

/// Runs of whole programming units of a sector that are not entirely erased value.
fn program_runs(plan: &SectorPlan, unit: u32, erased: u8) -> Vec<(u32, &[u8])> {
    let mut runs: Vec<(u32, &[u8])> = Vec::new();
    let unit = unit as usize;
    let mut start: Option<usize> = None;
    let n = plan.desired.len();
    let mut i = 0;
    while i <= n {
        let blank = i == n || plan.desired[i..i + unit].iter().all(|&b| b == erased);
        match (blank, start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                runs.push((plan.sector.addr + s as u32, &plan.desired[s..i]));
                start = None;
            }
            _ => {}
        }
        i += unit;
    }
    runs
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
    super::link::retry_slower(session, "writing", |s| write_once(s, image, opts, progress))
}

fn write_once(
    session: &mut Session,
    image: &Image,
    opts: &WriteOptions,
    progress: &mut dyn Progress,
) -> Result<WriteReport> {
    let placement = place(session, image)?;
    let mut report = WriteReport::default();
    if !placement.flash.is_empty() {
        write_flash(session, &placement.flash, opts, progress, &mut report)?;
    }
    for (seg, _) in &placement.ram {
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

fn write_flash(
    session: &mut Session,
    segments: &[&Segment],
    opts: &WriteOptions,
    progress: &mut dyn Progress,
    report: &mut WriteReport,
) -> Result<()> {
    session.require_unprotected()?;
    session.controller()?;
    check_probe_can_program(session)?;
    let mut plans = plan_sectors(session, segments);
    report.flash_bytes = segments.iter().map(|s| s.data.len() as u64).sum();
    let banks: BTreeSet<u8> = if opts.mass_erase {
        (0..session.layout.banks.len() as u8).collect()
    } else {
        plans.iter().map(|p| p.sector.bank).collect()
    };
    // With a hardware CRC: skip what is already there, verify without reading back.
    let done = write_with_crc(session, &mut plans, &banks, opts, progress, report);
    let done = match done {
        Ok(done) => done,
        Err(e) => {
            let _ = session.lock_banks(&banks);
            return Err(e);
        }
    };
    if done {
        return session.lock_banks(&banks);
    }
    if opts.preserve && !opts.mass_erase {
        read_preserved(session, &mut plans, report)?;
    }
    let result = erase_and_program(session, &plans, &banks, opts, progress, report);
    // Lock every bank we unlocked, whatever happened; the first error is reported.
    let locked = session.lock_banks(&banks);
    result?;
    locked?;
    if opts.verify {
        let wanted = verify_ranges(&plans, opts.preserve && !opts.mass_erase, session.layout.erased);
        debug!("verifying {} ranges", wanted.len());
        let ranges: Vec<(u32, &[u8])> = wanted.iter().map(|(a, d)| (*a, &d[..])).collect();
        verify::compare_all(session, &ranges, progress)?;
    }
    Ok(())
}

/// One CRC-hashed run of a sector: `[start, end)`, wholly covered by the
/// image or wholly outside it.
struct Piece {
    plan: usize,
    start: u32,
    end: u32,
    covered: bool,
}

/// Cut each sector into runs of CRC-aligned blocks that are wholly covered or
/// wholly uncovered; blocks that are partly covered are returned apart (they
/// are read over SWD).
fn pieces(plans: &[SectorPlan], align: u32) -> (Vec<Piece>, Vec<(usize, u32, u32)>) {
    let (mut out, mut mixed) = (Vec::new(), Vec::new());
    for (i, p) in plans.iter().enumerate() {
        let blocks = p.sector.size / align;
        let class = |b: u32| {
            let c = &p.covered[(b * align) as usize..((b + 1) * align) as usize];
            if c.iter().all(|&x| x) {
                Some(true)
            } else if c.iter().all(|&x| !x) {
                Some(false)
            } else {
                None
            }
        };
        let mut b = 0;
        while b < blocks {
            let k = class(b);
            let start = b;
            while b < blocks && class(b) == k {
                b += 1;
            }
            let (lo, hi) = (p.sector.addr + start * align, p.sector.addr + b * align);
            match k {
                Some(covered) => out.push(Piece { plan: i, start: lo, end: hi, covered }),
                None => mixed.push((i, lo, hi)),
            }
        }
    }
    (out, mixed)
}

/// The write through the flash routine with the chip's CRC unit (the H7
/// flash CRC unit, the CRC peripheral elsewhere): hash every touched sector
/// first (pieces the image covers, pieces it does not); skip sectors that
/// already hold the image; read back only the uncovered bytes that are not
/// blank; erase and program the rest, the routine hashing each written
/// sector right after programming it; verify by those CRCs, reading a range
/// back before reporting any mismatch. `Ok(false)` when this path does not
/// apply (no CRC unit, no room, or the unit failed its calibration): nothing
/// has been changed then.
fn write_with_crc(
    session: &mut Session,
    plans: &mut [SectorPlan],
    banks: &BTreeSet<u8>,
    opts: &WriteOptions,
    progress: &mut dyn Progress,
    report: &mut WriteReport,
) -> Result<bool> {
    if opts.mass_erase || !opts.fast || !opts.preserve || plans.is_empty() {
        return Ok(false);
    }
    let chip = session.target.chip;
    let (Some(unit), Some(ram)) = (CrcUnit::for_chip(chip), RamPlan::for_chip(chip)) else { return Ok(false) };
    let align = unit.align();
    if plans.iter().any(|p| p.sector.size % align != 0 || p.sector.addr % align != 0) {
        return Ok(false);
    }
    let erased = session.layout.erased;
    let Session { target: t, flash, .. } = session;
    let ctrl = flash.as_mut().expect("checked by controller()");
    let access = ctrl.program_access();
    if !fast::supports(&access, &ram) {
        return Ok(false);
    }
    for &bank in banks {
        engine::clear_stale_errors(t, ctrl.as_ref(), bank)?;
        ctrl.unlock(t, bank)?;
    }
    let ctrl: &dyn crate::flash::FlashController = ctrl.as_ref();
    let Some(mut st) = fast::start(t, ctrl, ram)? else { return Ok(false) };
    // Calibration: the unit against the host on known bytes, in the same
    // batch as the pieces. The peripheral hashes the routine's own code in
    // SRAM; the H7 unit hashes flash only, so one burst is read over SWD.
    let (cal_range, cal) = if unit.hashes_ram() {
        let len = CODE.len() & !3;
        let code = st.plan().code;
        ((0, code, code + len as u32), CODE[..len].to_vec())
    } else {
        let first = plans[0].sector;
        let mut cal = vec![0u8; align.min(first.size) as usize];
        t.read_mem(first.addr, &mut cal)?;
        ((first.bank, first.addr, first.addr + cal.len() as u32), cal)
    };
    let (pieces, mixed) = pieces(plans, align);
    let mut ranges = vec![cal_range];
    ranges.extend(pieces.iter().map(|p| (plans[p.plan].sector.bank, p.start, p.end)));
    let crcs = match fast::run_crcs(t, &mut st, &unit, &ranges) {
        Ok(crcs) => crcs,
        Err(e @ RoutineError::Crashed { .. }) => {
            warn!("{e}; writing without the {}", unit.name());
            return Ok(false);
        }
        Err(e) => return Err(Error::from(e.into_flash_error(t, ctrl))),
    };
    if crcs[0] != crc::host_crc(&cal) {
        warn!(
            "the {} of this {} does not compute CRC-32/MPEG-2 as expected (0x{:08X}, host 0x{:08X}); \
             verifying by reading back",
            unit.name(),
            chip.name,
            crcs[0],
            crc::host_crc(&cal)
        );
        let _ = st.finish(t);
        return Ok(false);
    }
    // Classify each sector.
    let n = plans.len();
    let (mut unchanged, mut blank) = (vec![true; n], vec![true; n]);
    for (p, &got) in pieces.iter().zip(&crcs[1..]) {
        let plan = &mut plans[p.plan];
        let (o, e) = ((p.start - plan.sector.addr) as usize, (p.end - plan.sector.addr) as usize);
        let is_blank = got == crc::erased_crc(e - o, erased);
        blank[p.plan] &= is_blank;
        if p.covered {
            unchanged[p.plan] &= got == crc::host_crc(&plan.desired[o..e]);
        } else if !is_blank {
            // Bytes to keep: read them (only these).
            t.read_mem(p.start, &mut plan.desired[o..e])?;
            report.preserved_bytes += plan.desired[o..e].iter().filter(|&&b| b != erased).count() as u64;
        }
    }
    for &(i, lo, hi) in &mixed {
        let plan = &mut plans[i];
        let (o, e) = ((lo - plan.sector.addr) as usize, (hi - plan.sector.addr) as usize);
        let mut now = vec![0u8; e - o];
        t.read_mem(lo, &mut now)?;
        blank[i] &= now.iter().all(|&b| b == erased);
        for (k, b) in now.into_iter().enumerate() {
            if plan.covered[o + k] {
                unchanged[i] &= plan.desired[o + k] == b;
            } else {
                if b != erased {
                    report.preserved_bytes += 1;
                }
                plan.desired[o + k] = b;
            }
        }
    }
    // A blank sector of ECC flash is erased anyway (`Controller::has_ecc`).
    let ecc = chip.controller.has_ecc();
    let mut jobs = Vec::new();
    let mut changed = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        if unchanged[i] {
            report.skipped.push(plan.sector);
            continue;
        }
        changed.push(i);
        jobs.push(SectorJob {
            sector: plan.sector,
            erase: ecc || !blank[i],
            ahead: plan.determined_by_image(erased),
            runs: program_runs(plan, access.unit, erased),
        });
    }
    debug!("{} sectors to write, {} already hold the image", jobs.len(), report.skipped.len());
    let total: u64 = jobs.iter().flat_map(|j| &j.runs).map(|r| r.1.len() as u64).sum();
    report.erased = jobs.iter().filter(|j| j.erase).map(|j| j.sector).collect();
    report.programmed_bytes = total;
    let crc_verify = opts.verify && !opts.readback;
    progress.begin(Phase::Program, total);
    let mut erased_ahead = 0;
    let outcome = if jobs.is_empty() {
        Outcome::Done { verify: Vec::new() }
    } else {
        let end = StreamEnd { verify: crc_verify.then_some(&unit), stop: true };
        fast::stream(t, ctrl, &mut st, &jobs, end, progress, &mut erased_ahead)
            .map_err(|e| interrupted_fast(e, &jobs, erased_ahead))?
    };
    progress.end();
    let verify_ranges = match outcome {
        Outcome::Done { verify } => verify,
        Outcome::Fallback { from, .. } => {
            let list: Vec<u8> = banks.iter().copied().collect();
            fast::settle(t, ctrl, &list)?;
            let rest = &jobs[from..];
            let sectors: Vec<Sector> = rest.iter().map(|j| j.sector).collect();
            engine::erase_sectors(t, ctrl, &sectors, progress).map_err(|e| interrupted(e, plans, None))?;
            for job in rest {
                for &(addr, data) in &job.runs {
                    engine::program(t, ctrl, job.sector.bank, addr, data, progress)
                        .map_err(|e| interrupted(in_sector(e, job.sector), plans, Some(job.sector)))?;
                }
            }
            report.erased = jobs.iter().filter(|j| j.erase).map(|j| j.sector).chain(sectors).collect();
            // The routine is gone: verify by reading back.
            if opts.verify {
                for &i in &changed {
                    compare_sector(t, &plans[i])?;
                }
                report.verify_method = Some(verify::METHOD);
            }
            return Ok(true);
        }
    };
    // Collect the CRCs of the written ranges (the last buffer stopped the routine).
    let results = match st.finish(t) {
        Ok(results) => results,
        Err(e @ RoutineError::Crashed { .. }) if opts.verify => {
            warn!("{e}; verifying by reading back");
            Vec::new()
        }
        Err(e) => return Err(Error::from(e.into_flash_error(t, ctrl))),
    };
    if !opts.verify {
        return Ok(true);
    }
    // Verify: by CRC where the routine hashed the written ranges, by reading
    // back the rest (everything with --verify=readback, skipped sectors included).
    let mut suspects: Vec<usize> = Vec::new();
    let crc_checked = crc_verify && results.len() == verify_ranges.len();
    if crc_checked {
        for (&(_, start, end), &got) in verify_ranges.iter().zip(&results) {
            let group: Vec<usize> = changed
                .iter()
                .copied()
                .filter(|&i| plans[i].sector.addr >= start && plans[i].sector.end() <= end as u64)
                .collect();
            let want: Vec<u8> = group.iter().flat_map(|&i| plans[i].desired.iter().copied()).collect();
            if got != crc::host_crc(&want) {
                suspects.extend(group);
            }
        }
    } else if opts.readback {
        suspects = (0..plans.len()).collect();
    } else {
        suspects = changed.clone();
    }
    progress.begin(Phase::Verify, suspects.iter().map(|&i| plans[i].sector.size as u64).sum());
    for &i in &suspects {
        compare_sector(t, &plans[i])?;
        if crc_checked {
            warn!(
                "the {} disagreed about {} but reading it back shows the right bytes; \
                 its CRC is not trusted for the rest of this write",
                unit.name(),
                plans[i].sector
            );
        }
        progress.add(plans[i].sector.size as u64);
    }
    progress.end();
    report.verify_method = Some(if crc_checked { METHOD_CRC } else { verify::METHOD });
    Ok(true)
}

/// Read a whole sector back and compare it with what it should hold.
fn compare_sector(t: &mut crate::mcu::Target, plan: &SectorPlan) -> Result<()> {
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
/// at x16) need ST-LINK/V2 firmware J26 or a V3 (flash-families.md §4.3).
fn check_probe_can_program(session: &mut Session) -> Result<()> {
    let width = session.controller()?.program_access().width;
    let version = session.target.link().version;
    if width == Width::Half && !version.has_16bit() {
        return Err(Error::unsupported(format!(
            "this chip's flash is programmed with 16-bit writes, and probe firmware {version} has none \
             (needs V2J26 or newer); update it with ST's STSW-LINK007. Nothing was erased."
        )));
    }
    Ok(())
}

/// What to read back: the image bytes and any bytes kept, as few ranges as
/// possible (adjacent sectors join, so small pages do not mean small reads).
fn verify_ranges(plans: &[SectorPlan], preserved: bool, erased: u8) -> Vec<(u32, Vec<u8>)> {
    let mut out: Vec<(u32, Vec<u8>)> = Vec::new();
    for p in plans {
        let wanted = |j: usize| p.covered[j] || (preserved && p.desired[j] != erased);
        let n = p.desired.len();
        let mut i = 0;
        while i < n {
            if !wanted(i) {
                i += 1;
                continue;
            }
            let start = i;
            while i < n && wanted(i) {
                i += 1;
            }
            let addr = p.sector.addr + start as u32;
            match out.last_mut() {
                Some((a, data)) if *a as u64 + data.len() as u64 == addr as u64 => {
                    data.extend_from_slice(&p.desired[start..i])
                }
                _ => out.push((addr, p.desired[start..i].to_vec())),
            }
        }
    }
    out
}

fn erase_and_program(
    session: &mut Session,
    plans: &[SectorPlan],
    banks: &BTreeSet<u8>,
    opts: &WriteOptions,
    progress: &mut dyn Progress,
    report: &mut WriteReport,
) -> Result<()> {
    let Session { target, flash, layout, .. } = session;
    let ctrl = flash.as_mut().expect("checked by controller()");
    for &bank in banks {
        engine::clear_stale_errors(target, ctrl.as_ref(), bank)?;
        ctrl.unlock(target, bank)?;
    }
    if opts.mass_erase {
        engine::mass_erase(target, ctrl.as_ref(), layout, progress)?;
        report.mass_erased = true;
    }
    let access = ctrl.program_access();
    let mut jobs: Vec<SectorJob> = plans
        .iter()
        .map(|p| SectorJob {
            sector: p.sector,
            erase: !opts.mass_erase,
            ahead: p.determined_by_image(layout.erased),
            runs: program_runs(p, access.unit, layout.erased),
        })
        .collect();
    let total: u64 = jobs.iter().flat_map(|j| &j.runs).map(|r| r.1.len() as u64).sum();
    // The routine when it fits in RAM and can make the controller's accesses.
    let ram = if opts.fast { RamPlan::for_chip(target.chip) } else { None };
    let mut from = 0;
    match ram {
        Some(ram) if fast::supports(&access, &ram) => {
            progress.begin(Phase::Program, total);
            let outcome = match fast::start(target, ctrl.as_ref(), ram)? {
                Some(mut st) => {
                    let mut erased_ahead = 0;
                    let outcome = fast::stream(
                        target,
                        ctrl.as_ref(),
                        &mut st,
                        &jobs,
                        StreamEnd::default(),
                        progress,
                        &mut erased_ahead,
                    )
                    .map_err(|e| interrupted_fast(e, &jobs, erased_ahead))?;
                    match st.finish(target) {
                        Ok(_) => outcome,
                        Err(e) => fast::fail(target, ctrl.as_ref(), e, jobs.len())?,
                    }
                }
                None => Outcome::Fallback { from: 0, why: "the flash routine did not start".into() },
            };
            progress.end();
            match outcome {
                Outcome::Done { .. } => from = jobs.len(),
                Outcome::Fallback { from: f, .. } => {
                    from = f;
                    let banks: Vec<u8> = banks.iter().copied().collect();
                    fast::settle(target, ctrl.as_ref(), &banks)?;
                    // The routine may have started on these: erase them again.
                    for job in &mut jobs[f..] {
                        job.erase = true;
                    }
                }
            }
        }
        Some(_) => debug!("the flash routine cannot make {access:?} accesses; host-driven programming"),
        None if opts.fast => debug!("not enough RAM for the flash routine; host-driven programming"),
        None => {}
    }
    report.erased = jobs.iter().filter(|j| j.erase).map(|j| j.sector).collect();
    report.programmed_bytes = total;
    let rest = &jobs[from..];
    if rest.is_empty() {
        return Ok(());
    }
    let sectors: Vec<Sector> = rest.iter().filter(|j| j.erase).map(|j| j.sector).collect();
    engine::erase_sectors(target, ctrl.as_ref(), &sectors, progress).map_err(|e| interrupted(e, plans, None))?;
    progress.begin(Phase::Program, rest.iter().flat_map(|j| &j.runs).map(|r| r.1.len() as u64).sum());
    for job in rest {
        for &(addr, data) in &job.runs {
            engine::program(target, ctrl.as_ref(), job.sector.bank, addr, data, progress)
                .map_err(|e| interrupted(in_sector(e, job.sector), plans, Some(job.sector)))?;
        }
    }
    progress.end();
    Ok(())
}

/// Name the sector in a controller error raised while programming, so that
/// the message says where as well as what ("… while programming 0x08002000 in
/// sector 1 of bank 1 (0x08002000, 8 KiB)").
fn in_sector(e: FlashError, sector: Sector) -> FlashError {
    match e {
        FlashError::Flags { op, flags, status } => FlashError::Flags { op: format!("{op} in {sector}"), flags, status },
        FlashError::Timeout { op, waited } => FlashError::Timeout { op: format!("{op} in {sector}"), waited },
        other => other,
    }
}

/// An interruption of the streaming path: sectors before `at` are written,
/// the one at `at` may be partly programmed, the next may have been erased
/// ahead (the first `erased` jobs had their erase given to the routine),
/// later ones are untouched.
fn interrupted_fast(e: FlashError, jobs: &[SectorJob], erased: usize) -> Error {
    let FlashError::Interrupted { at } = e else { return e.into() };
    let range = |js: &[SectorJob]| -> Option<String> {
        let (first, last) = (js.first()?, js.last()?);
        Some(format!("0x{:08X}-0x{:08X}", first.sector.addr, last.sector.end() - 1))
    };
    let split = jobs.iter().position(|j| j.sector.addr >= at).unwrap_or(jobs.len());
    let mut parts = Vec::new();
    if let Some(r) = range(&jobs[..split]) {
        parts.push(format!("written: {r}"));
    }
    if let Some(r) = range(&jobs[split..(split + 1).min(jobs.len())]) {
        parts.push(format!("partly programmed: {r}"));
    }
    let ahead = erased.clamp(split + 1, jobs.len());
    if let Some(r) = range(jobs.get(split + 1..ahead).unwrap_or(&[])) {
        parts.push(format!("not yet written, may be erased: {r}"));
    }
    if let Some(r) = range(jobs.get(ahead..).unwrap_or(&[])) {
        parts.push(format!("not yet written: {r}"));
    }
    let state = if parts.is_empty() { "nothing was changed".to_string() } else { parts.join("; ") };
    Error::new(
        ErrorKind::Interrupted,
        format!("interrupted at 0x{at:08X}, flash locked; {state}; run the same command again to complete the write"),
    )
}

/// Turn an interruption into a message that says what state the flash is in.
fn interrupted(e: FlashError, plans: &[SectorPlan], current: Option<Sector>) -> Error {
    let FlashError::Interrupted { at } = e else { return e.into() };
    let mut erased: Vec<(u32, u64)> = Vec::new();
    let mut partly: Vec<(u32, u64)> = Vec::new();
    for p in plans {
        let s = p.sector;
        let list = match current {
            // Interrupted while erasing: sectors before `at` are erased.
            None if s.addr < at => &mut erased,
            Some(c) if (s.bank, s.index) == (c.bank, c.index) => &mut partly,
            Some(c) if (s.bank, s.index) > (c.bank, c.index) => &mut erased,
            _ => continue,
        };
        match list.last_mut() {
            Some((_, end)) if *end == s.addr as u64 => *end = s.end(),
            _ => list.push((s.addr, s.end())),
        }
    }
    let text = |ranges: &[(u32, u64)]| {
        ranges.iter().map(|&(a, e)| format!("0x{a:08X}-0x{:08X}", e - 1)).collect::<Vec<_>>().join(", ")
    };
    let mut parts = Vec::new();
    if !partly.is_empty() {
        parts.push(format!("partly programmed: {}", text(&partly)));
    }
    if !erased.is_empty() {
        parts.push(format!("left erased: {}", text(&erased)));
    }
    let state = if parts.is_empty() { "nothing was changed".to_string() } else { parts.join("; ") };
    Error::new(
        ErrorKind::Interrupted,
        format!("interrupted at 0x{at:08X}, flash locked; {state}; run the same command again to complete the write"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(addr: u32, size: u32, data: &[(usize, &[u8])]) -> SectorPlan {
        let mut p = SectorPlan::new(Sector { bank: 0, index: 0, addr, size }, 0xFF);
        for (off, bytes) in data {
            p.desired[*off..off + bytes.len()].copy_from_slice(bytes);
            p.covered[*off..off + bytes.len()].fill(true);
        }
        p
    }

    #[test]
    fn program_runs_skip_blank_units() {
        let p = plan(0x0800_0000, 64, &[(0, &[1; 16]), (32, &[2; 8])]);
        let runs = program_runs(&p, 16, 0xFF);
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].0, runs[0].1.len()), (0x0800_0000, 16));
        // The second run is a whole unit, padded with the erased value.
        assert_eq!((runs[1].0, runs[1].1.len()), (0x0800_0020, 16));
        assert_eq!(&runs[1].1[8..], &[0xFF; 8]);
    }

    #[test]
    fn programming_errors_name_the_sector() {
        let flag = crate::flash::ErrorFlag { mask: 1 << 17, name: "WRPERR", meaning: "write-protected" };
        let e = FlashError::Flags { op: "programming 0x08102000".into(), flags: vec![flag], status: 1 << 17 };
        let sector = Sector { bank: 1, index: 1, addr: 0x0810_2000, size: 8192 };
        let text = Error::from(in_sector(e, sector)).to_string();
        assert!(text.contains("WRPERR") && text.contains("programming 0x08102000 in sector 1 of bank 2"), "{text}");
    }

    #[test]
    fn uncovered_ranges_are_what_gets_preserved() {
        let p = plan(0x0800_0000, 64, &[(8, &[0; 8]), (40, &[0; 4])]);
        assert_eq!(p.uncovered(), vec![(0, 8), (16, 24), (44, 20)]);
    }
}
