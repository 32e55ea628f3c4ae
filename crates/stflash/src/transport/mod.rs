//! USB transport: the lowest layer. The [`Transport`] trait and the probe
//! descriptions live in the `stflash-transport` crate, which the simulator
//! (`stflash-sim`) implements too; this module adds the real USB transport.

pub use stflash_transport::*;

pub mod usb;
