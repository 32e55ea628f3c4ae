//! STM32F0/F1/F3 option bytes (RM0008 §2.5 and
//! PM0075 §2.5, RM0091 §4, RM0316 §4.1/RM0364 §4.1).
//!
//! Up to sixteen bytes at 0x1FFFF800, as (value, complement) pairs: RDP,
//! USER, DATA0, DATA1, then WRP0 (10 bytes), WRP0-WRP1 (12) or WRP0-WRP3
//! (16) as the die has them (CMSIS `OB_TypeDef`; the chip table's
//! `option_bytes`). The memory words read in pairs of pairs: `OB_USER`
//! (0x1FFFF800: RDP | nRDP << 8 | USER << 16 | nUSER << 24, what st-flash's
//! `--area=option read` prints, e.g. `00ff5aa5` on a fresh F1), `OB_DATA`,
//! `OB_WRP01` and, on 16-byte dies, `OB_WRP23`. FLASH_OBR (0x4002201C)
//! shows the loaded user bits and data bytes: st-flash's `--area=optcr`.
//!
//! A change erases the whole option block and programs every half-word of
//! the die again (they are flash cells): unlock FLASH_CR (KEYR), then
//! OPTKEYR with the *main* keys (CMSIS `FLASH_OPTKEY1`/`2` =
//! `FLASH_KEY1`/`2`) sets OPTWRE; OPTER + STRT; OPTPG and one half-word
//! write per pair (the hardware stores the complement of the low byte in the
//! high byte); then the bytes are loaded by a reset: OBL_LAUNCH on F0/F3
//! (`FLASH_CR_OBL_LAUNCH`), a system reset on F1, which has no OBL_LAUNCH
//! (RM0008 §2.5, RM0091 §4). st-flash could not write these 4 bytes at all
//! (it required at least 12).
//!
//! With 2 KiB pages bit 7 of WRP3 protects every page from 62 to the end of
//! the flash (F1 high-density, XL and connectivity line, F09x, F3 above
//! 128 KiB: ST HAL `OB_WRP_PAGES62TO255` and kin).
//!
//! The protection in force is FLASH_WRPR, loaded from the WRP bytes at
//! reset: `FpController::write_protected` turns it into address ranges
//! for `FlashController::reserved_ranges`.
//!
//! Complements in a value given by the user must match (checked by the
//! generic code, which names the consistent value); stflash writes them as
//! the hardware computes them.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::chip::Chip;
use crate::facts::Facts;
use crate::family::f0f1f3::driver::{FpController, Series};
use crate::flash::options::{Field, FieldKind as K, Mask, OptionArea, OptionBytes, OptionWord, Reload, Show};
use crate::flash::reserved::{units_text, write_protected_runs};
use crate::flash::{engine, FlashController, FlashError, FlashLayout, Remedy, Reserved, KEY1, KEY2};
use crate::mcu::cortex_m as cm;
use crate::mcu::Target;

const BASE: u32 = 0x4002_2000;
const OPTKEYR: u32 = BASE + 0x08;
const SR: u32 = BASE + 0x0C;
const CR: u32 = BASE + 0x10;
const OBR: u32 = BASE + 0x1C;
const WRPR: u32 = BASE + 0x20;
/// The option block (CMSIS `OB_BASE`; its length is the chip table's).
const OB: u32 = 0x1FFF_F800;
/// The longest option block (WRP0-WRP3).
const OB_MAX: usize = 16;

// FLASH_CR (RM0091 §3.5.5; RM0008 §3.4.5).
const CR_OPTPG: u32 = 1 << 4;
const CR_OPTER: u32 = 1 << 5;
const CR_STRT: u32 = 1 << 6;
const CR_LOCK: u32 = 1 << 7;
const CR_OPTWRE: u32 = 1 << 9;
const CR_OBL_LAUNCH: u32 = 1 << 13;
const SR_EOP: u32 = 1 << 5;

/// Option erase: 30 ms typical (assumed, as a page erase); on a read-protected
/// chip the erase that precedes an RDP change can include a mass erase of the
/// flash (RM0008 §2.5), hence a generous timeout.
const OPTION_ERASE: Duration = Duration::from_millis(30);
const OPTION_TIMEOUT: Duration = Duration::from_secs(2);
const HALF_WORD: Duration = Duration::from_micros(53);

const SW: Show = Show::Flag("software", "hardware");
const NO_RESET: Show = Show::Flag("no", "yes");

macro_rules! f {
    ($name:expr, $shift:literal, $width:literal, $kind:expr, $show:expr, $meaning:expr) => {
        Field::new($name, $shift, $width, $kind, $show, $meaning)
    };
}

