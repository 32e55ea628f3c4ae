//! STM32L0 and STM32L1: PECR-type flash, erased to 0x00 (RM0377 §3,
//! RM0038 §3).
//!
//! Pages are erased by address (a write of 0 into the page with ERASE|PROG),
//! so one register set serves the whole array: the layout is one bank wherever
//! the flash is contiguous, even on the dual-bank (read-while-write) L0 cat.5
//! and L1 cat.4 parts. Only L1 cat.5/6 (0x437) gets two banks in the layout,
//! to model the hole its 384 KiB parts have between the banks.

use super::driver::{Variant, L0, L1};
use super::eeprom::{EepromPart, EEPROM_BASE};
use crate::chip::{
    Bank2Base, Chip, Controller, Core, CrcPeripheral, DualBank, FlashSizeQuirk, FlashSpec, MemRegion, Uid,
};
use crate::facts::{Facts, Scope, TableNames};

const KIB: u32 = 1024;

/// L0: 128-byte pages; programmed by half page (16 words, 64 bytes); erased
/// value 0x00 (RM0377 §3.3.1 "NVM organization").
const L0_FLASH: FlashSpec =
    FlashSpec { base: 0x0800_0000, sectors: &[(1, 128)], dual: None, write_unit: 64, erased: 0x00 };

/// L1: 256-byte pages; half page = 32 words, 128 bytes (RM0038;
/// OpenOCD src/flash/nor/stm32lx.c:437; stlink's L1 chip files say "128 B"
/// beside 0x100: the comment is wrong, the value right).
const L1_FLASH: FlashSpec =
    FlashSpec { base: 0x0800_0000, sectors: &[(1, 256)], dual: None, write_unit: 128, erased: 0x00 };

/// L1 cat.5/6 (0x437): bank 2 always starts at 0x08040000, so the 384 KiB
/// parts (STM32L1xxxD-X) have a hole at 0x08030000-0x0803FFFF (CMSIS
/// `stm32l151xdx.h`: FLASH_BANK1_END 0x0802FFFF, FLASH_BANK2_BASE 0x08040000;
/// `stm32l151xe.h`: FLASH_BANK2_BASE 0x08040000). Bank 2 at 0x08030000 is
/// the cat.4 value (`stm32l151xd.h`); CMSIS is followed here.
const L1_CAT5_FLASH: FlashSpec =
    FlashSpec { dual: Some(DualBank { sectors: &[(1, 256)], bank2: Bank2Base::Fixed(0x0804_0000) }), ..L1_FLASH };

/// L0: the DBGMCU registers only take writes with the DBG clock on
/// (RCC_APB2ENR.DBGEN, bit 22; RCC at 0x40021000, APB2ENR at +0x34: CMSIS
/// `stm32l053xx.h`), then DBGMCU_APB1_FZ (0x40015808) DBG_WWDG_STOP bit 11,
/// DBG_IWDG_STOP bit 12 (RM0377 DBG chapter, DBGMCU_APB1_FZ; CMSIS `stm32l053xx.h`).
const L0_FREEZE: &[(u32, u32)] = &[(0x4002_1034, 1 << 22), (0x4001_5808, (1 << 11) | (1 << 12))];

/// L1: DBGMCU_APB1_FZ (0xE0042008) DBG_WWDG_STOP bit 11, DBG_IWDG_STOP bit 12
/// (RM0038 DBG chapter, DBGMCU_APB1_FZ; CMSIS `stm32l152xe.h`).
const L1_FREEZE: &[(u32, u32)] = &[(0xE004_2008, (1 << 11) | (1 << 12))];

/// User option bytes, each word a value and its complement (RM0377 §3.4.1;
/// CMSIS stm32l053xx.h `OB_BASE`, `OB_TypeDef`).
const L0_OPTION_BYTES: MemRegion = MemRegion::new(0x1FF8_0000, 0x20);
const L1_OPTION_BYTES: MemRegion = MemRegion::new(0x1FF8_0000, 0x20);
/// L1 cat.4/5 have more write-protection words (WRP up to 0x1FF8009F).
const L1_OPTION_BYTES_LARGE: MemRegion = MemRegion::new(0x1FF8_0000, 0xA0);

