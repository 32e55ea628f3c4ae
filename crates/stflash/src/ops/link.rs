//! Automatic SWD clock: an operation that fails because the link failed
//! (a WAIT storm, an AP FAULT, a parity error), or whose verification found
//! different bytes, runs again one clock step slower: the probe's fastest clock
//! by default, stepping down on WAIT/FAULT/verify errors. This is stflash's own
//! design; st-flash uses fixed defaults (1.8 MHz on V2, 1 MHz on V3: stlink
//! src/stlink-lib/usb.c:611-698) and does not retry. Never when the user gave
//! `--freq`: then the error says that the link failed at the clock asked for.

use super::session::Session;
use crate::error::{Error, ErrorKind, Result};

/// Run `op`; on link trouble (or a verification mismatch) with an automatic
/// clock, lower the clock (`Target::step_down_after`: bounded, never below
/// `stlink::MIN_AUTO_KHZ`, with a warning naming the new clock), halt the
/// core (a flash routine may still be running) and run `op` again. `op` must
/// be safe to repeat: a write repeats its checks and skips what is already
/// written; reads and erases are idempotent.
pub(crate) fn retry_slower<T>(
    session: &mut Session,
    what: &str,
    mut op: impl FnMut(&mut Session) -> Result<T>,
) -> Result<T> {
    session.target.take_link_trouble();
    loop {
        let e = match op(session) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if let Some(addr) = e.fault_addr {
            if link_is_healthy(session) {
                return Err(bus_fault(session, addr, what));
            }
        }
        let why = match session.target.take_link_trouble() {
            Some(status) if e.kind != ErrorKind::Interrupted => status.to_string(),
            None if e.kind == ErrorKind::Verify && session.target.auto_speed() => e.message.clone(),
            _ => return Err(e),
        };
        session.target.step_down_after(what, e, &why)?;
        let _ = session.target.halt();
    }
}

/// After an AP FAULT: does the link still carry a read of a register every
/// Cortex-M has? Then the fault was the address's, not the wire's.
fn link_is_healthy(session: &mut Session) -> bool {
    let ok = session.target.read32(crate::mcu::cortex_m::CPUID).is_ok();
    session.target.take_link_trouble();
    ok
}

/// A bus fault at an address: the input's fault, never the link's.
fn bus_fault(session: &Session, addr: u32, what: &str) -> Error {
    Error::new(
        ErrorKind::Input,
        format!(
            "{what} 0x{addr:08X} failed with a bus fault: nothing answers at that address on this {} \
             (its memory: {}); check the address",
            session.target.chip.name,
            session.memory_map_text()
        ),
    )
}
