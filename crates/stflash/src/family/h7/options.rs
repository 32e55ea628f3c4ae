//! STM32H7 option registers and OTP (RM0433 §4, RM0455 §4, RM0468 §4,
//! field positions from CMSIS `FLASH_OPTSR_*` (stm32h743xx.h, stm32h723xx.h,
//! stm32h7a3xx.h:8827-8871) and ST's SVD text for the H7B0 (as transcribed in
//! cmforthlib `stm32h7b0/flash.fs`)).
//!
//! H7 option bytes are not memory-mapped (CMSIS has only
//! the FLASH_OPTSR_* registers): each option is a pair
//! of registers, `*_CUR` (in force, read) and `*_PRG` (to program) 4 bytes
//! above it. A change is: unlock OPTCR with the option keys, write the
//! `*_PRG` registers, set OPTSTART, wait until OPTSR_CUR.OPT_BUSY clears,
//! check OPTCHANGEERR (ST's HAL stm32h7xx_hal_flash.c:967-995, 1154-1182).
//! The values apply at once; no reset (OPTSTART/OPT_BUSY, same HAL lines). An RDP level 1 → 0
//! change mass-erases the flash inside that wait.
//!
//! st-flash's areas (stlink src/stlink-lib/option_bytes.c:1079-1117): `option` is FLASH_OPTSR (st-flash
//! reads and writes OPTSR_PRG at its `option_base` 0x52002020; stflash reads
//! OPTSR_CUR, which equals it outside an option change, and is what is in
//! force). `option_boot_add` is an extension: the H7 boot-address register
//! has the layout of the F7 OPTCR1 that st-flash uses for that area
//! (BOOT_ADD0 in bits 15-0, BOOT_ADD1 in bits 31-16). H7 has no register
//! matching `optcr`/`optcr1` as st-flash uses them.

use std::time::Duration;

use crate::chip::Chip;
use crate::facts::{Facts, Scope};
use crate::family::h7::driver::H7Controller;
use crate::flash::options::{Field, FieldKind as K, Mask, OptionArea, OptionBytes, OptionWord, Otp, Reload, Show};
use crate::flash::reserved::mask_areas;
use crate::flash::{
    engine, unlock_with_keys, ErrorFlag, FlashController, FlashError, FlashLayout, Reserved, KEY1, KEY2, OPTKEY1,
    OPTKEY2,
};
use crate::mcu::Target;

const BASE: u32 = 0x5200_2000;
/// Bank-2 copies of PRAR, SCAR, WPSN (CMSIS FLASH_TypeDef, stm32h743xx.h:917-958).
const BANK2: u32 = 0x100;
const KEYR1: u32 = BASE + 0x04;
const CR1: u32 = BASE + 0x0C;
const OPTKEYR: u32 = BASE + 0x08;
const OPTCR: u32 = BASE + 0x18;
const OPTSR_CUR: u32 = BASE + 0x1C;
const OPTCCR: u32 = BASE + 0x24;
const PRAR_CUR1: u32 = BASE + 0x28;
const SCAR_CUR1: u32 = BASE + 0x30;
const WPSN_CUR1: u32 = BASE + 0x38;
const BOOT_CUR: u32 = BASE + 0x40;
const OTPBL_CUR: u32 = BASE + 0x68;
const OPTSR2_CUR: u32 = BASE + 0x70;
/// Every `*_PRG` register sits 4 bytes above its `*_CUR` (CMSIS FLASH_TypeDef,
/// stm32h743xx.h:917-958).
const PRG_OFFSET: u32 = 4;

// OPTCR bits (CMSIS FLASH_OPTCR_*; ST's H7B0 SVD FLASH_OPTCR).
const OPTLOCK: u32 = 1 << 0;
const OPTSTART: u32 = 1 << 1;
const PG_OTP: u32 = 1 << 5;
const OPTCHANGEERRIE: u32 = 1 << 30;
// OPTSR_CUR status bits.
const OPT_BUSY: u32 = 1 << 0;
const OPTCHANGEERR: u32 = 1 << 30;
const RDP_SHIFT: u32 = 8;

