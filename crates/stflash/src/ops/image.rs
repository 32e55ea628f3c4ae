//! Firmware images: every input format (raw binary, Intel HEX, Motorola
//! S-record, ELF) parsed into a list of segments, format detection from the
//! content, and the Intel HEX writer used by `read --format ihex`.
//!
//! Unlike st-flash, an Intel HEX (or S-record) file is never flattened: gaps
//! between records stay gaps, so only the bytes the file names are written.
//! The parsers are strict: a bad checksum, a bad hex digit, overlapping
//! records or a missing end record is an [`ErrorKind::Input`] error naming the
//! line, never a silently different image.
//!
//! [`ErrorKind::Input`]: crate::error::ErrorKind::Input

use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::text;

/// A contiguous run of bytes to place at an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub addr: u32,
    pub data: Vec<u8>,
}

impl Segment {
    /// One past the last byte (may be 2^32).
    pub fn end(&self) -> u64 {
        u64::from(self.addr) + self.data.len() as u64
    }
}

/// An image: segments sorted by address, non-overlapping, each non-empty.
/// Segments that touch are merged, so two segments always have a gap between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub segments: Vec<Segment>,
    pub format: Format,
    /// The start address the file names (ELF `e_entry`, Intel HEX type 05 or
    /// 03 as CS*16+IP, S-record S7/S8/S9), if any. Informational only.
    pub entry: Option<u32>,
}

/// The file formats an image can be read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Binary,
    IntelHex,
    Srec,
    Elf,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Binary => "binary",
            Format::IntelHex => "Intel HEX",
            Format::Srec => "S-record",
            Format::Elf => "ELF",
        })
    }
}

const ELF_MAGIC: &[u8; 4] = b"\x7fELF";
const UTF8_BOM: &[u8; 3] = b"\xEF\xBB\xBF";
const FOUR_GIB: u64 = 1 << 32;

impl Format {
    /// Guess the format from the content: the ELF magic; a first non-blank
    /// line that is a well-formed Intel HEX (`:` + hex digits) or S-record
    /// (`S0`..`S9` + hex digits) record; otherwise binary.
    pub fn detect(bytes: &[u8]) -> Format {
        if bytes.starts_with(ELF_MAGIC) {
            return Format::Elf;
        }
        match lines(bytes).find(|(_, line)| !line.is_empty()) {
            Some((_, line)) if looks_like_ihex(line) => Format::IntelHex,
            Some((_, line)) if looks_like_srec(line) => Format::Srec,
            _ => Format::Binary,
        }
    }
}

fn all_hex(digits: &[u8]) -> bool {
    digits.len() % 2 == 0 && digits.iter().all(u8::is_ascii_hexdigit)
}

fn looks_like_ihex(line: &[u8]) -> bool {
    line.len() >= 11 && line[0] == b':' && all_hex(&line[1..])
}

fn looks_like_srec(line: &[u8]) -> bool {
    line.len() >= 10 && line[0] == b'S' && line[1].is_ascii_digit() && all_hex(&line[2..])
}

/// Numbered lines (from 1), with a leading UTF-8 BOM dropped and trailing
/// whitespace (including the CR of CRLF) trimmed.
/// One Intel HEX record, its frame checked (start code, length, byte
/// count, checksum): record type, 16-bit offset and data.
fn ihex_record(line: &[u8], n: usize) -> Result<(u8, u32, Vec<u8>)> {
    if line[0] != b':' {
        return Err(Error::input(format!(
            "line {n}: expected ':' at the start of the record, found {}; is this an Intel HEX file?",
            show_byte(line[0])
        )));
    }
    let rec = hex_bytes(line, 1, n)?;
    if rec.len() < 5 {
        return Err(Error::input(format!(
            "line {n}: record too short ({} hex digits after ':', at least 10 needed); the record is truncated",
            rec.len() * 2
        )));
    }
    let count = usize::from(rec[0]);
    if rec.len() != count + 5 {
        return Err(Error::input(format!(
            "line {n}: byte count 0x{:02X} announces {count} data bytes but the record holds {}; the record is truncated or corrupt",
            rec[0],
            rec.len() - 5
        )));
    }
    let found = rec[rec.len() - 1];
    let total = sum(&rec);
    if total != 0 {
        return Err(Error::input(format!(
            "line {n}: checksum mismatch: expected 0x{:02X}, found 0x{found:02X}; the file is corrupt, regenerate it",
            found.wrapping_sub(total)
        )));
    }
    Ok((rec[3], be(&rec[1..3]), rec[4..4 + count].to_vec()))
}

