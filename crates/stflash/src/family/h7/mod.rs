//! STM32H7 (H74x/H75x, H72x/H73x, H7A3/H7B3/H7B0).

use super::Family;
use crate::chip::Chip;
use crate::flash::FlashController;

pub mod chips;
pub mod driver;
pub mod factory;
pub mod options;

pub use driver::Variant;

pub static FAMILY: Family = Family {
    name: "STM32H7 (H74x/H75x, H72x/H73x, H7A3/H7B3/H7B0)",
    chips: chips::CHIPS,
    driver,
    factory: factory::of,
};

fn driver(chip: &'static Chip, voltage_mv: Option<u32>) -> Option<Box<dyn FlashController>> {
    driver::H7Controller::new(chip, voltage_mv).map(|d| Box::new(d) as Box<dyn FlashController>)
}
