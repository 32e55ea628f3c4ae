//! Option bytes, option registers and OTP, described as data.
//!
//! Each family describes its option words ([`OptionWord`]): where the value in
//! force is read, and its fields ([`Field`]) with their position, what they
//! control ([`FieldKind`], which decides how a change is guarded) and how to
//! show them to a person ([`Show`]). A family driver exposes the description
//! and its write sequence through [`OptionBytes`]
//! (`FlashController::options`). What is generic — checking a requested value
//! against the layout, the guards, the decoded view, the read-back — lives
//! once, in `crate::ops::options`.
//!
//! Bits of a word that no field names are reserved: a write must keep the
//! chip's current value there (the check refuses anything else).

use std::collections::BTreeSet;
use std::fmt::Write as _;

pub mod factory;

use super::{FlashError, RdpLevel};
use crate::mcu::Target;

/// What a field controls. The kind decides what a change needs
/// (`crate::ops::options` guards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Read-out protection (RDP): level 2 is permanent, level 1 → 0 erases the chip.
    Rdp,
    /// Write protection of sectors or pages.
    WriteProtect,
    /// Dual-bank mode or bank swap: changes the flash map.
    BankConfig,
    /// Where and what the chip boots (boot addresses, nBOOT/nSWBOOT, which cores start).
    BootConfig,
    /// Security features (SECURITY, TZEN, PCROP and secure areas, OTP block
    /// locks): stflash never changes them.
    Security,
    /// Electrical configuration that can harm the chip under the wrong supply
    /// (I/O high-speed-at-low-voltage): stflash never changes it.
    Electrical,
    /// Harmless user options (brown-out level, watchdog and reset behaviour…).
    User,
    /// Status shown in the word that is read (OPT_BUSY…): not an option,
    /// ignored in requested values and written as 0.
    Status,
    /// The ones' complement of another field (F0/F1/F3, L0/L1 option words):
    /// must match it.
    Complement,
}

/// How a field's value reads for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// RDP byte: `level0` is the value for level 0, `level2` the one for level
    /// 2 (if the family has it); anything else is level 1.
    Rdp { level0: u32, level2: Option<u32> },
    /// One bit: text when 1, text when 0.
    Flag(&'static str, &'static str),
    /// Listed values; others print as "reserved value".
    Choices(&'static [(u32, &'static str)]),
    /// A write-protection mask: bit n covers `per_bit` units (`unit`:
    /// "sector", "page") from `first + n × per_bit`; `active_low`: 0 = protected.
    Protection { unit: &'static str, per_bit: u32, first: u32, active_low: bool },
    /// First unit of a protected range whose last unit is the field of the
    /// same width at bit `end` (L4-class WRPxyR: empty when first > last).
    ProtectedFrom { unit: &'static str, end: u8 },
    /// Last unit of a protected range (shown with its `ProtectedFrom`).
    ProtectedTo,
    /// A boot address holding address bits from bit `shift` on (H7: the
    /// upper 16 bits, shift 16; F7: 16 KiB units, shift 14).
    BootAddress(u8),
    /// Complement of the field at bit `of`.
    ComplementOf(u8),
    /// A number, in hex.
    Hex,
}

impl Show {
    /// The common RDP byte: 0xAA level 0, 0xCC level 2 (`RdpLevel::from_byte`).
    pub const RDP: Show =
        Show::Rdp { level0: crate::flash::RDP_LEVEL0_BYTE as u32, level2: Some(crate::flash::RDP_LEVEL2_BYTE as u32) };
}

/// One field of an option word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub shift: u8,
    pub width: u8,
    pub kind: FieldKind,
    /// One line: what the field is for.
    pub meaning: &'static str,
    pub show: Show,
}

impl Field {
    pub const fn new(
        name: &'static str,
        shift: u8,
        width: u8,
        kind: FieldKind,
        show: Show,
        meaning: &'static str,
    ) -> Field {
        Field { name, shift, width, kind, meaning, show }
    }

    pub fn mask(&self) -> u32 {
        let ones = if self.width >= 32 { u32::MAX } else { (1u32 << self.width) - 1 };
        ones << self.shift
    }

    pub fn get(&self, word: u32) -> u32 {
        (word & self.mask()) >> self.shift
    }

    pub fn set(&self, word: u32, value: u32) -> u32 {
        (word & !self.mask()) | ((value << self.shift) & self.mask())
    }

    /// The largest value the field holds.
    pub fn max(&self) -> u32 {
        self.mask() >> self.shift
    }

    /// RDP level for a value of an RDP field.
    pub fn rdp_level(&self, value: u32) -> Option<RdpLevel> {
        match self.show {
            Show::Rdp { level0, level2 } => Some(if value == level0 {
                RdpLevel::Level0
            } else if Some(value) == level2 {
                RdpLevel::Level2
            } else {
                RdpLevel::Level1
            }),
            _ => None,
        }
    }

