//! End-to-end tests of the small STM32H5 dies on simulated chips: H503
//! (RM0492: 2 banks of 8 × 8 KiB, one WRPSG bit per sector, no TrustZone)
//! and H523/H533 (RM0481: 2 banks of 32 × 8 KiB, WRPSG bits of four
//! sectors, EDATA). Rows and per-die data of the H5 family; the core on AP1
//! as on the H563.

use crate::common::families::{read_area, Part};
use crate::common::{flash_of, open_sim, pattern, run, run_sim, temp_dir, write_file, WrpCase};
use stflash::flash::NoProgress;
use stflash::ops::image::Image;
use stflash::ops::write;
use stflash_sim::SimSpec;

/// H5 FLASH_NSCR and its bits (RM0481/RM0492, CMSIS stm32h503xx.h:5450).
const NSCR: u32 = 0x4002_2028;
const SER: u32 = 1 << 2;
const STRT: u32 = 1 << 5;
const BKSEL: u32 = 1 << 31;

const H503: Part = Part {
    chip: "stm32h503rb",
    name: "STM32H503xx",
    layout: "128 KiB in 2 banks (bank 1 at 0x08000000: 8 × 8 KiB; bank 2 at 0x08010000: 8 × 8 KiB)",
    write: (0x0800_E000, 0x4800),
    erase: (0x0801_0000, 0x2000),
};
const H523: Part = Part {
    chip: "stm32h523ze",
    name: "STM32H523_H533",
    layout: "512 KiB in 2 banks (bank 1 at 0x08000000: 32 × 8 KiB; bank 2 at 0x08040000: 32 × 8 KiB)",
    write: (0x0803_E000, 0x6000),
    erase: (0x0804_0000, 0x2000),
};

#[test]
fn small_h5_parts_identify_write_across_banks_read_and_erase() {
    H503.check();
    H523.check();
}

#[test]
fn h503_sector_numbers_fit_its_3_bit_field_and_bksel_picks_bank_2() {
    let (mut session, sim) = open_sim(SimSpec::new("h503"));
    assert_eq!(session.target.link().ap(), 1, "the core is on AP1");
    sim.clear_register_log();
    let img = Image::from_binary(pattern(0x40, 1), 0x0800_FFE0).unwrap();
    write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(sim.peek(0x0800_FFE0, 0x40).unwrap(), pattern(0x40, 1));
    let nscr: Vec<u32> = sim.register_writes().iter().filter(|(a, _)| *a == NSCR).map(|&(_, v)| v).collect();
    assert!(nscr.contains(&(SER | 7 << 6 | STRT)), "sector 7 of bank 1: {nscr:X?}");
    assert!(nscr.contains(&(SER | BKSEL | STRT)), "sector 0 of bank 2: {nscr:X?}");
}

#[test]
fn small_h5_closed_product_state_is_refused() {
    H503.refuses_read_protection("read-protected");
    H523.refuses_read_protection("read-protected");
}

