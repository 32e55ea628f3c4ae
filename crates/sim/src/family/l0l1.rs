//! STM32L0/L1 flash model: the PECR-type controller, written from RM0377
//! (L0) and RM0038 (L1).
//!
//! What it models:
//! - three locks: PELOCK (PEKEYR) guards PECR and the data EEPROM, PRGLOCK
//!   (PRGKEYR) the program memory, OPTLOCK (OPTKEYR) the option bytes; the
//!   second and third only unlock once PELOCK is clear; a wrong key, or keys
//!   sent to an unlocked lock, lock it until reset; setting PELOCK relocks all;
//! - flash erased to 0x00; page erase = ERASE|PROG and a 32-bit write into the
//!   page; word programming (no mode bit); half-page programming (FPRG|PROG,
//!   then the 16 (L0) or 32 (L1) words of one half page written consecutively
//!   from its first word, after which the write starts);
//! - misuse: a write to locked program memory, to a write-protected sector,
//!   or by the debugger under RDP level 1 sets WRPERR; byte/half-word writes
//!   set SIZERR; a half page started off its boundary or continued out of
//!   sequence sets PGAERR; on L0, programming a word that is not 0 sets
//!   NOTZEROERR and a flash read in the middle of a half page abandons it with
//!   FWWERR; nothing is written on any error;
//! - 3.2 ms per word, half page or page erase (assumed, see `OP_TIME`), with
//!   flash accesses stalled meanwhile;
//! - RDP (OBR.RDPROT: 0xAA level 0, 0xCC level 2, else level 1) and WRPROT
//!   (one bit per 4 KiB sector, 1 = protected);
//! - the data EEPROM at 0x08080000, as large as the part has it (CMSIS
//!   `DATA_EEPROM_END`/`FLASH_EEPROM_END` of the part's header), erased to
//!   0x00: byte, half-word and word stores once PELOCK is clear (PRGLOCK and
//!   OPTLOCK do not matter). The memory interface erases the addressed bytes
//!   first when they are not all 0 and programs them when the new value is
//!   not 0, one t_prog each (RM0377, flash chapter, "Write to data EEPROM":
//!   "if all bits are currently set to 0, there is no need to delete the old
//!   content before writing. Similarly, if the data to write is at 0, only
//!   the erase operation is executed"); with PECR.FIX (L0) / FTDW (L1) the
//!   erase always runs, a fixed 2 × t_prog (RM0038 FLASH_PECR.FTDW). A store
//!   with PELOCK set, or by the debugger under RDP level 1, sets WRPERR and
//!   changes nothing (RM0377, flash chapter, "Write protection error flag
//!   (WRPERR)": "Write to the Flash program memory, data EEPROM or Option
//!   bytes if they are not unlocked by PEKEY…", "… when the RDP Option byte
//!   is set and the device is in debug mode"); flash and EEPROM accesses stall
//!   while it runs;
//! - the option bytes at 0x1FF80000: 32-bit words, a 16-bit value and its
//!   complement (RDP word, USER word, then WRPROT halves: the option-byte
//!   chapters of RM0377 and RM0038); with PELOCK
//!   and OPTLOCK clear a word write erases and programs one option word
//!   (2 × 3.2 ms); they are loaded at reset and by PECR.OBL_LAUNCH, which
//!   resets the chip. A word whose complement does not match sets OPTVERR at
//!   load and counts as read protection (RDP word) or nothing protected
//!   (WRP words): assumed, the RM text was not at hand (ST's HAL also reads a
//!   mismatching RDP as level 1).
//!   An RDP word changing a loaded level 1 to level 0 erases the program
//!   memory and the data EEPROM (there is no mass-erase bit: OpenOCD's
//!   stm32lx_mass_erase, stm32lx.c:1334-1373, erases this way); at level 2 the
//!   option bytes cannot be written (WRPERR).
//!
//! Assumed, as the RM text was not at hand (no knob changes them): a wrong
//! key does not raise a bus error; an EEPROM store with PROG, ERASE or FPRG
//! set in PECR (the L1 double-word modes, or a program-memory mode left on)
//! is not modelled and sets PGAERR; the STM32L1 cat.1 restriction on storing
//! a 0x00 byte (ST's HAL works around it, stm32l1xx_hal_flash_ex.c) is not
//! modelled; on L1 (no FWWERR) a read
//! during a half page abandons it with PGAERR, and programming over
//! non-erased cells ORs the bits in without an error; a half page abandoned
//! by clearing FPRG/PROG sets PGAERR; an invalid PECR mode for a program-memory
//! write sets PGAERR.

use std::ops::Range;

use crate::facts::Facts;
use crate::model::{
    load_words, parse_ranges, saved_blob, Access, AccessWidth, BusFault, ConfigResult, FlashArray, FlashModel,
    FlashStats, Initiator, KeyLatch, Nanos, US,
};
use crate::parts::Part;

const KIB: u32 = 1024;

// Register offsets (ST's CMSIS `FLASH_TypeDef` in stm32l053xx.h and
// stm32l152xe.h).
const ACR: u32 = 0x00;
const PECR: u32 = 0x04;
const PEKEYR: u32 = 0x0C;
const PRGKEYR: u32 = 0x10;
const OPTKEYR: u32 = 0x14;
const SR: u32 = 0x18;
const OBR: u32 = 0x1C;
const WRPR1: u32 = 0x20;
const WRPR2: u32 = 0x80;
const WRPR3: u32 = 0x84;
const WRPR4: u32 = 0x88;

// PECR bits.
const PELOCK: u32 = 1 << 0;
const PRGLOCK: u32 = 1 << 1;
const OPTLOCK: u32 = 1 << 2;
const PROG: u32 = 1 << 3;
const DATA: u32 = 1 << 4;
const FIX: u32 = 1 << 8;
const ERASE: u32 = 1 << 9;
const FPRG: u32 = 1 << 10;
const PARALLELBANK: u32 = 1 << 15;
const EOPIE: u32 = 1 << 16;
const ERRIE: u32 = 1 << 17;
const OBL_LAUNCH: u32 = 1 << 18;
const LOCKS: u32 = PELOCK | PRGLOCK | OPTLOCK;
/// Bits software can write while PELOCK is clear (locks can only be set).
const PECR_WRITABLE: u32 = PROG | DATA | FIX | ERASE | FPRG | PARALLELBANK | EOPIE | ERRIE;

// SR bits; the error flags and EOP are cleared by writing 1.
const BSY: u32 = 1 << 0;
const EOP: u32 = 1 << 1;
const ENDHV: u32 = 1 << 2;
const READY: u32 = 1 << 3;
const WRPERR: u32 = 1 << 8;
const PGAERR: u32 = 1 << 9;
const SIZERR: u32 = 1 << 10;
const OPTVERR: u32 = 1 << 11;
const OPTVERRUSR: u32 = 1 << 12;
const RDERR: u32 = 1 << 13;
const NOTZEROERR: u32 = 1 << 16;
const FWWERR: u32 = 1 << 17;
const SR_W1C: u32 = EOP | WRPERR | PGAERR | SIZERR | OPTVERR | OPTVERRUSR | RDERR | NOTZEROERR | FWWERR;

