//! Byte-level tests: raw 16-byte command blocks through [`SimTransport`],
//! replies checked byte by byte.

use std::ops::Range;
use std::time::Duration;

use super::model::{Access, AccessWidth, BusFault, FlashArray, FlashModel, FlashStats, Initiator, Nanos, MS};
use super::parts::Part;
use super::probe::*;
use super::*;
use stflash_transport::{Transport, TransportError};

const T: Duration = Duration::from_millis(1);

// ---------------------------------------------------------------------------
// A small flash model with a controller, to exercise the simulator itself:
// register logging, busy stalls, reset requests, RDP 1 and RDP 2.

pub(crate) const TM_BASE: u32 = 0x0800_0000;
pub(crate) const TM_CR: u32 = 0x4002_2000;
pub(crate) const TM_SR: u32 = 0x4002_2004;
pub(crate) const TM_RESET: u32 = 0x4002_2008;
/// Writing bit 0 of CR starts a 1 ms operation.
pub(crate) const TM_OP: Nanos = MS;

pub(crate) struct TestModel {
    array: FlashArray,
    cr: u32,
    busy_until: Nanos,
    rdp: u8,
}

impl TestModel {
    fn new() -> TestModel {
        TestModel { array: FlashArray::new(TM_BASE, 4096, 0xFF, 0), cr: 0, busy_until: 0, rdp: 0 }
    }
    fn regs() -> Range<u32> {
        TM_CR..TM_CR + 0x10
    }
}

impl FlashModel for TestModel {
    fn name(&self) -> &'static str {
        "test model"
    }
    fn regions(&self) -> Vec<Range<u32>> {
        vec![self.array.range(), Self::regs()]
    }
    fn is_register(&self, addr: u32) -> bool {
        Self::regs().contains(&addr)
    }
    /// Counts a finished operation as a "mass erase" on completion, to check
    /// that statistics see operations that finished without a later access.
    fn advance(&mut self, now: Nanos, stats: &mut FlashStats) {
        if self.busy_until != 0 && now >= self.busy_until {
            self.busy_until = 0;
            stats.mass_erases += 1;
        }
    }
    fn stall_until(&self, addr: u32, _write: bool, _by: Initiator, now: Nanos) -> Nanos {
        if self.array.contains(addr) && self.busy_until > now {
            self.busy_until
        } else {
            now
        }
    }
    fn read(&mut self, addr: u32, width: AccessWidth, acc: &mut Access) -> Result<u32, BusFault> {
        match addr {
            TM_CR => Ok(self.cr),
            TM_SR => Ok((self.busy_until > acc.now) as u32),
            a if Self::regs().contains(&a) => Ok(0),
            a => Ok(self.array.read(a, width)),
        }
    }
    fn write(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) -> Result<(), BusFault> {
        match addr {
            TM_CR => {
                self.cr = value;
                if value & 1 != 0 {
                    self.busy_until = acc.now + TM_OP;
                    acc.stats.erases += 1;
                }
            }
            TM_RESET => acc.requests.system_reset = value == 0xDEAD,
            a if Self::regs().contains(&a) => {}
            a => {
                let n = width.bytes() as usize;
                self.array.program(a, &value.to_le_bytes()[..n]);
                acc.stats.words += 1;
            }
        }
        Ok(())
    }
    fn reset(&mut self) {
        self.cr = 0;
        self.busy_until = 0;
    }
    fn debug_readable(&self, addr: u32) -> bool {
        !(self.rdp >= 1 && self.array.contains(addr))
    }
    fn debug_port_disabled(&self) -> bool {
        self.rdp == 2
    }
    fn configure(&mut self, key: &str, value: &str) -> Result<(), String> {
        match (key, value) {
            ("rdp", "0" | "1" | "2") => {
                self.rdp = value.parse().unwrap();
                Ok(())
            }
            _ => Err(format!("test model: unknown setting {key}={value}; valid: rdp=0|1|2")),
        }
    }
    fn save(&self) -> Vec<(String, Vec<u8>)> {
        vec![("flash".into(), self.array.data.clone()), ("rdp".into(), vec![self.rdp])]
    }
    fn load(&mut self, blobs: &[(String, Vec<u8>)]) -> Result<(), String> {
        for (name, data) in blobs {
            match name.as_str() {
                "flash" => self.array.data.copy_from_slice(data),
                "rdp" => self.rdp = data[0],
                _ => return Err(format!("unknown blob {name}")),
            }
        }
        Ok(())
    }
    fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        self.array.slice(addr, len).map(<[u8]>::to_vec)
    }
    fn poke(&mut self, addr: u32, data: &[u8]) -> bool {
        self.array.poke(addr, data)
    }
}

fn test_model() -> Box<dyn FlashModel> {
    Box::new(TestModel::new())
}

/// A made-up Cortex-M4 part around [`TestModel`]; flash-size register in the
/// upper half of its word, two SRAM regions, three DBGMCU control words.
pub(crate) static TEST_CHIP: Part = Part {
    name: "testchip",
    aliases: &[],
    dpidr: 0x2BA0_1477,
    cpuid: 0x410F_C241,
    idcode: 0x1000_0413,
    dbgmcu_addr: 0xE004_2000,
    dbgmcu_ctrl_words: 3,
    flash_size_addr: 0x1FFF_7A22,
    flash_size_kib: 4,
    sram: &[(0x2000_0000, 0x1000), (0x1000_0000, 0x1000)],
    system_memory: (0x1FFF_0000, 0x100),
    boot_address: TM_BASE,
    voltage_mv: 3000,
    flash: test_model,
};

// ---------------------------------------------------------------------------
// Helpers.

struct P {
    t: SimTransport,
    h: SimHandle,
}

fn open_spec(f: impl FnOnce(&mut SimSpec)) -> P {
    let mut spec = SimSpec::new("stm32f103c8");
    f(&mut spec);
    let (t, h) = open(&spec).expect("open");
    P { t, h }
}

fn f103() -> P {
    open_spec(|_| {})
}

fn kind(k: SimProbeKind) -> P {
    open_spec(|s| s.probe = k)
}

fn testchip(f: impl FnOnce(&mut SimSpec)) -> P {
    let mut spec = SimSpec::new("testchip");
    f(&mut spec);
    let (t, h) = open_part(&TEST_CHIP, &spec).expect("open");
    P { t, h }
}

fn cdb(bytes: &[u8]) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[..bytes.len()].copy_from_slice(bytes);
    c
}

