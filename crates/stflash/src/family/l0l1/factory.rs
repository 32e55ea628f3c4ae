//! STM32L0/L1 factory option bytes (`stflash recover`; see
//! `crate::flash::options::factory`): each word a 16-bit value and its
//! complement (`options.rs`).
//!
//! The USER word's factory value is not known reliably (stflash's simulator
//! assumes 0x0070; ST's SVD reset value 0x00F8 would mean BOR level 1 and
//! boot from bank 2): recover leaves it as it is.

use crate::chip::Chip;
use crate::flash::options::factory::{Factory, FactoryWord, Reliability as R};

const WRP_OFF: &str = "write protection off by definition (RM0377 §3.4.1: WRPROT bit 1 = protected); OpenOCD \
                       stm32lx.c:85-86 (0xFFFF0000)";

static L0_L1: Factory = Factory {
    words: &[
        // RDP 0xAA, WPRMOD/SPRMOD 0 (OpenOCD stm32lx.c:85-86: 0xFF5500AA
        // unprotects; RM0377 §3.4.1 level 0 = 0xAA).
        FactoryWord {
            word: "OB_RDP",
            value: 0xFF55_00AA,
            fields: &["RDP"],
            reliability: R::A,
            source: "RM0377 §3.4.1 (level 0 = 0xAA); OpenOCD stm32lx.c:85-86 (0xFF5500AA)",
        },
        FactoryWord { word: "OB_WRP0", value: 0xFFFF_0000, fields: &[], reliability: R::A, source: WRP_OFF },
        FactoryWord { word: "OB_WRP1", value: 0xFFFF_0000, fields: &[], reliability: R::A, source: WRP_OFF },
        FactoryWord { word: "OB_WRP2", value: 0xFFFF_0000, fields: &[], reliability: R::A, source: WRP_OFF },
        FactoryWord { word: "OB_WRP3", value: 0xFFFF_0000, fields: &[], reliability: R::A, source: WRP_OFF },
    ],
    no_regression: None,
};

pub fn of(_chip: &Chip) -> Option<&'static Factory> {
    Some(&L0_L1)
}
