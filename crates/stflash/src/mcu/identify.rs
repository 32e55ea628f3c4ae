//! Chip identification: CPUID → core, DBGMCU_IDCODE → DEV_ID → chip table row,
//! flash-size register → flash size. DEV_ID is IDCODE bits 11:0 (the DBGMCU
//! chapter of each reference manual; OpenOCD src/flash/nor/stm32f1x.c:830-831).
//! The flash-size register addresses are in the chip table.
//!
//! OpenOCD lines are those of its master branch at abbbc2e05; stlink lines
//! those of stlink-org/stlink at 733893a unless tag v1.8.0 is named.

use log::debug;

use super::chips::{self, Core};
use super::cortex_m as cm;
use super::{Target, TargetError};
use crate::error::Error;
use crate::stlink::StlinkError;

/// DBGMCU_IDCODE addresses: OpenOCD src/flash/nor/stm32l4x.h:83-85 (0xE0042000,
/// 0x40015800, 0xE0044000) and src/flash/nor/stm32h7x.c:142 (0x5C001000); H5:
/// CMSIS (cmsis_device_h5 v1.3.0) stm32h563xx.h:2104 (`DBGMCU_BASE`). The
/// DBGMCU address of every part is also in stm32-data-generated
/// data/chips/*.json, generated from ST's data.
const DBGMCU_M3_M4_M7: u32 = 0xE004_2000;
const DBGMCU_M0: u32 = 0x4001_5800;
const DBGMCU_H7: u32 = 0x5C00_1000;
const DBGMCU_M33: u32 = 0xE004_4000;
const DBGMCU_H5: u32 = 0x4402_4000;
/// SW-DP IDCODE of H7 and H5 (stlink inc/stm32.h:25-45).
const DPIDR_H7_H5: u32 = 0x6BA0_2477;

/// Where to look for DBGMCU_IDCODE, most likely first. stlink's rule (stlink
/// src/stlink-lib/common.c:157-182: DPIDR 0x6BA02477 with a Cortex-M7 → H7,
/// M0/M0+ → 0x40015800, M33 → 0xE0044000, else 0xE0042000) decides the first
/// candidate, plus H5 for a Cortex-M33 with the H7/H5 DPIDR (assumed: inferred
/// from stlink's DPIDR table, not checked on an H5 board). That DPIDR is not
/// the H5's alone: the STM32WBA5 has it too (OpenOCD
/// tcl/target/stm32wba5x.cfg:30-33) with its DBGMCU at 0xE0044000, so the
/// order is only a guess. The others are tried when it reads an unknown
/// DEV_ID, as OpenOCD probes several addresses in turn
/// (src/flash/nor/stm32l4x.c:1903).
fn dbgmcu_candidates(core: Core, dpidr: u32) -> Vec<u32> {
    let first = match core {
        Core::M7 if dpidr == DPIDR_H7_H5 => DBGMCU_H7,
        Core::M0 | Core::M0Plus => DBGMCU_M0,
        Core::M33 if dpidr == DPIDR_H7_H5 => DBGMCU_H5,
        Core::M33 => DBGMCU_M33,
        _ => DBGMCU_M3_M4_M7,
    };
    let mut all = vec![first];
    for a in [DBGMCU_M3_M4_M7, DBGMCU_H7, DBGMCU_M33, DBGMCU_H5, DBGMCU_M0] {
        if !all.contains(&a) {
            all.push(a);
        }
    }
    all
}

/// The address identification reads DBGMCU_IDCODE at first for a part of
/// `chip`'s row: by its core, and for H7, H7R/S and H5 by their SW-DP (the register
/// facts of each row check it against CMSIS `DBGMCU_BASE`).
pub fn idcode_address(chip: &chips::Chip) -> u32 {
    use crate::family::Controller;
    let dpidr = if matches!(chip.controller, Controller::H7(_) | Controller::H5(_) | Controller::H7rs) {
        DPIDR_H7_H5
    } else {
        0
    };
    dbgmcu_candidates(chip.core, dpidr)[0]
}

