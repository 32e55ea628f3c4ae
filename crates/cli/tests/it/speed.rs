//! The fast write path against the simulator: the routine, the CRC pre-check
//! and verify, and their fallbacks. Timing checks are assertions on the
//! simulator's modeled clock (`stflash_sim::clock`), never on wall-clock time.

use std::time::Duration;

use crate::common::{open_sim, pattern};
use stflash::flash::NoProgress;
use stflash::ops::image::Image;
use stflash::ops::write::{self, WriteOptions, WriteReport};
use stflash_sim::{FaultPlan, SimHandle, SimProbeKind, SimSpec};

const BASE: u32 = 0x0800_0000;

fn spec(probe: SimProbeKind, faults: &str) -> SimSpec {
    let mut s = SimSpec::new("stm32h7a3zi");
    s.probe = probe;
    s.faults = FaultPlan::parse(faults).unwrap();
    s
}

/// Write `image` at `addr` over `old`; the report, the modeled time of the
/// write itself and the simulator.
fn write_over(
    spec: SimSpec,
    addr: u32,
    image: &[u8],
    old: &[u8],
    opts: WriteOptions,
) -> (WriteReport, Duration, SimHandle) {
    let (mut s, h) = open_sim(spec);
    assert!(h.poke(addr, old));
    let before = h.stats().modeled;
    let img = Image::from_binary(image.to_vec(), addr).unwrap();
    let report = write::write(&mut s, &img, &opts, &mut NoProgress).unwrap_or_else(|e| panic!("write: {e}"));
    let took = h.stats().modeled - before;
    s.finish(true).unwrap();
    (report, took, h)
}

#[test]
fn streaming_write_is_within_the_floor_bound_on_the_model() {
    // 256 KiB over V2: floor = max(SWD at 4 MHz, programming) + erases
    // (the simulator's model, `stflash_sim::clock` and the H7 flash model):
    // 262144 × 12 / 4e6 = 0.786 s; 32 sectors × 5 ms.
    let image = pattern(256 * 1024, 1);
    let old = pattern(256 * 1024, 2);
    let (report, took, h) = write_over(spec(SimProbeKind::V2, ""), BASE, &image, &old, WriteOptions::default());
    assert_eq!(h.peek(BASE, image.len()).unwrap(), image);
    assert_eq!(report.erased.len(), 32);
    let floor = Duration::from_secs_f64(262_144.0 * 12.0 / 4e6) + Duration::from_millis(5) * 32;
    assert!(took.as_secs_f64() <= 1.3 * floor.as_secs_f64(), "took {took:?}, floor {floor:?}");
}

#[test]
fn an_unchanged_image_is_neither_erased_nor_programmed() {
    let image = pattern(64 * 1024, 3);
    let (report, took, h) = write_over(spec(SimProbeKind::V2, ""), BASE, &image, &image, WriteOptions::default());
    assert_eq!(report.skipped.len(), 8);
    assert!(report.erased.is_empty());
    let stats = h.stats();
    assert_eq!((stats.erases, stats.words), (0, 0));
    assert!(stats.bytes_in < 4096, "no read-back: {} bytes in", stats.bytes_in);
    assert!(took < Duration::from_millis(50), "{took:?}");
}

#[test]
fn one_changed_byte_rewrites_one_sector_and_keeps_the_rest() {
    let old = pattern(64 * 1024, 4);
    let mut image = old.clone();
    image[20_000] ^= 0xFF;
    let (report, _, h) = write_over(spec(SimProbeKind::V3, ""), BASE, &image, &old, WriteOptions::default());
    assert_eq!(report.erased.len(), 1);
    assert_eq!(report.erased[0].addr, BASE + 16 * 1024);
    assert_eq!(report.skipped.len(), 7);
    assert_eq!(h.peek(BASE, image.len()).unwrap(), image);
}

