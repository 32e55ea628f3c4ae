//! SWD clock selection: SWD_SET_FREQ divisors on V2, GET_COM_FREQ/SET_COM_FREQ
//! kHz lists on V3 (stlink src/stlink-lib/usb.c:611-698 at commit 733893a;
//! OpenOCD src/jtag/drivers/stlink_usb.c:1512-1534, 3130-3184).
//!
//! Unlike st-flash, which picks the nearest table entry even when it is faster
//! than requested (stlink usb.c:37-78), stflash never exceeds the request (as
//! OpenOCD, stlink_usb.c:3032-3072, and probe-rs,
//! probe-rs/src/probe/stlink/constants.rs:165-181, do):
//! a user lowering `--freq` is usually fighting signal integrity.

/// V2 SWD divisor table: (kHz, divisor), fastest first (the entries stlink
/// inc/stlink.h:51-62 and OpenOCD src/jtag/drivers/stlink_usb.c:534-547
/// share).
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
