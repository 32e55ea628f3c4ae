//! End to end on the 64-bit double-word controllers (L4, L4+, G0, G4, C0, WB,
//! WL): the real binary and library against simulated chips. Each scenario
//! writes an image that straddles a page (and, on dual-bank parts, a bank)
//! boundary, reads it back with `stflash read`, erases one page, erases the
//! whole chip, and checks that nothing outside the touched pages changed.

use std::path::Path;

use crate::common::{open_sim, pattern, run, temp_dir, Run, WrpCase};
use stflash::flash::NoProgress;
use stflash::ops::{erase, write};
use stflash_sim::{parse_options, SimHandle, SimSpec};

/// FLASH_CR bits (RM0351/RM0440/RM0444 FLASH_CR).
const PER: u32 = 1 << 1;
const STRT: u32 = 1 << 16;

fn spec(chip: &str, state: &Path, opts: &str) -> SimSpec {
    let mut s = SimSpec::parse(&format!("{chip}:{}", state.display())).unwrap();
    s.options = parse_options(opts).unwrap();
    s
}

/// Open the chip kept in `state` through the library, let `f` work on it, and
/// save it again (the simulated probe saves its state when dropped).
fn with_chip<T>(
    chip: &str,
    state: &Path,
    opts: &str,
    f: impl FnOnce(&mut stflash::ops::Session, &SimHandle) -> T,
) -> T {
    let (mut session, handle) = open_sim(spec(chip, state, opts));
    let r = f(&mut session, &handle);
    drop(session);
    r
}

fn sim(chip: &str, state: &Path, args: &[&str]) -> Run {
    run(args, &[("STFLASH_SIM", &format!("{chip}:{}", state.display()))])
}

fn sim_opts(chip: &str, opts: &str, args: &[&str]) -> Run {
    run(args, &[("STFLASH_SIM", chip), ("STFLASH_SIM_OPTS", opts)])
}

fn peek(h: &SimHandle, addr: u32, len: usize) -> Vec<u8> {
    h.peek(addr, len).unwrap_or_else(|| panic!("peek 0x{addr:08X}+{len}"))
}

fn hex(a: u32) -> String {
    format!("0x{a:08X}")
}

/// One scenario: a chip, its fresh-chip options, and the boundary the image straddles.
struct Case {
    chip: &'static str,
    opts: &'static str,
    /// A page boundary (a bank boundary on dual-bank parts).
    boundary: u32,
    /// Page size just before and from the boundary.
    page: u32,
    /// The flash ranges in force (for the mass-erase check).
    flash: &'static [(u32, u32)],
    /// FLASH_CR address and the PER|PNB|BKER value selecting the page at the boundary.
    cr: (u32, u32),
    /// Expected connect line.
    connect: &'static str,
}

const MARK_A: [u8; 16] = [0xA5; 16];
const MARK_B: [u8; 8] = [0x3C; 8];
const MARK_C: [u8; 16] = [0x0F; 16];

