//! The register facts of ST's headers, as `facts/extract.py` wrote them to
//! `facts/cmsis.facts` (format: that file's header and `facts/README.md`),
//! and the check of a stated fact against them.

use std::collections::HashMap;

/// A value of the fixture or of the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Number(u64),
    Field { pos: u32, width: u32 },
}

impl Value {
    fn mask(self) -> u64 {
        match self {
            Value::Number(n) => n,
            Value::Field { pos, width } => ((1u64 << width) - 1) << pos,
        }
    }

    /// The same value: equal fields or numbers, or a field and the mask it
    /// covers (a mask the code builds from several fields).
    pub fn agrees(self, other: Value) -> bool {
        match (self, other) {
            (Value::Field { .. }, Value::Field { .. }) | (Value::Number(_), Value::Number(_)) => self == other,
            _ => self.mask() == other.mask(),
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

/// Which headers a fact must hold in (mirrors `stflash::facts::Scope` and
/// `stflash_sim::facts::Scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Die,
    Every,
    Part(&'static str),
}

/// One stated fact, from the library or the simulator.
#[derive(Debug, Clone)]
pub struct Stated {
    pub name: String,
    pub value: Value,
    pub scope: Scope,
    /// "chip table", "driver", "option table", "simulator"…
    pub source: &'static str,
}

struct Entry {
    value: String,
    /// `file:line`.
    at: String,
}

#[derive(Default)]
struct Header {
    facts: HashMap<String, Entry>,
    /// `like <rep>`: every fact of `rep` not listed here or in `absent`.
    like: Option<String>,
    absent: Vec<String>,
}

pub struct Fixture {
    devices: HashMap<u16, Vec<String>>,
    same: HashMap<String, String>,
    headers: HashMap<String, Header>,
}

pub const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../facts/cmsis.facts");

impl Fixture {
    pub fn load() -> Fixture {
        let text = std::fs::read_to_string(PATH).unwrap_or_else(|e| panic!("{PATH}: {e}"));
        let mut f = Fixture { devices: HashMap::new(), same: HashMap::new(), headers: HashMap::new() };
        let mut header: Option<(String, String)> = None;
        for (n, line) in text.lines().enumerate() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                [w, ..] if w.starts_with('#') => {}
                ["source", ..] => {}
                ["device", id, stems @ ..] => {
                    let id = u16::from_str_radix(id.trim_start_matches("0x"), 16).expect("DEV_ID");
                    f.devices.insert(id, stems.iter().map(|s| s.to_string()).collect());
                }
                ["same", stem, rep] => {
                    f.same.insert(stem.to_string(), rep.to_string());
                }
                ["header", stem, file, rest @ ..] => {
                    let like = match rest {
                        [] => None,
                        ["like", rep] => Some(rep.to_string()),
                        _ => panic!("{PATH}:{}: cannot read {line:?}", n + 1),
                    };
                    f.headers.insert(stem.to_string(), Header { like, ..Header::default() });
                    header = Some((stem.to_string(), file.to_string()));
                }
                ["absent", names @ ..] => {
                    let (stem, _) =
                        header.as_ref().unwrap_or_else(|| panic!("{PATH}:{}: absent before a header", n + 1));
                    let h = f.headers.get_mut(stem).expect("header");
                    h.absent.extend(names.iter().map(|n| n.to_string()));
                }
                [name, value, at] => {
                    let (stem, file) =
                        header.as_ref().unwrap_or_else(|| panic!("{PATH}:{}: fact before a header", n + 1));
                    let at = if at.contains(':') { at.to_string() } else { format!("{file}:{at}") };
                    let h = f.headers.get_mut(stem).expect("header");
                    h.facts.insert(name.to_string(), Entry { value: value.to_string(), at });
                }
                _ => panic!("{PATH}:{}: cannot read {line:?}", n + 1),
            }
        }
        f
    }

    /// The headers describing a DEV_ID, the representative first.
    pub fn stems(&self, dev_id: u16) -> Option<&[String]> {
        self.devices.get(&dev_id).map(Vec::as_slice)
    }

    /// `name` in `stem`'s header, and where it is: a line of that header,
    /// or of the header it has the same value as (`same`, `like`).
    fn entry(&self, stem: &str, name: &str) -> Option<(&Entry, String)> {
        let (listed, via) = match self.same.get(stem) {
            Some(rep) => (rep.as_str(), Some(stem)),
            None => (stem, None),
        };
        let h = self.headers.get(listed)?;
        let (e, shown) = match (h.facts.get(name), &h.like) {
            (Some(e), _) => (e, via),
            (None, Some(rep)) if !h.absent.iter().any(|a| a == name) => {
                (self.headers.get(rep)?.facts.get(name)?, Some(via.unwrap_or(stem)))
            }
            _ => return None,
        };
        let at = match shown {
            Some(stem) => format!("{} (the same in {stem}.h)", e.at),
            None => e.at.clone(),
        };
        Some((e, at))
    }

    /// The value of `expr` in `stem`'s header: a name, a sum `A+B` of
    /// numbers or an OR `A|B` of fields (a mask), with where each term is;
    /// `Err(name)` names the first term the header does not define.
    pub fn eval(&self, stem: &str, expr: &str) -> Result<(Value, String), String> {
        let (sum, or) = (expr.contains('+'), expr.contains('|'));
        let terms: Vec<&str> = expr.split(['+', '|']).collect();
        let mut total = 0u64;
        let mut at = Vec::new();
        let mut single = None;
        for term in &terms {
            let Some((e, where_)) = self.entry(stem, term) else { return Err(term.to_string()) };
            let value = parse(&e.value).ok_or_else(|| format!("{term} (its value {} is not a number)", e.value))?;
            at.push(where_);
            match (sum, or) {
                (true, _) => match value {
                    Value::Number(n) => total += n,
                    Value::Field { .. } => return Err(format!("{term} (a field, in a sum)")),
                },
                (_, true) => total |= value.mask(),
                _ => single = Some(value),
            }
        }
        let value = single.unwrap_or(Value::Number(total));
        Ok((value, at.join(", ")))
    }

    /// What is wrong with `fact` for `dev_id`, one line per header that
    /// disagrees; empty when it holds. `who` names the row or the part.
    pub fn check(&self, dev_id: u16, who: &str, fact: &Stated) -> Vec<String> {
        let Some(stems) = self.stems(dev_id) else {
            return vec![format!("{who}: DEV_ID 0x{dev_id:03X} has no `device` line in {PATH}")];
        };
        let mut out = Vec::new();
        let what =
            |stem: &str| format!("{who} ({}): {} = {} ", fact.source, fact.name, fact.value) + &format!("[{stem}]");
        let must = |stem: &str, out: &mut Vec<String>| match self.eval(stem, &fact.name) {
            Ok((value, _)) if value.agrees(fact.value) => {}
            Ok((value, at)) => out.push(format!("{}: ST's header says {value} at {at}", what(stem))),
            Err(missing) => {
                out.push(format!("{}: {stem}.h does not define {missing} (or extract.py does not keep it)", what(stem)))
            }
        };
        match fact.scope {
            Scope::Die => {
                must(&stems[0], &mut out);
                for stem in &stems[1..] {
                    if let Ok((value, at)) = self.eval(stem, &fact.name) {
                        if !value.agrees(fact.value) {
                            out.push(format!("{}: ST's header says {value} at {at}", what(stem)));
                        }
                    }
                }
            }
            Scope::Every => stems.iter().for_each(|stem| must(stem, &mut out)),
            Scope::Part(stem) => {
                if stems.iter().any(|s| s == stem) {
                    must(stem, &mut out);
                } else {
                    out.push(format!("{}: {stem} is not a header of DEV_ID 0x{dev_id:03X}", what(stem)));
                }
            }
        }
        out
    }
}

fn parse(text: &str) -> Option<Value> {
    if let Some(hex) = text.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok().map(Value::Number);
    }
    let (pos, width) = text.split_once(':')?;
    Some(Value::Field { pos: pos.parse().ok()?, width: width.parse().ok()? })
}
