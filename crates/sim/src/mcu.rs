//! The simulated microcontroller behind the probe ([`Mcu`]): its bus
//! (memories, DBGMCU, flash model, CRC peripheral, peripheral space) and its
//! Cortex-M CPU ([`Cpu`]) with the ARMv7-M debug logic.
//!
//! A running core executes code only while its PC is in SRAM (the Thumb
//! interpreter in `mcu/thumb.rs`, driven by [`Mcu::run_core_until`]); code in
//! flash stays opaque: the core "runs" with an unchanging PC.

use std::ops::Range;

use super::access_port;
use super::crc_peripheral::{self, CrcPeripheralModel};
use super::model::{Access, AccessWidth, BusFault, FlashModel, FlashStats, Initiator, Nanos, Requests};
use super::parts::Part;
use super::uid::{self, UidPlacement};

mod thumb;
pub use thumb::Interpreter;

// System control space addresses (ARMv7-M Architecture Reference Manual,
// "System control block" and "Debug system registers").
/// How long the firmware runs before it takes the SWD pins (clock and GPIO
/// set-up at its start): assumed, no knob changes it.
pub const FIRMWARE_TAKES_SWD: Nanos = 5_000_000;

pub const CPUID: u32 = 0xE000_ED00;
pub const VTOR: u32 = 0xE000_ED08;
pub const AIRCR: u32 = 0xE000_ED0C;
pub const CFSR: u32 = 0xE000_ED28;
pub const HFSR: u32 = 0xE000_ED2C;
pub const DFSR: u32 = 0xE000_ED30;
pub const DHCSR: u32 = 0xE000_EDF0;
pub const DCRSR: u32 = 0xE000_EDF4;
pub const DCRDR: u32 = 0xE000_EDF8;
pub const DEMCR: u32 = 0xE000_EDFC;

// DHCSR bits (ARMv7-M Architecture Reference Manual, DHCSR).
pub const DHCSR_KEY: u32 = 0xA05F;
pub const C_DEBUGEN: u32 = 1 << 0;
pub const C_HALT: u32 = 1 << 1;
pub const C_STEP: u32 = 1 << 2;
pub const C_MASKINTS: u32 = 1 << 3;
pub const S_REGRDY: u32 = 1 << 16;
pub const S_HALT: u32 = 1 << 17;
/// DHCSR.S_LOCKUP (ARMv7-M C1.6.3): the core is locked up after a fault.
pub const S_LOCKUP: u32 = 1 << 19;
pub const S_RETIRE_ST: u32 = 1 << 24;
pub const S_RESET_ST: u32 = 1 << 25;

// DEMCR (ARMv7-M DEMCR): VC_CORERESET bit 0, TRCENA bit 24; the other
// vector-catch and monitor bits are stored.
pub const VC_CORERESET: u32 = 1 << 0;
pub const TRCENA: u32 = 1 << 24;
const DEMCR_MASK: u32 = 0x010F_07F1;

// DFSR (ARMv7-M DFSR): HALTED 0, BKPT 1, VCATCH 3; write 1 to clear.
pub const DFSR_HALTED: u32 = 1 << 0;
pub const DFSR_BKPT: u32 = 1 << 1;
pub const DFSR_VCATCH: u32 = 1 << 3;
const DFSR_MASK: u32 = 0x1F;

// AIRCR (ARMv7-M AIRCR): VECTKEY 0x05FA in [31:16], SYSRESETREQ bit 2.
const AIRCR_VECTKEY: u32 = 0x05FA;
const AIRCR_VECTKEYSTAT: u32 = 0xFA05;
const AIRCR_SYSRESETREQ: u32 = 1 << 2;
const AIRCR_VECTRESET: u32 = 1 << 0;

/// xPSR after reset: Thumb bit set.
pub const XPSR_RESET: u32 = 0x0100_0000;
/// Stack pointer used when the boot vector cannot be read or is erased.
pub const FALLBACK_SP: u32 = 0x2000_1000;

/// The private peripheral bus: reachable while NRST is held (assumed for the
/// whole PPB: the ARMv7-M debug registers are reset only by a power-on reset,
/// and stlink's connect-under-reset writes DHCSR while it holds NRST low,
/// src/stlink-lib/common.c:1029-1073).
const PPB: Range<u32> = 0xE000_0000..0xE010_0000;
/// Peripheral space: reads zero, writes ignored unless a model claims it.
const PERIPHERALS: Range<u32> = 0x4000_0000..0x6000_0000;

/// Register selectors of DCRSR.REGSEL (ARMv7-M DCRSR); the ST-LINK's
/// READREG/WRITEREG commands take the same numbers (OpenOCD stlink_usb.c).
pub const REG_XPSR: u8 = 16;
pub const REG_MSP: u8 = 17;
pub const REG_PSP: u8 = 18;
/// `CONTROL[31:24] | FAULTMASK[23:16] | BASEPRI[15:8] | PRIMASK[7:0]`.
pub const REG_SPECIAL: u8 = 20;

/// The simulated Cortex-M processor: its architectural registers and the
/// halting-debug state (DHCSR, DFSR) the debugger and the interpreter drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpu {
    /// R0-R15; index 13 is unused (the active SP is `msp` or `psp`).
    pub r: [u32; 16],
    pub xpsr: u32,
    pub msp: u32,
    pub psp: u32,
    pub control: u8,
    pub faultmask: u8,
    pub basepri: u8,
    pub primask: u8,
    /// In Debug state.
    pub halted: bool,
    /// DFSR contents.
    pub dfsr: u32,
    /// DHCSR control bits as last written.
    pub debugen: bool,
    pub maskints: bool,
    pub step: bool,
    /// Sticky S_RESET_ST (cleared by a DHCSR read).
    pub reset_st: bool,
    /// Sticky S_RETIRE_ST, for an interpreter that retires instructions.
    pub retire_st: bool,
    /// Locked up after a fault the interpreter could not handle.
    pub lockup: bool,
}

impl Default for Cpu {
    fn default() -> Cpu {
        Cpu {
            r: [0; 16],
            xpsr: XPSR_RESET,
            msp: FALLBACK_SP,
            psp: 0,
            control: 0,
            faultmask: 0,
            basepri: 0,
            primask: 0,
            halted: false,
            dfsr: 0,
            debugen: false,
            maskints: false,
            step: false,
            reset_st: true,
            retire_st: false,
            lockup: false,
        }
    }
}

