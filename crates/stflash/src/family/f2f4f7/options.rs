//! STM32F2/F4/F7 option bytes (flash-families.md §2.2 "Option bytes", §2.3;
//! RM0090 §3.7 and §3.9.10-11, RM0033 §2.6, RM0385/RM0410 §3.4 and §3.7.6-7).
//!
//! The options are edited through FLASH_OPTCR (and FLASH_OPTCR1): unlock
//! OPTCR with the option keys, write the new values, set OPTSTRT, wait until
//! BSY clears, lock again. They take effect at once, except the bank mode
//! (F42x DB1M, F76x nDBANK), which the flash map follows only after a reset:
//! stflash resets and reconnects after such a change. An RDP 1 → 0 change
//! mass-erases the flash inside the wait (up to 32 s at x8, §4.1).
//!
//! st-flash's areas (stflash-cli.md §4.5): `option` reads and writes OPTCR on
//! F2 and on every F4 (st-flash read the memory-mapped word at 0x1FFFC000 on
//! F401/F410/F411/F412/F413/F42x but wrote OPTCR; stflash reads what it
//! writes) and on F7 (st-flash's F7 `option` write went to 0x1FFF0000 and
//! failed, §13 item 12); `optcr` is OPTCR; `optcr1` is OPTCR1 (F7 boot
//! addresses; nWRP of sectors 12-23 on F42x/F43x/F469/F479 and 12-15 on
//! F413); `option_boot_add` is OPTCR1 on F7.
//!
//! OTP: 16 blocks (512 bytes on F2/F4/F72x, 1 KiB on F74x/F76x) followed by
//! 16 lock bytes, a block being locked when its lock byte is 0x00 (RM0090
//! §3.8); programmed like main flash, with PG and the PSIZE width.

use std::time::Duration;

use crate::family::f2f4f7::driver::FsController;
use crate::flash::options::{Field, FieldKind as K, Mask, OptionArea, OptionBytes, OptionWord, Otp, Reload, Show};
use crate::flash::{engine, unlock_with_keys, FlashController, FlashError, NoProgress, OPTKEY1, OPTKEY2};
use crate::mcu::cortex_m as cm;
use crate::mcu::Target;

const BASE: u32 = 0x4002_3C00;
const OPTKEYR: u32 = BASE + 0x08;
const OPTCR: u32 = BASE + 0x14;
const OPTCR1: u32 = BASE + 0x18;
const OPTLOCK: u32 = 1 << 0;
const OPTSTRT: u32 = 1 << 1;
const RDP_SHIFT: u32 = 8;
/// Bank-mode bits (§2.2, §2.3): F42x DB1M, F76x nDBANK.
const BANK_BITS: u32 = (1 << 30) | (1 << 29);

/// Option programming: 50 ms modeled; OpenOCD's F2/F4 timeouts are seconds.
const OPTION_TYPICAL: Duration = Duration::from_millis(50);
const OPTION_TIMEOUT: Duration = Duration::from_secs(5);
/// RDP 1 → 0 includes a mass erase: "as high as 32 s in x8" (§4.1).
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

/// F4 (RM0090 §3.9.10): BFB2 (F42x/F43x/F469/F479), DB1M (1 MiB F42x/F43x/
/// F469/F479) and SPRMOD (PCROP mode) are listed for all F4; on parts
/// without them those bits are reserved.
pub(super) static OPTCR_F4: OptionWord = OptionWord {
    name: "FLASH_OPTCR",
    addr: OPTCR,
    fields: &[
        F_OPTLOCK,
        F_OPTSTRT,
        F_BOR_LEV,
        f!("BFB2", 4, 1, K::BootConfig, Show::Flag("bank 2", "bank 1"), "boot from (F42x/F43x/F469/F479)"),
        f!("WDG_SW", 5, 1, K::User, SW, "independent watchdog started by"),
        F_NRST_STOP,
        F_NRST_STDBY,
        F_RDP,
        f!("nWRP", 16, 12, K::WriteProtect, nwrp(0), "write protection"),
        f!("DB1M", 30, 1, K::BankConfig, Show::Flag("dual bank", "single bank"), "1 MiB parts of F42x/F43x/F469"),
        f!("SPRMOD", 31, 1, K::Security, Show::Flag("PCROP", "write protection"), "nWRP bits mean"),
    ],
};

/// F42x/F43x/F469/F479 bank 2, F413 sectors 12-15 (RM0090 §3.9.11).
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
        // The flash map follows DB1M/nDBANK only after a reset (§2.2, §2.3).
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
}
