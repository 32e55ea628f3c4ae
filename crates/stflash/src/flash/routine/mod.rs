//! The streaming flash routine: a small data-driven program that runs in
//! target SRAM and programs flash from buffers the host keeps filling, so
//! that the host never waits a USB round trip per flash word (the approach
//! OpenOCD takes with its H7 and F1 loaders, `contrib/loaders/flash/stm32/`;
//! done here with one
//! generic routine instead of one per family).
//!
//! The routine (`stream.S`, ARMv6-M Thumb so that it runs on every Cortex-M)
//! executes *scripts*: register writes and waits taken verbatim from a
//! driver's [`RegOp`] sequences, "program these bytes with this access width,
//! waiting for the bank after each unit", "read this register into the
//! results", "feed these words to that register" (the CRC peripheral), "fill
//! this many units with this repeated word", "set these bits" (a clock
//! enable), "compute the CRC of these words" (the routine's own CRC, when
//! no hardware unit can be trusted). Two to four buffer slots in SRAM form a ring: while the routine
//! works through one, the host fills the next. A slot is
//! [script][data][header]; the header's last word is the flag, so the one
//! WRITEMEM that carries the data makes the buffer ready. A sector erase
//! placed in a buffer's script runs on the target while the host is still
//! sending the next buffer.
//!
//! Few USB round trips: the routine takes no register arguments (its
//! parameters follow the code in the same WRITEMEM, so starting it writes
//! only PC and xPSR); a slot is ready when its flag equals a value chosen
//! anew at each start, so stale slots need no clearing; one progress word
//! counts finished buffers, so one read confirms several slots free; every
//! READ op appends to one results area right after that word, so the host
//! collects the progress and all results of a batch (CRCs) with one READMEM.
//!
//! Stopping and errors: the last buffer ends with a STOP op (the routine
//! counts it and halts on BKPT). A controller error stops the routine with
//! the buffer marked FAIL, the status register's value in its header and bit
//! 31 of the progress word set; a crash (a halt that is not our BKPT, or a
//! lockup) is reported with its PC. The core
//! runs with C_MASKINTS and DEMCR.VC_HARDERR so that neither an interrupt nor
//! a fault can run the application's handlers from the flash being erased.
//! The core is stopped by writing DHCSR with the key and the control bits
//! only, never a read-back value (status bits OR-ed into the write corrupt
//! the key: ARMv7-M ARM C1.6.2, DHCSR; stlink's flash_loader.c:903-906 does
//! exactly that).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{FlashError, RegOp, StatusReg, Width};
use crate::chip::{Chip, MemRegion};
use crate::mcu::cortex_m as cm;
use crate::mcu::{Target, TargetError};

mod code;
pub use code::CODE;

// Flag values (stream.S). READY is chosen per start (`Streamer::start`).
pub const FLAG_DONE: u32 = 0x454E_4F44;
pub const FLAG_FAIL: u32 = 0x4C49_4146;
/// Progress word: a buffer failed.
pub const PROGRESS_FAIL: u32 = 1 << 31;

/// Header: script, results, fail position, fail address, status, flag.
pub const HEADER_LEN: u32 = 24;

// Op codes (stream.S).
const OP_END: u32 = 0;
const OP_WRITE: u32 = 1;
const OP_WAIT: u32 = 2;
const OP_PROGRAM: u32 = 3;
const OP_READ: u32 = 4;
const OP_FEED: u32 = 5;
const OP_STOP: u32 = 6;
const OP_ORR: u32 = 7;
const OP_FILL: u32 = 8;
const OP_H7CRC: u32 = 9;
const OP_SWCRC: u32 = 10;
const OP_CRC32: u32 = 11;
const OP_PAIR: u32 = 12;
/// PAIR lane mode: the lane is a FILL (its source word is the value).
const PAIR_FILL: u32 = 0x100;
/// Bytes of one wait description in a buffer's table.
const WAIT_BYTES: u32 = 20;

