//! STM32L0/L1 flash: the PECR-type controller (RM0377/RM0367/RM0376 for L0,
//! RM0038 for L1).
//!
//! Three locks, three key registers: PELOCK (PEKEYR) guards PECR itself and the
//! data EEPROM, PRGLOCK (PRGKEYR) the program memory, OPTLOCK (OPTKEYR) the
//! option bytes; PRGLOCK and OPTLOCK can only be cleared once PELOCK is.
//! Flash erases to 0x00. A page is erased by writing a 32-bit 0 into it with
//! ERASE|PROG set; data is programmed by half pages (FPRG|PROG, then the
//! 16/32 words of one half page written consecutively). There is no
//! mass-erase bit: a full erase goes page by page (the RDP 1→0 regression
//! would also wipe the data EEPROM and is left to the option-byte code).

use std::time::Duration;

use crate::chip::{Chip, Controller};
use crate::facts::{Facts, Scope};
use crate::flash::options::OptionWord;
use crate::flash::{
    unlock_with_keys, ErrorFlag, FlashController, FlashError, FlashLayout, ProgramAccess, RdpLevel, RegOp, Reserved,
    Sector, StatusReg, Width,
};
use crate::mcu::Target;

/// Register block: L0 0x40022000, L1 0x40023C00 (CMSIS
/// `stm32l053xx.h` FLASH_R_BASE = AHBPERIPH_BASE + 0x2000, `stm32l152xe.h`
/// FLASH_R_BASE = AHBPERIPH_BASE + 0x3C00).
const L0_BASE: u32 = 0x4002_2000;
const L1_BASE: u32 = 0x4002_3C00;

// Register offsets (embassy stm32-data flash_l0/flash_l1.json).
const PECR: u32 = 0x04;
const PEKEYR: u32 = 0x0C;
const PRGKEYR: u32 = 0x10;
const SR: u32 = 0x18;
const OBR: u32 = 0x1C;
/// FLASH_WRPR1 (L0: WRPR) at 0x20 for sectors 0-31, WRPR2/3/4 at 0x80/0x84/0x88
/// for sectors 32-127 (CMSIS stm32l152xe.h and stm32l073xx.h FLASH_TypeDef).
const WRPR: [u32; 4] = [0x20, 0x80, 0x84, 0x88];
/// The write-protection unit: a 4 KiB sector (RM0377 §3.3.1: 32 pages of
/// 128 bytes; RM0038: 16 pages of 256 bytes).
pub const WRP_SECTOR: u32 = 4 * 1024;
/// OBR/OPTR bit 8: L0 WPRMOD, L1 SPRMOD (CMSIS FLASH_OPTR_WPRMOD_Pos,
/// FLASH_OBR_SPRMOD_Pos = 8).
const OBR_PCROP_MODE: u32 = 1 << 8;
/// OBR/OPTR bits 7:0: the RDP byte as loaded (L0 `FLASH_OPTR_RDPROT`, L1
/// `FLASH_OBR_RDPRT`).
const OBR_RDP: u32 = 0xFF;

// PECR bits (CMSIS `stm32l152xe.h:3096-3130`).
pub const PECR_PELOCK: u32 = 1 << 0;
pub const PECR_PRGLOCK: u32 = 1 << 1;
pub const PECR_PROG: u32 = 1 << 3;
pub const PECR_ERASE: u32 = 1 << 9;
pub const PECR_FPRG: u32 = 1 << 10;

// SR bits (CMSIS `stm32l053xx.h`, `stm32l152xe.h:3154-3180`). RDERR is
// bit 13 in CMSIS `stm32l053xx.h:2360` (embassy's stm32-data register file says 14); it flags
// PCROP reads, not program/erase, so it is not checked here.
pub const SR_BSY: u32 = 1 << 0;
pub const SR_EOP: u32 = 1 << 1;
pub const SR_WRPERR: u32 = 1 << 8;
pub const SR_PGAERR: u32 = 1 << 9;
pub const SR_SIZERR: u32 = 1 << 10;
/// L0 only.
pub const SR_NOTZEROERR: u32 = 1 << 16;
/// L0 only.
pub const SR_FWWERR: u32 = 1 << 17;

