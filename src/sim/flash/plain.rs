//! Placeholder flash model: a bare array with no controller.
//!
//! The debugger can read it; bus writes to it fault (there is no controller to
//! program it through). Tests fill it with `poke`, and it persists through the
//! state file. The F-series model replaces it for the F103 later, taking over
//! the part list below.

use std::ops::Range;

use super::{Access, BusFault, FlashArray, FlashModel, FlashStats, Initiator, Nanos, Width};
use crate::sim::chips::ChipProfile;

/// Parts simulated with the placeholder model.
pub const PARTS: &[ChipProfile] = &[ChipProfile {
    name: "stm32f103c8",
    aliases: &["f103", "stm32f103", "f103x8"],
    // SW-DP of Cortex-M3 STM32F1 (protocol §11.1 [obs], §8.13).
    dpidr: 0x1BA0_1477,
    // Cortex-M3 r1p1 (flash-families §1.1; protocol §11.1 [obs]).
    cpuid: 0x411F_C231,
    // DEV_ID 0x410 (F1 medium density, flash-families §1.5), REV_ID 0x2003.
    idcode: 0x2003_6410,
    // flash-families §1.2: F1 DBGMCU_IDCODE; DBGMCU_CR follows it (protocol §9).
    dbgmcu_addr: 0xE004_2000,
    dbgmcu_ctrl_words: 1,
    // flash-families §1.4: F1 flash-size register.
    flash_size_addr: 0x1FFF_F7E0,
    flash_size_kib: 64,
    // flash-families §1.5 row 0x410: 20 KiB SRAM.
    sram: &[(0x2000_0000, 20 * 1024)],
    // flash-families §1.5 row 0x410: system memory 0x1FFFF000-0x1FFFF7FF.
    system_memory: (0x1FFF_F000, 0x800),
    boot_address: 0x0800_0000,
    voltage_mv: 3300,
    flash: f103c8_flash,
}];

fn f103c8_flash() -> Box<dyn FlashModel> {
    Box::new(PlainFlash::new(0x0800_0000, 64 * 1024))
}

/// A flash array readable by the debugger, with no controller and no registers.
pub struct PlainFlash {
    array: FlashArray,
}

impl PlainFlash {
    /// `size` bytes at `base`, erased to 0xFF, no ECC.
    pub fn new(base: u32, size: u32) -> PlainFlash {
        PlainFlash { array: FlashArray::new(base, size, 0xFF, 0) }
    }

    fn in_range(&self, addr: u32, len: u32) -> bool {
        let r = self.array.range();
        addr >= r.start && addr.checked_add(len).is_some_and(|end| end <= r.end)
    }
}

impl FlashModel for PlainFlash {
    fn name(&self) -> &'static str {
        "plain flash (no controller)"
    }

    fn regions(&self) -> Vec<Range<u32>> {
        vec![self.array.range()]
    }

    fn is_register(&self, _addr: u32) -> bool {
        false
    }

    fn advance(&mut self, _now: Nanos, _stats: &mut FlashStats) {}

    fn stall_until(&self, _addr: u32, _write: bool, _by: Initiator, now: Nanos) -> Nanos {
        now
    }

    fn read(&mut self, addr: u32, width: Width, _acc: &mut Access) -> Result<u32, BusFault> {
        if !self.in_range(addr, width.bytes()) {
            return Err(BusFault);
        }
        Ok(self.array.read(addr, width))
    }

    fn write(&mut self, _addr: u32, _width: Width, _value: u32, _acc: &mut Access) -> Result<(), BusFault> {
        // No controller: flash cannot be written over the bus.
        Err(BusFault)
    }

    fn reset(&mut self) {}

    fn save(&self) -> Vec<(String, Vec<u8>)> {
        vec![("flash".to_string(), self.array.data.clone())]
    }

    fn load(&mut self, blobs: &[(String, Vec<u8>)]) -> Result<(), String> {
        let (_, data) = blobs
            .iter()
            .find(|(name, _)| name == "flash")
            .ok_or_else(|| format!("{}: state has no 'flash' blob", self.name()))?;
        if data.len() != self.array.data.len() {
            return Err(format!(
                "{}: saved flash is {} bytes, expected {}",
                self.name(),
                data.len(),
                self.array.data.len()
            ));
        }
        self.array.data.copy_from_slice(data);
        Ok(())
    }

    fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        self.array.slice(addr, len).map(|s| s.to_vec())
    }

    fn poke(&mut self, addr: u32, data: &[u8]) -> bool {
        self.array.poke(addr, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc<'a>(stats: &'a mut FlashStats, req: &'a mut super::super::Requests) -> Access<'a> {
        Access { now: 0, by: Initiator::Debugger, stats, requests: req }
    }

    #[test]
    fn reads_erased_then_poked_data_and_refuses_bus_writes() {
        let mut f = PlainFlash::new(0x0800_0000, 1024);
        let (mut s, mut r) = (FlashStats::default(), Default::default());
        assert_eq!(f.read(0x0800_0000, Width::Word, &mut acc(&mut s, &mut r)), Ok(0xFFFF_FFFF));
        assert!(f.poke(0x0800_0010, &[1, 2, 3, 4]));
        assert_eq!(f.read(0x0800_0010, Width::Word, &mut acc(&mut s, &mut r)), Ok(0x0403_0201));
        assert_eq!(f.read(0x0800_0011, Width::Byte, &mut acc(&mut s, &mut r)), Ok(2));
        assert_eq!(f.read(0x0800_0012, Width::Half, &mut acc(&mut s, &mut r)), Ok(0x0403));
        assert_eq!(f.write(0x0800_0000, Width::Word, 0, &mut acc(&mut s, &mut r)), Err(BusFault));
        assert_eq!(f.read(0x0800_03FE, Width::Word, &mut acc(&mut s, &mut r)), Err(BusFault));
        assert!(!f.poke(0x0800_03FE, &[0; 4]));
        assert_eq!(f.peek(0x0800_0010, 2), Some(vec![1, 2]));
        assert_eq!(f.peek(0x0800_03FF, 2), None);
    }

    #[test]
    fn save_and_load_round_trip_and_reject_wrong_sizes() {
        let mut f = PlainFlash::new(0x0800_0000, 64);
        f.poke(0x0800_0004, &[0xAB]);
        let blobs = f.save();
        let mut g = PlainFlash::new(0x0800_0000, 64);
        g.load(&blobs).unwrap();
        assert_eq!(g.peek(0x0800_0004, 1), Some(vec![0xAB]));
        let mut h = PlainFlash::new(0x0800_0000, 128);
        assert!(h.load(&blobs).unwrap_err().contains("64 bytes"));
        assert!(h.load(&[]).is_err());
    }
}
