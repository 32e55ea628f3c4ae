//! STM32L5/U5 flash model: the TrustZone controller seen through its
//! non-secure registers, written from RM0438 (L5) and RM0456 (U5) and the
//! register descriptions in ST's SVD files for the L552 and U575.
//!
//! What it models:
//! - NSKEYR unlocks NSCR.LOCK (a wrong key or a second sequence locks until
//!   reset); OPTKEYR unlocks OPTLOCK only after LOCK is clear;
//! - bank mode from OPTR: L5 DBANK (bit 22; DB256K bit 21 on 256 KiB parts):
//!   dual = two banks of 2 KiB pages, single = 4 KiB pages; U5 DUALBANK (bit
//!   21) on 512 KiB and 1 MiB parts, always dual otherwise, 8 KiB pages; bank
//!   2 at half;
//! - page erase (PER, PNB of the part's width from bit 3, BKER bit 11 for bank
//!   2, STRT bit 16), bank erase (MER1 bit 2, MER2 bit 15), 22 ms (L5) or
//!   1.5 ms (U5) per page and 22 ms per bank (assumed, see `start_erase`);
//! - programming with PG: L5 double words, U5 quad words, as consecutive
//!   32-bit writes starting on the unit boundary; then 82 µs busy;
//! - errors: PGSERR (STRT with no or conflicting operation, flash write with
//!   PG clear, write while an earlier program error is still set, operation
//!   outside voltage range 0 on L5), SIZERR (byte/half-word write), PGAERR
//!   (unit started off its boundary or continued out of sequence), PROGERR
//!   (target not erased, unless the data is all zero), WRPERR (page in a WRP
//!   area, RDP level 1 with the debugger, or TrustZone on); nothing is
//!   written or erased on an error; W1C status flags;
//! - RDP from OPTR (0xAA level 0, 0x55 level 0.5, 0xCC level 2, else 1):
//!   debugger reads of flash fault at level 1; WRP areas A/B per bank;
//! - option registers (OPTR, NSBOOTADD0R/1R, WRPxyR): editable with LOCK and
//!   OPTLOCK clear, stored by OPTSTRT (BSY for the modeled time; a store that
//!   takes a loaded level 1 to 0 erases the flash; level 2 stores nothing),
//!   loaded at reset and by OBL_LAUNCH, which resets the chip; protection,
//!   RDP and the bank mode follow the loaded values (RM0438 §6.4.2, RM0456
//!   §7.4.2);
//! - L5 power: PWR_CR1.VOS (reset: range 2) writable once RCC_APB1ENR1.PWREN
//!   is set, PWR_SR2.VOSF for 20 µs after a change.
//!
//! - WBA5 (RM0493; CMSIS stm32wba52xx.h, the same NSKEYR/NSSR/NSCR1/OPTR
//!   offsets and bits): one bank of 8 KiB pages, quad words, no BKER/MER2
//!   (bits 11 and 15 ignored, assumed), WDW, no voltage condition;
//! - U3 (RM0487; stm32u375xx.h): 4 KiB pages in both bank modes, double
//!   words, 1 MiB always two banks, 512 KiB two with OPTR.DUALBANK (bit 21),
//!   WDW; erase and program need voltage range 1 (RM0487 as quoted in Zephyr
//!   PR #104662): PWR_VOSR (0x4003080C; R1EN 0, R2EN 1, BOOSTEN 8, R1RDY 16,
//!   R2RDY 17, BOOSTRDY 24; stm32u385xx.h:12583-12598) writable once
//!   RCC_AHB1ENR2.PWREN (0x40030C94 bit 2) is set, the ready bits 20 µs after
//!   a change; range 2 after reset (assumed); outside range 1 erase and
//!   program raise PGSERR (assumed, as on L5); the booster is not needed
//!   (assumed). DUALBANK is set as shipped (assumed).
//!
//! Assumed, for want of RM text (no knob changes them): out-of-range page numbers
//! and erases outside voltage range 0 raise PGSERR; with TrustZone on every
//! page counts as secure (WRPERR for the non-secure registers); in single-bank
//! mode BKER is ignored and MER1 or MER2 erase the whole array; clearing PG in
//! the middle of a unit abandons it with PGSERR; a debugger read of a unit
//! programmed twice (broken ECC) faults (what an AHB-AP read returns there is
//! not documented).

use std::ops::Range;

use crate::facts::Facts;
use crate::model::{
    load_words, parse_ranges, saved_blob, Access, AccessWidth, BusFault, ConfigResult, FlashArray, FlashModel,
    FlashStats, Initiator, KeyLatch, Nanos, MS, US,
};
use crate::parts::Part;

const KIB: u32 = 1024;
const FLASH_BASE: u32 = 0x0800_0000;
const REGS: u32 = 0x4002_2000;
const OTP: Range<u32> = 0x0BFA_0000..0x0BFA_0200;

// Register offsets (CMSIS `FLASH_TypeDef` in stm32l552xx.h and stm32u575xx.h).
const NSKEYR: u32 = 0x08;
const OPTKEYR: u32 = 0x10;
const NSSR: u32 = 0x20;
const NSCR: u32 = 0x28;
const OPTR: u32 = 0x40;
const NSBOOTADD0R: u32 = 0x44;
const NSBOOTADD1R: u32 = 0x48;
const WRP1AR: u32 = 0x58;
const WRP1BR: u32 = 0x5C;
const WRP2AR: u32 = 0x68;
const WRP2BR: u32 = 0x6C;

// NSSR.
const EOP: u32 = 1 << 0;
const OPERR: u32 = 1 << 1;
const PROGERR: u32 = 1 << 3;
const WRPERR: u32 = 1 << 4;
const PGAERR: u32 = 1 << 5;
const SIZERR: u32 = 1 << 6;
const PGSERR: u32 = 1 << 7;
const OPTWERR: u32 = 1 << 13;
const BSY: u32 = 1 << 16;
/// U5: write data waiting in the buffer.
const WDW: u32 = 1 << 17;
// NSSR has no OPTVERR (stm32l552xx.h:7288-7313, stm32u575xx.h:8188-8216: bit 15
// is reserved), so writing 1 there clears nothing.
const SR_W1C: u32 = EOP | OPERR | PROGERR | WRPERR | PGAERR | SIZERR | PGSERR | OPTWERR;
/// Flags that make the next program or erase fail with PGSERR while set.
const STALE_PROGRAM_ERRORS: u32 = PROGERR | WRPERR | PGAERR | SIZERR;

// NSCR.
const PG: u32 = 1 << 0;
const PER: u32 = 1 << 1;
const MER1: u32 = 1 << 2;
const BKER: u32 = 1 << 11;
const MER2: u32 = 1 << 15;
const STRT: u32 = 1 << 16;
const OPTSTRT: u32 = 1 << 17;
const EOPIE: u32 = 1 << 24;
const OBL_LAUNCH: u32 = 1 << 27;
const OPTLOCK: u32 = 1 << 30;
const LOCK: u32 = 1 << 31;