/// System memory per AN2606 Table 226 (the reference manuals' memory maps; stlink v1.8.0 config/chips):
/// L0 cat.1-3 4 KiB, L0 cat.5 and all L1 8 KiB.
const L0_SYSMEM_4K: MemRegion = MemRegion::new(0x1FF0_0000, 4 * KIB);
const SYSMEM_8K: MemRegion = MemRegion::new(0x1FF0_0000, 8 * KIB);

const L0_SIZE_REG: u32 = 0x1FF8_007C;
const L1_SIZE_REG_SMALL: u32 = 0x1FF8_004C;
const L1_SIZE_REG: u32 = 0x1FF8_00CC;

/// CRC peripheral at CRC_BASE = AHBPERIPH_BASE + 0x3000 = 0x40023000. L0:
/// clock RCC_AHBENR (0x40021000 + 0x30) CRCEN bit 12, INIT and POL (CMSIS
/// stm32l053xx.h, stm32l011xx.h). L1: clock RCC_AHBENR (0x40023800 + 0x1C)
/// CRCEN bit 12, DR/IDR/CR only (stm32l152xe.h, stm32l100xb.h). Reset clock
/// MSI 2.097 MHz: ≈ 3.8 µs per word.
const L0_CRC: CrcPeripheral =
    CrcPeripheral { base: 0x4002_3000, clock_enable: (0x4002_1030, 1 << 12), init: true, pol: true, word_ns: 3815 };
const L1_CRC: CrcPeripheral = CrcPeripheral { clock_enable: (0x4002_381C, 1 << 12), init: false, pol: false, ..L0_CRC };