/// One S-record, its frame checked (start, type, length, byte count,
/// checksum): record type digit, address and data.
fn srec_record(line: &[u8], n: usize) -> Result<(u8, u32, Vec<u8>)> {
    if line[0] != b'S' {
        return Err(Error::input(format!(
            "line {n}: expected 'S' at the start of the record, found {}; is this an S-record file?",
            show_byte(line[0])
        )));
    }
    let Some(&t) = line.get(1) else {
        return Err(Error::input(format!("line {n}: record type missing after 'S'; the record is truncated")));
    };
    let addr_len = match t {
        b'0' | b'1' | b'5' | b'9' => 2,
        b'2' | b'6' | b'8' => 3,
        b'3' | b'7' => 4,
        _ => {
            let shown = if t.is_ascii_graphic() { (t as char).to_string() } else { format!("<0x{t:02X}>") };
            return Err(Error::input(format!(
                "line {n}: unknown record type S{shown} (S-records have S0-S3 and S5-S9); the file is corrupt or not an S-record file"
            )));
        }
    };
    let rec = hex_bytes(line, 2, n)?;
    if rec.len() < addr_len + 2 {
        return Err(Error::input(format!(
            "line {n}: record too short ({} hex digits after 'S{}', at least {} needed); the record is truncated",
            rec.len() * 2,
            t as char,
            (addr_len + 2) * 2
        )));
    }
    let count = usize::from(rec[0]);
    if rec.len() != count + 1 {
        return Err(Error::input(format!(
            "line {n}: byte count 0x{:02X} announces {} after it but the record holds {}; the record is truncated or corrupt",
            rec[0],
            text::count(count as u64, "byte"),
            rec.len() - 1
        )));
    }
    let found = rec[rec.len() - 1];
    let expected = !sum(&rec[..rec.len() - 1]);
    if found != expected {
        return Err(Error::input(format!(
            "line {n}: checksum mismatch: expected 0x{expected:02X}, found 0x{found:02X}; the file is corrupt, regenerate it"
        )));
    }
    Ok((t, be(&rec[1..1 + addr_len]), rec[1 + addr_len..rec.len() - 1].to_vec()))
}

fn lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let text = text.strip_prefix(UTF8_BOM).unwrap_or(text);
    text.split(|&b| b == b'\n').enumerate().map(|(i, line)| (i + 1, line.trim_ascii_end()))
}

/// A byte as it should appear in a message: `'G'`, or `byte 0x1A` when not printable.
fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02X}")
    }
}

/// Decode the hex digits of `line` from index `skip` on, naming the line and
/// column of the first bad digit.
fn hex_bytes(line: &[u8], skip: usize, n: usize) -> Result<Vec<u8>> {
    let digits = &line[skip..];
    if let Some(i) = digits.iter().position(|b| !b.is_ascii_hexdigit()) {
        return Err(Error::input(format!(
            "line {n}: invalid hex digit {} at column {}; the file is corrupt, regenerate it",
            show_byte(digits[i]),
            skip + i + 1
        )));
    }
    if digits.len() % 2 != 0 {
        return Err(Error::input(format!(
            "line {n}: odd number of hex digits ({}); the record is truncated or corrupt",
            digits.len()
        )));
    }
    let nibble = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    Ok(digits.chunks_exact(2).map(|p| nibble(p[0]) << 4 | nibble(p[1])).collect())
}

