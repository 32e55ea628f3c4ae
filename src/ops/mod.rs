//! Operations: write, erase, verify, read, reset.
pub mod image;
