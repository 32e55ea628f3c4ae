//! Hardware CRC over flash, run by the flash routine, checked against the
//! same CRC computed on the host with the `crc` crate.
//!
//! Used to skip sectors that already hold the wanted bytes, to avoid reading
//! back uncovered parts of a sector that are blank, and to verify a write
//! without reading it back (peers.md (b) items 1-2). Two kinds of unit:
//!
//! * **The H7 flash interface's CRC unit**, per bank (flash-families.md §2.8:
//!   CRCCR 0x50, CRCSADD 0x54, CRCEADD 0x58, CRCDATA 0x5C, CR.CRC_EN bit 15,
//!   SR.CRC_BUSY bit 3, SR.CRCEND bit 27 cleared through CCR; CRCCR.ALL_BANK
//!   is bit 22, §6 row 6). ST documents its parameters only partly: the
//!   polynomial is 0x04C11DB7, the initial value and bit order are not
//!   stated, and start and end must be burst-aligned (peers.md §2
//!   "Target-side CRC"). stflash assumes CRC-32/MPEG-2 over 32-bit words
//!   taken most significant byte first, with the end register naming the last
//!   word.
//! * **The CRC peripheral** every other STM32 has (the chip table's
//!   [`CrcPeripheral`]: address, RCC clock enable, INIT/POL), fed by the
//!   routine: the core reads flash word by word and writes each to DR (the
//!   FEED op). Its reset configuration is CRC-32/MPEG-2 over 32-bit words,
//!   each word most significant bit first (peers.md §5); the routine enables
//!   its clock and writes INIT, POL and CR (RESET, no reversal, 32-bit
//!   polynomial) itself, since the application may have changed them.
//!
//! Neither is trusted blindly: a one-time calibration per write compares the
//! unit with the host on known bytes (flash read over SWD for the H7 unit,
//! the routine's own code in SRAM for the peripheral), and a CRC mismatch
//! after writing is always confirmed by reading the range back before
//! anything is reported.

use crc::{Crc, CRC_32_MPEG_2};

use std::time::Duration;

use super::routine::Op;
use crate::chip::{Bank2Base, Chip, CrcPeripheral, DualBank};

const MPEG2: Crc<u32> = Crc::<u32>::new(&CRC_32_MPEG_2);

/// CRC-32/MPEG-2 of flash bytes as the CRC unit sees them: each 32-bit
/// little-endian word most significant byte first. `bytes.len()` must be a
/// multiple of 4.
pub fn host_crc(bytes: &[u8]) -> u32 {
    let mut d = MPEG2.digest();
    for w in bytes.chunks(4) {
        let mut word = [0u8; 4];
        word[..w.len()].copy_from_slice(w);
        word.reverse();
        d.update(&word);
    }
    d.finalize()
}

/// CRC of `len` erased bytes.
pub fn erased_crc(len: usize, erased: u8) -> u32 {
    host_crc(&vec![erased; len])
}

// H7 flash interface registers (flash-families.md §2.8); the CRC sequence
// itself (CRCCR, CRCSADD, CRCEADD, SR.CRC_BUSY/CRCRDERR, CCR, CRCDATA) is the
// routine's H7CRC op (stream.S).
const H7_BASE: u32 = 0x5200_2000;
const H7_STRIDE: u32 = 0x100;
const CR: u32 = 0x0C;
const CR_CRC_EN: u32 = 1 << 15;

// CRC peripheral registers (offsets from its base; see the chip table).
pub(crate) const P_DR: u32 = 0x00;
pub(crate) const P_CR: u32 = 0x08;
pub(crate) const P_INIT: u32 = 0x10;
pub(crate) const P_POL: u32 = 0x14;
/// CR.RESET loads DR with INIT; the other CR bits written 0 mean a 32-bit
/// polynomial and no input or output reversal.
pub(crate) const P_CR_RESET: u32 = 1;
const MPEG2_INIT: u32 = 0xFFFF_FFFF;
const MPEG2_POLY: u32 = 0x04C1_1DB7;

/// A CRC unit that can hash flash ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrcUnit {
    /// The H7 flash interface's unit.
    H7 {
        /// Flash word of the bank (bytes).
        word: u32,
        /// Bank bases: bank-relative offsets go into CRCSADD/CRCEADD.
        bank_base: [u32; 2],
    },
    /// The CRC peripheral, fed by the routine.
    Peripheral(CrcPeripheral),
}

impl CrcUnit {
    /// The unit stflash uses on `chip`: the flash CRC unit on H7, the CRC
    /// peripheral elsewhere (when the chip table knows where it is).
    pub fn for_chip(chip: &Chip) -> Option<CrcUnit> {
        if !chip.controller.has_flash_crc_unit() {
            return chip.crc.map(CrcUnit::Peripheral);
        }
        let bank2 = match chip.flash.dual {
            Some(DualBank { bank2: Bank2Base::Fixed(addr), .. }) => addr,
            _ => chip.flash.base,
        };
        Some(CrcUnit::H7 { word: chip.flash.write_unit, bank_base: [chip.flash.base, bank2] })
    }

