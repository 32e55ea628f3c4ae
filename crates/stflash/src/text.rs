//! Small helpers for the wording of messages.

/// `n` and the unit, singular for one: "1 byte", "0 bytes", "64 sectors".
/// For units whose plural adds an "s".
pub fn count(n: impl Into<u64>, unit: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular_and_everything_else_plural() {
        assert_eq!(count(1u32, "byte"), "1 byte");
        assert_eq!(count(0u32, "byte"), "0 bytes");
        assert_eq!(count(64u64, "sector"), "64 sectors");
    }
}
