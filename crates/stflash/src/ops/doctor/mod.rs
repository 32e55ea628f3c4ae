//! `stflash doctor`: walk the connection step by step and stop at the first
//! problem, with its cause and what to do; then measure the link, the CRC
//! units and, when asked, one flash sector, each beside the value the timing
//! model assumes (see `measure`).
//!
//! The checks, in order (each `ok` or `problem`, one line):
//!
//! | check | problem | exit |
//! |---|---|---|
//! | `probe` | none connected, permission denied (udev, WinUSB), in use | 4 |
//! | `firmware` | ST-LINK/V2 firmware before J26 (the features stflash uses, and ST's updater STSW-LINK007) | 10 |
//! | `voltage` | target not powered (< 1 V), below every STM32's minimum, above the maximum | 5 |
//! | `swd` | nothing answers at any clock the probe offers (wiring, SWD pins taken by the firmware, RDP 2) | 5 |
//! | `chip` | the DBGMCU_IDCODE matches no chip stflash knows | 5 |
//! | `genuine` | a known DEV_ID with another SW-DP IDCODE or core than ST's parts: a clone | 5 |
//! | `rdp` | read protection level 1 or 2 | 6 |
//! | `banks` | option bytes that swap the banks or choose another bank organisation than the factory's | 10 |
//! | `wrp` | write-protected sectors | 6 |
//! | `halt` | the core does not halt (a firmware that sleeps with the debug clocks off) | 5 |
//!
//! Until `halt`, everything is read-only and goes through the connection
//! path `stflash info` uses ([`super::inspect`]). The `halt` check stops
//! the core (and freezes the watchdogs, as every command that halts does);
//! the measurements borrow SRAM (saved first, written back after) and run
//! the flash routine there; the core then runs on from where it stopped,
//! with its registers as they were. Flash and option bytes change only with
//! `--measure-flash SECTOR --confirm-erase`: that sector is erased and
//! programmed while its contents wait in the journal ([`super::journal`]),
//! then written back from it, and the chip is reset.

use log::debug;

use super::inspect::{self, Inspected, TargetFacts};
use crate::error::{Error, ErrorKind, Result};
use crate::family::debug_port;
use crate::flash::options::FieldKind;
use crate::flash::{FlashController, RdpLevel, ReservedKind, Sector};
use crate::mcu::{cortex_m as cm, ConnectMode, ConnectOptions, Target, TargetError};
use crate::stlink::{StLink, StlinkError, Version};
use crate::transport::{ProbeInfo, ProbeKind, Transport};

mod measure;

pub use measure::LinkModel;

/// What to do.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// How to attach (`--connect-under-reset`) and the fastest SWD clock to
    /// try (`--freq`); `halt` and `flash_size` are not used.
    pub connect: ConnectOptions,
    /// Run the measurements once every check passed.
    pub measure: bool,
    /// `--measure-flash SECTOR`: the sector to time (its index in the
    /// layout, bank 1 first, or an address inside it).
    pub measure_flash: Option<u32>,
    /// `--confirm-erase`: the sector may be erased (and written back).
    pub confirm_erase: bool,
    /// Where the journal of the measured sector goes; `None`: the state
    /// directory every write uses ([`super::journal::state_dir`]).
    pub journal_dir: Option<std::path::PathBuf>,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            connect: ConnectOptions::default(),
            measure: true,
            measure_flash: None,
            confirm_erase: false,
            journal_dir: None,
        }
    }
}

/// One step of the diagnosis.
#[derive(Debug, Clone)]
pub struct Check {
    /// `probe`, `firmware`, `voltage`, `swd`, `chip`, `genuine`, `rdp`, `banks`, `wrp`, `halt`.
    pub name: &'static str,
    /// What was found (for a problem: its cause and what to do).
    pub detail: String,
    /// The problem, classified for the exit code; `None`: ok.
    pub problem: Option<Error>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, detail: detail.into(), problem: None }
    }

    fn problem(name: &'static str, e: Error) -> Check {
        Check { name, detail: e.message.clone(), problem: Some(e) }
    }

    /// `"ok"` or `"problem"`.
    pub fn result(&self) -> &'static str {
        if self.problem.is_some() {
            "problem"
        } else {
            "ok"
        }
    }
}