fn le(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

fn word(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

impl P {
    fn send(&mut self, bytes: &[u8]) {
        assert_eq!(self.t.write(&cdb(bytes), T), Ok(16));
    }

    /// Read one reply and require exactly `n` bytes, with nothing after it.
    fn reply(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0xEE; n + 512];
        let got = self.t.read(&mut buf, T).expect("reply");
        assert_eq!(got, n, "reply length");
        buf.truncate(n);
        assert_eq!(self.h.sim.lock().unwrap().probe.queued(), 0, "stale bytes queued");
        buf
    }

    fn cmd(&mut self, bytes: &[u8], n: usize) -> Vec<u8> {
        self.send(bytes);
        self.reply(n)
    }

    /// The probe queued nothing: a read times out.
    fn nothing(&mut self) {
        let mut b = [0u8; 64];
        assert_eq!(self.t.read(&mut b, T), Err(TransportError::Timeout { what: "read" }));
    }

    fn enter(&mut self) {
        assert_eq!(self.cmd(&[0xF2, 0x30, 0xA3], 2), [0x80, 0x00]);
    }

    fn mode(&mut self) -> u8 {
        let r = self.cmd(&[0xF5], 2);
        assert_eq!(r[1], 0);
        r[0]
    }

    /// READDEBUGREG: (status, value).
    fn rd(&mut self, addr: u32) -> (u8, u32) {
        let mut c = vec![0xF2, 0x36];
        c.extend(le(addr));
        let r = self.cmd(&c, 8);
        assert_eq!(&r[1..4], [0, 0, 0]);
        (r[0], word(&r[4..]))
    }

    fn rd_ok(&mut self, addr: u32) -> u32 {
        let (st, v) = self.rd(addr);
        assert_eq!(st, ST_OK, "read {addr:#x}");
        v
    }

    /// WRITEDEBUGREG: status.
    fn wr(&mut self, addr: u32, v: u32) -> u8 {
        let mut c = vec![0xF2, 0x35];
        c.extend(le(addr));
        c.extend(le(v));
        let r = self.cmd(&c, 2);
        assert_eq!(r[1], 0);
        r[0]
    }

    fn wr_ok(&mut self, addr: u32, v: u32) {
        assert_eq!(self.wr(addr, v), ST_OK, "write {addr:#x}");
    }

    fn mem_cdb(op: u8, addr: u32, len: usize) -> Vec<u8> {
        let mut c = vec![0xF2, op];
        c.extend(le(addr));
        c.extend((len as u16).to_le_bytes());
        c
    }

    fn mem_read(&mut self, op: u8, addr: u32, len: usize) -> Vec<u8> {
        let n = if op == 0x0C && len == 1 { 2 } else { len };
        self.cmd(&Self::mem_cdb(op, addr, len), n)
    }

    fn mem_write(&mut self, op: u8, addr: u32, data: &[u8]) {
        self.send(&Self::mem_cdb(op, addr, data.len()));
        if !data.is_empty() {
            assert_eq!(self.t.write(data, T), Ok(data.len()));
        }
    }

    /// GETLASTRWSTATUS2: (status, fault address).
    fn rw_status(&mut self) -> (u8, u32) {
        let r = self.cmd(&[0xF2, 0x3E], 12);
        assert_eq!((r[1], &r[2..4], &r[8..12]), (0, &[0u8, 0][..], &[0u8; 4][..]));
        (r[0], word(&r[4..8]))
    }

    fn now(&self) -> u64 {
        self.t.elapsed().as_nanos() as u64
    }

    fn halt(&mut self) {
        self.wr_ok(mcu::DHCSR, 0xA05F_0003);
        assert!(self.h.core_halted());
    }
}

// ---------------------------------------------------------------------------
// Versions, modes, voltage.

#[test]
fn get_version_for_each_probe_kind() {
    // V2J37S7, 0483:3748 (GET_VERSION layout: stlink common.c:1141-1157).
    assert_eq!(kind(SimProbeKind::V2).cmd(&[0xF1], 6), [0x29, 0x47, 0x83, 0x04, 0x48, 0x37]);
    // V2J40M27, 0483:374b: 2<<12 | 40<<6 | 27 = 0x2A1B.
    assert_eq!(kind(SimProbeKind::V2_1).cmd(&[0xF1], 6), [0x2A, 0x1B, 0x83, 0x04, 0x4B, 0x37]);
    // V3: hw 3 with J = S = 0 (OpenOCD stlink_usb.c:1302-1303).
    assert_eq!(kind(SimProbeKind::V3).cmd(&[0xF1], 6), [0x30, 0x00, 0x83, 0x04, 0x4E, 0x37]);
    assert_eq!(kind(SimProbeKind::V3Pwr).cmd(&[0xF1], 6), [0x30, 0x00, 0x83, 0x04, 0x57, 0x37]);
    // Old firmware override.
    let mut p = open_spec(|s| {
        s.probe = SimProbeKind::V2;
        s.firmware = Some(21);
    });
    assert_eq!(p.cmd(&[0xF1], 6)[..2], ((2u16 << 12) | (21 << 6) | 7).to_be_bytes());
}

#[test]
fn get_version_ex_on_v3_only() {
    // The simulated V3's firmware: V3J7M1B3.
    assert_eq!(
        kind(SimProbeKind::V3).cmd(&[0xFB], 12),
        [0x03, 0x00, 0x07, 0x01, 0x03, 0x00, 0x00, 0x00, 0x83, 0x04, 0x4E, 0x37]
    );
    let r = kind(SimProbeKind::V3Pwr).cmd(&[0xFB], 12);
    assert_eq!((r[0], r[2], r[5]), (3, 16, 3));
    assert_eq!(r[8..], [0x83, 0x04, 0x57, 0x37]);
    for k in [SimProbeKind::V2, SimProbeKind::V2_1] {
        let mut p = kind(k);
        p.send(&[0xFB]);
        p.nothing();
        assert_eq!(p.cmd(&[0xF1], 6)[4], (k.pid() & 0xFF) as u8, "still alive");
    }
}

#[test]
fn modes_enter_exit_and_dfu_exit() {
    let mut p = f103();
    assert_eq!(p.mode(), MODE_MASS);
    p.send(&[0xF3, 0x07]);
    p.nothing();
    assert_eq!(p.mode(), MODE_MASS);
    p.enter();
    assert_eq!(p.mode(), MODE_DEBUG);
    p.send(&[0xF2, 0x21]);
    p.nothing();
    assert_eq!(p.mode(), MODE_MASS);
    // JTAG is not modeled.
    assert_eq!(p.cmd(&[0xF2, 0x30, 0xA4], 2), [ST_CMD_ERROR, 0]);
}

#[test]
fn target_voltage_reply() {
    let volts = |r: &[u8]| 2.0 * word(&r[4..8]) as f64 * 1.2 / word(&r[0..4]) as f64;
    let r = f103().cmd(&[0xF7], 8);
    assert!((volts(&r) - 3.3).abs() < 1e-9, "{r:?}");
    let r = open_spec(|s| s.options = vec![("voltage".into(), "1800".into())]).cmd(&[0xF7], 8);
    assert!((volts(&r) - 1.8).abs() < 1e-9, "{r:?}");
    let r = open_spec(|s| s.faults.no_power = true).cmd(&[0xF7], 8);
    assert_eq!(word(&r[4..8]), 0);
    assert_ne!(word(&r[0..4]), 0);
    let r = open_spec(|s| s.options = vec![("voltage".into(), "0".into())]).cmd(&[0xF7], 8);
    assert_eq!(word(&r[4..8]), 0);
    // No voltage command before J13 (OpenOCD stlink_usb.c:506-516).
    let mut p = open_spec(|s| {
        s.probe = SimProbeKind::V2;
        s.firmware = Some(12);
    });
    p.send(&[0xF7]);
    p.nothing();
}

// ---------------------------------------------------------------------------
// The observed traces.

#[test]
fn replay_hot_plug_connect_trace_11_1() {
    let mut p = open_spec(|s| s.firmware = Some(37));
    let v = p.cmd(&[0xF1], 6);
    let ver = u16::from_be_bytes([v[0], v[1]]);
    assert_eq!((ver >> 12, (ver >> 6) & 0x3F), (2, 37));
    assert_eq!(v[2..], [0x83, 0x04, 0x4B, 0x37]);
    assert_eq!(p.cmd(&[0xF5], 2), [0x01, 0x00]);
    assert_eq!(p.cmd(&[0xF2, 0x43, 0x01], 2), [0x80, 0x00]);
    assert_eq!(p.cmd(&[0xF5], 2), [0x01, 0x00]);
    assert_eq!(p.cmd(&[0xF2, 0x30, 0xA3], 2), [0x80, 0x00]);
    assert_eq!(p.cmd(&[0xF2, 0x31], 12), [0x80, 0, 0, 0, 0x77, 0x14, 0xA0, 0x1B, 0, 0, 0, 0]);
    let read = |p: &mut P, a: [u8; 4]| p.cmd(&[&[0xF2, 0x36][..], &a].concat(), 8);
    assert_eq!(read(&mut p, [0x00, 0xED, 0x00, 0xE0]), [0x80, 0, 0, 0, 0x31, 0xC2, 0x1F, 0x41]);
    assert_eq!(read(&mut p, [0x00, 0x20, 0x04, 0xE0]), [0x80, 0, 0, 0, 0x10, 0x64, 0x03, 0x20]);
    assert_eq!(read(&mut p, [0xE0, 0xF7, 0xFF, 0x1F]), [0x80, 0, 0, 0, 0x40, 0x00, 0xFF, 0xFF]);
    assert_eq!(p.cmd(&[0xF2, 0x35, 0xF0, 0xED, 0x00, 0xE0, 0x03, 0x00, 0x5F, 0xA0], 2), [0x80, 0x00]);
    assert_eq!(read(&mut p, [0x04, 0x20, 0x04, 0xE0]), [0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x35, 0x04, 0x20, 0x04, 0xE0, 0x00, 0x03, 0x00, 0x00], 2), [0x80, 0x00]);
    assert_eq!(read(&mut p, [0x04, 0x20, 0x04, 0xE0])[4..], [0x00, 0x03, 0x00, 0x00]);
    // C_DEBUGEN|C_HALT, S_REGRDY|S_HALT, S_RESET_ST (ARMv7-M DHCSR after a
    // halt request following a reset).
    assert_eq!(read(&mut p, [0xF0, 0xED, 0x00, 0xE0]), [0x80, 0, 0, 0, 0x03, 0x00, 0x03, 0x02]);
    assert_eq!(read(&mut p, [0xF0, 0xED, 0x00, 0xE0])[4..], [0x03, 0x00, 0x03, 0x00]);
    p.send(&[0xF2, 0x21]);
    p.nothing();
}

#[test]
fn replay_connect_under_reset_trace_11_2() {
    let mut p = f103();
    // Vector table: SP 0x20005000, reset handler 0x08000101.
    assert!(p.h.poke(0x0800_0000, &[0x00, 0x50, 0x00, 0x20, 0x01, 0x01, 0x00, 0x08]));
    p.cmd(&[0xF1], 6);
    p.cmd(&[0xF5], 2);
    assert_eq!(p.cmd(&[0xF2, 0x3C, 0x00], 2), [0x80, 0x00], "NRST low before ENTER");
    assert_eq!(p.cmd(&[0xF2, 0x43, 0x01], 2), [0x80, 0x00]);
    p.enter();
    assert_eq!(p.cmd(&[0xF2, 0x3C, 0x00], 2), [0x80, 0x00]);
    assert_eq!(p.mem_read(0x07, 0x2000_0000, 4), [0; 4]);
    assert_eq!(p.rw_status(), (ST_AP_FAULT, 0x2000_0000), "bus held in reset");
    p.wr_ok(mcu::DHCSR, 0xA05F_0003);
    assert!(!p.h.core_halted(), "held in reset");
    assert_eq!(p.cmd(&[0xF2, 0x3C, 0x01], 2), [0x80, 0x00]);
    assert!(p.h.core_halted(), "latched halt taken at reset release");
    for _ in 0..45 {
        p.wr_ok(mcu::DHCSR, 0xA05F_0003);
    }
    let dhcsr = p.rd_ok(mcu::DHCSR);
    assert_ne!(dhcsr & mcu::S_RESET_ST, 0, "NRST is connected");
    assert_eq!(p.h.core_register(15), 0x0800_0100);
    assert_eq!(p.h.core_register(13), 0x2000_5000);
    // Soft reset with halt.
    p.wr_ok(mcu::DHCSR, 0xA05F_0003);
    p.wr_ok(mcu::DEMCR, 0x0100_0501);
    p.wr_ok(mcu::DFSR, 0x0000_0008);
    p.rd_ok(mcu::DHCSR);
    p.wr_ok(mcu::AIRCR, 0x05FA_0004);
    assert_ne!(p.rd_ok(mcu::DHCSR) & mcu::S_RESET_ST, 0);
    assert_eq!(p.rd_ok(mcu::DHCSR) & mcu::S_RESET_ST, 0);
    assert_ne!(p.rd_ok(mcu::DFSR) & mcu::DFSR_VCATCH, 0);
    p.wr_ok(mcu::DFSR, 0x1F);
    assert_eq!(p.rd_ok(mcu::DFSR), 0);
    assert_eq!(p.mode(), MODE_DEBUG);
    assert!(p.h.core_halted());
}

