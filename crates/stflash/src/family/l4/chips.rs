//! The 64-bit double-word controllers: STM32L4, L4+, G0, G4, C0, WB, WL
//! (RM0394, RM0351, RM0432, RM0444, RM0440, RM0490, RM0434, RM0461/RM0453).
//!
//! Geometry per bank mode lives here; which mode is in force (OPTR bits, on
//! G0B1 also the sales type) is read by the driver ([`super::driver`]).
//!
//! Header lines cited as `file:line` are those of ST's CMSIS device headers
//! and HAL drivers at the commits listed in `facts/cmsis.facts` (its
//! `source` lines); `register_facts` below states the values this table
//! takes from them, and `crates/stflash/tests/it/crosscheck.rs` checks them
//! there.

use super::driver;
use crate::chip::{
    Bank2Base, Chip, Controller, Core, CrcPeripheral, DualBank, FlashSizeQuirk, FlashSpec, MemRegion, Uid,
};
use crate::facts::{Facts, Scope};

const KIB: u32 = 1024;
const FLASH_BASE: u32 = 0x0800_0000;

/// Flash-size register of L4, L4+, G0, G4, WB, WL (CMSIS `FLASHSIZE_BASE`:
/// stm32l476xx.h:1311, stm32g071xx.h:733, stm32wb55xx.h, stm32wle5xx.h).
const FLASH_SIZE_REG: u32 = 0x1FFF_75E0;
/// Flash-size register of C0 (stm32c031xx.h `FLASHSIZE_BASE`).
const FLASH_SIZE_REG_C0: u32 = 0x1FFF_75A0;
/// The bits of the flash-size register ST's headers keep (`FLASH_SIZE`):
/// G03x-G06x 7 (stm32g031xx.h:563, stm32g051xx.h:603), G07x/G08x 8
/// (stm32g071xx.h:642), G0Bx/G0Cx 10 (stm32g0b1xx.h:756), WB 11
/// (stm32wb55xx.h:935, stm32wb35xx.h); 16 on the others.
const SIZE_G0_SMALL: FlashSizeQuirk = FlashSizeQuirk::Mask(0x7F);
const SIZE_G07X: FlashSizeQuirk = FlashSizeQuirk::Mask(0xFF);
const SIZE_G0BX: FlashSizeQuirk = FlashSizeQuirk::Mask(0x3FF);
const SIZE_WB: FlashSizeQuirk = FlashSizeQuirk::Mask(0x7FF);

/// One-time-programmable area: 1 KiB at 0x1FFF7000 on every family here
/// (WB/WL: CMSIS `OTP_AREA_BASE`, stm32wb55xx.h:926, stm32wle5xx.h:776; the
/// L4/G0/G4/C0 headers name no OTP: RM0351/RM0440/RM0444 "OTP area" in the
/// flash memory organisation tables, stlink L45x/L496 chip files
/// `otp_base`/`otp_size`).
const OTP: Option<MemRegion> = Some(MemRegion::new(0x1FFF_7000, KIB));

/// DBGMCU_APB1FZR1 (DBGMCU_BASE 0xE0042000 + 0x08): DBG_WWDG_STOP bit 11,
/// DBG_IWDG_STOP bit 12 (stm32l476xx.h:16510-16513 and the L4+/G4
/// headers). stlink writes bits 8/9 of DBGMCU_CR on these parts, which do
/// not stop the watchdogs.
const L4_FREEZE: &[(u32, u32)] = &[(0xE004_2008, (1 << 11) | (1 << 12))];
/// WB/WL: DBGMCU_APB1FZR1 (CPU1) is at offset 0x3C (stm32wb55xx.h and
/// stm32wle5xx.h `DBGMCU_TypeDef`), bits 11/12 as on L4.
const WB_WL_FREEZE: &[(u32, u32)] = &[(0xE004_203C, (1 << 11) | (1 << 12))];
/// G0/C0: the DBG unit sits on APB and needs its clock first
/// (RCC_APBENR1.DBGEN, bit 27, RCC 0x40021000 + 0x3C: stm32g071xx.h:5275,
/// stm32c031xx.h:4259), then DBG_APB_FZ1 (DBG_BASE 0x40015800 + 0x08):
/// DBG_WWDG_STOP bit 11, DBG_IWDG_STOP bit 12 (stm32g071xx.h:8448-8451).
const G0_C0_FREEZE: &[(u32, u32)] = &[(0x4002_103C, 1 << 27), (0x4001_5808, (1 << 11) | (1 << 12))];

