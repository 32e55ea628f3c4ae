//! STM32L0/L1 option bytes (flash-families.md §2.4; RM0377 §3.4, RM0038 §3.9).
//!
//! Memory-mapped at 0x1FF80000 as 32-bit words holding a 16-bit value and its
//! complement in the upper half: the RDP word (RDP in bits 7:0; bit 8 is
//! WPRMOD on L0, SPRMOD on some L1, the PCROP mode), the USER word (BOR_LEV
//! 3:0, IWDG_SW 4, nRST_STOP 5, nRST_STDBY 6, BFB2 7, nBOOT1 15 on L0), then
//! the WRPROT words, 16 sectors of 4 KiB each (1 = protected). The L1 cat.4/5
//! WRPROT words for sectors 64 and above sit at 0x1FF80080 in RM0038 and are
//! not described here [U].
//!
//! A word is written as one 32-bit write with PELOCK and OPTLOCK open (the
//! hardware erases and programs it; the complement must be right, or the
//! option counts as invalid at load: OPTVERR, and for RDP level 1). The
//! values load with PECR.OBL_LAUNCH, which resets the chip (§2.4, §5 item 21);
//! stflash reconnects and reads them back. An RDP word going from level 1 to
//! 0 erases the flash and the data EEPROM. st-flash's `option` area is the RDP
//! word at 0x1FF80000 (stflash-cli.md §4.5: "word written at 0x1FF80000 then
//! OBL_LAUNCH"); L0/L1 have no `optcr`/`optcr1`/`option_boot_add`.

use std::time::Duration;

use crate::family::l0l1::driver::{LpController, PECR_PELOCK, PEKEY1, PEKEY2};
use crate::flash::options::{Field, FieldKind as K, Mask, OptionArea, OptionBytes, OptionWord, Reload, Show};
use crate::flash::{engine, unlock_with_keys, FlashController, FlashError};
use crate::mcu::Target;

const OB: u32 = 0x1FF8_0000;
const PECR: u32 = 0x04;
const PEKEYR: u32 = 0x0C;
const OPTKEYR: u32 = 0x14;
const PECR_OPTLOCK: u32 = 1 << 2;
const PECR_OBL_LAUNCH: u32 = 1 << 18;
/// Option keys of L0/L1 (flash-families.md §2.4).
const OPTKEY1: u32 = 0xFBEA_D9C8;
const OPTKEY2: u32 = 0x2425_2627;
/// An option word is erased and programmed: 2 × 3.2 ms (timing-model.md).
const WORD_TIME: Duration = Duration::from_micros(6400);
/// An RDP regression also erases the flash and the data EEPROM.
const WORD_TIMEOUT: Duration = Duration::from_secs(5);

macro_rules! f {
    ($name:expr, $shift:literal, $width:literal, $kind:expr, $show:expr, $meaning:expr) => {
        Field::new($name, $shift, $width, $kind, $show, $meaning)
    };
}

const COMPLEMENT: Field = f!("COMPLEMENT", 16, 16, K::Complement, Show::ComplementOf(0), "complement of bits 15:0");

static OB_RDP: OptionWord = OptionWord {
    name: "OB_RDP",
    addr: OB,
    fields: &[
        f!("RDP", 0, 8, K::Rdp, Show::RDP, "read-out protection"),
        f!("WPRMOD", 8, 1, K::Security, Show::Flag("PCROP", "write protection"), "WRPROT bits mean"),
        COMPLEMENT,
    ],
};

/// BOR_LEV: 0 = off, 8…12 = levels 1-5 (RM0377 §3.4.1).
const BOR: Show =
    Show::Choices(&[(0, "off"), (8, "level 1"), (9, "level 2"), (10, "level 3"), (11, "level 4"), (12, "level 5")]);
const NO_RESET: Show = Show::Flag("no", "yes");

pub(super) static OB_USER_L0: OptionWord = OptionWord {
    name: "OB_USER",
    addr: OB + 4,
    fields: &[
        f!("BOR_LEV", 0, 4, K::User, BOR, "brown-out reset"),
        f!("IWDG_SW", 4, 1, K::User, Show::Flag("software", "hardware"), "independent watchdog started by"),
        f!("nRST_STOP", 5, 1, K::User, NO_RESET, "reset when entering Stop"),
        f!("nRST_STDBY", 6, 1, K::User, NO_RESET, "reset when entering Standby"),
        f!("BFB2", 7, 1, K::BootConfig, Show::Flag("bank 2", "bank 1"), "boot from (dual-bank parts)"),
        f!("nBOOT1", 15, 1, K::BootConfig, Show::Hex, "boot selection bit 1"),
        COMPLEMENT,
    ],
};
pub(super) static OB_USER_L1: OptionWord = OptionWord {
    name: "OB_USER",
    addr: OB + 4,
    fields: &[
        f!("BOR_LEV", 0, 4, K::User, BOR, "brown-out reset"),
        f!("IWDG_SW", 4, 1, K::User, Show::Flag("software", "hardware"), "independent watchdog started by"),
        f!("nRST_STOP", 5, 1, K::User, NO_RESET, "reset when entering Stop"),
        f!("nRST_STDBY", 6, 1, K::User, NO_RESET, "reset when entering Standby"),
        f!("BFB2", 7, 1, K::BootConfig, Show::Flag("bank 2", "bank 1"), "boot from (cat.4/5)"),
        COMPLEMENT,
    ],
};

macro_rules! wrp {
    ($name:literal, $field:literal, $n:literal) => {
        OptionWord {
            name: $name,
            addr: OB + 8 + 4 * $n,
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
static OB_WRP: [OptionWord; 4] = [
    wrp!("OB_WRP0", "WRPROT_0", 0),
    wrp!("OB_WRP1", "WRPROT_1", 1),
    wrp!("OB_WRP2", "WRPROT_2", 2),
    wrp!("OB_WRP3", "WRPROT_3", 3),
];
/// Bytes of flash one WRPROT word covers (16 sectors of 4 KiB).
const WRP_WORD_SPAN: u32 = 64 * 1024;

impl LpController {
    fn reg(&self, offset: u32) -> u32 {
        self.base() + offset
    }
}

impl OptionBytes for LpController {
    fn words(&self) -> Vec<&'static OptionWord> {
        let user = self.variant().user_option;
        let mut w = vec![&OB_RDP, user];
        // As many WRPROT words as the largest flash of the part needs.
        let span = self.chip().max_flash_kib * 1024;
        w.extend(OB_WRP.iter().take(span.div_ceil(WRP_WORD_SPAN) as usize));
        w
    }

    fn area_word(&self, area: OptionArea) -> Option<&'static OptionWord> {
        (area == OptionArea::Option).then_some(&OB_RDP)
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
        assert_eq!(l1.words().len(), 6, "512 KiB: sectors 0-63 described");
    }
}
