//! Areas of main flash the debugger must not erase or program, as each
//! family's driver reads them from the registers that show the option bytes
//! in force (`FlashController::reserved_ranges`): write-protected sectors or
//! pages, and areas that belong to someone else (the STM32WB/WL CPU2 secure
//! area). Everything that erases or programs checks them before the first
//! erase, through `Session::reserved_ranges`.

use std::collections::BTreeSet;

use super::layout::Sector;
use super::options::{ranges_text, Field, FieldKind, OptionWord};

/// What keeps an area from being erased or programmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservedKind {
    /// Write-protected by the option bytes: the controller refuses to erase
    /// or program it (WRPERR, WRPRTERR), and refuses a mass erase while it
    /// exists. Removing the protection makes it writable again.
    WriteProtected,
    /// Belongs to someone else (the STM32WB/WL CPU2 secure area): the
    /// debugger never touches it, and a mass erase leaves it alone.
    Secure,
}

/// One area of main flash the debugger must not erase or program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved {
    pub start: u32,
    /// End, exclusive.
    pub end: u64,
    pub kind: ReservedKind,
    /// What reserves it and what to do about it, for people ("write-protected
    /// by FLASH_OPTCR.nWRP (sector 1); remove the write protection with …").
    pub reason: String,
}

/// How a write protection is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remedy {
    /// The `stflash --area=option write` assignments that remove it
    /// ("nWRP=0xFFF", "WRP1A_STRT=0xFF,WRP1A_END=0x0").
    Assign(String),
    /// It cannot be removed with stflash: why, and what removes it.
    Other(String),
}

impl Reserved {
    /// A write-protected area: `by` names the register (or option word) and
    /// the units it protects ("FLASH_OPTCR.nWRP (sector 1)").
    pub fn write_protected(start: u32, end: u64, by: &str, remedy: &Remedy) -> Reserved {
        let reason = match remedy {
            Remedy::Assign(assign) => format!(
                "write-protected by {by}; remove the write protection with `stflash --area=option write {assign}` first"
            ),
            Remedy::Other(why) => format!("write-protected by {by}; {why}"),
        };
        Reserved { start, end, kind: ReservedKind::WriteProtected, reason }
    }

    /// An area owned by someone else (see [`ReservedKind::Secure`]).
    pub fn secure(start: u32, end: u64, reason: &str) -> Reserved {
        Reserved { start, end, kind: ReservedKind::Secure, reason: reason.to_string() }
    }

    /// `[addr, addr+len)` overlaps this area.
    pub fn overlaps(&self, addr: u32, len: u64) -> bool {
        (addr as u64) < self.end && addr as u64 + len > self.start as u64
    }

    /// "0x08004000-0x08007FFF".
    pub fn range_text(&self) -> String {
        format!("0x{:08X}-0x{:08X}", self.start, self.end - 1)
    }

    /// The refusal of an operation on `what` ("image segment
    /// 0x08000000-0x08003FFF", "0x08000000+0x4000") that overlaps this area.
    pub fn refusal(&self, what: &str) -> String {
        let tail = match self.kind {
            ReservedKind::WriteProtected => "nothing was erased or written",
            ReservedKind::Secure => "it is never erased or written",
        };
        format!("{what} overlaps {}, {}; {tail}", self.range_text(), self.reason)
    }
}

/// The refusal of an operation on `what` that overlaps the areas `hits`
/// (all of them, so that one run names everything in the way); `None` when
/// `hits` is empty.
pub fn refusal(what: &str, hits: &[&Reserved]) -> Option<String> {
    let (first, rest) = hits.split_first()?;
    let mut text = first.refusal(what);
    for r in rest {
        text.push_str(&format!("; it also overlaps {}, {}", r.range_text(), r.reason));
    }
    Some(text)
}

/// The refusal of a mass erase while write-protected areas exist (`None`
/// when there are none). "A mass erase cannot be performed if one of the
/// sectors is write-protected" (RM0402 §3.6.4 "Write protections", F412;
/// the F2/F4 manuals share the section); the other families are taken to
/// refuse a mass or bank erase of a bank holding a protected page or sector
/// the same way (what their simulators model; on L0/L1, which erase page by
/// page, everything before the protected page would be gone). Either way
/// the chip would not end up blank, so stflash refuses before starting.
pub fn mass_erase_refusal(reserved: &[Reserved]) -> Option<String> {
    let protected: Vec<&Reserved> = reserved.iter().filter(|r| r.kind == ReservedKind::WriteProtected).collect();
    let (first, rest) = protected.split_first()?;
    let mut text = format!("refusing to mass-erase: {} is {}", first.range_text(), first.reason);
    for r in rest {
        text.push_str(&format!("; {} is {}", r.range_text(), r.reason));
    }
    text.push_str(
        ". The flash controller does not mass-erase while any sector is write-protected; nothing was erased \
         (`erase <addr> <size>` erases unprotected sectors)",
    );
    Some(text)
}

