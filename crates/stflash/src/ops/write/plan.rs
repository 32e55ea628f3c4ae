//! The write plan: a pure function of the image, the flash layout and what
//! is known about the chip's contents. No probe is involved here, so every
//! decision is unit-tested (below) without a simulator.
//!
//! 1. [`place`]: every segment lies in flash (not in a gap between banks,
//!    not in a reserved area), in the data EEPROM of this part (L0/L1) or in
//!    RAM, or the write is refused.
//! 2. [`WritePlan::new`]: the sectors the image touches and what each must
//!    hold: image bytes, bytes kept from the chip (read later), or the
//!    erased value (`--erase-rest`).
//! 3. [`WritePlan::bank_erases`]: which banks to erase whole rather than
//!    sector by sector (faster by the controller's typical times, and nothing
//!    outside the image is lost), so that they can also take fast
//!    programming.
//! 4. [`WritePlan::jobs`]: given what the survey learned of each sector
//!    (already holds the image? blank?) and the banks erased whole, which
//!    sectors to skip, erase and program, as runs of whole programming
//!    units; [`interleave_banks`] orders them for two banks that work at
//!    once.
//! 5. [`WritePlan::verify_ranges`]: what to read back when no CRC can check.

use std::collections::BTreeSet;
use std::time::Duration;

use super::super::image::Segment;
use crate::chip::MemRegion;
use crate::error::{Error, ErrorKind, Result};
use crate::flash::eeprom::EepromArea;
use crate::flash::{reserved, FlashLayout, ProgramAccess, Reserved, Sector};

/// Where each part of the image goes.
#[derive(Debug)]
pub struct Placement<'a> {
    pub flash: Vec<&'a Segment>,
    /// Segments in the data EEPROM (STM32L0/L1).
    pub eeprom: Vec<&'a Segment>,
    pub ram: Vec<&'a Segment>,
}

/// Check every segment before anything is touched: each must lie entirely
/// inside flash (and outside `reserved`), inside the part's data EEPROM
/// (`eeprom`, where the chip has one) or inside one RAM region.
pub fn place<'a>(
    layout: &FlashLayout,
    ram: &[MemRegion],
    reserved: &[Reserved],
    eeprom: Option<&EepromArea>,
    segments: &'a [Segment],
) -> Result<Placement<'a>> {
    let mut placement = Placement { flash: Vec::new(), eeprom: Vec::new(), ram: Vec::new() };
    let flash_span = layout.base() as u64..layout.banks.last().map_or(0, |b| b.end());
    for seg in segments {
        let (len, end) = (seg.data.len() as u64, seg.end());
        if flash_span.contains(&(seg.addr as u64)) {
            layout.check_range(seg.addr, len).map_err(|e| {
                Error::input(format!("image segment 0x{:08X}-0x{:08X} does not fit: {e}", seg.addr, end - 1))
            })?;
            let hits: Vec<&Reserved> = reserved.iter().filter(|r| r.overlaps(seg.addr, len)).collect();
            let what = format!("image segment 0x{:08X}-0x{:08X}", seg.addr, end - 1);
            if let Some(text) = reserved::refusal(&what, &hits) {
                return Err(Error::new(ErrorKind::Protected, text));
            }
            placement.flash.push(seg);
        } else if let Some(why) = eeprom.and_then(|e| e.refuse(seg.addr, len)) {
            return Err(Error::input(format!("image segment 0x{:08X}-0x{:08X}: {why}", seg.addr, end - 1)));
        } else if eeprom.is_some_and(|e| e.region.contains(seg.addr)) {
            placement.eeprom.push(seg);
        } else if ram.iter().any(|r| r.contains_range(seg.addr, len)) {
            placement.ram.push(seg);
        } else {
            let ram_text: Vec<String> = ram.iter().map(|r| format!("0x{:08X}-0x{:08X}", r.base, r.end() - 1)).collect();
            let eeprom_text = eeprom.map_or(String::new(), |e| {
                format!(", nor in the data EEPROM (0x{:08X}-0x{:08X})", e.region.base, e.region.end() - 1)
            });
            return Err(Error::input(format!(
                "image segment 0x{:08X}-0x{:08X} is neither in flash ({}) nor in RAM ({}){eeprom_text}; check the \
                 address",
                seg.addr,
                end - 1,
                layout.ranges_text(),
                ram_text.join(", ")
            )));
        }
    }
    Ok(placement)
}

