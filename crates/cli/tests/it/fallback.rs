//! The flash routine can crash at any instruction (a part that differs from
//! the model, a fault in its SRAM): whatever the point, the host-driven path
//! redoes exactly the work the routine did not confirm, and the flash ends
//! byte for byte right.

use crate::common::{arg, pattern, Board};

/// One part per family, with a sector size and where an image that keeps
/// bytes on both sides and spans three sectors goes.
const PARTS: &[(&str, u32)] = &[
    ("stm32f103c8", 0x400),
    ("stm32f411re", 0x4000),
    ("stm32l053r8", 0x80),
    ("stm32l476rg", 0x800),
    ("stm32u575zi", 0x2000),
    ("stm32h563zi", 0x2000),
    ("stm32h7a3zi", 0x2000),
];

/// Crash points (instructions after each start of the routine): dense at
/// the start, then geometric until the routine finishes without crashing.
/// `STFLASH_FULL_SWEEP=1`: every 7th instruction up to 5000, then every 1/64.
fn points() -> Vec<u64> {
    let full = std::env::var_os("STFLASH_FULL_SWEEP").is_some();
    let mut out: Vec<u64> = if full { (1..5000).step_by(7).collect() } else { vec![1, 2, 3, 5, 8, 13, 40] };
    let mut n = *out.last().unwrap();
    while n < 50_000_000 {
        n = if full { n + n / 64 + 1 } else { n * 4 };
        out.push(n);
    }
    out
}

#[test]
fn a_routine_crash_at_any_point_ends_with_exactly_the_right_flash() {
    for &(chip, sector) in PARTS {
        let base = 0x0800_0000u32;
        let old = pattern(4 * sector as usize, 7);
        let image = pattern(2 * sector as usize, 8);
        let at = base + sector / 2 + 16;
        let mut want = old.clone();
        let off = (at - base) as usize;
        want[off..off + image.len()].copy_from_slice(&image);
        for n in points() {
            let board = Board::new(chip, &format!("fallback-{chip}-{n}"), &[], &[(base, &old)]);
            let file = board.file("fw.bin", &image);
            let r = board.run_faulty(&format!("core-crash-after={n}"), &["write", arg(&file), &format!("0x{at:08X}")]);
            assert_eq!(r.code, 0, "{chip}, crash after {n} instructions: {}", r.stderr);
            assert!(board.peek(base, want.len()) == want, "{chip}, crash after {n}: flash differs");
            let _ = std::fs::remove_dir_all(&board.dir);
            if !r.stderr.contains("crashed") {
                break; // the routine finished before the crash point
            }
        }
    }
}
