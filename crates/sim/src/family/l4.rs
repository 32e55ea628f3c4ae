//! Simulated 64-bit double-word flash controllers: STM32L4, L4+, G0, G4, C0,
//! WB, WL (RM0351, RM0394, RM0432, RM0444, RM0440, RM0490, RM0434,
//! RM0453/RM0461), with field positions from ST's CMSIS headers and HAL where
//! the parts differ.
//!
//! Written from the reference-manual facts, not from stflash's driver: each
//! CR write is decoded bit by bit at the positions of the part being modelled,
//! so a driver that puts PNB or BKER at the wrong place erases the wrong page,
//! as silicon would.
//!
//! What is modelled:
//! - KEYR/OPTKEYR unlock sequences; a wrong key or a second sequence locks CR
//!   until the next reset.
//! - Standard programming: a 64-bit double word as two 32-bit writes with
//!   CR.PG set. SIZERR on byte/half-word writes, PGAERR when the first word is
//!   not double-word aligned or the second word is not the other half of the
//!   same double word, PROGERR when the double word is not erased (all-zero
//!   data excepted), PGSERR on a write with PG clear or while an earlier error
//!   is pending, WRPERR in a WRP area (and in the WB/WL CPU2 secure area).
//! - Fast programming (CR.FSTPG, RM0440 §3.3.7): a row of 32 double words (64
//!   on L4+ and WB, ST's HAL row sizes), each of which must be in the buffer
//!   before the previous one is programmed (MISERR + FASTERR otherwise), at
//!   59.7 µs per double word instead of 82 µs (DS12288 Table 47: a 32-double-
//!   word row in 1.91 ms; assumed for every part of the group). Only in a
//!   bank whose last erase was a mass erase of it (MER1/MER2): otherwise
//!   PGSERR and nothing programmed; a page erase in the bank or a reset
//!   forgets that (assumed: the RM does not say what clears it). HCLK below
//!   8 MHz: FASTERR at the row's first double word (assumed: the RM only
//!   states the requirement; the core clock comes from the simulated RCC).
//!   A read of the bank while a row is programmed stops the row without a
//!   flag (RM0440 §3.3.7 note): the double word in progress completes, the
//!   rest stays erased. Knob `fast_row=abort|fasterr|miserr|pgserr` (with
//!   `fast_row_at=N`, default 2): the Nth fast row since power-on loses its
//!   last double word as a read of its bank after the last write would make
//!   it (no flag), or stops halfway with FASTERR (the 7 ms row timer) or
//!   MISERR + FASTERR (data late), or is refused at its first double word
//!   with PGSERR as if the bank had not been mass-erased.
//! - Read-while-write (RM0440 §3.3.5, §3.3.8): in dual-bank mode a read of
//!   the bank that is not busy answers at once; any other flash access waits
//!   while an operation runs (one controller: never two operations).
//! - Page erase (PER, PNB, BKER, STRT) and mass erase (MER1/MER2, STRT);
//!   PGSERR for contradictory bits or a page beyond the bank; WRPERR for a
//!   protected page, or for a mass erase of a bank with a WRP area.
//! - Busy flags (BSY, BSY2 on G0B1 bank 2, CFGBSY where present), assumed
//!   operation times (`PROGRAM_NS` and below), and bus stalls on flash and CR accesses while
//!   busy. EOP only with EOPIE set (RM0351 FLASH_SR.EOP).
//! - Option registers: OPTR (RDP, bank-mode bits), WRP areas, WB/WL SFR;
//!   OPTSTRT stores them, OBL_LAUNCH reloads them through a system reset; the
//!   bank mode, page size, RDP and WRP follow the loaded values (editing the
//!   registers changes nothing until the next load). RDP level 1 makes flash
//!   unreadable by the debugger; an option program from level 1 to 0 erases
//!   the flash (not the OTP); level 2 disables the debug port and freezes the
//!   option bytes.
//! - WB/WL: OPTVERR set at option load (ST's HAL clears it before the first
//!   operation: stm32wbxx_hal_flash.c:631-640), PESD
//!   while CPU2 suspends flash operations, the secure area from SFR.SFSA:
//!   unreadable, unprogrammable and unerasable from CPU1/the debugger; mass
//!   erase leaves it alone.
//!
//! Assumed, for want of RM text (each marked in the code; no knob changes them):
//! a page number beyond the bank raises PGSERR; in single-bank mode MER1 or
//! MER2 erases the whole flash, BKER is ignored and WRP2x areas are unused; a
//! CR write while the first word of a double word is pending abandons that
//! word with PGSERR; a debugger read of the WB secure area is a bus error (CPU1 reads
//! fault, ST community thread "reading-from-flash-causes-hardfault"); an
//! erase or program in the secure area raises WRPERR (the RDP 1 → 0 regression
//! keeps it too, assumed); pending OPTVERR blocks
//! operations on WB/WL like the other errors.

use std::ops::Range;

use crate::crc_peripheral;
use crate::facts::{Facts, Scope};
use crate::model::{
    saved_blob, Access, AccessWidth, BusFault, ConfigResult, FlashArray, FlashModel, FlashStats, Initiator, Nanos, MS,
    US,
};
use crate::parts::Part;

// Register offsets (CMSIS `FLASH_TypeDef`, e.g. stm32l476xx.h, stm32g474xx.h,
// stm32wb55xx.h).
const ACR: u32 = 0x00;
const KEYR: u32 = 0x08;
const OPTKEYR: u32 = 0x0C;
const SR: u32 = 0x10;
const CR: u32 = 0x14;
const ECCR: u32 = 0x18;
const OPTR: u32 = 0x20;
const PCROP1SR: u32 = 0x24;
const PCROP1ER: u32 = 0x28;
const WRP1AR: u32 = 0x2C;
const WRP1BR: u32 = 0x30;
const WRP2AR: u32 = 0x4C;
const WRP2BR: u32 = 0x50;
const SFR: u32 = 0x80;
/// The controller's address block.
const REG_BLOCK: u32 = 0x400;

const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
const OPTKEY1: u32 = 0x0819_2A3B;
const OPTKEY2: u32 = 0x4C5D_6E7F;

// FLASH_SR.
const EOP: u32 = 1 << 0;
const OPERR: u32 = 1 << 1;
const PROGERR: u32 = 1 << 3;
const WRPERR: u32 = 1 << 4;
const PGAERR: u32 = 1 << 5;
const SIZERR: u32 = 1 << 6;
const PGSERR: u32 = 1 << 7;
const MISERR: u32 = 1 << 8;
const FASTERR: u32 = 1 << 9;
const RDERR: u32 = 1 << 14;
const OPTVERR: u32 = 1 << 15;
const BSY: u32 = 1 << 16;
const BSY2: u32 = 1 << 17;
const CFGBSY: u32 = 1 << 18;
const PESD: u32 = 1 << 19;
/// Flags software clears by writing 1.
const SR_W1C: u32 = EOP | OPERR | PROGERR | WRPERR | PGAERR | SIZERR | PGSERR | MISERR | FASTERR | RDERR | OPTVERR;
/// Errors that make the next operation fail with PGSERR (RM0351 FLASH_SR.PGSERR:
/// set "when PROGERR, SIZERR, PGAERR, WRPERR, MISSERR or FASTERR is set due to a
/// previous programming error").
const BLOCKING: u32 = PROGERR | SIZERR | PGAERR | WRPERR | MISERR | FASTERR | PGSERR;

// FLASH_CR.
const PG: u32 = 1 << 0;
const PER: u32 = 1 << 1;
const MER1: u32 = 1 << 2;
const PNB_SHIFT: u32 = 3;
const STRT: u32 = 1 << 16;
const OPTSTRT: u32 = 1 << 17;
const FSTPG: u32 = 1 << 18;
const EOPIE: u32 = 1 << 24;
const ERRIE: u32 = 1 << 25;
const RDERRIE: u32 = 1 << 26;
const OBL_LAUNCH: u32 = 1 << 27;
const OPTLOCK: u32 = 1 << 30;
const LOCK: u32 = 1 << 31;

// FLASH_ECCR.
const ECCD: u32 = 1 << 31;

/// Operation times: assumed, not measured; `flash-time=F` scales them (typical
/// values recalled from the STM32L476 datasheet DS10198, "Flash memory
/// characteristics": 81.69 µs per double word, 22.02 ms per page, 22.13 ms
/// mass erase; used for every part of this model).
const PROGRAM_NS: Nanos = 82 * US;
const PAGE_ERASE_NS: Nanos = 22 * MS;
const MASS_ERASE_NS: Nanos = 22 * MS;
/// Option-byte programming time: assumed, a page erase plus programming.
const OPTION_PROGRAM_NS: Nanos = 25 * MS;
/// A double word of a fast row (DS12288 Table 47, STM32G474: a 32-double-word
/// row in 1.91 ms typical; assumed for every part of this model).
const FAST_PROGRAM_NS: Nanos = 59_700;
/// HCLK fast programming needs (RM0440 §3.3.7).
const FAST_MIN_HCLK: u64 = 8_000_000;

const KIB: u32 = 1024;
const FLASH_BASE: u32 = 0x0800_0000;
const OTP_BASE: u32 = 0x1FFF_7000;
const OTP_SIZE: u32 = KIB;

/// What distinguishes one controller from another.
#[derive(Debug)]
pub struct ModelVariant {
    pub name: &'static str,
    base: u32,
    /// Width of CR.PNB.
    pnb_bits: u32,
    /// CR.BKER mask, 0 when absent.
    bker: u32,
    /// CR.MER2 mask, 0 when absent.
    mer2: u32,
    cfgbsy: bool,
    /// BSY2 for operations in bank 2 (G0B1).
    bsy2: bool,
    pesd: bool,
    /// OPTVERR is set whenever the option bytes are loaded (WB/WL).
    optverr_at_load: bool,
    /// FLASH_SFR: (SFSA mask, FSD bit).
    sfr: Option<(u32, u32)>,
    /// WL54/WL55: the secure area applies only while this OPTR bit (ESE,
    /// "security enable", stm32wl55xx.h:4427) is set (assumed from the
    /// bit's name; RM0453's text was not at hand).
    ese: Option<u32>,
    /// FLASH_ECCR exists (not on C0: stm32c031xx.h `FLASH_TypeDef`).
    eccr: bool,
    /// G0B1: the bank count follows the sales type in the package data
    /// register at 0x1FFF7500 bits 25:24 (ST HAL stm32g0xx_hal_flash.h:875-882;
    /// stm32g0b1xx.h:872 `PACKAGE_BASE`).
    sales: bool,
    /// Width mask of the WRP STRT/END fields.
    wrp_field: u32,
    optr_factory: u32,
    sfr_factory: u32,
    /// Memory-mapped option bytes: base, size.
    option_bytes: (u32, u32),
    /// Fast-programming row in bytes (ST's HAL `FLASH_NB_DOUBLE_WORDS_IN_ROW`:
    /// 64 double words on L4+ and WB, 32 elsewhere).
    row: u32,
    /// The 1 KiB OTP area (0x1FFF7000 but on U0).
    otp_base: u32,
}

