//! The fast write path: erase and program through the streaming flash
//! routine (`flash::routine`), falling back to the host-driven engine when
//! the routine cannot be used or crashes.
//!
//! Work is described per sector ([`Job`]): erase it or not, then the
//! runs of whole programming units to write. Jobs are packed into buffers in
//! order; a sector's erase goes into the script of the buffer that carries the
//! sector's first data, so the target erases while the host is still sending.
//! Runs of units that repeat one word (zero-filled tables, constant padding)
//! travel as a FILL op instead of data. With a CRC unit, each written sector
//! is hashed by the routine right after it is programmed (contiguous sectors
//! as one range), so verification needs no extra round trip: the CRCs come
//! back with the last progress read.

use std::time::Duration;

use log::{debug, warn};

use super::execute::{Hashing, Ledger};
use super::plan::Job;
use crate::flash::crc::CrcUnit;
use crate::flash::routine::{self, fill_value, Buffer, Op, RamPlan, RoutineError, Streamer, WaitSpec};
use crate::flash::{engine, FlashController, FlashError, ProgramAccess, Progress};
use crate::mcu::Target;

/// A run of repeated words shorter than this travels as data (a FILL op and
/// the extra PROGRAM op around it cost about this much script).
pub(super) const FILL_MIN: usize = 128;

/// Largest range hashed as one for verification (a mismatch is then looked
/// for by reading back this much).
const VERIFY_GROUP: u64 = 64 * 1024;

/// How the fast path ended.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Every job done; the ranges hashed for verification (bank, start, end),
    /// whose CRCs the routine appended to its results in this order, then
    /// the settle burst's.
    Done { verify: Vec<(u8, u32, u32)>, settle: Option<(u8, u32, u32)> },
    /// The routine crashed or could not run: the jobs it did not confirm
    /// (the ledger says which) must be redone, erase included.
    Fallback,
}

/// How a [`stream`] ends.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct StreamEnd<'u> {
    /// Hash each written sector with this unit right after programming it,
    /// and the settle burst at the end (the CRCs: [`Outcome::Done`]).
    pub verify: Option<Hashing<'u>>,
    /// The final buffer stops the routine ([`Streamer::finish`] then only
    /// hands over the results).
    pub stop: bool,
}

/// Can the routine program with this access?
pub(super) fn supports(access: &ProgramAccess, plan: &RamPlan) -> bool {
    let w = access.width.bytes();
    access.unit > 0 && access.unit % w == 0 && access.unit <= plan.data_capacity
}

/// Start the routine; a failure to start it means the host path.
pub(super) fn start(t: &mut Target, ctrl: &dyn FlashController, plan: RamPlan) -> Result<Option<Streamer>, FlashError> {
    match Streamer::start(t, plan) {
        Ok(st) => Ok(Some(st)),
        Err(e) => fail(t, ctrl, e).map(|_| None),
    }
}

/// A piece of a run: data to copy, or units that all repeat one word.
enum Piece<'a> {
    Data(&'a [u8]),
    Fill { value: u32, len: usize },
}

/// Split a run into data and FILL pieces (whole units; fills of at least
/// [`FILL_MIN`] bytes whose word repeats at the access width).
fn pieces<'a>(data: &'a [u8], access: &ProgramAccess) -> Vec<(usize, Piece<'a>)> {
    // Blocks of whole units, at least a word.
    let unit = (access.unit as usize).max(4);
    let units = data.len() / unit;
    let value_of = |u: usize| fill_value(&data[u * unit..(u + 1) * unit], access.width);
    let mut out = Vec::new();
    let (mut u, mut data_from) = (0, 0);
    while u < units {
        let Some(v) = value_of(u) else {
            u += 1;
            continue;
        };
        let first = u;
        while u < units && value_of(u) == Some(v) {
            u += 1;
        }
        if (u - first) * unit >= FILL_MIN {
            if data_from < first {
                out.push((data_from * unit, Piece::Data(&data[data_from * unit..first * unit])));
            }
            out.push((first * unit, Piece::Fill { value: v, len: (u - first) * unit }));
            data_from = u;
        }
    }
    if data_from * unit < data.len() {
        out.push((data_from * unit, Piece::Data(&data[data_from * unit..])));
    }
    out
}

