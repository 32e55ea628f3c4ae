//! STM32H5 flash model, written from RM0481 and the register descriptions
//! (ST's own wording) in ST's SVD file for the H563.
//!
//! What it models:
//! - NSKEYR unlocks NSCR.LOCK (bit 0); a wrong key or a second sequence locks
//!   until reset; setting LOCK leaves the other NSCR bits as they were;
//! - two banks of 8 KiB sectors, bank 2 at half the flash; NSCR.BKSEL names
//!   the physical bank, so with SWAP_BANK set the address 0x08000000 is in
//!   physical bank 2;
//! - sector erase (SER, SNB bits 12:6, BKSEL, STRT bit 5), bank erase (BER),
//!   mass erase (MER); 1.5 ms per sector, 22 ms per bank (assumed, see
//!   `SECTOR_TIME`);
//! - programming with PG through a 16-byte write buffer: accesses of any width
//!   fill it, the flash word is written when all 16 bytes are in (82 µs) or
//!   when FW forces it (missing bytes 0xFF); WBNE while it is partly filled;
//! - errors, cleared by writing 1 to NSCCR (bits 16-23): STRBERR (a byte
//!   written twice into the buffer), INCERR (a write to another flash word
//!   while the buffer is partly filled), PGSERR (STRT without exactly one of
//!   SER/BER/MER, a flash write with PG clear, a new operation while an error
//!   is still set), WRPERR (sector group protected, product state closing
//!   debug access, or TrustZone on); nothing happens on an error;
//! - product state (OPTSR_CUR bits 15:8) in place of RDP, write protection by
//!   groups of four sectors (WRPxR_CUR, 0 = protected), OPTSR2.TZEN;
//! - option changes (RM0481 §7.4.3):
//!   OPTKEYR unlocks OPTCR; OPTSR_PRG, OPTSR2_PRG, NSBOOTR_PRG and WRPxR_PRG
//!   take new values while OPTLOCK is clear; OPTCR.OPTSTRT (bit 1) applies
//!   them after a modeled 2 ms (assumed; NSSR.BSY meanwhile), except
//!   SWAP_BANK, which takes effect at the next reset (ST's SVD text for
//!   OPTCR.SWAP_BANK: "loaded … only after reset or POR"). A
//!   product-state regression to Open, or any change from Locked, ends with
//!   OPTCHANGEERR (NSSR bit 23) and changes nothing: on silicon a regression
//!   needs debug authentication, which is not modeled (assumed).
//!
//! Dies (`H5Die`): the H503 (RM0492; CMSIS stm32h503xx.h) has a 3-bit SNB
//! (8 sectors per bank), one WRPSG bit per sector, neither TrustZone
//! (OPTSR2.TZEN) nor OPTSR.BOOT_UBE nor EDATA; the H523/H533 (RM0481;
//! stm32h523xx.h) a 5-bit SNB, WRPSG bits of four sectors, TrustZone and
//! EDATA; the H563 a 7-bit SNB. The high-cycle data area (EDATA1R/EDATA2R,
//! CUR at 0xF0/0x1F0, PRG 4 above: EDATA_STRT 2:0 = sectors − 1, EDATA_EN
//! 15; stm32h523xx.h:556, 572, 7388-7391) takes the last sectors of its
//! physical bank (assumed); erasing or programming them through the main
//! flash raises WRPERR (assumed), a bank or mass erase of a bank holding
//! them too (assumed); the EDATA window at 0x09000000 is not modeled.
//!
//! Assumed, for want of RM text (no knob changes them): the buffer is dropped
//! on STRBERR and INCERR; out-of-range sector numbers raise PGSERR; with
//! TrustZone on every sector counts as secure; in the Closed and
//! iROT-Provisioned states the debug port still answers (on silicon it closes,
//! except for debug authentication) while flash reads fault, so that stflash's
//! message can be seen; a debugger read of a flash word programmed twice
//! faults (broken ECC; what an AHB-AP read returns there is not documented).

use std::ops::Range;

use crate::facts::Facts;
use crate::model::{
    parse_ranges, saved_blob, Access, AccessWidth, BusFault, ConfigResult, FlashArray, FlashModel, FlashStats,
    Initiator, KeyLatch, Nanos, PendingOp, MS, US,
};
use crate::parts::Part;

const KIB: u32 = 1024;
const FLASH_BASE: u32 = 0x0800_0000;
const SECTOR: u32 = 8 * KIB;
const WORD: u32 = 16;
const REGS: Range<u32> = 0x4002_2000..0x4002_2400;
/// 2 KiB OTP (CMSIS stm32h563xx.h:2110-2111).
const OTP: Range<u32> = 0x08FF_F000..0x08FF_F800;

// Register offsets (CMSIS `FLASH_TypeDef` in stm32h563xx.h).
const ACR: u32 = 0x00;
const NSKEYR: u32 = 0x04;
const OPTKEYR: u32 = 0x0C;
const OPTCR: u32 = 0x1C;
const NSSR: u32 = 0x20;
const NSCR: u32 = 0x28;
const NSCCR: u32 = 0x30;
const OPTSR_CUR: u32 = 0x50;
const OPTSR_PRG: u32 = 0x54;
const OPTSR2_CUR: u32 = 0x70;
const OPTSR2_PRG: u32 = 0x74;
const NSBOOTR_CUR: u32 = 0x80;
const NSBOOTR_PRG: u32 = 0x84;
const WRP1R_CUR: u32 = 0xE8;
const WRP1R_PRG: u32 = 0xEC;
const WRP2R_CUR: u32 = 0x1E8;
const WRP2R_PRG: u32 = 0x1EC;

