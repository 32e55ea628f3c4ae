//! STM32F2, F4, F7: sector-type flash (RM0033 §2, RM0090 §3, RM0385 §3: the
//! memory maps and sector layouts).
//!
//! Sector maps are runs of (count, size) whose last run repeats until the flash
//! size is reached. Corrections to st-flash: F410 has only 4×16 KiB + 64 KiB
//! (embassy stm32-data-generated data/chips/STM32F410*.json; stlink's F410.chip
//! is uniform 16 KiB) and F413 is one bank of up to 16 sectors (CMSIS
//! stm32f413xx.h:6893; OpenOCD src/flash/nor/stm32f2x.c:50);
//! F42x/F43x/F469/F479 and F76x/F77x have a dual-bank map (OpenOCD
//! src/flash/nor/stm32f2x.c:1140-1171); system memory follows AN2606 Table
//! 226. The driver decides which map is in force from the flash size and option
//! bits (OpenOCD src/flash/nor/stm32f2x.c:1140-1171).

use super::driver::{
    DualBankMode, Variant, ERASE_MS_F2F4, ERASE_MS_F7, ERRORS_F2F4, ERRORS_F2_F405, ERRORS_F7, ERRORS_F72X,
};
use super::{factory, options};
use crate::chip::{
    Bank2Base, Chip, Controller, Core, CrcPeripheral, DualBank, FlashSizeQuirk, FlashSpec, MemRegion, Uid,
};
use crate::facts::{Facts, TableNames};

const KIB: u32 = 1024;

/// F2/F4 flash-size register (the die's CMSIS `FLASHSIZE_BASE`).
const F2_F4_FLASH_SIZE: u32 = 0x1FFF_7A22;

/// DBGMCU_APB1_FZ (0xE0042008): DBG_WWDG_STOP bit 11, DBG_IWDG_STOP bit 12
/// (RM0033 §32.16.4, RM0090 §38.16.4, RM0385 §40.16.4, RM0410 §44.16.4;
/// CMSIS `DBGMCU_APB1_FZ_DBG_{W,I}WDG_STOP_Pos` 11/12).
const FREEZE: &[(u32, u32)] = &[(0xE004_2008, (1 << 11) | (1 << 12))];

/// 4×16 KiB, 1×64 KiB, then 128 KiB sectors (RM0090 Table 5; OpenOCD
/// src/flash/nor/stm32f2x.c:49-52).
const F4_SECTORS: &[(u32, u32)] = &[(4, 16 * KIB), (1, 64 * KIB), (1, 128 * KIB)];
/// 4×32 KiB, 1×128 KiB, then 256 KiB sectors (RM0385 §3.3.1; OpenOCD
/// src/flash/nor/stm32f2x.c:56-65).
const F7_SECTORS: &[(u32, u32)] = &[(4, 32 * KIB), (1, 128 * KIB), (1, 256 * KIB)];

const fn sectors(runs: &'static [(u32, u32)]) -> FlashSpec {
    FlashSpec { base: 0x0800_0000, sectors: runs, dual: None, write_unit: 4, erased: 0xFF }
}

/// F42x/F43x/F469/F479: 2 MiB parts are two banks of 1 MiB; 1 MiB parts are
/// two banks of 512 KiB when OPTCR.DB1M is set; each bank 4×16, 1×64, n×128
/// KiB (RM0090 §3.4 Tables 6, 7, 9).
const F4_DUAL: FlashSpec =
    FlashSpec { dual: Some(DualBank { sectors: F4_SECTORS, bank2: Bank2Base::Half }), ..sectors(F4_SECTORS) };

/// F76x/F77x: OPTCR.nDBANK = 0 gives two banks of half the flash, each
/// 4×16, 1×64, n×128 KiB (OpenOCD src/flash/nor/stm32f2x.c:1156-1171;
/// embassy stm32-data-generated data/chips, 0x451 parts, cfg1).
const F7_DUAL: FlashSpec =
    FlashSpec { dual: Some(DualBank { sectors: F4_SECTORS, bank2: Bank2Base::Half }), ..sectors(F7_SECTORS) };

/// CRC peripheral: CRC_BASE = AHB1PERIPH_BASE + 0x3000 = 0x40023000, clock
/// RCC_AHB1ENR (RCC_BASE 0x40023800 + 0x30) CRCEN bit 12 on every F2/F4/F7
/// (CMSIS stm32f207xx.h, stm32f411xe.h, stm32f746xx.h). F2/F4 have DR/IDR/CR
/// only; F7 adds INIT and POL. Reset clock HSI 16 MHz: ≈ 0.5 µs per word.
const F4_CRC: CrcPeripheral =
    CrcPeripheral { base: 0x4002_3000, clock_enable: (0x4002_3830, 1 << 12), init: false, pol: false, word_ns: 500 };