/// One variant record per die: the L0 or L1 controller and the data EEPROM
/// of the die's parts, one row per flash size (`eeprom.rs` chooses the row).
/// Sizes and ends from CMSIS, one header per part line (`DATA_EEPROM_END` of
/// cmsis-device-l0, `FLASH_EEPROM_END` of cmsis-device-l1); `smaller` is the
/// value-line part of the same DEV_ID and flash size (STM32L010, L100),
/// whose header gives less. Flash sizes per part line from the part numbers
/// (ST's x3/x4/x6/x8/xB/xC/xD/xZ/xE = 8/16/32/64/128/256/384/192/512 KiB).
static DIE_457: Variant = Variant {
    header: "stm32l011xx",
    eeprom: &[
        // stm32l011xx.h:479-480 (0x080801FF).
        EepromPart { flash_kib: &[8], region: EEPROM_512, parts: "STM32L011x3", smaller: None },
        // stm32l011xx.h, stm32l021xx.h:498-499; stm32l010x4.h:464-465 (0x0808007F).
        EepromPart {
            flash_kib: &[16],
            region: EEPROM_512,
            parts: "STM32L011x4, STM32L021x4",
            smaller: Some((128, "STM32L010x4")),
        },
    ],
    ..L0
};
const EEPROM_512: MemRegion = MemRegion::new(EEPROM_BASE, 512);
static DIE_425: Variant = Variant {
    header: "stm32l031xx",
    eeprom: &[
        // stm32l031xx.h:480-481, stm32l041xx.h:499-500 (0x080803FF).
        EepromPart { flash_kib: &[16], region: EEPROM_1K, parts: "STM32L031x4", smaller: None },
        // stm32l010x6.h:464-465 (0x080800FF).
        EepromPart {
            flash_kib: &[32],
            region: EEPROM_1K,
            parts: "STM32L031x6, STM32L041x6",
            smaller: Some((256, "STM32L010x6")),
        },
    ],
    ..L0
};
const EEPROM_1K: MemRegion = MemRegion::new(EEPROM_BASE, KIB);
static DIE_417: Variant = Variant {
    header: "stm32l053xx",
    eeprom: &[
        // stm32l051xx.h:503-504, stm32l052xx.h:601-602, stm32l053xx.h:615-616
        // (0x080807FF); RM0367 Table 5 "Data EEPROM 0x0808 0000 - 0x0808 07FF".
        EepromPart {
            flash_kib: &[32],
            region: EEPROM_2K,
            parts: "STM32L051x6, STM32L052x6, STM32L053x6",
            smaller: None,
        },
        // … stm32l062xx.h:620-621, stm32l063xx.h:634-635; stm32l010x8.h:464-465 (0x080800FF).
        EepromPart {
            flash_kib: &[64],
            region: EEPROM_2K,
            parts: "STM32L051x8, STM32L052x8, STM32L053x8, STM32L062x8, STM32L063x8",
            smaller: Some((256, "STM32L010x8")),
        },
    ],
    ..L0
};
const EEPROM_2K: MemRegion = MemRegion::new(EEPROM_BASE, 2 * KIB);
static DIE_447: Variant = Variant {
    header: "stm32l073xx",
    eeprom_end_header: "DATA_EEPROM_BANK2_END",
    eeprom: &[
        // The 64 KiB parts have EEPROM bank 2 only, 0x08080C00-0x080817FF:
        // ST's CMSIS-pack algorithm `stm32l07x_64_eeprom` (probe-rs
        // STM32L0_Series.yaml, pack 2.3.0) and stm32l0xx-hal (src/flash.rs,
        // citing the RM's table for 64 KiB cat.5 devices); the CMSIS headers,
        // one per part line, give 6 KiB for every flash size (stm32l073xx.h:
        // 628-631). Assumed: the smaller, the safe side.
        EepromPart {
            flash_kib: &[64],
            region: MemRegion::new(0x0808_0C00, 3 * KIB),
            parts: "STM32L071x8, STM32L072x8, STM32L073x8, STM32L083x8",
            smaller: None,
        },
        // stm32l073xx.h:628-631 (bank 1 0x08080000-0x08080BFF, bank 2
        // 0x08080C00-0x080817FF), same in stm32l071/072/081/082/083xx.h;
        // stm32l010xb.h:465-466 (0x080801FF).
        EepromPart {
            flash_kib: &[128],
            region: EEPROM_6K,
            parts: "STM32L071xB, STM32L072xB, STM32L073xB, STM32L081xB, STM32L082xB, STM32L083xB",
            smaller: Some((512, "STM32L010xB")),
        },
        EepromPart {
            flash_kib: &[192],
            region: EEPROM_6K,
            parts: "STM32L071xZ, STM32L072xZ, STM32L073xZ, STM32L081xZ, STM32L082xZ, STM32L083xZ",
            smaller: None,
        },
    ],
    user_option: &super::options::OB_USER_L0_BFB2,
    ..L0
};
const EEPROM_6K: MemRegion = MemRegion::new(EEPROM_BASE, 6 * KIB);
/// L1 cat.1 and cat.2: stm32l151xb.h:562,568, stm32l152xb.h:577,583,
/// stm32l151xba.h, stm32l152xba.h (0x08080FFF); stm32l100xb.h, stm32l100xba.h
/// (0x080807FF).
const L1_SMALL: &[EepromPart] = &[EepromPart {
    flash_kib: &[32, 64, 128],
    region: MemRegion::new(EEPROM_BASE, 4 * KIB),
    parts: "STM32L151x6/x8/xB, STM32L152x6/x8/xB",
    smaller: Some((2 * KIB, "STM32L100x6/x8/xB")),
}];
static DIE_416: Variant = Variant { header: "stm32l152xb", eeprom: L1_SMALL, ..L1 };
/// L1 cat.2 and cat.3 have SPRMOD (PCROP mode); the value-line L100 of the
/// same dies does not, and is assumed to read the reserved bit as 0.
static DIE_429: Variant = Variant {
    header: "stm32l152xba",
    pcrop_mode: true,
    rdp_option: &super::options::OB_RDP_L1_SPRMOD,
    eeprom: L1_SMALL,
    ..L1
};
static DIE_427: Variant = Variant {
    header: "stm32l152xc",
    pcrop_mode: true,
    rdp_option: &super::options::OB_RDP_L1_SPRMOD,
    // stm32l151xc.h:619,625, stm32l152xc.h, stm32l162xc.h (0x08081FFF);
    // stm32l100xc.h:590,596 (0x08080FFF).
    eeprom: &[EepromPart {
        flash_kib: &[256],
        region: MemRegion::new(EEPROM_BASE, 8 * KIB),
        parts: "STM32L151xC, STM32L152xC, STM32L162xC",
        smaller: Some((4 * KIB, "STM32L100xC")),
    }],
    ..L1
};
static DIE_436: Variant = Variant {
    header: "stm32l152xd",
    eeprom: &[
        // stm32l151xca.h:619,625, stm32l152xca.h, stm32l162xca.h (0x08081FFF).
        EepromPart {
            flash_kib: &[256],
            region: MemRegion::new(EEPROM_BASE, 8 * KIB),
            parts: "STM32L151xC-A, STM32L152xC-A, STM32L162xC-A",
            smaller: None,
        },
        // stm32l151xd.h:672,683, stm32l152xd.h, stm32l162xd.h (0x08082FFF).
        EepromPart {
            flash_kib: &[384],
            region: MemRegion::new(EEPROM_BASE, 12 * KIB),
            parts: "STM32L151xD, STM32L152xD, STM32L162xD",
            smaller: None,
        },
    ],
    user_option: &super::options::OB_USER_L1_BFB2,
    ..L1
};
static DIE_437: Variant = Variant {
    header: "stm32l152xe",
    // stm32l151xe.h:629,638, stm32l151xdx.h, stm32l152xe.h, stm32l162xe.h (0x08083FFF).
    eeprom: &[EepromPart {
        flash_kib: &[384, 512],
        region: MemRegion::new(EEPROM_BASE, 16 * KIB),
        parts: "STM32L151xE, STM32L152xE, STM32L162xE, STM32L151xD-X, STM32L152xD-X, STM32L162xD-X",
        smaller: None,
    }],
    user_option: &super::options::OB_USER_L1_BFB2,
    ..L1
};

