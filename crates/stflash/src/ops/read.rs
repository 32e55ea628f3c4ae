//! `read`: memory to a file.

use log::warn;

use super::session::Session;
use crate::chip::MemRegion;
use crate::error::{Error, Result};
use crate::flash::eeprom::EepromArea;
use crate::flash::{Phase, Progress};
use crate::text::count;

/// Read size per step (progress granularity).
const STEP: usize = 16 * 1024;

/// The readable range starting at `addr`, for clipping: the flash banks
/// (contiguous banks join, a gap ends it), the data EEPROM, a RAM region,
/// system memory, OTP or option bytes. `None` for other addresses (read as
/// asked).
fn region_end(session: &Session, eeprom: Option<&EepromArea>, addr: u32) -> Option<u64> {
    if let Some(e) = eeprom.filter(|e| e.region.contains(addr)) {
        return Some(e.region.end());
    }
    let layout = &session.layout;
    if let Some(bank) = layout.bank_of(addr) {
        let mut end = layout.banks[bank as usize].end();
        for b in &layout.banks[bank as usize + 1..] {
            if b.base as u64 != end {
                break;
            }
            end = b.end();
        }
        return Some(end);
    }
    let chip = session.target.chip;
    let fixed: Vec<MemRegion> = chip
        .ram_regions()
        .chain(std::iter::once(chip.system_memory))
        .chain(chip.otp)
        .chain(chip.option_bytes)
        .collect();
    fixed.iter().find(|r| r.contains(addr)).map(|r| r.end())
}

/// Read `size` bytes at `addr`; size 0 means "to the end of the region".
/// A size past the end of the region is clipped with a warning. On link
/// trouble the read runs again at a slower clock (unless `--freq` was given).
pub fn read(session: &mut Session, addr: u32, size: u32, progress: &mut dyn Progress) -> Result<Vec<u8>> {
    super::link::retry_slower(session, "reading", |s| read_once(s, addr, size, progress))
}

fn read_once(session: &mut Session, addr: u32, size: u32, progress: &mut dyn Progress) -> Result<Vec<u8>> {
    let mut len = size as u64;
    if addr as u64 + len > 1 << 32 {
        return Err(Error::input(format!(
            "0x{addr:08X} + 0x{size:X} runs past the end of the 4 GiB address space; check the address and size"
        )));
    }
    let eeprom = session.data_eeprom();
    // An address where another part of the die has EEPROM, but this one has none.
    if let Some(why) = eeprom.as_ref().and_then(|e| e.refuse(addr, 1)) {
        return Err(Error::input(format!("cannot read: {why}")));
    }
    if let Some(end) = region_end(session, eeprom.as_ref(), addr) {
        let available = end - addr as u64;
        if len == 0 {
            len = available;
        } else if len > available {
            warn!(
                "read of {} at 0x{addr:08X} clipped to {}: the region ends at 0x{:08X}",
                count(len, "byte"),
                count(available, "byte"),
                end - 1
            );
            len = available;
        }
    }
    if len == 0 {
        return Err(Error::input(format!(
            "size 0 at 0x{addr:08X}: this address is not in a known memory region, so give a size"
        )));
    }
    if session.layout.contains(addr) || eeprom.is_some_and(|e| e.region.contains(addr)) {
        session.require_unprotected()?;
    }
    let mut out = vec![0u8; len as usize];
    progress.begin(Phase::Read, len);
    for (i, chunk) in out.chunks_mut(STEP).enumerate() {
        if progress.should_stop() {
            return Err(Error::new(crate::ErrorKind::Interrupted, "read interrupted; the output file was not written"));
        }
        session.target.read_mem(addr + (i * STEP) as u32, chunk)?;
        progress.add(chunk.len() as u64);
    }
    progress.end();
    Ok(out)
}
