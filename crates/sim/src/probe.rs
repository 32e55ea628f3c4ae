//! ST-LINK firmware model: 16-byte command blocks in, replies out, with the
//! firmware's limits, feature gates and status codes. ST does not publish the
//! protocol; it is written from the open clients that speak it: stlink
//! (src/stlink-lib/usb.c, commands.h, inc/stlink.h), OpenOCD
//! (src/jtag/drivers/stlink_usb.c), probe-rs (probe-rs/src/probe/stlink/) and
//! pyOCD (pyocd/probe/stlink/); line numbers below are theirs.
//!
//! Status codes (meanings: stlink inc/stlink.h:92-101, OpenOCD
//! stlink_usb.c:316-336, pyOCD constants.py:97-127). Where no client shows
//! which code the firmware answers, the simulator chooses (assumed):
//!
//! | situation | status |
//! |---|---|
//! | debug command before ENTER (or JTAG ENTER, bad argument, over-long transfer) | 0x08 command error |
//! | misaligned address/length | 0x0A alignment error |
//! | READ_IDCODES / ENTER with nothing answering on SWD (no power, no target, RDP 2) | 0x09 get-IDCODE error |
//! | any other debug command with nothing answering on SWD | 0x16 SWD DP error |
//! | injected WAIT | 0x10 SWD AP WAIT (knob `wait-status=dp`: 0x14 SWD DP WAIT) |
//! | bus fault / unmapped address | 0x11 SWD AP FAULT (+ fault address in `3E`) (knob `fault-status=sticky`: 0x19 SWD AP STICKY ERROR) |
//! | READREG/WRITEREG/READALLREGS with the core running | 0x81 FAULT |
//! | memory command on an AP other than 0 not opened with INIT_AP, INIT_AP of an AP the part lacks | 0x1D bad AP |
//! | an address the access port does not reach (AP0 of a part whose core is on AP1) | 0x11 SWD AP FAULT |
//! | READDEBUGREG/WRITEDEBUGREG/READREG/WRITEREG/READALLREGS/RESETSYS on a part whose core is not on AP0 | 0x11 SWD AP FAULT |
//! | V2 SWD divisor not in [`V2_SWD_DIVISORS`] | 0x41 frequency not supported |
//! | unknown or feature-gated `F2` sub-opcode | 0x42 unknown command |
//!
//! Unknown top-level opcodes (and `FB` on V2, `F7` before J13) get no reply at
//! all, as firmware that does not know a command does not answer it.
//!
//! Access ports (assumed where no client says): memory commands address the
//! AP in byte 8 of the command block (OpenOCD stlink_usb.c:2689; probe-rs
//! mod.rs:1166-1180). AP0 answers without INIT_AP (stlink never sends it and
//! works with any firmware); another AP must be opened with INIT_AP first
//! (OpenOCD stlink_usb.c:1368-1370: "API required to init AP before any AP
//! access from J28"), which firmware before V2J28 does not know; leaving or
//! entering debug mode closes them (OpenOCD stlink_usb.c:4168-4176). The
//! commands without an AP number (READDEBUGREG, WRITEDEBUGREG, READREG,
//! WRITEREG, READALLREGS, RESETSYS) act through AP0, which on a part whose
//! core is on AP1 reaches the DBGMCU only (`access_port`).

use std::collections::VecDeque;

use super::clock::{Clock, LinkTiming, SwdTimer, SWD_CLOCKS_MEM, SWD_CLOCKS_REG};
use super::faults::WaitBudget;
use super::mcu::{Mcu, REG_MSP, REG_PSP, REG_SPECIAL, REG_XPSR};
use super::model::{AccessWidth, Initiator, Nanos};
use super::SimProbeKind;
use stflash_transport::ST_VID;

// Status bytes (see the module notes for their sources).
pub const ST_OK: u8 = 0x80;
pub const ST_FAULT: u8 = 0x81;
pub const ST_CMD_ERROR: u8 = 0x08;
pub const ST_GET_IDCODE_ERROR: u8 = 0x09;
pub const ST_ALIGNMENT: u8 = 0x0A;
pub const ST_AP_WAIT: u8 = 0x10;
pub const ST_AP_FAULT: u8 = 0x11;
pub const ST_DP_ERROR: u8 = 0x16;
pub const ST_BAD_AP: u8 = 0x1D;
pub const ST_AP_PARITY: u8 = 0x13;
pub const ST_FREQ_NOT_SUPPORTED: u8 = 0x41;
pub const ST_UNKNOWN_COMMAND: u8 = 0x42;

// Modes reported by GET_CURRENT_MODE (stlink inc/stlink.h:41-44; OpenOCD
// stlink_usb.c:349-354).
pub const MODE_DFU: u8 = 0;
pub const MODE_MASS: u8 = 1;
pub const MODE_DEBUG: u8 = 2;

