//! STM32F0/F1/F3 factory option bytes (`stflash recover`; see
//! `crate::flash::options::factory`). Erased option bytes read 0xFF, and an
//! unprotected chip holds RDP 0xA5 (F1) or 0xAA (F0/F3) with the
//! complements: the value + complement half-words of `options.rs`.

use crate::chip::{Chip, Controller};
use crate::flash::options::factory::{Factory, FactoryWord, Reliability as R};

/// DATA0/1 0xFF, every WRP bit 1 (0 = protected, RM0008 §2.5, RM0091 §4.1).
const REST: [FactoryWord; 3] = [
    FactoryWord {
        word: "OB_DATA",
        value: 0x00FF_00FF,
        fields: &[],
        reliability: R::C,
        source: "erased option bytes (0xFF) with their complements; F103 SVD FLASH_OBR reset value",
    },
    FactoryWord {
        word: "OB_WRP01",
        value: 0x00FF_00FF,
        fields: &[],
        reliability: R::A,
        source: "write protection off by definition (RM0008 §2.5: WRPx bit 0 = protected)",
    },
    FactoryWord {
        word: "OB_WRP23",
        value: 0x00FF_00FF,
        fields: &[],
        reliability: R::A,
        source: "write protection off by definition (RM0008 §2.5: WRPx bit 0 = protected)",
    },
];

pub(super) static F1: Factory = Factory {
    words: &[
        // RDP 0xA5 (level 0), USER 0xFF: `00ff5aa5`, what st-flash reads on a
        // fresh F103; OpenOCD stm32f1x.c:821 (default RDP 0xA5).
        FactoryWord {
            word: "OB_USER",
            value: 0x00FF_5AA5,
            fields: &[],
            reliability: R::A,
            source: "OpenOCD stm32f1x.c:821 (RDP 0xA5); F103 SVD FLASH_OBR/WRPR reset values",
        },
        REST[0],
        REST[1],
        REST[2],
    ],
    no_regression: None,
};

pub(super) static F0_F3: Factory = Factory {
    words: &[
        // RM0091 §4: "ST production value: 0x00FF 55AA"; OpenOCD stm32f1x.c
        // (default RDP 0xAA for the F0/F3 ids).
        FactoryWord {
            word: "OB_USER",
            value: 0x00FF_55AA,
            fields: &[],
            reliability: R::A,
            source: "RM0091 §4.1 (ST production value 0x00FF55AA); OpenOCD stm32f1x.c (RDP 0xAA on F0/F3)",
        },
        REST[0],
        REST[1],
        REST[2],
    ],
    no_regression: None,
};

pub fn of(chip: &Chip) -> Option<&'static Factory> {
    match chip.controller {
        Controller::F0F1F3(v) => Some(v.factory),
        _ => None,
    }
}