// NSSR.
const BSY: u32 = 1 << 0;
const WBNE: u32 = 1 << 1;
const EOP: u32 = 1 << 16;
const WRPERR: u32 = 1 << 17;
const PGSERR: u32 = 1 << 18;
const STRBERR: u32 = 1 << 19;
const INCERR: u32 = 1 << 20;
const OPTCHANGEERR: u32 = 1 << 23;
/// EOP and every error flag: the bits NSCCR clears.
const CLEARABLE: u32 = 0x00FF_0000;
const BLOCKING_ERRORS: u32 = WRPERR | PGSERR | STRBERR | INCERR;

// NSCR.
const LOCK: u32 = 1 << 0;
const PG: u32 = 1 << 1;
const SER: u32 = 1 << 2;
const BER: u32 = 1 << 3;
const FW: u32 = 1 << 4;
const STRT: u32 = 1 << 5;
const SNB_SHIFT: u32 = 6;
const SNB_MASK: u32 = 0x7F;
const MER: u32 = 1 << 15;
const BKSEL: u32 = 1 << 31;

// OPTCR / OPTSR.
const OPTLOCK: u32 = 1 << 0;
const OPTSTRT: u32 = 1 << 1;
const SWAP_BANK: u32 = 1 << 31;
/// OPTSR bits held apart from the user bits: product state and SWAP_BANK.
const OPTSR_APART: u32 = 0xFF << PRODUCT_STATE_SHIFT | SWAP_BANK;
/// NSBOOTR as shipped: NSBOOTADD 0x080000 (boot from 0x08000000), NSBOOT_LOCK
/// 0xC3 (unlocked) (RM0481 FLASH_NSBOOTR; not re-checked, so assumed).
const NSBOOTR_DEFAULT: u32 = 0x0800_00C3;
/// Option change time: assumed.
const OPTION_CHANGE: Nanos = 2 * MS;
const PRODUCT_STATE_SHIFT: u32 = 8;
/// User option bits as shipped, product state and swap apart (watchdogs by
/// software, no reset on Stop/Standby, BOOT_UBE 0xB4): illustrative.
const OPTSR_USER_DEFAULT: u32 = 0x2D30_00D8;
const TZEN_SHIFT: u32 = 24;
const TZ_ENABLED: u32 = 0xB4;
const TZ_DISABLED: u32 = 0xC3;

// Product states (ST HAL stm32h5xx_hal_flash_ex.h OB_PROD_STATE_*).
const OPEN: u8 = 0xED;
const PROVISIONING: u8 = 0x17;
const TZ_CLOSED: u8 = 0xC6;
const CLOSED: u8 = 0x72;
const LOCKED: u8 = 0x5C;

const KEYS: [u32; 2] = [0x4567_0123, 0xCDEF_89AB];
const OPTKEYS: [u32; 2] = [0x0819_2A3B, 0x4C5D_6E7F];

/// What differs between the simulated dies.
#[derive(Debug)]
pub struct H5Die {
    /// Width of NSCR.SNB (CMSIS: H503 3 bits, H523 5, H563 7).
    snb_bits: u32,
    /// Sectors one WRPxR bit protects (H503 1, else 4).
    wrp_per_bit: u32,
    /// OPTSR2.TZEN and OPTSR.BOOT_UBE exist (not on the H503).
    trustzone: bool,
    /// EDATA1R/EDATA2R exist (H523/H533, H56x).
    edata: bool,
}

/// H562/H563/H573 (stm32h563xx.h).
pub static H56X: H5Die = H5Die { snb_bits: 7, wrp_per_bit: 4, trustzone: true, edata: true };
/// H523/H533 (stm32h523xx.h:7190 SNB 5 bits, 7383 WRPSG 8 bits of four sectors).
pub static H52X: H5Die = H5Die { snb_bits: 5, ..H56X };
/// H503 (stm32h503xx.h:5450 SNB 3 bits, 5599 WRPSG 8 bits of one sector).
pub static H503: H5Die = H5Die { snb_bits: 3, wrp_per_bit: 1, trustzone: false, edata: false };

/// OPTSR.BOOT_UBE, bits 29:22 (stm32h563xx.h:10021), absent on the H503.
const BOOT_UBE: u32 = 0xFF << 22;
const EDATA1R_CUR: u32 = 0xF0;
const EDATA1R_PRG: u32 = 0xF4;
const EDATA2R_CUR: u32 = 0x1F0;
const EDATA2R_PRG: u32 = 0x1F4;
const EDATA_EN: u32 = 1 << 15;
const EDATA_STRT: u32 = 0x7;

// Operation times: assumed, not measured; `flash-time=F` scales them (the
// L4's recalled 82 µs per flash word; the U5's 1.5 ms per 8 KiB sector;
// 22 ms per bank).
const WORD_TIME: Nanos = 82 * US;
const SECTOR_TIME: Nanos = 1500 * US;
const BANK_TIME: Nanos = 22 * MS;

/// Erase offsets are from the array's base.
type Op = PendingOp<{ WORD as usize }>;

/// The option registers software edits: OPTSR_PRG, OPTSR2_PRG, NSBOOTR_PRG,
/// WRP1R_PRG, WRP2R_PRG, EDATA1R_PRG, EDATA2R_PRG.
type Programmed = [u32; 7];

/// The write buffer: the flash word it belongs to and the bytes written so far.
#[derive(Debug, Clone)]
struct Buffer {
    addr: u32,
    data: [u8; WORD as usize],
    written: u16,
}

/// The H5 flash controller and its two banks.
pub struct H5Model {
    die: &'static H5Die,
    size: u32,
    /// Physical layout: bank 1 then bank 2 (the logical order unless swapped).
    array: FlashArray,
    nscr: u32,
    nssr: u32,
    optcr: u32,
    acr: u32,
    key: KeyLatch,
    opt_key: KeyLatch,
    product_state: u8,
    tzen: u32,
    /// Banks swapped now (SWAP_BANK as loaded at the last reset).
    swap: bool,
    /// SWAP_BANK option stored, in force after the next reset.
    swap_opt: bool,
    /// OPTSR user bits in force (everything but product state and SWAP_BANK).
    user: u32,
    nsboot: u32,
    prg: Programmed,
    /// WRP1R_CUR, WRP2R_CUR: one bit per sector or group of four, 0 = protected.
    wrp: [u32; 2],
    /// EDATA1R_CUR, EDATA2R_CUR.
    edata: [u32; 2],
    buffer: Option<Buffer>,
    busy: Option<(Nanos, Op)>,
}

