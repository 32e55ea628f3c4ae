//! The simulator: a byte-level model of an ST-LINK with an STM32 behind it.
//!
//! It implements [`Transport`], so the protocol, target, flash and operations
//! layers run unchanged against it. It is written from primary sources (ST's
//! reference manuals, CMSIS device headers and HAL, Arm's architecture
//! reference manuals and, for the probe's undocumented protocol, the open
//! implementations in stlink and OpenOCD), not from the host code, so that
//! the two check each other; each module names its sources, and what none
//! settles is marked as assumed. It depends only on the `stflash-transport`
//! crate.
//!
//! # Selecting it
//!
//! | variable | syntax | meaning |
//! |---|---|---|
//! | `STFLASH_SIM` | `<chip>[@<faults>][:<state-file>][;…]` | simulate one probe per `;`-separated entry (each gets a distinct serial); the part after the first `:` is the state file; `@<faults>` (a `STFLASH_SIM_FAULTS` list, without `:`) adds faults to this probe only |
//! | `STFLASH_SIM_PROBE` | `v2` \| `v2-1` \| `v3` \| `v3pwr` | probe generation (default `v2-1`) |
//! | `STFLASH_SIM_FIRMWARE` | `<J number>` (`22` or `J22`) | JTAG firmware version, to simulate old probes |
//! | `STFLASH_SIM_OPTS` | `key=value,…` | configuration of a *fresh* chip (no state file yet), forwarded to the flash model's `configure` (e.g. `rdp=1`); `voltage=<mV>` (0 = unpowered), `nrst=disconnected` (clone probe without NRST wire), `dpidr=`/`cpuid=`/`idcode=<hex>` (what the part answers instead of its own SW-DP IDCODE, CPUID or DBGMCU_IDCODE: a clone, a non-ST part) and `usb=busy\|permission` (the probe cannot be opened when it is enumerated: another program holds it, or the system refuses access) are handled by the simulator itself and apply on every run |
//! | `STFLASH_SIM_FAULTS` | `fault,…` | fault injection on every run and every probe, see [`faults`] |
//!
//! (`--sim <chip>[:<state file>]` on the command line does the same as
//! `STFLASH_SIM`.) With a state file, flash and option bytes persist between
//! runs, so `stflash write` then `stflash read` see one chip (SRAM too: the
//! simulated chip stays powered between runs).
//! Unknown chips, probe kinds, options and faults are errors that list what
//! is valid; [`chip_names`] lists the simulated parts.
//!
//! # Assumptions are knobs
//!
//! What the primary sources leave open is modeled one way and marked as
//! assumed; every such fact the host's write path depends on can be changed
//! through `STFLASH_SIM_FAULTS` (every run), so that tests run the host
//! against chips that differ from the model:
//!
//! - the H7 flash CRC unit (measured on an H753 by ST community users; see
//!   [`family::h7`]): `flash_crc_init=<hex>`, `flash_crc_order=<order>`,
//!   `flash_crc_out=reflected`, `flash_crc=chain|absent|garbage`;
//! - the H7 write queue and bank-swap reload: `write_queue=stall|none|deep|error`,
//!   `swap_reload=reset|immediate`;
//! - the CRC peripheral ([`crc_peripheral::CrcPeripheralFaults`]): presence,
//!   results, CR.RESET, input order, initial value, polynomial, settings left by
//!   an application;
//! - flash operation times (`flash-time=F`, the models run on a clock slowed
//!   by F), the core clock (`core-clock=HZ`; code in SRAM takes one cycle of it
//!   per instruction, see `mcu/thumb.rs`), the RAM that answers
//!   (`sram-limit=BYTES`), AP WAIT now and then (`wait-every=N`), and the
//!   status codes the probe answers for WAIT and bus faults
//!   (`wait-status=ap|dp`, `fault-status=ap|sticky`); see [`faults`].
//!
//! # Structure
//!
//! From the USB cable inwards:
//!
//! - `probe.rs`: the ST-LINK firmware: command blocks, replies, status codes,
//!   limits.
//! - `mcu.rs`: the simulated microcontroller, [`mcu::Mcu`]: its bus (SRAM,
//!   system memory, DBGMCU, flash-size register, peripheral space, the flash
//!   model and the CRC peripheral), its Cortex-M CPU's registers and debug
//!   logic ([`mcu::Cpu`]), its supply and NRST pin; `mcu/thumb.rs`
//!   ([`mcu::Interpreter`]) runs Thumb code placed in SRAM.
//! - `model.rs`: what the flash models share: the [`model::FlashModel`]
//!   trait, the flash cells ([`model::FlashArray`]), bus accesses
//!   ([`model::Access`], [`model::AccessWidth`], [`model::Initiator`],
//!   [`model::BusFault`]), modeled time ([`model::Nanos`]), the key latch and
//!   option parsers.
//! - `family/`: one file per family, named as in the library (`f0f1f3`,
//!   `f2f4f7`, `l0l1`, `l4`, `l5u5`, `h5`, `h7`, `h7rs`): its flash-controller model
//!   and the parts that use it (`PARTS`). `family/mod.rs` holds the registry,
//!   [`family::FAMILIES`], one line per family.
//! - `parts.rs`: a simulated part, [`parts::Part`] (identity, memories, flash
//!   model), and lookup by name or alias.
//! - `access_port.rs`: which access port reaches the core, per part (AP1 on
//!   H5, WBA5 and H7R/S, whose AP0 reaches only the DBGMCU).
//! - `crc_peripheral.rs`: the CRC peripheral
//!   ([`crc_peripheral::CrcPeripheralModel`]) and its RCC clock enable,
//!   placed per part.
//! - `clock.rs`: the modeled timeline and run statistics.
//! - `faults.rs`: fault injection (`STFLASH_SIM_FAULTS`).
//! - `state.rs`: the state file.
//!
//! Adding a part of a known family is one [`parts::Part`] in its family's
//! `PARTS`. Adding a family is one file in `family/` (a [`model::FlashModel`]
//! and its `PARTS`) plus one line in [`family::FAMILIES`] (next to the file's
//! `mod` line).
//!
//! The simulator's names are its own, so that they are never confused with
//! the library's: the simulated chip is an `Mcu` (the library's `Target` is
//! the host's handle on a real one), its processor a `Cpu`, the width of a
//! simulated bus access an `AccessWidth`, the CRC peripheral a
//! `CrcPeripheralModel`, and a simulated part a `Part`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use stflash_transport::{ProbeInfo, ProbeKind, Transport, TransportError, ST_VID};

