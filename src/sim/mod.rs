//! The simulator: a byte-level model of an ST-LINK with an STM32 behind it.
//!
//! It implements [`Transport`], so the protocol, target, flash and operations
//! layers run unchanged against it. It is written from the fact sheets
//! (stlink-usb-protocol.md, flash-families.md, timing-model.md), not from the
//! host code, so that the two check each other.
//!
//! Selecting it: `STFLASH_SIM=<chip>[:<state file>]` in the environment (or
//! `--sim <chip>[:<state file>]`). With a state file, flash and option bytes
//! persist between runs, so `stflash write` then `stflash read` see one chip.
//!
//! Structure:
//! - `probe.rs`: ST-LINK firmware: command blocks, replies, status codes, limits.
//! - `target.rs`: the chip's bus: Cortex-M debug registers, DBGMCU, SRAM,
//!   system memory, and a [`flash::FlashModel`] per family.
//! - `clock.rs`: the modeled timeline and run statistics (timing-model.md).
//! - `chips.rs`: simulated parts (identity, memories, flash model).
//! - `faults.rs`: fault injection (`STFLASH_SIM_FAULTS`).
//! - `state.rs`: the state file.

pub mod flash;

