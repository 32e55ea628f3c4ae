//! Operations: write, erase, verify, read, reset.
