//! Flash drivers: one module per flash-controller family behind one interface.
//!
//! A driver describes its controller; the generic engine (`engine.rs`) runs it.
//! Sequences that must also run on the target (the SRAM flash routine) are
//! expressed as data — lists of [`RegOp`] — so that the host path and the
//! target path share one description of each reference-manual sequence.
//!
//! Sources cited in these comments: ST's reference manuals (RMxxxx) and SVD
//! files; ST's HAL drivers (GitHub STMicroelectronics/stm32f4xx_hal_driver at
//! d232197, stm32g4xx_hal_driver at c8820e3, stm32h7xx_hal_driver at 6f5e35e,
//! stm32l4xx_hal_driver at a9f8b8a) and CMSIS device headers (cmsis_device_h7
//! at 13ba9da); OpenOCD's src/flash/nor/ drivers (master, lines checked at
//! abbbc2e05); stlink (stlink-org/stlink at 733893a, or tag v1.8.0 where named).

use std::fmt;
use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::mcu::{Target, TargetError};

pub mod crc;
pub mod eeprom;
pub mod engine;
pub mod layout;
pub mod options;
pub mod reserved;
pub mod routine;

pub use engine::{NoProgress, Phase, Progress};
pub use layout::{Bank, FlashLayout, Sector};
pub use reserved::{Remedy, Reserved, ReservedKind};

/// Width of one bus access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    Byte = 1,
    Half = 2,
    Word = 4,
}

impl Width {
    pub fn bytes(self) -> u32 {
        self as u32
    }
}

/// One step of a controller sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegOp {
    /// A 32-bit write to a controller register (or, on L0/L1, to a flash word
    /// to start a page erase).
    Write { addr: u32, value: u32 },
    /// Wait until the bank's status shows idle, then check and clear its error
    /// flags. `typical` is how long the operation normally takes (the first poll
    /// comes after it); `timeout` is when to give up.
    WaitIdle { bank: u8, typical: Duration, timeout: Duration },
}

/// How a bank's status register is read and its error flags cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusReg {
    /// Status register address.
    pub addr: u32,
    /// Bits that are set while an operation is pending (BSY, QW, CFGBSY, BSY2…).
    pub busy: u32,
    /// Error flags.
    pub errors: u32,
    /// Where flags are cleared: `None` = write 1 to the flag in the status
    /// register itself (W1C); `Some(addr)` = write 1 at the same bit position in
    /// a separate clear register (H7 CCR, H5 NSCCR).
    pub clear_reg: Option<u32>,
    /// End-of-operation flag, cleared together with errors (0 if none).
    pub eop: u32,
}

/// One error flag of a status register, with what it means for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorFlag {
    pub mask: u32,
    pub name: &'static str,
    pub meaning: &'static str,
}

/// How programming data reaches the flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramAccess {
    /// Bytes programmed by one flash operation (flash word, double word,
    /// half page…). Images are padded to whole units with the erased value.
    pub unit: u32,
    /// Bus access width for the data writes (PSIZE on F2/F4/F7, half-words on F0/F1/F3).
    pub width: Width,
    /// Typical time to program one unit, and the timeout. The typical times are
    /// assumed: datasheet typical values recalled, not checked against the ST
    /// datasheets, the same figures the simulator's timing model uses.
    pub typical: Duration,
    pub timeout: Duration,
}

/// Read-out protection level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdpLevel {
    Level0,
    Level1,
    Level2,
}

/// The RDP byte values most families share: level 0 and the irreversible
/// level 2; any other value is level 1 (ST HAL `OB_RDP_LEVEL_0`/`OB_RDP_LEVEL_2`:
/// stm32f4xx_hal_flash_ex.h:184-186, stm32l4xx_hal_flash.h:237-239,
/// stm32g4xx_hal_flash.h:253-255, stm32h7xx_hal_flash_ex.h:295-297; OpenOCD
/// src/flash/nor/stm32h7x.c:193-195).
pub const RDP_LEVEL0_BYTE: u8 = 0xAA;
pub const RDP_LEVEL2_BYTE: u8 = 0xCC;

impl RdpLevel {
    /// Decode the common RDP byte (F0/F3, F2/F4/F7, L0/L1, L4-class, L5/U5, H7).
    pub fn from_byte(rdp: u8) -> RdpLevel {
        match rdp {
            RDP_LEVEL0_BYTE => RdpLevel::Level0,
            RDP_LEVEL2_BYTE => RdpLevel::Level2,
            _ => RdpLevel::Level1,
        }
    }
}

