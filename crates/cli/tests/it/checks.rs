//! `verify`, `checksum` and `blank-check`: exit codes, the first difference
//! named, every differing range in the JSON, values equal to zlib's CRC-32,
//! flash and SRAM untouched where promised, on every path the checks can
//! take (a CRC unit, the software CRC, reading back, a routine that crashes
//! at any point).

use crate::common::{arg, open_sim, pattern, Board};
use crate::serialize::json;
use stflash::flash::NoProgress;
use stflash::ops::check::{self, CheckOptions};
use stflash::ops::image::Image;
use stflash_sim::{FaultPlan, SimSpec};

const BASE: u32 = 0x0800_0000;

fn zlib(bytes: &[u8]) -> u32 {
    stflash::ops::journal::crc32(bytes)
}

/// (part, sector size, the method that compares flash on it).
const PARTS: &[(&str, u32, &str)] = &[
    ("stm32f103c8", 0x400, "crc-peripheral"),
    ("stm32f411re", 0x4000, "crc-peripheral"),
    ("stm32l053r8", 0x80, "crc-peripheral"),
    ("stm32l476rg", 0x800, "crc-peripheral"),
    ("stm32h563zi", 0x2000, "crc-peripheral"),
    ("stm32h743zi", 0x2_0000, "crc-flash-unit"),
    ("stm32h7a3zi", 0x2000, "crc-flash-unit"),
];

#[test]
fn verify_exits_0_when_equal_and_8_naming_the_first_differing_sector() {
    for &(chip, sector, method) in PARTS {
        // An image over three sectors, starting and ending inside one.
        let at = BASE + sector + 5;
        let image = pattern(2 * sector as usize + sector as usize / 2 + 1, 3);
        let mut flash = pattern(4 * sector as usize, 4);
        let off = (at - BASE) as usize;
        flash[off..off + image.len()].copy_from_slice(&image);
        let board = Board::new(chip, "verify", &[], &[(BASE, &flash)]);
        let file = board.file("fw.bin", &image);
        let addr = format!("0x{at:08X}");
        let r = board.run(&["--json", "verify", arg(&file), &addr]).ok();
        let doc = json(&r);
        assert_eq!(doc["verify"]["equal"], true, "{chip}");
        assert_eq!(doc["verify"]["method"], method, "{chip}");
        assert_eq!(doc["verify"]["bytes"], image.len());
        assert_eq!(doc["input"]["crc32"], format!("{:08x}", zlib(&image)));

        // Two bytes of the second sector and the last byte differ on the chip.
        let mut other = image.clone();
        let (a, b) = (sector as usize + 100, image.len() - 1);
        other[a] ^= 1;
        other[a + 1] ^= 2;
        other[b] ^= 4;
        let file = board.file("other.bin", &other);
        let before = board.peek(BASE, flash.len());
        let r = board.run(&["verify", arg(&file), &addr]);
        let first = at + a as u32;
        let s = (first - BASE) / sector * sector + BASE;
        let text = format!(
            "error: the chip differs from {}: first at 0x{first:08X} in sector {} of bank 1 (0x{s:08X}-0x{:08X}); \
             3 bytes in 2 ranges",
            arg(&file),
            (s - BASE) / sector,
            s + sector - 1
        );
        r.fails(8, &text);
        let r = board.run(&["--json", "verify", arg(&file), &addr]);
        assert_eq!(r.code, 8);
        let doc = json(&r);
        let ranges = serde_json::json!([
            { "address": first, "size": 2 },
            { "address": at + b as u32, "size": 1 },
        ]);
        assert_eq!(doc["verify"]["differences"], ranges, "{chip}");
        assert_eq!(doc["verify"]["equal"], false);
        assert_eq!(doc["verify"]["first_difference"]["sector"]["address"], s, "{chip}");
        assert_eq!(doc["error"]["kind"], "verify");
        assert_eq!(board.peek(BASE, flash.len()), before, "{chip}: verify changed flash");
    }
}