pub static CHIPS: &[Chip] = &[
    Chip {
        dev_id: 0x457,
        uid: Uid::l0l1(0x1FF8_0050),
        also_reports: &[],
        name: "STM32L0xxx_Cat_1",
        parts: "STM32L011, STM32L021, STM32L010x4",
        family: "STM32L0",
        reference_manual: "RM0377",
        core: Core::M0Plus,
        core_ap: 0,
        controller: Controller::L0L1(&DIE_457),
        flash_size_reg: L0_SIZE_REG,
        max_flash_kib: 16,
        flash: L0_FLASH,
        // embassy stm32-data chip files: 2 KiB (CMSIS stm32l011xx.h SRAM_SIZE_MAX 0x800); stlink says 8 KiB
        // (stlink v1.8.0's behaviour).
        sram: MemRegion::new(0x2000_0000, 2 * KIB),
        extra_ram: &[],
        system_memory: L0_SYSMEM_4K,
        option_bytes: Some(L0_OPTION_BYTES),
        otp: None,
        watchdog_freeze: L0_FREEZE,
        flash_size_quirk: FlashSizeQuirk::NONE,
        crc: Some(L0_CRC),
    },
    Chip {
        dev_id: 0x425,
        uid: Uid::l0l1(0x1FF8_0050),
        also_reports: &[],
        name: "STM32L0xxx_Cat_2",
        parts: "STM32L031, STM32L041, STM32L010x6",
        family: "STM32L0",
        reference_manual: "RM0377",
        core: Core::M0Plus,
        core_ap: 0,
        controller: Controller::L0L1(&DIE_425),
        flash_size_reg: L0_SIZE_REG,
        max_flash_kib: 32,
        flash: L0_FLASH,
        sram: MemRegion::new(0x2000_0000, 8 * KIB),
        extra_ram: &[],
        system_memory: L0_SYSMEM_4K,
        option_bytes: Some(L0_OPTION_BYTES),
        otp: None,
        watchdog_freeze: L0_FREEZE,
        flash_size_quirk: FlashSizeQuirk::NONE,
        crc: Some(L0_CRC),
    },
    Chip {
        dev_id: 0x417,
        uid: Uid::l0l1(0x1FF8_0050),
        also_reports: &[],
        name: "STM32L0xxx_Cat_3",
        parts: "STM32L051, STM32L052, STM32L053, STM32L062, STM32L063, STM32L010x8",
        family: "STM32L0",
        reference_manual: "RM0367/RM0376/RM0377",
        core: Core::M0Plus,
        core_ap: 0,
        controller: Controller::L0L1(&DIE_417),
        flash_size_reg: L0_SIZE_REG,
        max_flash_kib: 64,
        flash: L0_FLASH,
        sram: MemRegion::new(0x2000_0000, 8 * KIB),
        extra_ram: &[],
        system_memory: L0_SYSMEM_4K,
        option_bytes: Some(L0_OPTION_BYTES),
        otp: None,
        watchdog_freeze: L0_FREEZE,
        flash_size_quirk: FlashSizeQuirk::NONE,
        crc: Some(L0_CRC),
    },
    Chip {
        dev_id: 0x447,
        uid: Uid::l0l1(0x1FF8_0050),
        also_reports: &[],
        name: "STM32L0xxx_Cat_5",
        parts: "STM32L071, STM32L072, STM32L073, STM32L081, STM32L082, STM32L083, STM32L010xB",
        family: "STM32L0",
        reference_manual: "RM0367/RM0376/RM0377",
        core: Core::M0Plus,
        core_ap: 0,
        controller: Controller::L0L1(&DIE_447),
        flash_size_reg: L0_SIZE_REG,
        max_flash_kib: 192,
        // Two physical banks (read-while-write) split at half the flash; the
        // 192 KiB split at 0x08018000 is assumed (RM0377/RM0367 not checked)
        // but does not matter here: the banks are contiguous, erased by
        // address through one PECR, so the layout is one bank.
        flash: L0_FLASH,
        sram: MemRegion::new(0x2000_0000, 20 * KIB),
        extra_ram: &[],
        system_memory: SYSMEM_8K,
        option_bytes: Some(L0_OPTION_BYTES),
        otp: None,
        watchdog_freeze: L0_FREEZE,
        flash_size_quirk: FlashSizeQuirk::NONE,
        crc: Some(L0_CRC),
    },
    Chip {
        dev_id: 0x416,
        uid: Uid::l0l1(0x1FF8_0050),
        also_reports: &[],
        name: "STM32L1xx_Cat_1",
        parts: "STM32L100x6/x8/xB, STM32L151x6/x8/xB, STM32L152x6/x8/xB",
        family: "STM32L1",
        reference_manual: "RM0038",
        core: Core::M3,
        core_ap: 0,
        controller: Controller::L0L1(&DIE_416),
        flash_size_reg: L1_SIZE_REG_SMALL,
        max_flash_kib: 128,
        flash: L1_FLASH,
        sram: MemRegion::new(0x2000_0000, 16 * KIB),
        extra_ram: &[],
        system_memory: SYSMEM_8K,
        option_bytes: Some(L1_OPTION_BYTES),
        otp: None,
        watchdog_freeze: L1_FREEZE,
        // Cat.1 and cat.2 keep the size in the low byte (ST's HAL
        // stm32l1xx_hal_flash.h:122-123, `FLASH_SIZE_RAW` & 0xFF for
        // FLASH_CUT1/FLASH_CUT2).
        flash_size_quirk: FlashSizeQuirk::Mask(0xFF),
        crc: Some(L1_CRC),
    },
    Chip {
        dev_id: 0x429,
        uid: Uid::l0l1(0x1FF8_0050),
        also_reports: &[],
        name: "STM32L1xx_Cat_2",
        parts: "STM32L100x6-A/x8-A/xB-A, STM32L151x6-A/x8-A/xB-A, STM32L152x6-A/x8-A/xB-A",
        family: "STM32L1",
        reference_manual: "RM0038",
        core: Core::M3,
        core_ap: 0,
        controller: Controller::L0L1(&DIE_429),
        flash_size_reg: L1_SIZE_REG_SMALL,
        max_flash_kib: 128,
        flash: L1_FLASH,
        sram: MemRegion::new(0x2000_0000, 32 * KIB),
        extra_ram: &[],
        system_memory: SYSMEM_8K,
        option_bytes: Some(L1_OPTION_BYTES),
        otp: None,
        watchdog_freeze: L1_FREEZE,
        // The low byte, as on cat.1 (stm32l1xx_hal_flash.h:122-123).
        flash_size_quirk: FlashSizeQuirk::Mask(0xFF),
        crc: Some(L1_CRC),
    },
    Chip {
        dev_id: 0x427,
        uid: Uid::l0l1(0x1FF8_00D0),
        also_reports: &[],
        name: "STM32L1xx_Cat_3",
        parts: "STM32L100xC, STM32L151xC, STM32L152xC, STM32L162xC",
        family: "STM32L1",
        reference_manual: "RM0038",
        core: Core::M3,
        core_ap: 0,
        controller: Controller::L0L1(&DIE_427),
        flash_size_reg: L1_SIZE_REG,
        max_flash_kib: 256,
        flash: L1_FLASH,
        sram: MemRegion::new(0x2000_0000, 32 * KIB),
        extra_ram: &[],
        system_memory: SYSMEM_8K,
        option_bytes: Some(L1_OPTION_BYTES),
        otp: None,
        watchdog_freeze: L1_FREEZE,
        flash_size_quirk: FlashSizeQuirk::NONE,
        crc: Some(L1_CRC),
    },
    Chip {
        dev_id: 0x436,
        uid: Uid::l0l1(0x1FF8_00D0),
        also_reports: &[],
        name: "STM32L1xx_Cat_4",
        parts: "STM32L151xD, STM32L152xD, STM32L162xD, STM32L151xC-A, STM32L152xC-A, STM32L162xC-A",
        family: "STM32L1",
        reference_manual: "RM0038",
        core: Core::M3,
        core_ap: 0,
        controller: Controller::L0L1(&DIE_436),
        flash_size_reg: L1_SIZE_REG,
        max_flash_kib: 384,
        // 384 KiB: bank 2 at 0x08030000, right after bank 1 (CMSIS
        // `stm32l151xd.h` FLASH_BANK2_BASE): contiguous, one PECR, one bank here.
        flash: L1_FLASH,
        sram: MemRegion::new(0x2000_0000, 48 * KIB),
        extra_ram: &[],
        system_memory: SYSMEM_8K,
        option_bytes: Some(L1_OPTION_BYTES_LARGE),
        otp: None,
        watchdog_freeze: L1_FREEZE,
        // The register reads 0 for 384 KiB and 1 for 256 KiB (the die's CMSIS `FLASHSIZE_BASE`).
        flash_size_quirk: FlashSizeQuirk::L1Cat4,
        crc: Some(L1_CRC),
    },
    Chip {
        dev_id: 0x437,
        uid: Uid::l0l1(0x1FF8_00D0),
        also_reports: &[],
        name: "STM32L1xx_Cat_5",
        parts: "STM32L151xE, STM32L152xE, STM32L162xE, STM32L151xD-X, STM32L152xD-X, STM32L162xD-X",
        family: "STM32L1",
        reference_manual: "RM0038",
        core: Core::M3,
        core_ap: 0,
        controller: Controller::L0L1(&DIE_437),
        flash_size_reg: L1_SIZE_REG,
        max_flash_kib: 512,
        flash: L1_CAT5_FLASH,
        sram: MemRegion::new(0x2000_0000, 80 * KIB),
        extra_ram: &[],
        system_memory: SYSMEM_8K,
        option_bytes: Some(L1_OPTION_BYTES_LARGE),
        otp: None,
        watchdog_freeze: L1_FREEZE,
        flash_size_quirk: FlashSizeQuirk::NONE,
        crc: Some(L1_CRC),
    },
];

