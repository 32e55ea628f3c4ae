//! STM32H7R3/S3/R7/S7 (DEV_ID 0x485, RM0477): ST's CMSIS device headers
//! cmsis-device-h7rs v1.2.1 (the four headers have the same FLASH fields;
//! lines are stm32h7r3xx.h's), AN2606 Table 226.

use crate::chip::{Chip, Controller, Core, CrcPeripheral, FlashSizeQuirk, FlashSpec, MemRegion, Uid};

const KIB: u32 = 1024;

/// DBGMCU_APB1FZR (0x5C00103C) bit 11 stops WWDG, DBGMCU_APB4FZR
/// (0x5C001054) bit 18 stops IWDG (DBGMCU_BASE 0x5C001000, stm32h7r3xx.h:2158,
/// 4122, 4168); not the other H7s' APB3FZ1.
const FREEZE: &[(u32, u32)] = &[(0x5C00_103C, 1 << 11), (0x5C00_1054, 1 << 18)];

pub static CHIPS: &[Chip] = &[Chip {
    dev_id: 0x485,
    // UID_BASE (stm32h7r3xx.h:2185).
    uid: Uid::at(0x08FF_F800),
    also_reports: &[],
    name: "STM32H7Rx_H7Sx",
    parts: "STM32H7R3, STM32H7S3, STM32H7R7, STM32H7S7",
    family: "STM32H7R/S",
    reference_manual: "RM0477",
    core: Core::M7,
    // AP0 is a memory port of its own (OpenOCD tcl/target/stm32h7rsx.cfg:50-51:
    // `ap0 mem_ap -ap-num 0`, `cpu0 cortex_m -ap-num 1`; probe-rs
    // STM32H7RS_Series.yaml `ap: 1`).
    core_ap: 1,
    controller: Controller::H7rs,
    // OpenOCD's fsize_addr (src/flash/nor/stm32h7x.c:301). CMSIS names the
    // word PACKAGE_BASE (stm32h7r3xx.h:2188) and the LL reads the package
    // from its upper half, so the size in the lower half is assumed; every
    // part has 64 KiB (FLASH_SIZE 0x10000, stm32h7r3xx.h:1967), the value
    // used when the register reads 0 or 0xFFFF.
    flash_size_reg: 0x08FF_F80C,
    max_flash_kib: 64,
    // One bank of 8 × 8 KiB sectors, 128-bit flash words (ST HAL
    // stm32h7rsxx_hal_flash.h `FLASH_SECTOR_NB 8`, `FLASH_SECTOR_SIZE
    // 0x2000`, `FLASH_TYPEPROGRAM_QUADWORD`).
    flash: FlashSpec { base: 0x0800_0000, sectors: &[(1, 8 * KIB)], dual: None, write_unit: 16, erased: 0xFF },
    // DTCM at 0x20000000: 64 KiB at least whatever OBW2SR.DTCM_AXI_SHARE says.
    sram: MemRegion::new(0x2000_0000, 64 * KIB),
    // ITCM (64 KiB at least), AXI SRAM2 (128 KiB, never shared with the
    // TCMs), AHB SRAM1/2 (2 × 16 KiB), backup SRAM (4 KiB): CMSIS
    // stm32h7s7xx.h:2135-2168. AXI SRAM1/3/4 shrink with the TCM and ECC
    // options and are left out.
    extra_ram: &[
        MemRegion::new(0x0000_0000, 64 * KIB),
        MemRegion::new(0x2402_0000, 128 * KIB),
        MemRegion::new(0x3000_0000, 32 * KIB),
        MemRegion::new(0x3880_0000, 4 * KIB),
    ],
    // AN2606 Table 226: bootloader 0x1FF18000-0x1FF1FFFF.
    system_memory: MemRegion::new(0x1FF1_8000, 32 * KIB),
    option_bytes: None,
    // OTP_AREA_BASE, OTP_SIZE (stm32h7r3xx.h:1942, 1976): read only here.
    otp: Some(MemRegion::new(0x08FF_F000, KIB)),
    watchdog_freeze: FREEZE,
    flash_size_quirk: FlashSizeQuirk::NONE,
    // CRC_BASE 0x58024C00 (stm32h7r3xx.h:2153), CRCEN bit 19 of RCC_AHB4ENR
    // at 0x58024400 + 0x140 (stm32h7r3xx.h:15995), INIT and POL; reset clock
    // HSI 64 MHz (system_stm32h7rsxx.c).
    crc: Some(CrcPeripheral {
        base: 0x5802_4C00,
        clock_enable: (0x5802_4540, 1 << 19),
        init: true,
        pol: true,
        word_ns: 125,
    }),
}];

/// The facts of the row, by the names of ST's headers (stm32h7s7xx.h,
/// the DEV_ID's representative, and stm32h7r3xx.h …). The headers define no
/// `FLASHSIZE_BASE`: the row's flash-size register is the word ST calls
/// `PACKAGE_BASE` (the assumption is the row's, see `flash_size_reg`), so
/// the address is held against that name, and no mask.
pub(super) fn register_facts(c: &'static Chip, f: &mut crate::facts::Facts) {
    f.source("chip table");
    f.number("PACKAGE_BASE", c.flash_size_reg as u64);
    f.number("UID_BASE", c.uid.base as u64);
    f.number("FLASH_BASE", c.flash.base as u64);
    f.number("DBGMCU_BASE+DBGMCU_TypeDef.IDCODE", crate::mcu::identify::idcode_address(c) as u64);
    if let Some(crc) = c.crc {
        use crate::flash::crc::{P_CR, P_CR_RESET, P_DR, P_INIT, P_POL};
        f.number("CRC_BASE", crc.base as u64);
        f.number("RCC_BASE+RCC_TypeDef.AHB4ENR", crc.clock_enable.0 as u64);
        f.mask("RCC_AHB4ENR_CRCEN", crc.clock_enable.1);
        f.scope(crate::facts::Scope::Every);
        f.number("CRC_TypeDef.DR", P_DR as u64).number("CRC_TypeDef.CR", P_CR as u64);
        f.mask("CRC_CR_RESET", P_CR_RESET);
        f.number("CRC_TypeDef.INIT", P_INIT as u64).number("CRC_TypeDef.POL", P_POL as u64);
        f.scope(crate::facts::Scope::Die);
    }
    // DBGMCU_APB1FZR.WWDG (stm32h7s7xx.h:4644), DBGMCU_APB4FZR.IWDG (:4690).
    let names = [
        ("DBGMCU_BASE+DBGMCU_TypeDef.APB1FZR", "DBGMCU_APB1FZR_WWDG"),
        ("DBGMCU_BASE+DBGMCU_TypeDef.APB4FZR", "DBGMCU_APB4FZR_IWDG"),
    ];
    for (&(addr, bits), (reg, field)) in c.watchdog_freeze.iter().zip(names) {
        f.number(reg, addr as u64).mask(field, bits);
    }
    f.number("FLASH_SECTOR_SIZE", c.flash.sectors[0].1 as u64);
    f.number("FLASH_SECTOR_NB", (c.max_flash_kib * 1024 / c.flash.sectors[0].1) as u64);
    if let Some(otp) = c.otp {
        f.number("OTP_AREA_BASE", otp.base as u64);
    }
}