/// Consecutive runs of `units` whose addresses touch: `place(unit)` gives a
/// unit's `[start, end)`, `None` for a unit that is not in flash (past the
/// end of a smaller part). Each run is (start, end, its units).
pub fn unit_runs(units: &BTreeSet<u32>, place: impl Fn(u32) -> Option<(u32, u64)>) -> Vec<(u32, u64, BTreeSet<u32>)> {
    let mut out: Vec<(u32, u64, BTreeSet<u32>)> = Vec::new();
    for &u in units {
        let Some((start, end)) = place(u) else { continue };
        match out.last_mut() {
            Some(last) if last.1 == start as u64 => {
                last.1 = end;
                last.2.insert(u);
            }
            _ => out.push((start, end, BTreeSet::from([u]))),
        }
    }
    out
}

/// Each run of protected `units` (see [`unit_runs`]) as a write-protected
/// area: `by(units of the run)` names what protects it ("FLASH_OPTCR.nWRP
/// (sectors 1-2)"), `remedy(units of the run)` how to remove it.
pub fn write_protected_runs(
    units: &BTreeSet<u32>,
    place: impl Fn(u32) -> Option<(u32, u64)>,
    by: impl Fn(&BTreeSet<u32>) -> String,
    remedy: impl Fn(&BTreeSet<u32>) -> Remedy,
) -> Vec<Reserved> {
    unit_runs(units, place)
        .into_iter()
        .map(|(start, end, run)| Reserved::write_protected(start, end, &by(&run), &remedy(&run)))
        .collect()
}

/// The areas the write-protection mask of `word` protects at `value` (the
/// register that shows the option in force): `units` is the number of units
/// it can name (clipped there), `place(unit)` a unit's addresses; `of` ends
/// the description (" of bank 2"). The remedy writes the field back by name
/// with the run's bits unprotected.
pub fn mask_areas(
    word: &OptionWord,
    value: u32,
    units: u32,
    place: impl Fn(u32) -> Option<(u32, u64)>,
    of: &str,
) -> Vec<Reserved> {
    let Some(field) = word.fields.iter().find(|f| f.kind == FieldKind::WriteProtect) else { return Vec::new() };
    let mask = MaskValue { word: word.name, field, value: field.get(value), active_low: word.active_low(field, value) };
    mask.areas(units, place, of, None)
}

/// The pages a WRP area register protects (L4 class, L5/U5: its first field
/// the start page, its second the end page, none when start > end) at
/// `value`, read with the bits of `page_mask` only; `pages` are the sectors
/// of the bank it counts from, `of` ends the description (" of bank 2").
/// The remedy sets the start to its largest value and the end to 0 (an
/// empty area); `fixed`: the area cannot be removed with stflash, and why.
pub fn page_area(
    word: &OptionWord,
    value: u32,
    page_mask: u32,
    pages: &[Sector],
    of: &str,
    fixed: Option<&str>,
) -> Vec<Reserved> {
    let (Some(strt), Some(end)) = (word.fields.first(), word.fields.get(1)) else { return Vec::new() };
    let mask = page_mask.min(strt.max());
    let units = word.protected(value & (mask << strt.shift | mask << end.shift));
    let place = |u: u32| pages.get(u as usize).map(|s| (s.addr, s.end()));
    let by = |run: &BTreeSet<u32>| format!("{} ({}{of})", word.name, units_text("page", run));
    let digits = (strt.width as usize).div_ceil(4);
    let remedy = |_: &BTreeSet<u32>| match fixed {
        Some(why) => Remedy::Other(why.to_string()),
        None => Remedy::Assign(format!("{}=0x{:0digits$X},{}=0x{:0digits$X}", strt.name, strt.max(), end.name, 0)),
    };
    write_protected_runs(&units, place, by, remedy)
}

