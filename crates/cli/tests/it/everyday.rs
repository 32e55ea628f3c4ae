//! Everyday comfort, end to end on the simulator: `stflash info`, ELF and
//! S-record input, `--json`, completions and the man page, udev rules,
//! running as `st-flash`, the summary line and `--quiet`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{pattern, run, run_exe, run_sim, temp_dir, Run};
use serde_json::Value;
use stflash::mcu::ConnectOptions;
use stflash::transport::{ProbeInfo, ProbeKind, Transport, TransportError};
use stflash_cli::info::{self, ProbeReport};
use stflash_sim::{self as sim, SimSpec};

const SRAM: u32 = 0x2000_0000;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}\nstderr:\n{}", r.stdout, r.stderr))
}

/// Two simulated probes, each with its own state file.
fn two_probes(dir: &Path) -> String {
    format!("f103:{};f103:{}", dir.join("a.sim").display(), dir.join("b.sim").display())
}

const SERIAL_1: &str = "53494D4B0000000000000001";
const SERIAL_2: &str = "53494D4B0000000000000002";

// ---------------------------------------------------------------- 1. info

#[test]
fn info_lists_every_probe_and_its_chip() {
    let dir = temp_dir("info-list");
    let r = run(&["info"], &[("STFLASH_SIM", &two_probes(&dir))]).ok();
    let out = &r.stdout;
    assert!(out.starts_with("Found 2 ST-LINK probes\n"), "{out}");
    for (n, serial) in [(1, SERIAL_1), (2, SERIAL_2)] {
        assert!(out.contains(&format!("{n}. ST-LINK/V2-1 (V2-1, PID 0x374b), serial {serial}, simulated")), "{out}");
    }
    for needle in [
        "firmware   V2J",
        "voltage    3.30 V",
        "chip       STM32F1xx_MD (STM32F101x8/B, STM32F102x8/B, STM32F103x8/B)",
        "core       Cortex-M3, DEV_ID 0x410, revision 0x",
        "flash      64 KiB at 0x08000000, single bank, 64 × 1 KiB sectors",
        "SRAM       20 KiB at 0x20000000",
        "RDP        ",
        "driver     ",
    ] {
        assert_eq!(out.matches(needle).count(), 2, "{needle:?} once per probe:\n{out}");
    }
    // No st-flash banner: info is not an st-flash command.
    assert!(!out.contains("st-flash 1.8.0"), "{out}");
}

#[test]
fn info_answers_the_st_info_questions() {
    let dir = temp_dir("info-questions");
    let sim = two_probes(&dir);
    let env = [("STFLASH_SIM", sim.as_str())];
    for (question, answer) in [
        ("--chipid", "0x0410"),
        ("--flash", "0x10000"),
        ("--pagesize", "0x400"),
        ("--sram", "0x5000"),
        ("--descr", "STM32F1xx_MD"),
        // Like st-info and st-flash: the last enumerated probe.
        ("--serial", SERIAL_2),
    ] {
        let r = run(&["info", question], &env).ok();
        assert_eq!(r.stdout, format!("{answer}\n"), "{question}");
    }
    // --serial before `info` selects the probe (st-flash's option).
    let r = run(&["--serial", SERIAL_1, "info", "--serial"], &env).ok();
    assert_eq!(r.stdout, format!("{SERIAL_1}\n"));
    run(&["--serial", "53494D4B00000000000000FF", "info", "--chipid"], &env).fails(4, "no ST-LINK with serial");
    // st-info's trailing connection options are accepted.
    let r = run(&["info", "--chipid", "--hot-plug", "--freq=4000"], &env).ok();
    assert_eq!(r.stdout, "0x0410\n");
}

#[test]
fn info_probe_prints_st_info_probe_format() {
    let dir = temp_dir("info-probe");
    let r = run(&["info", "--probe"], &[("STFLASH_SIM", &two_probes(&dir))]).ok();
    let version = r.stdout.lines().find_map(|l| l.strip_prefix("  version:    ")).expect("version line").to_string();
    assert!(version.starts_with("V2J"), "{version}");
    let block = |serial: &str| {
        format!(
            "  version:    {version}\n  serial:     {serial}\n  flash:      65536 (pagesize: 1024)\n  sram:       20480\n  chipid:     0x410\n  dev-type:   STM32F1xx_MD\n"
        )
    };
    assert_eq!(r.stdout, format!("Found 2 stlink programmers\n1.\n{}2.\n{}", block(SERIAL_1), block(SERIAL_2)));
    // One probe: no numbering.
    let r = run(&["--serial", SERIAL_2, "info", "--probe"], &[("STFLASH_SIM", &two_probes(&dir))]).ok();
    assert_eq!(r.stdout, format!("Found 1 stlink programmers\n{}", block(SERIAL_2)));
}