#[test]
fn reset_sequence_of_trace_11_4() {
    let mut p = f103();
    p.enter();
    p.rd_ok(mcu::DHCSR);
    assert_eq!(p.cmd(&[0xF2, 0x3C, 0x00], 2), [0x80, 0x00]);
    assert_eq!(p.cmd(&[0xF2, 0x3C, 0x01], 2), [0x80, 0x00]);
    assert_eq!(p.cmd(&[0xF2, 0x32], 2), [0x80, 0x00]);
    assert_ne!(p.rd_ok(mcu::DHCSR) & mcu::S_RESET_ST, 0);
    let d = p.rd_ok(mcu::DHCSR);
    assert_eq!(d & (mcu::S_RESET_ST | mcu::S_HALT), 0, "running after reset");
    assert_ne!(d & mcu::S_RETIRE_ST, 0);
}

// ---------------------------------------------------------------------------
// Command gating and status paths.

#[test]
fn debug_commands_before_enter_fail() {
    let mut p = f103();
    assert_eq!(p.rd(mcu::CPUID), (ST_CMD_ERROR, 0));
    assert_eq!(p.wr(mcu::DHCSR, 0xA05F_0003), ST_CMD_ERROR);
    assert!(!p.h.core_halted());
    assert_eq!(p.cmd(&[0xF2, 0x31], 12)[0], ST_CMD_ERROR);
    assert_eq!(p.cmd(&[0xF2, 0x33, 0x00], 8)[0], ST_CMD_ERROR);
    assert_eq!(p.cmd(&[0xF2, 0x32], 2), [ST_CMD_ERROR, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x3E], 12)[0], ST_CMD_ERROR);
    assert_eq!(p.mem_read(0x07, 0x2000_0000, 8), [0; 8]);
    // Speed and NRST work in any mode: stlink sets the speed and drives NRST
    // before ENTER (usb.c:1292-1297; OpenOCD stlink_usb.c:1796-1806).
    assert_eq!(p.cmd(&[0xF2, 0x43, 0x00], 2), [ST_OK, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x3C, 0x01], 2), [ST_OK, 0]);
    p.enter();
    assert_eq!(p.rd(mcu::CPUID), (ST_OK, 0x411F_C231));
}

#[test]
fn unknown_commands() {
    let mut p = f103();
    p.enter();
    assert_eq!(p.cmd(&[0xF2, 0x7F], 2), [ST_UNKNOWN_COMMAND, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x45, 0xFF, 0xFF], 2), [ST_UNKNOWN_COMMAND, 0]);
    p.send(&[0x00]);
    p.nothing();
    p.send(&[0xF4, 0x01]);
    p.nothing();
    assert_eq!(p.mode(), MODE_DEBUG);
}

#[test]
fn feature_gates_follow_firmware_version() {
    let fw = |k: SimProbeKind, j: u8| {
        let mut p = open_spec(|s| {
            s.probe = k;
            s.firmware = Some(j);
        });
        p.enter();
        p
    };
    // 16-bit memory from V2J26.
    let mut p = fw(SimProbeKind::V2, 25);
    assert_eq!(p.cmd(&P::mem_cdb(0x47, 0x2000_0000, 2), 2), [ST_UNKNOWN_COMMAND, 0]);
    let mut p = fw(SimProbeKind::V2, 26);
    assert_eq!(p.mem_read(0x47, 0x2000_0000, 2), [0, 0]);
    // GETLASTRWSTATUS2 from J15; GETLASTRWSTATUS everywhere.
    let mut p = fw(SimProbeKind::V2, 14);
    assert_eq!(p.cmd(&[0xF2, 0x3E], 2), [ST_UNKNOWN_COMMAND, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x3B], 2), [ST_OK, 0]);
    // SWD_SET_FREQ from V2J22, never on V3; V3 frequency commands only on V3.
    let mut p = fw(SimProbeKind::V2, 21);
    assert_eq!(p.cmd(&[0xF2, 0x43, 0x01], 2), [ST_UNKNOWN_COMMAND, 0]);
    let mut p = fw(SimProbeKind::V2, 22);
    assert_eq!(p.cmd(&[0xF2, 0x43, 0x01], 2), [ST_OK, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x62, 0x00], 2), [ST_UNKNOWN_COMMAND, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x61, 0x00], 2), [ST_UNKNOWN_COMMAND, 0]);
    let mut p = kind(SimProbeKind::V3);
    assert_eq!(p.cmd(&[0xF2, 0x43, 0x01], 2), [ST_UNKNOWN_COMMAND, 0]);
    // INIT_AP/CLOSE_AP from V2J28.
    let mut p = fw(SimProbeKind::V2, 27);
    assert_eq!(p.cmd(&[0xF2, 0x4B, 0x00, 0x01], 2), [ST_UNKNOWN_COMMAND, 0]);
    let mut p = fw(SimProbeKind::V2, 28);
    assert_eq!(p.cmd(&[0xF2, 0x4B, 0x00, 0x01], 2), [ST_OK, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x4B, 0x01, 0x01], 2), [ST_BAD_AP, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x4C, 0x00], 2), [ST_OK, 0]);
}

#[test]
fn v2_swd_divisors() {
    let mut p = kind(SimProbeKind::V2);
    for &(div, khz) in V2_SWD_DIVISORS {
        let d = div.to_le_bytes();
        assert_eq!(p.cmd(&[0xF2, 0x43, d[0], d[1]], 2), [ST_OK, 0]);
        assert_eq!(p.h.sim.lock().unwrap().probe.swd_khz(), khz);
    }
    assert_eq!(p.cmd(&[0xF2, 0x43, 0x04], 2), [ST_FREQ_NOT_SUPPORTED, 0]);
    assert_eq!(p.h.sim.lock().unwrap().probe.swd_khz(), 5, "unchanged");
}

#[test]
fn v3_com_freq_list_and_setting() {
    let mut p = kind(SimProbeKind::V3);
    let r = p.cmd(&[0xF2, 0x62, 0x00], 52);
    assert_eq!(r[0], ST_OK);
    assert_eq!(word(&r[4..8]), 1000, "default");
    let n = word(&r[8..12]) as usize;
    assert!(n > 0 && n <= 10);
    let list: Vec<u32> = (0..n).map(|i| word(&r[12 + 4 * i..])).collect();
    assert_eq!(list, V3_SWD_KHZ);
    assert_eq!(list[0], 24000);
    assert!(r[12 + 4 * n..].iter().all(|&b| b == 0));
    // SET_COM_FREQ: a 1000 kHz request → the reply carries 1000 (stlink
    // usb.c:679-690).
    let set = |p: &mut P, khz: u32| p.cmd(&[&[0xF2, 0x61, 0, 0][..], &le(khz)].concat(), 8);
    assert_eq!(set(&mut p, 1000), [ST_OK, 0, 0, 0, 0xE8, 0x03, 0, 0]);
    assert_eq!(word(&set(&mut p, 3300)[4..]), 3300);
    assert_eq!(word(&set(&mut p, 4000)[4..]), 3300, "highest not above the request");
    assert_eq!(word(&set(&mut p, 1)[4..]), 5, "the lowest");
    assert_eq!(word(&set(&mut p, 100_000)[4..]), 24000);
    assert_eq!(word(&p.cmd(&[0xF2, 0x62, 0x00], 52)[4..8]), 24000);
    let j = p.cmd(&[0xF2, 0x62, 0x01], 52);
    assert_eq!(word(&j[12..16]), V3_JTAG_KHZ[0]);
    assert_eq!(p.cmd(&[0xF2, 0x62, 0x02], 52)[0], ST_CMD_ERROR);
}

// ---------------------------------------------------------------------------
// Memory transfers: limits, alignment, faults.

