//! What a session leaves behind however it ends.

use stflash::mcu::ConnectOptions;
use stflash::ops::Session;
use stflash_sim::SimSpec;

fn open(chip: &str) -> (Session, stflash_sim::SimHandle) {
    let (transport, sim) = stflash_sim::open(&SimSpec::new(chip)).expect("simulator");
    let session = Session::open(Box::new(transport), &ConnectOptions::default()).expect("connect");
    (session, sim)
}

#[test]
fn a_session_dropped_without_finishing_leaves_the_core_running_and_the_probe_idle() {
    let (session, sim) = open("stm32f103c8");
    assert!(sim.core_halted() && sim.probe_in_debug(), "connected: halted, in debug mode");
    drop(session);
    assert!(!sim.core_halted(), "the core runs again");
    assert!(!sim.probe_in_debug(), "the probe left debug mode");
}

#[test]
fn a_panic_while_connected_still_releases_the_target() {
    let (session, sim) = open("stm32h7a3zi");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _held = session;
        panic!("a bug in a command");
    }));
    assert!(result.is_err());
    assert!(!sim.core_halted() && !sim.probe_in_debug());
}

#[test]
fn connect_under_reset_without_nrst_resets_by_software_and_halts_at_the_reset_vector() {
    let mut spec = SimSpec::new("stm32f103c8");
    spec.options = vec![("nrst".into(), "disconnected".into())];
    let (transport, sim) = stflash_sim::open(&spec).expect("simulator");
    // A vector table: initial SP, then the reset handler (Thumb bit set).
    assert!(sim.poke(0x0800_0000, &[0x00, 0x50, 0x00, 0x20, 0x01, 0x01, 0x00, 0x08]));
    sim.with_flash_model(|_| ()); // the core sees the new vector on reset
    let connect = ConnectOptions { mode: stflash::mcu::ConnectMode::UnderReset, ..Default::default() };
    let session = Session::open(Box::new(transport), &connect).expect("connect");
    assert!(sim.core_halted());
    assert_eq!(sim.core_register(15) & !1, 0x0800_0100, "halted at the reset handler");
    drop(session);
}

#[test]
fn the_unique_id_is_read_in_address_order_on_every_layout() {
    for chip in ["stm32f103c8", "stm32l053r8", "stm32h7a3zi", "stm32u575zi"] {
        let mut spec = SimSpec::new(chip);
        spec.options = vec![("uid".into(), "000102030405060708090A0B".into())];
        let (transport, _sim) = stflash_sim::open(&spec).expect("simulator");
        let mut session = Session::open(Box::new(transport), &ConnectOptions::default()).expect("connect");
        let id = session.target.unique_id().unwrap().expect("a unique ID");
        assert_eq!(id, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], "{chip}");
    }
}
