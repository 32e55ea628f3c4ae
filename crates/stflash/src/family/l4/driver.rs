//! The 64-bit double-word flash controllers: STM32L4, L4+, G0, G4, C0, WB, WL.
//!
//! One register layout, one sequence per operation; what differs between the
//! parts (register base, PNB width, where BKER sits, which busy flags exist,
//! how the bank mode is chosen, the WB/WL secure area) is the data of one
//! [`Variant`] per die. Register offsets and bits are those of ST's CMSIS
//! `FLASH_TypeDef` and `FLASH_SR_*`/`FLASH_CR_*` (e.g. stm32l476xx.h,
//! stm32g0b1xx.h, stm32wb55xx.h; `register_facts` below states each, and
//! `crates/stflash/tests/it/crosscheck.rs` checks them against
//! `facts/cmsis.facts`, which names the header lines).
//!
//! Programming is standard double-word programming (CR.PG, then the low and
//! the high 32-bit word of each 64-bit double word: ST HAL
//! stm32l4xx_hal_flash.c:696-712). Fast programming
//! (CR.FSTPG: a row of 32 double words, 64 on L4+ and WB, written back to
//! back) is offered to the flash routine in target RAM for banks the write
//! erases whole ([`FlashController::fast_program`]): the controller raises
//! MISERR as soon as the next double word does not arrive in time, which
//! over SWD (a USB round trip of 150–300 µs per write) it always would, so
//! the host-driven engine never uses it. Its preconditions (RM0440 §3.3.7,
//! the L4's RM0351 alike): the bank mass-erased first (else PGSERR), HCLK at
//! least 8 MHz, no read of the same bank while a row is programmed (the row
//! stops silently), at most 8 ms of high voltage per row (FASTERR after an
//! internal 7 ms timer).

use std::time::Duration;

use log::debug;

use super::options as opts;
use crate::chip::{Chip, Controller};
use crate::facts::{Facts, Scope};
use crate::flash::options::OptionWord;
use crate::flash::{
    unlock_with_keys, ErrorFlag, FastProgram, FlashController, FlashError, FlashLayout, ProgramAccess, RaisedClock,
    RdpLevel, RegOp, Reserved, Sector, StatusReg, Width, KEY1, KEY2, OPTKEY1, OPTKEY2,
};
use crate::mcu::{Target, TargetError};

/// Register offsets from the controller base (`FLASH_TypeDef`).
const ACR: u32 = 0x00;
const KEYR: u32 = 0x08;
const SR: u32 = 0x10;
const CR: u32 = 0x14;
const OPTR: u32 = 0x20;
/// WB/WL secure flash start register (`FLASH_TypeDef.SFR`, stm32wb55xx.h;
/// on WL only the dual-core WL54/WL55 have it, stm32wl55xx.h:466).
const SFR: u32 = 0x80;

/// Register block of L4, L4+, G0, G4, C0 (`FLASH_R_BASE`).
const BASE: u32 = 0x4002_2000;
/// Register block of WB and WL (`FLASH_REG_BASE`).
const BASE_WB_WL: u32 = 0x5800_4000;

// FLASH_SR bits.
pub const SR_EOP: u32 = 1 << 0;
pub const SR_OPERR: u32 = 1 << 1;
pub const SR_PROGERR: u32 = 1 << 3;
pub const SR_WRPERR: u32 = 1 << 4;
pub const SR_PGAERR: u32 = 1 << 5;
pub const SR_SIZERR: u32 = 1 << 6;
pub const SR_PGSERR: u32 = 1 << 7;
pub const SR_MISERR: u32 = 1 << 8;
pub const SR_FASTERR: u32 = 1 << 9;
pub const SR_RDERR: u32 = 1 << 14;
pub const SR_OPTVERR: u32 = 1 << 15;
/// BSY (G0: BSY1).
pub const SR_BSY: u32 = 1 << 16;
/// Bank-2 busy flag of the G0B1/G0C1 (`FLASH_SR_BSY2`, stm32g0b1xx.h).
pub const SR_BSY2: u32 = 1 << 17;
/// Configuration busy: CR must not be written while set (G0, C0, WB, WL).
pub const SR_CFGBSY: u32 = 1 << 18;
/// Program/erase suspended by CPU2 (WB, WL).
pub const SR_PESD: u32 = 1 << 19;

// FLASH_CR bits.
pub const CR_PG: u32 = 1 << 0;
pub const CR_PER: u32 = 1 << 1;
pub const CR_MER1: u32 = 1 << 2;
pub const CR_PNB_SHIFT: u32 = 3;
/// BKER on L4, L4+, G4: bit 11 (stm32l476xx.h, stm32g474xx.h `FLASH_CR_BKER`),
/// not stlink's bit 13.
pub const CR_BKER_L4_G4: u32 = 1 << 11;
/// BKER on G0B1/G0C1: bit 13 (stm32g0b1xx.h `FLASH_CR_BKER`).
pub const CR_BKER_G0: u32 = 1 << 13;
pub const CR_MER2: u32 = 1 << 15;
pub const CR_STRT: u32 = 1 << 16;
/// Fast programming (RM0351/RM0440 FLASH_CR bit 18; CMSIS stm32l476xx.h,
/// stm32g474xx.h, stm32g0b1xx.h `FLASH_CR_FSTPG_Pos` 18).
pub const CR_FSTPG: u32 = 1 << 18;
pub const CR_LOCK: u32 = 1 << 31;

/// All error flags of FLASH_SR (W1C).
const SR_ERRORS: u32 = SR_OPERR
    | SR_PROGERR
    | SR_WRPERR
    | SR_PGAERR
    | SR_SIZERR
    | SR_PGSERR
    | SR_MISERR
    | SR_FASTERR
    | SR_RDERR
    | SR_OPTVERR;

/// Typical times (assumed: the STM32L476 datasheet typicals, 81.69 µs per
/// double word, 22 ms per page) and timeouts (at least 10× the datasheet
/// maxima; the page-erase maximum is 40 ms on G0, the double-word maximum
/// 125 µs).
const PROGRAM_TYPICAL: Duration = Duration::from_micros(82);
const PROGRAM_TIMEOUT: Duration = Duration::from_millis(50);
const ERASE_TYPICAL: Duration = Duration::from_millis(22);
const ERASE_TIMEOUT: Duration = Duration::from_millis(400);
const MASS_ERASE_TIMEOUT: Duration = Duration::from_millis(1000);
/// One double word of a fast row: 1.91 ms per 32 (DS12288 Table 47, STM32G474,
/// typical; assumed the same on the L476, whose DS10198 was not read, and for
/// the other parts of the group and for 64-double-word rows).
const FAST_DOUBLE_WORD: Duration = Duration::from_nanos(59_700);
/// A row may not take more than 8 ms of programming voltage (RM0440 §3.3.7).
const ROW_TIMEOUT: Duration = Duration::from_millis(50);
/// A register write needs no time of its own; the wait only catches CFGBSY.
const SETTLE_TIMEOUT: Duration = Duration::from_millis(50);
/// How long CPU2 may keep flash operations suspended (a radio event) before we give up.
const PESD_TIMEOUT: Duration = Duration::from_millis(500);

/// How one flash size chooses its bank mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BankMode {
    /// Always two banks (L4 1 MiB parts).
    Dual,
    /// Two banks when this OPTR bit is set.
    OptionBit(u32),
}

/// The WB/WL secure area register (FLASH_SFR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SecureArea {
    /// SFSA field: first secure page.
    sfsa_mask: u32,
    /// FSD: flash security disabled (no secure area).
    fsd: u32,
    /// WL: FLASH_SFR exists on the dual-core WL54/WL55 only
    /// (stm32wl55xx.h:466, :4607-4622); on the WLE4/WLE5, which report the
    /// same DEV_ID, `FLASH_TypeDef` ends at 0x38 (stm32wle5xx.h:366-383).
    /// The area is read only when this OPTR bit (ESE, "security enable",
    /// bit 8: stm32wl55xx.h:4427) is set, and a start page of 0 (the whole
    /// flash, leaving CPU1 nothing to run) is taken for the unimplemented
    /// register it is on a WLE part, as is a bus fault. Assumed: the
    /// WLE4/WLE5 have no CPU2 to enable security, so ESE stays 0 there
    /// (RM0461 was not at hand); either way a WLE part is never refused. A
    /// WL55 whose secure area starts at page 0 is then not refused either;
    /// its flash controller still refuses every write with WRPERR.
    ese: Option<u32>,
}