/// A flash driver: one per controller family (see `driver_for`).
pub trait FlashController: Send {
    /// Short controller name for messages ("STM32H7A/B").
    fn name(&self) -> &'static str;

    /// The flash layout in force: banks, sectors, programming unit. Reads
    /// whatever option bits change it (dual-bank mode, page size).
    /// Must only read: `stflash info` calls it on a running target that it
    /// promises not to change.
    fn layout(&mut self, t: &mut Target) -> Result<FlashLayout, FlashError>;

    /// Status register of a bank.
    fn status(&self, bank: u8) -> StatusReg;

    /// Where a bank's error flags (and its end-of-operation flag) are read
    /// when that is not its status register: the STM32H7R/S keeps busy in
    /// FLASH_SR and the errors in FLASH_ISR, cleared in FLASH_ICR (RM0477;
    /// CMSIS stm32h7s7xx.h `FLASH_TypeDef`). [`StatusReg::errors`],
    /// [`StatusReg::eop`] and [`StatusReg::clear_reg`] then describe that
    /// register. The flash routine polls one register for both, so such a
    /// controller is programmed by the host.
    fn error_register(&self, _bank: u8) -> Option<u32> {
        None
    }

    /// Names and meanings of the status register's error flags.
    fn error_flags(&self) -> &'static [ErrorFlag];

    /// Unlock a bank for erase and program (only if locked: a second key
    /// sequence locks the controller until reset: ST's STM32H7B0 SVD,
    /// FLASH_CR1.LOCK1; OpenOCD src/flash/nor/stm32h7x.c:424-428).
    fn unlock(&mut self, t: &mut Target, bank: u8) -> Result<(), FlashError>;

    /// Clear programming/erase bits and lock the bank again.
    fn lock(&mut self, t: &mut Target, bank: u8) -> Result<(), FlashError>;

    /// The sequence that erases one sector (or page), ending with a `WaitIdle`.
    fn erase_sector_ops(&self, sector: &Sector) -> Vec<RegOp>;

    /// The sequence that erases everything, if the controller has one (bank or
    /// mass erase). `None`: the engine erases sector by sector.
    fn mass_erase_ops(&self, layout: &FlashLayout) -> Option<Vec<RegOp>>;

    /// Register writes before and after programming data into a bank
    /// (e.g. CR = PG | PSIZE, then CR = 0).
    fn program_setup_ops(&self, bank: u8) -> Vec<RegOp>;
    fn program_teardown_ops(&self, bank: u8) -> Vec<RegOp>;

    /// The sequence that brings a bank back to idle after code on the target
    /// stopped in the middle of programming (the flash routine crashed). By
    /// default leaving programming mode; controllers that collect a flash
    /// word in a write buffer first force out a partly filled one (it is in
    /// a sector that is erased again before it is rewritten).
    fn recover_ops(&self, bank: u8) -> Vec<RegOp> {
        self.program_teardown_ops(bank)
    }

    /// Unit and width of programming.
    fn program_access(&self) -> ProgramAccess;

    /// Read-out protection level, from the option registers. Must only read
    /// (see [`FlashController::layout`]).
    fn rdp_level(&mut self, t: &mut Target) -> Result<RdpLevel, FlashError>;

    /// Areas of main flash that the debugger must not erase or program: the
    /// write-protected sectors or pages, read from the registers that show
    /// the option bytes in force, and areas owned by someone else (the
    /// STM32WB wireless stack), each with what to do about it. Must only read
    /// (see [`FlashController::layout`]).
    fn reserved_ranges(&mut self, _t: &mut Target) -> Result<Vec<Reserved>, FlashError> {
        Ok(Vec::new())
    }

    /// The option bytes, option registers and OTP of this controller, when
    /// the driver describes them (`options.rs`).
    fn options(&mut self) -> Option<&mut dyn options::OptionBytes> {
        None
    }

    /// The data EEPROM (STM32L0/L1), when the chip has one.
    fn eeprom(&mut self) -> Option<&mut dyn eeprom::DataEeprom> {
        None
    }
}

/// Errors from flash operations.
#[derive(Debug, Clone)]
pub enum FlashError {
    /// The controller raised error flags.
    Flags { op: String, flags: Vec<ErrorFlag>, status: u32 },
    /// The controller stayed busy past the timeout.
    Timeout { op: String, waited: Duration },
    /// Unlocking failed (LOCK still set after the keys).
    Locked { what: String },
    /// The address or range is not flash, or is reserved.
    Range(String),
    /// The chip is read-protected.
    Protected(String),
    /// The operation does not exist on this controller.
    Unsupported(String),
    /// Stopped on request (Ctrl-C) before the unit at `at`.
    Interrupted { at: u32 },
    /// The link to the target failed.
    Target(TargetError),
}

