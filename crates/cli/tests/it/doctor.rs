//! `stflash doctor` on the simulator: one test per diagnosis (its message
//! and exit code), and the measurements recover the simulator's configured
//! model (timing, CRC units, flash times).

use std::path::Path;

use serde_json::Value;

use crate::common::{arg, journal_dir, pattern, prefill, run, temp_dir, Run};
use stflash::ops::doctor::{self, DoctorOptions};

/// `doctor` (and `args`) on a fresh simulated `chip`, with extra environment.
fn doctor(chip: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec!["--sim", chip, "doctor"];
    all.extend_from_slice(args);
    run(&all, env)
}

/// `doctor --json` on `spec` (a chip, or chip:state); the document.
fn doctor_json(spec: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
    let mut all = vec!["--sim", spec, "--json", "doctor"];
    all.extend_from_slice(args);
    let r = run(&all, env);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
    assert_eq!(doc["exit_code"], r.code, "{doc}");
    (r.code, doc)
}

/// The measurement `name` of a document.
fn measurement<'d>(doc: &'d Value, name: &str) -> &'d Value {
    doc["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no measurement {name} in {doc}"))
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// `value` within `tolerance` (a fraction) of `want`.
fn near(value: f64, want: f64, tolerance: f64) -> bool {
    (value - want).abs() <= want.abs() * tolerance
}

/// A check line of the text output: `name ok|problem detail`.
fn check_line<'r>(r: &'r Run, name: &str) -> &'r str {
    r.stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} line:\n{}", r.stdout))
}

/// The problem `name` is the last check, with `text` in its line and on stderr.
fn problem(r: Run, code: i32, name: &str, text: &str) -> Run {
    let r = r.fails(code, text);
    let line = check_line(&r, name);
    assert!(line.contains("problem") && line.contains(text), "{line}");
    let last = r.stdout.lines().rfind(|l| l.contains(" ok ") || l.contains(" problem ")).unwrap();
    assert_eq!(last, line, "the first problem ends the checks:\n{}", r.stdout);
    assert!(!r.stdout.contains("measurement"), "measured after a problem:\n{}", r.stdout);
    r
}

/// A state file of `chip` in a fresh directory, with a firmware at the start
/// of flash: a vector table whose reset handler at 0x08000100 loops
/// (`b .`), the rest data.
fn board_with_firmware(chip: &str, test: &str, opts: &str) -> std::path::PathBuf {
    let dir = temp_dir(test);
    let mut fw = pattern(4096, 7);
    fw[0..8].copy_from_slice(&[0x00, 0x10, 0x00, 0x20, 0x01, 0x01, 0x00, 0x08]);
    fw[0x100..0x102].copy_from_slice(&[0xFE, 0xE7]);
    prefill(chip, &dir, opts, &[(0x0800_0000, &fw)])
}

fn sim(chip: &str, state: &Path) -> String {
    format!("{chip}:{}", state.display())
}

// ------------------------------------------------------------------ the checks

#[test]
fn a_healthy_chip_passes_every_check_and_is_measured() {
    let r = doctor("f103", &[], &[]).ok();
    for name in ["probe", "firmware", "voltage", "swd", "chip", "genuine", "rdp", "banks", "wrp", "halt"] {
        let line = check_line(&r, name);
        assert!(line.split_whitespace().nth(1) == Some("ok"), "{line}");
    }
    assert!(check_line(&r, "chip").contains("STM32F1xx_MD") && check_line(&r, "chip").contains("DEV_ID 0x410"));
    assert!(r.stdout.contains("\nmeasurement ") && r.stdout.contains("\nusb_round_trip "), "{}", r.stdout);
    assert!(r.stdout.ends_with("no problem found\n"), "{}", r.stdout);
    assert_eq!(r.stderr, "");
}

