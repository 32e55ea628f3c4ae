//! Robustness: the parsers and `Format::detect` never panic, whatever the
//! input, and every image they do accept satisfies the `Image` invariants.
//! Deterministic: a fixed-seed generator mutates valid files of every format
//! (and produces random byte strings), many thousands of times.

use super::tests::{elf, load_ph, sample_elf, srec_rec, Ph, Rng};
use super::*;
use crate::error::ErrorKind;

/// Characters that matter to the text parsers, to make mutations bite.
const ALPHABET: &[u8] = b":S0123456789ABCDEFabcdefG \r\n\t\x00\x7f";

fn mutate(rng: &mut Rng, mut v: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        let pos = if len == 0 { 0 } else { rng.below(len as u64) as usize };
        match rng.below(8) {
            0 if len > 0 => v[pos] = rng.next() as u8,
            1 if len > 0 => v[pos] = ALPHABET[rng.below(ALPHABET.len() as u64) as usize],
            2 if len > 0 => {
                let n = (1 + rng.below(8) as usize).min(len - pos);
                v.drain(pos..pos + n);
            }
            3 => {
                let ins = {
                    let n = 1 + rng.below(8) as usize;
                    rng.bytes(n)
                };
                v.splice(pos..pos, ins);
            }
            4 => v.truncate(pos),
            5 if len > 0 => {
                // Duplicate a range elsewhere (for text: repeated records → overlaps).
                let n = (1 + rng.below(64) as usize).min(len - pos);
                let copy = v[pos..pos + n].to_vec();
                let at = rng.below(len as u64 + 1) as usize;
                v.splice(at..at, copy);
            }
            6 if len >= 4 => {
                // An interesting 32-bit value (ELF header and program-header fields).
                let vals = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFF0, len as u32, 52, 32];
                let val: u32 = vals[rng.below(vals.len() as u64) as usize];
                let at = rng.below(len as u64 - 3) as usize & !3;
                v[at..at + 4].copy_from_slice(&val.to_le_bytes());
            }
            7 if v.contains(&b'\n') => mutate_lines(rng, &mut v),
            _ if len > 0 => v[pos] ^= 1 << rng.below(8),
            _ => v.push(rng.next() as u8),
        }
    }
    v
}

/// Line-level edits, which often keep a text file valid: drop, duplicate or
/// swap a line, add a blank line, switch line endings.
fn mutate_lines(rng: &mut Rng, v: &mut Vec<u8>) {
    let mut lines: Vec<Vec<u8>> = v.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    let n = lines.len() as u64;
    let (a, b) = (rng.below(n) as usize, rng.below(n) as usize);
    match rng.below(5) {
        0 => {
            lines.remove(a);
        }
        1 => {
            let copy = lines[a].clone();
            lines.insert(b, copy);
        }
        2 => lines.swap(a, b),
        3 => lines.insert(a, Vec::new()),
        _ => {
            for line in &mut lines {
                if line.last() == Some(&b'\r') {
                    line.pop();
                } else {
                    line.push(b'\r');
                }
            }
        }
    }
    *v = lines.join(&b'\n');
}

/// Random valid Intel HEX: data via `write_ihex` plus optional other record types.
fn random_ihex(rng: &mut Rng) -> Vec<u8> {
    let addr = 0x0800_0000 + rng.below(0x2_0000) as u32;
    let data = {
        let n = 1 + rng.below(200) as usize;
        rng.bytes(n)
    };
    let mut out = Vec::new();
    if rng.below(3) == 0 {
        out.extend_from_slice(super::tests::ihex_rec(0, 2, &[0x10, 0x00]).as_bytes());
        out.extend_from_slice(super::tests::ihex_rec(0x10, 0, &[1, 2, 3]).as_bytes());
    }
    if rng.below(3) == 0 {
        out.extend_from_slice(super::tests::ihex_rec(0, 5, &[8, 0, 1, 1]).as_bytes());
    }
    write_ihex(addr, &data, &mut out).unwrap();
    out
}

