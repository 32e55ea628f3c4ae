//! USB faults through the fast paths of issue 15 — a bank erased whole over
//! kept bytes (journaled first) and programmed in fast rows at a raised core
//! clock (L476, G474), and both H7A3 banks programmed at once through the
//! routine's PAIR op — at a sweep of points, each followed by a plain rerun
//! that must end with exactly the right bytes everywhere: the image, every
//! kept byte, every sector the write does not touch.
//!
//! Each case first runs fault-free and asserts (from the debug log) that the
//! write really takes its fast path, so that no case can silently stop
//! covering it; the fault points are placed by bytes sent to the probe,
//! relative to what that run sent. By default a handful of points per case
//! (the fault kinds taking turns); `STFLASH_FULL_SWEEP=1`: every fault kind
//! at every KiB, and at every 16-byte command of the last half KiB (where
//! the clock is put back and the write verified).

use crate::common::{arg, journal_dir, pattern, run, Board, Run};

/// The faults, and the exit code each must end with: the USB failures (9),
/// and a Ctrl-C (130: the write stops at a sector boundary, clock put back,
/// flash locked).
const KINDS: [(&str, i32); 4] =
    [("disconnect-after", 9), ("stall-after", 9), ("timeout-after", 9), ("interrupt-after", 130)];

/// One write over old contents, and what the flash must hold after it.
struct Case {
    chip: &'static str,
    name: &'static str,
    /// Old contents poked in before the write: (address, bytes).
    old: Vec<(u32, Vec<u8>)>,
    at: u32,
    image: Vec<u8>,
    /// The range checked after each run: every byte of it as it must end.
    span: (u32, usize),
    /// A line the fault-free run's debug log must contain: the fast path taken.
    path: &'static str,
    /// Bytes the fault-free run must send to both banks at once (PAIR ops), at least.
    paired: usize,
}

impl Case {
    fn board(&self, test: &str) -> Board {
        let fills: Vec<(u32, &[u8])> = self.old.iter().map(|(a, d)| (*a, d.as_slice())).collect();
        Board::new(self.chip, test, &[], &fills)
    }

    /// The flash as it must end: the old contents (erased elsewhere) with the image over them.
    fn want(&self) -> Vec<u8> {
        let (base, len) = self.span;
        let mut want = self.before();
        let off = (self.at - base) as usize;
        want[off..off + self.image.len()].copy_from_slice(&self.image);
        assert_eq!(want.len(), len);
        want
    }

    /// The flash before the write.
    fn before(&self) -> Vec<u8> {
        let (base, len) = self.span;
        let mut flash = vec![0xFF; len];
        for (a, d) in &self.old {
            let off = (a - base) as usize;
            flash[off..off + d.len()].copy_from_slice(d);
        }
        flash
    }

