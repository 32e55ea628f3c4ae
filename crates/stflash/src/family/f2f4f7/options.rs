//! STM32F2/F4/F7 option bytes (
//! RM0090 §3.7 and §3.9.10-11, RM0033 §2.6, RM0385/RM0410 §3.4 and §3.7.6-7).
//!
//! The options are edited through FLASH_OPTCR (and FLASH_OPTCR1): unlock
//! OPTCR with the option keys, write the new values, set OPTSTRT, wait until
//! BSY clears, lock again. They take effect at once, except the bank mode
//! (F42x DB1M, F76x nDBANK), which the flash map follows only after a reset:
//! stflash resets and reconnects after such a change. An RDP 1 → 0 change
//! mass-erases the flash inside the wait (up to 32 s at x8: OpenOCD
//! src/flash/nor/stm32f2x.c:108-113).
//!
//! st-flash's areas (stlink src/stlink-lib/option_bytes.c:1079-1117): `option` reads and writes OPTCR on
//! F2 and on every F4 (st-flash read the memory-mapped word at 0x1FFFC000 on
//! F401/F410/F411/F412/F413/F42x but wrote OPTCR; stflash reads what it
//! writes) and on F7 (st-flash's F7 `option` write went to 0x1FFF0000 and
//! failed: stlink option_bytes.c:356-379); `optcr` is OPTCR; `optcr1` is OPTCR1 (F7 boot
//! addresses; nWRP of sectors 12-23 on F42x/F43x/F469/F479); `option_boot_add`
//! is OPTCR1 on F7. F413/F423 keep all their nWRP bits in OPTCR (15 bits,
//! the last for sectors 14 and 15: CMSIS stm32f413xx.h `FLASH_OPTCR_nWRP_14`
//! = `_15`, ST HAL `OB_WRP_SECTOR_14` = `_15`, written to OPTCR only) and
//! have no OPTCR1 (ST's SVD, as stm32-rs lists it).
//!
//! Write protection in force is OPTCR/OPTCR1 itself (the registers show the
//! loaded option bytes): `FsController::write_protected` turns it into
//! address ranges for `FlashController::reserved_ranges`. With SPRMOD set
//! (PCROP mode, F4 but F405/F407/F415/F417) a set nWRP bit means the sector
//! is PCROP-protected, which also blocks erase and program (ST HAL
//! stm32f4xx_hal_flash_ex.c: "Active value of nWRPi bits is inverted when
//! PCROP mode is active", "write a protected sector will set WRPERR Flag").
//!
//! OTP: 16 blocks (512 bytes on F2/F4/F72x, 1 KiB on F74x/F76x) followed by
//! 16 lock bytes, a block being locked when its lock byte is 0x00 (RM0090
//! §3.8); programmed like main flash, with PG and the PSIZE width.

use std::time::Duration;

use crate::chip::{Chip, Controller};
use crate::facts::Facts;
use crate::family::f2f4f7::driver::{DualBankMode, FsController};
use crate::flash::options::{Field, FieldKind as K, Mask, OptionArea, OptionBytes, OptionWord, Otp, Reload, Show};
use crate::flash::reserved::MaskValue;
use crate::flash::{
    engine, unlock_with_keys, FlashController, FlashError, FlashLayout, NoProgress, Reserved, Sector, OPTKEY1, OPTKEY2,
};
use crate::mcu::cortex_m as cm;
use crate::mcu::Target;

const BASE: u32 = 0x4002_3C00;
const OPTKEYR: u32 = BASE + 0x08;
const OPTCR: u32 = BASE + 0x14;
const OPTCR1: u32 = BASE + 0x18;
const OPTLOCK: u32 = 1 << 0;
const OPTSTRT: u32 = 1 << 1;
const RDP_SHIFT: u32 = 8;
/// Bank-mode bits (OpenOCD src/flash/nor/stm32f2x.c:1140-1171): F42x DB1M, F76x nDBANK.
const BANK_BITS: u32 = (1 << 30) | (1 << 29);

