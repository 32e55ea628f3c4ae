//! STM32L0/L1 option bytes (RM0377 §3.4, RM0038 §3.9).
//!
//! Memory-mapped at 0x1FF80000 as 32-bit words holding a 16-bit value and its
//! complement in the upper half: the RDP word (RDP in bits 7:0; bit 8 is
//! WPRMOD on L0, SPRMOD on L1 cat.2/3, the PCROP mode), the USER word
//! (BOR_LEV 3:0, IWDG_SW 4, nRST_STOP 5, nRST_STDBY 6, BFB2 7 on the
//! dual-bank dies, nBOOT1 15 on L0), then
//! the WRPROT words, 16 sectors of 4 KiB each (1 = protected; 0 with the
//! PCROP mode bit set), the last two of L1 cat.5 at 0x1FF80080.
//!
//! A word is written as one 32-bit write with PELOCK and OPTLOCK open (the
//! hardware erases and programs it; the complement must be right, or the
//! option counts as invalid at load: OPTVERR, and for RDP level 1). The
//! values load with PECR.OBL_LAUNCH, which resets the chip (OpenOCD
//! src/flash/nor/stm32lx.c:1272-1274);
//! stflash reconnects and reads them back. An RDP word going from level 1 to
//! 0 erases the flash and the data EEPROM. st-flash's `option` area is the RDP
//! word at 0x1FF80000 (stlink src/stlink-lib/option_bytes.c:823-899: word written
//! at 0x1FF80000 then OBL_LAUNCH); L0/L1 have no `optcr`/`optcr1`/`option_boot_add`.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::family::l0l1::driver::{LpController, PECR_PELOCK, PEKEY1, PEKEY2, WRP_SECTOR};
use crate::flash::options::{Field, FieldKind as K, Mask, OptionArea, OptionBytes, OptionWord, Reload, Show};
use crate::flash::reserved::{units_text, write_protected_runs};
use crate::flash::{engine, unlock_with_keys, FlashController, FlashError, FlashLayout, Remedy, Reserved};
use crate::mcu::Target;

const OB: u32 = 0x1FF8_0000;
const PECR: u32 = 0x04;
const PEKEYR: u32 = 0x0C;
const OPTKEYR: u32 = 0x14;
const PECR_OPTLOCK: u32 = 1 << 2;
const PECR_OBL_LAUNCH: u32 = 1 << 18;
/// Option keys of L0/L1 (RM0377 §3, RM0038 §3).
const OPTKEY1: u32 = 0xFBEA_D9C8;
const OPTKEY2: u32 = 0x2425_2627;
/// An option word is erased and programmed: 2 × 3.2 ms (recalled from the
/// datasheets' flash memory characteristics, not checked).
const WORD_TIME: Duration = Duration::from_micros(6400);
/// An RDP regression also erases the flash and the data EEPROM.
const WORD_TIMEOUT: Duration = Duration::from_secs(5);

macro_rules! f {
    ($name:expr, $shift:literal, $width:literal, $kind:expr, $show:expr, $meaning:expr) => {
        Field::new($name, $shift, $width, $kind, $show, $meaning)
    };
}

const COMPLEMENT: Field = f!("COMPLEMENT", 16, 16, K::Complement, Show::ComplementOf(0), "complement of bits 15:0");

const RDP: Field = f!("RDP", 0, 8, K::Rdp, Show::RDP, "read-out protection");

/// L0: RDP word bit 8 WPRMOD (every L0 header: stm32l053xx.h
/// `FLASH_OPTR_WPRMOD`).
pub(super) static OB_RDP_L0: OptionWord = OptionWord {
    name: "OB_RDP",
    addr: OB,
    fields: &[
        RDP,
        f!("WPRMOD", 8, 1, K::Security, Show::Flag("PCROP", "write protection"), "WRPROT bits mean"),
        COMPLEMENT,
    ],
};
/// L1 cat.1, cat.4, cat.5: no PCROP mode bit (stm32l152xb.h, stm32l152xd.h,
/// stm32l152xe.h define no `FLASH_OBR_SPRMOD`).
pub(super) static OB_RDP_L1: OptionWord = OptionWord { name: "OB_RDP", addr: OB, fields: &[RDP, COMPLEMENT] };
/// L1 cat.2 and cat.3: bit 8 SPRMOD (stm32l152xba.h, stm32l152xc.h
/// `FLASH_OBR_SPRMOD`).
pub(super) static OB_RDP_L1_SPRMOD: OptionWord = OptionWord {
    name: "OB_RDP",
    addr: OB,
    fields: &[
        RDP,
        f!("SPRMOD", 8, 1, K::Security, Show::Flag("PCROP", "write protection"), "WRPROT bits mean"),
        COMPLEMENT,
    ],
};

