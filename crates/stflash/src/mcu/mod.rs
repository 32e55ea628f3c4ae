//! Target access: connecting to the Cortex-M core, identifying the STM32, and
//! reading or writing its memory. Built on [`StLink`]; the flash drivers build
//! on this.
//!
//! stlink lines cited here are those of stlink-org/stlink at commit 733893a
//! (`testing` branch, 2024-10-17); OpenOCD lines those of its master branch at
//! abbbc2e05.

use std::fmt;
use std::time::Duration;

use log::{debug, info, warn};

use crate::error::{Error, ErrorKind};
use crate::stlink::{StLink, StlinkError};
use crate::transport::TransportError;

pub mod cortex_m;
pub(crate) mod identify;

use crate::chip::{self as chips, Chip, Core};
use cortex_m as cm;

/// How to attach (st-flash's connect modes: stlink src/stlink-lib/usb.c:1274-1299,
/// common.c:1029-1073, commit 733893a).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectMode {
    /// Attach to the running target without resetting it (st-flash's effective default).
    #[default]
    HotPlug,
    /// Hold NRST low while attaching, then halt at the reset vector.
    UnderReset,
}

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub mode: ConnectMode,
    /// Requested SWD clock in kHz; `None`: the probe's fastest.
    pub speed_khz: Option<u32>,
    /// `--flash=` override of the flash size, in bytes.
    pub flash_size: Option<u32>,
    /// Halt the core and freeze the watchdogs after identification (every
    /// st-flash command). `false` (`stflash info`): only read; nothing on the
    /// target is written, so the firmware keeps running undisturbed. With
    /// [`ConnectMode::UnderReset`] the core is halted by the reset anyway.
    pub halt: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions { mode: ConnectMode::default(), speed_khz: None, flash_size: None, halt: true }
    }
}

/// Errors of the target layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    Link(StlinkError),
    /// The probe measured (almost) no voltage on the target.
    NoPower {
        mv: u32,
    },
    /// Nothing answered on SWD.
    NoResponse(String),
    /// CPUID does not name an Arm Cortex-M core.
    NotCortexM {
        cpuid: u32,
    },
    /// DEV_ID is not in the chip table.
    UnknownChip {
        dev_id: u16,
        idcode: u32,
    },
    /// The core did not halt.
    NoHalt,
    /// A memory access faulted (unmapped, or protected by RDP).
    Fault {
        addr: u32,
        what: &'static str,
    },
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Link(e) => write!(f, "{e}"),
            TargetError::NoPower { mv } => write!(
                f,
                "the target is not powered (the probe measures {}.{:02} V); power the board and check the probe's VDD/VAPP wire",
                mv / 1000,
                (mv % 1000) / 10
            ),
            TargetError::NoResponse(msg) => write!(
                f,
                "no answer from the target over SWD ({msg}); check SWDIO/SWCLK/GND wiring and target power, or try --connect-under-reset"
            ),
            TargetError::NotCortexM { cpuid } => write!(
                f,
                "the target's CPUID 0x{cpuid:08X} is not an Arm Cortex-M core; try --connect-under-reset"
            ),
            TargetError::UnknownChip { dev_id, idcode } => write!(
                f,
                "unknown chip: DEV_ID 0x{dev_id:03X} (DBGMCU_IDCODE 0x{idcode:08X}) is not in stflash's chip table; see `stflash info --chips` for the supported list"
            ),
            TargetError::NoHalt => write!(
                f,
                "the core did not halt; the firmware may disable debug pins or sleep deeply: try --connect-under-reset"
            ),
            TargetError::Fault { addr, what } => write!(f, "bus fault {what} 0x{addr:08X}"),
        }
    }
}

impl std::error::Error for TargetError {}

impl From<StlinkError> for TargetError {
    fn from(e: StlinkError) -> Self {
        TargetError::Link(e)
    }
}

impl From<TransportError> for TargetError {
    fn from(e: TransportError) -> Self {
        TargetError::Link(StlinkError::Transport(e))
    }
}