// Keys (ST's HAL, stm32l0xx_hal_flash.h and stm32l1xx_hal_flash.h:
// FLASH_PEKEY1/2, FLASH_PRGKEY1/2, FLASH_OPTKEY1/2).
const PEKEYS: [u32; 2] = [0x89AB_CDEF, 0x0203_0405];
const PRGKEYS: [u32; 2] = [0x8C9D_AEBF, 0x1314_1516];
const OPTKEYS: [u32; 2] = [0xFBEA_D9C8, 0x2425_2627];

const RDP_LEVEL0: u8 = 0xAA;
const RDP_LEVEL2: u8 = 0xCC;
/// Any other value is level 1; this is the one `rdp=1` stores.
const RDP_LEVEL1: u8 = 0xBB;

const FLASH_BASE: u32 = 0x0800_0000;
const EEPROM_BASE: u32 = 0x0808_0000;
const OPTION_BYTES: u32 = 0x1FF8_0000;
/// Write protection granularity: one WRPROT bit per 4 KiB sector (32 L0 pages,
/// 16 L1 pages; RM0377 §3.3.1 "a Flash sector is made of 32 pages").
const WRP_SECTOR: u32 = 4 * KIB;

/// Word, half-page, page-erase and EEPROM-write time: assumed, not measured,
/// and `flash-time=F` scales it (the 3.2 ms programming time recalled from the
/// STM32L0/L1 datasheets' "Flash memory and data EEPROM characteristics").
const OP_TIME: Nanos = 3200 * US;

/// The two controller generations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpKind {
    L0,
    L1,
}

impl LpKind {
    fn regs(self) -> u32 {
        match self {
            LpKind::L0 => 0x4002_2000,
            LpKind::L1 => 0x4002_3C00,
        }
    }
    fn page(self) -> u32 {
        match self {
            LpKind::L0 => 128,
            LpKind::L1 => 256,
        }
    }
    fn half_page(self) -> u32 {
        self.page() / 2
    }
}

/// A half page being collected word by word.
#[derive(Debug, Clone)]
struct HalfPage {
    addr: u32,
    data: Vec<u8>,
}

/// An operation running in the array.
#[derive(Debug, Clone)]
enum Op {
    ErasePage(u32),
    Program {
        addr: u32,
        data: Vec<u8>,
    },
    EepromWrite {
        addr: u32,
        data: Vec<u8>,
    },
    /// One option word (index from 0x1FF80000).
    OptionWrite {
        index: usize,
        value: u32,
    },
}

/// The L0/L1 flash controller, program memory, data EEPROM and option bytes.
pub struct LpModel {
    kind: LpKind,
    flash: FlashArray,
    eeprom: FlashArray,
    option_size: u32,
    acr: u32,
    pecr: u32,
    sr: u32,
    pe_key: KeyLatch,
    prg_key: KeyLatch,
    opt_key: KeyLatch,
    /// Option words as stored (value in [15:0], complement in [31:16]).
    stored: Vec<u32>,
    /// OBR.RDPROT as loaded.
    rdp: u8,
    /// RDP word bit 8 as loaded (L0 WPRMOD).
    rdp_high: u8,
    /// USER option word as loaded (OBR[31:16]).
    user: u16,
    /// WRPROT bits as loaded, 1 = sector protected (WRPR1 … WRPR4).
    wrp: [u32; 4],
    half: Option<HalfPage>,
    busy: Option<(Nanos, Op)>,
}

impl LpModel {
    pub fn new(kind: LpKind, flash_size: u32, eeprom_size: u32, option_size: u32) -> LpModel {
        let mut m = LpModel {
            kind,
            flash: FlashArray::new(FLASH_BASE, flash_size, 0x00, 0),
            eeprom: FlashArray::new(EEPROM_BASE, eeprom_size, 0x00, 0),
            option_size,
            acr: 0,
            pecr: 0,
            sr: 0,
            pe_key: KeyLatch::default(),
            prg_key: KeyLatch::default(),
            opt_key: KeyLatch::default(),
            stored: factory_options(option_size),
            rdp: RDP_LEVEL0,
            rdp_high: 0,
            user: FACTORY_USER,
            wrp: [0; 4],
            half: None,
            busy: None,
        };
        m.reset();
        m
    }

    fn flash_size(&self) -> u32 {
        self.flash.range().len() as u32
    }

    /// Load the option words (reset, OBL_LAUNCH, configuration).
    fn load_options(&mut self) {
        let value = |w: u32| (w & 0xFFFF) as u16;
        let ok = |w: u32| (w >> 16) as u16 == !value(w);
        let words = self.stored.clone();
        if words.iter().any(|&w| !ok(w)) {
            self.sr |= OPTVERR;
        }
        let rdp = words.first().copied().unwrap_or(0);
        (self.rdp, self.rdp_high) = if ok(rdp) { (rdp as u8, (rdp >> 8) as u8) } else { (RDP_LEVEL1, 0) };
        self.user = words.get(1).filter(|&&w| ok(w)).map_or(FACTORY_USER, |&w| value(w));
        for (i, wrp) in self.wrp.iter_mut().enumerate() {
            let half = |n: usize| words.get(wrp_word(n)).filter(|&&w| ok(w)).map_or(0, |&w| value(w) as u32);
            *wrp = half(2 * i) | half(2 * i + 1) << 16;
        }
    }

    fn regs(&self) -> Range<u32> {
        self.kind.regs()..self.kind.regs() + 0x400
    }

    fn option_range(&self) -> Range<u32> {
        OPTION_BYTES..OPTION_BYTES + self.option_size
    }

    fn in_memory(&self, addr: u32) -> bool {
        self.flash.contains(addr) || self.eeprom.contains(addr)
    }

    fn protected(&self, addr: u32) -> bool {
        let sector = (addr - FLASH_BASE) / WRP_SECTOR;
        let word = (sector / 32) as usize;
        word < self.wrp.len() && self.wrp[word] & (1 << (sector % 32)) != 0
    }

    fn rdp_active(&self) -> bool {
        self.rdp != RDP_LEVEL0
    }

    fn fail(&mut self, flags: u32) {
        self.sr |= flags;
        self.half = None;
    }

    fn start(&mut self, now: Nanos, op: Op) {
        self.busy = Some((now + OP_TIME, op));
        self.sr = (self.sr | BSY) & !ENDHV;
    }

