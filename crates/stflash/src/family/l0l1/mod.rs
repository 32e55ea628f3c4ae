//! STM32L0, L1.

use super::Family;
use crate::chip::Chip;
use crate::flash::FlashController;

pub mod chips;
pub mod driver;
pub mod eeprom;
pub mod factory;
pub mod options;

pub use driver::Variant;

pub static FAMILY: Family = Family { name: "STM32L0, L1", chips: chips::CHIPS, driver, factory: factory::of };

fn driver(chip: &'static Chip, _voltage_mv: Option<u32>) -> Option<Box<dyn FlashController>> {
    driver::LpController::new(chip).map(|d| Box::new(d) as Box<dyn FlashController>)
}
