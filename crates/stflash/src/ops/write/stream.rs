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
use crate::flash::routine::{self, fill_value, Buffer, LaneSource, Op, RamPlan, RoutineError, Streamer, WaitSpec};
use crate::flash::{engine, FlashController, FlashError, ProgramAccess, Progress, RegOp};
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
    /// A fast-programming row stopped with the controller's fast-mode errors
    /// (data late, the row timer, no bank erase before): the jobs the
    /// routine did not confirm are to be done again the normal way, erase
    /// included for those it may have begun.
    FastFailed,
}

/// What a [`stream`] does besides the jobs.
#[derive(Debug, Clone, Default)]
pub(super) struct StreamOptions<'u> {
    /// Erase whole banks before the first job (the driver's ops); every job
    /// then counts as begun.
    pub bank_erase: Vec<RegOp>,
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

impl Piece<'_> {
    fn len(&self) -> usize {
        match self {
            Piece::Data(d) => d.len(),
            Piece::Fill { len, .. } => *len,
        }
    }
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
/// sector's data; banks erased whole ([`StreamOptions::bank_erase`]) are
/// erased first. Where the controller's banks work on their own
/// ([`FlashController::independent_banks`]), consecutive jobs of different
/// banks are worked on together: their erases run at once, their data
/// goes out as PAIR ops, and a bank that finishes first starts its next
/// erase. However it ends, `ledger` says which jobs the routine confirmed
/// and which it may have begun.
pub(super) fn stream(
    t: &mut Target,
    ctrl: &dyn FlashController,
    st: &mut Streamer,
    jobs: &[Job],
    options: StreamOptions,
    progress: &mut dyn Progress,
    ledger: &mut Ledger,
) -> Result<Outcome, FlashError> {
    let fast_errors = ctrl.fast_program().map_or(0, |f| f.errors);
    let any_fast = jobs.iter().any(|j| j.fast);
    let settle = options.verify.and_then(|h| h.settle).filter(|_| options.verify.is_some());
    let mut p = Packer::new(t, ctrl, st, jobs, &options, progress);
    let result = p.run(&options);
    // Wait here (a crash while the last buffers run still hands over to the
    // host path); the CRCs stay in `st.results` for `Streamer::finish`. An
    // interruption, noticed between sectors, still lets the buffers already
    // given finish: the flash stops at a sector boundary.
    let result = match result {
        Ok(()) => p.st.sync(p.t),
        Err(RoutineError::Interrupted) => p.st.sync(p.t).and(Err(RoutineError::Interrupted)),
        Err(e) => Err(e),
    };
    p.account(&result, ledger);
    let Packer { t, st, verify_ranges, .. } = p;
    match result {
        Ok(()) => Ok(Outcome::Done { verify: verify_ranges, settle }),
        Err(RoutineError::Interrupted) => {
            let _ = st.abort(t);
            Err(FlashError::Interrupted { at: jobs.get(ledger.done).map_or(0, |j| j.sector.addr) })
        }
        Err(RoutineError::Flash { status, .. }) if any_fast && status & fast_errors != 0 => {
            warn!("fast programming stopped (status 0x{status:08X}); the rest is programmed the normal way");
            Ok(Outcome::FastFailed)
        }
        Err(e) => fail(t, ctrl, e),
    }
}

/// Whether a job's erase is in a buffer yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EraseState {
    NotBuilt,
    /// Started (its start ops are in a buffer), not waited for.
    Started,
    Done,
}

/// One job of a group while it is programmed: its pieces and how far it is.
struct Lane<'j> {
    job: usize,
    bank: u8,
    access: ProgramAccess,
    pieces: Vec<(u32, Piece<'j>)>,
    /// Piece being written, and bytes of it done.
    at: usize,
    done: usize,
    /// Its setup ops are in the current buffer (its teardown is owed).
    open: bool,
    setup: Vec<Op>,
    teardown: Vec<Op>,
    wait: WaitSpec,
}

impl<'j> Lane<'j> {
    fn finished(&self) -> bool {
        self.at >= self.pieces.len()
    }

    /// Bytes left in the current piece.
    fn left(&self) -> usize {
        self.pieces.get(self.at).map_or(0, |(_, p)| p.len() - self.done)
    }

