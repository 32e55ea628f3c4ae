//! STM32H7 flash driver: H74x/H75x (RM0433, RM0399 for the dual-core parts),
//! H72x/H73x (RM0468) and H7A3/H7B3/H7B0 (RM0455).
//!
//! One controller design in three variants. What differs is data
//! ([`Variant`]): where CR keeps FW, START and the sector number, whether
//! there is a PSIZE field, the flash-word and sector sizes, whether a second
//! bank exists, which error flags SR has. Everything else follows the common
//! H7 sequences of RM0433 §4, RM0455 §4, RM0468 §4:
//!
//! * bank 2 registers at +0x100; each bank is unlocked, erased and polled
//!   through its own KEYR/CR/SR;
//! * wait on QW (the bank's command queue), never on BSY alone (ST's HAL
//!   stm32h7xx_hal_flash.c:1072-1076; OpenOCD src/flash/nor/stm32h7x.c:382-395);
//! * SR is read-only: flags are cleared by writing 1 to CCR (ST's HAL
//!   stm32h7xx_hal_flash.h __HAL_FLASH_CLEAR_FLAG; OpenOCD src/flash/nor/stm32h7x.c:410-415);
//! * the sector number is bank-relative (ST's HAL stm32h7xx_hal_flash_ex.c:1180-1218).
//!
//! st-flash 1.8.0 wrote the H7A/B sector number at bits 8-10 (the H74x SNB
//! position) while RM0455 puts SSN at bits 6-12, so "erase sector n" erased
//! sector 4n (stlink #1369; stlink v1.8.0 inc/stm32flash.h:266-268). Here each variant carries its own field
//! position and the tests pin the resulting CR values.

use std::time::Duration;

use super::options as opts;
use crate::chip::{Chip, Controller};
use crate::facts::Facts;
use crate::flash::options::{OptionWord, Otp};
use crate::flash::{
    start_then_clear, unlock_with_keys, ErrorFlag, FlashController, FlashError, FlashLayout, ProgramAccess, RdpLevel,
    RegOp, Reserved, Sector, StatusReg, Width, KEY1, KEY2,
};
use crate::mcu::Target;

/// Flash interface base, all H7 but H7R/S (OpenOCD src/flash/nor/stm32h7x.c:145-146).
const FLASH_BASE: u32 = 0x5200_2000;
/// Distance from bank 1's registers to bank 2's (CMSIS FLASH_TypeDef, stm32h743xx.h:917-958,
/// stm32h7a3xx.h:762-806; OpenOCD src/flash/nor/stm32h7x.c:145-146).
const BANK_STRIDE: u32 = 0x100;

// Register offsets (CMSIS FLASH_TypeDef, stm32h743xx.h:917-958, stm32h7a3xx.h:762-806).
const KEYR: u32 = 0x04;
const CR: u32 = 0x0C;
const SR: u32 = 0x10;
const CCR: u32 = 0x14;
const OPTCR: u32 = FLASH_BASE + 0x18;
const OPTSR_CUR: u32 = FLASH_BASE + 0x1C;
/// WPSN_CUR1/2 (H7A/B: WPSGN_CUR1/2), bank-relative like CR (CMSIS FLASH_TypeDef,
/// stm32h743xx.h:917-958, stm32h7a3xx.h:762-806).
const WPSN_CUR: u32 = 0x38;

// CR bits at the same position on every variant (CMSIS stm32h743xx.h:10715-10727,
// stm32h7a3xx.h:8659-8720).
const CR_LOCK: u32 = 1 << 0;
const CR_PG: u32 = 1 << 1;
const CR_SER: u32 = 1 << 2;
const CR_BER: u32 = 1 << 3;

// SR bits, identical on every variant where they exist (CMSIS stm32h743xx.h and
// stm32h723xx.h FLASH_SR_*_Pos; stm32h7a3xx.h:8725-8767).
const SR_QW: u32 = 1 << 2;
/// EOP: "It is not necessary to reset EOP1 before starting a new operation"
/// (ST's STM32H7B0 SVD, SR1.EOP1), so the engine does not clear it after every flash
/// word (that would cost a USB round trip per word); the sequences clear it
/// once at their end.
const SR_EOP: u32 = 1 << 16;

/// OPTCR.SWAP_BANK and OPTSR_CUR.SWAP_BANK_OPT, bit 31 on dual-bank parts (CMSIS
/// stm32h7a3xx.h:8822, :8870).
const SWAP_BANK: u32 = 1 << 31;
/// OPTSR_CUR.RDP, bits 8-15 (CMSIS FLASH_OPTSR_RDP_Pos; stm32h7a3xx.h:8827-8871).
const RDP_SHIFT: u32 = 8;

/// Programming parallelism, CR.PSIZE on H74x/H72x (CMSIS stm32h743xx.h:10715-10727): x8 = 0 … x64 = 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Psize {
    X8 = 0,
    X16 = 1,
    X32 = 2,
    X64 = 3,
}