pub mod access_port;
pub mod clock;
pub mod crc_peripheral;
pub mod facts;
pub mod family;
pub mod faults;
pub mod mcu;
pub mod model;
pub mod parts;
pub mod probe;
pub mod rcc;
pub mod state;
pub mod uid;

#[cfg(test)]
mod tests;

pub use clock::RunStats;
pub use faults::{FaultPlan, WaitFault};
pub use state::SavedState;

use clock::Clock;
use faults::{TransferFate, WaitBudget};
use mcu::Mcu;
use probe::{Firmware, Probe};

/// Simulated probe generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimProbeKind {
    /// ST-LINK/V2, PID 0x3748.
    V2,
    /// ST-LINK/V2-1, PID 0x374b.
    #[default]
    V2_1,
    /// STLINK-V3E, PID 0x374e.
    V3,
    /// STLINK-V3PWR, PID 0x3757.
    V3Pwr,
}

impl SimProbeKind {
    /// USB product id (OpenOCD src/jtag/drivers/stlink_usb.c:78-88; stlink
    /// src/stlink-lib/usb.h:16-46).
    pub fn pid(self) -> u16 {
        match self {
            SimProbeKind::V2 => 0x3748,
            SimProbeKind::V2_1 => 0x374b,
            SimProbeKind::V3 => 0x374e,
            SimProbeKind::V3Pwr => 0x3757,
        }
    }

