//! STM32L5, U5, WBA5 and U3: TrustZone controllers, driven through the
//! non-secure registers (the WBA5 and U3 rows:
//! ST's CMSIS device headers cmsis-device-wba v1.9.0 and cmsis-device-u3
//! v1.3.0, ST's HAL, AN2606 Table 226).

use std::time::Duration;

use super::driver::{DualBankRule, HeaderNames, Variant, CR_BKER, CR_MER2, L5_RANGE0, SR_BSY, SR_WDW, U3_RANGE1};
use super::options;
use crate::chip::{
    Bank2Base, Chip, Controller, Core, CrcPeripheral, DualBank, FlashSizeQuirk, FlashSpec, MemRegion, Uid,
};
use crate::facts::TableNames;

const KIB: u32 = 1024;

/// L5: 4 KiB pages in single-bank mode, 2 KiB pages per bank in dual-bank mode
/// (OPTR.DBANK, or DB256K on 256 KiB parts); bank 2 at half the flash; 64-bit
/// double-word programming (OpenOCD src/flash/nor/stm32l4x.c:2212-2222).
const L5_FLASH: FlashSpec = FlashSpec {
    base: 0x0800_0000,
    sectors: &[(1, 4 * KIB)],
    dual: Some(DualBank { sectors: &[(1, 2 * KIB)], bank2: Bank2Base::Half }),
    write_unit: 8,
    erased: 0xFF,
};

/// U5: 8 KiB pages in both modes; quad-word (16-byte) programming; bank 2 at
/// half the flash. For U5F/U5G embassy's stm32-data-generated chip files
/// put the 2 MiB bank-2 base at 0x08200000; ST's device
/// headers define FLASH_BANK_SIZE = FLASH_SIZE / 2 for U5F7/U5F9 exactly as for
/// the others (cmsis-device-u5 v1.4.2 `stm32u5f7xx.h:8757`,
/// `stm32u5f9xx.h:11883`), and ST's HAL finds bank-2 addresses that way, so
/// half is used here.
const U5_FLASH: FlashSpec = FlashSpec {
    base: 0x0800_0000,
    sectors: &[(1, 8 * KIB)],
    dual: Some(DualBank { sectors: &[(1, 8 * KIB)], bank2: Bank2Base::Half }),
    write_unit: 16,
    erased: 0xFF,
};

/// DBGMCU_APB1FZR1 (DBGMCU + 0x08): DBG_WWDG_STOP bit 11, DBG_IWDG_STOP bit 12.
/// L5/U5 DBGMCU at 0xE0044000 (CMSIS `stm32l552xx.h:1677, 4549-4553`,
/// `stm32u575xx.h:1989, 5630-5635`).
const L5U5_FREEZE: &[(u32, u32)] = &[(0xE004_4008, (1 << 11) | (1 << 12))];

/// L5/U5 OTP: 512 bytes at 0x0BFA0000 (CMSIS `stm32l552xx.h:1689`;
/// `stm32u575xx.h:1995-1996`).
const L5U5_OTP: MemRegion = MemRegion::new(0x0BFA_0000, 512);

/// U5 SRAM4 (16 KiB at 0x28000000), outside the contiguous SRAM (CMSIS
/// `stm32u575xx.h:1632, 1651`).
const U5_SRAM4: &[MemRegion] = &[MemRegion::new(0x2800_0000, 16 * KIB)];

/// U5 system memory, AN2606: 0x0BF90000-0x0BF9FFFF (stlink says 32 KiB for
/// most U5 files).
const U5_SYSMEM: MemRegion = MemRegion::new(0x0BF9_0000, 64 * KIB);

const L5_SIZE_REG: u32 = 0x0BFA_05E0;
const U5_SIZE_REG: u32 = 0x0BFA_07A0;

/// CRC peripheral, non-secure aliases (CRC_BASE_NS = AHB1PERIPH_BASE_NS +
/// 0x3000 = 0x40023000 on both), INIT and POL, CRCEN bit 12 of
/// RCC_AHB1ENR: L5 0x40021000 + 0x48 (CMSIS stm32l552xx.h RCC_BASE_NS), U5
/// 0x46020C00 + 0x88 (stm32u575xx.h). Reset clock: MSI 4 MHz.
const L5_CRC: CrcPeripheral =
    CrcPeripheral { base: 0x4002_3000, clock_enable: (0x4002_1048, 1 << 12), init: true, pol: true, word_ns: 2000 };
