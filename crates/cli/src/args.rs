//! Arguments: st-flash 1.8.0's grammar (stflash-cli.md §1–§2), plus
//! compatible extensions (options may also follow the command; a one-line
//! reason accompanies every parse error).
//!
//! clap tokenises and describes the interface (help, completions, man page);
//! the st-flash rules — arity per command and area, number syntax, the exact
//! error lines — are applied here after clap.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches};

use super::number::{parse_freq, parse_number, NumberError};
use stflash::ops::image::Format;
use stflash::ops::options::{Guards, OptionValue};

/// `--area` values (§1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Main,
    System,
    Otp,
    Option,
    OptionBootAdd,
    Optcr,
    Optcr1,
}

impl Area {
    fn parse(s: &str) -> Option<Area> {
        Some(match s {
            "main" => Area::Main,
            "system" => Area::System,
            "otp" => Area::Otp,
            "option" => Area::Option,
            "option_boot_add" => Area::OptionBootAdd,
            "optcr" => Area::Optcr,
            "optcr1" => Area::Optcr1,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Area::Main => "main",
            Area::System => "system",
            Area::Otp => "otp",
            Area::Option => "option",
            Area::OptionBootAdd => "option_boot_add",
            Area::Optcr => "optcr",
            Area::Optcr1 => "optcr1",
        }
    }
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `read FILE ADDR SIZE` (areas main, system).
    ReadMemory {
        file: PathBuf,
        addr: u32,
        size: u32,
    },
    /// `--area=otp read FILE`.
    ReadOtp {
        file: PathBuf,
    },
    /// `--area=option read [FILE [SIZE]]` (SIZE is accepted and ignored, as in st-flash).
    ReadOption {
        file: Option<PathBuf>,
    },
    /// `--area=optcr|optcr1|option_boot_add read`.
    ReadOptionRegister {
        area: Area,
    },
    /// `--area=option|optcr|optcr1|option_boot_add write VALUE`; VALUE may
    /// also be `NAME=VALUE[,NAME=VALUE…]` (a word or field of the decoded view).
    WriteOptionValue {
        area: Area,
        value: OptionValue,
    },
    /// `write FILE [ADDR]` (areas main, system, otp). `addr` is `None` for
    /// formats that carry addresses.
    WriteFile {
        file: PathBuf,
        addr: Option<u32>,
        otp: bool,
    },
    /// `erase` or `erase ADDR SIZE`.
    Erase {
        range: Option<(u32, u32)>,
    },
    Reset,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub command: Command,
    /// `--format`; `None` when not given (stflash then detects the format).
    pub format: Option<Format>,
    pub serial: Option<String>,
    /// `--freq` in kHz; `None` (or st-flash's 0) = the probe's fastest.
    pub freq_khz: Option<u32>,
    /// `--flash=` in bytes.
    pub flash_size: Option<u32>,
    pub reset: bool,
    pub connect_under_reset: bool,
    pub opt: bool,
    pub mass_erase: bool,
    pub debug: bool,
    /// Extensions.
    pub sim: Option<String>,
    pub quiet: bool,
    pub erase_rest: bool,
    /// `--verify=readback`: check the written flash by reading it back even
    /// where a hardware CRC could (`--verify=auto`, the default).
    pub verify_readback: bool,
    /// The decoded view of option reads goes to stdout (`--decode`) instead of stderr.
    pub decode: bool,
    /// Permissions for dangerous option and OTP writes.
    pub guards: Guards,
    /// `--json`: one JSON document on stdout, nothing else there.
    pub json: bool,
}

/// What parsing produced besides an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Run(Box<Invocation>),
    Help,
    Version,
    /// `info` (extension).
    Info(Box<InfoRequest>),
    /// `completions SHELL [--name NAME]` (extension).
    Completions {
        shell: Shell,
        name: String,
    },
    /// `man` (extension).
    Man,
    /// Text to print on stdout with exit 0 (help of an extension command).
    Print(String),
}

/// Shells `completions` knows.
pub use clap_complete::Shell;

/// The st-info questions `info` answers (stflash-cli.md §10), plus `--chips`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoQuestion {
    /// st-info --probe: every probe, in st-info's block format.
    Probe,
    Serial,
    /// Flash size, `0x%x`.
    Flash,
    PageSize,
    Sram,
    /// `0x%.4x`.
    ChipId,
    /// The st-flash device name ("STM32F1xx_MD").
    Descr,
    /// The chip table (no probe needed).
    Chips,
}

impl InfoQuestion {
    /// Every question with its option name and help.
    pub const ALL: [(InfoQuestion, &'static str, &'static str); 8] = [
        (InfoQuestion::Probe, "probe", "Report every probe in st-info --probe's format"),
        (InfoQuestion::Serial, "serial", "Print the selected probe's serial number"),
        (InfoQuestion::Flash, "flash", "Print the flash size (0x10000)"),
        (InfoQuestion::PageSize, "pagesize", "Print the smallest erase unit (0x400)"),
        (InfoQuestion::Sram, "sram", "Print the SRAM size (0x5000)"),
        (InfoQuestion::ChipId, "chipid", "Print the DEV_ID (0x0410)"),
        (InfoQuestion::Descr, "descr", "Print the device name (STM32F1xx_MD)"),
        (InfoQuestion::Chips, "chips", "List the chips stflash knows (no probe needed)"),
    ];
}

