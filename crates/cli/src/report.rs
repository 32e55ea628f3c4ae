//! What a command did, collected while it runs: the source of both the
//! summary line on stderr and the `--json` document on stdout.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use stflash::flash::Sector;
use stflash::ops::check::{Checksum, Comparison};
use stflash::ops::erase::EraseReport;
use stflash::ops::image::{Format, Image};
use stflash::ops::options::WordValue;
use stflash::ops::write::WriteReport;
use stflash::ops::Session;
use stflash::text::count;
use stflash_sim::SimHandle;

/// Where a duration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// The simulator's modeled clock (what the operation would take on hardware).
    Modeled,
    /// Wall-clock time.
    Measured,
}

impl TimeSource {
    pub fn name(self) -> &'static str {
        match self {
            TimeSource::Modeled => "modeled",
            TimeSource::Measured => "measured",
        }
    }
}

/// Times a run from just before the probe is opened: the simulator's modeled
/// clock when the probe is simulated, the wall clock otherwise.
#[derive(Clone)]
pub struct Stopwatch {
    started: Instant,
    sim: Option<SimHandle>,
}

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch { started: Instant::now(), sim: None }
    }

    /// Use the simulator's clock (it starts when the simulated probe is opened).
    pub fn use_sim(&mut self, sim: Option<SimHandle>) {
        self.sim = sim;
    }

    /// The probe is simulated.
    pub fn is_simulated(&self) -> bool {
        self.sim.is_some()
    }

    pub fn read(&self) -> (Duration, TimeSource) {
        match &self.sim {
            Some(h) => (h.stats().modeled, TimeSource::Modeled),
            None => (self.started.elapsed(), TimeSource::Measured),
        }
    }
}

/// A 96-bit unique device ID as `info --uid`, the JSON and the log print
/// it: 24 upper-case hex digits, bytes in address order.
pub fn uid_hex(id: &[u8; 12]) -> String {
    id.iter().map(|b| format!("{b:02X}")).collect()
}

/// The probe a command used.
#[derive(Debug, Clone)]
pub struct ProbeSummary {
    pub serial: String,
    pub product: &'static str,
    pub kind: String,
    pub firmware: String,
    pub location: String,
    pub simulated: bool,
}

/// The target a command used.
#[derive(Debug, Clone)]
pub struct TargetSummary {
    pub chip: &'static str,
    pub family: &'static str,
    pub core: String,
    pub dev_id: u16,
    pub rev_id: u16,
    pub flash_size: u64,
    pub sram_size: u32,
    pub voltage_mv: Option<u32>,
    /// The unique ID ([`uid_hex`]); `None` when it was not read or cannot be.
    pub uid: Option<String>,
}

/// The input of `write`: the file, and the `--data` items.
#[derive(Debug, Clone)]
pub struct InputSummary {
    /// `None` for `write --data …` alone.
    pub file: Option<PathBuf>,
    /// (address, size) of each `--data` item.
    pub data: Vec<(u32, u64)>,
    /// The CRC-32 (zlib's) of the file's bytes as read.
    pub crc32: Option<u32>,
    pub format: Format,
    /// (address, size) of each segment.
    pub segments: Vec<(u32, u64)>,
    pub entry: Option<u32>,
}

impl InputSummary {
    pub fn new(file: Option<PathBuf>, image: &Image, data: &[crate::data::DataItem]) -> InputSummary {
        InputSummary {
            file,
            data: data.iter().map(|d| (d.addr, d.bytes.len() as u64)).collect(),
            crc32: None,
            format: image.format,
            segments: image.segments.iter().map(|s| (s.addr, s.data.len() as u64)).collect(),
            entry: image.entry,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.1).sum()
    }
}

/// What the command did, when it completed.
#[derive(Debug, Clone)]
pub enum Done {
    Write(WriteReport),
    Erase(EraseReport),
    Read {
        file: PathBuf,
        addr: u32,
        bytes: u64,
        format: Format,
    },
    Reset,
    /// An option area read or written: the area's raw value and the words
    /// read (or written and read back).
    Options {
        area: &'static str,
        value: u32,
        words: Vec<WordValue>,
        written: bool,
    },
    /// `--area=otp write`.
    Otp {
        programmed: u64,
        unchanged: u64,
    },
    /// `recover`: the plan, and what was done when it ran.
    Recover(Box<RecoverSummary>),
    /// `verify`: what was compared and every differing range; the flash
    /// sector of the first.
    Verify {
        report: Comparison,
        first_sector: Option<Sector>,
    },
    /// `blank-check`: the range, the erased value, and the first run that
    /// does not hold it.
    BlankCheck {
        addr: u32,
        size: u64,
        erased: u8,
        report: Comparison,
        first_sector: Option<Sector>,
    },
    /// `checksum ADDR SIZE`.
    Checksum {
        addr: u32,
        sum: Checksum,
    },
    /// `checksum FILE`: (address, size, CRC-32) per segment.
    ChecksumFile {
        file: PathBuf,
        segments: Vec<(u32, u64, u32)>,
    },
}