#[test]
fn uncovered_bytes_of_a_partly_written_sector_are_kept_and_blank_ones_not_read() {
    // Old data in the upper half of sector 3 (0x08006000-0x08007FFF) beyond
    // the image; sector 4 and beyond blank.
    let addr = BASE + 0x2000;
    let image = pattern(20 * 1024, 5);
    let mut old = pattern(24 * 1024, 6);
    old[..20 * 1024].copy_from_slice(&pattern(20 * 1024, 7));
    let (report, _, h) = write_over(spec(SimProbeKind::V2, ""), addr, &image, &old, WriteOptions::default());
    assert_eq!(h.peek(addr, image.len()).unwrap(), image);
    assert_eq!(h.peek(addr + 20 * 1024, 4096).unwrap(), old[20 * 1024..], "kept");
    assert!(report.preserved_bytes > 4000);
    // A fresh chip: the uncovered half is blank, so nothing is read back
    // beyond the calibration and the edges.
    let (_, _, h) = write_over(spec(SimProbeKind::V2, ""), addr, &image, &image, WriteOptions::default());
    let _ = h;
}

#[test]
fn a_flash_crc_unit_with_other_parameters_is_solved_and_used() {
    // The unit is calibrated, not assumed: another initial value or input
    // order is found and used to skip and verify, nothing read back.
    for kind in ["flash_crc=init0", "flash_crc=lsb-first", "flash_crc=mpeg2", "flash_crc_init=0x5A5A1234"] {
        let image = pattern(32 * 1024, 8);
        let old = pattern(32 * 1024, 9);
        let (report, _, h) = write_over(spec(SimProbeKind::V3, kind), BASE, &image, &old, WriteOptions::default());
        assert!(report.verified);
        assert_eq!(h.peek(BASE, image.len()).unwrap(), image, "{kind}");
        assert_eq!(report.verify_method, Some("crc-flash-unit"), "{kind}");
        assert!(h.stats().bytes_in < 2048, "{kind}: {} bytes in", h.stats().bytes_in);
        let (report, _, h) = write_over(spec(SimProbeKind::V3, kind), BASE, &image, &image, WriteOptions::default());
        assert_eq!(report.skipped.len(), 4, "{kind}: unchanged sectors skipped");
        assert_eq!(h.stats().erases, 0);
    }
}

#[test]
fn read_back_verification_stays_available() {
    let image = pattern(16 * 1024, 10);
    let old = pattern(16 * 1024, 11);
    let opts = WriteOptions { readback: true, ..Default::default() };
    let (report, _, h) = write_over(spec(SimProbeKind::V3, ""), BASE, &image, &old, opts);
    assert!(report.verified);
    assert!(h.stats().bytes_in >= 16 * 1024);
}

#[test]
fn a_crashing_routine_hands_over_to_host_driven_programming() {
    let image = pattern(48 * 1024, 12);
    let old = pattern(48 * 1024, 13);
    let (report, _, h) =
        write_over(spec(SimProbeKind::V3, "core-crash-after=20000"), BASE, &image, &old, WriteOptions::default());
    assert!(report.verified);
    assert_eq!(h.peek(BASE, image.len()).unwrap(), image);
}

#[test]
fn host_driven_programming_gives_the_same_flash() {
    let image = pattern(16 * 1024 + 40, 14);
    let old = pattern(16 * 1024 + 40, 15);
    let opts = WriteOptions { fast: false, ..Default::default() };
    let (_, _, h) = write_over(spec(SimProbeKind::V3, ""), BASE, &image, &old, opts);
    let mut want = image.clone();
    want.resize(16 * 1024 + 48, 0xFF);
    assert_eq!(h.peek(BASE, want.len()).unwrap(), want);
}

