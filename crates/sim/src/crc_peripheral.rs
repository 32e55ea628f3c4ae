//! The CRC calculation unit (the "CRC peripheral" every STM32 has), and the
//! RCC register bit that clocks it.
//!
//! Registers (RM0090 §4.4, RM0360 §6.4, RM0433 §21.4; CMSIS `CRC_TypeDef`):
//! DR +0x00 (write: data to hash; read: the CRC), IDR +0x04 (free storage,
//! 8 bits on the basic unit), CR +0x08 (RESET bit 0 loads DR with INIT and
//! clears itself; on units with INIT also POLYSIZE bits 4:3, REV_IN bits 6:5,
//! REV_OUT bit 7), INIT +0x10, POL +0x14. The basic unit (F1, F2, F4, L1) has
//! DR, IDR and CR.RESET only and always computes CRC-32 (0x04C11DB7, initial
//! value 0xFFFFFFFF) over 32-bit words, most significant bit first. Reset
//! state of the others is the same (CRC_INIT and CRC_POL reset values in
//! RM0360 §6.4 and RM0433 §21.4): CRC-32/MPEG-2 in the RevEng CRC catalogue.
//!
//! Where each part has it, as the simulator's own table written from ST's
//! CMSIS device headers (`CRC_BASE`, `RCC_*ENR_CRCEN_Pos`, `CRC_TypeDef`):
//! 0x40023000 everywhere except H74x/H75x/H72x/H73x (0x58024C00); the clock
//! enable register and bit per family, below.
//!
//! Model assumptions: while the clock enable bit is clear the registers read
//! 0 and ignore writes; only the enable register word itself is modeled of
//! RCC (its other bits are stored, reset value 0). Each data write keeps the
//! unit busy for 4 cycles of the core clock (RM0090 §4.3: "4 AHB clock
//! cycles" for a 32-bit word), and an access to DR while busy stalls the bus
//! until the result is ready; the loop feeding it pays for its own
//! instructions on the core.
//!
//! Knobs (`STFLASH_SIM_FAULTS`, see [`CrcPeripheralFaults`]) make the unit
//! differ from its reference manual, as a part or an application may:
//! absent, garbage, no CR.RESET, another initial value, input order or
//! polynomial whatever the registers say, or left configured by an
//! application (clock on, reflected 16-bit CRC).

use super::model::{AccessWidth, Nanos};

/// Register layout of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regs {
    /// DR, IDR (8 bits), CR.RESET: F1, F2, F4, L1.
    Basic,
    /// Adds INIT and CR.REV_IN/REV_OUT (F0 without POL).
    Init,
    /// Adds POL and CR.POLYSIZE.
    Full,
}

/// Where a part's unit is and how it is clocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub base: u32,
    /// RCC enable register and the CRCEN bit.
    pub enable: (u32, u32),
    pub regs: Regs,
    /// Reset system clock in Hz (the unit runs on it).
    pub hclk_hz: u64,
}

const fn at(base: u32, reg: u32, bit: u32, regs: Regs, hclk_hz: u64) -> Placement {
    Placement { base, enable: (reg, 1 << bit), regs, hclk_hz }
}