    /// Units a write-protection mask field protects when the field holds
    /// `value` (ranges are computed per word: `OptionWord::protected`).
    pub fn protected(&self, value: u32) -> BTreeSet<u32> {
        let mut out = BTreeSet::new();
        if let Show::Protection { per_bit, first, active_low, .. } = self.show {
            for bit in 0..self.width as u32 {
                let set = value >> bit & 1 == 1;
                if set != active_low {
                    out.extend(first + bit * per_bit..first + (bit + 1) * per_bit);
                }
            }
        }
        out
    }

    /// The unit a write-protection field counts in.
    pub fn unit(&self) -> &'static str {
        match self.show {
            Show::Protection { unit, .. } | Show::ProtectedFrom { unit, .. } => unit,
            _ => "sector",
        }
    }

    /// The value as a number, and what it means ("" when the number says it all).
    pub fn describe(&self, value: u32) -> (String, String) {
        let number = if self.width <= 3 && !matches!(self.show, Show::Hex) {
            format!("{value}")
        } else {
            format!("0x{value:0w$X}", w = (self.width as usize).div_ceil(4))
        };
        let text = match self.show {
            Show::Rdp { .. } => match self.rdp_level(value) {
                Some(RdpLevel::Level0) => "level 0, not protected".to_string(),
                Some(RdpLevel::Level1) => {
                    "level 1, flash not readable by a debugger (back to level 0 erases it)".to_string()
                }
                _ => "level 2, debug port disabled and options frozen for good".to_string(),
            },
            Show::Flag(one, zero) => (if value != 0 { one } else { zero }).to_string(),
            Show::Choices(list) => match list.iter().find(|(v, _)| *v == value) {
                Some((_, t)) => t.to_string(),
                None => "reserved value".to_string(),
            },
            Show::Protection { unit, per_bit, .. } => {
                let units = self.protected(value);
                if units.is_empty() {
                    "none".to_string()
                } else {
                    let groups = if per_bit > 1 { format!(" (in groups of {per_bit})") } else { String::new() };
                    format!("{unit}s {}{groups}", ranges_text(&units))
                }
            }
            Show::BootAddress(shift) => format!("0x{:08X}", value << shift),
            Show::ComplementOf(_) | Show::Hex | Show::ProtectedFrom { .. } | Show::ProtectedTo => String::new(),
        };
        (number, text)
    }
}

/// "0-3, 8, 12-15".
pub fn ranges_text(units: &BTreeSet<u32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut iter = units.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().expect("peeked");
        }
        out.push(if start == end { format!("{start}") } else { format!("{start}-{end}") });
    }
    out.join(", ")
}

/// One option word or option register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionWord {
    /// Name as the reference manual gives it (without _CUR/_PRG), e.g. "FLASH_OPTSR".
    pub name: &'static str,
    /// Where the value in force is read.
    pub addr: u32,
    pub fields: &'static [Field],
}

impl OptionWord {
    /// Bits no field names: reserved.
    pub fn reserved_mask(&self) -> u32 {
        !self.fields.iter().fold(0, |m, f| m | f.mask())
    }

    pub fn mask_of(&self, kind: FieldKind) -> u32 {
        self.fields.iter().filter(|f| f.kind == kind).fold(0, |m, f| m | f.mask())
    }

    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Units (sectors or pages) the word's write-protection fields protect at `value`.
    pub fn protected(&self, value: u32) -> BTreeSet<u32> {
        let mut out = BTreeSet::new();
        for f in self.fields.iter().filter(|f| f.kind == FieldKind::WriteProtect) {
            match f.show {
                Show::ProtectedFrom { end, .. } => {
                    let last = Field { shift: end, ..*f }.get(value);
                    let first = f.get(value);
                    if first <= last {
                        out.extend(first..=last);
                    }
                }
                _ => out.extend(f.protected(f.get(value))),
            }
        }
        out
    }

    /// RDP level at `value`, if the word holds the RDP field.
    pub fn rdp_level(&self, value: u32) -> Option<RdpLevel> {
        self.fields.iter().find_map(|f| f.rdp_level(f.get(value)))
    }

    /// The decoded view: a header line, then one line per field (status
    /// fields only when set): name, value, meaning and what the value means.
    pub fn describe(&self, value: u32) -> String {
        let mut out = format!("{} (0x{:08X}) = 0x{value:08X}\n", self.name, self.addr);
        for f in self.fields {
            let v = f.get(value);
            if (f.kind == FieldKind::Status && v == 0) || f.kind == FieldKind::Complement {
                continue;
            }
            let (number, mut text) = f.describe(v);
            if let Show::ProtectedFrom { unit, end } = f.show {
                let last = Field { shift: end, ..*f }.get(value);
                text = if v <= last { format!("{unit}s {v}-{last} write-protected") } else { "none".to_string() };
            }
            let sep = if text.is_empty() { "" } else { ": " };
            let _ = writeln!(out, "  {:<15} {number:<11} {}{sep}{text}", f.name, f.meaning);
        }
        out
    }

    /// Whether `name` names this word: exact, or without the "FLASH_" prefix.
    pub fn is_named(&self, name: &str) -> bool {
        let bare = |s: &str| s.to_ascii_uppercase().trim_start_matches("FLASH_").to_string();
        bare(self.name) == bare(name)
    }
}

