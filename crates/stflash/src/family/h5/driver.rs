//! STM32H5 flash (RM0481): its own register map, not
//! L5's (stlink gets this wrong: its H5xx.chip uses
//! flash_type L5_U5_H5; stlink issue #1398).
//!
//! One non-secure register set (NSKEYR/NSSR/NSCR/NSCCR) serves both banks;
//! NSCR.BKSEL picks the *physical* bank of a sector or bank erase and ignores
//! SWAP_BANK, so with the banks swapped (OPTCR.SWAP_BANK) the address
//! 0x08000000 lies in physical bank 2. Data goes through a 128-bit write
//! buffer that programs when its four words are in. Errors are cleared in
//! NSCCR. Read protection is the "product state" in OPTSR_CUR.
//!
//! One controller on every H5 die: the H503 (RM0492), H523/H533 and
//! H562/H563/H573 (RM0481) have the same NSKEYR/NSSR/NSCR/NSCCR offsets and
//! bit positions (CMSIS `FLASH_TypeDef` in stm32h503xx.h:449-499,
//! stm32h523xx.h:511-575, stm32h563xx.h:710-783; NSCR SER 2, STRT 5, SNB
//! from bit 6, BKSEL 31), the same sequences (ST's HAL stm32h5xx_hal_flash.c
//! and _ex.c: PG and a quad word, SER|SNB|BKSEL then STRT, MER), and bank 2
//! at half the flash. What differs is data ([`Variant`]): TrustZone (no
//! OPTSR2.TZEN on the H503), how many sectors a WRPxR bit protects (one on
//! the H503, whose banks have eight; four elsewhere: ST HAL
//! stm32h5xx_hal_flash_ex.h `OB_WRP_SECTOR_*`), the OPTSR/OPTSR2 fields,
//! and the high-cycle data area (EDATA) of the H523/H533 and H56x/H573.

use std::time::Duration;

use crate::chip::{Chip, Controller};
use crate::flash::options::OptionWord;
use crate::flash::{
    start_then_clear, unlock_with_keys, ErrorFlag, FlashController, FlashError, FlashLayout, ProgramAccess, RdpLevel,
    RegOp, Reserved, Sector, StatusReg, Width, KEY1, KEY2,
};
use crate::mcu::Target;

/// Register block and offsets (embassy stm32-data flash_h5.json; CMSIS
/// `stm32h563xx.h` FLASH_TypeDef).
const BASE: u32 = 0x4002_2000;
const NSKEYR: u32 = BASE + 0x04;
const OPTCR: u32 = BASE + 0x1C;
const NSSR: u32 = BASE + 0x20;
const NSCR: u32 = BASE + 0x28;
const NSCCR: u32 = BASE + 0x30;
const OPTSR_CUR: u32 = BASE + 0x50;
const OPTSR2_CUR: u32 = BASE + 0x70;
/// Write protection in force, bank 1 and 2 (RM0481 FLASH_WRP1R_CUR, WRP2R_CUR).
const WRP1R_CUR: u32 = BASE + 0xE8;
const WRP2R_CUR: u32 = BASE + 0x1E8;

// NSSR (ST's SVD via embassy stm32-data-generated data/registers/flash_h5.json).
pub const SR_BSY: u32 = 1 << 0;
pub const SR_WBNE: u32 = 1 << 1;
pub const SR_DBNE: u32 = 1 << 3;
pub const SR_EOP: u32 = 1 << 16;
pub const SR_WRPERR: u32 = 1 << 17;
pub const SR_PGSERR: u32 = 1 << 18;
pub const SR_STRBERR: u32 = 1 << 19;
pub const SR_INCERR: u32 = 1 << 20;
pub const SR_OBKERR: u32 = 1 << 21;
pub const SR_OBKWERR: u32 = 1 << 22;
pub const SR_OPTCHANGEERR: u32 = 1 << 23;

// NSCR (same source).
pub const CR_LOCK: u32 = 1 << 0;
pub const CR_PG: u32 = 1 << 1;
pub const CR_SER: u32 = 1 << 2;
pub const CR_BER: u32 = 1 << 3;
pub const CR_FW: u32 = 1 << 4;
pub const CR_STRT: u32 = 1 << 5;
pub const CR_SNB_SHIFT: u32 = 6;
pub const CR_MER: u32 = 1 << 15;
pub const CR_BKSEL: u32 = 1 << 31;

