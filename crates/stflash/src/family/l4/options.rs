//! Option bytes of the double-word controllers: STM32L4, L4+, G0, G4, C0,
//! WB, WL. Field positions are those of ST's CMSIS device headers
//! (`FLASH_OPTR_*`, `FLASH_WRP1AR_*`, `FLASH_SFR_*` of each die: stm32l476xx.h,
//! stm32l496xx.h, stm32l4r5xx.h, stm32g071xx.h, stm32g0b1xx.h, stm32g474xx.h,
//! stm32c031xx.h, stm32wb55xx.h, stm32wle5xx.h); `register_facts` below
//! states them and `crates/stflash/tests/it/crosscheck.rs` checks them
//! against `facts/cmsis.facts`, which names the lines.
//!
//! The option registers (OPTR, WRP1AR/BR and, on dual-bank parts,
//! WRP2AR/BR) are edited with both locks open (LOCK, then OPTLOCK through
//! OPTKEYR), stored with OPTSTRT, and loaded with OBL_LAUNCH, which resets
//! the chip (OpenOCD src/flash/nor/stm32l4x.c:1209-1218): stflash reconnects
//! and reads them back. A level 1 → 0 change erases the flash when the
//! options are stored.
//!
//! st-flash's areas: `option` is OPTR (st-flash read OPTR on C0/G0/G4 and
//! the memory word at the option base on L4/WB/WL, which holds the same
//! value); `optcr` is OPTR as well (st-flash on C0 and WB/WL). There is no
//! `optcr1`/`option_boot_add`.
//!
//! A WRP area protects the pages from its start to its end offset
//! (bank-relative), none when start > end. The fields are as wide as the
//! header of the die says (stm32l412xx.h:3336 6 bits, stm32l432xx.h:7037 7,
//! stm32l4p5xx.h:9022 7, stm32g031xx.h:2615 and stm32g051xx.h:2951 5,
//! stm32g071xx.h:3166 6, stm32g0b1xx.h 7, stm32g431xx.h:4837 6,
//! stm32g491xx.h:5001 7, stm32c031xx.h:2458 4, stm32wb35xx.h 7,
//! stm32wle5xx.h:3859 7; 8 elsewhere); the parts implement only as many
//! bits as the pages of a bank of the largest part of the die need, and the
//! others read 0 on some parts, 1 on others (OpenOCD stm32l4x.c
//! `wrpxxr_mask`, "notably G4 Cat. 2 implement only 6 bits"), so the
//! protection in force is decoded with that many bits
//! (`L4gController::write_protected`).
//!
//! The G0x0 value line (G030, G050, G070, G0B0) shares its DEV_IDs with the
//! G0x1 parts but has no BOR_EN/BORR_LEV/BORF_LEV, NRST_MODE or IRHEN
//! (stm32g030xx.h `FLASH_OPTR`); nothing read over SWD tells them apart, so
//! those fields are shown on every G0 and read as the reserved bits they are
//! on a G0x0.

use std::time::Duration;

use crate::chip::{Chip, Controller};
use crate::facts::{Facts, Scope};
use crate::family::l4::driver::L4gController;
use crate::flash::options::{Field, FieldKind as K, OptionArea, OptionBytes, OptionWord, Otp, Reload, Show};
use crate::flash::reserved::{page_area, page_mask};
use crate::flash::{
    engine, unlock_with_keys, FlashController, FlashError, FlashLayout, NoProgress, Reserved, Sector, OPTKEY1, OPTKEY2,
};
use crate::mcu::Target;

const BASE: u32 = 0x4002_2000;
const BASE_WB_WL: u32 = 0x5800_4000;
const OPTKEYR: u32 = 0x0C;
const CR: u32 = 0x14;
const OPTR: u32 = 0x20;
const WRP1AR: u32 = 0x2C;
const WRP1BR: u32 = 0x30;
const WRP2AR: u32 = 0x4C;
const WRP2BR: u32 = 0x50;
const SFR: u32 = 0x80;
const CR_OPTSTRT: u32 = 1 << 17;
const CR_OBL_LAUNCH: u32 = 1 << 27;
const CR_OPTLOCK: u32 = 1 << 30;

/// Storing the options: 22 ms modeled (recalled from the datasheets' flash memory
/// characteristics, not checked); the regression erase of a 1 MiB L4 is well
/// under a second (mass erase ≈22 ms typical, recalled from DS10198, not checked).
const OPTION_TYPICAL: Duration = Duration::from_millis(25);
const OPTION_TIMEOUT: Duration = Duration::from_secs(5);

macro_rules! f {
    ($name:expr, $shift:literal, $width:literal, $kind:expr, $show:expr, $meaning:expr) => {
        Field::new($name, $shift, $width, $kind, $show, $meaning)
    };
}

