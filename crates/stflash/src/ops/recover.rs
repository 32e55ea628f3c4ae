//! `recover`: bring back a chip that tools can no longer program — read
//! protection, write protection, odd user or boot options, a firmware that
//! takes the debug pins — by putting its option bytes back to the family's
//! factory values (`family/<family>/factory.rs`) and erasing its flash.
//!
//! One sequence for every family, each option step through the one option
//! writer ([`super::options::apply`]: the family's unlock, write, start and
//! reload, a reconnect where the chip resets, and a read-back of every word):
//!
//! 1. **unprotect**: the write-protection fields to their factory value
//!    (nothing protected); the read protection stays as it is;
//! 2. **regression** at RDP level 1: RDP to level 0, on which the chip erases
//!    its whole flash (and the L0/L1 data EEPROM) itself; at level 0,
//!    **erase**: the whole flash is erased (areas the debugger must never
//!    write, such as the STM32WB wireless stack, are kept);
//! 3. **restore**: the user and boot options to their factory values;
//! 4. **confirm**: every option word is read again; every restored field must
//!    hold its factory value, and RDP must be level 0.
//!
//! Never changed: security options (PCROP and secure areas, TZEN, H7
//! SECURITY, WB/WL ESE and the CPU2 secure-flash registers, H5 product
//! state…), electrical options (I/O high speed at low voltage), the bank
//! organisation, and words or fields whose factory value is not known.
//! Refused before anything is written: RDP level 2 (permanent), and a
//! protection only debug authentication lifts (H5 Closed). The sequence
//! itself erases nothing but the flash: it programs no flash byte.
//!
//! Connecting is the caller's: a normal connect first, under reset when the
//! firmware disabled the debug pins or sleeps (`stflash recover`).

use log::{info, warn};

use super::erase::{self, EraseReport};
use super::options::{self, check_word, Guards, WordValue};
use super::session::Session;
use crate::chip::Chip;
use crate::error::{Error, ErrorKind, Result};
use crate::flash::options::factory::{self, Factory, FactoryWord, Reliability};
use crate::flash::options::{Field, FieldKind, OptionWord, Show};
use crate::flash::{NoProgress, RdpLevel};

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// Write protection off, read protection as it is.
    Unprotect,
    /// RDP level 1 → 0: the chip erases its flash.
    Regression,
    /// RDP is level 0 already: stflash erases the flash.
    Erase,
    /// User and boot options to their factory values.
    Restore,
}

impl StepKind {
    /// Stable name (JSON `steps[].step`).
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Unprotect => "unprotect",
            StepKind::Regression => "regression",
            StepKind::Erase => "erase",
            StepKind::Restore => "restore",
        }
    }

    /// The option fields the step restores.
    fn takes(self, kind: FieldKind) -> bool {
        match self {
            StepKind::Unprotect => kind == FieldKind::WriteProtect,
            StepKind::Regression => kind == FieldKind::Rdp,
            StepKind::Erase => false,
            StepKind::Restore => matches!(kind, FieldKind::User | FieldKind::BootConfig),
        }
    }
}

/// One field that changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldChange {
    pub field: &'static Field,
    pub from: u32,
    pub to: u32,
}

/// One option word that changes in a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordChange {
    pub word: &'static OptionWord,
    /// The word before the step and the value written (status bits clear).
    pub from: u32,
    pub to: u32,
    pub fields: Vec<FieldChange>,
    pub factory: &'static FactoryWord,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub kind: StepKind,
    /// What the step does, for people.
    pub what: String,
    pub changes: Vec<WordChange>,
}

/// What `recover` will do to the connected chip.
#[derive(Debug, Clone)]
pub struct Plan {
    pub chip: &'static Chip,
    pub rdp: RdpLevel,
    /// Unprotect, regression or erase, restore (the first and last may
    /// change nothing).
    pub steps: Vec<Step>,
    /// The fields that stay as they are, one line per word, with why
    /// ("FLASH_OPTR: TZEN (security options); DBANK (bank organisation)").
    pub kept: Vec<String>,
    /// Family notes (what the chip's own regression does, secure areas).
    pub notes: Vec<String>,
    /// The option words as read before anything changed.
    pub before: Vec<WordValue>,
}

/// What a recovery did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The steps run, in order (steps with nothing to do are not run).
    pub done: Vec<StepKind>,
    /// The flash erase stflash made itself (at RDP level 0).
    pub erased: Option<EraseReport>,
    /// The option words read back at the end.
    pub after: Vec<WordValue>,
}

