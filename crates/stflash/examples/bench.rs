//! Speed benchmark on the simulator's modeled timeline. Its times come from the
//! simulator's timing model, which is assumed, not measured: a command round
//! trip of 0.30 ms on V2 and 0.15 ms on V3, 48 SWD clocks per memory word, and
//! recalled datasheet typical flash times that were not checked against ST's
//! datasheets (see [`Part`]).
//!
//! Run: `cargo run --release -p stflash --example bench` (add `-- --quick` to skip the
//! st-flash-style baseline, the slowest row to simulate).
//!
//! Every workload runs the real write path (connect, plan, routine, verify,
//! detach) against a simulated ST-LINK/V2 and STLINK-V3 with the chip behind
//! it, and prints one table of the operation's own cost (connecting,
//! identifying and the final reset are a fixed cost per session, printed
//! below the table): modeled seconds, USB commands, KiB/s, the floor (see
//! [`floor`]) and the ratio to it; then, for the rows whose floor both banks
//! at once, bank erases or fast rows lower, the floor without them. Chips
//! start with an older, different firmware in the flash, as on a desk where a
//! board is reflashed.
//!
//! Images are firmware-like (see [`firmware`]): code and initialised data,
//! zero-filled and constant tables, 0xFF padding between sections, as
//! `objcopy -O binary` makes them. Rows marked "random data" use
//! incompressible pseudo-random bytes instead, so that nobody mistakes what
//! the repeated-word and padding savings contribute. Rows marked "blank"
//! write onto an erased chip.
//!
//! The simulated H7 flash CRC unit computes what was measured on an H753
//! (initial value 0xB6C0AE5A); the rows marked "CRC init 0x…" give it an
//! initial value chosen at random for this run, to show that nothing is
//! hard-coded. The last rows run the slow reset clocks (L4 4 MHz, which
//! stflash raises to HSI16 for the write, L0 2.097 MHz, F1 8 MHz) with each
//! way of verifying: the CRC peripheral, the
//! routine's software CRC (the peripheral switched off with a simulator
//! knob), and reading back.

use std::time::Duration;

use stflash::flash::{engine, NoProgress};
use stflash::mcu::ConnectOptions;
use stflash::ops::image::Image;
use stflash::ops::write::{self, WriteOptions};
use stflash::ops::{read, Session};
use stflash_sim::{self as sim, FaultPlan, RunStats, SimHandle, SimProbeKind, SimSpec};

const KIB: u32 = 1024;
const MIB: u32 = 1024 * 1024;

/// Flash timing of a part, the floor's constants: the same assumed values as the
/// simulator's timing model (H7A3 25 µs per 16-byte flash word, 5 ms per
/// 8 KiB sector and 0.5 s per bank; H743 100 µs per 32-byte word, 1 s per
/// 128 KiB sector and 8 s per bank; F103 52.5 µs per half-word and 30 ms per
/// 1 KiB page or mass erase; F411 at x32 16 µs per word, 250 ms, 550 ms, 1 s
/// per 16, 64, 128 KiB sector, 8 s per MiB of mass erase; the L4 class
/// 82 µs per double word, 22 ms per page and per mass erase of one or both
/// banks, 1.91 ms per fast row of 32 double words, DS12288 Table 47).
/// Recalled datasheet typical values (but the L4 class's, from the G474's
/// datasheet), not checked against ST's datasheets.
struct Part {
    sim: &'static str,
    unit: u32,
    unit_time: Duration,
    /// Erase time of the sector containing an address (offset from 0x08000000).
    sector: fn(u32) -> (u32, u32, Duration),
    /// Flash with ECC: a word that reads erased may have been programmed
    /// with the erased value, so a sector to be written is erased even when
    /// it reads blank (stflash's rule, and the floor's).
    ecc: bool,
    /// The value of erased flash.
    erased: u8,
    /// Banks: offset from 0x08000000 and size.
    banks: &'static [(u32, u32)],
    /// Time to erase one bank whole, where the part can (`None`: it cannot).
    bank_erase: Option<Duration>,
    /// Each bank has its own controller: they erase and program at once
    /// (H7). Otherwise one operation at a time, and a mass erase of both
    /// banks takes as long as one bank's (the L4 class).
    independent: bool,
    /// Fast programming: bytes of a row and its time, in a bank erased whole.
    fast: Option<(u32, Duration)>,
    /// Simulator options of a fresh chip (`STFLASH_SIM_OPTS`).
    options: &'static [(&'static str, &'static str)],
}

const KIB1: u32 = KIB;

fn h7a3_sector(off: u32) -> (u32, u32, Duration) {
    let base = off & !(8 * KIB - 1);
    (base, 8 * KIB, Duration::from_millis(5))
}

fn h743_sector(off: u32) -> (u32, u32, Duration) {
    let base = off & !(128 * KIB - 1);
    (base, 128 * KIB, Duration::from_secs(1))
}

