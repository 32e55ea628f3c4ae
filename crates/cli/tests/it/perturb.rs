//! Assumption-perturbation matrix: every fact the write path depends on that
//! is assumed rather than documented is a simulator knob; for each knob
//! value and one part per family, four writes must end with exactly the right
//! flash contents, and `verify_method` must name the fast path or the
//! documented fallback the knob leads to:
//!
//! * onto a chip holding other data,
//! * an unchanged re-flash (nothing erased where a CRC is trusted),
//! * a one-byte change (one sector rewritten where a CRC is trusted),
//! * an unaligned partial write (the bytes around it kept);
//!
//! and `verify`, `checksum` and `blank-check` must give the right answer by
//! the same path.
//!
//! The default run covers every knob on one family (rotating) and the
//! unperturbed chip on every family; `STFLASH_FULL_MATRIX=1` runs every knob
//! on every family it applies to. Deterministic: fixed data, modeled time.

use crate::common::{open_sim, pattern};
use stflash::flash::NoProgress;
use stflash::ops::image::Image;
use stflash::ops::write::{self, WriteOptions, WriteReport};
use stflash_sim::{FaultPlan, SimHandle, SimSpec};

/// One part per family: (family, part, smallest erase unit).
const FAMILIES: [(&str, &str, u32); 7] = [
    ("f0f1f3", "stm32f103c8", 1024),
    ("f2f4f7", "stm32f411re", 16 * 1024),
    ("l0l1", "stm32l053r8", 128),
    ("l4", "stm32l476rg", 2048),
    ("l5u5", "stm32u575zi", 8 * 1024),
    ("h5", "stm32h563zi", 8 * 1024),
    ("h7", "stm32h7a3zi", 8 * 1024),
];

const BASE: u32 = 0x0800_0000;

/// What a knob is expected to lead to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// The chip's CRC unit: the H7 flash unit, the CRC peripheral elsewhere.
    Hardware,
    /// The routine's software CRC (no hardware unit can be trusted).
    Software,
    /// The host-driven path, verified by reading back.
    ReadBack,
}

/// A knob value (`STFLASH_SIM_FAULTS` syntax), the families it applies to
/// (`None`: all) and where it must lead.
struct Knob {
    faults: &'static str,
    only: Option<&'static [&'static str]>,
    /// Expectation on the H7 and on the other families.
    h7: Expect,
    others: Expect,
}

const fn knob(faults: &'static str, h7: Expect, others: Expect) -> Knob {
    Knob { faults, only: None, h7, others }
}

const fn h7_knob(faults: &'static str, h7: Expect) -> Knob {
    Knob { faults, only: Some(&["h7"]), h7, others: h7 }
}

use Expect::*;