#[test]
fn info_reports_a_missing_target_plainly() {
    let dir = temp_dir("info-power");
    let spec = format!("f103:{}", dir.join("chip.sim").display());
    let env = [("STFLASH_SIM", spec.as_str()), ("STFLASH_SIM_FAULTS", "no-power")];
    // The listing still shows the probe and says what is wrong with the target.
    let r = run(&["info"], &env).ok();
    assert!(r.stdout.contains("target     not identified: the target is not powered"), "{}", r.stdout);
    // A question that needs the target fails with the no-target code.
    run(&["info", "--chipid"], &env).fails(5, "not powered");
    // st-info --probe shows zeros, as st-info does.
    let r = run(&["info", "--probe"], &env).ok();
    assert!(r.stdout.contains("  chipid:     0x000\n  dev-type:   unknown\n"), "{}", r.stdout);
}

#[test]
fn info_chips_needs_no_probe() {
    let r = run(&["info", "--chips"], &[]).ok();
    assert!(r.stdout.lines().any(|l| l.starts_with("0x410") && l.contains("STM32F1xx_MD")), "{}", r.stdout);
}

#[test]
fn info_without_probes_says_so() {
    // No simulator and no USB probe on a build machine: the no-probe exit code.
    let r = run(&["info"], &[]).fails(4, "error: no ST-LINK found; check the USB cable");
    assert_eq!(r.stdout, "");
    run(&["info", "--chipid"], &[]).fails(4, "no ST-LINK found");
    let r = run(&["info", "--json"], &[]).fails(4, "no ST-LINK found");
    let doc = json(&r);
    assert_eq!((doc["exit_code"].as_u64(), doc["error"]["kind"].as_str()), (Some(4), Some("no-probe")));
    assert_eq!(doc["probes"], serde_json::json!([]));
    // st-info --probe reports none and succeeds, as st-info does.
    let r = run(&["info", "--probe"], &[]).ok();
    assert_eq!(r.stdout, "Found 0 stlink programmers\n");
}

