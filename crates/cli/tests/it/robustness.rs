//! Arbitrary input never panics: st-flash number syntax, and ST-LINK replies
//! of any length and content (a broken or hostile probe). Image parsers have
//! their own randomized tests in `src/ops/image/robustness.rs`.

use std::time::Duration;

use stflash::mcu::{ConnectOptions, Target};
use stflash::stlink::StLink;
use stflash::transport::{ProbeInfo, ProbeKind, Transport, TransportError};
use stflash_cli::number::{parse_freq, parse_number};

/// xorshift: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn number_parsing_never_panics_and_agrees_with_the_grammar() {
    let alphabet: Vec<char> = "0123456789abcdefxXbBkKmMgG+- \t.".chars().collect();
    let mut rng = Rng(0x5EED);
    for _ in 0..200_000 {
        let len = rng.below(12) as usize;
        let s: String = (0..len).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize]).collect();
        let _ = parse_number(&s);
        let _ = parse_freq(&s);
    }
    // Properties on well-formed inputs.
    for _ in 0..100_000 {
        let n = rng.next() as u32;
        assert_eq!(parse_number(&n.to_string()), Ok(n));
        assert_eq!(parse_number(&format!("0x{n:x}")), Ok(n));
        assert_eq!(parse_number(&format!("0X{n:X}")), Ok(n));
        assert_eq!(parse_number(&format!("0b{n:b}")), Ok(n));
        assert_eq!(parse_number(&format!("0{n:o}")), Ok(n));
        let k = n >> 10;
        assert_eq!(parse_number(&format!("{k}k")), Ok(k * 1024));
        assert_eq!(parse_number(&format!("{}M", k >> 10)), Ok((k >> 10) * 1024 * 1024));
    }
}

/// A probe that answers every read with random bytes of a random length, and
/// sometimes fails.
struct ChaosProbe {
    rng: Rng,
    info: ProbeInfo,
    clock: Duration,
}

impl Transport for ChaosProbe {
    fn write(&mut self, data: &[u8], _timeout: Duration) -> Result<usize, TransportError> {
        match self.rng.below(50) {
            0 => Err(TransportError::Disconnected),
            1 => Err(TransportError::Timeout { what: "write" }),
            _ => Ok(data.len()),
        }
    }

    fn read(&mut self, buf: &mut [u8], _timeout: Duration) -> Result<usize, TransportError> {
        if self.rng.below(40) == 0 {
            return Err(TransportError::Timeout { what: "read" });
        }
        // Mostly plausible statuses, sometimes anything.
        let n = (self.rng.below(buf.len() as u64 + 2) as usize).min(buf.len());
        for b in buf.iter_mut().take(n) {
            *b = match self.rng.below(4) {
                0 => 0x80,
                _ => self.rng.next() as u8,
            };
        }
        Ok(n)
    }

    fn info(&self) -> &ProbeInfo {
        &self.info
    }

    fn sleep(&mut self, d: Duration) {
        self.clock += d;
    }

    fn elapsed(&self) -> Duration {
        self.clock
    }
}

#[test]
fn st_link_reply_decoding_never_panics() {
    for seed in 1..3000u64 {
        let kind = [ProbeKind::V2, ProbeKind::V2_1, ProbeKind::V3, ProbeKind::V3Pwr][(seed % 4) as usize];
        let info = ProbeInfo { vid: 0x0483, pid: 0x3748, kind, serial: String::new(), location: "chaos".into() };
        let probe = ChaosProbe { rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1), info, clock: Duration::ZERO };
        let Ok(mut link) = StLink::open(Box::new(probe)) else { continue };
        let mut buf = vec![0u8; 7000];
        let _ = link.current_mode();
        let _ = link.target_voltage_mv();
        let _ = link.swd_rates();
        let _ = link.set_swd_speed(4000);
        let _ = link.enter_swd();
        let _ = link.read_dpidr();
        let _ = link.read_debug32(0xE000_ED00);
        let _ = link.write_debug32(0xE000_EDF0, 0xA05F_0003);
        let _ = link.read_reg(15);
        let _ = link.read_mem(0x2000_0001, &mut buf[..13]);
        let _ = link.read_mem(0x2000_0000, &mut buf);
        let _ = link.write_mem(0x2000_0003, &buf[..300]);
        let _ = link.write_mem_width(0x0800_0000, &buf[..64], 2);
        let _ = link.read_mem16(0x2000_0000, &mut buf[..32]);
        let _ = link.leave_current_mode();
        // The target layer on top of it must not panic either.
        let _ = Target::connect(link, &ConnectOptions::default());
    }
}
