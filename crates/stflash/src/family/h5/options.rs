//! STM32H5 option bytes (flash-families.md §2.7; field positions from ST's SVD
//! as converted in cmforthlib `stm32h563/flash.fs`: FLASH_OPTSR_CUR/PRG,
//! OPTSR2, NSBOOTR, WRPxR).
//!
//! An H7-like register pair per option (`*_CUR` in force, `*_PRG` 4 bytes
//! above): unlock OPTCR with the option keys, write the `*_PRG` registers,
//! set OPTCR.OPTSTRT, wait for NSSR.BSY, check OPTCHANGEERR, lock. The values
//! apply without a reset, except SWAP_BANK, which the flash follows after the
//! next reset (§2.7 OPTCR.SWAP_BANK "loaded … only after reset"): stflash
//! resets and reconnects after changing it.
//!
//! H5 has a product state instead of RDP levels (Open, Provisioning,
//! iROT-Provisioned, TZ-Closed, Closed, Locked). Going back towards Open needs
//! ST's debug-authentication protocol with provisioned keys, and Locked is
//! final: a product-state change from stflash could close the chip for good.
//! stflash shows the state and refuses to change it (a security option, like
//! TZEN, BOOT_UBE and NSBOOT_LOCK); use STM32CubeProgrammer for the
//! provisioning flow.
//!
//! st-flash did not support H5 (it took it for an L5, §1.6 item 2). The areas
//! here: `option` and `optcr` are OPTSR, `option_boot_add` is NSBOOTR.

use std::time::Duration;

use crate::family::h5::driver::H5Controller;
use crate::flash::options::{Field, FieldKind as K, Mask, OptionArea, OptionBytes, OptionWord, Reload, Show};
use crate::flash::reserved::mask_areas;
use crate::flash::{engine, unlock_with_keys, FlashError, FlashLayout, Reserved, OPTKEY1, OPTKEY2};
use crate::mcu::cortex_m as cm;
use crate::mcu::Target;

const BASE: u32 = 0x4002_2000;
const OPTKEYR: u32 = BASE + 0x0C;
const OPTCR: u32 = BASE + 0x1C;
const OPTSR_CUR: u32 = BASE + 0x50;
const OPTSR2_CUR: u32 = BASE + 0x70;
const NSBOOTR_CUR: u32 = BASE + 0x80;
const WRP1R_CUR: u32 = BASE + 0xE8;
const WRP2R_CUR: u32 = BASE + 0x1E8;
/// Every `*_PRG` register sits 4 bytes above its `*_CUR`.
const PRG_OFFSET: u32 = 4;
const OPTLOCK: u32 = 1 << 0;
const OPTSTRT: u32 = 1 << 1;
const SWAP_BANK: u32 = 1 << 31;

const OPTION_TYPICAL: Duration = Duration::from_millis(2);
const OPTION_TIMEOUT: Duration = Duration::from_secs(5);

macro_rules! f {
    ($name:expr, $shift:literal, $width:literal, $kind:expr, $show:expr, $meaning:expr) => {
        Field::new($name, $shift, $width, $kind, $show, $meaning)
    };
}

/// Product states (ST HAL stm32h5xx_hal_flash_ex.h OB_PROD_STATE_*, as the
/// driver knows them: `crate::flash::h5`).
const STATES: Show = Show::Choices(&[
    (0xED, "Open"),
    (0x17, "Provisioning"),
    (0x2E, "iROT-Provisioned"),
    (0xC6, "TZ-Closed"),
    (0x72, "Closed (debug closed)"),
    (0x5C, "Locked (final)"),
]);
const NO_RESET: Show = Show::Flag("no", "yes");
const SW: Show = Show::Flag("software", "hardware");
const RUNS: Show = Show::Flag("runs", "frozen");

