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
    /// A write-protection mask ([`Mask`]).
    Protection(Mask),
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

/// How a write-protection mask reads: bit n covers `per_bit` units (`unit`:
/// "sector", "page") from `first + n × per_bit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mask {
    pub unit: &'static str,
    pub per_bit: u32,
    pub first: u32,
    /// 0 = protected (nWRP); otherwise 1 = protected (L0/L1 WRPROT).
    pub active_low: bool,
    /// The last bit protects every unit from its first to the end of the
    /// flash (F0/F1/F3 with 2 KiB pages: FLASH_WRPR bit 31 covers pages 62
    /// to the last one, ST HAL `OB_WRP_PAGES62TO255`; F413: nWRP14 covers
    /// sectors 14 and 15, CMSIS `FLASH_OPTCR_nWRP_14` = `_15`).
    pub rest: bool,
    /// A bit of the same word that, when set, inverts the meaning (F4
    /// OPTCR.SPRMOD: the nWRP bits then select PCROP sectors, 1 = protected;
    /// ST HAL stm32f4xx_hal_flash_ex.c "Active value of nWRPi bits is
    /// inverted when PCROP mode is active").
    pub inverted_by: Option<u8>,
}

impl Mask {
    pub const fn new(unit: &'static str, per_bit: u32, first: u32, active_low: bool) -> Mask {
        Mask { unit, per_bit, first, active_low, rest: false, inverted_by: None }
    }

    /// The last bit covers the rest of the flash ([`Mask::rest`]).
    pub const fn to_end(self) -> Mask {
        Mask { rest: true, ..self }
    }

    /// Bit `bit` of the word inverts the meaning ([`Mask::inverted_by`]).
    pub const fn inverted_by(self, bit: u8) -> Mask {
        Mask { inverted_by: Some(bit), ..self }
    }
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
    /// `value` (ranges are computed per word: `OptionWord::protected`). The
    /// last bit of a [`Mask::rest`] mask counts here for its own `per_bit`
    /// units only ([`Field::protected_in`] extends it to the end of flash).
    pub fn protected(&self, value: u32) -> BTreeSet<u32> {
        match self.show {
            Show::Protection(m) => self.protected_as(value, m.active_low, None),
            _ => BTreeSet::new(),
        }
    }

    /// Units a mask field protects at `value` with the polarity in force
    /// (`active_low`: 0 = protected) on a flash of `units` units: the rest
    /// bit reaches the end, nothing at or past `units` counts.
    pub fn protected_in(&self, value: u32, active_low: bool, units: u32) -> BTreeSet<u32> {
        self.protected_as(value, active_low, Some(units))
    }

    /// [`Field::protected`] with the polarity in force, the rest bit
    /// extended to `units` (the number of units of the flash) and nothing at
    /// or past `units` when given.
    fn protected_as(&self, value: u32, active_low: bool, units: Option<u32>) -> BTreeSet<u32> {
        let mut out = BTreeSet::new();
        let Show::Protection(m) = self.show else { return out };
        for bit in 0..self.width as u32 {
            let set = value >> bit & 1 == 1;
            if set != active_low {
                let start = m.first + bit * m.per_bit;
                let last_bit = bit + 1 == self.width as u32;
                let end = match units {
                    Some(n) if m.rest && last_bit => n.max(start + m.per_bit),
                    _ => start + m.per_bit,
                };
                out.extend(start..end);
            }
        }
        if let Some(n) = units {
            out.retain(|&u| u < n);
        }
        out
    }

    /// The field value with the protection of `units` removed (the bits
    /// covering them set to the unprotected level), for a mask field whose
    /// protected level is `active_low` (0) or not.
    pub fn unprotect(&self, value: u32, active_low: bool, units: &BTreeSet<u32>) -> u32 {
        let Show::Protection(m) = self.show else { return value };
        let bits = self.width as u32;
        let mut mask = 0u32;
        for &u in units {
            let Some(off) = u.checked_sub(m.first) else { continue };
            let bit = (off / m.per_bit).min(if m.rest { bits - 1 } else { u32::MAX });
            if bit < bits {
                mask |= 1 << bit;
            }
        }
        if active_low {
            value | mask
        } else {
            value & !mask
        }
    }

