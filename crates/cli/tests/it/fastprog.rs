//! Bank erases, fast programming (FSTPG) and both H7 banks at once, and what
//! happens where one of their preconditions fails: every failure ends with
//! the image in flash (or, for a program error, the documented exit code, a
//! message naming the bank, and a rerun that completes), and a bank is never
//! erased whole where that would lose bytes the image does not replace.

use crate::common::{arg, open_sim, pattern, Board};
use stflash::flash::NoProgress;
use stflash::ops::image::Image;
use stflash::ops::write::{self, WriteOptions};
use stflash_sim::SimSpec;

const BASE: u32 = 0x0800_0000;

/// Rows of a 32 KiB C031 (256-byte rows) where a row is made to fail: the
/// first rows, some in between, the last, and one past it (no failure).
/// `STFLASH_FULL_SWEEP=1`: every row.
fn rows() -> Vec<u32> {
    if std::env::var_os("STFLASH_FULL_SWEEP").is_some() {
        (1..=129).collect()
    } else {
        vec![1, 2, 3, 5, 13, 64, 127, 128, 129]
    }
}

/// Write `image` over `old` on a fresh `chip` with `faults`; the run.
fn write_over(chip: &'static str, test: &str, old: &[u8], image: &[u8], faults: &str) -> (Board, crate::common::Run) {
    let board = Board::new(chip, test, &[], &[(BASE, old)]);
    let file = board.file("fw.bin", image);
    let r = board.run_faulty(faults, &["write", arg(&file), "0x08000000"]);
    (board, r)
}

#[test]
fn a_fast_row_that_fails_at_any_row_leaves_the_rest_to_normal_programming() {
    // The whole 32 KiB: the bank is erased whole and written in 128 rows.
    let (old, image) = (pattern(32 * 1024, 1), pattern(32 * 1024, 2));
    for knob in ["fasterr", "miserr", "pgserr"] {
        for at in rows() {
            let faults = format!("fast_row={knob},fast_row_at={at}");
            let (board, r) = write_over("stm32c031c6", &format!("fast-{knob}-{at}"), &old, &image, &faults);
            assert_eq!(r.code, 0, "{faults}: {}", r.stderr);
            assert!(board.peek(BASE, image.len()) == image, "{faults}: flash differs");
            let fell_back = r.stderr.contains("fast programming stopped");
            assert_eq!(fell_back, at <= 128, "{faults}: {}", r.stderr);
            assert!(r.stderr.contains("verified by crc-peripheral"), "{faults}: {}", r.stderr);
            // The bank erase lists its 16 pages; after a failed row only the
            // pages the failing buffer began are erased again (the rest of
            // the bank is still blank), not all 16.
            let again = r.stdout.matches(" erased (size: 0x800)").count() - 16;
            assert!(again <= 4, "{faults}: {again} pages erased again: {}", r.stdout);
            let _ = std::fs::remove_dir_all(&board.dir);
        }
    }
}

#[test]
fn a_row_cut_short_without_a_flag_is_found_by_the_verify_and_written_again() {
    let (old, image) = (pattern(32 * 1024, 3), pattern(32 * 1024, 4));
    for at in rows() {
        let faults = format!("fast_row=abort,fast_row_at={at}");
        let (board, r) = write_over("stm32c031c6", &format!("abort-{at}"), &old, &image, &faults);
        assert_eq!(r.code, 0, "{faults}: {}", r.stderr);
        assert!(board.peek(BASE, image.len()) == image, "{faults}: flash differs");
        // The row's last double word stayed erased: the verify names its
        // first byte that should not read 0xFF.
        let last = (256 * at - 8) as usize;
        let first = (last..last + 8).find(|&i| image.get(i).is_some_and(|&b| b != 0xFF)).unwrap_or(last);
        let named = r.stderr.contains(&format!("verification failed at 0x{:08X}", BASE + first as u32));
        assert_eq!(named, at <= 128, "{faults}: {}", r.stderr);
        assert_eq!(r.stderr.contains("programmed in fast rows"), at <= 128, "{faults}: {}", r.stderr);
        // The flash's fault, not the link's: written again the normal way at
        // the same clock.
        assert_eq!(r.stderr.contains("writing again without fast programming"), at <= 128, "{faults}: {}", r.stderr);
        assert!(!r.stderr.contains("lowering the SWD clock"), "{faults}: {}", r.stderr);
        let _ = std::fs::remove_dir_all(&board.dir);
    }
}