impl H5Model {
    /// An H563 of `size` bytes.
    pub fn new(size: u32) -> H5Model {
        H5Model::of(&H56X, size)
    }

    pub fn of(die: &'static H5Die, size: u32) -> H5Model {
        let mut m = H5Model {
            die,
            size,
            array: FlashArray::new(FLASH_BASE, size, 0xFF, WORD),
            nscr: 0,
            nssr: 0,
            optcr: 0,
            acr: 0,
            key: KeyLatch::default(),
            opt_key: KeyLatch::default(),
            product_state: OPEN,
            tzen: TZ_DISABLED,
            swap: false,
            swap_opt: false,
            user: if die.trustzone { OPTSR_USER_DEFAULT } else { OPTSR_USER_DEFAULT & !BOOT_UBE },
            nsboot: NSBOOTR_DEFAULT,
            prg: [0; 7],
            wrp: [u32::MAX; 2],
            edata: [0; 2],
            buffer: None,
            busy: None,
        };
        m.reset();
        m
    }

    fn bank_size(&self) -> u32 {
        self.size / 2
    }

    /// The physical array address behind a bus address (banks swapped or not).
    fn phys(&self, addr: u32) -> u32 {
        if !self.swap {
            return addr;
        }
        let off = addr - FLASH_BASE;
        FLASH_BASE + (off + self.bank_size()) % self.size
    }

    /// The physical bank and sector of a bus address.
    fn sector_of(&self, addr: u32) -> (u32, u32) {
        let off = self.phys(addr) - FLASH_BASE;
        (off / self.bank_size(), off % self.bank_size() / SECTOR)
    }

    fn protected(&self, bank: u32, sector: u32) -> bool {
        self.wrp[bank as usize] & (1 << (sector / self.die.wrp_per_bit)) == 0 || self.in_edata(bank, sector)
    }

    /// The sector is one of the last of its physical bank given to EDATA.
    fn in_edata(&self, bank: u32, sector: u32) -> bool {
        let r = self.edata[bank as usize];
        let per_bank = self.bank_size() / SECTOR;
        self.die.edata && r & EDATA_EN != 0 && sector + (r & EDATA_STRT) + 1 >= per_bank
    }

    fn optsr2(&self) -> u32 {
        if self.die.trustzone {
            self.tzen << TZEN_SHIFT
        } else {
            0
        }
    }

    fn debug_open(&self) -> bool {
        matches!(self.product_state, OPEN | PROVISIONING | TZ_CLOSED)
    }

    fn access_denied(&self, by: Initiator) -> bool {
        (self.die.trustzone && self.tzen == TZ_ENABLED) || (by == Initiator::Debugger && !self.debug_open())
    }

    fn fail(&mut self, flags: u32) {
        self.nssr |= flags;
        self.buffer = None;
    }

    fn start(&mut self, now: Nanos, time: Nanos, op: Op) {
        self.busy = Some((now + time, op));
        self.nssr |= BSY;
    }

    fn optsr(&self) -> u32 {
        self.user | (self.product_state as u32) << PRODUCT_STATE_SHIFT | if self.swap_opt { SWAP_BANK } else { 0 }
    }

    /// The *_PRG registers follow the values in force after a reset.
    fn in_force(&self) -> Programmed {
        [self.optsr(), self.optsr2(), self.nsboot, self.wrp[0], self.wrp[1], self.edata[0], self.edata[1]]
    }

    /// OPTSTRT completes: the programmed values take effect.
    fn apply_options(&mut self) {
        let [optsr, optsr2, nsboot, wrp1, wrp2, edata1, edata2] = self.prg;
        let state = (optsr >> PRODUCT_STATE_SHIFT) as u8;
        let regression = state != self.product_state && state == OPEN;
        if self.product_state == LOCKED || regression {
            self.nssr |= OPTCHANGEERR;
            return;
        }
        self.product_state = state;
        self.user = optsr & !OPTSR_APART;
        self.swap_opt = optsr & SWAP_BANK != 0;
        if self.die.trustzone {
            self.tzen = optsr2 >> TZEN_SHIFT;
        }
        self.nsboot = nsboot;
        self.wrp = [wrp1, wrp2];
        if self.die.edata {
            self.edata = [edata1 & (EDATA_EN | EDATA_STRT), edata2 & (EDATA_EN | EDATA_STRT)];
        }
    }

    fn read_reg(&self, off: u32) -> u32 {
        match off {
            ACR => self.acr,
            OPTCR => self.optcr,
            NSSR => self.nssr | if self.buffer.is_some() { WBNE } else { 0 },
            NSCR => self.nscr,
            OPTSR_CUR => self.optsr(),
            OPTSR2_CUR => self.optsr2(),
            NSBOOTR_CUR => self.nsboot,
            WRP1R_CUR => self.wrp[0],
            WRP2R_CUR => self.wrp[1],
            OPTSR_PRG => self.prg[0],
            OPTSR2_PRG => self.prg[1],
            NSBOOTR_PRG => self.prg[2],
            WRP1R_PRG => self.prg[3],
            WRP2R_PRG => self.prg[4],
            EDATA1R_CUR if self.die.edata => self.edata[0],
            EDATA2R_CUR if self.die.edata => self.edata[1],
            EDATA1R_PRG if self.die.edata => self.prg[5],
            EDATA2R_PRG if self.die.edata => self.prg[6],
            // NSCCR is write-only.
            _ => 0,
        }
    }

