//! The arithmetic behind CRC calibration: CRC-32 with the polynomial
//! 0x04C11DB7, processed most significant bit first, as an affine function
//! of its initial value; solving for that value from one computation over
//! known bytes; and the few input and output orders a hardware unit may use.
//! Pure: no probe, no I/O.
//!
//! A CRC register `s` (bit i the coefficient of x^i) that takes one input
//! bit `b` becomes `x·s + b·x^32 mod P`. After `n` bits from `s0` it holds
//! `x^n·s0 + crc(0, bits)`: the contribution of the initial value is
//! `x^n·s0`, and every other part depends on the data only. One run over
//! bytes the host knows therefore gives `s0 = x^-n·(result + crc(0, bits))`
//! (addition is XOR; `x` is invertible mod P because P has a constant
//! term). Whether a unit also has a fixed final XOR, or its input order is
//! not the one assumed, shows on a second run over other bytes of another
//! length: the solved model must predict it.

/// The CRC-32 polynomial (without the x^32 term) every STM32 CRC unit uses
/// by default: RM0433 §4.3.12 for the H7 flash interface, the CRC_POL reset
/// value of the CRC peripheral (RM0360 §6.4, RM0433 §21.4).
pub const POLY: u32 = 0x04C1_1DB7;

/// x^-1 mod P: `x·(x^31 + (P - 1 - x^32)/x) = P - 1 ≡ 1`, since P's constant
/// term is 1.
pub const X_INV: u32 = 0x8000_0000 | (POLY >> 1);

/// `a·x mod P`.
fn times_x(a: u32) -> u32 {
    if a & 0x8000_0000 != 0 {
        (a << 1) ^ POLY
    } else {
        a << 1
    }
}

/// `a·b mod P` (polynomials over GF(2), bit i the coefficient of x^i).
pub fn mul_mod(mut a: u32, mut b: u32) -> u32 {
    let mut r = 0;
    while b != 0 {
        if b & 1 != 0 {
            r ^= a;
        }
        b >>= 1;
        a = times_x(a);
    }
    r
}

fn pow_mod(mut base: u32, mut n: u64) -> u32 {
    let mut r = 1;
    while n != 0 {
        if n & 1 != 0 {
            r = mul_mod(r, base);
        }
        base = mul_mod(base, base);
        n >>= 1;
    }
    r
}

/// `x^n mod P`.
pub fn x_pow(n: u64) -> u32 {
    pow_mod(2, n)
}

/// `x^-n mod P`.
pub fn x_pow_inv(n: u64) -> u32 {
    pow_mod(X_INV, n)
}

/// The register after eight zero bits, for each value of its top byte.
const TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000_0000 != 0 { (c << 1) ^ POLY } else { c << 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// How a unit feeds each 32-bit little-endian word of memory into the
/// register: the value it shifts in most significant bit first is
/// [`InputOrder::fed`] of the word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputOrder {
    /// The word as a number, most significant bit first: the CRC
    /// peripheral's reset state (CR.REV_IN = 0), and what the ST community
    /// measured on the H7 flash CRC unit (bytes 00 11 22 33 enter as
    /// 0x33221100: <https://qa-community.st.com/stm32-mcus-security-36/stm32h753-flash-crc-specification-52577>).
    Word,
    /// The bytes in memory order, each most significant bit first.
    Bytes,
    /// The word bit-reversed: the bytes in memory order, each least
    /// significant bit first (CR.REV_IN = 3; CRC-32/ISO-HDLC's input order).
    Reflected,
    /// Each byte bit-reversed in place, the word most significant byte
    /// first (CR.REV_IN = 1).
    ByteReflected,
    /// Each half-word bit-reversed in place (CR.REV_IN = 2).
    HalfReflected,
}

impl InputOrder {
    /// Every order a unit is tried with when it is calibrated.
    pub const ALL: [InputOrder; 5] = [
        InputOrder::Word,
        InputOrder::Bytes,
        InputOrder::Reflected,
        InputOrder::ByteReflected,
        InputOrder::HalfReflected,
    ];