const U5_CRC: CrcPeripheral = CrcPeripheral { clock_enable: (0x4602_0C88, 1 << 12), ..L5_CRC };

/// The chip table's names where the L5 and U5 headers agree.
const L5U5_TABLE: TableNames = TableNames {
    flash_base: "FLASH_BASE_NS",
    flash_size_mask: "FLASH_SIZE.mask",
    idcode: "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE",
    crc_base: "CRC_BASE_NS",
    crc_clock: ("RCC_BASE_NS+RCC_TypeDef.AHB1ENR", "RCC_AHB1ENR_CRCEN"),
    freeze: &[("DBGMCU_BASE+DBGMCU_TypeDef.APB1FZR1", "DBGMCU_APB1FZR1_DBG_WWDG_STOP|DBGMCU_APB1FZR1_DBG_IWDG_STOP")],
};
/// WBA5 and U3 call the freeze register APB1LFZR (stm32wba55xx.h:2721-2724,
/// stm32u385xx.h:4665-4668).
const APB1LFZR: &[(&str, &str)] =
    &[("DBGMCU_BASE+DBGMCU_TypeDef.APB1LFZR", "DBGMCU_APB1LFZR_DBG_WWDG_STOP|DBGMCU_APB1LFZR_DBG_IWDG_STOP")];
/// The WRP areas' UNLOCK bit: ST calls it UNLOCK (stm32u575xx.h:8492),
/// and the U5's OPTR bit 15 SRAM_RST (stm32u575xx.h:8399).
const RENAMES: &[(&str, Option<&str>)] = &[("WRP_UNLOCK", Some("UNLOCK")), ("SRAM1345_RST", Some("SRAM_RST"))];

/// U5 names (see `HeaderNames`).
static U5_NAMES: HeaderNames = HeaderNames {
    base: "FLASH_R_BASE_NS",
    keyr: "NSKEYR",
    sr: "NSSR",
    cr: "NSCR",
    bit: "",
    dual_bank: "FLASH_OPTR_DUALBANK",
    db256k: None,
    width_part: None,
    table: L5U5_TABLE,
    otp_base: Some("FLASH_OTP_BASE"),
    option_renames: RENAMES,
};
/// L5: NS bits, DBANK and DB256K, no `FLASH_OTP_BASE`.
static L5_NAMES: HeaderNames = HeaderNames {
    bit: "NS",
    dual_bank: "FLASH_OPTR_DBANK",
    db256k: Some("FLASH_OPTR_DB256K"),
    otp_base: None,
    ..U5_NAMES
};
/// WBA5: NSCR1, the WBA55's widths, APB1LFZR.
static WBA5_NAMES: HeaderNames = HeaderNames {
    cr: "NSCR1",
    width_part: Some("stm32wba55xx"),
    table: TableNames { freeze: APB1LFZR, ..L5U5_TABLE },
    ..U5_NAMES
};
/// U3: no NS registers, AHB1ENR1, APB1LFZR; WRP fields STRT/END, boot
/// addresses ADD (stm32u385xx.h:7017-7057).
static U3_NAMES: HeaderNames = HeaderNames {
    base: "FLASH_R_BASE",
    keyr: "KEYR",
    sr: "SR",
    cr: "CR",
    table: TableNames {
        crc_clock: ("RCC_BASE_NS+RCC_TypeDef.AHB1ENR1", "RCC_AHB1ENR1_CRCEN"),
        freeze: APB1LFZR,
        ..L5U5_TABLE
    },
    option_renames: &[
        ("WRP_UNLOCK", Some("UNLOCK")),
        ("WRP1A_STRT", Some("STRT")),
        ("WRP1A_END", Some("END")),
        ("WRP1B_STRT", Some("STRT")),
        ("WRP1B_END", Some("END")),
        ("WRP2A_STRT", Some("STRT")),
        ("WRP2A_END", Some("END")),
        ("WRP2B_STRT", Some("STRT")),
        ("WRP2B_END", Some("END")),
        ("BOOTADD0", Some("ADD")),
        ("BOOTADD1", Some("ADD")),
    ],
    ..U5_NAMES
};

