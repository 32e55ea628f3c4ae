//! STM32L5 and STM32U5 flash through the non-secure registers (RM0438, RM0456;
//! flash-families.md §2.6).
//!
//! NSKEYR/NSSR/NSCR drive both banks; a page is named by its bank-relative
//! number (PNB) plus BKER for bank 2. The bank mode comes from OPTR: L5 DBANK
//! (or DB256K on 256 KiB parts), U5 DUALBANK (parts below 2 MiB; 2 and 4 MiB
//! parts are always dual-bank). L5 programs 64-bit double words, U5 128-bit
//! quad words, both as consecutive 32-bit writes.
//!
//! With TrustZone enabled (OPTR.TZEN) the non-secure registers cannot erase or
//! program secure pages (flash-families.md §5 item 14); stflash does not drive
//! the secure register block and refuses to erase or program such a chip.

use std::time::Duration;

use log::info;

use crate::chip::{Chip, Controller};
use crate::flash::options::OptionWord;
use crate::flash::{
    start_then_clear, unlock_with_keys, ErrorFlag, FlashController, FlashError, FlashLayout, ProgramAccess, RdpLevel,
    RegOp, Reserved, Sector, StatusReg, Width, KEY1, KEY2,
};
use crate::mcu::Target;

/// Non-secure register block (flash-families.md §2.6; EMB-R flash_l5, flash_u5).
const BASE: u32 = 0x4002_2000;
const NSKEYR: u32 = BASE + 0x08;
const NSSR: u32 = BASE + 0x20;
const NSCR: u32 = BASE + 0x28;
const OPTR: u32 = BASE + 0x40;

// NSSR (W1C; EMB-R flash_l5/flash_u5 NSSR).
pub const SR_EOP: u32 = 1 << 0;
pub const SR_OPERR: u32 = 1 << 1;
pub const SR_PROGERR: u32 = 1 << 3;
pub const SR_WRPERR: u32 = 1 << 4;
pub const SR_PGAERR: u32 = 1 << 5;
pub const SR_SIZERR: u32 = 1 << 6;
pub const SR_PGSERR: u32 = 1 << 7;
pub const SR_BSY: u32 = 1 << 16;

// NSCR (EMB-R flash_l5/flash_u5 NSCR; CMSIS `stm32u575xx.h`).
pub const CR_PG: u32 = 1 << 0;
pub const CR_PER: u32 = 1 << 1;
pub const CR_MER1: u32 = 1 << 2;
pub const CR_PNB_SHIFT: u32 = 3;
pub const CR_BKER: u32 = 1 << 11;
pub const CR_MER2: u32 = 1 << 15;
pub const CR_STRT: u32 = 1 << 16;
pub const CR_LOCK: u32 = 1 << 31;

// OPTR (EMB-R flash_l5/flash_u5 OPTR; CMSIS `stm32l552xx.h:7480-7502`,
// `stm32u575xx.h:8417-8419`).
pub const OPTR_RDP_MASK: u32 = 0xFF;
/// L5: dual bank on 256 KiB parts. U5: DUALBANK (same bit).
pub const OPTR_BIT21: u32 = 1 << 21;
/// L5 DBANK.
pub const OPTR_DBANK: u32 = 1 << 22;
pub const OPTR_TZEN: u32 = 1 << 31;

/// RDP byte level 0.5 (TrustZone only); the others are the common bytes
/// (EMB-R flash_u5 enum RDP).
const RDP_LEVEL0_5: u8 = 0x55;