fn be(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b))
}

fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |acc, &b| acc.wrapping_add(b))
}

fn past_4gib(what: &str, addr: u64, len: usize) -> Error {
    Error::input(format!(
        "{what}: {} at 0x{addr:08X} run past the end of the 4 GiB address space; fix the addresses",
        text::count(len as u64, "byte")
    ))
}

/// Bytes from one record (or program header) before sorting and merging.
struct Chunk {
    addr: u32,
    data: Vec<u8>,
    /// Line number or program-header index, for messages.
    origin: usize,
}

/// Sort, check for overlaps and merge touching chunks. `overlap` builds the
/// message from the two origins (in ascending order) and the first shared address.
fn assemble(
    mut chunks: Vec<Chunk>,
    format: Format,
    entry: Option<u32>,
    overlap: impl Fn(usize, usize, u32) -> String,
) -> Result<Image> {
    chunks.retain(|c| !c.data.is_empty());
    chunks.sort_by_key(|c| (c.addr, c.origin));
    let mut segments: Vec<Segment> = Vec::new();
    let mut last_origin = 0;
    for chunk in chunks {
        if let Some(last) = segments.last_mut() {
            // Sorted by start and overlap-free so far: the last segment ends highest.
            let end = last.end();
            if u64::from(chunk.addr) < end {
                let (a, b) = (last_origin.min(chunk.origin), last_origin.max(chunk.origin));
                return Err(Error::input(overlap(a, b, chunk.addr)));
            }
            if u64::from(chunk.addr) == end {
                last.data.extend_from_slice(&chunk.data);
                last_origin = chunk.origin;
                continue;
            }
        }
        last_origin = chunk.origin;
        segments.push(Segment { addr: chunk.addr, data: chunk.data });
    }
    Ok(Image { segments, format, entry })
}

fn record_overlap(a: usize, b: usize, addr: u32) -> String {
    format!(
        "lines {a} and {b} both write address 0x{addr:08X}; overlapping records are ambiguous, fix the tool that generated the file"
    )
}

/// Address mode of an Intel HEX file: the last type 02 or 04 record wins.
#[derive(Clone, Copy)]
enum HexBase {
    /// Type 04: upper 16 bits; offsets continue linearly past 64 KiB.
    Linear(u32),
    /// Type 02: segment base (paragraph * 16); offsets wrap within 64 KiB.
    Segment(u32),
}

impl Image {
    /// An image with nothing in it yet (see [`Image::overlay`]).
    pub fn empty() -> Image {
        Image { segments: Vec::new(), format: Format::Binary, entry: None }
    }

    /// Place `data` at `addr` over what the image holds there: where they
    /// overlap, `data` wins; the image's other bytes stay (`write --data`
    /// and serial numbers on top of a firmware file). `data` must end by 4 GiB.
    pub fn overlay(&mut self, addr: u32, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let (start, end) = (u64::from(addr), u64::from(addr) + data.len() as u64);
        assert!(end <= FOUR_GIB, "overlay past 4 GiB");
        let mut pieces = Vec::with_capacity(self.segments.len() + 2);
        for seg in std::mem::take(&mut self.segments) {
            let (s, e) = (u64::from(seg.addr), seg.end());
            if e <= start || s >= end {
                pieces.push(seg);
                continue;
            }
            if s < start {
                pieces.push(Segment { addr: seg.addr, data: seg.data[..(start - s) as usize].to_vec() });
            }
            if e > end {
                pieces.push(Segment { addr: end as u32, data: seg.data[(end - s) as usize..].to_vec() });
            }
        }
        pieces.push(Segment { addr, data: data.to_vec() });
        pieces.sort_by_key(|p| p.addr);
        for piece in pieces {
            match self.segments.last_mut() {
                Some(last) if last.end() == u64::from(piece.addr) => last.data.extend_from_slice(&piece.data),
                _ => self.segments.push(piece),
            }
        }
    }

