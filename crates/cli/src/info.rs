//! `stflash info`: what is connected, without changing anything on the
//! target. Lists every ST-LINK (also those that cannot be opened, with the
//! reason and the fix) and the chip behind each; answers st-info's questions
//! (stlink 1.8.0 `src/st-info/info.c`) for scripts that used st-info.
//!
//! "Without changing anything": the connection does not reset the target
//! (unless `--connect-under-reset` is given), does not halt the core, does not
//! freeze the watchdogs, and every access to the target is a read
//! (identification, the flash driver's `layout()` and `rdp_level()`). The
//! connection is the library's read-only path, `stflash::ops::inspect`,
//! which `doctor` uses too.

use std::fmt::Write as _;

use log::warn;

use super::args::{InfoQuestion, InfoRequest};
use super::output::{self, Console};
use super::{json, probes};
use stflash::chip as chips;
use stflash::error::{Error, ErrorKind, Result};
use stflash::flash::{self, FlashLayout, RdpLevel};
use stflash::mcu::ConnectOptions;
use stflash::stlink::Version;
use stflash::text::count;
use stflash::transport::{ProbeKind, Transport, TransportError};

pub use stflash::ops::inspect::{ProbeReport, TargetFacts};

/// Look at the probe behind `transport` and the target behind it, reading
/// only ([`stflash::ops::inspect::inspect`], the connection path `doctor`
/// shares). `opts.halt` should be false (it is forced so).
pub fn inspect(transport: Box<dyn Transport>, opts: &ConnectOptions, simulated: bool) -> ProbeReport {
    let mut report = stflash::ops::inspect::inspect(transport, opts);
    report.simulated = simulated;
    report
}

fn connect_options(req: &InfoRequest) -> ConnectOptions {
    ConnectOptions { mode: req.common.connect_mode(), speed_khz: req.common.freq_khz, flash_size: None, halt: false }
}

/// Inspect every probe (only the one with `--serial` when given).
pub fn inspect_all(req: &InfoRequest) -> Result<Vec<ProbeReport>> {
    let found = probes::select(probes::find_all(&req.common.sim)?, req.common.serial.as_deref())?;
    let opts = connect_options(req);
    Ok(found
        .into_iter()
        .map(|f| match f.transport {
            Ok(t) => inspect(t, &opts, f.sim.is_some()),
            Err(e) => ProbeReport::unopened(f.info, f.sim.is_some(), e),
        })
        .collect())
}