/// The unit of the part with this DEV_ID (DBGMCU_IDCODE bits 11:0).
pub fn placement(dev_id: u16) -> Option<Placement> {
    use Regs::*;
    const C: u32 = 0x4002_3000;
    Some(match dev_id {
        // F0: RCC_AHBENR 0x40021014 bit 6, HSI 8 MHz (stm32f030x6.h,
        // stm32f091xc.h; POL on F072/F091 but not on the F070xB/F030xC of their DEV_IDs).
        0x444 | 0x445 | 0x440 | 0x448 => at(C, 0x4002_1014, 6, Init, 8_000_000),
        0x442 => at(C, 0x4002_1014, 6, Init, 8_000_000), // F030xC: no POL (stm32f030xc.h), F091: POL
        // F1 (stm32f103xb.h, stm32f100xb.h, stm32f105xc.h).
        0x412 | 0x410 | 0x414 | 0x418 | 0x420 | 0x428 | 0x430 => at(C, 0x4002_1014, 6, Basic, 8_000_000),
        // F3 (stm32f303xc.h, stm32f334x8.h, stm32f373xc.h).
        0x439 | 0x422 | 0x446 | 0x438 | 0x432 => at(C, 0x4002_1014, 6, Full, 8_000_000),
        // F2/F4: RCC_AHB1ENR 0x40023830 bit 12, HSI 16 MHz (stm32f207xx.h, stm32f411xe.h).
        0x411 | 0x413 | 0x419 | 0x434 | 0x423 | 0x433 | 0x458 | 0x431 | 0x441 | 0x463 | 0x421 => {
            at(C, 0x4002_3830, 12, Basic, 16_000_000)
        }
        // F7 (stm32f746xx.h, stm32f767xx.h).
        0x449 | 0x451 | 0x452 => at(C, 0x4002_3830, 12, Full, 16_000_000),
        // L0: RCC_AHBENR 0x40021030 bit 12, MSI 2.097 MHz (stm32l053xx.h).
        0x457 | 0x425 | 0x417 | 0x447 => at(C, 0x4002_1030, 12, Full, 2_097_000),
        // L1: RCC_AHBENR 0x4002381C bit 12 (stm32l152xe.h).
        0x416 | 0x429 | 0x427 | 0x436 | 0x437 => at(C, 0x4002_381C, 12, Basic, 2_097_000),
        // L4, L4+: RCC_AHB1ENR 0x40021048 bit 12, MSI 4 MHz (stm32l476xx.h, stm32l4r5xx.h).
        0x415 | 0x435 | 0x461 | 0x462 | 0x464 | 0x470 | 0x471 => at(C, 0x4002_1048, 12, Full, 4_000_000),
        // G4: HSI16 (stm32g474xx.h).
        0x468 | 0x469 | 0x479 => at(C, 0x4002_1048, 12, Full, 16_000_000),
        // G0: RCC_AHBENR 0x40021038 bit 12 (stm32g071xx.h); C0 at HSI48/4 (stm32c031xx.h).
        0x466 | 0x460 | 0x456 | 0x467 => at(C, 0x4002_1038, 12, Full, 16_000_000),
        0x443 | 0x453 => at(C, 0x4002_1038, 12, Full, 12_000_000),
        // C051, C071, C09x as C031 (stm32c051xx.h:4342, stm32c071xx.h:4698,
        // stm32c092xx.h:5181).
        0x44C | 0x493 | 0x44D => at(C, 0x4002_1038, 12, Full, 12_000_000),
        // U0: RCC_AHBENR 0x40021048 bit 12, MSI 4 MHz (stm32u031xx.h:479, 5326).
        0x459 | 0x489 => at(C, 0x4002_1048, 12, Full, 4_000_000),
        // WB, WL: RCC_AHB1ENR 0x58000048 bit 12 (stm32wb55xx.h, stm32wle5xx.h).
        0x495 | 0x497 => at(C, 0x5800_0048, 12, Full, 4_000_000),
        // L5, U5, H5, non-secure aliases (stm32l552xx.h, stm32u575xx.h, stm32h563xx.h).
        0x472 => at(C, 0x4002_1048, 12, Full, 4_000_000),
        0x455 | 0x482 | 0x481 | 0x476 => at(C, 0x4602_0C88, 12, Full, 4_000_000),
        // WBA5x: the U5's RCC_AHB1ENR, HSI16 (stm32wba52xx.h:1087, 10032);
        // U3: RCC_AHB1ENR1 0x40030C88, MSIS 12 MHz (stm32u375xx.h:1483, 916).
        0x492 => at(C, 0x4602_0C88, 12, Full, 16_000_000),
        0x454 => at(C, 0x4003_0C88, 12, Full, 12_000_000),
        0x484 => at(C, 0x4402_0C88, 12, Full, 32_000_000),
        // H503, H523/H533 as H563 (stm32h503xx.h:1208, 8834; stm32h523xx.h:1545, 13145).
        0x474 | 0x478 => at(C, 0x4402_0C88, 12, Full, 32_000_000),
        // H74x/H75x/H72x/H73x: RCC_AHB4ENR 0x580244E0 bit 19 (stm32h743xx.h, stm32h723xx.h).
        0x450 | 0x483 => at(0x5802_4C00, 0x5802_44E0, 19, Full, 64_000_000),
        // H7R/S: RCC_AHB4ENR 0x58024540 bit 19 (stm32h7r3xx.h:2153, 15995).
        0x485 => at(0x5802_4C00, 0x5802_4540, 19, Full, 64_000_000),
        // H7A3/B3/B0: RCC_AHB1ENR 0x58024538 bit 9 (stm32h7a3xx.h RCC_TypeDef: 0x138; its comment says 0xD8).
        0x480 => at(C, 0x5802_4538, 9, Full, 64_000_000),
        _ => return None,
    })
}

