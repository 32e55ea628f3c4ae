//! The streaming flash routine: a small data-driven program that runs in
//! target SRAM and programs flash from buffers the host keeps filling, so
//! that the host never waits a USB round trip per flash word (the approach
//! OpenOCD takes with its H7 and F1 loaders, peers.md §2; done here with one
//! generic routine instead of one per family).
//!
//! The routine (`stream.S`, ARMv6-M Thumb so that it runs on every Cortex-M)
//! executes *scripts*: register writes and waits taken verbatim from a
//! driver's [`RegOp`] sequences, "program these bytes with this access width,
//! waiting for the bank after each unit", "read this register into the
//! results", "feed these words to that register" (the CRC peripheral). Two
//! buffer slots in SRAM alternate: while the routine works through one, the
//! host fills the other. A slot is [script][data][header]; the header's last
//! word is the flag, so the one WRITEMEM that carries the data makes the
//! buffer ready. A sector erase placed in a buffer's script runs on the
//! target while the host is still sending the next buffer.
//!
//! Stopping and errors: the last buffer ends with a STOP op (the routine
//! marks it done and halts on BKPT). A controller error stops the routine
//! with the buffer marked FAIL and the status register's value; a crash (a
//! halt that is not our BKPT, or a lockup) is reported with its PC. The core
//! runs with C_MASKINTS and DEMCR.VC_HARDERR so that neither an interrupt nor
//! a fault can run the application's handlers from the flash being erased.
//! The core is stopped by writing DHCSR with the key and the control bits
//! only, never a read-back value (stlink-usb-protocol.md §9: status bits
//! OR-ed into the write corrupt the key).

use std::time::Duration;

use super::{FlashError, RegOp, StatusReg, Width};
use crate::target::chips::{Chip, MemRegion};
use crate::target::cortex_m as cm;
use crate::target::{Target, TargetError};

mod code;
pub use code::CODE;

// Flag values (stream.S).
pub const FLAG_READY: u32 = 0x5944_4552;
pub const FLAG_DONE: u32 = 0x454E_4F44;
pub const FLAG_FAIL: u32 = 0x4C49_4146;
pub const FLAG_STOP: u32 = 0x504F_5453;

/// Header: script, results, fail position, fail address, status, flag.
pub const HEADER_LEN: u32 = 24;
const FLAG_OFFSET: u32 = 20;

// Op codes (stream.S).
const OP_END: u32 = 0;
const OP_WRITE: u32 = 1;
const OP_WAIT: u32 = 2;
const OP_PROGRAM: u32 = 3;
const OP_READ: u32 = 4;
const OP_FEED: u32 = 5;
const OP_STOP: u32 = 6;

/// Most data one buffer carries (bigger buffers mean fewer polls, smaller
/// ones a shorter tail after the last transfer).
pub const MAX_BUFFER_DATA: u32 = 12 * 1024;
/// Room for READ results per slot (one word each).
const RESULTS_BYTES: u32 = 2048;
/// Room for the script per slot.
const SCRIPT_BYTES: u32 = 2048;
/// Smallest data capacity worth using the routine for.
const MIN_BUFFER_DATA: u32 = 1024;
/// Stack the routine is given (it uses none; the value only has to be valid).
const STACK_BYTES: u32 = 64;

/// Slowest poll of a buffer the routine is still working on.
const MAX_POLL: Duration = Duration::from_millis(10);

/// A status register wait, as the routine runs it: poll `sr` until
/// `busy` clears, fail on `errors`, write `eop` to `clear` when set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitSpec {
    pub bank: u8,
    pub sr: u32,
    pub busy: u32,
    pub errors: u32,
    pub clear: u32,
    pub eop: u32,
    /// What is being waited for, for messages ("erasing sector 3 of bank 1").
    pub what: String,
}

impl WaitSpec {
    pub fn new(bank: u8, status: &StatusReg, what: impl Into<String>) -> WaitSpec {
        WaitSpec {
            bank,
            sr: status.addr,
            busy: status.busy,
            errors: status.errors,
            clear: status.clear_reg.unwrap_or(status.addr),
            eop: status.eop,
            what: what.into(),
        }
    }

    fn words(&self) -> [u32; 5] {
        [self.sr, self.busy, self.errors, self.clear, self.eop]
    }
}

