//! The routine against the simulator's Thumb interpreter: buffers in SRAM
//! stand in for flash (a PROGRAM op can target any address; a WAIT can poll
//! any word), so the mechanics are tested without a flash model.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::*;
use crate::ops::{ProbeSelector, Session, SessionOptions};
use crate::sim::{FaultPlan, SimHandle, SimSpec};

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
    let mut spec = SimSpec::new("stm32f103c8");
    spec.faults = FaultPlan::parse(faults).unwrap();
    let opts = SessionOptions { probe: ProbeSelector { serial: None, sim: vec![spec] }, connect: Default::default() };
    let s = Session::open(&opts).unwrap();
    let h = s.sim.clone().unwrap();
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
    assert_eq!(results, (0..5).map(|i| (i, vec![i as u32])).collect::<Vec<_>>());
    assert!(h.core_halted());
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
    assert!(p.slots[1].1 + RESULTS_BYTES <= 0x2000_5000);
    assert!(RamPlan::in_region(MemRegion::new(0x2000_0000, 4 * 1024)).is_none(), "too small");
    let big = RamPlan::in_region(MemRegion::new(0x2400_0000, 1024 * 1024)).unwrap();
    assert_eq!(big.data_capacity, MAX_BUFFER_DATA);
}
