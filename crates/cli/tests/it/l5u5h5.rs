//! End-to-end tests of the STM32L5/U5 (non-secure registers) and STM32H5
//! paths on simulated chips: L552ZE (512 KiB, dual bank of 2 KiB pages as
//! shipped), U575ZI (2 MiB, two banks of 8 KiB pages), U575RG (1 MiB, bank
//! mode by option), H563ZI (2 MiB, two banks of 8 KiB sectors).

use crate::common::{flash_of, open_sim, pattern, run, run_sim, temp_dir, write_file, WrpCase};
use stflash::flash::NoProgress;
use stflash::ops::image::Image;
use stflash::ops::{erase, read, write};
use stflash_sim::SimSpec;

/// L5/U5 non-secure control register and its bits (RM0438/RM0456 FLASH_NSCR).
const TZ_NSCR: u32 = 0x4002_2028;
const TZ_PER: u32 = 1 << 1;
const TZ_MER1: u32 = 1 << 2;
const TZ_BKER: u32 = 1 << 11;
const TZ_MER2: u32 = 1 << 15;
const TZ_STRT: u32 = 1 << 16;
const TZ_LOCK: u32 = 1 << 31;
/// H5 FLASH_NSCR, NSCCR and bits (RM0481).
const H5_NSKEYR: u32 = 0x4002_2004;
const H5_NSCR: u32 = 0x4002_2028;
const H5_NSCCR: u32 = 0x4002_2030;
const H5_LOCK: u32 = 1 << 0;
const H5_PG: u32 = 1 << 1;
const H5_SER: u32 = 1 << 2;
const H5_STRT: u32 = 1 << 5;
const H5_MER: u32 = 1 << 15;
const H5_BKSEL: u32 = 1 << 31;

fn spec(chip: &str, options: &[(&str, &str)]) -> SimSpec {
    let mut s = SimSpec::new(chip);
    s.options = options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    s
}

fn writes_to(log: &[(u32, u32)], reg: u32) -> Vec<u32> {
    log.iter().filter(|(a, _)| *a == reg).map(|&(_, v)| v).collect()
}

/// Write `image` at `addr` through the binary, read it back, erase `erase`
/// (whole sectors, checking the bytes around them), then mass erase.
fn binary_round_trip(chip: &str, addr: u32, image: &[u8], erase: (u32, u32)) {
    let dir = temp_dir(chip);
    let state = dir.join("chip.sim");
    let img = write_file(&dir, "img.bin", image);
    run_sim(chip, &state, &["write", &img, &format!("0x{addr:08X}")]).ok();
    let back = dir.join("back.bin");
    run_sim(chip, &state, &["read", back.to_str().unwrap(), &format!("0x{addr:08X}"), &image.len().to_string()]).ok();
    assert_eq!(std::fs::read(&back).unwrap(), image);

    let (start, len) = erase;
    let out = run_sim(chip, &state, &["erase", &format!("0x{start:08X}"), &format!("0x{len:X}")]).ok();
    assert!(out.stdout.contains(&format!("-> Flash page at {start:#x} erased")), "{}", out.stdout);
    // One load of the (large) state file for all checks.
    let flash = flash_of(&state, addr, image.len());
    let (before, after) = ((start - addr) as usize, (start - addr + len) as usize);
    assert_eq!(flash[..before], image[..before], "bytes before the erased range kept");
    assert_eq!(flash[before..after], vec![0xFF; len as usize][..]);
    assert_eq!(flash[after..], image[after..], "bytes after it kept");
    assert!(after < image.len(), "the test image must extend past the erased range");

    let out = run_sim(chip, &state, &["erase"]).ok();
    assert!(out.stdout.contains("Mass erase completed successfully."), "{}", out.stdout);
    assert_eq!(flash_of(&state, addr, image.len()), vec![0xFF; image.len()]);
}

#[test]
fn l552_write_read_back_erase_range_and_mass_erase() {
    // 4 KiB across the bank boundary at 0x08040000 (dual bank, 2 KiB pages).
    binary_round_trip("l552", 0x0803_FA00, &pattern(0x1000, 1), (0x0804_0000, 0x800));
}

