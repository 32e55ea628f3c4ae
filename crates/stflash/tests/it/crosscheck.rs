//! The chip table, the drivers and the simulator are written separately from
//! the same sources; these tests hold them together, and hold each of them
//! against ST's own headers (`facts/cmsis.facts`, see `facts/README.md`).

use stflash::chip as chips;
use stflash_sim::crc_peripheral::{placement, Regs};

use crate::fixture::{Fixture, Scope, Stated, Value};

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

/// A crate's facts in the fixture's terms: the library and the simulator
/// each have their own `Fact` type (the simulator does not depend on the
/// library); `source` names where a fact comes from.
macro_rules! stated_from {
    ($($krate:ident)::+, $facts:expr, $source:expr) => {{
        use $($krate)::+::{Scope as S, Value as V};
        $facts
            .into_iter()
            .map(|f| Stated {
                value: match f.value {
                    V::Number(n) => Value::Number(n),
                    V::Field { pos, width } => Value::Field { pos, width },
                },
                scope: match f.scope {
                    S::Die => Scope::Die,
                    S::Every => Scope::Every,
                    S::Part(stem) => Scope::Part(stem),
                },
                source: $source(&f),
                name: f.name,
            })
            .collect::<Vec<Stated>>()
    }};
}

/// The library's facts of a row, in the fixture's terms.
fn stated(facts: Vec<stflash::facts::Fact>) -> Vec<Stated> {
    stated_from!(stflash::facts, facts, |f: &stflash::facts::Fact| f.source)
}

/// Every chip-table row's facts (chip table, driver, option tables: each
/// family's `register_facts`) hold in ST's headers as `facts/cmsis.facts`
/// has them. The message names the fact, the value the code uses and the
/// header line that disagrees.
#[test]
fn every_chip_table_row_agrees_with_st_s_headers() {
    let fixture = Fixture::load();
    let mut problems = Vec::new();
    let mut checked = 0;
    for chip in chips::all() {
        let facts = stated(stflash::facts::of(chip));
        let who = format!("{} (0x{:03X})", chip.name, chip.dev_id);
        // Every family states its facts.
        if facts.is_empty() {
            problems.push(format!("{who}: its family states no register facts"));
        }
        for fact in &facts {
            if std::env::var_os("STFLASH_FACTS_DUMP").is_some() {
                println!("{who} {} {:?}: {} = {}", fact.source, fact.scope, fact.name, fact.value);
            }
            problems.extend(fixture.check(chip.dev_id, &who, fact));
            checked += 1;
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {checked} facts disagree with ST's headers:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The simulator's facts of a part, in the fixture's terms.
fn simulated(facts: Vec<stflash_sim::facts::Fact>) -> Vec<Stated> {
    stated_from!(stflash_sim::facts, facts, |_: &stflash_sim::facts::Fact| "simulator")
}

/// Every simulated part's facts (each simulator family's `register_facts`,
/// with its flash model's) hold in ST's headers, as the library's do: the
/// two are written separately and each is held against the headers.
#[test]
fn every_simulated_part_agrees_with_st_s_headers() {
    let fixture = Fixture::load();
    let mut problems = Vec::new();
    let mut checked = 0;
    for part in stflash_sim::parts::all() {
        let dev_id = (part.idcode & 0xFFF) as u16;
        let facts = simulated(stflash_sim::facts::of_part(part));
        let who = format!("{} (0x{dev_id:03X})", part.name);
        // Every simulated family states its facts.
        if facts.is_empty() {
            problems.push(format!("{who}: its family states no register facts"));
        }
        for fact in &facts {
            problems.extend(fixture.check(dev_id, &who, fact));
            checked += 1;
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {checked} facts disagree with ST's headers:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Every chip-table row has its headers in the fixture.
#[test]
fn the_fixture_describes_every_chip_table_row() {
    let fixture = Fixture::load();
    for chip in chips::all() {
        assert!(
            fixture.stems(chip.dev_id).is_some(),
            "{}: no `device 0x{:03X}` line in {}",
            chip.name,
            chip.dev_id,
            crate::fixture::PATH
        );
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