/// Uniform 2 KiB or 4 KiB pages, single bank.
const PAGES_2K: FlashSpec =
    FlashSpec { base: FLASH_BASE, sectors: &[(1, 2 * KIB)], dual: None, write_unit: 8, erased: 0xFF };
const PAGES_4K: FlashSpec =
    FlashSpec { base: FLASH_BASE, sectors: &[(1, 4 * KIB)], dual: None, write_unit: 8, erased: 0xFF };

/// Pages of 2 KiB in both modes, bank 2 directly after bank 1 (L47x/L49x,
/// G0B1: ST HAL `FLASH_BANK_SIZE` = `FLASH_SIZE >> 1`,
/// stm32l4xx_hal_flash.h and stm32g0xx_hal_flash.h).
const PAGES_2K_DUAL_HALF: FlashSpec = FlashSpec {
    base: FLASH_BASE,
    sectors: &[(1, 2 * KIB)],
    dual: Some(DualBank { sectors: &[(1, 2 * KIB)], bank2: Bank2Base::Half }),
    write_unit: 8,
    erased: 0xFF,
};

/// L4+: 8 KiB pages in single-bank mode (ST HAL `FLASH_PAGE_SIZE_128_BITS`
/// 0x2000), 4 KiB in dual-bank mode (`FLASH_PAGE_SIZE` 0x1000:
/// stm32l4xx_hal_flash.h:851-853), bank 2 at half the flash; stlink's fixed
/// 4 KiB is wrong in single-bank mode.
const L4PLUS_PAGES: FlashSpec = FlashSpec {
    base: FLASH_BASE,
    sectors: &[(1, 8 * KIB)],
    dual: Some(DualBank { sectors: &[(1, 4 * KIB)], bank2: Bank2Base::Half }),
    write_unit: 8,
    erased: 0xFF,
};

/// G4 category 3: 4 KiB pages single-bank (ST HAL
/// `FLASH_PAGE_SIZE_128_BITS` 0x1000), 2 KiB dual-bank (`FLASH_PAGE_SIZE`
/// 0x800, stm32g4xx_hal_flash.h), bank 2 always at 0x08040000, a hole on
/// 128/256 KiB parts (RM0440 dual-bank organisation; OpenOCD
/// src/flash/nor/stm32l4x.c:2170-2187). ST's HAL computes bank-2 addresses as
/// half the flash, but only for PCROP (stm32g4xx_hal_flash_ex.c); the
/// headers define no bank-2 base, so this stays RM0440's as OpenOCD reads it.
const G4_CAT3_PAGES: FlashSpec = FlashSpec {
    base: FLASH_BASE,
    sectors: &[(1, 4 * KIB)],
    dual: Some(DualBank { sectors: &[(1, 2 * KIB)], bank2: Bank2Base::Fixed(0x0804_0000) }),
    write_unit: 8,
    erased: 0xFF,
};

/// AN2606 Table 226 system memory: 28 KiB on L4, L4+, G07x, G0B1, G4, WB.
const SYSMEM_28K: MemRegion = MemRegion::new(0x1FFF_0000, 0x7000);
/// AN2606: 8 KiB on G03x/G04x and G05x/G06x (stlink says 28 KiB for G05x).
const SYSMEM_G0_SMALL: MemRegion = MemRegion::new(0x1FFF_0000, 0x2000);

/// st-flash's contiguous SRAM at 0x20000000.
const fn sram(kib: u32) -> MemRegion {
    MemRegion::new(0x2000_0000, kib * KIB)
}

/// L4/L4+ SRAM2 at its own address 0x10000000 (CMSIS `SRAM2_BASE`,
/// `SRAM2_SIZE`: stm32l412xx.h, stm32l432xx.h, stm32l476xx.h:1146,
/// stm32l4r5xx.h:1249); it is also aliased right after SRAM1.
const SRAM2_8K: &[MemRegion] = &[MemRegion::new(0x1000_0000, 8 * KIB)];
const SRAM2_16K: &[MemRegion] = &[MemRegion::new(0x1000_0000, 16 * KIB)];
const SRAM2_32K: &[MemRegion] = &[MemRegion::new(0x1000_0000, 32 * KIB)];
const SRAM2_64K: &[MemRegion] = &[MemRegion::new(0x1000_0000, 64 * KIB)];

/// G4 CCM SRAM at 0x10000000 (CMSIS `CCMSRAM_BASE`, `CCMSRAM_SIZE`:
/// stm32g431xx.h, stm32g474xx.h:1152, stm32g491xx.h); also aliased after
/// SRAM2.
const CCM_10K: &[MemRegion] = &[MemRegion::new(0x1000_0000, 10 * KIB)];
const CCM_16K: &[MemRegion] = &[MemRegion::new(0x1000_0000, 16 * KIB)];
const CCM_32K: &[MemRegion] = &[MemRegion::new(0x1000_0000, 32 * KIB)];