    pub fn probe_kind(self) -> ProbeKind {
        match self {
            SimProbeKind::V2 => ProbeKind::V2,
            SimProbeKind::V2_1 => ProbeKind::V2_1,
            SimProbeKind::V3 => ProbeKind::V3,
            SimProbeKind::V3Pwr => ProbeKind::V3Pwr,
        }
    }

    pub fn is_v3(self) -> bool {
        matches!(self, SimProbeKind::V3 | SimProbeKind::V3Pwr)
    }

    /// `v2`, `v2-1`, `v3`, `v3pwr` (case-insensitive).
    pub fn parse(s: &str) -> Result<SimProbeKind, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "v2" => Ok(SimProbeKind::V2),
            "v2-1" | "v2.1" | "v2_1" | "v21" => Ok(SimProbeKind::V2_1),
            "v3" => Ok(SimProbeKind::V3),
            "v3pwr" | "v3-pwr" => Ok(SimProbeKind::V3Pwr),
            _ => Err(format!("unknown simulated probe '{s}'; valid: v2, v2-1, v3, v3pwr")),
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSpec {
    /// Simulated part name (see [`chip_names`]).
    pub chip: String,
    pub state_file: Option<PathBuf>,
    pub probe: SimProbeKind,
    /// JTAG firmware version override ("J" number).
    pub firmware: Option<u8>,
    /// Fresh-chip configuration (see the module documentation).
    pub options: Vec<(String, String)>,
    pub faults: FaultPlan,
    /// Override of the 24-hex-character serial.
    pub serial: Option<String>,
}

impl SimSpec {
    pub fn new(chip: &str) -> SimSpec {
        SimSpec {
            chip: chip.to_string(),
            state_file: None,
            probe: SimProbeKind::default(),
            firmware: None,
            options: Vec::new(),
            faults: FaultPlan::default(),
            serial: None,
        }
    }

    /// `chip`, `chip:state-file` (split at the first `:`), and either with
    /// the probe's own faults after the chip: `chip@fault,fault:state-file`
    /// (see [`faults`]; a chip name has no `@`, a fault list no `:`).
    pub fn parse(spec: &str) -> Result<SimSpec, String> {
        Self::parse_onto(spec, &FaultPlan::default())
    }

    /// [`SimSpec::parse`], the probe's own faults added to `faults` (those
    /// every probe has).
    fn parse_onto(spec: &str, faults: &FaultPlan) -> Result<SimSpec, String> {
        let (head, file) = match spec.split_once(':') {
            Some((c, f)) => (c, Some(f)),
            None => (spec, None),
        };
        let (chip, own) = match head.split_once('@') {
            Some((c, f)) => (c.trim(), Some(f)),
            None => (head.trim(), None),
        };
        let part = parts::lookup(chip)?;
        let mut s = SimSpec::new(part.name);
        s.faults = faults.clone();
        if let Some(own) = own {
            s.faults.add(own).map_err(|e| format!("simulator spec '{spec}': {e}"))?;
        }
        match file {
            Some("") => return Err(format!("simulator spec '{spec}': empty state-file name after ':'")),
            Some(f) => s.state_file = Some(PathBuf::from(f)),
            None => {}
        }
        Ok(s)
    }

    /// Why the probe cannot be opened when it is enumerated, as the
    /// simulator option `usb=busy` (another program holds its interface) or
    /// `usb=permission` (the system refuses access: no udev rule, no WinUSB
    /// driver) says; `None` for a probe that opens.
    pub fn usb_problem(&self) -> Option<TransportError> {
        let location = "sim".to_string();
        match self.options.iter().rev().find(|(k, _)| k == "usb").map(|(_, v)| v.as_str()) {
            Some("busy") => Some(TransportError::Busy { location }),
            Some("permission") => Some(TransportError::Permission { location }),
            _ => None,
        }
    }

    /// The probes described by `STFLASH_SIM` and friends (empty when
    /// `STFLASH_SIM` is unset or empty).
    pub fn list_from_env() -> Result<Vec<SimSpec>, String> {
        Self::list_from_vars(|name| std::env::var(name).ok())
    }