    /// One segment at `addr` holding the whole file.
    pub fn from_binary(bytes: Vec<u8>, addr: u32) -> Result<Image> {
        if bytes.is_empty() {
            return Err(Error::input("the image is empty; nothing to write"));
        }
        if u64::from(addr) + bytes.len() as u64 > FOUR_GIB {
            return Err(past_4gib("binary image", addr.into(), bytes.len()));
        }
        Ok(Image { segments: vec![Segment { addr, data: bytes }], format: Format::Binary, entry: None })
    }

    /// Parse Intel HEX (record types 00-05; LF or CRLF).
    pub fn parse_ihex(text: &[u8]) -> Result<Image> {
        let mut chunks = Vec::new();
        let mut base = HexBase::Linear(0);
        let mut entry = None;
        let mut eof_line = None;
        for (n, line) in lines(text) {
            if line.is_empty() {
                continue;
            }
            if let Some(eof) = eof_line {
                return Err(Error::input(format!(
                    "line {n}: text after the end-of-file record (line {eof}); remove it or fix the tool that generated the file"
                )));
            }
            let (rtype, offset, data) = ihex_record(line, n)?;
            let data = &data[..];
            let count = data.len();
            let want = |len: usize, name: &str| -> Result<()> {
                if count == len {
                    Ok(())
                } else {
                    Err(Error::input(format!(
                        "line {n}: {name} record (type 0x{rtype:02X}) must hold {len} data bytes, found {count}; the file is corrupt"
                    )))
                }
            };
            match rtype {
                0x00 => match base {
                    HexBase::Linear(upper) => {
                        let addr = u64::from(upper) + u64::from(offset);
                        if addr + count as u64 > FOUR_GIB {
                            return Err(past_4gib(&format!("line {n}"), addr, count));
                        }
                        chunks.push(Chunk { addr: addr as u32, data: data.to_vec(), origin: n });
                    }
                    HexBase::Segment(seg) => {
                        // The offset wraps at 64 KiB within the segment.
                        let first = count.min(0x1_0000 - offset as usize);
                        chunks.push(Chunk { addr: seg + offset, data: data[..first].to_vec(), origin: n });
                        chunks.push(Chunk { addr: seg, data: data[first..].to_vec(), origin: n });
                    }
                },
                0x01 => {
                    want(0, "end-of-file")?;
                    eof_line = Some(n);
                }
                0x02 => {
                    want(2, "extended segment address")?;
                    base = HexBase::Segment(be(data) << 4);
                }
                0x03 => {
                    want(4, "start segment address")?;
                    entry = Some((be(&data[..2]) << 4).wrapping_add(be(&data[2..])));
                }
                0x04 => {
                    want(2, "extended linear address")?;
                    base = HexBase::Linear(be(data) << 16);
                }
                0x05 => {
                    want(4, "start linear address")?;
                    entry = Some(be(data));
                }
                other => {
                    return Err(Error::input(format!(
                        "line {n}: unknown record type 0x{other:02X} (Intel HEX has types 00 to 05); the file is corrupt or not Intel HEX"
                    )));
                }
            }
        }
        if eof_line.is_none() {
            return Err(Error::input("no end-of-file record (:00000001FF); the file is truncated, regenerate it"));
        }
        if chunks.iter().all(|c| c.data.is_empty()) {
            return Err(Error::input("no data records; nothing to write"));
        }
        assemble(chunks, Format::IntelHex, entry, record_overlap)
    }

