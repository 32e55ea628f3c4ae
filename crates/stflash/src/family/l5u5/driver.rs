//! STM32L5 and STM32U5 flash through the non-secure registers (RM0438, RM0456;
//! RM0438 §6, RM0456 §7).
//!
//! NSKEYR/NSSR/NSCR drive both banks; a page is named by its bank-relative
//! number (PNB) plus BKER for bank 2. The bank mode comes from OPTR: L5 DBANK
//! (or DB256K on 256 KiB parts), U5 DUALBANK (parts below 2 MiB; 2 and 4 MiB
//! parts are always dual-bank). L5 programs 64-bit double words, U5 128-bit
//! quad words, both as consecutive 32-bit writes.
//!
//! With TrustZone enabled (OPTR.TZEN) the non-secure registers cannot erase or
//! program secure pages (RM0438 §6.5 "Flash memory protection"); stflash does not drive
//! the secure register block and refuses to erase or program such a chip.
//!
//! The STM32WBA5 (RM0493) and U3 (RM0487) have this controller too: the same
//! non-secure offsets (CMSIS `FLASH_TypeDef` stm32wba52xx.h:336-357 NSKEYR
//! 0x08, OPTKEYR 0x10, NSSR 0x20, NSCR1 0x28, OPTR 0x40, WRPAR/WRPBR
//! 0x58/0x5C; stm32u375xx.h:498-523 KEYR, SR, CR, WRP1AR…WRP2BR at the U5's
//! offsets), the same CR bits (PG 0, PER 1, MER1 2, PNB 3 w7, BKER 11, MER2
//! 15, STRT 16, OPTSTRT 17, OBL_LAUNCH 27, OPTLOCK 30, LOCK 31:
//! stm32wba52xx.h:3803-3836, stm32u375xx.h:6475-6490) and SR bits
//! (stm32wba52xx.h:3733-3769, stm32u375xx.h:6396-6435), the same sequences
//! (ST's HAL stm32wbaxx_hal_flash.c and stm32u3xx_hal_flash.c; OpenOCD drives
//! all four through one path, src/flash/nor/stm32l4x.c `F_HAS_L5_FLASH_REGS`).
//! What differs between the dies is data ([`Variant`]): page size and
//! programming unit (in the chip row), how the bank mode is chosen, whether
//! a second bank exists (BKER, MER2), the busy flags, the voltage the flash
//! needs, and the option words.

use std::time::Duration;

use log::info;

use crate::chip::{Chip, Controller};
use crate::flash::options::OptionWord;
use crate::flash::{
    start_then_clear, unlock_with_keys, ErrorFlag, FlashController, FlashError, FlashLayout, ProgramAccess, RdpLevel,
    RegOp, Reserved, Sector, StatusReg, Width, KEY1, KEY2,
};
use crate::mcu::Target;

/// Non-secure register block (embassy stm32-data flash_l5.json, flash_u5.json).
const BASE: u32 = 0x4002_2000;
const NSKEYR: u32 = BASE + 0x08;
const NSSR: u32 = BASE + 0x20;
const NSCR: u32 = BASE + 0x28;
const OPTR: u32 = BASE + 0x40;

// NSSR (W1C; embassy stm32-data flash_l5/flash_u5.json NSSR).
pub const SR_EOP: u32 = 1 << 0;
pub const SR_OPERR: u32 = 1 << 1;
pub const SR_PROGERR: u32 = 1 << 3;
pub const SR_WRPERR: u32 = 1 << 4;
pub const SR_PGAERR: u32 = 1 << 5;
pub const SR_SIZERR: u32 = 1 << 6;
pub const SR_PGSERR: u32 = 1 << 7;
pub const SR_BSY: u32 = 1 << 16;
/// Write data waiting in the programming buffer (U5, WBA5, U3: the HAL
/// waits for BSY and WDW, stm32wbaxx_hal_flash.c and stm32u3xx_hal_flash.c
/// `FLASH_WaitForLastOperation`; CMSIS stm32wba52xx.h:3760, stm32u375xx.h:6423).
pub const SR_WDW: u32 = 1 << 17;

// NSCR (embassy stm32-data flash_l5/flash_u5.json NSCR; CMSIS `stm32u575xx.h`).
pub const CR_PG: u32 = 1 << 0;
pub const CR_PER: u32 = 1 << 1;
pub const CR_MER1: u32 = 1 << 2;
pub const CR_PNB_SHIFT: u32 = 3;
pub const CR_BKER: u32 = 1 << 11;
pub const CR_MER2: u32 = 1 << 15;
pub const CR_STRT: u32 = 1 << 16;
pub const CR_LOCK: u32 = 1 << 31;