/// Where a byte of a sector's new contents comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The image.
    Image,
    /// The chip: what the sector holds now is kept (read before the erase).
    Kept,
    /// Neither: the byte ends up erased (`--erase-rest`, st-flash's way).
    Erased,
}

/// What one sector the image touches must hold.
#[derive(Debug, Clone)]
pub struct SectorPlan {
    pub sector: Sector,
    /// The sector's new contents; `Kept` bytes hold the erased value until
    /// the survey fills them in.
    pub desired: Vec<u8>,
    pub source: Vec<Source>,
    /// The kept bytes in `desired` were read from the chip (by an earlier
    /// attempt of the same write, before it changed anything): they are
    /// known, and are never read again from a flash that attempt may have
    /// erased.
    pub kept_known: bool,
}

impl SectorPlan {
    fn new(sector: Sector, erased: u8, uncovered: Source) -> SectorPlan {
        let n = sector.size as usize;
        SectorPlan { sector, desired: vec![erased; n], source: vec![uncovered; n], kept_known: false }
    }

    /// Byte `i` is known without reading the chip.
    pub fn known(&self, i: usize) -> bool {
        self.kept_known || self.source[i] != Source::Kept
    }

    /// Every byte it will hold is known without the chip, or is a kept byte
    /// that reads as the erased value: an interruption after its erase loses
    /// nothing a rerun does not write again.
    pub fn determined_by_image(&self, erased: u8) -> bool {
        self.source.iter().zip(&self.desired).all(|(&s, &d)| s != Source::Kept || d == erased)
    }

    /// Ranges `(offset, len)` of bytes with source `which`.
    pub fn runs_of(&self, which: impl Fn(Source) -> bool) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        let n = self.source.len();
        while i < n {
            if !which(self.source[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < n && which(self.source[i]) {
                i += 1;
            }
            out.push((start, i - start));
        }
        out
    }

    /// Bytes kept from the chip that are not the erased value.
    pub fn kept_bytes(&self, erased: u8) -> u64 {
        self.source.iter().zip(&self.desired).filter(|&(&s, &d)| s == Source::Kept && d != erased).count() as u64
    }
}

/// How the write treats the flash around the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    /// Keep the bytes of touched sectors that the image does not cover
    /// (default); `false`: they end up erased.
    pub preserve: bool,
    /// The whole flash is mass-erased first: every sector is blank.
    pub mass_erase: bool,
}

/// The sectors a write touches and what each must hold.
#[derive(Debug, Clone)]
pub struct WritePlan {
    pub sectors: Vec<SectorPlan>,
    pub erased: u8,
    pub options: PlanOptions,
}

/// What the survey learned of one sector before anything changed. `None`:
/// not known (no CRC to tell), so the sector is erased and programmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SectorState {
    /// Already holds every known byte of its plan (kept bytes are the chip's anyway).
    pub unchanged: Option<bool>,
    /// Reads as the erased value everywhere.
    pub blank: Option<bool>,
}

/// A bank erase must save at least 1/MIN_SAVING of the time sector erases
/// take (see [`WritePlan::bank_erase_saves`]).
const MIN_SAVING: u32 = 5;

/// What to do to one sector.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    pub sector: Sector,
    pub erase: bool,
    /// The sector may be erased before its data is sent (at the end of the
    /// buffer before): an interruption then loses nothing that a rerun does
    /// not write again (its bytes come from the image, or the journal holds
    /// the kept ones).
    pub ahead: bool,
    /// Runs of whole programming units: (address, bytes).
    pub runs: Vec<(u32, &'a [u8])>,
    /// Programmed in the controller's fast mode, in rows (its bank was
    /// erased whole by this write); `runs` are whole rows.
    pub fast: bool,
}

/// How the sectors of a write are erased (see [`WritePlan::bank_erases`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Strategy {
    /// Banks this write erases whole before programming them.
    pub bank_erase: Vec<u8>,
    /// Banks blank when programming starts (erased whole by this write or by
    /// `--mass-erase`): every sector of them that is not to stay blank is
    /// programmed, none erased.
    pub erased: BTreeSet<u8>,
    /// The row of fast programming, used in those banks.
    pub fast: Option<u32>,
}