/// G0B1/G0C1: ST's HAL counts the banks from the sales type in the package
/// data register, not from the flash size: `FLASH_BANK_NB` is 1 for sales
/// type 0, and for sales type 1 (`FLASH_SALES_TYPE_0`) unless
/// OPTR.DUAL_BANK is set; 2 otherwise (stm32g0xx_hal_flash.h:875-882;
/// `PACKAGE_BASE` 0x1FFF7500, `FLASH_SALES_TYPE` bits 25:24:
/// stm32g0b1xx.h:872).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SalesType {
    package: u32,
    mask: u32,
    /// The sales type that follows OPTR.DUAL_BANK.
    optional: u32,
    dual_bank: u32,
}

/// What distinguishes one controller of the group from another.
#[derive(Debug)]
pub struct Variant {
    pub name: &'static str,
    /// Flash interface register block.
    pub base: u32,
    /// Width of CR.PNB (CMSIS `FLASH_CR_PNB` of the die).
    pnb_bits: u32,
    /// CR.BKER mask (0: single-bank controller).
    bker: u32,
    /// CR.MER2 mask (0: single-bank controller).
    mer2: u32,
    /// Busy flags besides BSY (CFGBSY, BSY2).
    extra_busy: u32,
    /// SR.PESD exists (CPU2 can suspend operations).
    pesd: bool,
    /// Flash sizes (KiB) that can run with two banks, and how that is chosen.
    /// Other sizes are single bank.
    dual: &'static [(u32, BankMode)],
    /// The OPTR bank-mode bit's name in ST's headers.
    dual_bit_name: &'static str,
    /// Where the bank count comes from the sales type (G0B1); `dual` then
    /// applies only when the package data register cannot be read.
    sales: Option<SalesType>,
    secure: Option<SecureArea>,
    /// In single-bank mode the WRP2A/WRP2B areas protect pages too,
    /// numbered from the flash base like WRP1x (L4+, G4 cat.3: OpenOCD
    /// stm32l4x.c `F_USE_ALL_WRPXX`, "for some devices (like STM32L4R/S) in
    /// single-bank mode, the 4 WRPxx are usable"); elsewhere only WRP1A/B
    /// count in single-bank mode.
    pub wrp2_in_single_bank: bool,
    /// The option registers of the die (OPTR first, then the WRP areas and,
    /// on WB, FLASH_SFR).
    pub options: &'static [&'static OptionWord],
    /// The option bytes as shipped (for `recover`).
    pub factory: &'static crate::flash::options::factory::Factory,
    /// Bytes of a fast-programming row: 32 double words, 64 on L4+ and WB
    /// (ST's HAL `FLASH_NB_DOUBLE_WORDS_IN_ROW`: stm32l4xx_hal_flash.c:103-107,
    /// stm32wbxx_hal_flash.c:110, stm32g4xx/g0xx/wlxx/c0xx 32).
    /// 0: fast programming is not used on this die.
    pub fast_row: u32,
    /// RCC register block, where the core clock is switched to HSI16 for
    /// fast programming (the reset clock is MSI at 4 MHz on L4, L4+, WB and
    /// WL; on G4 HSI16 is the reset clock and is restored if an
    /// application left another). `None`: left as it is (G0, C0 start on
    /// HSISYS at 16 and 12 MHz).
    rcc: Option<u32>,
    /// ST's names of what the register facts state.
    pub names: &'static HeaderNames,
}

/// ST's names of what a die's register facts state, where its headers
/// differ (the die's `Variant::names`).
#[derive(Debug)]
pub struct HeaderNames {
    /// The chip table's names.
    pub table: crate::facts::TableNames,
    /// The SRAM regions of ST's headers a row's contiguous SRAM spans (a sum
    /// of `_SIZE` names; U0: SRAM1 only, SRAM2 is `chips::U0_SRAM2`), and
    /// the one header it holds in where the DEV_ID's headers differ.
    pub sram: &'static str,
    pub sram_part: Option<&'static str>,
    /// The row's extra RAM (`SRAM2`; G4 `CCMSRAM`): `<name>_BASE`, `_SIZE`.
    pub extra_ram: &'static str,
    /// The OTP area (U0 `FLASH_OTP_BASE`, WB/WL `OTP_AREA_BASE`).
    pub otp_base: Option<&'static str>,
    /// The one header whose PNB and WRP page-field widths the die's fields
    /// have, where the DEV_ID's headers differ (WB3x: the WB35's; the WB30's
    /// header gives 8 bits, stm32wb30xx.h:3688, more than its 64 pages of
    /// 4 KiB need).
    pub width_part: Option<&'static str>,
    /// The option tables' fields under other names in ST's headers (`None`:
    /// not stated).
    pub option_renames: &'static [(&'static str, Option<&'static str>)],
    /// Error flags of the driver's list that the die's headers do not
    /// define (the bit is reserved there and reads 0, so the flag never
    /// fires): not stated.
    pub undefined_flags: &'static [&'static str],
}

/// L4 names (RM0351, RM0394 without SRAM2 in `SRAM1_SIZE_MAX`).
static L4_NAMES: HeaderNames = HeaderNames {
    table: crate::facts::TableNames {
        flash_base: "FLASH_BASE",
        flash_size_mask: "FLASH_SIZE.mask",
        idcode: "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE",
        crc_base: "CRC_BASE",
        crc_clock: ("RCC_BASE+RCC_TypeDef.AHB1ENR", "RCC_AHB1ENR_CRCEN"),
        freeze: &[(
            "DBGMCU_BASE+DBGMCU_TypeDef.APB1FZR1",
            "DBGMCU_APB1FZR1_DBG_WWDG_STOP|DBGMCU_APB1FZR1_DBG_IWDG_STOP",
        )],
    },
    sram: "SRAM1_SIZE_MAX",
    sram_part: None,
    extra_ram: "SRAM2",
    otp_base: None,
    width_part: None,
    option_renames: &[],
    undefined_flags: &[],
};
/// L41x/L42x, L49x/L4Ax: SRAM1 then SRAM2, contiguous.
static L4_SRAM2_NAMES: HeaderNames = HeaderNames { sram: "SRAM1_SIZE_MAX+SRAM2_SIZE", ..L4_NAMES };
static L4PLUS_NAMES: HeaderNames = HeaderNames { sram: "SRAM1_SIZE_MAX+SRAM2_SIZE+SRAM3_SIZE", ..L4_NAMES };
static G4_NAMES: HeaderNames =
    HeaderNames { sram: "SRAM1_SIZE_MAX+SRAM2_SIZE+CCMSRAM_SIZE", extra_ram: "CCMSRAM", ..L4_NAMES };