/// A transport that records every packet the host sends.
struct Recorder {
    inner: sim::SimTransport,
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Transport for Recorder {
    fn write(&mut self, data: &[u8], timeout: Duration) -> Result<usize, TransportError> {
        self.sent.lock().unwrap().push(data.to_vec());
        self.inner.write(data, timeout)
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        self.inner.read(buf, timeout)
    }
    fn info(&self) -> &ProbeInfo {
        self.inner.info()
    }
    fn sleep(&mut self, d: Duration) {
        self.inner.sleep(d)
    }
    fn elapsed(&self) -> Duration {
        self.inner.elapsed()
    }
}

/// DEBUG (0xF2) sub-commands that only read or manage the probe's own state
/// (stlink `src/stlink-lib/usb.c`, OpenOCD `src/jtag/drivers/stlink_usb.c`).
/// Anything else could change the target.
const READ_ONLY_DEBUG: [u8; 9] = [0x07, 0x0C, 0x47, 0x21, 0x30, 0x31, 0x36, 0x3B, 0x3E];
/// Probe-side settings (clock) that do not touch the target.
const PROBE_SETTINGS: [u8; 3] = [0x43, 0x61, 0x62];

fn inspect_recorded(spec: &SimSpec, opts: &ConnectOptions) -> (ProbeReport, Vec<Vec<u8>>, sim::SimHandle) {
    let (t, h) = sim::open(spec).unwrap();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let report = info::inspect(Box::new(Recorder { inner: t, sent: Arc::clone(&sent) }), opts, true);
    let sent = sent.lock().unwrap().clone();
    (report, sent, h)
}

#[test]
fn info_only_reads_the_target_and_leaves_the_core_running() {
    let spec = SimSpec::new("f103");
    let (report, sent, h) = inspect_recorded(&spec, &ConnectOptions::default());
    let t = report.target.as_ref().unwrap_or_else(|| panic!("{:?}", report.target_error));
    assert_eq!((t.dev_id(), t.layout.total_size()), (0x410, 64 * 1024));
    for packet in &sent {
        if packet[0] == 0xF2 {
            assert!(
                READ_ONLY_DEBUG.contains(&packet[1]) || PROBE_SETTINGS.contains(&packet[1]),
                "info sent DEBUG command 0x{:02X}, which may change the target",
                packet[1]
            );
        }
    }
    assert!(sent.iter().any(|p| p[..2] == [0xF2, 0x36]), "identification reads debug registers");
    assert!(!h.core_halted(), "the core keeps running");
    assert!(h.register_writes().is_empty(), "no flash-controller register was written");
}

#[test]
fn st_flash_commands_still_halt_the_core() {
    // The contrast, and proof that the check above has teeth: the connect of
    // every st-flash command writes DHCSR (halt) and DBGMCU_CR (watchdog freeze).
    let (t, h) = sim::open(&SimSpec::new("f103")).unwrap();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let link = stflash::stlink::StLink::open(Box::new(Recorder { inner: t, sent: Arc::clone(&sent) })).unwrap();
    let _target = stflash::mcu::Target::connect(link, &ConnectOptions::default()).unwrap();
    let writes = sent.lock().unwrap().iter().filter(|p| p[..2] == [0xF2, 0x35]).count();
    assert!(writes >= 2, "{writes} debug-register writes");
    assert!(h.core_halted());
}

#[test]
fn info_under_reset_resets_on_request_and_lets_the_core_run() {
    let opts = ConnectOptions { mode: stflash::mcu::ConnectMode::UnderReset, ..Default::default() };
    let (report, sent, h) = inspect_recorded(&SimSpec::new("f103"), &opts);
    assert!(report.target.is_some(), "{:?}", report.target_error);
    assert!(sent.iter().any(|p| p[..2] == [0xF2, 0x3C]), "NRST was driven");
    assert!(!h.core_halted(), "the core runs again after the reset");
}

#[test]
fn info_leaves_the_simulated_chip_unchanged() {
    let dir = temp_dir("info-unchanged");
    let state = dir.join("chip.sim");
    let data = pattern(512, 9);
    {
        let mut spec = SimSpec::new("f103");
        spec.state_file = Some(state.clone());
        let (_t, h) = sim::open(&spec).unwrap();
        assert!(h.poke(0x0800_0000, &data));
        assert!(h.poke(SRAM + 0x100, &data));
        h.save().unwrap();
    }
    let before = std::fs::read(&state).unwrap();
    run_sim("f103", &state, &["info"]).ok();
    run_sim("f103", &state, &["info", "--probe"]).ok();
    assert_eq!(std::fs::read(&state).unwrap(), before, "state file (flash and SRAM) changed");
}

fn fake_probe(location: &str) -> ProbeInfo {
    ProbeInfo { vid: 0x0483, pid: 0x3748, kind: ProbeKind::V2, serial: String::new(), location: location.into() }
}

#[test]
fn unopenable_probes_are_listed_with_the_reason_and_the_fix() {
    let reports: Vec<ProbeReport> = [
        TransportError::Permission { location: "001:007".into() },
        TransportError::Busy { location: "001:008".into() },
    ]
    .into_iter()
    .map(|e| ProbeReport {
        info: fake_probe(match &e {
            TransportError::Permission { location } | TransportError::Busy { location } => location,
            _ => unreachable!(),
        }),
        simulated: false,
        problem: Some(e.into()),
        firmware: None,
        voltage_mv: None,
        target: None,
        target_error: None,
    })
    .collect();
    let text = info::listing(&reports);
    assert!(text.contains("1. ST-LINK/V2 (V2, PID 0x3748), serial unreadable, USB 001:007"), "{text}");
    assert!(text.contains("permission denied"), "{text}");
    assert!(text.contains(stflash::UDEV_INSTALL_HINT), "{text}");
    assert!(text.contains("in use by another program"), "{text}");
    assert!(text.contains("close it and retry"), "{text}");
    let doc = stflash_cli::json::info_document(&reports, None);
    assert_eq!(doc["probes"][0]["problem"]["kind"], "no-probe");
    assert_eq!(doc["probes"][1]["target"], Value::Null);
}

#[test]
fn info_json_describes_every_probe() {
    let dir = temp_dir("info-json");
    let r = run(&["info", "--json"], &[("STFLASH_SIM", &two_probes(&dir))]).ok();
    let doc = json(&r);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["command"], "info");
    assert_eq!(doc["result"], "ok");
    assert_eq!(doc["exit_code"], 0);
    let probes = doc["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 2);
    let p = &probes[1];
    assert_eq!(p["serial"], SERIAL_2);
    assert_eq!(p["pid"], 0x374b);
    assert_eq!(p["simulated"], true);
    assert_eq!(p["target_voltage_mv"], 3300);
    let t = &p["target"];
    assert_eq!(t["dev_id"], 0x410);
    assert_eq!(t["chip"], "STM32F1xx_MD");
    assert_eq!(t["flash"]["size"], 65536);
    assert_eq!(t["flash"]["bank_mode"], "single");
    assert_eq!(t["flash"]["banks"][0]["sectors"][0], serde_json::json!({ "count": 64, "size": 1024 }));
    assert_eq!(t["sram"]["size"], 20480);
    assert!(t.get("rdp_level").is_some());
}

// ---------------------------------------------------------------- 2. input formats

/// A minimal linked 32-bit little-endian ARM ELF: one PT_LOAD per
/// (physical address, virtual address, bytes); an empty `bytes` gives a
/// .bss-like segment (no file contents).
fn arm_elf(entry: u32, segments: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let phoff = 52u32;
    let mut data_off = phoff + 32 * segments.len() as u32;
    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF");
    out.extend_from_slice(&[1, 1, 1, 0]); // 32-bit, little-endian, version 1, SYSV
    out.extend_from_slice(&[0; 8]);
    let u16le = |out: &mut Vec<u8>, v: u16| out.extend_from_slice(&v.to_le_bytes());
    let u32le = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
    u16le(&mut out, 2); // ET_EXEC
    u16le(&mut out, 40); // EM_ARM
    u32le(&mut out, 1);
    u32le(&mut out, entry);
    u32le(&mut out, phoff);
    u32le(&mut out, 0); // no section headers
    u32le(&mut out, 0x0500_0200); // EABI5, hard-float ABI flag irrelevant here
    u16le(&mut out, 52);
    u16le(&mut out, 32);
    u16le(&mut out, segments.len() as u16);
    u16le(&mut out, 40);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    assert_eq!(out.len(), 52);
    for &(paddr, vaddr, bytes) in segments {
        let filesz = bytes.len() as u32;
        u32le(&mut out, 1); // PT_LOAD
        u32le(&mut out, data_off);
        u32le(&mut out, vaddr);
        u32le(&mut out, paddr);
        u32le(&mut out, filesz);
        u32le(&mut out, filesz.max(64));
        u32le(&mut out, 5); // R+X
        u32le(&mut out, 4);
        data_off += filesz;
    }
    for &(_, _, bytes) in segments {
        out.extend_from_slice(bytes);
    }
    out
}

/// Motorola S-record text: S0 header, S3 data records of 32 bytes, S7 end.
fn srec(addr: u32, data: &[u8], entry: u32) -> String {
    fn record(kind: char, fields: &[u8]) -> String {
        let count = fields.len() as u8 + 1;
        let sum = fields.iter().fold(count, |a, &b| a.wrapping_add(b));
        let hex: String = fields.iter().map(|b| format!("{b:02X}")).collect();
        format!("S{kind}{count:02X}{hex}{:02X}\n", !sum)
    }
    let mut out = record('0', &[0, 0, b'e', b'v', b'e', b'r', b'y']);
    for (i, chunk) in data.chunks(32).enumerate() {
        let mut fields = (addr + 32 * i as u32).to_be_bytes().to_vec();
        fields.extend_from_slice(chunk);
        out.push_str(&record('3', &fields));
    }
    out.push_str(&record('7', &entry.to_be_bytes()));
    out
}

/// Write `file` (format detected), read `[addr, addr+len)` back, return it.
fn write_then_read(state: &Path, file: &Path, addr: u32, len: usize) -> Vec<u8> {
    let out = state.with_extension("readback");
    run_sim("f103", state, &["write", s(file)]).ok();
    run_sim("f103", state, &["read", s(&out), &format!("0x{addr:08X}"), &len.to_string()]).ok();
    std::fs::read(&out).unwrap()
}

#[test]
fn elf_segments_are_written_at_their_physical_addresses() {
    let dir = temp_dir("elf");
    let a = pattern(1000, 1);
    let b = pattern(300, 2);
    // Physical addresses in SRAM; virtual ones elsewhere (as for .data in a
    // flash image): the physical address must be used.
    let elf = arm_elf(
        SRAM + 0x801,
        &[(SRAM + 0x800, 0x0000_0800, &a), (SRAM + 0x1000, 0x1000_1000, &b), (SRAM + 0x3000, SRAM + 0x3000, &[])],
    );
    let file = dir.join("fw.elf");
    std::fs::write(&file, &elf).unwrap();
    let state = dir.join("chip.sim");
    let got = write_then_read(&state, &file, SRAM + 0x800, 0x800 + 300);
    assert_eq!(&got[..1000], &a[..]);
    assert_eq!(&got[0x800..], &b[..]);
    // The JSON document names the format and the segments.
    let r = run_sim("f103", &state, &["--json", "write", s(&file)]).ok();
    let doc = json(&r);
    assert_eq!(doc["input"]["format"], "elf");
    assert_eq!(
        doc["input"]["segments"],
        serde_json::json!([{ "address": SRAM + 0x800, "size": 1000 }, { "address": SRAM + 0x1000, "size": 300 }])
    );
    assert_eq!(doc["input"]["entry"], SRAM + 0x801);
}

#[test]
fn srecord_files_are_detected_and_written() {
    let dir = temp_dir("srec");
    let data = pattern(1500, 3);
    let file = dir.join("fw.s37");
    std::fs::write(&file, srec(SRAM + 0x2000, &data, SRAM + 0x2000)).unwrap();
    let got = write_then_read(&dir.join("chip.sim"), &file, SRAM + 0x2000, data.len());
    assert_eq!(got, data);
}

#[test]
fn intel_hex_is_detected_without_format() {
    let dir = temp_dir("ihex");
    let data = pattern(200, 4);
    let file = dir.join("fw.hex");
    let mut hex = Vec::new();
    stflash::ops::image::write_ihex(SRAM + 0x400, &data, &mut hex).unwrap();
    std::fs::write(&file, hex).unwrap();
    let got = write_then_read(&dir.join("chip.sim"), &file, SRAM + 0x400, data.len());
    assert_eq!(got, data);
}

#[test]
fn an_image_outside_flash_and_sram_is_refused_with_the_segment_address() {
    let dir = temp_dir("elf-outside");
    let elf = arm_elf(0, &[(SRAM, SRAM, &[1; 16]), (0x3000_0000, 0x3000_0000, &[2; 16])]);
    let file = dir.join("bad.elf");
    std::fs::write(&file, elf).unwrap();
    let state = dir.join("chip.sim");
    let r = run_sim("f103", &state, &["write", s(&file)]).fails(3, "image segment 0x30000000-0x3000000F");
    assert!(r.stderr.contains("neither in flash"), "{}", r.stderr);
    // Nothing was written, not even the valid segment.
    let saved = sim::load_state(&state).unwrap();
    assert_ne!(saved.peek(SRAM, 16).unwrap(), vec![1; 16]);
    // Same for S-record.
    let file = dir.join("bad.srec");
    std::fs::write(&file, srec(0x6000_0000, &[3; 8], 0)).unwrap();
    run_sim("f103", &state, &["write", s(&file)]).fails(3, "image segment 0x60000000-0x60000007");
}

#[test]
fn a_binary_still_needs_an_address() {
    let dir = temp_dir("bin-addr");
    let file = dir.join("fw.bin");
    std::fs::write(&file, pattern(64, 5)).unwrap();
    run_sim("f103", &dir.join("chip.sim"), &["write", s(&file)]).fails(3, "needs the address");
    run_sim("f103", &dir.join("chip.sim"), &["--format", "binary", "write", s(&file)]).fails(2, "write <path> <addr>");
}

#[test]
fn elf_to_flash_then_read_back() {
    let dir = temp_dir("elf-flash");
    let code = pattern(3000, 6);
    let file = dir.join("fw.elf");
    std::fs::write(&file, arm_elf(0x0800_0101, &[(0x0800_0000, 0x0800_0000, &code)])).unwrap();
    let got = write_then_read(&dir.join("chip.sim"), &file, 0x0800_0000, code.len());
    assert_eq!(got, code);
}

// ---------------------------------------------------------------- 3. JSON

#[test]
fn json_write_and_read_documents() {
    let dir = temp_dir("json-rw");
    let state = dir.join("chip.sim");
    let file = dir.join("data.bin");
    std::fs::write(&file, pattern(3001, 7)).unwrap();
    let r = run_sim("f103", &state, &["--json", "write", s(&file), "0x20001000"]).ok();
    let doc = json(&r);
    assert!(!r.stdout.contains("st-flash 1.8.0"), "banner on stdout under --json");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(
        (doc["command"].as_str(), doc["result"].as_str(), doc["exit_code"].as_u64()),
        (Some("write"), Some("ok"), Some(0))
    );
    assert_eq!(doc["error"], Value::Null);
    assert_eq!(doc["time_source"], "modeled");
    assert!(doc["time_s"].as_f64().unwrap() > 0.0);
    assert_eq!(doc["probe"]["simulated"], true);
    assert_eq!(doc["target"]["dev_id"], 0x410);
    let w = &doc["write"];
    assert_eq!(w["ram_bytes"], 3001);
    assert_eq!(w["flash_bytes"], 0);
    assert_eq!(w["sectors_erased"], serde_json::json!([]));
    assert_eq!(w["sectors_skipped"], serde_json::json!([]));
    assert_eq!(w["verified"], true);
    assert_eq!(w["verify_method"], "read-back");
    assert_eq!(doc["input"]["format"], "binary");

    let out = dir.join("out.hex");
    let r = run_sim("f103", &state, &["--format", "ihex", "read", s(&out), "0x20001000", "3001", "--json"]).ok();
    let doc = json(&r);
    assert_eq!(
        doc["read"],
        serde_json::json!({ "file": s(&out), "address": 0x2000_1000u32, "bytes": 3001, "format": "ihex" })
    );
}

#[test]
fn flash_is_verified_by_crc_unless_readback_is_asked_for() {
    let dir = temp_dir("verify");
    let state = dir.join("chip.sim");
    let file = dir.join("fw.bin");
    std::fs::write(&file, pattern(6000, 8)).unwrap();
    let r = run_sim("f103", &state, &["--json", "write", s(&file), "0x08000000"]).ok();
    assert_eq!(json(&r)["write"]["verify_method"], "crc-peripheral");
    std::fs::write(&file, pattern(6000, 9)).unwrap();
    let r = run_sim("f103", &state, &["--json", "--verify=readback", "write", s(&file), "0x08000000"]).ok();
    assert_eq!(json(&r)["write"]["verify_method"], "read-back");
    let r = run_sim("f103", &state, &["--verify", "readback", "write", s(&file), "0x08000000"]).ok();
    assert!(r.stderr.contains("verified by read-back") || r.stdout.contains("verified by read-back"), "{r:?}");
}

#[test]
fn json_failures_carry_the_error_kind_and_exit_code() {
    let dir = temp_dir("json-err");
    let state = dir.join("chip.sim");
    // Before connecting: input error.
    let r = run_sim("f103", &state, &["--json", "write", "/nonexistent/fw.elf"]);
    assert_eq!(r.code, 3);
    let doc = json(&r);
    assert_eq!((doc["result"].as_str(), doc["exit_code"].as_u64()), (Some("error"), Some(3)));
    assert_eq!(doc["error"]["kind"], "input");
    assert!(doc["error"]["message"].as_str().unwrap().contains("no such file"));
    assert_eq!(doc["probe"], Value::Null);
    // After connecting: the operation is refused (a range that does not cover
    // whole pages); the probe and target are known.
    let r = run_sim("f103", &state, &["--json", "erase", "0x08000200", "0x400"]);
    let doc = json(&r);
    assert_eq!(r.code, 3);
    assert_eq!(doc["exit_code"].as_u64(), Some(3));
    assert_eq!(doc["result"], "error");
    assert_eq!(doc["error"]["kind"], "input");
    assert_eq!(doc["target"]["chip"], "STM32F1xx_MD");
    // No probe at all.
    let r = run(&["--json", "reset"], &[]);
    assert_eq!(r.code, 4);
    assert_eq!(json(&r)["error"]["kind"], "no-probe");
    // The command line itself is wrong: still one document, exit 2.
    let r = run(&["--json", "read", "f", "08000000", "4"], &[]);
    assert_eq!(r.code, 2);
    let doc = json(&r);
    assert_eq!((doc["command"].as_str(), doc["error"]["kind"].as_str()), (Some("read"), Some("usage")));
    assert!(doc["error"]["message"].as_str().unwrap().contains("invalid address 08000000"), "{doc}");
}

// ---------------------------------------------------------------- 4. completions and man page

#[test]
fn completions_are_generated_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let r = run(&["completions", shell], &[]).ok();
        for word in ["--area", "--connect-under-reset", "--json", "info", "--chipid"] {
            let bare = word.trim_start_matches('-');
            assert!(
                r.stdout.contains(word)
                    || r.stdout.contains(&format!("'{bare}'"))
                    || r.stdout.contains(&format!("-l {bare}")),
                "{shell} completions lack {word}"
            );
        }
    }
    let r = run(&["completions", "bash", "--name", "st-flash"], &[]).ok();
    assert!(r.stdout.contains("st-flash"), "{}", r.stdout);
    run(&["completions", "tcsh"], &[]).fails(2, "tcsh");
}