static L5: Variant = Variant {
    name: "STM32L5",
    dual_bank: DualBankRule::L5,
    bker: CR_BKER,
    mer2: CR_MER2,
    busy: SR_BSY,
    voltage: Some(&L5_RANGE0),
    // Typical page erase (DS12736 [assumed typical]).
    page_erase: Duration::from_millis(22),
    optr: &options::OPTR_L5,
    boot: [&options::NSBOOTADD0, &options::NSBOOTADD1],
    wrp: &options::WRP_L5,
    wrp2_in_single_bank: true,
    factory: &super::factory::L5_U5,
    names: &L5_NAMES,
};
/// U5 dies; WRP page fields are as wide as PNB on the die (CMSIS per part:
/// U575 7 bits, U535/U545 5, U59x/U5Ax and U5F/U5G 8).
static U575: Variant = Variant {
    name: "STM32U5",
    dual_bank: DualBankRule::U5,
    bker: CR_BKER,
    mer2: CR_MER2,
    busy: SR_BSY,
    voltage: None,
    // Typical page erase (DS13737 [assumed typical]).
    page_erase: Duration::from_micros(1500),
    optr: &options::OPTR_U5,
    boot: [&options::NSBOOTADD0, &options::NSBOOTADD1],
    wrp: &options::WRP_U5_7,
    wrp2_in_single_bank: false,
    factory: &super::factory::L5_U5,
    names: &U5_NAMES,
};
static U535: Variant =
    Variant { dual_bank: DualBankRule::U535, optr: &options::OPTR_U535, wrp: &options::WRP_U5_5, ..U575 };
static U59X: Variant = Variant { wrp: &options::WRP_U5_8, ..U575 };
/// WBA5 (RM0493): one bank of 8 KiB pages, no BKER/MER2 (NSCR1 MER is
/// bit 2, stm32wba52xx.h:3809), busy on BSY and WDW, no voltage step (none
/// in ST's HAL or OpenOCD). The NSSR.PD (flash in power-down) and NSCR2
/// PS/ES (a radio stack suspending operations) preconditions are not
/// checked (assumed clear while the core is halted).
static WBA5: Variant = Variant {
    name: "STM32WBA5",
    dual_bank: DualBankRule::SINGLE,
    bker: 0,
    mer2: 0,
    busy: SR_BSY | SR_WDW,
    voltage: None,
    // Typical page erase, as U5's 8 KiB pages [assumed].
    page_erase: Duration::from_micros(1500),
    optr: &options::OPTR_WBA5,
    boot: [&options::NSBOOTADD0, &options::NSBOOTADD1],
    wrp: &options::WRP_WBA5,
    wrp2_in_single_bank: false,
    factory: &super::factory::WBA5,
    names: &WBA5_NAMES,
};
/// U3 (RM0487): 4 KiB pages in both bank modes, 8-byte double words (ST HAL
/// stm32u3xx_hal_flash.h: `FLASH_TYPEPROGRAM_DOUBLEWORD` and burst only;
/// OpenOCD stm32l4x.c:722-733 without `F_QUAD_WORD_PROG`), BKER/MER2, busy
/// on BSY and WDW, voltage range 1.
static U3: Variant = Variant {
    name: "STM32U3",
    dual_bank: DualBankRule::U3,
    bker: CR_BKER,
    mer2: CR_MER2,
    busy: SR_BSY | SR_WDW,
    voltage: Some(&U3_RANGE1),
    // Typical 4 KiB page erase [assumed: the U5's figure; Zephyr PR #92650
    // gives 14 ms as the U3 maximum "according to datasheet specifications"].
    page_erase: Duration::from_micros(1500),
    optr: &options::OPTR_U3,
    boot: [&options::BOOT0R_U3, &options::BOOT1R_U3],
    wrp: &options::WRP_U3,
    wrp2_in_single_bank: false,
    factory: &super::factory::L5_U5,
    names: &U3_NAMES,
};