/// "No specification, real delay seems to be around 300ms" (Chromium EC,
/// RM0433 §4, RM0455 §4, RM0468 §4).
const OPTION_CHANGE_TYPICAL: Duration = Duration::from_millis(300);
/// An ordinary option change; 30× the measured time.
const OPTION_CHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// An RDP 1 → 0 change erases both banks inside the option change: the bank
/// erase timeout of the driver (60 s on H74x) plus margin.
const RDP_REGRESSION_TIMEOUT: Duration = Duration::from_secs(120);
/// One OTP half-word: the flash-word timeout of the driver.
const OTP_WORD_TIMEOUT: Duration = Duration::from_millis(10);

const OPTCHANGEERR_FLAG: ErrorFlag = ErrorFlag {
    mask: OPTCHANGEERR,
    name: "OPTCHANGEERR",
    meaning: "the controller refused the option change (invalid RDP change, or options frozen at level 2)",
};

const BOR: Show = Show::Choices(&[(0, "off (VBOR0 only)"), (1, "level 1"), (2, "level 2"), (3, "level 3")]);
const IWDG_SW: Show = Show::Flag("by software", "by hardware, at reset");
/// NRST_*: 1 = no reset generated when the domain enters the mode.
const NO_RESET: Show = Show::Flag("no", "yes");
/// FZ_IWDG_*: 0 freezes the watchdog in the low-power mode (ST's H7B0
/// SVD "IWDG Stop mode freeze option"; polarity not verified: ST's HAL names value 0
/// OB_IWDG_STOP_FREEZE).
const FREEZE: Show = Show::Flag("runs", "frozen");

macro_rules! f {
    ($name:expr, $shift:literal, $width:literal, $kind:expr, $show:expr, $meaning:expr) => {
        Field::new($name, $shift, $width, $kind, $show, $meaning)
    };
}

const F_OPT_BUSY: Field = f!("OPT_BUSY", 0, 1, K::Status, Show::Flag("running", ""), "option change");
const F_BOR_LEV: Field = f!("BOR_LEV", 2, 2, K::User, BOR, "brown-out reset (thresholds: datasheet)");
const F_IWDG1_SW: Field = f!("IWDG1_SW", 4, 1, K::User, IWDG_SW, "independent watchdog 1 started");
const F_IWDG2_SW: Field = f!("IWDG2_SW", 5, 1, K::User, IWDG_SW, "independent watchdog 2 started (dual-core parts)");
const F_NRST_STOP_D1: Field = f!("NRST_STOP_D1", 6, 1, K::User, NO_RESET, "reset when D1 enters Stop");
const F_NRST_STBY_D1: Field = f!("NRST_STBY_D1", 7, 1, K::User, NO_RESET, "reset when D1 enters Standby");
const F_RDP: Field = f!("RDP", 8, 8, K::Rdp, Show::RDP, "read-out protection");
const F_VDDMMC_HSLV: Field =
    f!("VDDMMC_HSLV", 16, 1, K::Electrical, Show::Flag("on", "off"), "high-speed I/O at low VDDMMC (only below 2.7 V)");
const F_FZ_IWDG_STOP: Field = f!("FZ_IWDG_STOP", 17, 1, K::User, FREEZE, "independent watchdog in Stop");
const F_FZ_IWDG_SDBY: Field = f!("FZ_IWDG_SDBY", 18, 1, K::User, FREEZE, "independent watchdog in Standby");
const F_ST_RAM_SIZE: Field = f!("ST_RAM_SIZE", 19, 2, K::Security, Show::Hex, "RAM reserved for ST secure services");
const F_SECURITY: Field = f!("SECURITY", 21, 1, K::Security, Show::Flag("enabled", "disabled"), "secure access mode");
const F_BCM4: Field =
    f!("BCM4", 22, 1, K::BootConfig, Show::Flag("boots", "held"), "Cortex-M4 at reset (dual-core parts)");
const F_BCM7: Field =
    f!("BCM7", 23, 1, K::BootConfig, Show::Flag("boots", "held"), "Cortex-M7 at reset (dual-core parts)");
const F_NRST_STOP_D2: Field = f!("NRST_STOP_D2", 24, 1, K::User, NO_RESET, "reset when D2 enters Stop");
const F_NRST_STBY_D2: Field = f!("NRST_STBY_D2", 25, 1, K::User, NO_RESET, "reset when D2 enters Standby");
const F_IO_HSLV: Field =
    f!("IO_HSLV", 29, 1, K::Electrical, Show::Flag("on", "off"), "high-speed I/O at low VDD (only below 2.7 V)");
