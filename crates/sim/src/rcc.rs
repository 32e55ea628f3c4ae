//! The part of the reset and clock controller (RCC) that sets the core
//! clock, on the parts whose flash needs a minimum clock for its fast
//! programming: L4, L4+, G4, WB and WL (RM0440 §3.3.7: HCLK of at least
//! 8 MHz). Modeled: RCC_CR's HSION/HSIRDY and MSI range, RCC_CFGR's system
//! clock switch (SW, SWS: MSI or HSI16) and AHB prescaler (HPRE). The core
//! clock (HCLK) follows: the Thumb interpreter runs at it, the CRC peripheral
//! times itself by it and the flash model checks it. HSE and the PLL are not
//! modeled (a switch to them is ignored). Other RCC registers are not
//! decoded here (the CRC peripheral claims its clock-enable register).
//!
//! Register facts (RM0351 §6.4.1, §6.4.3; CMSIS stm32l476xx.h, stm32g474xx.h,
//! stm32wb55xx.h, stm32wle5xx.h): RCC_CR at offset 0 with MSION 0, MSIRDY 1,
//! MSIRGSEL 3, MSIRANGE 4-7 (range 6 = 4 MHz at reset), HSION 8, HSIRDY 10;
//! RCC_CFGR at offset 8 with SW 0-1 and SWS 2-3 (0 MSI, 1 HSI16), HPRE 4-7.
//! Reset: MSI at 4 MHz (L4, L4+, WB, WL), HSI16 (G4). **Assumed**: HSIRDY
//! follows HSION at once (the startup time, a few µs, is not modeled).
//! Knob `hsi16=absent`: HSIRDY never sets, so the clock cannot be raised.

const CR: u32 = 0x00;
const CFGR: u32 = 0x08;

const MSIRDY: u32 = 1 << 1;
const MSION: u32 = 1 << 0;
const MSIRGSEL: u32 = 1 << 3;
const MSIRANGE_SHIFT: u32 = 4;
const HSION: u32 = 1 << 8;
const HSIRDY: u32 = 1 << 10;
const SW: u32 = 0b11;
const SWS_SHIFT: u32 = 2;
const HPRE_SHIFT: u32 = 4;

const SW_MSI: u32 = 0;
const SW_HSI16: u32 = 1;
const HSI16_HZ: u64 = 16_000_000;

/// MSI frequency by MSIRANGE (RM0351 RCC_CR MSIRANGE: 100 kHz … 48 MHz).
const MSI_HZ: [u64; 12] = [
    100_000, 200_000, 400_000, 800_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000, 16_000_000, 24_000_000, 32_000_000,
    48_000_000,
];

/// Where a part's RCC is and what it resets to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub base: u32,
    reset_cr: u32,
    reset_cfgr: u32,
}

/// MSI on at 4 MHz, the system clock (L4, L4+, WB, WL).
const MSI_RESET: u32 = MSION | MSIRDY | (6 << MSIRANGE_SHIFT);

/// The RCC of the part with this DEV_ID.
pub fn placement(dev_id: u16) -> Option<Placement> {
    Some(match dev_id {
        // L4, L4+: RCC_BASE 0x40021000 (stm32l476xx.h, stm32l4r5xx.h).
        0x415 | 0x435 | 0x461 | 0x462 | 0x464 | 0x470 | 0x471 => {
            Placement { base: 0x4002_1000, reset_cr: MSI_RESET, reset_cfgr: 0 }
        }
        // G4: HSI16 on and selected at reset (stm32g474xx.h; RM0440 RCC_CFGR reset 0x00000005).
        0x468 | 0x469 | 0x479 => {
            Placement { base: 0x4002_1000, reset_cr: HSION | HSIRDY, reset_cfgr: SW_HSI16 | SW_HSI16 << SWS_SHIFT }
        }
        // WB, WL: RCC_BASE 0x58000000 (stm32wb55xx.h, stm32wle5xx.h).
        0x495 | 0x497 => Placement { base: 0x5800_0000, reset_cr: MSI_RESET, reset_cfgr: 0 },
        _ => return None,
    })
}

/// The simulated clock registers of one part.
#[derive(Debug, Clone)]
pub struct RccModel {
    place: Placement,
    cr: u32,
    cfgr: u32,
    /// `hsi16=absent`: the oscillator never becomes ready.
    pub hsi16_absent: bool,
}

