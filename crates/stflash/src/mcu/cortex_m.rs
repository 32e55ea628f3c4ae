//! Cortex-M debug registers, from the ARMv7-M Architecture Reference Manual
//! (ARM DDI 0403E): System Control Space registers CPUID, AIRCR, CFSR and HFSR
//! in ARMv7-M ARM §B3.2; debug registers in ARMv7-M ARM §C1.6 (§C1.6.1 DFSR,
//! §C1.6.2 DHCSR, §C1.6.5 DEMCR). The debug registers sit at the same
//! addresses on ARMv6-M (ARM DDI 0419) and ARMv8-M (ARM DDI 0553). The values
//! stlink writes to them: stlink src/stlink-lib/register.h:50-55, 115-117 and
//! common.c:409-431 (commit 733893a).

pub const CPUID: u32 = 0xE000_ED00;
pub const AIRCR: u32 = 0xE000_ED0C;
pub const CFSR: u32 = 0xE000_ED28;
pub const HFSR: u32 = 0xE000_ED2C;
pub const DFSR: u32 = 0xE000_ED30;
pub const DHCSR: u32 = 0xE000_EDF0;
/// Debug Core Register Selector and Data registers (ARMv7-M ARM §C1.6.3,
/// §C1.6.4): write REGSEL (with REGWnR for a write) to DCRSR, wait for
/// DHCSR.S_REGRDY, read or write the value in DCRDR.
pub const DCRSR: u32 = 0xE000_EDF4;
pub const DCRDR: u32 = 0xE000_EDF8;
pub const DCRSR_REGWNR: u32 = 1 << 16;
pub const DEMCR: u32 = 0xE000_EDFC;

/// DHCSR: writes need the debug key in bits 31:16.
pub const DBGKEY: u32 = 0xA05F_0000;
pub const C_DEBUGEN: u32 = 1 << 0;
pub const C_HALT: u32 = 1 << 1;
pub const C_STEP: u32 = 1 << 2;
pub const C_MASKINTS: u32 = 1 << 3;
pub const S_REGRDY: u32 = 1 << 16;
pub const S_HALT: u32 = 1 << 17;
pub const S_LOCKUP: u32 = 1 << 19;
/// Sticky: a reset happened since the last DHCSR read.
pub const S_RESET_ST: u32 = 1 << 25;

/// AIRCR: VECTKEY and SYSRESETREQ.
pub const AIRCR_VECTKEY: u32 = 0x05FA_0000;
pub const AIRCR_SYSRESETREQ: u32 = 1 << 2;

/// DEMCR bits.
pub const DEMCR_VC_CORERESET: u32 = 1 << 0;
pub const DEMCR_VC_BUSERR: u32 = 1 << 8;
pub const DEMCR_VC_HARDERR: u32 = 1 << 10;
pub const DEMCR_TRCENA: u32 = 1 << 24;

/// DFSR bits (write 1 to clear).
pub const DFSR_HALTED: u32 = 1 << 0;
pub const DFSR_BKPT: u32 = 1 << 1;
pub const DFSR_VCATCH: u32 = 1 << 3;
pub const DFSR_ALL: u32 = 0x1F;

/// Core register indices for READREG/WRITEREG (stlink src/stlink-lib/usb.c:784-835;
/// the same numbers as DCRSR.REGSEL, ARMv7-M ARM §C1.6.3).
pub mod reg {
    pub const SP: u8 = 13;
    pub const LR: u8 = 14;
    pub const PC: u8 = 15;
    pub const XPSR: u8 = 16;
    pub const MSP: u8 = 17;
}

/// xPSR Thumb bit: must be set or the core faults on resume.
pub const XPSR_T: u32 = 1 << 24;
