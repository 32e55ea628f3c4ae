//! The journal of kept bytes: a write that dies between erasing a big
//! sector and writing back the bytes it keeps there loses nothing; the next
//! write or erase on the chip finishes the job first.

use crate::common::{arg, pattern, Board};

const BASE: u32 = 0x0800_0000;
/// F411: sectors 0-3 are 16 KiB, sector 4 is 64 KiB (0x08010000-0x0801FFFF).
const OLD_LEN: usize = 128 * 1024;
/// The image starts unaligned in sector 1 and ends inside sector 4, so
/// sectors 1 and 4 keep bytes on both sides of it (48 KiB in sector 4, more
/// than the flash routine's buffer).
const IMAGE_AT: u32 = 0x0800_6010;
const IMAGE_END: u32 = 0x0801_4000;

fn board(test: &str) -> (Board, Vec<u8>, Vec<u8>) {
    let old = pattern(OLD_LEN, 41);
    let board = Board::new("stm32f411re", test, &[], &[(BASE, &old)]);
    let image = pattern((IMAGE_END - IMAGE_AT) as usize, 42);
    let mut want = old.clone();
    let at = (IMAGE_AT - BASE) as usize;
    want[at..at + image.len()].copy_from_slice(&image);
    (board, image, want)
}

fn assert_flash(board: &Board, want: &[u8], context: &str) {
    let got = board.peek(BASE, want.len());
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!("{context}: flash differs first at 0x{:08X}", BASE + i as u32);
    }
}

