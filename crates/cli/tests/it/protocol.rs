//! The protocol and target layers against the simulated ST-LINK: every command
//! the host uses, the transfer limits it must respect, and each error status.

use stflash::mcu::{cortex_m as cm, ConnectMode, ConnectOptions, Target, TargetError};
use stflash::stlink::{StLink, StlinkError};
use stflash::ErrorKind;
use stflash_sim::{self as sim, FaultPlan, SimProbeKind, SimSpec};

fn link(spec: &SimSpec) -> (StLink, sim::SimHandle) {
    let (t, h) = sim::open(spec).expect("open simulator");
    (StLink::open(Box::new(t)).expect("open link"), h)
}

fn f103() -> SimSpec {
    SimSpec::new("stm32f103c8")
}

fn connect(spec: &SimSpec) -> (Target, sim::SimHandle) {
    let (l, h) = link(spec);
    (Target::connect(l, &ConnectOptions::default()).expect("connect"), h)
}

#[test]
fn version_is_decoded_for_each_probe_generation() {
    for (kind, hw) in [(SimProbeKind::V2, 2), (SimProbeKind::V2_1, 2), (SimProbeKind::V3, 3), (SimProbeKind::V3Pwr, 3)]
    {
        let mut spec = f103();
        spec.probe = kind;
        let (l, _) = link(&spec);
        assert_eq!(l.version.hw, hw, "{kind:?}");
        assert_eq!(l.version.pid, kind.pid(), "{kind:?}");
        assert!(l.version.jtag >= 7, "{kind:?}: {}", l.version);
    }
}

#[test]
fn connect_identifies_the_chip_and_halts_the_core() {
    let (mut t, h) = connect(&f103());
    assert_eq!(t.chip.dev_id, 0x410);
    assert_eq!(t.dpidr, 0x1BA0_1477);
    assert_eq!(t.flash_size, 64 * 1024);
    assert!(t.is_halted().unwrap());
    assert!(h.core_halted());
    // The watchdog freeze bits of DBGMCU_CR are set (chip table).
    assert_eq!(t.read32(0xE004_2004).unwrap() & 0x300, 0x300);
    assert_eq!(t.voltage_mv, Some(3300));
}

#[test]
fn speed_never_exceeds_the_request() {
    let mut spec = f103();
    spec.probe = SimProbeKind::V2;
    let (mut l, _) = link(&spec);
    assert_eq!(l.set_swd_speed(3000).unwrap(), Some(1800));
    assert_eq!(l.set_swd_speed(u32::MAX).unwrap(), Some(4000));
    spec.probe = SimProbeKind::V3;
    let (mut l, _) = link(&spec);
    let rates = l.swd_rates().unwrap();
    assert!(rates.windows(2).all(|w| w[0] > w[1]), "fastest first: {rates:?}");
    let got = l.set_swd_speed(10_000).unwrap().unwrap();
    assert!(got <= 10_000 && rates.contains(&got));
    assert_eq!(l.set_swd_speed(u32::MAX).unwrap(), Some(rates[0]));
}

#[test]
fn old_firmware_cannot_set_the_clock_but_still_connects() {
    let mut spec = f103();
    spec.probe = SimProbeKind::V2;
    spec.firmware = Some(21);
    let (l, _) = link(&spec);
    assert!(!l.version.has_swd_set_freq());
    let t = Target::connect(l, &ConnectOptions::default()).expect("connect");
    assert_eq!(t.speed_khz, None);
}

#[test]
fn memory_transfers_are_split_into_legal_commands() {
    let (mut t, h) = connect(&f103());
    // Unaligned start and end, longer than one 32-bit transfer (6144 bytes).
    let data = crate::common::pattern(6144 * 2 + 7, 1);
    let addr = 0x2000_0003;
    t.write_mem(addr, &data).unwrap();
    assert_eq!(h.peek(addr, data.len()).unwrap(), data);
    let mut back = vec![0u8; data.len()];
    t.read_mem(addr, &mut back).unwrap();
    assert_eq!(back, data);
    // A single byte (the firmware returns 2 bytes for a 1-byte 8-bit read).
    let mut one = [0u8; 1];
    t.read_mem(addr + 5, &mut one).unwrap();
    assert_eq!(one[0], data[5]);
}

#[test]
fn sixteen_bit_writes_need_new_firmware() {
    let mut spec = f103();
    spec.probe = SimProbeKind::V2;
    spec.firmware = Some(25);
    let (mut t, _) = connect(&spec);
    let err = t.write_mem_width(0x2000_0000, &[1, 2, 3, 4], 2).unwrap_err();
    assert!(err.to_string().contains("V2J26"), "{err}");
    spec.firmware = Some(26);
    let (mut t, h) = connect(&spec);
    t.write_mem_width(0x2000_0000, &[1, 2, 3, 4], 2).unwrap();
    assert_eq!(h.peek(0x2000_0000, 4).unwrap(), vec![1, 2, 3, 4]);
    assert!(t.write_mem_width(0x2000_0001, &[1, 2], 2).is_err(), "misaligned 16-bit write");
}

#[test]
fn a_bus_fault_names_the_faulting_address() {
    let (mut t, _) = connect(&f103());
    let mut buf = [0u8; 16];
    match t.read_mem(0x3000_0000, &mut buf) {
        Err(TargetError::Fault { addr, .. }) => assert_eq!(addr, 0x3000_0000),
        other => panic!("expected a fault, got {other:?}"),
    }
    match t.read32(0x6000_0000) {
        Err(TargetError::Fault { addr, .. }) => assert_eq!(addr, 0x6000_0000),
        other => panic!("expected a fault, got {other:?}"),
    }
}

