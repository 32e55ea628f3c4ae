//! Option bytes, option registers, OTP and system memory end to end: the
//! built binary against simulated chips kept in state files, one section per
//! flash-controller type (the item 7: read and decode, change a
//! harmless field and read it back, RDP 1 then back to 0 with the flag, RDP 2
//! refused without the flag, write protection set then cleared).

use std::path::{Path, PathBuf};

use crate::common::{pattern, run, temp_dir};
use stflash_sim::{self as sim, SimSpec};

/// Exit codes (README "Exit codes", `ErrorKind::exit_code`).
const INPUT: i32 = 3;
const NO_TARGET: i32 = 5;
const PROTECTED: i32 = 6;
const FLASH: i32 = 7;
const VERIFY: i32 = 8;
const UNSUPPORTED: i32 = 10;

/// A simulated chip in a state file.
struct Chip {
    name: &'static str,
    dir: PathBuf,
    state: PathBuf,
}

impl Chip {
    fn new(name: &'static str, test: &str) -> Chip {
        let dir = temp_dir(test);
        let state = dir.join("chip.state");
        Chip { name, dir, state }
    }

    fn spec(&self) -> String {
        format!("{}:{}", self.name, self.state.display())
    }

    fn run(&self, args: &[&str]) -> crate::common::Run {
        run(args, &[("STFLASH_SIM", &self.spec())])
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> crate::common::Run {
        let spec = self.spec();
        let mut all = vec![("STFLASH_SIM", spec.as_str())];
        all.extend_from_slice(env);
        run(args, &all)
    }

    /// st-flash's raw `--area=AREA read` value.
    fn read_area(&self, area: &str) -> u32 {
        let out = self.run(&["--quiet", &format!("--area={area}"), "read"]).ok();
        let line = out.stdout.trim();
        assert_eq!(line.len(), 8, "eight hex digits: {line:?}");
        u32::from_str_radix(line, 16).expect("hex")
    }

    fn peek(&self, addr: u32, len: usize) -> Vec<u8> {
        let spec = SimSpec::parse(&self.spec()).expect("spec");
        let (transport, handle) = sim::open(&spec).expect("reopen simulator");
        let bytes = handle.peek(addr, len).expect("memory");
        drop(transport);
        bytes
    }

    fn peek_word(&self, addr: u32) -> u32 {
        u32::from_le_bytes(self.peek(addr, 4).try_into().expect("4 bytes"))
    }

    /// Raw write into the simulated chip (its state file).
    fn poke(&self, addr: u32, data: &[u8]) {
        let spec = SimSpec::parse(&self.spec()).expect("spec");
        let (transport, handle) = sim::open(&spec).expect("reopen simulator");
        assert!(handle.poke(addr, data), "poke 0x{addr:08X}");
        handle.save().expect("save state");
        drop(transport);
    }

    fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, data).expect("write file");
        path
    }
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

// ---------------------------------------------------------------------------
// H7 (RM0455 H7A/B, RM0433 H74x, RM0468 H72x): option registers, OPTSTART,
// no reset. Field positions written out from RM0455 §4.9.8 (FLASH_OPTSR_CUR)
// and CMSIS stm32h7a3xx.h (FLASH_OPTSR_*_Pos).

/// OPTSR: BOR_LEV bits 2-3, RDP bits 8-15, SWAP_BANK_OPT bit 31.
const BOR_LEV: u32 = 0b11 << 2;
const RDP: u32 = 0xFF << 8;
const H7_FLASH: u32 = 0x0800_0000;

#[test]
fn h7_option_read_prints_the_raw_word_and_a_decoded_view() {
    let chip = Chip::new("stm32h7b0vb", "opt-h7-read");
    let out = chip.run(&["--area=option", "read"]).ok();
    let raw = out.stdout.lines().last().unwrap();
    assert_eq!(raw.len(), 8, "st-flash's %08x");
    let value = u32::from_str_radix(raw, 16).unwrap();
    assert_eq!(value & RDP, 0xAA << 8, "a fresh chip is at level 0");
    // The decoded view is on stderr, stdout stays parseable.
    for text in ["FLASH_OPTSR (0x5200201C)", "read-out protection: level 0", "FLASH_WPSGN1", "FLASH_BOOT"] {
        assert!(out.stderr.contains(text), "{text} missing:\n{}", out.stderr);
    }
    assert!(!out.stdout.contains("RDP"));
    // --decode moves it to stdout.
    let out = chip.run(&["--decode", "--area=option", "read"]).ok();
    assert!(out.stdout.contains("boot address with the BOOT0 pin low: 0x08000000"), "{}", out.stdout);
    // With a file: the 4 bytes, little-endian.
    let file = chip.dir.join("opt.bin");
    chip.run(&["--area=option", "read", arg(&file)]).ok();
    assert_eq!(std::fs::read(&file).unwrap(), value.to_le_bytes());
    // st-flash's SIZE argument is accepted and ignored.
    chip.run(&["--area=option", "read", arg(&file), "4"]).ok();
}

#[test]
fn h7_harmless_field_changes_and_reads_back() {
    let chip = Chip::new("stm32h7b0vb", "opt-h7-bor");
    let before = chip.read_area("option");
    // By name …
    chip.run(&["--area=option", "write", "BOR_LEV=2"]).ok();
    assert_eq!(chip.read_area("option"), (before & !BOR_LEV) | 2 << 2);
    // … and as st-flash's whole word.
    let value = format!("0x{:08x}", (before & !BOR_LEV) | 3 << 2);
    let out = chip.run(&["--area=option", "write", &value]).ok();
    assert!(out.stderr.contains("confirmed"), "{}", out.stderr);
    assert_eq!(chip.read_area("option"), (before & !BOR_LEV) | 3 << 2);
    // Writing what is already there changes nothing.
    let out = chip.run(&["--area=option", "write", &value]).ok();
    assert!(out.stderr.contains("nothing written"), "{}", out.stderr);
}

#[test]
fn h7_values_are_checked_against_the_layout_before_anything_is_written() {
    let chip = Chip::new("stm32h7b0vb", "opt-h7-layout");
    let before = chip.read_area("option");
    // Bit 1 is reserved: refused, with the value that keeps it.
    let bad = format!("0x{:08x}", before | 1 << 1);
    chip.run(&["--area=option", "write", &bad]).fails(INPUT, &format!("did you mean 0x{before:08X}"));
    chip.run(&["--area=option", "write", "0"]).fails(INPUT, "attempting to set option byte to 0, abort.");
    chip.run(&["--area=option", "write", "BOR_LEV=4"]).fails(INPUT, "at most 0x3");
    chip.run(&["--area=option", "write", "NOPE=1"]).fails(INPUT, "no option word or field named NOPE");
    // SECURITY and I/O HSLV are never changed.
    chip.run(&["--area=option", "write", "SECURITY=1"]).fails(INPUT, "STM32CubeProgrammer");
    chip.run(&["--area=option", "write", "IO_HSLV=1"]).fails(INPUT, "damage");
    chip.run(&["--mass-erase", "--area=option", "write", "BOR_LEV=1"]).fails(2, "--mass-erase");
    assert_eq!(chip.read_area("option"), before);
}

