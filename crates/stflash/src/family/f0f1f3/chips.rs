//! STM32F0, F1, F3: page-type flash (RM0091, RM0360, RM0008, RM0041,
//! RM0316, RM0313, RM0364, RM0365, RM0366).
//!
//! Every row programs half-words (`write_unit` 2: RM0091 §3.2.2, RM0008
//! §3.3.3); the 4/8-byte `write_size` of the stm32-data chip files is a
//! software chunk, not the hardware unit. System memory follows AN2606
//! Table 226 where st-flash disagrees; SRAM follows the datasheets where
//! st-flash disagrees (the CMSIS headers give no SRAM size for these
//! families).
//!
//! Header lines cited as `file:line` are those of ST's CMSIS device headers
//! and HAL drivers at the commits listed in `facts/cmsis.facts`;
//! `register_facts` below states what this table takes from them and
//! `crates/stflash/tests/it/crosscheck.rs` checks it there.

use super::driver::{Series, Variant};
use super::factory;
use crate::chip::{
    Bank2Base, Chip, Controller, Core, CrcPeripheral, DualBank, FlashSizeQuirk, FlashSpec, MemRegion, Uid,
};
use crate::facts::{Facts, Scope, TableNames};

const KIB: u32 = 1024;

/// Flash-size register of F0 and F3 (stlink F0x/F3 chip files
/// `flash_size_reg`; CMSIS `FLASHSIZE_BASE`, stm32f072xb.h, stm32f303xc.h).
const F0_F3_FLASH_SIZE: u32 = 0x1FFF_F7CC;
/// Flash-size register of F1 (stm32f103xb.h `FLASHSIZE_BASE`).
const F1_FLASH_SIZE: u32 = 0x1FFF_F7E0;

/// The option bytes at 0x1FFFF800 (CMSIS `OB_BASE`), value and complement
/// half-words: RDP, USER, DATA0, DATA1 and as many WRP bytes as the die has
/// (`OB_TypeDef`): WRP0 only on F030x4/x6, F031, F038, F04x, F070x6 (10
/// bytes: stm32f030x6.h:215-222, stm32f042x6.h:307-314), WRP0-WRP1 on F05x,
/// F030x8 and the F3 parts of 64 KiB (12 bytes: stm32f051x8.h:275-283,
/// stm32f302x8.h:381, stm32f334x8.h:381; RM0366 Table 9 for the F301/F318,
/// RM0364 Table 10 for the F334), WRP0-WRP3 elsewhere (16 bytes).
const fn option_bytes(len: u32) -> Option<MemRegion> {
    Some(MemRegion::new(0x1FFF_F800, len))
}

/// DBGMCU_CR: DBG_IWDG_STOP (bit 8) and DBG_WWDG_STOP (bit 9) on F1
/// (RM0008 §31.16.3, RM0041 §28.15.3; stm32f103xb.h `DBGMCU_CR_DBG_*`;
/// st-flash sets the same bits).
const F1_FREEZE: &[(u32, u32)] = &[(0xE004_2004, (1 << 8) | (1 << 9))];

/// F0: DBGMCU is an APB peripheral whose registers only take writes while its
/// clock runs, so RCC_APB2ENR.DBGMCUEN (bit 22, RM0091 §6.4.7, RM0360 §6.4.7)
/// is set first; then DBGMCU_APB1_FZ (0x40015808) DBG_WWDG_STOP bit 11 and
/// DBG_IWDG_STOP bit 12 (RM0091 §40.9.4; CMSIS stm32f030x6.h
/// `DBGMCU_APB1_FZ_DBG_{W,I}WDG_STOP_Pos` 11/12).
const F0_FREEZE: &[(u32, u32)] = &[(0x4002_1018, 1 << 22), (0x4001_5808, (1 << 11) | (1 << 12))];

/// F3: DBGMCU_APB1_FZ (0xE0042008) DBG_WWDG_STOP bit 11, DBG_IWDG_STOP bit 12
/// (RM0316 §33.16.4, RM0313 §34.16.4, RM0364 §33.16.4).
const F3_FREEZE: &[(u32, u32)] = &[(0xE004_2008, (1 << 11) | (1 << 12))];

const PAGES_1K: FlashSpec =
    FlashSpec { base: 0x0800_0000, sectors: &[(1, KIB)], dual: None, write_unit: 2, erased: 0xFF };
const PAGES_2K: FlashSpec =
    FlashSpec { base: 0x0800_0000, sectors: &[(1, 2 * KIB)], dual: None, write_unit: 2, erased: 0xFF };