/// What bash completes for `words` (the last one being completed), with
/// the script `stflash completions bash` prints.
#[cfg(unix)]
fn bash_completes(words: &[&str]) -> Vec<String> {
    let dir = temp_dir("bash-completion");
    let script = dir.join("stflash.bash");
    std::fs::write(&script, run(&["completions", "bash"], &[]).ok().stdout).unwrap();
    // Files that file-name completion would offer.
    for f in ["main.bin", "auto.hex", "binary.elf"] {
        std::fs::write(dir.join(f), b"").unwrap();
    }
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; _stflash stflash \"${{COMP_WORDS[COMP_CWORD]}}\" \
         \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let out = std::process::Command::new("bash").arg("-c").arg(program).current_dir(&dir).output().expect("bash");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

#[cfg(unix)]
#[test]
fn bash_completes_the_commands_and_the_values_of_area_format_and_verify() {
    let first = bash_completes(&["stflash", ""]);
    for command in ["read", "write", "erase", "reset", "info", "completions", "man"] {
        assert!(first.iter().any(|w| w == command), "{command} not offered: {first:?}");
    }
    // After options too.
    let after = bash_completes(&["stflash", "--reset", "w"]);
    assert_eq!(after, ["write"]);
    let area = bash_completes(&["stflash", "--area", ""]);
    assert_eq!(area, ["main", "system", "otp", "option", "option_boot_add", "optcr", "optcr1"]);
    assert_eq!(bash_completes(&["stflash", "--area", "opt"]), ["option", "option_boot_add", "optcr", "optcr1"]);
    assert_eq!(bash_completes(&["stflash", "--format", ""]), ["binary", "ihex"]);
    assert_eq!(bash_completes(&["stflash", "--verify", ""]), ["auto", "readback"]);
    assert_eq!(bash_completes(&["stflash", "completions", "z"]), ["zsh"]);
}

/// The `--option` words of a text.
fn option_words(text: &str) -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    for (i, _) in text.match_indices("--") {
        let name: String =
            text[i + 2..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-').collect();
        let before = text[..i].chars().next_back();
        if !name.is_empty() && !before.is_some_and(|c| c.is_alphanumeric() || c == '-') {
            words.insert(format!("--{}", name.trim_end_matches('-')));
        }
    }
    words
}

/// The command words of the command lines in a text ("stflash [options] read …").
fn command_words(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.trim().trim_start_matches("usage:").trim().strip_prefix("stflash "))
        .filter_map(|rest| rest.split_whitespace().find(|w| !w.starts_with(['[', '-', '<'])))
        .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .map(str::to_string)
        .collect()
}