fn f103_page(off: u32) -> (u32, u32, Duration) {
    (off & !(KIB - 1), KIB, Duration::from_millis(30))
}

fn f411_sector(off: u32) -> (u32, u32, Duration) {
    match off {
        o if o < 64 * KIB => (o & !(16 * KIB - 1), 16 * KIB, Duration::from_millis(250)),
        o if o < 128 * KIB => (64 * KIB, 64 * KIB, Duration::from_millis(550)),
        o => (o & !(128 * KIB - 1), 128 * KIB, Duration::from_secs(1)),
    }
}

/// Two banks of 1 MiB, bank 2 at 0x08100000 (H7).
const H7_BANKS: &[(u32, u32)] = &[(0, MIB), (MIB, MIB)];

const H7A3: Part = Part {
    sim: "stm32h7a3zi",
    unit: 16,
    unit_time: Duration::from_micros(25),
    sector: h7a3_sector,
    ecc: true,
    erased: 0xFF,
    banks: H7_BANKS,
    bank_erase: Some(Duration::from_millis(500)),
    independent: true,
    fast: None,
    options: &[],
};
const H743: Part = Part {
    sim: "stm32h743zi",
    unit: 32,
    unit_time: Duration::from_micros(100),
    sector: h743_sector,
    ecc: true,
    erased: 0xFF,
    banks: H7_BANKS,
    bank_erase: Some(Duration::from_secs(8)),
    independent: true,
    fast: None,
    options: &[],
};
const F103: Part = Part {
    sim: "stm32f103c8",
    unit: 2,
    unit_time: Duration::from_nanos(52_500),
    sector: f103_page,
    ecc: false,
    erased: 0xFF,
    banks: &[(0, 64 * KIB1)],
    bank_erase: Some(Duration::from_millis(30)),
    independent: false,
    fast: None,
    options: &[],
};
const F411: Part = Part {
    sim: "stm32f411re",
    unit: 4,
    unit_time: Duration::from_micros(16),
    sector: f411_sector,
    ecc: false,
    erased: 0xFF,
    banks: &[(0, 512 * KIB1)],
    bank_erase: Some(Duration::from_secs(4)),
    independent: false,
    fast: None,
    options: &[],
};

fn page_2k(off: u32) -> (u32, u32, Duration) {
    (off & !(2 * KIB - 1), 2 * KIB, Duration::from_millis(22))
}

fn page_4k(off: u32) -> (u32, u32, Duration) {
    (off & !(4 * KIB - 1), 4 * KIB, Duration::from_millis(22))
}

fn l053_page(off: u32) -> (u32, u32, Duration) {
    (off & !127, 128, Duration::from_micros(3200))
}

/// A fast row of 32 double words: 1.91 ms (DS12288 Table 47).
const ROW32: (u32, Duration) = (256, Duration::from_micros(1910));
/// 64 double words (L4+, WB), at the same rate per double word (assumed).
const ROW64: (u32, Duration) = (512, Duration::from_micros(3820));

/// A part of the L4 class: 82 µs per double word, 22 ms per page and per
/// mass erase.
const fn l4_class(
    sim: &'static str,
    sector: fn(u32) -> (u32, u32, Duration),
    banks: &'static [(u32, u32)],
    fast: (u32, Duration),
) -> Part {
    Part {
        sim,
        unit: 8,
        unit_time: Duration::from_micros(82),
        sector,
        ecc: true,
        erased: 0xFF,
        banks,
        bank_erase: Some(Duration::from_millis(22)),
        independent: false,
        fast: Some(fast),
        options: &[],
    }
}

/// L476RG: two banks of 512 KiB.
const L476: Part = l4_class("stm32l476rg", page_2k, &[(0, 512 * KIB1), (512 * KIB1, 512 * KIB1)], ROW32);
/// G474RE in dual-bank mode (the factory setting): two banks of 256 KiB.
const G474: Part = l4_class("stm32g474re", page_2k, &[(0, 256 * KIB1), (256 * KIB1, 256 * KIB1)], ROW32);
/// L4R5ZI in dual-bank mode: two banks of 1 MiB, 4 KiB pages, 64-double-word rows.
const L4R5: Part = l4_class("stm32l4r5zi", page_4k, &[(0, MIB), (MIB, MIB)], ROW64);
const G071: Part = l4_class("stm32g071rb", page_2k, &[(0, 128 * KIB1)], ROW32);
const C031: Part = l4_class("stm32c031c6", page_2k, &[(0, 32 * KIB1)], ROW32);
const WLE5: Part = l4_class("stm32wle5jc", page_2k, &[(0, 256 * KIB1)], ROW32);
/// WB55RG with no CPU2 secure area (`fsd=1`): a mass erase reaches all of it.
const WB55: Part = Part { options: &[("fsd", "1")], ..l4_class("stm32wb55rg", page_4k, &[(0, MIB)], ROW64) };

