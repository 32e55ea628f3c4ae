//! STM32H7 end to end: the built binary and the library against the simulated
//! H7A3/H7B0 (RM0455), H743/H750/H745 (RM0433/RM0399) and H723 (RM0468).
//!
//! The first group replays stlink issue #1369 (stlink 1.8.0
//! `src/stlink-lib/common_flash.c`, the F7/H7 sector shift) on a
//! 1 MiB H7A3 whose first sectors hold old data: st-flash 1.8.0 wrote the
//! sector number at bits 8-10 where RM0455 has SSN at bits 6-12, so it erased
//! sector 4n instead of n, and it refused bank 2 of the 1 MiB part.

use crate::common::{arg, open_sim, pattern, run, run_sim, temp_dir, Board, WrpCase};
use stflash::flash::NoProgress;
use stflash::mcu::ConnectOptions;
use stflash::ops::image::Image;
use stflash::ops::{erase, read, write, Session};
use stflash::ErrorKind;
use stflash_sim::{SimHandle, SimSpec};

const KIB: usize = 1024;

// Register addresses and CR bits written out from the reference manuals
// (RM0455 §4.9 and RM0433 §4.9, FLASH_CR1/CR2; CMSIS stm32h7a3xx.h
// FLASH_CR_SSN_Pos 6), independently of the driver.
const FLASH_CR1: u32 = 0x5200_200C;
const FLASH_CR2: u32 = 0x5200_210C;
const CR_SER: u32 = 1 << 2;
const CR_BER: u32 = 1 << 3;
/// RM0455 (H7A/B): START bit 5, SSN bits 6-12.
const H7AB_START: u32 = 1 << 5;
const H7AB_SSN: u32 = 6;
/// RM0433 (H74x): PSIZE bits 4-5, START bit 7, SNB bits 8-10.
const H74X_PSIZE: u32 = 4;
const H74X_START: u32 = 1 << 7;
const H74X_SNB: u32 = 8;

fn hex(a: u32) -> String {
    format!("0x{a:08x}")
}

/// Bytes of a sector-sized block that identify it ("old data" or a sentinel).
fn block(len: usize, seed: u32) -> Vec<u8> {
    pattern(len, seed)
}

// ---------------------------------------------------------------------------
// stlink issue #1369 on a 1 MiB STM32H7A3 (bank 2 at 0x08100000, gap between)

const H7A3_SECTOR: usize = 8 * KIB;
/// Sector n of bank 1 of an H7A3.
fn h7a3_sector(n: u32) -> u32 {
    0x0800_0000 + n * H7A3_SECTOR as u32
}

/// Sectors 0-2 hold old data; sectors 4, 8 and 12 hold sentinels (the
/// sectors st-flash erased by mistake: 4·1, 4·2, 4·3).
fn issue_1369_chip(test: &str) -> (Board, Vec<Vec<u8>>) {
    let old: Vec<Vec<u8>> = (0..16).map(|s| block(H7A3_SECTOR, 100 + s)).collect();
    let fills: Vec<(u32, &[u8])> =
        [0, 1, 2, 4, 8, 12].iter().map(|&s| (h7a3_sector(s), &old[s as usize][..])).collect();
    (Board::new("stm32h7a3zg", test, &[], &fills), old)
}

fn assert_sentinels_untouched(chip: &Board, old: &[Vec<u8>]) {
    for s in [4u32, 8, 12] {
        assert!(chip.peek(h7a3_sector(s), H7A3_SECTOR) == old[s as usize], "sector {s} was changed");
    }
}

#[test]
fn issue_1369_image_of_9704_bytes_at_the_base_writes_and_verifies() {
    let (chip, old) = issue_1369_chip("h7-1369-9704");
    let image = pattern(9704, 1);
    let file = chip.file("img.bin", &image);
    let out = chip.run(&["write", arg(&file), "0x08000000"]).ok();
    assert!(out.stderr.contains("2 sectors erased"), "{}", out.stderr);
    assert_eq!(chip.peek(0x0800_0000, 9704), image);
    // The rest of sector 1 keeps its old bytes; sector 2 is not touched.
    assert!(chip.peek(0x0800_25E8, 16384 - 9704) == old[1][9704 - 8192..]);
    assert!(chip.peek(h7a3_sector(2), H7A3_SECTOR) == old[2]);
    assert_sentinels_untouched(&chip, &old);
    // Read back with `stflash read`.
    let back = chip.dir.join("back.bin");
    chip.run(&["read", arg(&back), "0x08000000", "9704"]).ok();
    assert_eq!(std::fs::read(&back).unwrap(), image);
}