/// `stflash [options] info [question]`: look, never touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequest {
    /// `None`: list every probe and its target.
    pub question: Option<InfoQuestion>,
    /// `--serial X` before `info`: only that probe.
    pub serial: Option<String>,
    pub freq_khz: Option<u32>,
    /// Reset the target while connecting (changes the target: the user asked).
    pub connect_under_reset: bool,
    pub sim: Option<String>,
    pub debug: bool,
    pub quiet: bool,
    pub json: bool,
}

/// A parse failure. `lines` are printed on stderr (st-flash's `*** Error:`
/// lines, or our one-line reason), then "invalid command line" and the usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub lines: Vec<String>,
}

impl ParseError {
    fn new(line: impl Into<String>) -> ParseError {
        ParseError { lines: vec![line.into()] }
    }
    fn expected(what: &str) -> ParseError {
        ParseError::new(format!("*** Error: Expected args for this command: {what}"))
    }
    fn invalid_value(what: &str, e: NumberError) -> ParseError {
        let mut lines = Vec::new();
        if e == NumberError::TooLarge {
            lines.push("*** Error: Integer greater than UINT32_MAX, cannot convert to int32_t".to_string());
        }
        lines.push(format!("*** Error: Invalid value for {what}"));
        ParseError { lines }
    }
}

const COMMAND_WORDS: [&str; 4] = ["read", "write", "erase", "reset"];

/// Extension command words: st-flash rejects them, so no st-flash command
/// line changes meaning.
pub const EXTENSION_WORDS: [&str; 3] = ["info", "completions", "man"];

/// The whole interface as clap sees it: st-flash's options and command words,
/// and the extension commands as subcommands. Completions and the man page
/// are generated from it.
pub fn command() -> clap::Command {
    let help = || Arg::new("help").long("help").short('h').action(ArgAction::Help).help("Print help");
    base()
        .disable_help_subcommand(true)
        .subcommand(info_command().arg(help()))
        .subcommand(
            clap::Command::new("completions")
                .disable_help_flag(true)
                .arg(help())
                .about("Print a shell completion script on stdout")
                .arg(
                    Arg::new("shell")
                        .value_name("SHELL")
                        .required(true)
                        .value_parser(clap::value_parser!(Shell))
                        .help("bash, zsh, fish, powershell or elvish"),
                )
                .arg(
                    Arg::new("name")
                        .long("name")
                        .value_name("NAME")
                        .default_value("stflash")
                        .help("Command name to complete (e.g. st-flash for a renamed copy)"),
                ),
        )
        .subcommand(
            clap::Command::new("man")
                .disable_help_flag(true)
                .about("Print the manual page (roff) on stdout")
                .arg(help()),
        )
}

fn info_command() -> clap::Command {
    let mut cmd = clap::Command::new("info").disable_help_flag(true).about(
        "List connected ST-LINKs and their targets without changing anything on the target; \
         or answer one st-info question",
    );
    let mut names = Vec::new();
    for (_, name, help) in InfoQuestion::ALL {
        cmd = cmd.arg(Arg::new(name).long(name).action(ArgAction::SetTrue).help(help));
        names.push(name);
    }
    cmd.group(clap::ArgGroup::new("question").args(names).multiple(false))
}

/// st-flash's options and command words (no extension commands).
fn base() -> clap::Command {
    let flag = |name: &'static str, help: &'static str| Arg::new(name).long(name).action(ArgAction::SetTrue).help(help);
    let value = |name: &'static str, value_name: &'static str, help: &'static str| {
        Arg::new(name).long(name).value_name(value_name).action(ArgAction::Set).help(help)
    };
    clap::Command::new("stflash")
        .about("Program STM32 microcontrollers through ST-LINK probes (st-flash compatible)")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .args_override_self(true)
        .allow_negative_numbers(true)
        .arg(
            Arg::new("words")
                .value_name("COMMAND")
                .num_args(0..)
                .action(ArgAction::Append)
                .help("read FILE ADDR SIZE | write FILE [ADDR] | write VALUE | erase [ADDR SIZE] | reset"),
        )
        .arg(flag("version", "Print the version and exit"))
        .arg(Arg::new("help").long("help").short('h').action(ArgAction::SetTrue).help("Print usage and exit"))
        .arg(flag("debug", "Show debug messages and USB traffic (RUST_LOG is honoured too)").global(true))
        .arg(flag("opt", "Accepted for compatibility: stflash never programs erased units anyway"))
        .arg(flag("mass-erase", "Erase the whole flash before writing, or with `erase`"))
        .arg(flag("reset", "Reset the target after the command"))
        .arg(value("serial", "SERIAL", "Use the ST-LINK with this serial number"))
        .arg(value(
            "area",
            "AREA",
            "main | system | otp | option | option_boot_add | optcr | optcr1",
        ))
        .arg(value("freq", "KHZ", "SWD clock in kHz (suffix k or M); default: the probe's fastest").global(true))
        .arg(value("format", "FORMAT", "binary | ihex; default: detected from the file"))
        .arg(
            Arg::new("flash")
                .long("flash")
                .value_name("SIZE")
                .require_equals(true)
                .action(ArgAction::Set)
                .help("Override the detected flash size (only --flash=SIZE)"),
        )
        .arg(flag("connect-under-reset", "Hold NRST while connecting, then halt at the reset vector").global(true))
        .arg(flag("hot-plug", "Attach without resetting the target (the default)").global(true))
        .arg(
            value(
                "sim",
                "CHIP[:STATE]",
                "Use the simulated probe and chip (same as STFLASH_SIM); STATE keeps the chip between runs",
            )
            .global(true),
        )
        .arg(flag("quiet", "Print only errors").global(true))
        .arg(flag("json", "Print one JSON document describing the result on stdout, and nothing else there").global(true))
        .arg(flag(
            "erase-rest",
            "Erase the parts of written sectors the image does not cover (st-flash's behaviour) instead of keeping them",
        ))
        .arg(value(
            "verify",
            "HOW",
            "auto: by hardware CRC where the chip has one, else by reading back (default); readback: always read back",
        ))
        .arg(flag("decode", "Print the decoded option bytes on stdout (default: stderr)"))
        .arg(flag("permanently-lock-chip", "Allow RDP level 2: disables debug and freezes the options for good"))
        .arg(flag("unprotect-and-erase-chip", "Allow RDP level 1 -> 0: the chip erases its whole flash"))
        .arg(flag("allow-read-protection", "Allow RDP level 0 -> 1: flash no longer readable over SWD"))
        .arg(flag("allow-write-protection", "Allow write-protecting sectors"))
        .arg(flag("allow-bank-config", "Allow changing dual-bank or bank-swap options"))
        .arg(flag("allow-boot-config", "Allow changing boot addresses and boot options"))
        .arg(flag("write-otp-permanently", "Allow programming OTP (it can never be erased)"))
}