    /// [`SimSpec::list_from_env`] with the variables looked up by `var`.
    pub fn list_from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Vec<SimSpec>, String> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let Some(sims) = set("STFLASH_SIM") else {
            return Ok(Vec::new());
        };
        let probe = match set("STFLASH_SIM_PROBE") {
            Some(p) => SimProbeKind::parse(&p).map_err(|e| format!("STFLASH_SIM_PROBE: {e}"))?,
            None => SimProbeKind::default(),
        };
        let firmware = match set("STFLASH_SIM_FIRMWARE") {
            Some(f) => Some(parse_firmware(&f).map_err(|e| format!("STFLASH_SIM_FIRMWARE: {e}"))?),
            None => None,
        };
        let options = match set("STFLASH_SIM_OPTS") {
            Some(o) => parse_options(&o).map_err(|e| format!("STFLASH_SIM_OPTS: {e}"))?,
            None => Vec::new(),
        };
        let faults = match set("STFLASH_SIM_FAULTS") {
            Some(f) => FaultPlan::parse(&f).map_err(|e| format!("STFLASH_SIM_FAULTS: {e}"))?,
            None => FaultPlan::default(),
        };
        let mut specs = Vec::new();
        for (i, item) in sims.split(';').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
            let mut spec = SimSpec::parse_onto(item, &faults).map_err(|e| format!("STFLASH_SIM: {e}"))?;
            spec.probe = probe;
            spec.firmware = firmware;
            spec.options = options.clone();
            if i > 0 {
                spec.serial = Some(default_serial(probe, i));
            }
            specs.push(spec);
        }
        Ok(specs)
    }
}

/// A JTAG firmware version: `22` or `J22`.
pub fn parse_firmware(s: &str) -> Result<u8, String> {
    let t = s.trim();
    let digits = t.strip_prefix(['J', 'j']).unwrap_or(t);
    match digits.parse::<u8>() {
        Ok(j) if (1..=63).contains(&j) => Ok(j),
        _ => Err(format!("'{s}' is not a JTAG firmware version (a number 1-63, e.g. 22 or J22)")),
    }
}

/// `key=value,key=value`.
pub fn parse_options(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
            _ => Err(format!("'{item}' is not key=value")),
        })
        .collect()
}

/// Deterministic 24-hex-character serial: "SIM" in hex, the PID's low byte,
/// and the probe's index + 1.
pub fn default_serial(kind: SimProbeKind, index: usize) -> String {
    format!("53494D{:02X}{:016X}", kind.pid() & 0xFF, index as u64 + 1)
}

/// Canonical names of the simulated parts.
pub fn chip_names() -> Vec<&'static str> {
    parts::names()
}

/// Read a state file for inspection.
pub fn load_state(path: &Path) -> Result<SavedState, String> {
    state::load(path)
}

/// Settings the simulator itself handles in `options`.
const SIM_OPTIONS: &str = "voltage=<mV>, nrst=disconnected|connected, uid=<24 hex digits>, dpidr=<hex>, cpuid=<hex>, \
                           idcode=<hex>, usb=busy|permission";

/// A 32-bit value of an identity option (`dpidr=0x2BA01477`).
fn hex_option(key: &str, value: &str) -> Result<u32, String> {
    let digits = value.trim().trim_start_matches("0x").trim_start_matches("0X");
    u32::from_str_radix(digits, 16)
        .map_err(|_| format!("simulator option {key}={value}: expected a 32-bit hex value, e.g. {key}=0x2BA01477"))
}

/// The whole simulated world of one probe.
struct Sim {
    probe: Probe,
    mcu: Mcu,
    clock: Clock,
    faults: FaultPlan,
    transfers: u64,
    commands: u64,
    bytes_out: u64,
    bytes_in: u64,
    state_file: Option<PathBuf>,
    /// Signals already delivered (`interrupt-after`, `terminate-after`,
    /// then each `interrupt-again-after`), by position.
    signalled: Vec<usize>,
}

