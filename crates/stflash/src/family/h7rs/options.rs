//! STM32H7R/S option bytes (RM0477): each option has a status register in
//! force (`*SR`) and a programming register 4 bytes above (`*SRP`). ST's HAL
//! (stm32h7rsxx_hal_flash_ex.c `HAL_FLASHEx_OBProgram`): OPTLOCK opened with
//! the option keys (OPTKEYR 0x100, OPTCR 0x104), OPTCR.PG_OPT set, the
//! `*SRP` registers written, SR.QW waited for, OPTISR.OPTERRF checked, PG_OPT
//! cleared. No OPTSTART, no OBL_LAUNCH. When new values take effect is not
//! in the sources at hand: stflash resets the chip after a change and reads
//! every word back after reconnecting (a reset is harmless if they applied
//! at once).
//!
//! Fields from CMSIS stm32h7r3xx.h: NVSR :9057, ROTSR :9083-9105, OTPLSR
//! :9153, WRPSR :9163, OBW1SR :9199-9228, OBW2SR :9264-9279; HDPSR
//! (HDP_AREA_START 7:0, HDP_AREA_END 23:16) from stm32h7s7xx.h:9694-9700.
//! There is no RDP: the non-volatile state (NVSTATE: 0xB4 Open, 0x51 Closed)
//! leaves Closed only through ST's debug authentication, and the root-of-trust
//! options (OEM_PROVD, DBG_AUTH, IROT_SELECT), the OTP block locks and the
//! hide-protection area are one-way too: all are shown, none is written.
//!
//! st-flash's areas: `option` and `optcr` are OBW1SR (the user options).

use std::time::Duration;

use super::driver::{H7rsController, BASE, SR, SR_QW, WRPSR};
use crate::flash::options::{Field, FieldKind as K, Mask, OptionArea, OptionBytes, OptionWord, Reload, Show};
use crate::flash::reserved::mask_areas;
use crate::flash::{unlock_with_keys, FlashError, FlashLayout, Reserved, OPTKEY1, OPTKEY2};
use crate::mcu::cortex_m as cm;
use crate::mcu::Target;

const OPTKEYR: u32 = BASE + 0x100;
const OPTCR: u32 = BASE + 0x104;
const OPTISR: u32 = BASE + 0x108;
const OPTICR: u32 = BASE + 0x10C;
const OPTLOCK: u32 = 1 << 0;
const PG_OPT: u32 = 1 << 1;
/// OPTISR.OPTERRF (stm32h7r3xx.h:9010).
const OPTERRF: u32 = 1 << 30;
/// Every `*SRP` register sits 4 bytes above its `*SR`.
const PRG_OFFSET: u32 = 4;

const OPTION_TIMEOUT: Duration = Duration::from_secs(5);

macro_rules! f {
    ($name:expr, $shift:literal, $width:literal, $kind:expr, $show:expr, $meaning:expr) => {
        Field::new($name, $shift, $width, $kind, $show, $meaning)
    };
}

static NVSR: OptionWord = OptionWord {
    name: "FLASH_NVSR",
    addr: BASE + 0x200,
    fields: &[f!(
        "NVSTATE",
        0,
        8,
        K::Security,
        Show::Choices(&[(0xB4, "Open"), (0x51, "Closed (debug closed)")]),
        "non-volatile state (instead of RDP)"
    )],
};

static ROTSR: OptionWord = OptionWord {
    name: "FLASH_ROTSR",
    addr: BASE + 0x208,
    fields: &[
        f!(
            "OEM_PROVD",
            0,
            8,
            K::Security,
            Show::Choices(&[(0xB4, "provisioned"), (0x6A, "not provisioned")]),
            "OEM provisioning"
        ),
        f!(
            "DBG_AUTH",
            8,
            8,
            K::Security,
            Show::Choices(&[(0xB4, "locked"), (0x51, "ECDSA"), (0x8A, "password"), (0xFF, "none")]),
            "debug authentication"
        ),
        f!("IROT_SELECT", 24, 8, K::Security, Show::Choices(&[(0xB4, "ST iRoT"), (0x6A, "OEM iRoT")]), "root of trust"),
    ],
};

