//! The 96-bit unique device ID: three read-only words a factory writes into
//! each chip. Where they are, per DEV_ID, from ST's CMSIS device headers
//! (`UID_BASE`: e.g. stm32f103xb.h, stm32f411xe.h, stm32h7a3xx.h,
//! stm32l476xx.h); on L0/L1 the third word is at +0x14, not +8 (ST HAL
//! `HAL_GetUIDw2` in stm32l0xx_hal.c and stm32l1xx_hal.c).
//!
//! The value: `uid=<24 hex digits>` in `STFLASH_SIM_OPTS` (bytes in address
//! order), else one derived from the state file's path (the same chip on
//! every run), else one unique to the simulator instance.

use std::sync::atomic::{AtomicU64, Ordering};

/// Where the three words are: `base`, `base + 4`, `base + third`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UidPlacement {
    pub base: u32,
    pub third: u32,
}

/// The placement on the part with this DEV_ID.
pub fn placement(dev_id: u16) -> Option<UidPlacement> {
    let at = |base| UidPlacement { base, third: 8 };
    let l0l1 = |base| UidPlacement { base, third: 0x14 };
    Some(match dev_id {
        0x444 | 0x445 | 0x440 | 0x448 | 0x442 | 0x439 | 0x422 | 0x446 | 0x438 | 0x432 => at(0x1FFF_F7AC),
        0x412 | 0x410 | 0x414 | 0x418 | 0x420 | 0x428 | 0x430 => at(0x1FFF_F7E8),
        0x411 | 0x413 | 0x419 | 0x434 | 0x423 | 0x433 | 0x458 | 0x431 | 0x441 | 0x463 | 0x421 => at(0x1FFF_7A10),
        0x452 => at(0x1FF0_7A10),
        0x449 | 0x451 => at(0x1FF0_F420),
        0x450 | 0x483 => at(0x1FF1_E800),
        0x480 | 0x484 | 0x474 | 0x478 | 0x485 => at(0x08FF_F800),
        0x443 | 0x453 | 0x44C | 0x493 | 0x44D => at(0x1FFF_7550),
        // U031, U073/U083 (stm32u031xx.h:706, stm32u073xx.h:775).
        0x459 => at(0x1FFF_3E50),
        0x489 => at(0x1FFF_6E50),
        0x466 | 0x456 | 0x460 | 0x467 | 0x468 | 0x469 | 0x479 | 0x464 | 0x435 | 0x462 | 0x415 | 0x461 | 0x471
        | 0x470 | 0x495 | 0x497 => at(0x1FFF_7590),
        0x457 | 0x425 | 0x417 | 0x447 | 0x416 | 0x429 => l0l1(0x1FF8_0050),
        0x427 | 0x436 | 0x437 => l0l1(0x1FF8_00D0),
        0x472 => at(0x0BFA_0590),
        0x455 | 0x482 | 0x481 | 0x476 => at(0x0BFA_0700),
        // U375/U385 (stm32u375xx.h:1399), WBA5x (stm32wba52xx.h:1008).
        0x454 => at(0x0BFA_0700),
        0x492 => at(0x0BF9_0700),
        _ => return None,
    })
}

impl UidPlacement {
    /// Byte `i` (0-11) of the ID lives at this address.
    fn addr_of(&self, word: usize) -> u32 {
        [self.base, self.base + 4, self.base + self.third][word]
    }

    /// The word index at `addr` (any byte of it), if it is one of the three.
    pub fn word_at(&self, addr: u32) -> Option<usize> {
        (0..3).find(|&w| addr & !3 == self.addr_of(w))
    }
}

/// Parse `uid=` (24 hex digits, bytes in address order).
pub fn parse(value: &str) -> Result<[u8; 12], String> {
    let v = value.trim().trim_start_matches("0x");
    if v.len() != 24 || !v.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("uid={value}: expected 24 hex digits (12 bytes in address order)"));
    }
    let mut id = [0u8; 12];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&v[2 * i..2 * i + 2], 16).expect("hex digits");
    }
    Ok(id)
}

/// A stable ID for the chip kept in `state_file`, or a fresh one per instance.
pub fn derive(state_file: Option<&std::path::Path>) -> [u8; 12] {
    static INSTANCES: AtomicU64 = AtomicU64::new(0);
    // FNV-1a, then SplitMix64 for the bits.
    let seed = match state_file {
        Some(path) => path
            .to_string_lossy()
            .bytes()
            .fold(0xCBF2_9CE4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3)),
        None => INSTANCES.fetch_add(1, Ordering::Relaxed) ^ ((std::process::id() as u64) << 32) ^ 0x5155_4944,
    };
    let mut z = seed;
    let mut next = || {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut x = z;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    };
    let (a, b) = (next(), next());
    let mut id = [0u8; 12];
    id[..8].copy_from_slice(&a.to_le_bytes());
    id[8..].copy_from_slice(&b.to_le_bytes()[..4]);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_third_word_of_l0_l1_is_at_0x14() {
        let l0 = placement(0x417).unwrap();
        assert_eq!((l0.word_at(0x1FF8_0050), l0.word_at(0x1FF8_0064)), (Some(0), Some(2)));
        assert_eq!(l0.word_at(0x1FF8_0058), None);
        assert_eq!(placement(0x410).unwrap().word_at(0x1FFF_F7F0), Some(2));
    }

    #[test]
    fn ids_are_stable_per_state_file_and_distinct_otherwise() {
        let p = std::path::Path::new("/tmp/a.sim");
        assert_eq!(derive(Some(p)), derive(Some(p)));
        assert_ne!(derive(Some(p)), derive(Some(std::path::Path::new("/tmp/b.sim"))));
        assert_ne!(derive(None), derive(None));
        assert_eq!(parse("000102030405060708090A0B").unwrap()[11], 11);
        assert!(parse("0001").is_err());
    }
}