    /// Check every byte of the span; the first difference named.
    fn assert_flash(&self, board: &Board, want: &[u8], context: &str) {
        let got = board.peek(self.span.0, self.span.1);
        if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
            panic!("{} {context}: flash differs first at 0x{:08X}", self.name, self.span.0 + i as u32);
        }
    }

    /// The fault-free write: it takes the fast path, ends right; the bytes it sent.
    fn baseline(&self) -> u64 {
        let board = self.board(&format!("{}-baseline", self.name));
        let file = board.file("fw.bin", &self.image);
        let at = format!("0x{:08X}", self.at);
        let sim = format!("{}:{}", board.chip, board.state.display());
        let journal = journal_dir(&board.state);
        let env = [("STFLASH_SIM", sim.as_str()), ("STFLASH_STATE_DIR", &journal), ("RUST_LOG", "debug")];
        let r = run(&["write", arg(&file), &at], &env).ok();
        assert!(r.stderr.contains(self.path), "{}: the fast path is not taken: {}", self.name, r.stderr);
        assert!(r.stderr.contains("kept bytes of "), "{}: no kept bytes journaled: {}", self.name, r.stderr);
        let paired: usize = r
            .stderr
            .split(" bytes to both banks at once")
            .next()
            .and_then(|s| s.rsplit('(').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(paired >= self.paired, "{}: {paired} bytes to both banks at once: {}", self.name, r.stderr);
        self.assert_flash(&board, &self.want(), "fault-free");
        let sent = r.stderr.split("bytes_out: ").nth(1).and_then(|s| s.split(',').next()).and_then(|s| s.parse().ok());
        let _ = std::fs::remove_dir_all(&board.dir);
        sent.unwrap_or_else(|| panic!("{}: no RunStats in the debug log: {}", self.name, r.stderr))
    }

    /// The fault points (bytes sent) and kinds: by default `permille` of
    /// the bytes the fault-free run sent before it finished (its RunStats)
    /// and `from_end` bytes from there (the clock put back, the flash locked,
    /// the chip reset and started), the kinds taking turns; with
    /// `STFLASH_FULL_SWEEP=1` every kind at every KiB and at every 16-byte
    /// command from half a KiB before the end to past it.
    fn points(&self, sent: u64, permille: &[u64], from_end: &[i64]) -> Vec<((&'static str, i32), u64)> {
        if std::env::var_os("STFLASH_FULL_SWEEP").is_some() {
            let mut bytes: Vec<u64> = (1..=sent / 1024).map(|k| k * 1024).collect();
            bytes.extend((0..48).map(|i| sent + 256 - 16 * i));
            bytes.sort_unstable();
            bytes.dedup();
            return KINDS.iter().flat_map(|&k| bytes.iter().map(move |&b| (k, b))).collect();
        }
        let ends = from_end.iter().map(|&d| sent.checked_add_signed(d).expect("within the run"));
        let bytes = permille.iter().map(|&p| sent * p / 1000).chain(ends);
        bytes.enumerate().map(|(i, b)| (KINDS[i % KINDS.len()], b)).collect()
    }

    /// Each fault, then a plain rerun: the fault's exit code and a message
    /// saying what the flash holds, then exactly the right bytes and no
    /// journal left.
    fn sweep(&self, permille: &[u64], from_end: &[i64]) {
        let sent = self.baseline();
        let (before, want) = (self.before(), self.want());
        for (kind, bytes) in self.points(sent, permille, from_end) {
            let fault = format!("{}={bytes}B", kind.0);
            let board = self.board(&format!("{}-{}-{bytes}", self.name, kind.0));
            let file = board.file("fw.bin", &self.image);
            let at = format!("0x{:08X}", self.at);
            let args = ["write", arg(&file), &at];
            let r = board.run_faulty(&fault, &args);
            if r.code == 0 {
                // Past the last transfer (the full sweep's last points).
                self.assert_flash(&board, &want, &format!("{fault} came after the write"));
                let _ = std::fs::remove_dir_all(&board.dir);
                continue;
            }
            self.check_failure(&board, &r, &fault, kind.1, &before);
            let rerun = board.run(&args).ok();
            assert!(!rerun.stderr.contains("crashed"), "{} {fault}: {}", self.name, rerun.stderr);
            self.assert_flash(&board, &want, &format!("{fault}, then a rerun"));
            assert_eq!(journal_files(&board), 0, "{} {fault}: the journal outlived the rerun", self.name);
            let _ = std::fs::remove_dir_all(&board.dir);
        }
    }

    /// A USB failure or a Ctrl-C: its exit code, and a message that leaves
    /// nothing unsaid: the journal named while it holds kept bytes, and the
    /// state of the flash once the write has changed it.
    fn check_failure(&self, board: &Board, r: &Run, fault: &str, code: i32, before: &[u8]) {
        let context = format!("{} {fault}", self.name);
        assert_eq!(r.code, code, "{context}: exit code: {}", r.stderr);
        let error = r.stderr.lines().rfind(|l| l.starts_with("error: ")).unwrap_or("");
        let journal = std::fs::read_dir(journal_dir(&board.state)).into_iter().flatten().flatten().next();
        if let Some(j) = journal {
            let path = j.path();
            assert!(
                error.contains(&format!("are saved in {}", path.display())),
                "{context}: journal not named: {error}"
            );
        }
        let changed = board.peek(self.span.0, self.span.1) != before;
        if changed {
            let says = error.contains("flash state: ") || error.contains("flash locked; ");
            assert!(says, "{context}: the flash changed, the message does not say how: {error}");
        }
    }
}

fn journal_files(board: &Board) -> usize {
    std::fs::read_dir(journal_dir(&board.state)).map_or(0, |d| d.count())
}

/// L476 (2 × 512 KiB, 2 KiB pages): a 96 KiB image from 0x100 into bank 1
/// over old bytes (kept: 256 bytes before it, 1.75 KiB after it), the rest
/// of bank 1 blank, bank 2 full of old bytes. Bank 1 is erased whole after
/// its kept bytes are journaled, then programmed in fast rows at HSI16.
fn l476() -> Case {
    let image = pattern(96 * 1024, 61);
    Case {
        chip: "stm32l476rg",
        name: "l476-bank-erase",
        old: vec![(0x0800_0000, pattern(98 * 1024, 62)), (0x0808_0000, pattern(512 * 1024, 63))],
        at: 0x0800_0100,
        image,
        span: (0x0800_0000, 1024 * 1024),
        path: "banks erased whole: [1], fast programming: true",
        paired: 0,
    }
}

/// H7A3 (2 × 1 MiB, 8 KiB sectors, a controller per bank): a 120 KiB image
/// across the bank boundary at 0x08100000, from 0x1010 into its first
/// sector to 0xFF0 before the end of its last (kept bytes at both ends),
/// with old bytes in the sectors around it and at both ends of the flash.
/// Both banks are erased together and programmed at once (PAIR ops), all
/// the way.
fn h7a3() -> Case {
    Case {
        chip: "stm32h7a3zi",
        name: "h7a3-pair",
        old: vec![
            (0x0800_0000, pattern(8 * 1024, 71)),
            (0x080E_C000, pattern(160 * 1024, 72)),
            (0x081F_E000, pattern(8 * 1024, 73)),
        ],
        at: 0x080F_1010,
        image: pattern(120 * 1024, 74),
        span: (0x0800_0000, 2 * 1024 * 1024),
        path: "16 sectors to write, 0 already hold the image",
        paired: 120 * 1024,
    }
}

/// G474 (dual bank, 2 × 256 KiB, 2 KiB pages): a 32 KiB image across the
/// bank boundary at 0x08040000, kept bytes at both ends, old bytes only in
/// the pages it touches: both banks are erased whole in one operation
/// (MER1 and MER2), then programmed in fast rows.
fn g474() -> Case {
    Case {
        chip: "stm32g474re",
        name: "g474-both-banks",
        old: vec![(0x0803_C000, pattern(34 * 1024, 81))],
        at: 0x0803_C100,
        image: pattern(32 * 1024, 82),
        span: (0x0800_0000, 512 * 1024),
        path: "banks erased whole: [1, 2], fast programming: true",
        paired: 0,
    }
}

#[test]
fn usb_faults_through_a_bank_erase_over_journaled_kept_bytes_and_fast_rows_then_a_rerun_ends_exactly_right() {
    l476().sweep(&[30, 120, 400, 600, 750, 985], &[-96, -32, -64, 32, -16]);
}

#[test]
fn usb_faults_while_both_h7a3_banks_program_at_once_then_a_rerun_ends_exactly_right() {
    h7a3().sweep(&[40, 250, 500, 800, 990], &[-64, -16, 32]);
}

#[test]
fn usb_faults_through_a_g474_erase_of_both_banks_and_fast_rows_then_a_rerun_ends_exactly_right() {
    g474().sweep(&[100, 500, 950], &[-16]);
}

/// A progress that asks the write to stop once `stop_at` bytes went out (a
/// Ctrl-C at a known point, in this process).
struct StopAt {
    stop_at: u64,
    sent: u64,
}

impl stflash::flash::Progress for StopAt {
    fn add(&mut self, amount: u64) {
        self.sent += amount;
    }
    fn should_stop(&self) -> bool {
        self.sent >= self.stop_at
    }
}

/// RCC_CR, RCC_CFGR and FLASH_ACR of an L476: what raising the core clock
/// for fast rows changes.
fn clock_registers(s: &mut stflash::ops::Session) -> [u32; 3] {
    [0x4002_1000, 0x4002_1008, 0x4002_2000].map(|a| s.target.read32(a).expect("register read"))
}

/// The core clock raised to HSI16 for the fast rows after a bank erase
/// over journaled kept bytes is put back (RCC_CR, RCC_CFGR, FLASH_ACR read
/// back as they were: MSI at 4 MHz) after a write that ends right, one
/// whose fast rows fail at some row and go on the normal way (ending
/// right: before the routine's failure report counted the buffers finished
/// before the failing one, a row failing in a later buffer left fast-row
/// sectors unerased and the normal way failed on them with PROGERR), and
/// one asked to stop at points through it (then the write again).
#[test]
fn the_core_clock_raised_for_fast_rows_is_put_back_however_the_write_ends() {
    use stflash::ops::image::Image;
    use stflash::ops::write::{self, WriteOptions};
    let case = l476();
    let want = case.want();
    let runs = [
        ("", u64::MAX),
        ("@fast_row=miserr,fast_row_at=1", u64::MAX),
        ("@fast_row=miserr,fast_row_at=40", u64::MAX),
        ("", 4096),
        ("", 60 * 1024),
    ];
    for (faults, stop_at) in runs {
        let context = format!("{faults} stop at {stop_at}");
        let spec = stflash_sim::SimSpec::parse(&format!("{}{faults}", case.chip)).expect("spec");
        let (mut s, sim) = crate::common::open_sim(spec);
        for (addr, data) in &case.old {
            assert!(sim.poke(*addr, data));
        }
        let before = clock_registers(&mut s);
        assert_eq!(before[1] & 0xF, 0, "{context}: MSI selected at reset");
        let image = Image::from_binary(case.image.clone(), case.at).unwrap();
        let mut progress = StopAt { stop_at, sent: 0 };
        let r = write::write(&mut s, &image, &WriteOptions::default(), &mut progress);
        assert_eq!(clock_registers(&mut s), before, "{context}: the core clock is not put back");
        if let Err(e) = r {
            assert!(stop_at < u64::MAX && e.message.contains("interrupted at 0x"), "{context}: {e}");
            write::write(&mut s, &image, &WriteOptions::default(), &mut stflash::flash::NoProgress).unwrap();
            assert_eq!(clock_registers(&mut s), before, "{context}, then again: the core clock is not put back");
        }
        assert!(sim.stats().mass_erases >= 1, "{context}: bank 1 is erased whole");
        let got = sim.peek(case.span.0, case.span.1).unwrap();
        assert!(got == want, "{context}: flash differs");
        s.finish(true).unwrap();
    }
}
