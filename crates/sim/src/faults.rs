//! Fault injection: `STFLASH_SIM_FAULTS=comma,separated,list` for every
//! simulated probe, and `STFLASH_SIM="chip@list:state"` for one probe of
//! several (its list adds to the global one; a fault given in both takes the
//! probe's value): e.g. `STFLASH_SIM="f103:a.sim;f103@disconnect-after=300:b.sim"`
//! cuts off the second probe only.
//!
//! | fault | effect |
//! |---|---|
//! | `disconnect-after=N` | every USB transfer after the Nth fails with `Disconnected` |
//! | `timeout-after=N` | after N transfers the probe stops answering: writes are swallowed, reads time out |
//! | `stall-after=N` | every USB transfer after the Nth fails with `Stall` |
//! | `wait=N` / `wait=always` | the next N memory/debug accesses answer SWD AP WAIT (0x10), doing nothing |
//! | `wait-status=ap\|dp` | an injected WAIT answers 0x10 SWD AP WAIT (default) or 0x14 SWD DP WAIT (which one the firmware uses is not documented) |
//! | `fault-status=ap\|sticky` | a bus fault answers 0x11 SWD AP FAULT (default) or 0x19 SWD AP STICKY ERROR |
//! | `wait-every=N` | every Nth memory/debug access answers SWD AP WAIT, doing nothing (an AP that is busy now and then; what a real ST-LINK does with a WAIT in the middle of a transfer is not documented: assumed, the whole command is refused) |
//! | `no-power` | target unpowered: 0 V, nothing answers over SWD |
//! | `no-target` | powered, but nothing answers over SWD |
//! | `no-halt` | C_HALT requests are ignored; the core keeps running |
//! | `firmware-disables-swd` | the firmware in flash takes the SWD pins (or sleeps with the debug clocks off) once it runs: nothing answers on SWD while it runs; held in reset or halted at the reset vector (connect under reset) the chip answers; erased flash has no firmware to do it |
//! | `core-crash-after=N` | code running on the simulated core faults at its (N+1)th instruction after each start |
//! | `max-swd=KHZ` | the link fails above this SWD clock: memory and debug-register accesses answer SWD AP parity error (0x13) |
//! | `bitflip-swd=KHZ` | above this SWD clock, 32-bit memory reads return one wrong bit with an OK status (silent corruption, found only by verification) |
//! | `crc-peripheral=lsb-first` | the CRC peripheral takes each data word least significant bit first, whatever CR says (= `crc-peripheral-order=reflected`) |
//! | `crc-peripheral=absent` / `=garbage` / `=no-reset` | nothing answers at the CRC peripheral's address / DR reads meaningless values / CR.RESET does not reload the initial value |
//! | `crc-peripheral-order=word\|bytes\|reflected\|byte-reflected\|half-reflected` | the CRC peripheral's input order, whatever CR.REV_IN says |
//! | `crc-peripheral-init=HEX`, `crc-peripheral-poly=HEX` | the CRC peripheral's initial value / polynomial, whatever INIT / POL hold |
//! | `crc-peripheral-left=app` | the CRC peripheral is clocked and configured as an application might leave it (reflected 16-bit CRC) |
//! | `flash-time=F` | every flash operation (program, erase, option change, the H7 flash CRC) takes F times its modeled time (`0.1` … `10`; the flash models' times are assumed, not measured) |
//! | `sram-limit=BYTES` | every SRAM region answers for at most this many bytes (`8KiB`, `4096`): less RAM than the chip table says; accesses beyond fault |
//! | `core-clock=HZ` | the core runs at this clock (`16M`, `250k`, `4000000`) instead of its reset clock: code in SRAM takes one cycle of it per instruction (an application may have left a PLL running or a slower clock) |
//! | `interrupt-after=N` | at the Nth transfer the process receives SIGINT, as if the user pressed Ctrl-C |
//! | `terminate-after=N` | at the Nth transfer the process receives SIGTERM |
//! | any other `key=value` | forwarded to the flash model's `configure` on every run |
//!
//! A transfer is one `Transport::write` or `Transport::read` call. Where a
//! fault takes `N`, `N` counts transfers; `NB` or `NKiB` counts bytes sent to
//! the probe instead (e.g. `disconnect-after=32KiB`), which places the fault
//! inside a data transfer whatever the write path does before it.