    fn write_reg(&mut self, off: u32, value: u32, acc: &mut Access) {
        match off {
            ACR => self.acr = value & 0x13F,
            NSKEYR => {
                if self.key.write(self.nscr & LOCK != 0, value, KEYS) {
                    self.nscr |= LOCK;
                } else {
                    self.nscr &= !LOCK;
                }
            }
            OPTKEYR => {
                if self.opt_key.write(self.optcr & OPTLOCK != 0, value, OPTKEYS) {
                    self.optcr |= OPTLOCK;
                } else {
                    self.optcr &= !OPTLOCK;
                }
            }
            OPTCR if self.optcr & OPTLOCK != 0 => {}
            OPTCR => {
                self.optcr |= value & OPTLOCK;
                if value & OPTSTRT != 0 && value & OPTLOCK == 0 && self.busy.is_none() {
                    self.start(acc.now, OPTION_CHANGE, Op::Options);
                }
            }
            NSCCR => self.nssr &= !(value & CLEARABLE),
            NSCR => self.write_nscr(value, acc),
            o if self.optcr & OPTLOCK == 0 => {
                let i = match o {
                    OPTSR_PRG => 0,
                    OPTSR2_PRG => 1,
                    NSBOOTR_PRG => 2,
                    WRP1R_PRG => 3,
                    WRP2R_PRG => 4,
                    EDATA1R_PRG if self.die.edata => 5,
                    EDATA2R_PRG if self.die.edata => 6,
                    _ => return,
                };
                self.prg[i] = value;
            }
            // NSSR is read-only.
            _ => {}
        }
    }

    fn write_nscr(&mut self, value: u32, acc: &mut Access) {
        if self.nscr & LOCK != 0 {
            return;
        }
        if value & LOCK != 0 {
            // "When LOCK changes from 0 to 1, the other bits … do not change."
            self.nscr |= LOCK;
            return;
        }
        self.nscr = value & !(STRT | FW) | self.nscr & STRT;
        if value & FW != 0 && self.buffer.is_some() {
            self.force_write(acc.now);
        }
        if value & STRT != 0 && self.busy.is_none() {
            self.start_erase(acc);
        }
    }

    /// STRT: exactly one of SER, BER, MER.
    fn start_erase(&mut self, acc: &mut Access) {
        let cr = self.nscr;
        let ops = [SER, BER, MER].iter().filter(|&&b| cr & b != 0).count();
        if ops != 1 || cr & PG != 0 || self.nssr & BLOCKING_ERRORS != 0 {
            return self.fail(PGSERR);
        }
        if self.access_denied(acc.by) {
            return self.fail(WRPERR);
        }
        let bank = u32::from(cr & BKSEL != 0);
        let sectors_per_bank = self.bank_size() / SECTOR;
        let op = if cr & SER != 0 {
            let sector = (cr >> SNB_SHIFT) & SNB_MASK & ((1 << self.die.snb_bits) - 1);
            if sector >= sectors_per_bank {
                return self.fail(PGSERR);
            }
            if self.protected(bank, sector) {
                return self.fail(WRPERR);
            }
            let off = bank * self.bank_size() + sector * SECTOR;
            (SECTOR_TIME, Op::Erase { off, len: SECTOR, sectors: 1, mass: 0 })
        } else {
            let banks: Vec<u32> = if cr & MER != 0 { vec![0, 1] } else { vec![bank] };
            if banks.iter().any(|&b| (0..sectors_per_bank).any(|s| self.protected(b, s))) {
                return self.fail(WRPERR);
            }
            let off = banks[0] * self.bank_size();
            let len = banks.len() as u32 * self.bank_size();
            (BANK_TIME, Op::Erase { off, len, sectors: 0, mass: banks.len() as u64 })
        };
        self.nscr |= STRT;
        self.start(acc.now, op.0, op.1);
    }

    /// A write into the buffer: bytes of one flash word, each once.
    fn write_flash(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) {
        if self.nscr & PG == 0 || self.nssr & BLOCKING_ERRORS != 0 {
            return self.fail(PGSERR);
        }
        let word = addr & !(WORD - 1);
        let mut buf = match self.buffer.take() {
            Some(b) if b.addr != word => return self.fail(INCERR),
            Some(b) => b,
            None => {
                let (bank, sector) = self.sector_of(word);
                if self.access_denied(acc.by) || self.protected(bank, sector) {
                    return self.fail(WRPERR);
                }
                Buffer { addr: word, data: [0xFF; WORD as usize], written: 0 }
            }
        };
        for i in 0..width.bytes() {
            let pos = (addr - word + i) as usize;
            if buf.written & (1 << pos) != 0 {
                return self.fail(STRBERR);
            }
            buf.written |= 1 << pos;
            buf.data[pos] = (value >> (8 * i)) as u8;
        }
        if buf.written == u16::MAX {
            self.program(acc.now, buf);
        } else {
            self.buffer = Some(buf);
        }
    }

    /// FW: write the partly filled buffer, missing bytes as 0xFF.
    fn force_write(&mut self, now: Nanos) {
        if let Some(buf) = self.buffer.take() {
            self.program(now, buf);
        }
    }

    fn program(&mut self, now: Nanos, buf: Buffer) {
        let off = self.phys(buf.addr) - FLASH_BASE;
        self.start(now, WORD_TIME, Op::Program { off, data: buf.data });
    }

    fn set_wrp(&mut self, ranges: &[(u32, u32)]) -> ConfigResult {
        for &(a, b) in ranges {
            if !self.array.contains(a) || !self.array.contains(b) {
                return Err(format!("wrp range 0x{a:08X}-0x{b:08X} is not inside the flash"));
            }
            let mut addr = a & !(SECTOR - 1);
            while addr <= b {
                let (bank, sector) = self.sector_of(addr);
                self.wrp[bank as usize] &= !(1 << (sector / self.die.wrp_per_bit));
                addr += SECTOR;
            }
        }
        Ok(())
    }
}