/// Erase and program `jobs` through the running routine and wait until all
/// is done. The next sector's erase goes at the end of a buffer when it may
/// ([`Job::ahead`]), so the target erases while the host sends that
/// sector's data. However it ends, `ledger` says which jobs the routine
/// confirmed and which it may have begun.
pub(super) fn stream(
    t: &mut Target,
    ctrl: &dyn FlashController,
    st: &mut Streamer,
    jobs: &[Job],
    end: StreamEnd,
    progress: &mut dyn Progress,
    ledger: &mut Ledger,
) -> Result<Outcome, FlashError> {
    let StreamEnd { verify: hashing, stop: last } = end;
    let verify = hashing.map(|h| h.unit);
    let settle = hashing.and_then(|h| h.settle);
    let access = ctrl.program_access();
    let plan = st.plan().clone();
    let unit = access.unit as usize;
    // Jobs whose work ends in buffer `tag`: completed_by[tag] = first job not finished by it.
    let completed_by: std::cell::RefCell<Vec<usize>> = Default::default();
    let mut buf = Buffer::default();
    let mut sent = 0usize;
    let mut left: usize = jobs.iter().flat_map(|j| &j.runs).map(|r| r.1.len()).sum();
    let mut verify_ranges: Vec<(u8, u32, u32)> = Vec::new();
    // Link time per byte, measured on the buffers sent so far.
    let link_bytes = std::cell::Cell::new(0usize);
    let link_time = std::cell::Cell::new(Duration::ZERO);
    // Target time per data byte (programming) and per sector (its erase).
    let program_per_byte = access.typical.as_secs_f64() / access.unit as f64;
    let erase_times: Vec<f64> = jobs
        .iter()
        .map(|j| if j.erase { routine::regops_time(&ctrl.erase_sector_ops(&j.sector)).0.as_secs_f64() } else { 0.0 })
        .collect();
    // Buffer size: small first (the target starts erasing and programming
    // early); then as big as a slot holds while much is left; near the end a
    // geometric tail, each buffer's transfer covering the target's work on
    // the one before (programming, and the erases not yet given), so little
    // is left to do after the last transfer. A routine still busy with
    // earlier buffers gets bigger ones (the host waits for it anyway).
    // `link`: measured transfer time per byte; `erase_left`: erase time still
    // to give; `backlog`: how long the routine is still busy.
    let size_for = |left: usize, link: Option<f64>, erase_left: f64, backlog: f64| -> usize {
        let cap = plan.data_capacity as usize;
        let min = (512 / unit).max(1) * unit;
        let Some(link) = link else { return cap.min(4096).min(left) };
        let work = program_per_byte + erase_left / left.max(1) as f64;
        let r = work / link;
        let b = if r >= 1.0 {
            cap as f64
        } else if r > 0.5 {
            left as f64 / 2.0
        } else {
            left as f64 * (1.0 - r)
        };
        let b = (b.max(backlog / link) as usize).clamp(min.min(cap), cap);
        if left <= b + min {
            left.min(cap)
        } else {
            b
        }
    };
    let mut size = size_for(left, None, 0.0, 0.0);
    // Jobs whose erase is in a buffer (built, and given to the routine).
    let erase_built = std::cell::Cell::new(0usize);
    let erase_given = std::cell::Cell::new(0usize);
    let erase_ops = |job: &Job| {
        let regops = ctrl.erase_sector_ops(&job.sector);
        let ops = routine::ops_from(&regops, |b| ctrl.status(b), &format!("erasing {}", job.sector));
        let (typical, timeout) = routine::regops_time(&regops);
        (ops, typical, timeout)
    };
    // Buffers given before this call (CRC batches) are not ours.
    let first_buffer = st.submitted();
    // Jobs whose erase (if any) is in buffer `tag` or earlier.
    let mut erased_by: Vec<usize> = Vec::new();
    // The job the loop was at when asked to stop: every job before it has
    // all its buffers given (and waited for, before the routine stops).
    let stopped_at = std::cell::Cell::new(None);
    // What the flash holds as far as the routine has confirmed, for a user
    // who wants to stop now; `started`: jobs with buffers given.
    let report_state = |st: &Streamer, t: &Target, progress: &mut dyn Progress, started: usize| {
        let done = from_tags(st.done_tags(), first_buffer, &completed_by.borrow());
        let ledger = Ledger { done, started: started.max(erase_given.get()).max(done), between: false };
        let job = &jobs[started.saturating_sub(1).min(jobs.len() - 1)];
        let backlog = st.busy_until().saturating_sub(t.elapsed());
        progress.flash_state(&ledger.describe(jobs), backlog + super::execute::job_time(ctrl, job));
    };
    let result = (|| -> Result<(), RoutineError> {
        let mut submit = |st: &mut Streamer, t: &mut Target, buf: &mut Buffer, next_job: usize| {
            let mut b = std::mem::take(buf);
            b.tag = completed_by.borrow().len();
            completed_by.borrow_mut().push(next_job);
            erased_by.push(erase_built.get());
            sent += b.data.len();
            let (before, bytes) = (t.elapsed(), b.data.len());
            st.submit(t, b)?;
            erase_given.set(erase_built.get());
            link_bytes.set(link_bytes.get() + bytes);
            link_time.set(link_time.get() + t.elapsed().saturating_sub(before));
            Ok::<_, RoutineError>(())
        };
        let link = || (link_bytes.get() > 0).then(|| link_time.get().as_secs_f64() / link_bytes.get() as f64);
        let next_size = |st: &Streamer, t: &Target, left: usize| {
            let erase_left: f64 = erase_times.get(erase_built.get()..).unwrap_or(&[]).iter().sum();
            let backlog = st.busy_until().saturating_sub(t.elapsed()).as_secs_f64();
            size_for(left, link(), erase_left, backlog)
        };
        // A range of written sectors waiting to be hashed, and whether the
        // unit has been prepared in this run.
        let mut pending: Option<(u8, u32, u32)> = None;
        let mut prepared = false;
        let flush_verify = |buf: &mut Buffer,
                            pending: &mut Option<(u8, u32, u32)>,
                            prepared: &mut bool,
                            ranges: &mut Vec<(u8, u32, u32)>| {
            let (Some(unit), Some(range)) = (verify, pending.take()) else { return };
            if !*prepared {
                buf.ops.extend(unit.prepare_ops());
                *prepared = true;
            }
            buf.ops.extend(unit.ops(&[range]));
            let (typical, timeout) = unit.time(range.2 - range.1);
            buf.typical += typical;
            buf.timeout += timeout;
            ranges.push(range);
        };
        let verify_words = verify.map_or(0, |u| u.range_words() + u.prepare_ops().iter().map(Op::words).sum::<u32>());
        for (j, job) in jobs.iter().enumerate() {
            if progress.should_stop() {
                return Err(RoutineError::Interrupted);
            }
            stopped_at.set(Some(j));
            report_state(st, t, progress, j);
            let bank = job.sector.bank;
            if job.erase && erase_built.get() <= j {
                let (ops, typical, timeout) = erase_ops(job);
                let words: u32 = ops.iter().map(|o| o.words()).sum();
                if !buf.fits(&plan, 0, words + verify_words, 1) {
                    submit(st, t, &mut buf, j)?;
                    size = next_size(st, t, left);
                }
                buf.ops.extend(ops);
                buf.typical += typical;
                buf.timeout += timeout;
            }
            erase_built.set(erase_built.get().max(j + 1));
            // Erase the next sector at the end of the buffer that closes
            // (before it is sent), when it may be erased early.
            let ahead = |buf: &mut Buffer| {
                let Some(next) = jobs.get(j + 1) else { return };
                if !next.erase || !next.ahead || erase_built.get() > j + 1 {
                    return;
                }
                let (ops, typical, timeout) = erase_ops(next);
                if buf.fits(&plan, 0, ops.iter().map(Op::words).sum::<u32>() + verify_words, 1) {
                    buf.ops.extend(ops);
                    buf.typical += typical;
                    buf.timeout += timeout;
                    erase_built.set(j + 2);
                }
            };
            let what = format!("programming {}", job.sector);
            let setup = routine::ops_from(&ctrl.program_setup_ops(bank), |b| ctrl.status(b), &what);
            let teardown = routine::ops_from(&ctrl.program_teardown_ops(bank), |b| ctrl.status(b), &what);
            let setup_words: u32 = setup.iter().map(Op::words).sum();
            let teardown_words: u32 = teardown.iter().map(Op::words).sum();
            let wait = WaitSpec::new(bank, &ctrl.status(bank), what.clone());
            // Setup written in the current buffer, teardown still owed.
            let mut open = false;
            for &(addr, data) in &job.runs {
                for (off, piece) in pieces(data, &access) {
                    let mut done = 0usize;
                    let total = match &piece {
                        Piece::Data(d) => d.len(),
                        Piece::Fill { len, .. } => *len,
                    };
                    while done < total {
                        let words = 11 + teardown_words + if open { 0 } else { setup_words } + verify_words;
                        let n = match &piece {
                            Piece::Data(_) => {
                                let room = size.saturating_sub(buf.data.len());
                                (room - room % unit).min(total - done)
                            }
                            Piece::Fill { .. } => total - done,
                        };
                        let data_need = if matches!(piece, Piece::Data(_)) { n as u32 } else { 0 };
                        if n == 0 || !buf.fits(&plan, data_need.max(1), words, 1) {
                            if open {
                                buf.ops.extend(teardown.iter().cloned());
                                open = false;
                            }
                            flush_verify(&mut buf, &mut pending, &mut prepared, &mut verify_ranges);
                            ahead(&mut buf);
                            submit(st, t, &mut buf, j)?;
                            size = next_size(st, t, left);
                            report_state(st, t, progress, j + 1);
                            progress.add(0);
                            continue;
                        }
                        if !open {
                            buf.ops.extend(setup.iter().cloned());
                            open = true;
                        }
                        let dst = addr + (off + done) as u32;
                        let units = (n / unit) as u32;
                        match &piece {
                            Piece::Data(d) => {
                                buf.ops.push(Op::Program {
                                    dst,
                                    offset: buf.data.len() as u32,
                                    len: n as u32,
                                    unit: access.unit,
                                    width: access.width,
                                    wait: wait.clone(),
                                });
                                buf.data.extend_from_slice(&d[done..done + n]);
                                left -= n;
                            }
                            Piece::Fill { value, .. } => buf.ops.push(Op::Fill {
                                dst,
                                value: *value,
                                len: n as u32,
                                unit: access.unit,
                                width: access.width,
                                wait: wait.clone(),
                            }),
                        }
                        buf.typical += access.typical * units;
                        buf.timeout += access.timeout * units;
                        progress.add(n as u64);
                        done += n;
                    }
                }
            }
            if open {
                buf.ops.extend(teardown.iter().cloned());
            }
            // The sector is written: hash it (with the sectors written just
            // before it, when contiguous).
            if verify.is_some() {
                let (s, e) = (job.sector.addr, job.sector.end() as u32);
                pending = match pending {
                    Some((b, start, end)) if b == bank && end == s && (e - start) as u64 <= VERIFY_GROUP => {
                        Some((b, start, e))
                    }
                    other => {
                        if other.is_some() {
                            pending = other;
                            flush_verify(&mut buf, &mut pending, &mut prepared, &mut verify_ranges);
                        }
                        Some((bank, s, e))
                    }
                };
            }
        }
        flush_verify(&mut buf, &mut pending, &mut prepared, &mut verify_ranges);
        if let (Some(unit), Some(range)) = (verify, settle) {
            if !buf.fits(&plan, 0, unit.range_words() + 1, 1) {
                submit(st, t, &mut buf, jobs.len())?;
            }
            if !prepared {
                buf.ops.extend(unit.prepare_ops());
            }
            buf.ops.extend(unit.ops(&[range]));
            let (typical, timeout) = unit.time(range.2 - range.1);
            buf.typical += typical;
            buf.timeout += timeout;
        }
        if last {
            routine::mark_last(&mut buf);
        }
        if !buf.ops.is_empty() {
            submit(st, t, &mut buf, jobs.len())?;
        }
        Ok(())
    })();
    // Wait here (a crash while the last buffers run still hands over to the
    // host path); the CRCs stay in `st.results` for `Streamer::finish`. An
    // interruption, noticed between sectors, still lets the buffers already
    // given finish: the flash stops at a sector boundary.
    let result = match result {
        Ok(()) => st.sync(t),
        Err(RoutineError::Interrupted) => st.sync(t).and(Err(RoutineError::Interrupted)),
        Err(e) => Err(e),
    };
    let completed_by = completed_by.into_inner();
    debug!("fast path: {} bytes in {} buffers, {} ranges hashed", sent, completed_by.len(), verify_ranges.len());
    let from = |st: &Streamer| from_tags(st.done_tags(), first_buffer, &completed_by);
    // The sectors whose erase ran in a buffer the routine reported done.
    let erased_upto =
        st.done_tags().get(first_buffer..).unwrap_or(&[]).iter().filter_map(|&tag| erased_by.get(tag)).max();
    for job in jobs[..erased_upto.copied().unwrap_or(0)].iter().filter(|j| j.erase) {
        progress.erased(&job.sector);
    }
    ledger.done = from(st);
    let sent_to = completed_by.iter().map(|&j| (j + 1).min(jobs.len())).max().unwrap_or(0);
    ledger.started = sent_to.max(erase_given.get()).max(ledger.done);
    if let (Err(RoutineError::Interrupted), Some(j)) = (&result, stopped_at.get()) {
        // Every buffer given was waited for: the jobs before `j` are written,
        // `j` and later are untouched unless erased ahead.
        ledger.done = j;
        ledger.started = j.max(erase_given.get());
        ledger.between = true;
    }
    match result {
        Ok(()) => Ok(Outcome::Done { verify: verify_ranges, settle: settle.filter(|_| verify.is_some()) }),
        Err(RoutineError::Interrupted) => {
            let _ = st.abort(t);
            Err(FlashError::Interrupted { at: jobs.get(from(st)).map_or(0, |j| j.sector.addr) })
        }
        Err(e) => fail(t, ctrl, e),
    }
}