/// The guards a recovery passes: it lowers RDP and restores boot options,
/// nothing else (`check_word` still refuses security and electrical changes).
const GUARDS: Guards = Guards {
    permanently_lock_chip: false,
    unprotect_and_erase_chip: true,
    allow_read_protection: false,
    allow_write_protection: false,
    allow_bank_config: false,
    allow_boot_config: true,
    write_otp_permanently: false,
};

/// Read the chip's options and plan the recovery; refuses what cannot be
/// recovered. Changes nothing.
pub fn plan(session: &mut Session) -> Result<Plan> {
    let chip = session.target.chip;
    let factory = crate::family::factory(chip).ok_or_else(|| {
        Error::unsupported(format!(
            "recover is not available for {} ({}): no factory option values",
            chip.name, chip.family
        ))
    })?;
    let rdp = rdp_level(session)?;
    if rdp == RdpLevel::Level2 {
        return Err(level2());
    }
    let before = options::read_all(session)?;
    let eeprom = session.data_eeprom().is_some();
    let mut plan = plan_words(chip, factory, rdp, &before, eeprom)?;
    // A CPU2 secure area (STM32WB) stays as it is.
    let secure = session.reserved_ranges()?.into_iter().find(|r| r.kind == crate::flash::ReservedKind::Secure);
    if let Some(area) = secure {
        plan.notes.push(format!(
            "the CPU2 secure area 0x{:08X}-0x{:08X} (FUS and wireless stack) is never written or erased by \
             stflash; the RDP regression is the chip's own, which erases only the non-secure pages (assumed: \
             as CPU1's mass erase, RM0453 p.106; RM0434 not checked)",
            area.start,
            area.end - 1
        ));
    }
    Ok(plan)
}

fn rdp_level(session: &mut Session) -> Result<RdpLevel> {
    session.controller()?;
    let Session { target, flash, .. } = session;
    Ok(flash.as_mut().expect("checked").rdp_level(target)?)
}

fn level2() -> Error {
    Error::new(
        ErrorKind::Protected,
        "the chip is at RDP level 2: its debug port and option bytes are locked for good, and nothing can recover it",
    )
}

/// The plan from the option words read (`before`), the family's factory
/// values and the RDP level: a pure function (unit-tested below).
/// The word's write-protection bits select PCROP sectors (a bit of the word
/// inverts them: F4 OPTCR.SPRMOD, `Mask::inverted_by`); only the chip's own
/// procedure removes PCROP, so recover leaves them as they are.
fn pcrop_mode(v: &WordValue) -> bool {
    v.word.fields.iter().any(|f| match f.show {
        Show::Protection(m) => m.inverted_by.is_some_and(|bit| v.value >> bit & 1 == 1),
        _ => false,
    })
}

