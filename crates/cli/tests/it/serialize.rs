//! Unique IDs and small values: `info --uid`, `uid` in every JSON document,
//! `write --data ADDR=VALUE`, serial numbers from a template and a counter.

use std::path::Path;

use crate::common::{arg, flash_of, journal_dir, pattern, prefill, run, temp_dir, write_file, Run};
use serde_json::Value;

const UID: &str = "0123456789ABCDEF01234567";

pub fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}\nstderr:\n{}", r.stdout, r.stderr))
}

/// A fresh f103 with flash filled with a pattern.
fn board(dir: &Path) -> std::path::PathBuf {
    prefill("f103", dir, "", &[(0x0800_0000, &pattern(64 * 1024, 1))])
}

/// Run on the f103 kept in `state`, whose unique ID is [`UID`].
fn run_board(state: &Path, args: &[&str]) -> Run {
    let spec = format!("f103:{}", state.display());
    let journal = journal_dir(state);
    let opts = format!("uid={UID}");
    run(args, &[("STFLASH_SIM", &spec), ("STFLASH_STATE_DIR", &journal), ("STFLASH_SIM_OPTS", &opts)])
}

// ---------------------------------------------------------------- unique ID

#[test]
fn info_uid_prints_the_unique_id_in_address_order() {
    let dir = temp_dir("uid-info");
    let state = board(&dir);
    let r = run_board(&state, &["info", "--uid"]).ok();
    assert_eq!(r.stdout, format!("{UID}\n"));
    // The listing and info's JSON carry it too.
    let r = run_board(&state, &["info"]).ok();
    assert!(r.stdout.contains(&format!("   UID        {UID}\n")), "{}", r.stdout);
    let r = run_board(&state, &["info", "--json"]).ok();
    assert_eq!(json(&r)["probes"][0]["target"]["uid"], UID);
    // The bytes are those at UID_BASE (0x1FFFF7E8 on the F103), in address order.
    let out = dir.join("uid.bin");
    run_board(&state, &["read", arg(&out), "0x1FFFF7E8", "12"]).ok();
    let bytes: String = std::fs::read(&out).unwrap().iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(bytes, UID);
}

#[test]
fn every_command_names_the_uid_in_its_json() {
    let dir = temp_dir("uid-json");
    let state = board(&dir);
    let file = write_file(&dir, "fw.bin", &pattern(100, 2));
    let out = dir.join("out.bin");
    for args in [
        &["--json", "write", &file, "0x08000000"][..],
        &["--json", "read", arg(&out), "0x08000000", "16"],
        &["--json", "erase", "0x08001000", "0x400"],
        &["--json", "reset"],
        &["--json", "--area=option", "read"],
    ] {
        let r = run_board(&state, args).ok();
        assert_eq!(json(&r)["target"]["uid"], UID, "{args:?}");
    }
}

// ---------------------------------------------------------------- --data

#[test]
fn data_writes_words_and_bytes_and_keeps_every_other_byte() {
    let dir = temp_dir("data");
    let state = board(&dir);
    let before = flash_of(&state, 0x0800_0000, 64 * 1024);
    let r = run_board(
        &state,
        &["write", "--data", "0x08007FF0=0x12345678,0x08007FF6=hex:DEADBEEF01", "--data", "0x0800A001=7"],
    )
    .ok();
    assert!(r.stderr.contains("jolly good"), "{}", r.stderr);
    let mut want = before.clone();
    want[0x7FF0..0x7FF4].copy_from_slice(&[0x78, 0x56, 0x34, 0x12]);
    want[0x7FF6..0x7FFB].copy_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF, 0x01]);
    want[0xA001..0xA005].copy_from_slice(&[7, 0, 0, 0]);
    assert_eq!(flash_of(&state, 0x0800_0000, 64 * 1024), want, "only the named bytes changed");
}

#[test]
fn data_goes_over_a_file_and_into_ram() {
    let dir = temp_dir("data-over");
    let state = board(&dir);
    let image = vec![0xFFu8; 2048];
    let file = write_file(&dir, "fw.bin", &image);
    let r = run_board(
        &state,
        &["--json", "write", &file, "0x08000000", "--data", "0x08000010=hex:0102,0x20001000=0xCAFEF00D"],
    )
    .ok();
    let mut want = image;
    want[0x10..0x12].copy_from_slice(&[1, 2]);
    assert_eq!(flash_of(&state, 0x0800_0000, 2048), want);
    assert_eq!(flash_of(&state, 0x2000_1000, 4), 0xCAFE_F00Du32.to_le_bytes());
    let doc = json(&r);
    assert_eq!(doc["input"]["data"][0]["address"], 0x0800_0010);
    assert_eq!(doc["input"]["data"][1]["size"], 4);
    assert_eq!(doc["write"]["ram_bytes"], 4);
    // Data alone: no file in the JSON.
    let r = run_board(&state, &["--json", "write", "--data", "0x08000020=1"]).ok();
    assert_eq!(json(&r)["input"]["file"], Value::Null);
}

