//! A session: one probe, one connected target, its flash driver and layout.

use log::{debug, info, warn};

use crate::chip::MemRegion;
use crate::error::{Error, ErrorKind, Result};
use std::collections::BTreeSet;
use std::ops::{Deref, DerefMut};

use super::journal::Journal;
use crate::flash::eeprom::EepromArea;
use crate::flash::{engine, reserved, FlashController, FlashLayout, RdpLevel, Reserved};
use crate::mcu::{ConnectOptions, Target};
use crate::stlink::StLink;
use crate::transport::Transport;

/// A connected target and what stflash knows about its flash. Dropped
/// without [`Session::finish`] or [`Session::abandon`] (a panic, a broken
/// pipe), it locks the flash and leaves the core running and the probe out of
/// debug mode, as far as the link still allows.
pub struct Session {
    pub target: Target,
    /// The flash driver; `None` for chips whose family has no driver yet.
    pub flash: Option<Box<dyn FlashController>>,
    pub layout: FlashLayout,
    /// Where the journal of kept bytes lives ([`super::journal`]); `None`:
    /// writes keep bytes without one (sectors with kept bytes are then
    /// never erased ahead of their data).
    pub journal_dir: Option<std::path::PathBuf>,
    /// The chip's unique ID, once read ([`Session::unique_id`]).
    uid: Option<Option<[u8; 12]>>,
    /// How the target was attached, to attach again after a reset.
    connect: ConnectOptions,
    options_only: bool,
}

impl Session {
    /// Connect through the probe behind `transport`, identify the chip and
    /// read its flash layout. Prints nothing on stdout: with a `--flash=`
    /// override (`target.flash_size != target.flash_size_detected`) the
    /// command line prints st-flash's "Forcing flash size" line itself (not
    /// under `--json`).
    pub fn open(transport: Box<dyn Transport>, connect: &ConnectOptions) -> Result<Session> {
        Session::open_with(transport, connect, false)
    }

    /// [`Session::open`]; with `options_only` the session opens even when
    /// the flash layout cannot be used (e.g. swapped H7 banks), for commands
    /// that only touch option bytes, OTP or system memory — which is how
    /// such a state gets repaired.
    pub fn open_with(transport: Box<dyn Transport>, connect: &ConnectOptions, options_only: bool) -> Result<Session> {
        let link = StLink::open(transport).map_err(|e| Error::from(crate::mcu::TargetError::from(e)))?;
        let target = Target::connect(link, connect)?;
        let session = Session::attach(target, connect, options_only)?;
        info!("{}", session.connect_line());
        Ok(session)
    }

    /// A session on a target already connected (by [`Target::connect`] with
    /// `connect`, or read-only by [`super::inspect::connect`] and halted
    /// since): its flash driver and the layout in force, as
    /// [`Session::open_with`] makes them. `connect` is how to attach again
    /// after the chip resets itself (an option reload).
    pub fn attach(target: Target, connect: &ConnectOptions, options_only: bool) -> Result<Session> {
        let chip = target.chip;
        let flash = match crate::family::driver_for(chip, target.voltage_mv) {
            Ok(d) => Some(d),
            Err(e) => {
                warn!("{e}");
                None
            }
        };
        let mut session = Session {
            layout: FlashLayout::single(&chip.flash, target.flash_size),
            target,
            flash,
            journal_dir: super::journal::state_dir(),
            uid: None,
            connect: connect.clone(),
            options_only,
        };
        if let Err(e) = session.read_layout() {
            session.abandon();
            return Err(e);
        }
        Ok(session)
    }

    /// Ask the driver for the layout in force (tolerating a refusal for
    /// option-only sessions, with a warning).
    fn read_layout(&mut self) -> Result<()> {
        if let Some(ctrl) = self.flash.as_mut() {
            match ctrl.layout(&mut self.target) {
                Ok(layout) => self.layout = layout,
                Err(e) if self.options_only => warn!("{e}"),
                Err(e) => return Err(e.into()),
            }
        }
        debug!("flash layout: {}", self.layout.describe());
        self.check_flash_override()
    }

    /// A `--flash=` size must describe whole sectors of this chip: anything
    /// else would make every later range check wrong.
    fn check_flash_override(&self) -> Result<()> {
        let t = &self.target;
        if t.flash_size == t.flash_size_detected {
            return Ok(());
        }
        let total = self.layout.total_size();
        if t.flash_size == 0 || total != t.flash_size as u64 {
            let sector = t.chip.flash.sectors.first().map_or(1, |&(_, size)| size);
            return Err(Error::input(format!(
                "--flash=0x{:X} is not a flash size this {} can have: it must be a whole number of its {} sectors \
                 (this chip reports {} KiB); omit --flash to use the size the chip reports",
                t.flash_size,
                t.chip.name,
                if sector >= 1024 { format!("{} KiB", sector / 1024) } else { format!("{sector}-byte") },
                t.flash_size_detected / 1024
            )));
        }
        Ok(())
    }