/// Random valid S-record file using S1, S2 and S3 records.
fn random_srec(rng: &mut Rng) -> Vec<u8> {
    let mut text = srec_rec('0', 0, b"fuzz");
    let mut n = 0;
    let mut addr = rng.below(0x100) as u32;
    for t in ['1', '2', '3'] {
        for _ in 0..1 + rng.below(3) {
            let data = {
                let n = 1 + rng.below(32) as usize;
                rng.bytes(n)
            };
            text += &srec_rec(t, addr, &data);
            addr += data.len() as u32 + rng.below(3) as u32;
            n += 1;
        }
        addr += 0x1_0000;
    }
    if rng.below(2) == 0 {
        text += &srec_rec('5', n, &[]);
    }
    text += &srec_rec(['7', '8', '9'][rng.below(3) as usize], 0x0800_0101 & 0xFFFF, &[]);
    text.into_bytes()
}

fn random_elf(rng: &mut Rng) -> Vec<u8> {
    let mut phs: Vec<Ph> = Vec::new();
    let mut addr = 0x0800_0000u32;
    for _ in 0..1 + rng.below(4) {
        let data = {
            let n = rng.below(40) as usize + usize::from(phs.is_empty()); // one non-empty at least
            rng.bytes(n)
        };
        let memsz = data.len() as u32 + rng.below(16) as u32;
        let vaddr = if rng.below(2) == 0 { addr } else { 0x2000_0000 };
        phs.push(load_ph(addr, vaddr, &data, memsz));
        addr += data.len() as u32 + rng.below(8) as u32;
    }
    elf(1, 1, 40, rng.next() as u32, &phs)
}

/// Random short records with mostly consistent byte counts and checksums,
/// so that the checks after the checksum (types, lengths, addresses) are
/// reached with odd values.
fn record_soup(rng: &mut Rng, srec: bool) -> Vec<u8> {
    let mut text = String::new();
    for _ in 0..1 + rng.below(6) {
        let n = rng.below(12) as usize;
        let mut rec = rng.bytes(n);
        if srec {
            if !rec.is_empty() && rng.below(4) != 0 {
                rec[0] = (n - 1) as u8; // count byte = bytes after it (incl. checksum)
            }
            if let Some(last) = rec.len().checked_sub(1) {
                if rng.below(4) != 0 {
                    rec[last] = !sum(&rec[..last]);
                }
            }
            let t = b"0123456789123123"[rng.below(16) as usize] as char;
            text += &format!("S{t}");
        } else {
            if rec.len() >= 5 && rng.below(4) != 0 {
                rec[0] = (n - 5) as u8;
                rec[3] = rng.below(7) as u8;
            }
            if let Some(last) = rec.len().checked_sub(1) {
                if rng.below(4) != 0 {
                    rec[last] = sum(&rec[..last]).wrapping_neg();
                }
            }
            text.push(':');
        }
        text.extend(rec.iter().map(|b| format!("{b:02X}")));
        text.push('\n');
    }
    if rng.below(2) == 0 {
        text += if srec { "S9030000FC\n" } else { ":00000001FF\n" };
    }
    text.into_bytes()
}

#[track_caller]
fn check_image(img: &Image, format: Format) {
    assert_eq!(img.format, format);
    assert!(!img.segments.is_empty(), "an accepted image has data");
    for s in &img.segments {
        assert!(!s.data.is_empty(), "empty segment at 0x{:08X}", s.addr);
        assert!(s.end() <= 1 << 32);
    }
    for w in img.segments.windows(2) {
        assert!(w[0].end() < u64::from(w[1].addr), "segments unsorted, overlapping or unmerged");
    }
    assert_eq!(img.len(), img.segments.iter().map(|s| s.data.len() as u64).sum::<u64>());
}

#[derive(Default, Debug)]
struct Tally {
    ok: [usize; 4],
    err: [usize; 4],
}

/// Run every parser and the detector on `bytes`; check what they return.
fn exercise(bytes: &[u8], tally: &mut Tally) {
    let detected = Format::detect(bytes);
    let results = [
        (Format::IntelHex, Image::parse_ihex(bytes)),
        (Format::Srec, Image::parse_srec(bytes)),
        (Format::Elf, Image::parse_elf(bytes)),
        (Format::Binary, Image::from_binary(bytes.to_vec(), 0x0800_0000)),
    ];
    for (i, (format, result)) in results.into_iter().enumerate() {
        match result {
            Ok(img) => {
                tally.ok[i] += 1;
                check_image(&img, format);
                if format != Format::Binary {
                    // Anything a parser accepts, detection recognises as that format.
                    assert_eq!(detected, format, "input {:?}", String::from_utf8_lossy(bytes));
                }
            }
            Err(e) => {
                tally.err[i] += 1;
                assert_eq!(e.kind, ErrorKind::Input);
                assert!(!e.message.is_empty() && !e.message.contains('\n'), "{:?}", e.message);
            }
        }
    }
}

