//! The STM32 families, one directory each, named after ST's families: the
//! chip-table rows (`chips.rs`), the flash driver (`driver.rs`) and the
//! option bytes (`options.rs`) of one flash-controller design.
//!
//! Adding a chip of a known family is one row in its `chips.rs`. Adding a
//! family is one directory plus one line in [`FAMILIES`] (and its simulator
//! model, one line in `stflash-sim`'s registry).

use crate::chip::Chip;
use crate::error::Error;
use crate::flash::options::factory::Factory;
use crate::flash::FlashController;

pub mod debug_port;
pub mod f0f1f3;
pub mod f2f4f7;
pub mod h5;
pub mod h7;
pub mod h7rs;
pub mod l0l1;
pub mod l4;
pub mod l5u5;

/// The flash controller of a chip-table row: its family, and the variant
/// record of its die where the family's dies differ (field positions,
/// option-byte layouts, error flags). Each family's driver takes its own
/// arm; nothing outside the family looks inside the record.
#[derive(Debug, Clone, Copy)]
pub enum Controller {
    F0F1F3(&'static f0f1f3::Variant),
    F2F4F7(&'static f2f4f7::Variant),
    L0L1(&'static l0l1::Variant),
    L4(&'static l4::Variant),
    L5U5(&'static l5u5::Variant),
    H5(&'static h5::Variant),
    H7(&'static h7::Variant),
    /// The H7R/S: one die, so no variant record.
    H7rs,
    /// The stand-in row used while a target is being identified.
    Unidentified,
}

/// Two rows have the same controller when they point to the same variant
/// record (the records are statics).
impl PartialEq for Controller {
    fn eq(&self, other: &Controller) -> bool {
        use Controller as C;
        match (self, other) {
            (C::F0F1F3(a), C::F0F1F3(b)) => std::ptr::eq(*a, *b),
            (C::F2F4F7(a), C::F2F4F7(b)) => std::ptr::eq(*a, *b),
            (C::L0L1(a), C::L0L1(b)) => std::ptr::eq(*a, *b),
            (C::L4(a), C::L4(b)) => std::ptr::eq(*a, *b),
            (C::L5U5(a), C::L5U5(b)) => std::ptr::eq(*a, *b),
            (C::H7(a), C::H7(b)) => std::ptr::eq(*a, *b),
            (C::H5(a), C::H5(b)) => std::ptr::eq(*a, *b),
            (C::H7rs, C::H7rs) | (C::Unidentified, C::Unidentified) => true,
            _ => false,
        }
    }
}

impl Eq for Controller {}

impl Controller {
    /// Flash with error-correcting codes per programming unit: a unit that
    /// reads erased may still have been programmed (with the erased value),
    /// and programming it again breaks its ECC, so such a unit needs an erase
    /// first. F0/F1/F3 and F2/F4/F7 flash has no ECC and takes a blank unit as
    /// it is (RM0008 §3.3.3, RM0090 §3.6.3: programming needs an erased
    /// location, nothing more); L0/L1 are treated as ECC flash, the safe side.
    pub fn has_ecc(self) -> bool {
        !matches!(self, Controller::F0F1F3(_) | Controller::F2F4F7(_))
    }

    /// The flash interface has its own CRC unit (H7: FLASH_CRCCR, CRCSADD,
    /// CRCEADD, CRCDATA; RM0433 §4.9.30-§4.9.33, RM0455 §4.9).
    pub fn has_flash_crc_unit(self) -> bool {
        matches!(self, Controller::H7(_))
    }
}

/// One family: its chips, how to make a driver for one of them, and the
/// factory values of their option bytes (`factory.rs`).
pub struct Family {
    /// ST's family names, for people ("STM32F0, F1, F3").
    pub name: &'static str,
    pub chips: &'static [Chip],
    pub driver: MakeDriver,
    pub factory: fn(chip: &Chip) -> Option<&'static Factory>,
    /// The register facts of a row of `chips` (chip table, driver and option
    /// tables) by ST's names, for the cross-check against ST's headers
    /// ([`crate::facts`]).
    pub register_facts: fn(chip: &'static Chip, facts: &mut crate::facts::Facts),
}

/// Make the driver for `chip` (a row of the family's table) at the measured
/// target voltage; `None` when the row is one the driver cannot program.
pub type MakeDriver = fn(chip: &'static Chip, voltage_mv: Option<u32>) -> Option<Box<dyn FlashController>>;

/// Every family, one line each.
pub static FAMILIES: &[&Family] = &[
    &f0f1f3::FAMILY,
    &f2f4f7::FAMILY,
    &h7::FAMILY,
    &l4::FAMILY,
    &l0l1::FAMILY,
    &l5u5::FAMILY,
    &h5::FAMILY,
    &h7rs::FAMILY,
];

/// The family a chip-table row belongs to.
pub fn of(chip: &Chip) -> Option<&'static Family> {
    FAMILIES.iter().copied().find(|f| f.chips.iter().any(|c| c.dev_id == chip.dev_id))
}

/// The factory option values of a chip-table row (`stflash recover`).
pub fn factory(chip: &Chip) -> Option<&'static Factory> {
    of(chip).and_then(|family| (family.factory)(chip))
}

/// Choose the driver for a chip. `voltage_mv` is the target voltage the probe
/// measured (F2/F4/F7 and H7 choose their programming parallelism from it).
pub fn driver_for(chip: &'static Chip, voltage_mv: Option<u32>) -> Result<Box<dyn FlashController>, Error> {
    of(chip).and_then(|family| (family.driver)(chip, voltage_mv)).ok_or_else(|| {
        Error::unsupported(format!("flash programming is not implemented for {} ({})", chip.name, chip.parts))
    })
}