/// Keys (stlink inc/stm32flash.h:294-301; OpenOCD src/flash/nor/stm32lx.c:67-72).
pub const PEKEY1: u32 = 0x89AB_CDEF;
pub const PEKEY2: u32 = 0x0203_0405;
pub const PRGKEY1: u32 = 0x8C9D_AEBF;
pub const PRGKEY2: u32 = 0x1314_1516;

/// Word, half-page and page-erase times: 3.2 ms (recalled from the datasheets' flash memory
/// characteristics, not checked);
/// CMSIS-pack algorithms allow 500 ms per call (OpenOCD src/flash/nor/stm32*.c timeouts).
const OP_TIME: Duration = Duration::from_micros(3200);
const OP_TIMEOUT: Duration = Duration::from_millis(500);

const COMMON_ERRORS: [ErrorFlag; 3] = [
    ErrorFlag {
        mask: SR_WRPERR,
        name: "WRPERR",
        meaning:
            "write-protected page, program memory still locked, or read protection active while a debugger is attached",
    },
    ErrorFlag {
        mask: SR_PGAERR,
        name: "PGAERR",
        meaning: "the words of a half page were not written consecutively inside one half page",
    },
    ErrorFlag { mask: SR_SIZERR, name: "SIZERR", meaning: "program memory only takes 32-bit writes" },
];

static L0_ERRORS: [ErrorFlag; 5] = [
    COMMON_ERRORS[0],
    COMMON_ERRORS[1],
    COMMON_ERRORS[2],
    ErrorFlag {
        mask: SR_NOTZEROERR,
        name: "NOTZEROERR",
        meaning: "the flash was not erased (not 0x00) where data was written",
    },
    ErrorFlag {
        mask: SR_FWWERR,
        name: "FWWERR",
        meaning: "a flash read interrupted the half-page write, which was abandoned",
    },
];

static L1_ERRORS: [ErrorFlag; 3] = COMMON_ERRORS;

/// What differs between the L0/L1 dies, as data (the chip rows point here).
#[derive(Debug)]
pub struct Variant {
    /// Controller name for messages.
    pub name: &'static str,
    /// Flash interface register block (0x40022000 on L0, 0x40023C00 on L1).
    pub base: u32,
    pub error_flags: &'static [ErrorFlag],
    /// The RDP option word (bit 8, the PCROP mode, where the die has it).
    pub rdp_option: &'static OptionWord,
    /// The user option word (BFB2 on the dual-bank dies only).
    pub user_option: &'static OptionWord,
    /// The data EEPROM of the die's parts, by flash size (`eeprom.rs`).
    pub eeprom: &'static [super::eeprom::EepromPart],
    /// OBR/OPTR bit 8 selects PCROP mode for the WRPROT bits (L0 WPRMOD: every
    /// CMSIS stm32l0xxx.h defines FLASH_OPTR_WPRMOD; L1 SPRMOD on cat.2 and
    /// cat.3 only: stm32l151xba.h, stm32l151xc.h, stm32l152xc.h, stm32l162xc.h).
    pub pcrop_mode: bool,
    /// The header that represents the die in `facts/cmsis.facts` (its
    /// largest part: the data EEPROM `chips::data_eeprom` gives), set by
    /// every die; for the register facts.
    pub header: &'static str,
    /// The name of the data EEPROM's last address in ST's headers (L0
    /// `DATA_EEPROM_END`, L1 `FLASH_EEPROM_END`; L0 cat.5 has two banks,
    /// `DATA_EEPROM_BANK2_END`, stm32l073xx.h:628-631).
    pub eeprom_end_header: &'static str,
}

/// L0 dies (RM0377, RM0367, RM0376).
pub const L0: Variant = Variant {
    name: "STM32L0",
    base: L0_BASE,
    error_flags: &L0_ERRORS,
    rdp_option: &super::options::OB_RDP_L0,
    user_option: &super::options::OB_USER_L0,
    eeprom: &[],
    pcrop_mode: true,
    header: "",
    eeprom_end_header: "DATA_EEPROM_END",
};
/// L1 dies (RM0038).
pub const L1: Variant = Variant {
    name: "STM32L1",
    base: L1_BASE,
    error_flags: &L1_ERRORS,
    rdp_option: &super::options::OB_RDP_L1,
    user_option: &super::options::OB_USER_L1,
    pcrop_mode: false,
    eeprom_end_header: "FLASH_EEPROM_END",
    ..L0
};