/// The mask that keeps the page-number bits a WRP area register implements:
/// as many as a bank of the largest part of the die (`max_size` bytes in
/// `banks` banks of `page`-byte pages) has pages (OpenOCD stm32l4x.c
/// `wrpxxr_mask`: "number of significant bits in WRPxxR differs per device
/// … non-implemented bits read as '0', on others as '1'").
pub fn page_mask(max_size: u64, page: u32, banks: usize) -> u32 {
    let pages = (max_size / page.max(1) as u64 / banks.max(1) as u64).max(1);
    (pages.next_power_of_two() - 1).min(u32::MAX as u64) as u32
}

/// A write-protection mask field and the value in force, with the polarity
/// in force (`active_low`: 0 = protected).
pub struct MaskValue<'a> {
    /// The option word, for messages.
    pub word: &'a str,
    pub field: &'a Field,
    /// The field's value.
    pub value: u32,
    pub active_low: bool,
}

impl MaskValue<'_> {
    /// The areas it protects (see [`mask_areas`]); `fixed`: the protection
    /// cannot be removed with stflash, and why.
    pub fn areas(
        &self,
        units: u32,
        place: impl Fn(u32) -> Option<(u32, u64)>,
        of: &str,
        fixed: Option<&str>,
    ) -> Vec<Reserved> {
        let field = self.field;
        let protected = field.protected_in(self.value, self.active_low, units);
        let by = |run: &BTreeSet<u32>| format!("{}.{} ({}{of})", self.word, field.name, units_text(field.unit(), run));
        let remedy = |run: &BTreeSet<u32>| match fixed {
            Some(why) => Remedy::Other(why.to_string()),
            None => {
                let new = field.unprotect(self.value, self.active_low, run);
                Remedy::Assign(format!("{}=0x{new:0w$X}", field.name, w = (field.width as usize).div_ceil(4)))
            }
        };
        write_protected_runs(&protected, place, by, remedy)
    }
}

/// "sector 4", "pages 4-7", "sectors 0-3, 8".
pub fn units_text(unit: &str, units: &BTreeSet<u32>) -> String {
    let plural = if units.len() == 1 { "" } else { "s" };
    format!("{unit}{plural} {}", ranges_text(units))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrp(start: u32, end: u64) -> Reserved {
        Reserved::write_protected(start, end, "FLASH_X.WRP (sector 1)", &Remedy::Assign("WRP=0xFF".into()))
    }

    #[test]
    fn runs_merge_touching_units_and_drop_missing_ones() {
        let units: BTreeSet<u32> = [0, 1, 2, 5, 6, 40].into_iter().collect();
        let runs =
            unit_runs(&units, |u| (u < 32).then(|| (0x0800_0000 + u * 0x400, 0x0800_0000 + (u as u64 + 1) * 0x400)));
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].0, runs[0].1, runs[0].2.len()), (0x0800_0000, 0x0800_0C00, 3));
        assert_eq!((runs[1].0, runs[1].1), (0x0800_1400, 0x0800_1C00));
        assert_eq!(units_text("page", &runs[1].2), "pages 5-6");
        assert_eq!(units_text("sector", &BTreeSet::from([4])), "sector 4");
    }

    #[test]
    fn refusals_name_the_range_the_register_and_the_command() {
        let r = wrp(0x0800_4000, 0x0800_8000);
        assert!(r.overlaps(0x0800_7FFF, 1) && !r.overlaps(0x0800_8000, 16) && !r.overlaps(0x0800_0000, 0x4000));
        let text = refusal("0x08000000+0x8000", &[&r]).unwrap();
        assert_eq!(
            text,
            "0x08000000+0x8000 overlaps 0x08004000-0x08007FFF, write-protected by FLASH_X.WRP (sector 1); remove \
             the write protection with `stflash --area=option write WRP=0xFF` first; nothing was erased or written"
        );
        let secure = Reserved::secure(0x0807_0000, 0x0808_0000, "the CPU2 secure area");
        assert!(mass_erase_refusal(std::slice::from_ref(&secure)).is_none(), "a mass erase keeps secure areas");
        let text = mass_erase_refusal(&[secure, r]).unwrap();
        assert!(text.starts_with("refusing to mass-erase: 0x08004000-0x08007FFF is write-protected by"), "{text}");
        assert!(text.contains("nothing was erased"), "{text}");
    }
}