/// One script op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Write {
        addr: u32,
        value: u32,
    },
    Wait(WaitSpec),
    /// Program `len` bytes of the buffer's data from `offset` at `dst`.
    Program {
        dst: u32,
        offset: u32,
        len: u32,
        unit: u32,
        width: Width,
        wait: WaitSpec,
    },
    /// Append the word at `addr` to the results.
    Read {
        addr: u32,
    },
    /// Write `words` words from `src` (target memory) to the register `dst`.
    Feed {
        src: u32,
        words: u32,
        dst: u32,
    },
    /// Last op of the last buffer: mark it done and halt.
    Stop,
}

impl Op {
    pub fn words(&self) -> u32 {
        match self {
            Op::Write { .. } => 3,
            Op::Wait(_) => 6,
            Op::Program { .. } => 11,
            Op::Read { .. } => 2,
            Op::Feed { .. } => 4,
            Op::Stop => 1,
        }
    }
}

/// The script form of a driver's register sequence.
pub fn ops_from(regops: &[RegOp], status: impl Fn(u8) -> StatusReg, what: &str) -> Vec<Op> {
    regops
        .iter()
        .map(|op| match *op {
            RegOp::Write { addr, value } => Op::Write { addr, value },
            RegOp::WaitIdle { bank, .. } => Op::Wait(WaitSpec::new(bank, &status(bank), what)),
        })
        .collect()
}

/// Expected and worst-case time of a register sequence.
pub fn regops_time(regops: &[RegOp]) -> (Duration, Duration) {
    regops.iter().fold((Duration::ZERO, Duration::ZERO), |(t, m), op| match op {
        RegOp::WaitIdle { typical, timeout, .. } => (t + *typical, m + *timeout),
        RegOp::Write { .. } => (t, m),
    })
}

/// One buffer: a script and the data its PROGRAM ops refer to.
#[derive(Debug, Clone, Default)]
pub struct Buffer {
    pub ops: Vec<Op>,
    pub data: Vec<u8>,
    /// Expected time on the target, and the time after which it has failed.
    pub typical: Duration,
    pub timeout: Duration,
    /// Caller's label, returned with the results.
    pub tag: usize,
}

impl Buffer {
    pub fn script_bytes(&self) -> u32 {
        4 * (self.ops.iter().map(Op::words).sum::<u32>() + 1)
    }

    pub fn reads(&self) -> u32 {
        self.ops.iter().filter(|o| matches!(o, Op::Read { .. })).count() as u32
    }

    /// Would `data` more bytes and `words` more script words still fit a slot?
    /// Script and data share the slot; data alone is limited to
    /// `data_capacity` (a CRC-only buffer is all script).
    pub fn fits(&self, plan: &RamPlan, data: u32, words: u32) -> bool {
        let data_len = self.data.len() as u32 + data;
        data_len <= plan.data_capacity
            && self.script_bytes() + 4 * words + data_len <= SCRIPT_BYTES + plan.data_capacity
            && self.reads() < RESULTS_BYTES / 4
    }

    /// The bytes of the slot image ending at `header` ([script][data][header]).
    fn image(&self, header: u32, results: u32) -> (u32, Vec<u8>) {
        let data_len = (self.data.len() as u32 + 3) & !3;
        let script_len = self.script_bytes();
        let start = header - data_len - script_len;
        let data_addr = start + script_len;
        let mut words: Vec<u32> = Vec::with_capacity(script_len as usize / 4);
        for op in &self.ops {
            match op {
                Op::Write { addr, value } => words.extend([OP_WRITE, *addr, *value]),
                Op::Wait(w) => {
                    words.push(OP_WAIT);
                    words.extend(w.words());
                }
                Op::Program { dst, offset, len, unit, width, wait } => {
                    words.extend([OP_PROGRAM, *dst, data_addr + offset, *len, *unit, width.bytes()]);
                    words.extend(wait.words());
                }
                Op::Read { addr } => words.extend([OP_READ, *addr]),
                Op::Feed { src, words: n, dst } => words.extend([OP_FEED, *src, *n, *dst]),
                Op::Stop => words.push(OP_STOP),
            }
        }
        words.push(OP_END);
        let mut out: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        out.extend_from_slice(&self.data);
        out.resize((script_len + data_len) as usize, 0);
        for w in [start, results, 0, 0, 0, FLAG_READY] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        (start, out)
    }