/// The CRC peripheral at CRC_BASE 0x40023000 with INIT and POL on every part
/// here (stm32l476xx.h:1239, stm32g071xx.h:696 and their `CRC_TypeDef`). Its
/// CRCEN is bit 12 of RCC_AHB1ENR at 0x40021048 on L4, L4+ and G4
/// (RCC_BASE 0x40021000 + 0x48: stm32l476xx.h:11154, stm32g474xx.h:12333),
/// of RCC_AHBENR at 0x40021038 on G0 and C0 (+0x38), of RCC_AHB1ENR at
/// 0x58000048 on WB and WL (RCC_BASE 0x58000000). Reset clocks: MSI 4 MHz
/// (L4, L4+, WB, WL), HSI16 (G0, G4), HSI48/4 = 12 MHz (C0).
const L4_CRC: CrcPeripheral =
    CrcPeripheral { base: 0x4002_3000, clock_enable: (0x4002_1048, 1 << 12), init: true, pol: true, word_ns: 2000 };
const G4_CRC: CrcPeripheral = CrcPeripheral { word_ns: 500, ..L4_CRC };
const G0_CRC: CrcPeripheral = CrcPeripheral { clock_enable: (0x4002_1038, 1 << 12), word_ns: 500, ..L4_CRC };
const C0_CRC: CrcPeripheral = CrcPeripheral { word_ns: 667, ..G0_CRC };
const WB_WL_CRC: CrcPeripheral = CrcPeripheral { clock_enable: (0x5800_0048, 1 << 12), ..L4_CRC };

const L4: Chip = Chip {
    dev_id: 0,
    uid: Uid::at(0),
    also_reports: &[],
    name: "",
    parts: "",
    family: "STM32L4",
    reference_manual: "RM0394",
    core: Core::M4,
    core_ap: 0,
    controller: Controller::L4(&driver::L4_RM0394),
    flash_size_reg: FLASH_SIZE_REG,
    max_flash_kib: 0,
    flash: PAGES_2K,
    sram: sram(0),
    extra_ram: &[],
    system_memory: SYSMEM_28K,
    // USER/RDP, PCROP1 start/end, WRP1A, WRP1B as value/complement double
    // words (RM0351 "Option bytes organization").
    option_bytes: Some(MemRegion::new(0x1FFF_7800, 0x28)),
    otp: OTP,
    watchdog_freeze: L4_FREEZE,
    flash_size_quirk: FlashSizeQuirk::NONE,
    crc: Some(L4_CRC),
};

/// L4+ (RM0432): option bytes at 0x1FF00000 (stlink L4Rx.chip `option_base`).
const L4_PLUS: Chip = Chip {
    family: "STM32L4+",
    reference_manual: "RM0432",
    controller: Controller::L4(&driver::L4PLUS),
    flash: L4PLUS_PAGES,
    extra_ram: SRAM2_64K,
    option_bytes: Some(MemRegion::new(0x1FF0_0000, 0x28)),
    ..L4
};

/// G4 (RM0440): user option bytes at 0x1FFF7800-0x1FFF782F; stlink's
/// 0x1FFFF800 is the bank-2 option area of dual-bank cat.3 parts (RM0440
/// "Option bytes organization").
const G4: Chip = Chip {
    family: "STM32G4",
    reference_manual: "RM0440",
    controller: Controller::L4(&driver::G4_CAT2),
    option_bytes: Some(MemRegion::new(0x1FFF_7800, 0x30)),
    crc: Some(G4_CRC),
    ..L4
};

/// G0 (RM0444): Cortex-M0+, DBG unit on APB (`DBG_BASE` 0x40015800,
/// stm32g071xx.h), option bytes 0x1FFF7800-0x1FFF787F (RM0444 "Option
/// bytes organization"; stlink option_size 0x80).
const G0: Chip = Chip {
    family: "STM32G0",
    reference_manual: "RM0444",
    core: Core::M0Plus,
    controller: Controller::L4(&driver::G0),
    option_bytes: Some(MemRegion::new(0x1FFF_7800, 0x80)),
    watchdog_freeze: G0_C0_FREEZE,
    crc: Some(G0_CRC),
    ..L4
};

