//! End to end on the simulated F0, F1 and F3 (page-type flash): the binary
//! and the library against FpModel, one representative part of each density.

use crate::common::{open_sim, pattern, prefill, run, run_sim, temp_dir, Snapshot, WrpCase};
use stflash::flash::NoProgress;
use stflash::ops::erase::erase_range;
use stflash::ops::image::Image;
use stflash::ops::write::{write, WriteOptions};
use stflash_sim::SimSpec;

const OLD: [u8; 16] = [0x5A; 16];

fn hex(v: u32) -> String {
    format!("0x{v:08X}")
}

/// One part's scenario: an image from `at` (mid-page) across page boundaries
/// (and banks where `at + len` lies in bank 2); `page` is the page size.
struct Case {
    chip: &'static str,
    at: u32,
    len: usize,
    page: u32,
    flash_end: u32,
}

impl Case {
    fn first_page(&self) -> u32 {
        self.at - (self.at - 0x0800_0000) % self.page
    }
    fn end(&self) -> u32 {
        self.at + self.len as u32
    }
    fn last_page(&self) -> u32 {
        self.end() - 1 - (self.end() - 1 - 0x0800_0000) % self.page
    }

    /// write (an image over old data), verify, read back, erase one page,
    /// mass erase: each checked on the flash contents.
    fn run(&self) {
        let dir = temp_dir(self.chip);
        let before = self.first_page() - self.page; // the page before the image
        let after = self.last_page() + self.page; // the page after it
        let kept = self.end() + 8; // in the image's last page, outside the image
        let under = self.at; // old data the image overwrites: needs the erase
        let last = self.flash_end - 16;
        let state = prefill(
            self.chip,
            &dir,
            "",
            &[(before, &OLD[..]), (after, &OLD[..]), (kept, &OLD[..]), (under, &OLD[..]), (last, &OLD[..])],
        );

        let image = pattern(self.len, self.at);
        let file = dir.join("image.bin");
        std::fs::write(&file, &image).unwrap();
        let r = run_sim(self.chip, &state, &["write", file.to_str().unwrap(), &hex(self.at)]).ok();
        assert!(r.stderr.contains("Flash written and verified"), "{}", r.stderr);
        let flash = Snapshot::of(&state);
        assert_eq!(flash.peek(self.at, self.len), image, "image in flash");
        // Only the touched pages were erased: the neighbours keep their bytes,
        // and so do the bytes of the last page that the image does not cover.
        for (what, addr) in [("page before", before), ("page after", after), ("kept bytes", kept), ("end", last)] {
            assert_eq!(flash.peek(addr, 16), OLD, "{what} at 0x{addr:08X}");
        }
        // The rest of the first page was erased (it held nothing).
        assert_eq!(flash.peek(self.first_page(), 4), [0xFF; 4]);

        let out = dir.join("out.bin");
        run_sim(self.chip, &state, &["read", out.to_str().unwrap(), &hex(self.at), &self.len.to_string()]).ok();
        assert_eq!(std::fs::read(&out).unwrap(), image, "read back");

        // Erase the page after: it alone changes.
        run_sim(self.chip, &state, &["erase", &hex(after), &hex(self.page)]).ok();
        let flash = Snapshot::of(&state);
        assert_eq!(flash.peek(after, 16), [0xFF; 16]);
        assert_eq!(flash.peek(before, 16), OLD);
        assert_eq!(flash.peek(self.at, self.len), image);

        let r = run_sim(self.chip, &state, &["erase"]).ok();
        assert!(r.stdout.contains("Mass erase completed"), "{}", r.stdout);
        let flash = Snapshot::of(&state);
        for addr in [before, self.at, kept, self.end() - 16, last] {
            assert_eq!(flash.peek(addr, 16), [0xFF; 16], "mass-erased at 0x{addr:08X}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn f030_1k_pages() {
    Case { chip: "stm32f030f4", at: 0x0800_0A00, len: 1600, page: 1024, flash_end: 0x0800_4000 }.run();
}

#[test]
fn f072_2k_pages() {
    Case { chip: "stm32f072rb", at: 0x0800_3300, len: 3000, page: 2048, flash_end: 0x0802_0000 }.run();
}

#[test]
fn f103_medium_density() {
    Case { chip: "stm32f103c8", at: 0x0800_0C40, len: 2500, page: 1024, flash_end: 0x0801_0000 }.run();
}

#[test]
fn f103_high_density() {
    Case { chip: "stm32f103ze", at: 0x0804_E100, len: 5000, page: 2048, flash_end: 0x0808_0000 }.run();
}

#[test]
fn f103_xl_image_across_both_banks() {
    // 3 KiB each side of 0x08080000: bank 1 (FLASH_CR) and bank 2 (FLASH_CR2).
    Case { chip: "stm32f103zg", at: 0x0807_F400, len: 6144, page: 2048, flash_end: 0x0810_0000 }.run();
}

#[test]
fn f303_2k_pages() {
    Case { chip: "stm32f303vc", at: 0x0800_1F00, len: 2600, page: 2048, flash_end: 0x0804_0000 }.run();
}

fn writes_to(log: &[(u32, u32)], addr: u32) -> Vec<u32> {
    log.iter().filter(|w| w.0 == addr).map(|w| w.1).collect()
}

#[test]
fn xl_bank2_goes_through_its_own_registers_and_mass_erase_covers_both() {
    let (mut s, h) = open_sim(SimSpec::new("stm32f103zg"));
    assert_eq!(s.layout.banks.len(), 2);
    assert_eq!((s.layout.banks[1].base, s.layout.banks[1].size()), (0x0808_0000, 512 * 1024));
    // Old data in the page: it must be erased (a blank page would just be programmed).
    assert!(h.poke(0x0808_0800, &pattern(64, 2)));
    let image = Image::from_binary(pattern(64, 1), 0x0808_0800).unwrap();
    write(&mut s, &image, &WriteOptions::default(), &mut NoProgress).unwrap();
    let log = h.register_writes();
    // KEYR2 took the keys, AR2 the page, CR2 PER, PER|STRT, 0, PG, 0, LOCK (PM0068).
    assert_eq!(writes_to(&log, 0x4002_2044), vec![0x4567_0123, 0xCDEF_89AB]);
    assert_eq!(writes_to(&log, 0x4002_2054), vec![0x0808_0800]);
    assert!(
        writes_to(&log, 0x4002_2050).starts_with(&[0x2, 0x42, 0, 0x1, 0, 0x80]),
        "{:x?}",
        writes_to(&log, 0x4002_2050)
    );
    // Bank 1 was neither unlocked nor erased.
    assert!(writes_to(&log, 0x4002_2004).is_empty() && writes_to(&log, 0x4002_2014).is_empty());
    assert_eq!(h.peek(0x0808_0800, 64).unwrap(), pattern(64, 1));

    h.poke(0x0800_0000, &OLD);
    h.clear_register_log();
    stflash::ops::erase::erase_all(&mut s, &mut NoProgress).unwrap();
    let log = h.register_writes();
    assert!(writes_to(&log, 0x4002_2010).contains(&0x44), "MER|STRT in FLASH_CR");
    assert!(writes_to(&log, 0x4002_2050).contains(&0x44), "MER|STRT in FLASH_CR2");
    assert_eq!(h.stats().mass_erases, 2);
    assert_eq!((h.peek(0x0800_0000, 16).unwrap(), h.peek(0x0808_0800, 4).unwrap()), (vec![0xFF; 16], vec![0xFF; 4]));
    // Both register sets are locked again.
    assert_eq!((writes_to(&log, 0x4002_2010).last(), writes_to(&log, 0x4002_2050).last()), (Some(&0x80), Some(&0x80)));
}

#[test]
fn an_image_erases_only_the_pages_it_touches() {
    // Library path: every page but the two the image touches holds old data.
    let (mut s, h) = open_sim(SimSpec::new("stm32f103c8"));
    for page in (0x0800_0000..0x0801_0000u32).step_by(1024) {
        h.poke(page, &OLD);
    }
    let image = Image::from_binary(pattern(1024, 7), 0x0800_2200).unwrap();
    let report = write(&mut s, &image, &WriteOptions::default(), &mut NoProgress).unwrap();
    let erased: Vec<u32> = report.erased.iter().map(|s| s.addr).collect();
    assert_eq!(erased, vec![0x0800_2000, 0x0800_2400]);
    assert_eq!(h.stats().erases, 2);
    let data = pattern(1024, 7);
    for page in (0x0800_0000..0x0801_0000u32).step_by(1024) {
        let want = match page {
            // Old data kept below the image in the first touched page.
            0x0800_2000 => OLD.to_vec(),
            // The image covers the start of the second touched page.
            0x0800_2400 => data[0x200..0x210].to_vec(),
            _ => OLD.to_vec(),
        };
        assert_eq!(h.peek(page, 16).unwrap(), want, "page 0x{page:08X}");
    }
    assert_eq!(h.peek(0x0800_2200, 1024).unwrap(), data);
    // Half-words only: one programming operation per 2 bytes.
    assert_eq!(h.stats().words, 512 + 8);
}

#[test]
fn erase_range_touches_only_its_pages() {
    let (mut s, h) = open_sim(SimSpec::new("stm32f072rb"));
    for page in [0x0800_0000u32, 0x0800_0800, 0x0800_1000, 0x0800_1800] {
        h.poke(page, &OLD);
    }
    let report = erase_range(&mut s, 0x0800_0800, 0x1000, &mut NoProgress).unwrap();
    assert_eq!(report.sectors.len(), 2);
    assert_eq!(h.peek(0x0800_0000, 16).unwrap(), OLD);
    assert_eq!(h.peek(0x0800_0800, 16).unwrap(), [0xFF; 16]);
    assert_eq!(h.peek(0x0800_1000, 16).unwrap(), [0xFF; 16]);
    assert_eq!(h.peek(0x0800_1800, 16).unwrap(), OLD);
    // FLASH_AR got each page; EOP (bit 5) was cleared after each.
    let log = h.register_writes();
    assert_eq!(writes_to(&log, 0x4002_2014), vec![0x0800_0800, 0x0800_1000]);
    assert_eq!(writes_to(&log, 0x4002_200C), vec![0x20, 0x20]);
    // A range that is not whole pages is refused before anything is erased.
    let e = erase_range(&mut s, 0x0800_0800, 0x400, &mut NoProgress).unwrap_err();
    assert!(e.to_string().contains("sector boundaries"), "{e}");
}

#[test]
fn write_protected_pages_are_refused_before_anything_is_erased() {
    // F103 medium density, 1 KiB pages: FLASH_WRPR bit 1 = pages 4-7.
    WrpCase {
        chip: "stm32f103c8",
        options: &[("wrp", "0x08001000-0x08001fff")],
        area: (0x0800_1000, 0x0800_2000),
        from: 0x0800_0000,
        register: "FLASH_WRPR (pages 4-7, option bytes WRP0-WRP3)",
        remedy: "WRP0=0xFF",
    }
    .check("f103c8-wrp");
    // F103 XL density, 2 KiB pages, two banks: bit 2 = pages 4-5 in bank 1;
    // any page of bank 2 is bit 31, which protects pages 62 to 511 (RM0008
    // §2.5, ST HAL OB_WRP_PAGES62TO511) across both banks.
    WrpCase {
        chip: "stm32f103zg",
        options: &[("wrp", "0x08002000-0x08002fff")],
        area: (0x0800_2000, 0x0800_3000),
        from: 0x0800_0000,
        register: "FLASH_WRPR (pages 4-5,",
        remedy: "WRP0=0xFF",
    }
    .check("f103zg-wrp-bank1");
    WrpCase {
        chip: "stm32f103zg",
        options: &[("wrp", "0x08080000-0x08080fff")],
        area: (0x0801_F000, 0x0810_0000),
        from: 0x0801_E000,
        register: "FLASH_WRPR (pages 62-511,",
        remedy: "WRP3=0xFF",
    }
    .check("f103zg-wrp-bank2");
}

#[test]
fn read_protected_chip_is_refused_with_exit_code_6() {
    let dir = temp_dir("f303-rdp");
    let state = prefill("stm32f303vc", &dir, "rdp=1", &[]);
    let file = dir.join("image.bin");
    std::fs::write(&file, pattern(64, 3)).unwrap();
    run_sim("stm32f303vc", &state, &["write", file.to_str().unwrap(), "0x08000000"]).fails(6, "read-protected");
    let out = dir.join("out.bin");
    run_sim("stm32f303vc", &state, &["read", out.to_str().unwrap(), "0x08000000", "64"]).fails(6, "read-protected");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hsi_switched_off_by_the_application_is_turned_on_and_restored() {
    let mut spec = SimSpec::new("stm32f103c8");
    spec.options = vec![("hsi".into(), "off".into())];
    let (mut s, h) = open_sim(spec);
    let image = Image::from_binary(pattern(128, 9), 0x0800_0400).unwrap();
    write(&mut s, &image, &WriteOptions::default(), &mut NoProgress).unwrap();
    assert_eq!(h.peek(0x0800_0400, 128).unwrap(), pattern(128, 9));
    // RCC_CR.HSION (bit 0) set before the flash was touched, cleared at the end.
    let rcc: Vec<u32> = writes_to(&h.register_writes(), 0x4002_1000);
    assert_eq!(rcc.len(), 2, "{rcc:x?}");
    assert_eq!((rcc[0] & 1, rcc[1] & 1), (1, 0));
}

#[test]
fn rdp_level_is_decoded_per_family() {
    for (chip, level) in [("stm32f103c8", "1"), ("stm32f030f4", "1"), ("stm32f072rb", "0")] {
        let mut spec = SimSpec::new(chip);
        spec.options = vec![("rdp".into(), level.into())];
        let (mut s, _h) = open_sim(spec);
        let got = s.flash.as_mut().unwrap().rdp_level(&mut s.target).unwrap();
        let want = if level == "1" { stflash::flash::RdpLevel::Level1 } else { stflash::flash::RdpLevel::Level0 };
        assert_eq!(got, want, "{chip}");
    }
}

#[test]
fn connect_line_names_the_chip_and_its_pages() {
    let dir = temp_dir("f103ze-info");
    let state = dir.join("c.sim");
    let out = dir.join("o.bin");
    let r = run_sim("stm32f103ze", &state, &["read", out.to_str().unwrap(), "0x08000000", "16"]).ok();
    assert!(r.stderr.contains("STM32F1xx_HD: 64 KiB SRAM, 512 KiB flash in at least 2 KiB pages"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn probe_without_16bit_writes_programs_through_the_routine() {
    // ST-LINK/V2 J22 has no WRITEMEM_16BIT (its firmware adds it in J26);
    // the flash routine makes the half-word writes on the target itself,
    // so the write works, as st-flash's does.
    let dir = temp_dir("f103-j22");
    let state = prefill("stm32f103c8", &dir, "", &[(0x0800_0400, &OLD[..])]);
    let file = dir.join("image.bin");
    let image = pattern(64, 3);
    std::fs::write(&file, &image).unwrap();
    let spec = format!("stm32f103c8:{}", state.display());
    let env = [("STFLASH_SIM", spec.as_str()), ("STFLASH_SIM_PROBE", "v2"), ("STFLASH_SIM_FIRMWARE", "22")];
    run(&["write", file.to_str().unwrap(), "0x08000400"], &env).ok();
    assert_eq!(Snapshot::of(&state).peek(0x0800_0400, 64), image);
    // Erasing needs no 16-bit writes either.
    run(&["erase", "0x08000400", "0x400"], &env).ok();
    assert_eq!(Snapshot::of(&state).peek(0x0800_0400, 16), [0xFF; 16]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn host_programming_without_16bit_writes_is_refused_before_anything_is_erased() {
    let mut spec = SimSpec::new("stm32f103c8");
    spec.probe = stflash_sim::SimProbeKind::V2;
    spec.firmware = Some(22);
    let (mut s, h) = open_sim(spec);
    assert!(h.poke(0x0800_0400, &OLD));
    let image = Image::from_binary(pattern(64, 3), 0x0800_0400).unwrap();
    let opts = WriteOptions { fast: false, ..Default::default() };
    let e = write(&mut s, &image, &opts, &mut NoProgress).unwrap_err();
    assert_eq!(e.exit_code(), 10);
    assert!(e.message.contains("needs V2J26") && e.message.contains("Nothing was erased"), "{}", e.message);
    assert_eq!(h.peek(0x0800_0400, 16).unwrap(), OLD, "nothing erased");
}

#[test]
fn programming_over_old_data_reports_pgerr_and_clears_it() {
    // Straight through the engine, skipping the erase a write would do.
    let (mut s, h) = open_sim(SimSpec::new("stm32f103c8"));
    h.poke(0x0800_0800, &[0x00, 0x11]);
    let ctrl = s.flash.as_mut().unwrap();
    ctrl.unlock(&mut s.target, 0).unwrap();
    let e =
        stflash::flash::engine::program(&mut s.target, ctrl.as_ref(), 0, 0x0800_0800, &[0x34, 0x12], &mut NoProgress)
            .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("PGERR") && msg.contains("not erased"), "{msg}");
    assert_eq!(h.peek(0x0800_0800, 2).unwrap(), [0x00, 0x11], "skipped");
    // The flag was cleared (W1C), PG too: the next operation starts clean.
    assert_eq!(s.target.read32(0x4002_200C).unwrap() & 0x14, 0);
    assert_eq!(s.target.read32(0x4002_2010).unwrap() & 1, 0);
}
