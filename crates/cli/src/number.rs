//! st-flash's number syntax (stlink 1.8.0 `src/st-flash/flash_opts.c:31-76`:
//! 0x hexadecimal, 0b binary, a leading 0 octal, else decimal, then k or M; `--freq` in
//! `src/stlink-lib/helper.c`).

/// Why a number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    Invalid,
    TooLarge,
    /// A minus sign before a non-zero value (st-flash wraps it around and
    /// then calls it too large).
    Negative,
}

/// What C's `strtoul` accepts after the prefix test: optional leading
/// whitespace and sign, then digits of `radix`; no digits at all is 0.
/// Returns the value (saturated on overflow), whether a minus sign came
/// before it, and the unparsed rest.
fn strtoul(s: &str, radix: u32) -> (u64, bool, &str) {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = t.find(|c: char| !c.is_digit(radix)).unwrap_or(t.len());
    if digits == 0 {
        // strtoul consumed nothing: the whole input is the rest.
        return (0, false, s);
    }
    let mut v: u64 = 0;
    for c in t[..digits].chars() {
        v = v.saturating_mul(radix as u64).saturating_add(c.to_digit(radix).unwrap_or(0) as u64);
    }
    (v, negative, &t[digits..])
}

/// Parse an address, size, value or `--flash=` size: `0x`/`0X` hex, `0b`/`0B`
/// binary, a leading `0` octal, else decimal; then optionally one of
/// `k`/`K` (×1024) or `m`/`M` (×1048576) as the last character (stlink 1.8.0
/// src/st-flash/flash_opts.c:31-76).
pub fn parse_number(s: &str) -> Result<u32, NumberError> {
    let (radix, body) = if let Some(rest) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, rest)
    } else if let Some(rest) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (2, rest)
    } else if let Some(rest) = s.strip_prefix('0') {
        (8, rest)
    } else {
        (10, s)
    };
    let (value, negative, rest) = strtoul(body, radix);
    let multiplier: u64 = match rest {
        "" => 1,
        "k" | "K" => 1024,
        "m" | "M" => 1024 * 1024,
        _ => return Err(NumberError::Invalid),
    };
    if negative && value != 0 {
        return Err(NumberError::Negative);
    }
    let value = value.saturating_mul(multiplier);
    u32::try_from(value).map_err(|_| NumberError::TooLarge)
}

/// `--freq` (stlink 1.8.0 src/stlink-lib/helper.c:25-40): decimal kHz, optional
/// suffix `k` (×1) or `M` (×1000), case-sensitive.
pub fn parse_freq(s: &str) -> Option<u32> {
    let (body, mult) = match s.strip_suffix('M') {
        Some(b) => (b, 1000),
        None => (s.strip_suffix('k').unwrap_or(s), 1),
    };
    if body.is_empty() {
        return Some(0);
    }
    let v: i64 = body.parse().ok()?;
    u32::try_from(v.checked_mul(mult)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // What st-flash 1.8.0 accepts (stlink `src/st-flash/flash_opts.c`).
    #[test]
    fn accepted_numbers() {
        for (text, value) in [
            ("0x08000000", 0x0800_0000),
            ("0X10", 16),
            ("134217728", 134_217_728),
            ("4k", 4096),
            ("4K", 4096),
            ("1m", 1_048_576),
            ("1M", 1_048_576),
            ("0b101", 5),
            ("0B11", 3),
            ("010", 8),
            ("+12", 12),
            (" 12", 12),
            ("", 0),
            ("0x", 0),
            ("0b", 0),
            ("0k", 0),
            ("0x10k", 16 * 1024),
            ("0200k", 128 * 1024),
            ("-0", 0),
        ] {
            assert_eq!(parse_number(text), Ok(value), "{text:?}");
        }
    }

    #[test]
    fn refused_numbers() {
        for text in ["08000000", "5G", "4kk", "4096x", " 0x10", "0x1g", "128x", "kk"] {
            assert_eq!(parse_number(text), Err(NumberError::Invalid), "{text:?}");
        }
        for text in ["0x100000000", "4294967296", "4096M"] {
            assert_eq!(parse_number(text), Err(NumberError::TooLarge), "{text:?}");
        }
        for text in ["-1", "-5", "-010", " -2k"] {
            assert_eq!(parse_number(text), Err(NumberError::Negative), "{text:?}");
        }
        assert_eq!(parse_number("4294967295"), Ok(u32::MAX));
    }

    // Rows 18-19.
    #[test]
    fn freq_syntax() {
        for (text, khz) in [("4000", 4000), ("4000k", 4000), ("4M", 4000), ("4k", 4), ("0", 0), ("", 0)] {
            assert_eq!(parse_freq(text), Some(khz), "{text:?}");
        }
        for text in ["4m", "4K", "4.5M", "-5", "abc"] {
            assert_eq!(parse_freq(text), None, "{text:?}");
        }
    }
}
