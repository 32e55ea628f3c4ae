//! End to end on the simulated F2, F4 and F7 (sector-type flash): the binary
//! and the library against FsModel, one representative part of each sub-series
//! and both bank modes where the part has them.

use crate::common::{open_sim, pattern, prefill, run, run_sim, temp_dir, Snapshot, WrpCase};
use stflash::flash::NoProgress;
use stflash::ops::erase::{erase_all, erase_range};
use stflash::ops::image::Image;
use stflash::ops::write::{write, WriteOptions};
use stflash_sim::{self as sim, SimSpec};

const OLD: [u8; 16] = [0x5A; 16];
const KIB: u32 = 1024;

fn spec(chip: &str, opts: &str) -> SimSpec {
    let mut s = SimSpec::new(chip);
    s.options = sim::parse_options(opts).unwrap();
    s
}

fn hex(v: u32) -> String {
    format!("0x{v:08X}")
}

/// One part's scenario. The image starts inside sector `first` and ends
/// inside the next one (which may be in bank 2); `before` and `after` are the
/// sectors around those two.
struct Case {
    chip: &'static str,
    opts: &'static str,
    at: u32,
    len: usize,
    before: u32,
    first: u32,
    after: (u32, u32),
    flash_end: u32,
}

impl Case {
    fn end(&self) -> u32 {
        self.at + self.len as u32
    }

