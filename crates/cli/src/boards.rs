//! Production stations: one command on several boards at once
//! (`--all-probes`, `--serial A,B,…`).
//!
//! Each board runs the same code as a single-probe command
//! ([`super::run_prepared`]: connect, the command, the end state) on its own
//! thread with its own probe and transport, so a board that fails, hangs
//! up or panics never stops or changes the others. Ctrl-C and SIGTERM set
//! the one stop flag every board checks at its safe points. Which commands
//! run here is [`super::args::Command::runs_on_many_boards`]: a new command that runs in
//! [`super::execute`] joins by adding its line there.
//!
//! Output: one line per board on stdout as each finishes (probe serial,
//! chip, UID, result, time), `error:` lines on stderr for the failed ones,
//! then a summary line; with `--json` one document with a `boards` array;
//! with `--log` one line per board appended as each finishes. The exit code
//! is 0 when every board succeeded, else the first failing board's (in
//! board order).

use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::args::Invocation;
use super::output::{self, Console};
use super::report::{Outcome, TimeSource};
use super::{command_name, json, logfile, prepare_input, probes, run_prepared, GivenProbe, Prepared};
use stflash::error::{Error, ErrorKind, Result};
use stflash::transport::{serial_matches, TransportError};

/// Whether the command line asks for several boards.
pub fn is_station(inv: &Invocation) -> bool {
    inv.all_probes || !inv.serials.is_empty()
}

/// One board to run: its place in the order, its probe's serial, and the
/// opened probe or why there is none.
struct Board {
    index: usize,
    serial: String,
    probe: Result<GivenProbe>,
}

/// What a board's thread returns.
struct Finished {
    index: usize,
    serial: String,
    outcome: Outcome,
    result: Result<()>,
}

/// The boards of this run, in order: every probe found (`--all-probes`), or
/// those `--serial` lists, in its order (one not found is a failed board).
fn boards(inv: &Invocation) -> Result<Vec<Board>> {
    let wanted = |serial: &str| inv.serials.iter().any(|s| serial_matches(serial, s));
    let (found, seen) = probes::find(&inv.sim, |info| inv.all_probes || wanted(&info.serial))?;
    if inv.all_probes && found.is_empty() {
        return Err(TransportError::NotFound { serial: None, seen }.into());
    }
    let board = |index: usize, f: probes::Found| Board {
        index,
        serial: f.info.serial.clone(),
        probe: f.transport.map(|t| (t, f.sim)),
    };
    if inv.all_probes {
        return Ok(found.into_iter().enumerate().map(|(i, f)| board(i + 1, f)).collect());
    }
    let mut left: Vec<Option<probes::Found>> = found.into_iter().map(Some).collect();
    let mut out = Vec::new();
    for (i, serial) in inv.serials.iter().enumerate() {
        let at = left.iter().position(|f| f.as_ref().is_some_and(|f| serial_matches(&f.info.serial, serial)));
        match at.and_then(|at| left[at].take()) {
            Some(f) => out.push(board(i + 1, f)),
            None => out.push(Board {
                index: i + 1,
                serial: serial.clone(),
                probe: Err(TransportError::NotFound { serial: Some(serial.clone()), seen: seen.clone() }.into()),
            }),
        }
    }
    Ok(out)
}

