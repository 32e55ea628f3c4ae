//! Simulated STM32F2/F4/F7 sector-type flash interface, written from RM0090
//! §3 (F405-F439), RM0033 §2 (F2), RM0383/RM0368/RM0390/RM0401/RM0430 (other
//! F4), RM0385/RM0410 §3 (F7), with field widths from ST's CMSIS device
//! headers where the parts differ.
//!
//! Modeled: the key sequences (a wrong key is a bus error and locks until
//! reset), FLASH_CR decoded at its RM bit positions with only the bits the part
//! implements (an SNB bit 4 written to a 4-bit field is lost, as on silicon),
//! sector erase by SNB in the sector map of the bank mode in force (bank-2
//! sectors are SNB 0b1xxxx), mass/bank erase with MER/MER2, programming with
//! the parallelism PSIZE (an access of another width is PGPERR), a flash write
//! without PG (PGSERR; ERSERR on F7), write protection per sector (WRPERR),
//! read protection (debug reads of flash and OTP fault; program/erase WRPERR),
//! EOP/OPERR only with EOPIE/ERRIE, W1C status, BSY with the AHB stalled on
//! flash accesses and on FLASH_CR/OPTCR writes, the option registers (OPTCR,
//! OPTCR1, OPTSTRT; DB1M and nDBANK take effect at reset) and the OTP area.

use std::ops::Range;

use crate::crc_peripheral;
use crate::facts::Facts;
use crate::model::{
    parse_range, Access, AccessWidth, BusFault, ConfigResult, FlashArray, FlashModel, FlashStats, Initiator, Nanos, MS,
    US,
};
use crate::parts::Part;

const FLASH_BASE: u32 = 0x0800_0000;
const KIB: u32 = 1024;
const MIB: u32 = 1024 * KIB;

/// Register block (RM0090 §3.9.12 register map).
const REGS: u32 = 0x4002_3C00;
const ACR: u32 = REGS;
const KEYR: u32 = REGS + 0x04;
const OPTKEYR: u32 = REGS + 0x08;
const SR: u32 = REGS + 0x0C;
const CR: u32 = REGS + 0x10;
const OPTCR: u32 = REGS + 0x14;
const OPTCR1: u32 = REGS + 0x18;
const REGS_END: u32 = REGS + 0x1C;

const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
const OPTKEY1: u32 = 0x0819_2A3B;
const OPTKEY2: u32 = 0x4C5D_6E7F;

// FLASH_SR (RM0090 §3.9.6): EOP 0, OPERR 1, WRPERR 4, PGAERR 5, PGPERR 6,
// PGSERR 7 (F7: ERSERR, RM0385 §3.7.5), RDERR 8, BSY 16; rc_w1.
const SR_EOP: u32 = 1 << 0;
const SR_OPERR: u32 = 1 << 1;
const SR_WRPERR: u32 = 1 << 4;
const SR_PGPERR: u32 = 1 << 6;
const SR_PGSERR: u32 = 1 << 7;
const SR_PGAERR: u32 = 1 << 5;
/// RDERR, bit 8: only where the die has PCROP (stm32f401xc.h, stm32f429xx.h,
/// stm32f722xx.h `FLASH_SR_RDERR`; not F2, F405/F407, F74x, F76x).
const SR_RDERR: u32 = 1 << 8;
const SR_BSY: u32 = 1 << 16;
const SR_W1C: u32 = SR_EOP | SR_OPERR | SR_WRPERR | SR_PGAERR | SR_PGPERR | SR_PGSERR | SR_RDERR;

// FLASH_CR (RM0090 §3.9.8): PG 0, SER 1, MER 2, SNB 3.., PSIZE 8-9,
// MER1/MER2 15, STRT 16, EOPIE 24, ERRIE 25, LOCK 31.
const CR_PG: u32 = 1 << 0;
const CR_SER: u32 = 1 << 1;
const CR_MER: u32 = 1 << 2;
const CR_PSIZE: u32 = 3 << 8;
const CR_MER2: u32 = 1 << 15;
const CR_STRT: u32 = 1 << 16;
const CR_EOPIE: u32 = 1 << 24;
const CR_ERRIE: u32 = 1 << 25;
const CR_LOCK: u32 = 1 << 31;

// FLASH_OPTCR (RM0090 §3.9.10, RM0410 §3.7.6).
const OPTCR_OPTLOCK: u32 = 1 << 0;
const OPTCR_OPTSTRT: u32 = 1 << 1;
const OPTCR_RDP_SHIFT: u32 = 8;
const OPTCR_NWRP_SHIFT: u32 = 16;
const OPTCR_DB1M: u32 = 1 << 30;
const OPTCR_NDBANK: u32 = 1 << 29;

// Timing at x32 parallelism: assumed, not measured; `flash-time=F` scales it.
// The word time and the sector-erase times (`operation_time`) are typical
// values recalled from the STM32F411 datasheet (DS10314, "Flash memory
// characteristics": word ≈16 µs, 16 KiB ≈250 ms, 128 KiB ≈1 s, mass erase
// ≈8 s per MiB), used for every F2/F4/F7.
const PROGRAM: Nanos = 16 * US;
const MASS_ERASE_PER_MIB: Nanos = 8_000 * MS;
/// Option-byte programming: assumed (no ST figure at hand); `flash-time=F` scales it.
const OPTION_PROGRAM: Nanos = 50 * MS;

/// Which series (and reference manual) the part belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    F2,
    F4,
    F7,
}

/// How the part chooses between its single- and dual-bank maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankMode {
    /// One bank only.
    Single,
    /// F42x/F43x/F469/F479: dual above 1 MiB, and at 1 MiB when OPTCR.DB1M
    /// is set (RM0090 §3.4).
    Db1m,
    /// F76x/F77x: dual when OPTCR.nDBANK is clear (RM0410 §3.3.1).
    NDbank,
}

/// One simulated part's flash.
#[derive(Debug)]
pub struct FsSpec {
    pub series: Series,
    pub flash_size: u32,
    /// Single-bank map as runs of (count, size), the last run repeating.
    pub single: &'static [(u32, u32)],
    /// Per-bank map in dual-bank mode.
    pub dual: &'static [(u32, u32)],
    pub bank_mode: BankMode,
    /// Width of FLASH_CR.SNB: 4 on F405/F407, F413, F72x, F74x; 5 on F2,
    /// the other F4 and F76x (CMSIS `FLASH_CR_SNB` masks: 0x0F << 3 in
    /// stm32f413xx.h:6893, stm32f722xx.h:6427, stm32f746xx.h:7291; 0x1F << 3
    /// in stm32f207xx.h:6750, stm32f411xe.h:2366, stm32f429xx.h:7195,
    /// stm32f767xx.h:7829).
    pub snb_bits: u32,
    /// FLASH_CR bit 15 exists (MER1 of RM0090 / MER2 of RM0410).
    pub mer2: bool,
    /// FLASH_SR.RDERR exists (dies with PCROP).
    pub rderr: bool,
    /// FLASH_CR.ERRIE exists (not on F2: stm32f207xx.h `FLASH_CR`).
    pub errie: bool,
    /// nWRP bits in OPTCR (12 on F2/F4 and F76x, 8 on F72x/F74x, 15 on F413).
    pub nwrp_bits: u32,
    /// OTP data bytes (16 blocks), followed by 16 lock bytes.
    pub otp: (u32, u32),
    /// Memory-mapped option bytes.
    pub option_bytes: u32,
    /// FLASH_OPTCR and FLASH_OPTCR1 as shipped (RM0090 §3.9.10-11 reset values).
    pub optcr_reset: u32,
    pub optcr1_reset: u32,
}

/// One sector of the map in force.
#[derive(Debug, Clone)]
struct Sector {
    snb: u32,
    range: Range<u32>,
    /// Write-protection bit: (OPTCR1 instead of OPTCR, bit in nWRP).
    wrp: (bool, u32),
}

#[derive(Debug, Clone)]
enum Op {
    Erase { range: Range<u32>, mass: bool },
    Program { addr: u32, bytes: Vec<u8> },
    ProgramOtp { addr: u32, bytes: Vec<u8> },
    Options,
}