/// What `recover` planned and did.
#[derive(Debug, Clone)]
pub struct RecoverSummary {
    /// "hot-plug" or "under-reset".
    pub connect: &'static str,
    pub plan: stflash::ops::recover::Plan,
    /// `None`: not run (no `--confirm-erase`, or it failed).
    pub report: Option<stflash::ops::recover::Report>,
}

/// The serial number a write placed (`--serial-template`).
#[derive(Debug, Clone)]
pub struct SerialOutcome {
    pub address: u32,
    pub bytes: Vec<u8>,
    /// The bytes as text, when printable.
    pub text: Option<String>,
    /// The counter's number, when the template uses it.
    pub counter: Option<u64>,
}

/// Everything known about one run of a st-flash command.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// "write", "erase", "read", "reset".
    pub command: &'static str,
    pub probe: Option<ProbeSummary>,
    pub target: Option<TargetSummary>,
    pub input: Option<InputSummary>,
    pub done: Option<Done>,
    pub time: Option<(Duration, TimeSource)>,
    pub serial: Option<SerialOutcome>,
}

impl Outcome {
    pub fn new(command: &'static str) -> Outcome {
        Outcome { command, probe: None, target: None, input: None, done: None, time: None, serial: None }
    }

    /// Record the probe and target of an open session; with `uid`, read the
    /// chip's unique ID too (a failure to read it is only logged).
    pub fn connected(&mut self, session: &mut Session, simulated: bool, uid: bool) {
        let uid = match uid.then(|| session.unique_id()) {
            Some(Ok(id)) => id.as_ref().map(uid_hex),
            Some(Err(e)) => {
                log::debug!("cannot read the unique ID: {e}");
                None
            }
            None => None,
        };
        let info = session.target.probe();
        self.probe = Some(ProbeSummary {
            serial: info.serial.clone(),
            product: stflash::transport::ProbeKind::product_name(info.pid),
            kind: info.kind.to_string(),
            firmware: session.target.probe_firmware().to_string(),
            location: info.location.clone(),
            simulated,
        });
        let t = &session.target;
        self.target = Some(TargetSummary {
            chip: t.chip.name,
            family: t.chip.family,
            core: t.core.to_string(),
            dev_id: t.dev_id(),
            rev_id: t.rev_id(),
            flash_size: session.layout.total_size(),
            sram_size: t.chip.sram.size,
            voltage_mv: t.voltage_mv,
            uid,
        });
    }

    /// The one summary line printed at the end of `write`, `erase` and `read`:
    /// bytes, time, rate, sectors erased and skipped.
    pub fn summary(&self) -> Option<String> {
        let (time, source) = self.time?;
        let timing = |bytes: u64| {
            let secs = time.as_secs_f64();
            let mut notes = Vec::new();
            if secs > 0.0 {
                notes.push(format!("{:.1} KiB/s", bytes as f64 / 1024.0 / secs));
            }
            if source == TimeSource::Modeled {
                notes.push("modeled time".to_string());
            }
            let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join(", ")) };
            format!("in {secs:.3} s{notes}")
        };
        match self.done.as_ref()? {
            Done::Write(r) => {
                let eeprom = r.eeprom.as_ref().map_or(0, |e| e.bytes);
                let bytes = r.flash_bytes + eeprom + r.ram_bytes;
                let parts: Vec<(u64, &str)> = [(r.flash_bytes, "flash"), (eeprom, "EEPROM"), (r.ram_bytes, "RAM")]
                    .into_iter()
                    .filter(|&(n, _)| n > 0)
                    .collect();
                let target = match parts.as_slice() {
                    [] => "to RAM".to_string(),
                    [(_, what)] => format!("to {what}"),
                    many => {
                        let each: Vec<String> = many.iter().map(|(n, what)| format!("{n} to {what}")).collect();
                        format!("({})", each.join(", "))
                    }
                };
                let mut line = format!("write: {} {target} {}", count(bytes, "byte"), timing(bytes));
                if r.flash_bytes > 0 {
                    if r.mass_erased {
                        line.push_str("; whole flash erased");
                    } else {
                        line.push_str(&format!(
                            "; {} erased, {} skipped",
                            count(r.erased.len() as u64, "sector"),
                            r.skipped.len()
                        ));
                    }
                    line.push_str(&format!("; {} programmed", count(r.programmed_bytes, "byte")));
                    if r.preserved_bytes > 0 {
                        line.push_str(&format!(", {} kept", r.preserved_bytes));
                    }
                }
                if let Some(e) = &r.eeprom {
                    line.push_str(&format!(
                        "; EEPROM: {} written, {} unchanged",
                        count(e.words_written, "word"),
                        e.words_unchanged
                    ));
                    if e.kept_bytes > 0 {
                        line.push_str(&format!(", {} bytes kept", e.kept_bytes));
                    }
                }
                match r.verify_method {
                    Some(m) => line.push_str(&format!("; verified by {m}")),
                    None => line.push_str("; not verified"),
                }
                Some(line)
            }
            Done::Erase(r) => {
                let bytes: u64 = r.sectors.iter().map(|s| s.size as u64).sum();
                let what = if r.mass { "whole flash, " } else { "" };
                let sectors = count(r.sectors.len() as u64, "sector");
                Some(format!("erase: {what}{sectors} ({}) {}", size_text(bytes), timing(bytes)))
            }
            Done::Read { bytes, .. } => Some(format!("read: {} {}", count(*bytes, "byte"), timing(*bytes))),
            Done::Reset | Done::Options { .. } | Done::ChecksumFile { .. } => None,
            Done::Verify { .. } | Done::BlankCheck { .. } | Done::Checksum { .. } => {
                super::check::summary(self.done.as_ref()?, timing)
            }
            Done::Recover(r) => {
                let report = r.report.as_ref()?;
                let words: usize = r.plan.steps.iter().map(|s| s.changes.len()).sum();
                let erase = if report.erased.is_some() {
                    "flash erased by stflash"
                } else {
                    "flash erased by the chip's RDP regression"
                };
                let modeled = if source == TimeSource::Modeled { " (modeled time)" } else { "" };
                Some(format!(
                    "recover: {} written, {erase}; factory values confirmed by reading them back, RDP level 0; \
                     in {:.3} s{modeled}",
                    count(words as u64, "option word"),
                    time.as_secs_f64()
                ))
            }
            Done::Otp { programmed, unchanged } => Some(format!(
                "otp: {} programmed, {unchanged} already held {}",
                count(*programmed, "byte"),
                timing(*programmed)
            )),
        }
    }
}