/// How a CRC unit feeds each 32-bit little-endian word into its register
/// (the value it shifts in most significant bit first): the knobs
/// `flash_crc_order=` (H7 flash CRC unit) and `crc-peripheral-order=`
/// (CRC peripheral) choose one to perturb the assumed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputOrder {
    /// The word as a number (CRC peripheral CR.REV_IN = 0; the H7
    /// measurement in the ST community thread "STM32H753 flash CRC
    /// specification").
    Word,
    /// The bytes in memory order, each most significant bit first.
    Bytes,
    /// The word bit-reversed (REV_IN = 3).
    Reflected,
    /// Each byte bit-reversed in place (REV_IN = 1).
    ByteReflected,
    /// Each half-word bit-reversed in place (REV_IN = 2).
    HalfReflected,
}

impl InputOrder {
    pub const NAMES: &'static str = "word, bytes, reflected, byte-reflected, half-reflected";

    pub fn parse(s: &str) -> Option<InputOrder> {
        Some(match s {
            "word" => InputOrder::Word,
            "bytes" => InputOrder::Bytes,
            "reflected" => InputOrder::Reflected,
            "byte-reflected" => InputOrder::ByteReflected,
            "half-reflected" => InputOrder::HalfReflected,
            _ => return None,
        })
    }

    /// The 32-bit value shifted in for the memory word `w`.
    pub fn fed(self, w: u32) -> u32 {
        match self {
            InputOrder::Word => w,
            InputOrder::Bytes => w.swap_bytes(),
            InputOrder::Reflected => reverse_in_units(w, 32, 32),
            InputOrder::ByteReflected => reverse_in_units(w, 8, 32),
            InputOrder::HalfReflected => reverse_in_units(w, 16, 32),
        }
    }
}

/// Shift the 32-bit value `data` into the 32-bit CRC register `crc`, most
/// significant bit first, with polynomial `poly`.
pub fn shift_word(mut crc: u32, poly: u32, data: u32) -> u32 {
    for i in (0..32).rev() {
        let top = crc >> 31;
        crc <<= 1;
        if top ^ ((data >> i) & 1) != 0 {
            crc ^= poly;
        }
    }
    crc
}

/// A hex number (`0x…` or bare hex digits) for the CRC knobs.
pub fn parse_hex(s: &str) -> Option<u32> {
    let t = s.trim();
    let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    u32::from_str_radix(t, 16).ok()
}

pub(crate) const DR: u32 = 0x00;
const IDR: u32 = 0x04;
pub(crate) const CR: u32 = 0x08;
pub(crate) const INIT: u32 = 0x10;
pub(crate) const POL: u32 = 0x14;
pub(crate) const CR_RESET: u32 = 1 << 0;
const DEFAULT_POL: u32 = 0x04C1_1DB7;
/// Cycles one data write keeps the unit busy (see the module notes).
const CYCLES_PER_WRITE: u64 = 4;