#[test]
fn h7_rdp_1_then_back_to_0_erases_the_flash_and_leaves_the_chip_usable() {
    let chip = Chip::new("stm32h7a3zg", "opt-h7-rdp");
    let image = pattern(20 * 1024, 7);
    let fw = chip.file("fw.bin", &image);
    chip.run(&["write", arg(&fw), "0x08000000"]).ok();
    chip.run(&["--area=option", "write", "RDP=0xBB"]).fails(INPUT, "--allow-read-protection");
    chip.run(&["--allow-read-protection", "--area=option", "write", "RDP=0xBB"]).ok();
    let back = chip.dir.join("back.bin");
    chip.run(&["read", arg(&back), "0x08000000", "16"]).fails(PROTECTED, "RDP level 1");
    let out = chip.run(&["--area=option", "read"]).ok();
    assert!(out.stderr.contains("level 1, flash not readable"), "{}", out.stderr);
    // Back to 0 is refused without the flag, and nothing changes.
    chip.run(&["--area=option", "write", "RDP=0xAA"]).fails(INPUT, "--unprotect-and-erase-chip");
    assert_eq!(chip.peek(H7_FLASH, 16), image[..16]);
    // With it: level 0, both banks erased, the chip programs again.
    let out = chip.run(&["--unprotect-and-erase-chip", "--area=option", "write", "RDP=0xAA"]).ok();
    assert!(out.stderr.contains("erases its whole flash"), "{}", out.stderr);
    assert_eq!(chip.read_area("option") & RDP, 0xAA << 8);
    assert!(chip.peek(H7_FLASH, image.len()).iter().all(|&b| b == 0xFF));
    chip.run(&["write", arg(&fw), "0x08000000"]).ok();
    chip.run(&["read", arg(&back), "0x08000000", &image.len().to_string()]).ok();
    assert_eq!(std::fs::read(&back).unwrap(), image);
}

#[test]
fn h7_rdp_2_is_refused_without_the_flag_and_permanent_with_it() {
    let chip = Chip::new("stm32h7b0vb", "opt-h7-rdp2");
    let before = chip.read_area("option");
    let level2 = format!("0x{:08x}", (before & !RDP) | 0xCC << 8);
    chip.run(&["--area=option", "write", &level2]).fails(INPUT, "--permanently-lock-chip");
    chip.run(&["--allow-read-protection", "--area=option", "write", "RDP=0xCC"]).fails(INPUT, "for good");
    assert_eq!(chip.read_area("option"), before, "nothing written");
    // With the flag the debug port goes away, for good.
    let out = chip.run(&["--permanently-lock-chip", "--area=option", "write", &level2]).ok();
    assert!(out.stderr.contains("RDP level 2 is set"), "{}", out.stderr);
    chip.run(&["--area=option", "read"]).fails(NO_TARGET, "no answer");
    chip.run(&["--area=option", "read"]).fails(NO_TARGET, "no answer");
}

#[test]
fn h7a3_write_protection_set_then_cleared() {
    let chip = Chip::new("stm32h7a3zg", "opt-h7-wrp");
    let fw = chip.file("fw.bin", &pattern(8 * 1024, 3));
    // Group 1 of bank 2: sectors 4-7 (0x08108000-0x0810FFFF).
    chip.run(&["--area=option", "write", "WRPSGN2=0xFFFFFFFD"]).fails(INPUT, "--allow-write-protection");
    chip.run(&["--allow-write-protection", "--area=option", "write", "WRPSGN2=0xFFFFFFFD"]).ok();
    let out = chip.run(&["--decode", "--area=option", "read"]).ok();
    assert!(out.stdout.contains("write protection, bank 2: sectors 4-7 (in groups of 4)"), "{}", out.stdout);
    chip.run(&["write", arg(&fw), "0x08108000"]).fails(PROTECTED, "write-protected");
    chip.run(&["erase", "0x08108000", "0x2000"])
        .fails(PROTECTED, "write-protected by FLASH_WPSGN2.WRPSGN2 (sectors 4-7 of bank 2)")
        .fails(PROTECTED, "`stflash --area=option write WRPSGN2=0xFFFFFFFF` first");
    chip.run(&["write", arg(&fw), "0x08100000"]).ok();
    // Removing protection needs no flag.
    chip.run(&["--area=option", "write", "FLASH_WPSGN2=0xFFFFFFFF"]).ok();
    chip.run(&["write", arg(&fw), "0x08108000"]).ok();
    assert_eq!(chip.peek(0x0810_8000, 8 * 1024), pattern(8 * 1024, 3));
}

#[test]
fn h7_boot_address_needs_its_flag_and_other_register_areas_are_not_available() {
    let chip = Chip::new("stm32h7b0vb", "opt-h7-boot");
    assert_eq!(chip.read_area("option_boot_add"), 0x1FF0_0800);
    chip.run(&["--area=option_boot_add", "write", "0x1ff00810"]).fails(INPUT, "--allow-boot-config");
    chip.run(&["--allow-boot-config", "--area=option_boot_add", "write", "0x1ff00810"]).ok();
    assert_eq!(chip.read_area("option_boot_add"), 0x1FF0_0810);
    let out = chip.run(&["--area=option_boot_add", "read"]).ok();
    assert!(out.stderr.contains("boot address with the BOOT0 pin low: 0x08100000"), "{}", out.stderr);
    // A register area's names are that register's fields only.
    chip.run(&["--area=option_boot_add", "write", "BOR_LEV=1"]).fails(INPUT, "FLASH_BOOT (BOOT_ADD0, BOOT_ADD1)");
    for area in ["optcr", "optcr1"] {
        chip.run(&[&format!("--area={area}"), "read"]).fails(UNSUPPORTED, "is not available on STM32H7");
        chip.run(&[&format!("--area={area}"), "write", "1"]).fails(UNSUPPORTED, "--area=option (FLASH_OPTSR)");
    }
}

