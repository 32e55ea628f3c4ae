//! Simulated flash controllers: the interface every family model implements,
//! and the flash array they share.
//!
//! A model is written from the reference manual, not from stflash's drivers:
//! it decodes register writes bit by bit as silicon does, so a driver that puts
//! a field at the wrong position gets the wrong effect, as on a real chip.
//!
//! Time: every access carries the modeled time `now`. An operation started at
//! `now` completes at `now + duration`; until then the model reports busy in its
//! status register and asks the bus to stall accesses that would stall on
//! silicon (`stall_until`). Completion is applied lazily by `advance`.

use std::ops::Range;

/// Modeled time in nanoseconds since the simulator was created.
pub type Nanos = u64;

pub const US: Nanos = 1_000;
pub const MS: Nanos = 1_000_000;

/// Width of a bus access (8, 16 or 32 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessWidth {
    Byte,
    Half,
    Word,
}

impl AccessWidth {
    pub fn bytes(self) -> u32 {
        match self {
            AccessWidth::Byte => 1,
            AccessWidth::Half => 2,
            AccessWidth::Word => 4,
        }
    }

    /// The bits an access of this width carries.
    pub fn mask(self) -> u32 {
        match self {
            AccessWidth::Byte => 0xFF,
            AccessWidth::Half => 0xFFFF,
            AccessWidth::Word => 0xFFFF_FFFF,
        }
    }
}

/// Who makes a bus access: the debugger (through the ST-LINK's AHB-AP) or
/// code running on the simulated CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    Debugger,
    Cpu,
}

/// The access failed on the bus (the AP reports a fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusFault;

/// Counters a model updates, read by tests and the benchmark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlashStats {
    /// Sector or page erases performed.
    pub erases: u64,
    /// Bank or mass erases performed.
    pub mass_erases: u64,
    /// Programming operations performed (flash words, double words, half-words…).
    pub words: u64,
    /// Data EEPROM writes performed (L0/L1: one per byte, half-word or word store).
    pub eeprom_writes: u64,
}

/// Side effects a model asks the rest of the chip to perform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requests {
    /// Option reload (OBL_LAUNCH): the whole chip goes through a system reset.
    pub system_reset: bool,
}

/// Context of one access.
pub struct Access<'a> {
    /// Modeled time of the access (after any stall).
    pub now: Nanos,
    pub by: Initiator,
    pub stats: &'a mut FlashStats,
    pub requests: &'a mut Requests,
}

/// Initial configuration of a simulated chip (`STFLASH_SIM_OPTS`), e.g.
/// `dbank=0`, `rdp=1`, `wrp=0x08002000-0x08003fff`. Each model handles the keys
/// it knows and rejects the rest with a message listing what it accepts.
pub type ConfigResult = Result<(), String>;

/// One family's flash controller, flash arrays, option bytes and OTP.
pub trait FlashModel: Send {
    /// Model name for messages ("H7A/B flash (RM0455)").
    fn name(&self) -> &'static str;

    /// Address ranges this model decodes: register block, flash bank arrays,
    /// OTP, memory-mapped option bytes. Accesses outside them never reach it.
    fn regions(&self) -> Vec<Range<u32>>;

    /// True for controller registers (their writes are logged for tests).
    fn is_register(&self, addr: u32) -> bool;

    /// Complete every operation whose end time is at or before `now`.
    fn advance(&mut self, now: Nanos, stats: &mut FlashStats);

    /// Time until which an access to `addr` must stall (AHB wait states while
    /// the controller is busy). Return `now` (or earlier) for no stall.
    fn stall_until(&self, addr: u32, write: bool, by: Initiator, now: Nanos) -> Nanos;

    /// When the next pending operation (program, erase, CRC…) completes, if
    /// one is pending after `now`. The simulated core sleeps until then when
    /// it spins on a status register; without it (`None`) the core polls
    /// every few microseconds of modeled time.
    fn next_event(&self, _now: Nanos) -> Option<Nanos> {
        None
    }