// Fields of the OB_USER word (the option bytes at 0x1FFFF800) that F0, F1
// and F3 share (CMSIS OB_TypeDef: RDP, USER and their complements).
const OB_NRDP: Field = f!("nRDP", 8, 8, K::Complement, Show::ComplementOf(0), "complement of RDP");
const OB_WDG_SW: Field = f!("WDG_SW", 16, 1, K::User, SW, "independent watchdog started by");
const OB_NRST_STOP: Field = f!("nRST_STOP", 17, 1, K::User, NO_RESET, "reset when entering Stop");
const OB_NRST_STDBY: Field = f!("nRST_STDBY", 18, 1, K::User, NO_RESET, "reset when entering Standby");
const OB_NUSER: Field = f!("nUSER", 24, 8, K::Complement, Show::ComplementOf(16), "complement of USER");
const OB_NBOOT1: Field = f!("nBOOT1", 20, 1, K::BootConfig, Show::Hex, "boot selection bit 1");
const OB_VDDA_MONITOR: Field = f!("VDDA_MONITOR", 21, 1, K::User, Show::Flag("on", "off"), "VDDA supervisor");

/// F1: RDP 0xA5 = unprotected, no level 2; USER bits 0-2 (RM0008 §2.5).
static OB_USER_F1: OptionWord = OptionWord {
    name: "OB_USER",
    addr: OB,
    fields: &[
        f!("RDP", 0, 8, K::Rdp, Show::Rdp { level0: 0xA5, level2: None }, "read-out protection"),
        OB_NRDP,
        OB_WDG_SW,
        OB_NRST_STOP,
        OB_NRST_STDBY,
        OB_NUSER,
    ],
};

/// F0: RDP 0xAA level 0, 0xCC level 2 (RM0091 §4.1; ST HAL
/// stm32f0xx_hal_flash_ex.h `OB_RDP_LEVEL_0`, `OB_RDP_LEVEL_2`).
static OB_USER_F0: OptionWord = OptionWord {
    name: "OB_USER",
    addr: OB,
    fields: &[
        f!("RDP", 0, 8, K::Rdp, Show::RDP, "read-out protection"),
        OB_NRDP,
        OB_WDG_SW,
        OB_NRST_STOP,
        OB_NRST_STDBY,
        OB_NBOOT1,
        OB_VDDA_MONITOR,
        f!("RAM_PARITY_CHECK", 22, 1, K::User, Show::Flag("off", "on"), "SRAM parity check"),
        OB_NUSER,
    ],
};

/// F04x/F09x: as F0, with nBOOT0 and BOOT_SEL (stm32f042x6.h, stm32f091xc.h
/// `FLASH_OBR_nBOOT0`, `FLASH_OBR_BOOT_SEL`).
static OB_USER_F0_BOOT_SEL: OptionWord = OptionWord {
    name: "OB_USER",
    addr: OB,
    fields: &[
        f!("RDP", 0, 8, K::Rdp, Show::RDP, "read-out protection"),
        OB_NRDP,
        OB_WDG_SW,
        OB_NRST_STOP,
        OB_NRST_STDBY,
        f!("nBOOT0", 19, 1, K::BootConfig, Show::Hex, "boot selection bit 0 (with BOOT_SEL = 0)"),
        OB_NBOOT1,
        OB_VDDA_MONITOR,
        f!("RAM_PARITY_CHECK", 22, 1, K::User, Show::Flag("off", "on"), "SRAM parity check"),
        f!("BOOT_SEL", 23, 1, K::BootConfig, Show::Flag("BOOT0 pin", "nBOOT0 bit"), "boot selected by"),
        OB_NUSER,
    ],
};

/// F3: as F0 without nBOOT0/BOOT_SEL; SRAM_PE in bit 6 (RM0316 §4.1).
static OB_USER_F3: OptionWord = OptionWord {
    name: "OB_USER",
    addr: OB,
    fields: &[
        f!("RDP", 0, 8, K::Rdp, Show::RDP, "read-out protection"),
        OB_NRDP,
        OB_WDG_SW,
        OB_NRST_STOP,
        OB_NRST_STDBY,
        OB_NBOOT1,
        OB_VDDA_MONITOR,
        f!("SRAM_PE", 22, 1, K::User, Show::Flag("off", "on"), "SRAM parity check"),
        OB_NUSER,
    ],
};