#[test]
fn issue_1369_small_writes_at_0x08002000_and_0x08006000_leave_sectors_4_8_12_alone() {
    let (chip, old) = issue_1369_chip("h7-1369-824");
    let a = pattern(824, 2);
    let b = pattern(824, 3);
    chip.run(&["write", arg(&chip.file("a.bin", &a)), "0x08002000"]).ok();
    chip.run(&["write", arg(&chip.file("b.bin", &b)), "0x08006000"]).ok();
    assert_eq!(chip.peek(0x0800_2000, 824), a);
    assert_eq!(chip.peek(0x0800_6000, 824), b);
    // Old data around the writes is kept; sector 3 was blank and stays so past the image.
    assert!(chip.peek(0x0800_2000 + 824, 8192 - 824) == old[1][824..]);
    assert!(chip.peek(h7a3_sector(0), H7A3_SECTOR) == old[0]);
    assert!(chip.peek(h7a3_sector(2), H7A3_SECTOR) == old[2]);
    assert_eq!(chip.peek(0x0800_6000 + 824, 8192 - 824), vec![0xFF; 8192 - 824]);
    assert_sentinels_untouched(&chip, &old);
}

#[test]
fn issue_1369_bank_2_at_0x08100000_is_written() {
    let (chip, old) = issue_1369_chip("h7-1369-bank2");
    let image = pattern(9704, 4);
    let out = chip.run(&["write", arg(&chip.file("img.bin", &image)), "0x08100000"]).ok();
    assert!(!out.stderr.contains("Unknown memory region"));
    assert_eq!(chip.peek(0x0810_0000, 9704), image);
    assert!(chip.peek(h7a3_sector(0), H7A3_SECTOR) == old[0], "bank 1 untouched");
    assert_sentinels_untouched(&chip, &old);
}

#[test]
fn issue_1369_20_kib_at_0x08002000_spans_three_sectors() {
    let (chip, old) = issue_1369_chip("h7-1369-20k");
    let image = pattern(20 * KIB, 5);
    let out = chip.run(&["write", arg(&chip.file("img.bin", &image)), "0x08002000"]).ok();
    assert!(out.stderr.contains("3 sectors erased"), "{}", out.stderr);
    assert_eq!(chip.peek(0x0800_2000, 20 * KIB), image);
    assert!(chip.peek(h7a3_sector(0), H7A3_SECTOR) == old[0]);
    assert_sentinels_untouched(&chip, &old);
}

#[test]
fn issue_1369_the_gap_at_0x08080000_is_refused_before_anything_is_erased() {
    let (chip, old) = issue_1369_chip("h7-1369-gap");
    let file = chip.file("img.bin", &pattern(1024, 6));
    let out = chip.run(&["write", arg(&file), "0x08080000"]);
    out.fails(ErrorKind::Input.exit_code() as i32, "0x08080000 is not in flash")
        .fails(3, "0x08000000-0x0807FFFF and 0x08100000-0x0817FFFF");
    // A segment running from the end of bank 1 into the gap: also refused.
    chip.run(&["write", arg(&chip.file("b.bin", &pattern(8 * KIB, 7))), "0x0807F000"]).fails(3, "not in flash");
    // Erasing in the gap is refused the same way.
    chip.run(&["erase", "0x08080000", "0x2000"]).fails(3, "0x08080000 is not in flash");
    assert!(chip.peek(h7a3_sector(0), H7A3_SECTOR) == old[0]);
    assert_sentinels_untouched(&chip, &old);

    // Library view: not one controller register was written.
    let (mut session, handle) = open_sim(SimSpec::new("stm32h7a3zg"));
    handle.clear_register_log();
    let image = Image::from_binary(pattern(1024, 6), 0x0808_0000).unwrap();
    let err = write::write(&mut session, &image, &write::WriteOptions::default(), &mut NoProgress).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Input);
    assert!(handle.register_writes().is_empty(), "{:x?}", handle.register_writes());
}

// ---------------------------------------------------------------------------
// CR values against the RM bit positions

/// The CR writes of one erase, from the simulator's register log.
fn cr_writes(handle: &SimHandle, cr: u32) -> Vec<u32> {
    handle.register_writes().into_iter().filter(|&(a, _)| a == cr).map(|(_, v)| v).collect()
}

