//! Shared helpers for end-to-end tests: run the built `stflash` binary against
//! the simulator, or open a library session on a simulated chip.
#![allow(dead_code)]

pub mod families;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use stflash::mcu::ConnectOptions;
use stflash::ops::Session;
use stflash_sim::{SimHandle, SimSpec};

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

/// The binary with a clean simulator environment and a journal directory
/// of its own (a test that reruns on one chip passes the same directory
/// with `STFLASH_STATE_DIR`, as `Board` does).
pub fn stflash() -> Command {
    command_for(Path::new(env!("CARGO_BIN_EXE_stflash")))
}

/// `exe` (the binary, possibly under another name) with a clean simulator
/// environment and a journal directory of its own.
pub fn command_for(exe: &Path) -> Command {
    let mut c = Command::new(exe);
    c.env("STFLASH_STATE_DIR", temp_dir("state"));
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
    run_exe(Path::new(env!("CARGO_BIN_EXE_stflash")), args, env)
}

/// Run `exe` (the binary, possibly under another name) with `args` and extra environment.
pub fn run_exe(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = command_for(exe);
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

/// Run against a simulated chip kept in `state` (STFLASH_SIM=chip:state),
/// with its journal beside the state file.
pub fn run_sim(chip: &str, state: &Path, args: &[&str]) -> Run {
    let spec = format!("{chip}:{}", state.display());
    let journal = journal_dir(state);
    run(args, &[("STFLASH_SIM", &spec), ("STFLASH_STATE_DIR", &journal)])
}

/// The journal directory of the chip kept in `state`.
pub fn journal_dir(state: &Path) -> String {
    let mut name = state.file_name().unwrap_or_default().to_os_string();
    name.push(".journal");
    state.with_file_name(name).to_str().expect("utf-8 path").to_string()
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
    let (transport, handle) = stflash_sim::open(&spec).expect("open simulator");
    let mut session = Session::open(Box::new(transport), &ConnectOptions::default())
        .unwrap_or_else(|e| panic!("open simulated session: {e}"));
    session.journal_dir = Some(temp_dir("journal"));
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

/// A simulated chip kept in a state file in its own test directory: prepared
/// with a fresh-chip configuration (`wrp=…`, `rdp=…`) and data poked into
/// flash, then driven through the binary and inspected through the state file.
pub struct Board {
    pub chip: &'static str,
    pub dir: PathBuf,
    pub state: PathBuf,
}

impl Board {
    pub fn new(chip: &'static str, test: &str, options: &[(&str, &str)], fills: &[(u32, &[u8])]) -> Board {
        let dir = temp_dir(test);
        let state = dir.join("chip.sim");
        let board = Board { chip, dir, state };
        let options: Vec<(String, String)> = options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        prepare_state(board.spec(), options, fills);
        board
    }

    /// The simulator spec of this board (chip and state file).
    pub fn spec(&self) -> SimSpec {
        SimSpec::parse(&format!("{}:{}", self.chip, self.state.display())).expect("sim spec")
    }

    /// Run the binary on this board.
    pub fn run(&self, args: &[&str]) -> Run {
        run_sim(self.chip, &self.state, args)
    }

    /// Run the binary on this board with faults injected (`STFLASH_SIM_FAULTS`).
    pub fn run_faulty(&self, faults: &str, args: &[&str]) -> Run {
        let sim = format!("{}:{}", self.chip, self.state.display());
        let journal = journal_dir(&self.state);
        run(args, &[("STFLASH_SIM", &sim), ("STFLASH_SIM_FAULTS", faults), ("STFLASH_STATE_DIR", &journal)])
    }

    /// Raw contents now, as the chip in the state file holds them (any
    /// mapped memory, across banks; nothing changes).
    pub fn peek(&self, addr: u32, len: usize) -> Vec<u8> {
        let (transport, handle) = stflash_sim::open(&self.spec()).expect("reopen simulator");
        let bytes = handle.peek(addr, len).expect("mapped memory");
        drop(transport);
        bytes
    }

    /// Write `data` to a file in the test directory.
    pub fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, data).expect("write file");
        path
    }
}

/// A path as a command-line argument.
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Create the state file of `spec` with a fresh-chip configuration and data
/// poked into memory through the simulator's back door.
pub fn prepare_state(mut spec: SimSpec, options: Vec<(String, String)>, fills: &[(u32, &[u8])]) {
    spec.options = options;
    let (transport, handle) = stflash_sim::open(&spec).expect("open simulator");
    for (addr, data) in fills {
        assert!(handle.poke(*addr, data), "poke 0x{addr:08X}");
    }
    handle.save().expect("save state");
    drop(transport);
}

/// A fresh state file `chip.sim` in `dir` for `chip`, configured with `opts`
/// (`STFLASH_SIM_OPTS` syntax) and holding `fills`.
pub fn prefill(chip: &str, dir: &Path, opts: &str, fills: &[(u32, &[u8])]) -> PathBuf {
    let state = dir.join("chip.sim");
    let spec = SimSpec::parse(&format!("{chip}:{}", state.display())).expect("sim spec");
    prepare_state(spec, stflash_sim::parse_options(opts).expect("sim options"), fills);
    state
}

/// The chip as a state file holds it (memory the flash model maps and SRAM).
pub struct Snapshot(stflash_sim::SavedState);

impl Snapshot {
    pub fn of(state: &Path) -> Snapshot {
        Snapshot(stflash_sim::load_state(state).expect("state file"))
    }
    pub fn peek(&self, addr: u32, len: usize) -> Vec<u8> {
        self.0.peek(addr, len).expect("mapped memory")
    }
}