#[test]
fn every_simulated_part_passes_every_check() {
    // The chip table's reference identities (DPIDR, core) and factory bank
    // options agree with every simulated part as it leaves the factory.
    let mut seen = Vec::new();
    for name in stflash_sim::chip_names() {
        let (transport, sim) = stflash_sim::open(&stflash_sim::SimSpec::new(name)).unwrap();
        let opts = DoctorOptions { measure: false, ..DoctorOptions::default() };
        let report = doctor::diagnose(Ok(Box::new(transport)), &opts, &mut doctor::Quiet);
        let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
        assert!(report.error.is_none(), "{name}: {:?}", report.error);
        assert_eq!(names, ["probe", "firmware", "voltage", "swd", "chip", "genuine", "rdp", "banks", "wrp", "halt"]);
        assert!(!sim.core_halted(), "{name}: the core was left halted");
        assert!(!sim.probe_in_debug(), "{name}: the probe was left in debug mode");
        seen.push(name);
    }
    assert!(seen.len() > 40);
}

#[test]
fn no_probe_is_exit_4() {
    // No simulator and no USB probe on a build machine.
    let r = run(&["doctor"], &[]);
    problem(r, 4, "probe", "no ST-LINK found");
    // --serial goes before doctor, as before info.
    let r = run(&["--sim", "f103", "--serial", "0123456789ABCDEF01234567", "doctor"], &[]);
    problem(r, 4, "probe", "no ST-LINK with serial 0123456789ABCDEF01234567");
}

#[test]
fn permission_denied_names_udev_and_winusb() {
    let r = doctor("f103", &[], &[("STFLASH_SIM_OPTS", "usb=permission")]);
    let r = problem(r, 4, "probe", "permission denied opening the ST-LINK");
    assert!(r.stderr.contains("udev/60-stflash.rules") && r.stderr.contains("WinUSB"), "{}", r.stderr);
}

#[test]
fn a_probe_in_use_is_exit_4() {
    let r = doctor("f103", &[], &[("STFLASH_SIM_OPTS", "usb=busy")]);
    problem(r, 4, "probe", "in use by another program");
}

#[test]
fn old_probe_firmware_names_the_features_and_the_updater() {
    let r = doctor("f103", &[], &[("STFLASH_SIM_FIRMWARE", "J21")]);
    let r = problem(r, 10, "firmware", "the probe's firmware V2J21S27 is too old for stflash");
    for text in ["setting the SWD clock (J22)", "16-bit memory access (J26)", "STSW-LINK007", "V2J26 or newer"] {
        assert!(r.stderr.contains(text), "{text}: {}", r.stderr);
    }
    // J26 has what stflash uses; every V3 firmware does.
    doctor("f103", &[], &[("STFLASH_SIM_FIRMWARE", "J26")]).ok();
    let r = doctor("f103", &[], &[("STFLASH_SIM_PROBE", "v3")]).ok();
    assert!(check_line(&r, "firmware").contains("V3J7M1B3"), "{}", r.stdout);
}

#[test]
fn an_unpowered_target_is_exit_5() {
    let r = doctor("f103", &[], &[("STFLASH_SIM_FAULTS", "no-power")]);
    let r = problem(r, 5, "voltage", "the probe measures 0.00 V: the target is not powered");
    assert!(r.stderr.contains("VAPP"), "{}", r.stderr);
}

#[test]
fn a_supply_out_of_range_is_exit_5() {
    let r = doctor("f103", &[], &[("STFLASH_SIM_OPTS", "voltage=1400")]);
    problem(r, 5, "voltage", "the probe measures 1.40 V, below the 1.62 V every STM32 needs");
    let r = doctor("f103", &[], &[("STFLASH_SIM_OPTS", "voltage=4200")]);
    problem(r, 5, "voltage", "the probe measures 4.20 V, above the 3.60 V maximum");
    let r = doctor("l476", &[], &[("STFLASH_SIM_OPTS", "voltage=1700")]).ok();
    assert!(check_line(&r, "voltage").contains("1.70 V: low"), "{}", r.stdout);
}