impl Psize {
    /// Erase parallelism from the target supply, as ST's HAL chooses its
    /// "voltage range" (FLASH_VOLTAGE_RANGE_1..3 = x8/x16/x32): x32 from 2.7 V,
    /// x16 from 2.1 V, x8 below or when the probe cannot measure. x64
    /// (RANGE_4) is never used for erase: the H7 HAL examples erase at
    /// RANGE_3 and no supply condition for x64 was found (not checked in the RM).
    /// Lower parallelism only makes the erase slower, never wrong.
    pub fn for_erase(voltage_mv: Option<u32>) -> Psize {
        match voltage_mv {
            Some(mv) if mv >= 2700 => Psize::X32,
            Some(mv) if mv >= 2100 => Psize::X16,
            _ => Psize::X8,
        }
    }
}

/// Where a variant keeps its CR fields (CMSIS stm32h743xx.h:10715-10727,
/// stm32h723xx.h:10864-10876, stm32h7a3xx.h:8659-8720; OpenOCD src/flash/nor/stm32h7x.c:219-228).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrLayout {
    /// PSIZE position (2 bits), if the variant has one.
    pub psize_shift: Option<u32>,
    /// FW (force write) bit: not used by this driver (it writes whole flash
    /// words only), kept so that the layout is complete.
    pub fw: u32,
    pub start: u32,
    /// Sector field (SNB / SSN): position and width.
    pub sector_shift: u32,
    pub sector_bits: u32,
}

impl CrLayout {
    /// The sector field holding `index` (bank-relative: ST's HAL stm32h7xx_hal_flash_ex.c:1180-1218).
    pub fn sector(&self, index: u32) -> u32 {
        debug_assert!(index < 1 << self.sector_bits, "sector {index} does not fit the field");
        (index & ((1 << self.sector_bits) - 1)) << self.sector_shift
    }

    /// The PSIZE field, or 0 on variants without one.
    pub fn psize(&self, p: Psize) -> u32 {
        self.psize_shift.map_or(0, |s| (p as u32) << s)
    }
}

/// One H7 variant, as data.
#[derive(Debug)]
pub struct Variant {
    pub name: &'static str,
    pub reference_manual: &'static str,
    pub cr: CrLayout,
    /// Flash word in bytes (the programming unit).
    pub flash_word: u32,
    pub sector_size: u32,
    /// Has a second bank (bank 2 registers and flash at 0x08100000).
    pub dual_bank: bool,
    pub error_flags: &'static [ErrorFlag],
    /// Typical times, recalled from the datasheets' flash memory
    /// characteristics tables, not checked.
    pub word_time: Duration,
    pub sector_erase_time: Duration,
    pub bank_erase_time: Duration,
    /// Timeout of a bank erase (sector erase and programming share the
    /// family values below).
    pub bank_erase_timeout: Duration,
    /// Option registers: OPTSR, the bank write-protection words, and what
    /// follows the PCROP and secure areas on this die (OPTSR2 on H72x, OTP
    /// block locks on H7A/B).
    pub optsr: &'static OptionWord,
    pub write_protection: [&'static OptionWord; 2],
    pub extra_options: &'static [&'static OptionWord],
    /// The OTP area, where the die has one (H7A/B: RM0455 §4.3.9).
    pub otp: Option<Otp>,
    /// ST's names of what the register facts state.
    pub names: &'static HeaderNames,
}

/// ST's names of what a die's register facts state, where its headers
/// differ (the die's `Variant::names`).
#[derive(Debug)]
pub struct HeaderNames {
    /// The chip table's names.
    pub table: crate::facts::TableNames,
    /// The header of the die's largest part, whose size ST assumes for an
    /// erased flash-size register (the H750/H7B0 headers give their own
    /// 128 KiB).
    pub largest: &'static str,
    /// The row's RAMs in `Chip::ram_regions` order: DTCM (the row's SRAM),
    /// then ITCM, AXI SRAM, the AHB SRAMs and (H74x, H72x) SRAM4.
    pub rams: &'static [&'static str],
    /// The header of the dual-core parts, where the die has them: the
    /// OPTSR fields only they define (see `OPTSR_H74X`) hold there; the
    /// single-core parts' headers have none of them.
    pub dual_core: Option<&'static str>,
}

/// H74x/H75x names.
static H74X_NAMES: HeaderNames = HeaderNames {
    table: crate::facts::TableNames {
        flash_base: "FLASH_BANK1_BASE",
        flash_size_mask: "FLASH_SIZE.mask",
        idcode: "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE",
        crc_base: "CRC_BASE",
        crc_clock: ("RCC_BASE+RCC_TypeDef.AHB4ENR", "RCC_AHB4ENR_CRCEN"),
        freeze: &[
            ("DBGMCU_BASE+DBGMCU_TypeDef.APB3FZ1", "DBGMCU_APB3FZ1_DBG_WWDG1"),
            ("DBGMCU_BASE+DBGMCU_TypeDef.APB4FZ1", "DBGMCU_APB4FZ1_DBG_IWDG1"),
        ],
    },
    largest: "stm32h743xx",
    rams: &["D1_DTCMRAM_BASE", "D1_ITCMRAM_BASE", "D1_AXISRAM_BASE", "D2_AHBSRAM_BASE", "D3_SRAM_BASE"],
    dual_core: Some("stm32h745xx"),
};
/// H72x/H73x names.
static H72X_NAMES: HeaderNames = HeaderNames { largest: "stm32h723xx", dual_core: None, ..H74X_NAMES };
/// H7A/B names: the CRC clock in AHB1ENR, the CD domain's RAMs.
static H7AB_NAMES: HeaderNames = HeaderNames {
    table: crate::facts::TableNames {
        crc_clock: ("RCC_BASE+RCC_TypeDef.AHB1ENR", "RCC_AHB1ENR_CRCEN"),
        ..H74X_NAMES.table
    },
    largest: "stm32h7a3xx",
    rams: &["CD_DTCMRAM_BASE", "CD_ITCMRAM_BASE", "CD_AXISRAM1_BASE", "CD_AHBSRAM1_BASE"],
    dual_core: None,
};