pub fn plan_words(
    chip: &'static Chip,
    factory: &'static Factory,
    rdp: RdpLevel,
    before: &[WordValue],
    eeprom: bool,
) -> Result<Plan> {
    if rdp == RdpLevel::Level2 {
        return Err(level2());
    }
    if let (RdpLevel::Level1, Some(why)) = (rdp, factory.no_regression) {
        return Err(Error::new(ErrorKind::Protected, format!("the chip is read-protected and {why}")));
    }
    let mut kept = Vec::new();
    // The value of each word as the steps leave it.
    let mut now: Vec<u32> = before.iter().map(|v| v.value).collect();
    let middle = if rdp == RdpLevel::Level1 { StepKind::Regression } else { StepKind::Erase };
    let mut steps = Vec::new();
    for kind in [StepKind::Unprotect, middle, StepKind::Restore] {
        let mut changes = Vec::new();
        for (i, v) in before.iter().enumerate() {
            let Some(fw) = factory.words.iter().find(|f| f.word == v.word.name) else { continue };
            let pcrop = pcrop_mode(v);
            let mask = v
                .word
                .fields
                .iter()
                .filter(|f| factory::restorable(f) && kind.takes(f.kind))
                .filter(|f| fw.fields.is_empty() || fw.fields.contains(&f.name))
                .filter(|f| !(pcrop && f.kind == FieldKind::WriteProtect))
                .fold(0, |m, f| m | f.mask());
            let status = v.word.mask_of(FieldKind::Status);
            let from = now[i] & !status;
            let want = options::with_complements(v.word, (from & !mask) | (fw.value & mask));
            if want == from {
                continue;
            }
            let to = check_word(v.word, from, want, &GUARDS)?;
            let fields = v
                .word
                .fields
                .iter()
                .filter(|f| f.kind != FieldKind::Complement && f.get(from) != f.get(to))
                .map(|f| FieldChange { field: f, from: f.get(from), to: f.get(to) })
                .collect();
            changes.push(WordChange { word: v.word, from, to, fields, factory: fw });
            now[i] = to;
        }
        let what = match kind {
            StepKind::Unprotect => "remove write protection (read protection stays as it is)".to_string(),
            StepKind::Regression => format!(
                "lower RDP from level 1 to 0: the chip erases its whole flash{} as the protection is removed",
                if eeprom { " and its data EEPROM" } else { "" }
            ),
            StepKind::Erase => "erase the whole flash (RDP is level 0 already)".to_string(),
            StepKind::Restore => "restore the user and boot options".to_string(),
        };
        if kind == StepKind::Regression && changes.is_empty() {
            return Err(Error::unsupported(format!(
                "the chip is read-protected and stflash has no factory RDP value for {}",
                chip.family
            )));
        }
        steps.push(Step { kind, what, changes });
    }
    for v in before {
        let fw = factory.words.iter().find(|f| f.word == v.word.name);
        let names = |pick: &dyn Fn(&Field) -> bool| -> Vec<&str> {
            v.word.fields.iter().filter(|f| pick(f)).map(|f| f.name).collect()
        };
        let taken = |f: &Field| fw.is_some_and(|fw| fw.fields.is_empty() || fw.fields.contains(&f.name));
        let pcrop = pcrop_mode(v);
        let groups = [
            (names(&|f| f.kind == FieldKind::Security), "security options"),
            (
                names(&|f| pcrop && f.kind == FieldKind::WriteProtect),
                "PCROP sectors while a security option selects it",
            ),
            (names(&|f| f.kind == FieldKind::Electrical), "electrical options"),
            (names(&|f| f.kind == FieldKind::BankConfig), "bank organisation"),
            (names(&|f| factory::restorable(f) && !taken(f)), "factory value not known"),
        ];
        let parts: Vec<String> = groups
            .iter()
            .filter(|(fields, _)| !fields.is_empty())
            .map(|(fields, why)| format!("{} ({why})", fields.join(", ")))
            .collect();
        if !parts.is_empty() {
            kept.push(format!("{}: {}", v.word.name, parts.join("; ")));
        }
    }
    Ok(Plan { chip, rdp, steps, kept, notes: Vec::new(), before: before.to_vec() })
}