#[test]
fn l552_raises_the_voltage_range_and_erases_bank_relative_pages() {
    let (mut session, sim) = open_sim(SimSpec::new("l552"));
    assert_eq!(session.target.chip.name, "STM32L5x2xx");
    assert_eq!(
        session.layout.describe(),
        "512 KiB in 2 banks (bank 1 at 0x08000000: 128 × 2 KiB; bank 2 at 0x08040000: 128 × 2 KiB)"
    );
    let image = pattern(64, 2);
    let img = Image::from_binary(image.clone(), 0x0803_FFE0).unwrap();
    write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(sim.peek(0x0803_FFE0, 64).unwrap(), image);
    let log = sim.register_writes();
    // PWR_CR1.VOS (bits 10:9) to 00 = range 0, before the first key.
    let vos = log.iter().position(|&(a, v)| a == 0x4000_7000 && v & (3 << 9) == 0).expect("VOS set to range 0");
    let key = log.iter().position(|&(a, _)| a == 0x4002_2008).expect("NSKEYR written");
    assert!(vos < key);
    let nscr = writes_to(&log, TZ_NSCR);
    let last_of_bank1 = TZ_PER | 127 << 3;
    let first_of_bank2 = TZ_PER | TZ_BKER;
    assert_eq!(
        nscr,
        // Each page is erased just before it is programmed (the streaming
        // routine interleaves them; its register writes are logged too).
        vec![
            last_of_bank1,
            last_of_bank1 | TZ_STRT,
            0,
            1,
            0,
            first_of_bank2,
            first_of_bank2 | TZ_STRT,
            0,
            1,
            0,
            0,
            TZ_LOCK
        ],
        "erase page 127 of bank 1 and program 32 bytes, then page 0 of bank 2, lock"
    );
    assert_eq!(sim.stats().words, 8, "eight double words");
}

#[test]
fn l552_single_bank_mode_has_4k_pages_numbered_across_the_flash() {
    let (mut session, sim) = open_sim(spec("l552", &[("dbank", "0")]));
    assert_eq!(session.layout.banks.len(), 1);
    assert_eq!(session.layout.min_sector_size(), 4096);
    assert!(sim.poke(0x0804_1000, &[0; 16]));
    sim.clear_register_log();
    erase::erase_range(&mut session, 0x0804_1000, 0x1000, &mut NoProgress).unwrap();
    assert_eq!(sim.peek(0x0804_1000, 16).unwrap(), vec![0xFF; 16]);
    // Page 65 of the single bank, no BKER.
    assert_eq!(writes_to(&sim.register_writes(), TZ_NSCR)[0], TZ_PER | 65 << 3);
}

#[test]
fn u575_writes_across_banks_keeps_other_pages_and_mass_erases_both_banks() {
    let (mut session, sim) = open_sim(SimSpec::new("u575"));
    assert_eq!(session.layout.banks[1].base, 0x0810_0000);
    let old = pattern(0x8000, 3);
    assert!(sim.poke(0x080F_8000, &old), "bank 1 pages 124-127");
    assert!(sim.poke(0x0810_0000, &old), "bank 2 pages 0-3");
    sim.clear_register_log();
    let image = pattern(0x200, 4);
    let img = Image::from_binary(image.clone(), 0x080F_FF00).unwrap();
    let report = write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(report.erased.len(), 2);
    assert_eq!(sim.peek(0x080F_FF00, 0x200).unwrap(), image);
    // Untouched pages and the rest of both touched pages keep their bytes.
    let mut want = old.clone();
    want[0x7F00..].copy_from_slice(&image[..0x100]);
    assert_eq!(sim.peek(0x080F_8000, 0x8000).unwrap(), want);
    let mut want = old.clone();
    want[..0x100].copy_from_slice(&image[0x100..]);
    assert_eq!(sim.peek(0x0810_0000, 0x8000).unwrap(), want);
    let nscr = writes_to(&sim.register_writes(), TZ_NSCR);
    assert!(nscr.contains(&(TZ_PER | 127 << 3 | TZ_STRT)), "{nscr:X?}");
    assert!(nscr.contains(&(TZ_PER | TZ_BKER | TZ_STRT)), "{nscr:X?}");
    assert_eq!(sim.stats().erases, 2);

    sim.clear_register_log();
    erase::erase_all(&mut session, &mut NoProgress).unwrap();
    let nscr = writes_to(&sim.register_writes(), TZ_NSCR);
    assert_eq!(nscr[..3], [TZ_MER1 | TZ_MER2, TZ_MER1 | TZ_MER2 | TZ_STRT, 0]);
    assert_eq!(sim.stats().mass_erases, 2);
    assert_eq!(sim.peek(0x080F_8000, 16).unwrap(), vec![0xFF; 16]);
    assert_eq!(sim.peek(0x081F_FFF0, 16).unwrap(), vec![0xFF; 16]);
    let back = read::read(&mut session, 0x080F_FF00, 0x200, &mut NoProgress).unwrap();
    assert_eq!(back, vec![0xFF; 0x200]);
}