#[test]
fn help_and_man_page_list_the_same_options_and_commands_as_the_definition() {
    let help = run(&["--help"], &[]).ok().stdout;
    let r = run(&["man"], &[]).ok();
    assert!(r.stdout.starts_with(".ie") || r.stdout.starts_with(".TH"), "roff expected");
    let man = r.stdout.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace("\\fI", "");
    // What the definition has: every long option (extension commands' too) and command.
    let cmd = stflash_cli::args::command();
    let subs: Vec<&clap::Command> = cmd.get_subcommands().collect();
    let defined: BTreeSet<String> = cmd
        .get_arguments()
        .chain(subs.iter().flat_map(|s| s.get_arguments()))
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    let commands: BTreeSet<String> = subs.iter().map(|s| s.get_name().to_string()).collect();
    // (The FILES section's udev install line has udevadm's options.)
    let man_options = option_words(&man[..man.find(".SH FILES").expect("FILES section")]);
    assert_eq!(option_words(&help), man_options, "options in --help (left) and the man page (right)");
    assert_eq!(option_words(&help), defined, "options in --help (left) and the definition (right)");
    assert_eq!(command_words(&help), command_words(&man), "commands in --help (left) and the man page (right)");
    assert_eq!(command_words(&help), commands, "commands in --help (left) and the definition (right)");
    assert!(man.contains("EXIT STATUS") && man.contains(stflash::UDEV_INSTALL_HINT.split(' ').nth(2).unwrap()));
    // st-flash's usage shape: the synopsis first, st-flash's commands, lower-case headings.
    assert!(help.starts_with("usage: stflash [options] read <file> <addr> <size>\n"), "{help}");
    for line in ["       stflash [options] erase [<addr> <size>]\n", "\noptions:\n", "\nexamples:\n"] {
        assert!(help.contains(line), "--help lacks {line:?}:\n{help}");
    }
}

