//! CRC over flash, computed on the target by the flash routine and checked
//! against the host's own computation.
//!
//! Used to skip sectors that already hold the wanted bytes, to avoid reading
//! back uncovered parts of a sector that are blank, and to verify a write
//! without reading it back. Three kinds of unit, tried in this order:
//!
//! * **The H7 flash interface's CRC unit**, per bank (RM0433 §4.3.12;
//!   CMSIS stm32h743xx.h `FLASH_TypeDef`: CRCCR 0x50, CRCSADD 0x54, CRCEADD
//!   0x58, CRCDATA 0x5C; CR.CRC_EN bit 15, SR.CRC_BUSY bit 3, SR.CRCEND bit
//!   27 cleared through CCR). The RM names the polynomial 0x04C11DB7 and
//!   requires burst-aligned start and end addresses; it does not give the
//!   initial value or the input order. Measured by users (ST community,
//!   STM32H753, <https://qa-community.st.com/stm32-mcus-security-36/stm32h753-flash-crc-specification-52577>;
//!   burst alignment: <https://qa-community.st.com/stm32-mcus-security-36/stm32h753-flash-crc-address-limitations-52648>;
//!   burst length: <https://qa-community.st.com/stm32-mcus-products-25/stm32h7-flash-crc-164039>):
//!   CRC-32 without reflection or final XOR over each little-endian word
//!   most significant byte first, from the initial value 0xB6C0AE5A at every
//!   computation, whatever the burst length. Nothing here relies on those
//!   numbers: they are solved for (below).
//! * **The CRC peripheral** every other STM32 has (the chip table's
//!   [`CrcPeripheral`]: address, RCC clock enable, INIT/POL), fed by the
//!   routine: the core reads flash word by word and writes each to DR (the
//!   FEED op). Its reset configuration is CRC-32/MPEG-2 over 32-bit words
//!   (CRC_INIT and CRC_POL reset values, RM0360 §6.4, RM0433 §21.4); the
//!   routine enables its clock and writes INIT, POL and CR (RESET, no
//!   reversal, 32-bit polynomial) itself, since an application may have
//!   changed them.
//! * **The routine's own CRC** (the SWCRC op: CRC-32/MPEG-2 over words, a
//!   byte per lookup in a 1 KiB table the routine builds in RAM, 6
//!   instructions per byte), when neither can be trusted.
//!
//! **Calibration solves, it does not guess.** A CRC is affine in its initial
//! value ([`model`]): the unit hashes two runs of bytes the host knows (the
//! routine's own code in SRAM for the peripheral and the software CRC; for
//! the H7 unit, which hashes flash only, three bursts at the start of bank 1
//! read over SWD), the host solves the first for the initial value under
//! each candidate input order and output reflection, and keeps the models
//! that predict the second, which differs in bytes and length. A unit no
//! model explains (absent, garbage, another polynomial, a final XOR, no
//! reset between ranges) is not used. When the runs cannot tell the input
//! orders apart (erased flash reads the same in every order), the models
//! are asked only about bytes on which they agree, and one more run over
//! bytes read back after programming settles the order before verification.
//! A CRC mismatch after writing is always confirmed by reading the range
//! back before anything is reported.

pub mod model;

use std::time::Duration;

pub use model::{CrcModel, InputOrder, Run, Solution};

use super::routine::Op;
use crate::chip::{Bank2Base, Chip, CrcPeripheral, DualBank};

/// CRC-32/MPEG-2 of flash bytes as the CRC peripheral computes it by
/// default: each 32-bit little-endian word most significant byte first.
/// `bytes.len()` must be a multiple of 4.
pub fn host_crc(bytes: &[u8]) -> u32 {
    CrcModel::MPEG2.crc(bytes)
}

// H7 flash interface registers (RM0433 §4, RM0455 §4, RM0468 §4); the CRC sequence
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

/// Instructions the SWCRC op spends per 32-bit word (stream.S: the load,
/// the XOR, four table steps of five instructions, the loop).
pub const SOFTWARE_CYCLES_PER_WORD: u64 = 24;

/// `WriteReport::verify_method` of each kind of unit (JSON `verify_method`).
pub const METHOD_FLASH_UNIT: &str = "crc-flash-unit";
pub const METHOD_PERIPHERAL: &str = "crc-peripheral";
pub const METHOD_SOFTWARE: &str = "crc-software";

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
    /// The routine's own CRC, computed by the core.
    Software {
        /// One core cycle at the reset clock (ns), for scheduling polls.
        cycle_ns: u32,
    },
}