const F7_CRC: CrcPeripheral = CrcPeripheral { init: true, pol: true, ..F4_CRC };

static F2: Variant = Variant {
    name: "STM32F2/F4",
    dual_bank: DualBankMode::Db1m,
    error_flags: ERRORS_F2_F405,
    erase_ms: ERASE_MS_F2F4,
    snb_bits: 5,
    optcr: &options::OPTCR_F2,
    optcr1: None,
    factory: &factory::F2_F4,
    sr_bit1_header: "SOP",
    sprmod_header: None,
};
/// F405/F407/F415/F417: as F2, SNB 4 bits (stm32f407xx.h `FLASH_CR_SNB`).
static F405: Variant = Variant { snb_bits: 4, sr_bit1_header: "OPERR", ..F2 };
/// F401, F410, F411, F412 (and F446, `F446`): RDERR, PCROP through SPRMOD.
static F4: Variant =
    Variant { error_flags: ERRORS_F2F4, optcr: &options::OPTCR_F4_PCROP, sr_bit1_header: "OPERR", ..F2 };
/// F42x/F43x, F469/F479: BFB2, DB1M, nWRP of sectors 12-23 in OPTCR1.
static F4_OPTCR1: Variant = Variant {
    optcr: &options::OPTCR_F4,
    optcr1: Some(&options::OPTCR1_F4),
    factory: &factory::F4_TWO_WORDS,
    sprmod_header: Some("FLASH_OPTCR_SPRMOD"),
    ..F4
};
/// F446: as F401; its header defines SPRMOD (stm32f446xx.h `FLASH_OPTCR_SPRMOD`).
static F446: Variant = Variant { sprmod_header: Some("FLASH_OPTCR_SPRMOD"), ..F4 };
/// F413/F423: SNB 4 bits for its 16 sectors, 15 nWRP bits in OPTCR, no
/// OPTCR1 (options.rs).
static F413: Variant = Variant { snb_bits: 4, optcr: &options::OPTCR_F413, factory: &factory::F413, ..F4 };
static F74X: Variant = Variant {
    name: "STM32F7",
    dual_bank: DualBankMode::NDbank,
    error_flags: ERRORS_F7,
    erase_ms: ERASE_MS_F7,
    snb_bits: 4,
    optcr: &options::OPTCR_F74X,
    optcr1: Some(&options::OPTCR1_F7),
    factory: &factory::F72X_F74X,
    sr_bit1_header: "OPERR",
    sprmod_header: None,
};
/// F72x/F73x: as F74x, with RDERR.
static F72X: Variant = Variant { error_flags: ERRORS_F72X, ..F74X };
/// F76x/F77x: SNB 5 bits (bank 2 in bit 4).
static F76X: Variant = Variant { snb_bits: 5, optcr: &options::OPTCR_F76X, factory: &factory::F76X, ..F74X };

/// `write_unit` above is the x32 parallelism; the driver programs with the
/// width its PSIZE allows at the measured voltage (x8/x16/x32: ST's HAL
/// stm32f4xx_hal_flash_ex.h:153-156; stlink v1.8.0 flash_loader.c:635-641).
const ROW: Chip = Chip {
    dev_id: 0,
    uid: Uid::at(0),
    also_reports: &[],
    name: "",
    parts: "",
    family: "STM32F4",
    reference_manual: "",
    core: Core::M4,
    core_ap: 0,
    controller: Controller::F2F4F7(&F4),
    flash_size_reg: F2_F4_FLASH_SIZE,
    max_flash_kib: 0,
    flash: sectors(F4_SECTORS),
    sram: MemRegion::new(0x2000_0000, 0),
    extra_ram: &[],
    // AN2606 Table 226: 0x1FFF0000-0x1FFF77FF on every F2/F4.
    system_memory: MemRegion::new(0x1FFF_0000, 30 * KIB),
    // RDP/USER and nWRP words (RM0090 §3.7.1 Table 15).
    option_bytes: Some(MemRegion::new(0x1FFF_C000, 16)),
    // 16 blocks of 32 bytes and the lock block (RM0090 §3.8 Table 19).
    otp: Some(MemRegion::new(0x1FFF_7800, 528)),
    watchdog_freeze: FREEZE,
    flash_size_quirk: FlashSizeQuirk::NONE,
    crc: Some(F4_CRC),
};