/// "12 KiB" for whole KiB, else bytes.
fn size_text(bytes: u64) -> String {
    if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{} KiB", bytes / 1024)
    } else {
        count(bytes, "byte")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stflash::flash::Sector;

    fn outcome(done: Done, ms: u64, source: TimeSource) -> Outcome {
        let mut o = Outcome::new("x");
        o.done = Some(done);
        o.time = Some((Duration::from_millis(ms), source));
        o
    }

    #[test]
    fn write_summary_names_bytes_time_rate_and_sectors() {
        let sector = |i: u32| Sector { bank: 0, index: i, addr: 0x0800_0000 + i * 1024, size: 1024 };
        let report = WriteReport {
            flash_bytes: 3000,
            erased: vec![sector(0), sector(1), sector(2)],
            skipped: vec![sector(3)],
            programmed_bytes: 3000,
            verified: true,
            verify_method: Some("read-back"),
            ..Default::default()
        };
        let line = outcome(Done::Write(report.clone()), 500, TimeSource::Modeled).summary().unwrap();
        assert_eq!(
            line,
            "write: 3000 bytes to flash in 0.500 s (5.9 KiB/s, modeled time); 3 sectors erased, 1 skipped; \
             3000 bytes programmed; verified by read-back"
        );
        let eeprom = stflash::ops::write::eeprom::EepromReport {
            region: stflash::chip::MemRegion::new(0x0808_0000, 2048),
            bytes: 64,
            words_written: 15,
            words_unchanged: 2,
            kept_bytes: 3,
            verified: true,
        };
        let both = WriteReport { eeprom: Some(eeprom.clone()), ..report };
        let line = outcome(Done::Write(both), 500, TimeSource::Measured).summary().unwrap();
        assert!(line.starts_with("write: 3064 bytes (3000 to flash, 64 to EEPROM) in 0.500 s"), "{line}");
        assert!(
            line.ends_with("; EEPROM: 15 words written, 2 unchanged, 3 bytes kept; verified by read-back"),
            "{line}"
        );
        let only = WriteReport { eeprom: Some(eeprom), verify_method: Some("read-back"), ..Default::default() };
        let line = outcome(Done::Write(only), 100, TimeSource::Measured).summary().unwrap();
        assert!(line.starts_with("write: 64 bytes to EEPROM in 0.100 s"), "{line}");
    }

    #[test]
    fn erase_and_read_summaries() {
        let sectors = vec![Sector { bank: 0, index: 1, addr: 0x0800_0400, size: 1024 }; 2];
        let line =
            outcome(Done::Erase(EraseReport { sectors, mass: false }), 40, TimeSource::Measured).summary().unwrap();
        assert_eq!(line, "erase: 2 sectors (2 KiB) in 0.040 s (50.0 KiB/s)");
        let read = Done::Read { file: "f".into(), addr: 0, bytes: 100, format: Format::Binary };
        assert_eq!(outcome(read, 0, TimeSource::Measured).summary().unwrap(), "read: 100 bytes in 0.000 s");
        assert_eq!(outcome(Done::Reset, 1, TimeSource::Measured).summary(), None);
    }
}
