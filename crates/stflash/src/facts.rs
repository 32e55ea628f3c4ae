//! Register facts: what the chip table, the flash drivers and the option
//! tables assume about each die, stated once per family by the names ST's
//! CMSIS device headers (and ST's HAL, where CMSIS is silent) give them.
//!
//! The facts are built from the very constants the code uses (each family's
//! `register_facts`), so they cannot drift from it. The test
//! `crosscheck::every_chip_table_row_agrees_with_st_s_headers`
//! (`crates/stflash/tests/it/crosscheck.rs`) compares them with the fixture
//! `facts/cmsis.facts`, extracted from ST's headers by `facts/extract.py`;
//! the simulator states its own facts the same way (`stflash_sim::facts`) and
//! is checked against the same fixture.
//!
//! A fact's name is what the fixture calls it:
//!
//! * a macro: `FLASH_R_BASE`, `FLASH_KEY1`, a bit field `FLASH_CR_PNB`
//!   (position and width, from ST's `_Pos`/`_Msk`);
//! * a struct member offset, `FLASH_TypeDef.CR`, or size, `OB_TypeDef.sizeof`;
//! * a value ST's headers compute, `FLASH_SIZE.mask` (the bits of the
//!   flash-size register ST keeps), `FLASH_SIZE.if_0xFFFF`;
//! * a sum of those, `RCC_BASE+RCC_TypeDef.AHB1ENR` (an address), or a mask
//!   made of fields, `DBGMCU_APB1_FZ_DBG_WWDG_STOP|DBGMCU_APB1_FZ_DBG_IWDG_STOP`.

use crate::chip::Chip;
use crate::flash::options::{FieldKind, OptionWord};

/// The value of a fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// An address, offset, key, size or mask.
    Number(u64),
    /// A bit field: lowest bit and width.
    Field { pos: u32, width: u32 },
}

impl Value {
    /// A contiguous mask as the field it covers (a single bit is a field of
    /// width 1); any other mask as a number.
    pub fn mask(mask: u32) -> Value {
        if mask == 0 {
            return Value::Number(0);
        }
        let pos = mask.trailing_zeros();
        let width = (mask >> pos).trailing_ones();
        if (mask as u64 >> pos) >> width == 0 {
            Value::Field { pos, width }
        } else {
            Value::Number(mask as u64)
        }
    }

    /// The mask of a field, the number itself otherwise.
    pub fn as_mask(self) -> u64 {
        match self {
            Value::Number(n) => n,
            Value::Field { pos, width } => ((1u64 << width) - 1) << pos,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Number(n) => write!(f, "0x{n:X}"),
            Value::Field { pos, width } => write!(f, "{pos}:{width}"),
        }
    }
}

/// Which of the headers describing a DEV_ID a fact must hold in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The header that represents the DEV_ID must define it with this value,
    /// and every other header of the DEV_ID that defines it must agree (a
    /// header that does not define it is a part without the feature: a
    /// value-line part, a single-core variant).
    Die,
    /// Every header of the DEV_ID must define it with this value: the code
    /// relies on it on every part that reports the DEV_ID (the CRC unit's
    /// INIT and POL registers).
    Every,
    /// Only this header (its stem, `stm32wl55xx`): a fact of some parts of
    /// the DEV_ID, which the code uses only where it knows it has one of
    /// them.
    Part(&'static str),
}

/// One fact: a name from ST's headers and the value the code uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub name: String,
    pub value: Value,
    pub scope: Scope,
    /// Which table states it: "chip table", "driver", "option table".
    pub source: &'static str,
}

/// The facts of one chip-table row, as a family states them.
#[derive(Debug, Clone)]
pub struct Facts {
    facts: Vec<Fact>,
    source: &'static str,
    scope: Scope,
}

impl Default for Facts {
    fn default() -> Self {
        Facts::new()
    }
}

impl Facts {
    pub fn new() -> Facts {
        Facts { facts: Vec::new(), source: "chip table", scope: Scope::Die }
    }

    /// The table the following facts come from.
    pub fn source(&mut self, source: &'static str) -> &mut Facts {
        self.source = source;
        self
    }

    /// The scope of the following facts (until changed again).
    pub fn scope(&mut self, scope: Scope) -> &mut Facts {
        self.scope = scope;
        self
    }

    pub fn add(&mut self, name: impl Into<String>, value: Value) -> &mut Facts {
        self.facts.push(Fact { name: name.into(), value, scope: self.scope, source: self.source });
        self
    }

    /// An address, offset, key or size.
    pub fn number(&mut self, name: impl Into<String>, value: u64) -> &mut Facts {
        self.add(name, Value::Number(value))
    }

    /// A bit field given by its mask (`1 << 11`, `0x7F << 3`).
    pub fn mask(&mut self, name: impl Into<String>, mask: u32) -> &mut Facts {
        self.add(name, Value::mask(mask))
    }

    /// A bit field given by position and width.
    pub fn field(&mut self, name: impl Into<String>, pos: u32, width: u32) -> &mut Facts {
        self.add(name, Value::Field { pos, width })
    }

    /// The address of an option word (`addr`, a name such as
    /// `FLASH_R_BASE+FLASH_TypeDef.OPTR`) and the position of each of its
    /// fields, named `{register}_<field>` (`FLASH_OPTR_RDP`): see
    /// [`Facts::option_fields`].
    pub fn option_word(
        &mut self,
        word: &OptionWord,
        addr: &str,
        register: &str,
        renames: &[(&str, Option<&str>)],
    ) -> &mut Facts {
        self.number(addr, word.addr as u64);
        self.option_fields(word, register, renames)
    }

