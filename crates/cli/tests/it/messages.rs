//! st-flash's own progress lines, as scripts and CI logs grep for them: the
//! same text on the same stream (stdout for erased pages, "Mass erasing...",
//! the pages-written count; stderr log lines for verification), next to
//! stflash's summary line.

use crate::common::{arg, pattern, Board, Run};

fn banner() -> String {
    format!("st-flash 1.8.0 (stflash {})\n", env!("CARGO_PKG_VERSION"))
}

/// The log messages of stderr, without their timestamps.
fn log_lines(r: &Run) -> Vec<String> {
    r.stderr.lines().map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_string()).collect()
}

#[test]
fn a_section_erase_lists_each_page_as_it_is_erased() {
    let b = Board::new("stm32f103c8", "lines-erase", &[], &[(0x0800_0000, &pattern(4096, 1))]);
    let r = b.run(&["erase", "0x08000400", "0x800"]).ok();
    assert_eq!(
        r.stdout,
        format!(
            "{}-> Flash page at 0x8000400 erased (size: 0x400)\n-> Flash page at 0x8000800 erased (size: 0x400)\n\n\
             Section erase completed successfully.\n",
            banner()
        )
    );
    assert!(log_lines(&r).last().unwrap().starts_with("INFO erase: 2 sectors (2 KiB) in "), "{}", r.stderr);
    // Not with --quiet, not with --json.
    assert_eq!(b.run(&["--quiet", "erase", "0x08000400", "0x800"]).ok().stdout, "");
    let r = b.run(&["--json", "erase", "0x08000400", "0x800"]).ok();
    assert!(r.stdout.starts_with('{') && !r.stdout.contains("Flash page"), "{}", r.stdout);
}

#[test]
fn a_mass_erase_announces_itself_and_lists_no_pages() {
    for chip in ["stm32f103c8", "stm32l053r8"] {
        // (The L0 has no mass erase: stflash erases it page by page.)
        let b = Board::new(chip, "lines-mass", &[], &[]);
        let r = b.run(&["erase"]).ok();
        assert_eq!(r.stdout, format!("{}Mass erasing...\nMass erase completed successfully.\n", banner()), "{chip}");
    }
}

#[test]
fn a_mass_erase_write_prints_st_flash_s_lines() {
    let b = Board::new("stm32f103c8", "lines-mass-write", &[], &[]);
    let fw = b.file("fw.bin", &pattern(3000, 2));
    let r = b.run(&["--mass-erase", "write", arg(&fw), "0x08000000"]).ok();
    assert_eq!(
        r.stdout,
        format!("{}Mass erasing...\n  1/3   pages written\n  2/3   pages written\n  3/3   pages written\n\n", banner())
    );
    let log = log_lines(&r);
    let at = |text: &str| log.iter().position(|l| l == text).unwrap_or_else(|| panic!("no {text:?}:\n{}", r.stderr));
    assert!(at("INFO Starting verification of write complete") < at("INFO Flash written and verified! jolly good!"));
    assert!(log.last().unwrap().starts_with("INFO write: 3000 bytes to flash in "), "{}", r.stderr);
}

#[test]
fn a_write_lists_the_pages_it_erases() {
    // Old data in the first pages, so that the write erases them. The flash
    // routine crashes (injected fault) before its first sector is done, and
    // the host-driven engine erases and programs every page.
    let b = Board::new("stm32f103c8", "lines-write", &[], &[(0x0800_0000, &pattern(4096, 3))]);
    let fw = b.file("fw.bin", &pattern(3000, 4));
    let r = b.run_faulty("core-crash-after=4500", &["write", arg(&fw), "0x08000000"]).ok();
    let pages: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("-> Flash page at ")).collect();
    let mut unique = pages.clone();
    unique.dedup();
    assert_eq!(
        unique,
        [
            "-> Flash page at 0x8000000 erased (size: 0x400)",
            "-> Flash page at 0x8000400 erased (size: 0x400)",
            "-> Flash page at 0x8000800 erased (size: 0x400)"
        ],
        "{}",
        r.stdout
    );
    // The page list ends with an empty line; then the count of pages written.
    let after = r.stdout.split(pages[pages.len() - 1]).last().unwrap();
    assert!(after.starts_with("\n\n  1/3   pages written\n"), "{}", r.stdout);
    assert!(r.stdout.ends_with("  3/3   pages written\n\n"), "{}", r.stdout);
    assert_eq!(b.peek(0x0800_0000, 3000), pattern(3000, 4));
}

#[test]
fn a_write_of_unchanged_flash_writes_no_pages_and_ram_writes_have_no_flash_lines() {
    let b = Board::new("stm32f103c8", "lines-unchanged", &[], &[]);
    let fw = b.file("fw.bin", &pattern(2048, 5));
    b.run(&["write", arg(&fw), "0x08000000"]).ok();
    let r = b.run(&["write", arg(&fw), "0x08000000"]).ok();
    assert_eq!(r.stdout, banner(), "every sector already held the image");
    assert!(log_lines(&r).contains(&"INFO Flash written and verified! jolly good!".to_string()), "{}", r.stderr);
    let r = b.run(&["write", arg(&fw), "0x20001000"]).ok();
    assert_eq!(r.stdout, banner());
    assert!(!r.stderr.contains("Starting verification of write complete"), "{}", r.stderr);
}

/// Records the sectors the library reports erased.
#[derive(Default)]
struct Erased(Vec<stflash::flash::Sector>);

impl stflash::flash::Progress for Erased {
    fn erased(&mut self, sector: &stflash::flash::Sector) {
        self.0.push(*sector);
    }
}

#[test]
fn the_library_reports_every_erased_sector() {
    use crate::common::open_sim;
    use stflash::ops::erase;
    use stflash_sim::SimSpec;
    // A range: each sector once, in order.
    let (mut session, _h) = open_sim(SimSpec::new("stm32f103c8"));
    let mut seen = Erased::default();
    erase::erase_range(&mut session, 0x0800_0400, 0xC00, &mut seen).unwrap();
    let addrs: Vec<u32> = seen.0.iter().map(|s| s.addr).collect();
    assert_eq!(addrs, [0x0800_0400, 0x0800_0800, 0x0800_0C00]);
    // A mass erase by the controller (F1), and page by page (L0): every sector.
    for chip in ["stm32f103c8", "stm32l053r8"] {
        let (mut session, _h) = open_sim(SimSpec::new(chip));
        let mut seen = Erased::default();
        erase::erase_all(&mut session, &mut seen).unwrap();
        assert_eq!(seen.0, session.layout.sectors(), "{chip}");
        session.abandon();
    }
}
