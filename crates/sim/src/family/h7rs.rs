//! STM32H7R/S flash model (RM0477), written from ST's CMSIS device header
//! stm32h7r3xx.h (`FLASH_TypeDef` :872-914; FLASH_CR :8763-8793, FLASH_SR
//! :8798-8816, FLASH_ISR :8856-8886, FLASH_OPTCR/OPTISR :8987-9010, the option
//! status registers :9057-9279) and the register descriptions in ST's SVD
//! for the H7S (as converted in cmforthlib `stm32h7s/flash.fs`).
//!
//! What it models:
//! - KEYR unlocks CR.LOCK (bit 0); a wrong key or a second sequence locks
//!   until reset; setting LOCK leaves the other CR bits as they were;
//! - one bank of 8 × 8 KiB sectors at 0x08000000, ECC per 16-byte word;
//! - sector erase (SER, SSN bits 8:6, START bit 5) and bank erase (BER,
//!   which wins over SER: ST's SVD, FLASH_CR.BER); QW and BUSY in SR while
//!   an operation runs;
//! - programming with PG through a 16-byte write buffer: accesses of any
//!   width fill it (assumed; ST's HAL writes 16-bit halves, OpenOCD 32-bit
//!   words), the flash word is written when all 16 bytes are in or when FW
//!   forces it (missing bytes 0xFF); WBNE while partly filled;
//! - errors in ISR, cleared by writing 1 to ICR (bits 16-28): STRBERRF (a
//!   byte written twice), INCERRF (another flash word while the buffer is
//!   partly filled), PGSERRF (START without SER/BER, a flash write with PG
//!   clear, an operation while an error is pending), WRPERRF (a sector
//!   protected in WRPSR, or the debugger while NVSTATE is Closed); nothing
//!   happens on an error; EOPF at the end of each operation;
//! - options: OPTKEYR unlocks OPTCR.OPTLOCK; with OPTCR.PG_OPT set, writes
//!   to the `*SRP` registers (4 above their `*SR`) are programmed (QW for a
//!   modeled 2 ms) and then in force in `*SR` (assumed at once; RM0477 not
//!   read); without PG_OPT they are ignored; OPTISR.OPTERRF and KVEF/KTEF are
//!   not raised by anything modeled;
//! - NVSTATE (NVSR, 0xB4 Open, 0x51 Closed): while Closed, debugger reads of
//!   flash fault and erase or program raise WRPERRF; the debug port still
//!   answers (on silicon it closes except for debug authentication, not
//!   modeled) so that stflash's message can be seen.
//!
//! Assumed, no knob changes them: the operation times (the H7A/B's 25 µs
//! per flash word, 5 ms per sector, 40 ms per bank); the buffer is dropped
//! on STRBERRF and INCERRF; a debugger read of a flash word programmed twice
//! faults (broken ECC); OTP reads 0xFF and takes no writes (PG_OTP is not
//! modeled).

use std::ops::Range;

use crate::facts::Facts;
use crate::model::{
    load_words, parse_ranges, saved_blob, Access, AccessWidth, BusFault, ConfigResult, FlashArray, FlashModel,
    FlashStats, Initiator, KeyLatch, Nanos, PendingOp, MS, US,
};
use crate::parts::Part;

const KIB: u32 = 1024;
const FLASH_BASE: u32 = 0x0800_0000;
const SIZE: u32 = 64 * KIB;
const SECTOR: u32 = 8 * KIB;
const WORD: u32 = 16;
const REGS: Range<u32> = 0x5200_2000..0x5200_2400;
/// 1 KiB OTP (stm32h7r3xx.h:1942, 1976).
const OTP: Range<u32> = 0x08FF_F000..0x08FF_F400;

// Register offsets.
const KEYR: u32 = 0x04;
const CR: u32 = 0x10;
const SR: u32 = 0x14;
const ISR: u32 = 0x24;
const ICR: u32 = 0x28;
const OPTKEYR: u32 = 0x100;
const OPTCR: u32 = 0x104;
const OPTISR: u32 = 0x108;
const OPTICR: u32 = 0x10C;
/// The option status registers with a programming register 4 above:
/// NVSR, ROTSR, OTPLSR, WRPSR, HDPSR, OBW1SR, OBW2SR.
const OPTION_SR: [u32; 7] = [0x200, 0x208, 0x210, 0x218, 0x230, 0x260, 0x268];
const NVSR_I: usize = 0;
const WRPSR_I: usize = 3;

