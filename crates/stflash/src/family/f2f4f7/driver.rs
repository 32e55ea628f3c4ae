//! STM32F2, F4, F7 sector-type flash controller (RM0090 §3, RM0033 §2, RM0385 §3,
//! §2.3; RM0033 §2, RM0090 §3, RM0385 §3, RM0410 §3).
//!
//! Sectors of 16 to 256 KiB are erased by number (FLASH_CR.SNB); data is
//! programmed with the parallelism PSIZE, which the supply voltage limits and
//! which every data write must match. Dual-bank parts number bank-2 sectors
//! with SNB bit 4 set (RM0090 §3.9.8), whatever the map in force.

use std::time::Duration;

use log::{debug, warn};

use crate::chip::{Chip, Controller};
use crate::facts::Facts;
use crate::flash::options::{FieldKind, OptionWord};
use crate::flash::{
    start_then_clear, unlock_with_keys, ErrorFlag, FlashController, FlashError, FlashLayout, ProgramAccess, RdpLevel,
    RegOp, Reserved, Sector, StatusReg, Width, KEY1, KEY2,
};
use crate::mcu::Target;

/// Register block and registers (RM0090 §3.9; CMSIS `FLASH_R_BASE`,
/// `FLASH_TypeDef`: `register_facts` states them).
const BASE: u32 = 0x4002_3C00;
const KEYR: u32 = BASE + 0x04;
const SR: u32 = BASE + 0x0C;
const CR: u32 = BASE + 0x10;
const OPTCR: u32 = BASE + 0x14;
/// Bank-2 nWRP on F42x/F43x/F469/F479 (RM0090 §3.9.11).
const OPTCR1: u32 = BASE + 0x18;

// FLASH_SR (RM0090 §3.9.6; RM0385 §3.7.5 names bit 7 ERSERR).
const SR_OPERR: u32 = 1 << 1;
const SR_WRPERR: u32 = 1 << 4;
const SR_PGAERR: u32 = 1 << 5;
const SR_PGPERR: u32 = 1 << 6;
const SR_PGSERR: u32 = 1 << 7;
const SR_RDERR: u32 = 1 << 8;
const SR_EOP: u32 = 1 << 0;
const SR_BSY: u32 = 1 << 16;

// FLASH_CR (RM0090 §3.9.8; RM0410 §3.7.5).
const CR_PG: u32 = 1 << 0;
const CR_SER: u32 = 1 << 1;
const CR_MER: u32 = 1 << 2;
const CR_SNB_SHIFT: u32 = 3;
const CR_PSIZE_SHIFT: u32 = 8;
/// MER1 in RM0090, MER2 in RM0410: mass erase of bank 2.
const CR_MER2: u32 = 1 << 15;
const CR_STRT: u32 = 1 << 16;
const CR_LOCK: u32 = 1 << 31;
/// SNB bit 4 selects bank 2 on dual-bank parts (RM0090 §3.9.8: sector 12 = 0b10000).
const SNB_BANK2: u32 = 0x10;

// FLASH_OPTCR (RM0090 §3.9.10, RM0410 §3.7.6).
const OPTCR_RDP_SHIFT: u32 = 8;
/// F42x/F43x/F469/F479 1 MiB parts: two banks of 512 KiB when set.
const OPTCR_DB1M: u32 = 1 << 30;
/// F76x/F77x: single bank when set, dual bank when clear.
const OPTCR_NDBANK: u32 = 1 << 29;

const MIB: u32 = 1024 * 1024;

/// Programming parallelism (RM0090 §3.6.2 Table 13).
/// x64 needs an external VPP supply and is never chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Psize {
    X8 = 0,
    X16 = 1,
    X32 = 2,
}

impl Psize {
    /// The widest parallelism the supply allows: x8 below 2.1 V, x16 below
    /// 2.7 V, x32 above. Unknown voltage gives x8, which is safe at any supply:
    /// a wider one below its voltage range "may lead to unpredicted results …
    /// this value may not be retained" (RM0090 §3.6.2), i.e. data that verifies
    /// today and is lost later.
    pub fn for_voltage(mv: Option<u32>) -> Psize {
        match mv {
            Some(mv) if mv >= 2700 => Psize::X32,
            Some(mv) if mv >= 2100 => Psize::X16,
            _ => Psize::X8,
        }
    }

    fn width(self) -> Width {
        match self {
            Psize::X8 => Width::Byte,
            Psize::X16 => Width::Half,
            Psize::X32 => Width::Word,
        }
    }