/// The `--area` values that address option words (st-flash's names: stlink
/// src/st-flash/flash_opts.c:127-157; what each reads and writes:
/// src/stlink-lib/option_bytes.c:823-1117, commit 733893a).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionArea {
    Option,
    Optcr,
    Optcr1,
    BootAdd,
}

impl OptionArea {
    /// The name st-flash uses in `--area=`.
    pub fn name(self) -> &'static str {
        match self {
            OptionArea::Option => "option",
            OptionArea::Optcr => "optcr",
            OptionArea::Optcr1 => "optcr1",
            OptionArea::BootAdd => "option_boot_add",
        }
    }

    pub const ALL: [OptionArea; 4] = [OptionArea::Option, OptionArea::Optcr, OptionArea::Optcr1, OptionArea::BootAdd];
}

/// How new option values take effect after a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// In force at once (H7: OPTSTART applies them).
    Applied,
    /// The family reloaded them by resetting the chip (OBL_LAUNCH, or a system
    /// reset on F1): the debug session must be established again.
    Reset,
}

/// A one-time-programmable area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Otp {
    pub base: u32,
    pub size: u32,
    /// Programming unit in bytes: each unit is written once, as a whole.
    pub unit: u32,
    /// Value of a never-written byte.
    pub erased: u8,
}

/// A family's option bytes: the description, and the sequences that change them.
pub trait OptionBytes {
    /// The option words of this chip, in display order.
    fn words(&self) -> Vec<&'static OptionWord>;

    /// The word an st-flash `--area` reads and writes; `None` when the family
    /// has no such word.
    fn area_word(&self, area: OptionArea) -> Option<&'static OptionWord>;

    /// The value in force.
    fn read_word(&mut self, t: &mut Target, word: &OptionWord) -> Result<u32, FlashError> {
        Ok(t.read32(word.addr)?)
    }

    /// Program new values with the family's sequence (unlock, write, start,
    /// wait with a timeout, lock, reload). Values were checked by the caller.
    fn program(&mut self, t: &mut Target, changes: &[(&'static OptionWord, u32)]) -> Result<Reload, FlashError>;

    /// The OTP area, if the chip has one and the driver can program it.
    fn otp(&self) -> Option<Otp> {
        None
    }

    /// OTP ranges `(start, end)` locked against programming, with a name.
    fn otp_locked(&mut self, _t: &mut Target) -> Result<Vec<(u32, u32, String)>, FlashError> {
        Ok(Vec::new())
    }

    /// Program `data` into never-written OTP units at `addr` (whole units).
    fn program_otp(&mut self, _t: &mut Target, _addr: u32, _data: &[u8]) -> Result<(), FlashError> {
        Err(FlashError::Unsupported("OTP programming is not implemented for this chip".to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RDP: Field = Field::new("RDP", 8, 8, FieldKind::Rdp, Show::RDP, "");
    const WRP: Field = Field::new(
        "WRP",
        0,
        8,
        FieldKind::WriteProtect,
        Show::Protection { unit: "sector", per_bit: 4, first: 0, active_low: true },
        "",
    );

    #[test]
    fn fields_get_set_and_decode() {
        assert_eq!(RDP.mask(), 0xFF00);
        assert_eq!(RDP.get(0x1234_BB56), 0xBB);
        assert_eq!(RDP.set(0x1234_AA56, 0xCC), 0x1234_CC56);
        assert_eq!(RDP.rdp_level(0xAA), Some(RdpLevel::Level0));
        assert_eq!(RDP.rdp_level(0x00), Some(RdpLevel::Level1));
        assert_eq!(RDP.rdp_level(0xCC), Some(RdpLevel::Level2));
        assert_eq!(RDP.describe(0xAA).0, "0xAA");
    }

    #[test]
    fn protection_masks_name_sectors() {
        assert!(WRP.protected(0xFF).is_empty());
        assert_eq!(WRP.protected(0xFE), (0..4).collect());
        assert_eq!(ranges_text(&WRP.protected(0xFA)), "0-3, 8-11");
        let word = OptionWord { name: "FLASH_X", addr: 0, fields: &[RDP, WRP] };
        assert_eq!(word.reserved_mask(), 0xFFFF_0000);
        assert!(word.is_named("x") && word.is_named("FLASH_X"));
        assert_eq!(word.protected(0xFA), (0..4).chain(8..12).collect());
    }

    #[test]
    fn protected_ranges_span_two_fields() {
        const AREA: OptionWord = OptionWord {
            name: "WRP1AR",
            addr: 0,
            fields: &[
                Field::new("STRT", 0, 7, FieldKind::WriteProtect, Show::ProtectedFrom { unit: "page", end: 16 }, ""),
                Field::new("END", 16, 7, FieldKind::WriteProtect, Show::ProtectedTo, ""),
            ],
        };
        assert!(AREA.protected(0x0000_007F).is_empty(), "start above end: no area");
        assert_eq!(AREA.protected(0x0005_0002), (2..=5).collect());
        assert!(AREA.describe(0x0005_0002).contains("pages 2-5 write-protected"));
    }
}
