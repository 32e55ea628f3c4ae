//! Which access port (AP) of the debug port reaches the Cortex-M core, per
//! DEV_ID: the simulator's own table, kept apart from the library's chip
//! table (`Chip::core_ap`) and cross-checked with it.
//!
//! On STM32H5, WBA5 and H7R/S the core, its SRAM and the flash are behind
//! AP1, and AP0 is a port of its own that reaches the DBGMCU (probe-rs PR
//! #1575, on a NUCLEO-H563ZI: "the core is on AP1, not AP0. AP0 contains
//! some mailbox"; cortexm/pyswd PR #27: "AP0 being connected only to DBGMCU
//! block"; OpenOCD tcl/target/stm32wba5x.cfg:45 `-ap-num 1`,
//! tcl/target/stm32h7rsx.cfg:50-51 `ap0 mem_ap -ap-num 0`, `cpu0 cortex_m
//! -ap-num 1`; probe-rs targets STM32H5_Series.yaml, STM32WBA_Series.yaml,
//! STM32H7RS_Series.yaml `core_access_options: ap: 1`). Every other part
//! here has its core on AP0.
//!
//! The model (`Mcu::reachable`): the core's port reaches everything; AP0 of
//! a part whose core is elsewhere reaches the DBGMCU registers only (their
//! address per part, `Part::dbgmcu_addr`), anything else there faults
//! (assumed: what else hangs on that port is not modeled).

/// The access port of the core of the part with this DEV_ID.
pub fn core_ap(dev_id: u16) -> u8 {
    match dev_id {
        // H562/H563/H573, H503, H523/H533, WBA5x, H7R/H7S.
        0x484 | 0x474 | 0x478 | 0x492 | 0x485 => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn h5_wba5_and_h7rs_have_their_core_on_ap1() {
        assert_eq!(super::core_ap(0x484), 1);
        assert_eq!(super::core_ap(0x480), 0, "H7A3");
        assert_eq!(super::core_ap(0x410), 0, "F103");
    }
}