impl FlashModel for H5Model {
    fn name(&self) -> &'static str {
        if self.die.trustzone {
            "H5 flash (RM0481)"
        } else {
            "H503 flash (RM0492)"
        }
    }

    fn regions(&self) -> Vec<Range<u32>> {
        vec![REGS, self.array.range(), OTP]
    }

    fn is_register(&self, addr: u32) -> bool {
        REGS.contains(&addr)
    }

    fn advance(&mut self, now: Nanos, stats: &mut FlashStats) {
        let Some((_, op)) = self.busy.take_if(|(until, _)| *until <= now) else { return };
        // Options: OPTSTRT applies the *_PRG registers.
        if op.apply(&mut self.array, stats) {
            self.apply_options();
        }
        self.nssr = (self.nssr & !BSY) | EOP;
        self.nscr &= !STRT;
    }

    /// The operation in progress ends then.
    fn next_event(&self, now: Nanos) -> Option<Nanos> {
        self.busy.as_ref().map(|(end, _)| *end).filter(|&t| t > now)
    }

    fn stall_until(&self, addr: u32, write: bool, _by: Initiator, now: Nanos) -> Nanos {
        let stalls = self.array.contains(addr) || (write && addr & !3 == REGS.start + NSCR);
        match &self.busy {
            Some((until, _)) if stalls => (*until).max(now),
            _ => now,
        }
    }

    fn read(&mut self, addr: u32, width: AccessWidth, acc: &mut Access) -> Result<u32, BusFault> {
        if REGS.contains(&addr) {
            let shift = 8 * (addr & 3);
            return Ok((self.read_reg(addr & 0x3FC) >> shift) & width.mask());
        }
        if OTP.contains(&addr) {
            return Ok(width.mask());
        }
        let phys = self.phys(addr);
        if acc.by == Initiator::Debugger && self.array.ecc_error(phys) {
            return Err(BusFault);
        }
        Ok(self.array.read(phys, width))
    }

    fn write(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) -> Result<(), BusFault> {
        if REGS.contains(&addr) {
            let shift = 8 * (addr & 3);
            self.write_reg(addr & 0x3FC, value << shift, acc);
        } else if OTP.contains(&addr) {
            // OTP programming is not modeled: refused as a sequence error.
            self.fail(PGSERR);
        } else {
            self.write_flash(addr, width, value, acc);
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.swap = self.swap_opt;
        self.prg = self.in_force();
        self.nscr = LOCK;
        self.nssr = 0;
        self.optcr = OPTLOCK | if self.swap { SWAP_BANK } else { 0 };
        self.key = KeyLatch::default();
        self.opt_key = KeyLatch::default();
        self.buffer = None;
        self.busy = None;
    }

    fn debug_readable(&self, addr: u32) -> bool {
        self.debug_open() || !self.array.contains(addr)
    }

    fn debug_port_disabled(&self) -> bool {
        self.product_state == LOCKED
    }

    fn configure(&mut self, key: &str, value: &str) -> ConfigResult {
        match (key, value) {
            ("rdp", "0") => self.product_state = OPEN,
            ("rdp", "1") => self.product_state = CLOSED,
            ("rdp", "2") => self.product_state = LOCKED,
            ("product_state", v) => {
                let hex = v.trim_start_matches("0x").trim_start_matches("0X");
                self.product_state = u8::from_str_radix(hex, 16)
                    .map_err(|_| format!("product_state={v}: expected a hex byte, e.g. 0xED"))?;
            }
            ("swap", "0" | "1") => {
                self.swap_opt = value == "1";
                self.reset();
            }
            ("tzen", "0" | "1") if self.die.trustzone => {
                self.tzen = if value == "1" { TZ_ENABLED } else { TZ_DISABLED }
            }
            ("edata1" | "edata2", v) if self.die.edata => {
                let n: u32 =
                    v.parse().ok().filter(|&n| n <= 8).ok_or(format!("{key}={v}: expected 0 (off) to 8 sectors"))?;
                let r = if n == 0 { 0 } else { EDATA_EN | (n - 1) };
                self.edata[usize::from(key == "edata2")] = r;
            }
            ("wrp", v) => self.set_wrp(&parse_ranges(v)?)?,
            _ => {
                return Err(format!(
                    "{}: unknown setting {key}={value}; valid: rdp=0|1|2, product_state=<hex>, swap=0|1, tzen=0|1 \
                     (not on H503), wrp=<start>-<end>[+<start>-<end>…], edata1=<n>, edata2=<n> (sectors, 0-8; not on \
                     H503)",
                    self.name()
                ))
            }
        }
        self.prg = self.in_force();
        Ok(())
    }

    fn save(&self) -> Vec<(String, Vec<u8>)> {
        let mut options = vec![self.product_state, self.swap_opt as u8, self.tzen as u8];
        for w in [self.wrp[0], self.wrp[1], self.user, self.nsboot] {
            options.extend_from_slice(&w.to_le_bytes());
        }
        let edata: Vec<u8> = self.edata.iter().flat_map(|w| w.to_le_bytes()).collect();
        vec![
            ("flash".to_string(), self.array.data.clone()),
            ("options".to_string(), options),
            ("edata".to_string(), edata),
        ]
    }

    fn load(&mut self, blobs: &[(String, Vec<u8>)]) -> Result<(), String> {
        let flash = saved_blob(blobs, self.name(), "flash", self.array.data.len())?;
        let options = saved_blob(blobs, self.name(), "options", 19)?;
        self.array.poke(FLASH_BASE, flash);
        let word = |i: usize| u32::from_le_bytes(options[3 + 4 * i..7 + 4 * i].try_into().expect("4 bytes"));
        self.product_state = options[0];
        self.swap_opt = options[1] != 0;
        self.tzen = options[2] as u32;
        self.wrp = [word(0), word(1)];
        (self.user, self.nsboot) = (word(2), word(3));
        // State files written before EDATA was modeled have no "edata" blob.
        if let Ok(edata) = saved_blob(blobs, self.name(), "edata", 8) {
            let w = |i: usize| u32::from_le_bytes(edata[4 * i..4 * i + 4].try_into().expect("4 bytes"));
            self.edata = [w(0), w(1)];
        }
        self.reset();
        Ok(())
    }

    /// Bus view: bank-swapped addresses as the core sees them.
    fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        if OTP.contains(&addr) {
            return (addr as u64 + len as u64 <= OTP.end as u64).then(|| vec![0xFF; len]);
        }
        self.array.slice(addr, len)?;
        Some((0..len as u32).map(|i| self.array.data[(self.phys(addr + i) - FLASH_BASE) as usize]).collect())
    }

    fn poke(&mut self, addr: u32, data: &[u8]) -> bool {
        if self.array.slice(addr, data.len()).is_none() {
            return false;
        }
        if !self.swap {
            return self.array.poke(addr, data);
        }
        data.iter().enumerate().all(|(i, &b)| self.array.poke(self.phys(addr + i as u32), &[b]))
    }

    /// The model's facts by the names of ST's headers (stm32h563xx.h,
    /// stm32h523xx.h, stm32h503xx.h; keys: stm32h5xx_hal_flash.h).
    fn register_facts(&self, f: &mut Facts) {
        f.number("FLASH_R_BASE_NS", REGS.start as u64);
        let mut regs = vec![
            ("ACR", ACR),
            ("NSKEYR", NSKEYR),
            ("OPTKEYR", OPTKEYR),
            ("OPTCR", OPTCR),
            ("NSSR", NSSR),
            ("NSCR", NSCR),
            ("NSCCR", NSCCR),
            ("OPTSR_CUR", OPTSR_CUR),
            ("OPTSR_PRG", OPTSR_PRG),
            ("OPTSR2_CUR", OPTSR2_CUR),
            ("OPTSR2_PRG", OPTSR2_PRG),
            ("NSBOOTR_CUR", NSBOOTR_CUR),
            ("NSBOOTR_PRG", NSBOOTR_PRG),
            ("WRP1R_CUR", WRP1R_CUR),
            ("WRP1R_PRG", WRP1R_PRG),
            ("WRP2R_CUR", WRP2R_CUR),
            ("WRP2R_PRG", WRP2R_PRG),
        ];
        if self.die.edata {
            regs.extend([
                ("EDATA1R_CUR", EDATA1R_CUR),
                ("EDATA1R_PRG", EDATA1R_PRG),
                ("EDATA2R_CUR", EDATA2R_CUR),
                ("EDATA2R_PRG", EDATA2R_PRG),
            ]);
        }
        for (name, offset) in regs {
            f.number(format!("FLASH_TypeDef.{name}"), offset as u64);
        }
        f.number("FLASH_KEY1", KEYS[0] as u64).number("FLASH_KEY2", KEYS[1] as u64);
        f.number("FLASH_OPT_KEY1", OPTKEYS[0] as u64).number("FLASH_OPT_KEY2", OPTKEYS[1] as u64);
        for (name, bit) in [
            ("BSY", BSY),
            ("WBNE", WBNE),
            ("EOP", EOP),
            ("WRPERR", WRPERR),
            ("PGSERR", PGSERR),
            ("STRBERR", STRBERR),
            ("INCERR", INCERR),
            ("OPTCHANGEERR", OPTCHANGEERR),
        ] {
            f.mask(format!("FLASH_SR_{name}"), bit);
        }
        for (name, bit) in [
            ("LOCK", LOCK),
            ("PG", PG),
            ("SER", SER),
            ("BER", BER),
            ("FW", FW),
            ("START", STRT),
            ("MER", MER),
            ("BKSEL", BKSEL),
        ] {
            f.mask(format!("FLASH_CR_{name}"), bit);
        }
        f.field("FLASH_CR_SNB", SNB_SHIFT, self.die.snb_bits);
        f.mask("FLASH_OPTCR_OPTLOCK", OPTLOCK).mask("FLASH_OPTCR_OPTSTART", OPTSTRT);
        f.mask("FLASH_OPTCR_SWAP_BANK", SWAP_BANK).mask("FLASH_OPTSR_SWAP_BANK", SWAP_BANK);
        f.field("FLASH_OPTSR_PRODUCT_STATE", PRODUCT_STATE_SHIFT, 8);
        for (name, state) in [("OPEN", OPEN), ("PROVISIONING", PROVISIONING), ("CLOSED", CLOSED), ("LOCKED", LOCKED)] {
            f.number(format!("OB_PROD_STATE_{name}"), (state as u64) << PRODUCT_STATE_SHIFT);
        }
        if self.die.trustzone {
            f.field("FLASH_OPTSR2_TZEN", TZEN_SHIFT, 8);
            f.mask("FLASH_OPTSR_BOOT_UBE", BOOT_UBE);
        }
        // WRPSG: 8 bits on H503/H523 (one or four sectors a bit), 32 on H56x.
        let groups = (self.array.range().len() as u32 / 2 / SECTOR).div_ceil(self.die.wrp_per_bit);
        f.field("FLASH_WRPR_WRPSG", 0, groups.max(8));
        f.number("FLASH_SECTOR_SIZE", SECTOR as u64);
        f.number("FLASH_OTP_BASE", OTP.start as u64);
    }
}