/// Parse `argv` (without the program name).
pub fn parse<I, T>(args: I) -> Result<Parsed, ParseError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // st-flash prints its version as soon as it sees --version among the
    // leading options, whatever follows (§1.1, checklist row 2).
    for a in &args {
        match a.to_str() {
            Some("--version") => return Ok(Parsed::Version),
            Some(s) if s.starts_with('-') => continue,
            _ => break,
        }
    }
    if first_word(&args).is_some_and(|w| EXTENSION_WORDS.contains(&w)) {
        return parse_extension(args);
    }
    let matches = base()
        .try_get_matches_from(std::iter::once(OsString::from("stflash")).chain(args))
        .map_err(|e| ParseError::new(format!("*** Error: {}", clap_reason(&e))))?;
    if matches.get_flag("help") {
        return Ok(Parsed::Help);
    }
    if matches.get_flag("version") {
        return Ok(Parsed::Version);
    }
    from_matches(&matches).map(|i| Parsed::Run(Box::new(i)))
}

/// The first argument that is neither an option nor an option's value: the
/// command word. Decides between st-flash's grammar and an extension command.
fn first_word(args: &[OsString]) -> Option<&str> {
    let cmd = base();
    let takes_value = |long: &str| {
        cmd.get_arguments()
            .any(|a| a.get_long() == Some(long) && a.get_action().takes_values() && !a.is_require_equals_set())
    };
    let mut i = 0;
    while i < args.len() {
        let s = args[i].to_str()?;
        if s == "--" {
            return None;
        }
        if let Some(long) = s.strip_prefix("--") {
            i += if !long.contains('=') && takes_value(long) { 2 } else { 1 };
        } else if s.starts_with('-') && s.len() > 1 {
            i += 1;
        } else {
            return Some(s);
        }
    }
    None
}

/// The command word of a command line (st-flash's or an extension), for
/// reporting a parse error in JSON.
pub fn command_word(args: &[OsString]) -> Option<&'static str> {
    let word = first_word(args)?;
    COMMAND_WORDS.iter().chain(EXTENSION_WORDS.iter()).find(|w| **w == word).copied()
}