#[test]
fn nothing_answering_on_swd_suggests_the_wiring_and_a_connect_under_reset() {
    let r = doctor("f103", &[], &[("STFLASH_SIM_FAULTS", "no-target")]);
    let r = problem(r, 5, "swd", "nothing answers on SWD at any clock (4000 kHz to 5 kHz");
    for text in ["SWDIO, SWCLK and GND", "stflash doctor --connect-under-reset", "RDP level 2"] {
        assert!(r.stderr.contains(text), "{text}: {}", r.stderr);
    }
    // Under reset too: the wiring, NRST included.
    let r = doctor("f103", &["--connect-under-reset"], &[("STFLASH_SIM_FAULTS", "no-target")]);
    problem(r, 5, "swd", "even with NRST held low: check the SWDIO, SWCLK, GND and NRST wires");
}

#[test]
fn a_firmware_that_takes_the_swd_pins_is_reached_under_reset() {
    let state = board_with_firmware("f103", "doctor-takes-swd", "");
    let env = [("STFLASH_SIM_FAULTS", "firmware-disables-swd")];
    let r = problem(run(&["--sim", &sim("f103", &state), "doctor"], &env), 5, "swd", "nothing answers on SWD");
    assert!(r.stderr.contains("the firmware may have remapped or disabled the SWD pins"), "{}", r.stderr);
    assert!(r.stderr.contains("--connect-under-reset"), "{}", r.stderr);
    let r = run(&["--sim", &sim("f103", &state), "doctor", "--connect-under-reset"], &env).ok();
    assert!(check_line(&r, "halt").contains("halted at its reset vector"), "{}", r.stdout);
}

#[test]
fn a_core_that_will_not_halt_suggests_a_connect_under_reset() {
    let r = doctor("f103", &[], &[("STFLASH_SIM_FAULTS", "no-halt")]);
    let r = problem(r, 5, "halt", "the core did not halt");
    assert!(r.stderr.contains("run `stflash doctor --connect-under-reset`"), "{}", r.stderr);
    // Every read-only check came first.
    assert!(check_line(&r, "wrp").contains(" ok "), "{}", r.stdout);
}

#[test]
fn an_unknown_chip_is_exit_5() {
    // An Artery AT32F403-style IDCODE: a series in the upper bits, a part
    // code in the low 12 (Black Magic Probe src/target/stm32f1.c:145-156).
    let r = doctor("f103", &[], &[("STFLASH_SIM_OPTS", "idcode=0x70050240")]);
    let r = problem(r, 5, "chip", "unknown chip: DEV_ID 0x240 (DBGMCU_IDCODE 0x70050240)");
    assert!(r.stderr.contains("not an STM32 that stflash knows"), "{}", r.stderr);
}

#[test]
fn a_known_dev_id_with_another_dpidr_is_a_clone() {
    // ChipSea CS32F103: DEV_ID 0x410 as an STM32F103, SW-DP 0x2BA01477.
    let r = doctor("f103", &[], &[("STFLASH_SIM_OPTS", "dpidr=0x2BA01477")]);
    let r = problem(r, 5, "genuine", "answers SW-DP IDCODE 0x2BA01477, where ST's parts answer 0x1BA01477");
    assert!(r.stderr.contains("probably a clone") && r.stderr.contains("CS32F103"), "{}", r.stderr);
}

#[test]
fn a_known_dev_id_with_another_core_is_a_clone() {
    // An "STM32F030" with a Cortex-M0+ (Black Magic Probe issue #2020).
    let r = doctor("stm32f030f4", &[], &[("STFLASH_SIM_OPTS", "cpuid=0x410CC601")]);
    let r = problem(r, 5, "genuine", "whose parts have a Cortex-M0, but its CPUID 0x410CC601 names a Cortex-M0+");
    assert!(r.stderr.contains("probably not ST silicon"), "{}", r.stderr);
}