/// G0 and C0: DBG, RCC_AHBENR, the DBGMCU clock in RCC_APBENR1.
static G0_C0_NAMES: HeaderNames = HeaderNames {
    table: crate::facts::TableNames {
        idcode: "DBG_BASE+DBG_TypeDef.IDCODE",
        crc_clock: ("RCC_BASE+RCC_TypeDef.AHBENR", "RCC_AHBENR_CRCEN"),
        freeze: &[
            ("RCC_BASE+RCC_TypeDef.APBENR1", "RCC_APBENR1_DBGEN"),
            ("DBG_BASE+DBG_TypeDef.APBFZ1", "DBG_APB_FZ1_DBG_WWDG_STOP|DBG_APB_FZ1_DBG_IWDG_STOP"),
        ],
        ..L4_NAMES.table
    },
    sram: "SRAM_SIZE_MAX",
    ..L4_NAMES
};
/// C091/C092: the C092's 30 KiB, which the C091 (36 KiB) has too (see the row).
static C09X_NAMES: HeaderNames = HeaderNames { sram_part: Some("stm32c092xx"), ..G0_C0_NAMES };
/// U0: DBGMCU, RCC_AHBENR, the DBGMCU clock in RCC_DBGCFGR.
static U0_NAMES: HeaderNames = HeaderNames {
    table: crate::facts::TableNames {
        crc_clock: ("RCC_BASE+RCC_TypeDef.AHBENR", "RCC_AHBENR_CRCEN"),
        freeze: &[
            ("RCC_BASE+RCC_TypeDef.DBGCFGR", "RCC_DBGCFGR_DBGEN"),
            ("DBGMCU_BASE+DBGMCU_TypeDef.APBFZ1", "DBGMCU_APBFZ1_DBG_WWDG_STOP|DBGMCU_APBFZ1_DBG_IWDG_STOP"),
        ],
        ..L4_NAMES.table
    },
    otp_base: Some("FLASH_OTP_BASE"),
    // The CMSIS masks of WRP1A/WRP1B STRT and END are whole half-words
    // (stm32u031xx.h:3200-3204, stm32u073xx.h:3481-3485), ST's SVD gives 7
    // bits, and 7 bits number the 128 pages of the largest part: the table
    // keeps 7 and states no width to CMSIS.
    option_renames: &[("WRP1A_STRT", None), ("WRP1A_END", None), ("WRP1B_STRT", None), ("WRP1B_END", None)],
    // Bit 14 is reserved (stm32u031xx.h, stm32u073xx.h define no
    // FLASH_SR_RDERR).
    undefined_flags: &["RDERR"],
    ..L4_NAMES
};
/// WB55/WB50: the smallest SRAM1 of the DEV_ID (see `chips::WB`).
static WB_NAMES: HeaderNames = HeaderNames {
    sram: "SRAM1_SIZE",
    sram_part: Some("stm32wb50xx"),
    otp_base: Some("OTP_AREA_BASE"),
    option_renames: &[("SRAM2_PE", Some("SRAM2PE")), ("SRAM2_RST", Some("SRAM2RST"))],
    ..L4_NAMES
};
static WB3X_NAMES: HeaderNames =
    HeaderNames { sram_part: Some("stm32wb35xx"), width_part: Some("stm32wb35xx"), ..WB_NAMES };
static WL_NAMES: HeaderNames = HeaderNames {
    sram: "SRAM1_SIZE+SRAM2_SIZE",
    otp_base: Some("OTP_AREA_BASE"),
    option_renames: &[("SRAM2_RST", Some("SRAM_RST"))],
    ..L4_NAMES
};

/// RCC of L4, L4+ and G4 (RCC_BASE 0x40021000: CMSIS stm32l476xx.h,
/// stm32g474xx.h) and of WB and WL (0x58000000: stm32wb55xx.h, stm32wle5xx.h).
const RCC_L4_G4: u32 = 0x4002_1000;
const RCC_WB_WL: u32 = 0x5800_0000;
/// RCC_CR (offset 0) HSION bit 8, HSIRDY bit 10; RCC_CFGR (offset 8) SW bits
/// 0-1 and SWS bits 2-3 with HSI16 = 0b01, HPRE bits 4-7 (RM0351 §6.4.1,
/// §6.4.3; CMSIS stm32l476xx.h `RCC_CR_HSION_Pos` 8, `RCC_CR_HSIRDY_Pos` 10,
/// `RCC_CFGR_SW_HSI` 1; the same positions in stm32g474xx.h, stm32wb55xx.h).
const RCC_CFGR: u32 = 0x08;
const RCC_CR_HSION: u32 = 1 << 8;
const RCC_CR_HSIRDY: u32 = 1 << 10;
const RCC_CFGR_SW: u32 = 0b11;
const RCC_CFGR_SW_HSI16: u32 = 0b01;
const RCC_CFGR_SWS_SHIFT: u32 = 2;
const RCC_CFGR_HPRE: u32 = 0xF << 4;
const RCC_CFGR_HPRE_SHIFT: u32 = 4;
/// RCC_CR MSIRGSEL bit 3, MSIRANGE bits 4-7 (RM0351 §6.4.1), ranges 0-11:
/// 100 kHz … 48 MHz; before MSIRGSEL the range after reset, 4 MHz.
const RCC_CR_MSIRGSEL: u32 = 1 << 3;
const MSI_HZ: [u64; 12] = [
    100_000, 200_000, 400_000, 800_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000, 16_000_000, 24_000_000, 32_000_000,
    48_000_000,
];
const HSI16_HZ: u64 = 16_000_000;

/// HCLK from RCC_CR and RCC_CFGR: MSI at its range or HSI16, through the AHB
/// prescaler (HPRE: 1, 2, 4 … 512); `None` for HSE and the PLL.
fn hclk_of(cr: u32, cfgr: u32) -> Option<u64> {
    let sysclk = match (cfgr >> RCC_CFGR_SWS_SHIFT) & RCC_CFGR_SW {
        0 => {
            let range = if cr & RCC_CR_MSIRGSEL != 0 { (cr >> 4) & 0xF } else { 6 };
            *MSI_HZ.get(range as usize)?
        }
        RCC_CFGR_SW_HSI16 => HSI16_HZ,
        _ => return None,
    };
    let hpre = (cfgr >> RCC_CFGR_HPRE_SHIFT) & 0xF;
    let div = match hpre {
        0..=7 => 1,
        8..=11 => 2 << (hpre - 8),
        h => 64 << (h - 12),
    };
    Some(sysclk / div)
}
/// FLASH_ACR.LATENCY: two wait states cover 16 MHz in either voltage range
/// (RM0351 Table 11, RM0434 and RM0453 alike; G4 needs one in range 2).
/// Assumed from the tables as recalled: raising the latency is always safe.
const ACR_LATENCY: u32 = 0x7;
const LATENCY_16MHZ: u32 = 2;

/// OPTR bit 21: L4 DUALBANK, L4+ DB1M, G0B1 DUAL_BANK; bit 22: L4+ and G4
/// DBANK (stm32l476xx.h, stm32l4r5xx.h:8700-8703, stm32g0b1xx.h:4114,
/// stm32g474xx.h `FLASH_OPTR_*`).
const OPTR_BIT21: u32 = 1 << 21;
const OPTR_BIT22: u32 = 1 << 22;