#[test]
fn every_flash_model_tells_the_routine_when_its_operation_ends() {
    // One part per simulated flash model; the routine's idle loop must
    // always find the model's next event instead of polling blindly.
    for (chip, addr) in [
        ("stm32f103c8", BASE),
        ("stm32f072rb", BASE),
        ("stm32f411re", BASE),
        ("stm32f746zg", BASE),
        ("stm32l476rg", BASE),
        ("stm32g071rb", BASE),
        ("stm32l053r8", BASE),
        ("stm32l152re", BASE),
        ("stm32l552ze", BASE),
        ("stm32u575zi", BASE),
        ("stm32h563zi", BASE),
        ("stm32h7a3zi", BASE),
        ("stm32h743zi", BASE),
    ] {
        let mut s = SimSpec::new(chip);
        s.probe = SimProbeKind::V3;
        let image = pattern(6 * 1024, 16);
        let (report, _, h) = write_over(s, addr, &image, &pattern(6 * 1024, 17), WriteOptions::default());
        assert_eq!(h.peek(addr, image.len()).unwrap(), image, "{chip}");
        assert!(h.stats().words > 0, "{chip}: programmed");
        assert_eq!(h.blind_polls(), 0, "{chip}: the routine polled without a next event");
        // Every family verifies with its CRC unit (the H7 flash unit, the CRC
        // peripheral elsewhere) and reads nothing back.
        let unit = if chip.starts_with("stm32h7") { "crc-flash-unit" } else { "crc-peripheral" };
        assert_eq!(report.verify_method, Some(unit), "{chip}");
        assert!(h.stats().bytes_in < 2048, "{chip}: {} bytes read", h.stats().bytes_in);
    }
}

#[test]
fn a_crash_after_the_crc_pass_redoes_every_page_not_confirmed_done() {
    // F103: 1 KiB pages, several per buffer; the routine first hashes every
    // page with the CRC peripheral, then crashes at different points of the
    // programming. Whatever it had not finished is erased and programmed
    // again by the host.
    for crash in [20_000, 45_000, 90_000] {
        let image = pattern(16 * 1024, 18);
        let old = pattern(16 * 1024, 19);
        let mut s = SimSpec::new("stm32f103c8");
        s.faults = FaultPlan::parse(&format!("core-crash-after={crash}")).unwrap();
        let (report, _, h) = write_over(s, BASE, &image, &old, WriteOptions::default());
        assert!(report.verified);
        assert_eq!(h.peek(BASE, image.len()).unwrap(), image, "crash after {crash} instructions");
    }
}

fn on(chip: &str, probe: SimProbeKind, faults: &str) -> SimSpec {
    let mut s = SimSpec::new(chip);
    s.probe = probe;
    s.faults = FaultPlan::parse(faults).unwrap();
    s
}

#[test]
fn the_crc_peripheral_skips_unchanged_pages_and_verifies_without_reading_back() {
    // F103: the CRC peripheral (0x40023000, RCC_AHBENR.CRCEN) hashes each
    // 1 KiB page; only the changed page is erased and programmed, and the
    // result is checked by CRC.
    let old = pattern(64 * 1024, 20);
    let mut image = old.clone();
    image[40_000] ^= 0x81;
    let (report, _, h) =
        write_over(on("stm32f103c8", SimProbeKind::V2, ""), BASE, &image, &old, WriteOptions::default());
    assert_eq!(h.peek(BASE, image.len()).unwrap(), image);
    assert_eq!(report.erased.len(), 1);
    assert_eq!(report.erased[0].addr, BASE + 39 * 1024);
    assert_eq!(report.skipped.len(), 63);
    assert_eq!(report.verify_method, Some("crc-peripheral"));
    assert!(h.stats().bytes_in < 2048, "no read-back: {} bytes in", h.stats().bytes_in);
    // F411: 128 KiB sectors, same story.
    let old = pattern(256 * 1024, 21);
    let mut image = old.clone();
    image[200_000] ^= 0x42;
    let (report, _, h) =
        write_over(on("stm32f411re", SimProbeKind::V3, ""), BASE, &image, &old, WriteOptions::default());
    assert_eq!(h.peek(BASE, image.len()).unwrap(), image);
    assert_eq!(report.erased.iter().map(|s| s.addr).collect::<Vec<_>>(), vec![BASE + 128 * 1024]);
    assert_eq!(report.verify_method, Some("crc-peripheral"));
    assert!(h.stats().bytes_in < 4096, "{} bytes in", h.stats().bytes_in);
}

#[test]
fn a_crc_peripheral_that_takes_its_input_reflected_is_solved_and_used() {
    // The calibration on the routine's own code finds the unit's input
    // order: it is used to skip and verify, nothing read back.
    let old = pattern(32 * 1024, 22);
    let image = pattern(32 * 1024, 23);
    let spec = on("stm32f411re", SimProbeKind::V3, "crc-peripheral=lsb-first");
    let (report, _, h) = write_over(spec, BASE, &image, &old, WriteOptions::default());
    assert_eq!(h.peek(BASE, image.len()).unwrap(), image);
    assert_eq!(report.verify_method, Some("crc-peripheral"));
    assert!(h.stats().bytes_in < 2048, "{} bytes in", h.stats().bytes_in);
}