const RDP: Field = f!("RDP", 0, 8, K::Rdp, Show::RDP, "read-out protection");
const NO_RESET: Show = Show::Flag("no", "yes");
const SW: Show = Show::Flag("software", "hardware");
const RUNS: Show = Show::Flag("runs", "frozen");
/// BOR_LEV of L4/G4/WB/WL: 0 = 1.7 V … 4 = 2.8 V (RM0351 FLASH_OPTR).
const BOR3: Show = Show::Choices(&[(0, "~1.7 V"), (1, "~2.0 V"), (2, "~2.2 V"), (3, "~2.5 V"), (4, "~2.8 V")]);
const NRST_MODE: Field = f!(
    "NRST_MODE",
    27,
    2,
    K::BootConfig,
    Show::Choices(&[(1, "reset input"), (2, "GPIO (no reset pin!)"), (3, "reset in/out")]),
    "NRST pin"
);

// Fields shared by L4, L4+, G4, WB, WL (OPTR bits 12-19).
const NRST_STOP: Field = f!("nRST_STOP", 12, 1, K::User, NO_RESET, "reset when entering Stop");
const NRST_STDBY: Field = f!("nRST_STDBY", 13, 1, K::User, NO_RESET, "reset when entering Standby");
const NRST_SHDW: Field = f!("nRST_SHDW", 14, 1, K::User, NO_RESET, "reset when entering Shutdown");
const IWDG_SW: Field = f!("IWDG_SW", 16, 1, K::User, SW, "independent watchdog started by");
const IWDG_STOP: Field = f!("IWDG_STOP", 17, 1, K::User, RUNS, "independent watchdog in Stop");
const IWDG_STDBY: Field = f!("IWDG_STDBY", 18, 1, K::User, RUNS, "independent watchdog in Standby");
const WWDG_SW: Field = f!("WWDG_SW", 19, 1, K::User, SW, "window watchdog started by");
const NBOOT1: Field = f!("nBOOT1", 23, 1, K::BootConfig, Show::Hex, "boot selection bit 1");
const SRAM2_PE: Field = f!("SRAM2_PE", 24, 1, K::User, Show::Flag("off", "on"), "SRAM2 parity check");
const SRAM2_RST: Field = f!("SRAM2_RST", 25, 1, K::User, Show::Flag("no", "yes"), "SRAM2 erased by a system reset");
const NSWBOOT0: Field = f!("nSWBOOT0", 26, 1, K::BootConfig, Show::Flag("BOOT0 pin", "nBOOT0 bit"), "boot selected by");
const NBOOT0: Field = f!("nBOOT0", 27, 1, K::BootConfig, Show::Hex, "boot selection bit 0 (with nSWBOOT0 = 0)");
const BFB2: Field = f!("BFB2", 20, 1, K::BootConfig, Show::Flag("bank 2", "bank 1"), "boot from");
const BOR_LEV: Field = f!("BOR_LEV", 8, 3, K::User, BOR3, "brown-out reset threshold");

static OPTR_L4_SINGLE: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: BASE + OPTR,
    fields: &[
        RDP, BOR_LEV, NRST_STOP, NRST_STDBY, NRST_SHDW, IWDG_SW, IWDG_STOP, IWDG_STDBY, WWDG_SW, NBOOT1, SRAM2_PE,
        SRAM2_RST, NSWBOOT0, NBOOT0,
    ],
};
/// L47x/L48x: no nSWBOOT0/nBOOT0 (stm32l476xx.h `FLASH_OPTR` ends at SRAM2_RST).
static OPTR_L47X: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: BASE + OPTR,
    fields: &[
        RDP, BOR_LEV, NRST_STOP, NRST_STDBY, NRST_SHDW, IWDG_SW, IWDG_STOP, IWDG_STDBY, WWDG_SW, BFB2, DUALBANK,
        NBOOT1, SRAM2_PE, SRAM2_RST,
    ],
};
const DUALBANK: Field =
    f!("DUALBANK", 21, 1, K::BankConfig, Show::Flag("dual bank", "single bank"), "256/512 KiB parts");
/// L49x/L4Ax: as L47x, with nSWBOOT0/nBOOT0 (stm32l496xx.h `FLASH_OPTR`).
static OPTR_L49X: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: BASE + OPTR,
    fields: &[
        RDP, BOR_LEV, NRST_STOP, NRST_STDBY, NRST_SHDW, IWDG_SW, IWDG_STOP, IWDG_STDBY, WWDG_SW, BFB2, DUALBANK,
        NBOOT1, SRAM2_PE, SRAM2_RST, NSWBOOT0, NBOOT0,
    ],
};
static OPTR_L4_PLUS: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: BASE + OPTR,
    fields: &[
        RDP,
        BOR_LEV,
        NRST_STOP,
        NRST_STDBY,
        NRST_SHDW,
        IWDG_SW,
        IWDG_STOP,
        IWDG_STDBY,
        WWDG_SW,
        BFB2,
        f!("DB1M", 21, 1, K::BankConfig, Show::Flag("set", "clear"), "dual-bank option of 512 KiB/1 MiB parts"),
        f!("DBANK", 22, 1, K::BankConfig, Show::Flag("dual bank", "single bank"), "flash organisation"),
        NBOOT1,
        SRAM2_PE,
        SRAM2_RST,
        NSWBOOT0,
        NBOOT0,
    ],
};