    fn is_data(&self) -> bool {
        matches!(self.pieces.get(self.at), Some((_, Piece::Data(_))))
    }

    fn advance(&mut self, n: usize) {
        self.done += n;
        if self.done >= self.pieces[self.at].1.len() {
            self.at += 1;
            self.done = 0;
        }
    }
}

/// Builds the routine's buffers from the jobs, gives them to the routine
/// and keeps what the ledger needs: which jobs each buffer finishes, whose
/// erases are out.
struct Packer<'a, 'j> {
    t: &'a mut Target,
    ctrl: &'a dyn FlashController,
    st: &'a mut Streamer,
    progress: &'a mut dyn Progress,
    jobs: &'a [Job<'j>],
    ram: RamPlan,
    normal: ProgramAccess,
    fast: Option<ProgramAccess>,
    /// Two banks are worked on at once.
    lanes: bool,
    buf: Buffer,
    /// Data bytes the current buffer takes, and the bytes still to program.
    size: usize,
    left: usize,
    sent: usize,
    /// Data bytes that went out in PAIR ops (both banks programmed at once).
    paired: usize,
    /// Link time per byte, measured on the buffers sent so far.
    link_bytes: usize,
    link_time: Duration,
    /// Target time per data byte (programming) and per job (its erase).
    program_per_byte: f64,
    erase_times: Vec<f64>,
    /// Buffers given before this stream (CRC batches) are not ours.
    first_buffer: usize,
    /// Per buffer tag: the first job it leaves unfinished, and how many jobs
    /// had their erase built when it was given.
    completed_by: Vec<usize>,
    erased_by: Vec<usize>,
    erase: Vec<EraseState>,
    /// A bank erase is in a buffer: every job may be erased.
    begun_all: bool,
    /// Jobs whose erase is in a buffer given to the routine.
    erase_given: usize,
    /// The group the loop was at when asked to stop.
    stopped_at: Option<usize>,
    verify: Option<&'a CrcUnit>,
    /// Written sectors waiting to be hashed, one range per bank.
    pending: Vec<(u8, u32, u32)>,
    prepared: bool,
    verify_ranges: Vec<(u8, u32, u32)>,
    /// Script words a buffer keeps for the hashes it may have to flush.
    verify_words: u32,
}