impl Cpu {
    /// Register by DCRSR selector; `None` for selectors not modeled.
    pub fn reg(&self, sel: u8) -> Option<u32> {
        Some(match sel {
            13 => self.sp(),
            0..=15 => self.r[sel as usize],
            REG_XPSR => self.xpsr,
            REG_MSP => self.msp,
            REG_PSP => self.psp,
            REG_SPECIAL => {
                (self.control as u32) << 24
                    | (self.faultmask as u32) << 16
                    | (self.basepri as u32) << 8
                    | self.primask as u32
            }
            _ => return None,
        })
    }

    /// Write a register by DCRSR selector; false for selectors not modeled.
    pub fn set_reg(&mut self, sel: u8, v: u32) -> bool {
        match sel {
            13 => self.set_sp(v),
            0..=15 => self.r[sel as usize] = v,
            REG_XPSR => self.xpsr = v,
            REG_MSP => self.msp = v,
            REG_PSP => self.psp = v,
            REG_SPECIAL => {
                self.control = (v >> 24) as u8 & 0x3;
                self.faultmask = (v >> 16) as u8 & 1;
                self.basepri = (v >> 8) as u8;
                self.primask = v as u8 & 1;
            }
            _ => return false,
        }
        true
    }

    /// The active stack pointer (CONTROL.SPSEL).
    pub fn sp(&self) -> u32 {
        if self.control & 2 != 0 {
            self.psp
        } else {
            self.msp
        }
    }

    pub fn set_sp(&mut self, v: u32) {
        if self.control & 2 != 0 {
            self.psp = v;
        } else {
            self.msp = v;
        }
    }

    /// Register state after a reset fetched `sp` and `pc` from the vector table.
    fn reset_registers(&mut self, sp: u32, pc: u32) {
        self.r = [0; 16];
        self.r[14] = 0xFFFF_FFFF;
        self.r[15] = pc & !1;
        self.msp = sp & !3;
        self.psp = 0;
        self.xpsr = XPSR_RESET;
        self.control = 0;
        self.faultmask = 0;
        self.basepri = 0;
        self.primask = 0;
    }
}

/// Where an address goes.
enum Dest {
    Model,
    /// The CRC peripheral or its RCC clock-enable register.
    Crc,
    FlashSize,
    Dbgmcu(usize),
    Sram(usize, usize),
    SysMem(usize),
    /// Word `n` of the unique device ID.
    Uid(usize),
    Ppb,
    Peripheral,
    Unmapped,
}

/// The simulated microcontroller (MCU): its CPU with the debug logic, its bus
/// and what sits on it, its supply and its NRST pin.
pub struct Mcu {
    pub part: &'static Part,
    pub cpu: Cpu,
    demcr: u32,
    dcrdr: u32,
    vtor: u32,
    prigroup: u32,
    cfsr: u32,
    hfsr: u32,
    /// DBGMCU words after IDCODE (control/freeze registers).
    dbgmcu_ctrl: Vec<u32>,
    sram: Vec<(u32, Vec<u8>)>,
    sysmem: Vec<u8>,
    model: Box<dyn FlashModel>,
    regions: Vec<Range<u32>>,
    pub flash_stats: FlashStats,
    reg_log: Vec<(u32, u32)>,
    /// NRST driven low by the probe.
    nrst_low: bool,
    /// False for `nrst=disconnected` (clone probe without the wire).
    pub nrst_connected: bool,
    /// C_HALT written while NRST was held: halt when it is released.
    halt_latched: bool,
    /// Target supply in millivolts (0 = unpowered).
    pub voltage_mv: u32,
    /// `no-power` fault: the supply is off whatever `voltage_mv` says.
    pub no_power: bool,
    /// Something answers on SWD when powered (false for the `no-target` fault).
    pub present: bool,
    /// `no-halt` fault: C_HALT requests are ignored.
    pub no_halt: bool,
    /// `firmware-disables-swd` fault ([`Mcu::set_firmware_disables_swd`]).
    firmware_disables_swd: bool,
    /// When the core last started running after a reset or a resume; `None`
    /// while it is halted or held in reset.
    running_since: Option<Nanos>,
    /// The firmware took the SWD pins (or stopped the debug clocks): nothing
    /// answers until a reset gives them back.
    swd_taken: bool,
    /// The interpreter's state (time, idle detection).
    pub interpreter: Interpreter,
    /// Modeled time of the bus access being made (for resumes it triggers).
    bus_now: Nanos,
    /// The CRC peripheral, where the part has one in `crc_peripheral::placement`.
    pub crc: Option<CrcPeripheralModel>,
    /// The unique device ID: where its words are and its 12 bytes.
    pub uid: Option<(UidPlacement, [u8; 12])>,
    /// Knob `flash-time=F`: every flash operation (program, erase, option
    /// change, the H7 flash CRC) takes F times its modeled time, in
    /// thousandths (1000 = as modeled). The flash model runs on a clock
    /// slowed down by F; its times are converted at this boundary.
    pub flash_time_permille: u64,
    /// The access port the core is on (`access_port::core_ap`).
    core_ap: u8,
}

/// The core clock after reset (Hz): the reset system clock of the part's
/// family, as the CRC peripheral's placement table gives it from each RM's
/// RCC chapter (HSI 8 MHz on F0/F1/F3, HSI 16 MHz on F2/F4/F7, G0, G4, MSI
/// 2.097 MHz on L0/L1, MSI 4 MHz on L4, L5, U5, WB, WL, HSI48/4 on C0, HSI/2
/// = 32 MHz on H5, HSI 64 MHz on H7).
pub fn reset_clock_hz(part: &Part) -> u64 {
    crc_peripheral::placement((part.idcode & 0xFFF) as u16).map_or(thumb::DEFAULT_CORE_HZ, |p| p.hclk_hz)
}

fn system_memory_pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(0x1D) ^ (i >> 8) as u8 ^ 0xA5).collect()
}

impl Mcu {
    /// A chip that has just been powered on (and therefore reset).
    pub fn new(part: &'static Part, model: Box<dyn FlashModel>) -> Mcu {
        let mut t = Mcu {
            part,
            cpu: Cpu::default(),
            demcr: 0,
            dcrdr: 0,
            vtor: 0,
            prigroup: 0,
            cfsr: 0,
            hfsr: 0,
            dbgmcu_ctrl: vec![0; part.dbgmcu_ctrl_words as usize],
            sram: part.sram.iter().map(|&(base, size)| (base, vec![0; size as usize])).collect(),
            sysmem: system_memory_pattern(part.system_memory.1 as usize),
            regions: model.regions(),
            model,
            flash_stats: FlashStats::default(),
            reg_log: Vec::new(),
            nrst_low: false,
            nrst_connected: true,
            halt_latched: false,
            voltage_mv: part.voltage_mv,
            no_power: false,
            present: true,
            no_halt: false,
            firmware_disables_swd: false,
            running_since: None,
            swd_taken: false,
            interpreter: Interpreter::at(reset_clock_hz(part)),
            bus_now: 0,
            crc: crc_peripheral::placement((part.idcode & 0xFFF) as u16).map(CrcPeripheralModel::new),
            uid: uid::placement((part.idcode & 0xFFF) as u16).map(|p| (p, uid::derive(None))),
            flash_time_permille: 1000,
            core_ap: access_port::core_ap((part.idcode & 0xFFF) as u16),
        };
        t.power_on();
        t
    }

