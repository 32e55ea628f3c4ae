//! STM32H5 option bytes (field positions from ST's SVD
//! as converted in cmforthlib `stm32h563/flash.fs`: FLASH_OPTSR_CUR/PRG,
//! OPTSR2, NSBOOTR, WRPxR).
//!
//! An H7-like register pair per option (`*_CUR` in force, `*_PRG` 4 bytes
//! above): unlock OPTCR with the option keys, write the `*_PRG` registers,
//! set OPTCR.OPTSTRT, wait for NSSR.BSY, check OPTCHANGEERR, lock. The values
//! apply without a reset, except SWAP_BANK, which the flash follows after the
//! next reset (OPTCR.SWAP_BANK "loaded … only after reset", ST's SVD
//! text in embassy stm32-data-generated data/registers/flash_h5.json): stflash
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
//! st-flash did not support H5 (it took it for an L5: stlink
//! config/chips/H5xx.chip, flash_type L5_U5_H5). The areas
//! here: `option` and `optcr` are OPTSR, `option_boot_add` is NSBOOTR.
//!
//! Per die ([`Variant`](super::Variant)): the H503 (RM0492) has no BOOT_UBE
//! and no TZEN, SRAM1_RST/SRAM1_ECC at OPTSR2 bits 9/10, and one WRPSG bit
//! per sector (CMSIS stm32h503xx.h:5523-5599); the H523/H533 lack the
//! H563's SRAM3_ECC and have 8 WRPSG bits of four sectors (stm32h523xx.h:
//! 7294-7383). H523/H533 and H56x have the high-cycle data area (EDATA):
//! EDATAxR_CUR (0xF0, 0x1F0; stm32h523xx.h:556, 572, stm32h563xx.h:760, 782)
//! with EDATA_STRT 2:0 (sectors given to it, minus one) and EDATA_EN 15
//! (stm32h523xx.h:7388-7391; ST HAL stm32h5xx_hal_flash_ex.c `FLASH_OB_EDATAConfig`).
//! Which sectors of the bank become EDATA is assumed (the last ones; RM0481
//! not read), and when a change takes effect too (stflash resets the chip
//! after one, as after SWAP_BANK).

use std::time::Duration;

use crate::family::h5::driver::H5Controller;
use crate::flash::options::{Field, FieldKind as K, Mask, OptionArea, OptionBytes, OptionWord, Reload, Show};
use crate::flash::reserved::mask_areas;
use crate::flash::{engine, unlock_with_keys, FlashError, FlashLayout, Reserved, ReservedKind, OPTKEY1, OPTKEY2};
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