#[test]
fn bad_data_is_refused_before_the_probe_is_opened() {
    for (args, want) in [
        (&["write", "--data", "0x08000000=1,0x08000002=hex:AA"][..], "twice"),
        (&["write", "--data", "0x08000000"], "not ADDR=VALUE"),
        (&["write", "--data", "0x08000000=hex:ABC"], "odd number"),
        (&["erase", "--data", "0x08000000=1"], "--data applies to write"),
        (&["--area=option", "write", "0xAA", "--data", "0x08000000=1"], "--data applies to write"),
        (&["info", "--data", "0x08000000=1"], "--data does not apply to info"),
    ] {
        run(args, &[]).fails(2, want);
    }
}

// ---------------------------------------------------------------- serial numbers

#[test]
fn a_serial_number_from_the_template_and_the_counter() {
    let dir = temp_dir("sn-one");
    let state = board(&dir);
    let before = flash_of(&state, 0x0800_0000, 64 * 1024);
    let counter = dir.join("sn.txt");
    std::fs::write(&counter, "41\n").unwrap();
    let log = dir.join("prod.log");
    let args = [
        "--json",
        "write",
        "--serial-template",
        "0x0800FC00=SN-{counter:6}/{uid}{nul}",
        "--serial-counter",
        arg(&counter),
        "--log",
        arg(&log),
    ];
    let r = run_board(&state, &args).ok();
    let want = format!("SN-000041/{UID}\0");
    let mut flash = before.clone();
    flash[0xFC00..0xFC00 + want.len()].copy_from_slice(want.as_bytes());
    assert_eq!(flash_of(&state, 0x0800_0000, 64 * 1024), flash, "the serial number, every other byte kept");
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "42\n", "committed after the verified write");
    let doc = json(&r);
    assert_eq!(doc["serial_number"]["text"], format!("SN-000041/{UID}"));
    assert_eq!(doc["serial_number"]["counter"], 41);
    assert_eq!(doc["serial_number"]["bytes"].as_str().unwrap().len(), 2 * want.len());
    let line: Value = serde_json::from_str(std::fs::read_to_string(&log).unwrap().trim()).unwrap();
    assert_eq!((line["uid"].as_str(), line["serial_number"]["counter"].as_u64()), (Some(UID), Some(41)));
    assert_eq!(line["result"], "ok");
    // The next board (here: the same chip again) gets the next number.
    run_board(&state, &args).ok();
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "43\n");
}

#[test]
fn a_number_that_may_have_reached_a_chip_goes_to_no_other_chip() {
    let dir = temp_dir("sn-crash");
    let state = board(&dir);
    let counter = dir.join("sn.txt");
    // A run that died between its write and its commit left 7 pending for
    // this chip, and 9 for another.
    std::fs::write(&counter, format!("10\npending 7 {UID}\npending 9 FFFFFFFFFFFFFFFFFFFFFFFF\n")).unwrap();
    let args = ["write", "--serial-template", "0x0800FC00={counter:le32}", "--serial-counter", arg(&counter)];
    run_board(&state, &args).ok();
    assert_eq!(flash_of(&state, 0x0800_FC00, 4), 7u32.to_le_bytes(), "this chip's number again");
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "10\npending 9 FFFFFFFFFFFFFFFFFFFFFFFF\n");
    // A write that fails mid-way keeps the number pending for the chip.
    let spec = format!("f103@disconnect-after=40:{}", state.display());
    let opts = format!("uid={UID}");
    let journal = journal_dir(&state);
    let env = [("STFLASH_SIM", spec.as_str()), ("STFLASH_SIM_OPTS", &opts), ("STFLASH_STATE_DIR", &journal)];
    run(&args, &env).fails(9, "disconnected");
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap(),
        format!("11\npending 9 FFFFFFFFFFFFFFFFFFFFFFFF\npending 10 {UID}\n")
    );
}

#[test]
fn serial_options_are_checked_before_the_probe_is_opened() {
    let dir = temp_dir("sn-bad");
    let missing = dir.join("none.txt");
    run(&["write", "--serial-template", "0x0800FC00={counter}", "--serial-counter", arg(&missing)], &[])
        .fails(3, "no such file; create it with the first number");
    for (args, want) in [
        (&["write", "--serial-template", "0x0800FC00={counter}"][..], "--serial-counter FILE"),
        (&["write", "--serial-template", "0x0800FC00={uid}", "--serial-counter", "x"], "has no {counter}"),
        (&["write", "--serial-template", "SN-{uid}"], "not ADDR=TEMPLATE"),
        (&["write", "--serial-template", "0x0800FC00=SN-{lot}"], "unknown placeholder {lot}"),
        (&["erase", "--serial-template", "0x0800FC00={uid}"], "applies to write"),
        (&["write", "--data", "0x08000000=1", "--serial-counter", "x"], "goes with --serial-template"),
    ] {
        run(args, &[]).fails(2, want);
    }
}