/// The probe a single-value question is about: the `--serial` one, else the
/// last enumerated (as st-flash and st-info choose).
fn inspect_one(req: &InfoRequest) -> Result<ProbeReport> {
    let f = probes::choose_one(probes::find_all(&req.common.sim)?, req.common.serial.as_deref())?;
    let report = match f.transport {
        Ok(t) => inspect(t, &connect_options(req), f.sim.is_some()),
        Err(e) => return Err(e),
    };
    match report.problem {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Every probe, for the listing and the JSON document: no probe at all is
/// the no-probe error (st-info's `--probe` instead reports "Found 0").
fn inspect_some(req: &InfoRequest) -> Result<Vec<ProbeReport>> {
    let probes = inspect_all(req)?;
    if probes.is_empty() {
        return Err(TransportError::NotFound { serial: None, seen: Vec::new() }.into());
    }
    Ok(probes)
}

/// Run `info`; returns the exit code.
pub fn run(req: &InfoRequest, console: &Console) -> u8 {
    output::init_logging(req.common.debug, req.common.quiet);
    // Ctrl-C while looking: say so (nothing is ever changed by info).
    let stop = output::install_stop_handler();
    let interrupted = || {
        stop.load(std::sync::atomic::Ordering::Relaxed)
            .then(|| Error::new(ErrorKind::Interrupted, "interrupted before anything was changed"))
    };
    if req.common.json {
        let result = inspect_some(req).and_then(|p| interrupted().map_or(Ok(p), Err));
        let (probes, error) = match &result {
            Ok(p) => (p.as_slice(), None),
            Err(e) => (&[][..], Some(e)),
        };
        if let Some(e) = error {
            output::eprintln(format_args!("error: {e}"));
        }
        console.println(json::info_document(probes, error));
        return error.map_or(0, Error::exit_code);
    }
    let text = match req.question {
        None => inspect_some(req).map(|probes| listing(&probes)),
        Some(InfoQuestion::Chips) => Ok(chip_table()),
        Some(InfoQuestion::Probe) => inspect_all(req).map(|probes| st_info_probe(&probes)),
        Some(q) => inspect_one(req).and_then(|r| answer(q, &r)).map(|a| format!("{a}\n")),
    };
    match text.and_then(|t| interrupted().map_or(Ok(t), Err)) {
        Ok(text) => {
            console.print(text);
            0
        }
        Err(e) => {
            output::eprintln(format_args!("error: {e}"));
            e.exit_code()
        }
    }
}

/// The answer to a single-value question, in st-info's format.
fn answer(q: InfoQuestion, r: &ProbeReport) -> Result<String> {
    if q == InfoQuestion::Serial {
        return Ok(r.info.serial.clone());
    }
    let t = match (&r.target, &r.target_error) {
        (Some(t), _) => t,
        (None, Some(e)) => return Err(e.clone()),
        (None, None) => return Err(Error::new(ErrorKind::NoTarget, "no target identified")),
    };
    Ok(match q {
        InfoQuestion::Flash => format!("0x{:x}", t.layout.total_size()),
        InfoQuestion::PageSize => format!("0x{:x}", t.layout.min_sector_size()),
        InfoQuestion::Sram => format!("0x{:x}", t.chip.sram.size),
        InfoQuestion::ChipId => format!("0x{:04x}", t.dev_id()),
        InfoQuestion::Descr => t.chip.name.to_string(),
        InfoQuestion::Uid => match &t.uid {
            Some(id) => super::report::uid_hex(id),
            None => {
                return Err(Error::unsupported(format!(
                    "the unique ID of this {} cannot be read (its address answers with a bus fault)",
                    t.chip.name
                )))
            }
        },
        InfoQuestion::Serial | InfoQuestion::Probe | InfoQuestion::Chips => unreachable!("handled by the caller"),
    })
}

/// st-info's version string: V<hw>, J<jtag> and S<swim> when non-zero.
fn st_info_version(v: &Version) -> String {
    let mut s = format!("V{}", v.hw);
    if v.jtag != 0 {
        s.push_str(&format!("J{}", v.jtag));
    }
    if v.swim != 0 {
        s.push_str(&format!("S{}", v.swim));
    }
    s
}

/// st-info --probe's report (stlink 1.8.0 `src/st-info/info.c`): probes that could be opened,
/// numbered when there are several; zeros and "unknown" without a target.
/// Probes that cannot be opened are reported on stderr.
pub fn st_info_probe(probes: &[ProbeReport]) -> String {
    let usable: Vec<&ProbeReport> = probes.iter().filter(|p| p.problem.is_none()).collect();
    for p in probes {
        if let Some(e) = &p.problem {
            warn!("ST-LINK at {} not listed: {e}", p.info.location);
        }
    }
    let mut out = format!("Found {} stlink programmers\n", usable.len());
    for (i, p) in usable.iter().enumerate() {
        if usable.len() > 1 {
            let _ = writeln!(out, "{}.", i + 1);
        }
        let field = |out: &mut String, label: &str, value: String| {
            let _ = writeln!(out, "  {:<12}{value}", format!("{label}:"));
        };
        field(&mut out, "version", p.firmware.as_ref().map(st_info_version).unwrap_or_default());
        field(&mut out, "serial", p.info.serial.clone());
        match &p.target {
            Some(t) => {
                field(
                    &mut out,
                    "flash",
                    format!("{} (pagesize: {})", t.layout.total_size(), t.layout.min_sector_size()),
                );
                field(&mut out, "sram", t.chip.sram.size.to_string());
                field(&mut out, "chipid", format!("0x{:03x}", t.dev_id()));
                field(&mut out, "dev-type", t.chip.name.to_string());
            }
            None => {
                if let Some(e) = &p.target_error {
                    warn!("ST-LINK {}: {e}", p.info.serial);
                }
                field(&mut out, "flash", "0 (pagesize: 0)".into());
                field(&mut out, "sram", "0".into());
                field(&mut out, "chipid", "0x000".into());
                field(&mut out, "dev-type", "unknown".into());
            }
        }
    }
    out
}

/// "64 KiB" or "512 bytes".
fn kib(bytes: u64) -> String {
    if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{} KiB", bytes / 1024)
    } else {
        count(bytes, "byte")
    }
}

/// "single bank: 64 × 1 KiB sectors" or "dual bank: bank 1 at … ; bank 2 at …".
fn layout_text(layout: &FlashLayout) -> String {
    let runs = |b: &flash::Bank| {
        b.runs
            .iter()
            .map(|&(c, s)| format!("{c} × {} sector{}", kib(s as u64), if c == 1 { "" } else { "s" }))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    match layout.banks.as_slice() {
        [one] => format!("single bank, {}", runs(one)),
        banks => {
            let parts: Vec<String> = banks
                .iter()
                .enumerate()
                .map(|(i, b)| format!("bank {} at 0x{:08X}: {}", i + 1, b.base, runs(b)))
                .collect();
            format!("{} banks; {}", banks.len(), parts.join("; "))
        }
    }
}

fn rdp_text(rdp: &std::result::Result<RdpLevel, String>) -> String {
    match rdp {
        Ok(RdpLevel::Level0) => "level 0 (not protected)".into(),
        Ok(RdpLevel::Level1) => "level 1 (read-protected: flash cannot be read or written over SWD)".into(),
        Ok(RdpLevel::Level2) => "level 2 (permanently protected)".into(),
        Err(why) => why.clone(),
    }
}

/// The human listing of every probe.
pub fn listing(probes: &[ProbeReport]) -> String {
    let mut out = String::new();
    let plural = if probes.len() == 1 { "" } else { "s" };
    let _ = writeln!(out, "Found {} ST-LINK probe{plural}", probes.len());
    for (i, p) in probes.iter().enumerate() {
        out.push('\n');
        let serial = if p.info.serial.is_empty() { "unreadable".to_string() } else { p.info.serial.clone() };
        let place = if p.simulated { "simulated".to_string() } else { format!("USB {}", p.info.location) };
        let _ = writeln!(
            out,
            "{}. {} ({}, PID 0x{:04x}), serial {serial}, {place}",
            i + 1,
            ProbeKind::product_name(p.info.pid),
            p.info.kind,
            p.info.pid
        );
        let field = |out: &mut String, label: &str, value: String| {
            let _ = writeln!(out, "   {label:<10} {value}");
        };
        if let Some(e) = &p.problem {
            field(&mut out, "problem", e.to_string());
            continue;
        }
        if let Some(v) = &p.firmware {
            field(&mut out, "firmware", v.to_string());
        }
        if let Some(mv) = p.voltage_mv {
            field(&mut out, "voltage", format!("{}.{:02} V", mv / 1000, (mv % 1000) / 10));
        }
        let Some(t) = &p.target else {
            if let Some(e) = &p.target_error {
                field(&mut out, "target", format!("not identified: {e}"));
            }
            continue;
        };
        let parts = if t.chip.parts.is_empty() { String::new() } else { format!(" ({})", t.chip.parts) };
        field(&mut out, "chip", format!("{}{parts}", t.chip.name));
        field(&mut out, "core", format!("{}, DEV_ID 0x{:03x}, revision 0x{:04x}", t.core, t.dev_id(), t.rev_id()));
        field(
            &mut out,
            "flash",
            format!("{} at 0x{:08X}, {}", kib(t.layout.total_size()), t.layout.base(), layout_text(&t.layout)),
        );
        field(&mut out, "SRAM", format!("{} at 0x{:08X}", kib(t.chip.sram.size as u64), t.chip.sram.base));
        if let Some(id) = &t.uid {
            field(&mut out, "UID", super::report::uid_hex(id));
        }
        field(&mut out, "RDP", rdp_text(&t.rdp));
        match &t.driver {
            Ok(name) => field(&mut out, "driver", format!("{name} ({})", t.chip.reference_manual)),
            Err(_) => field(
                &mut out,
                "driver",
                format!(
                    "none yet for {} ({}): stflash can read this chip, not write or erase its flash",
                    t.chip.family, t.chip.reference_manual
                ),
            ),
        }
    }
    out
}

/// `info --chips`: the chip table, one line per row (DEV_ID, st-flash name,
/// family, core, largest flash, reference manual, parts), then the flash
/// layout the row describes.
pub fn chip_table() -> String {
    let mut out =
        String::from("DEV_ID  name                   family      core              flash (max)  RM      parts\n");
    for c in chips::all() {
        let core = if c.core_ap == 0 { c.core.to_string() } else { format!("{} (AP{})", c.core, c.core_ap) };
        let rm = c.reference_manual.split([' ', ',']).next().unwrap_or("");
        let _ = writeln!(
            out,
            "0x{:03x}   {:<22} {:<11} {:<17} {:<12} {:<7} {}",
            c.dev_id,
            c.name,
            c.family,
            core,
            format!("{} KiB", c.max_flash_kib),
            rm,
            c.parts
        );
        let _ = writeln!(out, "        layout: {}", spec_text(&c.flash));
    }
    out
}

/// A chip row's flash geometry in words: "2 KiB pages, 8-byte words",
/// "4 × 16 KiB, 1 × 64 KiB, then 128 KiB sectors; two banks: …, bank 2 at
/// half the flash".
fn spec_text(spec: &stflash::chip::FlashSpec) -> String {
    use stflash::chip::Bank2Base;
    let size = |b: u32| if b % 1024 == 0 { format!("{} KiB", b / 1024) } else { format!("{b} B") };
    let runs = |runs: &[(u32, u32)]| -> String {
        let n = runs.len();
        let parts: Vec<String> = runs
            .iter()
            .enumerate()
            .map(
                |(i, &(count, sz))| {
                    if i + 1 == n {
                        format!("{} sectors", size(sz))
                    } else {
                        format!("{count} × {}", size(sz))
                    }
                },
            )
            .collect();
        if n > 1 {
            format!("{}, then {}", parts[..n - 1].join(", "), parts[n - 1])
        } else {
            parts.join("")
        }
    };
    let mut text = runs(spec.sectors);
    if let Some(dual) = spec.dual {
        let bank2 = match dual.bank2 {
            Bank2Base::Half => "bank 2 at half the flash".to_string(),
            Bank2Base::Fixed(addr) => format!("bank 2 at 0x{addr:08X}"),
            Bank2Base::FullBank1(b1) => format!("bank 2 after the first {}", size(b1)),
        };
        let geometry = if dual.sectors == spec.sectors { String::new() } else { format!("{}, ", runs(dual.sectors)) };
        text.push_str(&format!("; two banks: {geometry}{bank2}"));
    }
    text.push_str(&format!("; {}-byte words", spec.write_unit));
    if spec.erased == 0 {
        text.push_str(", erased 0x00");
    }
    text
}