// OPTR.
const DB256K_OR_DUALBANK: u32 = 1 << 21;
const DBANK: u32 = 1 << 22;
const TZEN: u32 = 1 << 31;
/// User option bits as shipped, RDP apart (nRST_*, IWDG/WWDG_SW, nSWBOOT0,
/// nBOOT0…): illustrative, only the bits above matter to the flash.
const OPTR_USER_DEFAULT: u32 = 0x1C0F_7000;

const RDP_LEVEL0: u32 = 0xAA;
const RDP_LEVEL0_5: u32 = 0x55;
const RDP_LEVEL1: u32 = 0xBB;
const RDP_LEVEL2: u32 = 0xCC;

const KEYS: [u32; 2] = [0x4567_0123, 0xCDEF_89AB];
const OPTKEYS: [u32; 2] = [0x0819_2A3B, 0x4C5D_6E7F];

// L5 power control (CMSIS stm32l552xx.h: PWR 0x40007000, CR1.VOS bits 10:9
// with 00 = range 0 and 10 = range 2 (reset), SR2.VOSF bit 10; RCC_APB1ENR1
// at 0x40021058 with PWREN bit 28).
const PWR: Range<u32> = 0x4000_7000..0x4000_7018;
const PWR_CR1: u32 = 0x4000_7000;
const PWR_SR2: u32 = 0x4000_7014;
const VOS_MASK: u32 = 3 << 9;
const VOS_RANGE2: u32 = 2 << 9;
const VOSF: u32 = 1 << 10;
const RCC_APB1ENR1: Range<u32> = 0x4002_1058..0x4002_105C;
const PWREN: u32 = 1 << 28;
/// VOSF stays set this long after a VOS change: assumed.
const VOS_SETTLE: Nanos = 20 * US;

// U3 power control (see the module notes).
const U3_VOSR: u32 = 0x4003_080C;
const U3_RCC_AHB1ENR2: u32 = 0x4003_0C94;
const U3_PWREN: u32 = 1 << 2;
const R1EN: u32 = 1 << 0;
const R2EN: u32 = 1 << 1;
const BOOSTEN: u32 = 1 << 8;
const R1RDY: u32 = 1 << 16;
const R2RDY: u32 = 1 << 17;
const BOOSTRDY: u32 = 1 << 24;

/// Which controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TzKind {
    L5,
    U5,
    Wba5,
    U3,
}

#[derive(Debug, Clone)]
enum Op {
    ErasePages {
        addr: u32,
        len: u32,
        count: u64,
    },
    EraseBanks {
        addr: u32,
        len: u32,
        count: u64,
    },
    Program {
        addr: u32,
        data: Vec<u8>,
    },
    /// OPTSTRT: store the option registers.
    Options,
}

/// Option values: OPTR, WRP1AR, WRP1BR, WRP2AR, WRP2BR, NSBOOTADD0R, NSBOOTADD1R.
type OptionSet = [u32; 7];
/// NSBOOTADDx as shipped: 0x08000000 (flash) and 0x0BF90000 (bootloader),
/// address bits 31:7, low bits read 1 (RM0438/RM0456 reset value 0x0000000F).
const BOOT_DEFAULTS: [u32; 2] = [0x0800_000F, 0x0BF9_000F];
/// Storing the options (modeled like a page erase).
const OPTION_STORE: Nanos = 22 * MS;

/// The L5/U5 flash controller and its array.
pub struct TzModel {
    kind: TzKind,
    size: u32,
    /// Width of NSCR.PNB and of the WRP page fields on this die (CMSIS: U535
    /// 5 bits, L5/U575 7 bits, U59x/U5F 8 bits).
    pnb_bits: u32,
    array: FlashArray,
    nscr: u32,
    nssr: u32,
    /// OPTR in force (loaded at reset or OBL_LAUNCH).
    optr: u32,
    /// WRP1AR, WRP1BR, WRP2AR, WRP2BR in force.
    wrp: [u32; 4],
    /// NSBOOTADD0R/1R in force.
    boot: [u32; 2],
    /// The option registers software edits, and the values stored by OPTSTRT.
    edit: OptionSet,
    stored: OptionSet,
    key: KeyLatch,
    opt_key: KeyLatch,
    /// A double/quad word being collected: its address and the bytes so far.
    buffer: Option<(u32, Vec<u8>)>,
    busy: Option<(Nanos, Op)>,
    pwr_cr1: u32,
    rcc_apb1enr1: u32,
    vos_settled_at: Nanos,
    /// U3: PWR_VOSR control bits and RCC_AHB1ENR2.
    vosr: u32,
    rcc_ahb1enr2: u32,
}

impl TzModel {
    pub fn new(kind: TzKind, size: u32, pnb_bits: u32) -> TzModel {
        let unit = if matches!(kind, TzKind::L5 | TzKind::U3) { 8 } else { 16 };
        // PSTRT > PEND: no area; on U5 with UNLOCK (bit 31) set, so that an
        // area set later can be removed again (RM0456 FLASH_WRP1AR.UNLOCK; the
        // factory value is assumed removable).
        let unlock = if kind == TzKind::L5 { 0 } else { 1 << 31 };
        // Dual-bank mode as shipped where the die chooses it (DBANK and
        // DB256K on L5, DUALBANK on U5 and U3; no bank bits on WBA5).
        let banks = match kind {
            TzKind::L5 | TzKind::U5 => DBANK | DB256K_OR_DUALBANK,
            TzKind::U3 => DB256K_OR_DUALBANK,
            TzKind::Wba5 => 0,
        };
        let none = (((1 << pnb_bits) - 1) & 0xFF) | unlock;
        let mut m = TzModel {
            kind,
            size,
            pnb_bits,
            array: FlashArray::new(FLASH_BASE, size, 0xFF, unit),
            nscr: 0,
            nssr: 0,
            // Dual-bank mode as shipped (DBANK/DB256K/DUALBANK set), TrustZone off.
            optr: OPTR_USER_DEFAULT | banks | RDP_LEVEL0,
            wrp: [none; 4],
            boot: BOOT_DEFAULTS,
            edit: [0; 7],
            stored: [0; 7],
            key: KeyLatch::default(),
            opt_key: KeyLatch::default(),
            buffer: None,
            busy: None,
            pwr_cr1: VOS_RANGE2,
            rcc_apb1enr1: 0,
            vos_settled_at: 0,
            vosr: R2EN,
            rcc_ahb1enr2: 0,
        };
        m.stored = m.in_force();
        m.reset();
        m
    }

    fn in_force(&self) -> OptionSet {
        let [w0, w1, w2, w3] = self.wrp;
        [self.optr, w0, w1, w2, w3, self.boot[0], self.boot[1]]
    }

    /// Load the stored option values (reset, OBL_LAUNCH).
    fn load_options(&mut self) {
        let s = self.stored;
        (self.optr, self.wrp, self.boot) = (s[0], [s[1], s[2], s[3], s[4]], [s[5], s[6]]);
        self.edit = s;
    }