/// Run the command on every board; returns the exit code.
pub fn run(inv: &Invocation, console: &Console) -> u8 {
    let stop = output::install_stop_handler();
    let started = Instant::now();
    let mut shared = Outcome::new(command_name(&inv.command));
    let setup = prepare_input(inv, &mut shared).and_then(|prepared| Ok((prepared, boards(inv)?)));
    let (prepared, boards) = match setup {
        Ok(s) => s,
        Err(e) => {
            output::eprintln(format_args!("error: {e}"));
            if inv.json {
                console.println(json::station_document(&shared, &[], Some(&e), None));
            }
            return e.exit_code();
        }
    };
    let total = boards.len();
    // The boards print nothing themselves (no progress, no st-flash lines);
    // their log lines name them.
    let board_inv = Invocation { quiet: true, ..inv.clone() };
    let mut done: Vec<Finished> = Vec::with_capacity(total);
    let mut log_failed = None;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for board in boards {
            let (tx, stop, prepared, shared) = (tx.clone(), Arc::clone(&stop), prepared.clone(), shared.clone());
            let board_inv = &board_inv;
            scope.spawn(move || {
                let finished = run_board(board_inv, board, prepared, shared, stop);
                let _ = tx.send(finished);
            });
        }
        drop(tx);
        for f in rx {
            if let Some(path) = &inv.log {
                let line = logfile::line(&f.outcome, f.result.as_ref().err(), Some(&f.serial));
                if let Err(e) = logfile::append(path, &line) {
                    output::eprintln(format_args!("error: {e}"));
                    log_failed.get_or_insert(e);
                }
            }
            if let Err(e) = &f.result {
                output::eprintln(format_args!("error: board {}/{total} ({}): {e}", f.index, f.serial));
            }
            if !inv.quiet {
                console.line(board_line(&f, total));
            }
            done.push(f);
        }
    });
    done.sort_by_key(|f| f.index);
    let failed: Vec<&Finished> = done.iter().filter(|f| f.result.is_err()).collect();
    let error = failed.first().map(|first| {
        let e = first.result.as_ref().expect_err("failed");
        Error::new(
            e.kind,
            format!(
                "{} of {total} boards failed; the first, board {} ({}): {e}",
                failed.len(),
                first.index,
                first.serial
            ),
        )
    });
    let time = station_time(&done, started.elapsed());
    if !inv.quiet {
        console.line(summary_line(&done, time));
    }
    if inv.json {
        let entries: Vec<(usize, &str, &Outcome, Option<&Error>)> =
            done.iter().map(|f| (f.index, f.serial.as_str(), &f.outcome, f.result.as_ref().err())).collect();
        console.println(json::station_document(&shared, &entries, error.as_ref(), Some(time)));
    }
    match (error, log_failed) {
        (Some(e), _) | (None, Some(e)) => e.exit_code(),
        (None, None) => 0,
    }
}

/// One board's thread: the command as a single-probe run would do it.
fn run_board(inv: &Invocation, board: Board, prepared: Prepared, shared: Outcome, stop: Arc<AtomicBool>) -> Finished {
    output::set_board(Some(board.serial.clone()));
    let mut outcome = shared;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let console = Console::new(Box::new(std::io::sink()));
        console.set_mode(true, true);
        match board.probe {
            Ok(given) => run_prepared(inv, prepared, &console, Some(given), stop, &mut outcome),
            Err(e) => Err(e),
        }
    }))
    .unwrap_or_else(|_| Err(Error::new(ErrorKind::Other, "internal error: this board's thread panicked")));
    Finished { index: board.index, serial: board.serial, outcome, result }
}

/// How long the station took: with simulated probes the slowest board's
/// modeled time (the boards run in parallel), else the wall clock.
fn station_time(done: &[Finished], wall: Duration) -> (Duration, TimeSource) {
    let times: Vec<(Duration, TimeSource)> = done.iter().filter_map(|f| f.outcome.time).collect();
    if !times.is_empty() && times.iter().all(|(_, s)| *s == TimeSource::Modeled) {
        return (times.iter().map(|(d, _)| *d).max().unwrap_or_default(), TimeSource::Modeled);
    }
    (wall, TimeSource::Measured)
}

/// `board 2/3  <probe serial>  <chip>  UID <uid>  ok  0.512 s  SN-001042`.
fn board_line(f: &Finished, total: usize) -> String {
    let target = f.outcome.target.as_ref();
    let chip = target.map_or("-", |t| t.chip);
    let uid = target.and_then(|t| t.uid.as_deref()).unwrap_or("-");
    let result = match &f.result {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("FAILED (exit {}, {})", e.exit_code(), e.kind.name()),
    };
    let time = f.outcome.time.map_or("-".to_string(), |(d, _)| format!("{:.3} s", d.as_secs_f64()));
    let mut line = format!("board {}/{total}  {}  {chip}  UID {uid}  {result}  {time}", f.index, f.serial);
    if let Some(s) = &f.outcome.serial {
        let text = s.text.clone().or_else(|| s.counter.map(|n| n.to_string()));
        line.push_str(&format!("  serial {}", text.unwrap_or_else(|| "(binary)".into())));
    }
    line
}

/// `3 boards: 2 ok, 1 failed in 0.512 s (modeled time)`.
fn summary_line(done: &[Finished], (time, source): (Duration, TimeSource)) -> String {
    let ok = done.iter().filter(|f| f.result.is_ok()).count();
    let note = if source == TimeSource::Modeled { " (modeled time)" } else { "" };
    format!(
        "{} board{}: {ok} ok, {} failed in {:.3} s{note}",
        done.len(),
        if done.len() == 1 { "" } else { "s" },
        done.len() - ok,
        time.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use crate::args::Command;

    #[test]
    fn reads_do_not_run_on_many_boards() {
        assert!(Command::Reset.runs_on_many_boards());
        assert!(Command::Erase { range: None }.runs_on_many_boards());
        assert!(!Command::ReadOtp { file: "f".into() }.runs_on_many_boards());
    }
}