fn exercise(c: &Case) {
    let dir = temp_dir(c.chip);
    let state = dir.join("chip.state");
    // The image starts 0x5FC before the boundary (not double-word aligned) and
    // has an odd length, so both touched pages keep bytes it does not cover.
    let img_addr = c.boundary - 0x5FC;
    let image = pattern(0xC03, c.boundary);
    let img_end = img_addr + image.len() as u32;
    let first_page = c.boundary - c.page;
    let last_page_end = c.boundary + c.page;
    let (before, after) = (first_page - c.page, last_page_end);

    // Old contents: the neighbouring pages and the uncovered parts of the touched pages.
    with_chip(c.chip, &state, c.opts, |_, h| {
        for (addr, data) in
            [(before, &MARK_A[..]), (first_page, &MARK_A[..]), (last_page_end - 8, &MARK_B[..]), (after, &MARK_C[..])]
        {
            assert!(h.poke(addr, data), "poke {addr:08X}");
        }
    });

    let file = dir.join("image.bin");
    std::fs::write(&file, &image).unwrap();
    let out = sim(c.chip, &state, &["write", file.to_str().unwrap(), &hex(img_addr)]).ok();
    assert!(out.stderr.contains(c.connect), "connect line:\n{}", out.stderr);
    assert!(out.stderr.contains("2 sectors erased"), "{}", out.stderr);

    // Read back through the binary.
    let back = dir.join("back.bin");
    sim(c.chip, &state, &["read", back.to_str().unwrap(), &hex(img_addr), &image.len().to_string()]).ok();
    assert_eq!(std::fs::read(&back).unwrap(), image, "read back");

    with_chip(c.chip, &state, "", |session, h| {
        // Only the two touched pages changed, and they kept their old bytes.
        assert_eq!(peek(h, before, 16), MARK_A, "page before untouched");
        assert_eq!(peek(h, first_page, 16), MARK_A, "kept in the first page");
        assert_eq!(peek(h, last_page_end - 8, 8), MARK_B, "kept in the last page");
        assert_eq!(peek(h, after, 16), MARK_C, "page after untouched");
        assert_eq!(peek(h, img_end, 1), [0xFF], "erased gap after the image");
        assert_eq!(peek(h, img_addr, image.len()), image);

        // Erase the page at the boundary through the library and look at the
        // FLASH_CR values the driver wrote.
        h.clear_register_log();
        let report = erase::erase_range(session, c.boundary, c.page, &mut NoProgress).unwrap();
        assert_eq!(report.sectors.len(), 1);
        let writes = h.register_writes();
        let (cr, select) = c.cr;
        assert!(writes.contains(&(cr, select)) && writes.contains(&(cr, select | STRT)), "{:#X?}", writes);
        assert_eq!(writes.last(), Some(&(cr, 1 << 31)), "locked at the end");
        assert!(peek(h, c.boundary, c.page as usize).iter().all(|&b| b == 0xFF));
        assert_eq!(peek(h, img_addr, 0x5FC), image[..0x5FC], "the page before the boundary kept the image");
        assert_eq!(peek(h, after, 16), MARK_C);
    });

    // Erase the page before through the binary: only it changes.
    let out = sim(c.chip, &state, &["erase", &hex(before), &format!("0x{:X}", c.page)]).ok();
    assert!(out.stdout.contains("Section erase completed successfully."), "{}", out.stdout);
    with_chip(c.chip, &state, "", |_, h| {
        assert!(peek(h, before, c.page as usize).iter().all(|&b| b == 0xFF));
        assert_eq!(peek(h, first_page, 16), MARK_A);
    });

    // Mass erase.
    let out = sim(c.chip, &state, &["erase"]).ok();
    assert!(out.stdout.contains("Mass erase completed successfully."), "{}", out.stdout);
    with_chip(c.chip, &state, "", |_, h| {
        for &(base, size) in c.flash {
            assert!(peek(h, base, size as usize).iter().all(|&b| b == 0xFF), "{base:08X} erased");
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}

const L4_CR: u32 = 0x4002_2014;
const WB_WL_CR: u32 = 0x5800_4014;
const KIB: u32 = 1024;

#[test]
fn l476_write_across_the_bank_boundary() {
    exercise(&Case {
        chip: "stm32l476rg",
        opts: "",
        boundary: 0x0808_0000,
        page: 2 * KIB,
        flash: &[(0x0800_0000, 1024 * KIB)],
        // Bank 2 page 0: PER | BKER (bit 11).
        cr: (L4_CR, PER | (1 << 11)),
        connect: "STM32L47x_L48x: 96 KiB SRAM, 1024 KiB flash in at least 2 KiB pages.",
    });
}

#[test]
fn l4r5_dual_bank_write_across_the_banks() {
    exercise(&Case {
        chip: "stm32l4r5zi",
        opts: "dbank=1",
        boundary: 0x0810_0000,
        page: 4 * KIB,
        flash: &[(0x0800_0000, 2048 * KIB)],
        cr: (L4_CR, PER | (1 << 11)),
        connect: "STM32L4Rx: 640 KiB SRAM, 2048 KiB flash in at least 4 KiB pages.",
    });
}

#[test]
fn l4r5_single_bank_uses_8k_pages() {
    exercise(&Case {
        chip: "stm32l4r5zi",
        opts: "dbank=0",
        boundary: 0x0810_0000,
        page: 8 * KIB,
        flash: &[(0x0800_0000, 2048 * KIB)],
        // Page 128 of the single bank: PNB = 128, no BKER.
        cr: (L4_CR, PER | (128 << 3)),
        connect: "STM32L4Rx: 640 KiB SRAM, 2048 KiB flash in at least 8 KiB pages.",
    });
}

#[test]
fn l4p5_bank_mode_follows_dbank_not_db1m() {
    // ST's HAL decides the L4+ map by DBANK on every size
    // (stm32l4xx_hal_flash_ex.c:506-507): DB1M alone does not split a 1 MiB L4P5.
    exercise(&Case {
        chip: "stm32l4p5zg",
        opts: "dbank=0,db1m=1",
        boundary: 0x0808_0000,
        page: 8 * KIB,
        flash: &[(0x0800_0000, 1024 * KIB)],
        cr: (L4_CR, PER | (64 << 3)),
        connect: "STM32L4Px_L4Qx: 320 KiB SRAM, 1024 KiB flash in at least 8 KiB pages.",
    });
    exercise(&Case {
        chip: "stm32l4p5zg",
        opts: "dbank=1,db1m=0",
        boundary: 0x0808_0000,
        page: 4 * KIB,
        flash: &[(0x0800_0000, 1024 * KIB)],
        cr: (L4_CR, PER | (1 << 11)),
        connect: "STM32L4Px_L4Qx: 320 KiB SRAM, 1024 KiB flash in at least 4 KiB pages.",
    });
}

#[test]
fn g071_write_across_pages() {
    exercise(&Case {
        chip: "stm32g071rb",
        opts: "",
        boundary: 0x0801_0000,
        page: 2 * KIB,
        flash: &[(0x0800_0000, 128 * KIB)],
        cr: (L4_CR, PER | (32 << 3)),
        connect: "STM32G07x_G08x: 32 KiB SRAM, 128 KiB flash in at least 2 KiB pages.",
    });
}

#[test]
fn g0b1_write_across_the_bank_boundary() {
    exercise(&Case {
        chip: "stm32g0b1re",
        opts: "dual_bank=1",
        boundary: 0x0804_0000,
        page: 2 * KIB,
        flash: &[(0x0800_0000, 512 * KIB)],
        // Bank 2 page 0: bank-relative PNB, BKER at bit 13 on G0.
        cr: (L4_CR, PER | (1 << 13)),
        connect: "STM32G0Bx_G0Cx: 128 KiB SRAM, 512 KiB flash in at least 2 KiB pages.",
    });
}

#[test]
fn g0b1_counts_its_banks_from_the_sales_type() {
    // ST HAL stm32g0xx_hal_flash.h:875-882: sales type 2 is dual whatever
    // DUAL_BANK says; sales type 0 is single whatever it says.
    exercise(&Case {
        chip: "stm32g0b1re",
        opts: "sales_type=2,dual_bank=0",
        boundary: 0x0804_0000,
        page: 2 * KIB,
        flash: &[(0x0800_0000, 512 * KIB)],
        cr: (L4_CR, PER | (1 << 13)),
        connect: "STM32G0Bx_G0Cx: 128 KiB SRAM, 512 KiB flash in at least 2 KiB pages.",
    });
    exercise(&Case {
        chip: "stm32g0b1re",
        opts: "sales_type=0,dual_bank=1",
        boundary: 0x0804_0000,
        page: 2 * KIB,
        flash: &[(0x0800_0000, 512 * KIB)],
        // Page 128 of the single bank, in the 10-bit PNB, no BKER.
        cr: (L4_CR, PER | (128 << 3)),
        connect: "STM32G0Bx_G0Cx: 128 KiB SRAM, 512 KiB flash in at least 2 KiB pages.",
    });
}

#[test]
fn g431_write_across_pages() {
    exercise(&Case {
        chip: "stm32g431rb",
        opts: "",
        boundary: 0x0801_0000,
        page: 2 * KIB,
        flash: &[(0x0800_0000, 128 * KIB)],
        cr: (L4_CR, PER | (32 << 3)),
        connect: "STM32G43x_G44x: 32 KiB SRAM, 128 KiB flash in at least 2 KiB pages.",
    });
}

#[test]
fn g474_cat3_write_across_the_bank_boundary() {
    exercise(&Case {
        chip: "stm32g474re",
        opts: "dbank=1",
        boundary: 0x0804_0000,
        page: 2 * KIB,
        flash: &[(0x0800_0000, 512 * KIB)],
        // BKER is bit 11 on G4, not stlink's 13.
        cr: (L4_CR, PER | (1 << 11)),
        connect: "STM32G47x_G48x: 128 KiB SRAM, 512 KiB flash in at least 2 KiB pages.",
    });
}

#[test]
fn c031_write_across_pages() {
    exercise(&Case {
        chip: "stm32c031c6",
        opts: "",
        boundary: 0x0800_4000,
        page: 2 * KIB,
        flash: &[(0x0800_0000, 32 * KIB)],
        cr: (L4_CR, PER | (8 << 3)),
        connect: "STM32C031xx: 12 KiB SRAM, 32 KiB flash in at least 2 KiB pages.",
    });
}

#[test]
fn wb55_write_across_pages_below_the_wireless_stack() {
    exercise(&Case {
        chip: "stm32wb55rg",
        opts: "",
        boundary: 0x0804_0000,
        page: 4 * KIB,
        // The secure area from page 0xCB is not erased by the mass erase.
        flash: &[(0x0800_0000, 0xCB * 4 * KIB)],
        cr: (WB_WL_CR, PER | (64 << 3)),
        connect: "STM32WBx0_WBx5: 64 KiB SRAM, 1024 KiB flash in at least 4 KiB pages.",
    });
}

#[test]
fn wle5_write_across_pages() {
    exercise(&Case {
        chip: "stm32wle5jc",
        opts: "",
        boundary: 0x0802_0000,
        page: 2 * KIB,
        flash: &[(0x0800_0000, 256 * KIB)],
        cr: (WB_WL_CR, PER | (64 << 3)),
        connect: "STM32WLEx: 64 KiB SRAM, 256 KiB flash in at least 2 KiB pages.",
    });
}

#[test]
fn wb55_refuses_images_and_erases_touching_the_wireless_stack() {
    let dir = temp_dir("wb55-secure");
    let state = dir.join("wb.state");
    let stack = [0x5Au8; 64];
    with_chip("stm32wb55rg", &state, "sfsa=0xCB", |_, h| {
        assert!(h.poke(0x080C_A000, &MARK_A));
        assert!(h.poke(0x080C_B000, &stack));
    });
    let file = dir.join("img.bin");
    std::fs::write(&file, pattern(0x1000, 7)).unwrap();
    sim("stm32wb55rg", &state, &["write", file.to_str().unwrap(), "0x080CA800"])
        .fails(6, "overlaps 0x080CB000-0x080FFFFF, the CPU2 secure area (FLASH_SFR.SFSA");
    sim("stm32wb55rg", &state, &["erase", "0x080CB000", "0x1000"]).fails(6, "0x080CB000-0x080FFFFF");
    with_chip("stm32wb55rg", &state, "", |_, h| {
        assert_eq!(peek(h, 0x080C_A000, 16), MARK_A, "the page below the stack was not erased");
        assert_eq!(peek(h, 0x080C_B000, 64), stack);
    });
    // Mass erase keeps the stack, and says so.
    let out = sim("stm32wb55rg", &state, &["erase"]).ok();
    assert!(out.stderr.contains("mass erase keeps 0x080CB000-0x080FFFFF"), "{}", out.stderr);
    // The report counts the 203 pages below the stack, not all 256.
    assert!(out.stderr.contains("203 sectors"), "{}", out.stderr);
    with_chip("stm32wb55rg", &state, "", |_, h| {
        assert_eq!(peek(h, 0x080C_B000, 64), stack);
        assert_eq!(peek(h, 0x080C_A000, 16), [0xFF; 16]);
    });
}

#[test]
fn a_wle5_is_never_refused_whatever_its_missing_sfr_reads() {
    // The WLE4/WLE5 have no FLASH_SFR (stm32wle5xx.h); stflash must not take
    // what its address reads for a CPU2 secure area.
    let file = temp_dir("wle5-sfr").join("img.bin");
    std::fs::write(&file, [1u8; 64]).unwrap();
    for opts in ["sfr_absent=zero", "sfr_absent=ones", "sfr_absent=fault"] {
        sim_opts("stm32wle5jc", opts, &["write", file.to_str().unwrap(), "0x0803F000"]).ok();
    }
}

#[test]
fn a_wl55_refuses_its_secure_area_only_with_security_enabled() {
    let file = temp_dir("wl55-secure").join("img.bin");
    std::fs::write(&file, [1u8; 64]).unwrap();
    let path = file.to_str().unwrap();
    sim_opts("stm32wl55jc", "fsd=0,sfsa=0x70", &["write", path, "0x08038000"]).ok();
    sim_opts("stm32wl55jc", "ese=1,fsd=0,sfsa=0x70", &["write", path, "0x08038000"])
        .fails(6, "overlaps 0x08038000-0x0803FFFF, the CPU2 secure area (FLASH_SFR.SFSA");
    sim_opts("stm32wl55jc", "ese=1,fsd=0,sfsa=0x70", &["write", path, "0x08037000"]).ok();
}

#[test]
fn wb55_reports_cpu2_holding_flash_operations() {
    let file = temp_dir("wb55-pesd").join("img.bin");
    std::fs::write(&file, [1u8; 64]).unwrap();
    sim_opts("stm32wb55rg", "pesd=1", &["write", file.to_str().unwrap(), "0x08000000"])
        .fails(7, "PESD (CPU2 (the wireless stack) suspends flash operations");
}

#[test]
fn g473_dual_bank_hole_is_refused() {
    // 256 KiB G4 cat.3 in dual-bank mode: bank 1 0x08000000-0x0801FFFF, bank 2 at 0x08040000.
    let file = temp_dir("g473-hole").join("img.bin");
    std::fs::write(&file, [1u8; 64]).unwrap();
    sim_opts("stm32g473rc", "dbank=1", &["write", file.to_str().unwrap(), "0x08020000"])
        .fails(3, "0x08020000 is not in flash (flash is 0x08000000-0x0801FFFF and 0x08040000-0x0805FFFF)");
    let dir = temp_dir("g473-bank2");
    let state = dir.join("g473.state");
    with_chip("stm32g473rc", &state, "dbank=1", |session, h| {
        // Data at the end of bank 2 to keep: its pages are erased one by one.
        assert!(h.poke(0x0805_F800, &[0x42; 16]));
        let image = stflash::ops::image::Image::from_binary(pattern(0x900, 3), 0x0804_0000).unwrap();
        write::write(session, &image, &write::WriteOptions::default(), &mut NoProgress).unwrap();
        assert_eq!(peek(h, 0x0804_0000, 0x900), pattern(0x900, 3));
        assert!(h.register_writes().contains(&(L4_CR, PER | (1 << 3) | (1 << 11))), "bank 2 page 1");
    });
}

#[test]
fn l476re_512k_follows_the_dualbank_option() {
    let file = temp_dir("l476re").join("img.bin");
    std::fs::write(&file, [1u8; 16]).unwrap();
    let dual = sim_opts("stm32l476re", "dual_bank=1", &["--debug", "write", file.to_str().unwrap(), "0x08040000"]).ok();
    assert!(dual.stderr.contains("bank 2 at 0x08040000"), "{}", dual.stderr);
    let single =
        sim_opts("stm32l476re", "dual_bank=0", &["--debug", "write", file.to_str().unwrap(), "0x08040000"]).ok();
    assert!(single.stderr.contains("512 KiB: 256 × 2 KiB sectors"), "{}", single.stderr);
}

#[test]
fn write_protected_page_is_refused_and_changes_nothing() {
    let dir = temp_dir("g071-wrp");
    let state = dir.join("g071.state");
    with_chip("stm32g071rb", &state, "wrp=0x08001000-0x08001fff", |_, h| {
        assert!(h.poke(0x0800_1000, &MARK_A));
    });
    let file = dir.join("img.bin");
    std::fs::write(&file, pattern(0x100, 1)).unwrap();
    sim("stm32g071rb", &state, &["write", file.to_str().unwrap(), "0x08001000"])
        .fails(6, "overlaps 0x08001000-0x08001FFF, write-protected by FLASH_WRP1AR (pages 2-3)");
    with_chip("stm32g071rb", &state, "", |_, h| assert_eq!(peek(h, 0x0800_1000, 16), MARK_A));
}

#[test]
fn write_protected_pages_are_refused_before_anything_is_erased_in_both_banks() {
    // L476RG, 1 MiB in two banks of 2 KiB pages: WRP1AR counts from bank 1,
    // WRP2AR from bank 2 (RM0351 FLASH_WRP1AR/WRP2AR).
    WrpCase {
        chip: "stm32l476rg",
        options: &[("wrp", "0x08002000-0x08002fff")],
        area: (0x0800_2000, 0x0800_3000),
        from: 0x0800_0000,
        register: "FLASH_WRP1AR (pages 4-5 of bank 1)",
        remedy: "WRP1A_STRT=0xFF,WRP1A_END=0x00",
    }
    .check("l476-wrp-bank1");
    WrpCase {
        chip: "stm32l476rg",
        options: &[("wrp", "0x08081000-0x08081fff")],
        area: (0x0808_1000, 0x0808_2000),
        from: 0x0808_0000,
        register: "FLASH_WRP2AR (pages 2-3 of bank 2)",
        remedy: "WRP2A_STRT=0xFF,WRP2A_END=0x00",
    }
    .check("l476-wrp-bank2");
}

#[test]
fn read_protected_chip_is_refused_before_anything_changes() {
    let file = temp_dir("l412-rdp").join("img.bin");
    std::fs::write(&file, [1u8; 16]).unwrap();
    sim_opts("stm32l412kb", "rdp=1", &["write", file.to_str().unwrap(), "0x08000000"])
        .fails(6, "read-protected (RDP level 1)");
    sim_opts("stm32l412kb", "rdp=1", &["read", "/dev/null", "0x08000000", "16"]).fails(6, "RDP level 1");
}

#[test]
fn every_simulated_part_of_the_group_connects_with_its_row() {
    for (chip, line) in [
        ("stm32l412kb", "STM32L41x_L42x: 40 KiB SRAM, 128 KiB flash"),
        ("stm32l432kc", "STM32L43x_L44x: 48 KiB SRAM, 256 KiB flash"),
        ("stm32l452re", "STM32L45x_L46x: 128 KiB SRAM, 512 KiB flash"),
        ("stm32l496zg", "STM32L496x_L4A6x: 320 KiB SRAM, 1024 KiB flash in at least 2 KiB"),
        ("stm32l4p5zg", "STM32L4Px_L4Qx: 320 KiB SRAM, 1024 KiB flash in at least 4 KiB"),
        ("stm32g030f6", "STM32G03x_G04x: 8 KiB SRAM, 32 KiB flash"),
        ("stm32g050k8", "STM32G05x_G06x: 16 KiB SRAM, 64 KiB flash"),
        ("stm32g491re", "STM32G49x_G4Ax: 112 KiB SRAM, 512 KiB flash in at least 2 KiB"),
        ("stm32c011f6", "STM32C011xx: 6 KiB SRAM, 32 KiB flash"),
    ] {
        let dir = temp_dir(chip);
        let file = dir.join("img.bin");
        std::fs::write(&file, pattern(24, 5)).unwrap();
        let out = sim(chip, &dir.join("s"), &["write", file.to_str().unwrap(), "0x08000800"]).ok();
        assert!(out.stderr.contains(line), "{chip}:\n{}", out.stderr);
        with_chip(chip, &dir.join("s"), "", |_, h| assert_eq!(peek(h, 0x0800_0800, 24), pattern(24, 5)));
    }
}