static OB_DATA: OptionWord = OptionWord {
    name: "OB_DATA",
    addr: OB + 4,
    fields: &[
        f!("DATA0", 0, 8, K::User, Show::Hex, "user data byte 0"),
        f!("nDATA0", 8, 8, K::Complement, Show::ComplementOf(0), "complement"),
        f!("DATA1", 16, 8, K::User, Show::Hex, "user data byte 1"),
        f!("nDATA1", 24, 8, K::Complement, Show::ComplementOf(16), "complement"),
    ],
};

/// Write protection: one bit per 4 KiB, 0 = protected: 4 pages of 1 KiB, or
/// 2 pages of 2 KiB where the last bit (WRP3 bit 7) protects every page from
/// 62 to the end of the flash (ST HAL stm32f1xx_hal_flash_ex.h
/// `OB_WRP_PAGES62TO255`/`62TO511`, stm32f3xx_hal_flash_ex.h
/// `OB_WRP_PAGES62TO127`/`62TO255`, stm32f0xx_hal_flash_ex.h
/// `OB_WRP_PAGES62TO127`; RM0008 §2.5, RM0091 §4.1).
macro_rules! wrp_word {
    ($name:literal, $addr:expr, $lo:literal, $hi:literal, $lo_mask:expr, $hi_mask:expr) => {
        OptionWord {
            name: $name,
            addr: $addr,
            fields: &[
                f!($lo, 0, 8, K::WriteProtect, Show::Protection($lo_mask), "write protection"),
                f!(concat!("n", $lo), 8, 8, K::Complement, Show::ComplementOf(0), "complement"),
                f!($hi, 16, 8, K::WriteProtect, Show::Protection($hi_mask), "write protection"),
                f!(concat!("n", $hi), 24, 8, K::Complement, Show::ComplementOf(16), "complement"),
            ],
        }
    };
}
const fn pages(per_bit: u32, first: u32) -> Mask {
    Mask::new("page", per_bit, first, true)
}
static OB_WRP01_1K: OptionWord = wrp_word!("OB_WRP01", OB + 8, "WRP0", "WRP1", pages(4, 0), pages(4, 32));
/// F030x4/x6, F031, F038, F04x, F070x6: WRP0 only (`OB_TypeDef`, 10 bytes).
static OB_WRP0_1K: OptionWord = OptionWord {
    name: "OB_WRP01",
    addr: OB + 8,
    fields: &[
        f!("WRP0", 0, 8, K::WriteProtect, Show::Protection(pages(4, 0)), "write protection"),
        f!("nWRP0", 8, 8, K::Complement, Show::ComplementOf(0), "complement"),
    ],
};
static OB_WRP23_1K: OptionWord = wrp_word!("OB_WRP23", OB + 12, "WRP2", "WRP3", pages(4, 64), pages(4, 96));
static OB_WRP01_2K: OptionWord = wrp_word!("OB_WRP01", OB + 8, "WRP0", "WRP1", pages(2, 0), pages(2, 16));
static OB_WRP23_2K: OptionWord = wrp_word!("OB_WRP23", OB + 12, "WRP2", "WRP3", pages(2, 32), pages(2, 48).to_end());

/// FLASH_WRPR (0x40022020): the WRP bytes as loaded at the last reset,
/// WRP0 in bits 7:0 … WRP3 in bits 31:24 (CMSIS stm32f103xb.h:334
/// `FLASH_TypeDef.WRPR`; ST HAL stm32f1xx_hal_flash_ex.c:1019
/// FLASH_OB_GetWRP returns it). What write protection is in force; read,
/// never written (the option bytes above are). The F0 headers give
/// `FLASH_WRPR_WRP` 16 bits on every F0 (stm32f030x6.h, stm32f072xb.h),
/// enough for the 10- and 12-byte option blocks; on the F07x/F09x, which
/// have WRP0-WRP3, ST's HAL reads and writes bits up to 31
/// (`OB_WRP_PAGES62TO127` = 0x80000000, stm32f0xx_hal_flash_ex.h) as
/// RM0091 §3.5.8 describes WRP[31:0]: those use 32 bits, as F1 and F3.
static WRPR_1K_16: OptionWord = OptionWord {
    name: "FLASH_WRPR",
    addr: WRPR,
    fields: &[f!("WRP", 0, 16, K::WriteProtect, Show::Protection(pages(4, 0)), "write protection in force")],
};
static WRPR_1K: OptionWord = OptionWord {
    name: "FLASH_WRPR",
    addr: WRPR,
    fields: &[f!("WRP", 0, 32, K::WriteProtect, Show::Protection(pages(4, 0)), "write protection in force")],
};
static WRPR_2K: OptionWord = OptionWord {
    name: "FLASH_WRPR",
    addr: WRPR,
    fields: &[f!("WRP", 0, 32, K::WriteProtect, Show::Protection(pages(2, 0).to_end()), "write protection in force")],
};