/// F7 defaults (RM0385/RM0410/RM0431).
const F7: Chip = Chip {
    family: "STM32F7",
    core: Core::M7,
    controller: Controller::F2F4F7(&F74X),
    // F74x-F77x (CMSIS stm32f746xx.h:1229).
    flash_size_reg: 0x1FF0_F442,
    flash: sectors(F7_SECTORS),
    // AN2606 Table 226: 0x1FF00000-0x1FF0EDBF (stlink's
    // F72x_F73x.chip and F74x_F75x.chip use the ITCM alias 0x00100000).
    system_memory: MemRegion::new(0x1FF0_0000, 0xEDC0),
    // OPTCR/OPTCR1/OPTCR2 images (the reference manuals' memory maps column).
    option_bytes: Some(MemRegion::new(0x1FFF_0000, 32)),
    // CMSIS stm32f746xx.h:1140 FLASH_OTP_BASE 0x1FF0F000 .. FLASH_OTP_END 0x1FF0F41F
    // (not the 0x08FFF000 of embassy's stm32-data-generated STM32F745IE.json).
    otp: Some(MemRegion::new(0x1FF0_F000, 0x420)),
    crc: Some(F7_CRC),
    ..ROW
};

/// Core-coupled RAM of F405/F407/F415/F417/F42x/F43x/F469/F479 (RM0090 §2.3
/// memory map; RM0386 §2.3).
const CCM_64K: &[MemRegion] = &[MemRegion::new(0x1000_0000, 64 * KIB)];
/// ITCM RAM of F7 (RM0385 §2.2.2, RM0410 §2.2.2, RM0431 §2.2.2).
const ITCM_16K: &[MemRegion] = &[MemRegion::new(0x0000_0000, 16 * KIB)];