#[test]
fn runs_of_a_repeated_word_cross_the_link_as_fill_ops() {
    // 64 KiB: code-like bytes, a zero-filled table, a constant table, then
    // 0xFF padding (never programmed). The repeated words must be in flash
    // without crossing the link.
    let mut image = pattern(24 * 1024, 24);
    image.extend(vec![0u8; 16 * 1024]);
    image.extend(std::iter::repeat([0xA5, 0x5A, 0x00, 0x01]).take(2048).flatten());
    image.extend(vec![0xFFu8; 16 * 1024]);
    let old = pattern(64 * 1024, 25);
    let (_, _, h) = write_over(spec(SimProbeKind::V2, ""), BASE, &image, &old, WriteOptions::default());
    assert_eq!(h.peek(BASE, image.len()).unwrap(), image);
    let out = h.stats().bytes_out;
    assert!(out < 24 * 1024 + 6 * 1024, "{out} bytes sent for 24 KiB of data");
    // The same image through the host-driven engine sends every programmed byte.
    let opts = WriteOptions { fast: false, ..Default::default() };
    let (_, _, h) = write_over(spec(SimProbeKind::V2, ""), BASE, &image, &old, opts);
    assert_eq!(h.peek(BASE, image.len()).unwrap(), image);
    assert!(h.stats().bytes_out > 48 * 1024, "{}", h.stats().bytes_out);
    // Half-word programming (F103): a zero table is a FILL too.
    let mut image = pattern(8 * 1024, 26);
    image.extend(vec![0u8; 8 * 1024]);
    let old = pattern(16 * 1024, 27);
    let (_, _, h) = write_over(on("stm32f103c8", SimProbeKind::V3, ""), BASE, &image, &old, WriteOptions::default());
    assert_eq!(h.peek(BASE, image.len()).unwrap(), image);
    assert!(h.stats().bytes_out < 14 * 1024, "{} bytes sent for 8 KiB of data", h.stats().bytes_out);
}

#[test]
fn a_chip_with_too_little_ram_for_the_routine_is_programmed_by_the_host() {
    // STM32F030F4: 4 KiB of SRAM holds no routine and buffers; the host
    // programs half-word by half-word and verifies by reading back.
    let image = pattern(3000, 28);
    let old = pattern(3000, 29);
    let (report, _, h) =
        write_over(on("stm32f030f4", SimProbeKind::V2, ""), BASE, &image, &old, WriteOptions::default());
    assert_eq!(h.peek(BASE, image.len()).unwrap(), image);
    assert_eq!(report.verify_method, Some("read-back"));
    assert_eq!(h.blind_polls(), 0);
    assert!(h.peek(0x2000_0000, 16).unwrap().iter().all(|&b| b == 0), "nothing loaded into SRAM");
}

#[test]
fn when_no_hardware_crc_can_be_trusted_the_routine_computes_it() {
    // Units that no CRC-32 model explains are not used; the routine's own
    // CRC skips and verifies instead, and nothing is read back.
    for (chip, faults) in [
        ("stm32h7a3zi", "flash_crc=absent"),
        ("stm32h7a3zi", "flash_crc=garbage"),
        ("stm32f411re", "crc-peripheral=absent"),
        ("stm32f411re", "crc-peripheral=no-reset"),
        ("stm32l476rg", "crc-peripheral-poly=0x1EDC6F41"),
    ] {
        let old = pattern(32 * 1024, 30);
        let mut image = old.clone();
        image[9000] ^= 0x24;
        let (report, _, h) =
            write_over(on(chip, SimProbeKind::V3, faults), BASE, &image, &old, WriteOptions::default());
        assert_eq!(h.peek(BASE, image.len()).unwrap(), image, "{chip} {faults}");
        assert_eq!(report.verify_method, Some("crc-software"), "{chip} {faults}");
        assert!(!report.skipped.is_empty(), "{chip} {faults}: unchanged sectors skipped");
        assert!(h.stats().bytes_in < 2048, "{chip} {faults}: {} bytes read", h.stats().bytes_in);
    }
}