const fn variant(name: &'static str, pnb_bits: u32, wrp_field: u32, optr_factory: u32) -> ModelVariant {
    ModelVariant {
        name,
        base: 0x4002_2000,
        pnb_bits,
        bker: 0,
        mer2: 0,
        cfgbsy: false,
        bsy2: false,
        pesd: false,
        optverr_at_load: false,
        sfr: None,
        ese: None,
        eccr: true,
        sales: false,
        wrp_field,
        optr_factory,
        sfr_factory: 0,
        option_bytes: (0x1FFF_7800, 0x28),
        row: 256,
        otp_base: OTP_BASE,
    }
}

// PNB and WRP field widths per die, as ST's CMSIS headers give them
// (`FLASH_CR_PNB`, `FLASH_WRP1AR_WRP1A_STRT`): stm32l412xx.h 6/6,
// stm32l432xx.h 7/7, stm32l4p5xx.h 7/7, stm32g031xx.h 10/5, stm32g071xx.h
// 10/6, stm32g0b1xx.h 10/7, stm32g431xx.h 6/6, stm32g491xx.h 8/7,
// stm32c031xx.h 4/4, stm32wle5xx.h 7/7; 8/8 on the others.

/// L47x/L49x (RM0351): BKER bit 11, MER2 bit 15, OPTR.DUALBANK bit 21.
pub static L4_DUAL: ModelVariant =
    ModelVariant { bker: 1 << 11, mer2: 1 << 15, ..variant("STM32L4 flash (RM0351)", 8, 0xFF, 0xFFEF_F8AA) };
/// L45x/L46x (RM0394): single bank.
pub static L4_SINGLE: ModelVariant = variant("STM32L4 flash (RM0394)", 8, 0xFF, 0xFFEF_F8AA);
/// L41x/L42x (RM0394).
pub static L41X: ModelVariant = variant("STM32L4 flash (RM0394)", 6, 0x3F, 0xFFEF_F8AA);
/// L43x/L44x (RM0394).
pub static L43X: ModelVariant = variant("STM32L4 flash (RM0394)", 7, 0x7F, 0xFFEF_F8AA);
/// L4+ (RM0432): DBANK bit 22, DB1M bit 21, option bytes at 0x1FF00000.
pub static L4_PLUS: ModelVariant = ModelVariant {
    bker: 1 << 11,
    mer2: 1 << 15,
    option_bytes: (0x1FF0_0000, 0x28),
    row: 512,
    ..variant("STM32L4+ flash (RM0432)", 8, 0xFF, 0xFFEF_F8AA)
};
/// L4P5/L4Q5 (RM0432).
pub static L4P5: ModelVariant = ModelVariant { pnb_bits: 7, wrp_field: 0x7F, ..L4_PLUS };
/// G07x/G08x (RM0444): CFGBSY.
pub static G0: ModelVariant = ModelVariant {
    cfgbsy: true,
    option_bytes: (0x1FFF_7800, 0x80),
    ..variant("STM32G0 flash (RM0444)", 10, 0x3F, 0xFFFF_FEAA)
};
/// G03x-G06x (RM0444).
pub static G0_SMALL: ModelVariant = ModelVariant { wrp_field: 0x1F, ..G0 };
/// G0B1/G0C1 (RM0444): BKER bit 13, MER2, BSY2, DUAL_BANK bit 21 and the
/// sales type.
pub static G0B1: ModelVariant = ModelVariant {
    bker: 1 << 13,
    mer2: 1 << 15,
    bsy2: true,
    cfgbsy: true,
    sales: true,
    option_bytes: (0x1FFF_7800, 0x80),
    ..variant("STM32G0B1 flash (RM0444)", 10, 0x7F, 0xFFFF_FEAA)
};
/// G4 category 2 (RM0440): single bank; G4 option bytes 0x1FFF7800-0x1FFF782F.
pub static G4_CAT2: ModelVariant =
    ModelVariant { option_bytes: (0x1FFF_7800, 0x30), ..variant("STM32G4 cat.2 flash (RM0440)", 6, 0x3F, 0xFFEF_F8AA) };
/// G4 category 3 (RM0440): DBANK bit 22, BKER bit 11, MER2.
pub static G4_CAT3: ModelVariant = ModelVariant {
    bker: 1 << 11,
    mer2: 1 << 15,
    option_bytes: (0x1FFF_7800, 0x30),
    ..variant("STM32G4 cat.3 flash (RM0440)", 7, 0x7F, 0xFFEF_F8AA)
};
/// G4 category 4 (RM0440): single bank.
pub static G4_CAT4: ModelVariant =
    ModelVariant { option_bytes: (0x1FFF_7800, 0x30), ..variant("STM32G4 cat.4 flash (RM0440)", 8, 0x7F, 0xFFEF_F8AA) };
/// C0 (RM0490): CFGBSY.
pub static C0: ModelVariant = ModelVariant {
    cfgbsy: true,
    option_bytes: (0x1FFF_7800, 0x80),
    eccr: false,
    ..variant("STM32C0 flash (RM0490)", 4, 0xF, 0xFFFF_FEAA)
};
/// C051, C071, C091/C092 (RM0490): the C0 controller with the die's PNB
/// and WRP widths (CMSIS stm32c051xx.h:2426, 2539: 7 and 5 bits;
/// stm32c071xx.h:2625, 2738: 6 and 6; stm32c091xx.h:2495, 2608: 7 and 7).
pub static C051: ModelVariant = ModelVariant { pnb_bits: 7, wrp_field: 0x1F, ..C0 };
pub static C071: ModelVariant = ModelVariant { pnb_bits: 6, wrp_field: 0x3F, ..C0 };
pub static C09X: ModelVariant = ModelVariant { pnb_bits: 7, wrp_field: 0x7F, ..C0 };
/// U0 (RM0503): the C0/G0 controller (CMSIS stm32u073xx.h `FLASH_TypeDef`
/// and FLASH_CR/SR bits: the same offsets and positions; PNB 7 bits,
/// stm32u073xx.h:3373), CFGBSY. No memory-mapped option bytes are
/// documented (none modeled); OTP at 0x1FFF6800 (stm32u073xx.h:804). The
/// factory OPTR is illustrative (no source gives it; ST's SVD says 0):
/// RDP 0xAA, no reset on Stop/Standby/Shutdown, watchdogs by software,
/// parity off, boot from the BOOT0 pin, NRST as reset input, IRHEN.
pub static U0: ModelVariant = ModelVariant {
    cfgbsy: true,
    option_bytes: (0x1FFF_7800, 0),
    otp_base: 0x1FFF_6800,
    ..variant("STM32U0 flash (RM0503)", 7, 0x7F, 0x2FCF_E0AA)
};
/// WB (RM0434): base 0x58004000, CFGBSY, PESD, OPTVERR at load, SFR with SFSA
/// bits 0-7 and FSD bit 8; factory state with a wireless stack from page 0xCB.
pub static WB: ModelVariant = ModelVariant {
    base: 0x5800_4000,
    cfgbsy: true,
    pesd: true,
    optverr_at_load: true,
    sfr: Some((0xFF, 1 << 8)),
    sfr_factory: 0x0000_00CB,
    option_bytes: (0x1FFF_8000, 0x80),
    row: 512,
    ..variant("STM32WB flash (RM0434)", 8, 0xFF, 0x3DFF_F1AA)
};
/// WLE4/WLE5 (RM0461): as WB without FLASH_SFR (stm32wle5xx.h
/// `FLASH_TypeDef` ends at 0x38): what its address reads is a knob,
/// `sfr_absent=zero|ones|fault`, zero by default (assumed).
pub static WLE: ModelVariant = ModelVariant {
    base: 0x5800_4000,
    cfgbsy: true,
    pesd: true,
    optverr_at_load: true,
    option_bytes: (0x1FFF_7800, 0x80),
    ..variant("STM32WL flash (RM0461)", 7, 0x7F, 0x3FEF_F0AA)
};
/// WL54/WL55 (RM0453): SFR with SFSA bits 0-6 and FSD bit 7
/// (stm32wl55xx.h:4607-4612), in force with OPTR.ESE; factory state without
/// a secure area (FSD = 1, ESE = 0).
pub static WL55: ModelVariant = ModelVariant {
    sfr: Some((0x7F, 1 << 7)),
    ese: Some(1 << 8),
    sfr_factory: 0x0000_00FF,
    ..ModelVariant { name: "STM32WL flash (RM0453)", ..WLE }
};

/// How a part chooses between one and two banks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankRule {
    Single,
    Dual,
    /// Dual when this OPTR bit is set.
    OptionBit(u32),
}

/// Where bank 2 starts in dual-bank mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bank2 {
    Half,
    Fixed(u32),
}

/// The flash of one part.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    pub size: u32,
    pub single_page: u32,
    pub dual_page: u32,
    pub bank2: Bank2,
    pub rule: BankRule,
    /// `configure` keys that set or clear OPTR bits (bank-mode options).
    pub option_keys: &'static [(&'static str, u32)],
}

impl Geometry {
    /// One bank of uniform pages.
    pub const fn single(size_kib: u32, page: u32) -> Geometry {
        Geometry {
            size: size_kib * KIB,
            single_page: page,
            dual_page: page,
            bank2: Bank2::Half,
            rule: BankRule::Single,
            option_keys: &[],
        }
    }
}

/// The option registers that live in option bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Options {
    optr: u32,
    pcrop1sr: u32,
    pcrop1er: u32,
    /// WRP1AR, WRP1BR, WRP2AR, WRP2BR.
    wrp: [u32; 4],
    sfr: u32,
}

impl Options {
    fn factory(v: &ModelVariant) -> Options {
        // WRP area disabled: STRT > END (RM0351 FLASH_WRP1AR).
        let off = v.wrp_field;
        Options { optr: v.optr_factory, pcrop1sr: 0xFFFF_FFFF, pcrop1er: 0, wrp: [off; 4], sfr: v.sfr_factory }
    }

    fn to_bytes(self) -> Vec<u8> {
        [self.optr, self.pcrop1sr, self.pcrop1er, self.wrp[0], self.wrp[1], self.wrp[2], self.wrp[3], self.sfr]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect()
    }

    fn from_bytes(b: &[u8]) -> Option<Options> {
        if b.len() != 32 {
            return None;
        }
        let w = |i: usize| u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
        Some(Options { optr: w(0), pcrop1sr: w(1), pcrop1er: w(2), wrp: [w(3), w(4), w(5), w(6)], sfr: w(7) })
    }
}

/// State of a key register's unlock sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// Locked, waiting for KEY1.
    Locked,
    /// KEY1 seen, waiting for KEY2.
    First,
    Unlocked,
    /// A wrong sequence: locked until the next reset (RM0351 "Unlocking the
    /// Flash memory": a wrong sequence locks FLASH_CR until the next reset).
    Frozen,
}

