//! SWD clock selection (stlink-usb-protocol.md §6).
//!
//! Unlike st-flash, which picks the nearest table entry even when it is faster
//! than requested, stflash never exceeds the request (as OpenOCD and probe-rs do):
//! a user lowering `--freq` is usually fighting signal integrity.

/// V2 SWD divisor table: (kHz, divisor), fastest first (§6.1, the entries
/// stlink and OpenOCD share).
pub const V2_SWD: &[(u32, u16)] = &[
    (4000, 0),
    (1800, 1),
    (1200, 2),
    (950, 3),
    (480, 7),
    (240, 15),
    (125, 31),
    (100, 40),
    (50, 79),
    (25, 158),
    (15, 265),
    (5, 798),
];

/// The fastest rate in `available` not above `requested_khz`; the slowest rate
/// when every one is above it.
pub fn pick(available: &[u32], requested_khz: u32) -> Option<u32> {
    let best = available.iter().copied().filter(|&k| k <= requested_khz).max();
    best.or_else(|| available.iter().copied().min())
}

/// V2: the divisor for the chosen rate.
pub fn v2_divisor(requested_khz: u32) -> (u32, u16) {
    let rates: Vec<u32> = V2_SWD.iter().map(|e| e.0).collect();
    let khz = pick(&rates, requested_khz).expect("table is not empty");
    let div = V2_SWD.iter().find(|e| e.0 == khz).expect("picked from the table").1;
    (khz, div)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_exceeds_the_request() {
        assert_eq!(v2_divisor(4000), (4000, 0));
        assert_eq!(v2_divisor(3000), (1800, 1));
        assert_eq!(v2_divisor(1800), (1800, 1));
        assert_eq!(v2_divisor(100_000), (4000, 0));
        assert_eq!(v2_divisor(1), (5, 798), "below the table: slowest rate");
        assert_eq!(pick(&[24000, 8000, 3300, 1000], 10_000), Some(8000));
        assert_eq!(pick(&[], 10), None);
    }
}