// ---------------------------------------------------------------- 5. udev

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

#[test]
fn udev_rules_cover_every_st_link_pid_for_the_user_and_plugdev() {
    let rules = std::fs::read_to_string(repo_file("udev/60-stflash.rules")).unwrap();
    let loaders = [0x374d, 0x3755];
    for pid in ProbeKind::PIDS.iter().map(|p| p.0).chain(loaders) {
        let needle = format!("ATTRS{{idProduct}}==\"{pid:04x}\"");
        let line = rules
            .lines()
            .find(|l| !l.trim_start().starts_with('#') && l.contains(&needle))
            .unwrap_or_else(|| panic!("no rule for PID 0x{pid:04x}"));
        assert!(line.contains("ATTRS{idVendor}==\"0483\""), "{line}");
        assert!(line.contains("TAG+=\"uaccess\""), "{line}");
        assert!(line.contains("GROUP=\"plugdev\""), "{line}");
    }
    // The install line copies the file that exists in the repository.
    assert!(stflash::UDEV_INSTALL_HINT.contains("udev/60-stflash.rules"));
    assert!(rules.contains(stflash::UDEV_INSTALL_HINT), "the rules file shows the install line");
}

#[test]
fn permission_denied_tells_how_to_install_the_rules() {
    let e = TransportError::Permission { location: "001:007".into() };
    let err = stflash::Error::from(e);
    assert_eq!(err.kind, stflash::ErrorKind::NoProbe);
    assert!(err.message.contains("permission denied"), "{}", err.message);
    assert!(err.message.contains(stflash::UDEV_INSTALL_HINT), "{}", err.message);
}