#[derive(Debug, Clone)]
enum OpKind {
    Program {
        addr: u32,
        data: [u8; 8],
    },
    Erase {
        addr: u32,
        len: u32,
    },
    /// Address ranges to erase.
    Mass {
        ranges: Vec<(u32, u32)>,
    },
    Options,
}

#[derive(Debug, Clone)]
struct Op {
    kind: OpKind,
    /// Busy flags shown while it runs (BSY, BSY2).
    busy: u32,
    done_at: Nanos,
}

/// An active fast-programming row.
#[derive(Debug, Clone)]
struct FastRow {
    /// Double words still to program, counting the one in progress.
    left: u32,
    next_addr: u32,
    /// The next double word, already in the buffer.
    queued: Option<[u8; 8]>,
    /// Bank (array) the row is in.
    bank: usize,
}

/// How a fast row is made to fail (`fast_row=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowFault {
    /// Stops without a flag, as a read of its bank would make it.
    Abort,
    /// FASTERR: the 7 ms row timer.
    Fasterr,
    /// MISERR + FASTERR: data late.
    Miserr,
    /// PGSERR at the row's first double word, nothing programmed: the
    /// controller no longer counts the bank as mass-erased.
    Pgserr,
}

/// One simulated controller with its flash.
pub struct L4gModel {
    v: &'static ModelVariant,
    geo: Geometry,
    /// Physical halves: bank 1 and bank 2 (contiguous in single-bank mode).
    arrays: [FlashArray; 2],
    otp: FlashArray,
    stored: Options,
    /// Option bytes loaded at the last reset or OBL_LAUNCH: what is in force
    /// (protection, bank mode); `regs` are the registers software edits.
    loaded: Options,
    regs: Options,
    dual: bool,
    keys: Keys,
    opt_keys: Keys,
    sr: u32,
    cr: u32,
    acr: u32,
    eccr: u32,
    /// The first 32-bit word of a double word being programmed.
    pending: Option<(u32, u32)>,
    op: Option<Op>,
    fast: Option<FastRow>,
    /// Per array: its last erase was a mass erase of it (fast programming's
    /// precondition).
    mass_erased: [bool; 2],
    /// The core clock (HCLK), from the simulated RCC.
    hclk: u64,
    /// Fast rows started since power-on, and the one `fast_row=` breaks.
    rows: u32,
    row_fault: Option<RowFault>,
    row_fault_at: u32,
    /// CPU2 keeps flash operations suspended (`pesd=1`).
    suspended: bool,
    /// G0B1: the sales type in the package data register (`sales_type=`;
    /// 1 by default, which follows OPTR.DUAL_BANK: assumed, the sources at
    /// hand do not say which sales type the G0B1RE is).
    sales_type: u32,
    /// WLE: what a read of the FLASH_SFR address returns (`sfr_absent=`).
    sfr_absent: Absent,
}

/// What a read of a register the part does not have returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Absent {
    Zero,
    Ones,
    Fault,
}

/// The package data register of the G0 (`PACKAGE_BASE`, stm32g0b1xx.h:872):
/// the sales type in bits 25:24 (`FLASH_SALES_TYPE`).
const PACKAGE: u32 = 0x1FFF_7500;
const SALES_TYPE_POS: u32 = 24;
/// OPTR.DUAL_BANK (stm32g0b1xx.h:4114).
const DUAL_BANK: u32 = 1 << 21;

impl L4gModel {
    pub fn new(v: &'static ModelVariant, geo: Geometry) -> L4gModel {
        let half = geo.size / 2;
        let mut f = L4gModel {
            v,
            geo,
            arrays: [FlashArray::new(FLASH_BASE, half, 0xFF, 8), FlashArray::new(FLASH_BASE + half, half, 0xFF, 8)],
            otp: FlashArray::new(v.otp_base, OTP_SIZE, 0xFF, 8),
            stored: Options::factory(v),
            loaded: Options::factory(v),
            regs: Options::factory(v),
            dual: false,
            keys: Keys::Locked,
            opt_keys: Keys::Locked,
            sr: 0,
            cr: LOCK | OPTLOCK,
            acr: 0,
            eccr: 0,
            pending: None,
            op: None,
            fast: None,
            mass_erased: [false; 2],
            hclk: 16_000_000,
            rows: 0,
            row_fault: None,
            row_fault_at: 2,
            suspended: false,
            sales_type: 1,
            sfr_absent: Absent::Zero,
        };
        f.reset();
        f
    }

    fn reg_range(&self) -> Range<u32> {
        self.v.base..self.v.base + REG_BLOCK
    }

    fn ob_range(&self) -> Range<u32> {
        let (base, size) = self.v.option_bytes;
        base..base + size
    }

    /// Load the option bytes: registers, bank mode, address map.
    fn load_options(&mut self) {
        self.regs = self.stored;
        self.loaded = self.stored;
        self.dual = match self.geo.rule {
            BankRule::Single => false,
            // G0B1: sales type 0 one bank, 1 two banks with DUAL_BANK, others two.
            _ if self.v.sales => match self.sales_type {
                0 => false,
                1 => self.stored.optr & DUAL_BANK != 0,
                _ => true,
            },
            BankRule::Dual => true,
            BankRule::OptionBit(bit) => self.stored.optr & bit != 0,
        };
        let half = self.geo.size / 2;
        self.arrays[1].base = match (self.dual, self.geo.bank2) {
            (true, Bank2::Fixed(addr)) => addr,
            _ => FLASH_BASE + half,
        };
        if self.v.optverr_at_load {
            self.sr |= OPTVERR;
        }
    }

    fn page_size(&self) -> u32 {
        if self.dual {
            self.geo.dual_page
        } else {
            self.geo.single_page
        }
    }

    /// RDP in force: the loaded option bytes, not the OPTR register being
    /// edited (a new level applies at the next load).
    fn rdp(&self) -> u32 {
        self.loaded.optr & 0xFF
    }

    fn array_index(&self, addr: u32) -> Option<usize> {
        self.arrays.iter().position(|a| a.contains(addr))
    }

    fn array_mut(&mut self, addr: u32) -> Option<&mut FlashArray> {
        if self.otp.contains(addr) {
            return Some(&mut self.otp);
        }
        let i = self.array_index(addr)?;
        Some(&mut self.arrays[i])
    }

    fn array(&self, addr: u32) -> Option<&FlashArray> {
        if self.otp.contains(addr) {
            return Some(&self.otp);
        }
        self.array_index(addr).map(|i| &self.arrays[i])
    }

    /// Bank (0/1) and bank-relative page of a main-flash address, in the mode in force.
    fn page_of(&self, addr: u32) -> Option<(usize, u32)> {
        let i = self.array_index(addr)?;
        let page = self.page_size();
        if self.dual {
            Some((i, (addr - self.arrays[i].base) / page))
        } else {
            Some((0, (addr - FLASH_BASE) / page))
        }
    }

    /// Address of `page` of `bank`, if the bank has it.
    fn page_addr(&self, bank: usize, page: u32) -> Option<u32> {
        let size = self.page_size();
        let (start, len) =
            if self.dual { (self.arrays[bank].base, self.geo.size / 2) } else { (FLASH_BASE, self.geo.size) };
        (page < len / size).then(|| start + page * size)
    }

    /// The WB/WL CPU2 secure area: from SFSA to the end, unless FSD is set.
    fn secure(&self) -> Option<Range<u32>> {
        let (mask, fsd) = self.v.sfr?;
        if self.regs.sfr & fsd != 0 || self.v.ese.is_some_and(|ese| self.loaded.optr & ese == 0) {
            return None;
        }
        let start = FLASH_BASE as u64 + (self.regs.sfr & mask) as u64 * self.geo.single_page as u64;
        let end = FLASH_BASE as u64 + self.geo.size as u64;
        (start < end).then_some(start as u32..end as u32)
    }

    fn in_secure(&self, addr: u32) -> bool {
        self.secure().is_some_and(|r| r.contains(&addr))
    }

    /// Active WRP areas of a bank as bank-relative page ranges. In single-bank
    /// mode only WRP1A/WRP1B apply (assumption, see the module comment).
    fn wrp_areas(&self, bank: usize) -> Vec<Range<u32>> {
        let regs: &[u32] = match (bank, self.dual) {
            (0, _) => &self.loaded.wrp[0..2],
            (1, true) => &self.loaded.wrp[2..4],
            _ => &[],
        };
        let f = self.v.wrp_field;
        regs.iter().map(|&r| (r & f)..((r >> 16) & f) + 1).filter(|r| r.start < r.end).collect()
    }

    fn write_protected(&self, addr: u32) -> bool {
        if self.otp.contains(addr) {
            return false;
        }
        match self.page_of(addr) {
            Some((bank, page)) => self.wrp_areas(bank).iter().any(|r| r.contains(&page)) || self.in_secure(addr),
            None => false,
        }
    }

    fn read_sr(&self) -> u32 {
        let mut sr = self.sr;
        if let Some(op) = &self.op {
            sr |= op.busy;
        }
        if self.v.cfgbsy && (self.op.is_some() || self.pending.is_some()) {
            sr |= CFGBSY;
        }
        if self.v.pesd && self.suspended {
            sr |= PESD;
        }
        sr
    }

    /// Errors that block a new operation (WB/WL: also OPTVERR, assumption).
    fn blocking(&self) -> u32 {
        let extra = if self.v.optverr_at_load { OPTVERR } else { 0 };
        self.sr & (BLOCKING | extra)
    }

    fn start(&mut self, kind: OpKind, busy: u32, now: Nanos, duration: Nanos) {
        // While CPU2 suspends flash operations, a requested one waits (PESD).
        let done_at = if self.suspended { Nanos::MAX } else { now + duration };
        self.op = Some(Op { kind, busy, done_at });
    }

    /// The operation works in array `i` (an option change in every one).
    fn op_touches(&self, op: &Op, i: usize) -> bool {
        let range = self.arrays[i].range();
        match &op.kind {
            OpKind::Program { addr, .. } | OpKind::Erase { addr, .. } => range.contains(addr),
            OpKind::Mass { ranges } => ranges.iter().any(|&(a, _)| range.contains(&a)),
            OpKind::Options => true,
        }
    }

    /// Busy flag for an operation in `bank`.
    fn busy_flag(&self, bank: usize) -> u32 {
        if bank == 1 && self.dual && self.v.bsy2 {
            BSY2
        } else {
            BSY
        }
    }

    // ---- CR and the operations it starts ----

    fn cr_mask(&self) -> u32 {
        let pnb = ((1 << self.v.pnb_bits) - 1) << PNB_SHIFT;
        PG | PER
            | MER1
            | pnb
            | self.v.bker
            | self.v.mer2
            | STRT
            | OPTSTRT
            | FSTPG
            | EOPIE
            | ERRIE
            | RDERRIE
            | OBL_LAUNCH
            | OPTLOCK
            | LOCK
    }