#[test]
fn read_protection_is_exit_6() {
    let r = doctor("f103", &[], &[("STFLASH_SIM_OPTS", "rdp=1")]);
    let r = problem(r, 6, "rdp", "the chip is read-protected (RDP level 1)");
    assert!(r.stderr.contains("stflash recover --confirm-erase"), "{}", r.stderr);
    // Level 2 disables the debug port: nothing answers, and doctor says it may be that.
    let r = doctor("h7a3", &["--connect-under-reset"], &[("STFLASH_SIM_OPTS", "rdp=2")]);
    let r = problem(r, 5, "swd", "nothing answers on SWD at any clock");
    assert!(r.stderr.contains("RDP level 2 has its debug port disabled for good"), "{}", r.stderr);
}

#[test]
fn write_protection_is_exit_6() {
    let r = doctor("f103", &[], &[("STFLASH_SIM_OPTS", "wrp=0x08001000-0x08001fff")]);
    let r = problem(r, 6, "wrp", "0x08001000-0x08001FFF write-protected by FLASH_WRPR");
    assert!(r.stderr.contains("stflash --area=option write"), "{}", r.stderr);
}

#[test]
fn swapped_banks_are_exit_10() {
    let r = doctor("h743", &[], &[("STFLASH_SIM_OPTS", "swap_bank=1")]);
    let r = problem(r, 10, "banks", "the flash banks of this STM32H74x_H75x are swapped");
    assert!(r.stderr.contains("SWAP_BANK_OPT=0"), "{}", r.stderr);
}

#[test]
fn a_bank_organisation_other_than_the_factory_one_is_exit_10() {
    let r = doctor("stm32f767zi", &[], &[("STFLASH_SIM_OPTS", "ndbank=0")]);
    let r = problem(r, 10, "banks", "FLASH_OPTCR.nDBANK = 0 (dual bank), factory 1 (single bank)");
    assert!(r.stderr.contains("stflash --allow-bank-config --area=option write nDBANK=1"), "{}", r.stderr);
    let r = doctor("stm32f767zi", &[], &[]).ok();
    assert!(check_line(&r, "banks").contains("the factory organisation"), "{}", r.stdout);
}

#[test]
fn a_link_that_fails_at_fast_clocks_is_found_and_measured_at_the_others() {
    let (code, doc) = doctor_json("f103", &[], &[("STFLASH_SIM_FAULTS", "max-swd=1000")]);
    assert_eq!(code, 0, "{doc}");
    let swd = doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == "swd").unwrap();
    let detail = swd["detail"].as_str().unwrap();
    assert!(detail.starts_with("answers at 950 kHz"), "{detail}");
    assert!(detail.contains("4000, 1800 and 1200 kHz: SWD_AP_PARITY_ERROR"), "{detail}");
    assert!(detail.contains("--freq 950"), "{detail}");
    assert_eq!(measurement(&doc, "swd_read_4000khz")["value"], Value::Null);
    assert!(measurement(&doc, "swd_read_4000khz")["detail"].as_str().unwrap().contains("the link fails"));
    assert!(number(&measurement(&doc, "swd_read_950khz")["value"]) > 0.0);
}

#[test]
fn less_sram_than_the_chip_table_says_leaves_those_measurements_out() {
    let r = doctor("f103", &[], &[("STFLASH_SIM_FAULTS", "sram-limit=1KiB")]).ok();
    assert!(r.stdout.contains("swd_read               -"), "{}", r.stdout);
    assert!(r.stdout.contains("not measured: the SRAM does not answer"), "{}", r.stdout);
    assert!(r.stdout.contains("the SRAM does not reach the flash routine's last word"), "{}", r.stdout);
}