/// Most data one buffer carries (bigger buffers mean fewer polls, smaller
/// ones a shorter tail after the last transfer).
pub const MAX_BUFFER_DATA: u32 = 12 * 1024;
/// The results area after the progress word (one word per READ), and the
/// room for the script per slot (shared with the data: a CRC-only buffer is
/// all script): a sixteenth of the RAM region each, within these bounds, so
/// that 8 KiB parts (L0) still hold the routine.
const RESULTS_BYTES: (u32, u32) = (512, 2048);
const SCRIPT_BYTES: (u32, u32) = (512, 2048);
/// Smallest data capacity worth using the routine for.
const MIN_BUFFER_DATA: u32 = 1024;
/// Data capacity below which two big slots beat more small ones.
const MIN_RING_DATA: u32 = 8 * 1024;
const MAX_SLOTS: u32 = 4;
/// Stack the routine is given (it uses none; the value only has to be valid).
const STACK_BYTES: u32 = 64;
/// The software CRC's table (256 words), built by the routine when needed.
const TABLE_BYTES: u32 = 1024;
/// Parameter block words before the slot list (stream.S).
const PARAM_WORDS: u32 = 6;

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
    /// Program `len` bytes at `dst` that all repeat the little-endian word
    /// `value`; every `width`-byte store writes its low bytes, so `value`
    /// must repeat at the access width (see [`fill_value`]).
    Fill {
        dst: u32,
        value: u32,
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
    /// `[addr] |= bits`, then read it back (a peripheral clock enable: the
    /// read-back is the delay the RMs ask for before the peripheral is used).
    Orr {
        addr: u32,
        bits: u32,
    },
    /// The H7 flash CRC unit of the bank whose register block starts at
    /// `regs` hashes bank offsets `start..=end` (its CRCSADD/CRCEADD
    /// values); the CRC is appended to the results (flash::crc).
    H7Crc {
        regs: u32,
        start: u32,
        end: u32,
        /// For messages.
        bank: u8,
    },
    /// Append CRC-32/MPEG-2 of `words` words at `src` (flash or RAM),
    /// computed by the routine itself (each word most significant bit first).
    SwCrc {
        src: u32,
        words: u32,
    },
    /// Append the register of zlib's CRC-32 (reflected, polynomial
    /// 0xEDB88320) after the bytes of `words` words at `src` in address
    /// order, starting from `init`; no final XOR (the host applies it, and
    /// can chain ranges or bytes it hashed itself). `checksum` uses it.
    Crc32 {
        src: u32,
        words: u32,
        init: u32,
    },
    /// Program two lanes into two banks whose controllers work on their
    /// own (H7), both banks busy at once: a unit is stored into a lane only
    /// when its bank is idle, then the last unit of each is waited for.
    Pair(Box<[Lane; 2]>),
    /// Last op of the last buffer: count it done and halt.
    Stop,
}

/// One lane of [`Op::Pair`]: what a PROGRAM or a FILL op would do in one bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    pub dst: u32,
    pub source: LaneSource,
    /// Bytes, whole units (0: the lane is idle in this op).
    pub len: u32,
    pub unit: u32,
    pub width: Width,
    pub wait: WaitSpec,
}

/// Where a lane's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneSource {
    /// The buffer's data from this offset (a PROGRAM).
    Data { offset: u32 },
    /// Units that all repeat this word (a FILL; see [`fill_value`]).
    Fill { value: u32 },
}

impl Lane {
    /// Data bytes the lane takes from the buffer.
    pub fn data_len(&self) -> u32 {
        match self.source {
            LaneSource::Data { .. } => self.len,
            LaneSource::Fill { .. } => 0,
        }
    }

    /// A unit of this lane ends at `addr` (the routine reports where the
    /// failing lane's next unit would start).
    fn ends_at(&self, addr: u32) -> bool {
        addr > self.dst && addr <= self.dst + self.len
    }

    fn words(&self, data_addr: u32, spec: u32) -> [u32; 6] {
        let (src, fill) = match self.source {
            LaneSource::Data { offset } => (data_addr + offset, 0),
            LaneSource::Fill { value } => (value, PAIR_FILL),
        };
        [self.dst, src, self.len, self.unit, self.width.bytes() | fill, spec]
    }
}