    /// Index of an option register in an `OptionSet`.
    fn option_index(off: u32) -> Option<usize> {
        Some(match off {
            OPTR => 0,
            WRP1AR => 1,
            WRP1BR => 2,
            WRP2AR => 3,
            WRP2BR => 4,
            NSBOOTADD0R => 5,
            NSBOOTADD1R => 6,
            _ => return None,
        })
    }

    fn unit(&self) -> u32 {
        self.array.ecc_unit
    }

    fn dual(&self) -> bool {
        match self.kind {
            TzKind::L5 if self.size <= 256 * KIB => self.optr & DB256K_OR_DUALBANK != 0,
            TzKind::L5 => self.optr & DBANK != 0,
            // DUALBANK only exists on 512 KiB and 1 MiB parts.
            TzKind::U5 => !(512 * KIB..2048 * KIB).contains(&self.size) || self.optr & DB256K_OR_DUALBANK != 0,
            TzKind::U3 => self.size >= 1024 * KIB || self.optr & DB256K_OR_DUALBANK != 0,
            TzKind::Wba5 => false,
        }
    }

    fn page_size(&self) -> u32 {
        match self.kind {
            TzKind::L5 if self.dual() => 2 * KIB,
            TzKind::L5 => 4 * KIB,
            TzKind::U5 | TzKind::Wba5 => 8 * KIB,
            TzKind::U3 => 4 * KIB,
        }
    }

    fn bank_size(&self) -> u32 {
        if self.dual() {
            self.size / 2
        } else {
            self.size
        }
    }

    /// (bank, page) of a flash address.
    fn page_of(&self, addr: u32) -> (u32, u32) {
        let off = addr - FLASH_BASE;
        (off / self.bank_size(), off % self.bank_size() / self.page_size())
    }

    fn field_mask(&self) -> u32 {
        (1 << self.pnb_bits) - 1
    }

    fn rdp(&self) -> u32 {
        self.optr & 0xFF
    }

    fn rdp_level1(&self) -> bool {
        !matches!(self.rdp(), RDP_LEVEL0 | RDP_LEVEL0_5 | RDP_LEVEL2)
    }

    /// A page inside WRP area A or B of its bank.
    fn write_protected(&self, bank: u32, page: u32) -> bool {
        let regs = if bank == 0 { &self.wrp[0..2] } else { &self.wrp[2..4] };
        regs.iter().any(|&r| {
            let (start, end) = (r & self.field_mask(), (r >> 16) & self.field_mask());
            start <= end && (start..=end).contains(&page)
        })
    }

    /// Why the non-secure side may not touch flash right now (WRPERR).
    fn access_denied(&self, by: Initiator) -> bool {
        self.optr & TZEN != 0 || (self.rdp_level1() && by == Initiator::Debugger)
    }

    fn voltage_ok(&self) -> bool {
        match self.kind {
            TzKind::L5 => self.pwr_cr1 & VOS_MASK == 0,
            TzKind::U3 => self.vosr & R1EN != 0,
            TzKind::U5 | TzKind::Wba5 => true,
        }
    }

    fn fail(&mut self, flags: u32) {
        self.nssr |= flags;
        self.buffer = None;
    }

    fn start(&mut self, now: Nanos, time: Nanos, op: Op) {
        self.busy = Some((now + time, op));
        self.nssr |= BSY;
    }

    fn write_nscr(&mut self, value: u32, acc: &mut Access) {
        if self.nscr & LOCK != 0 {
            return;
        }
        let keep = self.nscr & (OPTLOCK | STRT | OPTSTRT);
        let writable = !(LOCK | OPTLOCK | STRT | OPTSTRT | OBL_LAUNCH);
        let new = keep | value & writable | value & (LOCK | OPTLOCK);
        if self.buffer.is_some() && new & PG == 0 {
            self.fail(PGSERR);
        }
        self.nscr = new;
        if value & OBL_LAUNCH != 0 && self.nscr & OPTLOCK == 0 {
            acc.requests.system_reset = true;
        }
        if value & STRT != 0 && self.busy.is_none() {
            self.start_erase(acc);
        }
        if value & OPTSTRT != 0 && self.busy.is_none() {
            if self.nscr & OPTLOCK != 0 {
                self.fail(PGSERR);
            } else {
                self.start(acc.now, OPTION_STORE, Op::Options);
            }
        }
    }

    /// STRT: a page erase (PER) or bank erases (MER1/MER2), nothing else.
    fn start_erase(&mut self, acc: &mut Access) {
        let cr = self.nscr;
        let mer = cr & (MER1 | MER2);
        let valid = (cr & PER != 0) != (mer != 0) && cr & PG == 0;
        if !valid || self.nssr & STALE_PROGRAM_ERRORS != 0 || !self.voltage_ok() {
            return self.fail(PGSERR);
        }
        if self.access_denied(acc.by) {
            return self.fail(WRPERR);
        }
        // Assumed, not measured; `flash-time=F` scales them: typical values
        // recalled from the datasheets' "Flash memory characteristics" (L5:
        // 22 ms per page like the L4; U5: 1.5 ms per 8 KiB page; 22 ms per bank).
        let (page_time, bank_time) = match self.kind {
            TzKind::L5 => (22 * MS, 22 * MS),
            TzKind::U5 | TzKind::Wba5 | TzKind::U3 => (1500 * US, 22 * MS),
        };
        if cr & PER != 0 {
            let bank = if self.dual() && cr & BKER != 0 { 1 } else { 0 };
            let page = (cr >> 3) & self.field_mask();
            if page >= self.bank_size() / self.page_size() {
                return self.fail(PGSERR);
            }
            if self.write_protected(bank, page) {
                return self.fail(WRPERR);
            }
            let addr = FLASH_BASE + bank * self.bank_size() + page * self.page_size();
            self.nscr |= STRT;
            return self.start(acc.now, page_time, Op::ErasePages { addr, len: self.page_size(), count: 1 });
        }
        let banks: Vec<u32> = if !self.dual() {
            vec![0]
        } else {
            [(MER1, 0), (MER2, 1)].iter().filter(|(bit, _)| mer & bit != 0).map(|&(_, b)| b).collect()
        };
        let pages = self.bank_size() / self.page_size();
        if banks.iter().any(|&b| (0..pages).any(|p| self.write_protected(b, p))) {
            return self.fail(WRPERR);
        }
        let addr = FLASH_BASE + banks[0] * self.bank_size();
        let len = banks.len() as u32 * self.bank_size();
        self.nscr |= STRT;
        self.start(acc.now, bank_time, Op::EraseBanks { addr, len, count: banks.len() as u64 });
    }

