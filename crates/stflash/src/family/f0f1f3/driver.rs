//! STM32F0, F1, F3 page-type flash controller (
//! RM0008 §3 / PM0075, RM0091 §3, RM0316 §4, RM0364 §3).
//!
//! Pages are erased one at a time through FLASH_AR; data is programmed one
//! half-word per operation. F1 XL-density parts drive bank 2 through a second
//! register set at +0x40 (KEYR2, SR2, CR2, AR2), unlocked and polled on its own.

use std::time::Duration;

use log::debug;

use crate::chip::{Chip, Controller};
use crate::facts::Facts;
use crate::flash::options::factory::Factory;
use crate::flash::{
    unlock_with_keys, ErrorFlag, FlashController, FlashError, FlashLayout, ProgramAccess, RdpLevel, RegOp, Reserved,
    Sector, StatusReg, Width, KEY1, KEY2,
};
use crate::mcu::Target;

/// Register block (CMSIS `FLASH_R_BASE`; offsets and bits below are those
/// of `FLASH_TypeDef` and `FLASH_SR_*`/`FLASH_CR_*`: `register_facts`).
const BASE: u32 = 0x4002_2000;
/// Offset of the bank-2 register set on F1 XL-density (PM0068;
/// stm32f103xg.h `FLASH_TypeDef.KEYR2` at 0x44).
const BANK2_OFFSET: u32 = 0x40;
const KEYR: u32 = 0x04;
const SR: u32 = 0x0C;
const CR: u32 = 0x10;
const AR: u32 = 0x14;
/// Option byte register, bank 1 only (RM0008 §3.4.6 / RM0091 §3.5.7).
const OBR: u32 = BASE + 0x1C;
/// Write protection register: the WRP option bytes in force, the word after
/// OBR (CMSIS stm32f103xb.h:334 `FLASH_TypeDef.WRPR`; the F0/F3 headers
/// the same), one register for both banks of XL parts.
const WRPR: u32 = BASE + 0x20;

// FLASH_SR (RM0091 §3.5.4).
const SR_BSY: u32 = 1 << 0;
const SR_PGERR: u32 = 1 << 2;
const SR_WRPRTERR: u32 = 1 << 4;
const SR_EOP: u32 = 1 << 5;

// FLASH_CR (RM0091 §3.5.5).
const CR_PG: u32 = 1 << 0;
const CR_PER: u32 = 1 << 1;
const CR_MER: u32 = 1 << 2;
const CR_STRT: u32 = 1 << 6;
const CR_LOCK: u32 = 1 << 7;

/// RCC_CR: HSION bit 0, HSIRDY bit 1, at 0x40021000 on F0, F1 and F3
/// (RM0008 §7.3.1, RM0091 §6.4.1, RM0316 §9.4.1). Program and erase need the
/// HSI running (RM0091 §3.2.2, RM0364 §3.2.2; PM0042 p.9, §4.3).
const RCC_CR: u32 = 0x4002_1000;
const RCC_HSION: u32 = 1 << 0;
const RCC_HSIRDY: u32 = 1 << 1;
/// HSI start-up is a few microseconds (datasheets: t_su(HSI) ≤ 4 µs,
/// recalled, not checked).
const HSI_TIMEOUT: Duration = Duration::from_millis(10);

// Timing (recalled from the datasheets' flash memory characteristics, e.g.
// DS5319, not checked). Timeouts are at least ten times the datasheet
// maximum (40 ms erase, 70 µs half-word, also recalled)
// and no shorter than OpenOCD's (100 ms erase, 10 ms write:
// src/flash/nor/stm32f1x.c:95-98).
const PAGE_ERASE: Duration = Duration::from_millis(30);
const PAGE_ERASE_TIMEOUT: Duration = Duration::from_millis(500);
const MASS_ERASE: Duration = Duration::from_millis(30);
const MASS_ERASE_TIMEOUT: Duration = Duration::from_millis(500);
const HALF_WORD: Duration = Duration::from_nanos(52_500);
const HALF_WORD_TIMEOUT: Duration = Duration::from_millis(10);

const ERRORS: &[ErrorFlag] = &[
    ErrorFlag {
        mask: SR_PGERR,
        name: "PGERR",
        meaning: "the half-word was not erased before programming, or the chip is read-protected",
    },
    ErrorFlag { mask: SR_WRPRTERR, name: "WRPRTERR", meaning: "the page is write-protected by the option bytes" },
];

/// How FLASH_OBR encodes the read protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RdpBits {
    /// F1: RDPRT is bit 1 alone; no level 2 (RM0008 §3.4.6; §2.1).
    F1,
    /// F0/F3: RDPRT is bits 2:1, 00 = level 0, 01 = level 1, 11 = level 2
    /// (RM0091 §3.5.7, RM0364 §3.5.7).
    F0F3,
}

