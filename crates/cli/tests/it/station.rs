//! Production stations: one command on several simulated probes at once
//! (`--all-probes`, `--serial A,B`), one of them failing mid-run while the
//! others complete; `--log`; serial numbers from a shared counter.

use std::path::{Path, PathBuf};

use crate::common::{arg, flash_of, pattern, run, temp_dir, write_file, Run};
use crate::serialize::json;
use serde_json::Value;

const SERIAL_1: &str = "53494D4B0000000000000001";
const SERIAL_2: &str = "53494D4B0000000000000002";
const SERIAL_3: &str = "53494D4B0000000000000003";

/// `n` f103 boards in `dir` (`b1.sim`…), the `faulty`-th (1-based) with
/// `faults` of its own.
fn station(dir: &Path, n: usize, faulty: Option<(usize, &str)>) -> String {
    (1..=n)
        .map(|i| {
            let own = match faulty {
                Some((f, faults)) if f == i => format!("@{faults}"),
                _ => String::new(),
            };
            format!("f103{own}:{}", dir.join(format!("b{i}.sim")).display())
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn state(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("b{i}.sim"))
}

fn run_station(dir: &Path, sim: &str, args: &[&str]) -> Run {
    let journal = dir.join("journal");
    run(args, &[("STFLASH_SIM", sim), ("STFLASH_STATE_DIR", journal.to_str().unwrap())])
}

#[test]
fn all_probes_writes_every_board_in_parallel_and_one_failing_board_stops_no_other() {
    let dir = temp_dir("station-fail");
    let image = pattern(24 * 1024, 1);
    let file = write_file(&dir, "fw.bin", &image);
    // Board 2 is cut off in the middle of its write.
    let sim = station(&dir, 3, Some((2, "disconnect-after=8KiB")));
    let log = dir.join("station.log");
    let r = run_station(&dir, &sim, &["--all-probes", "write", &file, "0x08000000", "--log", arg(&log)]);
    assert_eq!(r.code, 9, "the failing board's exit code\n{}\n{}", r.stdout, r.stderr);
    // One line per board (in the order they finished), then the summary.
    let lines: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("board ")).collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    for (i, serial) in [(1, SERIAL_1), (2, SERIAL_2), (3, SERIAL_3)] {
        let line = lines.iter().find(|l| l.starts_with(&format!("board {i}/3  {serial}  STM32F1xx_MD  UID "))).unwrap();
        let want = if i == 2 { "FAILED (exit 9, probe-io)" } else { "  ok  " };
        assert!(line.contains(want), "{line}");
    }
    assert!(r.stdout.contains("3 boards: 2 ok, 1 failed in "), "{}", r.stdout);
    assert!(r.stderr.contains(&format!("error: board 2/3 ({SERIAL_2}): the ST-LINK was disconnected")), "{}", r.stderr);
    // The others were written completely and verified.
    for i in [1, 3] {
        assert_eq!(flash_of(&state(&dir, i), 0x0800_0000, image.len()), image, "board {i}");
    }
    assert_ne!(flash_of(&state(&dir, 2), 0x0800_0000, image.len()), image, "board 2 was cut off");
    // The log: one line per board with what a station needs to trace it.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    let crc = format!("{:08x}", crc32(&image));
    for l in &lines {
        assert_eq!(l["file"], file.as_str());
        assert_eq!(l["file_crc32"], crc.as_str());
        assert_eq!(l["chip"], "STM32F1xx_MD");
        assert_eq!(l["uid"].as_str().map(str::len), Some(24));
        assert!(l["time"].as_str().unwrap().ends_with('Z'));
        let failed = l["probe"] == SERIAL_2;
        assert_eq!(l["result"], if failed { "error" } else { "ok" });
        assert_eq!(l["error_kind"], if failed { Value::from("probe-io") } else { Value::Null });
    }
    // The same command again, without the fault: the cut-off board is
    // finished, the others are left alone (their sectors already hold it).
    let sim = station(&dir, 3, None);
    let r = run_station(&dir, &sim, &["--all-probes", "--json", "write", &file, "0x08000000", "--log", arg(&log)]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for i in 1..=3 {
        assert_eq!(flash_of(&state(&dir, i), 0x0800_0000, image.len()), image, "board {i}");
    }
    let doc = json(&r);
    assert_eq!(doc["summary"], serde_json::json!({ "boards": 3, "ok": 3, "failed": 0 }));
    assert_eq!(doc["boards"][0]["write"]["programmed_bytes"], 0, "board 1 already held the image");
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 6, "appended");
}

fn crc32(bytes: &[u8]) -> u32 {
    stflash::ops::journal::crc32(bytes)
}

#[test]
fn json_has_one_document_with_every_board_and_every_exit_code() {
    let dir = temp_dir("station-json");
    let sim = station(&dir, 3, Some((3, "no-target")));
    let r = run_station(&dir, &sim, &["--all-probes", "--json", "erase", "0x08000000", "0x1000"]);
    assert_eq!(r.code, 5);
    let doc = json(&r);
    assert_eq!(doc["command"], "erase");
    assert_eq!(doc["exit_code"], 5);
    assert_eq!(doc["error"]["kind"], "no-target");
    assert!(doc["error"]["message"].as_str().unwrap().starts_with("1 of 3 boards failed; the first, board 3"));
    let boards = doc["boards"].as_array().unwrap();
    assert_eq!(boards.len(), 3);
    for (i, b) in boards.iter().enumerate() {
        assert_eq!(b["index"], i + 1, "in board order");
        assert_eq!(b["exit_code"], if i == 2 { 5 } else { 0 });
        assert!(b.get("schema_version").is_none());
    }
    assert_eq!(boards[0]["probe_serial"], SERIAL_1);
    assert_eq!(boards[0]["erase"]["bytes"], 4096);
    assert_eq!(boards[0]["target"]["uid"].as_str().map(str::len), Some(24));
    assert_eq!(boards[2]["target"], Value::Null);
    // Nothing else on stdout: the board lines are not printed with --json.
    assert_eq!(r.stdout.lines().count(), 1);
}

#[test]
fn serial_lists_choose_the_boards_and_their_order() {
    let dir = temp_dir("station-serials");
    let data = pattern(1024, 3);
    let file = write_file(&dir, "fw.bin", &data);
    let sim = station(&dir, 3, None);
    let list = format!("{SERIAL_3},{SERIAL_1}");
    let r = run_station(&dir, &sim, &["--serial", &list, "--json", "write", &file, "0x08002000"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = json(&r);
    assert_eq!(doc["boards"][0]["probe_serial"], SERIAL_3);
    assert_eq!(doc["boards"][1]["probe_serial"], SERIAL_1);
    assert_eq!(flash_of(&state(&dir, 3), 0x0800_2000, 1024), data);
    assert_eq!(flash_of(&state(&dir, 1), 0x0800_2000, 1024), data);
    assert!(!state(&dir, 2).exists(), "board 2 was not chosen: its probe was not even opened");
    // A listed probe that is not connected is a failed board; the others run.
    let list = format!("{SERIAL_1},0000000000000000000000FF");
    let r = run_station(&dir, &sim, &["--serial", &list, "--json", "reset"]);
    assert_eq!(r.code, 4);
    let doc = json(&r);
    assert_eq!(doc["boards"][0]["result"], "ok");
    assert_eq!(doc["boards"][1]["error"]["kind"], "no-probe");
    assert_eq!(doc["boards"][1]["probe_serial"], "0000000000000000000000FF");
}

#[test]
fn several_probes_are_for_commands_that_change_boards() {
    run(&["--all-probes", "read", "x.bin", "0x08000000", "4"], &[]).fails(2, "one probe at a time");
    run(&["--all-probes", "checksum", "0x08000000", "4"], &[]).fails(2, "run reads and checksums one probe at a time");
    run(&["--all-probes", "--serial", "A", "erase"], &[]).fails(2, "give one");
    run(&["--serial", "A,B,a", "erase"], &[]).fails(2, "names a twice");
    // No probe at all.
    run(&["--all-probes", "erase"], &[]).fails(4, "no ST-LINK");
}

#[test]
fn ctrl_c_stops_every_board_at_a_safe_point() {
    let dir = temp_dir("station-ctrl-c");
    let image = pattern(48 * 1024, 4);
    let file = write_file(&dir, "fw.bin", &image);
    let sim = station(&dir, 3, Some((2, "interrupt-after=16KiB")));
    let r = run_station(&dir, &sim, &["--all-probes", "--json", "write", &file, "0x08000000"]);
    assert_eq!(r.code, 130, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    let boards = doc["boards"].as_array().unwrap();
    assert_eq!(boards.len(), 3);
    assert_eq!(boards[1]["error"]["kind"], "interrupted");
    for b in boards {
        assert!(b["result"] == "ok" || b["error"]["kind"] == "interrupted", "{b}");
    }
    // Every board is left in a state the next run completes.
    let sim = station(&dir, 3, None);
    run_station(&dir, &sim, &["--all-probes", "write", &file, "0x08000000"]).ok();
    for i in 1..=3 {
        assert_eq!(flash_of(&state(&dir, i), 0x0800_0000, image.len()), image, "board {i}");
    }
}

// ---------------------------------------------------------------- serial numbers

#[test]
fn each_board_gets_its_own_serial_number_and_a_failed_one_keeps_its_number() {
    let dir = temp_dir("station-sn");
    let counter = dir.join("sn.txt");
    std::fs::write(&counter, "1000\n").unwrap();
    let file = write_file(&dir, "fw.bin", &pattern(8 * 1024, 5));
    let template = "0x0800FC00=SN-{counter:6}-{uid}{nul}";
    let args = |json: bool| {
        let mut a = vec!["--all-probes", "write", &file, "0x08000000", "--serial-template", template];
        a.extend(["--serial-counter", arg(&counter)]);
        if json {
            a.push("--json");
        }
        a
    };
    let sim = station(&dir, 3, Some((3, "disconnect-after=6KiB")));
    let r = run_station(&dir, &sim, &args(true));
    assert_eq!(r.code, 9, "{}", r.stderr);
    let doc = json(&r);
    let mut numbers = Vec::new();
    for (i, b) in doc["boards"].as_array().unwrap().iter().enumerate() {
        let sn = &b["serial_number"];
        let n = sn["counter"].as_u64().unwrap();
        let uid = b["target"]["uid"].as_str().unwrap();
        let text = format!("SN-{n:06}-{uid}");
        assert_eq!(sn["text"], text.as_str());
        assert_eq!(sn["address"], 0x0800_FC00);
        if i < 2 {
            let mut want = text.into_bytes();
            want.push(0);
            assert_eq!(flash_of(&state(&dir, i + 1), 0x0800_FC00, want.len()), want, "board {}", i + 1);
        }
        numbers.push(n);
    }
    numbers.sort();
    assert_eq!(numbers, vec![1000, 1001, 1002], "one number each");
    // The failed board's number stays reserved for its chip.
    let failed_n = doc["boards"][2]["serial_number"]["counter"].as_u64().unwrap();
    let failed_uid = doc["boards"][2]["target"]["uid"].as_str().unwrap().to_string();
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), format!("1003\npending {failed_n} {failed_uid}\n"));
    // Again without the fault: the two good boards get new numbers (their
    // write is a new serialisation), the failed one its reserved number.
    let sim = station(&dir, 3, None);
    let r = run_station(&dir, &sim, &args(true));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = json(&r);
    assert_eq!(doc["boards"][2]["serial_number"]["counter"].as_u64(), Some(failed_n));
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "1005\n");
}

#[test]
fn concurrent_stations_sharing_a_counter_never_reuse_a_number() {
    let dir = temp_dir("station-two");
    let counter = dir.join("sn.txt");
    std::fs::write(&counter, "1\n").unwrap();
    let file = write_file(&dir, "fw.bin", &pattern(2048, 6));
    let log = dir.join("shared.log");
    let spawn = |name: &str| {
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let sim = station(&sub, 3, None);
        let mut c = crate::common::stflash();
        c.args(["--all-probes", "--quiet", "write", &file, "0x08000000"]);
        c.args(["--serial-template", "0x0800FC00={counter:le32}", "--serial-counter", arg(&counter)]);
        c.args(["--log", arg(&log)]);
        c.env("STFLASH_SIM", sim).env("STFLASH_STATE_DIR", sub.join("journal"));
        c.spawn().unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    for mut child in [a, b] {
        assert!(child.wait().unwrap().success());
    }
    let mut numbers: Vec<u32> = ["a", "b"]
        .iter()
        .flat_map(|s| {
            let dir = dir.join(s);
            (1..=3).map(move |i| u32::from_le_bytes(flash_of(&state(&dir, i), 0x0800_FC00, 4).try_into().unwrap()))
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=6).collect::<Vec<_>>());
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "7\n");
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(lines.lines().count(), 6, "{lines}");
    assert!(lines.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()), "whole lines, never interleaved");
}

#[test]
fn option_writes_run_on_every_board() {
    let dir = temp_dir("station-options");
    let sim = (1..=2).map(|i| format!("stm32h7b0vb:{}", state(&dir, i).display())).collect::<Vec<_>>().join(";");
    let r = run_station(&dir, &sim, &["--all-probes", "--json", "--area=option", "write", "BOR_LEV=2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = json(&r);
    for b in doc["boards"].as_array().unwrap() {
        assert_eq!(b["options"]["written"], true);
        let bor = b["options"]["words"].as_array().unwrap().iter().find_map(|w| w["fields"].get("BOR_LEV").cloned());
        assert_eq!(bor, Some(Value::from(2)), "{b}");
    }
    // Each board reads back the new value on its own.
    for serial in [SERIAL_1, SERIAL_2] {
        let r = run_station(&dir, &sim, &["--serial", serial, "--json", "--area=option", "read"]);
        let doc = json(&r);
        let bor = doc["options"]["words"].as_array().unwrap().iter().find_map(|w| w["fields"].get("BOR_LEV").cloned());
        assert_eq!(bor, Some(Value::from(2)), "{serial}");
    }
}
