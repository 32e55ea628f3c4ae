//! What is connected, without changing anything on the target: the one
//! read-only connection path of `stflash info` and `stflash doctor`.
//!
//! "Without changing anything": the connection does not reset the target
//! (unless [`ConnectMode::UnderReset`] is asked for), does not halt the
//! core, does not freeze the watchdogs, and every access to the target is a
//! read (identification, the flash driver's `layout()` and `rdp_level()`,
//! the unique ID).

use log::warn;

use crate::chip::{Chip, Core};
use crate::error::Error;
use crate::flash::{FlashController, FlashLayout, RdpLevel};
use crate::mcu::{ConnectMode, ConnectOptions, Target, TargetError};
use crate::stlink::{StLink, Version};
use crate::transport::{ProbeInfo, Transport};

/// What was learned about one probe.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    pub info: ProbeInfo,
    /// The probe is the simulator (the caller knows; [`inspect`] asks the
    /// transport).
    pub simulated: bool,
    /// Why the probe could not be opened or talked to (then nothing else is known).
    pub problem: Option<Error>,
    pub firmware: Option<Version>,
    pub voltage_mv: Option<u32>,
    pub target: Option<TargetFacts>,
    /// Why the target could not be identified.
    pub target_error: Option<Error>,
}

impl ProbeReport {
    /// A probe that could not be opened.
    pub fn unopened(info: ProbeInfo, simulated: bool, problem: Error) -> ProbeReport {
        ProbeReport {
            info,
            simulated,
            problem: Some(problem),
            firmware: None,
            voltage_mv: None,
            target: None,
            target_error: None,
        }
    }
}

/// What was learned about the target behind a probe.
#[derive(Debug, Clone)]
pub struct TargetFacts {
    pub chip: &'static Chip,
    pub core: Core,
    pub dpidr: u32,
    pub cpuid: u32,
    /// DBGMCU_IDCODE (DEV_ID in bits 11:0, REV_ID in 31:16).
    pub idcode: u32,
    /// The layout in force; the chip table's single-bank layout when the
    /// driver could not read it (`layout_error` says why).
    pub layout: FlashLayout,
    pub layout_error: Option<Error>,
    /// The flash driver's name, or why there is none.
    pub driver: std::result::Result<&'static str, String>,
    /// The read-out protection level, or why it is unknown.
    pub rdp: std::result::Result<RdpLevel, String>,
    /// The 96-bit unique ID, bytes in address order; `None` when the chip
    /// does not answer its address.
    pub uid: Option<[u8; 12]>,
}

impl TargetFacts {
    pub fn dev_id(&self) -> u16 {
        (self.idcode & 0xFFF) as u16
    }
    pub fn rev_id(&self) -> u16 {
        (self.idcode >> 16) as u16
    }
}

/// A target connected read-only, its flash driver, and what was read.
pub struct Inspected {
    pub target: Target,
    /// The flash driver; `None` for chips whose family has none yet.
    pub flash: Option<Box<dyn FlashController>>,
    pub facts: TargetFacts,
}

/// `opts` for a read-only connect: the core is not halted.
pub fn read_only(opts: &ConnectOptions) -> ConnectOptions {
    ConnectOptions { halt: false, ..opts.clone() }
}

/// Connect through `link` without halting the core (`opts.halt` is forced
/// false), identify the chip and read what `info` reports: the flash layout
/// in force, the RDP level, the unique ID. Only reads.
pub fn connect(link: StLink, opts: &ConnectOptions) -> Result<Inspected, Error> {
    let mut target = Target::connect(link, &read_only(opts))?;
    let chip = target.chip;
    let mut layout = FlashLayout::single(&chip.flash, target.flash_size);
    let mut layout_error = None;
    let (flash, driver, rdp) = match crate::family::driver_for(chip, target.voltage_mv) {
        Err(e) => {
            (None, Err(e.message.clone()), Err("unknown (read by the flash driver, which this chip lacks)".to_string()))
        }
        Ok(mut ctrl) => {
            match ctrl.layout(&mut target) {
                Ok(l) => layout = l,
                Err(e) => {
                    warn!("cannot read the flash layout: {e}");
                    layout_error = Some(Error::from(e));
                }
            }
            let rdp = ctrl.rdp_level(&mut target).map_err(|e| format!("unknown: {e}"));
            let name = ctrl.name();
            (Some(ctrl), Ok(name), rdp)
        }
    };
    let uid = target.unique_id().unwrap_or_else(|e| {
        warn!("cannot read the unique ID: {e}");
        None
    });
    let facts = TargetFacts {
        chip,
        core: target.core,
        dpidr: target.dpidr,
        cpuid: target.cpuid,
        idcode: target.idcode,
        layout,
        layout_error,
        driver,
        rdp,
        uid,
    };
    Ok(Inspected { target, flash, facts })
}

/// Look at the probe behind `transport` and the target behind it, reading
/// only, and leave: after a connect under reset the core, waiting at its
/// reset vector, runs; otherwise it was never stopped and nothing is written.
pub fn inspect(transport: Box<dyn Transport>, opts: &ConnectOptions) -> ProbeReport {
    let info = transport.info().clone();
    let simulated = transport.sim_summary().is_some();
    let mut link = match StLink::open(transport) {
        Ok(link) => link,
        Err(e) => return ProbeReport::unopened(info, simulated, TargetError::from(e).into()),
    };
    let firmware = Some(link.version);
    let voltage_mv = link.target_voltage_mv().ok().flatten();
    let mut report =
        ProbeReport { info, simulated, problem: None, firmware, voltage_mv, target: None, target_error: None };
    let Inspected { mut target, facts, .. } = match connect(link, opts) {
        Ok(found) => found,
        Err(e) => {
            report.target_error = Some(e);
            return report;
        }
    };
    report.voltage_mv = target.voltage_mv.or(report.voltage_mv);
    report.target = Some(facts);
    if let Err(e) = target.detach(opts.mode == ConnectMode::UnderReset) {
        warn!("leaving debug mode: {e}");
    }
    report
}