/// C0 (RM0490): as G0, flash-size register at 0x1FFF75A0, 6 KiB system
/// memory (AN2606); 32 KiB when the size register is erased (CMSIS
/// `FLASH_SIZE_DEFAULT`, stm32c031xx.h).
const C0: Chip = Chip {
    family: "STM32C0",
    reference_manual: "RM0490",
    controller: Controller::L4(&driver::C0),
    flash_size_reg: FLASH_SIZE_REG_C0,
    max_flash_kib: 32,
    system_memory: MemRegion::new(0x1FFF_0000, 0x1800),
    crc: Some(C0_CRC),
    ..G0
};

/// U0 (RM0503): DBGMCU_APBFZ1 at 0x40015808 (DBGMCU_BASE 0x40015800, CMSIS
/// stm32u073xx.h:857; DBG_WWDG_STOP bit 11, DBG_IWDG_STOP bit 12,
/// stm32u031xx.h:9604-9607), clocked by RCC_DBGCFGR.DBGEN (bit 0,
/// stm32u031xx.h:5354; RCC at 0x40021000 + 0x50), not by RCC_APBENR1 as on
/// G0/C0. That the freeze bits take writes only with DBGEN set is assumed
/// (OpenOCD's stm32u0x.cfg writes APBFZ1 without it): DBGEN is set first.
const U0_FREEZE: &[(u32, u32)] = &[(0x4002_1050, 1 << 0), (0x4001_5808, (1 << 11) | (1 << 12))];
/// U0 CRC: CRC_BASE 0x40023000 (stm32u073xx.h:905), CRCEN bit 12 of
/// RCC_AHBENR at 0x40021048 (stm32u031xx.h:479 offset 0x48, :5326), INIT
/// and POL (stm32u031xx.h:1598-1603); reset clock MSI 4 MHz (ST's
/// system_stm32u0xx.c `SystemCoreClock = 4000000U`).
const U0_CRC: CrcPeripheral = CrcPeripheral { clock_enable: (0x4002_1048, 1 << 12), word_ns: 2000, ..G0_CRC };

/// U0 (RM0503): Cortex-M0+ on AP0 (probe-rs STM32U0_Series.yaml `ap: 0`),
/// single bank of 2 KiB pages (ST HAL stm32u0xx_hal_flash.h `FLASH_PAGE_SIZE
/// 0x800`, `FLASH_BANK_SIZE = FLASH_SIZE`), double words. No memory-mapped
/// option-byte image is documented in CMSIS or the HAL: the option
/// registers are used.
const U0: Chip = Chip {
    family: "STM32U0",
    reference_manual: "RM0503",
    core: Core::M0Plus,
    controller: Controller::L4(&driver::U0),
    option_bytes: None,
    watchdog_freeze: U0_FREEZE,
    crc: Some(U0_CRC),
    ..L4
};

/// WB/WL: own register block (driver), DBGMCU freeze register at offset 0x3C.
const WB_WL: Chip = Chip { watchdog_freeze: WB_WL_FREEZE, crc: Some(WB_WL_CRC), ..L4 };

/// WB (RM0434): 4 KiB pages, single bank; the top of flash from SFR.SFSA
/// belongs to CPU2 (wireless stack, FUS) and is never touched. Option bytes
/// at 0x1FFF8000 (stlink WBx0_WBx5.chip option_size 0x80). The contiguous
/// SRAM is SRAM1 only: SRAM2a/SRAM2b (0x20030000, `SRAM2A_BASE`) are shared
/// with CPU2, and the value-line WB50 has 64 KiB of SRAM1 where the WB55 has
/// 192 KiB (`SRAM1_SIZE`: stm32wb50xx.h 0x10000, stm32wb55xx.h 0x30000),
/// with nothing mapped behind it up to SRAM2a.
const WB: Chip = Chip {
    family: "STM32WB",
    reference_manual: "RM0434",
    controller: Controller::L4(&driver::WB),
    flash: PAGES_4K,
    flash_size_quirk: SIZE_WB,
    option_bytes: Some(MemRegion::new(0x1FFF_8000, 0x80)),
    ..WB_WL
};