    /// The value shifted in, most significant bit first, for the word `w`.
    pub fn fed(self, w: u32) -> u32 {
        match self {
            InputOrder::Word => w,
            InputOrder::Bytes => w.swap_bytes(),
            InputOrder::Reflected => w.reverse_bits(),
            InputOrder::ByteReflected => w.swap_bytes().reverse_bits(),
            InputOrder::HalfReflected => w.reverse_bits().rotate_left(16),
        }
    }

    /// For messages.
    pub fn name(self) -> &'static str {
        match self {
            InputOrder::Word => "words most significant bit first",
            InputOrder::Bytes => "bytes in memory order",
            InputOrder::Reflected => "words least significant bit first",
            InputOrder::ByteReflected => "words with each byte reflected",
            InputOrder::HalfReflected => "words with each half-word reflected",
        }
    }
}

/// The register after feeding `bytes` (a multiple of 4, little-endian
/// words) in `order`, starting from `state`.
pub fn feed(order: InputOrder, mut state: u32, bytes: &[u8]) -> u32 {
    debug_assert!(bytes.len() % 4 == 0, "whole words");
    for w in bytes.chunks_exact(4) {
        state ^= order.fed(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        for _ in 0..4 {
            state = (state << 8) ^ TABLE[(state >> 24) as usize];
        }
    }
    state
}

/// What a CRC unit computes: CRC-32 with [`POLY`], an initial value, an input
/// order, and the result read as is or bit-reversed (CR.REV_OUT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CrcModel {
    pub init: u32,
    pub order: InputOrder,
    pub reflect_out: bool,
}

impl CrcModel {
    /// CRC-32/MPEG-2 over words most significant bit first: the CRC
    /// peripheral's reset state, and what the routine's software CRC computes.
    pub const MPEG2: CrcModel = CrcModel { init: 0xFFFF_FFFF, order: InputOrder::Word, reflect_out: false };

    /// The CRC of `bytes` (a multiple of 4).
    pub fn crc(&self, bytes: &[u8]) -> u32 {
        self.output(feed(self.order, self.init, bytes))
    }

    fn output(&self, state: u32) -> u32 {
        if self.reflect_out {
            state.reverse_bits()
        } else {
            state
        }
    }

    /// The initial value that makes a unit with this order and output
    /// reflection compute `result` over `bytes`.
    pub fn solve_init(order: InputOrder, reflect_out: bool, bytes: &[u8], result: u32) -> u32 {
        let state = if reflect_out { result.reverse_bits() } else { result };
        mul_mod(x_pow_inv(8 * bytes.len() as u64), state ^ feed(order, 0, bytes))
    }
}

/// One computation by the unit over bytes the host knows.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub bytes: &'a [u8],
    pub result: u32,
}

/// What calibration found: the models that explain every run. Empty when
/// none does (the unit is not used); one when the unit is understood; several
/// when the runs could not tell their input orders apart (bytes that read
/// the same in every order, such as erased flash): they then agree on such
/// bytes and are asked about others only when they agree there too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Solution {
    pub models: Vec<CrcModel>,
}

impl Solution {
    /// Solve every candidate order on `first` and keep the models that also
    /// predict every run of `confirm`. At least one confirming run must
    /// differ from `first` in length: on equal lengths an initial value and a
    /// fixed final XOR are indistinguishable. Without one, nothing is trusted.
    pub fn solve(first: Run, confirm: &[Run]) -> Solution {
        if !confirm.iter().any(|r| r.bytes.len() != first.bytes.len()) {
            return Solution::default();
        }
        let mut models: Vec<CrcModel> = Vec::new();
        for order in InputOrder::ALL {
            for reflect_out in [false, true] {
                let init = CrcModel::solve_init(order, reflect_out, first.bytes, first.result);
                let m = CrcModel { init, order, reflect_out };
                if confirm.iter().all(|r| m.crc(r.bytes) == r.result) && !models.contains(&m) {
                    models.push(m);
                }
            }
        }
        Solution { models }
    }

