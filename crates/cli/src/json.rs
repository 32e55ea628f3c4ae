//! `--json`: one JSON document on stdout per run (schema in
//! docs/readme-everyday.md, "Machine-readable output"). Every document has
//! `schema_version`, `tool`, `command`, `result`, `exit_code` and `error`;
//! the rest depends on the command. Addresses and sizes are plain integers.

use serde_json::{json, Map, Value};

use super::info::{ProbeReport, TargetFacts};
use super::report::{Done, Outcome, RecoverSummary};
use stflash::error::Error;
use stflash::flash::{FlashLayout, RdpLevel, Sector};
use stflash::ops::image::Format;
use stflash::ops::options::WordValue;

/// Bumped when a field changes meaning or disappears (adding fields does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

/// The fields every document starts with.
fn head(command: Option<&str>, error: Option<&Error>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("schema_version".into(), json!(SCHEMA_VERSION));
    m.insert("tool".into(), json!({ "name": "stflash", "version": env!("CARGO_PKG_VERSION") }));
    m.insert("command".into(), json!(command));
    m.insert("result".into(), json!(if error.is_some() { "error" } else { "ok" }));
    m.insert("exit_code".into(), json!(error.map_or(0, Error::exit_code)));
    m.insert("error".into(), error.map_or(Value::Null, error_value));
    m
}

fn error_value(e: &Error) -> Value {
    json!({ "kind": e.kind.name(), "message": e.message, "exit_code": e.exit_code() })
}

/// The name `--format` and the JSON use for a format.
pub fn format_name(f: Format) -> &'static str {
    match f {
        Format::Binary => "binary",
        Format::IntelHex => "ihex",
        Format::Srec => "srec",
        Format::Elf => "elf",
    }
}

fn sector(s: &Sector) -> Value {
    json!({ "bank": s.bank + 1, "index": s.index, "address": s.addr, "size": s.size })
}

fn sectors(list: &[Sector]) -> Value {
    Value::Array(list.iter().map(sector).collect())
}

/// The document for `write`, `erase`, `read` and `reset`.
pub fn document(o: &Outcome, error: Option<&Error>) -> Value {
    let mut m = head(Some(o.command), error);
    let (time_s, source) = match o.time {
        Some((d, s)) => (json!(d.as_secs_f64()), json!(s.name())),
        None => (Value::Null, Value::Null),
    };
    m.insert("time_s".into(), time_s);
    m.insert("time_source".into(), source);
    m.insert("probe".into(), session_probe_value(o));
    m.insert("target".into(), session_target_value(o));
    if matches!(o.command, "write" | "verify") {
        m.insert("input".into(), input_value(o));
    }
    insert_command_result(&mut m, o);
    insert_check_result(&mut m, o);
    Value::Object(m)
}

fn session_probe_value(o: &Outcome) -> Value {
    o.probe.as_ref().map_or(Value::Null, |p| {
        json!({
            "serial": p.serial,
            "product": p.product,
            "kind": p.kind,
            "firmware": p.firmware,
            "location": p.location,
            "simulated": p.simulated,
        })
    })
}

fn session_target_value(o: &Outcome) -> Value {
    o.target.as_ref().map_or(Value::Null, |t| {
        json!({
            "chip": t.chip,
            "family": t.family,
            "core": t.core,
            "dev_id": t.dev_id,
            "rev_id": t.rev_id,
            "flash_size": t.flash_size,
            "sram_size": t.sram_size,
            "voltage_mv": t.voltage_mv,
            "uid": t.uid,
        })
    })
}

fn input_value(o: &Outcome) -> Value {
    o.input.as_ref().map_or(Value::Null, |i| {
        json!({
            "file": i.file.as_ref().map(|f| f.display().to_string()),
            "data": i.data.iter().map(|(a, n)| json!({ "address": a, "size": n })).collect::<Vec<_>>(),
            "crc32": i.crc32.map(crc_hex),
            "format": i.file.as_ref().map(|_| format_name(i.format)),
            "bytes": i.bytes(),
            "segments": i.segments.iter().map(|(a, n)| json!({ "address": a, "size": n })).collect::<Vec<_>>(),
            "entry": i.entry,
        })
    })
}

