//! The chip table: what stflash knows about each STM32 die, as data.
//!
//! One entry per DEV_ID (the low 12 bits of DBGMCU_IDCODE). Family files hold
//! the entries; this module holds the types and the lookup. A newcomer adding a
//! chip edits one table row; a flash driver reads geometry from here instead of
//! branching on part numbers.
//!
//! stlink lines cited here are those of stlink-org/stlink at commit 733893a
//! unless tag v1.8.0 is named; OpenOCD lines those of its master branch at
//! abbbc2e05.

use std::fmt;

/// Cortex-M core, from CPUID.PARTNO (CPUID layout: ARMv7-M Architecture
/// Reference Manual, ARM DDI 0403E §B3.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Core {
    M0,
    M0Plus,
    M3,
    M4,
    M7,
    M33,
}

impl Core {
    /// CPUID.PARTNO values (OpenOCD src/target/cortex_m.h:34-67; stlink
    /// src/stlink-lib/register.h:10-18).
    pub fn from_partno(partno: u16) -> Option<Core> {
        Some(match partno {
            0xC20 => Core::M0,
            0xC60 => Core::M0Plus,
            0xC23 => Core::M3,
            0xC24 => Core::M4,
            0xC27 => Core::M7,
            0xD21 => Core::M33,
            _ => return None,
        })
    }
    pub fn partno(self) -> u16 {
        match self {
            Core::M0 => 0xC20,
            Core::M0Plus => 0xC60,
            Core::M3 => 0xC23,
            Core::M4 => 0xC24,
            Core::M7 => 0xC27,
            Core::M33 => 0xD21,
        }
    }
}

impl fmt::Display for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Core::M0 => "Cortex-M0",
            Core::M0Plus => "Cortex-M0+",
            Core::M3 => "Cortex-M3",
            Core::M4 => "Cortex-M4",
            Core::M7 => "Cortex-M7",
            Core::M33 => "Cortex-M33",
        })
    }
}

pub use crate::family::Controller;

/// The 96-bit unique device ID: three 32-bit words at `base`, `base + 4`
/// and `base + third` (8 on every family but L0/L1, where the third word is
/// at +0x14: HAL `HAL_GetUIDw2` in stm32l0xx_hal.c and stm32l1xx_hal.c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uid {
    pub base: u32,
    pub third: u32,
}

impl Uid {
    pub const fn at(base: u32) -> Uid {
        Uid { base, third: 8 }
    }
    pub const fn l0l1(base: u32) -> Uid {
        Uid { base, third: 0x14 }
    }
    /// The three word addresses, in the order the ID's bytes are given.
    pub fn words(&self) -> [u32; 3] {
        [self.base, self.base + 4, self.base + self.third]
    }
}

/// A contiguous memory range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemRegion {
    pub base: u32,
    pub size: u32,
}

impl MemRegion {
    pub const fn new(base: u32, size: u32) -> Self {
        MemRegion { base, size }
    }
    pub fn end(&self) -> u64 {
        self.base as u64 + self.size as u64
    }
    pub fn contains(&self, addr: u32) -> bool {
        addr >= self.base && (addr as u64) < self.end()
    }
    /// True when `[addr, addr+len)` lies entirely inside.
    pub fn contains_range(&self, addr: u32, len: u64) -> bool {
        addr >= self.base && addr as u64 + len <= self.end()
    }
}

/// Where bank 2 starts when a part runs in dual-bank mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bank2Base {
    /// Bank 2 directly follows bank 1: base + flash size / 2.
    Half,
    /// Bank 2 always starts here, whatever the flash size (leaving a hole on
    /// smaller parts: H7 0x08100000, G4 cat.3 0x08040000).
    Fixed(u32),
    /// Bank 1 always holds this many bytes and bank 2 directly follows it with
    /// the rest, so the banks differ in size on some parts (F1 XL-density: bank 1
    /// = 512 KiB, bank 2 = 256 or 512 KiB at 0x08080000: RM0008; OpenOCD
    /// src/flash/nor/stm32f1x.c:992-999).
    FullBank1(u32),
}

/// Geometry of the dual-bank mode of a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DualBank {
    /// Erase units of each bank in dual-bank mode, as runs of (count, size);
    /// the last run repeats until the bank is full.
    pub sectors: &'static [(u32, u32)],
    pub bank2: Bank2Base,
}