    fn run(&self) {
        let dir = temp_dir(self.chip);
        let kept = self.end() + 8; // in the last touched sector, outside the image
        let last = self.flash_end - 16;
        let mut fills = vec![self.before, self.after.0, kept, self.at, last];
        if self.before > 0x0800_0000 {
            fills.push(0x0800_0000);
        }
        let state = prefill(self.chip, &dir, self.opts, &fills.iter().map(|&a| (a, &OLD[..])).collect::<Vec<_>>());

        let image = pattern(self.len, self.at);
        let file = dir.join("image.bin");
        std::fs::write(&file, &image).unwrap();
        let r = run_sim(self.chip, &state, &["write", file.to_str().unwrap(), &hex(self.at)]).ok();
        assert!(r.stderr.contains("Flash written and verified"), "{}", r.stderr);
        assert!(r.stderr.contains("2 sectors erased"), "{}", r.stderr);
        let flash = Snapshot::of(&state);
        assert_eq!(flash.peek(self.at, self.len), image, "image in flash");
        // Only the two touched sectors were erased.
        for &addr in &fills[..] {
            if addr != self.at {
                assert_eq!(flash.peek(addr, 16), OLD, "kept at 0x{addr:08X}");
            }
        }
        assert_eq!(flash.peek(self.first, 16), [0xFF; 16], "start of the first touched sector erased");

        let out = dir.join("out.bin");
        run_sim(self.chip, &state, &["read", out.to_str().unwrap(), &hex(self.at), &self.len.to_string()]).ok();
        assert_eq!(std::fs::read(&out).unwrap(), image, "read back");

        // Erase the sector after the image: it alone changes.
        run_sim(self.chip, &state, &["erase", &hex(self.after.0), &hex(self.after.1)]).ok();
        let flash = Snapshot::of(&state);
        assert_eq!(flash.peek(self.after.0, 16), [0xFF; 16]);
        assert_eq!(flash.peek(self.before, 16), OLD);
        assert_eq!(flash.peek(kept, 16), OLD);
        assert_eq!(flash.peek(self.at, self.len), image);

        let r = run_sim(self.chip, &state, &["erase"]).ok();
        assert!(r.stdout.contains("Mass erase completed"), "{}", r.stdout);
        let flash = Snapshot::of(&state);
        for addr in [self.before, self.at, kept, last, 0x0800_0000] {
            assert_eq!(flash.peek(addr, 16), [0xFF; 16], "mass-erased at 0x{addr:08X}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn f207_sectors_3_and_4() {
    Case {
        chip: "stm32f207zg",
        opts: "",
        at: 0x0800_F800,
        len: 4096,
        before: 0x0800_8000,
        first: 0x0800_C000,
        after: (0x0802_0000, 128 * KIB),
        flash_end: 0x0810_0000,
    }
    .run();
}

#[test]
fn f401_sectors_4_and_5() {
    Case {
        chip: "stm32f401re",
        opts: "",
        at: 0x0801_FC00,
        len: 3072,
        before: 0x0800_C000,
        first: 0x0801_0000,
        after: (0x0804_0000, 128 * KIB),
        flash_end: 0x0808_0000,
    }
    .run();
}

#[test]
fn f410_sectors_2_and_3() {
    Case {
        chip: "stm32f410rb",
        opts: "",
        at: 0x0800_BE00,
        len: 2048,
        before: 0x0800_4000,
        first: 0x0800_8000,
        after: (0x0801_0000, 64 * KIB),
        flash_end: 0x0802_0000,
    }
    .run();
}

#[test]
fn f411_sectors_1_and_2() {
    Case {
        chip: "stm32f411re",
        opts: "",
        at: 0x0800_7E00,
        len: 2048,
        before: 0x0800_0000,
        first: 0x0800_4000,
        after: (0x0800_C000, 16 * KIB),
        flash_end: 0x0808_0000,
    }
    .run();
}

#[test]
fn f413_sectors_11_and_12_above_1mib() {
    // Sector 12 at 0x08100000 is SNB 12 in a 4-bit field; sector 0 must survive
    // (st-flash 1.8.0 erases it: stlink `src/stlink-lib/calculate.c`
    // calculate_F4_sectornum treats 1 MiB and up as a second bank).
    Case {
        chip: "stm32f413zh",
        opts: "",
        at: 0x080F_F000,
        len: 8192,
        before: 0x080C_0000,
        first: 0x080E_0000,
        after: (0x0812_0000, 128 * KIB),
        flash_end: 0x0818_0000,
    }
    .run();
}

#[test]
fn f429_image_crossing_into_bank_2() {
    // 4 KiB each side of 0x08100000: bank 1 sector 11, bank 2 sector 12 (SNB 16).
    Case {
        chip: "stm32f429zi",
        opts: "",
        at: 0x080F_F000,
        len: 8192,
        before: 0x080C_0000,
        first: 0x080E_0000,
        after: (0x0810_4000, 16 * KIB),
        flash_end: 0x0820_0000,
    }
    .run();
}

#[test]
fn f446_sectors_5_and_6() {
    Case {
        chip: "stm32f446re",
        opts: "",
        at: 0x0803_FF00,
        len: 2048,
        before: 0x0801_0000,
        first: 0x0802_0000,
        after: (0x0806_0000, 128 * KIB),
        flash_end: 0x0808_0000,
    }
    .run();
}

#[test]
fn f746_sectors_3_and_4() {
    Case {
        chip: "stm32f746zg",
        opts: "",
        at: 0x0801_FC00,
        len: 3072,
        before: 0x0801_0000,
        first: 0x0801_8000,
        after: (0x0804_0000, 256 * KIB),
        flash_end: 0x0810_0000,
    }
    .run();
}

#[test]
fn f767_single_bank_256k_sectors() {
    Case {
        chip: "stm32f767zi",
        opts: "ndbank=1",
        at: 0x080F_F000,
        len: 8192,
        before: 0x0808_0000,
        first: 0x080C_0000,
        after: (0x0814_0000, 256 * KIB),
        flash_end: 0x0820_0000,
    }
    .run();
}

#[test]
fn f767_dual_bank_crossing_into_bank_2() {
    Case {
        chip: "stm32f767zi",
        opts: "ndbank=0",
        at: 0x080F_F000,
        len: 8192,
        before: 0x080C_0000,
        first: 0x080E_0000,
        after: (0x0810_4000, 16 * KIB),
        flash_end: 0x0820_0000,
    }
    .run();
}

/// FLASH_CR values the driver wrote.
fn cr_writes(h: &sim::SimHandle) -> Vec<u32> {
    h.register_writes().iter().filter(|w| w.0 == 0x4002_3C10).map(|w| w.1).collect()
}

/// SNB of every sector erase (CR with SER bit 1 and STRT bit 16).
fn erased_snbs(h: &sim::SimHandle) -> Vec<u32> {
    cr_writes(h).iter().filter(|&&cr| cr & (1 << 1 | 1 << 16) == (1 << 1 | 1 << 16)).map(|cr| cr >> 3 & 0x1F).collect()
}

#[test]
fn psize_follows_the_measured_voltage() {
    // RM0090 Table 13: x8 below 2.1 V, x16 below 2.7 V, x32 above.
    for (mv, psize, width) in [(1800usize, 0u32, 1usize), (2500, 1, 2), (3300, 2, 4)] {
        let (mut s, h) = open_sim(spec("stm32f411re", &format!("voltage={mv}")));
        // Old data: the sector must be erased (a blank one is programmed as it is).
        assert!(h.poke(0x0800_4000, &OLD));
        let image = Image::from_binary(pattern(256, mv as u32), 0x0800_4000).unwrap();
        write(&mut s, &image, &WriteOptions::default(), &mut NoProgress).unwrap();
        assert_eq!(h.peek(0x0800_4000, 256).unwrap(), pattern(256, mv as u32), "{mv} mV");
        // One programming operation per PSIZE-wide unit (all-0xFF units are skipped).
        let units = pattern(256, mv as u32).chunks(width).filter(|u| u.iter().any(|&b| b != 0xFF)).count();
        assert_eq!(h.stats().words, units as u64, "{mv} mV");
        let crs = cr_writes(&h);
        // The erase and the programming both carry PSIZE (bits 8-9).
        assert!(crs.contains(&(0x2 | 1 << 3 | psize << 8 | 1 << 16)), "{mv} mV: {crs:x?}");
        assert!(crs.contains(&(0x1 | psize << 8)), "{mv} mV: {crs:x?}");
    }
}

#[test]
fn a_blank_sector_is_programmed_without_an_erase_and_verified_by_crc() {
    // F4 flash has no ECC: blank units take data as they are, so a sector
    // the CRC shows blank is not erased (saving its 250 ms-1 s).
    let (mut s, h) = open_sim(SimSpec::new("stm32f411re"));
    let image = Image::from_binary(pattern(4096, 6), 0x0802_0000).unwrap();
    let report = write(&mut s, &image, &WriteOptions::default(), &mut NoProgress).unwrap();
    assert!(report.erased.is_empty(), "{:?}", report.erased);
    assert_eq!(h.stats().erases, 0);
    assert_eq!(report.verify_method, Some("crc-peripheral"));
    assert_eq!(h.peek(0x0802_0000, 4096).unwrap(), pattern(4096, 6));
    assert!(h.stats().bytes_in < 1024, "no read-back: {} bytes in", h.stats().bytes_in);
}

#[test]
fn f429_bank2_sectors_and_mass_erase_of_both_banks() {
    let (mut s, h) = open_sim(SimSpec::new("stm32f429zi"));
    assert_eq!(s.layout.banks.len(), 2);
    assert_eq!(s.layout.banks[1].base, 0x0810_0000);
    assert!(h.poke(0x0812_0000, &OLD));
    let image = Image::from_binary(pattern(64, 4), 0x0812_0000).unwrap();
    write(&mut s, &image, &WriteOptions::default(), &mut NoProgress).unwrap();
    // Bank 2 sector 5 (0x08120000) is SNB 0b10101 (RM0090 §3.9.8).
    assert_eq!(erased_snbs(&h), vec![0x15]);
    h.poke(0x0800_0000, &OLD);
    h.clear_register_log();
    erase_all(&mut s, &mut NoProgress).unwrap();
    // MER bit 2 and MER1 bit 15 together, PSIZE x32, STRT.
    assert!(cr_writes(&h).contains(&(0x4 | 1 << 15 | 2 << 8 | 1 << 16)), "{:x?}", cr_writes(&h));
    assert_eq!((h.peek(0x0800_0000, 16).unwrap(), h.peek(0x0812_0000, 4).unwrap()), (vec![0xFF; 16], vec![0xFF; 4]));
    assert_eq!(cr_writes(&h).last(), Some(&(1 << 31)), "locked at the end");
}

#[test]
fn f429_1mib_db1m_selects_the_dual_bank_map() {
    // DB1M = 0: one bank, sector 8 is the 128 KiB at 0x08080000.
    let (mut s, h) = open_sim(spec("stm32f429zg", "db1m=0"));
    assert_eq!(s.layout.banks.len(), 1);
    assert!(h.poke(0x0808_0000, &OLD));
    let image = Image::from_binary(pattern(64, 5), 0x0808_0000).unwrap();
    write(&mut s, &image, &WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(erased_snbs(&h), vec![8]);
    // DB1M = 1: two banks of 512 KiB, 0x08080000 is bank 2 sector 0 (SNB 16).
    let (mut s, h) = open_sim(spec("stm32f429zg", "db1m=1"));
    assert_eq!(s.layout.banks.len(), 2);
    assert_eq!(s.layout.banks[1].base, 0x0808_0000);
    assert_eq!(s.layout.banks[1].sector_count(), 8);
    h.poke(0x0808_4000, &OLD);
    h.poke(0x0808_0000, &OLD);
    write(&mut s, &image, &WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(erased_snbs(&h), vec![0x10]);
    assert_eq!(h.peek(0x0808_0000, 64).unwrap(), pattern(64, 5));
    assert_eq!(h.peek(0x0808_4000, 16).unwrap(), OLD, "bank 2 sector 1 (16 KiB) untouched");
}

#[test]
fn f767_bank_mode_changes_map_and_sector_numbers() {
    let (s, _h) = open_sim(spec("stm32f767zi", "ndbank=1"));
    assert_eq!(s.layout.banks[0].runs, vec![(4, 32 * KIB), (1, 128 * KIB), (7, 256 * KIB)]);
    assert!(s.connect_line().contains("2048 KiB flash in at least 32 KiB pages"), "{}", s.connect_line());
    let (mut s, h) = open_sim(spec("stm32f767zi", "ndbank=0"));
    assert_eq!(s.layout.banks.len(), 2);
    assert_eq!(s.layout.banks[1].runs, vec![(4, 16 * KIB), (1, 64 * KIB), (7, 128 * KIB)]);
    let report = erase_range(&mut s, 0x0810_0000, 0x8000, &mut NoProgress).unwrap();
    assert_eq!(report.sectors.len(), 2);
    assert_eq!(erased_snbs(&h), vec![0x10, 0x11]);
}

#[test]
fn f413_high_sectors_do_not_touch_sector_0() {
    let (mut s, h) = open_sim(SimSpec::new("stm32f413zh"));
    assert_eq!(s.layout.banks[0].sector_count(), 16);
    h.poke(0x0800_0000, &OLD);
    let report = erase_range(&mut s, 0x0816_0000, 0x2_0000, &mut NoProgress).unwrap();
    assert_eq!(report.sectors[0].index, 15);
    assert_eq!(erased_snbs(&h), vec![15]);
    assert_eq!(h.peek(0x0800_0000, 16).unwrap(), OLD);
}

#[test]
fn f410_has_only_five_sectors() {
    let (mut s, h) = open_sim(SimSpec::new("stm32f410rb"));
    assert_eq!(s.layout.banks[0].runs, vec![(4, 16 * KIB), (1, 64 * KIB)]);
    h.poke(0x0801_0000, &OLD);
    h.poke(0x0801_FFF0, &OLD);
    erase_range(&mut s, 0x0801_0000, 0x1_0000, &mut NoProgress).unwrap();
    assert_eq!(erased_snbs(&h), vec![4]);
    assert_eq!(h.peek(0x0801_FFF0, 16).unwrap(), [0xFF; 16], "sector 4 is 64 KiB");
    let e = erase_range(&mut s, 0x0802_0000, 0x4000, &mut NoProgress).unwrap_err();
    assert!(e.to_string().contains("not in flash"), "{e}");
}

#[test]
fn an_image_erases_only_the_sectors_it_touches() {
    let (mut s, h) = open_sim(SimSpec::new("stm32f401re"));
    let starts: Vec<u32> = s.layout.sectors().iter().map(|s| s.addr).collect();
    for &a in &starts {
        h.poke(a + 0x100, &OLD);
    }
    // 2 KiB across the sector 1/2 boundary at 0x08008000.
    let image = Image::from_binary(pattern(2048, 8), 0x0800_7C00).unwrap();
    let report = write(&mut s, &image, &WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(report.erased.iter().map(|s| s.index).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(h.stats().erases, 2);
    for &a in &starts {
        // The old bytes at +0x100 survive: untouched sectors were not erased,
        // sector 1 got them back (kept bytes), sector 2 has the image there.
        let want = if a == 0x0800_8000 { pattern(2048, 8)[0x500..0x510].to_vec() } else { OLD.to_vec() };
        assert_eq!(h.peek(a + 0x100, 16).unwrap(), want, "sector at 0x{a:08X}");
    }
    assert_eq!(h.peek(0x0800_7C00, 2048).unwrap(), pattern(2048, 8));
}

#[test]
fn write_protected_sectors_are_refused_before_anything_is_erased_in_both_banks() {
    // F429ZI, 2 MiB in two banks: bank 1 sector 2 is OPTCR.nWRP2, bank 2
    // sector 13 is OPTCR1.nWRP1 (RM0090 §3.9.10-11).
    WrpCase {
        chip: "stm32f429zi",
        options: &[("wrp", "0x08008000-0x0800bfff")],
        area: (0x0800_8000, 0x0800_C000),
        from: 0x0800_0000,
        register: "FLASH_OPTCR.nWRP (sector 2)",
        remedy: "nWRP=0xFFF",
    }
    .check("f429-wrp-bank1");
    WrpCase {
        chip: "stm32f429zi",
        options: &[("wrp", "0x08104000-0x08107fff")],
        area: (0x0810_4000, 0x0810_8000),
        from: 0x0810_0000,
        register: "FLASH_OPTCR1.nWRP_12 (sector 13)",
        remedy: "nWRP_12=0xFFF",
    }
    .check("f429-wrp-bank2");
    // F767 in dual-bank mode: one nWRP bit per two sectors (bank 1 sectors 2-3).
    WrpCase {
        chip: "stm32f767zi",
        options: &[("ndbank", "0"), ("wrp", "0x08008000-0x08008fff")],
        area: (0x0800_8000, 0x0801_0000),
        from: 0x0800_0000,
        register: "FLASH_OPTCR.nWRP (sectors 2-3, dual-bank numbering)",
        remedy: "nWRP=0xFFF",
    }
    .check("f767-wrp-dual");
}

#[test]
fn read_protected_chip_is_refused_with_exit_code_6() {
    let dir = temp_dir("f746-rdp");
    let state = prefill("stm32f746zg", &dir, "rdp=1", &[]);
    let out = dir.join("out.bin");
    run_sim("stm32f746zg", &state, &["read", out.to_str().unwrap(), "0x08000000", "64"]).fails(6, "read-protected");
    let file = dir.join("image.bin");
    std::fs::write(&file, pattern(64, 3)).unwrap();
    run_sim("stm32f746zg", &state, &["write", file.to_str().unwrap(), "0x08000000"]).fails(6, "read-protected");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn connect_lines_name_the_corrected_maps() {
    for (chip, line) in [
        ("stm32f410rb", "STM32F410: 32 KiB SRAM, 128 KiB flash in at least 16 KiB pages."),
        ("stm32f429zi", "STM32F42x_F43x: 192 KiB SRAM, 2048 KiB flash in at least 16 KiB pages."),
        ("stm32f746zg", "STM32F74x_F75x: 320 KiB SRAM, 1024 KiB flash in at least 32 KiB pages."),
    ] {
        let (s, _h) = open_sim(SimSpec::new(chip));
        assert_eq!(s.connect_line(), line);
    }
}

#[test]
fn unknown_voltage_programs_bytes_with_a_warning() {
    // ST-LINK/V2 before J13 cannot measure the target voltage: x8 is the one
    // parallelism that is safe at every supply (RM0090 §3.6.2).
    let dir = temp_dir("f411-novolt");
    let state = dir.join("chip.sim");
    let file = dir.join("image.bin");
    std::fs::write(&file, pattern(64, 11)).unwrap();
    let spec = format!("stm32f411re:{}", state.display());
    let env = [("STFLASH_SIM", spec.as_str()), ("STFLASH_SIM_PROBE", "v2"), ("STFLASH_SIM_FIRMWARE", "12")];
    let r = run(&["write", file.to_str().unwrap(), "0x08000000"], &env).ok();
    assert!(r.stderr.contains("cannot measure the target voltage") && r.stderr.contains("PSIZE x8"), "{}", r.stderr);
    assert_eq!(Snapshot::of(&state).peek(0x0800_0000, 64), pattern(64, 11));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn x16_programs_through_the_routine_even_without_16bit_probe_writes() {
    // At 2.5 V the F4 programs half-words: ST-LINK/V2 J22 cannot write them
    // over SWD, but the flash routine writes them on the target.
    let dir = temp_dir("f411-x16-j22");
    let state = prefill("stm32f411re", &dir, "voltage=2500", &[(0x0800_0000, &OLD[..])]);
    let file = dir.join("image.bin");
    let image = pattern(64, 12);
    std::fs::write(&file, &image).unwrap();
    let spec = format!("stm32f411re:{}", state.display());
    let env = [
        ("STFLASH_SIM", spec.as_str()),
        ("STFLASH_SIM_PROBE", "v2"),
        ("STFLASH_SIM_FIRMWARE", "22"),
        ("STFLASH_SIM_OPTS", "voltage=2500"),
    ];
    run(&["write", file.to_str().unwrap(), "0x08000000"], &env).ok();
    assert_eq!(Snapshot::of(&state).peek(0x0800_0000, 64), image);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn x16_host_programming_needs_16bit_writes_from_the_probe() {
    let mut sp = spec("stm32f411re", "voltage=2500");
    sp.probe = stflash_sim::SimProbeKind::V2;
    sp.firmware = Some(22);
    let (mut s, h) = open_sim(sp);
    assert!(h.poke(0x0800_0000, &OLD));
    let image = Image::from_binary(pattern(64, 12), 0x0800_0000).unwrap();
    let e = write(&mut s, &image, &WriteOptions { fast: false, ..Default::default() }, &mut NoProgress).unwrap_err();
    assert!(e.message.contains("16-bit writes"), "{}", e.message);
    assert_eq!(h.peek(0x0800_0000, 16).unwrap(), OLD, "nothing erased");
}

#[test]
fn a_write_of_the_wrong_width_is_decoded_as_pgperr() {
    // Set up programming at 1.8 V (PSIZE x8) and write a word anyway: the
    // controller refuses it; the engine names the flag and clears it.
    let (mut s, h) = open_sim(spec("stm32f411re", "voltage=1800"));
    let ctrl = s.flash.as_mut().unwrap();
    ctrl.unlock(&mut s.target, 0).unwrap();
    let setup = ctrl.program_setup_ops(0);
    stflash::flash::engine::run_ops(&mut s.target, ctrl.as_ref(), &setup, "setup").unwrap();
    s.target.write_mem(0x0800_0000, &[1, 2, 3, 4]).unwrap();
    let sr = s.target.read32(0x4002_3C0C).unwrap();
    let e = stflash::flash::engine::check_errors(&mut s.target, ctrl.as_ref(), 0, sr, "programming").unwrap_err();
    assert!(e.to_string().contains("PGPERR (the access width does not match"), "{e}");
    assert_eq!(s.target.read32(0x4002_3C0C).unwrap(), 0, "cleared");
    assert_eq!(h.peek(0x0800_0000, 4).unwrap(), [0xFF; 4]);
}