/// A measured value, or the value the model assumes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    /// A 32-bit register value (a CRC initial value), shown in hex.
    Word(u32),
    Text(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Number(n) if n.abs() >= 100.0 => write!(f, "{n:.1}"),
            Value::Number(n) if n.abs() >= 10.0 => write!(f, "{n:.2}"),
            Value::Number(n) => write!(f, "{n:.3}"),
            Value::Word(w) => write!(f, "0x{w:08X}"),
            Value::Text(t) => f.write_str(t),
        }
    }
}

/// One measurement, beside what the timing model (or the published
/// measurement the model follows) assumes.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// `usb_round_trip`, `swd_read_<kHz>khz`, `swd_write_<kHz>khz`,
    /// `flash_crc_init`, `flash_crc_order`, `flash_crc_output`,
    /// `crc_peripheral_init`…, `flash_erase_time`, `flash_program_time`.
    pub name: String,
    /// `None`: it could not be measured (`detail` says why).
    pub value: Option<Value>,
    /// `ms`, `us`, `KiB/s`, or empty.
    pub unit: &'static str,
    pub model: Option<Value>,
    /// What was measured, or why there is no value.
    pub detail: Option<String>,
}

/// Receives each check and measurement as it is done, and may ask to stop.
pub trait Observer {
    fn check(&mut self, _check: &Check) {}
    fn measurement(&mut self, _m: &Measurement) {}
    /// `true` stops at the next step (Ctrl-C); a flash measurement that has
    /// begun is completed first (its sector written back).
    fn should_stop(&self) -> bool {
        false
    }
}

/// An observer that records nothing and never stops.
pub struct Quiet;
impl Observer for Quiet {}

/// What the diagnosis found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<Check>,
    pub measurements: Vec<Measurement>,
    /// The first problem (the exit code), or a failure of a measurement.
    pub error: Option<Error>,
    pub probe: Option<ProbeInfo>,
    pub firmware: Option<Version>,
    pub voltage_mv: Option<u32>,
    pub target: Option<TargetFacts>,
}

struct Doctor<'o> {
    report: Report,
    obs: &'o mut dyn Observer,
}

impl Doctor<'_> {
    fn ok(&mut self, name: &'static str, detail: impl Into<String>) {
        let c = Check::ok(name, detail);
        debug!("doctor: {name} ok: {}", c.detail);
        self.obs.check(&c);
        self.report.checks.push(c);
    }

    /// Record `name` as the first problem.
    fn problem(&mut self, name: &'static str, e: Error) {
        let c = Check::problem(name, e.clone());
        self.obs.check(&c);
        self.report.checks.push(c);
        self.report.error = Some(e);
    }

    fn measured(&mut self, m: Measurement) {
        self.obs.measurement(&m);
        self.report.measurements.push(m);
    }

    fn stopped(&self) -> Option<Error> {
        self.obs.should_stop().then(|| Error::new(ErrorKind::Interrupted, "interrupted; nothing was changed"))
    }
}

/// Diagnose the probe behind `probe` (or why none could be opened: the
/// first check's problem) and the target behind it.
pub fn diagnose(probe: Result<Box<dyn Transport>>, opts: &DoctorOptions, obs: &mut dyn Observer) -> Report {
    let mut d = Doctor { report: Report::default(), obs };
    let transport = match probe {
        Ok(t) => t,
        Err(e) => {
            d.problem("probe", probe_problem(e));
            return d.report;
        }
    };
    let info = transport.info().clone();
    d.report.probe = Some(info.clone());
    let simulated = transport.sim_summary().is_some();
    // Opening reads the firmware version: a probe that does not answer it
    // (or an ST-LINK/V1) is the probe's problem.
    let link = match StLink::open(transport) {
        Ok(link) => link,
        Err(e) => {
            let e = Error::from(TargetError::from(e));
            d.problem("probe", Error::new(e.kind, format!("{}: {}", describe_probe(&info, simulated), e.message)));
            return d.report;
        }
    };
    d.ok("probe", describe_probe(&info, simulated));
    d.report.firmware = Some(link.version);
    match firmware_check(&link.version, info.kind) {
        Ok(detail) => d.ok("firmware", detail),
        Err(e) => {
            d.problem("firmware", e);
            return d.report;
        }
    }
    if let Err(e) = connect_and_check(&mut d, link, opts) {
        // A failure outside a check (the probe went away).
        if d.report.error.is_none() {
            d.report.error = Some(e);
        }
    }
    d.report
}

