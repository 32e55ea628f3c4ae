//! Simulated STM32F0/F1/F3 page-type flash interface (FPEC), written from
//! RM0091 §3 (F0), RM0364 §3 / RM0316 §4 (F3), RM0008 §3 and the F1 flash
//! programming manuals PM0075 and PM0068 (XL-density).
//!
//! Modeled: the key sequence (a wrong key is a bus error and locks FLASH_CR
//! until reset), FLASH_CR bits at their RM positions, page erase through
//! FLASH_AR, mass erase, half-word programming (any other write width is a bus
//! error; a non-erased target half-word is skipped with PGERR unless the data
//! is 0x0000), write protection by page groups (WRPRTERR), read protection
//! (debugger reads of flash fault, program/erase set PGERR), EOP and the W1C
//! status flags, BSY with bus stalls on flash accesses, the second register set
//! of F1 XL-density parts at +0x40, the HSI that program/erase need (RCC_CR),
//! and option bytes (OPTWRE, OPTER, OPTPG, reload at reset or OBL_LAUNCH).

use std::ops::Range;

use crate::crc_peripheral;
use crate::facts::Facts;
use crate::model::{
    parse_range, Access, AccessWidth, BusFault, ConfigResult, FlashArray, FlashModel, FlashStats, Initiator, Nanos, MS,
    US,
};
use crate::parts::Part;

const FLASH_BASE: u32 = 0x0800_0000;
/// Register block (RM0091 §3.5.9 register map).
const REGS: u32 = 0x4002_2000;
const ACR: u32 = 0x00;
const KEYR: u32 = 0x04;
const OPTKEYR: u32 = 0x08;
const SR: u32 = 0x0C;
const CR: u32 = 0x10;
const AR: u32 = 0x14;
const OBR: u32 = 0x1C;
const WRPR: u32 = 0x20;
/// F1 XL-density: KEYR2/SR2/CR2/AR2 at +0x40 (PM0068; ST's CMSIS header
/// stm32f10x.h, `FLASH_TypeDef` under `STM32F10X_XL`).
const BANK2: u32 = 0x40;

const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;

// FLASH_SR (RM0091 §3.5.4): BSY 0, PGERR 2, WRPRTERR 4, EOP 5 (rc_w1).
const SR_BSY: u32 = 1 << 0;
const SR_PGERR: u32 = 1 << 2;
const SR_WRPRTERR: u32 = 1 << 4;
const SR_EOP: u32 = 1 << 5;
const SR_W1C: u32 = SR_PGERR | SR_WRPRTERR | SR_EOP;

// FLASH_CR (RM0091 §3.5.5): PG 0, PER 1, MER 2, OPTPG 4, OPTER 5, STRT 6,
// LOCK 7, OPTWRE 9, ERRIE 10, EOPIE 12, OBL_LAUNCH 13 (F0/F3 only).
const CR_PG: u32 = 1 << 0;
const CR_PER: u32 = 1 << 1;
const CR_MER: u32 = 1 << 2;
const CR_OPTPG: u32 = 1 << 4;
const CR_OPTER: u32 = 1 << 5;
const CR_STRT: u32 = 1 << 6;
const CR_LOCK: u32 = 1 << 7;
const CR_OPTWRE: u32 = 1 << 9;
const CR_ERRIE: u32 = 1 << 10;
const CR_EOPIE: u32 = 1 << 12;
const CR_OBL_LAUNCH: u32 = 1 << 13;

/// Option bytes: 8 (value, complement) pairs (RM0091 §3.2.2, RM0008 §2.5).
const OPT_BASE: u32 = 0x1FFF_F800;
const OPT_LEN: usize = 16;

/// RCC_CR: HSION bit 0, HSIRDY bit 1, HSITRIM reset 16 at bits 7:3
/// (RM0008 §7.3.1, RM0091 §6.4.1).
const RCC_CR: u32 = 0x4002_1000;
const RCC_CR_RESET_TRIM: u32 = 16 << 3;

// Timing: assumed, not measured; `flash-time=F` scales it. The half-word time is
// the typical programming time recalled from the STM32F103x8/B datasheet
// (DS5319, "Flash memory characteristics": 52.5 µs); 30 ms per erase lies
// between that table's recalled 20 ms typical and 40 ms maximum.
const PAGE_ERASE: Nanos = 30 * MS;
const MASS_ERASE: Nanos = 30 * MS;
const OPTION_ERASE: Nanos = 30 * MS;
const HALF_WORD: Nanos = 52 * US + 500;

/// Which reference manual's option-byte encoding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// F0 (RM0091/RM0360): RDP 0xAA = level 0, 0xCC = level 2; OBR.RDPRT
    /// bits 2:1; OBL_LAUNCH in CR.
    F0,
    /// F1 (RM0008/RM0041): RDP 0xA5 = unprotected; OBR.RDPRT bit 1 only; no
    /// level 2, no OBL_LAUNCH.
    F1,
    /// F3 (RM0316/RM0364/RM0365/RM0313): as F0.
    F3,
}

/// One simulated part's flash.
#[derive(Debug)]
pub struct FpSpec {
    pub series: Series,
    pub flash_size: u32,
    pub page_size: u32,
    /// Bytes driven by the first register set; the rest (F1 XL-density) by
    /// the second set at +0x40.
    pub bank1_size: u32,
    /// Pages per FLASH_WRPR bit.
    pub wrp_pages: u32,
    /// Bytes of the option block (CMSIS `OB_TypeDef`: 10 on F030x4/x6, F031,
    /// F04x; 12 on F05x/F030x8 and the 64 KiB F3 parts; 16 elsewhere).
    pub option_len: u32,
    /// Bit 31 protects every page from 31 × `wrp_pages` on (every part with
    /// 2 KiB pages: ST HAL `OB_WRP_PAGES62TO255` on F1 high density and XL,
    /// `OB_WRP_PAGES62TO127` on F303xC and F09x).
    pub wrp_last_bit_rest: bool,
}

/// A pending operation of one register set.
#[derive(Debug, Clone)]
enum Op {
    Erase { range: Range<u32>, mass: bool },
    Program { addr: u32, value: u16 },
    EraseOptions,
    ProgramOption { offset: usize, value: u8 },
}

/// One register set (bank 1, or F1 XL-density bank 2).
#[derive(Debug, Clone)]
struct Bank {
    /// Flash addresses this set drives.
    range: Range<u32>,
    cr: u32,
    sr: u32,
    ar: u32,
    /// KEY1 was the last key written.
    key1_seen: bool,
    /// A wrong key was written: locked until reset.
    frozen: bool,
    op: Option<(Nanos, Op)>,
}

impl Bank {
    fn new(range: Range<u32>) -> Bank {
        Bank { range, cr: CR_LOCK, sr: 0, ar: 0, key1_seen: false, frozen: false, op: None }
    }

    fn locked(&self) -> bool {
        self.cr & CR_LOCK != 0
    }

    fn busy_until(&self) -> Option<Nanos> {
        self.op.as_ref().map(|(end, _)| *end)
    }
}