/// Half pages of 64 bytes, 3.2 ms each (the datasheets' flash memory characteristics); no mass erase.
const L053: Part = Part {
    sim: "stm32l053r8",
    unit: 64,
    unit_time: Duration::from_micros(3200),
    sector: l053_page,
    ecc: true,
    erased: 0x00,
    banks: &[(0, 64 * KIB1)],
    bank_erase: None,
    independent: false,
    fast: None,
    options: &[],
};

/// The part as the first floor saw it: one bank at a time, sector by
/// sector, programmed one unit at a time.
fn single_bank(part: &Part) -> Part {
    Part { independent: false, bank_erase: None, fast: None, ..*part }
}

fn max_swd_hz(probe: SimProbeKind) -> f64 {
    if probe.is_v3() {
        24e6
    } else {
        4e6
    }
}

fn probe_name(probe: SimProbeKind) -> &'static str {
    if probe.is_v3() {
        "V3"
    } else {
        "V2"
    }
}

/// A deterministic firmware-like image of `len` bytes: sections as a linker
/// lays them out and `objcopy -O binary` fills the gaps. By bytes (each
/// section's size varies by up to ±10% with the seed):
///
/// | share | content |
/// |---:|---|
/// | 55% | code and initialised data: incompressible bytes (three sections) |
/// | 15% | a zero-filled table (an array initialised to 0) |
/// | 5% | a table of one repeated 32-bit word |
/// | 25% | 0xFF padding between sections (three gaps) |
///
/// Two seeds give two builds with the same kind of layout but shifted
/// sections, as an older firmware on the chip is.
fn firmware(len: usize, seed: u32) -> Vec<u8> {
    enum Kind {
        Code,
        Zero,
        Word,
        Pad,
    }
    const LAYOUT: [(Kind, f64); 8] = [
        (Kind::Code, 0.30),
        (Kind::Pad, 0.08),
        (Kind::Code, 0.15),
        (Kind::Word, 0.05),
        (Kind::Pad, 0.07),
        (Kind::Code, 0.10),
        (Kind::Zero, 0.15),
        (Kind::Pad, 0.10),
    ];
    let jitter = pattern(LAYOUT.len(), seed ^ 0x5EED);
    let sizes: Vec<f64> =
        LAYOUT.iter().zip(&jitter).map(|((_, share), &j)| share * (0.9 + 0.2 * j as f64 / 255.0)).collect();
    let total: f64 = sizes.iter().sum();
    let code = pattern(len, seed);
    let word = (seed.wrapping_mul(0x9E37_79B9) | 0x0101_0101).to_le_bytes();
    let mut out = Vec::with_capacity(len);
    for (i, (kind, _)) in LAYOUT.iter().enumerate() {
        let end = if i + 1 == LAYOUT.len() {
            len
        } else {
            // Sections start on 16-byte boundaries.
            (out.len() + (sizes[i] / total * len as f64) as usize) & !15
        };
        let n = end.min(len).saturating_sub(out.len());
        match kind {
            Kind::Code => out.extend_from_slice(&code[out.len()..out.len() + n]),
            Kind::Zero => out.resize(out.len() + n, 0),
            Kind::Word => out.extend(word.iter().copied().cycle().take(n)),
            Kind::Pad => out.resize(out.len() + n, 0xFF),
        }
    }
    out
}

/// Deterministic incompressible data.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
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