/// Sector erase timeout: "as high as 1000 ms" → 10 s (OpenOCD src/flash/nor/stm32h7x.c:16-19).
const SECTOR_ERASE_TIMEOUT: Duration = Duration::from_secs(10);
/// One flash word: OpenOCD allows 5 ms (src/flash/nor/stm32h7x.c:16-19),
/// Chromium EC 600 µs (chip/stm32/flash-stm32h7.c); 10 ms is
/// more than 10× the largest figure seen.
const WORD_TIMEOUT: Duration = Duration::from_millis(10);

// Error flags with their meaning for a user (CMSIS stm32h743xx.h FLASH_SR_*;
// ST's H7B0 SVD SR1 for the buffer errors; st-flash checks only three, stlink
// inc/stm32flash.h:275-277).
const WRPERR: ErrorFlag = ErrorFlag {
    mask: 1 << 17,
    name: "WRPERR",
    meaning: "the sector is write-protected (WPSN option bytes) or inside a PCROP/secure-only area",
};
const PGSERR: ErrorFlag = ErrorFlag {
    mask: 1 << 18,
    name: "PGSERR",
    meaning: "programming sequence error: data written without PG set, or an earlier error was not cleared",
};
const STRBERR: ErrorFlag = ErrorFlag {
    mask: 1 << 19,
    name: "STRBERR",
    meaning: "a byte of the flash word was written twice before the word was programmed",
};
const INCERR: ErrorFlag = ErrorFlag {
    mask: 1 << 21,
    name: "INCERR",
    meaning: "inconsistent write: a new flash word was started before the previous one was complete",
};
const OPERR: ErrorFlag =
    ErrorFlag { mask: 1 << 22, name: "OPERR", meaning: "the write or erase operation failed inside the flash" };
const RDPERR: ErrorFlag =
    ErrorFlag { mask: 1 << 23, name: "RDPERR", meaning: "access to a read-protected (PCROP) area" };
const RDSERR: ErrorFlag = ErrorFlag { mask: 1 << 24, name: "RDSERR", meaning: "access to a secure-only area" };
const SNECCERR: ErrorFlag =
    ErrorFlag { mask: 1 << 25, name: "SNECCERR", meaning: "a single-bit ECC error was corrected while reading flash" };
const DBECCERR: ErrorFlag = ErrorFlag {
    mask: 1 << 26,
    name: "DBECCERR",
    meaning: "uncorrectable ECC error reading flash (a flash word programmed twice without an erase?)",
};

/// H74x/H75x and H72x/H73x have OPERR (CMSIS stm32h743xx.h, stm32h723xx.h FLASH_SR_OPERR).
const ERRORS_WITH_OPERR: &[ErrorFlag] = &[WRPERR, PGSERR, STRBERR, INCERR, OPERR, RDPERR, RDSERR, SNECCERR, DBECCERR];
/// H7A/B has no OPERR (CMSIS stm32h7a3xx.h:8725-8767 defines none, nor does
/// ST's H7B0 SVD).
const ERRORS_H7AB: &[ErrorFlag] = &[WRPERR, PGSERR, STRBERR, INCERR, RDPERR, RDSERR, SNECCERR, DBECCERR];

/// CR of H74x/H75x and H72x/H73x: PSIZE 4-5, FW 6, START 7, SNB 8-10
/// (CMSIS stm32h743xx.h:10715-10727; stm32h723xx.h:10864-10876).
const CR_H74X: CrLayout = CrLayout { psize_shift: Some(4), fw: 1 << 6, start: 1 << 7, sector_shift: 8, sector_bits: 3 };

/// CR of H7A3/H7B3/H7B0: no PSIZE, FW 4, START 5, SSN 6-12
/// (CMSIS stm32h7a3xx.h:8659-8720, SNB mask 0x1FC0 at :8677-8678).
const CR_H7AB: CrLayout = CrLayout { psize_shift: None, fw: 1 << 4, start: 1 << 5, sector_shift: 6, sector_bits: 7 };

pub static H74X: Variant = Variant {
    name: "STM32H74x/H75x",
    reference_manual: "RM0433/RM0399",
    cr: CR_H74X,
    flash_word: 32,
    sector_size: 128 * 1024,
    dual_bank: true,
    error_flags: ERRORS_WITH_OPERR,
    // Recalled from DS12110's flash memory characteristics, not checked.
    word_time: Duration::from_micros(100),
    sector_erase_time: Duration::from_secs(1),
    bank_erase_time: Duration::from_secs(8),
    // OpenOCD allows 30 s per bank (src/flash/nor/stm32h7x.c:16-19); the 8 s typical bank erase leaves
    // that little margin at x8, so 60 s (HAL's default is 50 s).
    bank_erase_timeout: Duration::from_secs(60),
    optsr: &opts::OPTSR_H74X,
    write_protection: [&opts::WPSN1, &opts::WPSN2],
    extra_options: &[],
    otp: None,
    names: &H74X_NAMES,
};