/// Run the plan, then confirm. The steps run in order; one that fails ends
/// the recovery with its error (the steps before it are done: running
/// recover again continues from what the chip holds then).
pub fn run(session: &mut Session, plan: &Plan) -> Result<Report> {
    let mut done = Vec::new();
    let mut erased = None;
    let total = plan.steps.iter().filter(|s| s.kind == StepKind::Erase || !s.changes.is_empty()).count();
    for step in &plan.steps {
        if step.kind != StepKind::Erase && step.changes.is_empty() {
            continue;
        }
        info!("recover, step {} of {total}: {}", done.len() + 1, step.what);
        if step.kind == StepKind::Erase {
            erased = Some(erase::erase_all_once(session, &mut NoProgress)?);
        } else {
            let writes: Vec<(&'static OptionWord, u32, u32)> =
                step.changes.iter().map(|c| (c.word, c.from, c.to)).collect();
            options::apply(session, &writes).map_err(|e| e.context(format!("recover, {}", step.kind.name())))?;
        }
        done.push(step.kind);
    }
    // What the journal of an interrupted write would restore is gone.
    if let Some(journal) = session.journal()? {
        if journal.path().exists() {
            warn!("the journal {} of an interrupted write is deleted: its flash is erased", journal.path().display());
            let _ = journal.clear();
        }
    }
    let after = confirm(session, plan)?;
    info!("recover: option bytes restored and confirmed by reading them back; RDP is level 0");
    Ok(Report { done, erased, after })
}

/// Read every word again: each restored field holds its factory value, and
/// RDP is level 0.
fn confirm(session: &mut Session, plan: &Plan) -> Result<Vec<WordValue>> {
    let after = options::read_all(session)?;
    let mut wrong = Vec::new();
    for change in plan.steps.iter().flat_map(|s| &s.changes) {
        let Some(back) = after.iter().find(|v| v.word.name == change.word.name) else { continue };
        for f in &change.fields {
            let got = f.field.get(back.value);
            if got != f.to {
                wrong.push(format!("{}.{} reads {got:#X}, expected {:#X}", change.word.name, f.field.name, f.to));
            }
        }
    }
    let rdp = rdp_level(session)?;
    if rdp != RdpLevel::Level0 {
        wrong.push(format!("RDP is {rdp:?} after the recovery"));
    }
    if !wrong.is_empty() {
        return Err(Error::new(ErrorKind::Verify, format!("the recovery did not take effect: {}", wrong.join("; "))));
    }
    Ok(after)
}

impl Plan {
    /// The plan for people: the chip, each step with the option values it
    /// writes (and where they come from), what stays, the notes.
    pub fn text(&self) -> String {
        let level = match self.rdp {
            RdpLevel::Level0 => "RDP level 0",
            RdpLevel::Level1 => "RDP level 1 (read-protected)",
            RdpLevel::Level2 => "RDP level 2",
        };
        let mut out = format!("recover {} ({}, {level}):\n", self.chip.name, self.chip.family);
        let mut n = 0;
        let mut grades: Vec<Reliability> = Vec::new();
        for step in &self.steps {
            n += 1;
            if step.kind != StepKind::Erase && step.changes.is_empty() {
                out.push_str(&format!("  {n}. {}: nothing to change\n", step.what));
                continue;
            }
            out.push_str(&format!("  {n}. {}\n", step.what));
            for c in &step.changes {
                let fields: Vec<String> =
                    c.fields.iter().map(|f| format!("{} {:#X} -> {:#X}", f.field.name, f.from, f.to)).collect();
                out.push_str(&format!(
                    "       {} (0x{:08X}) = 0x{:08X} (was 0x{:08X}): {}  [{}: {}]\n",
                    c.word.name,
                    c.word.addr,
                    c.to,
                    c.from,
                    fields.join(", "),
                    c.factory.reliability.letter(),
                    c.factory.source
                ));
                if !grades.contains(&c.factory.reliability) {
                    grades.push(c.factory.reliability);
                }
            }
        }
        out.push_str(&format!("  {}. read every option word back: each value above in force, RDP level 0\n", n + 1));
        if !self.kept.is_empty() {
            out.push_str("  never changed:\n");
            for line in &self.kept {
                out.push_str(&format!("       {line}\n"));
            }
        }
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        grades.sort_by_key(|g| g.letter());
        if !grades.is_empty() {
            let legend: Vec<String> = grades.iter().map(|g| format!("{} = {}", g.letter(), g.meaning())).collect();
            out.push_str(&format!("  values: {}\n", legend.join("; ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip as chips;
    use crate::family;

    fn words_of(dev_id: u16, values: &[(&str, u32)]) -> (&'static Chip, Vec<WordValue>) {
        let chip = chips::find(dev_id).unwrap();
        let mut d = family::driver_for(chip, Some(3300)).unwrap();
        let words = d.options().unwrap().words();
        let v = words
            .into_iter()
            .map(|w| WordValue { word: w, value: values.iter().find(|(n, _)| *n == w.name).map_or(0, |p| p.1) })
            .collect();
        (chip, v)
    }

    #[test]
    fn an_l0_at_rdp1_with_write_protection_gets_three_steps_in_order() {
        // RDP 0xBB, USER 0x0070, sector 0 protected.
        let (chip, before) =
            words_of(0x417, &[("OB_RDP", 0xFF44_00BB), ("OB_USER", 0xFF8F_0070), ("OB_WRP0", 0xFFFE_0001)]);
        let p = plan_words(chip, family::factory(chip).unwrap(), RdpLevel::Level1, &before, true).unwrap();
        let kinds: Vec<StepKind> = p.steps.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [StepKind::Unprotect, StepKind::Regression, StepKind::Restore]);
        assert_eq!(p.steps[0].changes.len(), 1);
        assert_eq!((p.steps[0].changes[0].from, p.steps[0].changes[0].to), (0xFFFE_0001, 0xFFFF_0000));
        assert_eq!(p.steps[1].changes[0].to, 0xFF55_00AA, "RDP 0xAA, complement computed");
        assert!(p.steps[1].what.contains("data EEPROM"));
        assert!(p.steps[2].changes.is_empty(), "no reliable USER value: left alone");
        assert!(p.kept.iter().any(|k| k.starts_with("OB_USER: BOR_LEV, IWDG_SW")), "{:?}", p.kept);
        assert!(p.kept.iter().any(|k| k == "OB_RDP: WPRMOD (security options)"), "{:?}", p.kept);
        let text = p.text();
        assert!(
            text.contains("OB_WRP0 (0x1FF80008) = 0xFFFF0000 (was 0xFFFE0001): WRPROT_0 0x1 -> 0x0  [A:"),
            "{text}"
        );
        assert!(text.contains("4. read every option word back"), "{text}");
    }

    #[test]
    fn an_f4_keeps_its_bank_and_security_bits_and_restores_the_rest() {
        // F429: RDP 0xBB, sectors 0-1 protected, BOR level 1, SPRMOD 1, DB1M 1.
        let optcr = 0xC000_0000 | 0x0FFC_0000 | 0xBB00 | 0xE0 | 0x04 | 0x1;
        let (chip, before) = words_of(0x419, &[("FLASH_OPTCR", optcr), ("FLASH_OPTCR1", 0x0FFF_0000)]);
        let p = plan_words(chip, family::factory(chip).unwrap(), RdpLevel::Level1, &before, false).unwrap();
        let last = p.steps[2].changes[0].to;
        assert_eq!(last & 0xFFFF, 0xAAEC, "BOR off, RDP 0xAA, OPTLOCK not written");
        assert_eq!(last >> 16 & 0xFFF, 0xFFC, "with SPRMOD set, nWRP selects PCROP sectors: left as it is");
        assert_eq!(last & 0xC000_0000, 0xC000_0000, "DB1M and SPRMOD kept");
        assert!(!p.steps[1].what.contains("EEPROM"));
        assert_eq!(
            p.kept,
            ["FLASH_OPTCR: SPRMOD (security options); nWRP (PCROP sectors while a security option selects it); \
              DB1M (bank organisation)"]
        );
        // Without SPRMOD the same protection is removed.
        let (chip, before) = words_of(0x419, &[("FLASH_OPTCR", optcr & !0x8000_0000), ("FLASH_OPTCR1", 0x0FFF_0000)]);
        let p = plan_words(chip, family::factory(chip).unwrap(), RdpLevel::Level1, &before, false).unwrap();
        assert_eq!(p.steps[2].changes[0].to >> 16 & 0xFFF, 0xFFF, "nothing protected");
    }

    #[test]
    fn level_0_erases_instead_and_level_2_and_a_closed_h5_are_refused() {
        let fresh =
            [("OB_USER", 0x00FF_5AA5), ("OB_DATA", 0x00FF_00FF), ("OB_WRP01", 0x00FF_00FF), ("OB_WRP23", 0x00FF_00FF)];
        let (chip, before) = words_of(0x410, &fresh);
        let p = plan_words(chip, family::factory(chip).unwrap(), RdpLevel::Level0, &before, false).unwrap();
        assert_eq!(p.steps[1].kind, StepKind::Erase);
        assert!(p.steps[0].changes.is_empty() && p.steps[2].changes.is_empty());
        let e = plan_words(chip, family::factory(chip).unwrap(), RdpLevel::Level2, &before, false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protected);
        assert!(e.message.contains("RDP level 2") && e.message.contains("nothing can recover it"), "{e}");
        let (h5, before) = words_of(0x484, &[]);
        let e = plan_words(h5, family::factory(h5).unwrap(), RdpLevel::Level1, &before, false).unwrap_err();
        assert!(e.message.contains("debug authentication"), "{e}");
    }

    #[test]
    fn every_factory_value_names_words_and_fields_the_family_has() {
        for c in chips::all() {
            let Some(factory) = family::factory(c) else { panic!("{}: no factory values", c.name) };
            let mut d = family::driver_for(c, Some(3300)).unwrap();
            let words = d.options().unwrap().words();
            assert!(
                factory.words.iter().any(|f| words.iter().any(|w| w.name == f.word)),
                "{}: no factory word matches",
                c.name
            );
            for fw in factory.words {
                if let Some(w) = words.iter().find(|w| w.name == fw.word) {
                    for name in fw.fields {
                        assert!(w.field(name).is_some(), "{}: {}.{name}", c.name, w.name);
                    }
                }
            }
            // The RDP field of a family that can regress is restorable.
            if factory.no_regression.is_none() {
                let rdp = words.iter().any(|w| {
                    let fw = factory.words.iter().find(|f| f.word == w.name);
                    fw.is_some_and(|fw| {
                        w.fields
                            .iter()
                            .any(|f| f.kind == FieldKind::Rdp && (fw.fields.is_empty() || fw.fields.contains(&f.name)))
                    })
                });
                assert!(rdp, "{}: no factory RDP", c.name);
            }
        }
    }
}