    /// Parse Motorola S-records (S0 header, S1/S2/S3 data, S5/S6 counts,
    /// S7/S8/S9 termination with the entry address; LF or CRLF).
    pub fn parse_srec(text: &[u8]) -> Result<Image> {
        let mut chunks = Vec::new();
        let mut entry = None;
        let mut end_line = None;
        let mut data_records: u64 = 0;
        for (n, line) in lines(text) {
            if line.is_empty() {
                continue;
            }
            if let Some(end) = end_line {
                return Err(Error::input(format!(
                    "line {n}: text after the termination record (line {end}); remove it or fix the tool that generated the file"
                )));
            }
            let (t, addr, data) = srec_record(line, n)?;
            let data = &data[..];
            let no_data = |what: &str| -> Result<()> {
                if data.is_empty() {
                    Ok(())
                } else {
                    Err(Error::input(format!(
                        "line {n}: S{} record must hold only {what}, found {} extra bytes; the file is corrupt",
                        t as char,
                        data.len()
                    )))
                }
            };
            match t {
                b'0' => {}
                b'1' | b'2' | b'3' => {
                    data_records += 1;
                    if u64::from(addr) + data.len() as u64 > FOUR_GIB {
                        return Err(past_4gib(&format!("line {n}"), addr.into(), data.len()));
                    }
                    chunks.push(Chunk { addr, data: data.to_vec(), origin: n });
                }
                b'5' | b'6' => {
                    no_data("a record count")?;
                    if u64::from(addr) != data_records {
                        return Err(Error::input(format!(
                            "line {n}: S{} record counts {addr} data records but {data_records} precede it; the file is truncated or corrupt",
                            t as char
                        )));
                    }
                }
                _ => {
                    no_data("an address")?;
                    entry = Some(addr);
                    end_line = Some(n);
                }
            }
        }
        if end_line.is_none() {
            return Err(Error::input("no termination record (S7, S8 or S9); the file is truncated, regenerate it"));
        }
        if chunks.iter().all(|c| c.data.is_empty()) {
            return Err(Error::input("no data records; nothing to write"));
        }
        assemble(chunks, Format::Srec, entry, record_overlap)
    }