const F_OPTCHANGEERR: Field = f!("OPTCHANGEERR", 30, 1, K::Status, Show::Flag("failed", ""), "last option change");
const F_SWAP_BANK_OPT: Field =
    f!("SWAP_BANK_OPT", 31, 1, K::BankConfig, Show::Flag("on, bank 2 at 0x08000000", "off"), "bank swap");

/// H74x/H75x and the dual-core H745/H747/H755/H757 share DEV_ID 0x450, so the
/// dual-core fields (IWDG2_SW, BCM4/BCM7, NRST_*_D2; CMSIS stm32h745xx.h FLASH_OPTSR_*) are listed
/// for all of them; on single-core parts those bits are reserved.
pub(super) static OPTSR_H74X: OptionWord = OptionWord {
    name: "FLASH_OPTSR",
    addr: OPTSR_CUR,
    fields: &[
        F_OPT_BUSY,
        F_BOR_LEV,
        F_IWDG1_SW,
        F_IWDG2_SW,
        F_NRST_STOP_D1,
        F_NRST_STBY_D1,
        F_RDP,
        F_FZ_IWDG_STOP,
        F_FZ_IWDG_SDBY,
        F_ST_RAM_SIZE,
        F_SECURITY,
        F_BCM4,
        F_BCM7,
        F_NRST_STOP_D2,
        F_NRST_STBY_D2,
        F_IO_HSLV,
        F_OPTCHANGEERR,
        F_SWAP_BANK_OPT,
    ],
};

/// H72x/H73x: as H743 plus NRST_*_D2, no SWAP_BANK_OPT (single bank, CMSIS
/// stm32h723xx.h FLASH_OPTSR_*).
pub(super) static OPTSR_H72X: OptionWord = OptionWord {
    name: "FLASH_OPTSR",
    addr: OPTSR_CUR,
    fields: &[
        F_OPT_BUSY,
        F_BOR_LEV,
        F_IWDG1_SW,
        F_NRST_STOP_D1,
        F_NRST_STBY_D1,
        F_RDP,
        F_FZ_IWDG_STOP,
        F_FZ_IWDG_SDBY,
        F_ST_RAM_SIZE,
        F_SECURITY,
        F_NRST_STOP_D2,
        F_NRST_STBY_D2,
        F_IO_HSLV,
        F_OPTCHANGEERR,
    ],
};

/// H7A/B: as H743 plus VDDMMC_HSLV (CMSIS stm32h7a3xx.h:8827-8871; ST's H7B0 SVD
/// OPTSR_CUR).
pub(super) static OPTSR_H7AB: OptionWord = OptionWord {
    name: "FLASH_OPTSR",
    addr: OPTSR_CUR,
    fields: &[
        F_OPT_BUSY,
        F_BOR_LEV,
        F_IWDG1_SW,
        F_NRST_STOP_D1,
        F_NRST_STBY_D1,
        F_RDP,
        F_VDDMMC_HSLV,
        F_FZ_IWDG_STOP,
        F_FZ_IWDG_SDBY,
        F_ST_RAM_SIZE,
        F_SECURITY,
        F_IO_HSLV,
        F_OPTCHANGEERR,
        F_SWAP_BANK_OPT,
    ],
};

/// WPSN: one bit per 128 KiB sector on H74x/H72x, 0 = protected (CMSIS
/// stm32h743xx.h FLASH_WPSN_*).
const WPSN: Show = Show::Protection(Mask::new("sector", 1, 0, true));
/// WPSGN: one bit per group of 4 sectors on H7A/B (ST's H7B0 SVD WPSGN_CUR1R;
/// OpenOCD src/flash/nor/stm32h7x.c:264).
const WPSGN: Show = Show::Protection(Mask::new("sector", 4, 0, true));

