//! End-to-end tests of `stflash recover`: one simulated part per family with
//! read protection (RDP level 1), a write-protected sector and a firmware
//! that takes the SWD pins once it runs (the `firmware-disables-swd` fault,
//! on every run: only a connect under reset reaches such a chip), brought
//! back to its factory option bytes; the plan without `--confirm-erase`
//! (exit 2, nothing changed); the refusals.

use crate::common::{arg, Board, Run};

/// A vector table: stack pointer in SRAM, reset handler in flash.
const VECTORS: [u8; 8] = [0x00, 0x10, 0x00, 0x20, 0x01, 0x01, 0x00, 0x08];
const FIRMWARE_TAKES_SWD: &str = "firmware-disables-swd";

struct Case {
    chip: &'static str,
    /// The simulator's write-protection setting (`wrp=`).
    wrp: &'static str,
    erased: u8,
}

const CASES: &[Case] = &[
    Case { chip: "f103", wrp: "0x08000000-0x08000fff", erased: 0xFF },
    Case { chip: "f072", wrp: "0x08000000-0x08000fff", erased: 0xFF },
    Case { chip: "f429zi", wrp: "0x08000000-0x08003fff", erased: 0xFF },
    Case { chip: "f746", wrp: "0x08000000-0x08007fff", erased: 0xFF },
    Case { chip: "l053", wrp: "0x08000000-0x08000fff", erased: 0x00 },
    Case { chip: "l152", wrp: "0x08000000-0x08000fff", erased: 0x00 },
    Case { chip: "l476", wrp: "0x08000000-0x08000fff", erased: 0xFF },
    Case { chip: "g071", wrp: "0x08000000-0x08000fff", erased: 0xFF },
    Case { chip: "l552", wrp: "0x08000000-0x08000fff", erased: 0xFF },
    Case { chip: "u575", wrp: "0x08000000-0x08001fff", erased: 0xFF },
    Case { chip: "h743", wrp: "0", erased: 0xFF },
    Case { chip: "h7a3", wrp: "0", erased: 0xFF },
];

fn protected_board(c: &Case, test: &str) -> Board {
    let mut fills: Vec<(u32, &[u8])> = vec![(0x0800_0000, &VECTORS)];
    if c.chip == "l053" {
        fills.push((0x0808_0000, &[0x77; 16]));
    }
    Board::new(c.chip, test, &[("rdp", "1"), ("wrp", c.wrp)], &fills)
}

fn recover(b: &Board, args: &[&str]) -> Run {
    b.run_faulty(FIRMWARE_TAKES_SWD, args)
}

#[test]
fn every_family_is_recovered_from_rdp1_write_protection_and_a_firmware_that_takes_swd() {
    for c in CASES {
        let b = protected_board(c, &format!("recover-{}", c.chip));
        // A normal connect finds nothing: the firmware has the pins.
        let out = b.dir.join("out.bin");
        b.run_faulty(FIRMWARE_TAKES_SWD, &["read", arg(&out), "0x08000000", "8"]).fails(5, "no answer");
        let r = recover(&b, &["recover", "--confirm-erase"]);
        assert_eq!(r.code, 0, "{}: recover\nstdout:\n{}\nstderr:\n{}", c.chip, r.stdout, r.stderr);
        assert!(r.stderr.contains("connecting under reset"), "{}: {}", c.chip, r.stderr);
        // Step 1 writes a word: the protection was there.
        let unprotect = r.stdout.split("  1. remove write protection").nth(1).unwrap_or_default();
        assert!(unprotect.lines().nth(1).is_some_and(|l| l.contains("(was 0x")), "{}: {}", c.chip, r.stdout);
        assert!(r.stdout.contains("2. lower RDP from level 1 to 0"), "{}: {}", c.chip, r.stdout);
        assert!(r.stderr.contains("factory values confirmed"), "{}: {}", c.chip, r.stderr);
        if c.chip == "l053" {
            assert_eq!(b.peek(0x0808_0000, 16), vec![0; 16], "the regression erased the data EEPROM too");
        }
        // The firmware is gone with the flash: a normal connect works again.
        b.run_faulty(FIRMWARE_TAKES_SWD, &["read", arg(&out), "0x08000000", "8"]).ok();
        assert_eq!(std::fs::read(&out).unwrap(), vec![c.erased; 8], "{}: flash erased", c.chip);
        let opts = b.run(&["--json", "--area=option", "read"]).ok();
        assert!(!opts.stdout.contains("\"result\":\"error\""), "{}: {}", c.chip, opts.stdout);
        // Write protection is off: the sector the image needs is written.
        let f = b.file("fw.bin", &[0x5A; 64]);
        b.run(&["write", arg(&f), "0x08000000"]).ok();
        assert_eq!(b.peek(0x0800_0000, 64), vec![0x5A; 64], "{}", c.chip);
    }
}