/// G0/C0 share the layout. The brown-out thresholds are where ST's headers
/// and HAL put them: BORR_LEV (rising, releases the reset) at bits 9-10,
/// BORF_LEV (falling, activates it) at bits 11-12 (stm32g071xx.h:3100-3105,
/// stm32g0b1xx.h:4080-4085, stm32c031xx.h:2386-2391; ST HAL
/// `OB_BOR_LEVEL_FALLING_1` = `FLASH_OPTR_BORF_LEV_0` = 0x800 and
/// `OB_BOR_LEVEL_RISING_1` = `FLASH_OPTR_BORR_LEV_0` = 0x200,
/// stm32g0xx_hal_flash.h:407-414). ST's SVD files (and the PACs and Forth
/// words generated from them) have the two swapped; ST moved them to these
/// positions on purpose: cmsis-device-g0 v1.4.0 (Release_Notes.html:
/// "correction for swapped for BORR and BORF bit fields") and
/// cmsis-device-c0 v1.2.0 (Release_Notes.md:94: "Fix correct
/// FLASH_OPTR_BORF_LEV and FLASH_OPTR_BORR_LEV positions"), and ST's HAL
/// programs them there. RM0444's FLASH_OPTR page was not at hand.
macro_rules! optr_g0 {
    ($($extra:expr),*) => {
        OptionWord {
            name: "FLASH_OPTR",
            addr: BASE + OPTR,
            fields: &[
                RDP,
                f!("BOR_EN", 8, 1, K::User, Show::Flag("on", "off"), "brown-out reset"),
                f!("BORR_LEV", 9, 2, K::User, Show::Hex, "brown-out rising threshold (releases the reset)"),
                f!("BORF_LEV", 11, 2, K::User, Show::Hex, "brown-out falling threshold (activates the reset)"),
                f!("nRST_STOP", 13, 1, K::User, NO_RESET, "reset when entering Stop"),
                f!("nRST_STDBY", 14, 1, K::User, NO_RESET, "reset when entering Standby"),
                f!("nRST_SHDW", 15, 1, K::User, NO_RESET, "reset when entering Shutdown"),
                IWDG_SW,
                IWDG_STOP,
                IWDG_STDBY,
                WWDG_SW,
                $($extra,)*
                f!("RAM_PARITY_CHECK", 22, 1, K::User, Show::Flag("off", "on"), "SRAM parity check"),
                f!("nBOOT_SEL", 24, 1, K::BootConfig, Show::Flag("nBOOT0 bit", "BOOT0 pin"), "boot selected by"),
                f!("nBOOT1", 25, 1, K::BootConfig, Show::Hex, "boot selection bit 1"),
                f!("nBOOT0", 26, 1, K::BootConfig, Show::Hex, "boot selection bit 0 (with nBOOT_SEL = 1)"),
                NRST_MODE,
                f!("IRHEN", 29, 1, K::User, Show::Flag("on", "off"), "internal reset holder"),
            ],
        }
    };
}
static OPTR_G0: OptionWord = optr_g0!();
static OPTR_G0B1: OptionWord = optr_g0!(
    f!("nSWAP_BANK", 20, 1, K::BankConfig, Show::Flag("not swapped", "swapped"), "bank swap"),
    f!("DUAL_BANK", 21, 1, K::BankConfig, Show::Flag("dual bank", "single bank"), "256/512 KiB parts")
);
/// C011: no HSE_NOT_REMAPPED (stm32c011xx.h `FLASH_OPTR`).
static OPTR_C011: OptionWord = optr_g0!(SECURE_MUXING_EN);
/// C031: HSE_NOT_REMAPPED at bit 21 (stm32c031xx.h `FLASH_OPTR`).
static OPTR_C031: OptionWord =
    optr_g0!(f!("HSE_NOT_REMAPPED", 21, 1, K::User, Show::Flag("PF0/PF1", "PC14/PC15"), "HSE pins"), SECURE_MUXING_EN);
const SECURE_MUXING_EN: Field =
    f!("SECURE_MUXING_EN", 23, 1, K::User, Show::Flag("on", "off"), "multi-bonding I/O protection");