/// The first job not finished by the buffers the routine reported done
/// (`done_tags` from `first_buffer` on are ours; `completed_by[tag]` is the
/// first job a buffer leaves unfinished).
fn from_tags(done_tags: &[usize], first_buffer: usize, completed_by: &[usize]) -> usize {
    let ours = done_tags.get(first_buffer..).unwrap_or(&[]);
    ours.iter().filter_map(|&tag| completed_by.get(tag)).max().copied().unwrap_or(0)
}

/// A routine failure: controller errors and timeouts are the flash's and are
/// reported; a crash hands the rest of the work to the host-driven engine.
pub(super) fn fail(t: &mut Target, ctrl: &dyn FlashController, e: RoutineError) -> Result<Outcome, FlashError> {
    match e {
        RoutineError::Crashed { .. } => {
            warn!("{e}; finishing the write with host-driven programming");
            Ok(Outcome::Fallback)
        }
        other => Err(other.into_flash_error(t, ctrl)),
    }
}

/// After a fallback: wait until every bank is idle and clear its flags, so
/// that the engine starts from a clean controller.
pub(super) fn settle(t: &mut Target, ctrl: &dyn FlashController, banks: &[u8]) -> Result<(), FlashError> {
    for &bank in banks {
        let what = format!("waiting for bank {} after the flash routine stopped", bank + 1);
        let _ = engine::wait_idle(t, ctrl, bank, Duration::ZERO, Duration::from_secs(30), &what);
        // The routine may have stopped inside a programming sequence (PG,
        // FPRG/PROG left set): leave programming mode, then clear whatever
        // that raised, so the host path starts from an idle controller.
        let _ = engine::run_ops(t, ctrl, &ctrl.recover_ops(bank), "leaving programming mode");
        engine::clear_stale_errors(t, ctrl, bank)?;
    }
    Ok(())
}

