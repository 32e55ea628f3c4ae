//! Option bytes, option registers and OTP: reading with a decoded view,
//! checked writes, read-back confirmation. Generic over the families'
//! descriptions (`crate::flash::options`).
//!
//! A write goes: read the words in force → build the requested values →
//! validate them against the family's field layout (reserved bits keep the
//! chip's value, complements match) → guards (a change that is permanent,
//! erases the chip or can stop it from booting needs a flag that says so)
//! → the family's sequence → reconnect when it reset the chip → read back
//! and compare every field. Nothing is written before every check passed,
//! and a write that cannot be confirmed is an error.

use std::collections::BTreeSet;

use log::{info, warn};

use super::image::Image;
use super::read;
use super::session::Session;
use crate::error::{Error, ErrorKind, Result};
use crate::flash::options::{ranges_text, Field, FieldKind, OptionArea, OptionBytes, OptionWord, Otp, Reload};
use crate::flash::{FlashError, Progress, RdpLevel};
use crate::mcu::Target;

/// The explicit permissions a dangerous option change needs (command-line
/// flags of the same names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guards {
    /// `--permanently-lock-chip`: RDP level 2.
    pub permanently_lock_chip: bool,
    /// `--unprotect-and-erase-chip`: RDP level 1 → 0 (mass erase).
    pub unprotect_and_erase_chip: bool,
    /// `--allow-read-protection`: RDP level 0 → 1.
    pub allow_read_protection: bool,
    /// `--allow-write-protection`: a sector becomes write-protected.
    pub allow_write_protection: bool,
    /// `--allow-bank-config`: dual-bank or bank-swap bits.
    pub allow_bank_config: bool,
    /// `--allow-boot-config`: boot addresses, nBOOT/nSWBOOT, core boot enables.
    pub allow_boot_config: bool,
    /// `--write-otp-permanently`: program OTP.
    pub write_otp_permanently: bool,
}

/// A value for an option write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    /// The whole word of the area, as st-flash takes it.
    Word(u32),
    /// `NAME=VALUE[,NAME=VALUE…]`: a word or a field by name (as the decoded
    /// view shows them; `WORD.FIELD` when a field name is not unique).
    Assign(Vec<(String, u32)>),
}

/// A word and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WordValue {
    pub word: &'static OptionWord,
    pub value: u32,
}

/// The decoded view of several words.
pub fn describe(values: &[WordValue]) -> String {
    values.iter().map(|v| v.word.describe(v.value)).collect()
}

/// The family's option description, or why there is none.
fn options_of(session: &mut Session) -> Result<(&mut Target, &mut dyn OptionBytes)> {
    let chip = session.target.chip;
    let Session { target, flash, .. } = session;
    let ctrl = flash.as_mut().ok_or_else(|| {
        Error::unsupported(format!(
            "option bytes are not available on {} ({}): stflash has no flash driver for it yet",
            chip.family, chip.name
        ))
    })?;
    let ob = ctrl.options().ok_or_else(|| {
        Error::unsupported(format!("option bytes are not available on {} ({}) yet", chip.family, chip.name))
    })?;
    Ok((target, ob))
}

fn area_word(ob: &dyn OptionBytes, session_family: &str, area: OptionArea) -> Result<&'static OptionWord> {
    ob.area_word(area).ok_or_else(|| {
        let available: Vec<String> = OptionArea::ALL
            .iter()
            .filter_map(|&a| ob.area_word(a).map(|w| format!("--area={} ({})", a.name(), w.name)))
            .collect();
        Error::unsupported(format!(
            "--area={} is not available on {session_family}; this chip has {}",
            area.name(),
            available.join(", ")
        ))
    })
}

