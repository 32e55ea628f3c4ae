//! Byte-level tests through SimTransport.