/// U0 (RM0503 FLASH_OPTR; CMSIS stm32u031xx.h:3139-3194, the same in
/// stm32u073xx.h from :3420): RDP, BOR_EN 8, BOR_LEV 10:9, nRST_STOP 13,
/// nRST_STDBY 14, nRST_SHDW 15, IWDG_SW/STOP/STDBY 16-18, WWDG_SW 19, BDRST
/// 21, RAM_PARITY_CHECK 22, BKPSRAM_HW_ERASE 23, nBOOT_SEL/nBOOT1/nBOOT0
/// 24-26, NRST_MODE 28:27, IRHEN 29. ST's SVD calls bits 10:8 one BORR_LEV
/// field; the header's split (and its BOR_LEV values, ST HAL
/// stm32u0xx_hal_flash.h: 0 ≈ 2.0 V … 3 ≈ 2.8 V) is used.
static OPTR_U0: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: BASE + OPTR,
    fields: &[
        RDP,
        f!("BOR_EN", 8, 1, K::User, Show::Flag("on", "off"), "brown-out reset"),
        f!(
            "BOR_LEV",
            9,
            2,
            K::User,
            Show::Choices(&[(0, "~2.0 V"), (1, "~2.2 V"), (2, "~2.5 V"), (3, "~2.8 V")]),
            "brown-out reset threshold"
        ),
        f!("nRST_STOP", 13, 1, K::User, NO_RESET, "reset when entering Stop"),
        f!("nRST_STDBY", 14, 1, K::User, NO_RESET, "reset when entering Standby"),
        f!("nRST_SHDW", 15, 1, K::User, NO_RESET, "reset when entering Shutdown"),
        IWDG_SW,
        IWDG_STOP,
        IWDG_STDBY,
        WWDG_SW,
        // Meanings of BDRST and BKPSRAM_HW_ERASE not at hand (RM0503 not
        // read): shown as numbers.
        f!("BDRST", 21, 1, K::User, Show::Hex, "backup-domain reset option"),
        f!("RAM_PARITY_CHECK", 22, 1, K::User, Show::Flag("off", "on"), "SRAM parity check"),
        f!("BKPSRAM_HW_ERASE", 23, 1, K::User, Show::Hex, "backup SRAM hardware erase option"),
        f!("nBOOT_SEL", 24, 1, K::BootConfig, Show::Flag("nBOOT0 bit", "BOOT0 pin"), "boot selected by"),
        f!("nBOOT1", 25, 1, K::BootConfig, Show::Hex, "boot selection bit 1"),
        f!("nBOOT0", 26, 1, K::BootConfig, Show::Hex, "boot selection bit 0 (with nBOOT_SEL = 1)"),
        NRST_MODE,
        f!("IRHEN", 29, 1, K::User, Show::Flag("on", "off"), "internal reset holder"),
    ],
};

/// G4: NRST_MODE at 28-29 and IRHEN at 30 (RM0440 FLASH_OPTR).
const G4_NRST_MODE: Field = Field { shift: 28, ..NRST_MODE };
const G4_IRHEN: Field = f!("IRHEN", 30, 1, K::User, Show::Flag("on", "off"), "internal reset holder");
/// G4: bit 25 erases the CCM SRAM (stm32g474xx.h `FLASH_OPTR_CCMSRAM_RST`).
const CCMSRAM_RST: Field =
    f!("CCMSRAM_RST", 25, 1, K::User, Show::Flag("no", "yes"), "CCM SRAM erased by a system reset");
static OPTR_G4: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: BASE + OPTR,
    fields: &[
        RDP,
        BOR_LEV,
        NRST_STOP,
        NRST_STDBY,
        NRST_SHDW,
        IWDG_SW,
        IWDG_STOP,
        IWDG_STDBY,
        WWDG_SW,
        NBOOT1,
        f!("SRAM_PE", 24, 1, K::User, Show::Flag("off", "on"), "SRAM parity check"),
        CCMSRAM_RST,
        NSWBOOT0,
        NBOOT0,
        G4_NRST_MODE,
        G4_IRHEN,
    ],
};
static OPTR_G4_CAT3: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: BASE + OPTR,
    fields: &[
        RDP,
        BOR_LEV,
        NRST_STOP,
        NRST_STDBY,
        NRST_SHDW,
        IWDG_SW,
        IWDG_STOP,
        IWDG_STDBY,
        WWDG_SW,
        BFB2,
        f!("DBANK", 22, 1, K::BankConfig, Show::Flag("dual bank", "single bank"), "flash organisation"),
        NBOOT1,
        f!("SRAM_PE", 24, 1, K::User, Show::Flag("off", "on"), "SRAM parity check"),
        CCMSRAM_RST,
        NSWBOOT0,
        NBOOT0,
        G4_NRST_MODE,
        G4_IRHEN,
    ],
};

