//! The part of an image that lies in the data EEPROM (STM32L0/L1).
//!
//! The EEPROM has no erase unit larger than a word and erases by itself
//! where a store needs it (`flash::eeprom`), so the plan is simple: every
//! word the image touches gets its new value, the bytes of those words that
//! the image does not cover keep what the chip holds (whatever `--erase-rest`
//! says: there is no sector to erase), words that already hold their value
//! are not stored again (each store costs 3.2-6.4 ms and one of the cells'
//! write cycles), and the words are read back afterwards. Words are stored
//! one at a time, each waited for, by the host: a multi-millisecond bus stall
//! inside one probe transfer is avoided.

use log::{info, warn};

use super::super::image::Segment;
use super::super::session::Session;
use super::super::verify;
use crate::chip::MemRegion;
use crate::error::{Error, ErrorKind, Result};
use crate::flash::eeprom::EepromArea;
use crate::flash::{engine, FlashError, Phase, Progress};
use crate::text::count;

/// What the EEPROM part of a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EepromReport {
    /// The part's EEPROM.
    pub region: MemRegion,
    /// Image bytes that lie in it.
    pub bytes: u64,
    /// Words stored, and words that already held their new value.
    pub words_written: u64,
    pub words_unchanged: u64,
    /// Bytes of touched words kept from the chip (outside the image).
    pub kept_bytes: u64,
    pub verified: bool,
}

/// Runs of whole words the segments touch, as (address, length), joined
/// where they meet.
pub fn touched_words(segments: &[&Segment]) -> Vec<(u32, u32)> {
    let mut spans: Vec<(u32, u32)> = segments
        .iter()
        .filter(|s| !s.data.is_empty())
        .map(|s| {
            let start = s.addr & !3;
            let end = (s.end() as u32).next_multiple_of(4);
            (start, end)
        })
        .collect();
    spans.sort_unstable();
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for (start, end) in spans {
        match runs.last_mut() {
            Some((s, len)) if start <= *s + *len => *len = (*len).max(end - *s),
            _ => runs.push((start, end - start)),
        }
    }
    runs
}

/// The new contents of a run of words: what the chip holds (`current`), with
/// the image bytes laid over it; and how many bytes came from the chip.
pub fn desired(run: (u32, u32), current: &[u8], segments: &[&Segment]) -> (Vec<u8>, u64) {
    let (start, len) = run;
    let mut data = current.to_vec();
    let mut covered = vec![false; len as usize];
    for seg in segments {
        let lo = (seg.addr as u64).max(start as u64);
        let hi = seg.end().min(start as u64 + len as u64);
        if lo >= hi {
            continue;
        }
        let dst = (lo - start as u64) as usize..(hi - start as u64) as usize;
        let src = (lo - seg.addr as u64) as usize..(hi - seg.addr as u64) as usize;
        data[dst.clone()].copy_from_slice(&seg.data[src]);
        covered[dst].fill(true);
    }
    let kept = covered.iter().zip(current).filter(|&(&c, &b)| !c && b != 0).count() as u64;
    (data, kept)
}

