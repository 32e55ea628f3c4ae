//! ST-LINK protocol: 16-byte command blocks, replies, status codes and
//! transfer limits. Built on [`Transport`]; knows nothing about Cortex-M or
//! STM32 beyond what the probe firmware does.
//!
//! ST does not publish this protocol; it is taken from the open clients that
//! speak it. "stlink" below is stlink-org/stlink at commit 733893a (`testing`
//! branch, 2024-10-17): src/stlink-lib/usb.c, commands.h, common.c and
//! inc/stlink.h; "OpenOCD" is OpenOCD's src/jtag/drivers/stlink_usb.c and
//! libusb_helper.h (master, lines checked at abbbc2e05); "probe-rs" is
//! probe-rs/src/probe/stlink/mod.rs; "pyOCD" is pyocd/probe/stlink/stlink.py.
//! Line numbers are theirs.

use std::fmt;
use std::time::Duration;

use log::{debug, trace, warn};

use crate::text::count;
use crate::transport::{ProbeKind, Transport, TransportError};

pub mod commands;
pub mod speed;
pub mod status;

use commands::{debug as dbg, Mode};
pub use status::Status;

/// Largest 32-bit read the firmware accepts in one command, its internal
/// buffer (OpenOCD stlink_usb.c:74, 95-102; probe-rs mod.rs:41; pyOCD
/// stlink.py:42-45).
pub const MAX_READ32: usize = 6144;
/// Largest 32-bit write per command. The firmware accepts more (stlink sends
/// up to 32 KiB, src/stlink-lib/flash_loader.c:735-738; probe-rs up to 65532
/// bytes, mod.rs:44-46), but 6144 is the size of its internal buffer and what
/// OpenOCD and pyOCD use.
pub const MAX_WRITE32: usize = 6144;
/// 16-bit transfers: OpenOCD's limit (stlink_usb.c:2579-2582).
pub const MAX_RW16: usize = 6144;
/// Largest 32-bit write per command of [`StLink::write_mem_bulk`]: the
/// firmware accepts writes beyond its 6144-byte buffer, and st-flash sends
/// its loader buffers in commands of up to 32 KiB (stlink
/// src/stlink-lib/flash_loader.c:735-738, common.c:796-813).
pub const MAX_WRITE32_BULK: usize = 32 * 1024;

/// Per-transfer USB timeout (stlink uses 3 s, usb.c:101, 111, 155; OpenOCD
/// 6 s, libusb_helper.h:26).
const USB_TIMEOUT: Duration = Duration::from_millis(3000);
/// WAIT retries and the first back-off (OpenOCD retries 8 times from 1 ms,
/// doubling: stlink_usb.c:108, 1181-1186).
const WAIT_RETRIES: u32 = 8;
/// Automatic clock: never below this (st-flash's defaults are 1.8 MHz on V2
/// and 1 MHz on V3, stlink usb.c:611-698), and at most this many steps down
/// per session.
pub const MIN_AUTO_KHZ: u32 = 400;
const MAX_STEP_DOWNS: u32 = 4;

/// Probe firmware version: GET_VERSION (stlink common.c:1141-1157; OpenOCD
/// stlink_usb.c:1263-1278) or, on V3, GET_VERSION_EX (OpenOCD
/// stlink_usb.c:1302-1319).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub hw: u8,
    /// JTAG/SWD firmware version ("J").
    pub jtag: u8,
    /// SWIM version on V2 (the mass-storage version on V2-1: OpenOCD
    /// stlink_usb.c:1280-1300); MSD on V3.
    pub swim: u8,
    /// Bridge version (V3).
    pub bridge: u8,
    pub vid: u16,
    pub pid: u16,
}

