//! Serial numbers: `--serial-template ADDR=TEMPLATE` writes, with the
//! command's `write`, bytes made from the chip's unique ID and a counter
//! kept in the file `--serial-counter FILE` names.
//!
//! # The template
//!
//! Text, written as its UTF-8 bytes, with placeholders:
//!
//! | placeholder | bytes |
//! |---|---|
//! | `{counter}` | the counter in decimal (`1042`) |
//! | `{counter:6}` | decimal, at least 6 digits, zero-padded (`001042`; `{counter:06}` too) |
//! | `{counter:x}`, `{counter:8X}` | hex, lower or upper case, optionally zero-padded to a width |
//! | `{counter:le32}` | the counter as a 32-bit little-endian word (4 bytes) |
//! | `{uid}` | the chip's unique ID, 24 upper-case hex digits |
//! | `{uid:raw}` | the unique ID's 12 bytes, in address order |
//! | `{nul}` | one 0x00 byte (a C string's terminator) |
//! | `{{`, `}}` | `{`, `}` |
//!
//! # The counter file
//!
//! A text file the user creates with the first number (`echo 1000 > sn.txt`);
//! stflash keeps in it the next number never handed out, then a line
//! `pending N UID` for each number handed to a chip whose write has not been
//! verified yet, and `free N` for numbers given back. Every change is made
//! under an exclusive lock (`FILE.lock`, see [`super::filelock`]) and
//! written to a new file that replaces the old one (fsync'd, renamed), so
//! concurrent stations and the boards of one run never see a half-written
//! file or take the same number.
//!
//! A number moves from `next` (or `free`) to `pending` before the chip is
//! written; it is committed (its `pending` line removed) only once the write
//! is verified. A write that fails, is interrupted or whose process dies
//! leaves its number pending for that chip: the same chip (same UID) gets the
//! same number on its next attempt, and no other chip ever gets it. A number
//! is given back (`free`) only when the run fails before the write began.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::filelock::Lock;
use super::number::parse_number;
use super::report::uid_hex;
use stflash::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(Vec<u8>),
    /// Decimal or hex with a minimum width.
    Counter {
        radix: u32,
        upper: bool,
        width: usize,
    },
    CounterLe32,
    UidHex,
    UidRaw,
}

/// A parsed `--serial-template ADDR=TEMPLATE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialTemplate {
    pub addr: u32,
    /// The template as given (for messages and the JSON).
    pub text: String,
    parts: Vec<Part>,
}

impl SerialTemplate {
    /// Parse `ADDR=TEMPLATE`.
    pub fn parse(spec: &str) -> std::result::Result<SerialTemplate, String> {
        let Some((addr, text)) = spec.split_once('=') else {
            return Err(format!("{spec:?} is not ADDR=TEMPLATE (e.g. 0x0800FC00=SN-{{counter:06}}{{nul}})"));
        };
        let addr = parse_number(addr.trim()).map_err(|_| format!("{:?} is not an address", addr.trim()))?;
        let mut parts = Vec::new();
        let mut chars = text.chars().peekable();
        let mut literal = String::new();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("{{{name} is not closed with '}}'")),
                        }
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal).into_bytes()));
                    }
                    parts.push(placeholder(&name)?);
                }
                '}' => return Err("a lone '}' (write }} for the character)".into()),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal.into_bytes()));
        }
        if parts.is_empty() {
            return Err("the template is empty".into());
        }
        Ok(SerialTemplate { addr, text: text.to_string(), parts })
    }

    pub fn uses_counter(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Counter { .. } | Part::CounterLe32))
    }

    pub fn uses_uid(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::UidHex | Part::UidRaw))
    }

    /// The bytes for this chip and number.
    pub fn render(&self, counter: Option<u64>, uid: Option<&[u8; 12]>) -> std::result::Result<Vec<u8>, String> {
        let mut out = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.extend_from_slice(t),
                Part::Counter { radix, upper, width } => {
                    let n = counter.ok_or("the template uses {counter} but no counter was given")?;
                    let text = match (radix, upper) {
                        (10, _) => format!("{n:0width$}"),
                        (_, true) => format!("{n:0width$X}"),
                        (_, false) => format!("{n:0width$x}"),
                    };
                    out.extend_from_slice(text.as_bytes());
                }
                Part::CounterLe32 => {
                    let n = counter.ok_or("the template uses {counter} but no counter was given")?;
                    let word = u32::try_from(n).map_err(|_| format!("{{counter:le32}}: {n} does not fit 32 bits"))?;
                    out.extend_from_slice(&word.to_le_bytes());
                }
                Part::UidHex => {
                    out.extend_from_slice(uid_hex(uid.ok_or("the chip's unique ID is unknown")?).as_bytes())
                }
                Part::UidRaw => out.extend_from_slice(uid.ok_or("the chip's unique ID is unknown")?),
            }
        }
        Ok(out)
    }
}