impl From<TargetError> for Error {
    fn from(e: TargetError) -> Self {
        let kind = match &e {
            TargetError::Link(StlinkError::Transport(t)) => return Error::from(t.clone()),
            TargetError::Link(StlinkError::Status { status, .. }) if status.is_no_target() => ErrorKind::NoTarget,
            TargetError::Link(StlinkError::Status { status, .. }) if status.is_access_fault() => ErrorKind::Other,
            TargetError::Link(StlinkError::Status { status, .. }) if status.is_wait() => {
                return Error::new(
                    ErrorKind::NoTarget,
                    format!(
                        "{e}; the target kept its bus busy through every retry (a low-power mode or a stalled bus): \
                         try --connect-under-reset or a lower --freq"
                    ),
                );
            }
            TargetError::Link(StlinkError::Unsupported(_)) => ErrorKind::Unsupported,
            TargetError::Link(_) => ErrorKind::ProbeIo,
            TargetError::NoPower { .. }
            | TargetError::NoResponse(_)
            | TargetError::NotCortexM { .. }
            | TargetError::UnknownChip { .. }
            | TargetError::NoHalt => ErrorKind::NoTarget,
            TargetError::Fault { addr, .. } => {
                let mut err = Error::new(ErrorKind::Other, e.to_string());
                err.fault_addr = Some(*addr);
                return err;
            }
        };
        Error::new(kind, e.to_string())
    }
}

type Result<T> = std::result::Result<T, TargetError>;

/// Below this the target is considered unpowered (no STM32 runs under 1.6 V).
const NO_POWER_MV: u32 = 1000;
/// How long a halt request may take.
const HALT_TIMEOUT: Duration = Duration::from_millis(200);
/// How long a reset may take before the core is back.
const RESET_TIMEOUT: Duration = Duration::from_millis(500);

/// A connected, identified target.
pub struct Target {
    link: StLink,
    pub chip: &'static Chip,
    pub core: Core,
    pub dpidr: u32,
    pub cpuid: u32,
    /// Full DBGMCU_IDCODE (REV_ID in bits 31:16).
    pub idcode: u32,
    /// Flash size in bytes in force (the register, or the `--flash=` override).
    pub flash_size: u32,
    /// Flash size the chip reports, in bytes.
    pub flash_size_detected: u32,
    pub voltage_mv: Option<u32>,
    pub speed_khz: Option<u32>,
    /// The core was already halted when stflash attached (a debugger or an
    /// earlier `--no-run` left it so); false when it was running, or when
    /// the connect reset it (`--connect-under-reset`) or did not halt it.
    pub was_halted: bool,
    /// DEMCR as found at connect time, restored on detach.
    demcr_saved: Option<u32>,
    /// The debug session was closed ([`Target::detach`], [`Target::abandon`]);
    /// otherwise dropping the target closes it, leaving the core running.
    closed: bool,
}

impl Target {
    /// Attach to the target behind `link` and identify it, in the order st-flash
    /// does (stlink src/st-flash/flash.c:102-138, src/stlink-lib/usb.c:1131-1300,
    /// common.c:1029-1073, commit 733893a). The core is left halted, unless
    /// `opts.halt` is false: then identification only reads (CPUID,
    /// DBGMCU_IDCODE, the flash-size register) and the core keeps running.
    pub fn connect(link: StLink, opts: &ConnectOptions) -> std::result::Result<Target, Error> {
        let mut t = Target {
            link,
            chip: &chips::UNIDENTIFIED,
            core: Core::M3,
            dpidr: 0,
            cpuid: 0,
            idcode: 0,
            flash_size: 0,
            flash_size_detected: 0,
            voltage_mv: None,
            speed_khz: None,
            was_halted: false,
            demcr_saved: None,
            closed: false,
        };
        t.attach(opts)?;
        Ok(t)
    }

    /// Leave debug mode and attach again through the same probe: enter SWD,
    /// identify and halt, as `connect` does. Used after the chip reset itself
    /// (an option-byte reload, OBL_LAUNCH: OpenOCD src/flash/nor/stm32l4x.c:1209-1218,
    /// stm32f1x.c:1597-1607), which drops the debug session on real parts. The
    /// identity is read afresh.
    pub fn reconnect(&mut self, opts: &ConnectOptions) -> std::result::Result<(), Error> {
        // After the reset the probe may report errors for anything; the
        // attach below starts from whatever mode it is in.
        let _ = self.link.exit_debug();
        self.chip = &chips::UNIDENTIFIED;
        self.demcr_saved = None;
        self.attach(opts)
    }