/// FLASH_OBR, F1 (RM0008 §3.4.6): OPTERR 0, RDPRT 1, USER 9:2, DATA0 17:10, DATA1 25:18.
static OBR_F1: OptionWord = OptionWord {
    name: "FLASH_OBR",
    addr: OBR,
    fields: &[
        OPTERR,
        f!("RDPRT", 1, 1, K::Status, Show::Flag("read-protected", "not protected"), "read protection in force"),
        f!("WDG_SW", 2, 1, K::User, SW, "independent watchdog started by"),
        f!("nRST_STOP", 3, 1, K::User, NO_RESET, "reset when entering Stop"),
        f!("nRST_STDBY", 4, 1, K::User, NO_RESET, "reset when entering Standby"),
        f!("DATA0", 10, 8, K::User, Show::Hex, "user data byte 0"),
        f!("DATA1", 18, 8, K::User, Show::Hex, "user data byte 1"),
    ],
};

// FLASH_OBR fields F0 and F3 share (stm32f030x6.h, stm32f303xc.h FLASH_OBR_*).
const OPTERR: Field = f!("OPTERR", 0, 1, K::Status, Show::Flag("option bytes inconsistent", ""), "status");
const RDPRT_F0F3: Field =
    f!("RDPRT", 1, 2, K::Status, Show::Choices(&[(0, "level 0"), (1, "level 1"), (3, "level 2")]), "read protection");
const WDG_SW_F0F3: Field = f!("WDG_SW", 8, 1, K::User, SW, "independent watchdog started by");
const NRST_STOP_F0F3: Field = f!("nRST_STOP", 9, 1, K::User, NO_RESET, "reset when entering Stop");
const NRST_STDBY_F0F3: Field = f!("nRST_STDBY", 10, 1, K::User, NO_RESET, "reset when entering Standby");
const NBOOT1_F0F3: Field = f!("nBOOT1", 12, 1, K::BootConfig, Show::Hex, "boot selection bit 1");
const VDDA_MONITOR: Field = f!("VDDA_MONITOR", 13, 1, K::User, Show::Flag("on", "off"), "VDDA supervisor");
const DATA0_F0F3: Field = f!("DATA0", 16, 8, K::User, Show::Hex, "user data byte 0");
const DATA1_F0F3: Field = f!("DATA1", 24, 8, K::User, Show::Hex, "user data byte 1");

/// FLASH_OBR, F0/F3 (RM0091 §3.5.7, RM0316 §4.5.7): OPTERR 0, RDPRT 2:1,
/// USER 15:8, DATA0 23:16, DATA1 31:24.
static OBR_F0: OptionWord = OptionWord {
    name: "FLASH_OBR",
    addr: OBR,
    fields: &[
        OPTERR,
        RDPRT_F0F3,
        WDG_SW_F0F3,
        NRST_STOP_F0F3,
        NRST_STDBY_F0F3,
        NBOOT1_F0F3,
        VDDA_MONITOR,
        f!("RAM_PARITY_CHECK", 14, 1, K::User, Show::Flag("off", "on"), "SRAM parity check"),
        DATA0_F0F3,
        DATA1_F0F3,
    ],
};

/// F04x/F09x: as F0, with nBOOT0 (bit 11) and BOOT_SEL (bit 15).
static OBR_F0_BOOT_SEL: OptionWord = OptionWord {
    name: "FLASH_OBR",
    addr: OBR,
    fields: &[
        OPTERR,
        RDPRT_F0F3,
        WDG_SW_F0F3,
        NRST_STOP_F0F3,
        NRST_STDBY_F0F3,
        f!("nBOOT0", 11, 1, K::BootConfig, Show::Hex, "boot selection bit 0"),
        NBOOT1_F0F3,
        VDDA_MONITOR,
        f!("RAM_PARITY_CHECK", 14, 1, K::User, Show::Flag("off", "on"), "SRAM parity check"),
        f!("BOOT_SEL", 15, 1, K::BootConfig, Show::Flag("BOOT0 pin", "nBOOT0 bit"), "boot selected by"),
        DATA0_F0F3,
        DATA1_F0F3,
    ],
};