const fn single(name: &'static str, pnb_bits: u32, options: &'static [&'static OptionWord]) -> Variant {
    Variant {
        name,
        base: BASE,
        pnb_bits,
        bker: 0,
        mer2: 0,
        extra_busy: 0,
        pesd: false,
        dual: &[],
        dual_bit_name: "",
        sales: None,
        secure: None,
        wrp2_in_single_bank: false,
        options,
        factory: &super::factory::L4,
        fast_row: 256,
        rcc: Some(RCC_L4_G4),
        names: &L4_NAMES,
    }
}

// The variants: one record per die (the chip rows point here). PNB widths
// are CMSIS `FLASH_CR_PNB` of each die: as many bits as the pages of a bank
// of its largest part need (stm32l412xx.h:3225 6 bits, stm32l432xx.h:6926 7,
// stm32l4p5xx.h:8887 7, stm32g031xx.h:2491 10 on every G0,
// stm32g431xx.h:4715 6, stm32c031xx.h:2345 4, stm32wb35xx.h:4066 7,
// stm32wle5xx.h:3741 7; 8 on the others).

/// L47x/L48x (RM0351): 1 MiB always dual; 256/512 KiB dual when
/// OPTR.DUALBANK. PNB 8 bits, BKER bit 11.
pub static L47X: Variant = Variant {
    bker: CR_BKER_L4_G4,
    mer2: CR_MER2,
    dual: &[(256, BankMode::OptionBit(OPTR_BIT21)), (512, BankMode::OptionBit(OPTR_BIT21)), (1024, BankMode::Dual)],
    dual_bit_name: "FLASH_OPTR_DUALBANK",
    ..single("STM32L4 (RM0351)", 8, opts::L47X)
};
/// L49x/L4Ax (RM0351): as L47x, with nSWBOOT0/nBOOT0 in OPTR.
pub static L49X: Variant = Variant { names: &L4_SRAM2_NAMES, options: opts::L49X, ..L47X };
/// L45x/L46x (RM0394): single bank, PNB 8 bits.
pub static L4_RM0394: Variant = single("STM32L4 (RM0394)", 8, opts::L4_8);
/// L41x/L42x (RM0394): PNB 6 bits.
pub static L41X: Variant = Variant { names: &L4_SRAM2_NAMES, ..single("STM32L4 (RM0394)", 6, opts::L4_6) };
/// L43x/L44x (RM0394): PNB 7 bits.
pub static L43X: Variant = single("STM32L4 (RM0394)", 7, opts::L4_7);
/// L4+ (RM0432): two banks when OPTR.DBANK (bit 22) is set, on every flash
/// size, as ST's HAL decides it on every L4+ (mass erase, page erase and
/// PCROP read `FLASH_OPTR_DBANK`: stm32l4xx_hal_flash_ex.c:506-507,
/// :559-565; `FLASH_BANK_SIZE` = `FLASH_SIZE >> 1` and the 4/8 KiB page
/// sizes for all L4+: stm32l4xx_hal_flash.h:843-853). DB1M (bit 21) is a
/// displayed option only: the HAL uses it for no map.
pub static L4PLUS: Variant = Variant {
    names: &L4PLUS_NAMES,
    bker: CR_BKER_L4_G4,
    mer2: CR_MER2,
    dual: &[
        (512, BankMode::OptionBit(OPTR_BIT22)),
        (1024, BankMode::OptionBit(OPTR_BIT22)),
        (2048, BankMode::OptionBit(OPTR_BIT22)),
    ],
    dual_bit_name: "FLASH_OPTR_DBANK",
    wrp2_in_single_bank: true,
    fast_row: 512,
    ..single("STM32L4+ (RM0432)", 8, opts::L4_PLUS_8)
};
/// L4P5/L4Q5 (RM0432): PNB 7 bits.
pub static L4P5: Variant = Variant { pnb_bits: 7, options: opts::L4_PLUS_7, ..L4PLUS };
/// G0B1/G0C1 (RM0444): PNB 10 bits, BKER bit 13, BSY2, two banks as the
/// HAL counts them (see [`SalesType`]); without the sales type, 128 KiB
/// parts are single bank, 256 KiB parts follow DUAL_BANK and 512 KiB parts
/// are dual. Bank-2 pages are numbered from 0 with BKER set, as ST's HAL
/// (stm32g0xx_hal_flash_ex.c `FLASH_PageErase`) and OpenOCD do; RM0444's
/// organisation table names them 256…383 and Zephyr writes 256 + n
/// (unresolved, the HAL is followed).
pub static G0B1: Variant = Variant {
    names: &G0_C0_NAMES,
    factory: &super::factory::G0,
    bker: CR_BKER_G0,
    mer2: CR_MER2,
    extra_busy: SR_CFGBSY | SR_BSY2,
    dual: &[(256, BankMode::OptionBit(OPTR_BIT21)), (512, BankMode::Dual)],
    dual_bit_name: "FLASH_OPTR_DUAL_BANK",
    sales: Some(SalesType { package: 0x1FFF_7500, mask: 3 << 24, optional: 1 << 24, dual_bank: OPTR_BIT21 }),
    rcc: None,
    ..single("STM32G0B1 (RM0444)", 10, opts::G0B1)
};
/// G07x/G08x (RM0444): PNB 10 bits, CFGBSY.
pub static G0: Variant = Variant {
    names: &G0_C0_NAMES,
    factory: &super::factory::G0,
    extra_busy: SR_CFGBSY,
    rcc: None,
    ..single("STM32G0 (RM0444)", 10, opts::G07X)
};
/// G03x-G06x (RM0444): as G07x, WRP fields of 5 bits.
pub static G03X_G06X: Variant = Variant { options: opts::G03X_G06X, ..G0 };
/// G4 category 3 (RM0440): DBANK bit 22, PNB 7 bits, BKER bit 11.
pub static G4_CAT3: Variant = Variant {
    names: &G4_NAMES,
    factory: &super::factory::G4,
    bker: CR_BKER_L4_G4,
    mer2: CR_MER2,
    dual: &[
        (128, BankMode::OptionBit(OPTR_BIT22)),
        (256, BankMode::OptionBit(OPTR_BIT22)),
        (512, BankMode::OptionBit(OPTR_BIT22)),
    ],
    dual_bit_name: "FLASH_OPTR_DBANK",
    wrp2_in_single_bank: true,
    ..single("STM32G4 cat.3 (RM0440)", 7, opts::G4_CAT3)
};
/// G4 category 4: single bank, PNB 8 bits, WRP fields of 7
/// (stm32g491xx.h:5001).
pub static G4_CAT4: Variant =
    Variant { names: &G4_NAMES, factory: &super::factory::G4, ..single("STM32G4 cat.4 (RM0440)", 8, opts::G4_CAT4) };
/// G4 category 2: single bank, PNB 6 bits.
pub static G4_CAT2: Variant =
    Variant { names: &G4_NAMES, factory: &super::factory::G4, ..single("STM32G4 cat.2 (RM0440)", 6, opts::G4_CAT2) };
/// C011 (RM0490): PNB 4 bits, CFGBSY.
pub static C0: Variant = Variant {
    names: &G0_C0_NAMES,
    factory: &super::factory::C0,
    extra_busy: SR_CFGBSY,
    rcc: None,
    ..single("STM32C0 (RM0490)", 4, opts::C011)
};
/// C031 (RM0490): as C011, with OPTR.HSE_NOT_REMAPPED.
pub static C031: Variant = Variant { options: opts::C031, ..C0 };
/// C051 (RM0490): PNB 7 bits, WRP fields of 5 (stm32c051xx.h:2426, 2539).
pub static C051: Variant = Variant { pnb_bits: 7, options: opts::C051, ..C0 };
/// C071 (RM0490): PNB 6 bits, WRP fields of 6 (stm32c071xx.h:2625, 2738).
pub static C071: Variant = Variant { pnb_bits: 6, options: opts::C071, ..C0 };
/// C091/C092 (RM0490): PNB 7 bits, WRP fields of 7 (stm32c091xx.h:2495,
/// 2608; stm32c092xx.h:3140, 3258).
pub static C09X: Variant = Variant { names: &C09X_NAMES, pnb_bits: 7, options: opts::C09X, ..C0 };
/// U0 (RM0503): the C0/G0 controller. Same register block and offsets
/// (CMSIS stm32u073xx.h:302-315 `FLASH_TypeDef`: KEYR 0x08, SR 0x10, CR 0x14,
/// OPTR 0x20, WRP1AR/BR 0x2C/0x30), the same CR bits (PG 0, PER 1, MER1 2,
/// PNB 3 w7, STRT 16, OPTSTRT 17, OBL_LAUNCH 27, OPTLOCK 30, LOCK 31:
/// stm32u073xx.h:3373 for PNB, stm32u031xx.h:3083-3117) and SR bits (BSY1
/// 16, CFGBSY 18: stm32u031xx.h:3069-3072), the same keys and sequences
/// (ST's HAL stm32u0xx_hal_flash.c: wait BSY1 then CFGBSY, double words as
/// two 32-bit writes; page erase PER|PNB|STRT in one write in
/// stm32u0xx_hal_flash_ex.c; options OPTSTRT then OBL_LAUNCH), single bank
/// of 2 KiB pages. A variant, not a C0 row: the SoC around it differs
/// (flash-size register per die, DBGMCU clock in RCC_DBGCFGR, CRC clock in
/// RCC_AHBENR at +0x48, OPTR layout: the chip rows and `OPTR_U0`). SR bits
/// 11/12 (HDPOPTWERR, OEMOPTWERR, stm32u031xx.h:3060-3063) are not errors
/// of erase or program (the HAL's FLASH_SR_ERRORS leaves them out); bit 14
/// (RDERR elsewhere) is reserved here and reads 0.
///
/// No fast programming: the U0 starts on MSI at 4 MHz (below the 8 MHz
/// FSTPG needs) and its RCC is laid out as the G0's, not the L4's, so the
/// clock is not raised here; its row size is also unsettled (ST's HAL
/// writes 32 double words, the SVD's MISSERR text says 16).
pub static U0: Variant = Variant {
    names: &U0_NAMES,
    factory: &super::factory::U0,
    extra_busy: SR_CFGBSY,
    rcc: None,
    fast_row: 0,
    ..single("STM32U0 (RM0503)", 7, opts::U0)
};
/// WB55/WB50 (RM0434): own register block, CFGBSY, PESD, secure area from
/// SFR (SFSA bits 0-7, FSD bit 8: stm32wb55xx.h `FLASH_SFR_*`).
pub static WB: Variant = Variant {
    names: &WB_NAMES,
    factory: &super::factory::WB,
    base: BASE_WB_WL,
    extra_busy: SR_CFGBSY,
    pesd: true,
    secure: Some(SecureArea { sfsa_mask: 0xFF, fsd: 1 << 8, ese: None }),
    fast_row: 512,
    rcc: Some(RCC_WB_WL),
    ..single("STM32WB (RM0434)", 8, opts::WB)
};
/// WB30/WB35: as WB55, PNB 7 bits.
pub static WB3X: Variant = Variant { names: &WB3X_NAMES, pnb_bits: 7, options: opts::WB3X, ..WB };
/// WL (RM0461/RM0453): as WB, PNB 7 bits; SFSA is bits 0-6 and FSD bit 7
/// (stm32wl55xx.h:4607-4612), on the WL54/WL55 only ([`SecureArea::ese`]).
pub static WL: Variant = Variant {
    names: &WL_NAMES,
    factory: &super::factory::WL,
    base: BASE_WB_WL,
    extra_busy: SR_CFGBSY,
    pesd: true,
    secure: Some(SecureArea { sfsa_mask: 0x7F, fsd: 1 << 7, ese: Some(1 << 8) }),
    rcc: Some(RCC_WB_WL),
    ..single("STM32WL (RM0453)", 7, opts::WL)
};

static ERROR_FLAGS: &[ErrorFlag] = &[
    ErrorFlag { mask: SR_OPERR, name: "OPERR", meaning: "an erase or program operation did not complete" },
    ErrorFlag {
        mask: SR_PROGERR,
        name: "PROGERR",
        meaning:
            "the double word was not erased before programming (each double word can be programmed once per erase)",
    },
    ErrorFlag {
        mask: SR_WRPERR,
        name: "WRPERR",
        meaning: "the page is write-protected (WRP option bytes, or the CPU2 secure area)",
    },
    ErrorFlag { mask: SR_PGAERR, name: "PGAERR", meaning: "the data did not fall in one aligned 64-bit double word" },
    ErrorFlag { mask: SR_SIZERR, name: "SIZERR", meaning: "a byte or half-word write; flash takes 32-bit writes only" },
    ErrorFlag {
        mask: SR_PGSERR,
        name: "PGSERR",
        meaning: "programming sequence error: wrong control bits, or an earlier error was not cleared",
    },
    ErrorFlag { mask: SR_MISERR, name: "MISERR", meaning: "fast-programming data arrived too late" },
    ErrorFlag { mask: SR_FASTERR, name: "FASTERR", meaning: "fast-programming error" },
    ErrorFlag { mask: SR_RDERR, name: "RDERR", meaning: "read of a proprietary-code-protected (PCROP) area" },
    ErrorFlag {
        mask: SR_OPTVERR,
        name: "OPTVERR",
        meaning: "option bytes do not match their complement (set at power-up on new STM32WB/WL/G0 parts)",
    },
];

/// Reported when CPU2 keeps flash operations suspended.
const PESD_FLAG: ErrorFlag = ErrorFlag {
    mask: SR_PESD,
    name: "PESD",
    meaning: "CPU2 (the wireless stack) suspends flash operations; stop the radio application or hold it in reset, then retry",
};

/// Driver for one chip of the group.
pub struct L4gController {
    v: &'static Variant,
    chip: &'static Chip,
}

impl L4gController {
    /// `None` when the chip is not of this group.
    pub fn new(chip: &'static Chip) -> Option<L4gController> {
        let Controller::L4(v) = chip.controller else { return None };
        Some(L4gController { v, chip })
    }

    pub fn chip(&self) -> &'static Chip {
        self.chip
    }

    pub fn variant(&self) -> &'static Variant {
        self.v
    }

    fn reg(&self, offset: u32) -> u32 {
        self.v.base + offset
    }

    fn wait(&self, bank: u8, typical: Duration, timeout: Duration) -> RegOp {
        RegOp::WaitIdle { bank, typical, timeout }
    }

    fn write_cr(&self, value: u32) -> RegOp {
        RegOp::Write { addr: self.reg(CR), value }
    }

    /// CR value selecting a page for erase: PER, PNB, and BKER for bank 2.
    fn page_erase_cr(&self, sector: &Sector) -> u32 {
        debug_assert!(sector.index < 1 << self.v.pnb_bits, "page {} does not fit PNB", sector.index);
        let bker = if sector.bank == 1 { self.v.bker } else { 0 };
        CR_PER | (sector.index << CR_PNB_SHIFT) | bker
    }

    /// MER bits `mer` then STRT, waiting before and after (RM0351 §3.3.6
    /// "Mass erase").
    fn mer_ops(&self, mer: u32) -> Vec<RegOp> {
        vec![
            self.wait(0, Duration::ZERO, ERASE_TIMEOUT),
            self.write_cr(mer),
            self.write_cr(mer | CR_STRT),
            self.wait(0, ERASE_TYPICAL, MASS_ERASE_TIMEOUT),
            self.write_cr(0),
            self.wait(0, Duration::ZERO, SETTLE_TIMEOUT),
        ]
    }

    /// Wait while CPU2 holds flash operations suspended (WB/WL, SR.PESD;
    /// RM0351 §3, RM0444 §3, RM0434 §3, RM0453 §3).
    fn wait_not_suspended(&self, t: &mut Target) -> Result<(), FlashError> {
        if !self.v.pesd {
            return Ok(());
        }
        let start = t.elapsed();
        loop {
            let sr = t.read32(self.reg(SR))?;
            if sr & SR_PESD == 0 {
                return Ok(());
            }
            if t.elapsed() - start > PESD_TIMEOUT {
                let op = "starting a flash operation".to_string();
                return Err(FlashError::Flags { op, flags: vec![PESD_FLAG], status: sr });
            }
            t.sleep(Duration::from_millis(5));
        }
    }
}

