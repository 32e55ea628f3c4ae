//! STM32H7R/S (H7R3, H7S3, H7R7, H7S7): 64 KiB of internal flash.
//!
//! A family of its own rather than a fourth H7 variant: the flash interface
//! keeps the H7A/B's CR layout and sequences (FW 4, START 5, the sector
//! number from bit 6; PG and a 16-byte flash word, SER then START, BER then
//! START, polling QW), but everything around them differs: the register map
//! (KEYR 0x04, CR 0x10, SR 0x14, ISR 0x24, ICR 0x28, OPTKEYR 0x100, OPTCR
//! 0x104, option registers from 0x200 instead of the H7's KEYR1 0x04, CR1
//! 0x0C, SR1 0x10, CCR1 0x14, OPTCR 0x18), the errors in ISR/ICR rather than
//! in the status register, one bank, option bytes written through
//! OPTCR.PG_OPT into *SRP registers with a non-volatile state (NVSTATE)
//! instead of RDP, a flash CRC unit with other field positions, and the core
//! on AP1. Making the H7 driver's register map, error register and option
//! mechanism data would have rewritten most of it (and of its flash-CRC
//! code) for one die; these few sequences are written out here instead,
//! with the shared primitives (`RegOp`, `start_then_clear`,
//! `unlock_with_keys`, the option-word tables).

use super::Family;
use crate::chip::Chip;
use crate::flash::FlashController;

pub mod chips;
pub mod driver;
pub mod factory;
pub mod options;

pub static FAMILY: Family = Family {
    name: "STM32H7R/S (H7R3, H7S3, H7R7, H7S7)",
    chips: chips::CHIPS,
    driver,
    factory: factory::of,
    register_facts,
};

fn driver(chip: &'static Chip, _voltage_mv: Option<u32>) -> Option<Box<dyn FlashController>> {
    driver::H7rsController::new(chip).map(|d| Box::new(d) as Box<dyn FlashController>)
}

fn register_facts(chip: &'static Chip, facts: &mut crate::facts::Facts) {
    chips::register_facts(chip, facts);
    driver::register_facts(chip, facts);
    options::register_facts(chip, facts);
}
