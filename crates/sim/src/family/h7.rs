//! Simulated STM32H7 embedded flash: H74x/H75x (RM0433, RM0399 dual core),
//! H72x/H73x (RM0468), H7A3/H7B3/H7B0 (RM0455).
//!
//! Written from the reference manuals, ST's CMSIS headers (stm32h743xx.h,
//! stm32h745xx.h, stm32h723xx.h, stm32h7a3xx.h, stm32h7b0xx.h), ST's HAL
//! (stm32h7xx_hal_flash.c, stm32h7xx_hal_flash_ex.c) and the bit descriptions
//! in ST's SVD file for the H7B0, not from stflash's driver. Each die is a
//! [`Die`] row; the controller decodes CR by that die's field positions, so a
//! sector number written at the H74x position (bit 8) on an H7A/B, whose SSN
//! field starts at bit 6 (CMSIS stm32h7a3xx.h:8677-8678), erases sector 4n, as
//! silicon does (stlink issue #1369).
//!
//! The two banks of a dual-bank die are independent: each has its own
//! KEYR/CR/SR/CCR and command queue, and an erase or program in one runs at
//! the same time as any operation in the other (ST's HAL
//! stm32h7xx_hal_flash.c:66-71: "the flash interface can run different
//! operations at the same time on each bank"; its FLASH_Erase_Sector starts
//! SER in CR1 and CR2 back to back, stm32h7xx_hal_flash_ex.c:1194-1235).
//! A read of a busy bank waits; the other bank answers at once.
//!
//! What is modeled, per bank (bank 2 registers at +0x100):
//! * KEYR: KEY1 then KEY2 clears LOCK; a wrong key, or any key while
//!   unlocked, locks CR until reset (H7B0 SVD CR1.LOCK1 description).
//! * CR: writes ignored while locked; setting LOCK leaves the other bits as
//!   they were (H7B0 SVD CR1.LOCK1); START and FW act and read back 0.
//! * Write buffer of one flash word (16 or 32 bytes): writes fill it; a full
//!   word enters the command queue (QW) and is programmed after the word
//!   time. A write without PG, or while INCERR is pending, raises PGSERR and
//!   changes nothing; a byte written twice raises STRBERR; a write to another
//!   word while the buffer is partly filled raises INCERR (assumed: the SVD's
//!   SR1.INCERR1 gives no detail); clearing PG drops a partial buffer (H7B0 SVD
//!   CR1.PG1); FW programs it with the missing bytes left erased (H7B0 SVD
//!   CR1.FW1). The queue holds one word besides the one being programmed: a
//!   further write stalls the bus (assumed: RM0433 does not say what a write
//!   to a full queue does). Knob `write_queue=stall|none|deep|error`: that
//!   default, no queue (a write stalls while anything is programming), an
//!   unbounded queue (writes never stall), or a write to a full queue
//!   dropped with PGSERR. Knob `word_error=<bank>:<offset>`: the flash word
//!   at that offset of bank 1 or 2 is refused with STRBERR (a program error
//!   in the middle of a write, whatever its cause; nothing programmed).
//! * SER/BER + START with the die's sector field; BER has priority; erase and
//!   program of a write-protected sector (WPSN: 1 bit per sector on
//!   H74x/H72x, 1 bit per 4 sectors on H7A/B, 0 = protected) raise WRPERR and
//!   change nothing.
//! * SR read-only, flags cleared through CCR (CMSIS `FLASH_TypeDef`; ST's HAL
//!   `__HAL_FLASH_CLEAR_FLAG` writes CCR); EOP at the end of each operation;
//!   OPERR only where the die has it (stm32h7a3xx.h defines no OPERR).
//! * ECC: programming a programmed word stores old AND new with a broken ECC;
//!   reading it sets DBECCERR and ECC_FA and returns the stored bits
//!   (assumed from ST community reports, e.g. "flash-writing-issue" on an
//!   H723; whether the AXI read also faults is undocumented, so assumed not).
//! * Reads of a bank stall while that bank is busy; the other bank answers.
//! * Options: OPTKEYR/OPTLOCK, OPTSR_CUR/PRG (RDP, SWAP_BANK_OPT, the user
//!   bits), WPSN, BOOT and OTPBL CUR/PRG; OPTSTART applies the PRG values
//!   (OPT_BUSY for the modeled change time) without a reset. RDP level 1:
//!   debugger accesses to the flash arrays fault; 1 → 0 erases both banks
//!   inside the option change; level 2 disables the debug port (for good:
//!   the state file keeps it) and makes later option changes fail with
//!   OPTCHANGEERR. Write protection blocks erase and program (below).
//! * Bank swap (`swap_bank=1`): bank 2 answers at 0x08000000 and bank 1 at
//!   0x08100000; CR1/SR1 keep driving the physical bank 1 (assumed: the RM
//!   text was not available; it is what the H5's SVD says of BKSEL). A
//!   SWAP_BANK_OPT change takes effect at the next reset (assumed, as ST
//!   states for the H5); knob `swap_reload=immediate`: at OPTSTART instead.
//! * The gap between the banks of a 1 MiB part is not decoded: the bus faults.
//! * Faults (`STFLASH_SIM_FAULTS=opt_fault=stuck|error`): OPTSTART runs
//!   but nothing changes, or ends with OPTCHANGEERR.
//! * OTP (H7A/B: CMSIS stm32h7a3xx.h:1973-1974, :8816; ST's HAL
//!   stm32h7xx_hal_flash.c:201-241): 1 KiB, erased 0xFF; with OPTCR.PG_OTP set a 16-bit
//!   write programs a half-word through bank 1's queue; OTPBL locks blocks
//!   of 64 bytes (WRPERR). Kept in the state file.
//! * The flash CRC unit (RM0433 §4.3.12; CMSIS: CRCCR/CRCSADD/CRCEADD/CRCDATA per bank,
//!   CR.CRC_EN 15, SR.CRC_BUSY 3, SR.CRCEND 27), address mode only: START_CRC
//!   computes over the bursts from CRCSADD through the burst containing
//!   CRCEADD (bank-relative offsets, bits 19:2), CLEAN_CRC resets the result.
//!   RM0433 names the polynomial 0x04C11DB7 and requires burst-aligned start
//!   and end addresses, nothing more. **Measured** (ST community, STM32H753,
//!   <https://qa-community.st.com/stm32-mcus-security-36/stm32h753-flash-crc-specification-52577>):
//!   128 zero bytes with CRC_BURST = 4 flash words give CRCDATA 0x11E66C62;
//!   each little-endian word enters most significant byte first; the results
//!   are CRC-32 with that polynomial, no reflection, no final XOR, from the
//!   initial value 0xB6C0AE5A applied to each computation (a later reply in
//!   the same thread). Burst alignment of start and end: <https://qa-community.st.com/stm32-mcus-security-36/stm32h753-flash-crc-address-limitations-52648>;
//!   results independent of the burst length (H725):
//!   <https://qa-community.st.com/stm32-mcus-products-25/stm32h7-flash-crc-164039>.
//!   That is the default here. **Assumed**: the same on every H7 die and both
//!   banks (nobody has published H7A3/B3 or H72x figures); an unaligned start
//!   or end is rounded out to the burst; CLEAN_CRC loads CRCDATA with the
//!   initial value; 8 cycles of the 64 MHz reset clock per flash word.
//!   Knobs (`STFLASH_SIM_FAULTS`, every run) perturb what is not documented:
//!   `flash_crc_init=<hex>` another initial value; `flash_crc_order=word|
//!   bytes|reflected|byte-reflected|half-reflected` another input order;
//!   `flash_crc_out=reflected` a bit-reversed result; `flash_crc=chain` a
//!   START_CRC that continues from CRCDATA (only CLEAN_CRC reloads the
//!   initial value); `flash_crc=absent` (registers read 0, nothing computed)
//!   or `flash_crc=garbage` (CRCDATA meaningless); and the older
//!   `flash_crc=mpeg2|init0|lsb-first` (CRC-32/MPEG-2, initial value 0,
//!   bytes in memory order).

use std::collections::VecDeque;
use std::ops::Range;

use crate::crc_peripheral;
use crate::crc_peripheral::{parse_hex, shift_word, InputOrder};
use crate::facts::Facts;
use crate::model::{
    saved_blob, Access, AccessWidth, BusFault, ConfigResult, FlashArray, FlashModel, FlashStats, Initiator, Nanos, MS,
    US,
};
use crate::parts::Part;

const KIB: u32 = 1024;

/// Register block: bank 1 at +0x000, bank 2 at +0x100 (CMSIS `FLASH_TypeDef`,
/// stm32h743xx.h:917-958, stm32h7a3xx.h:762-806).
const REGS: u32 = 0x5200_2000;
const REGS_END: u32 = REGS + 0x200;
const BANK_STRIDE: u32 = 0x100;
/// Bank bases: bank 2 is at 0x08100000 whatever the size (CMSIS
/// stm32h743xx.h:2076-2078, stm32h7a3xx.h:1965-1967; OpenOCD stm32h7x.c:937-951).
const BANK1_BASE: u32 = 0x0800_0000;
const BANK2_BASE: u32 = 0x0810_0000;

// Per-bank register offsets (CMSIS `FLASH_TypeDef`).
const KEYR: u32 = 0x04;
const CR: u32 = 0x0C;
const SR: u32 = 0x10;
const CCR: u32 = 0x14;
const PRAR_CUR: u32 = 0x28;
const SCAR_CUR: u32 = 0x30;
const WPSN_CUR: u32 = 0x38;
const WPSN_PRG: u32 = 0x3C;
const ECC_FA: u32 = 0x60;
// Bank-1-only offsets.
const ACR: u32 = 0x00;
const OPTKEYR: u32 = 0x08;
const OPTCR: u32 = 0x18;
const OPTSR_CUR: u32 = 0x1C;
const OPTSR_PRG: u32 = 0x20;
const OPTCCR: u32 = 0x24;
const PRAR_PRG: u32 = 0x2C;
const SCAR_PRG: u32 = 0x34;
const BOOT_CUR: u32 = 0x40;
const BOOT_PRG: u32 = 0x44;
/// OTP block locks, H7A/B only (CMSIS stm32h7a3xx.h:786).
const OTPBL_CUR: u32 = 0x68;
const OTPBL_PRG: u32 = 0x6C;

// Keys (ST's HAL stm32h7xx_hal_flash.h:337-340).
const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
const OPTKEY1: u32 = 0x0819_2A3B;
const OPTKEY2: u32 = 0x4C5D_6E7F;

// CR bits common to all dies (CMSIS stm32h743xx.h:10715-10727, stm32h7a3xx.h:8659-8720).
const LOCK: u32 = 1 << 0;
const PG: u32 = 1 << 1;
const SER: u32 = 1 << 2;
const BER: u32 = 1 << 3;
/// CRC_EN 15 and the interrupt enables 16-28: stored, no effect here.
const CR_IE_MASK: u32 = 0x1FFF_8000;

// SR bits (CMSIS `FLASH_SR_*`: stm32h743xx.h, stm32h7a3xx.h:8725-8767).
const BSY: u32 = 1 << 0;
const WBNE: u32 = 1 << 1;
const QW: u32 = 1 << 2;
const EOP: u32 = 1 << 16;
const WRPERR: u32 = 1 << 17;
const PGSERR: u32 = 1 << 18;
const STRBERR: u32 = 1 << 19;
const INCERR: u32 = 1 << 21;
const OPERR: u32 = 1 << 22;
const SNECCERR: u32 = 1 << 25;
const DBECCERR: u32 = 1 << 26;
/// Flags CCR can clear (EOP and bits 17-28; CMSIS `FLASH_CCR_CLR_*` sit at the
/// SR flags' positions).
const CLEARABLE: u32 = 0x1FFF_0000;

// OPTCR (CMSIS `FLASH_OPTCR_*`; MER stm32h7a3xx.h:8813).
const OPTLOCK: u32 = 1 << 0;
const OPTSTART: u32 = 1 << 1;
const MER: u32 = 1 << 4;
/// OTP program enable, H7A/B only (H7B0 SVD FLASH_OPTCR.PG_OTP; CMSIS stm32h7a3xx.h:8816).
const PG_OTP: u32 = 1 << 5;
const SWAP_BANK: u32 = 1 << 31;
// OPTSR (CMSIS `FLASH_OPTSR_*`; stm32h7a3xx.h:8827-8871).
const OPT_BUSY: u32 = 1 << 0;
const RDP_SHIFT: u32 = 8;
const RDP_MASK: u32 = 0xFF << RDP_SHIFT;
const OPTCHANGEERR: u32 = 1 << 30;

/// Modeled time of an option change (Chromium EC, chip/stm32/flash-stm32h7.c:
/// "No specification, real delay seems to be around 300ms" on an H743).
const OPTION_CHANGE: Nanos = 300 * MS;

