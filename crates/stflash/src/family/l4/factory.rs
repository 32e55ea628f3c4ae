//! STM32L4/L4+/G0/G4/C0/WB/WL factory option values (`stflash recover`; see
//! `crate::flash::options::factory`): FLASH_OPTR and the write-protection
//! area registers, per part line. The PCROP registers and the WB/WL secure
//! flash registers (SFR, set by CPU2's FUS only) are never written.

use crate::chip::{Chip, Controller};
use crate::flash::options::factory::{Factory, FactoryWord, Reliability as R, WRP_AREA_OFF};

const fn wrp(word: &'static str) -> FactoryWord {
    FactoryWord {
        word,
        value: WRP_AREA_OFF,
        fields: &[],
        reliability: R::A,
        source: "area off by definition (RM0351, RM0444, RM0440, RM0434 FLASH_WRP1AR: start above end); Black Magic \
                 Probe stm32l4.c:497-549",
    }
}
const WRP: [FactoryWord; 4] = [wrp("FLASH_WRP1AR"), wrp("FLASH_WRP1BR"), wrp("FLASH_WRP2AR"), wrp("FLASH_WRP2BR")];

/// RDP 0xAA, BOR level 0, no reset in Stop/Standby/Shutdown, watchdogs by
/// software and running, boot bank 1, SRAM2 parity off and erased at reset,
/// boot from the BOOT0 pin (RM0351 FLASH_OPTR; ST's SVD for the L4R5).
const OPTR_L4: FactoryWord = FactoryWord {
    word: "FLASH_OPTR",
    value: 0xFFEF_F8AA,
    fields: &[],
    reliability: R::A,
    source: "Black Magic Probe stm32l4.c:497-507; ST SVD STM32L4R5 FLASH_OPTR reset value",
};

pub(super) static L4: Factory = Factory { words: &[OPTR_L4, WRP[0], WRP[1], WRP[2], WRP[3]], no_regression: None };

pub(super) static G4: Factory = Factory {
    words: &[
        FactoryWord {
            word: "FLASH_OPTR",
            value: 0xFFEF_F8AA,
            fields: &[],
            reliability: R::B,
            source: "Black Magic Probe stm32l4.c:509-526",
        },
        WRP[0],
        WRP[1],
        WRP[2],
        WRP[3],
    ],
    no_regression: None,
};

/// G0x1 0xFFFFFEAA and G0x0 0xDFFFE1AA (Black Magic Probe stm32g0.c:133,
/// 215-242) share a DEV_ID: only the fields on which both agree are
/// restored (not the brown-out bits nor IRHEN).
pub(super) static G0: Factory = Factory {
    words: &[
        FactoryWord {
            word: "FLASH_OPTR",
            value: 0xFFFF_FEAA,
            fields: &[
                "RDP",
                "nRST_STOP",
                "nRST_STDBY",
                "nRST_SHDW",
                "IWDG_SW",
                "IWDG_STOP",
                "IWDG_STDBY",
                "WWDG_SW",
                "RAM_PARITY_CHECK",
                "nBOOT_SEL",
                "nBOOT1",
                "nBOOT0",
                "NRST_MODE",
            ],
            reliability: R::B,
            source: "Black Magic Probe stm32g0.c:133, 215-242 (G0x1 and G0x0 defaults, common fields)",
        },
        WRP[0],
        WRP[1],
        WRP[2],
        WRP[3],
    ],
    no_regression: None,
};

pub(super) static C0: Factory = Factory {
    words: &[
        FactoryWord {
            word: "FLASH_OPTR",
            value: 0x3FFF_FFAA,
            fields: &[],
            reliability: R::B,
            source: "Black Magic Probe stm32g0.c:134, 736 (\"RM0490 §4.4.1\")",
        },
        WRP[0],
        WRP[1],
    ],
    no_regression: None,
};

/// U0: no source at hand gives the user bits as shipped (ST's SVD reset
/// value of FLASH_OPTR is 0): only RDP and the write-protection areas are
/// restored.
pub(super) static U0: Factory = Factory {
    words: &[
        FactoryWord {
            word: "FLASH_OPTR",
            value: 0x0000_00AA,
            fields: &["RDP"],
            reliability: R::A,
            source: "ST HAL stm32u0xx_hal_flash.h OB_RDP_LEVEL_0: RDP 0xAA = level 0",
        },
        WRP[0],
        WRP[1],
    ],
    no_regression: None,
};

/// WB: the sources disagree on every user bit of FLASH_OPTR (Black Magic
/// Probe 0x2D8F71AA, ST's SVD 0x10708000): only RDP is restored.
pub(super) static WB: Factory = Factory {
    words: &[
        FactoryWord {
            word: "FLASH_OPTR",
            value: 0x0000_00AA,
            fields: &["RDP"],
            reliability: R::A,
            source: "RM0434 FLASH_OPTR: RDP 0xAA = level 0",
        },
        WRP[0],
        WRP[1],
    ],
    no_regression: None,
};

pub(super) static WL: Factory = Factory {
    words: &[
        FactoryWord {
            word: "FLASH_OPTR",
            value: 0x3FEF_F0AA,
            fields: &[],
            reliability: R::B,
            source: "Black Magic Probe stm32l4.c:528-536 (ST's SVD differs in reserved bit 20 only)",
        },
        WRP[0],
        WRP[1],
    ],
    no_regression: None,
};

pub fn of(chip: &Chip) -> Option<&'static Factory> {
    match chip.controller {
        Controller::L4(v) => Some(v.factory),
        _ => None,
    }
}
