//! A small Thumb interpreter for the simulated core (ARMv6-M instruction set,
//! the subset every Cortex-M executes, plus BL and the DSB/DMB/ISB barriers).
//!
//! It runs code only while the core is running with its PC in SRAM (the flash
//! routine the host loads); code in flash stays opaque, as before. The core
//! has its own place on the modeled timeline (`crate::clock`: code on the
//! target runs alongside the link): every instruction takes one cycle of the
//! core clock (the part's reset clock unless `core-clock=` says otherwise; an
//! assumption: no wait states, no pipeline refills, no multi-cycle loads), and
//! the core catches up to the host's time before each debugger access, so a
//! host that waits for the routine sees its instructions' time pass while the
//! host's own clock never moves for it. Besides instructions, time advances
//! when
//!
//! * an access to the flash model or the CRC peripheral stalls
//!   (`stall_until`): the core waits until the stall ends, and stops there if
//!   that is after `now`;
//! * the core spins in an idle loop: a backward branch reaches the same state
//!   (registers and flags) as the previous time round with no store in
//!   between. The loop's outcome then depends only on memory it reads, so the
//!   core sleeps until the debugger writes one of the addresses the loop read,
//!   or until the flash model's next operation completes.
//!
//! Anything outside the subset (SVC, CPS, MRS/MSR, WFI, coprocessor and other
//! 32-bit encodings), UDF, an unaligned access, or a bus fault stops the core
//! and is reported loudly on stderr: with DEMCR.VC_HARDERR set the core halts
//! (DFSR.VCATCH) with PC at the faulting instruction, otherwise it locks up
//! (DHCSR.S_LOCKUP). The exception entry itself is not modeled.

use super::{Mcu, DFSR_BKPT, DFSR_VCATCH};
use crate::model::{AccessWidth, Initiator, Nanos};

/// DEMCR.VC_HARDERR (ARMv7-M C1.6.5; stlink sets it for a connect under reset,
/// src/stlink-lib/common.c:409-423).
const VC_HARDERR: u32 = 1 << 10;
/// Without a model that can tell when its next operation ends, an idle core
/// polling the flash controller looks again after this long.
const FALLBACK_POLL: Nanos = 10_000;
/// Core clock when a part gives none (Hz).
pub const DEFAULT_CORE_HZ: u64 = 8_000_000;

/// Execution state of the Thumb interpreter: its place on the modeled
/// timeline and its idle-loop detection (the architectural registers are in
/// [`super::Cpu`]).
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// The core's own position on the modeled timeline: `time` plus
    /// `cycles` of the core clock (summed, then converted once, so that a
    /// run of instructions costs exactly `cycles / hz`).
    time: Nanos,
    cycles: u64,
    /// The core clock (Hz).
    pub hz: u64,
    /// Sleeping in an idle loop: until this time (`None`: until a debugger
    /// write to a watched address).
    idle: Option<Option<Nanos>>,
    /// State at the last taken backward branch.
    back: Option<(u32, [u32; 16], u32)>,
    /// A store happened since the last backward branch.
    stored: bool,
    /// Addresses read since the last backward branch (the idle loop's inputs).
    reads: Vec<u32>,
    /// Addresses the idle loop read.
    watch: Vec<u32>,
    /// `core-crash-after=N` fault: the instruction after the Nth faults.
    pub crash_after: Option<u64>,
    /// Instructions executed since the core last started running.
    pub executed: u64,
    /// Faults injected by `core-crash-after` so far (tests learn from it
    /// that their sweep has passed the last instruction).
    pub injected_crashes: u64,
    /// Idle loops on the flash model that found no next event and fell back
    /// to polling every `FALLBACK_POLL` (a model without `next_event`).
    pub blind_polls: u64,
}