/// One flash die, as data (its CMSIS header's CR, SR, OPTCR and WPSN fields).
#[derive(Debug)]
pub struct Die {
    pub name: &'static str,
    /// PSIZE at bits 4-5 (H74x/H72x); no PSIZE on H7A/B.
    pub psize: bool,
    pub fw: u32,
    pub start: u32,
    pub sector_shift: u32,
    pub sector_bits: u32,
    /// Flash word (write buffer) in bytes.
    pub word: u32,
    pub sector_size: u32,
    /// Sectors covered by one WPSN bit (1 on H74x/H72x, 4 on H7A/B).
    pub wrp_group: u32,
    /// WPSN width in bits (8, or 32 on H7A/B: CMSIS stm32h7a3xx.h:8903).
    pub wps_bits: u32,
    pub has_operr: bool,
    /// Bank-2 register set exists (not on the single-bank H72x die).
    pub bank2_regs: bool,
    /// Default OPTSR of a factory-fresh part.
    pub optsr_default: u32,
    pub otp: Option<(u32, u32)>,
    /// Operation times: assumed, not measured; `flash-time=F` scales them.
    /// H74x/H72x: 100 µs per flash word, 1 s per sector, 8 s per bank, after
    /// the STM32H743 datasheet's (DS12110) recalled typical figures and
    /// Chromium EC's "real delay seems to be < 1 second in x64" per sector;
    /// H7A/B: 25 µs, 5 ms, 0.5 s, guesses (no figure at hand).
    pub word_time: Nanos,
    pub sector_erase_time: Nanos,
    pub bank_erase_time: Nanos,
}

impl Die {
    fn cr_mask(&self) -> u32 {
        let field = ((1 << self.sector_bits) - 1) << self.sector_shift;
        let psize = if self.psize { 0b11 << 4 } else { 0 };
        LOCK | PG | SER | BER | psize | field | CR_IE_MASK
    }

    fn sector_field(&self, cr: u32) -> u32 {
        (cr >> self.sector_shift) & ((1 << self.sector_bits) - 1)
    }

    /// Error flags of SR (and their CLR_ bits in CCR): no OPERR on H7A/B.
    fn errors(&self) -> u32 {
        let operr = if self.has_operr { OPERR } else { 0 };
        (CLEARABLE & !EOP & !OPERR) | operr
    }

    fn wps_all(&self) -> u32 {
        if self.wps_bits == 32 {
            u32::MAX
        } else {
            (1 << self.wps_bits) - 1
        }
    }
}

/// Factory option status (CMSIS `FLASH_OPTSR_*`): IWDG1_SW 4, NRST_STOP_D1 6,
/// NRST_STBY_D1 7, RDP = 0xAA, FZ_IWDG_STOP 17, FZ_IWDG_SDBY 18.
const OPTSR_SINGLE_CORE: u32 = 1 << 4 | 1 << 6 | 1 << 7 | 0xAA << RDP_SHIFT | 1 << 17 | 1 << 18;
/// H745/H747 add IWDG2_SW 5, BCM4 22, BCM7 23, NRST_STOP_D2 24, NRST_STBY_D2 25.
const OPTSR_DUAL_CORE: u32 = OPTSR_SINGLE_CORE | 1 << 5 | 1 << 22 | 1 << 23 | 1 << 24 | 1 << 25;
/// H72x/H73x: NRST_STOP_D2/NRST_STBY_D2 as well (CMSIS stm32h723xx.h).
const OPTSR_H72X: u32 = OPTSR_SINGLE_CORE | 1 << 24 | 1 << 25;

/// H74x/H75x (RM0433): CR PSIZE 4-5, FW 6, START 7, SNB 8-10 (CMSIS
/// stm32h743xx.h:10715-10727).
pub static H74X: Die = H74X_FIELDS;

/// H745/H747/H755/H757 (RM0399): the H74x controller, dual-core options.
pub static H74X_DUAL_CORE: Die =
    Die { name: "STM32H745/H747 flash (RM0399)", optsr_default: OPTSR_DUAL_CORE, ..H74X_FIELDS };

/// H72x/H73x (RM0468): H74x layout, single bank, no bank-2 registers (CMSIS
/// stm32h723xx.h:10864-10876, :958-983).
pub static H72X: Die =
    Die { name: "STM32H72x/H73x flash (RM0468)", bank2_regs: false, optsr_default: OPTSR_H72X, ..H74X_FIELDS };

/// The H74x row as a constant, to build the other rows from.
const H74X_FIELDS: Die = Die {
    name: "STM32H74x/H75x flash (RM0433)",
    psize: true,
    fw: 1 << 6,
    start: 1 << 7,
    sector_shift: 8,
    sector_bits: 3,
    word: 32,
    sector_size: 128 * KIB,
    wrp_group: 1,
    wps_bits: 8,
    has_operr: true,
    bank2_regs: true,
    optsr_default: OPTSR_SINGLE_CORE,
    otp: None,
    word_time: 100 * US,
    sector_erase_time: 1000 * MS,
    bank_erase_time: 8000 * MS,
};

/// H7A3/H7B3/H7B0 (RM0455): no PSIZE, FW 4, START 5, SSN 6-12, 16-byte
/// word, 8 KiB sectors, WPSGN 1 bit per 4 sectors, no OPERR, OTP (CMSIS
/// stm32h7a3xx.h:8620-8627, :8659-8720, :8903; H7B0 SVD WPSGN).
pub static H7AB: Die = Die {
    name: "STM32H7A/B flash (RM0455)",
    psize: false,
    fw: 1 << 4,
    start: 1 << 5,
    sector_shift: 6,
    sector_bits: 7,
    word: 16,
    sector_size: 8 * KIB,
    wrp_group: 4,
    wps_bits: 32,
    has_operr: false,
    bank2_regs: true,
    // As H743 plus VDDMMC_HSLV (0 here; CMSIS stm32h7a3xx.h:8827-8871).
    optsr_default: OPTSR_SINGLE_CORE,
    otp: Some((0x08FF_F000, KIB)),
    word_time: 25 * US,
    sector_erase_time: 5 * MS,
    bank_erase_time: 500 * MS,
};

/// What a queued operation does when it completes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OpKind {
    /// Program one flash word at this bank offset.
    Program {
        offset: u32,
        data: Vec<u8>,
    },
    SectorErase(u32),
    BankErase,
    /// Program one OTP half-word (queued on bank 1, as ST's HAL does it).
    ProgramOtp {
        addr: u32,
        data: [u8; 2],
    },
}

#[derive(Debug, Clone)]
struct Op {
    kind: OpKind,
    end: Nanos,
}

/// The write buffer of one bank: one flash word being filled.
#[derive(Debug, Clone)]
struct WriteBuffer {
    offset: u32,
    data: Vec<u8>,
    filled: Vec<bool>,
}

/// One bank: its cells and its half of the register file.
struct Bank {
    array: FlashArray,
    cr: u32,
    sr: u32,
    /// KEY1 received, KEY2 expected.
    key1_seen: bool,
    /// A bad key sequence: LOCK stays set until reset.
    key_locked: bool,
    buffer: Option<WriteBuffer>,
    /// Executing operation first; at most one more waits behind it.
    queue: VecDeque<Op>,
    wpsn_cur: u32,
    wpsn_prg: u32,
    ecc_fa: u32,
    crccr: u32,
    crcsadd: u32,
    crceadd: u32,
    crcdata: u32,
    /// A CRC computation: when it ends, and its result.
    crc_busy: Option<(Nanos, u32)>,
}

impl Bank {
    fn new(base: u32, size: u32, die: &Die) -> Bank {
        Bank {
            array: FlashArray::new(base, size, 0xFF, die.word),
            cr: LOCK,
            sr: 0,
            key1_seen: false,
            key_locked: false,
            buffer: None,
            queue: VecDeque::new(),
            wpsn_cur: die.wps_all(),
            wpsn_prg: die.wps_all(),
            ecc_fa: 0,
            crccr: 0,
            crcsadd: 0,
            crceadd: 0,
            crcdata: CRC_INIT,
            crc_busy: None,
        }
    }

    fn busy_until(&self) -> Option<Nanos> {
        self.queue.back().map(|op| op.end)
    }

    fn status(&self) -> u32 {
        let mut sr = self.sr;
        if !self.queue.is_empty() {
            sr |= BSY | QW;
        }
        if self.buffer.is_some() {
            sr |= WBNE;
        }
        if self.crc_busy.is_some() {
            sr |= CRC_BUSY;
        }
        sr
    }

    fn enqueue(&mut self, kind: OpKind, duration: Nanos, now: Nanos) {
        let start = self.busy_until().map_or(now, |end| end.max(now));
        self.queue.push_back(Op { kind, end: start + duration });
    }
}

/// The simulated H7 flash of one part.
pub struct H7Model {
    die: &'static Die,
    /// Physical banks: bank 1, then bank 2 if the part has one.
    banks: Vec<Bank>,
    bank_size: u32,
    acr: u32,
    optcr: u32,
    optkey1_seen: bool,
    optkey_locked: bool,
    optsr_cur: u32,
    optsr_prg: u32,
    prar_prg: u32,
    scar_prg: u32,
    boot_prg: u32,
    boot_cur: u32,
    otpbl_cur: u32,
    otpbl_prg: u32,
    opt_busy_until: Nanos,
    /// Bank swap in force (OPTSR_CUR.SWAP_BANK_OPT at the last reset).
    swapped: bool,
    /// Fault `opt_fault=stuck`: OPTSTART completes but nothing changes.
    /// Fault `opt_fault=error`: OPTSTART ends with OPTCHANGEERR.
    opt_fault: Option<&'static str>,
    otp: Option<FlashArray>,
    /// Parameters of the flash CRC unit (`flash_crc=`).
    crc_kind: CrcKind,
    /// What a write does when the command queue is busy (`write_queue=`).
    queue_mode: QueueMode,
    /// Knob `word_error=<bank>:<offset>`: the flash word at that offset of
    /// that bank (1 or 2) is refused with STRBERR, nothing programmed.
    word_error: Option<(usize, u32)>,
    /// A SWAP_BANK_OPT change takes effect at OPTSTART (`swap_reload=immediate`).
    swap_at_optstart: bool,
}

/// What a write into flash does while the bank's command queue is busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueueMode {
    /// One word may wait behind the one being programmed; a further write
    /// stalls the bus until there is room (the default, assumed).
    Stall,
    /// No queue: a write stalls while anything is programming.
    None,
    /// Unbounded: writes never stall.
    Deep,
    /// A word that finds the queue full is dropped and PGSERR set.
    Error,
}

/// Flash CRC unit (RM0433 §4.3.12; CMSIS `FLASH_CRCCR_*`): registers, bits and
/// the modeled parameters.
const CRCCR: u32 = 0x50;
const CRCSADD: u32 = 0x54;
const CRCEADD: u32 = 0x58;
const CRCDATA: u32 = 0x5C;
const CRC_EN: u32 = 1 << 15;
const CRC_BUSY: u32 = 1 << 3;
const CRCEND: u32 = 1 << 27;
const CRC_BY_SECT: u32 = 1 << 8;
const START_CRC: u32 = 1 << 16;
const CLEAN_CRC: u32 = 1 << 17;
const CRC_BURST_SHIFT: u32 = 20;
/// The measured initial value (see the module notes).
const CRC_INIT: u32 = 0xB6C0_AE5A;
const CRC_POLY: u32 = 0x04C1_1DB7;
/// Modeled CRC time per flash word: 8 cycles at 64 MHz (an assumption).
const CRC_WORD_TIME: Nanos = 125;

/// What the simulated flash CRC unit computes (`flash_crc*=` knobs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CrcKind {
    init: u32,
    order: InputOrder,
    reflect_out: bool,
    /// START_CRC continues from CRCDATA instead of starting from `init`.
    chain: bool,
    behaviour: CrcBehaviour,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CrcBehaviour {
    Computes,
    /// The registers read 0 and nothing is computed.
    Absent,
    /// CRCDATA holds a meaningless value after each computation.
    Garbage,
}

impl CrcKind {
    /// The published H7 measurement.
    const PUBLISHED: CrcKind = CrcKind {
        init: CRC_INIT,
        order: InputOrder::Word,
        reflect_out: false,
        chain: false,
        behaviour: CrcBehaviour::Computes,
    };

    /// The result over `cells` (whole words) from `from`.
    fn compute(&self, from: u32, cells: &[u8]) -> u32 {
        let mut crc = from;
        for w in cells.chunks_exact(4) {
            crc = shift_word(crc, CRC_POLY, self.order.fed(u32::from_le_bytes([w[0], w[1], w[2], w[3]])));
        }
        match self.behaviour {
            CrcBehaviour::Garbage => {
                // Deterministic nonsense (xorshift of the length and the last state).
                let mut x = crc ^ (cells.len() as u32).wrapping_mul(0x9E37_79B9) ^ 0x5EED_1234;
                x ^= x << 13;
                x ^= x >> 17;
                x ^ (x << 5)
            }
            _ if self.reflect_out => crc.reverse_bits(),
            _ => crc,
        }
    }
}