/// WBA5 flash: one bank of 8 KiB pages, 16-byte quad words (ST HAL
/// stm32wbaxx_hal_flash.h `FLASH_PAGE_SIZE 0x2000`, `FLASH_TYPEPROGRAM_QUADWORD`).
const WBA5_FLASH: FlashSpec =
    FlashSpec { base: 0x0800_0000, sectors: &[(1, 8 * KIB)], dual: None, write_unit: 16, erased: 0xFF };
/// U3 flash: 4 KiB pages, bank 2 at half the flash (ST HAL
/// stm32u3xx_hal_flash.h `FLASH_PAGE_SIZE 0x1000`, `FLASH_BANK_SIZE`),
/// 8-byte double words.
const U3_FLASH: FlashSpec = FlashSpec {
    base: 0x0800_0000,
    sectors: &[(1, 4 * KIB)],
    dual: Some(DualBank { sectors: &[(1, 4 * KIB)], bank2: Bank2Base::Half }),
    write_unit: 8,
    erased: 0xFF,
};
/// WBA5 CRC: CRC_BASE_NS 0x40023000, CRCEN bit 12 of RCC_AHB1ENR at
/// 0x46020C88 (RCC_BASE_NS 0x46020C00, stm32wba52xx.h:1040, 1087, 10032),
/// the U5's address; reset clock HSI16 (system_stm32wbaxx.c).
const WBA5_CRC: CrcPeripheral = CrcPeripheral { word_ns: 500, ..U5_CRC };
/// U3 CRC: CRCEN bit 12 of RCC_AHB1ENR1 at 0x40030C88 (RCC_BASE_NS
/// 0x40030C00 + 0x88, stm32u375xx.h:1483, 916); reset clock MSIS 12 MHz
/// (system_stm32u3xx.c `SystemCoreClock = MSIRC1_VALUE >> 1`).
const U3_CRC: CrcPeripheral = CrcPeripheral { clock_enable: (0x4003_0C88, 1 << 12), word_ns: 667, ..L5_CRC };