/// The sector-type flash model.
pub struct FsModel {
    spec: &'static FsSpec,
    array: FlashArray,
    otp: FlashArray,
    /// Map in force (chosen at reset from the option bits).
    sectors: Vec<Sector>,
    dual: bool,
    acr: u32,
    cr: u32,
    sr: u32,
    key1_seen: bool,
    optkey1_seen: bool,
    /// A wrong key: FLASH_CR (or OPTCR) locked until reset.
    frozen: bool,
    opt_frozen: bool,
    /// OPTCR/OPTCR1 registers (the values to program).
    optcr: u32,
    optcr1: u32,
    /// Option bytes in force (programmed by OPTSTRT).
    opt: (u32, u32),
    op: Option<(Nanos, Op)>,
}

impl FsModel {
    pub fn new(spec: &'static FsSpec) -> FsModel {
        let otp_len = spec.otp.1 + 16;
        let mut m = FsModel {
            spec,
            array: FlashArray::new(FLASH_BASE, spec.flash_size, 0xFF, 0),
            otp: FlashArray::new(spec.otp.0, otp_len, 0xFF, 0),
            sectors: Vec::new(),
            dual: false,
            acr: 0,
            cr: CR_LOCK,
            sr: 0,
            key1_seen: false,
            optkey1_seen: false,
            frozen: false,
            opt_frozen: false,
            optcr: 0,
            optcr1: 0,
            opt: (spec.optcr_reset & !3, spec.optcr1_reset),
            op: None,
        };
        m.reset();
        m
    }

    /// Dual-bank mode from the option bits in force.
    fn dual_mode(&self) -> bool {
        match self.spec.bank_mode {
            BankMode::Single => false,
            BankMode::Db1m => {
                self.spec.flash_size > MIB || (self.spec.flash_size == MIB && self.opt.0 & OPTCR_DB1M != 0)
            }
            BankMode::NDbank => self.opt.0 & OPTCR_NDBANK == 0,
        }
    }

    /// The sector map of the mode in force: SNB, range, nWRP bit.
    fn build_sectors(&self) -> Vec<Sector> {
        let dual = self.dual_mode();
        let mut out = Vec::new();
        let mut push_bank = |bank: u32, base: u32, size: u32, runs: &[(u32, u32)]| {
            let (mut addr, mut index) = (base, 0u32);
            for (i, &(count, sz)) in runs.iter().enumerate() {
                let last = i + 1 == runs.len();
                let mut n = if last { u32::MAX } else { count };
                while n > 0 && addr - base < size {
                    // Bank 2 is SNB 0b1xxxx (RM0090 §3.9.8). nWRP: F42x bank 2
                    // in OPTCR1 (RM0090 §3.9.11; ST HAL FLASH_OB_EnableWRP);
                    // F413: OPTCR nWRP[14:0], bit 14 for sectors 14 and 15
                    // (CMSIS stm32f413xx.h FLASH_OPTCR_nWRP_14 = _15); F76x
                    // dual bank: nWRPi for sectors 2i and 2i+1, bank 2
                    // numbered 12-23 (ST HAL stm32f7xx_hal_flash_ex.h
                    // OB_WRP_DB_SECTOR_x).
                    let wrp = match (self.spec.series, bank, index) {
                        (Series::F7, b, i) if dual => (false, (12 * b + i) / 2),
                        (Series::F7, _, i) => (false, i),
                        (_, 1, i) => (true, i),
                        (_, _, i) if self.spec.nwrp_bits == 15 => (false, i.min(14)),
                        (_, _, i) => (false, i),
                    };
                    out.push(Sector { snb: bank << 4 | index, range: addr..addr + sz, wrp });
                    addr += sz;
                    index += 1;
                    n -= 1;
                }
            }
        };
        let size = self.spec.flash_size;
        if dual {
            push_bank(0, FLASH_BASE, size / 2, self.spec.dual);
            push_bank(1, FLASH_BASE + size / 2, size / 2, self.spec.dual);
        } else {
            push_bank(0, FLASH_BASE, size, self.spec.single);
        }
        out
    }

    fn rdp_level(&self) -> u8 {
        match (self.opt.0 >> OPTCR_RDP_SHIFT) as u8 {
            0xAA => 0,
            0xCC => 2,
            _ => 1,
        }
    }

    fn sector_protected(&self, s: &Sector) -> bool {
        let (in_cr1, bit) = s.wrp;
        let reg = if in_cr1 { self.opt.1 } else { self.opt.0 };
        // Bits beyond the part's nWRP field protect nothing.
        let exists = in_cr1 || bit < self.spec.nwrp_bits;
        exists && reg & (1 << (OPTCR_NWRP_SHIFT + bit)) == 0
    }

    fn range_protected(&self, range: &Range<u32>) -> bool {
        self.sectors.iter().any(|s| s.range.start < range.end && range.start < s.range.end && self.sector_protected(s))
    }

    fn cr_writable(&self) -> u32 {
        let snb = ((1 << self.spec.snb_bits) - 1) << 3;
        let mer2 = if self.spec.mer2 { CR_MER2 } else { 0 };
        let errie = if self.spec.errie { CR_ERRIE } else { 0 };
        CR_PG | CR_SER | CR_MER | snb | CR_PSIZE | mer2 | CR_STRT | CR_EOPIE | errie | CR_LOCK
    }

    /// The flags software clears by writing 1.
    fn sr_w1c(&self) -> u32 {
        if self.spec.rderr {
            SR_W1C
        } else {
            SR_W1C & !SR_RDERR
        }
    }

    fn busy(&self) -> bool {
        self.op.is_some()
    }

    /// The flash range the running operation blocks: its bank in dual-bank
    /// mode (read-while-write, RM0090 §3.6.5), the whole flash otherwise.
    fn blocked(&self) -> Option<Range<u32>> {
        let (_, op) = self.op.as_ref()?;
        let all = self.array.range();
        if !self.dual {
            return Some(all);
        }
        let half = FLASH_BASE + self.spec.flash_size / 2;
        let addr = match op {
            Op::Erase { range, .. } if range.end - range.start > self.spec.flash_size / 2 => return Some(all),
            Op::Erase { range, .. } => range.start,
            Op::Program { addr, .. } => *addr,
            _ => return Some(all),
        };
        Some(if addr < half { all.start..half } else { half..all.end })
    }

    /// Flag an error; OPERR too when error interrupts are enabled (RM0090 §3.9.6).
    fn fail(&mut self, flag: u32) {
        self.sr |= flag;
        if self.cr & CR_ERRIE != 0 {
            self.sr |= SR_OPERR;
        }
    }

    fn psize_width(&self) -> Option<AccessWidth> {
        match (self.cr & CR_PSIZE) >> 8 {
            0 => Some(AccessWidth::Byte),
            1 => Some(AccessWidth::Half),
            2 => Some(AccessWidth::Word),
            // x64 needs a double-word access, which neither the AHB-AP nor a
            // single store makes: every write is a parallelism error here.
            _ => None,
        }
    }

    // ---- writes ----

    fn write_keyr(&mut self, value: u32) -> Result<(), BusFault> {
        // "Any wrong sequence returns a bus error and lock up the FLASH_CR
        // register until the next reset" (RM0090 §3.6.1); a second sequence
        // while unlocked counts as wrong (ST's HAL_FLASH_Unlock in
        // stm32f4xx_hal_flash.c sends the keys only while LOCK is set; OpenOCD
        // stm32h7x.c:424-428 "otherwise writing on FLASH_KEYR will fail").
        let locked = self.cr & CR_LOCK != 0;
        let expected = if self.key1_seen { KEY2 } else { KEY1 };
        if !locked || self.frozen || value != expected {
            self.frozen = true;
            self.key1_seen = false;
            self.cr |= CR_LOCK;
            return Err(BusFault);
        }
        if self.key1_seen {
            self.cr &= !CR_LOCK;
        }
        self.key1_seen = !self.key1_seen;
        Ok(())
    }

