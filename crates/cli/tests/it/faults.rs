//! Faults end to end: each injected fault gives one error line naming the
//! cause and what to try, its documented exit code, and leaves the flash in
//! the best state possible (untouched when the fault comes before any change;
//! resumable by running the same command again when it comes during one).

use crate::common::{arg, open_sim, pattern, run_sim, temp_dir, Board, Run};
use stflash::flash::{Phase, Progress};
use stflash::ops::image::Image;
use stflash::ops::write::{self, WriteOptions};
use stflash::ErrorKind;
use stflash_sim::{FaultPlan, SimSpec};

const BASE: u32 = 0x0800_0000;
const IMAGE_LEN: usize = 64 * 1024;

/// A board whose flash holds "old" data over the image's sectors and the next
/// 16 KiB (64 KiB on the smaller parts).
fn old_board(chip: &'static str, test: &str) -> Board {
    let old = old_data();
    let len = if chip == "stm32f103c8" { 64 * 1024 } else { old.len() };
    Board::new(chip, test, &[], &[(BASE, &old[..len])])
}

/// Write the image at the base of flash with `faults` injected.
fn write(board: &Board, faults: &str) -> Run {
    let file = board.file("fw.bin", &image());
    board.run_faulty(faults, &["write", arg(&file), "0x08000000"])
}

fn old_data() -> Vec<u8> {
    pattern(IMAGE_LEN + 16 * 1024, 99)
}

fn image() -> Vec<u8> {
    pattern(IMAGE_LEN, 1)
}

/// A fault during the write: non-zero exit, then the same command without the
/// fault completes the job.
fn rerun_completes(board: &Board) {
    assert_ne!(board.peek(BASE, IMAGE_LEN), image(), "the faulted write cannot have completed");
    write(board, "").ok();
    assert_eq!(board.peek(BASE, IMAGE_LEN), image());
    // Bytes past the image in its last sector were kept; later sectors untouched.
    assert_eq!(board.peek(BASE + IMAGE_LEN as u32, 16 * 1024), old_data()[IMAGE_LEN..]);
}

#[test]
fn usb_disconnect_during_a_write_is_exit_9_and_a_rerun_completes() {
    let board = old_board("stm32h7a3zi", "disconnect");
    let r = write(&board, "disconnect-after=32KiB").fails(9, "disconnected");
    assert!(r.stderr.contains("reconnect it and run the command again"), "{}", r.stderr);
    assert_eq!(r.stderr.matches("error:").count(), 1, "one error line: {}", r.stderr);
    rerun_completes(&board);
}

#[test]
fn probe_that_stops_answering_is_exit_9() {
    let board = old_board("stm32h7a3zi", "timeout");
    write(&board, "timeout-after=32KiB").fails(9, "timed out");
    rerun_completes(&board);
}

#[test]
fn stalled_endpoint_is_exit_9() {
    let board = old_board("stm32h7a3zi", "stall");
    write(&board, "stall-after=32KiB").fails(9, "stalled");
    rerun_completes(&board);
}

#[test]
fn wait_answers_are_retried_and_a_wait_storm_is_reported() {
    let board = old_board("stm32h7a3zi", "wait");
    // The protocol layer retries a WAIT 8 times with back-off (1 ms doubling).
    write(&board, "wait=8").ok();
    assert_eq!(board.peek(BASE, IMAGE_LEN), image(), "a few WAITs are retried transparently");
    let board = old_board("stm32h7a3zi", "wait-storm");
    write(&board, "wait=always").fails(5, "WAIT");
    assert_eq!(board.peek(BASE, IMAGE_LEN + 16 * 1024), old_data(), "nothing changed");
}

#[test]
fn write_protected_sectors_refuse_the_write_before_any_erase() {
    let board = old_board("stm32h7a3zi", "wrp");
    // Sectors 4-7 (one WPSGN group) are write-protected; the image covers sectors 0-7.
    write(&board, "wrp=4").fails(6, "write-protected");
    assert_eq!(board.peek(BASE, IMAGE_LEN + 16 * 1024), old_data(), "not one sector was erased");
}