static OBR_F3: OptionWord = OptionWord {
    name: "FLASH_OBR",
    addr: OBR,
    fields: &[
        OPTERR,
        RDPRT_F0F3,
        WDG_SW_F0F3,
        NRST_STOP_F0F3,
        NRST_STDBY_F0F3,
        NBOOT1_F0F3,
        VDDA_MONITOR,
        f!("SRAM_PE", 14, 1, K::User, Show::Flag("off", "on"), "SRAM parity check"),
        DATA0_F0F3,
        DATA1_F0F3,
    ],
};

impl FpController {
    fn family(&self) -> Series {
        self.variant().series
    }

    fn two_k_pages(&self) -> bool {
        self.chip().flash.sectors.first().is_some_and(|&(_, size)| size >= 2048)
    }

    fn obr_word(&self) -> &'static OptionWord {
        match (self.family(), self.variant().boot_sel) {
            (Series::F1, _) => &OBR_F1,
            (Series::F0, false) => &OBR_F0,
            (Series::F0, true) => &OBR_F0_BOOT_SEL,
            (Series::F3, _) => &OBR_F3,
        }
    }

    /// Bytes of the die's option block (the chip table's `option_bytes`).
    fn block_len(&self) -> usize {
        self.chip().option_bytes.map_or(OB_MAX, |ob| ob.size as usize).min(OB_MAX)
    }

    /// The stored option bytes with `changes` applied (value bytes only;
    /// complements are the hardware's business).
    fn new_block(&self, t: &mut Target, changes: &[(&'static OptionWord, u32)]) -> Result<Vec<u8>, FlashError> {
        let mut block = vec![0u8; self.block_len()];
        t.read_mem(OB, &mut block)?;
        for &(word, value) in changes {
            if word.addr == OBR {
                // FLASH_OBR layout → USER, DATA0, DATA1 bytes.
                let (user, data0, data1) = match self.family() {
                    Series::F1 => (value >> 2, value >> 10, value >> 18),
                    _ => (value >> 8, value >> 16, value >> 24),
                };
                block[2] = user as u8;
                block[4] = data0 as u8;
                block[6] = data1 as u8;
            } else {
                let at = (word.addr - OB) as usize;
                block[at] = value as u8;
                if let Some(high) = block.get_mut(at + 2) {
                    *high = (value >> 16) as u8;
                }
            }
        }
        Ok(block)
    }

    fn wait(&mut self, t: &mut Target, typical: Duration, what: &str) -> Result<(), FlashError> {
        engine::wait_idle(t, &*self, 0, typical, OPTION_TIMEOUT, what)
    }

    /// Erase and program the block (FLASH_CR unlocked, OPTWRE set): one
    /// half-word per option byte the die has.
    fn program_block(&mut self, t: &mut Target, block: &[u8]) -> Result<(), FlashError> {
        t.write32(CR, CR_OPTWRE | CR_OPTER)?;
        t.write32(CR, CR_OPTWRE | CR_OPTER | CR_STRT)?;
        self.wait(t, OPTION_ERASE, "erasing the option bytes")?;
        t.write32(CR, CR_OPTWRE | CR_OPTPG)?;
        for (pair, value) in block.iter().step_by(2).enumerate() {
            let addr = OB + 2 * pair as u32;
            t.write_mem_width(addr, &[*value, !value], 2)?;
            self.wait(t, HALF_WORD, &format!("programming option byte 0x{addr:08X}"))?;
        }
        t.write32(CR, CR_OPTWRE)?;
        t.write32(SR, SR_EOP)?;
        Ok(())
    }
}

impl FpController {
    /// FLASH_WRPR and the WRP option words of the die (WRP0, WRP0-WRP1 or
    /// WRP0-WRP3: [`FpController::block_len`]).
    fn wrp_words(&self) -> (&'static OptionWord, &'static [&'static OptionWord]) {
        static WRP0_1K: [&OptionWord; 1] = [&OB_WRP0_1K];
        static WRP01_1K: [&OptionWord; 1] = [&OB_WRP01_1K];
        static WRP03_1K: [&OptionWord; 2] = [&OB_WRP01_1K, &OB_WRP23_1K];
        static WRP01_2K: [&OptionWord; 1] = [&OB_WRP01_2K];
        static WRP03_2K: [&OptionWord; 2] = [&OB_WRP01_2K, &OB_WRP23_2K];
        match (self.two_k_pages(), self.block_len()) {
            (false, 10) => (&WRPR_1K_16, &WRP0_1K),
            (false, 12) => (&WRPR_1K_16, &WRP01_1K),
            (false, _) => (&WRPR_1K, &WRP03_1K),
            (true, 12) => (&WRPR_2K, &WRP01_2K),
            (true, _) => (&WRPR_2K, &WRP03_2K),
        }
    }

    /// The pages FLASH_WRPR (`wrpr`) protects, as address ranges of
    /// `layout`, each with the WRP option bytes that remove the protection
    /// (a WRPR bit n is bit n mod 8 of byte WRPn/8).
    pub(super) fn write_protected(&self, layout: &FlashLayout, wrpr: u32) -> Vec<Reserved> {
        let (in_force, ob) = self.wrp_words();
        let page = self.chip().flash.sectors[0].1;
        let base = layout.base();
        let pages = (layout.total_size() / page as u64) as u32;
        let units = in_force.protected_in(wrpr, pages);
        let place = |p: u32| Some((base + p * page, base as u64 + (p as u64 + 1) * page as u64));
        let bytes = match ob.iter().map(|w| w.fields.len() / 2).sum::<usize>() {
            1 => "WRP0",
            2 => "WRP0-WRP1",
            _ => "WRP0-WRP3",
        };
        let by = |run: &BTreeSet<u32>| format!("FLASH_WRPR ({}, option bytes {bytes})", units_text("page", run));
        let remedy = |run: &BTreeSet<u32>| {
            let mut assign = Vec::new();
            for (i, f) in ob.iter().flat_map(|w| w.fields).filter(|f| f.kind == K::WriteProtect).enumerate() {
                let cur = wrpr >> (8 * i) & 0xFF;
                let new = f.unprotect(cur, true, run);
                if new != cur {
                    assign.push(format!("{}=0x{new:02X}", f.name));
                }
            }
            Remedy::Assign(assign.join(","))
        };
        write_protected_runs(&units, place, by, remedy)
    }
}

impl OptionBytes for FpController {
    fn words(&self) -> Vec<&'static OptionWord> {
        let user = match (self.family(), self.variant().boot_sel) {
            (Series::F1, _) => &OB_USER_F1,
            (Series::F0, false) => &OB_USER_F0,
            (Series::F0, true) => &OB_USER_F0_BOOT_SEL,
            (Series::F3, _) => &OB_USER_F3,
        };
        let mut words = vec![user, &OB_DATA];
        words.extend(self.wrp_words().1);
        words
    }

    fn area_word(&self, area: OptionArea) -> Option<&'static OptionWord> {
        match area {
            OptionArea::Option => self.words().first().copied(),
            OptionArea::Optcr => Some(self.obr_word()),
            OptionArea::Optcr1 | OptionArea::BootAdd => None,
        }
    }

    fn program(&mut self, t: &mut Target, changes: &[(&'static OptionWord, u32)]) -> Result<Reload, FlashError> {
        let block = self.new_block(t, changes)?;
        self.unlock(t, 0)?;
        engine::clear_stale_errors(t, &*self, 0)?;
        // OPTKEYR takes the main keys on F0/F1/F3 (stlink inc/stm32flash.h:86-87;
        // OpenOCD src/flash/nor/stm32f1x.c:259); OPTWRE shows it worked.
        if t.read32(CR)? & CR_OPTWRE == 0 {
            t.write32(OPTKEYR, KEY1)?;
            t.write32(OPTKEYR, KEY2)?;
            if t.read32(CR)? & CR_OPTWRE == 0 {
                let _ = self.lock(t, 0);
                return Err(FlashError::Locked { what: "option byte writing (FLASH_CR.OPTWRE)".to_string() });
            }
        }
        if let Err(e) = self.program_block(t, &block) {
            let _ = t.write32(CR, CR_LOCK);
            let _ = self.lock(t, 0);
            return Err(e);
        }
        // Load the new bytes: the chip resets (OpenOCD
        // src/flash/nor/stm32f1x.c:1597-1607). The write that
        // triggers it may come back as an error from the probe; the caller
        // reconnects and reads the options back, which is what counts.
        let _ = match self.family() {
            Series::F1 => {
                t.write32(CR, CR_LOCK)?;
                t.write32(cm::AIRCR, cm::AIRCR_VECTKEY | cm::AIRCR_SYSRESETREQ)
            }
            _ => t.write32(CR, CR_OPTWRE | CR_OBL_LAUNCH),
        };
        Ok(Reload::Reset)
    }
}

/// The option tables' facts for a row, by the names of ST's headers.
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    let Some(d) = FpController::new(c) else { return };
    f.source("option table");
    f.number("FLASH_TypeDef.OPTKEYR", (OPTKEYR - BASE) as u64);
    // The option keys are the main keys (stm32f103xb.h `FLASH_OPTKEY1`).
    f.number("FLASH_OPTKEY1", KEY1 as u64).number("FLASH_OPTKEY2", KEY2 as u64);
    f.mask("FLASH_CR_OPTPG", CR_OPTPG).mask("FLASH_CR_OPTER", CR_OPTER).mask("FLASH_CR_OPTWRE", CR_OPTWRE);
    if d.family() != Series::F1 {
        f.mask("FLASH_CR_OBL_LAUNCH", CR_OBL_LAUNCH);
    }
    f.mask("FLASH_SR_EOP", SR_EOP);
    // FLASH_OBR: the F0 headers split RDPRT into RDPRT1 and RDPRT2
    // (stm32f030x6.h); the user bit 0 is IWDG_SW in every header.
    let rdprt = if d.family() == Series::F0 { Some("FLASH_OBR_RDPRT1|FLASH_OBR_RDPRT2") } else { None };
    let renames = [("WDG_SW", Some("IWDG_SW")), ("RDPRT", rdprt)];
    let obr = d.obr_word();
    f.option_word(obr, "FLASH_R_BASE+FLASH_TypeDef.OBR", obr.name, &renames);
    let (wrpr, ob) = d.wrp_words();
    f.number("FLASH_R_BASE+FLASH_TypeDef.WRPR", wrpr.addr as u64);
    // The 16-bit WRP of the F0 headers stands for the 32 bits of the F07x/F09x
    // (see `WRPR_1K_16`): stated where the width is the header's.
    if d.family() != Series::F0 || std::ptr::eq(wrpr, &WRPR_1K_16) {
        f.option_fields(wrpr, "FLASH_WRPR", &[]);
    }
    // The option bytes: each word at its `OB_TypeDef` member (F1/F3 headers
    // write DATA0 as `Data0`).
    let data = if d.family() == Series::F0 { "DATA0" } else { "Data0" };
    f.number("OB_BASE+OB_TypeDef.RDP", OB as u64).number(format!("OB_BASE+OB_TypeDef.{data}"), OB_DATA.addr as u64);
    for (word, member) in ob.iter().zip(["WRP0", "WRP2"]) {
        f.number(format!("OB_BASE+OB_TypeDef.{member}"), word.addr as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;

    fn driver(dev_id: u16) -> FpController {
        FpController::new(chips::find(dev_id).unwrap()).unwrap()
    }

    #[test]
    fn words_follow_the_family_and_page_size() {
        let f1 = driver(0x410);
        assert_eq!(f1.words()[0].field("RDP").unwrap().show, Show::Rdp { level0: 0xA5, level2: None });
        assert_eq!(f1.area_word(OptionArea::Option).unwrap().addr, 0x1FFF_F800);
        assert_eq!(f1.area_word(OptionArea::Optcr).unwrap().addr, 0x4002_201C);
        assert!(f1.area_word(OptionArea::Optcr1).is_none());
        // 1 KiB pages: 4 pages per WRP bit; WRP1 starts at page 32.
        let w01 = f1.words()[2];
        assert_eq!(w01.protected(0xFFFE_FFFE), (0..4).chain(32..36).collect());
        let f0 = driver(0x448);
        assert_eq!(f0.words()[2].protected(0xFFFF_FFFE), (0..2).collect());
        assert!(driver(0x422).words()[0].field("SRAM_PE").is_some());
    }

    #[test]
    fn the_option_words_are_those_of_the_die_s_option_block() {
        // CMSIS `OB_TypeDef`: 10 bytes (WRP0) on F030x6/F04x, 12 (WRP0-1) on
        // F05x and the 64 KiB F3 parts, 16 elsewhere.
        let names = |dev_id| driver(dev_id).words().iter().flat_map(|w| w.fields).map(|f| f.name).collect::<Vec<_>>();
        for (dev_id, last) in [(0x444, "nWRP0"), (0x445, "nWRP0"), (0x440, "nWRP1"), (0x439, "nWRP1"), (0x448, "nWRP3")]
        {
            assert_eq!(names(dev_id).last(), Some(&last), "0x{dev_id:03X}");
        }
        // nBOOT0 and BOOT_SEL on F04x/F09x only.
        assert!(names(0x445).contains(&"BOOT_SEL") && names(0x442).contains(&"nBOOT0"));
        assert!(!names(0x444).contains(&"BOOT_SEL") && !names(0x448).contains(&"nBOOT0"));
        assert!(driver(0x448).obr_word().field("BOOT_SEL").is_none());
        assert_eq!(driver(0x444).block_len(), 10);
    }

    #[test]
    fn st_flash_word_of_a_fresh_f1_decodes() {
        // st-flash 1.8.0 (stlink 733893a), run against an emulated F103:
        // `--area=option read` prints 00ff5aa5.
        let w = driver(0x410).words()[0];
        assert_eq!(w.rdp_level(0x00FF_5AA5), Some(crate::flash::RdpLevel::Level0));
        assert_eq!(w.reserved_mask() & 0x00FF_5AA5, 0x00F8_0000);
    }

    /// (start, end exclusive, reason) of each area FLASH_WRPR = `wrpr` protects.
    fn areas(dev_id: u16, size: u32, wrpr: u32) -> Vec<(u32, u64, String)> {
        let d = driver(dev_id);
        let flash = &d.chip().flash;
        let layout =
            if flash.dual.is_some() { FlashLayout::dual(flash, size) } else { FlashLayout::single(flash, size) };
        d.write_protected(&layout, wrpr).into_iter().map(|r| (r.start, r.end, r.reason)).collect()
    }

    #[test]
    fn wrpr_bits_become_page_ranges() {
        const KIB: u32 = 1024;
        // F103 medium density, 1 KiB pages: bit n = pages 4n..4n+3 (HAL OB_WRP_PAGES4TO7).
        let a = areas(0x410, 64 * KIB, !0b10);
        assert_eq!((a[0].0, a[0].1), (0x0800_1000, 0x0800_2000));
        assert!(a[0].2.contains("FLASH_WRPR (pages 4-7, option bytes WRP0-WRP3)"), "{}", a[0].2);
        assert!(a[0].2.contains("`stflash --area=option write WRP0=0xFF` first"), "{}", a[0].2);
        // A run across two WRP bytes names both; other protected bits stay.
        let a = areas(0x410, 64 * KIB, !(1 << 7 | 1 << 8 | 1 << 12));
        assert_eq!((a[0].0, a[0].1), (0x0800_7000, 0x0800_9000));
        assert!(a[0].2.contains("write WRP0=0xFF,WRP1=0xEF`"), "{}", a[0].2);
        // Bits past the flash of a small part protect nothing.
        let a = areas(0x444, 16 * KIB, 0xFFFF_FF00);
        assert_eq!(a.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(), [(0x0800_0000, 0x0800_4000)]);
        // F103 high density, 2 KiB pages: bit n = pages 2n, 2n+1; bit 31 =
        // pages 62 to the last (HAL OB_WRP_PAGES62TO255).
        let a = areas(0x414, 512 * KIB, !(1 << 31 | 1));
        assert_eq!(
            a.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
            [(0x0800_0000, 0x0800_1000), (0x0801_F000, 0x0808_0000)]
        );
        assert!(a[1].2.contains("pages 62-255") && a[1].2.contains("write WRP3=0xFF`"), "{}", a[1].2);
        let a = areas(0x414, 256 * KIB, !(1 << 31));
        assert_eq!((a[0].0, a[0].1), (0x0801_F000, 0x0804_0000), "pages 62-127 on a 256 KiB part");
        // XL density: bit 31 covers bank 2 too (OB_WRP_PAGES62TO511).
        let a = areas(0x430, 1024 * KIB, !(1 << 31));
        assert_eq!((a[0].0, a[0].1), (0x0801_F000, 0x0810_0000));
        // F303 (RM0316, HAL OB_WRP_PAGES62TO127) and F072 (pages 62-63 only).
        assert_eq!(areas(0x422, 256 * KIB, !(1 << 31))[0].1, 0x0804_0000);
        assert_eq!(
            areas(0x448, 128 * KIB, !(1 << 31)).iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
            [(0x0801_F000, 0x0802_0000)]
        );
        assert!(areas(0x414, 512 * KIB, u32::MAX).is_empty());
    }

    #[test]
    fn the_last_wrp_bit_of_2_kib_pages_reads_as_the_rest_of_the_flash() {
        let w23 = driver(0x414).words()[3];
        // WRP3 is bits 23:16 of OB_WRP23.
        assert!(w23.describe(0xFF7F_FFFF).contains("pages 62 to the last page"), "{}", w23.describe(0xFF7F_FFFF));
        assert!(w23.describe(0xFF3F_FFFF).contains("pages 60 to the last page"));
        assert!(w23.describe(0xFFFF_FFFE).contains("pages 32-33"));
        // 1 KiB pages: no such bit.
        assert!(driver(0x410).words()[3].describe(0xFF7F_FFFF).contains("pages 124-127"));
    }
}
