//! Which probes a command talks to: the simulated ones that `--sim` or
//! `STFLASH_SIM` names, else the ST-LINKs on USB. Every command finds its
//! probes here, so `info`, `write` and the rest choose them the same way.

use stflash::error::{Error, ErrorKind, Result};
use stflash::transport::usb::{self, UsbTransport};
use stflash::transport::{serial_matches, ProbeInfo, Transport, TransportError};
use stflash_sim::{SimHandle, SimSpec};

/// A probe found by enumeration, opened or with the reason it cannot be.
pub struct Found {
    pub info: ProbeInfo,
    pub transport: Result<Box<dyn Transport>>,
    /// The simulator behind the probe, when it is one.
    pub sim: Option<SimHandle>,
}

/// The simulated probes named by `--sim` (standing for `STFLASH_SIM`; the
/// other `STFLASH_SIM_*` variables still apply) or the environment.
pub fn sim_specs(sim: &Option<String>) -> Result<Vec<SimSpec>> {
    SimSpec::list_from_vars(|var| match (var, sim) {
        ("STFLASH_SIM", Some(spec)) => Some(spec.clone()),
        _ => std::env::var(var).ok(),
    })
    .map_err(Error::usage)
}

/// Every probe: the simulated ones when `--sim`/`STFLASH_SIM` names some,
/// else every ST-LINK on USB (in enumeration order), each opened.
pub fn find_all(sim: &Option<String>) -> Result<Vec<Found>> {
    Ok(find(sim, |_| true)?.0)
}

/// The probes `keep` accepts, each opened (the others are not touched: a
/// probe another station uses stays free), and the serials of all seen.
pub fn find(sim: &Option<String>, keep: impl Fn(&ProbeInfo) -> bool) -> Result<(Vec<Found>, Vec<String>)> {
    let specs = sim_specs(sim)?;
    let mut found = Vec::new();
    let mut seen = Vec::new();
    if !specs.is_empty() {
        for spec in &specs {
            let serial = spec.serial.clone().unwrap_or_else(|| stflash_sim::default_serial(spec.probe, 0));
            if let Some(problem) = spec.usb_problem() {
                // As on USB: a probe that cannot be opened has no readable serial.
                let info = ProbeInfo {
                    vid: stflash::transport::ST_VID,
                    pid: spec.probe.pid(),
                    kind: spec.probe.probe_kind(),
                    serial: String::new(),
                    location: "sim".into(),
                };
                if keep(&info) {
                    found.push(Found { info, transport: Err(problem.into()), sim: None });
                }
                continue;
            }
            seen.push(serial.clone());
            let info = ProbeInfo {
                vid: stflash::transport::ST_VID,
                pid: spec.probe.pid(),
                kind: spec.probe.probe_kind(),
                serial,
                location: "sim".into(),
            };
            if !keep(&info) {
                continue;
            }
            let (t, h) =
                stflash_sim::open(spec).map_err(|e| Error::new(ErrorKind::Usage, format!("simulator: {e}")))?;
            found.push(Found { info: t.info().clone(), transport: Ok(Box::new(t)), sim: Some(h) });
        }
        return Ok((found, seen));
    }
    for entry in usb::list() {
        if !entry.info.serial.is_empty() {
            seen.push(entry.info.serial.clone());
        }
        if !keep(&entry.info) {
            continue;
        }
        let transport = match entry.problem {
            Some(p) => Err(Error::from(p)),
            None => {
                UsbTransport::open_entry(&entry.info).map(|t| Box::new(t) as Box<dyn Transport>).map_err(Error::from)
            }
        };
        found.push(Found { info: entry.info, transport, sim: None });
    }
    Ok((found, seen))
}

/// Keep only the probe whose serial is `serial` (when given; a comma-separated
/// list keeps each of them); an error naming the serials seen when none matches.
pub fn select(mut found: Vec<Found>, serial: Option<&str>) -> Result<Vec<Found>> {
    let Some(serial) = serial else { return Ok(found) };
    let seen: Vec<String> = found.iter().map(|f| f.info.serial.clone()).filter(|s| !s.is_empty()).collect();
    found.retain(|f| serial.split(',').map(str::trim).any(|s| !s.is_empty() && serial_matches(&f.info.serial, s)));
    if found.is_empty() {
        return Err(TransportError::NotFound { serial: Some(serial.to_string()), seen }.into());
    }
    Ok(found)
}

/// The one probe of `found` a command uses: the `--serial` one, else the
/// last enumerated (as st-flash and st-info choose), with a warning when
/// there were several to choose from.
pub fn choose_one(found: Vec<Found>, serial: Option<&str>) -> Result<Found> {
    let found = select(found, serial)?;
    if serial.is_none() && found.len() > 1 {
        let last = &found[found.len() - 1].info;
        log::warn!(
            "{} ST-LINKs connected; using {} ({}); choose one with --serial",
            found.len(),
            last.serial,
            last.location
        );
    }
    found.into_iter().last().ok_or_else(|| TransportError::NotFound { serial: None, seen: Vec::new() }.into())
}

/// Open the one probe a command uses ([`choose_one`]). On USB only that
/// probe is opened.
pub fn open_one(sim: &Option<String>, serial: Option<&str>) -> Result<(Box<dyn Transport>, Option<SimHandle>)> {
    if sim_specs(sim)?.is_empty() {
        return Ok((Box::new(UsbTransport::open(serial)?), None));
    }
    let chosen = choose_one(find_all(sim)?, serial)?;
    Ok((chosen.transport?, chosen.sim))
}