/// CPUID read and decoded on the access port selected now: `Ok(Err(why))`
/// when what answers there is not a Cortex-M core (a bus fault, or a value
/// that is no CPUID); `Err` for anything else.
fn cpuid_here(t: &mut Target) -> Result<Result<(u32, Core), TargetError>, Error> {
    let cpuid = match t.read32(cm::CPUID) {
        Ok(cpuid) => cpuid,
        Err(e @ TargetError::Fault { .. }) => {
            return Ok(Err(TargetError::NoResponse(format!("CPUID read failed: {e}"))))
        }
        // WAIT is an answer: the target is there but busy (reported as such);
        // a USB failure is the probe's, not the target's.
        Err(e @ TargetError::Link(StlinkError::Status { status, .. })) if status.is_wait() => return Err(e.into()),
        Err(e @ TargetError::Link(StlinkError::Transport(_))) => return Err(e.into()),
        Err(e) => return Err(TargetError::NoResponse(format!("CPUID read failed: {e}")).into()),
    };
    let partno = ((cpuid >> 4) & 0xFFF) as u16;
    Ok(match Core::from_partno(partno) {
        Some(core) if cpuid >> 24 == 0x41 => Ok((cpuid, core)),
        _ => Err(TargetError::NotCortexM { cpuid }),
    })
}

/// Find the Cortex-M core: its CPUID on the access port selected now (AP 0
/// after entering SWD), else on AP 1, where STM32H5, WBA5 and H7R/S have it
/// while their AP0 reaches only the DBGMCU (`Chip::core_ap`). This runs
/// before the chip is known, as OpenOCD's and probe-rs's targets for these
/// parts and STM32CubeProgrammer ("Connection to AP 0 requested and failed,
/// Connection established with AP 1", stlink PR #1492) do. The port stays
/// selected for everything after. With firmware that cannot reach AP 1 the
/// DBGMCU, which AP0 reaches, names the chip, and the error says what
/// firmware is needed.
pub(super) fn find_core(t: &mut Target) -> Result<(), Error> {
    let why = match cpuid_here(t)? {
        Ok(found) => {
            found_core(t, found);
            return Ok(());
        }
        Err(why) => why,
    };
    if t.link().ap() != 0 {
        return Err(why.into());
    }
    if !t.link().version.has_multi_ap() {
        if let Some(chip) = chip_behind_dbgmcu(t)?.filter(|c| c.core_ap != 0) {
            // The faults on AP 0 were questions, not a failing link.
            t.take_link_trouble();
            return Err(Error::unsupported(format!(
                "the {} ({}, DEV_ID 0x{:03X}) has its Cortex-M core on access port {}, which probe firmware {} \
                 cannot reach (access ports other than 0 need ST-LINK/V2 firmware V2J28 or newer, or an \
                 STLINK-V3); update the probe's firmware with ST's STSW-LINK007 or STM32CubeProgrammer and retry",
                chip.name,
                chip.family,
                chip.dev_id,
                chip.core_ap,
                t.link().version
            )));
        }
        return Err(why.into());
    }
    let on_ap1 = match t.link_mut().select_ap(1) {
        Ok(()) => cpuid_here(t)?,
        // No AP 1 on this chip (the probe refuses to open it).
        Err(e) => Err(TargetError::Link(e)),
    };
    match on_ap1 {
        Ok(found) => {
            debug!("no Cortex-M core on access port 0 ({why}); found on access port 1");
            // The fault on AP 0 was a question, not a failing link.
            t.take_link_trouble();
            found_core(t, found);
            Ok(())
        }
        Err(e) => {
            debug!("no Cortex-M core on access port 1 either ({e})");
            let _ = t.link_mut().select_ap(0);
            Err(why.into())
        }
    }
}

fn found_core(t: &mut Target, (cpuid, core): (u32, Core)) {
    t.cpuid = cpuid;
    t.core = core;
    debug!("DPIDR 0x{:08X}, CPUID 0x{cpuid:08X} ({core}) on access port {}", t.dpidr, t.link().ap());
}

