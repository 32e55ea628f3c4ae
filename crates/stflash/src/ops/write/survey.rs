//! What the chip holds now, in the sectors a write touches: learned by CRC
//! on the target where a unit can be trusted (the flash routine hashes
//! pieces of each sector; only kept bytes that are not blank are read over
//! SWD), else by reading the kept bytes back.

use log::{debug, info, warn};

use super::plan::{SectorState, Source, WritePlan};
use crate::error::{Error, ErrorKind, Result};
use crate::flash::crc::{CrcUnit, Run, Solution};
use crate::flash::routine::{RoutineError, Streamer, CODE};
use crate::flash::FlashController;
use crate::mcu::Target;

/// Read the kept bytes of every sector over SWD (no CRC unit): nothing is
/// known about the rest, so every sector is erased and programmed.
pub(super) fn by_reading(t: &mut Target, plan: &mut WritePlan) -> Result<Vec<SectorState>> {
    for sp in plan.sectors.iter_mut().filter(|sp| !sp.kept_known) {
        for (off, len) in sp.runs_of(|s| s == Source::Kept) {
            t.read_mem(sp.sector.addr + off as u32, &mut sp.desired[off..off + len])?;
        }
    }
    announce_kept(plan);
    Ok(vec![SectorState::default(); plan.sectors.len()])
}

fn announce_kept(plan: &WritePlan) {
    let kept = plan.kept_bytes();
    if kept > 0 {
        info!("keeping {kept} bytes of partly written sectors");
    }
}

/// One CRC-hashed run of a sector: `[start, end)`, wholly known or wholly kept.
struct Piece {
    sector: usize,
    start: u32,
    end: u32,
    known: bool,
}

/// Cut each sector into runs of CRC-aligned blocks whose bytes are all known
/// or all kept; blocks that mix both are returned apart (read over SWD).
fn pieces(plan: &WritePlan, align: u32) -> (Vec<Piece>, Vec<(usize, u32, u32)>) {
    let (mut out, mut mixed) = (Vec::new(), Vec::new());
    for (i, p) in plan.sectors.iter().enumerate() {
        let blocks = p.sector.size / align;
        let class = |b: u32| {
            let range = (b * align) as usize..((b + 1) * align) as usize;
            let known = range.clone().filter(|&j| p.known(j)).count();
            match known {
                0 => Some(false),
                k if k == range.len() => Some(true),
                _ => None,
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
                Some(known) => out.push(Piece { sector: i, start: lo, end: hi, known }),
                None => mixed.push((i, lo, hi)),
            }
        }
    }
    (out, mixed)
}

/// How a survey by CRC ended.
pub(super) enum ByCrc {
    /// One state per sector (the kept bytes that are not blank are read),
    /// and what the unit was found to compute.
    Done(Vec<SectorState>, Solution),
    /// No model explains what the unit computed on known bytes: it is not
    /// used for this write (the routine still runs).
    Untrusted,
    /// The routine crashed while hashing (it is stopped).
    Crashed,
}

/// (bank, start, end) of a range to hash.
pub(crate) type Range = (u8, u32, u32);

/// Bytes the host knows and their place for the unit: two runs of different
/// bytes and lengths (bank, start, end). The units that hash RAM take the
/// routine's own code (nothing read over SWD); the H7 unit, which hashes
/// flash only, three bursts at the start of bank 1, read over SWD in one
/// command (a vector table and the start of code on a chip with firmware).
fn calibration_runs(t: &mut Target, st: &Streamer, unit: &CrcUnit) -> Result<Vec<(Range, Vec<u8>)>> {
    if unit.hashes_ram() {
        let code = st.plan().code;
        let len = CODE.len() as u32 & !3;
        let split = (len / 3) & !3;
        return Ok(vec![
            ((0, code, code + split), CODE[..split as usize].to_vec()),
            ((0, code + split, code + len), CODE[split as usize..len as usize].to_vec()),
        ]);
    }
    let CrcUnit::H7 { bank_base, .. } = unit else { unreachable!("only the H7 unit hashes flash only") };
    let burst = unit.align();
    let mut bytes = vec![0u8; 3 * burst as usize];
    t.read_mem(bank_base[0], &mut bytes)?;
    let second = bytes.split_off(burst as usize);
    Ok(vec![
        ((0, bank_base[0], bank_base[0] + burst), bytes),
        ((0, bank_base[0] + burst, bank_base[0] + 3 * burst), second),
    ])
}

/// How hashing with a calibrated unit ended.
pub(crate) enum Hashed {
    /// The CRC of each range, in order, and what the unit was found to compute.
    Done(Vec<u32>, Solution),
    /// No model explains what the unit computed on known bytes: it is not
    /// to be used (the routine still runs).
    Untrusted,
    /// The routine crashed or timed out while hashing (it is stopped).
    Crashed,
}