/// WB/WL: ESE (security enabled, set by FUS) at bit 8, BOR_LEV at 9-11.
const ESE: Field = f!("ESE", 8, 1, K::Security, Show::Flag("on", "off"), "CPU2 security (set by the FUS)");
const WB_BOR: Field = Field { shift: 9, ..BOR_LEV };
static OPTR_WB: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: BASE_WB_WL + OPTR,
    fields: &[
        RDP,
        ESE,
        WB_BOR,
        NRST_STOP,
        NRST_STDBY,
        NRST_SHDW,
        IWDG_SW,
        IWDG_STOP,
        IWDG_STDBY,
        WWDG_SW,
        NBOOT1,
        SRAM2_PE,
        SRAM2_RST,
        NSWBOOT0,
        NBOOT0,
        f!("AGC_TRIM", 29, 3, K::Security, Show::Hex, "radio gain trimming (factory value)"),
    ],
};
static OPTR_WL: OptionWord = OptionWord {
    name: "FLASH_OPTR",
    addr: BASE_WB_WL + OPTR,
    fields: &[
        RDP,
        ESE,
        WB_BOR,
        NRST_STOP,
        NRST_STDBY,
        NRST_SHDW,
        IWDG_SW,
        IWDG_STOP,
        IWDG_STDBY,
        WWDG_SW,
        NBOOT1,
        SRAM2_PE,
        SRAM2_RST,
        NSWBOOT0,
        NBOOT0,
        f!("BOOT_LOCK", 30, 1, K::Security, Show::Flag("on", "off"), "unique boot entry"),
    ],
};

/// A WRP area register: start offset in bits 0.., end offset from bit 16.
macro_rules! wrp {
    ($name:literal, $addr:expr, $strt:literal, $end:literal, $w:literal, $what:literal) => {
        OptionWord {
            name: $name,
            addr: $addr,
            fields: &[
                f!($strt, 0, $w, K::WriteProtect, Show::ProtectedFrom { unit: "page", end: 16 }, $what),
                f!($end, 16, $w, K::WriteProtect, Show::ProtectedTo, "last page of the area"),
            ],
        }
    };
}
static WRP1A_4: OptionWord = wrp!("FLASH_WRP1AR", BASE + WRP1AR, "WRP1A_STRT", "WRP1A_END", 4, "bank 1 area A");
static WRP1B_4: OptionWord = wrp!("FLASH_WRP1BR", BASE + WRP1BR, "WRP1B_STRT", "WRP1B_END", 4, "bank 1 area B");
static WRP1A_5: OptionWord = wrp!("FLASH_WRP1AR", BASE + WRP1AR, "WRP1A_STRT", "WRP1A_END", 5, "bank 1 area A");
static WRP1B_5: OptionWord = wrp!("FLASH_WRP1BR", BASE + WRP1BR, "WRP1B_STRT", "WRP1B_END", 5, "bank 1 area B");
static WRP1A_6: OptionWord = wrp!("FLASH_WRP1AR", BASE + WRP1AR, "WRP1A_STRT", "WRP1A_END", 6, "bank 1 area A");
static WRP1B_6: OptionWord = wrp!("FLASH_WRP1BR", BASE + WRP1BR, "WRP1B_STRT", "WRP1B_END", 6, "bank 1 area B");
static WRP1A_7: OptionWord = wrp!("FLASH_WRP1AR", BASE + WRP1AR, "WRP1A_STRT", "WRP1A_END", 7, "bank 1 area A");
static WRP1B_7: OptionWord = wrp!("FLASH_WRP1BR", BASE + WRP1BR, "WRP1B_STRT", "WRP1B_END", 7, "bank 1 area B");
static WRP1A_8: OptionWord = wrp!("FLASH_WRP1AR", BASE + WRP1AR, "WRP1A_STRT", "WRP1A_END", 8, "bank 1 area A");
static WRP1B_8: OptionWord = wrp!("FLASH_WRP1BR", BASE + WRP1BR, "WRP1B_STRT", "WRP1B_END", 8, "bank 1 area B");
static WRP2A_7: OptionWord = wrp!("FLASH_WRP2AR", BASE + WRP2AR, "WRP2A_STRT", "WRP2A_END", 7, "bank 2 area A");
static WRP2B_7: OptionWord = wrp!("FLASH_WRP2BR", BASE + WRP2BR, "WRP2B_STRT", "WRP2B_END", 7, "bank 2 area B");
static WRP2A_8: OptionWord = wrp!("FLASH_WRP2AR", BASE + WRP2AR, "WRP2A_STRT", "WRP2A_END", 8, "bank 2 area A");
static WRP2B_8: OptionWord = wrp!("FLASH_WRP2BR", BASE + WRP2BR, "WRP2B_STRT", "WRP2B_END", 8, "bank 2 area B");
static WB_WRP1A_7: OptionWord = wrp!("FLASH_WRP1AR", BASE_WB_WL + WRP1AR, "WRP1A_STRT", "WRP1A_END", 7, "area A");
static WB_WRP1B_7: OptionWord = wrp!("FLASH_WRP1BR", BASE_WB_WL + WRP1BR, "WRP1B_STRT", "WRP1B_END", 7, "area B");
static WB_WRP1A_8: OptionWord = wrp!("FLASH_WRP1AR", BASE_WB_WL + WRP1AR, "WRP1A_STRT", "WRP1A_END", 8, "area A");
static WB_WRP1B_8: OptionWord = wrp!("FLASH_WRP1BR", BASE_WB_WL + WRP1BR, "WRP1B_STRT", "WRP1B_END", 8, "area B");