// ---------------------------------------------------------------- 6. invoked as st-flash

/// The binary under the name `st-flash`. On Unix a symbolic link: the test
/// never opens an executable for writing, so no process forked meanwhile by
/// another test thread can hold a writable descriptor of it (running a
/// freshly copied binary fails with ETXTBSY, "Text file busy", when that
/// happens). Windows has no such failure; there it is a copy.
fn named_st_flash(dir: &Path) -> PathBuf {
    let original = Path::new(env!("CARGO_BIN_EXE_stflash"));
    let name = if cfg!(windows) { "st-flash.exe" } else { "st-flash" };
    let path = dir.join(name);
    #[cfg(unix)]
    std::os::unix::fs::symlink(original, &path).unwrap();
    #[cfg(not(unix))]
    std::fs::copy(original, &path).unwrap();
    path
}

#[test]
fn invoked_as_st_flash_it_behaves_exactly_as_stflash() {
    let dir = temp_dir("as-st-flash");
    let input = dir.join("in.bin");
    std::fs::write(&input, pattern(256, 8)).unwrap();
    let exe = named_st_flash(&dir);
    let cases: Vec<(Vec<String>, bool)> = vec![
        (vec![], false),
        (vec!["--version".into()], false),
        (vec!["--help".into()], false),
        (vec!["read".into(), "f".into(), "08000000".into(), "4".into()], false),
        (vec!["write".into(), s(&input).into(), "0x20000100".into()], true),
        (vec!["read".into(), s(&dir.join("out.bin")).into(), "0x20000100".into(), "256".into()], true),
        (vec!["info".into(), "--chipid".into()], true),
    ];
    for (args, sim) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let a = dir.join("a.sim");
        let b = dir.join("b.sim");
        let spec = |p: &Path| format!("f103:{}", p.display());
        let (env_a, env_b) = (spec(&a), spec(&b));
        let (ea, eb) = ([("STFLASH_SIM", env_a.as_str())], [("STFLASH_SIM", env_b.as_str())]);
        let ours = run(&args, if sim { &ea } else { &[] });
        let theirs = run_exe(&exe, &args, if sim { &eb } else { &[] });
        assert_eq!((ours.code, &ours.stdout), (theirs.code, &theirs.stdout), "{} {args:?}", exe.display());
    }
    assert_eq!(std::fs::read(dir.join("out.bin")).unwrap(), pattern(256, 8));
}

