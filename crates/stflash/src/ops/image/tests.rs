use super::*;
use crate::error::ErrorKind;
use std::path::PathBuf;

// ---------------------------------------------------------------- helpers

/// SplitMix64: small, deterministic, good enough for test inputs.
pub(super) struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform-ish in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// One Intel HEX record, checksum computed here (independently of the parser).
pub(super) fn ihex_rec(offset: u16, rtype: u8, data: &[u8]) -> String {
    let mut bytes = vec![data.len() as u8, (offset >> 8) as u8, offset as u8, rtype];
    bytes.extend_from_slice(data);
    let s: u32 = bytes.iter().map(|&b| u32::from(b)).sum();
    bytes.push((256 - (s % 256)) as u8);
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!(":{hex}\n")
}

/// One S-record of type `t` ('0'..'9'), checksum computed here.
pub(super) fn srec_rec(t: char, addr: u32, data: &[u8]) -> String {
    let addr_len = match t {
        '0' | '1' | '5' | '9' => 2,
        '2' | '6' | '8' => 3,
        _ => 4,
    };
    let mut bytes = vec![(addr_len + data.len() + 1) as u8];
    bytes.extend_from_slice(&addr.to_be_bytes()[4 - addr_len..]);
    bytes.extend_from_slice(data);
    let s: u32 = bytes.iter().map(|&b| u32::from(b)).sum();
    bytes.push(!(s as u8));
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!("S{t}{hex}\n")
}

/// The message of an expected Input error (and it is one line).
#[track_caller]
fn err(r: Result<Image>) -> String {
    let e = r.expect_err("expected an error");
    assert_eq!(e.kind, ErrorKind::Input, "{}", e.message);
    assert!(!e.message.contains('\n'), "multi-line message: {:?}", e.message);
    e.message
}

#[track_caller]
fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} lacks {p:?}");
    }
}

fn seg(addr: u32, data: &[u8]) -> Segment {
    Segment { addr, data: data.to_vec() }
}

const EOF: &str = ":00000001FF\n";

/// A program header for the test ELF builder.
pub(super) struct Ph {
    pub p_type: u32,
    pub vaddr: u32,
    pub paddr: u32,
    pub data: Vec<u8>,
    pub memsz: u32,
}

pub(super) fn load_ph(paddr: u32, vaddr: u32, data: &[u8], memsz: u32) -> Ph {
    Ph { p_type: 1, vaddr, paddr, data: data.to_vec(), memsz }
}