/// The floor: per bank, the bytes of the sectors that must change and their
/// erases (not of blank sectors, except on flash with ECC: reading cannot
/// tell erased from programmed with the erased value), or, where the part
/// erases a bank whole and that is less work, one bank erase and every byte
/// of the bank's sectors that hold data, in fast rows where the part has
/// them. The bytes cross SWD once at the probe's maximum clock (48 clocks
/// per 4 bytes), overlapped with programming. Banks with their own
/// controllers (H7) erase and program at once: the longest erase plus the
/// longer of SWD and the longest programming; with one controller it all
/// adds up, a mass erase of both banks counting once (times from [`Part`]).
fn floor(part: &Part, probe: SimProbeKind, addr: u32, image: &[u8], old: &[u8]) -> Duration {
    let start = addr - 0x0800_0000;
    let end = start + image.len() as u32;
    let program = |bytes: u64, fast: bool| match part.fast.filter(|_| fast) {
        Some((row, t)) => t * bytes.div_ceil(row as u64) as u32,
        None => part.unit_time * (bytes / part.unit as u64) as u32,
    };
    // Per bank: (erase, programming, bytes sent, erased whole).
    let mut work: Vec<(Duration, Duration, u64, bool)> = Vec::new();
    for &(base, size) in part.banks {
        let (lo, hi) = (start.max(base), end.min(base + size));
        if lo >= hi {
            continue;
        }
        let (mut changed, mut erase, mut held) = (0u64, Duration::ZERO, 0u64);
        let mut off = lo;
        while off < hi {
            let (sector, len, t) = (part.sector)(off);
            let (a, b) = ((sector.max(lo) - start) as usize, ((sector + len).min(hi) - start) as usize);
            if image[a..b] != old[a..b] {
                changed += (b - a) as u64;
                if part.ecc || old[a..b].iter().any(|&x| x != part.erased) {
                    erase += t;
                }
            }
            if image[a..b].iter().any(|&x| x != part.erased) {
                held += (b - a) as u64;
            }
            off = sector + len;
        }
        let by_sector = (erase, program(changed, false), changed, false);
        let whole = part.bank_erase.filter(|_| !erase.is_zero()).map(|e| (e, program(held, true), held, true));
        work.push(match whole {
            Some(w) if w.0 + w.1 < by_sector.0 + by_sector.1 => w,
            _ => by_sector,
        });
    }
    let bytes: u64 = work.iter().map(|w| w.2).sum();
    let swd = Duration::from_secs_f64(bytes as f64 * 12.0 / max_swd_hz(probe));
    if part.independent {
        let erase = work.iter().map(|w| w.0).max().unwrap_or_default();
        let program = work.iter().map(|w| w.1).max().unwrap_or_default();
        return erase + swd.max(program);
    }
    let mass = work.iter().filter(|w| w.3).map(|w| w.0).max().unwrap_or_default();
    let erase: Duration = work.iter().filter(|w| !w.3).map(|w| w.0).sum::<Duration>() + mass;
    let program: Duration = work.iter().map(|w| w.1).sum();
    erase + swd.max(program)
}

struct Row {
    workload: String,
    probe: SimProbeKind,
    stats: RunStats,
    /// How the write was verified (`WriteReport::verify_method`).
    verify: &'static str,
    bytes: u64,
    floor: Option<Duration>,
    target: String,
    met: Option<bool>,
}

fn open(part: &Part, probe: SimProbeKind, speed_khz: Option<u32>, faults: &str) -> Option<(Session, SimHandle)> {
    if !sim::chip_names().contains(&part.sim) {
        return None;
    }
    let mut spec = SimSpec::new(part.sim);
    spec.probe = probe;
    spec.options = part.options.iter().map(|&(k, v)| (k.to_string(), v.to_string())).collect();
    spec.faults = FaultPlan::parse(faults).unwrap_or_else(|e| panic!("{faults}: {e}"));
    let (transport, handle) = sim::open(&spec).unwrap_or_else(|e| panic!("{}: {e}", part.sim));
    let connect = ConnectOptions { speed_khz, ..Default::default() };
    let mut session = Session::open(Box::new(transport), &connect).unwrap_or_else(|e| panic!("{}: {e}", part.sim));
    // Keep the benchmark's journals out of the user's state directory.
    session.journal_dir = Some(std::env::temp_dir().join(format!("stflash-bench-{}", std::process::id())));
    // Simulated, but its family's driver may not have landed yet.
    session.flash.as_ref()?;
    Some((session, handle))
}

/// How a write row runs: simulator knobs and write options.
#[derive(Clone, Copy, Default)]
struct How {
    faults: &'static str,
    readback: bool,
}

/// Write `image` at `addr` over `old`, as `stflash write` does; the modeled
/// cost of the operation (connect and detach excluded) and how it was verified.
fn run_write(
    part: &Part,
    probe: SimProbeKind,
    addr: u32,
    image: &[u8],
    old: &[u8],
    how: &How,
) -> Option<(RunStats, &'static str)> {
    // The chip already holds `old` (the back door costs no modeled time).
    let (mut s, handle) = open(part, probe, None, how.faults)?;
    assert!(handle.poke(addr, old), "pre-fill {}", part.sim);
    let connected = handle.stats();
    let img = Image::from_binary(image.to_vec(), addr).expect("image");
    let opts = WriteOptions { readback: how.readback, ..WriteOptions::default() };
    let report =
        write::write(&mut s, &img, &opts, &mut NoProgress).unwrap_or_else(|e| panic!("{} write: {e}", part.sim));
    assert!(report.verified);
    let stats = since(&handle.stats(), &connected);
    if std::env::var("BENCH_DEBUG").is_ok() {
        eprintln!(
            "{} {}: {} (erased {}, skipped {})",
            part.sim,
            how.faults,
            stats.summary(),
            report.erased.len(),
            report.skipped.len()
        );
    }
    s.finish(true).expect("finish");
    assert_eq!(handle.peek(addr, image.len()).as_deref(), Some(image), "{}: flash content", part.sim);
    Some((stats, report.verify_method.unwrap_or("—")))
}