#[test]
fn h503_options_have_no_trustzone_and_protect_sector_by_sector() {
    let dir = temp_dir("h503-opt");
    let state = dir.join("chip.sim");
    let chip = H503.chip;
    let out = run_sim(chip, &state, &["--area=option", "read"]).ok();
    for text in ["FLASH_OPTSR (0x40022050)", "product state (instead of RDP): Open", "SRAM1_ECC", "FLASH_WRP2R"] {
        assert!(out.stderr.contains(text), "{text}:\n{}", out.stderr);
    }
    for absent in ["TZEN", "BOOT_UBE", "EDATA"] {
        assert!(!out.stderr.contains(absent), "{absent}:\n{}", out.stderr);
    }
    let optsr = read_area(chip, &state, "option");
    run_sim(chip, &state, &["--area=option", "write", "BOR_LEV=2"]).ok();
    assert_eq!(read_area(chip, &state, "option"), (optsr & !3) | 2);
    let closed = format!("0x{:08x}", (optsr & !0xFF00) | 0x72 << 8);
    run_sim(chip, &state, &["--allow-read-protection", "--area=option", "write", &closed]).fails(3, "PRODUCT_STATE");
    // WRPSG1 bit 1: sector 1 only (8 KiB at 0x08002000).
    run_sim(chip, &state, &["--area=option", "write", "WRPSG1=0xFD"]).fails(3, "--allow-write-protection");
    run_sim(chip, &state, &["--allow-write-protection", "--area=option", "write", "WRPSG1=0xFD"]).ok();
    let fw = write_file(&dir, "fw.bin", &pattern(0x2000, 2));
    run_sim(chip, &state, &["write", &fw, "0x08002000"])
        .fails(6, "write-protected by FLASH_WRP1R.WRPSG1 (sector 1 of bank 1)")
        .fails(6, "`stflash --area=option write WRPSG1=0xFF` first");
    run_sim(chip, &state, &["--area=option", "write", "WRPSG1=0xFF"]).ok();
    run_sim(chip, &state, &["write", &fw, "0x08002000"]).ok();
    // No TrustZone to refuse on this die.
    let state = dir.join("tz.sim");
    let spec = format!("{chip}:{}", state.display());
    run(&["write", &fw, "0x08000000"], &[("STFLASH_SIM", &spec), ("STFLASH_SIM_OPTS", "tzen=1")])
        .fails(2, "tzen=0|1 (not on H503)");
}

#[test]
fn h523_options_trustzone_and_edata() {
    let dir = temp_dir("h523-opt");
    let state = dir.join("chip.sim");
    let chip = H523.chip;
    let out = run_sim(chip, &state, &["--area=option", "read"]).ok();
    for text in ["TrustZone: off", "BOOT_UBE", "FLASH_EDATA1R", "FLASH_EDATA2R"] {
        assert!(out.stderr.contains(text), "{text}:\n{}", out.stderr);
    }
    assert!(!out.stderr.contains("SRAM3_ECC"), "{}", out.stderr);
    run_sim(chip, &state, &["--area=option", "write", "TZEN=0xB4"]).fails(3, "STM32CubeProgrammer");
    let fw = write_file(&dir, "fw.bin", &pattern(0x4000, 3));
    // Two sectors of bank 1 given to EDATA: the last two (assumed).
    let edata = dir.join("edata.sim");
    let spec = format!("{chip}:{}", edata.display());
    let env = [("STFLASH_SIM", spec.as_str()), ("STFLASH_SIM_OPTS", "edata1=2")];
    run(&["write", &fw, "0x0803C000"], &env)
        .fails(6, "overlaps 0x0803C000-0x0803FFFF, given to the high-cycle data area by FLASH_EDATA1R")
        .fails(6, "nothing was erased or written");
    run_sim(chip, &edata, &["erase"]).fails(6, "refusing to mass-erase");
    run_sim(chip, &edata, &["write", &fw, "0x08038000"]).ok();
    // Giving the sectors back to main flash needs the bank flag, then works.
    run_sim(chip, &edata, &["--area=option", "write", "EDATA1_EN=0"]).fails(3, "--allow-bank-config");
    run_sim(chip, &edata, &["--allow-bank-config", "--area=option", "write", "EDATA1_EN=0"]).ok();
    run_sim(chip, &edata, &["write", &fw, "0x0803C000"]).ok();
    assert_eq!(flash_of(&edata, 0x0803_C000, 0x4000), pattern(0x4000, 3));
}

#[test]
fn small_h5_write_protected_sectors_are_refused_before_anything_is_erased() {
    WrpCase {
        chip: "stm32h503rb",
        options: &[("wrp", "0x08004000-0x08005fff")],
        area: (0x0800_4000, 0x0800_6000),
        from: 0x0800_0000,
        register: "FLASH_WRP1R.WRPSG1 (sector 2 of bank 1)",
        remedy: "WRPSG1=0xFF",
    }
    .check("h503-wrp");
    WrpCase {
        chip: "stm32h523ze",
        options: &[("wrp", "0x08048000-0x08049fff")],
        area: (0x0804_8000, 0x0805_0000),
        from: 0x0804_0000,
        register: "FLASH_WRP2R.WRPSG2 (sectors 4-7 of bank 2)",
        remedy: "WRPSG2=0xFF",
    }
    .check("h523-wrp");
}