    fn read_reg(&self, off: u32) -> u32 {
        match off {
            ACR => self.acr,
            PECR => self.pecr,
            SR => self.sr,
            // RDPROT in bits 7:0 (L0 WPRMOD bit 8), the USER word in 31:16.
            OBR => (self.user as u32) << 16 | (self.rdp_high as u32 & 1) << 8 | self.rdp as u32,
            WRPR1 => self.wrp[0],
            WRPR2 => self.wrp[1],
            WRPR3 if self.kind == LpKind::L1 => self.wrp[2],
            WRPR4 if self.kind == LpKind::L1 => self.wrp[3],
            _ => 0,
        }
    }

    fn write_reg(&mut self, off: u32, value: u32, acc: &mut Access) {
        match off {
            ACR => self.acr = value & 0x7F,
            PECR => self.write_pecr(value, acc),
            PEKEYR => {
                let locked = self.pe_key.write(self.pecr & PELOCK != 0, value, PEKEYS);
                if locked {
                    self.pecr |= LOCKS;
                } else {
                    self.pecr &= !PELOCK;
                }
            }
            PRGKEYR => self.sub_key(PRGLOCK, value),
            OPTKEYR => self.sub_key(OPTLOCK, value),
            SR => self.sr &= !(value & SR_W1C),
            // PDKEYR (power-down keys) and the read-only registers.
            _ => {}
        }
    }

    /// PRGLOCK and OPTLOCK only unlock once PELOCK is clear: keys sent
    /// earlier count as a wrong sequence.
    fn sub_key(&mut self, lock: u32, value: u32) {
        let pecr = self.pecr;
        let pe_locked = pecr & PELOCK != 0;
        let (latch, keys) = if lock == PRGLOCK { (&mut self.prg_key, PRGKEYS) } else { (&mut self.opt_key, OPTKEYS) };
        if latch.write(pecr & lock != 0 && !pe_locked, value, keys) || pe_locked {
            self.pecr |= lock;
        } else {
            self.pecr &= !lock;
        }
    }

    /// PECR ignores writes while PELOCK is set; the locks can be set, never
    /// cleared, by a write; setting PELOCK sets the other two and clears
    /// FIX/FTDW, DATA, ERASE, FPRG and PROG (RM0038 FLASH_PECR, each bit's
    /// "cleared when PELOCK is set").
    fn write_pecr(&mut self, value: u32, acc: &mut Access) {
        if self.pecr & PELOCK != 0 {
            return;
        }
        let locks = self.pecr & LOCKS | value & LOCKS;
        let new = if value & PELOCK != 0 { LOCKS | value & (EOPIE | ERRIE) } else { locks | value & PECR_WRITABLE };
        let half_mode = PROG | FPRG;
        if self.half.is_some() && new & (half_mode | ERASE) != half_mode {
            // The half page was left before its last word.
            self.fail(PGAERR);
        }
        self.pecr = new;
        if value & OBL_LAUNCH != 0 && self.pecr & OPTLOCK == 0 {
            acc.requests.system_reset = true;
        }
    }

    /// A bus write into program memory: what PECR selects happens.
    fn write_flash(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) {
        if self.pecr & PRGLOCK != 0 || (self.rdp_active() && acc.by == Initiator::Debugger) {
            return self.fail(WRPERR);
        }
        if width != AccessWidth::Word {
            return self.fail(SIZERR);
        }
        if self.protected(addr) {
            return self.fail(WRPERR);
        }
        let mode = self.pecr & (PROG | ERASE | FPRG);
        match mode {
            m if m == PROG | ERASE => {
                let page = addr & !(self.kind.page() - 1);
                self.start(acc.now, Op::ErasePage(page));
            }
            m if m == PROG | FPRG => self.half_page_word(addr, value, acc.now),
            0 => {
                let word = value.to_le_bytes().to_vec();
                if self.kind == LpKind::L0 && !self.flash.is_erased(addr, 4) {
                    return self.fail(NOTZEROERR);
                }
                self.start(acc.now, Op::Program { addr, data: word });
            }
            _ => self.fail(PGAERR),
        }
    }

    /// One word of a half page: the first on the half-page boundary, each next
    /// one right after the previous; the last one starts the write.
    fn half_page_word(&mut self, addr: u32, value: u32, now: Nanos) {
        let hp = self.kind.half_page();
        let mut half = match self.half.take() {
            None if addr % hp != 0 => return self.fail(PGAERR),
            None => HalfPage { addr, data: Vec::with_capacity(hp as usize) },
            Some(h) if addr != h.addr + h.data.len() as u32 => return self.fail(PGAERR),
            Some(h) => h,
        };
        half.data.extend_from_slice(&value.to_le_bytes());
        if half.data.len() < hp as usize {
            self.half = Some(half);
            return;
        }
        if self.kind == LpKind::L0 && !self.flash.is_erased(half.addr, hp) {
            return self.fail(NOTZEROERR);
        }
        self.start(now, Op::Program { addr: half.addr, data: half.data });
    }

    /// A store into the data EEPROM (module notes): writable once PELOCK is
    /// clear; the interface erases and programs the addressed bytes itself,
    /// taking one t_prog per step it needs, two with FIX/FTDW.
    fn write_eeprom(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) {
        if self.pecr & PELOCK != 0 || (self.rdp_active() && acc.by == Initiator::Debugger) {
            return self.fail(WRPERR);
        }
        if self.pecr & (PROG | ERASE | FPRG) != 0 {
            return self.fail(PGAERR);
        }
        let data = value.to_le_bytes()[..width.bytes() as usize].to_vec();
        let current = self.eeprom.slice(addr, data.len()).unwrap_or_default();
        let steps = if self.pecr & FIX != 0 {
            2
        } else {
            let erase = current.iter().any(|&b| b != 0);
            let program = data.iter().any(|&b| b != 0);
            (erase as u64 + program as u64).max(1)
        };
        self.busy = Some((acc.now + steps * OP_TIME, Op::EepromWrite { addr, data }));
        self.sr = (self.sr | BSY) & !ENDHV;
    }

    /// The memory-mapped option bytes: the stored words (WRPROT words: two
    /// 16-bit halves per WRPR register, see `wrp_word`).
    fn option_word(&self, off: u32) -> u32 {
        self.stored.get((off / 4) as usize).copied().unwrap_or(0xFFFF_0000)
    }

    /// A word write to the option bytes (RM0377/RM0038 option byte programming).
    fn write_option(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) {
        if self.pecr & (PELOCK | OPTLOCK) != 0 || self.rdp == RDP_LEVEL2 {
            return self.fail(WRPERR);
        }
        if width != AccessWidth::Word {
            return self.fail(SIZERR);
        }
        let index = ((addr - OPTION_BYTES) / 4) as usize;
        self.busy = Some((acc.now + 2 * OP_TIME, Op::OptionWrite { index, value }));
        self.sr = (self.sr | BSY) & !ENDHV;
    }