/// Whether one bank may be erased whole, and what that takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankErase {
    pub bank: u8,
    /// Typical time of erasing the bank whole; `None`: the controller cannot
    /// erase it alone.
    pub time: Option<Duration>,
    /// Every sector of the bank that the write does not touch reads blank
    /// and no reserved area lies in the bank: the erase loses nothing the
    /// user did not ask to change.
    pub nothing_else: bool,
}

/// The typical times the choice between sector and bank erases compares.
#[derive(Debug, Clone, Copy)]
pub struct Costs<'a> {
    /// Erase time of each sector of the plan.
    pub sector_erase: &'a [Duration],
    pub program: ProgramAccess,
    /// Fast programming, where the controller has it.
    pub fast: Option<ProgramAccess>,
}

impl<'a> Job<'a> {
    pub fn program_bytes(&self) -> u64 {
        self.runs.iter().map(|r| r.1.len() as u64).sum()
    }
}

impl WritePlan {
    /// Lay the flash segments onto the sectors they touch, in (bank, index) order.
    pub fn new(layout: &FlashLayout, segments: &[&Segment], options: PlanOptions) -> WritePlan {
        let erased = layout.erased;
        let uncovered = if options.preserve && !options.mass_erase { Source::Kept } else { Source::Erased };
        let mut touched: BTreeSet<(u8, u32)> = BTreeSet::new();
        let mut sectors: Vec<SectorPlan> = Vec::new();
        for seg in segments {
            for s in layout.sectors_in(seg.addr, seg.data.len() as u64) {
                if touched.insert((s.bank, s.index)) {
                    sectors.push(SectorPlan::new(s, erased, uncovered));
                }
            }
        }
        sectors.sort_by_key(|p| (p.sector.bank, p.sector.index));
        for plan in &mut sectors {
            let (s_start, s_end) = (plan.sector.addr as u64, plan.sector.end());
            for seg in segments {
                let (start, end) = (s_start.max(seg.addr as u64), s_end.min(seg.end()));
                if start >= end {
                    continue;
                }
                let dst = (start - s_start) as usize..(end - s_start) as usize;
                let src = (start - seg.addr as u64) as usize..(end - seg.addr as u64) as usize;
                plan.desired[dst.clone()].copy_from_slice(&seg.data[src]);
                plan.source[dst].fill(Source::Image);
            }
        }
        WritePlan { sectors, erased, options }
    }

    /// The banks the write unlocks: every bank for a mass erase, else those it touches.
    pub fn banks(&self, layout: &FlashLayout) -> BTreeSet<u8> {
        if self.options.mass_erase {
            (0..layout.banks.len() as u8).collect()
        } else {
            self.sectors.iter().map(|p| p.sector.bank).collect()
        }
    }

    /// Take the kept bytes an earlier attempt of this write read (`earlier`
    /// is that attempt's plan of the same image and layout).
    pub fn adopt_kept(&mut self, earlier: &WritePlan) {
        for (p, e) in self.sectors.iter_mut().zip(&earlier.sectors) {
            if p.sector == e.sector && e.kept_known {
                p.desired.copy_from_slice(&e.desired);
                p.kept_known = true;
            }
        }
    }

    /// Mark every sector's kept bytes as read (the survey read them).
    pub fn mark_kept_read(&mut self) {
        for p in &mut self.sectors {
            p.kept_known = true;
        }
    }

    /// Bytes kept from the chip (not the erased value), over every sector.
    pub fn kept_bytes(&self) -> u64 {
        self.sectors.iter().map(|p| p.kept_bytes(self.erased)).sum()
    }