static OPTSR: OptionWord = OptionWord {
    name: "FLASH_OPTSR",
    addr: OPTSR_CUR,
    fields: &[
        f!(
            "BOR_LEV",
            0,
            2,
            K::User,
            Show::Choices(&[(0, "level 1"), (1, "level 2"), (2, "level 3")]),
            "brown-out reset"
        ),
        f!("BORH_EN", 2, 1, K::User, Show::Flag("on", "off"), "brown-out high"),
        f!("IWDG_SW", 3, 1, K::User, SW, "independent watchdog started by"),
        f!("WWDG_SW", 4, 1, K::User, SW, "window watchdog started by"),
        f!("NRST_STOP", 6, 1, K::User, NO_RESET, "reset when entering Stop"),
        f!("NRST_STDBY", 7, 1, K::User, NO_RESET, "reset when entering Standby"),
        f!("PRODUCT_STATE", 8, 8, K::Security, STATES, "product state (instead of RDP)"),
        f!(
            "IO_VDD_HSLV",
            16,
            1,
            K::Electrical,
            Show::Flag("on", "off"),
            "high-speed I/O at low VDD (only below 2.7 V)"
        ),
        f!(
            "IO_VDDIO2_HSLV",
            17,
            1,
            K::Electrical,
            Show::Flag("on", "off"),
            "high-speed I/O at low VDDIO2 (only below 2.7 V)"
        ),
        f!("IWDG_STOP", 20, 1, K::User, RUNS, "independent watchdog in Stop"),
        f!("IWDG_STDBY", 21, 1, K::User, RUNS, "independent watchdog in Standby"),
        f!("BOOT_UBE", 22, 8, K::Security, Show::Hex, "unique boot entry (OEM or ST root of trust)"),
        f!("SWAP_BANK", 31, 1, K::BankConfig, Show::Flag("swapped", "not swapped"), "bank swap (after the next reset)"),
    ],
};

static OPTSR2: OptionWord = OptionWord {
    name: "FLASH_OPTSR2",
    addr: OPTSR2_CUR,
    fields: &[
        f!("SRAM1_3_RST", 2, 1, K::User, Show::Flag("no", "yes"), "SRAM1/3 erased by a system reset"),
        f!("SRAM2_RST", 3, 1, K::User, Show::Flag("no", "yes"), "SRAM2 erased by a system reset"),
        f!("BKPRAM_ECC", 4, 1, K::User, Show::Flag("off", "on"), "backup RAM ECC"),
        f!("SRAM3_ECC", 5, 1, K::User, Show::Flag("off", "on"), "SRAM3 ECC"),
        f!("SRAM2_ECC", 6, 1, K::User, Show::Flag("off", "on"), "SRAM2 ECC"),
        f!("USBPD_DIS", 8, 1, K::User, Show::Flag("off", "on"), "USB power-delivery dead battery"),
        f!("TZEN", 24, 8, K::Security, Show::Choices(&[(0xB4, "on"), (0xC3, "off")]), "TrustZone"),
    ],
};

/// NSBOOTADD holds address bits 31:8 (RM0481 FLASH_NSBOOTR).
static NSBOOTR: OptionWord = OptionWord {
    name: "FLASH_NSBOOTR",
    addr: NSBOOTR_CUR,
    fields: &[
        f!("NSBOOT_LOCK", 0, 8, K::Security, Show::Choices(&[(0xC3, "unlocked"), (0xB4, "locked")]), "boot settings"),
        f!("NSBOOTADD", 8, 24, K::BootConfig, Show::BootAddress(8), "non-secure boot address"),
    ],
};

/// One bit per group of four 8 KiB sectors, 0 = protected (RM0481 FLASH_WRPxR).
macro_rules! wrp {
    ($name:literal, $addr:expr, $field:literal, $what:literal) => {
        OptionWord {
            name: $name,
            addr: $addr,
            fields: &[f!($field, 0, 32, K::WriteProtect, Show::Protection(Mask::new("sector", 4, 0, true)), $what)],
        }
    };
}
static WRP1R: OptionWord = wrp!("FLASH_WRP1R", WRP1R_CUR, "WRPSG1", "write protection, bank 1");
static WRP2R: OptionWord = wrp!("FLASH_WRP2R", WRP2R_CUR, "WRPSG2", "write protection, bank 2");

impl H5Controller {
    /// The sectors WRP1R_CUR/WRP2R_CUR (`wrp`) protect, as address ranges of
    /// `layout`: bit n = sectors 4n to 4n+3 of its bank, 0 = protected
    /// (RM0481 FLASH_WRPxR; ST HAL `OB_WRP_SECTOR_0TO3` …). The registers
    /// name physical banks, as NSCR.BKSEL does: with the banks swapped
    /// (`swapped`) WRP1R covers the bank at 0x08100000 (assumed: the RM
    /// text on WRPxR and SWAP_BANK was not at hand; the simulator does the
    /// same).
    pub(super) fn write_protected(&self, layout: &FlashLayout, wrp: [u32; 2], swapped: bool) -> Vec<Reserved> {
        let mut out = Vec::new();
        for (phys, (word, value)) in [&WRP1R, &WRP2R].into_iter().zip(wrp).enumerate() {
            let logical = if swapped { 1 - phys } else { phys };
            let Some(bank) = layout.banks.get(logical) else { continue };
            let sectors = bank.sectors(logical as u8);
            let place = |u: u32| sectors.get(u as usize).map(|s| (s.addr, s.end()));
            let swap = if swapped { ", banks swapped" } else { "" };
            let of = format!(" of bank {}{swap}", phys + 1);
            out.extend(mask_areas(word, value, sectors.len() as u32, place, &of));
        }
        out
    }
}

