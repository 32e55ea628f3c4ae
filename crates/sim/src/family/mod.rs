//! The simulated STM32 families, one file each, named as in the stflash
//! library (`crates/stflash/src/family/`). A family's file holds the model of
//! its flash controller (a [`FlashModel`](crate::model::FlashModel)) and the
//! parts that use it (`PARTS`).
//!
//! Adding a part of a known family is one entry in its family's `PARTS`.
//! Adding a family is one file here plus one line in [`FAMILIES`] (and the
//! file's `mod` line).

use crate::facts::Facts;
use crate::parts::Part;

pub mod f0f1f3;
pub mod f2f4f7;
pub mod h5;
pub mod h7;
pub mod h7rs;
pub mod l0l1;
pub mod l4;
pub mod l5u5;

/// One simulated family: its parts, and its register facts by ST's names
/// (`crate::facts`), one call per part.
pub struct Family {
    pub parts: &'static [Part],
    pub register_facts: fn(part: &Part, facts: &mut Facts),
}

/// The registry: every family's part list, one line per family.
pub const FAMILIES: &[Family] = &[
    // STM32F0, F1, F3: page-type flash
    Family { parts: f0f1f3::PARTS, register_facts: f0f1f3::register_facts },
    // STM32F2, F4, F7: sector-type flash
    Family { parts: f2f4f7::PARTS, register_facts: f2f4f7::register_facts },
    // STM32H7: H74x/H75x, H72x/H73x, H7A3/H7B3/H7B0
    Family { parts: h7::PARTS, register_facts: h7::register_facts },
    // STM32L4, L4+, G0, G4, C0, WB, WL: 64-bit double-word flash
    Family { parts: l4::PARTS, register_facts: l4::register_facts },
    // STM32L0, L1: PECR flash and data EEPROM
    Family { parts: l0l1::PARTS, register_facts: l0l1::register_facts },
    // STM32L5, U5: TrustZone flash through its non-secure registers
    Family { parts: l5u5::PARTS, register_facts: l5u5::register_facts },
    // STM32H5
    Family { parts: h5::PARTS, register_facts: h5::register_facts },
    // STM32H7R/S: 64 KiB, errors in ISR, options through PG_OPT
    Family { parts: h7rs::PARTS, register_facts: h7rs::register_facts },
];

/// The register facts of `part` (its family's `register_facts`).
pub fn register_facts(part: &Part, facts: &mut Facts) {
    for family in FAMILIES {
        if family.parts.iter().any(|p| p.name == part.name) {
            (family.register_facts)(part, facts);
        }
    }
}
