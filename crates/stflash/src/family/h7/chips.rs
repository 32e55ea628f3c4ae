//! STM32H7 (all but H7R/S): H74x/H75x and the dual-core H745/H747/H755/H757
//! (DEV_ID 0x450), H72x/H73x (0x483), H7A3/H7B3/H7B0 (0x480).
//! the reference manuals' memory maps; RM0433 §4, RM0455 §4, RM0468 §4
//!
//! Bank layout rule shared by every dual-bank H7 (OpenOCD
//! src/flash/nor/stm32h7x.c:937-951): bank 2 always starts at 0x08100000, each bank
//! holds half of the flash, so a 1 MiB part leaves 0x08080000-0x080FFFFF
//! unmapped; parts of 128 KiB (H750, H7B0) have bank 1 only. The driver
//! (`crate::flash::h7`) applies it to the flash size read from the chip.

use super::driver;
use crate::chip::{
    Bank2Base, Chip, Controller, Core, CrcPeripheral, DualBank, FlashSizeQuirk, FlashSpec, MemRegion, Uid,
};
use crate::facts::{Facts, Scope};

const KIB: u32 = 1024;

/// Bank 2 of every dual-bank H7 (RM0433 §4.3.5; stlink issue #1369).
const BANK2: Bank2Base = Bank2Base::Fixed(0x0810_0000);

/// DBGMCU freeze bits, same on all three dies: DBGMCU_APB3FZ1 (0x5C001034)
/// bit 6 stops WWDG1, DBGMCU_APB4FZ1 (0x5C001054) bit 18 stops IWDG1 while
/// the CM7 is halted (RM0433/RM0455/RM0468 DBGMCU chapter; ST SVD files as
/// converted in cmforthlib `stm32h750/dbgmcu.fs` and `stm32h7b0/dbgmcu.fs`:
/// APB3FZ1 offset 0x34 WWDG1 bit 6, APB4FZ1 offset 0x54 WDGLSD1 bit 18).
///
/// The dual-core H745/H747/H755/H757 also have WWDG2 (DBGMCU_APB1LFZ1 bit 11)
/// and IWDG2 (DBGMCU_APB4FZ1 bit 19, RM0399 SVD). They share DEV_ID 0x450
/// with the single-core parts, where those bits are reserved, so the row
/// does not set them: on a dual-core part a running CM4 watchdog is not
/// frozen by stflash.
const H7_FREEZE: &[(u32, u32)] = &[(0x5C00_1034, 1 << 6), (0x5C00_1054, 1 << 18)];

/// CRC peripheral. H74x/H75x/H72x/H73x: CRC_BASE = D3_AHB1PERIPH_BASE +
/// 0x4C00 = 0x58024C00, clock RCC_AHB4ENR (0x58024400 + 0xE0) CRCEN bit 19
/// (CMSIS stm32h743xx.h, stm32h723xx.h). H7A3/B3/B0: CRC_BASE =
/// CD_AHB1PERIPH_BASE + 0x3000 = 0x40023000, clock RCC_AHB1ENR CRCEN bit 9
/// (stm32h7a3xx.h:13541), at RCC_BASE 0x58024400 + 0x138 = 0x58024538: the
/// offset of `RCC_TypeDef.AHB1ENR` in stm32h7a3xx.h:1075-1145 (CKGAENR at
/// 0xB0, then `RESERVED10[31]`, RSR at 0x130, AHB3ENR 0x134, AHB1ENR 0x138;
/// stm32h7b0xx.h:1128 the same). The header's own member comments say 0xD8,
/// the H743's offset (stm32h743xx.h:1277, where 0xD0-0xF4 alias the per-core
/// registers at 0x130-0x154); the struct is what ST's HAL uses
/// (`__HAL_RCC_CRC_CLK_ENABLE` sets `RCC->AHB1ENR`, stm32h7xx_hal_rcc.h), and
/// ST's register data for the H7A3/B3 (embassy-rs stm32-data
/// `rcc_h7ab.yaml`) has AHB1ENR at 0x138 with nothing between 0xA8 and
/// 0x130. RM0455's RCC register map was not at hand. INIT and POL on both.
/// Reset clock HSI 64 MHz. stflash hashes H7 flash with the flash
/// interface's own CRC unit.
const H74X_CRC: CrcPeripheral =
    CrcPeripheral { base: 0x5802_4C00, clock_enable: (0x5802_44E0, 1 << 19), init: true, pol: true, word_ns: 125 };
const H7AB_CRC: CrcPeripheral = CrcPeripheral { base: 0x4002_3000, clock_enable: (0x5802_4538, 1 << 9), ..H74X_CRC };

/// The flash-size register keeps 12 bits (CMSIS `FLASH_SIZE`:
/// stm32h743xx.h:10665-10667, stm32h723xx.h:10815, stm32h7a3xx.h:8621-8623).
const SIZE_12_BITS: FlashSizeQuirk = FlashSizeQuirk::Mask(0x0FFF);