fn read_words(t: &mut Target, ob: &mut dyn OptionBytes, words: &[&'static OptionWord]) -> Result<Vec<WordValue>> {
    words.iter().map(|&word| Ok(WordValue { word, value: ob.read_word(t, word)? })).collect()
}

/// Every option word of the chip.
pub fn read_all(session: &mut Session) -> Result<Vec<WordValue>> {
    let (t, ob) = options_of(session)?;
    let words = ob.words();
    read_words(t, ob, &words)
}

/// The word of an st-flash area, and every word of the chip (for the decoded view).
pub fn read_area(session: &mut Session, area: OptionArea) -> Result<(WordValue, Vec<WordValue>)> {
    let family = session.target.chip.family;
    let (t, ob) = options_of(session)?;
    let word = area_word(ob, family, area)?;
    let words = ob.words();
    let all = read_words(t, ob, &words)?;
    let value = match all.iter().find(|v| v.word.name == word.name) {
        Some(v) => *v,
        None => WordValue { word, value: ob.read_word(t, word)? },
    };
    Ok((value, all))
}

fn refuse(message: String) -> Error {
    Error::input(message)
}

/// Validate a requested value of `word` against the current one: layout
/// first (reserved bits, complements), then the guards. Returns the value to
/// program (status bits cleared).
pub fn check_word(word: &OptionWord, current: u32, requested: u32, guards: &Guards) -> Result<u32> {
    let status = word.mask_of(FieldKind::Status);
    let (cur, req) = (current & !status, requested & !status);
    check_layout(word, cur, req, requested)?;
    for f in word.fields {
        if f.get(cur) != f.get(req) {
            check_field_change(word, f, cur, req, guards)?;
        }
    }
    Ok(req)
}

/// Reserved bits keep the chip's value; complement fields hold the
/// complement of their value field (the chip rejects the word otherwise).
fn check_layout(word: &OptionWord, cur: u32, req: u32, requested: u32) -> Result<()> {
    let reserved = word.reserved_mask() & !word.mask_of(FieldKind::Status);
    if (req ^ cur) & reserved != 0 {
        let fixed = (req & !reserved) | (cur & reserved);
        return Err(refuse(format!(
            "{}: 0x{requested:08X} changes reserved bits 0x{:08X}, which must keep the chip's value; \
             did you mean 0x{fixed:08X}?",
            word.name,
            (req ^ cur) & reserved
        )));
    }
    for f in word.fields.iter().filter(|f| f.kind == FieldKind::Complement) {
        let crate::flash::options::Show::ComplementOf(of) = f.show else { continue };
        let value_field = Field { shift: of, ..*f };
        let want = !value_field.get(req) & f.max();
        if f.get(req) != want {
            return Err(refuse(format!(
                "{}: 0x{requested:08X} has {} = 0x{:X}, which is not the complement of 0x{:X}; the chip would \
                 reject the option word (and may fall back to read protection); did you mean 0x{:08X}?",
                word.name,
                f.name,
                f.get(req),
                value_field.get(req),
                f.set(req, want)
            )));
        }
    }
    Ok(())
}

/// A field whose value changes: refused unless its guard allows it.
fn check_field_change(word: &OptionWord, f: &Field, cur: u32, req: u32, guards: &Guards) -> Result<()> {
    let (old, new) = (f.get(cur), f.get(req));
    let what = format!("{} ({})", f.name, f.meaning);
    match f.kind {
        FieldKind::Rdp => check_rdp_change(f, old, new, guards)?,
        FieldKind::WriteProtect => {
            let newly: BTreeSet<u32> = word.protected(req).difference(&word.protected(cur)).copied().collect();
            if !newly.is_empty() && !guards.allow_write_protection {
                return Err(refuse(format!(
                    "refusing to write-protect {}s {} ({} = 0x{req:08X}, {}): they can no longer be erased or \
                     programmed until the protection is removed; add --allow-write-protection to do it",
                    f.unit(),
                    ranges_text(&newly),
                    word.name,
                    f.meaning
                )));
            }
        }
        FieldKind::BankConfig if !guards.allow_bank_config => {
            return Err(refuse(format!(
                "refusing to change {what} from {old:#X} to {new:#X}: it changes which flash answers at which \
                 address, so the firmware may no longer start; add --allow-bank-config to do it"
            )));
        }
        FieldKind::BootConfig if !guards.allow_boot_config => {
            return Err(refuse(format!(
                "refusing to change {what} from {old:#X} to {new:#X}: a wrong boot configuration leaves the chip \
                 starting nothing useful; add --allow-boot-config to do it"
            )));
        }
        FieldKind::Security => {
            return Err(refuse(format!(
                "refusing to change {what}: stflash does not change security options (their effects can be \
                 irreversible); use STM32CubeProgrammer"
            )));
        }
        FieldKind::Electrical => {
            return Err(refuse(format!(
                "refusing to change {what}: with the wrong supply voltage it can damage the chip, so stflash \
                 does not change it; use STM32CubeProgrammer"
            )));
        }
        _ => {}
    }
    Ok(())
}

/// RDP: never from level 2, and each other step only with its guard.
fn check_rdp_change(f: &Field, old: u32, new: u32, guards: &Guards) -> Result<()> {
    let (from, to) = (f.rdp_level(old), f.rdp_level(new));
    if from == Some(RdpLevel::Level2) {
        return Err(refuse(
            "the chip is at RDP level 2: its options are frozen for good and cannot change".to_string(),
        ));
    }
    if to == Some(RdpLevel::Level2) && !guards.permanently_lock_chip {
        return Err(refuse(format!(
            "refusing to set RDP level 2 ({} = 0x{new:02X}): it disables the debug port and freezes the \
             options for good, the chip can never be reprogrammed over SWD again; add \
             --permanently-lock-chip if that is what you want",
            f.name
        )));
    }
    if from == Some(RdpLevel::Level1) && to == Some(RdpLevel::Level0) && !guards.unprotect_and_erase_chip {
        return Err(refuse(
            "refusing to lower RDP from level 1 to 0: removing read protection mass-erases the whole \
             flash; add --unprotect-and-erase-chip to do it"
                .to_string(),
        ));
    }
    if from == Some(RdpLevel::Level0) && to == Some(RdpLevel::Level1) && !guards.allow_read_protection {
        return Err(refuse(format!(
            "refusing to set RDP level 1 ({} = 0x{new:02X}): the flash becomes unreadable over SWD and \
             only an RDP regression, which erases the whole flash, undoes it; add --allow-read-protection \
             to do it",
            f.name
        )));
    }
    Ok(())
}

/// The requested values, per word, from an area's value or assignments.
fn requested_values(
    area_word: &'static OptionWord,
    words: &[WordValue],
    area: OptionArea,
    value: &OptionValue,
) -> Result<Vec<(WordValue, u32)>> {
    let mut out: Vec<(WordValue, u32)> = Vec::new();
    let current = |w: &OptionWord| words.iter().find(|v| v.word.name == w.name).map_or(0, |v| v.value);
    let mut set = |word: &'static OptionWord, f: &dyn Fn(u32) -> u32| match out
        .iter_mut()
        .find(|(v, _)| v.word.name == word.name)
    {
        Some((_, req)) => *req = f(*req),
        None => {
            let cur = current(word);
            out.push((WordValue { word, value: cur }, f(cur)));
        }
    };
    match value {
        OptionValue::Word(v) => set(area_word, &|_| *v),
        OptionValue::Assign(items) => {
            // `option` names any word of the chip; the register areas their own word.
            let scope: Vec<&'static OptionWord> =
                if area == OptionArea::Option { words.iter().map(|v| v.word).collect() } else { vec![area_word] };
            for (name, v) in items {
                let (word, field) = resolve(&scope, name)?;
                match field {
                    None => set(word, &|_| *v),
                    Some(f) => {
                        if *v > f.max() {
                            return Err(Error::input(format!(
                                "{name}={v:#X}: {} is {} bit(s) wide, at most {:#X}",
                                f.name,
                                f.width,
                                f.max()
                            )));
                        }
                        set(word, &|w| f.set(w, *v));
                    }
                }
            }
            // Named fields: the complements are stflash's business.
            for (cur, req) in &mut out {
                *req = with_complements(cur.word, *req);
            }
        }
    }
    Ok(out)
}

/// `value` with every complement field set to the complement of its field.
pub(crate) fn with_complements(word: &OptionWord, mut value: u32) -> u32 {
    for f in word.fields.iter().filter(|f| f.kind == FieldKind::Complement) {
        if let crate::flash::options::Show::ComplementOf(of) = f.show {
            let source = crate::flash::options::Field { shift: of, ..*f };
            value = f.set(value, !source.get(value) & f.max());
        }
    }
    value
}

/// A word or field by name: `WORD`, `FIELD` or `WORD.FIELD` (case-insensitive,
/// the word with or without "FLASH_").
fn resolve(
    scope: &[&'static OptionWord],
    name: &str,
) -> Result<(&'static OptionWord, Option<&'static crate::flash::options::Field>)> {
    if let Some((w, f)) = name.split_once('.') {
        if let Some(word) = scope.iter().find(|word| word.is_named(w)) {
            if let Some(field) = word.field(f) {
                return Ok((word, Some(field)));
            }
        }
    } else {
        if let Some(word) = scope.iter().find(|word| word.is_named(name)) {
            return Ok((word, None));
        }
        let hits: Vec<_> = scope.iter().filter_map(|word| word.field(name).map(|field| (*word, Some(field)))).collect();
        match hits.len() {
            1 => return Ok(hits[0]),
            0 => {}
            _ => {
                let names: Vec<String> = hits.iter().map(|(w, _)| format!("{}.{name}", w.name)).collect();
                return Err(Error::input(format!("{name} is in several words; write {}", names.join(" or "))));
            }
        }
    }
    let known: Vec<String> = scope
        .iter()
        .map(|w| {
            let fields: Vec<&str> = w.fields.iter().map(|f| f.name).collect();
            format!("{} ({})", w.name, fields.join(", "))
        })
        .collect();
    Err(Error::input(format!("no option word or field named {name}; this chip has {}", known.join("; "))))
}

/// What a write did.
#[derive(Debug, Clone, Default)]
pub struct WriteOutcome {
    /// The words written, with the values read back.
    pub written: Vec<WordValue>,
    /// The requested values were already in force: nothing was written.
    pub unchanged: bool,
    /// RDP level 2 was set and the debug port stopped answering (the
    /// expected effect): the session cannot be used any more.
    pub debug_port_gone: bool,
}

/// Write an option area (`--area=… write VALUE`).
pub fn write(session: &mut Session, area: OptionArea, value: &OptionValue, guards: &Guards) -> Result<WriteOutcome> {
    let family = session.target.chip.family;
    let (t, ob) = options_of(session)?;
    let word = area_word(ob, family, area)?;
    if *value == OptionValue::Word(0) && area == OptionArea::Option {
        // st-flash refuses 0 (stlink src/st-flash/flash.c:189-199).
        return Err(Error::input("attempting to set option byte to 0, abort."));
    }
    let mut words = ob.words();
    if !words.iter().any(|w| w.name == word.name) {
        // A register view not in the main list (F0/F1/F3 FLASH_OBR).
        words.push(word);
    }
    let current = read_words(t, ob, &words)?;
    let mut plan: Vec<(&'static OptionWord, u32, u32)> = Vec::new();
    for (cur, req) in requested_values(word, &current, area, value)? {
        let new = check_word(cur.word, cur.value, req, guards)?;
        let status = cur.word.mask_of(FieldKind::Status);
        if new != cur.value & !status {
            plan.push((cur.word, cur.value, new));
        }
    }
    if plan.is_empty() {
        info!("the option bytes already hold these values; nothing written");
        return Ok(WriteOutcome { unchanged: true, ..WriteOutcome::default() });
    }
    apply(session, &plan)
}

/// Program checked changes — (word, value in force, new value), every one
/// already validated by [`check_word`] — with the family's sequence;
/// reconnect when the chip reloaded its options by resetting; read every
/// word back and compare each field. The one place option bytes are
/// written (`write`, `recover`).
pub fn apply(session: &mut Session, plan: &[(&'static OptionWord, u32, u32)]) -> Result<WriteOutcome> {
    let (t, ob) = options_of(session)?;
    let to_level2 = plan.iter().any(|&(w, _, new)| w.rdp_level(new) == Some(RdpLevel::Level2));
    let regression = plan
        .iter()
        .any(|&(w, old, new)| w.rdp_level(old) == Some(RdpLevel::Level1) && w.rdp_level(new) == Some(RdpLevel::Level0));
    for &(w, old, new) in plan {
        info!("writing {} = 0x{new:08X} (was 0x{old:08X})", w.name, old = old & !w.mask_of(FieldKind::Status));
    }
    if regression {
        warn!("removing read protection: the chip now erases its whole flash");
    }
    let changes: Vec<(&'static OptionWord, u32)> = plan.iter().map(|&(w, _, new)| (w, new)).collect();
    let gone = |outcome_written: Vec<WordValue>| {
        warn!(
            "RDP level 2 is set: the debug port no longer answers, as level 2 does; this chip cannot be debugged \
             or reprogrammed any more"
        );
        Ok(WriteOutcome { written: outcome_written, unchanged: false, debug_port_gone: true })
    };
    match ob.program(t, &changes) {
        Ok(Reload::Applied) => {}
        Ok(Reload::Reset) => {
            info!("the chip reloaded its options by resetting; connecting again");
            if let Err(e) = session.reconnect() {
                if to_level2 && e.kind == ErrorKind::NoTarget {
                    return gone(Vec::new());
                }
                return Err(e.context("reconnecting after the option reload"));
            }
        }
        Err(FlashError::Target(_)) if to_level2 => return gone(Vec::new()),
        Err(e) => return Err(Error::from(e).context("option write failed")),
    }
    // Read back and compare every field of every word written.
    let (t, ob) = options_of(session)?;
    let mut written = Vec::new();
    for &(word, _, new) in plan {
        let back = match ob.read_word(t, word) {
            Ok(v) => v,
            Err(FlashError::Target(_)) if to_level2 => return gone(written),
            Err(e) => return Err(Error::from(e).context("reading the options back")),
        };
        let differing: Vec<String> = word
            .fields
            .iter()
            .filter(|f| f.kind != FieldKind::Status && f.get(back) != f.get(new))
            .map(|f| format!("{}.{} reads {:#X}, expected {:#X}", word.name, f.name, f.get(back), f.get(new)))
            .collect();
        if !differing.is_empty() {
            return Err(Error::new(
                ErrorKind::Verify,
                format!("the option write did not take effect: {}", differing.join("; ")),
            ));
        }
        written.push(WordValue { word, value: back });
    }
    info!("option bytes written and confirmed by reading them back");
    Ok(WriteOutcome { written, unchanged: false, debug_port_gone: false })
}

// ---------------------------------------------------------------------------
// OTP

/// The chip's OTP area, or why there is none.
fn otp_of(session: &mut Session) -> Result<Otp> {
    let chip = session.target.chip;
    let described = session.flash.as_mut().and_then(|c| c.options()).and_then(|o| o.otp());
    match (described, chip.otp) {
        (Some(otp), _) => Ok(otp),
        (None, Some(_)) => Err(Error::unsupported(format!(
            "OTP programming is not implemented for {} ({}) yet",
            chip.family, chip.name
        ))),
        (None, None) => Err(Error::unsupported(format!("OTP is not available on {} ({})", chip.family, chip.name))),
    }
}

/// Read the whole OTP area (`--area=otp read FILE`).
pub fn read_otp(session: &mut Session, progress: &mut dyn Progress) -> Result<(u32, Vec<u8>)> {
    let chip = session.target.chip;
    let region = match chip.otp {
        Some(r) => r,
        None => return Err(Error::unsupported(format!("OTP is not available on {} ({})", chip.family, chip.name))),
    };
    let data = read::read(session, region.base, region.size, progress)?;
    Ok((region.base, data))
}

/// What an OTP write did.
#[derive(Debug, Clone, Default)]
pub struct OtpReport {
    /// Bytes programmed.
    pub programmed: u64,
    /// Bytes that already held the wanted value and were left alone.
    pub unchanged: u64,
}

/// Write an image into never-written OTP words (`--area=otp write FILE ADDR`).
pub fn write_otp(session: &mut Session, image: &Image, guards: &Guards) -> Result<OtpReport> {
    let otp = otp_of(session)?;
    check_otp_image(&otp, image)?;
    let (t, ob) = options_of(session)?;
    let locked = ob.otp_locked(t)?;
    let (runs, unchanged) = plan_otp(t, &otp, image, &locked)?;
    let mut report = OtpReport { programmed: 0, unchanged };
    let count: usize = runs.iter().map(|(_, d)| d.len()).sum();
    if count == 0 {
        info!("the OTP already holds this data; nothing written");
        return Ok(report);
    }
    if !guards.write_otp_permanently {
        return Err(Error::input(format!(
            "refusing to program {} OTP word(s) at {}: OTP can never be erased or changed again; add \
             --write-otp-permanently to write them",
            count / otp.unit as usize,
            runs.iter().map(|(a, d)| format!("0x{a:08X}+{}", d.len())).collect::<Vec<_>>().join(", ")
        )));
    }
    for (addr, data) in &runs {
        info!("programming {} OTP bytes at 0x{addr:08X}", data.len());
        ob.program_otp(t, *addr, data).map_err(|e| Error::from(e).context("OTP write failed"))?;
    }
    for (addr, data) in &runs {
        confirm_otp(t, *addr, data)?;
        report.programmed += data.len() as u64;
    }
    info!("{} OTP bytes programmed and verified", report.programmed);
    Ok(report)
}

/// Units to program at one address, contiguous.
type OtpRun = (u32, Vec<u8>);

/// Every segment inside the OTP area, in whole programming units.
fn check_otp_image(otp: &Otp, image: &Image) -> Result<()> {
    let (start, end) = (otp.base as u64, otp.base as u64 + otp.size as u64);
    for seg in &image.segments {
        if (seg.addr as u64) < start || seg.end() > end {
            return Err(Error::input(format!(
                "0x{:08X}-0x{:08X} is not inside the OTP area 0x{start:08X}-0x{:08X}",
                seg.addr,
                seg.end() - 1,
                end - 1
            )));
        }
        if seg.addr % otp.unit != 0 || seg.data.len() as u32 % otp.unit != 0 {
            return Err(Error::input(format!(
                "OTP is written in whole {}-bit words: 0x{:08X}+{} is not aligned to them",
                otp.unit * 8,
                seg.addr,
                seg.data.len()
            )));
        }
    }
    Ok(())
}

/// The runs of units to program, and the bytes that already hold their
/// value. Refused as a whole, before anything is written, when a unit
/// already holds another value (OTP cannot be erased) or lies in a locked
/// block (`locked`: start, end, name).
fn plan_otp(t: &mut Target, otp: &Otp, image: &Image, locked: &[(u32, u32, String)]) -> Result<(Vec<OtpRun>, u64)> {
    let mut runs: Vec<OtpRun> = Vec::new();
    let mut conflicts: Vec<String> = Vec::new();
    let mut in_locked: BTreeSet<String> = BTreeSet::new();
    let mut unchanged = 0u64;
    let unit = otp.unit as usize;
    for seg in &image.segments {
        let mut have = vec![0u8; seg.data.len()];
        t.read_mem(seg.addr, &mut have)?;
        for (i, (want, got)) in seg.data.chunks(unit).zip(have.chunks(unit)).enumerate() {
            let addr = seg.addr + (i * unit) as u32;
            if want == got {
                unchanged += unit as u64;
            } else if got.iter().any(|&b| b != otp.erased) {
                conflicts.push(format!("0x{addr:08X} (holds {}, wanted {})", hex(got), hex(want)));
            } else if let Some((_, _, name)) = locked.iter().find(|(s, e, _)| (*s..*e).contains(&addr)) {
                in_locked.insert(name.clone());
            } else {
                match runs.last_mut() {
                    Some((a, data)) if *a + data.len() as u32 == addr => data.extend_from_slice(want),
                    _ => runs.push((addr, want.to_vec())),
                }
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(Error::input(format!(
            "OTP words already programmed, and OTP can never be erased: {}; nothing was written",
            conflicts.join(", ")
        )));
    }
    if !in_locked.is_empty() {
        return Err(Error::new(
            ErrorKind::Protected,
            format!(
                "the image writes into {}; nothing was written",
                in_locked.into_iter().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok((runs, unchanged))
}

/// Read programmed OTP bytes back.
fn confirm_otp(t: &mut Target, addr: u32, data: &[u8]) -> Result<()> {
    let mut back = vec![0u8; data.len()];
    t.read_mem(addr, &mut back)?;
    match data.iter().zip(&back).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(Error::new(
            ErrorKind::Verify,
            format!(
                "OTP verification failed at 0x{:08X}: wrote 0x{:02X}, read back 0x{:02X}",
                addr + i as u32,
                data[i],
                back[i]
            ),
        )),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::options::{Field, Mask, Show};

    const WORD: OptionWord = OptionWord {
        name: "FLASH_TEST",
        addr: 0x4000_0000,
        fields: &[
            Field::new("BUSY", 0, 1, FieldKind::Status, Show::Flag("", ""), ""),
            Field::new("BOR", 2, 2, FieldKind::User, Show::Hex, "brown-out"),
            Field::new("RDP", 8, 8, FieldKind::Rdp, Show::Rdp { level0: 0xAA, level2: Some(0xCC) }, "rdp"),
            Field::new("WRP", 16, 4, FieldKind::WriteProtect, Show::Protection(Mask::new("sector", 1, 0, true)), ""),
            Field::new("SWAP", 20, 1, FieldKind::BankConfig, Show::Hex, "bank swap"),
            Field::new("BOOT", 21, 1, FieldKind::BootConfig, Show::Hex, "boot"),
            Field::new("SEC", 22, 1, FieldKind::Security, Show::Hex, "security"),
        ],
    };
    /// BOR 0, RDP level 0, nothing protected.
    const CUR: u32 = 0x000F_AA00;

    fn check(req: u32, g: Guards) -> std::result::Result<u32, String> {
        check_word(&WORD, CUR, req, &g).map_err(|e| e.message)
    }

    #[test]
    fn a_harmless_field_needs_nothing_and_status_bits_are_ignored() {
        assert_eq!(check(CUR | 0b1100 | 1, Guards::default()), Ok(CUR | 0b1100));
    }

    #[test]
    fn reserved_bits_must_keep_their_value() {
        let e = check(CUR | 1 << 30, Guards::default()).unwrap_err();
        assert!(e.contains("reserved bits 0x40000000") && e.contains("0x000FAA00"), "{e}");
    }

    #[test]
    fn rdp_guards() {
        let e = check(0x000F_CC00, Guards::default()).unwrap_err();
        assert!(e.contains("--permanently-lock-chip"), "{e}");
        assert!(check(0x000F_CC00, Guards { permanently_lock_chip: true, ..Guards::default() }).is_ok());
        let e = check(0x000F_BB00, Guards::default()).unwrap_err();
        assert!(e.contains("--allow-read-protection"), "{e}");
        let e = check_word(&WORD, 0x000F_BB00, CUR, &Guards::default()).unwrap_err().message;
        assert!(e.contains("--unprotect-and-erase-chip") && e.contains("mass-erases"), "{e}");
        let e = check_word(&WORD, 0x000F_CC00, CUR, &Guards { unprotect_and_erase_chip: true, ..Guards::default() })
            .unwrap_err()
            .message;
        assert!(e.contains("frozen"), "{e}");
        // Within level 1 a different byte is no change of level.
        assert!(check_word(&WORD, 0x000F_BB00, 0x000F_5500, &Guards::default()).is_ok());
    }

    #[test]
    fn protecting_needs_the_flag_unprotecting_does_not() {
        let e = check(0x000E_AA00, Guards::default()).unwrap_err();
        assert!(e.contains("sectors 0 ") && e.contains("--allow-write-protection"), "{e}");
        assert!(check_word(&WORD, 0x000E_AA00, CUR, &Guards::default()).is_ok());
    }

    #[test]
    fn bank_boot_and_security_changes() {
        assert!(check(CUR | 1 << 20, Guards::default()).unwrap_err().contains("--allow-bank-config"));
        assert!(check(CUR | 1 << 20, Guards { allow_bank_config: true, ..Guards::default() }).is_ok());
        assert!(check(CUR | 1 << 21, Guards::default()).unwrap_err().contains("--allow-boot-config"));
        let all = Guards {
            permanently_lock_chip: true,
            unprotect_and_erase_chip: true,
            allow_read_protection: true,
            allow_write_protection: true,
            allow_bank_config: true,
            allow_boot_config: true,
            write_otp_permanently: true,
        };
        assert!(check(CUR | 1 << 22, all).unwrap_err().contains("STM32CubeProgrammer"));
    }

    #[test]
    fn complements_must_match() {
        const FP: OptionWord = OptionWord {
            name: "OB",
            addr: 0,
            fields: &[
                Field::new("RDP", 0, 8, FieldKind::Rdp, Show::Rdp { level0: 0xA5, level2: None }, ""),
                Field::new("nRDP", 8, 8, FieldKind::Complement, Show::ComplementOf(0), ""),
            ],
        };
        assert!(check_word(&FP, 0x5AA5, 0x5AA5, &Guards::default()).is_ok());
        let e = check_word(&FP, 0xFF00, 0x00A5, &Guards::default()).unwrap_err().message;
        assert!(e.contains("complement") && e.contains("0x00005AA5"), "{e}");
    }

    #[test]
    fn names_resolve_to_words_and_fields() {
        let words = [WordValue { word: &WORD, value: CUR }];
        let req = requested_values(
            &WORD,
            &words,
            OptionArea::Option,
            &OptionValue::Assign(vec![("bor".into(), 3), ("FLASH_TEST.RDP".into(), 0xBB)]),
        )
        .unwrap();
        assert_eq!(req.len(), 1);
        assert_eq!(req[0].1, CUR & !0xFF00 | 0xBB00 | 0b1100);
        let e = requested_values(&WORD, &words, OptionArea::Option, &OptionValue::Assign(vec![("nope".into(), 1)]))
            .unwrap_err()
            .message;
        assert!(e.contains("FLASH_TEST (BUSY, BOR"), "{e}");
        let e = requested_values(&WORD, &words, OptionArea::Option, &OptionValue::Assign(vec![("BOR".into(), 4)]))
            .unwrap_err()
            .message;
        assert!(e.contains("at most 0x3"), "{e}");
    }
}
