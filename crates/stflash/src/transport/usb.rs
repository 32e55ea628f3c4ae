//! The real transport: rusb (libusb). Links the system libusb when pkg-config
//! finds it (rusb's default), else rusb builds its bundled copy.

use std::time::{Duration, Instant};

use log::{debug, warn};
use rusb::{Context, Device, DeviceHandle, UsbContext};

use super::{normalise_serial, serial_matches, ProbeEntry, ProbeInfo, ProbeKind, Transport, TransportError, ST_VID};

const DESCRIPTOR_TIMEOUT: Duration = Duration::from_millis(500);

fn map_err(e: rusb::Error, location: &str) -> TransportError {
    match e {
        rusb::Error::Access => TransportError::Permission { location: location.to_string() },
        rusb::Error::Busy => TransportError::Busy { location: location.to_string() },
        rusb::Error::NoDevice => TransportError::Disconnected,
        rusb::Error::Timeout => TransportError::Timeout { what: "transfer" },
        rusb::Error::Pipe => TransportError::Stall,
        other => TransportError::Usb(other.to_string()),
    }
}

/// An open ST-LINK on USB.
pub struct UsbTransport {
    handle: DeviceHandle<Context>,
    info: ProbeInfo,
    ep_out: u8,
    ep_in: u8,
    opened: Instant,
}

fn location(dev: &Device<Context>) -> String {
    format!("{:03}:{:03}", dev.bus_number(), dev.address())
}

fn read_serial(handle: &DeviceHandle<Context>, index: Option<u8>) -> String {
    let Some(index) = index else { return String::new() };
    let Ok(langs) = handle.read_languages(DESCRIPTOR_TIMEOUT) else { return String::new() };
    let Some(lang) = langs.first() else { return String::new() };
    match handle.read_string_descriptor(*lang, index, DESCRIPTOR_TIMEOUT) {
        Ok(s) => {
            let raw: Vec<u16> = s.encode_utf16().collect();
            normalise_serial(&raw)
        }
        Err(_) => String::new(),
    }
}

/// Every USB device with an ST-LINK product id, in enumeration order, with
/// the reason it cannot be opened where that is the case.
pub fn list() -> Vec<ProbeEntry> {
    // An explicit context: rusb's global one panics where libusb cannot start
    // (no USB subsystem, as in containers); here that just means no probe.
    let Ok(devices) = Context::new().and_then(|c| c.devices()) else {
        log::debug!("libusb could not start; no USB probes are visible");
        return Vec::new();
    };
    let mut out = Vec::new();
    for dev in devices.iter() {
        let Ok(desc) = dev.device_descriptor() else { continue };
        if desc.vendor_id() != ST_VID {
            continue;
        }
        let Some(kind) = ProbeKind::from_pid(desc.product_id()) else { continue };
        let loc = location(&dev);
        let (serial, problem) = match dev.open() {
            Ok(h) => (read_serial(&h, desc.serial_number_string_index()), None),
            Err(e) => (String::new(), Some(map_err(e, &loc))),
        };
        out.push(ProbeEntry {
            info: ProbeInfo { vid: ST_VID, pid: desc.product_id(), kind, serial, location: loc },
            problem,
        });
    }
    out
}

impl UsbTransport {
    /// Open the probe with `serial`, or the only (else the last enumerated,
    /// as st-flash does) probe when no serial is given.
    pub fn open(serial: Option<&str>) -> Result<UsbTransport, TransportError> {
        let probes = list();
        let chosen = match serial {
            Some(s) => probes.iter().find(|p| serial_matches(&p.info.serial, s)),
            None => {
                if probes.len() > 1 {
                    let last = &probes[probes.len() - 1].info;
                    warn!(
                        "{} ST-LINKs connected; using {} ({}); choose one with --serial",
                        probes.len(),
                        last.serial,
                        last.location
                    );
                }
                probes.last()
            }
        };
        let Some(entry) = chosen else {
            let seen = probes.iter().map(|p| p.info.serial.clone()).filter(|s| !s.is_empty()).collect();
            return Err(TransportError::NotFound { serial: serial.map(str::to_string), seen });
        };
        if let Some(problem) = &entry.problem {
            return Err(problem.clone());
        }
        Self::open_entry(&entry.info)
    }

    /// Open one probe from [`list`] (even when several share a serial, as clones do).
    pub fn open_entry(info: &ProbeInfo) -> Result<UsbTransport, TransportError> {
        if info.kind == ProbeKind::V1 {
            return Err(TransportError::Unsupported {
                what: "ST-LINK/V1 (USB mass-storage protocol) is not supported; use an ST-LINK/V2 or newer".into(),
            });
        }
        let devices = Context::new().and_then(|c| c.devices()).map_err(|e| map_err(e, &info.location))?;
        let dev = devices.iter().find(|d| location(d) == info.location).ok_or(TransportError::Disconnected)?;
        let handle = dev.open().map_err(|e| map_err(e, &info.location))?;
        let _ = handle.set_auto_detach_kernel_driver(true);
        match handle.active_configuration() {
            Ok(1) => {}
            _ => handle.set_active_configuration(1).map_err(|e| map_err(e, &info.location))?,
        }
        handle.claim_interface(0).map_err(|e| match e {
            rusb::Error::Busy | rusb::Error::Access => TransportError::Busy { location: info.location.clone() },
            other => map_err(other, &info.location),
        })?;
        let (ep_out, ep_in) = info.kind.endpoints();
        debug!("opened {} {} at {}", info.kind, info.serial, info.location);
        Ok(UsbTransport { handle, info: info.clone(), ep_out, ep_in, opened: Instant::now() })
    }
}

impl Transport for UsbTransport {
    fn write(&mut self, data: &[u8], timeout: Duration) -> Result<usize, TransportError> {
        self.handle.write_bulk(self.ep_out, data, timeout).map_err(|e| map_err(e, &self.info.location))
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        self.handle.read_bulk(self.ep_in, buf, timeout).map_err(|e| map_err(e, &self.info.location))
    }

    fn info(&self) -> &ProbeInfo {
        &self.info
    }

    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d)
    }

    fn elapsed(&self) -> Duration {
        self.opened.elapsed()
    }
}

impl Drop for UsbTransport {
    fn drop(&mut self) {
        let _ = self.handle.release_interface(0);
    }
}