/// L5 voltage scaling: flash program/erase need range 0 (stlink sets it,
/// citing RM0438 p.183; flash-families.md §2.6). PWR at 0x40007000, CR1.VOS
/// bits 10:9 (CMSIS `stm32l552xx.h:1379, 10051`); 00 = range 0, 01 = range 1,
/// 10 = range 2, the reset value (STM32L5 HAL PWR_REGULATOR_VOLTAGE_SCALEx).
/// PWR_SR2.VOSF bit 10 (`stm32l552xx.h:10217`). PWR registers take writes only
/// with RCC_APB1ENR1.PWREN (bit 28, RCC 0x40021000 + 0x58) set.
pub const L5_PWR_CR1: u32 = 0x4000_7000;
pub const L5_PWR_SR2: u32 = 0x4000_7014;
pub const L5_VOS_MASK: u32 = 3 << 9;
pub const L5_PWR_SR2_VOSF: u32 = 1 << 10;
pub const L5_RCC_APB1ENR1: u32 = 0x4002_1058;
pub const L5_RCC_PWREN: u32 = 1 << 28;
const VOS_TIMEOUT: Duration = Duration::from_millis(50);

/// Typical times (timing-model.md L5/U5/H5 row): 82 µs per double/quad word;
/// page erase 22 ms (L5 2/4 KiB) or 1.5 ms (U5 8 KiB); mass erase 22 ms.
/// Timeouts: page erase 250 ms and writes 50 ms ([OCD] stm32l4x.c:135-138,
/// flash-families.md §4.1); bank erases get 30 s, ≥ 10× any figure quoted.
const PROGRAM_TIME: Duration = Duration::from_micros(82);
const PROGRAM_TIMEOUT: Duration = Duration::from_millis(50);
const ERASE_TIMEOUT: Duration = Duration::from_millis(250);
const MASS_ERASE_TIME: Duration = Duration::from_millis(22);
const MASS_ERASE_TIMEOUT: Duration = Duration::from_secs(30);

static ERRORS: [ErrorFlag; 6] = [
    ErrorFlag { mask: SR_OPERR, name: "OPERR", meaning: "the operation did not complete" },
    ErrorFlag { mask: SR_PROGERR, name: "PROGERR", meaning: "the flash was not erased where data was written" },
    ErrorFlag {
        mask: SR_WRPERR,
        name: "WRPERR",
        meaning: "the page is write-protected (WRP area, HDP area or read protection)",
    },
    ErrorFlag { mask: SR_PGAERR, name: "PGAERR", meaning: "data written across a programming-unit boundary" },
    ErrorFlag { mask: SR_SIZERR, name: "SIZERR", meaning: "data written with byte or half-word accesses" },
    ErrorFlag {
        mask: SR_PGSERR,
        name: "PGSERR",
        meaning: "programming sequence error (wrong control bits, a stale error, or an unsupported voltage range)",
    },
];

/// How a die chooses between one and two banks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DualBankRule {
    /// L5: OPTR.DB256K (bit 21) on 256 KiB parts, OPTR.DBANK (bit 22) on 512
    /// KiB parts (RM0438 §6.4.1 FLASH_OPTR; OpenOCD stm32l4x.c:2212-2222).
    L5,
    /// U5: OPTR.DUALBANK (bit 21) on 512 KiB and 1 MiB parts; the others are
    /// always dual bank (RM0456 §7.9.15 FLASH_OPTR; the 128/256 KiB
    /// U535/U545 are assumed dual, as ST's CMSIS puts bank 2 at half the
    /// flash on every DEV_ID 0x455 part).
    U5,
}

/// What differs between the L5/U5 dies, as data (the chip rows point here).
#[derive(Debug)]
pub struct Variant {
    /// Controller name for messages.
    pub name: &'static str,
    pub dual_bank: DualBankRule,
    /// Flash programming needs core voltage range 0 (L5: RM0438 §6.3.2),
    /// which the driver sets when the firmware left it lower.
    pub needs_range0: bool,
    /// Typical page erase time.
    pub page_erase: Duration,
    pub optr: &'static OptionWord,
    /// The four WRP area registers (their page fields are as wide as PNB).
    pub wrp: &'static [OptionWord; 4],
    /// In single-bank mode WRP2A/WRP2B protect pages too, numbered from the
    /// flash base (L5: OpenOCD stm32l4x.c `F_USE_ALL_WRPXX`); U5 uses only
    /// WRP1A/WRP1B then.
    pub wrp2_in_single_bank: bool,
}