    fn write_cr(&mut self, value: u32, acc: &mut Access) {
        if self.cr & LOCK != 0 {
            return; // CR is read-only while locked.
        }
        if self.pending.take().is_some() {
            // Assumption: changing CR with half a double word written abandons it.
            self.sr |= PGSERR;
        }
        let old = self.cr;
        let value = value & self.cr_mask();
        // OPTLOCK and LOCK are set by writing 1; only the key sequences clear them.
        self.cr = (value & !(OPTLOCK | LOCK)) | (old & (OPTLOCK | LOCK)) | (value & (OPTLOCK | LOCK));
        if value & STRT != 0 && old & STRT == 0 {
            self.start_erase(acc.now);
        }
        if value & OPTSTRT != 0 && old & OPTSTRT == 0 {
            self.start_option_program(acc.now);
        }
        if value & OBL_LAUNCH != 0 && self.cr & OPTLOCK == 0 {
            // Option reload: a system reset (RM0351 FLASH_CR.OBL_LAUNCH; OpenOCD
            // stm32l4x.c:1209-1218 expects the link to drop).
            acc.requests.system_reset = true;
        }
        if value & (LOCK | OPTLOCK) != 0 && self.opt_keys != Keys::Frozen {
            self.opt_keys = Keys::Locked;
        }
        if value & LOCK != 0 {
            if self.keys != Keys::Frozen {
                self.keys = Keys::Locked;
            }
            self.cr |= LOCK | OPTLOCK;
        }
        if self.cr & FSTPG == 0 {
            self.fast = None;
        }
    }

    fn start_erase(&mut self, now: Nanos) {
        let cr = self.cr;
        let mer = cr & (MER1 | self.v.mer2);
        let conflicting = cr & (PG | FSTPG) != 0 || (cr & PER != 0 && mer != 0) || (cr & PER == 0 && mer == 0);
        if self.blocking() != 0 || conflicting {
            self.sr |= PGSERR;
            self.cr &= !STRT;
            return;
        }
        let result = if cr & PER != 0 { self.erase_page_request() } else { self.mass_erase_request(mer) };
        match result {
            Ok((kind, busy, duration)) => self.start(kind, busy, now, duration),
            Err(flag) => {
                self.sr |= flag;
                self.cr &= !STRT;
            }
        }
    }

    fn erase_page_request(&self) -> Result<(OpKind, u32, Nanos), u32> {
        let pnb = (self.cr >> PNB_SHIFT) & ((1 << self.v.pnb_bits) - 1);
        // BKER only selects a bank in dual-bank mode (assumption for single mode).
        let bank = usize::from(self.dual && self.cr & self.v.bker != 0);
        let addr = self.page_addr(bank, pnb).ok_or(PGSERR)?;
        if self.write_protected(addr) {
            return Err(WRPERR);
        }
        Ok((OpKind::Erase { addr, len: self.page_size() }, self.busy_flag(bank), PAGE_ERASE_NS))
    }

    fn mass_erase_request(&self, mer: u32) -> Result<(OpKind, u32, Nanos), u32> {
        let banks: Vec<usize> = if !self.dual {
            vec![0, 1] // one bank made of both halves (assumption: MER1 or MER2)
        } else {
            [(MER1, 0), (self.v.mer2, 1)].iter().filter(|(bit, _)| mer & bit != 0).map(|&(_, b)| b).collect()
        };
        let logical = if self.dual { banks.clone() } else { vec![0] };
        if logical.iter().any(|&b| !self.wrp_areas(b).is_empty()) {
            return Err(WRPERR);
        }
        let secure = self.secure();
        let mut ranges = Vec::new();
        let mut busy = 0;
        for b in banks {
            let a = &self.arrays[b];
            let (start, end) = (a.base, a.base + a.data.len() as u32);
            // WB/WL: CPU1 erases the non-secure pages only (RM0453 p.106).
            let end = secure.as_ref().map_or(end, |s| end.min(s.start.max(start)));
            if end > start {
                ranges.push((start, end - start));
            }
            busy |= self.busy_flag(b);
        }
        Ok((OpKind::Mass { ranges }, busy, MASS_ERASE_NS))
    }

    fn start_option_program(&mut self, now: Nanos) {
        if self.cr & OPTLOCK != 0 || self.blocking() != 0 {
            self.sr |= PGSERR;
            self.cr &= !OPTSTRT;
            return;
        }
        self.start(OpKind::Options, BSY, now, OPTION_PROGRAM_NS);
    }

    // ---- programming ----

    fn write_flash(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) -> Result<(), BusFault> {
        if self.rdp() != 0xAA && acc.by == Initiator::Debugger {
            return Err(BusFault); // RDP level 1: no debugger access to flash.
        }
        let mode = self.cr & (PG | FSTPG);
        if mode == 0 || mode == PG | FSTPG || self.blocking() != 0 {
            self.sr |= PGSERR;
            self.pending = None;
            return Ok(());
        }
        if width != AccessWidth::Word {
            self.sr |= SIZERR;
            self.pending = None;
            return Ok(());
        }
        let Some((first_addr, low)) = self.pending.take() else {
            if addr % 8 != 0 {
                self.sr |= PGAERR;
            } else {
                self.pending = Some((addr, value));
            }
            return Ok(());
        };
        if addr != first_addr + 4 {
            self.sr |= PGAERR;
            return Ok(());
        }
        let mut data = [0u8; 8];
        data[..4].copy_from_slice(&low.to_le_bytes());
        data[4..].copy_from_slice(&value.to_le_bytes());
        if mode == FSTPG {
            self.fast_double_word(first_addr, data, acc.now);
        } else {
            self.program_double_word(first_addr, data, acc.now);
        }
        Ok(())
    }

    /// Check a double word before programming it: the flag to raise, if any.
    fn program_check(&self, addr: u32, data: &[u8; 8]) -> Option<u32> {
        if self.write_protected(addr) {
            return Some(WRPERR);
        }
        let a = self.array(addr)?;
        let erased = a.is_erased(addr, 8) && !a.unit_programmed(addr);
        // All-zero data may be written over anything (RM0434 §3.3.8 as quoted in §2.5).
        (!erased && data.iter().any(|&b| b != 0)).then_some(PROGERR)
    }

    fn program_double_word(&mut self, addr: u32, data: [u8; 8], now: Nanos) {
        if let Some(flag) = self.program_check(addr, &data) {
            self.sr |= flag;
            return;
        }
        let bank = if self.otp.contains(addr) { 0 } else { self.array_index(addr).unwrap_or(0) };
        self.start(OpKind::Program { addr, data }, self.busy_flag(bank), now, PROGRAM_NS);
    }

    fn fast_double_word(&mut self, addr: u32, data: [u8; 8], now: Nanos) {
        match &mut self.fast {
            None => {
                if addr % self.v.row != 0 || self.otp.contains(addr) {
                    self.sr |= PGAERR | FASTERR;
                    return;
                }
                let bank = self.array_index(addr).unwrap_or(0);
                let refused = self.row_fault == Some(RowFault::Pgserr) && self.rows + 1 == self.row_fault_at;
                if !self.mass_erased[bank] || refused {
                    // No mass erase of the bank before (RM0440 §3.3.7).
                    self.sr |= PGSERR;
                    return;
                }
                if self.hclk < FAST_MIN_HCLK {
                    self.sr |= FASTERR;
                    return;
                }
                if let Some(flag) = self.program_check(addr, &data) {
                    self.sr |= flag | FASTERR;
                    return;
                }
                self.rows += 1;
                self.fast = Some(FastRow { left: self.v.row / 8, next_addr: addr + 8, queued: None, bank });
                let busy = self.busy_flag(bank);
                self.start(OpKind::Program { addr, data }, busy, now, FAST_PROGRAM_NS);
            }
            Some(row) if row.queued.is_none() && row.next_addr == addr && self.op.is_some() => row.queued = Some(data),
            Some(_) => {
                // Out of order, or after the row broke off.
                self.sr |= PGAERR | FASTERR;
                self.fast = None;
            }
        }
    }

    /// The next double word of a fast row, or MISERR if it has not arrived.
    fn continue_fast_row(&mut self, done_at: Nanos) {
        let fault = self.row_fault.filter(|_| self.rows == self.row_fault_at);
        let busy = self.fast.as_ref().map_or(BSY, |r| self.busy_flag(r.bank));
        let Some(row) = self.fast.as_mut() else { return };
        row.left -= 1;
        if row.left == 0 {
            self.fast = None;
            return;
        }
        // `fast_row=`: FASTERR or MISERR halfway through; an abort drops the
        // last double word (the one a read arriving after the last write
        // would stop), which leaves no trace but the erased cells.
        let half = row.left == self.v.row / 16;
        match fault {
            Some(RowFault::Abort) if row.left == 1 => {
                self.fast = None;
                return;
            }
            Some(RowFault::Fasterr) if half => {
                self.sr |= FASTERR;
                self.fast = None;
                return;
            }
            Some(RowFault::Miserr) if half => {
                self.sr |= MISERR | FASTERR;
                self.fast = None;
                return;
            }
            _ => {}
        }
        match row.queued.take() {
            Some(data) => {
                let addr = row.next_addr;
                row.next_addr += 8;
                if let Some(flag) = self.program_check(addr, &data) {
                    self.sr |= flag | FASTERR;
                    self.fast = None;
                } else {
                    self.op =
                        Some(Op { kind: OpKind::Program { addr, data }, busy, done_at: done_at + FAST_PROGRAM_NS });
                }
            }
            None => {
                self.sr |= MISERR | FASTERR;
                self.fast = None;
            }
        }
    }

    fn complete(&mut self, op: Op, stats: &mut FlashStats) {
        match op.kind {
            OpKind::Program { addr, data } => {
                let zero_over_programmed = data.iter().all(|&b| b == 0);
                if let Some(a) = self.array_mut(addr) {
                    if zero_over_programmed {
                        // Allowed over programmed cells with a consistent ECC.
                        a.poke(addr, &data);
                    } else {
                        a.program(addr, &data);
                    }
                }
                stats.words += 1;
            }
            OpKind::Erase { addr, len } => {
                if let Some(i) = self.array_index(addr) {
                    self.mass_erased[i] = false;
                }
                if let Some(a) = self.array_mut(addr) {
                    a.erase(addr, len);
                }
                stats.erases += 1;
                self.cr &= !STRT;
            }
            OpKind::Mass { ranges } => {
                for (addr, len) in ranges {
                    if let Some(i) = self.array_index(addr) {
                        self.mass_erased[i] = true;
                    }
                    if let Some(a) = self.array_mut(addr) {
                        a.erase(addr, len);
                    }
                }
                stats.mass_erases += 1;
                self.cr &= !STRT;
            }
            OpKind::Options => {
                // RDP level 2 freezes the option bytes: it is permanent (RM0351
                // "Read protection"; RDP values in ST's HAL stm32l4xx_hal_flash.h:237-239).
                if self.rdp() != 0xCC {
                    // Level 1 → 0 erases the flash as the options are programmed
                    // (RM0351 §3.5.1 "RDP regression"), the OTP excepted; on
                    // WB/WL the CPU2 secure area is kept, as by CPU1's mass
                    // erase (assumed: RM0453 p.106 says so of the mass erase;
                    // RM0434 not checked).
                    if self.rdp() != 0xAA && self.regs.optr & 0xFF == 0xAA {
                        let secure = self.secure();
                        for a in &mut self.arrays {
                            let (base, end) = (a.base, a.base + a.data.len() as u32);
                            let end = secure.as_ref().map_or(end, |s| end.min(s.start.max(base)));
                            if end > base {
                                a.erase(base, end - base);
                            }
                        }
                        stats.mass_erases += 1;
                    }
                    // SFR is written by CPU2/FUS only; keep the stored value.
                    self.stored = Options { sfr: self.stored.sfr, ..self.regs };
                }
                self.cr &= !OPTSTRT;
            }
        }
        if self.cr & EOPIE != 0 {
            self.sr |= EOP;
        }
    }

