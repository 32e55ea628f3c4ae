//! STM32L5/U5 option bytes (field positions from ST's
//! SVD files as converted in cmforthlib `stm32l552` and `stm32u575`
//! `flash.fs`: FLASH_OPTR, FLASH_NSBOOTADDxR, FLASH_WRPxyR).
//!
//! Edited through the non-secure registers with NSCR.LOCK and OPTLOCK open,
//! stored by OPTSTRT and loaded by OBL_LAUNCH, which resets the chip (OpenOCD
//! src/flash/nor/stm32l4x.c:1209-1218); stflash reconnects and reads them back. The same sequence as
//! the L4 class. With TrustZone enabled (OPTR.TZEN) stflash does not
//! touch the flash at all; TZEN, and the RDP level 0.5 that comes with it,
//! are security options stflash does not change (0x55 counts as level 1 for
//! the guards).
//!
//! st-flash's areas: `option` and `optcr` are OPTR; `option_boot_add` is
//! NSBOOTADD0R (an extension: the non-secure boot address with BOOT0 low;
//! NSBOOTADD1R is shown and written by name). WRP areas hold page ranges per
//! bank; U5 adds an UNLOCK bit that, once cleared, makes the area permanent
//! until an RDP regression: a security option.
//!
//! OTP (512 bytes at 0x0BFA0000) is read with `--area=otp read`; programming
//! it is not implemented (the simulator does not model it either).
//!
//! WBA5 (RM0493): OPTR without nRST_SHDW, SWAP_BANK or bank bits, with
//! SRAM1_RST 15 and TZEN 31 (CMSIS stm32wba52xx.h:3920-3962); one bank, so
//! two WRP areas, WRPAR/WRPBR at the U5's WRP1AR/WRP1BR offsets with PSTRT,
//! PEND (7 bits) and UNLOCK 31 (stm32wba52xx.h:356-357, 4001-4018);
//! NSBOOTADD0R/1R as on U5 (:351-352, 3967-3972). ST's SVD adds that the LSE
//! must be off before OBL_LAUNCH (FLASH_NSCR1.OBL_LAUNCH); stflash does not
//! check it (the RCC register was not verified): with the LSE on, the
//! option reload may not happen (assumed), and the read-back after the
//! reconnect says so.
//!
//! U3 (RM0487): OPTR with BDRST_POR 11, SRAM1_RST 15, SWAP_BANK 20,
//! DUALBANK 21, SRAM3_PE 23, the HSLV bits 29/30 and TZEN 31
//! (stm32u375xx.h:6599-6662); WRP1AR…WRP2BR with STRT, END (7 bits) and
//! UNLOCK at the U5's offsets (stm32u375xx.h:518-523, 6704); boot addresses
//! in BOOT0R/BOOT1R (0x44/0x48, ADD 31:7, stm32u375xx.h:513-514, 6667-6672).

use std::time::Duration;

use crate::family::l5u5::driver::TzController;
use crate::flash::options::{Field, FieldKind as K, OptionArea, OptionBytes, OptionWord, Reload, Show};
use crate::flash::reserved::{page_area, page_mask};
use crate::flash::{engine, unlock_with_keys, FlashController, FlashError, FlashLayout, Reserved, OPTKEY1, OPTKEY2};
use crate::mcu::Target;

const BASE: u32 = 0x4002_2000;
const OPTKEYR: u32 = BASE + 0x10;
const NSCR: u32 = BASE + 0x28;
const OPTR: u32 = BASE + 0x40;
const NSBOOTADD0R: u32 = BASE + 0x44;
const NSBOOTADD1R: u32 = BASE + 0x48;
const WRP1AR: u32 = BASE + 0x58;
const WRP1BR: u32 = BASE + 0x5C;
const WRP2AR: u32 = BASE + 0x68;
const WRP2BR: u32 = BASE + 0x6C;
const CR_OPTSTRT: u32 = 1 << 17;
const CR_OBL_LAUNCH: u32 = 1 << 27;
const CR_OPTLOCK: u32 = 1 << 30;

const OPTION_TYPICAL: Duration = Duration::from_millis(25);
const OPTION_TIMEOUT: Duration = Duration::from_secs(5);

macro_rules! f {
    ($name:expr, $shift:literal, $width:literal, $kind:expr, $show:expr, $meaning:expr) => {
        Field::new($name, $shift, $width, $kind, $show, $meaning)
    };
}