#[test]
fn h7_failed_or_unconfirmed_option_writes_exit_non_zero() {
    let chip = Chip::new("stm32h7b0vb", "opt-h7-fault");
    chip.run_env(&["--area=option", "write", "BOR_LEV=1"], &[("STFLASH_SIM_FAULTS", "opt_fault=stuck")])
        .fails(VERIFY, "FLASH_OPTSR.BOR_LEV reads 0x0, expected 0x1");
    chip.run_env(&["--area=option", "write", "BOR_LEV=1"], &[("STFLASH_SIM_FAULTS", "opt_fault=error")])
        .fails(FLASH, "OPTCHANGEERR");
    chip.run(&["--area=option", "write", "BOR_LEV=1"]).ok();
}

#[test]
fn h7_swapped_banks_can_be_set_and_repaired_through_the_options() {
    let chip = Chip::new("stm32h7a3zg", "opt-h7-swap");
    let fw = chip.file("fw.bin", &pattern(1024, 5));
    chip.run(&["--area=option", "write", "SWAP_BANK_OPT=1"]).fails(INPUT, "--allow-bank-config");
    chip.run(&["--allow-bank-config", "--area=option", "write", "SWAP_BANK_OPT=1"]).ok();
    chip.run(&["write", arg(&fw), "0x08000000"]).fails(UNSUPPORTED, "swapped");
    // The option commands still connect, so the swap can be undone.
    chip.run(&["--area=option", "read"]).ok();
    chip.run(&["--allow-bank-config", "--area=option", "write", "SWAP_BANK_OPT=0"]).ok();
    chip.run(&["write", arg(&fw), "0x08000000"]).ok();
}

#[test]
fn h743_bank_2_protection_and_bor_on_the_h74x_layout() {
    let chip = Chip::new("stm32h743zg", "opt-h743");
    let out = chip.run(&["--area=option", "read"]).ok();
    assert!(out.stderr.contains("FLASH_WPSN2") && out.stderr.contains("BCM7"), "{}", out.stderr);
    chip.run(&["--area=option", "write", "BOR_LEV=1"]).ok();
    assert_eq!(chip.read_area("option") & BOR_LEV, 1 << 2);
    // Sector 1 of bank 2 (128 KiB sectors, one bit each).
    chip.run(&["--allow-write-protection", "--area=option", "write", "WRPSN2=0xFD"]).ok();
    let fw = chip.file("fw.bin", &pattern(1024, 9));
    chip.run(&["write", arg(&fw), "0x08120000"]).fails(PROTECTED, "write-protected");
    chip.run(&["--area=option", "write", "WRPSN2=0xFF"]).ok();
    chip.run(&["write", arg(&fw), "0x08120000"]).ok();
    // BCM4/BCM7 (which core boots) are boot configuration.
    chip.run(&["--area=option", "write", "BCM4=1"]).fails(INPUT, "--allow-boot-config");
}

#[test]
fn h723_single_bank_layout_has_no_bank_swap() {
    let chip = Chip::new("stm32h723zg", "opt-h723");
    let out = chip.run(&["--area=option", "read"]).ok();
    assert!(out.stderr.contains("FLASH_OPTSR2") && !out.stderr.contains("SWAP_BANK"), "{}", out.stderr);
    chip.run(&["--area=option", "write", "SWAP_BANK_OPT=1"]).fails(INPUT, "no option word or field named");
    chip.run(&["--area=option", "write", "NRST_STOP_D2=0"]).ok();
}

#[test]
fn h7a3_otp_reads_and_writes_only_never_written_words() {
    let chip = Chip::new("stm32h7b0vb", "opt-h7-otp");
    let otp = chip.dir.join("otp.bin");
    chip.run(&["--area=otp", "read", arg(&otp)]).ok();
    assert_eq!(std::fs::read(&otp).unwrap(), vec![0xFF; 1024]);
    let data = chip.file("serial.bin", b"SN-0001\0");
    // Without the flag: refused, nothing written.
    chip.run(&["--area=otp", "write", arg(&data), "0x08fff010"]).fails(INPUT, "--write-otp-permanently");
    assert_eq!(chip.peek(0x08FF_F010, 8), vec![0xFF; 8]);
    chip.run(&["--area=otp", "--write-otp-permanently", "write", arg(&data), "0x08fff010"]).ok();
    assert_eq!(chip.peek(0x08FF_F010, 8), b"SN-0001\0");
    // The same data again is no change; other data on those words is refused, naming them.
    chip.run(&["--area=otp", "--write-otp-permanently", "write", arg(&data), "0x08fff010"]).ok();
    let other = chip.file("other.bin", b"SN-0002\0");
    chip.run(&["--area=otp", "--write-otp-permanently", "write", arg(&other), "0x08fff010"])
        .fails(INPUT, "already programmed, and OTP can never be erased: 0x08FFF016 (holds 3100, wanted 3200)");
    assert_eq!(chip.peek(0x08FF_F010, 8), b"SN-0001\0");
    // Outside the area, or not whole 16-bit words.
    chip.run(&["--area=otp", "--write-otp-permanently", "write", arg(&data), "0x08fff3fc"]).fails(INPUT, "not inside");
    chip.run(&["--area=otp", "--write-otp-permanently", "write", arg(&data), "0x08fff021"]).fails(INPUT, "16-bit");
}

#[test]
fn otp_is_not_available_on_parts_without_it() {
    let chip = Chip::new("stm32h743zg", "opt-h743-otp");
    let otp = chip.dir.join("otp.bin");
    chip.run(&["--area=otp", "read", arg(&otp)]).fails(UNSUPPORTED, "OTP is not available on STM32H7");
    let data = chip.file("d.bin", &[0; 2]);
    chip.run(&["--area=otp", "--write-otp-permanently", "write", arg(&data), "0x08fff000"])
        .fails(UNSUPPORTED, "OTP is not available on STM32H7");
}

#[test]
fn system_memory_reads_through_the_normal_read_path() {
    let chip = Chip::new("stm32h7b0vb", "opt-h7-sys");
    let file = chip.dir.join("boot.bin");
    // Size 0: the whole bootloader (AN2606: 0x1FF00000-0x1FF13FFF on H7A/B).
    chip.run(&["--area=system", "read", arg(&file), "0x1ff00000", "0"]).ok();
    let rom = std::fs::read(&file).unwrap();
    assert_eq!(rom.len(), 0x1_4000);
    assert_eq!(rom, chip.peek(0x1FF0_0000, 0x1_4000));
    // Still readable on a read-protected chip (only the user flash is closed).
    chip.run(&["--allow-read-protection", "--area=option", "write", "RDP=0xBB"]).ok();
    chip.run(&["--area=system", "read", arg(&file), "0x1ff00000", "0x100"]).ok();
    assert_eq!(std::fs::read(&file).unwrap(), rom[..0x100]);
}