/// The L5 or U5 non-secure flash controller.
pub struct TzController {
    chip: &'static Chip,
    variant: &'static Variant,
    /// Dual-bank mode, as read from OPTR by `layout`.
    dual: bool,
}

impl TzController {
    /// `None` when `chip` is not an L5/U5 row.
    pub fn new(chip: &'static Chip) -> Option<TzController> {
        let Controller::L5U5(variant) = chip.controller else { return None };
        Some(TzController { chip, variant, dual: true })
    }

    pub fn chip(&self) -> &'static Chip {
        self.chip
    }

    pub fn variant(&self) -> &'static Variant {
        self.variant
    }

    /// Dual-bank mode for this flash size and OPTR value.
    pub fn dual_bank(&self, optr: u32, flash_size: u32) -> bool {
        match self.variant.dual_bank {
            DualBankRule::L5 => {
                let bit = if flash_size <= 256 * 1024 { OPTR_BIT21 } else { OPTR_DBANK };
                optr & bit != 0
            }
            DualBankRule::U5 => {
                let optional = (512 * 1024..2 * 1024 * 1024).contains(&flash_size);
                !optional || optr & OPTR_BIT21 != 0
            }
        }
    }

    /// Raise the core voltage to range 0 if the firmware left it lower (L5).
    fn ensure_voltage_range0(&self, t: &mut Target) -> Result<(), FlashError> {
        let cr1 = t.read32(L5_PWR_CR1)?;
        if cr1 & L5_VOS_MASK == 0 {
            return Ok(());
        }
        info!("setting the STM32L5 core voltage to range 0, which flash programming needs");
        let enr = t.read32(L5_RCC_APB1ENR1)?;
        t.write32(L5_RCC_APB1ENR1, enr | L5_RCC_PWREN)?;
        t.write32(L5_PWR_CR1, cr1 & !L5_VOS_MASK)?;
        let start = t.elapsed();
        while t.read32(L5_PWR_SR2)? & L5_PWR_SR2_VOSF != 0 {
            if t.elapsed() - start > VOS_TIMEOUT {
                return Err(FlashError::Timeout {
                    op: "waiting for the core voltage to reach range 0".into(),
                    waited: t.elapsed() - start,
                });
            }
            t.sleep(Duration::from_micros(100));
        }
        if t.read32(L5_PWR_CR1)? & L5_VOS_MASK != 0 {
            return Err(FlashError::Unsupported(
                "the STM32L5 core voltage could not be set to range 0 (PWR_CR1.VOS), which flash programming needs"
                    .into(),
            ));
        }
        Ok(())
    }

    fn erase_time(&self) -> Duration {
        self.variant.page_erase
    }
}