pub(super) static WPSN1: OptionWord = OptionWord {
    name: "FLASH_WPSN1",
    addr: WPSN_CUR1,
    fields: &[f!("WRPSN1", 0, 8, K::WriteProtect, WPSN, "write protection, bank 1")],
};
pub(super) static WPSN2: OptionWord = OptionWord {
    name: "FLASH_WPSN2",
    addr: WPSN_CUR1 + BANK2,
    fields: &[f!("WRPSN2", 0, 8, K::WriteProtect, WPSN, "write protection, bank 2")],
};
pub(super) static WPSGN1: OptionWord = OptionWord {
    name: "FLASH_WPSGN1",
    addr: WPSN_CUR1,
    fields: &[f!("WRPSGN1", 0, 32, K::WriteProtect, WPSGN, "write protection, bank 1")],
};
pub(super) static WPSGN2: OptionWord = OptionWord {
    name: "FLASH_WPSGN2",
    addr: WPSN_CUR1 + BANK2,
    fields: &[f!("WRPSGN2", 0, 32, K::WriteProtect, WPSGN, "write protection, bank 2")],
};

/// BOOT_ADD0/1 hold bits 31-16 of the boot address for BOOT0 = 0 / 1 (ST's H7B0
/// SVD BOOT_CUR).
/// On the dual-core parts this is BOOT7 (the Cortex-M7's); the Cortex-M4's
/// BOOT4 register cannot be told apart from a reserved word on single-core
/// parts of the same DEV_ID, so it is not shown.
static BOOT: OptionWord = OptionWord {
    name: "FLASH_BOOT",
    addr: BOOT_CUR,
    fields: &[
        f!("BOOT_ADD0", 0, 16, K::BootConfig, Show::BootAddress(16), "boot address with the BOOT0 pin low"),
        f!("BOOT_ADD1", 16, 16, K::BootConfig, Show::BootAddress(16), "boot address with the BOOT0 pin high"),
    ],
};

/// PCROP (PRAR) and secure-only (SCAR) areas, in 256-byte blocks; an area
/// whose start is above its end is empty (ST's H7B0 SVD PRAR_CUR1).
macro_rules! area_word {
    ($name:literal, $addr:expr, $what:literal, $erase:literal) => {
        OptionWord {
            name: $name,
            addr: $addr,
            fields: &[
                f!("START", 0, 12, K::Security, Show::Hex, concat!("first 256-byte block of the ", $what)),
                f!("END", 16, 12, K::Security, Show::Hex, "last block (none if below START)"),
                f!($erase, 31, 1, K::Security, Show::Flag("yes", "no"), "area erased by an RDP 1 to 0 regression"),
            ],
        }
    };
}
static PRAR1: OptionWord = area_word!("FLASH_PRAR1", PRAR_CUR1, "PCROP area of bank 1", "DMEP");
static PRAR2: OptionWord = area_word!("FLASH_PRAR2", PRAR_CUR1 + BANK2, "PCROP area of bank 2", "DMEP");
static SCAR1: OptionWord = area_word!("FLASH_SCAR1", SCAR_CUR1, "secure-only area of bank 1", "DMES");
static SCAR2: OptionWord = area_word!("FLASH_SCAR2", SCAR_CUR1 + BANK2, "secure-only area of bank 2", "DMES");

/// OTP block locks, H7A/B only: one bit per block of 64 bytes (CMSIS
/// stm32h7a3xx.h:786, 8967-8969: 16 lock bits for 1 KiB; block size by
/// arithmetic, not verified).
pub(super) static OTPBL: OptionWord = OptionWord {
    name: "FLASH_OTPBL",
    addr: OTPBL_CUR,
    fields: &[f!("LOCKBL", 0, 16, K::Security, Show::Hex, "locked OTP blocks (bit n: bytes 64n to 64n+63)")],
};

/// H72x/H73x OPTSR2 (CMSIS stm32h723xx.h:982): TCM/AXI RAM sharing changes the memory
/// map the firmware is linked for, so it counts as boot configuration.
pub(super) static OPTSR2: OptionWord = OptionWord {
    name: "FLASH_OPTSR2",
    addr: OPTSR2_CUR,
    fields: &[
        f!("TCM_AXI_SHARED", 0, 2, K::BootConfig, Show::Hex, "ITCM/DTCM size taken from the AXI SRAM"),
        f!("CPUFREQ_BOOST", 2, 1, K::User, Show::Flag("allowed", "not allowed"), "highest CPU frequency"),
    ],
};

