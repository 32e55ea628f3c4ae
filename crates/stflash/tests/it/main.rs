//! Tests of the library against the simulator and against independent
//! sources: one test binary, one module per area.

mod crosscheck;
mod fixture;
mod session;