#[test]
fn verify_takes_every_format_and_both_banks() {
    // An Intel HEX image with a segment in each bank of an H743.
    let board = Board::new("stm32h743zi", "verify-banks", &[], &[]);
    let (one, two) = (pattern(3000, 5), pattern(5000, 6));
    let bank2 = 0x0810_0000u32;
    let mut hex = Vec::new();
    stflash::ops::image::write_ihex(BASE + 64, &one, &mut hex).unwrap();
    let mut second = Vec::new();
    stflash::ops::image::write_ihex(bank2 + 128, &two, &mut second).unwrap();
    let text = String::from_utf8(hex).unwrap();
    let body = text.trim_end().rsplit_once('\n').unwrap().0.to_string(); // without its end record
    let file = board.file("fw.hex", format!("{body}\n{}", String::from_utf8(second).unwrap()).as_bytes());
    board.run(&["write", arg(&file)]).ok();
    let r = board.run(&["--json", "verify", arg(&file)]).ok();
    assert_eq!(json(&r)["verify"]["bytes"], 8000);
    // Change one byte of bank 2 behind stflash's back.
    let spec = board.spec();
    let (t, h) = stflash_sim::open(&spec).unwrap();
    assert!(h.poke(bank2 + 128 + 4999, &[two[4999] ^ 0xFF]));
    h.save().unwrap();
    drop(t);
    let r = board.run(&["verify", arg(&file)]);
    r.fails(
        8,
        &format!("first at 0x{:08X} in sector 0 of bank 2 (0x08100000-0x0811FFFF); 1 byte in 1 range", bank2 + 5127),
    );
}

#[test]
fn verify_covers_ram_and_the_data_eeprom_by_reading_them() {
    let board = Board::new("stm32l053r8", "verify-eeprom", &[], &[]);
    let eeprom = pattern(64, 7);
    let file = board.file("e.bin", &eeprom);
    board.run(&["write", arg(&file), "0x08080000"]).ok();
    board.run(&["verify", arg(&file), "0x08080000"]).ok();
    let mut other = eeprom.clone();
    other[10] ^= 0x80;
    let file = board.file("e2.bin", &other);
    board.run(&["verify", arg(&file), "0x08080000"]).fails(8, "first at 0x0808000A; 1 byte in 1 range");
    // RAM: compared before the flash routine takes SRAM.
    let ram = pattern(256, 8);
    let file = board.file("r.bin", &ram);
    board.run(&["write", arg(&file), "0x20000100"]).ok();
    let r = board.run(&["--json", "verify", arg(&file), "0x20000100"]).ok();
    assert_eq!(json(&r)["verify"]["method"], "read-back");
}

#[test]
fn no_reset_reads_everything_and_leaves_sram_as_it_was() {
    let flash = pattern(8192, 9);
    let board = Board::new("stm32f411re", "verify-no-reset", &[], &[(BASE, &flash)]);
    let sram = board.peek(0x2000_0000, 32 * 1024);
    let file = board.file("fw.bin", &flash);
    let r = board.run(&["--json", "--no-reset", "verify", arg(&file), "0x08000000"]).ok();
    assert_eq!(json(&r)["verify"]["method"], "read-back");
    let r = board.run(&["--json", "--no-reset", "checksum", "0x08000000", "8192"]).ok();
    assert_eq!(json(&r)["checksum"]["method"], "read-back");
    let r = board.run(&["--json", "--no-reset", "blank-check", "0x08004000", "0x4000"]).ok();
    assert_eq!(json(&r)["blank_check"]["method"], "read-back");
    assert_eq!(board.peek(0x2000_0000, 32 * 1024), sram, "SRAM untouched");
    // Without it the routine runs in SRAM (and the chip is reset afterwards).
    let r = board.run(&["--json", "verify", arg(&file), "0x08000000"]).ok();
    assert_eq!(json(&r)["verify"]["method"], "crc-peripheral");
    assert_ne!(board.peek(0x2000_0000, 32 * 1024), sram);
    let r = board.run(&["--json", "--verify=readback", "verify", arg(&file), "0x08000000"]).ok();
    assert_eq!(json(&r)["verify"]["method"], "read-back");
}