#[test]
fn u575_binary_round_trip() {
    binary_round_trip("u575", 0x080F_E000, &pattern(0x6000, 5), (0x0810_0000, 0x2000));
}

#[test]
fn u575_1m_bank_mode_follows_dualbank() {
    let (session, _) = open_sim(SimSpec::new("u575rg"));
    assert_eq!(session.layout.banks.len(), 2, "DUALBANK set as shipped");
    assert_eq!(session.layout.banks[1].base, 0x0808_0000);
    drop(session);
    let (mut session, sim) = open_sim(spec("u575rg", &[("dbank", "0")]));
    assert_eq!(session.layout.banks.len(), 1);
    sim.clear_register_log();
    erase::erase_range(&mut session, 0x0808_0000, 0x2000, &mut NoProgress).unwrap();
    assert_eq!(writes_to(&sim.register_writes(), TZ_NSCR)[0], TZ_PER | 64 << 3, "page 64, no BKER");
}

#[test]
fn trustzone_is_refused_and_nothing_is_erased() {
    let dir = temp_dir("tz");
    let img = write_file(&dir, "img.bin", &pattern(64, 6));
    for chip in ["l552", "u575", "h563"] {
        let state = dir.join(format!("{chip}.sim"));
        let spec = format!("{chip}:{}", state.display());
        run(&["write", &img, "0x08000000"], &[("STFLASH_SIM", &spec), ("STFLASH_SIM_OPTS", "tzen=1")])
            .fails(10, "TrustZone is enabled");
        assert_eq!(flash_of(&state, 0x0800_0000, 64), vec![0xFF; 64], "{chip}: nothing erased or written");
    }
}

#[test]
fn write_protection_is_refused_through_the_library_too() {
    let (mut session, sim) = open_sim(spec("u575", &[("wrp", "0x08102000-0x08103fff")]));
    assert!(sim.poke(0x0810_0000, &[0x11; 32]));
    let img = Image::from_binary(vec![0x22; 0x4000], 0x0810_0000).unwrap();
    let err = write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap_err();
    assert_eq!(err.exit_code(), 6, "{err}");
    assert!(err.to_string().contains("overlaps 0x08102000-0x08103FFF, write-protected by FLASH_WRP2AR"), "{err}");
    assert_eq!(sim.peek(0x0810_0000, 32).unwrap(), vec![0x11; 32], "the sector before was not erased");
}

#[test]
fn write_protected_pages_are_refused_before_anything_is_erased_in_both_banks() {
    // U575, 2 MiB in two banks of 8 KiB pages: WRP1AR counts from bank 1,
    // WRP2AR from bank 2 (RM0456 FLASH_WRPxyR).
    WrpCase {
        chip: "stm32u575zi",
        options: &[("wrp", "0x08004000-0x08005fff")],
        area: (0x0800_4000, 0x0800_6000),
        from: 0x0800_0000,
        register: "FLASH_WRP1AR (page 2 of bank 1)",
        remedy: "WRP1A_PSTRT=0x7F,WRP1A_PEND=0x00",
    }
    .check("u575-wrp-bank1");
    WrpCase {
        chip: "stm32u575zi",
        options: &[("wrp", "0x08102000-0x08103fff")],
        area: (0x0810_2000, 0x0810_4000),
        from: 0x0810_0000,
        register: "FLASH_WRP2AR (page 1 of bank 2)",
        remedy: "WRP2A_PSTRT=0x7F,WRP2A_PEND=0x00",
    }
    .check("u575-wrp-bank2");
    // L552 in dual-bank mode, 2 KiB pages (RM0438).
    WrpCase {
        chip: "stm32l552ze",
        options: &[("wrp", "0x08041000-0x080417ff")],
        area: (0x0804_1000, 0x0804_1800),
        from: 0x0804_0000,
        register: "FLASH_WRP2AR (page 2 of bank 2)",
        remedy: "WRP2A_PSTRT=0x7F,WRP2A_PEND=0x00",
    }
    .check("l552-wrp-bank2");
}

