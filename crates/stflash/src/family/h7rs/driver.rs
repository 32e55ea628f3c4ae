//! STM32H7R/S flash driver (RM0477). Register map and bits from ST's CMSIS
//! device header stm32h7r3xx.h (`FLASH_TypeDef` :872-914, FLASH_CR
//! :8763-8793, FLASH_SR :8798-8816, FLASH_ISR :8856-8886), sequences from
//! ST's HAL (stm32h7rsxx_hal_flash.c, stm32h7rsxx_hal_flash_ex.c):
//!
//! * unlock: KEY1, KEY2 to KEYR while CR.LOCK is set;
//! * wait: poll SR.QW (ST's SVD advises against polling BUSY, which may
//!   pulse several times in one operation), then read the errors in ISR and
//!   clear them by writing 1 to ICR;
//! * program: CR.PG, one 128-bit flash word, wait QW, clear PG. The HAL
//!   writes the word in 16-bit accesses, OpenOCD's loader in 32-bit ones
//!   (contrib/loaders/flash/stm32/stm32h7rx.S): 32-bit accesses are used
//!   (assumed accepted, as OpenOCD does);
//! * sector erase: SER and SSN (bits 8:6), then START; mass erase: BER,
//!   then START (CR.ALL_BANKS is not used, as the HAL does not on this
//!   single-bank part).

use std::time::Duration;

use crate::chip::{Chip, Controller};
use crate::flash::{
    start_then_clear, unlock_with_keys, ErrorFlag, FlashController, FlashError, FlashLayout, ProgramAccess, RdpLevel,
    RegOp, Reserved, Sector, StatusReg, Width, KEY1, KEY2,
};
use crate::mcu::Target;

/// FLASH_R_BASE (stm32h7r3xx.h:2103).
pub const BASE: u32 = 0x5200_2000;
const KEYR: u32 = BASE + 0x04;
pub const CR: u32 = BASE + 0x10;
pub const SR: u32 = BASE + 0x14;
pub const ISR: u32 = BASE + 0x24;
pub const ICR: u32 = BASE + 0x28;
/// FLASH_NVSR: the non-volatile state in force (bits 7:0).
pub const NVSR: u32 = BASE + 0x200;
/// FLASH_WRPSR: one bit per sector, 0 = protected.
pub const WRPSR: u32 = BASE + 0x218;

pub const CR_LOCK: u32 = 1 << 0;
pub const CR_PG: u32 = 1 << 1;
pub const CR_SER: u32 = 1 << 2;
pub const CR_BER: u32 = 1 << 3;
pub const CR_FW: u32 = 1 << 4;
pub const CR_START: u32 = 1 << 5;
pub const CR_SSN_SHIFT: u32 = 6;
/// SR.QW: the write queue holds an operation (stm32h7r3xx.h:8804).
pub const SR_QW: u32 = 1 << 2;
/// ISR.EOPF and the error flags (stm32h7r3xx.h:8856-8886).
pub const ISR_EOPF: u32 = 1 << 16;

/// NVSTATE values (ST HAL stm32h7rsxx_hal_flash.h `OB_NVSTATE_OPEN`,
/// `OB_NVSTATE_CLOSE`): any other value is invalid.
pub const NVSTATE_OPEN: u32 = 0xB4;
pub const NVSTATE_CLOSED: u32 = 0x51;

/// Typical times: assumed, not found in any source at hand (the H7A/B's
/// 25 µs per flash word and 5 ms per 8 KiB sector, the datasheets' flash memory characteristics).
/// Timeouts as the other H7s' (OpenOCD's generic H7 timeouts, which it
/// uses for the H7R/S too).
const WORD_TIME: Duration = Duration::from_micros(25);
const WORD_TIMEOUT: Duration = Duration::from_millis(10);
const SECTOR_TIME: Duration = Duration::from_millis(5);
const SECTOR_TIMEOUT: Duration = Duration::from_secs(10);
const MASS_ERASE_TIME: Duration = Duration::from_millis(40);
const MASS_ERASE_TIMEOUT: Duration = Duration::from_secs(30);

