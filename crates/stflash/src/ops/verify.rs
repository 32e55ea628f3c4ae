//! Verification by reading back.

use super::session::Session;
use crate::error::{Error, ErrorKind, Result};
use crate::flash::{Phase, Progress};
use crate::text::count;

/// The verification method name reported to users (JSON `verify_method`).
pub const METHOD: &str = "read-back";

/// Read size per step (progress granularity; the protocol layer splits further).
const STEP: usize = 16 * 1024;

/// Read back and compare several ranges as one verify phase.
pub fn compare_all(session: &mut Session, ranges: &[(u32, &[u8])], progress: &mut dyn Progress) -> Result<()> {
    progress.begin(Phase::Verify, ranges.iter().map(|r| r.1.len() as u64).sum());
    for &(addr, data) in ranges {
        compare(session, addr, data, progress)?;
    }
    progress.end();
    Ok(())
}

/// Read `expected.len()` bytes at `addr` and compare (within a verify phase
/// begun by the caller); the error names the first differing address and both values.
fn compare(session: &mut Session, addr: u32, expected: &[u8], progress: &mut dyn Progress) -> Result<()> {
    let mut buf = vec![0u8; STEP.min(expected.len())];
    for (i, want) in expected.chunks(STEP).enumerate() {
        let base = addr + (i * STEP) as u32;
        let got = &mut buf[..want.len()];
        session.target.read_mem(base, got)?;
        if let Some(off) = want.iter().zip(got.iter()).position(|(a, b)| a != b) {
            let bad = want.iter().zip(got.iter()).filter(|(a, b)| a != b).count();
            return Err(Error::new(
                ErrorKind::Verify,
                format!(
                    "verification failed at 0x{:08X}: wrote 0x{:02X}, read back 0x{:02X} ({bad} of the {} from 0x{base:08X} {})",
                    base + off as u32,
                    want[off],
                    got[off],
                    count(want.len() as u64, "byte"),
                    if bad == 1 { "differs" } else { "differ" }
                ),
            ));
        }
        progress.add(want.len() as u64);
    }
    Ok(())
}