pub(super) static OPTSR: OptionWord = OptionWord {
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

pub(super) static OPTSR2: OptionWord = OptionWord {
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

/// H503: OPTSR without BOOT_UBE (stm32h503xx.h:5523-5558).
pub(super) static OPTSR_H503: OptionWord = OptionWord {
    name: "FLASH_OPTSR",
    addr: OPTSR_CUR,
    fields: &[
        OPTSR.fields[0],
        OPTSR.fields[1],
        OPTSR.fields[2],
        OPTSR.fields[3],
        OPTSR.fields[4],
        OPTSR.fields[5],
        OPTSR.fields[6],
        OPTSR.fields[7],
        OPTSR.fields[8],
        OPTSR.fields[9],
        OPTSR.fields[10],
        OPTSR.fields[12],
    ],
};

/// H523/H533: OPTSR2 without SRAM3_ECC (stm32h523xx.h:7342-7357).
pub(super) static OPTSR2_H52X: OptionWord = OptionWord {
    name: "FLASH_OPTSR2",
    addr: OPTSR2_CUR,
    fields: &[
        OPTSR2.fields[0],
        OPTSR2.fields[1],
        OPTSR2.fields[2],
        OPTSR2.fields[4],
        OPTSR2.fields[5],
        OPTSR2.fields[6],
    ],
};

/// H503: SRAM2_RST 3, BKPRAM_ECC 4, SRAM2_ECC 6, SRAM1_RST 9, SRAM1_ECC 10;
/// no TrustZone (stm32h503xx.h:5568-5580).
pub(super) static OPTSR2_H503: OptionWord = OptionWord {
    name: "FLASH_OPTSR2",
    addr: OPTSR2_CUR,
    fields: &[
        OPTSR2.fields[1],
        OPTSR2.fields[2],
        OPTSR2.fields[4],
        f!("SRAM1_RST", 9, 1, K::User, Show::Flag("no", "yes"), "SRAM1 erased by a system reset"),
        f!("SRAM1_ECC", 10, 1, K::User, Show::Flag("off", "on"), "SRAM1 ECC"),
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

/// One bit per group of four 8 KiB sectors, 0 = protected (RM0481 FLASH_WRPxR):
/// 32 bits on H56x (stm32h563xx.h:10078), 8 on H523/H533 (stm32h523xx.h:7383);
/// one bit per sector, 8 bits, on the H503 (stm32h503xx.h:5599; ST HAL
/// stm32h5xx_hal_flash_ex.h: `OB_WRP_SECTOR_0` … `_7` where
/// `FLASH_SECTOR_NB == 8`).
macro_rules! wrp {
    ($name:literal, $addr:expr, $field:literal, $width:literal, $per_bit:literal, $what:literal) => {
        OptionWord {
            name: $name,
            addr: $addr,
            fields: &[f!(
                $field,
                0,
                $width,
                K::WriteProtect,
                Show::Protection(Mask::new("sector", $per_bit, 0, true)),
                $what
            )],
        }
    };
}
pub(super) static WRP1R: OptionWord = wrp!("FLASH_WRP1R", WRP1R_CUR, "WRPSG1", 32, 4, "write protection, bank 1");
pub(super) static WRP2R: OptionWord = wrp!("FLASH_WRP2R", WRP2R_CUR, "WRPSG2", 32, 4, "write protection, bank 2");
pub(super) static WRP1R_H52X: OptionWord = wrp!("FLASH_WRP1R", WRP1R_CUR, "WRPSG1", 8, 4, "write protection, bank 1");
pub(super) static WRP2R_H52X: OptionWord = wrp!("FLASH_WRP2R", WRP2R_CUR, "WRPSG2", 8, 4, "write protection, bank 2");
pub(super) static WRP1R_H503: OptionWord = wrp!("FLASH_WRP1R", WRP1R_CUR, "WRPSG1", 8, 1, "write protection, bank 1");
pub(super) static WRP2R_H503: OptionWord = wrp!("FLASH_WRP2R", WRP2R_CUR, "WRPSG2", 8, 1, "write protection, bank 2");

/// The high-cycle data area of a bank (see the module notes): changing it
/// changes which sectors are main flash, so it needs --allow-bank-config.
macro_rules! edata {
    ($name:literal, $addr:expr, $strt:literal, $en:literal, $what:literal) => {
        OptionWord {
            name: $name,
            addr: $addr,
            fields: &[
                f!($strt, 0, 3, K::BankConfig, Show::Hex, "sectors given to the EDATA area, minus one"),
                f!($en, 15, 1, K::BankConfig, Show::Flag("on", "off"), $what),
            ],
        }
    };
}
pub(super) static EDATA1R: OptionWord =
    edata!("FLASH_EDATA1R", BASE + 0xF0, "EDATA1_STRT", "EDATA1_EN", "high-cycle data area in bank 1");
pub(super) static EDATA2R: OptionWord =
    edata!("FLASH_EDATA2R", BASE + 0x1F0, "EDATA2_STRT", "EDATA2_EN", "high-cycle data area in bank 2");

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
        for (phys, (word, value)) in self.variant().wrp.into_iter().zip(wrp).enumerate() {
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

impl H5Controller {
    /// The sectors given to the high-cycle data area (EDATA1R_CUR,
    /// EDATA2R_CUR in `edata`, physical banks like WRPxR): not main flash,
    /// refused to writes and erases. Assumed the last EDATA_STRT + 1 sectors
    /// of the bank (see the module notes).
    pub(super) fn edata_sectors(&self, layout: &FlashLayout, edata: [u32; 2], swapped: bool) -> Vec<Reserved> {
        let Some(words) = self.variant().edata else { return Vec::new() };
        let mut out = Vec::new();
        for (phys, (word, value)) in words.into_iter().zip(edata).enumerate() {
            let (strt, en) = (word.fields[0], word.fields[1]);
            if en.get(value) == 0 {
                continue;
            }
            let logical = if swapped { 1 - phys } else { phys };
            let Some(bank) = layout.banks.get(logical) else { continue };
            let sectors = bank.sectors(logical as u8);
            let n = (strt.get(value) as usize + 1).min(sectors.len());
            let (first, last) = (&sectors[sectors.len() - n], &sectors[sectors.len() - 1]);
            out.push(Reserved {
                start: first.addr,
                end: last.end(),
                kind: ReservedKind::WriteProtected,
                reason: format!(
                    "given to the high-cycle data area by {} ({}_EN = 1, {}_STRT = {}: the last {n} sectors of \
                     physical bank {}, assumed), which stflash does not program; change it with \
                     `stflash --allow-bank-config --area=option write {}=0` first, or use STM32CubeProgrammer",
                    word.name,
                    &en.name[..en.name.len() - 3],
                    &strt.name[..strt.name.len() - 5],
                    strt.get(value),
                    phys + 1,
                    en.name
                ),
            });
        }
        out
    }
}

impl OptionBytes for H5Controller {
    fn words(&self) -> Vec<&'static OptionWord> {
        let v = self.variant();
        let mut words = vec![v.optsr, v.optsr2, &NSBOOTR, v.wrp[0], v.wrp[1]];
        words.extend(v.edata.iter().flatten().copied());
        words
    }

    fn area_word(&self, area: OptionArea) -> Option<&'static OptionWord> {
        match area {
            OptionArea::Option | OptionArea::Optcr => Some(self.variant().optsr),
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
        let edata = changes.iter().any(|(w, _)| w.name.starts_with("FLASH_EDATA"));
        if edata || (t.read32(OPTSR_CUR)? ^ before) & SWAP_BANK != 0 {
            let _ = t.write32(cm::AIRCR, cm::AIRCR_VECTKEY | cm::AIRCR_SYSRESETREQ);
            return Ok(Reload::Reset);
        }
        Ok(Reload::Applied)
    }
}

/// The option tables' facts for a row, by the names of ST's headers: each
/// option word at its `FLASH_TypeDef` `_CUR` member, its `_PRG` member 4
/// bytes above, and its fields (stm32h563xx.h:9818-10078).
pub(super) fn register_facts(c: &'static crate::chip::Chip, f: &mut crate::facts::Facts) {
    // ST names the fields of the boot, WRP and EDATA registers once for
    // both (`FLASH_BOOTR_*` stm32h563xx.h:10057-10060, `FLASH_WRPR_WRPSG`
    // :10078); the EDATA fields (`FLASH_EDATAR_*`, :10083-10086) are not
    // kept by extract.py (it skips the EDATA registers).
    const RENAMES: &[(&str, Option<&str>)] = &[
        ("NSBOOT_LOCK", Some("FLASH_BOOTR_BOOT_LOCK")),
        ("NSBOOTADD", Some("FLASH_BOOTR_BOOTADD")),
        ("WRPSG1", Some("FLASH_WRPR_WRPSG")),
        ("WRPSG2", Some("FLASH_WRPR_WRPSG")),
        ("EDATA1_STRT", None),
        ("EDATA1_EN", None),
        ("EDATA2_STRT", None),
        ("EDATA2_EN", None),
    ];
    let Some(d) = H5Controller::new(c) else { return };
    f.source("option table");
    f.number("FLASH_TypeDef.OPTKEYR", (OPTKEYR - BASE) as u64);
    f.number("FLASH_OPT_KEY1", OPTKEY1 as u64).number("FLASH_OPT_KEY2", OPTKEY2 as u64);
    f.mask("FLASH_OPTCR_OPTLOCK", OPTLOCK).mask("FLASH_OPTCR_OPTSTART", OPTSTRT);
    f.mask("FLASH_OPTCR_SWAP_BANK", SWAP_BANK);
    for word in d.words() {
        let reg = word.name.trim_start_matches("FLASH_");
        f.number(format!("FLASH_R_BASE_NS+FLASH_TypeDef.{reg}_PRG"), (word.addr + PRG_OFFSET) as u64);
        f.option_word(word, &format!("FLASH_R_BASE_NS+FLASH_TypeDef.{reg}_CUR"), word.name, RENAMES);
    }
}

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
        let c = H5Controller::new(crate::chip::find(0x484).unwrap()).unwrap();
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