pub static CHIPS: &[Chip] = &[
    Chip {
        dev_id: 0x450,
        uid: Uid::at(0x1FF1_E800),
        also_reports: &[],
        name: "STM32H74x_H75x",
        // The dual-core H745/H747/H755/H757 share this DEV_ID (RM0399). stflash
        // identifies and programs them through the Cortex-M7 on AP0
        // (`core_ap`; OpenOCD tcl/target/stm32h7x.cfg:86,97: cpu0
        // (CM7) `-ap-num 0`, cpu1 (CM4) `-ap-num 3`). stflash selects one access port for the core (AP1
        // only where a chip has its core there) and never touches AP3, so
        // the Cortex-M4 is neither halted nor reset-held. If the CM4 runs
        // code from flash that is being erased it reads erased or
        // half-programmed words; clear BCM4 (FLASH_OPTSR_CUR bit 22,
        // stm32h745xx.h:11026 `FLASH_OPTSR_BCM4_Pos`) or keep the CM4 in a RAM loop
        // while flashing. stflash never writes BCM4/BCM7.
        parts: "STM32H742, STM32H743/753, STM32H750, STM32H745/755, STM32H747/757",
        family: "STM32H7",
        reference_manual: "RM0433 (RM0399 for the dual-core H745/H747/H755/H757)",
        core: Core::M7,
        core_ap: 0,
        controller: Controller::H7(&driver::H74X),
        // the die's CMSIS `FLASHSIZE_BASE` (CMSIS stm32h743xx.h:2085).
        flash_size_reg: 0x1FF1_E880,
        max_flash_kib: 2048,
        flash: FlashSpec {
            base: 0x0800_0000,
            // 128 KiB sectors (CMSIS stm32h743xx.h:10664-10671); the single-bank runs describe the
            // 128 KiB H750 (one sector, bank 1 only).
            sectors: &[(1, 128 * KIB)],
            dual: Some(DualBank { sectors: &[(1, 128 * KIB)], bank2: BANK2 }),
            // 256-bit flash word (CMSIS stm32h743xx.h:10671).
            write_unit: 32,
            erased: 0xFF,
        },
        // stlink's `sram_size` 128 KiB = DTCM at 0x20000000 (stlink
        // config/chips/H74x_H75x.chip).
        sram: MemRegion::new(0x2000_0000, 128 * KIB),
        // RM0433 memory map, H743 values (assumed, not checked; the H742 has
        // less AXI SRAM and SRAM1/2, accesses past its end fault]: ITCM,
        // AXI SRAM, SRAM1-3 (contiguous in D2), SRAM4 in D3.
        extra_ram: &[
            MemRegion::new(0x0000_0000, 64 * KIB),
            MemRegion::new(0x2400_0000, 512 * KIB),
            MemRegion::new(0x3000_0000, 288 * KIB),
            MemRegion::new(0x3800_0000, 64 * KIB),
        ],
        // AN2606 Table 226: 0x1FF00000-0x1FF1E7FF.
        system_memory: MemRegion::new(0x1FF0_0000, 0x1_E800),
        // Option bytes are registers on H7, not memory (CMSIS defines
        // them only as FLASH_OPTSR_* registers).
        option_bytes: None,
        otp: None,
        watchdog_freeze: H7_FREEZE,
        flash_size_quirk: SIZE_12_BITS,
        crc: Some(H74X_CRC),
    },
    Chip {
        dev_id: 0x483,
        uid: Uid::at(0x1FF1_E800),
        also_reports: &[],
        name: "STM32H72x_H73x",
        parts: "STM32H723/733, STM32H725/735, STM32H730",
        family: "STM32H7",
        reference_manual: "RM0468",
        core: Core::M7,
        core_ap: 0,
        controller: Controller::H7(&driver::H72X),
        // CMSIS stm32h723xx.h:2083.
        flash_size_reg: 0x1FF1_E880,
        max_flash_kib: 1024,
        flash: FlashSpec {
            base: 0x0800_0000,
            // Single bank of up to 8 x 128 KiB sectors, 256-bit flash word
            // (CMSIS stm32h723xx.h:10814-10821).
            sectors: &[(1, 128 * KIB)],
            dual: None,
            write_unit: 32,
            erased: 0xFF,
        },
        // stlink config/chips/H72x_H73x.chip: 128 KiB (DTCM).
        sram: MemRegion::new(0x2000_0000, 128 * KIB),
        // RM0468 memory map with the default TCM/AXI sharing (OPTSR2
        // TCM_AXI_SHARED = 0) (assumed, not checked): ITCM 64 KiB, AXI SRAM
        // 320 KiB, SRAM1+SRAM2 32 KiB, SRAM4 16 KiB.
        extra_ram: &[
            MemRegion::new(0x0000_0000, 64 * KIB),
            MemRegion::new(0x2400_0000, 320 * KIB),
            MemRegion::new(0x3000_0000, 32 * KIB),
            MemRegion::new(0x3800_0000, 16 * KIB),
        ],
        // AN2606 Table 226: 0x1FF00000-0x1FF1E7FF.
        system_memory: MemRegion::new(0x1FF0_0000, 0x1_E800),
        option_bytes: None,
        // No OTP on H72x/H73x (CMSIS stm32h723xx.h has no FLASH_OTP_BASE).
        otp: None,
        watchdog_freeze: H7_FREEZE,
        flash_size_quirk: SIZE_12_BITS,
        crc: Some(H74X_CRC),
    },
    Chip {
        dev_id: 0x480,
        uid: Uid::at(0x08FF_F800),
        also_reports: &[],
        name: "STM32H7Ax_H7Bx",
        parts: "STM32H7A3, STM32H7B3, STM32H7B0",
        family: "STM32H7",
        reference_manual: "RM0455",
        core: Core::M7,
        core_ap: 0,
        controller: Controller::H7(&driver::H7AB),
        // CMSIS stm32h7a3xx.h:1979.
        flash_size_reg: 0x08FF_F80C,
        // CMSIS maps 0xFFFF and 0 to 2 MiB (stm32h7a3xx.h:8621-8623).
        max_flash_kib: 2048,
        flash: FlashSpec {
            base: 0x0800_0000,
            // 8 KiB sectors, 128 per bank (CMSIS stm32h7a3xx.h:8620, :8625: not st-flash's
            // 128 KiB "pages"). Single-bank runs: the 128 KiB H7B0.
            sectors: &[(1, 8 * KIB)],
            dual: Some(DualBank { sectors: &[(1, 8 * KIB)], bank2: BANK2 }),
            // 128-bit flash word (CMSIS stm32h7a3xx.h:8627; not the 32 of
            // embassy's stm32-data-generated chip files).
            write_unit: 16,
            erased: 0xFF,
        },
        // DTCM 128 KiB at 0x20000000 (stlink config/chips/H7Ax_H7Bx.chip;
        // embassy stm32-data-generated data/chips/STM32H7A3ZI.json).
        sram: MemRegion::new(0x2000_0000, 128 * KIB),
        // embassy stm32-data-generated data/chips/STM32H7A3ZI.json: ITCM 64 KiB, AXI SRAM 1 MiB,
        // AHB SRAM 128 KiB.
        extra_ram: &[
            MemRegion::new(0x0000_0000, 64 * KIB),
            MemRegion::new(0x2400_0000, 1024 * KIB),
            MemRegion::new(0x3000_0000, 128 * KIB),
        ],
        // AN2606 Table 226: 0x1FF00000-0x1FF13FFF (stlink's 128 KiB is
        // larger).
        system_memory: MemRegion::new(0x1FF0_0000, 0x1_4000),
        option_bytes: None,
        // 1 KiB OTP at 0x08FFF000 (CMSIS stm32h7a3xx.h:1973-1974).
        otp: Some(MemRegion::new(0x08FF_F000, 1024)),
        watchdog_freeze: H7_FREEZE,
        flash_size_quirk: SIZE_12_BITS,
        crc: Some(H7AB_CRC),
    },
];

