//! End-to-end tests of the STM32H7R/S (RM0477) on a simulated H7S3: one bank
//! of 8 × 8 KiB sectors, 16-byte flash words, busy in FLASH_SR and errors in
//! FLASH_ISR (cleared in FLASH_ICR), options through OPTCR.PG_OPT, NVSTATE
//! instead of RDP, the core on AP1.

use crate::common::families::{read_area, Part};
use crate::common::{flash_of, open_sim, pattern, run, run_sim, temp_dir, write_file, WrpCase};
use stflash::flash::{engine, FlashError, NoProgress, Sector};
use stflash::ops::image::Image;
use stflash::ops::{write, Session};
use stflash_sim::SimSpec;

/// FLASH_CR, ISR, ICR (CMSIS stm32h7r3xx.h:872-879) and CR bits.
const CR: u32 = 0x5200_2010;
const ISR: u32 = 0x5200_2024;
const ICR: u32 = 0x5200_2028;
const SER: u32 = 1 << 2;
const START: u32 = 1 << 5;
const PG: u32 = 1 << 1;
const LOCK: u32 = 1 << 0;

const H7S3: Part = Part {
    chip: "stm32h7s3l8",
    name: "STM32H7Rx_H7Sx",
    layout: "64 KiB: 8 × 8 KiB sectors",
    write: (0x0800_B000, 0x4000),
    erase: (0x0800_C000, 0x2000),
};

fn writes_to(log: &[(u32, u32)], reg: u32) -> Vec<u32> {
    log.iter().filter(|(a, _)| *a == reg).map(|&(_, v)| v).collect()
}

#[test]
fn h7rs_identifies_writes_across_sectors_reads_and_erases() {
    H7S3.check();
}

#[test]
fn h7rs_register_sequence_and_errors_cleared_through_icr() {
    let (mut session, sim) = open_sim(SimSpec::new("h7s3"));
    assert_eq!(session.target.link().ap(), 1, "the core is on AP1");
    assert!(sim.poke(0x0800_E000, &[0; 16]));
    sim.clear_register_log();
    let image = pattern(0x30, 1);
    let img = Image::from_binary(image.clone(), 0x0800_E000).unwrap();
    write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(sim.peek(0x0800_E000, 0x30).unwrap(), image);
    let log = sim.register_writes();
    let sector7 = SER | 7 << 6;
    assert_eq!(writes_to(&log, CR), vec![sector7, sector7 | START, 0, PG, 0, 0, LOCK]);
    assert!(writes_to(&log, ICR).contains(&(1 << 16)), "EOPF cleared in ICR");
    assert!(writes_to(&log, ISR).is_empty(), "ISR is read-only");
    assert_eq!(sim.stats().words, 3, "three 16-byte flash words");
}

#[test]
fn h7rs_reports_errors_found_in_isr() {
    // Past stflash's own check: the engine erases a protected sector and
    // the controller's WRPERRF, in ISR, is what stops it.
    let mut spec = SimSpec::new("h7s3");
    spec.options = vec![("wrp".into(), "0x08002000-0x08003fff".into())];
    let (mut session, sim) = open_sim(spec);
    assert!(sim.poke(0x0800_2000, &[0x11; 16]));
    let sector = Sector { bank: 0, index: 1, addr: 0x0800_2000, size: 8192 };
    let Session { target, flash, .. } = &mut session;
    let ctrl = flash.as_mut().unwrap();
    ctrl.unlock(target, 0).unwrap();
    let err = engine::erase_sector(target, ctrl.as_ref(), &sector).unwrap_err();
    match &err {
        FlashError::Flags { flags, .. } => assert_eq!(flags[0].name, "WRPERR", "{err}"),
        other => panic!("expected WRPERR, got {other}"),
    }
    assert_eq!(target.read32(ISR).unwrap() & (1 << 17), 0, "cleared in ICR after the report");
    assert_eq!(sim.peek(0x0800_2000, 16).unwrap(), vec![0x11; 16]);
}

#[test]
fn h7rs_closed_nvstate_is_refused() {
    H7S3.refuses_read_protection("read-protected");
}

#[test]
fn h7rs_options_through_pg_opt_and_a_reset() {
    let dir = temp_dir("h7rs-opt");
    let state = dir.join("chip.sim");
    let chip = H7S3.chip;
    let out = run_sim(chip, &state, &["--area=option", "read"]).ok();
    for text in ["FLASH_OBW1SR (0x52002260)", "non-volatile state (instead of RDP): Open", "FLASH_WRPSR", "DBG_AUTH"] {
        assert!(out.stderr.contains(text), "{text}:\n{}", out.stderr);
    }
    let obw1 = read_area(chip, &state, "option");
    // A harmless field: programmed through PG_OPT, the chip reset, read back.
    let out = run_sim(chip, &state, &["--area=option", "write", "BOR_LEVEL=2"]).ok();
    assert!(out.stderr.contains("connecting again"), "{}", out.stderr);
    assert_eq!(read_area(chip, &state, "option"), (obw1 & !(3 << 2)) | 2 << 2);
    // NVSTATE, the root of trust and the HSLV bits are never changed; the
    // TCM share needs the bank flag.
    run_sim(chip, &state, &["--area=option", "write", "FLASH_NVSR.NVSTATE=0x51"]).fails(3, "NVSTATE");
    run_sim(chip, &state, &["--area=option", "write", "XSPI1_HSLV=1"]).fails(3, "damage");
    run_sim(chip, &state, &["--area=option", "write", "ITCM_AXI_SHARE=1"]).fails(3, "--allow-bank-config");
    // Write protection: sector 3, set then cleared with the command the refusal proposes.
    let fw = write_file(&dir, "fw.bin", &pattern(0x2000, 2));
    run_sim(chip, &state, &["--allow-write-protection", "--area=option", "write", "WRPS=0xF7"]).ok();
    run_sim(chip, &state, &["write", &fw, "0x08006000"])
        .fails(6, "write-protected by FLASH_WRPSR.WRPS (sector 3)")
        .fails(6, "`stflash --area=option write WRPS=0xFF` first");
    run_sim(chip, &state, &["--area=option", "write", "WRPS=0xFF"]).ok();
    run_sim(chip, &state, &["write", &fw, "0x08006000"]).ok();
    assert_eq!(flash_of(&state, 0x0800_6000, 0x2000), pattern(0x2000, 2));
}

#[test]
fn h7rs_recover_refuses_a_closed_chip_with_the_reason() {
    let dir = temp_dir("h7rs-recover");
    let spec = format!("{}:{}", H7S3.chip, dir.join("chip.sim").display());
    let out = run(&["recover", "--confirm-erase"], &[("STFLASH_SIM", &spec), ("STFLASH_SIM_OPTS", "rdp=1")]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("debug authentication"), "{}", out.stderr);
}

#[test]
fn h7rs_write_protected_sectors_are_refused_before_anything_is_erased() {
    WrpCase {
        chip: "stm32h7s3l8",
        options: &[("wrp", "0x08004000-0x08005fff")],
        area: (0x0800_4000, 0x0800_6000),
        from: 0x0800_0000,
        register: "FLASH_WRPSR.WRPS (sector 2)",
        remedy: "WRPS=0xFF",
    }
    .check("h7rs-wrp");
}