pub static CHIPS: &[Chip] = &[
    // WBA52/54/55 (and WBA50, WBA5M), RM0493: DBGMCU at 0xE0044000 with
    // APB1LFZR bits 11/12 as on U5 (stm32wba52xx.h:988); flash-size register
    // 0x0BF907A0, UID 0x0BF90700, OTP 512 B at 0x0BF90000
    // (stm32wba52xx.h:1003-1009); SRAM1 64 KiB at 0x20000000 (:997; SRAM2
    // follows on 1 MiB parts, the split on 512 KiB parts is not in CMSIS, so
    // 64 KiB is what every WBA5 has); system memory: AN2606 Table 226
    // (0x0BF88000-0x0BF8FFFF). The Cortex-M33 is on AP1 (OpenOCD
    // tcl/target/stm32wba5x.cfg:45 `-ap-num 1`; probe-rs STM32WBA_Series.yaml).
    Chip {
        dev_id: 0x492,
        uid: Uid::at(0x0BF9_0700),
        also_reports: &[],
        name: "STM32WBA5x",
        parts: "STM32WBA50, STM32WBA52, STM32WBA54, STM32WBA55, STM32WBA5M",
        family: "STM32WBA",
        reference_manual: "RM0493",
        core: Core::M33,
        core_ap: 1,
        controller: Controller::L5U5(&WBA5),
        flash_size_reg: 0x0BF9_07A0,
        max_flash_kib: 1024,
        flash: WBA5_FLASH,
        sram: MemRegion::new(0x2000_0000, 64 * KIB),
        extra_ram: &[],
        system_memory: MemRegion::new(0x0BF8_8000, 32 * KIB),
        option_bytes: None,
        otp: Some(MemRegion::new(0x0BF9_0000, 512)),
        watchdog_freeze: L5U5_FREEZE,
        flash_size_quirk: FlashSizeQuirk::NONE,
        crc: Some(WBA5_CRC),
    },
    // U375/U385, RM0487: DBGMCU 0xE0044000 (stm32u375xx.h:1647), flash-size
    // register 0x0BFA07A0, UID 0x0BFA0700, OTP 512 B at 0x0BFA0000
    // (:1395-1400, the U5's addresses); SRAM1 192 + SRAM2 64 KiB contiguous
    // (:1410-1411); system memory: AN2606 Table 226 (0x0BF8F000-0x0BF9FFFF).
    // Core on AP0 (probe-rs STM32U3_Series.yaml).
    Chip {
        dev_id: 0x454,
        uid: Uid::at(0x0BFA_0700),
        also_reports: &[],
        name: "STM32U37x_U38x",
        parts: "STM32U375, STM32U385",
        family: "STM32U3",
        reference_manual: "RM0487",
        core: Core::M33,
        core_ap: 0,
        controller: Controller::L5U5(&U3),
        flash_size_reg: U5_SIZE_REG,
        max_flash_kib: 1024,
        flash: U3_FLASH,
        sram: MemRegion::new(0x2000_0000, 256 * KIB),
        extra_ram: &[],
        system_memory: MemRegion::new(0x0BF8_F000, 68 * KIB),
        option_bytes: None,
        otp: Some(L5U5_OTP),
        watchdog_freeze: L5U5_FREEZE,
        flash_size_quirk: FlashSizeQuirk::NONE,
        crc: Some(U3_CRC),
    },
    Chip {
        dev_id: 0x472,
        uid: Uid::at(0x0BFA_0590),
        also_reports: &[],
        // st-flash's name (the stlink v1.8.0 chip file is
        // config/chips/L5x5xx.chip although the parts are L552/L562).
        name: "STM32L5x2xx",
        parts: "STM32L552, STM32L562",
        family: "STM32L5",
        reference_manual: "RM0438",
        core: Core::M33,
        core_ap: 0,
        controller: Controller::L5U5(&L5),
        flash_size_reg: L5_SIZE_REG,
        max_flash_kib: 512,
        flash: L5_FLASH,
        // SRAM1 192 KiB + SRAM2 64 KiB, contiguous (CMSIS `stm32l552xx.h:1330-1347`).
        sram: MemRegion::new(0x2000_0000, 256 * KIB),
        extra_ram: &[],
        // AN2606: 0x0BF90000-0x0BF97FFF.
        system_memory: MemRegion::new(0x0BF9_0000, 32 * KIB),
        option_bytes: None,
        otp: Some(L5U5_OTP),
        watchdog_freeze: L5U5_FREEZE,
        // The register's low 12 bits are the size (CMSIS stm32l552xx.h:1684
        // `FLASH_SIZE` keeps `& 0x0FFFU`).
        flash_size_quirk: FlashSizeQuirk::Mask(0x0FFF),
        crc: Some(L5_CRC),
    },
    Chip {
        dev_id: 0x455,
        uid: Uid::at(0x0BFA_0700),
        also_reports: &[],
        name: "STM32U535_U545",
        parts: "STM32U535, STM32U545",
        family: "STM32U5",
        reference_manual: "RM0456",
        core: Core::M33,
        core_ap: 0,
        controller: Controller::L5U5(&U535),
        flash_size_reg: U5_SIZE_REG,
        max_flash_kib: 512,
        flash: U5_FLASH,
        // SRAM1 192 KiB + SRAM2 64 KiB contiguous (CMSIS `stm32u535xx.h:1424-1436`);
        // stlink's 274 KiB counts SRAM4 and more, which are not contiguous.
        sram: MemRegion::new(0x2000_0000, 256 * KIB),
        extra_ram: U5_SRAM4,
        system_memory: U5_SYSMEM,
        option_bytes: None,
        otp: Some(L5U5_OTP),
        watchdog_freeze: L5U5_FREEZE,
        flash_size_quirk: FlashSizeQuirk::NONE,
        crc: Some(U5_CRC),
    },
    Chip {
        dev_id: 0x482,
        uid: Uid::at(0x0BFA_0700),
        also_reports: &[],
        name: "STM32U575_U585",
        parts: "STM32U575, STM32U585",
        family: "STM32U5",
        reference_manual: "RM0456",
        core: Core::M33,
        core_ap: 0,
        controller: Controller::L5U5(&U575),
        flash_size_reg: U5_SIZE_REG,
        max_flash_kib: 2048,
        flash: U5_FLASH,
        // SRAM1 192 + SRAM2 64 + SRAM3 512 KiB contiguous (CMSIS
        // `stm32u575xx.h:1629-1651`); stlink's 786 KiB runs past SRAM3.
        sram: MemRegion::new(0x2000_0000, 768 * KIB),
        extra_ram: U5_SRAM4,
        system_memory: U5_SYSMEM,
        option_bytes: None,
        otp: Some(L5U5_OTP),
        watchdog_freeze: L5U5_FREEZE,
        flash_size_quirk: FlashSizeQuirk::NONE,
        crc: Some(U5_CRC),
    },
    Chip {
        dev_id: 0x481,
        uid: Uid::at(0x0BFA_0700),
        also_reports: &[],
        name: "STM32U59x_U5Ax",
        parts: "STM32U595, STM32U599, STM32U5A5, STM32U5A9",
        family: "STM32U5",
        reference_manual: "RM0456",
        core: Core::M33,
        core_ap: 0,
        controller: Controller::L5U5(&U59X),
        flash_size_reg: U5_SIZE_REG,
        max_flash_kib: 4096,
        flash: U5_FLASH,
        // SRAM1 768 + SRAM2 64 + SRAM3 832 + SRAM5 832 KiB contiguous (CMSIS
        // `stm32u599xx.h:1859-1884`).
        sram: MemRegion::new(0x2000_0000, 2496 * KIB),
        extra_ram: U5_SRAM4,
        system_memory: U5_SYSMEM,
        option_bytes: None,
        otp: Some(L5U5_OTP),
        watchdog_freeze: L5U5_FREEZE,
        flash_size_quirk: FlashSizeQuirk::NONE,
        crc: Some(U5_CRC),
    },
    Chip {
        dev_id: 0x476,
        uid: Uid::at(0x0BFA_0700),
        also_reports: &[],
        name: "STM32U5Fx_U5Gx",
        parts: "STM32U5F7, STM32U5F9, STM32U5G7, STM32U5G9",
        family: "STM32U5",
        reference_manual: "RM0456",
        core: Core::M33,
        core_ap: 0,
        controller: Controller::L5U5(&U59X),
        flash_size_reg: U5_SIZE_REG,
        max_flash_kib: 4096,
        flash: U5_FLASH,
        // SRAM1 768 + SRAM2 64 + SRAM3 832 + SRAM5 832 + SRAM6 512 KiB contiguous
        // (CMSIS `stm32u5f7xx.h:1840-1867`).
        sram: MemRegion::new(0x2000_0000, 3008 * KIB),
        extra_ram: U5_SRAM4,
        system_memory: U5_SYSMEM,
        option_bytes: None,
        otp: Some(L5U5_OTP),
        watchdog_freeze: L5U5_FREEZE,
        flash_size_quirk: FlashSizeQuirk::NONE,
        crc: Some(U5_CRC),
    },
];

/// Register facts: the chip table's, by the names of ST's headers for the
/// row's die (`Variant::names`).
pub(super) fn register_facts(c: &'static Chip, f: &mut crate::facts::Facts) {
    let Controller::L5U5(v) = c.controller else { return };
    f.table(c, &v.names.table);
    // Pages: ST's HAL `FLASH_PAGE_SIZE` (L5: the dual-bank page, the
    // single-bank one `FLASH_PAGE_SIZE_128_BITS`).
    match c.flash.dual {
        Some(d) if d.sectors[0].1 != c.flash.sectors[0].1 => {
            f.number("FLASH_PAGE_SIZE", d.sectors[0].1 as u64);
            f.number("FLASH_PAGE_SIZE_128_BITS", c.flash.sectors[0].1 as u64);
        }
        _ => {
            f.number("FLASH_PAGE_SIZE", c.flash.sectors[0].1 as u64);
        }
    }
    // The OTP area: `FLASH_OTP_BASE` (stm32u575xx.h:1995).
    if let (Some(otp), Some(name)) = (c.otp, v.names.otp_base) {
        f.number(name, otp.base as u64);
    }
}
