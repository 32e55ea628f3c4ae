//! STM32L0/L1 data EEPROM (RM0377/RM0367/RM0376 and RM0038, "Flash program
//! memory and data EEPROM" chapter).
//!
//! At 0x08080000 on every part (CMSIS `DATA_EEPROM_BASE`, `FLASH_EEPROM_BASE`
//! = FLASH_BASE + 0x80000), erased to 0x00. Only PELOCK guards it: the two
//! PEKEYR keys open PECR and the EEPROM; PRGLOCK and OPTLOCK stay set (HAL
//! `HAL_FLASHEx_DATAEEPROM_Unlock`, stm32l0xx_hal_flash_ex.c). A byte,
//! half-word or word store programs it; the memory interface erases the
//! addressed cells first when needed ("The memory interface automatically
//! executes an erase operation when necessary (if all bits are currently set
//! to 0, there is no need to delete the old content before writing).
//! Similarly, if the data to write is at 0, only the erase operation is
//! executed", RM0377 "Write to data EEPROM"), one t_prog per step; PECR.FIX
//! (L0) / FTDW (L1) would force the erase every time, and stflash leaves it
//! clear. stflash stores whole words only: ST's L1 HAL never stores a 0x00
//! byte or half-word on cat.1 parts (STM32L100/151/152 without suffix;
//! stm32l1xx_hal_flash_ex.c, "Possible only on Cat1 devices"), and a word
//! store avoids that question on every part.
//!
//! The size depends on the part, not only on the DEV_ID (a value-line
//! STM32L010 or L100 has less than its siblings), and no register tells it.
//! stflash picks the row of the die's table (`chips.rs`) by the flash size
//! the chip reports; where a value-line part with the same DEV_ID and flash
//! size has a smaller EEPROM, stflash cannot tell them apart: it uses the
//! larger size and warns when a write goes past the smaller one.

use std::time::Duration;

use super::driver::{LpController, PECR_PELOCK, PEKEY1, PEKEY2};
use crate::chip::MemRegion;
use crate::flash::eeprom::{DataEeprom, EepromArea};
use crate::flash::{unlock_with_keys, FlashController, FlashError, RegOp};
use crate::mcu::Target;

const PECR: u32 = 0x04;
const PEKEYR: u32 = 0x0C;

/// Where the EEPROM starts on every part but the 64 KiB L0 cat.5 ones.
pub const EEPROM_BASE: u32 = 0x0808_0000;

/// One t_prog: 3.2 ms, the figure the flash driver assumes for a word
/// (driver.rs; datasheet figure not checked); a store takes one (program an
/// erased word, or only erase when the new value is 0) or two (erase, then
/// program).
const T_PROG: Duration = Duration::from_micros(3200);
/// CMSIS-pack EEPROM algorithms allow 500 ms per call (as for the flash).
const STORE_TIMEOUT: Duration = Duration::from_millis(500);

/// The data EEPROM of the parts of one die that have a given flash size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EepromPart {
    /// Flash sizes (KiB, as the flash-size register reads) of these parts.
    pub flash_kib: &'static [u32],
    pub region: MemRegion,
    /// The parts, for messages.
    pub parts: &'static str,
    /// A part with the same DEV_ID and flash size and a smaller EEPROM
    /// (from `region.base`): its size and name.
    pub smaller: Option<(u32, &'static str)>,
}