    fn set_wrp(&mut self, ranges: &[(u32, u32)]) -> ConfigResult {
        for &(a, b) in ranges {
            if !self.flash.contains(a) || !self.flash.contains(b) {
                return Err(format!("wrp range 0x{a:08X}-0x{b:08X} is not inside the flash {:X?}", self.flash.range()));
            }
            for sector in (a - FLASH_BASE) / WRP_SECTOR..=(b - FLASH_BASE) / WRP_SECTOR {
                let index = wrp_word((sector / 16) as usize);
                if let Some(w) = self.stored.get_mut(index) {
                    *w = pair((*w as u16) | 1 << (sector % 16));
                }
            }
        }
        Ok(())
    }

    fn set_rdp(&mut self, rdp: u8) {
        let high = self.stored[0] as u16 & 0xFF00;
        self.stored[0] = pair(high | rdp as u16);
    }
}

impl FlashModel for LpModel {
    fn name(&self) -> &'static str {
        match self.kind {
            LpKind::L0 => "L0 flash (RM0377)",
            LpKind::L1 => "L1 flash (RM0038)",
        }
    }

    fn regions(&self) -> Vec<Range<u32>> {
        vec![self.regs(), self.flash.range(), self.eeprom.range(), self.option_range()]
    }

    fn is_register(&self, addr: u32) -> bool {
        self.regs().contains(&addr)
    }

    fn advance(&mut self, now: Nanos, stats: &mut FlashStats) {
        let Some((until, op)) = self.busy.take_if(|(until, _)| *until <= now) else { return };
        let _ = until;
        match op {
            Op::ErasePage(page) => {
                self.flash.erase(page, self.kind.page());
                stats.erases += 1;
            }
            Op::Program { addr, data } => {
                self.flash.program(addr, &data);
                stats.words += 1;
            }
            Op::EepromWrite { addr, data } => {
                let o = (addr - EEPROM_BASE) as usize;
                self.eeprom.data[o..o + data.len()].copy_from_slice(&data);
                stats.eeprom_writes += 1;
            }
            Op::OptionWrite { index, value } => {
                let regression = index == 0 && self.rdp_active() && value as u8 == RDP_LEVEL0;
                if regression {
                    // Level 1 → 0: program memory and data EEPROM are erased
                    // (OpenOCD stm32lx.c:1334-1373 mass-erases this way).
                    let (f, e) = (self.flash.data.len() as u32, self.eeprom.data.len() as u32);
                    self.flash.erase(FLASH_BASE, f);
                    self.eeprom.erase(EEPROM_BASE, e);
                    stats.mass_erases += 1;
                }
                if let Some(w) = self.stored.get_mut(index) {
                    *w = value;
                }
            }
        }
        self.sr = (self.sr & !BSY) | EOP | ENDHV;
    }

    /// The operation in progress (erase, program, half page, EEPROM) ends then.
    fn next_event(&self, now: Nanos) -> Option<Nanos> {
        self.busy.as_ref().map(|(end, _)| *end).filter(|&t| t > now)
    }

    fn stall_until(&self, addr: u32, _write: bool, _by: Initiator, now: Nanos) -> Nanos {
        match &self.busy {
            Some((until, _)) if self.in_memory(addr) => (*until).max(now),
            _ => now,
        }
    }

    fn read(&mut self, addr: u32, width: AccessWidth, _acc: &mut Access) -> Result<u32, BusFault> {
        if self.regs().contains(&addr) {
            let shift = 8 * (addr & 3);
            return Ok((self.read_reg(addr & 0x3FC) >> shift) & width.mask());
        }
        if self.option_range().contains(&addr) {
            let off = addr - OPTION_BYTES;
            return Ok((self.option_word(off & !3) >> (8 * (off & 3))) & width.mask());
        }
        if self.half.is_some() && self.flash.contains(addr) {
            // A read of the program memory breaks the half-page sequence.
            let flag = if self.kind == LpKind::L0 { FWWERR } else { PGAERR };
            self.fail(flag);
        }
        let array = if self.flash.contains(addr) { &self.flash } else { &self.eeprom };
        if !array.contains(addr + width.bytes() - 1) {
            return Err(BusFault);
        }
        Ok(array.read(addr, width))
    }

    fn write(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) -> Result<(), BusFault> {
        if self.regs().contains(&addr) {
            // 32-bit registers: narrower writes land in their byte lanes.
            let shift = 8 * (addr & 3);
            self.write_reg(addr & 0x3FC, value << shift, acc);
            return Ok(());
        }
        if self.option_range().contains(&addr) {
            self.write_option(addr, width, value, acc);
            return Ok(());
        }
        if self.flash.contains(addr) {
            self.write_flash(addr, width, value, acc);
        } else {
            self.write_eeprom(addr, width, value, acc);
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.pecr = LOCKS;
        self.sr = READY | ENDHV;
        self.pe_key = KeyLatch::default();
        self.prg_key = KeyLatch::default();
        self.opt_key = KeyLatch::default();
        self.half = None;
        self.busy = None;
        self.load_options();
    }

    fn debug_readable(&self, addr: u32) -> bool {
        !(self.rdp_active() && self.in_memory(addr))
    }

    fn debug_port_disabled(&self) -> bool {
        self.rdp == RDP_LEVEL2
    }

    fn configure(&mut self, key: &str, value: &str) -> ConfigResult {
        match (key, value) {
            ("rdp", "0") => self.set_rdp(RDP_LEVEL0),
            ("rdp", "1") => self.set_rdp(RDP_LEVEL1),
            ("rdp", "2") => self.set_rdp(RDP_LEVEL2),
            ("wrp", v) => self.set_wrp(&parse_ranges(v)?)?,
            _ => {
                return Err(format!(
                    "{}: unknown setting {key}={value}; valid: rdp=0|1|2, wrp=<start>-<end>[+<start>-<end>…]",
                    self.name()
                ))
            }
        }
        self.load_options();
        Ok(())
    }

    fn save(&self) -> Vec<(String, Vec<u8>)> {
        let options: Vec<u8> = self.stored.iter().flat_map(|w| w.to_le_bytes()).collect();
        vec![
            ("flash".to_string(), self.flash.data.clone()),
            ("eeprom".to_string(), self.eeprom.data.clone()),
            ("options".to_string(), options),
        ]
    }

    fn load(&mut self, blobs: &[(String, Vec<u8>)]) -> Result<(), String> {
        let model = self.name();
        let flash = saved_blob(blobs, model, "flash", self.flash.data.len())?;
        let eeprom = saved_blob(blobs, model, "eeprom", self.eeprom.data.len())?;
        let options = saved_blob(blobs, model, "options", self.option_size as usize)?;
        self.flash.poke(FLASH_BASE, flash);
        self.eeprom.poke(EEPROM_BASE, eeprom);
        load_words(&mut self.stored, options);
        self.load_options();
        Ok(())
    }

    fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        if self.option_range().contains(&addr) {
            let bytes: Vec<u8> = self.stored.iter().flat_map(|w| w.to_le_bytes()).collect();
            let o = (addr - OPTION_BYTES) as usize;
            return bytes.get(o..o + len).map(<[u8]>::to_vec);
        }
        self.flash.slice(addr, len).or_else(|| self.eeprom.slice(addr, len)).map(<[u8]>::to_vec)
    }

    fn poke(&mut self, addr: u32, data: &[u8]) -> bool {
        if self.flash.contains(addr) {
            self.flash.poke(addr, data)
        } else {
            self.eeprom.poke(addr, data)
        }
    }

    /// The model's facts by the names of ST's headers (L0: stm32l053xx.h,
    /// L1: stm32l152xe.h; keys: stm32l0xx_hal_flash.h, stm32l1xx_hal_flash.h).
    fn register_facts(&self, f: &mut Facts) {
        let l0 = self.kind == LpKind::L0;
        f.number("FLASH_R_BASE", self.kind.regs() as u64);
        let obr = if l0 { "OPTR" } else { "OBR" };
        let mut regs = vec![("ACR", ACR), ("PECR", PECR), ("PEKEYR", PEKEYR), ("PRGKEYR", PRGKEYR)];
        regs.extend([("OPTKEYR", OPTKEYR), ("SR", SR), (obr, OBR)]);
        if l0 {
            regs.push(("WRPR", WRPR1));
            if self.flash_size() > 128 * KIB {
                regs.push(("WRPR2", WRPR2));
            }
        } else {
            regs.push(("WRPR1", WRPR1));
            // One 32-bit register per 128 KiB (4 KiB sectors).
            let count = self.flash_size().div_ceil(128 * KIB);
            for (k, off) in [WRPR2, WRPR3, WRPR4].into_iter().take(count.saturating_sub(1) as usize).enumerate() {
                regs.push((["WRPR2", "WRPR3", "WRPR4"][k], off));
            }
        }
        for (name, offset) in regs {
            f.number(format!("FLASH_TypeDef.{name}"), offset as u64);
        }
        let mut pecr = vec![
            ("PELOCK", PELOCK),
            ("PRGLOCK", PRGLOCK),
            ("OPTLOCK", OPTLOCK),
            ("PROG", PROG),
            ("DATA", DATA),
            ("ERASE", ERASE),
            ("FPRG", FPRG),
            ("EOPIE", EOPIE),
            ("ERRIE", ERRIE),
            ("OBL_LAUNCH", OBL_LAUNCH),
        ];
        // Bit 8: L0 FIX, L1 FTDW; bit 15 PARALLBANK on the dual-bank L1
        // dies only (stm32l152xe.h; stm32l073xx.h has no PECR bit 15).
        pecr.push((if l0 { "FIX" } else { "FTDW" }, FIX));
        if !l0 && self.flash_size() > 256 * KIB {
            pecr.push(("PARALLBANK", PARALLELBANK));
        }
        for (name, bit) in pecr {
            f.mask(format!("FLASH_PECR_{name}"), bit);
        }
        let mut sr = vec![
            ("BSY", BSY),
            ("EOP", EOP),
            ("READY", READY),
            ("WRPERR", WRPERR),
            ("PGAERR", PGAERR),
            ("SIZERR", SIZERR),
            ("OPTVERR", OPTVERR),
        ];
        // Bit 2: L0 HVOFF, L1 ENDHV (the model's ENDHV, set when idle).
        sr.push((if l0 { "HVOFF" } else { "ENDHV" }, ENDHV));
        if l0 {
            sr.extend([("RDERR", RDERR), ("NOTZEROERR", NOTZEROERR), ("FWWERR", FWWERR)]);
        } else {
            sr.push(("OPTVERRUSR", OPTVERRUSR));
        }
        for (name, bit) in sr {
            f.mask(format!("FLASH_SR_{name}"), bit);
        }
        f.number("FLASH_PEKEY1", PEKEYS[0] as u64).number("FLASH_PEKEY2", PEKEYS[1] as u64);
        f.number("FLASH_PRGKEY1", PRGKEYS[0] as u64).number("FLASH_PRGKEY2", PRGKEYS[1] as u64);
        f.number("FLASH_OPTKEY1", OPTKEYS[0] as u64).number("FLASH_OPTKEY2", OPTKEYS[1] as u64);
        f.number("OB_RDP_LEVEL_0", RDP_LEVEL0 as u64).number("OB_RDP_LEVEL_1", RDP_LEVEL1 as u64);
        f.number("OB_RDP_LEVEL_2", RDP_LEVEL2 as u64);
        f.number("FLASH_PAGE_SIZE", self.kind.page() as u64);
        f.number("OB_BASE", OPTION_BYTES as u64);
        f.number(if l0 { "DATA_EEPROM_BASE" } else { "FLASH_EEPROM_BASE" }, EEPROM_BASE as u64);
        // The option words the model keeps: RDP, USER, then WRPROT words
        // (`wrp_word`), at their OB_TypeDef members.
        f.number("OB_TypeDef.RDP", 0).number("OB_TypeDef.USER", 4);
        let members = ["WRP01", "WRP23", "WRP45", "WRP67", "WRP89", "WRP1011", "WRP1213", "WRP1415"];
        // One word per 16 sectors of 4 KiB.
        let words = self.flash_size().div_ceil(16 * WRP_SECTOR) as usize;
        for (n, member) in members.iter().enumerate().take(words.min(8)) {
            f.number(format!("OB_TypeDef.{member}"), wrp_word(n) as u64 * 4);
        }
    }
}