// CR.
const LOCK: u32 = 1 << 0;
const PG: u32 = 1 << 1;
const SER: u32 = 1 << 2;
const BER: u32 = 1 << 3;
const FW: u32 = 1 << 4;
const START: u32 = 1 << 5;
const SSN_SHIFT: u32 = 6;
const SSN_MASK: u32 = 0x7;
// SR.
const BUSY: u32 = 1 << 0;
const WBNE: u32 = 1 << 1;
const QW: u32 = 1 << 2;
// ISR.
const EOPF: u32 = 1 << 16;
const WRPERRF: u32 = 1 << 17;
const PGSERRF: u32 = 1 << 18;
const STRBERRF: u32 = 1 << 19;
const INCERRF: u32 = 1 << 21;
/// EOPF and the error flags ICR clears.
const CLEARABLE: u32 = 0x1FFF_0000;
const BLOCKING: u32 = WRPERRF | PGSERRF | STRBERRF | INCERRF;
// OPTCR.
const OPTLOCK: u32 = 1 << 0;
const PG_OPT: u32 = 1 << 1;

const NVSTATE_OPEN: u32 = 0xB4;
const NVSTATE_CLOSED: u32 = 0x51;

const KEYS: [u32; 2] = [0x4567_0123, 0xCDEF_89AB];
const OPTKEYS: [u32; 2] = [0x0819_2A3B, 0x4C5D_6E7F];

const WORD_TIME: Nanos = 25 * US;
const SECTOR_TIME: Nanos = 5 * MS;
const BANK_TIME: Nanos = 40 * MS;
const OPTION_TIME: Nanos = 2 * MS;

/// The option status registers as shipped (illustrative where no source
/// gives them): NVSTATE Open, OEM_PROVD/DBG_AUTH/IROT_SELECT unprovisioned
/// (0x6A, 0xFF, 0x6A as in ST's HAL value lists), no OTP block locked, no
/// sector protected, no HDP area (start above end), OBW1SR with no reset on
/// Stop/Standby and the watchdogs running, OBW2SR with no TCM share.
const OPTIONS_DEFAULT: [u32; 7] = [NVSTATE_OPEN, 0x6A00_FF6A, 0, 0xFF, 0x0000_00FF, 0x0006_00C0, 0];

/// Erase offsets are from the array's base.
type Op = PendingOp<{ WORD as usize }>;

#[derive(Debug, Clone)]
struct Buffer {
    addr: u32,
    data: [u8; WORD as usize],
    written: u16,
}

/// The H7R/S flash controller and its bank.
pub struct H7rsModel {
    array: FlashArray,
    cr: u32,
    isr: u32,
    optcr: u32,
    optisr: u32,
    key: KeyLatch,
    opt_key: KeyLatch,
    /// The option status registers in force and their programming registers.
    options: [u32; 7],
    programmed: [u32; 7],
    buffer: Option<Buffer>,
    busy: Option<(Nanos, Op)>,
}

impl Default for H7rsModel {
    fn default() -> Self {
        H7rsModel::new()
    }
}

impl H7rsModel {
    pub fn new() -> H7rsModel {
        let mut m = H7rsModel {
            array: FlashArray::new(FLASH_BASE, SIZE, 0xFF, WORD),
            cr: LOCK,
            isr: 0,
            optcr: OPTLOCK,
            optisr: 0,
            key: KeyLatch::default(),
            opt_key: KeyLatch::default(),
            options: OPTIONS_DEFAULT,
            programmed: OPTIONS_DEFAULT,
            buffer: None,
            busy: None,
        };
        m.reset();
        m
    }

    fn closed(&self) -> bool {
        self.options[NVSR_I] & 0xFF != NVSTATE_OPEN
    }

    fn protected(&self, sector: u32) -> bool {
        self.options[WRPSR_I] & (1 << sector) == 0
    }

    fn denied(&self, by: Initiator) -> bool {
        by == Initiator::Debugger && self.closed()
    }

    fn fail(&mut self, flags: u32) {
        self.isr |= flags;
        self.buffer = None;
    }

    fn start(&mut self, now: Nanos, time: Nanos, op: Op) {
        self.busy = Some((now + time, op));
    }