    // ---- registers ----

    fn write_key(&mut self, value: u32) {
        self.keys = match (self.keys, value) {
            (Keys::Locked, KEY1) => Keys::First,
            (Keys::First, KEY2) => {
                self.cr &= !LOCK;
                Keys::Unlocked
            }
            _ => {
                self.cr |= LOCK | OPTLOCK;
                Keys::Frozen
            }
        };
    }

    fn write_opt_key(&mut self, value: u32) {
        if self.cr & LOCK != 0 {
            return; // OPTLOCK only opens after LOCK (ST's SVD text for FLASH_CR.OPTLOCK, e.g. U0).
        }
        self.opt_keys = match (self.opt_keys, value) {
            (Keys::Locked, OPTKEY1) => Keys::First,
            (Keys::First, OPTKEY2) => {
                self.cr &= !OPTLOCK;
                Keys::Unlocked
            }
            _ => {
                self.cr |= OPTLOCK;
                Keys::Frozen
            }
        };
    }

    fn option_reg(&mut self, offset: u32) -> Option<&mut u32> {
        Some(match offset {
            OPTR => &mut self.regs.optr,
            PCROP1SR => &mut self.regs.pcrop1sr,
            PCROP1ER => &mut self.regs.pcrop1er,
            WRP1AR => &mut self.regs.wrp[0],
            WRP1BR => &mut self.regs.wrp[1],
            WRP2AR if self.v.mer2 != 0 => &mut self.regs.wrp[2],
            WRP2BR if self.v.mer2 != 0 => &mut self.regs.wrp[3],
            SFR if self.v.sfr.is_some() => &mut self.regs.sfr,
            _ => return None,
        })
    }

    fn read_reg(&mut self, offset: u32) -> u32 {
        match offset {
            ACR => self.acr,
            SR => self.read_sr(),
            CR => self.cr,
            ECCR if self.v.eccr => self.eccr,
            _ => self.option_reg(offset).map_or(0, |r| *r),
        }
    }

    fn write_reg(&mut self, offset: u32, value: u32, acc: &mut Access) {
        match offset {
            ACR => self.acr = value,
            KEYR => self.write_key(value),
            OPTKEYR => self.write_opt_key(value),
            SR => self.sr &= !(value & SR_W1C),
            CR => self.write_cr(value, acc),
            ECCR if self.v.eccr => self.eccr &= !(value & ECCD),
            // CPU1 cannot write SFR (CPU2/FUS only).
            SFR => {}
            _ => {
                let writable = self.cr & OPTLOCK == 0;
                if let Some(r) = self.option_reg(offset) {
                    if writable {
                        *r = value;
                    }
                }
            }
        }
    }

    /// Option bytes as memory: each option word followed by its complement.
    fn option_bytes_image(&self) -> Vec<u8> {
        let (_, size) = self.v.option_bytes;
        let s = &self.stored;
        let mut out: Vec<u8> = [s.optr, s.pcrop1sr, s.pcrop1er, s.wrp[0], s.wrp[1]]
            .iter()
            .flat_map(|&w| w.to_le_bytes().into_iter().chain((!w).to_le_bytes()))
            .collect();
        out.resize(size as usize, 0xFF);
        out
    }

    // ---- configuration ----

    fn configure_wrp(&mut self, value: &str) -> ConfigResult {
        let mut used = [0usize; 2];
        for part in value.split('+').map(str::trim).filter(|p| !p.is_empty()) {
            let (a, b) = part.split_once('-').ok_or_else(|| format!("'{part}' is not <start>-<end>"))?;
            let (start, end) = (parse_u32(a)?, parse_u32(b)?);
            let (Some((bank, first)), Some((bank_end, last))) = (self.page_of(start), self.page_of(end)) else {
                return Err(format!("{part} is not inside flash"));
            };
            if bank != bank_end || end < start {
                return Err(format!("{part} must lie inside one bank"));
            }
            if used[bank] == 2 {
                return Err(format!("bank {} has only two WRP areas", bank + 1));
            }
            let reg = bank * 2 + used[bank];
            used[bank] += 1;
            self.stored.wrp[reg] = first | (last << 16);
        }
        Ok(())
    }

    fn configure_bit(&mut self, key: &str, value: &str) -> ConfigResult {
        let &(_, bit) = self.geo.option_keys.iter().find(|(k, _)| *k == key).expect("checked by the caller");
        match value {
            "1" => self.stored.optr |= bit,
            "0" => self.stored.optr &= !bit,
            _ => return Err(format!("{key}={value}: expected {key}=0 or {key}=1")),
        }
        Ok(())
    }

    fn accepted_keys(&self) -> String {
        let mut keys = vec![
            "rdp=0|1|2",
            "wrp=<start>-<end>[+<start>-<end>…]",
            "fast_row=abort|fasterr|miserr|pgserr",
            "fast_row_at=N",
        ];
        keys.extend(self.geo.option_keys.iter().map(|(k, _)| *k));
        if self.v.sfr.is_some() {
            keys.extend(["sfsa=<page>", "fsd=0|1"]);
        }
        if self.v.pesd {
            keys.push("pesd=1");
        }
        if self.v.ese.is_some() {
            keys.push("ese=0|1");
        }
        if self.v.sales {
            keys.push("sales_type=0|1|2|3");
        }
        if self.v.sfr.is_none() && self.v.base == 0x5800_4000 {
            keys.push("sfr_absent=zero|ones|fault");
        }
        keys.join(", ")
    }
}

fn parse_u32(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("'{s}' is not a number"))
}

