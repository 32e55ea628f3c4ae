//! What the chip holds now, in the sectors a write touches: learned by CRC
//! on the target where a unit can be trusted (the flash routine hashes
//! pieces of each sector; only kept bytes that are not blank are read over
//! SWD), else by reading the kept bytes back.

use log::{info, warn};

use super::plan::{SectorState, Source, WritePlan};
use crate::error::{Error, ErrorKind, Result};
use crate::flash::crc::{self, CrcUnit};
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
    /// One state per sector; the kept bytes that are not blank are read.
    Done(Vec<SectorState>),
    /// The unit does not compute what the host computes: it is not used for
    /// this write (the routine still runs).
    Untrusted,
    /// The routine crashed while hashing (it is stopped).
    Crashed,
}

/// Survey by CRC: hash a calibration range and every piece in one batch,
/// then classify each sector and read only the kept bytes that are not
/// blank. Unless [`ByCrc::Done`], nothing has changed and the caller
/// surveys by reading.
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
    // Calibration: the unit against the host on known bytes, in the same
    // batch as the pieces. The peripheral hashes the routine's own code in
    // SRAM; the H7 unit hashes flash only, so one burst is read over SWD.
    let (cal_range, cal) = if unit.hashes_ram() {
        let len = CODE.len() & !3;
        let code = st.plan().code;
        ((0, code, code + len as u32), CODE[..len].to_vec())
    } else {
        let first = plan.sectors[0].sector;
        let mut cal = vec![0u8; align.min(first.size) as usize];
        t.read_mem(first.addr, &mut cal)?;
        ((first.bank, first.addr, first.addr + cal.len() as u32), cal)
    };
    let (pieces, mixed) = pieces(plan, align);
    let mut ranges = vec![cal_range];
    ranges.extend(pieces.iter().map(|p| (plan.sectors[p.sector].sector.bank, p.start, p.end)));
    let crcs = match super::stream::run_crcs(t, st, unit, &ranges) {
        Ok(crcs) => crcs,
        Err(e @ RoutineError::Crashed { .. }) => {
            warn!("{e}; writing without the {}", unit.name());
            return Ok(ByCrc::Crashed);
        }
        Err(e) => return Err(Error::from(e.into_flash_error(t, ctrl))),
    };
    if crcs[0] != crc::host_crc(&cal) {
        warn!(
            "the {} of this {chip_name} does not compute CRC-32/MPEG-2 as expected (0x{:08X}, host 0x{:08X}); \
             verifying by reading back",
            unit.name(),
            crcs[0],
            crc::host_crc(&cal)
        );
        return Ok(ByCrc::Untrusted);
    }
    let erased = plan.erased;
    let n = plan.sectors.len();
    let (mut unchanged, mut blank) = (vec![true; n], vec![true; n]);
    for (p, &got) in pieces.iter().zip(&crcs[1..]) {
        let sp = &mut plan.sectors[p.sector];
        let (o, e) = ((p.start - sp.sector.addr) as usize, (p.end - sp.sector.addr) as usize);
        let is_blank = got == crc::erased_crc(e - o, erased);
        blank[p.sector] &= is_blank;
        if p.known {
            unchanged[p.sector] &= got == crc::host_crc(&sp.desired[o..e]);
        } else if !is_blank {
            // Bytes to keep: read them (only these), and hold the read to the
            // CRC the target computed over the same bytes: a link that
            // corrupts reads is caught before anything is erased.
            t.read_mem(p.start, &mut sp.desired[o..e])?;
            if crc::host_crc(&sp.desired[o..e]) != got {
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
    Ok(ByCrc::Done(
        unchanged.into_iter().zip(blank).map(|(u, b)| SectorState { unchanged: Some(u), blank: Some(b) }).collect(),
    ))
}