use crate::crc_peripheral::CrcPeripheralFaults;

/// How many accesses answer WAIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFault {
    Count(u64),
    Always,
    /// Every Nth access.
    Every(u64),
}

/// When a fault starts: after N transfers, or after N bytes sent to the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Transfers(u64),
    BytesOut(u64),
}

impl Trigger {
    /// True once the run is past the trigger point.
    pub fn passed(self, transfers: u64, bytes_out: u64) -> bool {
        match self {
            Trigger::Transfers(n) => transfers > n,
            Trigger::BytesOut(n) => bytes_out > n,
        }
    }

    fn parse(key: &str, v: Option<&str>) -> Result<Trigger, String> {
        let v = v.ok_or_else(|| format!("fault '{key}' needs a count ({key}=N, or {key}=NKiB for bytes)"))?;
        let number = |t: &str| t.trim().parse::<u64>().map_err(|_| format!("fault '{key}': '{v}' is not a number"));
        if let Some(kib) = v.strip_suffix("KiB") {
            Ok(Trigger::BytesOut(number(kib)? * 1024))
        } else if let Some(bytes) = v.strip_suffix('B') {
            Ok(Trigger::BytesOut(number(bytes)?))
        } else {
            Ok(Trigger::Transfers(number(v)?))
        }
    }
}

/// The faults of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    pub disconnect_after: Option<Trigger>,
    pub timeout_after: Option<Trigger>,
    pub stall_after: Option<Trigger>,
    pub wait: Option<WaitFault>,
    pub no_power: bool,
    pub no_target: bool,
    pub no_halt: bool,
    pub firmware_disables_swd: bool,
    pub core_crash_after: Option<u64>,
    /// Highest SWD clock (kHz) at which the link works.
    pub max_swd_khz: Option<u32>,
    /// Highest SWD clock (kHz) at which 32-bit reads come back right.
    pub bitflip_swd_khz: Option<u32>,
    /// How the CRC peripheral differs from its manual (`crc-peripheral*=`).
    pub crc_peripheral: CrcPeripheralFaults,
    /// The core clock (Hz), instead of the part's reset clock.
    pub core_clock_hz: Option<u64>,
    /// Flash operation times, in thousandths of the modeled times.
    pub flash_time_permille: Option<u64>,
    /// Bytes each SRAM region answers for, at most.
    pub sram_limit: Option<u32>,
    /// Status byte of an injected WAIT and of a bus fault (`None`: AP WAIT, AP FAULT).
    pub wait_status: Option<u8>,
    pub fault_status: Option<u8>,
    /// Deliver SIGINT to this process once past this point (a Ctrl-C at a known moment).
    pub interrupt_after: Option<Trigger>,
    /// Deliver SIGTERM to this process once past this point.
    pub terminate_after: Option<Trigger>,
    /// Deliver a further SIGINT once past each of these points (a user
    /// pressing Ctrl-C again; the key may be given several times).
    pub interrupt_again_after: Vec<Trigger>,
    /// From this point on the probe's USB transfers never return: the
    /// calling thread blocks for good (a wedged USB stack; only a signal
    /// ends the process).
    pub hang_after: Option<Trigger>,
    /// `key=value` pairs for `FlashModel::configure` (e.g. `rdp=1`).
    pub model: Vec<(String, String)>,
}

