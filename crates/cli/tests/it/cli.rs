//! The built binary against the simulator: what a script sees (stdout,
//! stderr, exit codes, files).

use crate::common::{run, run_sim, temp_dir};

#[test]
fn no_arguments_prints_invalid_command_line_and_the_synopsis() {
    let r = run(&[], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.starts_with("invalid command line\nusage: stflash [options] read"), "{}", r.stdout);
    assert!(r.stdout.lines().count() < 17, "the synopsis, not the whole help:\n{}", r.stdout);
    assert!(r.stderr.starts_with("error: no command given"), "{}", r.stderr);
}

#[test]
fn version_and_help_exit_zero_without_touching_a_probe() {
    let r = run(&["--version", "--bogus"], &[]).ok();
    assert!(r.stdout.starts_with("v1.8.0"), "{}", r.stdout);
    let r = run(&["--help"], &[]).ok();
    assert!(r.stdout.starts_with("usage:"), "{}", r.stdout);
    // st-info's --version, through info.
    for args in [&["info", "--version"][..], &["info", "--version", "--bogus"]] {
        let r = run(args, &[]).ok();
        assert_eq!(r.stdout, run(&["--version"], &[]).stdout, "{args:?}");
    }
}

#[test]
fn parse_errors_print_the_reason_then_a_pointer_to_help() {
    for (args, reason) in [
        (
            &["read", "f", "08000000", "4"][..],
            "error: invalid address 08000000: a leading 0 means octal, and 8 is not an octal digit; \
             for hex write 0x08000000",
        ),
        (
            &["write", "0x08000000", "fw.bin"],
            "error: fw.bin is not an address; the address comes after the file: write fw.bin 0x08000000",
        ),
        (&["--rest", "write", "fw.bin", "0x08000000"], "error: unknown option --rest; did you mean --reset?"),
        (&["read", "f", "0x08000000", "-1"], "error: invalid size -1: negative numbers are not allowed"),
        (
            &["--area=MAIN", "erase"],
            "error: unknown --area MAIN; use main, system, otp, option, option_boot_add, optcr or optcr1 (lower case)",
        ),
        // --quiet does not make the reason disappear, nor bring the usage back.
        (
            &["--quiet", "erase", "0x08000000"],
            "error: erase takes no arguments (whole flash) or exactly two: <addr> <size>",
        ),
        // st-flash's own messages keep their text.
        (&["read", "f", "0"], "*** Error: Expected args for this command: read <path> <addr> <size>"),
        (&["--format=bin", "write", "f", "0"], "*** Error: Invalid value for format"),
    ] {
        let r = run(args, &[]);
        assert_eq!(r.code, 2, "{args:?}");
        // st-flash's line on stdout, for scripts; nothing else there.
        assert_eq!(r.stdout, "invalid command line\n", "{args:?}");
        assert_eq!(r.stderr, format!("{reason}\nrun 'stflash --help' for usage\n"), "{args:?}");
    }
}

#[test]
fn banner_comes_first_then_no_probe_is_exit_4() {
    // No USB probe on a build machine, and no simulator selected.
    let r = run(&["reset"], &[]).fails(4, "no ST-LINK found");
    assert!(r.stdout.starts_with("st-flash 1.8.0"), "{}", r.stdout);
}

#[test]
fn unknown_simulated_chip_is_a_usage_error_listing_the_choices() {
    run(&["--sim", "stm32nope", "reset"], &[]).fails(2, "stm32f103c8");
}

#[test]
fn reset_on_the_simulator() {
    let dir = temp_dir("reset");
    let r = run_sim("stm32f103c8", &dir.join("chip.sim"), &["reset"]).ok();
    assert!(r.stderr.contains("STM32F1xx_MD: 20 KiB SRAM, 64 KiB flash in at least 1 KiB pages."), "{}", r.stderr);
}

#[test]
fn sram_write_then_read_back() {
    let dir = temp_dir("sram");
    let data = crate::common::pattern(3001, 7);
    let input = dir.join("in.bin");
    std::fs::write(&input, &data).unwrap();
    let state = dir.join("chip.sim");
    let out = dir.join("out.bin");
    // Data, not a vector table: the core is not started at it.
    run_sim("f103", &state, &["write", input.to_str().unwrap(), "0x20001000"]).ok();
    run_sim("f103", &state, &["read", out.to_str().unwrap(), "0x20001000", "3001"]).ok();
    assert_eq!(std::fs::read(&out).unwrap(), data);
    let saved = stflash_sim::load_state(&state).unwrap();
    assert_eq!(saved.peek(0x2000_1000, 3001).unwrap(), data);
}

