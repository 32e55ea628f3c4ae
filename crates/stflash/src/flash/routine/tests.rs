//! The routine against the simulator's Thumb interpreter: buffers in SRAM
//! stand in for flash (a PROGRAM op can target any address; a WAIT can poll
//! any word), so the mechanics are tested without a flash model.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::*;
use crate::ops::Session;
use stflash_sim::{FaultPlan, SimHandle, SimSpec};

/// The bytes in `code.rs` are what `stream.S` assembles to.
#[test]
fn routine_bytes_match_source() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/flash/routine/stream.S");
    let dir = std::env::temp_dir().join(format!("stflash-routine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join("stream.o");
    let bin = dir.join("stream.bin");
    let assembled = Command::new("arm-none-eabi-as").arg("-o").arg(&obj).arg(&src).status();
    match assembled {
        Err(_) => {
            println!("note: arm-none-eabi-as not found (Debian: binutils-arm-none-eabi); routine bytes not re-checked");
            return;
        }
        Ok(s) => assert!(s.success(), "arm-none-eabi-as failed on {}", src.display()),
    }
    let ok = Command::new("arm-none-eabi-objcopy").args(["-O", "binary"]).arg(&obj).arg(&bin).status().unwrap();
    assert!(ok.success());
    let bytes = std::fs::read(&bin).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    if bytes != CODE {
        let rows: Vec<String> = bytes
            .chunks(16)
            .map(|c| format!("    {},", c.iter().map(|b| format!("0x{b:02X}")).collect::<Vec<_>>().join(", ")))
            .collect();
        panic!(
            "src/flash/routine/code.rs is out of date; paste this:\npub const CODE: [u8; {}] = [\n{}\n];",
            bytes.len(),
            rows.join("\n")
        );
    }
}

fn session(faults: &str) -> (Session, SimHandle) {
    session_on("stm32f103c8", faults)
}

fn session_on(chip: &str, faults: &str) -> (Session, SimHandle) {
    let mut spec = SimSpec::new(chip);
    spec.faults = FaultPlan::parse(faults).unwrap();
    let (transport, h) = stflash_sim::open(&spec).unwrap();
    let s = Session::open(Box::new(transport), &Default::default()).unwrap();
    (s, h)
}

/// A fake status register in SRAM: 0 = idle, no errors.
const FAKE_SR: u32 = 0x2000_4F00;
/// Where the fake "flash" lives.
const DST: u32 = 0x2000_3000;

fn wait(what: &str) -> WaitSpec {
    WaitSpec { bank: 0, sr: FAKE_SR, busy: 1, errors: 0x10, clear: FAKE_SR + 4, eop: 0x20, what: what.into() }
}

fn plan() -> RamPlan {
    // Keep the routine below the test area.
    RamPlan::in_region(MemRegion::new(0x2000_0000, 0x2C00)).unwrap()
}

#[test]
fn buffers_program_with_each_width_and_reads_come_back() {
    let (mut s, h) = session("");
    let t = &mut s.target;
    assert!(h.poke(FAKE_SR, &[0; 8]));
    let mut st = Streamer::start(t, plan()).unwrap();
    let data: Vec<u8> = (0..600u32).map(|i| (i * 7 + 3) as u8).collect();
    let mut at = 0;
    for (i, width) in [Width::Word, Width::Half, Width::Byte, Width::Word, Width::Half].into_iter().enumerate() {
        let chunk = &data[at..at + 120];
        let mut b = Buffer {
            tag: i,
            typical: Duration::from_micros(10),
            timeout: Duration::from_millis(50),
            ..Default::default()
        };
        b.ops.push(Op::Write { addr: FAKE_SR + 8, value: i as u32 });
        b.ops.push(Op::Program { dst: DST + at as u32, offset: 0, len: 120, unit: 8, width, wait: wait("x") });
        b.ops.push(Op::Read { addr: FAKE_SR + 8 });
        b.data = chunk.to_vec();
        if i == 4 {
            mark_last(&mut b);
        }
        st.submit(t, b).unwrap();
        at += 120;
    }
    let results = st.finish(t).unwrap();
    assert_eq!(h.peek(DST, 600).unwrap(), data);
    assert_eq!(results, (0..5).collect::<Vec<u32>>());
    assert!(h.core_halted());
}

#[test]
fn fills_store_a_repeated_word_with_each_width_and_orr_sets_bits() {
    let (mut s, h) = session("");
    let t = &mut s.target;
    assert!(h.poke(FAKE_SR, &[0; 12]));
    let mut st = Streamer::start(t, plan()).unwrap();
    let mut b = Buffer { timeout: Duration::from_millis(50), ..Default::default() };
    for (i, (width, value)) in
        [(Width::Word, 0x1234_5678), (Width::Half, 0xABCD_ABCD), (Width::Byte, 0x5A5A_5A5A)].into_iter().enumerate()
    {
        let dst = DST + 64 * i as u32;
        b.ops.push(Op::Fill { dst, value, len: 64, unit: 16, width, wait: wait("x") });
    }
    b.ops.push(Op::Orr { addr: FAKE_SR + 8, bits: 0x101 });
    b.ops.push(Op::Orr { addr: FAKE_SR + 8, bits: 0x10 });
    b.ops.push(Op::Read { addr: FAKE_SR + 8 });
    mark_last(&mut b);
    st.submit(t, b).unwrap();
    assert_eq!(st.finish(t).unwrap(), vec![0x111]);
    let got = h.peek(DST, 192).unwrap();
    assert!(got[..64].chunks(4).all(|w| w == [0x78, 0x56, 0x34, 0x12]));
    assert!(got[64..128].iter().step_by(2).all(|&b| b == 0xCD));
    assert!(got[128..].iter().all(|&b| b == 0x5A));
}

#[test]
fn fill_values_must_repeat_at_the_access_width() {
    assert_eq!(fill_value(&[0; 16], Width::Byte), Some(0));
    assert_eq!(fill_value(&[1, 2, 3, 4, 1, 2, 3, 4], Width::Word), Some(0x0403_0201));
    assert_eq!(fill_value(&[1, 2, 3, 4, 1, 2, 3, 4], Width::Half), None);
    assert_eq!(fill_value(&[1, 2, 1, 2, 1, 2, 1, 2], Width::Half), Some(0x0201_0201));
    assert_eq!(fill_value(&[1, 2, 3, 4, 1, 2, 3, 5], Width::Word), None);
    assert_eq!(fill_value(&[1, 1], Width::Byte), None, "less than a word");
}

#[test]
fn a_slot_left_ready_by_an_earlier_run_is_not_run_again() {
    let (mut s, h) = session("");
    let t = &mut s.target;
    assert!(h.poke(FAKE_SR, &[0; 12]));
    let p = plan();
    // First run: leave a buffer in slot 1 that the routine never reaches.
    let mut st = Streamer::start(t, p.clone()).unwrap();
    let b = |v: u32| Buffer {
        ops: vec![Op::Write { addr: FAKE_SR + 8, value: v }],
        timeout: Duration::from_millis(50),
        ..Default::default()
    };
    st.submit(t, b(1)).unwrap();
    st.sync(t).unwrap();
    st.abort(t).unwrap();
    // A ready-looking slot 1, as an interrupted run would leave it.
    let mut stale = Streamer::start(t, p.clone()).unwrap();
    stale.abort(t).unwrap();
    // Second run: the stale slot must be ignored; its buffers run in order.
    let mut st = Streamer::start(t, p).unwrap();
    st.submit(t, b(2)).unwrap();
    let mut last = b(3);
    last.ops.push(Op::Read { addr: FAKE_SR + 8 });
    mark_last(&mut last);
    st.submit(t, last).unwrap();
    assert_eq!(st.finish(t).unwrap(), vec![3]);
}

#[test]
fn one_progress_read_frees_several_slots() {
    let (mut s, h) = session_on("stm32h7a3zi", "");
    let t = &mut s.target;
    let p = RamPlan::in_region(MemRegion::new(0x2400_0000, 512 * 1024)).unwrap();
    assert_eq!(p.slots.len(), 4);
    let mut st = Streamer::start(t, p).unwrap();
    let before = h.stats().commands;
    for i in 0..8u32 {
        let b = Buffer {
            ops: vec![Op::Write { addr: 0x240F_0000 + 4 * i, value: i + 1 }],
            timeout: Duration::from_millis(50),
            ..Default::default()
        };
        st.submit(t, b).unwrap();
    }
    st.sync(t).unwrap();
    let commands = h.stats().commands - before;
    // A WRITEMEM and its status per buffer; the slot of buffer 4 waits for
    // buffer 0, and that one progress read shows every buffer so far done.
    assert!(commands <= 2 * 8 + 2, "{commands} commands");
    assert_eq!(h.peek(0x240F_0000, 32).unwrap(), (1..=8u32).flat_map(u32::to_le_bytes).collect::<Vec<_>>());
}

#[test]
fn a_status_error_stops_the_routine_and_names_the_op() {
    let (mut s, h) = session("");
    let t = &mut s.target;
    assert!(h.poke(FAKE_SR, &[0x10, 0, 0, 0]));
    let mut st = Streamer::start(t, plan()).unwrap();
    let b = Buffer {
        ops: vec![Op::Wait(wait("erasing sector 9 of bank 1")), Op::Stop],
        timeout: Duration::from_millis(50),
        ..Default::default()
    };
    st.submit(t, b).unwrap();
    match st.finish(t) {
        Err(RoutineError::Flash { status, what, .. }) => {
            assert_eq!(status, 0x10);
            assert_eq!(what, "erasing sector 9 of bank 1");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_crash_is_reported_with_its_pc() {
    let (mut s, _h) = session("core-crash-after=40");
    let t = &mut s.target;
    let mut st = Streamer::start(t, plan()).unwrap();
    let data = vec![0x5A; 256];
    let mut b = Buffer { data, timeout: Duration::from_millis(50), ..Default::default() };
    b.ops.push(Op::Program { dst: DST, offset: 0, len: 256, unit: 4, width: Width::Word, wait: wait("x") });
    mark_last(&mut b);
    st.submit(t, b).unwrap();
    match st.finish(t) {
        Err(e @ RoutineError::Crashed { .. }) => {
            let RoutineError::Crashed { pc, .. } = e else { unreachable!() };
            assert!((plan().code..plan().code + CODE.len() as u32).contains(&pc), "pc 0x{pc:08X}");
            assert!(e.to_string().starts_with("flash routine crashed at 0x"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_status_that_stays_busy_times_out() {
    let (mut s, h) = session("");
    let t = &mut s.target;
    assert!(h.poke(FAKE_SR, &[1, 0, 0, 0]));
    let mut st = Streamer::start(t, plan()).unwrap();
    let b = Buffer {
        ops: vec![Op::Wait(wait("erasing sector 1 of bank 1")), Op::Stop],
        typical: Duration::from_millis(1),
        timeout: Duration::from_millis(20),
        ..Default::default()
    };
    st.submit(t, b).unwrap();
    match st.finish(t) {
        Err(RoutineError::Timeout { what, waited }) => {
            assert_eq!(what, "erasing sector 1 of bank 1");
            assert!(waited >= Duration::from_millis(20));
        }
        other => panic!("{other:?}"),
    }
    assert!(h.core_halted(), "the routine is stopped after a timeout");
}

#[test]
fn ram_plans_fit_the_region() {
    let p = RamPlan::in_region(MemRegion::new(0x2000_0000, 20 * 1024)).unwrap();
    assert!(p.data_capacity >= 4096, "{p:?}");
    assert_eq!(p.slots.len(), 2);
    assert!(p.slots[1] + HEADER_LEN <= 0x2000_5000);
    assert!(RamPlan::in_region(MemRegion::new(0x2000_0000, 4 * 1024)).is_none(), "too small");
    // 8 KiB (L0) holds it with smaller script and results areas.
    let small = RamPlan::in_region(MemRegion::new(0x2000_0000, 8 * 1024)).unwrap();
    assert!(small.data_capacity >= 1024 && small.results_words() == 128, "{small:?}");
    assert!(small.slots[1] + HEADER_LEN <= 0x2000_2000);
    let big = RamPlan::in_region(MemRegion::new(0x2400_0000, 1024 * 1024)).unwrap();
    assert_eq!(big.data_capacity, MAX_BUFFER_DATA);
}

#[test]
fn the_software_crc_is_crc32_mpeg2_over_words() {
    let (mut s, h) = session("");
    let t = &mut s.target;
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 + 7) as u8).collect();
    assert!(h.poke(DST, &data));
    let mut st = Streamer::start(t, plan()).unwrap();
    let mut b = Buffer { timeout: Duration::from_millis(50), ..Default::default() };
    b.ops.push(Op::SwCrc { src: DST, words: 250 });
    b.ops.push(Op::SwCrc { src: DST + 4, words: 1 });
    b.ops.push(Op::SwCrc { src: DST, words: 0 });
    mark_last(&mut b);
    st.submit(t, b).unwrap();
    let crcs = st.finish(t).unwrap();
    let host = crate::flash::crc::host_crc;
    assert_eq!(crcs, vec![host(&data), host(&data[4..8]), 0xFFFF_FFFF]);
}

#[test]
fn the_crc32_op_is_zlibs_crc32_and_chains_from_its_initial_value() {
    let (mut s, h) = session("");
    let t = &mut s.target;
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 37 + 11) as u8).collect();
    assert!(h.poke(DST, &data));
    let mut st = Streamer::start(t, plan()).unwrap();
    let mut b = Buffer { timeout: Duration::from_millis(50), ..Default::default() };
    b.ops.push(Op::Crc32 { src: DST, words: 250, init: !0 });
    // The two tables share their area: each op rebuilds its own after the other's.
    b.ops.push(Op::SwCrc { src: DST, words: 250 });
    b.ops.push(Op::Crc32 { src: DST + 8, words: 2, init: 0x1234_5678 });
    b.ops.push(Op::Crc32 { src: DST, words: 0, init: 7 });
    mark_last(&mut b);
    st.submit(t, b).unwrap();
    let crcs = st.finish(t).unwrap();
    let zlib = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    assert_eq!(crcs[0] ^ !0, zlib.checksum(&data), "from 0xFFFFFFFF, XORed by the host: zlib's crc32");
    assert_eq!(crcs[1], crate::flash::crc::host_crc(&data));
    // Chained: the register after bytes 0..8 hashed by the host, then 8..16 on the target.
    // (The crc crate takes the initial value of a reflected CRC bit-reversed.)
    let mut digest = zlib.digest_with_initial(0x1234_5678u32.reverse_bits());
    digest.update(&data[8..16]);
    assert_eq!(crcs[2], digest.finalize() ^ !0);
    assert_eq!(crcs[3], 7);
}