impl Op {
    /// Script words (a wait description is kept once per buffer, apart).
    pub fn words(&self) -> u32 {
        match self {
            Op::Write { .. } | Op::Orr { .. } => 3,
            Op::Wait(_) => 2,
            Op::Program { .. } | Op::Fill { .. } => 7,
            Op::Read { .. } => 2,
            Op::SwCrc { .. } => 3,
            Op::Feed { .. } | Op::H7Crc { .. } | Op::Crc32 { .. } => 4,
            Op::Pair(_) => 13,
            Op::Stop => 1,
        }
    }

    /// The wait descriptions the op refers to.
    fn waits(&self) -> Vec<&WaitSpec> {
        match self {
            Op::Wait(w) | Op::Program { wait: w, .. } | Op::Fill { wait: w, .. } => vec![w],
            Op::Pair(lanes) => lanes.iter().map(|l| &l.wait).collect(),
            _ => Vec::new(),
        }
    }

    /// Appends a word to the results.
    fn reads(&self) -> bool {
        matches!(self, Op::Read { .. } | Op::H7Crc { .. } | Op::SwCrc { .. } | Op::Crc32 { .. })
    }
}

/// The word a FILL op stores when `bytes` (a whole number of `width`-byte
/// accesses, at least 4 bytes) repeat one word that also repeats at that
/// width; `None` otherwise.
pub fn fill_value(bytes: &[u8], width: Width) -> Option<u32> {
    if bytes.len() < 4 || bytes.len() % 4 != 0 {
        return None;
    }
    let first = [bytes[0], bytes[1], bytes[2], bytes[3]];
    let w = width.bytes() as usize;
    if first[w..].iter().zip(&first).any(|(a, b)| a != b) || bytes.chunks(4).any(|c| c != first) {
        return None;
    }
    Some(u32::from_le_bytes(first))
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
    /// Caller's label (see [`Streamer::done_tags`]).
    pub tag: usize,
}

impl Buffer {
    pub fn script_bytes(&self) -> u32 {
        4 * (self.ops.iter().map(Op::words).sum::<u32>() + 1)
    }

    pub fn reads(&self) -> u32 {
        self.ops.iter().filter(|o| o.reads()).count() as u32
    }

    /// The distinct wait descriptions, in first-use order (the buffer's table).
    fn waits(&self) -> Vec<[u32; 5]> {
        let mut out: Vec<[u32; 5]> = Vec::new();
        for w in self.ops.iter().flat_map(Op::waits) {
            if !out.contains(&w.words()) {
                out.push(w.words());
            }
        }
        out
    }

    /// Would `data` more bytes, `words` more script words and `reads` more
    /// result words still fit a slot (with room for one more wait
    /// description)? Script and data share the slot; data alone is limited
    /// to `data_capacity` (a CRC-only buffer is all script).
    pub fn fits(&self, plan: &RamPlan, data: u32, words: u32, reads: u32) -> bool {
        let data_len = self.data.len() as u32 + data;
        let table = WAIT_BYTES * (self.waits().len() as u32 + 1);
        data_len <= plan.data_capacity
            && self.script_bytes() + 4 * words + data_len + table <= plan.script_bytes + plan.data_capacity
            && self.reads() + reads <= plan.results_words()
    }