#[test]
fn read_protection_level_1_refuses_write_read_and_erase() {
    let board = old_board("stm32f411re", "rdp");
    write(&board, "rdp=1").fails(6, "read-protected (RDP level 1)");
    let out = board.dir.join("out.bin");
    board.run_faulty("rdp=1", &["read", out.to_str().unwrap(), "0x08000000", "0x100"]).fails(6, "read-protected");
    assert!(!out.exists(), "no output file from a refused read");
    board.run_faulty("rdp=1", &["erase"]).fails(6, "removing the protection erases the whole chip");
    assert_eq!(board.peek(BASE, IMAGE_LEN + 16 * 1024), old_data());
}

#[test]
fn unpowered_target_is_exit_5() {
    let board = old_board("stm32f103c8", "power");
    write(&board, "no-power").fails(5, "not powered");
    assert_eq!(board.peek(BASE, 64 * 1024), old_data()[..64 * 1024]);
}

#[test]
fn missing_target_is_exit_5() {
    let board = old_board("stm32f103c8", "no-target");
    write(&board, "no-target").fails(5, "no answer from the target over SWD");
}

#[test]
fn core_that_will_not_halt_is_exit_5() {
    let board = old_board("stm32f103c8", "no-halt");
    let r = write(&board, "no-halt").fails(5, "did not halt");
    assert!(r.stderr.contains("--connect-under-reset"), "{}", r.stderr);
    assert_eq!(board.peek(BASE, 64 * 1024), old_data()[..64 * 1024]);
}

#[test]
fn flash_controller_error_is_exit_7_naming_the_flag() {
    // STM32WB: CPU2 keeps flash operations suspended (SR.PESD).
    let board = old_board("stm32wb55rg", "pesd");
    write(&board, "pesd=1").fails(7, "PESD");
    assert_eq!(board.peek(BASE, IMAGE_LEN + 16 * 1024), old_data(), "nothing erased");
}

#[test]
fn ctrl_c_stops_between_sectors_says_what_is_left_and_a_rerun_completes() {
    let board = old_board("stm32h7a3zi", "sigint");
    let r = write(&board, "interrupt-after=32KiB").fails(130, "interrupted at 0x");
    // The streaming path lets the buffers already given finish: sectors are
    // written whole or not at all (the next may be erased ahead).
    for text in ["flash locked", "written: 0x08000000-", "not yet written", "run the same command again"] {
        assert!(r.stderr.contains(text), "{text}: {}", r.stderr);
    }
    assert!(!r.stderr.contains("partly programmed"), "{}", r.stderr);
    let flash = board.peek(BASE, IMAGE_LEN);
    let done = flash.iter().zip(image()).take_while(|(a, b)| **a == *b).count();
    assert!(done > 0 && done < IMAGE_LEN && done % 0x2000 == 0, "{done}");
    rerun_completes(&board);
}

#[test]
fn sigterm_is_handled_like_ctrl_c() {
    let board = old_board("stm32h7a3zi", "sigterm");
    write(&board, "terminate-after=32KiB").fails(130, "interrupted at 0x");
    rerun_completes(&board);
}

/// Stops after `left` bytes of programming progress.
struct StopAfter {
    left: u64,
    programming: bool,
}

impl Progress for StopAfter {
    fn begin(&mut self, phase: Phase, _total: u64) {
        self.programming = phase == Phase::Program;
    }
    fn add(&mut self, amount: u64) {
        if self.programming {
            self.left = self.left.saturating_sub(amount);
        }
    }
    fn should_stop(&self) -> bool {
        self.programming && self.left == 0
    }
}