#[test]
fn below_8_mhz_fast_programming_fails_and_the_write_goes_on_the_normal_way() {
    // A G0 keeps its clock (it starts on HSISYS at 16 MHz); one an
    // application left at 4 MHz gets FASTERR at the first row.
    let (old, image) = (pattern(128 * 1024, 5), pattern(128 * 1024, 6));
    let (board, r) = write_over("stm32g071rb", "g0-4mhz", &old, &image, "core-clock=4M");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(board.peek(BASE, image.len()) == image, "flash differs");
    // FASTERR (bit 9) at the row's first double word, then PGSERR (bit 7)
    // at the next: an error is still pending (RM0444 FLASH_SR).
    assert!(r.stderr.contains("fast programming stopped (status 0x00000280)"), "FASTERR: {}", r.stderr);
}

#[test]
fn without_hsi16_an_l4_at_4_mhz_programs_the_normal_way() {
    // L476 bank 1 (512 KiB) whole: erased whole, in fast rows with HSI16.
    let (old, image) = (pattern(512 * 1024, 7), pattern(512 * 1024, 8));
    let (board, r) = write_over("stm32l476rg", "l4-hsi", &old, &image, "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(board.peek(BASE, image.len()) == image);
    assert!(!r.stderr.contains("cannot be raised"), "{}", r.stderr);
    let (board, r) = write_over("stm32l476rg", "l4-no-hsi", &old, &image, "hsi16=absent");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(board.peek(BASE, image.len()) == image, "flash differs");
    assert!(
        r.stderr.contains("the core clock cannot be raised for fast programming: programming the normal way"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("fast programming stopped"), "no row was tried: {}", r.stderr);
}

/// A program error in one H7A3 bank while both banks are programmed at
/// once, at several points of either bank: exit 7, the bank and address
/// named, the other bank's finished sectors hold the image, and the same
/// command again completes the write.
#[test]
fn a_program_error_in_one_bank_mid_pair_names_that_bank_and_a_rerun_completes() {
    // 256 KiB on each side of the bank boundary.
    let at = 0x080C_0000u32;
    let (old, image) = (pattern(512 * 1024, 9), pattern(512 * 1024, 10));
    for (bank, offset) in [(1u32, 0xC_0000u32), (2, 0), (2, 0x1_0010), (1, 0xF_FFF0), (2, 0x3_FFF0)] {
        let board = Board::new("stm32h7a3zi", &format!("pair-{bank}-{offset:x}"), &[], &[(at, &old)]);
        let file = board.file("fw.bin", &image);
        let args = ["write", arg(&file), "0x080C0000"];
        let r = board.run_faulty(&format!("word_error={bank}:0x{offset:X}"), &args);
        assert_eq!(r.code, 7, "bank {bank} +0x{offset:X}: {}", r.stderr);
        let word = 0x0800_0000 + (bank - 1) * 0x10_0000 + (offset & !15);
        let sector = (offset & 0xF_FFFF) / 0x2000;
        assert!(r.stderr.contains("STRBERR"), "bank {bank} +0x{offset:X}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("sector {sector} of bank {bank} (0x{:08X}", word & !0x1FFF)),
            "bank {bank} +0x{offset:X}: {}",
            r.stderr
        );
        // What the message calls written holds the image.
        let written = r.stderr.split("flash state: written: ").nth(1).map(|s| s.split(';').next().unwrap());
        for range in written.into_iter().flat_map(|w| w.split(", ")) {
            let (lo, hi) = range.split_once('-').unwrap();
            let (lo, hi) = (u32::from_str_radix(&lo[2..], 16).unwrap(), u32::from_str_radix(&hi[2..], 16).unwrap());
            let want = &image[(lo - at) as usize..=(hi - at) as usize];
            assert!(board.peek(lo, want.len()) == want, "bank {bank} +0x{offset:X}: {range} differs");
        }
        board.run(&args).ok();
        assert!(board.peek(at, image.len()) == image, "bank {bank} +0x{offset:X}: the rerun did not complete");
        let _ = std::fs::remove_dir_all(&board.dir);
    }
}

/// Write `image` at `addr` over `old` at the base of a fresh `chip` through
/// the library; the bank erases the simulator saw.
fn bank_erases(chip: &str, old: &[u8], addr: u32, image: &[u8]) -> (u64, Vec<u8>) {
    bank_erases_journaled(chip, old, addr, image, true)
}

/// [`bank_erases`], with or without a journal for the kept bytes.
fn bank_erases_journaled(chip: &str, old: &[u8], addr: u32, image: &[u8], journal: bool) -> (u64, Vec<u8>) {
    let (mut s, h) = open_sim(SimSpec::new(chip));
    if !journal {
        s.journal_dir = None;
    }
    assert!(h.poke(BASE, old));
    let img = Image::from_binary(image.to_vec(), addr).unwrap();
    let report = write::write(&mut s, &img, &WriteOptions::default(), &mut NoProgress).unwrap();
    assert!(report.verified);
    let erases = h.stats().mass_erases;
    let flash = h.peek(BASE, old.len()).unwrap();
    s.finish(true).unwrap();
    (erases, flash)
}

#[test]
fn a_bank_is_erased_whole_only_where_that_loses_nothing() {
    const KIB: usize = 1024;
    let old = pattern(128 * KIB, 11);
    // The whole G071 bank: erased whole.
    let image = pattern(128 * KIB, 12);
    assert_eq!(bank_erases("stm32g071rb", &old, BASE, &image), (1, image.clone()));
    // 120 KiB: the last 8 KiB hold old bytes the image does not replace.
    let (erases, flash) = bank_erases("stm32g071rb", &old, BASE, &image[..120 * KIB]);
    assert_eq!(erases, 0, "the last 8 KiB are not blank");
    assert!(flash[..120 * KIB] == image[..120 * KIB] && flash[120 * KIB..] == old[120 * KIB..]);
    // The same with the last 8 KiB blank: erased whole.
    let mut blank_end = old.clone();
    blank_end[120 * KIB..].fill(0xFF);
    let (erases, flash) = bank_erases("stm32g071rb", &blank_end, BASE, &image[..120 * KIB]);
    assert_eq!(erases, 1);
    assert!(flash[..120 * KIB] == image[..120 * KIB] && flash[120 * KIB..].iter().all(|&b| b == 0xFF));
    // Kept bytes in the image's last page (it ends 100 bytes short): they
    // go to the journal, the bank is erased whole, and they come back.
    let short = 120 * KIB - 100;
    let mut kept = blank_end.clone();
    kept[short..120 * KIB].copy_from_slice(&old[short..120 * KIB]);
    let (erases, flash) = bank_erases("stm32g071rb", &kept, BASE, &image[..short]);
    assert_eq!(erases, 1);
    assert!(flash[..short] == image[..short] && flash[short..] == kept[short..], "kept bytes lost");
    // Without a journal they would exist only on the host: pages instead.
    let (erases, flash) = bank_erases_journaled("stm32g071rb", &kept, BASE, &image[..short], false);
    assert_eq!(erases, 0, "no journal, no bank erase over kept bytes");
    assert!(flash[..short] == image[..short] && flash[short..] == kept[short..], "kept bytes lost");
    // G474 (two banks of 256 KiB): an image of bank 1 leaves bank 2 alone.
    let old = pattern(512 * KIB, 13);
    let image = pattern(256 * KIB, 14);
    let (erases, flash) = bank_erases("stm32g474re", &old, BASE, &image);
    assert_eq!(erases, 1, "bank 1 only");
    assert!(flash[..256 * KIB] == image[..] && flash[256 * KIB..] == old[256 * KIB..]);
}

#[test]
fn a_u0_on_its_4_mhz_reset_clock_is_programmed_the_normal_way() {
    // Its whole flash, erased whole, but no fast rows: FSTPG would fail with
    // FASTERR at every first row (the U0's clock is not raised).
    let (old, image) = (pattern(64 * 1024, 15), pattern(64 * 1024, 16));
    let (board, r) = write_over("stm32u031k8", "u0", &old, &image, "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(board.peek(BASE, image.len()) == image, "flash differs");
    assert!(!r.stderr.contains("fast programming"), "{}", r.stderr);
}