static OTPLSR: OptionWord = OptionWord {
    name: "FLASH_OTPLSR",
    addr: BASE + 0x210,
    fields: &[f!("OTPL", 0, 16, K::Security, Show::Hex, "OTP blocks locked for good (1 = locked)")],
};

/// One bit per 8 KiB sector, 0 = protected.
pub(super) static WRPSR_WORD: OptionWord = OptionWord {
    name: "FLASH_WRPSR",
    addr: WRPSR,
    fields: &[f!("WRPS", 0, 8, K::WriteProtect, Show::Protection(Mask::new("sector", 1, 0, true)), "write protection")],
};

static HDPSR: OptionWord = OptionWord {
    name: "FLASH_HDPSR",
    addr: BASE + 0x230,
    fields: &[
        f!("HDP_AREA_START", 0, 8, K::Security, Show::Hex, "first 256-byte block hidden (none when above the end)"),
        f!("HDP_AREA_END", 16, 8, K::Security, Show::Hex, "last 256-byte block hidden"),
    ],
};

const NO_RESET: Show = Show::Flag("no", "yes");

static OBW1SR: OptionWord = OptionWord {
    name: "FLASH_OBW1SR",
    addr: BASE + 0x260,
    fields: &[
        f!("BOR_LEVEL", 2, 2, K::User, Show::Hex, "brown-out reset threshold"),
        f!("IWDG_HW", 4, 1, K::User, Show::Flag("hardware", "software"), "independent watchdog started by"),
        f!("NRST_STOP", 6, 1, K::User, NO_RESET, "reset when entering Stop"),
        f!("NRST_STBY", 7, 1, K::User, NO_RESET, "reset when entering Standby"),
        f!("XSPI1_HSLV", 8, 1, K::Electrical, Show::Flag("on", "off"), "XSPI1 high speed at low voltage"),
        f!("XSPI2_HSLV", 9, 1, K::Electrical, Show::Flag("on", "off"), "XSPI2 high speed at low voltage"),
        f!("IWDG_FZ_STOP", 17, 1, K::User, Show::Flag("runs", "frozen"), "independent watchdog in Stop"),
        f!("IWDG_FZ_STBY", 18, 1, K::User, Show::Flag("runs", "frozen"), "independent watchdog in Standby"),
        f!("PERSO_OK", 28, 1, K::Security, Show::Hex, "personalisation done (ST production)"),
        f!("VDDIO_HSLV", 29, 1, K::Electrical, Show::Flag("on", "off"), "I/O high speed at low voltage"),
    ],
};

/// The TCM/AXI share changes the RAM map: bank configuration, guarded.
static OBW2SR: OptionWord = OptionWord {
    name: "FLASH_OBW2SR",
    addr: BASE + 0x268,
    fields: &[
        f!("ITCM_AXI_SHARE", 0, 3, K::BankConfig, Show::Hex, "AXI SRAM given to the ITCM"),
        f!("DTCM_AXI_SHARE", 4, 3, K::BankConfig, Show::Hex, "AXI SRAM given to the DTCM"),
        f!("ECC_ON_SRAM", 8, 1, K::User, Show::Flag("on", "off"), "ECC on AXI SRAM"),
        f!("I2C_NI3C", 9, 1, K::User, Show::Flag("I2C", "I3C"), "I2C or I3C"),
    ],
};

impl H7rsController {
    /// The sectors FLASH_WRPSR (`wrpsr`) protects, as address ranges.
    pub(super) fn write_protected(&self, layout: &FlashLayout, wrpsr: u32) -> Vec<Reserved> {
        let Some(bank) = layout.banks.first() else { return Vec::new() };
        let sectors = bank.sectors(0);
        let place = |u: u32| sectors.get(u as usize).map(|s| (s.addr, s.end()));
        mask_areas(&WRPSR_WORD, wrpsr, sectors.len() as u32, place, "")
    }
}