impl RccModel {
    pub fn new(place: Placement) -> RccModel {
        RccModel { place, cr: place.reset_cr, cfgr: place.reset_cfgr, hsi16_absent: false }
    }

    pub fn reset(&mut self) {
        self.cr = self.place.reset_cr;
        self.cfgr = self.place.reset_cfgr;
    }

    pub fn claims(&self, addr: u32) -> bool {
        addr & !3 == self.place.base + CR || addr & !3 == self.place.base + CFGR
    }

    pub fn read(&self, addr: u32) -> u32 {
        if addr & !3 == self.place.base + CR {
            self.cr
        } else {
            self.cfgr
        }
    }

    /// A 32-bit write (narrower ones are taken as such, assumed).
    pub fn write(&mut self, addr: u32, value: u32) {
        if addr & !3 == self.place.base + CR {
            let ro = MSIRDY | HSIRDY;
            self.cr = (value & !ro) | (self.cr & ro);
            if self.cr & HSION != 0 && !self.hsi16_absent {
                self.cr |= HSIRDY;
            } else {
                self.cr &= !HSIRDY;
            }
            if self.cr & MSION != 0 {
                self.cr |= MSIRDY;
            }
        } else {
            let sw = value & SW;
            let ready = match sw {
                SW_MSI => self.cr & MSIRDY != 0,
                SW_HSI16 => self.cr & HSIRDY != 0,
                _ => false,
            };
            let sws = if ready { sw } else { (self.cfgr >> SWS_SHIFT) & SW };
            self.cfgr = (value & !(SW << SWS_SHIFT)) | sws << SWS_SHIFT;
        }
    }

    /// The core clock: the system clock (MSI at its range, or HSI16) through
    /// the AHB prescaler.
    pub fn hclk(&self) -> u64 {
        let sysclk = match (self.cfgr >> SWS_SHIFT) & SW {
            SW_HSI16 => HSI16_HZ,
            SW_MSI => {
                // MSIRANGE applies with MSIRGSEL; before that, the range
                // after reset (4 MHz; RCC_CSR.MSISRANGE is not modeled).
                let range = if self.cr & MSIRGSEL != 0 { (self.cr >> MSIRANGE_SHIFT) & 0xF } else { 6 };
                MSI_HZ.get(range as usize).copied().unwrap_or(4_000_000)
            }
            _ => HSI16_HZ,
        };
        let hpre = (self.cfgr >> HPRE_SHIFT) & 0xF;
        let div = match hpre {
            0..=7 => 1,
            8..=11 => 2 << (hpre - 8),
            h => 64 << (h - 12),
        };
        sysclk / div
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l4_starts_on_msi_at_4_mhz_and_switches_to_hsi16() {
        let mut r = RccModel::new(placement(0x415).unwrap());
        assert_eq!(r.hclk(), 4_000_000);
        r.write(0x4002_1008, SW_HSI16);
        assert_eq!(r.hclk(), 4_000_000, "HSI16 is off: no switch");
        r.write(0x4002_1000, r.read(0x4002_1000) | HSION);
        assert_ne!(r.read(0x4002_1000) & HSIRDY, 0);
        r.write(0x4002_1008, SW_HSI16);
        assert_eq!((r.read(0x4002_1008) >> 2) & 3, 1);
        assert_eq!(r.hclk(), 16_000_000);
        r.write(0x4002_1008, SW_HSI16 | 9 << 4); // HPRE /4
        assert_eq!(r.hclk(), 4_000_000);
        r.reset();
        assert_eq!(r.hclk(), 4_000_000);
    }

    #[test]
    fn an_absent_hsi16_never_becomes_the_system_clock() {
        let mut r = RccModel::new(placement(0x495).unwrap());
        r.hsi16_absent = true;
        r.write(0x5800_0000, r.read(0x5800_0000) | HSION);
        r.write(0x5800_0008, SW_HSI16);
        assert_eq!(r.read(0x5800_0000) & HSIRDY, 0);
        assert_eq!(r.hclk(), 4_000_000);
    }

    #[test]
    fn g4_resets_to_hsi16() {
        let r = RccModel::new(placement(0x469).unwrap());
        assert_eq!(r.hclk(), 16_000_000);
        assert!(placement(0x460).is_none(), "G0 starts on HSISYS: not modeled");
    }
}
