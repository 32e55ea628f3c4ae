//! Factory option values: what a chip's option bytes held when it left ST,
//! as data per family (`family/<family>/factory.rs`), each with where it
//! comes from and how sure it is. `stflash recover` restores them
//! (`crate::ops::recover`); nothing else writes them.
//!
//! A value names the word by its name in the family's description
//! ([`super::OptionWord::name`]) and gives the whole word; only the fields
//! recover may change are taken from it ([`restorable`]), and of those only
//! the ones listed in `fields` when the list is not empty (where the sources
//! agree on some fields of a word and not on others). Reserved bits keep the
//! chip's value; complements are computed.

use super::{Field, FieldKind};

/// How sure a factory value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reliability {
    /// An ST document or ST tool output, two independent sources that agree,
    /// or true by the field's definition (write protection all off).
    A,
    /// One open tool that ships it as its "defaults" (Black Magic Probe,
    /// OpenOCD), not checked against the reference manual.
    B,
    /// An inference, or only stflash's own simulator.
    C,
}

impl Reliability {
    pub fn letter(self) -> char {
        match self {
            Reliability::A => 'A',
            Reliability::B => 'B',
            Reliability::C => 'C',
        }
    }

    /// One line for the plan.
    pub fn meaning(self) -> &'static str {
        match self {
            Reliability::A => "ST document, two sources agree, or off by definition",
            Reliability::B => "one open tool's defaults",
            Reliability::C => "inferred",
        }
    }
}

/// The factory value of one option word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactoryWord {
    /// `OptionWord::name` in the family's description.
    pub word: &'static str,
    pub value: u32,
    /// The fields restored; empty: every field recover may change.
    pub fields: &'static [&'static str],
    pub reliability: Reliability,
    /// Where the value comes from, for the plan.
    pub source: &'static str,
}

/// A family's factory values, for the parts of one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Factory {
    pub words: &'static [FactoryWord],
    /// Why recover cannot lower this family's read protection, if it cannot
    /// (H5: the product state regresses only through debug authentication).
    pub no_regression: Option<&'static str>,
}

/// Fields recover may set to their factory value: read and write
/// protection, user and boot options. Never security options (their effects
/// can be irreversible), electrical ones (the wrong supply can damage the
/// chip), the bank organisation (it changes the flash map the firmware was
/// linked for and is not a protection), status bits or complements.
pub fn restorable(field: &Field) -> bool {
    matches!(field.kind, FieldKind::Rdp | FieldKind::WriteProtect | FieldKind::User | FieldKind::BootConfig)
}

/// The fields of a word that never change in a recovery (printed in the plan).
pub fn kept(field: &Field) -> bool {
    matches!(field.kind, FieldKind::Security | FieldKind::Electrical | FieldKind::BankConfig)
}

/// A write-protection area register (L4 class, L5/U5: start in bits 0..,
/// end from bit 16) with nothing protected: the start above the end (start
/// all ones, end 0; RM0351 FLASH_WRP1AR: "the area is disabled when
/// WRP1A_STRT > WRP1A_END"). Only the fields' own bits are taken.
pub const WRP_AREA_OFF: u32 = 0x0000_00FF;
