//! End-to-end tests of the STM32L0/L1 data EEPROM: `write` places image
//! bytes that lie in it there (keeping the bytes around them, storing only
//! words that change, verifying), `read` reads it, and addresses past the
//! part's EEPROM are refused before anything is touched. The L053R8 (L0
//! cat.3, 2 KiB of EEPROM) and the L152RE (L1 cat.5, 16 KiB).

use crate::common::{arg, open_sim, pattern, Board};
use stflash::flash::NoProgress;
use stflash::ops::image::Image;
use stflash::ops::write;
use stflash_sim::SimSpec;

const EEPROM: u32 = 0x0808_0000;

/// An Intel HEX file holding every (address, data) segment.
fn ihex(segments: &[(u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (addr, data) in segments {
        let mut one = Vec::new();
        stflash::ops::image::write_ihex(*addr, data, &mut one).unwrap();
        let text = String::from_utf8(one).unwrap();
        for line in text.lines().filter(|l| !l.starts_with(":00000001FF")) {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    out.extend_from_slice(b":00000001FF\n");
    out
}

#[test]
fn l053_writes_an_image_into_the_eeprom_keeping_the_bytes_around_it() {
    let old = pattern(2048, 21);
    let b = Board::new("l053", "eeprom-l0", &[], &[(EEPROM, &old)]);
    // 37 bytes from 0x08080011: neither end on a word boundary (10 words,
    // 3 of their bytes kept).
    let image = pattern(37, 22);
    let f = b.file("cal.bin", &image);
    let out = b.run(&["write", arg(&f), "0x08080011"]).ok();
    let mut want = old.clone();
    want[0x11..0x11 + 37].copy_from_slice(&image);
    assert_eq!(b.peek(EEPROM, 2048), want, "only the image's bytes change");
    assert!(out.stderr.contains("write: 37 bytes to EEPROM"), "{}", out.stderr);
    assert!(out.stderr.contains("EEPROM: 10 words written, 0 unchanged, 3 bytes kept"), "{}", out.stderr);
    assert!(out.stderr.contains("verified by read-back"), "{}", out.stderr);
    assert!(!out.stdout.contains("pages written"), "no flash pages: {}", out.stdout);
    assert!(!out.stderr.contains("STM32L010x8"), "within the first 256 bytes: no value-line warning");

    // The same image again: every word already holds it, nothing is stored.
    let out = b.run(&["--json", "write", arg(&f), "0x08080011"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let e = &doc["write"]["eeprom"];
    assert_eq!(e["address"], EEPROM);
    assert_eq!(e["size"], 2048);
    assert_eq!(e["bytes"], 37);
    assert_eq!(e["words_written"], 0);
    assert_eq!(e["words_unchanged"], 10);
    assert_eq!(e["verify_method"], "read-back");
    assert_eq!(doc["write"]["flash_bytes"], 0);

    // read: the EEPROM is a region of its own (size 0 = to its end).
    let back = b.dir.join("back.bin");
    b.run(&["read", arg(&back), "0x08080000", "0"]).ok();
    assert_eq!(std::fs::read(&back).unwrap(), want);
    let out = b.run(&["read", arg(&back), "0x08080700", "0x200"]).ok();
    assert!(out.stderr.contains("clipped to 256 bytes: the region ends at 0x080807FF"), "{}", out.stderr);
}

#[test]
fn addresses_past_the_parts_eeprom_are_refused_before_anything_is_written() {
    let b = Board::new("l053", "eeprom-past", &[], &[]);
    let f = b.file("x.bin", &pattern(16, 1));
    let out = b.run(&["write", arg(&f), "0x080807F8"]).fails(3, "runs past the end of the data EEPROM");
    assert!(out.stderr.contains("2 KiB at 0x08080000-0x080807FF"), "{}", out.stderr);
    assert_eq!(b.peek(0x0808_07F8, 8), vec![0; 8], "nothing written");
    // An L152RE has 16 KiB there; no L0 cat.3 part has anything at 0x08081000.
    b.run(&["write", arg(&f), "0x08081000"]).fails(3, "nor in the data EEPROM (0x08080000-0x080807FF)");
    let back = b.dir.join("back.bin");
    b.run(&["read", arg(&back), "0x08081000", "16"]).fails(3, "bus fault");
    assert!(!back.exists(), "a failed read leaves no file");
}

#[test]
fn a_64_kib_l0_cat5_part_has_its_eeprom_in_bank_2_only() {
    // The library's choice, without a simulated part: the 64 KiB parts of
    // DEV_ID 0x447 have 3 KiB from 0x08080C00.
    let chip = stflash::chip::find(0x447).unwrap();
    let mut d = stflash::family::l0l1::driver::LpController::new(chip).unwrap();
    let area = stflash::flash::FlashController::eeprom(&mut d).unwrap().area(64);
    let e = area.refuse(EEPROM, 4).unwrap();
    assert!(e.contains("0x08080000 is not in the data EEPROM: this chip has 3 KiB at 0x08080C00-0x080817FF"), "{e}");
    assert_eq!(area.refuse(0x0808_0C00, 3 * 1024), None);
}

#[test]
fn a_write_past_what_a_value_line_part_has_is_warned_about_and_done() {
    let b = Board::new("l053", "eeprom-l010", &[], &[]);
    let data = pattern(64, 5);
    let f = b.file("x.bin", &data);
    let out = b.run(&["write", arg(&f), "0x080800E0"]).ok();
    assert!(
        out.stderr.contains("stflash cannot tell an STM32L010x8, whose EEPROM ends at 0x080800FF"),
        "{}",
        out.stderr
    );
    assert_eq!(b.peek(0x0808_00E0, 64), data);
}

#[test]
fn l152_writes_flash_and_eeprom_from_one_hex_file() {
    let b = Board::new("l152", "eeprom-l1", &[], &[(0x0808_3FF0, &[0x55; 16])]);
    let code = pattern(600, 31);
    let cal = pattern(10, 32);
    // The last word of the 16 KiB EEPROM is kept in part.
    let tail = [0xA1, 0xA2];
    let hex = ihex(&[(0x0800_0000, &code), (0x0808_0100, &cal), (0x0808_3FFC, &tail)]);
    let f = b.file("fw.hex", &hex);
    let out = b.run(&["write", arg(&f)]).ok();
    assert!(out.stderr.contains("write: 612 bytes (600 to flash, 12 to EEPROM)"), "{}", out.stderr);
    assert_eq!(b.peek(0x0800_0000, 600), code);
    assert_eq!(b.peek(0x0808_0100, 10), cal);
    assert_eq!(b.peek(0x0808_00FC, 4), vec![0; 4]);
    assert_eq!(b.peek(0x0808_3FFC, 4), vec![0xA1, 0xA2, 0x55, 0x55]);
    // Past the 16 KiB: refused.
    let f = b.file("past.bin", &[1; 8]);
    b.run(&["write", arg(&f), "0x08083FFC"]).fails(3, "16 KiB at 0x08080000-0x08083FFF");
}

#[test]
fn a_read_protected_chip_refuses_the_eeprom_with_the_reason() {
    let b = Board::new("l053", "eeprom-rdp", &[("rdp", "1")], &[]);
    let f = b.file("x.bin", &[1, 2, 3, 4]);
    b.run(&["write", arg(&f), "0x08080000"]).fails(6, "RDP level 1");
    let back = b.dir.join("back.bin");
    b.run(&["read", arg(&back), "0x08080000", "4"]).fails(6, "RDP level 1");
}

#[test]
fn only_changed_words_are_stored_and_each_is_waited_for() {
    let (mut session, sim) = open_sim(SimSpec::new("l053"));
    assert!(sim.poke(EEPROM, &[0, 0, 0, 0, 9, 9, 9, 9, 7, 7, 7, 7]));
    // Word 0 erased → programmed; word 1 unchanged; word 2 → 0 (only an erase).
    let img = Image::from_binary(vec![1, 2, 3, 4, 9, 9, 9, 9, 0, 0, 0, 0], EEPROM).unwrap();
    let before = sim.stats();
    let report = write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap();
    let e = report.eeprom.expect("EEPROM report");
    assert_eq!((e.words_written, e.words_unchanged, e.kept_bytes), (2, 1, 0));
    assert_eq!(report.flash_bytes, 0);
    let after = sim.stats();
    assert_eq!(after.eeprom_writes - before.eeprom_writes, 2);
    assert_eq!(after.erases, before.erases, "no flash page erased");
    assert_eq!(sim.peek(EEPROM, 12).unwrap(), [1, 2, 3, 4, 9, 9, 9, 9, 0, 0, 0, 0]);
    // Locked again afterwards: PELOCK set.
    assert_eq!(session.target.read32(0x4002_2004).unwrap() & 1, 1);
}

#[test]
fn ctrl_c_stops_between_words_and_the_same_command_completes_the_write() {
    let b = Board::new("l053", "eeprom-ctrl-c", &[], &[]);
    let data = pattern(2048, 41);
    let f = b.file("all.bin", &data);
    // Each word is a write and a few status polls: transfer 300 is well inside.
    let r = b.run_faulty("interrupt-after=300", &["write", arg(&f), "0x08080000"]).fails(130, "interrupted at 0x0808");
    assert!(
        r.stderr.contains("data EEPROM locked") && r.stderr.contains("words written, the others unchanged"),
        "{}",
        r.stderr
    );
    let partly = b.peek(EEPROM, 2048);
    assert_ne!(partly, data);
    let out = b.run(&["write", arg(&f), "0x08080000"]).ok();
    assert!(!out.stderr.contains("EEPROM: 512 words written"), "the words written before are skipped: {}", out.stderr);
    assert_eq!(b.peek(EEPROM, 2048), data);
}