fn journal_files(board: &Board) -> usize {
    let dir = crate::common::journal_dir(&board.state);
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[test]
fn usb_lost_80_percent_into_a_write_loses_no_kept_byte() {
    let (board, image, want) = board("journal-80");
    let file = board.file("fw.bin", &image);
    let at = format!("0x{IMAGE_AT:08X}");
    let r = board.run_faulty("disconnect-after=45KiB", &["write", arg(&file), &at]);
    let r = r.fails(9, "the ST-LINK was disconnected");
    assert!(r.stderr.contains("the bytes this write was keeping are saved in"), "{}", r.stderr);
    assert_eq!(journal_files(&board), 1);
    // Any other command says the kept bytes are pending.
    let out = board.dir.join("peek.bin");
    let r = board.run(&["read", arg(&out), "0x08000000", "16"]).ok();
    assert!(r.stderr.contains("an interrupted write left kept bytes of this chip in"), "{}", r.stderr);
    let r = board.run(&["write", arg(&file), &at]).ok();
    assert!(r.stderr.contains("writing them first"), "{}", r.stderr);
    assert_flash(&board, &want, "after the rerun");
    assert_eq!(journal_files(&board), 0, "the journal is deleted once the write is verified");
}

#[test]
fn any_later_erase_restores_the_kept_bytes_first() {
    let (board, image, want) = board("journal-erase");
    let file = board.file("fw.bin", &image);
    let at = format!("0x{IMAGE_AT:08X}");
    board.run_faulty("disconnect-after=40KiB", &["write", arg(&file), &at]).fails(9, "disconnected");
    // The user gives up on that write and erases sector 5 instead: the
    // sectors holding kept bytes (1 and 4) are written as the interrupted
    // write meant them first; the sectors only the image filled are the
    // user's to write again.
    let r = board.run(&["erase", "0x08020000", "0x20000"]).ok();
    assert!(r.stderr.contains("writing them first"), "{}", r.stderr);
    let sector1 = (0x4000, 0x8000);
    let sector4 = (0x10000, 0x20000);
    for (lo, hi) in [sector1, sector4] {
        assert!(board.peek(BASE + lo as u32, hi - lo) == want[lo..hi], "sector at 0x{lo:X} is as the write meant it");
    }
    assert!(board.peek(BASE, 0x4000) == want[..0x4000], "sector 0 untouched");
}

/// Every fault kind at a sweep of points through the write (bytes sent to
/// the probe), each followed by a plain rerun: the flash ends exactly right.
/// `STFLASH_FULL_SWEEP=1` takes every KiB instead of every 17 KiB. (Without
/// the journal, a fault 100 KiB into this write lost 48 KiB of sector 4.)
#[test]
fn every_fault_at_every_point_of_a_write_then_a_rerun_ends_exactly_right() {
    let full = std::env::var_os("STFLASH_FULL_SWEEP").is_some();
    let step = if full { 1 } else { 17 };
    let (pristine, image, want) = board("journal-sweep");
    let file = pristine.file("fw.bin", &image);
    let at = format!("0x{IMAGE_AT:08X}");
    for kind in ["disconnect-after", "stall-after", "timeout-after"] {
        for kib in (1..192).step_by(step) {
            let test = format!("journal-sweep-{kind}-{kib}");
            let (board, _, _) = board(&test);
            let r = board.run_faulty(&format!("{kind}={kib}KiB"), &["write", arg(&file), &at]);
            if r.code == 0 {
                assert_flash(&board, &want, &format!("{kind}={kib}KiB came after the write"));
                break;
            }
            assert_eq!(r.code, 9, "{kind}={kib}KiB: {}", r.stderr);
            let rerun = board.run(&["write", arg(&file), &at]).ok();
            // The new run's routine never runs buffers the cut-off one left in SRAM.
            assert!(!rerun.stderr.contains("crashed"), "{kind}={kib}KiB: {}", rerun.stderr);
            assert_flash(&board, &want, &format!("{kind}={kib}KiB, then a rerun"));
            assert_eq!(journal_files(&board), 0, "{kind}={kib}KiB");
            let _ = std::fs::remove_dir_all(&board.dir);
        }
    }
}

#[test]
fn a_second_ctrl_c_waits_for_a_safe_point_and_a_third_forces_an_exit_naming_the_flash_state() {
    let (board, image, want) = board("journal-signals");
    let file = board.file("fw.bin", &image);
    let at = format!("0x{IMAGE_AT:08X}");
    // Two Ctrl-Cs: the write stops between sectors, says so, and keeps the journal.
    let r = board.run_faulty("interrupt-after=40KiB,interrupt-again-after=41KiB", &["write", arg(&file), &at]);
    let r = r.fails(130, "stopping safely, please wait (up to");
    assert!(r.stderr.contains("error: interrupted at 0x"), "{}", r.stderr);
    assert!(!r.stderr.contains("partly programmed"), "it stops between sectors: {}", r.stderr);
    // Three, while the probe hangs: the process is forced out, naming the state.
    let faults = "interrupt-after=30KiB,interrupt-again-after=31KiB,interrupt-again-after=32KiB,hang-after=32KiB";
    let r = board.run_faulty(faults, &["write", arg(&file), &at]);
    let r = r.fails(130, "error: forced to stop; flash state: ");
    assert!(!r.stderr.contains("nothing was changed"), "{}", r.stderr);
    // Whatever the flash was left holding, the next run finishes the job.
    board.run(&["write", arg(&file), &at]).ok();
    assert_flash(&board, &want, "after the rerun");
    assert_eq!(journal_files(&board), 0);
}

/// One part per family (and both banks of a dual-bank part): every USB fault
/// kind at points through a write that keeps bytes around its image, then a
/// rerun; the flash ends byte for byte right. A representative subset by
/// default; `STFLASH_FULL_SWEEP=1` takes every KiB of the transfer.
#[test]
fn every_family_survives_usb_faults_through_a_write_and_a_rerun() {
    let full = std::env::var_os("STFLASH_FULL_SWEEP").is_some();
    // (part, where old data and the image go, sector size)
    let parts: &[(&str, u32, u32)] = &[
        ("stm32f103c8", 0x0800_0000, 0x400),
        ("stm32l053r8", 0x0800_0000, 0x80),
        ("stm32l476rg", 0x0800_0000, 0x800),
        ("stm32l476rg", 0x0807_F000, 0x800), // across the banks
        ("stm32u575zi", 0x0800_0000, 0x2000),
        ("stm32h563zi", 0x080F_C000, 0x2000), // across the banks
        ("stm32h7a3zi", 0x080F_C000, 0x2000), // across the banks
    ];
    for &(chip, base, sector) in parts {
        let old = pattern(4 * sector as usize, 51);
        let image = pattern(2 * sector as usize, 52);
        let at = base + sector / 2 + 16;
        let mut want = old.clone();
        let off = (at - base) as usize;
        want[off..off + image.len()].copy_from_slice(&image);
        let total_kib = (4 * sector as usize).div_ceil(1024) + 1;
        let points: Vec<usize> =
            if full { (1..=3 * total_kib).collect() } else { vec![total_kib / 3 + 1, 2 * total_kib / 3 + 1] };
        for kind in ["disconnect-after", "stall-after", "timeout-after"] {
            for &kib in &points {
                let board = Board::new(chip, &format!("usb-{chip}-{base:x}-{kind}-{kib}"), &[], &[(base, &old)]);
                let file = board.file("fw.bin", &image);
                let at = format!("0x{at:08X}");
                let r = board.run_faulty(&format!("{kind}={kib}KiB"), &["write", arg(&file), &at]);
                let context = format!("{chip} at 0x{base:08X}, {kind}={kib}KiB");
                if r.code == 0 {
                    assert!(board.peek(base, want.len()) == want, "{context}: flash differs");
                    break;
                }
                assert_eq!(r.code, 9, "{context}: {}", r.stderr);
                board.run(&["write", arg(&file), &at]).ok();
                assert!(board.peek(base, want.len()) == want, "{context}, then a rerun: flash differs");
                let _ = std::fs::remove_dir_all(&board.dir);
            }
        }
    }
}