/// Flash geometry as data. Which mode (single or dual) is in force is decided
/// by the family driver, from the flash size or from option bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlashSpec {
    /// Start of main flash (0x08000000 on every STM32 here).
    pub base: u32,
    /// Erase units in single-bank mode, as runs of (count, size); the last run
    /// repeats until the flash size is reached.
    pub sectors: &'static [(u32, u32)],
    /// Dual-bank geometry, where the part has (or can have) two banks.
    pub dual: Option<DualBank>,
    /// The programming unit ("flash word") in bytes.
    pub write_unit: u32,
    /// Value of an erased byte (0xFF; 0x00 on L0/L1).
    pub erased: u8,
}

/// One row of the chip table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chip {
    /// DBGMCU_IDCODE bits 11:0.
    pub dev_id: u16,
    /// Where the 96-bit unique device ID is (CMSIS `UID_BASE`).
    pub uid: Uid,
    /// Other DEV_IDs this die reports, told apart from the rows that own
    /// them by the core: early STM32F405/F407 report the F2's 0x411 but have
    /// a Cortex-M4 where the F2 has a Cortex-M3 (ES0182 §2.2.1; stlink
    /// src/stlink-lib/common.c:191-195 and OpenOCD src/flash/nor/stm32f2x.c:967-971
    /// apply the same rule).
    pub also_reports: &'static [u16],
    /// The name st-flash prints in its connect line (its `dev_type`), corrected
    /// where st-flash's is wrong.
    pub name: &'static str,
    /// Part numbers covered, for people.
    pub parts: &'static str,
    /// Family name used in messages ("STM32H7", "STM32F4"…).
    pub family: &'static str,
    /// The reference manual that describes the flash controller.
    pub reference_manual: &'static str,
    pub core: Core,
    /// The access port the Cortex-M core (its debug registers, SRAM, flash)
    /// is reached through: 0 on most parts; 1 on STM32H5, WBA5 and H7R/S,
    /// whose AP0 reaches only the DBGMCU (probe-rs PR #1575 for the H563;
    /// OpenOCD tcl/target/stm32wba5x.cfg:45, stm32h7rsx.cfg:50-51; ST's CMSIS
    /// packs as converted in probe-rs targets/*.yaml `core_access_options`).
    /// Identification finds the core before the chip is known (AP0, then
    /// AP1: `mcu::identify`); this says which the row expects.
    pub core_ap: u8,
    pub controller: Controller,
    /// Address of the 16-bit flash-size register (KiB): CMSIS `FLASHSIZE_BASE`
    /// (e.g. cmsis_device_h7 13ba9da stm32h743xx.h:2085, stm32h7a3xx.h:1979) or
    /// stlink's chip files (config/chips/*.chip `flash_size_reg`).
    pub flash_size_reg: u32,
    /// Flash size assumed when the register reads 0 or 0xFFFF, as CMSIS does
    /// (cmsis_device_h7 13ba9da stm32h743xx.h:10665-10667, stm32h7a3xx.h:8621-8623)
    /// and OpenOCD (src/flash/nor/stm32h7x.c:926-927).
    pub max_flash_kib: u32,
    pub flash: FlashSpec,
    /// The SRAM st-flash treats as "the" SRAM (contiguous from its base).
    pub sram: MemRegion,
    /// Other RAM regions a user may read or write (AXI SRAM, CCM…).
    pub extra_ram: &'static [MemRegion],
    /// Bootloader ROM (AN2606 Table 226), read by `--area=system`.
    pub system_memory: MemRegion,
    /// Memory-mapped option bytes, if the family has them.
    pub option_bytes: Option<MemRegion>,
    /// One-time-programmable area, if any.
    pub otp: Option<MemRegion>,
    /// DBGMCU freeze bits that stop the watchdogs while the core is halted:
    /// (register address, bits to set).
    pub watchdog_freeze: &'static [(u32, u32)],
    /// How to read the flash-size register's value.
    pub flash_size_quirk: FlashSizeQuirk,
    /// The CRC peripheral, if stflash knows where it is.
    pub crc: Option<CrcPeripheral>,
}

