//! The lowest layer of stflash: a byte pipe to an ST-LINK's bulk endpoints.
//! The real implementation (rusb) is in the `stflash` library; the simulator
//! (`stflash-sim`) implements the same trait, so every layer above runs
//! unchanged against either. This crate exists on its own so that both can
//! depend on it without depending on each other.
//!
//! ST does not publish the ST-LINK USB protocol; the facts here come from the
//! open clients that speak it. Line numbers are those of stlink-org/stlink at
//! commit 733893a (`testing` branch, 2024-10-17), OpenOCD's master branch
//! (checked at abbbc2e05), probe-rs (probe-rs/src/probe/stlink/) and pyOCD
//! (pyocd/probe/stlink/).

use std::fmt;
use std::time::Duration;

/// One line telling Linux users how to get access to the probe.
pub const UDEV_INSTALL_HINT: &str =
    "sudo cp udev/60-stflash.rules /etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger";

/// ST's USB vendor id (stlink src/stlink-lib/usb.h:15; probe-rs
/// probe-rs/src/probe/stlink/usb_interface.rs:15; pyOCD pyocd/probe/stlink/usb.py:52).
pub const ST_VID: u16 = 0x0483;

/// Probe generations, decided from the USB product id before talking to the
/// probe, as stlink does (src/stlink-lib/usb.c:1183-1190; OpenOCD presets it
/// the same way, src/jtag/drivers/stlink_usb.c:3426-3455).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// ST-LINK/V1 (mass-storage transport). Recognised only to refuse it clearly.
    V1,
    /// ST-LINK/V2 standalone: command OUT endpoint 0x02.
    V2,
    /// ST-LINK/V2-1 (Nucleo/Discovery on-board): command OUT endpoint 0x01.
    V2_1,
    /// STLINK-V3 family (E, SET, MINIE, MODS…): USB high speed, 512-byte packets.
    V3,
    /// STLINK-V3PWR.
    V3Pwr,
}

impl ProbeKind {
    /// Product ids and what they are (stlink src/stlink-lib/usb.h:16-46;
    /// OpenOCD src/jtag/drivers/stlink_usb.c:78-88; 0x374a is listed by
    /// probe-rs usb_interface.rs:20-32 and pyOCD usb.py:59-71 only; names from
    /// the lsusb dumps in OpenOCD doc/usb_adapters/stlink/0483_*.txt).
    /// 0x374d and 0x3755 are firmware-update loaders (OpenOCD
    /// doc/usb_adapters/stlink/0483_374d_stlinkv3.txt,
    /// 0483_3755_stlinkv3pwr.txt) and are deliberately absent.
    pub const PIDS: &'static [(u16, ProbeKind, &'static str)] = &[
        (0x3744, ProbeKind::V1, "ST-LINK/V1"),
        (0x3748, ProbeKind::V2, "ST-LINK/V2"),
        (0x374a, ProbeKind::V2_1, "ST-LINK/V2-1 (audio)"),
        (0x374b, ProbeKind::V2_1, "ST-LINK/V2-1"),
        (0x3752, ProbeKind::V2_1, "ST-LINK/V2-1 (no MSD)"),
        (0x374e, ProbeKind::V3, "STLINK-V3E"),
        (0x374f, ProbeKind::V3, "STLINK-V3SET"),
        (0x3753, ProbeKind::V3, "STLINK-V3 (2 VCP)"),
        (0x3754, ProbeKind::V3, "STLINK-V3MINIE"),
        (0x3757, ProbeKind::V3Pwr, "STLINK-V3PWR"),
    ];

    pub fn from_pid(pid: u16) -> Option<ProbeKind> {
        Self::PIDS.iter().find(|p| p.0 == pid).map(|p| p.1)
    }

    pub fn product_name(pid: u16) -> &'static str {
        Self::PIDS.iter().find(|p| p.0 == pid).map(|p| p.2).unwrap_or("unknown ST-LINK")
    }

    /// Bulk endpoints (OUT for commands and data, IN for replies): stlink
    /// src/stlink-lib/usb.c:1250-1266; OpenOCD src/jtag/drivers/stlink_usb.c:66-71.
    pub fn endpoints(self) -> (u8, u8) {
        match self {
            ProbeKind::V1 | ProbeKind::V2 => (0x02, 0x81),
            ProbeKind::V2_1 | ProbeKind::V3 | ProbeKind::V3Pwr => (0x01, 0x81),
        }
    }

    /// USB high speed (V3 family) or full speed (V1/V2).
    pub fn is_v3(self) -> bool {
        matches!(self, ProbeKind::V3 | ProbeKind::V3Pwr)
    }
}

impl fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeKind::V1 => "V1",
            ProbeKind::V2 => "V2",
            ProbeKind::V2_1 => "V2-1",
            ProbeKind::V3 => "V3",
            ProbeKind::V3Pwr => "V3PWR",
        })
    }
}

/// What is known about a probe before it is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeInfo {
    pub vid: u16,
    pub pid: u16,
    pub kind: ProbeKind,
    /// 24 upper-case hex characters (stlink src/stlink-lib/usb.c:1106-1115),
    /// or empty when unreadable.
    pub serial: String,
    /// "bus:address" on USB, "sim" for the simulator.
    pub location: String,
}

