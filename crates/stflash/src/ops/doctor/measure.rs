//! The measurements of `stflash doctor`, each beside the value the timing
//! model assumes (the link constants below, the flash times of each driver;
//! the simulator implements the same model in `stflash_sim::clock`, so on it
//! a measurement comes out as the model configured):
//!
//! * the USB round trip of the smallest command;
//! * SWD read and write throughput at each clock the probe offers, in SRAM
//!   (its bytes saved first and written back);
//! * what the CRC units compute, solved as a write solves them before
//!   trusting them (`ops::write`'s calibration), with the flash routine in
//!   SRAM (saved and written back, the core's registers too);
//! * with `--measure-flash SECTOR --confirm-erase`: that sector's erase time
//!   and the time to program one unit, the sector's contents kept in the
//!   journal meanwhile and written back (a failure leaves them there for
//!   the next write, as after an interrupted write).

use std::collections::BTreeSet;
use std::time::Duration;

use super::{Doctor, Measurement, Value};
use crate::chip::Chip;
use crate::error::{Error, ErrorKind, Result};
use crate::flash::crc::{CrcUnit, InputOrder, Solution};
use crate::flash::routine::{self, Buffer, Op, RamPlan, Streamer, WaitSpec, PROGRESS_FAIL};
use crate::flash::{engine, FlashController, FlashError, FlashLayout, NoProgress, RegOp, Sector};
use crate::mcu::{cortex_m as cm, Target, TargetError};
use crate::ops::image::{Format, Image, Segment};
use crate::ops::inspect::TargetFacts;
use crate::ops::journal::{Entry, Record};
use crate::ops::write::{self, Hashed};
use crate::ops::Session;
use crate::transport::ProbeKind;

/// The link as the timing model has it: a fixed cost per command round trip
/// and a payload rate each way (assumed: ST-LINK/V2 and V2-1
/// on USB full speed 0.30 ms and 1.0 MB/s, STLINK-V3 on high speed 0.15 ms
/// and 30 MB/s), plus the SWD clocks a command spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkModel {
    pub round_trip: Duration,
    pub bytes_per_sec: u64,
}

/// SWD clocks of one 32-bit memory access with address auto-increment
/// (assumed, as the simulator's `stflash_sim::clock::SWD_CLOCKS_MEM`).
pub const SWD_CLOCKS_MEM: u64 = 48;

impl LinkModel {
    pub fn for_probe(kind: ProbeKind) -> LinkModel {
        if kind.is_v3() {
            LinkModel { round_trip: Duration::from_micros(150), bytes_per_sec: 30_000_000 }
        } else {
            LinkModel { round_trip: Duration::from_micros(300), bytes_per_sec: 1_000_000 }
        }
    }

    /// One command: the round trip, `payload` bytes of data phase or reply,
    /// `clocks` SWD clocks at `khz`.
    pub fn command(&self, payload: u64, clocks: u64, khz: u32) -> Duration {
        let wire = payload as u128 * 1_000_000_000 / self.bytes_per_sec as u128;
        let swd = clocks as u128 * 1_000_000 / khz.max(1) as u128;
        self.round_trip + Duration::from_nanos((wire + swd) as u64)
    }
}

