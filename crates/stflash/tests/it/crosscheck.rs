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

#[test]
fn every_die_added_for_issue_16_has_a_simulated_part() {
    for id in [0x459u16, 0x489, 0x44C, 0x493, 0x44D, 0x474, 0x478, 0x492, 0x454, 0x485] {
        assert!(chips::find(id).is_some(), "0x{id:03X}: no chip-table row");
        assert!(
            stflash_sim::parts::all().any(|p| (p.idcode & 0xFFF) as u16 == id),
            "0x{id:03X}: no simulated part, so its UID and CRC placements are not cross-checked"
        );
    }
}
