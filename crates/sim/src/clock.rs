//! The modeled timeline and run statistics.
//!
//! Nothing here looks at the wall clock. A command costs
//! `round trip + payload bytes / payload rate + SWD clocks / SWD frequency`,
//! plus whatever bus stalls the flash model asks for. The constants are the
//! simulator's timing model: assumed, deliberately simple, the same for every
//! tool measured against it, and changed by no knob.

use std::time::Duration;

use super::model::{FlashStats, Nanos};

/// Link constants of one probe generation (assumed, see the module notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTiming {
    /// Fixed cost of one command round trip.
    pub round_trip: Nanos,
    /// Payload rate on the wire, bytes per second, each direction.
    pub bytes_per_sec: u64,
}

impl LinkTiming {
    /// ST-LINK/V2 and V2-1, USB full speed: 0.30 ms, 1.0 MB/s.
    pub const FULL_SPEED: LinkTiming = LinkTiming { round_trip: 300_000, bytes_per_sec: 1_000_000 };
    /// STLINK-V3, USB high speed: 0.15 ms, 30 MB/s.
    pub const HIGH_SPEED: LinkTiming = LinkTiming { round_trip: 150_000, bytes_per_sec: 30_000_000 };

    /// Time for `bytes` of payload.
    pub fn payload(&self, bytes: u64) -> Nanos {
        (bytes as u128 * 1_000_000_000 / self.bytes_per_sec as u128) as Nanos
    }
}

/// SWD clocks per memory access with address auto-increment, any width
/// (assumed).
pub const SWD_CLOCKS_MEM: u64 = 48;
/// SWD clocks per single debug-register access (`35`/`36`) (assumed).
pub const SWD_CLOCKS_REG: u64 = 96;

/// Time for `clocks` SWD clocks at `khz`.
pub fn swd_time(clocks: u64, khz: u32) -> Nanos {
    (clocks as u128 * 1_000_000 / khz.max(1) as u128) as Nanos
}

/// Timeline of one command's SWD phase. SWD clocks are summed and converted
/// once, so a run of accesses costs exactly `clocks / f` without per-access
/// rounding; a stall restarts the sum at the stall's end.
#[derive(Debug, Clone, Copy)]
pub struct SwdTimer {
    base: Nanos,
    clocks: u64,
    khz: u32,
}

impl SwdTimer {
    pub fn new(start: Nanos, khz: u32) -> SwdTimer {
        SwdTimer { base: start, clocks: 0, khz }
    }

    pub fn now(&self) -> Nanos {
        self.base + swd_time(self.clocks, self.khz)
    }

    pub fn clocks(&mut self, n: u64) {
        self.clocks += n;
    }

    /// The bus holds the access until `until` (flash busy).
    pub fn stall_to(&mut self, until: Nanos) {
        if until > self.now() {
            self.base = until;
            self.clocks = 0;
        }
    }
}

/// The simulator's clock.
#[derive(Debug, Clone)]
pub struct Clock {
    pub now: Nanos,
    pub link: LinkTiming,
}

impl Clock {
    pub fn new(link: LinkTiming) -> Clock {
        Clock { now: 0, link }
    }

    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.now)
    }

    pub fn sleep(&mut self, d: Duration) {
        self.now = self.now.saturating_add(d.as_nanos().min(u64::MAX as u128) as u64);
    }
}

/// What one run cost on the modeled timeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Modeled time since the simulator was opened.
    pub modeled: Duration,
    /// Command blocks received.
    pub commands: u64,
    /// Bytes written by the host (command blocks and data phases).
    pub bytes_out: u64,
    /// Bytes delivered to the host (replies and read data).
    pub bytes_in: u64,
    /// Sector/page erases (from the flash model).
    pub erases: u64,
    /// Bank/mass erases (from the flash model).
    pub mass_erases: u64,
    /// Flash programming operations (from the flash model).
    pub words: u64,
    /// Data EEPROM writes (from the flash model; L0/L1).
    pub eeprom_writes: u64,
}

impl RunStats {
    pub fn new(modeled: Nanos, commands: u64, bytes_out: u64, bytes_in: u64, flash: &FlashStats) -> RunStats {
        RunStats {
            modeled: Duration::from_nanos(modeled),
            commands,
            bytes_out,
            bytes_in,
            erases: flash.erases,
            mass_erases: flash.mass_erases,
            words: flash.words,
            eeprom_writes: flash.eeprom_writes,
        }
    }

    /// One line, e.g. "modeled 1.234 s, 512 commands, 1.0 MiB out, 12 KiB in,
    /// 8 erases, 65536 words".
    pub fn summary(&self) -> String {
        let mut s = format!(
            "modeled {:.3} s, {} commands, {} out, {} in, {} erases",
            self.modeled.as_secs_f64(),
            self.commands,
            human_bytes(self.bytes_out),
            human_bytes(self.bytes_in),
            self.erases
        );
        if self.mass_erases != 0 {
            s.push_str(&format!(", {} mass erases", self.mass_erases));
        }
        s.push_str(&format!(", {} words", self.words));
        if self.eeprom_writes != 0 {
            s.push_str(&format!(", {} EEPROM writes", self.eeprom_writes));
        }
        s
    }
}

fn human_bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let f = n as f64;
    if n < 1024 {
        format!("{n} B")
    } else if f < KIB * KIB {
        if f < 10.0 * KIB {
            format!("{:.1} KiB", f / KIB)
        } else {
            format!("{:.0} KiB", f / KIB)
        }
    } else {
        format!("{:.1} MiB", f / (KIB * KIB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_and_swd_times_follow_the_model() {
        assert_eq!(LinkTiming::FULL_SPEED.payload(6144), 6_144_000);
        assert_eq!(LinkTiming::HIGH_SPEED.payload(30), 1_000);
        assert_eq!(swd_time(48, 4000), 12_000);
        assert_eq!(swd_time(96, 1800), 53_333);
    }

    #[test]
    fn swd_timer_sums_clocks_without_per_access_rounding_and_honours_stalls() {
        let mut t = SwdTimer::new(1_000, 1800);
        for _ in 0..3 {
            t.clocks(48);
        }
        assert_eq!(t.now(), 1_000 + 80_000, "144 clocks at 1.8 MHz = 80 µs");
        t.stall_to(500);
        assert_eq!(t.now(), 81_000, "a stall into the past changes nothing");
        t.stall_to(200_000);
        t.clocks(48);
        assert_eq!(t.now(), 200_000 + 26_666);
    }

    #[test]
    fn summary_is_one_readable_line() {
        let s = RunStats {
            modeled: Duration::from_millis(1234),
            commands: 512,
            bytes_out: 1024 * 1024 + 10,
            bytes_in: 12 * 1024,
            erases: 8,
            mass_erases: 0,
            words: 65536,
            eeprom_writes: 0,
        };
        assert_eq!(s.summary(), "modeled 1.234 s, 512 commands, 1.0 MiB out, 12 KiB in, 8 erases, 65536 words");
        let t = RunStats { bytes_out: 100, bytes_in: 2048, mass_erases: 1, ..Default::default() };
        assert_eq!(t.summary(), "modeled 0.000 s, 0 commands, 100 B out, 2.0 KiB in, 0 erases, 1 mass erases, 0 words");
        let e = RunStats { eeprom_writes: 3, ..Default::default() };
        assert!(e.summary().ends_with(", 0 words, 3 EEPROM writes"), "{}", e.summary());
    }
}
