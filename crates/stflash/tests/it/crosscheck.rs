//! The chip table, the drivers and the simulator are written separately from
//! the same sources; these tests hold them together.

use stflash::chip as chips;
use stflash_sim::crc_peripheral::{placement, Regs};

#[test]
fn every_simulated_part_has_its_crc_unit_where_the_chip_table_says() {
    for part in stflash_sim::parts::all() {
        let dev_id = (part.idcode & 0xFFF) as u16;
        let sim = placement(dev_id).unwrap_or_else(|| panic!("{}: no CRC unit", part.name));
        let host = chips::find(dev_id).and_then(|c| c.crc).expect("chip table row");
        assert_eq!((host.base, host.clock_enable), (sim.base, sim.enable), "{}", part.name);
        assert_eq!(host.init, sim.regs != Regs::Basic, "{}", part.name);
        assert_eq!(host.pol, sim.regs == Regs::Full, "{}", part.name);
        // 8 cycles at the reset clock.
        assert!((host.word_ns as u64).abs_diff(8_000_000_000 / sim.hclk_hz) <= 1, "{}", part.name);
    }
}

#[test]
fn every_simulated_part_has_its_unique_id_where_the_chip_table_says() {
    for part in stflash_sim::parts::all() {
        let dev_id = (part.idcode & 0xFFF) as u16;
        let sim = stflash_sim::uid::placement(dev_id).unwrap_or_else(|| panic!("{}: no UID", part.name));
        let host = chips::find(dev_id).expect("chip table row").uid;
        assert_eq!((host.base, host.third), (sim.base, sim.third), "{}", part.name);
    }
}

#[test]
fn every_simulated_part_has_its_core_on_the_access_port_the_chip_table_says() {
    for part in stflash_sim::parts::all() {
        let dev_id = (part.idcode & 0xFFF) as u16;
        let host = chips::find(dev_id).expect("chip table row");
        assert_eq!(host.core_ap, stflash_sim::access_port::core_ap(dev_id), "{}", part.name);
    }
    // The rows without a simulated part too (the simulator's table is per DEV_ID).
    for c in chips::all() {
        assert_eq!(c.core_ap, stflash_sim::access_port::core_ap(c.dev_id), "{}", c.name);
    }
}
