//! STM32L5/U5 factory option values (`stflash recover`; see
//! `crate::flash::options::factory`). No source at hand gives the user bits
//! of FLASH_OPTR as shipped (ST's SVD gives 0): only RDP and the
//! write-protection areas are restored; TZEN and the U5 WRP_UNLOCK bits are
//! security options and never change.

use crate::chip::Chip;
use crate::flash::options::factory::{Factory, FactoryWord, Reliability as R, WRP_AREA_OFF};

const fn wrp(word: &'static str) -> FactoryWord {
    FactoryWord {
        word,
        value: WRP_AREA_OFF,
        fields: &[],
        reliability: R::A,
        source: "area off by definition (RM0438/RM0456 FLASH_WRPxyR: start above end)",
    }
}

pub(super) static L5_U5: Factory = Factory {
    words: &[
        FactoryWord {
            word: "FLASH_OPTR",
            value: 0x0000_00AA,
            fields: &["RDP"],
            reliability: R::A,
            source: "RM0438/RM0456 FLASH_OPTR: RDP 0xAA = level 0",
        },
        wrp("FLASH_WRP1AR"),
        wrp("FLASH_WRP1BR"),
        wrp("FLASH_WRP2AR"),
        wrp("FLASH_WRP2BR"),
    ],
    no_regression: None,
};

/// WBA5: one bank, areas A and B (RM0493 FLASH_WRPxR; CMSIS
/// stm32wba52xx.h:356-357).
pub(super) static WBA5: Factory = Factory {
    words: &[
        FactoryWord {
            word: "FLASH_OPTR",
            value: 0x0000_00AA,
            fields: &["RDP"],
            reliability: R::A,
            source: "ST HAL stm32wbaxx_hal_flash.h OB_RDP_LEVEL_0: RDP 0xAA = level 0",
        },
        wrp("FLASH_WRPAR"),
        wrp("FLASH_WRPBR"),
    ],
    no_regression: None,
};

pub fn of(chip: &Chip) -> Option<&'static Factory> {
    match chip.controller {
        crate::chip::Controller::L5U5(v) => Some(v.factory),
        _ => None,
    }
}
