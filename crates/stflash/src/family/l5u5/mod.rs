//! STM32L5, U5, WBA5, U3.

use super::Family;
use crate::chip::Chip;
use crate::flash::FlashController;

pub mod chips;
pub mod driver;
pub mod factory;
pub mod options;

pub use driver::Variant;

pub static FAMILY: Family = Family { name: "STM32L5, U5, WBA5, U3", chips: chips::CHIPS, driver, factory: factory::of };

fn driver(chip: &'static Chip, _voltage_mv: Option<u32>) -> Option<Box<dyn FlashController>> {
    driver::TzController::new(chip).map(|d| Box::new(d) as Box<dyn FlashController>)
}