/// Option programming: 50 ms modeled; OpenOCD's F2/F4 timeouts are seconds.
const OPTION_TYPICAL: Duration = Duration::from_millis(50);
const OPTION_TIMEOUT: Duration = Duration::from_secs(5);
/// RDP 1 → 0 includes a mass erase: "as high as 32 s in x8" (OpenOCD
/// src/flash/nor/stm32f2x.c:108-113).
const REGRESSION_TIMEOUT: Duration = Duration::from_secs(60);

macro_rules! f {
    ($name:expr, $shift:literal, $width:literal, $kind:expr, $show:expr, $meaning:expr) => {
        Field::new($name, $shift, $width, $kind, $show, $meaning)
    };
}

/// BOR_LEV of F2/F4/F7: 00 = level 3 (highest) … 11 = off (RM0090 §3.9.10).
const BOR: Show = Show::Choices(&[(0, "level 3"), (1, "level 2"), (2, "level 1"), (3, "off")]);
const NO_RESET: Show = Show::Flag("no", "yes");
const SW: Show = Show::Flag("software", "hardware");
const fn nwrp(first: u32) -> Show {
    Show::Protection(Mask::new("sector", 1, first, true))
}
/// OPTCR.SPRMOD (bit 31) inverts nWRP on F4 (PCROP mode).
const NWRP_F4: Show = Show::Protection(Mask::new("sector", 1, 0, true).inverted_by(31));
const F_SPRMOD: Field = f!("SPRMOD", 31, 1, K::Security, Show::Flag("PCROP", "write protection"), "nWRP bits mean");

const F_OPTLOCK: Field = f!("OPTLOCK", 0, 1, K::Status, Show::Flag("locked", "unlocked"), "option register lock");
const F_OPTSTRT: Field = f!("OPTSTRT", 1, 1, K::Status, Show::Flag("running", ""), "option change");
const F_BOR_LEV: Field = f!("BOR_LEV", 2, 2, K::User, BOR, "brown-out reset");
const F_NRST_STOP: Field = f!("nRST_STOP", 6, 1, K::User, NO_RESET, "reset when entering Stop");
const F_NRST_STDBY: Field = f!("nRST_STDBY", 7, 1, K::User, NO_RESET, "reset when entering Standby");
const F_RDP: Field = f!("RDP", 8, 8, K::Rdp, Show::RDP, "read-out protection");

/// F2 (RM0033 §2.6): no BFB2, DB1M, SPRMOD.
pub(super) static OPTCR_F2: OptionWord = OptionWord {
    name: "FLASH_OPTCR",
    addr: OPTCR,
    fields: &[
        F_OPTLOCK,
        F_OPTSTRT,
        F_BOR_LEV,
        f!("WDG_SW", 5, 1, K::User, SW, "independent watchdog started by"),
        F_NRST_STOP,
        F_NRST_STDBY,
        F_RDP,
        f!("nWRP", 16, 12, K::WriteProtect, nwrp(0), "write protection"),
    ],
};

/// F401, F410, F411, F412, F446: SPRMOD (PCROP mode; RM0368, RM0401,
/// RM0383, RM0402, RM0390 FLASH_OPTCR), no BFB2 or DB1M (one bank). F405/F407
/// have no PCROP and use [`OPTCR_F2`].
pub(super) static OPTCR_F4_PCROP: OptionWord = OptionWord {
    name: "FLASH_OPTCR",
    addr: OPTCR,
    fields: &[
        F_OPTLOCK,
        F_OPTSTRT,
        F_BOR_LEV,
        f!("WDG_SW", 5, 1, K::User, SW, "independent watchdog started by"),
        F_NRST_STOP,
        F_NRST_STDBY,
        F_RDP,
        f!("nWRP", 16, 12, K::WriteProtect, NWRP_F4, "write protection"),
        F_SPRMOD,
    ],
};