/// The L0 or L1 PECR controller of a chip.
pub struct LpController {
    chip: &'static Chip,
    variant: &'static Variant,
    base: u32,
    errors: &'static [ErrorFlag],
}

impl LpController {
    /// `None` when `chip` is not an L0/L1 row.
    pub fn new(chip: &'static Chip) -> Option<LpController> {
        let Controller::L0L1(variant) = chip.controller else { return None };
        Some(LpController { chip, variant, base: variant.base, errors: variant.error_flags })
    }

    pub fn variant(&self) -> &'static Variant {
        self.variant
    }

    /// An L0 (rather than an L1) controller.
    pub fn is_l0(&self) -> bool {
        self.base == L0_BASE
    }

    /// ST's name of write-protection register `k` (0-based): L0 `FLASH_WRPR`,
    /// `FLASH_WRPR2` (stm32l073xx.h `FLASH_TypeDef`), L1 `FLASH_WRPR1` …
    /// `FLASH_WRPR4` (stm32l152xe.h).
    pub fn wrpr_name(&self, k: usize) -> String {
        match k {
            0 if self.is_l0() => "FLASH_WRPR".to_string(),
            k => format!("FLASH_WRPR{}", k + 1),
        }
    }

    /// How many write-protection registers the largest part of the row has
    /// (one bit per 4 KiB sector, 32 per register).
    pub fn wrpr_count(&self) -> usize {
        (self.chip.max_flash_kib * 1024).div_ceil(WRP_SECTOR).div_ceil(32) as usize
    }

    fn pecr(&self) -> u32 {
        self.base + PECR
    }

    pub fn chip(&self) -> &'static Chip {
        self.chip
    }

    /// Register block base (0x40022000 on L0, 0x40023C00 on L1).
    pub fn base(&self) -> u32 {
        self.base
    }
}