/// WB secure flash start (RM0434 FLASH_SFR; stm32wb55xx.h `FLASH_SFR_*`):
/// written by CPU2's FUS only. WL has FLASH_SFR on the WL54/WL55 only
/// (stm32wl55xx.h:4606-4622; stm32wle5xx.h has none): the option view of a
/// WL does not read it (the driver does, where it exists: `SecureArea::ese`).
static SFR_WB: OptionWord = OptionWord {
    name: "FLASH_SFR",
    addr: BASE_WB_WL + SFR,
    fields: &[
        f!("SFSA", 0, 8, K::Security, Show::Hex, "first page of the CPU2 secure area"),
        f!("FSD", 8, 1, K::Security, Show::Flag("no secure area", "secure area in force"), "flash security"),
    ],
};
/// OTP: 1 KiB at 0x1FFF7000 on every part here, programmed in double words
/// like main flash (chips/l4g.rs `OTP`).
const OTP_UNIT: u32 = 8;

impl L4gController {
    fn base(&self) -> u32 {
        self.variant().base
    }

    /// The pages the WRP areas (`areas`: each WRPxyR with its value in
    /// force) protect, as address ranges of `layout`. WRP1x count pages from
    /// bank 1, WRP2x from bank 2 (ST HAL stm32l4xx_hal_flash.h
    /// `WRPStartOffset`: "a value between 0 and (max number of pages in the
    /// bank - 1)"; OpenOCD stm32l4x.c stm32l4_get_all_wrpxy); in single-bank mode WRP2x count from the flash base where the
    /// die uses them ([`Variant::wrp2_in_single_bank`]) and protect nothing
    /// elsewhere. Start and end are read with as many bits as a bank of the
    /// largest part of the die has pages.
    ///
    /// [`Variant::wrp2_in_single_bank`]: crate::family::l4::driver::Variant::wrp2_in_single_bank
    pub(super) fn write_protected(&self, layout: &FlashLayout, areas: &[(&'static OptionWord, u32)]) -> Vec<Reserved> {
        let dual = layout.banks.len() > 1;
        let mut out = Vec::new();
        for &(word, value) in areas {
            let second = word.name.starts_with("FLASH_WRP2");
            let b = match (second, dual) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) if self.variant().wrp2_in_single_bank => 0,
                (true, false) => continue,
            };
            let Some(bank) = layout.banks.get(b) else { continue };
            let pages = bank.sectors(b as u8);
            let Some(&Sector { size: page, .. }) = pages.first() else { continue };
            let mask = page_mask(self.chip().max_flash_kib as u64 * 1024, page, layout.banks.len());
            let of = if dual { format!(" of bank {}", b + 1) } else { String::new() };
            out.extend(page_area(word, value, mask, &pages, &of, None));
        }
        out
    }

    fn option_words(&self) -> Vec<&'static OptionWord> {
        self.variant().options.to_vec()
    }
}

// The option registers of each variant (`Variant::options`).
pub(super) const L47X: &[&OptionWord] = &[&OPTR_L47X, &WRP1A_8, &WRP1B_8, &WRP2A_8, &WRP2B_8];
pub(super) const L49X: &[&OptionWord] = &[&OPTR_L49X, &WRP1A_8, &WRP1B_8, &WRP2A_8, &WRP2B_8];
pub(super) const L4_8: &[&OptionWord] = &[&OPTR_L4_SINGLE, &WRP1A_8, &WRP1B_8];
pub(super) const L4_7: &[&OptionWord] = &[&OPTR_L4_SINGLE, &WRP1A_7, &WRP1B_7];
pub(super) const L4_6: &[&OptionWord] = &[&OPTR_L4_SINGLE, &WRP1A_6, &WRP1B_6];
pub(super) const L4_PLUS_8: &[&OptionWord] = &[&OPTR_L4_PLUS, &WRP1A_8, &WRP1B_8, &WRP2A_8, &WRP2B_8];
pub(super) const L4_PLUS_7: &[&OptionWord] = &[&OPTR_L4_PLUS, &WRP1A_7, &WRP1B_7, &WRP2A_7, &WRP2B_7];
pub(super) const G0B1: &[&OptionWord] = &[&OPTR_G0B1, &WRP1A_7, &WRP1B_7, &WRP2A_7, &WRP2B_7];
pub(super) const G07X: &[&OptionWord] = &[&OPTR_G0, &WRP1A_6, &WRP1B_6];
pub(super) const G03X_G06X: &[&OptionWord] = &[&OPTR_G0, &WRP1A_5, &WRP1B_5];
pub(super) const G4_CAT3: &[&OptionWord] = &[&OPTR_G4_CAT3, &WRP1A_7, &WRP1B_7, &WRP2A_7, &WRP2B_7];
pub(super) const G4_CAT4: &[&OptionWord] = &[&OPTR_G4, &WRP1A_7, &WRP1B_7];
pub(super) const G4_CAT2: &[&OptionWord] = &[&OPTR_G4, &WRP1A_6, &WRP1B_6];
pub(super) const C011: &[&OptionWord] = &[&OPTR_C011, &WRP1A_4, &WRP1B_4];
pub(super) const C031: &[&OptionWord] = &[&OPTR_C031, &WRP1A_4, &WRP1B_4];
/// C051, C071, C09x: HSE_NOT_REMAPPED as on C031, WRP fields as wide as
/// the die's page count (stm32c051xx.h:2539, stm32c071xx.h:2738,
/// stm32c091xx.h:2608).
pub(super) const C051: &[&OptionWord] = &[&OPTR_C031, &WRP1A_5, &WRP1B_5];
pub(super) const C071: &[&OptionWord] = &[&OPTR_C031, &WRP1A_6, &WRP1B_6];
pub(super) const C09X: &[&OptionWord] = &[&OPTR_C031, &WRP1A_7, &WRP1B_7];
/// U0: 7-bit page fields (128 pages on the 256 KiB U073/U083; ST's SVD
/// WRP1AR STRT/END 7 bits, the CMSIS masks 16).
pub(super) const U0: &[&OptionWord] = &[&OPTR_U0, &WRP1A_7, &WRP1B_7];
pub(super) const WB: &[&OptionWord] = &[&OPTR_WB, &WB_WRP1A_8, &WB_WRP1B_8, &SFR_WB];
pub(super) const WB3X: &[&OptionWord] = &[&OPTR_WB, &WB_WRP1A_7, &WB_WRP1B_7, &SFR_WB];
pub(super) const WL: &[&OptionWord] = &[&OPTR_WL, &WB_WRP1A_7, &WB_WRP1B_7];

