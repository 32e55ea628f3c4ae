//! Register facts: what the simulator's models assume about each part,
//! stated by each family by the names ST's CMSIS device headers give them,
//! from the very constants the models use. The stflash library's test
//! `crosscheck::every_simulated_part_agrees_with_st_s_headers` compares them
//! with the fixture `facts/cmsis.facts` (extracted from ST's headers), as it
//! does the library's own facts (`stflash::facts`): the simulator and the
//! library are written separately, and each is held against ST's headers.
//!
//! Names: a macro (`FLASH_R_BASE`, a field `FLASH_CR_PNB`), a struct member
//! offset `FLASH_TypeDef.CR`, a sum `RCC_BASE+RCC_TypeDef.AHB1ENR` or a mask
//! of fields `A|B` (as in `stflash::facts`).

use crate::crc_peripheral::{Placement, Regs};
use crate::parts::Part;

/// The value of a fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// An address, offset, key, size or mask.
    Number(u64),
    /// A bit field: lowest bit and width.
    Field { pos: u32, width: u32 },
}

impl Value {
    /// A contiguous mask as the field it covers, any other mask as a number.
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
}

/// Which of the headers describing a DEV_ID a fact must hold in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The header representing the DEV_ID, and every other that defines it.
    Die,
    /// Every header of the DEV_ID.
    Every,
    /// This header only (its stem, `stm32wl55xx`).
    Part(&'static str),
}

/// One fact: a name from ST's headers and the value the simulator uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub name: String,
    pub value: Value,
    pub scope: Scope,
}

/// The facts of one simulated part.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    facts: Vec<Fact>,
    part: Option<&'static str>,
}

impl Facts {
    pub fn new() -> Facts {
        Facts::default()
    }

    /// The following facts hold for this header only (`None`: the DEV_ID).
    pub fn part(&mut self, stem: Option<&'static str>) -> &mut Facts {
        self.part = stem;
        self
    }

    fn push(&mut self, name: String, value: Value, scope: Scope) -> &mut Facts {
        let scope = match (scope, self.part) {
            (Scope::Die, Some(stem)) => Scope::Part(stem),
            (scope, _) => scope,
        };
        self.facts.push(Fact { name, value, scope });
        self
    }

    /// An address, offset, key or size.
    pub fn number(&mut self, name: impl Into<String>, value: u64) -> &mut Facts {
        self.push(name.into(), Value::Number(value), Scope::Die)
    }

    /// A bit field given by its mask.
    pub fn mask(&mut self, name: impl Into<String>, mask: u32) -> &mut Facts {
        self.push(name.into(), Value::mask(mask), Scope::Die)
    }

    /// A bit field given by position and width.
    pub fn field(&mut self, name: impl Into<String>, pos: u32, width: u32) -> &mut Facts {
        self.push(name.into(), Value::Field { pos, width }, Scope::Die)
    }

    /// A number that holds on every part of the DEV_ID.
    pub fn every(&mut self, name: impl Into<String>, value: u64) -> &mut Facts {
        self.push(name.into(), Value::Number(value), Scope::Every)
    }

    /// Where the part identifies itself: its DBGMCU IDCODE register, its
    /// flash-size register and its unique ID, under the names of its
    /// headers (`dbgmcu`: `DBGMCU_BASE+DBGMCU_TypeDef.IDCODE` on most,
    /// `flash_size`: `FLASHSIZE_BASE` on most).
    pub fn identity(&mut self, part: &Part, dbgmcu: &str, flash_size: &str) -> &mut Facts {
        self.number(dbgmcu, part.dbgmcu_addr as u64);
        self.number(flash_size, part.flash_size_addr as u64);
        if let Some(u) = crate::uid::placement((part.idcode & 0xFFF) as u16) {
            self.number("UID_BASE", u.base as u64);
        }
        self
    }

    /// The CRC peripheral where the part has it (`crc_peripheral::placement`):
    /// its base (`base`), its RCC enable register and bit (`clock`), and the
    /// registers the model implements, which every part of the DEV_ID must
    /// have.
    pub fn crc(&mut self, place: Placement, base: &str, clock: (&str, &str)) -> &mut Facts {
        use crate::crc_peripheral::{CR, CR_RESET, DR, INIT, POL};
        self.number(base, place.base as u64);
        self.number(clock.0, place.enable.0 as u64);
        self.mask(clock.1, place.enable.1);
        self.every("CRC_TypeDef.DR", DR as u64).every("CRC_TypeDef.CR", CR as u64);
        self.mask("CRC_CR_RESET", CR_RESET);
        if place.regs != Regs::Basic {
            self.every("CRC_TypeDef.INIT", INIT as u64);
        }
        if place.regs == Regs::Full {
            self.every("CRC_TypeDef.POL", POL as u64);
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

/// The facts of a simulated part: its family's (`family::register_facts`),
/// with the model's own (`FlashModel::register_facts`).
pub fn of_part(part: &'static Part) -> Vec<Fact> {
    let mut facts = Facts::new();
    crate::family::register_facts(part, &mut facts);
    facts.into_vec()
}