#[test]
fn read_and_write_32_bit_round_trip() {
    let mut p = f103();
    p.enter();
    let data: Vec<u8> = (0..1024u32).map(|i| (i * 7) as u8).collect();
    p.mem_write(0x08, 0x2000_0400, &data);
    p.nothing();
    assert_eq!(p.rw_status(), (ST_OK, 0));
    assert_eq!(p.mem_read(0x07, 0x2000_0400, 1024), data);
    assert_eq!(p.h.peek(0x2000_0400, 1024), Some(data));
    assert_eq!(p.rw_status(), (ST_OK, 0));
    // Flash is readable.
    p.h.poke(0x0800_1000, &[1, 2, 3, 4]);
    assert_eq!(p.mem_read(0x07, 0x0800_1000, 8), [1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFF]);
    // A data phase may arrive in pieces.
    p.send(&P::mem_cdb(0x08, 0x2000_0000, 8));
    assert_eq!(p.t.write(&[1, 2, 3], T), Ok(3));
    assert_eq!(p.t.write(&[4, 5, 6, 7, 8], T), Ok(5));
    assert_eq!(p.mem_read(0x07, 0x2000_0000, 8), [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn thirty_two_bit_limits_and_alignment() {
    let mut p = f103();
    p.enter();
    assert_eq!(p.mem_read(0x07, 0x2000_0000, 6144).len(), 6144);
    assert_eq!(p.rw_status(), (ST_OK, 0));
    assert_eq!(p.mem_read(0x07, 0x2000_0000, 6148), vec![0; 6148]);
    assert_eq!(p.rw_status(), (ST_CMD_ERROR, 0), "over 6144 bytes");
    p.h.poke(0x2000_0000, &[0xAA; 8]);
    assert_eq!(p.mem_read(0x07, 0x2000_0002, 4), [0; 4]);
    assert_eq!(p.rw_status(), (ST_ALIGNMENT, 0));
    assert_eq!(p.mem_read(0x07, 0x2000_0000, 6), [0; 6]);
    assert_eq!(p.rw_status(), (ST_ALIGNMENT, 0));
    p.mem_write(0x08, 0x2000_0001, &[1, 2, 3, 4]);
    assert_eq!(p.rw_status(), (ST_ALIGNMENT, 0));
    p.mem_write(0x08, 0x2000_0000, &[1, 2, 3]);
    assert_eq!(p.rw_status(), (ST_ALIGNMENT, 0));
    assert_eq!(p.h.peek(0x2000_0000, 4), Some(vec![0xAA; 4]), "nothing written");
    // 0xFFFC bytes are accepted (here it runs off the end of SRAM)...
    p.mem_write(0x08, 0x2000_0000, &vec![0x11; 0xFFFC]);
    assert_eq!(p.rw_status(), (ST_AP_FAULT, 0x2000_5000));
    assert_eq!(p.h.peek(0x2000_4FFC, 4), Some(vec![0x11; 4]));
    // ...one more is not.
    p.h.poke(0x2000_0000, &[0; 4]);
    p.mem_write(0x08, 0x2000_0000, &vec![0x22; 0xFFFD]);
    assert_eq!(p.rw_status(), (ST_CMD_ERROR, 0));
    assert_eq!(p.h.peek(0x2000_0000, 4), Some(vec![0; 4]));
    // Zero-length transfers do nothing and succeed.
    p.send(&P::mem_cdb(0x07, 0x2000_0000, 0));
    p.nothing();
    assert_eq!(p.rw_status(), (ST_OK, 0));
    p.mem_write(0x08, 0x2000_0000, &[]);
    assert_eq!(p.rw_status(), (ST_OK, 0));
}

#[test]
fn eight_bit_transfers_limits_and_the_two_byte_quirk() {
    let mut p = f103();
    p.enter();
    p.h.poke(0x2000_0010, &[0x5A, 0x6B, 0x7C]);
    // A one-byte read returns two bytes (OpenOCD stlink_usb.c:2512-2514).
    assert_eq!(p.mem_read(0x0C, 0x2000_0011, 1), [0x6B, 0x00]);
    assert_eq!(p.mem_read(0x0C, 0x2000_0011, 2), [0x6B, 0x7C]);
    assert_eq!(p.mem_read(0x0C, 0x2000_0000, 64).len(), 64);
    assert_eq!(p.rw_status(), (ST_OK, 0));
    assert_eq!(p.mem_read(0x0C, 0x2000_0000, 65), vec![0; 65]);
    assert_eq!(p.rw_status(), (ST_CMD_ERROR, 0));
    p.mem_write(0x0D, 0x2000_0021, &[9, 8, 7]);
    p.nothing();
    assert_eq!(p.h.peek(0x2000_0020, 5), Some(vec![0, 9, 8, 7, 0]));
    p.mem_write(0x0D, 0x2000_0000, &[1; 65]);
    assert_eq!(p.rw_status(), (ST_CMD_ERROR, 0));
    assert_eq!(p.h.peek(0x2000_0000, 1), Some(vec![0]));
    // V3 from J6: 512 bytes.
    let mut p = kind(SimProbeKind::V3);
    p.enter();
    assert_eq!(p.mem_read(0x0C, 0x2000_0000, 512).len(), 512);
    assert_eq!(p.rw_status(), (ST_OK, 0));
    p.mem_read(0x0C, 0x2000_0000, 513);
    assert_eq!(p.rw_status(), (ST_CMD_ERROR, 0));
    let mut p = open_spec(|s| {
        s.probe = SimProbeKind::V3;
        s.firmware = Some(5);
    });
    p.enter();
    p.mem_read(0x0C, 0x2000_0000, 65);
    assert_eq!(p.rw_status(), (ST_CMD_ERROR, 0), "V3 before J6: 64 bytes");
}

#[test]
fn sixteen_bit_transfers() {
    let mut p = kind(SimProbeKind::V3);
    p.enter();
    p.mem_write(0x48, 0x2000_0002, &[1, 2, 3, 4]);
    p.nothing();
    assert_eq!(p.rw_status(), (ST_OK, 0));
    assert_eq!(p.mem_read(0x47, 0x2000_0000, 8), [0, 0, 1, 2, 3, 4, 0, 0]);
    p.mem_read(0x47, 0x2000_0001, 2);
    assert_eq!(p.rw_status(), (ST_ALIGNMENT, 0));
    p.mem_read(0x47, 0x2000_0000, 3);
    assert_eq!(p.rw_status(), (ST_ALIGNMENT, 0));
    p.mem_write(0x48, 0x2000_0000, &[1, 2, 3]);
    assert_eq!(p.rw_status(), (ST_ALIGNMENT, 0));
    p.mem_read(0x47, 0x2000_0000, 6146);
    assert_eq!(p.rw_status(), (ST_CMD_ERROR, 0));
}

#[test]
fn faults_report_the_address_reads_pad_with_zeros_writes_stop() {
    let mut p = f103();
    p.enter();
    p.h.poke(0x2000_4FF8, &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(p.mem_read(0x07, 0x2000_4FF8, 16), [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(p.rw_status(), (ST_AP_FAULT, 0x2000_5000));
    // The old-style status reports the same.
    assert_eq!(p.cmd(&[0xF2, 0x3B], 2), [ST_AP_FAULT, 0]);
    p.mem_write(0x08, 0x2000_4FF8, &[9; 16]);
    assert_eq!(p.rw_status(), (ST_AP_FAULT, 0x2000_5000));
    assert_eq!(p.h.peek(0x2000_4FF8, 8), Some(vec![9; 8]));
    // Unmapped, read-only, and flash written with a word (F1 takes half-words).
    assert_eq!(p.rd(0x6000_0000), (ST_AP_FAULT, 0));
    assert_eq!(p.wr(0x1FFF_F000, 0), ST_AP_FAULT);
    assert_eq!(p.wr(0x0800_0000, 0), ST_AP_FAULT);
    p.mem_read(0x0C, 0x0801_0000, 4);
    assert_eq!(p.rw_status(), (ST_AP_FAULT, 0x0801_0000));
    // The next good transfer clears the status.
    p.mem_read(0x07, 0x2000_0000, 4);
    assert_eq!(p.rw_status(), (ST_OK, 0));
    // Single-register accesses must be word aligned.
    assert_eq!(p.rd(0x2000_0002), (ST_ALIGNMENT, 0));
    assert_eq!(p.wr(0x2000_0002, 1), ST_ALIGNMENT);
    // Peripheral space not claimed by a model is lenient.
    assert_eq!(p.rd(0x4002_1014), (ST_OK, 0));
    assert_eq!(p.wr(0x4000_3000, 0xAAAA), ST_OK);
    // AP other than 0.
    let mut c = P::mem_cdb(0x07, 0x2000_0000, 4);
    c.push(1);
    assert_eq!(p.cmd(&c, 4), [0; 4]);
    assert_eq!(p.rw_status(), (ST_BAD_AP, 0));
}

#[test]
fn a_core_on_ap1_answers_only_there_and_ap0_reaches_only_the_dbgmcu() {
    // H563: the Cortex-M33 behind AP1, AP0 reaching the DBGMCU (access_port.rs).
    let mut p = open_spec(|s| s.chip = "stm32h563zi".into());
    p.enter();
    // READDEBUGREG goes through AP0: the DBGMCU answers, the core and the
    // memories fault.
    assert_eq!(p.rd_ok(0x4402_4000) & 0xFFF, 0x484);
    assert_eq!(p.rd(mcu::CPUID), (ST_AP_FAULT, 0));
    assert_eq!(p.wr(mcu::DHCSR, 0xA05F_0003), ST_AP_FAULT);
    assert_eq!(p.rd(0x2000_0000), (ST_AP_FAULT, 0));
    assert_eq!(p.cmd(&[0xF2, 0x33, 15], 8)[0], ST_AP_FAULT, "READREG reaches no core through AP0");
    let ap = |op: u8, addr: u32, len: usize, ap: u8| {
        let mut c = P::mem_cdb(op, addr, len);
        c.push(ap);
        c
    };
    // AP1 before INIT_AP: refused.
    assert_eq!(p.cmd(&ap(0x07, mcu::CPUID, 4, 1), 4), [0; 4]);
    assert_eq!(p.rw_status(), (ST_BAD_AP, 0));
    // No AP2 on this part; AP1 opens.
    assert_eq!(p.cmd(&[0xF2, 0x4B, 0x02], 2), [ST_BAD_AP, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x4B, 0x01], 2), [ST_OK, 0]);
    assert_eq!(word(&p.cmd(&ap(0x07, mcu::CPUID, 4, 1), 4)), 0x410F_D214);
    assert_eq!(p.rw_status(), (ST_OK, 0));
    assert_eq!(word(&p.cmd(&ap(0x07, 0x4402_4000, 4, 1), 4)) & 0xFFF, 0x484, "the core's bus has the DBGMCU");
    p.send(&ap(0x08, 0x2000_0000, 4, 1));
    assert_eq!(p.t.write(&[1, 2, 3, 4], T), Ok(4));
    assert_eq!(p.rw_status(), (ST_OK, 0));
    assert_eq!(p.h.peek(0x2000_0000, 4).unwrap(), [1, 2, 3, 4]);
    // A memory command on AP0 faults outside the DBGMCU.
    assert_eq!(p.cmd(&ap(0x07, 0x2000_0000, 4, 0), 4), [0; 4]);
    assert_eq!(p.rw_status(), (ST_AP_FAULT, 0x2000_0000));
    // Leaving debug mode closes AP1.
    p.send(&[0xF2, 0x21]);
    p.enter();
    p.cmd(&ap(0x07, mcu::CPUID, 4, 1), 4);
    assert_eq!(p.rw_status(), (ST_BAD_AP, 0));
    // A part with its core on AP0 has no AP1.
    let mut f = f103();
    f.enter();
    assert_eq!(f.cmd(&[0xF2, 0x4B, 0x01], 2), [ST_BAD_AP, 0]);
    assert_eq!(f.cmd(&[0xF2, 0x4B, 0x00], 2), [ST_OK, 0]);
    // Firmware before V2J28 knows no INIT_AP.
    let mut old = open_spec(|s| {
        s.chip = "stm32h563zi".into();
        s.firmware = Some(27);
    });
    old.enter();
    assert_eq!(old.cmd(&[0xF2, 0x4B, 0x01], 2), [ST_UNKNOWN_COMMAND, 0]);
}

// ---------------------------------------------------------------------------
// USB-level behaviour.

#[test]
fn replies_split_across_short_reads() {
    let mut p = f103();
    p.enter();
    p.h.poke(0x2000_0000, &[1, 2, 3, 4, 5, 6, 7, 8]);
    p.send(&P::mem_cdb(0x07, 0x2000_0000, 8));
    let mut a = [0u8; 3];
    assert_eq!(p.t.read(&mut a, T), Ok(3));
    assert_eq!(a, [1, 2, 3]);
    let mut b = [0u8; 64];
    assert_eq!(p.t.read(&mut b, T), Ok(5));
    assert_eq!(b[..5], [4, 5, 6, 7, 8]);
    p.nothing();
    // The 1-byte 8-bit read: a 1-byte IN leaves the second byte queued.
    p.send(&P::mem_cdb(0x0C, 0x2000_0003, 1));
    let mut one = [0u8; 1];
    assert_eq!(p.t.read(&mut one, T), Ok(1));
    assert_eq!(one, [4]);
    assert_eq!(p.t.read(&mut b, T), Ok(1));
    p.nothing();
    // An empty buffer takes nothing.
    p.send(&[0xF5]);
    assert_eq!(p.t.read(&mut [], T), Ok(0));
    assert_eq!(p.reply(2), [MODE_DEBUG, 0]);
}

#[test]
fn command_blocks_must_be_16_bytes() {
    let mut p = f103();
    for n in [10, 15, 17, 31] {
        let e = p.t.write(&vec![0xF1; n], T).unwrap_err();
        assert!(matches!(e, TransportError::Usb(ref m) if m.contains("16 bytes")), "{e:?}");
    }
    p.nothing();
    p.enter();
    // A data phase longer than announced is refused too.
    p.send(&P::mem_cdb(0x08, 0x2000_0000, 4));
    assert!(matches!(p.t.write(&[0; 8], T), Err(TransportError::Usb(_))));
}

#[test]
fn probe_info_and_serials() {
    let p = f103();
    let i = p.t.info();
    assert_eq!((i.vid, i.pid, i.kind), (0x0483, 0x374b, ProbeKind::V2_1));
    assert_eq!(i.location, "sim");
    assert_eq!(i.serial.len(), 24);
    assert!(i.serial.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
    assert_eq!(i.serial, default_serial(SimProbeKind::V2_1, 0));
    assert_ne!(default_serial(SimProbeKind::V2_1, 0), default_serial(SimProbeKind::V2_1, 1));
    let p = open_spec(|s| s.serial = Some("0123456789ABCDEF01234567".into()));
    assert_eq!(p.t.info().serial, "0123456789ABCDEF01234567");
    for (k, pid, pk) in [
        (SimProbeKind::V2, 0x3748, ProbeKind::V2),
        (SimProbeKind::V3, 0x374e, ProbeKind::V3),
        (SimProbeKind::V3Pwr, 0x3757, ProbeKind::V3Pwr),
    ] {
        let p = kind(k);
        assert_eq!((p.t.info().pid, p.t.info().kind), (pid, pk));
        assert_eq!(ProbeKind::from_pid(pid), Some(pk));
    }
}

// ---------------------------------------------------------------------------
// Core debug.

#[test]
fn dhcsr_halt_run_and_reset_status_over_the_wire() {
    let mut p = f103();
    p.enter();
    let first = p.rd_ok(mcu::DHCSR);
    assert_eq!(first, mcu::S_RESET_ST | mcu::S_RETIRE_ST, "running, reset once");
    assert_eq!(p.rd_ok(mcu::DHCSR), mcu::S_RETIRE_ST, "S_RESET_ST cleared by the read");
    p.wr_ok(mcu::DHCSR, 0x0000_0003);
    assert!(!p.h.core_halted(), "no key");
    p.halt();
    assert_eq!(p.rd_ok(mcu::DHCSR), 0x0003_0003);
    assert_eq!(p.rd_ok(mcu::DFSR), mcu::DFSR_HALTED);
    p.wr_ok(mcu::DHCSR, 0xA05F_0001);
    assert!(!p.h.core_halted());
    assert_eq!(p.rd_ok(mcu::DHCSR), 0x0100_0001);
    // Single step: back in Debug state.
    p.halt();
    p.wr_ok(mcu::DHCSR, 0xA05F_0005);
    assert!(p.h.core_halted());
}

#[test]
fn core_registers_need_a_halted_core() {
    let mut p = f103();
    p.enter();
    assert_eq!(p.cmd(&[0xF2, 0x33, 0x00], 8), [ST_FAULT, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x34, 0x00, 1, 0, 0, 0], 2), [ST_FAULT, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x3A], 88)[0], ST_FAULT);
    p.halt();
    // WRITEREG: f2 34 0f 01010008 = PC := 0x08000101 (stlink usb.c:951-972).
    assert_eq!(p.cmd(&[0xF2, 0x34, 0x0F, 0x01, 0x01, 0x00, 0x08], 2), [ST_OK, 0]);
    assert_eq!(p.h.core_register(15), 0x0800_0101);
    assert_eq!(p.cmd(&[0xF2, 0x34, 0x02, 0x44, 0x33, 0x22, 0x11], 2), [ST_OK, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x33, 0x02], 8), [ST_OK, 0, 0, 0, 0x44, 0x33, 0x22, 0x11]);
    // xPSR after reset (READREG reply `80 00 00 00 00 00 00 01`: status, then
    // the value; stlink usb.c:784-835).
    assert_eq!(p.cmd(&[0xF2, 0x33, 0x10], 8), [ST_OK, 0, 0, 0, 0, 0, 0, 0x01]);
    assert_eq!(p.cmd(&[0xF2, 0x33, 0x40], 8)[0], ST_CMD_ERROR);
    assert_eq!(p.cmd(&[0xF2, 0x34, 0x14, 0x01, 0, 0, 0x02], 2), [ST_OK, 0]);
    let all = p.cmd(&[0xF2, 0x3A], 88);
    assert_eq!(all[..4], [ST_OK, 0, 0, 0]);
    let reg = |i: usize| word(&all[4 + 4 * i..]);
    assert_eq!((reg(2), reg(15), reg(16)), (0x1122_3344, 0x0800_0101, 0x0100_0000));
    assert_eq!(reg(17), p.h.core_register(17), "MSP");
    assert_eq!(reg(13), reg(18), "CONTROL.SPSEL=1: SP is PSP");
    assert_eq!(reg(20), 0x0200_0001, "packed special registers");
    // DCRSR/DCRDR reach the same registers.
    p.wr_ok(mcu::DCRSR, 2);
    assert_eq!(p.rd_ok(mcu::DCRDR), 0x1122_3344);
}

#[test]
fn resetsys_resets_the_core() {
    let mut p = f103();
    p.h.poke(0x0800_0000, &[0x00, 0x10, 0x00, 0x20, 0x41, 0x00, 0x00, 0x08]);
    p.enter();
    p.halt();
    p.cmd(&[0xF2, 0x34, 0x00, 1, 2, 3, 4], 2);
    p.rd_ok(mcu::DHCSR);
    assert_eq!(p.cmd(&[0xF2, 0x32], 2), [ST_OK, 0]);
    assert!(!p.h.core_halted(), "no vector catch: runs");
    assert_eq!(
        (p.h.core_register(0), p.h.core_register(13), p.h.core_register(15), p.h.core_register(16)),
        (0, 0x2000_1000, 0x0800_0040, 0x0100_0000)
    );
    assert_ne!(p.rd_ok(mcu::DHCSR) & mcu::S_RESET_ST, 0);
    // With VC_CORERESET it halts.
    p.wr_ok(mcu::DEMCR, mcu::VC_CORERESET | mcu::TRCENA);
    p.halt();
    p.cmd(&[0xF2, 0x32], 2);
    assert!(p.h.core_halted());
    assert_ne!(p.rd_ok(mcu::DFSR) & mcu::DFSR_VCATCH, 0);
}

#[test]
fn drive_nrst_semantics() {
    let mut p = f103();
    p.enter();
    p.h.poke(0x2000_0000, &[0x77; 4]);
    p.rd_ok(mcu::DHCSR);
    assert_eq!(p.cmd(&[0xF2, 0x3C, 0x00], 2), [ST_OK, 0]);
    assert_eq!(p.rd(0x2000_0000), (ST_AP_FAULT, 0), "held in reset");
    assert_eq!(p.rd_ok(mcu::CPUID), 0x411F_C231, "PPB still answers");
    assert_ne!(p.rd_ok(mcu::DHCSR) & mcu::S_RESET_ST, 0);
    assert_eq!(p.cmd(&[0xF2, 0x3C, 0x01], 2), [ST_OK, 0]);
    assert!(!p.h.core_halted(), "no halt requested: runs");
    assert_eq!(p.rd_ok(0x2000_0000), 0x7777_7777, "SRAM kept");
    // Pulse.
    p.rd_ok(mcu::DHCSR);
    assert_eq!(p.cmd(&[0xF2, 0x3C, 0x02], 2), [ST_OK, 0]);
    assert_ne!(p.rd_ok(mcu::DHCSR) & mcu::S_RESET_ST, 0);
    assert_eq!(p.cmd(&[0xF2, 0x3C, 0x07], 2), [ST_CMD_ERROR, 0]);

    // Clone probe without the NRST wire: answers OK, does nothing.
    let mut p = open_spec(|s| s.options = vec![("nrst".into(), "disconnected".into())]);
    p.enter();
    p.rd_ok(mcu::DHCSR);
    assert_eq!(p.cmd(&[0xF2, 0x3C, 0x00], 2), [ST_OK, 0]);
    assert_eq!(p.rd(0x2000_0000).0, ST_OK);
    assert_eq!(p.cmd(&[0xF2, 0x3C, 0x01], 2), [ST_OK, 0]);
    assert_eq!(p.rd_ok(mcu::DHCSR) & mcu::S_RESET_ST, 0, "no reset happened");
}

// ---------------------------------------------------------------------------
// Timing.

#[test]
fn timing_of_a_6144_byte_read_at_4_mhz_on_v2() {
    let mut p = kind(SimProbeKind::V2);
    p.cmd(&[0xF2, 0x43, 0x00], 2);
    p.enter();
    let t0 = p.now();
    p.mem_read(0x07, 0x2000_0000, 6144);
    // 0.3 ms + 6144 B / 1 MB/s + 1536 × 48 clocks / 4 MHz.
    assert_eq!(p.now() - t0, 300_000 + 6_144_000 + 18_432_000);
}

#[test]
fn timing_of_each_command_class() {
    let mut p = kind(SimProbeKind::V2);
    let cost = |p: &mut P, c: &[u8], n: usize| {
        let t0 = p.now();
        p.cmd(c, n);
        p.now() - t0
    };
    // No SWD clocks: version, mode, voltage, frequency.
    assert_eq!(cost(&mut p, &[0xF1], 6), 300_000 + 6_000);
    assert_eq!(cost(&mut p, &[0xF5], 2), 300_000 + 2_000);
    assert_eq!(cost(&mut p, &[0xF7], 8), 300_000 + 8_000);
    // Default 1800 kHz before any setting; ENTER 100 clocks.
    assert_eq!(cost(&mut p, &[0xF2, 0x30, 0xA3], 2), 300_000 + 2_000 + 55_555);
    assert_eq!(cost(&mut p, &[0xF2, 0x43, 0x00], 2), 300_000 + 2_000);
    // At 4 MHz: 96 clocks = 24 µs.
    assert_eq!(cost(&mut p, &[0xF2, 0x36, 0x00, 0xED, 0x00, 0xE0], 8), 300_000 + 8_000 + 24_000);
    assert_eq!(cost(&mut p, &[0xF2, 0x35, 0xF0, 0xED, 0x00, 0xE0, 3, 0, 0x5F, 0xA0], 2), 302_000 + 24_000);
    assert_eq!(cost(&mut p, &[0xF2, 0x33, 0x00], 8), 308_000 + 72_000);
    assert_eq!(cost(&mut p, &[0xF2, 0x34, 0x00, 1, 0, 0, 0], 2), 302_000 + 72_000);
    assert_eq!(cost(&mut p, &[0xF2, 0x3A], 88), 388_000 + 21 * 72_000);
    assert_eq!(cost(&mut p, &[0xF2, 0x3C, 0x02], 2), 302_000 + 24_000);
    assert_eq!(cost(&mut p, &[0xF2, 0x32], 2), 302_000 + 24_000);
    assert_eq!(cost(&mut p, &[0xF2, 0x3E], 12), 312_000);
    // 8- and 16-bit accesses cost 48 clocks each, like 32-bit ones.
    assert_eq!(cost(&mut p, &P::mem_cdb(0x0C, 0x2000_0000, 64), 64), 364_000 + 64 * 12_000);
    assert_eq!(cost(&mut p, &P::mem_cdb(0x47, 0x2000_0000, 64), 64), 364_000 + 32 * 12_000);
    // A write: the data phase is payload, charged once with its command.
    let t0 = p.now();
    p.mem_write(0x08, 0x2000_0000, &[0; 1024]);
    assert_eq!(p.now() - t0, 300_000 + 1_024_000 + 256 * 12_000);
    // EXIT has no reply but a round trip.
    let t0 = p.now();
    p.send(&[0xF2, 0x21]);
    assert_eq!(p.now() - t0, 300_000);
}

#[test]
fn timing_on_v3_and_the_clock_api() {
    let mut p = kind(SimProbeKind::V3);
    p.enter();
    let t0 = p.now();
    p.rd_ok(mcu::CPUID);
    // 0.15 ms + 8 B / 30 MB/s + 96 clocks / 1 MHz (V3 default).
    assert_eq!(p.now() - t0, 150_000 + 266 + 96_000);
    p.cmd(&[0xF2, 0x61, 0, 0, 0xC0, 0x5D, 0, 0], 8); // 24000 kHz
    let t0 = p.now();
    p.mem_read(0x07, 0x2000_0000, 4096);
    assert_eq!(p.now() - t0, 150_000 + 136_533 + 1024 * 48 * 1_000_000 / 24_000);
    // sleep advances the modeled clock, no wall time.
    let t0 = p.now();
    p.t.sleep(Duration::from_secs(3));
    assert_eq!(p.now() - t0, 3_000_000_000);
    // A read with nothing queued waits its timeout.
    let t0 = p.now();
    let mut b = [0u8; 8];
    assert!(p.t.read(&mut b, Duration::from_millis(250)).is_err());
    assert_eq!(p.now() - t0, 250_000_000);
    assert_eq!(p.h.stats().modeled, p.t.elapsed());
}

#[test]
fn flash_stalls_hold_the_bus_and_time_runs_lazily() {
    let mut p = testchip(|_| {});
    p.enter();
    assert_eq!(p.rd_ok(TM_SR), 0);
    let c0 = p.now();
    p.wr_ok(TM_CR, 1);
    // The write happened after the round trip and 96 clocks at 1.8 MHz.
    let t_op = c0 + 300_000 + 53_333;
    assert_eq!(p.rd_ok(TM_SR), 1, "busy");
    // A flash read stalls until the operation ends.
    p.mem_read(0x07, TM_BASE, 4);
    assert_eq!(p.now(), t_op + TM_OP + 4_000);
    assert_eq!(p.rd_ok(TM_SR), 0, "done");
    p.wr_ok(TM_CR, 1);
    assert_eq!(p.rd_ok(TM_SR), 1);
    p.t.sleep(Duration::from_millis(1));
    assert_eq!(p.rd_ok(TM_SR), 0, "completed while the host slept");
    assert_eq!(p.h.stats().erases, 2);
    // A stalled write.
    p.wr_ok(TM_CR, 1);
    let before = p.now();
    p.mem_write(0x08, TM_BASE, &[0x12, 0x34, 0x56, 0x78]);
    assert!(p.now() - before > TM_OP - 400_000);
    assert_eq!(p.rw_status(), (ST_OK, 0));
    assert_eq!(p.h.peek(TM_BASE, 4), Some(vec![0x12, 0x34, 0x56, 0x78]));
    assert_eq!(p.h.stats().words, 1);
}

#[test]
fn stats_include_operations_completed_by_now() {
    let mut p = testchip(|_| {});
    p.enter();
    p.wr_ok(TM_CR, 1);
    assert_eq!(p.h.stats().mass_erases, 0, "still running");
    p.t.sleep(Duration::from_millis(2));
    assert_eq!(p.h.stats().mass_erases, 1, "finished while nobody looked");
}

#[test]
fn stats_and_summary_count_commands_and_bytes() {
    let mut p = f103();
    p.cmd(&[0xF1], 6);
    p.enter();
    p.mem_write(0x08, 0x2000_0000, &[0; 64]);
    p.mem_read(0x07, 0x2000_0000, 64);
    let s = p.h.stats();
    assert_eq!(s.commands, 4);
    assert_eq!(s.bytes_out, 4 * 16 + 64);
    assert_eq!(s.bytes_in, 6 + 2 + 64);
    assert_eq!((s.erases, s.mass_erases, s.words), (0, 0, 0));
    assert_eq!(s.modeled, p.t.elapsed());
    let line = p.t.sim_summary().unwrap();
    assert!(line.starts_with("modeled 0.00") && line.contains("4 commands") && line.contains("72 B in"), "{line}");
}

// ---------------------------------------------------------------------------
// Register log, reset requests, protection (test model).

#[test]
fn register_writes_are_logged_from_both_initiators() {
    let mut p = testchip(|_| {});
    p.enter();
    p.wr_ok(TM_CR, 0x10);
    p.wr_ok(0x2000_0000, 0x99); // not a register
    p.mem_write(0x08, TM_CR + 4, &[0xAA, 0, 0, 0, 0xBB, 0, 0, 0]);
    p.mem_write(0x0D, TM_CR + 12, &[0x5C]);
    {
        let mut sim = p.h.sim.lock().unwrap();
        sim.mcu.write(TM_CR, AccessWidth::Word, 0x20, Initiator::Cpu, 0).unwrap();
    }
    assert_eq!(
        p.h.register_writes(),
        [(TM_CR, 0x10), (TM_SR, 0xAA), (TM_RESET, 0xBB), (TM_CR + 12, 0x5C), (TM_CR, 0x20)]
    );
    p.h.clear_register_log();
    assert!(p.h.register_writes().is_empty());
}

#[test]
fn a_model_reset_request_resets_the_system() {
    let mut p = testchip(|_| {});
    p.enter();
    p.halt();
    p.rd_ok(mcu::DHCSR);
    p.wr_ok(TM_RESET, 0xDEAD);
    assert!(!p.h.core_halted());
    assert_ne!(p.rd_ok(mcu::DHCSR) & mcu::S_RESET_ST, 0);
}

#[test]
fn rdp1_blocks_debugger_flash_reads_and_rdp2_silences_swd() {
    let mut p = testchip(|s| s.options = vec![("rdp".into(), "1".into())]);
    p.h.poke(TM_BASE, &[1, 2, 3, 4]);
    p.enter();
    assert_eq!(p.mem_read(0x07, TM_BASE, 4), [0; 4]);
    assert_eq!(p.rw_status(), (ST_AP_FAULT, TM_BASE));
    assert_eq!(p.rd(TM_BASE), (ST_AP_FAULT, 0));
    assert_eq!(p.rd_ok(0x2000_0000), 0, "SRAM still readable");
    assert_eq!(p.h.peek(TM_BASE, 4), Some(vec![1, 2, 3, 4]), "peek ignores protection");

    let mut p = testchip(|s| s.faults.model = vec![("rdp".into(), "2".into())]);
    assert_eq!(p.cmd(&[0xF2, 0x30, 0xA3], 2), [ST_GET_IDCODE_ERROR, 0]);
    assert_eq!(p.cmd(&[0xF2, 0x31], 12)[0], ST_GET_IDCODE_ERROR);
    assert_eq!(p.rd(mcu::CPUID), (ST_DP_ERROR, 0));
}

#[test]
fn identity_of_the_test_part() {
    let mut p = testchip(|_| {});
    p.enter();
    assert_eq!(p.rd_ok(0x1FFF_7A20), 0x0004_FFFF, "flash size in the upper half");
    assert_eq!(p.mem_read(0x47, 0x1FFF_7A22, 2), [4, 0]);
    assert_eq!(p.rd_ok(0xE004_2000), 0x1000_0413);
    p.wr_ok(0xE004_200C, 0x1234);
    assert_eq!(p.rd_ok(0xE004_200C), 0x1234);
    assert_eq!(p.rd_ok(0x1000_0FFC), 0, "second SRAM region");
    assert_eq!(p.rd(0x1000_1000).0, ST_AP_FAULT);
    assert_eq!(p.rd(0x1FFF_0100).0, ST_AP_FAULT, "after system memory");
}

// ---------------------------------------------------------------------------
// State file.

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("stflash-sim-{}-{name}.sim", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn state_file_round_trip() {
    let path = tmp("roundtrip");
    let spec = |path: &PathBuf| {
        let mut s = SimSpec::parse(&format!("f103:{}", path.display())).unwrap();
        s.probe = SimProbeKind::V2;
        s
    };
    {
        let (mut t, h) = open(&spec(&path)).unwrap();
        assert!(!path.exists(), "fresh chip");
        assert!(h.poke(0x0800_0400, &[0xDE, 0xAD, 0xBE, 0xEF]));
        assert!(h.poke(0x2000_0000, &[0x42]));
        t.write(&cdb(&[0xF1]), T).unwrap();
        h.save().unwrap();
        assert!(path.exists(), "saved on demand");
        assert!(h.poke(0x0800_0404, &[0x01]));
    } // dropped: saved again
    let saved = load_state(&path).unwrap();
    assert_eq!(saved.chip(), "stm32f103c8");
    assert_eq!(saved.peek(0x0800_0400, 5), Some(vec![0xDE, 0xAD, 0xBE, 0xEF, 0x01]));
    let (_t, h) = open(&spec(&path)).unwrap();
    assert_eq!(h.peek(0x0800_0400, 5), Some(vec![0xDE, 0xAD, 0xBE, 0xEF, 0x01]));
    assert_eq!(h.peek(0x2000_0000, 1), Some(vec![0x42]), "SRAM persists: the chip stays powered");
    drop(_t);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn state_file_for_another_chip_is_refused() {
    let path = tmp("wrongchip");
    state::write_file(&path, "stm32h7a3", &[("flash".into(), vec![0; 4])]).unwrap();
    let e = open(&SimSpec::parse(&format!("stm32f103c8:{}", path.display())).unwrap()).err().unwrap();
    assert!(e.contains("stm32h7a3") && e.contains("stm32f103c8"), "{e}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn options_apply_to_a_fresh_chip_only() {
    let path = tmp("fresh");
    let spec = |rdp: &str| {
        let mut s = SimSpec::new("testchip");
        s.state_file = Some(path.clone());
        s.options = vec![("rdp".into(), rdp.into())];
        s
    };
    {
        let (_t, h) = open_part(&TEST_CHIP, &spec("1")).unwrap();
        assert!(!h.with_flash_model(|m| m.debug_readable(TM_BASE)));
    }
    let (_t, h) = open_part(&TEST_CHIP, &spec("0")).unwrap();
    assert!(!h.with_flash_model(|m| m.debug_readable(TM_BASE)), "state file wins");
    drop(_t);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unknown_options_and_faults_are_errors_listing_what_is_valid() {
    let e = open_spec_err(|s| s.options = vec![("dbank".into(), "0".into())]);
    assert!(e.contains("dbank=0") && e.contains("voltage=<mV>") && e.contains("nrst="), "{e}");
    let e = open_spec_err(|s| s.options = vec![("voltage".into(), "lots".into())]);
    assert!(e.contains("voltage"), "{e}");
    let e = open_spec_err(|s| s.options = vec![("nrst".into(), "maybe".into())]);
    assert!(e.contains("nrst"), "{e}");
    // Fault keys the model does not know are forwarded to it, and refused there.
    let e = open_spec_err(|s| s.faults.model = vec![("ecc".into(), "1".into())]);
    assert!(e.contains("ecc=1"), "{e}");
    let e = open(&SimSpec::new("stm32f999")).err().unwrap();
    assert!(e.contains("stm32f103c8"), "{e}");
    let e = open_spec_err(|s| s.firmware = Some(64));
    assert!(e.contains("J64"), "{e}");
}

#[test]
fn identity_options_make_a_clone_or_a_foreign_part() {
    let opts = |list: &[(&str, &str)]| list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut p =
        testchip(|s| s.options = opts(&[("dpidr", "0x1BA01477"), ("cpuid", "411FC231"), ("idcode", "0x70050240")]));
    p.enter();
    let r = p.cmd(&[0xF2, 0x31], 12);
    assert_eq!((r[0], word(&r[4..8])), (ST_OK, 0x1BA0_1477), "READ_IDCODES answers the option");
    assert_eq!(p.rd_ok(mcu::CPUID), 0x411F_C231);
    assert_eq!(p.rd_ok(0xE004_2000), 0x7005_0240);
    // Without them the part answers its own identity.
    let mut p = testchip(|_| {});
    p.enter();
    assert_eq!(word(&p.cmd(&[0xF2, 0x31], 12)[4..8]), TEST_CHIP.dpidr);
    assert_eq!(p.rd_ok(0xE004_2000), TEST_CHIP.idcode);
    let e = open_spec_err(|s| s.options = opts(&[("dpidr", "clone")]));
    assert!(e.contains("dpidr=clone") && e.contains("hex"), "{e}");
}

#[test]
fn usb_option_makes_the_probe_fail_at_enumeration() {
    let mut spec = SimSpec::new("stm32f103c8");
    assert_eq!(spec.usb_problem(), None);
    spec.options = vec![("usb".into(), "busy".into())];
    assert_eq!(spec.usb_problem(), Some(TransportError::Busy { location: "sim".into() }));
    spec.options = vec![("usb".into(), "permission".into())];
    assert_eq!(spec.usb_problem(), Some(TransportError::Permission { location: "sim".into() }));
    let e = open_spec_err(|s| s.options = vec![("usb".into(), "flaky".into())]);
    assert!(e.contains("usb=flaky"), "{e}");
}

fn open_spec_err(f: impl FnOnce(&mut SimSpec)) -> String {
    let mut spec = SimSpec::new("stm32f103c8");
    f(&mut spec);
    open(&spec).err().expect("open must fail")
}

// ---------------------------------------------------------------------------
// Faults.

#[test]
fn fault_disconnect_after_n_transfers() {
    let mut p = open_spec(|s| s.faults = FaultPlan::parse("disconnect-after=3").unwrap());
    p.send(&[0xF1]); // 1
    let mut b = [0u8; 6];
    assert_eq!(p.t.read(&mut b, T), Ok(6)); // 2
    p.send(&[0xF5]); // 3
    assert_eq!(p.t.read(&mut b, T), Err(TransportError::Disconnected));
    assert_eq!(p.t.write(&cdb(&[0xF5]), T), Err(TransportError::Disconnected));
}

#[test]
fn fault_stall_after_n_transfers() {
    let mut p = open_spec(|s| s.faults = FaultPlan::parse("stall-after=1").unwrap());
    p.send(&[0xF1]);
    let mut b = [0u8; 6];
    assert_eq!(p.t.read(&mut b, T), Err(TransportError::Stall));
    assert_eq!(p.t.write(&cdb(&[0xF1]), T), Err(TransportError::Stall));
}

#[test]
fn fault_timeout_after_n_transfers() {
    let mut p = open_spec(|s| s.faults = FaultPlan::parse("timeout-after=2").unwrap());
    assert_eq!(p.cmd(&[0xF5], 2), [1, 0]);
    assert_eq!(p.t.write(&cdb(&[0xF1]), T), Ok(16), "writes are swallowed");
    p.nothing();
    let mut b = [0u8; 6];
    let t0 = p.now();
    assert_eq!(p.t.read(&mut b, Duration::from_millis(500)), Err(TransportError::Timeout { what: "read" }));
    assert_eq!(p.now() - t0, 500_000_000);
}

#[test]
fn fault_wait_answers_ap_wait_without_effect_then_recovers() {
    let mut p = open_spec(|s| s.faults = FaultPlan::parse("wait=3").unwrap());
    p.enter();
    p.h.poke(0x2000_0000, &[1, 2, 3, 4]);
    assert_eq!(p.rd(mcu::CPUID), (ST_AP_WAIT, 0));
    assert_eq!(p.wr(mcu::DHCSR, 0xA05F_0003), ST_AP_WAIT);
    assert!(!p.h.core_halted(), "nothing written");
    p.mem_write(0x08, 0x2000_0000, &[9, 9, 9, 9]);
    assert_eq!(p.rw_status(), (ST_AP_WAIT, 0));
    assert_eq!(p.h.peek(0x2000_0000, 4), Some(vec![1, 2, 3, 4]));
    assert_eq!(p.mem_read(0x07, 0x2000_0000, 4), [1, 2, 3, 4], "recovered");
    assert_eq!(p.rw_status(), (ST_OK, 0));

    let mut p = open_spec(|s| s.faults = FaultPlan::parse("wait=always").unwrap());
    p.enter();
    for _ in 0..20 {
        assert_eq!(p.mem_read(0x07, 0x2000_0000, 4), [0; 4]);
        assert_eq!(p.rw_status(), (ST_AP_WAIT, 0));
    }
    p.halt_attempt_fails();
}

impl P {
    fn halt_attempt_fails(&mut self) {
        assert_eq!(self.wr(mcu::DHCSR, 0xA05F_0003), ST_AP_WAIT);
        assert_eq!(self.cmd(&[0xF2, 0x33, 0x00], 8)[0], ST_AP_WAIT);
        assert!(!self.h.core_halted());
    }
}

#[test]
fn fault_no_power_and_no_target() {
    for (fault, mv) in [("no-power", 0), ("no-target", 3300)] {
        let mut p = open_spec(|s| s.faults = FaultPlan::parse(fault).unwrap());
        assert_eq!(word(&p.cmd(&[0xF7], 8)[4..]), mv, "{fault}");
        assert_eq!(p.cmd(&[0xF2, 0x30, 0xA3], 2), [ST_GET_IDCODE_ERROR, 0], "{fault}");
        assert_eq!(p.cmd(&[0xF2, 0x31], 12), [ST_GET_IDCODE_ERROR, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(p.rd(mcu::CPUID), (ST_DP_ERROR, 0));
        assert_eq!(p.wr(mcu::DHCSR, 0xA05F_0003), ST_DP_ERROR);
        assert_eq!(p.cmd(&[0xF2, 0x33, 0x00], 8)[0], ST_DP_ERROR);
        assert_eq!(p.cmd(&[0xF2, 0x32], 2), [ST_DP_ERROR, 0]);
        assert_eq!(p.mem_read(0x07, 0x2000_0000, 8), [0; 8]);
        assert_eq!(p.rw_status(), (ST_DP_ERROR, 0));
        assert_eq!(p.cmd(&[0xF2, 0x3C, 0x00], 2), [ST_OK, 0], "NRST is a wire, not SWD");
    }
}

#[test]
fn fault_no_halt() {
    let mut p = open_spec(|s| s.faults = FaultPlan::parse("no-halt").unwrap());
    p.enter();
    p.wr_ok(mcu::DHCSR, 0xA05F_0003);
    assert!(!p.h.core_halted());
    let d = p.rd_ok(mcu::DHCSR);
    assert_eq!(d & (mcu::C_HALT | mcu::S_HALT), 0);
    assert_eq!(d & mcu::C_DEBUGEN, mcu::C_DEBUGEN);
    assert_eq!(p.cmd(&[0xF2, 0x33, 0x0F], 8)[0], ST_FAULT);
}

// ---------------------------------------------------------------------------
// Specs and environment.

#[test]
fn spec_parsing() {
    let s = SimSpec::parse("F103").unwrap();
    assert_eq!((s.chip.as_str(), s.state_file.clone()), ("stm32f103c8", None));
    assert_eq!(s.probe, SimProbeKind::V2_1);
    let s = SimSpec::parse("stm32f103c8:/tmp/a:b.sim").unwrap();
    assert_eq!(s.state_file, Some(PathBuf::from("/tmp/a:b.sim")), "split at the first ':'");
    assert!(SimSpec::parse("nochip:x").unwrap_err().contains("stm32f103c8"));
    assert!(SimSpec::parse("f103:").is_err());
    assert_eq!(SimProbeKind::parse("V2-1"), Ok(SimProbeKind::V2_1));
    assert_eq!(SimProbeKind::parse("v3pwr"), Ok(SimProbeKind::V3Pwr));
    assert!(SimProbeKind::parse("v4").unwrap_err().contains("v2, v2-1, v3, v3pwr"));
    assert_eq!(parse_firmware("J22"), Ok(22));
    assert_eq!(parse_firmware("37"), Ok(37));
    assert!(parse_firmware("x").is_err() && parse_firmware("0").is_err());
    assert!(chip_names().contains(&"stm32f103c8"));
}

#[test]
fn specs_from_environment_variables() {
    let vars = |list: &'static [(&'static str, &'static str)]| {
        move |name: &str| list.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    };
    assert_eq!(SimSpec::list_from_vars(vars(&[])), Ok(vec![]));
    let specs = SimSpec::list_from_vars(vars(&[
        ("STFLASH_SIM", "f103:/tmp/one.sim; stm32f103c8"),
        ("STFLASH_SIM_PROBE", "v3"),
        ("STFLASH_SIM_FIRMWARE", "J5"),
        ("STFLASH_SIM_OPTS", "voltage=1800,nrst=disconnected"),
        ("STFLASH_SIM_FAULTS", "wait=2,no-halt"),
    ]))
    .unwrap();
    assert_eq!(specs.len(), 2);
    assert_eq!(specs[0].state_file, Some(PathBuf::from("/tmp/one.sim")));
    assert_eq!(specs[1].state_file, None);
    for s in &specs {
        assert_eq!((s.probe, s.firmware), (SimProbeKind::V3, Some(5)));
        assert_eq!(s.options.len(), 2);
        assert!(s.faults.no_halt && s.faults.wait == Some(WaitFault::Count(2)));
    }
    let (t0, _h0) = open(&specs[0]).unwrap();
    let (t1, _h1) = open(&specs[1]).unwrap();
    assert_ne!(t0.info().serial, t1.info().serial, "distinct serials");
    std::mem::forget(t0); // do not create /tmp/one.sim
    for (var, bad) in [
        ("STFLASH_SIM_PROBE", "v9"),
        ("STFLASH_SIM_FIRMWARE", "new"),
        ("STFLASH_SIM_OPTS", "voltage"),
        ("STFLASH_SIM_FAULTS", "explode"),
    ] {
        let list: Vec<(&str, &str)> = vec![("STFLASH_SIM", "f103"), (var, bad)];
        let e =
            SimSpec::list_from_vars(|n| list.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())).unwrap_err();
        assert!(e.starts_with(var), "{e}");
    }
    let e = SimSpec::list_from_vars(vars(&[("STFLASH_SIM", "f103;h9")])).unwrap_err();
    assert!(e.contains("h9") && e.contains("stm32f103c8"), "{e}");
}

#[test]
fn one_probe_can_have_faults_of_its_own() {
    let vars = |list: &'static [(&'static str, &'static str)]| {
        move |name: &str| list.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    };
    let specs = SimSpec::list_from_vars(vars(&[
        ("STFLASH_SIM", "f103:/tmp/a@b.sim; f103@disconnect-after=40,wait=3:/tmp/two.sim; f411@no-halt"),
        ("STFLASH_SIM_FAULTS", "wait=2"),
    ]))
    .unwrap();
    assert_eq!(specs.len(), 3);
    // A state file may hold '@': only the chip part is searched for faults.
    assert_eq!(specs[0].state_file, Some(PathBuf::from("/tmp/a@b.sim")));
    assert_eq!(specs[0].faults, FaultPlan::parse("wait=2").unwrap());
    // The probe's own faults come on top of the global ones (and win).
    assert_eq!(specs[1].chip, "stm32f103c8");
    assert_eq!(specs[1].state_file, Some(PathBuf::from("/tmp/two.sim")));
    assert_eq!(specs[1].faults.disconnect_after, Some(faults::Trigger::Transfers(40)));
    assert_eq!(specs[1].faults.wait, Some(WaitFault::Count(3)));
    assert_eq!(specs[2].chip, "stm32f411re");
    assert!(specs[2].faults.no_halt && specs[2].faults.wait == Some(WaitFault::Count(2)));
    assert!(!specs[0].faults.no_halt && specs[0].faults.disconnect_after.is_none());
    let e = SimSpec::list_from_vars(vars(&[("STFLASH_SIM", "f103;f103@explode")])).unwrap_err();
    assert!(e.contains("f103@explode") && e.contains("no-halt"), "{e}");
    assert!(SimSpec::parse("f103@no-target").unwrap().faults.no_target);
}