#[test]
fn wait_is_retried_then_reported() {
    let mut spec = f103();
    let (mut t, _) = connect(&spec);
    t.write32(0x2000_0000, 0x1234_5678).unwrap();
    // A few WAITs: retried transparently.
    spec.faults = FaultPlan::parse("wait=3").unwrap();
    let (l, _) = link(&spec);
    let mut t = Target::connect(l, &ConnectOptions::default()).expect("connect through WAITs");
    let mut buf = [0u8; 8];
    t.read_mem(0x2000_0000, &mut buf).unwrap();
    // A WAIT storm: reported with the status.
    spec.faults = FaultPlan::parse("wait=always").unwrap();
    let (mut l, _) = link(&spec);
    l.enter_swd().ok();
    match l.read_debug32(0xE000_ED00) {
        Err(StlinkError::Status { status, .. }) => assert!(status.is_wait(), "{status}"),
        other => panic!("expected WAIT, got {other:?}"),
    }
}

#[test]
fn no_power_and_no_target_are_told_apart() {
    let mut spec = f103();
    spec.faults = FaultPlan::parse("no-power").unwrap();
    let (l, _) = link(&spec);
    let e = Target::connect(l, &ConnectOptions::default()).err().expect("must fail");
    assert_eq!(e.kind, ErrorKind::NoTarget);
    assert!(e.message.contains("not powered"), "{e}");
    spec.faults = FaultPlan::parse("no-target").unwrap();
    let (l, _) = link(&spec);
    let e = Target::connect(l, &ConnectOptions::default()).err().expect("must fail");
    assert_eq!(e.kind, ErrorKind::NoTarget);
    assert!(e.message.contains("no answer from the target"), "{e}");
}

#[test]
fn a_core_that_will_not_halt_is_reported() {
    let mut spec = f103();
    spec.faults = FaultPlan::parse("no-halt").unwrap();
    let (l, _) = link(&spec);
    let e = Target::connect(l, &ConnectOptions::default()).err().expect("must fail");
    assert_eq!(e.kind, ErrorKind::NoTarget);
    assert!(e.message.contains("did not halt"), "{e}");
}

#[test]
fn usb_faults_surface_as_probe_errors() {
    for (fault, text) in [("disconnect-after=40", "disconnected"), ("timeout-after=40", "timed out")] {
        let mut spec = f103();
        spec.faults = FaultPlan::parse(fault).unwrap();
        let (mut t, _) = connect(&spec);
        let mut buf = vec![0u8; 64 * 1024];
        let err = (0..50).find_map(|_| t.read_mem(0x0800_0000, &mut buf).err()).expect("fault must trigger");
        let e = stflash::Error::from(err);
        assert_eq!(e.kind, ErrorKind::ProbeIo, "{fault}: {e}");
        assert!(e.message.contains(text), "{fault}: {e}");
    }
}

#[test]
fn connect_under_reset_halts_at_the_reset_vector() {
    let (t, h) = sim::open(&f103()).unwrap();
    // Give the chip a vector table so the reset vector is known.
    let mut vectors = 0x2000_5000u32.to_le_bytes().to_vec();
    vectors.extend_from_slice(&0x0800_0101u32.to_le_bytes());
    assert!(h.poke(0x0800_0000, &vectors));
    let l = StLink::open(Box::new(t)).unwrap();
    let opts = ConnectOptions { mode: ConnectMode::UnderReset, ..Default::default() };
    let mut target = Target::connect(l, &opts).expect("connect under reset");
    assert!(target.is_halted().unwrap());
    assert_eq!(target.read_core_reg(cm::reg::PC).unwrap() & !1, 0x0800_0100);
}

#[test]
fn reset_and_run_leaves_the_core_running() {
    let (mut t, h) = connect(&f103());
    t.reset_and_run().unwrap();
    assert!(!h.core_halted());
    t.halt().unwrap();
    assert!(h.core_halted());
    t.detach(true).unwrap();
    assert!(!h.core_halted());
}

#[test]
fn core_registers_need_a_halted_core() {
    let (mut t, _) = connect(&f103());
    t.write_core_reg(0, 0xDEAD_BEEF).unwrap();
    assert_eq!(t.read_core_reg(0).unwrap(), 0xDEAD_BEEF);
    t.run().unwrap();
    assert!(t.read_core_reg(0).is_err(), "READREG on a running core must fail");
}

#[test]
fn single_step_executes_one_instruction() {
    let (mut t, _h) = connect(&f103());
    // movs r0, #42 ; adds r0, #1 ; b .   (Thumb: 0x202A, 0x3001, 0xE7FE)
    t.write_mem(0x2000_0100, &[0x2A, 0x20, 0x01, 0x30, 0xFE, 0xE7]).unwrap();
    t.write_core_reg(cm::reg::PC, 0x2000_0100).unwrap();
    t.write_core_reg(cm::reg::XPSR, cm::XPSR_T).unwrap();
    t.step().unwrap();
    assert_eq!((t.read_core_reg(cm::reg::PC).unwrap(), t.read_core_reg(0).unwrap()), (0x2000_0102, 42));
    t.step().unwrap();
    assert_eq!((t.read_core_reg(cm::reg::PC).unwrap(), t.read_core_reg(0).unwrap()), (0x2000_0104, 43));
    t.step().unwrap();
    assert_eq!(t.read_core_reg(cm::reg::PC).unwrap(), 0x2000_0104, "b . stays put");
    assert!(t.is_halted().unwrap());
}
