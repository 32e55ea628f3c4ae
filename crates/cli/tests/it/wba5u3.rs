//! End-to-end tests of the STM32WBA5 (RM0493) and U3 (RM0487) on simulated
//! chips: variants of the L5/U5 TrustZone controller driven through its
//! non-secure registers. WBA55CG: one bank of 128 × 8 KiB pages, quad
//! words, the core on AP1. U385RG: 1 MiB, always two banks of 128 × 4 KiB
//! pages, double words, voltage range 1 needed; U375RE: 512 KiB, two banks
//! with OPTR.DUALBANK.

use crate::common::families::{read_area, Part};
use crate::common::{flash_of, open_sim, pattern, run, run_sim, temp_dir, write_file, WrpCase};
use stflash::flash::NoProgress;
use stflash::ops::image::Image;
use stflash::ops::{erase, write};
use stflash_sim::SimSpec;

/// FLASH_NSCR (WBA5 NSCR1, U3 CR) at 0x40022028 and its bits (CMSIS
/// stm32wba52xx.h:3803-3836, stm32u375xx.h:6475-6490).
const NSCR: u32 = 0x4002_2028;
const NSKEYR: u32 = 0x4002_2008;
const PER: u32 = 1 << 1;
const MER1: u32 = 1 << 2;
const BKER: u32 = 1 << 11;
const MER2: u32 = 1 << 15;
const STRT: u32 = 1 << 16;
/// U3 PWR_VOSR (stm32u375xx.h:831) and R1EN.
const VOSR: u32 = 0x4003_080C;

const WBA55: Part = Part {
    chip: "stm32wba55cg",
    name: "STM32WBA5x",
    layout: "1024 KiB: 128 × 8 KiB sectors",
    write: (0x0807_E000, 0x5000),
    erase: (0x0808_0000, 0x2000),
};
const U385: Part = Part {
    chip: "stm32u385rg",
    name: "STM32U37x_U38x",
    layout: "1024 KiB in 2 banks (bank 1 at 0x08000000: 128 × 4 KiB; bank 2 at 0x08080000: 128 × 4 KiB)",
    write: (0x0807_E800, 0x3000),
    erase: (0x0808_0000, 0x1000),
};
const U375: Part = Part {
    chip: "stm32u375re",
    name: "STM32U37x_U38x",
    layout: "512 KiB in 2 banks (bank 1 at 0x08000000: 64 × 4 KiB; bank 2 at 0x08040000: 64 × 4 KiB)",
    write: (0x0803_F000, 0x2400),
    erase: (0x0804_0000, 0x1000),
};

fn writes_to(log: &[(u32, u32)], reg: u32) -> Vec<u32> {
    log.iter().filter(|(a, _)| *a == reg).map(|&(_, v)| v).collect()
}

#[test]
fn wba5_and_u3_identify_write_read_and_erase() {
    WBA55.check();
    U385.check();
    U375.check();
}

#[test]
fn wba5_pages_have_no_bank_bit_and_mass_erase_is_mer_alone() {
    let (mut session, sim) = open_sim(SimSpec::new("wba55"));
    assert_eq!(session.target.link().ap(), 1, "the core is on AP1");
    sim.clear_register_log();
    let img = Image::from_binary(pattern(0x40, 1), 0x080F_FFC0).unwrap();
    write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(sim.peek(0x080F_FFC0, 0x40).unwrap(), pattern(0x40, 1));
    let nscr = writes_to(&sim.register_writes(), NSCR);
    assert!(nscr.contains(&(PER | 127 << 3 | STRT)), "page 127, no BKER: {nscr:X?}");
    assert_eq!(sim.stats().words, 4, "four quad words");
    sim.clear_register_log();
    erase::erase_all(&mut session, &mut NoProgress).unwrap();
    assert_eq!(writes_to(&sim.register_writes(), NSCR)[..2], [MER1, MER1 | STRT]);
    assert_eq!(sim.peek(0x080F_FFC0, 0x40).unwrap(), vec![0xFF; 0x40]);
}

