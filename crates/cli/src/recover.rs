//! `stflash recover [--confirm-erase]`: connect the way a chip that tools
//! can no longer program needs (a normal connect, then under reset when
//! nothing answers or the core will not halt: a firmware that took the debug
//! pins, or sleeps), plan its recovery (`stflash::ops::recover`), and print
//! the plan (exit 2) or run it.

use std::sync::atomic::Ordering;

use log::info;

use super::args::RecoverRequest;
use super::output::{self, Console};
use super::report::{Done, Outcome, RecoverSummary, Stopwatch};
use super::{probes, GivenProbe};
use stflash::error::{Error, ErrorKind, Result};
use stflash::mcu::{ConnectMode, ConnectOptions};
use stflash::ops::{recover, Session};

/// Run `recover`; returns the exit code.
pub fn run(req: &RecoverRequest, console: &Console, probe: Option<GivenProbe>) -> u8 {
    output::init_logging(req.common.debug, req.common.quiet);
    console.set_mode(req.common.quiet, req.common.json);
    console.line(format_args!("st-flash {} (stflash {})", stflash::ST_FLASH_COMPAT_VERSION, env!("CARGO_PKG_VERSION")));
    let mut outcome = Outcome::new("recover");
    let result = recover_chip(req, console, probe, &mut outcome);
    crate::report_outcome(&outcome, result.as_ref().err(), req.common.quiet, req.common.json, console);
    result.map_or_else(|e| e.exit_code(), |()| 0)
}

fn connect_options(req: &RecoverRequest, mode: ConnectMode) -> ConnectOptions {
    ConnectOptions { mode, speed_khz: req.common.freq_khz, flash_size: None, halt: true }
}

/// Open the session: as asked, or a normal connect and, when the target
/// does not answer or will not halt, under reset through a freshly opened
/// probe. Returns how it connected.
fn open(req: &RecoverRequest, probe: Option<GivenProbe>, clock: &mut Stopwatch) -> Result<(Session, ConnectMode)> {
    let given = probe.is_some();
    let (transport, sim) = match probe {
        Some(p) => p,
        None => probes::open_one(&req.common.sim, req.common.serial.as_deref())?,
    };
    clock.use_sim(sim);
    let first = req.common.connect_mode();
    let err = match Session::open_with(transport, &connect_options(req, first), true) {
        Ok(s) => return Ok((s, first)),
        Err(e) => e,
    };
    let unpowered = err.message.starts_with("the target is not powered");
    let rdp2 = "; a powered, wired chip that never answers may be at RDP level 2, which disables its debug port for \
                good: nothing can recover it";
    if err.kind != ErrorKind::NoTarget || first == ConnectMode::UnderReset || given || unpowered {
        return Err(if err.kind == ErrorKind::NoTarget && first == ConnectMode::UnderReset {
            Error::new(err.kind, format!("{}{rdp2}", err.message))
        } else {
            err
        });
    }
    info!("a normal connect failed ({}); connecting under reset", err.message);
    let (transport, sim) = probes::open_one(&req.common.sim, req.common.serial.as_deref())?;
    clock.use_sim(sim);
    match Session::open_with(transport, &connect_options(req, ConnectMode::UnderReset), true) {
        Ok(s) => Ok((s, ConnectMode::UnderReset)),
        Err(e) if e.kind == ErrorKind::NoTarget => Err(Error::new(
            e.kind,
            format!("{}; also under reset (before that, without: {}){rdp2}", e.message, err.message),
        )),
        Err(e) => Err(e),
    }
}

fn recover_chip(
    req: &RecoverRequest,
    console: &Console,
    probe: Option<GivenProbe>,
    outcome: &mut Outcome,
) -> Result<()> {
    let stop = output::install_stop_handler();
    let mut clock = Stopwatch::start();
    let (mut session, mode) = open(req, probe, &mut clock)?;
    outcome.connected(&mut session, clock.is_simulated(), false);
    let connect = if mode == ConnectMode::UnderReset { "under-reset" } else { "hot-plug" };
    let result = (|| {
        let plan = recover::plan(&mut session)?;
        let mut summary = RecoverSummary { connect, plan: plan.clone(), report: None };
        if !req.common.json {
            console.print(plan.text());
        }
        if !req.confirm_erase {
            outcome.done = Some(Done::Recover(Box::new(summary)));
            return Err(Error::usage(
                "nothing was changed: recover erases the whole flash; add --confirm-erase to do it (recover \
                 --confirm-erase)",
            ));
        }
        if stop.load(Ordering::Relaxed) {
            return Err(Error::new(ErrorKind::Interrupted, "interrupted before anything was changed"));
        }
        let report = recover::run(&mut session, &plan);
        if let Ok(r) = &report {
            summary.report = Some(r.clone());
        }
        outcome.done = Some(Done::Recover(Box::new(summary)));
        report.map(|_| ())
    })();
    let finished = match result {
        Ok(()) => session.finish(false),
        Err(e) if e.kind == ErrorKind::Usage => session.finish(false).and(Err(e)),
        Err(e) => {
            session.abandon();
            Err(e)
        }
    };
    outcome.time = Some(clock.read());
    finished
}