pub static H72X: Variant = Variant {
    name: "STM32H72x/H73x",
    reference_manual: "RM0468",
    cr: CR_H74X,
    flash_word: 32,
    sector_size: 128 * 1024,
    // Single bank, no bank-2 registers (CMSIS stm32h723xx.h:958-983, :10814-10821).
    dual_bank: false,
    error_flags: ERRORS_WITH_OPERR,
    // Assumed equal to H743's (H72x datasheet not checked).
    word_time: Duration::from_micros(100),
    sector_erase_time: Duration::from_secs(1),
    bank_erase_time: Duration::from_secs(8),
    bank_erase_timeout: Duration::from_secs(60),
    optsr: &opts::OPTSR_H72X,
    write_protection: [&opts::WPSN1, &opts::WPSN2],
    extra_options: &[&opts::OPTSR2],
    otp: None,
    names: &H72X_NAMES,
};

pub static H7AB: Variant = Variant {
    name: "STM32H7A/B",
    reference_manual: "RM0455",
    cr: CR_H7AB,
    flash_word: 16,
    sector_size: 8 * 1024,
    dual_bank: true,
    error_flags: ERRORS_H7AB,
    // Assumed: DS13195's figures were not available (order of magnitude only).
    word_time: Duration::from_micros(25),
    sector_erase_time: Duration::from_millis(5),
    bank_erase_time: Duration::from_millis(500),
    // OpenOCD's 30 s mass-erase timeout (src/flash/nor/stm32h7x.c:16-19),
    // 60× the typical bank erase.
    bank_erase_timeout: Duration::from_secs(30),
    optsr: &opts::OPTSR_H7AB,
    write_protection: [&opts::WPSGN1, &opts::WPSGN2],
    extra_options: &[&opts::OTPBL],
    otp: Some(opts::OTP_H7AB),
    names: &H7AB_NAMES,
};

impl Variant {
    fn error_mask(&self) -> u32 {
        self.error_flags.iter().fold(0, |m, f| m | f.mask)
    }
}

/// Address of a bank's register (`bank` 0 = bank 1).
fn reg(bank: u8, offset: u32) -> u32 {
    FLASH_BASE + bank as u32 * BANK_STRIDE + offset
}

/// Largest flash that fits the H7 bank layout: bank 2 starts 1 MiB above
/// bank 1 (CMSIS stm32h743xx.h:2076-2078, stm32h7a3xx.h:1965-1967; OpenOCD
/// src/flash/nor/stm32h7x.c:937-951).
const MAX_BANK: u32 = 1024 * 1024;
/// Parts of this size or smaller have bank 1 only (H750, H7B0: OpenOCD src/flash/nor/stm32h7x.c:937-951).
const SINGLE_BANK_MAX: u32 = 128 * 1024;

/// The driver for one H7 chip.
pub struct H7Controller {
    chip: &'static Chip,
    variant: &'static Variant,
    /// PSIZE used for erase (H74x/H72x only; chosen from the supply voltage).
    erase_psize: Psize,
    /// The layout found by `layout`, for `reserved_ranges`.
    layout: Option<FlashLayout>,
    /// Banks of this part (from the flash size), known once `layout` ran,
    /// even when it refused the layout (swapped banks).
    banks: u8,
}

impl H7Controller {
    /// `None` when `chip` is not an H7 of these variants.
    pub fn new(chip: &'static Chip, voltage_mv: Option<u32>) -> Option<H7Controller> {
        let Controller::H7(variant) = chip.controller else { return None };
        Some(H7Controller { chip, variant, erase_psize: Psize::for_erase(voltage_mv), layout: None, banks: 1 })
    }