impl FlashModel for L4gModel {
    fn name(&self) -> &'static str {
        self.v.name
    }

    fn regions(&self) -> Vec<Range<u32>> {
        let mut r = vec![self.reg_range(), self.arrays[0].range(), self.arrays[1].range(), self.otp.range()];
        r.push(self.ob_range());
        if self.v.sales {
            r.push(PACKAGE..PACKAGE + 4);
        }
        r
    }

    fn is_register(&self, addr: u32) -> bool {
        self.reg_range().contains(&addr)
    }

    fn advance(&mut self, now: Nanos, stats: &mut FlashStats) {
        while let Some(op) = self.op.take_if(|op| op.done_at <= now) {
            let (done_at, is_program) = (op.done_at, matches!(op.kind, OpKind::Program { .. }));
            self.complete(op, stats);
            if is_program {
                self.continue_fast_row(done_at);
            }
        }
    }

    fn next_event(&self, now: Nanos) -> Option<Nanos> {
        self.op.as_ref().map(|op| op.done_at).filter(|&t| t > now)
    }

    /// While busy, flash accesses and CR writes wait (RM0453 p.106); SR reads
    /// do not. A fast-programming row takes one buffered double
    /// word without waiting. In dual-bank mode a read of the other bank
    /// answers (read-while-write, RM0440 §3.3.5).
    fn stall_until(&self, addr: u32, write: bool, _by: Initiator, now: Nanos) -> Nanos {
        let Some(op) = &self.op else { return now };
        let buffer_free = self.fast.as_ref().is_some_and(|r| r.queued.is_none());
        let flash = self.array(addr).is_some();
        let other_bank = self.dual && !write && self.array_index(addr).is_some_and(|i| !self.op_touches(op, i));
        // A read of the bank a fast row is in stops the row (in `read`) rather
        // than wait for it.
        let stops_row = !write && self.fast.as_ref().is_some_and(|r| Some(r.bank) == self.array_index(addr));
        let waits = flash && !(write && buffer_free) && !other_bank;
        if (waits && !stops_row) || (write && addr == self.v.base + CR) {
            op.done_at.max(now)
        } else {
            now
        }
    }

    fn read(&mut self, addr: u32, width: AccessWidth, _acc: &mut Access) -> Result<u32, BusFault> {
        if self.v.sales && addr & !3 == PACKAGE {
            let word = self.sales_type << SALES_TYPE_POS;
            return Ok((word >> (8 * (addr & 3))) & width.mask());
        }
        if self.v.sfr.is_none() && self.v.base == 0x5800_4000 && addr & !3 == self.v.base + SFR {
            match self.sfr_absent {
                Absent::Zero => return Ok(0),
                Absent::Ones => return Ok(width.mask()),
                Absent::Fault => return Err(BusFault),
            }
        }
        if self.reg_range().contains(&addr) {
            let word = self.read_reg((addr & !3) - self.v.base);
            let shift = 8 * (addr & 3);
            return Ok((word >> shift) & width.mask());
        }
        if self.ob_range().contains(&addr) {
            let img = self.option_bytes_image();
            let o = (addr - self.v.option_bytes.0) as usize;
            let bytes = img.get(o..o + width.bytes() as usize).ok_or(BusFault)?;
            return Ok(bytes.iter().rev().fold(0, |v, &b| (v << 8) | b as u32));
        }
        if self.in_secure(addr) {
            return Err(BusFault);
        }
        // A read of the bank a fast row is programming stops the row, without
        // a flag (RM0440 §3.3.7 note).
        if self.fast.as_ref().is_some_and(|r| Some(r.bank) == self.array_index(addr)) {
            self.fast = None;
        }
        let a = self.array(addr).ok_or(BusFault)?;
        if a.ecc_error(addr) && self.v.eccr {
            // Double ECC error: ECCD with the address (RM0351 FLASH_ECCR).
            self.eccr = ECCD | ((addr - FLASH_BASE) & 0x7_FFFF);
        }
        let a = self.array(addr).ok_or(BusFault)?;
        Ok(a.read(addr, width))
    }

    fn write(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) -> Result<(), BusFault> {
        if self.reg_range().contains(&addr) {
            if width != AccessWidth::Word {
                return Err(BusFault);
            }
            self.write_reg(addr - self.v.base, value, acc);
            return Ok(());
        }
        if self.array(addr).is_some() {
            return self.write_flash(addr, width, value, acc);
        }
        Err(BusFault) // option bytes are programmed through the registers
    }

    fn reset(&mut self) {
        self.op = None;
        self.pending = None;
        self.fast = None;
        self.mass_erased = [false; 2];
        self.keys = Keys::Locked;
        self.opt_keys = Keys::Locked;
        self.cr = LOCK | OPTLOCK;
        self.sr = 0;
        self.eccr = 0;
        self.acr = 0;
        self.load_options();
    }

    fn debug_readable(&self, addr: u32) -> bool {
        self.rdp() == 0xAA || self.array_index(addr).is_none()
    }

    fn set_core_clock(&mut self, hz: u64) {
        self.hclk = hz;
    }

    fn debug_port_disabled(&self) -> bool {
        self.rdp() == 0xCC
    }

    fn configure(&mut self, key: &str, value: &str) -> ConfigResult {
        match key {
            "rdp" => {
                let byte = match value {
                    "0" => 0xAA,
                    "1" => 0xBB,
                    "2" => 0xCC,
                    _ => return Err(format!("rdp={value}: expected 0, 1 or 2")),
                };
                self.stored.optr = (self.stored.optr & !0xFF) | byte;
            }
            "wrp" => self.configure_wrp(value)?,
            "sfsa" if self.v.sfr.is_some() => {
                let (mask, _) = self.v.sfr.expect("checked");
                let page = parse_u32(value)?;
                if page > mask {
                    return Err(format!("sfsa={value}: the field holds pages 0-{mask}"));
                }
                self.stored.sfr = (self.stored.sfr & !mask) | page;
            }
            "fsd" if self.v.sfr.is_some() => {
                let (_, fsd) = self.v.sfr.expect("checked");
                match value {
                    "1" => self.stored.sfr |= fsd,
                    "0" => self.stored.sfr &= !fsd,
                    _ => return Err(format!("fsd={value}: expected 0 or 1")),
                }
            }
            "pesd" if self.v.pesd => self.suspended = value == "1",
            "fast_row" => {
                let fault = match value {
                    "abort" => RowFault::Abort,
                    "fasterr" => RowFault::Fasterr,
                    "miserr" => RowFault::Miserr,
                    "pgserr" => RowFault::Pgserr,
                    _ => return Err(format!("fast_row={value}: expected abort, fasterr, miserr or pgserr")),
                };
                self.row_fault = Some(fault);
                return Ok(());
            }
            "fast_row_at" => {
                self.row_fault_at = parse_u32(value)?;
                return Ok(());
            }
            "ese" if self.v.ese.is_some() => {
                let ese = self.v.ese.expect("checked");
                match value {
                    "1" => self.stored.optr |= ese,
                    "0" => self.stored.optr &= !ese,
                    _ => return Err(format!("ese={value}: expected 0 or 1")),
                }
            }
            "sales_type" if self.v.sales => {
                self.sales_type = match value {
                    "0" | "1" | "2" | "3" => parse_u32(value)?,
                    _ => return Err(format!("sales_type={value}: expected 0, 1, 2 or 3")),
                }
            }
            "sfr_absent" if self.v.sfr.is_none() && self.v.base == 0x5800_4000 => {
                self.sfr_absent = match value {
                    "zero" => Absent::Zero,
                    "ones" => Absent::Ones,
                    "fault" => Absent::Fault,
                    _ => return Err(format!("sfr_absent={value}: expected zero, ones or fault")),
                }
            }
            k if self.geo.option_keys.iter().any(|(name, _)| *name == k) => self.configure_bit(key, value)?,
            _ => {
                return Err(format!(
                    "{}: unknown setting {key}={value}; accepted: {}",
                    self.name(),
                    self.accepted_keys()
                ))
            }
        }
        self.reset();
        Ok(())
    }

    fn save(&self) -> Vec<(String, Vec<u8>)> {
        vec![
            ("bank1".to_string(), self.arrays[0].data.clone()),
            ("bank2".to_string(), self.arrays[1].data.clone()),
            ("otp".to_string(), self.otp.data.clone()),
            ("options".to_string(), self.stored.to_bytes()),
            // What the `sales_type` and `sfr_absent` knobs chose: the silicon's, kept with the chip.
            ("silicon".to_string(), vec![self.sales_type as u8, self.sfr_absent as u8]),
        ]
    }

    fn load(&mut self, blobs: &[(String, Vec<u8>)]) -> Result<(), String> {
        for (i, name) in ["bank1", "bank2"].iter().enumerate() {
            let data = saved_blob(blobs, self.name(), name, self.arrays[i].data.len())?;
            let base = self.arrays[i].base;
            self.arrays[i].poke(base, data);
        }
        self.otp.poke(self.v.otp_base, saved_blob(blobs, self.name(), "otp", OTP_SIZE as usize)?);
        let options = blobs
            .iter()
            .find(|(n, _)| n == "options")
            .ok_or_else(|| format!("{}: state has no 'options' blob", self.name()))?;
        self.stored = Options::from_bytes(&options.1).ok_or("saved options are malformed")?;
        if let Some((_, silicon)) = blobs.iter().find(|(n, _)| n == "silicon") {
            if let [sales, absent] = silicon[..] {
                self.sales_type = sales as u32 & 3;
                self.sfr_absent = [Absent::Zero, Absent::Ones, Absent::Fault][absent.min(2) as usize];
            }
        }
        self.reset();
        Ok(())
    }

    fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        if self.ob_range().contains(&addr) {
            let o = (addr - self.v.option_bytes.0) as usize;
            return self.option_bytes_image().get(o..o + len).map(<[u8]>::to_vec);
        }
        self.array(addr)?.slice(addr, len).map(<[u8]>::to_vec)
    }

    fn poke(&mut self, addr: u32, data: &[u8]) -> bool {
        self.array_mut(addr).is_some_and(|a| a.poke(addr, data))
    }

    fn register_facts(&self, f: &mut Facts) {
        let v = self.v;
        let wb_wl = v.base == 0x5800_4000;
        f.number(if wb_wl { "FLASH_REG_BASE" } else { "FLASH_R_BASE" }, v.base as u64);
        let mut regs = vec![
            ("ACR", ACR),
            ("KEYR", KEYR),
            ("OPTKEYR", OPTKEYR),
            ("SR", SR),
            ("CR", CR),
            ("OPTR", OPTR),
            ("WRP1AR", WRP1AR),
            ("WRP1BR", WRP1BR),
        ];
        if v.eccr {
            regs.push(("ECCR", ECCR));
        }
        if v.mer2 != 0 {
            regs.extend([("WRP2AR", WRP2AR), ("WRP2BR", WRP2BR)]);
        }
        // U0: no PCROP, no RDERR/RDERRIE (stm32u031xx.h, stm32u073xx.h
        // define none); the model keeps the C0's registers and bits there,
        // which stflash never uses, so they are not stated for it.
        let u0 = std::ptr::eq(v, &U0);
        // PCROP1SR/ER on L4/G4, PCROP1ASR/PCROP1AER elsewhere (stm32g071xx.h).
        let a = if v.cfgbsy { "A" } else { "" };
        if !u0 {
            f.number(format!("FLASH_TypeDef.PCROP1{a}SR"), PCROP1SR as u64);
            f.number(format!("FLASH_TypeDef.PCROP1{a}ER"), PCROP1ER as u64);
        }
        for (name, offset) in regs {
            f.number(format!("FLASH_TypeDef.{name}"), offset as u64);
        }
        f.number("FLASH_KEY1", KEY1 as u64).number("FLASH_KEY2", KEY2 as u64);
        f.number("FLASH_OPTKEY1", OPTKEY1 as u64).number("FLASH_OPTKEY2", OPTKEY2 as u64);
        for (name, bit) in [
            ("EOP", EOP),
            ("OPERR", OPERR),
            ("PROGERR", PROGERR),
            ("WRPERR", WRPERR),
            ("PGAERR", PGAERR),
            ("SIZERR", SIZERR),
            ("PGSERR", PGSERR),
            ("MISERR", MISERR),
            ("FASTERR", FASTERR),
            ("RDERR", RDERR),
            ("OPTVERR", OPTVERR),
        ] {
            if u0 && name == "RDERR" {
                continue;
            }
            f.mask(format!("FLASH_SR_{name}"), bit);
        }
        f.mask(if v.cfgbsy && !wb_wl { "FLASH_SR_BSY1" } else { "FLASH_SR_BSY" }, BSY);
        if v.bsy2 {
            f.mask("FLASH_SR_BSY2", BSY2);
        }
        if v.cfgbsy {
            f.mask("FLASH_SR_CFGBSY", CFGBSY);
        }
        if v.pesd {
            f.mask("FLASH_SR_PESD", PESD);
        }
        f.mask("FLASH_CR_PG", PG).mask("FLASH_CR_PER", PER);
        f.mask(if wb_wl { "FLASH_CR_MER" } else { "FLASH_CR_MER1" }, MER1);
        f.field("FLASH_CR_PNB", PNB_SHIFT, v.pnb_bits);
        for (name, bit) in [
            ("STRT", STRT),
            ("OPTSTRT", OPTSTRT),
            ("FSTPG", FSTPG),
            ("EOPIE", EOPIE),
            ("ERRIE", ERRIE),
            ("RDERRIE", RDERRIE),
            ("OBL_LAUNCH", OBL_LAUNCH),
            ("OPTLOCK", OPTLOCK),
            ("LOCK", LOCK),
        ] {
            if u0 && name == "RDERRIE" {
                continue;
            }
            f.mask(format!("FLASH_CR_{name}"), bit);
        }
        if v.bker != 0 {
            f.mask("FLASH_CR_BKER", v.bker);
        }
        if v.mer2 != 0 {
            f.mask("FLASH_CR_MER2", v.mer2);
        }
        if v.eccr {
            f.mask("FLASH_ECCR_ECCD", ECCD);
        }
        // U0: CMSIS masks whole half-words, the model keeps 7 bits as the
        // library's option table does (see it for why).
        let width = v.wrp_field.count_ones();
        if !u0 {
            f.field("FLASH_WRP1AR_WRP1A_STRT", 0, width).field("FLASH_WRP1AR_WRP1A_END", 16, width);
        }
        if let Some((sfsa, fsd)) = v.sfr {
            f.part(v.ese.map(|_| "stm32wl55xx"));
            f.number("FLASH_TypeDef.SFR", SFR as u64).mask("FLASH_SFR_SFSA", sfsa).mask("FLASH_SFR_FSD", fsd);
            f.part(None);
        }
        if let Some(ese) = v.ese {
            f.mask("FLASH_OPTR_ESE", ese);
        }
        if v.sales {
            f.number("PACKAGE_BASE", PACKAGE as u64).number("FLASH_SALES_TYPE", 3 << SALES_TYPE_POS);
            f.mask("FLASH_OPTR_DUAL_BANK", DUAL_BANK);
        }
        // The bank-mode option bits the part's configuration keys set.
        let bank_bit = |bit: u32| match (v.name, bit) {
            (_, DUAL_BANK) if v.sales => "FLASH_OPTR_DUAL_BANK",
            ("STM32L4 flash (RM0351)", _) => "FLASH_OPTR_DUALBANK",
            (_, 0x20_0000) => "FLASH_OPTR_DB1M",
            _ => "FLASH_OPTR_DBANK",
        };
        for &(_, bit) in self.geo.option_keys {
            f.mask(bank_bit(bit), bit);
        }
        // ST's HAL `FLASH_PAGE_SIZE` is the dual-bank page where there are
        // two sizes, `FLASH_PAGE_SIZE_128_BITS` the single-bank one.
        if self.geo.dual_page != self.geo.single_page {
            f.number("FLASH_PAGE_SIZE", self.geo.dual_page as u64);
            f.number("FLASH_PAGE_SIZE_128_BITS", self.geo.single_page as u64);
        } else {
            f.number("FLASH_PAGE_SIZE", self.geo.single_page as u64);
        }
        if wb_wl {
            f.number("OTP_AREA_BASE", OTP_BASE as u64);
        }
    }
}