/// The layout for `size` bytes with OPTR reading `optr` (pure, for tests),
/// the bank count taken from the flash size (G0B1: see [`layout_with_sales`]).
pub fn layout_for(v: &Variant, chip: &Chip, size: u32, optr: u32) -> FlashLayout {
    layout_with_sales(v, chip, size, optr, None)
}

/// The layout for `size` bytes with OPTR reading `optr` and, on G0B1, the
/// package data register reading `package` (`None`: not read).
pub fn layout_with_sales(v: &Variant, chip: &Chip, size: u32, optr: u32, package: Option<u32>) -> FlashLayout {
    let dual = match (v.sales, package) {
        (Some(s), Some(package)) => match package & s.mask {
            0 => false,
            t if t == s.optional => optr & s.dual_bank != 0,
            _ => true,
        },
        _ => match v.dual.iter().find(|(kib, _)| *kib * 1024 == size).map(|&(_, m)| m) {
            Some(BankMode::Dual) => true,
            Some(BankMode::OptionBit(bit)) => optr & bit != 0,
            None => false,
        },
    };
    if dual && chip.flash.dual.is_some() {
        FlashLayout::dual(&chip.flash, size)
    } else {
        FlashLayout::single(&chip.flash, size)
    }
}

impl FlashController for L4gController {
    fn name(&self) -> &'static str {
        self.v.name
    }

    fn layout(&mut self, t: &mut Target) -> Result<FlashLayout, FlashError> {
        // Read OPTR only where a bank-mode bit exists (`Variant::dual`).
        let optr = if self.v.dual.is_empty() { 0 } else { t.read32(self.reg(OPTR))? };
        let package = match self.v.sales {
            Some(s) => match t.read32(s.package) {
                Ok(value) => Some(value),
                Err(TargetError::Fault { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let layout = layout_with_sales(self.v, self.chip, t.flash_size, optr, package);
        debug!("{}: OPTR 0x{optr:08X}, package {package:08X?}, {} bank(s)", self.v.name, layout.banks.len());
        Ok(layout)
    }

    fn status(&self, _bank: u8) -> StatusReg {
        // One status register for both banks; BSY2 covers bank 2 on G0B1.
        StatusReg {
            addr: self.reg(SR),
            busy: SR_BSY | self.v.extra_busy,
            errors: SR_ERRORS,
            clear_reg: None,
            eop: SR_EOP,
        }
    }

    fn error_flags(&self) -> &'static [ErrorFlag] {
        ERROR_FLAGS
    }

    fn unlock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        self.wait_not_suspended(t)?;
        // Both banks share one CR; the second call finds it unlocked and sends nothing.
        unlock_with_keys(t, "FLASH_CR", self.reg(CR), CR_LOCK, self.reg(KEYR), [KEY1, KEY2])
    }

    fn lock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        // Setting LOCK leaves the other bits as they are (the reference manuals' FLASH_CR descriptions):
        // clear them first, then lock.
        t.write32(self.reg(CR), 0)?;
        t.write32(self.reg(CR), CR_LOCK)?;
        Ok(())
    }

    /// RM0351 §3.3.6 "Page erase": wait BSY (and CFGBSY), PER + PNB (+ BKER),
    /// STRT, wait BSY, clear PER.
    fn erase_sector_ops(&self, sector: &Sector) -> Vec<RegOp> {
        let cr = self.page_erase_cr(sector);
        vec![
            self.wait(sector.bank, Duration::ZERO, ERASE_TIMEOUT),
            self.write_cr(cr),
            self.write_cr(cr | CR_STRT),
            self.wait(sector.bank, ERASE_TYPICAL, ERASE_TIMEOUT),
            self.write_cr(0),
            self.wait(sector.bank, Duration::ZERO, SETTLE_TIMEOUT),
        ]
    }

    /// MER1 (and MER2 in dual-bank mode) then STRT. On WB/WL this erases the
    /// non-secure pages only: the CPU2 area survives (RM0351 §3, RM0444 §3, RM0434 §3, RM0453 §3).
    fn mass_erase_ops(&self, layout: &FlashLayout) -> Option<Vec<RegOp>> {
        let mer = if layout.banks.len() == 2 { CR_MER1 | self.v.mer2 } else { CR_MER1 };
        Some(self.mer_ops(mer))
    }

    /// In dual-bank mode MER1 erases bank 1 and MER2 bank 2, both in one
    /// operation of the same time as one (RM0440 §3.3.6; DS12288 Table 47
    /// "mass erase, one or two banks" 22.13 ms); in single-bank mode the
    /// mass erase.
    fn bank_erase_ops(&self, layout: &FlashLayout, banks: &[u8]) -> Option<Vec<RegOp>> {
        if layout.banks.len() == 1 {
            return (banks == [0]).then(|| self.mer_ops(CR_MER1));
        }
        let mer = banks.iter().fold(0, |m, &b| m | if b == 0 { CR_MER1 } else { self.v.mer2 });
        (mer != 0 && banks.iter().all(|&b| b < 2)).then(|| self.mer_ops(mer))
    }

    /// A row of 32 (64) double words, each 59.7 µs instead of 82 µs.
    fn fast_program(&self) -> Option<FastProgram> {
        let row = self.v.fast_row;
        if row == 0 {
            return None;
        }
        let access = ProgramAccess {
            unit: row,
            width: Width::Word,
            typical: FAST_DOUBLE_WORD * (row / 8),
            timeout: ROW_TIMEOUT,
        };
        Some(FastProgram { access, errors: SR_MISERR | SR_FASTERR | SR_PGSERR })
    }

    fn fast_setup_ops(&self, bank: u8) -> Vec<RegOp> {
        vec![self.wait(bank, Duration::ZERO, PROGRAM_TIMEOUT), self.write_cr(CR_FSTPG)]
    }

    /// HCLK ≥ 8 MHz for fast programming (RM0440 §3.3.7), and a faster
    /// routine: a core on MSI below 16 MHz (the 4 MHz reset clock of L4,
    /// L4+, WB, WL) or on HSI16 through the AHB prescaler is switched to
    /// HSI16 undivided, two flash wait states set first (the routine reads
    /// flash for its CRCs). A core on HSE or the PLL is left as it is (its
    /// speed is not known here). What was there is written back afterwards.
    fn raise_clock(&self, t: &mut Target) -> Result<Option<RaisedClock>, FlashError> {
        let Some(rcc) = self.v.rcc else { return Ok(Some(RaisedClock::default())) };
        let (cr_addr, cfgr_addr, acr_addr) = (rcc, rcc + RCC_CFGR, self.reg(ACR));
        let (cr, cfgr, acr) = (t.read32(cr_addr)?, t.read32(cfgr_addr)?, t.read32(acr_addr)?);
        let Some(hclk) = hclk_of(cr, cfgr) else { return Ok(Some(RaisedClock::default())) };
        if hclk >= HSI16_HZ {
            return Ok(Some(RaisedClock::default()));
        }
        let mut restore = Vec::new();
        if acr & ACR_LATENCY < LATENCY_16MHZ {
            t.write32(acr_addr, (acr & !ACR_LATENCY) | LATENCY_16MHZ)?;
            restore.push((acr_addr, acr));
        }
        if cr & RCC_CR_HSION == 0 {
            t.write32(cr_addr, cr | RCC_CR_HSION)?;
            restore.push((cr_addr, cr));
        }
        let ready = (0..8).try_fold(false, |ready, _| -> Result<bool, FlashError> {
            Ok(ready || t.read32(cr_addr)? & RCC_CR_HSIRDY != 0)
        })?;
        if ready {
            t.write32(cfgr_addr, (cfgr & !(RCC_CFGR_SW | RCC_CFGR_HPRE)) | RCC_CFGR_SW_HSI16)?;
            restore.push((cfgr_addr, cfgr));
        }
        // Written back in the reverse order: clock source, oscillator, latency.
        restore.reverse();
        let now = t.read32(cfgr_addr)?;
        if ready && (now >> RCC_CFGR_SWS_SHIFT) & RCC_CFGR_SW == RCC_CFGR_SW_HSI16 {
            debug!("{}: core clock raised from {} kHz to HSI16", self.v.name, hclk / 1000);
            let speedup = (HSI16_HZ / hclk.max(1)).max(1) as u32;
            return Ok(Some(RaisedClock { restore, speedup }));
        }
        debug!("{}: HSI16 did not start (RCC_CR 0x{:08X}); the clock stays", self.v.name, t.read32(cr_addr)?);
        for (addr, value) in restore {
            t.write32(addr, value)?;
        }
        // Fast programming needs 8 MHz.
        Ok((hclk >= 8_000_000).then(RaisedClock::default))
    }

    fn program_setup_ops(&self, bank: u8) -> Vec<RegOp> {
        vec![self.wait(bank, Duration::ZERO, PROGRAM_TIMEOUT), self.write_cr(CR_PG)]
    }

    fn program_teardown_ops(&self, bank: u8) -> Vec<RegOp> {
        vec![self.write_cr(0), self.wait(bank, Duration::ZERO, SETTLE_TIMEOUT)]
    }

    /// Each 64-bit double word as two 32-bit writes, low word first
    /// (RM0351 §3.3.7 "Flash main memory programming sequences"; ST's HAL
    /// stm32l4xx_hal_flash.c `FLASH_Program_DoubleWord`).
    fn program_access(&self) -> ProgramAccess {
        ProgramAccess { unit: 8, width: Width::Word, typical: PROGRAM_TYPICAL, timeout: PROGRAM_TIMEOUT }
    }

    fn options(&mut self) -> Option<&mut dyn crate::flash::options::OptionBytes> {
        Some(self)
    }

    /// OPTR.RDP: 0xAA level 0, 0xCC level 2, anything else level 1 (ST's HAL
    /// stm32l4xx_hal_flash.h:237-239, stm32g4xx_hal_flash.h:253-255).
    fn rdp_level(&mut self, t: &mut Target) -> Result<RdpLevel, FlashError> {
        Ok(RdpLevel::from_byte(t.read32(self.reg(OPTR))? as u8))
    }

    /// The write-protected pages, from the WRP area registers as in force,
    /// and on WB/WL the CPU2 secure area: a write or `erase` that touches
    /// one is refused before anything is erased, where the controller would
    /// erase the pages before it and then stop with WRPERR.
    fn reserved_ranges(&mut self, t: &mut Target) -> Result<Vec<Reserved>, FlashError> {
        let layout = self.layout(t)?;
        let mut areas = Vec::new();
        for &word in self.v.options.iter().filter(|w| w.name.starts_with("FLASH_WRP")) {
            areas.push((word, t.read32(word.addr)?));
        }
        let mut out = self.write_protected(&layout, &areas);
        out.extend(self.secure_area(t)?);
        Ok(out)
    }
}