    fn write_optkeyr(&mut self, value: u32) -> Result<(), BusFault> {
        let locked = self.optcr & OPTCR_OPTLOCK != 0;
        let expected = if self.optkey1_seen { OPTKEY2 } else { OPTKEY1 };
        if !locked || self.opt_frozen || value != expected {
            self.opt_frozen = true;
            self.optkey1_seen = false;
            self.optcr |= OPTCR_OPTLOCK;
            return Err(BusFault);
        }
        if self.optkey1_seen {
            self.optcr &= !OPTCR_OPTLOCK;
        }
        self.optkey1_seen = !self.optkey1_seen;
        Ok(())
    }

    fn write_cr(&mut self, value: u32, acc: &mut Access) {
        if self.cr & CR_LOCK != 0 {
            return;
        }
        // Bits the part does not implement are lost (e.g. SNB bit 4 on F413).
        self.cr = value & self.cr_writable();
        if self.cr & CR_STRT != 0 && self.cr & CR_LOCK == 0 {
            self.start_erase(acc);
        }
    }

    /// STRT (RM0090 §3.6.3, §3.7.4 "Write protection error flag").
    fn start_erase(&mut self, acc: &mut Access) {
        let cr = self.cr;
        let mer = cr & (CR_MER | CR_MER2);
        let by_debugger = acc.by == Initiator::Debugger;
        let op = if cr & CR_SER != 0 && mer != 0 {
            // "Mass, bank, sector erase are configured (MER or MER/MER1 and
            // SER = 1)" sets WRPERR (RM0090 §3.7.4; the same RM's §3.6.3 note says mass
            // erase is performed; the flag list is taken here: nothing erased).
            Err(SR_WRPERR)
        } else if cr & CR_SER != 0 {
            let snb = (cr >> 3) & ((1 << self.spec.snb_bits) - 1);
            match self.sectors.iter().find(|s| s.snb == snb) {
                // "A sector erase is requested and the Sector Number SNB field is
                // not valid" (RM0090 §3.7.4); with DB1M, sector 8 instead of 12 is not
                // performed (RM0090 §3.9.10 note).
                None => Err(SR_WRPERR),
                Some(s) => Ok(Op::Erase { range: s.range.clone(), mass: false }),
            }
        } else if mer != 0 {
            let all = self.array.range();
            let half = FLASH_BASE + self.spec.flash_size / 2;
            match (self.dual, mer) {
                (false, m) if m & CR_MER != 0 => Ok(Op::Erase { range: all, mass: true }),
                // MER2 alone in single-bank mode: assumed reserved there, nothing.
                (false, _) => Err(0),
                (true, m) if m == CR_MER | CR_MER2 => Ok(Op::Erase { range: all, mass: true }),
                (true, CR_MER) => Ok(Op::Erase { range: all.start..half, mass: true }),
                (true, _) => Ok(Op::Erase { range: half..all.end, mass: true }),
            }
        } else {
            // Neither SER nor MER: "unpredictable … without any error flag"
            // (RM0090 §3.6.3 note); modeled as nothing.
            Err(0)
        };
        let op = op.and_then(|op| match &op {
            // Level 1 with the debugger connected: no erase (RM0090 §3.7.3, §3.7.4).
            _ if by_debugger && self.rdp_level() > 0 => Err(SR_WRPERR),
            Op::Erase { range, .. } if self.range_protected(range) => Err(SR_WRPERR),
            _ => Ok(op),
        });
        match op {
            Ok(op) => {
                let time = self.erase_time(&op);
                self.op = Some((acc.now + time, op));
            }
            Err(flag) => {
                if flag != 0 {
                    self.fail(flag);
                }
                self.cr &= !CR_STRT;
            }
        }
    }

    fn erase_time(&self, op: &Op) -> Nanos {
        let Op::Erase { range, mass } = op else { return 0 };
        let size = range.end - range.start;
        if *mass {
            return MASS_ERASE_PER_MIB * size as u64 / MIB as u64;
        }
        // Assumed (see the timing note at the top): F2/F4 16/64/128 KiB =
        // 250/550/1000 ms; F7 32/128/256 KiB = 250/550/1000 ms (F76x dual-bank
        // 16/64 KiB taken as F4's).
        let ms = match (self.spec.series, size / KIB) {
            (_, 0..=32) => 250,
            (_, 33..=64) => 550,
            (Series::F7, 65..=128) => 550,
            _ => 1000,
        };
        ms * MS
    }

    /// A data write to main flash or OTP (RM0090 §3.6.4 "Programming errors").
    fn program(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) {
        if self.cr & CR_PG == 0 {
            self.fail(SR_PGSERR);
            return;
        }
        if self.psize_width() != Some(width) {
            self.fail(SR_PGPERR);
            return;
        }
        let bytes = value.to_le_bytes()[..width.bytes() as usize].to_vec();
        if acc.by == Initiator::Debugger && self.rdp_level() > 0 {
            self.fail(SR_WRPERR);
            return;
        }
        let op = if self.array.contains(addr) {
            if self.range_protected(&(addr..addr + width.bytes())) {
                self.fail(SR_WRPERR);
                return;
            }
            Op::Program { addr, bytes }
        } else {
            if self.otp_locked(addr) {
                // "A write operation is requested on an OTP area which is
                // already locked" (RM0090 §3.7.4).
                self.fail(SR_WRPERR);
                return;
            }
            Op::ProgramOtp { addr, bytes }
        };
        self.op = Some((acc.now + PROGRAM, op));
    }

    /// OTP data block `addr` belongs to has its lock byte at 0x00 (RM0090 §3.8).
    fn otp_locked(&self, addr: u32) -> bool {
        let (base, len) = self.spec.otp;
        let off = addr - base;
        if off >= len {
            return false; // the lock block itself
        }
        let block = off / (len / 16);
        self.otp.read(base + len + block, AccessWidth::Byte) == 0
    }

    fn write_optcr(&mut self, value: u32, acc: &mut Access) {
        if self.optcr & OPTCR_OPTLOCK != 0 {
            return;
        }
        self.optcr = value & !OPTCR_OPTSTRT;
        if value & OPTCR_OPTSTRT != 0 && value & OPTCR_OPTLOCK == 0 {
            self.optcr |= OPTCR_OPTSTRT;
            self.op = Some((acc.now + OPTION_PROGRAM, Op::Options));
        }
    }

    fn complete(&mut self, op: Op, stats: &mut FlashStats) {
        match op {
            Op::Erase { range, mass } => {
                self.array.erase(range.start, range.end - range.start);
                if mass {
                    stats.mass_erases += 1;
                } else {
                    stats.erases += 1;
                }
            }
            Op::Program { addr, bytes } => {
                self.array.program(addr, &bytes);
                stats.words += 1;
            }
            Op::ProgramOtp { addr, bytes } => self.otp.program(addr, &bytes),
            Op::Options => {
                let was = self.rdp_level();
                self.opt = (self.optcr & !3, self.optcr1);
                // Level 1 -> 0 mass-erases the main flash (RM0090 §3.7.3).
                if was == 1 && self.rdp_level() == 0 {
                    let size = self.spec.flash_size;
                    self.array.erase(FLASH_BASE, size);
                    stats.mass_erases += 1;
                }
                self.optcr &= !OPTCR_OPTSTRT;
            }
        }
        self.cr &= !CR_STRT;
        // EOP only with EOPIE (RM0090 §3.9.6).
        if self.cr & CR_EOPIE != 0 {
            self.sr |= SR_EOP;
        }
    }

    /// The option-byte area: 64-bit words with the value in [15:0] (RM0090
    /// §3.7.1 Table 15). F7 words carry the complement in [31:16] (assumed,
    /// not checked against RM0385/RM0410).
    fn option_byte(&self, off: u32) -> u8 {
        let (cr, cr1) = self.opt;
        let f7 = self.spec.series == Series::F7;
        let value: u32 = match off / 8 {
            0 => (cr & 0xFFFC) | 3,
            1 => cr >> 16,
            2 if f7 => cr1 & 0xFFFF,
            3 if f7 => cr1 >> 16,
            _ => 0xFFFF,
        } & 0xFFFF;
        let word = if f7 { (!value & 0xFFFF) << 16 | value } else { 0xFFFF_0000 | value } as u64 | 0xFFFF_FFFF << 32;
        (word >> (8 * (off % 8))) as u8
    }

