//! Everything is checked before the first erase, and bytes the user did not
//! write are kept: what a user sees (message, exit code) and what the flash
//! holds afterwards.

use crate::common::{arg, pattern, Board};

/// A board whose first `len` bytes of flash hold old data.
fn old_board(chip: &'static str, test: &str, len: usize) -> (Board, Vec<u8>) {
    let old = pattern(len, 77);
    (Board::new(chip, test, &[], &[(0x0800_0000, &old)]), old)
}

/// The whole old area is as it was.
fn unchanged(b: &Board, old: &[u8]) {
    assert!(b.peek(0x0800_0000, old.len()) == old, "flash was changed");
}

#[test]
fn an_image_larger_than_flash_is_refused_naming_the_range() {
    let (b, old) = old_board("stm32f103c8", "too-big", 64 * 1024);
    let f = b.file("big.bin", &pattern(64 * 1024 + 2, 1));
    let f = arg(&f);
    b.run(&["write", f, "0x08000000"]).fails(3, "0x08010000 is not in flash (flash is 0x08000000-0x0800FFFF)");
    unchanged(&b, &old);
}

#[test]
fn a_corrupt_intel_hex_file_is_refused_before_connecting() {
    let (b, old) = old_board("stm32f103c8", "bad-hex", 4096);
    let f = b.file("fw.hex", b":020000040800F2\n:0400000001020304F1\n:00000001FF\n");
    let f = arg(&f);
    let r = b.run(&["write", f]).fails(3, "line 2: checksum mismatch");
    assert!(!r.stderr.contains("KiB SRAM"), "connected before checking the file: {}", r.stderr);
    let f = b.file("overlap.hex", b":020000040800F2\n:0400000001020304F2\n:0400020005060708E0\n:00000001FF\n");
    let f = arg(&f);
    b.run(&["write", f]).fails(3, "lines 2 and 3 both write address 0x08000002");
    unchanged(&b, &old);
}

#[test]
fn an_erase_range_must_cover_whole_sectors_and_is_checked_first() {
    let (b, old) = old_board("stm32f103c8", "erase-range", 4096);
    // st-flash erases two pages, then fails; stflash refuses before erasing.
    b.run(&["erase", "0x08000400", "0x900"])
        .fails(3, "does not start and end on sector boundaries")
        .fails(3, "erase 0x08000400 0xC00");
    b.run(&["erase", "0x08000000", "0"]).fails(3, "size 0 erases nothing");
    b.run(&["erase", "0x0800FC00", "0x800"]).fails(3, "not in flash");
    unchanged(&b, &old);
    // A whole-page range works and erases only those pages.
    b.run(&["erase", "0x08000400", "0x800"]).ok();
    assert_eq!(b.peek(0x0800_0400, 0x800), vec![0xFF; 0x800]);
    assert_eq!(b.peek(0x0800_0000, 0x400), old[..0x400]);
    assert_eq!(b.peek(0x0800_0C00, 0x400), old[0xC00..0x1000]);
}

#[test]
fn bytes_around_an_unaligned_image_are_kept_unless_erase_rest_is_given() {
    // F103: 1 KiB pages. An image from 0x08000100 to 0x08000500 touches pages
    // 0 and 1 but covers neither completely.
    let (b, old) = old_board("stm32f103c8", "preserve", 4096);
    let image = pattern(0x400, 5);
    let f = b.file("part.bin", &image);
    let f = arg(&f);
    let r = b.run(&["write", f, "0x08000100"]).ok();
    assert!(r.stderr.contains("kept"), "{}", r.stderr);
    assert_eq!(b.peek(0x0800_0100, 0x400), image);
    assert_eq!(b.peek(0x0800_0000, 0x100), old[..0x100], "bytes before the image kept");
    assert_eq!(b.peek(0x0800_0500, 0x300), old[0x500..0x800], "bytes after the image kept");
    assert_eq!(b.peek(0x0800_0800, 0x800), old[0x800..0x1000], "untouched pages kept");

    // st-flash's behaviour on request: the rest of the touched pages is erased.
    let (b, old) = old_board("stm32f103c8", "erase-rest", 4096);
    b.run(&["--erase-rest", "write", f, "0x08000100"]).ok();
    assert_eq!(b.peek(0x0800_0100, 0x400), image);
    assert_eq!(b.peek(0x0800_0000, 0x100), vec![0xFF; 0x100]);
    assert_eq!(b.peek(0x0800_0500, 0x300), vec![0xFF; 0x300]);
    assert_eq!(b.peek(0x0800_0800, 0x800), old[0x800..0x1000], "untouched pages still kept");
}

#[test]
fn sparse_intel_hex_keeps_the_gap_between_its_segments() {
    let (b, old) = old_board("stm32f103c8", "sparse", 4096);
    // Two records far apart inside page 0 and page 2; page 1 is not touched.
    let hex = ":020000040800F2\n:0400100001020304E2\n:040810000A0B0C0DB6\n:00000001FF\n";
    let f = b.file("sparse.hex", hex.as_bytes());
    let f = arg(&f);
    b.run(&["write", f]).ok();
    assert_eq!(b.peek(0x0800_0010, 4), vec![1, 2, 3, 4]);
    assert_eq!(b.peek(0x0800_0810, 4), vec![0x0A, 0x0B, 0x0C, 0x0D]);
    assert_eq!(b.peek(0x0800_0400, 0x400), old[0x400..0x800], "the gap is neither erased nor filled");
    assert_eq!(b.peek(0x0800_0000, 0x10), old[..0x10]);
}