/// Bytes per OTPBL lock bit: 16 bits for 1 KiB (CMSIS stm32h7a3xx.h:8967-8969;
/// the 64-byte block is assumed, by arithmetic).
const OTP_BLOCK: u32 = 64;

/// "No area" for PRAR/SCAR: start above end (12-bit fields; H7B0 SVD PRAR/SCAR).
const NO_AREA: u32 = 0x0000_0FFF;
/// BOOT_ADD0 = 0x0800 (flash), BOOT_ADD1 = 0x1FF0 (system memory), in 16 KiB units.
const BOOT_DEFAULT: u32 = 0x1FF0_0800;

impl H7Model {
    /// A factory-fresh part with `size` bytes of flash: parts of 128 KiB have
    /// bank 1 only, bigger ones split it over two banks (OpenOCD
    /// stm32h7x.c:937-951; CMSIS stm32h7b0xx.h:2071-2073), except on
    /// the single-bank H72x die.
    pub fn new(die: &'static Die, size: u32) -> H7Model {
        let dual = die.bank2_regs && size > 128 * KIB;
        let bank_size = if dual { size / 2 } else { size };
        let mut banks = vec![Bank::new(BANK1_BASE, bank_size, die)];
        if dual {
            banks.push(Bank::new(BANK2_BASE, bank_size, die));
        }
        H7Model {
            die,
            banks,
            bank_size,
            acr: 0x13,
            optcr: OPTLOCK,
            optkey1_seen: false,
            optkey_locked: false,
            optsr_cur: die.optsr_default,
            optsr_prg: die.optsr_default,
            prar_prg: NO_AREA,
            scar_prg: NO_AREA,
            boot_prg: BOOT_DEFAULT,
            boot_cur: BOOT_DEFAULT,
            otpbl_cur: 0,
            otpbl_prg: 0,
            opt_busy_until: 0,
            swapped: false,
            opt_fault: None,
            otp: die.otp.map(|(base, size)| FlashArray::new(base, size, 0xFF, 0)),
            crc_kind: CrcKind::PUBLISHED,
            queue_mode: QueueMode::Stall,
            word_error: None,
            swap_at_optstart: false,
        }
    }

    fn rdp(&self) -> u8 {
        ((self.optsr_cur & RDP_MASK) >> RDP_SHIFT) as u8
    }

    fn sectors_per_bank(&self) -> u32 {
        self.bank_size / self.die.sector_size
    }

    /// Which physical bank answers at `addr`, and the offset in it.
    fn locate(&self, addr: u32) -> Option<(usize, u32)> {
        let logical = if (BANK1_BASE..BANK1_BASE + self.bank_size).contains(&addr) {
            0
        } else if self.banks.len() == 2 && (BANK2_BASE..BANK2_BASE + self.bank_size).contains(&addr) {
            1
        } else {
            return None;
        };
        let base = if logical == 0 { BANK1_BASE } else { BANK2_BASE };
        let physical = if self.swapped { 1 - logical } else { logical };
        Some((physical, addr - base))
    }

    /// Bus address of physical bank `b`, offset `off` (for FlashArray calls).
    fn cell(&self, b: usize, off: u32) -> u32 {
        self.banks[b].array.base + off
    }

    fn protected(&self, b: usize, sector: u32) -> bool {
        let bit = sector / self.die.wrp_group;
        bit < self.die.wps_bits && self.banks[b].wpsn_cur & (1 << bit) == 0
    }

    /// The bank a register offset belongs to, if that bank's registers exist.
    fn reg_bank(&self, addr: u32) -> Option<(usize, u32)> {
        let b = ((addr - REGS) / BANK_STRIDE) as usize;
        let off = (addr - REGS) % BANK_STRIDE;
        (b == 0 || self.die.bank2_regs).then_some((b, off))
    }

    fn read_reg(&mut self, addr: u32, now: Nanos) -> u32 {
        let Some((b, off)) = self.reg_bank(addr) else { return 0 };
        let bank = self.banks.get(b);
        match (b, off) {
            (_, CR) => bank.map_or(LOCK, |k| k.cr),
            (_, SR) => bank.map_or(0, |k| k.status()),
            (_, WPSN_CUR) => bank.map_or(self.die.wps_all(), |k| k.wpsn_cur),
            (_, WPSN_PRG) => bank.map_or(self.die.wps_all(), |k| k.wpsn_prg),
            (_, ECC_FA) => bank.map_or(0, |k| k.ecc_fa),
            (_, CRCCR | CRCSADD | CRCEADD | CRCDATA) if self.crc_kind.behaviour == CrcBehaviour::Absent => 0,
            (_, CRCCR) => bank.map_or(0, |k| k.crccr),
            (_, CRCSADD) => bank.map_or(0, |k| k.crcsadd),
            (_, CRCEADD) => bank.map_or(0, |k| k.crceadd),
            (_, CRCDATA) => bank.map_or(0, |k| k.crcdata),
            (_, PRAR_CUR) | (_, SCAR_CUR) => NO_AREA,
            (0, ACR) => self.acr,
            (0, OPTCR) => (self.optcr & !SWAP_BANK) | if self.swapped { SWAP_BANK } else { 0 },
            (0, OPTSR_CUR) => self.optsr_cur | if now < self.opt_busy_until { OPT_BUSY } else { 0 },
            (0, OPTSR_PRG) => self.optsr_prg,
            (0, PRAR_PRG) => self.prar_prg,
            (0, SCAR_PRG) => self.scar_prg,
            (0, BOOT_CUR) => self.boot_cur,
            (0, BOOT_PRG) => self.boot_prg,
            (0, OTPBL_CUR) if self.otp.is_some() => self.otpbl_cur,
            (0, OTPBL_PRG) if self.otp.is_some() => self.otpbl_prg,
            // KEYR, OPTKEYR and CCR are write-only; the rest is not modeled.
            _ => 0,
        }
    }

    fn write_reg(&mut self, addr: u32, value: u32, now: Nanos, stats: &mut FlashStats) {
        let Some((b, off)) = self.reg_bank(addr) else { return };
        match (b, off) {
            (_, KEYR) => self.write_keyr(b, value),
            (_, CR) => self.write_cr(b, value, now),
            (_, CRCCR) => self.write_crccr(b, value, now),
            (_, CRCSADD) if self.crc_enabled(b) => self.banks[b].crcsadd = value & 0x000F_FFFC,
            (_, CRCEADD) if self.crc_enabled(b) => self.banks[b].crceadd = value & 0x000F_FFFC,
            (_, CCR) => {
                let clearable = self.die.errors() | EOP | CRCEND;
                if let Some(bank) = self.banks.get_mut(b) {
                    bank.sr &= !(value & clearable);
                    // H7B0 SVD CCR1.CLR_DBECCERR1: ECC_FA resets with the ECC flags.
                    if bank.sr & (SNECCERR | DBECCERR) == 0 {
                        bank.ecc_fa = 0;
                    }
                }
            }
            (_, WPSN_PRG) if self.optcr & OPTLOCK == 0 => {
                if let Some(bank) = self.banks.get_mut(b) {
                    bank.wpsn_prg = value & self.die.wps_all();
                }
            }
            (0, ACR) => self.acr = value & 0x3F,
            (0, OPTKEYR) => self.write_optkeyr(value),
            (0, OPTCR) => self.write_optcr(value, now, stats),
            (0, OPTSR_PRG) if self.optcr & OPTLOCK == 0 => self.optsr_prg = value,
            (0, OPTCCR) => self.optsr_cur &= !(value & OPTCHANGEERR),
            (0, PRAR_PRG) if self.optcr & OPTLOCK == 0 => self.prar_prg = value,
            (0, SCAR_PRG) if self.optcr & OPTLOCK == 0 => self.scar_prg = value,
            (0, BOOT_PRG) if self.optcr & OPTLOCK == 0 => self.boot_prg = value,
            (0, OTPBL_PRG) if self.optcr & OPTLOCK == 0 && self.otp.is_some() => self.otpbl_prg = value & 0xFFFF,
            // SR, the *_CUR registers and the rest: read-only or not modeled.
            _ => {}
        }
    }

    fn crc_enabled(&self, b: usize) -> bool {
        self.banks.get(b).is_some_and(|k| k.cr & CRC_EN != 0)
    }

    /// CRCCR: CLEAN_CRC resets the result, START_CRC computes over the
    /// address range (sector mode, CRC_BY_SECT, is not modeled: it ends at
    /// once with the result unchanged). Ignored unless CR.CRC_EN is set.
    fn write_crccr(&mut self, b: usize, value: u32, now: Nanos) {
        let kind = self.crc_kind;
        if !self.crc_enabled(b) || kind.behaviour == CrcBehaviour::Absent {
            return;
        }
        let word = self.die.word;
        let bank = &mut self.banks[b];
        bank.crccr = value & !(START_CRC | CLEAN_CRC);
        if value & CLEAN_CRC != 0 {
            bank.crcdata = kind.init;
        }
        if value & START_CRC == 0 || bank.crc_busy.is_some() {
            return;
        }
        let burst = word * (4 << (2 * ((value >> CRC_BURST_SHIFT) & 3)));
        let size = bank.array.data.len() as u32;
        let start = bank.crcsadd - bank.crcsadd % burst;
        let end = (bank.crceadd - bank.crceadd % burst + burst).min(size);
        let from = if kind.chain { bank.crcdata } else { kind.init };
        let mut crc = bank.crcdata;
        let mut words = 0;
        if value & CRC_BY_SECT == 0 && start < end {
            crc = kind.compute(from, &bank.array.data[start as usize..end as usize]);
            words = ((end - start) / word) as Nanos;
        }
        bank.crc_busy = Some((now + words * CRC_WORD_TIME, crc));
    }

    /// KEY1 then KEY2 unlocks; anything else, or any key while unlocked,
    /// locks CR until reset (H7B0 SVD CR1.LOCK1).
    fn write_keyr(&mut self, b: usize, value: u32) {
        let Some(bank) = self.banks.get_mut(b) else { return };
        if bank.key_locked {
            return;
        }
        let good = match (bank.cr & LOCK != 0, bank.key1_seen, value) {
            (true, false, KEY1) => {
                bank.key1_seen = true;
                true
            }
            (true, true, KEY2) => {
                bank.key1_seen = false;
                bank.cr &= !LOCK;
                true
            }
            _ => false,
        };
        if !good {
            bank.key1_seen = false;
            bank.key_locked = true;
            bank.cr |= LOCK;
        }
    }

    fn write_optkeyr(&mut self, value: u32) {
        if self.optkey_locked {
            return;
        }
        match (self.optcr & OPTLOCK != 0, self.optkey1_seen, value) {
            (true, false, OPTKEY1) => self.optkey1_seen = true,
            (true, true, OPTKEY2) => {
                self.optkey1_seen = false;
                self.optcr &= !OPTLOCK;
            }
            _ => {
                self.optkey1_seen = false;
                self.optkey_locked = true;
                self.optcr |= OPTLOCK;
            }
        }
    }

    /// OPTCR: only OPTLOCK can be set while locked. MER (dual-bank dies)
    /// bank-erases both banks; OPTSTART applies the *_PRG option values.
    fn write_optcr(&mut self, value: u32, now: Nanos, stats: &mut FlashStats) {
        if self.optcr & OPTLOCK != 0 {
            return;
        }
        if value & OPTLOCK != 0 {
            self.optcr |= OPTLOCK;
            return;
        }
        if value & MER != 0 && self.die.bank2_regs {
            for b in 0..self.banks.len() {
                self.start_bank_erase(b, now);
            }
        }
        if value & OPTSTART != 0 {
            self.apply_options(now, stats);
        }
        // OPTCHANGEERRIE (bit 30) and PG_OTP (H7A/B) are stored; SWAP_BANK
        // reflects the option.
        let pg_otp = if self.otp.is_some() { PG_OTP } else { 0 };
        self.optcr = (self.optcr & !(1 << 30 | PG_OTP)) | (value & (1 << 30 | pg_otp));
    }