    /// Power-on reset: like a system reset, and the debug logic is cleared too.
    pub fn power_on(&mut self) {
        self.cpu = Cpu::default();
        self.demcr = 0;
        self.dcrdr = 0;
        self.system_reset();
    }

    pub fn model(&self) -> &dyn FlashModel {
        self.model.as_ref()
    }

    pub fn model_mut(&mut self) -> &mut dyn FlashModel {
        self.model.as_mut()
    }

    /// Let the flash model complete what has finished by `now` (it is
    /// otherwise advanced lazily, before each access).
    pub fn advance_flash(&mut self, now: Nanos) {
        let t = self.to_model(now);
        self.model.advance(t, &mut self.flash_stats);
    }

    /// The flash model's clock at `now` (slower by `flash-time`).
    fn to_model(&self, now: Nanos) -> Nanos {
        (now as u128 * 1000 / self.flash_time_permille as u128) as Nanos
    }

    /// The time at which the flash model's clock reaches `t` (rounded up).
    fn to_real(&self, t: Nanos) -> Nanos {
        (t as u128 * self.flash_time_permille as u128).div_ceil(1000) as Nanos
    }

    /// When the flash model's next operation ends, after `now`.
    pub fn flash_next_event(&self, now: Nanos) -> Option<Nanos> {
        self.model.next_event(self.to_model(now)).map(|t| self.to_real(t))
    }

    /// Knob `sram-limit=`: every SRAM region answers for at most `max`
    /// bytes (a part with less RAM than its datasheet row says).
    pub fn limit_sram(&mut self, max: u32) {
        for (_, mem) in &mut self.sram {
            mem.truncate(max as usize);
        }
    }

    /// Re-read the model's address ranges (after configuration or reset).
    pub fn refresh_regions(&mut self) {
        self.regions = self.model.regions();
    }

    /// The target is supplied.
    pub fn powered(&self) -> bool {
        self.voltage_mv > 0 && !self.no_power
    }

    /// The debug port answers (powered, connected, not RDP level 2, not
    /// taken by the firmware).
    pub fn swd_alive(&self) -> bool {
        self.powered() && self.present && !self.model.debug_port_disabled() && !self.swd_taken
    }

    /// The `firmware-disables-swd` fault: the firmware in flash turns the
    /// SWD pins into GPIOs, or sleeps with the debug clocks off, once it has
    /// run for [`FIRMWARE_TAKES_SWD`]: from then on nothing answers on SWD.
    /// A reset gives the pins back (the debug pins are in their debug
    /// alternate function after reset: RM0090 §8.3.2 "I/O pin multiplexer
    /// and mapping"; assumed alike on every family): held in reset by NRST, or halted at the
    /// reset vector by a connect under reset, the chip answers. Without a
    /// programmed reset vector (erased flash) there is no firmware to do it.
    /// The chip has been running its firmware before the probe is opened.
    pub fn set_firmware_disables_swd(&mut self, on: bool) {
        self.firmware_disables_swd = on;
        self.swd_taken = on && self.running_since.is_some() && self.firmware_present();
    }

    /// The boot address holds a vector table with a programmed reset vector.
    fn firmware_present(&self) -> bool {
        match self.peek(self.part.boot_address.wrapping_add(4), 4) {
            Some(b) => !matches!(u32::from_le_bytes([b[0], b[1], b[2], b[3]]), 0 | 0xFFFF_FFFF),
            None => false,
        }
    }

    /// The probe's clock reached `now` (each command): the firmware takes the
    /// SWD pins once it has run long enough.
    pub fn firmware_runs_until(&mut self, now: Nanos) {
        self.bus_now = self.bus_now.max(now);
        let long_enough = self.running_since.is_some_and(|since| now >= since + FIRMWARE_TAKES_SWD);
        if self.firmware_disables_swd && long_enough && !self.swd_taken && self.firmware_present() {
            self.swd_taken = true;
        }
    }

    /// The access port of the core.
    pub fn core_ap(&self) -> u8 {
        self.core_ap
    }

    /// The debugger reaches `addr` through access port `ap`: the core's port
    /// reaches everything; AP0 of a part whose core is on another port only
    /// the DBGMCU registers (see `access_port`). Ports that do not exist are
    /// refused by the probe before any access.
    pub fn reachable(&self, ap: u8, addr: u32) -> bool {
        if ap == self.core_ap {
            return true;
        }
        let p = self.part;
        let end = p.dbgmcu_addr as u64 + 4 * (1 + p.dbgmcu_ctrl_words as u64);
        ap == 0 && addr >= p.dbgmcu_addr && (addr as u64) < end
    }

    /// Access port `ap` exists on this part (AP0, and the core's).
    pub fn has_ap(&self, ap: u8) -> bool {
        ap == 0 || ap == self.core_ap
    }

    pub fn nrst_held(&self) -> bool {
        self.nrst_low
    }

    pub fn register_log(&self) -> &[(u32, u32)] {
        &self.reg_log
    }

    pub fn clear_register_log(&mut self) {
        self.reg_log.clear();
    }

    fn in_model(&self, addr: u32) -> bool {
        self.regions.iter().any(|r| r.contains(&addr))
    }

    fn decode(&self, addr: u32) -> Dest {
        if let Some(word) = self.uid.as_ref().and_then(|(p, _)| p.word_at(addr)) {
            return Dest::Uid(word);
        }
        if self.in_model(addr) {
            return Dest::Model;
        }
        if self.crc.as_ref().is_some_and(|c| c.claims(addr)) {
            return Dest::Crc;
        }
        let p = self.part;
        if addr & !3 == p.flash_size_addr & !3 {
            return Dest::FlashSize;
        }
        let dbg_end = p.dbgmcu_addr as u64 + 4 * (1 + p.dbgmcu_ctrl_words as u64);
        if addr >= p.dbgmcu_addr && (addr as u64) < dbg_end {
            return Dest::Dbgmcu(((addr - p.dbgmcu_addr) / 4) as usize);
        }
        for (i, (base, mem)) in self.sram.iter().enumerate() {
            if addr >= *base && ((addr - base) as usize) < mem.len() {
                return Dest::Sram(i, (addr - base) as usize);
            }
        }
        let (sys_base, sys_len) = p.system_memory;
        if addr >= sys_base && addr - sys_base < sys_len {
            return Dest::SysMem((addr - sys_base) as usize);
        }
        if PPB.contains(&addr) {
            return Dest::Ppb;
        }
        if PERIPHERALS.contains(&addr) {
            return Dest::Peripheral;
        }
        Dest::Unmapped
    }

