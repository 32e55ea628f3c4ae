//! Model tests: each register effect and each misuse, from the RM facts.
//! Bit positions are spelled out here rather than taken from the model.

use super::*;
use crate::model::Requests;

/// A model with a clock, driven the way the bus drives it.
struct Bench {
    f: L4gModel,
    now: Nanos,
    stats: FlashStats,
    reset_requested: bool,
}

impl Bench {
    fn of(v: &'static ModelVariant, geo: Geometry) -> Bench {
        Bench { f: L4gModel::new(v, geo), now: 0, stats: FlashStats::default(), reset_requested: false }
    }

    fn base(&self) -> u32 {
        self.f.v.base
    }

    fn access<T>(&mut self, addr: u32, write: bool, f: impl FnOnce(&mut L4gModel, &mut Access) -> T) -> T {
        self.now = self.f.stall_until(addr, write, Initiator::Debugger, self.now).max(self.now);
        self.f.advance(self.now, &mut self.stats);
        let mut req = Requests::default();
        let mut acc = Access { now: self.now, by: Initiator::Debugger, stats: &mut self.stats, requests: &mut req };
        let r = f(&mut self.f, &mut acc);
        self.reset_requested |= req.system_reset;
        self.now += US; // every access takes a little time
        r
    }

    fn w(&mut self, addr: u32, value: u32) {
        self.access(addr, true, |f, acc| f.write(addr, AccessWidth::Word, value, acc)).expect("write");
    }

    fn w_width(&mut self, addr: u32, width: AccessWidth, value: u32) -> Result<(), BusFault> {
        self.access(addr, true, |f, acc| f.write(addr, width, value, acc))
    }

    fn r(&mut self, addr: u32) -> u32 {
        self.access(addr, false, |f, acc| f.read(addr, AccessWidth::Word, acc)).expect("read")
    }

    fn try_r(&mut self, addr: u32) -> Result<u32, BusFault> {
        self.access(addr, false, |f, acc| f.read(addr, AccessWidth::Word, acc))
    }

    fn reg(&mut self, off: u32) -> u32 {
        let b = self.base();
        self.r(b + off)
    }

    fn set(&mut self, off: u32, v: u32) {
        let b = self.base();
        self.w(b + off, v)
    }

    fn unlock(&mut self) {
        self.set(0x08, 0x4567_0123);
        self.set(0x08, 0xCDEF_89AB);
        assert_eq!(self.reg(0x14) & (1 << 31), 0, "unlocked");
    }

    /// Let the current operation finish.
    fn settle(&mut self) {
        self.now += 100 * MS;
        self.f.advance(self.now, &mut self.stats);
        assert_eq!(self.reg(0x10) & (0b111 << 16), 0, "idle");
    }

    fn program(&mut self, addr: u32, lo: u32, hi: u32) {
        self.w(addr, lo);
        self.w(addr + 4, hi);
        self.settle();
    }

    fn sr(&mut self) -> u32 {
        self.reg(0x10)
    }

    fn clear_sr(&mut self) {
        self.set(0x10, 0xFFFF);
    }