/// The addresses any part of a DEV_ID may have data EEPROM at (the largest
/// part's; the connected part's own is `DataEeprom::area`), if it has one.
pub fn data_eeprom(dev_id: u16) -> Option<MemRegion> {
    let chip = CHIPS.iter().find(|c| c.dev_id == dev_id)?;
    match chip.controller {
        Controller::L0L1(v) => eeprom_span(v),
        _ => None,
    }
}

/// The addresses the die's largest part has data EEPROM at, if it has one.
fn eeprom_span(v: &Variant) -> Option<MemRegion> {
    let end = v.eeprom.iter().map(|p| p.region.end()).max()?;
    Some(MemRegion::new(EEPROM_BASE, (end - EEPROM_BASE as u64) as u32))
}

/// The facts of a row of this table, by the names of ST's headers.
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    let Controller::L0L1(v) = c.controller else { return };
    let l0 = v.base == L0.base;
    let freeze: &[(&str, &str)] = if l0 {
        &[
            ("RCC_BASE+RCC_TypeDef.APB2ENR", "RCC_APB2ENR_DBGEN"),
            ("DBGMCU_BASE+DBGMCU_TypeDef.APB1FZ", "DBGMCU_APB1_FZ_DBG_WWDG_STOP|DBGMCU_APB1_FZ_DBG_IWDG_STOP"),
        ]
    } else {
        &[("DBGMCU_BASE+DBGMCU_TypeDef.APB1FZ", "DBGMCU_APB1_FZ_DBG_WWDG_STOP|DBGMCU_APB1_FZ_DBG_IWDG_STOP")]
    };
    f.table(
        c,
        &TableNames {
            flash_base: "FLASH_BASE",
            // HAL: L0 `FLASH_SIZE`, L1 `FLASH_SIZE_RAW` (the mask per die).
            flash_size_mask: if l0 { "FLASH_SIZE.mask" } else { "FLASH_SIZE_RAW.mask" },
            idcode: "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE",
            crc_base: "CRC_BASE",
            crc_clock: ("RCC_BASE+RCC_TypeDef.AHBENR", "RCC_AHBENR_CRCEN"),
            freeze,
        },
    );
    f.number("FLASH_PAGE_SIZE", c.flash.sectors[0].1 as u64);
    if let Some(Bank2Base::Fixed(bank2)) = c.flash.dual.map(|d| d.bank2) {
        f.number("FLASH_BANK2_BASE", bank2 as u64);
    }
    if let Some(ob) = c.option_bytes {
        f.number("OB_BASE", ob.base as u64);
    }
    // The L1 headers give no SRAM size.
    if l0 {
        f.number("SRAM_SIZE_MAX", c.sram.size as u64);
    }
    // The data EEPROM: its base on every part, its end on the largest (the
    // value-line parts of a DEV_ID have less: `eeprom.rs`).
    f.number(if l0 { "DATA_EEPROM_BASE" } else { "FLASH_EEPROM_BASE" }, EEPROM_BASE as u64);
    if let Some(region) = eeprom_span(v) {
        f.scope(Scope::Part(v.header)).number(v.eeprom_end_header, region.end() - 1).scope(Scope::Die);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::FlashLayout;

    #[test]
    fn every_l0_l1_chip_is_erased_to_zero_and_programs_half_pages() {
        for c in CHIPS {
            assert_eq!(c.flash.erased, 0x00, "{}", c.name);
            let page = c.flash.sectors[0].1;
            assert_eq!(c.flash.write_unit, page / 2, "{}: half page", c.name);
            assert!(data_eeprom(c.dev_id).is_some(), "{}", c.name);
        }
    }

    #[test]
    fn l1_cat5_384k_has_a_hole_before_bank2() {
        let chip = CHIPS.iter().find(|c| c.dev_id == 0x437).unwrap();
        let l = FlashLayout::dual(&chip.flash, 384 * KIB);
        assert_eq!(l.banks[0].end(), 0x0803_0000);
        assert_eq!(l.banks[1].base, 0x0804_0000);
        assert!(l.check_range(0x0803_0000, 4).is_err());
        let l = FlashLayout::dual(&chip.flash, 512 * KIB);
        assert_eq!(l.banks[0].end(), l.banks[1].base as u64, "512 KiB is contiguous");
    }

    #[test]
    fn l1_size_quirks() {
        let cat2 = CHIPS.iter().find(|c| c.dev_id == 0x429).unwrap();
        assert_eq!(cat2.flash_size_quirk.decode(0xFF80), Some(128));
        let cat4 = CHIPS.iter().find(|c| c.dev_id == 0x436).unwrap();
        assert_eq!(cat4.flash_size_quirk.decode(0), Some(384));
        assert_eq!(cat4.flash_size_quirk.decode(1), Some(256));
    }
}