/// OTP of the H7A/B: 1 KiB at 0x08FFF000, programmed 16 bits at a time (CMSIS
/// stm32h7a3xx.h:1973-1974; ST's HAL stm32h7xx_hal_flash.c:201-206).
pub(super) const OTP_H7AB: Otp = Otp { base: 0x08FF_F000, size: 1024, unit: 2, erased: 0xFF };
/// Bytes per OTPBL lock bit (by arithmetic from CMSIS stm32h7a3xx.h:8967-8969, not verified).
const OTP_BLOCK: u32 = 64;

impl H7Controller {
    fn dual_bank_now(&self) -> bool {
        self.bank_count() == 2
    }

    fn wait_option_change(&mut self, t: &mut Target, timeout: Duration) -> Result<(), FlashError> {
        let start = t.elapsed();
        t.sleep(OPTION_CHANGE_TYPICAL);
        loop {
            let sr = t.read32(OPTSR_CUR)?;
            if sr & OPT_BUSY == 0 {
                if sr & OPTCHANGEERR != 0 {
                    t.write32(OPTCCR, OPTCHANGEERR)?;
                    return Err(FlashError::Flags {
                        op: "changing the option bytes".to_string(),
                        flags: vec![OPTCHANGEERR_FLAG],
                        status: sr,
                    });
                }
                return Ok(());
            }
            let waited = t.elapsed() - start;
            if waited > timeout {
                return Err(FlashError::Timeout { op: "changing the option bytes".to_string(), waited });
            }
            t.sleep(Duration::from_millis(10));
        }
    }

    /// Unlock FLASH_OPTCR (only if locked: OpenOCD
    /// src/flash/nor/stm32h7x.c:424-428; ST's HAL stm32h7xx_hal_flash.c:861-885) and clear a stale OPTCHANGEERR.
    fn unlock_options(&mut self, t: &mut Target) -> Result<(), FlashError> {
        unlock_with_keys(t, "FLASH_OPTCR", OPTCR, OPTLOCK, OPTKEYR, [OPTKEY1, OPTKEY2])?;
        if t.read32(OPTSR_CUR)? & OPTCHANGEERR != 0 {
            t.write32(OPTCCR, OPTCHANGEERR)?;
        }
        Ok(())
    }

    fn lock_options(&mut self, t: &mut Target) -> Result<(), FlashError> {
        t.write32(OPTCR, OPTLOCK)?;
        Ok(())
    }

    /// Wait until no bank has a queued operation (HAL waits for the last
    /// operation of both banks before an option change).
    fn wait_banks_idle(&mut self, t: &mut Target) -> Result<(), FlashError> {
        for bank in 0..self.bank_count() as u8 {
            engine::wait_idle(t, &*self, bank, Duration::ZERO, Duration::from_secs(10), "waiting for the flash")?;
        }
        Ok(())
    }

    fn program_options(&mut self, t: &mut Target, changes: &[(&'static OptionWord, u32)]) -> Result<(), FlashError> {
        let current_rdp = (t.read32(OPTSR_CUR)? >> RDP_SHIFT) as u8;
        let mut timeout = OPTION_CHANGE_TIMEOUT;
        for &(word, value) in changes {
            if word.addr == OPTSR_CUR && current_rdp != 0xAA && (value >> RDP_SHIFT) as u8 == 0xAA {
                timeout = RDP_REGRESSION_TIMEOUT;
            }
            t.write32(word.addr + PRG_OFFSET, value)?;
        }
        let optcr = t.read32(OPTCR)?;
        t.write32(OPTCR, (optcr & OPTCHANGEERRIE) | OPTSTART)?;
        self.wait_option_change(t, timeout)
    }
}

impl H7Controller {
    /// The sectors WPSN_CUR1/2 (H7A/B: WPSGN, groups of 4; `wpsn[b]` for
    /// bank b) protect, as address ranges of `layout`, each with the
    /// WPSN value that removes the protection.
    pub(super) fn write_protected(&self, layout: &FlashLayout, wpsn: &[u32]) -> Vec<Reserved> {
        let mut out = Vec::new();
        for (b, (bank, &value)) in layout.banks.iter().zip(wpsn).enumerate() {
            let sectors = bank.sectors(b as u8);
            let place = |u: u32| sectors.get(u as usize).map(|s| (s.addr, s.end()));
            let of = format!(" of bank {}", b + 1);
            out.extend(mask_areas(self.variant().write_protection[b], value, sectors.len() as u32, place, &of));
        }
        out
    }
}

impl OptionBytes for H7Controller {
    fn words(&self) -> Vec<&'static OptionWord> {
        let dual = self.dual_bank_now();
        let v = self.variant();
        let mut w = vec![v.optsr, v.write_protection[0]];
        if dual {
            w.push(v.write_protection[1]);
        }
        w.extend([&BOOT, &PRAR1, &SCAR1]);
        if dual {
            w.extend([&PRAR2, &SCAR2]);
        }
        w.extend(v.extra_options);
        w
    }

    fn area_word(&self, area: OptionArea) -> Option<&'static OptionWord> {
        match area {
            OptionArea::Option => self.words().first().copied(),
            OptionArea::BootAdd => Some(&BOOT),
            OptionArea::Optcr | OptionArea::Optcr1 => None,
        }
    }