    fn option_range(&self) -> Range<u32> {
        let len = if self.spec.series == Series::F7 { 32 } else { 16 };
        self.spec.option_bytes..self.spec.option_bytes + len
    }

    fn configure_wrp(&mut self, value: &str) -> ConfigResult {
        let range = parse_range(value)?;
        if !self.sectors.iter().any(|s| s.range.start < range.end && range.start < s.range.end) {
            return Err(format!("wrp={value}: no sector of the flash lies in that range"));
        }
        for s in self.sectors.clone() {
            if s.range.start < range.end && range.start < s.range.end {
                let (in_cr1, bit) = s.wrp;
                let reg = if in_cr1 { &mut self.opt.1 } else { &mut self.opt.0 };
                *reg &= !(1 << (OPTCR_NWRP_SHIFT + bit));
            }
        }
        Ok(())
    }

    fn set_option_bit(&mut self, key: &str, value: &str, bit: u32, allowed: bool) -> ConfigResult {
        match value {
            "0" | "1" if allowed => {
                self.opt.0 = (self.opt.0 & !bit) | if value == "1" { bit } else { 0 };
                Ok(())
            }
            _ if !allowed => Err(format!("{}: {key}= does not apply to this part", self.name())),
            _ => Err(format!("{}: {key}={value}: expected 0 or 1", self.name())),
        }
    }
}

impl FlashModel for FsModel {
    fn name(&self) -> &'static str {
        match self.spec.series {
            Series::F2 => "F2 flash (RM0033)",
            Series::F4 => "F4 flash (RM0090)",
            Series::F7 => "F7 flash (RM0385/RM0410)",
        }
    }

    fn regions(&self) -> Vec<Range<u32>> {
        vec![self.array.range(), self.otp.range(), self.option_range(), REGS..REGS_END]
    }

    fn is_register(&self, addr: u32) -> bool {
        (REGS..REGS_END).contains(&addr)
    }

    fn advance(&mut self, now: Nanos, stats: &mut FlashStats) {
        if self.op.as_ref().is_some_and(|(end, _)| *end <= now) {
            let (_, op) = self.op.take().expect("checked");
            self.complete(op, stats);
        }
    }

    /// The one operation in progress (program, erase, option write) ends then.
    fn next_event(&self, now: Nanos) -> Option<Nanos> {
        self.op.as_ref().map(|(end, _)| *end).filter(|&t| t > now)
    }

    fn stall_until(&self, addr: u32, write: bool, _by: Initiator, now: Nanos) -> Nanos {
        let Some((end, _)) = &self.op else { return now };
        // Flash reads and writes stall during an operation (RM0090 §3.6), and so
        // do FLASH_CR/OPTCR writes while BSY (RM0090 §3.6.1 note); SR polls do not.
        let stalls = self.blocked().is_some_and(|r| r.contains(&addr))
            || self.otp.contains(addr)
            || (write && (addr == CR || addr == OPTCR || addr == OPTCR1));
        if stalls {
            (*end).max(now)
        } else {
            now
        }
    }

    fn read(&mut self, addr: u32, width: AccessWidth, _acc: &mut Access) -> Result<u32, BusFault> {
        if self.array.contains(addr) {
            return Ok(self.array.read(addr, width));
        }
        if self.otp.contains(addr) {
            return Ok(self.otp.read(addr, width));
        }
        if self.option_range().contains(&addr) {
            let off = addr - self.spec.option_bytes;
            return Ok((0..width.bytes()).fold(0, |v, i| v | (self.option_byte(off + i) as u32) << (8 * i)));
        }
        let word = match addr & !3 {
            ACR => self.acr,
            SR => self.sr | if self.busy() { SR_BSY } else { 0 },
            CR => self.cr,
            OPTCR => self.optcr,
            OPTCR1 => self.optcr1,
            _ => 0, // key registers read 0
        };
        Ok((word >> (8 * (addr & 3))) & width.mask())
    }

    fn write(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) -> Result<(), BusFault> {
        if self.array.contains(addr) || self.otp.contains(addr) {
            self.program(addr, width, value, acc);
            return Ok(());
        }
        if self.option_range().contains(&addr) {
            // The user configuration sector is written through OPTCR only:
            // a direct write is WRPERR (RM0090 §3.7.4).
            self.fail(SR_WRPERR);
            return Ok(());
        }
        // The key registers take word accesses (RM0090 §3.9.3); the others
        // byte, half-word and word: merge narrower writes.
        let shift = 8 * (addr & 3);
        let merge = |old: u32| (old & !(width.mask() << shift)) | (value & width.mask()) << shift;
        match addr & !3 {
            KEYR => return self.write_keyr(value),
            OPTKEYR => return self.write_optkeyr(value),
            ACR => self.acr = merge(self.acr) & 0x1F0F,
            SR => self.sr &= !(merge(0) & self.sr_w1c()),
            CR => {
                let v = merge(self.cr);
                self.write_cr(v, acc)
            }
            OPTCR => {
                let v = merge(self.optcr);
                self.write_optcr(v, acc)
            }
            OPTCR1 if self.optcr & OPTCR_OPTLOCK == 0 => self.optcr1 = merge(self.optcr1),
            _ => {}
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.op = None;
        self.cr = CR_LOCK;
        self.sr = 0;
        self.acr = 0;
        self.key1_seen = false;
        self.optkey1_seen = false;
        self.frozen = false;
        self.opt_frozen = false;
        self.optcr = self.opt.0 | OPTCR_OPTLOCK;
        self.optcr1 = self.opt.1;
        // DB1M / nDBANK take effect at reset.
        self.dual = self.dual_mode();
        self.sectors = self.build_sectors();
    }

    fn debug_readable(&self, addr: u32) -> bool {
        // Level 1: main flash and OTP give a bus error to the debugger; the
        // option bytes stay readable (RM0090 §3.7.3 Table 18).
        !(self.rdp_level() > 0 && (self.array.contains(addr) || self.otp.contains(addr)))
    }

    fn debug_port_disabled(&self) -> bool {
        self.rdp_level() == 2
    }

    fn configure(&mut self, key: &str, value: &str) -> ConfigResult {
        let spec = self.spec;
        match (key, value) {
            ("rdp", "0" | "1" | "2") => {
                let rdp: u32 = match value {
                    "0" => 0xAA,
                    "1" => 0x55,
                    _ => 0xCC,
                };
                self.opt.0 = (self.opt.0 & !0xFF00) | rdp << OPTCR_RDP_SHIFT;
            }
            ("wrp", range) => self.configure_wrp(range)?,
            ("db1m", _) => {
                let ok = spec.bank_mode == BankMode::Db1m && spec.flash_size == MIB;
                self.set_option_bit(key, value, OPTCR_DB1M, ok)?
            }
            ("ndbank", _) => self.set_option_bit(key, value, OPTCR_NDBANK, spec.bank_mode == BankMode::NDbank)?,
            _ => {
                let bank = match spec.bank_mode {
                    BankMode::NDbank => ", ndbank=0|1 (0 = dual bank)",
                    BankMode::Db1m if spec.flash_size == MIB => ", db1m=0|1 (1 = dual bank)",
                    _ => "",
                };
                return Err(format!(
                    "{}: unknown setting {key}={value}; valid: rdp=0|1|2, wrp=<first>-<last> (write-protect \
                     the sectors of that range, in the bank mode set before it){bank}",
                    self.name()
                ));
            }
        }
        self.reset();
        Ok(())
    }

    fn save(&self) -> Vec<(String, Vec<u8>)> {
        let mut options = self.opt.0.to_le_bytes().to_vec();
        options.extend_from_slice(&self.opt.1.to_le_bytes());
        vec![
            ("flash".to_string(), self.array.data.clone()),
            ("otp".to_string(), self.otp.data.clone()),
            ("options".to_string(), options),
        ]
    }

    fn load(&mut self, blobs: &[(String, Vec<u8>)]) -> Result<(), String> {
        let mut flash = false;
        for (name, data) in blobs {
            match name.as_str() {
                "flash" if data.len() == self.array.data.len() => {
                    self.array.data.copy_from_slice(data);
                    flash = true;
                }
                "otp" if data.len() == self.otp.data.len() => self.otp.data.copy_from_slice(data),
                "options" if data.len() == 8 => {
                    let word = |i: usize| u32::from_le_bytes(data[i..i + 4].try_into().expect("4 bytes"));
                    self.opt = (word(0), word(4));
                }
                _ => {
                    return Err(format!(
                        "{}: state blob '{name}' has {} bytes, which does not fit this part",
                        self.name(),
                        data.len()
                    ))
                }
            }
        }
        if !flash {
            return Err(format!("{}: state has no 'flash' blob", self.name()));
        }
        self.reset();
        Ok(())
    }

    fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        self.array.slice(addr, len).or_else(|| self.otp.slice(addr, len)).map(<[u8]>::to_vec)
    }

    fn poke(&mut self, addr: u32, data: &[u8]) -> bool {
        self.array.poke(addr, data) || self.otp.poke(addr, data)
    }

    fn register_facts(&self, f: &mut Facts) {
        let spec = self.spec;
        f.number("FLASH_R_BASE", REGS as u64);
        let mut regs =
            vec![("ACR", ACR), ("KEYR", KEYR), ("OPTKEYR", OPTKEYR), ("SR", SR), ("CR", CR), ("OPTCR", OPTCR)];
        if spec.optcr1_reset != 0 {
            regs.push(("OPTCR1", OPTCR1));
        }
        for (name, addr) in regs {
            f.number(format!("FLASH_TypeDef.{name}"), (addr - REGS) as u64);
        }
        f.number("FLASH_KEY1", KEY1 as u64).number("FLASH_KEY2", KEY2 as u64);
        f.number("FLASH_OPT_KEY1", OPTKEY1 as u64).number("FLASH_OPT_KEY2", OPTKEY2 as u64);
        // F2 names SR bit 1 SOP, F7 bit 7 ERSERR (stm32f207xx.h, stm32f746xx.h).
        let operr = if spec.series == Series::F2 { "SOP" } else { "OPERR" };
        let pgserr = if spec.series == Series::F7 { "ERSERR" } else { "PGSERR" };
        for (name, bit) in [
            ("EOP", SR_EOP),
            (operr, SR_OPERR),
            ("WRPERR", SR_WRPERR),
            ("PGAERR", SR_PGAERR),
            ("PGPERR", SR_PGPERR),
            (pgserr, SR_PGSERR),
            ("BSY", SR_BSY),
        ] {
            f.mask(format!("FLASH_SR_{name}"), bit);
        }
        if spec.rderr {
            f.mask("FLASH_SR_RDERR", SR_RDERR);
        }
        for (name, bit) in
            [("PG", CR_PG), ("SER", CR_SER), ("MER", CR_MER), ("STRT", CR_STRT), ("EOPIE", CR_EOPIE), ("LOCK", CR_LOCK)]
        {
            f.mask(format!("FLASH_CR_{name}"), bit);
        }
        f.field("FLASH_CR_SNB", 3, spec.snb_bits).mask("FLASH_CR_PSIZE", CR_PSIZE);
        if spec.errie {
            f.mask("FLASH_CR_ERRIE", CR_ERRIE);
        }
        if spec.mer2 {
            f.mask("FLASH_CR_MER2", CR_MER2);
        }
        f.mask("FLASH_OPTCR_OPTLOCK", OPTCR_OPTLOCK).mask("FLASH_OPTCR_OPTSTRT", OPTCR_OPTSTRT);
        f.field("FLASH_OPTCR_RDP", OPTCR_RDP_SHIFT, 8).field("FLASH_OPTCR_nWRP", OPTCR_NWRP_SHIFT, spec.nwrp_bits);
        match spec.bank_mode {
            BankMode::Db1m => {
                f.mask("FLASH_OPTCR_DB1M", OPTCR_DB1M);
            }
            BankMode::NDbank => {
                f.mask("FLASH_OPTCR_nDBANK", OPTCR_NDBANK);
            }
            BankMode::Single => {}
        }
        f.number("FLASH_OTP_BASE", spec.otp.0 as u64);
    }
}