#[test]
fn checksum_prints_zlibs_crc32_of_memory_and_of_files() {
    for &(chip, sector, _) in PARTS {
        let flash = pattern(3 * sector as usize, 10);
        let board = Board::new(chip, "checksum", &[], &[(BASE, &flash)]);
        // Unaligned at both ends, across sectors: the ends are summed on the host.
        for (from, len) in [(1usize, flash.len() - 3), (0, flash.len()), (2, 1), (3, 6)] {
            let addr = format!("0x{:08X}", BASE + from as u32);
            let r = board.run(&["checksum", &addr, &len.to_string()]).ok();
            assert_eq!(r.stdout, format!("0x{:08x}\n", zlib(&flash[from..from + len])), "{chip} {from}+{len}");
        }
        let r = board.run(&["--json", "checksum", "0x08000000", &flash.len().to_string()]).ok();
        let doc = json(&r);
        assert_eq!(doc["checksum"]["method"], "crc-software", "{chip}");
        assert_eq!(doc["checksum"]["crc32"], format!("{:08x}", zlib(&flash)));
    }
    // RAM is read over SWD.
    let board = Board::new("stm32f103c8", "checksum-ram", &[], &[(0x2000_0000, &pattern(100, 11))]);
    let r = board.run(&["--json", "checksum", "0x20000000", "100"]).ok();
    let doc = json(&r);
    assert_eq!(doc["checksum"]["crc32"], format!("{:08x}", zlib(&pattern(100, 11))));
    assert_eq!(doc["checksum"]["method"], "read-back");
    // A file, without a probe: the same value; a sparse image, a line per segment.
    let file = board.file("fw.bin", &pattern(5000, 12));
    let r = crate::common::run(&["checksum", arg(&file)], &[]).ok();
    assert_eq!(r.stdout, format!("0x{:08x}\n", zlib(&pattern(5000, 12))));
    let mut hex = Vec::new();
    stflash::ops::image::write_ihex(BASE, &pattern(300, 13), &mut hex).unwrap();
    let text = String::from_utf8(hex).unwrap();
    let body = text.trim_end().rsplit_once('\n').unwrap().0.to_string();
    let mut second = Vec::new();
    stflash::ops::image::write_ihex(BASE + 0x1000, &pattern(200, 14), &mut second).unwrap();
    let file = board.file("fw.hex", format!("{body}\n{}", String::from_utf8(second).unwrap()).as_bytes());
    let r = crate::common::run(&["checksum", arg(&file)], &[]).ok();
    assert_eq!(
        r.stdout,
        format!("0x{:08x} 0x08000000 300\n0x{:08x} 0x08001000 200\n", zlib(&pattern(300, 13)), zlib(&pattern(200, 14)))
    );
}

#[test]
fn blank_check_names_the_first_byte_that_is_not_erased() {
    for (chip, erased) in [("stm32f103c8", 0xFFu8), ("stm32l053r8", 0x00), ("stm32h743zi", 0xFF)] {
        let board = Board::new(chip, "blank", &[], &[]);
        let r = board.run(&["--json", "blank-check"]).ok();
        let doc = json(&r);
        assert_eq!(doc["blank_check"]["blank"], true, "{chip}");
        assert_eq!(doc["blank_check"]["erased_value"], erased);
        assert_ne!(doc["blank_check"]["method"], "read-back", "{chip}: hashed on the target");
        // One byte, well inside flash.
        let at = BASE + 0x1234;
        let spec = board.spec();
        let (t, h) = stflash_sim::open(&spec).unwrap();
        assert!(h.poke(at, &[erased ^ 0x10]));
        h.save().unwrap();
        drop(t);
        board.run(&["blank-check"]).fails(8, &format!("not blank: 0x{at:08X} in sector "));
        let r = board.run(&["--json", "blank-check"]);
        assert_eq!(r.code, 8);
        assert_eq!(json(&r)["blank_check"]["first_non_erased"], at, "{chip}");
        // A range that stops short of it is blank; one that starts after it too.
        board.run(&["blank-check", "0x08000000", "0x1234"]).ok();
        board.run(&["blank-check", "0x08001235", "0x100"]).ok();
        board.run(&["--no-reset", "blank-check", "0x08001000", "0x1000"]).fails(8, &format!("0x{at:08X}"));
    }
}

#[test]
fn bad_input_is_refused_before_the_chip_is_touched() {
    let board = Board::new("stm32f103c8", "check-input", &[], &[]);
    board.run(&["blank-check", "0x20000000", "0x100"]).fails(3, "blank-check: 0x20000000 is not in flash");
    board.run(&["blank-check", "0x08000000", "0"]).fails(3, "give a size");
    board.run(&["checksum", "0x08000000", "0"]).fails(3, "checksum of 0 bytes");
    board.run(&["checksum", "0xFFFFFFF0", "0x100"]).fails(3, "runs past the end");
    board.run(&["checksum", "0x08000000"]).fails(2, "checksum 0x08000000 <size>");
    board.run(&["verify"]).fails(2, "verify <file> [addr]");
    board.run(&["--area=otp", "verify", "x.bin"]).fails(2, "--area=otp does not apply to verify");
    board.run(&["--mass-erase", "blank-check"]).fails(2, "--mass-erase does not apply to blank-check");
    let file = board.file("big.bin", &pattern(128 * 1024, 1));
    board.run(&["verify", arg(&file), "0x08000000"]).fails(3, "does not fit");
    board.run(&["checksum", "/nonexistent/fw.bin"]).fails(3, "/nonexistent/fw.bin");
}

