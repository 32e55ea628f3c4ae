//! STM32H5.

use super::Family;
use crate::chip::Chip;
use crate::flash::FlashController;

pub mod chips;
pub mod driver;
pub mod factory;
pub mod options;

pub use driver::Variant;

pub static FAMILY: Family =
    Family { name: "STM32H5 (H503, H523/H533, H562/H563/H573)", chips: chips::CHIPS, driver, factory: factory::of };

fn driver(chip: &'static Chip, _voltage_mv: Option<u32>) -> Option<Box<dyn FlashController>> {
    driver::H5Controller::new(chip).map(|d| Box::new(d) as Box<dyn FlashController>)
}