/// The series of an F0/F1/F3 die: where their option bytes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// RM0091, RM0360.
    F0,
    /// RM0008, RM0041.
    F1,
    /// RM0316, RM0313, RM0364, RM0365, RM0366.
    F3,
}

/// What differs between the F0/F1/F3 dies, as data (the chip rows point here).
#[derive(Debug, PartialEq, Eq)]
pub struct Variant {
    pub series: Series,
    /// F04x, F09x: nBOOT0 and BOOT_SEL in the user option byte.
    pub boot_sel: bool,
    /// The option bytes as shipped (for `recover`).
    pub factory: &'static Factory,
}

/// The F0/F1/F3 driver.
pub struct FpController {
    chip: &'static Chip,
    variant: &'static Variant,
    rdp_bits: RdpBits,
    /// RCC_CR as found, when this driver had to switch the HSI on.
    hsi_restore: Option<u32>,
}

impl FpController {
    /// `None` when `chip` is not an F0/F1/F3 row.
    pub fn new(chip: &'static Chip) -> Option<FpController> {
        let Controller::F0F1F3(variant) = chip.controller else { return None };
        // F1 (RM0008/RM0041) has the one-bit RDPRT in OBR.
        let rdp_bits = if variant.series == Series::F1 { RdpBits::F1 } else { RdpBits::F0F3 };
        Some(FpController { chip, variant, rdp_bits, hsi_restore: None })
    }

    pub fn chip(&self) -> &'static Chip {
        self.chip
    }

    pub fn variant(&self) -> &'static Variant {
        self.variant
    }

    /// Address of a register of `bank`'s register set.
    fn reg(bank: u8, offset: u32) -> u32 {
        BASE + bank as u32 * BANK2_OFFSET + offset
    }

    /// Switch the HSI on if the application switched it off; the flash
    /// interface cannot program or erase without it.
    fn ensure_hsi(&mut self, t: &mut Target) -> Result<(), FlashError> {
        let rcc = t.read32(RCC_CR)?;
        if rcc & RCC_HSIRDY != 0 {
            return Ok(());
        }
        debug!("HSI is off (RCC_CR 0x{rcc:08X}); switching it on for flash programming");
        t.write32(RCC_CR, rcc | RCC_HSION)?;
        self.hsi_restore.get_or_insert(rcc);
        let start = t.elapsed();
        while t.read32(RCC_CR)? & RCC_HSIRDY == 0 {
            if t.elapsed() - start > HSI_TIMEOUT {
                return Err(FlashError::Timeout {
                    op: "starting the HSI oscillator the flash interface needs".to_string(),
                    waited: t.elapsed() - start,
                });
            }
            t.sleep(Duration::from_micros(10));
        }
        Ok(())
    }

    /// Leave the HSI as the application had it.
    fn restore_hsi(&mut self, t: &mut Target) -> Result<(), FlashError> {
        if let Some(rcc) = self.hsi_restore.take() {
            let now = t.read32(RCC_CR)?;
            t.write32(RCC_CR, (now & !RCC_HSION) | (rcc & RCC_HSION))?;
        }
        Ok(())
    }

    /// Start an operation with `bits` in CR, wait for it, and leave CR and the
    /// EOP flag clear (RM0091 §3.2.2 erase sequences).
    fn run_erase(bank: u8, setup: &[RegOp], bits: u32, typical: Duration, timeout: Duration) -> Vec<RegOp> {
        let cr = Self::reg(bank, CR);
        let mut ops = vec![RegOp::Write { addr: cr, value: bits }];
        ops.extend_from_slice(setup);
        ops.extend([
            RegOp::Write { addr: cr, value: bits | CR_STRT },
            RegOp::WaitIdle { bank, typical, timeout },
            RegOp::Write { addr: cr, value: 0 },
            RegOp::Write { addr: Self::reg(bank, SR), value: SR_EOP },
        ]);
        ops
    }
}