    /// OPTSTART: the programmed options become current. RDP 1 → 0 erases
    /// both banks (H7B0 SVD PRAR/SCAR on regression; RDP values in ST's HAL
    /// stm32h7xx_hal_flash_ex.h:295-297). SWAP_BANK_OPT shows in OPTSR_CUR at
    /// once but takes effect at the next reset (assumed, as ST states for the
    /// H5's SWAP_BANK).
    fn apply_options(&mut self, now: Nanos, stats: &mut FlashStats) {
        let old_rdp = self.rdp();
        let new_rdp = ((self.optsr_prg & RDP_MASK) >> RDP_SHIFT) as u8;
        if old_rdp == 0xCC || self.opt_fault == Some("error") {
            self.optsr_cur |= OPTCHANGEERR;
            return;
        }
        if self.opt_fault == Some("stuck") {
            self.opt_busy_until = now + OPTION_CHANGE;
            return;
        }
        let mut busy = OPTION_CHANGE;
        if old_rdp != 0xAA && new_rdp == 0xAA {
            for bank in &mut self.banks {
                let base = bank.array.base;
                bank.array.erase(base, bank.array.data.len() as u32);
                stats.mass_erases += 1;
            }
            // The regression erases the banks inside the option change.
            busy += self.die.bank_erase_time;
        }
        let keep = OPT_BUSY | OPTCHANGEERR;
        self.optsr_cur = (self.optsr_cur & keep) | (self.optsr_prg & !keep);
        for bank in &mut self.banks {
            bank.wpsn_cur = bank.wpsn_prg;
        }
        self.boot_cur = self.boot_prg;
        // OTP block locks can only be added (assumed): a lock bit never clears.
        self.otpbl_cur |= self.otpbl_prg;
        self.otpbl_prg = self.otpbl_cur;
        self.opt_busy_until = now + busy;
        if self.swap_at_optstart {
            self.swapped = self.banks.len() == 2 && self.optsr_cur & SWAP_BANK != 0;
        }
    }

    /// CR write: ignored while locked; setting LOCK keeps the other bits.
    fn write_cr(&mut self, b: usize, value: u32, now: Nanos) {
        let die = self.die;
        let Some(bank) = self.banks.get_mut(b) else { return };
        if bank.cr & LOCK != 0 {
            return;
        }
        if value & LOCK != 0 {
            bank.cr |= LOCK;
            return;
        }
        let old = bank.cr;
        bank.cr = value & die.cr_mask();
        // H7B0 SVD CR1.PG1: clearing PG drops a partly filled buffer.
        if old & PG != 0 && value & PG == 0 {
            bank.buffer = None;
        }
        if value & die.fw != 0 && value & PG != 0 {
            self.force_write(b, now);
        }
        if value & die.start != 0 {
            self.start_erase(b, value, now);
        }
    }

    /// FW: program the partly filled buffer, missing bytes left erased.
    fn force_write(&mut self, b: usize, now: Nanos) {
        let Some(buf) = self.banks[b].buffer.take() else { return };
        self.commit(b, buf.offset, buf.data, now);
    }

    /// START: BER erases the bank, else SER erases the sector named by the
    /// die's sector field, else nothing (H7B0 SVD CR1.BER1: BER has priority).
    fn start_erase(&mut self, b: usize, cr: u32, now: Nanos) {
        if cr & BER != 0 {
            self.start_bank_erase(b, now);
        } else if cr & SER != 0 {
            let sector = self.die.sector_field(cr);
            if self.protected(b, sector) {
                self.banks[b].sr |= WRPERR;
                return;
            }
            let t = self.die.sector_erase_time;
            self.banks[b].enqueue(OpKind::SectorErase(sector), t, now);
        }
    }

    fn start_bank_erase(&mut self, b: usize, now: Nanos) {
        if (0..self.sectors_per_bank()).any(|s| self.protected(b, s)) {
            self.banks[b].sr |= WRPERR;
            return;
        }
        let t = self.die.bank_erase_time;
        self.banks[b].enqueue(OpKind::BankErase, t, now);
    }

    /// A full (or forced) flash word enters the queue.
    fn commit(&mut self, b: usize, offset: u32, data: Vec<u8>, now: Nanos) {
        if self.protected(b, offset / self.die.sector_size) {
            self.banks[b].sr |= WRPERR;
            return;
        }
        if self.word_error.is_some_and(|(bank, at)| bank == b && at / self.die.word == offset / self.die.word) {
            self.banks[b].sr |= STRBERR;
            return;
        }
        let queued = self.banks[b].queue.iter().filter(|op| op.end > now).count();
        if self.queue_mode == QueueMode::Error && queued >= 2 {
            self.banks[b].sr |= PGSERR;
            return;
        }
        let t = self.die.word_time;
        self.banks[b].enqueue(OpKind::Program { offset, data }, t, now);
    }

    /// A bus write into a flash array: fill the bank's write buffer.
    fn write_flash(&mut self, b: usize, offset: u32, width: AccessWidth, value: u32, now: Nanos) {
        let word = self.die.word;
        let bank = &mut self.banks[b];
        // RM0399 §4.3.9 / RM0433 §4.7.3: no PG, or INCERR pending ⇒
        // PGSERR, the write is dropped without a bus error.
        if bank.cr & PG == 0 || bank.sr & INCERR != 0 {
            bank.sr |= PGSERR;
            return;
        }
        let word_offset = offset - offset % word;
        if let Some(buf) = &bank.buffer {
            if buf.offset != word_offset {
                // INCERR (assumed, see the module notes): the partial word is lost.
                bank.buffer = None;
                bank.sr |= INCERR;
                return;
            }
        }
        let buf = bank.buffer.get_or_insert_with(|| WriteBuffer {
            offset: word_offset,
            data: vec![0xFF; word as usize],
            filled: vec![false; word as usize],
        });
        let at = (offset - word_offset) as usize;
        let n = width.bytes() as usize;
        if buf.filled[at..at + n].iter().any(|&f| f) {
            // H7B0 SVD SR1.STRBERR1: the same byte written twice.
            bank.buffer = None;
            bank.sr |= STRBERR;
            return;
        }
        buf.data[at..at + n].copy_from_slice(&value.to_le_bytes()[..n]);
        buf.filled[at..at + n].fill(true);
        if buf.filled.iter().all(|&f| f) {
            let buf = bank.buffer.take().expect("just filled");
            self.commit(b, buf.offset, buf.data, now);
        }
    }

    /// Finish an operation whose time has come.
    fn complete(&mut self, b: usize, kind: OpKind, stats: &mut FlashStats) {
        let sector_size = self.die.sector_size;
        let sectors = self.sectors_per_bank();
        match kind {
            OpKind::Program { offset, data } => {
                let addr = self.cell(b, offset);
                self.banks[b].array.program(addr, &data);
                stats.words += 1;
            }
            // A sector number past this part's sectors (e.g. SSN 64-127 on a
            // 1 MiB H7A3) names cells that do not exist: nothing is erased (assumed).
            OpKind::SectorErase(s) if s >= sectors => {}
            OpKind::SectorErase(s) => {
                let addr = self.cell(b, s * sector_size);
                self.banks[b].array.erase(addr, sector_size);
                stats.erases += 1;
            }
            OpKind::BankErase => {
                let addr = self.cell(b, 0);
                self.banks[b].array.erase(addr, self.bank_size);
                stats.mass_erases += 1;
            }
            OpKind::ProgramOtp { addr, data } => {
                if let Some(otp) = &mut self.otp {
                    otp.program(addr, &data);
                    stats.words += 1;
                }
            }
        }
        self.banks[b].sr |= EOP;
    }

    fn read_flash(&mut self, b: usize, offset: u32, width: AccessWidth) -> u32 {
        let addr = self.cell(b, offset);
        let bank = &mut self.banks[b];
        if bank.array.ecc_error(addr) {
            // H7B0 SVD ECC_FA1R: the address is recorded only while no ECC
            // flag is set.
            if bank.sr & (SNECCERR | DBECCERR) == 0 {
                bank.ecc_fa = offset / self.die.word;
            }
            bank.sr |= DBECCERR;
        }
        bank.array.read(addr, width)
    }

    /// Apply one `wrp=` item: a sector number, a range of them (`4-7`,
    /// counted in address order across both banks), or an address range
    /// (`0x08008000-0x08009fff`, end inclusive).
    fn protect(&mut self, item: &str) -> ConfigResult {
        let parse = |s: &str| -> Result<u32, String> {
            let s = s.trim();
            let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => s.parse(),
            };
            r.map_err(|_| format!("'{s}' is not a number"))
        };
        let (first, last) = match item.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => (parse(item)?, parse(item)?),
        };
        let per_bank = self.sectors_per_bank();
        let total = per_bank * self.banks.len() as u32;
        let sectors: Vec<(usize, u32)> = if first >= BANK1_BASE {
            let mut out = Vec::new();
            let mut a = first;
            while a <= last {
                let (b, off) = self.locate(a).ok_or_else(|| format!("0x{a:08X} is not in flash"))?;
                out.push((b, off / self.die.sector_size));
                a = match a.checked_add(self.die.sector_size - off % self.die.sector_size) {
                    Some(next) => next,
                    None => break,
                };
            }
            out
        } else {
            if last >= total || first > last {
                return Err(format!("sectors {first}-{last}: this part has sectors 0-{}", total - 1));
            }
            (first..=last).map(|s| ((s / per_bank) as usize, s % per_bank)).collect()
        };
        for (b, s) in sectors {
            let bit = s / self.die.wrp_group;
            let bank = &mut self.banks[b];
            bank.wpsn_cur &= !(1 << bit);
            bank.wpsn_prg = bank.wpsn_cur;
        }
        Ok(())
    }

    /// A bus write into the OTP area: with OPTCR.PG_OTP set, one 16-bit write
    /// programs one OTP word through bank 1's queue (as ST's HAL does it,
    /// stm32h7xx_hal_flash.c:201-241); without PG_OTP, or with another width
    /// (assumed), it is a sequence
    /// error. A word in a locked block (OTPBL_CUR) raises WRPERR and stays.
    fn write_otp(&mut self, addr: u32, width: AccessWidth, value: u32, now: Nanos) {
        let base = self.otp.as_ref().map_or(0, |o| o.base);
        if self.optcr & PG_OTP == 0 || width != AccessWidth::Half || self.banks[0].sr & INCERR != 0 {
            self.banks[0].sr |= PGSERR;
            return;
        }
        let block = (addr - base) / OTP_BLOCK;
        if self.otpbl_cur >> block & 1 == 1 {
            self.banks[0].sr |= WRPERR;
            return;
        }
        let data = (value as u16).to_le_bytes();
        let t = self.die.word_time;
        self.banks[0].enqueue(OpKind::ProgramOtp { addr, data }, t, now);
    }

    fn in_array(&self, addr: u32) -> bool {
        self.locate(addr).is_some()
    }
}