    fn bits(self) -> u32 {
        (self as u32) << CR_PSIZE_SHIFT
    }
}

// Timing (recalled from the datasheets' flash memory characteristics, not
// checked).
const WORD: Duration = Duration::from_micros(16);
/// OpenOCD's write timeout, 50 × the x32 maximum of 100 µs (OpenOCD
/// src/flash/nor/stm32f2x.c:108-113; the 100 µs is recalled from DS10314, not checked).
const WORD_TIMEOUT: Duration = Duration::from_millis(5);
/// Sector erase: OpenOCD allows 10 s (src/flash/nor/stm32f2x.c:108-113);
/// at x8 a 128/256 KiB sector can take several seconds (recalled from the
/// datasheets, not checked), so twenty times the typical time if longer.
const SECTOR_TIMEOUT_MIN: Duration = Duration::from_secs(10);
/// Mass erase: 8 s per MiB typical (recalled from the datasheets' flash
/// memory characteristics, not checked); "as high as 32 s in x8"
/// for 2 MiB (OpenOCD src/flash/nor/stm32f2x.c:108-113), so 40 s per MiB, at least 33 s.
const MASS_ERASE_PER_MIB: Duration = Duration::from_secs(8);
const MASS_ERASE_TIMEOUT_PER_MIB: Duration = Duration::from_secs(40);

/// F2/F4 error flags, RDERR (bit 8, a read of a PCROP sector) included: it
/// exists on the dies with PCROP only (stm32f401xc.h, stm32f429xx.h
/// `FLASH_SR_RDERR`; not in stm32f207xx.h, stm32f407xx.h: [`ERRORS_F2_F405`]).
pub const ERRORS_F2F4: &[ErrorFlag] = &[
    ErrorFlag {
        mask: SR_WRPERR,
        name: "WRPERR",
        meaning: "the sector is write-protected by the option bytes, or the chip is read-protected",
    },
    ErrorFlag { mask: SR_PGAERR, name: "PGAERR", meaning: "the data crosses a 128-bit flash row" },
    ErrorFlag {
        mask: SR_PGPERR,
        name: "PGPERR",
        meaning: "the access width does not match the programming parallelism (PSIZE)",
    },
    ErrorFlag {
        mask: SR_PGSERR,
        name: "PGSERR",
        meaning: "programming sequence error: flash written without PG set or with a wrong control register",
    },
    ErrorFlag { mask: SR_OPERR, name: "OPERR", meaning: "the operation could not run (see the other flags)" },
    ErrorFlag { mask: SR_RDERR, name: "RDERR", meaning: "read of a PCROP-protected sector" },
];

/// F2 and F405/F407/F415/F417: no RDERR (no PCROP).
pub const ERRORS_F2_F405: &[ErrorFlag] =
    &[ERRORS_F2F4[0], ERRORS_F2F4[1], ERRORS_F2F4[2], ERRORS_F2F4[3], ERRORS_F2F4[4]];

/// F72x/F73x: RDERR included (stm32f722xx.h `FLASH_SR_RDERR`).
pub const ERRORS_F72X: &[ErrorFlag] = &[
    ERRORS_F2F4[0],
    ERRORS_F2F4[1],
    ERRORS_F2F4[2],
    // RM0385 §3.7.5 names bit 7 ERSERR, with the same meaning.
    ErrorFlag {
        mask: SR_PGSERR,
        name: "ERSERR",
        meaning: "sequence error: flash written without PG set or with a wrong control register",
    },
    ERRORS_F2F4[4],
    ERRORS_F2F4[5],
];

/// F74x/F75x and F76x/F77x: no RDERR (stm32f746xx.h, stm32f767xx.h `FLASH_SR`).
pub const ERRORS_F7: &[ErrorFlag] = &[ERRORS_F72X[0], ERRORS_F72X[1], ERRORS_F72X[2], ERRORS_F72X[3], ERRORS_F72X[4]];

/// How a die enters dual-bank mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DualBankMode {
    /// F42x/F43x/F469/F479: always above 1 MiB, and at 1 MiB when OPTCR.DB1M
    /// is set (RM0090 §3.4, §3.9.10).
    Db1m,
    /// F76x/F77x: when OPTCR.nDBANK is clear (RM0410 §3.4.1, §3.7.6).
    NDbank,
}

