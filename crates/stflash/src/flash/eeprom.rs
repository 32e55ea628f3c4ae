//! Data EEPROM (STM32L0/L1): a memory that is written word by word in
//! place, without a separate erase, behind its own lock.
//!
//! A driver that has one describes it through [`DataEeprom`]
//! (`FlashController::eeprom`): where it is on this part, how to open and
//! close its lock, and the sequence that stores one word. What is generic —
//! placing image bytes there, keeping the bytes around them, skipping words
//! that already hold their value, verifying — lives in `crate::ops::write`.

use super::{FlashError, RegOp};
use crate::chip::MemRegion;
use crate::mcu::Target;

/// The data EEPROM of the connected part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EepromArea {
    /// Where it is on this part.
    pub region: MemRegion,
    /// Every address any part of the die may have EEPROM at: an address in
    /// here but outside `region` is past the EEPROM of this part.
    pub window: MemRegion,
    /// The parts `region` was chosen for, for messages ("STM32L051x8, …").
    pub parts: &'static str,
    /// A part stflash cannot tell from these (same DEV_ID, same flash size)
    /// whose EEPROM is smaller: its size in bytes and its name. Writes past
    /// that size are warned about.
    pub smaller: Option<(u32, &'static str)>,
    /// Value of an erased byte.
    pub erased: u8,
}

impl EepromArea {
    /// "2 KiB at 0x08080000-0x080807FF (STM32L051x8, …)", for messages.
    pub fn describe(&self) -> String {
        let size = if self.region.size % 1024 == 0 {
            format!("{} KiB", self.region.size / 1024)
        } else {
            format!("{} bytes", self.region.size)
        };
        format!("{size} at 0x{:08X}-0x{:08X} ({})", self.region.base, self.region.end() - 1, self.parts)
    }

    /// Why `[addr, addr+len)` cannot be used, when it touches the window but
    /// is not entirely inside this part's EEPROM; `None` when it is inside
    /// (or nowhere near).
    pub fn refuse(&self, addr: u32, len: u64) -> Option<String> {
        let end = addr as u64 + len.max(1);
        let touches = (addr as u64) < self.window.end() && end > self.window.base as u64;
        if !touches || self.region.contains_range(addr, len.max(1)) {
            return None;
        }
        let what = if self.region.contains(addr) {
            format!("0x{addr:08X}-0x{:08X} runs past the end of the data EEPROM", end - 1)
        } else {
            format!("0x{addr:08X} is not in the data EEPROM")
        };
        Some(format!("{what}: this chip has {}", self.describe()))
    }
}

/// A controller's data EEPROM.
pub trait DataEeprom {
    /// The EEPROM of the part whose flash-size register reads `flash_kib`
    /// (the EEPROM size depends on the part, not only on the die).
    fn area(&self, flash_kib: u32) -> EepromArea;

    /// Open the EEPROM for writing (its own lock only; only when locked).
    fn unlock_eeprom(&mut self, t: &mut Target) -> Result<(), FlashError>;

    /// Close it again.
    fn lock_eeprom(&mut self, t: &mut Target) -> Result<(), FlashError>;

    /// The sequence that stores the word `new` at `addr` (4-aligned) over
    /// `old`, ending with a wait (its typical time depends on what the
    /// hardware must do: erase `old`, program `new`).
    fn store_word_ops(&self, addr: u32, old: u32, new: u32) -> Vec<RegOp>;
}