impl FlashController for FpController {
    fn name(&self) -> &'static str {
        "STM32F0/F1/F3"
    }

    fn layout(&mut self, t: &mut Target) -> Result<FlashLayout, FlashError> {
        // Only F1 XL-density has a dual-bank geometry: two register sets, always.
        Ok(match self.chip.flash.dual {
            Some(_) => FlashLayout::dual(&self.chip.flash, t.flash_size),
            None => FlashLayout::single(&self.chip.flash, t.flash_size),
        })
    }

    fn status(&self, bank: u8) -> StatusReg {
        // EOP is cleared once at the end of each sequence rather than after every
        // half-word, which would cost a USB round trip per half-word.
        StatusReg { addr: Self::reg(bank, SR), busy: SR_BSY, errors: SR_PGERR | SR_WRPRTERR, clear_reg: None, eop: 0 }
    }

    fn error_flags(&self) -> &'static [ErrorFlag] {
        ERRORS
    }

    fn unlock(&mut self, t: &mut Target, bank: u8) -> Result<(), FlashError> {
        self.ensure_hsi(t)?;
        let what = format!("flash bank {} (FLASH_CR{})", bank + 1, if bank == 0 { "" } else { "2" });
        unlock_with_keys(t, &what, Self::reg(bank, CR), CR_LOCK, Self::reg(bank, KEYR), [KEY1, KEY2])
    }

    fn lock(&mut self, t: &mut Target, bank: u8) -> Result<(), FlashError> {
        // One write clears PG/PER/MER/STRT and sets LOCK.
        t.write32(Self::reg(bank, CR), CR_LOCK)?;
        self.restore_hsi(t)
    }

    fn erase_sector_ops(&self, sector: &Sector) -> Vec<RegOp> {
        let ar = RegOp::Write { addr: Self::reg(sector.bank, AR), value: sector.addr };
        Self::run_erase(sector.bank, &[ar], CR_PER, PAGE_ERASE, PAGE_ERASE_TIMEOUT)
    }

    fn mass_erase_ops(&self, layout: &FlashLayout) -> Option<Vec<RegOp>> {
        // Each bank has its own MER (XL: CR2.MER erases bank 2).
        let banks = layout.banks.len() as u8;
        Some((0..banks).flat_map(|b| Self::run_erase(b, &[], CR_MER, MASS_ERASE, MASS_ERASE_TIMEOUT)).collect())
    }

    fn program_setup_ops(&self, bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: Self::reg(bank, CR), value: CR_PG }]
    }

    fn program_teardown_ops(&self, bank: u8) -> Vec<RegOp> {
        // A PG left set makes the next erase fail (RM0091 §3, RM0008 §3, RM0316 §4).
        vec![
            RegOp::Write { addr: Self::reg(bank, CR), value: 0 },
            RegOp::Write { addr: Self::reg(bank, SR), value: SR_EOP },
        ]
    }

    fn program_access(&self) -> ProgramAccess {
        // One half-word per operation; other widths are a bus error (RM0091 §3.2.2).
        ProgramAccess { unit: 2, width: Width::Half, typical: HALF_WORD, timeout: HALF_WORD_TIMEOUT }
    }

    fn options(&mut self) -> Option<&mut dyn crate::flash::options::OptionBytes> {
        Some(self)
    }

    /// The write-protected pages, from FLASH_WRPR: a write or `erase` that
    /// touches one is refused before anything is erased, where the
    /// controller would erase the pages before it and then stop with
    /// WRPRTERR.
    fn reserved_ranges(&mut self, t: &mut Target) -> Result<Vec<Reserved>, FlashError> {
        let layout = self.layout(t)?;
        Ok(self.write_protected(&layout, t.read32(WRPR)?))
    }

    fn rdp_level(&mut self, t: &mut Target) -> Result<RdpLevel, FlashError> {
        let obr = t.read32(OBR)?;
        Ok(match (self.rdp_bits, (obr >> 1) & 3) {
            (RdpBits::F1, bits) if bits & 1 == 0 => RdpLevel::Level0,
            (RdpBits::F1, _) => RdpLevel::Level1,
            (RdpBits::F0F3, 0) => RdpLevel::Level0,
            (RdpBits::F0F3, 3) => RdpLevel::Level2,
            (RdpBits::F0F3, _) => RdpLevel::Level1,
        })
    }
}