/// BOR_LEV: 0 = off, 8…12 = levels 1-5 (RM0377 §3.4.1).
const BOR: Show =
    Show::Choices(&[(0, "off"), (8, "level 1"), (9, "level 2"), (10, "level 3"), (11, "level 4"), (12, "level 5")]);
const NO_RESET: Show = Show::Flag("no", "yes");

const BOR_LEV: Field = f!("BOR_LEV", 0, 4, K::User, BOR, "brown-out reset");
const IWDG_SW: Field =
    f!("IWDG_SW", 4, 1, K::User, Show::Flag("software", "hardware"), "independent watchdog started by");
const NRST_STOP: Field = f!("nRST_STOP", 5, 1, K::User, NO_RESET, "reset when entering Stop");
const NRST_STDBY: Field = f!("nRST_STDBY", 6, 1, K::User, NO_RESET, "reset when entering Standby");
const BFB2: Field = f!("BFB2", 7, 1, K::BootConfig, Show::Flag("bank 2", "bank 1"), "boot from");
const NBOOT1: Field = f!("nBOOT1", 15, 1, K::BootConfig, Show::Hex, "boot selection bit 1");

/// L0 cat.1-3: FLASH_OPTR bits 31:16 (stm32l053xx.h: BOR_LEV 16, IWDG_SW 20,
/// nRST_STOP 21, nRST_STDBY 22, BOOT1 31).
pub(super) static OB_USER_L0: OptionWord = OptionWord {
    name: "OB_USER",
    addr: OB + 4,
    fields: &[BOR_LEV, IWDG_SW, NRST_STOP, NRST_STDBY, NBOOT1, COMPLEMENT],
};
/// L0 cat.5, dual bank: BFB2 (stm32l073xx.h `FLASH_OPTR_BFB2`, bit 23).
pub(super) static OB_USER_L0_BFB2: OptionWord = OptionWord {
    name: "OB_USER",
    addr: OB + 4,
    fields: &[BOR_LEV, IWDG_SW, NRST_STOP, NRST_STDBY, BFB2, NBOOT1, COMPLEMENT],
};
/// L1 cat.1-3: FLASH_OBR bits 31:16 (stm32l152xb.h, stm32l152xc.h).
pub(super) static OB_USER_L1: OptionWord =
    OptionWord { name: "OB_USER", addr: OB + 4, fields: &[BOR_LEV, IWDG_SW, NRST_STOP, NRST_STDBY, COMPLEMENT] };
/// L1 cat.4-6, dual bank: BFB2 (stm32l152xd.h, stm32l152xe.h
/// `FLASH_OBR_nRST_BFB2`, bit 23).
pub(super) static OB_USER_L1_BFB2: OptionWord =
    OptionWord { name: "OB_USER", addr: OB + 4, fields: &[BOR_LEV, IWDG_SW, NRST_STOP, NRST_STDBY, BFB2, COMPLEMENT] };

macro_rules! wrp {
    ($name:literal, $field:literal, $n:literal, $addr:expr) => {
        OptionWord {
            name: $name,
            addr: $addr,
            fields: &[
                f!(
                    $field,
                    0,
                    16,
                    K::WriteProtect,
                    Show::Protection(Mask::new("sector", 1, 16 * $n, false)),
                    "write protection, 4 KiB sectors"
                ),
                COMPLEMENT,
            ],
        }
    };
}
/// WRPROT words of sectors 16n..16n+15: at 0x1FF80008 + 4n for n < 6, the
/// last two (L1 cat.5, sectors 96-127) at 0x1FF80080 and 0x1FF80084 (CMSIS
/// stm32l152xe.h `OB_TypeDef`: WRP01 … WRP1011 at 0x08-0x1C, WRP1213 and
/// WRP1415 at 0x80, 0x84; stm32l073xx.h: WRP01, WRP23, WRP45).
static OB_WRP: [OptionWord; 8] = [
    wrp!("OB_WRP0", "WRPROT_0", 0, OB + 0x08),
    wrp!("OB_WRP1", "WRPROT_1", 1, OB + 0x0C),
    wrp!("OB_WRP2", "WRPROT_2", 2, OB + 0x10),
    wrp!("OB_WRP3", "WRPROT_3", 3, OB + 0x14),
    wrp!("OB_WRP4", "WRPROT_4", 4, OB + 0x18),
    wrp!("OB_WRP5", "WRPROT_5", 5, OB + 0x1C),
    wrp!("OB_WRP6", "WRPROT_6", 6, OB + 0x80),
    wrp!("OB_WRP7", "WRPROT_7", 7, OB + 0x84),
];
/// Bytes of flash one WRPROT word covers (16 sectors of 4 KiB).
const WRP_WORD_SPAN: u32 = 64 * 1024;

