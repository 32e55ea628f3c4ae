//! End-to-end tests of the STM32L0/L1 (PECR) path on simulated chips: the
//! L053 (L0 cat.3, 128-byte pages, 64-byte half pages) and the L152RE (L1
//! cat.5, 256-byte pages, two banks). Flash erases to 0x00 on these parts.

use crate::common::{flash_of, open_sim, pattern, run, run_sim, temp_dir, write_file, WrpCase};
use stflash::flash::NoProgress;
use stflash::ops::image::Image;
use stflash::ops::{erase, read, write};
use stflash_sim::SimSpec;

const L0_PECR: u32 = 0x4002_2004;
const L0_PEKEYR: u32 = 0x4002_200C;
const L0_PRGKEYR: u32 = 0x4002_2010;
// RM0377 PECR bits: PELOCK 0, PRGLOCK 1, PROG 3, ERASE 9, FPRG 10.
const PELOCK: u32 = 1 << 0;
const PRGLOCK: u32 = 1 << 1;
const PROG: u32 = 1 << 3;
const ERASE: u32 = 1 << 9;
const FPRG: u32 = 1 << 10;

#[test]
fn l053_write_read_back_erase_range_and_mass_erase() {
    let dir = temp_dir("l053-e2e");
    let state = dir.join("l053.sim");
    // 3000 bytes from 0x08000F40: pages 30..53, across the 4 KiB WRP sector
    // boundary at 0x08001000; neither end on a page or half-page boundary.
    let image = pattern(3000, 7);
    let img = write_file(&dir, "img.bin", &image);
    let out = run_sim("l053", &state, &["write", &img, "0x08000F40"]).ok();
    assert!(
        out.stderr.contains("STM32L0xxx_Cat_3: 8 KiB SRAM, 64 KiB flash in at least 128 byte pages."),
        "{}",
        out.stderr
    );
    assert_eq!(flash_of(&state, 0x0800_0F40, 3000), image);
    // The rest of the touched pages is erased flash: 0x00.
    assert_eq!(flash_of(&state, 0x0800_0F00, 0x40), vec![0; 0x40]);
    assert_eq!(flash_of(&state, 0x0800_0F40 + 3000, 8), vec![0; 8]);

    let back = dir.join("back.bin");
    run_sim("l053", &state, &["read", back.to_str().unwrap(), "0x08000F40", "3000"]).ok();
    assert_eq!(std::fs::read(&back).unwrap(), image);

    // Two pages in the middle: only they change.
    let out = run_sim("l053", &state, &["erase", "0x08001000", "0x100"]).ok();
    assert!(out.stdout.contains("-> Flash page at 0x8001000 erased (size: 0x80)"), "{}", out.stdout);
    assert!(out.stdout.contains("-> Flash page at 0x8001080 erased (size: 0x80)"), "{}", out.stdout);
    assert_eq!(flash_of(&state, 0x0800_1000, 0x100), vec![0; 0x100]);
    assert_eq!(flash_of(&state, 0x0800_0F40, 0xC0), image[..0xC0]);
    assert_eq!(flash_of(&state, 0x0800_1100, 3000 - 0x1C0), image[0x1C0..]);

    // A range that is not whole pages is refused before anything is erased.
    run_sim("l053", &state, &["erase", "0x08001100", "0x40"]).fails(3, "does not start and end on sector boundaries");
    assert_eq!(flash_of(&state, 0x0800_1100, 0x40), image[0x1C0..0x200]);

    let out = run_sim("l053", &state, &["erase"]).ok();
    assert!(out.stdout.contains("Mass erase completed successfully."), "{}", out.stdout);
    assert_eq!(flash_of(&state, 0x0800_0000, 64 * 1024), vec![0; 64 * 1024]);
}