pub static CHIPS: &[Chip] = &[
    Chip { dev_id: 0x443, uid: Uid::at(0x1FFF_7550), name: "STM32C011xx", parts: "STM32C011", sram: sram(6), ..C0 },
    Chip {
        dev_id: 0x453,
        uid: Uid::at(0x1FFF_7550),
        name: "STM32C031xx",
        parts: "STM32C031",
        sram: sram(12),
        controller: Controller::L4(&driver::C031),
        ..C0
    },
    // C051, C071, C091/C092: the C031 controller with the die's field widths
    // (CMSIS FLASH_CR_PNB 7/6/7 bits, stm32c051xx.h:2426, stm32c071xx.h:2625,
    // stm32c091xx.h:2495; WRP1A_STRT 5/6/7 bits, stm32c051xx.h:2539,
    // stm32c071xx.h:2738, stm32c091xx.h:2608: `driver::C051`, `C071`, `C09X`),
    // the same register block, RCC, DBGMCU and CRC addresses
    // (stm32c051xx.h:540-584, stm32c071xx.h:597-641, stm32c091xx.h:547-595),
    // flash-size register 0x1FFF75A0 and UID 0x1FFF7550 as on C031. System
    // memory: AN2606 Table
    // 226. That the option-byte image is at 0x1FFF7800 as on C031 and the OTP
    // at 0x1FFF7000 are assumed (not in CMSIS).
    Chip {
        dev_id: 0x44C,
        uid: Uid::at(0x1FFF_7550),
        name: "STM32C051xx",
        parts: "STM32C051",
        controller: Controller::L4(&driver::C051),
        // FLASH_SIZE_DEFAULT 0x10000, SRAM_SIZE_MAX 0x3000 (stm32c051xx.h:506-508).
        max_flash_kib: 64,
        sram: sram(12),
        system_memory: MemRegion::new(0x1FFF_0000, 0x3000),
        ..C0
    },
    Chip {
        dev_id: 0x493,
        uid: Uid::at(0x1FFF_7550),
        name: "STM32C071xx",
        parts: "STM32C071",
        controller: Controller::L4(&driver::C071),
        // FLASH_SIZE_DEFAULT 0x20000, SRAM_SIZE_MAX 0x6000 (stm32c071xx.h:559-561).
        max_flash_kib: 128,
        sram: sram(24),
        system_memory: MemRegion::new(0x1FFF_0000, 0x7000),
        ..C0
    },
    // One die for C091 (36 KiB SRAM, stm32c091xx.h:510) and C092 (30 KiB,
    // FDCAN, stm32c092xx.h:570), told apart by no register known here: the
    // smaller SRAM is the one both have. C092's OPTR.FDCAN_BL_CK (bits 31:30,
    // stm32c092xx.h:3237) is not named, so those bits are kept as read.
    Chip {
        dev_id: 0x44D,
        uid: Uid::at(0x1FFF_7550),
        name: "STM32C09xxx",
        parts: "STM32C091, STM32C092",
        controller: Controller::L4(&driver::C09X),
        max_flash_kib: 256,
        sram: sram(30),
        system_memory: MemRegion::new(0x1FFF_0000, 0x4000),
        ..C0
    },
    // U0 (RM0503). Flash-size register and UID per die (CMSIS
    // stm32u031xx.h:706-707, stm32u073xx.h:775-776); SRAM1 + SRAM2
    // contiguous (stm32u031xx.h:722-724: 8 + 4 KiB; stm32u073xx.h:791-793:
    // 32 + 8 KiB); system memory from AN2606 Table 226 (CMSIS gives 26 KiB
    // for both dies, too much for the U031). OTP 1 KiB at 0x1FFF6800
    // (stm32u073xx.h:804-805). The U031 header names the same OTP address
    // (stm32u031xx.h:735), inside what AN2606 calls the U073's system memory
    // and far from the U031's other information-block items at 0x1FFF3xxx:
    // not offered on the U031 until checked on a chip.
    Chip {
        dev_id: 0x459,
        uid: Uid::at(0x1FFF_3E50),
        name: "STM32U031xx",
        parts: "STM32U031",
        flash_size_reg: 0x1FFF_3EA0,
        max_flash_kib: 64,
        sram: sram(12),
        system_memory: MemRegion::new(0x1FFF_0000, 0x3800),
        otp: None,
        ..U0
    },
    Chip {
        dev_id: 0x489,
        uid: Uid::at(0x1FFF_6E50),
        name: "STM32U073xx_U083xx",
        parts: "STM32U073, STM32U083",
        flash_size_reg: 0x1FFF_6EA0,
        max_flash_kib: 256,
        sram: sram(40),
        system_memory: MemRegion::new(0x1FFF_0000, 0x6800),
        otp: Some(MemRegion::new(0x1FFF_6800, KIB)),
        ..U0
    },
    // SRAM: CMSIS `SRAM_SIZE_MAX` (stm32g031xx.h, stm32g051xx.h:601,
    // stm32g071xx.h:640, stm32g0b1xx.h:754): 8, 16, 32, 128 KiB. The
    // datasheets' 18/36/144 KiB count the SRAM parity bits' area, usable
    // only with parity checking off; the headers' sizes are valid either way.
    Chip {
        dev_id: 0x466,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32G03x_G04x",
        parts: "STM32G030, STM32G031, STM32G041",
        max_flash_kib: 64,
        sram: sram(8),
        system_memory: SYSMEM_G0_SMALL,
        flash_size_quirk: SIZE_G0_SMALL,
        controller: Controller::L4(&driver::G03X_G06X),
        ..G0
    },
    Chip {
        dev_id: 0x456,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32G05x_G06x",
        parts: "STM32G050, STM32G051, STM32G061",
        max_flash_kib: 64,
        sram: sram(16),
        system_memory: SYSMEM_G0_SMALL,
        flash_size_quirk: SIZE_G0_SMALL,
        controller: Controller::L4(&driver::G03X_G06X),
        ..G0
    },
    Chip {
        dev_id: 0x460,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32G07x_G08x",
        parts: "STM32G070, STM32G071, STM32G081",
        max_flash_kib: 128,
        sram: sram(32),
        flash_size_quirk: SIZE_G07X,
        ..G0
    },
    // Two banks as ST's HAL counts them from the sales type (driver).
    // AN2606 lists a second system-memory range 0x1FFF8000-0x1FFFEFFF; the
    // table has one region, the first.
    Chip {
        dev_id: 0x467,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32G0Bx_G0Cx",
        parts: "STM32G0B0, STM32G0B1, STM32G0C1",
        max_flash_kib: 512,
        flash: PAGES_2K_DUAL_HALF,
        sram: sram(128),
        flash_size_quirk: SIZE_G0BX,
        controller: Controller::L4(&driver::G0B1),
        ..G0
    },
    // G4 SRAM: SRAM1, SRAM2 and the CCM SRAM alias that follows them
    // (`SRAM1_SIZE_MAX` + `SRAM2_SIZE` + `CCMSRAM_SIZE`).
    Chip {
        dev_id: 0x468,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32G43x_G44x",
        parts: "STM32G431, STM32G441",
        max_flash_kib: 128,
        sram: sram(32),
        extra_ram: CCM_10K,
        ..G4
    },
    Chip {
        dev_id: 0x469,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32G47x_G48x",
        parts: "STM32G471, STM32G473, STM32G474, STM32G483, STM32G484",
        max_flash_kib: 512,
        flash: G4_CAT3_PAGES,
        sram: sram(128),
        extra_ram: CCM_32K,
        controller: Controller::L4(&driver::G4_CAT3),
        ..G4
    },
    // Single bank, 2 KiB pages: stlink's `dualbank` flag and DBANK test are
    // wrong for this category (ST HAL stm32g4xx_hal_flash.h:880-887).
    Chip {
        dev_id: 0x479,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32G49x_G4Ax",
        parts: "STM32G491, STM32G4A1",
        max_flash_kib: 512,
        sram: sram(112),
        extra_ram: CCM_16K,
        controller: Controller::L4(&driver::G4_CAT4),
        ..G4
    },
    Chip {
        dev_id: 0x464,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32L41x_L42x",
        parts: "STM32L412, STM32L422",
        max_flash_kib: 128,
        sram: sram(40),
        extra_ram: SRAM2_8K,
        controller: Controller::L4(&driver::L41X),
        ..L4
    },
    // stlink names this row "STM32L41x_L42x" and cites RM0392.
    Chip {
        dev_id: 0x435,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32L43x_L44x",
        parts: "STM32L431, STM32L432, STM32L433, STM32L442, STM32L443",
        max_flash_kib: 256,
        sram: sram(48),
        extra_ram: SRAM2_16K,
        controller: Controller::L4(&driver::L43X),
        ..L4
    },
    Chip {
        dev_id: 0x462,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32L45x_L46x",
        parts: "STM32L451, STM32L452, STM32L462",
        max_flash_kib: 512,
        sram: sram(128),
        extra_ram: SRAM2_32K,
        ..L4
    },
    // 1 MiB parts always dual bank, 256/512 KiB parts dual when
    // OPTR.DUALBANK (bit 21) is set; 2 KiB pages either way.
    Chip {
        dev_id: 0x415,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32L47x_L48x",
        parts: "STM32L471, STM32L475, STM32L476, STM32L486",
        reference_manual: "RM0351",
        max_flash_kib: 1024,
        flash: PAGES_2K_DUAL_HALF,
        sram: sram(96),
        extra_ram: SRAM2_32K,
        controller: Controller::L4(&driver::L47X),
        ..L4
    },
    Chip {
        dev_id: 0x461,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32L496x_L4A6x",
        parts: "STM32L496, STM32L4A6",
        reference_manual: "RM0351",
        max_flash_kib: 1024,
        flash: PAGES_2K_DUAL_HALF,
        sram: sram(320),
        extra_ram: SRAM2_64K,
        controller: Controller::L4(&driver::L49X),
        ..L4
    },
    // SRAM 320 KiB on L4P/L4Q (SRAM1 + SRAM2 + SRAM3), not stlink's 640 KiB.
    Chip {
        dev_id: 0x471,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32L4Px_L4Qx",
        parts: "STM32L4P5, STM32L4Q5",
        max_flash_kib: 1024,
        sram: sram(320),
        controller: Controller::L4(&driver::L4P5),
        ..L4_PLUS
    },
    Chip {
        dev_id: 0x470,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32L4Rx",
        parts: "STM32L4R5, STM32L4R7, STM32L4R9, STM32L4S5, STM32L4S7, STM32L4S9",
        max_flash_kib: 2048,
        sram: sram(640),
        ..L4_PLUS
    },
    Chip {
        dev_id: 0x495,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32WBx0_WBx5",
        parts: "STM32WB50, STM32WB55, STM32WB5M",
        max_flash_kib: 1024,
        sram: sram(64),
        ..WB
    },
    // WB30/WB35 have a DEV_ID of their own (OpenOCD
    // src/flash/nor/stm32l4x.h:122 `DEVID_STM32WB3XX` 0x496) and up to 512
    // KiB of flash; PNB and WRP are 7 bits wide on the WB35
    // (stm32wb35xx.h:4066), SRAM1 32 KiB (`SRAM1_SIZE`).
    Chip {
        dev_id: 0x496,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32WB3x",
        parts: "STM32WB30, STM32WB35",
        max_flash_kib: 512,
        sram: sram(32),
        controller: Controller::L4(&driver::WB3X),
        ..WB
    },
    // Single bank (stlink's `dualbank` flag and RM id 0033 are wrong);
    // AN2606 system memory 16 KiB (stlink 28 KiB). SRAM1 + SRAM2
    // (`SRAM1_SIZE`, `SRAM2_SIZE`: stm32wle5xx.h).
    Chip {
        dev_id: 0x497,
        uid: Uid::at(0x1FFF_7590),
        name: "STM32WLEx",
        parts: "STM32WLE4, STM32WLE5, STM32WL54, STM32WL55",
        family: "STM32WL",
        reference_manual: "RM0461 (RM0453 for the dual-core STM32WL54/WL55)",
        controller: Controller::L4(&driver::WL),
        max_flash_kib: 256,
        sram: sram(64),
        system_memory: MemRegion::new(0x1FFF_0000, 0x4000),
        option_bytes: Some(MemRegion::new(0x1FFF_7800, 0x80)),
        ..WB_WL
    },
];