/// The register facts of a part of this family, by the names of ST's
/// headers (`crate::facts`).
pub fn register_facts(part: &Part, f: &mut Facts) {
    let dev_id = (part.idcode & 0xFFF) as u16;
    f.identity(part, "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE", "FLASHSIZE_BASE");
    if let Some(p) = crc_peripheral::placement(dev_id) {
        f.crc(p, "CRC_BASE", ("RCC_BASE+RCC_TypeDef.AHB1ENR", "RCC_AHB1ENR_CRCEN"));
    }
    for &(base, size) in part.sram.iter().filter(|(base, _)| *base == 0x1000_0000) {
        f.number("CCMDATARAM_BASE", base as u64).number("CCMDATARAM_END", (base + size - 1) as u64);
    }
    (part.flash)().register_facts(f);
}

// ---------------------------------------------------------------------------
// Simulated parts. DEV_ID: DBGMCU_IDCODE in each RM's debug chapter;
// flash-size register: CMSIS `FLASHSIZE_BASE` (stm32f411xe.h 0x1FFF7A22,
// stm32f746xx.h:1229 0x1FF0F442); sector maps: the RMs' flash organisation
// tables (OpenOCD stm32f2x.c:49-65 has the same); system memory: AN2606
// Table 226; SRAM: the parts' datasheets.

const F4_MAP: &[(u32, u32)] = &[(4, 16 * KIB), (1, 64 * KIB), (1, 128 * KIB)];
const F7_MAP: &[(u32, u32)] = &[(4, 32 * KIB), (1, 128 * KIB), (1, 256 * KIB)];
/// F2/F4 OTP (RM0090 §3.8) and option bytes (§3.7.1).
const F4_OTP: (u32, u32) = (0x1FFF_7800, 512);
const F4_OPTIONS: u32 = 0x1FFF_C000;
/// F7 OTP 0x1FF0F000 (CMSIS stm32f746xx.h:1140): 16 blocks of 64 bytes.
const F7_OTP: (u32, u32) = (0x1FF0_F000, 1024);
const F7_OPTIONS: u32 = 0x1FFF_0000;
/// OPTCR reset values: F2/F4 0x0FFFAAED (RM0090 §3.9.10); F74x 0xC0FFAAFD,
/// F76x 0xFFFFAAFD (RM0385 §3.7.6, RM0410 §3.7.6; not re-checked, so assumed).
const F4_OPTCR: u32 = 0x0FFF_AAED;
/// F42x OPTCR1: nWRP of bank 2 all set (RM0090 §3.9.11 reset 0x0FFF0000).
const F4_OPTCR1: u32 = 0x0FFF_0000;
/// F7 OPTCR1: BOOT_ADD0 = 0x0080 (flash on ITCM), BOOT_ADD1 = 0x0040 (system
/// memory on ITCM): assumed factory values.
const F7_OPTCR1: u32 = 0x0040_0080;

const fn f4(flash_size: u32, snb_bits: u32) -> FsSpec {
    FsSpec {
        series: Series::F4,
        flash_size,
        single: F4_MAP,
        dual: F4_MAP,
        bank_mode: BankMode::Single,
        snb_bits,
        mer2: false,
        rderr: true,
        errie: true,
        nwrp_bits: 12,
        otp: F4_OTP,
        option_bytes: F4_OPTIONS,
        optcr_reset: F4_OPTCR,
        optcr1_reset: 0,
    }
}

