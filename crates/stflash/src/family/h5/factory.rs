//! STM32H5 factory option values (`stflash recover`; see
//! `crate::flash::options::factory`). H5 has no RDP byte: its product state
//! (a security option, never written by stflash) leaves Closed or Locked only
//! through debug authentication. recover clears the write protection of a
//! chip in an open product state.

use crate::chip::Chip;
use crate::flash::options::factory::{Factory, FactoryWord, Reliability as R};

const fn off(word: &'static str) -> FactoryWord {
    FactoryWord {
        word,
        value: 0xFFFF_FFFF,
        fields: &[],
        reliability: R::A,
        source: "write protection off by definition (RM0481 FLASH_WRPxR: bit 0 = protected)",
    }
}

static H5: Factory = Factory {
    words: &[off("FLASH_WRP1R"), off("FLASH_WRP2R")],
    no_regression: Some(
        "on STM32H5 the product state leaves Closed only through debug authentication (RM0481 \
         \"Product state transitions\"), which stflash does not do: use STM32CubeProgrammer",
    ),
};

pub fn of(_chip: &Chip) -> Option<&'static Factory> {
    Some(&H5)
}