/// How the unit differs from its reference manual (`STFLASH_SIM_FAULTS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrcPeripheralFaults {
    /// `crc-peripheral=absent`: nothing answers at the unit's address (reads
    /// 0, writes ignored); its RCC enable bit still exists.
    pub absent: bool,
    /// `crc-peripheral=garbage`: DR reads a meaningless value.
    pub garbage: bool,
    /// `crc-peripheral=no-reset`: CR.RESET does not reload the initial value
    /// (each computation continues from the last).
    pub no_reset: bool,
    /// `crc-peripheral-order=<order>` (`crc-peripheral=lsb-first` is
    /// `reflected`): the input order whatever CR.REV_IN says.
    pub order: Option<InputOrder>,
    /// `crc-peripheral-init=<hex>`: CR.RESET loads this whatever INIT holds.
    pub init: Option<u32>,
    /// `crc-peripheral-poly=<hex>`: this 32-bit polynomial whatever POL holds.
    pub poly: Option<u32>,
    /// `crc-peripheral-left=app`: at power-on the unit is clocked and set up
    /// as an application might leave it (REV_IN 3, REV_OUT, 16-bit
    /// polynomial 0x8005, INIT 0x1234).
    pub left_by_app: bool,
}

impl CrcPeripheralFaults {
    pub const VALID: &'static str = "crc-peripheral=lsb-first|absent|garbage|no-reset, crc-peripheral-order=<order>, \
                                     crc-peripheral-init=<hex>, crc-peripheral-poly=<hex>, crc-peripheral-left=app";