    /// Parse a 32-bit little-endian ARM ELF: the file bytes of every PT_LOAD
    /// program header with a non-zero file size, at its physical address.
    pub fn parse_elf(bytes: &[u8]) -> Result<Image> {
        use object::elf;
        use object::read::elf::{FileHeader, ProgramHeader};
        use object::LittleEndian as LE;

        if !bytes.starts_with(ELF_MAGIC) {
            return Err(Error::input("not an ELF file (no \\x7FELF magic at the start)"));
        }
        match bytes.get(4) {
            Some(&elf::ELFCLASS32) => {}
            Some(&elf::ELFCLASS64) => {
                return Err(Error::input(
                    "64-bit ELF file; expected a 32-bit ARM (Cortex-M) firmware ELF, build for the STM32 target",
                ))
            }
            other => {
                return Err(Error::input(format!(
                    "unknown ELF class {}; the file is truncated or corrupt",
                    other.map_or("(missing)".to_string(), |c| c.to_string())
                )))
            }
        }
        match bytes.get(5) {
            Some(&elf::ELFDATA2LSB) => {}
            Some(&elf::ELFDATA2MSB) => {
                return Err(Error::input(
                    "big-endian ELF file; expected a little-endian 32-bit ARM (Cortex-M) firmware ELF",
                ))
            }
            other => {
                return Err(Error::input(format!(
                    "unknown ELF data encoding {}; the file is truncated or corrupt",
                    other.map_or("(missing)".to_string(), |c| c.to_string())
                )))
            }
        }
        let header_len = std::mem::size_of::<elf::FileHeader32<LE>>();
        if bytes.len() < header_len {
            return Err(Error::input(format!(
                "truncated ELF header ({}, {header_len} needed); the file is truncated",
                text::count(bytes.len() as u64, "byte")
            )));
        }
        let malformed =
            |e: object::read::Error| Error::input(format!("malformed ELF file: {e}; the file is truncated or corrupt"));
        let header = elf::FileHeader32::<LE>::parse(bytes).map_err(malformed)?;
        let machine = header.e_machine(LE);
        if machine != elf::EM_ARM {
            let name = match machine {
                elf::EM_386 => " (x86)",
                elf::EM_X86_64 => " (x86-64)",
                elf::EM_AARCH64 => " (AArch64)",
                elf::EM_RISCV => " (RISC-V)",
                elf::EM_MIPS => " (MIPS)",
                elf::EM_PPC => " (PowerPC)",
                elf::EM_XTENSA => " (Xtensa)",
                elf::EM_AVR => " (AVR)",
                _ => "",
            };
            return Err(Error::input(format!(
                "ELF file for machine {machine}{name}, not ARM; build the firmware for the STM32 (Cortex-M) target"
            )));
        }
        let phdrs = header.program_headers(LE, bytes).map_err(malformed)?;
        let mut chunks = Vec::new();
        for (i, ph) in phdrs.iter().enumerate() {
            let filesz = ph.p_filesz(LE);
            if ph.p_type(LE) != elf::PT_LOAD || filesz == 0 {
                continue;
            }
            let data = ph.data(LE, bytes).map_err(|()| {
                Error::input(format!(
                    "program header {i}: its data (offset 0x{:X}, 0x{filesz:X} bytes) lies outside the file; the file is truncated",
                    ph.p_offset(LE)
                ))
            })?;
            let addr = ph.p_paddr(LE);
            if u64::from(addr) + data.len() as u64 > FOUR_GIB {
                return Err(past_4gib(&format!("program header {i}"), addr.into(), data.len()));
            }
            chunks.push(Chunk { addr, data: data.to_vec(), origin: i });
        }
        if chunks.is_empty() {
            return Err(Error::input(
                "no loadable data (no PT_LOAD program header with file contents); give a linked firmware ELF, not an object file",
            ));
        }
        assemble(chunks, Format::Elf, Some(header.e_entry(LE)), |a, b, addr| {
            format!(
                "program headers {a} and {b} both load address 0x{addr:08X} (physical addresses overlap); check the linker script"
            )
        })
    }