impl Default for Interpreter {
    fn default() -> Interpreter {
        Interpreter {
            time: 0,
            cycles: 0,
            hz: DEFAULT_CORE_HZ,
            idle: None,
            back: None,
            stored: false,
            reads: Vec::new(),
            watch: Vec::new(),
            crash_after: None,
            executed: 0,
            injected_crashes: 0,
            blind_polls: 0,
        }
    }
}

impl Interpreter {
    /// From now on the core runs at `hz` (the cycles so far keep the time
    /// they took).
    pub fn set_hz(&mut self, hz: u64) {
        if hz != self.hz {
            self.time = self.now();
            self.cycles = 0;
            self.hz = hz;
        }
    }

    /// A core clocked at `hz`.
    pub fn at(hz: u64) -> Interpreter {
        Interpreter { hz, ..Interpreter::default() }
    }

    /// The core's position on the modeled timeline.
    pub fn now(&self) -> Nanos {
        self.time + (self.cycles as u128 * 1_000_000_000 / self.hz.max(1) as u128) as Nanos
    }

    /// Move the core to `t` (never back).
    fn wait_until(&mut self, t: Nanos) {
        let now = self.now();
        if t > now {
            self.time = t;
            self.cycles = 0;
        }
    }

    /// The core starts running at `now` (resume from Debug state).
    pub fn start(&mut self, now: Nanos) {
        self.wait_until(now);
        self.idle = None;
        self.back = None;
        self.stored = false;
        self.reads.clear();
        self.executed = 0;
    }

    /// The debugger wrote `[addr, addr+len)` at `now`: wake an idle loop that reads it.
    pub fn debugger_wrote(&mut self, addr: u32, len: u32, now: Nanos) {
        if self.idle.is_some() && self.watch.iter().any(|&w| w < addr.wrapping_add(len) && addr < w.wrapping_add(4)) {
            self.idle = None;
            self.back = None;
            self.wait_until(now);
        }
    }
}

/// Why execution stopped.
enum Stop {
    /// Fault: message for the log.
    Fault(String),
    /// BKPT.
    Breakpoint,
    /// Waiting for a stalled access until this time.
    Stalled(Nanos),
}

type Exec<T> = Result<T, Stop>;

fn fault<T>(msg: impl Into<String>) -> Exec<T> {
    Err(Stop::Fault(msg.into()))
}

// xPSR flags.
const N: u32 = 1 << 31;
const Z: u32 = 1 << 30;
const C: u32 = 1 << 29;
const V: u32 = 1 << 28;

impl Mcu {
    /// True when the interpreter should execute: running (not halted, not
    /// locked up, not held in reset) with PC in SRAM.
    fn executes(&self) -> bool {
        !self.cpu.halted && !self.cpu.lockup && !self.nrst_held() && self.in_sram(self.cpu.r[15])
    }

    fn in_sram(&self, addr: u32) -> bool {
        self.sram.iter().any(|(base, mem)| addr >= *base && ((addr - base) as usize) < mem.len())
    }

    /// Run the core until `now` (or until it halts, locks up or waits past `now`).
    pub fn run_core_until(&mut self, now: Nanos) {
        if !self.executes() {
            return;
        }
        loop {
            if let Some(until) = self.interpreter.idle {
                match until {
                    Some(t) if t <= now => {
                        self.interpreter.idle = None;
                        self.interpreter.back = None;
                        self.interpreter.wait_until(t);
                    }
                    _ => return,
                }
            }
            if self.interpreter.now() > now {
                return;
            }
            if let Some(limit) = self.interpreter.crash_after {
                if self.interpreter.executed >= limit {
                    self.interpreter.injected_crashes += 1;
                    self.core_fault("injected fault (core-crash-after)".into());
                    return;
                }
            }
            match self.step() {
                Ok(()) => {
                    self.interpreter.executed += 1;
                    self.interpreter.cycles += 1;
                }
                Err(Stop::Breakpoint) => {
                    self.halt(DFSR_BKPT);
                    return;
                }
                Err(Stop::Stalled(until)) => {
                    self.interpreter.wait_until(until);
                    continue;
                }
                Err(Stop::Fault(msg)) => {
                    self.core_fault(msg);
                    return;
                }
            }
            if !self.executes() {
                return;
            }
        }
    }