    /// A unit that computes exactly `model` (the routine's own CRC after its
    /// self-test).
    pub fn exactly(model: CrcModel) -> Solution {
        Solution { models: vec![model] }
    }

    /// Some model explains the runs.
    pub fn trusted(&self) -> bool {
        !self.models.is_empty()
    }

    /// The one model, once the input order is known.
    pub fn resolved(&self) -> Option<CrcModel> {
        match self.models[..] {
            [m] => Some(m),
            _ => None,
        }
    }

    /// The CRC the unit computes over `bytes`, when every model agrees
    /// (`None` also when nothing is trusted).
    pub fn predict(&self, bytes: &[u8]) -> Option<u32> {
        let (first, rest) = self.models.split_first()?;
        let crc = first.crc(bytes);
        rest.iter().all(|m| m.crc(bytes) == crc).then_some(crc)
    }

    /// Keep the models that also explain `run` (another computation over
    /// bytes the host knows, e.g. read back after programming).
    pub fn refine(&mut self, run: Run) {
        self.models.retain(|m| m.crc(run.bytes) == run.result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crc::{Crc, CRC_32_ISO_HDLC, CRC_32_MPEG_2};

    fn data(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 11) as u8
            })
            .collect()
    }

    #[test]
    fn the_inverse_of_x_and_powers_agree() {
        assert_eq!(mul_mod(2, X_INV), 1);
        for n in [0u64, 1, 31, 32, 33, 1000, 8 * 1024 * 1024] {
            assert_eq!(mul_mod(x_pow(n), x_pow_inv(n)), 1, "n = {n}");
        }
        assert_eq!(x_pow(32), POLY, "x^32 ≡ P - x^32");
        assert_eq!(mul_mod(x_pow(7), x_pow(9)), x_pow(16));
    }

    #[test]
    fn the_models_match_the_catalogue() {
        // CRC-32/MPEG-2 over bytes in memory order: "123456789" → 0x0376E6E7
        // (RevEng catalogue check value).
        let mpeg2 = Crc::<u32>::new(&CRC_32_MPEG_2);
        let text = b"12345678";
        let bytes_order = CrcModel { order: InputOrder::Bytes, ..CrcModel::MPEG2 };
        assert_eq!(bytes_order.crc(text), mpeg2.checksum(text));
        assert_eq!(mpeg2.checksum(b"123456789"), 0x0376_E6E7);
        // Words MSB first: the bytes of each word reversed.
        assert_eq!(CrcModel::MPEG2.crc(b"4321"), mpeg2.checksum(b"1234"));
        // Reflected input and output, final XOR: CRC-32/ISO-HDLC.
        let hdlc = Crc::<u32>::new(&CRC_32_ISO_HDLC);
        let reflected = CrcModel { order: InputOrder::Reflected, reflect_out: true, ..CrcModel::MPEG2 };
        assert_eq!(reflected.crc(text) ^ 0xFFFF_FFFF, hdlc.checksum(text));
    }

    #[test]
    fn the_published_h7_measurement_solves_to_its_initial_value() {
        // ST community, STM32H753: 128 zero bytes, CRC_BURST = 4 flash words,
        // give CRCDATA 0x11E66C62; the thread derives the initial value
        // 0xB6C0AE5A (https://qa-community.st.com/stm32-mcus-security-36/stm32h753-flash-crc-specification-52577).
        let zeros = [0u8; 128];
        assert_eq!(CrcModel::solve_init(InputOrder::Word, false, &zeros, 0x11E6_6C62), 0xB6C0_AE5A);
        let h7 = CrcModel { init: 0xB6C0_AE5A, ..CrcModel::MPEG2 };
        assert_eq!(h7.crc(&zeros), 0x11E6_6C62);
    }

    #[test]
    fn orders_are_the_crc_peripheral_rev_in_settings() {
        let w = 0x1234_5678u32;
        assert_eq!(InputOrder::Word.fed(w), w);
        assert_eq!(InputOrder::Bytes.fed(w), 0x7856_3412);
        assert_eq!(InputOrder::Reflected.fed(w), w.reverse_bits());
        // REV_IN = 1: each byte reversed where it is.
        assert_eq!(InputOrder::ByteReflected.fed(0x0102_0380), 0x8040_C001);
        // REV_IN = 2: each half-word reversed where it is.
        assert_eq!(InputOrder::HalfReflected.fed(0x0001_8000), 0x8000_0001);
    }

    #[test]
    fn solving_finds_any_unit_and_rejects_what_no_model_explains() {
        let (a, b) = (data(96, 1), data(200, 2));
        for order in InputOrder::ALL {
            for reflect_out in [false, true] {
                for init in [0, 0xFFFF_FFFF, 0xB6C0_AE5A, 0x1234_5678] {
                    let unit = CrcModel { init, order, reflect_out };
                    let s = Solution::solve(
                        Run { bytes: &a, result: unit.crc(&a) },
                        &[Run { bytes: &b, result: unit.crc(&b) }],
                    );
                    assert_eq!(s.resolved(), Some(unit), "{unit:?}");
                    let c = data(64, 3);
                    assert_eq!(s.predict(&c), Some(unit.crc(&c)));
                }
            }
        }
        // A final XOR (CRC-32/ISO-HDLC style) is not an initial value: the
        // second run, of another length, exposes it.
        let unit = CrcModel { init: 0xFFFF_FFFF, order: InputOrder::Reflected, reflect_out: true };
        let s = Solution::solve(
            Run { bytes: &a, result: unit.crc(&a) ^ 0xFFFF_FFFF },
            &[Run { bytes: &b, result: unit.crc(&b) ^ 0xFFFF_FFFF }],
        );
        assert!(!s.trusted(), "{s:?}");
        // A unit whose results are garbage, or always zero.
        assert!(!Solution::solve(Run { bytes: &a, result: 0 }, &[Run { bytes: &b, result: 0 }]).trusted());
        assert!(!Solution::solve(Run { bytes: &a, result: 7 }, &[Run { bytes: &b, result: 0x8BAD_F00D }]).trusted());
        // No confirmation of another length: nothing is trusted.
        let good = CrcModel::MPEG2;
        let c = data(96, 4);
        let s = Solution::solve(Run { bytes: &a, result: good.crc(&a) }, &[Run { bytes: &c, result: good.crc(&c) }]);
        assert!(!s.trusted());
    }

    #[test]
    fn erased_bytes_leave_the_order_open_until_other_bytes_settle_it() {
        let unit = CrcModel { init: 0xB6C0_AE5A, order: InputOrder::Bytes, reflect_out: false };
        let (blank1, blank2) = ([0xFFu8; 64], [0xFFu8; 128]);
        let mut s = Solution::solve(
            Run { bytes: &blank1, result: unit.crc(&blank1) },
            &[Run { bytes: &blank2, result: unit.crc(&blank2) }],
        );
        assert!(s.trusted() && s.resolved().is_none(), "{s:?}");
        assert!(s.models.iter().all(|m| m.init == unit.init && !m.reflect_out), "{s:?}");
        // Blank and zero bytes read alike in every order: predicted.
        assert_eq!(s.predict(&[0xFF; 8192]), Some(unit.crc(&[0xFF; 8192])));
        assert_eq!(s.predict(&[0; 32]), Some(unit.crc(&[0; 32])));
        // Other bytes are not, until a run over known bytes settles the order.
        let code = data(64, 5);
        assert_eq!(s.predict(&code), None);
        s.refine(Run { bytes: &code, result: unit.crc(&code) });
        assert_eq!(s.resolved(), Some(unit));
    }
}
