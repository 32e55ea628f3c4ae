//! Hardware CRC over flash, run by the flash routine, checked against the
//! same CRC computed on the host with the `crc` crate.
//!
//! Used to skip sectors that already hold the wanted bytes, to avoid reading
//! back uncovered parts of a sector that are blank, and to verify a write
//! without reading it back (peers.md (b) items 1-2).
//!
//! The H7 flash interface has a CRC unit per bank (flash-families.md §2.8:
//! CRCCR 0x50, CRCSADD 0x54, CRCEADD 0x58, CRCDATA 0x5C, CR.CRC_EN bit 15,
//! SR.CRC_BUSY bit 3, SR.CRCEND bit 27 cleared through CCR; CRCCR.ALL_BANK is
//! bit 22, §6 row 6). ST documents its parameters only partly: the polynomial
//! is 0x04C11DB7, the initial value and bit order are not stated, and start
//! and end must be burst-aligned (peers.md §2 "Target-side CRC"). stflash
//! assumes CRC-32/MPEG-2 over 32-bit words taken most significant byte first
//! (the CRC peripheral's convention, peers.md §5), with the end register
//! naming the last word, and never trusts that blindly: a one-time
//! calibration per session compares the unit with the host on flash bytes
//! read over SWD, and a CRC mismatch after writing is always confirmed by
//! reading the range back before anything is reported.

use crc::{Crc, CRC_32_MPEG_2};

use super::routine::{Op, WaitSpec};
use super::StatusReg;
use crate::target::chips::{Chip, Controller};

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

// H7 flash interface registers (flash-families.md §2.8).
const H7_BASE: u32 = 0x5200_2000;
const H7_STRIDE: u32 = 0x100;
const CR: u32 = 0x0C;
const SR: u32 = 0x10;
const CCR: u32 = 0x14;
const CRCCR: u32 = 0x50;
const CRCSADD: u32 = 0x54;
const CRCEADD: u32 = 0x58;
const CRCDATA: u32 = 0x5C;
const CR_CRC_EN: u32 = 1 << 15;
const SR_CRC_BUSY: u32 = 1 << 3;
const SR_CRCEND: u32 = 1 << 27;
/// CRCRDERR: a read of the CRC unit hit a protected area (§2.8 SR list).
const SR_CRCRDERR: u32 = 1 << 28;
const CRCCR_START: u32 = 1 << 16;
const CRCCR_CLEAN: u32 = 1 << 17;

/// A CRC unit that can hash flash ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrcUnit {
    /// Ranges must start and end on multiples of this (bytes).
    pub align: u32,
    /// Flash word of the bank (bytes).
    word: u32,
    /// Bank bases: bank-relative offsets go into CRCSADD/CRCEADD.
    bank_base: [u32; 2],
}

impl CrcUnit {
    /// The unit of `chip`, if stflash knows how to drive one there.
    pub fn for_chip(chip: &Chip) -> Option<CrcUnit> {
        let word = match chip.controller {
            Controller::H74x | Controller::H72x => 32,
            Controller::H7ab => 16,
            _ => return None,
        };
        // Bursts of 4 flash words (CRC_BURST = 0), the smallest.
        Some(CrcUnit { align: 4 * word, word, bank_base: [0x0800_0000, 0x0810_0000] })
    }

    fn reg(bank: u8, off: u32) -> u32 {
        H7_BASE + bank as u32 * H7_STRIDE + off
    }

    /// Ops that enable the unit of `bank` (before a series of `range_ops`).
    pub fn enable_ops(&self, bank: u8) -> Vec<Op> {
        vec![Op::Write { addr: Self::reg(bank, CR), value: CR_CRC_EN }]
    }

    /// Ops that switch the unit of `bank` off again (CR back to 0).
    pub fn disable_ops(&self, bank: u8) -> Vec<Op> {
        vec![Op::Write { addr: Self::reg(bank, CR), value: 0 }]
    }

    /// Ops that hash `[start, end)` of `bank` and append the CRC to the results.
    pub fn range_ops(&self, bank: u8, start: u32, end: u32) -> Vec<Op> {
        debug_assert!(start % self.align == 0 && end % self.align == 0 && end > start);
        let base = self.bank_base[bank as usize];
        let status = StatusReg {
            addr: Self::reg(bank, SR),
            busy: SR_CRC_BUSY,
            errors: SR_CRCRDERR,
            clear_reg: Some(Self::reg(bank, CCR)),
            eop: SR_CRCEND,
        };
        vec![
            Op::Write { addr: Self::reg(bank, CRCCR), value: CRCCR_CLEAN },
            Op::Write { addr: Self::reg(bank, CRCSADD), value: start - base },
            Op::Write { addr: Self::reg(bank, CRCEADD), value: end - 4 - base },
            Op::Write { addr: Self::reg(bank, CRCCR), value: CRCCR_START },
            Op::Wait(WaitSpec::new(bank, &status, format!("computing the CRC of 0x{start:08X}-0x{:08X}", end - 1))),
            Op::Read { addr: Self::reg(bank, CRCDATA) },
        ]
    }

    /// Script words of one `range_ops`.
    pub fn range_words(&self) -> u32 {
        self.range_ops(0, self.bank_base[0], self.bank_base[0] + self.align).iter().map(Op::words).sum()
    }

    pub fn word(&self) -> u32 {
        self.word
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