/// The errors of ST's HAL (stm32h7rsxx_hal_flash.h `FLASH_FLAG_ISR_ERRORS`
/// and the double ECC error); a corrected single ECC error (SNECCERRF) is
/// not a failure.
static ERRORS: [ErrorFlag; 8] = [
    ErrorFlag {
        mask: 1 << 17,
        name: "WRPERR",
        meaning: "the sector is write-protected (FLASH_WRPSR) or in a hidden (HDP) area",
    },
    ErrorFlag {
        mask: 1 << 18,
        name: "PGSERR",
        meaning: "programming sequence error: wrong control bits, or an earlier error was not cleared",
    },
    ErrorFlag { mask: 1 << 19, name: "STRBERR", meaning: "the same byte was written twice into the write buffer" },
    ErrorFlag { mask: 1 << 20, name: "OBLERR", meaning: "the option bytes failed to load" },
    ErrorFlag {
        mask: 1 << 21,
        name: "INCERR",
        meaning: "inconsistent write: a new flash word was started before the previous one was complete",
    },
    ErrorFlag { mask: 1 << 24, name: "RDSERR", meaning: "access to a secure-only or hidden area" },
    ErrorFlag {
        mask: 1 << 26,
        name: "DBECCERR",
        meaning: "uncorrectable ECC error reading flash (a flash word programmed twice without an erase?)",
    },
    ErrorFlag { mask: 1 << 28, name: "CRCRDERR", meaning: "the flash CRC unit read a protected area" },
];

/// The H7R/S flash controller.
pub struct H7rsController {
    chip: &'static Chip,
}

impl H7rsController {
    /// `None` when `chip` is not an H7R/S row.
    pub fn new(chip: &'static Chip) -> Option<H7rsController> {
        matches!(chip.controller, Controller::H7rs).then_some(H7rsController { chip })
    }

    pub fn chip(&self) -> &'static Chip {
        self.chip
    }
}

/// How NVSTATE reads as an RDP level: Open is level 0; Closed shuts the
/// debug port (reopening needs ST's debug authentication, which erases the
/// flash): level 1; an invalid value counts as closed too.
pub fn rdp_of_nvstate(nvstate: u32) -> RdpLevel {
    if nvstate == NVSTATE_OPEN {
        RdpLevel::Level0
    } else {
        RdpLevel::Level1
    }
}

impl FlashController for H7rsController {
    fn name(&self) -> &'static str {
        "STM32H7R/S"
    }

    fn layout(&mut self, t: &mut Target) -> Result<FlashLayout, FlashError> {
        let size = t.flash_size;
        if size == 0 || size > 64 * 1024 || size % (8 * 1024) != 0 {
            return Err(FlashError::Range(format!(
                "flash size {} KiB does not fit the STM32H7R/S layout: one bank of at most 8 × 8 KiB sectors",
                size / 1024
            )));
        }
        Ok(FlashLayout::single(&self.chip.flash, size))
    }

    /// Busy in SR (QW); errors and EOPF in ISR, cleared in ICR (see
    /// [`FlashController::error_register`]).
    fn status(&self, _bank: u8) -> StatusReg {
        StatusReg {
            addr: SR,
            busy: SR_QW,
            errors: ERRORS.iter().fold(0, |m, f| m | f.mask),
            clear_reg: Some(ICR),
            eop: ISR_EOPF,
        }
    }

    fn error_register(&self, _bank: u8) -> Option<u32> {
        Some(ISR)
    }

    fn error_flags(&self) -> &'static [ErrorFlag] {
        &ERRORS
    }

    fn unlock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        unlock_with_keys(t, "FLASH_CR", CR, CR_LOCK, KEYR, [KEY1, KEY2])
    }

    /// Clear the operation bits, then set LOCK (which leaves the others as
    /// they are, as on the other H7s).
    fn lock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        t.write32(CR, 0)?;
        t.write32(CR, CR_LOCK)?;
        Ok(())
    }

    /// SER and SSN, then START, wait QW, clear (ST HAL
    /// stm32h7rsxx_hal_flash_ex.c `FLASH_Erase_Sector`).
    fn erase_sector_ops(&self, sector: &Sector) -> Vec<RegOp> {
        debug_assert!(sector.index < 8, "sector {} does not fit SSN", sector.index);
        let cr = CR_SER | (sector.index & 7) << CR_SSN_SHIFT;
        let wait = RegOp::WaitIdle { bank: 0, typical: SECTOR_TIME, timeout: SECTOR_TIMEOUT };
        start_then_clear(CR, cr, CR_START, wait)
    }

    /// BER, then START.
    fn mass_erase_ops(&self, _layout: &FlashLayout) -> Option<Vec<RegOp>> {
        let wait = RegOp::WaitIdle { bank: 0, typical: MASS_ERASE_TIME, timeout: MASS_ERASE_TIMEOUT };
        Some(start_then_clear(CR, CR_BER, CR_START, wait))
    }

    fn program_setup_ops(&self, _bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: CR, value: CR_PG }]
    }

    fn program_teardown_ops(&self, _bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: CR, value: 0 }]
    }

    /// CR.FW writes a partly filled flash word (missing bytes erased).
    fn recover_ops(&self, bank: u8) -> Vec<RegOp> {
        let wait = RegOp::WaitIdle { bank, typical: WORD_TIME, timeout: WORD_TIMEOUT };
        vec![RegOp::Write { addr: CR, value: CR_PG | CR_FW }, wait, RegOp::Write { addr: CR, value: 0 }]
    }

    fn program_access(&self) -> ProgramAccess {
        ProgramAccess { unit: 16, width: Width::Word, typical: WORD_TIME, timeout: WORD_TIMEOUT }
    }

    fn rdp_level(&mut self, t: &mut Target) -> Result<RdpLevel, FlashError> {
        Ok(rdp_of_nvstate(t.read32(NVSR)? & 0xFF))
    }

    /// The write-protected sectors (FLASH_WRPSR.WRPS, 0 = protected: ST HAL
    /// stm32h7rsxx_hal_flash_ex.c `FLASH_OB_WRPConfig` clears a sector's bit
    /// to protect it).
    fn reserved_ranges(&mut self, t: &mut Target) -> Result<Vec<Reserved>, FlashError> {
        let layout = self.layout(t)?;
        Ok(self.write_protected(&layout, t.read32(WRPSR)?))
    }

    fn options(&mut self) -> Option<&mut dyn crate::flash::options::OptionBytes> {
        Some(self)
    }
}