impl FlashModel for H7Model {
    fn name(&self) -> &'static str {
        self.die.name
    }

    fn regions(&self) -> Vec<Range<u32>> {
        let mut r = vec![REGS..REGS_END, BANK1_BASE..BANK1_BASE + self.bank_size];
        if self.banks.len() == 2 {
            r.push(BANK2_BASE..BANK2_BASE + self.bank_size);
        }
        if let Some(otp) = &self.otp {
            r.push(otp.range());
        }
        r
    }

    fn is_register(&self, addr: u32) -> bool {
        (REGS..REGS_END).contains(&addr)
    }

    fn advance(&mut self, now: Nanos, stats: &mut FlashStats) {
        for bank in &mut self.banks {
            if let Some((end, crc)) = bank.crc_busy.filter(|&(end, _)| end <= now) {
                let _ = end;
                bank.crcdata = crc;
                bank.sr |= CRCEND;
                bank.crc_busy = None;
            }
        }
        for b in 0..self.banks.len() {
            while self.banks[b].queue.front().is_some_and(|op| op.end <= now) {
                let op = self.banks[b].queue.pop_front().expect("checked");
                self.complete(b, op.kind, stats);
            }
        }
    }

    /// Reads of a bank wait until it is idle; writes wait while a word is
    /// already queued behind the one being programmed (assumed).
    fn next_event(&self, now: Nanos) -> Option<Nanos> {
        let ops = self.banks.iter().filter_map(|b| b.queue.front().map(|op| op.end));
        let crc = self.banks.iter().filter_map(|b| b.crc_busy.map(|c| c.0));
        ops.chain(crc).chain([self.opt_busy_until]).filter(|&t| t > now).min()
    }

    fn stall_until(&self, addr: u32, write: bool, _by: Initiator, now: Nanos) -> Nanos {
        let Some((b, _)) = self.locate(addr) else { return now };
        let queue = &self.banks[b].queue;
        let until = match self.queue_mode {
            _ if !write => queue.back().map(|op| op.end),
            QueueMode::Stall if queue.len() >= 2 => queue.get(queue.len() - 2).map(|op| op.end),
            QueueMode::None => queue.back().map(|op| op.end),
            _ => None,
        };
        until.map_or(now, |u| u.max(now))
    }

    fn read(&mut self, addr: u32, width: AccessWidth, acc: &mut Access) -> Result<u32, BusFault> {
        if self.is_register(addr) {
            let word = self.read_reg(addr & !3, acc.now);
            let mask = if width == AccessWidth::Word { u32::MAX } else { (1 << (8 * width.bytes())) - 1 };
            return Ok((word >> (8 * (addr & 3))) & mask);
        }
        if let Some((b, off)) = self.locate(addr) {
            return Ok(self.read_flash(b, off, width));
        }
        match &self.otp {
            Some(otp) if otp.contains(addr) => Ok(otp.read(addr, width)),
            _ => Err(BusFault),
        }
    }

    fn write(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) -> Result<(), BusFault> {
        if self.is_register(addr) {
            // Registers take 32-bit writes; narrower ones are ignored.
            if width == AccessWidth::Word {
                self.write_reg(addr, value, acc.now, acc.stats);
            }
            return Ok(());
        }
        if let Some((b, off)) = self.locate(addr) {
            if acc.by == Initiator::Debugger && self.rdp() != 0xAA {
                return Err(BusFault);
            }
            self.write_flash(b, off, width, value, acc.now);
            return Ok(());
        }
        if self.otp.as_ref().is_some_and(|o| o.contains(addr)) {
            self.write_otp(addr, width, value, acc.now);
            return Ok(());
        }
        Err(BusFault)
    }

    /// Registers to reset values, CR locked, options reloaded, queued
    /// operations abandoned.
    fn reset(&mut self) {
        for bank in &mut self.banks {
            bank.cr = LOCK;
            bank.sr = 0;
            bank.key1_seen = false;
            bank.key_locked = false;
            bank.buffer = None;
            bank.queue.clear();
            bank.wpsn_prg = bank.wpsn_cur;
            bank.crccr = 0;
            bank.crc_busy = None;
        }
        self.optcr = OPTLOCK;
        self.optkey1_seen = false;
        self.optkey_locked = false;
        self.optsr_prg = self.optsr_cur;
        self.boot_prg = self.boot_cur;
        self.otpbl_prg = self.otpbl_cur;
        self.opt_busy_until = 0;
        self.swapped = self.banks.len() == 2 && self.optsr_cur & SWAP_BANK != 0;
    }

    /// RDP level 1 or 2: the debugger cannot read the flash arrays (RM0433
    /// "Readout protection").
    fn debug_readable(&self, addr: u32) -> bool {
        self.rdp() == 0xAA || !self.in_array(addr)
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
                    _ => return Err(format!("{}: rdp={value}: expected 0, 1 or 2", self.name())),
                };
                self.optsr_cur = (self.optsr_cur & !RDP_MASK) | byte << RDP_SHIFT;
                self.optsr_prg = self.optsr_cur;
                Ok(())
            }
            "wrp" => value
                .split(['+', ';', ' '])
                .filter(|i| !i.trim().is_empty())
                .try_for_each(|i| self.protect(i))
                .map_err(|e| format!("{}: wrp={value}: {e}", self.name())),
            "swap_bank" => {
                let on = match value {
                    "0" => false,
                    "1" => true,
                    _ => return Err(format!("{}: swap_bank={value}: expected 0 or 1", self.name())),
                };
                if on && self.banks.len() < 2 {
                    return Err(format!("{}: swap_bank=1: this part has one bank", self.name()));
                }
                self.optsr_cur = (self.optsr_cur & !SWAP_BANK) | if on { SWAP_BANK } else { 0 };
                self.optsr_prg = self.optsr_cur;
                self.swapped = on;
                Ok(())
            }
            "opt_fault" => {
                self.opt_fault = match value {
                    "stuck" => Some("stuck"),
                    "error" => Some("error"),
                    _ => return Err(format!("{}: opt_fault={value}: expected stuck or error", self.name())),
                };
                Ok(())
            }
            "flash_crc" => {
                let k = &mut self.crc_kind;
                match value {
                    "published" => *k = CrcKind::PUBLISHED,
                    "mpeg2" => *k = CrcKind { init: 0xFFFF_FFFF, ..CrcKind::PUBLISHED },
                    "init0" => k.init = 0,
                    "lsb-first" => k.order = InputOrder::Bytes,
                    "chain" => k.chain = true,
                    "absent" => k.behaviour = CrcBehaviour::Absent,
                    "garbage" => k.behaviour = CrcBehaviour::Garbage,
                    _ => {
                        return Err(format!(
                            "{}: flash_crc={value}: expected published, chain, absent, garbage, mpeg2, init0 or \
                             lsb-first",
                            self.name()
                        ))
                    }
                }
                Ok(())
            }
            "swap_reload" => {
                self.swap_at_optstart = match value {
                    "reset" => false,
                    "immediate" => true,
                    _ => return Err(format!("{}: swap_reload={value}: expected reset or immediate", self.name())),
                };
                Ok(())
            }
            "write_queue" => {
                self.queue_mode = match value {
                    "stall" => QueueMode::Stall,
                    "none" => QueueMode::None,
                    "deep" => QueueMode::Deep,
                    "error" => QueueMode::Error,
                    _ => {
                        return Err(format!(
                            "{}: write_queue={value}: expected stall, none, deep or error",
                            self.name()
                        ))
                    }
                };
                Ok(())
            }
            "word_error" => {
                let parsed = value.split_once(':').and_then(|(bank, off)| {
                    let bank = bank.parse::<usize>().ok().filter(|b| (1..=2).contains(b))?;
                    Some((bank - 1, parse_hex(off)?))
                });
                self.word_error = Some(parsed.ok_or_else(|| {
                    format!("{}: word_error={value}: expected <bank 1 or 2>:<offset in the bank>", self.name())
                })?);
                Ok(())
            }
            "flash_crc_init" => {
                self.crc_kind.init = parse_hex(value)
                    .ok_or_else(|| format!("{}: flash_crc_init={value}: expected a hex number", self.name()))?;
                Ok(())
            }
            "flash_crc_order" => {
                self.crc_kind.order = InputOrder::parse(value).ok_or_else(|| {
                    format!("{}: flash_crc_order={value}: expected one of {}", self.name(), InputOrder::NAMES)
                })?;
                Ok(())
            }
            "flash_crc_out" => {
                self.crc_kind.reflect_out = match value {
                    "plain" => false,
                    "reflected" => true,
                    _ => return Err(format!("{}: flash_crc_out={value}: expected plain or reflected", self.name())),
                };
                Ok(())
            }
            _ => Err(format!(
                "{}: unknown setting {key}={value}; accepted: rdp=0|1|2, wrp=<sectors or 0xSTART-0xEND, joined by +>, \
                 swap_bank=0|1, flash_crc=published|chain|absent|garbage|mpeg2|init0|lsb-first, \
                 flash_crc_init=<hex>, flash_crc_order=<order>, flash_crc_out=plain|reflected, \
                 write_queue=stall|none|deep|error, word_error=<bank>:<offset>, swap_reload=reset|immediate, opt_fault=stuck|error \
                 (a fault: option changes do not take effect or fail)",
                self.name()
            )),
        }
    }

    fn save(&self) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> =
            self.banks.iter().enumerate().map(|(i, b)| (format!("bank{}", i + 1), b.array.data.clone())).collect();
        let mut opts = Vec::new();
        let words = [
            self.optsr_cur & !OPTCHANGEERR,
            self.banks[0].wpsn_cur,
            self.banks.get(1).map_or(0, |b| b.wpsn_cur),
            self.boot_cur,
            self.otpbl_cur,
        ];
        for v in words {
            opts.extend_from_slice(&v.to_le_bytes());
        }
        out.push(("options".to_string(), opts));
        if let Some(otp) = &self.otp {
            out.push(("otp".to_string(), otp.data.clone()));
        }
        out
    }

    fn load(&mut self, blobs: &[(String, Vec<u8>)]) -> Result<(), String> {
        let find = |name: &str| blobs.iter().find(|(n, _)| n == name).map(|(_, d)| d);
        for i in 0..self.banks.len() {
            let name = format!("bank{}", i + 1);
            let data = saved_blob(blobs, self.name(), &name, self.bank_size as usize)?;
            let base = self.banks[i].array.base;
            self.banks[i].array.poke(base, data);
        }
        let opts = saved_blob(blobs, self.name(), "options", 20)?;
        let word = |i: usize| u32::from_le_bytes(opts[4 * i..4 * i + 4].try_into().expect("4 bytes"));
        self.optsr_cur = word(0);
        for (i, bank) in self.banks.iter_mut().enumerate() {
            bank.wpsn_cur = word(1 + i);
        }
        self.boot_cur = word(3);
        self.otpbl_cur = word(4);
        if let (Some(otp), Some(data)) = (self.otp.as_mut(), find("otp")) {
            if data.len() != otp.data.len() {
                return Err(format!(
                    "{}: saved OTP is {} bytes, expected {}",
                    self.die.name,
                    data.len(),
                    otp.data.len()
                ));
            }
            otp.data.copy_from_slice(data);
        }
        self.reset();
        Ok(())
    }

    fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        if let Some(otp) = &self.otp {
            if otp.contains(addr) {
                return otp.slice(addr, len).map(<[u8]>::to_vec);
            }
        }
        let (b, off) = self.locate(addr)?;
        let bank = &self.banks[b];
        bank.array.slice(bank.array.base + off, len).map(<[u8]>::to_vec)
    }

    fn poke(&mut self, addr: u32, data: &[u8]) -> bool {
        let Some((b, off)) = self.locate(addr) else { return false };
        let base = self.banks[b].array.base;
        self.banks[b].array.poke(base + off, data)
    }

    fn register_facts(&self, f: &mut Facts) {
        let d = self.die;
        f.number("FLASH_R_BASE", REGS as u64);
        let mut regs = vec![
            ("ACR", ACR),
            ("KEYR1", KEYR),
            ("OPTKEYR", OPTKEYR),
            ("CR1", CR),
            ("SR1", SR),
            ("CCR1", CCR),
            ("OPTCR", OPTCR),
            ("OPTSR_CUR", OPTSR_CUR),
            ("OPTSR_PRG", OPTSR_PRG),
            ("OPTCCR", OPTCCR),
            ("PRAR_CUR1", PRAR_CUR),
            ("PRAR_PRG1", PRAR_PRG),
            ("SCAR_CUR1", SCAR_CUR),
            ("SCAR_PRG1", SCAR_PRG),
            ("WPSN_CUR1", WPSN_CUR),
            ("WPSN_PRG1", WPSN_PRG),
            ("BOOT_CUR", BOOT_CUR),
            ("BOOT_PRG", BOOT_PRG),
            ("ECC_FA1", ECC_FA),
        ];
        if d.otp.is_some() {
            regs.extend([("OTPBL_CUR", OTPBL_CUR), ("OTPBL_PRG", OTPBL_PRG)]);
        }
        if d.bank2_regs {
            for (name, offset) in [("KEYR", KEYR), ("CR", CR), ("SR", SR), ("CCR", CCR), ("WPSN_CUR", WPSN_CUR)] {
                f.number(format!("FLASH_TypeDef.{name}2"), (BANK_STRIDE + offset) as u64);
            }
            f.mask("FLASH_OPTCR_MER", MER).mask("FLASH_OPTCR_SWAP_BANK", SWAP_BANK);
            f.number("FLASH_BANK2_BASE", BANK2_BASE as u64);
        }
        for (name, offset) in regs {
            f.number(format!("FLASH_TypeDef.{name}"), offset as u64);
        }
        f.number("FLASH_BANK1_BASE", BANK1_BASE as u64);
        f.number("FLASH_KEY1", KEY1 as u64).number("FLASH_KEY2", KEY2 as u64);
        f.number("FLASH_OPT_KEY1", OPTKEY1 as u64).number("FLASH_OPT_KEY2", OPTKEY2 as u64);
        f.mask("FLASH_CR_LOCK", LOCK).mask("FLASH_CR_PG", PG).mask("FLASH_CR_SER", SER).mask("FLASH_CR_BER", BER);
        f.mask("FLASH_CR_FW", d.fw).mask("FLASH_CR_START", d.start);
        f.field("FLASH_CR_SNB", d.sector_shift, d.sector_bits);
        if d.psize {
            f.mask("FLASH_CR_PSIZE", 0b11 << 4);
        }
        for (name, bit) in [
            ("BSY", BSY),
            ("WBNE", WBNE),
            ("QW", QW),
            ("EOP", EOP),
            ("WRPERR", WRPERR),
            ("PGSERR", PGSERR),
            ("STRBERR", STRBERR),
            ("INCERR", INCERR),
            ("SNECCERR", SNECCERR),
            ("DBECCERR", DBECCERR),
        ] {
            f.mask(format!("FLASH_SR_{name}"), bit);
        }
        if d.has_operr {
            f.mask("FLASH_SR_OPERR", OPERR);
        }
        f.mask("FLASH_OPTCR_OPTLOCK", OPTLOCK).mask("FLASH_OPTCR_OPTSTART", OPTSTART);
        if d.otp.is_some() {
            f.mask("FLASH_OPTCR_PG_OTP", PG_OTP);
        }
        f.mask("FLASH_OPTSR_OPT_BUSY", OPT_BUSY).mask("FLASH_OPTSR_RDP", RDP_MASK);
        f.mask("FLASH_OPTSR_OPTCHANGEERR", OPTCHANGEERR);
        f.mask("FLASH_WPSN_WRPSN", d.wps_all());
        f.number("FLASH_NB_32BITWORD_IN_FLASHWORD", (d.word / 4) as u64);
        f.number("FLASH_SECTOR_SIZE", d.sector_size as u64);
        if let Some((base, _)) = d.otp {
            f.number("FLASH_OTP_BASE", base as u64);
        }
    }
}

