//! What the end-to-end tests of each family added by issue #16 check on
//! one simulated part: identification and layout, a write across pages or
//! sectors (and banks) read back, a range erase that keeps the bytes
//! around it, a mass erase, the option words read and decoded, and read
//! protection refused before anything is touched.

use std::path::Path;

use super::{flash_of, open_sim, pattern, run, run_sim, temp_dir, write_file, Run};
use stflash_sim::SimSpec;

/// One part of a new family.
pub struct Part {
    /// The simulated part.
    pub chip: &'static str,
    /// The chip table's name for it.
    pub name: &'static str,
    /// `FlashLayout::describe` of the part as simulated.
    pub layout: &'static str,
    /// Where the test image goes and how long it is: across page, sector
    /// and bank boundaries.
    pub write: (u32, usize),
    /// A range erase inside the image (whole pages or sectors).
    pub erase: (u32, u32),
}

impl Part {
    /// Identification, the layout, and the write/read/erase/mass-erase round
    /// trip through the binary.
    pub fn check(&self) {
        let (session, _) = open_sim(SimSpec::new(self.chip));
        assert_eq!(session.target.chip.name, self.name, "{}", self.chip);
        assert_eq!(session.layout.describe(), self.layout, "{}", self.chip);
        assert_eq!(session.target.link().ap(), session.target.chip.core_ap, "{}: access port", self.chip);
        drop(session);
        let (addr, len) = self.write;
        round_trip(self.chip, addr, &pattern(len, addr), self.erase);
    }

    /// Run the binary on a fresh chip of this part kept in `state`.
    pub fn run(&self, state: &Path, args: &[&str]) -> Run {
        run_sim(self.chip, state, args)
    }

    /// With read protection (`rdp=1` in the simulator: RDP level 1, or the
    /// product state closing debug access), reads and writes of flash are
    /// refused with exit code 6 and nothing is changed.
    pub fn refuses_read_protection(&self, level1: &str) {
        let dir = temp_dir("rdp");
        let state = dir.join("chip.sim");
        let spec = format!("{}:{}", self.chip, state.display());
        let env = [("STFLASH_SIM", spec.as_str()), ("STFLASH_SIM_OPTS", "rdp=1")];
        let out = dir.join("out.bin");
        run(&["read", out.to_str().unwrap(), "0x08000000", "16"], &env).fails(6, level1);
        let img = write_file(&dir, "img.bin", &pattern(64, 3));
        run(&["write", &img, "0x08000000"], &env).fails(6, level1);
    }
}

/// Write `image` at `addr` through the binary, read it back, erase `erase`
/// (whole sectors, checking the bytes around them), then mass erase.
pub fn round_trip(chip: &str, addr: u32, image: &[u8], erase: (u32, u32)) {
    let dir = temp_dir(chip);
    let state = dir.join("chip.sim");
    let img = write_file(&dir, "img.bin", image);
    run_sim(chip, &state, &["write", &img, &format!("0x{addr:08X}")]).ok();
    let back = dir.join("back.bin");
    run_sim(chip, &state, &["read", back.to_str().unwrap(), &format!("0x{addr:08X}"), &image.len().to_string()]).ok();
    assert_eq!(std::fs::read(&back).unwrap(), image, "{chip}: read back");
    assert_eq!(flash_of(&state, addr, image.len()), image, "{chip}: flash");

    let (start, len) = erase;
    let out = run_sim(chip, &state, &["erase", &format!("0x{start:08X}"), &format!("0x{len:X}")]).ok();
    assert!(out.stdout.contains(&format!("-> Flash page at {start:#x} erased")), "{}", out.stdout);
    let flash = flash_of(&state, addr, image.len());
    let (before, after) = ((start - addr) as usize, (start - addr + len) as usize);
    assert!(after < image.len(), "the test image must extend past the erased range");
    assert_eq!(flash[..before], image[..before], "{chip}: bytes before the erased range kept");
    assert_eq!(flash[before..after], vec![0xFF; len as usize][..], "{chip}: erased");
    assert_eq!(flash[after..], image[after..], "{chip}: bytes after it kept");

    let out = run_sim(chip, &state, &["erase"]).ok();
    assert!(out.stdout.contains("Mass erase completed successfully."), "{}", out.stdout);
    assert_eq!(flash_of(&state, addr, image.len()), vec![0xFF; image.len()], "{chip}: mass erase");
}

/// st-flash's raw `--area=AREA read` value of the chip in `state`.
pub fn read_area(chip: &str, state: &Path, area: &str) -> u32 {
    let out = run_sim(chip, state, &["--quiet", &format!("--area={area}"), "read"]).ok();
    let line = out.stdout.trim();
    assert_eq!(line.len(), 8, "eight hex digits: {line:?}");
    u32::from_str_radix(line, 16).expect("hex")
}