/// The option tables' facts for a row, by the names of ST's headers.
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    let Controller::L4(v) = c.controller else { return };
    f.source("option table");
    let wb_wl = v.base == BASE_WB_WL;
    let base = if wb_wl { "FLASH_REG_BASE" } else { "FLASH_R_BASE" };
    f.number("FLASH_TypeDef.OPTKEYR", OPTKEYR as u64);
    f.mask("FLASH_CR_OPTSTRT", CR_OPTSTRT)
        .mask("FLASH_CR_OBL_LAUNCH", CR_OBL_LAUNCH)
        .mask("FLASH_CR_OPTLOCK", CR_OPTLOCK);
    for word in v.options {
        let reg = word.name.trim_start_matches("FLASH_");
        // WRP areas: as wide as PNB (`HeaderNames::width_part`).
        let part = v.names.width_part.filter(|_| reg.starts_with("WRP"));
        f.scope(part.map_or(Scope::Die, Scope::Part));
        f.option_word(word, &format!("{base}+FLASH_TypeDef.{reg}"), word.name, v.names.option_renames);
    }
    f.scope(Scope::Die);
}

impl OptionBytes for L4gController {
    fn words(&self) -> Vec<&'static OptionWord> {
        self.option_words()
    }

    fn area_word(&self, area: OptionArea) -> Option<&'static OptionWord> {
        match area {
            OptionArea::Option | OptionArea::Optcr => self.option_words().first().copied(),
            OptionArea::Optcr1 | OptionArea::BootAdd => None,
        }
    }

    /// LOCK, OPTLOCK, the registers, OPTSTRT, wait BSY/CFGBSY, OBL_LAUNCH (OpenOCD
    /// src/flash/nor/stm32l4x.c:1209-1218).
    fn program(&mut self, t: &mut Target, changes: &[(&'static OptionWord, u32)]) -> Result<Reload, FlashError> {
        let cr = self.base() + CR;
        // WB/WL set OPTVERR at every option load (ST's HAL
        // stm32wbxx_hal_flash.c:631-640): clear it first.
        engine::clear_stale_errors(t, &*self, 0)?;
        engine::wait_idle(t, &*self, 0, Duration::ZERO, OPTION_TIMEOUT, "waiting for the flash")?;
        self.unlock(t, 0)?;
        let result = (|| {
            unlock_with_keys(t, "FLASH_CR.OPTLOCK", cr, CR_OPTLOCK, self.base() + OPTKEYR, [OPTKEY1, OPTKEY2])?;
            for &(word, value) in changes {
                t.write32(word.addr, value)?;
            }
            t.write32(cr, CR_OPTSTRT)?;
            engine::wait_idle(t, &*self, 0, OPTION_TYPICAL, OPTION_TIMEOUT, "storing the option bytes")
        })();
        if let Err(e) = result {
            let _ = self.lock(t, 0);
            return Err(e);
        }
        // Loading them resets the chip; the probe may report the write as failed.
        let _ = t.write32(cr, CR_OBL_LAUNCH);
        Ok(Reload::Reset)
    }

    fn otp(&self) -> Option<Otp> {
        self.chip().otp.map(|r| Otp { base: r.base, size: r.size, unit: OTP_UNIT, erased: 0xFF })
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
    use crate::chip::find;

    fn ctrl(dev_id: u16) -> L4gController {
        L4gController::new(find(dev_id).unwrap()).unwrap()
    }

    #[test]
    fn words_follow_the_part() {
        let l476 = ctrl(0x415);
        assert_eq!(l476.words().len(), 5);
        assert!(l476.words()[0].field("DUALBANK").is_some());
        assert_eq!(l476.area_word(OptionArea::Optcr).unwrap().addr, 0x4002_2020);
        let wb = ctrl(0x495);
        assert_eq!(wb.area_word(OptionArea::Option).unwrap().addr, 0x5800_4020);
        assert!(ctrl(0x467).words()[0].field("DUAL_BANK").is_some());
        assert!(ctrl(0x469).words()[0].field("DBANK").is_some());
        // Factory OPTR values of the simulator keep their reserved bits as read.
        assert_eq!(ctrl(0x415).words()[0].rdp_level(0xFFEF_F8AA), Some(crate::flash::RdpLevel::Level0));
    }

    #[test]
    fn wrp_areas_decode_as_page_ranges() {
        let w = ctrl(0x435).words()[1];
        assert!(w.protected(0x0000_00FF).is_empty(), "factory: start 0xFF > end 0");
        assert_eq!(w.protected(0x0003_0001), (1..=3).collect());
    }

    /// (start, end exclusive, reason) of each protected area, the WRP
    /// registers named by suffix ("1A", "2B"…).
    fn areas(dev_id: u16, size: u32, optr: u32, regs: &[(&str, u32)]) -> Vec<(u32, u64, String)> {
        let d = ctrl(dev_id);
        let layout = crate::family::l4::driver::layout_for(d.variant(), d.chip(), size, optr);
        let areas: Vec<(&'static OptionWord, u32)> = regs
            .iter()
            .map(|&(n, v)| (*d.words().iter().find(|w| w.name == format!("FLASH_WRP{n}R")).expect(n), v))
            .collect();
        d.write_protected(&layout, &areas).into_iter().map(|r| (r.start, r.end, r.reason)).collect()
    }

    fn ranges(a: &[(u32, u64, String)]) -> Vec<(u32, u64)> {
        a.iter().map(|r| (r.0, r.1)).collect()
    }

    const KIB: u32 = 1024;

    #[test]
    fn wrp_areas_of_both_banks_become_page_ranges() {
        // L476, 1 MiB, always two banks of 256 × 2 KiB pages.
        let a = areas(0x415, 1024 * KIB, 0, &[("1A", 0xFF03_FF02), ("2A", 0x0000_0001), ("2B", 0x00FF_00F0)]);
        assert_eq!(ranges(&a), [(0x0800_1000, 0x0800_2000), (0x080F_8000, 0x0810_0000)]);
        assert!(a[0].2.contains("FLASH_WRP1AR (pages 2-3 of bank 1)"), "{}", a[0].2);
        assert!(a[1].2.contains("FLASH_WRP2BR (pages 240-255 of bank 2)"), "{}", a[1].2);
        assert!(a[1].2.contains("`stflash --area=option write WRP2B_STRT=0xFF,WRP2B_END=0x00` first"), "{}", a[1].2);
        // 512 KiB L476 with DUALBANK = 0: one bank, WRP2x unused.
        let a = areas(0x415, 512 * KIB, 0, &[("1A", 0x00FF_0080), ("2A", 0)]);
        assert_eq!(ranges(&a), [(0x0804_0000, 0x0808_0000)]);
    }

    #[test]
    fn only_the_implemented_bits_count() {
        // L43x/L44x (128 pages): bit 7 of the start reads 1 (ST community
        // "Option bytes config issue", STM32L443: 0xFF0BFF80 after writing
        // pages 0-11); the area is pages 0-11.
        let a = areas(0x435, 256 * KIB, 0, &[("1A", 0xFF0B_FF80)]);
        assert_eq!(ranges(&a), [(0x0800_0000, 0x0800_6000)]);
        // G071 (64 pages, 6 bits: CMSIS stm32g071xx.h WRP1A_STRT 0x3F).
        assert!(areas(0x460, 128 * KIB, 0, &[("1A", 0x0000_007F)]).is_empty(), "factory value");
        assert_eq!(ranges(&areas(0x460, 128 * KIB, 0, &[("1A", 0x0001_0040)])), [(0x0800_0000, 0x0800_1000)]);
    }

    #[test]
    fn g4_cat3_wrp2_follows_the_bank_mode() {
        // DBANK = 0: one bank of 4 KiB pages; WRP2x counts from the flash base.
        let a = areas(0x469, 512 * KIB, 0, &[("2A", 0x0001_0000)]);
        assert_eq!(ranges(&a), [(0x0800_0000, 0x0800_2000)]);
        assert!(a[0].2.contains("FLASH_WRP2AR (pages 0-1)"), "{}", a[0].2);
        // DBANK = 1: 2 KiB pages, bank 2 at 0x08040000.
        let a = areas(0x469, 512 * KIB, 1 << 22, &[("2A", 0x0001_0000)]);
        assert_eq!(ranges(&a), [(0x0804_0000, 0x0804_1000)]);
    }
}