    /// One 32-bit write of a double/quad word.
    fn write_flash(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) {
        if self.nscr & PG == 0 || self.nscr & (PER | MER1 | MER2) != 0 || !self.voltage_ok() {
            return self.fail(PGSERR);
        }
        if width != AccessWidth::Word {
            return self.fail(SIZERR);
        }
        let unit = self.unit();
        let (start, mut data) = match self.buffer.take() {
            None => {
                if self.nssr & STALE_PROGRAM_ERRORS != 0 {
                    return self.fail(PGSERR);
                }
                if addr % unit != 0 {
                    return self.fail(PGAERR);
                }
                let (bank, page) = self.page_of(addr);
                if self.access_denied(acc.by) || self.write_protected(bank, page) {
                    return self.fail(WRPERR);
                }
                (addr, Vec::with_capacity(unit as usize))
            }
            Some((start, data)) if addr == start + data.len() as u32 => (start, data),
            Some(_) => return self.fail(PGAERR),
        };
        data.extend_from_slice(&value.to_le_bytes());
        if data.len() < unit as usize {
            self.buffer = Some((start, data));
            return;
        }
        let all_zero = data.iter().all(|&b| b == 0);
        if !all_zero && !self.array.is_erased(start, unit) {
            return self.fail(PROGERR);
        }
        // Programming time: assumed, the L4's recalled 82 µs (`flash-time=F` scales it).
        self.start(acc.now, 82 * US, Op::Program { addr: start, data });
    }

    fn read_reg(&self, off: u32) -> u32 {
        match off {
            NSSR => self.nssr | if self.buffer.is_some() && self.kind != TzKind::L5 { WDW } else { 0 },
            NSCR => self.nscr,
            o => Self::option_index(o).map_or(0, |i| self.edit[i]),
        }
    }

    fn write_reg(&mut self, off: u32, value: u32, acc: &mut Access) {
        match off {
            NSKEYR => {
                if self.key.write(self.nscr & LOCK != 0, value, KEYS) {
                    self.nscr |= LOCK;
                } else {
                    self.nscr &= !LOCK;
                }
            }
            OPTKEYR => {
                let locked = self.nscr & LOCK != 0;
                if self.opt_key.write(self.nscr & OPTLOCK != 0 && !locked, value, OPTKEYS) || locked {
                    self.nscr |= OPTLOCK;
                } else {
                    self.nscr &= !OPTLOCK;
                }
            }
            NSSR => self.nssr &= !(value & SR_W1C),
            NSCR => self.write_nscr(value, acc),
            // Option registers: editable with both locks open; OPTSTRT stores them.
            o => {
                if let Some(i) = Self::option_index(o) {
                    if self.nscr & (LOCK | OPTLOCK) == 0 {
                        self.edit[i] = value;
                    }
                }
            }
        }
    }

    fn read_power(&self, addr: u32, now: Nanos) -> u32 {
        match addr & !3 {
            U3_VOSR => {
                let settled = now >= self.vos_settled_at;
                let ready = [(R1EN, R1RDY), (R2EN, R2RDY), (BOOSTEN, BOOSTRDY)];
                ready.iter().filter(|(en, _)| settled && self.vosr & en != 0).fold(self.vosr, |v, (_, rdy)| v | rdy)
            }
            U3_RCC_AHB1ENR2 => self.rcc_ahb1enr2,
            PWR_CR1 => self.pwr_cr1,
            PWR_SR2 if now < self.vos_settled_at => VOSF,
            a if RCC_APB1ENR1.contains(&a) => self.rcc_apb1enr1,
            _ => 0,
        }
    }

    fn write_power(&mut self, addr: u32, value: u32, now: Nanos) {
        match addr & !3 {
            U3_RCC_AHB1ENR2 => self.rcc_ahb1enr2 = value,
            U3_VOSR if self.rcc_ahb1enr2 & U3_PWREN != 0 => {
                let value = value & (R1EN | R2EN | BOOSTEN);
                if value != self.vosr {
                    self.vos_settled_at = now + VOS_SETTLE;
                }
                self.vosr = value;
            }
            a if RCC_APB1ENR1.contains(&a) => self.rcc_apb1enr1 = value,
            // PWR registers ignore writes while their bus clock is off.
            PWR_CR1 if self.rcc_apb1enr1 & PWREN != 0 => {
                if (value ^ self.pwr_cr1) & VOS_MASK != 0 {
                    self.vos_settled_at = now + VOS_SETTLE;
                }
                self.pwr_cr1 = value;
            }
            _ => {}
        }
    }

    fn set_wrp(&mut self, ranges: &[(u32, u32)]) -> ConfigResult {
        let mut next = [0usize; 2];
        for &(a, b) in ranges {
            if !self.array.contains(a) || !self.array.contains(b) {
                return Err(format!("wrp range 0x{a:08X}-0x{b:08X} is not inside the flash"));
            }
            let ((bank, first), (bank_end, last)) = (self.page_of(a), self.page_of(b));
            if bank != bank_end {
                return Err(format!("wrp range 0x{a:08X}-0x{b:08X} spans two banks; give one range per bank"));
            }
            let slot = next[bank as usize];
            if slot == 2 {
                return Err(format!("bank {} has only two WRP areas (A and B)", bank + 1));
            }
            // U5: the UNLOCK bit (31) as shipped stays, so the area can be
            // removed again through the option registers.
            let reg = &mut self.wrp[2 * bank as usize + slot];
            *reg = (*reg & 1 << 31) | first | last << 16;
            next[bank as usize] += 1;
        }
        Ok(())
    }
}