    pub fn variant(&self) -> &'static Variant {
        self.variant
    }

    pub fn chip(&self) -> &'static Chip {
        self.chip
    }

    /// Banks of the connected part (1 until `layout` has run).
    pub fn bank_count(&self) -> usize {
        self.banks as usize
    }

    fn cr(&self, bank: u8) -> u32 {
        reg(bank, CR)
    }

    /// Refuse a flash whose banks are swapped: which register set then acts on
    /// which address range is not documented in CMSIS, ST's HAL or OpenOCD (the
    /// RM0433/RM0455 bank-swap text was not checked).
    fn check_bank_swap(&self, t: &mut Target) -> Result<(), FlashError> {
        if !self.variant.dual_bank {
            return Ok(());
        }
        let live = t.read32(OPTCR)? & SWAP_BANK != 0;
        let option = t.read32(OPTSR_CUR)? & SWAP_BANK != 0;
        if live || option {
            return Err(FlashError::Unsupported(format!(
                "the flash banks of this {} are swapped (SWAP_BANK {} set): bank 2 answers at 0x08000000 and bank 1 at \
                 0x08100000. stflash will not guess which flash controller erases which addresses; clear it with \
                 `stflash --allow-bank-config --area=option write SWAP_BANK_OPT=0` and reset, then retry",
                self.chip.name,
                if live { "in FLASH_OPTCR" } else { "option in FLASH_OPTSR_CUR, in force after the next reset," }
            )));
        }
        Ok(())
    }

    /// Check that a flash size fits the bank layout, so that a wrong `--flash=`
    /// cannot make bank 1 overlap bank 2.
    fn check_size(&self, t: &Target, size: u32, dual: bool) -> Result<(), FlashError> {
        let v = self.variant;
        let (banks, limit) = if dual { (2, 2 * MAX_BANK) } else { (1, MAX_BANK) };
        if size == 0 || size > limit || size % (banks * v.sector_size) != 0 {
            let source = if t.flash_size != t.flash_size_detected {
                "given with --flash="
            } else {
                "read from the flash-size register"
            };
            return Err(FlashError::Range(format!(
                "flash size {} KiB ({source}) does not fit the {} layout: {} bank(s) of whole {} KiB sectors, at most {} KiB",
                size / 1024,
                v.name,
                banks,
                v.sector_size / 1024,
                limit / 1024
            )));
        }
        Ok(())
    }

    /// Bank erase of `banks`: start every bank, then wait for each (the
    /// banks erase in parallel), then clear BER and end with a (short) wait
    /// as every erase sequence does.
    fn ber_ops(&self, banks: &[u8]) -> Vec<RegOp> {
        let v = self.variant;
        let ber = CR_BER | v.cr.psize(self.erase_psize);
        let wait = |bank, typical| RegOp::WaitIdle { bank, typical, timeout: v.bank_erase_timeout };
        let mut ops = Vec::new();
        for &b in banks {
            ops.push(RegOp::Write { addr: self.cr(b), value: ber });
            ops.push(RegOp::Write { addr: self.cr(b), value: ber | v.cr.start });
        }
        for (i, &b) in banks.iter().enumerate() {
            // Bank 2 finishes while bank 1 is waited for: no second long sleep.
            ops.push(wait(b, if i == 0 { v.bank_erase_time } else { Duration::ZERO }));
        }
        for &b in banks {
            ops.push(RegOp::Write { addr: self.cr(b), value: 0 });
            ops.push(RegOp::Write { addr: reg(b, CCR), value: SR_EOP });
        }
        ops.push(wait(*banks.last().unwrap_or(&0), Duration::ZERO));
        ops
    }
}