#[test]
fn doctor_leaves_the_firmware_running_and_the_sram_as_it_was() {
    let state = board_with_firmware("h7a3", "doctor-sram", "");
    let spec = sim("h7a3", &state);
    let ram = pattern(0x20000, 9);
    {
        let (t, h) = stflash_sim::open(&stflash_sim::SimSpec::parse(&spec).unwrap()).unwrap();
        assert!(h.poke(0x2000_0000, &ram));
        h.save().unwrap();
        drop(t);
    }
    run(&["--sim", &spec, "doctor"], &[]).ok();
    let (t, h) = stflash_sim::open(&stflash_sim::SimSpec::parse(&spec).unwrap()).unwrap();
    assert!(h.peek(0x2000_0000, ram.len()).unwrap() == ram, "SRAM changed");
    drop(t);
}

// ------------------------------------------------------------------ measurements

#[test]
fn the_usb_round_trip_is_the_probe_s_model() {
    for (probe, ms) in [("v2-1", 0.302), ("v2", 0.302), ("v3", 0.150)] {
        let (_, doc) = doctor_json("f103", &[], &[("STFLASH_SIM_PROBE", probe)]);
        let m = measurement(&doc, "usb_round_trip");
        assert_eq!(m["unit"], "ms");
        assert!(near(number(&m["value"]), ms, 0.01) && near(number(&m["model"]), ms, 0.01), "{probe}: {m}");
    }
}

#[test]
fn swd_throughput_is_measured_at_every_clock_the_probe_offers() {
    for (probe, clocks) in [
        ("v2-1", &[4000, 1800, 1200, 950, 480, 240, 125, 100, 50, 25, 15, 5][..]),
        ("v3", &[24000, 8000, 3300, 1000, 200, 50, 5]),
    ] {
        let (_, doc) = doctor_json("f411", &[], &[("STFLASH_SIM_PROBE", probe)]);
        let mut last = f64::MAX;
        for khz in clocks {
            for dir in ["read", "write"] {
                let m = measurement(&doc, &format!("swd_{dir}_{khz}khz"));
                let (value, model) = (number(&m["value"]), number(&m["model"]));
                assert!(near(value, model, 0.001), "{probe} {khz} kHz {dir}: {m}");
                assert!(value < last * 1.0001 || dir == "write", "{probe}: slower clocks are slower");
                last = value;
            }
        }
    }
}

#[test]
fn the_h7_flash_crc_unit_is_solved_as_the_write_path_solves_it() {
    let state = board_with_firmware("h7a3", "doctor-h7crc", "");
    let spec = sim("h7a3", &state);
    let (code, doc) = doctor_json(&spec, &[], &[]);
    assert_eq!(code, 0, "{doc}");
    let init = measurement(&doc, "flash_crc_init");
    assert_eq!((init["value"].as_u64(), init["model"].as_u64()), (Some(0xB6C0_AE5A), Some(0xB6C0_AE5A)), "{init}");
    assert_eq!(measurement(&doc, "flash_crc_order")["value"], "word");
    assert_eq!(measurement(&doc, "flash_crc_output")["value"], "plain");
    // A unit that differs from the published measurement: the solution follows it.
    let faults = "flash_crc_init=0x1234ABCD,flash_crc_order=bytes,flash_crc_out=reflected";
    let (_, doc) = doctor_json(&spec, &[], &[("STFLASH_SIM_FAULTS", faults)]);
    let init = measurement(&doc, "flash_crc_init");
    assert_eq!((init["value"].as_u64(), init["model"].as_u64()), (Some(0x1234_ABCD), Some(0xB6C0_AE5A)), "{init}");
    assert_eq!(measurement(&doc, "flash_crc_order")["value"], "bytes");
    assert_eq!(measurement(&doc, "flash_crc_output")["value"], "reflected");
    // Erased flash tells the initial value but not the order.
    let (_, doc) = doctor_json("h7a3", &[], &[("STFLASH_SIM_FAULTS", "flash_crc_init=0x0BADCAFE")]);
    assert_eq!(measurement(&doc, "flash_crc_init")["value"].as_u64(), Some(0x0BAD_CAFE));
    let order = measurement(&doc, "flash_crc_order");
    assert_eq!(order["value"], Value::Null);
    assert!(order["detail"].as_str().unwrap().contains("not settled"), "{order}");
    // A unit no model explains.
    let (_, doc) = doctor_json(&spec, &[], &[("STFLASH_SIM_FAULTS", "flash_crc=garbage")]);
    let init = measurement(&doc, "flash_crc_init");
    assert_eq!(init["value"], Value::Null);
    assert!(init["detail"].as_str().unwrap().contains("no CRC-32"), "{init}");
}