/// The page-type flash model.
pub struct FpModel {
    spec: &'static FpSpec,
    array: FlashArray,
    banks: Vec<Bank>,
    acr: u32,
    /// Option bytes as stored in their flash cells.
    options: [u8; OPT_LEN],
    /// Option bytes as loaded into OBR/WRPR at the last reset.
    loaded: [u8; OPT_LEN],
    hsi_on: bool,
    /// `hsi=off`: the application switches the HSI off after each reset
    /// (program and erase need the HSI running: PM0042 p.9).
    app_stops_hsi: bool,
    /// OPTKEY1 was the last option key written.
    optkey1_seen: bool,
}

impl FpModel {
    pub fn new(spec: &'static FpSpec) -> FpModel {
        let mut banks = vec![Bank::new(FLASH_BASE..FLASH_BASE + spec.bank1_size.min(spec.flash_size))];
        if spec.flash_size > spec.bank1_size {
            banks.push(Bank::new(FLASH_BASE + spec.bank1_size..FLASH_BASE + spec.flash_size));
        }
        let options = factory_options(spec.series);
        let mut m = FpModel {
            spec,
            array: FlashArray::new(FLASH_BASE, spec.flash_size, 0xFF, 0),
            banks,
            acr: 0,
            options,
            loaded: options,
            hsi_on: true,
            app_stops_hsi: false,
            optkey1_seen: false,
        };
        m.reset();
        m
    }

    fn reg_end(&self) -> u32 {
        if self.banks.len() > 1 {
            REGS + BANK2 + AR + 4
        } else {
            REGS + WRPR + 4
        }
    }

    /// The register set and offset of a register address.
    fn bank_reg(&self, addr: u32) -> Option<(usize, u32)> {
        let off = addr.checked_sub(REGS)?;
        match off {
            KEYR | SR | CR | AR => Some((0, off)),
            o if self.banks.len() > 1 && [KEYR, SR, CR, AR].contains(&(o.wrapping_sub(BANK2))) => Some((1, o - BANK2)),
            _ => None,
        }
    }

    fn bank_of(&self, addr: u32) -> Option<usize> {
        self.banks.iter().position(|b| b.range.contains(&addr))
    }

    // ---- option bytes ----

    fn rdp_level(&self) -> u8 {
        rdp_level(self.spec.series, self.loaded[0])
    }

    fn wrp_bits(&self) -> u32 {
        u32::from_le_bytes([self.loaded[8], self.loaded[10], self.loaded[12], self.loaded[14]])
    }

    /// FLASH_WRPR bit guarding the page at `addr` (1 = not protected).
    fn wrp_bit(&self, addr: u32) -> u32 {
        let page = (addr - FLASH_BASE) / self.spec.page_size;
        let bit = page / self.spec.wrp_pages;
        if self.spec.wrp_last_bit_rest {
            bit.min(31)
        } else {
            bit
        }
    }

    fn protected(&self, range: &Range<u32>) -> bool {
        let wrp = self.wrp_bits();
        (range.start..range.end)
            .step_by(self.spec.page_size as usize)
            .any(|a| self.wrp_bit(a) < 32 && wrp & (1 << self.wrp_bit(a)) == 0)
    }

    /// FLASH_OBR from the loaded option bytes (RM0008 §3.4.6, RM0091 §3.5.7).
    fn obr(&self) -> u32 {
        let o = &self.loaded;
        let user = o[2] as u32;
        let (data0, data1) = (o[4] as u32, o[6] as u32);
        match self.spec.series {
            Series::F1 => {
                let rdprt = (self.rdp_level() > 0) as u32;
                rdprt << 1 | (user & 0xFF) << 2 | data0 << 10 | data1 << 18
            }
            Series::F0 | Series::F3 => {
                let rdprt = match self.rdp_level() {
                    0 => 0b00,
                    1 => 0b01,
                    _ => 0b11,
                };
                rdprt << 1 | user << 8 | data0 << 16 | data1 << 24
            }
        }
    }

    /// Reload the option bytes (system reset, OBL_LAUNCH).
    fn load_options(&mut self) {
        self.loaded = self.options;
    }

    // ---- register writes ----

    fn write_keyr(&mut self, b: usize, value: u32) -> Result<(), BusFault> {
        let bank = &mut self.banks[b];
        // A key while unlocked, or a wrong key, locks FLASH_CR until reset and is
        // a bus error (RM0091 §3.2.2 "Unlocking the flash memory").
        let ok = bank.locked() && !bank.frozen && if bank.key1_seen { value == KEY2 } else { value == KEY1 };
        if !ok {
            bank.frozen = true;
            bank.key1_seen = false;
            bank.cr |= CR_LOCK;
            return Err(BusFault);
        }
        if bank.key1_seen {
            bank.cr &= !CR_LOCK;
            bank.key1_seen = false;
        } else {
            bank.key1_seen = true;
        }
        Ok(())
    }

    fn write_optkeyr(&mut self, value: u32) -> Result<(), BusFault> {
        // Same keys as FLASH_KEYR; sets OPTWRE (RM0091 §3.3.3); needs FLASH_CR unlocked.
        let bank = &mut self.banks[0];
        if bank.locked() {
            return Ok(());
        }
        let expected = if self.optkey1_seen { KEY2 } else { KEY1 };
        if value != expected {
            self.optkey1_seen = false;
            bank.frozen = true;
            bank.cr = (bank.cr | CR_LOCK) & !CR_OPTWRE;
            return Err(BusFault);
        }
        if self.optkey1_seen {
            bank.cr |= CR_OPTWRE;
        }
        self.optkey1_seen = !self.optkey1_seen;
        Ok(())
    }

    fn write_cr(&mut self, b: usize, value: u32, acc: &mut Access) {
        let series = self.spec.series;
        let bank = &mut self.banks[b];
        // Registers take no writes while BSY (RM0091 §3.2.2 note).
        if bank.op.is_some() {
            return;
        }
        let obl = b == 0 && series != Series::F1 && value & CR_OBL_LAUNCH != 0;
        if bank.locked() {
            // Only OBL_LAUNCH is writable while locked (RM0091 §3.2.2).
            if obl {
                acc.requests.system_reset = true;
            }
            return;
        }
        let mut writable = CR_PG | CR_PER | CR_MER | CR_STRT | CR_ERRIE | CR_EOPIE;
        if b == 0 {
            writable |= CR_OPTPG | CR_OPTER;
        }
        let old = bank.cr;
        // OPTWRE is set by the option keys and can only be cleared by software.
        let optwre = old & value & CR_OPTWRE;
        bank.cr = (value & writable) | optwre | (value & CR_LOCK);
        if obl {
            acc.requests.system_reset = true;
            return;
        }
        if value & CR_STRT != 0 && bank.cr & CR_LOCK == 0 {
            self.start_erase(b, acc);
        }
    }