impl FlashController for H7Controller {
    fn name(&self) -> &'static str {
        self.variant.name
    }

    fn layout(&mut self, t: &mut Target) -> Result<FlashLayout, FlashError> {
        let size = t.flash_size;
        let dual = self.variant.dual_bank && size > SINGLE_BANK_MAX;
        self.banks = if dual { 2 } else { 1 };
        self.check_bank_swap(t)?;
        self.check_size(t, size, dual)?;
        let spec = &self.chip.flash;
        let layout = if dual { FlashLayout::dual(spec, size) } else { FlashLayout::single(spec, size) };
        self.layout = Some(layout.clone());
        Ok(layout)
    }

    fn status(&self, bank: u8) -> StatusReg {
        StatusReg {
            addr: reg(bank, SR),
            // "polling on QW ... Even if the operation fails, QW is reset" (ST's HAL
            // stm32h7xx_hal_flash.c:1072-1076).
            busy: SR_QW,
            errors: self.variant.error_mask(),
            // SR is read-only; CCR clears at the same bit positions (OpenOCD
            // src/flash/nor/stm32h7x.c:410-415).
            clear_reg: Some(reg(bank, CCR)),
            eop: 0,
        }
    }

    fn error_flags(&self) -> &'static [ErrorFlag] {
        self.variant.error_flags
    }

    fn unlock(&mut self, t: &mut Target, bank: u8) -> Result<(), FlashError> {
        let what = format!("FLASH_CR{} (bank {})", bank + 1, bank + 1);
        unlock_with_keys(t, &what, self.cr(bank), CR_LOCK, reg(bank, KEYR), [KEY1, KEY2])
    }

    fn lock(&mut self, t: &mut Target, bank: u8) -> Result<(), FlashError> {
        // Setting LOCK leaves the other CR bits as they are (ST's H7B0 SVD CR1.LOCK1;
        // stlink v1.8.0 common_flash.c:108 leaks sector bits that way), so clear PG/SER/BER/PSIZE/sector first.
        t.write32(self.cr(bank), 0)?;
        t.write32(self.cr(bank), CR_LOCK)?;
        Ok(())
    }

    /// Sector erase as ST's HAL does it (stm32h7xx_hal_flash_ex.c:1180-1218): SER and the sector number in
    /// one write (which also clears any stale field), then START, wait QW,
    /// then clear SER and the sector field. The final wait keeps the
    /// convention that erase sequences end with `WaitIdle`; the queue is
    /// already empty, so it costs one status read.
    fn erase_sector_ops(&self, sector: &Sector) -> Vec<RegOp> {
        let v = self.variant;
        let cr = self.cr(sector.bank);
        let value = CR_SER | v.cr.psize(self.erase_psize) | v.cr.sector(sector.index);
        let wait = |typical| RegOp::WaitIdle { bank: sector.bank, typical, timeout: SECTOR_ERASE_TIMEOUT };
        let mut ops = start_then_clear(cr, value, v.cr.start, wait(v.sector_erase_time));
        ops.extend([RegOp::Write { addr: reg(sector.bank, CCR), value: SR_EOP }, wait(Duration::ZERO)]);
        ops
    }

    /// BER on each bank (ST's HAL stm32h7xx_hal_flash_ex.c:1143-1156). The
    /// two-bank OPTCR.MER shortcut is not used: whether OPTCR accepts MER while
    /// OPTLOCK is set is not stated in ST's HAL (FLASH_MassErase,
    /// stm32h7xx_hal_flash_ex.c:1113-1128), and unlocking the option registers
    /// to find out would be a needless risk to the option bytes. Per-bank BER
    /// is what OpenOCD does (src/flash/nor/stm32h7x.c:1182-1192).
    fn mass_erase_ops(&self, layout: &FlashLayout) -> Option<Vec<RegOp>> {
        let all: Vec<u8> = (0..layout.banks.len() as u8).collect();
        Some(self.ber_ops(&all))
    }

    /// BER on each bank named, the banks erasing at once (each has its own
    /// controller: ST's HAL stm32h7xx_hal_flash_ex.c:1117-1174 starts BER on
    /// both before waiting).
    fn bank_erase_ops(&self, layout: &FlashLayout, banks: &[u8]) -> Option<Vec<RegOp>> {
        (!banks.is_empty() && banks.iter().all(|&b| (b as usize) < layout.banks.len())).then(|| self.ber_ops(banks))
    }

    /// Two banks, two controllers: each bank has its own KEYR/CR/SR/CCR and
    /// command queue (CMSIS FLASH_TypeDef; ST's H7B0 SVD PG1/QW1), and
    /// "the flash interface can run different operations at the same time on
    /// each bank" (ST's HAL stm32h7xx_hal_flash.c:66-71).
    fn independent_banks(&self) -> bool {
        self.banks == 2
    }

    /// PG (plus PSIZE x64 on H74x/H72x, as stlink v1.8.0
    /// src/stlink-lib/flash_loader.c:714-720 and OpenOCD src/flash/nor/stm32h7x.c:832
    /// program; the PSIZE reset value is not verified, so it is always written).
    fn program_setup_ops(&self, bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: self.cr(bank), value: CR_PG | self.variant.cr.psize(Psize::X64) }]
    }

    fn program_teardown_ops(&self, bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: self.cr(bank), value: 0 }, RegOp::Write { addr: reg(bank, CCR), value: SR_EOP }]
    }

    /// CR.FW writes a partly filled flash word (missing bytes erased) so
    /// that the next write starts a new one (RM0433 §4.9.4 FLASH_CR1 FW1;
    /// RM0455 §4.9.4).
    fn recover_ops(&self, bank: u8) -> Vec<RegOp> {
        let pg = CR_PG | self.variant.cr.psize(Psize::X64);
        let wait = RegOp::WaitIdle { bank, typical: self.variant.word_time, timeout: WORD_TIMEOUT };
        let mut ops = vec![RegOp::Write { addr: self.cr(bank), value: pg | self.variant.cr.fw }, wait];
        ops.extend(self.program_teardown_ops(bank));
        ops
    }

    /// Whole flash words as consecutive 32-bit writes in increasing address
    /// order (ST's HAL stm32h7xx_hal_flash.c:199-293; no 8/16-bit writes, which
    /// could write a buffer byte twice: ST's H7B0 SVD SR1.STRBERR1).
    fn program_access(&self) -> ProgramAccess {
        ProgramAccess {
            unit: self.variant.flash_word,
            width: Width::Word,
            typical: self.variant.word_time,
            timeout: WORD_TIMEOUT,
        }
    }

    /// Write-protected sectors (FLASH_WPSN_CUR1/2, H7A/B WPSGN: bit = 0;
    /// RM0433, RM0455): a write or `erase` that touches one is refused before
    /// anything is erased, instead of erasing the image's other sectors and
    /// then meeting WRPERR.
    fn reserved_ranges(&mut self, t: &mut Target) -> Result<Vec<Reserved>, FlashError> {
        let layout = match &self.layout {
            Some(l) => l.clone(),
            None => self.layout(t)?,
        };
        let mut wpsn = Vec::new();
        for b in 0..layout.banks.len() {
            wpsn.push(t.read32(reg(b as u8, WPSN_CUR))?);
        }
        Ok(self.write_protected(&layout, &wpsn))
    }

    fn options(&mut self) -> Option<&mut dyn crate::flash::options::OptionBytes> {
        Some(self)
    }

    /// OPTSR_CUR.RDP: 0xAA level 0, 0xCC level 2, anything else level 1 (ST's HAL
    /// stm32h7xx_hal_flash_ex.h:295-297; OpenOCD src/flash/nor/stm32h7x.c:193-195).
    fn rdp_level(&mut self, t: &mut Target) -> Result<RdpLevel, FlashError> {
        Ok(RdpLevel::from_byte((t.read32(OPTSR_CUR)? >> RDP_SHIFT) as u8))
    }
}

