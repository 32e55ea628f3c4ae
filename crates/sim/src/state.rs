//! The state file: what a simulated chip keeps between runs (its flash
//! model's persistent contents, and SRAM: the chip stays powered between runs).
//!
//! Format, all integers little-endian:
//!
//! ```text
//! magic    8 bytes  "STFLSIM\x1a"
//! version  u32      1
//! chip     u16 length + UTF-8 canonical chip name
//! count    u32      number of blobs
//! blob     u16 length + UTF-8 name, u32 length + bytes   (count times)
//! crc      u32      CRC-32 (IEEE) of everything before it
//! ```

use std::path::Path;

use super::model::FlashModel;
use super::parts;

const MAGIC: &[u8; 8] = b"STFLSIM\x1a";
const VERSION: u32 = 1;

/// Named blobs as produced by `FlashModel::save`.
pub type Blobs = Vec<(String, Vec<u8>)>;

/// CRC-32 (IEEE, as zlib): table-driven through the `crc` crate, because a
/// bit-by-bit loop over a 2 MiB H7 flash image costs about 0.1 s per state
/// file read or write in debug builds, which every end-to-end test pays.
fn crc32(data: &[u8]) -> u32 {
    const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    CRC32.checksum(data)
}

/// Serialise a chip's persistent state.
pub fn encode(chip: &str, blobs: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(chip.len() as u16).to_le_bytes());
    out.extend_from_slice(chip.as_bytes());
    out.extend_from_slice(&(blobs.len() as u32).to_le_bytes());
    for (name, data) in blobs {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or("truncated")?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn string(&mut self) -> Result<String, String> {
        let n = self.u16()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "bad UTF-8 in a name".to_string())
    }
}

/// Parse what [`encode`] produced: (chip name, blobs).
pub fn decode(bytes: &[u8]) -> Result<(String, Blobs), String> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not a stflash simulator state file".into());
    }
    if bytes.len() < MAGIC.len() + 8 {
        return Err("truncated".into());
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32(body) != u32::from_le_bytes(crc.try_into().unwrap()) {
        return Err("checksum mismatch (file damaged or truncated)".into());
    }
    let mut r = Reader { data: body, pos: MAGIC.len() };
    let version = r.u32()?;
    if version != VERSION {
        return Err(format!("unsupported state-file version {version} (this build reads {VERSION})"));
    }
    let chip = r.string()?;
    let count = r.u32()?;
    let mut blobs = Vec::new();
    for _ in 0..count {
        let name = r.string()?;
        let len = r.u32()? as usize;
        blobs.push((name, r.take(len)?.to_vec()));
    }
    if r.pos != body.len() {
        return Err("trailing bytes".into());
    }
    Ok((chip, blobs))
}

/// Read a state file; `Ok(None)` when it does not exist yet (a fresh chip).
pub fn read_file(path: &Path) -> Result<Option<(String, Blobs)>, String> {
    match std::fs::read(path) {
        Ok(bytes) => decode(&bytes).map(Some).map_err(|e| format!("simulator state file {}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read simulator state file {}: {e}", path.display())),
    }
}

/// Write a state file atomically (temporary file, then rename).
pub fn write_file(path: &Path, chip: &str, blobs: &[(String, Vec<u8>)]) -> Result<(), String> {
    let bytes = encode(chip, blobs);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path)).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write simulator state file {}: {e}", path.display())
    })
}

/// The error for a state file made for another chip.
pub fn wrong_chip(path: &Path, saved: &str, wanted: &str) -> String {
    format!(
        "simulator state file {} holds a {saved}, not a {wanted}; use another file or --sim {saved}",
        path.display()
    )
}

/// A state file read back for inspection (end-to-end tests).
pub struct SavedState {
    chip: &'static str,
    model: Box<dyn FlashModel>,
    /// SRAM regions as (base, contents).
    sram: Vec<(u32, Vec<u8>)>,
}

impl std::fmt::Debug for SavedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedState").field("chip", &self.chip).field("model", &self.model.name()).finish()
    }
}

impl SavedState {
    /// Canonical name of the chip the file belongs to.
    pub fn chip(&self) -> &str {
        self.chip
    }

    /// Raw contents: SRAM, or what the flash model maps (flash, option bytes, OTP).
    pub fn peek(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        for (base, mem) in &self.sram {
            if let Some(off) = addr.checked_sub(*base).map(|o| o as usize).filter(|&o| o < mem.len()) {
                return mem.get(off..off + len).map(<[u8]>::to_vec);
            }
        }
        self.model.peek(addr, len)
    }
}

/// Load a state file for inspection.
pub fn load(path: &Path) -> Result<SavedState, String> {
    let (chip, blobs) =
        read_file(path)?.ok_or_else(|| format!("simulator state file {} does not exist", path.display()))?;
    let part = parts::lookup(&chip).map_err(|e| format!("simulator state file {}: {e}", path.display()))?;
    let (sram, flash): (Vec<_>, Vec<_>) =
        blobs.into_iter().partition(|(name, _)| name.starts_with(super::mcu::SRAM_BLOB));
    let mut model = (part.flash)();
    model.load(&flash).map_err(|e| format!("simulator state file {}: {e}", path.display()))?;
    let sram = sram
        .into_iter()
        .filter_map(|(name, data)| {
            let base = u32::from_str_radix(name.strip_prefix(super::mcu::SRAM_BLOB)?, 16).ok()?;
            Some((base, data))
        })
        .collect();
    Ok(SavedState { chip: part.name, model, sram })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("stflash-sim-state-{}-{name}", std::process::id()))
    }

    #[test]
    fn crc32_is_the_ieee_crc() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn encode_decode_round_trip() {
        let blobs = vec![("flash".to_string(), vec![1, 2, 3]), ("otp".to_string(), vec![])];
        let bytes = encode("stm32f103c8", &blobs);
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(decode(&bytes).unwrap(), ("stm32f103c8".to_string(), blobs));
    }

    #[test]
    fn checksum_is_the_standard_crc32() {
        // The CRC-32 check value: state files written before the table-driven
        // version still load.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn damaged_files_are_refused() {
        let mut bytes = encode("stm32f103c8", &[("flash".to_string(), vec![0; 16])]);
        assert!(decode(b"hello").unwrap_err().contains("not a stflash"));
        assert!(decode(&bytes[..bytes.len() - 1]).unwrap_err().contains("checksum"));
        bytes[20] ^= 1;
        assert!(decode(&bytes).unwrap_err().contains("checksum"));
    }

    #[test]
    fn missing_file_is_a_fresh_chip_and_files_round_trip() {
        let p = tmp("rt");
        let _ = std::fs::remove_file(&p);
        assert_eq!(read_file(&p).unwrap(), None);
        assert!(load(&p).unwrap_err().contains("does not exist"));
        let mut flash = vec![0xFF; 64 * 1024];
        flash[5] = 0x42;
        write_file(&p, "stm32f103c8", &[("flash".to_string(), flash)]).unwrap();
        let s = load(&p).unwrap();
        assert_eq!(s.chip(), "stm32f103c8");
        assert_eq!(s.peek(0x0800_0004, 2), Some(vec![0xFF, 0x42]));
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn wrong_chip_message_names_both() {
        let m = wrong_chip(Path::new("x.sim"), "stm32h7a3", "stm32f103c8");
        assert!(m.contains("stm32h7a3") && m.contains("stm32f103c8") && m.contains("x.sim"));
    }
}