#[test]
fn h5_write_protected_sectors_are_refused_before_anything_is_erased_in_both_banks() {
    // H563: one WRPxR bit per group of four 8 KiB sectors (RM0481 FLASH_WRPxR).
    WrpCase {
        chip: "stm32h563zi",
        options: &[("wrp", "0x08008000-0x08009fff")],
        area: (0x0800_8000, 0x0801_0000),
        from: 0x0800_0000,
        register: "FLASH_WRP1R.WRPSG1 (sectors 4-7 of bank 1)",
        remedy: "WRPSG1=0xFFFFFFFF",
    }
    .check("h563-wrp-bank1");
    WrpCase {
        chip: "stm32h563zi",
        options: &[("wrp", "0x08110000-0x08111fff")],
        area: (0x0811_0000, 0x0811_8000),
        from: 0x0810_0000,
        register: "FLASH_WRP2R.WRPSG2 (sectors 8-11 of bank 2)",
        remedy: "WRPSG2=0xFFFFFFFF",
    }
    .check("h563-wrp-bank2");
}

#[test]
fn h563_is_identified_through_its_own_dbgmcu() {
    let (session, _) = open_sim(SimSpec::new("h563"));
    let t = &session.target;
    assert_eq!((t.dpidr, t.chip.name, t.dev_id(), t.rev_id()), (0x6BA0_2477, "STM32H5xx", 0x484, 0x1001));
    assert_eq!(
        session.layout.describe(),
        "2048 KiB in 2 banks (bank 1 at 0x08000000: 128 × 8 KiB; bank 2 at 0x08100000: 128 × 8 KiB)"
    );
}

/// The H563's Cortex-M33 is behind access port 1; AP0 reaches only the
/// DBGMCU (probe-rs PR #1575, on a NUCLEO-H563ZI). stflash finds it there
/// before the chip is known and does everything through it: connecting
/// (also under reset), the flash routine (core registers through DCRSR),
/// option changes that reset the chip and reconnect.
#[test]
fn h563_core_is_reached_through_access_port_1() {
    let (session, _) = open_sim(SimSpec::new("h563"));
    assert_eq!(session.target.link().ap(), 1);
    assert_eq!(session.target.chip.core_ap, 1, "the chip table agrees");
    drop(session);
    let dir = temp_dir("h563-ap1");
    let image = pattern(0x3000, 21);
    let img = write_file(&dir, "img.bin", &image);
    for (probe, fw) in [("v2", "J28"), ("v2-1", ""), ("v3", "")] {
        let state = dir.join(format!("{probe}.sim"));
        let spec = format!("stm32h563zi:{}", state.display());
        let mut env = vec![("STFLASH_SIM", spec.as_str()), ("STFLASH_SIM_PROBE", probe)];
        if !fw.is_empty() {
            env.push(("STFLASH_SIM_FIRMWARE", fw));
        }
        run(&["--connect-under-reset", "write", &img, "0x08001000"], &env).ok();
        assert_eq!(flash_of(&state, 0x0800_1000, image.len()), image, "{probe} {fw}");
        let back = dir.join(format!("{probe}.bin"));
        run(&["--no-run", "read", back.to_str().unwrap(), "0x08001000", "0x3000"], &env).ok();
        assert_eq!(std::fs::read(&back).unwrap(), image);
    }
}

#[test]
fn h563_with_probe_firmware_that_cannot_reach_ap1_is_named_and_untouched() {
    let dir = temp_dir("h563-old-fw");
    let state = dir.join("chip.sim");
    let spec = format!("stm32h563zi:{}", state.display());
    let img = write_file(&dir, "img.bin", &pattern(64, 22));
    let env = [("STFLASH_SIM", spec.as_str()), ("STFLASH_SIM_PROBE", "v2"), ("STFLASH_SIM_FIRMWARE", "J27")];
    let out = run(&["write", &img, "0x08000000"], &env)
        .fails(10, "the STM32H5xx (STM32H5, DEV_ID 0x484) has its Cortex-M core on access port 1")
        .fails(10, "probe firmware V2J27S7 cannot reach")
        .fails(10, "V2J28 or newer")
        .fails(10, "STSW-LINK007");
    assert!(!out.stderr.contains("lowering the SWD clock"), "not a link problem:\n{}", out.stderr);
    assert_eq!(flash_of(&state, 0x0800_0000, 64), vec![0xFF; 64]);
    // A part with its core on AP0 works with that firmware.
    let f103 = format!("stm32f103c8:{}", dir.join("f103.sim").display());
    run(&["write", &img, "0x08000000"], &[("STFLASH_SIM", &f103), ("STFLASH_SIM_FIRMWARE", "J27")]).ok();
}