impl CrcUnit {
    /// The units stflash tries on `chip`, in order: the flash CRC unit on H7,
    /// the CRC peripheral elsewhere (when the chip table knows where it is),
    /// then the routine's own CRC.
    pub fn candidates(chip: &Chip) -> Vec<CrcUnit> {
        let mut out = Vec::new();
        if chip.controller.has_flash_crc_unit() {
            let bank2 = match chip.flash.dual {
                Some(DualBank { bank2: Bank2Base::Fixed(addr), .. }) => addr,
                _ => chip.flash.base,
            };
            out.push(CrcUnit::H7 { word: chip.flash.write_unit, bank_base: [chip.flash.base, bank2] });
        } else if let Some(p) = chip.crc {
            out.push(CrcUnit::Peripheral(p));
        }
        out.push(CrcUnit::software(chip));
        out
    }

    /// The routine's own CRC on `chip`.
    pub fn software(chip: &Chip) -> CrcUnit {
        // The peripheral's word time is 8 cycles of the reset clock (chip
        // table); without one, assume the slowest reset clock (2 MHz MSI).
        CrcUnit::Software { cycle_ns: chip.crc.map_or(500, |p| (p.word_ns / 8).max(1)) }
    }

    /// The same unit on a core `k` times faster than its reset clock (the
    /// clock raised for the write): the peripheral's and the software CRC's
    /// times per word, counted in core cycles, shrink by `k`.
    pub fn faster(self, k: u32) -> CrcUnit {
        let k = k.max(1);
        match self {
            CrcUnit::Peripheral(p) => CrcUnit::Peripheral(CrcPeripheral { word_ns: (p.word_ns / k).max(1), ..p }),
            CrcUnit::Software { cycle_ns } => CrcUnit::Software { cycle_ns: (cycle_ns / k).max(1) },
            h7 => h7,
        }
    }

    /// Ranges must start and end on multiples of this (bytes): bursts of 4
    /// flash words (CRC_BURST = 0, the smallest) on H7, a word otherwise.
    pub fn align(&self) -> u32 {
        match self {
            CrcUnit::H7 { word, .. } => 4 * word,
            CrcUnit::Peripheral(_) | CrcUnit::Software { .. } => 4,
        }
    }

    /// For messages.
    pub fn name(&self) -> &'static str {
        match self {
            CrcUnit::H7 { .. } => "flash CRC unit",
            CrcUnit::Peripheral(_) => "CRC peripheral",
            CrcUnit::Software { .. } => "flash routine's software CRC",
        }
    }

    /// `WriteReport::verify_method` when this unit verified a write.
    pub fn method(&self) -> &'static str {
        match self {
            CrcUnit::H7 { .. } => METHOD_FLASH_UNIT,
            CrcUnit::Peripheral(_) => METHOD_PERIPHERAL,
            CrcUnit::Software { .. } => METHOD_SOFTWARE,
        }
    }

    /// It can hash RAM (calibration on the routine's code, nothing read over SWD).
    pub fn hashes_ram(&self) -> bool {
        !matches!(self, CrcUnit::H7 { .. })
    }

    fn h7_reg(bank: u8, off: u32) -> u32 {
        H7_BASE + bank as u32 * H7_STRIDE + off
    }

    /// Ops that prepare the unit before its first range in a routine run:
    /// the peripheral's clock, INIT and POL.
    pub fn prepare_ops(&self) -> Vec<Op> {
        match self {
            CrcUnit::H7 { .. } | CrcUnit::Software { .. } => Vec::new(),
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
                CrcUnit::Software { .. } => ops.push(Op::SwCrc { src: start, words: (end - start) / 4 }),
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
            CrcUnit::Peripheral(_) | CrcUnit::Software { .. } => [(0, 0x2000_0000, 0x2000_0004)],
        };
        self.ops(&probe).iter().map(Op::words).sum::<u32>() + 3
    }

    /// Expected and worst-case time to hash `bytes`: 8 cycles per flash word
    /// at 64 MHz for the H7 unit (an assumption), the chip table's estimate
    /// per word for the peripheral, the routine's instructions at the reset
    /// clock for the software CRC. The worst case allows a core 20 times
    /// slower than its reset clock.
    pub fn time(&self, bytes: u32) -> (Duration, Duration) {
        let (per, n) = match self {
            CrcUnit::H7 { word, .. } => (125, bytes / word),
            CrcUnit::Peripheral(p) => (p.word_ns as u64, bytes / 4),
            CrcUnit::Software { cycle_ns } => (SOFTWARE_CYCLES_PER_WORD * *cycle_ns as u64, bytes / 4),
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
        let mpeg2 = crc::Crc::<u32>::new(&crc::CRC_32_MPEG_2);
        assert_eq!(host_crc(b"4321"), mpeg2.checksum(b"1234"));
        assert_eq!(host_crc(&[0xFF; 8]), mpeg2.checksum(&[0xFF; 8]));
    }
}