impl LpController {
    fn reg(&self, offset: u32) -> u32 {
        self.base() + offset
    }

    /// The 4 KiB sectors FLASH_WRPR1..4 (`wrpr`, as in force) protect, as
    /// address ranges of `layout`: bit n of WRPRk is sector 32k + n, the 4 KiB
    /// at 0x08000000 + 4 KiB × (32k + n) (RM0367 §3.3.1 Table 6, RM0038),
    /// 1 = protected; with `pcrop` (WPRMOD/SPRMOD set) 0 = read- and
    /// write-protected (RM0367 §3.4.4: "When PcROP is enabled, protected
    /// sectors can be added (writing 0) but cannot be removed"; ST HAL
    /// stm32l1xx_hal_flash_ex.c FLASH_OB_PCROPConfig inverts the WRP state).
    pub(super) fn write_protected(&self, layout: &FlashLayout, wrpr: &[u32], pcrop: bool) -> Vec<Reserved> {
        let base = layout.base();
        let units = (layout.banks.last().map_or(0, |b| b.end()) - base as u64).div_ceil(WRP_SECTOR as u64) as u32;
        let mut protected = BTreeSet::new();
        for (k, &value) in wrpr.iter().enumerate() {
            let bits = if pcrop { !value } else { value };
            protected.extend((0..32).filter(|n| bits >> n & 1 == 1).map(|n| 32 * k as u32 + n).filter(|&u| u < units));
        }
        let place = |u: u32| {
            let start = base + u * WRP_SECTOR;
            let end = start as u64 + WRP_SECTOR as u64;
            layout.check_range(start, WRP_SECTOR as u64).is_ok().then_some((start, end))
        };
        let regs = |run: &BTreeSet<u32>| {
            let mut names: Vec<String> = run.iter().map(|u| self.wrpr_name((u / 32) as usize)).collect();
            names.dedup();
            names.join(", ")
        };
        let by = |run: &BTreeSet<u32>| {
            let mode = if pcrop { ", PCROP" } else { "" };
            format!("{} ({}{mode})", regs(run), units_text("sector", run))
        };
        let remedy = |run: &BTreeSet<u32>| {
            if pcrop {
                return Remedy::Other(PCROP_FIXED.to_string());
            }
            // OB_WRPn holds sectors 16n..16n+15: the low or high half of WRPR(n/2 + 1).
            let mut assign = Vec::new();
            for (n, word) in OB_WRP.iter().enumerate() {
                let field = &word.fields[0];
                let cur = wrpr.get(n / 2).map_or(0, |&v| v >> (16 * (n % 2)) & 0xFFFF);
                let new = field.unprotect(cur, false, run);
                if new != cur {
                    assign.push(format!("{}=0x{new:04X}", field.name));
                }
            }
            Remedy::Assign(assign.join(","))
        };
        write_protected_runs(&protected, place, by, remedy)
    }
}

/// Why PCROP sectors cannot be unprotected with stflash.
const PCROP_FIXED: &str =
    "PCROP sectors (WPRMOD/SPRMOD = 1) can only be unprotected by an RDP regression from level 1 \
                           to 0, which erases the flash and the data EEPROM (RM0367 §3.4.4); stflash does not change \
                           PCROP: use STM32CubeProgrammer";