/// F2: SNB 5 bits (stm32f207xx.h:6750), no RDERR, no ERRIE.
static F207ZG: FsSpec = FsSpec { series: Series::F2, rderr: false, errie: false, ..f4(1024 * KIB, 5) };
static F401RE: FsSpec = f4(512 * KIB, 5);
static F410RB: FsSpec = FsSpec { single: &[(4, 16 * KIB), (1, 64 * KIB)], ..f4(128 * KIB, 5) };
static F411RE: FsSpec = f4(512 * KIB, 5);
/// F413: 4-bit SNB (CMSIS stm32f413xx.h:6893); 15 nWRP bits in OPTCR, no
/// OPTCR1 (CMSIS stm32f413xx.h FLASH_OPTCR_nWRP, ST HAL stm32f4xx_hal_flash_ex.c
/// writes F413 protection to OPTCR only); OPTCR resets with all of them set.
static F413ZH: FsSpec = FsSpec { nwrp_bits: 15, optcr_reset: 0x7FFF_AAED, ..f4(1536 * KIB, 4) };
/// F446: the MER2 bit exists in its header although it has one bank (CMSIS
/// stm32f446xx.h:6944).
static F446RE: FsSpec = FsSpec { mer2: true, ..f4(512 * KIB, 5) };
static F429ZI: FsSpec = FsSpec { bank_mode: BankMode::Db1m, mer2: true, optcr1_reset: F4_OPTCR1, ..f4(2048 * KIB, 5) };
static F429ZG: FsSpec = FsSpec { flash_size: 1024 * KIB, ..F429ZI };
static F746ZG: FsSpec = FsSpec {
    series: Series::F7,
    flash_size: 1024 * KIB,
    single: F7_MAP,
    dual: F7_MAP,
    bank_mode: BankMode::Single,
    snb_bits: 4,
    mer2: false,
    rderr: false,
    errie: true,
    nwrp_bits: 8,
    otp: F7_OTP,
    option_bytes: F7_OPTIONS,
    optcr_reset: 0xC0FF_AAFD,
    optcr1_reset: F7_OPTCR1,
};
static F767ZI: FsSpec = FsSpec {
    flash_size: 2048 * KIB,
    dual: F4_MAP,
    bank_mode: BankMode::NDbank,
    snb_bits: 5,
    mer2: true,
    nwrp_bits: 12,
    optcr_reset: 0xFFFF_AAFD,
    ..F746ZG
};

/// SW-DP of the Cortex-M3/M4 parts and of the Cortex-M7 F7 (stlink
/// inc/stm32.h:25-45 records 0x2BA01477 for F4 and 0x5BA02477 for F7).
const DPIDR_F2_F4: u32 = 0x2BA0_1477;
const DPIDR_F7: u32 = 0x5BA0_2477;
const CPUID_M3_F2: u32 = 0x412F_C230;
const CPUID_M4: u32 = 0x410F_C241;
const CPUID_M7: u32 = 0x411F_C270;
/// DBGMCU_IDCODE then CR, APB1_FZ, APB2_FZ (RM0090 §38.16).
const DBGMCU: u32 = 0xE004_2000;
const F4_FLASH_SIZE: u32 = 0x1FFF_7A22;
const F7_FLASH_SIZE: u32 = 0x1FF0_F442;
const F4_SYSMEM: (u32, u32) = (0x1FFF_0000, 30 * KIB);
const F7_SYSMEM: (u32, u32) = (0x1FF0_0000, 0xEDC0);

const F4_PART: Part = Part {
    name: "",
    aliases: &[],
    dpidr: DPIDR_F2_F4,
    cpuid: CPUID_M4,
    idcode: 0,
    dbgmcu_addr: DBGMCU,
    dbgmcu_ctrl_words: 3,
    flash_size_addr: F4_FLASH_SIZE,
    flash_size_kib: 0,
    sram: &[],
    system_memory: F4_SYSMEM,
    boot_address: FLASH_BASE,
    voltage_mv: 3300,
    flash: || Box::new(FsModel::new(&F401RE)),
};

