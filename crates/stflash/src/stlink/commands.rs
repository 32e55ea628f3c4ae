//! Command opcodes: top level from stlink src/stlink-lib/commands.h:10-17 and
//! OpenOCD src/jtag/drivers/stlink_usb.c:342-347, 450 (stlink at commit
//! 733893a, as in the rest of this module).

pub const GET_VERSION: u8 = 0xF1;
pub const DEBUG: u8 = 0xF2;
pub const DFU: u8 = 0xF3;
pub const SWIM: u8 = 0xF4;
pub const GET_CURRENT_MODE: u8 = 0xF5;
pub const GET_TARGET_VOLTAGE: u8 = 0xF7;
pub const GET_VERSION_EX: u8 = 0xFB;

pub const DFU_EXIT: u8 = 0x07;
pub const SWIM_EXIT: u8 = 0x01;

/// Sub-opcodes after `DEBUG` (stlink src/stlink-lib/commands.h:19-57; OpenOCD
/// src/jtag/drivers/stlink_usb.c:389-450; 16-bit memory commands from
/// stlink_usb.c:435-436).
pub mod debug {
    pub const READMEM_32BIT: u8 = 0x07;
    pub const WRITEMEM_32BIT: u8 = 0x08;
    pub const READMEM_8BIT: u8 = 0x0C;
    pub const WRITEMEM_8BIT: u8 = 0x0D;
    pub const EXIT: u8 = 0x21;
    pub const ENTER: u8 = 0x30;
    pub const READ_IDCODES: u8 = 0x31;
    pub const RESETSYS: u8 = 0x32;
    pub const READREG: u8 = 0x33;
    pub const WRITEREG: u8 = 0x34;
    pub const WRITEDEBUGREG: u8 = 0x35;
    pub const READDEBUGREG: u8 = 0x36;
    pub const READALLREGS: u8 = 0x3A;
    pub const GETLASTRWSTATUS: u8 = 0x3B;
    pub const DRIVE_NRST: u8 = 0x3C;
    pub const GETLASTRWSTATUS2: u8 = 0x3E;
    pub const SWD_SET_FREQ: u8 = 0x43;
    pub const READMEM_16BIT: u8 = 0x47;
    pub const WRITEMEM_16BIT: u8 = 0x48;
    /// Open an access port before memory commands address it (V2J28+, V3:
    /// OpenOCD stlink_usb.c:438, 513, 3896-3912; probe-rs mod.rs:678-698).
    pub const INIT_AP: u8 = 0x4B;
    pub const SET_COM_FREQ: u8 = 0x61;
    pub const GET_COM_FREQ: u8 = 0x62;

    /// ENTER argument: SWD.
    pub const ENTER_SWD: u8 = 0xA3;
    /// DRIVE_NRST arguments.
    pub const NRST_LOW: u8 = 0x00;
    pub const NRST_HIGH: u8 = 0x01;
}

/// GET_CURRENT_MODE values (stlink inc/stlink.h:41-44; OpenOCD
/// src/jtag/drivers/stlink_usb.c:349-354).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Dfu,
    MassStorage,
    Debug,
    Swim,
    Bootloader,
    Unknown(u8),
}

impl Mode {
    pub fn from_byte(b: u8) -> Mode {
        match b {
            0 => Mode::Dfu,
            1 => Mode::MassStorage,
            2 => Mode::Debug,
            3 => Mode::Swim,
            4 => Mode::Bootloader,
            other => Mode::Unknown(other),
        }
    }
}