impl OptionBytes for LpController {
    fn words(&self) -> Vec<&'static OptionWord> {
        let mut w = vec![self.variant().rdp_option, self.variant().user_option];
        // As many WRPROT words as the largest flash of the part needs.
        let span = self.chip().max_flash_kib * 1024;
        w.extend(OB_WRP.iter().take(span.div_ceil(WRP_WORD_SPAN) as usize));
        w
    }

    fn area_word(&self, area: OptionArea) -> Option<&'static OptionWord> {
        (area == OptionArea::Option).then_some(self.variant().rdp_option)
    }

    fn program(&mut self, t: &mut Target, changes: &[(&'static OptionWord, u32)]) -> Result<Reload, FlashError> {
        let pecr = self.reg(PECR);
        engine::clear_stale_errors(t, &*self, 0)?;
        engine::wait_idle(t, &*self, 0, Duration::ZERO, WORD_TIMEOUT, "waiting for the flash")?;
        unlock_with_keys(t, "FLASH_PECR (PELOCK)", pecr, PECR_PELOCK, self.reg(PEKEYR), [PEKEY1, PEKEY2])?;
        let result = (|| {
            unlock_with_keys(
                t,
                "the option bytes (OPTLOCK)",
                pecr,
                PECR_OPTLOCK,
                self.reg(OPTKEYR),
                [OPTKEY1, OPTKEY2],
            )?;
            for &(word, value) in changes {
                t.write32(word.addr, value)?;
                let what = format!("programming the option word at 0x{:08X}", word.addr);
                engine::wait_idle(t, &*self, 0, WORD_TIME, WORD_TIMEOUT, &what)?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = self.lock(t, 0);
            return Err(e);
        }
        // Load them: the chip resets; the probe may report the write as failed.
        let _ = t.write32(pecr, PECR_OBL_LAUNCH);
        Ok(Reload::Reset)
    }
}

/// `OB_TypeDef` member of each WRPROT word (stm32l152xe.h: `WRP01` …
/// `WRP1415`, two WRPROT bytes each).
const OB_WRP_MEMBERS: [&str; 8] = ["WRP01", "WRP23", "WRP45", "WRP67", "WRP89", "WRP1011", "WRP1213", "WRP1415"];

/// The option tables' facts for a row, by the names of ST's headers: each
/// option word at its `OB_TypeDef` member, and its fields where FLASH_OPTR
/// (L0) or FLASH_OBR (L1) shows them once loaded: the RDP word's in bits
/// 15:0, the USER word's in bits 31:16 (stm32l053xx.h `FLASH_OPTR_*`,
/// stm32l152xe.h `FLASH_OBR_*`).
pub(super) fn register_facts(c: &'static crate::chip::Chip, f: &mut crate::facts::Facts) {
    let Some(d) = LpController::new(c) else { return };
    let l0 = d.is_l0();
    f.source("option table");
    f.number("FLASH_TypeDef.OPTKEYR", OPTKEYR as u64);
    f.number("FLASH_OPTKEY1", OPTKEY1 as u64).number("FLASH_OPTKEY2", OPTKEY2 as u64);
    f.mask("FLASH_PECR_OPTLOCK", PECR_OPTLOCK).mask("FLASH_PECR_OBL_LAUNCH", PECR_OBL_LAUNCH);
    f.number("OB_BASE", OB as u64);
    let reg = if l0 { "FLASH_OPTR" } else { "FLASH_OBR" };
    for word in d.words() {
        let (member, shift) = match OB_WRP.iter().position(|w| std::ptr::eq(w, word)) {
            Some(n) => (OB_WRP_MEMBERS[n], None),
            None if word.addr == OB => ("RDP", Some(0)),
            None => ("USER", Some(16)),
        };
        f.number(format!("OB_BASE+OB_TypeDef.{member}"), word.addr as u64);
        let Some(shift) = shift else { continue };
        for field in word.fields.iter().filter(|f| f.kind != K::Complement) {
            let name = match (field.name, l0) {
                ("RDP", true) => "RDPROT",
                ("RDP", false) => "RDPRT",
                ("nBOOT1", _) => "BOOT1",
                ("BFB2", false) => "nRST_BFB2",
                (name, _) => name,
            };
            f.field(format!("{reg}_{name}"), field.shift as u32 + shift, field.width as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;

    #[test]
    fn words_and_complements() {
        let l0 = LpController::new(chips::find(0x417).unwrap()).unwrap();
        let names: Vec<&str> = l0.words().iter().map(|w| w.name).collect();
        assert_eq!(names, ["OB_RDP", "OB_USER", "OB_WRP0"], "64 KiB: one WRPROT word");
        let rdp = l0.area_word(OptionArea::Option).unwrap();
        assert_eq!(rdp.addr, 0x1FF8_0000);
        assert_eq!(rdp.rdp_level(0xFF55_00AA), Some(crate::flash::RdpLevel::Level0));
        assert_eq!(OB_WRP[1].protected(0xFFFE_0001), [16].into_iter().collect());
        let l1 = LpController::new(chips::find(0x437).unwrap()).unwrap();
        let names: Vec<&str> = l1.words().iter().map(|w| w.name).collect();
        assert_eq!(names.len(), 10, "512 KiB: sectors 0-127 described");
        assert_eq!(OB_WRP[5].addr, 0x1FF8_001C);
        assert_eq!(OB_WRP[6].addr, 0x1FF8_0080);
    }

    /// (start, end exclusive, reason) of each protected area.
    fn areas(dev_id: u16, size: u32, wrpr: &[u32], pcrop: bool) -> Vec<(u32, u64, String)> {
        let d = LpController::new(chips::find(dev_id).unwrap()).unwrap();
        let spec = &d.chip().flash;
        let layout = if spec.dual.is_some() { FlashLayout::dual(spec, size) } else { FlashLayout::single(spec, size) };
        d.write_protected(&layout, wrpr, pcrop).into_iter().map(|r| (r.start, r.end, r.reason)).collect()
    }

    fn ranges(a: &[(u32, u64, String)]) -> Vec<(u32, u64)> {
        a.iter().map(|r| (r.0, r.1)).collect()
    }

    #[test]
    fn wrprot_bits_become_4_kib_sectors() {
        const KIB: u32 = 1024;
        // L053: WRPR bit 1 = sector 1 (pages 32-63), 1 = protected.
        let a = areas(0x417, 64 * KIB, &[0x0000_0002], false);
        assert_eq!(ranges(&a), [(0x0800_1000, 0x0800_2000)]);
        assert!(a[0].2.contains("FLASH_WRPR (sector 1)"), "{}", a[0].2);
        assert!(a[0].2.contains("`stflash --area=option write WRPROT_0=0x0000` first"), "{}", a[0].2);
        assert!(areas(0x417, 64 * KIB, &[0], false).is_empty());
        // PCROP mode: 0 = protected, and stflash cannot remove it.
        let a = areas(0x417, 64 * KIB, &[0xFFFF_FFFD], true);
        assert_eq!(ranges(&a), [(0x0800_1000, 0x0800_2000)]);
        assert!(a[0].2.contains("(sector 1, PCROP)") && a[0].2.contains("STM32CubeProgrammer"), "{}", a[0].2);
        // L0 cat.5, 192 KiB in two banks: sector 47 is WRPR2 bit 15.
        let a = areas(0x447, 192 * KIB, &[0, 0x0000_8000], false);
        assert_eq!(ranges(&a), [(0x0802_F000, 0x0803_0000)]);
        assert!(a[0].2.contains("FLASH_WRPR2 (sector 47)") && a[0].2.contains("WRPROT_2=0x0000"), "{}", a[0].2);
        // L152xE, 512 KiB: sectors 31-32 across WRPR1 and WRPR2 (OB words 1 and 2).
        let a = areas(0x437, 512 * KIB, &[0x8000_0000, 0x0000_0001], false);
        assert_eq!(ranges(&a), [(0x0801_F000, 0x0802_1000)]);
        assert!(a[0].2.contains("FLASH_WRPR1, FLASH_WRPR2 (sectors 31-32)"), "{}", a[0].2);
        assert!(a[0].2.contains("write WRPROT_1=0x0000,WRPROT_2=0x0000`"), "{}", a[0].2);
        // Sector 127: WRPR4 bit 31, option word OB_WRP7 at 0x1FF80084.
        let a = areas(0x437, 512 * KIB, &[0, 0, 0, 0x8000_0000], false);
        assert_eq!(ranges(&a), [(0x0807_F000, 0x0808_0000)]);
        assert!(a[0].2.contains("FLASH_WRPR4 (sector 127)") && a[0].2.contains("WRPROT_7=0x0000"), "{}", a[0].2);
    }
}
