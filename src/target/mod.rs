//! Target access: Cortex-M debug, chip identification, the chip table.

pub mod chips;

/// Errors from target access.
#[derive(Debug, Clone)]
pub enum TargetError {
    Other(String),
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetError::Other(s) => f.write_str(s),
        }
    }
}

impl From<TargetError> for crate::Error {
    fn from(e: TargetError) -> Self {
        crate::Error::other(e.to_string())
    }
}

/// A connected target.
pub struct Target {}

impl Target {
    pub fn read32(&mut self, _addr: u32) -> Result<u32, TargetError> {
        unimplemented!()
    }
    pub fn write32(&mut self, _addr: u32, _value: u32) -> Result<(), TargetError> {
        unimplemented!()
    }
}
