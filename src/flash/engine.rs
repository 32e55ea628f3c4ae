//! Runs driver sequences on the target (host-driven path).