#[test]
fn u3_sets_voltage_range_1_before_unlocking_and_erases_bank_relative_pages() {
    let (mut session, sim) = open_sim(SimSpec::new("u385"));
    sim.clear_register_log();
    let img = Image::from_binary(pattern(0x20, 2), 0x0808_2000).unwrap();
    write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(sim.peek(0x0808_2000, 0x20).unwrap(), pattern(0x20, 2));
    let log = sim.register_writes();
    let range1 = log.iter().position(|&(a, v)| a == VOSR && v & 0b11 == 0b01).expect("PWR_VOSR.R1EN set");
    let key = log.iter().position(|&(a, _)| a == NSKEYR).expect("NSKEYR written");
    assert!(range1 < key, "range 1 before the keys");
    let nscr = writes_to(&log, NSCR);
    assert!(nscr.contains(&(PER | 2 << 3 | BKER | STRT)), "bank 2 page 2: {nscr:X?}");
    assert_eq!(sim.stats().words, 4, "four double words");
    sim.clear_register_log();
    erase::erase_all(&mut session, &mut NoProgress).unwrap();
    assert_eq!(writes_to(&sim.register_writes(), NSCR)[..2], [MER1 | MER2, MER1 | MER2 | STRT]);
}

#[test]
fn u375_single_bank_mode_numbers_pages_across_the_flash() {
    let mut spec = SimSpec::new("u375");
    spec.options = vec![("dbank".into(), "0".into())];
    let (mut session, sim) = open_sim(spec);
    assert_eq!(session.layout.describe(), "512 KiB: 128 × 4 KiB sectors");
    assert!(sim.poke(0x0804_1000, &[0; 16]));
    sim.clear_register_log();
    erase::erase_range(&mut session, 0x0804_1000, 0x1000, &mut NoProgress).unwrap();
    assert_eq!(sim.peek(0x0804_1000, 16).unwrap(), vec![0xFF; 16]);
    assert_eq!(writes_to(&sim.register_writes(), NSCR)[0], PER | 65 << 3, "page 65, no BKER");
}

#[test]
fn wba5_and_u3_refuse_read_protection_and_trustzone() {
    WBA55.refuses_read_protection("RDP level 1");
    U385.refuses_read_protection("RDP level 1");
    let dir = temp_dir("tz");
    let img = write_file(&dir, "img.bin", &pattern(64, 3));
    for chip in [WBA55.chip, U385.chip] {
        let state = dir.join(format!("{chip}.sim"));
        let spec = format!("{chip}:{}", state.display());
        run(&["write", &img, "0x08000000"], &[("STFLASH_SIM", &spec), ("STFLASH_SIM_OPTS", "tzen=1")])
            .fails(10, "TrustZone is enabled");
        assert_eq!(flash_of(&state, 0x0800_0000, 64), vec![0xFF; 64], "{chip}: nothing erased or written");
    }
}

#[test]
fn wba5_with_probe_firmware_that_cannot_reach_ap1_is_named() {
    let dir = temp_dir("wba5-old-fw");
    let spec = format!("{}:{}", WBA55.chip, dir.join("chip.sim").display());
    let out = dir.join("out.bin");
    run(
        &["read", out.to_str().unwrap(), "0x08000000", "16"],
        &[("STFLASH_SIM", &spec), ("STFLASH_SIM_PROBE", "v2"), ("STFLASH_SIM_FIRMWARE", "J25")],
    )
    .fails(10, "the STM32WBA5x (STM32WBA, DEV_ID 0x492) has its Cortex-M core on access port 1")
    .fails(10, "V2J28 or newer");
}