/// Hash the calibration runs and `ranges` (aligned to the unit) in one
/// batch and solve what the unit computes. Unless [`Hashed::Done`] nothing
/// can be learnt from this unit: the caller tries the next or reads.
pub(crate) fn hash_calibrated(
    t: &mut Target,
    ctrl: &dyn FlashController,
    st: &mut Streamer,
    unit: &CrcUnit,
    chip_name: &str,
    ranges: &[Range],
) -> Result<Hashed> {
    let cal = calibration_runs(t, st, unit)?;
    let mut all: Vec<Range> = cal.iter().map(|(r, _)| *r).collect();
    all.extend_from_slice(ranges);
    let mut crcs = match super::stream::run_crcs(t, st, unit, &all) {
        Ok(crcs) => crcs,
        Err(e @ RoutineError::Crashed { .. }) => {
            warn!("{e}; not using the {}", unit.name());
            return Ok(Hashed::Crashed);
        }
        Err(RoutineError::Timeout { what, waited }) => {
            warn!("the {} took longer than {:.1} s while {what}; not using it", unit.name(), waited.as_secs_f64());
            return Ok(Hashed::Crashed);
        }
        Err(e) => return Err(Error::from(e.into_flash_error(t, ctrl))),
    };
    let results = crcs.split_off(cal.len());
    let solution =
        Solution::solve(Run { bytes: &cal[0].1, result: crcs[0] }, &[Run { bytes: &cal[1].1, result: crcs[1] }]);
    if !solution.trusted() {
        warn!(
            "the {} of this {chip_name} computes no CRC-32 (polynomial 0x04C11DB7) that explains its results on \
             known bytes (0x{:08X}, 0x{:08X}); not using it",
            unit.name(),
            crcs[0],
            crcs[1],
        );
        return Ok(Hashed::Untrusted);
    }
    match solution.resolved() {
        Some(m) => debug!(
            "the {} computes CRC-32 with initial value 0x{:08X}, {}{}",
            unit.name(),
            m.init,
            m.order.name(),
            if m.reflect_out { ", result reflected" } else { "" }
        ),
        None => debug!(
            "the {} has initial value 0x{:08X}; its input order is not known yet ({} candidates)",
            unit.name(),
            solution.models[0].init,
            solution.models.len()
        ),
    }
    Ok(Hashed::Done(results, solution))
}

/// Survey by CRC: hash the calibration runs and every piece in one batch,
/// solve what the unit computes, then classify each sector and read only
/// the kept bytes that are not blank. Unless [`ByCrc::Done`], nothing has
/// changed and the caller tries another unit or surveys by reading.
pub(super) fn by_crc(
    t: &mut Target,
    ctrl: &dyn FlashController,
    st: &mut Streamer,
    unit: &CrcUnit,
    chip_name: &str,
    plan: &mut WritePlan,
) -> Result<ByCrc> {
    let align = unit.align();
    if plan.sectors.iter().any(|p| p.sector.size % align != 0 || p.sector.addr % align != 0) {
        return Ok(ByCrc::Untrusted);
    }
    let (pieces, mixed) = pieces(plan, align);
    let ranges: Vec<Range> = pieces.iter().map(|p| (plan.sectors[p.sector].sector.bank, p.start, p.end)).collect();
    let (piece_crcs, mut solution) = match hash_calibrated(t, ctrl, st, unit, chip_name, &ranges)? {
        Hashed::Done(crcs, solution) => (crcs, solution),
        Hashed::Untrusted => return Ok(ByCrc::Untrusted),
        Hashed::Crashed => return Ok(ByCrc::Crashed),
    };
    let erased = plan.erased;
    let n = plan.sectors.len();
    let (mut unchanged, mut blank) = (vec![true; n], vec![true; n]);
    // The CRC of erased bytes, per length (pieces are mostly whole sectors).
    let mut blank_crcs: std::collections::HashMap<usize, Option<u32>> = Default::default();
    for (p, &got) in pieces.iter().zip(&piece_crcs) {
        let sp = &mut plan.sectors[p.sector];
        let (o, e) = ((p.start - sp.sector.addr) as usize, (p.end - sp.sector.addr) as usize);
        let blank_crc = *blank_crcs.entry(e - o).or_insert_with(|| solution.predict(&vec![erased; e - o]));
        let is_blank = Some(got) == blank_crc;
        blank[p.sector] &= is_blank;
        if p.known {
            // Unchanged only when the unit is understood for these bytes.
            unchanged[p.sector] &= Some(got) == solution.predict(&sp.desired[o..e]);
        } else if !is_blank {
            // Bytes to keep: read them (only these), and hold the read to the
            // CRC the target computed over the same bytes: a link that
            // corrupts reads is caught before anything is erased.
            // With the input order still open, these known bytes may settle it.
            t.read_mem(p.start, &mut sp.desired[o..e])?;
            let mut refined = solution.clone();
            refined.refine(Run { bytes: &sp.desired[o..e], result: got });
            if refined.trusted() {
                solution = refined;
            } else {
                return Err(Error::new(
                    ErrorKind::Verify,
                    format!(
                        "the bytes to keep at 0x{:08X}-0x{:08X} read over SWD differ from what the chip's {} \
                         computed over them: the link corrupts reads",
                        p.start,
                        p.end - 1,
                        unit.name()
                    ),
                ));
            }
        }
    }
    for &(i, lo, hi) in &mixed {
        let sp = &mut plan.sectors[i];
        let (o, e) = ((lo - sp.sector.addr) as usize, (hi - sp.sector.addr) as usize);
        let mut now = vec![0u8; e - o];
        t.read_mem(lo, &mut now)?;
        blank[i] &= now.iter().all(|&b| b == erased);
        for (k, b) in now.into_iter().enumerate() {
            if sp.known(o + k) {
                unchanged[i] &= sp.desired[o + k] == b;
            } else {
                sp.desired[o + k] = b;
            }
        }
    }
    announce_kept(plan);
    let states =
        unchanged.into_iter().zip(blank).map(|(u, b)| SectorState { unchanged: Some(u), blank: Some(b) }).collect();
    Ok(ByCrc::Done(states, solution))
}