    /// Execute exactly one instruction (DHCSR.C_STEP), waiting out any stall
    /// on the modeled clock; code outside SRAM stays opaque (nothing executes).
    pub(super) fn step_one(&mut self) {
        if !self.in_sram(self.cpu.r[15]) {
            return;
        }
        loop {
            match self.step() {
                Ok(()) => {
                    self.interpreter.executed += 1;
                    self.interpreter.cycles += 1;
                }
                Err(Stop::Stalled(until)) => {
                    self.interpreter.wait_until(until);
                    continue;
                }
                Err(Stop::Breakpoint) => {}
                Err(Stop::Fault(msg)) => self.core_fault(msg),
            }
            return;
        }
    }

    fn core_fault(&mut self, msg: String) {
        let pc = self.cpu.r[15];
        if self.demcr & VC_HARDERR != 0 {
            eprintln!("simulator: core fault at 0x{pc:08X}: {msg}; halting (vector catch VC_HARDERR)");
            self.halt(DFSR_VCATCH);
        } else {
            eprintln!("simulator: core fault at 0x{pc:08X}: {msg}; the core locks up");
            self.cpu.lockup = true;
        }
    }

    // --- bus access for the core -------------------------------------------------

    fn core_load(&mut self, addr: u32, width: AccessWidth) -> Exec<u32> {
        if addr % width.bytes() != 0 {
            return fault(format!("unaligned {}-byte load from 0x{addr:08X}", width.bytes()));
        }
        let t = self.interpreter.now();
        let until = self.stall_until(addr, false, Initiator::Cpu, t);
        if until > t {
            return Err(Stop::Stalled(until));
        }
        self.interpreter.reads.push(addr & !3);
        self.read(addr, width, Initiator::Cpu, t).or_else(|_| fault(format!("bus fault reading 0x{addr:08X}")))
    }

    fn core_store(&mut self, addr: u32, width: AccessWidth, value: u32) -> Exec<()> {
        if addr % width.bytes() != 0 {
            return fault(format!("unaligned {}-byte store to 0x{addr:08X}", width.bytes()));
        }
        let t = self.interpreter.now();
        let until = self.stall_until(addr, true, Initiator::Cpu, t);
        if until > t {
            return Err(Stop::Stalled(until));
        }
        self.interpreter.stored = true;
        self.write(addr, width, value, Initiator::Cpu, t).or_else(|_| fault(format!("bus fault writing 0x{addr:08X}")))
    }

    fn fetch16(&mut self, addr: u32) -> Exec<u16> {
        if !self.in_sram(addr) {
            return fault(format!("instruction fetch from 0x{addr:08X} outside SRAM"));
        }
        self.read(addr, AccessWidth::Half, Initiator::Cpu, self.interpreter.now())
            .map(|v| v as u16)
            .or_else(|_| fault(format!("bus fault fetching 0x{addr:08X}")))
    }

    // --- registers and flags ---------------------------------------------------

    fn reg(&self, n: usize) -> u32 {
        match n {
            13 => self.cpu.sp(),
            // Reading PC gives the instruction address + 4.
            15 => self.cpu.r[15].wrapping_add(4),
            _ => self.cpu.r[n],
        }
    }

    fn set_reg(&mut self, n: usize, v: u32) {
        if n == 13 {
            self.cpu.set_sp(v & !3);
        } else {
            self.cpu.r[n] = v;
        }
    }

    fn set_nz(&mut self, v: u32) {
        let x = &mut self.cpu.xpsr;
        *x &= !(N | Z);
        if v & 0x8000_0000 != 0 {
            *x |= N;
        }
        if v == 0 {
            *x |= Z;
        }
    }

