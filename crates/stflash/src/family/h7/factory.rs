//! STM32H7 factory option values (`stflash recover`; see
//! `crate::flash::options::factory`). The user bits of FLASH_OPTSR as
//! shipped are not known reliably (stflash's simulator assumes 0x0006AAD0 on
//! single-core parts): only RDP and write protection are restored. PCROP and
//! secure-only areas (PRAR, SCAR), SECURITY and ST_RAM_SIZE are security
//! options and never change.

use crate::chip::Chip;
use crate::flash::options::factory::{Factory, FactoryWord, Reliability as R};

const fn off(word: &'static str) -> FactoryWord {
    FactoryWord {
        word,
        value: 0xFFFF_FFFF,
        fields: &[],
        reliability: R::A,
        source: "write protection off by definition (RM0433/RM0455 FLASH_WPSN: bit 0 = protected)",
    }
}

static H7: Factory = Factory {
    words: &[
        FactoryWord {
            word: "FLASH_OPTSR",
            value: 0x0000_AA00,
            fields: &["RDP"],
            reliability: R::A,
            source: "RM0433 FLASH_OPTSR_PRG: RDP 0xAA = level 0",
        },
        off("FLASH_WPSN1"),
        off("FLASH_WPSN2"),
        off("FLASH_WPSGN1"),
        off("FLASH_WPSGN2"),
    ],
    no_regression: None,
};

pub fn of(_chip: &Chip) -> Option<&'static Factory> {
    Some(&H7)
}