const RDP: Field = f!("RDP", 0, 8, K::Rdp, Show::RDP, "read-out protection (0x55: level 0.5, TrustZone only)");
const BOR: Show = Show::Choices(&[(0, "~1.7 V"), (1, "~2.0 V"), (2, "~2.2 V"), (3, "~2.5 V"), (4, "~2.8 V")]);
const NO_RESET: Show = Show::Flag("no", "yes");
const SW: Show = Show::Flag("software", "hardware");
const RUNS: Show = Show::Flag("runs", "frozen");

macro_rules! common_optr {
    () => {
        [
            RDP,
            f!("BOR_LEV", 8, 3, K::User, BOR, "brown-out reset threshold"),
            f!("nRST_STOP", 12, 1, K::User, NO_RESET, "reset when entering Stop"),
            f!("nRST_STDBY", 13, 1, K::User, NO_RESET, "reset when entering Standby"),
            f!("nRST_SHDW", 14, 1, K::User, NO_RESET, "reset when entering Shutdown"),
            f!("IWDG_SW", 16, 1, K::User, SW, "independent watchdog started by"),
            f!("IWDG_STOP", 17, 1, K::User, RUNS, "independent watchdog in Stop"),
            f!("IWDG_STDBY", 18, 1, K::User, RUNS, "independent watchdog in Standby"),
            f!("WWDG_SW", 19, 1, K::User, SW, "window watchdog started by"),
            f!("SWAP_BANK", 20, 1, K::BankConfig, Show::Flag("swapped", "not swapped"), "bank swap"),
        ]
    };
}

const COMMON: [Field; 10] = common_optr!();
const SRAM2_RST: Field = f!("SRAM2_RST", 25, 1, K::User, Show::Flag("no", "yes"), "SRAM2 erased by a system reset");
// U5 OPTR fields (stm32u575xx.h FLASH_OPTR_*), shared by every U5 word.
const SRAM1345_RST: Field =
    f!("SRAM1345_RST", 15, 1, K::User, Show::Flag("no", "yes"), "SRAM1/3/4 erased by a system reset");
const DUALBANK_U5: Field =
    f!("DUALBANK", 21, 1, K::BankConfig, Show::Flag("dual bank", "single bank"), "512 KiB and 1 MiB parts");
const BKPRAM_ECC: Field = f!("BKPRAM_ECC", 22, 1, K::User, Show::Flag("off", "on"), "backup RAM ECC");
const SRAM2_ECC: Field = f!("SRAM2_ECC", 24, 1, K::User, Show::Flag("off", "on"), "SRAM2 ECC");
const IO_VDD_HSLV: Field =
    f!("IO_VDD_HSLV", 29, 1, K::Electrical, Show::Flag("on", "off"), "high-speed I/O at low VDD (only below 2.5 V)");
const IO_VDDIO2_HSLV: Field = f!(
    "IO_VDDIO2_HSLV",
    30,
    1,
    K::Electrical,
    Show::Flag("on", "off"),
    "high-speed I/O at low VDDIO2 (only below 2.5 V)"
);
const NSWBOOT0: Field = f!("nSWBOOT0", 26, 1, K::BootConfig, Show::Flag("BOOT0 pin", "nBOOT0 bit"), "boot selected by");
const NBOOT0: Field = f!("nBOOT0", 27, 1, K::BootConfig, Show::Hex, "boot selection bit 0 (with nSWBOOT0 = 0)");
const PA15_PUPEN: Field = f!("PA15_PUPEN", 28, 1, K::User, Show::Flag("on", "off"), "PA15 pull-up");
const TZEN: Field = f!("TZEN", 31, 1, K::Security, Show::Flag("on", "off"), "TrustZone");

pub(super) static OPTR_L5: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: OPTR,
    fields: &[
        COMMON[0],
        COMMON[1],
        COMMON[2],
        COMMON[3],
        COMMON[4],
        COMMON[5],
        COMMON[6],
        COMMON[7],
        COMMON[8],
        COMMON[9],
        f!("DB256K", 21, 1, K::BankConfig, Show::Flag("dual bank", "single bank"), "256 KiB parts"),
        f!("DBANK", 22, 1, K::BankConfig, Show::Flag("dual bank", "single bank"), "512 KiB parts"),
        f!("SRAM2_PE", 24, 1, K::User, Show::Flag("off", "on"), "SRAM2 parity check"),
        SRAM2_RST,
        NSWBOOT0,
        NBOOT0,
        PA15_PUPEN,
        TZEN,
    ],
};