/// Simulated H5 parts.
// One unindented part per chip, the layout the H563 part had alone.
#[rustfmt::skip]
pub const PARTS: &[Part] = &[Part {
    name: "stm32h563zi",
    aliases: &["h563", "stm32h563", "h563zi"],
    // H7/H5 SW-DP (stlink inc/stm32.h:25-45: 0x6BA02477).
    dpidr: 0x6BA0_2477,
    // Cortex-M33 r0p4 (PARTNO 0xD21).
    cpuid: 0x410F_D214,
    // DEV_ID 0x484, REV_ID 0x1001.
    idcode: 0x1001_6484,
    // H5 DBGMCU at 0x44024000 (CMSIS stm32h563xx.h:2104); CR, APB1FZR1/2,
    // APB2FZR, APB3FZR follow. Flash-size register 0x08FFF80C (stlink's
    // H5xx.chip), system memory 0x0BF97000 (AN2606 Table 226), SRAM: the datasheet.
    dbgmcu_addr: 0x4402_4000,
    dbgmcu_ctrl_words: 5,
    flash_size_addr: 0x08FF_F80C,
    flash_size_kib: 2048,
    sram: &[(0x2000_0000, 640 * KIB)],
    system_memory: (0x0BF9_7000, 36 * KIB),
    boot_address: 0x0800_0000,
    voltage_mv: 3300,
    flash: || Box::new(H5Model::new(2048 * KIB)),
},
// H503 (RM0492): 128 KiB in two banks of 8 × 8 KiB (CMSIS
// stm32h503xx.h:5334-5340), SRAM1 16 + SRAM2 16 KiB (:1156-1163), DBGMCU,
// flash-size register as on H563 (:1265-1268), system memory AN2606 Table
// 226. REV_ID 0x1000 and the CPUID revision are assumed.
Part {
    name: "stm32h503rb",
    aliases: &["h503", "stm32h503", "h503rb"],
    dpidr: 0x6BA0_2477,
    cpuid: 0x410F_D214,
    idcode: 0x1000_6474,
    dbgmcu_addr: 0x4402_4000,
    dbgmcu_ctrl_words: 5,
    flash_size_addr: 0x08FF_F80C,
    flash_size_kib: 128,
    sram: &[(0x2000_0000, 32 * KIB)],
    system_memory: (0x0BF8_7000, 36 * KIB),
    boot_address: 0x0800_0000,
    voltage_mv: 3300,
    flash: || Box::new(H5Model::of(&H503, 128 * KIB)),
},
// H523/H533 (RM0481): the 512 KiB xE part, two banks of 32 × 8 KiB
// (stm32h523xx.h:7065-7071), SRAM 128 + 80 + 64 KiB (:1466-1475). REV_ID
// 0x1000 assumed.
Part {
    name: "stm32h523ze",
    aliases: &["h523", "stm32h523", "h533", "stm32h533"],
    dpidr: 0x6BA0_2477,
    cpuid: 0x410F_D214,
    idcode: 0x1000_6478,
    dbgmcu_addr: 0x4402_4000,
    dbgmcu_ctrl_words: 5,
    flash_size_addr: 0x08FF_F80C,
    flash_size_kib: 512,
    sram: &[(0x2000_0000, 272 * KIB)],
    system_memory: (0x0BF9_7000, 36 * KIB),
    boot_address: 0x0800_0000,
    voltage_mv: 3300,
    flash: || Box::new(H5Model::of(&H52X, 512 * KIB)),
},
];

