//! The fast write path: erase and program through the streaming flash
//! routine (`flash::routine`), falling back to the host-driven engine when
//! the routine cannot be used or crashes.
//!
//! Work is described per sector ([`SectorJob`]): erase it or not, then the
//! runs of whole programming units to write. Jobs are packed into buffers in
//! order; a sector's erase goes into the script of the buffer that carries the
//! sector's first data, so the target erases while the host is still sending.

use std::time::Duration;

use log::{debug, warn};

use crate::flash::routine::{self, Buffer, Op, RamPlan, RoutineError, Streamer, WaitSpec};
use crate::flash::{engine, FlashController, FlashError, ProgramAccess, Progress, Sector};
use crate::target::Target;

/// What to do to one sector.
#[derive(Debug, Clone)]
pub(crate) struct SectorJob<'a> {
    pub sector: Sector,
    pub erase: bool,
    /// Runs of whole programming units: (address, bytes).
    pub runs: Vec<(u32, &'a [u8])>,
}

/// How the fast path ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Every job done.
    Done,
    /// The routine crashed or could not run: jobs from `from` on are not
    /// (completely) done and must be redone, erase included.
    Fallback {
        from: usize,
        #[allow(dead_code)]
        why: String,
    },
}

/// Can the routine program with this access?
pub(crate) fn supports(access: &ProgramAccess, plan: &RamPlan) -> bool {
    let w = access.width.bytes();
    access.unit > 0 && access.unit % w == 0 && access.unit <= plan.data_capacity
}

/// Start the routine; a failure to start it means the host path.
pub(crate) fn start(t: &mut Target, ctrl: &dyn FlashController, plan: RamPlan) -> Result<Option<Streamer>, FlashError> {
    match Streamer::start(t, plan) {
        Ok(st) => Ok(Some(st)),
        Err(e) => fail(t, ctrl, e, 0).map(|_| None),
    }
}

/// Erase and program `jobs` through the running routine and wait until all
/// is done (the routine keeps running for more buffers).
pub(crate) fn stream(
    t: &mut Target,
    ctrl: &dyn FlashController,
    st: &mut Streamer,
    jobs: &[SectorJob],
    progress: &mut dyn Progress,
) -> Result<Outcome, FlashError> {
    let access = ctrl.program_access();
    let plan = st.plan().clone();
    // Jobs whose work ends in buffer `tag`: completed_by[tag] = first job not finished by it.
    let mut completed_by: Vec<usize> = Vec::new();
    let mut buf = Buffer::default();
    let mut sent = 0usize;
    let mut left: usize = jobs.iter().flat_map(|j| &j.runs).map(|r| r.1.len()).sum();
    // Buffer size: small first (the target starts erasing and programming
    // early) and last (less programming left after the last transfer), full
    // size in between.
    let target_size = |left: usize, first: bool| {
        let cap = plan.data_capacity as usize;
        let size = (left / 3).clamp(2048.min(cap), cap);
        if first {
            size.min(4096)
        } else {
            size
        }
    };
    let mut size = target_size(left, true);
    let result = (|| -> Result<(), RoutineError> {
        let mut submit = |st: &mut Streamer, t: &mut Target, buf: &mut Buffer, next_job: usize| {
            let mut b = std::mem::take(buf);
            b.tag = completed_by.len();
            completed_by.push(next_job);
            sent += b.data.len();
            st.submit(t, b)
        };
        for (j, job) in jobs.iter().enumerate() {
            if progress.should_stop() {
                return Err(RoutineError::Timeout { what: String::new(), waited: Duration::ZERO });
            }
            let bank = job.sector.bank;
            if job.erase {
                let regops = ctrl.erase_sector_ops(&job.sector);
                let ops = routine::ops_from(&regops, |b| ctrl.status(b), &format!("erasing {}", job.sector));
                let words: u32 = ops.iter().map(|o| o.words()).sum();
                if !buf.fits(&plan, 0, words) {
                    submit(st, t, &mut buf, j)?;
                }
                let (typical, timeout) = routine::regops_time(&regops);
                buf.ops.extend(ops);
                buf.typical += typical;
                buf.timeout += timeout;
            }
            let setup = ctrl.program_setup_ops(bank);
            let teardown = ctrl.program_teardown_ops(bank);
            let what = format!("programming {}", job.sector);
            let setup_ops = routine::ops_from(&setup, |b| ctrl.status(b), &what);
            let teardown_ops = routine::ops_from(&teardown, |b| ctrl.status(b), &what);
            let words: u32 = setup_ops.iter().chain(&teardown_ops).map(|o| o.words()).sum::<u32>() + 11;
            for &(addr, data) in &job.runs {
                let mut off = 0usize;
                while off < data.len() {
                    let room = size.saturating_sub(buf.data.len());
                    let room = room - room % access.unit as usize;
                    if room == 0 || !buf.fits(&plan, access.unit, words) {
                        submit(st, t, &mut buf, j)?;
                        size = target_size(left, false);
                        progress.add(0);
                        continue;
                    }
                    let n = room.min(data.len() - off);
                    let units = (n / access.unit as usize) as u32;
                    buf.ops.extend(setup_ops.iter().cloned());
                    buf.ops.push(Op::Program {
                        dst: addr + off as u32,
                        offset: buf.data.len() as u32,
                        len: n as u32,
                        unit: access.unit,
                        width: access.width,
                        wait: WaitSpec::new(bank, &ctrl.status(bank), what.clone()),
                    });
                    buf.ops.extend(teardown_ops.iter().cloned());
                    buf.data.extend_from_slice(&data[off..off + n]);
                    buf.typical += access.typical * units;
                    buf.timeout += access.timeout * units;
                    progress.add(n as u64);
                    off += n;
                    left -= n;
                }
            }
        }
        if !buf.ops.is_empty() {
            submit(st, t, &mut buf, jobs.len())?;
        }
        Ok(())
    })();
    let result = result.and_then(|()| st.sync(t));
    debug!("fast path: {} bytes in {} buffers", sent, completed_by.len());
    match result {
        Ok(()) => Ok(Outcome::Done),
        Err(RoutineError::Timeout { what, .. }) if what.is_empty() => {
            let _ = st.abort(t);
            let from = st.done.iter().filter_map(|&tag| completed_by.get(tag)).max().copied().unwrap_or(0);
            Err(FlashError::Interrupted { at: jobs.get(from).map_or(0, |j| j.sector.addr) })
        }
        Err(e) => {
            let from = st.done.iter().filter_map(|&tag| completed_by.get(tag)).max().copied().unwrap_or(0);
            fail(t, ctrl, e, from)
        }
    }
}