#[test]
fn without_confirm_erase_it_prints_the_plan_changes_nothing_and_exits_2() {
    let c = &CASES[4]; // l053
    let b = protected_board(c, "recover-plan");
    let before = crate::common::Snapshot::of(&b.state);
    let r = recover(&b, &["recover"]).fails(2, "nothing was changed: recover erases the whole flash");
    assert!(r.stderr.contains("add --confirm-erase"), "{}", r.stderr);
    // The plan: the chip, each step with the values it writes, what stays.
    for line in [
        "recover STM32L0xxx_Cat_3 (STM32L0, RDP level 1 (read-protected)):",
        "  1. remove write protection (read protection stays as it is)",
        "       OB_WRP0 (0x1FF80008) = 0xFFFF0000 (was 0xFFFE0001): WRPROT_0 0x1 -> 0x0  [A: ",
        "  2. lower RDP from level 1 to 0: the chip erases its whole flash and its data EEPROM as the protection is removed",
        "       OB_RDP (0x1FF80000) = 0xFF5500AA (was 0xFF4400BB): RDP 0xBB -> 0xAA  [A: ",
        "  3. restore the user and boot options: nothing to change",
        "  4. read every option word back: each value above in force, RDP level 0",
        "       OB_RDP: WPRMOD (security options)",
        "       OB_USER: BOR_LEV, IWDG_SW, nRST_STOP, nRST_STDBY, nBOOT1 (factory value not known)",
    ] {
        assert!(r.stdout.contains(line), "plan lacks {line:?}:\n{}", r.stdout);
    }
    let after = crate::common::Snapshot::of(&b.state);
    assert_eq!(after.peek(0x0800_0000, 8), before.peek(0x0800_0000, 8), "flash unchanged");
    assert_eq!(after.peek(0x1FF8_0000, 0x20), before.peek(0x1FF8_0000, 0x20), "option bytes unchanged");

    // --json: the plan in the document, exit 2.
    let r = recover(&b, &["--json", "recover"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["command"], "recover");
    assert_eq!(doc["error"]["kind"], "usage");
    let rec = &doc["recover"];
    assert_eq!(rec["connect"], "under-reset");
    assert_eq!(rec["rdp_level_before"], 1);
    assert_eq!(rec["confirmed"], false);
    assert_eq!(rec["steps"][0]["step"], "unprotect");
    assert_eq!(rec["steps"][0]["words"][0]["name"], "OB_WRP0");
    assert_eq!(rec["steps"][0]["words"][0]["to"], 0xFFFF_0000u32);
    assert_eq!(rec["steps"][0]["words"][0]["fields"]["WRPROT_0"]["from"], 1);
    assert_eq!(rec["steps"][0]["words"][0]["reliability"], "A");
    assert_eq!(rec["steps"][1]["step"], "regression");
    assert_eq!(rec["steps"][1]["done"], false);
    assert_eq!(rec["steps"][2]["needed"], false);
    assert!(rec["words_after"].is_null());
}

#[test]
fn recover_reports_in_json_and_a_second_run_only_erases() {
    let c = &CASES[0]; // f103
    let b = protected_board(c, "recover-json");
    let r = recover(&b, &["--json", "recover", "--confirm-erase"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rec = &doc["recover"];
    assert_eq!((doc["result"].as_str(), rec["confirmed"].as_bool()), (Some("ok"), Some(true)));
    assert_eq!(rec["steps"][0]["done"], true);
    assert_eq!(rec["steps"][1]["step"], "regression");
    assert_eq!(rec["steps"][1]["done"], true);
    let ob = rec["words_after"].as_array().unwrap().iter().find(|w| w["name"] == "OB_USER").unwrap();
    assert_eq!(ob["fields"]["RDP"], 0xA5);
    assert_eq!(doc["target"]["chip"], "STM32F1xx_MD");
    // At RDP level 0 the flash is erased by stflash; options already factory.
    let f = b.file("fw.bin", &VECTORS);
    b.run(&["write", arg(&f), "0x08000000"]).ok();
    let r = recover(&b, &["recover", "--confirm-erase"]).ok();
    assert!(r.stdout.contains("2. erase the whole flash (RDP is level 0 already)"), "{}", r.stdout);
    assert!(r.stdout.contains("1. remove write protection (read protection stays as it is): nothing to change"));
    assert!(r.stderr.contains("0 option words written, flash erased by stflash"), "{}", r.stderr);
    assert_eq!(b.peek(0x0800_0000, 8), vec![0xFF; 8]);
}

#[test]
fn a_chip_at_rdp_level_2_is_refused() {
    let b = Board::new("l476", "recover-rdp2", &[("rdp", "2")], &[(0x0800_0000, &VECTORS)]);
    let r = b.run(&["recover", "--confirm-erase"]).fails(5, "RDP level 2");
    assert!(r.stderr.contains("nothing can recover it") && r.stderr.contains("also under reset"), "{}", r.stderr);
    assert_eq!(b.peek(0x0800_0000, 8), VECTORS, "nothing changed");
}

#[test]
fn a_closed_h5_is_refused_and_an_open_one_is_unprotected() {
    let b = Board::new("h563", "recover-h5", &[("rdp", "1")], &[(0x0800_0000, &VECTORS)]);
    b.run(&["recover", "--confirm-erase"]).fails(6, "debug authentication");
    assert_eq!(b.peek(0x0800_0000, 8), VECTORS);
    let b = Board::new("h563", "recover-h5-open", &[("wrp", "0x08000000-0x08007fff")], &[(0x0800_0000, &VECTORS)]);
    let r = b.run(&["recover", "--confirm-erase"]).ok();
    assert!(r.stdout.contains("FLASH_WRP1R (0x") && r.stdout.contains("2. erase the whole flash"), "{}", r.stdout);
    assert!(r.stdout.contains("PRODUCT_STATE"), "the product state is listed as kept: {}", r.stdout);
    assert_eq!(b.peek(0x0800_0000, 8), vec![0xFF; 8]);
}

#[test]
fn a_wb_keeps_its_wireless_stack_through_the_regression_and_the_erase() {
    // WB55RG: the simulated factory SFSA is page 0xCB (4 KiB pages).
    let stack = crate::common::pattern(4096, 9);
    let fills: &[(u32, &[u8])] = &[(0x0800_0000, &VECTORS), (0x080C_B000, &stack)];
    let b = Board::new("wb55", "recover-wb", &[("rdp", "1"), ("wrp", "0x08000000-0x08000fff")], fills);
    let r = recover(&b, &["recover", "--confirm-erase"]).ok();
    assert!(r.stdout.contains("the CPU2 secure area 0x080CB000-0x080FFFFF"), "{}", r.stdout);
    assert!(r.stdout.contains("FLASH_SFR: SFSA, FSD (security options)"), "{}", r.stdout);
    assert_eq!(b.peek(0x0800_0000, 8), vec![0xFF; 8], "the rest of the flash is erased");
    assert_eq!(b.peek(0x080C_B000, 4096), stack, "the wireless stack is kept");
    // Again at level 0: stflash's own erase keeps it too.
    let f = b.file("fw.bin", &VECTORS);
    b.run(&["write", arg(&f), "0x08000000"]).ok();
    b.run(&["recover", "--confirm-erase"]).ok();
    assert_eq!(b.peek(0x0800_0000, 8), vec![0xFF; 8]);
    assert_eq!(b.peek(0x080C_B000, 4096), stack);
}