/// F1 XL-density: bank 1 = the first 512 KiB (CMSIS `FLASH_BANK1_END`
/// 0x0807FFFF, stm32f103xg.h), bank 2 = the rest from 0x08080000, each
/// driven by its own register set (PM0068; `FLASH_TypeDef.KEYR2` etc.).
const XL_PAGES: FlashSpec = FlashSpec {
    base: 0x0800_0000,
    sectors: &[(1, 2 * KIB)],
    dual: Some(DualBank { sectors: &[(1, 2 * KIB)], bank2: Bank2Base::FullBank1(512 * KIB) }),
    write_unit: 2,
    erased: 0xFF,
};

/// CRC peripheral: CRC_BASE = AHBPERIPH_BASE + 0x3000 = 0x40023000, clock
/// RCC_AHBENR (RCC_BASE 0x40021000 + 0x14) CRCEN bit 6 on every F0/F1/F3
/// (CMSIS stm32f030x6.h, stm32f091xc.h, stm32f103xb.h, stm32f303xc.h). F1
/// has DR/IDR/CR only; F0 adds INIT; F3 has INIT and POL (their
/// `CRC_TypeDef`). On F0 POL exists on F071/F072/F078 and F091/F098 only
/// (stm32f072xb.h:255, stm32f091xc.h:254), not on the F070xB and F030xC
/// that report the same DEV_IDs (stm32f070xb.h:148-157, stm32f030xc.h:147-156):
/// no F0 row claims it, and the CRC code then leaves POL at its reset value,
/// the CRC-32 polynomial (an application that changed it is caught by the
/// calibration of `crate::flash::crc`). Reset clock HSI 8 MHz: 8 cycles ≈
/// 1 µs per word.
const F1_CRC: CrcPeripheral =
    CrcPeripheral { base: 0x4002_3000, clock_enable: (0x4002_1014, 1 << 6), init: false, pol: false, word_ns: 1000 };
const F0_CRC: CrcPeripheral = CrcPeripheral { init: true, ..F1_CRC };
const F3_CRC: CrcPeripheral = CrcPeripheral { init: true, pol: true, ..F1_CRC };

static VARIANT_F0: Variant = Variant { series: Series::F0, boot_sel: false, factory: &factory::F0_F3 };
/// F04x and F09x: nBOOT0 and BOOT_SEL in the user option byte
/// (stm32f042x6.h, stm32f091xc.h `FLASH_OBR_nBOOT0`, `FLASH_OBR_BOOT_SEL`;
/// the F070x6 and F030xC sharing their DEV_IDs lack them and read them as
/// the reserved bits they are there).
static VARIANT_F0_BOOT_SEL: Variant = Variant { boot_sel: true, ..VARIANT_F0 };
static VARIANT_F1: Variant = Variant { series: Series::F1, boot_sel: false, factory: &factory::F1 };
static VARIANT_F3: Variant = Variant { series: Series::F3, boot_sel: false, factory: &factory::F0_F3 };

/// The fields every row of this table shares.
const ROW: Chip = Chip {
    dev_id: 0,
    uid: Uid::at(0),
    also_reports: &[],
    name: "",
    parts: "",
    family: "",
    reference_manual: "",
    core: Core::M0,
    core_ap: 0,
    controller: Controller::F0F1F3(&VARIANT_F0),
    flash_size_reg: F0_F3_FLASH_SIZE,
    max_flash_kib: 0,
    flash: PAGES_1K,
    sram: MemRegion::new(0x2000_0000, 0),
    extra_ram: &[],
    system_memory: MemRegion::new(0, 0),
    option_bytes: option_bytes(16),
    otp: None,
    watchdog_freeze: &[],
    flash_size_quirk: FlashSizeQuirk::NONE,
    crc: Some(F1_CRC),
};

/// An F0 row (Cortex-M0, RM0091/RM0360).
const F0: Chip = Chip {
    family: "STM32F0",
    core: Core::M0,
    controller: Controller::F0F1F3(&VARIANT_F0),
    watchdog_freeze: F0_FREEZE,
    crc: Some(F0_CRC),
    ..ROW
};
/// An F1 row (Cortex-M3, RM0008/RM0041).
const F1: Chip = Chip {
    family: "STM32F1",
    reference_manual: "RM0008",
    core: Core::M3,
    controller: Controller::F0F1F3(&VARIANT_F1),
    flash_size_reg: F1_FLASH_SIZE,
    watchdog_freeze: F1_FREEZE,
    ..ROW
};
/// An F3 row (Cortex-M4).
const F3: Chip = Chip {
    family: "STM32F3",
    core: Core::M4,
    controller: Controller::F0F1F3(&VARIANT_F3),
    flash: PAGES_2K,
    watchdog_freeze: F3_FREEZE,
    crc: Some(F3_CRC),
    ..ROW
};