// ---- simulated parts ----

/// SW-DP of Cortex-M4 STM32 (L4, G4; stlink inc/stm32.h:25-45 "0x2BA01477" F4/G4).
const DPIDR_M4: u32 = 0x2BA0_1477;
/// SW-DP of WB/WL (stlink inc/stm32.h:25-45: 0x5BA02477, also WB, WL).
const DPIDR_WB_WL: u32 = 0x5BA0_2477;
/// SW-DP of Cortex-M0+ STM32 (G0, C0).
const DPIDR_M0P: u32 = 0x0BC1_1477;
/// Cortex-M4 r0p1 and Cortex-M0+ r0p1 (CPUID PARTNO 0xC24, 0xC60: ARMv7-M and
/// ARMv6-M Architecture Reference Manuals, CPUID).
const CPUID_M4: u32 = 0x410F_C241;
const CPUID_M0P: u32 = 0x410C_C601;

/// DBGMCU at 0xE0042000 with CR, APB1FZR1, APB1FZR2, APB2FZR (RM0351 §48.16).
const DBGMCU_L4: u32 = 0xE004_2000;
/// DBGMCU of G0/C0 at 0x40015800 with CR, APB_FZ1, APB_FZ2 (RM0444 §40.9).
const DBGMCU_G0: u32 = 0x4001_5800;
const FLASH_SIZE_REG: u32 = 0x1FFF_75E0;
const FLASH_SIZE_REG_C0: u32 = 0x1FFF_75A0;
/// AN2606 system memory of L4/L4+/G07x/G0B1/G4/WB.
const SYSMEM_28K: (u32, u32) = (0x1FFF_0000, 0x7000);

const fn m4(
    name: &'static str,
    aliases: &'static [&'static str],
    idcode: u32,
    kib: u16,
    sram: &'static [(u32, u32)],
    flash: fn() -> Box<dyn FlashModel>,
) -> Part {
    Part {
        name,
        aliases,
        dpidr: DPIDR_M4,
        cpuid: CPUID_M4,
        idcode,
        dbgmcu_addr: DBGMCU_L4,
        dbgmcu_ctrl_words: 4,
        flash_size_addr: FLASH_SIZE_REG,
        flash_size_kib: kib,
        sram,
        system_memory: SYSMEM_28K,
        boot_address: FLASH_BASE,
        voltage_mv: 3300,
        flash,
    }
}

const fn m0plus(
    name: &'static str,
    aliases: &'static [&'static str],
    idcode: u32,
    kib: u16,
    sram: &'static [(u32, u32)],
    system_memory: (u32, u32),
    flash: fn() -> Box<dyn FlashModel>,
) -> Part {
    Part {
        dpidr: DPIDR_M0P,
        cpuid: CPUID_M0P,
        dbgmcu_addr: DBGMCU_G0,
        dbgmcu_ctrl_words: 3,
        system_memory,
        ..m4(name, aliases, idcode, kib, sram, flash)
    }
}

const fn wb_wl(p: Part, system_memory: (u32, u32)) -> Part {
    // WB/WL DBGMCU registers run up to C2APB2FZR at offset 0x50 (CMSIS stm32wb55xx.h).
    Part { dpidr: DPIDR_WB_WL, dbgmcu_ctrl_words: 20, system_memory, ..p }
}

const L4_DUAL_KEYS: &[(&str, u32)] = &[("dual_bank", 1 << 21), ("dualbank", 1 << 21)];
const L4_PLUS_KEYS: &[(&str, u32)] = &[("dbank", 1 << 22), ("db1m", 1 << 21)];
const G4_KEYS: &[(&str, u32)] = &[("dbank", 1 << 22)];
const G0B1_KEYS: &[(&str, u32)] = &[("dual_bank", 1 << 21), ("dualbank", 1 << 21)];

/// Dual-bank geometry with the same page size in both modes and bank 2 at half.
const fn half_dual(kib: u32, page: u32, rule: BankRule, keys: &'static [(&'static str, u32)]) -> Geometry {
    Geometry { size: kib * KIB, single_page: page, dual_page: page, bank2: Bank2::Half, rule, option_keys: keys }
}

fn l476rg() -> Box<dyn FlashModel> {
    // 1 MiB: always two banks (RM0351: DUALBANK only on 256/512 KiB parts;
    // OpenOCD stm32l4x.h:62-69).
    Box::new(L4gModel::new(&L4_DUAL, half_dual(1024, 2 * KIB, BankRule::Dual, &[])))
}
fn l476re() -> Box<dyn FlashModel> {
    // 512 KiB: two banks when OPTR.DUALBANK (bit 21) is set.
    Box::new(L4gModel::new(&L4_DUAL, half_dual(512, 2 * KIB, BankRule::OptionBit(1 << 21), L4_DUAL_KEYS)))
}
fn l496zg() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&L4_DUAL, half_dual(1024, 2 * KIB, BankRule::Dual, &[])))
}
fn l412kb() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&L41X, Geometry::single(128, 2 * KIB)))
}
fn l432kc() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&L43X, Geometry::single(256, 2 * KIB)))
}
fn l452re() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&L4_SINGLE, Geometry::single(512, 2 * KIB)))
}
fn l4plus(v: &'static ModelVariant, kib: u32) -> Box<dyn FlashModel> {
    let geo = Geometry {
        size: kib * KIB,
        single_page: 8 * KIB,
        dual_page: 4 * KIB,
        bank2: Bank2::Half,
        rule: BankRule::OptionBit(1 << 22),
        option_keys: L4_PLUS_KEYS,
    };
    Box::new(L4gModel::new(v, geo))
}
// Every L4+ size: two banks when DBANK (bit 22) is set, as ST's HAL
// decides on every L4+ (stm32l4xx_hal_flash_ex.c:506-507); DB1M (bit 21)
// changes no map here (assumed: what it changes on silicon was not at hand).
fn l4r5zi() -> Box<dyn FlashModel> {
    l4plus(&L4_PLUS, 2048)
}
fn l4p5zg() -> Box<dyn FlashModel> {
    l4plus(&L4P5, 1024)
}
fn g030f6() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&G0_SMALL, Geometry::single(32, 2 * KIB)))
}
fn g050k8() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&G0_SMALL, Geometry::single(64, 2 * KIB)))
}
fn g071rb() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&G0, Geometry::single(128, 2 * KIB)))
}
fn g0b1re() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&G0B1, half_dual(512, 2 * KIB, BankRule::OptionBit(1 << 21), G0B1_KEYS)))
}
fn g431rb() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&G4_CAT2, Geometry::single(128, 2 * KIB)))
}
fn g474(kib: u32) -> Box<dyn FlashModel> {
    let geo = Geometry {
        size: kib * KIB,
        single_page: 4 * KIB,
        dual_page: 2 * KIB,
        // Bank 2 always at 0x08040000 (RM0440 dual-bank organisation; OpenOCD
        // stm32l4x.c:2170-2187).
        bank2: Bank2::Fixed(0x0804_0000),
        rule: BankRule::OptionBit(1 << 22),
        option_keys: G4_KEYS,
    };
    Box::new(L4gModel::new(&G4_CAT3, geo))
}
fn g474re() -> Box<dyn FlashModel> {
    g474(512)
}
fn g473rc() -> Box<dyn FlashModel> {
    g474(256)
}
fn g491re() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&G4_CAT4, Geometry::single(512, 2 * KIB)))
}
fn c011f6() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&C0, Geometry::single(32, 2 * KIB)))
}
fn c031c6() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&C0, Geometry::single(32, 2 * KIB)))
}
fn c051c8() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&C051, Geometry::single(64, 2 * KIB)))
}
fn c071rb() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&C071, Geometry::single(128, 2 * KIB)))
}
fn c092rc() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&C09X, Geometry::single(256, 2 * KIB)))
}
fn u031k8() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&U0, Geometry::single(64, 2 * KIB)))
}
fn u083rc() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&U0, Geometry::single(256, 2 * KIB)))
}
fn wb55rg() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&WB, Geometry::single(1024, 4 * KIB)))
}
fn wle5jc() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&WLE, Geometry::single(256, 2 * KIB)))
}
fn wl55jc() -> Box<dyn FlashModel> {
    Box::new(L4gModel::new(&WL55, Geometry::single(256, 2 * KIB)))
}

/// SRAM maps: st-flash's contiguous SRAM at 0x20000000 plus SRAM2/CCM at
/// 0x10000000 (RM0351/RM0394/RM0432 §2.2, RM0440 §2.4).
const fn sram(main_kib: u32, at_0x1000_kib: u32) -> [(u32, u32); 2] {
    [(0x2000_0000, main_kib * KIB), (0x1000_0000, at_0x1000_kib * KIB)]
}
const SRAM_L476: [(u32, u32); 2] = sram(96, 32);
const SRAM_L496: [(u32, u32); 2] = sram(320, 64);
const SRAM_L412: [(u32, u32); 2] = sram(40, 8);
const SRAM_L432: [(u32, u32); 2] = sram(48, 16);
const SRAM_L452: [(u32, u32); 2] = sram(128, 32);
const SRAM_L4R: [(u32, u32); 2] = sram(640, 64);
const SRAM_L4P: [(u32, u32); 2] = sram(320, 64);
const SRAM_G431: [(u32, u32); 2] = sram(32, 10);
const SRAM_G474: [(u32, u32); 2] = sram(128, 32);
const SRAM_G491: [(u32, u32); 2] = sram(112, 16);

const SRAM_G030: [(u32, u32); 1] = [(0x2000_0000, 8 * KIB)];
/// G0: CMSIS `SRAM_SIZE_MAX` (stm32g051xx.h:601, stm32g071xx.h:640,
/// stm32g0b1xx.h:754), the SRAM with parity checking on; the datasheets'
/// 18/36/144 KiB add the parity bits' area, usable with parity off only.
const SRAM_G050: [(u32, u32); 1] = [(0x2000_0000, 16 * KIB)];
const SRAM_G071: [(u32, u32); 1] = [(0x2000_0000, 32 * KIB)];
const SRAM_G0B1: [(u32, u32); 1] = [(0x2000_0000, 128 * KIB)];
const SRAM_C011: [(u32, u32); 1] = [(0x2000_0000, 6 * KIB)];
const SRAM_C031: [(u32, u32); 1] = [(0x2000_0000, 12 * KIB)];
const SRAM_WB55: [(u32, u32); 1] = [(0x2000_0000, 256 * KIB)];
const SRAM_WLE5: [(u32, u32); 1] = [(0x2000_0000, 64 * KIB)];
/// AN2606 system memory of G03x-G06x (8 KiB), C0 (6 KiB) and WL (16 KiB).
const SYSMEM_8K: (u32, u32) = (0x1FFF_0000, 0x2000);
const SYSMEM_C0: (u32, u32) = (0x1FFF_0000, 0x1800);
const SYSMEM_WL: (u32, u32) = (0x1FFF_0000, 0x4000);