/// The facts of a row of this table, by the names of ST's headers.
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    let Controller::H7(v) = c.controller else { return };
    let n = v.names;
    f.table(c, &n.table);
    // The size ST assumes for an erased register: the largest part's.
    f.scope(Scope::Part(n.largest)).number("FLASH_SIZE.if_0xFFFF", c.max_flash_kib as u64 * 1024).scope(Scope::Die);
    if let Some(DualBank { bank2: Bank2Base::Fixed(bank2), .. }) = c.flash.dual {
        f.number("FLASH_BANK2_BASE", bank2 as u64);
    }
    if let Some(otp) = c.otp {
        f.number("FLASH_OTP_BASE", otp.base as u64).number("FLASH_OTP_END", otp.end() - 1);
    }
    for (r, name) in c.ram_regions().zip(n.rams) {
        f.number(*name, r.base as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_h7_row_has_bank2_at_0x08100000_or_none() {
        for c in CHIPS {
            if let Some(d) = c.flash.dual {
                assert_eq!(d.bank2, Bank2Base::Fixed(0x0810_0000), "{}", c.name);
            }
            assert_eq!(c.core, Core::M7);
        }
    }

    #[test]
    fn h7ab_row_corrects_st_flash() {
        let c = CHIPS.iter().find(|c| c.dev_id == 0x480).unwrap();
        assert_eq!(c.flash.sectors, &[(1, 8192)], "8 KiB sectors, not 128 KiB pages");
        assert_eq!(c.flash.write_unit, 16);
        assert_eq!(c.flash_size_reg, 0x08FF_F80C);
    }
}