    /// The connect sequence on `self.link`: mode, voltage, speed, SWD,
    /// identify, halt (unless `opts.halt` is false).
    fn attach(&mut self, opts: &ConnectOptions) -> std::result::Result<(), Error> {
        let link = &mut self.link;
        let mode = link.leave_current_mode().map_err(TargetError::from)?;
        debug!("probe was in {mode:?} mode");
        let voltage_mv = link.target_voltage_mv().map_err(TargetError::from)?;
        if let Some(mv) = voltage_mv {
            debug!("target voltage {mv} mV");
            if mv < NO_POWER_MV {
                return Err(TargetError::NoPower { mv }.into());
            }
        }
        let under_reset = opts.mode == ConnectMode::UnderReset;
        if under_reset {
            link.drive_nrst(true).map_err(TargetError::from)?;
        }
        // A clock already lowered for this link (a reconnect after a reset)
        // stays lowered.
        let requested = opts.speed_khz.or(link.lowered_clock()).unwrap_or(u32::MAX);
        link.set_auto_speed(opts.speed_khz.is_none());
        let speed_khz = link.set_swd_speed(requested).map_err(TargetError::from)?;
        if let (Some(req), Some(got)) = (opts.speed_khz, speed_khz) {
            if req != got {
                info!("Unable to match requested speed {req} kHz, using {got} kHz");
            }
        }
        link.enter_swd().map_err(no_response)?;
        self.dpidr = link.read_dpidr().map_err(no_response)?;
        self.voltage_mv = voltage_mv;
        self.speed_khz = speed_khz;
        if under_reset {
            // The reset is caught through the core's debug registers: find
            // its access port first (they answer while NRST is held).
            identify::find_core(self)?;
            self.halt_under_reset()?;
        }
        // Identification only reads (and halts): run it again at a slower
        // clock when the link fails at this one.
        self.slower_on_link_trouble("connecting", |t| {
            identify::identify(t, opts.flash_size)?;
            if opts.halt {
                if !under_reset {
                    t.was_halted = t.is_halted()?;
                    t.halt()?;
                }
                t.freeze_watchdogs()?;
            }
            Ok(())
        })?;
        self.speed_khz = self.link.swd_speed();
        Ok(())
    }