    fn flag(&self, f: u32) -> bool {
        self.cpu.xpsr & f != 0
    }

    fn set_flag(&mut self, f: u32, on: bool) {
        if on {
            self.cpu.xpsr |= f;
        } else {
            self.cpu.xpsr &= !f;
        }
    }

    /// `a + b + carry`, setting NZCV.
    fn add_with_carry(&mut self, a: u32, b: u32, carry: bool) -> u32 {
        let wide = a as u64 + b as u64 + carry as u64;
        let r = wide as u32;
        let signed = (a as i32 as i64) + (b as i32 as i64) + carry as i64;
        self.set_nz(r);
        self.set_flag(C, wide > u32::MAX as u64);
        self.set_flag(V, signed != r as i32 as i64);
        r
    }

    fn cond(&self, c: u16) -> bool {
        let (n, z, cf, v) = (self.flag(N), self.flag(Z), self.flag(C), self.flag(V));
        match c {
            0 => z,
            1 => !z,
            2 => cf,
            3 => !cf,
            4 => n,
            5 => !n,
            6 => v,
            7 => !v,
            8 => cf && !z,
            9 => !cf || z,
            10 => n == v,
            11 => n != v,
            12 => !z && n == v,
            13 => z || n != v,
            _ => true,
        }
    }

    /// Branch to `target`; a taken backward branch checks for an idle loop.
    fn branch(&mut self, target: u32) {
        let from = self.cpu.r[15];
        self.cpu.r[15] = target & !1;
        if target > from {
            return;
        }
        let state = (target, self.cpu.r, self.cpu.xpsr & (N | Z | C | V));
        let mut regs = state.1;
        regs[13] = self.cpu.sp();
        let state = (state.0, regs, state.2);
        let idle = !self.interpreter.stored && self.interpreter.back.as_ref() == Some(&state);
        self.interpreter.stored = false;
        if idle {
            let reads = std::mem::take(&mut self.interpreter.reads);
            let polls_flash = reads.iter().any(|&a| self.in_model(a));
            let until = if polls_flash {
                let t = self.interpreter.now();
                let next = self.flash_next_event(t).filter(|&n| n > t);
                if next.is_none() {
                    self.interpreter.blind_polls += 1;
                }
                Some(next.unwrap_or(t + FALLBACK_POLL))
            } else {
                None
            };
            self.interpreter.watch = reads;
            self.interpreter.idle = Some(until);
            self.interpreter.back = None;
        } else {
            self.interpreter.back = Some(state);
            self.interpreter.reads.clear();
        }
    }

    // --- one instruction -----------------------------------------------------------

    fn step(&mut self) -> Exec<()> {
        let pc = self.cpu.r[15];
        let op = self.fetch16(pc)?;
        if op >> 11 >= 0b11101 {
            let op2 = self.fetch16(pc.wrapping_add(2))?;
            return self.step32(pc, op, op2);
        }
        let next = pc.wrapping_add(2);
        let rd = (op & 7) as usize;
        let rn = ((op >> 3) & 7) as usize;
        match op >> 10 {
            // Shift by immediate, add/subtract (register / 3-bit immediate).
            0b000000..=0b000101 => self.shift_immediate(op, rd, rn),
            0b000110 | 0b000111 => self.add_subtract(op, rd, rn),
            // MOVS/CMP/ADDS/SUBS with an 8-bit immediate.
            0b001000..=0b001111 => self.immediate8(op),
            0b010000 => self.data_processing(op)?,
            0b010001 => return self.special(op, pc),
            0b010010..=0b100111 => self.load_store(op, rd, rn)?,
            0b101000..=0b101011 => {
                // ADR / ADD Rd, SP, #imm.
                let d = ((op >> 8) & 7) as usize;
                let imm = ((op & 0xFF) as u32) << 2;
                let base = if op & (1 << 11) == 0 { self.reg(15) & !3 } else { self.cpu.sp() };
                self.set_reg(d, base.wrapping_add(imm));
            }
            0b101100..=0b101111 => return self.misc(op, pc),
            0b110000..=0b110011 => self.load_store_multiple(op)?,
            0b110100..=0b110111 => {
                let cond = (op >> 8) & 15;
                match cond {
                    14 => return fault(format!("UDF 0x{op:04X}")),
                    15 => return fault(format!("SVC 0x{op:04X} (not supported)")),
                    _ => {}
                }
                if self.cond(cond) {
                    let off = ((op & 0xFF) as i8 as i32) << 1;
                    self.branch(self.reg(15).wrapping_add(off as u32));
                    return Ok(());
                }
            }
            0b111000 | 0b111001 => {
                let off = (((op & 0x7FF) as u32) << 21) as i32 >> 20;
                self.branch(self.reg(15).wrapping_add(off as u32));
                return Ok(());
            }
            _ => return fault(format!("undefined instruction 0x{op:04X}")),
        }
        self.cpu.r[15] = next;
        Ok(())
    }

