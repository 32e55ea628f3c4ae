//! STM32H5 (flash-families.md §1.5, §2.7).

use crate::chip::{
    Bank2Base, Chip, Controller, Core, CrcPeripheral, DualBank, FlashSizeQuirk, FlashSpec, MemRegion, Uid,
};

const KIB: u32 = 1024;

/// H5: always two banks of 8 KiB sectors, bank 2 at half the flash; 128-bit
/// flash words (flash-families.md §2.7; CMSIS `stm32h563xx.h`).
const H5_FLASH: FlashSpec = FlashSpec {
    base: 0x0800_0000,
    sectors: &[(1, 8 * KIB)],
    dual: Some(DualBank { sectors: &[(1, 8 * KIB)], bank2: Bank2Base::Half }),
    write_unit: 16,
    erased: 0xFF,
};

/// DBGMCU_APB1FZR1 (DBGMCU + 0x08): DBG_WWDG_STOP bit 11, DBG_IWDG_STOP bit
/// 12; DBGMCU at 0x44024000 (CMSIS `stm32h563xx.h:2104, 5193-5198`).
const H5_FREEZE: &[(u32, u32)] = &[(0x4402_4008, (1 << 11) | (1 << 12))];

/// CRC peripheral, non-secure alias (CRC_BASE_NS = AHB1PERIPH_BASE_NS +
/// 0x3000 = 0x40023000), INIT and POL, CRCEN bit 12 of RCC_AHB1ENR at
/// 0x44020C00 + 0x88 (stm32h563xx.h). Reset clock: HSI 32 MHz.
const H5_CRC: CrcPeripheral =
    CrcPeripheral { base: 0x4002_3000, clock_enable: (0x4402_0C88, 1 << 12), init: true, pol: true, word_ns: 250 };

pub static CHIPS: &[Chip] = &[Chip {
    dev_id: 0x484,
    uid: Uid::at(0x08FF_F800),
    also_reports: &[],
    name: "STM32H5xx",
    parts: "STM32H562, STM32H563, STM32H573",
    family: "STM32H5",
    reference_manual: "RM0481",
    core: Core::M33,
    controller: Controller::H5,
    flash_size_reg: 0x08FF_F80C,
    max_flash_kib: 2048,
    flash: H5_FLASH,
    // SRAM1 256 + SRAM2 64 + SRAM3 320 KiB contiguous (CMSIS `stm32h563xx.h:1742-1751`).
    sram: MemRegion::new(0x2000_0000, 640 * KIB),
    extra_ram: &[],
    // AN2606: 0x0BF97000-0x0BF9FFFF; stlink's 0x0BF80000 is wrong
    // (flash-families.md §1.6 item 2, §6 row 25).
    system_memory: MemRegion::new(0x0BF9_7000, 36 * KIB),
    option_bytes: None,
    // 2 KiB OTP at 0x08FFF000 (CMSIS `stm32h563xx.h:2110-2111`).
    otp: Some(MemRegion::new(0x08FF_F000, 2 * KIB)),
    watchdog_freeze: H5_FREEZE,
    flash_size_quirk: FlashSizeQuirk::NONE,
    crc: Some(H5_CRC),
}];

/// Register facts (to be written).
pub(super) fn register_facts(_c: &'static crate::chip::Chip, _f: &mut crate::facts::Facts) {}