    /// Time until which an access to `addr` stalls (flash controller busy).
    pub fn stall_until(&self, addr: u32, write: bool, by: Initiator, now: Nanos) -> Nanos {
        if self.nrst_low {
            now
        } else if self.in_model(addr) {
            self.to_real(self.model.stall_until(addr, write, by, self.to_model(now))).max(now)
        } else {
            self.crc.as_ref().filter(|c| c.claims(addr)).map_or(now, |c| c.stall_until(addr, now))
        }
    }

    /// A bus read of `width` at the naturally aligned `addr`, at time `now`
    /// (after any stall).
    pub fn read(&mut self, addr: u32, width: AccessWidth, by: Initiator, now: Nanos) -> Result<u32, BusFault> {
        self.bus_now = now;
        if addr % width.bytes() != 0 || (self.nrst_low && addr < PPB.start) {
            return Err(BusFault);
        }
        let shift = 8 * (addr & 3);
        let mask = width.mask();
        match self.decode(addr) {
            Dest::Model => {
                if by == Initiator::Debugger && !self.model.debug_readable(addr) {
                    return Err(BusFault);
                }
                let t = self.to_model(now);
                self.model.advance(t, &mut self.flash_stats);
                let mut requests = Requests::default();
                let mut acc = Access { now: t, by, stats: &mut self.flash_stats, requests: &mut requests };
                let r = self.model.read(addr, width, &mut acc);
                self.apply(requests);
                r
            }
            dest => {
                if by == Initiator::Debugger && !matches!(dest, Dest::Ppb) && !self.model.debug_readable(addr) {
                    return Err(BusFault);
                }
                match dest {
                    Dest::Crc => Ok(self.crc.as_mut().expect("decoded").read(addr, width)),
                    Dest::Sram(i, off) => Ok(le(&self.sram[i].1[off..], width)),
                    Dest::SysMem(off) => {
                        if off + width.bytes() as usize > self.sysmem.len() {
                            return Err(BusFault);
                        }
                        Ok(le(&self.sysmem[off..], width))
                    }
                    Dest::FlashSize => {
                        // A 16-bit register (stlink v1.8.0 reads the aligned word
                        // and shifts, src/stlink-lib/common.c:259-265); the other
                        // half of its aligned word reads 0xFFFF (assumed).
                        let kib = self.part.flash_size_kib as u32;
                        let word =
                            if self.part.flash_size_addr & 2 == 0 { 0xFFFF_0000 | kib } else { kib << 16 | 0xFFFF };
                        Ok((word >> shift) & mask)
                    }
                    Dest::Uid(w) => {
                        let id = &self.uid.as_ref().expect("decoded").1;
                        Ok((le(&id[4 * w..], AccessWidth::Word) >> shift) & mask)
                    }
                    Dest::Dbgmcu(0) => Ok((self.part.idcode >> shift) & mask),
                    Dest::Dbgmcu(i) => Ok((self.dbgmcu_ctrl[i - 1] >> shift) & mask),
                    Dest::Ppb => Ok((self.ppb_read(addr & !3) >> shift) & mask),
                    Dest::Peripheral => Ok(0),
                    Dest::Model | Dest::Unmapped => Err(BusFault),
                }
            }
        }
    }

    /// A bus write of `width` at the naturally aligned `addr`, at time `now`.
    pub fn write(
        &mut self,
        addr: u32,
        width: AccessWidth,
        value: u32,
        by: Initiator,
        now: Nanos,
    ) -> Result<(), BusFault> {
        self.bus_now = now;
        if addr % width.bytes() != 0 || (self.nrst_low && addr < PPB.start) {
            return Err(BusFault);
        }
        let shift = 8 * (addr & 3);
        let mask = width.mask();
        let value = value & mask;
        match self.decode(addr) {
            Dest::Model => {
                if self.model.is_register(addr) {
                    self.reg_log.push((addr, value));
                }
                let t = self.to_model(now);
                self.model.advance(t, &mut self.flash_stats);
                let mut requests = Requests::default();
                let mut acc = Access { now: t, by, stats: &mut self.flash_stats, requests: &mut requests };
                let r = self.model.write(addr, width, value, &mut acc);
                self.apply(requests);
                r
            }
            Dest::Crc => {
                self.crc.as_mut().expect("decoded").write(addr, width, value, now);
                Ok(())
            }
            Dest::Sram(i, off) => {
                let n = width.bytes() as usize;
                self.sram[i].1[off..off + n].copy_from_slice(&value.to_le_bytes()[..n]);
                if by == Initiator::Debugger {
                    self.interpreter.debugger_wrote(addr, n as u32, now);
                }
                Ok(())
            }
            // Read-only memories.
            Dest::SysMem(_) | Dest::FlashSize | Dest::Uid(_) => Err(BusFault),
            // DBGMCU_IDCODE is read-only: writes are ignored.
            Dest::Dbgmcu(0) => Ok(()),
            Dest::Dbgmcu(i) => {
                let w = &mut self.dbgmcu_ctrl[i - 1];
                *w = (*w & !(mask << shift)) | (value << shift);
                Ok(())
            }
            Dest::Ppb => {
                self.ppb_write(addr & !3, value << shift, mask << shift);
                Ok(())
            }
            Dest::Peripheral => Ok(()),
            Dest::Unmapped => Err(BusFault),
        }
    }

    fn apply(&mut self, requests: Requests) {
        if requests.system_reset {
            self.system_reset();
        }
    }

    fn ppb_read(&mut self, addr: u32) -> u32 {
        match addr {
            CPUID => self.part.cpuid,
            VTOR => self.vtor,
            AIRCR => AIRCR_VECTKEYSTAT << 16 | self.prigroup << 8,
            CFSR => self.cfsr,
            HFSR => self.hfsr,
            DFSR => self.cpu.dfsr,
            DHCSR => self.read_dhcsr(),
            DCRDR => self.dcrdr,
            DEMCR => self.demcr,
            // DCRSR is write-only; the rest of the PPB is read-as-zero here.
            _ => 0,
        }
    }

