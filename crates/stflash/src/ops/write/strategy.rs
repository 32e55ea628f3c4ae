//! Which banks a write erases whole instead of sector by sector, and whether
//! it then programs them in the controller's fast mode.
//!
//! A bank is erased whole only when that loses nothing the user did not ask
//! to change (every sector of it the image does not touch reads blank, no
//! reserved area lies in it, kept bytes are in the journal) and when, by the
//! controller's typical times, the bank erase plus programming everything
//! the bank holds is faster than erasing and programming the sectors that
//! change ([`WritePlan::bank_erases`]): 64 pages of an F103 take 64 × 30 ms
//! one by one and 30 ms as one mass erase; the 128 sectors of an H7A3 bank
//! 0.64 s and 0.5 s; the sectors of an H743 bank 8 × 1 s either way (so
//! they stay sector erases, which overlap the link). A bank erased whole
//! takes fast programming where the controller has it.

use std::collections::BTreeSet;

use log::{debug, warn};

use super::plan::{BankErase, Costs, SectorState, Strategy, WritePlan};
use super::WriteOptions;
use crate::error::{Error, Result};
use crate::flash::crc::{CrcUnit, Solution};
use crate::flash::routine::{self, RoutineError, Streamer};
use crate::flash::{FlashController, FlashLayout, Reserved, Sector};
use crate::mcu::Target;

/// Choose the banks to erase whole (assuming the journal holds the kept
/// bytes; see [`without_kept`]). Sectors the image does not touch are
/// checked blank with the routine's CRC only for banks worth erasing; a
/// routine that crashes meanwhile is dropped (`routine` becomes `None`).
#[allow(clippy::too_many_arguments)]
pub(super) fn choose(
    t: &mut Target,
    ctrl: &dyn FlashController,
    layout: &FlashLayout,
    plan: &WritePlan,
    states: &[SectorState],
    routine: &mut Option<Streamer>,
    unit: Option<&(CrcUnit, Solution)>,
    reserved: &[Reserved],
    opts: &WriteOptions,
) -> Result<Strategy> {
    let fast = ctrl.fast_program();
    let row = fast.map(|f| f.access.unit);
    if opts.mass_erase {
        let erased = (0..layout.banks.len() as u8).collect();
        return Ok(Strategy { bank_erase: Vec::new(), erased, fast: row });
    }
    let ecc = t.chip.controller.has_ecc();
    let sector_erase: Vec<_> =
        plan.sectors.iter().map(|p| routine::regops_time(&ctrl.erase_sector_ops(&p.sector)).0).collect();
    let costs = Costs { sector_erase: &sector_erase, program: ctrl.program_access(), fast: fast.map(|f| f.access) };
    let banks: BTreeSet<u8> = plan.sectors.iter().map(|p| p.sector.bank).collect();
    let mut options: Vec<BankErase> = banks
        .iter()
        .map(|&b| {
            let bank = &layout.banks[b as usize];
            let free = !reserved.iter().any(|r| r.overlaps(bank.base, bank.size()));
            BankErase {
                bank: b,
                time: ctrl.bank_erase_ops(layout, &[b]).map(|ops| routine::regops_time(&ops).0),
                nothing_else: free,
            }
        })
        .collect();
    // Which banks would be worth it if what the image does not touch were
    // blank; for those, find out, when that costs less than it may save.
    for option in options.iter_mut().filter(|o| o.nothing_else) {
        let Some(saves) = plan.bank_erase_saves(states, ecc, &costs, option, true) else { continue };
        let rest = untouched(layout, plan, option.bank);
        if !rest.is_empty() {
            let bytes: u64 = rest.iter().map(|s| s.size as u64).sum();
            let check = unit.map_or(saves, |(u, _)| u.time(bytes.min(u32::MAX as u64) as u32).0);
            if check >= saves {
                option.nothing_else = false;
                continue;
            }
            option.nothing_else = rest_is_blank(t, ctrl, routine, unit, plan.erased, &rest)?;
            debug!(
                "bank {}: the {} sectors the image does not touch {} blank",
                option.bank + 1,
                rest.len(),
                if option.nothing_else { "are" } else { "are not all" }
            );
        }
    }
    let chosen = plan.bank_erases(states, ecc, &costs, &options, true);
    let erased = chosen.iter().copied().collect();
    let fast = row.filter(|_| !chosen.is_empty());
    Ok(Strategy { bank_erase: chosen, erased, fast })
}

/// The strategy without the banks that hold kept bytes (the journal could
/// not take them: they are never erased before their data is sent).
pub(super) fn without_kept(plan: &WritePlan, mut strategy: Strategy) -> Strategy {
    strategy
        .bank_erase
        .retain(|&b| plan.sectors.iter().filter(|p| p.sector.bank == b).all(|p| p.determined_by_image(plan.erased)));
    strategy.erased = strategy.bank_erase.iter().copied().collect();
    if strategy.bank_erase.is_empty() {
        strategy.fast = None;
    }
    strategy
}

/// The sectors of `bank` the plan does not touch.
fn untouched(layout: &FlashLayout, plan: &WritePlan, bank: u8) -> Vec<Sector> {
    layout.banks[bank as usize]
        .sectors(bank)
        .into_iter()
        .filter(|s| !plan.sectors.iter().any(|p| p.sector == *s))
        .collect()
}

/// Do `sectors` read blank? Hashed by the routine with the trusted unit, 64
/// KiB at most per range; without a unit (or a routine) nobody knows: no.
fn rest_is_blank(
    t: &mut Target,
    ctrl: &dyn FlashController,
    routine: &mut Option<Streamer>,
    unit: Option<&(CrcUnit, Solution)>,
    erased: u8,
    sectors: &[Sector],
) -> Result<bool> {
    let (Some(st), Some((unit, solution))) = (routine.as_mut(), unit) else { return Ok(false) };
    let mut ranges: Vec<(u8, u32, u32)> = Vec::new();
    for s in sectors {
        match ranges.last_mut() {
            Some(r) if r.0 == s.bank && r.2 == s.addr && s.end() - r.1 as u64 <= 64 * 1024 => r.2 = s.end() as u32,
            _ => ranges.push((s.bank, s.addr, s.end() as u32)),
        }
    }
    match super::stream::run_crcs(t, st, unit, &ranges) {
        Ok(crcs) => {
            let mut blank: std::collections::HashMap<u32, Option<u32>> = Default::default();
            Ok(ranges.iter().zip(crcs).all(|(&(_, start, end), got)| {
                let want = *blank
                    .entry(end - start)
                    .or_insert_with(|| solution.predict(&vec![erased; (end - start) as usize]));
                want == Some(got)
            }))
        }
        Err(e @ (RoutineError::Crashed { .. } | RoutineError::Timeout { .. })) => {
            warn!("{e}; finishing the write with host-driven programming");
            *routine = None;
            Ok(false)
        }
        Err(e) => Err(Error::from(e.into_flash_error(t, ctrl))),
    }
}