/// The register facts of a part of this family, by the names of ST's
/// headers (`crate::facts`).
pub fn register_facts(part: &Part, f: &mut Facts) {
    let dev_id = (part.idcode & 0xFFF) as u16;
    f.identity(part, "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE", "FLASHSIZE_BASE");
    if let Some(p) = crc_peripheral::placement(dev_id) {
        let clock = if dev_id == 0x480 {
            ("RCC_BASE+RCC_TypeDef.AHB1ENR", "RCC_AHB1ENR_CRCEN")
        } else {
            ("RCC_BASE+RCC_TypeDef.AHB4ENR", "RCC_AHB4ENR_CRCEN")
        };
        f.crc(p, "CRC_BASE", clock);
    }
    // DTCM, ITCM, AXI SRAM, the AHB SRAMs and SRAM4 (the part's RAM list).
    let names: &[&str] = if dev_id == 0x480 {
        &["CD_DTCMRAM_BASE", "CD_ITCMRAM_BASE", "CD_AXISRAM1_BASE", "CD_AHBSRAM1_BASE"]
    } else {
        &["D1_DTCMRAM_BASE", "D1_ITCMRAM_BASE", "D1_AXISRAM_BASE", "D2_AHBSRAM_BASE", "D3_SRAM_BASE"]
    };
    for (&(base, _), name) in part.sram.iter().zip(names) {
        f.number(*name, base as u64);
    }
    (part.flash)().register_facts(f);
}

// ---------------------------------------------------------------------------
// Simulated parts.

/// SW-DP of every H7 (stlink `inc/stm32.h:25-45`).
const H7_DPIDR: u32 = 0x6BA0_2477;
/// Cortex-M7 r1p1 (H74x rev V) and r1p2 (later dies) (CPUID layout: ARMv7-M
/// Architecture Reference Manual).
const CM7_R1P1: u32 = 0x411F_C271;
const CM7_R1P2: u32 = 0x411F_C272;
/// DBGMCU_IDCODE address of every H7 (CMSIS stm32h743xx.h `DBGMCU_BASE`;
/// OpenOCD stm32h7x.c:142).
const H7_DBGMCU: u32 = 0x5C00_1000;
/// DBGMCU words after IDCODE up to APB4FZ2 at +0x58 (RM0399 DBGMCU map),
/// so that CR and the APBxFZ freeze registers are read/write.
const H7_DBGMCU_WORDS: u32 = 0x58 / 4;

/// RAM maps (RM0433 / RM0455 / RM0468 memory maps; see the chip table).
const H74X_RAM: &[(u32, u32)] = &[
    (0x2000_0000, 128 * KIB),
    (0x0000_0000, 64 * KIB),
    (0x2400_0000, 512 * KIB),
    (0x3000_0000, 288 * KIB),
    (0x3800_0000, 64 * KIB),
];
const H7AB_RAM: &[(u32, u32)] =
    &[(0x2000_0000, 128 * KIB), (0x0000_0000, 64 * KIB), (0x2400_0000, 1024 * KIB), (0x3000_0000, 128 * KIB)];
const H72X_RAM: &[(u32, u32)] = &[
    (0x2000_0000, 128 * KIB),
    (0x0000_0000, 64 * KIB),
    (0x2400_0000, 320 * KIB),
    (0x3000_0000, 32 * KIB),
    (0x3800_0000, 16 * KIB),
];
/// System memory (AN2606 Table 226).
const H74X_SYSMEM: (u32, u32) = (0x1FF0_0000, 0x1_E800);
const H7AB_SYSMEM: (u32, u32) = (0x1FF0_0000, 0x1_4000);

/// An H7 part: `$die` flash of `$kib` KiB.
macro_rules! h7_part {
    ($name:literal, [$($alias:literal),*], $cpuid:expr, $idcode:expr, $size_reg:expr, $kib:expr,
     $ram:expr, $sysmem:expr, $die:expr) => {
        Part {
            name: $name,
            aliases: &[$($alias),*],
            dpidr: H7_DPIDR,
            cpuid: $cpuid,
            idcode: $idcode,
            dbgmcu_addr: H7_DBGMCU,
            dbgmcu_ctrl_words: H7_DBGMCU_WORDS,
            flash_size_addr: $size_reg,
            flash_size_kib: $kib,
            sram: $ram,
            system_memory: $sysmem,
            // BOOT_ADD0 = 0x08000000 (factory default).
            boot_address: 0x0800_0000,
            voltage_mv: 3300,
            flash: || -> Box<dyn FlashModel> { Box::new(H7Model::new(&$die, $kib * KIB)) },
        }
    };
}

/// Flash-size registers (CMSIS `FLASHSIZE_BASE`: stm32h743xx.h:2085,
/// stm32h7a3xx.h:1979).
const SIZE_REG_H74X: u32 = 0x1FF1_E880;
const SIZE_REG_H7AB: u32 = 0x08FF_F80C;

