//! What ST's own silicon answers on the debug port: the SW-DP IDCODE
//! (DPIDR, read with the probe's READ_IDCODES) of every die in the chip
//! table, by DEV_ID. `stflash doctor` holds a chip to it: a known DEV_ID
//! with another DPIDR is the surest tell of a clone that copies ST's
//! DBGMCU_IDCODE (ChipSea CS32F103/CKS32F103 answer DEV_ID 0x410 with
//! 0x2BA01477 where an STM32F103 answers 0x1BA01477).
//!
//! Values: OpenOCD's target files (master at abbbc2e05, `tcl/target/*.cfg`,
//! the `_CPUTAPID` each sets for SWD) and stlink's table (stlink-org/stlink
//! at 733893a, `inc/stm32.h`, citing the reference manuals' debug chapters).
//! Where they disagree both values are accepted: a genuine part is never
//! called a clone on a disputed value.

/// The SW-DP IDCODEs the dies of some DEV_IDs answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedDpidr {
    pub dev_ids: &'static [u16],
    pub dpidr: &'static [u32],
    /// Where the values come from.
    pub source: &'static str,
}

const F0: &[u16] = &[0x444, 0x445, 0x440, 0x448, 0x442];
const F1: &[u16] = &[0x412, 0x410, 0x414, 0x418, 0x420, 0x428, 0x430];
const F3: &[u16] = &[0x439, 0x422, 0x446, 0x438, 0x432];
const F2_L1: &[u16] = &[0x411, 0x416, 0x429, 0x427, 0x436, 0x437];
const F4_G4: &[u16] = &[0x413, 0x419, 0x434, 0x423, 0x433, 0x458, 0x431, 0x441, 0x463, 0x421, 0x468, 0x469, 0x479];
const L4: &[u16] = &[0x464, 0x435, 0x462, 0x415, 0x461, 0x471, 0x470];
const F7: &[u16] = &[0x452, 0x449, 0x451];
const H7_H5: &[u16] = &[0x450, 0x483, 0x480, 0x484, 0x474, 0x478];
/// WB55/WB50, WB35/WB30 (the same SW-DP: OpenOCD tcl/target/stm32wbx.cfg covers both), WL.
const WB_WL: &[u16] = &[0x495, 0x496, 0x497];
const M0PLUS: &[u16] = &[0x443, 0x453, 0x44C, 0x493, 0x44D, 0x466, 0x456, 0x460, 0x467, 0x457, 0x425, 0x417, 0x447];
const U0: &[u16] = &[0x459, 0x489];
const L5_U5: &[u16] = &[0x472, 0x455, 0x482, 0x481, 0x476];