/// OPTCR.SWAP_BANK (embassy stm32-data flash_h5.json OPTCR).
pub const OPTCR_SWAP_BANK: u32 = 1 << 31;
/// OPTSR_CUR.PRODUCT_STATE, bits 15:8 (CMSIS `stm32h563xx.h:10063`).
pub const PRODUCT_STATE_SHIFT: u32 = 8;
/// OPTSR2_CUR.TZEN, bits 31:24: 0xB4 enabled, 0xC3 disabled (embassy stm32-data flash_h5.json
/// enum OPTSR_TZEN; CMSIS `stm32h563xx.h:10109`).
pub const TZEN_SHIFT: u32 = 24;
pub const TZEN_ENABLED: u32 = 0xB4;

/// Product states (ST HAL `stm32h5xx_hal_flash_ex.h` OB_PROD_STATE_*).
pub const STATE_OPEN: u32 = 0xED;
pub const STATE_PROVISIONING: u32 = 0x17;
pub const STATE_IROT_PROVISIONED: u32 = 0x2E;
pub const STATE_TZ_CLOSED: u32 = 0xC6;
pub const STATE_CLOSED: u32 = 0x72;
pub const STATE_LOCKED: u32 = 0x5C;

/// Timing (recalled from the datasheets' flash memory characteristics, not
/// checked: 16-byte word 82 µs, 8 KiB sector
/// 1.5 ms, bank erase 22 ms); timeouts follow the CMSIS-pack algorithms' 400 ms
/// per call for words and sectors (OpenOCD src/flash/nor/stm32*.c timeouts) and 30 s for bank
/// and mass erases.
const PROGRAM_TIME: Duration = Duration::from_micros(82);
const PROGRAM_TIMEOUT: Duration = Duration::from_millis(400);
const ERASE_TIME: Duration = Duration::from_micros(1500);
const ERASE_TIMEOUT: Duration = Duration::from_millis(400);
const MASS_ERASE_TIME: Duration = Duration::from_millis(22);
const MASS_ERASE_TIMEOUT: Duration = Duration::from_secs(30);

static ERRORS: [ErrorFlag; 7] = [
    ErrorFlag {
        mask: SR_WRPERR,
        name: "WRPERR",
        meaning: "the sector is write-protected (WRP group, HDP area or product state)",
    },
    ErrorFlag {
        mask: SR_PGSERR,
        name: "PGSERR",
        meaning: "programming sequence error (wrong control bits or a stale error)",
    },
    ErrorFlag { mask: SR_STRBERR, name: "STRBERR", meaning: "the same byte was written twice into the write buffer" },
    ErrorFlag {
        mask: SR_INCERR,
        name: "INCERR",
        meaning: "inconsistent write: the 16-byte flash word was not written in one go",
    },
    ErrorFlag { mask: SR_OBKERR, name: "OBKERR", meaning: "option-byte key access error" },
    ErrorFlag { mask: SR_OBKWERR, name: "OBKWERR", meaning: "option-byte key storage not virgin" },
    ErrorFlag { mask: SR_OPTCHANGEERR, name: "OPTCHANGEERR", meaning: "an option-byte change failed" },
];

/// What differs between the H5 dies, as data (the chip rows point here).
#[derive(Debug)]
pub struct Variant {
    /// Controller name for messages.
    pub name: &'static str,
    /// OPTSR2.TZEN exists (bits 31:24: CMSIS stm32h563xx.h:10052,
    /// stm32h523xx.h:7357; the H503 has no TrustZone, stm32h503xx.h:5568-5580).
    pub trustzone: bool,
    pub optsr: &'static OptionWord,
    pub optsr2: &'static OptionWord,
    /// WRP1R and WRP2R: one bit per sector or per group of four.
    pub wrp: [&'static OptionWord; 2],
    /// EDATA1R and EDATA2R, where the die has a high-cycle data area.
    pub edata: Option<[&'static OptionWord; 2]>,
}

/// H562/H563/H573 (RM0481): 128 sectors per bank, WRPSG 32 bits of four
/// sectors (stm32h563xx.h:9758, 10078), EDATA.
pub static H56X: Variant = Variant {
    name: "STM32H5",
    trustzone: true,
    optsr: &super::options::OPTSR,
    optsr2: &super::options::OPTSR2,
    wrp: [&super::options::WRP1R, &super::options::WRP2R],
    edata: Some([&super::options::EDATA1R, &super::options::EDATA2R]),
};
/// H523/H533 (RM0481): up to 32 sectors per bank, WRPSG 8 bits of four
/// sectors (stm32h523xx.h:7066, 7383), OPTSR2 without SRAM3_ECC, EDATA.
pub static H52X: Variant = Variant {
    name: "STM32H523/H533",
    optsr2: &super::options::OPTSR2_H52X,
    wrp: [&super::options::WRP1R_H52X, &super::options::WRP2R_H52X],
    ..H56X
};
/// H503 (RM0492): 8 sectors per bank, WRPSG 8 bits of one sector
/// (stm32h503xx.h:5335, 5599), no TrustZone, no BOOT_UBE, no EDATA.
pub static H503: Variant = Variant {
    name: "STM32H503",
    trustzone: false,
    optsr: &super::options::OPTSR_H503,
    optsr2: &super::options::OPTSR2_H503,
    wrp: [&super::options::WRP1R_H503, &super::options::WRP2R_H503],
    edata: None,
};

/// The H5 flash controller.
pub struct H5Controller {
    chip: &'static Chip,
    variant: &'static Variant,
    /// OPTCR.SWAP_BANK as read by `layout`: logical bank N is physical bank !N.
    swapped: bool,
}

impl H5Controller {
    /// `None` when `chip` is not an H5 row.
    pub fn new(chip: &'static Chip) -> Option<H5Controller> {
        let Controller::H5(variant) = chip.controller else { return None };
        Some(H5Controller { chip, variant, swapped: false })
    }

    pub fn chip(&self) -> &'static Chip {
        self.chip
    }

    pub fn variant(&self) -> &'static Variant {
        self.variant
    }