impl FlashController for TzController {
    fn name(&self) -> &'static str {
        self.variant.name
    }

    fn layout(&mut self, t: &mut Target) -> Result<FlashLayout, FlashError> {
        let optr = t.read32(OPTR)?;
        self.dual = self.dual_bank(optr, t.flash_size);
        Ok(if self.dual {
            FlashLayout::dual(&self.chip.flash, t.flash_size)
        } else {
            FlashLayout::single(&self.chip.flash, t.flash_size)
        })
    }

    fn status(&self, _bank: u8) -> StatusReg {
        StatusReg {
            addr: NSSR,
            busy: SR_BSY,
            errors: ERRORS.iter().fold(0, |m, f| m | f.mask),
            clear_reg: None,
            eop: SR_EOP,
        }
    }

    fn error_flags(&self) -> &'static [ErrorFlag] {
        &ERRORS
    }

    /// One NSCR serves both banks: the keys go once, when LOCK is set.
    fn unlock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        if t.read32(OPTR)? & OPTR_TZEN != 0 {
            return Err(FlashError::Unsupported(format!(
                "TrustZone is enabled on this {} (OPTR.TZEN = 1): the non-secure flash registers cannot erase or \
                 program secure pages, and stflash does not drive the secure ones; disable TrustZone (TZEN = 0, \
                 which needs an RDP regression) or use STM32CubeProgrammer",
                self.name()
            )));
        }
        if self.variant.needs_range0 {
            self.ensure_voltage_range0(t)?;
        }
        unlock_with_keys(t, "FLASH_NSCR", NSCR, CR_LOCK, NSKEYR, [KEY1, KEY2])
    }

    /// Clear every operation bit, then set LOCK (setting LOCK leaves the
    /// other bits as they are).
    /// Both banks share NSCR: a second call finds it locked and does nothing.
    fn lock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        if t.read32(NSCR)? & CR_LOCK != 0 {
            return Ok(());
        }
        t.write32(NSCR, 0)?;
        t.write32(NSCR, CR_LOCK)?;
        Ok(())
    }

    /// PER + bank-relative PNB (+ BKER for bank 2), then STRT.
    fn erase_sector_ops(&self, sector: &Sector) -> Vec<RegOp> {
        let bker = if sector.bank == 1 { CR_BKER } else { 0 };
        let cr = CR_PER | (sector.index << CR_PNB_SHIFT) | bker;
        let wait = RegOp::WaitIdle { bank: sector.bank, typical: self.erase_time(), timeout: ERASE_TIMEOUT };
        start_then_clear(NSCR, cr, CR_STRT, wait)
    }

    /// MER1 (+ MER2 in dual-bank mode), then STRT. In single-bank mode MER1
    /// erases the whole array.
    fn mass_erase_ops(&self, layout: &FlashLayout) -> Option<Vec<RegOp>> {
        let cr = if layout.banks.len() > 1 { CR_MER1 | CR_MER2 } else { CR_MER1 };
        let wait = RegOp::WaitIdle { bank: 0, typical: MASS_ERASE_TIME, timeout: MASS_ERASE_TIMEOUT };
        Some(start_then_clear(NSCR, cr, CR_STRT, wait))
    }

    fn options(&mut self) -> Option<&mut dyn crate::flash::options::OptionBytes> {
        Some(self)
    }

    /// The write-protected pages, from the WRP area registers as in force:
    /// a write or `erase` that touches one is refused before anything is
    /// erased, where the controller would erase the pages before it and then
    /// stop with WRPERR.
    fn reserved_ranges(&mut self, t: &mut Target) -> Result<Vec<Reserved>, FlashError> {
        let layout = self.layout(t)?;
        let mut values = [0u32; 4];
        for (v, word) in values.iter_mut().zip(self.variant.wrp.iter()) {
            *v = t.read32(word.addr)?;
        }
        Ok(self.write_protected(&layout, &values))
    }

    fn program_setup_ops(&self, _bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: NSCR, value: CR_PG }]
    }

    fn program_teardown_ops(&self, _bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: NSCR, value: 0 }]
    }

    fn program_access(&self) -> ProgramAccess {
        ProgramAccess {
            unit: self.chip.flash.write_unit,
            width: Width::Word,
            typical: PROGRAM_TIME,
            timeout: PROGRAM_TIMEOUT,
        }
    }

    /// RDP byte of OPTR. Level 0.5 exists only with TrustZone on: the
    /// non-secure flash stays readable, and erase/program is refused anyway
    /// (see `unlock`), so it is reported as level 0.
    fn rdp_level(&mut self, t: &mut Target) -> Result<RdpLevel, FlashError> {
        Ok(match (t.read32(OPTR)? & OPTR_RDP_MASK) as u8 {
            RDP_LEVEL0_5 => RdpLevel::Level0,
            rdp => RdpLevel::from_byte(rdp),
        })
    }
}