const VALID: &str = "disconnect-after=N, timeout-after=N, stall-after=N, wait=N|always, wait-every=N, \
                     wait-status=ap|dp, fault-status=ap|sticky, no-power, no-target, no-halt, firmware-disables-swd, \
                     core-crash-after=N, max-swd=KHZ, bitflip-swd=KHZ, core-clock=HZ, flash-time=F, sram-limit=BYTES, \
                     crc-peripheral=lsb-first|absent|garbage|no-reset, crc-peripheral-order|init|poly|left=…, \
                     interrupt-after=N, interrupt-again-after=N, terminate-after=N, hang-after=N, \
                     or a flash-model setting key=value";

impl FaultPlan {
    /// Parse a comma-separated fault list (empty = no faults).
    pub fn parse(list: &str) -> Result<FaultPlan, String> {
        let mut plan = FaultPlan::default();
        plan.add(list)?;
        Ok(plan)
    }

    /// Add the faults of a comma-separated list to this plan (a fault given
    /// again takes its new value): one probe's own faults on top of those
    /// every probe has.
    pub fn add(&mut self, list: &str) -> Result<(), String> {
        let plan = self;
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (item, None),
            };
            let count = |v: Option<&str>| -> Result<u64, String> {
                let v = v.ok_or_else(|| format!("fault '{key}' needs a count ({key}=N)"))?;
                v.parse::<u64>().map_err(|_| format!("fault '{key}': '{v}' is not a number"))
            };
            match (key, value) {
                ("disconnect-after", v) => plan.disconnect_after = Some(Trigger::parse(key, v)?),
                ("timeout-after", v) => plan.timeout_after = Some(Trigger::parse(key, v)?),
                ("stall-after", v) => plan.stall_after = Some(Trigger::parse(key, v)?),
                ("interrupt-after", v) => plan.interrupt_after = Some(Trigger::parse(key, v)?),
                ("terminate-after", v) => plan.terminate_after = Some(Trigger::parse(key, v)?),
                ("interrupt-again-after", v) => plan.interrupt_again_after.push(Trigger::parse(key, v)?),
                ("hang-after", v) => plan.hang_after = Some(Trigger::parse(key, v)?),
                ("wait", Some("always")) => plan.wait = Some(WaitFault::Always),
                ("wait", v) => plan.wait = Some(WaitFault::Count(count(v)?)),
                ("wait-every", v) => plan.wait = Some(WaitFault::Every(count(v)?.max(1))),
                ("no-power", None) => plan.no_power = true,
                ("no-target", None) => plan.no_target = true,
                ("no-halt", None) => plan.no_halt = true,
                ("firmware-disables-swd", None) => plan.firmware_disables_swd = true,
                ("core-crash-after", v) => plan.core_crash_after = Some(count(v)?),
                ("max-swd", v) => plan.max_swd_khz = Some(count(v)?.min(u32::MAX as u64) as u32),
                ("bitflip-swd", v) => plan.bitflip_swd_khz = Some(count(v)?.min(u32::MAX as u64) as u32),
                ("wait-status", Some("ap")) => plan.wait_status = Some(0x10),
                ("wait-status", Some("dp")) => plan.wait_status = Some(0x14),
                ("fault-status", Some("ap")) => plan.fault_status = Some(0x11),
                ("fault-status", Some("sticky")) => plan.fault_status = Some(0x19),
                ("wait-status" | "fault-status", _) => {
                    return Err(format!("fault '{item}': wait-status takes ap or dp, fault-status ap or sticky"))
                }
                ("sram-limit", Some(v)) => {
                    let n = match v.strip_suffix("KiB") {
                        Some(k) => k.trim().parse::<u32>().ok().and_then(|k| k.checked_mul(1024)),
                        None => v.trim().parse::<u32>().ok(),
                    };
                    plan.sram_limit =
                        Some(n.ok_or_else(|| format!("fault 'sram-limit={v}': expected bytes, e.g. 8KiB or 4096"))?);
                }
                ("flash-time", Some(v)) => {
                    let f = v
                        .trim()
                        .trim_end_matches(['x', '×'])
                        .parse::<f64>()
                        .ok()
                        .filter(|f| (0.01..=100.0).contains(f));
                    let f = f.ok_or_else(|| {
                        format!("fault 'flash-time={v}': expected a factor from 0.01 to 100, e.g. 0.1 or 10")
                    })?;
                    plan.flash_time_permille = Some((f * 1000.0).round() as u64);
                }
                ("core-clock", Some(v)) => {
                    plan.core_clock_hz = Some(parse_hz(v).ok_or_else(|| {
                        format!("fault 'core-clock={v}': expected a clock in Hz, e.g. 16M, 250k or 4000000")
                    })?)
                }
                (k, v) if k.starts_with("crc-peripheral") => {
                    plan.crc_peripheral.parse(k, v)?;
                }
                ("no-power" | "no-target" | "no-halt" | "firmware-disables-swd", Some(_)) => {
                    return Err(format!("fault '{key}' takes no value; valid: {VALID}"))
                }
                (k, Some(v)) if !k.is_empty() => plan.model.push((k.to_string(), v.to_string())),
                _ => return Err(format!("unknown simulator fault '{item}'; valid: {VALID}")),
            }
        }
        Ok(())
    }

    /// What happens to USB transfer number `n` (1-based), `bytes_out` bytes
    /// having been sent before it.
    pub fn transfer(&self, n: u64, bytes_out: u64) -> TransferFate {
        let after = |limit: Option<Trigger>| limit.is_some_and(|t| t.passed(n, bytes_out));
        if after(self.disconnect_after) {
            TransferFate::Disconnected
        } else if after(self.stall_after) {
            TransferFate::Stall
        } else if after(self.timeout_after) {
            TransferFate::Unanswered
        } else {
            TransferFate::Normal
        }
    }
}