    /// Run `op`; while it fails because the SWD link failed (see
    /// `Status::is_link_trouble`) and the clock is stflash's to choose, lower
    /// the clock one step (`StLink::step_down`) and run it again. With
    /// `--freq`, or when no slower clock is left, the error says so. `op` must
    /// be safe to repeat.
    pub fn slower_on_link_trouble<T>(
        &mut self,
        what: &str,
        mut op: impl FnMut(&mut Target) -> std::result::Result<T, Error>,
    ) -> std::result::Result<T, Error> {
        self.link.take_link_trouble();
        loop {
            let e = match op(self) {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            match self.link.take_link_trouble() {
                Some(status) => self.step_down_after(what, e, &status.to_string())?,
                None => return Err(e),
            }
        }
    }

    /// After `e` (a link failure, or a verification mismatch that may come
    /// from one): lower the SWD clock and return `Ok` to try again, or return
    /// `e` with what was tried.
    pub fn step_down_after(&mut self, what: &str, e: Error, why: &str) -> std::result::Result<(), Error> {
        let khz = self.link.swd_speed();
        let at = khz.map_or(String::new(), |k| format!(" at {k} kHz"));
        if !self.link.auto_speed() {
            return Err(Error::new(
                e.kind,
                format!(
                    "{}; the SWD link failed{at}, the clock --freq asked for (stflash lowers the clock by itself \
                     only without --freq): try a lower --freq",
                    e.message
                ),
            ));
        }
        match self.link.step_down().map_err(TargetError::from)? {
            Some(new) => {
                warn!("{what} failed{at} ({why}); lowering the SWD clock to {new} kHz and trying again");
                self.speed_khz = Some(new);
                Ok(())
            }
            None => Err(Error::new(
                e.kind,
                format!("{}; the SWD link failed{at}, and stflash lowers the clock no further", e.message),
            )),
        }
    }

    /// Reset with NRST held low: request the halt while in reset, release,
    /// and catch the core at its reset vector (as st-flash's
    /// `--connect-under-reset` does: stlink src/stlink-lib/usb.c:1274-1299,
    /// common.c:409-460).
    fn halt_under_reset(&mut self) -> std::result::Result<(), Error> {
        let demcr = self.read32(cm::DEMCR)?;
        self.demcr_saved = Some(demcr);
        self.write32(cm::DHCSR, cm::DBGKEY | cm::C_HALT | cm::C_DEBUGEN)?;
        self.write32(cm::DEMCR, demcr | cm::DEMCR_VC_CORERESET)?;
        self.write32(cm::DFSR, cm::DFSR_ALL)?;
        self.link.sleep(Duration::from_millis(1));
        self.link.drive_nrst(false).map_err(TargetError::from)?;
        // Halted by the reset vector catch, or only by C_HALT when NRST
        // never reached the chip: DFSR.VCATCH tells them apart (ARMv7-M
        // C1.6.1, ARMv6-M C1.6.1).
        if self.wait_halted(RESET_TIMEOUT)? && self.read32(cm::DFSR)? & cm::DFSR_VCATCH != 0 {
            return Ok(());
        }
        // NRST not wired (clone probes): reset through AIRCR with the vector
        // catch set, as st-flash does.
        warn!("NRST is not connected (the chip did not reset when it was released); using a software reset via AIRCR");
        self.write32(cm::AIRCR, cm::AIRCR_VECTKEY | cm::AIRCR_SYSRESETREQ)?;
        if self.wait_halted(RESET_TIMEOUT)? {
            Ok(())
        } else {
            Err(TargetError::NoHalt.into())
        }
    }

    /// Stop the watchdogs while the core is halted, so that a long erase is
    /// not cut short by a reset (DBGMCU freeze bits, per chip table). Every
    /// connect that halts does it; a read-only connect does not.
    pub fn freeze_watchdogs(&mut self) -> Result<()> {
        for &(addr, bits) in self.chip.watchdog_freeze {
            let v = self.read32(addr)?;
            self.write32(addr, v | bits)?;
        }
        Ok(())
    }

    /// One 32-bit read through READDEBUGREG.
    pub fn read32(&mut self, addr: u32) -> Result<u32> {
        self.link.read_debug32(addr).map_err(|e| fault_or(e, addr, "reading"))
    }

    /// One 32-bit write through WRITEDEBUGREG.
    pub fn write32(&mut self, addr: u32, value: u32) -> Result<()> {
        self.link.write_debug32(addr, value).map_err(|e| fault_or(e, addr, "writing"))
    }

    pub fn read_mem(&mut self, addr: u32, buf: &mut [u8]) -> Result<()> {
        self.link.read_mem(addr, buf).map_err(|e| fault_or(e, addr, "reading"))
    }

    pub fn write_mem(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        self.link.write_mem(addr, data).map_err(|e| fault_or(e, addr, "writing"))
    }

    /// Write a word-aligned RAM range in as few commands as possible (the
    /// flash routine's buffers).
    pub fn write_mem_bulk(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        self.link.write_mem_bulk(addr, data).map_err(|e| fault_or(e, addr, "writing"))
    }

    /// Write with every access exactly `width` bytes wide (flash programming).
    pub fn write_mem_width(&mut self, addr: u32, data: &[u8], width: u32) -> Result<()> {
        self.link.write_mem_width(addr, data, width).map_err(|e| fault_or(e, addr, "writing"))
    }

    /// A core register of the halted core (index as DCRSR.REGSEL): the
    /// probe's READREG on access port 0; on another port through DCRSR and
    /// DCRDR, since READREG carries no AP
    /// number (OpenOCD stlink_usb.c:2390-2403 does the same for the registers
    /// READREG cannot reach).
    pub fn read_core_reg(&mut self, index: u8) -> Result<u32> {
        if self.link.ap() != 0 {
            self.write32(cm::DCRSR, index as u32)?;
            self.wait_regrdy("READREG")?;
            return self.read32(cm::DCRDR);
        }
        Ok(self.link.read_reg(index)?)
    }

    pub fn write_core_reg(&mut self, index: u8, value: u32) -> Result<()> {
        if self.link.ap() != 0 {
            self.write32(cm::DCRDR, value)?;
            self.write32(cm::DCRSR, cm::DCRSR_REGWNR | index as u32)?;
            return self.wait_regrdy("WRITEREG");
        }
        Ok(self.link.write_reg(index, value)?)
    }

    /// Wait for DHCSR.S_REGRDY after a DCRSR write (ARMv7-M ARM §C1.6.2). It
    /// stays clear on a running core, where the transfer does not happen:
    /// reported as the probe reports READREG on a running core (FAULT).
    fn wait_regrdy(&mut self, cmd: &'static str) -> Result<()> {
        for _ in 0..4 {
            if self.read32(cm::DHCSR)? & cm::S_REGRDY != 0 {
                return Ok(());
            }
        }
        Err(TargetError::Link(StlinkError::Status { cmd, status: crate::stlink::Status::FAULT, addr: None }))
    }

    pub fn is_halted(&mut self) -> Result<bool> {
        Ok(self.read32(cm::DHCSR)? & cm::S_HALT != 0)
    }

    fn wait_halted(&mut self, timeout: Duration) -> Result<bool> {
        let start = self.link.elapsed();
        loop {
            if self.is_halted()? {
                return Ok(true);
            }
            if self.link.elapsed() - start > timeout {
                return Ok(false);
            }
            self.link.sleep(Duration::from_millis(1));
        }
    }

    /// Halt the core.
    pub fn halt(&mut self) -> Result<()> {
        self.write32(cm::DHCSR, cm::DBGKEY | cm::C_HALT | cm::C_DEBUGEN)?;
        if self.wait_halted(HALT_TIMEOUT)? {
            Ok(())
        } else {
            Err(TargetError::NoHalt)
        }
    }

    /// Execute one instruction and halt again (DHCSR.C_STEP with C_HALT
    /// cleared, ARMv7-M C1.6.3); the core must be halted.
    pub fn step(&mut self) -> Result<()> {
        self.write32(cm::DHCSR, cm::DBGKEY | cm::C_STEP | cm::C_DEBUGEN)?;
        if self.wait_halted(HALT_TIMEOUT)? {
            Ok(())
        } else {
            Err(TargetError::NoHalt)
        }
    }

    /// Resume the core (debug stays enabled).
    pub fn run(&mut self) -> Result<()> {
        self.write32(cm::DHCSR, cm::DBGKEY | cm::C_DEBUGEN)
    }

    /// Run code at `pc` with stack `sp` (as after loading a program into SRAM).
    pub fn run_at(&mut self, pc: u32, sp: u32) -> Result<()> {
        self.set_entry(pc, sp)?;
        self.run()
    }

    /// Make the halted core ready to start code at `pc` with stack `sp`
    /// (Thumb state), without letting it run.
    pub fn set_entry(&mut self, pc: u32, sp: u32) -> Result<()> {
        self.write_core_reg(cm::reg::MSP, sp)?;
        self.write_core_reg(cm::reg::SP, sp)?;
        self.write_core_reg(cm::reg::PC, pc)?;
        let xpsr = self.read_core_reg(cm::reg::XPSR)?;
        self.write_core_reg(cm::reg::XPSR, xpsr | cm::XPSR_T)
    }

    /// System reset, leaving the core running: NRST pulse, then the probe's
    /// reset command; AIRCR.SYSRESETREQ when no reset was seen (NRST not wired).
    pub fn reset_and_run(&mut self) -> Result<()> {
        let _ = self.read32(cm::DHCSR)?; // clears the sticky S_RESET_ST
        self.write32(cm::DHCSR, cm::DBGKEY | cm::C_DEBUGEN)?;
        self.link.drive_nrst(true)?;
        self.link.sleep(Duration::from_millis(1));
        self.link.drive_nrst(false)?;
        self.link.sleep(Duration::from_millis(10));
        if self.read32(cm::DHCSR)? & cm::S_RESET_ST == 0 {
            info!("NRST is not connected --> using software reset via AIRCR");
            self.write32(cm::AIRCR, cm::AIRCR_VECTKEY | cm::AIRCR_SYSRESETREQ)?;
            self.link.sleep(Duration::from_millis(10));
        }
        self.freeze_watchdogs()?;
        self.run()
    }

    /// System reset, stopping the core at its reset vector.
    pub fn reset_and_halt(&mut self) -> Result<()> {
        let demcr = self.read32(cm::DEMCR)?;
        self.write32(cm::DHCSR, cm::DBGKEY | cm::C_HALT | cm::C_DEBUGEN)?;
        self.write32(cm::DEMCR, demcr | cm::DEMCR_VC_CORERESET)?;
        self.write32(cm::AIRCR, cm::AIRCR_VECTKEY | cm::AIRCR_SYSRESETREQ)?;
        let halted = self.wait_halted(RESET_TIMEOUT)?;
        self.write32(cm::DEMCR, demcr)?;
        self.write32(cm::DFSR, cm::DFSR_ALL)?;
        if !halted {
            return Err(TargetError::NoHalt);
        }
        self.freeze_watchdogs()
    }

    /// Let the core run and leave debug mode: DHCSR.C_DEBUGEN cleared and
    /// DEMCR vector catches restored, unlike st-flash which leaves them set
    /// after `erase`, `reset` or `--reset`: its exit path skips the DHCSR write
    /// after a reset (stlink src/stlink-lib/common.c:81-91, called from
    /// src/st-flash/flash.c:350-361). Consumes the target; the probe is idle after.
    pub fn detach(&mut self, run: bool) -> std::result::Result<(), Error> {
        self.closed = true;
        if let Some(demcr) = self.demcr_saved.take() {
            self.write32(cm::DEMCR, demcr & !cm::DEMCR_VC_CORERESET)?;
        }
        if run {
            self.write32(cm::DHCSR, cm::DBGKEY | cm::C_DEBUGEN)?;
            self.write32(cm::DHCSR, cm::DBGKEY)?;
        }
        self.link.exit_debug().map_err(TargetError::from)?;
        Ok(())
    }

    /// The debug session was closed (detached or abandoned).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Leave debug mode after a failure, best effort: nothing is reported.
    pub fn abandon(&mut self) {
        self.closed = true;
        let _ = self.link.exit_debug();
    }

    pub fn sleep(&mut self, d: Duration) {
        self.link.sleep(d)
    }

    pub fn elapsed(&self) -> Duration {
        self.link.elapsed()
    }

    pub fn link(&self) -> &StLink {
        &self.link
    }

    /// The probe this target is reached through.
    pub fn probe(&self) -> &crate::transport::ProbeInfo {
        self.link.transport().info()
    }

    /// The probe's firmware version.
    pub fn probe_firmware(&self) -> crate::stlink::Version {
        self.link.version
    }

    /// The link-trouble status seen since the last call (a WAIT storm, an
    /// AP FAULT, a parity error), if any, and forget it.
    pub fn take_link_trouble(&mut self) -> Option<crate::stlink::Status> {
        self.link.take_link_trouble()
    }

    /// stflash chooses the SWD clock (no `--freq`), so it may lower it.
    pub fn auto_speed(&self) -> bool {
        self.link.auto_speed()
    }

    pub fn link_mut(&mut self) -> &mut StLink {
        &mut self.link
    }

    /// The chip's 96-bit unique device ID, bytes in address order (each
    /// word little-endian); `None` when the chip answers its address with a
    /// bus fault.
    pub fn unique_id(&mut self) -> Result<Option<[u8; 12]>> {
        let mut id = [0u8; 12];
        for (i, addr) in self.chip.uid.words().into_iter().enumerate() {
            match self.read32(addr) {
                Ok(w) => id[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes()),
                Err(TargetError::Fault { .. }) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(Some(id))
    }

    /// DEV_ID (DBGMCU_IDCODE bits 11:0) as read.
    pub fn dev_id(&self) -> u16 {
        (self.idcode & 0xFFF) as u16
    }

    /// REV_ID (DBGMCU_IDCODE bits 31:16).
    pub fn rev_id(&self) -> u16 {
        (self.idcode >> 16) as u16
    }
}

/// Identification failures that mean "nothing answers".
fn no_response(e: StlinkError) -> TargetError {
    match e {
        StlinkError::Status { status, .. } if status.is_no_target() => TargetError::NoResponse(status.to_string()),
        other => TargetError::Link(other),
    }
}

/// Memory-access failures that are bus faults at an address.
fn fault_or(e: StlinkError, addr: u32, what: &'static str) -> TargetError {
    match e {
        StlinkError::Status { status, addr: fault, .. } if status.is_access_fault() => {
            TargetError::Fault { addr: fault.unwrap_or(addr), what }
        }
        other => TargetError::Link(other),
    }
}

/// A target dropped without being closed (a panic, an early return) is left
/// as a finished command leaves it: the core running, the probe out of debug
/// mode. Best effort: nothing can be reported from here.
impl Drop for Target {
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.detach(true);
        }
    }
}