impl Sim {
    fn write(&mut self, data: &[u8]) -> Result<usize, TransportError> {
        self.transfers += 1;
        self.deliver_signals();
        match self.faults.transfer(self.transfers, self.bytes_out) {
            TransferFate::Disconnected => return Err(TransportError::Disconnected),
            TransferFate::Stall => return Err(TransportError::Stall),
            TransferFate::Unanswered => {
                // The hung probe still takes the packet but never acts on it.
                self.bytes_out += data.len() as u64;
                return Ok(data.len());
            }
            TransferFate::Normal => {}
        }
        let command = self.probe.receive(data, &mut self.mcu, &mut self.clock).map_err(TransportError::Usb)?;
        if command {
            self.commands += 1;
        }
        self.bytes_out += data.len() as u64;
        Ok(data.len())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        self.transfers += 1;
        match self.faults.transfer(self.transfers, self.bytes_out) {
            TransferFate::Disconnected => return Err(TransportError::Disconnected),
            TransferFate::Stall => return Err(TransportError::Stall),
            TransferFate::Unanswered => return self.time_out(timeout),
            TransferFate::Normal => {}
        }
        if self.probe.queued() == 0 {
            return self.time_out(timeout);
        }
        let n = self.probe.take_reply(buf);
        self.bytes_in += n as u64;
        Ok(n)
    }

    /// Injected Ctrl-C / SIGTERM: a real signal to this process, once, when
    /// the run passes the fault's point (what a user's key press does).
    fn deliver_signals(&mut self) {
        let once = [
            (self.faults.interrupt_after, signal_hook::consts::SIGINT),
            (self.faults.terminate_after, signal_hook::consts::SIGTERM),
        ];
        let again = self.faults.interrupt_again_after.iter().map(|&t| (Some(t), signal_hook::consts::SIGINT));
        for (i, (trigger, signal)) in once.into_iter().chain(again).enumerate() {
            if trigger.is_some_and(|t| t.passed(self.transfers, self.bytes_out)) && !self.signalled.contains(&i) {
                self.signalled.push(i);
                let _ = signal_hook::low_level::raise(signal);
            }
        }
        if self.faults.hang_after.is_some_and(|t| t.passed(self.transfers, self.bytes_out)) {
            // A wedged USB transfer: this thread never returns. The chip
            // keeps what its flash holds now, whatever ends the process.
            if let Err(e) = self.save() {
                eprintln!("warning: {e}");
            }
            // Bounded, so that a program that never ends itself fails a test
            // instead of hanging it.
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_secs(60) {
                std::thread::park_timeout(Duration::from_secs(1));
            }
            eprintln!("simulator: hang-after: nothing ended the process within 60 s");
            std::process::exit(99);
        }
    }

    /// The host waited `timeout` for nothing.
    fn time_out(&mut self, timeout: Duration) -> Result<usize, TransportError> {
        self.clock.sleep(timeout);
        Err(TransportError::Timeout { what: "read" })
    }

    fn sleep(&mut self, d: Duration) {
        self.clock.sleep(d);
        self.mcu.run_core_until(self.clock.now);
    }

    /// Statistics up to now (operations finished by now are counted).
    fn stats(&mut self) -> RunStats {
        self.mcu.advance_flash(self.clock.now);
        RunStats::new(self.clock.now, self.commands, self.bytes_out, self.bytes_in, &self.mcu.flash_stats)
    }

    /// Write the state file, after completing the flash operations that
    /// have finished by now.
    fn save(&mut self) -> Result<(), String> {
        let Some(path) = self.state_file.clone() else {
            return Ok(());
        };
        self.mcu.advance_flash(self.clock.now);
        let mut blobs = self.mcu.model().save();
        blobs.extend(self.mcu.sram_blobs());
        state::write_file(&path, self.mcu.part.name, &blobs)
    }
}

fn lock(sim: &Mutex<Sim>) -> MutexGuard<'_, Sim> {
    sim.lock().unwrap_or_else(|e| e.into_inner())
}