    /// The unit a write-protection field counts in.
    pub fn unit(&self) -> &'static str {
        match self.show {
            Show::Protection(Mask { unit, .. }) | Show::ProtectedFrom { unit, .. } => unit,
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
            Show::Protection(m) => {
                let to_end = m.rest && value >> (self.width - 1) & 1 != u32::from(m.active_low);
                protection_text(&m, &self.protected(value), to_end)
            }
            Show::BootAddress(shift) => format!("0x{:08X}", value << shift),
            Show::ComplementOf(_) | Show::Hex | Show::ProtectedFrom { .. } | Show::ProtectedTo => String::new(),
        };
        (number, text)
    }
}

/// "sectors 0-3, 8 (in groups of 4)", "pages 0-3, 60 to the last page",
/// "none"; `to_end`: the last run goes on to the end of the flash.
fn protection_text(m: &Mask, units: &BTreeSet<u32>, to_end: bool) -> String {
    if units.is_empty() {
        return "none".to_string();
    }
    let groups = if m.per_bit > 1 { format!(" (in groups of {})", m.per_bit) } else { String::new() };
    let mut text = ranges_text(units);
    if to_end {
        // The last run holds the rest bit's units: it ends at the last unit.
        let mut start = *units.last().expect("not empty");
        while start > 0 && units.contains(&(start - 1)) {
            start -= 1;
        }
        let head: BTreeSet<u32> = units.range(..start).copied().collect();
        let tail = format!("{start} to the last {}", m.unit);
        text = if head.is_empty() { tail } else { format!("{}, {tail}", ranges_text(&head)) };
    }
    format!("{}s {text}{groups}", m.unit)
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

    /// Units (sectors or pages) the word's write-protection fields protect at
    /// `value` (the last bit of a [`Mask::rest`] mask for its own units only:
    /// [`OptionWord::protected_in`] knows where the flash ends).
    pub fn protected(&self, value: u32) -> BTreeSet<u32> {
        self.protected_upto(value, None)
    }

    /// Units the word protects at `value` on a flash of `units` units: the
    /// last bit of a [`Mask::rest`] mask covers everything to the end, units
    /// past the end are left out.
    pub fn protected_in(&self, value: u32, units: u32) -> BTreeSet<u32> {
        self.protected_upto(value, Some(units))
    }

    fn protected_upto(&self, value: u32, units: Option<u32>) -> BTreeSet<u32> {
        let mut out = BTreeSet::new();
        for f in self.fields.iter().filter(|f| f.kind == FieldKind::WriteProtect) {
            match f.show {
                Show::ProtectedFrom { end, .. } => {
                    let last = Field { shift: end, ..*f }.get(value);
                    let first = f.get(value);
                    if first <= last {
                        out.extend((first..=last).filter(|&u| units.map_or(true, |n| u < n)));
                    }
                }
                _ => out.extend(f.protected_as(f.get(value), self.active_low(f, value), units)),
            }
        }
        out
    }

    /// Whether 0 means protected in mask field `f` at `value` (its
    /// [`Mask::inverted_by`] bit flips the field's polarity).
    pub fn active_low(&self, f: &Field, value: u32) -> bool {
        match f.show {
            Show::Protection(m) => m.active_low != m.inverted_by.is_some_and(|b| value >> b & 1 == 1),
            _ => false,
        }
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
            if let Show::Protection(m) = f.show {
                let active_low = self.active_low(f, value);
                let to_end = m.rest && (v >> (f.width - 1) & 1 == 1) != active_low;
                text = protection_text(&m, &f.protected_as(v, active_low, None), to_end);
            }
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
    const WRP: Field =
        Field::new("WRP", 0, 8, FieldKind::WriteProtect, Show::Protection(Mask::new("sector", 4, 0, true)), "");

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
