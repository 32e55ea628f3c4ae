//! STM32L5 and STM32U5: TrustZone controllers, driven through the non-secure
//! registers (flash-families.md §1.5, §2.6).

use std::time::Duration;

use super::driver::{DualBankRule, Variant};
use super::options;
use crate::chip::{
    Bank2Base, Chip, Controller, Core, CrcPeripheral, DualBank, FlashSizeQuirk, FlashSpec, MemRegion, Uid,
};

const KIB: u32 = 1024;

/// L5: 4 KiB pages in single-bank mode, 2 KiB pages per bank in dual-bank mode
/// (OPTR.DBANK, or DB256K on 256 KiB parts); bank 2 at half the flash; 64-bit
/// double-word programming (flash-families.md §2.6; [OCD] stm32l4x.c:2212-2222).
const L5_FLASH: FlashSpec = FlashSpec {
    base: 0x0800_0000,
    sectors: &[(1, 4 * KIB)],
    dual: Some(DualBank { sectors: &[(1, 2 * KIB)], bank2: Bank2Base::Half }),
    write_unit: 8,
    erased: 0xFF,
};

/// U5: 8 KiB pages in both modes; quad-word (16-byte) programming; bank 2 at
/// half the flash. For U5F/U5G the sheet leaves the 2 MiB bank-2 base open
/// (EMB-C: 0x08200000; flash-families.md §6 row 34, §7 question 5); ST's device
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
/// most U5 files; flash-families.md §6 row 26).
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

static L5: Variant = Variant {
    name: "STM32L5",
    dual_bank: DualBankRule::L5,
    needs_range0: true,
    // Typical page erase (DS12736 [assumed typical]).
    page_erase: Duration::from_millis(22),
    optr: &options::OPTR_L5,
    wrp: &options::WRP_L5,
    wrp2_in_single_bank: true,
};
/// U5 dies; WRP page fields are as wide as PNB on the die (CMSIS per part:
/// U575 7 bits, U535/U545 5, U59x/U5Ax and U5F/U5G 8).
static U575: Variant = Variant {
    name: "STM32U5",
    dual_bank: DualBankRule::U5,
    needs_range0: false,
    // Typical page erase (DS13737 [assumed typical]).
    page_erase: Duration::from_micros(1500),
    optr: &options::OPTR_U5,
    wrp: &options::WRP_U5_7,
    wrp2_in_single_bank: false,
};
static U535: Variant = Variant { wrp: &options::WRP_U5_5, ..U575 };
static U59X: Variant = Variant { wrp: &options::WRP_U5_8, ..U575 };

pub static CHIPS: &[Chip] = &[
    Chip {
        dev_id: 0x472,
        uid: Uid::at(0x0BFA_0590),
        also_reports: &[],
        // st-flash's name; the stlink file is L5x5xx.chip although the parts
        // are L552/L562 (flash-families.md §1.6 item 12).
        name: "STM32L5x2xx",
        parts: "STM32L552, STM32L562",
        family: "STM32L5",
        reference_manual: "RM0438",
        core: Core::M33,
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
        flash_size_quirk: FlashSizeQuirk::NONE,
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

/// Register facts (to be written).
pub(super) fn register_facts(_c: &'static crate::chip::Chip, _f: &mut crate::facts::Facts) {}