/// What differs between the F2/F4/F7 dies, as data (the chip rows point here).
#[derive(Debug)]
pub struct Variant {
    /// Controller name for messages.
    pub name: &'static str,
    pub dual_bank: DualBankMode,
    pub error_flags: &'static [ErrorFlag],
    /// Typical erase time at x32 by sector size, as (largest KiB, ms) in
    /// increasing order; the last entry covers every larger sector.
    pub erase_ms: &'static [(u32, u64)],
    /// Width of FLASH_CR.SNB (CMSIS `FLASH_CR_SNB`: 5 bits on F2, F401-F412,
    /// F42x/F43x, F446, F469, F76x; 4 on F405/F407, F413, F72x, F74x).
    pub snb_bits: u32,
    /// FLASH_OPTCR and, where the die has one, FLASH_OPTCR1.
    pub optcr: &'static OptionWord,
    pub optcr1: Option<&'static OptionWord>,
    /// The option bytes as shipped (for `recover`).
    pub factory: &'static crate::flash::options::factory::Factory,
    /// The name ST's headers give SR bit 1 (OPERR; SOP on the F2:
    /// stm32f207xx.h `FLASH_SR_SOP`), for the register facts.
    pub sr_bit1_header: &'static str,
    /// The name ST's headers give OPTCR.SPRMOD, where they define it: it is
    /// in RM0368/RM0383/RM0402/RM0430 (and ST's HAL reads it on every F4
    /// with PCROP), but the F401/F410/F411/F412/F413 headers do not define
    /// it (F42x/F43x, F469 and F446 do). For the register facts.
    pub sprmod_header: Option<&'static str>,
}

/// Typical erase times (datasheet values as modeled, x32): F2/F4
/// 16/64/128 KiB = 250/550/1000 ms (DS8626 Table 41 [assumed typicals]).
pub const ERASE_MS_F2F4: &[(u32, u64)] = &[(32, 250), (64, 550), (u32::MAX, 1000)];
/// F7 32/128/256 KiB = 250/550/1000 ms; the 16/64 KiB sectors of F76x
/// dual-bank mode taken as F4's (DS10916 Table 52 [assumed typicals]).
pub const ERASE_MS_F7: &[(u32, u64)] = &[(32, 250), (128, 550), (u32::MAX, 1000)];

/// Typical erase time of a sector of `size` bytes on `variant`.
fn sector_erase_time(variant: &Variant, size: u32) -> Duration {
    let kib = size / 1024;
    let ms = variant.erase_ms.iter().find(|&&(max, _)| kib <= max).map_or(1000, |&(_, ms)| ms);
    Duration::from_millis(ms)
}

/// The F2/F4/F7 driver.
pub struct FsController {
    chip: &'static Chip,
    variant: &'static Variant,
    psize: Psize,
    /// Two banks in force (decided by `layout`).
    dual: bool,
}

impl FsController {
    /// `voltage_mv` is the target supply the probe measured, `None` if it
    /// cannot. `None` when `chip` is not an F2/F4/F7 row.
    pub fn new(chip: &'static Chip, voltage_mv: Option<u32>) -> Option<FsController> {
        let Controller::F2F4F7(variant) = chip.controller else { return None };
        let psize = Psize::for_voltage(voltage_mv);
        match voltage_mv {
            None => warn!(
                "the probe cannot measure the target voltage: programming {} one byte at a time (PSIZE x8), \
                 which is safe at any supply but slower",
                chip.name
            ),
            Some(mv) => debug!("target at {mv} mV: programming parallelism {psize:?}"),
        }
        Some(FsController { chip, variant, psize, dual: false })
    }

    pub fn chip(&self) -> &'static Chip {
        self.chip
    }

    pub fn variant(&self) -> &'static Variant {
        self.variant
    }

    pub fn psize(&self) -> Psize {
        self.psize
    }

    /// Whether the option bits put the part in dual-bank mode ([`DualBankMode`]).
    fn dual_bank_mode(&self, t: &mut Target) -> Result<bool, FlashError> {
        if self.chip.flash.dual.is_none() {
            return Ok(false);
        }
        let size = t.flash_size;
        Ok(match self.variant.dual_bank {
            DualBankMode::NDbank => t.read32(OPTCR)? & OPTCR_NDBANK == 0,
            _ if size > MIB => true,
            _ if size == MIB => t.read32(OPTCR)? & OPTCR_DB1M != 0,
            _ => false,
        })
    }

    /// SNB of a sector: its bank-relative index, bit 4 set for bank 2.
    fn snb(&self, sector: &Sector) -> u32 {
        let bank = if sector.bank == 1 { SNB_BANK2 } else { 0 };
        debug_assert!(bank | sector.index < 1 << self.variant.snb_bits, "sector {} does not fit SNB", sector.index);
        bank | sector.index
    }
}