/// Core-coupled memory of the F303/F358/F398/F334 (RM0316 §3.3, RM0364 §3.3).
const CCM_8K: &[MemRegion] = &[MemRegion::new(0x1000_0000, 8 * KIB)];
const CCM_16K: &[MemRegion] = &[MemRegion::new(0x1000_0000, 16 * KIB)];
const CCM_4K: &[MemRegion] = &[MemRegion::new(0x1000_0000, 4 * KIB)];

pub static CHIPS: &[Chip] = &[
    // ---- F0 (RM0091; value line F030/F070 RM0360) ----
    Chip {
        dev_id: 0x444,
        uid: Uid::at(0x1FFF_F7AC),
        name: "STM32F03x",
        parts: "STM32F030x4/x6, STM32F031, STM32F038",
        reference_manual: "RM0091",
        max_flash_kib: 32,
        sram: MemRegion::new(0x2000_0000, 4 * KIB),
        system_memory: MemRegion::new(0x1FFF_EC00, 3 * KIB),
        option_bytes: option_bytes(10),
        ..F0
    },
    Chip {
        dev_id: 0x445,
        uid: Uid::at(0x1FFF_F7AC),
        name: "STM32F04x",
        parts: "STM32F042, STM32F048, STM32F070x6",
        reference_manual: "RM0091",
        max_flash_kib: 32,
        sram: MemRegion::new(0x2000_0000, 6 * KIB),
        // AN2606: 0x1FFFC400-0x1FFFF7FF (st-flash: 0x1FFFEC00).
        system_memory: MemRegion::new(0x1FFF_C400, 13 * KIB),
        option_bytes: option_bytes(10),
        controller: Controller::F0F1F3(&VARIANT_F0_BOOT_SEL),
        ..F0
    },
    Chip {
        dev_id: 0x440,
        uid: Uid::at(0x1FFF_F7AC),
        name: "STM32F05x",
        parts: "STM32F051, STM32F058, STM32F030x8",
        reference_manual: "RM0091",
        max_flash_kib: 64,
        sram: MemRegion::new(0x2000_0000, 8 * KIB),
        system_memory: MemRegion::new(0x1FFF_EC00, 3 * KIB),
        option_bytes: option_bytes(12),
        ..F0
    },
    Chip {
        dev_id: 0x448,
        uid: Uid::at(0x1FFF_F7AC),
        name: "STM32F07x",
        parts: "STM32F071, STM32F072, STM32F078, STM32F070xB",
        reference_manual: "RM0091",
        max_flash_kib: 128,
        flash: PAGES_2K,
        sram: MemRegion::new(0x2000_0000, 16 * KIB),
        system_memory: MemRegion::new(0x1FFF_C800, 12 * KIB),
        ..F0
    },
    Chip {
        dev_id: 0x442,
        uid: Uid::at(0x1FFF_F7AC),
        name: "STM32F09x",
        parts: "STM32F091, STM32F098, STM32F030xC",
        reference_manual: "RM0091",
        max_flash_kib: 256,
        flash: PAGES_2K,
        sram: MemRegion::new(0x2000_0000, 32 * KIB),
        system_memory: MemRegion::new(0x1FFF_D800, 8 * KIB),
        controller: Controller::F0F1F3(&VARIANT_F0_BOOT_SEL),
        ..F0
    },
    // ---- F1 (RM0008; value line F100 RM0041) ----
    Chip {
        dev_id: 0x412,
        uid: Uid::at(0x1FFF_F7E8),
        name: "STM32F1xx_LD",
        parts: "STM32F101x4/x6, STM32F102x4/x6, STM32F103x4/x6",
        max_flash_kib: 32,
        sram: MemRegion::new(0x2000_0000, 10 * KIB),
        system_memory: MemRegion::new(0x1FFF_F000, 2 * KIB),
        ..F1
    },
    Chip {
        dev_id: 0x410,
        uid: Uid::at(0x1FFF_F7E8),
        name: "STM32F1xx_MD",
        parts: "STM32F101x8/B, STM32F102x8/B, STM32F103x8/B",
        max_flash_kib: 128,
        sram: MemRegion::new(0x2000_0000, 20 * KIB),
        system_memory: MemRegion::new(0x1FFF_F000, 2 * KIB),
        ..F1
    },
    Chip {
        dev_id: 0x414,
        uid: Uid::at(0x1FFF_F7E8),
        // st-flash prints "F1xx_HD" (its chip file lacks the STM32 prefix).
        name: "STM32F1xx_HD",
        parts: "STM32F101xC/D/E, STM32F103xC/D/E",
        max_flash_kib: 512,
        flash: PAGES_2K,
        sram: MemRegion::new(0x2000_0000, 64 * KIB),
        system_memory: MemRegion::new(0x1FFF_F000, 2 * KIB),
        ..F1
    },
    Chip {
        dev_id: 0x418,
        uid: Uid::at(0x1FFF_F7E8),
        name: "STM32F1xx_CL",
        parts: "STM32F105, STM32F107",
        max_flash_kib: 256,
        flash: PAGES_2K,
        sram: MemRegion::new(0x2000_0000, 64 * KIB),
        system_memory: MemRegion::new(0x1FFF_B000, 18 * KIB),
        ..F1
    },
    Chip {
        dev_id: 0x420,
        uid: Uid::at(0x1FFF_F7E8),
        name: "STM32F1xx_VL_MD_LD",
        parts: "STM32F100x4/x6/x8/xB",
        reference_manual: "RM0041",
        max_flash_kib: 128,
        // 4 KiB on the 16/32 KiB parts (stlink v1.8.0 src/stlink-lib/common.c:298-300); 8 KiB here
        // as st-flash, which only matters for a RAM loader's placement.
        sram: MemRegion::new(0x2000_0000, 8 * KIB),
        system_memory: MemRegion::new(0x1FFF_F000, 2 * KIB),
        ..F1
    },
    Chip {
        dev_id: 0x428,
        uid: Uid::at(0x1FFF_F7E8),
        name: "STM32F1xx_VL_HD",
        parts: "STM32F100xC/D/E",
        reference_manual: "RM0041",
        max_flash_kib: 512,
        flash: PAGES_2K,
        sram: MemRegion::new(0x2000_0000, 32 * KIB),
        system_memory: MemRegion::new(0x1FFF_F000, 2 * KIB),
        ..F1
    },
    Chip {
        dev_id: 0x430,
        uid: Uid::at(0x1FFF_F7E8),
        name: "STM32F1xx_XLD",
        parts: "STM32F101xF/G, STM32F103xF/G",
        max_flash_kib: 1024,
        flash: XL_PAGES,
        sram: MemRegion::new(0x2000_0000, 96 * KIB),
        system_memory: MemRegion::new(0x1FFF_E000, 6 * KIB),
        ..F1
    },
    // ---- F3 (RM0316, RM0365, RM0364, RM0313) ----
    Chip {
        dev_id: 0x439,
        uid: Uid::at(0x1FFF_F7AC),
        name: "STM32F301_F302_F318",
        parts: "STM32F301x6/x8, STM32F302x6/x8, STM32F318",
        reference_manual: "RM0365",
        max_flash_kib: 64,
        // 16 KiB (STM32F301x6/8, F302x6/8 datasheets; st-flash: 40 KiB).
        sram: MemRegion::new(0x2000_0000, 16 * KIB),
        system_memory: MemRegion::new(0x1FFF_D800, 8 * KIB),
        option_bytes: option_bytes(12),
        ..F3
    },
    Chip {
        dev_id: 0x422,
        uid: Uid::at(0x1FFF_F7AC),
        // st-flash prints "STM32F302_F303_358".
        name: "STM32F302_F303_F358",
        parts: "STM32F302xB/xC, STM32F303xB/xC, STM32F358",
        reference_manual: "RM0316",
        max_flash_kib: 256,
        sram: MemRegion::new(0x2000_0000, 40 * KIB),
        // CCM SRAM on F303/F358 only.
        extra_ram: CCM_8K,
        // AN2606 (st-flash: 0x1FFFF000/2 KiB).
        system_memory: MemRegion::new(0x1FFF_D800, 8 * KIB),
        ..F3
    },
    Chip {
        dev_id: 0x446,
        uid: Uid::at(0x1FFF_F7AC),
        name: "STM32F302_F303_F398_HD",
        parts: "STM32F302xD/xE, STM32F303xD/xE, STM32F398",
        reference_manual: "RM0316",
        max_flash_kib: 512,
        sram: MemRegion::new(0x2000_0000, 64 * KIB),
        extra_ram: CCM_16K,
        system_memory: MemRegion::new(0x1FFF_D800, 8 * KIB),
        ..F3
    },
    Chip {
        dev_id: 0x438,
        uid: Uid::at(0x1FFF_F7AC),
        name: "STM32F303_F328_F334",
        parts: "STM32F303x6/x8, STM32F328, STM32F334",
        reference_manual: "RM0364",
        max_flash_kib: 64,
        sram: MemRegion::new(0x2000_0000, 12 * KIB),
        extra_ram: CCM_4K,
        system_memory: MemRegion::new(0x1FFF_D800, 8 * KIB),
        option_bytes: option_bytes(12),
        ..F3
    },
    Chip {
        dev_id: 0x432,
        uid: Uid::at(0x1FFF_F7AC),
        name: "STM32F37x",
        parts: "STM32F373, STM32F378",
        reference_manual: "RM0313",
        max_flash_kib: 256,
        // 16/24/32 KiB by flash size (STM32F373 datasheet; st-flash: 40 KiB).
        sram: MemRegion::new(0x2000_0000, 32 * KIB),
        // AN2606 (st-flash: 0x1FFFF000/2 KiB).
        system_memory: MemRegion::new(0x1FFF_D800, 8 * KIB),
        ..F3
    },
];