#[test]
fn erase_writes_the_rm_sector_field_h7a3_sector_1_of_bank_1_and_127_of_bank_2() {
    let (mut session, handle) = open_sim(SimSpec::new("stm32h7a3zi"));
    for (addr, seed) in [(0x0800_0000, 10), (0x0800_2000, 11), (0x0800_8000, 12), (0x081F_C000, 13), (0x081F_E000, 14)]
    {
        assert!(handle.poke(addr, &block(H7A3_SECTOR, seed)));
    }
    handle.clear_register_log();
    erase::erase_range(&mut session, 0x0800_2000, 0x2000, &mut NoProgress).unwrap();
    let sector1 = CR_SER | 1 << H7AB_SSN;
    assert_eq!(sector1, 0x44);
    assert_eq!(
        cr_writes(&handle, FLASH_CR1),
        vec![sector1, sector1 | H7AB_START, 0, 0, 1],
        "SER|SSN, START, clear, lock"
    );
    assert_eq!(handle.peek(0x0800_2000, H7A3_SECTOR).unwrap(), vec![0xFF; H7A3_SECTOR]);
    assert_eq!(handle.peek(0x0800_0000, 16).unwrap(), block(16, 10), "sector 0 kept");
    assert_eq!(handle.peek(0x0800_8000, 16).unwrap(), block(16, 12), "sector 4 kept (st-flash erased it)");

    handle.clear_register_log();
    erase::erase_range(&mut session, 0x081F_E000, 0x2000, &mut NoProgress).unwrap();
    let sector127 = CR_SER | 127 << H7AB_SSN;
    assert_eq!(sector127, 0x1FC4);
    assert_eq!(cr_writes(&handle, FLASH_CR2), vec![sector127, sector127 | H7AB_START, 0, 0, 1]);
    assert!(cr_writes(&handle, FLASH_CR1).is_empty(), "bank 1 not touched");
    assert_eq!(handle.peek(0x081F_E000, 16).unwrap(), vec![0xFF; 16]);
    assert_eq!(handle.peek(0x081F_C000, 16).unwrap(), block(16, 13));
    // EOP is cleared through CCR2; the read-only SR is never written.
    let writes = handle.register_writes();
    assert!(writes.contains(&(0x5200_2114, 1 << 16)), "{writes:x?}");
    assert!(writes.iter().all(|&(a, _)| a != 0x5200_2010 && a != 0x5200_2110), "{writes:x?}");
    session.finish(false).unwrap();
}

#[test]
fn erase_writes_the_rm_sector_field_h743_sector_7_of_bank_2() {
    let (mut session, handle) = open_sim(SimSpec::new("stm32h743zi"));
    assert!(handle.poke(0x081E_0000, &block(64, 20)));
    assert!(handle.poke(0x080E_0000, &block(64, 21)));
    assert!(handle.poke(0x081C_0000, &block(64, 22)));
    handle.clear_register_log();
    erase::erase_range(&mut session, 0x081E_0000, 0x20000, &mut NoProgress).unwrap();
    // 3.3 V target: erase parallelism x32 (PSIZE = 0b10).
    let sector7 = CR_SER | 0b10 << H74X_PSIZE | 7 << H74X_SNB;
    assert_eq!(sector7, 0x724);
    assert_eq!(cr_writes(&handle, FLASH_CR2), vec![sector7, sector7 | H74X_START, 0, 0, 1]);
    assert_eq!(handle.peek(0x081E_0000, 64).unwrap(), vec![0xFF; 64]);
    assert_eq!(handle.peek(0x080E_0000, 64).unwrap(), block(64, 21), "bank 1 sector 7 kept");
    assert_eq!(handle.peek(0x081C_0000, 64).unwrap(), block(64, 22), "bank 2 sector 6 kept");
    session.finish(false).unwrap();
}

// ---------------------------------------------------------------------------
// Both banks

