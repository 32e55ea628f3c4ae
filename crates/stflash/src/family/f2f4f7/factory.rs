//! STM32F2/F4/F7 factory option values (`stflash recover`; see
//! `crate::flash::options::factory`), per part line: FLASH_OPTCR (and
//! OPTCR1 where the line has it).

use crate::chip::{Chip, Controller};
use crate::flash::options::factory::{Factory, FactoryWord, Reliability as R};

/// BOR off, watchdogs by software, no reset in Stop/Standby, RDP 0xAA, every
/// nWRP bit 1 (RM0090 §3.9.10 reset value; CubeProgrammer writes `edaaff0f`
/// to an F407 at RDP 1; Black Magic Probe stm32f4.c:816-817).
const OPTCR_F4: FactoryWord = FactoryWord {
    word: "FLASH_OPTCR",
    value: 0x0FFF_AAED,
    fields: &[],
    reliability: R::A,
    source: "RM0090 §3.9.10; STM32CubeProgrammer log on an F407 (OB buffer edaaff0f); Black Magic Probe stm32f4.c",
};

/// nWRP of sectors 12-23 all 1: no protection (RM0090 §3.9.11).
const OPTCR1_F4: FactoryWord = FactoryWord {
    word: "FLASH_OPTCR1",
    value: 0x0FFF_0000,
    fields: &["nWRP_12"],
    reliability: R::A,
    source: "write protection off by definition (RM0090 §3.9.11); Black Magic Probe stm32f4.c:790-798",
};

pub(super) static F2_F4: Factory = Factory { words: &[OPTCR_F4], no_regression: None };
pub(super) static F4_TWO_WORDS: Factory = Factory { words: &[OPTCR_F4, OPTCR1_F4], no_regression: None };
pub(super) static F413: Factory = Factory {
    words: &[
        FactoryWord {
            word: "FLASH_OPTCR",
            value: 0x7FFF_AAFD,
            fields: &[],
            reliability: R::B,
            source: "Black Magic Probe stm32f4.c:812-814",
        },
        OPTCR1_F4,
    ],
    no_regression: None,
};

/// F7 boot addresses: BOOT_ADD0 0x0080 (0x00200000, flash on ITCM),
/// BOOT_ADD1 0x0040 (0x00100000, system memory).
const OPTCR1_F7: FactoryWord = FactoryWord {
    word: "FLASH_OPTCR1",
    value: 0x0040_0080,
    fields: &[],
    reliability: R::B,
    source: "Black Magic Probe stm32f4.c:800-811 (an emulator's model says 0xFF7F0080)",
};

pub(super) static F72X_F74X: Factory = Factory {
    words: &[
        FactoryWord {
            word: "FLASH_OPTCR",
            value: 0xC0FF_AAFD,
            fields: &[],
            reliability: R::B,
            source: "Black Magic Probe stm32f4.c:800-807 (a QEMU-style F746 model agrees)",
        },
        OPTCR1_F7,
    ],
    no_regression: None,
};

pub(super) static F76X: Factory = Factory {
    words: &[
        FactoryWord {
            word: "FLASH_OPTCR",
            value: 0xFFFF_AAFD,
            fields: &[],
            reliability: R::B,
            source: "Black Magic Probe stm32f4.c:808-811",
        },
        OPTCR1_F7,
    ],
    no_regression: None,
};

pub fn of(chip: &Chip) -> Option<&'static Factory> {
    match chip.controller {
        Controller::F2F4F7(v) => Some(v.factory),
        _ => None,
    }
}