pub(super) static OPTR_U5: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: OPTR,
    fields: &[
        COMMON[0],
        COMMON[1],
        COMMON[2],
        COMMON[3],
        COMMON[4],
        SRAM1345_RST,
        COMMON[5],
        COMMON[6],
        COMMON[7],
        COMMON[8],
        COMMON[9],
        DUALBANK_U5,
        BKPRAM_ECC,
        f!("SRAM3_ECC", 23, 1, K::User, Show::Flag("off", "on"), "SRAM3 ECC"),
        SRAM2_ECC,
        SRAM2_RST,
        NSWBOOT0,
        NBOOT0,
        PA15_PUPEN,
        IO_VDD_HSLV,
        IO_VDDIO2_HSLV,
        TZEN,
    ],
};
/// U535/U545: no SRAM3, OPTR bit 23 reserved (stm32u535xx.h:7711-7763
/// define no `FLASH_OPTR_SRAM3_ECC`).
pub(super) static OPTR_U535: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: OPTR,
    fields: &[
        COMMON[0],
        COMMON[1],
        COMMON[2],
        COMMON[3],
        COMMON[4],
        SRAM1345_RST,
        COMMON[5],
        COMMON[6],
        COMMON[7],
        COMMON[8],
        COMMON[9],
        DUALBANK_U5,
        BKPRAM_ECC,
        SRAM2_ECC,
        SRAM2_RST,
        NSWBOOT0,
        NBOOT0,
        PA15_PUPEN,
        IO_VDD_HSLV,
        IO_VDDIO2_HSLV,
        TZEN,
    ],
};

/// NSBOOTADDx hold address bits 31:7 (128-byte granularity, RM0456).
pub(super) static NSBOOTADD0: OptionWord = OptionWord {
    name: "FLASH_NSBOOTADD0R",
    addr: NSBOOTADD0R,
    fields: &[f!("NSBOOTADD0", 7, 25, K::BootConfig, Show::BootAddress(7), "non-secure boot address, BOOT0 low")],
};
pub(super) static NSBOOTADD1: OptionWord = OptionWord {
    name: "FLASH_NSBOOTADD1R",
    addr: NSBOOTADD1R,
    fields: &[f!("NSBOOTADD1", 7, 25, K::BootConfig, Show::BootAddress(7), "non-secure boot address, BOOT0 high")],
};

macro_rules! wrp {
    ($name:literal, $addr:expr, $strt:literal, $end:literal, $w:literal, $what:literal $(, $unlock:literal)?) => {
        OptionWord {
            name: $name,
            addr: $addr,
            fields: &[
                f!($strt, 0, $w, K::WriteProtect, Show::ProtectedFrom { unit: "page", end: 16 }, $what),
                f!($end, 16, $w, K::WriteProtect, Show::ProtectedTo, "last page of the area"),
                $(f!(
                    $unlock,
                    31,
                    1,
                    K::Security,
                    Show::Flag("removable", "permanent until an RDP regression"),
                    "the area is"
                ),)?
            ],
        }
    };
}

macro_rules! wrp_set {
    ($w:literal $(, $unlock:literal)?) => {
        [
            wrp!("FLASH_WRP1AR", WRP1AR, "WRP1A_PSTRT", "WRP1A_PEND", $w, "bank 1 area A" $(, $unlock)?),
            wrp!("FLASH_WRP1BR", WRP1BR, "WRP1B_PSTRT", "WRP1B_PEND", $w, "bank 1 area B" $(, $unlock)?),
            wrp!("FLASH_WRP2AR", WRP2AR, "WRP2A_PSTRT", "WRP2A_PEND", $w, "bank 2 area A" $(, $unlock)?),
            wrp!("FLASH_WRP2BR", WRP2BR, "WRP2B_PSTRT", "WRP2B_PEND", $w, "bank 2 area B" $(, $unlock)?),
        ]
    };
}
pub(super) static WRP_L5: [OptionWord; 4] = wrp_set!(7);
pub(super) static WRP_U5_5: [OptionWord; 4] = wrp_set!(5, "WRP_UNLOCK");
pub(super) static WRP_U5_7: [OptionWord; 4] = wrp_set!(7, "WRP_UNLOCK");
pub(super) static WRP_U5_8: [OptionWord; 4] = wrp_set!(8, "WRP_UNLOCK");