/// The register facts of a part of this family, by the names of ST's
/// headers (`crate::facts`).
pub fn register_facts(part: &Part, f: &mut Facts) {
    let dev_id = (part.idcode & 0xFFF) as u16;
    f.identity(part, "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE", "FLASHSIZE_BASE");
    if let Some(p) = crate::crc_peripheral::placement(dev_id) {
        f.crc(p, "CRC_BASE_NS", ("RCC_BASE_NS+RCC_TypeDef.AHB1ENR", "RCC_AHB1ENR_CRCEN"));
    }
    (part.flash)().register_facts(f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Requests;

    const R: u32 = 0x4002_2000;

    struct Bench {
        m: H5Model,
        now: Nanos,
        stats: FlashStats,
    }

    impl Bench {
        fn new() -> Bench {
            Bench { m: H5Model::new(2048 * KIB), now: 0, stats: FlashStats::default() }
        }
        fn wx(&mut self, addr: u32, width: AccessWidth, value: u32) {
            self.now = self.now.max(self.m.stall_until(addr, true, Initiator::Debugger, self.now)) + 1000;
            self.m.advance(self.now, &mut self.stats);
            let mut req = Requests::default();
            let mut acc = Access { now: self.now, by: Initiator::Debugger, stats: &mut self.stats, requests: &mut req };
            self.m.write(addr, width, value, &mut acc).unwrap();
        }
        fn w(&mut self, addr: u32, value: u32) {
            self.wx(addr, AccessWidth::Word, value);
        }
        fn r(&mut self, addr: u32) -> Result<u32, BusFault> {
            self.now = self.now.max(self.m.stall_until(addr, false, Initiator::Debugger, self.now)) + 1000;
            self.m.advance(self.now, &mut self.stats);
            let mut req = Requests::default();
            let mut acc = Access { now: self.now, by: Initiator::Debugger, stats: &mut self.stats, requests: &mut req };
            self.m.read(addr, AccessWidth::Word, &mut acc)
        }
        fn sr(&mut self) -> u32 {
            self.r(R + NSSR).unwrap()
        }
        fn idle(&mut self) {
            self.now += 100 * MS;
            self.m.advance(self.now, &mut self.stats);
        }
        fn unlock(&mut self) {
            self.w(R + NSKEYR, KEYS[0]);
            self.w(R + NSKEYR, KEYS[1]);
        }
        fn erase_sector(&mut self, bksel: bool, sector: u32) {
            let cr = SER | sector << SNB_SHIFT | if bksel { BKSEL } else { 0 };
            self.w(R + NSCR, cr);
            self.w(R + NSCR, cr | STRT);
        }
    }

    #[test]
    fn lock_is_bit0_and_setting_it_keeps_the_other_bits() {
        let mut b = Bench::new();
        assert_eq!(b.r(R + NSCR).unwrap(), LOCK);
        b.unlock();
        b.w(R + NSCR, PG);
        b.w(R + NSCR, LOCK);
        assert_eq!(b.r(R + NSCR).unwrap(), LOCK | PG, "PG survives the lock");
        b.w(R + NSCR, 0);
        assert_eq!(b.r(R + NSCR).unwrap(), LOCK | PG, "locked NSCR ignores writes");
        b.unlock();
        b.unlock();
        assert_eq!(b.r(R + NSCR).unwrap() & LOCK, LOCK, "second sequence: locked until reset");
    }

    #[test]
    fn flash_words_fill_the_buffer_and_program_when_complete() {
        let mut b = Bench::new();
        b.unlock();
        b.w(R + NSCR, PG);
        b.w(0x0800_0100, 0x0302_0100);
        b.wx(0x0800_0104, AccessWidth::Half, 0x0504);
        assert_eq!(b.sr() & (WBNE | BSY), WBNE);
        b.wx(0x0800_0106, AccessWidth::Half, 0x0706);
        b.w(0x0800_0108, 0x0B0A_0908);
        b.w(0x0800_010C, 0x0F0E_0D0C);
        assert_eq!(b.sr() & (WBNE | BSY), BSY);
        b.idle();
        assert_eq!(b.m.peek(0x0800_0100, 16).unwrap(), (0..16).collect::<Vec<u8>>());
        assert_eq!(b.sr() & EOP, EOP);
        // Programming the word again breaks its ECC: the debugger read faults.
        for i in 0..4 {
            b.w(0x0800_0100 + 4 * i, 0);
        }
        b.idle();
        assert_eq!(b.r(0x0800_0100), Err(BusFault));
    }

    #[test]
    fn strobe_and_inconsistency_errors_drop_the_buffer() {
        let mut b = Bench::new();
        b.unlock();
        b.w(R + NSCR, PG);
        b.w(0x0800_0000, 1);
        b.w(0x0800_0000, 2);
        assert_eq!(b.sr() & (STRBERR | WBNE), STRBERR);
        b.w(0x0800_0010, 3);
        assert_eq!(b.sr() & PGSERR, PGSERR, "STRBERR not cleared yet");
        b.w(R + NSCCR, CLEARABLE);
        assert_eq!(b.sr() & CLEARABLE, 0);
        b.w(R + NSSR, 0);
        b.w(0x0800_0000, 1);
        b.w(0x0800_0020, 2);
        assert_eq!(b.sr() & INCERR, INCERR);
        b.idle();
        assert!(b.m.array.is_erased(0x0800_0000, 64));
        // FW forces a partial word out, the rest 0xFF.
        b.w(R + NSCCR, CLEARABLE);
        b.w(0x0800_0040, 0x1122_3344);
        b.w(R + NSCR, PG | FW);
        b.idle();
        assert_eq!(b.m.peek(0x0800_0040, 8).unwrap(), vec![0x44, 0x33, 0x22, 0x11, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(b.r(R + NSCR).unwrap() & FW, 0);
    }

    #[test]
    fn sector_erase_picks_the_physical_bank_with_bksel() {
        let mut b = Bench::new();
        b.m.poke(0x0800_2000, &[0; 16]);
        b.m.poke(0x0810_2000, &[0; 16]);
        b.unlock();
        b.erase_sector(true, 1);
        b.idle();
        assert_eq!(b.m.peek(0x0810_2000, 16).unwrap(), vec![0xFF; 16]);
        assert_eq!(b.m.peek(0x0800_2000, 1).unwrap(), vec![0]);
        // With the banks swapped, BKSEL=1 reaches the sector at 0x08000000.
        let mut s = Bench::new();
        s.m.configure("swap", "1").unwrap();
        s.m.poke(0x0800_0000, &[0; 16]);
        s.m.poke(0x0810_0000, &[0; 16]);
        s.unlock();
        s.erase_sector(true, 0);
        s.idle();
        assert_eq!(s.m.peek(0x0800_0000, 1).unwrap(), vec![0xFF]);
        assert_eq!(s.m.peek(0x0810_0000, 1).unwrap(), vec![0]);
    }

    #[test]
    fn erase_misuse_and_protection() {
        let mut b = Bench::new();
        b.unlock();
        b.w(R + NSCR, SER | BER | STRT);
        assert_eq!(b.sr() & PGSERR, PGSERR);
        b.w(R + NSCCR, CLEARABLE);
        b.w(R + NSCR, STRT);
        assert_eq!(b.sr() & PGSERR, PGSERR, "STRT alone");
        b.w(R + NSCCR, CLEARABLE);
        b.m.configure("wrp", "0x08008000-0x08009fff").unwrap();
        assert_eq!(b.r(R + WRP1R_CUR).unwrap(), !2, "group 1 (sectors 4-7) protected");
        b.m.poke(0x0800_A000, &[0]);
        b.erase_sector(false, 5);
        assert_eq!(b.sr() & WRPERR, WRPERR);
        b.idle();
        assert_eq!(b.m.peek(0x0800_A000, 1).unwrap(), vec![0]);
        b.w(R + NSCCR, CLEARABLE);
        b.w(R + NSCR, MER);
        b.w(R + NSCR, MER | STRT);
        assert_eq!(b.sr() & WRPERR, WRPERR, "mass erase refused");
        b.m.configure("rdp", "1").unwrap();
        assert_eq!((b.r(R + OPTSR_CUR).unwrap() >> 8) & 0xFF, 0x72);
        assert!(!b.m.debug_readable(0x0800_0000));
        assert!(b.m.debug_readable(0x08FF_F80C));
    }

    #[test]
    fn state_round_trips_in_bus_order() {
        let mut m = H5Model::new(2048 * KIB);
        m.configure("swap", "1").unwrap();
        m.poke(0x0800_0010, &[1, 2, 3]);
        let saved = m.save();
        let mut n = H5Model::new(2048 * KIB);
        n.load(&saved).unwrap();
        assert_eq!(n.peek(0x0800_0010, 3), Some(vec![1, 2, 3]));
        assert_eq!(n.read_reg(OPTCR) & SWAP_BANK, SWAP_BANK);
    }
}