    /// STRT: erase what PER/MER/OPTER select.
    fn start_erase(&mut self, b: usize, acc: &mut Access) {
        let cr = self.banks[b].cr;
        let selected = cr & (CR_PER | CR_MER | CR_OPTER | CR_PG | CR_OPTPG);
        let op = match selected {
            CR_MER => Op::Erase { range: self.banks[b].range.clone(), mass: true },
            CR_PER => {
                let ar = self.banks[b].ar;
                if !self.banks[b].range.contains(&ar) {
                    // FLASH_AR outside this register set's bank: nothing to erase [assumption].
                    self.banks[b].cr &= !CR_STRT;
                    return;
                }
                let page = ar - (ar - FLASH_BASE) % self.spec.page_size;
                Op::Erase { range: page..page + self.spec.page_size, mass: false }
            }
            CR_OPTER if cr & CR_OPTWRE != 0 => Op::EraseOptions,
            _ => {
                // A program bit left set makes the erase fail (RM0091 §3.5.4
                // PGERR note; seen on an F103RB by the Black Magic Probe authors,
                // blackmagic commit 0af6d06: "the PG bit must be cleared after
                // programming, otherwise a subsequent erase attempt fails");
                // no operation selected: nothing happens.
                if selected & (CR_PG | CR_OPTPG) != 0 {
                    self.banks[b].sr |= SR_PGERR;
                }
                self.banks[b].cr &= !CR_STRT;
                return;
            }
        };
        let flag = match &op {
            Op::Erase { .. } if acc.by == Initiator::Debugger && self.rdp_level() > 0 => SR_PGERR,
            Op::Erase { range, .. } if self.protected(range) => SR_WRPRTERR,
            _ => 0,
        };
        if flag != 0 || !self.hsi_on {
            // Refused, or no HSI: the interface does nothing (RM0091 §3.2.2
            // requires the HSI; what silicon does without it is not stated).
            self.banks[b].sr |= flag;
            self.banks[b].cr &= !CR_STRT;
            return;
        }
        let time = match &op {
            Op::Erase { mass: true, .. } => MASS_ERASE,
            Op::EraseOptions => OPTION_ERASE,
            _ => PAGE_ERASE,
        };
        self.banks[b].op = Some((acc.now + time, op));
    }

    /// A half-word written to main flash with PG set (RM0091 §3.2.2).
    fn program(&mut self, b: usize, addr: u32, value: u16, acc: &mut Access) {
        let bank = &self.banks[b];
        if bank.cr & CR_PG == 0 || bank.op.is_some() {
            return;
        }
        let current = self.array.read(addr, AccessWidth::Half) as u16;
        let flag = if acc.by == Initiator::Debugger && self.rdp_level() > 0 {
            // RM0091 §3.3.1 level 1: program from the debugger sets PGERR.
            SR_PGERR
        } else if self.protected(&(addr..addr + 2)) {
            SR_WRPRTERR
        } else if current != 0xFFFF && value != 0 {
            // Not erased: skipped (only 0x0000 may overwrite, RM0091 §3.2.2).
            SR_PGERR
        } else {
            0
        };
        if flag != 0 || !self.hsi_on {
            self.banks[b].sr |= flag;
            return;
        }
        self.banks[b].op = Some((acc.now + HALF_WORD, Op::Program { addr, value }));
    }

    /// A half-word written to the option bytes with OPTPG set: the low byte is
    /// programmed and its complement goes into the high byte (RM0091 §3.2.2).
    fn program_option(&mut self, addr: u32, value: u16, acc: &mut Access) {
        let bank = &self.banks[0];
        if bank.cr & CR_OPTPG == 0 || bank.cr & CR_OPTWRE == 0 || bank.op.is_some() {
            return;
        }
        let offset = (addr - OPT_BASE) as usize;
        if self.options[offset] != 0xFF || self.options[offset + 1] != 0xFF {
            // Not erased: skipped with WRPRTERR (RM0091 §3.2.2 option byte programming).
            self.banks[0].sr |= SR_WRPRTERR;
            return;
        }
        if !self.hsi_on {
            return;
        }
        self.banks[0].op = Some((acc.now + HALF_WORD, Op::ProgramOption { offset, value: value as u8 }));
    }

    /// The option bytes the part has (the rest of the 16-byte block is not decoded).
    fn opt_range(&self) -> Range<u32> {
        OPT_BASE..OPT_BASE + self.spec.option_len
    }

    fn complete(&mut self, b: usize, op: Op, stats: &mut FlashStats) {
        match op {
            Op::Erase { range, mass } => {
                self.array.erase(range.start, range.end - range.start);
                if mass {
                    stats.mass_erases += 1;
                } else {
                    stats.erases += 1;
                }
            }
            Op::Program { addr, value } => {
                self.array.program(addr, &value.to_le_bytes());
                stats.words += 1;
            }
            Op::EraseOptions => self.options = [0xFF; OPT_LEN],
            Op::ProgramOption { offset, value } => {
                let was_protected = rdp_level(self.spec.series, self.loaded[0]) > 0;
                self.options[offset] = value;
                self.options[offset + 1] = !value;
                // Back to level 0: the main flash is mass-erased first (RM0091 §3.3.1).
                if offset == 0 && was_protected && rdp_level(self.spec.series, value) == 0 {
                    let size = self.array.data.len() as u32;
                    self.array.erase(FLASH_BASE, size);
                    stats.mass_erases += 1;
                }
            }
        }
        let bank = &mut self.banks[b];
        bank.cr &= !CR_STRT;
        bank.sr |= SR_EOP;
    }

    fn configure_wrp(&mut self, value: &str) -> ConfigResult {
        let range = parse_range(value)?;
        let end = FLASH_BASE + self.spec.flash_size;
        if range.start < FLASH_BASE || range.end > end {
            return Err(format!("wrp={value}: outside flash 0x{FLASH_BASE:08X}-0x{:08X}", end - 1));
        }
        let first = range.start - (range.start - FLASH_BASE) % self.spec.page_size;
        for page in (first..range.end).step_by(self.spec.page_size as usize) {
            let bit = self.wrp_bit(page);
            if bit < 32 {
                self.options[8 + 2 * (bit as usize / 8)] &= !(1 << (bit % 8));
            }
        }
        set_complements(&mut self.options);
        self.load_options();
        Ok(())
    }
}

/// Option bytes as shipped: unprotected, no write protection.
fn factory_options(series: Series) -> [u8; OPT_LEN] {
    let mut o = [0xFF; OPT_LEN];
    o[0] = if series == Series::F1 { 0xA5 } else { 0xAA };
    set_complements(&mut o);
    o
}

fn set_complements(o: &mut [u8; OPT_LEN]) {
    for i in (0..OPT_LEN).step_by(2) {
        o[i + 1] = !o[i];
    }
}

/// Read-protection level of an RDP byte (RM0008 §2.5: 0xA5 = unprotected;
/// RM0091 §3.3.1 Table 6: 0xAA level 0, 0xCC level 2, else level 1).
fn rdp_level(series: Series, rdp: u8) -> u8 {
    match (series, rdp) {
        (Series::F1, 0xA5) => 0,
        (Series::F1, _) => 1,
        (_, 0xAA) => 0,
        (_, 0xCC) => 2,
        _ => 1,
    }
}