impl OptionBytes for H7rsController {
    fn words(&self) -> Vec<&'static OptionWord> {
        vec![&OBW1SR, &OBW2SR, &WRPSR_WORD, &NVSR, &ROTSR, &OTPLSR, &HDPSR]
    }

    fn area_word(&self, area: OptionArea) -> Option<&'static OptionWord> {
        match area {
            OptionArea::Option | OptionArea::Optcr => Some(&OBW1SR),
            OptionArea::Optcr1 | OptionArea::BootAdd => None,
        }
    }

    /// OPTLOCK, PG_OPT, the `*SRP` registers, wait QW, OPTERRF, lock; then
    /// a system reset (see the module notes).
    fn program(&mut self, t: &mut Target, changes: &[(&'static OptionWord, u32)]) -> Result<Reload, FlashError> {
        t.write32(OPTICR, OPTERRF)?;
        unlock_with_keys(t, "FLASH_OPTCR", OPTCR, OPTLOCK, OPTKEYR, [OPTKEY1, OPTKEY2])?;
        let result = (|| {
            t.write32(OPTCR, PG_OPT)?;
            for &(word, value) in changes {
                t.write32(word.addr + PRG_OFFSET, value)?;
            }
            let start = t.elapsed();
            while t.read32(SR)? & SR_QW != 0 {
                if t.elapsed() - start > OPTION_TIMEOUT {
                    return Err(FlashError::Timeout {
                        op: "changing the option bytes".into(),
                        waited: t.elapsed() - start,
                    });
                }
                t.sleep(Duration::from_millis(1));
            }
            if t.read32(OPTISR)? & OPTERRF != 0 {
                t.write32(OPTICR, OPTERRF)?;
                return Err(FlashError::Flags {
                    op: "changing the option bytes".into(),
                    flags: vec![crate::flash::ErrorFlag {
                        mask: OPTERRF,
                        name: "OPTERR",
                        meaning: "the option-byte change was refused",
                    }],
                    status: OPTERRF,
                });
            }
            Ok(())
        })();
        let cleared = t.write32(OPTCR, 0);
        let locked = t.write32(OPTCR, OPTLOCK);
        result?;
        cleared?;
        locked?;
        let _ = t.write32(cm::AIRCR, cm::AIRCR_VECTKEY | cm::AIRCR_SYSRESETREQ);
        Ok(Reload::Reset)
    }
}

/// The option tables' facts, by the names of ST's headers: each option
/// status register at its `FLASH_TypeDef` member, its program register
/// (`…P`) 4 bytes above, and its fields (stm32h7s7xx.h:9509-9801).
pub(super) fn register_facts(c: &'static crate::chip::Chip, f: &mut crate::facts::Facts) {
    let Some(d) = crate::family::h7rs::driver::H7rsController::new(c) else { return };
    f.source("option table");
    for (reg, addr) in [("OPTKEYR", OPTKEYR), ("OPTCR", OPTCR), ("OPTISR", OPTISR), ("OPTICR", OPTICR)] {
        f.number(format!("FLASH_TypeDef.{reg}"), (addr - BASE) as u64);
    }
    f.number("FLASH_OPT_KEY1", OPTKEY1 as u64).number("FLASH_OPT_KEY2", OPTKEY2 as u64);
    f.mask("FLASH_OPTCR_OPTLOCK", OPTLOCK).mask("FLASH_OPTCR_PG_OPT", PG_OPT);
    f.mask("FLASH_OPTISR_OPTERRF", OPTERRF);
    for word in d.words() {
        let reg = word.name.trim_start_matches("FLASH_");
        f.number(format!("FLASH_R_BASE+FLASH_TypeDef.{reg}P"), (word.addr + PRG_OFFSET) as u64);
        // The HDP area fields (stm32h7s7xx.h:9695-9698) are not kept by
        // extract.py (it skips the HDP registers' fields).
        let renames: &[(&str, Option<&str>)] = &[("HDP_AREA_START", None), ("HDP_AREA_END", None)];
        f.option_word(word, &format!("FLASH_R_BASE+FLASH_TypeDef.{reg}"), word.name, renames);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvstate_and_root_of_trust_are_shown_and_never_written() {
        assert_eq!(NVSR.fields[0].describe(0xB4).1, "Open");
        assert!(NVSR.fields.iter().chain(ROTSR.fields).chain(HDPSR.fields).all(|f| f.kind == K::Security));
        assert_eq!(WRPSR_WORD.protected(0xFD), [1].into_iter().collect());
    }
}