#[test]
fn h7a3_image_across_both_banks_writes_verifies_and_reads_back() {
    let keep_low = block(H7A3_SECTOR, 30);
    let keep_high = block(H7A3_SECTOR, 31);
    let chip = Board::new("stm32h7a3zi", "h7-span-h7a3", &[], &[(0x080F_A000, &keep_low), (0x0810_2000, &keep_high)]);
    // 16 KiB in bank 1's last two sectors, 8 KiB in bank 2's first.
    let image = pattern(24 * KIB, 32);
    let out = chip.run(&["write", arg(&chip.file("img.bin", &image)), "0x080fc000"]).ok();
    assert!(out.stderr.contains("3 sectors erased"), "{}", out.stderr);
    assert_eq!(chip.peek(0x080F_C000, 24 * KIB), image);
    assert!(chip.peek(0x080F_A000, H7A3_SECTOR) == keep_low);
    assert!(chip.peek(0x0810_2000, H7A3_SECTOR) == keep_high);
    // One read across the bank boundary, with neighbours on both sides.
    let back = chip.dir.join("back.bin");
    chip.run(&["read", arg(&back), "0x080fa000", &format!("{}", 40 * KIB)]).ok();
    let want: Vec<u8> = [&keep_low[..], &image[..], &keep_high[..]].concat();
    assert!(std::fs::read(&back).unwrap() == want);
}

#[test]
fn h743_image_across_both_banks_keeps_the_rest_of_the_sectors() {
    let old_b1s7 = block(128 * KIB, 40);
    let sentinel_b1s6 = block(64, 41);
    let sentinel_b2s1 = block(64, 42);
    let chip = Board::new(
        "stm32h743zi",
        "h7-span-h743",
        &[],
        &[(0x080E_0000, &old_b1s7), (0x080C_0000, &sentinel_b1s6), (0x0812_0000, &sentinel_b2s1)],
    );
    // 32 KiB at the end of bank 1 sector 7, 16 KiB at the start of bank 2 sector 0.
    let image = pattern(48 * KIB, 43);
    let out = chip.run(&["write", arg(&chip.file("img.bin", &image)), "0x080f8000"]).ok();
    assert!(out.stderr.contains("2 sectors erased"), "{}", out.stderr);
    assert_eq!(chip.peek(0x080F_8000, 48 * KIB), image);
    assert!(chip.peek(0x080E_0000, 96 * KIB) == old_b1s7[..96 * KIB], "start of sector 7 kept");
    assert_eq!(chip.peek(0x080C_0000, 64), sentinel_b1s6);
    assert_eq!(chip.peek(0x0812_0000, 64), sentinel_b2s1);
    assert_eq!(chip.peek(0x0810_4000, 16), vec![0xFF; 16], "rest of bank 2 sector 0 erased");
    let back = chip.dir.join("back.bin");
    chip.run(&["read", arg(&back), "0x080f8000", &format!("{}", 48 * KIB)]).ok();
    assert!(std::fs::read(&back).unwrap() == image);
}

#[test]
fn erase_range_across_the_bank_boundary_erases_only_those_sectors() {
    let fills: Vec<(u32, Vec<u8>)> =
        [0x080F_C000u32, 0x080F_E000, 0x0810_0000, 0x0810_2000].iter().map(|&a| (a, block(64, a))).collect();
    let refs: Vec<(u32, &[u8])> = fills.iter().map(|(a, d)| (*a, &d[..])).collect();
    let chip = Board::new("stm32h7a3zi", "h7-erase-boundary", &[], &refs);
    let out = chip.run(&["erase", "0x080fe000", "0x4000"]).ok();
    assert!(out.stdout.contains("Flash page at 0x80fe000 erased") && out.stdout.contains("0x8100000 erased"));
    assert_eq!(chip.peek(0x080F_E000, 64), vec![0xFF; 64]);
    assert_eq!(chip.peek(0x0810_0000, 64), vec![0xFF; 64]);
    assert_eq!(chip.peek(0x080F_C000, 64), block(64, 0x080F_C000));
    assert_eq!(chip.peek(0x0810_2000, 64), block(64, 0x0810_2000));
    // Not on sector boundaries: refused with the range to use.
    chip.run(&["erase", "0x080fe100", "0x100"]).fails(3, "erase 0x080FE000 0x2000");

    // H743: bank 1 sector 7 and bank 2 sector 0.
    let chip =
        Board::new("stm32h743zi", "h7-erase-boundary-h743", &[], &[(0x080C_0000, &[1; 64]), (0x0812_0000, &[2; 64])]);
    chip.run(&["erase", "0x080e0000", "0x40000"]).ok();
    assert_eq!(chip.peek(0x080C_0000, 64), vec![1; 64]);
    assert_eq!(chip.peek(0x0812_0000, 64), vec![2; 64]);
}