fn placeholder(name: &str) -> std::result::Result<Part, String> {
    const VALID: &str =
        "{counter}, {counter:06}, {counter:08x}, {counter:08X}, {counter:le32}, {uid}, {uid:raw}, {nul}";
    let (key, format) = match name.split_once(':') {
        Some((k, f)) => (k.trim(), Some(f.trim())),
        None => (name.trim(), None),
    };
    Ok(match (key, format) {
        ("nul", None) => Part::Text(vec![0]),
        ("uid", None) => Part::UidHex,
        ("uid", Some("raw")) => Part::UidRaw,
        ("counter", None) => Part::Counter { radix: 10, upper: false, width: 0 },
        ("counter", Some("le32")) => Part::CounterLe32,
        ("counter", Some(f)) => {
            let (digits, radix, upper) = match f.chars().last() {
                Some('x') => (&f[..f.len() - 1], 16, false),
                Some('X') => (&f[..f.len() - 1], 16, true),
                _ => (f, 10, false),
            };
            let width = if digits.is_empty() {
                0
            } else {
                digits.parse::<usize>().ok().filter(|w| *w <= 20).ok_or_else(|| format!("{{{name}}}: bad format"))?
            };
            Part::Counter { radix, upper, width }
        }
        _ => return Err(format!("unknown placeholder {{{name}}}; valid: {VALID}")),
    })
}

/// The bytes as text for messages and the JSON, when they are printable
/// ASCII (a trailing NUL is left out).
pub fn printable(bytes: &[u8]) -> Option<String> {
    let body = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    body.iter().all(|b| b.is_ascii_graphic() || *b == b' ').then(|| String::from_utf8_lossy(body).into_owned())
}

/// What the counter file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct State {
    next: u64,
    /// (number, UID or "-").
    pending: Vec<(u64, String)>,
    free: Vec<u64>,
}

impl State {
    fn parse(text: &str) -> std::result::Result<State, String> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
        let first = lines.next().ok_or("it is empty; write the first number into it (echo 1000 > FILE)")?;
        let number = |t: &str| t.parse::<u64>().map_err(|_| format!("{t:?} is not a number"));
        let mut state = State { next: number(first)?, ..State::default() };
        for line in lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["pending", n, uid] => state.pending.push((number(n)?, uid.to_string())),
                ["free", n] => state.free.push(number(n)?),
                _ => return Err(format!("unexpected line {line:?}")),
            }
        }
        Ok(state)
    }

    fn text(&self) -> String {
        let mut out = format!("{}\n", self.next);
        for (n, uid) in &self.pending {
            let _ = writeln!(out, "pending {n} {uid}");
        }
        for n in &self.free {
            let _ = writeln!(out, "free {n}");
        }
        out
    }
}

/// A number handed to a chip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved {
    pub number: u64,
    /// It was pending for this same chip from an earlier attempt.
    pub again: bool,
}

/// The counter file of `--serial-counter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub path: PathBuf,
}

impl Counter {
    pub fn new(path: &Path) -> Counter {
        Counter { path: path.to_path_buf() }
    }

    fn error(&self, why: impl std::fmt::Display) -> Error {
        Error::input(format!("serial counter {}: {why}", self.path.display()))
    }

    fn read(&self) -> Result<State> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                self.error("no such file; create it with the first number (echo 1000 > FILE)")
            }
            _ => self.error(e),
        })?;
        State::parse(&text).map_err(|e| self.error(e))
    }

    /// Check the file before any probe is opened.
    pub fn check(&self) -> Result<()> {
        self.read().map(|_| ())
    }

    /// Change the state under the lock, and write it back atomically.
    fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> Result<T> {
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".lock");
        let _lock = Lock::exclusive(Path::new(&lock_path)).map_err(|e| self.error(format!("cannot lock it: {e}")))?;
        let mut state = self.read()?;
        let result = change(&mut state);
        let mut new_path = self.path.clone().into_os_string();
        new_path.push(".new");
        let new_path = PathBuf::from(new_path);
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&new_path)?;
            f.write_all(state.text().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&new_path, &self.path)?;
            sync_dir(&self.path);
            Ok(())
        };
        write().map_err(|e| self.error(format!("cannot write it: {e}")))?;
        Ok(result)
    }

    /// Hand a number to the chip with this UID: the one already pending for
    /// it, else the lowest given back, else the next.
    pub fn reserve(&self, uid: Option<&[u8; 12]>) -> Result<Reserved> {
        let key = uid.map_or_else(|| "-".to_string(), uid_hex);
        self.update(|s| {
            if let Some(&(n, _)) = s.pending.iter().find(|(_, u)| uid.is_some() && *u == key) {
                return Reserved { number: n, again: true };
            }
            let number = match s.free.iter().copied().min() {
                Some(n) => {
                    s.free.retain(|&f| f != n);
                    n
                }
                None => {
                    s.next += 1;
                    s.next - 1
                }
            };
            s.pending.push((number, key));
            Reserved { number, again: false }
        })
    }

    /// The write of `number` is verified: it is the chip's for good.
    pub fn commit(&self, number: u64) -> Result<()> {
        self.update(|s| s.pending.retain(|(n, _)| *n != number))
    }

    /// The run failed before the chip was written: `number` may go to another chip.
    pub fn release(&self, number: u64) -> Result<()> {
        self.update(|s| {
            s.pending.retain(|(n, _)| *n != number);
            if number + 1 == s.next {
                s.next = number;
                while s.next > 0 && s.free.contains(&(s.next - 1)) {
                    s.next -= 1;
                    let n = s.next;
                    s.free.retain(|&f| f != n);
                }
            } else if !s.free.contains(&number) {
                s.free.push(number);
            }
        })
    }
}