    /// LSLS/LSRS/ASRS by an immediate.
    fn shift_immediate(&mut self, op: u16, rd: usize, rn: usize) {
        let imm5 = ((op >> 6) & 31) as u32;
        let m = self.reg(rn);
        let (r, carry) = match op >> 11 {
            0 if imm5 == 0 => (m, self.flag(C)),
            0 => (m << imm5, (m >> (32 - imm5)) & 1 != 0),
            1 => {
                let s = if imm5 == 0 { 32 } else { imm5 };
                (if s == 32 { 0 } else { m >> s }, (m >> (s - 1)) & 1 != 0)
            }
            _ => {
                let s = if imm5 == 0 { 32 } else { imm5 };
                (((m as i32) >> s.min(31)) as u32, ((m as i32) >> (s - 1).min(31)) & 1 != 0)
            }
        };
        self.set_nz(r);
        self.set_flag(C, carry);
        self.set_reg(rd, r);
    }

    /// ADDS/SUBS, register or 3-bit immediate.
    fn add_subtract(&mut self, op: u16, rd: usize, rn: usize) {
        let n = self.reg(rn);
        let m = if op & (1 << 10) != 0 { ((op >> 6) & 7) as u32 } else { self.reg(((op >> 6) & 7) as usize) };
        let r = if op & (1 << 9) == 0 { self.add_with_carry(n, m, false) } else { self.add_with_carry(n, !m, true) };
        self.set_reg(rd, r);
    }

    /// MOVS/CMP/ADDS/SUBS Rd, #imm8.
    fn immediate8(&mut self, op: u16) {
        let d = ((op >> 8) & 7) as usize;
        let imm = (op & 0xFF) as u32;
        match (op >> 11) & 3 {
            0 => {
                self.set_nz(imm);
                self.set_reg(d, imm);
            }
            1 => {
                self.add_with_carry(self.reg(d), !imm, true);
            }
            2 => {
                let r = self.add_with_carry(self.reg(d), imm, false);
                self.set_reg(d, r);
            }
            _ => {
                let r = self.add_with_carry(self.reg(d), !imm, true);
                self.set_reg(d, r);
            }
        }
    }