// OPTR (embassy stm32-data flash_l5/flash_u5.json OPTR; CMSIS `stm32l552xx.h:7480-7502`,
// `stm32u575xx.h:8417-8419`).
pub const OPTR_RDP_MASK: u32 = 0xFF;
/// L5: dual bank on 256 KiB parts. U5: DUALBANK (same bit).
pub const OPTR_BIT21: u32 = 1 << 21;
/// L5 DBANK.
pub const OPTR_DBANK: u32 = 1 << 22;
pub const OPTR_TZEN: u32 = 1 << 31;

/// RDP byte level 0.5 (TrustZone only); the others are the common bytes
/// (embassy stm32-data flash_u5.json, enum RDP).
const RDP_LEVEL0_5: u8 = 0x55;

/// L5 voltage scaling: flash program/erase need range 0 (stlink sets it,
/// citing RM0438 p.183). PWR at 0x40007000, CR1.VOS
/// bits 10:9 (CMSIS `stm32l552xx.h:1379, 10051`); 00 = range 0, 01 = range 1,
/// 10 = range 2, the reset value (STM32L5 HAL PWR_REGULATOR_VOLTAGE_SCALEx).
/// PWR_SR2.VOSF bit 10 (`stm32l552xx.h:10217`). PWR registers take writes only
/// with RCC_APB1ENR1.PWREN (bit 28, RCC 0x40021000 + 0x58) set.
pub const L5_PWR_CR1: u32 = 0x4000_7000;
pub const L5_PWR_SR2: u32 = 0x4000_7014;
pub const L5_VOS_MASK: u32 = 3 << 9;
pub const L5_PWR_SR2_VOSF: u32 = 1 << 10;
pub const L5_RCC_APB1ENR1: u32 = 0x4002_1058;
pub const L5_RCC_PWREN: u32 = 1 << 28;
const VOS_TIMEOUT: Duration = Duration::from_millis(50);

/// Typical times (recalled from the datasheets' flash memory characteristics,
/// not checked): 82 µs per double/quad word;
/// page erase 22 ms (L5 2/4 KiB) or 1.5 ms (U5 8 KiB); mass erase 22 ms.
/// Timeouts: page erase 250 ms and writes 50 ms (OpenOCD
/// src/flash/nor/stm32l4x.c:135-138); bank erases get 30 s, ≥ 10× any figure quoted.
const PROGRAM_TIME: Duration = Duration::from_micros(82);
const PROGRAM_TIMEOUT: Duration = Duration::from_millis(50);
const ERASE_TIMEOUT: Duration = Duration::from_millis(250);
const MASS_ERASE_TIME: Duration = Duration::from_millis(22);
const MASS_ERASE_TIMEOUT: Duration = Duration::from_secs(30);

static ERRORS: [ErrorFlag; 6] = [
    ErrorFlag { mask: SR_OPERR, name: "OPERR", meaning: "the operation did not complete" },
    ErrorFlag { mask: SR_PROGERR, name: "PROGERR", meaning: "the flash was not erased where data was written" },
    ErrorFlag {
        mask: SR_WRPERR,
        name: "WRPERR",
        meaning: "the page is write-protected (WRP area, HDP area or read protection)",
    },
    ErrorFlag { mask: SR_PGAERR, name: "PGAERR", meaning: "data written across a programming-unit boundary" },
    ErrorFlag { mask: SR_SIZERR, name: "SIZERR", meaning: "data written with byte or half-word accesses" },
    ErrorFlag {
        mask: SR_PGSERR,
        name: "PGSERR",
        meaning: "programming sequence error (wrong control bits, a stale error, or an unsupported voltage range)",
    },
];

/// How a flash size runs: one bank, two, or as an OPTR bit says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankMode {
    Single,
    Dual,
    /// Two banks when this OPTR bit is set.
    OptionBit(u32),
}

/// How a die chooses between one and two banks: the mode of the sizes
/// listed (KiB), `otherwise` for the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DualBankRule {
    pub sizes: &'static [(u32, BankMode)],
    pub otherwise: BankMode,
}