/// Every knob value of the matrix.
const KNOBS: &[Knob] = &[
    // The H7 flash CRC unit (published: initial value 0xB6C0AE5A, words MSB first).
    h7_knob("flash_crc_init=0xFFFFFFFF", Hardware),
    h7_knob("flash_crc_init=0", Hardware),
    h7_knob("flash_crc_init=0x3C5A96E1", Hardware),
    h7_knob("flash_crc_order=bytes", Hardware),
    h7_knob("flash_crc_order=reflected", Hardware),
    h7_knob("flash_crc_order=byte-reflected", Hardware),
    h7_knob("flash_crc_order=half-reflected", Hardware),
    h7_knob("flash_crc_out=reflected", Hardware),
    h7_knob("flash_crc=chain", Hardware),
    h7_knob("flash_crc=absent", Software),
    h7_knob("flash_crc=garbage", Software),
    // The H7's write queue: stall (assumed), no queue, unbounded, error when full.
    h7_knob("write_queue=none", Hardware),
    h7_knob("write_queue=deep", Hardware),
    h7_knob("write_queue=error", Hardware),
    // The CRC peripheral: presence, reset state, input order, application settings.
    knob("crc-peripheral=absent", Hardware, Software),
    knob("crc-peripheral=garbage", Hardware, Software),
    knob("crc-peripheral=no-reset", Hardware, Software),
    knob("crc-peripheral-poly=0x1EDC6F41", Hardware, Software),
    knob("crc-peripheral=lsb-first", Hardware, Hardware),
    knob("crc-peripheral-order=bytes", Hardware, Hardware),
    knob("crc-peripheral-order=byte-reflected", Hardware, Hardware),
    knob("crc-peripheral-init=0", Hardware, Hardware),
    knob("crc-peripheral-init=0x89ABCDEF", Hardware, Hardware),
    knob("crc-peripheral-left=app", Hardware, Hardware),
    // Flash program and erase times, 0.1× to 10× the modeled values.
    knob("flash-time=0.1", Hardware, Hardware),
    knob("flash-time=0.3", Hardware, Hardware),
    knob("flash-time=3", Hardware, Hardware),
    knob("flash-time=10", Hardware, Hardware),
    // RAM for the routine: less than the chip table says; too little for any.
    knob("sram-limit=12KiB", Hardware, Hardware),
    knob("sram-limit=4KiB", ReadBack, ReadBack),
    // The core clock: slower and faster than the reset clock.
    knob("core-clock=1M", Hardware, Hardware),
    knob("core-clock=120M", Hardware, Hardware),
    // WAIT from the probe now and then, and the status codes the probe answers.
    knob("wait-every=9", Hardware, Hardware),
    knob("wait-every=9,wait-status=dp", Hardware, Hardware),
    knob("fault-status=sticky,sram-limit=12KiB", Hardware, Hardware),
    knob("fault-status=sticky,sram-limit=4KiB", ReadBack, ReadBack),
    // Several at once.
    knob("crc-peripheral=absent,core-clock=1M,flash-time=3", Hardware, Software),
    h7_knob("flash_crc=absent,core-clock=8M,flash-time=0.1", Software),
];

fn method(e: Expect, family: &str) -> &'static str {
    match (e, family) {
        (Hardware, "h7") => "crc-flash-unit",
        (Hardware, _) => "crc-peripheral",
        (Software, _) => "crc-software",
        (ReadBack, _) => "read-back",
    }
}