impl FlashModel for TzModel {
    fn name(&self) -> &'static str {
        match self.kind {
            TzKind::L5 => "L5 flash (RM0438)",
            TzKind::U5 => "U5 flash (RM0456)",
            TzKind::Wba5 => "WBA5 flash (RM0493)",
            TzKind::U3 => "U3 flash (RM0487)",
        }
    }

    fn regions(&self) -> Vec<Range<u32>> {
        let mut r = vec![REGS..REGS + 0x400, self.array.range(), OTP];
        if self.kind == TzKind::L5 {
            r.extend([PWR, RCC_APB1ENR1]);
        }
        if self.kind == TzKind::U3 {
            r.extend([U3_VOSR..U3_VOSR + 4, U3_RCC_AHB1ENR2..U3_RCC_AHB1ENR2 + 4]);
        }
        r
    }

    fn is_register(&self, addr: u32) -> bool {
        (REGS..REGS + 0x400).contains(&addr)
            || (self.kind == TzKind::L5 && PWR.contains(&addr))
            || (self.kind == TzKind::U3 && addr & !3 == U3_VOSR)
    }

    fn advance(&mut self, now: Nanos, stats: &mut FlashStats) {
        let Some((_, op)) = self.busy.take_if(|(until, _)| *until <= now) else { return };
        match op {
            Op::ErasePages { addr, len, count } => {
                self.array.erase(addr, len);
                stats.erases += count;
            }
            Op::EraseBanks { addr, len, count } => {
                self.array.erase(addr, len);
                stats.mass_erases += count;
            }
            Op::Program { addr, data } => {
                self.array.program(addr, &data);
                stats.words += 1;
            }
            Op::Options => {
                // Level 2 freezes the options: it is permanent (RM0438/RM0456
                // "Readout protection").
                if self.rdp() != RDP_LEVEL2 {
                    if self.rdp_level1() && self.edit[0] & 0xFF == RDP_LEVEL0 {
                        // Regression to level 0 erases the flash (RM0438/RM0456
                        // "Readout protection").
                        let size = self.array.data.len() as u32;
                        self.array.erase(FLASH_BASE, size);
                        stats.mass_erases += 1;
                    }
                    self.stored = self.edit;
                }
            }
        }
        self.nssr &= !BSY;
        self.nscr &= !STRT;
        if self.nscr & EOPIE != 0 {
            self.nssr |= EOP;
        }
    }

    /// The operation in progress ends then, or the voltage scaling settles
    /// (PWR_SR2.VOSF clears).
    fn next_event(&self, now: Nanos) -> Option<Nanos> {
        let op = self.busy.as_ref().map(|(end, _)| *end);
        op.into_iter().chain([self.vos_settled_at]).filter(|&t| t > now).min()
    }

    fn stall_until(&self, addr: u32, write: bool, _by: Initiator, now: Nanos) -> Nanos {
        let stalls = self.array.contains(addr) || (write && addr & !3 == REGS + NSCR);
        match &self.busy {
            Some((until, _)) if stalls => (*until).max(now),
            _ => now,
        }
    }

    fn read(&mut self, addr: u32, width: AccessWidth, acc: &mut Access) -> Result<u32, BusFault> {
        let shift = 8 * (addr & 3);
        if (REGS..REGS + 0x400).contains(&addr) {
            return Ok((self.read_reg(addr & 0x3FC) >> shift) & width.mask());
        }
        if OTP.contains(&addr) {
            return Ok(width.mask());
        }
        if !self.array.contains(addr) {
            return Ok((self.read_power(addr, acc.now) >> shift) & width.mask());
        }
        if acc.by == Initiator::Debugger && self.array.ecc_error(addr) {
            return Err(BusFault);
        }
        Ok(self.array.read(addr, width))
    }

    fn write(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) -> Result<(), BusFault> {
        let shift = 8 * (addr & 3);
        if (REGS..REGS + 0x400).contains(&addr) {
            self.write_reg(addr & 0x3FC, value << shift, acc);
        } else if self.array.contains(addr) {
            self.write_flash(addr, width, value, acc);
        } else if OTP.contains(&addr) {
            // OTP programming is not modeled: refused as a sequence error.
            self.fail(PGSERR);
        } else {
            self.write_power(addr, value << shift, acc.now);
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.nscr = LOCK | OPTLOCK;
        self.nssr = 0;
        self.key = KeyLatch::default();
        self.opt_key = KeyLatch::default();
        self.buffer = None;
        self.busy = None;
        self.pwr_cr1 = VOS_RANGE2;
        self.rcc_apb1enr1 = 0;
        self.vos_settled_at = 0;
        self.vosr = R2EN;
        self.rcc_ahb1enr2 = 0;
        self.load_options();
    }

    fn debug_readable(&self, addr: u32) -> bool {
        !(self.rdp_level1() && self.array.contains(addr))
    }

    fn debug_port_disabled(&self) -> bool {
        self.rdp() == RDP_LEVEL2
    }

    fn configure(&mut self, key: &str, value: &str) -> ConfigResult {
        let bit = |on: bool, mask: u32, optr: &mut u32| {
            if on {
                *optr |= mask
            } else {
                *optr &= !mask
            }
        };
        let dbank_bit = match self.kind {
            TzKind::L5 if self.size > 256 * KIB => DBANK,
            TzKind::Wba5 => 0,
            _ => DB256K_OR_DUALBANK,
        };
        let rdp = |optr: &mut u32, level: u32| *optr = (*optr & !0xFF) | level;
        match (key, value) {
            ("rdp", "0") => rdp(&mut self.optr, RDP_LEVEL0),
            ("rdp", "0.5") => rdp(&mut self.optr, RDP_LEVEL0_5),
            ("rdp", "1") => rdp(&mut self.optr, RDP_LEVEL1),
            ("rdp", "2") => rdp(&mut self.optr, RDP_LEVEL2),
            ("dbank", "0" | "1") => bit(value == "1", dbank_bit, &mut self.optr),
            ("tzen", "0" | "1") => bit(value == "1", TZEN, &mut self.optr),
            ("wrp", v) => self.set_wrp(&parse_ranges(v)?)?,
            _ => {
                return Err(format!(
                    "{}: unknown setting {key}={value}; valid: rdp=0|0.5|1|2, dbank=0|1, tzen=0|1, \
                     wrp=<start>-<end>[+<start>-<end>] (up to two areas per bank)",
                    self.name()
                ))
            }
        }
        self.stored = self.in_force();
        self.load_options();
        Ok(())
    }

    fn save(&self) -> Vec<(String, Vec<u8>)> {
        let options: Vec<u8> = self.stored.iter().flat_map(|w| w.to_le_bytes()).collect();
        vec![("flash".to_string(), self.array.data.clone()), ("options".to_string(), options)]
    }

    fn load(&mut self, blobs: &[(String, Vec<u8>)]) -> Result<(), String> {
        let flash = saved_blob(blobs, self.name(), "flash", self.array.data.len())?;
        let options = saved_blob(blobs, self.name(), "options", 28)?;
        self.array.poke(FLASH_BASE, flash);
        load_words(&mut self.stored, options);
        self.load_options();
        Ok(())
    }

    fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        if OTP.contains(&addr) {
            return (addr as u64 + len as u64 <= OTP.end as u64).then(|| vec![0xFF; len]);
        }
        self.array.slice(addr, len).map(<[u8]>::to_vec)
    }

    fn poke(&mut self, addr: u32, data: &[u8]) -> bool {
        self.array.poke(addr, data)
    }

    /// The model's facts by the names of ST's headers: L5 stm32l552xx.h
    /// (NS-prefixed bits), U5 stm32u575xx.h, WBA5 stm32wba55xx.h (NSCR1,
    /// WRPAR/WRPBR), U3 stm32u385xx.h (KEYR, SR, CR; WRP STRT/END).
    fn register_facts(&self, f: &mut Facts) {
        let k = self.kind;
        let (keyr, sr, cr, b) = match k {
            TzKind::L5 => ("NSKEYR", "NSSR", "NSCR", "NS"),
            TzKind::U5 => ("NSKEYR", "NSSR", "NSCR", ""),
            TzKind::Wba5 => ("NSKEYR", "NSSR", "NSCR1", ""),
            TzKind::U3 => ("KEYR", "SR", "CR", ""),
        };
        f.number(if k == TzKind::U3 { "FLASH_R_BASE" } else { "FLASH_R_BASE_NS" }, REGS as u64);
        let (wrpa, wrpb) = if k == TzKind::Wba5 { ("WRPAR", "WRPBR") } else { ("WRP1AR", "WRP1BR") };
        let mut regs = vec![(keyr, NSKEYR), ("OPTKEYR", OPTKEYR), (sr, NSSR), (cr, NSCR), ("OPTR", OPTR)];
        regs.extend([(wrpa, WRP1AR), (wrpb, WRP1BR)]);
        if k == TzKind::U3 {
            regs.extend([("BOOT0R", NSBOOTADD0R), ("BOOT1R", NSBOOTADD1R)]);
        } else {
            regs.extend([("NSBOOTADD0R", NSBOOTADD0R), ("NSBOOTADD1R", NSBOOTADD1R)]);
        }
        if k != TzKind::Wba5 {
            regs.extend([("WRP2AR", WRP2AR), ("WRP2BR", WRP2BR)]);
        }
        for (name, offset) in regs {
            f.number(format!("FLASH_TypeDef.{name}"), offset as u64);
        }
        f.number("FLASH_KEY1", KEYS[0] as u64).number("FLASH_KEY2", KEYS[1] as u64);
        f.number("FLASH_OPTKEY1", OPTKEYS[0] as u64).number("FLASH_OPTKEY2", OPTKEYS[1] as u64);
        let mut sr_bits = vec![
            ("EOP", EOP),
            ("OPERR", OPERR),
            ("PROGERR", PROGERR),
            ("WRPERR", WRPERR),
            ("PGAERR", PGAERR),
            ("SIZERR", SIZERR),
            ("PGSERR", PGSERR),
            ("BSY", BSY),
        ];
        if k != TzKind::L5 {
            sr_bits.push(("WDW", WDW));
        }
        for (name, bit) in sr_bits {
            f.mask(format!("FLASH_{sr}_{b}{name}"), bit);
        }
        // OPTWERR carries no NS prefix on L5 (stm32l552xx.h:7309).
        f.mask(format!("FLASH_{sr}_OPTWERR"), OPTWERR);
        let mut cr_bits = vec![("PG", PG), ("PER", PER), ("STRT", STRT), ("EOPIE", EOPIE), ("LOCK", LOCK)];
        if k == TzKind::Wba5 {
            cr_bits.push(("MER", MER1));
        } else {
            cr_bits.extend([("MER1", MER1), ("BKER", BKER), ("MER2", MER2)]);
        }
        for (name, bit) in cr_bits {
            f.mask(format!("FLASH_{cr}_{b}{name}"), bit);
        }
        for (name, bit) in [("OPTSTRT", OPTSTRT), ("OBL_LAUNCH", OBL_LAUNCH), ("OPTLOCK", OPTLOCK)] {
            f.mask(format!("FLASH_{cr}_{name}"), bit);
        }
        // The WBA55's widths (the WBA50 has 6 bits, stm32wba50xx.h:2966).
        let part = (k == TzKind::Wba5).then_some("stm32wba55xx");
        f.part(part);
        f.field(format!("FLASH_{cr}_{b}PNB"), 3, self.pnb_bits);
        let (strt, end) = match k {
            TzKind::Wba5 => ("FLASH_WRPAR_WRPA_PSTRT".to_string(), "FLASH_WRPAR_WRPA_PEND".to_string()),
            TzKind::U3 => ("FLASH_WRP1AR_STRT".to_string(), "FLASH_WRP1AR_END".to_string()),
            _ => ("FLASH_WRP1AR_WRP1A_PSTRT".to_string(), "FLASH_WRP1AR_WRP1A_PEND".to_string()),
        };
        f.field(strt, 0, self.pnb_bits).field(end, 16, self.pnb_bits);
        f.part(None);
        f.mask("FLASH_OPTR_RDP", 0xFF).mask("FLASH_OPTR_TZEN", TZEN);
        match k {
            TzKind::L5 => {
                f.mask("FLASH_OPTR_DB256K", DB256K_OR_DUALBANK).mask("FLASH_OPTR_DBANK", DBANK);
                f.number("PWR_BASE+PWR_TypeDef.CR1", PWR_CR1 as u64);
                f.number("PWR_BASE+PWR_TypeDef.SR2", PWR_SR2 as u64);
                f.mask("PWR_CR1_VOS", VOS_MASK).mask("PWR_SR2_VOSF", VOSF);
                f.number("RCC_BASE+RCC_TypeDef.APB1ENR1", RCC_APB1ENR1.start as u64);
                f.mask("RCC_APB1ENR1_PWREN", PWREN);
            }
            TzKind::U5 | TzKind::U3 => {
                f.mask("FLASH_OPTR_DUALBANK", DB256K_OR_DUALBANK);
            }
            TzKind::Wba5 => {}
        }
        f.number("OB_RDP_LEVEL_0", RDP_LEVEL0 as u64).number("OB_RDP_LEVEL_1", RDP_LEVEL1 as u64);
        f.number("OB_RDP_LEVEL_2", RDP_LEVEL2 as u64);
    }
}