    fn read(&mut self, addr: u32, width: AccessWidth, acc: &mut Access) -> Result<u32, BusFault>;
    fn write(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) -> Result<(), BusFault>;

    /// System reset (NRST, SYSRESETREQ, option reload): registers back to their
    /// reset values, controller locked, option bytes reloaded, pending
    /// operations abandoned.
    fn reset(&mut self);

    /// The core clock (HCLK) changed to `hz` (set at power-on, by the
    /// `core-clock=` knob and by the simulated RCC): for controllers whose
    /// behaviour depends on it (the L4 class's fast programming).
    fn set_core_clock(&mut self, _hz: u64) {}

    /// Debugger reads of `addr` are allowed (false for main flash under RDP level 1).
    fn debug_readable(&self, _addr: u32) -> bool {
        true
    }

    /// RDP level 2: the debug port is permanently disabled.
    fn debug_port_disabled(&self) -> bool {
        false
    }

    /// Apply one `key=value` of the initial configuration.
    fn configure(&mut self, key: &str, value: &str) -> ConfigResult {
        Err(format!("{}: unknown setting {key}={value}", self.name()))
    }

    /// Persistent contents (flash arrays, option bytes, OTP) as named blobs.
    fn save(&self) -> Vec<(String, Vec<u8>)>;
    /// Restore what `save` produced.
    fn load(&mut self, blobs: &[(String, Vec<u8>)]) -> Result<(), String>;

    /// Raw view of flash contents for tests (no protection, no stall, no time).
    fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>>;
    /// Raw write of flash contents for tests ("this sector holds old data").
    fn poke(&mut self, addr: u32, data: &[u8]) -> bool;

    /// The model's register facts by ST's names (`crate::facts`): register
    /// block, offsets, bits and fields as this model decodes them.
    fn register_facts(&self, _facts: &mut crate::facts::Facts) {}
}

/// The blob `name` of a saved state (`FlashModel::save`), which must be
/// `len` bytes long; the errors name the model.
pub fn saved_blob<'a>(blobs: &'a [(String, Vec<u8>)], model: &str, name: &str, len: usize) -> Result<&'a [u8], String> {
    let (_, data) =
        blobs.iter().find(|(n, _)| n == name).ok_or_else(|| format!("{model}: state has no '{name}' blob"))?;
    if data.len() != len {
        return Err(format!("{model}: saved {name} is {} bytes, expected {len}", data.len()));
    }
    Ok(data)
}

/// Fill `words` from a saved blob of little-endian 32-bit words (the
/// option words a model keeps in its state file).
pub fn load_words(words: &mut [u32], bytes: &[u8]) {
    for (w, b) in words.iter_mut().zip(bytes.chunks_exact(4)) {
        *w = u32::from_le_bytes(b.try_into().expect("4 bytes"));
    }
}

/// An operation a flash controller with one busy state runs until its
/// end time (H5, H7R/S): erase a range, program one flash word of `W`
/// bytes, or apply the option registers (which only the model knows how).
#[derive(Debug, Clone)]
pub enum PendingOp<const W: usize> {
    /// Offset from the array's base, length; sector and bank erases counted.
    Erase {
        off: u32,
        len: u32,
        sectors: u64,
        mass: u64,
    },
    Program {
        off: u32,
        data: [u8; W],
    },
    Options,
}

impl<const W: usize> PendingOp<W> {
    /// Apply an erase or a program to `array` and count it; `Options` is
    /// left to the caller (returns `true`).
    pub fn apply(self, array: &mut FlashArray, stats: &mut FlashStats) -> bool {
        match self {
            PendingOp::Erase { off, len, sectors, mass } => {
                array.erase(array.base + off, len);
                stats.erases += sectors;
                stats.mass_erases += mass;
            }
            PendingOp::Program { off, data } => {
                array.program(array.base + off, &data);
                stats.words += 1;
            }
            PendingOp::Options => return true,
        }
        false
    }
}