impl FlashModel for FpModel {
    fn name(&self) -> &'static str {
        match self.spec.series {
            Series::F0 => "F0 flash (RM0091)",
            Series::F1 => "F1 flash (RM0008)",
            Series::F3 => "F3 flash (RM0316)",
        }
    }

    fn regions(&self) -> Vec<Range<u32>> {
        vec![self.array.range(), self.opt_range(), REGS..self.reg_end(), RCC_CR..RCC_CR + 4]
    }

    fn is_register(&self, addr: u32) -> bool {
        (REGS..self.reg_end()).contains(&addr) || (RCC_CR..RCC_CR + 4).contains(&addr)
    }

    fn advance(&mut self, now: Nanos, stats: &mut FlashStats) {
        for b in 0..self.banks.len() {
            if self.banks[b].busy_until().is_some_and(|end| end <= now) {
                let (_, op) = self.banks[b].op.take().expect("checked");
                self.complete(b, op, stats);
            }
        }
    }

    /// The earliest end of an operation in either bank.
    fn next_event(&self, now: Nanos) -> Option<Nanos> {
        self.banks.iter().filter_map(Bank::busy_until).filter(|&t| t > now).min()
    }

    fn stall_until(&self, addr: u32, _write: bool, _by: Initiator, now: Nanos) -> Nanos {
        // Flash accesses wait while their bank programs or erases (RM0091
        // §3.2.2); register accesses do not.
        let bank = if self.opt_range().contains(&addr) { Some(0) } else { self.bank_of(addr) };
        bank.and_then(|b| self.banks[b].busy_until()).map_or(now, |end| end.max(now))
    }

    fn read(&mut self, addr: u32, width: AccessWidth, acc: &mut Access) -> Result<u32, BusFault> {
        if self.array.contains(addr) {
            return Ok(self.array.read(addr, width));
        }
        if self.opt_range().contains(&addr) {
            let o = (addr - OPT_BASE) as usize;
            return Ok((0..width.bytes() as usize).fold(0, |v, i| v | (self.options[o + i] as u32) << (8 * i)));
        }
        if addr == RCC_CR {
            let hsi = self.hsi_on as u32;
            return Ok(hsi | hsi << 1 | RCC_CR_RESET_TRIM);
        }
        // Registers are word-access only (RM0091 §3.5).
        if width != AccessWidth::Word {
            return Err(BusFault);
        }
        if let Some((b, off)) = self.bank_reg(addr) {
            let bank = &self.banks[b];
            return Ok(match off {
                SR => bank.sr | if bank.op.is_some() { SR_BSY } else { 0 },
                CR => bank.cr,
                AR => bank.ar,
                _ => 0, // KEYR reads 0
            });
        }
        let _ = acc;
        Ok(match addr - REGS {
            ACR => self.acr,
            OBR => self.obr(),
            WRPR => self.wrp_bits(),
            _ => 0,
        })
    }

    fn write(&mut self, addr: u32, width: AccessWidth, value: u32, acc: &mut Access) -> Result<(), BusFault> {
        if let Some(b) = self.bank_of(addr) {
            // "Any attempt to write data that are not half-word long results in
            // a bus error" (RM0091 §3.2.2, RM0364 §3.2.2; PM0075 §2.3.3).
            if width != AccessWidth::Half {
                return Err(BusFault);
            }
            self.program(b, addr, value as u16, acc);
            return Ok(());
        }
        if self.opt_range().contains(&addr) {
            if width != AccessWidth::Half {
                return Err(BusFault);
            }
            self.program_option(addr, value as u16, acc);
            return Ok(());
        }
        if addr == RCC_CR {
            self.hsi_on = value & 1 != 0;
            return Ok(());
        }
        if width != AccessWidth::Word {
            return Err(BusFault);
        }
        if let Some((b, off)) = self.bank_reg(addr) {
            match off {
                KEYR => return self.write_keyr(b, value),
                SR => self.banks[b].sr &= !(value & SR_W1C),
                CR => self.write_cr(b, value, acc),
                AR if self.banks[b].op.is_none() => self.banks[b].ar = value,
                _ => {}
            }
            return Ok(());
        }
        match addr - REGS {
            ACR => self.acr = value & 0x3F,
            OPTKEYR => return self.write_optkeyr(value),
            _ => {}
        }
        Ok(())
    }

    fn reset(&mut self) {
        for bank in &mut self.banks {
            *bank = Bank::new(bank.range.clone());
        }
        self.acr = if self.spec.series == Series::F0 { 0 } else { 0x30 };
        self.hsi_on = !self.app_stops_hsi;
        self.optkey1_seen = false;
        self.load_options();
    }

    fn debug_readable(&self, addr: u32) -> bool {
        // Level 1: "even a simple read access generates a bus error" (RM0091 §3.3.1).
        !(self.rdp_level() > 0 && self.array.contains(addr))
    }

    fn debug_port_disabled(&self) -> bool {
        self.rdp_level() == 2
    }

    fn configure(&mut self, key: &str, value: &str) -> ConfigResult {
        let f1 = self.spec.series == Series::F1;
        match (key, value) {
            ("rdp", "0") => self.options[0] = if f1 { 0xA5 } else { 0xAA },
            ("rdp", "1") => self.options[0] = 0x00,
            ("rdp", "2") if !f1 => self.options[0] = 0xCC,
            ("wrp", range) => return self.configure_wrp(range),
            ("hsi", "on" | "off") => {
                self.app_stops_hsi = value == "off";
                self.hsi_on = !self.app_stops_hsi;
            }
            _ => {
                let rdp = if f1 { "rdp=0|1" } else { "rdp=0|1|2" };
                return Err(format!(
                    "{}: unknown setting {key}={value}; valid: {rdp}, wrp=<first>-<last> (write-protect the \
                     page groups of that range), hsi=on|off (off: the \
                     application stops the HSI)",
                    self.name()
                ));
            }
        }
        set_complements(&mut self.options);
        self.load_options();
        Ok(())
    }

    fn save(&self) -> Vec<(String, Vec<u8>)> {
        vec![("flash".to_string(), self.array.data.clone()), ("options".to_string(), self.options.to_vec())]
    }

    fn load(&mut self, blobs: &[(String, Vec<u8>)]) -> Result<(), String> {
        let mut flash = false;
        for (name, data) in blobs {
            match name.as_str() {
                "flash" if data.len() == self.array.data.len() => {
                    self.array.data.copy_from_slice(data);
                    flash = true;
                }
                "flash" => {
                    return Err(format!(
                        "{}: saved flash is {} bytes, expected {}",
                        self.name(),
                        data.len(),
                        self.array.data.len()
                    ))
                }
                "options" if data.len() == OPT_LEN => self.options.copy_from_slice(data),
                _ => return Err(format!("{}: unexpected state blob '{name}' ({} bytes)", self.name(), data.len())),
            }
        }
        if !flash {
            return Err(format!("{}: state has no 'flash' blob", self.name()));
        }
        self.load_options();
        Ok(())
    }

    fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        if let Some(s) = self.array.slice(addr, len) {
            return Some(s.to_vec());
        }
        let o = addr.checked_sub(OPT_BASE)? as usize;
        self.options.get(o..o.checked_add(len)?).map(<[u8]>::to_vec)
    }

    fn poke(&mut self, addr: u32, data: &[u8]) -> bool {
        self.array.poke(addr, data)
    }

    fn register_facts(&self, f: &mut Facts) {
        let series = self.spec.series;
        f.number("FLASH_R_BASE", REGS as u64);
        let mut regs = vec![
            ("ACR", ACR),
            ("KEYR", KEYR),
            ("OPTKEYR", OPTKEYR),
            ("SR", SR),
            ("CR", CR),
            ("AR", AR),
            ("OBR", OBR),
            ("WRPR", WRPR),
        ];
        if self.banks.len() > 1 {
            regs.extend([("KEYR2", BANK2 + KEYR), ("SR2", BANK2 + SR), ("CR2", BANK2 + CR), ("AR2", BANK2 + AR)]);
        }
        for (name, offset) in regs {
            f.number(format!("FLASH_TypeDef.{name}"), offset as u64);
        }
        f.number("FLASH_KEY1", KEY1 as u64).number("FLASH_KEY2", KEY2 as u64);
        // The option keys are the main keys (stm32f103xb.h `FLASH_OPTKEY1`).
        f.number("FLASH_OPTKEY1", KEY1 as u64).number("FLASH_OPTKEY2", KEY2 as u64);
        f.mask("FLASH_SR_BSY", SR_BSY).mask("FLASH_SR_PGERR", SR_PGERR).mask("FLASH_SR_EOP", SR_EOP);
        // F3 headers name bit 4 WRPERR (stm32f303xc.h), F0/F1 WRPRTERR.
        f.mask(if series == Series::F3 { "FLASH_SR_WRPERR" } else { "FLASH_SR_WRPRTERR" }, SR_WRPRTERR);
        for (name, bit) in [
            ("PG", CR_PG),
            ("PER", CR_PER),
            ("MER", CR_MER),
            ("OPTPG", CR_OPTPG),
            ("OPTER", CR_OPTER),
            ("STRT", CR_STRT),
            ("LOCK", CR_LOCK),
            ("OPTWRE", CR_OPTWRE),
            ("ERRIE", CR_ERRIE),
            ("EOPIE", CR_EOPIE),
        ] {
            f.mask(format!("FLASH_CR_{name}"), bit);
        }
        if series != Series::F1 {
            f.mask("FLASH_CR_OBL_LAUNCH", CR_OBL_LAUNCH);
        }
        f.number("OB_BASE", OPT_BASE as u64).number("OB_TypeDef.sizeof", self.spec.option_len as u64);
        f.number("RCC_BASE+RCC_TypeDef.CR", RCC_CR as u64);
        f.number("FLASH_PAGE_SIZE", self.spec.page_size as u64);
        if self.banks.len() > 1 {
            f.number("FLASH_BANK1_END", (FLASH_BASE + self.spec.bank1_size - 1) as u64);
        }
    }
}