/// Simulated L5/U5 parts.
pub const PARTS: &[Part] = &[
    Part {
        name: "stm32l552ze",
        aliases: &["l552", "stm32l552", "l552ze"],
        // SW-DP of L5/U5 (stlink inc/stm32.h:25-45: 0x0BE02477).
        dpidr: 0x0BE0_2477,
        // Cortex-M33 r0p2 (PARTNO 0xD21; Armv8-M Architecture Reference Manual, CPUID).
        cpuid: 0x410F_D212,
        // DEV_ID 0x472, REV_ID 0x1001.
        idcode: 0x1001_6472,
        // DBGMCU at 0xE0044000 (CMSIS stm32l552xx.h `DBGMCU_BASE`); CR,
        // APB1FZR1/2, APB2FZR, APB3FZR follow. Flash-size register, system
        // memory, SRAM: CMSIS `FLASHSIZE_BASE`, AN2606 Table 226, the datasheet.
        dbgmcu_addr: 0xE004_4000,
        dbgmcu_ctrl_words: 5,
        flash_size_addr: 0x0BFA_05E0,
        flash_size_kib: 512,
        sram: &[(0x2000_0000, 256 * KIB)],
        system_memory: (0x0BF9_0000, 32 * KIB),
        boot_address: 0x0800_0000,
        voltage_mv: 3300,
        flash: || Box::new(TzModel::new(TzKind::L5, 512 * KIB, 7)),
    },
    Part {
        name: "stm32u575zi",
        aliases: &["u575", "stm32u575", "u575zi"],
        dpidr: 0x0BE0_2477,
        // Cortex-M33 r0p4.
        cpuid: 0x410F_D214,
        // DEV_ID 0x482, REV_ID 0x2001.
        idcode: 0x2001_6482,
        dbgmcu_addr: 0xE004_4000,
        dbgmcu_ctrl_words: 5,
        flash_size_addr: 0x0BFA_07A0,
        flash_size_kib: 2048,
        sram: &[(0x2000_0000, 768 * KIB), (0x2800_0000, 16 * KIB)],
        system_memory: (0x0BF9_0000, 64 * KIB),
        boot_address: 0x0800_0000,
        voltage_mv: 3300,
        // U575: 7-bit PNB (CMSIS stm32u575xx.h:8272).
        flash: || Box::new(TzModel::new(TzKind::U5, 2048 * KIB, 7)),
    },
    Part {
        name: "stm32u575rg",
        aliases: &["u575rg"],
        dpidr: 0x0BE0_2477,
        cpuid: 0x410F_D214,
        idcode: 0x2001_6482,
        dbgmcu_addr: 0xE004_4000,
        dbgmcu_ctrl_words: 5,
        flash_size_addr: 0x0BFA_07A0,
        // 1 MiB: bank mode from OPTR.DUALBANK.
        flash_size_kib: 1024,
        sram: &[(0x2000_0000, 768 * KIB), (0x2800_0000, 16 * KIB)],
        system_memory: (0x0BF9_0000, 64 * KIB),
        boot_address: 0x0800_0000,
        voltage_mv: 3300,
        flash: || Box::new(TzModel::new(TzKind::U5, 1024 * KIB, 7)),
    },
    // WBA55CG (RM0493): 1 MiB, SRAM1 + SRAM2 64 + 64 KiB contiguous (CMSIS
    // stm32wba52xx.h:997-998), DBGMCU 0xE0044000 (:988), flash-size register
    // 0x0BF907A0 (:1009), system memory AN2606 Table 226; SW-DP 0x6BA02477
    // (OpenOCD tcl/target/stm32wba5x.cfg:30-33); core on AP1 (access_port.rs).
    // REV_ID 0x1000 (OpenOCD stm32l4x.c `stm32wba5x_revs`); the CPUID
    // revision is assumed.
    Part {
        name: "stm32wba55cg",
        aliases: &["wba55", "stm32wba55", "wba52", "wba54"],
        dpidr: 0x6BA0_2477,
        cpuid: 0x410F_D214,
        idcode: 0x1000_6492,
        dbgmcu_addr: 0xE004_4000,
        dbgmcu_ctrl_words: 5,
        flash_size_addr: 0x0BF9_07A0,
        flash_size_kib: 1024,
        sram: &[(0x2000_0000, 128 * KIB)],
        system_memory: (0x0BF8_8000, 32 * KIB),
        boot_address: 0x0800_0000,
        voltage_mv: 3300,
        flash: || Box::new(TzModel::new(TzKind::Wba5, 1024 * KIB, 7)),
    },
    // U385RG / U375RE (RM0487): SRAM1 192 + SRAM2 64 KiB (stm32u375xx.h:1410-1411),
    // DBGMCU 0xE0044000 (:1647), flash-size register 0x0BFA07A0 (:1400),
    // system memory AN2606 Table 226; SW-DP 0x0BE12477 (OpenOCD
    // tcl/target/stm32x5x_common.cfg:14-27); REV_ID 0x1000 (OpenOCD
    // stm32l4x.c:357-359); the CPUID revision is assumed.
    Part {
        name: "stm32u385rg",
        aliases: &["u385", "stm32u385", "u375rg"],
        dpidr: 0x0BE1_2477,
        cpuid: 0x410F_D214,
        idcode: 0x1000_6454,
        dbgmcu_addr: 0xE004_4000,
        dbgmcu_ctrl_words: 5,
        flash_size_addr: 0x0BFA_07A0,
        flash_size_kib: 1024,
        sram: &[(0x2000_0000, 256 * KIB)],
        system_memory: (0x0BF8_F000, 68 * KIB),
        boot_address: 0x0800_0000,
        voltage_mv: 3300,
        flash: || Box::new(TzModel::new(TzKind::U3, 1024 * KIB, 7)),
    },
    Part {
        name: "stm32u375re",
        aliases: &["u375", "stm32u375"],
        dpidr: 0x0BE1_2477,
        cpuid: 0x410F_D214,
        idcode: 0x1000_6454,
        dbgmcu_addr: 0xE004_4000,
        dbgmcu_ctrl_words: 5,
        flash_size_addr: 0x0BFA_07A0,
        // 512 KiB: bank mode from OPTR.DUALBANK.
        flash_size_kib: 512,
        sram: &[(0x2000_0000, 256 * KIB)],
        system_memory: (0x0BF8_F000, 68 * KIB),
        boot_address: 0x0800_0000,
        voltage_mv: 3300,
        flash: || Box::new(TzModel::new(TzKind::U3, 512 * KIB, 7)),
    },
];