    /// The op whose arguments end at script offset `end` (as the routine reports).
    fn op_ending_at(&self, start: u32, end: u32) -> Option<&Op> {
        let mut pos = start;
        for op in &self.ops {
            pos += 4 * op.words();
            if pos == end {
                return Some(op);
            }
        }
        None
    }
}

/// Where the routine and its buffers live in target RAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RamPlan {
    pub code: u32,
    table: u32,
    stack_top: u32,
    /// Per slot: header address and results address.
    slots: [(u32, u32); 2],
    /// Data bytes one buffer can carry.
    pub data_capacity: u32,
}

impl RamPlan {
    /// Lay the routine out in the chip's RAM: its primary SRAM, or a larger
    /// RAM region when that one is small. `None` when no region is big enough.
    pub fn for_chip(chip: &Chip) -> Option<RamPlan> {
        let best = chip.ram_regions().max_by_key(|r| r.size)?;
        let region = if chip.sram.size >= 48 * 1024 { chip.sram } else { best };
        RamPlan::in_region(region)
    }

    pub fn in_region(region: MemRegion) -> Option<RamPlan> {
        let code_len = (CODE.len() as u32 + 3) & !3;
        let code = region.base;
        let table = code + code_len;
        let first_slot = table + 8 + STACK_BYTES;
        let stack_top = first_slot;
        let slot_overhead = SCRIPT_BYTES + HEADER_LEN + RESULTS_BYTES;
        let avail = (region.end() - first_slot as u64) / 2;
        let slot = avail.min((MAX_BUFFER_DATA + slot_overhead) as u64) as u32 & !3;
        if slot < MIN_BUFFER_DATA + slot_overhead {
            return None;
        }
        let data_capacity = slot - slot_overhead;
        let slots = [0, 1].map(|k| {
            let base = first_slot + k * slot;
            let header = base + SCRIPT_BYTES + data_capacity;
            (header, header + HEADER_LEN)
        });
        Some(RamPlan { code, table, stack_top, slots, data_capacity })
    }
}

/// Why the routine path stopped.
#[derive(Debug, Clone)]
pub enum RoutineError {
    /// The controller reported an error; the status register's value.
    Flash {
        bank: u8,
        status: u32,
        what: String,
    },
    /// The core stopped somewhere other than our BKPT, or locked up.
    Crashed {
        pc: u32,
        why: String,
    },
    /// A buffer took longer than its timeout.
    Timeout {
        what: String,
        waited: Duration,
    },
    Target(TargetError),
}

impl From<TargetError> for RoutineError {
    fn from(e: TargetError) -> Self {
        RoutineError::Target(e)
    }
}

impl std::fmt::Display for RoutineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoutineError::Flash { what, status, .. } => write!(f, "flash error while {what} (status 0x{status:08X})"),
            RoutineError::Crashed { pc, why } => write!(f, "flash routine crashed at 0x{pc:08X} ({why})"),
            RoutineError::Timeout { what, waited } => {
                write!(f, "flash routine still busy after {:.1} s while {what}", waited.as_secs_f64())
            }
            RoutineError::Target(e) => write!(f, "{e}"),
        }
    }
}

impl RoutineError {
    /// The controller error as a [`FlashError`], after clearing its flags.
    pub fn into_flash_error(self, t: &mut Target, ctrl: &dyn super::FlashController) -> FlashError {
        match self {
            RoutineError::Flash { bank, status, what } => {
                match super::engine::check_errors(t, ctrl, bank, status, &what) {
                    Err(e) => e,
                    Ok(()) => {
                        FlashError::Unsupported(format!("flash routine stopped while {what} (status 0x{status:08X})"))
                    }
                }
            }
            RoutineError::Crashed { .. } => FlashError::Unsupported(self.to_string()),
            RoutineError::Timeout { what, waited } => FlashError::Timeout { op: what, waited },
            RoutineError::Target(e) => FlashError::Target(e),
        }
    }
}

/// A buffer the routine has been given and not yet reported done.
struct InFlight {
    buffer: Buffer,
    start: u32,
    deadline: Duration,
    expected: Duration,
}

/// Runs the routine: load, start, feed buffers, collect results, stop.
pub struct Streamer {
    plan: RamPlan,
    slots: [Option<InFlight>; 2],
    next: usize,
    demcr: u32,
    /// Results of finished buffers: (tag, words).
    pub results: Vec<(usize, Vec<u32>)>,
    /// Tags of the buffers finished so far, in order.
    pub done: Vec<usize>,
    /// When the routine is expected to have finished everything given so far.
    busy_until: Duration,
    deadline: Duration,
    /// The last buffer given ends with STOP.
    stopping: bool,
}