#[test]
fn after_an_interruption_or_a_flash_error_the_controller_is_locked_and_the_probe_idle() {
    // Interruption on H7A3: the last write to FLASH_CR1 sets LOCK (bit 0, RM0455).
    let (mut session, h) = open_sim(SimSpec::new("stm32h7a3zi"));
    let image = Image::from_binary(image(), BASE).unwrap();
    let mut stop = StopAfter { left: 4096, programming: false };
    let err = write::write(&mut session, &image, &WriteOptions::default(), &mut stop).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Interrupted, "{err}");
    let last_cr = h.register_writes().into_iter().rfind(|w| w.0 == 0x5200_200C).unwrap();
    assert_eq!(last_cr.1 & 1, 1, "CR1 = 0x{:08X} is not locked", last_cr.1);
    session.abandon();
    assert!(!h.probe_in_debug(), "the probe was left in debug mode");

    // A flash error on STM32WB (PESD): CR (0x58004014) ends with LOCK (bit 31, RM0434).
    let mut spec = SimSpec::new("stm32wb55rg");
    spec.faults = FaultPlan::parse("pesd=1").unwrap();
    let (mut session, h) = open_sim(spec);
    let err =
        write::write(&mut session, &image, &WriteOptions::default(), &mut stflash::flash::NoProgress).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Flash, "{err}");
    let last_cr = h.register_writes().into_iter().rfind(|w| w.0 == 0x5800_4014);
    assert!(last_cr.is_none_or(|w| w.1 & (1 << 31) != 0), "CR left unlocked: {last_cr:x?}");
    session.abandon();
    assert!(!h.probe_in_debug());
}