#[test]
fn the_crc_peripheral_is_solved_too() {
    let (_, doc) = doctor_json("f411", &[], &[]);
    assert_eq!(measurement(&doc, "crc_peripheral_init")["value"].as_u64(), Some(0xFFFF_FFFF));
    assert_eq!(measurement(&doc, "crc_peripheral_order")["value"], "word");
    let faults = "crc-peripheral-init=0x5EED1234,crc-peripheral-order=reflected";
    let (_, doc) = doctor_json("f411", &[], &[("STFLASH_SIM_FAULTS", faults)]);
    assert_eq!(measurement(&doc, "crc_peripheral_init")["value"].as_u64(), Some(0x5EED_1234));
    assert_eq!(measurement(&doc, "crc_peripheral_order")["value"], "reflected");
}

/// `--measure-flash` on `chip`: the sector's erase and unit program times
/// are the model's (times `flash-time`), and the sector holds what it held.
fn flash_times(chip: &str, sector: &str, addr: u32, size: usize, erase_ms: f64, program_us: f64) {
    let state = board_with_firmware(chip, &format!("doctor-flash-{chip}"), "");
    let spec = sim(chip, &state);
    let before = pattern(size, addr);
    {
        let (t, h) = stflash_sim::open(&stflash_sim::SimSpec::parse(&spec).unwrap()).unwrap();
        assert!(h.poke(addr, &before));
        h.save().unwrap();
        drop(t);
    }
    let journal = journal_dir(&state);
    for factor in [1.0, 2.5] {
        let faults = format!("flash-time={factor}");
        let env = [("STFLASH_SIM_FAULTS", faults.as_str()), ("STFLASH_STATE_DIR", journal.as_str())];
        let (code, doc) = doctor_json(&spec, &["--measure-flash", sector, "--confirm-erase"], &env);
        assert_eq!(code, 0, "{doc}");
        let erase = measurement(&doc, "flash_erase_time");
        assert!(near(number(&erase["model"]), erase_ms, 1e-6), "{chip}: {erase}");
        assert!(near(number(&erase["value"]), erase_ms * factor, 0.05), "{chip} ×{factor}: {erase}");
        let program = measurement(&doc, "flash_program_time");
        assert!(near(number(&program["model"]), program_us, 1e-6), "{chip}: {program}");
        assert!(near(number(&program["value"]), program_us * factor, 0.10), "{chip} ×{factor}: {program}");
        assert!(crate::common::flash_of(&state, addr, size) == before, "{chip}: the sector was not written back");
        let left: Vec<_> = std::fs::read_dir(&journal).map(|d| d.collect()).unwrap_or_default();
        assert!(left.is_empty(), "{chip}: a journal stayed behind: {left:?}");
    }
}

#[test]
fn a_flash_sector_is_timed_and_written_back_f103() {
    // F103: 1 KiB pages, 30 ms erase, 52.5 µs per half-word (the simulator's
    // F1 model after DS5319, "Flash memory characteristics").
    flash_times("f103", "3", 0x0800_0C00, 1024, 30.0, 52.5);
}

#[test]
fn a_flash_sector_is_timed_and_written_back_h7a3() {
    // H7A3: 8 KiB sectors, 5 ms erase, 25 µs per 16-byte flash word; by address.
    flash_times("h7a3", "0x08104000", 0x0810_4000, 8192, 5.0, 25.0);
}

