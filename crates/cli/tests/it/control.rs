//! What the core does after a command: by default write and erase reset
//! the chip and let it run; `--no-run` leaves the core halted at its reset
//! vector; `--no-reset` leaves it as stflash found it, running or halted,
//! with its registers and SRAM untouched.

use crate::common::{pattern, temp_dir, write_file, SharedProbe};
use stflash_sim::SimSpec;

const PC: u8 = 15;
const SRAM: u32 = 0x2000_0000;

/// A firmware image whose vector table starts it at 0x08000100.
fn firmware(seed: u32) -> Vec<u8> {
    let mut fw = pattern(2048, seed);
    fw[0..4].copy_from_slice(&0x2000_5000u32.to_le_bytes());
    fw[4..8].copy_from_slice(&0x0800_0101u32.to_le_bytes());
    fw
}

#[test]
fn by_default_a_write_resets_the_chip_and_lets_it_run() {
    let dir = temp_dir("after-default");
    let fw = write_file(&dir, "fw.bin", &firmware(1));
    let probe = SharedProbe::open(&SimSpec::new("f103"));
    probe.run(&["write", &fw, "0x08000000"]).ok();
    assert!(!probe.sim.core_halted(), "the new firmware runs");
    assert_eq!(probe.sim.core_register(PC), 0x0800_0100, "from its reset vector");
    assert!(!probe.sim.probe_in_debug());
}

#[test]
fn no_run_leaves_the_core_halted_at_the_reset_vector() {
    let dir = temp_dir("after-no-run");
    let fw = write_file(&dir, "fw.bin", &firmware(2));
    let probe = SharedProbe::open(&SimSpec::new("f103"));
    probe.run(&["--no-run", "write", &fw, "0x08000000"]).ok();
    assert!(probe.sim.core_halted(), "halted for a debugger");
    assert_eq!(probe.sim.core_register(PC), 0x0800_0100, "at the new firmware's reset vector");
    assert_eq!(probe.sim.core_register(17), 0x2000_5000, "with its initial stack pointer");
    assert!(!probe.sim.probe_in_debug(), "the probe is free for the debugger");
    // erase and reset too; with --reset after any command.
    probe.run(&["reset"]).ok();
    assert!(!probe.sim.core_halted());
    probe.run(&["--no-run", "reset"]).ok();
    assert!(probe.sim.core_halted());
    assert_eq!(probe.sim.core_register(PC), 0x0800_0100);
    let out = dir.join("out.bin");
    probe.run(&["--reset", "--no-run", "read", out.to_str().unwrap(), "0x08000000", "16"]).ok();
    assert!(probe.sim.core_halted());
    assert_eq!(probe.sim.core_register(PC), 0x0800_0100);
    probe.run(&["--no-run", "erase", "0x08000400", "0x400"]).ok();
    assert!(probe.sim.core_halted());
    assert_eq!(probe.sim.core_register(PC), 0x0800_0100, "the vector table was kept");
}

#[test]
fn no_reset_leaves_a_running_firmware_running_with_its_sram_and_registers() {
    let dir = temp_dir("after-no-reset");
    let fw = write_file(&dir, "fw.bin", &firmware(3));
    let data = pattern(1024, 4);
    let more = write_file(&dir, "more.bin", &data);
    let probe = SharedProbe::open(&SimSpec::new("f103"));
    probe.run(&["write", &fw, "0x08000000"]).ok();
    // The firmware's RAM: the whole SRAM, where the flash routine would go.
    let ram = pattern(20 * 1024, 5);
    assert!(probe.sim.poke(SRAM, &ram));
    probe.run(&["--no-reset", "write", &more, "0x08008000"]).ok();
    assert!(!probe.sim.core_halted(), "it runs on");
    assert_eq!(probe.sim.core_register(PC), 0x0800_0100, "from where it was, not reset");
    assert_eq!(probe.sim.peek(SRAM, ram.len()).unwrap(), ram, "its SRAM is untouched");
    assert_eq!(probe.sim.peek(0x0800_8000, data.len()).unwrap(), data, "and the write happened");
    // The contrast: a normal write uses SRAM for its flash routine.
    probe.run(&["write", &more, "0x08009000"]).ok();
    assert_ne!(probe.sim.peek(SRAM, ram.len()).unwrap(), ram, "the routine ran in SRAM");
}

#[test]
fn no_reset_leaves_a_halted_core_halted_where_it_was() {
    let dir = temp_dir("after-no-reset-halted");
    let fw = write_file(&dir, "fw.bin", &firmware(6));
    let data = write_file(&dir, "data.bin", &pattern(300, 7));
    let probe = SharedProbe::open(&SimSpec::new("f103"));
    probe.run(&["--no-run", "write", &fw, "0x08000000"]).ok();
    assert!(probe.sim.core_halted());
    probe.run(&["--no-reset", "write", &data, "0x08004000"]).ok();
    assert!(probe.sim.core_halted(), "still halted, as it was found");
    assert_eq!(probe.sim.core_register(PC), 0x0800_0100);
    // --no-reset --no-run: a running core is stopped where it is.
    probe.run(&["reset"]).ok();
    assert!(!probe.sim.core_halted());
    probe.run(&["--no-reset", "--no-run", "erase", "0x08004000", "0x400"]).ok();
    assert!(probe.sim.core_halted());
    assert_eq!(probe.sim.core_register(PC), 0x0800_0100, "not reset");
}

#[test]
fn no_run_leaves_a_ram_image_ready_at_its_entry() {
    let dir = temp_dir("after-ram");
    let mut code = vec![0u8; 64];
    code[0..4].copy_from_slice(&0x2000_4000u32.to_le_bytes());
    code[4..8].copy_from_slice(&0x2000_1041u32.to_le_bytes());
    let file = write_file(&dir, "ram.bin", &code);
    let probe = SharedProbe::open(&SimSpec::new("f103"));
    probe.run(&["--no-run", "write", &file, "0x20001000"]).ok();
    assert!(probe.sim.core_halted());
    assert_eq!(probe.sim.core_register(PC), 0x2000_1040);
    assert_eq!(probe.sim.core_register(17), 0x2000_4000);
}

#[test]
fn contradictions_are_refused() {
    use crate::common::run;
    run(&["--reset", "--no-reset", "write", "f.bin", "0x08000000"], &[]).fails(2, "contradict");
    run(&["--no-reset", "reset"], &[]).fails(2, "would do nothing");
    run(&["--no-reset", "--connect-under-reset", "erase"], &[]).fails(2, "use --no-run");
    run(&["--no-run", "info"], &[]).fails(2, "--no-run does not apply to info");
}