/// USER option word as shipped (BOR off, software watchdog, no reset on
/// Stop/Standby: OBR[31:16] = 0x0070).
const FACTORY_USER: u16 = 0x0070;

/// A 16-bit option value with its complement in the upper half.
/// Index of the option word holding WRPROT sectors 16n..16n+15: words 2-7
/// (0x1FF80008-0x1FF8001C), then 32-33 (0x1FF80080, 0x1FF80084) for L1
/// cat.5 sectors 96-127 (CMSIS stm32l152xe.h `OB_TypeDef`: WRP1213 at 0x80).
fn wrp_word(n: usize) -> usize {
    if n < 6 {
        2 + n
    } else {
        32 + n - 6
    }
}

fn pair(v: u16) -> u32 {
    (!v as u32) << 16 | v as u32
}

/// Option words as shipped: RDP level 0, FACTORY_USER, nothing protected.
fn factory_options(size: u32) -> Vec<u32> {
    let mut words = vec![pair(0); (size / 4) as usize];
    words[0] = pair(RDP_LEVEL0 as u16);
    words[1] = pair(FACTORY_USER);
    words
}

/// Simulated L0/L1 parts.
pub const PARTS: &[Part] = &[
    Part {
        name: "stm32l053r8",
        aliases: &["l053", "stm32l053", "l053r8"],
        // SW-DP of the Cortex-M0+ (the DPIDR of Arm's Cortex-M0+ DAP).
        dpidr: 0x0BC1_1477,
        // Cortex-M0+ r0p1 (PARTNO 0xC60; CPUID in the ARMv6-M Architecture
        // Reference Manual).
        cpuid: 0x410C_C601,
        // DEV_ID 0x417 (L0 cat.3, RM0367 DBGMCU_IDCODE), REV_ID 0x1008.
        idcode: 0x1008_6417,
        // L0 DBGMCU at 0x40015800 (CMSIS stm32l053xx.h `DBGMCU_BASE`); CR,
        // APB1_FZ, APB2_FZ follow. Flash-size register, system memory and
        // SRAM: CMSIS `FLASHSIZE_BASE`, AN2606 Table 226, the datasheet.
        dbgmcu_addr: 0x4001_5800,
        dbgmcu_ctrl_words: 3,
        flash_size_addr: 0x1FF8_007C,
        flash_size_kib: 64,
        sram: &[(0x2000_0000, 8 * KIB)],
        system_memory: (0x1FF0_0000, 4 * KIB),
        boot_address: 0x0800_0000,
        voltage_mv: 3300,
        // Data EEPROM 2 KiB: CMSIS stm32l053xx.h DATA_EEPROM_END 0x080807FF.
        flash: || Box::new(LpModel::new(LpKind::L0, 64 * KIB, 2 * KIB, 0x20)),
    },
    Part {
        name: "stm32l152re",
        aliases: &["l152", "stm32l152", "l152re"],
        // SW-DP of the Cortex-M3 STM32L1: assumed (stlink's inc/stm32.h:25-45
        // gives 0x2BA01477 for the Cortex-M4 STM32s; no L1 figure at hand).
        dpidr: 0x2BA0_1477,
        // Cortex-M3 r2p1.
        cpuid: 0x412F_C231,
        // L152RE: 512 KiB, DEV_ID 0x437 (L1 cat.5, RM0038 DBGMCU_IDCODE), REV_ID 0x1000.
        idcode: 0x1000_6437,
        dbgmcu_addr: 0xE004_2000,
        dbgmcu_ctrl_words: 3,
        flash_size_addr: 0x1FF8_00CC,
        flash_size_kib: 512,
        sram: &[(0x2000_0000, 80 * KIB)],
        system_memory: (0x1FF0_0000, 8 * KIB),
        boot_address: 0x0800_0000,
        voltage_mv: 3300,
        // Data EEPROM 16 KiB: CMSIS stm32l152xe.h FLASH_EEPROM_END 0x08083FFF.
        flash: || Box::new(LpModel::new(LpKind::L1, 512 * KIB, 16 * KIB, 0xA0)),
    },
    Part {
        name: "stm32l151rd",
        aliases: &["l151rd"],
        dpidr: 0x2BA0_1477,
        cpuid: 0x412F_C231,
        // L1 cat.4, DEV_ID 0x436; its size register reads 0 for 384 KiB
        // (as stlink v1.8.0 decodes it, src/stlink-lib/common.c:274-280).
        idcode: 0x1018_6436,
        dbgmcu_addr: 0xE004_2000,
        dbgmcu_ctrl_words: 3,
        flash_size_addr: 0x1FF8_00CC,
        flash_size_kib: 0,
        sram: &[(0x2000_0000, 48 * KIB)],
        system_memory: (0x1FF0_0000, 8 * KIB),
        boot_address: 0x0800_0000,
        voltage_mv: 3300,
        // Data EEPROM 12 KiB: CMSIS stm32l151xd.h FLASH_EEPROM_END 0x08082FFF.
        flash: || Box::new(LpModel::new(LpKind::L1, 384 * KIB, 12 * KIB, 0xA0)),
    },
];