#[test]
fn sram_image_with_a_vector_table_is_started() {
    let dir = temp_dir("sram-run");
    let mut image = 0x2000_4000u32.to_le_bytes().to_vec();
    image.extend_from_slice(&0x2000_1041u32.to_le_bytes());
    image.resize(256, 0);
    let input = dir.join("prog.bin");
    std::fs::write(&input, &image).unwrap();
    let r = run_sim("f103", &dir.join("chip.sim"), &["write", input.to_str().unwrap(), "0x20001000"]).ok();
    assert!(r.stderr.contains("starting the RAM image at 0x20001040"), "{}", r.stderr);
}

#[test]
fn flash_read_to_a_file_and_as_intel_hex() {
    let dir = temp_dir("read");
    let state = dir.join("chip.sim");
    let data = crate::common::pattern(1000, 3);
    // Fresh chip: put known bytes in flash through the simulator's back door.
    {
        let mut spec = stflash_sim::SimSpec::new("f103");
        spec.state_file = Some(state.clone());
        let (_t, h) = stflash_sim::open(&spec).unwrap();
        assert!(h.poke(0x0800_0400, &data));
        h.save().unwrap();
    }
    let out = dir.join("out.bin");
    let r = run_sim("f103", &state, &["read", out.to_str().unwrap(), "0x08000400", "1000"]).ok();
    assert!(r.stderr.contains("read from address 0x08000400 size 1000"), "{}", r.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), data);
    let hex = dir.join("out.hex");
    run_sim("f103", &state, &["--format", "ihex", "read", hex.to_str().unwrap(), "0x08000400", "16"]).ok();
    let text = std::fs::read_to_string(&hex).unwrap();
    assert!(text.starts_with(":020000040800F2\r\n"), "{text}");
    assert!(text.ends_with(":00000001FF\r\n"), "{text}");
}

#[test]
fn one_of_a_kind_is_singular() {
    let dir = temp_dir("singular");
    let state = dir.join("chip.sim");
    let out = dir.join("out.bin");
    let r = run_sim("f103", &state, &["read", out.to_str().unwrap(), "0x08000000", "1"]).ok();
    assert!(r.stderr.contains(" read: 1 byte in "), "{}", r.stderr);
    let r = run_sim("f103", &state, &["read", out.to_str().unwrap(), "0x0800FFFF", "2"]).ok();
    assert!(r.stderr.contains("read of 2 bytes at 0x0800FFFF clipped to 1 byte"), "{}", r.stderr);
    let r = run_sim("f103", &state, &["erase", "0x08000400", "0x400"]).ok();
    assert!(r.stderr.contains(" erase: 1 sector (1 KiB) in "), "{}", r.stderr);
    let file = dir.join("one.bin");
    std::fs::write(&file, [0x5A]).unwrap();
    run_sim("f103", &state, &["write", file.to_str().unwrap(), "0x08000400"]).ok();
    // Over the programmed byte: its page is erased first.
    std::fs::write(&file, [0xA5]).unwrap();
    let r = run_sim("f103", &state, &["write", file.to_str().unwrap(), "0x08000400"]).ok();
    assert!(r.stderr.contains(" write: 1 byte to flash in "), "{}", r.stderr);
    assert!(r.stderr.contains("; 1 sector erased, 0 skipped;"), "{}", r.stderr);
}

#[test]
fn read_past_the_end_of_flash_is_clipped_with_a_warning() {
    let dir = temp_dir("clip");
    let out = dir.join("out.bin");
    let r = run_sim("f103", &dir.join("chip.sim"), &["read", out.to_str().unwrap(), "0x0800F000", "0x100000"]).ok();
    assert!(r.stderr.contains("clipped to 4096 bytes"), "{}", r.stderr);
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 4096);
}

#[test]
fn write_of_a_missing_file_fails_before_connecting() {
    let dir = temp_dir("missing");
    let r = run_sim("f103", &dir.join("chip.sim"), &["write", "/nonexistent/fw.bin", "0x08000000"]);
    let r = r.fails(3, "no such file");
    assert!(!r.stderr.contains("KiB SRAM"), "connected although the input was bad: {}", r.stderr);
}

#[test]
fn write_outside_any_memory_is_refused_with_the_valid_ranges() {
    let dir = temp_dir("unmapped");
    let input = dir.join("in.bin");
    std::fs::write(&input, [1, 2, 3, 4]).unwrap();
    run_sim("f103", &dir.join("chip.sim"), &["write", input.to_str().unwrap(), "0x30000000"])
        .fails(3, "0x08000000-0x0800FFFF");
}