    /// Attach again through the same probe after the chip reset itself (an
    /// option reload): identify, halt, and read the layout afresh (option
    /// bits may have changed it).
    pub fn reconnect(&mut self) -> Result<()> {
        let chip = self.target.chip;
        self.target.reconnect(&self.connect)?;
        if self.target.chip.dev_id != chip.dev_id {
            return Err(Error::new(
                ErrorKind::NoTarget,
                format!("after the reset the chip identifies as {} instead of {}", self.target.chip.name, chip.name),
            ));
        }
        self.read_layout()
    }

    /// st-flash's connect line, `<dev_type>: <n> KiB SRAM, <n> KiB flash in at
    /// least <n> KiB pages.` (printed by stlink src/stlink-lib/common.c:141-333).
    pub fn connect_line(&self) -> String {
        let chip = self.target.chip;
        let page = self.layout.min_sector_size();
        let page_text = if page >= 1024 { format!("{} KiB", page / 1024) } else { format!("{page} byte") };
        format!(
            "{}: {} KiB SRAM, {} KiB flash in at least {page_text} pages.",
            chip.name,
            chip.sram.size / 1024,
            self.layout.total_size() / 1024
        )
    }

    /// The flash driver, or an error saying programming is not available.
    pub fn controller(&mut self) -> Result<&mut Box<dyn FlashController>> {
        let chip = self.target.chip;
        self.flash.as_mut().ok_or_else(|| {
            Error::unsupported(format!("flash programming is not implemented for {} ({}) yet", chip.name, chip.parts))
        })
    }

    /// Refuse to touch flash on a read-protected chip, with what to do about it.
    pub fn require_unprotected(&mut self) -> Result<()> {
        let Some(ctrl) = self.flash.as_mut() else { return Ok(()) };
        match ctrl.rdp_level(&mut self.target)? {
            RdpLevel::Level0 => Ok(()),
            RdpLevel::Level1 => Err(Error::new(
                ErrorKind::Protected,
                "the chip is read-protected (RDP level 1): flash cannot be read or written over SWD; \
                 removing the protection erases the whole chip (see README, option bytes)",
            )),
            RdpLevel::Level2 => Err(Error::new(
                ErrorKind::Protected,
                "the chip is permanently protected (RDP level 2): the debug port is disabled for good",
            )),
        }
    }

    /// The areas of main flash the debugger must not erase or program
    /// (`FlashController::reserved_ranges`: write-protected sectors or pages
    /// as the option bytes in force say, the STM32WB wireless stack…), each
    /// with what reserves it and what to do. The one place every write and
    /// erase asks, before anything is erased.
    pub fn reserved_ranges(&mut self) -> Result<Vec<Reserved>> {
        let Session { target, flash, .. } = self;
        match flash.as_mut() {
            Some(ctrl) => Ok(ctrl.reserved_ranges(target)?),
            None => Ok(Vec::new()),
        }
    }

    /// Refuse, as `Protected`, an operation on `[addr, addr+len)` (described
    /// as `what` in the message) that overlaps a reserved area; the message
    /// names every area in the way.
    pub fn refuse_reserved(&mut self, what: &str, addr: u32, len: u64) -> Result<()> {
        let reserved = self.reserved_ranges()?;
        let hits: Vec<&Reserved> = reserved.iter().filter(|r| r.overlaps(addr, len)).collect();
        match reserved::refusal(what, &hits) {
            Some(text) => Err(Error::new(ErrorKind::Protected, text)),
            None => Ok(()),
        }
    }

    /// Refuse, as `Protected`, a mass erase while any sector is
    /// write-protected (the controllers refuse it, or, on L0/L1, would erase
    /// everything else first); returns the reserved areas otherwise, which a
    /// mass erase leaves alone.
    pub fn refuse_mass_erase_if_protected(&mut self) -> Result<Vec<Reserved>> {
        let reserved = self.reserved_ranges()?;
        match reserved::mass_erase_refusal(&reserved) {
            Some(text) => Err(Error::new(ErrorKind::Protected, text)),
            None => Ok(reserved),
        }
    }

    /// The journal of this chip, keyed by its unique ID (or, where the ID
    /// cannot be read, its DEV_ID and the probe's serial).
    pub fn journal(&mut self) -> Result<Option<Journal>> {
        let Some(dir) = self.journal_dir.clone() else { return Ok(None) };
        let key = match self.unique_id()? {
            Some(id) => id.iter().map(|b| format!("{b:02X}")).collect(),
            None => format!("{:03X}-{}", self.target.dev_id(), self.target.probe().serial),
        };
        Ok(Some(Journal::in_dir(&dir, &key)))
    }

    /// The chip's 96-bit unique ID ([`Target::unique_id`]), read once per
    /// session; `None` when the chip does not answer its address.
    pub fn unique_id(&mut self) -> Result<Option<[u8; 12]>> {
        if let Some(id) = self.uid {
            return Ok(id);
        }
        let id = self.target.unique_id()?;
        self.uid = Some(id);
        Ok(id)
    }