/// The driver's facts for a row, by the names of ST's headers.
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    let Controller::F0F1F3(v) = c.controller else { return };
    f.source("driver");
    f.number("FLASH_R_BASE", BASE as u64);
    for (reg, offset) in
        [("KEYR", KEYR), ("SR", SR), ("CR", CR), ("AR", AR), ("OBR", OBR - BASE), ("WRPR", WRPR - BASE)]
    {
        f.number(format!("FLASH_TypeDef.{reg}"), offset as u64);
    }
    if c.flash.dual.is_some() {
        for (reg, offset) in [("KEYR2", KEYR), ("SR2", SR), ("CR2", CR), ("AR2", AR)] {
            f.number(format!("FLASH_TypeDef.{reg}"), (BANK2_OFFSET + offset) as u64);
        }
    }
    f.number("FLASH_KEY1", KEY1 as u64).number("FLASH_KEY2", KEY2 as u64);
    f.mask("FLASH_SR_BSY", SR_BSY).mask("FLASH_SR_PGERR", SR_PGERR).mask("FLASH_SR_EOP", SR_EOP);
    // The F3 headers call bit 4 WRPERR (stm32f303xc.h), the F0/F1 headers
    // WRPRTERR; the messages use the F0/F1 name on all three.
    f.mask(if v.series == Series::F3 { "FLASH_SR_WRPERR" } else { "FLASH_SR_WRPRTERR" }, SR_WRPRTERR);
    f.mask("FLASH_CR_PG", CR_PG).mask("FLASH_CR_PER", CR_PER).mask("FLASH_CR_MER", CR_MER);
    f.mask("FLASH_CR_STRT", CR_STRT).mask("FLASH_CR_LOCK", CR_LOCK);
    f.number("RCC_BASE+RCC_TypeDef.CR", RCC_CR as u64);
    f.mask("RCC_CR_HSION", RCC_HSION).mask("RCC_CR_HSIRDY", RCC_HSIRDY);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;

    fn driver(dev_id: u16) -> FpController {
        FpController::new(chips::find(dev_id).unwrap()).unwrap()
    }

    fn sector(bank: u8, index: u32, addr: u32) -> Sector {
        Sector { bank, index, addr, size: 2048 }
    }

    #[test]
    fn page_erase_writes_per_ar_and_strt_at_rm_positions() {
        // RM0091 §3.5.5: PER bit 1, STRT bit 6; FLASH_AR at 0x40022014.
        let ops = driver(0x414).erase_sector_ops(&sector(0, 3, 0x0800_1800));
        assert_eq!(
            ops[..3],
            [
                RegOp::Write { addr: 0x4002_2010, value: 0x2 },
                RegOp::Write { addr: 0x4002_2014, value: 0x0800_1800 },
                RegOp::Write { addr: 0x4002_2010, value: 0x2 | 0x40 },
            ]
        );
        assert!(matches!(ops[3], RegOp::WaitIdle { bank: 0, .. }));
        // PER cleared, then EOP (bit 5) written 1 to clear it.
        assert_eq!(
            ops[4..],
            [RegOp::Write { addr: 0x4002_2010, value: 0 }, RegOp::Write { addr: 0x4002_200C, value: 0x20 }]
        );
    }

    #[test]
    fn xl_bank2_uses_the_registers_at_plus_0x40() {
        // PM0068: KEYR2 0x40022044, SR2 0x4002204C, CR2 0x40022050, AR2 0x40022054.
        let d = driver(0x430);
        let ops = d.erase_sector_ops(&sector(1, 0, 0x0808_0000));
        assert_eq!(ops[1], RegOp::Write { addr: 0x4002_2054, value: 0x0808_0000 });
        assert_eq!(ops[2], RegOp::Write { addr: 0x4002_2050, value: 0x42 });
        assert!(matches!(ops[3], RegOp::WaitIdle { bank: 1, .. }));
        assert_eq!(d.status(1).addr, 0x4002_204C);
        assert_eq!(d.program_setup_ops(1), vec![RegOp::Write { addr: 0x4002_2050, value: 1 }]);
    }

    #[test]
    fn mass_erase_sets_mer_in_each_bank() {
        let d = driver(0x430);
        let spec = &chips::find(0x430).unwrap().flash;
        let ops = d.mass_erase_ops(&FlashLayout::dual(spec, 1024 * 1024)).unwrap();
        let writes: Vec<(u32, u32)> = ops
            .iter()
            .filter_map(|op| match *op {
                RegOp::Write { addr, value } => Some((addr, value)),
                _ => None,
            })
            .collect();
        // MER bit 2, then MER|STRT; bank 1 (CR) then bank 2 (CR2).
        assert!(writes.starts_with(&[(0x4002_2010, 0x4), (0x4002_2010, 0x44)]));
        assert!(writes.contains(&(0x4002_2050, 0x44)));
        assert_eq!(ops.iter().filter(|op| matches!(op, RegOp::WaitIdle { .. })).count(), 2);
    }

    #[test]
    fn status_and_program_access() {
        let d = driver(0x410);
        let s = d.status(0);
        // BSY bit 0, PGERR bit 2, WRPRTERR bit 4 (RM0091 §3.5.4).
        assert_eq!((s.addr, s.busy, s.errors, s.clear_reg), (0x4002_200C, 1, 0x14, None));
        let a = d.program_access();
        assert_eq!((a.unit, a.width), (2, Width::Half));
        assert!(a.timeout >= a.typical * 10);
        assert_eq!(d.program_teardown_ops(0)[0], RegOp::Write { addr: 0x4002_2010, value: 0 });
    }
}