/// A minimal ELF: header, program headers, then each header's data. Always
/// written little-endian; `class`, `encoding` and `machine` go in as given.
pub(super) fn elf(class: u8, encoding: u8, machine: u16, entry: u32, phs: &[Ph]) -> Vec<u8> {
    let mut o = Vec::new();
    o.extend_from_slice(b"\x7fELF");
    o.extend_from_slice(&[class, encoding, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    o.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    o.extend_from_slice(&machine.to_le_bytes());
    o.extend_from_slice(&1u32.to_le_bytes());
    o.extend_from_slice(&entry.to_le_bytes());
    o.extend_from_slice(&52u32.to_le_bytes()); // e_phoff
    o.extend_from_slice(&0u32.to_le_bytes()); // e_shoff
    o.extend_from_slice(&0x0500_0200u32.to_le_bytes()); // e_flags
    o.extend_from_slice(&52u16.to_le_bytes());
    o.extend_from_slice(&32u16.to_le_bytes());
    o.extend_from_slice(&(phs.len() as u16).to_le_bytes());
    o.extend_from_slice(&40u16.to_le_bytes());
    o.extend_from_slice(&0u16.to_le_bytes());
    o.extend_from_slice(&0u16.to_le_bytes());
    assert_eq!(o.len(), 52);
    let mut off = 52 + 32 * phs.len() as u32;
    for ph in phs {
        for v in [ph.p_type, off, ph.vaddr, ph.paddr, ph.data.len() as u32, ph.memsz, 5, 4] {
            o.extend_from_slice(&v.to_le_bytes());
        }
        off += ph.data.len() as u32;
    }
    for ph in phs {
        o.extend_from_slice(&ph.data);
    }
    o
}

/// A typical firmware ELF: .text+.data image in flash, .data also at its RAM
/// address (vaddr), .bss with memsz > filesz.
pub(super) fn sample_elf() -> Vec<u8> {
    elf(
        1,
        1,
        40,
        0x0800_0101,
        &[
            load_ph(0x0800_0000, 0x0800_0000, &[1, 2, 3, 4, 5, 6, 7, 8], 8),
            // .data: loaded at 0x20000000, stored in flash right after .text;
            // memsz > filesz (.bss tail must not become flash content).
            load_ph(0x0800_0008, 0x2000_0000, &[9, 10, 11, 12], 0x100),
        ],
    )
}

fn tmp(name: &str, contents: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("stflash-image-test-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

// ---------------------------------------------------------------- Format

#[test]
fn format_display() {
    assert_eq!(Format::Binary.to_string(), "binary");
    assert_eq!(Format::IntelHex.to_string(), "Intel HEX");
    assert_eq!(Format::Srec.to_string(), "S-record");
    assert_eq!(Format::Elf.to_string(), "ELF");
}

#[test]
fn detect_formats() {
    assert_eq!(Format::detect(&sample_elf()), Format::Elf);
    assert_eq!(Format::detect(b"\x7fELF"), Format::Elf);
    assert_eq!(Format::detect(b":10010000214601360121470136007EFE09D2190140\r\n:00000001FF\r\n"), Format::IntelHex);
    assert_eq!(Format::detect(b":00000001FF"), Format::IntelHex);
    assert_eq!(Format::detect(b"\xEF\xBB\xBF\r\n\n:00000001FF\n"), Format::IntelHex);
    assert_eq!(Format::detect(b"S00F000068656C6C6F202020202000003C\nS9030000FC\n"), Format::Srec);
    assert_eq!(Format::detect(b"\n  \nS9030000FC"), Format::Srec);
    assert_eq!(Format::detect(b"S1130000"), Format::Binary); // too short for a record
    assert_eq!(Format::detect(b""), Format::Binary);
    assert_eq!(Format::detect(b"\n\n"), Format::Binary);
    assert_eq!(Format::detect(&[0x00, 0x50, 0x00, 0x20, 0x01, 0x01, 0x00, 0x08]), Format::Binary);
    // Starts like a record but is not one.
    assert_eq!(Format::detect(b":0000000\x001FF\n"), Format::Binary);
    assert_eq!(Format::detect(b":000000001FF\n"), Format::Binary); // odd digit count
    assert_eq!(Format::detect(b"S0 header text\n"), Format::Binary);
    assert_eq!(Format::detect(b"SX030000FC\n"), Format::Binary);
    assert_eq!(Format::detect(b"\x7fELX"), Format::Binary);
}

// ---------------------------------------------------------------- binary

#[test]
fn binary_is_one_segment() {
    let img = Image::from_binary(vec![1, 2, 3], 0x0800_0000).unwrap();
    assert_eq!(img.segments, vec![seg(0x0800_0000, &[1, 2, 3])]);
    assert_eq!(img.format, Format::Binary);
    assert_eq!(img.entry, None);
    // Ends exactly at 4 GiB: fine.
    let img = Image::from_binary(vec![0; 4], 0xFFFF_FFFC).unwrap();
    assert_eq!(img.end(), 1 << 32);
}

#[test]
fn binary_errors() {
    assert_contains(&err(Image::from_binary(vec![], 0x0800_0000)), &["empty", "nothing to write"]);
    assert_contains(&err(Image::from_binary(vec![0; 5], 0xFFFF_FFFC)), &["5 bytes at 0xFFFFFFFC", "4 GiB"]);
}

#[test]
fn image_accessors() {
    let img = Image {
        segments: vec![seg(0x0800_0000, &[0; 9704]), seg(0x0800_4000, &[1, 2])],
        format: Format::IntelHex,
        entry: None,
    };
    assert_eq!(img.len(), 9706);
    assert!(!img.is_empty());
    assert_eq!(img.start(), 0x0800_0000);
    assert_eq!(img.end(), 0x0800_4002);
    assert_eq!(img.segments_text(), "0x08000000-0x080025E7 (9704 bytes), 0x08004000-0x08004001 (2 bytes)");
    let empty = Image { segments: vec![], format: Format::Binary, entry: None };
    assert_eq!((empty.len(), empty.start(), empty.end(), empty.is_empty()), (0, 0, 0, true));
    assert_eq!(empty.segments_text(), "");
}

// ---------------------------------------------------------------- Intel HEX

/// The classic example file (independently produced checksums).
const WIKI_HEX: &str = ":10010000214601360121470136007EFE09D2190140\n\
:100110002146017E17C20001FF5F16002148011928\n\
:10012000194E79234623965778239EDA3F01B2CAA7\n\
:100130003F0156702B5E712B722B732146013421C7\n\
:00000001FF\n";

#[test]
fn ihex_known_file_merges_adjacent_records() {
    let img = Image::parse_ihex(WIKI_HEX.as_bytes()).unwrap();
    assert_eq!(img.format, Format::IntelHex);
    assert_eq!(img.entry, None);
    assert_eq!(img.segments.len(), 1);
    assert_eq!(img.start(), 0x0100);
    assert_eq!(img.len(), 64);
    assert_eq!(&img.segments[0].data[..4], &[0x21, 0x46, 0x01, 0x36]);
    assert_eq!(&img.segments[0].data[61..], &[0x01, 0x34, 0x21]);
    // CRLF gives the same image.
    let crlf = WIKI_HEX.replace('\n', "\r\n");
    assert_eq!(Image::parse_ihex(crlf.as_bytes()).unwrap(), img);
}

#[test]
fn ihex_gaps_stay_gaps_and_records_sort() {
    let text = [
        ihex_rec(0, 4, &[0x08, 0x00]),
        ihex_rec(0x0010, 0, &[5, 6]),
        ihex_rec(0x0000, 0, &[1, 2, 3, 4]),
        ihex_rec(0x0004, 0, &[9]),
        ihex_rec(0, 4, &[0x1F, 0xFF]),
        ihex_rec(0xF800, 0, &[0xAA, 0xBB]),
        EOF.to_string(),
    ]
    .concat();
    let img = Image::parse_ihex(text.as_bytes()).unwrap();
    assert_eq!(
        img.segments,
        vec![seg(0x0800_0000, &[1, 2, 3, 4, 9]), seg(0x0800_0010, &[5, 6]), seg(0x1FFF_F800, &[0xAA, 0xBB])]
    );
    assert_eq!(img.len(), 9);
}

#[test]
fn ihex_linear_offsets_continue_past_64k() {
    let text = [ihex_rec(0, 4, &[0x08, 0x00]), ihex_rec(0xFFFE, 0, &[1, 2, 3, 4]), EOF.to_string()].concat();
    let img = Image::parse_ihex(text.as_bytes()).unwrap();
    assert_eq!(img.segments, vec![seg(0x0800_FFFE, &[1, 2, 3, 4])]);
}

#[test]
fn ihex_extended_segment_address() {
    // 0x1000:0x0010 = 0x10010; then back to linear addressing.
    let text = [
        ihex_rec(0, 2, &[0x10, 0x00]),
        ihex_rec(0x0010, 0, &[1, 2]),
        ihex_rec(0, 4, &[0x08, 0x00]),
        ihex_rec(0x0000, 0, &[3]),
        EOF.to_string(),
    ]
    .concat();
    let img = Image::parse_ihex(text.as_bytes()).unwrap();
    assert_eq!(img.segments, vec![seg(0x10010, &[1, 2]), seg(0x0800_0000, &[3])]);
}

#[test]
fn ihex_segment_offsets_wrap_at_64k() {
    let text = [ihex_rec(0, 2, &[0x20, 0x00]), ihex_rec(0xFFFE, 0, &[1, 2, 3, 4]), EOF.to_string()].concat();
    let img = Image::parse_ihex(text.as_bytes()).unwrap();
    assert_eq!(img.segments, vec![seg(0x20000, &[3, 4]), seg(0x2FFFE, &[1, 2])]);
}

#[test]
fn ihex_start_addresses() {
    let text = [ihex_rec(0, 0, &[1]), ihex_rec(0, 5, &[0x08, 0x00, 0x01, 0x01]), EOF.to_string()].concat();
    assert_eq!(Image::parse_ihex(text.as_bytes()).unwrap().entry, Some(0x0800_0101));
    // Type 03 CS:IP = 0x1234:0x0010 → 0x12350.
    let text = [ihex_rec(0, 0, &[1]), ihex_rec(0, 3, &[0x12, 0x34, 0x00, 0x10]), EOF.to_string()].concat();
    assert_eq!(Image::parse_ihex(text.as_bytes()).unwrap().entry, Some(0x12350));
}

#[test]
fn ihex_lowercase_blank_lines_and_trailing_space_accepted() {
    let text = "\n:0400000001020304f2  \r\n\r\n:00000001ff\r\n\r\n\n  \n";
    let img = Image::parse_ihex(text.as_bytes()).unwrap();
    assert_eq!(img.segments, vec![seg(0, &[1, 2, 3, 4])]);
    assert_eq!(Image::parse_ihex(b":0100000001FE\n:00000001FF").unwrap().len(), 1);
    // no final newline
}

#[test]
fn ihex_checksum_error_names_line_and_values() {
    let text = format!("{}:0400100001020304E3\n{EOF}", ihex_rec(0, 0, &[0]));
    let msg = err(Image::parse_ihex(text.as_bytes()));
    assert_contains(&msg, &["line 2", "checksum", "expected 0xE2", "found 0xE3"]);
}

#[test]
fn ihex_unknown_record_type() {
    let text = format!("{}{}{EOF}", ihex_rec(0, 0, &[0]), ihex_rec(0, 6, &[]));
    assert_contains(&err(Image::parse_ihex(text.as_bytes())), &["line 2", "unknown record type 0x06"]);
}

#[test]
fn ihex_bad_hex_digit_rejected() {
    // st-flash reads 'G' as 0; we reject it.
    let text = format!(":0100000G01FE\n{EOF}");
    assert_contains(&err(Image::parse_ihex(text.as_bytes())), &["line 1", "invalid hex digit 'G'", "column 9"]);
    let text = format!(":01000000\x0101FE\n{EOF}");
    assert_contains(&err(Image::parse_ihex(text.as_bytes())), &["line 1", "byte 0x01"]);
}

#[test]
fn ihex_shape_errors() {
    let cases: &[(&str, &[&str])] = &[
        ("1000000001FE\n", &["line 1", "expected ':'", "found '1'"]),
        (":0100000001F\n", &["line 1", "odd number of hex digits"]),
        (":00000001\n", &["line 1", "too short"]),
        (":\n", &["line 1", "too short"]),
        (":02000000010100FC\n", &["line 1", "byte count 0x02", "2 data bytes", "holds 3"]),
        (":0300000001FB\n", &["line 1", "byte count 0x03", "holds 1"]),
        (":020000040800F2\n:0100000001FE\n:01000001AA54\n", &["line 3", "end-of-file record", "must hold 0"]),
        (":0100000001FE\n:0300000408000AE7\n", &["line 2", "extended linear address", "must hold 2", "found 3"]),
        (":0100000001FE\n:03000002080000F3\n", &["line 2", "extended segment address", "must hold 2"]),
        (":0100000001FE\n:020000050800F1\n", &["line 2", "start linear address", "must hold 4"]),
        (":0100000001FE\n:020000030800F3\n", &["line 2", "start segment address", "must hold 4"]),
    ];
    for (text, parts) in cases {
        let full = format!("{text}{EOF}");
        assert_contains(&err(Image::parse_ihex(full.as_bytes())), parts);
    }
}

#[test]
fn ihex_missing_eof() {
    let text = ihex_rec(0, 0, &[1, 2]);
    assert_contains(&err(Image::parse_ihex(text.as_bytes())), &["no end-of-file record", ":00000001FF"]);
    assert_contains(&err(Image::parse_ihex(b"")), &["no end-of-file record"]);
}

#[test]
fn ihex_data_after_eof() {
    let text = format!("{}{EOF}\r\n\n{}", ihex_rec(0, 0, &[1]), ihex_rec(1, 0, &[2]));
    assert_contains(&err(Image::parse_ihex(text.as_bytes())), &["line 5", "after the end-of-file record (line 2)"]);
    let text = format!("{}{EOF}garbage", ihex_rec(0, 0, &[1]));
    assert_contains(&err(Image::parse_ihex(text.as_bytes())), &["line 3", "line 2"]);
    let text = format!("{}{EOF}{EOF}", ihex_rec(0, 0, &[1]));
    assert_contains(&err(Image::parse_ihex(text.as_bytes())), &["line 3"]);
}

#[test]
fn ihex_no_data() {
    assert_contains(&err(Image::parse_ihex(EOF.as_bytes())), &["no data records", "nothing to write"]);
    let text = format!("{}{}{EOF}", ihex_rec(0, 4, &[8, 0]), ihex_rec(0, 0, &[]));
    assert_contains(&err(Image::parse_ihex(text.as_bytes())), &["no data records"]);
}

#[test]
fn ihex_overlap_is_an_error_even_with_equal_bytes() {
    let text = [
        ihex_rec(0, 4, &[0x08, 0x00]),
        ihex_rec(0x0000, 0, &[1, 2, 3, 4]),
        ihex_rec(0x0010, 0, &[7]),
        ihex_rec(0x0002, 0, &[3, 4]),
        EOF.to_string(),
    ]
    .concat();
    let msg = err(Image::parse_ihex(text.as_bytes()));
    assert_contains(&msg, &["lines 2 and 4", "0x08000002", "overlap"]);
    // Overlap reached through a different extended address (records in reverse order).
    let text = [
        ihex_rec(0, 4, &[0x08, 0x01]),
        ihex_rec(0x0000, 0, &[1]),
        ihex_rec(0, 4, &[0x08, 0x00]),
        ihex_rec(0xFFFF, 0, &[9, 1]),
        EOF.to_string(),
    ]
    .concat();
    assert_contains(&err(Image::parse_ihex(text.as_bytes())), &["lines 2 and 4", "0x08010000"]);
    // The same record twice.
    let text = [ihex_rec(0x100, 0, &[1]), ihex_rec(0x100, 0, &[1]), EOF.to_string()].concat();
    assert_contains(&err(Image::parse_ihex(text.as_bytes())), &["lines 1 and 2", "0x00000100"]);
}

#[test]
fn ihex_address_overflow() {
    let ok = [ihex_rec(0, 4, &[0xFF, 0xFF]), ihex_rec(0xFFFE, 0, &[1, 2]), EOF.to_string()].concat();
    assert_eq!(Image::parse_ihex(ok.as_bytes()).unwrap().end(), 1 << 32);
    let text = [ihex_rec(0, 4, &[0xFF, 0xFF]), ihex_rec(0xFFFE, 0, &[1, 2, 3]), EOF.to_string()].concat();
    assert_contains(&err(Image::parse_ihex(text.as_bytes())), &["line 2", "3 bytes at 0xFFFFFFFE", "4 GiB"]);
}

// ---------------------------------------------------------------- write_ihex

fn ihex_string(addr: u32, data: &[u8]) -> String {
    let mut out = Vec::new();
    write_ihex(addr, data, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn write_ihex_exact_output() {
    // st-flash `read out.hex 0x08000000 5` (after its rounding to 8 bytes).
    assert_eq!(
        ihex_string(0x0800_0000, &[0x00, 0x50, 0x00, 0x20, 0xA1, 0x01, 0x00, 0x08]),
        ":020000040800F2\r\n:0800000000500020A1010008DE\r\n:00000001FF\r\n"
    );
    // The example file's data, below 64 KiB: no ELA record, 16-byte records.
    let data = Image::parse_ihex(WIKI_HEX.as_bytes()).unwrap().segments.remove(0).data;
    assert_eq!(ihex_string(0x0100, &data), WIKI_HEX.replace('\n', "\r\n"));
    // Exactly 5 bytes: no rounding here.
    assert_eq!(ihex_string(0x10, &[1, 2, 3, 4, 5]), ":050010000102030405DC\r\n:00000001FF\r\n");
    assert_eq!(ihex_string(0x0800_0000, &[]), ":020000040800F2\r\n:00000001FF\r\n");
    assert_eq!(ihex_string(0, &[]), ":00000001FF\r\n");
}

#[test]
fn write_ihex_new_ela_at_64k_boundary() {
    let data: Vec<u8> = (0..40).collect();
    let text = ihex_string(0x0800_FFF8, &data);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], ":020000040800F2");
    assert!(lines[1].starts_with(":08FFF800"), "{}", lines[1]); // cut short at the boundary
    assert_eq!(lines[2], ":020000040801F1");
    assert!(lines[3].starts_with(":10000000"));
    assert!(lines[4].starts_with(":10001000"));
    assert_eq!(lines[5], ":00000001FF");
    assert_eq!(lines.len(), 7); // trailing "" after the last CRLF
    assert!(!text.contains(":04000005"), "no start address record");
    assert_eq!(text, text.to_uppercase());
}

#[test]
fn write_ihex_rejects_overflow() {
    let mut out = Vec::new();
    assert!(write_ihex(0xFFFF_FFFF, &[1, 2], &mut out).is_err());
    let text = ihex_string(0xFFFF_FFF0, &[7; 16]);
    let img = Image::parse_ihex(text.as_bytes()).unwrap();
    assert_eq!(img.segments, vec![seg(0xFFFF_FFF0, &[7; 16])]);
}

#[test]
fn write_ihex_round_trips() {
    let mut rng = Rng(0x5EED);
    for _ in 0..300 {
        let len = 1 + rng.below(600) as usize;
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let addr = match rng.below(4) {
            0 => rng.below(0x2_0000) as u32,
            1 => 0x0800_0000 + rng.below(0x4_0000) as u32,
            2 => (rng.below(0x1_0000) as u32) << 16 | (0x1_0000 - 1 - rng.below(40) as u32),
            _ => (0x1_0000_0000 - len as u64 - rng.below(100)) as u32,
        };
        let text = ihex_string(addr, &data);
        let img = Image::parse_ihex(text.as_bytes()).unwrap();
        assert_eq!(img.segments, vec![Segment { addr, data }], "at 0x{addr:08X}");
    }
}

// ---------------------------------------------------------------- S-record

const WIKI_SREC: &str = "S00F000068656C6C6F202020202000003C\n\
S11F00007C0802A6900100049421FFF07C6C1B787C8C23783C6000003863000026\n\
S11F001C4BFFFFE5398000007D83637880010014382100107C0803A64E800020E9\n\
S111003848656C6C6F20776F726C642E0A0042\n\
S5030003F9\n\
S9030000FC\n";

#[test]
fn srec_known_file() {
    let img = Image::parse_srec(WIKI_SREC.as_bytes()).unwrap();
    assert_eq!(img.format, Format::Srec);
    assert_eq!(img.segments.len(), 1);
    assert_eq!(img.start(), 0);
    assert_eq!(img.len(), 0x1C + 0x1C + 14);
    assert_eq!(&img.segments[0].data[0x38..], b"Hello world.\n\0");
    assert_eq!(img.entry, Some(0));
    let crlf = WIKI_SREC.replace('\n', "\r\n");
    assert_eq!(Image::parse_srec(crlf.as_bytes()).unwrap(), img);
}

#[test]
fn srec_s1_s2_s3_and_entries() {
    let text = [
        srec_rec('0', 0, b"hdr"),
        srec_rec('3', 0x0800_0000, &[1, 2, 3]),
        srec_rec('2', 0x12_3456, &[4, 5]),
        srec_rec('1', 0x1234, &[6]),
        srec_rec('3', 0x0800_0003, &[7]),
        srec_rec('5', 4, &[]),
        srec_rec('7', 0x0800_0101, &[]),
    ]
    .concat();
    let img = Image::parse_srec(text.as_bytes()).unwrap();
    assert_eq!(img.segments, vec![seg(0x1234, &[6]), seg(0x12_3456, &[4, 5]), seg(0x0800_0000, &[1, 2, 3, 7])]);
    assert_eq!(img.entry, Some(0x0800_0101));
    let text = [srec_rec('2', 0x10, &[1]), srec_rec('6', 1, &[]), srec_rec('8', 0x12_3456, &[])].concat();
    assert_eq!(Image::parse_srec(text.as_bytes()).unwrap().entry, Some(0x12_3456));
    let text = [srec_rec('1', 0x10, &[1]), srec_rec('9', 0xBEEF, &[])].concat();
    assert_eq!(Image::parse_srec(text.as_bytes()).unwrap().entry, Some(0xBEEF));
}

#[test]
fn srec_checksum_error() {
    let text = format!("{}S1050010AABB00\nS9030000FC\n", srec_rec('0', 0, b""));
    assert_contains(&err(Image::parse_srec(text.as_bytes())), &["line 2", "checksum", "expected 0x85", "found 0x00"]);
}

#[test]
fn srec_count_records() {
    let text = [srec_rec('1', 0, &[1]), srec_rec('1', 1, &[2]), srec_rec('5', 3, &[]), srec_rec('9', 0, &[])].concat();
    assert_contains(&err(Image::parse_srec(text.as_bytes())), &["line 3", "S5", "counts 3", "2 precede"]);
    let text = [srec_rec('1', 0, &[1]), srec_rec('6', 0, &[]), srec_rec('9', 0, &[])].concat();
    assert_contains(&err(Image::parse_srec(text.as_bytes())), &["line 2", "S6", "counts 0", "1 precede"]);
    let text = [srec_rec('1', 0, &[1]), srec_rec('5', 1, &[7]), srec_rec('9', 0, &[])].concat();
    assert_contains(&err(Image::parse_srec(text.as_bytes())), &["line 2", "only a record count"]);
}

#[test]
fn srec_shape_errors() {
    let cases: &[(&str, &[&str])] = &[
        ("X1030000FC\n", &["line 1", "expected 'S'", "found 'X'"]),
        ("S\n", &["line 1", "type missing"]),
        ("S4030000FC\n", &["line 1", "unknown record type S4"]),
        ("SA030000FC\n", &["line 1", "unknown record type SA"]),
        ("S1030000F\n", &["line 1", "odd number"]),
        ("S10300Z0FC\n", &["line 1", "invalid hex digit 'Z'", "column 7"]),
        ("S304000000FB\n", &["line 1", "too short", "at least 12"]),
        ("S1050000FA\n", &["line 1", "byte count 0x05", "holds 3"]),
        ("S10100FE\n", &["line 1", "too short"]),
    ];
    for (text, parts) in cases {
        let full = format!("{text}S9030000FC\n");
        assert_contains(&err(Image::parse_srec(full.as_bytes())), parts);
    }
    let text = [srec_rec('1', 0, &[1]), srec_rec('9', 0, &[1])].concat();
    assert_contains(&err(Image::parse_srec(text.as_bytes())), &["line 2", "S9", "only an address"]);
}

#[test]
fn srec_termination_rules() {
    let text = srec_rec('1', 0, &[1]);
    assert_contains(&err(Image::parse_srec(text.as_bytes())), &["no termination record", "S7, S8 or S9"]);
    let text = [srec_rec('1', 0, &[1]), srec_rec('9', 0, &[]), "\r\n\n".into(), srec_rec('1', 4, &[1])].concat();
    assert_contains(&err(Image::parse_srec(text.as_bytes())), &["line 5", "after the termination record (line 2)"]);
    let text = [srec_rec('1', 0, &[1]), srec_rec('9', 0, &[]), "\r\n\n  \n".into()].concat();
    assert!(Image::parse_srec(text.as_bytes()).is_ok());
    let text = [srec_rec('0', 0, b"x"), srec_rec('9', 0, &[])].concat();
    assert_contains(&err(Image::parse_srec(text.as_bytes())), &["no data records"]);
}

#[test]
fn srec_overlap_and_overflow() {
    let text = [
        srec_rec('3', 0x0800_0000, &[1, 2, 3, 4]),
        srec_rec('1', 0, &[0]),
        srec_rec('3', 0x0800_0003, &[4]),
        srec_rec('7', 0, &[]),
    ]
    .concat();
    assert_contains(&err(Image::parse_srec(text.as_bytes())), &["lines 1 and 3", "0x08000003"]);
    let text = [srec_rec('3', 0xFFFF_FFFF, &[1, 2]), srec_rec('7', 0, &[])].concat();
    assert_contains(&err(Image::parse_srec(text.as_bytes())), &["line 1", "4 GiB"]);
    let text = [srec_rec('3', 0xFFFF_FFFE, &[1, 2]), srec_rec('7', 0, &[])].concat();
    assert_eq!(Image::parse_srec(text.as_bytes()).unwrap().end(), 1 << 32);
}

// ---------------------------------------------------------------- ELF

#[test]
fn elf_loads_file_bytes_at_physical_addresses() {
    let img = Image::parse_elf(&sample_elf()).unwrap();
    assert_eq!(img.format, Format::Elf);
    assert_eq!(img.entry, Some(0x0800_0101));
    // .data lands at its physical (flash) address, right after .text, and
    // the memsz tail is not included.
    assert_eq!(img.segments, vec![seg(0x0800_0000, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])]);
}

#[test]
fn elf_skips_non_load_and_empty_headers() {
    let bytes = elf(
        1,
        1,
        40,
        0,
        &[
            Ph { p_type: 6, vaddr: 0, paddr: 0, data: vec![0xEE; 4], memsz: 4 }, // PT_PHDR
            load_ph(0x0800_0400, 0x0800_0400, &[1, 2], 2),
            load_ph(0x2000_0000, 0x2000_0000, &[], 0x400), // .bss only
            Ph { p_type: 4, vaddr: 0, paddr: 0x0800_0000, data: vec![0xEE; 4], memsz: 4 }, // PT_NOTE
            load_ph(0x0800_0000, 0x0800_0000, &[3], 1),
        ],
    );
    let img = Image::parse_elf(&bytes).unwrap();
    assert_eq!(img.segments, vec![seg(0x0800_0000, &[3]), seg(0x0800_0400, &[1, 2])]);
}

#[test]
fn elf_refuses_other_classes_and_machines() {
    let one = [load_ph(0x0800_0000, 0x0800_0000, &[1], 1)];
    assert_contains(&err(Image::parse_elf(&elf(2, 1, 40, 0, &one))), &["64-bit ELF", "32-bit ARM"]);
    assert_contains(&err(Image::parse_elf(&elf(1, 2, 40, 0, &one))), &["big-endian"]);
    assert_contains(&err(Image::parse_elf(&elf(1, 1, 62, 0, &one))), &["machine 62 (x86-64)", "not ARM"]);
    assert_contains(&err(Image::parse_elf(&elf(1, 1, 243, 0, &one))), &["machine 243 (RISC-V)"]);
    assert_contains(&err(Image::parse_elf(&elf(7, 1, 40, 0, &one))), &["unknown ELF class 7"]);
    assert_contains(&err(Image::parse_elf(&elf(1, 0, 40, 0, &one))), &["unknown ELF data encoding 0"]);
    assert_contains(&err(Image::parse_elf(b"\x7fELF")), &["unknown ELF class (missing)"]);
    assert_contains(&err(Image::parse_elf(b"hello")), &["not an ELF file"]);
}

#[test]
fn elf_structural_errors() {
    let good = sample_elf();
    assert_contains(&err(Image::parse_elf(&good[..40])), &["truncated ELF header (40 bytes, 52 needed)"]);
    // Data cut off.
    assert_contains(
        &err(Image::parse_elf(&good[..good.len() - 2])),
        &["program header 1", "outside the file", "truncated"],
    );
    // Program headers cut off.
    assert_contains(&err(Image::parse_elf(&good[..60])), &["malformed ELF file"]);
    // Wrong e_phentsize.
    let mut bad = good.clone();
    bad[42] = 33;
    assert_contains(&err(Image::parse_elf(&bad)), &["malformed ELF file", "entry size"]);
    // Not loadable.
    assert_contains(&err(Image::parse_elf(&elf(1, 1, 40, 0, &[]))), &["no loadable data"]);
    let bss = [load_ph(0x2000_0000, 0x2000_0000, &[], 16)];
    assert_contains(&err(Image::parse_elf(&elf(1, 1, 40, 0, &bss))), &["no loadable data"]);
}

#[test]
fn elf_overlap_and_overflow() {
    let phs = [load_ph(0x0800_0000, 0x0800_0000, &[1, 2, 3, 4], 4), load_ph(0x0800_0002, 0x2000_0000, &[5], 1)];
    assert_contains(&err(Image::parse_elf(&elf(1, 1, 40, 0, &phs))), &["program headers 0 and 1", "0x08000002"]);
    let phs = [load_ph(0xFFFF_FFFE, 0, &[1, 2, 3], 3)];
    assert_contains(&err(Image::parse_elf(&elf(1, 1, 40, 0, &phs))), &["program header 0", "4 GiB"]);
}

// ---------------------------------------------------------------- load

#[test]
fn load_detects_and_parses() {
    let hex = tmp("det.hex", WIKI_HEX.as_bytes());
    let img = Image::load(&hex, None, None).unwrap();
    assert_eq!((img.format, img.start(), img.len()), (Format::IntelHex, 0x100, 64));
    // An address equal to the image start is tolerated (st-flash habit).
    assert!(Image::load(&hex, None, Some(0x100)).is_ok());
    let msg = err(Image::load(&hex, None, Some(0x0800_0000)));
    assert_contains(&msg, &[&hex.display().to_string(), "Intel HEX", "0x00000100", "0x08000000", "drop the address"]);

    let srec = tmp("det.s19", WIKI_SREC.as_bytes());
    assert_eq!(Image::load(&srec, None, None).unwrap().format, Format::Srec);
    let elf = tmp("det.elf", &sample_elf());
    assert_eq!(Image::load(&elf, None, None).unwrap().format, Format::Elf);

    let bin = tmp("det.bin", &[1, 2, 3]);
    let img = Image::load(&bin, None, Some(0x0800_0000)).unwrap();
    assert_eq!(img.segments, vec![seg(0x0800_0000, &[1, 2, 3])]);
    let msg = err(Image::load(&bin, None, None));
    assert_contains(&msg, &[&bin.display().to_string(), "not ELF, Intel HEX or S-record", "address", "0x08000000"]);
    let msg = err(Image::load(&bin, Some(Format::Binary), None));
    assert_contains(&msg, &["is a binary file", "needs the address"]);

    // An explicit format wins over detection: the hex text written as binary.
    let img = Image::load(&hex, Some(Format::Binary), Some(0x2000_0000)).unwrap();
    assert_eq!(img.segments[0].data, WIKI_HEX.as_bytes());
    for p in [hex, srec, elf, bin] {
        std::fs::remove_file(p).unwrap();
    }
}

#[test]
fn load_parse_errors_name_the_file_and_format() {
    let path = tmp("bad.hex", b":0100000001FF\n:00000001FF\n");
    let msg = err(Image::load(&path, None, None));
    assert_contains(&msg, &[&format!("{} (detected as Intel HEX): line 1: checksum", path.display())]);
    let msg = err(Image::load(&path, Some(Format::Srec), None));
    assert_contains(&msg, &[&format!("{} (S-record): line 1: expected 'S'", path.display())]);
    let msg = err(Image::load(&path, Some(Format::Elf), None));
    assert_contains(&msg, &[&format!("{} (ELF): not an ELF file", path.display())]);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn load_file_errors() {
    let missing = std::env::temp_dir().join("stflash-image-test-does-not-exist.bin");
    let msg = err(Image::load(&missing, None, Some(0x0800_0000)));
    assert_contains(&msg, &["cannot read", &missing.display().to_string(), "no such file"]);

    let empty = tmp("empty.bin", b"");
    for format in [None, Some(Format::Binary), Some(Format::IntelHex), Some(Format::Elf)] {
        let msg = err(Image::load(&empty, format, Some(0x0800_0000)));
        assert_eq!(msg, format!("{} is empty; nothing to write", empty.display()));
    }
    std::fs::remove_file(empty).unwrap();

    let dir = std::env::temp_dir();
    assert_contains(&err(Image::load(&dir, None, Some(0))), &["is a directory"]);
}

// ---------------------------------------------------------------- overlay

#[test]
fn overlay_places_bytes_over_the_image_and_keeps_the_rest() {
    let seg = |addr: u32, data: &[u8]| Segment { addr, data: data.to_vec() };
    let mut image = Image::empty();
    image.overlay(0x100, &[1, 2, 3, 4]);
    assert_eq!(image.segments, vec![seg(0x100, &[1, 2, 3, 4])]);
    // Inside: split and replaced, one segment again.
    image.overlay(0x101, &[9, 9]);
    assert_eq!(image.segments, vec![seg(0x100, &[1, 9, 9, 4])]);
    // Touching on either side: merged.
    image.overlay(0x104, &[5]);
    image.overlay(0xFE, &[7, 8]);
    assert_eq!(image.segments, vec![seg(0xFE, &[7, 8, 1, 9, 9, 4, 5])]);
    // Apart: a segment of its own, in address order.
    image.overlay(0x10, &[6]);
    assert_eq!(image.segments, vec![seg(0x10, &[6]), seg(0xFE, &[7, 8, 1, 9, 9, 4, 5])]);
    // Across a gap and over two segments: bridged.
    image.overlay(0x0F, &[0; 0xF0]);
    assert_eq!(image.segments.len(), 1);
    assert_eq!(image.segments[0].addr, 0x0F);
    assert_eq!(&image.segments[0].data[0xF0..], &[8, 1, 9, 9, 4, 5]);
    image.overlay(0x200, &[]);
    assert_eq!(image.segments.len(), 1, "nothing to place");
}

#[test]
fn overlay_agrees_with_a_byte_map() {
    let mut rng = Rng(7);
    for _ in 0..200 {
        let mut image = Image::empty();
        let mut map = std::collections::BTreeMap::new();
        for _ in 0..6 {
            let addr = rng.below(64) as u32;
            let len = 1 + rng.below(12) as usize;
            let data = rng.bytes(len);
            image.overlay(addr, &data);
            for (i, b) in data.iter().enumerate() {
                map.insert(addr + i as u32, *b);
            }
        }
        let flat: Vec<(u32, u8)> = image
            .segments
            .iter()
            .flat_map(|s| s.data.iter().enumerate().map(|(i, b)| (s.addr + i as u32, *b)))
            .collect();
        assert_eq!(flat, map.into_iter().collect::<Vec<_>>());
        assert!(image.segments.windows(2).all(|w| w[0].end() < u64::from(w[1].addr)), "sorted, gaps between");
    }
}
