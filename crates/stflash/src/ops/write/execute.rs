//! Running the jobs: through the flash routine when it runs, handing exactly
//! the jobs it did not confirm to host-driven programming when it cannot go
//! on; whatever happens, the [`Ledger`] says what state each sector is in.

use log::warn;

use super::plan::{self, Job};
use super::stream::{self, Outcome, StreamOptions};
use crate::flash::crc::CrcUnit;
use crate::flash::routine::{RoutineError, Streamer};
use std::time::Duration;

use crate::flash::{engine, FlashController, FlashError, Phase, Progress, RegOp, Sector};
use crate::mcu::Target;

/// How far the jobs got: jobs before `done` are written; jobs from `done`
/// to `started` may be erased or partly programmed; later ones are untouched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ledger {
    pub done: usize,
    pub started: usize,
    /// Jobs from `done` to here may hold programmed bytes (data was given
    /// for them); the rest up to `started` at most erased (a bank erased
    /// whole begins every job of the bank). 0: as `started`.
    pub programmed: usize,
    /// Job `done` was not given any data (only, perhaps, its erase): it is
    /// not partly programmed (an operation stopped between sectors).
    pub between: bool,
}

impl Ledger {
    /// The flash state in words: "written: …; partly programmed: …; not yet
    /// written, may be erased: …; not yet written: …", or "nothing was
    /// changed".
    pub fn describe(&self, jobs: &[Job]) -> String {
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
        parts
            .iter()
            .filter_map(|(what, js)| bank_ranges(js.iter().map(|j| j.sector)).map(|r| format!("{what}: {r}")))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The sectors as one range per bank, from the first to the last (two
/// banks worked on at once interleave their sectors): "0x08000000-0x08003FFF,
/// 0x08100000-0x08101FFF", or `None` for no sector.
pub(super) fn bank_ranges(sectors: impl Iterator<Item = Sector>) -> Option<String> {
    let mut banks: std::collections::BTreeMap<u8, (u32, u64)> = Default::default();
    for s in sectors {
        let range = banks.entry(s.bank).or_insert((s.addr, s.end()));
        *range = (range.0.min(s.addr), range.1.max(s.end()));
    }
    let text: Vec<String> = banks.values().map(|&(a, e)| format!("0x{a:08X}-0x{:08X}", e - 1)).collect();
    (!text.is_empty()).then(|| text.join(", "))
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

/// What to run: the jobs, and the banks to erase whole before them (the
/// driver's ops; empty for none).
pub(super) struct Work<'a, 'j> {
    pub jobs: &'a [Job<'j>],
    pub bank_erase: Vec<RegOp>,
}

/// Run the work: through `routine` when there is one, else (or for the jobs a
/// crashed routine left) host-driven; after a fast-programming row fails,
/// the rest through a new start of the routine, programmed the normal way.
/// `verify`: have the routine hash each written sector.
pub(super) fn run(
    t: &mut Target,
    ctrl: &dyn FlashController,
    routine: Option<Streamer>,
    work: &Work,
    verify: Option<Hashing>,
    progress: &mut dyn Progress,
    ledger: &mut Ledger,
) -> Result<Ran, FlashError> {
    let jobs = work.jobs;
    progress.begin(Phase::Program, jobs.iter().map(Job::program_bytes).sum());
    let mut from = 0;
    let mut hashed = None;
    let mut redone_from = None;
    let plan = routine.as_ref().map(|st| st.plan().clone());
    if let Some(st) = routine {
        let options = StreamOptions { bank_erase: work.bank_erase.clone(), verify, stop: true };
        match by_routine(t, ctrl, st, jobs, options, &[], progress, ledger)? {
            RoutineEnd::Done(h) => {
                hashed = h;
                from = jobs.len();
            }
            RoutineEnd::Crashed => from = ledger.done,
            RoutineEnd::FastFailed => {
                from = ledger.done;
                let banks: Vec<u8> = jobs[from..].iter().map(|j| j.sector.bank).collect();
                stream::settle(t, ctrl, &banks)?;
                let plan = plan.expect("the routine ran");
                match normally(t, ctrl, plan, jobs, verify, progress, ledger)? {
                    Some(h) => {
                        hashed = h;
                        redone_from = Some(from).filter(|_| ledger.started > from);
                        from = jobs.len();
                    }
                    None => from = ledger.done,
                }
            }
        }
    } else if !work.bank_erase.is_empty() {
        engine::run_ops(t, ctrl, &work.bank_erase, "erasing whole banks")?;
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

/// After a fast row failed: the jobs from `ledger.done` on, programmed the
/// normal way by a new start of the routine (those it may have begun erased
/// first; the rest of an erased bank is still blank), and the jobs written
/// before hashed afterwards. `Ok(None)`: the routine could not go on (the
/// ledger says where the host takes over).
fn normally(
    t: &mut Target,
    ctrl: &dyn FlashController,
    plan: crate::flash::routine::RamPlan,
    jobs: &[Job],
    verify: Option<Hashing>,
    progress: &mut dyn Progress,
    ledger: &mut Ledger,
) -> Result<Option<Hashed>, FlashError> {
    let (from, begun) = (ledger.done, ledger.started);
    // Erased again: what may hold programmed bytes; the rest of a bank
    // erased whole is still blank.
    let programmed = if ledger.programmed == 0 { begun } else { ledger.programmed };
    let Some(st) = stream::start(t, ctrl, plan)? else { return Ok(None) };
    let unit = ctrl.program_access().unit;
    // Fast rows cut into the units to program: fast programming exists only
    // on flash that erases to 0xFF (the L4 class).
    let rest: Vec<Job> = jobs[from..]
        .iter()
        .enumerate()
        .map(|(i, j)| Job {
            erase: j.erase || from + i < programmed,
            fast: false,
            runs: if j.fast { plan::units_of(&j.runs, unit, 0xFF) } else { j.runs.clone() },
            ..j.clone()
        })
        .collect();
    let before: Vec<(u8, u32, u32)> = if verify.is_some() { written_ranges(&jobs[..from]) } else { Vec::new() };
    let mut sub = Ledger::default();
    let options = StreamOptions { bank_erase: Vec::new(), verify, stop: false };
    let end = by_routine(t, ctrl, st, &rest, options, &before, progress, &mut sub);
    ledger.done = from + sub.done;
    ledger.started = begun.max(from + sub.started);
    ledger.programmed = 0;
    ledger.between = sub.between;
    match end? {
        RoutineEnd::Done(h) => Ok(Some(h)),
        RoutineEnd::Crashed | RoutineEnd::FastFailed => Ok(None),
    }
}

/// The sectors of `jobs` as ranges to hash: contiguous sectors of a bank up
/// to 64 KiB together.
fn written_ranges(jobs: &[Job]) -> Vec<(u8, u32, u32)> {
    let mut sectors: Vec<Sector> = jobs.iter().map(|j| j.sector).collect();
    sectors.sort_by_key(|s| (s.bank, s.addr));
    let mut out: Vec<(u8, u32, u32)> = Vec::new();
    for s in sectors {
        match out.last_mut() {
            Some(r) if r.0 == s.bank && r.2 == s.addr && s.end() - r.1 as u64 <= 64 * 1024 => r.2 = s.end() as u32,
            _ => out.push((s.bank, s.addr, s.end() as u32)),
        }
    }
    out
}

/// How the routine's part ended.
enum RoutineEnd {
    /// Every job done, with the CRCs when it hashed.
    Done(Hashed),
    /// It crashed: jobs from `ledger.done` on are for the host.
    Crashed,
    /// A fast row failed: jobs from `ledger.done` on are to be done again
    /// the normal way.
    FastFailed,
}

/// The routine's part. `before`: ranges written by an earlier start of the
/// routine, hashed after these jobs (their CRCs come first in the result).
#[allow(clippy::too_many_arguments)]
fn by_routine(
    t: &mut Target,
    ctrl: &dyn FlashController,
    mut st: Streamer,
    jobs: &[Job],
    options: StreamOptions,
    before: &[(u8, u32, u32)],
    progress: &mut dyn Progress,
    ledger: &mut Ledger,
) -> Result<RoutineEnd, FlashError> {
    let verify = options.verify;
    let (ranges, settle) = match stream::stream(t, ctrl, &mut st, jobs, options, progress, ledger) {
        Ok(Outcome::Done { verify, settle }) => (verify, settle),
        Ok(Outcome::Fallback) => return Ok(RoutineEnd::Crashed),
        Ok(Outcome::FastFailed) => return Ok(RoutineEnd::FastFailed),
        Err(FlashError::Interrupted { .. }) => {
            let at = jobs.get(ledger.done).map_or(0, |j| j.sector.addr);
            return Err(FlashError::Interrupted { at });
        }
        Err(e) => return Err(e),
    };
    ledger.done = jobs.len();
    ledger.started = jobs.len();
    let earlier = match (verify, before.is_empty()) {
        (Some(h), false) => match stream::run_crcs(t, &mut st, h.unit, before) {
            Ok(crcs) => Some(before.iter().copied().zip(crcs).collect::<Vec<_>>()),
            Err(e @ RoutineError::Crashed { .. }) => {
                warn!("{e}; verifying by reading back");
                return Ok(RoutineEnd::Done(None));
            }
            Err(e) => return Err(e.into_flash_error(t, ctrl)),
        },
        _ => Some(Vec::new()),
    };
    match st.finish(t) {
        Ok(mut crcs) if verify.is_some() && crcs.len() == ranges.len() + settle.is_some() as usize => {
            let settle = settle.map(|r| (r, crcs.pop().expect("counted")));
            let mut all = earlier.unwrap_or_default();
            all.extend(ranges.into_iter().zip(crcs));
            Ok(RoutineEnd::Done(Some(Hashes { ranges: all, settle })))
        }
        Ok(_) => Ok(RoutineEnd::Done(None)),
        // Everything was programmed (the stream waited for the last buffer):
        // only the hashes are lost.
        Err(e @ RoutineError::Crashed { .. }) => {
            warn!("{e}; verifying by reading back");
            Ok(RoutineEnd::Done(None))
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