/// Open a simulated probe with its chip.
pub fn open(spec: &SimSpec) -> Result<(SimTransport, SimHandle), String> {
    open_part(parts::lookup(&spec.chip)?, spec)
}

/// [`open`] with the part given directly (`spec.chip` is not looked at).
pub(crate) fn open_part(part: &'static parts::Part, spec: &SimSpec) -> Result<(SimTransport, SimHandle), String> {
    let opts = ChipOptions::parse(part, spec)?;
    let (model, saved_sram) = flash_model(part, spec, &opts.model)?;
    let mcu = mcu_of(opts.part(part), model, &saved_sram, &opts, spec);
    let probe = probe_of(spec)?;
    let clock = Clock::new(probe.link());
    let info = ProbeInfo {
        vid: ST_VID,
        pid: spec.probe.pid(),
        kind: spec.probe.probe_kind(),
        serial: spec.serial.clone().unwrap_or_else(|| default_serial(spec.probe, 0)),
        location: "sim".to_string(),
    };
    let sim = Arc::new(Mutex::new(Sim {
        probe,
        mcu,
        clock,
        faults: spec.faults.clone(),
        transfers: 0,
        signalled: Vec::new(),
        commands: 0,
        bytes_out: 0,
        bytes_in: 0,
        state_file: spec.state_file.clone(),
    }));
    Ok((SimTransport { sim: Arc::clone(&sim), info }, SimHandle { sim }))
}

/// `STFLASH_SIM_OPTS` split into what the simulator handles itself and
/// what goes to the flash model.
struct ChipOptions<'a> {
    voltage_mv: u32,
    nrst_connected: bool,
    uid: Option<[u8; 12]>,
    /// What the part answers instead of its own identity (a clone, a non-ST
    /// part): SW-DP IDCODE, CPUID, DBGMCU_IDCODE.
    identity: (u32, u32, u32),
    /// For the flash model's `configure`, checked here.
    model: Vec<(&'a str, &'a str)>,
}

impl<'a> ChipOptions<'a> {
    fn parse(part: &'static parts::Part, spec: &'a SimSpec) -> Result<ChipOptions<'a>, String> {
        let mut o = ChipOptions {
            voltage_mv: part.voltage_mv,
            nrst_connected: true,
            uid: None,
            identity: (part.dpidr, part.cpuid, part.idcode),
            model: Vec::new(),
        };
        for (key, value) in &spec.options {
            match key.as_str() {
                "dpidr" => o.identity.0 = hex_option(key, value)?,
                "cpuid" => o.identity.1 = hex_option(key, value)?,
                "idcode" => o.identity.2 = hex_option(key, value)?,
                // Decided at enumeration ([`SimSpec::usb_problem`]); here only checked.
                "usb" => match value.as_str() {
                    "busy" | "permission" | "ok" => {}
                    _ => return Err(format!("simulator option usb={value}: expected usb=busy or usb=permission")),
                },
                "voltage" => {
                    o.voltage_mv = value.trim_end_matches("mV").trim().parse().map_err(|_| {
                        format!("simulator option voltage={value}: expected millivolts, e.g. voltage=3300")
                    })?
                }
                "uid" => o.uid = Some(uid::parse(value).map_err(|e| format!("simulator option {e}"))?),
                "nrst" => match value.as_str() {
                    "disconnected" => o.nrst_connected = false,
                    "connected" => o.nrst_connected = true,
                    _ => return Err(format!("simulator option nrst={value}: expected nrst=disconnected")),
                },
                _ => o.model.push((key.as_str(), value.as_str())),
            }
        }
        // Check fresh-chip settings even when a state file makes them moot, so a
        // typo is reported the same way every time.
        let mut scratch = (part.flash)();
        for (key, value) in &o.model {
            scratch.configure(key, value).map_err(|e| {
                format!("simulator option {key}={value}: {e} (the simulator itself accepts {SIM_OPTIONS})")
            })?;
        }
        Ok(o)
    }

    /// The part, or a copy answering another identity (one small record per
    /// simulator opened with such options).
    fn part(&self, part: &'static parts::Part) -> &'static parts::Part {
        let (dpidr, cpuid, idcode) = self.identity;
        if self.identity == (part.dpidr, part.cpuid, part.idcode) {
            part
        } else {
            Box::leak(Box::new(parts::Part { dpidr, cpuid, idcode, ..*part }))
        }
    }
}