    fn write_cr(&mut self, value: u32, acc: &mut Access) {
        if self.cr & LOCK != 0 {
            return;
        }
        if value & LOCK != 0 {
            // Setting LOCK leaves the other bits as they are (as on the H7A/B).
            self.cr |= LOCK;
            return;
        }
        self.cr = value & !(START | FW);
        if value & FW != 0 && self.buffer.is_some() {
            if let Some(buf) = self.buffer.take() {
                self.start(acc.now, WORD_TIME, Op::Program { off: buf.addr - FLASH_BASE, data: buf.data });
            }
        }
        if value & START != 0 && self.busy.is_none() {
            self.start_erase(acc);
        }
    }

    /// START: BER (which wins over SER) or SER with SSN.
    fn start_erase(&mut self, acc: &mut Access) {
        let cr = self.cr;
        if cr & (SER | BER) == 0 || cr & PG != 0 || self.isr & BLOCKING != 0 {
            return self.fail(PGSERRF);
        }
        if self.denied(acc.by) {
            return self.fail(WRPERRF);
        }
        if cr & BER != 0 {
            if (0..SIZE / SECTOR).any(|s| self.protected(s)) {
                return self.fail(WRPERRF);
            }
            return self.start(acc.now, BANK_TIME, Op::Erase { off: 0, len: SIZE, sectors: 0, mass: 1 });
        }
        let sector = (cr >> SSN_SHIFT) & SSN_MASK;
        if self.protected(sector) {
            return self.fail(WRPERRF);
        }
        self.start(acc.now, SECTOR_TIME, Op::Erase { off: sector * SECTOR, len: SECTOR, sectors: 1, mass: 0 });
    }

    /// A write into the buffer: bytes of one flash word, each once.
    fn write_flash(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) {
        if self.cr & PG == 0 || self.isr & BLOCKING != 0 {
            return self.fail(PGSERRF);
        }
        let word = addr & !(WORD - 1);
        let mut buf = match self.buffer.take() {
            Some(b) if b.addr != word => return self.fail(INCERRF),
            Some(b) => b,
            None => {
                if self.denied(acc.by) || self.protected((word - FLASH_BASE) / SECTOR) {
                    return self.fail(WRPERRF);
                }
                Buffer { addr: word, data: [0xFF; WORD as usize], written: 0 }
            }
        };
        for i in 0..width.bytes() {
            let pos = (addr - word + i) as usize;
            if buf.written & (1 << pos) != 0 {
                return self.fail(STRBERRF);
            }
            buf.written |= 1 << pos;
            buf.data[pos] = (value >> (8 * i)) as u8;
        }
        if buf.written == u16::MAX {
            self.start(acc.now, WORD_TIME, Op::Program { off: buf.addr - FLASH_BASE, data: buf.data });
        } else {
            self.buffer = Some(buf);
        }
    }

    fn read_reg(&self, off: u32) -> u32 {
        let busy = if self.busy.is_some() { BUSY | QW } else { 0 };
        match off {
            CR => self.cr,
            SR => busy | if self.buffer.is_some() { WBNE } else { 0 },
            ISR => self.isr,
            OPTCR => self.optcr,
            OPTISR => self.optisr,
            o => match OPTION_SR.iter().position(|&r| r == o || r + 4 == o) {
                Some(i) if OPTION_SR[i] == o => self.options[i],
                Some(i) => self.programmed[i],
                None => 0,
            },
        }
    }

    fn write_reg(&mut self, off: u32, value: u32, acc: &mut Access) {
        match off {
            KEYR => {
                if self.key.write(self.cr & LOCK != 0, value, KEYS) {
                    self.cr |= LOCK;
                } else {
                    self.cr &= !LOCK;
                }
            }
            CR => self.write_cr(value, acc),
            ICR => self.isr &= !(value & CLEARABLE),
            OPTKEYR => {
                if self.opt_key.write(self.optcr & OPTLOCK != 0, value, OPTKEYS) {
                    self.optcr |= OPTLOCK;
                } else {
                    self.optcr &= !OPTLOCK;
                }
            }
            OPTCR if self.optcr & OPTLOCK == 0 => self.optcr = value & (OPTLOCK | PG_OPT),
            OPTICR => self.optisr &= !value,
            o => {
                // A *SRP register, programmed while PG_OPT is set.
                let Some(i) = OPTION_SR.iter().position(|&r| r + 4 == o) else { return };
                if self.optcr & (OPTLOCK | PG_OPT) == PG_OPT {
                    self.programmed[i] = value;
                    let now = acc.now;
                    self.busy = Some((now + OPTION_TIME, Op::Options));
                }
            }
        }
    }