    /// The work, given the survey's `states` (one per sector). A sector that
    /// already holds its plan is skipped; a blank one is programmed without
    /// an erase unless the flash has ECC (`ecc`: a blank unit may still have
    /// been programmed with the erased value and cannot be programmed again);
    /// after a mass erase nothing is erased. `journaled`: kept bytes are safe
    /// in the journal, so any sector may be erased ahead of its data.
    pub fn jobs(&self, states: &[SectorState], unit: u32, ecc: bool, journaled: bool) -> Vec<Job<'_>> {
        assert_eq!(states.len(), self.sectors.len(), "one state per sector");
        let mut jobs = Vec::new();
        for (plan, state) in self.sectors.iter().zip(states) {
            if state.unchanged == Some(true) {
                continue;
            }
            let erase = !self.options.mass_erase && (ecc || state.blank != Some(true));
            jobs.push(Job {
                sector: plan.sector,
                erase,
                ahead: journaled || plan.determined_by_image(self.erased),
                runs: program_runs(plan, unit, self.erased),
                fast: false,
            });
        }
        jobs
    }

    /// The jobs when the banks of `strategy` are erased whole: there every
    /// sector with something to hold is programmed (also those that held it
    /// already: the bank erase clears them), in rows of fast programming
    /// where the strategy has a row, and a sector to end blank that is not
    /// has a job without data; elsewhere as [`WritePlan::jobs`].
    pub fn jobs_with(
        &self,
        states: &[SectorState],
        unit: u32,
        ecc: bool,
        journaled: bool,
        strategy: &Strategy,
    ) -> Vec<Job<'_>> {
        let mut jobs = self.jobs(states, unit, ecc, journaled);
        jobs.retain(|j| !strategy.erased.contains(&j.sector.bank));
        for (plan, state) in self.sectors.iter().zip(states).filter(|(p, _)| strategy.erased.contains(&p.sector.bank)) {
            let unit = strategy.fast.unwrap_or(unit);
            let runs = program_runs(plan, unit, self.erased);
            // A sector to end blank that is not needs no programming, but is
            // the bank erase's work: a job, so that a host finishing for a
            // crashed routine erases it.
            if runs.is_empty() && (state.blank == Some(true) || self.options.mass_erase) {
                continue;
            }
            jobs.push(Job { sector: plan.sector, erase: false, ahead: true, runs, fast: strategy.fast.is_some() });
        }
        jobs.sort_by_key(|j| (j.sector.bank, j.sector.index));
        jobs
    }

    /// The banks to erase whole: those among `banks` that may be
    /// ([`BankErase`]), whose kept bytes are in the journal if any
    /// (`journaled`: they exist only on the host once the bank is erased),
    /// and where the bank erase plus programming every sector that holds
    /// something (in fast mode where there is one) takes a fifth less
    /// typical time than erasing and programming the sectors that change.
    /// An F103 whose 64 pages all change: 30 ms instead of 64 × 30 ms.
    pub fn bank_erases(
        &self,
        states: &[SectorState],
        ecc: bool,
        costs: &Costs,
        banks: &[BankErase],
        journaled: bool,
    ) -> Vec<u8> {
        banks
            .iter()
            .filter(|b| b.nothing_else)
            .filter(|b| self.bank_erase_saves(states, ecc, costs, b, journaled).is_some())
            .map(|b| b.bank)
            .collect()
    }

    /// How much typical time erasing `bank` whole saves (see
    /// [`WritePlan::bank_erases`]), ignoring whether anything outside the
    /// image would be lost; `None` when it saves nothing or may not be done.
    pub fn bank_erase_saves(
        &self,
        states: &[SectorState],
        ecc: bool,
        costs: &Costs,
        bank: &BankErase,
        journaled: bool,
    ) -> Option<Duration> {
        let program = |p: &SectorPlan, access: &ProgramAccess| {
            let units: u32 =
                program_runs(p, access.unit, self.erased).iter().map(|r| r.1.len() as u32 / access.unit).sum();
            access.typical * units
        };
        let fast = costs.fast.unwrap_or(costs.program);
        let in_bank = || self.sectors.iter().enumerate().filter(move |(_, p)| p.sector.bank == bank.bank);
        if !journaled && in_bank().any(|(_, p)| !p.determined_by_image(self.erased)) {
            return None;
        }
        let by_sector: Duration = in_bank()
            .filter(|(i, _)| states[*i].unchanged != Some(true))
            .map(|(i, p)| {
                let erase = if ecc || states[i].blank != Some(true) { costs.sector_erase[i] } else { Duration::ZERO };
                erase + program(p, &costs.program)
            })
            .sum();
        let whole: Duration = bank.time? + in_bank().map(|(_, p)| program(p, &fast)).sum::<Duration>();
        // At least a fifth less: a bank erase holds everything up at the
        // start, where sector erases overlap the transfer of the data (an
        // H7A3 bank: 0.5 s against 128 × 5 ms, 7 % less in all, is slower).
        by_sector.checked_sub(whole).filter(|&d| d >= by_sector / MIN_SAVING)
    }

    /// What to read back to verify `which` sectors: the image bytes and the
    /// kept bytes that are not blank (what was programmed), as few ranges as
    /// possible (adjacent sectors join, so small pages do not mean small reads).
    pub fn verify_ranges(&self, which: impl Fn(&SectorPlan) -> bool) -> Vec<(u32, Vec<u8>)> {
        let mut out: Vec<(u32, Vec<u8>)> = Vec::new();
        for p in self.sectors.iter().filter(|p| which(p)) {
            let wanted = |j: usize| match p.source[j] {
                Source::Image => true,
                Source::Kept => p.desired[j] != self.erased,
                Source::Erased => false,
            };
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
}

/// `runs` cut into runs of whole `unit`s that are not entirely `erased`
/// (fast-programming rows become the double words to program the normal way).
pub fn units_of<'a>(runs: &[(u32, &'a [u8])], unit: u32, erased: u8) -> Vec<(u32, &'a [u8])> {
    let mut out: Vec<(u32, &'a [u8])> = Vec::new();
    for &(addr, data) in runs {
        let mut start: Option<usize> = None;
        for (i, chunk) in data.chunks(unit as usize).enumerate() {
            let at = i * unit as usize;
            match (chunk.iter().all(|&b| b == erased), start) {
                (false, None) => start = Some(at),
                (true, Some(s)) => {
                    out.push((addr + s as u32, &data[s..at]));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            out.push((addr + s as u32, &data[s..]));
        }
    }
    out
}

/// Order jobs for two banks that erase and program at once: job i of bank 1,
/// job i of bank 2, and so on (each pair is worked on together); the bank
/// with more jobs finishes alone.
pub fn interleave_banks(jobs: Vec<Job<'_>>) -> Vec<Job<'_>> {
    let (first, second): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| j.sector.bank == 0);
    let mut out = Vec::with_capacity(first.len() + second.len());
    let (mut a, mut b) = (first.into_iter(), second.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

/// Runs of whole programming units of a sector that are not entirely the
/// erased value (a blank unit needs no programming after an erase).
pub fn program_runs(plan: &SectorPlan, unit: u32, erased: u8) -> Vec<(u32, &[u8])> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::Bank;

    const KIB: u32 = 1024;

    /// Two banks of four 1 KiB sectors with a gap between them, as an H7 of
    /// half its size would have.
    fn layout() -> FlashLayout {
        FlashLayout {
            banks: vec![
                Bank { base: 0x0800_0000, runs: vec![(4, KIB)] },
                Bank { base: 0x0801_0000, runs: vec![(4, KIB)] },
            ],
            write_unit: 16,
            erased: 0xFF,
        }
    }

    fn seg(addr: u32, data: Vec<u8>) -> Segment {
        Segment { addr, data }
    }

    const RAM: MemRegion = MemRegion::new(0x2000_0000, 8 * KIB);

    #[test]
    fn placement_checks_every_segment_before_anything_is_touched() {
        let l = layout();
        let segs = [seg(0x0800_0000, vec![1; 16]), seg(0x2000_0100, vec![2; 16])];
        let p = place(&l, &[RAM], &[], None, &segs).unwrap();
        assert_eq!((p.flash.len(), p.ram.len()), (1, 1));
        // In the gap between the banks.
        let e = place(&l, &[RAM], &[], None, &[seg(0x0800_1000, vec![0; 4])]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Input);
        assert!(e.message.contains("0x08001000-0x08001003"), "{}", e.message);
        // Running off the end of bank 1.
        let e = place(&l, &[RAM], &[], None, &[seg(0x0800_0F00, vec![0; 0x200])]).unwrap_err();
        assert!(e.message.contains("does not fit"), "{}", e.message);
        // Neither flash nor RAM.
        let e = place(&l, &[RAM], &[], None, &[seg(0x6000_0000, vec![0; 4])]).unwrap_err();
        assert!(e.message.contains("neither in flash") && e.message.contains("0x20000000-0x20001FFF"), "{}", e.message);
        // A reserved area is refused as protected, naming the reason; every
        // area in the way is named.
        let reserved = [
            Reserved::secure(0x0801_0400, 0x0801_0800, "the wireless stack"),
            Reserved::write_protected(0x0801_0800, 0x0801_0C00, "WRP", &crate::flash::Remedy::Other("no".into())),
        ];
        let e = place(&l, &[RAM], &reserved, None, &[seg(0x0801_0000, vec![0; 0x500])]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protected);
        assert!(e.message.contains("overlaps 0x08010400-0x080107FF, the wireless stack"), "{}", e.message);
        let e = place(&l, &[RAM], &reserved, None, &[seg(0x0801_0000, vec![0; 0x900])]).unwrap_err();
        assert!(e.message.contains("also overlaps 0x08010800-0x08010BFF, write-protected by WRP"), "{}", e.message);
        assert!(place(&l, &[RAM], &reserved, None, &[seg(0x0801_0000, vec![0; 0x400])]).is_ok(), "ends at the area");
    }

    #[test]
    fn segments_in_the_data_eeprom_go_there_and_past_its_end_are_refused() {
        let l = layout();
        let area = EepromArea {
            region: MemRegion::new(0x0808_0000, 2 * KIB),
            window: MemRegion::new(0x0808_0000, 6 * KIB),
            parts: "STM32L0x",
            smaller: None,
            erased: 0,
        };
        let segs = [seg(0x0800_0000, vec![1; 16]), seg(0x0808_0010, vec![2; 6]), seg(0x2000_0000, vec![3; 4])];
        let p = place(&l, &[RAM], &[], Some(&area), &segs).unwrap();
        assert_eq!((p.flash.len(), p.eeprom.len(), p.ram.len()), (1, 1, 1));
        assert_eq!(p.eeprom[0].addr, 0x0808_0010);
        let e = place(&l, &[RAM], &[], Some(&area), &[seg(0x0808_07FC, vec![0; 8])]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Input);
        assert!(e.message.contains("runs past the end of the data EEPROM") && e.message.contains("2 KiB"), "{e}");
        let e = place(&l, &[RAM], &[], Some(&area), &[seg(0x0808_1000, vec![0; 4])]).unwrap_err();
        assert!(e.message.contains("0x08081000 is not in the data EEPROM"), "{e}");
        // Without an EEPROM the address is nowhere.
        let e = place(&l, &[RAM], &[], None, &[seg(0x0808_0000, vec![0; 4])]).unwrap_err();
        assert!(e.message.contains("neither in flash"), "{e}");
        let e = place(&l, &[RAM], &[], Some(&area), &[seg(0x0900_0000, vec![0; 4])]).unwrap_err();
        assert!(e.message.contains("nor in the data EEPROM (0x08080000-0x080807FF)"), "{e}");
    }

    fn plan_of(segs: &[Segment], preserve: bool, mass_erase: bool) -> WritePlan {
        let refs: Vec<&Segment> = segs.iter().collect();
        WritePlan::new(&layout(), &refs, PlanOptions { preserve, mass_erase })
    }

    #[test]
    fn sectors_are_planned_in_bank_order_with_the_source_of_every_byte() {
        let segs = [seg(0x0801_0200, vec![7; 0x100]), seg(0x0800_0300, vec![5; 0x200])];
        let p = plan_of(&segs, true, false);
        let addrs: Vec<u32> = p.sectors.iter().map(|s| s.sector.addr).collect();
        assert_eq!(addrs, [0x0800_0000, 0x0800_0400, 0x0801_0000]);
        let s0 = &p.sectors[0];
        assert_eq!(s0.runs_of(|s| s == Source::Kept), [(0, 0x300)]);
        assert_eq!(s0.runs_of(|s| s == Source::Image), [(0x300, 0x100)]);
        assert_eq!(&s0.desired[0x300..0x400], &[5; 0x100]);
        assert_eq!(p.banks(&layout()).into_iter().collect::<Vec<_>>(), [0, 1]);
        // --erase-rest: the rest is erased, nothing is kept.
        let p = plan_of(&segs, false, false);
        assert!(p.sectors.iter().all(|s| s.runs_of(|x| x == Source::Kept).is_empty()));
        assert_eq!(p.sectors[0].runs_of(|s| s == Source::Erased), [(0, 0x300)]);
        // A mass erase unlocks every bank even for a bank-1 image.
        let p = plan_of(&[seg(0x0800_0000, vec![1; 4])], true, true);
        assert_eq!(p.banks(&layout()).len(), 2);
    }

    #[test]
    fn jobs_skip_unchanged_sectors_and_erase_only_what_needs_it() {
        let segs = [seg(0x0800_0000, vec![1; 4 * KIB as usize])];
        let p = plan_of(&segs, true, false);
        let states = [
            SectorState { unchanged: Some(true), blank: Some(false) },
            SectorState { unchanged: Some(false), blank: Some(true) },
            SectorState { unchanged: Some(false), blank: Some(false) },
            SectorState::default(),
        ];
        let jobs = p.jobs(&states, 16, false, false);
        let summary: Vec<(u32, bool)> = jobs.iter().map(|j| (j.sector.index, j.erase)).collect();
        assert_eq!(summary, [(1, false), (2, true), (3, true)], "blank flash without ECC takes data as it is");
        let jobs = p.jobs(&states, 16, true, false);
        assert!(jobs.iter().all(|j| j.erase), "ECC flash: a blank sector is erased anyway");
        let p = plan_of(&segs, true, true);
        assert!(p.jobs(&states, 16, true, false).iter().all(|j| !j.erase), "after a mass erase nothing is erased");
    }

    #[test]
    fn only_sectors_without_kept_bytes_are_erased_ahead_unless_journaled() {
        let segs = [seg(0x0800_0000, vec![1; 0x600])];
        let mut p = plan_of(&segs, true, false);
        // Sector 1 keeps 0x200 bytes; one of them is not blank.
        p.sectors[1].desired[0x300] = 0x42;
        let states = vec![SectorState::default(); 2];
        let ahead: Vec<bool> = p.jobs(&states, 16, true, false).iter().map(|j| j.ahead).collect();
        assert_eq!(ahead, [true, false]);
        assert!(p.jobs(&states, 16, true, true).iter().all(|j| j.ahead));
        assert_eq!(p.kept_bytes(), 1);
    }

    fn access(unit: u32, micros: u64) -> ProgramAccess {
        ProgramAccess {
            unit,
            width: crate::flash::Width::Word,
            typical: Duration::from_micros(micros),
            timeout: Duration::from_millis(50),
        }
    }

    #[test]
    fn a_bank_is_erased_whole_when_that_is_faster_and_loses_nothing() {
        // Bank 1 wholly rewritten (one sector already holds its bytes), bank 2
        // half.
        let segs = [seg(0x0800_0000, vec![1; 4 * KIB as usize]), seg(0x0801_0000, vec![2; 2 * KIB as usize])];
        let p = plan_of(&segs, true, false);
        let mut states = vec![SectorState { unchanged: Some(false), blank: Some(false) }; 6];
        states[2].unchanged = Some(true);
        let sector_erase = vec![Duration::from_millis(30); 6];
        let costs = Costs { sector_erase: &sector_erase, program: access(16, 50), fast: None };
        let bank = |bank, ms, nothing_else| BankErase { bank, time: Some(Duration::from_millis(ms)), nothing_else };
        // 3 × 30 ms of sector erases against 30 ms (plus reprogramming the
        // sector that held its bytes: 64 units × 50 µs).
        let chosen = p.bank_erases(&states, true, &costs, &[bank(0, 30, true), bank(1, 30, false)], true);
        assert_eq!(chosen, [0], "bank 2 keeps bytes the image does not cover");
        assert!(p.bank_erases(&states, true, &costs, &[bank(0, 200, true)], true).is_empty(), "slower");
        let none = BankErase { bank: 0, time: None, nothing_else: true };
        assert!(p.bank_erases(&states, true, &costs, &[none], true).is_empty(), "no bank erase");
        // It must save a fifth: 90 ms of erases and 9.6 ms of programming
        // against 70 ms and 12.8 ms (17 % less) is not enough; against 70 ms
        // and 1.3 ms in fast rows (28 % less) it is.
        let fast = Costs { fast: Some(access(64, 20)), ..costs };
        assert!(p.bank_erases(&states, true, &costs, &[bank(0, 70, true)], true).is_empty());
        assert_eq!(p.bank_erases(&states, true, &fast, &[bank(0, 70, true)], true), [0]);
        // Kept bytes that are not blank need the journal.
        let mut kept = plan_of(&[seg(0x0800_0000, vec![1; 0xF00])], true, false);
        kept.sectors[3].desired[0x380] = 0x42;
        let states = vec![SectorState { unchanged: Some(false), blank: Some(false) }; 4];
        let sector_erase = vec![Duration::from_millis(30); 4];
        let costs = Costs { sector_erase: &sector_erase, ..costs };
        assert!(kept.bank_erases(&states, true, &costs, &[bank(0, 30, true)], false).is_empty());
        assert_eq!(kept.bank_erases(&states, true, &costs, &[bank(0, 30, true)], true), [0]);
    }

    #[test]
    fn jobs_in_a_bank_erased_whole_program_every_sector_with_something_in_fast_rows() {
        let mut image = vec![1u8; 4 * KIB as usize];
        image[KIB as usize..2 * KIB as usize].fill(0xFF); // sector 1 stays blank
        let segs = [seg(0x0800_0000, image), seg(0x0801_0000, vec![3; 16])];
        let p = plan_of(&segs, true, false);
        let mut states = vec![SectorState { unchanged: Some(false), blank: Some(false) }; 5];
        states[2].unchanged = Some(true);
        states[1].blank = Some(true);
        let strategy = Strategy { bank_erase: vec![0], erased: [0].into(), fast: Some(256) };
        let jobs = p.jobs_with(&states, 16, true, false, &strategy);
        let summary: Vec<(u8, u32, bool, bool)> =
            jobs.iter().map(|j| (j.sector.bank, j.sector.index, j.erase, j.fast)).collect();
        assert_eq!(
            summary,
            [(0, 0, false, true), (0, 2, false, true), (0, 3, false, true), (1, 0, true, false)],
            "the unchanged sector 2 is written again; blank sector 1 is left alone"
        );
        assert!(jobs[0].runs.iter().all(|r| r.1.len() % 256 == 0), "whole rows");
        let order: Vec<(u8, u32)> = interleave_banks(jobs).iter().map(|j| (j.sector.bank, j.sector.index)).collect();
        assert_eq!(order, [(0, 0), (1, 0), (0, 2), (0, 3)]);
        // Old data where the image leaves the sector blank: a job without
        // data (the bank erase blanks it; a host finishing the write erases it).
        states[1].blank = Some(false);
        let jobs = p.jobs_with(&states, 16, true, false, &strategy);
        assert!(jobs.iter().any(|j| j.sector.index == 1 && j.runs.is_empty() && j.sector.bank == 0));
    }

    #[test]
    fn program_runs_are_whole_units_that_are_not_blank() {
        let mut p = plan_of(&[seg(0x0800_0000, vec![0xFF; 64])], true, false);
        let sp = &mut p.sectors[0];
        sp.desired[..16].fill(1);
        sp.desired[32..40].fill(2);
        let runs = program_runs(sp, 16, 0xFF);
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].0, runs[0].1.len()), (0x0800_0000, 16));
        // The second run is a whole unit, padded with the erased value.
        assert_eq!((runs[1].0, runs[1].1.len()), (0x0800_0020, 16));
        assert_eq!(&runs[1].1[8..], &[0xFF; 8]);
    }

    #[test]
    fn verify_ranges_cover_image_and_kept_bytes_and_join_sectors() {
        let segs = [seg(0x0800_0200, vec![3; 0x400])];
        let mut p = plan_of(&segs, true, false);
        p.sectors[0].desired[0x10] = 0x77; // a kept byte that is not blank
        let ranges = p.verify_ranges(|_| true);
        let spans: Vec<(u32, usize)> = ranges.iter().map(|(a, d)| (*a, d.len())).collect();
        assert_eq!(spans, [(0x0800_0010, 1), (0x0800_0200, 0x400)], "across the sector boundary as one range");
        assert!(p.verify_ranges(|s| s.sector.index == 1).iter().all(|(a, _)| *a >= 0x0800_0400));
    }
}
