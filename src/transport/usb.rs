//! rusb transport.