impl FlashController for FsController {
    fn name(&self) -> &'static str {
        self.variant.name
    }

    fn layout(&mut self, t: &mut Target) -> Result<FlashLayout, FlashError> {
        self.dual = self.dual_bank_mode(t)?;
        let spec = &self.chip.flash;
        let mut layout =
            if self.dual { FlashLayout::dual(spec, t.flash_size) } else { FlashLayout::single(spec, t.flash_size) };
        layout.write_unit = self.psize.width().bytes();
        Ok(layout)
    }

    fn status(&self, _bank: u8) -> StatusReg {
        // One status register for both banks; EOP is only set with EOPIE (RM0090 §3.9.6).
        StatusReg {
            addr: SR,
            busy: SR_BSY,
            errors: self.variant.error_flags.iter().fold(0, |m, f| m | f.mask),
            clear_reg: None,
            eop: SR_EOP,
        }
    }

    fn error_flags(&self) -> &'static [ErrorFlag] {
        self.variant.error_flags
    }

    fn unlock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        // One FLASH_CR for both banks: the second call finds it unlocked.
        unlock_with_keys(t, "the flash control register (FLASH_CR)", CR, CR_LOCK, KEYR, [KEY1, KEY2])
    }

    fn lock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        // One write clears PG/SER/MER/SNB/PSIZE and sets LOCK.
        t.write32(CR, CR_LOCK)?;
        Ok(())
    }

    fn erase_sector_ops(&self, sector: &Sector) -> Vec<RegOp> {
        // RM0090 §3.6.3: set SER and SNB (and PSIZE, the erase parallelism),
        // then STRT; wait BSY; clear SER.
        let cr = CR_SER | self.snb(sector) << CR_SNB_SHIFT | self.psize.bits();
        let typical = sector_erase_time(self.variant, sector.size);
        let wait = RegOp::WaitIdle { bank: sector.bank, typical, timeout: SECTOR_TIMEOUT_MIN.max(typical * 20) };
        start_then_clear(CR, cr, CR_STRT, wait)
    }

    fn mass_erase_ops(&self, layout: &FlashLayout) -> Option<Vec<RegOp>> {
        // Dual bank: MER and MER1/MER2 together erase both banks (RM0090 §3.6.3).
        let mer = if layout.banks.len() > 1 { CR_MER | CR_MER2 } else { CR_MER };
        let cr = mer | self.psize.bits();
        let mib = (layout.total_size() as f64 / MIB as f64).max(0.25);
        let typical = MASS_ERASE_PER_MIB.mul_f64(mib);
        let timeout = MASS_ERASE_TIMEOUT_PER_MIB.mul_f64(mib).max(Duration::from_secs(33));
        Some(start_then_clear(CR, cr, CR_STRT, RegOp::WaitIdle { bank: 0, typical, timeout }))
    }

    fn program_setup_ops(&self, _bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: CR, value: CR_PG | self.psize.bits() }]
    }

    fn program_teardown_ops(&self, _bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: CR, value: 0 }]
    }

    fn program_access(&self) -> ProgramAccess {
        // Each data write must be exactly PSIZE wide (PGPERR otherwise, RM0090 §3.6.4).
        let width = self.psize.width();
        ProgramAccess { unit: width.bytes(), width, typical: WORD, timeout: WORD_TIMEOUT }
    }

    fn options(&mut self) -> Option<&mut dyn crate::flash::options::OptionBytes> {
        Some(self)
    }

    /// The write-protected (or PCROP) sectors, from OPTCR/OPTCR1 as in
    /// force: a write or `erase` that touches one is refused before
    /// anything is erased, where the controller would erase the sectors
    /// before it and then stop with WRPERR.
    fn reserved_ranges(&mut self, t: &mut Target) -> Result<Vec<Reserved>, FlashError> {
        let layout = self.layout(t)?;
        let optcr = t.read32(OPTCR)?;
        let optcr1 = if self.variant.optcr1.is_some_and(|w| w.mask_of(FieldKind::WriteProtect) != 0) {
            t.read32(OPTCR1)?
        } else {
            0
        };
        Ok(self.write_protected(&layout, optcr, optcr1))
    }

    fn rdp_level(&mut self, t: &mut Target) -> Result<RdpLevel, FlashError> {
        // OPTCR.RDP byte (RM0090 §3.9.10).
        Ok(RdpLevel::from_byte((t.read32(OPTCR)? >> OPTCR_RDP_SHIFT) as u8))
    }
}

