//! STM32H7R/S factory option values (`stflash recover`; see
//! `crate::flash::options::factory`). No source at hand gives the user
//! options (OBW1SR, OBW2SR) as shipped: only the write protection is
//! cleared. The non-volatile state leaves Closed only through debug
//! authentication.

use crate::chip::Chip;
use crate::flash::options::factory::{Factory, FactoryWord, Reliability as R};

static H7RS: Factory = Factory {
    words: &[FactoryWord {
        word: "FLASH_WRPSR",
        value: 0x0000_00FF,
        fields: &[],
        reliability: R::A,
        source: "write protection off by definition (RM0477 FLASH_WRPSR: bit 0 = protected; ST HAL \
                 stm32h7rsxx_hal_flash_ex.c FLASH_OB_WRPConfig)",
    }],
    no_regression: Some(
        "on STM32H7R/S the non-volatile state leaves Closed only through debug authentication (RM0477), which \
         stflash does not do: use STM32CubeProgrammer",
    ),
};

pub fn of(_chip: &Chip) -> Option<&'static Factory> {
    Some(&H7RS)
}