#[test]
fn a_flash_size_that_is_not_whole_sectors_is_refused_before_anything_changes() {
    let (b, old) = old_board("stm32f103c8", "bad-flash-size", 4096);
    for size in ["--flash=1", "--flash=3", "--flash=1500"] {
        b.run(&[size, "erase"]).fails(3, "is not a flash size this STM32F1xx_MD can have");
        unchanged(&b, &old);
    }
    b.run(&["--flash=0", "erase"]).fails(2, "--flash=0");
    unchanged(&b, &old);
}

#[test]
fn a_usb_failure_while_identifying_is_a_probe_error_never_an_unknown_chip() {
    // Every transfer of the connection, in turn, is the one that fails, for
    // each way USB fails; up to the first transfer that changes the flash.
    let (b, old) = old_board("stm32f103c8", "usb-identify", 1024);
    let f = b.file("img.bin", &pattern(256, 5));
    for kind in ["disconnect-after", "stall-after", "timeout-after"] {
        for n in 1..80 {
            let r = b.run_faulty(&format!("{kind}={n}"), &["write", arg(&f), "0x08000000"]);
            assert_eq!(r.code, 9, "{kind}={n}: {}", r.stderr);
            assert!(
                !r.stderr.contains("DEV_ID") && !r.stderr.contains("no answer from the target"),
                "{n}: {}",
                r.stderr
            );
            if b.peek(0x0800_0000, 1024) != old {
                // Put the old data back for the next kind.
                b.run(&["write", arg(&b.file("old.bin", &old)), "0x08000000"]).ok();
                break;
            }
        }
    }
}

#[test]
fn a_file_larger_than_any_stm32_is_refused_before_the_probe_is_opened() {
    let dir = crate::common::temp_dir("huge-file");
    let file = dir.join("huge.bin");
    std::fs::File::create(&file).unwrap().set_len(300 << 20).unwrap(); // sparse: costs no disk
    let state = dir.join("chip.sim");
    let r = crate::common::run_sim("stm32f103c8", &state, &["write", arg(&file), "0x08000000"]);
    r.fails(3, "more than any STM32 can hold");
    assert!(!state.exists(), "the simulated probe was never opened");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn read_protection_is_checked_on_every_path_before_anything_is_erased() {
    // One part per family: write, `erase ADDR SIZE`, `erase` and a
    // `--mass-erase` write all stop at the RDP check, with nothing erased.
    let parts = [
        ("stm32f103c8", "0x400"),
        ("stm32f411re", "0x4000"),
        ("stm32l053r8", "0x80"),
        ("stm32l476rg", "0x800"),
        ("stm32u575zi", "0x2000"),
        ("stm32h563zi", "0x2000"),
        ("stm32h743zi", "0x20000"),
    ];
    for (chip, sector) in parts {
        let old = pattern(4096, 78);
        let b = Board::new(chip, "rdp-paths", &[("rdp", "1")], &[(0x0800_0000, &old)]);
        let f = b.file("img.bin", &pattern(256, 6));
        for args in [
            &["write", arg(&f), "0x08000000"][..],
            &["erase", "0x08000000", sector],
            &["erase"],
            &["--mass-erase", "write", arg(&f), "0x08000000"],
        ] {
            let out = b.run(args);
            assert_eq!(out.code, 6, "{chip} {args:?}: {}", out.stderr);
            assert!(
                out.stderr.contains("read-protected") || out.stderr.contains("RDP level 1"),
                "{chip}: {}",
                out.stderr
            );
            assert!(b.peek(0x0800_0000, old.len()) == old, "{chip} {args:?}: flash changed");
        }
    }
}

#[test]
fn a_reserved_area_is_kept_on_every_path() {
    // STM32WB55: pages from 0xCB on are the CPU2 secure area (FLASH_SFR.SFSA).
    let stack = pattern(4096, 79);
    let b = Board::new("stm32wb55rg", "secure-paths", &[("sfsa", "0xCB")], &[(0x080C_B000, &stack)]);
    let f = b.file("img.bin", &pattern(0x2000, 8));
    b.run(&["write", arg(&f), "0x080CA000"]).fails(6, "the CPU2 secure area").fails(6, "it is never erased or written");
    b.run(&["erase", "0x080CA000", "0x2000"]).fails(6, "overlaps 0x080CB000-0x080FFFFF, the CPU2 secure area");
    // A mass erase, and a --mass-erase write, leave it alone.
    b.run(&["--mass-erase", "write", arg(&f), "0x08000000"]).ok();
    assert_eq!(b.peek(0x0800_0000, 0x2000), pattern(0x2000, 8));
    b.run(&["erase"]).ok();
    assert_eq!(b.peek(0x0800_0000, 16), [0xFF; 16]);
    assert!(b.peek(0x080C_B000, stack.len()) == stack, "the secure area changed");
}