/// The section named after the command: `write`, `erase`, `read`, `recover`.
fn insert_command_result(m: &mut Map<String, Value>, o: &Outcome) {
    match o.command {
        "write" => {
            let write = match &o.done {
                Some(Done::Write(r)) => json!({
                    "flash_bytes": r.flash_bytes,
                    "ram_bytes": r.ram_bytes,
                    "mass_erase": r.mass_erased,
                    "sectors_erased": sectors(&r.erased),
                    "sectors_skipped": sectors(&r.skipped),
                    "programmed_bytes": r.programmed_bytes,
                    "preserved_bytes": r.preserved_bytes,
                    "verified": r.verified,
                    // "crc-flash-unit", "crc-peripheral", "crc-software" (all
                    // three were "crc" before the CRC units were calibrated)
                    // or "read-back".
                    "verify_method": r.verify_method,
                    "eeprom": r.eeprom.as_ref().map(|e| json!({
                        "address": e.region.base,
                        "size": e.region.size,
                        "bytes": e.bytes,
                        "words_written": e.words_written,
                        "words_unchanged": e.words_unchanged,
                        "kept_bytes": e.kept_bytes,
                        "verified": e.verified,
                        "verify_method": e.verified.then_some("read-back"),
                    })),
                }),
                _ => Value::Null,
            };
            m.insert("write".into(), write);
            m.insert("serial_number".into(), o.serial.as_ref().map_or(Value::Null, serial_value));
        }
        "erase" => {
            let erase = match &o.done {
                Some(Done::Erase(r)) => json!({
                    "mass_erase": r.mass,
                    "sectors_erased": sectors(&r.sectors),
                    "bytes": r.sectors.iter().map(|s| s.size as u64).sum::<u64>(),
                }),
                _ => Value::Null,
            };
            m.insert("erase".into(), erase);
        }
        "read" => {
            let read = match &o.done {
                Some(Done::Read { file, addr, bytes, format }) => json!({
                    "file": file.display().to_string(),
                    "address": addr,
                    "bytes": bytes,
                    "format": format_name(*format),
                }),
                _ => Value::Null,
            };
            m.insert("read".into(), read);
        }
        _ => {}
    }
    if o.command == "recover" {
        let recover = match &o.done {
            Some(Done::Recover(r)) => recover_value(r),
            _ => Value::Null,
        };
        m.insert("recover".into(), recover);
    }
}

/// The sections of the checks, the option areas and OTP.
fn insert_check_result(m: &mut Map<String, Value>, o: &Outcome) {
    match &o.done {
        Some(Done::Verify { report, first_sector }) => {
            let mut v = comparison_value(report, first_sector.as_ref());
            v["equal"] = json!(report.differences.is_empty());
            m.insert("verify".into(), v);
        }
        Some(Done::BlankCheck { addr, size, erased, report, first_sector }) => {
            let mut v = comparison_value(report, first_sector.as_ref());
            v["blank"] = json!(report.differences.is_empty());
            v["address"] = json!(addr);
            v["size"] = json!(size);
            v["erased_value"] = json!(erased);
            v["first_non_erased"] = json!(report.differences.first().map(|d| d.0));
            m.insert("blank_check".into(), v);
        }
        Some(Done::Checksum { addr, sum }) => {
            m.insert(
                "checksum".into(),
                json!({ "address": addr, "size": sum.bytes, "crc32": crc_hex(sum.crc32), "method": sum.method }),
            );
        }
        Some(Done::ChecksumFile { file, segments }) => {
            let segments: Vec<Value> =
                segments.iter().map(|(a, n, crc)| json!({ "address": a, "size": n, "crc32": crc_hex(*crc) })).collect();
            m.insert("checksum".into(), json!({ "file": file.display().to_string(), "segments": segments }));
        }
        Some(Done::Options { area, value, words, written }) => {
            m.insert("options".into(), options_value(area, *value, words, *written));
        }
        Some(Done::Otp { programmed, unchanged }) => {
            m.insert("otp".into(), json!({ "programmed_bytes": programmed, "unchanged_bytes": unchanged }));
        }
        _ => {}
    }
}