impl DualBankRule {
    /// L5: OPTR.DB256K (bit 21) on 256 KiB parts, OPTR.DBANK (bit 22) on 512
    /// KiB parts (RM0438 §6.4.1 FLASH_OPTR; OpenOCD stm32l4x.c:2212-2222).
    pub const L5: DualBankRule = DualBankRule {
        sizes: &[(128, BankMode::OptionBit(OPTR_BIT21)), (256, BankMode::OptionBit(OPTR_BIT21))],
        otherwise: BankMode::OptionBit(OPTR_DBANK),
    };
    /// U575/U585, U59x/U5Ax, U5Fx/U5Gx: OPTR.DUALBANK (bit 21) on 512 KiB
    /// and 1 MiB parts; the others are always dual bank (RM0456 §7.9.15
    /// FLASH_OPTR). The U535/U545 die has `U535`.
    pub const U5: DualBankRule = DualBankRule {
        sizes: &[(512, BankMode::OptionBit(OPTR_BIT21)), (1024, BankMode::OptionBit(OPTR_BIT21))],
        otherwise: BankMode::Dual,
    };
    /// U535/U545 (DEV_ID 0x455): always two banks. NSCR.PNB has 5 bits
    /// (stm32u535xx.h:7601), 32 pages of 8 KiB, so one bank of the 512 KiB
    /// U545 could not be numbered, and ST's headers and HAL put bank 2 at
    /// half the flash on every size (stm32u535xx.h:7476 `FLASH_BANK_SIZE
    /// (FLASH_SIZE >> 1U)`; stm32u5xx_hal_flash_ex.c never reads DUALBANK to
    /// lay out the pages). `U5` let DUALBANK = 0 make the 512 KiB part one
    /// bank of 64 pages, whose upper half the 5-bit PNB would have aliased
    /// onto the lower. What DUALBANK does on this die is not known here
    /// (RM0456 not at hand): stflash does not follow it.
    pub const U535: DualBankRule = DualBankRule { sizes: &[], otherwise: BankMode::Dual };
    /// U3: 1 MiB parts always dual (256 pages would not fit the 7-bit PNB,
    /// stm32u375xx.h:6478), 512 KiB parts dual with OPTR.DUALBANK (bit 21,
    /// stm32u375xx.h:6638; OpenOCD stm32l4x.c:2228-2235; RM0487 as quoted in
    /// Zephyr PR #104662: "for 512-Kbyte dual-bank STM32U375/385 devices, the
    /// base address of bank 2 is 0x0804 0000").
    pub const U3: DualBankRule =
        DualBankRule { sizes: &[(512, BankMode::OptionBit(OPTR_BIT21))], otherwise: BankMode::Dual };
    /// WBA5: always one bank (ST HAL stm32wbaxx_hal_flash.h `FLASH_BANK_SIZE
    /// = FLASH_SIZE`, no `FLASH_DBANK_SUPPORT` on WBA5; OpenOCD
    /// stm32l4x.c:2262-2275 "always single bank").
    pub const SINGLE: DualBankRule = DualBankRule { sizes: &[], otherwise: BankMode::Single };

    fn mode(&self, flash_size: u32) -> BankMode {
        self.sizes.iter().find(|(kib, _)| *kib * 1024 == flash_size).map_or(self.otherwise, |&(_, m)| m)
    }
}

/// One step that brings the core voltage where flash programming needs it:
/// when `reg & mask != value`, write `value` into the field and wait until
/// bit `ready` of `ready_reg` reads `ready_set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerStep {
    pub reg: u32,
    pub mask: u32,
    pub value: u32,
    pub ready_reg: u32,
    pub ready: u32,
    pub ready_set: bool,
}

/// The voltage flash programming needs and how to get there: the PWR
/// registers take writes once the RCC bit `clock` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoltageRange {
    /// "range 0".
    pub name: &'static str,
    pub clock: (u32, u32),
    pub steps: &'static [PowerStep],
}

/// L5: range 0 (see `L5_PWR_CR1`).
pub const L5_RANGE0: VoltageRange = VoltageRange {
    name: "range 0",
    clock: (L5_RCC_APB1ENR1, L5_RCC_PWREN),
    steps: &[PowerStep {
        reg: L5_PWR_CR1,
        mask: L5_VOS_MASK,
        value: 0,
        ready_reg: L5_PWR_SR2,
        ready: L5_PWR_SR2_VOSF,
        ready_set: false,
    }],
};