/// The CRC calculation unit (the CRC peripheral, not the H7 flash CRC), used
/// to hash flash for skip-unchanged and verification. Every STM32 has one:
/// DR +0x00, IDR +0x04, CR +0x08 (RESET bit 0; REV_IN, REV_OUT, POLYSIZE
/// where INIT exists), INIT +0x10, POL +0x14; reset state CRC-32/MPEG-2 over
/// 32-bit words (polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no
/// reflection: RM0090 §4, CRC calculation unit). Addresses from ST's CMSIS
/// device headers (`CRC_BASE`, `RCC_*ENR_CRCEN_Pos`, `CRC_TypeDef`), cited per
/// family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrcPeripheral {
    pub base: u32,
    /// RCC enable register and its CRCEN bit: the clock must run before the
    /// registers respond.
    pub clock_enable: (u32, u32),
    /// INIT (programmable initial value) exists.
    pub init: bool,
    /// POL (programmable polynomial) exists.
    pub pol: bool,
    /// Expected time per word when code on the core feeds it from flash at
    /// the reset clock: about 8 cycles (the unit's 4 AHB cycles,
    /// RM0090 §4.3, plus load, store and branch), for scheduling polls only.
    pub word_ns: u32,
}

/// How the flash-size register's half-word gives the size in KiB.
///
/// ST's device headers keep only some of its bits on some dies (their
/// `FLASH_SIZE` macro): 12 on H7 (cmsis-device-h7 stm32h743xx.h:10665-10667,
/// stm32h7a3xx.h:8621-8623) and L5 (cmsis_device_l5 stm32l552xx.h `FLASH_SIZE`),
/// 7 on G03x-G06x (cmsis-device-g0 stm32g031xx.h:563, stm32g051xx.h:603), 8
/// on G07x/G08x (stm32g071xx.h:642), 10 on G0Bx/G0Cx (stm32g0b1xx.h:756), 11
/// on WB (cmsis-device-wb stm32wb55xx.h:935), 8 on L1 categories 1 and 2 (ST
/// HAL stm32l1xx_hal_flash.h:122-123 `FLASH_SIZE_RAW`; stlink v1.8.0
/// src/stlink-lib/common.c:272-280 reads the low byte of 0x429 too); all 16
/// elsewhere. A register that reads 0 or 0xFFFF (erased, or not readable)
/// gives no size, as in ST's headers, which then assume the largest part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashSizeQuirk {
    /// The half-word's bits in this mask are the size in KiB (0xFFFF: all).
    Mask(u16),
    /// 0 means 384 KiB and 1 means 256 KiB (L1 DEV_ID 0x436: stlink v1.8.0
    /// src/stlink-lib/common.c:272-280).
    L1Cat4,
}

impl Default for FlashSizeQuirk {
    fn default() -> Self {
        FlashSizeQuirk::NONE
    }
}

impl FlashSizeQuirk {
    /// All 16 bits are the size.
    pub const NONE: FlashSizeQuirk = FlashSizeQuirk::Mask(0xFFFF);

    /// The bits of the register that hold the size.
    pub fn mask(self) -> u16 {
        match self {
            FlashSizeQuirk::Mask(mask) => mask,
            FlashSizeQuirk::L1Cat4 => 0xFFFF,
        }
    }

    /// KiB from the register's half-word; `None` when the value is not a size.
    pub fn decode(self, raw: u16) -> Option<u32> {
        let kib = match self {
            FlashSizeQuirk::L1Cat4 if raw == 0 => 384,
            FlashSizeQuirk::L1Cat4 if raw == 1 => 256,
            _ if raw == 0 || raw == 0xFFFF => return None,
            quirk => (raw & quirk.mask()) as u32,
        };
        (kib != 0).then_some(kib)
    }
}

/// A stand-in used while a target is being identified.
pub static UNIDENTIFIED: Chip = Chip {
    dev_id: 0,
    uid: Uid::at(0),
    also_reports: &[],
    name: "unknown",
    parts: "",
    family: "unknown",
    reference_manual: "",
    core: Core::M0,
    core_ap: 0,
    controller: Controller::Unidentified,
    flash_size_reg: 0,
    max_flash_kib: 0,
    flash: FlashSpec { base: 0x0800_0000, sectors: &[(1, 1024)], dual: None, write_unit: 2, erased: 0xFF },
    sram: MemRegion::new(0x2000_0000, 0),
    extra_ram: &[],
    system_memory: MemRegion::new(0, 0),
    option_bytes: None,
    otp: None,
    watchdog_freeze: &[],
    flash_size_quirk: FlashSizeQuirk::NONE,
    crc: None,
};

impl Chip {
    /// Every RAM region of the chip, primary SRAM first.
    pub fn ram_regions(&self) -> impl Iterator<Item = MemRegion> + '_ {
        std::iter::once(self.sram).chain(self.extra_ram.iter().copied())
    }
}

/// Every known chip, one row per DEV_ID (the families' tables, in the
/// order of [`crate::family::FAMILIES`]).
pub fn all() -> impl Iterator<Item = &'static Chip> {
    crate::family::FAMILIES.iter().flat_map(|f| f.chips.iter())
}