/// WBA5: one bank, areas A and B.
pub(super) static WRP_WBA5: [OptionWord; 2] = [
    wrp!("FLASH_WRPAR", WRP1AR, "WRPA_PSTRT", "WRPA_PEND", 7, "area A", "WRP_UNLOCK"),
    wrp!("FLASH_WRPBR", WRP1BR, "WRPB_PSTRT", "WRPB_PEND", 7, "area B", "WRP_UNLOCK"),
];
/// U3: the U5's four areas, fields named STRT/END as in CMSIS.
pub(super) static WRP_U3: [OptionWord; 4] = [
    wrp!("FLASH_WRP1AR", WRP1AR, "WRP1A_STRT", "WRP1A_END", 7, "bank 1 area A", "WRP_UNLOCK"),
    wrp!("FLASH_WRP1BR", WRP1BR, "WRP1B_STRT", "WRP1B_END", 7, "bank 1 area B", "WRP_UNLOCK"),
    wrp!("FLASH_WRP2AR", WRP2AR, "WRP2A_STRT", "WRP2A_END", 7, "bank 2 area A", "WRP_UNLOCK"),
    wrp!("FLASH_WRP2BR", WRP2BR, "WRP2B_STRT", "WRP2B_END", 7, "bank 2 area B", "WRP_UNLOCK"),
];

pub(super) static OPTR_WBA5: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: OPTR,
    fields: &[
        COMMON[0],
        COMMON[1],
        COMMON[2],
        COMMON[3],
        f!("SRAM1_RST", 15, 1, K::User, Show::Flag("no", "yes"), "SRAM1 erased by a system reset"),
        COMMON[5],
        COMMON[6],
        COMMON[7],
        COMMON[8],
        f!("SRAM2_PE", 24, 1, K::User, Show::Flag("off", "on"), "SRAM2 parity check"),
        SRAM2_RST,
        NSWBOOT0,
        NBOOT0,
        TZEN,
    ],
};

pub(super) static OPTR_U3: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: OPTR,
    fields: &[
        COMMON[0],
        COMMON[1],
        f!("BDRST_POR", 11, 1, K::User, Show::Hex, "backup-domain reset option"),
        COMMON[2],
        COMMON[3],
        COMMON[4],
        f!("SRAM1_RST", 15, 1, K::User, Show::Flag("no", "yes"), "SRAM1 erased by a system reset"),
        COMMON[5],
        COMMON[6],
        COMMON[7],
        COMMON[8],
        COMMON[9],
        f!("DUALBANK", 21, 1, K::BankConfig, Show::Flag("dual bank", "single bank"), "512 KiB parts"),
        f!("SRAM3_PE", 23, 1, K::User, Show::Flag("off", "on"), "SRAM3 parity check"),
        f!("SRAM2_PE", 24, 1, K::User, Show::Flag("off", "on"), "SRAM2 parity check"),
        SRAM2_RST,
        NSWBOOT0,
        NBOOT0,
        OPTR_U5.fields[19],
        OPTR_U5.fields[20],
        TZEN,
    ],
};

/// U3 boot addresses: BOOT0R/BOOT1R, ADD 31:7.
pub(super) static BOOT0R_U3: OptionWord = OptionWord {
    name: "FLASH_BOOT0R",
    addr: NSBOOTADD0R,
    fields: &[f!("BOOTADD0", 7, 25, K::BootConfig, Show::BootAddress(7), "boot address, BOOT0 low")],
};
pub(super) static BOOT1R_U3: OptionWord = OptionWord {
    name: "FLASH_BOOT1R",
    addr: NSBOOTADD1R,
    fields: &[f!("BOOTADD1", 7, 25, K::BootConfig, Show::BootAddress(7), "boot address, BOOT0 high")],
};

/// Why a U5 area with WRP_UNLOCK = 0 cannot be removed with stflash.
const LOCKED_AREA: &str = "the area is locked (its WRP_UNLOCK bit is 0): only an RDP regression from level 1 to 0, \
                           which erases the whole flash, unlocks it (RM0456 FLASH_WRP1AR.UNLOCK); use \
                           STM32CubeProgrammer";