pub static CHIPS: &[Chip] = &[
    // ---- F2 ----
    Chip {
        dev_id: 0x411,
        uid: Uid::at(0x1FFF_7A10),
        name: "STM32F2xx",
        parts: "STM32F205, STM32F207, STM32F215, STM32F217",
        family: "STM32F2",
        reference_manual: "RM0033",
        core: Core::M3,
        controller: Controller::F2F4F7(&F2),
        max_flash_kib: 1024,
        // SRAM1 112 KiB + SRAM2 16 KiB.
        sram: MemRegion::new(0x2000_0000, 128 * KIB),
        ..ROW
    },
    // ---- F4 ----
    Chip {
        dev_id: 0x413,
        uid: Uid::at(0x1FFF_7A10),
        // Revision A parts report the F2's DEV_ID (ES0182 §2.2.1).
        also_reports: &[0x411],
        name: "STM32F4x5_F4x7",
        parts: "STM32F405, STM32F407, STM32F415, STM32F417",
        reference_manual: "RM0090",
        max_flash_kib: 1024,
        // SRAM1 112 KiB + SRAM2 16 KiB contiguous, CCM 64 KiB apart (RM0090 §2.3;
        // st-flash counts 192 KiB at 0x20000000, which runs past SRAM2).
        sram: MemRegion::new(0x2000_0000, 128 * KIB),
        extra_ram: CCM_64K,
        controller: Controller::F2F4F7(&F405),
        ..ROW
    },
    Chip {
        dev_id: 0x419,
        uid: Uid::at(0x1FFF_7A10),
        name: "STM32F42x_F43x",
        parts: "STM32F427, STM32F429, STM32F437, STM32F439",
        reference_manual: "RM0090",
        max_flash_kib: 2048,
        flash: F4_DUAL,
        // SRAM1 112 + SRAM2 16 + SRAM3 64 KiB, CCM 64 KiB (RM0090 §2.3; st-flash
        // counts 256 KiB at 0x20000000).
        sram: MemRegion::new(0x2000_0000, 192 * KIB),
        extra_ram: CCM_64K,
        controller: Controller::F2F4F7(&F4_OPTCR1),
        ..ROW
    },
    Chip {
        dev_id: 0x434,
        uid: Uid::at(0x1FFF_7A10),
        name: "STM32F46x_F47x",
        parts: "STM32F469, STM32F479",
        reference_manual: "RM0386",
        max_flash_kib: 2048,
        flash: F4_DUAL,
        // SRAM1 160 + SRAM2 32 + SRAM3 128 KiB, CCM 64 KiB (RM0386 §2.3).
        sram: MemRegion::new(0x2000_0000, 320 * KIB),
        extra_ram: CCM_64K,
        controller: Controller::F2F4F7(&F4_OPTCR1),
        ..ROW
    },
    Chip {
        dev_id: 0x423,
        uid: Uid::at(0x1FFF_7A10),
        name: "STM32F401xB_xC",
        parts: "STM32F401xB/xC",
        reference_manual: "RM0368",
        max_flash_kib: 256,
        sram: MemRegion::new(0x2000_0000, 64 * KIB),
        ..ROW
    },
    Chip {
        dev_id: 0x433,
        uid: Uid::at(0x1FFF_7A10),
        name: "STM32F401xD_xE",
        parts: "STM32F401xD/xE",
        reference_manual: "RM0368",
        max_flash_kib: 512,
        sram: MemRegion::new(0x2000_0000, 96 * KIB),
        ..ROW
    },
    Chip {
        dev_id: 0x458,
        uid: Uid::at(0x1FFF_7A10),
        name: "STM32F410",
        parts: "STM32F410x8/xB",
        reference_manual: "RM0401",
        max_flash_kib: 128,
        // Only sectors 0-4 exist (embassy stm32-data-generated
        // data/chips/STM32F410*.json; stlink's F410.chip: uniform 16 KiB).
        flash: sectors(&[(4, 16 * KIB), (1, 64 * KIB)]),
        sram: MemRegion::new(0x2000_0000, 32 * KIB),
        ..ROW
    },
    Chip {
        dev_id: 0x431,
        uid: Uid::at(0x1FFF_7A10),
        name: "STM32F411xC_xE",
        parts: "STM32F411xC/xE",
        reference_manual: "RM0383",
        max_flash_kib: 512,
        sram: MemRegion::new(0x2000_0000, 128 * KIB),
        ..ROW
    },
    Chip {
        dev_id: 0x441,
        uid: Uid::at(0x1FFF_7A10),
        name: "STM32F412",
        parts: "STM32F412",
        reference_manual: "RM0402",
        max_flash_kib: 1024,
        sram: MemRegion::new(0x2000_0000, 256 * KIB),
        ..ROW
    },
    Chip {
        dev_id: 0x463,
        uid: Uid::at(0x1FFF_7A10),
        name: "STM32F413_F423",
        parts: "STM32F413, STM32F423",
        reference_manual: "RM0430",
        max_flash_kib: 1536,
        // One bank: 4×16, 1×64, up to 11×128 KiB = sectors 0-15 in a 4-bit SNB
        // (CMSIS stm32f413xx.h:6893; OpenOCD src/flash/nor/stm32f2x.c:50).
        sram: MemRegion::new(0x2000_0000, 320 * KIB),
        controller: Controller::F2F4F7(&F413),
        ..ROW
    },
    Chip {
        dev_id: 0x421,
        uid: Uid::at(0x1FFF_7A10),
        name: "STM32F446",
        parts: "STM32F446",
        reference_manual: "RM0390",
        max_flash_kib: 512,
        sram: MemRegion::new(0x2000_0000, 128 * KIB),
        controller: Controller::F2F4F7(&F446),
        ..ROW
    },
    // ---- F7 ----
    Chip {
        dev_id: 0x452,
        uid: Uid::at(0x1FF0_7A10),
        name: "STM32F72x_F73x",
        parts: "STM32F722, STM32F723, STM32F730, STM32F732, STM32F733",
        reference_manual: "RM0431",
        max_flash_kib: 512,
        // CMSIS stm32f722xx.h:1010 (the die's CMSIS `FLASHSIZE_BASE`).
        flash_size_reg: 0x1FF0_7A22,
        // 4×16, 1×64, 3×128 KiB (RM0090 §3.3, RM0385 §3.3).
        flash: sectors(F4_SECTORS),
        sram: MemRegion::new(0x2000_0000, 256 * KIB),
        extra_ram: ITCM_16K,
        // 16 blocks of 32 bytes and the lock block, as F4 (ST's CMSIS-pack
        // flash algorithm "STM32F72x/3x Flash OTP": 0x1FF07800, 528 bytes).
        otp: Some(MemRegion::new(0x1FF0_7800, 528)),
        controller: Controller::F2F4F7(&F72X),
        ..F7
    },
    Chip {
        dev_id: 0x449,
        uid: Uid::at(0x1FF0_F420),
        name: "STM32F74x_F75x",
        parts: "STM32F745, STM32F746, STM32F750, STM32F756",
        reference_manual: "RM0385",
        max_flash_kib: 1024,
        sram: MemRegion::new(0x2000_0000, 320 * KIB),
        extra_ram: ITCM_16K,
        ..F7
    },
    Chip {
        dev_id: 0x451,
        uid: Uid::at(0x1FF0_F420),
        name: "STM32F76x_F77x",
        parts: "STM32F765, STM32F767, STM32F769, STM32F777, STM32F779",
        reference_manual: "RM0410",
        max_flash_kib: 2048,
        flash: F7_DUAL,
        sram: MemRegion::new(0x2000_0000, 512 * KIB),
        extra_ram: ITCM_16K,
        controller: Controller::F2F4F7(&F76X),
        ..F7
    },
];