/// The register facts of a part of this family, by the names of ST's
/// headers (`crate::facts`).
pub fn register_facts(part: &Part, f: &mut Facts) {
    let dev_id = (part.idcode & 0xFFF) as u16;
    f.identity(part, "DBGMCU_BASE+DBGMCU_TypeDef.IDCODE", "FLASHSIZE_BASE");
    if let Some(p) = crc_peripheral::placement(dev_id) {
        f.crc(p, "CRC_BASE", ("RCC_BASE+RCC_TypeDef.AHBENR", "RCC_AHBENR_CRCEN"));
    }
    // The F303's CCM SRAM (`CCMDATARAM_BASE`; the headers give no size).
    for &(base, _) in part.sram.iter().filter(|(base, _)| *base == 0x1000_0000) {
        f.number("CCMDATARAM_BASE", base as u64);
    }
    (part.flash)().register_facts(f);
}

// ---------------------------------------------------------------------------
// Simulated parts. DEV_ID: DBGMCU_IDCODE in the debug chapter of RM0091,
// RM0008 and RM0316; flash-size register: CMSIS `FLASHSIZE_BASE` (stm32f030x6.h,
// stm32f103xb.h, stm32f303xc.h); system memory: AN2606 Table 226; SRAM: the
// parts' datasheets.

const KIB: u32 = 1024;

static F030F4: FpSpec = FpSpec {
    series: Series::F0,
    flash_size: 16 * KIB,
    page_size: KIB,
    bank1_size: 16 * KIB,
    option_len: 10,
    wrp_pages: 4,
    wrp_last_bit_rest: false,
};
static F072RB: FpSpec = FpSpec {
    series: Series::F0,
    flash_size: 128 * KIB,
    page_size: 2 * KIB,
    bank1_size: 128 * KIB,
    option_len: 16,
    wrp_pages: 2,
    wrp_last_bit_rest: false,
};
static F103C8: FpSpec = FpSpec {
    series: Series::F1,
    flash_size: 64 * KIB,
    page_size: KIB,
    bank1_size: 64 * KIB,
    option_len: 16,
    wrp_pages: 4,
    wrp_last_bit_rest: false,
};
static F103ZE: FpSpec = FpSpec {
    series: Series::F1,
    flash_size: 512 * KIB,
    page_size: 2 * KIB,
    bank1_size: 512 * KIB,
    option_len: 16,
    wrp_pages: 2,
    wrp_last_bit_rest: true,
};
static F103ZG: FpSpec = FpSpec {
    series: Series::F1,
    flash_size: 1024 * KIB,
    page_size: 2 * KIB,
    bank1_size: 512 * KIB,
    option_len: 16,
    wrp_pages: 2,
    wrp_last_bit_rest: true,
};
static F303VC: FpSpec = FpSpec {
    series: Series::F3,
    flash_size: 256 * KIB,
    page_size: 2 * KIB,
    bank1_size: 256 * KIB,
    option_len: 16,
    wrp_pages: 2,
    wrp_last_bit_rest: true,
};

/// SW-DP of the Cortex-M0 parts: the DPIDR of Arm's Cortex-M0 DAP.
const DPIDR_M0: u32 = 0x0BB1_1477;
/// SW-DP of the STM32F1 (the value stlink's doc/tutorial.md:102 shows for a
/// genuine STM32F103; clones answer 0x2BA01477).
const DPIDR_M3_M4: u32 = 0x1BA0_1477;
/// SW-DP of the Cortex-M4 STM32s (stlink inc/stm32.h: 0x2BA01477 = F4, G4).
const DPIDR_F3: u32 = 0x2BA0_1477;

/// F0 DBGMCU: IDCODE, CR, APB1_FZ, APB2_FZ at 0x40015800 (RM0091 §40.9).
const F0_DBGMCU: u32 = 0x4001_5800;
/// F1/F3 DBGMCU at 0xE0042000 (RM0008 and RM0316 DBGMCU_IDCODE; CMSIS
/// `DBGMCU_BASE`).
const DBGMCU: u32 = 0xE004_2000;