/// Why a transport operation failed. Each variant says what a user can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// No ST-LINK matched (optionally: the requested serial).
    NotFound { serial: Option<String>, seen: Vec<String> },
    /// The OS refused access to the device (udev rules missing on Linux).
    Permission { location: String },
    /// Another program holds the interface.
    Busy { location: String },
    /// ST-LINK/V1 is not supported.
    Unsupported { what: String },
    /// The device went away mid-session.
    Disconnected,
    /// A bulk transfer did not complete in time.
    Timeout { what: &'static str },
    /// The endpoint stalled.
    Stall,
    /// Any other USB failure, with libusb's text.
    Usb(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::NotFound { serial: Some(s), seen } if !seen.is_empty() => {
                write!(f, "no ST-LINK with serial {s} (connected: {}); check --serial", seen.join(", "))
            }
            TransportError::NotFound { serial: Some(s), .. } => {
                write!(f, "no ST-LINK with serial {s} found; check the USB cable and --serial")
            }
            TransportError::NotFound { serial: None, .. } => {
                write!(f, "no ST-LINK found; check the USB cable (or set STFLASH_SIM=<chip> to use the simulator)")
            }
            TransportError::Permission { location } => write!(
                f,
                "permission denied opening the ST-LINK at {location}; install the udev rules: {}",
                UDEV_INSTALL_HINT
            ),
            TransportError::Busy { location } => write!(
                f,
                "the ST-LINK at {location} is in use by another program (st-util, OpenOCD, an IDE?); close it and retry"
            ),
            TransportError::Unsupported { what } => write!(f, "{what}"),
            TransportError::Disconnected => {
                write!(f, "the ST-LINK was disconnected; reconnect it and run the command again")
            }
            TransportError::Timeout { what } => {
                write!(f, "USB {what} timed out; the probe stopped answering (unplug and replug it)")
            }
            TransportError::Stall => write!(f, "USB endpoint stalled; unplug and replug the probe"),
            TransportError::Usb(msg) => write!(f, "USB error: {msg}"),
        }
    }
}

impl std::error::Error for TransportError {}

/// A bidirectional bulk pipe to one ST-LINK, plus the clock that paces it.
///
/// The clock lives here because the simulator keeps a *modeled* timeline
/// (its link and flash times are assumptions of the `stflash-sim` crate, not
/// measurements): a driver that waits for an 8 KiB H7A3 sector erase, 5 ms in
/// that model, must not burn 5 ms of wall time against the simulator, and its
/// timeouts must be measured on the same timeline as the operation it waits for.
pub trait Transport: Send {
    /// Send `data` on the OUT endpoint (a 16-byte command, or a data phase).
    fn write(&mut self, data: &[u8], timeout: Duration) -> Result<usize, TransportError>;
    /// Receive up to `buf.len()` bytes from the IN endpoint; returns the count.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// What this probe is.
    fn info(&self) -> &ProbeInfo;
    /// Wait. Real hardware: sleep. Simulator: advance the modeled clock.
    fn sleep(&mut self, d: Duration);
    /// Time since the transport was opened, on the same clock as `sleep`.
    fn elapsed(&self) -> Duration;
    /// Model summary when this is the simulator (None on real hardware).
    fn sim_summary(&self) -> Option<String> {
        None
    }
}

/// One USB device that looks like an ST-LINK, whether or not it could be opened.
#[derive(Debug, Clone)]
pub struct ProbeEntry {
    pub info: ProbeInfo,
    /// Why it cannot be opened (permission, in use), if known.
    pub problem: Option<TransportError>,
}

/// Normalise a user-given serial for comparison: exact 24-character serials
/// match as given (st-flash compares the first 24 bytes, case-sensitively);
/// we also accept lower case, since nothing else can be meant.
pub fn serial_matches(device: &str, requested: &str) -> bool {
    let req: String = requested.chars().take(24).collect();
    !req.is_empty() && device.eq_ignore_ascii_case(&req)
}

/// Old V2 firmware reports its serial as 12 raw bytes (a 26-byte string
/// descriptor); every client turns each byte into two upper-case hex digits
/// (stlink src/stlink-lib/usb.c:1111-1115; OpenOCD
/// src/jtag/drivers/stlink_usb.c:3302-3379; pyOCD usb.py:143-145).
pub fn normalise_serial(raw: &[u16]) -> String {
    if raw.len() == 12 {
        raw.iter().map(|c| format!("{:02X}", c & 0xff)).collect()
    } else {
        String::from_utf16_lossy(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_map_to_generations_and_endpoints() {
        assert_eq!(ProbeKind::from_pid(0x3748), Some(ProbeKind::V2));
        assert_eq!(ProbeKind::V2.endpoints(), (0x02, 0x81));
        assert_eq!(ProbeKind::from_pid(0x374b), Some(ProbeKind::V2_1));
        assert_eq!(ProbeKind::V2_1.endpoints(), (0x01, 0x81));
        assert_eq!(ProbeKind::from_pid(0x374e), Some(ProbeKind::V3));
        assert_eq!(ProbeKind::from_pid(0x3757), Some(ProbeKind::V3Pwr));
        assert_eq!(ProbeKind::from_pid(0x374d), None, "V3 loader mode is not a debug probe");
    }

    #[test]
    fn twelve_byte_serials_become_hex() {
        let raw: Vec<u16> = vec![0x66, 0xff, 0x37, 0x35, 0x35, 0x50, 0x34, 0x57, 0x06, 0x29, 0x22, 0x01];
        assert_eq!(normalise_serial(&raw), "66FF37353550345706292201");
        let text: Vec<u16> = "066EFF373535503457062922".encode_utf16().collect();
        assert_eq!(normalise_serial(&text), "066EFF373535503457062922");
    }

    #[test]
    fn serial_matching_uses_first_24_characters() {
        let s = "066EFF373535503457062922";
        assert!(serial_matches(s, s));
        assert!(serial_matches(s, "066eff373535503457062922"));
        assert!(serial_matches(s, "066EFF373535503457062922XYZ"));
        assert!(!serial_matches(s, "066EFF"));
        assert!(!serial_matches(s, ""));
    }
}
