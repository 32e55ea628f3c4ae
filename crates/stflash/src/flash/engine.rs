//! The host-driven path: runs a driver's sequences through the debugger, one
//! register access at a time, with polling and timeouts. It is the reference
//! behaviour; faster paths must produce the same flash contents.

use std::time::Duration;

use super::{FlashController, FlashError, FlashLayout, RegOp, Sector};
use crate::mcu::Target;

/// Coarse phases, for progress reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Erase,
    Program,
    Verify,
    Read,
}

impl Phase {
    pub fn verb(self) -> &'static str {
        match self {
            Phase::Erase => "Erasing",
            Phase::Program => "Programming",
            Phase::Verify => "Verifying",
            Phase::Read => "Reading",
        }
    }
}

/// Receives progress and may ask a long operation to stop (Ctrl-C).
pub trait Progress {
    fn begin(&mut self, _phase: Phase, _total: u64) {}
    fn add(&mut self, _amount: u64) {}
    fn end(&mut self) {}
    /// `sector` has just been erased (st-flash prints a line per erased
    /// page). A mass erase reports every sector of the flash once it is done.
    fn erased(&mut self, _sector: &Sector) {}
    /// What the flash holds now, in words ("written: …; partly programmed: …"),
    /// and how long until the next safe point (the end of the sector being
    /// written): for a user who wants to stop now.
    fn flash_state(&mut self, _state: &str, _safe_within: Duration) {}
    /// Polled between flash words and sectors; `true` stops at the next boundary.
    fn should_stop(&self) -> bool {
        false
    }
}

/// Progress that reports nothing and never stops.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Upper bound on the pause between two status polls.
const MAX_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Run a sequence of register operations; `what` names the operation for messages.
pub fn run_ops(t: &mut Target, ctrl: &dyn FlashController, ops: &[RegOp], what: &str) -> Result<(), FlashError> {
    for op in ops {
        match *op {
            RegOp::Write { addr, value } => t.write32(addr, value)?,
            RegOp::WaitIdle { bank, typical, timeout } => wait_idle(t, ctrl, bank, typical, timeout, what)?,
        }
    }
    Ok(())
}

/// Wait until the bank is idle, then check and clear its error flags.
pub fn wait_idle(
    t: &mut Target,
    ctrl: &dyn FlashController,
    bank: u8,
    typical: Duration,
    timeout: Duration,
    what: &str,
) -> Result<(), FlashError> {
    let status = ctrl.status(bank);
    let start = t.elapsed();
    // A poll costs a USB round trip (≥ 0.15 ms); sleeping first only pays off
    // for operations longer than that.
    if typical >= Duration::from_millis(1) {
        t.sleep(typical);
    }
    let mut interval = (typical / 8).clamp(Duration::from_micros(50), MAX_POLL_INTERVAL);
    let sr = loop {
        let sr = t.read32(status.addr)?;
        if sr & status.busy == 0 {
            break sr;
        }
        let waited = t.elapsed() - start;
        if waited > timeout {
            return Err(FlashError::Timeout { op: what.to_string(), waited });
        }
        t.sleep(interval);
        interval = (interval * 2).min(MAX_POLL_INTERVAL);
    };
    let flags = match ctrl.error_register(bank) {
        Some(addr) => t.read32(addr)?,
        None => sr,
    };
    check_errors(t, ctrl, bank, flags, what)
}

/// Turn error flags in `sr` into an error (after clearing them, so that the
/// next operation is not refused with PGSERR: on L4-class parts a pending
/// PROGERR/SIZERR/PGAERR/WRPERR/MISERR/FASTERR makes the next write set PGSERR,
/// RM0351's FLASH_SR.PGSERR description, the same text in ST's STM32U0 SVD; on
/// H7 a pending INCERR does, RM0433 §4.7.3).
pub fn check_errors(
    t: &mut Target,
    ctrl: &dyn FlashController,
    bank: u8,
    sr: u32,
    what: &str,
) -> Result<(), FlashError> {
    let status = ctrl.status(bank);
    let errors = sr & status.errors;
    if errors == 0 {
        if status.eop != 0 && sr & status.eop != 0 {
            clear_flags(t, ctrl, bank, status.eop)?;
        }
        return Ok(());
    }
    clear_flags(t, ctrl, bank, errors | status.eop)?;
    let flags = ctrl.error_flags().iter().filter(|f| f.mask & errors != 0).copied().collect();
    Err(FlashError::Flags { op: what.to_string(), flags, status: sr })
}