/// A flash bank's cells: erase and program primitives each model composes
/// according to its reference manual.
#[derive(Debug, Clone)]
pub struct FlashArray {
    pub base: u32,
    pub data: Vec<u8>,
    pub erased: u8,
    /// Programming unit used for ECC bookkeeping (bytes); 0 = no ECC.
    pub ecc_unit: u32,
    /// Units that were programmed since their last erase (ECC families allow one program per erase).
    programmed: Vec<bool>,
    /// Units whose stored ECC no longer matches (programmed twice): reads are corrupted.
    ecc_broken: Vec<bool>,
}

impl FlashArray {
    pub fn new(base: u32, size: u32, erased: u8, ecc_unit: u32) -> FlashArray {
        let units = size.checked_div(ecc_unit).unwrap_or(0) as usize;
        FlashArray {
            base,
            data: vec![erased; size as usize],
            erased,
            ecc_unit,
            programmed: vec![false; units],
            ecc_broken: vec![false; units],
        }
    }

    pub fn range(&self) -> Range<u32> {
        self.base..self.base + self.data.len() as u32
    }

    pub fn contains(&self, addr: u32) -> bool {
        self.range().contains(&addr)
    }

    fn offset(&self, addr: u32) -> usize {
        (addr - self.base) as usize
    }

    /// Little-endian read of `width` bytes at `addr`.
    pub fn read(&self, addr: u32, width: AccessWidth) -> u32 {
        let o = self.offset(addr);
        let mut v = 0u32;
        for i in 0..width.bytes() as usize {
            v |= (self.data[o + i] as u32) << (8 * i);
        }
        v
    }

    /// Erase `[addr, addr+len)`: cells to the erased value, ECC state cleared.
    pub fn erase(&mut self, addr: u32, len: u32) {
        let o = self.offset(addr);
        self.data[o..o + len as usize].fill(self.erased);
        if self.ecc_unit != 0 {
            let first = o / self.ecc_unit as usize;
            let n = (len / self.ecc_unit) as usize;
            self.programmed[first..first + n].fill(false);
            self.ecc_broken[first..first + n].fill(false);
        }
    }

    pub fn is_erased(&self, addr: u32, len: u32) -> bool {
        let o = self.offset(addr);
        self.data[o..o + len as usize].iter().all(|&b| b == self.erased)
    }

    /// Program cells the way NOR flash does: bits can only move away from the
    /// erased value (AND for 0xFF-erased flash, OR for 0x00-erased flash).
    /// On ECC flash a unit programmed twice gets a broken ECC (later reads are
    /// flagged by `ecc_error`).
    pub fn program(&mut self, addr: u32, bytes: &[u8]) {
        let o = self.offset(addr);
        for (i, &b) in bytes.iter().enumerate() {
            let cell = &mut self.data[o + i];
            *cell = if self.erased == 0xFF { *cell & b } else { *cell | b };
        }
        if self.ecc_unit != 0 {
            let first = o / self.ecc_unit as usize;
            let last = (o + bytes.len() - 1) / self.ecc_unit as usize;
            for u in first..=last {
                if self.programmed[u] {
                    self.ecc_broken[u] = true;
                }
                self.programmed[u] = true;
            }
        }
    }

    /// True when the unit containing `addr` has been programmed since its erase.
    pub fn unit_programmed(&self, addr: u32) -> bool {
        self.ecc_unit != 0 && self.programmed[self.offset(addr) / self.ecc_unit as usize]
    }

    /// True when the unit containing `addr` holds data with a broken ECC.
    pub fn ecc_error(&self, addr: u32) -> bool {
        self.ecc_unit != 0 && self.ecc_broken[self.offset(addr) / self.ecc_unit as usize]
    }

    /// Raw copy out, for `peek`/`save`.
    pub fn slice(&self, addr: u32, len: usize) -> Option<&[u8]> {
        let o = addr.checked_sub(self.base)? as usize;
        self.data.get(o..o.checked_add(len)?)
    }