    fn set_wrp(&mut self, ranges: &[(u32, u32)]) -> ConfigResult {
        for &(a, b) in ranges {
            if !self.array.contains(a) || !self.array.contains(b) {
                return Err(format!("wrp range 0x{a:08X}-0x{b:08X} is not inside the flash"));
            }
            for s in (a - FLASH_BASE) / SECTOR..=(b - FLASH_BASE) / SECTOR {
                self.options[WRPSR_I] &= !(1 << s);
            }
        }
        Ok(())
    }
}

impl FlashModel for H7rsModel {
    fn name(&self) -> &'static str {
        "H7R/S flash (RM0477)"
    }

    fn regions(&self) -> Vec<Range<u32>> {
        vec![REGS, self.array.range(), OTP]
    }

    fn is_register(&self, addr: u32) -> bool {
        REGS.contains(&addr)
    }

    fn advance(&mut self, now: Nanos, stats: &mut FlashStats) {
        let Some((_, op)) = self.busy.take_if(|(until, _)| *until <= now) else { return };
        if op.apply(&mut self.array, stats) {
            self.options = self.programmed;
        }
        self.isr |= EOPF;
    }

    fn next_event(&self, now: Nanos) -> Option<Nanos> {
        self.busy.as_ref().map(|(end, _)| *end).filter(|&t| t > now)
    }

    fn stall_until(&self, addr: u32, write: bool, _by: Initiator, now: Nanos) -> Nanos {
        // "The user application cannot access any embedded Flash memory
        // register until the operation is acknowledged" (ST's SVD,
        // FLASH_CR.START): flash and CR writes wait; SR reads do not.
        let stalls = self.array.contains(addr) || (write && addr & !3 == REGS.start + CR);
        match &self.busy {
            Some((until, _)) if stalls => (*until).max(now),
            _ => now,
        }
    }

    fn read(&mut self, addr: u32, width: AccessWidth, acc: &mut Access) -> Result<u32, BusFault> {
        if REGS.contains(&addr) {
            let shift = 8 * (addr & 3);
            return Ok((self.read_reg(addr & 0x3FC) >> shift) & width.mask());
        }
        if OTP.contains(&addr) {
            return Ok(width.mask());
        }
        if acc.by == Initiator::Debugger && self.array.ecc_error(addr) {
            return Err(BusFault);
        }
        Ok(self.array.read(addr, width))
    }

    fn write(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) -> Result<(), BusFault> {
        if REGS.contains(&addr) {
            let shift = 8 * (addr & 3);
            self.write_reg(addr & 0x3FC, value << shift, acc);
        } else if OTP.contains(&addr) {
            self.fail(PGSERRF);
        } else {
            self.write_flash(addr, width, value, acc);
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.cr = LOCK;
        self.isr = 0;
        self.optcr = OPTLOCK;
        self.optisr = 0;
        self.key = KeyLatch::default();
        self.opt_key = KeyLatch::default();
        self.programmed = self.options;
        self.buffer = None;
        self.busy = None;
    }

    fn debug_readable(&self, addr: u32) -> bool {
        !self.closed() || !self.array.contains(addr)
    }

    fn configure(&mut self, key: &str, value: &str) -> ConfigResult {
        match (key, value) {
            ("rdp" | "nvstate", "0") => self.options[NVSR_I] = NVSTATE_OPEN,
            ("rdp" | "nvstate", "1") => self.options[NVSR_I] = NVSTATE_CLOSED,
            ("wrp", v) => self.set_wrp(&parse_ranges(v)?)?,
            _ => {
                return Err(format!(
                    "{}: unknown setting {key}={value}; valid: rdp=0|1 (NVSTATE Open or Closed), \
                     wrp=<start>-<end>[+<start>-<end>…]",
                    self.name()
                ))
            }
        }
        self.programmed = self.options;
        Ok(())
    }

    fn save(&self) -> Vec<(String, Vec<u8>)> {
        let options: Vec<u8> = self.options.iter().flat_map(|w| w.to_le_bytes()).collect();
        vec![("flash".to_string(), self.array.data.clone()), ("options".to_string(), options)]
    }

    fn load(&mut self, blobs: &[(String, Vec<u8>)]) -> Result<(), String> {
        let flash = saved_blob(blobs, self.name(), "flash", SIZE as usize)?;
        let options = saved_blob(blobs, self.name(), "options", 28)?;
        self.array.poke(FLASH_BASE, flash);
        load_words(&mut self.options, options);
        self.reset();
        Ok(())
    }

    fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        if OTP.contains(&addr) {
            return (addr as u64 + len as u64 <= OTP.end as u64).then(|| vec![0xFF; len]);
        }
        self.array.slice(addr, len).map(<[u8]>::to_vec)
    }

    fn poke(&mut self, addr: u32, data: &[u8]) -> bool {
        self.array.poke(addr, data)
    }

    /// The model's facts by the names of ST's headers (stm32h7s7xx.h;
    /// keys: stm32h7rsxx_hal_flash.h).
    fn register_facts(&self, f: &mut Facts) {
        f.number("FLASH_R_BASE", REGS.start as u64);
        let regs = [
            ("KEYR", KEYR),
            ("CR", CR),
            ("SR", SR),
            ("ISR", ISR),
            ("ICR", ICR),
            ("OPTKEYR", OPTKEYR),
            ("OPTCR", OPTCR),
            ("OPTISR", OPTISR),
            ("OPTICR", OPTICR),
        ];
        for (name, offset) in regs {
            f.number(format!("FLASH_TypeDef.{name}"), offset as u64);
        }
        // The option status registers the model keeps (`OPTION_SR`).
        for (name, offset) in ["NVSR", "ROTSR", "OTPLSR", "WRPSR", "HDPSR", "OBW1SR", "OBW2SR"].iter().zip(OPTION_SR) {
            f.number(format!("FLASH_TypeDef.{name}"), offset as u64);
        }
        f.number("FLASH_KEY1", KEYS[0] as u64).number("FLASH_KEY2", KEYS[1] as u64);
        f.number("FLASH_OPT_KEY1", OPTKEYS[0] as u64).number("FLASH_OPT_KEY2", OPTKEYS[1] as u64);
        for (name, bit) in [("LOCK", LOCK), ("PG", PG), ("SER", SER), ("BER", BER), ("FW", FW), ("START", START)] {
            f.mask(format!("FLASH_CR_{name}"), bit);
        }
        f.mask("FLASH_CR_SSN", SSN_MASK << SSN_SHIFT);
        f.mask("FLASH_SR_BUSY", BUSY).mask("FLASH_SR_WBNE", WBNE).mask("FLASH_SR_QW", QW);
        for (name, bit) in
            [("EOPF", EOPF), ("WRPERRF", WRPERRF), ("PGSERRF", PGSERRF), ("STRBERRF", STRBERRF), ("INCERRF", INCERRF)]
        {
            f.mask(format!("FLASH_ISR_{name}"), bit).mask(format!("FLASH_ICR_{name}"), bit);
        }
        f.mask("FLASH_OPTCR_OPTLOCK", OPTLOCK).mask("FLASH_OPTCR_PG_OPT", PG_OPT);
        f.number("FLASH_SECTOR_SIZE", SECTOR as u64).number("FLASH_SECTOR_NB", (SIZE / SECTOR) as u64);
        f.number("OTP_AREA_BASE", OTP.start as u64);
    }
}