impl FlashController for LpController {
    fn name(&self) -> &'static str {
        self.variant.name
    }

    fn layout(&mut self, t: &mut Target) -> Result<FlashLayout, FlashError> {
        // No option bit changes the map: the row says whether a hole splits it.
        Ok(match self.chip.flash.dual {
            Some(_) => FlashLayout::dual(&self.chip.flash, t.flash_size),
            None => FlashLayout::single(&self.chip.flash, t.flash_size),
        })
    }

    fn status(&self, _bank: u8) -> StatusReg {
        StatusReg {
            addr: self.base + SR,
            busy: SR_BSY,
            errors: self.errors.iter().fold(0, |m, f| m | f.mask),
            clear_reg: None,
            eop: SR_EOP,
        }
    }

    fn error_flags(&self) -> &'static [ErrorFlag] {
        self.errors
    }

    /// PELOCK first (PEKEYR), then PRGLOCK (PRGKEYR): the RM's order, each
    /// only when still locked.
    fn unlock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        let pecr = self.pecr();
        unlock_with_keys(t, "FLASH_PECR (PELOCK)", pecr, PECR_PELOCK, self.base + PEKEYR, [PEKEY1, PEKEY2])?;
        unlock_with_keys(t, "the program memory (PRGLOCK)", pecr, PECR_PRGLOCK, self.base + PRGKEYR, [PRGKEY1, PRGKEY2])
    }

    /// Leave every mode, then set PRGLOCK and PELOCK (PELOCK also relocks the
    /// option bytes). Nothing to do if PECR is locked already (it would ignore
    /// the writes).
    fn lock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        if t.read32(self.pecr())? & PECR_PELOCK != 0 {
            return Ok(());
        }
        t.write32(self.pecr(), 0)?;
        t.write32(self.pecr(), PECR_PRGLOCK | PECR_PELOCK)?;
        Ok(())
    }

    /// ERASE|PROG, a 32-bit 0 written into the page, wait, leave erase mode.
    fn erase_sector_ops(&self, sector: &Sector) -> Vec<RegOp> {
        vec![
            RegOp::Write { addr: self.pecr(), value: PECR_ERASE | PECR_PROG },
            RegOp::Write { addr: sector.addr, value: 0 },
            RegOp::WaitIdle { bank: sector.bank, typical: OP_TIME, timeout: OP_TIMEOUT },
            RegOp::Write { addr: self.pecr(), value: 0 },
        ]
    }

    fn mass_erase_ops(&self, _layout: &FlashLayout) -> Option<Vec<RegOp>> {
        None
    }

    fn program_setup_ops(&self, _bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: self.pecr(), value: PECR_FPRG | PECR_PROG }]
    }

    fn program_teardown_ops(&self, _bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: self.pecr(), value: 0 }]
    }

    /// One half page per operation, as consecutive 32-bit writes.
    fn program_access(&self) -> ProgramAccess {
        ProgramAccess { unit: self.chip.flash.write_unit, width: Width::Word, typical: OP_TIME, timeout: OP_TIMEOUT }
    }

    fn options(&mut self) -> Option<&mut dyn crate::flash::options::OptionBytes> {
        Some(self)
    }

    fn eeprom(&mut self) -> Option<&mut dyn crate::flash::eeprom::DataEeprom> {
        Some(self)
    }

    /// The write-protected (or PCROP) sectors, from FLASH_WRPR1..4 as in
    /// force: a write or `erase` that touches one is refused before anything
    /// is erased, where the controller would erase the pages before it and
    /// then stop with WRPERR.
    fn reserved_ranges(&mut self, t: &mut Target) -> Result<Vec<Reserved>, FlashError> {
        let layout = self.layout(t)?;
        let sectors = layout.banks.last().map_or(0, |b| b.end() - layout.base() as u64).div_ceil(WRP_SECTOR as u64);
        let mut wrpr = Vec::new();
        for &off in WRPR.iter().take(sectors.div_ceil(32) as usize) {
            wrpr.push(t.read32(self.base + off)?);
        }
        let pcrop = self.variant.pcrop_mode && t.read32(self.base + OBR)? & OBR_PCROP_MODE != 0;
        Ok(self.write_protected(&layout, &wrpr, pcrop))
    }

    /// OBR.RDPROT: 0xAA level 0, 0xCC level 2, anything else level 1 (ST's HAL
    /// stm32l0xx_hal_flash_ex.h:380-382, stm32l1xx_hal_flash_ex.h:546-548).
    fn rdp_level(&mut self, t: &mut Target) -> Result<RdpLevel, FlashError> {
        Ok(RdpLevel::from_byte((t.read32(self.base + OBR)? & OBR_RDP) as u8))
    }
}