/// The probe's line: "ST-LINK/V2-1 (V2-1, PID 0x374b), serial …, USB 001:007".
fn describe_probe(info: &ProbeInfo, simulated: bool) -> String {
    let place = if simulated { "simulated".to_string() } else { format!("USB {}", info.location) };
    let serial = if info.serial.is_empty() { "unreadable".to_string() } else { info.serial.clone() };
    format!("{} ({}, PID 0x{:04x}), serial {serial}, {place}", ProbeKind::product_name(info.pid), info.kind, info.pid)
}

/// A probe that cannot be opened: the transport's reason, and for access
/// problems both systems' fixes (the transport names the Linux one).
fn probe_problem(e: Error) -> Error {
    let windows = "on Windows the ST-LINK needs the WinUSB driver: install ST's STSW-LINK009 driver package, or bind \
                   WinUSB to interface 0 with Zadig";
    if e.kind == ErrorKind::NoProbe && e.message.starts_with("permission denied") {
        return Error::new(e.kind, format!("{}; {windows}", e.message));
    }
    if e.kind == ErrorKind::ProbeIo {
        return Error::new(e.kind, format!("cannot open the ST-LINK: {}; {windows}", e.message));
    }
    e
}

/// What stflash uses of the ST-LINK/V2 firmware, by the version that brought
/// it (OpenOCD src/jtag/drivers/stlink_usb.c:1339-1366 at abbbc2e05; stlink
/// src/stlink-lib/common.c:1167-1174 and usb.c:620 at 733893a; the gates of
/// [`Version`]). Every STLINK-V3 firmware has all of them.
const V2_FEATURES: &[(u8, &str)] = &[
    (13, "measuring the target voltage (J13)"),
    (15, "fault addresses of failed transfers (J15)"),
    (22, "setting the SWD clock (J22)"),
    (26, "16-bit memory access (J26), which programming STM32F0/F1/F3 flash and F2/F4/F7 flash at 2.1-2.7 V needs"),
];

/// The oldest ST-LINK/V2 firmware stflash works with (probe-rs requires the
/// same: probe-rs/src/probe/stlink/mod.rs:387).
pub const MIN_V2_JTAG: u8 = 26;

fn firmware_check(v: &Version, kind: ProbeKind) -> Result<String> {
    if kind.is_v3() || v.hw >= 3 {
        return Ok(format!("{v}: every STLINK-V3 firmware has what stflash uses"));
    }
    let missing: Vec<&str> = V2_FEATURES.iter().filter(|(j, _)| v.jtag < *j).map(|(_, what)| *what).collect();
    if missing.is_empty() {
        return Ok(format!("{v}: has what stflash uses (V2J{MIN_V2_JTAG} or newer)"));
    }
    Err(Error::unsupported(format!(
        "the probe's firmware {v} is too old for stflash: it lacks {}; update it to V2J{MIN_V2_JTAG} or newer with \
         ST's firmware upgrader STSW-LINK007 (\"ST-LINK firmware upgrade\", Linux, macOS and Windows)",
        missing.join(", ")
    )))
}

/// Lowest supply at which any STM32 runs (H7: 1.62 V) and the highest
/// (3.6 V; 4.0 V absolute maximum: DS5319 Table 5, DS8626 Table 11).
/// The per-family minima are recalled from the datasheets' "general
/// operating conditions", not checked (assumed).
const MIN_STM32_MV: u32 = 1620;
const MAX_STM32_MV: u32 = 3600;
/// Below this the target is unpowered (the connect's own threshold).
const UNPOWERED_MV: u32 = 1000;

fn volts(mv: u32) -> String {
    format!("{}.{:02} V", mv / 1000, (mv % 1000) / 10)
}