pub const PARTS: &[Part] = &[
    Part {
        name: "stm32f207zg",
        aliases: &["f207", "stm32f207", "f207zg"],
        cpuid: CPUID_M3_F2,
        idcode: 0x2000_0411,
        flash_size_kib: 1024,
        sram: &[(0x2000_0000, 128 * KIB)],
        flash: || Box::new(FsModel::new(&F207ZG)),
        ..F4_PART
    },
    Part {
        name: "stm32f401re",
        aliases: &["f401", "stm32f401", "f401re"],
        idcode: 0x1000_0433,
        flash_size_kib: 512,
        sram: &[(0x2000_0000, 96 * KIB)],
        flash: || Box::new(FsModel::new(&F401RE)),
        ..F4_PART
    },
    Part {
        name: "stm32f410rb",
        aliases: &["f410", "stm32f410", "f410rb"],
        idcode: 0x1001_0458,
        flash_size_kib: 128,
        sram: &[(0x2000_0000, 32 * KIB)],
        flash: || Box::new(FsModel::new(&F410RB)),
        ..F4_PART
    },
    Part {
        name: "stm32f411re",
        aliases: &["f411", "stm32f411", "f411re"],
        idcode: 0x1000_0431,
        flash_size_kib: 512,
        sram: &[(0x2000_0000, 128 * KIB)],
        flash: || Box::new(FsModel::new(&F411RE)),
        ..F4_PART
    },
    Part {
        name: "stm32f413zh",
        aliases: &["f413", "stm32f413", "f413zh"],
        idcode: 0x1000_0463,
        flash_size_kib: 1536,
        sram: &[(0x2000_0000, 320 * KIB)],
        flash: || Box::new(FsModel::new(&F413ZH)),
        ..F4_PART
    },
    Part {
        name: "stm32f429zi",
        aliases: &["f429", "stm32f429", "f429zi"],
        idcode: 0x2001_0419,
        flash_size_kib: 2048,
        sram: &[(0x2000_0000, 192 * KIB), (0x1000_0000, 64 * KIB)],
        flash: || Box::new(FsModel::new(&F429ZI)),
        ..F4_PART
    },
    Part {
        name: "stm32f429zg",
        aliases: &["f429zg"],
        idcode: 0x2001_0419,
        flash_size_kib: 1024,
        sram: &[(0x2000_0000, 192 * KIB), (0x1000_0000, 64 * KIB)],
        flash: || Box::new(FsModel::new(&F429ZG)),
        ..F4_PART
    },
    Part {
        name: "stm32f446re",
        aliases: &["f446", "stm32f446", "f446re"],
        idcode: 0x1000_0421,
        flash_size_kib: 512,
        sram: &[(0x2000_0000, 128 * KIB)],
        flash: || Box::new(FsModel::new(&F446RE)),
        ..F4_PART
    },
    Part {
        name: "stm32f746zg",
        aliases: &["f746", "stm32f746", "f746zg"],
        dpidr: DPIDR_F7,
        cpuid: 0x410F_C271,
        idcode: 0x1001_0449,
        flash_size_addr: F7_FLASH_SIZE,
        flash_size_kib: 1024,
        sram: &[(0x2000_0000, 320 * KIB), (0x0000_0000, 16 * KIB)],
        system_memory: F7_SYSMEM,
        flash: || Box::new(FsModel::new(&F746ZG)),
        ..F4_PART
    },
    Part {
        name: "stm32f767zi",
        aliases: &["f767", "stm32f767", "f767zi"],
        dpidr: DPIDR_F7,
        cpuid: CPUID_M7,
        idcode: 0x1001_0451,
        flash_size_addr: F7_FLASH_SIZE,
        flash_size_kib: 2048,
        sram: &[(0x2000_0000, 512 * KIB), (0x0000_0000, 16 * KIB)],
        system_memory: F7_SYSMEM,
        flash: || Box::new(FsModel::new(&F767ZI)),
        ..F4_PART
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Requests;

    struct Bus {
        m: FsModel,
        now: Nanos,
        stats: FlashStats,
        by: Initiator,
    }

    impl Bus {
        fn new(spec: &'static FsSpec) -> Bus {
            Bus { m: FsModel::new(spec), now: 0, stats: FlashStats::default(), by: Initiator::Debugger }
        }
        fn wr(&mut self, addr: u32, width: AccessWidth, value: u32) -> Result<(), BusFault> {
            self.now = self.m.stall_until(addr, true, self.by, self.now);
            self.m.advance(self.now, &mut self.stats);
            let mut req = Requests::default();
            let mut acc = Access { now: self.now, by: self.by, stats: &mut self.stats, requests: &mut req };
            let r = self.m.write(addr, width, value, &mut acc);
            self.now += 1000;
            r
        }
        fn w(&mut self, addr: u32, value: u32) {
            self.wr(addr, AccessWidth::Word, value).expect("register write");
        }
        fn rd(&mut self, addr: u32, width: AccessWidth) -> u32 {
            self.now = self.m.stall_until(addr, false, self.by, self.now);
            self.m.advance(self.now, &mut self.stats);
            let mut req = Requests::default();
            let mut acc = Access { now: self.now, by: self.by, stats: &mut self.stats, requests: &mut req };
            self.m.read(addr, width, &mut acc).expect("read")
        }
        fn r(&mut self, addr: u32) -> u32 {
            self.rd(addr, AccessWidth::Word)
        }
        fn unlock(&mut self) {
            self.w(KEYR, KEY1);
            self.w(KEYR, KEY2);
        }
        fn settle(&mut self) {
            self.now += 20_000 * MS;
            self.m.advance(self.now, &mut self.stats);
        }
        fn erase(&mut self, snb: u32) {
            let cr = CR_SER | snb << 3 | 2 << 8;
            self.w(CR, cr);
            self.w(CR, cr | CR_STRT);
            self.settle();
        }
        fn peek(&self, addr: u32, len: usize) -> Vec<u8> {
            self.m.peek(addr, len).unwrap()
        }
    }

    #[test]
    fn keys_unlock_once_and_a_wrong_or_repeated_key_locks_until_reset() {
        let mut b = Bus::new(&F411RE);
        assert_eq!(b.r(CR), CR_LOCK);
        b.unlock();
        assert_eq!(b.r(CR), 0);
        assert_eq!(b.wr(KEYR, AccessWidth::Word, KEY1), Err(BusFault), "second sequence");
        assert_eq!(b.r(CR), CR_LOCK);
        b.w(CR, CR_PG);
        assert_eq!(b.r(CR), CR_LOCK, "locked: CR takes no writes");
        b.m.reset();
        b.w(KEYR, KEY1);
        assert_eq!(b.wr(KEYR, AccessWidth::Word, 0), Err(BusFault));
        assert!(b.wr(KEYR, AccessWidth::Word, KEY1).is_err(), "locked until reset");
        b.m.reset();
        b.unlock();
        assert_eq!(b.r(CR), 0);
    }

    #[test]
    fn sector_erase_by_snb_and_sector_sizes() {
        let mut b = Bus::new(&F411RE);
        b.m.poke(0x0800_0000, &vec![0; 0x4_0000]);
        b.unlock();
        b.erase(4);
        assert_eq!(b.peek(0x0801_0000, 0x1_0000), vec![0xFF; 0x1_0000], "sector 4 = 64 KiB at 0x08010000");
        assert_eq!(b.peek(0x0800_FFFF, 1), [0], "sector 3 kept");
        assert_eq!(b.peek(0x0802_0000, 1), [0], "sector 5 kept");
        // An SNB past the last sector is WRPERR, nothing erased.
        b.erase(8);
        assert_eq!(b.r(SR) & SR_WRPERR, SR_WRPERR);
        assert_eq!(b.stats.erases, 1);
        // EOP only with EOPIE.
        assert_eq!(b.r(SR) & SR_EOP, 0);
        b.w(SR, SR_W1C);
        b.w(CR, CR_SER | 5 << 3 | 2 << 8 | CR_EOPIE);
        let t0 = b.now;
        b.w(CR, CR_SER | 5 << 3 | 2 << 8 | CR_EOPIE | CR_STRT);
        assert_eq!(b.r(SR) & SR_BSY, SR_BSY);
        // A flash read stalls until the erase (128 KiB: 1 s) is over, and so does
        // a CR write.
        assert_eq!(b.rd(0x0802_0000, AccessWidth::Word), 0xFFFF_FFFF);
        assert!(b.now - t0 >= 1000 * MS - 10_000, "{}", b.now - t0);
        assert_eq!(b.r(SR), SR_EOP);
    }

    #[test]
    fn programming_needs_pg_and_the_psize_width() {
        let mut b = Bus::new(&F411RE);
        b.unlock();
        b.wr(0x0800_0000, AccessWidth::Word, 0x1234_5678).unwrap();
        assert_eq!(b.r(SR), SR_PGSERR, "write without PG");
        assert_eq!(b.peek(0x0800_0000, 4), [0xFF; 4]);
        b.w(SR, SR_W1C);
        b.w(CR, CR_PG | 2 << 8);
        b.wr(0x0800_0000, AccessWidth::Byte, 0x12).unwrap();
        assert_eq!(b.r(SR), SR_PGPERR, "byte write with PSIZE x32");
        b.w(SR, SR_W1C);
        b.wr(0x0800_0000, AccessWidth::Word, 0x1234_5678).unwrap();
        b.settle();
        assert_eq!(b.peek(0x0800_0000, 4), [0x78, 0x56, 0x34, 0x12]);
        // Bits only go from 1 to 0 without an erase (RM0090 §3.6.4 note).
        b.wr(0x0800_0000, AccessWidth::Word, 0xFFFF_0000).unwrap();
        b.settle();
        assert_eq!((b.peek(0x0800_0000, 4), b.r(SR)), (vec![0, 0, 0x34, 0x12], 0));
        // x8: bytes only.
        b.w(CR, CR_PG);
        b.wr(0x0800_0010, AccessWidth::Word, 0).unwrap();
        assert_eq!(b.r(SR), SR_PGPERR);
        b.w(SR, SR_W1C);
        b.wr(0x0800_0010, AccessWidth::Byte, 0x5A).unwrap();
        b.settle();
        assert_eq!(b.peek(0x0800_0010, 2), [0x5A, 0xFF]);
        // x64 is never possible over this bus.
        b.w(CR, CR_PG | 3 << 8);
        b.wr(0x0800_0020, AccessWidth::Word, 0).unwrap();
        assert_eq!(b.r(SR), SR_PGPERR);
        // ERRIE adds OPERR.
        b.w(SR, SR_W1C);
        b.w(CR, CR_PG | CR_ERRIE);
        b.wr(0x0800_0020, AccessWidth::Word, 0).unwrap();
        assert_eq!(b.r(SR), SR_PGPERR | SR_OPERR);
        assert_eq!(b.stats.words, 3);
    }

    #[test]
    fn f429_bank2_sectors_are_snb_16_and_up() {
        let mut b = Bus::new(&F429ZI);
        b.m.poke(0x0810_0000, &[0; 4]);
        b.m.poke(0x0800_0000, &[0; 4]);
        b.unlock();
        // SNB 12 does not exist on a 2 MiB part (RM0090 §3.9.8).
        b.erase(12);
        assert_eq!(b.r(SR) & SR_WRPERR, SR_WRPERR);
        assert_eq!(b.peek(0x0810_0000, 4), [0; 4]);
        b.w(SR, SR_W1C);
        b.erase(0x10);
        assert_eq!(b.peek(0x0810_0000, 4), [0xFF; 4], "SNB 0b10000 = bank 2 sector 0 (sector 12)");
        assert_eq!(b.peek(0x0800_0000, 4), [0; 4]);
        // MER erases bank 1, MER1 (bit 15) bank 2.
        b.m.poke(0x0810_0000, &[0; 4]);
        b.w(CR, CR_MER | 2 << 8 | CR_STRT);
        b.settle();
        assert_eq!((b.peek(0x0800_0000, 4), b.peek(0x0810_0000, 4)), (vec![0xFF; 4], vec![0; 4]));
        b.w(CR, CR_MER2 | 2 << 8 | CR_STRT);
        b.settle();
        assert_eq!(b.peek(0x0810_0000, 4), [0xFF; 4]);
        assert_eq!(b.stats.mass_erases, 2);
        // SER together with MER: WRPERR, nothing erased.
        b.m.poke(0x0800_0000, &[0; 4]);
        b.w(CR, CR_SER | CR_MER | 2 << 8 | CR_STRT);
        b.settle();
        assert_eq!((b.r(SR) & SR_WRPERR, b.peek(0x0800_0000, 4)), (SR_WRPERR, vec![0; 4]));
    }

    #[test]
    fn db1m_changes_the_map_at_reset() {
        let mut b = Bus::new(&F429ZG);
        // Single bank: sector 8 is the 128 KiB at 0x08080000.
        b.m.poke(0x0808_0000, &[0; 4]);
        b.unlock();
        b.erase(8);
        assert_eq!(b.peek(0x0808_0000, 4), [0xFF; 4]);
        b.m.configure("db1m", "1").unwrap();
        assert_eq!(b.r(OPTCR) & OPTCR_DB1M, OPTCR_DB1M);
        b.m.poke(0x0808_0000, &[0; 4]);
        b.unlock();
        // Dual bank: sector 8 is not valid; bank 2 sector 0 (SNB 0x10) is 16 KiB.
        b.erase(8);
        assert_eq!((b.r(SR) & SR_WRPERR, b.peek(0x0808_0000, 4)), (SR_WRPERR, vec![0; 4]));
        b.w(SR, SR_W1C);
        b.m.poke(0x0808_4000, &[0; 4]);
        b.erase(0x10);
        assert_eq!((b.peek(0x0808_0000, 4), b.peek(0x0808_4000, 4)), (vec![0xFF; 4], vec![0; 4]));
        assert!(FsModel::new(&F429ZI).configure("db1m", "1").is_err(), "2 MiB parts are always dual");
    }

    #[test]
    fn f413_drops_snb_bit_4_so_sector_16_erases_sector_0() {
        // st-flash numbers F413 sectors at or above 1 MiB like F42x bank 2
        // (SNB 16 + n: stlink src/stlink-lib/calculate.c:15-36,
        // common_flash.c:1036-1040); the 4-bit SNB field drops bit 4.
        let mut b = Bus::new(&F413ZH);
        b.m.poke(0x0800_0000, &[0; 4]);
        b.m.poke(0x0810_0000, &[0; 4]);
        b.unlock();
        b.erase(0x10);
        assert_eq!((b.peek(0x0800_0000, 4), b.peek(0x0810_0000, 4)), (vec![0xFF; 4], vec![0; 4]));
        // Sector 13 is the 128 KiB at 0x08120000... 12 at 0x08100000.
        b.erase(12);
        assert_eq!(b.peek(0x0810_0000, 4), [0xFF; 4]);
    }

    #[test]
    fn f767_ndbank_selects_the_map() {
        let mut b = Bus::new(&F767ZI);
        b.m.poke(0x0800_0000, &[0; 0x8000]);
        b.unlock();
        b.erase(0);
        assert_eq!(b.peek(0x0800_7FFF, 1), [0xFF], "single bank: sector 0 is 32 KiB");
        b.m.configure("ndbank", "0").unwrap();
        assert_eq!(b.r(OPTCR) & OPTCR_NDBANK, 0);
        b.m.poke(0x0800_0000, &[0; 0x8000]);
        b.unlock();
        b.erase(0);
        assert_eq!((b.peek(0x0800_3FFF, 1), b.peek(0x0800_4000, 1)), (vec![0xFF], vec![0]), "dual: 16 KiB");
        b.m.poke(0x0810_0000, &[0; 4]);
        b.erase(0x10 | 5);
        assert_eq!(b.peek(0x0812_0000, 4), [0xFF; 4], "bank 2 sector 5 = 128 KiB at 0x08120000");
        assert_eq!(b.peek(0x0810_0000, 4), [0; 4]);
    }

    #[test]
    fn write_protection_and_read_protection() {
        let mut b = Bus::new(&F411RE);
        b.m.configure("wrp", "0x08004000-0x08004000").unwrap();
        assert_eq!(b.r(OPTCR) >> 16 & 0xFFF, 0xFFD, "nWRP1 cleared");
        b.m.poke(0x0800_4000, &[0; 4]);
        b.unlock();
        b.erase(1);
        assert_eq!((b.r(SR) & SR_WRPERR, b.peek(0x0800_4000, 4)), (SR_WRPERR, vec![0; 4]));
        b.w(SR, SR_W1C);
        b.w(CR, CR_MER | 2 << 8 | CR_STRT);
        b.settle();
        assert_eq!(b.r(SR) & SR_WRPERR, SR_WRPERR, "mass erase refused with a protected sector");
        b.w(SR, SR_W1C);
        b.w(CR, CR_PG | 2 << 8);
        b.wr(0x0800_4004, AccessWidth::Word, 0).unwrap();
        assert_eq!((b.r(SR), b.peek(0x0800_4004, 4)), (SR_WRPERR, vec![0xFF; 4]));
        // Level 1: debug reads of flash and OTP fault, option bytes stay readable.
        let mut p = Bus::new(&F411RE);
        p.m.configure("rdp", "1").unwrap();
        assert!(!p.m.debug_readable(0x0800_0000) && !p.m.debug_readable(0x1FFF_7800));
        assert!(p.m.debug_readable(0x1FFF_C000));
        assert_eq!(p.r(OPTCR) >> 8 & 0xFF, 0x55);
        p.unlock();
        p.erase(0);
        assert_eq!(p.r(SR) & SR_WRPERR, SR_WRPERR);
    }

    #[test]
    fn option_start_programs_options_and_level1_to_0_erases() {
        let mut b = Bus::new(&F401RE);
        b.m.configure("rdp", "1").unwrap();
        b.m.poke(0x0800_0000, &[0; 4]);
        b.by = Initiator::Cpu;
        b.w(OPTCR, 0x0FFF_AAEC);
        assert_eq!(b.r(OPTCR) >> 8 & 0xFF, 0x55, "OPTLOCK set: ignored");
        b.w(OPTKEYR, OPTKEY1);
        b.w(OPTKEYR, OPTKEY2);
        assert_eq!(b.r(OPTCR) & OPTCR_OPTLOCK, 0);
        b.w(OPTCR, 0x0FFF_AAEC | OPTCR_OPTSTRT);
        assert_eq!(b.r(SR) & SR_BSY, SR_BSY);
        b.settle();
        assert_eq!(b.peek(0x0800_0000, 4), [0xFF; 4]);
        assert!(b.m.debug_readable(0x0800_0000));
        assert_eq!(b.rd(0x1FFF_C000, AccessWidth::Half) >> 8, 0xAA, "option bytes show RDP");
    }

    #[test]
    fn otp_programs_once_per_block_until_locked() {
        let mut b = Bus::new(&F411RE);
        b.unlock();
        b.w(CR, CR_PG | 2 << 8);
        b.wr(0x1FFF_7800, AccessWidth::Word, 0x1234_5678).unwrap();
        b.settle();
        assert_eq!(b.peek(0x1FFF_7800, 4), [0x78, 0x56, 0x34, 0x12]);
        // Lock block 0 (lock byte at 0x1FFF7A00).
        b.w(CR, CR_PG);
        b.wr(0x1FFF_7A00, AccessWidth::Byte, 0).unwrap();
        b.settle();
        b.w(CR, CR_PG | 2 << 8);
        b.wr(0x1FFF_7804, AccessWidth::Word, 0).unwrap();
        assert_eq!((b.r(SR), b.peek(0x1FFF_7804, 4)), (SR_WRPERR, vec![0xFF; 4]));
    }

    #[test]
    fn configure_rejects_unknown_keys() {
        let mut m = FsModel::new(&F767ZI);
        let e = m.configure("dbank", "1").unwrap_err();
        assert!(e.contains("ndbank=0|1") && e.contains("rdp=") && e.contains("wrp="), "{e}");
        assert!(FsModel::new(&F411RE).configure("ndbank", "0").is_err());
        assert!(m.configure("wrp", "0x0900_0000-0x0900_0001").is_err());
    }

    #[test]
    fn save_and_load_keep_flash_otp_and_options() {
        let mut m = FsModel::new(&F767ZI);
        m.configure("ndbank", "0").unwrap();
        m.poke(0x0810_0000, &[7]);
        let mut n = FsModel::new(&F767ZI);
        n.load(&m.save()).unwrap();
        assert_eq!(n.peek(0x0810_0000, 1), Some(vec![7]));
        assert!(n.dual);
        assert!(n.load(&[("otp".into(), vec![0; 3])]).is_err());
    }
}