/// `info`, `completions`, `man`, with the options that make sense for them.
fn parse_extension(args: Vec<OsString>) -> Result<Parsed, ParseError> {
    // After `info`, --serial is st-info's question and takes no value.
    let words: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    if let Some(i) = words.iter().position(|w| *w == "info") {
        if let Some(pair) = words[i..].windows(2).find(|w| w[0] == "--serial" && !w[1].starts_with('-')) {
            return Err(ParseError::new(format!(
                "*** Error: after info, --serial asks for the serial number and takes no value; \
                 to choose the probe put it first: stflash --serial {} info",
                pair[1]
            )));
        }
    }
    let matches = match command().try_get_matches_from(std::iter::once(OsString::from("stflash")).chain(args)) {
        Ok(m) => m,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => return Ok(Parsed::Print(e.render().to_string())),
        Err(e) => return Err(ParseError::new(format!("*** Error: {}", clap_reason(&e)))),
    };
    if matches.get_flag("help") {
        return Ok(Parsed::Help);
    }
    let (name, sub) = matches.subcommand().expect("the first word is an extension command");
    // Options of st-flash's commands that mean nothing here are refused, not ignored.
    let misplaced: Vec<String> = ["area", "format", "flash", "reset", "opt", "mass-erase", "erase-rest", "verify"]
        .into_iter()
        .filter(|id| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        .map(|id| format!("--{id}"))
        .chain(
            (name != "info" && matches.value_source("serial") == Some(clap::parser::ValueSource::CommandLine))
                .then(|| "--serial".to_string()),
        )
        .collect();
    if !misplaced.is_empty() {
        return Err(ParseError::new(format!("*** Error: {} do(es) not apply to {name}", misplaced.join(", "))));
    }
    let json = sub.get_flag("json");
    match name {
        "completions" | "man" if json => Err(ParseError::new(format!("*** Error: --json does not apply to {name}"))),
        "completions" => Ok(Parsed::Completions {
            shell: *sub.get_one::<Shell>("shell").expect("required"),
            name: sub.get_one::<String>("name").cloned().unwrap_or_else(|| "stflash".into()),
        }),
        "man" => Ok(Parsed::Man),
        _ => {
            let question = InfoQuestion::ALL.iter().find(|(_, n, _)| sub.get_flag(n)).map(|q| q.0);
            if json && question.is_some() {
                return Err(ParseError::new(
                    "*** Error: --json reports everything; leave out the st-info question (or --json)",
                ));
            }
            let freq_khz = match sub.get_one::<String>("freq") {
                None => None,
                Some(f) => freq(f)?,
            };
            Ok(Parsed::Info(Box::new(InfoRequest {
                question,
                serial: matches.get_one::<String>("serial").cloned().filter(|s| !s.is_empty()),
                freq_khz,
                connect_under_reset: sub.get_flag("connect-under-reset"),
                sim: sub.get_one::<String>("sim").cloned(),
                debug: sub.get_flag("debug"),
                quiet: sub.get_flag("quiet"),
                json,
            })))
        }
    }
}

/// `--freq`: kHz, 0 or empty = the probe's fastest.
fn freq(f: &str) -> Result<Option<u32>, ParseError> {
    match parse_freq(f) {
        Some(0) => Ok(None),
        Some(k) => Ok(Some(k)),
        None => Err(ParseError::new(format!(
            "*** Error: invalid --freq {f}: give kHz as digits with an optional k or M suffix (4000, 4M)"
        ))),
    }
}

/// clap's first error line without its "error: " prefix.
fn clap_reason(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let line = text.lines().next().unwrap_or("invalid arguments");
    line.trim_start_matches("error: ").to_string()
}

fn from_matches(m: &ArgMatches) -> Result<Invocation, ParseError> {
    let get = |name: &str| m.get_one::<String>(name).cloned();
    let area = match get("area") {
        Some(a) => Area::parse(&a).ok_or_else(|| {
            ParseError::new(format!(
                "*** Error: unknown --area {a}; use main, system, otp, option, option_boot_add, optcr or optcr1"
            ))
        })?,
        None => Area::Main,
    };
    let format = match get("format").as_deref() {
        None => None,
        Some("binary") => Some(Format::Binary),
        Some("ihex") => Some(Format::IntelHex),
        Some(_) => return Err(ParseError::new("*** Error: Invalid value for format")),
    };
    let freq_khz = match get("freq") {
        None => None,
        Some(f) => freq(&f)?,
    };
    let flash_size = match get("flash") {
        None => None,
        Some(f) => match parse_number(&f) {
            Ok(0) => {
                return Err(ParseError {
                    lines: vec![
                        "error: --flash=0: give the flash size in bytes (e.g. --flash=128k), or leave --flash out"
                            .into(),
                    ],
                })
            }
            Ok(v) => Some(v),
            Err(e) => return Err(ParseError::invalid_value("--flash", e)),
        },
    };
    let serial = get("serial").filter(|s| !s.is_empty());
    let verify_readback = match get("verify").as_deref() {
        None | Some("auto") => false,
        Some("readback") => true,
        Some(other) => {
            return Err(ParseError::new(format!("*** Error: unknown --verify {other}; use auto or readback")));
        }
    };
    let words: Vec<String> = m.get_many::<String>("words").map(|w| w.cloned().collect()).unwrap_or_default();
    let command = command_from_words(&words, area, format)?;
    Ok(Invocation {
        command,
        format,
        serial,
        freq_khz,
        flash_size,
        reset: m.get_flag("reset"),
        connect_under_reset: m.get_flag("connect-under-reset"),
        opt: m.get_flag("opt"),
        mass_erase: m.get_flag("mass-erase"),
        debug: m.get_flag("debug"),
        sim: get("sim"),
        quiet: m.get_flag("quiet"),
        erase_rest: m.get_flag("erase-rest"),
        verify_readback,
        decode: m.get_flag("decode"),
        guards: Guards {
            permanently_lock_chip: m.get_flag("permanently-lock-chip"),
            unprotect_and_erase_chip: m.get_flag("unprotect-and-erase-chip"),
            allow_read_protection: m.get_flag("allow-read-protection"),
            allow_write_protection: m.get_flag("allow-write-protection"),
            allow_bank_config: m.get_flag("allow-bank-config"),
            allow_boot_config: m.get_flag("allow-boot-config"),
            write_otp_permanently: m.get_flag("write-otp-permanently"),
        },
        json: m.get_flag("json"),
    })
}

fn number(text: &str, what: &str) -> Result<u32, ParseError> {
    parse_number(text).map_err(|e| ParseError::invalid_value(what, e))
}

/// An option value: st-flash's number, or `NAME=VALUE[,NAME=VALUE…]`.
fn option_value(text: &str) -> Result<OptionValue, ParseError> {
    if !text.contains('=') {
        return number(text, "val").map(OptionValue::Word);
    }
    let mut items = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((name, value)) = item.split_once('=') else {
            return Err(ParseError::new(format!("*** Error: {item:?} is not NAME=VALUE")));
        };
        items.push((name.trim().to_string(), number(value.trim(), "val")?));
    }
    Ok(OptionValue::Assign(items))
}