/// SRAM contents kept in a state file: (blob name, bytes).
type SramBlobs = Vec<(String, Vec<u8>)>;

/// The flash model: from the state file when there is one (with the SRAM
/// blobs it also holds), else a fresh chip configured by the options; then
/// the model faults.
fn flash_model(
    part: &'static parts::Part,
    spec: &SimSpec,
    options: &[(&str, &str)],
) -> Result<(Box<dyn model::FlashModel>, SramBlobs), String> {
    let mut model = (part.flash)();
    let mut saved_sram = Vec::new();
    let saved = match &spec.state_file {
        Some(path) => state::read_file(path)?,
        None => None,
    };
    match saved {
        Some((chip, blobs)) => {
            let path = spec.state_file.as_deref().expect("read from it");
            if chip != part.name {
                return Err(state::wrong_chip(path, &chip, part.name));
            }
            let (sram, flash): (Vec<_>, Vec<_>) =
                blobs.into_iter().partition(|(name, _)| name.starts_with(mcu::SRAM_BLOB));
            model.load(&flash).map_err(|e| format!("simulator state file {}: {e}", path.display()))?;
            saved_sram = sram;
        }
        None => {
            for (key, value) in options {
                model.configure(key, value).map_err(|e| format!("simulator option {key}={value}: {e}"))?;
            }
        }
    }
    for (key, value) in &spec.faults.model {
        model.configure(key, value).map_err(|e| format!("simulator fault {key}={value}: {e}"))?;
    }
    Ok((model, saved_sram))
}

/// The chip around its flash model, with the options and faults that
/// concern the core, its supply and its peripherals.
fn mcu_of(
    part: &'static parts::Part,
    model: Box<dyn model::FlashModel>,
    saved_sram: &SramBlobs,
    opts: &ChipOptions,
    spec: &SimSpec,
) -> Mcu {
    let mut mcu = Mcu::new(part, model);
    if let Some(max) = spec.faults.sram_limit {
        mcu.limit_sram(max);
    }
    mcu.load_sram(saved_sram);
    mcu.voltage_mv = opts.voltage_mv;
    mcu.nrst_connected = opts.nrst_connected;
    if let Some((_, id)) = &mut mcu.uid {
        *id = opts.uid.unwrap_or_else(|| uid::derive(spec.state_file.as_deref()));
    }
    mcu.no_power = spec.faults.no_power;
    mcu.present = !spec.faults.no_target;
    mcu.no_halt = spec.faults.no_halt;
    mcu.set_firmware_disables_swd(spec.faults.firmware_disables_swd);
    mcu.interpreter.crash_after = spec.faults.core_crash_after;
    if let Some(f) = spec.faults.flash_time_permille {
        mcu.flash_time_permille = f;
    }
    if let Some(hz) = spec.faults.core_clock_hz {
        mcu.set_base_clock(hz);
    }
    if let Some(rcc) = &mut mcu.rcc {
        rcc.hsi16_absent = spec.faults.hsi16_absent;
    }
    let core_hz = mcu.interpreter.hz;
    if let Some(crc) = &mut mcu.crc {
        crc.faults = spec.faults.crc_peripheral.clone();
        crc.hclk_hz = core_hz;
        crc.power_on();
    }
    mcu
}