/// Simulated H7R/S parts: the H7S3 (the H7R3/R7/S7 have the same flash).
/// DBGMCU at 0x5C001000 (stm32h7r3xx.h:2158) with CR up to APB4FZR at +0x54
/// (21 words); flash-size register 0x08FFF80C (OpenOCD stm32h7x.c:301;
/// assumed); DTCM 64 KiB at 0x20000000 and AXI SRAM 456 KiB at 0x24000000
/// (stm32h7s7xx.h:2140-2166 at the default TCM share); system memory AN2606
/// Table 226; SW-DP 0x6BA02477 (OpenOCD tcl/target/stm32h7rsx.cfg:37-39);
/// the core on AP1 (access_port.rs). Cortex-M7 r1p2 and REV_ID 0x1000 are
/// assumed.
pub const PARTS: &[Part] = &[Part {
    name: "stm32h7s3l8",
    aliases: &["h7s3", "stm32h7s3", "h7r3", "h7s7", "h7r7", "h7rs"],
    dpidr: 0x6BA0_2477,
    cpuid: 0x411F_C272,
    idcode: 0x1000_6485,
    dbgmcu_addr: 0x5C00_1000,
    dbgmcu_ctrl_words: 21,
    flash_size_addr: 0x08FF_F80C,
    flash_size_kib: 64,
    sram: &[(0x2000_0000, 64 * KIB), (0x2400_0000, 456 * KIB)],
    system_memory: (0x1FF1_8000, 32 * KIB),
    boot_address: 0x0800_0000,
    voltage_mv: 3300,
    flash: || Box::new(H7rsModel::new()),
}];

