//! Command line: st-flash compatible arguments, output and exit codes.

/// Run the program; returns the process exit code.
pub fn main() -> u8 {
    0
}
