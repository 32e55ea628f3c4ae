//! STM32H5.

use super::Family;
use crate::chip::Chip;
use crate::flash::FlashController;

pub mod chips;
pub mod driver;
pub mod factory;
pub mod options;

pub static FAMILY: Family = Family { name: "STM32H5", chips: chips::CHIPS, driver, factory: factory::of };

fn driver(chip: &'static Chip, _voltage_mv: Option<u32>) -> Option<Box<dyn FlashController>> {
    Some(Box::new(driver::H5Controller::new(chip)))
}