#[test]
fn a_flash_measurement_needs_consent_and_a_real_sector() {
    let state = board_with_firmware("f103", "doctor-consent", "");
    let spec = sim("f103", &state);
    let before = crate::common::flash_of(&state, 0x0800_0000, 0x10000);
    let r = run(&["--sim", &spec, "doctor", "--measure-flash", "2"], &[]);
    let r = r.fails(2, "--measure-flash erases sector 2 of bank 1 (0x08000800, 1 KiB)");
    assert!(r.stderr.contains("add --confirm-erase to do it; nothing was changed"), "{}", r.stderr);
    assert!(r.stdout.contains("usb_round_trip"), "the other measurements ran:\n{}", r.stdout);
    let r = run(&["--sim", &spec, "doctor", "--measure-flash", "64", "--confirm-erase"], &[]);
    r.fails(3, "--measure-flash 64: this STM32F1xx_MD has 64 sectors (0-63) at 0x08000000-0x0800FFFF");
    assert!(crate::common::flash_of(&state, 0x0800_0000, 0x10000) == before, "the flash changed");
    let r = run(&["--sim", &spec, "doctor", "--confirm-erase"], &[]);
    r.fails(2, "--confirm-erase lets --measure-flash erase its sector");
    // A protected sector is refused before anything is erased.
    let state = board_with_firmware("f103", "doctor-consent-wrp", "wrp=0x08001000-0x08001fff");
    let r = run(&["--sim", &sim("f103", &state), "doctor", "--measure-flash", "4", "--confirm-erase"], &[]);
    r.fails(6, "write-protected");
}

/// A transport that is unplugged at the first memory write (WRITEMEM_32BIT)
/// after a command that writes `bits` to the register at `addr` (the start
/// of an erase): after the erase, before anything is programmed.
struct UnplugAfter {
    inner: stflash_sim::SimTransport,
    addr: u32,
    bits: u32,
    armed: bool,
    gone: bool,
}

impl stflash::transport::Transport for UnplugAfter {
    fn write(&mut self, data: &[u8], t: std::time::Duration) -> Result<usize, stflash::transport::TransportError> {
        if self.gone {
            return Err(stflash::transport::TransportError::Disconnected);
        }
        let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        // WRITEDEBUGREG: F2 35 addr value; WRITEMEM_32BIT: F2 08 addr length.
        if data.len() == 16 && data[0] == 0xF2 && data[1] == 0x35 && word(&data[2..6]) == self.addr {
            self.armed |= word(&data[6..10]) & self.bits == self.bits;
        }
        if self.armed && data.len() == 16 && data[0] == 0xF2 && data[1] == 0x08 {
            self.gone = true;
            return Err(stflash::transport::TransportError::Disconnected);
        }
        self.inner.write(data, t)
    }
    fn read(&mut self, buf: &mut [u8], t: std::time::Duration) -> Result<usize, stflash::transport::TransportError> {
        if self.gone {
            return Err(stflash::transport::TransportError::Disconnected);
        }
        self.inner.read(buf, t)
    }
    fn info(&self) -> &stflash::transport::ProbeInfo {
        self.inner.info()
    }
    fn sleep(&mut self, d: std::time::Duration) {
        self.inner.sleep(d)
    }
    fn elapsed(&self) -> std::time::Duration {
        self.inner.elapsed()
    }
}