    /// The fields of an option word as `{register}_<field>`. `renames` maps
    /// a field's stflash name to ST's: a field name (`("WDG_SW",
    /// Some("IWDG_SW"))`), a whole name (`Some("FLASH_OPTCR1_nWRP")`, or
    /// fields joined by `|`), or `None` for a field ST's headers do not
    /// name. Complement fields (F0/F1/F3, L0/L1 option words) are left out.
    pub fn option_fields(&mut self, word: &OptionWord, register: &str, renames: &[(&str, Option<&str>)]) -> &mut Facts {
        for field in word.fields.iter().filter(|f| f.kind != FieldKind::Complement) {
            let name = match renames.iter().find(|(from, _)| *from == field.name) {
                Some((_, None)) => continue,
                Some((_, Some(to))) => to,
                None => field.name,
            };
            let name = if name.starts_with("FLASH_") || name.contains('|') {
                name.to_string()
            } else {
                format!("{register}_{name}")
            };
            self.field(name, field.shift as u32, field.width as u32);
        }
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = &Fact> {
        self.facts.iter()
    }

    pub fn into_vec(self) -> Vec<Fact> {
        self.facts
    }
}

/// ST's names for what every chip-table row holds: where a family's
/// headers call it differently (`CRC_BASE_NS`, `RCC_AHBENR_CRCEN`,
/// `DBG_BASE`), the family says so here ([`Facts::table`]).
#[derive(Debug, Clone, Copy)]
pub struct TableNames {
    /// Start of main flash (`FLASH_BASE`, `FLASH_BASE_NS`).
    pub flash_base: &'static str,
    /// The bits of the flash-size register ST keeps (`FLASH_SIZE.mask`,
    /// `LL_GetFlashSize.mask`).
    pub flash_size_mask: &'static str,
    /// Where identification reads DBGMCU_IDCODE
    /// (`DBGMCU_BASE+DBGMCU_TypeDef.IDCODE`).
    pub idcode: &'static str,
    /// The CRC peripheral (`CRC_BASE`).
    pub crc_base: &'static str,
    /// Its RCC enable register and bit (`RCC_BASE+RCC_TypeDef.AHB1ENR`,
    /// `RCC_AHB1ENR_CRCEN`).
    pub crc_clock: (&'static str, &'static str),
    /// Each watchdog-freeze entry: its register and its bits.
    pub freeze: &'static [(&'static str, &'static str)],
}

impl Facts {
    /// What every row states: flash-size register, its mask, the unique
    /// ID, main flash, DBGMCU_IDCODE, the CRC peripheral (its INIT and POL
    /// registers where the row says it has them, on every part of the
    /// DEV_ID) and the watchdog-freeze bits.
    pub fn table(&mut self, c: &Chip, names: &TableNames) -> &mut Facts {
        let scope = self.scope;
        self.source("chip table");
        self.number("FLASHSIZE_BASE", c.flash_size_reg as u64);
        self.number(names.flash_size_mask, c.flash_size_quirk.mask() as u64);
        self.number("UID_BASE", c.uid.base as u64);
        self.number(names.flash_base, c.flash.base as u64);
        self.number(names.idcode, crate::mcu::identify::idcode_address(c) as u64);
        if let Some(crc) = c.crc {
            use crate::flash::crc::{P_CR, P_CR_RESET, P_DR, P_INIT, P_POL};
            self.number(names.crc_base, crc.base as u64);
            self.number(names.crc_clock.0, crc.clock_enable.0 as u64);
            self.mask(names.crc_clock.1, crc.clock_enable.1);
            // The registers the CRC code (`crate::flash::crc`) writes, on
            // every part of the DEV_ID.
            self.scope(Scope::Every);
            self.number("CRC_TypeDef.DR", P_DR as u64);
            self.number("CRC_TypeDef.CR", P_CR as u64);
            self.mask("CRC_CR_RESET", P_CR_RESET);
            if crc.init {
                self.number("CRC_TypeDef.INIT", P_INIT as u64);
            }
            if crc.pol {
                self.number("CRC_TypeDef.POL", P_POL as u64);
            }
            self.scope(scope);
        }
        for (&(addr, bits), &(reg, fields)) in c.watchdog_freeze.iter().zip(names.freeze) {
            self.number(reg, addr as u64);
            self.mask(fields, bits);
        }
        if c.watchdog_freeze.len() != names.freeze.len() {
            self.number("(watchdog_freeze entries without a name)", c.watchdog_freeze.len() as u64);
        }
        self
    }
}

/// The facts of a chip-table row: its family's `register_facts` (chip
/// table, driver and option tables).
pub fn of(chip: &'static crate::chip::Chip) -> Vec<Fact> {
    let mut facts = Facts::new();
    if let Some(family) = crate::family::of(chip) {
        (family.register_facts)(chip, &mut facts);
    }
    facts.into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_become_fields_where_they_are_contiguous() {
        assert_eq!(Value::mask(1 << 11), Value::Field { pos: 11, width: 1 });
        assert_eq!(Value::mask(0x7F << 3), Value::Field { pos: 3, width: 7 });
        assert_eq!(Value::mask(1 << 31), Value::Field { pos: 31, width: 1 });
        assert_eq!(Value::mask(u32::MAX), Value::Field { pos: 0, width: 32 });
        assert_eq!(Value::mask((1 << 11) | (1 << 13)), Value::Number(0x2800));
        assert_eq!(Value::Field { pos: 3, width: 7 }.as_mask(), 0x3F8);
        assert_eq!(Value::Field { pos: 6, width: 7 }.to_string(), "6:7");
    }
}