fn voltage_check(mv: Option<u32>, has_voltage: bool) -> Result<String> {
    let Some(mv) = mv else {
        return Ok(if has_voltage {
            "not measured: the probe's voltage sense reads nothing (some clones and boards do not wire it)".into()
        } else {
            "not measured: this firmware cannot measure it".into()
        });
    };
    let v = volts(mv);
    if mv < UNPOWERED_MV {
        return Err(Error::new(
            ErrorKind::NoTarget,
            format!(
                "the probe measures {v}: the target is not powered; power the board, and check the wire from the \
                 board's supply to the probe's target-voltage pin (VAPP/VDD on the 20-pin connector: the probe \
                 senses the voltage there)"
            ),
        ));
    }
    if mv < MIN_STM32_MV {
        return Err(Error::new(
            ErrorKind::NoTarget,
            format!(
                "the probe measures {v}, below the {} every STM32 needs at least: a weak, overloaded or failing \
                 supply (or a chip in brown-out reset); check the board's supply",
                volts(MIN_STM32_MV)
            ),
        ));
    }
    if mv > MAX_STM32_MV {
        return Err(Error::new(
            ErrorKind::NoTarget,
            format!(
                "the probe measures {v}, above the {} maximum of every STM32 (4.0 V would damage it): check the \
                 board's supply",
                volts(MAX_STM32_MV)
            ),
        ));
    }
    Ok(if mv < 1800 {
        format!("{v}: low, within range only for the families rated from 1.62-1.71 V (not F0/F1/F3, C0)")
    } else {
        v
    })
}

/// What the SWD scan found.
struct SwdFound {
    khz: Option<u32>,
    dpidr: u32,
    /// Faster clocks that failed, and how.
    failed: Vec<(Option<u32>, String)>,
}

fn khz_text(k: Option<u32>) -> String {
    k.map_or("the probe's clock".to_string(), |k| format!("{k} kHz"))
}

/// Enter SWD, read the SW-DP IDCODE and CPUID (an access through access
/// port 0) at each clock the probe offers, fastest first (not above
/// `max_khz`), until one answers. A bus fault is an answer: the port
/// replied (on STM32H5, WBA5 and H7R/S the core is on access port 1, which
/// the connect finds). With `under_reset` NRST is held low throughout (and
/// stays low on success: the connect releases it).
fn swd_scan(link: &mut StLink, under_reset: bool, max_khz: Option<u32>) -> Result<SwdFound> {
    let io = |e: StlinkError| Error::from(TargetError::from(e));
    if under_reset {
        link.drive_nrst(true).map_err(io)?;
    }
    let rates = link.swd_rates().map_err(io)?;
    let mut clocks: Vec<Option<u32>> = match max_khz {
        Some(max) => rates.iter().copied().filter(|&k| k <= max).map(Some).collect(),
        None => rates.iter().copied().map(Some).collect(),
    };
    if clocks.is_empty() {
        // No rate list (firmware that cannot set the clock), or --freq below
        // every rate: the probe's own, or its slowest.
        clocks.push(rates.iter().copied().min());
    }
    let mut failed = Vec::new();
    for khz in clocks {
        link.leave_current_mode().map_err(io)?;
        if let Some(k) = khz {
            link.set_swd_speed(k).map_err(io)?;
        }
        let attempt = (|| {
            link.enter_swd()?;
            let dpidr = link.read_dpidr()?;
            match link.read_debug32(cm::CPUID) {
                Err(StlinkError::Status { status, .. }) if status.is_access_fault() => Ok(dpidr),
                other => other.map(|_| dpidr),
            }
        })();
        link.take_link_trouble();
        match attempt {
            Ok(dpidr) => return Ok(SwdFound { khz: link.swd_speed().or(khz), dpidr, failed }),
            Err(StlinkError::Transport(e)) => return Err(e.into()),
            Err(e) => {
                debug!("SWD at {}: {e}", khz_text(khz));
                failed.push((khz, e.status().map_or(e.to_string(), |s| s.to_string())));
            }
        }
    }
    let _ = link.leave_current_mode();
    if under_reset {
        let _ = link.drive_nrst(false);
    }
    let tried = match (failed.first(), failed.last()) {
        (Some(a), Some(b)) if failed.len() > 1 => format!("{} to {}", khz_text(a.0), khz_text(b.0)),
        (Some(a), _) => khz_text(a.0),
        _ => String::new(),
    };
    let last = failed.last().map(|f| f.1.clone()).unwrap_or_default();
    let message = if under_reset {
        format!(
            "nothing answers on SWD at any clock ({tried}; last: {last}), even with NRST held low: check the SWDIO, \
             SWCLK, GND and NRST wires and the target's supply; a chip at RDP level 2 has its debug port disabled \
             for good, and nothing recovers it"
        )
    } else {
        format!(
            "nothing answers on SWD at any clock ({tried}; last: {last}): check the SWDIO, SWCLK and GND wires; if \
             they are right, the firmware may have remapped or disabled the SWD pins, or sleep with the debug \
             clocks off: run `stflash doctor --connect-under-reset` (without an NRST wire, hold the board's reset \
             button while it connects); a chip at RDP level 2 never answers"
        )
    };
    Err(Error::new(ErrorKind::NoTarget, message))
}

