//! stflash: program STM32 microcontrollers through ST-LINK probes.
//!
//! The crate is a stack of layers, each using only the one below it:
//!
//! | layer | module | what it knows |
//! |---|---|---|
//! | USB transport | [`transport`] | bulk endpoints (the trait is the `stflash-transport` crate's; rusb here) |
//! | ST-LINK protocol | [`stlink`] | 16-byte commands, replies, status codes, transfer limits |
//! | the microcontroller | [`mcu`] | Cortex-M debug registers, identification, memory access |
//! | chip facts | [`chip`] | the chip table's types and lookup (rows live in the families); [`facts`]: the register facts each family states by ST's names, checked against ST's headers |
//! | families | [`family`] | one directory per ST family: chip rows, flash driver, option bytes |
//! | flash machinery | [`flash`] | what drivers share: sequences as data, the host engine, layouts, the SRAM routine, CRC units |
//! | operations | [`ops`] | write, erase, verify, read, reset, option bytes; images and their validation |
//!
//! The command line (`stflash-cli`) is a thin crate on top. The simulator
//! (`stflash-sim`) is a byte-level model of an ST-LINK and an STM32 behind it;
//! it plugs in as another [`transport::Transport`], so tests exercise every
//! layer above it.

pub mod chip;
pub mod error;
pub mod facts;
pub mod family;
pub mod flash;
pub mod mcu;
pub mod ops;
pub mod stlink;
pub mod text;
pub mod transport;

pub use error::{Error, ErrorKind, Result};

/// The st-flash release whose interface stflash reproduces.
pub const ST_FLASH_COMPAT_VERSION: &str = "1.8.0";

/// One line telling Linux users how to get access to the probe.
pub use transport::UDEV_INSTALL_HINT;