impl Streamer {
    /// Load the routine and start it (the core must be halted).
    pub fn start(t: &mut Target, plan: RamPlan) -> Result<Streamer, RoutineError> {
        let mut image = CODE.to_vec();
        image.resize((plan.table - plan.code) as usize, 0);
        for (header, _) in plan.slots {
            image.extend_from_slice(&header.to_le_bytes());
        }
        t.write_mem(plan.code, &image)?;
        // Stale flags from an earlier run (SRAM survives) must not look ready.
        for (header, _) in plan.slots {
            t.write32(header + FLAG_OFFSET, 0)?;
        }
        let demcr = t.read32(cm::DEMCR)?;
        t.write32(cm::DEMCR, demcr | cm::DEMCR_VC_HARDERR)?;
        t.write32(cm::DFSR, cm::DFSR_ALL)?;
        t.write_core_reg(0, plan.table)?;
        t.write_core_reg(1, 2)?;
        t.write_core_reg(cm::reg::MSP, plan.stack_top)?;
        t.write_core_reg(cm::reg::PC, plan.code)?;
        t.write_core_reg(cm::reg::XPSR, cm::XPSR_T)?;
        // C_MASKINTS may only change while halted (ARMv7-M C1.6.3).
        t.write32(cm::DHCSR, cm::DBGKEY | cm::C_MASKINTS | cm::C_HALT | cm::C_DEBUGEN)?;
        t.write32(cm::DHCSR, cm::DBGKEY | cm::C_MASKINTS | cm::C_DEBUGEN)?;
        let now = t.elapsed();
        Ok(Streamer {
            plan,
            slots: [None, None],
            next: 0,
            demcr,
            results: Vec::new(),
            done: Vec::new(),
            busy_until: now,
            deadline: now,
            stopping: false,
        })
    }

    pub fn plan(&self) -> &RamPlan {
        &self.plan
    }

    /// Give the routine one more buffer (waiting for its slot to be free).
    pub fn submit(&mut self, t: &mut Target, buffer: Buffer) -> Result<(), RoutineError> {
        let k = self.next;
        self.wait_slot(t, k)?;
        let (header, results) = self.plan.slots[k];
        let (start, image) = buffer.image(header, results);
        assert!(start >= header - SCRIPT_BYTES - self.plan.data_capacity, "buffer overflows its slot");
        t.write_mem(start, &image)?;
        let now = t.elapsed();
        let begin = self.busy_until.max(now);
        self.busy_until = begin + buffer.typical;
        self.deadline = self.deadline.max(now) + buffer.timeout;
        let (expected, deadline) = (self.busy_until, self.deadline);
        self.stopping = buffer.ops.last() == Some(&Op::Stop);
        self.slots[k] = Some(InFlight { buffer, start, deadline, expected });
        self.next = 1 - k;
        Ok(())
    }

    /// Wait until slot `k`'s buffer is done; collect its results.
    fn wait_slot(&mut self, t: &mut Target, k: usize) -> Result<(), RoutineError> {
        let Some(job) = self.slots[k].take() else { return Ok(()) };
        let (header, results) = self.plan.slots[k];
        let now = t.elapsed();
        if job.expected > now {
            t.sleep(job.expected - now);
        }
        let mut interval = (job.buffer.typical / 8).clamp(Duration::from_micros(50), MAX_POLL);
        loop {
            let flag = t.read32(header + FLAG_OFFSET)?;
            match flag {
                FLAG_DONE => break,
                FLAG_FAIL => return Err(self.failure(t, &job, header)),
                _ => {}
            }
            let dhcsr = t.read32(cm::DHCSR)?;
            if dhcsr & (cm::S_HALT | cm::S_LOCKUP) != 0 {
                // Halted or locked up without finishing this buffer: look
                // again at the flag (it may have finished in between).
                if t.read32(header + FLAG_OFFSET)? == FLAG_DONE {
                    break;
                }
                return Err(self.crashed(t, dhcsr)?);
            }
            let now = t.elapsed();
            if now > job.deadline {
                let _ = self.abort(t);
                let what = job.buffer.ops.iter().find_map(|o| match o {
                    Op::Wait(w) => Some(w.what.clone()),
                    Op::Program { wait, .. } => Some(wait.what.clone()),
                    _ => None,
                });
                return Err(RoutineError::Timeout {
                    what: what.unwrap_or_else(|| "running the flash routine".into()),
                    waited: now - (job.deadline - job.buffer.timeout),
                });
            }
            t.sleep(interval);
            interval = (interval * 2).min(MAX_POLL);
        }
        self.done.push(job.buffer.tag);
        let n = job.buffer.reads();
        if n > 0 {
            let mut bytes = vec![0u8; 4 * n as usize];
            t.read_mem(results, &mut bytes)?;
            let words = bytes.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            self.results.push((job.buffer.tag, words));
        }
        Ok(())
    }