#[test]
fn simulated_power_failure_is_reported_as_no_target() {
    let dir = temp_dir("power");
    let spec = format!("f103:{}", dir.join("chip.sim").display());
    run(&["reset"], &[("STFLASH_SIM", &spec), ("STFLASH_SIM_FAULTS", "no-power")]).fails(5, "not powered");
}

#[test]
fn readme_documents_every_exit_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    for kind in stflash::ErrorKind::ALL {
        let row = format!("| {} |", kind.exit_code());
        assert!(readme.contains(&row), "README lacks the exit code row for {kind:?} ({row})");
    }
}

// ---------------------------------------------------------------- stdout closed early

/// Run the binary with stdout connected to a pipe whose reading end is
/// already closed: every write to stdout fails with EPIPE, from the first
/// one on (no timing involved). (`std::io::pipe` needs Rust 1.87; the tests
/// already need a newer toolchain than the crates' 1.80.)
#[allow(clippy::incompatible_msrv)]
fn run_with_closed_stdout(args: &[&str], env: &[(&str, &str)]) -> crate::common::Run {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut c = crate::common::stflash();
    c.args(args).stdout(writer).stderr(std::process::Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run stflash");
    crate::common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_closed_stdout_pipe_is_not_an_error() {
    let dir = temp_dir("epipe");
    let state = dir.join("chip.sim");
    let spec = format!("f103:{}", state.display());
    let env = [("STFLASH_SIM", spec.as_str())];
    // `stflash --area=option read | head -0`: the value cannot be printed.
    let r = run_with_closed_stdout(&["--area=option", "read"], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked") && !r.stderr.contains("error"), "{}", r.stderr);
    // A write goes on to the end although its stdout lines cannot be printed.
    let data = crate::common::pattern(2048, 5);
    let file = dir.join("fw.bin");
    std::fs::write(&file, &data).unwrap();
    let r = run_with_closed_stdout(&["write", file.to_str().unwrap(), "0x08000000"], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("jolly good"), "{}", r.stderr);
    assert_eq!(crate::common::flash_of(&state, 0x0800_0000, data.len()), data);
    // Help, version, completions, the man page, info and parse errors too.
    for args in [
        &["--help"][..],
        &["--version"],
        &["completions", "bash"],
        &["man"],
        &["info"],
        &["info", "--chips"],
        &["read", "f", "08000000", "4"],
    ] {
        let r = run_with_closed_stdout(args, &env);
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
        assert_ne!(r.code, 101, "{args:?}");
    }
}

/// A stdout whose reader has gone.
struct ClosedPipe;

impl std::io::Write for ClosedPipe {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
}

#[test]
fn after_a_closed_stdout_the_core_runs_and_the_probe_is_out_of_debug_mode() {
    let dir = temp_dir("epipe-core");
    let out = dir.join("out.bin");
    for args in [&["--area=option", "read"][..], &["reset"], &["read", out.to_str().unwrap(), "0x08000000", "16"]] {
        let (transport, handle) = stflash_sim::open(&stflash_sim::SimSpec::new("f103")).unwrap();
        let console = stflash_cli::Console::new(Box::new(ClosedPipe));
        let argv = args.iter().map(std::ffi::OsString::from);
        let code = stflash_cli::run_with(argv, &console, Some((Box::new(transport), Some(handle.clone()))));
        assert_eq!(code, 0, "{args:?}");
        assert!(!handle.core_halted(), "{args:?}: the core was left halted");
        assert!(!handle.probe_in_debug(), "{args:?}: the probe was left in debug mode");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_stdout_that_fails_otherwise_is_an_error() {
    let dir = temp_dir("enospc");
    let spec = format!("f103:{}", dir.join("chip.sim").display());
    let mut c = crate::common::stflash();
    c.args(["--area=option", "read"]).env("STFLASH_SIM", &spec);
    c.stdout(std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full"));
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{stderr}");
    assert!(stderr.contains("error: cannot write to stdout: No space left on device"), "{stderr}");
}

// ---------------------------------------------------------------- logging flags and RUST_LOG

#[test]
fn quiet_and_debug_win_over_rust_log() {
    let dir = temp_dir("rust-log");
    let spec = format!("f103:{}", dir.join("chip.sim").display());
    let out = dir.join("out.bin");
    let args = ["read", out.to_str().unwrap(), "0x08000000", "16"];
    let with = |flags: &[&str], rust_log: &str| {
        let all: Vec<&str> = flags.iter().chain(args.iter()).copied().collect();
        run(&all, &[("STFLASH_SIM", &spec), ("RUST_LOG", rust_log)]).ok()
    };
    // --quiet: nothing but errors, even with RUST_LOG=debug.
    let r = with(&["--quiet"], "debug");
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
    // --debug: debug messages and USB traffic, even with RUST_LOG=error.
    let r = with(&["--debug"], "error");
    assert!(r.stderr.contains(" DEBUG ") && r.stderr.contains(" TRACE "), "{}", r.stderr);
    // No flag: RUST_LOG is the filter.
    let r = with(&[], "warn");
    assert!(!r.stderr.contains(" INFO "), "{}", r.stderr);
    let r = with(&[], "stflash=debug");
    assert!(r.stderr.contains(" DEBUG ") && !r.stderr.contains(" TRACE "), "{}", r.stderr);
    let r = with(&[], "");
    assert!(r.stderr.contains(" INFO ") && !r.stderr.contains(" DEBUG "), "{}", r.stderr);
}

// ---------------------------------------------------------------- read to an unwritable path

#[test]
fn read_to_an_unwritable_path_fails_before_connecting() {
    let dir = temp_dir("unwritable");
    let spec = format!("f103:{}", dir.join("chip.sim").display());
    let env = [("STFLASH_SIM", spec.as_str())];
    let missing = dir.join("no-such-dir").join("out.bin");
    let missing = missing.to_str().unwrap();
    std::fs::write(dir.join("plain-file"), b"").unwrap();
    let under_a_file = dir.join("plain-file").join("out.bin");
    let under_a_file = under_a_file.to_str().unwrap();
    for (args, why) in [
        (vec!["read", missing, "0x08000000", "16"], "no such directory; check the path"),
        (vec!["--area=otp", "read", missing], "no such directory; check the path"),
        (vec!["--area=option", "read", missing], "no such directory; check the path"),
        (vec!["read", under_a_file, "0x08000000", "16"], ""),
        (vec!["read", dir.to_str().unwrap(), "0x08000000", "16"], "it is a directory"),
    ] {
        let r = run(&args, &env);
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: one line:\n{}", r.stderr);
        let path = args[args.len() - if args[0] == "read" { 3 } else { 1 }];
        assert!(r.stderr.starts_with(&format!("error: cannot write {path}: {why}")), "{args:?}: {}", r.stderr);
        // Not connected: no chip line.
        assert!(!r.stderr.contains("KiB SRAM"), "{args:?}: {}", r.stderr);
    }
    assert!(!dir.join("chip.sim").exists(), "the simulated probe was opened");
    // The JSON document says the same.
    let r = run(&["--json", "read", missing, "0x08000000", "16"], &env);
    assert_eq!(r.code, 3);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["error"]["kind"], "input");
    assert_eq!(doc["probe"], serde_json::Value::Null);
}

#[test]
fn a_failed_read_leaves_no_file_behind_but_keeps_an_existing_one() {
    let dir = temp_dir("read-fails");
    let spec = format!("f103:{}", dir.join("chip.sim").display());
    let env = [("STFLASH_SIM", spec.as_str()), ("STFLASH_SIM_FAULTS", "no-target")];
    let out = dir.join("out.bin");
    run(&["read", out.to_str().unwrap(), "0x08000000", "16"], &env).fails(5, "no answer from the target");
    assert!(!out.exists(), "the checked output file stayed");
    std::fs::write(&out, b"old").unwrap();
    run(&["read", out.to_str().unwrap(), "0x08000000", "16"], &env).fails(5, "no answer from the target");
    assert_eq!(std::fs::read(&out).unwrap(), b"old", "an existing file was changed by a failed read");
}

#[test]
fn every_option_is_in_the_readme_the_man_page_and_the_completions() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let man = run(&["man"], &[]).ok().stdout;
    let bash = run(&["completions", "bash"], &[]).ok().stdout;
    let cmd = stflash_cli::args::command();
    let subs = cmd.get_subcommands().flat_map(|s| s.get_arguments());
    for arg in cmd.get_arguments().chain(subs) {
        let Some(long) = arg.get_long() else { continue };
        let option = format!("--{long}");
        assert!(readme.contains(&option), "README lacks {option}");
        assert!(man.contains(&format!("\\-\\-{}", long.replace('-', "\\-"))), "the man page lacks {option}");
        assert!(bash.contains(&option), "the bash completions lack {option}");
    }
}
