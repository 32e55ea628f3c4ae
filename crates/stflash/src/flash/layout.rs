//! Flash layout in force on a connected chip: banks, their sectors, and the
//! address checks every operation runs before touching the chip.

use std::fmt;

use crate::chip::{Bank2Base, FlashSpec};

/// One erase unit (page or sector).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sector {
    /// Bank index, 0 for bank 1.
    pub bank: u8,
    /// Index within its bank, counting from 0 at the bank base (the number a
    /// bank-relative sector field takes; drivers encode it as their RM says).
    pub index: u32,
    pub addr: u32,
    pub size: u32,
}

impl Sector {
    pub fn end(&self) -> u64 {
        self.addr as u64 + self.size as u64
    }
}

impl fmt::Display for Sector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sector {} of bank {} (0x{:08X}, {} KiB)", self.index, self.bank + 1, self.addr, self.size / 1024)
    }
}

/// A bank: a contiguous run of sectors driven by one set of controller registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bank {
    pub base: u32,
    /// Sector sizes in address order, as runs of (count, size).
    pub runs: Vec<(u32, u32)>,
}

impl Bank {
    /// Build a bank of `size` bytes from runs whose last entry repeats.
    pub fn from_runs(base: u32, runs: &[(u32, u32)], size: u32) -> Bank {
        let mut out: Vec<(u32, u32)> = Vec::new();
        let mut left = size as u64;
        for (i, &(count, sz)) in runs.iter().enumerate() {
            let last = i + 1 == runs.len();
            let mut n = if last { u32::MAX } else { count };
            while n > 0 && left >= sz as u64 {
                match out.last_mut() {
                    Some((c, s)) if *s == sz => *c += 1,
                    _ => out.push((1, sz)),
                }
                left -= sz as u64;
                n -= 1;
            }
            if left == 0 {
                break;
            }
        }
        Bank { base, runs: out }
    }

    pub fn size(&self) -> u64 {
        self.runs.iter().map(|&(c, s)| c as u64 * s as u64).sum()
    }

    pub fn end(&self) -> u64 {
        self.base as u64 + self.size()
    }

    pub fn contains(&self, addr: u32) -> bool {
        addr >= self.base && (addr as u64) < self.end()
    }

    pub fn sector_count(&self) -> u32 {
        self.runs.iter().map(|r| r.0).sum()
    }

    /// All sectors of this bank (bank number filled in by the caller).
    pub fn sectors(&self, bank: u8) -> Vec<Sector> {
        let mut out = Vec::with_capacity(self.sector_count() as usize);
        let mut addr = self.base;
        let mut index = 0;
        for &(count, size) in &self.runs {
            for _ in 0..count {
                out.push(Sector { bank, index, addr, size });
                addr = addr.wrapping_add(size);
                index += 1;
            }
        }
        out
    }
}

/// The flash as it is on this chip right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashLayout {
    pub banks: Vec<Bank>,
    /// Programming unit (flash word) in bytes.
    pub write_unit: u32,
    /// Value of an erased byte.
    pub erased: u8,
}