pub const PARTS: &[Part] = &[
    Part {
        name: "stm32f030f4",
        aliases: &["f030", "stm32f030", "f030f4"],
        dpidr: DPIDR_M0,
        // Cortex-M0 r0p0.
        cpuid: 0x410C_C200,
        // DEV_ID 0x444, REV_ID 0x1000.
        idcode: 0x1000_0444,
        dbgmcu_addr: F0_DBGMCU,
        dbgmcu_ctrl_words: 3,
        flash_size_addr: 0x1FFF_F7CC,
        flash_size_kib: 16,
        sram: &[(0x2000_0000, 4 * KIB)],
        system_memory: (0x1FFF_EC00, 3 * KIB),
        boot_address: FLASH_BASE,
        voltage_mv: 3300,
        flash: || Box::new(FpModel::new(&F030F4)),
    },
    Part {
        name: "stm32f072rb",
        aliases: &["f072", "stm32f072", "f072rb"],
        dpidr: DPIDR_M0,
        cpuid: 0x410C_C200,
        idcode: 0x2000_0448,
        dbgmcu_addr: F0_DBGMCU,
        dbgmcu_ctrl_words: 3,
        flash_size_addr: 0x1FFF_F7CC,
        flash_size_kib: 128,
        sram: &[(0x2000_0000, 16 * KIB)],
        system_memory: (0x1FFF_C800, 12 * KIB),
        boot_address: FLASH_BASE,
        voltage_mv: 3300,
        flash: || Box::new(FpModel::new(&F072RB)),
    },
    Part {
        name: "stm32f103c8",
        aliases: &["f103", "stm32f103", "f103x8"],
        dpidr: DPIDR_M3_M4,
        // Cortex-M3 r1p1: CPUID IMPLEMENTER 0x41, VARIANT 1, PARTNO 0xC23,
        // REVISION 1 (layout: ARMv7-M Architecture Reference Manual, CPUID).
        cpuid: 0x411F_C231,
        // DEV_ID 0x410 (F1 medium density, RM0008 DBGMCU_IDCODE), REV_ID 0x2003.
        idcode: 0x2003_6410,
        // DBGMCU_IDCODE at 0xE0042000, DBGMCU_CR after it (RM0008 §31.16.3).
        dbgmcu_addr: DBGMCU,
        dbgmcu_ctrl_words: 1,
        // F1 flash-size register (RM0008 "Device electronic signature";
        // CMSIS stm32f103xb.h `FLASHSIZE_BASE`).
        flash_size_addr: 0x1FFF_F7E0,
        flash_size_kib: 64,
        // 20 KiB SRAM (STM32F103x8/B datasheet DS5319).
        sram: &[(0x2000_0000, 20 * KIB)],
        // System memory 0x1FFFF000-0x1FFFF7FF (AN2606 Table 226, F10xxx medium density).
        system_memory: (0x1FFF_F000, 0x800),
        boot_address: FLASH_BASE,
        voltage_mv: 3300,
        flash: || Box::new(FpModel::new(&F103C8)),
    },
    Part {
        name: "stm32f103ze",
        aliases: &["f103ze", "f103hd"],
        dpidr: DPIDR_M3_M4,
        cpuid: 0x411F_C231,
        // DEV_ID 0x414 (high density), REV_ID 0x1001 ("Z").
        idcode: 0x1001_0414,
        dbgmcu_addr: DBGMCU,
        dbgmcu_ctrl_words: 1,
        flash_size_addr: 0x1FFF_F7E0,
        flash_size_kib: 512,
        sram: &[(0x2000_0000, 64 * KIB)],
        system_memory: (0x1FFF_F000, 2 * KIB),
        boot_address: FLASH_BASE,
        voltage_mv: 3300,
        flash: || Box::new(FpModel::new(&F103ZE)),
    },
    Part {
        name: "stm32f103zg",
        aliases: &["f103zg", "f103xl"],
        dpidr: DPIDR_M3_M4,
        cpuid: 0x411F_C231,
        // DEV_ID 0x430 (XL-density), REV_ID 0x1003.
        idcode: 0x1003_0430,
        dbgmcu_addr: DBGMCU,
        dbgmcu_ctrl_words: 1,
        flash_size_addr: 0x1FFF_F7E0,
        flash_size_kib: 1024,
        sram: &[(0x2000_0000, 96 * KIB)],
        system_memory: (0x1FFF_E000, 6 * KIB),
        boot_address: FLASH_BASE,
        voltage_mv: 3300,
        flash: || Box::new(FpModel::new(&F103ZG)),
    },
    Part {
        name: "stm32f303vc",
        aliases: &["f303", "stm32f303", "f303vc"],
        dpidr: DPIDR_F3,
        // Cortex-M4 r0p1.
        cpuid: 0x410F_C241,
        // DEV_ID 0x422, REV_ID 0x1001.
        idcode: 0x1001_0422,
        dbgmcu_addr: DBGMCU,
        dbgmcu_ctrl_words: 3,
        flash_size_addr: 0x1FFF_F7CC,
        flash_size_kib: 256,
        sram: &[(0x2000_0000, 40 * KIB), (0x1000_0000, 8 * KIB)],
        system_memory: (0x1FFF_D800, 8 * KIB),
        boot_address: FLASH_BASE,
        voltage_mv: 3300,
        flash: || Box::new(FpModel::new(&F303VC)),
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Requests;

    struct Bus {
        m: FpModel,
        now: Nanos,
        stats: FlashStats,
        by: Initiator,
    }

    impl Bus {
        fn new(spec: &'static FpSpec) -> Bus {
            Bus { m: FpModel::new(spec), now: 0, stats: FlashStats::default(), by: Initiator::Debugger }
        }
        fn acc<'a>(now: Nanos, by: Initiator, stats: &'a mut FlashStats, req: &'a mut Requests) -> Access<'a> {
            Access { now, by, stats, requests: req }
        }
        fn wr(&mut self, addr: u32, width: AccessWidth, value: u32) -> Result<(), BusFault> {
            self.now = self.m.stall_until(addr, true, self.by, self.now);
            self.m.advance(self.now, &mut self.stats);
            let mut req = Requests::default();
            let mut acc = Self::acc(self.now, self.by, &mut self.stats, &mut req);
            let r = self.m.write(addr, width, value, &mut acc);
            self.now += 1000;
            r
        }
        fn w(&mut self, addr: u32, value: u32) {
            self.wr(addr, AccessWidth::Word, value).expect("register write");
        }
        fn rd(&mut self, addr: u32, width: AccessWidth) -> u32 {
            self.now = self.m.stall_until(addr, false, self.by, self.now);
            self.m.advance(self.now, &mut self.stats);
            let mut req = Requests::default();
            let mut acc = Self::acc(self.now, self.by, &mut self.stats, &mut req);
            self.m.read(addr, width, &mut acc).expect("read")
        }
        fn r(&mut self, addr: u32) -> u32 {
            self.rd(addr, AccessWidth::Word)
        }
        fn unlock(&mut self, bank: u32) {
            self.w(REGS + bank * BANK2 + KEYR, KEY1);
            self.w(REGS + bank * BANK2 + KEYR, KEY2);
        }
        /// Wait out the current operation.
        fn settle(&mut self) {
            self.now += 100 * MS;
            self.m.advance(self.now, &mut self.stats);
        }
        fn sr(&mut self) -> u32 {
            self.r(REGS + SR)
        }
        fn peek(&self, addr: u32, len: usize) -> Vec<u8> {
            self.m.peek(addr, len).unwrap()
        }
    }

    #[test]
    fn keys_unlock_once_and_a_wrong_or_repeated_key_locks_until_reset() {
        let mut b = Bus::new(&F103C8);
        assert_eq!(b.r(REGS + CR), CR_LOCK, "locked after reset");
        b.unlock(0);
        assert_eq!(b.r(REGS + CR), 0);
        // A second sequence while unlocked is a bus error and locks.
        assert_eq!(b.wr(REGS + KEYR, AccessWidth::Word, KEY1), Err(BusFault));
        assert_eq!(b.r(REGS + CR) & CR_LOCK, CR_LOCK);
        // Even the right keys do not help until reset.
        assert!(b.wr(REGS + KEYR, AccessWidth::Word, KEY1).is_err());
        b.m.reset();
        assert_eq!(b.wr(REGS + KEYR, AccessWidth::Word, 0x1234), Err(BusFault), "wrong KEY1");
        b.m.reset();
        b.w(REGS + KEYR, KEY1);
        assert_eq!(b.wr(REGS + KEYR, AccessWidth::Word, KEY1), Err(BusFault), "wrong KEY2");
        assert_eq!(b.r(REGS + CR) & CR_LOCK, CR_LOCK);
    }

    #[test]
    fn cr_writes_are_ignored_while_locked() {
        let mut b = Bus::new(&F103C8);
        b.w(REGS + CR, CR_PG);
        assert_eq!(b.wr(0x0800_0000, AccessWidth::Half, 0x1234), Ok(()));
        assert_eq!(b.peek(0x0800_0000, 2), [0xFF, 0xFF]);
        assert_eq!(b.r(REGS + CR), CR_LOCK);
    }

    #[test]
    fn half_word_programming_and_its_misuse() {
        let mut b = Bus::new(&F103C8);
        b.unlock(0);
        // PG clear: the write changes nothing.
        b.wr(0x0800_0000, AccessWidth::Half, 0x1234).unwrap();
        assert_eq!(b.peek(0x0800_0000, 2), [0xFF, 0xFF]);
        b.w(REGS + CR, CR_PG);
        // Byte and word writes are bus errors and program nothing.
        assert_eq!(b.wr(0x0800_0000, AccessWidth::Byte, 0x12), Err(BusFault));
        assert_eq!(b.wr(0x0800_0000, AccessWidth::Word, 0x1234_5678), Err(BusFault));
        assert_eq!(b.peek(0x0800_0000, 4), [0xFF; 4]);
        b.wr(0x0800_0000, AccessWidth::Half, 0x1234).unwrap();
        assert_eq!(b.sr() & SR_BSY, SR_BSY, "busy while programming");
        // A flash read stalls until the half-word is done.
        let t0 = b.now;
        assert_eq!(b.rd(0x0800_0000, AccessWidth::Half), 0x1234);
        assert!(b.now - t0 >= HALF_WORD - 1000, "stalled {} ns", b.now - t0);
        assert_eq!(b.sr(), SR_EOP);
        // Not erased: skipped with PGERR.
        b.wr(0x0800_0000, AccessWidth::Half, 0x0204).unwrap();
        b.settle();
        assert_eq!(b.peek(0x0800_0000, 2), [0x34, 0x12]);
        assert_eq!(b.sr() & SR_PGERR, SR_PGERR);
        // 0x0000 may always be written.
        b.w(REGS + SR, SR_PGERR | SR_EOP);
        assert_eq!(b.sr(), 0, "W1C");
        b.wr(0x0800_0000, AccessWidth::Half, 0).unwrap();
        b.settle();
        assert_eq!((b.peek(0x0800_0000, 2), b.sr()), (vec![0, 0], SR_EOP));
        assert_eq!(b.stats.words, 2);
    }

    #[test]
    fn page_erase_takes_far_and_per_at_their_bits() {
        let mut b = Bus::new(&F103C8);
        b.m.poke(0x0800_0000, &[0; 0x1000]);
        b.unlock(0);
        b.w(REGS + CR, CR_PER);
        b.w(REGS + AR, 0x0800_0404);
        b.w(REGS + CR, CR_PER | CR_STRT);
        assert_eq!(b.r(REGS + CR) & CR_STRT, CR_STRT, "STRT set while busy");
        // FLASH_AR and FLASH_CR take no writes while busy.
        b.w(REGS + AR, 0x0800_0000);
        b.w(REGS + CR, 0);
        b.settle();
        assert_eq!(b.r(REGS + CR), CR_PER, "STRT cleared at the end");
        assert_eq!(b.peek(0x0800_0400, 0x400), vec![0xFF; 0x400]);
        assert_eq!(b.peek(0x0800_0000, 4), [0; 4], "page 0 kept");
        assert_eq!(b.peek(0x0800_0800, 4), [0; 4], "page 2 kept");
        // A driver that writes MER where PER belongs erases everything.
        b.w(REGS + CR, CR_MER | CR_STRT);
        b.settle();
        assert_eq!(b.peek(0x0800_0000, 0x1000), vec![0xFF; 0x1000]);
        assert_eq!((b.stats.erases, b.stats.mass_erases), (1, 1));
    }

    #[test]
    fn strt_with_pg_left_set_fails_and_erases_nothing() {
        let mut b = Bus::new(&F103C8);
        b.m.poke(0x0800_0000, &[0; 4]);
        b.unlock(0);
        b.w(REGS + CR, CR_PG | CR_PER);
        b.w(REGS + AR, 0x0800_0000);
        b.w(REGS + CR, CR_PG | CR_PER | CR_STRT);
        b.settle();
        assert_eq!(b.peek(0x0800_0000, 4), [0; 4]);
        assert_eq!(b.sr() & SR_PGERR, SR_PGERR);
    }

    #[test]
    fn write_protected_groups_raise_wrprterr_and_keep_their_bytes() {
        let mut b = Bus::new(&F103C8);
        // F1 medium density: 4 pages (4 KiB) per WRPR bit; 0x08001000 is bit 1.
        b.m.configure("wrp", "0x08001000-0x08001003").unwrap();
        assert_eq!(b.r(REGS + WRPR), !0b10);
        b.m.poke(0x0800_1C00, &[0; 4]);
        b.unlock(0);
        b.w(REGS + CR, CR_PER);
        b.w(REGS + AR, 0x0800_1C00);
        b.w(REGS + CR, CR_PER | CR_STRT);
        b.settle();
        assert_eq!(b.peek(0x0800_1C00, 4), [0; 4]);
        assert_eq!(b.sr(), SR_WRPRTERR);
        b.w(REGS + CR, CR_PG);
        b.wr(0x0800_1FFE, AccessWidth::Half, 0x1111).unwrap();
        assert_eq!(b.peek(0x0800_1FFE, 2), [0xFF, 0xFF]);
        // The neighbouring group is free.
        b.wr(0x0800_2000, AccessWidth::Half, 0x1111).unwrap();
        b.settle();
        assert_eq!(b.peek(0x0800_2000, 2), [0x11, 0x11]);
        // Mass erase with a protected group: refused.
        b.w(REGS + SR, SR_W1C);
        b.w(REGS + CR, CR_MER | CR_STRT);
        b.settle();
        assert_eq!((b.sr(), b.peek(0x0800_2000, 2)), (SR_WRPRTERR, vec![0x11, 0x11]));
    }

    #[test]
    fn xl_bank2_has_its_own_registers() {
        let mut b = Bus::new(&F103ZG);
        b.unlock(0);
        // Bank 1's PG does not program bank 2.
        b.w(REGS + CR, CR_PG);
        b.wr(0x0808_0000, AccessWidth::Half, 0x1234).unwrap();
        b.settle();
        assert_eq!(b.peek(0x0808_0000, 2), [0xFF, 0xFF]);
        assert_eq!(b.r(REGS + BANK2 + CR), CR_LOCK, "CR2 still locked");
        b.unlock(1);
        b.w(REGS + BANK2 + CR, CR_PG);
        b.wr(0x0808_0000, AccessWidth::Half, 0x1234).unwrap();
        assert_eq!(b.r(REGS + BANK2 + SR), SR_BSY, "SR2 busy");
        assert_eq!(b.r(REGS + SR), 0, "SR unaffected");
        b.settle();
        assert_eq!(b.peek(0x0808_0000, 2), [0x34, 0x12]);
        assert_eq!(b.r(REGS + BANK2 + SR), SR_EOP);
        // Bank 1's mass erase leaves bank 2 alone, and the reverse.
        b.m.poke(0x0800_0000, &[0; 2]);
        b.w(REGS + CR, CR_MER | CR_STRT);
        b.settle();
        assert_eq!((b.peek(0x0800_0000, 2), b.peek(0x0808_0000, 2)), (vec![0xFF; 2], vec![0x34, 0x12]));
        b.w(REGS + BANK2 + CR, CR_MER | CR_STRT);
        b.settle();
        assert_eq!(b.peek(0x0808_0000, 2), [0xFF; 2]);
        // AR2 with a bank-1 address erases nothing.
        b.m.poke(0x0800_0000, &[0; 2]);
        b.w(REGS + BANK2 + CR, CR_PER);
        b.w(REGS + BANK2 + AR, 0x0800_0000);
        b.w(REGS + BANK2 + CR, CR_PER | CR_STRT);
        b.settle();
        assert_eq!(b.peek(0x0800_0000, 2), [0; 2]);
    }

    #[test]
    fn without_hsi_nothing_is_programmed_or_erased() {
        let mut b = Bus::new(&F103C8);
        b.m.configure("hsi", "off").unwrap();
        assert_eq!(b.r(RCC_CR) & 3, 0);
        b.unlock(0);
        b.w(REGS + CR, CR_PG);
        b.wr(0x0800_0000, AccessWidth::Half, 0).unwrap();
        b.settle();
        assert_eq!((b.peek(0x0800_0000, 2), b.sr()), (vec![0xFF; 2], 0));
        b.w(RCC_CR, 1);
        assert_eq!(b.r(RCC_CR) & 3, 3, "HSION and HSIRDY");
        b.wr(0x0800_0000, AccessWidth::Half, 0).unwrap();
        b.settle();
        assert_eq!(b.peek(0x0800_0000, 2), [0; 2]);
    }

    #[test]
    fn read_protection_blocks_debug_reads_and_program_erase() {
        let mut b = Bus::new(&F072RB);
        assert_eq!((b.r(REGS + OBR) >> 1) & 3, 0);
        b.m.configure("rdp", "1").unwrap();
        assert_eq!((b.r(REGS + OBR) >> 1) & 3, 0b01);
        assert!(!b.m.debug_readable(0x0800_0000) && b.m.debug_readable(OPT_BASE));
        b.unlock(0);
        b.w(REGS + CR, CR_PG);
        b.wr(0x0800_0000, AccessWidth::Half, 0).unwrap();
        assert_eq!(b.sr(), SR_PGERR);
        // Code on the core may.
        b.by = Initiator::Cpu;
        b.wr(0x0800_0002, AccessWidth::Half, 0).unwrap();
        b.settle();
        assert_eq!(b.peek(0x0800_0002, 2), [0; 2]);
        b.m.configure("rdp", "2").unwrap();
        assert!(b.m.debug_port_disabled());
        assert_eq!((b.r(REGS + OBR) >> 1) & 3, 0b11);
        // F1 has no level 2 and a one-bit RDPRT.
        let mut f1 = Bus::new(&F103C8);
        assert!(f1.m.configure("rdp", "2").is_err());
        f1.m.configure("rdp", "1").unwrap();
        assert_eq!(f1.r(REGS + OBR) & 0b10, 0b10);
    }

    #[test]
    fn option_bytes_program_and_level1_to_0_mass_erases() {
        let mut b = Bus::new(&F303VC);
        b.m.configure("rdp", "1").unwrap();
        b.m.poke(0x0800_0000, &[0; 4]);
        b.by = Initiator::Cpu;
        b.unlock(0);
        b.w(REGS + OPTKEYR, KEY1);
        b.w(REGS + OPTKEYR, KEY2);
        assert_eq!(b.r(REGS + CR) & CR_OPTWRE, CR_OPTWRE);
        b.w(REGS + CR, CR_OPTER | CR_OPTWRE);
        b.w(REGS + CR, CR_OPTER | CR_OPTWRE | CR_STRT);
        b.settle();
        assert_eq!(b.peek(OPT_BASE, 4), [0xFF; 4]);
        b.w(REGS + CR, CR_OPTPG | CR_OPTWRE);
        b.wr(OPT_BASE, AccessWidth::Half, 0x00AA).unwrap();
        b.settle();
        assert_eq!(b.peek(OPT_BASE, 2), [0xAA, 0x55], "complement written by hardware");
        assert_eq!(b.peek(0x0800_0000, 4), [0xFF; 4], "mass-erased on the way to level 0");
        // The new level applies at the next option reload.
        assert_eq!((b.r(REGS + OBR) >> 1) & 3, 0b01);
        b.w(REGS + CR, CR_OBL_LAUNCH);
        b.m.reset();
        assert_eq!((b.r(REGS + OBR) >> 1) & 3, 0);
    }

    #[test]
    fn configure_rejects_unknown_keys_and_bad_ranges() {
        let mut m = FpModel::new(&F103C8);
        let e = m.configure("dbank", "1").unwrap_err();
        assert!(e.contains("rdp=0|1") && e.contains("wrp="), "{e}");
        assert!(m.configure("wrp", "0x0900_0000").is_err());
        assert!(m.configure("wrp", "0x08000000-0x08100000").unwrap_err().contains("outside flash"));
        assert_eq!(parse_range("0x10-0x1f"), Ok(0x10..0x20));
    }

    #[test]
    fn save_and_load_keep_flash_and_options() {
        let mut m = FpModel::new(&F103C8);
        m.poke(0x0800_0010, &[1, 2]);
        m.configure("rdp", "1").unwrap();
        let mut n = FpModel::new(&F103C8);
        n.load(&m.save()).unwrap();
        assert_eq!(n.peek(0x0800_0010, 2), Some(vec![1, 2]));
        assert!(!n.debug_readable(0x0800_0000));
        assert!(n.load(&[("flash".into(), vec![0; 4])]).unwrap_err().contains("expected"));
        assert!(n.load(&[]).is_err());
    }
}