    /// Write the bytes selected by `mask` of the word at `addr`.
    fn ppb_write(&mut self, addr: u32, value: u32, mask: u32) {
        let full = mask == 0xFFFF_FFFF;
        let merge = |old: u32| (old & !mask) | (value & mask);
        match addr {
            VTOR => self.vtor = merge(self.vtor) & 0xFFFF_FF80,
            AIRCR if full => self.write_aircr(value),
            CFSR => self.cfsr &= !(value & mask),
            HFSR => self.hfsr &= !(value & mask),
            DFSR => self.cpu.dfsr &= !(value & mask & DFSR_MASK),
            // DHCSR and DCRSR need a whole word (key, selector).
            DHCSR if full => self.write_dhcsr(value),
            DCRSR if full => self.write_dcrsr(value),
            DCRDR => self.dcrdr = merge(self.dcrdr),
            DEMCR => self.demcr = merge(self.demcr) & DEMCR_MASK,
            _ => {}
        }
    }

    fn read_dhcsr(&mut self) -> u32 {
        let held = self.nrst_low;
        let c = &mut self.cpu;
        let mut v = 0;
        if c.debugen {
            v |= C_DEBUGEN;
        }
        if c.step {
            v |= C_STEP;
        }
        if c.maskints {
            v |= C_MASKINTS;
        }
        // While halted both C_HALT and S_HALT read 1 (ARMv7-M DHCSR); stlink
        // takes C_HALT as "halted" (usb.c:421), OpenOCD S_HALT (stlink_usb.c:2147).
        if c.halted {
            v |= C_HALT | S_HALT | S_REGRDY;
        }
        if c.lockup {
            v |= S_LOCKUP;
        }
        if c.retire_st || (!c.halted && !held) {
            v |= S_RETIRE_ST;
        }
        // S_RESET_ST: sticky, cleared by this read; reads 1 while held in reset.
        if c.reset_st || held {
            v |= S_RESET_ST;
        }
        c.retire_st = false;
        c.reset_st = false;
        v
    }

    fn write_dhcsr(&mut self, v: u32) {
        if v >> 16 != DHCSR_KEY {
            return;
        }
        let c = &mut self.cpu;
        c.debugen = v & C_DEBUGEN != 0;
        if !c.debugen {
            // Halting debug off: the other bits do nothing; a halted core resumes.
            c.maskints = false;
            c.step = false;
            self.halt_latched = false;
            if c.halted {
                self.resume();
            }
            return;
        }
        c.maskints = v & C_MASKINTS != 0;
        c.step = v & C_STEP != 0;
        let halt = v & C_HALT != 0;
        if self.nrst_low {
            // Held in reset: remember the request until NRST is released.
            self.halt_latched = halt && !self.no_halt;
            return;
        }
        if halt {
            if !c.halted && !self.no_halt {
                self.halt(DFSR_HALTED);
            }
        } else if c.halted {
            if c.step {
                self.single_step();
            } else {
                self.resume();
            }
        }
    }

    fn write_dcrsr(&mut self, v: u32) {
        // A register transfer only happens in Debug state.
        if !self.cpu.halted {
            return;
        }
        let sel = (v & 0x7F) as u8;
        if v & (1 << 16) != 0 {
            self.cpu.set_reg(sel, self.dcrdr);
        } else {
            self.dcrdr = self.cpu.reg(sel).unwrap_or(0);
        }
    }

    fn write_aircr(&mut self, v: u32) {
        if v >> 16 != AIRCR_VECTKEY {
            return;
        }
        self.prigroup = (v >> 8) & 7;
        if v & AIRCR_SYSRESETREQ != 0 {
            self.system_reset();
        } else if v & AIRCR_VECTRESET != 0 {
            self.core_reset();
        }
    }

    /// Enter Debug state for `reason` (DFSR bits).
    pub fn halt(&mut self, reason: u32) {
        self.running_since = None;
        self.cpu.halted = true;
        // A halt request takes a locked-up core into Debug state.
        self.cpu.lockup = false;
        self.cpu.dfsr |= reason;
    }

    /// Leave Debug state.
    pub fn resume(&mut self) {
        self.running_since = Some(self.bus_now);
        self.cpu.halted = false;
        self.interpreter.start(self.bus_now);
    }

    /// C_STEP with C_HALT cleared while halted: execute one instruction (code
    /// in SRAM; code in flash is opaque) and halt again.
    fn single_step(&mut self) {
        self.cpu.halted = false;
        self.step_one();
        self.cpu.retire_st = true;
        if !self.cpu.halted {
            self.halt(DFSR_HALTED);
        }
    }

    /// Core register read for READREG/READALLREGS (the probe checks the halt).
    pub fn core_reg(&self, sel: u8) -> Option<u32> {
        self.cpu.reg(sel)
    }

    pub fn set_core_reg(&mut self, sel: u8, v: u32) -> bool {
        self.cpu.set_reg(sel, v)
    }

    /// System reset (AIRCR.SYSRESETREQ, RESETSYS, NRST release, option reload).
    pub fn system_reset(&mut self) {
        self.model.reset();
        if let Some(crc) = &mut self.crc {
            crc.reset();
        }
        self.refresh_regions();
        self.dbgmcu_ctrl.fill(0);
        self.vtor = 0;
        self.prigroup = 0;
        self.cfsr = 0;
        self.hfsr = 0;
        self.core_reset();
    }

    /// Core reset: registers from the vector table, then halt or run.
    fn core_reset(&mut self) {
        let boot = self.part.boot_address;
        let word = |t: &Mcu, a: u32| t.peek(a, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let sp = match word(self, boot) {
            Some(w) if w != 0xFFFF_FFFF => w,
            _ => FALLBACK_SP,
        };
        let pc = word(self, boot.wrapping_add(4)).unwrap_or(0xFFFF_FFFF);
        self.cpu.reset_registers(sp, pc);
        self.cpu.reset_st = true;
        self.cpu.lockup = false;
        self.cpu.halted = false;
        self.swd_taken = false;
        self.running_since = None;
        if self.nrst_low {
            return;
        }
        self.running_since = Some(self.bus_now);
        let mut reason = 0;
        if self.cpu.debugen && self.demcr & VC_CORERESET != 0 {
            reason |= DFSR_VCATCH;
        }
        if self.cpu.debugen && self.halt_latched {
            reason |= DFSR_HALTED;
        }
        self.halt_latched = false;
        if reason != 0 {
            self.halt(reason);
        }
    }

    /// DRIVE_NRST: `low` holds the chip in reset; releasing it resets the system.
    pub fn drive_nrst(&mut self, low: bool) {
        if !self.nrst_connected {
            return;
        }
        if low && !self.nrst_low {
            self.nrst_low = true;
            self.model.reset();
            self.cpu.halted = false;
            self.cpu.reset_st = true;
            self.swd_taken = false;
            self.running_since = None;
        } else if !low && self.nrst_low {
            self.nrst_low = false;
            self.system_reset();
        }
    }

    /// Raw read of modeled memory (flash via the model, SRAM, system memory).
    pub fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        let end = addr as u64 + len as u64;
        if end > 1 << 32 {
            return None;
        }
        let mut out = Vec::with_capacity(len);
        let mut cur = addr as u64;
        while cur < end {
            let a = cur as u32;
            let (mem_end, bytes) = self.raw_region(a)?;
            let n = (end.min(mem_end) - cur) as usize;
            match bytes {
                Some((mem, off)) => out.extend_from_slice(&mem[off..off + n]),
                None => out.extend(self.model.peek(a, n)?),
            }
            cur += n as u64;
        }
        Some(out)
    }

