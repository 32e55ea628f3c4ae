//! `write --data ADDR=VALUE[,ADDR=VALUE…]`: small values written without a
//! file. VALUE is a number in st-flash's syntax, written as a 32-bit
//! little-endian word, or `hex:` followed by bytes in hex, in address order.

use super::number::{parse_number, NumberError};

/// Bytes to place at an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataItem {
    pub addr: u32,
    pub bytes: Vec<u8>,
}

impl DataItem {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        u64::from(self.addr) + self.bytes.len() as u64
    }
}

fn number_reason(text: &str, e: NumberError) -> String {
    match e {
        NumberError::Negative => format!("{text}: negative numbers are not allowed"),
        NumberError::TooLarge => format!("{text}: larger than 0xFFFFFFFF"),
        NumberError::Invalid => {
            format!("{text} is not a number (0x… hex, 0b… binary, a leading 0 octal, else decimal)")
        }
    }
}

/// `hex:DEADBEEF01` → the bytes.
fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() {
        return Err("hex: needs at least one byte (two hex digits)".into());
    }
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("'{bad}' is not a hex digit in hex:{text}"));
    }
    if digits.len() % 2 != 0 {
        return Err(format!("hex:{text} has an odd number of digits; give whole bytes (two digits each)"));
    }
    Ok((0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex")).collect())
}

/// Parse one `--data` value: `ADDR=VALUE[,ADDR=VALUE…]`.
pub fn parse_items(text: &str) -> Result<Vec<DataItem>, String> {
    let mut items = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((addr, value)) = item.split_once('=') else {
            return Err(format!("{item:?} is not ADDR=VALUE (e.g. 0x08007FF0=0x12345678 or 0x08007FF0=hex:DEADBEEF)"));
        };
        let (addr, value) = (addr.trim(), value.trim());
        let addr = parse_number(addr).map_err(|e| format!("address {}", number_reason(addr, e)))?;
        let bytes = match value.strip_prefix("hex:") {
            Some(hex) => hex_bytes(hex)?,
            None => {
                parse_number(value).map_err(|e| format!("value {}", number_reason(value, e)))?.to_le_bytes().to_vec()
            }
        };
        let item = DataItem { addr, bytes };
        if item.end() > 1 << 32 {
            return Err(format!("{} bytes at 0x{addr:08X} run past the end of the address space", item.bytes.len()));
        }
        items.push(item);
    }
    if items.is_empty() {
        return Err("no ADDR=VALUE given".into());
    }
    Ok(items)
}

/// Refuse items that write the same byte twice (which one was meant?).
pub fn check_overlaps(items: &[DataItem]) -> Result<(), String> {
    let mut sorted: Vec<&DataItem> = items.iter().collect();
    sorted.sort_by_key(|i| i.addr);
    for pair in sorted.windows(2) {
        if pair[0].end() > u64::from(pair[1].addr) {
            return Err(format!(
                "--data writes 0x{:08X} twice (items at 0x{:08X} and 0x{:08X} overlap)",
                pair[1].addr, pair[0].addr, pair[1].addr
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_little_endian_words_and_hex_is_bytes_in_order() {
        assert_eq!(
            parse_items("0x08007FF0=0x12345678").unwrap(),
            vec![DataItem { addr: 0x0800_7FF0, bytes: vec![0x78, 0x56, 0x34, 0x12] }]
        );
        assert_eq!(
            parse_items("0x08007FF0=hex:DEADBEEF01, 0x20000000=1k").unwrap(),
            vec![
                DataItem { addr: 0x0800_7FF0, bytes: vec![0xDE, 0xAD, 0xBE, 0xEF, 0x01] },
                DataItem { addr: 0x2000_0000, bytes: vec![0, 4, 0, 0] },
            ]
        );
        assert_eq!(parse_items("16=hex:ab_cd").unwrap()[0].bytes, vec![0xAB, 0xCD]);
    }

    #[test]
    fn bad_items_say_what_is_wrong() {
        for (text, want) in [
            ("0x08000000", "not ADDR=VALUE"),
            ("08000000=1", "address 08000000 is not a number"),
            ("0x08000000=-1", "negative"),
            ("0x08000000=0x100000000", "larger than"),
            ("0x08000000=hex:", "at least one byte"),
            ("0x08000000=hex:ABC", "odd number"),
            ("0x08000000=hex:XY", "'X' is not a hex digit"),
            ("0xFFFFFFFE=1", "past the end"),
            ("", "no ADDR=VALUE"),
        ] {
            let e = parse_items(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
        let items = parse_items("0x100=1,0x102=hex:AA").unwrap();
        assert!(check_overlaps(&items).unwrap_err().contains("0x00000102 twice"));
        assert!(check_overlaps(&parse_items("0x100=1,0x104=hex:AA").unwrap()).is_ok());
    }
}