// Top-level opcodes (stlink src/stlink-lib/commands.h:10-17; OpenOCD
// stlink_usb.c:342-347).
const GET_VERSION: u8 = 0xF1;
const DEBUG: u8 = 0xF2;
const DFU: u8 = 0xF3;
const SWIM: u8 = 0xF4;
const GET_CURRENT_MODE: u8 = 0xF5;
const GET_TARGET_VOLTAGE: u8 = 0xF7;
const GET_VERSION_EX: u8 = 0xFB;

// Debug sub-opcodes (stlink commands.h:19-57; OpenOCD stlink_usb.c:389-450).
const ENTER: u8 = 0x30;
const EXIT: u8 = 0x21;
const READ_IDCODES: u8 = 0x31;
const RESETSYS: u8 = 0x32;
const READREG: u8 = 0x33;
const WRITEREG: u8 = 0x34;
const WRITEDEBUGREG: u8 = 0x35;
const READDEBUGREG: u8 = 0x36;
const READALLREGS: u8 = 0x3A;
const GETLASTRWSTATUS: u8 = 0x3B;
const DRIVE_NRST: u8 = 0x3C;
const GETLASTRWSTATUS2: u8 = 0x3E;
const SWD_SET_FREQ: u8 = 0x43;
const INIT_AP: u8 = 0x4B;
const CLOSE_AP: u8 = 0x4C;
const READMEM_32: u8 = 0x07;
const WRITEMEM_32: u8 = 0x08;
const READMEM_8: u8 = 0x0C;
const WRITEMEM_8: u8 = 0x0D;
const READMEM_16: u8 = 0x47;
const WRITEMEM_16: u8 = 0x48;
const SET_COM_FREQ: u8 = 0x61;
const GET_COM_FREQ: u8 = 0x62;

/// ENTER argument for SWD (stlink usb.c:485-500; OpenOCD stlink_usb.c:1583-1628).
const ENTER_SWD: u8 = 0xA3;

/// 32-bit read limit: the probe's 6144-byte buffer (OpenOCD stlink_usb.c:74,
/// 95-102; probe-rs mod.rs:41).
pub const MAX_READ_32: usize = 6144;
/// 32-bit write limit (probe-rs writes up to 65532 bytes, mod.rs:44-46).
pub const MAX_WRITE_32: usize = 0xFFFC;
/// 16-bit transfer limit (OpenOCD's figure, stlink_usb.c:2579-2582).
pub const MAX_16: usize = 6144;

/// SWD clocks for ENTER: assumed (part of the simulator's timing model; no
/// knob changes it).
const SWD_CLOCKS_ENTER: u64 = 100;

/// V2 SWD divisor → kHz: the union of the clients' tables (stlink
/// inc/stlink.h:51-62, OpenOCD stlink_usb.c:534-547, probe-rs
/// constants.rs:145-158); divisor 0 is 4000 kHz as stlink and OpenOCD have it.
pub const V2_SWD_DIVISORS: &[(u16, u32)] = &[
    (0, 4000),
    (1, 1800),
    (2, 1200),
    (3, 950),
    (5, 650),
    (7, 480),
    (9, 400),
    (10, 360),
    (15, 240),
    (25, 150),
    (31, 125),
    (40, 100),
    (79, 50),
    (158, 25),
    (265, 15),
    (798, 5),
];

/// V3 SWD frequencies offered by GET_COM_FREQ, kHz, highest first (reply
/// layout: stlink usb.c:655-674, OpenOCD stlink_usb.c:3130-3163; the values
/// are the simulator's choice).
pub const V3_SWD_KHZ: &[u32] = &[24000, 8000, 3300, 1000, 200, 50, 5];
/// V3 JTAG frequencies offered by GET_COM_FREQ, kHz.
pub const V3_JTAG_KHZ: &[u32] = &[21333, 16000, 12000, 8000, 6000, 4000, 2000, 1000, 500, 250];

/// Default SWD clock before any setting: stlink's defaults, 1800 kHz on V2
/// (divisor 1, inc/stlink.h:51-62) and 1000 kHz on V3 (usb.c:652-692).
pub const V2_DEFAULT_KHZ: u32 = 1800;
pub const V3_DEFAULT_KHZ: u32 = 1000;

/// GET_TARGET_VOLTAGE reference count A0: volts = 2 * A1 * 1.2 / A0, so with
/// A0 = 2400 the count A1 is the target voltage in millivolts (stlink
/// usb.c:221-250; OpenOCD stlink_usb.c:1480-1510).
pub const VREF_COUNT: u32 = 2400;

/// Firmware identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firmware {
    pub hw: u8,
    pub jtag: u8,
    /// SWIM version on V2, MSD version on V2-1 (the low 6 bits of GET_VERSION).
    pub low: u8,
    pub swim: u8,
    pub msd: u8,
    pub bridge: u8,
    pub power: u8,
}