/// F42x/F43x, F469/F479 (RM0090 §3.9.10, RM0386): BFB2, DB1M (1 MiB parts)
/// and SPRMOD (PCROP mode).
pub(super) static OPTCR_F4: OptionWord = OptionWord {
    name: "FLASH_OPTCR",
    addr: OPTCR,
    fields: &[
        F_OPTLOCK,
        F_OPTSTRT,
        F_BOR_LEV,
        f!("BFB2", 4, 1, K::BootConfig, Show::Flag("bank 2", "bank 1"), "boot from"),
        f!("WDG_SW", 5, 1, K::User, SW, "independent watchdog started by"),
        F_NRST_STOP,
        F_NRST_STDBY,
        F_RDP,
        f!("nWRP", 16, 12, K::WriteProtect, NWRP_F4, "write protection"),
        f!("DB1M", 30, 1, K::BankConfig, Show::Flag("dual bank", "single bank"), "1 MiB parts"),
        F_SPRMOD,
    ],
};

/// F413/F423 (RM0430): nWRP[14:0], bit 14 for sectors 14 and 15; no BFB2
/// or DB1M (one bank).
pub(super) static OPTCR_F413: OptionWord = OptionWord {
    name: "FLASH_OPTCR",
    addr: OPTCR,
    fields: &[
        F_OPTLOCK,
        F_OPTSTRT,
        F_BOR_LEV,
        f!("WDG_SW", 5, 1, K::User, SW, "independent watchdog started by"),
        F_NRST_STOP,
        F_NRST_STDBY,
        F_RDP,
        f!(
            "nWRP",
            16,
            15,
            K::WriteProtect,
            Show::Protection(Mask::new("sector", 1, 0, true).to_end().inverted_by(31)),
            "write protection"
        ),
        F_SPRMOD,
    ],
};

/// F42x/F43x/F469/F479 bank 2: sectors 12-23 (RM0090 §3.9.11; SPRMOD in
/// OPTCR inverts them too, which this word cannot see: the driver does).
pub(super) static OPTCR1_F4: OptionWord = OptionWord {
    name: "FLASH_OPTCR1",
    addr: OPTCR1,
    fields: &[f!("nWRP_12", 16, 12, K::WriteProtect, nwrp(12), "write protection from sector 12")],
};

/// F7 fields common to F72x/F74x and F76x (RM0385/RM0410 §3.7.6).
macro_rules! optcr_f7 {
    ($($extra:expr),*) => {
        OptionWord {
            name: "FLASH_OPTCR",
            addr: OPTCR,
            fields: &[
                F_OPTLOCK,
                F_OPTSTRT,
                F_BOR_LEV,
                f!("WWDG_SW", 4, 1, K::User, SW, "window watchdog started by"),
                f!("IWDG_SW", 5, 1, K::User, SW, "independent watchdog started by"),
                F_NRST_STOP,
                F_NRST_STDBY,
                F_RDP,
                $($extra,)*
                f!("IWDG_STDBY", 30, 1, K::User, Show::Flag("runs", "frozen"), "independent watchdog in Standby"),
                f!("IWDG_STOP", 31, 1, K::User, Show::Flag("runs", "frozen"), "independent watchdog in Stop"),
            ],
        }
    };
}
pub(super) static OPTCR_F74X: OptionWord = optcr_f7!(f!("nWRP", 16, 8, K::WriteProtect, nwrp(0), "write protection"));
pub(super) static OPTCR_F76X: OptionWord = optcr_f7!(
    f!("nWRP", 16, 12, K::WriteProtect, nwrp(0), "write protection"),
    f!("nDBOOT", 28, 1, K::BootConfig, Show::Flag("off", "on"), "dual-bank boot"),
    f!("nDBANK", 29, 1, K::BankConfig, Show::Flag("single bank", "dual bank"), "flash organisation")
);

/// F7 boot addresses, in 16 KiB units (RM0410 §3.7.7: BOOT_ADDx = address[29:14]).
pub(super) static OPTCR1_F7: OptionWord = OptionWord {
    name: "FLASH_OPTCR1",
    addr: OPTCR1,
    fields: &[
        f!("BOOT_ADD0", 0, 16, K::BootConfig, Show::BootAddress(14), "boot address with the BOOT pin low"),
        f!("BOOT_ADD1", 16, 16, K::BootConfig, Show::BootAddress(14), "boot address with the BOOT pin high"),
    ],
};