/// The row for a part whose flash is `flash_kib`: the one listing that size;
/// else the largest row below it; else the first (a `--flash` override does
/// not change this: the size the chip reports is used).
pub fn part_for(table: &'static [EepromPart], flash_kib: u32) -> Option<&'static EepromPart> {
    table.iter().find(|p| p.flash_kib.contains(&flash_kib)).or_else(|| {
        table
            .iter()
            .filter(|p| p.flash_kib.iter().any(|&k| k <= flash_kib))
            .max_by_key(|p| p.flash_kib.iter().copied().max())
            .or(table.first())
    })
}

/// Every address a part of the die may have EEPROM at.
fn window(table: &[EepromPart]) -> MemRegion {
    let end = table.iter().map(|p| p.region.end()).max().unwrap_or(EEPROM_BASE as u64);
    let start = table.iter().map(|p| p.region.base).min().unwrap_or(EEPROM_BASE).min(EEPROM_BASE);
    MemRegion::new(start, (end - start as u64) as u32)
}

impl DataEeprom for LpController {
    fn area(&self, flash_kib: u32) -> EepromArea {
        let table = self.variant().eeprom;
        let part = part_for(table, flash_kib).expect("every L0/L1 die has an EEPROM table");
        EepromArea {
            region: part.region,
            window: window(table),
            parts: part.parts,
            smaller: part.smaller,
            erased: 0x00,
        }
    }

    /// PELOCK only (keys only while it is set: a second sequence would lock
    /// PECR until reset), then PECR cleared: no FIX/FTDW, no program-memory
    /// mode (the locks are not cleared by a write).
    fn unlock_eeprom(&mut self, t: &mut Target) -> Result<(), FlashError> {
        let pecr = self.base() + PECR;
        unlock_with_keys(
            t,
            "FLASH_PECR and the data EEPROM (PELOCK)",
            pecr,
            PECR_PELOCK,
            self.base() + PEKEYR,
            [PEKEY1, PEKEY2],
        )?;
        t.write32(pecr, 0)?;
        Ok(())
    }

    /// Setting PELOCK relocks everything (the flash driver's lock).
    fn lock_eeprom(&mut self, t: &mut Target) -> Result<(), FlashError> {
        self.lock(t, 0)
    }

    fn store_word_ops(&self, addr: u32, old: u32, new: u32) -> Vec<RegOp> {
        let steps = ((old != 0) as u32 + (new != 0) as u32).max(1);
        vec![
            RegOp::Write { addr, value: new },
            RegOp::WaitIdle { bank: 0, typical: T_PROG * steps, timeout: STORE_TIMEOUT },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;

    fn driver(dev_id: u16) -> LpController {
        LpController::new(chips::find(dev_id).unwrap()).unwrap()
    }

    #[test]
    fn the_part_is_chosen_by_its_flash_size() {
        let cat3 = driver(0x417);
        let a = cat3.area(64);
        assert_eq!(a.region, MemRegion::new(0x0808_0000, 2048));
        assert_eq!(a.smaller, Some((256, "STM32L010x8")));
        assert_eq!(a.window, MemRegion::new(0x0808_0000, 2048));
        assert_eq!(cat3.area(32).smaller, None, "no 32 KiB L010 on this die");
        // L0 cat.5: the 64 KiB parts have bank 2 only.
        let cat5 = driver(0x447);
        assert_eq!(cat5.area(64).region, MemRegion::new(0x0808_0C00, 3 * 1024));
        assert_eq!(cat5.area(192).region, MemRegion::new(0x0808_0000, 6 * 1024));
        assert_eq!(cat5.area(64).window, MemRegion::new(0x0808_0000, 6 * 1024));
        // L1 cat.4: 256 KiB (xC-A) 8 KiB, 384 KiB (xD) 12 KiB.
        let cat4 = driver(0x436);
        assert_eq!(cat4.area(256).region.size, 8 * 1024);
        assert_eq!(cat4.area(384).region.size, 12 * 1024);
        assert_eq!(driver(0x437).area(512).region.size, 16 * 1024);
        // A size no row lists: the largest row below it, else the first.
        assert_eq!(cat4.area(512).region.size, 12 * 1024);
        assert_eq!(cat4.area(8).region.size, 8 * 1024);
    }

    #[test]
    fn every_die_has_a_table_inside_the_cmsis_range() {
        for c in chips::all().filter(|c| matches!(c.controller, chips::Controller::L0L1(_))) {
            let d = LpController::new(c).unwrap();
            let table = d.variant().eeprom;
            assert!(!table.is_empty(), "{}", c.name);
            for p in table {
                assert!(p.region.base >= EEPROM_BASE && p.region.end() <= 0x0808_4000, "{}", c.name);
                assert!(p.region.size % 4 == 0 && p.flash_kib.iter().all(|&k| k <= c.max_flash_kib), "{}", c.name);
                assert!(!matches!(p.smaller, Some((size, _)) if size >= p.region.size), "{}", c.name);
            }
        }
    }

    #[test]
    fn refusals_name_the_part_and_its_range() {
        let a = driver(0x417).area(64);
        assert_eq!(a.refuse(0x0808_0000, 2048), None);
        assert_eq!(a.refuse(0x0800_0000, 16), None, "not near the EEPROM");
        let e = a.refuse(0x0808_07F0, 32).unwrap();
        assert!(e.contains("runs past the end") && e.contains("2 KiB at 0x08080000-0x080807FF"), "{e}");
        let cat5 = driver(0x447).area(64);
        let e = cat5.refuse(0x0808_0000, 4).unwrap();
        assert!(e.contains("0x08080000 is not in the data EEPROM") && e.contains("0x08080C00-0x080817FF"), "{e}");
    }

    #[test]
    fn a_store_waits_one_t_prog_per_step() {
        let d = driver(0x417);
        let wait = |old, new| match d.store_word_ops(0x0808_0010, old, new)[1] {
            RegOp::WaitIdle { typical, .. } => typical,
            _ => unreachable!(),
        };
        assert_eq!(d.store_word_ops(0x0808_0010, 0, 5)[0], RegOp::Write { addr: 0x0808_0010, value: 5 });
        assert_eq!(wait(0, 5), T_PROG);
        assert_eq!(wait(3, 0), T_PROG, "only the erase");
        assert_eq!(wait(3, 5), 2 * T_PROG);
    }
}