/// The driver's facts for a row, by the names of ST's headers.
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    let Controller::F2F4F7(v) = c.controller else { return };
    f.source("driver");
    f.number("FLASH_R_BASE", BASE as u64);
    for (reg, addr) in [("KEYR", KEYR), ("SR", SR), ("CR", CR), ("OPTCR", OPTCR)] {
        f.number(format!("FLASH_TypeDef.{reg}"), (addr - BASE) as u64);
    }
    if v.optcr1.is_some() {
        f.number("FLASH_TypeDef.OPTCR1", (OPTCR1 - BASE) as u64);
    }
    f.number("FLASH_KEY1", KEY1 as u64).number("FLASH_KEY2", KEY2 as u64);
    f.mask("FLASH_SR_EOP", SR_EOP).mask("FLASH_SR_BSY", SR_BSY);
    for flag in v.error_flags {
        let name = if flag.mask == SR_OPERR { v.sr_bit1_header } else { flag.name };
        f.mask(format!("FLASH_SR_{name}"), flag.mask);
    }
    f.mask("FLASH_CR_PG", CR_PG).mask("FLASH_CR_SER", CR_SER).mask("FLASH_CR_MER", CR_MER);
    f.field("FLASH_CR_SNB", CR_SNB_SHIFT, v.snb_bits);
    f.field("FLASH_CR_PSIZE", CR_PSIZE_SHIFT, 2);
    f.mask("FLASH_CR_STRT", CR_STRT).mask("FLASH_CR_LOCK", CR_LOCK);
    f.field("FLASH_OPTCR_RDP", OPTCR_RDP_SHIFT, 8);
    if c.flash.dual.is_some() {
        // MER1 of RM0090 is MER2 in the headers.
        f.mask("FLASH_CR_MER2", CR_MER2);
        f.mask(
            match v.dual_bank {
                DualBankMode::Db1m => "FLASH_OPTCR_DB1M",
                DualBankMode::NDbank => "FLASH_OPTCR_nDBANK",
            },
            match v.dual_bank {
                DualBankMode::Db1m => OPTCR_DB1M,
                DualBankMode::NDbank => OPTCR_NDBANK,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;

    fn driver(dev_id: u16, mv: u32) -> FsController {
        FsController::new(chips::find(dev_id).unwrap(), Some(mv)).unwrap()
    }

    fn writes(ops: &[RegOp]) -> Vec<(u32, u32)> {
        ops.iter()
            .filter_map(|op| match *op {
                RegOp::Write { addr, value } => Some((addr, value)),
                RegOp::WaitIdle { .. } => None,
            })
            .collect()
    }

    #[test]
    fn psize_follows_the_supply_voltage() {
        // RM0090 Table 13: x8 1.8-2.1 V, x16 2.1-2.7 V, x32 2.7-3.6 V.
        assert_eq!(Psize::for_voltage(Some(1800)), Psize::X8);
        assert_eq!(Psize::for_voltage(Some(2099)), Psize::X8);
        assert_eq!(Psize::for_voltage(Some(2100)), Psize::X16);
        assert_eq!(Psize::for_voltage(Some(2699)), Psize::X16);
        assert_eq!(Psize::for_voltage(Some(2700)), Psize::X32);
        assert_eq!(Psize::for_voltage(Some(3300)), Psize::X32);
        assert_eq!(Psize::for_voltage(None), Psize::X8);
        let d = driver(0x431, 1800);
        assert_eq!(d.program_access().width, Width::Byte);
        assert_eq!(d.program_access().unit, 1);
        // PG bit 0, PSIZE bits 8-9 = 00.
        assert_eq!(d.program_setup_ops(0), vec![RegOp::Write { addr: 0x4002_3C10, value: 0x1 }]);
        let d = driver(0x431, 3300);
        assert_eq!(d.program_access().width, Width::Word);
        assert_eq!(d.program_setup_ops(0), vec![RegOp::Write { addr: 0x4002_3C10, value: 0x1 | 2 << 8 }]);
        assert_eq!(driver(0x431, 2500).program_access().width, Width::Half);
    }

    #[test]
    fn sector_erase_encodes_snb_at_bit_3() {
        let d = driver(0x431, 3300);
        let s = Sector { bank: 0, index: 5, addr: 0x0802_0000, size: 128 * 1024 };
        // SER bit 1, SNB 5 at bits 3-7, PSIZE x32 (2 << 8), then STRT bit 16.
        let cr = 0x2 | 5 << 3 | 2 << 8;
        assert_eq!(
            writes(&d.erase_sector_ops(&s)),
            vec![(0x4002_3C10, cr), (0x4002_3C10, cr | 1 << 16), (0x4002_3C10, 0)]
        );
    }

    #[test]
    fn bank2_sectors_set_snb_bit_4() {
        // F429 2 MiB: bank-2 sector 12+n is SNB 0b1_0000 | n (RM0090 §3.9.8).
        let d = driver(0x419, 3300);
        let s = Sector { bank: 1, index: 2, addr: 0x0810_8000, size: 16 * 1024 };
        let cr = writes(&d.erase_sector_ops(&s))[0].1;
        assert_eq!((cr >> 3) & 0x1F, 0x12);
        assert_eq!(cr, 0x2 | 0x12 << 3 | 2 << 8);
    }

    #[test]
    fn f413_sectors_above_1mib_stay_in_the_4_bit_field() {
        // F413: sector 15 at 0x08160000 is SNB 15; bit 7 (the F42x bank bit) stays
        // clear (CMSIS stm32f413xx.h:6893).
        let d = driver(0x463, 3300);
        let s = Sector { bank: 0, index: 15, addr: 0x0816_0000, size: 128 * 1024 };
        let cr = writes(&d.erase_sector_ops(&s))[0].1;
        assert_eq!(cr & 0xF8, 15 << 3);
        assert_eq!(cr & 1 << 7, 0);
    }

    #[test]
    fn mass_erase_sets_mer2_only_with_two_banks() {
        let d = driver(0x419, 3300);
        let spec = &chips::find(0x419).unwrap().flash;
        let dual = writes(&d.mass_erase_ops(&FlashLayout::dual(spec, 2 * MIB)).unwrap());
        // MER bit 2 + MER1 bit 15 + PSIZE x32, then STRT.
        assert_eq!(dual[1], (0x4002_3C10, 0x4 | 1 << 15 | 2 << 8 | 1 << 16));
        let single = writes(&d.mass_erase_ops(&FlashLayout::single(spec, MIB / 2)).unwrap());
        assert_eq!(single[1], (0x4002_3C10, 0x4 | 2 << 8 | 1 << 16));
    }

    #[test]
    fn erase_times_follow_the_sector_size() {
        let (f4, f7) = (driver(0x413, 3300), driver(0x449, 3300));
        assert_eq!(sector_erase_time(f4.variant(), 16 * 1024), Duration::from_millis(250));
        assert_eq!(sector_erase_time(f4.variant(), 64 * 1024), Duration::from_millis(550));
        assert_eq!(sector_erase_time(f4.variant(), 128 * 1024), Duration::from_millis(1000));
        assert_eq!(sector_erase_time(f7.variant(), 32 * 1024), Duration::from_millis(250));
        assert_eq!(sector_erase_time(f7.variant(), 128 * 1024), Duration::from_millis(550));
        assert_eq!(sector_erase_time(f7.variant(), 256 * 1024), Duration::from_millis(1000));
    }

    #[test]
    fn f7_names_bit7_erserr() {
        let d = driver(0x449, 3300);
        assert!(d.error_flags().iter().any(|f| f.name == "ERSERR" && f.mask == 1 << 7));
        assert!(driver(0x431, 3300).error_flags().iter().any(|f| f.name == "PGSERR" && f.mask == 1 << 7));
        // BSY bit 16; errors are bits 1, 4-7, and RDERR (bit 8) only on the
        // dies with PCROP (stm32f746xx.h has no FLASH_SR_RDERR, stm32f411xe.h has).
        assert_eq!((d.status(1).addr, d.status(1).busy, d.status(1).errors), (0x4002_3C0C, 1 << 16, 0xF2));
        assert_eq!(driver(0x431, 3300).status(0).errors, 0x1F2);
        for dev_id in [0x411, 0x413, 0x449, 0x451] {
            assert!(driver(dev_id, 3300).error_flags().iter().all(|f| f.name != "RDERR"), "0x{dev_id:03X}");
        }
        assert!(driver(0x452, 3300).error_flags().iter().any(|f| f.name == "RDERR"));
    }
}