#[test]
fn mass_erase_erases_both_banks_with_ber() {
    for name in ["stm32h7a3zi", "stm32h743zg"] {
        let chip = Board::new(name, "h7-mass", &[], &[(0x0800_0000, &[0; 64]), (0x0810_0000, &[0; 64])]);
        chip.run(&["erase"]).ok();
        assert_eq!(chip.peek(0x0800_0000, 64), vec![0xFF; 64], "{name}");
        assert_eq!(chip.peek(0x0810_0000, 64), vec![0xFF; 64], "{name}");
    }
    // Library: BER|START on each bank, no OPTCR.MER write, two bank erases.
    let (mut session, handle) = open_sim(SimSpec::new("stm32h7a3zi"));
    handle.clear_register_log();
    erase::erase_all(&mut session, &mut NoProgress).unwrap();
    assert_eq!(&cr_writes(&handle, FLASH_CR1)[..2], &[CR_BER, CR_BER | H7AB_START]);
    assert_eq!(&cr_writes(&handle, FLASH_CR2)[..2], &[CR_BER, CR_BER | H7AB_START]);
    assert!(handle.register_writes().iter().all(|&(a, _)| a != 0x5200_2018 && a != 0x5200_2008), "no OPTCR/OPTKEYR");
    assert_eq!(handle.stats().mass_erases, 2);
    session.finish(false).unwrap();
}

// ---------------------------------------------------------------------------
// Errors users see

#[test]
fn write_protected_sector_erase_reports_wrperr_with_sector_and_address() {
    let data = block(64, 50);
    let chip = Board::new("stm32h7a3zi", "h7-wrp", &[("wrp", "4")], &[(0x0800_8000, &data), (0x0800_6000, &data)]);
    // `erase` of a write-protected sector is refused before anything is erased.
    let out = chip.run(&["erase", "0x08008000", "0x2000"]);
    out.fails(ErrorKind::Protected.exit_code() as i32, "write-protected").fails(6, "0x08008000");
    assert_eq!(chip.peek(0x0800_8000, 64), data, "protected sector unchanged");
    // Should the controller be asked anyway, its WRPERR is decoded with the
    // sector and address, and nothing changes.
    let (mut session, _handle) = open_sim(chip.spec());
    let sector = session.layout.sector_at(0x0800_8000).unwrap();
    let Session { target, flash, .. } = &mut session;
    let ctrl = flash.as_mut().unwrap();
    ctrl.unlock(target, 0).unwrap();
    let err = stflash::Error::from(stflash::flash::engine::erase_sector(target, ctrl.as_ref(), &sector).unwrap_err());
    assert_eq!(err.kind, ErrorKind::Protected, "{err}");
    for text in ["WRPERR", "sector 4 of bank 1", "0x08008000"] {
        assert!(err.message.contains(text), "{text}: {err}");
    }
    ctrl.lock(target, 0).unwrap();
    drop(session);
    assert_eq!(chip.peek(0x0800_8000, 64), data, "protected sector unchanged");
    // A write touching the protected group is refused before anything is erased.
    let file = chip.file("img.bin", &pattern(16 * KIB, 51));
    chip.run(&["write", arg(&file), "0x08006000"]).fails(6, "write-protected");
    assert_eq!(chip.peek(0x0800_6000, 64), data, "sector 3 not erased");
    // Outside the group (sectors 4-7) writing works.
    chip.run(&["write", arg(&file), "0x08010000"]).ok();
}

#[test]
fn write_protected_sectors_are_refused_before_anything_is_erased_in_both_banks() {
    // H743: one FLASH_WPSN bit per 128 KiB sector and bank (RM0433).
    WrpCase {
        chip: "stm32h743zi",
        options: &[("wrp", "0x08040000-0x08040fff")],
        area: (0x0804_0000, 0x0806_0000),
        from: 0x0800_0000,
        register: "FLASH_WPSN1.WRPSN1 (sector 2 of bank 1)",
        remedy: "WRPSN1=0xFF",
    }
    .check("h743-wrp-bank1");
    WrpCase {
        chip: "stm32h743zi",
        options: &[("wrp", "0x08120000-0x08120fff")],
        area: (0x0812_0000, 0x0814_0000),
        from: 0x0810_0000,
        register: "FLASH_WPSN2.WRPSN2 (sector 1 of bank 2)",
        remedy: "WRPSN2=0xFF",
    }
    .check("h743-wrp-bank2");
}