/// The driver's facts for a row, by the names of ST's headers.
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    let Controller::H7(v) = c.controller else { return };
    f.source("driver");
    f.number("FLASH_R_BASE", FLASH_BASE as u64);
    for (reg, offset) in [("KEYR1", KEYR), ("CR1", CR), ("SR1", SR), ("CCR1", CCR), ("WPSN_CUR1", WPSN_CUR)] {
        f.number(format!("FLASH_TypeDef.{reg}"), offset as u64);
    }
    f.number("FLASH_TypeDef.OPTCR", (OPTCR - FLASH_BASE) as u64);
    f.number("FLASH_TypeDef.OPTSR_CUR", (OPTSR_CUR - FLASH_BASE) as u64);
    if v.dual_bank {
        for (reg, offset) in [("KEYR2", KEYR), ("CR2", CR), ("SR2", SR), ("CCR2", CCR), ("WPSN_CUR2", WPSN_CUR)] {
            f.number(format!("FLASH_TypeDef.{reg}"), (BANK_STRIDE + offset) as u64);
        }
        f.mask("FLASH_OPTCR_SWAP_BANK", SWAP_BANK).mask("FLASH_OPTSR_SWAP_BANK_OPT", SWAP_BANK);
    }
    f.number("FLASH_KEY1", KEY1 as u64).number("FLASH_KEY2", KEY2 as u64);
    f.mask("FLASH_CR_LOCK", CR_LOCK)
        .mask("FLASH_CR_PG", CR_PG)
        .mask("FLASH_CR_SER", CR_SER)
        .mask("FLASH_CR_BER", CR_BER);
    f.mask("FLASH_CR_FW", v.cr.fw).mask("FLASH_CR_START", v.cr.start);
    f.field("FLASH_CR_SNB", v.cr.sector_shift, v.cr.sector_bits);
    if let Some(shift) = v.cr.psize_shift {
        f.field("FLASH_CR_PSIZE", shift, 2);
    }
    f.mask("FLASH_SR_QW", SR_QW).mask("FLASH_SR_EOP", SR_EOP);
    for flag in v.error_flags {
        f.mask(format!("FLASH_SR_{}", flag.name), flag.mask);
    }
    f.field("FLASH_OPTSR_RDP", RDP_SHIFT, 8);
    f.number("FLASH_NB_32BITWORD_IN_FLASHWORD", (v.flash_word / 4) as u64);
    f.number("FLASH_SECTOR_SIZE", v.sector_size as u64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;

    const KIB: u32 = 1024;

    fn driver(dev_id: u16, mv: Option<u32>) -> H7Controller {
        H7Controller::new(chips::find(dev_id).unwrap(), mv).unwrap()
    }

    fn writes(ops: &[RegOp]) -> Vec<(u32, u32)> {
        ops.iter()
            .filter_map(|op| match *op {
                RegOp::Write { addr, value } => Some((addr, value)),
                RegOp::WaitIdle { .. } => None,
            })
            .collect()
    }

    fn sector(bank: u8, index: u32, size: u32) -> Sector {
        let base = if bank == 0 { 0x0800_0000 } else { 0x0810_0000 };
        Sector { bank, index, addr: base + index * size, size }
    }

    // Bit positions written out from the reference manuals, not from the driver.
    const SER: u32 = 1 << 2; // RM0433/RM0455 FLASH_CR SER
    const H7AB_START: u32 = 1 << 5; // RM0455 FLASH_CR START1/2
    const H7AB_SSN_POS: u32 = 6; // RM0455 FLASH_CR SSN1/2[6:0] at bits 6-12
    const H74X_START: u32 = 1 << 7; // RM0433 FLASH_CR START
    const H74X_SNB_POS: u32 = 8; // RM0433 FLASH_CR SNB[2:0] at bits 8-10
    const H74X_PSIZE_POS: u32 = 4; // RM0433 FLASH_CR PSIZE[1:0] at bits 4-5
    const CCR1: u32 = 0x5200_2014; // FLASH_CCR1, CMSIS FLASH_TypeDef
    const CCR2: u32 = 0x5200_2114;
    const EOP: u32 = 1 << 16; // CLR_EOP

    #[test]
    fn h7a3_erase_of_sector_1_of_bank_1_writes_ssn_at_bit_6() {
        let d = driver(0x480, Some(3300));
        let ops = d.erase_sector_ops(&sector(0, 1, 8 * KIB));
        let want = SER | (1 << H7AB_SSN_POS);
        assert_eq!(want, 0x0000_0044);
        assert_eq!(
            writes(&ops),
            vec![(0x5200_200C, want), (0x5200_200C, want | H7AB_START), (0x5200_200C, 0), (CCR1, EOP)],
            "FLASH_CR1 = SER | SSN=1, then START, then cleared; EOP cleared through FLASH_CCR1"
        );
        // st-flash 1.8.0 wrote 1 << 8 instead: SSN = 4 (stlink #1369).
        assert_ne!(want, SER | (1 << 8));
        assert!(matches!(ops[2], RegOp::WaitIdle { bank: 0, .. }));
        assert!(matches!(ops.last(), Some(RegOp::WaitIdle { bank: 0, .. })), "erase sequences end with WaitIdle");
    }

    #[test]
    fn h7a3_erase_of_sector_127_of_bank_2_uses_cr2() {
        let d = driver(0x480, Some(3300));
        let ops = d.erase_sector_ops(&sector(1, 127, 8 * KIB));
        let want = SER | (127 << H7AB_SSN_POS);
        assert_eq!(want, 0x0000_1FC4);
        assert_eq!(writes(&ops)[..2], [(0x5200_210C, want), (0x5200_210C, want | H7AB_START)]);
        assert!(matches!(ops[2], RegOp::WaitIdle { bank: 1, .. }));
    }

    #[test]
    fn h743_erase_of_sector_7_of_bank_2_writes_snb_and_erase_psize() {
        let d = driver(0x450, Some(3300));
        let ops = d.erase_sector_ops(&sector(1, 7, 128 * KIB));
        // x32 erase parallelism at 3.3 V (PSIZE = 0b10).
        let want = SER | (0b10 << H74X_PSIZE_POS) | (7 << H74X_SNB_POS);
        assert_eq!(want, 0x0000_0724);
        assert_eq!(
            writes(&ops),
            vec![(0x5200_210C, want), (0x5200_210C, want | H74X_START), (0x5200_210C, 0), (CCR2, EOP)]
        );
    }

    #[test]
    fn erase_parallelism_follows_the_supply() {
        assert_eq!(Psize::for_erase(Some(3300)), Psize::X32);
        assert_eq!(Psize::for_erase(Some(2400)), Psize::X16);
        assert_eq!(Psize::for_erase(Some(1800)), Psize::X8);
        assert_eq!(Psize::for_erase(None), Psize::X8);
        let low = driver(0x483, Some(1800));
        assert_eq!(writes(&low.erase_sector_ops(&sector(0, 2, 128 * KIB)))[0], (0x5200_200C, SER | (2 << 8)));
    }

    #[test]
    fn programming_sets_pg_with_x64_only_where_psize_exists() {
        let h74 = driver(0x450, Some(3300));
        assert_eq!(writes(&h74.program_setup_ops(1)), vec![(0x5200_210C, (1 << 1) | (0b11 << H74X_PSIZE_POS))]);
        assert_eq!(h74.program_access().unit, 32);
        let h7ab = driver(0x480, Some(3300));
        assert_eq!(writes(&h7ab.program_setup_ops(0)), vec![(0x5200_200C, 1 << 1)]);
        assert_eq!(writes(&h7ab.program_teardown_ops(0)), vec![(0x5200_200C, 0), (CCR1, EOP)]);
        let access = h7ab.program_access();
        assert_eq!((access.unit, access.width), (16, Width::Word));
        assert!(access.timeout >= 10 * access.typical);
    }

    #[test]
    fn mass_erase_starts_ber_on_both_banks_before_waiting() {
        let d = driver(0x480, Some(3300));
        let spec = &chips::find(0x480).unwrap().flash;
        let layout = FlashLayout::dual(spec, 2048 * KIB);
        let ops = d.mass_erase_ops(&layout).unwrap();
        let ber = 1 << 3;
        assert_eq!(
            writes(&ops),
            vec![
                (0x5200_200C, ber),
                (0x5200_200C, ber | H7AB_START),
                (0x5200_210C, ber),
                (0x5200_210C, ber | H7AB_START),
                (0x5200_200C, 0),
                (CCR1, EOP),
                (0x5200_210C, 0),
                (CCR2, EOP),
            ]
        );
        let waits: Vec<u8> = ops
            .iter()
            .filter_map(|op| match op {
                RegOp::WaitIdle { bank, .. } => Some(*bank),
                _ => None,
            })
            .collect();
        assert_eq!(waits, vec![0, 1, 1]);
        assert!(matches!(ops.last(), Some(RegOp::WaitIdle { .. })), "erase sequences end with WaitIdle");
        // No OPTCR (0x52002018) write: MER under OPTLOCK is unverified.
        assert!(writes(&ops).iter().all(|&(a, _)| a != 0x5200_2018));
    }

    #[test]
    fn one_bank_is_erased_alone_and_two_banks_work_on_their_own() {
        let mut d = driver(0x480, Some(3300));
        let spec = &chips::find(0x480).unwrap().flash;
        let layout = FlashLayout::dual(spec, 2048 * KIB);
        let ber = 1 << 3;
        let ops = d.bank_erase_ops(&layout, &[1]).unwrap();
        assert_eq!(writes(&ops)[..2], [(0x5200_210C, ber), (0x5200_210C, ber | H7AB_START)]);
        assert!(writes(&ops).iter().all(|&(a, _)| a & 0x100 != 0), "bank 2's registers only");
        assert!(d.bank_erase_ops(&layout, &[2]).is_none());
        assert!(!d.independent_banks(), "not before the layout is known");
        d.banks = 2;
        assert!(d.independent_banks());
    }

    #[test]
    fn status_polls_qw_and_clears_through_ccr() {
        let d = driver(0x450, None);
        let s = d.status(1);
        assert_eq!((s.addr, s.busy, s.clear_reg), (0x5200_2110, 1 << 2, Some(CCR2)));
        assert_eq!(s.eop, 0, "EOP need not be cleared after every flash word");
        let names: Vec<&str> = d.error_flags().iter().map(|f| f.name).collect();
        for n in ["WRPERR", "PGSERR", "STRBERR", "INCERR", "OPERR", "RDPERR", "RDSERR", "SNECCERR", "DBECCERR"] {
            assert!(names.contains(&n), "{n}");
        }
        let h7ab = driver(0x480, None);
        assert!(h7ab.error_flags().iter().all(|f| f.name != "OPERR"), "no OPERR on H7A/B");
        assert_eq!(h7ab.status(0).errors & (1 << 22), 0);
    }
}