    /// LDR (literal), loads and stores with a register or immediate offset,
    /// and SP-relative LDR/STR.
    fn load_store(&mut self, op: u16, rd: usize, rn: usize) -> Exec<()> {
        match op >> 10 {
            0b010010 | 0b010011 => {
                // LDR (literal).
                let d = ((op >> 8) & 7) as usize;
                let addr = (self.reg(15) & !3).wrapping_add(((op & 0xFF) as u32) << 2);
                let v = self.core_load(addr, AccessWidth::Word)?;
                self.set_reg(d, v);
            }
            0b010100..=0b010111 => {
                // Load/store with register offset.
                let addr = self.reg(rn).wrapping_add(self.reg(((op >> 6) & 7) as usize));
                match (op >> 9) & 7 {
                    0 => self.core_store(addr, AccessWidth::Word, self.reg(rd))?,
                    1 => self.core_store(addr, AccessWidth::Half, self.reg(rd))?,
                    2 => self.core_store(addr, AccessWidth::Byte, self.reg(rd))?,
                    3 => {
                        let v = self.core_load(addr, AccessWidth::Byte)?;
                        self.set_reg(rd, v as i8 as i32 as u32);
                    }
                    4 => {
                        let v = self.core_load(addr, AccessWidth::Word)?;
                        self.set_reg(rd, v);
                    }
                    5 => {
                        let v = self.core_load(addr, AccessWidth::Half)?;
                        self.set_reg(rd, v);
                    }
                    6 => {
                        let v = self.core_load(addr, AccessWidth::Byte)?;
                        self.set_reg(rd, v);
                    }
                    _ => {
                        let v = self.core_load(addr, AccessWidth::Half)?;
                        self.set_reg(rd, v as i16 as i32 as u32);
                    }
                }
            }
            0b011000..=0b100011 => {
                // Load/store with immediate offset (word, byte, half-word).
                let imm5 = ((op >> 6) & 31) as u32;
                let load = op & (1 << 11) != 0;
                let (width, offset) = match op >> 12 {
                    0b0110 => (AccessWidth::Word, imm5 << 2),
                    0b0111 => (AccessWidth::Byte, imm5),
                    _ => (AccessWidth::Half, imm5 << 1),
                };
                let addr = self.reg(rn).wrapping_add(offset);
                if load {
                    let v = self.core_load(addr, width)?;
                    self.set_reg(rd, v);
                } else {
                    self.core_store(addr, width, self.reg(rd))?;
                }
            }
            0b100100..=0b100111 => {
                // LDR/STR SP-relative.
                let d = ((op >> 8) & 7) as usize;
                let addr = self.cpu.sp().wrapping_add(((op & 0xFF) as u32) << 2);
                if op & (1 << 11) != 0 {
                    let v = self.core_load(addr, AccessWidth::Word)?;
                    self.set_reg(d, v);
                } else {
                    self.core_store(addr, AccessWidth::Word, self.reg(d))?;
                }
            }
            _ => unreachable!("not a load or store: 0x{op:04X}"),
        }
        Ok(())
    }

    /// STM / LDM (increment after, write-back unless LDM loads the base).
    fn load_store_multiple(&mut self, op: u16) -> Exec<()> {
        // STM / LDM (increment after, write-back unless LDM loads the base).
        let base = ((op >> 8) & 7) as usize;
        let list = op & 0xFF;
        if list == 0 {
            return fault(format!("LDM/STM with an empty register list (0x{op:04X})"));
        }
        let mut addr = self.reg(base);
        let load = op & (1 << 11) != 0;
        // Accesses first (they may stall and restart the instruction), then registers.
        let mut values = Vec::with_capacity(8);
        for r in 0..8 {
            if list & (1 << r) == 0 {
                continue;
            }
            if load {
                values.push((r, self.core_load(addr, AccessWidth::Word)?));
            } else {
                self.core_store(addr, AccessWidth::Word, self.reg(r))?;
            }
            addr = addr.wrapping_add(4);
        }
        for (r, v) in values {
            self.set_reg(r, v);
        }
        if !(load && list & (1 << base) != 0) {
            self.set_reg(base, addr);
        }
        Ok(())
    }