    /// Raw write of modeled memory (test back door).
    pub fn poke(&mut self, addr: u32, data: &[u8]) -> bool {
        let end = addr as u64 + data.len() as u64;
        if end > 1 << 32 {
            return false;
        }
        let mut cur = addr as u64;
        let mut done = 0;
        while cur < end {
            let a = cur as u32;
            let Some((mem_end, bytes)) = self.raw_region(a) else {
                return false;
            };
            let n = (end.min(mem_end) - cur) as usize;
            let chunk = &data[done..done + n];
            match bytes {
                Some((_, off)) => {
                    let mem = self.raw_region_mut(a).expect("region found above");
                    mem[off..off + n].copy_from_slice(chunk);
                }
                None => {
                    if !self.model.poke(a, chunk) {
                        return false;
                    }
                }
            }
            cur += n as u64;
            done += n;
        }
        true
    }

    /// The raw memory containing `a`: (end address, Some((bytes, offset)) for
    /// SRAM/system memory, None for the flash model).
    #[allow(clippy::type_complexity)]
    fn raw_region(&self, a: u32) -> Option<(u64, Option<(&[u8], usize)>)> {
        if let Some(r) = self.regions.iter().find(|r| r.contains(&a)) {
            return Some((r.end as u64, None));
        }
        for (base, mem) in &self.sram {
            if a >= *base && ((a - base) as usize) < mem.len() {
                return Some((*base as u64 + mem.len() as u64, Some((mem, (a - base) as usize))));
            }
        }
        let (base, len) = self.part.system_memory;
        if a >= base && a - base < len {
            return Some((base as u64 + len as u64, Some((&self.sysmem, (a - base) as usize))));
        }
        None
    }

    /// SRAM contents as named blobs for the state file: the chip stays
    /// powered between two runs of stflash, so its SRAM keeps its contents.
    pub(crate) fn sram_blobs(&self) -> Vec<(String, Vec<u8>)> {
        self.sram.iter().map(|(base, mem)| (format!("{SRAM_BLOB}{base:08x}"), mem.clone())).collect()
    }

    /// Restore SRAM saved by [`Self::sram_blobs`]; unknown or mis-sized blobs are ignored.
    pub(crate) fn load_sram(&mut self, blobs: &[(String, Vec<u8>)]) {
        for (name, data) in blobs {
            let Some(base) = name.strip_prefix(SRAM_BLOB).and_then(|b| u32::from_str_radix(b, 16).ok()) else {
                continue;
            };
            if let Some((_, mem)) = self.sram.iter_mut().find(|(b, m)| *b == base && m.len() == data.len()) {
                mem.copy_from_slice(data);
            }
        }
    }

    fn raw_region_mut(&mut self, a: u32) -> Option<&mut [u8]> {
        for (base, mem) in &mut self.sram {
            if a >= *base && ((a - *base) as usize) < mem.len() {
                return Some(mem);
            }
        }
        let (base, len) = self.part.system_memory;
        if a >= base && a - base < len {
            return Some(&mut self.sysmem);
        }
        None
    }
}

/// Name prefix of SRAM blobs in the state file.
pub(crate) const SRAM_BLOB: &str = "sram@";