    /// The journal of an interrupted write, when one is pending for this chip.
    pub fn pending_journal(&mut self) -> Option<std::path::PathBuf> {
        let journal = self.journal().ok()??;
        journal.path().exists().then(|| journal.path().to_path_buf())
    }

    /// The chip's memories, for messages: "flash 0x08000000-0x0801FFFF,
    /// SRAM 0x20000000-0x20004FFF, system memory …".
    pub fn memory_map_text(&self) -> String {
        let chip = self.target.chip;
        let range = |r: MemRegion| format!("0x{:08X}-0x{:08X}", r.base, r.end() - 1);
        let mut parts = vec![format!("flash {}", self.layout.ranges_text())];
        parts.extend(chip.ram_regions().map(|r| format!("RAM {}", range(r))));
        parts.push(format!("system memory {}", range(chip.system_memory)));
        parts.extend(chip.option_bytes.map(|r| format!("option bytes {}", range(r))));
        parts.extend(chip.otp.map(|r| format!("OTP {}", range(r))));
        parts.join(", ")
    }

    /// The data EEPROM of this part (STM32L0/L1), if the chip has one: chosen
    /// by the flash size the chip reports (not a `--flash` override).
    pub fn data_eeprom(&mut self) -> Option<EepromArea> {
        let kib = self.target.flash_size_detected / 1024;
        self.flash.as_mut()?.eeprom().map(|e| e.area(kib))
    }

    /// The RAM region containing `[addr, addr+len)`, if any.
    pub fn ram_region(&self, addr: u32, len: u64) -> Option<MemRegion> {
        self.target.chip.ram_regions().find(|r| r.contains_range(addr, len))
    }

    /// Leave the target running and the probe idle. With `reset`, reset the
    /// chip first (st-flash's `--reset`).
    pub fn finish(self, reset: bool) -> Result<()> {
        self.finish_as(reset, true)
    }

    /// Leave the probe idle and the core running (`run`) or halted: with
    /// `reset`, reset the chip first, and a halted core then waits at its
    /// reset vector; without, a halted core stays where it is.
    pub fn finish_as(mut self, reset: bool, run: bool) -> Result<()> {
        match (reset, run) {
            (true, true) => self.target.reset_and_run()?,
            (true, false) => self.target.reset_and_halt()?,
            (false, _) => {}
        }
        self.target.detach(run)
    }

    /// After a failure: lock the flash and leave debug mode, best effort,
    /// without reporting anything else (the caller reports the failure).
    pub fn abandon(mut self) {
        self.lock_all();
        self.target.abandon();
    }

    /// Lock every bank, best effort.
    fn lock_all(&mut self) {
        let all = (0..self.layout.banks.len() as u8).collect();
        let _ = self.lock_banks(&all);
    }

    /// Clear stale error flags and unlock `banks` for erase and program. The
    /// returned guard locks them again: explicitly with [`Unlocked::lock`]
    /// (which reports a failure), or, best effort, when it is dropped on an
    /// error path. If one bank will not unlock, those already unlocked are
    /// locked again.
    pub fn unlock(&mut self, banks: &BTreeSet<u8>) -> Result<Unlocked<'_>> {
        let mut guard = Unlocked { session: self, banks: BTreeSet::new(), open: true };
        for &bank in banks {
            let Session { target, flash, .. } = &mut *guard.session;
            let ctrl = flash.as_mut().ok_or_else(|| Error::unsupported("no flash driver for this chip"))?;
            engine::clear_stale_errors(target, ctrl.as_ref(), bank)?;
            ctrl.unlock(target, bank)?;
            guard.banks.insert(bank);
        }
        Ok(guard)
    }

    /// Lock every bank in `banks` (each is tried); returns the first failure.
    pub fn lock_banks(&mut self, banks: &BTreeSet<u8>) -> Result<()> {
        let Session { target, flash, .. } = self;
        let mut first = Ok(());
        if let Some(ctrl) = flash.as_mut() {
            for &bank in banks {
                if let Err(e) = ctrl.lock(target, bank) {
                    first = first.and(Err(e.into()));
                }
            }
        }
        first
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.target.is_closed() {
            self.lock_all();
        }
    }
}

/// A session whose flash banks are unlocked for erase and program
/// ([`Session::unlock`]). Everything a session does is available through it;
/// dropping it locks the banks again.
pub struct Unlocked<'s> {
    session: &'s mut Session,
    banks: BTreeSet<u8>,
    open: bool,
}

impl Unlocked<'_> {
    /// Lock the banks again, reporting the first failure.
    pub fn lock(mut self) -> Result<()> {
        self.open = false;
        let banks = std::mem::take(&mut self.banks);
        self.session.lock_banks(&banks)
    }
}

impl Deref for Unlocked<'_> {
    type Target = Session;
    fn deref(&self) -> &Session {
        self.session
    }
}

impl DerefMut for Unlocked<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        self.session
    }
}

impl Drop for Unlocked<'_> {
    fn drop(&mut self) {
        if self.open {
            let banks = std::mem::take(&mut self.banks);
            let _ = self.session.lock_banks(&banks);
        }
    }
}