/// A clock: `16M`, `16MHz`, `250k`, `250kHz`, `4000000` (Hz); fractions allowed (`2.097M`).
fn parse_hz(v: &str) -> Option<u64> {
    let t = v.trim();
    let t = t.strip_suffix("Hz").unwrap_or(t);
    let (num, mul) = match t.chars().last()? {
        'M' | 'm' => (&t[..t.len() - 1], 1e6),
        'k' | 'K' => (&t[..t.len() - 1], 1e3),
        _ => (t, 1.0),
    };
    let hz = num.trim().parse::<f64>().ok()? * mul;
    (1000.0..=2e9).contains(&hz).then_some(hz.round() as u64)
}

/// The outcome the fault plan imposes on one USB transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferFate {
    Normal,
    Disconnected,
    Stall,
    /// The probe no longer processes anything: writes vanish, reads time out.
    Unanswered,
}

/// Remaining WAIT answers during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitBudget(Option<WaitFault>, u64);

impl WaitBudget {
    pub fn new(plan: &FaultPlan) -> WaitBudget {
        WaitBudget(plan.wait, 0)
    }

    /// Consume one access: true when it must answer WAIT.
    pub fn take(&mut self) -> bool {
        self.1 += 1;
        match &mut self.0 {
            Some(WaitFault::Always) => true,
            Some(WaitFault::Count(n)) if *n > 0 => {
                *n -= 1;
                true
            }
            Some(WaitFault::Every(n)) => self.1 % *n == 0,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fault() {
        let p = FaultPlan::parse(
            "disconnect-after=10, timeout-after=5,stall-after=7,wait=3,no-power,no-target,no-halt,rdp=1,\
             firmware-disables-swd",
        )
        .unwrap();
        assert!(p.firmware_disables_swd);
        assert_eq!(p.disconnect_after, Some(Trigger::Transfers(10)));
        assert_eq!(p.timeout_after, Some(Trigger::Transfers(5)));
        assert_eq!(p.stall_after, Some(Trigger::Transfers(7)));
        assert_eq!(p.wait, Some(WaitFault::Count(3)));
        assert!(p.no_power && p.no_target && p.no_halt);
        assert_eq!(p.model, vec![("rdp".to_string(), "1".to_string())]);
        assert_eq!(FaultPlan::parse("wait=always").unwrap().wait, Some(WaitFault::Always));
        assert_eq!(FaultPlan::parse("").unwrap(), FaultPlan::default());
        let p = FaultPlan::parse("disconnect-after=32KiB,interrupt-after=100B,terminate-after=9").unwrap();
        assert_eq!(p.disconnect_after, Some(Trigger::BytesOut(32 * 1024)));
        assert_eq!(p.interrupt_after, Some(Trigger::BytesOut(100)));
        assert_eq!(p.terminate_after, Some(Trigger::Transfers(9)));
        let clock = |v: &str| FaultPlan::parse(&format!("core-clock={v}")).map(|p| p.core_clock_hz.unwrap());
        assert_eq!(clock("16M"), Ok(16_000_000));
        assert_eq!(clock("2.097MHz"), Ok(2_097_000));
        assert_eq!(clock("250k"), Ok(250_000));
        assert_eq!(clock("4000000"), Ok(4_000_000));
        assert!(clock("fast").is_err() && clock("0").is_err());
        assert_eq!(FaultPlan::parse("flash-time=0.1").unwrap().flash_time_permille, Some(100));
        assert_eq!(FaultPlan::parse("flash-time=10x").unwrap().flash_time_permille, Some(10_000));
        assert!(FaultPlan::parse("flash-time=0").is_err());
        let p = FaultPlan::parse("wait-status=dp,fault-status=sticky,sram-limit=12KiB").unwrap();
        assert_eq!((p.wait_status, p.fault_status, p.sram_limit), (Some(0x14), Some(0x19), Some(12 * 1024)));
        assert!(FaultPlan::parse("wait-status=jtag").is_err());
    }

    #[test]
    fn rejects_unknown_or_malformed_faults_listing_valid_ones() {
        for bad in ["explode", "wait=soon", "disconnect-after", "no-power=1", "=3", "stall-after=xKiB"] {
            let e = FaultPlan::parse(bad).unwrap_err();
            assert!(e.contains("fault"), "{bad}: {e}");
        }
        assert!(FaultPlan::parse("explode").unwrap_err().contains("no-halt"));
    }

    #[test]
    fn transfer_fates_start_after_the_nth_transfer() {
        let p = FaultPlan::parse("disconnect-after=2").unwrap();
        assert_eq!(p.transfer(2, 0), TransferFate::Normal);
        assert_eq!(p.transfer(3, 0), TransferFate::Disconnected);
        let p = FaultPlan::parse("stall-after=1,timeout-after=0").unwrap();
        assert_eq!(p.transfer(1, 0), TransferFate::Unanswered);
        assert_eq!(p.transfer(2, 0), TransferFate::Stall);
        let p = FaultPlan::parse("disconnect-after=1KiB").unwrap();
        assert_eq!(p.transfer(500, 1024), TransferFate::Normal);
        assert_eq!(p.transfer(501, 1025), TransferFate::Disconnected);
    }

    #[test]
    fn wait_budget_runs_out_unless_always() {
        let mut b = WaitBudget::new(&FaultPlan::parse("wait=2").unwrap());
        assert!(b.take() && b.take() && !b.take());
        let mut a = WaitBudget::new(&FaultPlan::parse("wait=always").unwrap());
        assert!((0..100).all(|_| a.take()));
        let mut n = WaitBudget::new(&FaultPlan::default());
        assert!(!n.take());
        let mut e = WaitBudget::new(&FaultPlan::parse("wait-every=3").unwrap());
        assert_eq!((0..6).map(|_| e.take()).collect::<Vec<_>>(), [false, false, true, false, false, true]);
    }
}