/// What `verify` and `blank-check` compared: bytes, method, every
/// differing range, and the flash sector of the first.
fn comparison_value(r: &stflash::ops::check::Comparison, first_sector: Option<&Sector>) -> Value {
    let ranges: Vec<Value> = r.differences.iter().map(|&(lo, hi)| json!({ "address": lo, "size": hi - lo })).collect();
    json!({
        "bytes": r.bytes,
        "method": r.method,
        "differences": ranges,
        "first_difference": r.differences.first().map(|d| json!({
            "address": d.0,
            "sector": first_sector.map(sector),
        })),
    })
}

/// A CRC-32 as the `crc32` tool prints it: 8 lower-case hex digits.
pub fn crc_hex(crc: u32) -> String {
    format!("{crc:08x}")
}

/// `serial_number`: where it went, its bytes in hex, as text when
/// printable, and the counter's number.
pub fn serial_value(s: &super::report::SerialOutcome) -> Value {
    json!({
        "address": s.address,
        "bytes": s.bytes.iter().map(|b| format!("{b:02X}")).collect::<String>(),
        "text": s.text,
        "counter": s.counter,
    })
}

/// The document of a station run (`--all-probes`, `--serial A,B`): the
/// common fields, the shared `input`, `summary`, and `boards`: per board its
/// index (1-based, board order), probe serial and the single-probe document
/// of its run (without `schema_version`, `tool` and the shared `input`).
pub fn station_document(
    shared: &Outcome,
    boards: &[(usize, &str, &Outcome, Option<&Error>)],
    error: Option<&Error>,
    time: Option<(std::time::Duration, super::report::TimeSource)>,
) -> Value {
    let mut m = head(Some(shared.command), error);
    let (time_s, source) = match time {
        Some((d, s)) => (json!(d.as_secs_f64()), json!(s.name())),
        None => (Value::Null, Value::Null),
    };
    m.insert("time_s".into(), time_s);
    m.insert("time_source".into(), source);
    if let Some(input) = document(shared, error).get("input") {
        m.insert("input".into(), input.clone());
    }
    let ok = boards.iter().filter(|b| b.3.is_none()).count();
    m.insert("summary".into(), json!({ "boards": boards.len(), "ok": ok, "failed": boards.len() - ok }));
    let entries = boards
        .iter()
        .map(|&(index, serial, outcome, error)| {
            let mut doc = match document(outcome, error) {
                Value::Object(d) => d,
                _ => Map::new(),
            };
            doc.remove("schema_version");
            doc.remove("tool");
            doc.remove("input");
            doc.insert("index".into(), json!(index));
            doc.insert("probe_serial".into(), json!(serial));
            Value::Object(doc)
        })
        .collect();
    m.insert("boards".into(), Value::Array(entries));
    Value::Object(m)
}

/// `options`: the area, its raw value, and every word read (or written and
/// read back) with its fields by name.
fn options_value(area: &str, value: u32, words: &[WordValue], written: bool) -> Value {
    let words: Vec<Value> = words
        .iter()
        .map(|w| {
            let fields: Map<String, Value> =
                w.word.fields.iter().map(|f| (f.name.to_string(), json!(f.get(w.value)))).collect();
            json!({ "name": w.word.name, "address": w.word.addr, "value": w.value, "fields": fields })
        })
        .collect();
    json!({ "area": area, "value": value, "written": written, "words": words })
}

