//! The simulated STM32 families, one file each, named as in the stflash
//! library (`crates/stflash/src/family/`). A family's file holds the model of
//! its flash controller (a [`FlashModel`](crate::model::FlashModel)) and the
//! parts that use it (`PARTS`).
//!
//! Adding a part of a known family is one entry in its family's `PARTS`.
//! Adding a family is one file here plus one line in [`FAMILIES`] (and the
//! file's `mod` line).

use crate::parts::Part;

pub mod f0f1f3;
pub mod f2f4f7;
pub mod h5;
pub mod h7;
pub mod h7rs;
pub mod l0l1;
pub mod l4;
pub mod l5u5;

/// The registry: every family's part list, one line per family.
pub const FAMILIES: &[&[Part]] = &[
    f0f1f3::PARTS, // STM32F0, F1, F3: page-type flash
    f2f4f7::PARTS, // STM32F2, F4, F7: sector-type flash
    h7::PARTS,     // STM32H7: H74x/H75x, H72x/H73x, H7A3/H7B3/H7B0
    l4::PARTS,     // STM32L4, L4+, G0, G4, C0, WB, WL: 64-bit double-word flash
    l0l1::PARTS,   // STM32L0, L1: PECR flash and data EEPROM
    l5u5::PARTS,   // STM32L5, U5: TrustZone flash through its non-secure registers
    h5::PARTS,     // STM32H5
    h7rs::PARTS,   // STM32H7R/S: 64 KiB, errors in ISR, options through PG_OPT
];