    /// Apply one `key=value` item; `Ok(false)` when the key is not the CRC
    /// peripheral's.
    pub fn parse(&mut self, key: &str, value: Option<&str>) -> Result<bool, String> {
        let bad = || format!("fault '{key}={}': valid: {}", value.unwrap_or(""), Self::VALID);
        match (key, value) {
            ("crc-peripheral", Some("lsb-first")) => self.order = Some(InputOrder::Reflected),
            ("crc-peripheral", Some("absent")) => self.absent = true,
            ("crc-peripheral", Some("garbage")) => self.garbage = true,
            ("crc-peripheral", Some("no-reset")) => self.no_reset = true,
            ("crc-peripheral-order", Some(v)) => self.order = Some(InputOrder::parse(v).ok_or_else(bad)?),
            ("crc-peripheral-init", Some(v)) => self.init = Some(parse_hex(v).ok_or_else(bad)?),
            ("crc-peripheral-poly", Some(v)) => self.poly = Some(parse_hex(v).ok_or_else(bad)?),
            ("crc-peripheral-left", Some("app")) => self.left_by_app = true,
            (k, _) if k.starts_with("crc-peripheral") => return Err(bad()),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The CRC peripheral of one simulated part: its registers, its RCC clock
/// enable and its busy time.
#[derive(Debug, Clone)]
pub struct CrcPeripheralModel {
    pub place: Placement,
    /// The RCC enable register's value.
    enable_reg: u32,
    crc: u32,
    idr: u32,
    cr: u32,
    init: u32,
    pol: u32,
    busy_until: Nanos,
    /// How the unit differs from its reference manual.
    pub faults: CrcPeripheralFaults,
    /// The core clock (Hz) the unit runs on.
    pub hclk_hz: u64,
}

impl CrcPeripheralModel {
    pub fn new(place: Placement) -> CrcPeripheralModel {
        let mut u = CrcPeripheralModel {
            place,
            enable_reg: 0,
            crc: 0,
            idr: 0,
            cr: 0,
            init: 0,
            pol: 0,
            busy_until: 0,
            faults: CrcPeripheralFaults::default(),
            hclk_hz: place.hclk_hz,
        };
        u.reset();
        u
    }

    /// Power-on with the faults in force (`crc-peripheral-left=app`: as an
    /// application left it).
    pub fn power_on(&mut self) {
        self.reset();
        if self.faults.left_by_app {
            self.enable_reg |= self.place.enable.1;
            if self.place.regs != Regs::Basic {
                self.init = 0x1234;
                self.cr = 3 << 5 | 1 << 7;
                if self.place.regs == Regs::Full {
                    self.cr |= 1 << 3;
                    self.pol = 0x8005;
                }
                self.crc = self.init & self.mask();
            }
        }
    }

    /// System reset: registers and the RCC register to their reset values.
    pub fn reset(&mut self) {
        self.enable_reg = 0;
        self.crc = u32::MAX;
        self.idr = 0;
        self.cr = 0;
        self.init = u32::MAX;
        self.pol = DEFAULT_POL;
        self.busy_until = 0;
    }

    fn in_block(&self, addr: u32) -> bool {
        addr.wrapping_sub(self.place.base) < 0x400
    }

    /// The address is the unit's or its enable register's.
    pub fn claims(&self, addr: u32) -> bool {
        self.in_block(addr) || addr & !3 == self.place.enable.0
    }

    fn clocked(&self) -> bool {
        self.enable_reg & self.place.enable.1 != 0 && !self.faults.absent
    }

    /// Accesses to DR wait while the unit computes.
    pub fn stall_until(&self, addr: u32, now: Nanos) -> Nanos {
        if self.clocked() && addr & !3 == self.place.base + DR {
            self.busy_until.max(now)
        } else {
            now
        }
    }

    /// The next time a computation completes, if one is running.
    pub fn next_event(&self, now: Nanos) -> Option<Nanos> {
        (self.busy_until > now).then_some(self.busy_until)
    }

    fn polysize(&self) -> u32 {
        match (self.place.regs, (self.cr >> 3) & 3) {
            (Regs::Full, 1) => 16,
            (Regs::Full, 2) => 8,
            (Regs::Full, 3) => 7,
            _ => 32,
        }
    }

    fn mask(&self) -> u32 {
        match self.polysize() {
            32 => u32::MAX,
            n => (1 << n) - 1,
        }
    }

    /// DR as read: the CRC, bit-reversed over its size when REV_OUT is set.
    fn output(&self) -> u32 {
        if self.place.regs != Regs::Basic && self.cr & (1 << 7) != 0 {
            self.crc.reverse_bits() >> (32 - self.polysize())
        } else {
            self.crc
        }
    }

    pub fn read(&mut self, addr: u32, width: AccessWidth) -> u32 {
        if addr & !3 == self.place.enable.0 {
            return lane(self.enable_reg, addr, width);
        }
        if !self.clocked() {
            return 0;
        }
        let word = match (addr - self.place.base) & !3 {
            DR if self.faults.garbage => {
                let mut x = self.crc ^ 0x2545_F491;
                x ^= x << 13;
                x ^= x >> 17;
                x ^ (x << 5)
            }
            DR => self.output(),
            IDR => self.idr,
            CR => self.cr & !CR_RESET,
            INIT if self.place.regs != Regs::Basic => self.init,
            POL if self.place.regs == Regs::Full => self.pol,
            _ => 0,
        };
        lane(word, addr, width)
    }

    pub fn write(&mut self, addr: u32, width: AccessWidth, value: u32, now: Nanos) {
        if addr & !3 == self.place.enable.0 {
            self.enable_reg = merge(self.enable_reg, addr, width, value);
            return;
        }
        if !self.clocked() {
            return;
        }
        let basic = self.place.regs == Regs::Basic;
        match (addr - self.place.base) & !3 {
            DR => {
                // The basic unit takes whole words only.
                if basic && width != AccessWidth::Word {
                    return;
                }
                self.feed(value, width);
                self.busy_until = now + CYCLES_PER_WRITE * 1_000_000_000 / self.hclk_hz.max(1);
            }
            IDR => {
                let v = merge(self.idr, addr, width, value);
                self.idr = if basic { v & 0xFF } else { v };
            }
            CR => {
                let v = merge(self.cr, addr, width, value);
                self.cr = match self.place.regs {
                    Regs::Basic => 0,
                    Regs::Init => v & 0xE0,
                    Regs::Full => v & 0xF8,
                };
                if v & CR_RESET != 0 && !self.faults.no_reset {
                    self.crc = self.faults.init.unwrap_or(self.init) & self.mask();
                }
            }
            INIT if !basic => self.init = merge(self.init, addr, width, value),
            POL if self.place.regs == Regs::Full => self.pol = merge(self.pol, addr, width, value),
            _ => {}
        }
    }

    /// Hash one data write of `width` bits, most significant bit first
    /// after the REV_IN reversal.
    fn feed(&mut self, value: u32, width: AccessWidth) {
        let bits = 8 * width.bytes();
        let mut data = if bits == 32 { value } else { value & ((1 << bits) - 1) };
        if self.place.regs != Regs::Basic {
            data = match (self.cr >> 5) & 3 {
                1 => reverse_in_units(data, 8, bits),
                2 => reverse_in_units(data, 16.min(bits), bits),
                3 => reverse_in_units(data, bits, bits),
                _ => data,
            };
        }
        if let Some(order) = self.faults.order {
            // Whatever CR says: the word (or narrower write) in this order.
            data = if bits == 32 { order.fed(value) } else { reverse_in_units(data, bits, bits) };
        }
        let n = self.polysize();
        let mask = self.mask();
        let pol = self.faults.poly.unwrap_or(if self.place.regs == Regs::Full { self.pol } else { DEFAULT_POL }) & mask;
        let mut crc = self.crc & mask;
        for i in (0..bits).rev() {
            let bit = (data >> i) & 1;
            let top = (crc >> (n - 1)) & 1;
            crc = (crc << 1) & mask;
            if top ^ bit != 0 {
                crc ^= pol;
            }
        }
        self.crc = crc;
    }
}

/// Reverse the bits of each `unit`-bit group of the low `bits` bits of `v`.
fn reverse_in_units(v: u32, unit: u32, bits: u32) -> u32 {
    let mut out = 0;
    for g in 0..bits / unit {
        let part = (v >> (g * unit)) & if unit == 32 { u32::MAX } else { (1 << unit) - 1 };
        out |= (part.reverse_bits() >> (32 - unit)) << (g * unit);
    }
    out
}

fn lane(word: u32, addr: u32, width: AccessWidth) -> u32 {
    (word >> (8 * (addr & 3))) & width.mask()
}

fn merge(old: u32, addr: u32, width: AccessWidth, value: u32) -> u32 {
    let shift = 8 * (addr & 3);
    let mask = width.mask() << shift;
    (old & !mask) | ((value << shift) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crc::{Crc, CRC_32_MPEG_2};

    fn unit(dev_id: u16) -> CrcPeripheralModel {
        let mut u = CrcPeripheralModel::new(placement(dev_id).unwrap());
        let (reg, bit) = u.place.enable;
        u.write(reg, AccessWidth::Word, bit, 0);
        u
    }

    fn words_msb_first(bytes: &[u8]) -> Vec<u8> {
        bytes.chunks(4).flat_map(|w| w.iter().rev().copied().collect::<Vec<_>>()).collect()
    }

    #[test]
    fn reset_state_computes_crc32_mpeg2_over_words() {
        let mpeg2 = Crc::<u32>::new(&CRC_32_MPEG_2);
        let data: Vec<u8> = (0..64u32).map(|i| (i * 37 + 11) as u8).collect();
        for dev_id in [0x410, 0x413, 0x415, 0x480] {
            let mut u = unit(dev_id);
            let base = u.place.base;
            u.write(base + CR, AccessWidth::Word, CR_RESET, 0);
            for w in data.chunks(4) {
                u.write(base, AccessWidth::Word, u32::from_le_bytes([w[0], w[1], w[2], w[3]]), 0);
            }
            assert_eq!(u.read(base, AccessWidth::Word), mpeg2.checksum(&words_msb_first(&data)), "0x{dev_id:03X}");
        }
    }

    #[test]
    fn without_its_clock_the_unit_reads_zero_and_ignores_writes() {
        let p = placement(0x413).unwrap();
        let mut u = CrcPeripheralModel::new(p);
        u.write(p.base + IDR, AccessWidth::Word, 0x5A, 0);
        assert_eq!(u.read(p.base + DR, AccessWidth::Word), 0);
        u.write(p.enable.0, AccessWidth::Word, p.enable.1, 0);
        assert_eq!(u.read(p.base + DR, AccessWidth::Word), u32::MAX);
        assert_eq!(u.read(p.base + IDR, AccessWidth::Word), 0, "the write without clock was lost");
        assert_eq!(u.read(p.enable.0, AccessWidth::Word), p.enable.1);
    }

    #[test]
    fn settings_left_by_an_application_change_the_result_until_reset() {
        let mut u = unit(0x415);
        let base = u.place.base;
        let word = 0x1234_5678;
        u.write(base + CR, AccessWidth::Word, CR_RESET, 0);
        u.write(base, AccessWidth::Word, word, 0);
        let plain = u.read(base, AccessWidth::Word);
        // CRC-32/ISO-HDLC style: inputs and output reflected.
        u.write(base + CR, AccessWidth::Word, CR_RESET | 3 << 5 | 1 << 7, 0);
        u.write(base, AccessWidth::Word, word, 0);
        assert_ne!(u.read(base, AccessWidth::Word), plain);
        let hdlc = Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
        assert_eq!(u.read(base, AccessWidth::Word) ^ u32::MAX, hdlc.checksum(&word.to_le_bytes()));
        u.write(base + INIT, AccessWidth::Word, 0, 0);
        u.write(base + CR, AccessWidth::Word, CR_RESET, 0);
        u.write(base, AccessWidth::Word, word, 0);
        assert_ne!(u.read(base, AccessWidth::Word), plain, "INIT 0");
        // The basic unit has no such settings.
        let mut b = unit(0x410);
        let bb = b.place.base;
        b.write(bb + CR, AccessWidth::Word, CR_RESET | 3 << 5, 0);
        b.write(bb, AccessWidth::Word, word, 0);
        assert_eq!(b.read(bb, AccessWidth::Word), plain);
        assert_eq!(b.read(bb + CR, AccessWidth::Word), 0);
    }

    #[test]
    fn a_data_write_keeps_dr_busy_for_four_core_clock_cycles() {
        let mut u = unit(0x410);
        let base = u.place.base;
        u.write(base, AccessWidth::Word, 1, 1000);
        assert_eq!(u.stall_until(base, 1000), 1500, "4 cycles at 8 MHz");
        assert_eq!(u.stall_until(base + IDR, 1000), 1000);
        assert_eq!(u.next_event(1200), Some(1500));
        assert_eq!(u.next_event(1500), None);
    }

    #[test]
    fn faults_make_the_unit_differ_from_its_manual() {
        let mpeg2 = Crc::<u32>::new(&CRC_32_MPEG_2);
        let word = 0x1234_5678u32;
        let run = |faults: &str| {
            let mut f = CrcPeripheralFaults::default();
            for item in faults.split(',').filter(|s| !s.is_empty()) {
                let (k, v) = item.split_once('=').unwrap();
                assert!(f.parse(k, Some(v)).unwrap());
            }
            let mut u = CrcPeripheralModel::new(placement(0x415).unwrap());
            u.faults = f;
            u.power_on();
            let (reg, bit) = u.place.enable;
            u.write(reg, AccessWidth::Word, bit, 0);
            let base = u.place.base;
            u.write(base + INIT, AccessWidth::Word, u32::MAX, 0);
            u.write(base + POL, AccessWidth::Word, DEFAULT_POL, 0);
            let mut out = Vec::new();
            for _ in 0..2 {
                u.write(base + CR, AccessWidth::Word, CR_RESET, 0);
                u.write(base, AccessWidth::Word, word, 0);
                out.push(u.read(base, AccessWidth::Word));
            }
            out
        };
        let plain = mpeg2.checksum(&word.to_be_bytes());
        assert_eq!(run(""), vec![plain, plain]);
        assert_eq!(run("crc-peripheral-left=app"), vec![plain, plain], "CR, INIT and POL written again");
        assert_eq!(run("crc-peripheral=absent"), vec![0, 0]);
        assert_ne!(run("crc-peripheral=garbage")[0], plain);
        let chained = run("crc-peripheral=no-reset");
        assert_eq!(chained[0], plain);
        assert_ne!(chained[1], plain, "the second computation continues from the first");
        assert_ne!(run("crc-peripheral-init=0")[0], plain);
        assert_ne!(run("crc-peripheral-poly=0x1EDC6F41")[0], plain);
        assert_eq!(run("crc-peripheral-order=bytes")[0], mpeg2.checksum(&word.to_le_bytes()));
        assert_eq!(run("crc-peripheral=lsb-first"), run("crc-peripheral-order=reflected"));
        let mut f = CrcPeripheralFaults::default();
        assert!(f.parse("crc-peripheral", Some("sideways")).unwrap_err().contains("no-reset"));
        assert_eq!(f.parse("wait", Some("3")), Ok(false));
    }
}
