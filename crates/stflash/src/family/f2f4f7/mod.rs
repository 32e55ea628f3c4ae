//! STM32F2, F4, F7.

use super::Family;
use crate::chip::Chip;
use crate::flash::FlashController;

pub mod chips;
pub mod driver;
pub mod factory;
pub mod options;

pub use driver::Variant;

pub static FAMILY: Family =
    Family { name: "STM32F2, F4, F7", chips: chips::CHIPS, driver, factory: factory::of, register_facts };

fn driver(chip: &'static Chip, voltage_mv: Option<u32>) -> Option<Box<dyn FlashController>> {
    driver::FsController::new(chip, voltage_mv).map(|d| Box::new(d) as Box<dyn FlashController>)
}

/// The row's register facts: its chip-table values, its driver's and its
/// option tables', each stated where the constants are.
fn register_facts(chip: &'static Chip, facts: &mut crate::facts::Facts) {
    chips::register_facts(chip, facts);
    driver::register_facts(chip, facts);
    options::register_facts(chip, facts);
}