#[test]
fn h563_binary_round_trip() {
    binary_round_trip("h563", 0x080F_E000, &pattern(0x6000, 7), (0x0810_0000, 0x2000));
}

#[test]
fn h563_register_sequence_uses_the_h5_map() {
    let (mut session, sim) = open_sim(SimSpec::new("h563"));
    sim.clear_register_log();
    let image = pattern(0x40, 8);
    let img = Image::from_binary(image.clone(), 0x080F_FFE0).unwrap();
    write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(sim.peek(0x080F_FFE0, 0x40).unwrap(), image);
    let log = sim.register_writes();
    assert_eq!(writes_to(&log, H5_NSKEYR), vec![0x4567_0123, 0xCDEF_89AB], "one key sequence");
    let sector127 = H5_SER | 127 << 6;
    let sector0_bank2 = H5_SER | H5_BKSEL;
    assert_eq!(
        writes_to(&log, H5_NSCR),
        // Each sector is erased just before it is programmed (streaming routine).
        vec![
            sector127,
            sector127 | H5_STRT,
            0,
            H5_PG,
            0,
            sector0_bank2,
            sector0_bank2 | H5_STRT,
            0,
            H5_PG,
            0,
            0,
            H5_LOCK
        ]
    );
    // Flags are cleared in NSCCR (EOP is bit 16), never by writing NSSR.
    assert!(writes_to(&log, H5_NSCCR).contains(&(1 << 16)));
    assert!(writes_to(&log, 0x4002_2020).is_empty());

    sim.clear_register_log();
    erase::erase_all(&mut session, &mut NoProgress).unwrap();
    assert_eq!(writes_to(&sim.register_writes(), H5_NSCR)[..2], [H5_MER, H5_MER | H5_STRT]);
    assert_eq!(sim.peek(0x080F_FFE0, 0x40).unwrap(), vec![0xFF; 0x40]);
}

#[test]
fn h563_with_swapped_banks_erases_the_physical_bank_behind_the_address() {
    let (mut session, sim) = open_sim(spec("h563", &[("swap", "1")]));
    assert!(sim.poke(0x0810_0000, &[0x33; 16]));
    sim.clear_register_log();
    let img = Image::from_binary(pattern(32, 9), 0x0800_0000).unwrap();
    write::write(&mut session, &img, &write::WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(sim.peek(0x0800_0000, 32).unwrap(), pattern(32, 9));
    assert_eq!(sim.peek(0x0810_0000, 16).unwrap(), vec![0x33; 16], "the other bank untouched");
    assert_eq!(writes_to(&sim.register_writes(), H5_NSCR)[0], H5_SER | H5_BKSEL, "0x08000000 is physical bank 2");
}

#[test]
fn closed_products_and_rdp_level1_refuse_flash_access() {
    let dir = temp_dir("rdp");
    let out = dir.join("out.bin");
    for chip in ["h563", "l552"] {
        let state = dir.join(format!("{chip}.sim"));
        let spec = format!("{chip}:{}", state.display());
        run(
            &["read", out.to_str().unwrap(), "0x08000000", "16"],
            &[("STFLASH_SIM", &spec), ("STFLASH_SIM_OPTS", "rdp=1")],
        )
        .fails(6, "read-protected (RDP level 1)");
    }
}

#[test]
fn debugger_reads_of_protected_flash_fault_on_the_bus() {
    for chip in ["l552", "u575", "h563"] {
        let (mut session, _) = open_sim(spec(chip, &[("rdp", "1")]));
        assert!(session.target.read32(0x0800_0000).is_err(), "{chip}: flash read under protection");
        assert!(session.target.read32(0x2000_0000).is_ok(), "{chip}: SRAM stays readable");
        let (mut open, _) = open_sim(SimSpec::new(chip));
        assert_eq!(open.target.read32(0x0800_0000).unwrap(), 0xFFFF_FFFF, "{chip}: erased flash readable at level 0");
    }
}
