//! Running the jobs: through the flash routine when it runs, handing exactly
//! the jobs it did not confirm to host-driven programming when it cannot go
//! on; whatever happens, the [`Ledger`] says what state each sector is in.

use log::warn;

use super::plan::Job;
use super::stream::{self, Outcome, StreamEnd};
use crate::flash::crc::CrcUnit;
use crate::flash::routine::{RoutineError, Streamer};
use std::time::Duration;

use crate::flash::{engine, FlashController, FlashError, Phase, Progress, Sector};
use crate::mcu::Target;

/// How far the jobs got: jobs before `done` are written; jobs from `done`
/// to `started` may be erased or partly programmed; later ones are untouched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ledger {
    pub done: usize,
    pub started: usize,
    /// Job `done` was not given any data (only, perhaps, its erase): it is
    /// not partly programmed (an operation stopped between sectors).
    pub between: bool,
}

impl Ledger {
    /// The flash state in words: "written: …; partly programmed: …; not yet
    /// written, may be erased: …; not yet written: …", or "nothing was
    /// changed".
    pub fn describe(&self, jobs: &[Job]) -> String {
        let range = |js: &[Job]| -> Option<String> {
            let (first, last) = (js.first()?, js.last()?);
            Some(format!("0x{:08X}-0x{:08X}", first.sector.addr, last.sector.end() - 1))
        };
        let done = self.done.min(jobs.len());
        let started = self.started.clamp(done, jobs.len());
        let current = if self.between { done } else { (done + 1).min(started) };
        if started == 0 {
            return "nothing was changed".to_string();
        }
        let parts = [
            ("written", &jobs[..done]),
            ("partly programmed", &jobs[done..current]),
            ("not yet written, may be erased", &jobs[current..started]),
            ("not yet written", &jobs[started..]),
        ];
        parts.iter().filter_map(|(what, js)| range(js).map(|r| format!("{what}: {r}"))).collect::<Vec<_>>().join("; ")
    }
}

/// Typical time to erase (when it does) and program one job.
pub(super) fn job_time(ctrl: &dyn FlashController, job: &Job) -> Duration {
    let access = ctrl.program_access();
    let erase = if job.erase {
        crate::flash::routine::regops_time(&ctrl.erase_sector_ops(&job.sector)).0
    } else {
        Duration::ZERO
    };
    erase + access.typical * (job.program_bytes() / access.unit as u64) as u32
}

/// What the routine hashed for verification: (bank, start, end) ranges and
/// their CRCs, in order, and the burst hashed to settle the unit's input
/// order. `None` when the jobs were not hashed (no unit, or the host
/// finished them).
pub(super) type Hashed = Option<Hashes>;

#[derive(Debug, Clone, Default)]
pub(super) struct Hashes {
    pub ranges: Vec<((u8, u32, u32), u32)>,
    pub settle: Option<((u8, u32, u32), u32)>,
}

/// Hash each written sector with this unit right after programming it, and
/// at the end the `settle` burst (see `settle_range`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Hashing<'u> {
    pub unit: &'u CrcUnit,
    pub settle: Option<(u8, u32, u32)>,
}

/// How the jobs ran.
pub(super) struct Ran {
    pub hashed: Hashed,
    /// The host redid the jobs from this index on, erase included, after
    /// the routine stopped.
    pub redone_from: Option<usize>,
}

/// Run `jobs`: through `routine` when there is one, else (or for the jobs a
/// crashed routine left) host-driven. `verify`: have the routine hash each
/// written sector.
pub(super) fn run(
    t: &mut Target,
    ctrl: &dyn FlashController,
    routine: Option<Streamer>,
    jobs: &[Job],
    verify: Option<Hashing>,
    progress: &mut dyn Progress,
    ledger: &mut Ledger,
) -> Result<Ran, FlashError> {
    progress.begin(Phase::Program, jobs.iter().map(Job::program_bytes).sum());
    let mut from = 0;
    let mut hashed = None;
    let mut redone_from = None;
    if let Some(st) = routine {
        match by_routine(t, ctrl, st, jobs, verify, progress, ledger)? {
            Some(h) => {
                hashed = h;
                from = jobs.len();
            }
            None => from = ledger.done,
        }
    }
    if from < jobs.len() {
        let banks: Vec<u8> = jobs[from..].iter().map(|j| j.sector.bank).collect();
        if from > 0 || ledger.started > 0 {
            stream::settle(t, ctrl, &banks)?;
        }
        // The routine may have begun any of these: erase them again.
        let redo = ledger.started > from;
        if redo {
            redone_from = Some(from);
        }
        by_host(t, ctrl, jobs, from, redo, progress, ledger)?;
    }
    progress.end();
    Ok(Ran { hashed, redone_from })
}