/// The cost of the operation alone: `after - before` (connect, reset and
/// detach are the same fixed cost for every tool and workload).
fn since(after: &RunStats, before: &RunStats) -> RunStats {
    RunStats {
        modeled: after.modeled - before.modeled,
        commands: after.commands - before.commands,
        bytes_out: after.bytes_out - before.bytes_out,
        bytes_in: after.bytes_in - before.bytes_in,
        erases: after.erases - before.erases,
        mass_erases: after.mass_erases - before.mass_erases,
        words: after.words - before.words,
        eeprom_writes: after.eeprom_writes - before.eeprom_writes,
    }
}

/// 1 MiB written the way st-flash does it on H7: 64-byte WRITEMEMs, each
/// followed by its status check (GETLASTRWSTATUS2) and a poll of the bank's
/// status register until BSY clears, then a read-back verify in 6 KiB
/// READMEMs whose status st-flash never checks, all at 1.8 MHz (stlink at
/// commit 733893a: H7 writes src/stlink-lib/flash_loader.c:845-858, each
/// WRITEMEM's status check usb.c:314-334, unchecked READMEMs usb.c:714-735 in
/// 6 KiB chunks common_flash.c:1423, the V2 default clock usb.c:611-698).
/// Every byte of the image is written.
fn st_flash_style(part: &Part, probe: SimProbeKind, addr: u32, image: &[u8], old: &[u8]) -> Option<RunStats> {
    let (mut s, handle) = open(part, probe, Some(1800), "")?;
    assert!(handle.poke(addr, old));
    let connected = handle.stats();
    let layout = s.layout.clone();
    let Session { target: t, flash, .. } = &mut s;
    let ctrl = flash.as_mut().expect("driver");
    let sectors = layout.sectors_in(addr, image.len() as u64);
    let banks: Vec<u8> = {
        let mut b: Vec<u8> = sectors.iter().map(|s| s.bank).collect();
        b.dedup();
        b
    };
    for &b in &banks {
        ctrl.unlock(t, b).unwrap();
    }
    for sector in &sectors {
        engine::erase_sector(t, ctrl.as_ref(), sector).unwrap();
    }
    for &b in &banks {
        engine::run_ops(t, ctrl.as_ref(), &ctrl.program_setup_ops(b), "setup").unwrap();
    }
    for (i, chunk) in image.chunks(64).enumerate() {
        let a = addr + 64 * i as u32;
        t.write_mem(a, chunk).unwrap();
        let bank = layout.bank_of(a).unwrap();
        let status = ctrl.status(bank);
        while t.read32(status.addr).unwrap() & status.busy != 0 {}
    }
    for &b in &banks {
        engine::run_ops(t, ctrl.as_ref(), &ctrl.program_teardown_ops(b), "teardown").unwrap();
        ctrl.lock(t, b).unwrap();
    }
    let mut back = vec![0u8; 6144];
    for (i, want) in image.chunks(6144).enumerate() {
        let got = &mut back[..want.len()];
        t.link_mut().read_mem_unchecked(addr + 6144 * i as u32, got).unwrap();
        assert_eq!(got, want, "baseline verify");
    }
    let stats = since(&handle.stats(), &connected);
    s.finish(true).unwrap();
    Some(stats)
}

fn run_read(part: &Part, probe: SimProbeKind, addr: u32, len: u32) -> Option<RunStats> {
    let (mut s, handle) = open(part, probe, None, "")?;
    let connected = handle.stats();
    let data = read::read(&mut s, addr, len, &mut NoProgress).expect("read");
    assert_eq!(data.len(), len as usize);
    let stats = since(&handle.stats(), &connected);
    s.finish(false).unwrap();
    Some(stats)
}

/// A flash CRC initial value chosen at random for this run (never the
/// measured one).
fn random_init() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    let v = h.finish() as u32;
    if v == 0xB6C0_AE5A {
        v ^ 1
    } else {
        v
    }
}

/// The rows measured so far, and the floors the two-bank and fast modes
/// lower (name, floor without them, floor with them).
#[derive(Default)]
struct Bench {
    rows: Vec<Row>,
    earlier: Vec<(String, Duration, Duration)>,
}

impl Bench {
    /// A write row; returns its modeled time.
    #[allow(clippy::too_many_arguments)]
    fn write_row(
        &mut self,
        probe: SimProbeKind,
        name: String,
        part: &Part,
        addr: u32,
        image: &[u8],
        old: &[u8],
        how: How,
    ) -> Option<Duration> {
        if !wanted(&name) {
            return None;
        }
        let f = floor(part, probe, addr, image, old);
        let single = floor(&single_bank(part), probe, addr, image, old);
        if single != f {
            self.earlier.push((format!("{name} ({})", probe_name(probe)), single, f));
        }
        let Some((stats, verify)) = run_write(part, probe, addr, image, old, &how) else {
            println!("({name}: {} is not simulated or has no flash driver yet, skipped)", part.sim);
            return None;
        };
        let ratio = stats.modeled.as_secs_f64() / f.as_secs_f64();
        let modeled = stats.modeled;
        self.rows.push(Row {
            workload: name,
            probe,
            bytes: image.len() as u64,
            floor: Some(f),
            target: "≤ 1.3× floor".into(),
            met: Some(ratio <= 1.3),
            stats,
            verify,
        });
        Some(modeled)
    }

