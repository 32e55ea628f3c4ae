//! The journal of kept bytes.
//!
//! A write keeps the bytes of every sector it touches that the image does
//! not cover: it reads them, erases the sector, and programs them back. From
//! the erase until the sector is written, those bytes exist only on the
//! host. If the link fails in between (USB unplugged, a crash, a forced
//! exit), they would be lost for good, and a rerun would "keep" the erased
//! values. So before the first such erase the write records, for each
//! sector whose new contents include kept bytes that are not blank, the
//! sector's whole new contents in a journal file, flushed to disk; the
//! journal is deleted only after every sector is verified.
//!
//! A later write or erase on the same chip (matched by its 96-bit unique ID)
//! finds the journal, writes those sectors first, says so, and deletes it.
//! Any other command warns that it is pending.
//!
//! Where: `$STFLASH_STATE_DIR` if set, else the platform's state directory
//! (`$XDG_STATE_HOME/stflash`, or `~/.local/state/stflash` on Linux and
//! other Unix; `~/Library/Application Support/stflash` on macOS;
//! `%LOCALAPPDATA%\stflash` on Windows). One file per chip:
//! `journal-<unique ID>.bin`.
//!
//! Format (little-endian): the magic `STFLASH-JOURNAL1`, the length and
//! UTF-8 text of what the write was (image file and its CRC-32), the number
//! of sectors, then per sector its address, length, CRC-32 and bytes, and a
//! CRC-32 of everything before it. A file that does not check is reported
//! and left alone, never restored.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crc::{Crc, CRC_32_ISO_HDLC};

const MAGIC: &[u8; 16] = b"STFLASH-JOURNAL1";
const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// The standard CRC-32 (zlib's `crc32`).
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// The CRC-32 of `crc`'s bytes followed by `bytes` (as zlib's `crc32(crc, …)`).
pub fn crc32_continue(crc: u32, bytes: &[u8]) -> u32 {
    // The standard CRC-32 has initial value and final XOR 0xFFFFFFFF: undo
    // the final XOR to continue from a result (the crate takes a reflected
    // algorithm's initial register bit-reversed).
    let mut d = CRC32.digest_with_initial((!crc).reverse_bits());
    d.update(bytes);
    d.finalize()
}

/// One sector's new contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub addr: u32,
    pub data: Vec<u8>,
}

/// What a journal holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What the interrupted write was: "fw.bin (CRC-32 0x1234ABCD)".
    pub what: String,
    pub entries: Vec<Entry>,
}

/// The journal of one chip.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    /// The journal of the chip with this unique ID (hex) in `dir`.
    pub fn in_dir(dir: &Path, chip: &str) -> Journal {
        Journal { path: dir.join(format!("journal-{chip}.bin")) }
    }

    /// The journal of the chip with this unique ID (hex), in the state
    /// directory (`None` when the platform has none: no home directory).
    pub fn for_chip(chip: &str) -> Option<Journal> {
        state_dir().map(|dir| Journal::in_dir(&dir, chip))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write the record and flush it to disk (the file, then its directory),
    /// replacing any older journal of this chip only once the new one is
    /// complete.
    pub fn record(&self, record: &Record) -> io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&encode(record))?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all(); // directories cannot be synced everywhere (Windows)
        }
        Ok(())
    }

    /// The pending record, if there is one.
    pub fn load(&self) -> Result<Option<Record>, String> {
        match fs::read(&self.path) {
            Ok(bytes) => decode(&bytes).map(Some).ok_or_else(|| {
                format!(
                    "the journal {} is damaged and was not used; move it away once you have checked the chip",
                    self.path.display()
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read the journal {}: {e}", self.path.display())),
        }
    }

    /// Delete the journal (the write it protected is verified).
    pub fn clear(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// `$STFLASH_STATE_DIR`, else the platform's per-user state directory.
pub fn state_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("STFLASH_STATE_DIR") {
        return Some(dir);
    }
    if cfg!(windows) {
        return var("LOCALAPPDATA").map(|d| d.join("stflash"));
    }
    if cfg!(target_os = "macos") {
        return var("HOME").map(|h| h.join("Library/Application Support/stflash"));
    }
    var("XDG_STATE_HOME").or_else(|| var("HOME").map(|h| h.join(".local/state"))).map(|d| d.join("stflash"))
}

fn encode(record: &Record) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    let put = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
    put(&mut out, record.what.len() as u32);
    out.extend_from_slice(record.what.as_bytes());
    put(&mut out, record.entries.len() as u32);
    for e in &record.entries {
        put(&mut out, e.addr);
        put(&mut out, e.data.len() as u32);
        put(&mut out, crc32(&e.data));
        out.extend_from_slice(&e.data);
    }
    let sum = crc32(&out);
    put(&mut out, sum);
    out
}

fn decode(bytes: &[u8]) -> Option<Record> {
    let body = bytes.get(..bytes.len().checked_sub(4)?)?;
    let sum = u32::from_le_bytes(bytes[body.len()..].try_into().ok()?);
    if !body.starts_with(MAGIC) || crc32(body) != sum {
        return None;
    }
    let mut at = MAGIC.len();
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = body.get(at..at + n)?;
        at += n;
        Some(s)
    };
    let word = |s: &[u8]| u32::from_le_bytes(s.try_into().expect("4 bytes"));
    let len = word(take(4)?) as usize;
    let what = String::from_utf8(take(len)?.to_vec()).ok()?;
    let count = word(take(4)?);
    let mut entries = Vec::new();
    for _ in 0..count {
        let addr = word(take(4)?);
        let len = word(take(4)?) as usize;
        let crc = word(take(4)?);
        let data = take(len)?.to_vec();
        if crc32(&data) != crc {
            return None;
        }
        entries.push(Entry { addr, data });
    }
    Some(Record { what, entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("stflash-journal-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn record() -> Record {
        Record {
            what: "fw.bin (CRC-32 0x12345678)".into(),
            entries: vec![
                Entry { addr: 0x0801_0000, data: (0..=255).collect() },
                Entry { addr: 0x0802_0000, data: vec![0x5A; 64] },
            ],
        }
    }

    #[test]
    fn a_recorded_journal_loads_back_and_is_gone_once_cleared() {
        let j = Journal::in_dir(&dir("roundtrip"), "0123456789ABCDEF01234567");
        assert_eq!(j.load().unwrap(), None);
        j.record(&record()).unwrap();
        assert_eq!(j.load().unwrap(), Some(record()));
        j.clear().unwrap();
        assert_eq!(j.load().unwrap(), None);
        j.clear().unwrap();
    }

    #[test]
    fn a_damaged_journal_is_reported_never_used() {
        let j = Journal::in_dir(&dir("damaged"), "chip");
        j.record(&record()).unwrap();
        let mut bytes = fs::read(j.path()).unwrap();
        for i in [0, 20, 40, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            fs::write(j.path(), &bad).unwrap();
            assert!(j.load().unwrap_err().contains("damaged"), "byte {i}");
        }
        bytes.truncate(bytes.len() - 10);
        fs::write(j.path(), &bytes).unwrap();
        assert!(j.load().is_err(), "truncated");
    }

    #[test]
    fn crc32_is_zlibs_and_continues_like_zlib() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32_continue(crc32(b"1234"), b"56789"), 0xCBF4_3926);
        assert_eq!(crc32_continue(0, b"123456789"), 0xCBF4_3926);
    }
}