/// U3: erase and program "check that voltage range is set to range 1"
/// (RM0487 as quoted in Zephyr PR #104662). PWR_VOSR at 0x4003080C
/// (PWR_BASE_NS 0x40030800 + 0x0C, CMSIS stm32u375xx.h:1482, 831): R1EN bit
/// 0, R2EN bit 1, BOOSTEN bit 8, R1RDY bit 16, BOOSTRDY bit 24
/// (stm32u385xx.h:12583-12598); PWREN is bit 2 of RCC_AHB1ENR2 at
/// 0x40030C94 (stm32u375xx.h:919; stm32u385xx.h:14471). The booster step is
/// OpenOCD's (tcl/target/stm32u3x.cfg:20-49, before every erase); that the
/// flash needs it is assumed.
pub const U3_RANGE1: VoltageRange = VoltageRange {
    name: "range 1",
    clock: (0x4003_0C94, 1 << 2),
    steps: &[
        PowerStep {
            reg: 0x4003_080C,
            mask: 0b11,
            value: 0b01,
            ready_reg: 0x4003_080C,
            ready: 1 << 16,
            ready_set: true,
        },
        PowerStep {
            reg: 0x4003_080C,
            mask: 1 << 8,
            value: 1 << 8,
            ready_reg: 0x4003_080C,
            ready: 1 << 24,
            ready_set: true,
        },
    ],
};

/// What differs between the dies of this controller, as data (the chip
/// rows point here).
#[derive(Debug)]
pub struct Variant {
    /// Controller name for messages.
    pub name: &'static str,
    pub dual_bank: DualBankRule,
    /// CR.BKER and CR.MER2 (0 on the single-bank WBA5, whose NSCR1 has
    /// neither: stm32wba52xx.h:3803-3836).
    pub bker: u32,
    pub mer2: u32,
    /// SR flags polled until clear.
    pub busy: u32,
    /// The core voltage flash programming needs, where the driver must set
    /// it (L5: range 0, RM0438 §6.3.2; U3: range 1).
    pub voltage: Option<&'static VoltageRange>,
    /// Typical page erase time.
    pub page_erase: Duration,
    pub optr: &'static OptionWord,
    /// The boot-address registers at 0x44/0x48 (NSBOOTADD0R/1R; U3 BOOT0R/1R).
    pub boot: [&'static OptionWord; 2],
    /// The WRP area registers, bank 1 (A, B) then bank 2 (A, B) where the
    /// die has a second bank (their page fields are as wide as PNB).
    pub wrp: &'static [OptionWord],
    /// In single-bank mode WRP2A/WRP2B protect pages too, numbered from the
    /// flash base (L5: OpenOCD stm32l4x.c `F_USE_ALL_WRPXX`); U5 uses only
    /// WRP1A/WRP1B then.
    pub wrp2_in_single_bank: bool,
    /// The option bytes as shipped (for `recover`).
    pub factory: &'static crate::flash::options::factory::Factory,
    /// ST's names of what the register facts state.
    pub names: &'static HeaderNames,
}

/// The L5 or U5 non-secure flash controller.
pub struct TzController {
    chip: &'static Chip,
    variant: &'static Variant,
    /// Dual-bank mode, as read from OPTR by `layout`.
    dual: bool,
}

impl TzController {
    /// `None` when `chip` is not an L5/U5 row.
    pub fn new(chip: &'static Chip) -> Option<TzController> {
        let Controller::L5U5(variant) = chip.controller else { return None };
        Some(TzController { chip, variant, dual: true })
    }

    pub fn chip(&self) -> &'static Chip {
        self.chip
    }