impl FsController {
    fn optcr_word(&self) -> &'static OptionWord {
        self.variant().optcr
    }

    fn optcr1_word(&self) -> Option<&'static OptionWord> {
        self.variant().optcr1
    }

    /// Data bytes of the OTP area (the 16 lock bytes follow).
    fn otp_data(&self) -> Option<(u32, u32)> {
        let otp = self.chip().otp?;
        // 512 + 16 (F2/F4/F72x) or 1024 + 16 (+16 reserved) on F74x/F76x.
        let data = if otp.size >= 1024 { 1024 } else { 512 };
        Some((otp.base, data))
    }

    fn program_options(&mut self, t: &mut Target, changes: &[(&'static OptionWord, u32)]) -> Result<(), FlashError> {
        let mut optcr = t.read32(OPTCR)? & !(OPTLOCK | OPTSTRT);
        let mut timeout = OPTION_TIMEOUT;
        for &(word, value) in changes {
            if word.addr == OPTCR1 {
                t.write32(OPTCR1, value)?;
            } else {
                let old_rdp = (optcr >> RDP_SHIFT) as u8;
                if old_rdp != 0xAA && (value >> RDP_SHIFT) as u8 == 0xAA {
                    timeout = REGRESSION_TIMEOUT;
                }
                optcr = value & !(OPTLOCK | OPTSTRT);
            }
        }
        // RM0090 §3.7.2: the new values, then OPTSTRT, then wait for BSY.
        t.write32(OPTCR, optcr)?;
        t.write32(OPTCR, optcr | OPTSTRT)?;
        engine::wait_idle(t, &*self, 0, OPTION_TYPICAL, timeout, "changing the option bytes")
    }
}

/// Why a PCROP sector cannot be unprotected with stflash.
const PCROP_FIXED: &str = "a PCROP sector (FLASH_OPTCR.SPRMOD = 1) stays protected until an RDP regression from level \
                           1 to 0 that also clears SPRMOD, which erases the whole flash; stflash does not change \
                           PCROP: use STM32CubeProgrammer";

impl FsController {
    /// The sectors OPTCR/OPTCR1 (`optcr`, `optcr1`, as in force) protect,
    /// as address ranges of `layout`, each with the nWRP value that removes
    /// the protection. Bank 1 (and single-bank) sector i is OPTCR.nWRPi; bank
    /// 2 sector 12 + i of F42x/F43x/F469/F479 is OPTCR1.nWRPi (ST HAL
    /// stm32f4xx_hal_flash_ex.c FLASH_OB_EnableWRP: "BANK2 starts from
    /// OB_WRP_SECTOR_12", written to OPTCR1); F76x in dual-bank mode protects
    /// sectors 2i and 2i+1 of the dual-bank numbering (bank 2 = 12-23) with
    /// OPTCR.nWRPi (ST HAL stm32f7xx_hal_flash_ex.h `OB_WRP_DB_SECTOR_x`).
    pub(super) fn write_protected(&self, layout: &FlashLayout, optcr: u32, optcr1: u32) -> Vec<Reserved> {
        let word = self.optcr_word();
        let pcrop = word.field("SPRMOD").is_some_and(|f| f.get(optcr) == 1);
        let fixed = pcrop.then_some(PCROP_FIXED);
        let banks: Vec<Vec<Sector>> = layout.banks.iter().enumerate().map(|(b, bank)| bank.sectors(b as u8)).collect();
        let span = |s: &Sector| (s.addr, s.end());
        let Some(nwrp) = word.field("nWRP") else { return Vec::new() };
        if banks.len() > 1 && self.variant().dual_bank == DualBankMode::NDbank {
            let dual = Field { show: Show::Protection(Mask::new("sector", 2, 0, true)), ..*nwrp };
            let mask = MaskValue { word: word.name, field: &dual, value: dual.get(optcr), active_low: true };
            let place = |u: u32| banks.get(u as usize / 12).and_then(|b| b.get(u as usize % 12)).map(span);
            return mask.areas(24, place, ", dual-bank numbering", None);
        }
        let mut out = Vec::new();
        for (b, sectors) in banks.iter().enumerate() {
            let (word, value) = match b {
                0 => (word, optcr),
                _ => match self.optcr1_word() {
                    Some(w) => (w, optcr1),
                    None => continue,
                },
            };
            let Some(field) = word.fields.iter().find(|f| f.kind == K::WriteProtect) else { continue };
            let Show::Protection(m) = field.show else { continue };
            let mask = MaskValue { word: word.name, field, value: field.get(value), active_low: !pcrop };
            let place = |u: u32| u.checked_sub(m.first).and_then(|i| sectors.get(i as usize)).map(span);
            let of = if pcrop { ", PCROP" } else { "" };
            out.extend(mask.areas(m.first + sectors.len() as u32, place, of, fixed));
        }
        out
    }
}

impl OptionBytes for FsController {
    fn words(&self) -> Vec<&'static OptionWord> {
        let mut w = vec![self.optcr_word()];
        w.extend(self.optcr1_word());
        w
    }

    fn area_word(&self, area: OptionArea) -> Option<&'static OptionWord> {
        match area {
            OptionArea::Option | OptionArea::Optcr => Some(self.optcr_word()),
            OptionArea::Optcr1 => self.optcr1_word(),
            OptionArea::BootAdd => self.optcr1_word().filter(|w| w.field("BOOT_ADD0").is_some()),
        }
    }

    fn program(&mut self, t: &mut Target, changes: &[(&'static OptionWord, u32)]) -> Result<Reload, FlashError> {
        let before = t.read32(OPTCR)?;
        engine::wait_idle(t, &*self, 0, Duration::ZERO, OPTION_TIMEOUT, "waiting for the flash")?;
        engine::clear_stale_errors(t, &*self, 0)?;
        unlock_with_keys(t, "FLASH_OPTCR", OPTCR, OPTLOCK, OPTKEYR, [OPTKEY1, OPTKEY2])?;
        let result = self.program_options(t, changes);
        let locked = t.read32(OPTCR).and_then(|v| t.write32(OPTCR, (v & !OPTSTRT) | OPTLOCK));
        result?;
        locked?;
        // The flash map follows DB1M/nDBANK only after a reset (assumed from
        // OpenOCD reading them at probe time, src/flash/nor/stm32f2x.c:1140-1171).
        if (t.read32(OPTCR)? ^ before) & BANK_BITS != 0 {
            let _ = t.write32(cm::AIRCR, cm::AIRCR_VECTKEY | cm::AIRCR_SYSRESETREQ);
            return Ok(Reload::Reset);
        }
        Ok(Reload::Applied)
    }

    fn otp(&self) -> Option<Otp> {
        let (base, size) = self.otp_data()?;
        // Programmed like main flash: whole PSIZE-wide units.
        Some(Otp { base, size, unit: self.program_access().unit, erased: 0xFF })
    }

    fn otp_locked(&mut self, t: &mut Target) -> Result<Vec<(u32, u32, String)>, FlashError> {
        let Some((base, size)) = self.otp_data() else { return Ok(Vec::new()) };
        let mut locks = [0u8; 16];
        t.read_mem(base + size, &mut locks)?;
        let block = size / 16;
        Ok(locks
            .iter()
            .enumerate()
            .filter(|(_, &l)| l == 0x00)
            .map(|(i, _)| {
                let start = base + i as u32 * block;
                (
                    start,
                    start + block,
                    format!("OTP block {i} (locked by its lock byte at 0x{:08X})", base + size + i as u32),
                )
            })
            .collect())
    }

    fn program_otp(&mut self, t: &mut Target, addr: u32, data: &[u8]) -> Result<(), FlashError> {
        engine::clear_stale_errors(t, &*self, 0)?;
        self.unlock(t, 0)?;
        let result = engine::program(t, &*self, 0, addr, data, &mut NoProgress);
        let locked = self.lock(t, 0);
        result.and(locked)
    }
}

/// The option tables' facts for a row, by the names of ST's headers.
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    let Controller::F2F4F7(v) = c.controller else { return };
    f.source("option table");
    f.number("FLASH_TypeDef.OPTKEYR", (OPTKEYR - BASE) as u64);
    // ST's HAL names the option keys FLASH_OPT_KEYx on F2/F4/F7 (stm32f4xx_hal_flash.h:156).
    f.number("FLASH_OPT_KEY1", OPTKEY1 as u64).number("FLASH_OPT_KEY2", OPTKEY2 as u64);
    f.mask("FLASH_OPTCR_OPTLOCK", OPTLOCK).mask("FLASH_OPTCR_OPTSTRT", OPTSTRT);
    // SPRMOD: stated where the headers define it (`Variant::sprmod_header`).
    f.option_word(v.optcr, "FLASH_R_BASE+FLASH_TypeDef.OPTCR", "FLASH_OPTCR", &[("SPRMOD", v.sprmod_header)]);
    if let Some(optcr1) = v.optcr1 {
        f.option_word(optcr1, "FLASH_R_BASE+FLASH_TypeDef.OPTCR1", "FLASH_OPTCR1", &[("nWRP_12", Some("nWRP"))]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;

    fn driver(dev_id: u16) -> FsController {
        FsController::new(chips::find(dev_id).unwrap(), Some(3300)).unwrap()
    }

    #[test]
    fn words_per_part() {
        let f411 = driver(0x431);
        assert_eq!(f411.words().len(), 1);
        assert!(f411.area_word(OptionArea::Optcr1).is_none());
        assert_eq!(driver(0x419).area_word(OptionArea::Optcr1).unwrap().addr, 0x4002_3C18);
        let f767 = driver(0x451);
        assert!(f767.words()[0].field("nDBANK").is_some());
        assert_eq!(f767.area_word(OptionArea::BootAdd).unwrap().name, "FLASH_OPTCR1");
        assert!(driver(0x411).words()[0].field("DB1M").is_none());
        // The F2/F4 reset value 0x0FFFAAED: OPTLOCK, BOR off, RDP level 0.
        let w = driver(0x413).words()[0];
        assert_eq!(w.reserved_mask() & 0x0FFF_AAED, 0);
        assert_eq!(w.rdp_level(0x0FFF_AAED), Some(crate::flash::RdpLevel::Level0));
    }

    #[test]
    fn otp_areas() {
        let f4 = driver(0x413).otp().unwrap();
        assert_eq!((f4.base, f4.size, f4.unit), (0x1FFF_7800, 512, 4));
        let f7 = driver(0x449).otp().unwrap();
        assert_eq!((f7.base, f7.size), (0x1FF0_F000, 1024));
    }

    /// (start, end exclusive, reason) of each protected area.
    fn areas(dev_id: u16, size: u32, dual: bool, optcr: u32, optcr1: u32) -> Vec<(u32, u64, String)> {
        let d = driver(dev_id);
        let spec = &d.chip().flash;
        let layout = if dual { FlashLayout::dual(spec, size) } else { FlashLayout::single(spec, size) };
        d.write_protected(&layout, optcr, optcr1).into_iter().map(|r| (r.start, r.end, r.reason)).collect()
    }

    fn ranges(a: &[(u32, u64, String)]) -> Vec<(u32, u64)> {
        a.iter().map(|r| (r.0, r.1)).collect()
    }

    const KIB: u32 = 1024;
    const MIB: u32 = 1024 * KIB;

    #[test]
    fn nwrp_bits_become_sector_ranges() {
        // F411: nWRP1 clear = sector 1 (16 KiB at 0x08004000), RM0383 FLASH_OPTCR.
        let a = areas(0x431, 512 * KIB, false, 0x0FFD_AAED, 0);
        assert_eq!(ranges(&a), [(0x0800_4000, 0x0800_8000)]);
        assert!(a[0].2.contains("FLASH_OPTCR.nWRP (sector 1)"), "{}", a[0].2);
        assert!(a[0].2.contains("`stflash --area=option write nWRP=0xFFF` first"), "{}", a[0].2);
        // Sectors 4-5 (64 + 128 KiB) as one run, sector 11 on its own; the
        // remedy of each run leaves the other protected.
        let a = areas(0x431, 512 * KIB, false, 0x07CF_AAED, 0);
        assert_eq!(ranges(&a), [(0x0801_0000, 0x0804_0000)], "sector 11 is past 512 KiB");
        assert!(a[0].2.contains("(sectors 4-5)") && a[0].2.contains("nWRP=0x7FF"), "{}", a[0].2);
        // Nothing protected at the reset value.
        assert!(areas(0x431, 512 * KIB, false, 0x0FFF_AAED, 0).is_empty());
    }

    #[test]
    fn pcrop_mode_inverts_nwrp_and_cannot_be_removed_here() {
        // SPRMOD = 1: nWRP1 set = sector 1 PCROP-protected (read and write).
        let a = areas(0x431, 512 * KIB, false, 0x8002_AAED, 0);
        assert_eq!(ranges(&a), [(0x0800_4000, 0x0800_8000)]);
        assert!(a[0].2.contains("(sector 1, PCROP)") && a[0].2.contains("STM32CubeProgrammer"), "{}", a[0].2);
        assert!(areas(0x431, 512 * KIB, false, 0x8000_AAED, 0).is_empty());
        // The decoded view follows SPRMOD too.
        let w = driver(0x431).words()[0];
        assert!(w.describe(0x8002_AAED).contains("write protection: sectors 1"), "{}", w.describe(0x8002_AAED));
        assert!(w.protected(0x8FFD_AAED).len() == 11);
    }

    #[test]
    fn bank_2_of_f42x_is_optcr1_from_sector_12() {
        // 2 MiB: bank 1 sector 0 (OPTCR), bank 2 sector 23 = OPTCR1.nWRP11.
        let a = areas(0x419, 2 * MIB, true, 0x0FFE_AAED, 0x07FF_0000);
        assert_eq!(ranges(&a), [(0x0800_0000, 0x0800_4000), (0x081E_0000, 0x0820_0000)]);
        assert!(a[1].2.contains("FLASH_OPTCR1.nWRP_12 (sector 23)") && a[1].2.contains("nWRP_12=0xFFF"), "{}", a[1].2);
        // 1 MiB with DB1M: bank 2 at 0x08080000, sectors 12-19 (OPTCR1 bits 0-7).
        let a = areas(0x419, MIB, true, 0x4FFF_AAED, 0x0FFE_0000);
        assert_eq!(ranges(&a), [(0x0808_0000, 0x0808_4000)]);
        // PCROP mode covers bank 2 as well.
        let a = areas(0x419, 2 * MIB, true, 0x8000_AAED, 0x0001_0000);
        assert_eq!(ranges(&a), [(0x0810_0000, 0x0810_4000)]);
    }

    #[test]
    fn f413_bit_14_covers_sectors_14_and_15() {
        let a = areas(0x463, 1536 * KIB, false, 0x3FFF_AAED, 0);
        assert_eq!(ranges(&a), [(0x0814_0000, 0x0818_0000)]);
        assert!(a[0].2.contains("(sectors 14-15)") && a[0].2.contains("nWRP=0x7FFF"), "{}", a[0].2);
        assert!(areas(0x463, 1536 * KIB, false, 0x7FFF_AAED, 0).is_empty(), "reset value");
        assert!(driver(0x463).area_word(OptionArea::Optcr1).is_none(), "no OPTCR1 on F413");
    }

    #[test]
    fn f7_single_and_dual_bank_maps() {
        // F746: sector 7 = 256 KiB at 0x080C0000.
        let a = areas(0x449, MIB, false, 0xC07F_AAFD, 0);
        assert_eq!(ranges(&a), [(0x080C_0000, 0x0810_0000)]);
        // F767 single bank: sector 1 = 32 KiB at 0x08008000.
        assert_eq!(ranges(&areas(0x451, 2 * MIB, false, 0xFFFD_AAFD, 0)), [(0x0800_8000, 0x0801_0000)]);
        // F767 dual bank: nWRP6 = sectors 12-13 = bank 2's first two 16 KiB sectors.
        let a = areas(0x451, 2 * MIB, true, 0xDFBF_AAFD, 0);
        assert_eq!(ranges(&a), [(0x0810_0000, 0x0810_8000)]);
        assert!(a[0].2.contains("(sectors 12-13, dual-bank numbering)") && a[0].2.contains("nWRP=0xFFF"), "{}", a[0].2);
    }
}