/// Register facts of a part of this family (to be written).
/// The register facts of a part of this family, by the names of ST's
/// headers (`crate::facts`).
pub fn register_facts(part: &Part, f: &mut Facts) {
    let dev_id = (part.idcode & 0xFFF) as u16;
    f.identity(part, "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE", "FLASHSIZE_BASE");
    if let Some(p) = crate::crc_peripheral::placement(dev_id) {
        let clock = match dev_id {
            0x454 => ("RCC_BASE_NS+RCC_TypeDef.AHB1ENR1", "RCC_AHB1ENR1_CRCEN"),
            _ => ("RCC_BASE_NS+RCC_TypeDef.AHB1ENR", "RCC_AHB1ENR_CRCEN"),
        };
        f.crc(p, "CRC_BASE_NS", clock);
    }
    (part.flash)().register_facts(f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Requests;

    struct Bench {
        m: TzModel,
        now: Nanos,
        stats: FlashStats,
    }

    impl Bench {
        fn new(kind: TzKind, size: u32) -> Bench {
            Bench { m: TzModel::new(kind, size, 7), now: 0, stats: FlashStats::default() }
        }
        fn u5() -> Bench {
            Bench::new(TzKind::U5, 2048 * KIB)
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
        fn r(&mut self, addr: u32) -> u32 {
            self.now = self.now.max(self.m.stall_until(addr, false, Initiator::Debugger, self.now)) + 1000;
            self.m.advance(self.now, &mut self.stats);
            let mut req = Requests::default();
            let mut acc = Access { now: self.now, by: Initiator::Debugger, stats: &mut self.stats, requests: &mut req };
            self.m.read(addr, AccessWidth::Word, &mut acc).unwrap()
        }
        fn idle(&mut self) {
            self.now += 100 * MS;
            self.m.advance(self.now, &mut self.stats);
        }
        fn unlock(&mut self) {
            self.w(REGS + NSKEYR, KEYS[0]);
            self.w(REGS + NSKEYR, KEYS[1]);
        }
        fn sr(&mut self) -> u32 {
            self.r(REGS + NSSR)
        }
    }

    #[test]
    fn a_second_key_sequence_locks_nscr_until_reset() {
        let mut b = Bench::u5();
        b.unlock();
        assert_eq!(b.r(REGS + NSCR) & LOCK, 0);
        b.unlock();
        assert_eq!(b.r(REGS + NSCR) & LOCK, LOCK);
        b.unlock();
        assert_eq!(b.r(REGS + NSCR) & LOCK, LOCK, "stuck until reset");
        b.w(REGS + NSCR, PG);
        assert_eq!(b.r(REGS + NSCR) & PG, 0, "locked NSCR ignores writes");
        b.m.reset();
        b.unlock();
        assert_eq!(b.r(REGS + NSCR) & LOCK, 0);
    }

    #[test]
    fn quad_words_program_after_four_consecutive_word_writes() {
        let mut b = Bench::u5();
        b.unlock();
        b.w(REGS + NSCR, PG);
        for i in 0..3 {
            b.w(0x0800_0010 + 4 * i, 0x1111_1111 * (i + 1));
        }
        assert_eq!(b.sr() & (WDW | BSY), WDW, "data waiting");
        b.w(0x0800_001C, 0x4444_4444);
        assert_eq!(b.sr() & BSY, BSY);
        b.idle();
        assert_eq!(b.m.peek(0x0800_0010, 16).unwrap()[..8], [0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22]);
        assert_eq!(b.sr() & (BSY | WDW | 0xFF), 0);
        // Programming it again (non-zero data) is refused.
        for i in 0..4 {
            b.w(0x0800_0010 + 4 * i, 0);
        }
        b.idle();
        assert_eq!(b.sr() & PROGERR, 0, "all-zero data may overwrite");
        b.w(REGS + NSSR, 0xFF);
        b.m.poke(0x0800_0020, &[0xF0]);
        for i in 0..4 {
            b.w(0x0800_0020 + 4 * i, 0x0F);
        }
        assert_eq!(b.sr() & PROGERR, PROGERR);
    }

    #[test]
    fn misuse_flags_and_nothing_written() {
        let mut b = Bench::u5();
        b.unlock();
        b.w(0x0800_0000, 1);
        assert_eq!(b.sr() & PGSERR, PGSERR, "write with PG clear");
        b.w(REGS + NSSR, PGSERR);
        b.w(REGS + NSCR, PG);
        b.w(0x0800_0004, 1);
        assert_eq!(b.sr() & PGAERR, PGAERR, "first word not on the quad-word boundary");
        b.w(REGS + NSSR, PGAERR);
        b.wx(0x0800_0000, AccessWidth::Half, 1);
        assert_eq!(b.sr() & SIZERR, SIZERR);
        b.w(0x0800_0000, 1);
        assert_eq!(b.sr() & PGSERR, PGSERR, "SIZERR still set");
        b.w(REGS + NSSR, 0xFF);
        b.w(REGS + NSCR, 0);
        b.w(REGS + NSCR, STRT);
        assert_eq!(b.sr() & PGSERR, PGSERR, "STRT without PER/MER");
        b.idle();
        assert!(b.m.array.is_erased(0x0800_0000, 64));
    }

    #[test]
    fn page_erase_uses_bker_and_the_bank_relative_page() {
        let mut b = Bench::u5();
        b.m.poke(0x0810_0000, &[0; 0x6000]);
        b.m.poke(0x0800_2000, &[0; 16]);
        b.unlock();
        b.w(REGS + NSCR, PER | (2 << 3) | BKER);
        b.w(REGS + NSCR, PER | (2 << 3) | BKER | STRT);
        assert_eq!(b.sr() & BSY, BSY);
        b.idle();
        assert_eq!(b.m.peek(0x0810_4000, 8192).unwrap(), vec![0xFF; 8192], "bank 2 page 2");
        assert_eq!(b.m.peek(0x0810_2000, 1).unwrap(), vec![0]);
        assert_eq!(b.m.peek(0x0800_2000, 1).unwrap(), vec![0], "bank 1 untouched");
        assert_eq!(b.stats.erases, 1);
        // A page number wider than the 7-bit field: bit 10 is reserved, the
        // field keeps its low bits (page 200 & 0x7F = 72).
        b.m.poke(0x0810_0000 + 72 * 8192, &[0]);
        b.w(REGS + NSCR, PER | (200 << 3) | BKER);
        b.w(REGS + NSCR, PER | (200 << 3) | BKER | STRT);
        b.idle();
        assert_eq!(b.m.peek(0x0810_0000 + 72 * 8192, 1).unwrap(), vec![0xFF]);
    }

    #[test]
    fn write_protection_and_rdp() {
        let mut b = Bench::u5();
        b.m.configure("wrp", "0x08102000-0x08103fff").unwrap();
        assert_eq!(b.r(REGS + WRP2AR), 1 << 31 | 1 | 1 << 16, "UNLOCK kept");
        b.m.poke(0x0810_2000, &[0]);
        b.unlock();
        b.w(REGS + NSCR, PER | (1 << 3) | BKER);
        b.w(REGS + NSCR, PER | (1 << 3) | BKER | STRT);
        assert_eq!(b.sr() & WRPERR, WRPERR);
        b.idle();
        assert_eq!(b.m.peek(0x0810_2000, 1).unwrap(), vec![0]);
        b.w(REGS + NSSR, WRPERR);
        b.w(REGS + NSCR, MER1 | MER2);
        b.w(REGS + NSCR, MER1 | MER2 | STRT);
        assert_eq!(b.sr() & WRPERR, WRPERR, "mass erase refused with a protected page");
        b.m.configure("rdp", "1").unwrap();
        assert!(!b.m.debug_readable(0x0800_0000));
        assert!(b.m.configure("wrp", "0x080FF000-0x08100fff").unwrap_err().contains("two banks"));
    }

    #[test]
    fn l5_geometry_follows_dbank_and_needs_voltage_range0() {
        let mut b = Bench::new(TzKind::L5, 512 * KIB);
        assert_eq!((b.m.page_size(), b.m.bank_size()), (2048, 256 * KIB));
        b.m.configure("dbank", "0").unwrap();
        assert_eq!((b.m.page_size(), b.m.bank_size()), (4096, 512 * KIB));
        b.unlock();
        b.w(REGS + NSCR, PG);
        b.w(0x0800_0000, 1);
        assert_eq!(b.sr() & PGSERR, PGSERR, "range 2 after reset");
        b.w(REGS + NSSR, PGSERR);
        b.w(PWR_CR1, 0);
        assert_eq!(b.r(PWR_CR1) & VOS_MASK, VOS_RANGE2, "PWR clock off: ignored");
        b.w(0x4002_1058, PWREN);
        b.w(PWR_CR1, 0);
        assert_eq!(b.r(PWR_CR1) & VOS_MASK, 0);
        b.w(0x0800_0000, 1);
        b.w(0x0800_0004, 2);
        b.idle();
        assert_eq!(b.m.peek(0x0800_0000, 8).unwrap(), vec![1, 0, 0, 0, 2, 0, 0, 0]);
        let small = TzModel::new(TzKind::L5, 256 * KIB, 7);
        assert!(small.dual(), "DB256K set as shipped");
    }

    #[test]
    fn state_round_trips() {
        let mut m = TzModel::new(TzKind::U5, 2048 * KIB, 7);
        m.poke(0x0800_0010, &[1, 2, 3]);
        m.configure("rdp", "1").unwrap();
        let saved = m.save();
        let mut n = TzModel::new(TzKind::U5, 2048 * KIB, 7);
        n.load(&saved).unwrap();
        assert_eq!(n.peek(0x0800_0010, 3), Some(vec![1, 2, 3]));
        assert_eq!(n.rdp(), RDP_LEVEL1);
    }
}