/// Every die of the chip table but [`NO_REFERENCE`]'s (a test checks that
/// none is missing).
pub const EXPECTED: &[ExpectedDpidr] = &[
    ExpectedDpidr {
        dev_ids: F0,
        dpidr: &[0x0BB1_1477],
        source: "OpenOCD tcl/target/stm32f0x.cfg:42; stlink inc/stm32.h:14 (RM0091)",
    },
    ExpectedDpidr {
        dev_ids: F1,
        dpidr: &[0x1BA0_1477],
        source: "OpenOCD tcl/target/stm32f1x.cfg:44; stlink inc/stm32.h:17 (RM0008)",
    },
    ExpectedDpidr {
        dev_ids: F3,
        dpidr: &[0x2BA0_1477, 0x1BA0_1477],
        source: "OpenOCD tcl/target/stm32f3x.cfg:57 (0x2BA01477); stlink inc/stm32.h:23 (0x1BA01477)",
    },
    ExpectedDpidr {
        dev_ids: F2_L1,
        dpidr: &[0x2BA0_1477],
        source: "OpenOCD tcl/target/stm32f2x.cfg:49, stm32l1.cfg:45; stlink inc/stm32.h:19-20",
    },
    ExpectedDpidr {
        dev_ids: F4_G4,
        dpidr: &[0x2BA0_1477],
        source: "OpenOCD tcl/target/stm32f4x.cfg:36, stm32g4x.cfg:36; stlink inc/stm32.h:29-30",
    },
    ExpectedDpidr {
        dev_ids: L4,
        dpidr: &[0x2BA0_1477, 0x1BA0_1477],
        source: "OpenOCD tcl/target/stm32l4x.cfg:36 (0x2BA01477); stlink inc/stm32.h:24-25 (0x1BA01477)",
    },
    ExpectedDpidr {
        dev_ids: F7,
        dpidr: &[0x5BA0_2477],
        source: "OpenOCD tcl/target/stm32f7x.cfg:36; stlink inc/stm32.h:33",
    },
    ExpectedDpidr {
        dev_ids: H7_H5,
        dpidr: &[0x6BA0_2477],
        source: "OpenOCD tcl/target/stm32h7x.cfg:67; stlink inc/stm32.h:37-38",
    },
    ExpectedDpidr {
        dev_ids: WB_WL,
        dpidr: &[0x6BA0_2477, 0x5BA0_2477],
        source: "OpenOCD tcl/target/stm32wbx.cfg:35, stm32wlx.cfg:66 and a WB55 read in stlink PR #1101 \
                 (0x6BA02477); stlink inc/stm32.h:33 (0x5BA02477)",
    },
    ExpectedDpidr {
        dev_ids: M0PLUS,
        dpidr: &[0x0BC1_1477],
        source: "OpenOCD tcl/target/stm32l0.cfg:37, stm32g0x.cfg:33, stm32c0x.cfg:32; stlink inc/stm32.h:15",
    },
    ExpectedDpidr { dev_ids: U0, dpidr: &[0x6BA0_2477], source: "OpenOCD tcl/target/stm32u0x.cfg:27" },
    ExpectedDpidr {
        dev_ids: L5_U5,
        dpidr: &[0x0BE1_2477, 0x0BE0_2477],
        source: "OpenOCD tcl/target/stm32x5x_common.cfg:25 (0x0BE12477); stlink inc/stm32.h:43-44 (0x0BE02477, \
                 RM0438, RM0456)",
    },
];

/// Dies for which neither source gives a value (newer than both): not
/// compared.
pub const NO_REFERENCE: &[u16] = &[
    0x492, // STM32WBA5x
    0x454, // STM32U37x/U38x
    0x485, // STM32H7Rx/H7Sx
];

/// What ST's dies with this DEV_ID answer, if the table knows.
pub fn expected_dpidr(dev_id: u16) -> Option<&'static ExpectedDpidr> {
    EXPECTED.iter().find(|e| e.dev_ids.contains(&dev_id))
}

/// Parts known to answer a DEV_ID of the table with another SW-DP IDCODE:
/// (DEV_IDs, DPIDR, who answers so), for messages.
pub const KNOWN_CLONES: &[(&[u16], u32, &str)] = &[(
    F1,
    0x2BA0_1477,
    "clones of the STM32F103 answer so: ChipSea CS32F103/CKS32F103 (stlink doc/tutorial.md:95-108) and parts \
     reported to OpenOCD as \"UNEXPECTED idcode: 0x2ba01477, expected 0x1ba01477\" on blue-pill boards",
)];

/// Who is known to answer `dpidr` with `dev_id`, if anyone.
pub fn known_clone(dev_id: u16, dpidr: u32) -> Option<&'static str> {
    KNOWN_CLONES.iter().find(|(ids, d, _)| ids.contains(&dev_id) && *d == dpidr).map(|c| c.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_die_of_the_chip_table_has_its_dpidr_once() {
        for chip in crate::chip::all() {
            let rows = EXPECTED.iter().filter(|e| e.dev_ids.contains(&chip.dev_id)).count();
            let unknown = NO_REFERENCE.contains(&chip.dev_id) as usize;
            assert_eq!(rows + unknown, 1, "{} (DEV_ID 0x{:03X})", chip.name, chip.dev_id);
        }
        let ids: usize = EXPECTED.iter().map(|e| e.dev_ids.len()).sum::<usize>() + NO_REFERENCE.len();
        assert_eq!(ids, crate::chip::all().count(), "a DEV_ID that is not in the chip table");
        assert!(expected_dpidr(0x410).unwrap().dpidr == [0x1BA0_1477]);
        assert!(known_clone(0x410, 0x2BA0_1477).is_some() && known_clone(0x410, 0x1BA0_1477).is_none());
    }
}