/// Make a rename in the directory of `path` durable (best effort).
fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: [u8; 12] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67];

    #[test]
    fn templates_render_text_numbers_and_the_uid() {
        let t = SerialTemplate::parse("0x0800FC00=SN-{counter:06}/{uid}{nul}").unwrap();
        assert_eq!(t.addr, 0x0800_FC00);
        assert!(t.uses_counter() && t.uses_uid());
        assert_eq!(t.render(Some(42), Some(&UID)).unwrap(), b"SN-000042/0123456789ABCDEF01234567\0".to_vec());
        let t = SerialTemplate::parse("16={counter:le32}{uid:raw}").unwrap();
        let mut want = 0x1234u32.to_le_bytes().to_vec();
        want.extend_from_slice(&UID);
        assert_eq!(t.render(Some(0x1234), Some(&UID)).unwrap(), want);
        let t = SerialTemplate::parse("0=#{counter:x}-{counter:4X}-{{}}-{counter}").unwrap();
        assert_eq!(t.render(Some(255), None).unwrap(), b"#ff-00FF-{}-255".to_vec());
        let t = SerialTemplate::parse("0=x{counter:08X}").unwrap();
        assert_eq!(t.render(Some(255), None).unwrap(), b"x000000FF".to_vec());
        assert!(!SerialTemplate::parse("0=BOARD-{uid}").unwrap().uses_counter());
        assert!(SerialTemplate::parse("0={counter:le32}").unwrap().render(Some(1 << 32), None).is_err());
        assert_eq!(printable(b"SN-1\0").as_deref(), Some("SN-1"));
        assert_eq!(printable(&[1, 2]), None);
    }

    #[test]
    fn bad_templates_say_why() {
        for (spec, want) in [
            ("SN-{counter}", "ADDR=TEMPLATE"),
            ("0x0800FC00=", "empty"),
            ("0=SN-{serial}", "unknown placeholder {serial}"),
            ("0={counter:abc}", "bad format"),
            ("0=a}b", "lone"),
            ("0=a{counter", "not closed"),
            ("zz=a", "not an address"),
        ] {
            let e = SerialTemplate::parse(spec).unwrap_err();
            assert!(e.contains(want), "{spec}: {e}");
        }
    }

    fn counter(text: &str) -> (Counter, PathBuf) {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("stflash-counter-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sn.txt");
        std::fs::write(&path, text).unwrap();
        (Counter::new(&path), path)
    }

    #[test]
    fn numbers_are_committed_after_the_write_and_kept_for_the_same_chip() {
        let (c, path) = counter("1000\n");
        let other = [9u8; 12];
        let a = c.reserve(Some(&UID)).unwrap();
        assert_eq!(a, Reserved { number: 1000, again: false });
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1001\npending 1000 0123456789ABCDEF01234567\n");
        // Another chip meanwhile gets the next one.
        assert_eq!(c.reserve(Some(&other)).unwrap().number, 1001);
        // The first chip's write failed: on its next attempt it gets its number again.
        assert_eq!(c.reserve(Some(&UID)).unwrap(), Reserved { number: 1000, again: true });
        c.commit(1000).unwrap();
        c.commit(1001).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1002\n");
        // A number whose write never began is given back.
        let n = c.reserve(Some(&UID)).unwrap().number;
        let m = c.reserve(Some(&other)).unwrap().number;
        c.release(n).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1004\npending 1003 090909090909090909090909\nfree 1002\n");
        assert_eq!(c.reserve(None).unwrap().number, 1002, "the lowest given back first");
        c.release(m).unwrap();
        c.release(1002).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1002\n", "given back from the top: next moves back");
    }

    #[test]
    fn the_file_must_exist_and_make_sense() {
        let (c, path) = counter("");
        assert!(c.check().unwrap_err().message.contains("empty"));
        std::fs::write(&path, "# comment\n12\nweird line\n").unwrap();
        assert!(c.check().unwrap_err().message.contains("unexpected line"));
        std::fs::remove_file(&path).unwrap();
        assert!(c.check().unwrap_err().message.contains("no such file"));
    }

    #[test]
    fn concurrent_reservations_never_share_a_number() {
        let (c, path) = counter("1\n");
        let threads: Vec<_> = (0..8u8)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    (0..10u8)
                        .map(|i| {
                            let n = c.reserve(Some(&[t, i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])).unwrap().number;
                            c.commit(n).unwrap();
                            n
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        all.sort();
        assert_eq!(all, (1..=80).collect::<Vec<_>>());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "81\n");
    }
}