/// A C0: 32 KiB, flash-size register at 0x1FFF75A0 (CMSIS stm32c031xx.h
/// `FLASHSIZE_BASE`; OpenOCD stm32l4x.c:476-524).
const fn c0(
    name: &'static str,
    aliases: &'static [&'static str],
    idcode: u32,
    sram: &'static [(u32, u32)],
    flash: fn() -> Box<dyn FlashModel>,
) -> Part {
    Part { flash_size_addr: FLASH_SIZE_REG_C0, ..m0plus(name, aliases, idcode, 32, sram, SYSMEM_C0, flash) }
}

/// A C0 of `kib` KiB with its AN2606 system memory (C051, C071, C09x:
/// CMSIS stm32c051xx.h:506-508, stm32c071xx.h:559-561, stm32c092xx.h:570;
/// REV_ID 0x1000 assumed).
const fn c0_big(
    name: &'static str,
    aliases: &'static [&'static str],
    idcode: u32,
    kib: u16,
    sram: &'static [(u32, u32)],
    system_memory: (u32, u32),
    flash: fn() -> Box<dyn FlashModel>,
) -> Part {
    Part { flash_size_kib: kib, system_memory, ..c0(name, aliases, idcode, sram, flash) }
}
const SRAM_C051: [(u32, u32); 1] = [(0x2000_0000, 12 * KIB)];
const SRAM_C071: [(u32, u32); 1] = [(0x2000_0000, 24 * KIB)];
const SRAM_C092: [(u32, u32); 1] = [(0x2000_0000, 30 * KIB)];

/// A U0 (RM0503): Cortex-M0+, DBGMCU at 0x40015800 with CR, APBFZ1, APBFZ2
/// (CMSIS stm32u031xx.h:215-220), flash-size register and SRAM per die
/// (stm32u031xx.h:707, 722-724; stm32u073xx.h:776, 791-793), system memory
/// from AN2606 Table 226, REV_ID 0x1000 (OpenOCD stm32l4x.c `stm32u0_revs`).
/// SW-DP 0x6BA02477 is OpenOCD's default for the U0 (tcl/target/stm32u0x.cfg:27),
/// not confirmed by an ST source (assumed).
const fn u0(p: Part, flash_size_addr: u32) -> Part {
    Part { dpidr: 0x6BA0_2477, flash_size_addr, ..p }
}
const SRAM_U031: [(u32, u32); 1] = [(0x2000_0000, 12 * KIB)];
const SYSMEM_U031: (u32, u32) = (0x1FFF_0000, 0x3800);
const SYSMEM_U083: (u32, u32) = (0x1FFF_0000, 0x6800);
const SRAM_U083: [(u32, u32); 1] = [(0x2000_0000, 40 * KIB)];

/// Parts simulated with this model. IDCODE = REV_ID << 16 | DEV_ID (RM0351
/// DBGMCU_IDCODE); system memory from AN2606 Table 226, SRAM from the datasheets.
pub const PARTS: &[Part] = &[
    m4("stm32l476rg", &["l476", "stm32l476", "l476rg"], 0x1007_6415, 1024, &SRAM_L476, l476rg),
    m4("stm32l476re", &["l476re"], 0x1007_6415, 512, &SRAM_L476, l476re),
    m4("stm32l496zg", &["l496", "stm32l496"], 0x1000_6461, 1024, &SRAM_L496, l496zg),
    m4("stm32l412kb", &["l412", "stm32l412"], 0x1000_6464, 128, &SRAM_L412, l412kb),
    m4("stm32l432kc", &["l432", "stm32l432"], 0x1001_6435, 256, &SRAM_L432, l432kc),
    m4("stm32l452re", &["l452", "stm32l452"], 0x1000_6462, 512, &SRAM_L452, l452re),
    m4("stm32l4r5zi", &["l4r5", "stm32l4r5", "l4r5zi"], 0x1001_6470, 2048, &SRAM_L4R, l4r5zi),
    m4("stm32l4p5zg", &["l4p5", "stm32l4p5"], 0x1001_6471, 1024, &SRAM_L4P, l4p5zg),
    m4("stm32g431rb", &["g431", "stm32g431", "g431rb"], 0x1001_6468, 128, &SRAM_G431, g431rb),
    m4("stm32g474re", &["g474", "stm32g474", "g474re"], 0x1001_6469, 512, &SRAM_G474, g474re),
    m4("stm32g473rc", &["g473", "stm32g473"], 0x1001_6469, 256, &SRAM_G474, g473rc),
    m4("stm32g491re", &["g491", "stm32g491"], 0x1000_6479, 512, &SRAM_G491, g491re),
    m0plus("stm32g030f6", &["g030", "stm32g030"], 0x1000_6466, 32, &SRAM_G030, SYSMEM_8K, g030f6),
    m0plus("stm32g050k8", &["g050", "stm32g050"], 0x1000_6456, 64, &SRAM_G050, SYSMEM_8K, g050k8),
    m0plus("stm32g071rb", &["g071", "stm32g071", "g071rb"], 0x1000_6460, 128, &SRAM_G071, SYSMEM_28K, g071rb),
    m0plus("stm32g0b1re", &["g0b1", "stm32g0b1", "g0b1re"], 0x1000_6467, 512, &SRAM_G0B1, SYSMEM_28K, g0b1re),
    c0("stm32c011f6", &["c011", "stm32c011"], 0x1000_6443, &SRAM_C011, c011f6),
    c0("stm32c031c6", &["c031", "stm32c031", "c031c6"], 0x1000_6453, &SRAM_C031, c031c6),
    c0_big("stm32c051c8", &["c051", "stm32c051"], 0x1000_644C, 64, &SRAM_C051, (0x1FFF_0000, 0x3000), c051c8),
    c0_big("stm32c071rb", &["c071", "stm32c071"], 0x1000_6493, 128, &SRAM_C071, (0x1FFF_0000, 0x7000), c071rb),
    c0_big("stm32c092rc", &["c092", "stm32c092", "c091"], 0x1000_644D, 256, &SRAM_C092, (0x1FFF_0000, 0x4000), c092rc),
    u0(m0plus("stm32u031k8", &["u031", "stm32u031"], 0x1000_6459, 64, &SRAM_U031, SYSMEM_U031, u031k8), 0x1FFF_3EA0),
    u0(
        m0plus("stm32u083rc", &["u083", "stm32u083", "u073"], 0x1000_6489, 256, &SRAM_U083, SYSMEM_U083, u083rc),
        0x1FFF_6EA0,
    ),
    wb_wl(m4("stm32wb55rg", &["wb55", "stm32wb55", "wb55rg"], 0x2001_6495, 1024, &SRAM_WB55, wb55rg), SYSMEM_28K),
    wb_wl(m4("stm32wle5jc", &["wle5", "stm32wle5", "wle5jc"], 0x1001_6497, 256, &SRAM_WLE5, wle5jc), SYSMEM_WL),
    // The dual-core WL55 reports the same DEV_ID; seen from CPU1 (the
    // Cortex-M4 on AP0) it differs by FLASH_SFR and the CPU2 secure area.
    wb_wl(m4("stm32wl55jc", &["wl55", "stm32wl55", "wl55jc"], 0x1001_6497, 256, &SRAM_WLE5, wl55jc), SYSMEM_WL),
];

/// The register facts of a part of this family, by the names of ST's
/// headers (`crate::facts`).
pub fn register_facts(part: &Part, f: &mut Facts) {
    let dev_id = (part.idcode & 0xFFF) as u16;
    // U0: the G0/C0 DBGMCU address, named DBGMCU (stm32u031xx.h:778).
    let u0 = matches!(dev_id, 0x459 | 0x489);
    let g0_c0 = part.dbgmcu_addr == DBGMCU_G0 && !u0;
    let dbgmcu = if g0_c0 { "DBG_BASE+DBG_TypeDef.IDCODE" } else { "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE" };
    f.identity(part, dbgmcu, "FLASHSIZE_BASE");
    if let Some(p) = crc_peripheral::placement(dev_id) {
        let clock = if g0_c0 || u0 {
            ("RCC_BASE+RCC_TypeDef.AHBENR", "RCC_AHBENR_CRCEN")
        } else {
            ("RCC_BASE+RCC_TypeDef.AHB1ENR", "RCC_AHB1ENR_CRCEN")
        };
        f.crc(p, "CRC_BASE", clock);
    }
    // The SRAM at 0x20000000: which of ST's regions it spans.
    let (sram, scope) = match dev_id {
        0x443 | 0x453 | 0x44C | 0x493 | 0x466 | 0x456 | 0x460 | 0x467 => ("SRAM_SIZE_MAX", Scope::Die),
        // C092's 30 KiB (stm32c092xx.h:570); the C091 header gives 36.
        0x44D => ("SRAM_SIZE_MAX", Scope::Part("stm32c092xx")),
        0x468 | 0x469 | 0x479 => ("SRAM1_SIZE_MAX+SRAM2_SIZE+CCMSRAM_SIZE", Scope::Die),
        0x464 | 0x461 => ("SRAM1_SIZE_MAX+SRAM2_SIZE", Scope::Die),
        0x471 | 0x470 => ("SRAM1_SIZE_MAX+SRAM2_SIZE+SRAM3_SIZE", Scope::Die),
        0x495 => ("SRAM1_SIZE+SRAM2A_SIZE+SRAM2B_SIZE", Scope::Part("stm32wb55xx")),
        0x497 => ("SRAM1_SIZE+SRAM2_SIZE", Scope::Die),
        _ => ("SRAM1_SIZE_MAX", Scope::Die),
    };
    for &(base, size) in part.sram {
        if base == 0x2000_0000 {
            f.part(match scope {
                Scope::Part(stem) => Some(stem),
                _ => None,
            });
            // U0: SRAM1 then SRAM2 (4 or 8 KiB at `BKPSRAM2_BASE`).
            let size = if u0 {
                let sram2 = if dev_id == 0x459 { 4 * KIB } else { 8 * KIB };
                f.number("BKPSRAM2_BASE", (base + size - sram2) as u64);
                size - sram2
            } else {
                size
            };
            f.number(sram, size as u64);
            f.part(None);
        } else {
            let name = if matches!(dev_id, 0x468 | 0x469 | 0x479) { "CCMSRAM" } else { "SRAM2" };
            f.number(format!("{name}_BASE"), base as u64).number(format!("{name}_SIZE"), size as u64);
        }
    }
    (part.flash)().register_facts(f);
}

#[cfg(test)]
mod tests;