#[test]
fn read_protection_and_bank_swap_are_refused_with_what_to_do() {
    let rdp = Board::new("stm32h743zi", "h7-rdp", &[("rdp", "1")], &[]);
    let back = rdp.dir.join("back.bin");
    rdp.run(&["read", arg(&back), "0x08000000", "16"]).fails(6, "read-protected");
    rdp.run(&["write", arg(&rdp.file("img.bin", &[0; 32])), "0x08000000"]).fails(6, "RDP level 1");
    // The debugger's reads of flash really fault (not just refused by stflash);
    // the flash registers stay readable.
    let mut spec = SimSpec::new("stm32h743zi");
    spec.options = vec![("rdp".into(), "1".into())];
    let (mut session, _handle) = open_sim(spec);
    let mut buf = [0u8; 16];
    assert!(session.target.read_mem(0x0800_0000, &mut buf).is_err());
    assert!(session.target.read_mem(0x0810_0000, &mut buf).is_err());
    assert_eq!(session.target.read32(0x5200_201C).unwrap() >> 8 & 0xFF, 0xBB, "OPTSR_CUR.RDP");
    session.finish(false).unwrap();

    let swap = Board::new("stm32h7a3zi", "h7-swap", &[("swap_bank", "1")], &[]);
    swap.run(&["write", arg(&swap.file("img.bin", &[0; 32])), "0x08000000"])
        .fails(ErrorKind::Unsupported.exit_code() as i32, "banks of this STM32H7Ax_H7Bx are swapped")
        .fails(10, "SWAP_BANK");
}

#[test]
fn a_partial_last_flash_word_is_padded_with_the_erased_value() {
    // 9704 = 606 flash words + 8 bytes; the 8 bytes after the image stay 0xFF.
    let chip = Board::new("stm32h7a3zi", "h7-pad", &[], &[]);
    let image = pattern(9704, 60);
    chip.run(&["write", arg(&chip.file("img.bin", &image)), "0x08000000"]).ok();
    assert_eq!(chip.peek(0x0800_25E8, 8), vec![0xFF; 8]);
    // H743: 32-byte words; 100 bytes leave 28 erased bytes in the last word.
    let chip = Board::new("stm32h743zi", "h7-pad-h743", &[], &[]);
    chip.run(&["write", arg(&chip.file("img.bin", &pattern(100, 61))), "0x08000000"]).ok();
    assert_eq!(chip.peek(0x0800_0064, 28), vec![0xFF; 28]);
}

// ---------------------------------------------------------------------------
// Every simulated part and its layout

/// A bank as (base, size, sector size).
type BankShape = (u32, u64, u32);

/// (part, st-flash name, banks) as the reference manuals give them.
const LAYOUTS: &[(&str, &str, &[BankShape])] = &[
    ("stm32h7a3zi", "STM32H7Ax_H7Bx", &[(0x0800_0000, 1 << 20, 8192), (0x0810_0000, 1 << 20, 8192)]),
    ("stm32h7a3zg", "STM32H7Ax_H7Bx", &[(0x0800_0000, 512 << 10, 8192), (0x0810_0000, 512 << 10, 8192)]),
    ("stm32h7b0vb", "STM32H7Ax_H7Bx", &[(0x0800_0000, 128 << 10, 8192)]),
    ("stm32h743zi", "STM32H74x_H75x", &[(0x0800_0000, 1 << 20, 128 << 10), (0x0810_0000, 1 << 20, 128 << 10)]),
    ("stm32h743zg", "STM32H74x_H75x", &[(0x0800_0000, 512 << 10, 128 << 10), (0x0810_0000, 512 << 10, 128 << 10)]),
    ("stm32h750vb", "STM32H74x_H75x", &[(0x0800_0000, 128 << 10, 128 << 10)]),
    ("stm32h723zg", "STM32H72x_H73x", &[(0x0800_0000, 1 << 20, 128 << 10)]),
    ("stm32h745zi", "STM32H74x_H75x", &[(0x0800_0000, 1 << 20, 128 << 10), (0x0810_0000, 1 << 20, 128 << 10)]),
];