/// The register facts of a part of this family, by the names of ST's
/// headers (`crate::facts`).
pub fn register_facts(part: &Part, f: &mut Facts) {
    let dev_id = (part.idcode & 0xFFF) as u16;
    f.identity(part, "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE", "FLASHSIZE_BASE");
    if let Some(p) = crate::crc_peripheral::placement(dev_id) {
        f.crc(p, "CRC_BASE", ("RCC_BASE+RCC_TypeDef.AHBENR", "RCC_AHBENR_CRCEN"));
    }
    (part.flash)().register_facts(f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Requests;

    const L0_PECR: u32 = 0x4002_2004;
    const L0_PEKEYR: u32 = 0x4002_200C;
    const L0_PRGKEYR: u32 = 0x4002_2010;
    const L0_SR: u32 = 0x4002_2018;

    struct Bench {
        m: LpModel,
        now: Nanos,
        stats: FlashStats,
    }

    impl Bench {
        fn l0() -> Bench {
            Bench { m: LpModel::new(LpKind::L0, 64 * KIB, 2 * KIB, 0x20), now: 0, stats: FlashStats::default() }
        }
        fn l1() -> Bench {
            Bench { m: LpModel::new(LpKind::L1, 512 * KIB, 16 * KIB, 0xA0), now: 0, stats: FlashStats::default() }
        }
        fn w(&mut self, addr: u32, value: u32) {
            self.wx(addr, AccessWidth::Word, value);
        }
        fn wx(&mut self, addr: u32, width: AccessWidth, value: u32) {
            self.now = self.now.max(self.m.stall_until(addr, true, Initiator::Debugger, self.now)) + 1000;
            self.m.advance(self.now, &mut self.stats);
            let mut req = Requests::default();
            let mut acc = Access { now: self.now, by: Initiator::Debugger, stats: &mut self.stats, requests: &mut req };
            self.m.write(addr, width, value, &mut acc).unwrap();
        }
        fn r(&mut self, addr: u32) -> u32 {
            self.now = self.now.max(self.m.stall_until(addr, false, Initiator::Debugger, self.now)) + 1000;
            self.m.advance(self.now, &mut self.stats);
            let mut req = Requests::default();
            let mut acc = Access { now: self.now, by: Initiator::Debugger, stats: &mut self.stats, requests: &mut req };
            self.m.read(addr, AccessWidth::Word, &mut acc).unwrap()
        }
        fn idle(&mut self) {
            self.now += 10 * OP_TIME;
            self.m.advance(self.now, &mut self.stats);
        }
        fn unlock(&mut self, base: u32) {
            self.w(base + PEKEYR, PEKEYS[0]);
            self.w(base + PEKEYR, PEKEYS[1]);
            self.w(base + PRGKEYR, PRGKEYS[0]);
            self.w(base + PRGKEYR, PRGKEYS[1]);
        }
        fn half_page(&mut self, addr: u32, words: u32, first: u32) {
            for i in 0..words {
                self.w(addr + 4 * i, first + i);
            }
        }
    }

    #[test]
    fn keys_unlock_in_order_and_a_wrong_key_locks_until_reset() {
        let mut b = Bench::l0();
        assert_eq!(b.r(L0_PECR) & 7, 7, "all locked after reset");
        // PRGKEYR before PEKEYR: a wrong sequence.
        b.w(L0_PRGKEYR, PRGKEYS[0]);
        b.w(L0_PRGKEYR, PRGKEYS[1]);
        b.w(L0_PEKEYR, PEKEYS[0]);
        b.w(L0_PEKEYR, PEKEYS[1]);
        assert_eq!(b.r(L0_PECR) & 7, 6, "PELOCK clear");
        b.w(L0_PRGKEYR, PRGKEYS[0]);
        b.w(L0_PRGKEYR, PRGKEYS[1]);
        assert_eq!(b.r(L0_PECR) & PRGLOCK, PRGLOCK, "PRGLOCK stuck after the early attempt");
        b.m.reset();
        b.unlock(0x4002_2000);
        assert_eq!(b.r(L0_PECR) & 7, OPTLOCK, "PELOCK and PRGLOCK clear after reset");
        // A second sequence while unlocked locks PECR again until reset.
        b.w(L0_PEKEYR, PEKEYS[0]);
        b.w(L0_PEKEYR, PEKEYS[1]);
        assert_eq!(b.r(L0_PECR) & 7, 7);
        b.w(L0_PEKEYR, PEKEYS[0]);
        b.w(L0_PEKEYR, PEKEYS[1]);
        assert_eq!(b.r(L0_PECR) & 7, 7, "stuck");
        // Wrong first key.
        b.m.reset();
        b.w(L0_PEKEYR, 0x1234_5678);
        b.w(L0_PEKEYR, PEKEYS[0]);
        b.w(L0_PEKEYR, PEKEYS[1]);
        assert_eq!(b.r(L0_PECR) & PELOCK, PELOCK);
    }

    #[test]
    fn half_page_programs_sixteen_consecutive_words_after_the_last_one() {
        let mut b = Bench::l0();
        b.unlock(0x4002_2000);
        b.w(L0_PECR, FPRG | PROG);
        b.half_page(0x0800_0040, 15, 0x1000);
        assert_eq!(b.m.peek(0x0800_0040, 4).unwrap(), vec![0; 4], "nothing before the 16th word");
        assert_eq!(b.r(L0_SR) & BSY, 0);
        b.w(0x0800_0040 + 60, 0x100F);
        assert_eq!(b.r(L0_SR) & BSY, BSY, "busy after the 16th word");
        b.idle();
        assert_eq!(b.r(L0_SR) & (BSY | EOP), EOP);
        assert_eq!(b.m.peek(0x0800_0040, 4).unwrap(), 0x1000u32.to_le_bytes());
        assert_eq!(b.m.peek(0x0800_007C, 4).unwrap(), 0x100Fu32.to_le_bytes());
        assert_eq!(b.stats.words, 1);
    }

    #[test]
    fn misaligned_or_out_of_sequence_half_pages_set_pgaerr_and_write_nothing() {
        let mut b = Bench::l0();
        b.unlock(0x4002_2000);
        b.w(L0_PECR, FPRG | PROG);
        b.w(0x0800_0044, 1);
        assert_eq!(b.r(L0_SR) & PGAERR, PGAERR, "first word off the half-page boundary");
        b.w(L0_SR, PGAERR);
        b.w(0x0800_0000, 1);
        b.w(0x0800_0008, 2);
        assert_eq!(b.r(L0_SR) & PGAERR, PGAERR, "a skipped word");
        b.w(L0_SR, PGAERR);
        b.half_page(0x0800_0000, 8, 1);
        b.w(0x0800_0080, 9);
        assert_eq!(b.r(L0_SR) & PGAERR, PGAERR, "a word in the next half page");
        b.idle();
        assert!(b.m.flash.is_erased(0x0800_0000, 256));
    }

    #[test]
    fn a_read_during_a_half_page_abandons_it_with_fwwerr_on_l0() {
        let mut b = Bench::l0();
        b.unlock(0x4002_2000);
        b.w(L0_PECR, FPRG | PROG);
        b.half_page(0x0800_0000, 4, 1);
        b.r(0x0800_1000);
        assert_eq!(b.r(L0_SR) & FWWERR, FWWERR);
        b.half_page(0x0800_0010, 12, 5);
        b.idle();
        assert!(b.m.flash.is_erased(0x0800_0000, 64), "nothing written");
    }

    #[test]
    fn size_lock_protection_and_notzero_errors() {
        let mut b = Bench::l0();
        b.w(0x0800_0000, 5);
        assert_eq!(b.r(L0_SR) & WRPERR, WRPERR, "program memory still locked");
        b.w(L0_SR, WRPERR);
        b.unlock(0x4002_2000);
        b.wx(0x0800_0000, AccessWidth::Half, 5);
        assert_eq!(b.r(L0_SR) & SIZERR, SIZERR);
        b.w(L0_SR, SIZERR);
        // Word programming over a non-zero word.
        b.m.poke(0x0800_0100, &[1, 0, 0, 0]);
        b.w(0x0800_0100, 2);
        assert_eq!(b.r(L0_SR) & NOTZEROERR, NOTZEROERR);
        assert_eq!(b.m.peek(0x0800_0100, 1).unwrap(), vec![1]);
        b.w(L0_SR, NOTZEROERR);
        // Write protection: sector 1 (0x08001000-0x08001FFF).
        b.m.configure("wrp", "0x08001000-0x08001fff").unwrap();
        assert_eq!(b.m.read_reg(WRPR1), 2);
        b.w(L0_PECR, ERASE | PROG);
        b.m.poke(0x0800_1000, &[7; 4]);
        b.w(0x0800_1000, 0);
        assert_eq!(b.r(L0_SR) & WRPERR, WRPERR);
        b.idle();
        assert_eq!(b.m.peek(0x0800_1000, 1).unwrap(), vec![7], "protected page kept");
    }

    #[test]
    fn page_erase_clears_one_page_to_zero() {
        let mut b = Bench::l1();
        b.m.poke(0x0800_0000, &[0xA5; 768]);
        b.unlock(0x4002_3C00);
        b.w(0x4002_3C04, ERASE | PROG);
        b.w(0x0800_0104, 0);
        b.idle();
        assert_eq!(b.m.peek(0x0800_0100, 256).unwrap(), vec![0; 256]);
        assert_eq!(b.m.peek(0x0800_00FF, 1).unwrap(), vec![0xA5]);
        assert_eq!(b.m.peek(0x0800_0200, 1).unwrap(), vec![0xA5]);
        assert_eq!(b.stats.erases, 1);
    }

    #[test]
    fn rdp_level1_blocks_debugger_reads_and_writes() {
        let mut b = Bench::l1();
        b.m.configure("rdp", "1").unwrap();
        assert!(!b.m.debug_readable(0x0800_0000));
        assert!(!b.m.debug_readable(0x0808_0000));
        assert!(b.m.debug_readable(0x4002_3C18));
        assert_eq!(b.r(0x4002_3C1C) & 0xFF, 0xBB);
        b.unlock(0x4002_3C00);
        b.w(0x4002_3C04, FPRG | PROG);
        b.w(0x0800_0000, 1);
        assert_eq!(b.r(0x4002_3C18) & WRPERR, WRPERR);
        assert!(b.m.configure("rdp", "3").unwrap_err().contains("valid"));
    }

    const L0_EEPROM: u32 = 0x0808_0000;

    fn unlock_pe(b: &mut Bench) {
        b.w(L0_PEKEYR, PEKEYS[0]);
        b.w(L0_PEKEYR, PEKEYS[1]);
    }

    /// Modeled time of one store into the EEPROM, from the store to BSY clear.
    fn eeprom_store(b: &mut Bench, addr: u32, width: AccessWidth, value: u32) -> Nanos {
        b.wx(addr, width, value);
        let start = b.now;
        let end = b.m.next_event(start).expect("busy");
        b.idle();
        assert_eq!(b.r(L0_SR) & (BSY | WRPERR | PGAERR), 0);
        end - start
    }

    #[test]
    fn eeprom_stores_need_only_pelock_open_and_erase_by_themselves_as_needed() {
        let mut b = Bench::l0();
        // Locked: WRPERR, nothing written.
        b.w(L0_EEPROM, 0x1234_5678);
        assert_eq!(b.r(L0_SR) & WRPERR, WRPERR);
        b.idle();
        assert_eq!(b.m.peek(L0_EEPROM, 4).unwrap(), vec![0; 4], "erased EEPROM reads 0x00");
        b.w(L0_SR, WRPERR);
        unlock_pe(&mut b);
        assert_eq!(b.r(L0_PECR) & (PRGLOCK | OPTLOCK), PRGLOCK | OPTLOCK, "program memory stays locked");
        // Over an erased word only programming is needed: one t_prog.
        assert_eq!(eeprom_store(&mut b, L0_EEPROM, AccessWidth::Word, 0x1234_5678), OP_TIME);
        assert_eq!(b.m.peek(L0_EEPROM, 4).unwrap(), 0x1234_5678u32.to_le_bytes());
        // Over programmed cells: erase, then program.
        assert_eq!(eeprom_store(&mut b, L0_EEPROM, AccessWidth::Word, 0x0F0F_0F0F), 2 * OP_TIME);
        assert_eq!(b.m.peek(L0_EEPROM, 4).unwrap(), 0x0F0F_0F0Fu32.to_le_bytes(), "not ORed in");
        // Zero: only the erase.
        assert_eq!(eeprom_store(&mut b, L0_EEPROM, AccessWidth::Word, 0), OP_TIME);
        assert_eq!(b.m.peek(L0_EEPROM, 4).unwrap(), vec![0; 4]);
        // A byte and a half-word change only their bytes.
        b.m.poke(L0_EEPROM + 4, &[1, 2, 3, 4]);
        assert_eq!(eeprom_store(&mut b, L0_EEPROM + 5, AccessWidth::Byte, 0xAB), 2 * OP_TIME);
        eeprom_store(&mut b, L0_EEPROM + 6, AccessWidth::Half, 0xCDEF);
        assert_eq!(b.m.peek(L0_EEPROM + 4, 4).unwrap(), vec![1, 0xAB, 0xEF, 0xCD]);
        // FIX: always erase and program, a fixed 2 × t_prog.
        b.w(L0_PECR, FIX);
        assert_eq!(eeprom_store(&mut b, L0_EEPROM + 8, AccessWidth::Word, 7), 2 * OP_TIME);
        assert_eq!(b.stats.eeprom_writes, 6);
        // Setting PELOCK clears FIX and relocks the EEPROM.
        b.w(L0_PECR, PELOCK | FIX);
        assert_eq!(b.r(L0_PECR), PELOCK | PRGLOCK | OPTLOCK);
        b.w(L0_EEPROM + 8, 9);
        assert_eq!(b.r(L0_SR) & WRPERR, WRPERR);
    }

    #[test]
    fn eeprom_accesses_stall_while_a_store_runs_and_misuse_is_refused() {
        let mut b = Bench::l1();
        let l1_eeprom_end = 0x0808_0000 + 16 * KIB;
        b.w(0x4002_3C0C, PEKEYS[0]);
        b.w(0x4002_3C0C, PEKEYS[1]);
        b.w(0x0808_0010, 0xAABB_CCDD);
        let stored_at = b.now;
        assert!(b.m.stall_until(0x0808_0000, false, Initiator::Debugger, b.now) >= stored_at + OP_TIME - 1000);
        assert!(b.m.stall_until(0x0800_0000, false, Initiator::Debugger, b.now) > b.now, "the flash too");
        assert_eq!(b.r(0x0808_0010), 0xAABB_CCDD, "a read waits for the store");
        // A program-memory mode left on: not an EEPROM store (PGAERR, assumed).
        b.w(0x4002_3C04, PROG | FPRG);
        b.w(0x0808_0020, 5);
        assert_eq!(b.r(0x4002_3C18) & PGAERR, PGAERR);
        b.idle();
        assert_eq!(b.m.peek(0x0808_0020, 4).unwrap(), vec![0; 4]);
        assert!(!b.m.eeprom.contains(l1_eeprom_end), "16 KiB on the L152RE");
        // RDP level 1: the debugger may not store into the EEPROM.
        let mut r = Bench::l0();
        r.m.configure("rdp", "1").unwrap();
        unlock_pe(&mut r);
        r.w(L0_EEPROM, 1);
        assert_eq!(r.r(L0_SR) & WRPERR, WRPERR);
        r.idle();
        assert_eq!(r.m.peek(L0_EEPROM, 1).unwrap(), vec![0]);
    }

    #[test]
    fn state_round_trips() {
        let mut m = LpModel::new(LpKind::L0, 64 * KIB, 2 * KIB, 0x20);
        m.poke(0x0800_0010, &[1, 2, 3]);
        m.poke(0x0808_0004, &[9]);
        m.configure("wrp", "0x08000000-0x08000fff").unwrap();
        let saved = m.save();
        let mut n = LpModel::new(LpKind::L0, 64 * KIB, 2 * KIB, 0x20);
        n.load(&saved).unwrap();
        assert_eq!(n.peek(0x0800_0010, 3), Some(vec![1, 2, 3]));
        assert_eq!(n.peek(0x0808_0004, 1), Some(vec![9]));
        assert_eq!(n.wrp[0], 1);
    }
}