/// Simulated H7 parts. IDCODE = REV_ID << 16 | DEV_ID (RM0433 DBGMCU_IDCODE): H74x rev V
/// (0x2003), H72x rev Z (0x1001), H7A/B rev Z (0x1003).
pub const PARTS: &[Part] = &[
    h7_part!(
        "stm32h7a3zi",
        ["h7a3", "stm32h7a3", "h7a3xi"],
        CM7_R1P2,
        0x1003_6480,
        SIZE_REG_H7AB,
        2048,
        H7AB_RAM,
        H7AB_SYSMEM,
        H7AB
    ),
    h7_part!("stm32h7a3zg", ["h7a3xg"], CM7_R1P2, 0x1003_6480, SIZE_REG_H7AB, 1024, H7AB_RAM, H7AB_SYSMEM, H7AB),
    h7_part!(
        "stm32h7b0vb",
        ["h7b0", "stm32h7b0"],
        CM7_R1P2,
        0x1003_6480,
        SIZE_REG_H7AB,
        128,
        H7AB_RAM,
        H7AB_SYSMEM,
        H7AB
    ),
    h7_part!(
        "stm32h743zi",
        ["h743", "stm32h743", "h743xi"],
        CM7_R1P1,
        0x2003_6450,
        SIZE_REG_H74X,
        2048,
        H74X_RAM,
        H74X_SYSMEM,
        H74X
    ),
    h7_part!("stm32h743zg", ["h743xg"], CM7_R1P1, 0x2003_6450, SIZE_REG_H74X, 1024, H74X_RAM, H74X_SYSMEM, H74X),
    h7_part!(
        "stm32h750vb",
        ["h750", "stm32h750"],
        CM7_R1P1,
        0x2003_6450,
        SIZE_REG_H74X,
        128,
        H74X_RAM,
        H74X_SYSMEM,
        H74X
    ),
    h7_part!(
        "stm32h723zg",
        ["h723", "stm32h723"],
        CM7_R1P2,
        0x1001_6483,
        SIZE_REG_H74X,
        1024,
        H72X_RAM,
        H74X_SYSMEM,
        H72X
    ),
    // Dual core: the simulator models the CM7 on AP0 and no CM4 (AP3),
    // which stflash never selects; the CM4 does not run.
    h7_part!(
        "stm32h745zi",
        ["h745", "stm32h745"],
        CM7_R1P1,
        0x2003_6450,
        SIZE_REG_H74X,
        2048,
        H74X_RAM,
        H74X_SYSMEM,
        H74X_DUAL_CORE
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Requests;

    // Register addresses written out from CMSIS `FLASH_TypeDef` (base 0x52002000).
    const KEYR1: u32 = 0x5200_2004;
    const OPTKEYR_A: u32 = 0x5200_2008;
    const CR1: u32 = 0x5200_200C;
    const SR1: u32 = 0x5200_2010;
    const CCR1: u32 = 0x5200_2014;
    const OPTCR_A: u32 = 0x5200_2018;
    const OPTSR_CUR_A: u32 = 0x5200_201C;
    const CR2: u32 = 0x5200_210C;
    const SR2: u32 = 0x5200_2110;
    const WPSN_CUR1: u32 = 0x5200_2038;

    struct Rig {
        f: H7Model,
        now: Nanos,
        stats: FlashStats,
    }

    impl Rig {
        fn new(die: &'static Die, kib: u32) -> Rig {
            Rig { f: H7Model::new(die, kib * KIB), now: 0, stats: FlashStats::default() }
        }
        fn h7a3() -> Rig {
            Rig::new(&H7AB, 2048)
        }
        fn access<R>(&mut self, by: Initiator, f: impl FnOnce(&mut H7Model, &mut Access) -> R) -> R {
            self.f.advance(self.now, &mut self.stats);
            let mut req = Requests::default();
            let mut acc = Access { now: self.now, by, stats: &mut self.stats, requests: &mut req };
            f(&mut self.f, &mut acc)
        }
        fn rd(&mut self, addr: u32) -> u32 {
            self.access(Initiator::Debugger, |f, a| f.read(addr, AccessWidth::Word, a)).expect("read")
        }
        fn wr(&mut self, addr: u32, v: u32) {
            self.access(Initiator::Debugger, |f, a| f.write(addr, AccessWidth::Word, v, a)).expect("write")
        }
        fn wr_width(&mut self, addr: u32, w: AccessWidth, v: u32) {
            self.access(Initiator::Debugger, |f, a| f.write(addr, w, v, a)).expect("write")
        }
        fn unlock(&mut self, bank: u32) {
            let keyr = KEYR1 + bank * 0x100;
            self.wr(keyr, KEY1);
            self.wr(keyr, KEY2);
            assert_eq!(self.rd(CR1 + bank * 0x100) & LOCK, 0, "unlocked");
        }
        /// Write `bytes` as 32-bit writes (PG must be set).
        fn put(&mut self, addr: u32, bytes: &[u8]) {
            for (i, c) in bytes.chunks(4).enumerate() {
                self.wr(addr + 4 * i as u32, u32::from_le_bytes(c.try_into().unwrap()));
            }
        }
        /// Let every queued operation finish.
        fn settle(&mut self) {
            self.now += 20_000 * MS;
            self.f.advance(self.now, &mut self.stats);
        }
        fn peek(&self, addr: u32, len: usize) -> Vec<u8> {
            self.f.peek(addr, len).expect("flash")
        }
        fn fill(&mut self, addr: u32, len: usize, byte: u8) {
            assert!(self.f.poke(addr, &vec![byte; len]));
        }
    }

    // H7A/B CR fields from RM0455 (CMSIS stm32h7a3xx.h:8659-8720): SER 2,
    // START 5, SSN 6-12, PG 1, FW 4.
    const AB_START: u32 = 1 << 5;
    const AB_FW: u32 = 1 << 4;

    #[test]
    fn wrong_key_or_a_second_sequence_locks_until_reset() {
        let mut r = Rig::h7a3();
        r.wr(KEYR1, KEY1);
        r.wr(KEYR1, 0x1234_5678);
        r.wr(KEYR1, KEY1);
        r.wr(KEYR1, KEY2);
        assert_eq!(r.rd(CR1) & LOCK, LOCK, "a wrong key locks until reset");
        r.f.reset();
        r.unlock(0);
        // Keys sent to an unlocked bank lock it again, until reset.
        r.wr(KEYR1, KEY1);
        r.wr(KEYR1, KEY2);
        assert_eq!(r.rd(CR1) & LOCK, LOCK);
        r.wr(KEYR1, KEY1);
        r.wr(KEYR1, KEY2);
        assert_eq!(r.rd(CR1) & LOCK, LOCK);
        // Bank 2 has its own key register and lock.
        r.unlock(1);
        r.f.reset();
        r.unlock(0);
    }

    #[test]
    fn locked_cr_ignores_writes_and_lock_keeps_stale_fields() {
        let mut r = Rig::h7a3();
        r.wr(CR1, PG);
        assert_eq!(r.rd(CR1), LOCK, "locked: the write is ignored");
        r.unlock(0);
        r.wr(CR1, SER | 9 << 6);
        r.wr(CR1, LOCK);
        // H7B0 SVD CR1.LOCK1: the other bits do not change when locking.
        assert_eq!(r.rd(CR1), LOCK | SER | 9 << 6);
        r.f.reset();
        assert_eq!(r.rd(CR1), LOCK, "reset clears CR");
    }

    #[test]
    fn h7ab_sector_field_at_st_flash_position_erases_sector_4n() {
        let mut r = Rig::h7a3();
        for s in 0..16 {
            r.fill(0x0800_0000 + s * 8192, 8192, s as u8);
        }
        r.unlock(0);
        // st-flash 1.8.0: SNB=1 at bits 8-10 (stlink issue #1369;
        // inc/stm32flash.h:266-268 of v1.8.0).
        r.wr(CR1, SER | 1 << 8);
        r.wr(CR1, SER | 1 << 8 | AB_START);
        r.settle();
        assert_eq!(r.peek(0x0800_2000, 4), vec![1; 4], "sector 1 is not erased");
        assert_eq!(r.peek(0x0800_8000, 8192), vec![0xFF; 8192], "sector 4 is");
        // RM0455: SSN at bits 6-12 erases sector 1.
        r.wr(CR1, SER | 1 << 6);
        r.wr(CR1, SER | 1 << 6 | AB_START);
        r.settle();
        assert_eq!(r.peek(0x0800_2000, 8192), vec![0xFF; 8192]);
        assert_eq!(r.peek(0x0800_4000, 4), vec![2; 4]);
        assert_eq!(r.stats.erases, 2);
        assert_eq!(r.rd(SR1) & EOP, EOP);
        r.wr(CCR1, EOP);
        assert_eq!(r.rd(SR1), 0);
    }

    #[test]
    fn h74x_erases_sector_7_of_bank_2_from_snb_at_bit_8() {
        let mut r = Rig::new(&H74X, 2048);
        r.fill(0x081E_0000, 16, 0x11);
        r.fill(0x080E_0000, 16, 0x22);
        r.unlock(1);
        let cr = SER | 0b10 << 4 | 7 << 8;
        r.wr(CR2, cr);
        assert_eq!(r.rd(CR2), cr);
        r.wr(CR2, cr | 1 << 7);
        assert_eq!(r.rd(CR2), cr, "START reads back 0");
        assert_eq!(r.rd(SR2) & (QW | BSY), QW | BSY);
        r.settle();
        assert_eq!(r.rd(SR2) & (QW | BSY), 0);
        assert_eq!(r.peek(0x081E_0000, 16), vec![0xFF; 16]);
        assert_eq!(r.peek(0x080E_0000, 16), vec![0x22; 16], "bank 1 sector 7 untouched");
    }

    #[test]
    fn a_write_without_pg_is_pgserr_and_changes_nothing() {
        let mut r = Rig::h7a3();
        r.unlock(0);
        r.wr(0x0800_0000, 0);
        assert_eq!(r.rd(SR1), PGSERR);
        r.settle();
        assert_eq!(r.peek(0x0800_0000, 4), vec![0xFF; 4]);
        // SR is read-only; CCR clears.
        r.wr(SR1, PGSERR);
        assert_eq!(r.rd(SR1), PGSERR);
        r.wr(CCR1, PGSERR);
        assert_eq!(r.rd(SR1), 0);
    }

    #[test]
    fn incerr_then_pgserr_until_incerr_is_cleared() {
        let mut r = Rig::h7a3();
        r.unlock(0);
        r.wr(CR1, PG);
        r.wr(0x0800_0000, 0x1111_1111);
        assert_eq!(r.rd(SR1), WBNE);
        // Another flash word before the first is complete.
        r.wr(0x0800_0010, 0x2222_2222);
        assert_eq!(r.rd(SR1), INCERR, "the partial word is dropped");
        r.put(0x0800_0020, &[0; 16]);
        assert_eq!(r.rd(SR1), INCERR | PGSERR);
        r.settle();
        assert_eq!(r.peek(0x0800_0000, 48), vec![0xFF; 48]);
        r.wr(CCR1, INCERR | PGSERR);
        r.put(0x0800_0020, &[0; 16]);
        r.settle();
        assert_eq!(r.peek(0x0800_0020, 16), vec![0; 16]);
        assert_eq!(r.rd(SR1), EOP);
    }

    #[test]
    fn the_same_byte_twice_is_strberr() {
        let mut r = Rig::h7a3();
        r.unlock(0);
        r.wr(CR1, PG);
        r.wr_width(0x0800_0000, AccessWidth::Half, 0x1234);
        r.wr_width(0x0800_0001, AccessWidth::Byte, 0x55);
        assert_eq!(r.rd(SR1), STRBERR);
        r.settle();
        assert_eq!(r.peek(0x0800_0000, 2), vec![0xFF; 2]);
    }

    #[test]
    fn fw_programs_a_partial_word_and_clearing_pg_drops_one() {
        let mut r = Rig::h7a3();
        r.unlock(0);
        r.wr(CR1, PG);
        r.wr(0x0800_0000, 0x4433_2211);
        r.wr(CR1, PG | AB_FW);
        assert_eq!(r.rd(CR1), PG, "FW reads back 0");
        r.settle();
        let mut want = vec![0x11, 0x22, 0x33, 0x44];
        want.extend([0xFF; 12]);
        assert_eq!(r.peek(0x0800_0000, 16), want);
        // The forced word counts as programmed: completing it breaks its ECC.
        r.wr(CCR1, EOP);
        r.put(0x0800_0000, &[0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        r.settle();
        r.rd(0x0800_0000);
        assert_eq!(r.rd(SR1) & DBECCERR, DBECCERR);
        // Clearing PG drops a partial buffer: nothing is programmed.
        r.wr(CR1, PG);
        r.wr(0x0800_0010, 0);
        r.wr(CR1, 0);
        assert_eq!(r.rd(SR1) & WBNE, 0);
        r.settle();
        assert_eq!(r.peek(0x0800_0010, 4), vec![0xFF; 4]);
    }

    #[test]
    fn programming_a_programmed_word_corrupts_it_and_reads_flag_dbeccerr() {
        let mut r = Rig::new(&H74X, 2048);
        r.unlock(0);
        r.wr(CR1, PG | 0b11 << 4);
        r.put(0x0800_0040, &[0x0F; 32]);
        r.settle();
        r.put(0x0800_0040, &[0xF0; 32]);
        r.settle();
        assert_eq!(r.stats.words, 2, "the controller does not refuse");
        assert_eq!(r.rd(0x0800_0040), 0, "old AND new");
        assert_eq!(r.rd(SR1) & DBECCERR, DBECCERR);
        assert_eq!(r.rd(0x5200_2060), 2, "ECC_FA: flash word 2 of the bank");
        r.wr(CCR1, DBECCERR);
        assert_eq!((r.rd(SR1) & DBECCERR, r.rd(0x5200_2060)), (0, 0), "cleared together");
    }

    #[test]
    fn write_protection_raises_wrperr_and_changes_nothing() {
        // H7A/B: one WPSGN bit per 4 sectors; protecting sector 5 protects 4-7.
        let mut r = Rig::h7a3();
        r.f.configure("wrp", "5").unwrap();
        assert_eq!(r.rd(WPSN_CUR1), !(1 << 1));
        r.fill(0x0800_8000, 16, 0);
        r.unlock(0);
        r.wr(CR1, SER | 4 << 6);
        r.wr(CR1, SER | 4 << 6 | AB_START);
        assert_eq!(r.rd(SR1), WRPERR, "refused at once, nothing queued");
        r.wr(CCR1, WRPERR);
        r.wr(CR1, PG);
        r.put(0x0800_E000, &[0; 16]);
        assert_eq!(r.rd(SR1), WRPERR);
        r.wr(CCR1, WRPERR);
        r.wr(CR1, BER);
        r.wr(CR1, BER | AB_START);
        assert_eq!(r.rd(SR1), WRPERR, "bank erase refused too");
        r.settle();
        assert_eq!(r.peek(0x0800_8000, 16), vec![0; 16]);
        assert_eq!(r.peek(0x0800_E000, 16), vec![0xFF; 16]);
        assert_eq!((r.stats.erases, r.stats.words, r.stats.mass_erases), (0, 0, 0));
        // Sector 8 is in the next group: not protected.
        r.wr(CCR1, WRPERR);
        r.wr(CR1, SER | 8 << 6);
        r.wr(CR1, SER | 8 << 6 | AB_START);
        assert_eq!(r.rd(SR1) & WRPERR, 0);
        // H74x: one bit per 128 KiB sector, given by address.
        let mut h = Rig::new(&H74X, 2048);
        h.f.configure("wrp", "0x08120000-0x0813ffff").unwrap();
        assert_eq!(h.rd(0x5200_2138), 0xFD, "bank 2 sector 1");
        assert_eq!(h.rd(WPSN_CUR1), 0xFF);
    }

    #[test]
    fn busy_until_the_modeled_time_and_reads_of_a_busy_bank_stall() {
        let mut r = Rig::h7a3();
        r.unlock(0);
        r.wr(CR1, SER | 3 << 6);
        r.wr(CR1, SER | 3 << 6 | AB_START);
        let end = r.now + H7AB.sector_erase_time;
        assert_eq!(r.f.stall_until(0x0800_0000, false, Initiator::Debugger, r.now), end);
        assert_eq!(r.f.stall_until(0x0810_0000, false, Initiator::Debugger, r.now), r.now, "bank 2 answers");
        r.now = end - 1;
        assert_eq!(r.rd(SR1) & QW, QW);
        r.now = end;
        assert_eq!(r.rd(SR1) & QW, 0);
        // Programming: one word executing, one queued; a third write stalls.
        r.wr(CR1, PG);
        r.put(0x0800_0000, &[0; 16]);
        r.put(0x0800_0010, &[0; 16]);
        let first_end = r.now + H7AB.word_time;
        assert_eq!(r.f.stall_until(0x0800_0020, true, Initiator::Debugger, r.now), first_end);
        r.settle();
        assert_eq!(r.stats.words, 2);
    }

    #[test]
    fn the_write_queue_knob_changes_what_a_busy_bank_does_with_writes() {
        let start = |mode: &str| {
            let mut r = Rig::h7a3();
            r.f.configure("write_queue", mode).unwrap();
            r.unlock(0);
            r.wr(CR1, PG);
            r.put(0x0800_0000, &[0; 16]);
            r
        };
        let r = start("none");
        assert_eq!(r.f.stall_until(0x0800_0010, true, Initiator::Debugger, r.now), r.now + H7AB.word_time);
        let mut r = start("deep");
        r.put(0x0800_0010, &[0; 16]);
        assert_eq!(r.f.stall_until(0x0800_0020, true, Initiator::Debugger, r.now), r.now, "never stalls");
        r.put(0x0800_0020, &[0; 16]);
        r.settle();
        assert_eq!(r.stats.words, 3);
        let mut r = start("error");
        r.put(0x0800_0010, &[0; 16]);
        assert_eq!(r.f.stall_until(0x0800_0020, true, Initiator::Debugger, r.now), r.now);
        r.put(0x0800_0020, &[0; 16]);
        assert_ne!(r.rd(SR1) & PGSERR, 0, "the third word found the queue full");
        r.settle();
        assert_eq!(r.stats.words, 2);
        assert!(Rig::h7a3().f.configure("write_queue", "lots").is_err());
    }

    #[test]
    fn one_mib_parts_leave_a_gap_and_128k_parts_have_one_bank() {
        let r = Rig::new(&H7AB, 1024);
        let regions = r.f.regions();
        assert!(regions.contains(&(0x0800_0000..0x0808_0000)));
        assert!(regions.contains(&(0x0810_0000..0x0818_0000)));
        assert!(!regions.iter().any(|g| g.contains(&0x0808_0000)), "the gap is not decoded");
        let small = Rig::new(&H7AB, 128);
        assert!(!small.f.regions().iter().any(|g| g.contains(&0x0810_0000)));
        assert_eq!(small.f.sectors_per_bank(), 16);
        let h723 = Rig::new(&H72X, 1024);
        assert_eq!((h723.f.banks.len(), h723.f.sectors_per_bank()), (1, 8));
    }

    #[test]
    fn rdp_levels_and_debugger_access() {
        let mut r = Rig::h7a3();
        assert_eq!(r.rd(OPTSR_CUR_A) >> 8 & 0xFF, 0xAA);
        r.f.configure("rdp", "1").unwrap();
        assert!(!r.f.debug_readable(0x0800_0000));
        assert!(!r.f.debug_readable(0x0810_0000));
        assert!(r.f.debug_readable(CR1), "registers stay accessible");
        r.unlock(0);
        r.wr(CR1, PG);
        assert_eq!(r.access(Initiator::Debugger, |f, a| f.write(0x0800_0000, AccessWidth::Word, 0, a)), Err(BusFault));
        assert!(!r.f.debug_port_disabled());
        r.f.configure("rdp", "2").unwrap();
        assert!(r.f.debug_port_disabled());
        assert!(r.f.configure("rdp", "3").is_err());
    }

    #[test]
    fn mer_needs_the_option_lock_open_and_erases_both_banks() {
        let mut r = Rig::h7a3();
        r.fill(0x0800_0000, 16, 0);
        r.fill(0x0810_0000, 16, 0);
        r.wr(OPTCR_A, MER);
        r.settle();
        assert_eq!(r.stats.mass_erases, 0, "OPTLOCK set: MER ignored");
        r.wr(OPTKEYR_A, OPTKEY1);
        r.wr(OPTKEYR_A, OPTKEY2);
        assert_eq!(r.rd(OPTCR_A) & OPTLOCK, 0);
        r.wr(OPTCR_A, MER);
        r.settle();
        assert_eq!(r.stats.mass_erases, 2);
        assert_eq!(r.peek(0x0810_0000, 16), vec![0xFF; 16]);
    }

    #[test]
    fn reset_abandons_queued_operations_and_relocks() {
        let mut r = Rig::h7a3();
        r.fill(0x0800_0000, 16, 0);
        r.unlock(0);
        r.wr(CR1, SER);
        r.wr(CR1, SER | AB_START);
        r.f.reset();
        r.settle();
        assert_eq!(r.peek(0x0800_0000, 16), vec![0; 16]);
        assert_eq!((r.rd(CR1), r.rd(SR1)), (LOCK, 0));
    }

    #[test]
    fn swapped_banks_answer_at_each_others_address() {
        let mut r = Rig::h7a3();
        r.fill(0x0810_0000, 4, 0x22);
        r.f.configure("swap_bank", "1").unwrap();
        assert_eq!(r.rd(0x0800_0000), 0x2222_2222);
        assert_eq!(r.rd(OPTCR_A) & SWAP_BANK, SWAP_BANK);
        assert_eq!(r.rd(OPTSR_CUR_A) & SWAP_BANK, SWAP_BANK);
        r.f.reset();
        assert_eq!(r.rd(0x0800_0000), 0x2222_2222, "the option stays in force");
        assert!(Rig::new(&H72X, 1024).f.configure("swap_bank", "1").is_err());
    }

    #[test]
    fn save_and_load_keep_flash_and_options() {
        let mut r = Rig::new(&H74X, 1024);
        r.fill(0x0810_0000, 4, 0x5A);
        r.f.configure("wrp", "3").unwrap();
        r.f.configure("rdp", "1").unwrap();
        let blobs = r.f.save();
        let mut g = H7Model::new(&H74X, 1024 * KIB);
        g.load(&blobs).unwrap();
        assert_eq!(g.peek(0x0810_0000, 4), Some(vec![0x5A; 4]));
        assert_eq!(g.banks[0].wpsn_cur, 0xF7, "sector 3: the last of bank 1 (4 sectors per bank)");
        assert_eq!(g.banks[1].wpsn_cur, 0xFF);
        assert_eq!(g.rdp(), 0xBB);
        let mut wrong = H7Model::new(&H74X, 2048 * KIB);
        assert!(wrong.load(&blobs).unwrap_err().contains("bytes"));
    }

    /// Bank 1's flash CRC unit hashes bank offsets `start..end` (CRC_BURST
    /// 4 flash words), with CLEAN_CRC first when `clean`.
    fn flash_crc(r: &mut Rig, start: u32, end: u32, clean: bool) -> u32 {
        const CRCCR1: u32 = 0x5200_2050;
        if r.rd(CR1) & LOCK != 0 {
            r.unlock(0);
        }
        r.wr(CR1, CRC_EN);
        if clean {
            r.wr(CRCCR1, CLEAN_CRC);
        }
        r.wr(CRCCR1 + 4, start);
        r.wr(CRCCR1 + 8, end - 4);
        r.wr(CRCCR1, START_CRC);
        assert_ne!(r.rd(SR1) & CRC_BUSY, 0);
        r.settle();
        assert_eq!(r.rd(SR1) & (CRC_BUSY | CRCEND), CRCEND);
        r.rd(CRCCR1 + 0xC)
    }

    #[test]
    fn the_flash_crc_unit_computes_what_was_measured_on_an_h753() {
        // ST community thread "STM32H753 flash CRC specification": 128 zero
        // bytes, CRC_BURST = 4, give 0x11E66C62; every computation starts
        // from 0xB6C0AE5A (no CLEAN_CRC needed).
        let mut r = Rig::new(&H74X, 2048);
        assert!(r.f.poke(BANK1_BASE, &[0; 128]));
        assert_eq!(flash_crc(&mut r, 0, 128, true), 0x11E6_6C62);
        assert_eq!(flash_crc(&mut r, 0, 128, false), 0x11E6_6C62, "the initial value applies to each computation");
        // Each little-endian word most significant byte first: 00 11 22 33 is 0x33221100.
        assert!(r.f.poke(BANK1_BASE, &[0x00, 0x11, 0x22, 0x33]));
        assert_eq!(flash_crc(&mut r, 0, 128, true), {
            let mut c = shift_word(CRC_INIT, CRC_POLY, 0x3322_1100);
            for _ in 1..32 {
                c = shift_word(c, CRC_POLY, 0);
            }
            c
        });
    }

    #[test]
    fn knobs_change_what_the_flash_crc_unit_computes() {
        let zeros = |r: &mut Rig| {
            assert!(r.f.poke(BANK1_BASE, &[0; 128]));
            flash_crc(r, 0, 128, true)
        };
        let mut r = Rig::h7a3();
        r.f.configure("flash_crc_init", "0xFFFFFFFF").unwrap();
        let mpeg2 = zeros(&mut r);
        assert_eq!(mpeg2, (0..32).fold(0xFFFF_FFFF, |c, _| shift_word(c, CRC_POLY, 0)));
        let mut r = Rig::h7a3();
        r.f.configure("flash_crc", "mpeg2").unwrap();
        assert_eq!(zeros(&mut r), mpeg2);
        // Chaining: without CLEAN_CRC the second run continues from the first.
        let mut r = Rig::h7a3();
        r.f.configure("flash_crc", "chain").unwrap();
        let first = zeros(&mut r);
        assert_eq!(first, 0x11E6_6C62);
        assert_ne!(flash_crc(&mut r, 0, 128, false), first, "continues from the first result");
        assert_eq!(zeros(&mut r), first, "CLEAN_CRC reloads the initial value");
        // Other orders matter on other bytes, not on zeros.
        let data: Vec<u8> = (0..64u8).collect();
        let mut results = Vec::new();
        for order in ["word", "bytes", "reflected", "byte-reflected", "half-reflected"] {
            let mut r = Rig::h7a3();
            r.f.configure("flash_crc_order", order).unwrap();
            assert_eq!(zeros(&mut r), 0x11E6_6C62, "{order}");
            assert!(r.f.poke(BANK1_BASE, &data));
            results.push(flash_crc(&mut r, 0, 64, true));
        }
        results.dedup();
        assert_eq!(results.len(), 5, "{results:x?}");
        let mut r = Rig::h7a3();
        r.f.configure("flash_crc_out", "reflected").unwrap();
        assert_eq!(zeros(&mut r), 0x11E6_6C62u32.reverse_bits());
        // An absent unit reads 0 and never computes; a broken one returns garbage.
        let mut r = Rig::h7a3();
        r.f.configure("flash_crc", "absent").unwrap();
        r.unlock(0);
        r.wr(CR1, CRC_EN);
        r.wr(0x5200_2050, START_CRC);
        assert_eq!(r.rd(SR1) & CRC_BUSY, 0);
        assert_eq!(r.rd(0x5200_205C), 0);
        let mut r = Rig::h7a3();
        r.f.configure("flash_crc", "garbage").unwrap();
        assert_ne!(zeros(&mut r), 0x11E6_6C62);
        assert!(Rig::h7a3().f.configure("flash_crc_order", "sideways").unwrap_err().contains("byte-reflected"));
        assert!(Rig::h7a3().f.configure("flash_crc_init", "xyz").is_err());
    }

    #[test]
    fn configure_lists_what_it_accepts() {
        let mut r = Rig::h7a3();
        let e = r.f.configure("dbank", "1").unwrap_err();
        assert!(e.contains("rdp=") && e.contains("wrp=") && e.contains("swap_bank="), "{e}");
        assert!(r.f.configure("wrp", "300").is_err());
        assert!(r.f.configure("wrp", "0x08200000").is_err(), "an address in no bank");
        r.f.configure("wrp", "0+255").unwrap();
        assert_eq!(r.f.banks[0].wpsn_cur, !1);
        assert_eq!(r.f.banks[1].wpsn_cur, !(1 << 31));
    }

    fn unlock_options(r: &mut Rig) {
        r.wr(OPTKEYR_A, OPTKEY1);
        r.wr(OPTKEYR_A, OPTKEY2);
        assert_eq!(r.rd(OPTCR_A) & OPTLOCK, 0);
    }

    const OPTSR_PRG_A: u32 = 0x5200_2020;
    const BOOT_CUR_A: u32 = 0x5200_2040;
    const BOOT_PRG_A: u32 = 0x5200_2044;
    const OTPBL_CUR_A: u32 = 0x5200_2068;
    const OTPBL_PRG_A: u32 = 0x5200_206C;
    const OTP: u32 = 0x08FF_F000;

    #[test]
    fn optstart_applies_boot_addresses_and_user_bits_without_reset() {
        let mut r = Rig::h7a3();
        unlock_options(&mut r);
        let optsr = r.rd(OPTSR_CUR_A);
        r.wr(OPTSR_PRG_A, optsr | 0b11 << 2);
        r.wr(BOOT_PRG_A, 0x1FF0_0810);
        assert_eq!(r.rd(BOOT_CUR_A), 0x1FF0_0800, "PRG only: nothing in force yet");
        r.wr(OPTCR_A, OPTSTART);
        assert_eq!(r.rd(OPTSR_CUR_A) & OPT_BUSY, OPT_BUSY, "busy during the change");
        r.settle();
        assert_eq!(r.rd(OPTSR_CUR_A), optsr | 0b11 << 2);
        assert_eq!(r.rd(BOOT_CUR_A), 0x1FF0_0810);
        let blobs = r.f.save();
        let mut g = H7Model::new(&H7AB, 2048 * KIB);
        g.load(&blobs).unwrap();
        assert_eq!((g.boot_cur, g.optsr_cur >> 2 & 3), (0x1FF0_0810, 3), "kept in the state file");
    }

    #[test]
    fn rdp_regression_erases_both_banks_and_level_2_freezes_options() {
        let mut r = Rig::h7a3();
        r.fill(0x0800_0000, 16, 0x11);
        r.fill(0x0810_0000, 16, 0x22);
        r.f.configure("rdp", "1").unwrap();
        unlock_options(&mut r);
        let optsr = r.rd(OPTSR_CUR_A);
        r.wr(OPTSR_PRG_A, optsr & !RDP_MASK | 0xAA << 8);
        r.wr(OPTCR_A, OPTSTART);
        assert_eq!(r.peek(0x0800_0000, 16), vec![0xFF; 16]);
        assert_eq!(r.peek(0x0810_0000, 16), vec![0xFF; 16]);
        r.settle();
        assert!(r.f.debug_readable(0x0800_0000));
        r.wr(OPTSR_PRG_A, optsr & !RDP_MASK | 0xCC << 8);
        r.wr(OPTCR_A, OPTSTART);
        r.settle();
        assert!(r.f.debug_port_disabled());
        r.wr(OPTSR_PRG_A, optsr & !RDP_MASK | 0xAA << 8);
        r.wr(OPTCR_A, OPTSTART);
        assert_eq!(r.rd(OPTSR_CUR_A) & (OPTCHANGEERR | RDP_MASK), OPTCHANGEERR | 0xCC << 8);
        let mut g = H7Model::new(&H7AB, 2048 * KIB);
        g.load(&r.f.save()).unwrap();
        assert!(g.debug_port_disabled(), "level 2 survives the state file");
    }

    #[test]
    fn otp_programs_half_words_with_pg_otp_and_honours_block_locks() {
        let mut r = Rig::h7a3();
        r.wr_width(OTP, AccessWidth::Half, 0x1234);
        assert_eq!(r.rd(SR1) & PGSERR, PGSERR, "no PG_OTP: sequence error");
        r.wr(CCR1, PGSERR);
        r.wr(OPTCR_A, PG_OTP);
        assert_eq!(r.rd(OPTCR_A) & PG_OTP, 0, "OPTCR locked: PG_OTP ignored");
        unlock_options(&mut r);
        r.wr(OPTCR_A, PG_OTP);
        r.wr_width(OTP + 2, AccessWidth::Half, 0x1234);
        assert_eq!(r.rd(SR1) & QW, QW, "queued on bank 1");
        r.settle();
        assert_eq!(r.peek(OTP, 4), vec![0xFF, 0xFF, 0x34, 0x12]);
        r.wr(OPTCR_A, 0);
        // Lock block 1 (bytes 64-127) through the option change.
        r.wr(OTPBL_PRG_A, 1 << 1);
        r.wr(OPTCR_A, OPTSTART);
        r.settle();
        assert_eq!(r.rd(OTPBL_CUR_A), 1 << 1);
        r.wr(OPTCR_A, PG_OTP);
        r.wr_width(OTP + 64, AccessWidth::Half, 0);
        assert_eq!(r.rd(SR1) & WRPERR, WRPERR);
        r.settle();
        assert_eq!(r.peek(OTP + 64, 2), vec![0xFF, 0xFF]);
        let mut g = H7Model::new(&H7AB, 2048 * KIB);
        g.load(&r.f.save()).unwrap();
        assert_eq!(g.peek(OTP + 2, 2), Some(vec![0x34, 0x12]));
        assert_eq!(g.otpbl_cur, 1 << 1);
    }
}