/// A routine failure: controller errors and timeouts are the flash's and are
/// reported; a crash hands the rest of the work to the host-driven engine.
pub(crate) fn fail(
    t: &mut Target,
    ctrl: &dyn FlashController,
    e: RoutineError,
    from: usize,
) -> Result<Outcome, FlashError> {
    match e {
        RoutineError::Crashed { .. } => {
            warn!("{e}; finishing the write with host-driven programming");
            Ok(Outcome::Fallback { from, why: e.to_string() })
        }
        other => Err(other.into_flash_error(t, ctrl)),
    }
}

/// After a fallback: wait until every bank is idle and clear its flags, so
/// that the engine starts from a clean controller.
pub(crate) fn settle(t: &mut Target, ctrl: &dyn FlashController, banks: &[u8]) -> Result<(), FlashError> {
    for &bank in banks {
        let what = format!("waiting for bank {} after the flash routine stopped", bank + 1);
        let _ = engine::wait_idle(t, ctrl, bank, Duration::ZERO, Duration::from_secs(30), &what);
        engine::clear_stale_errors(t, ctrl, bank)?;
    }
    Ok(())
}

/// Tags of CRC-only buffers (kept apart from the tags of programming buffers).
const CRC_TAG: usize = 1 << 20;

/// Hash `ranges` (bank, start, end) with the CRC unit; the CRCs in order.
pub(crate) fn run_crcs(
    t: &mut Target,
    ctrl: &dyn FlashController,
    st: &mut Streamer,
    unit: &crate::flash::crc::CrcUnit,
    ranges: &[(u8, u32, u32)],
) -> Result<Vec<u32>, RoutineError> {
    let plan = st.plan().clone();
    let mut buffers: Vec<Buffer> = Vec::new();
    let mut buf = Buffer { tag: CRC_TAG, timeout: Duration::from_secs(1), ..Default::default() };
    let mut bank_on: Option<u8> = None;
    let close = |buf: &mut Buffer, bank_on: &mut Option<u8>| {
        if let Some(b) = bank_on.take() {
            buf.ops.extend(unit.disable_ops(b));
        }
    };
    for &(bank, start, end) in ranges {
        let words = unit.range_words() + 12;
        if !buf.fits(&plan, 0, words) {
            close(&mut buf, &mut bank_on);
            let tag = buf.tag + 1;
            buffers.push(std::mem::replace(
                &mut buf,
                Buffer { tag, timeout: Duration::from_secs(1), ..Default::default() },
            ));
        }
        if bank_on != Some(bank) {
            close(&mut buf, &mut bank_on);
            buf.ops.extend(unit.enable_ops(bank));
            bank_on = Some(bank);
        }
        buf.ops.extend(unit.range_ops(bank, start, end));
        let words = (end - start) / unit.word();
        buf.typical += Duration::from_nanos(125) * words;
        buf.timeout += Duration::from_micros(10) * words;
    }
    close(&mut buf, &mut bank_on);
    buffers.push(buf);
    let first = buffers[0].tag;
    let count = buffers.len();
    st.results.clear();
    let result = (|| {
        for b in buffers {
            st.submit(t, b)?;
        }
        st.sync(t)
    })();
    let _ = ctrl;
    result?;
    let mut results = std::mem::take(&mut st.results);
    results.sort_by_key(|r| r.0);
    let crcs: Vec<u32> =
        results.into_iter().filter(|r| (first..first + count).contains(&r.0)).flat_map(|r| r.1).collect();
    if crcs.len() != ranges.len() {
        return Err(RoutineError::Crashed {
            pc: st.plan().code,
            why: format!("{} CRCs returned for {} ranges", crcs.len(), ranges.len()),
        });
    }
    Ok(crcs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::Width;
    use crate::target::chips::MemRegion;

    #[test]
    fn accesses_the_routine_cannot_make_go_to_the_host_path() {
        let plan = RamPlan::in_region(MemRegion::new(0x2000_0000, 32 * 1024)).unwrap();
        let ok = ProgramAccess {
            unit: 16,
            width: Width::Word,
            typical: Duration::from_micros(25),
            timeout: Duration::from_millis(10),
        };
        assert!(supports(&ok, &plan));
        assert!(supports(&ProgramAccess { unit: 2, width: Width::Half, ..ok }, &plan));
        assert!(!supports(&ProgramAccess { unit: 6, width: Width::Word, ..ok }, &plan), "unit not whole accesses");
        assert!(!supports(&ProgramAccess { unit: 64 * 1024, ..ok }, &plan), "unit larger than a buffer");
    }
}