#[test]
fn wba5_options_through_obl_launch_and_an_rdp_regression() {
    let dir = temp_dir("wba5-opt");
    let state = dir.join("chip.sim");
    let chip = WBA55.chip;
    let out = run_sim(chip, &state, &["--area=option", "read"]).ok();
    for text in ["FLASH_OPTR (0x40022040)", "TrustZone: off", "SRAM1_RST", "FLASH_WRPAR", "FLASH_NSBOOTADD0R"] {
        assert!(out.stderr.contains(text), "{text}:\n{}", out.stderr);
    }
    for absent in ["DUALBANK", "SWAP_BANK", "FLASH_WRP2AR"] {
        assert!(!out.stderr.contains(absent), "{absent}:\n{}", out.stderr);
    }
    let optr = read_area(chip, &state, "option");
    let out = run_sim(chip, &state, &["--area=option", "write", "BOR_LEV=2"]).ok();
    assert!(out.stderr.contains("connecting again"), "{}", out.stderr);
    assert_eq!(read_area(chip, &state, "option"), (optr & !(7 << 8)) | 2 << 8);
    run_sim(chip, &state, &["--area=option", "write", "TZEN=1"]).fails(3, "STM32CubeProgrammer");
    run_sim(chip, &state, &["--area=option", "write", "RDP=0xCC"]).fails(3, "--permanently-lock-chip");
    let fw = write_file(&dir, "fw.bin", &pattern(0x4000, 4));
    run_sim(chip, &state, &["write", &fw, "0x08000000"]).ok();
    run_sim(chip, &state, &["--allow-read-protection", "--area=option", "write", "RDP=0xBB"]).ok();
    run_sim(chip, &state, &["read", dir.join("b.bin").to_str().unwrap(), "0x08000000", "4"]).fails(6, "RDP level 1");
    run_sim(chip, &state, &["--unprotect-and-erase-chip", "--area=option", "write", "RDP=0xAA"]).ok();
    assert_eq!(flash_of(&state, 0x0800_0000, 0x4000), vec![0xFF; 0x4000]);
}

#[test]
fn u3_options_bank_mode_boot_address_and_electrical_bits() {
    let dir = temp_dir("u3-opt");
    let state = dir.join("chip.sim");
    let chip = U375.chip;
    let out = run_sim(chip, &state, &["--area=option", "read"]).ok();
    for text in ["FLASH_OPTR (0x40022040)", "DUALBANK", "SRAM3_PE", "FLASH_BOOT0R", "FLASH_WRP2BR"] {
        assert!(out.stderr.contains(text), "{text}:\n{}", out.stderr);
    }
    run_sim(chip, &state, &["--area=option", "write", "IO_VDD_HSLV=1"]).fails(3, "damage");
    run_sim(chip, &state, &["--area=option", "write", "DUALBANK=0"]).fails(3, "--allow-bank-config");
    run_sim(chip, &state, &["--allow-bank-config", "--area=option", "write", "DUALBANK=0"]).ok();
    assert_eq!(read_area(chip, &state, "option") >> 21 & 1, 0);
    // One bank of 4 KiB pages now: an erase across the old bank boundary works.
    run_sim(chip, &state, &["erase", "0x0803F000", "0x2000"]).ok();
    run_sim(chip, &state, &["--area=option_boot_add", "write", "BOOTADD0=0x100040"]).fails(3, "--allow-boot-config");
    run_sim(chip, &state, &["--allow-boot-config", "--area=option_boot_add", "write", "BOOTADD0=0x100040"]).ok();
    let out = run_sim(chip, &state, &["--area=option_boot_add", "read"]).ok();
    assert!(out.stderr.contains("0x08002000"), "{}", out.stderr);
}

#[test]
fn wba5_and_u3_write_protected_pages_are_refused_before_anything_is_erased() {
    WrpCase {
        chip: "stm32wba55cg",
        options: &[("wrp", "0x08004000-0x08005fff")],
        area: (0x0800_4000, 0x0800_6000),
        from: 0x0800_0000,
        register: "FLASH_WRPAR (page 2)",
        remedy: "WRPA_PSTRT=0x7F,WRPA_PEND=0x00",
    }
    .check("wba5-wrp");
    WrpCase {
        chip: "stm32u385rg",
        options: &[("wrp", "0x08082000-0x08082fff")],
        area: (0x0808_2000, 0x0808_3000),
        from: 0x0808_0000,
        register: "FLASH_WRP2AR (page 2 of bank 2)",
        remedy: "WRP2A_STRT=0x7F,WRP2A_END=0x00",
    }
    .check("u385-wrp");
}