/// Write the EEPROM segments (already placed inside `area.region`): read
/// the touched words, store those that change, lock, verify by reading back.
pub(super) fn write(
    session: &mut Session,
    area: &EepromArea,
    segments: &[&Segment],
    verify_it: bool,
    progress: &mut dyn Progress,
) -> Result<EepromReport> {
    session.require_unprotected()?;
    let bytes: u64 = segments.iter().map(|s| s.data.len() as u64).sum();
    if let Some((size, part)) = area.smaller {
        let limit = area.region.base as u64 + size as u64;
        if let Some(s) = segments.iter().find(|s| s.end() > limit) {
            warn!(
                "0x{:08X}-0x{:08X} is past the first {} of the data EEPROM: stflash cannot tell an {part}, whose \
                 EEPROM ends at 0x{:08X}, from the {} (same DEV_ID, same flash size); what an {part} does with \
                 a write there is not documented (the write is verified by reading every byte back)",
                s.addr.max(limit as u32),
                s.end() - 1,
                count(size as u64, "byte"),
                limit - 1,
                area.parts
            );
        }
    }
    let mut plan: Vec<(u32, Vec<u8>, Vec<u8>)> = Vec::new();
    let mut kept_bytes = 0;
    for run in touched_words(segments) {
        let mut current = vec![0u8; run.1 as usize];
        session.target.read_mem(run.0, &mut current)?;
        let (want, kept) = desired(run, &current, segments);
        kept_bytes += kept;
        plan.push((run.0, current, want));
    }
    let word = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
    let stores: Vec<(u32, u32, u32)> = plan
        .iter()
        .flat_map(|(addr, cur, want)| {
            cur.chunks(4)
                .zip(want.chunks(4))
                .enumerate()
                .filter(|(_, (c, w))| c != w)
                .map(move |(i, (c, w))| (addr + 4 * i as u32, word(c), word(w)))
        })
        .collect();
    let total_words: u64 = plan.iter().map(|(_, c, _)| c.len() as u64 / 4).sum();
    let mut report = EepromReport {
        region: area.region,
        bytes,
        words_written: 0,
        words_unchanged: total_words - stores.len() as u64,
        kept_bytes,
        verified: false,
    };
    if stores.is_empty() {
        info!("the data EEPROM already holds these {}", count(bytes, "byte"));
    } else {
        info!(
            "writing {} of the data EEPROM ({} already hold their value)",
            count(stores.len() as u64, "word"),
            report.words_unchanged
        );
        report.words_written = store(session, &stores, progress)?;
    }
    if verify_it {
        let ranges: Vec<(u32, &[u8])> = plan.iter().map(|(a, _, w)| (*a, &w[..])).collect();
        verify::compare_all(session, &ranges, progress)?;
        report.verified = true;
    }
    Ok(report)
}

/// Store each (address, old, new) word in turn, then lock the EEPROM again
/// (also after a failure). Returns the words stored.
fn store(session: &mut Session, stores: &[(u32, u32, u32)], progress: &mut dyn Progress) -> Result<u64> {
    let Session { target: t, flash, .. } = session;
    let ctrl = flash.as_mut().ok_or_else(|| Error::unsupported("no flash driver for this chip"))?;
    engine::clear_stale_errors(t, ctrl.as_ref(), 0)?;
    ctrl.eeprom().expect("the area came from it").unlock_eeprom(t)?;
    progress.begin(Phase::Program, stores.len() as u64 * 4);
    let mut done = 0u64;
    let result = (|| {
        for &(addr, old, new) in stores {
            if progress.should_stop() {
                return Err(FlashError::Interrupted { at: addr });
            }
            let ops = ctrl.eeprom().expect("checked").store_word_ops(addr, old, new);
            engine::run_ops(t, ctrl.as_ref(), &ops, &format!("writing the data EEPROM word at 0x{addr:08X}"))?;
            done += 1;
            progress.add(4);
        }
        Ok(())
    })();
    let locked = ctrl.eeprom().expect("checked").lock_eeprom(t);
    progress.end();
    match result {
        Ok(()) => {
            locked?;
            Ok(done)
        }
        Err(FlashError::Interrupted { at }) => Err(Error::new(
            ErrorKind::Interrupted,
            format!(
                "interrupted at 0x{at:08X}, data EEPROM locked; {} of {} words written, the others unchanged; \
                 run the same command again to complete the write",
                done,
                stores.len()
            ),
        )),
        Err(e) => {
            let mut err = Error::from(e);
            err.message =
                format!("{}; {done} of {} data EEPROM words were written before it", err.message, stores.len());
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(addr: u32, data: Vec<u8>) -> Segment {
        Segment { addr, data }
    }

    #[test]
    fn segments_touch_whole_words_and_neighbours_join() {
        let a = seg(0x0808_0002, vec![1; 3]);
        let b = seg(0x0808_0005, vec![2; 2]);
        let c = seg(0x0808_0010, vec![3; 4]);
        assert_eq!(touched_words(&[&c, &a, &b]), [(0x0808_0000, 8), (0x0808_0010, 4)]);
        assert_eq!(touched_words(&[&seg(0x0808_0003, vec![9])]), [(0x0808_0000, 4)]);
    }

    #[test]
    fn image_bytes_are_laid_over_what_the_chip_holds() {
        let a = seg(0x0808_0002, vec![0xAA; 3]);
        let current = [1, 2, 3, 4, 5, 0, 7, 8];
        let (want, kept) = desired((0x0808_0000, 8), &current, &[&a]);
        assert_eq!(want, [1, 2, 0xAA, 0xAA, 0xAA, 0, 7, 8]);
        assert_eq!(kept, 4, "bytes 0, 1, 6 and 7; the 0x00 is erased, not kept");
    }
}