fn le(bytes: &[u8], w: AccessWidth) -> u32 {
    let mut v = 0;
    for (i, b) in bytes[..w.bytes() as usize].iter().enumerate() {
        v |= (*b as u32) << (8 * i);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parts;

    fn f103() -> Mcu {
        let p = parts::find("stm32f103c8").unwrap();
        Mcu::new(p, (p.flash)())
    }

    fn rd(t: &mut Mcu, a: u32) -> Result<u32, BusFault> {
        t.read(a, AccessWidth::Word, Initiator::Debugger, 0)
    }

    fn wr(t: &mut Mcu, a: u32, v: u32) -> Result<(), BusFault> {
        t.write(a, AccessWidth::Word, v, Initiator::Debugger, 0)
    }

    #[test]
    fn identity_registers_and_flash_size_halves() {
        let mut t = f103();
        assert_eq!(rd(&mut t, CPUID), Ok(0x411F_C231));
        assert_eq!(rd(&mut t, 0xE004_2000), Ok(0x2003_6410));
        assert_eq!(wr(&mut t, 0xE004_2000, 0), Ok(()), "IDCODE write ignored");
        assert_eq!(rd(&mut t, 0xE004_2000), Ok(0x2003_6410));
        assert_eq!(rd(&mut t, 0x1FFF_F7E0), Ok(0xFFFF_0040));
        assert_eq!(t.read(0x1FFF_F7E0, AccessWidth::Half, Initiator::Debugger, 0), Ok(0x40));
        assert_eq!(t.read(0x1FFF_F7E2, AccessWidth::Half, Initiator::Debugger, 0), Ok(0xFFFF));
        assert_eq!(t.read(0x1FFF_F7E1, AccessWidth::Byte, Initiator::Debugger, 0), Ok(0));
        assert_eq!(wr(&mut t, 0x1FFF_F7E0, 0), Err(BusFault));
    }

    #[test]
    fn dbgmcu_control_is_read_write_and_reset_by_system_reset() {
        let mut t = f103();
        wr(&mut t, 0xE004_2004, 0x300).unwrap();
        assert_eq!(rd(&mut t, 0xE004_2004), Ok(0x300));
        t.write(0xE004_2004, AccessWidth::Byte, 0x07, Initiator::Debugger, 0).unwrap();
        assert_eq!(rd(&mut t, 0xE004_2004), Ok(0x307));
        wr(&mut t, 0xE004_2008, 0x300).unwrap();
        assert_eq!(rd(&mut t, 0xE004_2008), Ok(0), "F103 has one DBGMCU control word");
        t.system_reset();
        assert_eq!(rd(&mut t, 0xE004_2004), Ok(0));
    }

    #[test]
    fn memory_map_sram_sysmem_peripherals_and_holes() {
        let mut t = f103();
        wr(&mut t, 0x2000_4FFC, 0xDEAD_BEEF).unwrap();
        assert_eq!(t.read(0x2000_4FFE, AccessWidth::Half, Initiator::Debugger, 0), Ok(0xDEAD));
        t.write(0x2000_4FFD, AccessWidth::Byte, 0x11, Initiator::Cpu, 0).unwrap();
        assert_eq!(rd(&mut t, 0x2000_4FFC), Ok(0xDEAD_11EF));
        assert_eq!(rd(&mut t, 0x2000_5000), Err(BusFault), "end of 20 KiB SRAM");
        assert_eq!(t.read(0x2000_0001, AccessWidth::Word, Initiator::Debugger, 0), Err(BusFault));
        let sys = rd(&mut t, 0x1FFF_F000).unwrap();
        assert_eq!(t.peek(0x1FFF_F000, 4), Some(sys.to_le_bytes().to_vec()));
        assert_eq!(wr(&mut t, 0x1FFF_F000, 0), Err(BusFault), "system memory is read-only");
        assert_eq!(rd(&mut t, 0x4002_1004), Ok(0), "unclaimed peripheral reads zero");
        assert_eq!(wr(&mut t, 0x4000_3000, 0xAAAA), Ok(()));
        assert_eq!(rd(&mut t, 0x0801_0000), Err(BusFault), "past the end of flash");
        assert_eq!(rd(&mut t, 0x6000_0000), Err(BusFault));
        assert_eq!(rd(&mut t, 0x0800_0000), Ok(0xFFFF_FFFF));
        assert_eq!(wr(&mut t, 0x0800_0000, 0), Err(BusFault), "F1 flash takes half-words only");
    }

    #[test]
    fn dhcsr_halt_run_and_sticky_reset_status() {
        let mut t = f103();
        let first = rd(&mut t, DHCSR).unwrap();
        assert_eq!(first & S_RESET_ST, S_RESET_ST, "power-on reset is reported once");
        assert_eq!(first & (C_HALT | S_HALT), 0);
        assert_eq!(rd(&mut t, DHCSR).unwrap() & S_RESET_ST, 0, "cleared by the read");
        wr(&mut t, DHCSR, 0x0000_0003).unwrap();
        assert!(!t.cpu.halted, "no key, no effect");
        wr(&mut t, DHCSR, 0xA05F_0003).unwrap();
        assert!(t.cpu.halted);
        assert_eq!(rd(&mut t, DHCSR), Ok(0x0003_0003));
        assert_eq!(rd(&mut t, DFSR), Ok(DFSR_HALTED));
        wr(&mut t, DFSR, 0x1F).unwrap();
        assert_eq!(rd(&mut t, DFSR), Ok(0));
        wr(&mut t, DHCSR, 0xA05F_0009).unwrap();
        assert!(!t.cpu.halted);
        assert_eq!(rd(&mut t, DHCSR), Ok(S_RETIRE_ST | C_MASKINTS | C_DEBUGEN));
        wr(&mut t, DHCSR, 0xA05F_0003).unwrap();
        wr(&mut t, DHCSR, 0xA05F_0000).unwrap();
        assert!(!t.cpu.halted, "clearing C_DEBUGEN resumes the core");
    }

    #[test]
    fn no_halt_fault_ignores_halt_requests() {
        let mut t = f103();
        t.no_halt = true;
        wr(&mut t, DHCSR, 0xA05F_0003).unwrap();
        assert!(!t.cpu.halted);
        assert_eq!(rd(&mut t, DHCSR).unwrap() & (C_HALT | S_HALT), 0);
    }

    #[test]
    fn dcrsr_transfers_registers_only_while_halted() {
        let mut t = f103();
        wr(&mut t, DCRDR, 0x1234).unwrap();
        wr(&mut t, DCRSR, 0x0001_0000).unwrap();
        assert_eq!(t.cpu.r[0], 0, "running: no transfer");
        wr(&mut t, DHCSR, 0xA05F_0003).unwrap();
        wr(&mut t, DCRSR, 0x0001_0000).unwrap();
        assert_eq!(t.cpu.r[0], 0x1234);
        wr(&mut t, DCRSR, 16).unwrap();
        assert_eq!(rd(&mut t, DCRDR), Ok(XPSR_RESET));
        wr(&mut t, DCRDR, 0x0200_0001).unwrap();
        wr(&mut t, DCRSR, 0x0001_0000 | 20).unwrap();
        assert_eq!((t.cpu.control, t.cpu.primask), (2, 1));
        wr(&mut t, DCRDR, 0x2000_0800).unwrap();
        wr(&mut t, DCRSR, 0x0001_0000 | 13).unwrap();
        assert_eq!(t.cpu.psp, 0x2000_0800, "SPSEL=1: R13 is PSP");
        assert_eq!(t.cpu.reg(REG_MSP), Some(t.cpu.msp));
    }

    #[test]
    fn aircr_reset_with_vector_catch_halts_and_loads_vectors() {
        let mut t = f103();
        assert!(t.poke(0x0800_0000, &[0x00, 0x50, 0x00, 0x20, 0x01, 0x01, 0x00, 0x08]));
        wr(&mut t, DHCSR, 0xA05F_0003).unwrap();
        t.cpu.r[3] = 7;
        wr(&mut t, DEMCR, 0x0100_0501).unwrap();
        assert_eq!(rd(&mut t, DEMCR), Ok(0x0100_0501));
        wr(&mut t, DFSR, 0x1F).unwrap();
        rd(&mut t, DHCSR).unwrap();
        wr(&mut t, AIRCR, 0x0000_0004).unwrap();
        assert_eq!(rd(&mut t, DHCSR).unwrap() & S_RESET_ST, 0, "no VECTKEY, no reset");
        wr(&mut t, AIRCR, 0x05FA_0004).unwrap();
        assert!(t.cpu.halted);
        assert_eq!(rd(&mut t, DFSR), Ok(DFSR_VCATCH));
        assert_eq!(rd(&mut t, DHCSR).unwrap() & S_RESET_ST, S_RESET_ST);
        assert_eq!(rd(&mut t, DHCSR).unwrap() & S_RESET_ST, 0);
        assert_eq!((t.cpu.msp, t.cpu.r[15], t.cpu.xpsr, t.cpu.r[3]), (0x2000_5000, 0x0800_0100, XPSR_RESET, 0));
        assert_eq!(rd(&mut t, AIRCR), Ok(0xFA05_0000));
        // Without vector catch the core runs after reset.
        wr(&mut t, DEMCR, 0).unwrap();
        wr(&mut t, AIRCR, 0x05FA_0004).unwrap();
        assert!(!t.cpu.halted);
    }

    #[test]
    fn erased_boot_vector_gives_fallback_sp() {
        let mut t = f103();
        t.system_reset();
        assert_eq!((t.cpu.msp, t.cpu.r[15]), (FALLBACK_SP, 0xFFFF_FFFE));
    }

    #[test]
    fn nrst_holds_reset_latches_halt_and_release_resets() {
        let mut t = f103();
        wr(&mut t, 0x2000_0000, 0x55).unwrap();
        t.drive_nrst(true);
        assert_eq!(rd(&mut t, 0x2000_0000), Err(BusFault), "non-PPB accesses fault in reset");
        assert_eq!(rd(&mut t, 0xE004_2000), Ok(0x2003_6410), "DBGMCU is on the PPB");
        wr(&mut t, DHCSR, 0xA05F_0003).unwrap();
        assert!(!t.cpu.halted);
        let v = rd(&mut t, DHCSR).unwrap();
        assert_eq!(v & (S_RESET_ST | S_HALT), S_RESET_ST);
        assert_eq!(rd(&mut t, DHCSR).unwrap() & S_RESET_ST, S_RESET_ST, "stays set while held");
        t.drive_nrst(false);
        assert!(t.cpu.halted);
        assert_eq!(rd(&mut t, DFSR), Ok(DFSR_HALTED));
        assert_eq!(rd(&mut t, 0x2000_0000), Ok(0x55), "SRAM survives reset");
        // Disconnected NRST wire: nothing happens.
        t.nrst_connected = false;
        t.drive_nrst(true);
        assert_eq!(rd(&mut t, 0x2000_0000), Ok(0x55));
    }

    #[test]
    fn firmware_that_disables_swd_is_only_reached_under_reset() {
        let mut t = f103();
        // No firmware yet (erased reset vector): the knob changes nothing.
        t.set_firmware_disables_swd(true);
        t.firmware_runs_until(FIRMWARE_TAKES_SWD * 2);
        assert!(t.swd_alive());
        // A programmed vector table: the running chip does not answer.
        assert!(t.poke(0x0800_0000, &[0x00, 0x50, 0x00, 0x20, 0x01, 0x01, 0x00, 0x08]));
        t.set_firmware_disables_swd(true);
        assert!(!t.swd_alive(), "the firmware was running before the probe came");
        // Held in reset: the pins are SWD again; a halt request latched now
        // catches the core before the firmware runs.
        t.drive_nrst(true);
        assert!(t.swd_alive());
        wr(&mut t, DHCSR, 0xA05F_0003).unwrap();
        t.drive_nrst(false);
        assert!(t.cpu.halted && t.swd_alive());
        t.firmware_runs_until(10 * FIRMWARE_TAKES_SWD);
        assert!(t.swd_alive(), "halted: the firmware does not run");
        // Resumed: a few accesses still work, then the firmware takes the pins.
        let now = 10 * FIRMWARE_TAKES_SWD;
        t.write(DHCSR, AccessWidth::Word, 0xA05F_0001, Initiator::Debugger, now).unwrap();
        t.firmware_runs_until(now + FIRMWARE_TAKES_SWD / 2);
        assert!(t.swd_alive());
        t.firmware_runs_until(now + FIRMWARE_TAKES_SWD);
        assert!(!t.swd_alive());
    }

    #[test]
    fn peek_and_poke_span_memories_and_refuse_holes() {
        let mut t = f103();
        assert!(t.poke(0x2000_0000, &[1, 2, 3]));
        assert_eq!(t.peek(0x2000_0000, 4), Some(vec![1, 2, 3, 0]));
        assert!(t.poke(0x0800_FFFE, &[9, 9]));
        assert_eq!(t.peek(0x0800_FFFC, 4), Some(vec![0xFF, 0xFF, 9, 9]));
        assert_eq!(t.peek(0x0800_FFFC, 8), None, "flash is followed by a hole");
        assert!(!t.poke(0x2000_4FFF, &[1, 2]));
        assert_eq!(t.peek(0xFFFF_FFFF, 2), None);
    }

    #[test]
    fn code_in_sram_takes_one_core_cycle_per_instruction() {
        // movs r0, #100; 1: subs r0, #1; bne 1b; bkpt: 201 instructions.
        let code = [0x64, 0x20, 0x01, 0x38, 0xFD, 0xD1, 0x00, 0xBE];
        for (hz, ns) in [(8_000_000u64, 25_125u64), (2_097_000, 95_851)] {
            let mut t = f103();
            assert_eq!(t.interpreter.hz, 8_000_000, "F1 reset clock: HSI 8 MHz");
            t.interpreter.hz = hz;
            assert!(t.poke(0x2000_0000, &code));
            t.halt(DFSR_HALTED);
            t.cpu.r[15] = 0x2000_0000;
            t.bus_now = 1_000;
            t.resume();
            t.run_core_until(1_000 + ns - 100);
            assert!(!t.cpu.halted, "{hz} Hz: still running {} ns later", ns - 100);
            t.run_core_until(1_000 + ns + 1);
            assert!(t.cpu.halted, "{hz} Hz: done after {ns} ns");
            assert_eq!(t.cpu.dfsr & DFSR_BKPT, DFSR_BKPT);
        }
    }

    #[test]
    fn flash_time_scales_every_flash_operation() {
        // F103: one half-word takes 52.5 µs as modeled.
        for (permille, ns) in [(1000u64, 52_500u64), (100, 5_250), (10_000, 525_000)] {
            let mut t = f103();
            t.flash_time_permille = permille;
            wr(&mut t, 0x4002_2004, 0x4567_0123).unwrap();
            wr(&mut t, 0x4002_2004, 0xCDEF_89AB).unwrap();
            wr(&mut t, 0x4002_2010, 1).unwrap(); // CR.PG
            t.write(0x0800_0000, AccessWidth::Half, 0x1234, Initiator::Debugger, 1_000).unwrap();
            let end = t.flash_next_event(1_000).expect("programming");
            assert!(end.abs_diff(1_000 + ns) <= 10, "{permille}‰: ends at {end}");
            let busy =
                |t: &mut Mcu, at: Nanos| t.read(0x4002_200C, AccessWidth::Word, Initiator::Debugger, at).unwrap() & 1;
            assert_eq!(busy(&mut t, 1_000 + ns - 10), 1, "{permille}‰: busy");
            assert_eq!(busy(&mut t, 1_000 + ns + 10), 0, "{permille}‰: done after {ns} ns");
        }
    }
}