#[test]
fn option_reads_and_writes_in_json() {
    let chip = Chip::new("stm32h7b0vb", "opt-json");
    let out = chip.run(&["--json", "--area=option", "read"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document on stdout");
    let options = &doc["options"];
    assert_eq!(options["area"], "option");
    assert_eq!(options["value"].as_u64().unwrap() >> 8 & 0xFF, 0xAA);
    assert_eq!(options["words"][0]["name"], "FLASH_OPTSR");
    assert_eq!(options["words"][0]["fields"]["RDP"], 0xAA);
    let out = chip.run(&["--json", "--area=option", "write", "BOR_LEV=3"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(doc["options"]["written"], true);
    assert_eq!(doc["options"]["words"][0]["fields"]["BOR_LEV"], 3);
}

// ---------------------------------------------------------------------------
// F0/F1/F3 (RM0008, RM0091, RM0316): 16 option bytes in value/complement
// pairs at 0x1FFFF800, erased and programmed as a block, loaded by a reset
// (OBL_LAUNCH on F0/F3, a system reset on F1) after which stflash reconnects.

const FP_FLASH: u32 = 0x0800_0000;

#[test]
fn fp_option_reads_match_st_flash_on_a_fresh_f103() {
    let chip = Chip::new("stm32f103c8", "opt-fp-read");
    // The values st-flash 1.8.0 prints on a fresh F103 (stlink
    // `src/stlink-lib/option_bytes.c`).
    assert_eq!(chip.read_area("option"), 0x00FF_5AA5);
    assert_eq!(chip.read_area("optcr"), 0x03FF_FFFC);
    let out = chip.run(&["--area=option", "read"]).ok();
    for text in ["OB_USER (0x1FFFF800) = 0x00FF5AA5", "level 0, not protected", "OB_WRP01", "WRP0"] {
        assert!(out.stderr.contains(text), "{text}:\n{}", out.stderr);
    }
    chip.run(&["--area=optcr1", "read"]).fails(UNSUPPORTED, "--area=optcr (FLASH_OBR)");
    chip.run(&["--area=option_boot_add", "read"]).fails(UNSUPPORTED, "not available on STM32F1");
}

#[test]
fn fp_harmless_fields_change_through_a_reset_and_read_back() {
    let chip = Chip::new("stm32f103c8", "opt-fp-user");
    // By name: the complement is computed.
    let out = chip.run(&["--area=option", "write", "DATA0=0x42"]).ok();
    assert!(out.stderr.contains("connecting again"), "{}", out.stderr);
    assert_eq!(chip.peek(0x1FFF_F804, 2), vec![0x42, 0xBD]);
    // st-flash's optcr: the FLASH_OBR layout (WDG_SW is bit 2 on F1).
    chip.run(&["--area=optcr", "write", "0x03ffffdc"]).fails(INPUT, "reserved bits 0x00000020");
    let obr = chip.read_area("optcr");
    chip.run(&["--area=optcr", "write", &format!("0x{:08x}", obr & !(1 << 2))]).ok();
    assert_eq!(chip.read_area("optcr"), obr & !(1 << 2));
    assert_eq!(chip.read_area("option"), 0x01FE_5AA5, "USER 0xFE with its complement");
    // A whole word with a wrong complement is refused, naming the right one.
    chip.run(&["--area=option", "write", "0x00ff5aa5"]).ok();
    chip.run(&["--area=option", "write", "0x00fe5aa5"]).fails(INPUT, "did you mean 0x01FE5AA5");
}

#[test]
fn fp_rdp_1_then_back_to_0_erases_the_flash() {
    let chip = Chip::new("stm32f103c8", "opt-fp-rdp");
    let image = pattern(4096, 11);
    let fw = chip.file("fw.bin", &image);
    chip.run(&["write", arg(&fw), "0x08000000"]).ok();
    chip.run(&["--area=option", "write", "RDP=0x00"]).fails(INPUT, "--allow-read-protection");
    chip.run(&["--allow-read-protection", "--area=option", "write", "RDP=0x00"]).ok();
    assert_eq!(chip.read_area("optcr") & 0b10, 0b10, "OBR.RDPRT after the reload");
    let back = chip.dir.join("back.bin");
    chip.run(&["read", arg(&back), "0x08000000", "16"]).fails(PROTECTED, "RDP level 1");
    chip.run(&["--area=option", "write", "RDP=0xA5"]).fails(INPUT, "--unprotect-and-erase-chip");
    assert_eq!(chip.peek(FP_FLASH, 16), image[..16]);
    chip.run(&["--unprotect-and-erase-chip", "--area=option", "write", "RDP=0xA5"]).ok();
    assert_eq!(chip.read_area("option"), 0x00FF_5AA5);
    assert!(chip.peek(FP_FLASH, 4096).iter().all(|&b| b == 0xFF));
    chip.run(&["write", arg(&fw), "0x08000000"]).ok();
}

#[test]
fn fp_rdp_2_is_refused_without_the_flag_on_f0() {
    let chip = Chip::new("stm32f030f4", "opt-fp-rdp2");
    assert_eq!(chip.read_area("option"), 0x00FF_55AA);
    chip.run(&["--area=option", "write", "0x00ff33cc"]).fails(INPUT, "--permanently-lock-chip");
    assert_eq!(chip.read_area("option"), 0x00FF_55AA);
    chip.run(&["--permanently-lock-chip", "--area=option", "write", "0x00ff33cc"]).ok();
    chip.run(&["--area=option", "read"]).fails(NO_TARGET, "no answer");
}

#[test]
fn fp_f030_option_block_has_wrp0_only() {
    // CMSIS stm32f030x6.h `OB_TypeDef`: RDP, USER, DATA0, DATA1, WRP0 (10
    // bytes); the simulated F030 decodes nothing past them, so a write of the
    // 16 bytes of the larger parts would fault.
    let chip = Chip::new("stm32f030f4", "opt-fp-f030");
    let out = chip.run(&["--decode", "--area=option", "read"]).ok();
    assert!(
        out.stdout.contains("WRP0") && !out.stdout.contains("WRP1") && !out.stdout.contains("WRP2"),
        "{}",
        out.stdout
    );
    chip.run(&["--area=option", "write", "WRP2=0xFE"]).fails(INPUT, "WRP2");
    chip.run(&["--area=option", "write", "DATA0=0x42"]).ok();
    assert_eq!(chip.peek(0x1FFF_F804, 2), vec![0x42, 0xBD]);
    let fw = chip.file("fw.bin", &pattern(1024, 13));
    chip.run(&["--allow-write-protection", "--area=option", "write", "WRP0=0xFE"]).ok();
    chip.run(&["write", arg(&fw), "0x08000000"])
        .fails(PROTECTED, "write-protected by FLASH_WRPR (pages 0-3, option bytes WRP0)");
    chip.run(&["--area=option", "write", "WRP0=0xFF"]).ok();
    chip.run(&["write", arg(&fw), "0x08000000"]).ok();
}

#[test]
fn fp_write_protection_set_then_cleared() {
    let chip = Chip::new("stm32f103c8", "opt-fp-wrp");
    let fw = chip.file("fw.bin", &pattern(1024, 12));
    // WRP0 bit 1: pages 4-7 (0x08001000-0x08001FFF).
    chip.run(&["--area=option", "write", "WRP0=0xFD"]).fails(INPUT, "refusing to write-protect pages 4-7");
    chip.run(&["--allow-write-protection", "--area=option", "write", "WRP0=0xFD"]).ok();
    chip.run(&["write", arg(&fw), "0x08001000"])
        .fails(PROTECTED, "write-protected by FLASH_WRPR (pages 4-7, option bytes WRP0-WRP3)")
        .fails(PROTECTED, "`stflash --area=option write WRP0=0xFF` first");
    chip.run(&["write", arg(&fw), "0x08000000"]).ok();
    chip.run(&["--area=option", "write", "WRP0=0xFF"]).ok();
    chip.run(&["write", arg(&fw), "0x08001000"]).ok();
}

// ---------------------------------------------------------------------------
// F2/F4/F7 (RM0033, RM0090, RM0385/RM0410): FLASH_OPTCR/OPTCR1 with
// OPTSTRT; the bank mode changes through a reset.

#[test]
fn fs_option_read_decodes_optcr() {
    let chip = Chip::new("stm32f411re", "opt-fs-read");
    // The F2/F4 reset value of FLASH_OPTCR (RM0090 §3.9.10), OPTLOCK set.
    assert_eq!(chip.read_area("option"), 0x0FFF_AAED);
    assert_eq!(chip.read_area("optcr"), 0x0FFF_AAED);
    let out = chip.run(&["--area=optcr", "read"]).ok();
    assert!(out.stderr.contains("brown-out reset: off") && out.stderr.contains("nWRP"), "{}", out.stderr);
    chip.run(&["--area=optcr1", "read"]).fails(UNSUPPORTED, "not available on STM32F4");
}

#[test]
fn fs_harmless_field_rdp_and_write_protection() {
    let chip = Chip::new("stm32f411re", "opt-fs");
    chip.run(&["--area=option", "write", "0x0fffaae5"]).ok();
    assert_eq!(chip.read_area("option") & 0b1100, 0b0100, "BOR level 2");
    // RDP 1, then back to 0 with the erase.
    let image = pattern(16 * 1024, 21);
    let fw = chip.file("fw.bin", &image);
    chip.run(&["write", arg(&fw), "0x08000000"]).ok();
    chip.run(&["--allow-read-protection", "--area=option", "write", "RDP=0x55"]).ok();
    chip.run(&["read", arg(&chip.dir.join("b.bin")), "0x08000000", "4"]).fails(PROTECTED, "RDP level 1");
    chip.run(&["--area=option", "write", "RDP=0xAA"]).fails(INPUT, "--unprotect-and-erase-chip");
    chip.run(&["--unprotect-and-erase-chip", "--area=option", "write", "RDP=0xAA"]).ok();
    assert!(chip.peek(0x0800_0000, image.len()).iter().all(|&b| b == 0xFF));
    // RDP 2 refused; nWRP of sector 1 (0x08004000) set then cleared.
    chip.run(&["--area=option", "write", "RDP=0xCC"]).fails(INPUT, "--permanently-lock-chip");
    chip.run(&["--area=option", "write", "nWRP=0xFFD"]).fails(INPUT, "sectors 1 ");
    chip.run(&["--allow-write-protection", "--area=option", "write", "nWRP=0xFFD"]).ok();
    chip.run(&["write", arg(&fw), "0x08004000"])
        .fails(PROTECTED, "write-protected by FLASH_OPTCR.nWRP (sector 1)")
        .fails(PROTECTED, "`stflash --area=option write nWRP=0xFFF` first");
    chip.run(&["--area=option", "write", "nWRP=0xFFF"]).ok();
    chip.run(&["write", arg(&fw), "0x08004000"]).ok();
}

#[test]
fn fs_bank_mode_change_resets_and_the_new_map_is_used() {
    let chip = Chip::new("stm32f429zg", "opt-fs-db1m");
    let out = chip.run(&["--area=option", "read"]).ok();
    assert!(out.stderr.contains("FLASH_OPTCR1") && out.stderr.contains("single bank"), "{}", out.stderr);
    chip.run(&["--area=option", "write", "DB1M=1"]).fails(INPUT, "--allow-bank-config");
    let out = chip.run(&["--allow-bank-config", "--area=option", "write", "DB1M=1"]).ok();
    assert!(out.stderr.contains("connecting again"), "{}", out.stderr);
    // Dual bank: bank 2 at 0x08080000 starts with 16 KiB sectors. (A blank
    // sector of this flash without ECC is programmed without an erase, so the
    // second, different image shows how many sectors it erases.)
    let fw = chip.file("fw.bin", &pattern(16 * 1024, 22));
    chip.run(&["write", arg(&fw), "0x08080000"]).ok();
    let fw2 = chip.file("fw2.bin", &pattern(16 * 1024, 23));
    let out = chip.run(&["write", arg(&fw2), "0x08080000"]).ok();
    assert!(out.stderr.contains("1 sector erased"), "{}", out.stderr);
    // Bank-2 protection lives in OPTCR1 (sectors 12-23).
    chip.run(&["--allow-write-protection", "--area=optcr1", "write", "nWRP_12=0xFFE"]).ok();
    chip.run(&["write", arg(&fw), "0x08080000"])
        .fails(PROTECTED, "overlaps 0x08080000-0x08083FFF, write-protected by FLASH_OPTCR1.nWRP_12 (sector 12)");
}

#[test]
fn fs_f7_boot_addresses_in_16k_units() {
    let chip = Chip::new("stm32f746zg", "opt-fs-f7");
    let boot = chip.read_area("option_boot_add");
    assert_eq!(boot, chip.read_area("optcr1"));
    let out = chip.run(&["--area=option_boot_add", "read"]).ok();
    assert!(out.stderr.contains("boot address with the BOOT pin low: 0x00200000"), "{}", out.stderr);
    chip.run(&["--area=option_boot_add", "write", "BOOT_ADD0=0x2000"]).fails(INPUT, "--allow-boot-config");
    chip.run(&["--allow-boot-config", "--area=option_boot_add", "write", "BOOT_ADD0=0x2000"]).ok();
    assert_eq!(chip.read_area("option_boot_add"), (boot & 0xFFFF_0000) | 0x2000);
    let out = chip.run(&["--area=option_boot_add", "read"]).ok();
    assert!(out.stderr.contains("0x08000000"), "{}", out.stderr);
}

#[test]
fn fs_otp_write_once_and_locked_blocks() {
    let chip = Chip::new("stm32f411re", "opt-fs-otp");
    let otp = chip.dir.join("otp.bin");
    chip.run(&["--area=otp", "read", arg(&otp)]).ok();
    assert_eq!(std::fs::read(&otp).unwrap(), vec![0xFF; 528], "512 data bytes and 16 lock bytes");
    let data = chip.file("id.bin", &[1, 2, 3, 4, 5, 6, 7, 8]);
    chip.run(&["--area=otp", "write", arg(&data), "0x1fff7800"]).fails(INPUT, "--write-otp-permanently");
    chip.run(&["--area=otp", "--write-otp-permanently", "write", arg(&data), "0x1fff7800"]).ok();
    assert_eq!(chip.peek(0x1FFF_7800, 8), vec![1, 2, 3, 4, 5, 6, 7, 8]);
    let other = chip.file("other.bin", &[9; 8]);
    chip.run(&["--area=otp", "--write-otp-permanently", "write", arg(&other), "0x1fff7800"])
        .fails(INPUT, "0x1FFF7800 (holds 01020304, wanted 09090909), 0x1FFF7804");
    // The lock bytes are not data: writing them is refused as outside the area.
    chip.run(&["--area=otp", "--write-otp-permanently", "write", arg(&data), "0x1fff7a00"]).fails(INPUT, "not inside");
    // Block 1 (0x1FFF7820-0x1FFF783F) locked by its lock byte: refused before anything is written.
    chip.poke(0x1FFF_7A01, &[0]);
    chip.run(&["--area=otp", "--write-otp-permanently", "write", arg(&data), "0x1fff7820"])
        .fails(PROTECTED, "OTP block 1 (locked by its lock byte at 0x1FFF7A01)");
}

// ---------------------------------------------------------------------------
// L4, L4+, G0, G4, C0, WB, WL (RM0351, RM0432, RM0444, RM0440, RM0490,
// RM0434, RM0453): OPTR and WRP areas with OPTSTRT, loaded by OBL_LAUNCH
// (a reset), then stflash reconnects.

#[test]
fn l4g_option_read_harmless_field_and_rdp_regression() {
    let chip = Chip::new("stm32l432kc", "opt-l4g");
    let optr = chip.read_area("option");
    assert_eq!(optr, 0xFFEF_F8AA, "the simulator's factory OPTR");
    assert_eq!(chip.read_area("optcr"), optr);
    let out = chip.run(&["--area=option", "read"]).ok();
    for text in ["FLASH_OPTR (0x40022020)", "brown-out reset threshold: ~1.7 V", "FLASH_WRP1AR", "WRP1A_STRT"] {
        assert!(out.stderr.contains(text), "{text}:\n{}", out.stderr);
    }
    // BOR level 2 by st-flash's whole word; OBL_LAUNCH resets, stflash reconnects.
    let out = chip.run(&["--area=option", "write", "0xffeffaaa"]).ok();
    assert!(out.stderr.contains("connecting again"), "{}", out.stderr);
    assert_eq!(chip.read_area("option"), 0xFFEF_FAAA);
    // RDP 1, then 0 with the erase.
    let image = pattern(4096, 31);
    let fw = chip.file("fw.bin", &image);
    chip.run(&["write", arg(&fw), "0x08000000"]).ok();
    chip.run(&["--allow-read-protection", "--area=option", "write", "RDP=0xBB"]).ok();
    chip.run(&["read", arg(&chip.dir.join("b.bin")), "0x08000000", "4"]).fails(PROTECTED, "RDP level 1");
    chip.run(&["--area=option", "write", "RDP=0xAA"]).fails(INPUT, "--unprotect-and-erase-chip");
    chip.run(&["--unprotect-and-erase-chip", "--area=option", "write", "RDP=0xAA"]).ok();
    assert!(chip.peek(0x0800_0000, 4096).iter().all(|&b| b == 0xFF));
    chip.run(&["write", arg(&fw), "0x08000000"]).ok();
    // RDP 2 and the boot pins need their flags.
    chip.run(&["--area=option", "write", "RDP=0xCC"]).fails(INPUT, "--permanently-lock-chip");
    chip.run(&["--area=option", "write", "nSWBOOT0=0"]).fails(INPUT, "--allow-boot-config");
}

#[test]
fn l4g_write_protection_area_set_then_cleared() {
    let chip = Chip::new("stm32l432kc", "opt-l4g-wrp");
    let fw = chip.file("fw.bin", &pattern(2048, 32));
    // Pages 2-3 (0x08001000-0x08001FFF, 2 KiB pages).
    chip.run(&["--area=option", "write", "WRP1A_STRT=2,WRP1A_END=3"]).fails(INPUT, "write-protect pages 2-3");
    chip.run(&["--allow-write-protection", "--area=option", "write", "WRP1A_STRT=2,WRP1A_END=3"]).ok();
    let out = chip.run(&["--decode", "--area=option", "read"]).ok();
    assert!(out.stdout.contains("pages 2-3 write-protected"), "{}", out.stdout);
    chip.run(&["write", arg(&fw), "0x08001000"])
        .fails(PROTECTED, "write-protected by FLASH_WRP1AR (pages 2-3)")
        // The L43x's fields are 7 bits wide (stm32l432xx.h:7037).
        .fails(PROTECTED, "`stflash --area=option write WRP1A_STRT=0x7F,WRP1A_END=0x00` first");
    // The command the message proposes removes the protection.
    chip.run(&["--area=option", "write", "WRP1A_STRT=0x7F,WRP1A_END=0x00"]).ok();
    chip.run(&["write", arg(&fw), "0x08001000"]).ok();
}

#[test]
fn l4g_bank_mode_change_on_g474_reloads_the_layout() {
    let chip = Chip::new("stm32g474re", "opt-l4g-dbank");
    let out = chip.run(&["--area=option", "read"]).ok();
    assert!(out.stderr.contains("DBANK"), "{}", out.stderr);
    let dbank = chip.read_area("option") >> 22 & 1;
    let flip = format!("DBANK={}", 1 - dbank);
    chip.run(&["--area=option", "write", &flip]).fails(INPUT, "--allow-bank-config");
    chip.run(&["--allow-bank-config", "--area=option", "write", &flip]).ok();
    assert_eq!(chip.read_area("option") >> 22 & 1, 1 - dbank);
    // The page size follows: 2 KiB in dual-bank mode, 4 KiB in single.
    let code = chip.run(&["erase", "0x08000000", "0x800"]).code;
    assert_eq!(code == 0, dbank == 0, "a 2 KiB erase works only in dual-bank mode");
}

#[test]
fn l4g_wb_secure_area_and_nrst_mode_are_guarded() {
    let chip = Chip::new("stm32wb55rg", "opt-l4g-wb");
    let out = chip.run(&["--area=option", "read"]).ok();
    assert!(out.stderr.contains("FLASH_SFR") && out.stderr.contains("SFSA"), "{}", out.stderr);
    chip.run(&["--area=option", "write", "SFSA=0x10"]).fails(INPUT, "STM32CubeProgrammer");
    chip.run(&["--area=option", "write", "nRST_STOP=0"]).ok();
    let g0 = Chip::new("stm32g071rb", "opt-l4g-g0");
    g0.run(&["--area=option", "write", "NRST_MODE=2"]).fails(INPUT, "--allow-boot-config");
    g0.run(&["--area=option", "write", "RAM_PARITY_CHECK=0"]).ok();
}

#[test]
fn l4g_otp_double_words() {
    let chip = Chip::new("stm32l432kc", "opt-l4g-otp");
    let data = chip.file("d.bin", &[0x11; 8]);
    chip.run(&["--area=otp", "--write-otp-permanently", "write", arg(&data), "0x1fff7000"]).ok();
    assert_eq!(chip.peek(0x1FFF_7000, 8), vec![0x11; 8]);
    chip.run(&["--area=otp", "--write-otp-permanently", "write", arg(&data), "0x1fff7004"])
        .fails(INPUT, "64-bit words");
    let other = chip.file("e.bin", &[0x22; 8]);
    chip.run(&["--area=otp", "--write-otp-permanently", "write", arg(&other), "0x1fff7000"])
        .fails(INPUT, "already programmed");
}

// ---------------------------------------------------------------------------
// L0/L1 (RM0377, RM0038): option words with complements at 0x1FF80000,
// written with PELOCK and OPTLOCK open, loaded by OBL_LAUNCH (a reset).

#[test]
fn lp_option_words_rdp_regression_and_write_protection() {
    let chip = Chip::new("stm32l053r8", "opt-lp");
    // st-flash prints the RDP word at the option base.
    assert_eq!(chip.read_area("option"), 0xFF55_00AA);
    chip.run(&["--area=optcr", "read"]).fails(UNSUPPORTED, "--area=option (OB_RDP)");
    chip.run(&["--area=option", "write", "BOR_LEV=9"]).ok();
    assert_eq!(chip.peek_word(0x1FF8_0004) & 0xFFFF, 0x0079);
    // A whole RDP word with a wrong complement is refused.
    chip.run(&["--allow-read-protection", "--area=option", "write", "0xff5500bb"]).fails(INPUT, "0xFF4400BB");
    // RDP 1 by st-flash's word, then back to 0: flash and data EEPROM erased.
    let fw = chip.file("fw.bin", &pattern(1024, 41));
    chip.run(&["write", arg(&fw), "0x08000000"]).ok();
    chip.poke(0x0808_0000, &[0x5A; 4]);
    chip.run(&["--area=option", "write", "0xff4400bb"]).fails(INPUT, "--allow-read-protection");
    chip.run(&["--allow-read-protection", "--area=option", "write", "0xff4400bb"]).ok();
    chip.run(&["read", arg(&chip.dir.join("b.bin")), "0x08000000", "4"]).fails(PROTECTED, "RDP level 1");
    chip.run(&["--unprotect-and-erase-chip", "--area=option", "write", "0xff5500aa"]).ok();
    assert_eq!(chip.peek(0x0800_0000, 1024), vec![0; 1024], "L0 flash erases to 0x00");
    assert_eq!(chip.peek(0x0808_0000, 4), vec![0; 4], "and the data EEPROM with it");
    chip.run(&["--area=option", "write", "RDP=0xCC"]).fails(INPUT, "--permanently-lock-chip");
    // WRPROT: 1 = protected (sector 0 = 0x08000000-0x08000FFF).
    chip.run(&["--area=option", "write", "WRPROT_0=1"]).fails(INPUT, "sectors 0 ");
    chip.run(&["--allow-write-protection", "--area=option", "write", "WRPROT_0=1"]).ok();
    chip.run(&["write", arg(&fw), "0x08000000"])
        .fails(PROTECTED, "write-protected by FLASH_WRPR (sector 0)")
        .fails(PROTECTED, "`stflash --area=option write WRPROT_0=0x0000` first");
    chip.run(&["--area=option", "write", "WRPROT_0=0"]).ok();
    chip.run(&["write", arg(&fw), "0x08000000"]).ok();
}

#[test]
fn lp_l1_level_2_is_permanent() {
    let chip = Chip::new("stm32l152re", "opt-lp-l1");
    let out = chip.run(&["--area=option", "read"]).ok();
    assert!(out.stderr.contains("OB_WRP3"), "{}", out.stderr);
    chip.run(&["--permanently-lock-chip", "--area=option", "write", "RDP=0xCC"]).ok();
    chip.run(&["--area=option", "read"]).fails(NO_TARGET, "no answer");
}

// ---------------------------------------------------------------------------
// L5/U5 (RM0438, RM0456): OPTR, boot addresses and WRP areas through the
// non-secure registers, OPTSTRT, OBL_LAUNCH (a reset) and reconnect.

#[test]
fn tz_u5_options_rdp_regression_and_write_protection() {
    let chip = Chip::new("stm32u575zi", "opt-tz");
    let out = chip.run(&["--area=option", "read"]).ok();
    for text in ["FLASH_OPTR (0x40022040)", "TrustZone: off", "FLASH_NSBOOTADD0R", "FLASH_WRP2BR"] {
        assert!(out.stderr.contains(text), "{text}:\n{}", out.stderr);
    }
    assert_eq!(chip.read_area("option_boot_add"), 0x0800_000F);
    let optr = chip.read_area("option");
    chip.run(&["--area=option", "write", "BOR_LEV=2"]).ok();
    assert_eq!(chip.read_area("option"), (optr & !(7 << 8)) | 2 << 8);
    // TrustZone, I/O HSLV and the WRP unlock bit are never changed.
    chip.run(&["--area=option", "write", "TZEN=1"]).fails(INPUT, "STM32CubeProgrammer");
    chip.run(&["--area=option", "write", "IO_VDD_HSLV=1"]).fails(INPUT, "damage");
    chip.run(&["--area=option", "write", "FLASH_WRP1AR.WRP_UNLOCK=0"]).fails(INPUT, "STM32CubeProgrammer");
    // RDP 1, then 0 with the erase.
    let image = pattern(16 * 1024, 51);
    let fw = chip.file("fw.bin", &image);
    chip.run(&["write", arg(&fw), "0x08000000"]).ok();
    chip.run(&["--allow-read-protection", "--area=option", "write", "RDP=0xBB"]).ok();
    chip.run(&["read", arg(&chip.dir.join("b.bin")), "0x08000000", "4"]).fails(PROTECTED, "RDP level 1");
    chip.run(&["--unprotect-and-erase-chip", "--area=option", "write", "RDP=0xAA"]).ok();
    assert!(chip.peek(0x0800_0000, image.len()).iter().all(|&b| b == 0xFF));
    chip.run(&["--area=option", "write", "RDP=0xCC"]).fails(INPUT, "--permanently-lock-chip");
    // WRP: page 1 of bank 1 (8 KiB pages: 0x08002000).
    chip.run(&["--area=option", "write", "WRP1A_PSTRT=1,WRP1A_PEND=1"]).fails(INPUT, "pages 1 ");
    chip.run(&["--allow-write-protection", "--area=option", "write", "WRP1A_PSTRT=1,WRP1A_PEND=1"]).ok();
    chip.run(&["write", arg(&fw), "0x08002000"])
        .fails(PROTECTED, "write-protected by FLASH_WRP1AR (page 1 of bank 1)")
        .fails(PROTECTED, "`stflash --area=option write WRP1A_PSTRT=0x7F,WRP1A_PEND=0x00` first");
    chip.run(&["--area=option", "write", "WRP1A_PSTRT=0x7F,WRP1A_PEND=0x00"]).ok();
    chip.run(&["write", arg(&fw), "0x08002000"]).ok();
}

#[test]
fn tz_l5_bank_mode_and_boot_address() {
    let chip = Chip::new("stm32l552ze", "opt-tz-l5");
    chip.run(&["--area=option", "write", "DBANK=0"]).fails(INPUT, "--allow-bank-config");
    chip.run(&["--allow-bank-config", "--area=option", "write", "DBANK=0"]).ok();
    // Single bank: 4 KiB pages, so a 2 KiB erase is refused.
    chip.run(&["erase", "0x08000000", "0x800"]).fails(INPUT, "sector boundaries");
    chip.run(&["erase", "0x08000000", "0x1000"]).ok();
    chip.run(&["--area=option_boot_add", "write", "NSBOOTADD0=0x100040"]).fails(INPUT, "--allow-boot-config");
    chip.run(&["--allow-boot-config", "--area=option_boot_add", "write", "NSBOOTADD0=0x100040"]).ok();
    let out = chip.run(&["--area=option_boot_add", "read"]).ok();
    assert!(out.stderr.contains("0x08002000"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------
// H5 (RM0481): *_CUR/*_PRG register pairs with OPTSTRT; product state
// instead of RDP, which stflash shows and never changes.

#[test]
fn h5_options_product_state_and_write_protection() {
    let chip = Chip::new("stm32h563zi", "opt-h5");
    let out = chip.run(&["--area=option", "read"]).ok();
    for text in ["FLASH_OPTSR (0x40022050)", "product state (instead of RDP): Open", "FLASH_WRP2R", "TrustZone: off"] {
        assert!(out.stderr.contains(text), "{text}:\n{}", out.stderr);
    }
    let optsr = chip.read_area("option");
    chip.run(&["--area=option", "write", "BOR_LEV=2"]).ok();
    assert_eq!(chip.read_area("option"), (optsr & !3) | 2);
    // The product state (Closed, Locked…) is refused outright, whatever the flags.
    let closed = format!("0x{:08x}", (optsr & !0xFF00) | 0x72 << 8);
    chip.run(&["--allow-read-protection", "--permanently-lock-chip", "--area=option", "write", &closed])
        .fails(INPUT, "PRODUCT_STATE");
    chip.run(&["--area=option", "write", "TZEN=0xB4"]).fails(INPUT, "STM32CubeProgrammer");
    // WRPSG1 bit 1: sectors 4-7 of bank 1 (0x08008000-0x0800FFFF).
    let fw = chip.file("fw.bin", &pattern(8 * 1024, 61));
    chip.run(&["--area=option", "write", "WRPSG1=0xFFFFFFFD"]).fails(INPUT, "sectors 4-7");
    chip.run(&["--allow-write-protection", "--area=option", "write", "WRPSG1=0xFFFFFFFD"]).ok();
    chip.run(&["write", arg(&fw), "0x08008000"])
        .fails(PROTECTED, "write-protected by FLASH_WRP1R.WRPSG1 (sectors 4-7 of bank 1)")
        .fails(PROTECTED, "`stflash --area=option write WRPSG1=0xFFFFFFFF` first");
    chip.run(&["--area=option", "write", "WRPSG1=0xFFFFFFFF"]).ok();
    chip.run(&["write", arg(&fw), "0x08008000"]).ok();
    // Bank swap: takes effect through a reset, which stflash performs.
    chip.run(&["--allow-bank-config", "--area=option", "write", "SWAP_BANK=1"]).ok();
    assert_eq!(chip.read_area("option") >> 31, 1);
    chip.run(&["--allow-bank-config", "--area=option", "write", "SWAP_BANK=0"]).ok();
}

#[test]
fn h5_closed_chip_reads_its_options() {
    let chip = Chip::new("stm32h563zi", "opt-h5-closed");
    chip.run_env(&["--area=option", "read"], &[("STFLASH_SIM_OPTS", "rdp=1")]).ok();
    let out = chip.run(&["--area=option", "read"]).ok();
    assert!(out.stderr.contains("Closed (debug closed)"), "{}", out.stderr);
    chip.run(&["--area=option", "write", "PRODUCT_STATE=0xED"]).fails(INPUT, "PRODUCT_STATE");
}