    /// The bytes of the slot image ending at `header`
    /// ([script][data][wait table][header]).
    fn image(&self, header: u32, results: u32, ready: u32) -> (u32, Vec<u8>) {
        let waits = self.waits();
        let data_len = (self.data.len() as u32 + 3) & !3;
        let table_len = WAIT_BYTES * waits.len() as u32;
        let script_len = self.script_bytes();
        let start = header - table_len - data_len - script_len;
        let data_addr = start + script_len;
        let table = data_addr + data_len;
        let spec = |w: &WaitSpec| {
            let at = waits.iter().position(|x| *x == w.words()).expect("collected above");
            table + WAIT_BYTES * at as u32
        };
        let mut words: Vec<u32> = Vec::with_capacity(script_len as usize / 4);
        for op in &self.ops {
            match op {
                Op::Write { addr, value } => words.extend([OP_WRITE, *addr, *value]),
                Op::Orr { addr, bits } => words.extend([OP_ORR, *addr, *bits]),
                Op::Wait(w) => words.extend([OP_WAIT, spec(w)]),
                Op::Program { dst, offset, len, unit, width, wait } => {
                    words.extend([OP_PROGRAM, *dst, data_addr + offset, *len, *unit, width.bytes(), spec(wait)])
                }
                Op::Fill { dst, value, len, unit, width, wait } => {
                    words.extend([OP_FILL, *dst, *value, *len, *unit, width.bytes(), spec(wait)])
                }
                Op::Read { addr } => words.extend([OP_READ, *addr]),
                Op::Feed { src, words: n, dst } => words.extend([OP_FEED, *src, *n, *dst]),
                Op::H7Crc { regs, start, end, .. } => words.extend([OP_H7CRC, *regs, *start, *end]),
                Op::SwCrc { src, words: n } => words.extend([OP_SWCRC, *src, *n]),
                Op::Crc32 { src, words: n, init } => words.extend([OP_CRC32, *src, *n, *init]),
                Op::Pair(lanes) => {
                    words.push(OP_PAIR);
                    for lane in lanes.iter() {
                        words.extend(lane.words(data_addr, spec(&lane.wait)));
                    }
                }
                Op::Stop => words.push(OP_STOP),
            }
        }
        words.push(OP_END);
        debug_assert_eq!(words.len() as u32 * 4, script_len);
        let mut out: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        out.extend_from_slice(&self.data);
        out.resize((script_len + data_len) as usize, 0);
        for w in waits.iter().flatten() {
            out.extend_from_slice(&w.to_le_bytes());
        }
        for w in [start, results, 0, 0, 0, ready] {
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

/// Where the routine and its buffers live in target RAM:
/// `[code][parameters][progress][results][CRC table][stack][slot 0][slot 1]…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RamPlan {
    pub code: u32,
    params: u32,
    /// The progress word; the results area follows it.
    pub progress: u32,
    /// The software CRC's table.
    table: u32,
    stack_top: u32,
    /// Header address of each slot, in ring order.
    pub slots: Vec<u32>,
    /// Data bytes one buffer can carry.
    pub data_capacity: u32,
    /// Script room per slot and size of the results area.
    script_bytes: u32,
    results_bytes: u32,
}

impl RamPlan {
    /// Lay the routine out in the chip's RAM: its primary SRAM, or a larger
    /// RAM region when that one is small. `None` when no region is big enough.
    pub fn for_chip(chip: &Chip) -> Option<RamPlan> {
        RamPlan::in_region(RamPlan::region_for(chip)?)
    }

    /// The RAM region the routine goes into: the primary SRAM, or a larger
    /// region when that one is small.
    pub fn region_for(chip: &Chip) -> Option<MemRegion> {
        let best = chip.ram_regions().max_by_key(|r| r.size)?;
        Some(if chip.sram.size >= 48 * 1024 { chip.sram } else { best })
    }

    /// The highest word the plan uses (the last slot's flag).
    pub fn last_word(&self) -> u32 {
        self.slots.iter().max().copied().unwrap_or(self.progress) + HEADER_LEN - 4
    }

    pub fn in_region(region: MemRegion) -> Option<RamPlan> {
        let code = region.base;
        let params = code + ((CODE.len() as u32 + 3) & !3);
        let share = |(lo, hi): (u32, u32)| (region.size / 16).clamp(lo, hi) & !3;
        let (script_bytes, results_bytes) = (share(SCRIPT_BYTES), share(RESULTS_BYTES));
        let overhead = script_bytes + HEADER_LEN;
        let layout = |n: u32| {
            let progress = params + 4 * (PARAM_WORDS + n);
            let first_slot = progress + 4 + results_bytes + TABLE_BYTES + STACK_BYTES;
            let avail = region.end().saturating_sub(first_slot as u64) / n as u64;
            let slot = avail.min((MAX_BUFFER_DATA + overhead) as u64) as u32 & !3;
            (progress, first_slot, slot.saturating_sub(overhead))
        };
        // More slots when each still carries a big buffer: one progress read
        // then frees several.
        let n = (3..=MAX_SLOTS).rev().find(|&n| layout(n).2 >= MIN_RING_DATA).unwrap_or(2);
        let (progress, first_slot, data_capacity) = layout(n);
        if data_capacity < MIN_BUFFER_DATA {
            return None;
        }
        let slot = data_capacity + overhead;
        let slots = (0..n).map(|k| first_slot + k * slot + script_bytes + data_capacity).collect();
        Some(RamPlan {
            code,
            params,
            progress,
            table: progress + 4 + results_bytes,
            stack_top: first_slot,
            slots,
            data_capacity,
            script_bytes,
            results_bytes,
        })
    }

    /// Words the results area holds.
    pub fn results_words(&self) -> u32 {
        self.results_bytes / 4
    }

    fn results(&self) -> u32 {
        self.progress + 4
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
    /// The user asked to stop (Ctrl-C); the routine was halted.
    Interrupted,
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
            RoutineError::Interrupted => write!(f, "interrupted"),
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
            RoutineError::Interrupted => FlashError::Interrupted { at: 0 },
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

/// A READY value for this start: never 0, DONE or FAIL, and different from
/// every earlier start, in this process or another. The target's SRAM keeps
/// the slots an earlier run filled (a run that was cut off leaves ready
/// buffers behind), so the value must not repeat across runs: it mixes the
/// wall clock, the process id and a per-process count.
fn ready_value(now: Duration) -> u32 {
    static STARTS: AtomicU32 = AtomicU32::new(0);
    let n = STARTS.fetch_add(1, Ordering::Relaxed) as u64;
    let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    // SplitMix64 of everything that differs between starts.
    let mut z = wall ^ (now.as_nanos() as u64).rotate_left(17) ^ (std::process::id() as u64) << 44 ^ n << 40;
    z ^= 0x9E37_79B9_7F4A_7C15;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    let v = (z ^ (z >> 31)) as u32;
    if matches!(v, 0 | FLAG_DONE | FLAG_FAIL) {
        0x5944_4552 ^ n as u32
    } else {
        v
    }
}

/// Runs the routine: load, start, feed buffers, collect results, stop.
pub struct Streamer {
    plan: RamPlan,
    ready: u32,
    demcr: u32,
    /// Buffers given but not known to be finished, oldest first.
    inflight: VecDeque<InFlight>,
    /// Buffers given so far, and how many the routine has reported finished.
    submitted: usize,
    finished: usize,
    /// Tag of every buffer given, in order.
    tags: Vec<usize>,
    /// Results collected so far, in the order the READ ops ran.
    pub results: Vec<u32>,
    /// Results-area words claimed by buffers given since the last collection.
    cursor: u32,
    /// When the routine is expected to have finished everything given so far.
    busy_until: Duration,
    deadline: Duration,
    /// The last buffer given ends with STOP.
    stopping: bool,
}

impl Streamer {
    /// Load the routine and start it (the core must be halted): one WRITEMEM
    /// for the code, its parameters and the progress word, then DEMCR, DFSR,
    /// PC, xPSR and DHCSR.
    pub fn start(t: &mut Target, plan: RamPlan) -> Result<Streamer, RoutineError> {
        let ready = ready_value(t.elapsed());
        let mut image = CODE.to_vec();
        image.resize((plan.params - plan.code) as usize, 0);
        let params = [ready, plan.stack_top, plan.progress, plan.slots.len() as u32, plan.table, 0];
        for w in params.iter().chain(&plan.slots).chain([&0u32]) {
            image.extend_from_slice(&w.to_le_bytes());
        }
        t.write_mem(plan.code, &image)?;
        let demcr = t.read32(cm::DEMCR)?;
        t.write32(cm::DEMCR, demcr | cm::DEMCR_VC_HARDERR)?;
        t.write32(cm::DFSR, cm::DFSR_ALL)?;
        t.write_core_reg(cm::reg::PC, plan.code)?;
        t.write_core_reg(cm::reg::XPSR, cm::XPSR_T)?;
        // C_MASKINTS may only change while halted (ARMv7-M C1.6.3).
        t.write32(cm::DHCSR, cm::DBGKEY | cm::C_MASKINTS | cm::C_HALT | cm::C_DEBUGEN)?;
        t.write32(cm::DHCSR, cm::DBGKEY | cm::C_MASKINTS | cm::C_DEBUGEN)?;
        let now = t.elapsed();
        Ok(Streamer {
            plan,
            ready,
            demcr,
            inflight: VecDeque::new(),
            submitted: 0,
            finished: 0,
            tags: Vec::new(),
            results: Vec::new(),
            cursor: 0,
            busy_until: now,
            deadline: now,
            stopping: false,
        })
    }

    pub fn plan(&self) -> &RamPlan {
        &self.plan
    }

    /// Tags of the buffers the routine is known to have finished, in order.
    pub fn done_tags(&self) -> &[usize] {
        &self.tags[..self.finished]
    }

    /// Buffers given so far (the index the next one gets in `done_tags`).
    pub fn submitted(&self) -> usize {
        self.submitted
    }

    /// When the routine is expected to be done with everything given so far.
    pub fn busy_until(&self) -> Duration {
        self.busy_until
    }

    /// Give the routine one more buffer (waiting for its slot to be free).
    pub fn submit(&mut self, t: &mut Target, buffer: Buffer) -> Result<(), RoutineError> {
        let n = self.plan.slots.len();
        let k = self.submitted;
        if k >= n {
            self.wait_done(t, k + 1 - n, false)?;
        }
        if self.cursor + buffer.reads() > self.plan.results_words() {
            self.sync(t)?;
        }
        let header = self.plan.slots[k % n];
        let results = self.plan.results() + 4 * self.cursor;
        self.cursor += buffer.reads();
        let (start, image) = buffer.image(header, results, self.ready);
        assert!(start >= header - self.plan.script_bytes - self.plan.data_capacity, "buffer overflows its slot");
        t.write_mem_bulk(start, &image)?;
        let now = t.elapsed();
        let begin = self.busy_until.max(now);
        self.busy_until = begin + buffer.typical;
        self.deadline = self.deadline.max(now) + buffer.timeout;
        let (expected, deadline) = (self.busy_until, self.deadline);
        self.stopping = buffer.ops.last() == Some(&Op::Stop);
        self.tags.push(buffer.tag);
        self.inflight.push_back(InFlight { buffer, start, deadline, expected });
        self.submitted += 1;
        Ok(())
    }

    /// Record a progress count read from the target.
    fn advance(&mut self, count: usize) {
        while self.finished < count.min(self.submitted) {
            self.inflight.pop_front();
            self.finished += 1;
        }
    }

    /// Wait until the first `upto` buffers are finished; with `collect`, also
    /// read the results of the buffers given since the last collection (with
    /// the progress word when the wait is over at the first look).
    fn wait_done(&mut self, t: &mut Target, upto: usize, collect: bool) -> Result<(), RoutineError> {
        let want_results = collect && self.cursor > 0;
        if self.finished >= upto && !want_results {
            return Ok(());
        }
        let mut collected = false;
        if self.finished < upto {
            let (expected, typical) = {
                let job = &self.inflight[upto - 1 - self.finished];
                (job.expected, job.buffer.typical)
            };
            let now = t.elapsed();
            if expected > now {
                t.sleep(expected - now);
            }
            let mut interval = (typical / 8).clamp(Duration::from_micros(50), MAX_POLL);
            let mut first = true;
            loop {
                let progress = if first && want_results {
                    // Progress and results in one read.
                    let mut bytes = vec![0u8; 4 + 4 * self.cursor as usize];
                    t.read_mem(self.plan.progress, &mut bytes)?;
                    let words = le_words(&bytes);
                    if words[0] & PROGRESS_FAIL == 0 && words[0] as usize >= self.submitted {
                        self.results.extend_from_slice(&words[1..]);
                        collected = true;
                    }
                    words[0]
                } else {
                    t.read32(self.plan.progress)?
                };
                first = false;
                if progress & PROGRESS_FAIL != 0 {
                    return Err(self.failure(t, (progress & !PROGRESS_FAIL) as usize));
                }
                self.advance(progress as usize);
                if self.finished >= upto {
                    break;
                }
                let dhcsr = t.read32(cm::DHCSR)?;
                if dhcsr & (cm::S_HALT | cm::S_LOCKUP) != 0 {
                    // Halted or locked up before finishing: look again at the
                    // progress (it may have finished in between).
                    let progress = t.read32(self.plan.progress)?;
                    if progress & PROGRESS_FAIL != 0 {
                        return Err(self.failure(t, (progress & !PROGRESS_FAIL) as usize));
                    }
                    self.advance(progress as usize);
                    if self.finished >= upto {
                        break;
                    }
                    return Err(self.crashed(t, dhcsr)?);
                }
                let job = &self.inflight[0];
                let now = t.elapsed();
                if now > job.deadline {
                    let waited = now - (job.deadline - job.buffer.timeout);
                    let what = job.buffer.ops.iter().find_map(|o| match o {
                        Op::Wait(w) => Some(w.what.clone()),
                        Op::Program { wait, .. } | Op::Fill { wait, .. } => Some(wait.what.clone()),
                        Op::Pair(lanes) => Some(lanes[0].wait.what.clone()),
                        _ => None,
                    });
                    let _ = self.abort(t);
                    return Err(RoutineError::Timeout {
                        what: what.unwrap_or_else(|| "running the flash routine".into()),
                        waited,
                    });
                }
                t.sleep(interval);
                interval = (interval * 2).min(MAX_POLL);
            }
        }
        if want_results && !collected {
            let mut bytes = vec![0u8; 4 * self.cursor as usize];
            t.read_mem(self.plan.results(), &mut bytes)?;
            self.results.extend(le_words(&bytes));
        }
        if collect {
            self.cursor = 0;
        }
        Ok(())
    }

    fn failure(&mut self, t: &mut Target, index: usize) -> RoutineError {
        // The routine works through the buffers in order: every one before
        // the failing one is finished, whether or not a progress word said
        // so before (the failure can be the first news of them).
        self.advance(index);
        let n = self.plan.slots.len();
        let header = self.plan.slots[index % n];
        let mut h = [0u8; HEADER_LEN as usize];
        if let Err(e) = t.read_mem(header, &mut h) {
            return e.into();
        }
        let w = le_words(&h);
        let (pos, addr, status) = (w[2], w[3], w[4]);
        let _ = self.abort(t);
        let job = index.checked_sub(self.finished).and_then(|i| self.inflight.get(i));
        match job.and_then(|j| j.buffer.op_ending_at(j.start, pos)) {
            Some(Op::Program { unit, wait, .. } | Op::Fill { unit, wait, .. }) => RoutineError::Flash {
                bank: wait.bank,
                status,
                what: format!("programming 0x{:08X} ({})", addr.wrapping_sub(*unit), wait.what),
            },
            // The lane that stored the unit ending at `addr`, else the one
            // that had stored none yet (its bank showed the error first).
            Some(Op::Pair(lanes)) => {
                match lanes.iter().find(|l| l.ends_at(addr)).or_else(|| lanes.iter().find(|l| l.dst == addr)) {
                    Some(l) => RoutineError::Flash {
                        bank: l.wait.bank,
                        status,
                        what: format!("programming 0x{:08X} ({})", addr.wrapping_sub(l.unit), l.wait.what),
                    },
                    None => RoutineError::Flash { bank: lanes[0].wait.bank, status, what: lanes[0].wait.what.clone() },
                }
            }
            Some(Op::Wait(w)) => RoutineError::Flash { bank: w.bank, status, what: w.what.clone() },
            Some(Op::H7Crc { bank, start, end, .. }) => RoutineError::Flash {
                bank: *bank,
                status,
                what: format!("computing the CRC of bank offsets 0x{start:X}-0x{:X}", end + 3),
            },
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

    /// Wait until every buffer given so far is done and collect the results
    /// of their READ ops into `results`.
    pub fn sync(&mut self, t: &mut Target) -> Result<(), RoutineError> {
        self.wait_done(t, self.submitted, true)
    }

    /// Stop the routine after the last buffer (marked with [`mark_last`], or
    /// an extra STOP buffer), wait for it and collect the results. The STOP
    /// op counts its buffer before its BKPT, so the count proves the halt:
    /// nothing else is read.
    pub fn finish(&mut self, t: &mut Target) -> Result<Vec<u32>, RoutineError> {
        if !self.stopping {
            self.submit(t, Buffer { ops: vec![Op::Stop], ..Default::default() })?;
        }
        self.sync(t)?;
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

fn le_words(bytes: &[u8]) -> Vec<u32> {
    bytes.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Append the last op so that the routine stops after this buffer.
pub fn mark_last(buffer: &mut Buffer) {
    buffer.ops.push(Op::Stop);
}

#[cfg(test)]
mod tests;
