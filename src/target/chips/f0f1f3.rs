//! STM32F0, F1, F3: page-type flash (flash-families.md §1.5, §2.1).

use super::{Chip, Controller, Core, FlashSizeQuirk, FlashSpec, MemRegion};

const KIB: u32 = 1024;

/// DBGMCU_CR: DBG_IWDG_STOP (bit 8) and DBG_WWDG_STOP (bit 9) on F1
/// (RM0008 §31.16.3; st-flash sets the same bits, stlink-usb-protocol.md §9).
const F1_FREEZE: &[(u32, u32)] = &[(0xE004_2004, (1 << 8) | (1 << 9))];

pub static CHIPS: &[Chip] = &[Chip {
    dev_id: 0x410,
    name: "STM32F1xx_MD",
    parts: "STM32F101x8/B, STM32F102x8/B, STM32F103x8/B",
    family: "STM32F1",
    reference_manual: "RM0008",
    core: Core::M3,
    controller: Controller::F0F1F3,
    flash_size_reg: 0x1FFF_F7E0,
    max_flash_kib: 128,
    flash: FlashSpec { base: 0x0800_0000, sectors: &[(1, KIB)], dual: None, write_unit: 2, erased: 0xFF },
    sram: MemRegion::new(0x2000_0000, 20 * KIB),
    extra_ram: &[],
    system_memory: MemRegion::new(0x1FFF_F000, 0x800),
    option_bytes: Some(MemRegion::new(0x1FFF_F800, 16)),
    otp: None,
    watchdog_freeze: F1_FREEZE,
    flash_size_quirk: FlashSizeQuirk::None,
}];