    /// Raw overwrite (test back door and `load`): marks the units programmed.
    pub fn poke(&mut self, addr: u32, bytes: &[u8]) -> bool {
        let Some(o) = addr.checked_sub(self.base).map(|o| o as usize) else {
            return false;
        };
        if o + bytes.len() > self.data.len() {
            return false;
        }
        self.data[o..o + bytes.len()].copy_from_slice(bytes);
        if self.ecc_unit != 0 && !bytes.is_empty() {
            let unit = self.ecc_unit as usize;
            for u in o / unit..=(o + bytes.len() - 1) / unit {
                let cells = &self.data[u * unit..(u + 1) * unit];
                self.programmed[u] = cells.iter().any(|&c| c != self.erased);
                self.ecc_broken[u] = false;
            }
        }
        true
    }
}

/// A two-key unlock sequence: the first key, then the second, nothing else; a
/// wrong key, or a sequence sent while unlocked, leaves the lock set until the
/// next reset. The RMs' "Unlocking the flash memory" sections (e.g. RM0090
/// §3.6.1) say a wrong sequence locks the register until the next reset; that
/// a repeated sequence counts as wrong is ST's wording for the H7A/B, U5 and
/// H5 LOCK bits in their SVD files, and why OpenOCD sends the keys only while
/// LOCK is set (stm32h7x.c:424-428).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyLatch {
    first_seen: bool,
    stuck: bool,
}

impl KeyLatch {
    /// One write to the key register; returns whether the lock is now set.
    pub fn write(&mut self, locked: bool, value: u32, keys: [u32; 2]) -> bool {
        if self.stuck {
            return true;
        }
        match (locked, self.first_seen) {
            (true, false) if value == keys[0] => {
                self.first_seen = true;
                return true;
            }
            (true, true) if value == keys[1] => {
                self.first_seen = false;
                return false;
            }
            _ => {}
        }
        self.first_seen = false;
        self.stuck = true;
        true
    }
}

/// `0x08002000-0x08003fff` (inclusive end) as a half-open range.
pub fn parse_range(s: &str) -> Result<Range<u32>, String> {
    let parse = |t: &str| {
        let t = t.trim();
        let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"));
        match hex {
            Some(h) => u32::from_str_radix(h, 16),
            None => t.parse(),
        }
        .map_err(|_| format!("'{t}' is not a number"))
    };
    let (a, b) = s.split_once('-').ok_or_else(|| format!("'{s}' is not a range like 0x08000000-0x08000fff"))?;
    let (start, last) = (parse(a)?, parse(b)?);
    if last < start {
        return Err(format!("'{s}': the end is below the start"));
    }
    Ok(start..last.saturating_add(1))
}

/// Inclusive address ranges `a-b` joined by `+` (configuration `wrp=`).
pub fn parse_ranges(value: &str) -> Result<Vec<(u32, u32)>, String> {
    let num = |s: &str| {
        let s = s.trim();
        let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => s.parse(),
        };
        parsed.map_err(|_| format!("'{s}' is not an address"))
    };
    value
        .split('+')
        .map(|r| {
            let (a, b) = r.split_once('-').ok_or_else(|| format!("'{r}' is not a range start-end"))?;
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                return Err(format!("range '{r}' ends before it starts"));
            }
            Ok((a, b))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programming_only_clears_bits_and_double_programming_breaks_ecc() {
        let mut a = FlashArray::new(0x0800_0000, 64, 0xFF, 16);
        a.program(0x0800_0000, &[0x0F; 16]);
        assert!(!a.ecc_error(0x0800_0000));
        a.program(0x0800_0000, &[0xF0; 16]);
        assert_eq!(a.read(0x0800_0000, AccessWidth::Byte), 0x00);
        assert!(a.ecc_error(0x0800_0000));
        a.erase(0x0800_0000, 16);
        assert!(a.is_erased(0x0800_0000, 16) && !a.ecc_error(0x0800_0000));
    }

    #[test]
    fn zero_erased_flash_programs_by_setting_bits() {
        let mut a = FlashArray::new(0x0800_0000, 16, 0x00, 0);
        a.program(0x0800_0004, &[0x12, 0x34, 0x56, 0x78]);
        assert_eq!(a.read(0x0800_0004, AccessWidth::Word), 0x7856_3412);
    }
}