#[test]
fn a_link_that_fails_above_1800_khz_steps_the_clock_down_unless_freq_is_given() {
    // V2-1 at its default 4 MHz: every access answers a parity error until
    // stflash lowers the clock to 1.8 MHz; the write then completes.
    let board = old_board("stm32f411re", "max-swd");
    let r = write(&board, "max-swd=1800").ok();
    let log = format!("{}{}", r.stdout, r.stderr);
    assert!(log.contains("lowering the SWD clock to 1800 kHz"), "{log}");
    assert!(!log.contains("lowering the SWD clock to 1200"), "one step was enough: {log}");
    assert_eq!(board.peek(BASE, IMAGE_LEN), image());
    // A link that needs two steps (1.2 MHz) gets them.
    let board = old_board("stm32f103c8", "max-swd-2");
    let r = write(&board, "max-swd=1200").ok();
    assert!(r.stderr.contains("lowering the SWD clock to 1200 kHz"), "{}", r.stderr);
    assert_eq!(board.peek(BASE, IMAGE_LEN), image());
    // With --freq above the limit, nothing is lowered: a clear failure.
    let board = old_board("stm32f411re", "max-swd-freq");
    let file = board.file("fw.bin", &image());
    let file = arg(&file);
    let r = board.run_faulty("max-swd=1800", &["--freq", "4000", "write", file, "0x08000000"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("the clock --freq asked for") && r.stderr.contains("try a lower --freq"), "{}", r.stderr);
    assert!(!r.stderr.contains("lowering the SWD clock"), "{}", r.stderr);
    assert_eq!(board.peek(BASE, IMAGE_LEN + 16 * 1024), old_data(), "nothing changed");
    // --freq at or below the limit just works.
    board.run_faulty("max-swd=1800", &["--freq", "1800", "write", file, "0x08000000"]).ok();
    assert_eq!(board.peek(BASE, IMAGE_LEN), image());
}

#[test]
fn a_verify_mismatch_from_corrupted_reads_steps_the_clock_down_and_verifies_again() {
    // Reads above 1.8 MHz silently flip a bit: read-back verification fails
    // at 4 MHz, passes at 1.8 MHz (the rerun finds every sector written).
    let board = old_board("stm32f411re", "bitflip");
    let file = board.file("fw.bin", &image());
    let file = arg(&file);
    let r = board.run_faulty("bitflip-swd=1800", &["--verify=readback", "write", file, "0x08000000"]).ok();
    assert!(r.stderr.contains("verification failed at 0x"), "{}", r.stderr);
    assert!(r.stderr.contains("lowering the SWD clock to 1800 kHz"), "{}", r.stderr);
    assert_eq!(board.peek(BASE, IMAGE_LEN), image());
}

#[test]
fn corrupted_reads_of_the_bytes_to_keep_are_caught_before_anything_is_erased() {
    // The image starts and ends inside sectors: the bytes around it are
    // kept. Reads above 1.8 MHz flip a bit; the kept bytes are held to the
    // CRC the chip computed over them, so the clock steps down before the
    // first erase and the kept bytes come back exactly.
    let board = old_board("stm32f411re", "bitflip-kept");
    let image = pattern(0x3000, 5);
    let file = board.file("part.bin", &image);
    let r = board.run_faulty("bitflip-swd=1800", &["write", arg(&file), "0x08005000"]).ok();
    assert!(r.stderr.contains("the link corrupts reads"), "{}", r.stderr);
    assert!(r.stderr.contains("lowering the SWD clock to 1800 kHz"), "{}", r.stderr);
    let mut want = old_data();
    want[0x5000..0x8000].copy_from_slice(&image);
    assert!(board.peek(BASE, want.len()) == want, "image and kept bytes exact");
}

#[test]
fn a_bus_fault_names_the_address_and_the_memory_map_without_lowering_the_clock() {
    let dir = temp_dir("bus-fault");
    let out = dir.join("out.bin");
    // No memory at 0x60000000 on an F103C8 (no FSMC).
    let r = run_sim("stm32f103c8", &dir.join("s"), &["read", arg(&out), "0x60000000", "16"]);
    let r = r.fails(3, "reading 0x60000000 failed with a bus fault");
    assert!(r.stderr.contains("flash 0x08000000-0x0800FFFF") && r.stderr.contains("RAM 0x20000000"), "{}", r.stderr);
    assert!(!r.stderr.contains("lowering the SWD clock"), "{}", r.stderr);
    // The gap between the banks of a 1 MiB H7A3.
    let r = run_sim("stm32h7a3zg", &dir.join("h7"), &["read", arg(&out), "0x08080000", "0x100"]);
    r.fails(3, "0x08080000 failed with a bus fault");
    // Past 4 GiB.
    let r = run_sim("stm32f103c8", &dir.join("s"), &["read", arg(&out), "0xFFFFFFF0", "0x100"]);
    r.fails(3, "runs past the end of the 4 GiB address space");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_interrupted_sector_erase_says_which_sectors_are_erased() {
    // F411: 16 KiB sectors take 250 ms each. A Ctrl-C at every transfer in
    // turn: the message names exactly the sectors the flash shows erased.
    let mut partial = 0;
    for n in (1..120).step_by(3) {
        let board = old_board("stm32f411re", &format!("erase-sigint-{n}"));
        let r = board.run_faulty(&format!("interrupt-after={n}"), &["erase", "0x08000000", "0x10000"]);
        if r.code == 0 {
            break; // the erase was over before the signal
        }
        assert_eq!(r.code, 130, "{n}: {}", r.stderr);
        let erased = (0..4).take_while(|&k| board.peek(BASE + k * 0x4000, 16 * 1024) == vec![0xFF; 16 * 1024]).count();
        let old = old_data();
        for k in erased..4 {
            let at = k * 0x4000;
            assert!(board.peek(BASE + at as u32, 16 * 1024) == old[at..at + 0x4000], "{n}: sector {k} changed");
        }
        let text = match erased {
            0 => "interrupted before anything was changed".to_string(),
            k => {
                let split = BASE + k as u32 * 0x4000;
                format!("flash locked; erased: 0x08000000-0x{:08X}; not erased: 0x{split:08X}-0x0800FFFF", split - 1)
            }
        };
        assert!(r.stderr.contains(&text), "{n}: {text}: {}", r.stderr);
        partial += usize::from(erased > 0);
    }
    assert!(partial > 0, "some signal came after the first sector was erased");
}

#[test]
fn ctrl_c_while_connecting_says_nothing_was_changed_also_in_json() {
    // The 3rd USB transfer is still part of connecting (probe version, mode).
    let board = old_board("stm32f103c8", "sigint-connect");
    let file = board.file("fw.bin", &image()[..4096]);
    let r = board.run_faulty("interrupt-after=3", &["write", arg(&file), "0x08000000"]);
    let r = r.fails(130, "error: interrupted before anything was changed");
    assert_eq!(r.stderr.matches("error:").count(), 1, "{}", r.stderr);
    // --json: still one document, with the probe and target it connected to.
    let r = board.run_faulty("interrupt-after=3", &["--json", "write", arg(&file), "0x08000000"]);
    assert_eq!(r.code, 130, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(doc["error"]["kind"], "interrupted");
    assert_eq!(doc["error"]["message"], "interrupted before anything was changed");
    assert_eq!(doc["exit_code"], 130);
    assert_eq!(doc["target"]["chip"], "STM32F1xx_MD");
    assert_eq!(doc["write"], serde_json::Value::Null);
    // Other commands and info too.
    for args in [&["erase"][..], &["reset"], &["--json", "info"], &["info"]] {
        let r = board.run_faulty("interrupt-after=3", args);
        assert_eq!(r.code, 130, "{args:?}: {}", r.stderr);
        let text = if args[0] == "--json" { &r.stdout } else { &r.stderr };
        assert!(text.contains("interrupted before anything was changed"), "{args:?}: {text}");
    }
    assert_eq!(board.peek(BASE, 64 * 1024), old_data()[..64 * 1024], "the flash was changed");
}

/// Stops after `sectors` sector erases.
struct StopAfterSectors {
    left: u64,
    sector: u64,
}

impl Progress for StopAfterSectors {
    fn add(&mut self, amount: u64) {
        self.left = self.left.saturating_sub(amount / self.sector);
    }
    fn should_stop(&self) -> bool {
        self.left == 0
    }
}

#[test]
fn an_interrupted_erase_says_what_is_erased_and_what_is_not() {
    let (mut session, h) = open_sim(SimSpec::new("stm32f103c8"));
    let mut stop = StopAfterSectors { left: 0, sector: 1024 };
    let err = stflash::ops::erase::erase_range(&mut session, BASE, 0x1000, &mut stop).unwrap_err();
    assert_eq!((err.kind, err.message.as_str()), (ErrorKind::Interrupted, "interrupted before anything was changed"));
    let mut stop = StopAfterSectors { left: 2, sector: 1024 };
    let err = stflash::ops::erase::erase_range(&mut session, BASE, 0x1000, &mut stop).unwrap_err();
    assert_eq!(
        err.message,
        "interrupted at 0x08000800, flash locked; erased: 0x08000000-0x080007FF; not erased: 0x08000800-0x08000FFF; \
         run the same command again to complete the erase"
    );
    session.abandon();
    assert!(!h.probe_in_debug());
}

/// A Ctrl-C that comes after the write's last point where it could stop it
/// (the verify, the reset): the write completes, exit 0, and says that the
/// interrupt came too late to stop it and what the flash holds. Swept over
/// transfers through the end of a write: every stopped run says where it
/// stopped, every completed run holds the image.
#[test]
fn a_ctrl_c_after_the_last_safe_point_is_reported_and_the_write_completes() {
    let data = &image()[..20_000];
    let mut late = 0;
    for n in (40..200).step_by(8) {
        let board = old_board("stm32f103c8", &format!("sigint-late-{n}"));
        let file = board.file("fw.bin", data);
        let r = board.run_faulty(&format!("interrupt-after={n}"), &["write", arg(&file), "0x08000000"]);
        match r.code {
            130 => assert!(r.stderr.contains("error: interrupted"), "{n}: {}", r.stderr),
            0 => {
                assert!(board.peek(BASE, data.len()) == data, "{n}: flash differs");
                if r.stderr.contains("interrupted after the command had finished") {
                    assert!(r.stderr.contains("flash state: written and verified"), "{n}: {}", r.stderr);
                    late += 1;
                }
            }
            code => panic!("{n}: exit {code}: {}", r.stderr),
        }
    }
    assert!(late > 0, "some interrupt came after the last safe point");
}