    fn peek32(&self, addr: u32) -> u32 {
        let b = self.f.peek(addr, 4).unwrap();
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    fn erase_page(&mut self, cr: u32) {
        self.set(0x14, cr);
        self.set(0x14, cr | (1 << 16));
        self.settle();
    }

    /// MER1 (bit 2) and/or MER2 (bit 15), STRT.
    fn mass_erase(&mut self, mer: u32) {
        self.erase_page(mer);
        self.set(0x14, 0);
    }

    /// One fast row of `dws` double words at `addr` (FSTPG, bit 18), each
    /// word its own index, written at core speed (the buffer takes the next
    /// double word while one is programmed).
    fn fast_row(&mut self, addr: u32, dws: u32) {
        self.set(0x14, 1 << 18);
        for i in 0..dws {
            self.w(addr + 8 * i, i);
            self.w(addr + 8 * i + 4, !i);
        }
    }
}

// SR bits (RM0351 FLASH_SR).
const S_EOP: u32 = 1 << 0;
const S_PROGERR: u32 = 1 << 3;
const S_WRPERR: u32 = 1 << 4;
const S_PGAERR: u32 = 1 << 5;
const S_SIZERR: u32 = 1 << 6;
const S_PGSERR: u32 = 1 << 7;
const S_MISERR: u32 = 1 << 8;
const S_FASTERR: u32 = 1 << 9;
const S_OPTVERR: u32 = 1 << 15;
const S_BSY: u32 = 1 << 16;
const S_BSY2: u32 = 1 << 17;
const S_CFGBSY: u32 = 1 << 18;
const S_PESD: u32 = 1 << 19;

fn l476() -> Bench {
    Bench::of(&L4_DUAL, half_dual(1024, 2048, BankRule::Dual, &[]))
}

fn g071() -> Bench {
    Bench::of(&G0, Geometry::single(128, 2048))
}

#[test]
fn reset_state_is_locked_and_keys_unlock_once() {
    let mut b = l476();
    assert_eq!(b.reg(0x14), 0xC000_0000, "LOCK and OPTLOCK set at reset");
    b.unlock();
    // A second key sequence while unlocked locks CR until reset.
    b.set(0x08, 0x4567_0123);
    assert_ne!(b.reg(0x14) & (1 << 31), 0);
    b.set(0x08, 0x4567_0123);
    b.set(0x08, 0xCDEF_89AB);
    assert_ne!(b.reg(0x14) & (1 << 31), 0, "still locked until reset");
    b.f.reset();
    b.unlock();
}

#[test]
fn a_wrong_key_locks_until_reset() {
    let mut b = l476();
    b.set(0x08, 0x1234_5678);
    b.set(0x08, 0x4567_0123);
    b.set(0x08, 0xCDEF_89AB);
    assert_ne!(b.reg(0x14) & (1 << 31), 0);
    // CR ignores writes while locked.
    b.set(0x14, 1);
    assert_eq!(b.reg(0x14) & 1, 0);
}

#[test]
fn double_word_program_takes_time_stalls_and_sets_eop_only_with_eopie() {
    let mut b = l476();
    b.unlock();
    b.set(0x14, 1); // PG
    b.w(0x0800_0000, 0x1122_3344);
    assert_eq!(b.peek32(0x0800_0000), 0xFFFF_FFFF, "nothing before the second word");
    b.w(0x0800_0004, 0x5566_7788);
    assert_ne!(b.sr() & S_BSY, 0);
    let before = b.now;
    // Reading flash while busy waits until the double word is programmed (82 µs).
    assert_eq!(b.r(0x0800_0004), 0x5566_7788);
    assert!(b.now - before >= 70 * US, "stalled {} ns", b.now - before);
    assert_eq!(b.r(0x0800_0000), 0x1122_3344);
    assert_eq!(b.sr() & S_EOP, 0, "EOP needs EOPIE");
    b.set(0x14, 1 | (1 << 24));
    b.program(0x0800_0008, 1, 2);
    assert_ne!(b.sr() & S_EOP, 0);
    assert_eq!(b.stats.words, 2);
}

#[test]
fn programming_a_programmed_double_word_is_progerr_except_all_zero() {
    let mut b = l476();
    b.unlock();
    b.set(0x14, 1);
    b.program(0x0800_0010, 0xFFFF_FFFF, 0xFFFF_FF00);
    b.program(0x0800_0010, 0x0000_00FF, 0);
    assert_ne!(b.sr() & S_PROGERR, 0);
    assert_eq!(b.peek32(0x0800_0010), 0xFFFF_FFFF, "data not written");
    b.clear_sr();
    // All-zero data is allowed over programmed cells.
    b.program(0x0800_0010, 0, 0);
    assert_eq!(b.sr() & 0xFF, 0);
    assert_eq!(b.peek32(0x0800_0014), 0);
    // A double word programmed with all ones is still "programmed".
    b.program(0x0800_0018, 0xFFFF_FFFF, 0xFFFF_FFFF);
    b.program(0x0800_0018, 1, 1);
    assert_ne!(b.sr() & S_PROGERR, 0);
}

#[test]
fn byte_and_half_word_writes_are_sizerr() {
    let mut b = g071();
    b.unlock();
    b.set(0x14, 1);
    b.w_width(0x0800_0000, AccessWidth::Half, 0x1234).unwrap();
    assert_ne!(b.sr() & S_SIZERR, 0);
    b.clear_sr();
    b.w_width(0x0800_0000, AccessWidth::Byte, 0x12).unwrap();
    assert_ne!(b.sr() & S_SIZERR, 0);
    assert_eq!(b.peek32(0x0800_0000), 0xFFFF_FFFF);
}

#[test]
fn misaligned_or_split_double_words_are_pgaerr() {
    let mut b = g071();
    b.unlock();
    b.set(0x14, 1);
    b.w(0x0800_0004, 1);
    assert_ne!(b.sr() & S_PGAERR, 0, "first word not double-word aligned");
    b.clear_sr();
    b.w(0x0800_0000, 1);
    assert_ne!(b.sr() & S_CFGBSY, 0, "CFGBSY from the first word on");
    b.w(0x0800_000C, 2);
    assert_ne!(b.sr() & S_PGAERR, 0, "second word in another double word");
    assert_eq!(b.f.peek(0x0800_0000, 16).unwrap(), vec![0xFF; 16]);
    // Half a double word, then CR changes: the word is abandoned with PGSERR
    // and the controller can still be locked.
    b.clear_sr();
    b.w(0x0800_0010, 1);
    b.set(0x14, 0);
    b.set(0x14, 1 << 31);
    assert_eq!(b.sr() & (S_PGSERR | S_CFGBSY), S_PGSERR);
    assert_ne!(b.reg(0x14) & (1 << 31), 0);
    assert_eq!(b.f.peek(0x0800_0010, 8).unwrap(), vec![0xFF; 8]);
}

#[test]
fn writes_without_pg_or_with_errors_pending_are_pgserr() {
    let mut b = g071();
    b.unlock();
    b.w(0x0800_0000, 1);
    b.w(0x0800_0004, 2);
    assert_ne!(b.sr() & S_PGSERR, 0);
    assert_eq!(b.peek32(0x0800_0000), 0xFFFF_FFFF, "a write with PG clear changes nothing");
    // With PGSERR still set, even a correct sequence is refused.
    b.set(0x14, 1);
    b.program(0x0800_0000, 1, 2);
    assert_eq!(b.peek32(0x0800_0000), 0xFFFF_FFFF);
    b.clear_sr();
    b.program(0x0800_0000, 1, 2);
    assert_eq!(b.peek32(0x0800_0000), 1);
}

#[test]
fn page_erase_decodes_pnb_and_bker_at_their_bits() {
    let mut b = l476();
    for a in [0x0800_0800, 0x0808_0800, 0x0808_1000] {
        b.f.poke(a, &[0; 8]);
    }
    b.unlock();
    // Bank 2, page 1: PER bit 1, PNB bits 3-10, BKER bit 11.
    b.erase_page((1 << 1) | (1 << 3) | (1 << 11));
    assert_eq!(b.peek32(0x0808_0800), 0xFFFF_FFFF);
    assert_eq!(b.peek32(0x0800_0800), 0, "bank 1 page 1 untouched");
    // stlink's G4 bank bit (13) is reserved on L4: bank 1 page 2 would be hit,
    // here page 1 of bank 1 (the bit is ignored).
    b.erase_page((1 << 1) | (1 << 3) | (1 << 13));
    assert_eq!(b.peek32(0x0800_0800), 0xFFFF_FFFF);
    assert_eq!(b.peek32(0x0808_1000), 0, "bank 2 page 2 untouched");
    assert_eq!(b.stats.erases, 2);
}

#[test]
fn g4_cat3_global_page_numbers_spill_into_reserved_bits() {
    // What stlink does on a dual-bank G474 (src/stlink-lib/common_flash.c:1120-1138
    // with BKER at bit 13, inc/stm32flash.h:184; stlink issue #1456): page 129 with
    // BKER at bit 13 erases page 1 of bank 1, not page 1 of bank 2.
    let geo = Geometry {
        size: 512 * 1024,
        single_page: 4096,
        dual_page: 2048,
        bank2: Bank2::Fixed(0x0804_0000),
        rule: BankRule::OptionBit(1 << 22),
        option_keys: &[],
    };
    let mut b = Bench::of(&G4_CAT3, geo);
    b.f.poke(0x0800_0800, &[0; 8]);
    b.f.poke(0x0804_0800, &[0; 8]);
    b.unlock();
    b.erase_page((1 << 1) | ((129 & 0x7FF) << 3) | (1 << 13));
    assert_eq!(b.peek32(0x0800_0800), 0xFFFF_FFFF, "bank 1 page 1 erased instead");
    assert_eq!(b.peek32(0x0804_0800), 0, "the wanted page survives");
    b.erase_page((1 << 1) | (1 << 3) | (1 << 11));
    assert_eq!(b.peek32(0x0804_0800), 0xFFFF_FFFF);
}

#[test]
fn erase_with_bad_bits_is_pgserr_and_erases_nothing() {
    let mut b = g071();
    b.f.poke(0x0800_0000, &[0; 8]);
    b.unlock();
    b.set(0x14, 1 << 16); // STRT alone
    assert_ne!(b.sr() & S_PGSERR, 0);
    b.clear_sr();
    b.set(0x14, 1 | (1 << 1)); // PG with PER
    b.set(0x14, 1 | (1 << 1) | (1 << 16));
    assert_ne!(b.sr() & S_PGSERR, 0);
    b.clear_sr();
    b.erase_page((1 << 1) | (100 << 3)); // page 100 of a 64-page part
    assert_ne!(b.sr() & S_PGSERR, 0);
    assert_eq!(b.peek32(0x0800_0000), 0);
    assert_eq!(b.stats.erases, 0);
}

#[test]
fn write_protected_pages_raise_wrperr_and_keep_their_data() {
    let mut b = g071();
    b.f.configure("wrp", "0x08001000-0x08001fff").unwrap();
    b.f.poke(0x0800_1000, &[0x5A; 8]);
    b.unlock();
    b.erase_page((1 << 1) | (2 << 3));
    assert_ne!(b.sr() & S_WRPERR, 0);
    assert_eq!(b.peek32(0x0800_1000), 0x5A5A_5A5A);
    b.clear_sr();
    b.set(0x14, 1);
    b.program(0x0800_1800, 0, 1);
    assert_ne!(b.sr() & S_WRPERR, 0);
    assert_eq!(b.peek32(0x0800_1800), 0xFFFF_FFFF);
    b.clear_sr();
    b.set(0x14, 0);
    // Mass erase refuses too while a WRP area exists.
    b.erase_page(1 << 2);
    assert_ne!(b.sr() & S_WRPERR, 0);
    assert_eq!(b.peek32(0x0800_1000), 0x5A5A_5A5A);
    // WRP1AR reads back the area (pages 2-3).
    assert_eq!(b.reg(0x2C), 2 | (3 << 16));
}

#[test]
fn g0b1_bank2_sets_bsy2_and_uses_bker_bit_13() {
    let mut b = Bench::of(&G0B1, half_dual(512, 2048, BankRule::OptionBit(1 << 21), &[]));
    assert!(b.f.dual, "factory OPTR has DUAL_BANK set");
    b.f.poke(0x0804_1800, &[0; 8]);
    b.unlock();
    b.set(0x14, (1 << 1) | (3 << 3) | (1 << 13));
    b.set(0x14, (1 << 1) | (3 << 3) | (1 << 13) | (1 << 16));
    let sr = b.sr();
    assert_eq!(sr & (S_BSY | S_BSY2 | S_CFGBSY), S_BSY2 | S_CFGBSY);
    b.settle();
    assert_eq!(b.peek32(0x0804_1800), 0xFFFF_FFFF);
}

#[test]
fn single_bank_mode_changes_the_map_and_page_size() {
    let mut b = Bench::of(
        &L4_PLUS,
        Geometry {
            size: 2048 * 1024,
            single_page: 8192,
            dual_page: 4096,
            bank2: Bank2::Half,
            rule: BankRule::OptionBit(1 << 22),
            option_keys: &[("dbank", 1 << 22)],
        },
    );
    b.f.configure("dbank", "0").unwrap();
    b.f.poke(0x0800_2000, &[0; 16]);
    b.f.poke(0x0800_3000, &[0; 16]);
    b.unlock();
    // Page 1 is 8 KiB: 0x08002000-0x08003FFF.
    b.erase_page((1 << 1) | (1 << 3));
    assert_eq!(b.peek32(0x0800_2000), 0xFFFF_FFFF);
    assert_eq!(b.peek32(0x0800_3000), 0xFFFF_FFFF);
    assert!(b.f.configure("dbank", "2").is_err());
    assert!(b.f.configure("db1m", "1").unwrap_err().contains("dbank"));
}

#[test]
fn options_program_and_reload_through_obl_launch() {
    let mut b = g071();
    b.unlock();
    b.set(0x0C, 0x0819_2A3B);
    b.set(0x0C, 0x4C5D_6E7F);
    assert_eq!(b.reg(0x14) & (1 << 30), 0, "OPTLOCK open");
    let optr = b.reg(0x20);
    b.set(0x20, (optr & !0xFF) | 0xBB);
    b.set(0x14, 1 << 17); // OPTSTRT
    b.settle();
    assert_eq!(b.f.peek(0x1FFF_7800, 1).unwrap(), vec![0xBB], "stored in the option bytes");
    b.set(0x14, 1 << 27); // OBL_LAUNCH
    assert!(b.reset_requested);
    b.f.reset();
    assert!(!b.f.debug_readable(0x0800_0000), "RDP level 1 after reload");
}

#[test]
fn rdp_levels_hide_flash_and_the_debug_port() {
    let mut b = g071();
    b.f.configure("rdp", "1").unwrap();
    assert!(!b.f.debug_readable(0x0800_0000) && b.f.debug_readable(0x2000_0000));
    b.f.configure("rdp", "2").unwrap();
    assert!(b.f.debug_port_disabled());
}

#[test]
fn wb_secure_area_is_unreadable_unwritable_and_survives_mass_erase() {
    let mut b = Bench::of(&WB, Geometry::single(1024, 4096));
    b.f.configure("sfsa", "0xF0").unwrap();
    assert!(b.f.poke(0x080F_0000, &[0x11; 16]));
    b.f.poke(0x0800_0000, &[0x22; 16]);
    assert_eq!(b.try_r(0x080F_0000), Err(BusFault));
    // OPTVERR is set at option load and blocks operations until cleared.
    assert_ne!(b.sr() & S_OPTVERR, 0);
    b.unlock();
    b.erase_page(1 << 2);
    assert_ne!(b.sr() & S_PGSERR, 0);
    assert_eq!(b.peek32(0x0800_0000), 0x2222_2222);
    b.clear_sr();
    b.set(0x14, 0);
    b.erase_page(1 << 2);
    assert_eq!(b.peek32(0x0800_0000), 0xFFFF_FFFF);
    assert_eq!(b.peek32(0x080F_0000), 0x1111_1111, "MER keeps the secure pages");
    b.erase_page((1 << 1) | (0xF0 << 3));
    assert_ne!(b.sr() & S_WRPERR, 0);
    assert_eq!(b.f.v.base, 0x5800_4000);
}

#[test]
fn pesd_holds_operations_while_cpu2_suspends_them() {
    let mut b = Bench::of(&WLE, Geometry::single(256, 2048));
    b.f.configure("pesd", "1").unwrap();
    b.clear_sr();
    assert_ne!(b.sr() & S_PESD, 0);
    b.f.poke(0x0800_0000, &[0; 8]);
    b.unlock();
    b.set(0x14, 1 << 2);
    b.set(0x14, (1 << 2) | (1 << 16));
    b.now += 10 * MS * 100;
    b.f.advance(b.now, &mut b.stats);
    assert_ne!(b.sr() & S_BSY, 0, "still waiting");
    assert_eq!(b.peek32(0x0800_0000), 0);
}

#[test]
fn fast_programming_misses_data_that_comes_over_swd_pace() {
    let mut b = g071();
    b.unlock();
    b.mass_erase(1 << 2);
    b.set(0x14, 1 << 18); // FSTPG
    b.w(0x0800_0000, 1);
    b.w(0x0800_0004, 2);
    // The host needs a USB round trip per double word: 300 µs.
    b.now += 300 * US;
    b.w(0x0800_0008, 3);
    assert_eq!(b.sr() & (S_MISERR | S_FASTERR), S_MISERR | S_FASTERR);
    assert_eq!(b.peek32(0x0800_0000), 1, "the first double word made it");
    assert_eq!(b.peek32(0x0800_0008), 0xFFFF_FFFF);
}

#[test]
fn fast_programming_a_row_at_core_speed_works_and_takes_59_7_us_per_double_word() {
    let mut b = g071();
    b.unlock();
    b.mass_erase(1 << 2);
    let start = b.now;
    b.fast_row(0x0800_0100, 32);
    while b.sr() & S_BSY != 0 {
        b.now += US;
    }
    // DS12288 Table 47: a row of 32 double words in 1.91 ms.
    let took = b.now - start;
    assert!((1_900 * US..1_990 * US).contains(&took), "{took} ns");
    assert_eq!(b.sr() & 0xFFFF, 0);
    assert_eq!(b.peek32(0x0800_01F8), 31);
    assert_eq!(b.stats.words, 32);
}

#[test]
fn fast_programming_needs_a_mass_erase_of_the_bank_and_8_mhz() {
    // No mass erase since reset: PGSERR, nothing programmed.
    let mut b = l476();
    b.unlock();
    b.fast_row(0x0800_0000, 1);
    assert_eq!(b.sr() & (S_PGSERR | S_FASTERR), S_PGSERR);
    assert_eq!(b.peek32(0x0800_0000), 0xFFFF_FFFF);
    b.clear_sr();
    // Bank 2 erased by MER2 (bit 15): bank 2 takes rows, bank 1 still not.
    b.mass_erase(1 << 15);
    b.fast_row(0x0808_0000, 32);
    b.settle();
    assert_eq!((b.sr() & 0xFFFF, b.peek32(0x0808_00F8)), (0, 31));
    b.fast_row(0x0800_0000, 1);
    assert_ne!(b.sr() & S_PGSERR, 0, "bank 1 was not mass-erased");
    b.clear_sr();
    // A page erase in bank 2 forgets its mass erase.
    b.erase_page((1 << 1) | (1 << 11));
    b.fast_row(0x0808_0800, 1);
    assert_ne!(b.sr() & S_PGSERR, 0);
    b.clear_sr();
    // Below 8 MHz: FASTERR at the first double word.
    b.mass_erase(1 << 2);
    b.f.set_core_clock(4_000_000);
    b.fast_row(0x0800_0000, 1);
    assert_eq!(b.sr() & (S_FASTERR | S_PGSERR), S_FASTERR);
    assert_eq!(b.peek32(0x0800_0000), 0xFFFF_FFFF);
}

#[test]
fn a_read_of_the_bank_stops_a_fast_row_silently_and_the_other_bank_answers() {
    let mut b = l476();
    b.unlock();
    b.mass_erase((1 << 2) | (1 << 15));
    b.set(0x14, 1 << 18);
    for i in 0..4u32 {
        b.w(0x0800_0000 + 8 * i, i);
        b.w(0x0800_0004 + 8 * i, !i);
    }
    // Bank 2 answers without waiting (read-while-write); bank 1 stops the row.
    let before = b.now;
    assert_eq!(b.r(0x0808_0000), 0xFFFF_FFFF);
    assert!(b.now - before < 10 * US, "no stall for the other bank");
    // Double word 2 is being programmed, 3 waits in the buffer: the read
    // lets 2 finish and drops 3.
    let _ = b.r(0x0800_0100);
    b.settle();
    assert_eq!(b.sr() & 0xFFFF, 0, "no flag");
    assert_eq!(b.peek32(0x0800_0010), 2);
    assert_eq!(b.peek32(0x0800_0018), 0xFFFF_FFFF, "the rest of the row stays erased");
}

#[test]
fn fast_row_knobs_break_the_chosen_row() {
    for (knob, flags) in [("abort", 0), ("fasterr", S_FASTERR), ("miserr", S_MISERR | S_FASTERR)] {
        let mut b = g071();
        b.f.configure("fast_row", knob).unwrap();
        b.unlock();
        b.mass_erase(1 << 2);
        b.fast_row(0x0800_0000, 32);
        b.settle();
        assert_eq!(b.sr() & 0xFFFF, 0, "{knob}: the first row is whole");
        b.fast_row(0x0800_0100, 32);
        b.settle();
        assert_eq!(b.sr() & (S_MISERR | S_FASTERR), flags, "{knob}");
        assert_eq!(b.peek32(0x0800_0100), 0, "{knob}: the first half made it");
        assert_eq!(b.peek32(0x0800_01F8), 0xFFFF_FFFF, "{knob}: the last double word did not");
        let second_half = b.peek32(0x0800_0180);
        assert_eq!(second_half == 16, knob == "abort", "{knob}: 0x{second_half:08X}");
    }
}

#[test]
fn l4_plus_rows_are_64_double_words() {
    let geo = Geometry {
        size: 2048 * KIB,
        single_page: 8 * KIB,
        dual_page: 4 * KIB,
        bank2: Bank2::Half,
        rule: BankRule::OptionBit(1 << 22),
        option_keys: &[],
    };
    let mut b = Bench::of(&L4_PLUS, geo);
    b.unlock();
    b.mass_erase(1 << 2);
    b.fast_row(0x0800_0000, 64);
    b.settle();
    assert_eq!((b.sr() & 0xFFFF, b.stats.words), (0, 64));
    // A row may start on a 512-byte boundary only.
    b.fast_row(0x0800_0300, 1);
    assert_eq!(b.sr() & S_PGAERR, S_PGAERR);
}

#[test]
fn misaligned_fast_row_is_pgaerr() {
    let mut b = g071();
    b.unlock();
    b.mass_erase(1 << 2);
    b.set(0x14, 1 << 18);
    b.w(0x0800_0008, 1);
    b.w(0x0800_000C, 2);
    assert_eq!(b.sr() & (S_PGAERR | S_FASTERR), S_PGAERR | S_FASTERR);
}

#[test]
fn save_load_round_trip_keeps_flash_and_options() {
    let mut a = g071();
    a.f.configure("rdp", "1").unwrap();
    a.f.poke(0x0801_0000, &[1, 2, 3, 4]);
    a.f.poke(0x1FFF_7000, &[9; 8]);
    let blobs = a.f.save();
    let mut b = g071();
    b.f.load(&blobs).unwrap();
    assert_eq!(b.f.peek(0x0801_0000, 4).unwrap(), vec![1, 2, 3, 4]);
    assert_eq!(b.f.peek(0x1FFF_7000, 1).unwrap(), vec![9]);
    assert!(!b.f.debug_readable(0x0800_0000));
    let mut c = l476();
    assert!(c.f.load(&blobs).unwrap_err().contains("bytes"));
}

#[test]
fn configure_rejects_unknown_keys_with_the_list() {
    let mut b = g071();
    let e = b.f.configure("dbank", "1").unwrap_err();
    assert!(e.contains("rdp=") && e.contains("wrp="), "{e}");
    assert!(b.f.configure("wrp", "0x08000000-0x08100000").is_err());
    assert!(b.f.configure("wrp", "nonsense").is_err());
}

#[test]
fn every_part_builds_and_maps_its_flash_size() {
    for p in PARTS {
        let m = (p.flash)();
        let flash: u64 = m
            .regions()
            .iter()
            .filter(|r| r.start >= 0x0800_0000 && r.start < 0x1000_0000)
            .map(|r| (r.end - r.start) as u64)
            .sum();
        assert_eq!(flash, p.flash_size_kib as u64 * 1024, "{}", p.name);
        assert!(m.regions().iter().all(|r| !r.contains(&p.flash_size_addr)), "{}", p.name);
    }
}

#[test]
fn fast_row_pgserr_refuses_the_chosen_row_and_programs_nothing() {
    let mut b = g071();
    b.f.configure("fast_row", "pgserr").unwrap();
    b.unlock();
    b.mass_erase(1 << 2);
    b.fast_row(0x0800_0000, 32);
    b.settle();
    assert_eq!(b.sr() & 0xFFFF, 0, "the first row is whole");
    b.fast_row(0x0800_0100, 1);
    b.settle();
    assert_eq!(b.sr() & S_PGSERR, S_PGSERR);
    assert_eq!(b.peek32(0x0800_0100), 0xFFFF_FFFF, "nothing of the second row");
}

#[test]
fn the_wl55_secure_area_needs_ese_and_a_wle_has_no_sfr() {
    // WL55: factory SFR has FSD set; with FSD clear the area applies only
    // while OPTR.ESE is set.
    let mut b = Bench::of(&WL55, Geometry::single(256, 2048));
    b.f.configure("fsd", "0").unwrap();
    b.f.configure("sfsa", "0x70").unwrap();
    assert!(b.try_r(0x0803_8000).is_ok(), "ESE = 0: no secure area");
    b.f.configure("ese", "1").unwrap();
    assert!(b.try_r(0x0803_8000).is_err(), "ESE = 1: pages 0x70 on are CPU2's");
    assert_eq!(b.reg(0x80) & 0xFF, 0x70);
    // WLE5: the SFR address reads what the knob says.
    let mut b = Bench::of(&WLE, Geometry::single(256, 2048));
    assert_eq!(b.reg(0x80), 0);
    b.f.configure("sfr_absent", "ones").unwrap();
    assert_eq!(b.reg(0x80), u32::MAX);
    b.f.configure("sfr_absent", "fault").unwrap();
    assert!(b.try_r(0x5800_4080).is_err());
    assert!(b.f.configure("sfsa", "1").is_err(), "no FLASH_SFR on a WLE");
}

#[test]
fn g0b1_bank_count_follows_the_sales_type() {
    let geo = half_dual(512, 2048, BankRule::OptionBit(1 << 21), &[]);
    let mut b = Bench::of(&G0B1, geo);
    assert_eq!(b.r(0x1FFF_7500) >> 24 & 3, 1, "default sales type 1");
    assert!(b.f.dual, "factory OPTR has DUAL_BANK set");
    b.f.configure("sales_type", "0").unwrap();
    assert!(!b.f.dual, "sales type 0: one bank");
    assert_eq!(b.r(0x1FFF_7500) >> 24 & 3, 0);
    b.f.configure("sales_type", "2").unwrap();
    b.f.stored.optr &= !(1 << 21);
    b.f.reset();
    assert!(b.f.dual, "sales type 2: two banks whatever DUAL_BANK says");
    b.f.configure("sales_type", "1").unwrap();
    assert!(!b.f.dual, "sales type 1: DUAL_BANK = 0 gives one bank");
}