// ---------------------------------------------------------------- 7. summary line and --quiet

#[test]
fn write_and_read_end_with_one_summary_line() {
    let dir = temp_dir("summary");
    let state = dir.join("chip.sim");
    let file = dir.join("data.bin");
    std::fs::write(&file, pattern(3001, 10)).unwrap();
    let r = run_sim("f103", &state, &["write", s(&file), "0x20001000"]).ok();
    let summary: Vec<&str> = r.stderr.lines().filter(|l| l.contains(" write: ")).collect();
    assert_eq!(summary.len(), 1, "{}", r.stderr);
    let line = summary[0];
    assert!(line.contains("write: 3001 bytes to RAM in "), "{line}");
    assert!(line.contains(" KiB/s, modeled time)"), "{line}");
    assert!(line.ends_with("verified by read-back"), "{line}");
    assert!(r.stderr.lines().last().unwrap().contains(" write: "), "the summary comes last:\n{}", r.stderr);
    let out = dir.join("out.bin");
    let r = run_sim("f103", &state, &["read", s(&out), "0x20001000", "3001"]).ok();
    let last = r.stderr.lines().last().unwrap();
    assert!(last.contains("read: 3001 bytes in ") && last.contains("KiB/s"), "{last}");
}

#[test]
fn quiet_prints_nothing_but_errors() {
    let dir = temp_dir("quiet");
    let state = dir.join("chip.sim");
    let file = dir.join("data.bin");
    std::fs::write(&file, pattern(100, 11)).unwrap();
    let r = run_sim("f103", &state, &["--quiet", "write", s(&file), "0x20001000"]).ok();
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
    let out = dir.join("out.bin");
    let r = run_sim("f103", &state, &["read", s(&out), "0x20001000", "100", "--quiet"]).ok();
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
    let r = run_sim("f103", &state, &["--quiet", "write", s(&file), "0x30000000"]);
    assert_eq!(r.code, 3);
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
}