/// The routine's part. `Ok(Some(hashed))`: every job done; `Ok(None)`: it
/// crashed, jobs from `ledger.done` on are for the host.
fn by_routine(
    t: &mut Target,
    ctrl: &dyn FlashController,
    mut st: Streamer,
    jobs: &[Job],
    verify: Option<Hashing>,
    progress: &mut dyn Progress,
    ledger: &mut Ledger,
) -> Result<Option<Hashed>, FlashError> {
    let end = StreamEnd { verify, stop: true };
    let (ranges, settle) = match stream::stream(t, ctrl, &mut st, jobs, end, progress, ledger) {
        Ok(Outcome::Done { verify, settle }) => (verify, settle),
        Ok(Outcome::Fallback) => return Ok(None),
        Err(FlashError::Interrupted { .. }) => {
            let at = jobs.get(ledger.done).map_or(0, |j| j.sector.addr);
            return Err(FlashError::Interrupted { at });
        }
        Err(e) => return Err(e),
    };
    ledger.done = jobs.len();
    ledger.started = jobs.len();
    match st.finish(t) {
        Ok(mut crcs) if verify.is_some() && crcs.len() == ranges.len() + settle.is_some() as usize => {
            let settle = settle.map(|r| (r, crcs.pop().expect("counted")));
            Ok(Some(Some(Hashes { ranges: ranges.into_iter().zip(crcs).collect(), settle })))
        }
        Ok(_) => Ok(Some(None)),
        // Everything was programmed (the stream waited for the last buffer):
        // only the hashes are lost.
        Err(e @ RoutineError::Crashed { .. }) => {
            warn!("{e}; verifying by reading back");
            Ok(Some(None))
        }
        Err(e) => Err(e.into_flash_error(t, ctrl)),
    }
}

/// The host's part, the jobs from `from` on: each sector erased (when its
/// job says, or `redo`) and programmed in turn, so that at any moment at most
/// one sector is between its erase and its last programmed unit.
fn by_host(
    t: &mut Target,
    ctrl: &dyn FlashController,
    jobs: &[Job],
    from: usize,
    redo: bool,
    progress: &mut dyn Progress,
    ledger: &mut Ledger,
) -> Result<(), FlashError> {
    for (i, job) in jobs.iter().enumerate().skip(from) {
        if progress.should_stop() {
            return Err(FlashError::Interrupted { at: job.sector.addr });
        }
        ledger.started = ledger.started.max(i + 1);
        progress.flash_state(&ledger.describe(jobs), job_time(ctrl, job));
        if job.erase || redo {
            engine::erase_sector(t, ctrl, &job.sector)?;
            progress.erased(&job.sector);
        }
        for &(addr, data) in &job.runs {
            engine::program(t, ctrl, job.sector.bank, addr, data, progress).map_err(|e| in_sector(e, job.sector))?;
        }
        ledger.done = i + 1;
    }
    Ok(())
}

/// Name the sector in a controller error raised while programming, so that
/// the message says where as well as what ("… while programming 0x08002000 in
/// sector 1 of bank 1 (0x08002000, 8 KiB)").
pub(super) fn in_sector(e: FlashError, sector: Sector) -> FlashError {
    match e {
        FlashError::Flags { op, flags, status } => FlashError::Flags { op: format!("{op} in {sector}"), flags, status },
        FlashError::Timeout { op, waited } => FlashError::Timeout { op: format!("{op} in {sector}"), waited },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::flash::ErrorFlag;

    #[test]
    fn programming_errors_name_the_sector() {
        let flag = ErrorFlag { mask: 1 << 17, name: "WRPERR", meaning: "write-protected" };
        let e = FlashError::Flags { op: "programming 0x08102000".into(), flags: vec![flag], status: 1 << 17 };
        let sector = Sector { bank: 1, index: 1, addr: 0x0810_2000, size: 8192 };
        let text = Error::from(in_sector(e, sector)).to_string();
        assert!(text.contains("WRPERR") && text.contains("programming 0x08102000 in sector 1 of bank 2"), "{text}");
    }
}