/// The command and its positional arguments, checked per command and area (§1.2).
fn command_from_words(words: &[String], area: Area, format: Option<Format>) -> Result<Command, ParseError> {
    let Some((word, args)) = words.split_first() else {
        return Err(ParseError::new("*** Error: no command given; use read, write, erase or reset"));
    };
    if !COMMAND_WORDS.contains(&word.as_str()) {
        return Err(ParseError::new(format!("*** Error: unknown command {word:?}; use read, write, erase or reset")));
    }
    if let Some(second) = args.first().filter(|a| COMMAND_WORDS.contains(&a.as_str())) {
        return Err(ParseError::new(format!("*** Error: two commands given ({word} and {second})")));
    }
    let path = |s: &String| PathBuf::from(s);
    match (word.as_str(), area) {
        ("read", Area::Main | Area::System) => match args {
            [file, addr, size] => {
                Ok(Command::ReadMemory { file: path(file), addr: number(addr, "addr")?, size: number(size, "size")? })
            }
            _ => Err(ParseError::expected("read <path> <addr> <size>")),
        },
        ("read", Area::Otp) => match args {
            [file] => Ok(Command::ReadOtp { file: path(file) }),
            _ => Err(ParseError::expected("otp read: [path]")),
        },
        ("read", Area::Option) => match args {
            [] => Ok(Command::ReadOption { file: None }),
            [file] => Ok(Command::ReadOption { file: Some(path(file)) }),
            [file, size] => {
                number(size, "option bytes read: invalid size")?;
                Ok(Command::ReadOption { file: Some(path(file)) })
            }
            _ => Err(ParseError::expected("option bytes read: [path] [size]")),
        },
        ("read", area) => match args {
            [] => Ok(Command::ReadOptionRegister { area }),
            _ => Err(ParseError::expected(match area {
                Area::OptionBootAdd => "option bytes boot_add read",
                Area::Optcr => "option control register read",
                _ => "option control register 1 read",
            })),
        },
        ("write", Area::Option | Area::OptionBootAdd | Area::Optcr | Area::Optcr1) => match args {
            [value] => Ok(Command::WriteOptionValue { area, value: option_value(value)? }),
            _ => Err(ParseError::expected(match area {
                Area::Option => "option byte write <value>",
                Area::OptionBootAdd => "option bytes boot_add write <value>",
                Area::Optcr => "option control register write <value>",
                _ => "option control register 1 write <value>",
            })),
        },
        ("write", _) => {
            let otp = area == Area::Otp;
            match (format, args) {
                (Some(Format::Binary), [file, addr]) | (None, [file, addr]) => {
                    Ok(Command::WriteFile { file: path(file), addr: Some(number(addr, "addr")?), otp })
                }
                (Some(Format::Binary), _) => Err(ParseError::expected("write <path> <addr>")),
                (Some(_), [file]) | (None, [file]) => Ok(Command::WriteFile { file: path(file), addr: None, otp }),
                (Some(_), _) => Err(ParseError::expected("write <path>")),
                (None, _) => Err(ParseError::expected("write <path> <addr>")),
            }
        }
        ("erase", _) => match args {
            [] => Ok(Command::Erase { range: None }),
            [addr, size] => Ok(Command::Erase { range: Some((number(addr, "addr")?, number(size, "size")?)) }),
            _ => {
                Err(ParseError::new("*** Error: erase takes no arguments (whole flash) or exactly two: <addr> <size>"))
            }
        },
        _ => {
            if !args.is_empty() {
                log::warn!("reset ignores its arguments: {}", args.join(" "));
            }
            Ok(Command::Reset)
        }
    }
}

/// The usage text, printed on stdout for `--help` and after "invalid command line".
pub const USAGE: &str = "\
usage: stflash [options] read [file] [addr] [size]
       stflash [options] write <file> [addr]
       stflash [options] write <value>
       stflash [options] erase [<addr> <size>]
       stflash [options] reset
       stflash [options] info [--probe|--serial|--flash|--pagesize|--sram|--chipid|--descr|--chips]
       stflash completions <bash|zsh|fish|powershell|elvish> [--name <name>]
       stflash man