#[test]
fn a_sector_erased_when_the_probe_was_unplugged_comes_back_with_the_next_write() {
    let state = board_with_firmware("f103", "doctor-unplugged", "");
    let spec = sim("f103", &state);
    let (addr, size) = (0x0800_0C00, 1024);
    let before = crate::common::flash_of(&state, addr, size);
    let journal = temp_dir("doctor-unplugged-journal");
    {
        let (inner, _) = stflash_sim::open(&stflash_sim::SimSpec::parse(&spec).unwrap()).unwrap();
        // F1 FLASH_CR (RM0008): PER | STRT.
        let transport = UnplugAfter { inner, addr: 0x4002_2010, bits: 0x42, armed: false, gone: false };
        let opts = DoctorOptions {
            measure_flash: Some(3),
            confirm_erase: true,
            journal_dir: Some(journal.clone()),
            ..DoctorOptions::default()
        };
        let report = doctor::diagnose(Ok(Box::new(transport)), &opts, &mut doctor::Quiet);
        let e = report.error.expect("the probe went away");
        assert_eq!(e.exit_code(), 9, "{e}");
        assert!(e.message.contains("journal"), "the error names the journal: {e}");
    }
    assert_eq!(crate::common::flash_of(&state, addr, size), vec![0xFF; size], "the sector was left erased");
    // The next write on this chip (of another page) writes the sector back first.
    let other = crate::common::write_file(&journal, "other.bin", &pattern(64, 1));
    let env = [("STFLASH_SIM", spec.as_str()), ("STFLASH_STATE_DIR", arg(&journal))];
    let r = run(&["write", &other, "0x08008000"], &env).ok();
    assert!(r.stderr.contains("stflash doctor --measure-flash"), "{}", r.stderr);
    assert!(crate::common::flash_of(&state, addr, size) == before, "not written back");
}

// ------------------------------------------------------------------ the JSON document

#[test]
fn the_json_document_lists_checks_and_measurements() {
    let (code, doc) = doctor_json("h7a3", &[], &[]);
    assert_eq!(code, 0);
    assert_eq!((doc["command"].as_str(), doc["result"].as_str()), (Some("doctor"), Some("ok")));
    assert_eq!(doc["time_source"], "modeled");
    assert_eq!(doc["probe"]["serial"], "53494D4B0000000000000001");
    assert_eq!(doc["target"]["chip"], "STM32H7Ax_H7Bx");
    assert_eq!(doc["target"]["dpidr"].as_u64(), Some(0x6BA0_2477));
    for c in doc["checks"].as_array().unwrap() {
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["detail", "name", "result"], "{c}");
        assert_eq!(c["result"], "ok");
    }
    for m in doc["measurements"].as_array().unwrap() {
        for key in ["name", "value", "unit", "model"] {
            assert!(m.get(key).is_some(), "{key} missing: {m}");
        }
    }
    assert!(measurement(&doc, "flash_crc_init")["value"].is_u64());
    // A problem: the document ends the checks with it and carries the error.
    let (code, doc) = doctor_json("f103", &[], &[("STFLASH_SIM_OPTS", "rdp=1")]);
    assert_eq!(code, 6);
    assert_eq!((doc["result"].as_str(), doc["error"]["kind"].as_str()), (Some("error"), Some("protected")));
    let last = doc["checks"].as_array().unwrap().last().unwrap();
    assert_eq!((last["name"].as_str(), last["result"].as_str()), (Some("rdp"), Some("problem")));
    assert_eq!(doc["measurements"], serde_json::json!([]));
    // No probe at all: a document all the same.
    let r = run(&["--json", "doctor"], &[]);
    assert_eq!(r.code, 4);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((doc["probe"].clone(), doc["checks"][0]["name"].as_str()), (Value::Null, Some("probe")));
}

#[test]
fn doctor_is_in_the_help_the_man_page_and_the_completions() {
    let help = run(&["--help"], &[]).ok().stdout;
    assert!(help.contains("stflash [options] doctor [--measure-flash <sector> --confirm-erase]"), "{help}");
    let sub = run(&["doctor", "--help"], &[]).ok().stdout;
    assert!(sub.contains("--measure-flash") && sub.contains("--confirm-erase"), "{sub}");
    assert!(run(&["man"], &[]).ok().stdout.contains("doctor"));
    assert!(run(&["completions", "bash"], &[]).ok().stdout.contains("doctor"));
    run(&["doctor", "--data", "0x08000000=1"], &[]).fails(2, "--data does not apply to doctor");
    run(&["doctor", "--measure-flash", "08000000"], &[]).fails(2, "a leading 0 means octal");
}