    pub fn variant(&self) -> &'static Variant {
        self.variant
    }

    /// Dual-bank mode for this flash size and OPTR value.
    pub fn dual_bank(&self, optr: u32, flash_size: u32) -> bool {
        match self.variant.dual_bank.mode(flash_size) {
            BankMode::Single => false,
            BankMode::Dual => true,
            BankMode::OptionBit(bit) => optr & bit != 0,
        }
    }

    /// Bring the core voltage where flash programming needs it if the
    /// firmware left it elsewhere (L5 range 0, U3 range 1).
    fn ensure_voltage(&self, t: &mut Target, range: &VoltageRange) -> Result<(), FlashError> {
        let ready = |t: &mut Target, s: &PowerStep| -> Result<bool, FlashError> {
            Ok((t.read32(s.ready_reg)? & s.ready != 0) == s.ready_set)
        };
        let mut clocked = false;
        for step in range.steps {
            if t.read32(step.reg)? & step.mask == step.value && ready(t, step)? {
                continue;
            }
            if !clocked {
                info!(
                    "setting the {} core voltage to {}, which flash programming needs",
                    self.variant.name, range.name
                );
                let (enr, bit) = range.clock;
                let v = t.read32(enr)?;
                t.write32(enr, v | bit)?;
                clocked = true;
            }
            let v = t.read32(step.reg)?;
            t.write32(step.reg, (v & !step.mask) | step.value)?;
            let start = t.elapsed();
            while !ready(t, step)? {
                if t.elapsed() - start > VOS_TIMEOUT {
                    return Err(FlashError::Timeout {
                        op: format!("waiting for the core voltage to reach {}", range.name),
                        waited: t.elapsed() - start,
                    });
                }
                t.sleep(Duration::from_micros(100));
            }
            if t.read32(step.reg)? & step.mask != step.value {
                return Err(FlashError::Unsupported(format!(
                    "the {} core voltage could not be set to {} (PWR register 0x{:08X}), which flash programming \
                     needs",
                    self.variant.name, range.name, step.reg
                )));
            }
        }
        Ok(())
    }

    fn erase_time(&self) -> Duration {
        self.variant.page_erase
    }
}

impl FlashController for TzController {
    fn name(&self) -> &'static str {
        self.variant.name
    }

    fn layout(&mut self, t: &mut Target) -> Result<FlashLayout, FlashError> {
        let optr = t.read32(OPTR)?;
        self.dual = self.dual_bank(optr, t.flash_size);
        Ok(if self.dual {
            FlashLayout::dual(&self.chip.flash, t.flash_size)
        } else {
            FlashLayout::single(&self.chip.flash, t.flash_size)
        })
    }

    fn status(&self, _bank: u8) -> StatusReg {
        StatusReg {
            addr: NSSR,
            busy: self.variant.busy,
            errors: ERRORS.iter().fold(0, |m, f| m | f.mask),
            clear_reg: None,
            eop: SR_EOP,
        }
    }

    fn error_flags(&self) -> &'static [ErrorFlag] {
        &ERRORS
    }

    /// One NSCR serves both banks: the keys go once, when LOCK is set.
    fn unlock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        if t.read32(OPTR)? & OPTR_TZEN != 0 {
            return Err(FlashError::Unsupported(format!(
                "TrustZone is enabled on this {} (OPTR.TZEN = 1): the non-secure flash registers cannot erase or \
                 program secure pages, and stflash does not drive the secure ones; disable TrustZone (TZEN = 0, \
                 which needs an RDP regression) or use STM32CubeProgrammer",
                self.name()
            )));
        }
        if let Some(range) = self.variant.voltage {
            self.ensure_voltage(t, range)?;
        }
        unlock_with_keys(t, "FLASH_NSCR", NSCR, CR_LOCK, NSKEYR, [KEY1, KEY2])
    }

    /// Clear every operation bit, then set LOCK (setting LOCK leaves the
    /// other bits as they are).
    /// Both banks share NSCR: a second call finds it locked and does nothing.
    fn lock(&mut self, t: &mut Target, _bank: u8) -> Result<(), FlashError> {
        if t.read32(NSCR)? & CR_LOCK != 0 {
            return Ok(());
        }
        t.write32(NSCR, 0)?;
        t.write32(NSCR, CR_LOCK)?;
        Ok(())
    }

    /// PER + bank-relative PNB (+ BKER for bank 2), then STRT.
    fn erase_sector_ops(&self, sector: &Sector) -> Vec<RegOp> {
        let bker = if sector.bank == 1 { self.variant.bker } else { 0 };
        let cr = CR_PER | (sector.index << CR_PNB_SHIFT) | bker;
        let wait = RegOp::WaitIdle { bank: sector.bank, typical: self.erase_time(), timeout: ERASE_TIMEOUT };
        start_then_clear(NSCR, cr, CR_STRT, wait)
    }

    /// MER1 (+ MER2 in dual-bank mode), then STRT. In single-bank mode MER1
    /// erases the whole array.
    fn mass_erase_ops(&self, layout: &FlashLayout) -> Option<Vec<RegOp>> {
        let cr = if layout.banks.len() > 1 { CR_MER1 | self.variant.mer2 } else { CR_MER1 };
        let wait = RegOp::WaitIdle { bank: 0, typical: MASS_ERASE_TIME, timeout: MASS_ERASE_TIMEOUT };
        Some(start_then_clear(NSCR, cr, CR_STRT, wait))
    }

    fn options(&mut self) -> Option<&mut dyn crate::flash::options::OptionBytes> {
        Some(self)
    }

    /// The write-protected pages, from the WRP area registers as in force:
    /// a write or `erase` that touches one is refused before anything is
    /// erased, where the controller would erase the pages before it and then
    /// stop with WRPERR.
    fn reserved_ranges(&mut self, t: &mut Target) -> Result<Vec<Reserved>, FlashError> {
        let layout = self.layout(t)?;
        let mut values = Vec::new();
        for word in self.variant.wrp {
            values.push(t.read32(word.addr)?);
        }
        Ok(self.write_protected(&layout, &values))
    }

    fn program_setup_ops(&self, _bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: NSCR, value: CR_PG }]
    }

    fn program_teardown_ops(&self, _bank: u8) -> Vec<RegOp> {
        vec![RegOp::Write { addr: NSCR, value: 0 }]
    }

    fn program_access(&self) -> ProgramAccess {
        ProgramAccess {
            unit: self.chip.flash.write_unit,
            width: Width::Word,
            typical: PROGRAM_TIME,
            timeout: PROGRAM_TIMEOUT,
        }
    }

    /// RDP byte of OPTR. Level 0.5 exists only with TrustZone on: the
    /// non-secure flash stays readable, and erase/program is refused anyway
    /// (see `unlock`), so it is reported as level 0.
    fn rdp_level(&mut self, t: &mut Target) -> Result<RdpLevel, FlashError> {
        Ok(match (t.read32(OPTR)? & OPTR_RDP_MASK) as u8 {
            RDP_LEVEL0_5 => RdpLevel::Level0,
            rdp => RdpLevel::from_byte(rdp),
        })
    }
}