/// Clear flags: write 1s to the status register (W1C) or to the clear register.
pub fn clear_flags(t: &mut Target, ctrl: &dyn FlashController, bank: u8, mask: u32) -> Result<(), FlashError> {
    let status = ctrl.status(bank);
    t.write32(status.clear_reg.unwrap_or(status.addr), mask)?;
    Ok(())
}

/// Clear whatever error flags a previous session left (before the first operation).
pub fn clear_stale_errors(t: &mut Target, ctrl: &dyn FlashController, bank: u8) -> Result<(), FlashError> {
    let status = ctrl.status(bank);
    let sr = t.read32(ctrl.error_register(bank).unwrap_or(status.addr))?;
    let stale = sr & (status.errors | status.eop);
    if stale != 0 {
        log::debug!("clearing stale flash flags 0x{stale:08X} of bank {}", bank + 1);
        clear_flags(t, ctrl, bank, stale)?;
    }
    Ok(())
}

/// Erase one sector (the bank must be unlocked).
pub fn erase_sector(t: &mut Target, ctrl: &dyn FlashController, sector: &Sector) -> Result<(), FlashError> {
    let ops = ctrl.erase_sector_ops(sector);
    run_ops(t, ctrl, &ops, &format!("erasing {sector}"))
}

/// Erase the whole flash: the controller's mass/bank erase, or sector by sector.
pub fn mass_erase(
    t: &mut Target,
    ctrl: &dyn FlashController,
    layout: &FlashLayout,
    progress: &mut dyn Progress,
) -> Result<(), FlashError> {
    if let Some(ops) = ctrl.mass_erase_ops(layout) {
        let typical: Duration =
            ops.iter().map(|op| if let RegOp::WaitIdle { typical, .. } = op { *typical } else { Duration::ZERO }).sum();
        log::info!(
            "the mass erase takes about {:.1} s and cannot be stopped once it has started",
            typical.as_secs_f64()
        );
        progress.begin(Phase::Erase, layout.total_size());
        run_ops(t, ctrl, &ops, "erasing the whole flash")?;
        for s in layout.sectors() {
            progress.erased(&s);
        }
        progress.add(layout.total_size());
        progress.end();
        return Ok(());
    }
    let sectors = layout.sectors();
    erase_sectors(t, ctrl, &sectors, progress)
}

/// Erase a list of sectors, reporting progress in bytes.
pub fn erase_sectors(
    t: &mut Target,
    ctrl: &dyn FlashController,
    sectors: &[Sector],
    progress: &mut dyn Progress,
) -> Result<(), FlashError> {
    progress.begin(Phase::Erase, sectors.iter().map(|s| s.size as u64).sum());
    for s in sectors {
        if progress.should_stop() {
            return Err(FlashError::Interrupted { at: s.addr });
        }
        erase_sector(t, ctrl, s)?;
        progress.erased(s);
        progress.add(s.size as u64);
    }
    progress.end();
    Ok(())
}

/// Program `data` at `addr` (one bank, erased, whole programming units) with
/// one host write and one status poll per unit.
pub fn program(
    t: &mut Target,
    ctrl: &dyn FlashController,
    bank: u8,
    addr: u32,
    data: &[u8],
    progress: &mut dyn Progress,
) -> Result<(), FlashError> {
    let access = ctrl.program_access();
    debug_assert!(data.len() % access.unit as usize == 0 && addr % access.unit == 0);
    run_ops(t, ctrl, &ctrl.program_setup_ops(bank), "preparing to program")?;
    let result = (|| {
        for (i, unit) in data.chunks(access.unit as usize).enumerate() {
            let a = addr + i as u32 * access.unit;
            if progress.should_stop() {
                return Err(FlashError::Interrupted { at: a });
            }
            t.write_mem_width(a, unit, access.width.bytes())?;
            wait_idle(t, ctrl, bank, access.typical, access.timeout, &format!("programming 0x{a:08X}"))?;
            progress.add(unit.len() as u64);
        }
        Ok(())
    })();
    // Always leave programming mode, even after an error.
    let teardown = run_ops(t, ctrl, &ctrl.program_teardown_ops(bank), "finishing programming");
    result.and(teardown)
}