/// Hash `ranges` (bank, start, end; flash, or RAM for a unit that can) with
/// the CRC unit and wait for the CRCs, in order. The unit is prepared first.
pub(super) fn run_crcs(
    t: &mut Target,
    st: &mut Streamer,
    unit: &CrcUnit,
    ranges: &[(u8, u32, u32)],
) -> Result<Vec<u32>, RoutineError> {
    let plan = st.plan().clone();
    let before = st.results.len();
    let mut buf = Buffer { ops: unit.prepare_ops(), ..Default::default() };
    let mut i = 0;
    while i < ranges.len() {
        // Ranges of one bank that fit this buffer.
        let mut n = 0;
        while i + n < ranges.len() && buf.fits(&plan, 0, unit.range_words() * (n as u32 + 1), n as u32 + 1) {
            n += 1;
        }
        if n == 0 {
            st.submit(t, std::mem::take(&mut buf))?;
            continue;
        }
        let batch = &ranges[i..i + n];
        buf.ops.extend(unit.ops(batch));
        for &(_, start, end) in batch {
            let (typical, timeout) = unit.time(end - start);
            buf.typical += typical;
            buf.timeout += timeout;
        }
        buf.timeout += Duration::from_millis(100);
        i += n;
    }
    st.submit(t, buf)?;
    st.sync(t)?;
    let crcs = st.results.split_off(before);
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
    use crate::chip::MemRegion;
    use crate::flash::Width;

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

    #[test]
    fn long_runs_of_a_repeated_word_become_fills() {
        let access = ProgramAccess {
            unit: 16,
            width: Width::Word,
            typical: Duration::from_micros(25),
            timeout: Duration::from_millis(10),
        };
        let mut data = vec![7u8; 64];
        data.extend(std::iter::repeat([0x78, 0x56, 0x34, 0x12]).take(64).flatten());
        data.extend([1u8; 32]);
        data.extend([0u8; 48]); // too short to pay off
        let p = pieces(&data, &access);
        type Kind = (usize, Option<(u32, usize)>, usize);
        let kinds: Vec<Kind> = p
            .iter()
            .map(|(off, piece)| match piece {
                Piece::Data(d) => (*off, None, d.len()),
                Piece::Fill { value, len } => (*off, Some((*value, *len)), *len),
            })
            .collect();
        assert_eq!(kinds, vec![(0, None, 64), (64, Some((0x1234_5678, 256)), 256), (320, None, 80)]);
        // Half-word accesses can only repeat words whose halves are equal.
        let half = ProgramAccess { unit: 2, width: Width::Half, ..access };
        assert!(matches!(pieces(&data, &half)[..], [(0, Piece::Data(_))]));
        let zeros = vec![0u8; 512];
        assert!(matches!(pieces(&zeros, &half)[..], [(0, Piece::Fill { value: 0, len: 512 })]));
    }
}