fn ms(d: Duration) -> Value {
    Value::Number(d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> Value {
    Value::Number(d.as_secs_f64() * 1e6)
}

fn kib_per_s(bytes: usize, d: Duration) -> Value {
    Value::Number(bytes as f64 / 1024.0 / d.as_secs_f64().max(1e-9))
}

fn io(e: TargetError) -> Error {
    Error::from(e)
}

/// A failure that ends the measurements: the probe or the link is gone.
fn fatal(e: &Error) -> bool {
    matches!(e.kind, ErrorKind::ProbeIo | ErrorKind::NoProbe | ErrorKind::Interrupted)
}

/// The sector `which` names: its index in the layout (bank 1's sectors
/// first, then bank 2's), or an address inside it.
pub(super) fn pick_sector(layout: &FlashLayout, chip: &str, which: u32) -> Result<Sector> {
    let sectors = layout.sectors();
    let found = if which < layout.base() { sectors.get(which as usize).copied() } else { layout.sector_at(which) };
    found.ok_or_else(|| {
        Error::input(format!(
            "--measure-flash {which}: this {chip} has {} sectors (0-{}) at {}; give a sector's index or an address in it",
            sectors.len(),
            sectors.len().saturating_sub(1),
            layout.ranges_text()
        ))
    })
}

/// Time `f` `n` times; the fastest run (the least disturbed by the host).
fn best_of(
    t: &mut Target,
    n: usize,
    mut f: impl FnMut(&mut Target) -> std::result::Result<(), TargetError>,
) -> std::result::Result<Duration, TargetError> {
    let mut best = Duration::MAX;
    for _ in 0..n {
        let start = t.elapsed();
        f(t)?;
        best = best.min(t.elapsed() - start);
    }
    Ok(best)
}

/// The probe itself failed (USB), not the SWD link at this clock.
fn probe_gone(e: &TargetError) -> bool {
    matches!(e, TargetError::Link(crate::stlink::StlinkError::Transport(_)))
}

/// USB round trip, then SWD throughput at each clock.
pub(super) fn link(d: &mut Doctor, t: &mut Target, facts: &TargetFacts, max_khz: Option<u32>) -> Result<()> {
    let model = LinkModel::for_probe(t.probe().kind);
    const ROUND_TRIPS: u32 = 16;
    let start = t.elapsed();
    for _ in 0..ROUND_TRIPS {
        t.link_mut().current_mode().map_err(|e| io(e.into()))?;
    }
    let per = (t.elapsed() - start) / ROUND_TRIPS;
    d.measured(Measurement {
        name: "usb_round_trip".into(),
        value: Some(ms(per)),
        unit: "ms",
        model: Some(ms(model.command(2, 0, 1))),
        detail: Some(format!("GET_CURRENT_MODE: a 16-byte command and its 2-byte reply, the mean of {ROUND_TRIPS}")),
    });
    swd_throughput(d, t, facts.chip, model, max_khz)
}

/// Read and write throughput at each clock the probe offers (not above
/// `max_khz`), in SRAM: one READMEM_32BIT or WRITEMEM_32BIT and its status
/// command, sized to take about 20 ms of SWD time (at most 6 KiB, the
/// probe's buffer), the best of two. The SRAM bytes used are written back.
fn swd_throughput(d: &mut Doctor, t: &mut Target, chip: &Chip, model: LinkModel, max_khz: Option<u32>) -> Result<()> {
    const SWD_TIME_NS: u64 = 20_000_000;
    let status_reply = if t.probe_firmware().has_rw_status2() { 12 } else { 2 };
    let base = chip.sram.base;
    let max_block = (crate::stlink::MAX_READ32 as u32).min(chip.sram.size / 2) as usize & !3;
    let mut rates = t.link_mut().swd_rates().map_err(|e| io(e.into()))?;
    rates.retain(|&k| max_khz.map_or(true, |max| k <= max));
    let original = t.link().swd_speed();
    if rates.is_empty() || original.is_none() || max_block == 0 {
        d.measured(Measurement {
            name: "swd_read".into(),
            value: None,
            unit: "KiB/s",
            model: None,
            detail: Some("this probe's firmware does not say or set its SWD clock".into()),
        });
        return Ok(());
    }
    let mut saved = vec![0u8; max_block];
    if let Err(e) = t.read_mem(base, &mut saved) {
        if probe_gone(&e) {
            return Err(io(e));
        }
        // Less SRAM than the chip table says, or none where it says.
        t.take_link_trouble();
        d.measured(Measurement {
            name: "swd_read".into(),
            value: None,
            unit: "KiB/s",
            model: None,
            detail: Some(format!("not measured: the SRAM does not answer ({e})")),
        });
        return Ok(());
    }
    let pattern: Vec<u8> = (0..max_block).map(|i| (i as u8).wrapping_mul(37).wrapping_add(11)).collect();
    let mut result = Ok(());
    for khz in rates {
        let set = match t.link_mut().set_swd_speed(khz) {
            Ok(Some(k)) => k,
            Ok(None) => continue,
            Err(e) => {
                result = Err(io(e.into()));
                break;
            }
        };
        let words = ((SWD_TIME_NS * set as u64 / 1_000_000 / SWD_CLOCKS_MEM) as usize).clamp(1, max_block / 4);
        let bytes = 4 * words;
        let expected =
            model.command(bytes as u64, SWD_CLOCKS_MEM * words as u64, set) + model.command(status_reply, 0, set);
        let detail = format!("{bytes} bytes of SRAM in one command and its status, the best of 2");
        let read = best_of(t, 2, |t| {
            let mut buf = vec![0u8; bytes];
            t.read_mem(base, &mut buf)
        });
        let write = match &read {
            Ok(_) => best_of(t, 2, |t| t.write_mem(base, &pattern[..bytes])),
            Err(e) => Err(e.clone()),
        };
        t.take_link_trouble();
        for (what, r) in [("read", read), ("write", write)] {
            let (value, detail) = match r {
                Ok(time) => (Some(kib_per_s(bytes, time)), detail.clone()),
                Err(e) if probe_gone(&e) => {
                    result = Err(io(e));
                    break;
                }
                Err(e) => (None, format!("the link fails at this clock: {e}")),
            };
            d.measured(Measurement {
                name: format!("swd_{what}_{set}khz"),
                value,
                unit: "KiB/s",
                model: Some(kib_per_s(bytes, expected)),
                detail: Some(detail),
            });
        }
        if result.is_err() {
            break;
        }
    }
    let back = original.map_or(Ok(None), |k| t.link_mut().set_swd_speed(k)).map_err(|e| io(e.into()));
    t.take_link_trouble();
    result?;
    back?;
    t.write_mem(base, &saved).map_err(io)
}

/// The core registers the flash routine uses, as the firmware had them:
/// R0-R15, xPSR, MSP, PSP, and CONTROL/FAULTMASK/BASEPRI/PRIMASK (DCRSR
/// REGSEL 20, ARMv7-M C1.6.3; where a core has no such register it is left).
struct CoreRegs(Vec<(u8, u32)>);

impl CoreRegs {
    fn save(t: &mut Target) -> Result<CoreRegs> {
        let mut regs = Vec::new();
        for i in (0..=18).chain([20]) {
            match t.read_core_reg(i) {
                Ok(v) => regs.push((i, v)),
                Err(e) if i == 20 => log::debug!("special registers not saved: {e}"),
                Err(e) => return Err(io(e)),
            }
        }
        Ok(CoreRegs(regs))
    }

    /// Put them back, and clear the interrupt mask the routine ran with
    /// while the core is still halted (C_MASKINTS may change only then).
    fn restore(&self, t: &mut Target) -> Result<()> {
        t.write32(cm::DHCSR, cm::DBGKEY | cm::C_HALT | cm::C_DEBUGEN).map_err(io)?;
        for &(i, v) in &self.0 {
            t.write_core_reg(i, v).map_err(io)?;
        }
        Ok(())
    }
}

/// The short name of an input order (the simulator's knob values).
pub fn order_key(order: InputOrder) -> &'static str {
    match order {
        InputOrder::Word => "word",
        InputOrder::Bytes => "bytes",
        InputOrder::Reflected => "reflected",
        InputOrder::ByteReflected => "byte-reflected",
        InputOrder::HalfReflected => "half-reflected",
    }
}

/// Measurement names and the model values of a unit: the H7 flash CRC unit
/// as users measured it on an H753 (initial value 0xB6C0AE5A, words most
/// significant byte first: ST community,
/// <https://qa-community.st.com/stm32-mcus-security-36/stm32h753-flash-crc-specification-52577>),
/// the CRC peripheral as the routine sets it up (INIT 0xFFFFFFFF, REV_IN
/// and REV_OUT 0: RM0090 §4, CRC calculation unit).
fn unit_names(unit: &CrcUnit) -> Option<(&'static str, u32)> {
    match unit {
        CrcUnit::H7 { .. } => Some(("flash_crc", 0xB6C0_AE5A)),
        CrcUnit::Peripheral(_) => Some(("crc_peripheral", 0xFFFF_FFFF)),
        CrcUnit::Software { .. } => None,
    }
}

/// What each hardware CRC unit computes, solved from the same runs a write
/// calibrates it with.
pub(super) fn crc_units(
    d: &mut Doctor,
    t: &mut Target,
    ctrl: Option<&mut (dyn FlashController + 'static)>,
    chip: &'static Chip,
) -> Result<()> {
    let units: Vec<CrcUnit> = CrcUnit::candidates(chip).into_iter().filter(|u| unit_names(u).is_some()).collect();
    if units.is_empty() {
        return Ok(());
    }
    let unmeasured = |d: &mut Doctor, why: String| {
        for u in &units {
            let (prefix, init) = unit_names(u).expect("filtered");
            d.measured(Measurement {
                name: format!("{prefix}_init"),
                value: None,
                unit: "",
                model: Some(Value::Word(init)),
                detail: Some(why.clone()),
            });
        }
    };
    let Some(plan) = RamPlan::for_chip(chip) else {
        unmeasured(d, "no RAM region of this chip holds the flash routine".into());
        return Ok(());
    };
    let last = plan.last_word();
    if let Err(e) = t.read32(last) {
        unmeasured(d, format!("the SRAM does not reach the flash routine's last word 0x{last:08X} ({e})"));
        return Ok(());
    }
    let span = plan.code..last + 4;
    let mut ram = vec![0u8; span.len()];
    t.read_mem(span.start, &mut ram).map_err(io)?;
    let regs = CoreRegs::save(t)?;
    let routine_error = |e: routine::RoutineError| match e {
        routine::RoutineError::Target(e) => io(e),
        e => Error::other(format!("the flash routine: {e}")),
    };
    let Some(ctrl) = ctrl else {
        unmeasured(d, "no flash driver for this chip".into());
        return Ok(());
    };
    // The H7 unit is switched on in the flash control register, which
    // takes writes only while the bank is unlocked (as during a write);
    // nothing is erased or programmed, and the bank is locked again.
    let bank1 = units.iter().any(|u| matches!(u, CrcUnit::H7 { .. }));
    let mut results = Vec::new();
    let ran = (|| -> Result<()> {
        if bank1 {
            engine::clear_stale_errors(t, ctrl, 0)?;
            ctrl.unlock(t, 0)?;
        }
        let mut st = Streamer::start(t, plan.clone()).map_err(routine_error)?;
        for u in &units {
            // The calibration runs alone, as a write hashes them first.
            results.push(write::hash_calibrated(t, ctrl, &mut st, u, chip.name, &[]));
        }
        st.finish(t).map_err(routine_error).map(drop)
    })();
    let locked = if bank1 { ctrl.lock(t, 0).map_err(Error::from) } else { Ok(()) };
    // Put back what the routine used, whatever happened.
    let restored = regs.restore(t).and_then(|()| t.write_mem(span.start, &ram).map_err(io));
    if let Err(e) = &ran {
        if fatal(e) {
            return Err(e.clone());
        }
    }
    restored?;
    locked?;
    let mut results = results.into_iter();
    for u in &units {
        let (prefix, init) = unit_names(u).expect("filtered");
        let outcome = match (results.next(), &ran) {
            (Some(r), _) => r.map_err(|e| e.to_string()),
            (None, Err(e)) => Err(e.to_string()),
            (None, Ok(())) => Err("not run".to_string()),
        };
        report_unit(d, u, prefix, init, outcome);
    }
    Ok(())
}

fn report_unit(
    d: &mut Doctor,
    unit: &CrcUnit,
    prefix: &str,
    model_init: u32,
    outcome: std::result::Result<Hashed, String>,
) {
    let word = |v| Some(Value::Word(v));
    let text = |s: &str| Some(Value::Text(s.to_string()));
    let mut put = |suffix: &str, value: Option<Value>, model: Option<Value>, detail: String| {
        d.measured(Measurement { name: format!("{prefix}_{suffix}"), value, unit: "", model, detail: Some(detail) })
    };
    let source = match unit {
        CrcUnit::H7 { .. } => {
            "solved from the CRCs of the first three bursts of bank 1, as a write calibrates the unit; the model: \
             0xB6C0AE5A, measured on an H753 (ST community)"
        }
        _ => {
            "solved from the CRCs of the flash routine's code in SRAM, as a write calibrates the unit; the model: \
              CRC_INIT's reset value, which the routine writes"
        }
    };
    let solution: Solution = match outcome {
        Ok(Hashed::Done(_, solution)) => solution,
        Ok(Hashed::Untrusted) => {
            put(
                "init",
                None,
                word(model_init),
                format!(
                    "no CRC-32 with polynomial 0x04C11DB7 explains the {}'s results on known bytes (the warning \
                     gives them): writes verify without it",
                    unit.name()
                ),
            );
            return;
        }
        Ok(Hashed::Crashed) => {
            put("init", None, word(model_init), "not measured: the flash routine stopped while hashing".into());
            return;
        }
        Err(why) => {
            put("init", None, word(model_init), format!("not measured: {why}"));
            return;
        }
    };
    let first = solution.models[0];
    let init = solution.models.iter().all(|m| m.init == first.init).then_some(first.init);
    put("init", init.map(Value::Word), word(model_init), source.to_string());
    match solution.resolved() {
        Some(m) => {
            put("order", text(order_key(m.order)), text("word"), format!("the unit takes {}", m.order.name()));
            let out = if m.reflect_out { "reflected" } else { "plain" };
            put("output", text(out), text("plain"), "the result as read, or bit-reversed".into());
        }
        None => {
            put(
                "order",
                None,
                text("word"),
                "not settled: the bytes hashed (erased flash) read alike in every input order; a write settles it \
                 after programming, and doctor does once the start of bank 1 holds data"
                    .into(),
            );
            if solution.models.iter().all(|m| m.reflect_out == first.reflect_out) {
                let out = if first.reflect_out { "reflected" } else { "plain" };
                put("output", text(out), text("plain"), "the result as read, or bit-reversed".into());
            }
        }
    }
}

/// Wait for the bank as [`engine::wait_idle`] does, but polling closely
/// from `start` (when the operation was started) and without the typical
/// time's sleep: how long the operation took (the midpoint between the
/// last poll that saw it busy and the first that did not). A wait whose
/// first poll finds the bank idle counts nothing: what it waited for, if
/// anything, took less than a round trip, which cannot be told apart.
fn wait_timed(
    t: &mut Target,
    ctrl: &dyn FlashController,
    bank: u8,
    start: Duration,
    timeout: Duration,
    what: &str,
) -> Result<Duration> {
    let status = ctrl.status(bank);
    let mut last_busy = None;
    loop {
        let sr = t.read32(status.addr).map_err(io)?;
        let now = t.elapsed();
        if sr & status.busy == 0 {
            engine::check_errors(t, ctrl, bank, sr, what)?;
            return Ok(last_busy.map_or(Duration::ZERO, |busy| (busy + now) / 2 - start));
        }
        last_busy = Some(now);
        let waited = now - start;
        if waited > timeout {
            return Err(FlashError::Timeout { op: what.to_string(), waited }.into());
        }
        // Polls about 2 % of the time waited apart (each is a round trip).
        t.sleep((waited / 50).min(Duration::from_millis(5)));
    }
}

/// Erase `sector` with the driver's sequence, timing its waits; and what the
/// sequence expects them to take.
fn timed_erase(s: &mut Session, sector: &Sector) -> Result<(Duration, Duration)> {
    let Session { target: t, flash, .. } = s;
    let ctrl = flash.as_deref().ok_or_else(|| Error::unsupported("no flash driver for this chip"))?;
    let what = format!("erasing {sector}");
    let (mut took, mut typical_sum) = (Duration::ZERO, Duration::ZERO);
    let mut since = t.elapsed();
    for op in ctrl.erase_sector_ops(sector) {
        match op {
            RegOp::Write { addr, value } => {
                t.write32(addr, value).map_err(io)?;
                since = t.elapsed();
            }
            RegOp::WaitIdle { bank, typical, timeout } => {
                took += wait_timed(t, ctrl, bank, since, timeout, &what)?;
                typical_sum += typical;
                since = t.elapsed();
            }
        }
    }
    Ok((took, typical_sum))
}

/// Program the whole (erased) sector with a repeated word through the flash
/// routine, which polls the controller after each unit as a write does;
/// returns the time per unit, the driver's typical time and the units.
fn timed_program(s: &mut Session, sector: &Sector) -> Result<(Duration, Duration, u32)> {
    let Session { target: t, flash, .. } = s;
    let ctrl = flash.as_deref().ok_or_else(|| Error::unsupported("no flash driver for this chip"))?;
    let access = ctrl.program_access();
    let plan = RamPlan::for_chip(t.chip)
        .filter(|p| access.unit % access.width.bytes() == 0 && access.unit <= p.data_capacity)
        .ok_or_else(|| Error::unsupported("the flash routine cannot program this chip, so the time is not measured"))?;
    t.read32(plan.last_word()).map_err(io)?;
    let units = sector.size / access.unit;
    let bank = sector.bank;
    let what = format!("programming {sector}");
    let mut buf = Buffer {
        ops: routine::ops_from(&ctrl.program_setup_ops(bank), |b| ctrl.status(b), &what),
        ..Default::default()
    };
    // 0x5A in every byte: neither erased value, the same at every width.
    buf.ops.push(Op::Fill {
        dst: sector.addr,
        value: 0x5A5A_5A5A,
        len: sector.size,
        unit: access.unit,
        width: access.width,
        wait: WaitSpec::new(bank, &ctrl.status(bank), what.clone()),
    });
    buf.ops.extend(routine::ops_from(&ctrl.program_teardown_ops(bank), |b| ctrl.status(b), &what));
    buf.typical = access.typical * units;
    buf.timeout = access.timeout * units + Duration::from_millis(100);
    routine::mark_last(&mut buf);
    let fail = |t: &mut Target, e: routine::RoutineError| Error::from(e.into_flash_error(t, ctrl));
    let mut st = Streamer::start(t, plan.clone()).map_err(|e| fail(t, e))?;
    st.submit(t, buf).map_err(|e| fail(t, e))?;
    let start = t.elapsed();
    let mut last_busy = start;
    let took = loop {
        let progress = t.read32(plan.progress).map_err(io)?;
        let now = t.elapsed();
        if progress != 0 || now - start > access.timeout * units {
            // Done, failed or late: the streamer says which.
            if progress & PROGRESS_FAIL == 0 && progress != 0 {
                break (last_busy + now) / 2 - start;
            }
            break Duration::ZERO;
        }
        last_busy = now;
        t.sleep(((now - start) / 50).min(Duration::from_millis(5)));
    };
    st.finish(t).map_err(|e| fail(t, e))?;
    Ok((took / units, access.typical, units))
}

/// Time the erase of `sector` and the programming of its units; its
/// contents wait in the journal until they are written back and verified,
/// whatever happens in between (a failure leaves the journal, and the next
/// write or erase on the chip writes them back).
pub(super) fn flash(d: &mut Doctor, s: &mut Session, sector: Sector) -> Result<()> {
    s.require_unprotected()?;
    s.refuse_reserved(&format!("{sector}"), sector.addr, sector.size as u64)?;
    // What an interrupted write left comes first: the record below must not
    // replace it.
    write::restore_journal(s, true, &mut NoProgress)?;
    let journal = s.journal()?.ok_or_else(|| {
        Error::other(
            "no directory for the journal (set STFLASH_STATE_DIR): --measure-flash never erases a sector whose \
             contents exist only in memory; nothing was changed",
        )
    })?;
    let mut before = vec![0u8; sector.size as usize];
    s.target.read_mem(sector.addr, &mut before).map_err(io)?;
    let record = Record {
        what: format!("stflash doctor --measure-flash, {sector} as it was"),
        entries: vec![Entry { addr: sector.addr, data: before.clone() }],
    };
    journal.record(&record).map_err(|e| {
        Error::other(format!("cannot write the journal {}: {e}; nothing was changed", journal.path().display()))
    })?;
    let timed = (|| {
        let mut u = s.unlock(&BTreeSet::from([sector.bank]))?;
        let erase = timed_erase(&mut u, &sector)?;
        let program = timed_program(&mut u, &sector)?;
        u.lock()?;
        Ok::<_, Error>((erase, program))
    })();
    // Back as a write writes (erase, program, verify), the journal kept
    // until the sector is verified: a failure leaves it for the next write.
    let image =
        Image { segments: vec![Segment { addr: sector.addr, data: before }], format: Format::Binary, entry: None };
    let dir = s.journal_dir.take();
    let restored = write::write(s, &image, &write::WriteOptions::default(), &mut NoProgress);
    s.journal_dir = dir;
    let restored = match restored {
        Ok(_) => journal.clear().map_err(|e| {
            Error::other(format!(
                "the sector is back, but the journal {} cannot be deleted: {e}",
                journal.path().display()
            ))
        }),
        Err(e) => Err(Error::new(
            e.kind,
            format!(
                "{}; the contents of {sector} are kept in {}: the next write or erase on this chip writes them back",
                e.message,
                journal.path().display()
            ),
        )),
    };
    let ((erase, erase_model), (program, program_model, units)) = match (timed, restored) {
        (Ok(times), Ok(())) => times,
        // The sector is back; the measurement failed.
        (Err(e), Ok(())) => return Err(e),
        // Not back: the error names the journal that holds it.
        (_, Err(e)) => return Err(e),
    };
    let unit = s.flash.as_ref().map_or(0, |c| c.program_access().unit);
    d.measured(Measurement {
        name: "flash_erase_time".into(),
        value: Some(ms(erase)),
        unit: "ms",
        model: Some(ms(erase_model)),
        detail: Some(format!("{sector}, polled by the host; its contents were written back afterwards")),
    });
    d.measured(Measurement {
        name: "flash_program_time".into(),
        value: Some(us(program)),
        unit: "us",
        model: Some(us(program_model)),
        detail: Some(format!(
            "per {unit}-byte unit: {units} units programmed by the flash routine, which waits for the controller \
             after each"
        )),
    });
    Ok(())
}