#[test]
fn mutated_valid_files_never_panic() {
    let mut rng = Rng(0x00C0_FFEE);
    let mut seeds_tally = Tally::default();
    let mut tally = Tally::default();
    for i in 0..10_000 {
        let seeds = [
            random_ihex(&mut rng),
            random_srec(&mut rng),
            random_elf(&mut rng),
            if i % 2 == 0 { sample_elf() } else { super::tests::ihex_rec(0, 0, &[1]).into_bytes() },
        ];
        for seed in seeds {
            // The unmutated seed first: it must parse in its own format.
            exercise(&seed, &mut seeds_tally);
            if seed.contains(&b'\n') {
                let mut lines_only = seed.clone();
                for _ in 0..1 + rng.below(3) {
                    mutate_lines(&mut rng, &mut lines_only);
                }
                exercise(&lines_only, &mut tally);
            }
            let mutated = mutate(&mut rng, seed);
            exercise(&mutated, &mut tally);
        }
    }
    // Every valid seed parses (random_ihex, random_srec, random_elf, and
    // sample_elf on even rounds).
    assert_eq!(seeds_tally.ok[..3], [10_000, 10_000, 15_000], "{seeds_tally:?}");
    // The mutants must reach both outcomes of each text/ELF parser, or the
    // test is not testing much.
    for i in 0..3 {
        assert!(tally.ok[i] > 1000 && tally.err[i] > 1000, "{tally:?}");
    }
}

#[test]
fn unmutated_random_files_parse() {
    let mut rng = Rng(7);
    for _ in 0..500 {
        check_image(&Image::parse_ihex(&random_ihex(&mut rng)).unwrap(), Format::IntelHex);
        check_image(&Image::parse_srec(&random_srec(&mut rng)).unwrap(), Format::Srec);
        check_image(&Image::parse_elf(&random_elf(&mut rng)).unwrap(), Format::Elf);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0xBAD_5EED);
    let mut tally = Tally::default();
    for i in 0..12_000 {
        let len = rng.below(300) as usize;
        let bytes: Vec<u8> = match i % 6 {
            0 => rng.bytes(len),
            4 => record_soup(&mut rng, false),
            5 => record_soup(&mut rng, true),
            // Text from the record alphabet, with a leading marker.
            1 | 2 => {
                let mut v = vec![if i % 6 == 1 { b':' } else { b'S' }];
                v.extend((0..len).map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize]));
                v
            }
            // ELF magic followed by junk.
            _ => {
                let mut v = b"\x7fELF\x01\x01\x01".to_vec();
                v.extend(rng.bytes(len));
                v
            }
        };
        exercise(&bytes, &mut tally);
    }
    // Some soups are valid files; most inputs are rejected.
    assert!(tally.ok[0] > 0 && tally.ok[1] > 0, "{tally:?}");
    assert!(tally.err.iter().take(3).all(|&n| n > 5000), "{tally:?}");
}

#[test]
fn extreme_elf_header_values_never_panic() {
    // Every 4-byte field of the header and program headers set to extreme values.
    let base = elf(
        1,
        1,
        40,
        0,
        &[load_ph(0x0800_0000, 0x0800_0000, &[1, 2, 3, 4], 8), load_ph(0x0800_0004, 0x2000_0000, &[5, 6], 2)],
    );
    let mut tally = Tally::default();
    for at in (0..52 + 64).step_by(2) {
        for val in [0u32, 1, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, base.len() as u32] {
            let mut v = base.clone();
            let n = 4.min(v.len() - at);
            v[at..at + n].copy_from_slice(&val.to_le_bytes()[..n]);
            exercise(&v, &mut tally);
        }
    }
    assert!(tally.ok[2] > 0 && tally.err[2] > 0, "{tally:?}");
}