/// Register facts (to be written).
pub(super) fn register_facts(_c: &'static crate::chip::Chip, _f: &mut crate::facts::Facts) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;

    fn u575() -> TzController {
        TzController::new(chips::find(0x482).unwrap()).unwrap()
    }

    fn l552() -> TzController {
        TzController::new(chips::find(0x472).unwrap()).unwrap()
    }

    #[test]
    fn page_erase_of_bank2_sets_bker_and_a_bank_relative_pnb() {
        let s = Sector { bank: 1, index: 3, addr: 0x0810_6000, size: 8192 };
        let ops = u575().erase_sector_ops(&s);
        // RM0456 NSCR at 0x40022028: PER bit 1, PNB from bit 3, BKER bit 11, STRT bit 16.
        let cr = (1 << 1) | (3 << 3) | (1 << 11);
        assert_eq!(ops[0], RegOp::Write { addr: 0x4002_2028, value: cr });
        assert_eq!(ops[1], RegOp::Write { addr: 0x4002_2028, value: cr | (1 << 16) });
        assert!(matches!(ops[2], RegOp::WaitIdle { bank: 1, .. }));
        assert_eq!(ops[3], RegOp::Write { addr: 0x4002_2028, value: 0 });
        let s = Sector { bank: 0, index: 127, addr: 0x0807_F000, size: 4096 };
        assert_eq!(l552().erase_sector_ops(&s)[0], RegOp::Write { addr: 0x4002_2028, value: 2 | (127 << 3) });
    }

    #[test]
    fn mass_erase_sets_mer1_and_mer2_in_dual_bank_mode() {
        let c = u575();
        let dual = FlashLayout::dual(&c.chip.flash, 2 << 20);
        let ops = c.mass_erase_ops(&dual).unwrap();
        // MER1 bit 2, MER2 bit 15.
        assert_eq!(ops[0], RegOp::Write { addr: 0x4002_2028, value: (1 << 2) | (1 << 15) });
        assert_eq!(ops[1], RegOp::Write { addr: 0x4002_2028, value: (1 << 2) | (1 << 15) | (1 << 16) });
        let single = FlashLayout::single(&c.chip.flash, 1 << 20);
        assert_eq!(c.mass_erase_ops(&single).unwrap()[0], RegOp::Write { addr: 0x4002_2028, value: 1 << 2 });
    }

    #[test]
    fn bank_mode_follows_the_option_bits() {
        let (l5, u5) = (l552(), u575());
        // L5 512 KiB: DBANK bit 22; 256 KiB: DB256K bit 21.
        assert!(l5.dual_bank(1 << 22, 512 << 10));
        assert!(!l5.dual_bank(1 << 21, 512 << 10));
        assert!(l5.dual_bank(1 << 21, 256 << 10));
        assert!(!l5.dual_bank(1 << 22, 256 << 10));
        // U5 DUALBANK bit 21 below 2 MiB; 2 MiB is always dual.
        assert!(u5.dual_bank(0, 2 << 20));
        assert!(!u5.dual_bank(0, 1 << 20));
        assert!(u5.dual_bank(1 << 21, 1 << 20));
        assert!(!u5.dual_bank(0, 512 << 10));
        assert!(u5.dual_bank(0, 256 << 10), "U535 256 KiB: always two banks");
    }

    #[test]
    fn program_units_and_status_bits() {
        assert_eq!(l552().program_access().unit, 8, "L5 double word");
        assert_eq!(u575().program_access().unit, 16, "U5 quad word");
        assert_eq!(u575().program_setup_ops(0), vec![RegOp::Write { addr: 0x4002_2028, value: 1 }]);
        let s = u575().status(1);
        assert_eq!((s.addr, s.busy, s.eop), (0x4002_2020, 1 << 16, 1));
        // OPERR 1, PROGERR 3, WRPERR 4, PGAERR 5, SIZERR 6, PGSERR 7.
        assert_eq!(s.errors, 0xFA);
    }
}