impl TzController {
    fn optr_word(&self) -> &'static OptionWord {
        self.variant().optr
    }

    /// The pages the WRP area registers (`values`: WRP1AR, WRP1BR, WRP2AR,
    /// WRP2BR in force) protect, as address ranges of `layout`: WRP1x from
    /// bank 1, WRP2x from bank 2 in dual-bank mode; in single-bank mode WRP2x
    /// count from the flash base on L5 and protect nothing on U5
    /// ([`Variant::wrp2_in_single_bank`]). Start and end are read with as many
    /// bits as a bank of the largest part of the die has pages.
    ///
    /// [`Variant::wrp2_in_single_bank`]: crate::family::l5u5::driver::Variant::wrp2_in_single_bank
    pub(super) fn write_protected(&self, layout: &FlashLayout, values: &[u32]) -> Vec<Reserved> {
        let dual = layout.banks.len() > 1;
        let mut out = Vec::new();
        for (i, (word, &value)) in self.wrp_words().iter().zip(values).enumerate() {
            let b = match (i >= 2, dual) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) if self.variant().wrp2_in_single_bank => 0,
                (true, false) => continue,
            };
            let Some(bank) = layout.banks.get(b) else { continue };
            let pages = bank.sectors(b as u8);
            let Some(first) = pages.first() else { continue };
            let mask = page_mask(self.chip().max_flash_kib as u64 * 1024, first.size, layout.banks.len());
            let locked = word.field("WRP_UNLOCK").is_some_and(|f| f.get(value) == 0);
            let of = if dual { format!(" of bank {}", b + 1) } else { String::new() };
            out.extend(page_area(word, value, mask, &pages, &of, locked.then_some(LOCKED_AREA)));
        }
        out
    }

    fn wrp_words(&self) -> &'static [OptionWord] {
        self.variant().wrp
    }
}