impl Version {
    /// JTAG API generation, as stlink decides it (common.c:1160-1164, 1185;
    /// OpenOCD's V1 threshold is one lower, stlink_usb.c:1327-1337).
    pub fn api(&self) -> u8 {
        if self.hw >= 3 {
            3
        } else if self.hw == 1 && self.jtag <= 11 {
            1
        } else {
            2
        }
    }
    /// Feature gates by firmware version (OpenOCD stlink_usb.c:506-516,
    /// 1339-1417; stlink common.c:1167-1174 for J13 and J15, usb.c:620 for J22).
    pub fn has_rw_status2(&self) -> bool {
        self.hw >= 3 || self.jtag >= 15
    }
    pub fn has_voltage(&self) -> bool {
        self.hw >= 3 || self.jtag >= 13
    }
    pub fn has_swd_set_freq(&self) -> bool {
        self.hw == 2 && self.jtag >= 22
    }
    pub fn has_16bit(&self) -> bool {
        self.hw >= 3 || self.jtag >= 26
    }
    /// Memory commands reach access ports other than 0 (the AP number in
    /// byte 8 of the command block, opened with INIT_AP first): V2 from J28
    /// and every V3 (probe-rs mod.rs:395, 650-671 `MIN_JTAG_VERSION_MULTI_AP`;
    /// pyOCD stlink.py:53-54; OpenOCD stlink_usb.c:1368-1370 `STLINK_F_HAS_AP_INIT`).
    /// OpenOCD sends an AP other than 0 only from V2J32 (stlink_usb.c:2667,
    /// `STLINK_F_HAS_CSW`, because it sends the CSW bits with it); J28 is
    /// assumed enough, as probe-rs and pyOCD do.
    pub fn has_multi_ap(&self) -> bool {
        self.hw >= 3 || self.jtag >= 28
    }
    /// Largest 8-bit transfer (OpenOCD stlink_usb.c:90-101, 568-578; stlink
    /// usb.c:342-346).
    pub fn max_rw8(&self) -> usize {
        if self.hw >= 3 && self.jtag >= 6 {
            512
        } else {
            64
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hw >= 3 {
            write!(f, "V{}J{}M{}B{}", self.hw, self.jtag, self.swim, self.bridge)
        } else {
            write!(f, "V{}J{}S{}", self.hw, self.jtag, self.swim)
        }
    }
}

/// Errors of the protocol layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StlinkError {
    Transport(TransportError),
    /// The probe answered with a non-OK status.
    Status {
        cmd: &'static str,
        status: Status,
        addr: Option<u32>,
    },
    /// The reply was shorter than the command's fixed reply length.
    ShortReply {
        cmd: &'static str,
        expected: usize,
        got: usize,
    },
    /// The probe's firmware lacks a needed feature.
    Unsupported(String),
    /// The request breaks a transfer rule (alignment).
    BadRequest(String),
}