/// Why an address range cannot be written or erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError(pub String);

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FlashLayout {
    /// One bank of `size` bytes laid out by the spec's single-bank runs.
    pub fn single(spec: &FlashSpec, size: u32) -> FlashLayout {
        FlashLayout {
            banks: vec![Bank::from_runs(spec.base, spec.sectors, size)],
            write_unit: spec.write_unit,
            erased: spec.erased,
        }
    }

    /// Two banks laid out by the spec's dual-bank runs: `size / 2` bytes each,
    /// or (`FullBank1`) a full bank 1 and the rest in bank 2. A bank 2 left
    /// empty (a `--flash` size within bank 1) is dropped. Panics if the spec has
    /// no dual-bank geometry (a table bug).
    pub fn dual(spec: &FlashSpec, size: u32) -> FlashLayout {
        let dual = spec.dual.expect("chip table: dual-bank layout requested for a single-bank spec");
        let half = size / 2;
        let (bank1_size, bank2, bank2_size) = match dual.bank2 {
            Bank2Base::Half => (half, spec.base + half, half),
            Bank2Base::Fixed(addr) => (half, addr, half),
            Bank2Base::FullBank1(bank1) => {
                let bank1 = bank1.min(size);
                (bank1, spec.base + bank1, size - bank1)
            }
        };
        let mut banks = vec![Bank::from_runs(spec.base, dual.sectors, bank1_size)];
        if bank2_size > 0 {
            banks.push(Bank::from_runs(bank2, dual.sectors, bank2_size));
        }
        FlashLayout { banks, write_unit: spec.write_unit, erased: spec.erased }
    }

    pub fn total_size(&self) -> u64 {
        self.banks.iter().map(|b| b.size()).sum()
    }

    pub fn base(&self) -> u32 {
        self.banks[0].base
    }

    /// Bank index containing `addr`.
    pub fn bank_of(&self, addr: u32) -> Option<u8> {
        self.banks.iter().position(|b| b.contains(addr)).map(|i| i as u8)
    }

    pub fn contains(&self, addr: u32) -> bool {
        self.bank_of(addr).is_some()
    }

    /// The sector containing `addr`.
    pub fn sector_at(&self, addr: u32) -> Option<Sector> {
        let bank = self.bank_of(addr)?;
        self.banks[bank as usize].sectors(bank).into_iter().find(|s| addr >= s.addr && (addr as u64) < s.end())
    }

    /// Every sector, bank by bank.
    pub fn sectors(&self) -> Vec<Sector> {
        self.banks.iter().enumerate().flat_map(|(i, b)| b.sectors(i as u8)).collect()
    }

    /// Sectors overlapping `[addr, addr+len)`.
    pub fn sectors_in(&self, addr: u32, len: u64) -> Vec<Sector> {
        let end = addr as u64 + len;
        self.sectors().into_iter().filter(|s| (s.addr as u64) < end && s.end() > addr as u64).collect()
    }

    /// "0x08000000-0x0807FFFF and 0x08100000-0x0817FFFF": the valid ranges, for messages.
    pub fn ranges_text(&self) -> String {
        let parts: Vec<String> = self.banks.iter().map(|b| format!("0x{:08X}-0x{:08X}", b.base, b.end() - 1)).collect();
        parts.join(" and ")
    }

    /// Check that `[addr, addr+len)` lies entirely in flash (no gap between
    /// banks, nothing past the end). The message names the valid ranges.
    pub fn check_range(&self, addr: u32, len: u64) -> Result<(), RangeError> {
        if len == 0 {
            return Ok(());
        }
        let end = addr as u64 + len;
        let mut cursor = addr as u64;
        while cursor < end {
            let Some(bank) = self.banks.iter().find(|b| b.contains(cursor as u32) && cursor <= u32::MAX as u64) else {
                return Err(RangeError(format!(
                    "0x{cursor:08X} is not in flash (flash is {}); check the address and size",
                    self.ranges_text()
                )));
            };
            cursor = bank.end().min(end);
        }
        Ok(())
    }

    /// One line for the connect message: "1024 KiB in 2 banks of 128 × 8 KiB sectors".
    pub fn describe(&self) -> String {
        let kib = self.total_size() / 1024;
        let bank_text = |b: &Bank| {
            b.runs
                .iter()
                .map(|&(c, s)| format!("{c} × {} KiB", s / 1024).replace(" 0 KiB", &format!(" {s} B")))
                .collect::<Vec<_>>()
                .join(" + ")
        };
        if self.banks.len() == 1 {
            let one = self.banks[0].runs.iter().map(|r| r.0 as u64).sum::<u64>() == 1;
            format!("{kib} KiB: {} sector{}", bank_text(&self.banks[0]), if one { "" } else { "s" })
        } else {
            let banks: Vec<String> = self
                .banks
                .iter()
                .enumerate()
                .map(|(i, b)| format!("bank {} at 0x{:08X}: {}", i + 1, b.base, bank_text(b)))
                .collect();
            format!("{kib} KiB in {} banks ({})", self.banks.len(), banks.join("; "))
        }
    }

    /// The smallest erase unit (st-flash's "at least N KiB pages").
    pub fn min_sector_size(&self) -> u32 {
        self.banks.iter().flat_map(|b| b.runs.iter().map(|r| r.1)).min().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip::DualBank;

    const F4: FlashSpec = FlashSpec {
        base: 0x0800_0000,
        sectors: &[(4, 16 * 1024), (1, 64 * 1024), (1, 128 * 1024)],
        dual: Some(DualBank { sectors: &[(4, 16 * 1024), (1, 64 * 1024), (1, 128 * 1024)], bank2: Bank2Base::Half }),
        write_unit: 4,
        erased: 0xFF,
    };

    const H7AB: FlashSpec = FlashSpec {
        base: 0x0800_0000,
        sectors: &[(1, 8192)],
        dual: Some(DualBank { sectors: &[(1, 8192)], bank2: Bank2Base::Fixed(0x0810_0000) }),
        write_unit: 16,
        erased: 0xFF,
    };

    #[test]
    fn runs_fill_a_bank_and_the_last_one_repeats() {
        let l = FlashLayout::single(&F4, 512 * 1024);
        assert_eq!(l.banks[0].runs, vec![(4, 16384), (1, 65536), (3, 131072)]);
        assert_eq!(l.total_size(), 512 * 1024);
        let s = l.sector_at(0x0802_0000).unwrap();
        assert_eq!((s.index, s.size), (5, 131072));
        // A 64 KiB part stops inside the first run.
        let small = FlashLayout::single(&F4, 64 * 1024);
        assert_eq!(small.banks[0].runs, vec![(4, 16384)]);
    }

    #[test]
    fn fixed_bank2_leaves_a_gap_that_is_refused() {
        let l = FlashLayout::dual(&H7AB, 1024 * 1024);
        assert_eq!(l.banks[1].base, 0x0810_0000);
        assert_eq!(l.banks[0].sector_count(), 64);
        assert!(l.check_range(0x0807_E000, 0x2000).is_ok());
        let e = l.check_range(0x0808_0000, 16).unwrap_err();
        assert!(e.0.contains("0x08080000 is not in flash"), "{e}");
        assert!(e.0.contains("0x08000000-0x0807FFFF and 0x08100000-0x0817FFFF"), "{e}");
        // A range crossing from bank 1 into the gap is refused too.
        assert!(l.check_range(0x0807_F000, 0x2000).is_err());
        let s = l.sector_at(0x0810_2000).unwrap();
        assert_eq!((s.bank, s.index), (1, 1));
    }

    #[test]
    fn full_bank1_puts_the_rest_in_bank2() {
        const XL: FlashSpec = FlashSpec {
            base: 0x0800_0000,
            sectors: &[(1, 2048)],
            dual: Some(DualBank { sectors: &[(1, 2048)], bank2: Bank2Base::FullBank1(512 * 1024) }),
            write_unit: 2,
            erased: 0xFF,
        };
        let l = FlashLayout::dual(&XL, 768 * 1024);
        assert_eq!((l.banks[0].base, l.banks[0].size()), (0x0800_0000, 512 * 1024));
        assert_eq!((l.banks[1].base, l.banks[1].size()), (0x0808_0000, 256 * 1024));
        let s = l.sector_at(0x0808_0800).unwrap();
        assert_eq!((s.bank, s.index), (1, 1));
        // A size within bank 1 leaves no bank 2.
        assert_eq!(FlashLayout::dual(&XL, 256 * 1024).banks.len(), 1);
    }

    #[test]
    fn half_bank2_follows_bank1() {
        let l = FlashLayout::dual(&F4, 1024 * 1024);
        assert_eq!(l.banks[1].base, 0x0808_0000);
        assert!(l.check_range(0x0800_0000, 1024 * 1024).is_ok());
        assert!(l.check_range(0x0800_0000, 1024 * 1024 + 1).is_err());
        assert_eq!(l.sectors_in(0x0807_FFF0, 0x20).len(), 2);
    }
}