/// ST's names of what a die's register facts state, where its headers
/// differ (the die's `Variant::names`): the L5 calls the non-secure bits
/// NSPG, NSBSY… (stm32l552xx.h:7288-7379), the U5 PG, BSY…
/// (stm32u575xx.h:8189-8301), the WBA5 names its control register NSCR1
/// (stm32wba52xx.h:3803), the U3 has KEYR, SR and CR (stm32u375xx.h:498-523).
#[derive(Debug)]
pub struct HeaderNames {
    /// The register block (`FLASH_R_BASE_NS`, U3 `FLASH_R_BASE`).
    pub base: &'static str,
    pub keyr: &'static str,
    pub sr: &'static str,
    pub cr: &'static str,
    /// Prefix of the non-secure bits of SR and CR (`NS` on L5).
    pub bit: &'static str,
    /// OPTR's bank-mode bit (`FLASH_OPTR_DUALBANK`; L5 `FLASH_OPTR_DBANK`).
    pub dual_bank: &'static str,
    /// L5: bit 21, the bank-mode bit of the 256 KiB parts (`FLASH_OPTR_DB256K`).
    pub db256k: Option<&'static str>,
    /// The one header whose PNB and WRP page-field widths the die's fields
    /// have, where the DEV_ID's headers differ (WBA5: the WBA52/54/55's 7
    /// bits; the 512 KiB WBA50 has 6, stm32wba50xx.h:2966, fewer than the
    /// row's largest part needs).
    pub width_part: Option<&'static str>,
    /// The chip table's names.
    pub table: crate::facts::TableNames,
    /// `FLASH_OTP_BASE` (`None` on L5: its header calls it `OTP_BASE`,
    /// stm32l552xx.h:1689, which extract.py does not keep).
    pub otp_base: Option<&'static str>,
    /// The option tables' fields under other names in ST's headers.
    pub option_renames: &'static [(&'static str, Option<&'static str>)],
}

