//! `erase`: the whole flash, or whole sectors of a range.

use super::session::Session;
use crate::error::{Error, ErrorKind, Result};
use crate::flash::{engine, FlashError, Progress, Sector};

/// What an erase did.
#[derive(Debug, Clone, Default)]
pub struct EraseReport {
    pub sectors: Vec<Sector>,
    pub mass: bool,
}

/// Check that `[addr, addr+size)` is a whole number of sectors inside flash,
/// before anything is erased. The message proposes the nearest valid range.
pub fn sectors_for_range(session: &Session, addr: u32, size: u32) -> Result<Vec<Sector>> {
    let layout = &session.layout;
    if size == 0 {
        return Err(Error::input(
            "erase size 0 erases nothing; give a size, or run `erase` without arguments to erase the whole flash",
        ));
    }
    layout.check_range(addr, size as u64).map_err(|e| Error::input(format!("cannot erase: {e}")))?;
    let sectors = layout.sectors_in(addr, size as u64);
    let (first, last) = (sectors[0], sectors[sectors.len() - 1]);
    let end = addr as u64 + size as u64;
    if first.addr != addr || last.end() != end {
        return Err(Error::input(format!(
            "0x{addr:08X}+0x{size:X} does not start and end on sector boundaries ({first} … {last}); \
             to erase those sectors whole use: erase 0x{:08X} 0x{:X}",
            first.addr,
            last.end() - first.addr as u64
        )));
    }
    Ok(sectors)
}

/// Erase whole sectors of a range (again at a slower clock on link trouble).
pub fn erase_range(session: &mut Session, addr: u32, size: u32, progress: &mut dyn Progress) -> Result<EraseReport> {
    super::write::restore_journal(session, true, progress)?;
    super::link::retry_slower(session, "erasing", |s| erase_range_once(s, addr, size, progress))
}

fn erase_range_once(session: &mut Session, addr: u32, size: u32, progress: &mut dyn Progress) -> Result<EraseReport> {
    let sectors = sectors_for_range(session, addr, size)?;
    session.require_unprotected()?;
    session.controller()?;
    // Write-protected sectors and areas owned by someone else (the STM32WB
    // wireless stack) are refused here, before anything is erased: the
    // controller would erase the sectors before them and then stop.
    session.refuse_reserved(&format!("0x{addr:08X}+0x{size:X}"), addr, size as u64)?;
    let banks: std::collections::BTreeSet<u8> = sectors.iter().map(|s| s.bank).collect();
    let mut unlocked = session.unlock(&banks)?;
    let Session { target, flash, .. } = &mut *unlocked;
    let ctrl = flash.as_deref().expect("checked");
    engine::erase_sectors(target, ctrl, &sectors, progress).map_err(|e| interrupted(e, &sectors))?;
    unlocked.lock()?;
    Ok(EraseReport { sectors, mass: false })
}

/// Erase the whole flash (again at a slower clock on link trouble).
pub fn erase_all(session: &mut Session, progress: &mut dyn Progress) -> Result<EraseReport> {
    super::write::restore_journal(session, true, progress)?;
    super::link::retry_slower(session, "erasing", |s| erase_all_once(s, progress))
}

/// Erase the whole flash now, without first finishing an interrupted
/// write's journal (`recover`: what the journal would restore is about to be
/// erased anyway). Reserved areas are kept, as by [`erase_all`].
pub(crate) fn erase_all_once(session: &mut Session, progress: &mut dyn Progress) -> Result<EraseReport> {
    session.require_unprotected()?;
    session.controller()?;
    // No controller mass-erases while a sector is write-protected: refused
    // here, with what to do, instead of failing half-way or at the end.
    let reserved = session.refuse_mass_erase_if_protected()?;
    for r in &reserved {
        log::info!("mass erase keeps {}: {}", r.range_text(), r.reason);
    }
    let banks = (0..session.layout.banks.len() as u8).collect();
    let mut unlocked = session.unlock(&banks)?;
    let Session { target, flash, layout, .. } = &mut *unlocked;
    let ctrl = flash.as_deref().expect("checked");
    engine::mass_erase(target, ctrl, layout, progress).map_err(|e| interrupted(e, &layout.sectors()))?;
    unlocked.lock()?;
    // A mass erase leaves reserved areas (the STM32WB wireless stack) alone.
    let kept = |s: &Sector| reserved.iter().any(|r| r.overlaps(s.addr, s.size as u64));
    let sectors = session.layout.sectors().into_iter().filter(|s| !kept(s)).collect();
    Ok(EraseReport { sectors, mass: true })
}

/// An interruption of an erase of `sectors` (in erase order) as a message
/// that says what is erased and what is not.
fn interrupted(e: FlashError, sectors: &[Sector]) -> Error {
    let FlashError::Interrupted { at } = e else { return e.into() };
    let split = sectors.iter().position(|s| s.addr == at).unwrap_or(sectors.len());
    let (done, left) = sectors.split_at(split);
    // Contiguous runs of sectors, as address ranges.
    let range = |list: &[Sector]| {
        let mut runs: Vec<(u32, u64)> = Vec::new();
        for s in list {
            match runs.last_mut() {
                Some((_, end)) if *end == s.addr as u64 => *end = s.end(),
                _ => runs.push((s.addr, s.end())),
            }
        }
        runs.iter().map(|&(a, e)| format!("0x{a:08X}-0x{:08X}", e - 1)).collect::<Vec<_>>().join(", ")
    };
    if done.is_empty() {
        return Error::new(ErrorKind::Interrupted, "interrupted before anything was changed");
    }
    Error::new(
        ErrorKind::Interrupted,
        format!(
            "interrupted at 0x{at:08X}, flash locked; erased: {}; not erased: {}; run the same command again to complete the erase",
            range(done),
            range(left)
        ),
    )
}