    /// Read an image file. With `format` None the format is detected from the
    /// content. Binary needs `addr`; the other formats carry their addresses,
    /// so `addr`, if given, must equal the image's lowest address.
    pub fn load(path: &Path, format: Option<Format>, addr: Option<u32>) -> Result<Image> {
        const MAX_FILE_BYTES: u64 = 256 << 20;
        let shown = path.display();
        if path.is_dir() {
            return Err(Error::input(format!("{shown} is a directory, not a firmware file")));
        }
        // Refuse before reading what no STM32 could hold (the largest flash
        // is a few MiB; an ELF file with debug information is larger, but
        // not this large).
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.len() > MAX_FILE_BYTES {
                return Err(Error::input(format!(
                    "{shown} is {} MiB, more than any STM32 can hold (stflash reads files up to {} MiB); \
                     check that it is the firmware file",
                    meta.len() >> 20,
                    MAX_FILE_BYTES >> 20
                )));
            }
        }
        let bytes = std::fs::read(path).map_err(|e| {
            let why = match e.kind() {
                io::ErrorKind::NotFound => "no such file; check the path".to_string(),
                io::ErrorKind::PermissionDenied => "permission denied; check the file's permissions".to_string(),
                _ => e.to_string(),
            };
            Error::input(format!("cannot read {shown}: {why}"))
        })?;
        if bytes.is_empty() {
            return Err(Error::input(format!("{shown} is empty; nothing to write")));
        }
        let (format, how) = match format {
            Some(f) => (f, ""),
            None => (Format::detect(&bytes), "detected as "),
        };
        let image = match format {
            Format::Binary => {
                let Some(addr) = addr else {
                    let why = if how.is_empty() {
                        format!("{shown} is a binary file")
                    } else {
                        format!("{shown} is not ELF, Intel HEX or S-record, so it is written as raw binary")
                    };
                    return Err(Error::input(format!(
                        "{why}, which needs the address to write it to; give one (e.g. 0x08000000)"
                    )));
                };
                Image::from_binary(bytes, addr)
            }
            Format::IntelHex => Image::parse_ihex(&bytes),
            Format::Srec => Image::parse_srec(&bytes),
            Format::Elf => Image::parse_elf(&bytes),
        }
        .map_err(|e| e.context(format_args!("{shown} ({how}{format})")))?;
        if let Some(addr) = addr.filter(|_| format != Format::Binary) {
            if addr != image.start() {
                return Err(Error::input(format!(
                    "{shown} is an {format} file whose data starts at 0x{:08X}, not at the given address 0x{addr:08X}; drop the address (the file carries its own)",
                    image.start()
                )));
            }
        }
        Ok(image)
    }

    /// Total number of data bytes.
    pub fn len(&self) -> u64 {
        self.segments.iter().map(|s| s.data.len() as u64).sum()
    }

    /// True when there are no data bytes (never for a parsed image).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lowest address (0 for an empty image).
    pub fn start(&self) -> u32 {
        self.segments.first().map_or(0, |s| s.addr)
    }

    /// One past the highest address (0 for an empty image).
    pub fn end(&self) -> u64 {
        self.segments.last().map_or(0, Segment::end)
    }

    /// The segments for messages: `0x08000000-0x080025E7 (9704 bytes)`, comma-separated.
    pub fn segments_text(&self) -> String {
        self.segments
            .iter()
            .map(|s| format!("0x{:08X}-0x{:08X} ({})", s.addr, s.end() - 1, text::count(s.data.len() as u64, "byte")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn write_record(out: &mut impl Write, offset: u16, rtype: u8, data: &[u8]) -> io::Result<()> {
    let mut line = String::with_capacity(13 + 2 * data.len());
    let [hi, lo] = offset.to_be_bytes();
    let mut checksum = (data.len() as u8).wrapping_add(hi).wrapping_add(lo).wrapping_add(rtype);
    line.push_str(&format!(":{:02X}{offset:04X}{rtype:02X}", data.len()));
    for &b in data {
        line.push_str(&format!("{b:02X}"));
        checksum = checksum.wrapping_add(b);
    }
    line.push_str(&format!("{:02X}\r\n", checksum.wrapping_neg()));
    out.write_all(line.as_bytes())
}

/// Write `data` at `addr` as Intel HEX exactly like `st-flash --format ihex
/// read`: CRLF, an Extended Linear Address record whenever the upper 16
/// address bits change (one first unless `addr` < 0x10000), 16-byte data
/// records (cut short at a 64 KiB boundary), upper-case hex, `:00000001FF`.
pub fn write_ihex(addr: u32, data: &[u8], out: &mut impl Write) -> io::Result<()> {
    if u64::from(addr) + data.len() as u64 > FOUR_GIB {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} at 0x{addr:08X} run past the 4 GiB address space", text::count(data.len() as u64, "byte")),
        ));
    }
    let mut upper = 0u32;
    if addr >= 0x1_0000 {
        upper = addr >> 16;
        write_record(out, 0, 0x04, &(upper as u16).to_be_bytes())?;
    }
    let mut cur = addr;
    let mut rest = data;
    while !rest.is_empty() {
        if cur >> 16 != upper {
            upper = cur >> 16;
            write_record(out, 0, 0x04, &(upper as u16).to_be_bytes())?;
        }
        let room = 0x1_0000 - (cur & 0xFFFF) as usize;
        let n = rest.len().min(16).min(room);
        write_record(out, cur as u16, 0x00, &rest[..n])?;
        rest = &rest[n..];
        cur = cur.wrapping_add(n as u32);
    }
    out.write_all(b":00000001FF\r\n")
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod robustness;