    /// Ranges must start and end on multiples of this (bytes): bursts of 4
    /// flash words (CRC_BURST = 0, the smallest) on H7, a word for the peripheral.
    pub fn align(&self) -> u32 {
        match self {
            CrcUnit::H7 { word, .. } => 4 * word,
            CrcUnit::Peripheral(_) => 4,
        }
    }

    /// For messages.
    pub fn name(&self) -> &'static str {
        match self {
            CrcUnit::H7 { .. } => "flash CRC unit",
            CrcUnit::Peripheral(_) => "CRC peripheral",
        }
    }

    /// It can hash RAM (calibration on the routine's code, nothing read over SWD).
    pub fn hashes_ram(&self) -> bool {
        matches!(self, CrcUnit::Peripheral(_))
    }

    fn h7_reg(bank: u8, off: u32) -> u32 {
        H7_BASE + bank as u32 * H7_STRIDE + off
    }

    /// Ops that prepare the unit before its first range in a routine run:
    /// the peripheral's clock, INIT and POL.
    pub fn prepare_ops(&self) -> Vec<Op> {
        match self {
            CrcUnit::H7 { .. } => Vec::new(),
            CrcUnit::Peripheral(p) => {
                let mut ops = vec![Op::Orr { addr: p.clock_enable.0, bits: p.clock_enable.1 }];
                if p.init {
                    ops.push(Op::Write { addr: p.base + P_INIT, value: MPEG2_INIT });
                }
                if p.pol {
                    ops.push(Op::Write { addr: p.base + P_POL, value: MPEG2_POLY });
                }
                ops
            }
        }
    }

    /// Ops that hash `ranges` (bank, start, end) in order, each appending its
    /// CRC to the results (the H7 unit is switched on and off per run of
    /// ranges in one bank).
    pub fn ops(&self, ranges: &[(u8, u32, u32)]) -> Vec<Op> {
        let mut ops = Vec::new();
        let mut on: Option<u8> = None;
        for &(bank, start, end) in ranges {
            debug_assert!(start % self.align() == 0 && end % self.align() == 0 && end > start);
            match self {
                CrcUnit::H7 { bank_base, .. } => {
                    if on != Some(bank) {
                        if let Some(b) = on {
                            ops.push(Op::Write { addr: Self::h7_reg(b, CR), value: 0 });
                        }
                        ops.push(Op::Write { addr: Self::h7_reg(bank, CR), value: CR_CRC_EN });
                        on = Some(bank);
                    }
                    // CRCCR CLEAN, CRCSADD, CRCEADD, CRCCR START, wait for
                    // SR.CRC_BUSY, fail on CRCRDERR, clear CRCEND in CCR, read
                    // CRCDATA: one H7CRC op (stream.S, same registers).
                    let base = bank_base[bank as usize];
                    ops.push(Op::H7Crc { regs: Self::h7_reg(bank, 0), start: start - base, end: end - 4 - base, bank });
                }
                CrcUnit::Peripheral(p) => ops.extend([
                    Op::Write { addr: p.base + P_CR, value: P_CR_RESET },
                    Op::Feed { src: start, words: (end - start) / 4, dst: p.base + P_DR },
                    Op::Read { addr: p.base + P_DR },
                ]),
            }
        }
        if let Some(b) = on {
            ops.push(Op::Write { addr: Self::h7_reg(b, CR), value: 0 });
        }
        ops
    }

    /// Script words of `ops` for one range, at most (switching included).
    pub fn range_words(&self) -> u32 {
        let probe = match self {
            CrcUnit::H7 { bank_base, .. } => [(0, bank_base[0], bank_base[0] + self.align())],
            CrcUnit::Peripheral(_) => [(0, 0x2000_0000, 0x2000_0004)],
        };
        self.ops(&probe).iter().map(Op::words).sum::<u32>() + 3
    }

    /// Expected and worst-case time to hash `bytes`: 8 cycles per flash word
    /// at 64 MHz for the H7 unit (an assumption), the chip table's estimate
    /// per word for the peripheral.
    pub fn time(&self, bytes: u32) -> (Duration, Duration) {
        let (per, n) = match self {
            CrcUnit::H7 { word, .. } => (125, bytes / word),
            CrcUnit::Peripheral(p) => (p.word_ns as u64, bytes / 4),
        };
        let typical = Duration::from_nanos(per * n as u64);
        (typical, typical * 20 + Duration::from_millis(20))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_crc_takes_words_msb_first() {
        // CRC-32/MPEG-2 check value: "123456789" → 0x0376E6E7. As words
        // MSB-first, the bytes of each word are reversed first.
        assert_eq!(MPEG2.checksum(b"123456789"), 0x0376_E6E7);
        assert_eq!(host_crc(b"4321"), MPEG2.checksum(b"1234"));
        assert_eq!(erased_crc(8, 0xFF), MPEG2.checksum(&[0xFF; 8]));
    }
}