fn full() -> bool {
    std::env::var("STFLASH_FULL_MATRIX").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Write `image` at `addr` over flash holding `old` at BASE; the report and
/// the simulator. Any error fails the cell.
fn write_over(chip: &str, faults: &str, old: &[u8], addr: u32, image: &[u8], cell: &str) -> (WriteReport, SimHandle) {
    let mut spec = SimSpec::new(chip);
    spec.faults = FaultPlan::parse(faults).unwrap_or_else(|e| panic!("{cell}: {e}"));
    let (mut s, h) = open_sim(spec);
    assert!(h.poke(BASE, old), "{cell}: pre-fill");
    let img = Image::from_binary(image.to_vec(), addr).unwrap();
    let report = write::write(&mut s, &img, &WriteOptions::default(), &mut NoProgress)
        .unwrap_or_else(|e| panic!("{cell}: the write failed: {e}"));
    s.finish(true).unwrap_or_else(|e| panic!("{cell}: finish: {e}"));
    (report, h)
}

/// The four writes of one cell.
fn cell(family: &str, chip: &str, sector: u32, knob: &Knob) {
    eprintln!("cell {family} [{}]", knob.faults);
    let expect = if family == "h7" { knob.h7 } else { knob.others };
    let want = method(expect, family);
    let crc = expect != ReadBack;
    // Three and a half erase units (at least 6 KiB), old data one unit beyond.
    let len = (sector * 7 / 2).max(6 * 1024) as usize;
    let span = len + sector as usize;
    let seed = family.len() as u32 * 31 + knob.faults.len() as u32;
    let image = pattern(len, seed);
    let other = pattern(span, seed + 1);

    // Onto a chip holding other data: the image, and the rest of the last unit kept.
    let name = format!("{family} [{}] other data", knob.faults);
    let (r, h) = write_over(chip, knob.faults, &other, BASE, &image, &name);
    assert_eq!(h.peek(BASE, len).unwrap(), image, "{name}: contents");
    assert_eq!(h.peek(BASE + len as u32, span - len).unwrap(), other[len..], "{name}: kept bytes");
    assert!(r.verified, "{name}");
    assert_eq!(r.verify_method, Some(want), "{name}: verify method");

    // Unchanged: nothing erased or programmed where a CRC is trusted.
    let mut same = image.clone();
    same.extend_from_slice(&other[len..]);
    let name = format!("{family} [{}] unchanged", knob.faults);
    let (r, h) = write_over(chip, knob.faults, &same, BASE, &image, &name);
    assert_eq!(h.peek(BASE, span).unwrap(), same, "{name}: contents");
    if crc {
        assert!(r.erased.is_empty() && r.programmed_bytes == 0, "{name}: {} erased", r.erased.len());
        assert_eq!(h.stats().erases, 0, "{name}");
    }
    assert_eq!(r.verify_method, Some(want), "{name}: verify method");

    // One byte changed: one erase unit rewritten where a CRC is trusted.
    let mut changed = same.clone();
    changed[len / 2] ^= 0x5A;
    let name = format!("{family} [{}] one byte", knob.faults);
    let (r, h) = write_over(chip, knob.faults, &changed, BASE, &image, &name);
    assert_eq!(h.peek(BASE, span).unwrap(), same, "{name}: contents");
    if crc {
        assert_eq!(r.erased.len(), 1, "{name}: {:?}", r.erased);
        assert_eq!(r.verify_method, Some(want), "{name}: verify method");
    }

    // An unaligned partial write inside the second unit and beyond: the
    // bytes around it kept.
    let at = sector as usize + 3;
    let part = pattern(sector as usize / 2 + 1001, seed + 2);
    let mut want_flash = other.clone();
    want_flash[at..at + part.len()].copy_from_slice(&part);
    let name = format!("{family} [{}] unaligned", knob.faults);
    let (r, h) = write_over(chip, knob.faults, &other, BASE + at as u32, &part, &name);
    assert_eq!(h.peek(BASE, span).unwrap(), want_flash, "{name}: contents");
    assert!(r.preserved_bytes > 0, "{name}");
    assert_eq!(r.verify_method, Some(want), "{name}: verify method");

    checks(chip, sector, knob.faults, &other, want, &format!("{family} [{}]", knob.faults));
}

/// `verify`, `checksum` and `blank-check` under the same knob, on flash
/// holding `flash` at BASE: an equal image, one byte off, an unaligned
/// checksum, a blank sector and one that is not. `want` is how flash is
/// compared (a checksum is the routine's software CRC unless everything is
/// read back).
fn checks(chip: &str, sector: u32, faults: &str, flash: &[u8], want: &str, cell: &str) {
    use stflash::ops::check::{self, CheckOptions};
    let mut spec = SimSpec::new(chip);
    spec.faults = FaultPlan::parse(faults).unwrap();
    let (mut s, h) = open_sim(spec);
    assert!(h.poke(BASE, flash), "{cell}: pre-fill");
    let opts = CheckOptions::default();
    let len = flash.len();
    let same = Image::from_binary(flash[3..len - 5].to_vec(), BASE + 3).unwrap();
    let v = check::verify(&mut s, &same, &opts, &mut NoProgress).unwrap_or_else(|e| panic!("{cell}: verify: {e}"));
    assert_eq!((v.differences.as_slice(), v.method), (&[][..], want), "{cell}: verify equal");
    let mut off = flash[3..len - 5].to_vec();
    off[len / 2] ^= 0x20;
    let at = BASE + 3 + len as u32 / 2;
    let v = check::verify(&mut s, &Image::from_binary(off, BASE + 3).unwrap(), &opts, &mut NoProgress).unwrap();
    assert_eq!((v.differences.as_slice(), v.method), (&[(at, at + 1)][..], want), "{cell}: verify one byte off");
    let sum = check::checksum(&mut s, BASE + 1, len as u32 - 2, &opts, &mut NoProgress).unwrap();
    let software = if want == "read-back" { want } else { "crc-software" };
    assert_eq!(sum.crc32, stflash::ops::journal::crc32(&flash[1..len - 1]), "{cell}: checksum");
    assert_eq!(sum.method, software, "{cell}: checksum method");
    let blank_at = (BASE + len as u32).next_multiple_of(sector);
    let b = check::blank_check(&mut s, Some((blank_at, sector)), &opts, &mut NoProgress).unwrap();
    assert_eq!((b.differences.as_slice(), b.method), (&[][..], want), "{cell}: blank sector");
    let b = check::blank_check(&mut s, Some((BASE, sector)), &opts, &mut NoProgress).unwrap();
    assert_eq!(b.differences.first().map(|d| d.0), Some(BASE), "{cell}: sector with data");
    assert_eq!(h.peek(BASE, len).unwrap(), flash, "{cell}: the checks changed flash");
}

/// The knobs one family runs: all that apply with `STFLASH_FULL_MATRIX`,
/// else the unperturbed chip and every knob whose turn it is (knob `i` on
/// the `i mod n`-th family it applies to, counted from the family's place).
fn run_family(index: usize) {
    let (family, chip, sector) = FAMILIES[index];
    cell(family, chip, sector, &knob("", Hardware, Hardware));
    for (i, k) in KNOBS.iter().enumerate() {
        let applies: Vec<&str> =
            FAMILIES.iter().map(|f| f.0).filter(|f| k.only.map_or(true, |only| only.contains(f))).collect();
        if !applies.contains(&family) {
            continue;
        }
        let turn = applies[i % applies.len()];
        if full() || turn == family {
            cell(family, chip, sector, k);
        }
    }
}

#[test]
fn matrix_f0f1f3() {
    run_family(0);
}

#[test]
fn matrix_f2f4f7() {
    run_family(1);
}

#[test]
fn matrix_l0l1() {
    run_family(2);
}

#[test]
fn matrix_l4() {
    run_family(3);
}

#[test]
fn matrix_l5u5() {
    run_family(4);
}

#[test]
fn matrix_h5() {
    run_family(5);
}

#[test]
fn matrix_h7() {
    run_family(6);
}

#[test]
fn an_h7_bank_swap_is_refused_whenever_it_takes_effect() {
    // When SWAP_BANK_OPT takes effect (at the next reset, assumed, or at
    // OPTSTART) the write that follows is refused before anything changes.
    use crate::common::{arg, Board};
    for mode in ["reset", "immediate"] {
        let old = pattern(8192, 77);
        let board = Board::new("stm32h743zi", "swap", &[], &[(BASE, &old)]);
        let faults = format!("swap_reload={mode}");
        board.run_faulty(&faults, &["--allow-bank-config", "--area=option", "write", "SWAP_BANK_OPT=1"]).ok();
        let file = board.file("fw.bin", &pattern(4096, 78));
        board.run_faulty(&faults, &["write", arg(&file), "0x08000000"]).fails(10, "swapped");
        assert_eq!(board.peek(BASE + 0x10_0000, 8192), old, "{mode}: untouched (bank 1 now answers at 0x08100000)");
    }
}

#[test]
fn json_names_the_unit_that_verified_or_the_fallback() {
    use crate::common::{arg, Board};
    let old = pattern(20 * 1024, 80);
    for (chip, faults, want) in [
        ("stm32h7a3zi", "", "crc-flash-unit"),
        ("stm32f411re", "", "crc-peripheral"),
        ("stm32f411re", "crc-peripheral=absent", "crc-software"),
        ("stm32f411re", "sram-limit=4KiB", "read-back"),
    ] {
        let board = Board::new(chip, "json-method", &[], &[(BASE, &old)]);
        let file = board.file("fw.bin", &pattern(4000, 81));
        let r = board.run_faulty(faults, &["--json", "write", arg(&file), "0x08000000"]).ok();
        let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
        assert_eq!(doc["write"]["verify_method"], want, "{chip} [{faults}]");
        assert_eq!(doc["write"]["verified"], true);
    }
}
