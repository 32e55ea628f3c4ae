//! The STM32 families, one directory each, named after ST's families: the
//! chip-table rows (`chips.rs`), the flash driver (`driver.rs`) and the
//! option bytes (`options.rs`) of one flash-controller design.
//!
//! Adding a chip of a known family is one row in its `chips.rs`. Adding a
//! family is one directory plus one line in [`FAMILIES`] (and its simulator
//! model, one line in `stflash-sim`'s registry).

use crate::chip::Chip;
use crate::error::Error;
use crate::flash::FlashController;

pub mod f0f1f3;
pub mod f2f4f7;
pub mod h5;
pub mod h7;
pub mod l0l1;
pub mod l4;
pub mod l5u5;

/// One family: its chips and how to make a driver for one of them.
pub struct Family {
    /// ST's family names, for people ("STM32F0, F1, F3").
    pub name: &'static str,
    pub chips: &'static [Chip],
    pub driver: MakeDriver,
}

/// Make the driver for `chip` (a row of the family's table) at the measured
/// target voltage; `None` when the row is one the driver cannot program.
pub type MakeDriver = fn(chip: &'static Chip, voltage_mv: Option<u32>) -> Option<Box<dyn FlashController>>;

/// Every family, one line each.
pub static FAMILIES: &[&Family] =
    &[&f0f1f3::FAMILY, &f2f4f7::FAMILY, &h7::FAMILY, &l4::FAMILY, &l0l1::FAMILY, &l5u5::FAMILY, &h5::FAMILY];

/// The family a chip-table row belongs to.
pub fn of(chip: &Chip) -> Option<&'static Family> {
    FAMILIES.iter().copied().find(|f| f.chips.iter().any(|c| c.dev_id == chip.dev_id))
}

/// Choose the driver for a chip. `voltage_mv` is the target voltage the probe
/// measured (F2/F4/F7 and H7 choose their programming parallelism from it).
pub fn driver_for(chip: &'static Chip, voltage_mv: Option<u32>) -> Result<Box<dyn FlashController>, Error> {
    of(chip).and_then(|family| (family.driver)(chip, voltage_mv)).ok_or_else(|| {
        Error::unsupported(format!("flash programming is not implemented for {} ({})", chip.name, chip.parts))
    })
}