/// Bytes of the chip in a state file.
pub fn flash_of(state: &Path, addr: u32, len: usize) -> Vec<u8> {
    Snapshot::of(state).peek(addr, len)
}

/// Write `data` to `dir/name` and return the path as an argument.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write file");
    path.to_str().expect("utf-8 path").to_string()
}

/// One simulated probe that several in-process runs use in turn (each run
/// takes a transport; this one hands out handles on the same simulator), so
/// a test sees what one command left in the core for the next.
#[derive(Clone)]
pub struct SharedProbe {
    transport: std::sync::Arc<std::sync::Mutex<stflash_sim::SimTransport>>,
    info: stflash::transport::ProbeInfo,
    pub sim: SimHandle,
}

impl SharedProbe {
    pub fn open(spec: &SimSpec) -> SharedProbe {
        use stflash::transport::Transport;
        let (transport, sim) = stflash_sim::open(spec).expect("open simulator");
        let info = transport.info().clone();
        SharedProbe { transport: std::sync::Arc::new(std::sync::Mutex::new(transport)), info, sim }
    }

    /// Run the command line `args` in this process on this probe; stdout is
    /// captured (stderr goes to the test's own).
    pub fn run(&self, args: &[&str]) -> Run {
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let console = stflash_cli::Console::new(Box::new(Captured(std::sync::Arc::clone(&out))));
        let argv = args.iter().map(std::ffi::OsString::from);
        let code = stflash_cli::run_with(argv, &console, Some((Box::new(self.clone()), Some(self.sim.clone()))));
        let stdout = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
        Run { code: code as i32, stdout, stderr: String::new() }
    }
}

impl stflash::transport::Transport for SharedProbe {
    fn write(
        &mut self,
        data: &[u8],
        timeout: std::time::Duration,
    ) -> Result<usize, stflash::transport::TransportError> {
        self.transport.lock().unwrap().write(data, timeout)
    }
    fn read(
        &mut self,
        buf: &mut [u8],
        timeout: std::time::Duration,
    ) -> Result<usize, stflash::transport::TransportError> {
        self.transport.lock().unwrap().read(buf, timeout)
    }
    fn info(&self) -> &stflash::transport::ProbeInfo {
        &self.info
    }
    fn sleep(&mut self, d: std::time::Duration) {
        self.transport.lock().unwrap().sleep(d)
    }
    fn elapsed(&self) -> std::time::Duration {
        self.transport.lock().unwrap().elapsed()
    }
}

/// A writer into a shared buffer.
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What issue #18 asks of one write-protected area of one part: a write
/// that starts at `from` (whole sectors before the area) and runs through
/// the area, `erase ADDR SIZE` over the same sectors, a mass erase and a
/// `--mass-erase` write each fail with exit code 6 and a message naming the
/// protected range and `register`, and leave every byte from `from` to the
/// end of the area as it was — the sectors before the protected one
/// included, which the controller would have erased first; a write from
/// `from` up to the area succeeds and leaves the area alone.
pub struct WrpCase {
    pub chip: &'static str,
    /// Simulator options that protect the area (`wrp=…`).
    pub options: &'static [(&'static str, &'static str)],
    /// The protected area, `[start, end)`.
    pub area: (u32, u32),
    /// Where the write and the erase start: a sector boundary before the area.
    pub from: u32,
    /// What the message names besides the range ("FLASH_WRPR (pages 4-7").
    pub register: &'static str,
    /// The assignments it proposes to remove the protection ("WRP0=0xFF").
    pub remedy: &'static str,
}

impl WrpCase {
    pub fn check(&self, test: &str) {
        let (start, end) = self.area;
        assert!(self.from < start && start < end, "{test}: from < start < end");
        let len = (end - self.from) as usize;
        let old = pattern(len, start);
        let board = Board::new(self.chip, test, self.options, &[(self.from, &old)]);
        let range = format!("overlaps 0x{start:08X}-0x{:08X}, write-protected by {}", end - 1, self.register);
        let unchanged = |what: &str| assert!(board.peek(self.from, len) == old, "{test}: {what} changed the flash");
        let image = board.file("image.bin", &pattern(len, start ^ 0x5A5A));
        let from = format!("0x{:08X}", self.from);
        // The flash is checked first: without the check the controller
        // erases the sectors before the area, then stops at it.
        let out = board.run(&["write", arg(&image), &from]);
        unchanged("the write");
        let remedy = format!("remove the write protection with `stflash --area=option write {}` first", self.remedy);
        out.fails(6, &range).fails(6, &remedy).fails(6, "nothing was erased or written");
        let out = board.run(&["erase", &from, &format!("0x{len:X}")]);
        unchanged("erase ADDR SIZE");
        out.fails(6, &range);
        let mass = format!("refusing to mass-erase: 0x{start:08X}-0x{:08X} is write-protected by", end - 1);
        let out = board.run(&["erase"]);
        unchanged("the mass erase");
        out.fails(6, &mass);
        let head = board.file("head.bin", &pattern((start - self.from) as usize, start ^ 0xA5A5));
        let out = board.run(&["--mass-erase", "write", arg(&head), &from]);
        unchanged("the --mass-erase write");
        out.fails(6, &mass);
        // Up to the area, writing works and the area keeps its bytes.
        board.run(&["write", arg(&head), &from]).ok();
        assert_eq!(
            board.peek(self.from, (start - self.from) as usize),
            pattern((start - self.from) as usize, start ^ 0xA5A5)
        );
        assert!(
            board.peek(start, (end - start) as usize) == old[(start - self.from) as usize..],
            "{test}: area changed"
        );
    }
}
