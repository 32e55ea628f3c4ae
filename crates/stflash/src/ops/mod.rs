//! Operations: write, erase, read, reset and the checks (verify, checksum,
//! blank-check) — built on the flash drivers and target access. Each
//! operation validates its input completely before it touches the chip.

pub mod check;
pub mod doctor;
pub mod erase;
pub mod image;
pub mod inspect;
pub mod journal;
mod link;
pub mod options;
pub mod read;
pub mod recover;
pub mod session;
pub mod verify;
pub mod write;

pub use session::{Session, Unlocked};