#[test]
fn a_unit_calibrated_on_erased_flash_settles_its_order_on_the_new_contents() {
    // A blank H7A3: the calibration bursts read the same in every input
    // order. The unit is still used; a burst of the new contents, read back
    // after programming, settles the order before verification.
    for order in ["word", "bytes", "reflected"] {
        let image = pattern(24 * 1024, 31);
        let blank = vec![0xFF; image.len()];
        let faults = format!("flash_crc_order={order}");
        let (report, _, h) = write_over(spec(SimProbeKind::V3, &faults), BASE, &image, &blank, WriteOptions::default());
        assert_eq!(h.peek(BASE, image.len()).unwrap(), image, "{order}");
        assert_eq!(report.verify_method, Some("crc-flash-unit"), "{order}");
        assert!(h.stats().bytes_in < 2048, "{order}: {} bytes read", h.stats().bytes_in);
    }
}

#[test]
fn a_crc_peripheral_left_configured_by_an_application_is_set_up_again() {
    let old = pattern(16 * 1024, 32);
    let image = pattern(16 * 1024, 33);
    for chip in ["stm32l476rg", "stm32f072rb", "stm32f411re"] {
        let spec = on(chip, SimProbeKind::V3, "crc-peripheral-left=app,crc-peripheral-init=0x600DF00D");
        let (report, _, h) = write_over(spec, BASE, &image, &old, WriteOptions::default());
        assert_eq!(h.peek(BASE, image.len()).unwrap(), image, "{chip}");
        assert_eq!(report.verify_method, Some("crc-peripheral"), "{chip}");
    }
}

#[test]
fn a_part_with_less_ram_than_its_table_row_gets_a_smaller_routine_or_none() {
    let old = pattern(16 * 1024, 34);
    let image = pattern(16 * 1024, 35);
    // H7A3: 128 KiB at 0x20000000 in the chip table, 16 KiB answer.
    let (report, _, h) =
        write_over(spec(SimProbeKind::V2, "sram-limit=16KiB"), BASE, &image, &old, WriteOptions::default());
    assert_eq!(h.peek(BASE, image.len()).unwrap(), image);
    assert_eq!(report.verify_method, Some("crc-flash-unit"));
    // F103: 20 KiB in the table, 4 KiB answer: no routine fits.
    let (report, _, h) =
        write_over(on("stm32f103c8", SimProbeKind::V2, "sram-limit=4KiB"), BASE, &image, &old, WriteOptions::default());
    assert_eq!(h.peek(BASE, image.len()).unwrap(), image);
    assert_eq!(report.verify_method, Some("read-back"));
}

#[test]
fn ecc_errors_raised_by_the_software_crc_reads_do_not_fail_the_write() {
    // A flash word programmed twice (broken ECC) in a sector being rewritten:
    // the core's reads of it while hashing with the software CRC raise
    // DBECCERR, which would fail the next erase unless cleared first.
    let old = pattern(32 * 1024, 40);
    let image = pattern(32 * 1024, 41);
    let (mut s, h) = open_sim(spec(SimProbeKind::V3, "flash_crc=absent"));
    assert!(h.poke(BASE, &old));
    let t = &mut s.target;
    const KEYR1: u32 = 0x5200_2004;
    const CR1: u32 = 0x5200_200C;
    t.write32(KEYR1, 0x4567_0123).unwrap();
    t.write32(KEYR1, 0xCDEF_89AB).unwrap();
    t.write32(CR1, 1 << 1).unwrap(); // PG
    t.write_mem(BASE + 0x4000, &[0; 16]).unwrap();
    t.sleep(Duration::from_millis(1));
    t.write32(CR1, 1).unwrap(); // LOCK
    let img = Image::from_binary(image.clone(), BASE).unwrap();
    let report =
        write::write(&mut s, &img, &WriteOptions::default(), &mut NoProgress).unwrap_or_else(|e| panic!("{e}"));
    s.finish(true).unwrap();
    assert_eq!(h.peek(BASE, image.len()).unwrap(), image);
    assert_eq!(report.verify_method, Some("crc-software"));
}