/// Look up a DEV_ID.
pub fn find(dev_id: u16) -> Option<&'static Chip> {
    all().find(|c| c.dev_id == dev_id)
}

/// The row of a chip that reports `dev_id` and has `core`: its own row when
/// the core matches, else a row that also reports that DEV_ID with this core
/// ([`Chip::also_reports`]), else its own row.
pub fn identify(dev_id: u16, core: Core) -> Option<&'static Chip> {
    let own = find(dev_id);
    if own.is_some_and(|c| c.core == core) {
        return own;
    }
    all().find(|c| c.core == core && c.also_reports.contains(&dev_id)).or(own)
}

/// Look up by a user-given name: a DEV_ID ("0x480"), the st-flash name
/// ("STM32H7Ax_H7Bx") or a part number covered by a row's `parts`
/// ("H7A3", "stm32h7a3zi"; an `x` in the table stands for any character).
pub fn find_by_name(name: &str) -> Option<&'static Chip> {
    let n = name.trim().to_ascii_uppercase();
    if let Some(hex) = n.strip_prefix("0X") {
        if let Ok(id) = u16::from_str_radix(hex, 16) {
            return find(id);
        }
    }
    let bare = n.strip_prefix("STM32").unwrap_or(&n);
    all()
        .find(|c| c.name.eq_ignore_ascii_case(&n))
        .or_else(|| all().find(|c| c.parts.split([',', '/', ' ']).any(|token| part_matches(token, bare))))
}

/// A `parts` token ("STM32F103x8") names `bare` ("F103C8T6"). Fragments such
/// as the "B" of "F103x8/B" are too short to name a part and never match.
fn part_matches(token: &str, bare: &str) -> bool {
    let token = token.trim().to_ascii_uppercase();
    let token = token.strip_prefix("STM32").unwrap_or(&token);
    token.len() >= 4 && bare.len() >= token.len() && token.chars().zip(bare.chars()).all(|(t, b)| t == 'X' || t == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_ids_are_unique() {
        let mut ids: Vec<u16> = all().map(|c| c.dev_id).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate DEV_ID in the chip table");
    }

    #[test]
    fn every_chip_has_its_unique_id_address() {
        for c in all() {
            assert_ne!(c.uid.base, 0, "{}: no UID_BASE", c.name);
            assert!(c.uid.third == 8 || c.uid.third == 0x14, "{}", c.name);
        }
    }

    #[test]
    fn every_chip_has_consistent_flash_spec() {
        for c in all() {
            assert!(!c.flash.sectors.is_empty(), "{}: no sectors", c.name);
            assert!(c.flash.write_unit.is_power_of_two(), "{}", c.name);
            assert!(c.max_flash_kib > 0, "{}", c.name);
            assert!(c.flash.erased == 0xFF || c.flash.erased == 0x00, "{}", c.name);
        }
    }

    #[test]
    fn an_early_f405_reporting_the_f2_dev_id_is_told_apart_by_its_core() {
        assert_eq!(identify(0x411, Core::M3).unwrap().dev_id, 0x411, "an F2");
        assert_eq!(identify(0x411, Core::M4).unwrap().dev_id, 0x413, "an F405/F407 of revision A");
        assert_eq!(identify(0x413, Core::M4).unwrap().dev_id, 0x413);
        assert!(identify(0x123, Core::M4).is_none());
    }

    #[test]
    fn every_row_is_driven_by_its_familys_driver() {
        for family in crate::family::FAMILIES {
            for c in family.chips {
                assert!(std::ptr::eq(crate::family::of(c).unwrap(), *family), "{}", c.name);
                assert!((family.driver)(c, Some(3300)).is_some(), "{}: no driver for its own row", c.name);
            }
        }
    }

    #[test]
    fn every_chip_has_a_crc_peripheral_at_its_family_address() {
        for c in all() {
            let crc = c.crc.unwrap_or_else(|| panic!("{}: no CRC peripheral", c.name));
            // The H74x/H75x and H72x/H73x dies put it in the D3 domain, the
            // H7R/S at the same address.
            let d3 = matches!(c.dev_id, 0x450 | 0x483 | 0x485);
            assert_eq!(crc.base, if d3 { 0x5802_4C00 } else { 0x4002_3000 }, "{}", c.name);
            assert_eq!(crc.clock_enable.1.count_ones(), 1, "{}", c.name);
            assert!(crc.pol <= crc.init && crc.word_ns > 0, "{}", c.name);
        }
    }
}