/// `recover`: how it connected, the plan (every step with the words it
/// writes, field by field, and where each value comes from), what stays, and
/// — once run — the steps done and the words read back.
fn recover_value(r: &RecoverSummary) -> Value {
    use stflash::ops::recover::StepKind;
    let plan = &r.plan;
    let steps: Vec<Value> = plan
        .steps
        .iter()
        .map(|s| {
            let words: Vec<Value> = s
                .changes
                .iter()
                .map(|c| {
                    let fields: Map<String, Value> = c
                        .fields
                        .iter()
                        .map(|f| (f.field.name.to_string(), json!({ "from": f.from, "to": f.to })))
                        .collect();
                    json!({
                        "name": c.word.name,
                        "address": c.word.addr,
                        "from": c.from,
                        "to": c.to,
                        "fields": fields,
                        "reliability": c.factory.reliability.letter().to_string(),
                        "source": c.factory.source,
                    })
                })
                .collect();
            let done = r.report.as_ref().is_some_and(|rep| rep.done.contains(&s.kind));
            json!({
                "step": s.kind.name(),
                "description": s.what,
                "words": words,
                "needed": s.kind == StepKind::Erase || !s.changes.is_empty(),
                "done": done,
            })
        })
        .collect();
    let rdp = |l: RdpLevel| match l {
        RdpLevel::Level0 => 0,
        RdpLevel::Level1 => 1,
        RdpLevel::Level2 => 2,
    };
    json!({
        "connect": r.connect,
        "rdp_level_before": rdp(plan.rdp),
        "words_before": words_value(&plan.before),
        "steps": steps,
        "kept": plan.kept,
        "notes": plan.notes,
        "confirmed": r.report.is_some(),
        "words_after": r.report.as_ref().map(|rep| words_value(&rep.after)),
    })
}

fn words_value(words: &[WordValue]) -> Vec<Value> {
    words
        .iter()
        .map(|w| {
            let fields: Map<String, Value> =
                w.word.fields.iter().map(|f| (f.name.to_string(), json!(f.get(w.value)))).collect();
            json!({ "name": w.word.name, "address": w.word.addr, "value": w.value, "fields": fields })
        })
        .collect()
}

/// The document for a command line that could not be parsed.
pub fn usage_error(command: Option<&str>, lines: &[String]) -> Value {
    let message = lines
        .iter()
        .map(|l| l.trim_start_matches("*** Error: ").trim_start_matches("error: "))
        .collect::<Vec<_>>()
        .join("; ");
    let message = if message.is_empty() { "invalid command line".to_string() } else { message };
    Value::Object(head(command, Some(&Error::usage(message))))
}

/// The document for `info --json`.
pub fn info_document(probes: &[ProbeReport], error: Option<&Error>) -> Value {
    let mut m = head(Some("info"), error);
    m.insert("probes".into(), Value::Array(probes.iter().map(probe_value).collect()));
    Value::Object(m)
}

fn probe_value(p: &ProbeReport) -> Value {
    json!({
        "serial": p.info.serial,
        "product": stflash::transport::ProbeKind::product_name(p.info.pid),
        "kind": p.info.kind.to_string(),
        "vid": p.info.vid,
        "pid": p.info.pid,
        "location": p.info.location,
        "simulated": p.simulated,
        "problem": p.problem.as_ref().map(error_value),
        "firmware": p.firmware.map(|v| v.to_string()),
        "target_voltage_mv": p.voltage_mv,
        "target": p.target.as_ref().map(target_value),
        "target_error": p.target_error.as_ref().map(error_value),
    })
}