    /// OPTKEYR unlock, *_PRG writes, OPTSTART, OPT_BUSY wait, lock (ST's HAL
    /// stm32h7xx_hal_flash.c:967-995, 1154-1182).
    fn program(&mut self, t: &mut Target, changes: &[(&'static OptionWord, u32)]) -> Result<Reload, FlashError> {
        self.wait_banks_idle(t)?;
        self.unlock_options(t)?;
        let result = self.program_options(t, changes);
        let locked = self.lock_options(t);
        result.and(locked).map(|()| Reload::Applied)
    }

    fn otp(&self) -> Option<Otp> {
        self.variant().otp
    }

    fn otp_locked(&mut self, t: &mut Target) -> Result<Vec<(u32, u32, String)>, FlashError> {
        if self.otp().is_none() {
            return Ok(Vec::new());
        }
        let locks = t.read32(OTPBL_CUR)? & 0xFFFF;
        Ok((0..16)
            .filter(|b| locks >> b & 1 == 1)
            .map(|b| {
                let start = OTP_H7AB.base + b * OTP_BLOCK;
                (start, start + OTP_BLOCK, format!("OTP block {b} (locked by FLASH_OTPBL)"))
            })
            .collect())
    }

    /// ST's HAL HAL_FLASH_Program(FLASH_TYPEPROGRAM_OTPWORD): OPTCR.PG_OTP
    /// instead of CR1.PG, one 16-bit write per OTP word, wait for bank 1's
    /// queue, clear PG_OTP (stm32h7xx_hal_flash.c:201-206, 220-227, 237-241).
    /// OPTCR only takes PG_OTP while unlocked, so the option keys come first; CR1 is unlocked as for any programming.
    fn program_otp(&mut self, t: &mut Target, addr: u32, data: &[u8]) -> Result<(), FlashError> {
        if self.otp().is_none() || addr % 2 != 0 || data.len() % 2 != 0 {
            return Err(FlashError::Unsupported("OTP is programmed in aligned 16-bit words".to_string()));
        }
        self.wait_banks_idle(t)?;
        engine::clear_stale_errors(t, &*self, 0)?;
        unlock_with_keys(t, "FLASH_CR1 (bank 1)", CR1, 1, KEYR1, [KEY1, KEY2])?;
        self.unlock_options(t)?;
        let result = (|| {
            let optcr = t.read32(OPTCR)?;
            t.write32(OPTCR, (optcr & OPTCHANGEERRIE) | PG_OTP)?;
            let word_time = self.variant().word_time;
            for (i, half) in data.chunks(2).enumerate() {
                let a = addr + 2 * i as u32;
                t.write_mem_width(a, half, 2)?;
                engine::wait_idle(t, &*self, 0, word_time, OTP_WORD_TIMEOUT, &format!("programming OTP at 0x{a:08X}"))?;
            }
            Ok(())
        })();
        let optcr = t.read32(OPTCR);
        let cleanup = optcr.map_err(FlashError::from).and_then(|v| Ok(t.write32(OPTCR, v & OPTCHANGEERRIE)?));
        let locked = self.lock_options(t).and_then(|()| self.lock(t, 0));
        result.and(cleanup).and(locked)
    }
}

/// The option tables' facts for a row, by the names of ST's headers.
pub(super) fn register_facts(c: &'static Chip, f: &mut Facts) {
    let Some(d) = H7Controller::new(c, None) else { return };
    let v = d.variant();
    f.source("option table");
    f.number("FLASH_TypeDef.OPTKEYR", (OPTKEYR - BASE) as u64);
    f.number("FLASH_OPT_KEY1", OPTKEY1 as u64).number("FLASH_OPT_KEY2", OPTKEY2 as u64);
    f.mask("FLASH_OPTCR_OPTLOCK", OPTLOCK).mask("FLASH_OPTCR_OPTSTART", OPTSTART);
    f.mask("FLASH_OPTCR_OPTCHANGEERRIE", OPTCHANGEERRIE);
    if v.otp.is_some() {
        f.mask("FLASH_OPTCR_PG_OTP", PG_OTP);
    }
    f.number("FLASH_TypeDef.OPTCCR", (OPTCCR - BASE) as u64);
    // The *_PRG copy of each option register follows its *_CUR.
    f.number("FLASH_TypeDef.OPTSR_PRG", (OPTSR_CUR + PRG_OFFSET - BASE) as u64);
    // The dual-core fields hold in the dual-core parts' header only
    // (`HeaderNames::dual_core`).
    let dual_core = |name: &str| ["IWDG2_SW", "BCM4", "BCM7", "NRST_STOP_D2", "NRST_STBY_D2"].contains(&name);
    let word_facts = |f: &mut Facts, word: &OptionWord, reg: &str, renames: &[(&str, Option<&str>)]| {
        f.option_word(word, &format!("FLASH_R_BASE+FLASH_TypeDef.{reg}"), &format!("FLASH_{}", prefix(reg)), renames);
    };
    let single: Vec<(&str, Option<&str>)> = v
        .optsr
        .fields
        .iter()
        .filter(|fd| v.names.dual_core.is_some() && dual_core(fd.name))
        .map(|fd| (fd.name, None))
        .collect();
    word_facts(f, v.optsr, "OPTSR_CUR", &single);
    if let Some(part) = v.names.dual_core {
        f.scope(Scope::Part(part));
        for fd in v.optsr.fields.iter().filter(|fd| dual_core(fd.name)) {
            f.field(format!("FLASH_OPTSR_{}", fd.name), fd.shift as u32, fd.width as u32);
        }
        f.scope(Scope::Die);
    }
    let wp = [(v.write_protection[0], "WPSN_CUR1"), (v.write_protection[1], "WPSN_CUR2")];
    for (word, reg) in wp.iter().take(if v.dual_bank { 2 } else { 1 }) {
        word_facts(f, word, reg, &[(word.fields[0].name, Some("FLASH_WPSN_WRPSN"))]);
    }
    word_facts(f, &BOOT, "BOOT_CUR", &[("BOOT_ADD0", Some("ADD0")), ("BOOT_ADD1", Some("ADD1"))]);
    let areas = [(&PRAR1, "PRAR_CUR1"), (&SCAR1, "SCAR_CUR1"), (&PRAR2, "PRAR_CUR2"), (&SCAR2, "SCAR_CUR2")];
    for (word, reg) in areas.iter().take(if v.dual_bank { 4 } else { 2 }) {
        let area = if reg.starts_with("PRAR") { "PROT_AREA" } else { "SEC_AREA" };
        let (start, end) = (format!("{area}_START"), format!("{area}_END"));
        word_facts(f, word, reg, &[("START", Some(&start)), ("END", Some(&end))]);
    }
    for word in v.extra_options {
        let reg = if std::ptr::eq(*word, &OTPBL) { "OTPBL_CUR" } else { "OPTSR2_CUR" };
        word_facts(f, word, reg, &[]);
    }
}

/// The field prefix of an option register: `PRAR_CUR1` → `PRAR`.
fn prefix(reg: &str) -> &str {
    let reg = reg.trim_end_matches(|c: char| c.is_ascii_digit());
    reg.strip_suffix("_CUR").unwrap_or(reg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;

    fn driver(dev_id: u16) -> H7Controller {
        H7Controller::new(chips::find(dev_id).unwrap(), Some(3300)).unwrap()
    }

    #[test]
    fn optsr_positions_match_the_reference_manuals() {
        // CMSIS FLASH_OPTSR_*_Pos, written out independently.
        let w = &OPTSR_H7AB;
        let pos = |n: &str| w.field(n).map(|f| (f.shift, f.width));
        assert_eq!(pos("BOR_LEV"), Some((2, 2)));
        assert_eq!(pos("RDP"), Some((8, 8)));
        assert_eq!(pos("VDDMMC_HSLV"), Some((16, 1)));
        assert_eq!(pos("SECURITY"), Some((21, 1)));
        assert_eq!(pos("SWAP_BANK_OPT"), Some((31, 1)));
        assert_eq!(OPTSR_H74X.field("BCM7").map(|f| f.shift), Some(23));
        assert!(OPTSR_H72X.field("SWAP_BANK_OPT").is_none());
        // Bit 1 and bits 22-28 are reserved on H7A/B.
        assert_eq!(w.reserved_mask(), (1 << 1) | (1 << 5) | (0x7F << 22));
    }

    #[test]
    fn words_follow_the_part() {
        let mut d = driver(0x480);
        let names: Vec<&str> = d.words().iter().map(|w| w.name).collect();
        // Without a layout yet, one bank is assumed.
        assert_eq!(names, ["FLASH_OPTSR", "FLASH_WPSGN1", "FLASH_BOOT", "FLASH_PRAR1", "FLASH_SCAR1", "FLASH_OTPBL"]);
        assert_eq!(d.area_word(OptionArea::Option).map(|w| w.addr), Some(0x5200_201C));
        assert_eq!(d.area_word(OptionArea::BootAdd).map(|w| w.addr), Some(0x5200_2040));
        assert!(d.area_word(OptionArea::Optcr).is_none());
        assert_eq!(d.otp().map(|o| (o.base, o.size, o.unit)), Some((0x08FF_F000, 1024, 2)));
        assert!(driver(0x450).otp().is_none());
        let _ = d.options();
    }

    #[test]
    fn field_names_are_unique_per_part() {
        for id in [0x450u16, 0x483, 0x480] {
            let d = driver(id);
            let mut seen = std::collections::HashSet::new();
            for w in d.words() {
                for f in w.fields {
                    if ["START", "END", "DMEP", "DMES"].contains(&f.name) {
                        continue;
                    }
                    assert!(seen.insert(f.name), "{} twice on 0x{id:03X}", f.name);
                }
            }
        }
    }

    /// (start, end exclusive, reason) of each area.
    fn areas(d: &H7Controller, size: u32, wpsn: &[u32]) -> Vec<(u32, u64, String)> {
        let layout = FlashLayout::dual(&d.chip().flash, size);
        d.write_protected(&layout, wpsn).into_iter().map(|r| (r.start, r.end, r.reason)).collect()
    }

    #[test]
    fn write_protected_sectors_become_address_ranges_in_both_banks() {
        // H7A3 (RM0455 FLASH_WPSGN): bit n = sectors 4n..4n+3 of 8 KiB, 0 = protected.
        let a = areas(&driver(0x480), 2 << 20, &[0xFFFF_FFFE, 0xFFFF_FFF9]);
        assert_eq!(a.len(), 2, "{a:?}");
        assert_eq!((a[0].0, a[0].1), (0x0800_0000, 0x0800_8000));
        assert_eq!((a[1].0, a[1].1), (0x0810_8000, 0x0811_8000), "bank 2 from 0x08100000");
        assert!(a[1].2.contains("FLASH_WPSGN2.WRPSGN2 (sectors 4-11 of bank 2)"), "{}", a[1].2);
        assert!(a[1].2.contains("`stflash --area=option write WRPSGN2=0xFFFFFFFF`"), "{}", a[1].2);
        // 1 MiB part: 64 sectors per bank, the groups past them protect nothing.
        let a = areas(&driver(0x480), 1 << 20, &[0x7FFF_FFFF, 0x0000_FFFF]);
        assert_eq!(a.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(), []);
        // H743 (RM0433 FLASH_WPSN): one bit per 128 KiB sector; only the named bits change.
        let a = areas(&driver(0x450), 2 << 20, &[0xFA, 0x7F]);
        let ranges: Vec<(u32, u64)> = a.iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(ranges, [(0x0800_0000, 0x0802_0000), (0x0804_0000, 0x0806_0000), (0x081E_0000, 0x0820_0000)]);
        assert!(a[0].2.contains("WRPSN1=0xFB"), "sector 0 only: {}", a[0].2);
        assert!(a[2].2.contains("FLASH_WPSN2.WRPSN2 (sector 7 of bank 2)") && a[2].2.contains("WRPSN2=0xFF"));
    }
}