/// The driver's facts, by the names of ST's headers (stm32h7s7xx.h
/// FLASH_TypeDef, FLASH_CR/SR/ISR/ICR; keys: stm32h7rsxx_hal_flash.h).
pub(super) fn register_facts(c: &'static Chip, f: &mut crate::facts::Facts) {
    if H7rsController::new(c).is_none() {
        return;
    }
    f.source("driver");
    f.number("FLASH_R_BASE", BASE as u64);
    for (reg, addr) in
        [("KEYR", KEYR), ("CR", CR), ("SR", SR), ("ISR", ISR), ("ICR", ICR), ("NVSR", NVSR), ("WRPSR", WRPSR)]
    {
        f.number(format!("FLASH_TypeDef.{reg}"), (addr - BASE) as u64);
    }
    f.number("FLASH_KEY1", KEY1 as u64).number("FLASH_KEY2", KEY2 as u64);
    for (bit, mask) in
        [("LOCK", CR_LOCK), ("PG", CR_PG), ("SER", CR_SER), ("BER", CR_BER), ("FW", CR_FW), ("START", CR_START)]
    {
        f.mask(format!("FLASH_CR_{bit}"), mask);
    }
    // SSN: the sector number of the 8 sectors (stm32h7s7xx.h:9303).
    let sectors = c.max_flash_kib * 1024 / c.flash.sectors[0].1;
    f.field("FLASH_CR_SSN", CR_SSN_SHIFT, 32 - (sectors - 1).leading_zeros());
    f.mask("FLASH_SR_QW", SR_QW);
    f.mask("FLASH_ISR_EOPF", ISR_EOPF).mask("FLASH_ICR_EOPF", ISR_EOPF);
    for flag in &ERRORS {
        f.mask(format!("FLASH_ISR_{}F", flag.name), flag.mask);
        f.mask(format!("FLASH_ICR_{}F", flag.name), flag.mask);
    }
    f.field("FLASH_NVSR_NVSTATE", 0, 8);
    // NVSTATE_OPEN/NVSTATE_CLOSED are ST's HAL `OB_NVSTATE_OPEN`/`_CLOSE`
    // (stm32h7rsxx_hal_flash.h:394-395), which extract.py does not read.
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h7rs() -> H7rsController {
        H7rsController::new(crate::chip::find(0x485).unwrap()).unwrap()
    }

    #[test]
    fn sector_erase_puts_ssn_at_bit_6_and_start_at_bit_5() {
        let s = Sector { bank: 0, index: 7, addr: 0x0800_E000, size: 8192 };
        let ops = h7rs().erase_sector_ops(&s);
        // RM0477 FLASH_CR at 0x52002010: SER bit 2, SSN bits 8:6, START bit 5.
        assert_eq!(ops[0], RegOp::Write { addr: 0x5200_2010, value: (1 << 2) | (7 << 6) });
        assert_eq!(ops[1], RegOp::Write { addr: 0x5200_2010, value: (1 << 2) | (7 << 6) | (1 << 5) });
        assert_eq!(ops[3], RegOp::Write { addr: 0x5200_2010, value: 0 });
    }

    #[test]
    fn busy_in_sr_errors_in_isr_cleared_through_icr() {
        let c = h7rs();
        let s = c.status(0);
        assert_eq!((s.addr, s.busy, s.clear_reg, s.eop), (0x5200_2014, 1 << 2, Some(0x5200_2028), 1 << 16));
        assert_eq!(c.error_register(0), Some(0x5200_2024));
        assert_eq!(s.errors, 0x153E_0000);
        assert_eq!(rdp_of_nvstate(0xB4), RdpLevel::Level0);
        assert_eq!(rdp_of_nvstate(0x51), RdpLevel::Level1);
    }
}