impl<'a, 'j> Packer<'a, 'j> {
    fn new(
        t: &'a mut Target,
        ctrl: &'a dyn FlashController,
        st: &'a mut Streamer,
        jobs: &'a [Job<'j>],
        options: &StreamOptions<'a>,
        progress: &'a mut dyn Progress,
    ) -> Packer<'a, 'j> {
        let normal = ctrl.program_access();
        let fast = ctrl.fast_program().map(|f| f.access).filter(|_| jobs.iter().any(|j| j.fast));
        let lanes = ctrl.independent_banks() && jobs.windows(2).any(|w| w[0].sector.bank != w[1].sector.bank);
        let access = fast.unwrap_or(normal);
        let per_byte = access.typical.as_secs_f64() / access.unit as f64;
        let erase_times = jobs
            .iter()
            .map(
                |j| if j.erase { routine::regops_time(&ctrl.erase_sector_ops(&j.sector)).0.as_secs_f64() } else { 0.0 },
            )
            .collect();
        let verify = options.verify.map(|h| h.unit);
        let ranges = if lanes { 2 } else { 1 };
        let verify_words =
            verify.map_or(0, |u| ranges * u.range_words() + u.prepare_ops().iter().map(Op::words).sum::<u32>());
        let mut p = Packer {
            ram: st.plan().clone(),
            first_buffer: st.submitted(),
            t,
            ctrl,
            st,
            progress,
            jobs,
            normal,
            fast,
            lanes,
            buf: Buffer::default(),
            size: 0,
            left: jobs.iter().flat_map(|j| &j.runs).map(|r| r.1.len()).sum(),
            sent: 0,
            paired: 0,
            link_bytes: 0,
            link_time: Duration::ZERO,
            program_per_byte: if lanes { per_byte / 2.0 } else { per_byte },
            erase_times,
            completed_by: Vec::new(),
            erased_by: Vec::new(),
            erase: vec![EraseState::NotBuilt; jobs.len()],
            begun_all: false,
            erase_given: 0,
            stopped_at: None,
            verify,
            pending: Vec::new(),
            prepared: false,
            verify_ranges: Vec::new(),
            verify_words,
        };
        p.size = p.size_for(None, 0.0, 0.0);
        p
    }

    /// The jobs in groups worked on together: two consecutive jobs of
    /// different banks when the banks work at once, else one.
    fn groups(&self) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.jobs.len() {
            let two = self.lanes && self.jobs.get(i + 1).is_some_and(|n| n.sector.bank != self.jobs[i].sector.bank);
            let n = if two { 2 } else { 1 };
            out.push(i..i + n);
            i += n;
        }
        out
    }

    fn run(&mut self, options: &StreamOptions) -> Result<(), RoutineError> {
        if !options.bank_erase.is_empty() {
            let ops = routine::ops_from(&options.bank_erase, |b| self.ctrl.status(b), "erasing whole banks");
            let (typical, timeout) = routine::regops_time(&options.bank_erase);
            self.buf.ops.extend(ops);
            self.buf.typical += typical;
            self.buf.timeout += timeout;
            self.begun_all = true;
        }
        let groups = self.groups();
        for (g, group) in groups.iter().enumerate() {
            if self.progress.should_stop() {
                return Err(RoutineError::Interrupted);
            }
            self.stopped_at = Some(group.start);
            self.report_state(group.start);
            self.erase_group(group.clone())?;
            self.program_group(group.clone(), groups.get(g + 1))?;
            for j in group.clone() {
                self.written(j);
            }
        }
        self.finish(options)
    }

    /// How many jobs have their erase in a buffer (a prefix: later jobs'
    /// erases only go out after earlier ones').
    fn erase_built(&self) -> usize {
        if self.begun_all {
            return self.jobs.len();
        }
        self.erase.iter().rposition(|&e| e != EraseState::NotBuilt).map_or(0, |i| i + 1)
    }

    /// A job's erase split where it first waits: the writes that start it,
    /// and the wait and writes that finish it.
    fn erase_parts(&self, j: usize) -> (Vec<Op>, Vec<Op>, Duration, Duration) {
        let job = &self.jobs[j];
        let regops = self.ctrl.erase_sector_ops(&job.sector);
        let (typical, timeout) = routine::regops_time(&regops);
        let split = regops
            .iter()
            .enumerate()
            .position(|(i, op)| {
                matches!(op, RegOp::WaitIdle { .. }) && i > 0 && matches!(regops[i - 1], RegOp::Write { .. })
            })
            .unwrap_or(regops.len());
        let what = format!("erasing {}", job.sector);
        let status = |b| self.ctrl.status(b);
        (
            routine::ops_from(&regops[..split], status, &what),
            routine::ops_from(&regops[split..], status, &what),
            typical,
            timeout,
        )
    }

    /// Put the erases of these jobs (those that need one and have none out
    /// yet) into the buffer: started together, then waited for, so that two
    /// banks erase at once. `Ok(false)` if they did not fit (`close`: give
    /// the buffer and go on in a new one, else leave them).
    fn place_erases(&mut self, jobs: &[usize], close: bool) -> Result<bool, RoutineError> {
        let todo: Vec<usize> =
            jobs.iter().copied().filter(|&j| self.jobs[j].erase && self.erase[j] != EraseState::Done).collect();
        if todo.is_empty() {
            return Ok(true);
        }
        let parts: Vec<_> = todo.iter().map(|&j| self.erase_parts(j)).collect();
        let words: u32 = parts.iter().flat_map(|p| p.0.iter().chain(&p.1)).map(Op::words).sum();
        if !self.buf.fits(&self.ram, 0, words + self.verify_words, 1) {
            if !close {
                return Ok(false);
            }
            self.submit(jobs[0])?;
        }
        let mut typical = Duration::ZERO;
        for (&j, (start, _, t, timeout)) in todo.iter().zip(&parts) {
            if self.erase[j] == EraseState::NotBuilt {
                self.buf.ops.extend(start.iter().cloned());
                // Erases started together take as long as the longest.
                typical = typical.max(*t);
                self.buf.timeout += *timeout;
            }
        }
        for (&j, (_, finish, _, _)) in todo.iter().zip(&parts) {
            self.buf.ops.extend(finish.iter().cloned());
            self.erase[j] = EraseState::Done;
        }
        self.buf.typical += typical;
        Ok(true)
    }

    fn erase_group(&mut self, group: std::ops::Range<usize>) -> Result<(), RoutineError> {
        let jobs: Vec<usize> = group.collect();
        self.place_erases(&jobs, true).map(|_| ())
    }

    /// Start the erase of the next job in `bank` (after `group`) while the
    /// other bank is still programmed, when it may be erased ahead.
    fn start_next_erase(&mut self, bank: u8, next: Option<&std::ops::Range<usize>>) {
        let Some(j) = next.and_then(|g| g.clone().find(|&j| self.jobs[j].sector.bank == bank)) else { return };
        let job = &self.jobs[j];
        if !job.erase || !job.ahead || self.erase[j] != EraseState::NotBuilt {
            return;
        }
        // Only jobs in order: every job before it has its erase out.
        let built = self.erase.iter().rposition(|&e| e != EraseState::NotBuilt).map_or(0, |i| i + 1);
        if built < j && (built..j).any(|i| self.jobs[i].erase) {
            return;
        }
        let (start, _, typical, timeout) = self.erase_parts(j);
        let words: u32 = start.iter().map(Op::words).sum();
        if self.buf.fits(&self.ram, 0, words + self.verify_words + 30, 1) {
            self.buf.ops.extend(start);
            self.buf.typical += typical / 2;
            self.buf.timeout += timeout;
            self.erase[j] = EraseState::Started;
        }
    }

    fn lane(&self, j: usize) -> Lane<'j> {
        let job = &self.jobs[j];
        let bank = job.sector.bank;
        let access = if job.fast { self.fast.unwrap_or(self.normal) } else { self.normal };
        let what = format!("programming {}", job.sector);
        let status = |b| self.ctrl.status(b);
        let setup_ops = if job.fast { self.ctrl.fast_setup_ops(bank) } else { self.ctrl.program_setup_ops(bank) };
        Lane {
            job: j,
            bank,
            access,
            pieces: job
                .runs
                .iter()
                .flat_map(|&(addr, data)| pieces(data, &access).into_iter().map(move |(off, p)| (addr + off as u32, p)))
                .collect(),
            at: 0,
            done: 0,
            open: false,
            setup: routine::ops_from(&setup_ops, status, &what),
            teardown: routine::ops_from(&self.ctrl.program_teardown_ops(bank), status, &what),
            wait: WaitSpec::new(bank, &self.ctrl.status(bank), what),
        }
    }

    /// Program the jobs of a group: one lane each, two lanes as PAIR ops.
    fn program_group(
        &mut self,
        group: std::ops::Range<usize>,
        next: Option<&std::ops::Range<usize>>,
    ) -> Result<(), RoutineError> {
        let mut lanes: Vec<Lane> = group.clone().map(|j| self.lane(j)).collect();
        loop {
            let active: Vec<usize> = (0..lanes.len()).filter(|&i| !lanes[i].finished()).collect();
            if active.is_empty() {
                break;
            }
            let Some(op) = self.next_op(&mut lanes, &active) else {
                self.close(&mut lanes, group.start, next)?;
                continue;
            };
            for &i in &active {
                if !lanes[i].open {
                    self.buf.ops.extend(lanes[i].setup.iter().cloned());
                    lanes[i].open = true;
                }
            }
            self.buf.ops.push(op);
            // A lane that is done leaves programming mode; its bank may start
            // its next erase while the other lane goes on.
            for &i in &active {
                if lanes[i].finished() && lanes.iter().any(|l| !l.finished()) {
                    self.buf.ops.extend(lanes[i].teardown.iter().cloned());
                    lanes[i].open = false;
                    self.start_next_erase(lanes[i].bank, next);
                }
            }
        }
        for lane in lanes.iter_mut().filter(|l| l.open) {
            self.buf.ops.extend(lane.teardown.iter().cloned());
            lane.open = false;
        }
        Ok(())
    }

    /// The next PROGRAM, FILL or PAIR op for the active lanes that fits the
    /// buffer (data, script and wait descriptions), with the lanes advanced
    /// and the buffer's data, times and progress counted; `None` when
    /// nothing more fits.
    fn next_op(&mut self, lanes: &mut [Lane<'j>], active: &[usize]) -> Option<Op> {
        let units = self.units_that_fit(lanes, active)?;
        let mut built: Vec<routine::Lane> = Vec::new();
        let mut longest = Duration::ZERO;
        for &i in active {
            let (lane, time) = self.take_units(&mut lanes[i], units);
            longest = longest.max(time);
            built.push(lane);
        }
        // The lanes program at once: the op takes as long as the longest.
        self.buf.typical += longest;
        Some(match <[routine::Lane; 2]>::try_from(built) {
            Ok(pair) => {
                self.paired += pair
                    .iter()
                    .filter(|l| matches!(l.source, LaneSource::Data { .. }))
                    .map(|l| l.len as usize)
                    .sum::<usize>();
                Op::Pair(Box::new(pair))
            }
            Err(mut one) => single_lane_op(one.pop().expect("one active lane")),
        })
    }

    /// Units each active lane can put into this buffer: the whole current
    /// piece, within the data room shared by the lanes that carry data, if
    /// the op, its setup and teardown and the waits fit at all.
    fn units_that_fit(&self, lanes: &[Lane<'j>], active: &[usize]) -> Option<usize> {
        let setup: u32 = active.iter().filter(|&&i| !lanes[i].open).flat_map(|&i| &lanes[i].setup).map(Op::words).sum();
        let teardown: u32 = lanes.iter().flat_map(|l| &l.teardown).map(Op::words).sum();
        let op_words = if active.len() == 2 { 13 } else { 7 };
        // Room for the erase a finished lane may start meanwhile.
        let words = op_words + setup + teardown + self.verify_words + if active.len() == 2 { 10 } else { 0 };
        let room = self.size.saturating_sub(self.buf.data.len());
        let data_lanes = active.iter().filter(|&&i| lanes[i].is_data()).count().max(1);
        let mut units = usize::MAX;
        for &i in active {
            let l = &lanes[i];
            let unit = l.access.unit as usize;
            let by_room = if l.is_data() { room / data_lanes / unit } else { usize::MAX };
            units = units.min(l.left() / unit).min(by_room);
        }
        let data: usize =
            active.iter().filter(|&&i| lanes[i].is_data()).map(|&i| units * lanes[i].access.unit as usize).sum();
        let waits = active.len() as u32;
        let fits = self.buf.fits(&self.ram, (data as u32).max(1), words, 1) && self.fits_waits(waits);
        (units > 0 && fits).then_some(units)
    }

    /// `units` of a lane's current piece into the buffer (its data, or the
    /// fill word), as a routine lane, with their typical time.
    fn take_units(&mut self, l: &mut Lane<'j>, units: usize) -> (routine::Lane, Duration) {
        let n = units * l.access.unit as usize;
        let (dst, piece) = &l.pieces[l.at];
        let dst = dst + l.done as u32;
        let source = match piece {
            Piece::Data(d) => {
                let offset = self.buf.data.len() as u32;
                self.buf.data.extend_from_slice(&d[l.done..l.done + n]);
                self.left -= n;
                LaneSource::Data { offset }
            }
            Piece::Fill { value, .. } => LaneSource::Fill { value: *value },
        };
        self.buf.timeout += l.access.timeout * units as u32;
        self.progress.add(n as u64);
        let (unit, width, wait) = (l.access.unit, l.access.width, l.wait.clone());
        let lane = routine::Lane { dst, source, len: n as u32, unit, width, wait };
        let time = l.access.typical * units as u32;
        l.advance(n);
        (lane, time)
    }

    /// Room for `n` more wait descriptions in the buffer's table.
    fn fits_waits(&self, n: u32) -> bool {
        n <= 1 || self.buf.fits(&self.ram, 0, 5 * (n - 1), 0)
    }

    /// Close the buffer in the middle of a group: leave programming mode,
    /// hash what is written, start the next erase when it may go ahead,
    /// and give it to the routine.
    fn close(
        &mut self,
        lanes: &mut [Lane<'j>],
        first: usize,
        next: Option<&std::ops::Range<usize>>,
    ) -> Result<(), RoutineError> {
        for lane in lanes.iter_mut().filter(|l| l.open) {
            self.buf.ops.extend(lane.teardown.iter().cloned());
            lane.open = false;
        }
        self.flush_verify(None);
        self.ahead(next);
        self.submit(first)?;
        let started = lanes.iter().map(|l| l.job + 1).max().unwrap_or(first + 1);
        self.report_state(started);
        self.progress.add(0);
        Ok(())
    }

    /// At the end of a buffer, the erases of the next group, when each may
    /// go ahead of its data (the target erases while the host sends).
    fn ahead(&mut self, next: Option<&std::ops::Range<usize>>) {
        let Some(next) = next else { return };
        let jobs: Vec<usize> = next.clone().collect();
        let needs = |j: &usize| self.jobs[*j].erase && self.erase[*j] != EraseState::Done;
        if !jobs.iter().filter(|j| needs(j)).all(|&j| self.jobs[j].ahead) || !jobs.iter().any(needs) {
            return;
        }
        let _ = self.place_erases(&jobs, false);
    }

    /// Job `j` is written: hash it with the sectors of its bank written just
    /// before it, when contiguous.
    fn written(&mut self, j: usize) {
        if self.verify.is_none() {
            return;
        }
        let sector = self.jobs[j].sector;
        let (bank, s, e) = (sector.bank, sector.addr, sector.end() as u32);
        match self.pending.iter_mut().find(|r| r.0 == bank) {
            Some(r) if r.2 == s && (e - r.1) as u64 <= VERIFY_GROUP => r.2 = e,
            Some(_) => {
                self.flush_verify(Some(bank));
                self.pending.push((bank, s, e));
            }
            None => self.pending.push((bank, s, e)),
        }
    }

    /// Hash the pending ranges (of `bank`, or all) in the buffer.
    fn flush_verify(&mut self, bank: Option<u8>) {
        let Some(unit) = self.verify else { return };
        let (flush, keep): (Vec<_>, Vec<_>) = self.pending.drain(..).partition(|r| bank.map_or(true, |b| r.0 == b));
        self.pending = keep;
        for range in flush {
            if !self.prepared {
                self.buf.ops.extend(unit.prepare_ops());
                self.prepared = true;
            }
            self.buf.ops.extend(unit.ops(&[range]));
            let (typical, timeout) = unit.time(range.2 - range.1);
            self.buf.typical += typical;
            self.buf.timeout += timeout;
            self.verify_ranges.push(range);
        }
    }

    /// The last hashes, the settle burst, and the last buffer.
    fn finish(&mut self, options: &StreamOptions) -> Result<(), RoutineError> {
        self.flush_verify(None);
        if let (Some(unit), Some(range)) = (self.verify, options.verify.and_then(|h| h.settle)) {
            if !self.buf.fits(&self.ram, 0, unit.range_words() + 1, 1) {
                self.submit(self.jobs.len())?;
            }
            if !self.prepared {
                self.buf.ops.extend(unit.prepare_ops());
            }
            self.buf.ops.extend(unit.ops(&[range]));
            let (typical, timeout) = unit.time(range.2 - range.1);
            self.buf.typical += typical;
            self.buf.timeout += timeout;
        }
        if options.stop {
            routine::mark_last(&mut self.buf);
        }
        if !self.buf.ops.is_empty() {
            self.submit(self.jobs.len())?;
        }
        Ok(())
    }

    /// Give the buffer to the routine; it leaves job `next_job` (and later
    /// ones) unfinished. The next buffer's size follows.
    fn submit(&mut self, next_job: usize) -> Result<(), RoutineError> {
        let mut b = std::mem::take(&mut self.buf);
        b.tag = self.completed_by.len();
        self.completed_by.push(next_job);
        let built = self.erase_built();
        self.erased_by.push(built);
        self.sent += b.data.len();
        let (before, bytes) = (self.t.elapsed(), b.data.len());
        self.st.submit(self.t, b)?;
        self.erase_given = built;
        self.link_bytes += bytes;
        self.link_time += self.t.elapsed().saturating_sub(before);
        let link = (self.link_bytes > 0).then(|| self.link_time.as_secs_f64() / self.link_bytes as f64);
        let erase_left: f64 = self.erase_times.get(built..).unwrap_or(&[]).iter().sum();
        let backlog = self.st.busy_until().saturating_sub(self.t.elapsed()).as_secs_f64();
        self.size = self.size_for(link, erase_left, backlog);
        Ok(())
    }

    /// Buffer size: small first (the target starts erasing and programming
    /// early); then as big as a slot holds while much is left; near the end a
    /// geometric tail, each buffer's transfer covering the target's work on
    /// the one before (programming, and the erases not yet given), so little
    /// is left to do after the last transfer. A routine still busy with
    /// earlier buffers gets bigger ones (the host waits for it anyway).
    /// `link`: measured transfer time per byte; `erase_left`: erase time still
    /// to give; `backlog`: how long the routine is still busy.
    fn size_for(&self, link: Option<f64>, erase_left: f64, backlog: f64) -> usize {
        let unit = self.fast.unwrap_or(self.normal).unit as usize;
        let left = self.left;
        let cap = self.ram.data_capacity as usize;
        let min = (512 / unit).max(1) * unit;
        let Some(link) = link else { return cap.min(4096).max(unit).min(left.max(unit)) };
        let work = self.program_per_byte + erase_left / left.max(1) as f64;
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
    }

    /// What the flash holds as far as the routine has confirmed, for a user
    /// who wants to stop now; `started`: jobs with buffers given.
    fn report_state(&mut self, started: usize) {
        let done = from_tags(self.st.done_tags(), self.first_buffer, &self.completed_by);
        let ledger =
            Ledger { done, started: started.max(self.erase_given).max(done), between: false, ..Ledger::default() };
        let job = &self.jobs[started.saturating_sub(1).min(self.jobs.len() - 1)];
        let backlog = self.st.busy_until().saturating_sub(self.t.elapsed());
        self.progress.flash_state(&ledger.describe(self.jobs), backlog + super::execute::job_time(self.ctrl, job));
    }

    /// After the routine stopped (or finished): which jobs it confirmed and
    /// which it may have begun; the erases it confirmed, for progress.
    fn account(&mut self, result: &Result<(), RoutineError>, ledger: &mut Ledger) {
        debug!(
            "fast path: {} bytes in {} buffers ({} bytes to both banks at once), {} ranges hashed",
            self.sent,
            self.completed_by.len(),
            self.paired,
            self.verify_ranges.len()
        );
        let done_tags = self.st.done_tags().get(self.first_buffer..).unwrap_or(&[]);
        // The sectors whose erase ran in a buffer the routine reported done.
        let erased_upto = done_tags.iter().filter_map(|&tag| self.erased_by.get(tag)).max().copied().unwrap_or(0);
        for job in self.jobs[..erased_upto.min(self.jobs.len())].iter().filter(|j| j.erase) {
            self.progress.erased(&job.sector);
        }
        ledger.done = from_tags(self.st.done_tags(), self.first_buffer, &self.completed_by);
        let sent_to = self.completed_by.iter().map(|&j| (j + 1).min(self.jobs.len())).max().unwrap_or(0);
        ledger.started = sent_to.max(self.erase_given).max(ledger.done);
        if let Err(RoutineError::Flash { .. }) = result {
            // The routine stops at the failing buffer (the one after those
            // it reported done): later buffers never ran, so their jobs are
            // untouched but for erases placed earlier. After a failed fast
            // row, only what that buffer began is erased again.
            let failing = done_tags.len();
            if let Some(&last) = self.completed_by.get(failing) {
                let began = (last + 1).min(self.jobs.len());
                ledger.started = began.max(self.erase_given).max(ledger.done).min(ledger.started);
                ledger.programmed = began.max(ledger.done).min(ledger.started);
            }
        }
        if let (Err(RoutineError::Interrupted), Some(j)) = (result, self.stopped_at) {
            // Every buffer given was waited for: the jobs before `j` are written,
            // `j` and later are untouched unless erased ahead.
            ledger.done = j;
            ledger.started = j.max(self.erase_given);
            ledger.between = true;
        }
    }
}

/// One lane alone: the PROGRAM or FILL op it stands for.
fn single_lane_op(l: routine::Lane) -> Op {
    match l.source {
        LaneSource::Data { offset } => {
            Op::Program { dst: l.dst, offset, len: l.len, unit: l.unit, width: l.width, wait: l.wait }
        }
        LaneSource::Fill { value } => {
            Op::Fill { dst: l.dst, value, len: l.len, unit: l.unit, width: l.width, wait: l.wait }
        }
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