/// U0 SRAM2 (`BKPSRAM2_BASE`), at the end of the row's contiguous SRAM: 4
/// KiB on the U031, 8 on the U073/U083 (the headers give no SRAM2 size).
const U0_SRAM2: &[(u16, u32)] = &[(0x459, 4 * KIB), (0x489, 8 * KIB)];

/// The facts of a row of this table, by the names of ST's headers for the
/// row's die (`driver::Variant::names`).
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    let Controller::L4(v) = c.controller else { return };
    let n = v.names;
    f.table(c, &n.table);
    // Pages: ST's HAL `FLASH_PAGE_SIZE` is the dual-bank page where a part
    // has two sizes, `FLASH_PAGE_SIZE_128_BITS` the single-bank one.
    match c.flash.dual {
        Some(d) if d.sectors[0].1 != c.flash.sectors[0].1 => {
            f.number("FLASH_PAGE_SIZE", d.sectors[0].1 as u64);
            f.number("FLASH_PAGE_SIZE_128_BITS", c.flash.sectors[0].1 as u64);
        }
        _ => {
            f.number("FLASH_PAGE_SIZE", c.flash.sectors[0].1 as u64);
        }
    }
    // SRAM: which of ST's regions the row's contiguous SRAM spans.
    let sram2 = U0_SRAM2.iter().find(|&&(id, _)| id == c.dev_id).map_or(0, |&(_, size)| size);
    if sram2 != 0 {
        f.number("BKPSRAM2_BASE", (c.sram.base + c.sram.size - sram2) as u64);
    }
    f.scope(n.sram_part.map_or(Scope::Die, Scope::Part));
    f.number(n.sram, (c.sram.size - sram2) as u64).scope(Scope::Die);
    for r in c.extra_ram {
        f.number(format!("{}_BASE", n.extra_ram), r.base as u64);
        f.number(format!("{}_SIZE", n.extra_ram), r.size as u64);
    }
    if let (Some(otp), Some(name)) = (c.otp, n.otp_base) {
        f.number(name, otp.base as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip::find;

    #[test]
    fn every_st_flash_dev_id_of_these_families_is_present() {
        for id in [
            0x443, 0x453, 0x466, 0x456, 0x460, 0x467, 0x468, 0x469, 0x479, 0x464, 0x435, 0x462, 0x415, 0x461, 0x471,
            0x470, 0x495, 0x497,
        ] {
            let c = find(id).unwrap_or_else(|| panic!("DEV_ID 0x{id:03X} missing"));
            assert_eq!(c.flash.write_unit, 8, "{}", c.name);
            assert!(c.sram.size > 0 && c.max_flash_kib > 0, "{}", c.name);
        }
    }

    #[test]
    fn corrections_against_st_flash_are_in_the_table() {
        // G4 option bytes at 0x1FFF7800, not 0x1FFFF800 (stm32flash dev_table.c and
        // probe-rs STM32G4_Series.yaml; stlink's 0x1FFFF800 is bank 2's area).
        assert_eq!(find(0x469).unwrap().option_bytes.unwrap().base, 0x1FFF_7800);
        // G4 cat.3 bank 2 always at 0x08040000 (OpenOCD
        // src/flash/nor/stm32l4x.c:2170-2187).
        assert_eq!(find(0x469).unwrap().flash.dual.unwrap().bank2, Bank2Base::Fixed(0x0804_0000));
        // G49x and WL are single bank (ST's HAL
        // stm32g4xx_hal_flash.h:871-887; embassy stm32-data-generated WL chips).
        assert!(find(0x479).unwrap().flash.dual.is_none());
        assert!(find(0x497).unwrap().flash.dual.is_none());
        // L4+ single-bank pages are 8 KiB, dual-bank 4 KiB (embassy
        // stm32-data-generated chips 0x470/0x471, cfg0/cfg1).
        let l4r = find(0x470).unwrap();
        assert_eq!((l4r.flash.sectors[0].1, l4r.flash.dual.unwrap().sectors[0].1), (8192, 4096));
        // L4P SRAM 320 KiB (embassy stm32-data-generated chips; stlink: 640 KiB);
        // L43x name (stlink's L43x_L44x.chip says STM32L41x_L42x).
        assert_eq!(find(0x471).unwrap().sram.size, 320 * 1024);
        assert_eq!(find(0x435).unwrap().name, "STM32L43x_L44x");
        assert_eq!(find(0x497).unwrap().system_memory.size, 16 * 1024);
    }

    #[test]
    fn part_numbers_find_their_rows() {
        use crate::chip::find_by_name;
        for (name, id) in [("stm32l476rg", 0x415), ("L4R5ZI", 0x470), ("g0b1re", 0x467), ("STM32G474RE", 0x469)] {
            assert_eq!(find_by_name(name).map(|c| c.dev_id), Some(id), "{name}");
        }
        assert_eq!(find_by_name("wb55rg").map(|c| c.dev_id), Some(0x495));
        assert_eq!(find_by_name("wle5jc").map(|c| c.dev_id), Some(0x497));
        assert_eq!(find_by_name("c031c6").map(|c| c.dev_id), Some(0x453));
        for (name, id) in
            [("c051c8", 0x44C), ("c071rb", 0x493), ("c092rc", 0x44D), ("u031k8", 0x459), ("u083rc", 0x489)]
        {
            assert_eq!(find_by_name(name).map(|c| c.dev_id), Some(id), "{name}");
        }
    }

    #[test]
    fn u0_and_the_new_c0_dies_are_rows_of_their_variants() {
        for (id, v) in [(0x44C, &driver::C051), (0x493, &driver::C071), (0x44D, &driver::C09X)] {
            let c = find(id).unwrap();
            assert!(c.controller == Controller::L4(v) && c.flash_size_reg == FLASH_SIZE_REG_C0, "{}", c.name);
        }
        for id in [0x459, 0x489] {
            let c = find(id).unwrap();
            assert!(c.controller == Controller::L4(&driver::U0) && c.option_bytes.is_none(), "{}", c.name);
            assert_eq!((c.core, c.core_ap, c.flash.write_unit), (Core::M0Plus, 0, 8));
            assert_eq!(c.watchdog_freeze[0], (0x4002_1050, 1), "RCC_DBGCFGR.DBGEN first");
        }
        assert!(find(0x459).unwrap().otp.is_none(), "U031 OTP address unconfirmed");
    }
}