    fn data_processing(&mut self, op: u16) -> Exec<()> {
        let d = (op & 7) as usize;
        let m = self.reg(((op >> 3) & 7) as usize);
        let n = self.reg(d);
        let shift = |t: &mut Mcu, kind: u16| {
            let s = m & 0xFF;
            let carry_in = t.flag(C);
            let (r, c) = match kind {
                0 => match s {
                    0 => (n, carry_in),
                    1..=31 => (n << s, (n >> (32 - s)) & 1 != 0),
                    32 => (0, n & 1 != 0),
                    _ => (0, false),
                },
                1 => match s {
                    0 => (n, carry_in),
                    1..=31 => (n >> s, (n >> (s - 1)) & 1 != 0),
                    32 => (0, n >> 31 != 0),
                    _ => (0, false),
                },
                2 => match s {
                    0 => (n, carry_in),
                    1..=31 => (((n as i32) >> s) as u32, ((n as i32) >> (s - 1)) & 1 != 0),
                    _ => (((n as i32) >> 31) as u32, n >> 31 != 0),
                },
                _ => {
                    let r = n.rotate_right(s % 32);
                    (r, if s == 0 { carry_in } else { r >> 31 != 0 })
                }
            };
            t.set_nz(r);
            t.set_flag(C, c);
            r
        };
        let r = match (op >> 6) & 15 {
            0 => Some(n & m),
            1 => Some(n ^ m),
            2 => Some(shift(self, 0)),
            3 => Some(shift(self, 1)),
            4 => Some(shift(self, 2)),
            5 => Some(self.add_with_carry(n, m, self.flag(C))),
            6 => Some(self.add_with_carry(n, !m, self.flag(C))),
            7 => Some(shift(self, 3)),
            8 => {
                self.set_nz(n & m);
                None
            }
            9 => Some(self.add_with_carry(!m, 0, true)),
            10 => {
                self.add_with_carry(n, !m, true);
                None
            }
            11 => {
                self.add_with_carry(n, m, false);
                None
            }
            12 => Some(n | m),
            13 => Some(n.wrapping_mul(m)),
            14 => Some(n & !m),
            _ => Some(!m),
        };
        if let Some(r) = r {
            // Logical ops and MUL set N and Z (the arithmetic ones already did).
            if matches!((op >> 6) & 15, 0 | 1 | 12 | 13 | 14 | 15) {
                self.set_nz(r);
            }
            self.set_reg(d, r);
        }
        self.cpu.r[15] = self.cpu.r[15].wrapping_add(2);
        Ok(())
    }

    /// ADD/CMP/MOV with high registers, BX, BLX.
    fn special(&mut self, op: u16, pc: u32) -> Exec<()> {
        let d = ((op & 7) | ((op >> 4) & 8)) as usize;
        let m = ((op >> 3) & 15) as usize;
        match (op >> 8) & 3 {
            0 => {
                let r = self.reg(d).wrapping_add(self.reg(m));
                if d == 15 {
                    self.branch(r);
                    return Ok(());
                }
                self.set_reg(d, r);
            }
            1 => {
                self.add_with_carry(self.reg(d), !self.reg(m), true);
            }
            2 => {
                let v = self.reg(m);
                if d == 15 {
                    self.branch(v);
                    return Ok(());
                }
                self.set_reg(d, v);
            }
            _ => {
                let target = self.reg(m);
                if target & 1 == 0 {
                    return fault(format!("BX/BLX to 0x{target:08X} would leave Thumb state"));
                }
                if op & (1 << 7) != 0 {
                    self.cpu.r[14] = pc.wrapping_add(2) | 1;
                }
                self.branch(target);
                return Ok(());
            }
        }
        self.cpu.r[15] = pc.wrapping_add(2);
        Ok(())
    }