    /// A re-flash row after a full write that took `full`: `img` over
    /// `image`, within `limit` of the full write's time.
    #[allow(clippy::too_many_arguments)]
    fn reflash_row(
        &mut self,
        probe: SimProbeKind,
        workload: String,
        part: &Part,
        img: &[u8],
        image: &[u8],
        full: Duration,
        limit: f64,
        how: How,
    ) {
        if let Some((stats, verify)) = run_write(part, probe, 0x0800_0000, img, image, &how) {
            let share = stats.modeled.as_secs_f64() / full.as_secs_f64();
            self.rows.push(Row {
                workload,
                probe,
                bytes: img.len() as u64,
                floor: Some(floor(part, probe, 0x0800_0000, img, image)),
                target: format!("< {:.0}% of full write", limit * 100.0),
                met: Some(share < limit),
                stats,
                verify,
            });
        }
    }

    /// Re-flash rows after a full write that took `full`: unchanged, then
    /// one byte changed (at `at`).
    #[allow(clippy::too_many_arguments)]
    fn reflash_rows(
        &mut self,
        probe: SimProbeKind,
        name: &str,
        part: &Part,
        image: &[u8],
        at: usize,
        full: Duration,
        how: How,
    ) {
        for (what, limit, change) in [("unchanged", 0.10, false), ("1 byte changed", 0.15, true)] {
            let workload = format!("re-flash {name}, {what}");
            if !wanted(&workload) {
                continue;
            }
            let mut img = image.to_vec();
            if change {
                img[at] ^= 0x5A;
            }
            self.reflash_row(probe, workload, part, &img, image, full, limit, how);
        }
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let mut bench = Bench::default();
    let full_h7a3 = headline_rows(&mut bench);
    fast_mode_rows(&mut bench);
    blank_and_reflash_rows(&mut bench);
    unmeasured_crc_init_rows(&mut bench);
    slow_clock_rows(&mut bench);
    let random_h7a3 = random_data_rows(&mut bench);
    if !quick && wanted("st-flash style") {
        st_flash_rows(&mut bench, full_h7a3, random_h7a3);
    }
    print_table(&bench.rows);
    println!("\nFloors these modes lower (one bank at a time, sector erases, normal programming → the floor above):\n");
    for (name, single, f) in &bench.earlier {
        println!("* {name}: {:.3} s → {:.3} s", single.as_secs_f64(), f.as_secs_f64());
    }
    print_session_cost();
}

/// The main rows on V2 and V3; returns the 1 MiB H7A3 V2 write's time.
fn headline_rows(bench: &mut Bench) -> Duration {
    let published = How::default();
    let mut full_h7a3 = [Duration::ZERO; 2];
    for (pi, probe) in [SimProbeKind::V2, SimProbeKind::V3].into_iter().enumerate() {
        let img1m = firmware(MIB as usize, 1);
        let old1m = firmware(MIB as usize, 2);
        if let Some(t) = bench.write_row(probe, "1 MiB to H7A3".into(), &H7A3, 0x0800_0000, &img1m, &old1m, published) {
            full_h7a3[pi] = t;
        }
        for (name, part, addr, len, seed) in [
            ("2 MiB over both H7A3 banks", &H7A3, 0x0800_0000, 2 * MIB, 3),
            ("1 MiB across both H743 banks (at 0x08080000)", &H743, 0x0808_0000, MIB, 21),
            ("20 KiB at 0x08002000 on H7A3", &H7A3, 0x0800_2000, 20 * KIB, 5),
        ] {
            let (image, old) = (firmware(len as usize, seed), firmware(len as usize, seed + 1));
            bench.write_row(probe, name.into(), part, addr, &image, &old, published);
        }
        bench.write_row(probe, "1 MiB to H743".into(), &H743, 0x0800_0000, &img1m, &old1m, published);
        for (name, part, len, seed) in
            [("64 KiB to F103", &F103, 64 * KIB, 7), ("512 KiB to F411", &F411, 512 * KIB, 9)]
        {
            let (image, old) = (firmware(len as usize, seed), firmware(len as usize, seed + 1));
            bench.write_row(probe, name.into(), part, 0x0800_0000, &image, &old, published);
        }
        bench.reflash_rows(probe, "1 MiB H7A3", &H7A3, &img1m, 300_001, full_h7a3[pi], published);
        if wanted("read 1 MiB back (H7A3)") {
            read_back_row(bench, probe);
        }
    }
    full_h7a3[0]
}

fn read_back_row(bench: &mut Bench, probe: SimProbeKind) {
    if let Some(stats) = run_read(&H7A3, probe, 0x0800_0000, MIB) {
        let f = Duration::from_secs_f64(MIB as f64 * 12.0 / max_swd_hz(probe));
        bench.rows.push(Row {
            workload: "read 1 MiB back (H7A3)".into(),
            probe,
            bytes: MIB as u64,
            floor: Some(f),
            target: "—".into(),
            met: None,
            stats,
            verify: "—",
        });
    }
}

/// Single-controller dual-bank parts across both banks, and fast
/// programming (FSTPG) on every family of the L4 class: each bank the image
/// covers (or whose other pages are blank) is erased whole and programmed in
/// rows.
fn fast_mode_rows(bench: &mut Bench) {
    for (name, part, addr, len, seed) in [
        ("512 KiB across both G474 banks", &G474, 0x0800_0000, 512 * KIB, 23),
        ("512 KiB across both L476 banks (at 0x08040000)", &L476, 0x0804_0000, 512 * KIB, 25),
        ("1 MiB to L4R5 bank 1, fast rows of 64", &L4R5, 0x0800_0000, MIB, 27),
        ("128 KiB to G071, fast rows", &G071, 0x0800_0000, 128 * KIB, 29),
        ("32 KiB to C031, fast rows", &C031, 0x0800_0000, 32 * KIB, 31),
        ("256 KiB to WLE5, fast rows", &WLE5, 0x0800_0000, 256 * KIB, 33),
        ("1 MiB to WB55 (no CPU2 area), fast rows of 64", &WB55, 0x0800_0000, MIB, 35),
    ] {
        let image = firmware(len as usize, seed);
        let old = firmware(len as usize, seed + 1);
        bench.write_row(SimProbeKind::V2, name.into(), part, addr, &image, &old, How::default());
    }
}

/// Blank chips, and re-flashing the other chips.
fn blank_and_reflash_rows(bench: &mut Bench) {
    let (v2, published) = (SimProbeKind::V2, How::default());
    for (name, part, len, seed) in [
        ("1 MiB to blank H7A3", &H7A3, MIB, 1),
        ("1 MiB to blank H743", &H743, MIB, 1),
        ("64 KiB to blank F103", &F103, 64 * KIB, 7),
        ("512 KiB to blank F411", &F411, 512 * KIB, 9),
    ] {
        let image = firmware(len as usize, seed);
        bench.write_row(v2, name.into(), part, 0x0800_0000, &image, &vec![part.erased; len as usize], published);
    }
    for (name, part, len, seed, old_seed, at) in [
        ("1 MiB H743", &H743, MIB, 1, 2, 300_001),
        ("64 KiB F103", &F103, 64 * KIB, 7, 8, 20_001),
        ("512 KiB F411", &F411, 512 * KIB, 9, 10, 20_001),
    ] {
        let image = firmware(len as usize, seed);
        let old = firmware(len as usize, old_seed);
        let workload = format!("{name}, full write (for the re-flash rows)");
        let Some(full) = bench.write_row(v2, workload, part, 0x0800_0000, &image, &old, published) else {
            continue;
        };
        bench.reflash_rows(v2, name, part, &image, at, full, published);
        if part.sim == F411.sim {
            // A byte in a 128 KiB sector: its 1 s erase alone is 16% of the full write.
            let mut img = image.clone();
            img[200_001] ^= 0x5A;
            let workload = format!("re-flash {name}, 1 byte changed in a 128 KiB sector");
            bench.reflash_row(v2, workload, part, &img, &image, full, 0.15, published);
        }
    }
}

/// A flash CRC unit with an initial value nobody measured.
fn unmeasured_crc_init_rows(bench: &mut Bench) {
    let v2 = SimProbeKind::V2;
    let img1m = firmware(MIB as usize, 1);
    let init = random_init();
    let knob: &'static str = Box::leak(format!("flash_crc_init=0x{init:08X}").into_boxed_str());
    let random = How { faults: knob, ..How::default() };
    let tag = format!("CRC init 0x{init:08X}");
    let old = firmware(MIB as usize, 2);
    if let Some(full) = bench.write_row(v2, format!("1 MiB to H7A3, {tag}"), &H7A3, 0x0800_0000, &img1m, &old, random) {
        bench.reflash_rows(v2, &format!("1 MiB H7A3, {tag}"), &H7A3, &img1m, 300_001, full, random);
    }
    let blank = vec![0xFF; MIB as usize];
    bench.write_row(v2, format!("1 MiB to blank H7A3, {tag}"), &H7A3, 0x0800_0000, &img1m, &blank, random);
    bench.write_row(v2, format!("1 MiB to H743, {tag}"), &H743, 0x0800_0000, &img1m, &old, random);
}

/// Slow reset clocks: the routine's own time, with each way of verifying.
fn slow_clock_rows(bench: &mut Bench) {
    let published = How::default();
    let software = How { faults: "crc-peripheral=absent", ..How::default() };
    let readback = How { readback: true, ..How::default() };
    for (size, chip, part, len, seed) in [
        ("128 KiB", "L476 (4 MHz)", &L476, 128 * KIB, 11),
        ("64 KiB", "L053 (2.1 MHz)", &L053, 64 * KIB, 13),
        ("64 KiB", "F103 (8 MHz)", &F103, 64 * KIB, 7),
    ] {
        let image = firmware(len as usize, seed);
        let old = firmware(len as usize, seed + 1);
        for (how, what) in [(published, "CRC peripheral"), (software, "software CRC"), (readback, "read-back")] {
            let workload = format!("{size} to {chip}, {what}");
            let full = bench.write_row(SimProbeKind::V2, workload, part, 0x0800_0000, &image, &old, how);
            if let (Some(full), false) = (full, how.readback) {
                let name = format!("{size} {chip}, {what}");
                bench.reflash_rows(SimProbeKind::V2, &name, part, &image, len as usize / 3 + 1, full, how);
            }
        }
    }
}

/// Incompressible data, for reference: nothing to skip or fill. Returns the
/// 1 MiB H7A3 write's time.
fn random_data_rows(bench: &mut Bench) -> Duration {
    let (v2, published) = (SimProbeKind::V2, How::default());
    let (rnd1m, rnd_old) = (pattern(MIB as usize, 1), pattern(MIB as usize, 2));
    let random_h7a3 = bench
        .write_row(v2, "1 MiB to H7A3, random data".into(), &H7A3, 0x0800_0000, &rnd1m, &rnd_old, published)
        .unwrap_or_default();
    let (rnd20k, rnd20k_old) = (pattern(20 * KIB as usize, 5), pattern(20 * KIB as usize, 6));
    let name = "20 KiB at 0x08002000 on H7A3, random data".to_string();
    bench.write_row(v2, name, &H7A3, 0x0800_2000, &rnd20k, &rnd20k_old, published);
    random_h7a3
}

/// The st-flash method on the same images, against stflash's times.
fn st_flash_rows(bench: &mut Bench, full_h7a3: Duration, random_h7a3: Duration) {
    let v2 = SimProbeKind::V2;
    for (name, img, old, ours) in [
        ("1 MiB to H7A3, st-flash style", img1m_of(), firmware(MIB as usize, 2), full_h7a3),
        ("1 MiB to H7A3, random data, st-flash style", pattern(MIB as usize, 1), pattern(MIB as usize, 2), random_h7a3),
    ] {
        if let Some(stats) = st_flash_style(&H7A3, v2, 0x0800_0000, &img, &old) {
            let speedup = stats.modeled.as_secs_f64() / ours.as_secs_f64();
            bench.rows.push(Row {
                workload: format!("{name} (stflash {speedup:.1}× faster)"),
                probe: v2,
                bytes: MIB as u64,
                floor: None,
                target: "stflash ≥ 8× faster".into(),
                met: Some(speedup >= 8.0),
                stats,
                verify: "read-back",
            });
        }
    }
}

/// Connect and detach, which the table leaves out.
fn print_session_cost() {
    for probe in [SimProbeKind::V2, SimProbeKind::V3] {
        if let Some((s, handle)) = open(&H7A3, probe, None, "") {
            let connect = handle.stats();
            s.finish(true).unwrap();
            let total = handle.stats();
            println!(
                "\nSession cost on {} (H7A3), not in the table: connect and identify {:.1} ms ({} commands), \
                 reset and detach {:.1} ms ({} commands).",
                probe_name(probe),
                connect.modeled.as_secs_f64() * 1e3,
                connect.commands,
                (total.modeled - connect.modeled).as_secs_f64() * 1e3,
                total.commands - connect.commands
            );
        }
    }
}

/// Rows to run: those whose name contains `BENCH_ONLY` (all without it).
fn wanted(name: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| name.contains(&only))
}

/// The 1 MiB firmware-like image of the main rows.
fn img1m_of() -> Vec<u8> {
    firmware(MIB as usize, 1)
}

fn print_table(rows: &[Row]) {
    println!(
        "| workload | probe | verified by | modeled s | commands | KiB/s | floor s | ratio | target | met |\n\
         |---|---|---|---:|---:|---:|---:|---:|---|---|"
    );
    for r in rows {
        let s = r.stats.modeled.as_secs_f64();
        let kibs = r.bytes as f64 / 1024.0 / s;
        let (floor, ratio) = match r.floor {
            Some(f) if !f.is_zero() => (format!("{:.3}", f.as_secs_f64()), format!("{:.2}", s / f.as_secs_f64())),
            Some(_) => ("0".into(), "—".into()),
            None => ("—".into(), "—".into()),
        };
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        println!(
            "| {} | {} | {} | {:.3} | {} | {:.0} | {} | {} | {} | {} |",
            r.workload,
            probe_name(r.probe),
            r.verify,
            s,
            r.stats.commands,
            kibs,
            floor,
            ratio,
            r.target,
            met
        );
    }
}