#[test]
fn an_image_erases_only_the_pages_it_touches_and_keeps_the_rest_of_them() {
    let (mut session, sim) = open_sim(SimSpec::new("l053"));
    let old = pattern(0x800, 3);
    assert!(sim.poke(0x0800_0000, &old));
    let image = pattern(100, 4);
    let img = Image::from_binary(image.clone(), 0x0800_0210).unwrap();
    let report = write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(report.erased.len(), 1, "one 128-byte page");
    assert_eq!(report.erased[0].addr, 0x0800_0200);
    let mut want = old.clone();
    want[0x210..0x274].copy_from_slice(&image);
    assert_eq!(sim.peek(0x0800_0000, 0x800).unwrap(), want, "other pages and the page's other bytes kept");
    assert_eq!(sim.stats().erases, 1);

    // --erase-rest: the page's other bytes end up erased (0x00).
    let opts = write::WriteOptions { preserve: false, ..Default::default() };
    let img = Image::from_binary(image.clone(), 0x0800_0410).unwrap();
    write::write(&mut session, &img, &opts, &mut NoProgress).unwrap();
    assert_eq!(sim.peek(0x0800_0400, 0x10).unwrap(), vec![0; 0x10]);
    assert_eq!(sim.peek(0x0800_0410, 100).unwrap(), image);
    assert_eq!(sim.peek(0x0800_0474, 0x0C).unwrap(), vec![0; 0x0C]);
    assert_eq!(sim.peek(0x0800_0380, 0x80).unwrap(), old[0x380..0x400], "previous page kept");
    assert_eq!(sim.peek(0x0800_0480, 0x80).unwrap(), old[0x480..0x500], "next page kept");
}

#[test]
fn the_register_sequence_is_the_rms() {
    let (mut session, sim) = open_sim(SimSpec::new("l053"));
    sim.clear_register_log();
    // Half page 0 all zero (skipped: it is erased flash), half page 1 data.
    let mut data = vec![0u8; 128];
    data[64..].copy_from_slice(&pattern(64, 5));
    let img = Image::from_binary(data.clone(), 0x0800_0080).unwrap();
    let report = write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(report.programmed_bytes, 64, "the zero half page is not programmed");
    assert_eq!(sim.stats().words, 1);
    assert_eq!(sim.peek(0x0800_0080, 128).unwrap(), data);

    let pecr: Vec<u32> = sim.register_writes().iter().filter(|(a, _)| *a == L0_PECR).map(|&(_, v)| v).collect();
    assert_eq!(pecr, vec![ERASE | PROG, 0, FPRG | PROG, 0, 0, PRGLOCK | PELOCK]);
    let keys: Vec<(u32, u32)> =
        sim.register_writes().into_iter().filter(|(a, _)| *a == L0_PEKEYR || *a == L0_PRGKEYR).collect();
    assert_eq!(
        keys,
        vec![(L0_PEKEYR, 0x89AB_CDEF), (L0_PEKEYR, 0x0203_0405), (L0_PRGKEYR, 0x8C9D_AEBF), (L0_PRGKEYR, 0x1314_1516)],
        "each key pair once, PECR first"
    );

    // A whole-chip erase goes page by page: there is no mass-erase bit.
    sim.clear_register_log();
    let before = sim.stats().erases;
    erase::erase_all(&mut session, &mut NoProgress).unwrap();
    assert_eq!(sim.stats().erases - before, 512);
    assert_eq!(sim.stats().mass_erases, 0);
    assert_eq!(sim.peek(0x0800_0000, 64 * 1024).unwrap(), vec![0; 64 * 1024]);
}