/// The register facts of a part of this family, by the names of ST's
/// headers (`crate::facts`).
pub fn register_facts(part: &Part, f: &mut Facts) {
    let dev_id = (part.idcode & 0xFFF) as u16;
    // The assumed flash-size word is ST's `PACKAGE_BASE` (see the chip table).
    f.identity(part, "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE", "PACKAGE_BASE");
    if let Some(p) = crate::crc_peripheral::placement(dev_id) {
        f.crc(p, "CRC_BASE", ("RCC_BASE+RCC_TypeDef.AHB4ENR", "RCC_AHB4ENR_CRCEN"));
    }
    (part.flash)().register_facts(f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Requests;

    const R: u32 = 0x5200_2000;

    struct Bench {
        m: H7rsModel,
        now: Nanos,
        stats: FlashStats,
    }

    impl Bench {
        fn new() -> Bench {
            Bench { m: H7rsModel::new(), now: 0, stats: FlashStats::default() }
        }
        fn w(&mut self, addr: u32, value: u32) {
            self.now = self.now.max(self.m.stall_until(addr, true, Initiator::Debugger, self.now)) + 1000;
            self.m.advance(self.now, &mut self.stats);
            let mut req = Requests::default();
            let mut acc = Access { now: self.now, by: Initiator::Debugger, stats: &mut self.stats, requests: &mut req };
            self.m.write(addr, AccessWidth::Word, value, &mut acc).unwrap();
        }
        fn r(&mut self, addr: u32) -> u32 {
            self.now += 1000;
            self.m.advance(self.now, &mut self.stats);
            let mut req = Requests::default();
            let mut acc = Access { now: self.now, by: Initiator::Debugger, stats: &mut self.stats, requests: &mut req };
            self.m.read(addr, AccessWidth::Word, &mut acc).unwrap()
        }
        fn idle(&mut self) {
            self.now += 100 * MS;
            self.m.advance(self.now, &mut self.stats);
        }
        fn unlock(&mut self) {
            self.w(R + KEYR, KEYS[0]);
            self.w(R + KEYR, KEYS[1]);
        }
    }

    #[test]
    fn sectors_erase_by_ssn_and_errors_go_to_isr() {
        let mut b = Bench::new();
        b.m.poke(0x0800_E000, &[0; 16]);
        b.unlock();
        b.w(R + CR, SER | 7 << SSN_SHIFT);
        b.w(R + CR, SER | 7 << SSN_SHIFT | START);
        assert_eq!(b.r(R + SR) & QW, QW);
        b.idle();
        assert_eq!(b.m.peek(0x0800_E000, 16).unwrap(), vec![0xFF; 16]);
        assert_eq!(b.r(R + ISR) & EOPF, EOPF);
        b.w(R + CR, 0);
        b.w(R + CR, START);
        assert_eq!(b.r(R + ISR) & PGSERRF, PGSERRF, "START alone");
        assert_eq!(b.r(R + SR) & 0xFFFF_0000, 0, "no error flag in SR");
        b.w(R + ICR, CLEARABLE);
        assert_eq!(b.r(R + ISR), 0);
    }

    #[test]
    fn options_are_programmed_through_pg_opt_and_wrps_protects_sectors() {
        let mut b = Bench::new();
        b.w(R + 0x21C, 0xFD);
        assert_eq!(b.r(R + 0x218), 0xFF, "ignored while OPTLOCK is set");
        b.w(R + OPTKEYR, OPTKEYS[0]);
        b.w(R + OPTKEYR, OPTKEYS[1]);
        b.w(R + OPTCR, PG_OPT);
        b.w(R + 0x21C, 0xFD);
        assert_eq!(b.r(R + SR) & QW, QW);
        b.idle();
        assert_eq!(b.r(R + 0x218), 0xFD);
        b.unlock();
        b.w(R + CR, SER | 1 << SSN_SHIFT);
        b.w(R + CR, SER | 1 << SSN_SHIFT | START);
        assert_eq!(b.r(R + ISR) & WRPERRF, WRPERRF);
    }
}