/// The probe: its generation, firmware and faults.
fn probe_of(spec: &SimSpec) -> Result<Probe, String> {
    let mut fw = Firmware::default_for(spec.probe);
    if let Some(j) = spec.firmware {
        if j == 0 || j > 63 {
            return Err(format!("simulated firmware J{j}: the JTAG version is a number 1-63"));
        }
        fw.jtag = j;
    }
    let mut probe = Probe::new(spec.probe, fw, WaitBudget::new(&spec.faults));
    probe.max_swd_khz = spec.faults.max_swd_khz;
    if let Some(st) = spec.faults.wait_status {
        probe.wait_status = st;
    }
    if let Some(st) = spec.faults.fault_status {
        probe.fault_status = st;
    }
    probe.bitflip_swd_khz = spec.faults.bitflip_swd_khz;
    Ok(probe)
}

/// The simulator as a [`Transport`]. Saves the state file when dropped.
pub struct SimTransport {
    sim: Arc<Mutex<Sim>>,
    info: ProbeInfo,
}

impl Transport for SimTransport {
    fn write(&mut self, data: &[u8], _timeout: Duration) -> Result<usize, TransportError> {
        lock(&self.sim).write(data)
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        lock(&self.sim).read(buf, timeout)
    }

    fn info(&self) -> &ProbeInfo {
        &self.info
    }

    fn sleep(&mut self, d: Duration) {
        lock(&self.sim).sleep(d);
    }

    fn elapsed(&self) -> Duration {
        lock(&self.sim).clock.elapsed()
    }

    fn sim_summary(&self) -> Option<String> {
        Some(lock(&self.sim).stats().summary())
    }
}

impl Drop for SimTransport {
    fn drop(&mut self) {
        if let Err(e) = lock(&self.sim).save() {
            eprintln!("warning: {e}");
        }
    }
}

/// A second handle on the simulator, for tests and the benchmark.
#[derive(Clone)]
pub struct SimHandle {
    sim: Arc<Mutex<Sim>>,
}

impl SimHandle {
    pub fn stats(&self) -> RunStats {
        lock(&self.sim).stats()
    }

    /// Faults `core-crash-after` has injected so far.
    pub fn injected_crashes(&self) -> u64 {
        lock(&self.sim).mcu.interpreter.injected_crashes
    }

    /// Raw read of modeled memory (flash through the model, SRAM, system
    /// memory); no side effects, no protection.
    pub fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        lock(&self.sim).mcu.peek(addr, len)
    }

    /// Raw write of modeled memory (test back door).
    pub fn poke(&self, addr: u32, data: &[u8]) -> bool {
        lock(&self.sim).mcu.poke(addr, data)
    }

    /// Every bus write to a flash-controller register, in order, from both initiators.
    pub fn register_writes(&self) -> Vec<(u32, u32)> {
        lock(&self.sim).mcu.register_log().to_vec()
    }

    pub fn clear_register_log(&self) {
        lock(&self.sim).mcu.clear_register_log();
    }

    /// Write the state file now (no-op without one).
    pub fn save(&self) -> Result<(), String> {
        lock(&self.sim).save()
    }

    pub fn core_halted(&self) -> bool {
        lock(&self.sim).mcu.cpu.halted
    }

    /// Times code on the simulated core waited on the flash model without
    /// knowing when the model's next operation ends (see `FlashModel::next_event`).
    pub fn blind_polls(&self) -> u64 {
        lock(&self.sim).mcu.interpreter.blind_polls
    }

    /// The probe is in a debug session (ENTER sent, EXIT not yet): a host that
    /// finished cleanly leaves it false.
    pub fn probe_in_debug(&self) -> bool {
        lock(&self.sim).probe.mode() == probe::MODE_DEBUG
    }

    /// 0-15 = R0-R15, 16 = xPSR (also 17 MSP, 18 PSP, 20 packed special registers).
    pub fn core_register(&self, index: u8) -> u32 {
        lock(&self.sim).mcu.core_reg(index).unwrap_or(0)
    }

    /// Direct access to the flash model (the simulator is locked meanwhile:
    /// do not call other `SimHandle` methods from `f`).
    pub fn with_flash_model<R>(&self, f: impl FnOnce(&mut dyn model::FlashModel) -> R) -> R {
        let mut sim = lock(&self.sim);
        let r = f(sim.mcu.model_mut());
        sim.mcu.refresh_regions();
        r
    }
}
