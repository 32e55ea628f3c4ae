//! STM32H5 (the reference manuals' memory maps; RM0481 §7).

use super::driver;
use crate::chip::{
    Bank2Base, Chip, Controller, Core, CrcPeripheral, DualBank, FlashSizeQuirk, FlashSpec, MemRegion, Uid,
};

const KIB: u32 = 1024;

/// H5: always two banks of 8 KiB sectors, bank 2 at half the flash; 128-bit
/// flash words (CMSIS `stm32h563xx.h`).
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

// The rows keep the layout the H563 row had alone (one unindented row per
// chip), so that edits of it stay small.
#[rustfmt::skip]
pub static CHIPS: &[Chip] = &[Chip {
    dev_id: 0x484,
    uid: Uid::at(0x08FF_F800),
    also_reports: &[],
    name: "STM32H5xx",
    parts: "STM32H562, STM32H563, STM32H573",
    family: "STM32H5",
    reference_manual: "RM0481",
    core: Core::M33,
    // AP0 reaches only the DBGMCU (probe-rs PR #1575, tested on a
    // NUCLEO-H563ZI: "the core is on AP1, not AP0"; pyswd PR #27).
    core_ap: 1,
    controller: Controller::H5(&driver::H56X),
    flash_size_reg: 0x08FF_F80C,
    max_flash_kib: 2048,
    flash: H5_FLASH,
    // SRAM1 256 + SRAM2 64 + SRAM3 320 KiB contiguous (CMSIS `stm32h563xx.h:1742-1751`).
    sram: MemRegion::new(0x2000_0000, 640 * KIB),
    extra_ram: &[],
    // AN2606: 0x0BF97000-0x0BF9FFFF; stlink's 0x0BF80000 is wrong
    // (stlink v1.8.0's behaviour; stlink v1.8.0 config/chips).
    system_memory: MemRegion::new(0x0BF9_7000, 36 * KIB),
    option_bytes: None,
    // 2 KiB OTP at 0x08FFF000 (CMSIS `stm32h563xx.h:2110-2111`).
    otp: Some(MemRegion::new(0x08FF_F000, 2 * KIB)),
    watchdog_freeze: H5_FREEZE,
    flash_size_quirk: FlashSizeQuirk::NONE,
    crc: Some(H5_CRC),
},
// H503 (RM0492): 128 KiB only, two banks of 8 × 8 KiB, bank 2 at
// 0x08010000 (CMSIS stm32h503xx.h:5334-5340: FLASH_SIZE_DEFAULT 0x20000,
// FLASH_SECTOR_NB 8 per bank, FLASH_BANK_SIZE = FLASH_SIZE >> 1); SRAM1 16 +
// SRAM2 16 KiB contiguous (:1156-1163); flash-size register, UID, OTP,
// DBGMCU as on H563 (:1265-1272); system memory: AN2606 Table 226
// (0x0BF87000-0x0BF8FFFF). The core is on AP1 as on every H5 (probe-rs
// STM32H5_Series.yaml `ap: 1` for the H503).
Chip {
    dev_id: 0x474,
    uid: Uid::at(0x08FF_F800),
    also_reports: &[],
    name: "STM32H503xx",
    parts: "STM32H503",
    family: "STM32H5",
    reference_manual: "RM0492",
    core: Core::M33,
    core_ap: 1,
    controller: Controller::H5(&driver::H503),
    flash_size_reg: 0x08FF_F80C,
    max_flash_kib: 128,
    flash: H5_FLASH,
    sram: MemRegion::new(0x2000_0000, 32 * KIB),
    extra_ram: &[],
    system_memory: MemRegion::new(0x0BF8_7000, 36 * KIB),
    option_bytes: None,
    otp: Some(MemRegion::new(0x08FF_F000, 2 * KIB)),
    watchdog_freeze: H5_FREEZE,
    flash_size_quirk: FlashSizeQuirk::NONE,
    // CRC_BASE_NS 0x40023000, RCC_AHB1ENR.CRCEN as on H563
    // (stm32h503xx.h:1207-1208, 8834).
    crc: Some(H5_CRC),
},
// H523/H533 (RM0481): 256 or 512 KiB in two banks of up to 32 × 8 KiB,
// bank 2 at half (stm32h523xx.h:7065-7071); SRAM1 128 + SRAM2 80 + SRAM3 64
// KiB contiguous (:1466-1475); flash-size register, UID, OTP, DBGMCU, CRC
// as on H563 (:1545, 1768-1775, 13145); system memory: AN2606 Table 226.
Chip {
    dev_id: 0x478,
    uid: Uid::at(0x08FF_F800),
    also_reports: &[],
    name: "STM32H523_H533",
    parts: "STM32H523, STM32H533",
    family: "STM32H5",
    reference_manual: "RM0481",
    core: Core::M33,
    core_ap: 1,
    controller: Controller::H5(&driver::H52X),
    flash_size_reg: 0x08FF_F80C,
    max_flash_kib: 512,
    flash: H5_FLASH,
    sram: MemRegion::new(0x2000_0000, 272 * KIB),
    extra_ram: &[],
    system_memory: MemRegion::new(0x0BF9_7000, 36 * KIB),
    option_bytes: None,
    otp: Some(MemRegion::new(0x08FF_F000, 2 * KIB)),
    watchdog_freeze: H5_FREEZE,
    flash_size_quirk: FlashSizeQuirk::NONE,
    crc: Some(H5_CRC),
},
];

/// The facts of a row of this table, by the names of ST's headers
/// (stm32h563xx.h, stm32h523xx.h, stm32h503xx.h).
pub(super) fn register_facts(c: &'static Chip, f: &mut crate::facts::Facts) {
    use crate::facts::TableNames;
    f.table(
        c,
        &TableNames {
            flash_base: "FLASH_BASE_NS",
            flash_size_mask: "FLASH_SIZE.mask",
            idcode: "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE",
            crc_base: "CRC_BASE_NS",
            crc_clock: ("RCC_BASE_NS+RCC_TypeDef.AHB1ENR", "RCC_AHB1ENR_CRCEN"),
            freeze: &[(
                "DBGMCU_BASE+DBGMCU_TypeDef.APB1FZR1",
                "DBGMCU_APB1FZR1_DBG_WWDG_STOP|DBGMCU_APB1FZR1_DBG_IWDG_STOP",
            )],
        },
    );
    f.number("FLASH_SECTOR_SIZE", c.flash.sectors[0].1 as u64);
    // Sectors per bank of the largest part (`FLASH_SECTOR_NB`).
    f.number("FLASH_SECTOR_NB", (c.max_flash_kib * 1024 / 2 / c.flash.sectors[0].1) as u64);
    if let Some(otp) = c.otp {
        f.number("FLASH_OTP_BASE", otp.base as u64).number("FLASH_OTP_SIZE", otp.size as u64);
    }
}