fn layout_value(l: &FlashLayout) -> Value {
    json!({
        "base": l.base(),
        "size": l.total_size(),
        "bank_mode": if l.banks.len() > 1 { "dual" } else { "single" },
        "banks": l.banks.iter().map(|b| json!({
            "base": b.base,
            "size": b.size(),
            "sectors": b.runs.iter().map(|&(count, size)| json!({ "count": count, "size": size })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "min_sector_size": l.min_sector_size(),
        "write_unit": l.write_unit,
        "erased_value": l.erased,
    })
}

fn target_value(t: &TargetFacts) -> Value {
    json!({
        "chip": t.chip.name,
        "parts": t.chip.parts,
        "family": t.chip.family,
        "reference_manual": t.chip.reference_manual,
        "core": t.core.to_string(),
        "dev_id": t.dev_id(),
        "rev_id": t.rev_id(),
        "idcode": t.idcode,
        "cpuid": t.cpuid,
        "dpidr": t.dpidr,
        "uid": t.uid.as_ref().map(super::report::uid_hex),
        "flash": layout_value(&t.layout),
        "sram": { "base": t.chip.sram.base, "size": t.chip.sram.size },
        "flash_driver": t.driver.as_ref().ok(),
        "rdp_level": t.rdp.as_ref().ok().map(|l| match l {
            RdpLevel::Level0 => 0,
            RdpLevel::Level1 => 1,
            RdpLevel::Level2 => 2,
        }),
    })
}

/// A doctor value: a number, a register value (a JSON integer) or text.
fn doctor_value(v: &Option<stflash::ops::doctor::Value>) -> Value {
    use stflash::ops::doctor::Value as V;
    match v {
        // Rounded to a nanosecond or a thousandth: no binary noise.
        Some(V::Number(n)) => json!((n * 1e6).round() / 1e6),
        Some(V::Word(w)) => json!(w),
        Some(V::Text(t)) => json!(t),
        None => Value::Null,
    }
}

/// The document for `doctor --json`: the common fields, `time_source`,
/// `probe`, `target`, `checks` (`{"name", "result", "detail"}`, in order, up
/// to the first problem) and `measurements` (`{"name", "value", "unit",
/// "model", "detail"}`).
pub fn doctor_document(r: &stflash::ops::doctor::Report, simulated: bool) -> Value {
    let mut m = head(Some("doctor"), r.error.as_ref());
    m.insert(
        "time_source".into(),
        r.probe.as_ref().map_or(Value::Null, |_| json!(if simulated { "modeled" } else { "measured" })),
    );
    m.insert(
        "probe".into(),
        r.probe.as_ref().map_or(Value::Null, |p| {
            json!({
                "serial": p.serial,
                "product": stflash::transport::ProbeKind::product_name(p.pid),
                "kind": p.kind.to_string(),
                "firmware": r.firmware.map(|v| v.to_string()),
                "location": p.location,
                "simulated": simulated,
            })
        }),
    );
    m.insert(
        "target".into(),
        r.target.as_ref().map_or(Value::Null, |t| {
            json!({
                "chip": t.chip.name,
                "family": t.chip.family,
                "core": t.core.to_string(),
                "dev_id": t.dev_id(),
                "rev_id": t.rev_id(),
                "idcode": t.idcode,
                "cpuid": t.cpuid,
                "dpidr": t.dpidr,
                "flash_size": t.layout.total_size(),
                "voltage_mv": r.voltage_mv,
                "uid": t.uid.as_ref().map(super::report::uid_hex),
            })
        }),
    );
    let checks: Vec<Value> =
        r.checks.iter().map(|c| json!({ "name": c.name, "result": c.result(), "detail": c.detail })).collect();
    m.insert("checks".into(), Value::Array(checks));
    let measurements: Vec<Value> = r
        .measurements
        .iter()
        .map(|x| {
            json!({
                "name": x.name,
                "value": doctor_value(&x.value),
                "unit": x.unit,
                "model": doctor_value(&x.model),
                "detail": x.detail,
            })
        })
        .collect();
    m.insert("measurements".into(), Value::Array(measurements));
    Value::Object(m)
}