impl fmt::Display for StlinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StlinkError::Transport(e) => write!(f, "{e}"),
            StlinkError::Status { cmd, status, addr: Some(a) } => {
                write!(f, "ST-LINK {cmd} at 0x{a:08X} failed: {status}")
            }
            StlinkError::Status { cmd, status, addr: None } => write!(f, "ST-LINK {cmd} failed: {status}"),
            StlinkError::ShortReply { cmd, expected, got } => {
                write!(f, "ST-LINK {cmd}: expected a {expected}-byte reply, got {}", count(*got as u64, "byte"))
            }
            StlinkError::Unsupported(msg) | StlinkError::BadRequest(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for StlinkError {}

impl From<TransportError> for StlinkError {
    fn from(e: TransportError) -> Self {
        StlinkError::Transport(e)
    }
}

impl StlinkError {
    /// The status of a failed command, if that is what failed.
    pub fn status(&self) -> Option<Status> {
        match self {
            StlinkError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

type Result<T> = std::result::Result<T, StlinkError>;

/// An open ST-LINK.
pub struct StLink {
    t: Box<dyn Transport>,
    pub version: Version,
    pub kind: ProbeKind,
    speed_khz: Option<u32>,
    /// The clock is stflash's to choose (no `--freq`): lower it on link trouble.
    auto_speed: bool,
    /// A link-trouble status seen since the last [`Self::take_link_trouble`].
    trouble: Option<Status>,
    step_downs: u32,
    /// SWD rates the probe offers, fastest first (asked once).
    rates: Option<Vec<u32>>,
    /// The access port memory commands address ([`StLink::select_ap`]).
    ap: u8,
    /// Access ports other than 0 opened with INIT_AP in this debug session
    /// (leaving debug mode closes them: OpenOCD stlink_usb.c:4168-4176).
    opened_aps: Vec<u8>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

impl StLink {
    /// Open a probe: read its version. ST-LINK/V1 is refused.
    pub fn open(t: Box<dyn Transport>) -> Result<StLink> {
        let kind = t.info().kind;
        if kind == ProbeKind::V1 {
            return Err(StlinkError::Transport(TransportError::Unsupported {
                what: "ST-LINK/V1 (USB mass-storage protocol) is not supported; use an ST-LINK/V2 or newer".into(),
            }));
        }
        let mut link = StLink {
            t,
            version: Version { hw: 0, jtag: 0, swim: 0, bridge: 0, vid: 0, pid: 0 },
            kind,
            speed_khz: None,
            auto_speed: false,
            trouble: None,
            step_downs: 0,
            rates: None,
            ap: 0,
            opened_aps: Vec::new(),
        };
        link.version = link.read_version()?;
        debug!("probe {} firmware {}", link.kind, link.version);
        Ok(link)
    }

    pub fn transport(&self) -> &dyn Transport {
        self.t.as_ref()
    }

    /// Send one command block with an optional data-out phase and read a
    /// fixed-length reply (stlink usb.c:94-168; OpenOCD stlink_usb.c:801-831).
    fn xfer(&mut self, cdb: &[u8], data_out: &[u8], reply_len: usize) -> Result<Vec<u8>> {
        let mut block = [0u8; 16];
        block[..cdb.len()].copy_from_slice(cdb);
        trace!("-> {}", hex(&block));
        self.t.write(&block, USB_TIMEOUT)?;
        if !data_out.is_empty() {
            trace!("-> data {} bytes", data_out.len());
            self.t.write(data_out, USB_TIMEOUT)?;
        }
        let mut reply = vec![0u8; reply_len];
        let mut got = 0;
        while got < reply_len {
            let n = self.t.read(&mut reply[got..], USB_TIMEOUT)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        if reply_len > 0 {
            trace!("<- {}", if reply_len <= 64 { hex(&reply[..got]) } else { format!("{got} bytes") });
        }
        reply.truncate(got);
        Ok(reply)
    }

    /// A command with a fixed reply whose first byte is a status; WAIT is retried
    /// with back-off (as OpenOCD does, stlink_usb.c:1181-1186; stlink retries
    /// only 3 times, usb.c:122-130).
    fn status_cmd(&mut self, name: &'static str, cdb: &[u8], reply_len: usize) -> Result<Vec<u8>> {
        let mut delay = Duration::from_millis(1);
        for attempt in 0..=WAIT_RETRIES {
            let reply = self.xfer(cdb, &[], reply_len)?;
            if reply.len() < reply_len {
                return Err(StlinkError::ShortReply { cmd: name, expected: reply_len, got: reply.len() });
            }
            let status = Status(reply[0]);
            if status.is_ok() {
                return Ok(reply);
            }
            if !status.is_wait() || attempt == WAIT_RETRIES {
                self.note(status);
                let addr = match cdb {
                    [commands::DEBUG, dbg::READDEBUGREG | dbg::WRITEDEBUGREG, a @ ..] => Some(le32(a)),
                    _ => None,
                };
                return Err(StlinkError::Status { cmd: name, status, addr });
            }
            debug!("{name}: {status}, retry {} after {:?}", attempt + 1, delay);
            self.t.sleep(delay);
            delay *= 2;
        }
        unreachable!("the loop returns")
    }

    fn read_version(&mut self) -> Result<Version> {
        if self.kind.is_v3() {
            // V3 reports only through GET_VERSION_EX (stlink usb.c:205-209;
            // OpenOCD stlink_usb.c:1302-1319).
            let r = self.xfer(&[commands::GET_VERSION_EX], &[], 12)?;
            if r.len() < 12 {
                return Err(StlinkError::ShortReply { cmd: "GET_VERSION_EX", expected: 12, got: r.len() });
            }
            return Ok(Version {
                hw: r[0],
                swim: r[3],
                jtag: r[2],
                bridge: r[4],
                vid: u16::from_le_bytes([r[8], r[9]]),
                pid: u16::from_le_bytes([r[10], r[11]]),
            });
        }
        let r = self.xfer(&[commands::GET_VERSION], &[], 6)?;
        if r.len() < 6 {
            return Err(StlinkError::ShortReply { cmd: "GET_VERSION", expected: 6, got: r.len() });
        }
        let v = u16::from_be_bytes([r[0], r[1]]);
        Ok(Version {
            hw: (v >> 12) as u8,
            jtag: ((v >> 6) & 0x3F) as u8,
            swim: (v & 0x3F) as u8,
            bridge: 0,
            vid: u16::from_le_bytes([r[2], r[3]]),
            pid: u16::from_le_bytes([r[4], r[5]]),
        })
    }

    pub fn current_mode(&mut self) -> Result<Mode> {
        let r = self.xfer(&[commands::GET_CURRENT_MODE], &[], 2)?;
        Ok(Mode::from_byte(*r.first().unwrap_or(&0xFF)))
    }

    /// Leave DFU, SWIM or a previous debug session so that ENTER starts clean,
    /// as OpenOCD (stlink_usb.c:1683-1827) and probe-rs (mod.rs:520-548) do
    /// when they open a probe.
    pub fn leave_current_mode(&mut self) -> Result<Mode> {
        let mode = self.current_mode()?;
        match mode {
            Mode::Dfu => self.xfer(&[commands::DFU, commands::DFU_EXIT], &[], 0).map(drop)?,
            Mode::Debug => self.xfer(&[commands::DEBUG, dbg::EXIT], &[], 0).map(drop)?,
            Mode::Swim => self.xfer(&[commands::SWIM, commands::SWIM_EXIT], &[], 0).map(drop)?,
            _ => {}
        }
        Ok(mode)
    }

    /// Target voltage in millivolts, when the firmware can measure it (stlink
    /// usb.c:221-250; OpenOCD stlink_usb.c:1480-1510).
    /// `None` when unsupported or when the probe's ADC reads 0 (clones).
    pub fn target_voltage_mv(&mut self) -> Result<Option<u32>> {
        if !self.version.has_voltage() {
            return Ok(None);
        }
        let r = self.xfer(&[commands::GET_TARGET_VOLTAGE], &[], 8)?;
        if r.len() < 8 {
            return Err(StlinkError::ShortReply { cmd: "GET_TARGET_VOLTAGE", expected: 8, got: r.len() });
        }
        let (a0, a1) = (le32(&r[0..4]) as u64, le32(&r[4..8]) as u64);
        if a0 == 0 {
            return Ok(None);
        }
        // V = 2 × A1 × 1.2 V / A0 (stlink usb.c:221-250).
        Ok(Some((2400 * a1 / a0) as u32))
    }

    /// Remember a link-trouble status (see [`Status::is_link_trouble`]).
    fn note(&mut self, status: Status) {
        if status.is_link_trouble() {
            self.trouble = Some(status);
        }
    }

    /// The link-trouble status seen since the last call, if any (and forget it).
    pub fn take_link_trouble(&mut self) -> Option<Status> {
        self.trouble.take()
    }

    /// Let stflash lower the SWD clock on link trouble (`--freq` not given).
    pub fn set_auto_speed(&mut self, on: bool) {
        self.auto_speed = on;
    }

    pub fn auto_speed(&self) -> bool {
        self.auto_speed
    }

    /// The clock in force when [`Self::step_down`] has lowered it.
    pub fn lowered_clock(&self) -> Option<u32> {
        self.speed_khz.filter(|_| self.step_downs > 0)
    }

    /// Lower the SWD clock to the next slower rate the probe offers, when the
    /// clock is automatic, the rate is not below [`MIN_AUTO_KHZ`] and fewer
    /// than four steps were taken. The new rate, or `None`.
    pub fn step_down(&mut self) -> Result<Option<u32>> {
        let Some(current) = self.speed_khz else { return Ok(None) };
        if !self.auto_speed || self.step_downs >= MAX_STEP_DOWNS {
            return Ok(None);
        }
        let rates = self.swd_rates()?;
        let Some(next) = rates.into_iter().filter(|&k| k < current && k >= MIN_AUTO_KHZ).max() else {
            return Ok(None);
        };
        self.step_downs += 1;
        let set = self.set_swd_speed(next)?;
        Ok(set.filter(|&k| k < current))
    }

    /// SWD rates the probe offers, fastest first.
    pub fn swd_rates(&mut self) -> Result<Vec<u32>> {
        if let Some(rates) = &self.rates {
            return Ok(rates.clone());
        }
        let rates = self.query_swd_rates()?;
        self.rates = Some(rates.clone());
        Ok(rates)
    }

    fn query_swd_rates(&mut self) -> Result<Vec<u32>> {
        if self.kind.is_v3() {
            let r = self.status_cmd("GET_COM_FREQ", &[commands::DEBUG, dbg::GET_COM_FREQ, 0], 52)?;
            let n = (le32(&r[8..12]) as usize).min(10);
            let mut rates: Vec<u32> = (0..n).map(|i| le32(&r[12 + 4 * i..16 + 4 * i])).collect();
            rates.sort_unstable_by(|a, b| b.cmp(a));
            Ok(rates)
        } else if self.version.has_swd_set_freq() {
            Ok(speed::V2_SWD.iter().map(|e| e.0).collect())
        } else {
            Ok(Vec::new())
        }
    }

    /// Set the SWD clock to the fastest rate not above `khz`; returns the rate
    /// in force, or `None` when the firmware cannot set it.
    pub fn set_swd_speed(&mut self, khz: u32) -> Result<Option<u32>> {
        if self.kind.is_v3() {
            let rates = self.swd_rates()?;
            let Some(pick) = speed::pick(&rates, khz) else {
                return Ok(None);
            };
            let mut cdb = [commands::DEBUG, dbg::SET_COM_FREQ, 0, 0, 0, 0, 0, 0];
            cdb[4..8].copy_from_slice(&pick.to_le_bytes());
            let r = self.status_cmd("SET_COM_FREQ", &cdb, 8)?;
            let actual = le32(&r[4..8]);
            self.speed_khz = Some(actual);
            return Ok(Some(actual));
        }
        if !self.version.has_swd_set_freq() {
            warn!("probe firmware {} cannot set the SWD clock (needs V2J22 or newer)", self.version);
            return Ok(None);
        }
        let (actual, div) = speed::v2_divisor(khz);
        let d = div.to_le_bytes();
        self.status_cmd("SWD_SET_FREQ", &[commands::DEBUG, dbg::SWD_SET_FREQ, d[0], d[1]], 2)?;
        self.speed_khz = Some(actual);
        Ok(Some(actual))
    }

    /// The SWD clock last set, in kHz.
    pub fn swd_speed(&self) -> Option<u32> {
        self.speed_khz
    }

    pub fn enter_swd(&mut self) -> Result<()> {
        self.forget_aps();
        self.status_cmd("ENTER_SWD", &[commands::DEBUG, dbg::ENTER, dbg::ENTER_SWD, 0], 2).map(drop)
    }

    /// Leave debug mode; the probe returns to idle (EXIT: stlink usb.c:700-712;
    /// OpenOCD stlink_usb.c:1641-1646). The opened access ports close with it.
    pub fn exit_debug(&mut self) -> Result<()> {
        self.forget_aps();
        self.xfer(&[commands::DEBUG, dbg::EXIT], &[], 0).map(drop)
    }

    /// A new debug session starts with AP 0 and no other port open.
    fn forget_aps(&mut self) {
        self.ap = 0;
        self.opened_aps.clear();
    }

    /// The access port memory commands address: 0 unless [`StLink::select_ap`]
    /// chose another.
    pub fn ap(&self) -> u8 {
        self.ap
    }

    /// Address access port `ap` from now on: every memory command carries it
    /// (byte 8 of the command block: OpenOCD stlink_usb.c:2689, probe-rs
    /// mod.rs:1166-1180), opened first with INIT_AP (OpenOCD
    /// stlink_usb.c:3896-3912, 4103-4125; probe-rs mod.rs:654-698). AP 0 needs
    /// no INIT_AP: the clients that never send it (stlink) work on AP 0 with
    /// any firmware. Firmware before V2J28 cannot address another port: the
    /// error says which firmware can.
    pub fn select_ap(&mut self, ap: u8) -> Result<()> {
        if ap == 0 || self.opened_aps.contains(&ap) {
            self.ap = ap;
            return Ok(());
        }
        if !self.version.has_multi_ap() {
            return Err(StlinkError::Unsupported(format!(
                "probe firmware {} reaches only access port 0, not access port {ap} (V2J28 or newer, or an \
                 STLINK-V3, is needed); update it with ST's STSW-LINK007 or STM32CubeProgrammer",
                self.version
            )));
        }
        self.status_cmd("INIT_AP", &[commands::DEBUG, dbg::INIT_AP, ap], 2)?;
        debug!("access port {ap} opened");
        self.opened_aps.push(ap);
        self.ap = ap;
        Ok(())
    }

    /// SW-DP IDCODE (DPIDR).
    pub fn read_dpidr(&mut self) -> Result<u32> {
        let r = self.status_cmd("READ_IDCODES", &[commands::DEBUG, dbg::READ_IDCODES], 12)?;
        Ok(le32(&r[4..8]))
    }

    /// System reset through the probe.
    pub fn reset_sys(&mut self) -> Result<()> {
        self.status_cmd("RESETSYS", &[commands::DEBUG, dbg::RESETSYS], 2).map(drop)
    }

    /// Drive NRST low (`true`) or release it.
    pub fn drive_nrst(&mut self, low: bool) -> Result<()> {
        let arg = if low { dbg::NRST_LOW } else { dbg::NRST_HIGH };
        self.status_cmd("DRIVE_NRST", &[commands::DEBUG, dbg::DRIVE_NRST, arg], 2).map(drop)
    }

    /// One 32-bit access through READDEBUGREG (any address). READDEBUGREG and
    /// WRITEDEBUGREG carry no AP number (OpenOCD stlink_usb.c:2062-2103;
    /// probe-rs mod.rs:1127-1163): on another access port the word goes
    /// through a 4-byte memory command and its status instead.
    pub fn read_debug32(&mut self, addr: u32) -> Result<u32> {
        if self.ap != 0 {
            let mut word = [0u8; 4];
            self.read32_chunk(addr, &mut word)?;
            return Ok(u32::from_le_bytes(word));
        }
        let a = addr.to_le_bytes();
        let r = self.status_cmd("READDEBUGREG", &[commands::DEBUG, dbg::READDEBUGREG, a[0], a[1], a[2], a[3]], 8)?;
        Ok(le32(&r[4..8]))
    }

    /// One 32-bit write through WRITEDEBUGREG (a memory command on another
    /// access port, see [`StLink::read_debug32`]).
    pub fn write_debug32(&mut self, addr: u32, value: u32) -> Result<()> {
        if self.ap != 0 {
            return self.write_chunk(dbg::WRITEMEM_32BIT, "WRITEMEM_32BIT", addr, &value.to_le_bytes());
        }
        let a = addr.to_le_bytes();
        let v = value.to_le_bytes();
        let cdb = [commands::DEBUG, dbg::WRITEDEBUGREG, a[0], a[1], a[2], a[3], v[0], v[1], v[2], v[3]];
        self.status_cmd("WRITEDEBUGREG", &cdb, 2).map(drop)
    }

    /// Core register (0-15 R0-R15, 16 xPSR, 17 MSP, 18 PSP); the core must be halted.
    pub fn read_reg(&mut self, index: u8) -> Result<u32> {
        let r = self.status_cmd("READREG", &[commands::DEBUG, dbg::READREG, index], 8)?;
        Ok(le32(&r[4..8]))
    }

    pub fn write_reg(&mut self, index: u8, value: u32) -> Result<()> {
        let v = value.to_le_bytes();
        let cdb = [commands::DEBUG, dbg::WRITEREG, index, v[0], v[1], v[2], v[3]];
        self.status_cmd("WRITEREG", &cdb, 2).map(drop)
    }

    /// Status of the last memory transfer (GETLASTRWSTATUS/GETLASTRWSTATUS2:
    /// stlink usb.c:303-309; OpenOCD stlink_usb.c:2472-2477; reply layout
    /// pyOCD stlink.py:426-427): `Ok(())` or the failing status with the
    /// fault address where the firmware reports one.
    fn last_rw_status(&mut self, cmd: &'static str) -> Result<()> {
        if self.version.has_rw_status2() {
            let r = self.xfer(&[commands::DEBUG, dbg::GETLASTRWSTATUS2], &[], 12)?;
            if r.len() < 12 {
                return Err(StlinkError::ShortReply { cmd: "GETLASTRWSTATUS2", expected: 12, got: r.len() });
            }
            let status = Status(r[0]);
            if status.is_ok() {
                return Ok(());
            }
            let addr = Some(le32(&r[4..8]));
            if !status.is_wait() {
                self.note(status);
            }
            Err(StlinkError::Status { cmd, status, addr })
        } else {
            let r = self.xfer(&[commands::DEBUG, dbg::GETLASTRWSTATUS], &[], 2)?;
            let status = Status(*r.first().unwrap_or(&0));
            if status.is_ok() {
                Ok(())
            } else {
                if !status.is_wait() {
                    self.note(status);
                }
                Err(StlinkError::Status { cmd, status, addr: None })
            }
        }
    }

    /// Run a memory transfer and its status check, retrying the pair on WAIT.
    fn mem_op<T>(&mut self, name: &'static str, mut op: impl FnMut(&mut Self) -> Result<T>) -> Result<T> {
        let mut delay = Duration::from_millis(1);
        for attempt in 0..=WAIT_RETRIES {
            let value = op(self)?;
            match self.last_rw_status(name) {
                Ok(()) => return Ok(value),
                Err(StlinkError::Status { status, .. }) if status.is_wait() && attempt < WAIT_RETRIES => {
                    debug!("{name}: {status}, retry {} after {:?}", attempt + 1, delay);
                    self.t.sleep(delay);
                    delay *= 2;
                }
                Err(e) => {
                    if let Some(status) = e.status() {
                        self.note(status);
                    }
                    return Err(e);
                }
            }
        }
        unreachable!("the loop returns")
    }

    /// A memory command block: address, length, and the access port in byte 8.
    fn mem_cdb(&self, op: u8, addr: u32, len: usize) -> [u8; 9] {
        let a = addr.to_le_bytes();
        let l = (len as u16).to_le_bytes();
        [commands::DEBUG, op, a[0], a[1], a[2], a[3], l[0], l[1], self.ap]
    }

    /// One READMEM_32BIT (address and length multiples of 4, ≤ 6144 bytes).
    fn read32_chunk(&mut self, addr: u32, buf: &mut [u8]) -> Result<()> {
        let cdb = self.mem_cdb(dbg::READMEM_32BIT, addr, buf.len());
        self.mem_op("READMEM_32BIT", |s| {
            let r = s.xfer(&cdb, &[], buf.len())?;
            if r.len() < buf.len() {
                return Err(StlinkError::ShortReply { cmd: "READMEM_32BIT", expected: buf.len(), got: r.len() });
            }
            buf.copy_from_slice(&r);
            Ok(())
        })
    }

    /// One READMEM_8BIT (≤ 64 or 512 bytes). A 1-byte read returns 2 bytes
    /// (OpenOCD stlink_usb.c:2512-2514; probe-rs mod.rs:974-992).
    fn read8_chunk(&mut self, addr: u32, buf: &mut [u8]) -> Result<()> {
        let cdb = self.mem_cdb(dbg::READMEM_8BIT, addr, buf.len());
        let want = buf.len().max(2);
        self.mem_op("READMEM_8BIT", |s| {
            let r = s.xfer(&cdb, &[], want)?;
            if r.len() < buf.len() {
                return Err(StlinkError::ShortReply { cmd: "READMEM_8BIT", expected: buf.len(), got: r.len() });
            }
            buf.copy_from_slice(&r[..buf.len()]);
            Ok(())
        })
    }

    fn write_chunk(&mut self, op: u8, name: &'static str, addr: u32, data: &[u8]) -> Result<()> {
        let cdb = self.mem_cdb(op, addr, data.len());
        self.mem_op(name, |s| s.xfer(&cdb, data, 0).map(drop))
    }

    /// Read a word-aligned range the way st-flash does: 32-bit reads of up to
    /// 6144 bytes whose status is never checked (stlink usb.c:714-735,
    /// common.c:1216), so a failed read goes
    /// unnoticed. Not used by stflash's own operations; the benchmark's
    /// st-flash-style baseline uses it to cost what st-flash does.
    pub fn read_mem_unchecked(&mut self, addr: u32, buf: &mut [u8]) -> Result<()> {
        if addr % 4 != 0 || buf.len() % 4 != 0 {
            return Err(StlinkError::BadRequest(format!(
                "unchecked reads need an aligned address and length (0x{addr:08X}, {})",
                count(buf.len() as u64, "byte")
            )));
        }
        for (i, chunk) in buf.chunks_mut(MAX_READ32).enumerate() {
            let a = addr + (i * MAX_READ32) as u32;
            let r = self.xfer(&self.mem_cdb(dbg::READMEM_32BIT, a, chunk.len()), &[], chunk.len())?;
            let n = r.len().min(chunk.len());
            chunk[..n].copy_from_slice(&r[..n]);
        }
        Ok(())
    }

    /// Read any range: unaligned head and tail with 8-bit transfers, the rest
    /// with 32-bit transfers split at the firmware's limit.
    pub fn read_mem(&mut self, addr: u32, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        let max8 = self.version.max_rw8();
        while done < buf.len() {
            let a = addr.wrapping_add(done as u32);
            let left = buf.len() - done;
            let n = if a % 4 != 0 || left < 4 {
                let to_align = ((4 - a % 4) % 4) as usize;
                let n = if to_align == 0 { left } else { to_align.min(left) };
                self.read8_chunk(a, &mut buf[done..done + n.min(max8)])?;
                n.min(max8)
            } else {
                let n = (left & !3).min(MAX_READ32);
                self.read32_chunk(a, &mut buf[done..done + n])?;
                n
            };
            done += n;
        }
        Ok(())
    }

    /// Write any range: unaligned head and tail with 8-bit transfers, the body
    /// with 32-bit transfers.
    pub fn write_mem(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        let mut done = 0usize;
        let max8 = self.version.max_rw8();
        while done < data.len() {
            let a = addr.wrapping_add(done as u32);
            let left = data.len() - done;
            let n = if a % 4 != 0 || left < 4 {
                let to_align = ((4 - a % 4) % 4) as usize;
                let n = if to_align == 0 { left } else { to_align.min(left) }.min(max8);
                self.write_chunk(dbg::WRITEMEM_8BIT, "WRITEMEM_8BIT", a, &data[done..done + n])?;
                n
            } else {
                let n = (left & !3).min(MAX_WRITE32);
                self.write_chunk(dbg::WRITEMEM_32BIT, "WRITEMEM_32BIT", a, &data[done..done + n])?;
                n
            };
            done += n;
        }
        Ok(())
    }

    /// Write a word-aligned range to RAM in as few commands as the firmware
    /// takes (up to [`MAX_WRITE32_BULK`] each): the flash routine's buffers,
    /// where every command saved is a USB round trip. Unaligned ranges go
    /// through [`Self::write_mem`].
    pub fn write_mem_bulk(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        if addr % 4 != 0 || data.len() % 4 != 0 {
            return self.write_mem(addr, data);
        }
        for (i, chunk) in data.chunks(MAX_WRITE32_BULK).enumerate() {
            let a = addr + (i * MAX_WRITE32_BULK) as u32;
            self.write_chunk(dbg::WRITEMEM_32BIT, "WRITEMEM_32BIT", a, chunk)?;
        }
        Ok(())
    }

    /// Write with every bus access exactly `width` bytes wide (flash programming:
    /// half-words on F0/F1/F3, PSIZE on F2/F4/F7). Address and length must be
    /// multiples of the width.
    pub fn write_mem_width(&mut self, addr: u32, data: &[u8], width: u32) -> Result<()> {
        if addr % width != 0 || data.len() % width as usize != 0 {
            return Err(StlinkError::BadRequest(format!(
                "{width}-byte writes need an aligned address and length (0x{addr:08X}, {})",
                count(data.len() as u64, "byte")
            )));
        }
        let (op, name, max) = match width {
            4 => (dbg::WRITEMEM_32BIT, "WRITEMEM_32BIT", MAX_WRITE32),
            2 if self.version.has_16bit() => (dbg::WRITEMEM_16BIT, "WRITEMEM_16BIT", MAX_RW16),
            2 => {
                return Err(StlinkError::Unsupported(format!(
                    "probe firmware {} has no 16-bit memory access (needs V2J26 or newer); update it with ST's STSW-LINK007",
                    self.version
                )))
            }
            _ => (dbg::WRITEMEM_8BIT, "WRITEMEM_8BIT", self.version.max_rw8()),
        };
        for (i, chunk) in data.chunks(max).enumerate() {
            self.write_chunk(op, name, addr + (i * max) as u32, chunk)?;
        }
        Ok(())
    }

    /// Read with 16-bit accesses (needs V2J26+ or V3).
    pub fn read_mem16(&mut self, addr: u32, buf: &mut [u8]) -> Result<()> {
        if !self.version.has_16bit() || addr % 2 != 0 || buf.len() % 2 != 0 {
            return Err(StlinkError::Unsupported("16-bit reads need V2J26+ and even address/length".into()));
        }
        for (i, chunk) in buf.chunks_mut(MAX_RW16).enumerate() {
            let a = addr + (i * MAX_RW16) as u32;
            let cdb = self.mem_cdb(dbg::READMEM_16BIT, a, chunk.len());
            let len = chunk.len();
            self.mem_op("READMEM_16BIT", |s| {
                let r = s.xfer(&cdb, &[], len)?;
                if r.len() < len {
                    return Err(StlinkError::ShortReply { cmd: "READMEM_16BIT", expected: len, got: r.len() });
                }
                chunk.copy_from_slice(&r);
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Wait on the transport's clock (modeled time on the simulator).
    pub fn sleep(&mut self, d: Duration) {
        self.t.sleep(d)
    }

    pub fn elapsed(&self) -> Duration {
        self.t.elapsed()
    }
}
