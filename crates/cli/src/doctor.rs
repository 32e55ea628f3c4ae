//! `stflash doctor`: the library's diagnosis (`stflash::ops::doctor`) on
//! the probe a command would use, one line per check and per measurement as
//! they are done, the first problem's `error:` line and exit code; or, with
//! `--json`, one document (the README asks for it in bug reports).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::args::DoctorRequest;
use super::output::{self, Console};
use super::{json, probes, GivenProbe};
use stflash::error::{Error, ErrorKind};
use stflash::mcu::ConnectOptions;
use stflash::ops::doctor::{self, Check, DoctorOptions, Measurement, Observer};

/// Prints each check and measurement as the diagnosis reaches it.
struct Lines<'c> {
    console: &'c Console,
    stop: Arc<AtomicBool>,
    measured_any: bool,
}

impl Observer for Lines<'_> {
    fn check(&mut self, c: &Check) {
        self.console.line(check_line(c));
    }

    fn measurement(&mut self, m: &Measurement) {
        if !self.measured_any {
            self.measured_any = true;
            self.console.line(format!("\n{:<22} {:<16} model", "measurement", "measured"));
        }
        self.console.line(measurement_line(m));
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// `swd       ok       answers at 4000 kHz …`.
pub fn check_line(c: &Check) -> String {
    format!("{:<9} {:<8} {}", c.name, c.result(), c.detail)
}

fn with_unit(v: &Option<doctor::Value>, unit: &str) -> String {
    match v {
        Some(v) if unit.is_empty() => v.to_string(),
        Some(v) => format!("{v} {unit}"),
        None => "-".to_string(),
    }
}

/// `swd_read_4000khz       175.3 KiB/s      175.3 KiB/s`, and why a value
/// is missing.
pub fn measurement_line(m: &Measurement) -> String {
    let mut line = format!("{:<22} {:<16} {:<16}", m.name, with_unit(&m.value, m.unit), with_unit(&m.model, m.unit));
    if m.value.is_none() {
        if let Some(why) = &m.detail {
            line.push_str(&format!(" {why}"));
        }
    }
    line.trim_end().to_string()
}

/// Run `doctor`; returns the exit code.
pub fn run(req: &DoctorRequest, console: &Console, probe: Option<GivenProbe>) -> u8 {
    output::init_logging(req.common.debug, req.common.quiet);
    console.set_mode(req.common.quiet, req.common.json);
    let stop = output::install_stop_handler();
    let (transport, simulated) = match probe {
        Some((t, sim)) => (Ok(t), sim.is_some()),
        None => match probes::open_one(&req.common.sim, req.common.serial.as_deref()) {
            Ok((t, sim)) => (Ok(t), sim.is_some()),
            // A simulator spec that does not parse is the command line's fault.
            Err(e) if e.kind == ErrorKind::Usage => {
                output::eprintln(format_args!("error: {e}"));
                if req.common.json {
                    console.println(json::usage_error(Some("doctor"), std::slice::from_ref(&e.message)));
                }
                return e.exit_code();
            }
            Err(e) => (Err(e), !probes::sim_specs(&req.common.sim).unwrap_or_default().is_empty()),
        },
    };
    let opts = DoctorOptions {
        connect: ConnectOptions {
            mode: req.common.connect_mode(),
            speed_khz: req.common.freq_khz,
            flash_size: None,
            halt: false,
        },
        measure: true,
        measure_flash: req.measure_flash,
        confirm_erase: req.confirm_erase,
        journal_dir: None,
    };
    let mut lines = Lines { console, stop, measured_any: false };
    let report = doctor::diagnose(transport, &opts, &mut lines);
    let error: Option<&Error> = report.error.as_ref();
    match error {
        Some(e) => output::eprintln(format_args!("error: {e}")),
        None => console.line("\nno problem found"),
    }
    if req.common.json {
        console.println(json::doctor_document(&report, simulated));
    }
    error.map_or(0, Error::exit_code)
}