options:
  --freq <kHz>           SWD clock (default: the probe's fastest; suffix k or M)
  --serial <serial>      ST-LINK serial number
  --connect-under-reset  Hold NRST while connecting
  --hot-plug             Connect without reset (the default)
  --reset                Reset the target after the command
  --format {binary|ihex} File format (default: detected; binary files need an address)
  --flash=<size>         Override the detected flash size
  --area <area>          main (default), system, otp, option, option_boot_add,
                         optcr or optcr1
  --mass-erase           Erase the whole flash first
  --erase-rest           Erase the unwritten rest of written sectors (st-flash behaviour)
  --verify <how>         auto (default): by hardware CRC where the chip has one,
                         else by reading back; readback: always read back
  --sim <chip>[:<file>]  Use the built-in simulator (or set STFLASH_SIM)
  --quiet                Print only errors
  --decode               Decoded option bytes on stdout (default: stderr)
  --json                 Print one JSON document with the result on stdout
  --opt                  Accepted for compatibility
  --debug                Debug output, including USB traffic
  --version              Print the version
  --help                 Print this help

examples:
  stflash write firmware.bin 0x8000000
  stflash write firmware.hex
  stflash read firmware.bin 0x8000000 0x1000
  stflash erase
  stflash erase 0x8004000 0x4000
  stflash --area=option read
  stflash --area=option write 0xXXXXXXXX
  stflash --area=option write BOR_LEV=2
  stflash --area=otp read <file>
  stflash --area=otp --write-otp-permanently write <file> 0xXXXXXXXX
  stflash info
  stflash --serial <serial> info --chipid
  stflash --json write firmware.elf

option bytes (a change that needs one of these is refused without it):
  --permanently-lock-chip     RDP level 2: debug disabled, options frozen, for good
  --unprotect-and-erase-chip  RDP level 1 -> 0: the chip erases its whole flash
  --allow-read-protection     RDP level 0 -> 1: flash unreadable over SWD
  --allow-write-protection    write-protect sectors
  --allow-bank-config         dual-bank and bank-swap options
  --allow-boot-config         boot addresses and boot options
  --write-otp-permanently     program OTP (never erasable)
";

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Invocation, ParseError> {
        match parse(args.iter().copied())? {
            Parsed::Run(i) => Ok(*i),
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn err(args: &[&str]) -> Vec<String> {
        match parse(args.iter().copied()) {
            Err(e) => e.lines,
            Ok(p) => panic!("{args:?} parsed: {p:?}"),
        }
    }

    #[test]
    fn row_01_no_arguments_is_invalid() {
        assert!(err(&[])[0].contains("no command"));
    }

    #[test]
    fn row_02_version_wins_over_later_junk() {
        assert_eq!(parse(["--version", "--foo"]), Ok(Parsed::Version));
        assert_eq!(parse(["--debug", "--version"]), Ok(Parsed::Version));
    }

    #[test]
    fn row_03_help() {
        assert_eq!(parse(["--help"]), Ok(Parsed::Help));
        assert_eq!(parse(["-h"]), Ok(Parsed::Help));
    }

    #[test]
    fn row_05_options_may_follow_the_command() {
        let i = run(&["write", "f.bin", "0x8000000", "--reset"]).unwrap();
        assert!(i.reset);
        assert_eq!(i.command, Command::WriteFile { file: "f.bin".into(), addr: Some(0x0800_0000), otp: false });
    }

    #[test]
    fn verify_is_auto_unless_readback_is_asked_for() {
        assert!(!run(&["write", "f.bin", "0x8000000"]).unwrap().verify_readback);
        assert!(!run(&["--verify=auto", "write", "f.bin", "0x8000000"]).unwrap().verify_readback);
        assert!(run(&["--verify", "readback", "write", "f.bin", "0x8000000"]).unwrap().verify_readback);
        assert!(run(&["write", "f.bin", "0x8000000", "--verify=readback"]).unwrap().verify_readback);
        assert!(err(&["--verify=crc", "write", "f.bin", "0x8000000"])[0].contains("use auto or readback"));
    }

    #[test]
    fn row_06_unknown_option() {
        assert!(err(&["--foo", "erase"])[0].contains("--foo"));
    }

    #[test]
    fn row_07_two_commands() {
        assert!(err(&["write", "read"])[0].contains("two commands"));
        assert!(err(&["reset", "reset"])[0].contains("two commands"));
    }

    #[test]
    fn row_08_read_arity() {
        for args in [&["read"][..], &["read", "f"], &["read", "f", "0"], &["read", "f", "0", "1", "2"]] {
            assert_eq!(err(args), vec!["*** Error: Expected args for this command: read <path> <addr> <size>"]);
        }
    }

    #[test]
    fn row_09_leading_zero_is_octal() {
        assert_eq!(err(&["read", "f", "08000000", "4"]), vec!["*** Error: Invalid value for addr"]);
    }

    #[test]
    fn row_10_number_forms() {
        let i = run(&["read", "f", "0x08000000", "4k"]).unwrap();
        assert_eq!(i.command, Command::ReadMemory { file: "f".into(), addr: 0x0800_0000, size: 4096 });
        let i = run(&["read", "f", "134217728", "+12"]).unwrap();
        assert_eq!(i.command, Command::ReadMemory { file: "f".into(), addr: 0x0800_0000, size: 12 });
    }

    #[test]
    fn row_11_too_large() {
        for size in ["-1", "0x100000000"] {
            assert_eq!(
                err(&["read", "f", "0", size]),
                vec![
                    "*** Error: Integer greater than UINT32_MAX, cannot convert to int32_t",
                    "*** Error: Invalid value for size"
                ]
            );
        }
    }

    #[test]
    fn row_12_bad_suffixes() {
        for size in ["5G", "4kk", "4096x"] {
            assert_eq!(err(&["read", "f", "0", size]), vec!["*** Error: Invalid value for size"]);
        }
    }

    #[test]
    fn row_13_write_arity() {
        assert_eq!(
            err(&["write", "f", "0", "4"]),
            vec!["*** Error: Expected args for this command: write <path> <addr>"]
        );
        assert_eq!(
            err(&["--format", "binary", "write", "f"]),
            vec!["*** Error: Expected args for this command: write <path> <addr>"]
        );
        // Without --format a lone file is accepted: its format decides later.
        assert_eq!(
            run(&["write", "f"]).unwrap().command,
            Command::WriteFile { file: "f".into(), addr: None, otp: false }
        );
    }

    #[test]
    fn row_14_ihex_takes_no_address() {
        assert_eq!(
            err(&["--format", "ihex", "write", "f.hex", "0x8000000"]),
            vec!["*** Error: Expected args for this command: write <path>"]
        );
        assert_eq!(run(&["--format=ihex", "write", "f.hex"]).unwrap().format, Some(Format::IntelHex));
    }

    #[test]
    fn row_15_bad_format() {
        assert_eq!(err(&["--format=bin", "write", "f", "0"]), vec!["*** Error: Invalid value for format"]);
        assert_eq!(err(&["--format", "write", "f.hex"]), vec!["*** Error: Invalid value for format"]);
    }

    #[test]
    fn row_16_erase_arity() {
        assert!(err(&["erase", "0x8000000"])[0].contains("erase takes"));
        assert!(err(&["erase", "a", "b", "c"])[0].contains("erase takes"));
        assert_eq!(run(&["erase"]).unwrap().command, Command::Erase { range: None });
        assert_eq!(
            run(&["erase", "0x08000400", "0x800"]).unwrap().command,
            Command::Erase { range: Some((0x0800_0400, 0x800)) }
        );
    }

    #[test]
    fn row_17_reset_ignores_arguments() {
        assert_eq!(run(&["reset", "extra", "words"]).unwrap().command, Command::Reset);
    }

    #[test]
    fn row_18_freq_forms() {
        for (f, khz) in [("--freq=4000", Some(4000)), ("--freq=4M", Some(4000)), ("--freq=4000k", Some(4000))] {
            assert_eq!(run(&[f, "reset"]).unwrap().freq_khz, khz, "{f}");
        }
        assert_eq!(run(&["--freq", "4000", "reset"]).unwrap().freq_khz, Some(4000));
        assert_eq!(run(&["--freq=0", "reset"]).unwrap().freq_khz, None);
        assert_eq!(run(&["--freq=", "reset"]).unwrap().freq_khz, None);
    }

    #[test]
    fn row_19_bad_freq() {
        for f in ["--freq=4m", "--freq=4K", "--freq=4.5M", "--freq=-5", "--freq=abc"] {
            assert!(err(&[f, "reset"])[0].contains("--freq"), "{f}");
        }
        assert!(!err(&["reset", "--freq"]).is_empty());
    }

    #[test]
    fn row_20_flash_sizes() {
        for (f, size) in [("--flash=128k", 131072), ("--flash=0x20000", 131072), ("--flash=0200k", 131072)] {
            assert_eq!(run(&[f, "erase"]).unwrap().flash_size, Some(size), "{f}");
        }
    }

    #[test]
    fn row_21_flash_needs_equals() {
        assert!(!err(&["--flash", "128k", "erase"]).is_empty());
    }

    #[test]
    fn row_22_bad_flash_value() {
        assert_eq!(err(&["--flash=128x", "erase"]), vec!["*** Error: Invalid value for --flash"]);
    }

    #[test]
    fn row_23_area_is_case_sensitive() {
        assert!(err(&["--area=MAIN", "read", "f", "0", "4"])[0].contains("--area"));
        assert!(err(&["--area=foo", "erase"])[0].contains("--area"));
    }

    #[test]
    fn row_24_otp_read_needs_a_path() {
        assert_eq!(err(&["--area=otp", "read"]), vec!["*** Error: Expected args for this command: otp read: [path]"]);
        assert_eq!(
            err(&["--area=otp", "read", "f", "x"]),
            vec!["*** Error: Expected args for this command: otp read: [path]"]
        );
    }

    #[test]
    fn row_25_option_read_size() {
        assert_eq!(
            err(&["--area=option", "read", "f", "x"]),
            vec!["*** Error: Invalid value for option bytes read: invalid size"]
        );
        assert_eq!(run(&["--area=option", "read"]).unwrap().command, Command::ReadOption { file: None });
    }

    #[test]
    fn row_26_register_reads_take_no_arguments() {
        assert_eq!(
            err(&["--area=optcr", "read", "x"]),
            vec!["*** Error: Expected args for this command: option control register read"]
        );
        assert_eq!(
            err(&["--area=optcr1", "read", "x"]),
            vec!["*** Error: Expected args for this command: option control register 1 read"]
        );
        assert_eq!(
            err(&["--area=option_boot_add", "read", "x"]),
            vec!["*** Error: Expected args for this command: option bytes boot_add read"]
        );
    }

    #[test]
    fn row_27_option_write_arity() {
        for args in [&["--area=option", "write"][..], &["--area=option", "write", "1", "2"]] {
            assert_eq!(err(args), vec!["*** Error: Expected args for this command: option byte write <value>"]);
        }
    }

    #[test]
    fn row_28_option_write_value_is_checked_first() {
        assert_eq!(
            err(&["--area=option", "--format=ihex", "write", "f.hex"]),
            vec!["*** Error: Invalid value for val"]
        );
        assert_eq!(
            run(&["--area=option", "write", "0xFFAA"]).unwrap().command,
            Command::WriteOptionValue { area: Area::Option, value: OptionValue::Word(0xFFAA) }
        );
    }

    #[test]
    fn option_values_by_name_and_guard_flags() {
        let i = run(&["--area=option", "write", "BOR_LEV=2,rdp=0xBB", "--allow-read-protection", "--decode"]).unwrap();
        assert_eq!(
            i.command,
            Command::WriteOptionValue {
                area: Area::Option,
                value: OptionValue::Assign(vec![("BOR_LEV".into(), 2), ("rdp".into(), 0xBB)])
            }
        );
        assert!(i.guards.allow_read_protection && !i.guards.permanently_lock_chip && i.decode);
        assert_eq!(err(&["--area=option", "write", "RDP=0xZZ"]), vec!["*** Error: Invalid value for val"]);
        assert!(err(&["--area=option", "write", "RDP=1,BOR"])[0].contains("NAME=VALUE"));
    }

    #[test]
    fn repeated_options_last_wins() {
        let i = run(&["--area=option", "--area=main", "read", "a", "0", "0"]).unwrap();
        assert!(matches!(i.command, Command::ReadMemory { .. }));
        let i = run(&["--serial", "A", "--serial=B", "--reset", "--reset", "reset"]).unwrap();
        assert_eq!(i.serial.as_deref(), Some("B"));
    }

    #[test]
    fn every_clap_option_is_in_the_usage_text() {
        let cmd = command();
        for arg in cmd.get_arguments().chain(cmd.get_subcommands().flat_map(|s| s.get_arguments())) {
            if let Some(long) = arg.get_long() {
                assert!(USAGE.contains(&format!("--{long}")), "--{long} missing from USAGE");
            }
        }
        for sub in cmd.get_subcommands() {
            assert!(
                USAGE.contains(&format!("stflash {}", sub.get_name()))
                    || USAGE.contains(&format!("] {}", sub.get_name()))
            );
        }
    }

    #[test]
    fn the_clap_definition_is_consistent() {
        command().debug_assert();
    }

    fn info(args: &[&str]) -> InfoRequest {
        match parse(args.iter().copied()) {
            Ok(Parsed::Info(r)) => *r,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn info_questions_do_not_collide_with_st_flash_options() {
        assert_eq!(info(&["info"]).question, None);
        assert_eq!(info(&["info", "--chipid"]).question, Some(InfoQuestion::ChipId));
        // --serial before info selects the probe; after it, it is st-info's question.
        let r = info(&["--serial", "ABC", "info", "--flash"]);
        assert_eq!((r.serial.as_deref(), r.question), (Some("ABC"), Some(InfoQuestion::Flash)));
        let r = info(&["info", "--serial"]);
        assert_eq!((r.serial, r.question), (None, Some(InfoQuestion::Serial)));
        // st-info's trailing connection options, and ours, on either side.
        let r = info(&["info", "--probe", "--connect-under-reset", "--freq=4000"]);
        assert!(r.connect_under_reset);
        assert_eq!(r.freq_khz, Some(4000));
        let r = info(&["--sim", "f103", "--json", "info"]);
        assert!(r.json);
        assert_eq!(r.sim.as_deref(), Some("f103"));
        assert!(err(&["info", "--chipid", "--flash"])[0].contains("cannot be used with"));
        assert!(err(&["info", "--json", "--chipid"])[0].contains("--json"));
        assert!(err(&["--area=option", "info"])[0].contains("--area"));
        assert!(err(&["info", "--bogus"])[0].contains("--bogus"));
        assert!(err(&["info", "--serial", "ABC"])[0].contains("stflash --serial ABC info"));
    }

    #[test]
    fn extension_words_only_count_as_the_command_word() {
        // A file called "info" is still written by st-flash's write.
        assert_eq!(
            run(&["write", "info", "0x20000000"]).unwrap().command,
            Command::WriteFile { file: "info".into(), addr: Some(0x2000_0000), otp: false }
        );
        assert_eq!(run(&["--serial", "man", "write", "man", "0x20000000"]).unwrap().serial.as_deref(), Some("man"));
        // --format takes the next word as its value (st-flash then rejects it).
        assert_eq!(err(&["--format", "info", "reset"]), vec!["*** Error: Invalid value for format"]);
        assert!(run(&["--json", "erase"]).unwrap().json);
    }

    #[test]
    fn completions_and_man() {
        assert_eq!(
            parse(["completions", "zsh"]),
            Ok(Parsed::Completions { shell: Shell::Zsh, name: "stflash".into() })
        );
        assert_eq!(
            parse(["completions", "bash", "--name", "st-flash"]),
            Ok(Parsed::Completions { shell: Shell::Bash, name: "st-flash".into() })
        );
        assert_eq!(parse(["man"]), Ok(Parsed::Man));
        assert!(!err(&["completions"]).is_empty());
        assert!(!err(&["completions", "tcsh"]).is_empty());
        assert!(matches!(parse(["info", "--help"]), Ok(Parsed::Print(t)) if t.contains("--chipid")));
    }
}