impl OptionBytes for H5Controller {
    fn words(&self) -> Vec<&'static OptionWord> {
        vec![&OPTSR, &OPTSR2, &NSBOOTR, &WRP1R, &WRP2R]
    }

    fn area_word(&self, area: OptionArea) -> Option<&'static OptionWord> {
        match area {
            OptionArea::Option | OptionArea::Optcr => Some(&OPTSR),
            OptionArea::BootAdd => Some(&NSBOOTR),
            OptionArea::Optcr1 => None,
        }
    }

    fn program(&mut self, t: &mut Target, changes: &[(&'static OptionWord, u32)]) -> Result<Reload, FlashError> {
        let before = t.read32(OPTSR_CUR)?;
        engine::clear_stale_errors(t, &*self, 0)?;
        engine::wait_idle(t, &*self, 0, Duration::ZERO, OPTION_TIMEOUT, "waiting for the flash")?;
        unlock_with_keys(t, "FLASH_OPTCR", OPTCR, OPTLOCK, OPTKEYR, [OPTKEY1, OPTKEY2])?;
        let result = (|| {
            for &(word, value) in changes {
                t.write32(word.addr + PRG_OFFSET, value)?;
            }
            t.write32(OPTCR, OPTSTRT)?;
            engine::wait_idle(t, &*self, 0, OPTION_TYPICAL, OPTION_TIMEOUT, "changing the option bytes")
        })();
        let locked = t.write32(OPTCR, OPTLOCK);
        result?;
        locked?;
        if (t.read32(OPTSR_CUR)? ^ before) & SWAP_BANK != 0 {
            let _ = t.write32(cm::AIRCR, cm::AIRCR_VECTKEY | cm::AIRCR_SYSRESETREQ);
            return Ok(Reload::Reset);
        }
        Ok(Reload::Applied)
    }
}

/// Register facts (to be written).
pub(super) fn register_facts(_c: &'static crate::chip::Chip, _f: &mut crate::facts::Facts) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_state_is_shown_and_never_written() {
        let (n, t) = OPTSR.fields[6].describe(0xED);
        assert_eq!((n.as_str(), t.as_str()), ("0xED", "Open"));
        assert_eq!(OPTSR.fields[6].kind, K::Security);
        assert_eq!(NSBOOTR.fields[1].describe(0x08_0000).1, "0x08000000");
        assert_eq!(WRP1R.protected(0xFFFF_FFFE), (0..4).collect());
    }

    #[test]
    fn wrp_groups_become_sector_ranges_of_the_physical_bank() {
        let c = H5Controller::new(crate::chip::find(0x484).unwrap());
        let flash = &crate::chip::find(0x484).unwrap().flash;
        let layout = FlashLayout::dual(flash, 2 << 20);
        let a = c.write_protected(&layout, [0xFFFF_FFFE, 0x7FFF_FFFF], false);
        let ranges: Vec<(u32, u64)> = a.iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(ranges, [(0x0800_0000, 0x0800_8000), (0x081F_8000, 0x0820_0000)]);
        assert!(a[0].reason.contains("FLASH_WRP1R.WRPSG1 (sectors 0-3 of bank 1)"), "{}", a[0].reason);
        assert!(a[1].reason.contains("`stflash --area=option write WRPSG2=0xFFFFFFFF` first"), "{}", a[1].reason);
        // Swapped: WRP1R protects the physical bank 1, now at 0x08100000.
        let a = c.write_protected(&layout, [0xFFFF_FFFE, u32::MAX], true);
        assert_eq!((a[0].start, a[0].end), (0x0810_0000, 0x0810_8000));
        assert!(a[0].reason.contains("of bank 1, banks swapped"), "{}", a[0].reason);
        // 1 MiB part: 64 sectors per bank, the groups past them protect nothing.
        let layout = FlashLayout::dual(flash, 1 << 20);
        assert!(c.write_protected(&layout, [0x0000_FFFF, 0x0000_FFFF], false).is_empty());
    }
}
