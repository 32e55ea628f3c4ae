//! `--log FILE`: one JSON line per board appended to FILE, so a station
//! keeps a record across runs: when, which probe, which chip (and its unique
//! ID), what was written (the file and its CRC-32, the serial number), and
//! the result. Each line is appended with one write while holding an
//! exclusive lock on the file and then fsync'd, so concurrent stations and
//! the boards of one run may share the file: lines never interleave, and a
//! line that was reported is on disk.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::filelock::Lock;
use super::json::{crc_hex, serial_value};
use super::report::Outcome;
use stflash::error::{Error, Result};

/// Check before any probe is opened that the log can be appended to.
pub fn check(path: &Path) -> Result<()> {
    open(path).map(|_| ()).map_err(|e| cannot(path, e))
}

fn open(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().append(true).create(true).open(path)
}

fn cannot(path: &Path, e: std::io::Error) -> Error {
    Error::input(format!("cannot append to the log {}: {e}", path.display()))
}

/// The log line of one board.
pub fn line(o: &Outcome, error: Option<&Error>, probe_serial: Option<&str>) -> Value {
    let input = o.input.as_ref();
    json!({
        "time": utc_now(),
        "command": o.command,
        "probe": o.probe.as_ref().map(|p| p.serial.as_str()).or(probe_serial),
        "chip": o.target.as_ref().map(|t| t.chip),
        "uid": o.target.as_ref().and_then(|t| t.uid.clone()),
        "file": input.and_then(|i| i.file.as_ref()).map(|f| f.display().to_string()),
        "file_crc32": input.and_then(|i| i.crc32).map(crc_hex),
        "data": input.map(|i| i.data.iter().map(|(a, n)| json!({ "address": a, "size": n })).collect::<Vec<_>>()),
        "serial_number": o.serial.as_ref().map(serial_value),
        "result": if error.is_some() { "error" } else { "ok" },
        "exit_code": error.map_or(0, Error::exit_code),
        "error_kind": error.map(|e| e.kind.name()),
        "error": error.map(|e| e.message.clone()),
        "time_s": o.time.map(|(d, _)| d.as_secs_f64()),
    })
}

/// Append `line` and make it durable.
pub fn append(path: &Path, line: &Value) -> Result<()> {
    let text = format!("{line}\n");
    let write = || -> std::io::Result<()> {
        let _lock = Lock::exclusive(&lock_path(path))?;
        let mut f = open(path)?;
        f.write_all(text.as_bytes())?;
        f.sync_data()
    };
    write().map_err(|e| cannot(path, e))
}

/// The log's lock: a file beside it (the log itself may be rotated away).
fn lock_path(path: &Path) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    p.into()
}

/// Append the line of a single-probe run; a failure is reported on stderr
/// and returned.
pub fn record(path: &Path, o: &Outcome, error: Option<&Error>) -> Result<()> {
    append(path, &line(o, error, None)).inspect_err(|e| super::output::eprintln(format_args!("error: {e}")))
}

/// Now in UTC, RFC 3339 to the millisecond: `2026-12-06T22:56:48.123Z`.
pub fn utc_now() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    utc(now.as_secs() as i64, now.subsec_millis())
}

fn utc(secs: i64, millis: u32) -> String {
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(utc(1_798_759_399, 999), "2026-12-31T23:23:19.999Z");
    }
}