impl L4gController {
    /// WB/WL: the pages from SFR.SFSA to the end belong to CPU2 (wireless
    /// stack and FUS on WB, the secure application on WL55) unless SFR.FSD is
    /// set (RM0434 FLASH_SFR; WL: see [`SecureArea::ese`]).
    fn secure_area(&self, t: &mut Target) -> Result<Option<Reserved>, FlashError> {
        let Some(secure) = self.v.secure else { return Ok(None) };
        if let Some(ese) = secure.ese {
            if t.read32(self.reg(OPTR))? & ese == 0 {
                return Ok(None);
            }
        }
        let sfr = match t.read32(self.reg(SFR)) {
            Ok(sfr) => sfr,
            Err(TargetError::Fault { .. }) if secure.ese.is_some() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if sfr & secure.fsd != 0 || (secure.ese.is_some() && sfr & secure.sfsa_mask == 0) {
            return Ok(None);
        }
        let page = self.chip.flash.sectors[0].1 as u64;
        let base = self.chip.flash.base as u64;
        let start = base + (sfr & secure.sfsa_mask) as u64 * page;
        let end = base + t.flash_size as u64;
        if start >= end {
            return Ok(None);
        }
        debug!("secure area from SFSA 0x{:02X}: 0x{start:08X}-0x{:08X}", sfr & secure.sfsa_mask, end - 1);
        Ok(Some(Reserved::secure(
            start as u32,
            end,
            "the CPU2 secure area (FLASH_SFR.SFSA: the wireless stack and FUS on STM32WB, the secure application on \
             STM32WL5x); only CPU2 may change it",
        )))
    }
}

/// The driver's facts for a row, by the names of ST's headers.
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    let Controller::L4(v) = c.controller else { return };
    f.source("driver");
    let wb_wl = v.base == BASE_WB_WL;
    let base = if wb_wl { "FLASH_REG_BASE" } else { "FLASH_R_BASE" };
    f.number(base, v.base as u64);
    for (reg, offset) in [("KEYR", KEYR), ("SR", SR), ("CR", CR), ("OPTR", OPTR)] {
        f.number(format!("FLASH_TypeDef.{reg}"), offset as u64);
    }
    f.number("FLASH_KEY1", KEY1 as u64).number("FLASH_KEY2", KEY2 as u64);
    f.number("FLASH_OPTKEY1", OPTKEY1 as u64).number("FLASH_OPTKEY2", OPTKEY2 as u64);
    f.mask("FLASH_SR_EOP", SR_EOP);
    for flag in ERROR_FLAGS.iter().filter(|flag| !v.names.undefined_flags.contains(&flag.name)) {
        f.mask(format!("FLASH_SR_{}", flag.name), flag.mask);
    }
    let g0_c0 = v.extra_busy & SR_CFGBSY != 0 && !wb_wl;
    f.mask(if g0_c0 { "FLASH_SR_BSY1" } else { "FLASH_SR_BSY" }, SR_BSY);
    if v.extra_busy & SR_BSY2 != 0 {
        f.mask("FLASH_SR_BSY2", SR_BSY2);
    }
    if v.extra_busy & SR_CFGBSY != 0 {
        f.mask("FLASH_SR_CFGBSY", SR_CFGBSY);
    }
    if v.pesd {
        f.mask("FLASH_SR_PESD", PESD_FLAG.mask);
    }
    f.mask("FLASH_CR_PG", CR_PG).mask("FLASH_CR_PER", CR_PER);
    f.mask(if wb_wl { "FLASH_CR_MER" } else { "FLASH_CR_MER1" }, CR_MER1);
    f.scope(v.names.width_part.map_or(Scope::Die, Scope::Part));
    f.field("FLASH_CR_PNB", CR_PNB_SHIFT, v.pnb_bits);
    f.scope(Scope::Die);
    f.mask("FLASH_CR_STRT", CR_STRT).mask("FLASH_CR_LOCK", CR_LOCK);
    // Fast programming: every die of the group has it.
    f.mask("FLASH_CR_FSTPG", CR_FSTPG);
    if v.bker != 0 {
        f.mask("FLASH_CR_BKER", v.bker);
    }
    if v.mer2 != 0 {
        f.mask("FLASH_CR_MER2", v.mer2);
    }
    for &(_, mode) in v.dual {
        if let BankMode::OptionBit(bit) = mode {
            f.mask(v.dual_bit_name, bit);
        }
    }
    if let Some(s) = v.sales {
        f.number("PACKAGE_BASE", s.package as u64);
        f.number("FLASH_SALES_TYPE", s.mask as u64);
        f.number("FLASH_SALES_TYPE_0", s.optional as u64);
        f.mask("FLASH_OPTR_DUAL_BANK", s.dual_bank);
    }
    if let Some(secure) = v.secure {
        // WL: the WL54/WL55 only (stm32wle5xx.h has no FLASH_SFR).
        f.scope(if secure.ese.is_some() { Scope::Part("stm32wl55xx") } else { Scope::Die });
        f.number("FLASH_TypeDef.SFR", SFR as u64);
        f.mask("FLASH_SFR_SFSA", secure.sfsa_mask).mask("FLASH_SFR_FSD", secure.fsd);
        f.scope(Scope::Die);
        if let Some(ese) = secure.ese {
            f.mask("FLASH_OPTR_ESE", ese);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip::find;

    fn ctrl(dev_id: u16) -> L4gController {
        L4gController::new(find(dev_id).unwrap()).unwrap()
    }

    fn cr_writes(ops: &[RegOp]) -> Vec<u32> {
        ops.iter().filter_map(|op| if let RegOp::Write { value, .. } = op { Some(*value) } else { None }).collect()
    }

    const KIB: u32 = 1024;

    #[test]
    fn l476_bank2_page_erase_uses_bank_relative_pnb_and_bker_bit_11() {
        let c = ctrl(0x415);
        let l = layout_for(c.v, c.chip, 1024 * KIB, 0);
        assert_eq!(l.banks.len(), 2, "1 MiB L476 is always dual bank");
        let s = l.sector_at(0x0808_2800).unwrap();
        assert_eq!((s.bank, s.index), (1, 5));
        let ops = c.erase_sector_ops(&s);
        // RM0351 FLASH_CR: PER bit 1, PNB bits 3-10, BKER bit 11, STRT bit 16.
        let per_pnb = (1 << 1) | (5 << 3) | (1 << 11);
        assert_eq!(cr_writes(&ops), vec![per_pnb, per_pnb | (1 << 16), 0]);
        assert!(matches!(ops[0], RegOp::WaitIdle { .. }) && matches!(ops[ops.len() - 1], RegOp::WaitIdle { .. }));
        assert!(ops.iter().all(|op| !matches!(op, RegOp::Write { addr, .. } if *addr != 0x4002_2014)));
    }

    #[test]
    fn g474_bank2_uses_bit_11_and_bank2_starts_at_0x08040000() {
        let c = ctrl(0x469);
        let l = layout_for(c.v, c.chip, 256 * KIB, OPTR_BIT22);
        assert_eq!(l.banks[1].base, 0x0804_0000);
        assert_eq!(l.banks[0].runs, vec![(64, 2048)]);
        let s = l.sector_at(0x0804_0800).unwrap();
        let ops = c.erase_sector_ops(&s);
        assert_eq!(
            cr_writes(&ops)[0],
            (1 << 1) | (1 << 3) | (1 << 11),
            "stlink's bit 13 is wrong (OpenOCD stm32l4x.h:26)"
        );
        // DBANK=0: single bank of 4 KiB pages.
        let single = layout_for(c.v, c.chip, 512 * KIB, 0);
        assert_eq!(single.banks[0].runs, vec![(128, 4096)]);
    }

    #[test]
    fn g0b1_bank2_uses_bker_bit_13_and_a_10_bit_pnb() {
        let c = ctrl(0x467);
        let l = layout_for(c.v, c.chip, 512 * KIB, OPTR_BIT21);
        let s = l.sector_at(0x0804_1800).unwrap();
        assert_eq!((s.bank, s.index), (1, 3));
        assert_eq!(cr_writes(&c.erase_sector_ops(&s))[0], (1 << 1) | (3 << 3) | (1 << 13));
        // Sales type 1 with DUAL_BANK = 0: one bank, pages 0-255 in one
        // field, no BKER.
        let single = layout_with_sales(c.v, c.chip, 512 * KIB, 0, Some(1 << 24));
        let last = single.sector_at(0x0807_F800).unwrap();
        assert_eq!(cr_writes(&c.erase_sector_ops(&last))[0], (1 << 1) | (255 << 3));
        assert_eq!(c.status(0).busy, (1 << 16) | (1 << 17) | (1 << 18));
    }

    #[test]
    fn g0b1_counts_its_banks_from_the_sales_type_as_st_s_hal_does() {
        // stm32g0xx_hal_flash.h:875-882: type 0 one bank, type 1 two banks
        // with DUAL_BANK, other types two banks.
        let c = ctrl(0x467);
        let banks = |size: u32, optr: u32, package: Option<u32>| {
            layout_with_sales(c.v, c.chip, size * KIB, optr, package).banks.len()
        };
        assert_eq!(banks(512, OPTR_BIT21, Some(0)), 1);
        assert_eq!(banks(256, OPTR_BIT21, Some(0x0100_0000)), 2);
        assert_eq!(banks(256, 0, Some(0x0100_0000)), 1);
        assert_eq!(banks(512, 0, Some(0x0200_0000)), 2);
        assert_eq!(banks(512, 0, Some(0x0300_0000 | 0xFF)), 2);
        // Without the package register: 128 KiB single, 256 KiB by
        // DUAL_BANK, 512 KiB dual.
        assert_eq!(banks(128, OPTR_BIT21, None), 1);
        assert_eq!(banks(256, 0, None), 1);
        assert_eq!(banks(256, OPTR_BIT21, None), 2);
        assert_eq!(banks(512, 0, None), 2);
    }

    #[test]
    fn l4plus_bank_mode_bits_and_page_sizes() {
        // DBANK, bit 22, on every size (ST HAL stm32l4xx_hal_flash_ex.c:506-507);
        // stlink tests bit 21 on 2 MiB parts, and DB1M (bit 21) chooses nothing.
        for (dev_id, size) in [(0x470, 2048), (0x470, 1024), (0x471, 1024), (0x471, 512)] {
            let c = ctrl(dev_id);
            let pages = size * KIB / 8192;
            assert_eq!(layout_for(c.v, c.chip, size * KIB, OPTR_BIT21).banks[0].runs, vec![(pages, 8192)]);
            let dual = layout_for(c.v, c.chip, size * KIB, OPTR_BIT22);
            assert_eq!(dual.banks[0].runs, vec![(pages, 4096)]);
            assert_eq!(dual.banks[1].base, 0x0800_0000 + size * KIB / 2);
        }
    }

    #[test]
    fn l47x_512k_follows_dualbank_and_single_bank_families_ignore_optr() {
        let c = ctrl(0x415);
        assert_eq!(layout_for(c.v, c.chip, 512 * KIB, 0).banks.len(), 1);
        assert_eq!(layout_for(c.v, c.chip, 512 * KIB, OPTR_BIT21).banks[1].base, 0x0804_0000);
        let l45 = ctrl(0x462);
        assert_eq!(layout_for(l45.v, l45.chip, 512 * KIB, u32::MAX).banks.len(), 1);
        let g491 = ctrl(0x479);
        assert_eq!(layout_for(g491.v, g491.chip, 512 * KIB, u32::MAX).banks[0].runs, vec![(256, 2048)]);
    }

    #[test]
    fn mass_erase_sets_mer2_only_with_two_banks() {
        let c = ctrl(0x415);
        let dual = layout_for(c.v, c.chip, 1024 * KIB, 0);
        let ops = c.mass_erase_ops(&dual).unwrap();
        // MER1 bit 2, MER2 bit 15, STRT bit 16.
        assert_eq!(cr_writes(&ops), vec![(1 << 2) | (1 << 15), (1 << 2) | (1 << 15) | (1 << 16), 0]);
        let single = layout_for(c.v, c.chip, 512 * KIB, 0);
        assert_eq!(cr_writes(&c.mass_erase_ops(&single).unwrap())[0], 1 << 2);
    }

    #[test]
    fn bank_erase_sets_the_mer_bit_of_each_bank_in_one_operation() {
        let c = ctrl(0x415);
        let dual = layout_for(c.v, c.chip, 1024 * KIB, 0);
        // MER1 bit 2, MER2 bit 15 (RM0351 FLASH_CR).
        assert_eq!(cr_writes(&c.bank_erase_ops(&dual, &[1]).unwrap())[0], 1 << 15);
        assert_eq!(cr_writes(&c.bank_erase_ops(&dual, &[0, 1]).unwrap())[0], (1 << 2) | (1 << 15));
        let single = layout_for(c.v, c.chip, 512 * KIB, 0);
        assert_eq!(cr_writes(&c.bank_erase_ops(&single, &[0]).unwrap())[0], 1 << 2);
        assert!(c.bank_erase_ops(&single, &[1]).is_none());
    }

    #[test]
    fn fast_rows_are_32_double_words_or_64_on_l4plus_and_wb_with_fstpg_at_bit_18() {
        for (dev, row) in [(0x415, 256), (0x469, 256), (0x460, 256), (0x470, 512), (0x495, 512), (0x497, 256)] {
            let c = ctrl(dev);
            let fast = c.fast_program().unwrap();
            assert_eq!((fast.access.unit, fast.access.width), (row, Width::Word), "0x{dev:03X}");
            // 59.7 µs per double word (DS12288 Table 47: 1.91 ms per 32).
            assert_eq!(fast.access.typical, Duration::from_nanos(59_700) * (row / 8));
            assert_eq!(fast.errors, (1 << 7) | (1 << 8) | (1 << 9), "PGSERR, MISERR, FASTERR");
            assert_eq!(cr_writes(&c.fast_setup_ops(0)), vec![1 << 18]);
        }
    }

    #[test]
    fn program_is_pg_then_double_words_of_two_words() {
        let c = ctrl(0x460);
        assert_eq!(cr_writes(&c.program_setup_ops(0)), vec![1]);
        assert_eq!(cr_writes(&c.program_teardown_ops(0)), vec![0]);
        let a = c.program_access();
        assert_eq!((a.unit, a.width), (8, Width::Word));
        assert!(a.timeout >= a.typical * 10);
    }

    #[test]
    fn wb_and_wl_use_their_own_register_block_and_busy_flags() {
        let wb = ctrl(0x495);
        assert_eq!(wb.status(0).addr, 0x5800_4010);
        assert_eq!(wb.status(0).busy, (1 << 16) | (1 << 18));
        assert_eq!(ctrl(0x497).status(0).addr, 0x5800_4010);
        assert_eq!(ctrl(0x468).status(0).busy, 1 << 16, "G4 has no CFGBSY");
        // Error mask: OPERR 1, PROGERR 3, WRPERR 4, PGAERR 5, SIZERR 6, PGSERR 7,
        // MISERR 8, FASTERR 9, RDERR 14, OPTVERR 15.
        assert_eq!(wb.status(0).errors, 0b1100_0011_1111_1010);
    }
}
