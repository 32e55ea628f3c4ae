//! Simulated parts: identity, memories and flash model of each chip the
//! simulator can stand in for.
//!
//! Each family keeps its parts in one list next to its flash model
//! (`family::<name>::PARTS`); [`FAMILIES`] lists the
//! families. Adding a part is adding one [`Part`] to its family's list.

use super::family::FAMILIES;
use super::model::FlashModel;

/// Everything the simulator needs to impersonate one part.
#[derive(Clone, Copy)]
pub struct Part {
    /// Canonical lower-case name, e.g. `stm32f103c8`.
    pub name: &'static str,
    /// Other accepted names (lower case), e.g. `f103`, `stm32f103`.
    pub aliases: &'static [&'static str],
    /// SW-DP DPIDR, which the probe's READ_IDCODES command returns (OpenOCD
    /// src/jtag/drivers/stlink_usb.c:2024-2060).
    pub dpidr: u32,
    /// CPUID at 0xE000ED00 (ARMv6-M/ARMv7-M Architecture Reference Manual).
    pub cpuid: u32,
    /// Full DBGMCU_IDCODE: REV_ID << 16 | DEV_ID (each RM's DBGMCU_IDCODE).
    pub idcode: u32,
    /// Address of DBGMCU_IDCODE (each RM's debug chapter; CMSIS `DBGMCU_BASE`).
    pub dbgmcu_addr: u32,
    /// Number of read/write DBGMCU control/freeze words right after IDCODE.
    pub dbgmcu_ctrl_words: u32,
    /// Address of the 16-bit flash-size register (each RM's "Device electronic
    /// signature" chapter; CMSIS `FLASHSIZE_BASE`).
    pub flash_size_addr: u32,
    /// Its value, in KiB.
    pub flash_size_kib: u16,
    /// SRAM regions as (base, size in bytes).
    pub sram: &'static [(u32, u32)],
    /// System memory (bootloader ROM) as (base, size in bytes).
    pub system_memory: (u32, u32),
    /// Where the reset vector table is fetched from.
    pub boot_address: u32,
    /// Target supply in millivolts unless `voltage=` overrides it.
    pub voltage_mv: u32,
    /// Builds a fresh (erased, factory-default) flash model.
    pub flash: fn() -> Box<dyn FlashModel>,
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Part").field("name", &self.name).finish_non_exhaustive()
    }
}

/// All simulated parts.
pub fn all() -> impl Iterator<Item = &'static Part> {
    FAMILIES.iter().flat_map(|family| family.parts.iter())
}

/// Canonical names of all simulated parts.
pub fn names() -> Vec<&'static str> {
    all().map(|p| p.name).collect()
}

fn strip(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    match lower.strip_prefix("stm32") {
        Some(rest) => rest.to_string(),
        None => lower,
    }
}

/// Case-insensitive lookup by name or alias, with or without the `stm32` prefix.
pub fn find(name: &str) -> Option<&'static Part> {
    let want = strip(name);
    if want.is_empty() {
        return None;
    }
    all().find(|p| strip(p.name) == want || p.aliases.iter().any(|a| strip(a) == want))
}

/// Lookup with an error message that suggests the nearest names (those of
/// the same series: the same first characters after `stm32`) and lists
/// every simulated chip by its name (aliases are accepted too).
pub fn lookup(name: &str) -> Result<&'static Part, String> {
    find(name).ok_or_else(|| {
        let want = strip(name);
        let series: Vec<&str> =
            all().map(|p| p.name).filter(|n| want.len() >= 4 && strip(n).starts_with(&want[..4])).collect();
        let hint = match series.as_slice() {
            [] => String::new(),
            near => format!("; did you mean {}?", near.join(" or ")),
        };
        let names: Vec<&str> = all().map(|p| p.name).collect();
        format!("unknown simulated chip '{name}'{hint} (simulated chips: {})", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_name_gets_the_parts_of_its_series_suggested() {
        let e = lookup("stm32u031c8").unwrap_err();
        assert!(
            e.starts_with("unknown simulated chip 'stm32u031c8'; did you mean stm32u031k8? (simulated chips: "),
            "{e}"
        );
        let e = lookup("foo").unwrap_err();
        assert!(e.starts_with("unknown simulated chip 'foo' (simulated chips: stm32f030f4, "), "{e}");
        assert!(lookup("U031").is_ok() && lookup("stm32u031k8").is_ok());
    }

    #[test]
    fn lookup_is_case_insensitive_with_or_without_prefix() {
        for n in ["stm32f103c8", "STM32F103C8", "f103c8", "F103", "stm32f103", "Stm32F103"] {
            assert_eq!(find(n).map(|p| p.name), Some("stm32f103c8"), "{n}");
        }
        assert!(find("stm32").is_none());
        assert!(find("").is_none());
        assert!(find("x999").is_none());
    }

    #[test]
    fn unknown_chip_error_lists_valid_names() {
        let e = lookup("stm32x999").unwrap_err();
        assert!(e.contains("stm32x999") && e.contains("stm32f103c8") && e.contains("f103"), "{e}");
    }

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut seen = std::collections::HashMap::new();
        for p in all() {
            assert_eq!(p.name, p.name.to_ascii_lowercase());
            for n in std::iter::once(&p.name).chain(p.aliases.iter()) {
                let owner = seen.entry(strip(n)).or_insert(p.name);
                assert_eq!(*owner, p.name, "{n} names two chips");
            }
        }
    }
}