impl fmt::Display for FlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlashError::Flags { op, flags, status } => {
                let names: Vec<String> = flags.iter().map(|e| format!("{} ({})", e.name, e.meaning)).collect();
                write!(f, "flash error {} while {op} (status 0x{status:08X})", names.join(", "))
            }
            FlashError::Timeout { op, waited } => write!(
                f,
                "flash controller still busy after {:.1} s while {op}; power-cycle the board and retry",
                waited.as_secs_f64()
            ),
            FlashError::Locked { what } => write!(
                f,
                "{what} stayed locked after the unlock keys; reset the chip (it locks until reset after a wrong key) and retry"
            ),
            FlashError::Range(msg) | FlashError::Protected(msg) | FlashError::Unsupported(msg) => f.write_str(msg),
            FlashError::Interrupted { at } => write!(f, "interrupted at 0x{at:08X}"),
            FlashError::Target(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FlashError {}

impl From<TargetError> for FlashError {
    fn from(e: TargetError) -> Self {
        FlashError::Target(e)
    }
}

impl From<FlashError> for Error {
    fn from(e: FlashError) -> Self {
        let kind = match &e {
            FlashError::Flags { flags, .. } if flags.iter().any(|f| f.name.starts_with("WRP")) => ErrorKind::Protected,
            FlashError::Flags { .. } | FlashError::Timeout { .. } | FlashError::Locked { .. } => ErrorKind::Flash,
            FlashError::Range(_) => ErrorKind::Input,
            FlashError::Protected(_) => ErrorKind::Protected,
            FlashError::Unsupported(_) => ErrorKind::Unsupported,
            FlashError::Interrupted { .. } => ErrorKind::Interrupted,
            FlashError::Target(t) => return Error::from(t.clone()),
        };
        Error::new(kind, e.to_string())
    }
}

/// The shape most reference manuals give an operation: write the operation
/// bits to the control register, write them again with START, wait for the
/// bank, clear the register (so no bit survives into the next operation:
/// setting LOCK leaves the other control bits as they are, ST's STM32H7B0 SVD,
/// FLASH_CR1.LOCK1).
pub fn start_then_clear(cr: u32, bits: u32, start: u32, wait: RegOp) -> Vec<RegOp> {
    vec![
        RegOp::Write { addr: cr, value: bits },
        RegOp::Write { addr: cr, value: bits | start },
        wait,
        RegOp::Write { addr: cr, value: 0 },
    ]
}

/// Send the two unlock keys to `keyr` if `lock_mask` is set in `cr`, then
/// check that it cleared. Shared by every family. Keys go only to a locked
/// controller: a second key sequence locks it until reset (ST's STM32H7B0 SVD,
/// FLASH_CR1.LOCK1; OpenOCD src/flash/nor/stm32h7x.c:424-428 and ST's HAL
/// stm32h7xx_hal_flash.c:861-885 check LOCK first).
pub fn unlock_with_keys(
    t: &mut Target,
    what: &str,
    cr: u32,
    lock_mask: u32,
    keyr: u32,
    keys: [u32; 2],
) -> Result<(), FlashError> {
    if t.read32(cr)? & lock_mask == 0 {
        return Ok(());
    }
    t.write32(keyr, keys[0])?;
    t.write32(keyr, keys[1])?;
    if t.read32(cr)? & lock_mask != 0 {
        return Err(FlashError::Locked { what: what.to_string() });
    }
    Ok(())
}

/// Main-flash unlock keys, all families but L0/L1 (ST HAL `FLASH_KEY1`/`FLASH_KEY2`:
/// stm32h7xx_hal_flash.h:337-338, stm32f4xx_hal_flash.h:154-155,
/// stm32l4xx_hal_flash.h:489-490).
pub const KEY1: u32 = 0x4567_0123;
pub const KEY2: u32 = 0xCDEF_89AB;
/// Option-byte keys (F2/F4/F7, L4-class, L5/U5, H5, H7; ST HAL
/// `FLASH_OPT_KEY1`/`FLASH_OPT_KEY2`: stm32h7xx_hal_flash.h:339-340,
/// stm32f4xx_hal_flash.h:156-157). F0/F1/F3 use the main keys for OPTKEYR.
pub const OPTKEY1: u32 = 0x0819_2A3B;
pub const OPTKEY2: u32 = 0x4C5D_6E7F;