/// Everything after the firmware check. A problem is recorded in the report
/// (`Ok` is returned then too); `Err` is a failure outside the checks.
fn connect_and_check(d: &mut Doctor, mut link: StLink, opts: &DoctorOptions) -> Result<()> {
    let voltage = link.target_voltage_mv().map_err(|e| Error::from(TargetError::from(e)))?;
    d.report.voltage_mv = voltage;
    match voltage_check(voltage, link.version.has_voltage()) {
        Ok(detail) => d.ok("voltage", detail),
        Err(e) => {
            d.problem("voltage", e);
            return Ok(());
        }
    }
    if let Some(e) = d.stopped() {
        return Err(e);
    }
    let under_reset = opts.connect.mode == ConnectMode::UnderReset;
    let found = match swd_scan(&mut link, under_reset, opts.connect.speed_khz) {
        Ok(f) => f,
        Err(e) if e.kind == ErrorKind::NoTarget => {
            d.problem("swd", e);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let detail = swd_detail(&found);
    d.ok("swd", detail);
    // Connect at the clock that answered.
    let connect = ConnectOptions {
        speed_khz: if found.failed.is_empty() { opts.connect.speed_khz } else { found.khz },
        flash_size: None,
        ..opts.connect.clone()
    };
    let inspected = match inspect::connect(link, &connect) {
        Ok(found) => found,
        Err(e) => {
            let (name, e) = connect_problem(e, found.dpidr);
            d.problem(name, e);
            return Ok(());
        }
    };
    let Inspected { mut target, flash, facts } = inspected;
    d.report.target = Some(facts.clone());
    d.report.voltage_mv = target.voltage_mv.or(d.report.voltage_mv);
    // Left as found: running after a hot-plug connect (unless it was halted
    // already); after a connect under reset the chip runs its firmware.
    let mut run = true;
    match checks_then_measure(d, &mut target, flash, &facts, opts, &mut run) {
        Ok(None) => target.detach(run),
        Ok(Some(sector)) => {
            // The flash operations go through a session, as a write's do.
            let again = ConnectOptions { mode: ConnectMode::HotPlug, halt: true, ..connect };
            let mut session = super::Session::attach(target, &again, false)?;
            if let Some(dir) = &opts.journal_dir {
                session.journal_dir = Some(dir.clone());
            }
            match measure::flash(d, &mut session, sector) {
                Ok(()) => session.finish_as(true, run),
                Err(e) => {
                    session.abandon();
                    Err(e)
                }
            }
        }
        Err(e) => {
            // Best effort: the core as it was found, the probe out of debug mode.
            let _ = target.detach(run);
            Err(e)
        }
    }
}

/// What the SWD step says: the clock that answered, and the faster ones
/// that failed grouped by how ("4000, 1800 and 1200 kHz: <why>").
fn swd_detail(found: &SwdFound) -> String {
    let mut detail = format!("answers at {} (SW-DP IDCODE 0x{:08X})", khz_text(found.khz), found.dpidr);
    if found.failed.is_empty() {
        return detail;
    }
    let mut fails: Vec<(Vec<String>, &str)> = Vec::new();
    for (k, why) in &found.failed {
        let k = k.map_or("the probe's clock".to_string(), |k| k.to_string());
        match fails.iter_mut().find(|(_, w)| *w == why.as_str()) {
            Some((ks, _)) => ks.push(k),
            None => fails.push((vec![k], why.as_str())),
        }
    }
    let fails: Vec<String> = fails
        .into_iter()
        .map(|(mut ks, why)| {
            let last = ks.pop().unwrap_or_default();
            let list = if ks.is_empty() { last } else { format!("{} and {last}", ks.join(", ")) };
            format!("{list} kHz: {why}")
        })
        .collect();
    detail.push_str(&format!(
        "; faster clocks fail ({}): stflash lowers the clock by itself{}",
        fails.join(", "),
        found.khz.map_or(String::new(), |k| format!(", or give --freq {k}"))
    ));
    detail
}

/// The step a failed connect belongs to ("halt" or "chip"), and its error;
/// an unknown chip is named by its SW-DP IDCODE with what it may be.
fn connect_problem(e: Error, dpidr: u32) -> (&'static str, Error) {
    let name = if e.message == TargetError::NoHalt.to_string() { "halt" } else { "chip" };
    if !e.message.starts_with("unknown chip") {
        return (name, e);
    }
    let message = format!(
        "{}; it answers SW-DP IDCODE 0x{dpidr:08X}: it is not an STM32 that stflash knows (a part of another \
         vendor, such as a GigaDevice GD32 or an Artery AT32, or an STM32 newer than this stflash)",
        e.message
    );
    (name, Error::new(e.kind, message))
}

fn chip_line(f: &TargetFacts) -> String {
    let parts = if f.chip.parts.is_empty() { String::new() } else { format!(" ({})", f.chip.parts) };
    format!(
        "{}{parts}: DEV_ID 0x{:03X}, revision 0x{:04X}, {} (CPUID 0x{:08X}), {} KiB flash",
        f.chip.name,
        f.dev_id(),
        f.rev_id(),
        f.core,
        f.cpuid,
        f.layout.total_size() / 1024
    )
}

/// The clone tells the chip table and [`debug_port`] give: the core the
/// DEV_ID's parts have, and their SW-DP IDCODE.
fn genuine_check(f: &TargetFacts) -> Result<String> {
    let chip = f.chip;
    let tail = "stflash's flash drivers follow ST's reference manuals, which a clone need not follow: its flash may \
                not program, erase or verify as they describe";
    if f.core != chip.core {
        return Err(Error::new(
            ErrorKind::NoTarget,
            format!(
                "the chip reports DEV_ID 0x{:03X} ({}), whose parts have a {}, but its CPUID 0x{:08X} names a {}: \
                 probably not ST silicon (a clone that copies ST's DBGMCU_IDCODE); {tail}",
                chip.dev_id, chip.name, chip.core, f.cpuid, f.core
            ),
        ));
    }
    let Some(expected) = debug_port::expected_dpidr(chip.dev_id) else {
        return Ok(format!("a {} as ST's {}; no reference SW-DP IDCODE to compare", f.core, chip.name));
    };
    if expected.dpidr.contains(&f.dpidr) {
        return Ok(format!("SW-DP IDCODE 0x{:08X} and a {}, as ST's {}", f.dpidr, f.core, chip.name));
    }
    let want: Vec<String> = expected.dpidr.iter().map(|d| format!("0x{d:08X}")).collect();
    let known = debug_port::known_clone(chip.dev_id, f.dpidr).map_or(String::new(), |who| format!(" ({who})"));
    Err(Error::new(
        ErrorKind::NoTarget,
        format!(
            "the chip reports DEV_ID 0x{:03X} ({}) but answers SW-DP IDCODE 0x{:08X}, where ST's parts answer {} \
             ({}): probably a clone{known}; {tail}",
            chip.dev_id,
            chip.name,
            f.dpidr,
            want.join(" or "),
            expected.source
        ),
    ))
}

fn rdp_check(f: &TargetFacts) -> Result<String> {
    match &f.rdp {
        Ok(RdpLevel::Level0) => Ok("level 0 (not protected)".into()),
        Ok(RdpLevel::Level1) => Err(Error::new(
            ErrorKind::Protected,
            "the chip is read-protected (RDP level 1): its flash cannot be read or written over SWD; `stflash \
             recover --confirm-erase` lowers it to level 0, which erases the whole flash (the chip does it as the \
             protection goes)",
        )),
        Ok(RdpLevel::Level2) => Err(Error::new(
            ErrorKind::Protected,
            "the chip is permanently protected (RDP level 2): its debug port and option bytes are locked for good, \
             and nothing can recover it",
        )),
        Err(why) => Ok(format!("not read: {why}")),
    }
}

fn wrp_check(t: &mut Target, ctrl: &mut dyn FlashController) -> Result<String> {
    let reserved = ctrl.reserved_ranges(t)?;
    let text = |kind| {
        reserved
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| format!("0x{:08X}-0x{:08X} {}", r.start, r.end - 1, r.reason))
            .collect::<Vec<_>>()
    };
    let protected = text(ReservedKind::WriteProtected);
    if !protected.is_empty() {
        return Err(Error::new(
            ErrorKind::Protected,
            format!("{}; stflash refuses to erase or program there", protected.join("; ")),
        ));
    }
    let other = text(ReservedKind::Secure);
    Ok(if other.is_empty() {
        "nothing write-protected".into()
    } else {
        format!("nothing write-protected; reserved (never written): {}", other.join("; "))
    })
}

/// The bank organisation the option bytes choose, against the factory's.
fn banks_check(t: &mut Target, ctrl: &mut dyn FlashController, f: &TargetFacts) -> Result<String> {
    if let Some(e) = &f.layout_error {
        return Err(e.clone());
    }
    let layout = f.layout.describe();
    let (Some(factory), Some(ob)) = (crate::family::factory(f.chip), ctrl.options()) else {
        return Ok(layout);
    };
    let mut odd = Vec::new();
    let mut fix = Vec::new();
    let mut swapped = false;
    for word in ob.words() {
        let Some(fw) = factory.words.iter().find(|fw| fw.word == word.name) else { continue };
        let fields: Vec<_> = word
            .fields
            .iter()
            .filter(|f| f.kind == FieldKind::BankConfig && (fw.fields.is_empty() || fw.fields.contains(&f.name)))
            .collect();
        if fields.is_empty() {
            continue;
        }
        let value = ob.read_word(t, word)?;
        for field in fields {
            let (now, want) = (field.get(value), field.get(fw.value));
            if now == want {
                continue;
            }
            swapped |= field.name.contains("SWAP");
            odd.push(format!(
                "{}.{} = {now} ({}), factory {want} ({})",
                word.name,
                field.name,
                field.describe(now).1,
                field.describe(want).1
            ));
            fix.push(format!("{}={want}", field.name));
        }
    }
    if odd.is_empty() {
        return Ok(format!("{layout} (the factory organisation)"));
    }
    let why = if swapped {
        "the banks are swapped: bank 2 answers at bank 1's addresses, so a write or erase aimed at one bank reaches \
         the other"
    } else {
        "the flash is not organised as it leaves the factory: sector sizes and numbers, and bank 2's address, differ \
         from what images and tools made for the factory layout expect"
    };
    Err(Error::unsupported(format!(
        "{}: {why} (in force: {layout}); to return to the factory setting: `stflash --allow-bank-config \
         --area=option write {}`, then reset",
        odd.join("; "),
        fix.join(",")
    )))
}

/// The read-only checks after identification, the halt check, then the
/// measurements that leave flash alone. Returns the sector to time when one
/// was asked for (and may be erased); `run` is set to how the core is to be
/// left.
fn checks_then_measure(
    d: &mut Doctor,
    t: &mut Target,
    mut flash: Option<Box<dyn FlashController>>,
    facts: &TargetFacts,
    opts: &DoctorOptions,
    run: &mut bool,
) -> Result<Option<Sector>> {
    let under_reset = opts.connect.mode == ConnectMode::UnderReset;
    d.ok("chip", chip_line(facts));
    macro_rules! check {
        ($name:expr, $result:expr) => {
            match $result {
                Ok(detail) => d.ok($name, detail),
                Err(e) => {
                    d.problem($name, e);
                    return Ok(None);
                }
            }
        };
    }
    check!("genuine", genuine_check(facts));
    check!("rdp", rdp_check(facts));
    if let Some(ctrl) = flash.as_mut() {
        // The bank organisation first: a swapped flash makes the drivers
        // refuse to say which sectors are protected.
        check!("banks", banks_check(t, ctrl.as_mut(), facts));
        check!("wrp", wrp_check(t, ctrl.as_mut()));
    }
    if let Some(e) = d.stopped() {
        return Err(e);
    }
    // The halt: the first write to the target.
    let was_halted = if under_reset { false } else { t.is_halted()? };
    let halted = if under_reset { Ok(()) } else { t.halt() };
    match halted {
        Ok(()) => {
            t.was_halted = was_halted;
            *run = under_reset || !was_halted;
            t.freeze_watchdogs()?;
            d.ok(
                "halt",
                if under_reset {
                    "halted at its reset vector (--connect-under-reset); it runs when doctor is done"
                } else if was_halted {
                    "the core was halted already (a debugger or --no-run left it so); it stays halted"
                } else {
                    "the core halts; it runs on from there when doctor is done"
                },
            );
        }
        Err(TargetError::NoHalt) => {
            d.problem(
                "halt",
                Error::new(
                    ErrorKind::NoTarget,
                    "the core did not halt: the firmware sleeps with the debug clocks off (WFI or a stop mode \
                     without DBGMCU's debug-in-low-power bits) or keeps the core where a debugger cannot stop it; \
                     run `stflash doctor --connect-under-reset` (the chip resets, and the debugger catches it \
                     before the firmware runs)",
                ),
            );
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    }
    if !opts.measure {
        return Ok(None);
    }
    // The sector to time, checked before anything is measured.
    let sector = match opts.measure_flash {
        Some(which) => Some(measure::pick_sector(&facts.layout, facts.chip.name, which)?),
        None => None,
    };
    measure::link(d, t, facts, opts.connect.speed_khz)?;
    measure::crc_units(d, t, flash.as_deref_mut(), facts.chip)?;
    drop(flash);
    let Some(sector) = sector else { return Ok(None) };
    if !opts.confirm_erase {
        return Err(Error::usage(format!(
            "--measure-flash erases {sector} and programs it, then writes its contents back (they wait in the \
             journal meanwhile) and resets the chip: add --confirm-erase to do it; nothing was changed"
        )));
    }
    if let Some(e) = d.stopped() {
        return Err(e);
    }
    Ok(Some(sector))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn v2(jtag: u8) -> Version {
        Version { hw: 2, jtag, swim: 7, bridge: 0, vid: 0x0483, pid: 0x3748 }
    }

    #[test]
    fn firmware_before_j26_lacks_what_stflash_uses() {
        let e = firmware_check(&v2(25), ProbeKind::V2).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("16-bit memory access (J26)") && !e.message.contains("J22)"), "{e}");
        assert!(e.message.contains("STSW-LINK007"), "{e}");
        let e = firmware_check(&v2(12), ProbeKind::V2).unwrap_err();
        assert!(e.message.contains("(J13)") && e.message.contains("(J15)") && e.message.contains("(J22)"), "{e}");
        assert!(firmware_check(&v2(26), ProbeKind::V2).is_ok());
        let v3 = Version { hw: 3, jtag: 1, swim: 0, bridge: 1, vid: 0x0483, pid: 0x374e };
        assert!(firmware_check(&v3, ProbeKind::V3).is_ok());
    }

    #[test]
    fn voltage_bounds() {
        let kind = |mv| voltage_check(Some(mv), true).map_err(|e| e.kind);
        assert_eq!(kind(0), Err(ErrorKind::NoTarget));
        assert!(voltage_check(Some(999), true).unwrap_err().message.contains("not powered"));
        assert!(voltage_check(Some(1000), true).unwrap_err().message.contains("below the 1.62 V"));
        assert!(voltage_check(Some(1620), true).unwrap().contains("low"));
        assert_eq!(voltage_check(Some(3300), true).unwrap(), "3.30 V");
        assert!(voltage_check(Some(3600), true).is_ok());
        assert!(voltage_check(Some(3601), true).unwrap_err().message.contains("above the 3.60 V"));
        assert!(voltage_check(None, true).unwrap().starts_with("not measured"));
    }

    #[test]
    fn the_connect_errors_doctor_tells_apart_keep_their_wording() {
        let unknown: Error = TargetError::UnknownChip { dev_id: 0x240, idcode: 0x7005_0240 }.into();
        assert!(unknown.message.starts_with("unknown chip"), "{unknown}");
        let no_halt: Error = TargetError::NoHalt.into();
        assert_eq!(no_halt.message, TargetError::NoHalt.to_string());
    }

    #[test]
    fn the_link_model_is_timing_model_md() {
        let v2 = LinkModel::for_probe(ProbeKind::V2_1);
        // 6 KiB read at 4 MHz: 0.30 ms + 6144 B at 1 MB/s + 1536 words × 48 clocks.
        assert_eq!(v2.command(6144, 1536 * 48, 4000), Duration::from_micros(300 + 6144 + 18432));
        let v3 = LinkModel::for_probe(ProbeKind::V3);
        assert_eq!(v3.command(30, 0, 1), Duration::from_micros(151));
    }
}