impl Firmware {
    /// Defaults per probe kind: firmware versions of current probes, chosen
    /// by the simulator (GET_VERSION layout: stlink common.c:1141-1157; V3's
    /// GET_VERSION_EX: OpenOCD stlink_usb.c:1302-1319).
    pub fn default_for(kind: SimProbeKind) -> Firmware {
        match kind {
            // "V2J37S7"
            SimProbeKind::V2 => Firmware { hw: 2, jtag: 37, low: 7, swim: 7, msd: 0, bridge: 0, power: 0 },
            // "V2J40M27"
            SimProbeKind::V2_1 => Firmware { hw: 2, jtag: 40, low: 27, swim: 0, msd: 27, bridge: 0, power: 0 },
            // "V3J7M1B3"
            SimProbeKind::V3 => Firmware { hw: 3, jtag: 7, low: 0, swim: 0, msd: 1, bridge: 3, power: 0 },
            // "V3J16M8B5P3"
            SimProbeKind::V3Pwr => Firmware { hw: 3, jtag: 16, low: 0, swim: 0, msd: 8, bridge: 5, power: 3 },
        }
    }

    /// e.g. "V2J37S7", "V3J7M1B3".
    pub fn describe(&self, kind: SimProbeKind) -> String {
        match kind {
            SimProbeKind::V2 => format!("V{}J{}S{}", self.hw, self.jtag, self.swim),
            SimProbeKind::V2_1 => format!("V{}J{}M{}", self.hw, self.jtag, self.msd),
            SimProbeKind::V3 => format!("V{}J{}M{}B{}", self.hw, self.jtag, self.msd, self.bridge),
            SimProbeKind::V3Pwr => {
                format!("V{}J{}M{}B{}P{}", self.hw, self.jtag, self.msd, self.bridge, self.power)
            }
        }
    }
}

/// A memory write waiting for its data phase.
#[derive(Debug, Clone)]
struct PendingWrite {
    op: u8,
    /// Access port (byte 8 of the command block).
    ap: u8,
    addr: u32,
    len: usize,
    /// Status decided from the command block alone (limits, mode, AP), if any.
    early: Option<u8>,
    data: Vec<u8>,
}

/// The probe firmware.
pub struct Probe {
    pub kind: SimProbeKind,
    pub pid: u16,
    pub fw: Firmware,
    mode: u8,
    swd_khz: u32,
    jtag_khz: u32,
    last_status: u8,
    fault_addr: u32,
    pending: Option<PendingWrite>,
    replies: VecDeque<u8>,
    wait: WaitBudget,
    link: LinkTiming,
    /// `max-swd` fault: above this clock every SWD transaction is garbled.
    pub max_swd_khz: Option<u32>,
    /// Status of an injected WAIT (`wait-status=`) and of a bus fault
    /// (`fault-status=`): which codes the firmware answers is assumed.
    pub wait_status: u8,
    pub fault_status: u8,
    /// `bitflip-swd` fault: above this clock 32-bit memory reads come back
    /// with one bit wrong and an OK status.
    pub bitflip_swd_khz: Option<u32>,
    /// Access ports other than 0 opened with INIT_AP in this debug session.
    opened_aps: Vec<u8>,
}