/// Rows whose option-byte size (`OB_TypeDef.sizeof`) holds in one header
/// of their DEV_ID only: the F318's header gives 16 bytes where RM0366
/// Table 9 lists the three words of the F301x6/x8 and F318 (12 bytes): the
/// F302x8's header is followed.
const OB_SIZE_HEADER: &[(u16, &str)] = &[(0x439, "stm32f302x8")];

/// The facts of a row of this table, by the names of ST's headers.
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    let Controller::F0F1F3(v) = c.controller else { return };
    let freeze: &[(&str, &str)] = match v.series {
        Series::F0 => &[
            ("RCC_BASE+RCC_TypeDef.APB2ENR", "RCC_APB2ENR_DBGMCUEN"),
            ("DBGMCU_BASE+DBGMCU_TypeDef.APB1FZ", "DBGMCU_APB1_FZ_DBG_WWDG_STOP|DBGMCU_APB1_FZ_DBG_IWDG_STOP"),
        ],
        Series::F1 => &[("DBGMCU_BASE+DBGMCU_TypeDef.CR", "DBGMCU_CR_DBG_IWDG_STOP|DBGMCU_CR_DBG_WWDG_STOP")],
        Series::F3 => {
            &[("DBGMCU_BASE+DBGMCU_TypeDef.APB1FZ", "DBGMCU_APB1_FZ_DBG_WWDG_STOP|DBGMCU_APB1_FZ_DBG_IWDG_STOP")]
        }
    };
    f.table(
        c,
        &TableNames {
            flash_base: "FLASH_BASE",
            flash_size_mask: "LL_GetFlashSize.mask",
            idcode: "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE",
            crc_base: "CRC_BASE",
            crc_clock: ("RCC_BASE+RCC_TypeDef.AHBENR", "RCC_AHBENR_CRCEN"),
            freeze,
        },
    );
    f.number("FLASH_PAGE_SIZE", c.flash.sectors[0].1 as u64);
    if let Some(Bank2Base::FullBank1(bank1)) = c.flash.dual.map(|d| d.bank2) {
        f.number("FLASH_BANK1_END", (c.flash.base + bank1 - 1) as u64);
    }
    if let Some(ob) = c.option_bytes {
        f.number("OB_BASE", ob.base as u64);
        let part = OB_SIZE_HEADER.iter().find(|&&(id, _)| id == c.dev_id).map(|&(_, header)| header);
        f.scope(part.map_or(Scope::Die, Scope::Part));
        f.number("OB_TypeDef.sizeof", ob.size as u64);
        f.scope(Scope::Die);
    }
    for r in c.extra_ram {
        f.number("CCMDATARAM_BASE", r.base as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_complete() {
        for c in CHIPS {
            assert!(c.name.starts_with("STM32") && !c.parts.is_empty(), "{:#x}", c.dev_id);
            assert!(c.reference_manual.starts_with("RM"), "{}", c.name);
            assert!(c.sram.size > 0 && c.system_memory.size > 0 && c.max_flash_kib > 0, "{}", c.name);
            assert!(!c.watchdog_freeze.is_empty(), "{}", c.name);
            assert_eq!(c.flash.write_unit, 2, "{}: half-word programming", c.name);
            // The system memory ends just below the option bytes on every part.
            assert_eq!(c.system_memory.end(), 0x1FFF_F800, "{}", c.name);
        }
    }

    #[test]
    fn xl_density_is_the_only_part_with_two_register_sets() {
        let duals: Vec<u16> = CHIPS.iter().filter(|c| c.flash.dual.is_some()).map(|c| c.dev_id).collect();
        assert_eq!(duals, vec![0x430]);
    }
}