impl OptionBytes for TzController {
    fn words(&self) -> Vec<&'static OptionWord> {
        let [boot0, boot1] = self.variant().boot;
        let mut w = vec![self.optr_word(), boot0, boot1];
        w.extend(self.wrp_words().iter());
        w
    }

    fn area_word(&self, area: OptionArea) -> Option<&'static OptionWord> {
        match area {
            OptionArea::Option | OptionArea::Optcr => Some(self.optr_word()),
            OptionArea::BootAdd => Some(self.variant().boot[0]),
            OptionArea::Optcr1 => None,
        }
    }

    /// NSCR.LOCK and OPTLOCK, the registers, OPTSTRT, wait BSY, OBL_LAUNCH.
    fn program(&mut self, t: &mut Target, changes: &[(&'static OptionWord, u32)]) -> Result<Reload, FlashError> {
        engine::clear_stale_errors(t, &*self, 0)?;
        engine::wait_idle(t, &*self, 0, Duration::ZERO, OPTION_TIMEOUT, "waiting for the flash")?;
        // The driver's unlock refuses a TrustZone chip and, on L5, sets the
        // voltage range the flash needs.
        self.unlock(t, 0)?;
        let result = (|| {
            unlock_with_keys(t, "FLASH_NSCR.OPTLOCK", NSCR, CR_OPTLOCK, OPTKEYR, [OPTKEY1, OPTKEY2])?;
            for &(word, value) in changes {
                t.write32(word.addr, value)?;
            }
            t.write32(NSCR, CR_OPTSTRT)?;
            engine::wait_idle(t, &*self, 0, OPTION_TYPICAL, OPTION_TIMEOUT, "storing the option bytes")
        })();
        if let Err(e) = result {
            let _ = self.lock(t, 0);
            return Err(e);
        }
        // Loading them resets the chip; the probe may report the write as failed.
        let _ = t.write32(NSCR, CR_OBL_LAUNCH);
        Ok(Reload::Reset)
    }
}

/// The option tables' facts for a row, by the names of ST's headers: each
/// option word at its `FLASH_TypeDef` member, its fields as the header
/// names them (stm32l552xx.h:7445-7583, stm32u575xx.h:8380-8500,
/// stm32wba52xx.h, stm32u375xx.h).
pub(super) fn register_facts(c: &'static crate::chip::Chip, f: &mut crate::facts::Facts) {
    let Some(d) = TzController::new(c) else { return };
    let n = d.variant().names;
    f.source("option table");
    f.number("FLASH_TypeDef.OPTKEYR", (OPTKEYR - BASE) as u64);
    f.number("FLASH_OPTKEY1", OPTKEY1 as u64).number("FLASH_OPTKEY2", OPTKEY2 as u64);
    // OPTSTRT, OBL_LAUNCH and OPTLOCK carry no NS prefix on L5 either
    // (stm32l552xx.h:7364-7376).
    let cr = n.cr;
    f.mask(format!("FLASH_{cr}_OPTSTRT"), CR_OPTSTRT)
        .mask(format!("FLASH_{cr}_OBL_LAUNCH"), CR_OBL_LAUNCH)
        .mask(format!("FLASH_{cr}_OPTLOCK"), CR_OPTLOCK);
    for word in d.words() {
        let reg = word.name.trim_start_matches("FLASH_");
        // WRP areas: as wide as PNB (`HeaderNames::width_part`).
        let part = n.width_part.filter(|_| reg.starts_with("WRP"));
        f.scope(part.map_or(crate::facts::Scope::Die, crate::facts::Scope::Part));
        f.option_word(word, &format!("{}+FLASH_TypeDef.{reg}", n.base), word.name, n.option_renames);
    }
    f.scope(crate::facts::Scope::Die);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;

    #[test]
    fn words_per_part() {
        let l5 = TzController::new(chips::find(0x472).unwrap()).unwrap();
        assert!(l5.words()[0].field("DBANK").is_some());
        assert!(l5.words()[3].field("WRP_UNLOCK").is_none());
        let u575 = TzController::new(chips::find(0x482).unwrap()).unwrap();
        assert!(u575.words()[0].field("DUALBANK").is_some());
        assert_eq!(u575.words()[3].field("WRP1A_PSTRT").map(|f| f.width), Some(7));
        assert_eq!(u575.area_word(OptionArea::BootAdd).unwrap().addr, 0x4002_2044);
        assert_eq!(NSBOOTADD0.fields[0].describe(0x0100000).1, "0x08000000");
    }

    /// (start, end exclusive, reason) of each protected area.
    fn areas(dev_id: u16, size: u32, optr: u32, values: [u32; 4]) -> Vec<(u32, u64, String)> {
        let values = &values[..];
        let d = TzController::new(chips::find(dev_id).unwrap()).unwrap();
        let spec = &d.chip().flash;
        let layout =
            if d.dual_bank(optr, size) { FlashLayout::dual(spec, size) } else { FlashLayout::single(spec, size) };
        d.write_protected(&layout, values).into_iter().map(|r| (r.start, r.end, r.reason)).collect()
    }

    fn ranges(a: &[(u32, u64, String)]) -> Vec<(u32, u64)> {
        a.iter().map(|r| (r.0, r.1)).collect()
    }

    const KIB: u32 = 1024;
    const NONE_U5: u32 = 0x8000_007F;

    #[test]
    fn u5_areas_per_bank_and_locked_ones() {
        // U575, 2 MiB: two banks of 128 × 8 KiB pages (RM0456 FLASH_WRPxyR).
        let a = areas(0x482, 2048 * KIB, 0, [0x8003_0002, NONE_U5, NONE_U5, 0x0001_0000]);
        assert_eq!(ranges(&a), [(0x0800_4000, 0x0800_8000), (0x0810_0000, 0x0810_4000)]);
        assert!(a[0].2.contains("FLASH_WRP1AR (pages 2-3 of bank 1)"), "{}", a[0].2);
        assert!(a[0].2.contains("`stflash --area=option write WRP1A_PSTRT=0x7F,WRP1A_PEND=0x00` first"), "{}", a[0].2);
        // WRP2BR with UNLOCK = 0: only an RDP regression removes it.
        assert!(a[1].2.contains("FLASH_WRP2BR (pages 0-1 of bank 2)"), "{}", a[1].2);
        assert!(a[1].2.contains("WRP_UNLOCK bit is 0") && a[1].2.contains("STM32CubeProgrammer"), "{}", a[1].2);
        assert!(areas(0x482, 2048 * KIB, 0, [NONE_U5; 4]).is_empty());
        // 1 MiB with DUALBANK = 0: one bank, WRP2x unused on U5.
        assert!(areas(0x482, 1024 * KIB, 0, [NONE_U5, NONE_U5, 0x8001_0000, NONE_U5]).is_empty());
    }

    #[test]
    fn l5_wrp2_follows_the_bank_mode() {
        // L552, 512 KiB, DBANK = 0: 4 KiB pages, WRP2x from the flash base.
        let a = areas(0x472, 512 * KIB, 0, [0x7F, 0x7F, 0x0001_0000, 0x7F]);
        assert_eq!(ranges(&a), [(0x0800_0000, 0x0800_2000)]);
        assert!(a[0].2.contains("FLASH_WRP2AR (pages 0-1)"), "{}", a[0].2);
        // DBANK = 1 (bit 22): 2 KiB pages, bank 2 at 0x08040000.
        let a = areas(0x472, 512 * KIB, 1 << 22, [0x7F, 0x7F, 0x0001_0000, 0x7F]);
        assert_eq!(ranges(&a), [(0x0804_0000, 0x0804_1000)]);
    }
}