fn u16le(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn u32le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn status2(status: u8) -> Vec<u8> {
    vec![status, 0]
}

/// Reply `[status, 0, 0, 0, value]` (8 bytes).
fn status_value(status: u8, value: u32) -> Vec<u8> {
    let mut r = vec![status, 0, 0, 0];
    r.extend_from_slice(&value.to_le_bytes());
    r
}

impl Probe {
    pub fn new(kind: SimProbeKind, fw: Firmware, wait: WaitBudget) -> Probe {
        let v3 = kind.is_v3();
        Probe {
            kind,
            pid: kind.pid(),
            fw,
            mode: MODE_MASS,
            swd_khz: if v3 { V3_DEFAULT_KHZ } else { V2_DEFAULT_KHZ },
            jtag_khz: if v3 { 1000 } else { 1125 },
            last_status: ST_OK,
            fault_addr: 0,
            pending: None,
            replies: VecDeque::new(),
            wait,
            link: if v3 { LinkTiming::HIGH_SPEED } else { LinkTiming::FULL_SPEED },
            max_swd_khz: None,
            wait_status: ST_AP_WAIT,
            fault_status: ST_AP_FAULT,
            bitflip_swd_khz: None,
            opened_aps: Vec::new(),
        }
    }

    pub fn link(&self) -> LinkTiming {
        self.link
    }

    pub fn mode(&self) -> u8 {
        self.mode
    }

    pub fn swd_khz(&self) -> u32 {
        self.swd_khz
    }

    /// Bytes waiting on the IN endpoint.
    pub fn queued(&self) -> usize {
        self.replies.len()
    }

    /// Hand out up to `buf.len()` queued reply bytes.
    pub fn take_reply(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.replies.len());
        for (slot, b) in buf.iter_mut().zip(self.replies.drain(..n)) {
            *slot = b;
        }
        n
    }

    /// Bytes written on the OUT endpoint. Returns true when they were a
    /// command block (as opposed to a data phase).
    pub fn receive(&mut self, data: &[u8], mcu: &mut Mcu, clock: &mut Clock) -> Result<bool, String> {
        if let Some(mut p) = self.pending.take() {
            let want = p.len - p.data.len();
            if data.len() > want {
                return Err(format!(
                    "simulated ST-LINK: data phase of {} bytes where {} remained of a {}-byte write",
                    data.len(),
                    want,
                    p.len
                ));
            }
            p.data.extend_from_slice(data);
            if p.data.len() < p.len {
                self.pending = Some(p);
            } else {
                self.run(clock, mcu, p.len, |probe, t, timer| {
                    probe.finish_write(p, t, timer);
                    None
                });
            }
            return Ok(false);
        }
        if data.len() != 16 {
            return Err(format!("simulated ST-LINK: a command block must be exactly 16 bytes, got {}", data.len()));
        }
        let cdb: [u8; 16] = data.try_into().expect("length checked");
        mcu.firmware_runs_until(clock.now);
        mcu.run_core_until(clock.now);
        mcu.refresh_regions();
        match cdb[0] {
            // Writes: the command runs (and is charged) when its data arrives.
            DEBUG if matches!(cdb[1], WRITEMEM_32 | WRITEMEM_8 | WRITEMEM_16) && self.gated(cdb[1]) => {
                let addr = u32le(&cdb[2..6]);
                let len = u16le(&cdb[6..8]) as usize;
                let early = self.check_mem(cdb[1], addr, len, cdb[8], mcu);
                let p = PendingWrite { op: cdb[1], ap: cdb[8], addr, len, early, data: Vec::with_capacity(len) };
                if len == 0 {
                    self.run(clock, mcu, 0, |probe, t, timer| {
                        probe.finish_write(p, t, timer);
                        None
                    });
                } else {
                    self.pending = Some(p);
                }
            }
            _ => self.run(clock, mcu, 0, |probe, t, timer| probe.command(&cdb, t, timer)),
        }
        Ok(true)
    }

    /// Execute one command on the modeled timeline: round trip, payload out,
    /// SWD work (inside `f`), payload in; queue the reply.
    fn run(
        &mut self,
        clock: &mut Clock,
        mcu: &mut Mcu,
        out_bytes: usize,
        f: impl FnOnce(&mut Probe, &mut Mcu, &mut SwdTimer) -> Option<Vec<u8>>,
    ) {
        let link = self.link;
        let before = link.payload(out_bytes as u64);
        let mut timer = SwdTimer::new(clock.now + link.round_trip + before, self.swd_khz);
        let reply = f(self, mcu, &mut timer);
        let in_bytes = reply.as_ref().map_or(0, |r| r.len());
        let after = link.payload((out_bytes + in_bytes) as u64) - before;
        clock.now = timer.now() + after;
        if let Some(r) = reply {
            self.replies.extend(r);
        }
    }

    /// Firmware knows this `F2` sub-opcode (feature gates by firmware version:
    /// OpenOCD stlink_usb.c:506-516, 1339-1417).
    fn gated(&self, op: u8) -> bool {
        let v3 = self.kind.is_v3();
        let j = self.fw.jtag;
        match op {
            READMEM_16 | WRITEMEM_16 => v3 || j >= 26,
            GETLASTRWSTATUS2 => v3 || j >= 15,
            SWD_SET_FREQ => !v3 && j >= 22,
            SET_COM_FREQ | GET_COM_FREQ => v3,
            INIT_AP | CLOSE_AP => v3 || j >= 28,
            _ => true,
        }
    }

    /// 8-bit transfer limit: 64 bytes, 512 on V3 from J6 (OpenOCD
    /// stlink_usb.c:90-101, 568-578).
    pub fn max_8bit(&self) -> usize {
        if self.kind.is_v3() && self.fw.jtag >= 6 {
            512
        } else {
            64
        }
    }

    /// Checks decided from the command block alone, in firmware order: mode,
    /// AP, length limit, alignment, then the target answering.
    fn check_mem(&self, op: u8, addr: u32, len: usize, ap: u8, t: &Mcu) -> Option<u8> {
        if self.mode != MODE_DEBUG {
            return Some(ST_CMD_ERROR);
        }
        if ap != 0 && !self.opened_aps.contains(&ap) {
            return Some(ST_BAD_AP);
        }
        let (limit, align) = match op {
            READMEM_32 => (MAX_READ_32, 4),
            WRITEMEM_32 => (MAX_WRITE_32, 4),
            READMEM_16 | WRITEMEM_16 => (MAX_16, 2),
            _ => (self.max_8bit(), 1),
        };
        if len > limit {
            return Some(ST_CMD_ERROR);
        }
        if addr % align != 0 || len % align as usize != 0 {
            return Some(ST_ALIGNMENT);
        }
        if len > 0 && !t.swd_alive() {
            return Some(ST_DP_ERROR);
        }
        None
    }

    /// The `max-swd` fault is in force at the current clock.
    fn garbled(&self) -> bool {
        self.max_swd_khz.is_some_and(|max| self.swd_khz > max)
    }

    fn set_rw(&mut self, status: u8, fault_addr: u32) {
        self.last_status = status;
        self.fault_addr = fault_addr;
    }

    /// One bus access by the debugger through access port `ap` at the end of
    /// `clocks` SWD clocks, held while the flash model stalls the bus; an
    /// address the port does not reach faults.
    fn access(
        t: &mut Mcu,
        timer: &mut SwdTimer,
        clocks: u64,
        ap: u8,
        addr: u32,
        write: Option<(AccessWidth, u32)>,
        width: AccessWidth,
    ) -> Result<u32, ()> {
        timer.clocks(clocks);
        if !t.reachable(ap, addr) {
            return Err(());
        }
        // Code running on the target keeps running between the probe's accesses.
        t.run_core_until(timer.now());
        let until = t.stall_until(addr, write.is_some(), Initiator::Debugger, timer.now());
        timer.stall_to(until);
        let now: Nanos = timer.now();
        match write {
            Some((w, v)) => t.write(addr, w, v, Initiator::Debugger, now).map(|_| 0),
            None => t.read(addr, width, Initiator::Debugger, now),
        }
        .map_err(|_| ())
    }

    fn finish_write(&mut self, p: PendingWrite, t: &mut Mcu, timer: &mut SwdTimer) {
        if let Some(st) = p.early {
            self.set_rw(st, 0);
            return;
        }
        if p.len == 0 {
            self.set_rw(ST_OK, 0);
            return;
        }
        if self.wait.take() {
            timer.clocks(SWD_CLOCKS_MEM);
            self.set_rw(self.wait_status, 0);
            return;
        }
        if self.garbled() {
            timer.clocks(SWD_CLOCKS_MEM);
            self.set_rw(ST_AP_PARITY, 0);
            return;
        }
        let width = match p.op {
            WRITEMEM_32 => AccessWidth::Word,
            WRITEMEM_16 => AccessWidth::Half,
            _ => AccessWidth::Byte,
        };
        let step = width.bytes() as usize;
        for (i, chunk) in p.data.chunks(step).enumerate() {
            let addr = p.addr.wrapping_add((i * step) as u32);
            let mut v = 0u32;
            for (k, b) in chunk.iter().enumerate() {
                v |= (*b as u32) << (8 * k);
            }
            if Self::access(t, timer, SWD_CLOCKS_MEM, p.ap, addr, Some((width, v)), width).is_err() {
                self.set_rw(self.fault_status, addr);
                return;
            }
        }
        self.set_rw(ST_OK, 0);
    }

    fn read_mem(&mut self, op: u8, cdb: &[u8; 16], t: &mut Mcu, timer: &mut SwdTimer) -> Vec<u8> {
        let addr = u32le(&cdb[2..6]);
        let len = u16le(&cdb[6..8]) as usize;
        // A one-byte 8-bit read returns two bytes (OpenOCD stlink_usb.c:2512-2514;
        // probe-rs mod.rs:974-992).
        let reply_len = if op == READMEM_8 && len == 1 { 2 } else { len };
        let mut out = vec![0u8; reply_len];
        if let Some(st) = self.check_mem(op, addr, len, cdb[8], t) {
            self.set_rw(st, 0);
            return out;
        }
        if len == 0 {
            self.set_rw(ST_OK, 0);
            return out;
        }
        if self.wait.take() {
            timer.clocks(SWD_CLOCKS_MEM);
            self.set_rw(self.wait_status, 0);
            return out;
        }
        if self.garbled() {
            timer.clocks(SWD_CLOCKS_MEM);
            self.set_rw(ST_AP_PARITY, 0);
            return out;
        }
        let width = match op {
            READMEM_32 => AccessWidth::Word,
            READMEM_16 => AccessWidth::Half,
            _ => AccessWidth::Byte,
        };
        let step = width.bytes() as usize;
        for off in (0..len).step_by(step) {
            let a = addr.wrapping_add(off as u32);
            match Self::access(t, timer, SWD_CLOCKS_MEM, cdb[8], a, None, width) {
                Ok(v) => out[off..off + step].copy_from_slice(&v.to_le_bytes()[..step]),
                Err(()) => {
                    // The rest of the reply stays zero.
                    self.set_rw(self.fault_status, a);
                    return out;
                }
            }
        }
        if op == READMEM_32 && self.bitflip_swd_khz.is_some_and(|max| self.swd_khz > max) {
            out[len / 2] ^= 0x10;
        }
        self.set_rw(ST_OK, 0);
        out
    }

    /// Common gate of single debug accesses: mode, target answering, WAIT.
    fn debug_gate(&mut self, t: &Mcu, timer: &mut SwdTimer, clocks: u64) -> Result<(), u8> {
        if self.mode != MODE_DEBUG {
            return Err(ST_CMD_ERROR);
        }
        if !t.swd_alive() {
            return Err(ST_DP_ERROR);
        }
        if self.wait.take() {
            timer.clocks(clocks);
            return Err(self.wait_status);
        }
        if self.garbled() {
            timer.clocks(clocks);
            return Err(ST_AP_PARITY);
        }
        Ok(())
    }

    fn core_reg_gate(&mut self, t: &Mcu, timer: &mut SwdTimer, clocks: u64) -> Result<(), u8> {
        self.debug_gate(t, timer, clocks)?;
        // Through AP0, which does not reach a core on another port.
        if t.core_ap() != 0 {
            timer.clocks(clocks);
            return Err(ST_AP_FAULT);
        }
        // READREG/WRITEREG need the core halted (DCRSR works in Debug state only).
        if !t.cpu.halted {
            return Err(ST_FAULT);
        }
        timer.clocks(clocks);
        Ok(())
    }

    fn valid_reg(index: u8) -> bool {
        matches!(index, 0..=15 | REG_XPSR | REG_MSP | REG_PSP | 19 | REG_SPECIAL)
    }

    fn command(&mut self, cdb: &[u8; 16], t: &mut Mcu, timer: &mut SwdTimer) -> Option<Vec<u8>> {
        match cdb[0] {
            GET_VERSION => {
                // hw[15:12] J[11:6] S/M[5:0] big-endian, then VID, PID (stlink
                // common.c:1141-1157; OpenOCD stlink_usb.c:1263-1278).
                // V3 reports hw 3 with J = S = 0.
                let v: u16 = if self.kind.is_v3() {
                    (self.fw.hw as u16) << 12
                } else {
                    (self.fw.hw as u16) << 12 | (self.fw.jtag as u16 & 0x3F) << 6 | (self.fw.low as u16 & 0x3F)
                };
                let mut r = v.to_be_bytes().to_vec();
                r.extend_from_slice(&ST_VID.to_le_bytes());
                r.extend_from_slice(&self.pid.to_le_bytes());
                Some(r)
            }
            GET_VERSION_EX if self.kind.is_v3() => {
                // hw, SWIM, JTAG, MSD, bridge, power, 2 reserved, VID, PID
                // (OpenOCD stlink_usb.c:1302-1319; probe-rs mod.rs:483-501).
                let f = self.fw;
                let mut r = vec![f.hw, f.swim, f.jtag, f.msd, f.bridge, f.power, 0, 0];
                r.extend_from_slice(&ST_VID.to_le_bytes());
                r.extend_from_slice(&self.pid.to_le_bytes());
                Some(r)
            }
            GET_CURRENT_MODE => Some(vec![self.mode, 0]),
            DFU => {
                // F3 07 DFU_EXIT: back to mass storage, no reply (stlink
                // usb.c:502-513; OpenOCD stlink_usb.c:1651-1654).
                if cdb[1] == 0x07 {
                    self.mode = MODE_MASS;
                }
                None
            }
            SWIM => None,
            // Target voltage: J13+ on V2, all V3 (OpenOCD stlink_usb.c:506-516;
            // stlink common.c:1171-1174).
            GET_TARGET_VOLTAGE if self.kind.is_v3() || self.fw.jtag >= 13 => {
                let mv = if t.powered() { t.voltage_mv } else { 0 };
                let mut r = VREF_COUNT.to_le_bytes().to_vec();
                r.extend_from_slice(&mv.to_le_bytes());
                Some(r)
            }
            DEBUG => self.debug_command(cdb, t, timer),
            _ => None,
        }
    }

    fn debug_command(&mut self, cdb: &[u8; 16], t: &mut Mcu, timer: &mut SwdTimer) -> Option<Vec<u8>> {
        let op = cdb[1];
        if !self.gated(op) {
            return Some(status2(ST_UNKNOWN_COMMAND));
        }
        Some(match op {
            ENTER => self.enter(cdb, t, timer),
            EXIT => {
                self.mode = MODE_MASS;
                self.opened_aps.clear();
                return None;
            }
            READ_IDCODES => self.read_idcodes(t, timer),
            RESETSYS => self.reset_system(t, timer),
            DRIVE_NRST => Self::drive_nrst(cdb, t, timer),
            READREG | WRITEREG | READALLREGS => self.core_register(op, cdb, t, timer),
            WRITEDEBUGREG | READDEBUGREG => self.debug_register(op, cdb, t, timer),
            READMEM_32 | READMEM_8 | READMEM_16 => self.read_mem(op, cdb, t, timer),
            GETLASTRWSTATUS | GETLASTRWSTATUS2 => self.last_rw_status(op),
            SWD_SET_FREQ => self.swd_set_freq(cdb),
            GET_COM_FREQ => self.get_com_freq(cdb),
            SET_COM_FREQ => self.set_com_freq(cdb),
            INIT_AP | CLOSE_AP => self.open_or_close_ap(op, cdb, t, timer),
            _ => status2(ST_UNKNOWN_COMMAND),
        })
    }

    fn enter(&mut self, cdb: &[u8; 16], t: &mut Mcu, timer: &mut SwdTimer) -> Vec<u8> {
        if cdb[2] != ENTER_SWD {
            // Only SWD is modeled.
            return status2(ST_CMD_ERROR);
        }
        self.mode = MODE_DEBUG;
        self.opened_aps.clear();
        if !t.swd_alive() {
            return status2(ST_GET_IDCODE_ERROR);
        }
        timer.clocks(SWD_CLOCKS_ENTER);
        status2(ST_OK)
    }

    fn read_idcodes(&self, t: &mut Mcu, timer: &mut SwdTimer) -> Vec<u8> {
        let mut r = vec![0u8; 12];
        r[0] = if self.mode != MODE_DEBUG {
            ST_CMD_ERROR
        } else if !t.swd_alive() {
            ST_GET_IDCODE_ERROR
        } else {
            // One DP register read.
            timer.clocks(SWD_CLOCKS_REG);
            r[4..8].copy_from_slice(&t.part.dpidr.to_le_bytes());
            ST_OK
        };
        r
    }

    fn reset_system(&self, t: &mut Mcu, timer: &mut SwdTimer) -> Vec<u8> {
        if self.mode != MODE_DEBUG {
            status2(ST_CMD_ERROR)
        } else if !t.swd_alive() {
            status2(ST_DP_ERROR)
        } else if t.core_ap() != 0 {
            // AIRCR through AP0, which does not reach the core.
            timer.clocks(SWD_CLOCKS_REG);
            status2(ST_AP_FAULT)
        } else {
            timer.clocks(SWD_CLOCKS_REG);
            t.system_reset();
            status2(ST_OK)
        }
    }

    /// Works in any mode, even before ENTER (OpenOCD stlink_usb.c:1796-1806);
    /// a clone without the wire answers OK and does nothing (stlink
    /// doc/tutorial.md:144-150).
    fn drive_nrst(cdb: &[u8; 16], t: &mut Mcu, timer: &mut SwdTimer) -> Vec<u8> {
        timer.clocks(SWD_CLOCKS_REG);
        match cdb[2] {
            0 => t.drive_nrst(true),
            1 => t.drive_nrst(false),
            2 => {
                t.drive_nrst(true);
                t.drive_nrst(false);
            }
            _ => return status2(ST_CMD_ERROR),
        }
        status2(ST_OK)
    }

    /// READREG, WRITEREG and READALLREGS.
    fn core_register(&mut self, op: u8, cdb: &[u8; 16], t: &mut Mcu, timer: &mut SwdTimer) -> Vec<u8> {
        let index = cdb[2];
        match op {
            READREG => match self.core_reg_gate(t, timer, 3 * SWD_CLOCKS_REG) {
                Err(st) => status_value(st, 0),
                Ok(()) if !Self::valid_reg(index) => status_value(ST_CMD_ERROR, 0),
                Ok(()) => status_value(ST_OK, t.core_reg(index).unwrap_or(0)),
            },
            WRITEREG => match self.core_reg_gate(t, timer, 3 * SWD_CLOCKS_REG) {
                Err(st) => status2(st),
                Ok(()) if !Self::valid_reg(index) => status2(ST_CMD_ERROR),
                Ok(()) => {
                    t.set_core_reg(index, u32le(&cdb[3..7]));
                    status2(ST_OK)
                }
            },
            _ => {
                // [0..3] status, then R0-R15, xPSR, MSP, PSP, rw, rw2 (stlink
                // usb.c:737-782; OpenOCD stlink_usb.c:2365-2387).
                let mut r = vec![0u8; 88];
                match self.core_reg_gate(t, timer, 21 * 3 * SWD_CLOCKS_REG) {
                    Err(st) => r[0] = st,
                    Ok(()) => {
                        r[0] = ST_OK;
                        // Word k is READREG k: rw (19) reads 0, rw2 (20) is the
                        // packed CONTROL/FAULTMASK/BASEPRI/PRIMASK word.
                        for (i, sel) in (0..=REG_SPECIAL).enumerate() {
                            let v = t.core_reg(sel).unwrap_or(0);
                            r[4 + 4 * i..8 + 4 * i].copy_from_slice(&v.to_le_bytes());
                        }
                    }
                }
                r
            }
        }
    }

    /// WRITEDEBUGREG and READDEBUGREG: one word through AP0.
    fn debug_register(&mut self, op: u8, cdb: &[u8; 16], t: &mut Mcu, timer: &mut SwdTimer) -> Vec<u8> {
        let addr = u32le(&cdb[2..6]);
        let write = (op == WRITEDEBUGREG).then(|| (AccessWidth::Word, u32le(&cdb[6..10])));
        let answer = |st: u8, v: u32| if write.is_some() { status2(st) } else { status_value(st, v) };
        if self.mode == MODE_DEBUG && addr % 4 != 0 {
            return answer(ST_ALIGNMENT, 0);
        }
        if let Err(st) = self.debug_gate(t, timer, SWD_CLOCKS_REG) {
            return answer(st, 0);
        }
        match Self::access(t, timer, SWD_CLOCKS_REG, 0, addr, write, AccessWidth::Word) {
            Ok(v) => answer(ST_OK, v),
            Err(()) => answer(self.fault_status, 0),
        }
    }

    /// GETLASTRWSTATUS, and GETLASTRWSTATUS2: [0..1] status, [4..7] fault
    /// address (stlink usb.c:303-305; OpenOCD stlink_usb.c:2472-2474; pyOCD
    /// stlink.py:426-427).
    fn last_rw_status(&self, op: u8) -> Vec<u8> {
        let mut r = if op == GETLASTRWSTATUS2 { vec![0u8; 12] } else { status2(ST_OK) };
        if self.mode != MODE_DEBUG {
            r[0] = ST_CMD_ERROR;
        } else {
            r[0] = self.last_status;
            if op == GETLASTRWSTATUS2 {
                r[4..8].copy_from_slice(&self.fault_addr.to_le_bytes());
            }
        }
        r
    }

    fn swd_set_freq(&mut self, cdb: &[u8; 16]) -> Vec<u8> {
        let div = u16le(&cdb[2..4]);
        match V2_SWD_DIVISORS.iter().find(|d| d.0 == div) {
            Some(&(_, khz)) => {
                self.swd_khz = khz;
                status2(ST_OK)
            }
            None => status2(ST_FREQ_NOT_SUPPORTED),
        }
    }

    /// [0] status, [4..7] current kHz, [8..11] count, [12..] list (stlink
    /// usb.c:655-674; OpenOCD stlink_usb.c:3130-3163).
    fn get_com_freq(&self, cdb: &[u8; 16]) -> Vec<u8> {
        let mut r = vec![0u8; 52];
        let (list, cur) = match cdb[2] {
            0 => (V3_SWD_KHZ, self.swd_khz),
            1 => (V3_JTAG_KHZ, self.jtag_khz),
            _ => {
                r[0] = ST_CMD_ERROR;
                return r;
            }
        };
        r[0] = ST_OK;
        r[4..8].copy_from_slice(&cur.to_le_bytes());
        r[8..12].copy_from_slice(&(list.len() as u32).to_le_bytes());
        for (i, khz) in list.iter().enumerate() {
            r[12 + 4 * i..16 + 4 * i].copy_from_slice(&khz.to_le_bytes());
        }
        r
    }

    /// The highest offered frequency not above the request, or the lowest
    /// one; the reply carries the frequency in effect.
    fn set_com_freq(&mut self, cdb: &[u8; 16]) -> Vec<u8> {
        let want = u32le(&cdb[4..8]);
        let list = match cdb[2] {
            0 => V3_SWD_KHZ,
            1 => V3_JTAG_KHZ,
            _ => return status_value(ST_CMD_ERROR, 0),
        };
        let khz = list.iter().copied().find(|&k| k <= want).unwrap_or(*list.last().expect("non-empty list"));
        if cdb[2] == 0 {
            self.swd_khz = khz;
        } else {
            self.jtag_khz = khz;
        }
        status_value(ST_OK, khz)
    }

    fn open_or_close_ap(&mut self, op: u8, cdb: &[u8; 16], t: &mut Mcu, timer: &mut SwdTimer) -> Vec<u8> {
        let ap = cdb[2];
        if self.mode != MODE_DEBUG {
            status2(ST_CMD_ERROR)
        } else if !t.has_ap(ap) {
            status2(ST_BAD_AP)
        } else if !t.swd_alive() {
            status2(ST_DP_ERROR)
        } else {
            timer.clocks(SWD_CLOCKS_REG);
            self.opened_aps.retain(|&a| a != ap);
            if op == INIT_AP && ap != 0 {
                self.opened_aps.push(ap);
            }
            status2(ST_OK)
        }
    }
}
