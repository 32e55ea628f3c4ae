//! ST-LINK status codes. Names and meanings from stlink inc/stlink.h:92-101
//! (commit 733893a), OpenOCD src/jtag/drivers/stlink_usb.c:316-336 and pyOCD
//! pyocd/probe/stlink/constants.py:97-127; ST publishes no list.

use std::fmt;

/// The first byte of most debug-command replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u8);

impl Status {
    pub const OK: Status = Status(0x80);
    pub const FAULT: Status = Status(0x81);
    pub const SWD_AP_WAIT: Status = Status(0x10);
    pub const SWD_DP_WAIT: Status = Status(0x14);

    pub fn is_ok(self) -> bool {
        self == Status::OK
    }

    /// AP or DP WAIT: the target is busy; retrying after a pause may succeed.
    pub fn is_wait(self) -> bool {
        matches!(self.0, 0x10 | 0x14)
    }

    /// Statuses meaning that nothing answered on SWD (no target, no power, wiring).
    pub fn is_no_target(self) -> bool {
        matches!(self.0, 0x04 | 0x05 | 0x09 | 0x0B | 0x15 | 0x16 | 0x17)
    }

    /// Statuses meaning the memory access itself faulted (unmapped or protected address).
    pub fn is_access_fault(self) -> bool {
        matches!(self.0, 0x01 | 0x11 | 0x12 | 0x18 | 0x19 | 0x1A)
    }

    /// Statuses that can mean an unreliable SWD link (too fast a clock for
    /// the wiring): WAIT that outlasted every retry, AP FAULT/ERROR, parity
    /// errors, DP FAULT, write-data and sticky errors (see the module notes for
    /// the sources of the codes). A slower clock
    /// may cure them; "nothing answers" statuses are left to the connect logic.
    pub fn is_link_trouble(self) -> bool {
        matches!(self.0, 0x10 | 0x14 | 0x11 | 0x12 | 0x13 | 0x15 | 0x17 | 0x18 | 0x19 | 0x1A)
    }

    /// Name and meaning (stlink inc/stlink.h:92-101; OpenOCD
    /// stlink_usb.c:316-336; pyOCD constants.py:97-127).
    pub fn describe(self) -> (&'static str, &'static str) {
        match self.0 {
            0x80 => ("OK", "success"),
            0x81 => ("FAULT", "SWD/JTAG fault"),
            0x01 => ("UNKNOWN_ERROR", "unknown error (older firmware: memory fault)"),
            0x02 => ("SPI_ERROR", "SPI error"),
            0x03 => ("DMA_ERROR", "DMA error"),
            0x04 => ("UNKNOWN_JTAG_CHAIN", "unknown JTAG chain"),
            0x05 => ("NO_DEVICE_CONNECTED", "no device connected"),
            0x06 => ("INTERNAL_ERROR", "probe internal error"),
            0x07 => ("CMD_WAIT", "command wait"),
            0x08 => ("CMD_ERROR", "command error"),
            0x09 => ("GET_IDCODE_ERROR", "could not read the target's IDCODE"),
            0x0A => ("ALIGNMENT_ERROR", "misaligned address or length"),
            0x0B => ("DBG_POWER_ERROR", "debug power-up failed"),
            0x0C => ("WRITE_ERROR", "write error"),
            0x0D => ("WRITE_VERIFY_ERROR", "write-verify error"),
            0x0E => ("ALREADY_OPENED", "already opened in another mode"),
            0x10 => ("SWD_AP_WAIT", "target busy (AP WAIT)"),
            0x11 => ("SWD_AP_FAULT", "bus fault on the target (AP FAULT)"),
            0x12 => ("SWD_AP_ERROR", "AP error"),
            0x13 => ("SWD_AP_PARITY_ERROR", "AP parity error"),
            0x14 => ("SWD_DP_WAIT", "target busy (DP WAIT)"),
            0x15 => ("SWD_DP_FAULT", "DP fault"),
            0x16 => ("SWD_DP_ERROR", "no valid answer on SWD (DP error)"),
            0x17 => ("SWD_DP_PARITY_ERROR", "DP parity error"),
            0x18 => ("AP_WDATA_ERROR", "AP write-data error"),
            0x19 => ("AP_STICKY_ERROR", "AP sticky error"),
            0x1A => ("AP_STICKY_ORUN_ERROR", "AP sticky overrun"),
            0x1D => ("BAD_AP", "bad AP"),
            0x20 => ("SWV_NOT_AVAILABLE", "SWV not available"),
            0x40 => ("CONFIG_CHANGED", "configuration changed"),
            0x41 => ("FREQ_NOT_SUPPORTED", "frequency not supported"),
            0x42 => ("UNKNOWN_COMMAND", "command not supported by this probe firmware"),
            _ => ("UNKNOWN_STATUS", "undocumented status"),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, meaning) = self.describe();
        write!(f, "{name} (0x{:02X}: {meaning})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_disjoint() {
        for code in 0..=255u8 {
            let s = Status(code);
            let classes = [s.is_ok(), s.is_wait(), s.is_no_target(), s.is_access_fault()];
            assert!(classes.iter().filter(|&&c| c).count() <= 1, "0x{code:02X}");
        }
        assert_eq!(Status(0x11).describe().0, "SWD_AP_FAULT");
        assert!(Status(0x14).is_wait());
        assert!(Status(0x09).is_no_target());
    }
}