    /// BKSEL for a logical bank (BKSEL names the physical bank).
    fn bksel(&self, bank: u8) -> u32 {
        if (bank == 1) != self.swapped {
            CR_BKSEL
        } else {
            0
        }
    }
}

/// How a product state reads as an RDP level: Open, Provisioning and
/// TZ-Closed leave the non-secure flash open to the debugger; iROT-Provisioned
/// and Closed shut debug access (reopening it needs a regression, which erases
/// the flash) like level 1; Locked is final like level 2. The regression
/// states and unknown codes count as level 1.
pub fn rdp_of_product_state(state: u32) -> RdpLevel {
    match state {
        STATE_OPEN | STATE_PROVISIONING | STATE_TZ_CLOSED => RdpLevel::Level0,
        STATE_LOCKED => RdpLevel::Level2,
        _ => RdpLevel::Level1,
    }
}

impl FlashController for H5Controller {
    fn name(&self) -> &'static str {
        self.variant.name
    }

    fn layout(&mut self, t: &mut Target) -> Result<FlashLayout, FlashError> {
        self.swapped = t.read32(OPTCR)? & OPTCR_SWAP_BANK != 0;
        Ok(FlashLayout::dual(&self.chip.flash, t.flash_size))
    }

    fn status(&self, _bank: u8) -> StatusReg {
        StatusReg {
            addr: NSSR,
            busy: SR_BSY | SR_DBNE,
            errors: ERRORS.iter().fold(0, |m, f| m | f.mask),
            clear_reg: Some(NSCCR),
            eop: SR_EOP,
        }
    }

    fn error_flags(&self) -> &'static [ErrorFlag] {
        &ERRORS
    }

    fn unlock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        if self.variant.trustzone && (t.read32(OPTSR2_CUR)? >> TZEN_SHIFT) & 0xFF == TZEN_ENABLED {
            return Err(FlashError::Unsupported(
                "TrustZone is enabled on this STM32H5 (OPTSR2.TZEN = 0xB4): the non-secure flash registers cannot \
                 erase or program secure sectors, and stflash does not drive the secure ones; use \
                 STM32CubeProgrammer"
                    .into(),
            ));
        }
        unlock_with_keys(t, "FLASH_NSCR", NSCR, CR_LOCK, NSKEYR, [KEY1, KEY2])
    }

    /// Clear the operation bits, then set LOCK (which leaves the others as they are).
    /// Both banks share NSCR: a second call finds it locked and does nothing.
    fn lock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        if t.read32(NSCR)? & CR_LOCK != 0 {
            return Ok(());
        }
        t.write32(NSCR, 0)?;
        t.write32(NSCR, CR_LOCK)?;
        Ok(())
    }

    /// SER + SNB (bank-relative) + BKSEL (physical bank), then STRT.
    fn erase_sector_ops(&self, sector: &Sector) -> Vec<RegOp> {
        let cr = CR_SER | (sector.index << CR_SNB_SHIFT) | self.bksel(sector.bank);
        let wait = RegOp::WaitIdle { bank: sector.bank, typical: ERASE_TIME, timeout: ERASE_TIMEOUT };
        start_then_clear(NSCR, cr, CR_STRT, wait)
    }

    /// MER erases both banks' user flash.
    fn mass_erase_ops(&self, _layout: &FlashLayout) -> Option<Vec<RegOp>> {
        let wait = RegOp::WaitIdle { bank: 0, typical: MASS_ERASE_TIME, timeout: MASS_ERASE_TIMEOUT };
        Some(start_then_clear(NSCR, CR_MER, CR_STRT, wait))
    }

    fn options(&mut self) -> Option<&mut dyn crate::flash::options::OptionBytes> {
        Some(self)
    }

    /// The write-protected sectors, from WRP1R_CUR/WRP2R_CUR: a write or
    /// `erase` that touches one is refused before anything is erased, where
    /// the controller would erase the sectors before it and then stop with
    /// WRPERR. On dies with EDATA, the sectors given to the high-cycle data
    /// area are refused too.
    fn reserved_ranges(&mut self, t: &mut Target) -> Result<Vec<Reserved>, FlashError> {
        let layout = self.layout(t)?;
        let wrp = [t.read32(WRP1R_CUR)?, t.read32(WRP2R_CUR)?];
        let mut out = self.write_protected(&layout, wrp, self.swapped);
        if let Some(words) = self.variant.edata {
            let edata = [t.read32(words[0].addr)?, t.read32(words[1].addr)?];
            out.extend(self.edata_sectors(&layout, edata, self.swapped));
        }
        Ok(out)
    }

    fn program_setup_ops(&self, _bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: NSCR, value: CR_PG }]
    }

    fn program_teardown_ops(&self, _bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: NSCR, value: 0 }]
    }

    /// NSCR.FW writes a partly filled flash word (missing bytes erased)
    /// so that the next write starts a new one (RM0481 §7.9.9 FLASH_NSCR FW).
    fn recover_ops(&self, bank: u8) -> Vec<RegOp> {
        let wait = RegOp::WaitIdle { bank, typical: PROGRAM_TIME, timeout: Duration::from_millis(100) };
        vec![RegOp::Write { addr: NSCR, value: CR_PG | CR_FW }, wait, RegOp::Write { addr: NSCR, value: 0 }]
    }

    fn program_access(&self) -> ProgramAccess {
        ProgramAccess {
            unit: self.chip.flash.write_unit,
            width: Width::Word,
            typical: PROGRAM_TIME,
            timeout: PROGRAM_TIMEOUT,
        }
    }

    fn rdp_level(&mut self, t: &mut Target) -> Result<RdpLevel, FlashError> {
        let state = (t.read32(OPTSR_CUR)? >> PRODUCT_STATE_SHIFT) & 0xFF;
        Ok(rdp_of_product_state(state))
    }
}