#[test]
fn stations_verify_and_blank_check_every_board() {
    use crate::common::{run, temp_dir, write_file};
    let dir = temp_dir("station-verify");
    let image = pattern(4096, 20);
    let file = write_file(&dir, "fw.bin", &image);
    let sims: Vec<String> = (1..=3).map(|i| format!("f103:{}", dir.join(format!("b{i}.sim")).display())).collect();
    let journal = dir.join("journal");
    let env = |sim: &str| vec![("STFLASH_SIM", sim.to_string()), ("STFLASH_STATE_DIR", arg(&journal).to_string())];
    let all = sims.join(";");
    let e = env(&all);
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run(&["--all-probes", "write", &file, "0x08000000"], &e).ok();
    // Board 2 gets other firmware.
    let other = write_file(&dir, "other.bin", &pattern(4096, 21));
    let e2 = env(&sims[1]);
    let e2: Vec<(&str, &str)> = e2.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run(&["write", &other, "0x08000000"], &e2).ok();
    let r = run(&["--all-probes", "--json", "verify", &file, "0x08000000"], &e);
    assert_eq!(r.code, 8, "{}", r.stderr);
    let doc = json(&r);
    let codes: Vec<i64> = doc["boards"].as_array().unwrap().iter().map(|b| b["exit_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [0, 8, 0]);
    assert_eq!(doc["boards"][1]["verify"]["first_difference"]["address"], 0x0800_0000);
    let r = run(&["--all-probes", "blank-check", "0x0800F000", "0x400"], &e).ok();
    assert!(r.stdout.contains("3 boards: 3 ok"), "{}", r.stdout);
}

/// The routine crashing at any point while it hashes (or sums) leaves every
/// check right: the rest is read back.
#[test]
fn a_routine_crash_at_any_point_leaves_the_checks_right() {
    let full = std::env::var_os("STFLASH_FULL_SWEEP").is_some();
    for (chip, sector) in [("stm32f411re", 0x4000usize), ("stm32h7a3zi", 0x2000), ("stm32l053r8", 0x80)] {
        let flash = pattern(3 * sector, 30);
        let mut image = flash[5..2 * sector + 7].to_vec();
        image[sector] ^= 1;
        let mut n = 1u64;
        loop {
            let mut spec = SimSpec::new(chip);
            spec.faults = FaultPlan::parse(&format!("core-crash-after={n}")).unwrap();
            let (mut s, h) = open_sim(spec);
            assert!(h.poke(BASE, &flash));
            let img = Image::from_binary(image.clone(), BASE + 5).unwrap();
            let opts = CheckOptions::default();
            let cell = format!("{chip}, crash after {n}");
            let v = check::verify(&mut s, &img, &opts, &mut NoProgress).unwrap_or_else(|e| panic!("{cell}: {e}"));
            assert_eq!(v.differences, [(BASE + 5 + sector as u32, BASE + 6 + sector as u32)], "{cell}");
            let sum = check::checksum(&mut s, BASE + 1, flash.len() as u32 - 2, &opts, &mut NoProgress).unwrap();
            assert_eq!(sum.crc32, zlib(&flash[1..flash.len() - 1]), "{cell}");
            let blank = check::blank_check(&mut s, None, &opts, &mut NoProgress).unwrap();
            assert_eq!(blank.differences.first().map(|d| d.0), Some(BASE), "{cell}");
            let crashed = h.injected_crashes() > 0;
            drop(s);
            if !crashed {
                break; // every check finished before the crash point
            }
            n = if full { n + n / 16 + 1 } else { n * 3 };
        }
    }
}

/// A core far slower than its reset clock (a firmware's low-power clock)
/// still sums on the target: the first words measure it.
#[test]
fn checksum_measures_a_slow_core_instead_of_timing_out() {
    for clock in ["core-clock=150k", "core-clock=1M", ""] {
        let mut spec = SimSpec::new("stm32h7a3zi");
        spec.faults = FaultPlan::parse(clock).unwrap();
        let (mut s, h) = open_sim(spec);
        let flash = pattern(40 * 1024, 40);
        assert!(h.poke(BASE, &flash));
        let sum = check::checksum(&mut s, BASE + 3, 36_000, &CheckOptions::default(), &mut NoProgress).unwrap();
        assert_eq!(sum.crc32, zlib(&flash[3..36_003]), "[{clock}]");
        assert_eq!(sum.method, "crc-software", "[{clock}]");
    }
}