#[test]
fn l152_writes_across_its_banks() {
    let (mut session, sim) = open_sim(SimSpec::new("l152"));
    assert_eq!(session.target.chip.name, "STM32L1xx_Cat_5");
    assert_eq!(session.layout.banks.len(), 2);
    assert_eq!(session.layout.banks[1].base, 0x0804_0000);
    assert!(sim.poke(0x0803_FE00, &[0x5A; 0x100]));
    // 512 bytes from 0x0803FF00: two 256-byte pages of bank 1, two of bank 2.
    let image = pattern(512, 6);
    let img = Image::from_binary(image.clone(), 0x0803_FF00).unwrap();
    let report = write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(report.erased.iter().map(|s| s.bank).collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(sim.peek(0x0803_FF00, 512).unwrap(), image);
    assert_eq!(sim.peek(0x0803_FE00, 0x100).unwrap(), vec![0x5A; 0x100], "page before kept");
    assert_eq!(sim.stats().words, 4, "four 128-byte half pages");
    // L1 PECR lives at 0x40023C04.
    assert!(sim.register_writes().contains(&(0x4002_3C04, FPRG | PROG)));
    let back = read::read(&mut session, 0x0803_FF00, 512, &mut NoProgress).unwrap();
    assert_eq!(back, image);

    let report = erase::erase_range(&mut session, 0x0804_0000, 0x100, &mut NoProgress).unwrap();
    assert_eq!(report.sectors.len(), 1);
    assert_eq!(sim.peek(0x0804_0000, 0x100).unwrap(), vec![0; 0x100]);
    assert_eq!(sim.peek(0x0803_FF00, 0x100).unwrap(), image[..0x100]);
}

#[test]
fn l152_binary_round_trip_and_mass_erase() {
    let dir = temp_dir("l152-e2e");
    let state = dir.join("l152.sim");
    let image = pattern(2048, 9);
    let img = write_file(&dir, "img.bin", &image);
    run_sim("l152", &state, &["write", &img, "0x0803FC00"]).ok();
    let back = dir.join("back.bin");
    run_sim("l152", &state, &["read", back.to_str().unwrap(), "0x0803FC00", "2048"]).ok();
    assert_eq!(std::fs::read(&back).unwrap(), image);
    run_sim("l152", &state, &["erase", "0x0803FF00", "0x200"]).ok();
    assert_eq!(flash_of(&state, 0x0803_FF00, 0x200), vec![0; 0x200]);
    assert_eq!(flash_of(&state, 0x0803_FC00, 0x300), image[..0x300]);
    assert_eq!(flash_of(&state, 0x0804_0100, 0x300), image[0x500..]);
    run_sim("l152", &state, &["erase"]).ok();
    assert_eq!(flash_of(&state, 0x0800_0000, 512 * 1024), vec![0; 512 * 1024]);
}

#[test]
fn l1_cat4_size_register_zero_means_384k() {
    let (session, _sim) = open_sim(SimSpec::new("stm32l151rd"));
    assert_eq!(session.target.chip.dev_id, 0x436);
    assert_eq!(session.layout.total_size(), 384 * 1024);
    assert_eq!(session.layout.banks.len(), 1, "contiguous banks, one PECR");
    assert_eq!(session.connect_line(), "STM32L1xx_Cat_4: 48 KiB SRAM, 384 KiB flash in at least 256 byte pages.");
}

#[test]
fn read_protection_and_write_protection_are_reported_and_nothing_changes() {
    let dir = temp_dir("l0-protect");
    let img = write_file(&dir, "img.bin", &pattern(256, 1));
    let state = dir.join("rdp.sim");
    let spec = format!("l053:{}", state.display());
    run(&["write", &img, "0x08000000"], &[("STFLASH_SIM", &spec), ("STFLASH_SIM_OPTS", "rdp=1")])
        .fails(6, "read-protected (RDP level 1)");

    let state = dir.join("wrp.sim");
    let spec = format!("l053:{}", state.display());
    // Sector 1 (0x08001000-0x08001FFF) write-protected; the image needs it.
    let out = run(
        &["write", &img, "0x08001F80"],
        &[("STFLASH_SIM", &spec), ("STFLASH_SIM_OPTS", "wrp=0x08001000-0x08001fff")],
    )
    .fails(6, "overlaps 0x08001000-0x08001FFF, write-protected by FLASH_WRPR (sector 1)");
    assert!(out.stderr.contains("WRPROT_0=0x0000"), "{}", out.stderr);
    assert_eq!(flash_of(&state, 0x0800_1F80, 256), vec![0; 256]);
}

#[test]
fn write_protected_sectors_are_refused_before_anything_is_erased_in_both_banks() {
    // L152RE (cat.5, 512 KiB, bank 2 at 0x08040000): one WRPROT bit per
    // 4 KiB sector, WRPR1 for sectors 0-31, WRPR3 for 64-95 (RM0038).
    WrpCase {
        chip: "stm32l152re",
        options: &[("wrp", "0x08002000-0x08002fff")],
        area: (0x0800_2000, 0x0800_3000),
        from: 0x0800_0000,
        register: "FLASH_WRPR1 (sector 2)",
        remedy: "WRPROT_0=0x0000",
    }
    .check("l152-wrp-bank1");
    WrpCase {
        chip: "stm32l152re",
        options: &[("wrp", "0x08041000-0x08041fff")],
        area: (0x0804_1000, 0x0804_2000),
        from: 0x0804_0000,
        register: "FLASH_WRPR3 (sector 65)",
        remedy: "WRPROT_4=0x0000",
    }
    .check("l152-wrp-bank2");
}

#[test]
fn the_data_eeprom_is_readable_and_never_touched_by_flash_operations() {
    let (mut session, sim) = open_sim(SimSpec::new("l053"));
    let eeprom = pattern(64, 11);
    assert!(sim.poke(0x0808_0000, &eeprom));
    assert_eq!(stflash::family::l0l1::chips::data_eeprom(0x417).unwrap().size, 2048);
    assert_eq!(read::read(&mut session, 0x0808_0000, 64, &mut NoProgress).unwrap(), eeprom);
    erase::erase_all(&mut session, &mut NoProgress).unwrap();
    assert_eq!(sim.peek(0x0808_0000, 64).unwrap(), eeprom);
    // A flash image (even with --mass-erase) leaves it alone.
    let img = Image::from_binary(vec![1; 16], 0x0800_0000).unwrap();
    let opts = write::WriteOptions { mass_erase: true, ..Default::default() };
    write::write(&mut session, &img, &opts, &mut NoProgress).unwrap();
    assert_eq!(sim.peek(0x0808_0000, 64).unwrap(), eeprom);
}

#[test]
fn a_wrong_key_locks_pecr_until_reset_and_the_message_says_so() {
    let (mut session, sim) = open_sim(SimSpec::new("l053"));
    session.target.write32(L0_PEKEYR, 0xDEAD_BEEF).unwrap();
    let img = Image::from_binary(pattern(64, 12), 0x0800_0000).unwrap();
    let err = write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap_err();
    assert_eq!(err.exit_code(), 7, "{err}");
    assert!(err.to_string().contains("FLASH_PECR (PELOCK) stayed locked"), "{err}");
    assert!(err.to_string().contains("reset the chip"), "{err}");
    assert_eq!(sim.peek(0x0800_0000, 64).unwrap(), vec![0; 64]);
    // After a reset the keys work again.
    session.target.reset_and_halt().unwrap();
    write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(sim.peek(0x0800_0000, 64).unwrap(), pattern(64, 12));
}

#[test]
fn debugger_reads_of_flash_and_eeprom_fault_under_rdp_level1() {
    let (mut session, _) = open_sim({
        let mut s = SimSpec::new("l053");
        s.options = vec![("rdp".to_string(), "1".to_string())];
        s
    });
    assert!(session.target.read32(0x0800_0000).is_err());
    assert!(session.target.read32(0x0808_0000).is_err());
    assert!(session.target.read32(0x2000_0000).is_ok());
    let err = read::read(&mut session, 0x0800_0000, 16, &mut NoProgress).unwrap_err();
    assert!(err.to_string().contains("RDP level 1"), "{err}");
}