/// The driver's facts for a row, by the names of ST's headers
/// (stm32h563xx.h:9829-9948 FLASH_SR/CR/CCR; keys: stm32h5xx_hal_flash.h;
/// product states: stm32h5xx_hal_flash_ex.h `OB_PROD_STATE_*`).
pub(super) fn register_facts(c: &'static Chip, f: &mut crate::facts::Facts) {
    let Some(d) = H5Controller::new(c) else { return };
    f.source("driver");
    f.number("FLASH_R_BASE_NS", BASE as u64);
    let regs = [
        ("NSKEYR", NSKEYR),
        ("OPTCR", OPTCR),
        ("NSSR", NSSR),
        ("NSCR", NSCR),
        ("NSCCR", NSCCR),
        ("OPTSR_CUR", OPTSR_CUR),
        ("OPTSR2_CUR", OPTSR2_CUR),
        ("WRP1R_CUR", WRP1R_CUR),
        ("WRP2R_CUR", WRP2R_CUR),
    ];
    for (reg, addr) in regs {
        f.number(format!("FLASH_TypeDef.{reg}"), (addr - BASE) as u64);
    }
    f.number("FLASH_KEY1", KEY1 as u64).number("FLASH_KEY2", KEY2 as u64);
    f.mask("FLASH_SR_BSY", SR_BSY).mask("FLASH_SR_WBNE", SR_WBNE).mask("FLASH_SR_DBNE", SR_DBNE);
    f.mask("FLASH_SR_EOP", SR_EOP);
    for flag in &ERRORS {
        // H503: no OBK, bits 21-22 reserved and read 0 (stm32h503xx.h
        // defines no FLASH_SR_OBKERR/OBKWERR), so the flags never fire.
        if !d.variant.trustzone && flag.name.starts_with("OBK") {
            continue;
        }
        f.mask(format!("FLASH_SR_{}", flag.name), flag.mask);
        f.mask(format!("FLASH_CCR_CLR_{}", flag.name), flag.mask);
    }
    for (bit, mask) in [
        ("LOCK", CR_LOCK),
        ("PG", CR_PG),
        ("SER", CR_SER),
        ("BER", CR_BER),
        ("FW", CR_FW),
        ("START", CR_STRT),
        ("MER", CR_MER),
        ("BKSEL", CR_BKSEL),
    ] {
        f.mask(format!("FLASH_CR_{bit}"), mask);
    }
    // SNB as wide as the sectors of a bank of the largest part need.
    let sectors = c.max_flash_kib * 1024 / 2 / c.flash.sectors[0].1;
    f.field("FLASH_CR_SNB", CR_SNB_SHIFT, 32 - (sectors - 1).leading_zeros());
    f.mask("FLASH_OPTCR_SWAP_BANK", OPTCR_SWAP_BANK);
    f.field("FLASH_OPTSR_PRODUCT_STATE", PRODUCT_STATE_SHIFT, 8);
    for (name, state) in [
        ("OPEN", STATE_OPEN),
        ("PROVISIONING", STATE_PROVISIONING),
        ("IROT_PROVISIONED", STATE_IROT_PROVISIONED),
        ("CLOSED", STATE_CLOSED),
        ("LOCKED", STATE_LOCKED),
    ] {
        f.number(format!("OB_PROD_STATE_{name}"), (state << PRODUCT_STATE_SHIFT) as u64);
    }
    if d.variant.trustzone {
        f.field("FLASH_OPTSR2_TZEN", TZEN_SHIFT, 8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;

    fn h563() -> H5Controller {
        H5Controller::new(chips::find(0x484).unwrap()).unwrap()
    }

    #[test]
    fn sector_erase_uses_the_h5_bit_positions() {
        let c = h563();
        let s = Sector { bank: 1, index: 5, addr: 0x0810_A000, size: 8192 };
        let ops = c.erase_sector_ops(&s);
        // RM0481 NSCR at 0x40022028: SER bit 2, SNB bits 12:6, STRT bit 5, BKSEL bit 31.
        let cr = (1 << 2) | (5 << 6) | (1 << 31);
        assert_eq!(ops[0], RegOp::Write { addr: 0x4002_2028, value: cr });
        assert_eq!(ops[1], RegOp::Write { addr: 0x4002_2028, value: cr | (1 << 5) });
        assert_eq!(ops[3], RegOp::Write { addr: 0x4002_2028, value: 0 });
        let s0 = Sector { bank: 0, index: 127, addr: 0x080F_E000, size: 8192 };
        assert_eq!(c.erase_sector_ops(&s0)[0], RegOp::Write { addr: 0x4002_2028, value: (1 << 2) | (127 << 6) });
    }

    #[test]
    fn swapped_banks_invert_bksel() {
        let mut c = h563();
        c.swapped = true;
        let s0 = Sector { bank: 0, index: 0, addr: 0x0800_0000, size: 8192 };
        assert_eq!(c.erase_sector_ops(&s0)[0], RegOp::Write { addr: 0x4002_2028, value: (1 << 2) | (1 << 31) });
    }

    #[test]
    fn errors_are_cleared_through_nsccr() {
        let s = h563().status(0);
        assert_eq!(s.addr, 0x4002_2020);
        assert_eq!(s.clear_reg, Some(0x4002_2030));
        assert_eq!(s.eop, 1 << 16);
        assert_eq!(s.errors, 0x00FE_0000, "WRPERR..OPTCHANGEERR, bits 17-23");
        assert_eq!(
            h563().mass_erase_ops(&FlashLayout::dual(&h563().chip.flash, 2 << 20)).unwrap()[1],
            RegOp::Write { addr: 0x4002_2028, value: (1 << 15) | (1 << 5) }
        );
    }

    #[test]
    fn product_states_map_to_rdp_levels() {
        assert_eq!(rdp_of_product_state(0xED), RdpLevel::Level0);
        assert_eq!(rdp_of_product_state(0xC6), RdpLevel::Level0);
        assert_eq!(rdp_of_product_state(0x72), RdpLevel::Level1);
        assert_eq!(rdp_of_product_state(0x2E), RdpLevel::Level1);
        assert_eq!(rdp_of_product_state(0x5C), RdpLevel::Level2);
        assert_eq!(rdp_of_product_state(0x9A), RdpLevel::Level1);
    }
}