/// The chip whose DBGMCU_IDCODE answers at one of the candidate addresses
/// (any core), read on the access port selected now.
fn chip_behind_dbgmcu(t: &mut Target) -> Result<Option<&'static chips::Chip>, Error> {
    for addr in dbgmcu_candidates(Core::M33, t.dpidr) {
        match t.read32(addr) {
            Ok(idcode) => {
                if let Some(chip) = chips::find((idcode & 0xFFF) as u16) {
                    debug!("DBGMCU_IDCODE 0x{idcode:08X} at 0x{addr:08X} on access port 0: {}", chip.name);
                    return Ok(Some(chip));
                }
            }
            Err(TargetError::Fault { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// Fill in the identity of `t` (chip, core, flash size).
pub(super) fn identify(t: &mut Target, flash_override: Option<u32>) -> Result<(), Error> {
    find_core(t)?;
    let core = t.core;
    let mut first_seen = None;
    for addr in dbgmcu_candidates(core, t.dpidr) {
        // A candidate address with no DBGMCU behind it may fault on the bus;
        // anything else (the probe or USB failing) is the error to report.
        let idcode = match t.read32(addr) {
            Ok(idcode) => idcode,
            Err(TargetError::Fault { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let dev_id = (idcode & 0xFFF) as u16;
        if dev_id == 0 {
            continue;
        }
        first_seen.get_or_insert(idcode);
        if let Some(chip) = chips::identify(dev_id, core) {
            debug!("DBGMCU_IDCODE 0x{idcode:08X} at 0x{addr:08X}: {}", chip.name);
            if chip.core_ap != t.link().ap() {
                debug!(
                    "the chip table has the core of the {} on access port {}, found on access port {}",
                    chip.name,
                    chip.core_ap,
                    t.link().ap()
                );
            }
            t.chip = chip;
            t.idcode = (idcode & !0xFFF) | chip.dev_id as u32;
            return read_flash_size(t, flash_override);
        }
    }
    let idcode = first_seen.unwrap_or(0);
    Err(TargetError::UnknownChip { dev_id: (idcode & 0xFFF) as u16, idcode }.into())
}

/// The flash-size register is a half-word; read the aligned word around it, as
/// stlink does (v1.8.0 src/stlink-lib/common.c:259-265).
fn read_flash_size(t: &mut Target, flash_override: Option<u32>) -> Result<(), Error> {
    let reg = t.chip.flash_size_reg;
    let word = match t.read32(reg & !3) {
        Ok(word) => word,
        // Read-protected or not mapped on this part: the size is unknown.
        Err(TargetError::Fault { .. }) => 0xFFFF_FFFF,
        Err(e) => return Err(e.into()),
    };
    let raw = if reg & 2 != 0 { (word >> 16) as u16 } else { word as u16 };
    let kib = t.chip.flash_size_quirk.decode(raw).unwrap_or_else(|| {
        debug!("flash size register reads 0x{raw:04X}; assuming the maximum");
        t.chip.max_flash_kib
    });
    t.flash_size_detected = kib * 1024;
    t.flash_size = flash_override.unwrap_or(kib * 1024);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbgmcu_address_follows_core_and_dpidr() {
        assert_eq!(dbgmcu_candidates(Core::M7, DPIDR_H7_H5)[0], DBGMCU_H7);
        assert_eq!(dbgmcu_candidates(Core::M7, 0x5BA0_2477)[0], DBGMCU_M3_M4_M7, "F7");
        assert_eq!(dbgmcu_candidates(Core::M33, DPIDR_H7_H5)[0], DBGMCU_H5);
        assert_eq!(dbgmcu_candidates(Core::M33, 0x0BE0_2477)[0], DBGMCU_M33, "L5/U5");
        assert_eq!(dbgmcu_candidates(Core::M0Plus, 0x0BC1_1477)[0], DBGMCU_M0);
        assert_eq!(dbgmcu_candidates(Core::M3, 0x1BA0_1477).len(), 5);
    }
}