    /// ADD/SUB SP, extend, PUSH/POP, REV, BKPT, hints.
    fn misc(&mut self, op: u16, pc: u32) -> Exec<()> {
        let next = pc.wrapping_add(2);
        match (op >> 8) & 15 {
            0 => {
                let imm = ((op & 0x7F) as u32) << 2;
                let sp = self.cpu.sp();
                self.cpu.set_sp(if op & 0x80 == 0 { sp.wrapping_add(imm) } else { sp.wrapping_sub(imm) });
            }
            2 => {
                let d = (op & 7) as usize;
                let m = self.reg(((op >> 3) & 7) as usize);
                let v = match (op >> 6) & 3 {
                    0 => m as i16 as i32 as u32,
                    1 => m as i8 as i32 as u32,
                    2 => m & 0xFFFF,
                    _ => m & 0xFF,
                };
                self.set_reg(d, v);
            }
            4 | 5 => {
                // PUSH {list, LR?}
                let list = (op & 0xFF) as u32 | if op & 0x100 != 0 { 1 << 14 } else { 0 };
                let count = list.count_ones();
                let start = self.cpu.sp().wrapping_sub(4 * count);
                let mut addr = start;
                for r in 0..15 {
                    if list & (1 << r) != 0 {
                        self.core_store(addr, AccessWidth::Word, self.reg(r))?;
                        addr = addr.wrapping_add(4);
                    }
                }
                self.cpu.set_sp(start);
            }
            12 | 13 => {
                // POP {list, PC?}
                let list = (op & 0xFF) as u32 | if op & 0x100 != 0 { 1 << 15 } else { 0 };
                let mut addr = self.cpu.sp();
                let mut values = Vec::new();
                for r in 0..16 {
                    if list & (1 << r) != 0 {
                        values.push((r, self.core_load(addr, AccessWidth::Word)?));
                        addr = addr.wrapping_add(4);
                    }
                }
                self.cpu.set_sp(addr);
                let mut jump = None;
                for (r, v) in values {
                    if r == 15 {
                        jump = Some(v);
                    } else {
                        self.set_reg(r, v);
                    }
                }
                if let Some(target) = jump {
                    if target & 1 == 0 {
                        return fault(format!("POP into PC of 0x{target:08X} would leave Thumb state"));
                    }
                    self.branch(target);
                    return Ok(());
                }
            }
            10 => {
                let d = (op & 7) as usize;
                let m = self.reg(((op >> 3) & 7) as usize);
                let v = match (op >> 6) & 3 {
                    0 => m.swap_bytes(),
                    1 => ((m & 0x00FF_00FF) << 8) | ((m >> 8) & 0x00FF_00FF),
                    3 => (m as u16).swap_bytes() as i16 as i32 as u32,
                    _ => return fault(format!("undefined instruction 0x{op:04X}")),
                };
                self.set_reg(d, v);
            }
            14 => return Err(Stop::Breakpoint),
            15 if op & 0xFF == 0 => {} // NOP
            _ => return fault(format!("unsupported instruction 0x{op:04X}")),
        }
        self.cpu.r[15] = next;
        Ok(())
    }

    /// 32-bit encodings: BL and the barriers.
    fn step32(&mut self, pc: u32, op: u16, op2: u16) -> Exec<()> {
        if op >> 11 == 0b11110 && op2 >> 14 == 0b11 && op2 & (1 << 12) != 0 {
            let s = ((op >> 10) & 1) as u32;
            let j1 = ((op2 >> 13) & 1) as u32;
            let j2 = ((op2 >> 11) & 1) as u32;
            let i1 = !(j1 ^ s) & 1;
            let i2 = !(j2 ^ s) & 1;
            let imm =
                (s << 24) | (i1 << 23) | (i2 << 22) | (((op & 0x3FF) as u32) << 12) | (((op2 & 0x7FF) as u32) << 1);
            let off = ((imm << 7) as i32) >> 7;
            self.cpu.r[14] = pc.wrapping_add(4) | 1;
            self.branch(pc.wrapping_add(4).wrapping_add(off as u32));
            return Ok(());
        }
        // DSB / DMB / ISB: F3BF 8F4x / 8F5x / 8F6x.
        if op == 0xF3BF && matches!(op2 & 0xFFF0, 0x8F40 | 0x8F50 | 0x8F60) {
            self.cpu.r[15] = pc.wrapping_add(4);
            return Ok(());
        }
        fault(format!("unsupported 32-bit instruction 0x{op:04X} 0x{op2:04X}"))
    }
}