    fn failure(&mut self, t: &mut Target, job: &InFlight, header: u32) -> RoutineError {
        let mut h = [0u8; HEADER_LEN as usize];
        if let Err(e) = t.read_mem(header, &mut h) {
            return e.into();
        }
        let word = |i: usize| u32::from_le_bytes([h[4 * i], h[4 * i + 1], h[4 * i + 2], h[4 * i + 3]]);
        let (pos, addr, status) = (word(2), word(3), word(4));
        let _ = self.abort(t);
        match job.buffer.op_ending_at(job.start, pos) {
            Some(Op::Program { unit, wait, .. }) => RoutineError::Flash {
                bank: wait.bank,
                status,
                what: format!("programming 0x{:08X} ({})", addr.wrapping_sub(*unit), wait.what),
            },
            Some(Op::Wait(w)) => RoutineError::Flash { bank: w.bank, status, what: w.what.clone() },
            _ => {
                RoutineError::Crashed { pc: self.plan.code, why: format!("unknown script op (status 0x{status:08X})") }
            }
        }
    }

    fn crashed(&mut self, t: &mut Target, dhcsr: u32) -> Result<RoutineError, RoutineError> {
        let why = if dhcsr & cm::S_LOCKUP != 0 {
            "the core locked up".to_string()
        } else {
            let dfsr = t.read32(cm::DFSR)?;
            if dfsr & cm::DFSR_VCATCH != 0 {
                "hard fault".to_string()
            } else {
                format!("stopped unexpectedly, DFSR 0x{dfsr:08X}")
            }
        };
        self.abort(t)?;
        let pc = t.read_core_reg(cm::reg::PC)?;
        Ok(RoutineError::Crashed { pc, why })
    }

    /// Wait until every buffer given so far is done (their results are then in `results`).
    pub fn sync(&mut self, t: &mut Target) -> Result<(), RoutineError> {
        for k in [self.next, 1 - self.next] {
            self.wait_slot(t, k)?;
        }
        Ok(())
    }

    /// Stop the routine after the last buffer: mark it with STOP, wait, collect.
    pub fn finish(&mut self, t: &mut Target) -> Result<Vec<(usize, Vec<u32>)>, RoutineError> {
        if !self.stopping {
            self.submit(t, Buffer { ops: vec![Op::Stop], ..Default::default() })?;
        }
        for k in [self.next, 1 - self.next] {
            self.wait_slot(t, k)?;
        }
        let mut halted = false;
        for _ in 0..10 {
            if t.read32(cm::DHCSR)? & cm::S_HALT != 0 {
                halted = true;
                break;
            }
            t.sleep(Duration::from_millis(1));
        }
        if !halted {
            self.abort(t)?;
            return Err(RoutineError::Crashed { pc: t.read_core_reg(cm::reg::PC)?, why: "did not stop".into() });
        }
        self.restore(t)?;
        Ok(std::mem::take(&mut self.results))
    }

    /// Halt the core and put DEMCR back.
    pub fn abort(&mut self, t: &mut Target) -> Result<(), RoutineError> {
        t.write32(cm::DHCSR, cm::DBGKEY | cm::C_HALT | cm::C_DEBUGEN)?;
        self.restore(t)
    }

    fn restore(&mut self, t: &mut Target) -> Result<(), RoutineError> {
        t.write32(cm::DEMCR, self.demcr)?;
        Ok(())
    }
}

/// Append the last op so that the routine stops after this buffer.
pub fn mark_last(buffer: &mut Buffer) {
    buffer.ops.push(Op::Stop);
}

#[cfg(test)]
mod tests;
