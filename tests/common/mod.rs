//! Shared helpers for end-to-end tests: run the built `stflash` binary against
//! the simulator, or open a library session on a simulated chip.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use stflash::ops::{ProbeSelector, Session, SessionOptions};
use stflash::sim::{SimHandle, SimSpec};
use stflash::target::ConnectOptions;

/// Result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Assert success, showing the output when it failed.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    /// Assert a failure with `code` whose stderr contains `text`.
    pub fn fails(self, code: i32, text: &str) -> Run {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert!(self.stderr.contains(text), "stderr lacks {text:?}:\n{}", self.stderr);
        self
    }
}

/// The binary with a clean simulator environment.
pub fn stflash() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stflash"));
    for var in [
        "STFLASH_SIM",
        "STFLASH_SIM_PROBE",
        "STFLASH_SIM_FIRMWARE",
        "STFLASH_SIM_OPTS",
        "STFLASH_SIM_FAULTS",
        "RUST_LOG",
    ] {
        c.env_remove(var);
    }
    c
}

/// Run the binary with `args` and extra environment.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = stflash();
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run stflash");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run against a simulated chip kept in `state` (STFLASH_SIM=chip:state).
pub fn run_sim(chip: &str, state: &Path, args: &[&str]) -> Run {
    let spec = format!("{chip}:{}", state.display());
    run(args, &[("STFLASH_SIM", &spec)])
}

/// A fresh, empty directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("stflash-test-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A library session on a fresh simulated chip, with its simulator handle.
pub fn open_sim(spec: SimSpec) -> (Session, SimHandle) {
    let opts =
        SessionOptions { probe: ProbeSelector { serial: None, sim: vec![spec] }, connect: ConnectOptions::default() };
    let session = Session::open(&opts).unwrap_or_else(|e| panic!("open simulated session: {e}"));
    let handle = session.sim.clone().expect("simulated session has a handle");
    (session, handle)
}

/// Deterministic test data.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as u8
        })
        .collect()
}
