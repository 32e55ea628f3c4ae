//! The error every operation returns, classified so that the command line can
//! map it to a documented exit code. Lower layers have their own typed errors
//! (`TransportError`, `StlinkError`, `TargetError`, `FlashError`); they convert
//! into this one, keeping their message and choosing the kind.

use std::fmt;

/// What went wrong, coarsely: one exit code per kind (README "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line is malformed (st-flash: "invalid command line").
    Usage,
    /// The input is wrong: missing or unreadable file, bad image, address outside flash.
    Input,
    /// No usable probe: none connected, permission denied, in use, serial not found.
    NoProbe,
    /// The probe stopped answering or was unplugged during the run.
    ProbeIo,
    /// No usable target: not powered, not responding, unknown chip, core will not halt.
    NoTarget,
    /// The chip is read-protected (RDP) or the area is write-protected.
    Protected,
    /// The flash controller reported an error or timed out.
    Flash,
    /// Read-back or CRC verification found different contents.
    Verify,
    /// The requested operation does not exist on this chip.
    Unsupported,
    /// Stopped by Ctrl-C or SIGTERM.
    Interrupted,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The process exit code for this kind. 0 is success; st-flash used 255 for
    /// every failure, which stays the code for `Other`.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage => 2,
            ErrorKind::Input => 3,
            ErrorKind::NoProbe => 4,
            ErrorKind::NoTarget => 5,
            ErrorKind::Protected => 6,
            ErrorKind::Flash => 7,
            ErrorKind::Verify => 8,
            ErrorKind::ProbeIo => 9,
            ErrorKind::Unsupported => 10,
            ErrorKind::Interrupted => 130,
            ErrorKind::Other => 255,
        }
    }

    /// Stable machine-readable name (JSON output).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Input => "input",
            ErrorKind::NoProbe => "no-probe",
            ErrorKind::ProbeIo => "probe-io",
            ErrorKind::NoTarget => "no-target",
            ErrorKind::Protected => "protected",
            ErrorKind::Flash => "flash",
            ErrorKind::Verify => "verify",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Other => "other",
        }
    }

    /// Every kind, in exit-code order (for the README table and its test).
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::Usage,
        ErrorKind::Input,
        ErrorKind::NoProbe,
        ErrorKind::NoTarget,
        ErrorKind::Protected,
        ErrorKind::Flash,
        ErrorKind::Verify,
        ErrorKind::ProbeIo,
        ErrorKind::Unsupported,
        ErrorKind::Interrupted,
        ErrorKind::Other,
    ];
}

/// A classified error with a one-line message that says what to do.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// The address of a memory access that faulted on the target's bus (an
    /// AP FAULT), when that is what went wrong: the operation layer checks
    /// the link before blaming it ([`crate::ops`] `link`).
    pub fault_addr: Option<u32>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), fault_addr: None }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Input, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }
    /// Prefix the message with what was being done.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<crate::transport::TransportError> for Error {
    fn from(e: crate::transport::TransportError) -> Self {
        use crate::transport::TransportError as T;
        let kind = match e {
            T::NotFound { .. } | T::Permission { .. } | T::Busy { .. } | T::Unsupported { .. } => ErrorKind::NoProbe,
            T::Disconnected | T::Timeout { .. } | T::Stall | T::Usb(_) => ErrorKind::ProbeIo,
        };
        Error::new(kind, e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Other, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_and_nonzero() {
        let mut codes: Vec<u8> = ErrorKind::ALL.iter().map(|k| k.exit_code()).collect();
        assert!(codes.iter().all(|&c| c != 0));
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
    }
}