/// The driver's facts for a row, by the names of ST's headers (`Variant::names`;
/// keys: stm32l5xx_hal_flash.h, stm32u5xx_hal_flash.h).
pub(super) fn register_facts(c: &'static Chip, f: &mut crate::facts::Facts) {
    use crate::facts::Scope;
    let Controller::L5U5(v) = c.controller else { return };
    let n = v.names;
    f.source("driver");
    f.number(n.base, BASE as u64);
    for (reg, addr) in [(n.keyr, NSKEYR), (n.sr, NSSR), (n.cr, NSCR), ("OPTR", OPTR)] {
        f.number(format!("FLASH_TypeDef.{reg}"), (addr - BASE) as u64);
    }
    f.number("FLASH_KEY1", KEY1 as u64).number("FLASH_KEY2", KEY2 as u64);
    let (sr, cr, b) = (n.sr, n.cr, n.bit);
    f.mask(format!("FLASH_{sr}_{b}EOP"), SR_EOP).mask(format!("FLASH_{sr}_{b}BSY"), SR_BSY);
    for flag in &ERRORS {
        f.mask(format!("FLASH_{sr}_{b}{}", flag.name), flag.mask);
    }
    if v.busy & SR_WDW != 0 {
        f.mask(format!("FLASH_{sr}_{b}WDW"), SR_WDW);
    }
    for (bit, mask) in [("PG", CR_PG), ("PER", CR_PER), ("STRT", CR_STRT), ("LOCK", CR_LOCK)] {
        f.mask(format!("FLASH_{cr}_{b}{bit}"), mask);
    }
    // WBA5: one bank, its mass-erase bit is MER (stm32wba52xx.h:3809).
    f.mask(format!("FLASH_{cr}_{b}{}", if v.mer2 == 0 { "MER" } else { "MER1" }), CR_MER1);
    // PNB: the driver writes the bank-relative page number from bit 3; the
    // field is as wide as the die's WRP page fields (`Variant::wrp`).
    f.scope(n.width_part.map_or(Scope::Die, Scope::Part));
    f.field(format!("FLASH_{cr}_{b}PNB"), CR_PNB_SHIFT, v.wrp[0].fields[0].width as u32);
    f.scope(Scope::Die);
    if v.bker != 0 {
        f.mask(format!("FLASH_{cr}_{b}BKER"), v.bker).mask(format!("FLASH_{cr}_{b}MER2"), v.mer2);
    }
    for &(_, mode) in v.dual_bank.sizes.iter().chain([(0, v.dual_bank.otherwise)].iter()) {
        if let BankMode::OptionBit(bit) = mode {
            let name = match n.db256k {
                Some(db256k) if bit == OPTR_BIT21 => db256k,
                _ => n.dual_bank,
            };
            f.mask(name, bit);
        }
    }
    f.mask("FLASH_OPTR_RDP", OPTR_RDP_MASK).mask("FLASH_OPTR_TZEN", OPTR_TZEN);
    if v.voltage == Some(&L5_RANGE0) {
        // Range 0 (`L5_RANGE0`): PWR_CR1.VOS, PWR_SR2.VOSF, the PWR clock.
        f.number("PWR_BASE+PWR_TypeDef.CR1", L5_PWR_CR1 as u64);
        f.number("PWR_BASE+PWR_TypeDef.SR2", L5_PWR_SR2 as u64);
        f.mask("PWR_CR1_VOS", L5_VOS_MASK).mask("PWR_SR2_VOSF", L5_PWR_SR2_VOSF);
        f.number("RCC_BASE+RCC_TypeDef.APB1ENR1", L5_RCC_APB1ENR1 as u64);
        f.mask("RCC_APB1ENR1_PWREN", L5_RCC_PWREN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;

    fn u575() -> TzController {
        TzController::new(chips::find(0x482).unwrap()).unwrap()
    }

    fn l552() -> TzController {
        TzController::new(chips::find(0x472).unwrap()).unwrap()
    }

    #[test]
    fn page_erase_of_bank2_sets_bker_and_a_bank_relative_pnb() {
        let s = Sector { bank: 1, index: 3, addr: 0x0810_6000, size: 8192 };
        let ops = u575().erase_sector_ops(&s);
        // RM0456 NSCR at 0x40022028: PER bit 1, PNB from bit 3, BKER bit 11, STRT bit 16.
        let cr = (1 << 1) | (3 << 3) | (1 << 11);
        assert_eq!(ops[0], RegOp::Write { addr: 0x4002_2028, value: cr });
        assert_eq!(ops[1], RegOp::Write { addr: 0x4002_2028, value: cr | (1 << 16) });
        assert!(matches!(ops[2], RegOp::WaitIdle { bank: 1, .. }));
        assert_eq!(ops[3], RegOp::Write { addr: 0x4002_2028, value: 0 });
        let s = Sector { bank: 0, index: 127, addr: 0x0807_F000, size: 4096 };
        assert_eq!(l552().erase_sector_ops(&s)[0], RegOp::Write { addr: 0x4002_2028, value: 2 | (127 << 3) });
    }

    #[test]
    fn mass_erase_sets_mer1_and_mer2_in_dual_bank_mode() {
        let c = u575();
        let dual = FlashLayout::dual(&c.chip.flash, 2 << 20);
        let ops = c.mass_erase_ops(&dual).unwrap();
        // MER1 bit 2, MER2 bit 15.
        assert_eq!(ops[0], RegOp::Write { addr: 0x4002_2028, value: (1 << 2) | (1 << 15) });
        assert_eq!(ops[1], RegOp::Write { addr: 0x4002_2028, value: (1 << 2) | (1 << 15) | (1 << 16) });
        let single = FlashLayout::single(&c.chip.flash, 1 << 20);
        assert_eq!(c.mass_erase_ops(&single).unwrap()[0], RegOp::Write { addr: 0x4002_2028, value: 1 << 2 });
    }

    #[test]
    fn bank_mode_follows_the_option_bits() {
        let (l5, u5) = (l552(), u575());
        // L5 512 KiB: DBANK bit 22; 256 KiB: DB256K bit 21.
        assert!(l5.dual_bank(1 << 22, 512 << 10));
        assert!(!l5.dual_bank(1 << 21, 512 << 10));
        assert!(l5.dual_bank(1 << 21, 256 << 10));
        assert!(!l5.dual_bank(1 << 22, 256 << 10));
        // U5 DUALBANK bit 21 below 2 MiB; 2 MiB is always dual.
        assert!(u5.dual_bank(0, 2 << 20));
        assert!(!u5.dual_bank(0, 1 << 20));
        assert!(u5.dual_bank(1 << 21, 1 << 20));
        assert!(!u5.dual_bank(0, 512 << 10));
        // U535/U545: two banks whatever DUALBANK says (a 5-bit PNB).
        let u545 = TzController::new(chips::find(0x455).unwrap()).unwrap();
        for size in [128 << 10, 256 << 10, 512 << 10] {
            assert!(u545.dual_bank(0, size) && u545.dual_bank(1 << 21, size), "U535/U545 {size}");
        }
    }

    #[test]
    fn wba5_is_one_bank_without_bker_and_u3_follows_its_size_and_dualbank() {
        let wba = TzController::new(chips::find(0x492).unwrap()).unwrap();
        assert!(!wba.dual_bank(u32::MAX, 1 << 20) && !wba.dual_bank(u32::MAX, 512 << 10));
        let s = Sector { bank: 0, index: 127, addr: 0x080F_E000, size: 8192 };
        // RM0493 NSCR1: PER bit 1, PNB bits 9:3, STRT bit 16; no BKER.
        assert_eq!(wba.erase_sector_ops(&s)[0], RegOp::Write { addr: 0x4002_2028, value: 2 | (127 << 3) });
        let layout = FlashLayout::single(&wba.chip.flash, 1 << 20);
        assert_eq!(wba.mass_erase_ops(&layout).unwrap()[0], RegOp::Write { addr: 0x4002_2028, value: 1 << 2 });
        assert_eq!(wba.status(0).busy, (1 << 16) | (1 << 17), "BSY and WDW");
        assert_eq!(wba.program_access().unit, 16);
        let u3 = TzController::new(chips::find(0x454).unwrap()).unwrap();
        assert!(u3.dual_bank(0, 1 << 20), "1 MiB: always two banks");
        assert!(!u3.dual_bank(0, 512 << 10) && u3.dual_bank(1 << 21, 512 << 10), "512 KiB: DUALBANK");
        assert_eq!(u3.program_access().unit, 8, "double words");
        let s = Sector { bank: 1, index: 2, addr: 0x0808_2000, size: 4096 };
        assert_eq!(u3.erase_sector_ops(&s)[0], RegOp::Write { addr: 0x4002_2028, value: 2 | (2 << 3) | (1 << 11) });
    }

    #[test]
    fn program_units_and_status_bits() {
        assert_eq!(l552().program_access().unit, 8, "L5 double word");
        assert_eq!(u575().program_access().unit, 16, "U5 quad word");
        assert_eq!(u575().program_setup_ops(0), vec![RegOp::Write { addr: 0x4002_2028, value: 1 }]);
        let s = u575().status(1);
        assert_eq!((s.addr, s.busy, s.eop), (0x4002_2020, 1 << 16, 1));
        // OPERR 1, PROGERR 3, WRPERR 4, PGAERR 5, SIZERR 6, PGSERR 7.
        assert_eq!(s.errors, 0xFA);
    }
}