#[test]
fn every_simulated_h7_identifies_with_its_bank_layout() {
    for &(part, name, banks) in LAYOUTS {
        let (mut session, _handle) = open_sim(SimSpec::new(part));
        assert_eq!(session.target.chip.name, name, "{part}");
        let got: Vec<BankShape> = session.layout.banks.iter().map(|b| (b.base, b.size(), b.runs[0].1)).collect();
        assert_eq!(got, banks, "{part}");
        let word = if name == "STM32H7Ax_H7Bx" { 16 } else { 32 };
        assert_eq!(session.layout.write_unit, word, "{part}");
        // Watchdogs frozen while halted: DBGMCU_APB3FZ1.WWDG1 (bit 6) and
        // DBGMCU_APB4FZ1.IWDG1 (bit 18), RM0433/RM0455/RM0468 DBGMCU.
        assert_eq!(session.target.read32(0x5C00_1034).unwrap() & 1 << 6, 1 << 6, "{part}");
        assert_eq!(session.target.read32(0x5C00_1054).unwrap() & 1 << 18, 1 << 18, "{part}");
        session.finish(false).unwrap();
    }
}

#[test]
fn flash_override_gives_the_1_mib_layout_with_its_gap() {
    let (transport, _sim) = stflash_sim::open(&SimSpec::new("stm32h7a3zi")).unwrap();
    let connect = ConnectOptions { flash_size: Some(1 << 20), ..Default::default() };
    let session = Session::open(Box::new(transport), &connect).unwrap();
    assert_eq!(session.layout.ranges_text(), "0x08000000-0x0807FFFF and 0x08100000-0x0817FFFF");
    session.finish(false).unwrap();
    // A size that does not fit the H7 bank layout is refused with the reason.
    let dir = temp_dir("h7-bad-flash");
    let out = run_sim("stm32h7a3zi", &dir.join("s"), &["--flash=3M", "erase"]);
    out.fails(3, "does not fit the STM32H7A/B layout").fails(3, "--flash=");
}

#[test]
fn single_bank_parts_write_and_refuse_the_bank_2_address() {
    // H723: one bank of eight 128 KiB sectors.
    let chip = Board::new("stm32h723zg", "h7-h723", &[], &[(0x0800_0000, &[7; 64]), (0x0804_0000, &[8; 64])]);
    let image = pattern(40 * KIB, 70);
    chip.run(&["write", arg(&chip.file("img.bin", &image)), "0x08020000"]).ok();
    assert_eq!(chip.peek(0x0802_0000, 40 * KIB), image);
    assert_eq!(chip.peek(0x0800_0000, 64), vec![7; 64]);
    assert_eq!(chip.peek(0x0804_0000, 64), vec![8; 64]);
    // H750 and H7B0: 128 KiB, bank 1 only.
    for part in ["stm32h750vb", "stm32h7b0vb"] {
        let chip = Board::new(part, "h7-small", &[], &[]);
        let file = chip.file("img.bin", &pattern(4 * KIB, 71));
        chip.run(&["write", arg(&file), "0x08100000"]).fails(3, "0x08000000-0x0801FFFF");
        chip.run(&["write", arg(&file), "0x0801f000"]).ok();
    }
}

#[test]
fn dual_core_h745_is_programmed_through_the_cortex_m7() {
    let chip = Board::new("stm32h745zi", "h7-h745", &[], &[]);
    let image = pattern(16 * KIB, 80);
    // Connect under reset: the H7 is identified after NRST is released (OpenOCD
    // tcl/target/stm32h7x.cfg:136-146).
    let out = chip.run(&["--connect-under-reset", "write", arg(&chip.file("img.bin", &image)), &hex(0x0810_0000)]).ok();
    assert!(out.stderr.contains("STM32H74x_H75x"), "{}", out.stderr);
    assert_eq!(chip.peek(0x0810_0000, 16 * KIB), image);
    // Library: read across both banks of the 2 MiB part.
    let (mut session, handle) = open_sim(SimSpec::new("stm32h745zi"));
    assert!(handle.poke(0x080F_FFF0, &[0xA5; 16]) && handle.poke(0x0810_0000, &[0x5A; 16]));
    let got = read::read(&mut session, 0x080F_FFF0, 32, &mut NoProgress).unwrap();
    assert_eq!(got, [[0xA5; 16], [0x5A; 16]].concat());
    session.finish(false).unwrap();
}

#[test]
fn unknown_sim_option_lists_the_h7_keys() {
    let dir = temp_dir("h7-opts");
    let spec = format!("stm32h7a3zi:{}", dir.join("s").display());
    run(&["erase"], &[("STFLASH_SIM", &spec), ("STFLASH_SIM_OPTS", "dbank=1")]).fails(2, "swap_bank=0|1");
}