/// The driver's facts for a row, by the names of ST's headers (L0:
/// stm32l053xx.h, L1: stm32l152xe.h, FLASH_TypeDef and FLASH_PECR/SR/OPTR
/// bits; keys: stm32l0xx_hal_flash.h, stm32l1xx_hal_flash.h).
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    let Some(d) = LpController::new(c) else { return };
    let l0 = d.is_l0();
    f.source("driver");
    f.number("FLASH_R_BASE", d.base as u64);
    let obr = if l0 { "OPTR" } else { "OBR" };
    for (reg, offset) in [("PECR", PECR), ("PEKEYR", PEKEYR), ("PRGKEYR", PRGKEYR), ("SR", SR), (obr, OBR)] {
        f.number(format!("FLASH_TypeDef.{reg}"), offset as u64);
    }
    for (k, &offset) in WRPR.iter().enumerate().take(d.wrpr_count()) {
        let name = d.wrpr_name(k);
        f.number(format!("FLASH_TypeDef.{}", &name[6..]), offset as u64);
        // The L0 headers give FLASH_WRPR_WRP 16 bits on every die, cat.5
        // included, where ST's HAL keeps sectors 16-31 in WRPR bits 31:16
        // (stm32l0xx_hal_flash_ex.c:1076, `OB->WRP23`): the L1 widths only,
        // those of the largest part (the 384 KiB cat.6 parts use 16 bits of
        // WRPR2 and WRPR4, stm32l151xdx.h:3193,3199: their sectors 48-63 and
        // 112-127 are not in the flash, `write_protected` leaves them out).
        if !l0 {
            f.scope(Scope::Part(d.variant.header)).field(format!("{name}_WRP"), 0, 32).scope(Scope::Die);
        }
    }
    for (bit, mask) in [
        ("PELOCK", PECR_PELOCK),
        ("PRGLOCK", PECR_PRGLOCK),
        ("PROG", PECR_PROG),
        ("ERASE", PECR_ERASE),
        ("FPRG", PECR_FPRG),
    ] {
        f.mask(format!("FLASH_PECR_{bit}"), mask);
    }
    f.mask("FLASH_SR_BSY", SR_BSY).mask("FLASH_SR_EOP", SR_EOP);
    for flag in d.errors {
        f.mask(format!("FLASH_SR_{}", flag.name), flag.mask);
    }
    f.number("FLASH_PEKEY1", PEKEY1 as u64).number("FLASH_PEKEY2", PEKEY2 as u64);
    f.number("FLASH_PRGKEY1", PRGKEY1 as u64).number("FLASH_PRGKEY2", PRGKEY2 as u64);
    f.mask(if l0 { "FLASH_OPTR_RDPROT" } else { "FLASH_OBR_RDPRT" }, OBR_RDP);
    if d.variant.pcrop_mode {
        f.mask(if l0 { "FLASH_OPTR_WPRMOD" } else { "FLASH_OBR_SPRMOD" }, OBR_PCROP_MODE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;

    fn l0() -> LpController {
        LpController::new(chips::find(0x417).unwrap()).unwrap()
    }

    #[test]
    fn page_erase_writes_erase_and_prog_then_zero_into_the_page() {
        let c = l0();
        let s = Sector { bank: 0, index: 5, addr: 0x0800_0280, size: 128 };
        let ops = c.erase_sector_ops(&s);
        // RM0377: PECR.ERASE is bit 9, PECR.PROG bit 3; PECR at 0x40022004.
        assert_eq!(ops[0], RegOp::Write { addr: 0x4002_2004, value: (1 << 9) | (1 << 3) });
        assert_eq!(ops[1], RegOp::Write { addr: 0x0800_0280, value: 0 });
        assert!(matches!(ops[2], RegOp::WaitIdle { bank: 0, .. }));
        assert_eq!(ops[3], RegOp::Write { addr: 0x4002_2004, value: 0 });
        assert!(c.mass_erase_ops(&FlashLayout::single(&c.chip.flash, 65536)).is_none());
    }

    #[test]
    fn half_page_programming_uses_fprg_and_prog_and_word_writes() {
        let c = l0();
        // FPRG bit 10, PROG bit 3.
        assert_eq!(c.program_setup_ops(0), vec![RegOp::Write { addr: 0x4002_2004, value: 0x408 }]);
        assert_eq!(c.program_teardown_ops(0), vec![RegOp::Write { addr: 0x4002_2004, value: 0 }]);
        let a = c.program_access();
        assert_eq!((a.unit, a.width), (64, Width::Word), "L0 half page = 16 words");
        let l1 = LpController::new(chips::find(0x437).unwrap()).unwrap();
        assert_eq!(l1.program_access().unit, 128, "L1 half page = 32 words");
        assert_eq!(l1.program_setup_ops(0), vec![RegOp::Write { addr: 0x4002_3C04, value: 0x408 }]);
    }

    #[test]
    fn status_flags_are_at_their_rm_positions() {
        let s = l0().status(0);
        assert_eq!(s.addr, 0x4002_2018);
        assert_eq!((s.busy, s.eop), (1, 2));
        // WRPERR 8, PGAERR 9, SIZERR 10, NOTZEROERR 16, FWWERR 17 (L0).
        assert_eq!(s.errors, 0x0003_0700);
        let l1 = LpController::new(chips::find(0x416).unwrap()).unwrap();
        assert_eq!(l1.status(0).errors, 0x0700, "L1 has no NOTZEROERR/FWWERR");
        assert_eq!(l1.status(0).addr, 0x4002_3C18);
    }
}