/// The facts of a row of this table, by the names of ST's headers.
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    f.table(
        c,
        &TableNames {
            flash_base: "FLASH_BASE",
            flash_size_mask: "LL_GetFlashSize.mask",
            idcode: "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE",
            crc_base: "CRC_BASE",
            crc_clock: ("RCC_BASE+RCC_TypeDef.AHB1ENR", "RCC_AHB1ENR_CRCEN"),
            freeze: &[(
                "DBGMCU_BASE+DBGMCU_TypeDef.APB1FZ",
                "DBGMCU_APB1_FZ_DBG_WWDG_STOP|DBGMCU_APB1_FZ_DBG_IWDG_STOP",
            )],
        },
    );
    if let Some(otp) = c.otp {
        f.number("FLASH_OTP_BASE", otp.base as u64).number("FLASH_OTP_END", otp.end() - 1);
    }
    for r in c.extra_ram.iter().filter(|r| r.base == 0x1000_0000) {
        f.number("CCMDATARAM_BASE", r.base as u64).number("CCMDATARAM_END", r.end() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::FlashLayout;

    #[test]
    fn every_row_is_complete() {
        for c in CHIPS {
            assert!(c.name.starts_with("STM32") && !c.parts.is_empty(), "{:#x}", c.dev_id);
            assert!(c.reference_manual.starts_with("RM"), "{}", c.name);
            assert!(c.sram.size > 0 && c.max_flash_kib > 0, "{}", c.name);
            assert_eq!(c.watchdog_freeze, FREEZE, "{}", c.name);
            assert!(c.otp.is_some() && c.option_bytes.is_some(), "{}", c.name);
        }
    }

    fn chip(dev_id: u16) -> &'static Chip {
        CHIPS.iter().find(|c| c.dev_id == dev_id).unwrap()
    }

    #[test]
    fn corrected_sector_maps() {
        // F410: 4×16 + 64 KiB, nothing else (embassy stm32-data-generated
        // data/chips/STM32F410*.json).
        let f410 = FlashLayout::single(&chip(0x458).flash, 128 * KIB);
        assert_eq!(f410.banks[0].runs, vec![(4, 16 * KIB), (1, 64 * KIB)]);
        // F413 1.5 MiB: 16 sectors, the last ones 128 KiB (CMSIS
        // stm32f413xx.h:6893: 4-bit SNB).
        let f413 = FlashLayout::single(&chip(0x463).flash, 1536 * KIB);
        assert_eq!(f413.banks[0].runs, vec![(4, 16 * KIB), (1, 64 * KIB), (11, 128 * KIB)]);
        // F429 2 MiB dual: 12 sectors per bank, bank 2 at 0x08100000.
        let f429 = FlashLayout::dual(&chip(0x419).flash, 2048 * KIB);
        assert_eq!(f429.banks[1].base, 0x0810_0000);
        assert_eq!(f429.banks[1].sector_count(), 12);
        // F429 1 MiB DB1M: 8 sectors per bank, bank 2 at 0x08080000.
        let db1m = FlashLayout::dual(&chip(0x419).flash, 1024 * KIB);
        assert_eq!((db1m.banks[1].base, db1m.banks[1].sector_count()), (0x0808_0000, 8));
        // F767 2 MiB: 4×32, 128, 7×256 single; 4×16, 64, 7×128 per bank dual.
        let single = FlashLayout::single(&chip(0x451).flash, 2048 * KIB);
        assert_eq!(single.banks[0].runs, vec![(4, 32 * KIB), (1, 128 * KIB), (7, 256 * KIB)]);
        let dual = FlashLayout::dual(&chip(0x451).flash, 2048 * KIB);
        assert_eq!(dual.banks[0].runs, vec![(4, 16 * KIB), (1, 64 * KIB), (7, 128 * KIB)]);
        assert_eq!(dual.banks[1].base, 0x0810_0000);
        // F746 1 MiB: 4×32, 128, 3×256.
        let f746 = FlashLayout::single(&chip(0x449).flash, 1024 * KIB);
        assert_eq!(f746.banks[0].runs, vec![(4, 32 * KIB), (1, 128 * KIB), (3, 256 * KIB)]);
    }
}
